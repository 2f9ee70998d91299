//! `--userns` and `--uidmap/--gidmap`: the id maps of a container that gets a user namespace
//! of its own, nested in the user's (see `runtime::userns::IdShift`). Ids on the right of a
//! mapping are ids of the user's namespace, as in rootless Podman: 0 is the user, 1.. the
//! subordinate ids from /etc/subuid and /etc/subgid.

use crate::engine::Engine;
use crate::runtime::userns::{Holder, IdMapping, IdShift, UserNs};
use crate::Error;

/// In the run root: one empty entry `PID-START` per monitor started, whose user namespace a
/// later container may join. A directory on the runtime's tmpfs rather than the records: one
/// readdir on the run path, however many stopped containers the store holds. Entries of
/// monitors that are gone are removed by whoever finds them.
const HOLDERS_DIR: &str = "userns-holders";

impl Engine {
    /// A live user namespace of the user's for a new container to join: that of a running
    /// container's monitor; none when no container runs.
    pub(crate) fn user_namespace_holder(&self, ns: &UserNs) -> Option<Holder> {
        let dir = self.paths.run_root.join(HOLDERS_DIR);
        for entry in std::fs::read_dir(&dir).ok()?.flatten() {
            let name = entry.file_name();
            let parsed = name.to_str().and_then(|n| {
                let (pid, start) = n.split_once('-')?;
                Some((pid.parse().ok()?, start.parse().ok()?))
            });
            let Some((pid, start)) = parsed else {
                continue;
            };
            if let Some(holder) = Holder::of_process(pid, start, ns) {
                return Some(holder);
            }
            if crate::sys::process_start(pid) != start {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        None
    }

    /// Names the monitor `pid` as holding the user's namespace, for the next containers.
    pub(crate) fn note_user_namespace_holder(&self, pid: u32) {
        let Ok(pid) = i32::try_from(pid) else {
            return;
        };
        let start = crate::sys::process_start(pid);
        let dir = self.paths.run_root.join(HOLDERS_DIR);
        // A hint only: without it, the next container makes a namespace of its own.
        let entry = dir.join(format!("{pid}-{start}"));
        if std::fs::write(&entry, "").is_err() {
            let _ = std::fs::create_dir(&dir).and_then(|()| std::fs::write(&entry, ""));
        }
    }
}

/// The user namespace a container asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum UsernsMode {
    /// The user's own namespace (Podman's rootless default).
    #[default]
    Host,
    /// The user's uid and gid are the same inside (`keep-id[:uid=N,gid=N]`).
    KeepId { uid: Option<u32>, gid: Option<u32> },
    /// A range of its own, not shared with other `auto` containers (`auto[:size=N]`).
    Auto { size: Option<u32> },
    /// `--uidmap`/`--gidmap` as given.
    Maps {
        uid: Vec<IdMapping>,
        gid: Vec<IdMapping>,
    },
}

impl UsernsMode {
    /// Parses `--userns` (with `--uidmap`/`--gidmap`, which take precedence as in Podman).
    pub fn parse(
        userns: Option<&str>,
        uidmap: &[String],
        gidmap: &[String],
    ) -> Result<UsernsMode, Error> {
        if !uidmap.is_empty() || !gidmap.is_empty() {
            let uid = uidmap
                .iter()
                .map(|m| parse_mapping(m, "--uidmap"))
                .collect::<Result<Vec<_>, _>>()?;
            let gid = gidmap
                .iter()
                .map(|m| parse_mapping(m, "--gidmap"))
                .collect::<Result<Vec<_>, _>>()?;
            // One given alone serves for both, as in Podman.
            let (uid, gid) = match (uid.is_empty(), gid.is_empty()) {
                (true, _) => (gid.clone(), gid),
                (_, true) => (uid.clone(), uid),
                _ => (uid, gid),
            };
            return Ok(UsernsMode::Maps { uid, gid });
        }
        let value = userns.unwrap_or("");
        let (mode, options) = value.split_once(':').unwrap_or((value, ""));
        let option = |key: &str| -> Result<Option<u32>, Error> {
            for o in options.split(',').filter(|o| !o.is_empty()) {
                let (k, v) = o.split_once('=').ok_or_else(|| bad_userns(value))?;
                if !["uid", "gid", "size"].contains(&k) {
                    return Err(bad_userns(value));
                }
                if k == key {
                    return v.parse().map(Some).map_err(|_| bad_userns(value));
                }
            }
            Ok(None)
        };
        match mode {
            "" | "host" => Ok(UsernsMode::Host),
            "keep-id" => Ok(UsernsMode::KeepId {
                uid: option("uid")?,
                gid: option("gid")?,
            }),
            "auto" => Ok(UsernsMode::Auto {
                size: option("size")?,
            }),
            "nomap" | "private" | "ns" => Err(Error::NotSupported(format!("--userns={value}"))),
            _ => Err(bad_userns(value)),
        }
    }
}

fn bad_userns(value: &str) -> Error {
    Error::Invalid(format!(
        "invalid --userns {value:?}: use host, keep-id[:uid=N,gid=N] or auto[:size=N]"
    ))
}

/// `CONTAINER:HOST[:SIZE]` (size 1 when left out).
fn parse_mapping(text: &str, flag: &str) -> Result<IdMapping, Error> {
    let numbers: Vec<Option<u32>> = text.split(':').map(|n| n.parse().ok()).collect();
    let bad = || {
        Error::Invalid(format!(
            "invalid {flag} {text:?}: expected CONTAINER:HOST[:SIZE]"
        ))
    };
    let (container, host, size) = match numbers.as_slice() {
        [Some(c), Some(h)] => (*c, *h, 1),
        [Some(c), Some(h), Some(s)] if *s > 0 => (*c, *h, *s),
        _ => return Err(bad()),
    };
    if container.checked_add(size).is_none() || host.checked_add(size).is_none() {
        return Err(bad());
    }
    Ok(IdMapping {
        container,
        host,
        size,
    })
}

/// Default size of an `auto` range: enough for the ids images commonly use.
const AUTO_SIZE: u32 = 1024;

/// What a container's own user namespace changes in its spec.
pub struct NestedUser {
    pub shift: IdShift,
    /// `keep-id`: the passwd and group lines to add, and the user to run as by default.
    pub keep_id: Option<((String, String), String, String)>,
}

impl Engine {
    /// The maps for `mode`, checked against the ids this user has; `None` for the user's own
    /// namespace.
    pub fn nested_user(&self, mode: &UsernsMode) -> Result<Option<NestedUser>, Error> {
        if *mode == UsernsMode::Host {
            // The common case, on the run path: no /etc/subuid read for it.
            return Ok(None);
        }
        let rootless = self.user.rootless();
        let (outer_uids, outer_gids, has_subids) = if rootless {
            let ns: UserNs = self.userns();
            (
                UserNs::contiguous(&ns.uid_map),
                UserNs::contiguous(&ns.gid_map),
                ns.has_subids(),
            )
        } else {
            (u32::MAX, u32::MAX, true)
        };
        let shift = |uid_map, gid_map, auto| IdShift {
            uid_map: with_owner(uid_map),
            gid_map: with_owner(gid_map),
            shift_files: has_subids,
            auto,
        };
        match mode {
            UsernsMode::Host => Ok(None),
            UsernsMode::KeepId { uid, gid } => {
                if !rootless {
                    return Err(Error::Invalid(
                        "--userns=keep-id is for rootless containers: root's ids are the host's already".into(),
                    ));
                }
                let uid = uid.unwrap_or(self.user.uid);
                let gid = gid.unwrap_or(self.user.gid);
                let name = self
                    .user
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("user{uid}"));
                let home = std::env::var("HOME").unwrap_or_else(|_| format!("/home/{name}"));
                let passwd = format!("{name}:*:{uid}:{gid}:{name}:{home}:/bin/sh");
                let group = format!("{name}:x:{gid}:");
                Ok(Some(NestedUser {
                    shift: shift(keep(uid, outer_uids), keep(gid, outer_gids), false),
                    keep_id: Some(((passwd, group), format!("{uid}:{gid}"), home)),
                }))
            }
            UsernsMode::Auto { size } => {
                if !rootless {
                    return Err(Error::NotSupported("--userns=auto for root".into()));
                }
                if !has_subids {
                    return Err(Error::Invalid(
                        "--userns=auto needs subordinate ids: this user has no range in /etc/subuid and /etc/subgid".into(),
                    ));
                }
                let size = size.unwrap_or(AUTO_SIZE).max(1);
                let base = self.free_auto_range(size, outer_uids.min(outer_gids))?;
                let map = vec![IdMapping {
                    container: 0,
                    host: base,
                    size,
                }];
                Ok(Some(NestedUser {
                    shift: shift(map.clone(), map, true),
                    keep_id: None,
                }))
            }
            UsernsMode::Maps { uid, gid } => {
                check_within(uid, outer_uids, "--uidmap", "/etc/subuid")?;
                check_within(gid, outer_gids, "--gidmap", "/etc/subgid")?;
                Ok(Some(NestedUser {
                    shift: shift(uid.clone(), gid.clone(), false),
                    keep_id: None,
                }))
            }
        }
    }

