//! The container's root file system, from the moment the container has its own mount
//! namespace to pivot_root and the masks: the kernel's file systems (/proc, a minimal /dev with
//! the spec's devices, /sys), the /etc files the engine wrote, the requested mounts, a
//! read-only root. Every mount and namespace call goes through [`Syscall`].
//!
//! The process that runs these steps is forked from the single-threaded helper, so it may
//! allocate (no lock of a thread that is gone can be held: see `sys::fork`); still, what can be
//! worked out before the fork is, in [`Plan::new`], and the steps take only the plan: the
//! paths each mount names, its options, the checked device list. What is left for after the
//! fork needs the container's own mount namespace (paths resolved inside the root, which may
//! create mount points) or reports a failure.

use std::ffi::CString;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use rustix::mount::{MountFlags, UnmountFlags};

use super::devices;
use super::namespaces::Namespace;
use super::report::{fail, Failure};
use super::spec::{MountKind, MountSpec, Spec};
use super::syscall::Syscall;

pub(super) const MASKED: &[&str] = &[
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

pub(super) const READ_ONLY: &[&str] = &[
    "/proc/asound",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The standard nodes of /dev, each bound from the host's (rootless can't mknod them).
const NODES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// The links of /dev: (name, target).
const LINKS: [(&str, &str); 6] = [
    ("ptmx", "pts/ptmx"),
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("core", "/proc/kcore"),
];

/// What the set-up of one container mounts, worked out from its spec before the fork.
pub(super) struct Plan<'a> {
    pub spec: &'a Spec,
    root: &'a Path,
    proc_dir: PathBuf,
    dev: PathBuf,
    sys_dir: PathBuf,
    /// The standard nodes: (name, the host's node, the mount point).
    nodes: Vec<(&'static str, PathBuf, PathBuf)>,
    /// The links: (name, target, path).
    links: Vec<(&'static str, &'static str, PathBuf)>,
    pts: PathBuf,
    shm: PathBuf,
    mqueue: PathBuf,
    shm_options: CString,
    devices: Vec<devices::Prepared>,
}

impl<'a> Plan<'a> {
    /// Fails on a device the spec may not add (see `devices::prepare`).
    pub(super) fn new(spec: &'a Spec) -> Result<Self, String> {
        let root = spec.merged.as_path();
        let dev = root.join("dev");
        let shm_options = format!("mode=1777,size={}", spec.shm_size.unwrap_or(64 << 20));
        Ok(Plan {
            spec,
            root,
            proc_dir: root.join("proc"),
            sys_dir: root.join("sys"),
            nodes: NODES
                .iter()
                .map(|name| (*name, Path::new("/dev").join(name), dev.join(name)))
                .collect(),
            links: LINKS
                .iter()
                .map(|(name, target)| (*name, *target, dev.join(name)))
                .collect(),
            pts: dev.join("pts"),
            shm: dev.join("shm"),
            mqueue: dev.join("mqueue"),
            shm_options: CString::new(shm_options).map_err(|e| format!("shm options: {e}"))?,
            devices: devices::prepare(&spec.devices, &dev)?,
            dev,
        })
    }

    pub(super) fn root(&self) -> &Path {
        self.root
    }
}

/// In the container's own mount namespace: everything mounted in the root file system before
/// pivot_root, and the hostname.
pub(super) fn build_root<S: Syscall>(sys: &S, plan: &Plan) -> Result<(), Failure> {
    let spec = plan.spec;
    let root = plan.root;
    if spec.id_shift.is_some() {
        // Mounts that came from the helper's namespace are locked in this less privileged
        // one, and pivot_root refuses a locked root: a bind of it made here is not locked.
        sys.bind(root, root, true)
            .map_err(|e| fail("binding the root file system", e))?;
    }
    mount_kernel_files(sys, plan)?;
    tracing::debug!("container: /proc, /dev, /sys mounted");
    let root_fd = rustix::fs::open(
        root,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| fail("opening the root file system", e))?;
    for (inside, host) in &spec.etc_files {
        let target = in_root(&root_fd, inside, Kind::File)?;
        bind(sys, host, &target)?;
    }
    if let Some((passwd, group)) = &spec.add_user {
        add_line(&root_fd, "/etc/passwd", passwd)?;
        add_line(&root_fd, "/etc/group", group)?;
    }
    for m in &spec.mounts {
        mount_requested(sys, &root_fd, m)?;
    }
    if spec.read_only_root {
        for dir in ["/tmp", "/var/tmp", "/run"] {
            if !spec.mounts.iter().any(|m| m.target == dir) {
                let target = in_root(&root_fd, dir, Kind::Dir)?;
                sys.mount(
                    "tmpfs",
                    &target,
                    "tmpfs",
                    MountFlags::NOSUID | MountFlags::NODEV,
                    Some(c"mode=1777"),
                )
                .map_err(|e| fail(&format!("mounting a tmpfs on {dir}"), e))?;
            }
        }
        sys.remount(root, MountFlags::BIND | MountFlags::RDONLY)
            .map_err(|e| fail("making the root file system read-only", e))?;
    }
    // A UTS namespace that is not the container's own keeps its name.
    if spec.namespaces.uts == Namespace::New {
        sys.sethostname(&spec.hostname)
            .map_err(|e| fail("setting the hostname", e))?;
    }
    // Docker creates a missing working directory.
    in_root(&root_fd, &spec.cwd, Kind::Dir)
        .map_err(|(c, m)| (c, format!("creating the working directory: {m}")))?;
    Ok(())
}

/// pivot_root into `root` and detach the old root, so no path leads back to the host.
pub(super) fn enter_root<S: Syscall>(sys: &S, root: &Path) -> Result<(), Failure> {
    sys.chdir(root)
        .map_err(|e| fail("entering the root file system", e))?;
    sys.pivot_root(Path::new("."), Path::new("."))
        .map_err(|e| fail("pivot_root", e))?;
    sys.umount(Path::new("."), UnmountFlags::DETACH)
        .map_err(|e| fail("detaching the old root", e))?;
    sys.chdir(Path::new("/")).map_err(|e| fail("entering /", e))
}

/// After pivot_root: hides what the container must not see and makes read-only what it must
/// not change (nothing for `--privileged`). Best effort: a path the kernel lacks is skipped.
pub(super) fn mask_paths<S: Syscall>(sys: &S, privileged: bool) {
    if privileged {
        return;
    }
    for path in MASKED {
        mask(sys, path);
    }
    for path in READ_ONLY {
        let _ = read_only(sys, Path::new(path));
    }
}

fn mount_kernel_files<S: Syscall>(sys: &S, plan: &Plan) -> Result<(), Failure> {
    let nosuid_nodev_noexec = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    ensure_dir(&plan.proc_dir)?;
    let proc_mounted = sys.mount("proc", &plan.proc_dir, "proc", nosuid_nodev_noexec, None);
    match proc_mounted {
        Ok(()) => {}
        // A PID namespace the container shares may belong to a user namespace above the
        // user's, where the kernel refuses a new proc: the helper's, bound, shows the same.
        Err(_) if plan.spec.namespaces.pid != Namespace::New => {
            sys.bind(Path::new("/proc"), &plan.proc_dir, true)
                .map_err(|e| fail("binding /proc", e))?;
        }
        Err(e) => return Err(fail("mounting /proc", e)),
    }

    let dev = &plan.dev;
    ensure_dir(dev)?;
    let mode = c"mode=755,size=65536k";
    sys.mount(
        "tmpfs",
        dev,
        "tmpfs",
        MountFlags::NOSUID | MountFlags::STRICTATIME,
        Some(mode),
    )
    .map_err(|e| fail("mounting /dev", e))?;
    for (name, host, target) in &plan.nodes {
        // /dev is our own fresh tmpfs: plain paths are safe here.
        fs::File::create(target).map_err(|e| fail(&format!("creating /dev/{name}"), e))?;
        bind(sys, host, target)?;
    }
    ensure_dir(&plan.pts)?;
    sys.mount(
        "devpts",
        &plan.pts,
        "devpts",
        MountFlags::NOSUID | MountFlags::NOEXEC,
        Some(c"newinstance,ptmxmode=0666,mode=0620"),
    )
    .map_err(|e| fail("mounting /dev/pts", e))?;
    for (name, target, path) in &plan.links {
        std::os::unix::fs::symlink(target, path)
            .map_err(|e| fail(&format!("creating /dev/{name}"), e))?;
    }
    ensure_dir(&plan.shm)?;
    sys.mount(
        "shm",
        &plan.shm,
        "tmpfs",
        nosuid_nodev_noexec,
        Some(plan.shm_options.as_c_str()),
    )
    .map_err(|e| fail("mounting /dev/shm", e))?;
    ensure_dir(&plan.mqueue)?;
    // A message-queue file system needs the IPC namespace we own; older kernels refuse it.
    let _ = sys.mount("mqueue", &plan.mqueue, "mqueue", nosuid_nodev_noexec, None);
    devices::create(sys, &plan.devices)?;

    ensure_dir(&plan.sys_dir)?;
    // A fresh sysfs shows the container's own network namespace; with the host's network (or
    // where the kernel refuses) the host's /sys is bound read-only instead.
    let fresh = plan.spec.namespaces.network != Namespace::Host
        && sys
            .mount(
                "sysfs",
                &plan.sys_dir,
                "sysfs",
                nosuid_nodev_noexec | MountFlags::RDONLY,
                None,
            )
            .is_ok();
    if !fresh {
        sys.bind(Path::new("/sys"), &plan.sys_dir, true)
            .map_err(|e| fail("binding /sys", e))?;
        read_only(sys, &plan.sys_dir).map_err(|e| fail("making /sys read-only", e))?;
    }
    Ok(())
}

fn ensure_dir(path: &Path) -> Result<(), Failure> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(fail(
            &format!("preparing {}", path.display()),
            "not a directory",
        )),
        Err(_) => fs::DirBuilder::new()
            .mode(0o755)
            .create(path)
            .map_err(|e| fail(&format!("creating {}", path.display()), e)),
    }
}

