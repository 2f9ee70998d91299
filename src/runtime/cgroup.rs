//! Resource limits (`--memory`, `--cpus`, `--pids-limit`) through a cgroup v2 subtree that
//! the system delegated to the user (systemd does for user sessions). Where there is none
//! (cgroup v1 or a hybrid layout, or no delegation) the limits cannot be applied by an
//! ordinary user; callers warn and run the container without them.

use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    pub memory: Option<u64>,
    pub cpus: Option<f64>,
    pub pids: Option<i64>,
}

impl Limits {
    pub fn any(&self) -> bool {
        self.memory.is_some() || self.cpus.is_some() || self.pids.is_some()
    }

    fn controllers(&self) -> Vec<&'static str> {
        let mut c = Vec::new();
        if self.memory.is_some() {
            c.push("memory");
        }
        if self.cpus.is_some() {
            c.push("cpu");
        }
        if self.pids.is_some() {
            c.push("pids");
        }
        c
    }

    /// The interface files to write, as cgroup v2 names and values.
    pub fn files(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(m) = self.memory {
            out.push(("memory.max", m.to_string()));
        }
        if let Some(c) = self.cpus {
            let period = 100_000u64;
            out.push((
                "cpu.max",
                format!("{} {period}", (c * period as f64).round() as u64),
            ));
        }
        if let Some(p) = self.pids {
            out.push((
                "pids.max",
                if p <= 0 { "max".into() } else { p.to_string() },
            ));
        }
        out
    }
}

/// Where a container's cgroup can go, or why it cannot.
pub fn delegated_parent(limits: &Limits) -> Result<PathBuf, String> {
    let unified = Path::new("/sys/fs/cgroup");
    if !unified.join("cgroup.controllers").exists() {
        return Err(
            "this system uses cgroup v1 (or a hybrid layout); limits need cgroup v2".into(),
        );
    }
    let own = fs::read_to_string("/proc/self/cgroup").map_err(|e| e.to_string())?;
    let path = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or("no cgroup v2 entry in /proc/self/cgroup")?;
    let parent = unified.join(path.trim_start_matches('/'));
    let enabled = fs::read_to_string(parent.join("cgroup.subtree_control")).unwrap_or_default();
    for c in limits.controllers() {
        if !enabled.split_whitespace().any(|e| e == c) {
            return Err(format!(
                "the {c} controller is not delegated to this user's cgroup {} (systemd: Delegate= in user@.service)",
                parent.display()
            ));
        }
    }
    let writable = rustix::fs::access(&parent, rustix::fs::Access::WRITE_OK).is_ok();
    if !writable {
        return Err(format!(
            "the cgroup {} is not writable by this user",
            parent.display()
        ));
    }
    Ok(parent)
}

/// Why a container has no cgroup of its own here, in words for an error message.
pub fn why_unavailable() -> String {
    match delegated_parent(&Limits::default()) {
        Err(why) => why,
        Ok(_) => {
            "and containers get one only when started with --memory, --cpus or --pids-limit".into()
        }
    }
}

/// Creates the container's cgroup under `parent` with the limits written.
pub fn create(parent: &Path, name: &str, limits: &Limits) -> std::io::Result<PathBuf> {
    let dir = parent.join(name);
    fs::create_dir(&dir)?;
    for (file, value) in limits.files() {
        if let Err(e) = fs::write(dir.join(file), value) {
            let _ = fs::remove_dir(&dir);
            return Err(e);
        }
    }
    Ok(dir)
}

/// Moves the calling process into `dir` (before exec, so the workload starts inside).
pub fn join(dir: &Path) -> std::io::Result<()> {
    fs::write(dir.join("cgroup.procs"), "0")
}

/// Removes a container's cgroup once its processes are gone.
pub fn remove(dir: &Path) {
    let _ = fs::remove_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_files() {
        let l = Limits {
            memory: Some(64 << 20),
            cpus: Some(1.5),
            pids: Some(100),
        };
        assert_eq!(
            l.files(),
            vec![
                ("memory.max", "67108864".to_string()),
                ("cpu.max", "150000 100000".to_string()),
                ("pids.max", "100".to_string()),
            ]
        );
        assert!(!Limits::default().any());
    }
}
