//! `skiff exec`: a new process in a running container. A forked child joins the container's
//! namespaces with setns(2) (user first: its owner may join it and then holds every
//! capability there) and forks the command, which is then in the container's PID namespace
//! and goes the way the container's own workload went (cgroup, user, seccomp filter,
//! capabilities, exec); the child stays as its parent and exits with its status. The caller
//! must have a single thread when it calls (the child inherits that).

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;

use super::container::Spec;

/// Namespaces joined, user first and mount last (after it, paths are the container's).
const NAMESPACES: &[(&str, rustix::thread::LinkNameSpaceType)] = &[
    ("user", rustix::thread::LinkNameSpaceType::User),
    ("cgroup", rustix::thread::LinkNameSpaceType::ControlGroup),
    (
        "ipc",
        rustix::thread::LinkNameSpaceType::InterProcessCommunication,
    ),
    (
        "uts",
        rustix::thread::LinkNameSpaceType::HostNameAndNISDomainName,
    ),
    ("net", rustix::thread::LinkNameSpaceType::Network),
    ("pid", rustix::thread::LinkNameSpaceType::ProcessID),
    ("mnt", rustix::thread::LinkNameSpaceType::Mount),
];

/// A process started in a container.
pub struct ExecProcess {
    pub pid: i32,
    report: UnixStream,
}

impl ExecProcess {
    /// Waits until the command runs (or failed to start): the failure, if any.
    pub fn failure(&mut self) -> Option<(i32, String)> {
        super::container::read_report(&mut self.report)
    }
}

/// Joins the namespaces of `init` (the container's PID 1) and starts `spec`'s command there.
/// `stdin_null`: the command reads nothing (no `-i`); `output`: where its stdout and stderr
/// go instead of the caller's.
pub fn exec(
    init: i32,
    spec: &Spec,
    stdin_null: bool,
    output: Option<std::os::fd::RawFd>,
) -> Result<ExecProcess, String> {
    let mut joins: Vec<(OwnedFd, rustix::thread::LinkNameSpaceType)> = Vec::new();
    for (name, kind) in NAMESPACES {
        let theirs = format!("/proc/{init}/ns/{name}");
        let ours = format!("/proc/self/ns/{name}");
        let same = match (std::fs::metadata(&theirs), std::fs::metadata(&ours)) {
            (Ok(a), Ok(b)) => {
                use std::os::unix::fs::MetadataExt;
                a.ino() == b.ino() && a.dev() == b.dev()
            }
            (Err(e), _) => return Err(format!("the container's {name} namespace: {e}")),
            _ => false,
        };
        if !same {
            let fd = rustix::fs::open(
                &theirs,
                rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(|e| format!("opening {theirs}: {e}"))?;
            joins.push((fd, *kind));
        }
    }
    let null = if stdin_null {
        Some(std::fs::File::open("/dev/null").map_err(|e| e.to_string())?)
    } else {
        None
    };
    let (report_rx, report_tx) = UnixStream::pair().map_err(|e| e.to_string())?;
    // The namespaces are joined in a child, not here: a process that has joined a PID
    // namespace can no longer start threads, and skiff's side of a terminal uses some.
    match crate::sys::fork() {
        Err(e) => Err(format!("fork: {e}")),
        Ok(None) => {
            drop(report_rx);
            let failure = match enter(&joins, null.as_ref(), output) {
                Err(failure) => failure,
                Ok(()) => match crate::sys::fork() {
                    Err(e) => super::container::fail("fork", e),
                    Ok(None) => {
                        let result = (|| {
                            if let Some(dir) = &spec.cgroup {
                                super::cgroup::join(dir).map_err(|e| {
                                    super::container::fail("joining the container's cgroup", e)
                                })?;
                            }
                            super::container::run_workload(spec)
                        })();
                        match result {
                            Ok(never) => match never {},
                            Err(failure) => failure,
                        }
                    }
                    Ok(Some(command)) => {
                        // Stay as the command's parent, passing signals on, and exit as it
                        // does.
                        drop(report_tx);
                        crate::sys::forward_signals(command, true);
                        crate::sys::exit_now(crate::sys::wait_for(command))
                    }
                },
            };
            super::container::report_and_exit(report_tx, failure)
        }
        Ok(Some(pid)) => Ok(ExecProcess {
            pid,
            report: report_rx,
        }),
    }
}

/// In the forked child: stdin, then the container's namespaces.
fn enter(
    joins: &[(OwnedFd, rustix::thread::LinkNameSpaceType)],
    null: Option<&std::fs::File>,
    output: Option<std::os::fd::RawFd>,
) -> Result<(), super::container::Failure> {
    if let Some(null) = null {
        crate::sys::dup_onto(std::os::fd::AsRawFd::as_raw_fd(null), 0)
            .map_err(|e| super::container::fail("redirecting stdin", e))?;
    }
    if let Some(fd) = output {
        for target in [1, 2] {
            crate::sys::dup_onto(fd, target)
                .map_err(|e| super::container::fail("redirecting the output", e))?;
        }
    }
    for (fd, kind) in joins {
        rustix::thread::move_into_link_name_space(fd.as_fd(), Some(*kind))
            .map_err(|e| super::container::fail("joining the container's namespaces", e))?;
    }
    if joins
        .iter()
        .any(|(_, k)| *k == rustix::thread::LinkNameSpaceType::User)
    {
        crate::sys::become_root().map_err(|e| super::container::fail("setresuid(0)", e))?;
    }
    Ok(())
}
