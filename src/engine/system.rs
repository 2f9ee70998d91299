//! Finishing what killed commands left, and `skiff system prune`.
//!
//! A removal renames its directory into the store's `trash/` and then deletes it (see `store`);
//! a creation builds its directory under `tmp/`. A command killed half way leaves an entry there
//! whose process is gone. These commands finish such leftovers (container prune and system
//! prune also directories that no record names): `rm`, `container prune`, `rmi`,
//! `image prune`, `pull` (so also a `run` that pulls), `system prune`, and the monitor of a
//! `--rm` container once its client has its exit status (it runs inside the user namespace
//! already and nobody waits for it then). A plain `run`, `create`, `stop` or `kill` does not: a
//! leftover may be a tree of many thousand files, and those commands are budgeted in
//! milliseconds.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::image::local::Removed;
use super::Engine;
use crate::store::StoreLock;
use crate::Error;

/// Docker's prune filters: `until=` (created before; RFC 3339, Unix seconds or a duration
/// back from now) and `label=KEY[=VALUE]` / `label!=KEY[=VALUE]`, all of which must match.
/// What killed commands left is finished whatever the filters say: it is nobody's object.
#[derive(Debug, Clone, Default)]
pub struct PruneFilters {
    pub until: Option<DateTime<Utc>>,
    /// Key, value (None: any), and whether the label must be absent (`label!=`).
    pub labels: Vec<(String, Option<String>, bool)>,
}

impl PruneFilters {
    pub fn parse(terms: &[String], now: DateTime<Utc>) -> Result<PruneFilters, Error> {
        let mut f = PruneFilters::default();
        for term in terms {
            let (key, value) = term.split_once('=').ok_or_else(|| {
                Error::Invalid(format!(
                    "bad format of filter {term:?} (expected name=value)"
                ))
            })?;
            let (key, negated) = match key.strip_suffix('!') {
                Some(k) => (k, true),
                None => (key, false),
            };
            match (key, negated) {
                ("until", false) => f.until = Some(super::duration::parse_moment(value, now)?),
                ("label", _) => {
                    let (k, v) = match value.split_once('=') {
                        Some((k, v)) => (k, Some(v.to_string())),
                        None => (value, None),
                    };
                    f.labels.push((k.to_string(), v, negated));
                }
                _ => {
                    return Err(Error::Invalid(format!(
                        "invalid filter {term:?}: prune takes until= and label= (or label!=)"
                    )))
                }
            }
        }
        Ok(f)
    }

    /// Whether an object created at `created` with `labels` may be pruned.
    pub fn matches(
        &self,
        created: Option<DateTime<Utc>>,
        labels: &dyn Fn() -> Vec<(String, String)>,
    ) -> bool {
        if let Some(until) = self.until {
            // An object whose age is unknown is not known to be older.
            if created.is_none_or(|c| c >= until) {
                return false;
            }
        }
        if self.labels.is_empty() {
            return true;
        }
        let have = labels();
        self.labels.iter().all(|(k, v, negated)| {
            let found = have
                .iter()
                .any(|(hk, hv)| hk == k && v.as_ref().is_none_or(|v| v == hv));
            found != *negated
        })
    }
}

/// What `system prune` removed.
#[derive(Debug, Default)]
pub struct SystemPruned {
    pub containers: Vec<String>,
    pub images: Removed,
    /// Bytes freed in all: containers, images and leftovers.
    pub reclaimed: u64,
}

impl Engine {
    /// Claims what killed commands left, for the caller to delete (`remove_trees`) once it
    /// has let go of the lock: trash and temp entries whose process is gone. Cheap when there
    /// are none (two directory reads).
    pub(crate) fn claim_leftovers(&self, _lock: &StoreLock) -> Vec<PathBuf> {
        self.store.claim_leftovers()
    }

    /// What `claim_leftovers` finds, and container directories that hold no record (left by
    /// versions that removed the record first, or wrote it last), for `container prune` and
    /// `system prune`: a stat per container. Under the store lock no container directory is
    /// half made outside `tmp/`, so one without a record is never one being created. Runtime
    /// directories of containers without a record go too (a kill between an `rm`'s rename
    /// and its removal of the runtime directory).
    pub(crate) fn claim_orphans(&self, lock: &StoreLock) -> Vec<PathBuf> {
        let mut out = self.claim_leftovers(lock);
        if let Ok(entries) = fs::read_dir(self.containers_dir()) {
            for e in entries.flatten() {
                if !has_record(&e.path()) {
                    if let Ok(Some(p)) = self.store.trash(&e.path(), "container") {
                        out.push(p);
                    }
                }
            }
        }
        if let Ok(entries) = fs::read_dir(self.paths.run_root.join("containers")) {
            for e in entries.flatten() {
                if !has_record(&self.container_dir(&e.file_name().to_string_lossy())) {
                    remove_run_dir(&e.path());
                }
            }
        }
        out
    }

    /// Claims and deletes what killed commands left, now.
    pub(crate) fn finish_leftovers(&self) -> Result<(), Error> {
        let lock = self.store.lock()?;
        let paths = self.claim_leftovers(&lock);
        drop(lock);
        self.remove_trees(&paths)
    }

    /// `skiff system prune [-a]`: stopped containers, then the images they leave unused
    /// (dangling ones, or with `all` every image no container uses), layers and blobs no
    /// image names, and whatever killed commands left.
    pub fn system_prune(&self, all: bool, filters: &PruneFilters) -> Result<SystemPruned, Error> {
        let (containers, freed) = self.prune_containers(filters)?;
        let images = self.prune_images(all, filters)?;
        Ok(SystemPruned {
            containers,
            reclaimed: freed + images.reclaimed,
            images,
        })
    }
}

fn has_record(dir: &Path) -> bool {
    // A missing directory has no record either; anything else we cannot tell counts as one.
    match fs::symlink_metadata(dir.join("container.json")) {
        Ok(_) => true,
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
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
    fn filters() {
        let now = DateTime::parse_from_rfc3339("2026-01-02T00:00:00Z")
            .unwrap()
            .to_utc();
        let f = |terms: &[&str]| {
            let terms: Vec<String> = terms.iter().map(|t| t.to_string()).collect();
            PruneFilters::parse(&terms, now)
        };
        let hour_ago = Some(now - chrono::Duration::hours(1));
        let labels = || vec![("app".to_string(), "web".to_string())];
        assert!(f(&[]).unwrap().matches(None, &labels));
        let until = f(&["until=30m"]).unwrap();
        assert!(until.matches(hour_ago, &labels));
        assert!(!until.matches(Some(now), &labels));
        assert!(!until.matches(None, &labels));
        assert!(!f(&["until=2h"]).unwrap().matches(hour_ago, &labels));
        assert!(f(&["until=2025-12-31T00:00:00Z"]).unwrap().until < hour_ago);
        assert!(f(&["label=app"]).unwrap().matches(None, &labels));
        assert!(f(&["label=app=web"]).unwrap().matches(None, &labels));
        assert!(!f(&["label=app=db"]).unwrap().matches(None, &labels));
        assert!(!f(&["label!=app"]).unwrap().matches(None, &labels));
        assert!(f(&["label!=app=db", "label=app"])
            .unwrap()
            .matches(None, &labels));
        for bad in ["until", "until=soon", "since=1h", "until!=1h"] {
            assert!(f(&[bad]).is_err(), "{bad}");
        }
    }
}
