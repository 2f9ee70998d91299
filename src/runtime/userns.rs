//! User namespaces for helper processes.
//!
//! A rootless user can only own files as its subuid range from inside a user namespace, and only a
//! single-threaded process may create one. So work that must create such files (unpacking a layer,
//! removing one) runs in a fresh `skiff` helper process: it unshares first thing in `main`, tells
//! the parent over an inherited socket, the parent writes its id maps (newuidmap/newgidmap for
//! subuid ranges, a plain write for a single-uid map), and the helper carries on as root inside.
//!
//! One user namespace serves all of a user's containers while any holds it: a container's
//! helper joins the namespace of a live monitor (a [`Holder`], kept open so that it can't go
//! away meanwhile) instead of making one, which takes the setuid map tools off its path and
//! lets containers share their other namespaces (setns(2) of a network namespace needs the user
//! namespace that owns it). A helper that can't join makes a new one, as when none is held.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use crate::config::IdRange;
use crate::runtime::RuntimeError;

/// The fd number the helper finds its end of the sync socket on.
const SYNC_FD: i32 = 3;
/// Set in the helper's environment; its presence makes `main` unshare before anything else.
pub const SYNC_ENV: &str = "_SKIFF_USERNS_SYNC";
/// The fd number a helper that is to join a user namespace finds it on.
const JOIN_FD: i32 = 4;
/// Set in the environment of a helper that is to join the namespace on `JOIN_FD`.
const JOIN_ENV: &str = "_SKIFF_USERNS_JOIN";

/// A live user namespace of the user's, held open (it lives while the descriptor does).
pub struct Holder(OwnedFd);

impl Holder {
    /// The user namespace of process `pid`, started at `start` (so that a recycled pid is never
    /// taken for it), when that is a namespace of the user's with `ns`'s maps.
    pub fn of_process(pid: i32, start: u64, ns: &UserNs) -> Option<Holder> {
        if pid <= 0 || start == 0 || crate::sys::process_start(pid) != start {
            return None;
        }
        // A descriptor well above the ones `spawn` moves into place (3 and 4).
        let fd = rustix::fs::open(
            format!("/proc/{pid}/ns/user"),
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .ok()?;
        let fd = rustix::io::fcntl_dupfd_cloexec(&fd, 10).ok()?;
        let maps_match = |file: &str, map: &[IdMapping]| {
            std::fs::read_to_string(format!("/proc/{pid}/{file}"))
                .is_ok_and(|text| same_map(&text, map))
        };
        // Opened first, checked after: the namespace held is that process's, still running.
        let ours = maps_match("uid_map", &ns.uid_map)
            && maps_match("gid_map", &ns.gid_map)
            && crate::sys::process_start(pid) == start
            && !same_namespace(&fd);
        ours.then_some(Holder(fd))
    }
}

/// Whether `fd` is this process's own user namespace (root's, or a helper's): not one to join.
fn same_namespace(fd: &OwnedFd) -> bool {
    let (Ok(theirs), Ok(own)) = (
        rustix::fs::fstat(fd),
        rustix::fs::stat("/proc/self/ns/user"),
    ) else {
        return true;
    };
    (theirs.st_dev, theirs.st_ino) == (own.st_dev, own.st_ino)
}

/// Whether a uid_map or gid_map as the kernel prints it holds exactly `map`.
fn same_map(text: &str, map: &[IdMapping]) -> bool {
    let numbers: Vec<u32> = text
        .split_whitespace()
        .map_while(|n| n.parse().ok())
        .collect();
    let want: Vec<u32> = map
        .iter()
        .flat_map(|m| [m.container, m.host, m.size])
        .collect();
    numbers == want
}

/// One line of a uid_map or gid_map: `size` ids from `container` inside are `host` outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdMapping {
    pub container: u32,
    pub host: u32,
    pub size: u32,
}

