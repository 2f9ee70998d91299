//! The per-user store: content-addressed blobs, unpacked layers by diff id, and image records.
//!
//! ```text
//! ROOT/blobs/sha256/HEX        manifests, configs and compressed layers, exactly as pulled
//! ROOT/layers/HEX/diff/        one unpacked layer (HEX of its diff id), an overlay lower dir
//! ROOT/layers/HEX/layer.json   its record; written before the directory is renamed into place
//! ROOT/images.json             all image records, replaced whole by rename under the lock
//! ROOT/containers/ID/         one container: its record (container.json), upper, work, log
//! ROOT/tmp/                    staging; anything here is unfinished and may be removed
//! ROOT/trash/                  directories on their way out, being deleted
//! ROOT/store.lock              serialises writers of images.json and of container records
//! ROOT/locks/HEX.lock          serialises the unpacking of one layer
//! ROOT/locks/pulls.lock        held shared by every pull, so that a sweep of unused layers
//!                              and blobs can tell that none is half way through
//! ```
//!
//! Every write goes to a temp name and is renamed into place, so a reader (which takes no lock)
//! sees the old or the new state and a killed writer leaves only files under `tmp/`. A
//! directory is created the same way: built under `tmp/` with its record inside, then renamed
//! into place, so a directory outside `tmp/` and `trash/` always holds its record.
//!
//! Removal mirrors it: the directory is renamed into `trash/` first (one atomic step that takes
//! its record and files out of the store together), then deleted, inside the user namespace
//! where subordinate ids own the files. Entries of `tmp/` and `trash/` are named after the
//! process working on them (`KIND-PID-N-NANOS-sSTART`, with the process's start time so that a
//! recycled pid is never taken for it). One whose process is gone is a leftover of a killed
//! command: a later cleaner claims it by renaming it to a trash entry of its own (so that two
//! never delete the same tree) and finishes the deletion.

pub mod archive;
pub mod diff;
pub mod unpack;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("the store record {path} is damaged: {why}")]
    Corrupt { path: PathBuf, why: String },
    #[error("blob {0} is not in the store")]
    MissingBlob(String),
    #[error("digest mismatch writing blob: expected {expected}, got {actual}")]
    DigestMismatch { expected: String, actual: String },
    #[error("invalid digest {0:?}")]
    BadDigest(String),
    /// A layer of an image being added was removed meanwhile (by `rmi` or a prune).
    #[error("layer {0} was removed by another command during the pull; pull again")]
    LayerGone(String),
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// A compressed layer blob as named in a manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BlobRef {
    pub digest: String,
    pub media_type: String,
    pub size: u64,
}

/// One unpacked layer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LayerRecord {
    pub diff_id: String,
    /// Bytes in regular files, as Docker counts a layer's size.
    pub size: u64,
    /// The compressed blob it was unpacked from.
    pub blob: Option<BlobRef>,
}

/// One image: a config, its layers, and the names that point at it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImageRecord {
    /// `sha256:` + hex of the config blob: Docker's image id.
    pub id: String,
    /// Fully qualified `registry/repository:tag` names, most recent first.
    #[serde(default)]
    pub names: Vec<String>,
    /// `registry/repository@sha256:…` of the manifest (or index) pulled by name.
    #[serde(default)]
    pub digests: Vec<String>,
    pub manifest_digest: String,
    pub manifest_media_type: String,
    /// Diff ids, lowest layer first.
    pub layers: Vec<String>,
    /// Compressed blobs, parallel to `layers`.
    #[serde(default)]
    pub blobs: Vec<BlobRef>,
    /// Sum of the layers' sizes.
    pub size: u64,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
    /// When a name was last put on it (RFC 3339).
    #[serde(default)]
    pub tagged: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct ImageIndex {
    #[serde(default)]
    images: Vec<ImageRecord>,
}

pub struct Store {
    root: PathBuf,
}

/// The writer lock; released on drop.
pub struct StoreLock {
    _file: File,
}

