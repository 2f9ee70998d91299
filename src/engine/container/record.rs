//! Container records: what `create` made, what `start` needs, what `ps` and `rm` see.
//!
//! One record per container in `ROOT/containers/ID/container.json`, beside its upper and work
//! directories, replaced whole by rename. Names are checked for uniqueness under the store lock.
//! The directory comes into the store with its record, built under `tmp/` and renamed into
//! place, and leaves it the same way, renamed into `trash/` (see `store` and `prune`): a record
//! never lacks its files, and files never lack a record unless they are on their way in or out.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::etc_files::EtcOptions;
use crate::engine::Engine;
use crate::image::manifest::HealthConfig;
use crate::runtime::cgroup::Limits;
use crate::runtime::container::Spec;
use crate::store::write_json_replace;
use crate::Error;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    /// The image as the user named it.
    pub image: String,
    pub image_id: String,
    pub created: String,
    /// How to start it; the per-start parts (/etc files, terminal, cgroup) are filled then.
    pub spec: Spec,
    pub tty: bool,
    pub interactive: bool,
    /// Docker's StdinOnce (`-i` in the foreground, `create -i`): the container's stdin ends
    /// with the first attached client's.
    #[serde(default)]
    pub stdin_once: bool,
    pub sig_proxy: bool,
    /// `--rm`: removed when it exits.
    pub remove: bool,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub state: ContainerState,
    /// `--label KEY=VALUE`.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    /// `--restart`.
    #[serde(default)]
    pub restart: RestartPolicy,
    /// `--log-driver`, `--log-opt`.
    #[serde(default)]
    pub log: LogConfig,
    /// `--stop-signal`, else the image's StopSignal (SIGTERM when neither says).
    #[serde(default)]
    pub stop_signal: Option<String>,
    /// `--stop-timeout` in seconds (10 when not given, as Docker).
    #[serde(default)]
    pub stop_timeout: Option<u32>,
    /// The health check (`--health-*` over the image's HEALTHCHECK).
    #[serde(default)]
    pub health: Option<HealthConfig>,
    /// `--dns*`, `--add-host`, `--no-hosts`.
    #[serde(default, skip_serializing_if = "EtcOptions::is_empty")]
    pub etc: EtcOptions,
    /// `--network container:X`: the id of the container whose network this one joins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_of: Option<String>,
    /// A user-mode network (`bridge`, `pasta`, `slirp4netns`) and what it publishes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_network: Option<UserNetwork>,
    /// The image's EXPOSE ports and `--expose`'s.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exposed: Vec<(crate::network::Range, crate::network::Protocol)>,
    /// The user networks it is attached to (`--network NAME`, `network connect`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<Attachment>,
}

/// A container on a user network, as asked for: the address is handed out at each start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The network's id and its name then.
    pub id: String,
    pub name: String,
    /// `--network-alias`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// `--ip`, `--ip6`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<std::net::Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<std::net::Ipv6Addr>,
}

/// A container's user-mode network as `run` asked for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserNetwork {
    pub mode: crate::network::UserMode,
    /// `-p`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub publish: Vec<crate::network::PortSpec>,
    /// `-P`: the exposed ports on random host ports.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub publish_all: bool,
}

/// Docker's restart policies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartPolicy {
    pub name: Restart,
    /// on-failure's limit (0: no limit).
    pub max_retries: u32,
}

/// When a container that exited goes again, stored as Docker spells it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Restart {
    /// Never (records written before the name was checked may hold an empty one).
    #[default]
    #[serde(alias = "")]
    No,
    OnFailure,
    Always,
    UnlessStopped,
}

impl Restart {
    pub fn as_str(self) -> &'static str {
        match self {
            Restart::No => "no",
            Restart::OnFailure => "on-failure",
            Restart::Always => "always",
            Restart::UnlessStopped => "unless-stopped",
        }
    }
}

