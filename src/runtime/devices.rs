//! Device nodes in the container's /dev beyond the standard ones (null, zero, tty, …): made
//! with mknod(2), or bound from the host's node. Rootless only the bind works (the kernel
//! refuses mknod in a user namespace, and device nodes on a file system mounted there), so
//! GPUs and /dev/fuse come that way.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::report::{fail, Failure};
use super::syscall::Syscall;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    Char,
    Block,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Where the node is in the container: beneath /dev.
    pub path: PathBuf,
    pub kind: DeviceKind,
    pub major: u32,
    pub minor: u32,
    /// Permission bits of a node made with mknod.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Bind the host's node at the same path instead of making one. Its mode and owner are
    /// the host's: changing them through the bind would change the host's node.
    #[serde(default)]
    pub bind: bool,
}

/// What /dev holds before the devices are added: names a device may not take or go through.
const RESERVED: &[&str] = &[
    "pts", "shm", "mqueue", "ptmx", "fd", "stdin", "stdout", "stderr", "core",
];

/// A device checked and placed in the root file system, ready for [`create`].
#[derive(Debug)]
pub(super) struct Prepared {
    /// The host's node (for a bind).
    host: PathBuf,
    /// The node's path beneath the root file system's /dev.
    target: PathBuf,
    /// Directories to make on the way, parents first.
    parents: Vec<PathBuf>,
    kind: rustix::fs::FileType,
    device: Device,
}

/// Checks the devices and places them in `dev` (the root file system's /dev): a path must be
/// beneath /dev, with no `.` or `..` and no name that /dev already uses for a mount or a link;
/// a node to bind must be on the host, and of its kind.
pub(super) fn prepare(devices: &[Device], dev: &Path) -> Result<Vec<Prepared>, String> {
    let mut out: Vec<Prepared> = Vec::with_capacity(devices.len());
    for d in devices {
        let shown = d.path.display();
        let bad = |why: &str| format!("device {shown}: {why}");
        let text = d
            .path
            .to_str()
            .ok_or_else(|| bad("the path is not UTF-8"))?;
        let rest = text
            .strip_prefix("/dev/")
            .ok_or_else(|| bad("the path must be beneath /dev"))?;
        let names: Vec<&str> = rest.split('/').collect();
        if names
            .iter()
            .any(|n| n.is_empty() || *n == "." || *n == "..")
        {
            return Err(bad(
                "the path must name a file beneath /dev, without . or ..",
            ));
        }
        if RESERVED.contains(&names[0]) {
            return Err(bad(&format!("/dev/{} is the runtime's", names[0])));
        }
        if d.mode & !0o7777 != 0 {
            return Err(bad(&format!(
                "mode {:o} is more than permission bits",
                d.mode
            )));
        }
        if out.iter().any(|p| p.device.path == d.path) {
            return Err(bad("given twice"));
        }
        let kind = match d.kind {
            DeviceKind::Char => rustix::fs::FileType::CharacterDevice,
            DeviceKind::Block => rustix::fs::FileType::BlockDevice,
        };
        if d.bind {
            let m = fs::metadata(&d.path).map_err(|e| bad(&format!("on the host: {e}")))?;
            let is_kind = match d.kind {
                DeviceKind::Char => m.file_type().is_char_device(),
                DeviceKind::Block => m.file_type().is_block_device(),
            };
            if !is_kind {
                return Err(bad(&format!(
                    "the host's is not a {} device",
                    match d.kind {
                        DeviceKind::Char => "character",
                        DeviceKind::Block => "block",
                    }
                )));
            }
        }
        let target = dev.join(rest);
        let mut parents = Vec::new();
        let mut dir = dev.to_path_buf();
        for name in &names[..names.len() - 1] {
            dir.push(name);
            parents.push(dir.clone());
        }
        out.push(Prepared {
            host: d.path.clone(),
            target,
            parents,
            kind,
            device: d.clone(),
        });
    }
    Ok(out)
}

