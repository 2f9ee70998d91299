//! Thin safe wrappers over the few raw calls that need `unsafe` or care about threads.
//! Everything `unsafe` outside of `pre_exec` closures lives here.

use std::io;

use rustix::thread::{self, UnshareFlags};

pub mod tree;

/// openat2(2), looked up again when it answers EAGAIN: with RESOLVE_IN_ROOT or
/// RESOLVE_BENEATH the kernel gives up on a lookup through `..` that raced a rename or a mount
/// anywhere on the machine, which a busy machine (or a hostile container renaming in a loop)
/// makes happen.
pub fn openat2<Fd: std::os::fd::AsFd, P: rustix::path::Arg + Copy>(
    dir: Fd,
    path: P,
    flags: rustix::fs::OFlags,
    mode: rustix::fs::Mode,
    resolve: rustix::fs::ResolveFlags,
) -> rustix::io::Result<rustix::fd::OwnedFd> {
    let mut tries = 0;
    loop {
        match rustix::fs::openat2(&dir, path, flags, mode, resolve) {
            Err(rustix::io::Errno::AGAIN) if tries < 64 => tries += 1,
            other => return other,
        }
    }
}

/// Moves the calling process into a new user namespace. Must be called while the process has a
/// single thread: the kernel refuses CLONE_NEWUSER (EINVAL) otherwise.
pub fn unshare_user_namespace() -> io::Result<()> {
    // SAFETY: the callers run this first thing in `main`, before any thread exists, so no other
    // thread can observe the change of credentials halfway.
    unsafe { thread::unshare_unsafe(UnshareFlags::NEWUSER) }.map_err(io::Error::from)
}

/// Joins the user namespace `fd` names (the user's, held by another of its processes). Like
/// `unshare_user_namespace`, only for a process with a single thread.
pub fn join_user_namespace(fd: &impl rustix::fd::AsFd) -> io::Result<()> {
    thread::move_into_link_name_space(fd.as_fd(), Some(thread::LinkNameSpaceType::User))
        .map_err(io::Error::from)
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

/// Takes `uid` and `gid` (real, effective, saved) where they differ from the present ones, so
/// that a process already holding them keeps its capabilities.
pub fn take_ids(uid: u32, gid: u32) -> io::Result<()> {
    if rustix::process::getgid().as_raw() != gid {
        let gid = rustix::process::Gid::from_raw(gid);
        thread::set_thread_res_gid(gid, gid, gid)?;
    }
    if rustix::process::getuid().as_raw() != uid {
        let uid = rustix::process::Uid::from_raw(uid);
        thread::set_thread_res_uid(uid, uid, uid)?;
    }
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

pub use rustix::thread::UnshareFlags as NamespaceFlags;

/// Moves the calling process into new namespaces (not the user namespace: see
/// `unshare_user_namespace`). The mount namespace needs a process that shares no file-system
/// state with other threads.
pub fn unshare(flags: NamespaceFlags) -> io::Result<()> {
    // SAFETY: called by the container helper while it has a single thread, before it forks.
    unsafe { thread::unshare_unsafe(flags) }.map_err(io::Error::from)
}

/// As `fork`, the child being PID 1 of a new PID namespace (clone(2) with CLONE_NEWPID, so
/// that the caller's own namespaces stay as they are and it may do this again).
pub fn fork_in_new_pid_namespace() -> io::Result<Option<i32>> {
    let flags = (libc::CLONE_NEWPID | libc::SIGCHLD) as libc::c_ulong;
    // SAFETY: clone without CLONE_VM and without a new stack is fork with a flag: the child
    // runs on a copy of the caller's memory. Callers are single-threaded (see `fork`).
    let pid = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(None),
        p => Ok(Some(p as i32)),
    }
}

/// dup2(2): `fd` becomes `target` (which is then not close-on-exec).
pub fn dup_onto(fd: i32, target: i32) -> io::Result<()> {
    if fd == target {
        // SAFETY: fcntl on a descriptor number; clears close-on-exec only.
        return match unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } {
            -1 => Err(io::Error::last_os_error()),
            _ => Ok(()),
        };
    }
    // SAFETY: dup2 on descriptor numbers the caller owns; no memory is involved.
    match unsafe { libc::dup2(fd, target) } {
        -1 => Err(io::Error::last_os_error()),
        _ => Ok(()),
    }
}

