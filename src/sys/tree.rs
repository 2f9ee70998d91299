//! Deleting a directory tree: the store's layers and containers, a failed copy of a root file
//! system, a staging directory. Every name is resolved beneath its parent without following a
//! symlink (`openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`), and directories whose mode
//! forbids listing them (a layer's, overlayfs's work directory) are opened up first through
//! an O_PATH descriptor. Here, at the bottom, because the store, the runtime and the engine
//! all delete trees.

use std::ffi::OsStr;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// Removes a directory tree beneath `dir` without following symlinks. What is gone already is
/// no error: a killed command's helper may still be deleting the same tree for a moment after
/// a later command has claimed it.
pub fn remove_tree_at(dir: &impl AsFd, name: &OsStr) -> Result<(), Errno> {
    match remove_tree_inner(dir, name) {
        Err(Errno::NOENT) => Ok(()),
        other => other,
    }
}

fn remove_tree_inner(dir: &impl AsFd, name: &OsStr) -> Result<(), Errno> {
    let open = || {
        super::openat2(
            dir,
            name,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
        )
    };
    // Make sure we may list and delete what is inside, whatever mode the layer (or overlayfs,
    // whose work directory is mode 000) gave it.
    let fd = match open() {
        Err(Errno::ACCESS) => {
            // Through an O_PATH descriptor (which needs no permission on the directory itself)
            // resolved the same way: a chmod by name would follow a symlink put there meanwhile.
            let path_fd = super::openat2(
                dir,
                name,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                Mode::empty(),
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
            )?;
            crate::sys::chmod_fd(path_fd.as_fd(), 0o700).map_err(|e| {
                e.raw_os_error()
                    .map(Errno::from_raw_os_error)
                    .unwrap_or(Errno::IO)
            })?;
            open()?
        }
        other => other?,
    };
    let _ = rfs::fchmod(&fd, Mode::from_raw_mode(0o700));
    let mut names = Vec::new();
    for entry in rfs::Dir::read_from(&fd)? {
        let entry = entry?;
        let n = entry.file_name().to_bytes();
        if n == b"." || n == b".." {
            continue;
        }
        names.push((n.to_vec(), entry.file_type()));
    }
    for (n, kind) in names {
        let n = OsStr::from_bytes(&n);
        if kind == FileType::Directory {
            remove_tree_at(&fd, n)?;
        } else {
            match rfs::unlinkat(&fd, n, AtFlags::empty()) {
                Ok(()) | Err(Errno::NOENT) => {}
                Err(e) => return Err(e),
            }
        }
    }
    rfs::unlinkat(dir, name, AtFlags::REMOVEDIR)
}

/// Removes `path` and everything beneath it; a missing path is not an error.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "bad path"));
    };
    let dir = match rfs::open(
        parent,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    match rfs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
            Ok(remove_tree_at(&dir, name)?)
        }
        Ok(_) => Ok(rfs::unlinkat(&dir, name, AtFlags::empty())?),
    }
}