impl Store {
    /// Opens (creating as needed) the store at `root`.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        for dir in ["", "blobs/sha256", "layers", "tmp", "trash", "locks"] {
            let path = root.join(dir);
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&path)
                .map_err(io_err("creating", &path))?;
        }
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Takes the writer lock on image records. Readers never need it.
    pub fn lock(&self) -> Result<StoreLock, StoreError> {
        let path = self.root.join("store.lock");
        let file = lock_file(&path)?;
        Ok(StoreLock { _file: file })
    }

    /// Takes the lock that serialises the unpacking of one layer.
    pub fn lock_layer(&self, diff_id: &str) -> Result<File, StoreError> {
        let hex = hex_of(diff_id)?;
        lock_file(&self.root.join("locks").join(format!("{hex}.lock")))
    }

    // ---- blobs ----

    pub fn blob_path(&self, digest: &str) -> Result<PathBuf, StoreError> {
        Ok(self.root.join("blobs/sha256").join(hex_of(digest)?))
    }

    pub fn has_blob(&self, digest: &str) -> bool {
        self.blob_path(digest).map(|p| p.exists()).unwrap_or(false)
    }

    /// Stores a small blob whose bytes are in memory, checking its digest.
    pub fn put_blob(&self, digest: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let mut w = self.blob_writer()?;
        w.write_all(bytes).map_err(io_err("writing", &w.path))?;
        w.commit(self, digest)
    }

    pub fn read_blob(&self, digest: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.blob_path(digest)?;
        fs::read(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::MissingBlob(digest.to_string()),
            _ => StoreError::Io {
                action: "reading",
                path,
                source: e,
            },
        })
    }

    /// A temp file under `tmp/` that hashes what is written; `commit` renames it into place.
    pub fn blob_writer(&self) -> Result<BlobWriter, StoreError> {
        let path = self.temp_path("blob");
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(io_err("creating", &path))?;
        Ok(BlobWriter {
            file: io::BufWriter::with_capacity(256 * 1024, file),
            hasher: Sha256::new(),
            path,
        })
    }

    pub fn remove_blob(&self, digest: &str) -> Result<(), StoreError> {
        let path = self.blob_path(digest)?;
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(StoreError::Io {
                action: "removing",
                path,
                source: e,
            }),
            _ => Ok(()),
        }
    }

    // ---- layers ----

    pub fn layer_dir(&self, diff_id: &str) -> Result<PathBuf, StoreError> {
        Ok(self.root.join("layers").join(hex_of(diff_id)?))
    }

    /// The directory overlayfs stacks for this layer.
    pub fn layer_diff(&self, diff_id: &str) -> Result<PathBuf, StoreError> {
        Ok(self.layer_dir(diff_id)?.join("diff"))
    }

    pub fn layer(&self, diff_id: &str) -> Result<Option<LayerRecord>, StoreError> {
        let path = self.layer_dir(diff_id)?.join("layer.json");
        read_json_opt(&path)
    }

    pub fn has_layer(&self, diff_id: &str) -> bool {
        self.layer_dir(diff_id)
            .map(|d| d.join("layer.json").exists())
            .unwrap_or(false)
    }

    /// A fresh staging directory `tmp/layer-…/` with an empty `diff/` inside to unpack into.
    pub fn layer_staging(&self) -> Result<PathBuf, StoreError> {
        let path = self.temp_path("layer");
        let diff = path.join("diff");
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(io_err("creating", &path))?;
        fs::DirBuilder::new()
            .mode(0o755)
            .create(&diff)
            .map_err(io_err("creating", &diff))?;
        Ok(path)
    }

    /// Moves a staged layer into place. Returns false (and leaves the staging directory for the
    /// caller to remove) when another writer put the same layer there first.
    pub fn commit_layer(&self, staging: &Path, record: &LayerRecord) -> Result<bool, StoreError> {
        write_json_atomic(&staging.join("layer.json"), record)?;
        let dest = self.layer_dir(&record.diff_id)?;
        match fs::rename(staging, &dest) {
            Ok(()) => Ok(true),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTEMPTY) | Some(libc::EEXIST)) => {
                Ok(false)
            }
            Err(e) => Err(StoreError::Io {
                action: "renaming into",
                path: dest,
                source: e,
            }),
        }
    }

    /// Takes a layer out of the store at once (a rename), returning the directory to delete.
    pub fn detach_layer(&self, diff_id: &str) -> Result<Option<PathBuf>, StoreError> {
        self.trash(&self.layer_dir(diff_id)?, "layer")
    }

    /// The diff ids of every unpacked layer in the store.
    pub fn layer_ids(&self) -> Vec<String> {
        self.digests_in("layers")
    }

    /// The digests of every blob in the store.
    pub fn blob_digests(&self) -> Vec<String> {
        self.digests_in("blobs/sha256")
    }

    /// `sha256:NAME` for each entry of `dir` named by 64 hex digits.
    fn digests_in(&self, dir: &str) -> Vec<String> {
        let Ok(entries) = fs::read_dir(self.root.join(dir)) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| Some(format!("sha256:{}", e.file_name().to_str()?)))
            .filter(|d| hex_of(d).is_ok())
            .collect()
    }

    /// Leftovers of interrupted writers: everything in `tmp/` not touched for `min_age`.
    pub fn stale_temps(&self, min_age: std::time::Duration) -> Vec<PathBuf> {
        let dir = self.root.join("tmp");
        let Ok(entries) = fs::read_dir(&dir) else {
            return Vec::new();
        };
        let now = SystemTime::now();
        entries
            .flatten()
            .filter(|e| {
                e.metadata()
                    .and_then(|m| m.modified())
                    .map(|t| now.duration_since(t).unwrap_or_default() >= min_age)
                    .unwrap_or(false)
            })
            .map(|e| e.path())
            .collect()
    }

    // ---- removal ----

    /// Takes `path` (a directory of the store, or a file) out of the store at once by renaming
    /// it into `trash/`, and returns the entry for the caller to delete; None when there was
    /// nothing to take.
    pub fn trash(&self, path: &Path, kind: &str) -> Result<Option<PathBuf>, StoreError> {
        let entry = self.root.join("trash").join(owned_name(kind));
        match fs::rename(path, &entry) {
            Ok(()) => Ok(Some(entry)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Io {
                action: "removing",
                path: path.to_path_buf(),
                source: e,
            }),
        }
    }

    /// What killed commands left: entries of `trash/` and `tmp/` whose process is gone. Each is
    /// claimed (renamed to a trash entry of this process, so that no other cleaner deletes it
    /// meanwhile) and returned for the caller to delete. Costs a directory read each when
    /// there are none.
    pub fn claim_leftovers(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for (dir, unnamed_is_leftover) in [("trash", true), ("tmp", false)] {
            let Ok(entries) = fs::read_dir(self.root.join(dir)) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name();
                // Only trash/ is ours alone: a name we cannot read there is garbage, in tmp/
                // it may be anybody's (the age rule of `stale_temps` is for those).
                let leftover = match name.to_str().and_then(owner_alive) {
                    Some(alive) => !alive,
                    None => unnamed_is_leftover,
                };
                if !leftover {
                    continue;
                }
                let kind = name
                    .to_str()
                    .and_then(|n| n.split('-').next())
                    .filter(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric()))
                    .unwrap_or("leftover");
                // Another cleaner may claim it first: then it is no longer there to rename.
                if let Ok(Some(p)) = self.trash(&e.path(), kind) {
                    out.push(p);
                }
            }
        }
        out
    }

    /// A fresh, empty staging directory `tmp/KIND-…/`, renamed into place once complete.
    pub fn staging_dir(&self, kind: &str) -> Result<PathBuf, StoreError> {
        let path = self.temp_path(kind);
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(io_err("creating", &path))?;
        Ok(path)
    }

    /// Held (shared) by every pull for as long as it runs.
    pub fn pull_guard(&self) -> Result<File, StoreError> {
        let path = self.root.join("locks/pulls.lock");
        let file = open_lock_file(&path)?;
        file.lock_shared().map_err(io_err("locking", &path))?;
        Ok(file)
    }

    /// The pulls lock taken alone, when no pull runs now; None while one does. Layers and blobs
    /// that no image names are only unused while this is held: a pull names them at its end.
    pub fn no_pull_running(&self) -> Result<Option<File>, StoreError> {
        let path = self.root.join("locks/pulls.lock");
        let file = open_lock_file(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(e)) => Err(StoreError::Io {
                action: "locking",
                path,
                source: e,
            }),
        }
    }

    // ---- images ----

    /// All image records. Takes no lock: the file is only ever replaced whole.
    pub fn images(&self) -> Result<Vec<ImageRecord>, StoreError> {
        let index: Option<ImageIndex> = read_json_opt(&self.root.join("images.json"))?;
        Ok(index.unwrap_or_default().images)
    }

    /// Adds or merges an image record (a pull, and later load, commit and build), moving its
    /// names off any other image. Returns whether
    /// anything changed (false when the names already pointed at this image).
    pub fn add_image(&self, mut record: ImageRecord) -> Result<bool, StoreError> {
        let lock = self.lock()?;
        // Under the lock, so that an `rmi` running meanwhile cannot leave us naming a layer it
        // just took away.
        if let Some(gone) = record.layers.iter().find(|l| !self.has_layer(l)) {
            return Err(StoreError::LayerGone(gone.clone()));
        }
        let mut images = self.images()?;
        let unchanged = images.iter().any(|i| {
            i.id == record.id
                && record.names.iter().all(|n| i.names.contains(n))
                && record.digests.iter().all(|d| i.digests.contains(d))
        });
        for other in images.iter_mut().filter(|i| i.id != record.id) {
            other.names.retain(|n| !record.names.contains(n));
        }
        match images.iter_mut().find(|i| i.id == record.id) {
            Some(existing) => {
                for n in existing.names.drain(..) {
                    if !record.names.contains(&n) {
                        record.names.push(n);
                    }
                }
                for d in existing.digests.drain(..) {
                    if !record.digests.contains(&d) {
                        record.digests.push(d);
                    }
                }
                *existing = record;
            }
            None => images.push(record),
        }
        self.write_images(&lock, images)?;
        Ok(!unchanged)
    }

    /// Replaces the image records; the caller holds the lock and read them under it.
    pub fn write_images(
        &self,
        _lock: &StoreLock,
        images: Vec<ImageRecord>,
    ) -> Result<(), StoreError> {
        write_json_atomic(&self.root.join("images.json"), &ImageIndex { images })
    }

    fn temp_path(&self, kind: &str) -> PathBuf {
        self.root.join("tmp").join(owned_name(kind))
    }
}