    /// The lowest range of `size` ids in 1..`limit` that no other `auto` container holds.
    pub(crate) fn free_auto_range(&self, size: u32, limit: u32) -> Result<u32, Error> {
        let mut taken: Vec<(u32, u32)> = self
            .containers()?
            .iter()
            .filter_map(|c| c.spec.id_shift.as_ref())
            .filter(|s| s.auto)
            .flat_map(|s| s.uid_map.iter().map(|m| (m.host, m.host + m.size)))
            .collect();
        taken.sort_unstable();
        let mut base = 1u32;
        for (start, end) in taken {
            if base + size <= start {
                break;
            }
            base = base.max(end);
        }
        if base.checked_add(size).is_none_or(|end| end > limit) {
            return Err(Error::Invalid(format!(
                "no free range of {size} ids left for --userns=auto (this user has {} subordinate ids; remove containers or ask for a smaller size=)",
                limit.saturating_sub(1)
            )));
        }
        Ok(base)
    }
}

/// keep-id: `id` inside is the user (0 of the user's namespace); the ids below it are the
/// subordinate ids 1.., and the ones above it the rest of the range.
fn keep(id: u32, outer: u32) -> Vec<IdMapping> {
    let mut map = Vec::new();
    let below = id.min(outer.saturating_sub(1));
    if below > 0 {
        map.push(IdMapping {
            container: 0,
            host: 1,
            size: below,
        });
    }
    map.push(IdMapping {
        container: id,
        host: 0,
        size: 1,
    });
    if id + 1 < outer {
        map.push(IdMapping {
            container: id + 1,
            host: id + 1,
            size: outer - id - 1,
        });
    }
    map
}

