//! One container process: new namespaces, the root file system, and the exec of the workload.
//!
//! Runs in a `skiff` helper that is already root in the user's user namespace (see `userns`).
//! The helper unshares the mount, UTS, IPC, PID (and network) namespaces, forks the container's
//! PID 1, and waits for it. The child builds the root file system (overlay of the image's layers,
//! /proc, a minimal /dev, /sys, generated /etc files), pivots into it, masks what the container
//! must not see, drops capabilities and execs. Nothing here allocates between fork and exec in a
//! way that could deadlock: the helper has a single thread when it forks.
//!
//! Time budget of the path (busybox `true`, rootless, this machine, `--log-level debug`): helper
//! exec + id maps ~2.3 ms (newuidmap and newgidmap at once), unshare + overlay ~0.7 ms, the
//! kernel mounts ~0.6 ms, the rest up to exec ~0.7 ms, the workload and teardown of its
//! namespaces ~1.7 ms.

use std::ffi::{CString, OsStr};
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::mount::{self as mnt, MountFlags, MountPropagationFlags, UnmountFlags};
use serde::{Deserialize, Serialize};

/// Exit status when the command is found but cannot be executed (Docker's).
pub const EXIT_CANNOT_EXECUTE: i32 = 126;
/// Exit status when the command is not found (Docker's).
pub const EXIT_NOT_FOUND: i32 = 127;
/// Docker's PATH when the image sets none (and the monitor's when skiff was given none).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Exit status when the runtime itself fails.
pub const EXIT_RUNTIME: i32 = 125;

/// Everything the helper needs to start one container, written by the engine as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Spec {
    /// Image layers' directories, top layer first.
    pub lowers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    /// Where the root file system is assembled (an empty directory).
    pub merged: PathBuf,
    /// The copy driver's private root.
    #[serde(default)]
    pub copy: PathBuf,
    /// How the layers become the root file system.
    #[serde(default = "default_driver")]
    pub driver: super::rootfs::Driver,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub hostname: String,
    /// `uid[:gid]` or `name[:group]` as given; resolved against the image's /etc/passwd.
    pub user: String,
    /// New network namespace (with only a loopback device) instead of the host's.
    pub private_network: bool,
    /// Files bind-mounted over the image's: (path in the container, file on the host).
    pub etc_files: Vec<(String, PathBuf)>,
    /// `-v`, `--mount`, `--tmpfs`, in the order given.
    #[serde(default)]
    pub mounts: Vec<MountSpec>,
    /// `--read-only`: the root file system is mounted read-only (/tmp, /var/tmp, /run stay
    /// writable tmpfs, as Podman does).
    #[serde(default)]
    pub read_only_root: bool,
    /// Capability numbers the container keeps.
    pub capabilities: Vec<u32>,
    /// `--privileged`: nothing masked or made read-only.
    #[serde(default)]
    pub privileged: bool,
    /// `--security-opt no-new-privileges`.
    #[serde(default)]
    pub no_new_privileges: bool,
    /// `--init`: PID 1 is a minimal init that forwards signals and reaps orphans.
    #[serde(default)]
    pub init: bool,
    /// `--ulimit`: (resource name, soft, hard).
    #[serde(default)]
    pub ulimits: Vec<(String, u64, u64)>,
    /// Size of /dev/shm in bytes (`--shm-size`; Docker's default is 64 MiB).
    #[serde(default)]
    pub shm_size: Option<u64>,
    /// The container's own cgroup (created with its limits by the engine), if any.
    #[serde(default)]
    pub cgroup: Option<PathBuf>,
    /// `-t`: the descriptor (inherited from skiff) to send the terminal's master over.
    #[serde(default)]
    pub console_socket: Option<i32>,
    /// The terminal's first size (rows, columns): the attached skiff's, so that the workload
    /// sees it from its first instruction.
    #[serde(default)]
    pub console_size: Option<(u16, u16)>,
    /// The default seccomp filter (off for `--privileged` and `seccomp=unconfined`).
    #[serde(default)]
    pub seccomp: bool,
    /// `--security-opt seccomp=FILE`: the profile's compiled program, used instead of the
    /// default filter (see `seccomp_profile`).
    #[serde(default)]
    pub seccomp_profile: Option<Vec<u64>>,
    /// `--group-add`: more supplementary groups (names from the image's /etc/group, or ids).
    #[serde(default)]
    pub group_add: Vec<String>,
    /// `--userns=keep-id|auto`, `--uidmap`: the container's own user namespace, nested in the
    /// user's, with these maps.
    #[serde(default)]
    pub id_shift: Option<super::userns::IdShift>,
    /// `exec`: the process outlives the command that started it (as in Docker), so no
    /// parent-death signal.
    #[serde(default)]
    pub outlive_parent: bool,
    /// Where the helper writes the host pid of the container's PID 1 (for `exec`, `inspect`).
    #[serde(default)]
    pub pid_file: Option<PathBuf>,
    /// `--userns=keep-id`: the user's passwd and group lines, added to the container's files
    /// when its uid or gid is missing there.
    #[serde(default)]
    pub add_user: Option<(String, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum MountKind {
    Bind,
    Tmpfs,
}

/// One mount requested on the command line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MountSpec {
    pub kind: MountKind,
    /// The host path of a bind mount.
    pub source: Option<PathBuf>,
    /// Absolute path in the container.
    pub target: String,
    pub readonly: bool,
    /// tmpfs options (`size=…,mode=…`).
    pub options: String,
}

fn default_driver() -> super::rootfs::Driver {
    super::rootfs::Driver::Overlay
}

const MASKED: &[&str] = &[
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/interrupts",
    "/sys/firmware",
    "/sys/fs/selinux",
    "/sys/dev/block",
];

