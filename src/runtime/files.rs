//! A way into a container's files for work such as `cp`: a forked child that sees them as the
//! container does and hands the work the container's root directory as a descriptor.
//!
//! For a running container the child joins its user namespace (when it has one of its own;
//! its owner may, and then holds every capability there) and its mount namespace, so that
//! volumes and every other mount of the container are there. For a stopped one the child makes
//! a user namespace with the user's maps (rootless) and a private mount namespace, and mounts
//! the root file system and the bind mounts the way a start does; all of it goes away with the
//! child. The work runs as the container's root in either case, so files it creates belong to
//! the container's root and it may give them any owner the container has.
//!
//! The namespaces are entered in a child, not in the caller: setns(2) of a user namespace needs
//! a single-threaded process, and the caller goes on streaming data to or from the work.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use rustix::thread::LinkNameSpaceType;

use super::container::Spec;
use super::userns::UserNs;

/// Which files the work sees.
pub enum View<'a> {
    /// A running container, by the host pid of its PID 1.
    Running { init: i32 },
    /// A stopped container: its root file system is mounted at `mount_point` (an empty
    /// directory) in a private mount namespace, inside a user namespace with `userns`'s maps
    /// when given (a rootless user).
    Stopped {
        spec: &'a Spec,
        mount_point: &'a Path,
        userns: Option<&'a UserNs>,
    },
}

/// The child doing the work.
pub struct Inside {
    pid: i32,
    report: UnixStream,
}

impl Inside {
    /// Waits for the child; the work's error (or the reason it never ran) if any.
    pub fn finish(mut self) -> Result<(), String> {
        let mut text = String::new();
        let _ = self.report.read_to_string(&mut text);
        let status = crate::sys::wait_for(self.pid);
        match (text.is_empty(), status) {
            (false, _) => Err(text),
            (true, 0) => Ok(()),
            (true, code) => Err(format!("the copying process failed (status {code})")),
        }
    }
}

/// Forks a child that enters `view` and runs `work` with an `O_PATH` descriptor of the
/// container's root directory. Call with a single thread. What `work` holds is closed in
/// the caller when this returns; `parent_ends` (the caller's ends of the pipes and sockets
/// `work` uses) are closed in the child.
pub fn enter<F>(view: &View<'_>, parent_ends: &[BorrowedFd<'_>], work: F) -> Result<Inside, String>
where
    F: FnOnce(OwnedFd) -> Result<(), String>,
{
    let joins = match view {
        View::Running { init } => namespaces_of(*init)?,
        View::Stopped { .. } => Vec::new(),
    };
    let (report_rx, report_tx) = UnixStream::pair().map_err(|e| e.to_string())?;
    let (mut sync_parent, sync_child) = UnixStream::pair().map_err(|e| e.to_string())?;
    match crate::sys::fork() {
        Err(e) => Err(format!("fork: {e}")),
        Ok(None) => {
            drop(report_rx);
            drop(sync_parent);
            for fd in parent_ends {
                crate::sys::close_parents_end(fd.as_raw_fd());
            }
            // A panic must end this child here, never unwind into the caller's frames, which
            // would go on in two processes.
            let run = std::panic::AssertUnwindSafe(|| child(view, joins, sync_child, work));
            let result = match std::panic::catch_unwind(run) {
                Ok(result) => result,
                Err(_) => crate::sys::exit_now(101),
            };
            let mut report = report_tx;
            let code = match result {
                Ok(()) => 0,
                Err(message) => {
                    let _ = report.write_all(message.as_bytes());
                    1
                }
            };
            drop(report);
            crate::sys::exit_now(code)
        }
        Ok(Some(pid)) => {
            drop(report_tx);
            drop(sync_child);
            drop(work);
            if let View::Stopped {
                userns: Some(ns), ..
            } = view
            {
                // The child has unshared its user namespace: give it the user's maps.
                let mut byte = [0u8; 1];
                let ready = sync_parent.read(&mut byte).unwrap_or(0) == 1;
                let mapped = ready && super::userns::write_maps(pid as u32, ns).is_ok();
                let _ = sync_parent.write_all(if mapped { b"M" } else { b"E" });
            }
            Ok(Inside {
                pid,
                report: report_rx,
            })
        }
    }
}

/// In the child: enters `view` and runs `work`.
fn child<F>(
    view: &View<'_>,
    joins: Vec<(OwnedFd, LinkNameSpaceType)>,
    mut sync_child: UnixStream,
    work: F,
) -> Result<(), String>
where
    F: FnOnce(OwnedFd) -> Result<(), String>,
{
    match view {
        // None of the caller's environment in memory (before it is not dumpable, when
        // /proc/self/mem becomes root's).
        View::Running { .. } => crate::sys::wipe_environment()
            .map_err(|e| format!("clearing the environment: {e}"))
            .and_then(|()| not_dumpable())
            .and_then(|()| join(&joins)),
        View::Stopped {
            spec,
            mount_point,
            userns,
        } => mount_stopped(spec, mount_point, userns.is_some(), &mut sync_child),
    }
    .and_then(|root| {
        // Never outlive the command that asked (a killed `cp`); set after the change of
        // credentials, which clears it.
        let _ =
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
        // What the work creates gets the mode it asks for: device nodes and FIFOs are made
        // with their final mode, never changed after by name.
        rustix::process::umask(Mode::empty());
        // (Again, for a running container: with fs.suid_dumpable set, a change of credentials
        // makes a process dumpable.)
        let outcome = not_dumpable().and_then(|()| work(root));
        if let View::Stopped {
            spec, mount_point, ..
        } = view
        {
            super::rootfs::unmount(mount_point, spec.driver);
            crate::sys::reap_for(std::time::Duration::from_secs(1));
        }
        outcome
    })
}