/// fork(2). `Ok(None)` in the child, `Ok(Some(pid))` in the parent. Call with a single thread.
pub fn fork() -> io::Result<Option<i32>> {
    // SAFETY: callers keep the contract above (one thread at the call), so no lock, the
    // allocator's included, can be held by a thread that does not exist in the child, and the
    // child may run ordinary code: some callers exec soon, others do real work first
    // (`runtime::files` runs a whole copy there). No memory is shared afterwards.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(None),
        pid => Ok(Some(pid)),
    }
}

/// chmod(2) of what an `O_PATH` (or any) descriptor refers to, never following a symlink:
/// fchmodat2 with AT_EMPTY_PATH (Linux 6.6), else chmod of the descriptor's /proc/self/fd link,
/// which the kernel resolves to that very file.
pub fn chmod_fd(fd: std::os::fd::BorrowedFd<'_>, mode: u32) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: the path is a NUL-terminated static string and the descriptor is borrowed for the
    // call; the kernel reads nothing else of ours.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fchmodat2,
            fd.as_raw_fd(),
            c"".as_ptr(),
            mode as libc::c_uint,
            libc::AT_EMPTY_PATH,
        )
    };
    if r == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::ENOSYS) | Some(libc::EINVAL) => rustix::fs::chmod(
            format!("/proc/self/fd/{}", fd.as_raw_fd()).as_str(),
            rustix::fs::Mode::from_raw_mode(mode),
        )
        .map_err(io::Error::from),
        _ => Err(err),
    }
}

/// Closes, in a forked child, a descriptor of its parent's end of a pipe or socket: held by
/// the child too, it would keep the child's own end from ever seeing end-of-file.
pub fn close_parents_end(fd: i32) {
    // SAFETY: called in a forked child that never returns to the code owning `fd` (it leaves
    // with `exit_now`), so nothing uses or closes that descriptor again in this process.
    unsafe { libc::close(fd) };
}

/// Ends the process at once, without running destructors or flushing anything twice.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no memory of ours.
    unsafe { libc::_exit(code) }
}

/// Waits for a child and returns its exit status the way a shell reports it (128+N for a
/// signal).
pub fn wait_for(pid: i32) -> i32 {
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes only to `status`, which outlives the call.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        if r == -1 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return 125;
        }
    }
    shell_status(status)
}

/// Reaps a child if it has exited: its status as `wait_for` gives it; None while it runs.
pub fn exited(pid: i32) -> Option<i32> {
    let mut status = 0;
    // SAFETY: waitpid writes only to `status`, which outlives the call.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    match r {
        0 => None,
        r if r == pid => Some(shell_status(status)),
        // Not our child (any more): nothing to wait for.
        _ => Some(125),
    }
}

/// One signal to one process.
pub fn signal(pid: i32, signal: i32) {
    if pid > 0 {
        // SAFETY: kill(2) takes plain integers and touches no memory.
        unsafe { libc::kill(pid, signal) };
    }
}

fn shell_status(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        125
    }
}

/// Marks every file descriptor from 3 up close-on-exec, so nothing of ours reaches the workload.
pub fn close_fds_on_exec() -> io::Result<()> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range only changes flags of this process's descriptors.
    let r = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Closes every descriptor above 2 (a process that never execs, such as skiff-init, holds no
/// socket or pipe of skiff's).
pub fn close_fds_above_stdio() {
    close_fds_from(3);
}

/// Closes every descriptor from `first` on.
pub fn close_fds_from(first: u32) {
    close_range(first, u32::MAX);
}

/// Closes the descriptors from `first` to `last`: close_range(2), or where that is refused
/// (a kernel before 5.9, a filter skiff itself runs under) one by one as /proc/self/fd lists
/// them.
fn close_range(first: u32, last: u32) {
    // SAFETY: close_range closes this process's own descriptors; the callers own nothing in
    // the range that they still use.
    if unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) } == 0 {
        return;
    }
    let open: Vec<u32> = std::fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|fd| (first..=last).contains(fd))
        .collect();
    for fd in open {
        // SAFETY: as above; the directory's own descriptor is closed already (or closing it
        // once more fails harmlessly with EBADF).
        unsafe { libc::close(fd as i32) };
    }
}

/// Closes every descriptor above 2 except those in `keep` (a process about to enter a
/// container holds nothing of ours that the container could reach through /proc/self/fd).
pub fn close_fds_except(keep: &[i32]) {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter(|fd| **fd > 2)
        .map(|fd| *fd as u32)
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut first = 3u32;
    for fd in keep {
        if fd > first {
            close_range(first, fd - 1);
        }
        first = fd + 1;
    }
    close_fds_from(first);
}