const READ_ONLY: &[&str] = &[
    "/proc/asound",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// In a fresh mount namespace: makes its mounts private and mounts the container's layers on
/// `mount_point`.
pub(super) fn mount_layers(spec: &Spec, mount_point: &Path) -> Result<(), String> {
    mnt::mount_change(
        "/",
        MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
    )
    .map_err(|e| format!("making mounts private: {e}"))?;
    // A FUSE daemon forks away from the process we start: as subreaper we reap it at the end
    // instead of leaving a zombie to the system's init.
    let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
    let layout = super::rootfs::Layout {
        lowers: spec.lowers.clone(),
        upper: spec.upper.clone(),
        work: spec.work.clone(),
        copy: spec.copy.clone(),
        shift: spec.id_shift.clone(),
    };
    super::rootfs::mount(&layout, mount_point, spec.driver)
        .map_err(|e| format!("mounting the image's layers ({}): {e}", spec.driver.name()))
}

/// The helper's part before any container process exists: its namespaces (those a nested
/// container does not create itself) and the root file system, mounted here so that a FUSE
/// daemon runs outside the container's PID namespace. Single-threaded callers only.
pub fn prepare(spec: &Spec) -> Result<(), String> {
    // A container with id maps of its own creates its other namespaces inside its user
    // namespace (see `enter_nested`), so that it owns them; here only the mount namespace.
    let nested = spec.id_shift.is_some();
    let flags = if nested {
        crate::sys::NamespaceFlags::NEWNS
    } else {
        container_namespaces(spec.private_network)
    };
    crate::sys::unshare(flags).map_err(|e| format!("creating the container's namespaces: {e}"))?;
    if spec.private_network && !nested {
        crate::sys::loopback_up()
            .map_err(|e| format!("bringing up the container's loopback device: {e}"))?;
    }
    mount_layers(spec, &spec.merged)?;
    tracing::debug!(
        "container: root file system mounted ({})",
        spec.driver.name()
    );
    Ok(())
}

/// Undoes `prepare` once no container process is left.
pub fn teardown(spec: &Spec) {
    super::rootfs::unmount(&spec.merged, spec.driver);
    crate::sys::reap_for(std::time::Duration::from_secs(1));
}

/// Where the container's standard streams go: descriptors of the helper (not close-on-exec
/// needed: they are moved to 0, 1, 2), or the helper's own where `None`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stdio {
    pub stdin: Option<i32>,
    pub stdout: Option<i32>,
    pub stderr: Option<i32>,
}

/// A container process that has been started.
pub struct Started {
    /// The helper's child: the container's PID 1, or its parent for a nested container.
    pub child: i32,
    /// The container's PID 1, as the host sees it.
    pub init: i32,
    report: std::os::unix::net::UnixStream,
}

impl Started {
    /// Waits until the workload runs (its exec closes the report socket) or has failed to:
    /// then returns the failure (exit code and message).
    pub fn failure(&mut self) -> Option<(i32, String)> {
        read_report(&mut self.report)
    }

    /// Starts the watcher that ends the container if this process (its monitor) dies: PID 1's
    /// parent-death signal alone is not enough, since the kernel clears it when the workload
    /// changes its ids (an entrypoint that switches user with gosu or su-exec, a setuid
    /// program). The watcher is a child of this process that holds a pidfd of PID 1 and waits
    /// on a pipe only this process writes to: when the pipe closes (this process died, or the
    /// container ended and [`Watcher`] was dropped), it kills PID 1, and with it the PID
    /// namespace. Call with a single thread, once the workload runs.
    pub fn watch(&self) -> Option<Watcher> {
        let pidfd = rustix::process::pidfd_open(
            rustix::process::Pid::from_raw(self.init)?,
            rustix::process::PidfdFlags::empty(),
        )
        .ok()?;
        let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).ok()?;
        match crate::sys::fork() {
            Ok(None) => {
                use std::os::fd::AsRawFd;
                crate::sys::close_fds_except(&[read.as_raw_fd(), pidfd.as_raw_fd()]);
                let _ = rustix::thread::set_name(c"skiff-watch");
                let mut byte = [0u8; 1];
                // Nothing is ever written: this returns at end of file, or fails.
                while let Err(rustix::io::Errno::INTR) = rustix::io::read(&read, &mut byte) {}
                let _ = rustix::process::pidfd_send_signal(&pidfd, rustix::process::Signal::KILL);
                crate::sys::exit_now(0)
            }
            Ok(Some(pid)) => Some(Watcher {
                pid,
                pipe: Some(write),
            }),
            Err(_) => None,
        }
    }
}

/// The monitor's side of a started container's watcher (see [`Started::watch`]). Dropped once
/// the container has ended: the watcher finds PID 1 gone and exits, and is reaped here.
pub struct Watcher {
    pid: i32,
    pipe: Option<rustix::fd::OwnedFd>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        drop(self.pipe.take());
        crate::sys::wait_for(self.pid);
    }
}

/// The starter's end of a report socket: closed by the started process's exec (success), or
/// carrying `CODE:MESSAGE` when it failed before.
pub(super) fn read_report(report: &mut std::os::unix::net::UnixStream) -> Option<(i32, String)> {
    let mut text = String::new();
    let _ = report.read_to_string(&mut text);
    let (code, message) = text.split_once(':')?;
    Some((code.parse().unwrap_or(EXIT_RUNTIME), message.to_string()))
}

/// The started process's end: reports `failure` and exits with its code.
pub(super) fn report_and_exit(mut report: std::os::unix::net::UnixStream, failure: Failure) -> ! {
    let (code, message) = failure;
    let _ = write!(report, "{code}:{message}");
    crate::sys::exit_now(code)
}