/// A container's own id maps (`--userns=keep-id|auto`, `--uidmap`), relative to the user's
/// namespace: the container gets a user namespace nested in the user's, in which `host` of
/// each mapping is an id of the user's namespace (0 = the user, 1.. = the subordinate ids).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdShift {
    pub uid_map: Vec<IdMapping>,
    pub gid_map: Vec<IdMapping>,
    /// Whether the image's files must be shown shifted (fuse-overlayfs `uidmapping`, or a
    /// chowned copy) so that the container sees the image's owners. Not with a single id:
    /// then every file belongs to the user, and the container sees them as the user's.
    pub shift_files: bool,
    /// `--userns=auto`: the range was allocated for this container (others avoid it).
    #[serde(default)]
    pub auto: bool,
}

impl IdShift {
    /// The id an image file owned by `id` is presented as in the user's namespace, so that the
    /// container sees `id` (unmapped ids stay as they are).
    pub fn present(map: &[IdMapping], id: u32) -> u32 {
        map.iter()
            .find(|m| id >= m.container && id - m.container < m.size)
            .map_or(id, |m| m.host + (id - m.container))
    }

    /// fuse-overlayfs's `uidmapping=`/`gidmapping=` value: `ON-DISK:PRESENTED:LEN` triples.
    pub fn fuse_mapping(map: &[IdMapping]) -> String {
        map.iter()
            .map(|m| format!("{}:{}:{}", m.container, m.host, m.size))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// Writes the maps of the nested user namespace of `pid` (from its parent, which is root
    /// in the user's namespace and so may map any of its ids).
    pub fn write_maps(&self, pid: i32) -> io::Result<()> {
        std::fs::write(format!("/proc/{pid}/uid_map"), map_text(&self.uid_map))?;
        std::fs::write(format!("/proc/{pid}/gid_map"), map_text(&self.gid_map))
    }
}

/// The id maps of a user's namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserNs {
    pub uid_map: Vec<IdMapping>,
    pub gid_map: Vec<IdMapping>,
    /// Whether the maps go through the setuid helpers (anything beyond the user's own id does).
    pub needs_helpers: bool,
}

impl UserNs {
    /// Container root is the user; ids 1.. are the user's subordinate ranges, in file order.
    /// Without ranges only root is mapped, and image owners collapse to it.
    pub fn for_user(uid: u32, gid: u32, subuids: &[IdRange], subgids: &[IdRange]) -> UserNs {
        let map = |own: u32, ranges: &[IdRange]| {
            let mut out = vec![IdMapping {
                container: 0,
                host: own,
                size: 1,
            }];
            let mut next = 1u32;
            for r in ranges.iter().filter(|r| r.count > 0) {
                out.push(IdMapping {
                    container: next,
                    host: r.start,
                    size: r.count,
                });
                next = next.saturating_add(r.count);
            }
            out
        };
        let uid_map = map(uid, subuids);
        let gid_map = map(gid, subgids);
        let needs_helpers = uid_map.len() > 1 || gid_map.len() > 1;
        UserNs {
            uid_map,
            gid_map,
            needs_helpers,
        }
    }

    /// How many ids, counting from 0, are mapped without a gap.
    pub fn contiguous(map: &[IdMapping]) -> u32 {
        let mut next = 0u32;
        let mut sorted = map.to_vec();
        sorted.sort_by_key(|m| m.container);
        for m in sorted {
            if m.container != next {
                break;
            }
            next = next.saturating_add(m.size);
        }
        next
    }

    pub fn has_subids(&self) -> bool {
        self.uid_map.len() > 1 && self.gid_map.len() > 1
    }
}

/// A helper process inside its user namespace. The helper watches `lifeline`: when this process
/// dies (a killed pull) the socket closes and the helper exits at once, so it never works on in a
/// staging directory that a later command is cleaning up. Keep it until the child is reaped.
pub struct Helper {
    pub child: Child,
    pub lifeline: UnixStream,
}