/// Makes this process not dumpable: its /proc files belong to root of the namespace it was
/// executed in, and no process of a container (whose root is the user) may trace it, read its
/// memory or environment, take its descriptors or open its executable. Lasts until the next
/// execve of a readable file, or a change of credentials where fs.suid_dumpable says so.
pub fn set_not_dumpable() -> io::Result<()> {
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(io::Error::from)
}

/// Overwrites the arguments and the environment this process was executed with (the blocks of
/// strings the kernel shows in /proc/self/cmdline and /proc/self/environ) with zeros, through
/// /proc/self/mem. For a forked child that is about to enter a container and must carry none of
/// the caller's secrets (`-e KEY=VALUE` on a command line, a token in the environment):
/// cmdline is readable even for a process that is not dumpable, and the workload gets its own
/// at execve. Nothing in this process may read its arguments or environment afterwards.
pub fn wipe_environment() -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name (which may hold spaces) start with field 3, the state.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| io::Error::other("unexpected /proc/self/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> io::Result<u64> {
        fields
            .get(n - 3)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::other("unexpected /proc/self/stat"))
    };
    let mem = std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/self/mem")?;
    // arg_start, arg_end, env_start, env_end.
    for (start, end) in [(field(48)?, field(49)?), (field(50)?, field(51)?)] {
        if end > start {
            mem.write_all_at(&vec![0u8; (end - start) as usize], start)?;
        }
    }
    Ok(())
}