/// Binds `source` (and what is mounted beneath it) onto `target`.
fn bind<S: Syscall>(sys: &S, source: &Path, target: &Path) -> Result<(), Failure> {
    sys.bind(source, target, true)
        .map_err(|e| fail(&format!("binding {}", source.display()), e))
}

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

pub(super) fn mount_requested<S: Syscall>(
    sys: &S,
    root_fd: &rustix::fd::OwnedFd,
    m: &MountSpec,
) -> Result<(), Failure> {
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
            bind(sys, source, &target)?;
            if m.readonly {
                // The fd named the directory under the mount; resolve again to reach the mount.
                let mounted = in_root(root_fd, &m.target, kind)?;
                read_only(sys, &mounted)
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
            sys.mount("tmpfs", &target, "tmpfs", flags, Some(options.as_c_str()))
                .map_err(|e| fail(&format!("mounting a tmpfs on {}", m.target), e))
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Dir,
    File,
}

/// A mount point at `path` inside the root file system, created if missing (directories
/// 0755, files empty), with every symlink on the way resolved as if the root were "/" (so an
/// image's `/etc -> /host/path` cannot send a mount or a new file out of the container, and a
/// link to a missing path, such as a dangling /etc/resolv.conf, gets its target created).
/// Returns a `/proc/self/fd/N` path that names it for mount(2), and keeps the fd open (it is
/// close-on-exec).
pub(super) fn in_root(
    root: &rustix::fd::OwnedFd,
    path: &str,
    kind: Kind,
) -> Result<PathBuf, Failure> {
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

fn read_only<S: Syscall>(sys: &S, path: &Path) -> io::Result<()> {
    let flags = MountFlags::BIND | MountFlags::RDONLY | locked_flags(path);
    if sys.remount(path, flags).is_ok() {
        return Ok(());
    }
    // Not a mount point yet: binding the path to itself makes it one. (Not done first: a
    // mount with submounts from outside may not be bound on its own in a user namespace.)
    sys.bind(path, path, false)?;
    sys.remount(path, flags)?;
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
fn mask<S: Syscall>(sys: &S, path: &str) {
    let target = Path::new(path);
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            let _ = sys.mount("tmpfs", target, "tmpfs", MountFlags::RDONLY, None);
        }
        Ok(_) => {
            let _ = sys.bind(Path::new("/dev/null"), target, false);
        }
        Err(_) => {}
    }
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
}
