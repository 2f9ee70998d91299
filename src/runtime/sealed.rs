//! The skiff binary as a container may see it.
//!
//! A workload that execs `/proc/self/exe` (directly, through a symlink, or as a script's
//! interpreter) while the process is still skiff's runs skiff's own binary inside the container,
//! dumpable, and the container can then open that file through `/proc/PID/exe` and rewrite it
//! once it is no longer busy: runc's CVE-2019-5736. Rootless, the container's root is the user,
//! so a binary the user owns (`cargo install`, `~/bin`) is writable by it; as root it always
//! is. In those cases the commands that start processes in containers first re-execute
//! themselves from a sealed anonymous copy of the binary (a memfd that can never be written,
//! grown or shrunk again), as runc and crun do, so that `/proc/PID/exe` of any process of ours
//! names that copy. A binary the container can't write (installed by root, for a user) needs
//! no copy, and costs nothing.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use rustix::fs::{MemfdFlags, SealFlags};

const SELF: &str = "/proc/self/exe";

/// Whether this process runs from a sealed copy already.
pub fn running_sealed() -> bool {
    let Ok(file) = std::fs::File::open(SELF) else {
        return false;
    };
    rustix::fs::fcntl_get_seals(&file).is_ok_and(|s| s.contains(SealFlags::WRITE))
}

/// Whether a container's root could write this process's executable: the user may write it
/// (its owner, group or mode say so; root always may), or it belongs to one of
/// `mapped_uids`, the host ids the user's namespace maps (the container's root holds
/// CAP_DAC_OVERRIDE over those). A read-only mount is writable by no one.
pub fn writable_by_container(mapped_uids: impl FnOnce() -> Vec<(u32, u32)>) -> bool {
    match rustix::fs::access(SELF, rustix::fs::Access::WRITE_OK) {
        Ok(()) => return true,
        Err(rustix::io::Errno::ROFS) => return false,
        Err(_) => {}
    }
    let Ok(meta) = std::fs::metadata(SELF) else {
        return true;
    };
    mapped_uids()
        .iter()
        .any(|(start, count)| meta.uid() >= *start && meta.uid() - start < *count)
}

/// Executes this program again, with the same arguments and environment, from a sealed
/// anonymous copy of its binary. Returns only on failure. Call before the command has done
/// anything, with a single thread.
pub fn reexec_from_sealed_copy() -> io::Error {
    let copy = match sealed_copy() {
        Ok(fd) => fd,
        Err(e) => return e,
    };
    let c = |b: &[u8]| CString::new(b).unwrap_or_default();
    let args: Vec<CString> = std::env::args_os().map(|a| c(a.as_bytes())).collect();
    let env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            c(&kv)
        })
        .collect();
    let path = c(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&copy)).as_bytes());
    // The descriptor is close-on-exec: the kernel opens the binary through it before closing it,
    // and the new program holds it only as its executable.
    crate::sys::execve(&path, &args, &env)
}

fn sealed_copy() -> io::Result<std::fs::File> {
    let flags = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
    // MFD_EXEC (Linux 6.3) says the copy is to be executed, which vm.memfd_noexec may demand;
    // older kernels don't know the flag.
    let fd = match rustix::fs::memfd_create("skiff", flags | MemfdFlags::EXEC) {
        Err(rustix::io::Errno::INVAL) => rustix::fs::memfd_create("skiff", flags),
        other => other,
    }
    .map_err(|e| {
        io::Error::new(
            io::Error::from(e).kind(),
            format!("memfd_create: {e} (is vm.memfd_noexec set? install skiff where only root can write it)"),
        )
    })?;
    let mut copy = std::fs::File::from(fd);
    let mut binary = std::fs::File::open(SELF)?;
    // copy_file_range or sendfile: the kernel copies, from the page cache.
    io::copy(&mut binary, &mut copy)?;
    rustix::fs::fcntl_add_seals(
        &copy,
        SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE,
    )?;
    Ok(copy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_copy_cannot_be_written() {
        let copy = sealed_copy().unwrap();
        let seals = rustix::fs::fcntl_get_seals(&copy).unwrap();
        assert!(seals.contains(SealFlags::WRITE | SealFlags::SEAL));
        let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&copy));
        let opened = std::fs::OpenOptions::new().write(true).open(&path);
        // Opening may succeed; no byte can be written.
        if let Ok(mut f) = opened {
            use std::io::Write;
            assert!(f.write_all(b"x").is_err());
        }
        let len = copy.metadata().unwrap().len();
        assert_eq!(len, std::fs::metadata(SELF).unwrap().len());
    }

    #[test]
    fn the_test_binary_is_not_sealed() {
        assert!(!running_sealed());
    }
}
