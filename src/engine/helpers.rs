//! Work on layer files that must happen as the container's root: unpacking and removing. A
//! rootless user does it in a `skiff` helper started inside its user namespace; root does it in
//! this process. The helpers' entry points (`helper_main`) are hidden subcommands.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};

use super::image::unpacker::LayerSink;
use super::Engine;
use crate::runtime::userns::{self, UserNs};
use crate::runtime::RuntimeError;
use crate::store::unpack::{self, IdLimits};
use crate::Error;

pub const UNPACK_CMD: &str = "__unpack";
pub const RMTREE_CMD: &str = "__rmtree";
pub const DETECT_CMD: &str = "__detect";
/// Set for helpers when the command runs with debug logging.
pub const DEBUG_ENV: &str = "_SKIFF_DEBUG";

impl Engine {
    /// Starts an unpacker for one layer into `dest` (an empty directory).
    pub fn layer_sink(&self, dest: &Path) -> Result<LayerSink, Error> {
        if !self.user.rootless() {
            let (reader, writer) = io::pipe().map_err(RuntimeError::Io)?;
            let dest = dest.to_path_buf();
            let handle =
                std::thread::spawn(move || unpack::unpack_layer(reader, &dest, IdLimits::ALL));
            return Ok(LayerSink::thread(Box::new(writer), handle));
        }
        let ns = self.userns();
        let limits = IdLimits {
            uids: UserNs::contiguous(&ns.uid_map),
            gids: UserNs::contiguous(&ns.gid_map),
        };
        let mut cmd = Command::new("/proc/self/exe");
        if crate::log::enabled() {
            cmd.env(DEBUG_ENV, "1");
        }
        cmd.arg(UNPACK_CMD)
            .arg(dest)
            .arg(limits.uids.to_string())
            .arg(limits.gids.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut helper = userns::spawn(cmd, &ns)?;
        let stdin: ChildStdin = helper.child.stdin.take().expect("piped stdin");
        Ok(LayerSink::helper(
            Box::new(io::BufWriter::with_capacity(256 * 1024, stdin)),
            helper,
        ))
    }

    /// Deletes directory trees that hold layer files (owned by the user's subordinate ids).
    pub fn remove_trees(&self, paths: &[PathBuf]) -> Result<(), Error> {
        if paths.is_empty() {
            return Ok(());
        }
        // Most trees (a container's upper dir, a staging dir) hold only files of container root,
        // which is us: try without the helper's user namespace first.
        let mut left = Vec::new();
        for p in paths {
            if let Err(e) = unpack::remove_tree(p) {
                left.push((p.clone(), e));
            }
        }
        let ns = self.userns();
        if left.is_empty() || !self.user.rootless() || !ns.needs_helpers {
            return match left.into_iter().next() {
                None => Ok(()),
                Some((p, e)) => Err(Error::Other(format!("removing {}: {e}", p.display()))),
            };
        }
        let paths: Vec<PathBuf> = left.into_iter().map(|(p, _)| p).collect();
        let mut cmd = Command::new("/proc/self/exe");
        cmd.arg(RMTREE_CMD)
            .args(&paths)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let helper = userns::spawn(cmd, &ns)?;
        let out = helper.child.wait_with_output().map_err(RuntimeError::Io)?;
        drop(helper.lifeline);
        if out.status.success() {
            Ok(())
        } else {
            Err(RuntimeError::Helper(format!(
                "removing layer files failed: {}",
                String::from_utf8_lossy(&out.stdout).trim()
            ))
            .into())
        }
    }
}

impl Engine {
    /// How layers become a root file system here: `SKIFF_ROOTFS_DRIVER` when set, else what
    /// was detected (once per store, by mounting in a scratch directory) and kept in the store.
    pub fn rootfs_driver(&self) -> Result<crate::runtime::rootfs::Driver, Error> {
        use crate::runtime::rootfs::Driver;
        if let Ok(forced) = std::env::var("SKIFF_ROOTFS_DRIVER") {
            return Driver::parse(&forced).ok_or_else(|| {
                Error::Invalid(format!(
                    "SKIFF_ROOTFS_DRIVER={forced}: expected overlay, fuse-overlayfs or copy"
                ))
            });
        }
        if self.paths.storage_driver == Some(crate::config::StorageDriver::Vfs) {
            // storage.conf's vfs: a private copy of the image per container, as Podman's.
            return Ok(Driver::Copy);
        }
        let cache = self.paths.data_root.join("rootfs-driver");
        if let Some(d) = std::fs::read_to_string(&cache)
            .ok()
            .and_then(|s| Driver::parse(&s))
        {
            return Ok(d);
        }
        let scratch = self
            .store
            .root()
            .join("tmp")
            .join(format!("detect-{}", std::process::id()));
        let mut cmd = Command::new("/proc/self/exe");
        cmd.arg(DETECT_CMD)
            .arg(&scratch)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let out = if self.user.rootless() {
            let helper = userns::spawn(cmd, &self.userns())?;
            let out = helper.child.wait_with_output().map_err(RuntimeError::Io)?;
            drop(helper.lifeline);
            out
        } else {
            cmd.output().map_err(RuntimeError::Io)?
        };
        let _ = self.remove_trees(&[scratch]);
        let driver = Driver::parse(&String::from_utf8_lossy(&out.stdout)).unwrap_or(Driver::Copy);
        let _ = std::fs::write(&cache, driver.name());
        Ok(driver)
    }
}
