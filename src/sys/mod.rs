//! Thin safe wrappers over the few raw calls that need `unsafe` or care about threads.
//! Everything `unsafe` outside of `pre_exec` closures lives here.

use std::io;

use rustix::thread::{self, UnshareFlags};

/// Moves the calling process into a new user namespace. Must be called while the process has a
/// single thread: the kernel refuses CLONE_NEWUSER (EINVAL) otherwise.
pub fn unshare_user_namespace() -> io::Result<()> {
    // SAFETY: the callers run this first thing in `main`, before any thread exists, so no other
    // thread can observe the change of credentials halfway.
    unsafe { thread::unshare_unsafe(UnshareFlags::NEWUSER) }.map_err(io::Error::from)
}

/// Becomes uid 0 / gid 0 inside a freshly mapped user namespace. Supplementary groups are dropped
/// where setgroups is allowed (it is denied with a single-uid map, which is fine).
pub fn become_root() -> io::Result<()> {
    let root_gid = rustix::process::Gid::ROOT;
    let root_uid = rustix::process::Uid::ROOT;
    let _ = thread::set_thread_groups(&[]);
    thread::set_thread_res_gid(root_gid, root_gid, root_gid)?;
    thread::set_thread_res_uid(root_uid, root_uid, root_uid)?;
    Ok(())
}

/// The real and effective user ids of this process.
pub fn ids() -> (u32, u32, u32) {
    (
        rustix::process::getuid().as_raw(),
        rustix::process::geteuid().as_raw(),
        rustix::process::getgid().as_raw(),
    )
}

/// Whether stdout/stderr/stdin is a terminal.
pub fn is_terminal(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    rustix::termios::isatty(fd)
}
