//! A user network's live part on disk: one directory per network in the runtime directory,
//! with an entry per attached container (its names, addresses, interfaces, and the monitor
//! that holds the network's namespace open), and a lock that attaching and leaving take.
//!
//! An entry is written to a temporary name and renamed into place, and removed by unlinking,
//! so a reader (a container's resolver, `network inspect`) sees each one whole or not at all.
//! An entry whose monitor is gone (killed) is dead: readers skip it, and the next one to take
//! the lock removes it.

use std::fs::{self, File};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// One container on one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub container: String,
    /// What the network's resolver answers for it: the container's name, its aliases, its
    /// short id.
    pub names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Ipv6Addr>,
    pub mac: String,
    /// The container's interface (`ethN`) and its peer on the bridge.
    pub interface: String,
    pub port: String,
    /// The monitor that holds the network's namespace open as descriptor `netns_fd`.
    pub monitor: i32,
    pub monitor_start: u64,
    pub netns_fd: i32,
}

impl Entry {
    pub fn alive(&self) -> bool {
        self.monitor > 0 && crate::sys::process_start(self.monitor) == self.monitor_start
    }

    pub fn answers(&self, name: &str) -> bool {
        self.names.iter().any(|n| n.eq_ignore_ascii_case(name))
    }
}

/// The directory of one network's live part.
#[derive(Debug, Clone)]
pub struct Table {
    dir: PathBuf,
}

impl Table {
    pub fn new(dir: PathBuf) -> Table {
        Table { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Taken while a container joins or leaves (and while addresses are handed out).
    pub fn lock(&self) -> io::Result<File> {
        fs::create_dir_all(&self.dir)?;
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join("lock"))?;
        f.lock()?;
        Ok(f)
    }

    /// Every entry, live or dead.
    pub fn entries(&self) -> Vec<Entry> {
        let Ok(dir) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out: Vec<Entry> = dir
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .filter_map(|e| fs::read(e.path()).ok())
            .filter_map(|b| serde_json::from_slice(&b).ok())
            .collect();
        out.sort_by(|a, b| a.container.cmp(&b.container));
        out
    }

    pub fn live(&self) -> Vec<Entry> {
        self.entries().into_iter().filter(Entry::alive).collect()
    }

    /// Under the lock: removes the entries of monitors that are gone.
    pub fn clean(&self) {
        for e in self.entries().into_iter().filter(|e| !e.alive()) {
            let _ = fs::remove_file(self.path(&e.container));
        }
    }

    /// The network's namespace, opened through a live monitor that holds it; None when no
    /// monitor does (the namespace went with the last of them).
    pub fn namespace(&self) -> Option<OwnedFd> {
        self.live().into_iter().find_map(|e| {
            let fd = rustix::fs::open(
                format!("/proc/{}/fd/{}", e.monitor, e.netns_fd),
                rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .ok()?;
            // The monitor may have died and its pid been taken between the two looks.
            e.alive().then_some(fd)
        })
    }

    pub fn put(&self, entry: &Entry) -> io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let tmp = self.dir.join(format!(".{}.tmp", entry.container));
        fs::write(&tmp, serde_json::to_vec(entry).map_err(io::Error::other)?)?;
        fs::rename(&tmp, self.path(&entry.container))
    }

    pub fn remove(&self, container: &str) {
        let _ = fs::remove_file(self.path(container));
    }

    pub fn get(&self, container: &str) -> Option<Entry> {
        let bytes = fs::read(self.path(container)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    fn path(&self, container: &str) -> PathBuf {
        self.dir.join(format!("{container}.json"))
    }

    /// When an entry last came or went (the directory's modification time).
    pub fn changed(&self) -> Option<SystemTime> {
        fs::metadata(&self.dir).and_then(|m| m.modified()).ok()
    }
}

/// The first address of `range` (within `subnet`) that is not the gateway and not taken.
pub fn free_address(
    subnet: ipnet::IpNet,
    range: ipnet::IpNet,
    gateway: Option<IpAddr>,
    taken: &[IpAddr],
) -> Option<IpAddr> {
    range
        .hosts()
        .filter(|a| subnet.contains(a) && *a != subnet.network())
        .find(|a| Some(*a) != gateway && !taken.contains(a))
}

/// The addresses of `names`'s live holders for `name`, across the tables of a container's
/// networks: what its resolver answers.
pub fn lookup(tables: &[Table], name: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for t in tables {
        for e in t.live().iter().filter(|e| e.answers(name)) {
            out.extend(e.ipv4.map(IpAddr::V4));
            out.extend(e.ipv6.map(IpAddr::V6));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, names: &[&str], v4: &str, monitor: i32) -> Entry {
        Entry {
            container: id.into(),
            names: names.iter().map(|s| s.to_string()).collect(),
            ipv4: Some(v4.parse().unwrap()),
            ipv6: None,
            mac: String::new(),
            interface: "eth0".into(),
            port: "veth0".into(),
            monitor,
            monitor_start: crate::sys::process_start(monitor),
            netns_fd: 3,
        }
    }

    #[test]
    fn entries_come_and_go_whole_and_the_dead_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let t = Table::new(dir.path().join("net"));
        let me = std::process::id() as i32;
        let _lock = t.lock().unwrap();
        t.put(&entry("aaa", &["web", "www"], "10.89.0.2", me))
            .unwrap();
        // A pid that is not running (pid_max is below this).
        let mut dead = entry("bbb", &["db"], "10.89.0.3", 1 << 30);
        dead.monitor_start = 1;
        t.put(&dead).unwrap();
        assert_eq!(t.entries().len(), 2);
        assert_eq!(t.live().len(), 1);
        let tables = [t.clone()];
        assert_eq!(
            lookup(&tables, "WWW"),
            ["10.89.0.2".parse::<IpAddr>().unwrap()]
        );
        assert!(
            lookup(&tables, "db").is_empty(),
            "a dead holder answers nothing"
        );
        t.clean();
        assert_eq!(t.entries().len(), 1);
        t.remove("aaa");
        assert!(t.entries().is_empty());
        assert!(fs::read_dir(t.dir()).unwrap().all(|e| {
            let n = e.unwrap().file_name();
            n == "lock"
        }));
    }

    #[test]
    fn addresses_are_handed_out_from_the_range_past_the_gateway() {
        let subnet: ipnet::IpNet = "10.89.1.0/24".parse().unwrap();
        let gw = Some("10.89.1.1".parse().unwrap());
        let taken: Vec<IpAddr> = vec!["10.89.1.2".parse().unwrap()];
        assert_eq!(
            free_address(subnet, subnet, gw, &taken),
            Some("10.89.1.3".parse().unwrap())
        );
        let range: ipnet::IpNet = "10.89.1.128/25".parse().unwrap();
        assert_eq!(
            free_address(subnet, range, gw, &taken),
            Some("10.89.1.129".parse().unwrap())
        );
        let tiny: ipnet::IpNet = "10.89.2.0/30".parse().unwrap();
        let full: Vec<IpAddr> = vec!["10.89.2.2".parse().unwrap()];
        assert_eq!(
            free_address(tiny, tiny, Some("10.89.2.1".parse().unwrap()), &full),
            None
        );
    }
}