impl RestartPolicy {
    pub fn parse(text: &str) -> Result<RestartPolicy, Error> {
        let (name, count) = text.split_once(':').unwrap_or((text, ""));
        let bad = || {
            Error::Invalid(format!(
                "invalid restart policy {text:?}: use no, on-failure[:N], always or unless-stopped"
            ))
        };
        let max_retries = match (name, count) {
            (_, "") => 0,
            ("on-failure", n) => n.parse().map_err(|_| bad())?,
            _ => return Err(bad()),
        };
        let name = match name {
            "" | "no" => Restart::No,
            "on-failure" => Restart::OnFailure,
            "always" => Restart::Always,
            "unless-stopped" => Restart::UnlessStopped,
            _ => return Err(bad()),
        };
        Ok(RestartPolicy { name, max_retries })
    }

    /// Whether a container that exited with `code` after `restarts` restarts goes again.
    pub fn restarts(&self, code: i32, restarts: u32) -> bool {
        match self.name {
            Restart::Always | Restart::UnlessStopped => true,
            Restart::OnFailure => {
                code != 0 && (self.max_retries == 0 || restarts < self.max_retries)
            }
            Restart::No => false,
        }
    }
}

/// Where a detached container's output goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogConfig {
    /// `json-file` (Docker's), `k8s-file` (Podman's) or `none`.
    pub driver: String,
    /// `max-size` in bytes: the log is rotated past it.
    pub max_size: Option<u64>,
    /// `max-file`: how many files a rotated log keeps, the current one included.
    pub max_file: u32,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            driver: "json-file".into(),
            max_size: None,
            max_file: 1,
        }
    }
}

/// Where a container is in its life, stored as Docker's lowercase words.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    /// Between two runs of its restart policy.
    Restarting,
    Exited,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Restarting => "restarting",
            Status::Exited => "exited",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A health check's verdict so far, stored as Docker's lowercase words.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// No check has passed, nor failed for good, yet.
    #[default]
    Starting,
    Healthy,
    Unhealthy,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerState {
    pub status: Status,
    pub exit_code: i32,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The container's PID 1 as the host sees it, and its start time (so that a recycled pid
    /// is never taken for it); 0 when not running.
    pub pid: i32,
    #[serde(default)]
    pub pid_start: u64,
    /// The process that holds the container (its foreground helper or its monitor), and its
    /// start time.
    #[serde(default)]
    pub monitor: i32,
    #[serde(default)]
    pub monitor_start: u64,
    /// How often the restart policy has started it again.
    #[serde(default)]
    pub restart_count: u32,
    /// `stop`, `kill` or `rm -f` asked it to end: no restart.
    #[serde(default)]
    pub stop_requested: bool,
    /// Why it ended other than by itself (Docker's State.Error).
    #[serde(default)]
    pub error: String,
    /// The health checks' results in this run.
    #[serde(default)]
    pub health: Option<Health>,
    /// The ports published in this run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<crate::network::Binding>,
}

impl ContainerState {
    /// Running, or between two runs of its restart policy: its monitor holds it either way.
    pub fn is_up(&self) -> bool {
        matches!(self.status, Status::Running | Status::Restarting)
    }
}

impl Default for ContainerState {
    fn default() -> Self {
        ContainerState {
            status: Status::Created,
            exit_code: 0,
            started_at: None,
            finished_at: None,
            pid: 0,
            pid_start: 0,
            monitor: 0,
            monitor_start: 0,
            restart_count: 0,
            stop_requested: false,
            error: String::new(),
            health: None,
            ports: Vec::new(),
        }
    }
}

/// A row of `skiff ps`.
#[derive(Debug, Clone)]
pub struct ContainerRow {
    pub id: String,
    pub name: String,
    pub image: String,
    pub command: String,
    pub created: Option<DateTime<Utc>>,
    pub status: Status,
    pub exit_code: i32,
    pub started: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    pub labels: std::collections::BTreeMap<String, String>,
    /// Mount points of `-v`, `--mount` and `--tmpfs`.
    pub mounts: Vec<String>,
    /// With `size`: bytes the container wrote (its upper layer), and its image's size.
    pub size: Option<(u64, u64)>,
    /// starting, healthy or unhealthy while it runs with a health check.
    pub health: Option<HealthStatus>,
    /// Docker's PORTS column: published and exposed ports while it runs.
    pub ports: String,
}

