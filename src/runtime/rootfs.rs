//! The container's root file system from the image's layers, by the best means the system
//! allows: kernel overlayfs inside the user namespace (Linux ≥ 5.11 on most file systems),
//! fuse-overlayfs where the kernel refuses (older kernels, some network file systems), and as
//! the last resort a private copy of the layers per container. The choice is detected once by
//! `detect` and kept by the engine.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rustix::mount::{self as mnt, MountFlags, UnmountFlags};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Driver {
    Overlay,
    FuseOverlayfs,
    Copy,
}

impl Driver {
    pub fn name(self) -> &'static str {
        match self {
            Driver::Overlay => "overlay",
            Driver::FuseOverlayfs => "fuse-overlayfs",
            Driver::Copy => "copy",
        }
    }

    pub fn parse(s: &str) -> Option<Driver> {
        match s.trim() {
            "overlay" => Some(Driver::Overlay),
            "fuse-overlayfs" => Some(Driver::FuseOverlayfs),
            "copy" | "vfs" => Some(Driver::Copy),
            _ => None,
        }
    }
}

/// The layers of one container and where they come together.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Layout {
    /// Top layer first.
    pub lowers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    /// The copy driver's private root (kept with the container).
    pub copy: PathBuf,
    /// Owners shown shifted for a container with id maps of its own (see `IdShift`).
    #[serde(default)]
    pub shift: Option<super::userns::IdShift>,
}

/// Mounts the root file system at `merged` (in the caller's private mount namespace).
/// With owners to shift, kernel overlayfs can't (idmapped layers need privileges a user lacks):
/// fuse-overlayfs shifts them, or else the copy is made with shifted owners.
pub fn mount(layout: &Layout, merged: &Path, driver: Driver) -> io::Result<()> {
    let shifting = layout.shift.as_ref().is_some_and(|s| s.shift_files);
    match driver {
        Driver::Overlay if !shifting => kernel_overlay(layout, merged),
        Driver::Overlay | Driver::FuseOverlayfs => match fuse_overlay(layout, merged) {
            Err(e) if shifting && e.kind() == io::ErrorKind::NotFound => {
                mount(layout, merged, Driver::Copy)
            }
            other => other,
        },
        Driver::Copy => {
            if !layout.copy.exists() {
                build_copy(layout)?;
            }
            mnt::mount_bind(&layout.copy, merged)?;
            Ok(())
        }
    }
}

/// Undoes `mount` once the container has exited (a FUSE daemon ends with its mount). Kernel
/// mounts are undone too: a monitor removes the runtime directory afterwards, and with the
/// root file system still mounted there that would delete the container's files.
pub fn unmount(merged: &Path, driver: Driver) {
    if driver != Driver::Copy {
        let _ = mnt::unmount(merged, UnmountFlags::DETACH);
    }
}

fn overlay_options(layout: &Layout) -> String {
    let lowers: Vec<String> = layout
        .lowers
        .iter()
        .map(|p| escape(&p.to_string_lossy()))
        .collect();
    format!(
        "lowerdir={},upperdir={},workdir={}",
        lowers.join(":"),
        escape(&layout.upper.to_string_lossy()),
        escape(&layout.work.to_string_lossy())
    )
}

/// Overlay options separate with `,` and `:`; both must be escaped in paths.
fn escape(p: &str) -> String {
    p.replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace(':', "\\:")
}

fn kernel_overlay(layout: &Layout, merged: &Path) -> io::Result<()> {
    // userxattr: inside a user namespace overlayfs keeps its marks in user.overlay.* xattrs,
    // which is how layers are unpacked.
    let options = CString::new(format!("{},userxattr", overlay_options(layout)))?;
    mnt::mount(
        "overlay",
        merged,
        "overlay",
        MountFlags::empty(),
        Some(options.as_c_str()),
    )?;
    Ok(())
}

fn fuse_overlay(layout: &Layout, merged: &Path) -> io::Result<()> {
    let mut options = overlay_options(layout);
    if let Some(shift) = layout.shift.as_ref().filter(|s| s.shift_files) {
        use super::userns::IdShift;
        options.push_str(&format!(
            ",uidmapping={},gidmapping={}",
            IdShift::fuse_mapping(&shift.uid_map),
            IdShift::fuse_mapping(&shift.gid_map)
        ));
    }
    let out = Command::new("fuse-overlayfs")
        .arg("-o")
        .arg(options)
        .arg(merged)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => io::Error::new(
                io::ErrorKind::NotFound,
                "fuse-overlayfs is not installed (apt-get install fuse-overlayfs)",
            ),
            _ => e,
        })?;
    if out.status.success() {
        Ok(())
    } else {
        let why = String::from_utf8_lossy(&out.stderr)
            .trim()
            .replace('\n', "; ");
        Err(io::Error::other(format!("fuse-overlayfs failed: {why}")))
    }
}