/// Starts the container's PID 1 in a new PID namespace (after `prepare`; may be called again
/// for a restart once the previous one has exited).
pub fn spawn(spec: &Spec, stdio: &Stdio) -> Result<Started, String> {
    let nested = spec.id_shift.is_some();
    let pair = || std::os::unix::net::UnixStream::pair().map_err(|e| e.to_string());
    let (report_rx, report_tx) = pair()?;
    let (mut maps_rx, maps_tx) = pair()?;
    // Nested, the child creates its PID namespace itself, inside its user namespace.
    let forked = if nested {
        crate::sys::fork()
    } else {
        crate::sys::fork_in_new_pid_namespace()
    };
    match forked {
        Err(e) => Err(format!("fork: {e}")),
        Ok(None) => {
            // The container's PID 1 (or, nested, its parent). Only returns on failure.
            drop(report_rx);
            drop(maps_rx);
            let report = std::os::fd::AsRawFd::as_raw_fd(&report_tx);
            // None of the monitor's environment in this process's memory (before `start`
            // makes it not dumpable: /proc/self/mem is root's then).
            let started = crate::sys::wipe_environment()
                .map_err(|e| fail("clearing the environment", e))
                .and_then(|()| redirect(stdio))
                .and_then(|()| {
                    if nested {
                        enter_nested(spec, maps_tx).and_then(|()| start(spec, report))
                    } else {
                        drop(maps_tx);
                        start(spec, report)
                    }
                });
            match started {
                Ok(never) => match never {},
                Err(failure) => report_and_exit(report_tx, failure),
            }
        }
        Ok(Some(child)) => {
            drop(report_tx);
            drop(maps_tx);
            let mut init = child;
            if let Some(shift) = &spec.id_shift {
                // The child has unshared its user namespace: give it its maps; it answers
                // with the pid of the PID 1 it forks.
                let mut byte = [0u8; 1];
                let ready = maps_rx.read(&mut byte).unwrap_or(0) == 1;
                let written = ready && shift.write_maps(child).is_ok();
                let _ = maps_rx.write_all(if written { b"M" } else { b"E" });
                let mut pid = [0u8; 4];
                if written && maps_rx.read_exact(&mut pid).is_ok() {
                    init = i32::from_ne_bytes(pid);
                }
            }
            Ok(Started {
                child,
                init,
                report: report_rx,
            })
        }
    }
}

/// Moves the descriptors `stdio` names onto 0, 1 and 2 (in the forked child).
fn redirect(stdio: &Stdio) -> Result<(), Failure> {
    for (fd, target) in [(stdio.stdin, 0), (stdio.stdout, 1), (stdio.stderr, 2)] {
        if let Some(fd) = fd {
            crate::sys::dup_onto(fd, target)
                .map_err(|e| fail("redirecting the standard streams", e))?;
        }
    }
    Ok(())
}

pub(super) enum Never {}

/// Appends `line` (`name:x:ID:…`) to the container's `file` unless an entry has its id.
fn add_line(root: &rustix::fd::OwnedFd, file: &str, line: &str) -> Result<(), Failure> {
    let path = in_root(root, file, Kind::File)?;
    let id = line.split(':').nth(2).unwrap_or_default();
    let text = fs::read_to_string(&path).unwrap_or_default();
    if text.lines().any(|l| l.split(':').nth(2) == Some(id)) {
        return Ok(());
    }
    let sep = if text.is_empty() || text.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .and_then(|mut f| writeln!(f, "{sep}{line}"))
        .map_err(|e| fail(&format!("adding the user to {file}"), e))
}

fn container_namespaces(private_network: bool) -> crate::sys::NamespaceFlags {
    let mut flags = crate::sys::NamespaceFlags::NEWNS
        | crate::sys::NamespaceFlags::NEWUTS
        | crate::sys::NamespaceFlags::NEWIPC
        | crate::sys::NamespaceFlags::NEWCGROUP;
    if private_network {
        flags |= crate::sys::NamespaceFlags::NEWNET;
    }
    flags
}

/// A container with id maps of its own: this process unshares its user namespace, waits for
/// the helper to write the maps, creates the other namespaces (owned by the new user namespace,
/// so that /proc and /sys can be mounted in them), and forks the container's PID 1, staying
/// as its parent until it exits. Returns in that PID 1.
fn enter_nested(spec: &Spec, mut maps: std::os::unix::net::UnixStream) -> Result<(), Failure> {
    let helper = rustix::process::getppid();
    crate::sys::unshare_user_namespace().map_err(|e| fail("creating the user namespace", e))?;
    maps.write_all(b"U")
        .map_err(|e| fail("asking for the id maps", e))?;
    let mut byte = [0u8; 1];
    if maps.read(&mut byte).unwrap_or(0) != 1 || byte[0] != b'M' {
        return Err((
            EXIT_RUNTIME,
            "writing the container's id maps failed: check --uidmap/--gidmap".into(),
        ));
    }
    if let Some(shift) = &spec.id_shift {
        // Until now this process is whoever the user's own id is in the new namespace (no one,
        // with `auto`): become root there, or the lowest id mapped when root isn't.
        let first =
            |map: &[super::userns::IdMapping]| map.iter().map(|m| m.container).min().unwrap_or(0);
        crate::sys::take_ids(first(&shift.uid_map), first(&shift.gid_map))
            .map_err(|e| fail("taking an id in the user namespace", e))?;
        // It stays as PID 1's parent in the container's user namespace: out of its reach.
        crate::sys::set_not_dumpable().map_err(|e| fail("prctl(PR_SET_DUMPABLE)", e))?;
    }
    crate::sys::unshare(
        container_namespaces(spec.private_network) | crate::sys::NamespaceFlags::NEWPID,
    )
    .map_err(|e| fail("creating the container's namespaces", e))?;
    if spec.private_network {
        crate::sys::loopback_up().map_err(|e| fail("bringing up the loopback device", e))?;
    }
    match crate::sys::fork() {
        Err(e) => Err(fail("fork", e)),
        Ok(None) => {
            drop(maps);
            Ok(())
        }
        Ok(Some(child)) => {
            // The container's PID 1 dies with this process (its parent-death signal), and this
            // one with the helper that started it: a killed monitor leaves nothing running.
            // (Set after the change of ids above, which clears it.)
            let _ = rustix::process::set_parent_process_death_signal(Some(
                rustix::process::Signal::KILL,
            ));
            if rustix::process::getppid() != helper {
                // The helper died before the signal was set: nothing would end PID 1.
                crate::sys::kill_now(child);
                crate::sys::exit_now(EXIT_RUNTIME);
            }
            let _ = maps.write_all(&child.to_ne_bytes());
            drop(maps);
            // Only PID 1 reports on its start: the helper reads the report socket to its end.
            crate::sys::close_fds_above_stdio();
            crate::sys::forward_signals(child, true);
            crate::sys::exit_now(crate::sys::wait_for(child))
        }
    }
}

