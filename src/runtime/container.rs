//! One container process: its namespaces, the root file system, and the exec of the workload.
//!
//! Runs in a `skiff` helper that is already root in the user's user namespace (see `userns`).
//! The helper creates, joins or shares the UTS, IPC and network namespaces, makes a mount one,
//! mounts the image's layers, forks the container's PID 1 into its PID namespace, and waits for
//! it. The child takes a mount namespace of its own, builds the root file system (/proc, a
//! minimal /dev with the spec's devices, /sys, the /etc files the engine wrote, the requested
//! mounts: see `setup`), pivots into it, masks what the container must not see, loads the
//! seccomp filter, drops capabilities and execs, running the spec's hooks at their stages on
//! the way. The helper has a single thread when it forks, so the child may allocate; what the
//! set-up mounts is still worked out before the fork (`setup::Plan`). The set-up's mount,
//! namespace and credential calls go through `syscall::Syscall`, so that tests can check
//! their order.
//!
//! Time budget of the path (busybox `true`, rootless, this machine, `--log-level debug`): helper
//! exec + id maps ~2.3 ms (newuidmap and newgidmap at once), unshare + overlay ~0.7 ms, the
//! kernel mounts ~0.6 ms, the rest up to exec ~0.7 ms, the workload and teardown of its
//! namespaces ~1.7 ms.

use std::ffi::CString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

pub use super::devices::{Device, DeviceKind};
pub use super::hooks::{Hook, Hooks};
pub use super::namespaces::{Namespace, Namespaces};
pub use super::report::EXIT_RUNTIME;
pub use super::spec::{MountKind, MountSpec, Spec};

use super::hooks::Stage;
use super::namespaces::Joins;
use super::report::{fail, read_report, report_and_exit, Failure};
use super::setup::Plan;
use super::syscall::{NamespaceFlags, NamespaceType, Real, Syscall};

/// Exit status when the command is found but cannot be executed (Docker's).
pub const EXIT_CANNOT_EXECUTE: i32 = 126;
/// Exit status when the command is not found (Docker's).
pub const EXIT_NOT_FOUND: i32 = 127;
/// Docker's PATH when the image sets none (and the monitor's when skiff was given none).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The namespaces the helper itself joins for the container (the PID one is for its child).
const JOINED_BY_THE_HELPER: [NamespaceType; 3] = [
    NamespaceType::Network,
    NamespaceType::InterProcessCommunication,
    NamespaceType::HostNameAndNISDomainName,
];

/// Every namespace a spec may join.
const JOINABLE: [NamespaceType; 4] = [
    NamespaceType::Network,
    NamespaceType::InterProcessCommunication,
    NamespaceType::HostNameAndNISDomainName,
    NamespaceType::ProcessID,
];

