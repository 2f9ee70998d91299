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

use super::container::record::remove_run_dir;
use super::filters::PruneFilters;
use super::image::local::Removed;
use super::Engine;
use crate::store::StoreLock;
use crate::Error;

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