pub(super) type Failure = (i32, String);

pub(super) fn fail(what: &str, e: impl std::fmt::Display) -> Failure {
    (EXIT_RUNTIME, format!("{what}: {e}"))
}

/// Builds the root file system, enters it and execs the workload. `report` is the descriptor
/// that tells the starter how the start went (close-on-exec); every other one is closed.
fn start(spec: &Spec, report: i32) -> Result<Never, Failure> {
    // Not dumpable from here on (not before: a nested container's parent writes its id maps
    // first): nothing of the container may read this process's memory or open its
    // executable. The workload's exec makes it dumpable again, for itself alone.
    crate::sys::set_not_dumpable().map_err(|e| fail("prctl(PR_SET_DUMPABLE)", e))?;
    // A mount namespace of its own (a copy of the helper's, root file system included), so
    // that pivot_root moves only the container.
    crate::sys::unshare(crate::sys::NamespaceFlags::NEWNS)
        .map_err(|e| fail("creating the container's mount namespace", e))?;
    if let Some(dir) = &spec.cgroup {
        super::cgroup::join(dir).map_err(|e| fail("joining the container's cgroup", e))?;
    }
    tracing::debug!("container: in its namespaces");
    let root = &spec.merged;
    if spec.id_shift.is_some() {
        // Mounts that came from the helper's namespace are locked in this less privileged
        // one, and pivot_root refuses a locked root: a bind of it made here is not locked.
        mnt::mount_bind_recursive(root, root)
            .map_err(|e| fail("binding the root file system", e))?;
    }
    mount_kernel_files(root, spec.private_network, spec.shm_size)?;
    tracing::debug!("container: /proc, /dev, /sys mounted");
    let root_fd = rustix::fs::open(
        root,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| fail("opening the root file system", e))?;
    for (inside, host) in &spec.etc_files {
        let target = in_root(&root_fd, inside, Kind::File)?;
        bind(host, &target)?;
    }
    if let Some((passwd, group)) = &spec.add_user {
        add_line(&root_fd, "/etc/passwd", passwd)?;
        add_line(&root_fd, "/etc/group", group)?;
    }
    for m in &spec.mounts {
        mount_requested(&root_fd, m)?;
    }
    if spec.read_only_root {
        for dir in ["/tmp", "/var/tmp", "/run"] {
            if !spec.mounts.iter().any(|m| m.target == dir) {
                let target = in_root(&root_fd, dir, Kind::Dir)?;
                mnt::mount(
                    "tmpfs",
                    &target,
                    "tmpfs",
                    MountFlags::NOSUID | MountFlags::NODEV,
                    Some(c"mode=1777"),
                )
                .map_err(|e| fail(&format!("mounting a tmpfs on {dir}"), e))?;
            }
        }
        mnt::mount_remount(root, MountFlags::BIND | MountFlags::RDONLY, "")
            .map_err(|e| fail("making the root file system read-only", e))?;
    }
    rustix::system::sethostname(spec.hostname.as_bytes())
        .map_err(|e| fail("setting the hostname", e))?;
    // Docker creates a missing working directory.
    in_root(&root_fd, &spec.cwd, Kind::Dir)
        .map_err(|(c, m)| (c, format!("creating the working directory: {m}")))?;
    drop(root_fd);
    enter_root(root)?;
    if !spec.privileged {
        for path in MASKED {
            mask(path);
        }
        for path in READ_ONLY {
            let _ = read_only(Path::new(path));
        }
    }
    run_workload(spec, report)
}