/// `ps --filter KEY=VALUE`: the same key given twice matches either value, different keys
/// must all match (Docker's rule).
#[derive(Debug, Clone, Default)]
pub struct PsFilters {
    pub filters: Vec<(String, String)>,
}

impl PsFilters {
    pub fn parse(items: &[String]) -> Result<PsFilters, Error> {
        const KEYS: &[&str] = &[
            "status", "name", "id", "label", "ancestor", "exited", "before", "since", "health",
        ];
        let mut filters = Vec::new();
        for item in items {
            let (k, v) = item.split_once('=').ok_or_else(|| {
                Error::Invalid(format!(
                    "bad format of filter {item:?} (expected name=value)"
                ))
            })?;
            if !KEYS.contains(&k) {
                return Err(Error::Invalid(format!(
                    "invalid filter {k:?}: use one of {}",
                    KEYS.join(", ")
                )));
            }
            if k == "status"
                && ![
                    "created",
                    "restarting",
                    "running",
                    "removing",
                    "paused",
                    "exited",
                    "dead",
                ]
                .contains(&v)
            {
                return Err(Error::Invalid(format!("invalid filter 'status={v}'")));
            }
            if k == "health" && !["starting", "healthy", "unhealthy", "none"].contains(&v) {
                return Err(Error::Invalid(format!(
                    "invalid filter 'health={v}': use starting, healthy, unhealthy or none"
                )));
            }
            if k == "name" {
                check_name_pattern(v)?;
            }
            if k == "exited" && v.parse::<i32>().is_err() {
                return Err(Error::Invalid(format!("invalid filter 'exited={v}'")));
            }
            filters.push((k.to_string(), v.to_string()));
        }
        Ok(PsFilters { filters })
    }

    fn values(&self, key: &str) -> Vec<&str> {
        self.filters
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl Engine {
    pub(crate) fn containers_dir(&self) -> PathBuf {
        self.paths.data_root.join("containers")
    }

    /// A container's persistent directory: its record, upper layer, log.
    pub(crate) fn container_dir(&self, id: &str) -> PathBuf {
        self.containers_dir().join(id)
    }

    /// A container's runtime directory: what one start needs (/etc files, spec, pid).
    pub(crate) fn container_run_dir(&self, id: &str) -> PathBuf {
        self.paths.run_root.join("containers").join(id)
    }

    /// Whether the container is still recorded (`rm` removes the record first).
    pub fn container_record_exists(&self, id: &str) -> bool {
        self.record_path(id).exists()
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.containers_dir().join(id).join("container.json")
    }

    /// All container records (those whose record is complete).
    pub fn containers(&self) -> Result<Vec<ContainerRecord>, Error> {
        let dir = self.containers_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::Other(format!("listing {}: {e}", dir.display()))),
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path().join("container.json");
            if let Ok(bytes) = fs::read(&path) {
                if let Ok(record) = serde_json::from_slice::<ContainerRecord>(&bytes) {
                    out.push(record);
                }
            }
        }
        out.sort_by(|a, b| b.created.cmp(&a.created));
        Ok(out)
    }

    /// Records a new container under a unique name (generated when none is given): writes the
    /// record into `staging` (a directory under the store's `tmp/` holding its other files) and
    /// renames that into place. `staging` is removed when this fails.
    pub fn add_container(
        &self,
        record: ContainerRecord,
        name: Option<&str>,
        staging: &std::path::Path,
    ) -> Result<ContainerRecord, Error> {
        let added = self.place_container(record, name, staging);
        if added.is_err() {
            let _ = fs::remove_dir_all(staging);
        }
        added
    }

