//! The seam between the container's set-up and the kernel. Every mount, namespace and
//! credential call that sets a container up goes through [`Syscall`], so that unit tests can
//! run the steps against [`recording::Recording`] (no root, nothing changed on the machine)
//! and check their order. The set-up code is generic over the trait, never `dyn`: with
//! [`Real`], a unit struct, each method compiles down to the one call it wraps.

use std::ffi::CStr;
use std::io;
use std::os::fd::BorrowedFd;
use std::path::Path;

use rustix::fs::{FileType, Mode};
use rustix::mount::{self as mnt, MountFlags, MountPropagationFlags, UnmountFlags};

pub(super) use crate::sys::NamespaceFlags;
pub(super) use rustix::thread::LinkNameSpaceType as NamespaceType;

pub(super) trait Syscall {
    /// mount(2) of a file system of type `fstype`.
    fn mount(
        &self,
        source: &str,
        target: &Path,
        fstype: &str,
        flags: MountFlags,
        data: Option<&CStr>,
    ) -> io::Result<()>;
    /// A bind mount; `recursive` takes what is mounted beneath `source` along.
    fn bind(&self, source: &Path, target: &Path, recursive: bool) -> io::Result<()>;
    /// Changes the flags of the bind mount at `target`.
    fn remount(&self, target: &Path, flags: MountFlags) -> io::Result<()>;
    /// Makes every mount at and beneath `target` private.
    fn make_private(&self, target: &Path) -> io::Result<()>;
    fn umount(&self, target: &Path, flags: UnmountFlags) -> io::Result<()>;
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> io::Result<()>;
    fn chdir(&self, path: &Path) -> io::Result<()>;
    /// New namespaces (never the user namespace: see `sys::unshare_user_namespace`).
    fn unshare(&self, flags: NamespaceFlags) -> io::Result<()>;
    /// setns(2) into the namespace `fd` names, which must be of type `kind`.
    fn setns(&self, fd: BorrowedFd<'_>, kind: NamespaceType) -> io::Result<()>;
    fn mknod(&self, path: &Path, kind: FileType, major: u32, minor: u32) -> io::Result<()>;
    fn chown(&self, path: &Path, uid: u32, gid: u32) -> io::Result<()>;
    fn chmod(&self, path: &Path, mode: u32) -> io::Result<()>;
    fn sethostname(&self, name: &str) -> io::Result<()>;
    fn set_not_dumpable(&self) -> io::Result<()>;
    /// See `sys::limit_capabilities`.
    fn limit_capabilities(&self, keep: &[u32], for_root: bool) -> io::Result<()>;
    fn set_ids(&self, uid: u32, gid: u32, groups: &[u32]) -> io::Result<()>;
    fn set_no_new_privs(&self) -> io::Result<()>;
    /// setrlimit(2) of the resource Docker calls `name`.
    fn set_limit(&self, name: &str, soft: u64, hard: u64) -> io::Result<()>;
    fn load_seccomp(&self, program: &[libc::sock_filter]) -> io::Result<()>;
}

/// The kernel itself.
pub(super) struct Real;

impl Syscall for Real {
    #[inline]
    fn mount(
        &self,
        source: &str,
        target: &Path,
        fstype: &str,
        flags: MountFlags,
        data: Option<&CStr>,
    ) -> io::Result<()> {
        Ok(mnt::mount(source, target, fstype, flags, data)?)
    }

    #[inline]
    fn bind(&self, source: &Path, target: &Path, recursive: bool) -> io::Result<()> {
        if recursive {
            Ok(mnt::mount_bind_recursive(source, target)?)
        } else {
            Ok(mnt::mount_bind(source, target)?)
        }
    }

    #[inline]
    fn remount(&self, target: &Path, flags: MountFlags) -> io::Result<()> {
        Ok(mnt::mount_remount(target, flags, "")?)
    }

    #[inline]
    fn make_private(&self, target: &Path) -> io::Result<()> {
        Ok(mnt::mount_change(
            target,
            MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
        )?)
    }

    #[inline]
    fn umount(&self, target: &Path, flags: UnmountFlags) -> io::Result<()> {
        Ok(mnt::unmount(target, flags)?)
    }

    #[inline]
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> io::Result<()> {
        Ok(rustix::process::pivot_root(new_root, put_old)?)
    }