/// Inside the container (its root, its namespaces): the terminal, the working directory, the
/// user, the seccomp filter and capabilities, then exec. Shared by PID 1 and `exec`. `report`
/// is the one descriptor above 2 kept open until the exec (it is close-on-exec).
pub(super) fn run_workload(spec: &Spec, report: i32) -> Result<Never, Failure> {
    if let Some(fd) = spec.console_socket {
        // SAFETY: skiff passed this descriptor to the helper for this purpose; it stays open
        // (close-on-exec) for as long as this borrow is used.
        let socket = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        super::tty::make_console(socket, spec.console_size)
            .map_err(|e| fail("creating the terminal", e))?;
    }
    // Before the working directory is looked up: a descriptor left open here (of a mount
    // point, of the store, of a directory outside the root) is a way out through
    // /proc/self/fd (runc's CVE-2024-21626).
    crate::sys::close_fds_except(&[report]);
    enter_working_directory(&spec.cwd)?;
    let (uid, gid, mut groups) = resolve_user(&spec.user)?;
    for g in &spec.group_add {
        let id = resolve_group(g)?;
        if id != gid && !groups.contains(&id) {
            groups.push(id);
        }
    }
    let program = find_program(&spec.args, &spec.env)?;
    if spec.seccomp {
        // Installed while we still hold CAP_SYS_ADMIN (no no_new_privs needed for that).
        let program = match &spec.seccomp_profile {
            Some(packed) => super::seccomp_profile::unpack(packed),
            None => super::seccomp_profile::unpack(
                &super::seccomp::default_program(&spec.capabilities)
                    .map_err(|e| fail("building the seccomp filter", e))?,
            ),
        };
        crate::sys::install_seccomp(&program)
            .map_err(|e| fail("installing the seccomp filter", e))?;
    }
    drop_privileges(&spec.capabilities, uid, gid, &groups)?;
    // A change of credentials makes the process dumpable again where fs.suid_dumpable says so.
    crate::sys::set_not_dumpable().map_err(|e| fail("prctl(PR_SET_DUMPABLE)", e))?;
    if spec.no_new_privileges {
        rustix::thread::set_no_new_privs(true).map_err(|e| fail("no-new-privileges", e))?;
    }
    for (name, soft, hard) in &spec.ulimits {
        crate::sys::set_limit(name, *soft, *hard)
            .map_err(|e| fail(&format!("setting the {name} limit"), e))?;
    }
    if spec.init {
        become_init(spec.outlive_parent)?;
    }
    crate::sys::close_fds_on_exec().map_err(|e| fail("closing inherited files", e))?;
    // If the helper dies (skiff killed, `rm -f`), PID 1 dies with it, and so does the whole
    // PID namespace. Set last: a change of credentials clears it.
    if !spec.outlive_parent {
        rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
            .map_err(|e| fail("prctl(PR_SET_PDEATHSIG)", e))?;
    }
    tracing::debug!("container: exec {program:?}");
    let err = exec(&program, &spec.args, &spec.env);
    let code = match err.raw_os_error() {
        Some(libc::ENOENT) => EXIT_NOT_FOUND,
        _ => EXIT_CANNOT_EXECUTE,
    };
    Err((
        code,
        format!("exec: {:?}: {}", spec.args[0], describe(&err)),
    ))
}

/// Enters `cwd`, resolved inside the process's root (after pivot_root, or after joining the
/// container's mount namespace): `..` stops at the root, symlinks are followed as if the root
/// were `/`, and /proc's magic links (`/proc/self/fd/N`, `/proc/self/cwd`) are refused, since
/// they may name a directory outside. A last check refuses a working directory that the kernel
/// can't show as a path beneath the root.
fn enter_working_directory(cwd: &str) -> Result<(), Failure> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let outside = || {
        (
            EXIT_RUNTIME,
            format!(
                "the working directory {cwd} leads outside the container's root (through a \
                 /proc link, or a loop of symbolic links): give a directory inside the container"
            ),
        )
    };
    let root = rustix::fs::open(
        "/",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| fail("opening the container's root", e))?;
    let dir = crate::sys::openat2(
        &root,
        cwd,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(|e| match e {
        // A magic link on the way (or a loop of symlinks, which gives the same error).
        rustix::io::Errno::LOOP => outside(),
        e => fail(&format!("entering the working directory {cwd}"), e),
    })?;
    rustix::process::fchdir(&dir)
        .map_err(|e| fail(&format!("entering the working directory {cwd}"), e))?;
    // getcwd(3) fails (ENOENT) for a directory that is not reachable from the root.
    match std::env::current_dir() {
        Ok(path) if path.is_absolute() => Ok(()),
        _ => Err(outside()),
    }
}

/// `--init`: forks the workload and stays behind as PID 1, passing signals on and reaping
/// every orphan, until the workload exits; then exits with its status. Returns in the workload.
fn become_init(outlive_parent: bool) -> Result<(), Failure> {
    // Not dumpable since `start` (and again after the change of credentials): no process of
    // the container may open /proc/1/exe (skiff's binary on the host) or its memory, the
    // CVE-2019-5736 path. The workload's exec makes it dumpable again for itself.
    //
    // init ends with its monitor, and the kernel then ends every process of its PID
    // namespace. Set after the change of credentials, which clears it.
    if !outlive_parent {
        rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
            .map_err(|e| fail("prctl(PR_SET_PDEATHSIG)", e))?;
    }
    // Named before the fork: named after, the workload could list the processes before init
    // has its name (the workload's exec gives it its own).
    let _ = rustix::thread::set_name(c"skiff-init");
    match crate::sys::fork().map_err(|e| fail("fork", e))? {
        None => Ok(()),
        Some(workload) => {
            // Only the workload reports exec failures; holding the socket would keep the
            // helper waiting for a report until init exits. Nothing else of skiff's stays open
            // in init either (the monitor's status socket, the console socket).
            crate::sys::close_fds_above_stdio();
            crate::sys::forward_signals(workload, true);
            crate::sys::exit_now(crate::sys::reap_until(workload))
        }
    }
}

fn describe(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EACCES) => "permission denied".into(),
        Some(libc::ENOENT) => "no such file or directory".into(),
        Some(libc::ENOEXEC) => "exec format error".into(),
        _ => e.to_string(),
    }
}

