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
        super::report::read_report(&mut self.report)
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
    let joins = container_namespaces(init, NAMESPACES)?;
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
            let report = std::os::fd::AsRawFd::as_raw_fd(&report_tx);
            let failure = match enter(&joins, null.as_ref(), output, report, spec) {
                Err(failure) => failure,
                Ok(()) => match crate::sys::fork() {
                    Err(e) => super::report::fail("fork", e),
                    Ok(None) => {
                        let result = (|| {
                            if let Some(dir) = &spec.cgroup {
                                super::cgroup::join(dir).map_err(|e| {
                                    super::report::fail("joining the container's cgroup", e)
                                })?;
                            }
                            super::container::run_workload(&super::syscall::Real, spec, report)
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
            super::report::report_and_exit(report_tx, failure)
        }
        Ok(Some(pid)) => Ok(ExecProcess {
            pid,
            report: report_rx,
        }),
    }
}

/// Descriptors of the namespaces of the container whose PID 1 is `init` that this process is
/// not in already, in `wanted`'s order. They are opened through a descriptor of the holder's
/// /proc directory, which stays that process's even if its pid is reused meanwhile. The
/// container's mount namespace must not be this process's own: what joins it would run on
/// the host.
pub(super) fn container_namespaces(
    init: i32,
    wanted: &[(&str, rustix::thread::LinkNameSpaceType)],
) -> Result<Vec<(OwnedFd, rustix::thread::LinkNameSpaceType)>, String> {
    use rustix::fs::{Mode, OFlags};
    let dir = namespace_holder(init)?;
    let mut joins = Vec::new();
    for (name, kind) in wanted {
        let path = format!("ns/{name}");
        let theirs = rustix::fs::openat(
            &dir,
            path.as_str(),
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| format!("opening the container's {name} namespace: {e}"))?;
        let ours = rustix::fs::stat(format!("/proc/self/ns/{name}").as_str())
            .map_err(|e| format!("this process's {name} namespace: {e}"))?;
        let st = rustix::fs::fstat(&theirs).map_err(|e| e.to_string())?;
        if st.st_ino == ours.st_ino && st.st_dev == ours.st_dev {
            if *name == "mnt" {
                return Err("the container's mount namespace is this process's own: refusing to run outside it".into());
            }
            continue;
        }
        joins.push((theirs, *kind));
    }
    Ok(outer_user_namespace_first(joins))
}

/// A container with id maps of its own has its user namespace inside the user's, and may
/// share namespaces the user's owns (its network on the user's network namespace): those can
/// only be joined as root of the user's namespace, before the container's own. So: the user's
/// namespace, the others, the container's, the mount namespace. A container without id maps
/// of its own keeps the order (its user namespace first).
fn outer_user_namespace_first(
    mut joins: Vec<(OwnedFd, rustix::thread::LinkNameSpaceType)>,
) -> Vec<(OwnedFd, rustix::thread::LinkNameSpaceType)> {
    use rustix::thread::LinkNameSpaceType::{Mount, User};
    let Some(at) = joins.iter().position(|(_, k)| *k == User) else {
        return joins;
    };
    let Ok(parent) = crate::sys::parent_user_namespace(joins[at].0.as_fd()) else {
        return joins;
    };
    let (Ok(p), Ok(ours)) = (
        rustix::fs::fstat(&parent),
        rustix::fs::stat("/proc/self/ns/user"),
    ) else {
        return joins;
    };
    if p.st_ino == ours.st_ino && p.st_dev == ours.st_dev {
        return joins;
    }
    let own = joins.remove(at);
    let mount = joins
        .iter()
        .position(|(_, k)| *k == Mount)
        .map(|i| joins.remove(i));
    let mut out = vec![(parent, User)];
    out.extend(joins);
    out.push(own);
    out.extend(mount);
    out
}

/// A descriptor of the /proc directory of the process whose namespaces `exec` joins: the
/// container's PID 1, or with `--init` the workload that init started (init is not dumpable,
/// so its /proc/PID/ns can't be opened by the user; the workload's can, and it has the same
/// namespaces unless it made others of its own). The child is found by its parent, read
/// through the directory descriptor itself.
fn namespace_holder(init: i32) -> Result<OwnedFd, String> {
    use rustix::fs::{Mode, OFlags};
    let open = |pid: i32| {
        rustix::fs::open(
            format!("/proc/{pid}").as_str(),
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()
    };
    let readable = |dir: &OwnedFd| rustix::fs::readlinkat(dir, "ns/user", Vec::new()).is_ok();
    let parent = |dir: &OwnedFd| -> Option<i32> {
        let fd = rustix::fs::openat(dir, "stat", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .ok()?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::fs::File::from(fd), &mut text).ok()?;
        text.rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let init_dir = open(init).ok_or_else(|| format!("the container's PID 1 ({init}) is gone"))?;
    if readable(&init_dir) {
        return Ok(init_dir);
    }
    let child = |pid: i32| open(pid).filter(|d| parent(d) == Some(init) && readable(d));
    // init forks the workload at once: usually the next pid.
    if let Some(dir) = child(init + 1) {
        return Ok(dir);
    }
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .find_map(child)
        .ok_or_else(|| "none of the container's processes can be joined".to_string())
}

/// In the forked child, before it goes near the container: not dumpable (its memory, its
/// descriptors and its executable, skiff's binary, are out of the container's reach: runc's
/// CVE-2019-5736 and CVE-2016-9962), none of the caller's environment in its memory, no
/// descriptor but those it passes on; then stdin, output and the container's namespaces.
fn enter(
    joins: &[(OwnedFd, rustix::thread::LinkNameSpaceType)],
    null: Option<&std::fs::File>,
    output: Option<std::os::fd::RawFd>,
    report: std::os::fd::RawFd,
    spec: &Spec,
) -> Result<(), super::report::Failure> {
    use std::os::fd::AsRawFd;
    // (The environment first: /proc/self/mem is root's once the process is not dumpable.)
    crate::sys::wipe_environment()
        .map_err(|e| super::report::fail("clearing the environment", e))?;
    crate::sys::set_not_dumpable().map_err(|e| super::report::fail("prctl(PR_SET_DUMPABLE)", e))?;
    let mut keep: Vec<i32> = joins.iter().map(|(fd, _)| fd.as_raw_fd()).collect();
    keep.push(report);
    keep.extend(null.map(|f| f.as_raw_fd()));
    keep.extend(output);
    keep.extend(spec.console_socket);
    crate::sys::close_fds_except(&keep);
    if let Some(null) = null {
        crate::sys::dup_onto(std::os::fd::AsRawFd::as_raw_fd(null), 0)
            .map_err(|e| super::report::fail("redirecting stdin", e))?;
    }
    if let Some(fd) = output {
        for target in [1, 2] {
            crate::sys::dup_onto(fd, target)
                .map_err(|e| super::report::fail("redirecting the output", e))?;
        }
    }
    for (fd, kind) in joins {
        rustix::thread::move_into_link_name_space(fd.as_fd(), Some(*kind))
            .map_err(|e| super::report::fail("joining the container's namespaces", e))?;
    }
    if joins
        .iter()
        .any(|(_, k)| *k == rustix::thread::LinkNameSpaceType::User)
    {
        crate::sys::become_root().map_err(|e| super::report::fail("setresuid(0)", e))?;
        // In a nested user namespace that changed the process's ids: dumpable again where
        // fs.suid_dumpable says so.
        crate::sys::set_not_dumpable()
            .map_err(|e| super::report::fail("prctl(PR_SET_DUMPABLE)", e))?;
    }
    Ok(())
}