    #[inline]
    fn chdir(&self, path: &Path) -> io::Result<()> {
        Ok(rustix::process::chdir(path)?)
    }

    #[inline]
    fn unshare(&self, flags: NamespaceFlags) -> io::Result<()> {
        crate::sys::unshare(flags)
    }

    #[inline]
    fn setns(&self, fd: BorrowedFd<'_>, kind: NamespaceType) -> io::Result<()> {
        Ok(rustix::thread::move_into_link_name_space(fd, Some(kind))?)
    }

    #[inline]
    fn mknod(&self, path: &Path, kind: FileType, major: u32, minor: u32) -> io::Result<()> {
        // The mode comes with `chmod`: mknod's is cut by the umask.
        let dev = rustix::fs::makedev(major, minor);
        Ok(rustix::fs::mknodat(
            rustix::fs::CWD,
            path,
            kind,
            Mode::from_raw_mode(0o600),
            dev,
        )?)
    }

    #[inline]
    fn chown(&self, path: &Path, uid: u32, gid: u32) -> io::Result<()> {
        Ok(rustix::fs::chown(
            path,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
        )?)
    }

    #[inline]
    fn chmod(&self, path: &Path, mode: u32) -> io::Result<()> {
        Ok(rustix::fs::chmod(path, Mode::from_raw_mode(mode))?)
    }

    #[inline]
    fn sethostname(&self, name: &str) -> io::Result<()> {
        Ok(rustix::system::sethostname(name.as_bytes())?)
    }

    #[inline]
    fn set_not_dumpable(&self) -> io::Result<()> {
        crate::sys::set_not_dumpable()
    }

    #[inline]
    fn limit_capabilities(&self, keep: &[u32], for_root: bool) -> io::Result<()> {
        crate::sys::limit_capabilities(keep, for_root)
    }

    #[inline]
    fn set_ids(&self, uid: u32, gid: u32, groups: &[u32]) -> io::Result<()> {
        crate::sys::set_ids(uid, gid, groups)
    }

    #[inline]
    fn set_no_new_privs(&self) -> io::Result<()> {
        Ok(rustix::thread::set_no_new_privs(true)?)
    }

    #[inline]
    fn set_limit(&self, name: &str, soft: u64, hard: u64) -> io::Result<()> {
        crate::sys::set_limit(name, soft, hard)
    }

    #[inline]
    fn load_seccomp(&self, program: &[libc::sock_filter]) -> io::Result<()> {
        crate::sys::install_seccomp(program)
    }
}

/// A double that records each call and changes nothing.
#[cfg(test)]
pub(super) mod recording {
    use std::cell::RefCell;
    use std::path::PathBuf;

    use super::*;

    /// One call, with what it was given. A target named through `/proc/self/fd/N` (as the
    /// set-up names paths inside the root) is recorded as the path it leads to.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Call {
        Mount {
            source: String,
            target: PathBuf,
            fstype: String,
            flags: MountFlags,
            data: Option<String>,
        },
        Bind {
            source: PathBuf,
            target: PathBuf,
            recursive: bool,
        },
        Remount {
            target: PathBuf,
            flags: MountFlags,
        },
        MakePrivate(PathBuf),
        Umount(PathBuf),
        PivotRoot {
            new_root: PathBuf,
            put_old: PathBuf,
        },
        Chdir(PathBuf),
        Unshare(NamespaceFlags),
        Setns(NamespaceType),
        Mknod {
            path: PathBuf,
            kind: FileType,
            major: u32,
            minor: u32,
        },
        Chown {
            path: PathBuf,
            uid: u32,
            gid: u32,
        },
        Chmod {
            path: PathBuf,
            mode: u32,
        },
        Sethostname(String),
        SetNotDumpable,
        LimitCapabilities {
            keep: Vec<u32>,
            for_root: bool,
        },
        SetIds {
            uid: u32,
            gid: u32,
            groups: Vec<u32>,
        },
        SetNoNewPrivs,
        SetLimit(String),
        LoadSeccomp {
            instructions: usize,
        },
    }

    #[derive(Default)]
    pub struct Recording {
        calls: RefCell<Vec<Call>>,
        /// A file system type whose mounts fail (EPERM), as the kernel refuses some.
        refuse: Option<&'static str>,
    }