fn mount_kernel_files(
    root: &Path,
    private_network: bool,
    shm_size: Option<u64>,
) -> Result<(), Failure> {
    let nosuid_nodev_noexec = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    let proc_dir = ensure_dir(root, "proc")?;
    mnt::mount("proc", &proc_dir, "proc", nosuid_nodev_noexec, None)
        .map_err(|e| fail("mounting /proc", e))?;

    let dev = ensure_dir(root, "dev")?;
    let mode = c"mode=755,size=65536k";
    mnt::mount(
        "tmpfs",
        &dev,
        "tmpfs",
        MountFlags::NOSUID | MountFlags::STRICTATIME,
        Some(mode),
    )
    .map_err(|e| fail("mounting /dev", e))?;
    for name in ["null", "zero", "full", "random", "urandom", "tty"] {
        let target = dev.join(name);
        // /dev is our own fresh tmpfs: plain paths are safe here.
        fs::File::create(&target).map_err(|e| fail(&format!("creating /dev/{name}"), e))?;
        bind(&Path::new("/dev").join(name), &target)?;
    }
    let pts = ensure_dir(&dev, "pts")?;
    mnt::mount(
        "devpts",
        &pts,
        "devpts",
        MountFlags::NOSUID | MountFlags::NOEXEC,
        Some(c"newinstance,ptmxmode=0666,mode=0620"),
    )
    .map_err(|e| fail("mounting /dev/pts", e))?;
    let links = [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("core", "/proc/kcore"),
    ];
    for (name, target) in links {
        std::os::unix::fs::symlink(target, dev.join(name))
            .map_err(|e| fail(&format!("creating /dev/{name}"), e))?;
    }
    let shm = ensure_dir(&dev, "shm")?;
    let shm_options = format!("mode=1777,size={}", shm_size.unwrap_or(64 << 20));
    let shm_options = CString::new(shm_options).map_err(|e| fail("shm options", e))?;
    mnt::mount(
        "shm",
        &shm,
        "tmpfs",
        nosuid_nodev_noexec,
        Some(shm_options.as_c_str()),
    )
    .map_err(|e| fail("mounting /dev/shm", e))?;
    let mqueue = ensure_dir(&dev, "mqueue")?;
    // A message-queue file system needs the IPC namespace we own; older kernels refuse it.
    let _ = mnt::mount("mqueue", &mqueue, "mqueue", nosuid_nodev_noexec, None);

    let sys = ensure_dir(root, "sys")?;
    // A fresh sysfs shows the container's own network namespace; with the host's network (or
    // where the kernel refuses) the host's /sys is bound read-only instead.
    let fresh = private_network
        && mnt::mount(
            "sysfs",
            &sys,
            "sysfs",
            nosuid_nodev_noexec | MountFlags::RDONLY,
            None,
        )
        .is_ok();
    if !fresh {
        mnt::mount_bind_recursive("/sys", &sys).map_err(|e| fail("binding /sys", e))?;
        read_only(&sys).map_err(|e| fail("making /sys read-only", e))?;
    }
    Ok(())
}

fn ensure_dir(parent: &Path, name: &str) -> Result<PathBuf, Failure> {
    let path = parent.join(name);
    match fs::symlink_metadata(&path) {
        Ok(m) if m.is_dir() => Ok(path),
        Ok(_) => Err(fail(
            &format!("preparing {}", path.display()),
            "not a directory",
        )),
        Err(_) => {
            fs::DirBuilder::new()
                .mode(0o755)
                .create(&path)
                .map_err(|e| fail(&format!("creating {}", path.display()), e))?;
            Ok(path)
        }
    }
}

/// Binds `source` (and what is mounted beneath it) onto `target`.
fn bind(source: &Path, target: &Path) -> Result<(), Failure> {
    mnt::mount_bind_recursive(source, target)
        .map_err(|e| fail(&format!("binding {}", source.display()), e))
}

pub(super) fn mount_requested(root_fd: &rustix::fd::OwnedFd, m: &MountSpec) -> Result<(), Failure> {
    match m.kind {
        MountKind::Bind => {
            let source = m
                .source
                .as_ref()
                .ok_or_else(|| fail("bind mount", "no source"))?;
            let is_dir = fs::metadata(source)
                .map_err(|e| fail(&format!("bind source {}", source.display()), e))?
                .is_dir();
            let kind = if is_dir { Kind::Dir } else { Kind::File };
            let target = in_root(root_fd, &m.target, kind)?;
            bind(source, &target)?;
            if m.readonly {
                // The fd named the directory under the mount; resolve again to reach the mount.
                let mounted = in_root(root_fd, &m.target, kind)?;
                read_only(&mounted)
                    .map_err(|e| fail(&format!("making {} read-only", m.target), e))?;
            }
            Ok(())
        }
        MountKind::Tmpfs => {
            let target = in_root(root_fd, &m.target, Kind::Dir)?;
            let options = if m.options.is_empty() {
                "mode=1777".to_string()
            } else {
                m.options.clone()
            };
            let options = CString::new(options).map_err(|e| fail("tmpfs options", e))?;
            let mut flags = MountFlags::NOSUID | MountFlags::NODEV;
            if m.readonly {
                flags |= MountFlags::RDONLY;
            }
            mnt::mount("tmpfs", &target, "tmpfs", flags, Some(options.as_c_str()))
                .map_err(|e| fail(&format!("mounting a tmpfs on {}", m.target), e))
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
}

/// A mount point at `path` inside the root file system, created if missing (directories
/// 0755, files empty), with every symlink on the way resolved as if the root were "/" (so an
/// image's `/etc -> /host/path` cannot send a mount or a new file out of the container, and a
/// link to a missing path, such as a dangling /etc/resolv.conf, gets its target created).
/// Returns a `/proc/self/fd/N` path that names it for mount(2), and keeps the fd open (it is
/// close-on-exec).
fn in_root(root: &rustix::fd::OwnedFd, path: &str, kind: Kind) -> Result<PathBuf, Failure> {
    use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
    let failed =
        |what: &str, e: rustix::io::Errno| fail(&format!("{what} {path} in the container"), e);
    // The path still to walk, and the part already resolved (no symlinks in it).
    let mut todo: Vec<String> = Vec::new();
    push_components(&mut todo, path);
    let mut done: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(name) = todo.pop() {
        if name == ".." {
            done.pop();
            continue;
        }
        let here = done.join("/");
        let parent = open_resolved(root, &here).map_err(|e| failed("resolving", e))?;
        let last = todo.is_empty();
        match rustix::fs::statat(&parent, name.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                links += 1;
                if links > 40 {
                    return Err(fail(path, "too many levels of symbolic links"));
                }
                let target = rustix::fs::readlinkat(&parent, name.as_str(), Vec::new())
                    .map_err(|e| failed("reading a link on the way to", e))?;
                let target = target.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    done.clear();
                }
                push_components(&mut todo, &target);
            }
            Ok(_) => done.push(name),
            Err(rustix::io::Errno::NOENT) => {
                let made = if last && kind == Kind::File {
                    rustix::fs::openat(
                        &parent,
                        name.as_str(),
                        OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC,
                        Mode::from_raw_mode(0o644),
                    )
                    .map(drop)
                } else {
                    rustix::fs::mkdirat(&parent, name.as_str(), Mode::from_raw_mode(0o755))
                };
                made.map_err(|e| failed("creating", e))?;
                done.push(name);
            }
            Err(e) => return Err(failed("resolving", e)),
        }
    }
    let resolved = if done.is_empty() {
        ".".to_string()
    } else {
        done.join("/")
    };
    let fd = crate::sys::openat2(
        root,
        resolved.as_str(),
        OFlags::PATH | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(|e| failed("opening", e))?;
    let raw = std::os::fd::IntoRawFd::into_raw_fd(fd);
    Ok(PathBuf::from(format!("/proc/self/fd/{raw}")))
}

/// Pushes a path's components on a stack so that they pop in order.
fn push_components(stack: &mut Vec<String>, path: &str) {
    for part in path.split('/').filter(|p| !p.is_empty() && *p != ".").rev() {
        stack.push(part.to_string());
    }
}

/// Opens a symlink-free path inside the root as a directory.
fn open_resolved(
    root: &rustix::fd::OwnedFd,
    rel: &str,
) -> Result<rustix::fd::OwnedFd, rustix::io::Errno> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    crate::sys::openat2(
        root,
        if rel.is_empty() { "." } else { rel },
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    )
}

