//! Which namespaces a container gets. Network, IPC, PID and UTS are each a new one, the host's
//! (the helper's own, which rootless is inside the user's user namespace), or one to join by
//! path. The mount namespace is always new (pivot_root must move only the container), and so is
//! the cgroup one; the user namespace is always the user's (see `userns`), or with id maps one
//! of the container's own nested in it, so neither is a choice here.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::syscall::{NamespaceFlags, NamespaceType, Syscall};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Namespace {
    #[default]
    New,
    Host,
    /// setns(2) into the namespace this file names: /proc/PID/ns/…, or an nsfs file bound
    /// elsewhere to keep the namespace alive.
    Join(PathBuf),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespaces {
    #[serde(default)]
    pub network: Namespace,
    #[serde(default)]
    pub ipc: Namespace,
    #[serde(default)]
    pub pid: Namespace,
    #[serde(default)]
    pub uts: Namespace,
}

impl Namespaces {
    /// New namespaces but for the network's.
    pub fn with_network(network: Namespace) -> Self {
        Namespaces {
            network,
            ..Namespaces::default()
        }
    }

    /// The namespaces unshare(2) creates for the container, the mount and cgroup ones always
    /// (the PID namespace is made by the fork: see `fork_in_new_pid_namespace`).
    pub(super) fn unshare_flags(&self) -> NamespaceFlags {
        let mut flags = NamespaceFlags::NEWNS | NamespaceFlags::NEWCGROUP;
        for (ns, flag) in [
            (&self.uts, NamespaceFlags::NEWUTS),
            (&self.ipc, NamespaceFlags::NEWIPC),
            (&self.network, NamespaceFlags::NEWNET),
        ] {
            if *ns == Namespace::New {
                flags |= flag;
            }
        }
        flags
    }
}

/// The spec's `namespaces`, or in a spec written before there were any, its
/// `private_network`: a new network namespace when true, the host's when false, the rest new
/// (as they always were). Records on disk keep their specs, so both must load. The old field
/// is written too where it can say what the network is (not for a joined one), so that an
/// older skiff still reads the records this one rewrites.
pub(super) mod on_disk {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{Namespace, Namespaces};

    #[derive(Deserialize)]
    struct Read {
        #[serde(default)]
        namespaces: Option<Namespaces>,
        #[serde(default)]
        private_network: Option<bool>,
    }

    #[derive(Serialize)]
    struct Written<'a> {
        namespaces: &'a Namespaces,
        #[serde(skip_serializing_if = "Option::is_none")]
        private_network: Option<bool>,
    }

    pub fn serialize<S: Serializer>(namespaces: &Namespaces, s: S) -> Result<S::Ok, S::Error> {
        let private_network = match namespaces.network {
            Namespace::New => Some(true),
            Namespace::Host => Some(false),
            Namespace::Join(_) => None,
        };
        Written {
            namespaces,
            private_network,
        }
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Namespaces, D::Error> {
        let read = Read::deserialize(d)?;
        match (read.namespaces, read.private_network) {
            (Some(namespaces), _) => Ok(namespaces),
            (None, Some(true)) => Ok(Namespaces::with_network(Namespace::New)),
            (None, Some(false)) => Ok(Namespaces::with_network(Namespace::Host)),
            (None, None) => Err(serde::de::Error::missing_field("namespaces")),
        }
    }
}

/// Descriptors of the namespaces to join, opened before any fork so that a path that can't
/// be opened fails the start at once, with its name.
#[derive(Default)]
pub(super) struct Joins {
    joins: Vec<(OwnedFd, NamespaceType, &'static str, PathBuf)>,
}

/// The namespace kinds a spec chooses, as (what users call it, setns type).
const KINDS: [(&str, NamespaceType); 4] = [
    ("network", NamespaceType::Network),
    ("IPC", NamespaceType::InterProcessCommunication),
    ("UTS", NamespaceType::HostNameAndNISDomainName),
    ("PID", NamespaceType::ProcessID),
];

impl Joins {
    /// Opens the namespaces of `kinds` that `namespaces` joins.
    pub(super) fn open(namespaces: &Namespaces, kinds: &[NamespaceType]) -> Result<Self, String> {
        use rustix::fs::{Mode, OFlags};
        let mut joins = Vec::new();
        for (name, kind) in KINDS.into_iter().filter(|(_, k)| kinds.contains(k)) {
            let chosen = match kind {
                NamespaceType::Network => &namespaces.network,
                NamespaceType::InterProcessCommunication => &namespaces.ipc,
                NamespaceType::HostNameAndNISDomainName => &namespaces.uts,
                _ => &namespaces.pid,
            };
            let Namespace::Join(path) = chosen else {
                continue;
            };
            let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| {
                    format!(
                        "opening the {name} namespace to join ({}): {e}",
                        path.display()
                    )
                })?;
            joins.push((fd, kind, name, path.clone()));
        }
        Ok(Joins { joins })
    }