    fn place_container(
        &self,
        mut record: ContainerRecord,
        name: Option<&str>,
        staging: &std::path::Path,
    ) -> Result<ContainerRecord, Error> {
        let _lock = self.store.lock()?;
        // An `auto` range is taken under the lock, so that two containers created at once
        // never share one.
        if let Some(shift) = record.spec.id_shift.as_mut().filter(|s| s.auto) {
            use crate::runtime::userns::UserNs;
            let ns = self.userns();
            let limit = UserNs::contiguous(&ns.uid_map).min(UserNs::contiguous(&ns.gid_map));
            let base = self.free_auto_range(shift.uid_map[0].size, limit)?;
            shift.uid_map[0].host = base;
            shift.gid_map[0].host = base;
        }
        let taken: Vec<String> = self.containers()?.into_iter().map(|c| c.name).collect();
        record.name = match name {
            Some(n) => {
                check_name(n)?;
                if taken.iter().any(|t| t == n) {
                    return Err(Error::NameInUse(format!(
                        "the container name \"/{n}\" is already in use: remove that container or choose another name"
                    )));
                }
                n.to_string()
            }
            None => generate_name(&record.id, &taken),
        };
        write_json_replace(&staging.join("container.json"), &record)?;
        let dest = self.container_dir(&record.id);
        let parent = self.containers_dir();
        fs::create_dir_all(&parent)
            .and_then(|()| fs::rename(staging, &dest))
            .map_err(|e| Error::Other(format!("creating {}: {e}", dest.display())))?;
        Ok(record)
    }

    pub fn save_container(&self, record: &ContainerRecord) -> Result<(), Error> {
        let path = self.record_path(&record.id);
        Ok(write_json_replace(&path, record)?)
    }