fn read_only(path: &Path) -> io::Result<()> {
    let flags = MountFlags::BIND | MountFlags::RDONLY | locked_flags(path);
    if mnt::mount_remount(path, flags, "").is_ok() {
        return Ok(());
    }
    // Not a mount point yet: binding the path to itself makes it one. (Not done first: a
    // mount with submounts from outside may not be bound on its own in a user namespace.)
    mnt::mount_bind(path, path)?;
    mnt::mount_remount(path, flags, "")?;
    Ok(())
}

/// The flags a remount must keep: inside a user namespace the kernel refuses to clear the
/// nosuid, nodev, noexec and atime flags of a mount that came from outside.
fn locked_flags(path: &Path) -> MountFlags {
    use rustix::fs::StatVfsMountFlags as St;
    let Ok(st) = rustix::fs::statvfs(path) else {
        return MountFlags::NOSUID | MountFlags::NODEV;
    };
    let pairs = [
        (St::NOSUID, MountFlags::NOSUID),
        (St::NODEV, MountFlags::NODEV),
        (St::NOEXEC, MountFlags::NOEXEC),
        (St::NOATIME, MountFlags::NOATIME),
        (St::NODIRATIME, MountFlags::NODIRATIME),
        (St::RELATIME, MountFlags::RELATIME),
    ];
    pairs
        .iter()
        .filter(|(st_flag, _)| st.f_flag.contains(*st_flag))
        .fold(MountFlags::NOSUID | MountFlags::NODEV, |acc, (_, m)| {
            acc | *m
        })
}

/// Hides a path: /dev/null over a file, an empty read-only tmpfs over a directory.
fn mask(path: &str) {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            let _ = mnt::mount("tmpfs", path, "tmpfs", MountFlags::RDONLY, None);
        }
        Ok(_) => {
            let _ = mnt::mount_bind("/dev/null", path);
        }
        Err(_) => {}
    }
}

/// pivot_root into `root` and detach the old root, so no path leads back to the host.
fn enter_root(root: &Path) -> Result<(), Failure> {
    std::env::set_current_dir(root).map_err(|e| fail("entering the root file system", e))?;
    rustix::process::pivot_root(".", ".").map_err(|e| fail("pivot_root", e))?;
    mnt::unmount(".", UnmountFlags::DETACH).map_err(|e| fail("detaching the old root", e))?;
    std::env::set_current_dir("/").map_err(|e| fail("entering /", e))
}

/// Resolves `user[:group]` (names or numbers) against the container's /etc/passwd and
/// /etc/group, as Docker does. Returns uid, gid and supplementary groups.
fn resolve_user(spec: &str) -> Result<(u32, u32, Vec<u32>), Failure> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = if user.is_empty() { "0" } else { user };
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let groups_file = fs::read_to_string("/etc/group").unwrap_or_default();
    let entry = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 4 && (f[0] == user || f[2] == user));
    let (uid, mut gid, name) = match (&entry, user.parse::<u32>()) {
        (Some(f), _) => (
            f[2].parse().unwrap_or(0),
            f[3].parse().unwrap_or(0),
            Some(f[0].to_string()),
        ),
        (None, Ok(n)) => (n, 0, None),
        (None, Err(_)) => {
            return Err((
                EXIT_RUNTIME,
                format!("unable to find user {user}: no matching entries in passwd file"),
            ))
        }
    };
    if let Some(group) = group {
        let found = groups_file
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() >= 3 && (f[0] == group || f[2] == group));
        gid = match (found, group.parse::<u32>()) {
            (Some(f), _) => f[2].parse().unwrap_or(0),
            (None, Ok(n)) => n,
            (None, Err(_)) => {
                return Err((
                    EXIT_RUNTIME,
                    format!("unable to find group {group}: no matching entries in group file"),
                ))
            }
        };
    }
    let mut extra = Vec::new();
    if let Some(name) = name {
        for f in groups_file
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
        {
            if f.len() >= 4 && f[3].split(',').any(|m| m == name) {
                if let Ok(g) = f[2].parse::<u32>() {
                    if g != gid && !extra.contains(&g) {
                        extra.push(g);
                    }
                }
            }
        }
    }
    Ok((uid, gid, extra))
}