    /// Enters every namespace opened; the error names the one that failed.
    pub(super) fn enter<S: Syscall>(&self, sys: &S) -> Result<(), String> {
        for (fd, kind, name, path) in &self.joins {
            sys.setns(fd.as_fd(), *kind).map_err(|e| {
                format!(
                    "joining the {name} namespace {}: {e}{}",
                    path.display(),
                    if e.raw_os_error() == Some(libc::EINVAL) {
                        " (not a namespace of that kind?)"
                    } else {
                        ""
                    }
                )
            })?;
        }
        Ok(())
    }
}

/// Creates the container's new namespaces (`flags`), then joins those it shares: after the
/// unshare, so that no new namespace replaces a joined one. Single-threaded callers only.
pub(super) fn enter<S: Syscall>(
    sys: &S,
    flags: NamespaceFlags,
    joins: &Joins,
) -> Result<(), String> {
    sys.unshare(flags)
        .map_err(|e| format!("creating the container's namespaces: {e}"))?;
    joins.enter(sys)
}

/// This process's own PID namespace, to go back to after a fork into a joined one: setns(2)
/// into a PID namespace only changes where the next children go.
pub(super) fn own_pid_namespace() -> Result<OwnedFd, String> {
    use rustix::fs::{Mode, OFlags};
    rustix::fs::open(
        Path::new("/proc/self/ns/pid"),
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("opening this process's PID namespace: {e}"))
}

#[cfg(test)]
mod tests {
    use super::super::syscall::recording::{Call, Recording};
    use super::*;

    #[test]
    fn flags_follow_the_choices() {
        let all_new = Namespaces::default().unshare_flags();
        assert_eq!(
            all_new,
            NamespaceFlags::NEWNS
                | NamespaceFlags::NEWCGROUP
                | NamespaceFlags::NEWUTS
                | NamespaceFlags::NEWIPC
                | NamespaceFlags::NEWNET
        );
        let host_net = Namespaces::with_network(Namespace::Host).unshare_flags();
        assert_eq!(host_net, all_new - NamespaceFlags::NEWNET);
        let joined = Namespaces {
            uts: Namespace::Join("/proc/1/ns/uts".into()),
            ipc: Namespace::Host,
            ..Namespaces::default()
        }
        .unshare_flags();
        assert_eq!(
            joined,
            all_new - NamespaceFlags::NEWUTS - NamespaceFlags::NEWIPC
        );
    }

    #[test]
    fn joins_are_entered_after_the_unshare() {
        let ns = Namespaces {
            network: Namespace::Join("/proc/self/ns/net".into()),
            uts: Namespace::Join("/proc/self/ns/uts".into()),
            pid: Namespace::Join("/proc/self/ns/pid".into()),
            ..Namespaces::default()
        };
        // The PID namespace is joined around the fork, not here.
        let joins = Joins::open(
            &ns,
            &[
                NamespaceType::Network,
                NamespaceType::InterProcessCommunication,
                NamespaceType::HostNameAndNISDomainName,
            ],
        )
        .unwrap();
        let sys = Recording::default();
        enter(&sys, ns.unshare_flags(), &joins).unwrap();
        assert_eq!(
            sys.calls(),
            vec![
                Call::Unshare(
                    NamespaceFlags::NEWNS | NamespaceFlags::NEWCGROUP | NamespaceFlags::NEWIPC
                ),
                Call::Setns(NamespaceType::Network),
                Call::Setns(NamespaceType::HostNameAndNISDomainName),
            ]
        );
    }

    #[test]
    fn a_path_that_cannot_be_opened_is_named() {
        let ns = Namespaces::with_network(Namespace::Join("/nonexistent/ns/net".into()));
        let err = Joins::open(&ns, &[NamespaceType::Network])
            .err()
            .expect("an error");
        assert!(
            err.contains("network namespace") && err.contains("/nonexistent/ns/net"),
            "{err}"
        );
    }
}