    /// Finds a container by name, full id or unique id prefix.
    pub fn find_container(&self, name: &str) -> Result<ContainerRecord, Error> {
        // A full id names its record's path: no need to read every record.
        if name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
            if let Ok(bytes) = fs::read(self.record_path(name)) {
                if let Ok(record) = serde_json::from_slice::<ContainerRecord>(&bytes) {
                    return Ok(record);
                }
            }
        }
        let all = self.containers()?;
        if let Some(c) = all.iter().find(|c| c.name == name || c.id == name) {
            return Ok(c.clone());
        }
        let hits: Vec<&ContainerRecord> = all.iter().filter(|c| c.id.starts_with(name)).collect();
        match hits.as_slice() {
            [one] if !name.is_empty() => Ok((*one).clone()),
            [] | [_] => Err(Error::no_such_container(name)),
            _ => Err(Error::Conflict(format!(
                "multiple containers match {name:?}: give more of the id"
            ))),
        }
    }

    /// The lock on a container's files: `cp` holds it while it has a stopped container's
    /// root file system mounted; `start` and `rm` take it before they mount or remove it.
    pub(crate) fn container_files_lock(&self, id: &str) -> Result<fs::File, Error> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.container_dir(id).join("files.lock");
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::Other(format!("opening {}: {e}", path.display())))?;
        file.lock()
            .map_err(|e| Error::Other(format!("locking {}: {e}", path.display())))?;
        Ok(file)
    }

    /// Whether the process recorded as running the container is still there.
    pub fn container_alive(&self, record: &ContainerRecord) -> bool {
        record.state.monitor > 0
            && process_start(record.state.monitor) == record.state.monitor_start
    }

    /// `skiff rm`: removes a container; a running one only with `force` (it is killed). One
    /// whose monitor is gone has its PID 1 killed if that still runs (see `end_orphaned_init`).
    pub fn remove_container(&self, name: &str, force: bool) -> Result<ContainerRecord, Error> {
        let record = match self.find_container(name) {
            Ok(r) => r,
            Err(e) => {
                // Gone already, perhaps by an `rm` that was killed while it deleted the files:
                // those are finished now, as the user who asks again expects.
                let _ = self.finish_leftovers();
                return Err(e);
            }
        };
        let was_up = record.state.is_up() && self.container_alive(&record);
        if was_up {
            if !force {
                return Err(Error::WrongState(format!(
                    "cannot remove container \"{}\": container is running: stop the container before removing or force remove",
                    record.name
                )));
            }
            self.kill_for_removal(&record);
        } else {
            end_orphaned_init(&record);
        }
        // A copy out of (or into) the stopped container ends first.
        let _files = self.container_files_lock(&record.id);
        // Record and files leave the store in one rename; the deletion after it may be killed
        // (a tree of subordinate ids' files takes a while) and is then finished by a later
        // command, with what other killed commands left, which this one finishes now.
        let lock = self.store.lock()?;
        let mut trash = self.claim_leftovers(&lock);
        let own = self
            .store
            .trash(&self.container_dir(&record.id), "container")?;
        drop(lock);
        if let (Some(entry), false) = (&own, was_up) {
            // The record as it left the store, where no monitor can change it any more: one
            // that recorded its start after we read the container as created is stopped now.
            let last = fs::read(entry.join("container.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<ContainerRecord>(&b).ok());
            if let Some(last) = last.filter(|l| l.state.is_up() && self.container_alive(l)) {
                self.kill_for_removal(&last);
            }
        }
        trash.extend(own);
        self.remove_trees(&trash)?;
        // What a killed skiff left in the runtime directory (an empty mount point, /etc files).
        remove_run_dir(&self.container_run_dir(&record.id));
        Ok(record)
    }

    /// The rows of `skiff ps`: running containers, or all with `all`.
    pub fn list_containers(
        &self,
        all: bool,
        filters: &PsFilters,
        size: bool,
    ) -> Result<Vec<ContainerRow>, Error> {
        let time = |t: &Option<String>| {
            t.as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        let mut rows = Vec::new();
        let records = self.containers()?;
        // before/since name containers: their creation times bound the list.
        let bound = |key: &str| -> Result<Vec<Option<DateTime<Utc>>>, Error> {
            filters
                .values(key)
                .iter()
                .map(|n| {
                    let c = records
                        .iter()
                        .find(|c| c.name == *n || c.id.starts_with(n))
                        .ok_or_else(|| Error::no_such_container(n))?;
                    Ok(time(&Some(c.created.clone())))
                })
                .collect()
        };
        let before = bound("before")?;
        let since = bound("since")?;
        // A filter on states other than running lists stopped containers without -a.
        let all = all
            || filters.values("status").iter().any(|s| *s != "running")
            || !filters.values("exited").is_empty();
        for c in records {
            let mut status = c.state.status;
            let mut exit_code = c.state.exit_code;
            let mut finished = time(&c.state.finished_at);
            if c.state.is_up() && !self.container_alive(&c) {
                // skiff was killed while the container ran in its foreground: it is gone.
                status = Status::Exited;
                exit_code = 137;
                finished = finished.or_else(|| time(&c.state.started_at));
            }
            if !all && !matches!(status, Status::Running | Status::Restarting) {
                continue;
            }
            let health = (status == Status::Running)
                .then(|| c.state.health.as_ref().map(|h| h.status))
                .flatten();
            let any = |key: &str, test: &dyn Fn(&str) -> bool| {
                let wanted = filters.values(key);
                wanted.is_empty() || wanted.iter().any(|w| test(w))
            };
            let keep = any("status", &|v| v == status.as_str())
                && any("name", &|v| name_matches(v, &c.name))
                && any("id", &|v| c.id.starts_with(v))
                && any("label", &|v| match v.split_once('=') {
                    Some((k, val)) => c.labels.get(k).is_some_and(|x| x == val),
                    None => c.labels.contains_key(v),
                })
                && any("ancestor", &|v| {
                    let bare = v.strip_prefix("sha256:").unwrap_or(v);
                    c.image == v
                        || c.image == format!("{v}:latest")
                        || v == format!("{}:latest", c.image)
                        || c.image_id.trim_start_matches("sha256:").starts_with(bare)
                })
                && any("health", &|v| {
                    health.map_or("none", HealthStatus::as_str) == v
                })
                && any("exited", &|v| {
                    status == Status::Exited && v.parse::<i32>().ok() == Some(exit_code)
                })
                && before.iter().all(|b| time(&Some(c.created.clone())) < *b)
                && since.iter().all(|b| time(&Some(c.created.clone())) > *b);
            if !keep {
                continue;
            }
            let size = size.then(|| {
                let upper = dir_size(&self.container_dir(&c.id).join("upper"));
                let image = self.find_image(&c.image_id).map(|i| i.size).unwrap_or(0);
                (upper, image)
            });
            rows.push(ContainerRow {
                id: c.id.clone(),
                name: c.name.clone(),
                image: c.image.clone(),
                command: c.spec.args.join(" "),
                created: time(&Some(c.created.clone())),
                status,
                exit_code,
                started: time(&c.state.started_at),
                finished,
                labels: c.labels.clone(),
                mounts: c.spec.mounts.iter().map(|m| m.target.clone()).collect(),
                size,
                health,
                ports: if status == Status::Running {
                    super::ports::ports_column(&c.state.ports, &c.exposed)
                } else {
                    String::new()
                },
            });
        }
        Ok(rows)
    }
}

/// Bytes of the files under `dir` (what can be read of it: a container's files owned by
/// other subordinate ids may be out of reach).
pub(crate) fn dir_size(dir: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            if let Ok(m) = e.metadata() {
                if m.is_dir() {
                    todo.push(e.path());
                } else {
                    total += m.blocks() * 512;
                }
            }
        }
    }
    total
}