/// A group name from the container's /etc/group, or a number.
fn resolve_group(group: &str) -> Result<u32, Failure> {
    if let Ok(n) = group.parse::<u32>() {
        return Ok(n);
    }
    fs::read_to_string("/etc/group")
        .unwrap_or_default()
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 3 && f[0] == group)
        .and_then(|f| f[2].parse().ok())
        .ok_or_else(|| {
            (
                EXIT_RUNTIME,
                format!("unable to find group {group}: no matching entries in group file"),
            )
        })
}

/// Finds the program as execvp would, with the container's PATH (Docker's default when unset).
fn find_program(args: &[String], env: &[String]) -> Result<PathBuf, Failure> {
    let Some(cmd) = args.first() else {
        return Err((EXIT_RUNTIME, "no command specified".into()));
    };
    if cmd.contains('/') {
        return Ok(PathBuf::from(cmd));
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let candidate = Path::new(dir).join(cmd);
        if let Ok(m) = fs::metadata(&candidate) {
            if m.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err((
        EXIT_NOT_FOUND,
        format!("exec: {cmd:?}: executable file not found in $PATH"),
    ))
}

fn drop_privileges(caps: &[u32], uid: u32, gid: u32, groups: &[u32]) -> Result<(), Failure> {
    crate::sys::limit_capabilities(caps, uid == 0).map_err(|e| fail("dropping capabilities", e))?;
    crate::sys::set_ids(uid, gid, groups).map_err(|e| {
        fail(
            &format!("switching to uid {uid} gid {gid}"),
            format!("{e} (is the id mapped? a user without a subuid range only has uid 0)"),
        )
    })?;
    Ok(())
}

fn exec(program: &Path, args: &[String], env: &[String]) -> io::Error {
    let c = |s: &[u8]| CString::new(s).unwrap_or_default();
    let program = c(program.as_os_str().as_bytes());
    let args: Vec<CString> = args.iter().map(|a| c(a.as_bytes())).collect();
    let env: Vec<CString> = env.iter().map(|e| c(e.as_bytes())).collect();
    crate::sys::default_signals();
    crate::sys::execve(&program, &args, &env)
}

/// The directory of files generated per container (/etc/hosts, /etc/hostname, resolv.conf).
pub fn write_etc_files(
    dir: &Path,
    hostname: &str,
    host_network: bool,
) -> io::Result<Vec<(String, PathBuf)>> {
    let hosts = if host_network {
        fs::read_to_string("/etc/hosts").unwrap_or_default()
    } else {
        format!(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n"
        )
    };
    let resolv = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let files = [
        ("/etc/hosts", hosts),
        ("/etc/hostname", format!("{hostname}\n")),
        ("/etc/resolv.conf", resolv),
    ];
    let mut out = Vec::new();
    for (inside, text) in files {
        let host = dir.join(Path::new(inside).file_name().unwrap_or(OsStr::new("file")));
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&host)?;
        f.write_all(text.as_bytes())?;
        out.push((inside.to_string(), host));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_resolved_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let outside = dir.path().join("outside");
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::create_dir(&outside).unwrap();
        // An image's absolute and climbing symlinks, aimed at the host.
        std::os::unix::fs::symlink(&outside, root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../outside", root.join("etc/rel")).unwrap();
        // A dangling link, as some images ship /etc/resolv.conf.
        std::os::unix::fs::symlink("../run/stub/resolv.conf", root.join("etc/resolv.conf"))
            .unwrap();
        let root_fd = rustix::fs::open(
            &root,
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY,
            rustix::fs::Mode::empty(),
        )
        .unwrap();
        for (path, kind) in [
            ("/abs/inner", Kind::Dir),
            ("/etc/rel/file", Kind::File),
            ("/new/dir", Kind::Dir),
            ("/etc/resolv.conf", Kind::File),
            ("/", Kind::Dir),
        ] {
            let target = in_root(&root_fd, path, kind).unwrap();
            // What the /proc/self/fd link names must be under the root.
            let real = fs::read_link(&target).unwrap();
            assert!(
                real.starts_with(&root),
                "{path} resolved to {}",
                real.display()
            );
        }
        assert_eq!(
            fs::read_dir(&outside).unwrap().count(),
            0,
            "nothing made on the host"
        );
        assert!(root
            .join(outside.strip_prefix("/").unwrap())
            .join("inner")
            .is_dir());
        assert!(
            root.join("run/stub/resolv.conf").is_file(),
            "the dangling link's target made"
        );
        // "../../outside" from /etc climbs no higher than the root.
        assert!(root.join("outside/file").is_file());
    }

    #[test]
    fn users_and_groups_resolve_like_docker() {
        // Without a root to read, numbers pass through and names fail clearly.
        assert_eq!(
            resolve_user("123:456").map(|(u, g, _)| (u, g)),
            Ok((123, 456))
        );
        let err = resolve_user("nosuchuser-for-this-test").unwrap_err();
        assert!(err.1.contains("unable to find user"), "{err:?}");
        assert_eq!(resolve_group("44"), Ok(44));
    }
}