/// Clears the ambient capability set (none may survive an execve into the container).
pub fn clear_ambient_capabilities() -> io::Result<()> {
    // SAFETY: prctl with PR_CAP_AMBIENT_CLEAR_ALL reads no memory.
    let r = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Keeps only `keep` in the capability bounding set; for root also as the permitted and
/// effective sets, which execve then carries over. The inheritable and ambient sets are emptied.
pub fn limit_capabilities(keep: &[u32], for_root: bool) -> io::Result<()> {
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(40);
    for cap in 0..=last {
        if keep.contains(&cap) {
            continue;
        }
        // SAFETY: prctl with PR_CAPBSET_DROP reads no memory.
        let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // The inheritable set is always empty, as in Docker and Podman since CVE-2022-24769: a
    // process that switches to another user inside and runs a file with inheritable file
    // capabilities would gain them otherwise.
    let have = thread::capabilities(None)?.permitted;
    let set = if for_root {
        let set = keep.iter().fold(0u64, |acc, cap| acc | (1u64 << cap));
        // Only what root has here: a root that is itself confined (a bounding set without
        // some capability) can't raise it, and --privileged means "all there is".
        thread::CapabilitySet::from_bits_truncate(set) & have
    } else {
        // Kept until the switch to the user, which clears them.
        have
    };
    thread::set_capabilities(
        None,
        thread::CapabilitySets {
            effective: set,
            permitted: set,
            inheritable: thread::CapabilitySet::empty(),
        },
    )?;
    clear_ambient_capabilities()
}

/// Switches to the container user. With a single-uid map setgroups is denied; that is fine
/// when no supplementary group is asked for.
pub fn set_ids(uid: u32, gid: u32, groups: &[u32]) -> io::Result<()> {
    let groups: Vec<rustix::process::Gid> = groups
        .iter()
        .map(|g| rustix::process::Gid::from_raw(*g))
        .collect();
    if let Err(e) = thread::set_thread_groups(&groups) {
        if !groups.is_empty() {
            return Err(e.into());
        }
    }
    let gid = rustix::process::Gid::from_raw(gid);
    let uid = rustix::process::Uid::from_raw(uid);
    thread::set_thread_res_gid(gid, gid, gid)?;
    thread::set_thread_res_uid(uid, uid, uid)?;
    Ok(())
}

/// execve(2); returns only on failure.
pub fn execve(
    program: &std::ffi::CStr,
    args: &[std::ffi::CString],
    env: &[std::ffi::CString],
) -> io::Error {
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    // SAFETY: every pointer is to a NUL-terminated string that outlives the call, and both
    // arrays end with a null pointer, as execve requires.
    unsafe { libc::execve(program.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    io::Error::last_os_error()
}

/// SIGKILL to one process.
pub fn kill_now(pid: i32) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}

static FORWARD_TO: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// Signals a foreground container gets from the terminal or a `kill` of skiff (Docker's
/// sig-proxy).
const FORWARDED: &[i32] = &[
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

extern "C" fn forward(sig: libc::c_int) {
    let pid = FORWARD_TO.load(std::sync::atomic::Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe and touches no memory.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Passes the usual termination and job signals (and SIGWINCH if `winch`) on to `pid` until
/// `stop_forwarding_signals`.
pub fn forward_signals(pid: i32, winch: bool) {
    FORWARD_TO.store(pid, std::sync::atomic::Ordering::Relaxed);
    for &sig in FORWARDED.iter().filter(|s| winch || **s != libc::SIGWINCH) {
        // SAFETY: the handler only reads an atomic and calls kill(2), both async-signal-safe;
        // the sigaction struct is fully initialised before the call.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = forward as *const () as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

/// Restores the default disposition of the forwarded signals.
/// Every signal back to its default disposition and none blocked, as a program expects to
/// start (an ignored signal survives exec: Rust ignores SIGPIPE for itself).
pub fn default_signals() {
    // The kernel's struct sigaction (glibc's wrapper refuses its internal signals 32 and 33).
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: libc::c_ulong,
        restorer: usize,
        mask: u64,
    }
    let default = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for sig in 1..=64 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            // SAFETY: `default` is a valid kernel sigaction that outlives the call; SIG_DFL
            // involves no handler code; unknown numbers are refused with EINVAL, harmlessly.
            unsafe {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    &default as *const KernelSigaction,
                    std::ptr::null_mut::<KernelSigaction>(),
                    8usize,
                )
            };
        }
    }
    // SAFETY: an empty set, initialised by sigemptyset before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

pub fn stop_forwarding_signals() {
    FORWARD_TO.store(0, std::sync::atomic::Ordering::Relaxed);
    for &sig in FORWARDED {
        // SAFETY: resetting a disposition to SIG_DFL involves no handler code.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}

/// Reaps every child until `main` exits; returns `main`'s status as a shell reports it.
pub fn reap_until(main: i32) -> i32 {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes only to `status`.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid == -1 {
            if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return 125;
        }
        if pid == main {
            return if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else if libc::WIFSIGNALED(status) {
                128 + libc::WTERMSIG(status)
            } else {
                125
            };
        }
    }
}

/// The resource names `set_limit` knows: Docker's, plus `as`.
pub const LIMIT_NAMES: &[&str] = &[
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

pub fn is_limit_name(name: &str) -> bool {
    LIMIT_NAMES.contains(&name)
}

/// setrlimit by Docker's resource name (`nofile`, `nproc`, `core`, …).
pub fn set_limit(name: &str, soft: u64, hard: u64) -> io::Result<()> {
    use rustix::process::Resource as R;
    let resource = match name {
        "core" => R::Core,
        "cpu" => R::Cpu,
        "data" => R::Data,
        "fsize" => R::Fsize,
        "locks" => R::Locks,
        "memlock" => R::Memlock,
        "msgqueue" => R::Msgqueue,
        "nice" => R::Nice,
        "nofile" => R::Nofile,
        "nproc" => R::Nproc,
        "rss" => R::Rss,
        "rtprio" => R::Rtprio,
        "rttime" => R::Rttime,
        "sigpending" => R::Sigpending,
        "stack" => R::Stack,
        "as" => R::As,
        _ => return Err(io::Error::other(format!("unknown resource {name}"))),
    };
    rustix::process::setrlimit(
        resource,
        rustix::process::Rlimit {
            current: Some(soft),
            maximum: Some(hard),
        },
    )?;
    Ok(())
}

/// Installs a seccomp filter (BPF instructions) for this thread and the programs it execs.
/// The caller holds CAP_SYS_ADMIN in its user namespace, so no_new_privs is not needed.
pub fn install_seccomp(program: &[libc::sock_filter]) -> io::Result<()> {
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points to `program`, which outlives the call, in the kernel's
    // `struct sock_filter` layout (libc's is #[repr(C)]); the kernel copies the program and
    // never writes through the pointer.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const libc::sock_fprog,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Reaps children that exit within `limit` (a FUSE daemon after its unmount), without waiting
/// longer than that for any.
pub fn reap_for(limit: std::time::Duration) {
    let start = std::time::Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes only to `status`.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid == -1 || start.elapsed() >= limit {
            return;
        }
        if pid == 0 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

/// The parent of the user namespace `fd` names (ioctl(2) NS_GET_PARENT).
pub fn parent_user_namespace(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::{AsRawFd, FromRawFd};
    // _IO(0xb7, 0x2), from linux/nsfs.h.
    const NS_GET_PARENT: libc::c_ulong = 0xb702;
    // SAFETY: this ioctl takes no argument and returns a new descriptor, owned from here on.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_PARENT as _) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `r` is a descriptor the kernel just opened for this process.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(r) })
}

/// A new network namespace with its loopback device up, made by a short-lived thread so that
/// the caller stays in its own (a network namespace is a property of each thread): the caller
/// starts the network helper from the host's network and joins the new one later.
pub fn new_network_namespace() -> io::Result<std::os::fd::OwnedFd> {
    std::thread::spawn(|| {
        // SAFETY: CLONE_NEWNET alone changes only this thread's network namespace; it shares
        // no other state with the process that the unshare could tear.
        unsafe { thread::unshare_unsafe(UnshareFlags::NEWNET) }.map_err(io::Error::from)?;
        loopback_up()?;
        rustix::fs::open(
            "/proc/thread-self/ns/net",
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(io::Error::from)
    })
    .join()
    .unwrap_or_else(|_| Err(io::Error::other("the network namespace's thread panicked")))
}

/// Brings up the loopback device of the current (new) network namespace, as Docker does for
/// `--network none`: containers still reach their own 127.0.0.1.
pub fn loopback_up() -> io::Result<()> {
    // SAFETY: a plain socket(2) call; the descriptor is owned and closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `ifr` is a zeroed ifreq whose name is set within its 16 bytes; both ioctls read
    // and write only that struct; `fd` is a valid socket closed right after.
    let result = unsafe {
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (dst, src) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        let r = if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut ifr) < 0 {
            Err(io::Error::last_os_error())
        } else {
            ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS, &ifr) < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(())
            }
        };
        libc::close(fd);
        r
    };
    result
}

/// Unmaps the file pages this process has touched and never changed (code, constants):
/// they stay in the page cache and come back on use. A long-lived monitor runs a small loop:
/// without this, what its start-up touched would stay counted in its resident memory.
pub fn drop_clean_file_pages() {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    let mut current: Option<(usize, usize)> = None;
    let mut changed = false;
    let drop = |range: Option<(usize, usize)>, changed: bool| {
        if let (Some((start, end)), false) = (range, changed) {
            // SAFETY: the range is a whole read-only file-backed mapping of this process
            // in which no page differs from the file (no anonymous copy of a page):
            // MADV_DONTNEED only drops page-table entries, and each page is read again from
            // the same file on its next access.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
            }
        }
    };
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
            drop(current.take(), changed);
            changed = false;
            let fields: Vec<&str> = line.split_whitespace().collect();
            // Only read-only mappings of a file (a path in the sixth field): nothing can write
            // to them between this reading and the madvise.
            let file_backed = fields.get(5).is_some_and(|p| p.starts_with('/'))
                && fields.get(1).is_some_and(|p| !p.contains('w'));
            if let (Ok(s), Ok(e), true) = (
                usize::from_str_radix(a, 16),
                usize::from_str_radix(b, 16),
                file_backed,
            ) {
                current = Some((s, e));
            }
            continue;
        }
        let value = |key: &str| {
            line.strip_prefix(key)
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
        };
        // A page this process changed is an anonymous copy (copy-on-write). "Dirty" says
        // nothing here: a binary written moments ago has dirty pages in the page cache.
        if value("Anonymous:").is_some_and(|v| v > 0) {
            changed = true;
        }
    }
    drop(current.take(), changed);
}
/// The start time of a live process (field 22 of /proc/PID/stat), 0 when there is none or it
/// has died and awaits its reaping (a zombie would still answer kill(pid, 0)).
pub fn process_start(pid: i32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The command name may hold spaces: count fields after its closing parenthesis.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0;
    };
    let mut fields = rest.split_whitespace();
    if matches!(fields.next(), Some("Z" | "X" | "x")) {
        return 0;
    }
    fields.nth(18).and_then(|v| v.parse().ok()).unwrap_or(0)
}

#[cfg(test)]
mod drop_tests {
    #[test]
    fn dropping_clean_file_pages_keeps_the_process_working() {
        let rss = || {
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            let line = status.lines().find(|l| l.starts_with("RssFile:")).unwrap();
            line.split_whitespace()
                .nth(1)
                .unwrap()
                .parse::<u64>()
                .unwrap()
        };
        let before = rss();
        super::drop_clean_file_pages();
        // Code and constants come back on use: the process goes on as before.
        let after = rss();
        assert!(after < before, "{after} kB not below {before} kB");
        assert_eq!(format!("{:?}", vec![1, 2]), "[1, 2]");
    }
}