/// Docker reads `name=` as a regular expression. Skiff honours the part of one that names use:
/// text (a `.` is taken as itself, which names contain), `^` and `$` anchors and a leading `/`.
/// Anything else would be a regular expression that, matched as text, can never match a name,
/// so it is refused rather than answered with an empty list.
fn check_name_pattern(pattern: &str) -> Result<(), Error> {
    let inner = pattern.strip_prefix('^').unwrap_or(pattern);
    let inner = inner.strip_suffix('$').unwrap_or(inner);
    match inner.chars().find(|c| "^$[](){}|*+?\\".contains(*c)) {
        Some(c) => Err(Error::NotSupported(format!(
            "--filter name={pattern} ({c:?}: regular expressions beyond ^ and $)"
        ))),
        None => Ok(()),
    }
}

fn name_matches(pattern: &str, name: &str) -> bool {
    let (start, rest) = match pattern.strip_prefix('^') {
        Some(rest) => (true, rest),
        None => (false, pattern),
    };
    let (end, text) = match rest.strip_suffix('$') {
        Some(text) => (true, text),
        None => (false, rest),
    };
    // Docker's names start with "/", which users may or may not type.
    let (text, start) = match text.strip_prefix('/') {
        Some(t) => (t, true),
        None => (text, start),
    };
    match (start, end) {
        (true, true) => name == text,
        (true, false) => name.starts_with(text),
        (false, true) => name.ends_with(text),
        (false, false) => name.contains(text),
    }
}

/// Docker's rule for names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub(crate) fn check_name(name: &str) -> Result<(), Error> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if name.len() >= 2 && first_ok && rest_ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )))
    }
}

const ADJECTIVES: &[&str] = &[
    "brave", "calm", "eager", "fond", "gentle", "happy", "jolly", "keen", "lucid", "merry",
    "nifty", "proud", "quiet", "sharp", "tender", "vivid", "wise", "zealous", "bold", "clever",
];
const NOUNS: &[&str] = &[
    "anchor", "breeze", "current", "dock", "ebb", "ferry", "gull", "harbor", "inlet", "jetty",
    "keel", "lagoon", "mast", "oar", "pier", "quay", "reef", "sail", "tide", "wake",
];

/// Docker-style `adjective_noun`, picked from the id's bytes; a number is added on a clash.
fn generate_name(id: &str, taken: &[String]) -> String {
    let bytes = hex::decode(&id[..8.min(id.len())]).unwrap_or_default();
    let a = ADJECTIVES[*bytes.first().unwrap_or(&0) as usize % ADJECTIVES.len()];
    let n = NOUNS[*bytes.get(1).unwrap_or(&0) as usize % NOUNS.len()];
    let base = format!("{a}_{n}");
    if !taken.contains(&base) {
        return base;
    }
    (2..)
        .map(|i| format!("{base}{i}"))
        .find(|c| !taken.contains(c))
        .expect("an unused name")
}

/// Now, as Docker writes container times: RFC 3339 in UTC with nanoseconds and `Z`.
pub fn timestamp() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// The start time of a live process (see `sys::process_start`).
pub use crate::sys::process_start;