/// Which driver works here: tries a real mount of each in `scratch` (an empty directory in the
/// store, so the store's own file system is what is tested).
pub fn detect(scratch: &Path) -> Driver {
    let layout = Layout {
        lowers: vec![scratch.join("lower")],
        upper: scratch.join("upper"),
        work: scratch.join("work"),
        copy: scratch.join("copy"),
        shift: None,
    };
    let merged = scratch.join("merged");
    for dir in [&layout.lowers[0], &layout.upper, &layout.work, &merged] {
        if fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .is_err()
        {
            return Driver::Copy;
        }
    }
    for driver in [Driver::Overlay, Driver::FuseOverlayfs] {
        if mount(&layout, &merged, driver).is_ok() {
            let _ = mnt::unmount(&merged, UnmountFlags::DETACH);
            return driver;
        }
    }
    Driver::Copy
}

/// The copy driver: the layers applied bottom up into one private tree, whiteouts and opaque
/// directories honoured, owners, modes and times kept.
fn build_copy(layout: &Layout) -> io::Result<()> {
    let partial = layout.copy.with_extension("partial");
    let _ = crate::sys::tree::remove_tree(&partial);
    fs::DirBuilder::new().mode(0o755).create(&partial)?;
    let shift = layout.shift.as_ref().filter(|s| s.shift_files);
    for layer in layout.lowers.iter().rev() {
        apply_layer(layer, &partial, shift)?;
    }
    fs::rename(&partial, &layout.copy)
}

fn apply_layer(from: &Path, to: &Path, shift: Option<&super::userns::IdShift>) -> io::Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let meta = fs::symlink_metadata(&src)?;
        let kind = meta.file_type();
        use std::os::unix::fs::FileTypeExt;
        if kind.is_char_device() && meta.rdev() == 0 {
            // A whiteout: what the lower layers had here is gone.
            let _ = crate::sys::tree::remove_tree(&dst);
            continue;
        }
        if kind.is_dir() {
            let opaque = rustix::fs::lgetxattr(&src, "user.overlay.opaque", &mut [0u8; 4])
                .map(|n| n == 1)
                .unwrap_or(false);
            match fs::symlink_metadata(&dst) {
                Ok(m) if m.is_dir() && !opaque => {}
                Ok(_) => {
                    crate::sys::tree::remove_tree(&dst)?;
                    fs::create_dir(&dst)?;
                }
                Err(_) => fs::create_dir(&dst)?,
            }
            apply_layer(&src, &dst, shift)?;
        } else {
            let _ = crate::sys::tree::remove_tree(&dst);
            if kind.is_symlink() {
                std::os::unix::fs::symlink(fs::read_link(&src)?, &dst)?;
            } else if kind.is_file() {
                fs::copy(&src, &dst)?;
            } else {
                // FIFOs and the like: recreate rather than copy.
                rustix::fs::mknodat(
                    rustix::fs::CWD,
                    &dst,
                    rustix::fs::FileType::from_raw_mode(meta.mode()),
                    rustix::fs::Mode::from_raw_mode(meta.mode() & 0o7777),
                    meta.rdev(),
                )?;
            }
        }
        let (uid, gid) = match shift {
            Some(s) => (
                super::userns::IdShift::present(&s.uid_map, meta.uid()),
                super::userns::IdShift::present(&s.gid_map, meta.gid()),
            ),
            None => (meta.uid(), meta.gid()),
        };
        std::os::unix::fs::lchown(&dst, Some(uid), Some(gid))?;
        if !kind.is_symlink() {
            fs::set_permissions(&dst, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        }
        let t = |s: i64, ns: i64| rustix::fs::Timespec {
            tv_sec: s,
            tv_nsec: ns as _,
        };
        let times = rustix::fs::Timestamps {
            last_access: t(meta.atime(), meta.atime_nsec()),
            last_modification: t(meta.mtime(), meta.mtime_nsec()),
        };
        rustix::fs::utimensat(
            rustix::fs::CWD,
            &dst,
            &times,
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )?;
    }
    Ok(())
}
