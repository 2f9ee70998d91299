//! Tar streams of a file or directory tree read through directory descriptors: what `cp` sends
//! out of a container, and the host side of `cp` into one.
//!
//! The tree may belong to someone hostile (a running container changes its files while they
//! are read), so nothing here follows a path string: each directory is opened from its parent's
//! descriptor with `O_NOFOLLOW`, symlinks are stored as links and never followed, and a regular
//! file is opened without following and checked to still be one before its bytes are read. A
//! file that changes size while it is read is cut or padded to the size its header gave, so the
//! stream stays well formed.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

/// Writes `name` in `dir` (the directory itself when `name` is ".") and, for a directory,
/// everything beneath it, as tar entries whose first component is `top`. Symlinks are stored,
/// not followed; sockets are skipped as Docker skips them.
pub fn write_tree<W: Write>(
    out: &mut tar::Builder<W>,
    dir: BorrowedFd<'_>,
    name: &OsStr,
    top: &Path,
) -> io::Result<()> {
    let mut walk = Walk {
        out,
        links: HashMap::new(),
    };
    walk.entry(dir, name, top)
}

struct Walk<'a, W: Write> {
    out: &'a mut tar::Builder<W>,
    /// Files with several links already written, by (device, inode): later ones become hard
    /// links to the first, as in Docker's archives.
    links: HashMap<(u64, u64), PathBuf>,
}

impl<W: Write> Walk<'_, W> {
    fn entry(&mut self, dir: BorrowedFd<'_>, name: &OsStr, path: &Path) -> io::Result<()> {
        let shown = |e: Errno| {
            io::Error::new(
                io::Error::from(e).kind(),
                format!("{}: {e}", path.display()),
            )
        };
        let st = rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(shown)?;
        let mut header = header_for(&st);
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => {
                let fd = rfs::openat(
                    dir,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(shown)?;
                // The header from the descriptor: the name may have been swapped since.
                let st = rfs::fstat(&fd).map_err(shown)?;
                let mut header = header_for(&st);
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                self.out.append_data(&mut header, path, io::empty())?;
                if kernel_view(&fd) {
                    return Ok(());
                }
                let mut names = Vec::new();
                for entry in rfs::Dir::read_from(&fd).map_err(shown)? {
                    let entry = entry.map_err(shown)?;
                    let n = entry.file_name().to_bytes();
                    if n != b"." && n != b".." {
                        names.push(n.to_vec());
                    }
                }
                names.sort();
                for n in names {
                    let n = OsStr::from_bytes(&n);
                    self.entry(fd.as_fd(), n, &path.join(n))?;
                }
                Ok(())
            }
            FileType::RegularFile => {
                let fd = rfs::openat(
                    dir,
                    name,
                    OFlags::RDONLY
                        | OFlags::NOFOLLOW
                        | OFlags::NONBLOCK
                        | OFlags::NOCTTY
                        | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(shown)?;
                let st = rfs::fstat(&fd).map_err(shown)?;
                if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
                    return Err(io::Error::other(format!(
                        "{}: changed while it was copied",
                        path.display()
                    )));
                }
                let mut header = header_for(&st);
                if st.st_nlink > 1 {
                    let key = (st.st_dev, st.st_ino);
                    if let Some(first) = self.links.get(&key) {
                        header.set_entry_type(tar::EntryType::Link);
                        header.set_size(0);
                        return self.out.append_link(&mut header, path, first);
                    }
                    self.links.insert(key, path.to_path_buf());
                }
                header.set_entry_type(tar::EntryType::Regular);
                let size = st.st_size as u64;
                header.set_size(size);
                let data = File::from(fd).take(size).chain(io::repeat(0)).take(size);
                self.out.append_data(&mut header, path, data)
            }
            FileType::Symlink => {
                let target = rfs::readlinkat(dir, name, Vec::new()).map_err(shown)?;
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                let target = OsStr::from_bytes(target.as_bytes());
                self.out.append_link(&mut header, path, target)
            }
            FileType::Fifo | FileType::CharacterDevice | FileType::BlockDevice => {
                let kind = match FileType::from_raw_mode(st.st_mode) {
                    FileType::Fifo => tar::EntryType::Fifo,
                    FileType::CharacterDevice => tar::EntryType::Char,
                    _ => tar::EntryType::Block,
                };
                header.set_entry_type(kind);
                header.set_size(0);
                if kind != tar::EntryType::Fifo {
                    header.set_device_major(rfs::major(st.st_rdev))?;
                    header.set_device_minor(rfs::minor(st.st_rdev))?;
                }
                self.out.append_data(&mut header, path, io::empty())
            }
            _ => Ok(()),
        }
    }
}

/// Whether a directory is a kernel's view (/proc, /sys of a running container): its files
/// are no one's data, and some are endless (/proc/kcore), so only the directory is kept, as
/// Docker, which reads the container's file system outside its mounts, has it.
fn kernel_view(dir: &impl AsFd) -> bool {
    const PROC_SUPER_MAGIC: u64 = 0x9fa0;
    const SYSFS_MAGIC: u64 = 0x6265_6572;
    // f_type's width differs between architectures.
    rfs::fstatfs(dir).is_ok_and(|st| matches!(st.f_type as u64, PROC_SUPER_MAGIC | SYSFS_MAGIC))
}

fn header_for(st: &Stat) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_mode(st.st_mode & 0o7777);
    header.set_uid(u64::from(st.st_uid));
    header.set_gid(u64::from(st.st_gid));
    header.set_mtime(st.st_mtime.max(0) as u64);
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees_are_written_without_following_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/file"), b"data").unwrap();
        std::fs::hard_link(root.join("sub/file"), root.join("hard")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("escape")).unwrap();
        let parent = rfs::open(
            dir.path(),
            OFlags::RDONLY | OFlags::DIRECTORY,
            Mode::empty(),
        )
        .unwrap();
        let mut b = tar::Builder::new(Vec::new());
        write_tree(
            &mut b,
            parent.as_fd(),
            OsStr::new("tree"),
            Path::new("renamed"),
        )
        .unwrap();
        let data = b.into_inner().unwrap();
        let mut archive = tar::Archive::new(&data[..]);
        let mut seen = Vec::new();
        for e in archive.entries().unwrap() {
            let e = e.unwrap();
            let link = e
                .link_name()
                .unwrap()
                .map(|l| l.display().to_string())
                .unwrap_or_default();
            seen.push(format!(
                "{} {:?} {link}",
                e.path().unwrap().display(),
                e.header().entry_type()
            ));
        }
        assert_eq!(
            seen,
            [
                "renamed Directory ",
                "renamed/escape Symlink /etc",
                "renamed/hard Regular ",
                "renamed/sub Directory ",
                "renamed/sub/file Link renamed/hard",
            ]
        );
    }
}