/// The container id that the user's own id gets where a map leaves it out.
pub const OWNER_ID: u32 = u32::MAX - 1;

/// Adds the user (id 0 of the user's namespace) at `OWNER_ID` unless the map has it: the
/// container's root can then reach the container's own files on the host (its run directory
/// under a 0700 XDG_RUNTIME_DIR, the files bind-mounted in) as it does without a map.
fn with_owner(mut map: Vec<IdMapping>) -> Vec<IdMapping> {
    let has_owner = map.iter().any(|m| m.host == 0);
    let id_free = !map
        .iter()
        .any(|m| OWNER_ID >= m.container && OWNER_ID - m.container < m.size);
    if !has_owner && id_free {
        map.push(IdMapping {
            container: OWNER_ID,
            host: 0,
            size: 1,
        });
    }
    map
}

fn check_within(map: &[IdMapping], outer: u32, flag: &str, file: &str) -> Result<(), Error> {
    for m in map {
        if m.host.checked_add(m.size).is_none_or(|end| end > outer) {
            return Err(Error::Invalid(format!(
                "{flag} {}:{}:{}: this user's namespace has ids 0 to {} only (0 is you, the rest come from {file})",
                m.container,
                m.host,
                m.size,
                outer.saturating_sub(1)
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(container: u32, host: u32, size: u32) -> IdMapping {
        IdMapping {
            container,
            host,
            size,
        }
    }

    #[test]
    fn keep_id_maps() {
        assert_eq!(
            keep(1000, 65537),
            [m(0, 1, 1000), m(1000, 0, 1), m(1001, 1001, 64536)]
        );
        assert_eq!(keep(1000, 1), [m(1000, 0, 1)]);
        assert_eq!(keep(200000, 65537), [m(0, 1, 65536), m(200000, 0, 1)]);
    }

    #[test]
    fn parses_modes() {
        let p = |u: Option<&str>| UsernsMode::parse(u, &[], &[]);
        assert_eq!(p(None).unwrap(), UsernsMode::Host);
        assert_eq!(
            p(Some("keep-id:uid=5,gid=6")).unwrap(),
            UsernsMode::KeepId {
                uid: Some(5),
                gid: Some(6)
            }
        );
        assert_eq!(
            p(Some("auto:size=10")).unwrap(),
            UsernsMode::Auto { size: Some(10) }
        );
        assert!(p(Some("keep-id:nope=1")).is_err());
        assert!(p(Some("sideways")).is_err());
        let maps = UsernsMode::parse(None, &["0:1:10".into(), "10:0".into()], &[]).unwrap();
        assert_eq!(
            maps,
            UsernsMode::Maps {
                uid: vec![m(0, 1, 10), m(10, 0, 1)],
                gid: vec![m(0, 1, 10), m(10, 0, 1)]
            }
        );
        assert!(UsernsMode::parse(None, &["0:x".into()], &[]).is_err());
    }
}