/// A socket pair whose second end `cmd`'s process finds on descriptor 3 (keep that end open
/// until `cmd` is spawned, then drop it).
pub fn socket_on_fd3(cmd: &mut Command) -> Result<(UnixStream, UnixStream), RuntimeError> {
    let (ours, theirs) = UnixStream::pair().map_err(RuntimeError::Io)?;
    let theirs_fd = theirs.as_raw_fd();
    // SAFETY: the closure runs between fork and exec and only calls async-signal-safe dup2/fcntl.
    unsafe {
        cmd.pre_exec(move || {
            if theirs_fd == SYNC_FD {
                if libc::fcntl(SYNC_FD, libc::F_SETFD, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
            } else if libc::dup2(theirs_fd, SYNC_FD) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok((ours, theirs))
}

/// Starts `cmd` (a skiff helper) and returns once it is inside a new user namespace with `ns`'s maps.
pub fn spawn(cmd: Command, ns: &UserNs) -> Result<Helper, RuntimeError> {
    spawn_joining(cmd, ns, None)
}

/// `spawn`, into the namespace of `holder` where given and the helper can join it (it makes
/// one of its own with `ns`'s maps where it can't).
pub fn spawn_joining(
    mut cmd: Command,
    ns: &UserNs,
    holder: Option<&Holder>,
) -> Result<Helper, RuntimeError> {
    cmd.env(SYNC_ENV, SYNC_FD.to_string());
    let (mut ours, theirs) = socket_on_fd3(&mut cmd)?;
    if let Some(Holder(fd)) = holder {
        cmd.env(JOIN_ENV, JOIN_FD.to_string());
        // Above 9 (see `Holder::of_process`): the move of the socket onto 3 can't touch it.
        let raw = fd.as_raw_fd();
        // SAFETY: the closure runs between fork and exec and only calls async-signal-safe dup2.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(raw, JOIN_FD) < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn().map_err(RuntimeError::Io)?;
    drop(theirs);
    let mut byte = [0u8; 1];
    let ready = ours.read(&mut byte).map_err(RuntimeError::Io)?;
    if ready == 1 && byte[0] == b'J' {
        // It joined: the namespace has its maps already.
        ours.write_all(b"M").map_err(RuntimeError::Io)?;
        return Ok(Helper {
            child,
            lifeline: ours,
        });
    }
    if ready != 1 || byte[0] != b'U' {
        let _ = child.kill();
        let _ = child.wait();
        return Err(RuntimeError::Userns(
            "the helper could not create a user namespace (are unprivileged user namespaces \
             disabled? check sysctl kernel.unprivileged_userns_clone and user.max_user_namespaces)"
                .into(),
        ));
    }
    if let Err(e) = write_maps(child.id(), ns) {
        let _ = ours.write_all(b"E");
        let _ = child.kill();
        let _ = child.wait();
        return Err(e);
    }
    ours.write_all(b"M").map_err(RuntimeError::Io)?;
    Ok(Helper {
        child,
        lifeline: ours,
    })
}

pub(super) fn write_maps(pid: u32, ns: &UserNs) -> Result<(), RuntimeError> {
    if ns.needs_helpers {
        // Both at once: each is a setuid program that takes a few milliseconds to start.
        let uid_tool = start_map_tool("newuidmap", pid, &ns.uid_map)?;
        let gid_tool = start_map_tool("newgidmap", pid, &ns.gid_map);
        let uid_result = finish_map_tool("newuidmap", uid_tool);
        finish_map_tool("newgidmap", gid_tool?)?;
        uid_result
    } else {
        // Our own id alone needs no helper, but setgroups must be denied before gid_map is written.
        let write = |file: &str, text: String| {
            std::fs::write(format!("/proc/{pid}/{file}"), text)
                .map_err(|e| RuntimeError::Userns(format!("writing /proc/{pid}/{file}: {e}")))
        };
        write("uid_map", map_text(&ns.uid_map))?;
        write("setgroups", "deny".into())?;
        write("gid_map", map_text(&ns.gid_map))
    }
}

fn map_text(map: &[IdMapping]) -> String {
    map.iter()
        .map(|m| format!("{} {} {}\n", m.container, m.host, m.size))
        .collect()
}

fn start_map_tool(tool: &str, pid: u32, map: &[IdMapping]) -> Result<Child, RuntimeError> {
    let mut cmd = Command::new(tool);
    cmd.arg(pid.to_string());
    for m in map {
        cmd.args([m.container, m.host, m.size].map(|n| n.to_string()));
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => RuntimeError::Userns(format!(
                "{tool} is not installed: install the uidmap package (apt-get install uidmap)"
            )),
            _ => RuntimeError::Userns(format!("running {tool}: {e}")),
        })
}

fn finish_map_tool(tool: &str, child: Child) -> Result<(), RuntimeError> {
    let out = child
        .wait_with_output()
        .map_err(|e| RuntimeError::Userns(format!("running {tool}: {e}")))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr)
            .trim()
            .replace('\n', "; ");
        return Err(RuntimeError::Userns(format!(
            "{tool} refused the id map ({why}): check this user's ranges in /etc/subuid and /etc/subgid"
        )));
    }
    Ok(())
}

/// First thing in `main`: if this process was started by `spawn`, unshare the user namespace,
/// wait for the maps and become root inside. Returns the lifeline to the parent when it did
/// (see [`watch_parent`]); the process has a single thread still, so it may unshare more.
pub fn enter_if_helper() -> Result<Option<UnixStream>, RuntimeError> {
    if std::env::var_os(SYNC_ENV).is_none() {
        return Ok(None);
    }
    std::env::remove_var(SYNC_ENV);
    // SAFETY: fd 3 was set up by `spawn` for this process alone and is owned here from now on.
    let mut sync = unsafe { UnixStream::from_raw_fd(SYNC_FD) };
    let joined = std::env::var_os(JOIN_ENV).is_some() && {
        std::env::remove_var(JOIN_ENV);
        // SAFETY: fd 4 was set up by `spawn_joining` for this process alone, owned from now on.
        let holder = unsafe { OwnedFd::from_raw_fd(JOIN_FD) };
        crate::sys::join_user_namespace(&holder).is_ok()
    };
    if !joined {
        crate::sys::unshare_user_namespace()
            .map_err(|e| RuntimeError::Userns(format!("unshare(CLONE_NEWUSER) failed: {e}")))?;
    }
    sync.write_all(if joined { b"J" } else { b"U" })
        .map_err(|_| RuntimeError::ParentGone)?;
    let mut byte = [0u8; 1];
    // A failed read means the parent is gone: nobody is left to tell.
    let n = sync.read(&mut byte).map_err(|_| RuntimeError::ParentGone)?;
    if n != 1 || byte[0] != b'M' {
        return Err(RuntimeError::ParentGone);
    }
    crate::sys::become_root().map_err(|e| RuntimeError::Userns(format!("setresuid(0): {e}")))?;
    Ok(Some(sync))
}

/// Runs `on_death` on a thread of its own once the parent is gone (its end of the lifeline
/// closes: the parent never writes again). Starts a thread: call after any unshare.
pub fn watch_parent(mut lifeline: UnixStream, on_death: impl FnOnce() + Send + 'static) {
    std::thread::spawn(move || {
        let mut byte = [0u8; 1];
        let _ = lifeline.read(&mut byte);
        on_death();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_are_compared_as_the_kernel_prints_them() {
        let map = [
            IdMapping {
                container: 0,
                host: 1001,
                size: 1,
            },
            IdMapping {
                container: 1,
                host: 100000,
                size: 65536,
            },
        ];
        let printed = "         0       1001          1\n         1     100000      65536\n";
        assert!(same_map(printed, &map));
        assert!(!same_map("         0       1001          1\n", &map));
        assert!(!same_map("         0       1002          1\n", &map[..1]));
        assert!(same_map("", &[]));
    }

    #[test]
    fn maps_for_user_with_and_without_ranges() {
        let ns = UserNs::for_user(
            1000,
            1000,
            &[IdRange {
                start: 100000,
                count: 65536,
            }],
            &[IdRange {
                start: 200000,
                count: 65536,
            }],
        );
        assert!(ns.needs_helpers);
        assert_eq!(UserNs::contiguous(&ns.uid_map), 65537);
        assert_eq!(map_text(&ns.gid_map), "0 1000 1\n1 200000 65536\n");
        let single = UserNs::for_user(1000, 1000, &[], &[]);
        assert!(!single.needs_helpers);
        assert_eq!(UserNs::contiguous(&single.uid_map), 1);
    }
}