    impl Recording {
        pub fn refusing(fstype: &'static str) -> Self {
            Recording {
                refuse: Some(fstype),
                ..Recording::default()
            }
        }

        pub fn calls(&self) -> Vec<Call> {
            self.calls.borrow().clone()
        }

        fn push(&self, call: Call) -> io::Result<()> {
            self.calls.borrow_mut().push(call);
            Ok(())
        }
    }

    fn resolved(path: &Path) -> PathBuf {
        if path.starts_with("/proc/self/fd") {
            if let Ok(real) = std::fs::read_link(path) {
                return real;
            }
        }
        path.to_path_buf()
    }

    impl Syscall for Recording {
        fn mount(
            &self,
            source: &str,
            target: &Path,
            fstype: &str,
            flags: MountFlags,
            data: Option<&CStr>,
        ) -> io::Result<()> {
            self.push(Call::Mount {
                source: source.into(),
                target: resolved(target),
                fstype: fstype.into(),
                flags,
                data: data.map(|d| d.to_string_lossy().into_owned()),
            })?;
            match self.refuse {
                Some(refused) if refused == fstype => {
                    Err(io::Error::from_raw_os_error(libc::EPERM))
                }
                _ => Ok(()),
            }
        }

        fn bind(&self, source: &Path, target: &Path, recursive: bool) -> io::Result<()> {
            self.push(Call::Bind {
                source: resolved(source),
                target: resolved(target),
                recursive,
            })
        }

        fn remount(&self, target: &Path, flags: MountFlags) -> io::Result<()> {
            self.push(Call::Remount {
                target: resolved(target),
                flags,
            })
        }

        fn make_private(&self, target: &Path) -> io::Result<()> {
            self.push(Call::MakePrivate(target.into()))
        }

        fn umount(&self, target: &Path, _: UnmountFlags) -> io::Result<()> {
            self.push(Call::Umount(target.into()))
        }

        fn pivot_root(&self, new_root: &Path, put_old: &Path) -> io::Result<()> {
            self.push(Call::PivotRoot {
                new_root: new_root.into(),
                put_old: put_old.into(),
            })
        }

        fn chdir(&self, path: &Path) -> io::Result<()> {
            self.push(Call::Chdir(path.into()))
        }

        fn unshare(&self, flags: NamespaceFlags) -> io::Result<()> {
            self.push(Call::Unshare(flags))
        }

        fn setns(&self, _: BorrowedFd<'_>, kind: NamespaceType) -> io::Result<()> {
            self.push(Call::Setns(kind))
        }

        fn mknod(&self, path: &Path, kind: FileType, major: u32, minor: u32) -> io::Result<()> {
            self.push(Call::Mknod {
                path: path.into(),
                kind,
                major,
                minor,
            })
        }

        fn chown(&self, path: &Path, uid: u32, gid: u32) -> io::Result<()> {
            self.push(Call::Chown {
                path: path.into(),
                uid,
                gid,
            })
        }

        fn chmod(&self, path: &Path, mode: u32) -> io::Result<()> {
            self.push(Call::Chmod {
                path: path.into(),
                mode,
            })
        }

        fn sethostname(&self, name: &str) -> io::Result<()> {
            self.push(Call::Sethostname(name.into()))
        }

        fn set_not_dumpable(&self) -> io::Result<()> {
            self.push(Call::SetNotDumpable)
        }

        fn limit_capabilities(&self, keep: &[u32], for_root: bool) -> io::Result<()> {
            self.push(Call::LimitCapabilities {
                keep: keep.to_vec(),
                for_root,
            })
        }

        fn set_ids(&self, uid: u32, gid: u32, groups: &[u32]) -> io::Result<()> {
            self.push(Call::SetIds {
                uid,
                gid,
                groups: groups.to_vec(),
            })
        }

        fn set_no_new_privs(&self) -> io::Result<()> {
            self.push(Call::SetNoNewPrivs)
        }

        fn set_limit(&self, name: &str, _: u64, _: u64) -> io::Result<()> {
            self.push(Call::SetLimit(name.into()))
        }

        fn load_seccomp(&self, program: &[libc::sock_filter]) -> io::Result<()> {
            self.push(Call::LoadSeccomp {
                instructions: program.len(),
            })
        }
    }
}