/// A blob being written; hashed as it goes.
pub struct BlobWriter {
    file: io::BufWriter<File>,
    hasher: Sha256,
    path: PathBuf,
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl BlobWriter {
    /// Checks the digest and renames the blob into place (replacing an identical one is harmless).
    pub fn commit(mut self, store: &Store, digest: &str) -> Result<(), StoreError> {
        let dest = store.blob_path(digest)?;
        self.file.flush().map_err(io_err("writing", &self.path))?;
        let actual = format!(
            "sha256:{}",
            hex::encode(std::mem::take(&mut self.hasher).finalize())
        );
        if actual != digest {
            return Err(StoreError::DigestMismatch {
                expected: digest.to_string(),
                actual,
            });
        }
        fs::rename(&self.path, &dest).map_err(io_err("renaming into", &dest))?;
        Ok(())
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        // After a successful commit the temp name is gone and this does nothing.
        let _ = fs::remove_file(&self.path);
    }
}

fn lock_file(path: &Path) -> Result<File, StoreError> {
    let file = open_lock_file(path)?;
    file.lock().map_err(io_err("locking", path))?;
    Ok(file)
}

fn open_lock_file(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(io_err("opening", path))
}

/// The hex part of a sha256 digest, checked so that it can name a file.
pub fn hex_of(digest: &str) -> Result<&str, StoreError> {
    let hex = digest
        .strip_prefix("sha256:")
        .ok_or_else(|| StoreError::BadDigest(digest.to_string()))?;
    if hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(hex)
    } else {
        Err(StoreError::BadDigest(digest.to_string()))
    }
}