/// Adds the devices to /dev, a fresh tmpfs of the container's (so plain paths are safe: nothing
/// in it comes from the image).
pub(super) fn create<S: Syscall>(sys: &S, devices: &[Prepared]) -> Result<(), Failure> {
    for p in devices {
        let shown = p.device.path.display();
        for dir in &p.parents {
            if !dir.is_dir() {
                fs::DirBuilder::new()
                    .mode(0o755)
                    .create(dir)
                    .map_err(|e| fail(&format!("creating the directory of {shown}"), e))?;
            }
        }
        if p.device.bind {
            // A mount point for the node; a standard node of the same name is covered.
            fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&p.target)
                .map_err(|e| fail(&format!("creating {shown}"), e))?;
            sys.bind(&p.host, &p.target, false)
                .map_err(|e| fail(&format!("binding the host's {shown}"), e))?;
        } else {
            let d = &p.device;
            sys.mknod(&p.target, p.kind, d.major, d.minor)
                .map_err(|e| fail(&format!("creating {shown} ({}:{})", d.major, d.minor), e))?;
            sys.chown(&p.target, d.uid, d.gid)
                .map_err(|e| fail(&format!("giving {shown} to {}:{}", d.uid, d.gid), e))?;
            sys.chmod(&p.target, d.mode)
                .map_err(|e| fail(&format!("setting the mode of {shown}"), e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::syscall::recording::{Call, Recording};
    use super::*;

    fn device(path: &str, bind: bool) -> Device {
        Device {
            path: path.into(),
            kind: DeviceKind::Char,
            major: 10,
            minor: 229,
            mode: 0o666,
            uid: 0,
            gid: 0,
            bind,
        }
    }

    #[test]
    fn paths_outside_dev_or_through_its_links_are_refused() {
        let dev = Path::new("/root/dev");
        for (path, why) in [
            ("/etc/passwd", "beneath /dev"),
            ("dev/fuse", "beneath /dev"),
            ("/dev", "beneath /dev"),
            ("/dev/", "without . or .."),
            ("/dev/../etc/shadow", "without . or .."),
            ("/dev/dri/../../etc", "without . or .."),
            ("/dev/./fuse", "without . or .."),
            ("/dev//fuse", "without . or .."),
            ("/dev/fd/3", "the runtime's"),
            ("/dev/pts/9", "the runtime's"),
            ("/dev/shm", "the runtime's"),
        ] {
            let err = prepare(&[device(path, false)], dev).unwrap_err();
            assert!(err.contains(why), "{path}: {err}");
        }
        let twice = prepare(
            &[device("/dev/fuse", false), device("/dev/fuse", false)],
            dev,
        );
        assert!(twice.unwrap_err().contains("twice"));
        let mut d = device("/dev/fuse", false);
        d.mode = 0o100666;
        assert!(prepare(&[d], dev).unwrap_err().contains("permission bits"));
    }

    #[test]
    fn a_bound_node_must_be_the_hosts_of_its_kind() {
        let dev = Path::new("/root/dev");
        // /dev/null is a character device on every Linux machine.
        assert!(prepare(&[device("/dev/null", true)], dev).is_ok());
        let mut block = device("/dev/null", true);
        block.kind = DeviceKind::Block;
        assert!(prepare(&[block], dev)
            .unwrap_err()
            .contains("not a block device"));
        let missing = prepare(&[device("/dev/skiff-no-such-node", true)], dev);
        assert!(missing.unwrap_err().contains("on the host"));
    }

    #[test]
    fn nodes_are_bound_or_made_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let dev = dir.path().join("dev");
        fs::create_dir(&dev).unwrap();
        let mut gpu = device("/dev/dri/card0", false);
        gpu.major = 226;
        gpu.minor = 0;
        gpu.gid = 44;
        gpu.mode = 0o660;
        let prepared = prepare(&[device("/dev/null", true), gpu], &dev).unwrap();
        let sys = Recording::default();
        create(&sys, &prepared).unwrap();
        assert!(dev.join("null").is_file(), "the bind's mount point made");
        assert!(dev.join("dri").is_dir(), "the node's directory made");
        let card = dev.join("dri/card0");
        assert_eq!(
            sys.calls(),
            vec![
                Call::Bind {
                    source: "/dev/null".into(),
                    target: dev.join("null"),
                    recursive: false,
                },
                Call::Mknod {
                    path: card.clone(),
                    kind: rustix::fs::FileType::CharacterDevice,
                    major: 226,
                    minor: 0,
                },
                Call::Chown {
                    path: card.clone(),
                    uid: 0,
                    gid: 44,
                },
                Call::Chmod {
                    path: card,
                    mode: 0o660,
                },
            ]
        );
    }
}