/// A container whose monitor died shows as exited; its processes end with the monitor (PID 1's
/// parent-death signal, the watcher). Should both have been killed too, its PID 1 still runs:
/// found by the pid and start time in the record (never a recycled pid), it is killed, and the
/// kernel ends the rest of its PID namespace with it.
fn end_orphaned_init(record: &ContainerRecord) {
    let s = &record.state;
    if s.pid > 0 && s.pid_start > 0 && crate::sys::process_start(s.pid) == s.pid_start {
        crate::sys::kill_now(s.pid);
    }
}

/// Docker's State.Health.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: HealthStatus,
    pub failing_streak: u32,
    #[serde(default)]
    pub log: Vec<HealthResult>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthResult {
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

impl Health {
    pub fn starting() -> Health {
        Health::default()
    }
}

/// Removes a start's runtime directory file by file: never recursively, since a monitor's
/// mount namespace may still have the root file system mounted on `merged` (rmdir of a mount
/// point fails; a recursive removal would go through it and delete the container's files).
pub(crate) fn remove_run_dir(run: &Path) {
    if let Ok(entries) = fs::read_dir(run) {
        for e in entries.flatten() {
            let path = e.path();
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            let _ = if is_dir {
                fs::remove_dir(&path)
            } else {
                fs::remove_file(&path)
            };
        }
    }
    let _ = fs::remove_dir(run);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_policies_keep_their_words_on_disk() {
        let state: ContainerState = serde_json::from_str(
            r#"{"status":"restarting","exit_code":3,"started_at":null,"finished_at":null,
                "pid":0,"health":{"Status":"unhealthy","FailingStreak":2}}"#,
        )
        .unwrap();
        assert_eq!(state.status, Status::Restarting);
        assert_eq!(state.health.unwrap().status, HealthStatus::Unhealthy);
        let text = serde_json::to_string(&ContainerState::default()).unwrap();
        assert!(text.contains(r#""status":"created""#), "{text}");
        // An empty name, as the first records held for no policy, reads as `no`.
        for (json, name) in [
            (r#"{"name":"","max_retries":0}"#, Restart::No),
            (
                r#"{"name":"on-failure","max_retries":3}"#,
                Restart::OnFailure,
            ),
            (
                r#"{"name":"unless-stopped","max_retries":0}"#,
                Restart::UnlessStopped,
            ),
        ] {
            let policy: RestartPolicy = serde_json::from_str(json).unwrap();
            assert_eq!(policy.name, name);
        }
        let policy = RestartPolicy::parse("on-failure:2").unwrap();
        assert_eq!(
            serde_json::to_string(&policy).unwrap(),
            r#"{"name":"on-failure","max_retries":2}"#
        );
        assert!(policy.restarts(1, 1) && !policy.restarts(1, 2) && !policy.restarts(0, 0));
        assert!(RestartPolicy::parse("sometimes").is_err());
    }

    #[test]
    fn name_filters_read_anchors() {
        for (pattern, name, want) in [
            ("web", "myweb1", true),
            ("^web", "myweb1", false),
            ("^web", "web1", true),
            ("web$", "myweb", true),
            ("^web$", "web1", false),
            ("^web$", "web", true),
            ("/web", "web1", true),
            ("/web", "myweb", false),
            ("^/web$", "web", true),
            ("a.b", "a.b", true),
        ] {
            assert!(check_name_pattern(pattern).is_ok(), "{pattern}");
            assert_eq!(name_matches(pattern, name), want, "{pattern} ~ {name}");
        }
        for bad in ["[", "web.*", "a|b", "^a$b", "(x)", "a\\d"] {
            assert!(check_name_pattern(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names() {
        assert!(check_name("web-1").is_ok());
        assert!(check_name("-bad").is_err());
        assert!(check_name("a").is_err());
        let taken = vec![generate_name("00000000", &[])];
        assert_ne!(generate_name("00000000", &taken), taken[0]);
        assert!(process_start(std::process::id() as i32) > 0);
    }
}