fn unique_name(kind: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{kind}-{}-{}-{nanos:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A name for an entry of `tmp/` or `trash/` that says which process works on it.
fn owned_name(kind: &str) -> String {
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let start = START.get_or_init(|| crate::sys::process_start(std::process::id() as i32));
    format!("{}-s{start}", unique_name(kind))
}

/// Whether the process named in an entry's name (see `owned_name`; older names lack the start
/// time) is still at work on it; None for a name that names no process.
fn owner_alive(name: &str) -> Option<bool> {
    let pid: i32 = name.split('-').nth(1)?.parse().ok()?;
    let started = crate::sys::process_start(pid);
    let named = name
        .rsplit('-')
        .next()
        .and_then(|s| s.strip_prefix('s'))
        .and_then(|s| s.parse::<u64>().ok());
    Some(match named {
        Some(start) => started == start,
        None => started != 0,
    })
}

fn read_json_opt<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, StoreError> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(StoreError::Io {
                action: "reading",
                path: path.to_path_buf(),
                source: e,
            })
        }
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(io_err("reading", path))?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| StoreError::Corrupt {
            path: path.to_path_buf(),
            why: e.to_string(),
        })
}

/// Writes JSON to a temp file beside `path`, syncs it, and renames it over `path`.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<(), StoreError> {
    write_json(path, value, true)
}