/// In a fresh mount namespace: makes its mounts private and mounts the container's layers on
/// `mount_point`.
pub(super) fn mount_layers(spec: &Spec, mount_point: &Path) -> Result<(), String> {
    Real.make_private(Path::new("/"))
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
    let (flags, joins) = if nested {
        (NamespaceFlags::NEWNS, Joins::default())
    } else {
        let joins = Joins::open(&spec.namespaces, &JOINED_BY_THE_HELPER)?;
        (spec.namespaces.unshare_flags(), joins)
    };
    super::namespaces::enter(&Real, flags, &joins)?;
    if spec.namespaces.network == Namespace::New && !nested {
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

/// Undoes `prepare` once no container process is left, and runs the poststop hooks.
pub fn teardown(spec: &Spec) {
    super::rootfs::unmount(&spec.merged, spec.driver);
    // The FUSE daemon ends with its unmount: reaped here rather than left to the system's
    // init. (Only then: other children, a network helper dying, are not waited for.)
    if spec.driver == super::rootfs::Driver::FuseOverlayfs {
        crate::sys::reap_for(std::time::Duration::from_secs(1));
    }
    if spec.hooks.poststop.is_empty() {
        return;
    }
    // What has ended can't fail: each hook runs, and a failure is only reported (as OCI says).
    let context = super::hooks::Context {
        bundle: bundle(spec),
        pid: 0,
    };
    let state = context.state(Stage::Poststop);
    for hook in &spec.hooks.poststop {
        if let Err(e) = super::hooks::run(hook, Stage::Poststop, &state) {
            eprintln!("skiff: warning: {e}");
        }
    }
}

/// The container's run directory, where the engine put its spec and its root file system's
/// mount point, and which is named by the container's id: the hooks' bundle.
fn bundle(spec: &Spec) -> &Path {
    spec.merged.parent().unwrap_or(Path::new(""))
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

/// Starts the container's PID 1 in its PID namespace (after `prepare`; may be called again
/// for a restart once the previous one has exited).
pub fn spawn(spec: &Spec, stdio: &Stdio) -> Result<Started, String> {
    let nested = spec.id_shift.is_some();
    let plan = Plan::new(spec)?;
    // Nested, the child joins namespaces itself (see `enter_nested`); otherwise `prepare` has
    // joined all but the PID namespace, which is joined here for the fork.
    let joins = if nested {
        Joins::open(&spec.namespaces, &JOINABLE)?
    } else {
        Joins::open(&spec.namespaces, &[NamespaceType::ProcessID])?
    };
    let pair = || UnixStream::pair().map_err(|e| e.to_string());
    let (report_rx, report_tx) = pair()?;
    let (mut maps_rx, maps_tx) = pair()?;
    // The child waits for the create_runtime hooks between its namespaces and its root file
    // system.
    let (hooks_rx, hooks_tx) = if spec.hooks.create_runtime.is_empty() {
        (None, None)
    } else {
        let (rx, tx) = pair()?;
        (Some(rx), Some(tx))
    };
    // Nested, the child creates its PID namespace itself, inside its user namespace.
    let forked = if nested {
        crate::sys::fork()
    } else {
        fork_into_pid_namespace(&spec.namespaces.pid, &joins)?
    };
    match forked {
        Err(e) => Err(format!("fork: {e}")),
        Ok(None) => {
            // The container's PID 1 (or, nested, its parent). Only returns on failure.
            drop(report_rx);
            drop(maps_rx);
            drop(hooks_rx);
            let report = std::os::fd::AsRawFd::as_raw_fd(&report_tx);
            // None of the monitor's environment in this process's memory (before `start`
            // makes it not dumpable: /proc/self/mem is root's then).
            let started = crate::sys::wipe_environment()
                .map_err(|e| fail("clearing the environment", e))
                .and_then(|()| redirect(stdio))
                .and_then(|()| {
                    if nested {
                        enter_nested(&Real, spec, maps_tx, &joins)
                            .and_then(|()| start(&Real, &plan, report, hooks_tx))
                    } else {
                        drop(maps_tx);
                        start(&Real, &plan, report, hooks_tx)
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
            drop(hooks_tx);
            drop(joins);
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
            if let Some(sync) = hooks_rx {
                run_runtime_hooks(spec, sync, child, init)?;
            }
            Ok(Started {
                child,
                init,
                report: report_rx,
            })
        }
    }
}

/// Forks into the PID namespace the spec chose: a new one, the helper's, or one joined for
/// the fork alone (setns(2) of a PID namespace only places the next children; the helper's
/// later ones, the watcher among them, must stay in its own).
fn fork_into_pid_namespace(
    pid: &Namespace,
    joins: &Joins,
) -> Result<io::Result<Option<i32>>, String> {
    match pid {
        Namespace::New => Ok(crate::sys::fork_in_new_pid_namespace()),
        Namespace::Host => Ok(crate::sys::fork()),
        Namespace::Join(_) => {
            let own = super::namespaces::own_pid_namespace()?;
            joins.enter(&Real)?;
            let forked = crate::sys::fork();
            if matches!(forked, Ok(None)) {
                return Ok(forked);
            }
            if let Err(e) = Real.setns(own.as_fd(), NamespaceType::ProcessID) {
                if let Ok(Some(child)) = forked {
                    crate::sys::kill_now(child);
                    crate::sys::wait_for(child);
                }
                return Err(format!("going back to the helper's PID namespace: {e}"));
            }
            Ok(forked)
        }
    }
}

/// The helper's side of the create_runtime stage: once the child says its namespaces exist,
/// runs the hooks and lets it go on. A hook that fails ends the container before it started.
fn run_runtime_hooks(
    spec: &Spec,
    mut sync: UnixStream,
    child: i32,
    init: i32,
) -> Result<(), String> {
    let mut byte = [0u8; 1];
    if sync.read(&mut byte).unwrap_or(0) != 1 {
        // The child failed before: its report says why.
        return Ok(());
    }
    let context = super::hooks::Context {
        bundle: bundle(spec),
        pid: init,
    };
    match super::hooks::run_all(&spec.hooks.create_runtime, Stage::CreateRuntime, &context) {
        Ok(()) => {
            let _ = sync.write_all(b"G");
            Ok(())
        }
        Err(e) => {
            crate::sys::kill_now(init);
            crate::sys::kill_now(child);
            crate::sys::wait_for(child);
            Err(e)
        }
    }
}

/// The child's side: tells the helper that its namespaces exist and waits for the hooks.
fn wait_for_runtime_hooks(mut sync: UnixStream) -> Result<(), Failure> {
    sync.write_all(b"N")
        .map_err(|e| fail("waiting for the create_runtime hooks", e))?;
    let mut byte = [0u8; 1];
    match sync.read(&mut byte) {
        Ok(1) if byte[0] == b'G' => Ok(()),
        _ => Err((EXIT_RUNTIME, "a create_runtime hook failed".into())),
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

/// A container with id maps of its own: this process joins the namespaces it shares, unshares
/// its user namespace, waits for the helper to write the maps, creates the other namespaces
/// (owned by the new user namespace, so that /proc and /sys can be mounted in them), and forks
/// the container's PID 1, staying as its parent until it exits. Returns in that PID 1.
fn enter_nested<S: Syscall>(
    sys: &S,
    spec: &Spec,
    mut maps: UnixStream,
    joins: &Joins,
) -> Result<(), Failure> {
    let helper = rustix::process::getppid();
    // Joined first: inside the new user namespace this process holds no capability over the
    // namespaces of the user's, which setns(2) needs.
    joins.enter(sys).map_err(|e| (EXIT_RUNTIME, e))?;
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
        sys.set_not_dumpable()
            .map_err(|e| fail("prctl(PR_SET_DUMPABLE)", e))?;
    }
    let mut flags = spec.namespaces.unshare_flags();
    if spec.namespaces.pid == Namespace::New {
        flags |= NamespaceFlags::NEWPID;
    }
    sys.unshare(flags)
        .map_err(|e| fail("creating the container's namespaces", e))?;
    if spec.namespaces.network == Namespace::New {
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

/// Builds the root file system, enters it and execs the workload. `report` is the descriptor
/// that tells the starter how the start went (close-on-exec); every other one is closed.
/// `runtime_hooks`: the helper runs create_runtime hooks and is waited for.
fn start<S: Syscall>(
    sys: &S,
    plan: &Plan,
    report: i32,
    runtime_hooks: Option<UnixStream>,
) -> Result<Never, Failure> {
    set_up(sys, plan, runtime_hooks)?;
    run_workload(sys, plan.spec, report)
}

/// From the container's namespaces to just before the workload's own steps: its mount
/// namespace, cgroup, root file system, pivot_root and masks, with the hooks in between.
fn set_up<S: Syscall>(
    sys: &S,
    plan: &Plan,
    runtime_hooks: Option<UnixStream>,
) -> Result<(), Failure> {
    let spec = plan.spec;
    // Not dumpable from here on (not before: a nested container's parent writes its id maps
    // first): nothing of the container may read this process's memory or open its
    // executable. The workload's exec makes it dumpable again, for itself alone.
    sys.set_not_dumpable()
        .map_err(|e| fail("prctl(PR_SET_DUMPABLE)", e))?;
    // A mount namespace of its own (a copy of the helper's, root file system included), so
    // that pivot_root moves only the container.
    sys.unshare(NamespaceFlags::NEWNS)
        .map_err(|e| fail("creating the container's mount namespace", e))?;
    if let Some(dir) = &spec.cgroup {
        super::cgroup::join(dir).map_err(|e| fail("joining the container's cgroup", e))?;
    }
    tracing::debug!("container: in its namespaces");
    if let Some(sync) = runtime_hooks {
        wait_for_runtime_hooks(sync)?;
    }
    let hooks = &spec.hooks;
    let context = super::hooks::Context {
        bundle: bundle(spec),
        pid: if hooks.create_container.is_empty() && hooks.start_container.is_empty() {
            0
        } else {
            host_pid()
        },
    };
    let run_hooks = |list: &[Hook], stage: Stage| {
        super::hooks::run_all(list, stage, &context).map_err(|e| (EXIT_RUNTIME, e))
    };
    super::setup::build_root(sys, plan)?;
    run_hooks(&hooks.create_container, Stage::CreateContainer)?;
    super::setup::enter_root(sys, plan.root())?;
    super::setup::mask_paths(sys, spec.privileged);
    run_hooks(&hooks.start_container, Stage::StartContainer)
}

/// This process's pid as the host sees it, for the hooks' state: read before pivot_root,
/// while /proc is still the helper's.
fn host_pid() -> i32 {
    fs::read_link("/proc/self")
        .ok()
        .and_then(|p| p.to_str()?.parse().ok())
        .unwrap_or(0)
}

/// Inside the container (its root, its namespaces): the terminal, the working directory, the
/// user, the seccomp filter and capabilities, then exec. Shared by PID 1 and `exec`. `report`
/// is the one descriptor above 2 kept open until the exec (it is close-on-exec).
pub(super) fn run_workload<S: Syscall>(
    sys: &S,
    spec: &Spec,
    report: i32,
) -> Result<Never, Failure> {
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
    confine(sys, spec, uid, gid, &groups)?;
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

/// The workload's confinement. The seccomp filter comes first, while this process still holds
/// CAP_SYS_ADMIN: the kernel then takes it without no_new_privs, which only
/// `--security-opt no-new-privileges` sets (setuid programs in the container keep working).
/// Then the capabilities and ids, no_new_privs where asked, and the limits.
fn confine<S: Syscall>(
    sys: &S,
    spec: &Spec,
    uid: u32,
    gid: u32,
    groups: &[u32],
) -> Result<(), Failure> {
    if spec.seccomp {
        let program = match &spec.seccomp_profile {
            Some(packed) => super::seccomp_profile::unpack(packed),
            None => super::seccomp_profile::unpack(
                &super::seccomp::default_program(&spec.capabilities)
                    .map_err(|e| fail("building the seccomp filter", e))?,
            ),
        };
        sys.load_seccomp(&program)
            .map_err(|e| fail("installing the seccomp filter", e))?;
    }
    drop_privileges(sys, &spec.capabilities, uid, gid, groups)?;
    // A change of credentials makes the process dumpable again where fs.suid_dumpable says so.
    sys.set_not_dumpable()
        .map_err(|e| fail("prctl(PR_SET_DUMPABLE)", e))?;
    if spec.no_new_privileges {
        sys.set_no_new_privs()
            .map_err(|e| fail("no-new-privileges", e))?;
    }
    for (name, soft, hard) in &spec.ulimits {
        sys.set_limit(name, *soft, *hard)
            .map_err(|e| fail(&format!("setting the {name} limit"), e))?;
    }
    Ok(())
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

fn drop_privileges<S: Syscall>(
    sys: &S,
    caps: &[u32],
    uid: u32,
    gid: u32,
    groups: &[u32],
) -> Result<(), Failure> {
    sys.limit_capabilities(caps, uid == 0)
        .map_err(|e| fail("dropping capabilities", e))?;
    sys.set_ids(uid, gid, groups).map_err(|e| {
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

#[cfg(test)]
mod tests {
    use super::super::setup::{MASKED, READ_ONLY};
    use super::super::syscall::recording::{Call, Recording};
    use super::*;

    /// A spec whose root file system is `root`, with one of each kind of mount, a device, and
    /// every confinement, its namespaces as given.
    fn spec_in(root: &Path, host: &Path, namespaces: serde_json::Value) -> Spec {
        fs::write(host.join("hosts"), "127.0.0.1 localhost\n").unwrap();
        let ret_allow: u64 = 0x06 | (0x7fff_0000 << 32);
        serde_json::from_value(serde_json::json!({
            "lowers": [], "upper": "/u", "work": "/w", "merged": root,
            "args": ["/bin/true"], "env": [], "cwd": "/work", "hostname": "box", "user": "",
            "namespaces": namespaces,
            "etc_files": [["/etc/hosts", host.join("hosts")]],
            "mounts": [
                {"kind": "Bind", "source": host, "target": "/data", "readonly": true,
                 "options": ""},
                {"kind": "Tmpfs", "source": null, "target": "/scratch", "readonly": false,
                 "options": ""},
            ],
            "devices": [{"path": "/dev/fuse", "kind": "char", "major": 10, "minor": 229,
                         "mode": 0o666, "uid": 0, "gid": 0}],
            "read_only_root": true,
            "capabilities": [0, 1],
            "seccomp": true,
            "seccomp_profile": [ret_allow],
            "no_new_privileges": true,
            "ulimits": [["nofile", 1024, 1024]],
        }))
        .unwrap()
    }

    fn new_namespaces() -> serde_json::Value {
        serde_json::json!({"network": "new", "ipc": "new", "pid": "new", "uts": "new"})
    }

    fn target(call: &Call) -> Option<&Path> {
        match call {
            Call::Mount { target, .. }
            | Call::Bind { target, .. }
            | Call::Remount { target, .. } => Some(target),
            Call::Mknod { path, .. } => Some(path),
            _ => None,
        }
    }

    #[test]
    fn the_set_up_runs_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (root, host) = (dir.path().join("root"), dir.path().join("host"));
        fs::create_dir(&root).unwrap();
        fs::create_dir(&host).unwrap();
        let spec = spec_in(&root, &host, new_namespaces());
        let plan = Plan::new(&spec).unwrap();
        let sys = Recording::default();
        set_up(&sys, &plan, None).unwrap();
        confine(&sys, &spec, 0, 0, &[]).unwrap();
        let calls = sys.calls();
        let at = |what: &str, found: &dyn Fn(&Call) -> bool| {
            calls
                .iter()
                .position(found)
                .unwrap_or_else(|| panic!("no {what} in {calls:#?}"))
        };
        assert_eq!(
            calls[..2],
            [Call::SetNotDumpable, Call::Unshare(NamespaceFlags::NEWNS)]
        );
        let pivot = at("pivot_root", &|c| matches!(c, Call::PivotRoot { .. }));
        assert_eq!(calls[pivot - 1], Call::Chdir(root.clone()));
        assert_eq!(calls[pivot + 1], Call::Umount(".".into()));
        // Every mount into the root file system comes before pivot_root, none after.
        let into_root: Vec<usize> = (0..calls.len())
            .filter(|&i| target(&calls[i]).is_some_and(|t| t.starts_with(&root)))
            .collect();
        assert!(into_root.len() > 10, "{calls:#?}");
        assert!(into_root.iter().all(|&i| i < pivot), "{calls:#?}");
        let proc = at(
            "/proc",
            &|c| matches!(c, Call::Mount { fstype, .. } if fstype == "proc"),
        );
        let dev = at(
            "/dev",
            &|c| matches!(c, Call::Mount { target, .. } if *target == root.join("dev")),
        );
        assert!(proc < dev);
        // The standard nodes and the spec's devices once /dev is there.
        let null = at(
            "/dev/null",
            &|c| matches!(c, Call::Bind { target, .. } if *target == root.join("dev/null")),
        );
        let fuse = at("/dev/fuse", &|c| matches!(c, Call::Mknod { .. }));
        assert!(dev < null && null < fuse);
        assert!(matches!(calls[fuse + 1], Call::Chown { .. }));
        assert_eq!(
            calls[fuse + 2],
            Call::Chmod {
                path: root.join("dev/fuse"),
                mode: 0o666
            }
        );
        let sysfs = at(
            "/sys",
            &|c| matches!(c, Call::Mount { fstype, .. } if fstype == "sysfs"),
        );
        assert!(fuse < sysfs);
        let hostname = at("the hostname", &|c| matches!(c, Call::Sethostname(_)));
        assert_eq!(calls[hostname], Call::Sethostname("box".into()));
        assert!(hostname < pivot);
        // Masks and read-only paths: after pivot_root, on the container's own /proc.
        let masks: Vec<usize> = (0..calls.len())
            .filter(|&i| {
                target(&calls[i]).is_some_and(|t| {
                    [MASKED, READ_ONLY]
                        .concat()
                        .iter()
                        .any(|p| t == Path::new(p))
                })
            })
            .collect();
        assert!(masks.len() >= 6, "the read-only paths at least: {calls:#?}");
        assert!(masks.iter().all(|&i| i > pivot && i > proc));
        // The filter is loaded after every mount, then the capabilities and ids go, then
        // no_new_privs and the limits.
        let seccomp = at("seccomp", &|c| matches!(c, Call::LoadSeccomp { .. }));
        assert_eq!(calls[seccomp], Call::LoadSeccomp { instructions: 1 });
        assert!((0..calls.len())
            .filter(|&i| target(&calls[i]).is_some())
            .all(|i| i < seccomp));
        assert_eq!(
            calls[seccomp + 1..],
            [
                Call::LimitCapabilities {
                    keep: vec![0, 1],
                    for_root: true
                },
                Call::SetIds {
                    uid: 0,
                    gid: 0,
                    groups: vec![]
                },
                Call::SetNotDumpable,
                Call::SetNoNewPrivs,
                Call::SetLimit("nofile".into()),
            ]
        );
    }

    #[test]
    fn shared_namespaces_change_what_is_mounted() {
        let dir = tempfile::tempdir().unwrap();
        let (root, host) = (dir.path().join("root"), dir.path().join("host"));
        fs::create_dir(&root).unwrap();
        fs::create_dir(&host).unwrap();
        let shared = serde_json::json!({
            "network": "host", "ipc": "host", "pid": "host", "uts": {"join": "/proc/1/ns/uts"}
        });
        let spec = spec_in(&root, &host, shared);
        let plan = Plan::new(&spec).unwrap();
        // The kernel refuses a new proc for a PID namespace the user's doesn't own.
        let sys = Recording::refusing("proc");
        set_up(&sys, &plan, None).unwrap();
        let calls = sys.calls();
        assert!(calls.contains(&Call::Bind {
            source: "/proc".into(),
            target: root.join("proc"),
            recursive: true
        }));
        assert!(calls.contains(&Call::Bind {
            source: "/sys".into(),
            target: root.join("sys"),
            recursive: true
        }));
        assert!(!calls
            .iter()
            .any(|c| matches!(c, Call::Mount { fstype, .. } if fstype == "sysfs")));
        assert!(!calls.iter().any(|c| matches!(c, Call::Sethostname(_))));
    }

    #[test]
    fn a_device_the_spec_may_not_add_fails_before_the_fork() {
        let host = tempfile::tempdir().unwrap();
        let mut spec = spec_in(Path::new("/r"), host.path(), new_namespaces());
        spec.devices[0].path = "/dev/../etc/passwd".into();
        let err = Plan::new(&spec).err().expect("refused");
        assert!(err.contains("/dev/../etc/passwd"), "{err}");
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