/// Makes this process not dumpable: in a running container's user namespace, the container's
/// processes could otherwise ptrace it or open its /proc/PID/mem and /proc/PID/exe (skiff's
/// binary on the host). A stopped container has no processes; there it is set once the id maps
/// are written, which its parent could not do to a process that is not dumpable.
fn not_dumpable() -> Result<(), String> {
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(|e| format!("prctl(PR_SET_DUMPABLE): {e}"))
}

/// The namespaces of `init` this process is not in already, user first and mount last.
fn namespaces_of(init: i32) -> Result<Vec<(OwnedFd, LinkNameSpaceType)>, String> {
    super::exec::container_namespaces(
        init,
        &[
            ("user", LinkNameSpaceType::User),
            ("mnt", LinkNameSpaceType::Mount),
        ],
    )
}

/// In the child: joins a running container's namespaces; returns its root.
fn join(joins: &[(OwnedFd, LinkNameSpaceType)]) -> Result<OwnedFd, String> {
    for (fd, kind) in joins {
        rustix::thread::move_into_link_name_space(fd.as_fd(), Some(*kind))
            .map_err(|e| format!("joining the container's namespaces: {e}"))?;
    }
    if joins.iter().any(|(_, k)| *k == LinkNameSpaceType::User) {
        crate::sys::become_root().map_err(|e| format!("setresuid(0): {e}"))?;
    }
    // Joining a mount namespace moves the root and working directory to its root: the
    // container's, after its pivot_root.
    open_root(Path::new("/"))
}

/// In the child: a user namespace (when `unshare_user`) and a mount namespace of its own, with
/// the container's root file system and bind mounts; returns its root.
fn mount_stopped(
    spec: &Spec,
    mount_point: &Path,
    unshare_user: bool,
    sync: &mut UnixStream,
) -> Result<OwnedFd, String> {
    if unshare_user {
        crate::sys::unshare_user_namespace()
            .map_err(|e| format!("unshare(CLONE_NEWUSER) failed: {e}"))?;
        sync.write_all(b"U")
            .map_err(|e| format!("asking for the id maps: {e}"))?;
        let mut byte = [0u8; 1];
        if sync.read(&mut byte).unwrap_or(0) != 1 || byte[0] != b'M' {
            return Err("writing the id maps failed: check /etc/subuid and /etc/subgid".into());
        }
        crate::sys::become_root().map_err(|e| format!("setresuid(0): {e}"))?;
    }
    crate::sys::unshare(crate::sys::NamespaceFlags::NEWNS)
        .map_err(|e| format!("creating a mount namespace: {e}"))?;
    super::container::mount_layers(spec, mount_point)?;
    let root = open_root(mount_point)?;
    // Volumes as the container sees them (a tmpfs would only hide what lies beneath it). A
    // source not there yet is made by the next start; until then the path is the image's.
    for m in spec.mounts.iter().filter(|m| {
        m.kind == super::container::MountKind::Bind && m.source.as_ref().is_some_and(|s| s.exists())
    }) {
        super::setup::mount_requested(&super::syscall::Real, &root, m)
            .map_err(|(_, message)| message)?;
    }
    if let Some(shift) = &spec.id_shift {
        enter_shifted(shift, spec, mount_point)?;
    }
    Ok(root)
}

/// A container with id maps of its own sees its files through them: the work goes on in a
/// child in a user namespace with those maps (written from here, its parent namespace), so
/// that owners read and written are the container's. This process stays behind, waits, and
/// then undoes the mounts, which the child's namespace may not touch.
fn enter_shifted(
    shift: &super::userns::IdShift,
    spec: &Spec,
    mount_point: &Path,
) -> Result<(), String> {
    let (mut ours, mut theirs) = UnixStream::pair().map_err(|e| e.to_string())?;
    match crate::sys::fork().map_err(|e| format!("fork: {e}"))? {
        None => {
            drop(ours);
            crate::sys::unshare_user_namespace()
                .map_err(|e| format!("creating the container's user namespace: {e}"))?;
            theirs
                .write_all(b"U")
                .map_err(|e| format!("asking for the id maps: {e}"))?;
            let mut byte = [0u8; 1];
            if theirs.read(&mut byte).unwrap_or(0) != 1 || byte[0] != b'M' {
                return Err("writing the container's id maps failed".into());
            }
            let first = |map: &[super::userns::IdMapping]| {
                map.iter().map(|m| m.container).min().unwrap_or(0)
            };
            crate::sys::take_ids(first(&shift.uid_map), first(&shift.gid_map))
                .map_err(|e| format!("taking an id in the user namespace: {e}"))
        }
        Some(child) => {
            drop(theirs);
            let mut byte = [0u8; 1];
            let ready = ours.read(&mut byte).unwrap_or(0) == 1;
            let written = ready && shift.write_maps(child).is_ok();
            let _ = ours.write_all(if written { b"M" } else { b"E" });
            let status = crate::sys::wait_for(child);
            super::rootfs::unmount(mount_point, spec.driver);
            crate::sys::reap_for(std::time::Duration::from_secs(1));
            crate::sys::exit_now(status)
        }
    }
}

fn open_root(path: &Path) -> Result<OwnedFd, String> {
    rustix::fs::open(
        path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("opening the container's root: {e}"))
}