/// As `write_json_atomic`, without waiting for the disk: for records that are rewritten often
/// and whose loss in a power cut costs nothing but a stale state (container records: a
/// reader still sees the old or the new text, never a mix).
pub fn write_json_replace<T: Serialize>(path: &Path, value: &T) -> Result<(), StoreError> {
    write_json(path, value, false)
}

fn write_json<T: Serialize>(path: &Path, value: &T, durable: bool) -> Result<(), StoreError> {
    let tmp = path.with_file_name(format!(
        ".{}.{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("record"),
        unique_name("tmp")
    ));
    let bytes = serde_json::to_vec(value).map_err(|e| StoreError::Corrupt {
        path: path.to_path_buf(),
        why: e.to_string(),
    })?;
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(&bytes)?;
        if durable {
            file.sync_data()?;
        }
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io_err("writing", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_checked_and_atomic() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(b"abc")));
        store.put_blob(&digest, b"abc").unwrap();
        assert_eq!(store.read_blob(&digest).unwrap(), b"abc");
        let wrong = format!("sha256:{}", "0".repeat(64));
        assert!(matches!(
            store.put_blob(&wrong, b"abc"),
            Err(StoreError::DigestMismatch { .. })
        ));
        assert!(!store.has_blob(&wrong));
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        assert!(store.blob_path("sha256:../../x").is_err());
    }

    #[test]
    fn images_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store.images().unwrap().is_empty());
        let lock = store.lock().unwrap();
        let rec = ImageRecord {
            id: format!("sha256:{}", "a".repeat(64)),
            names: vec!["r/x:1".into()],
            digests: vec![],
            manifest_digest: String::new(),
            manifest_media_type: String::new(),
            layers: vec![],
            blobs: vec![],
            size: 1,
            created: None,
            architecture: "amd64".into(),
            os: "linux".into(),
            variant: None,
            tagged: None,
        };
        store.write_images(&lock, vec![rec.clone()]).unwrap();
        assert_eq!(store.images().unwrap(), vec![rec]);
    }

    #[test]
    fn removals_go_through_trash_and_leftovers_are_claimed_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let victim = dir.path().join("layers/x");
        fs::create_dir_all(victim.join("diff/a")).unwrap();
        let entry = store.trash(&victim, "layer").unwrap().unwrap();
        assert!(!victim.exists() && entry.join("diff/a").is_dir());
        assert!(entry.starts_with(dir.path().join("trash")));
        assert!(store.trash(&victim, "layer").unwrap().is_none());
        // This process's own entries are never leftovers while it lives.
        let staging = store.staging_dir("container").unwrap();
        assert!(store.claim_leftovers().is_empty());
        // Entries of a process that is gone, or of a recycled pid (another start time).
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let me = std::process::id();
        for name in [
            format!("trash/container-{dead}-0-0-s1"),
            format!("trash/layer-{me}-0-0-s1"),
            format!("tmp/layer-{dead}-0-0"),
        ] {
            fs::create_dir(dir.path().join(name)).unwrap();
        }
        // A temp name that names no process is somebody else's; in trash/ it is garbage.
        fs::write(dir.path().join("tmp/unknown"), "").unwrap();
        fs::create_dir(dir.path().join("trash/unknown")).unwrap();
        let claimed = store.claim_leftovers();
        assert_eq!(claimed.len(), 4, "{claimed:?}");
        for c in &claimed {
            let name = c.file_name().unwrap().to_str().unwrap();
            assert!(c.starts_with(dir.path().join("trash")), "{c:?}");
            assert_eq!(owner_alive(name), Some(true), "{name}");
        }
        assert!(store.claim_leftovers().is_empty());
        assert!(staging.is_dir() && dir.path().join("tmp/unknown").exists());
    }
}
