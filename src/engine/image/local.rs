//! Local image operations: find, list, inspect, tag, remove, prune, history.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::engine::{Engine, ObjectKind};
use crate::image::manifest::ImageConfig;
use crate::image::reference::{self, ParsedName, Reference};
use crate::store::ImageRecord;
use crate::Error;

/// A row of `skiff images`: one per name, or one `<none>` row for an untagged image.
#[derive(Debug, Clone)]
pub struct ImageRow {
    pub id: String,
    pub repository: String,
    pub tag: String,
    pub digest: String,
    pub created: Option<DateTime<Utc>>,
    pub size: u64,
    pub labels: Vec<(String, String)>,
}

/// `--filter` terms of `skiff images`.
#[derive(Debug, Clone, Default)]
pub struct ImageFilters {
    pub dangling: Option<bool>,
    pub references: Vec<String>,
    pub before: Option<String>,
    pub since: Option<String>,
    pub labels: Vec<(String, Option<String>)>,
}

impl ImageFilters {
    /// Parses Docker's `key=value` filter terms.
    pub fn parse(terms: &[String]) -> Result<ImageFilters, Error> {
        let mut f = ImageFilters::default();
        for term in terms {
            let (key, value) = term.split_once('=').ok_or_else(|| {
                Error::Invalid(format!(
                    "bad format of filter (expected name=value): {term}"
                ))
            })?;
            match key {
                "dangling" => {
                    f.dangling = Some(match value.to_lowercase().as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => {
                            return Err(Error::Invalid(format!(
                                "invalid filter 'dangling={value}': expected true or false"
                            )))
                        }
                    })
                }
                "reference" => {
                    // Docker refuses a pattern path.Match cannot read rather than match nothing.
                    if let Err(at) = check_pattern(value) {
                        return Err(Error::Invalid(format!(
                            "invalid filter 'reference={value}': syntax error in pattern at \
                             character {}; use *, ? and [a-z] as in a shell",
                            at + 1
                        )));
                    }
                    f.references.push(value.to_string())
                }
                "before" => f.before = Some(value.to_string()),
                "since" => f.since = Some(value.to_string()),
                "label" => f.labels.push(match value.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (value.to_string(), None),
                }),
                other => return Err(Error::Invalid(format!("invalid filter '{other}'"))),
            }
        }
        Ok(f)
    }
}

/// What one `rmi` argument did.
#[derive(Debug, Clone, Default)]
pub struct Removed {
    pub untagged: Vec<String>,
    pub deleted: Vec<String>,
    pub reclaimed: u64,
}

/// A row of `skiff history`.
#[derive(Debug, Clone)]
pub struct HistoryRow {
    pub id: String,
    pub created: Option<DateTime<Utc>>,
    pub created_by: String,
    pub size: u64,
    pub comment: String,
}

/// How a user's argument matched an image.
enum Match {
    Id(usize),
    Name(usize, String),
    Digest(usize, String),
}

impl Engine {
    /// Finds the image a user means by a name, a digest reference or an id (prefix).
    pub fn find_image(&self, name: &str) -> Result<ImageRecord, Error> {
        let images = self.store.images()?;
        let m = self.resolve(&images, name)?;
        Ok(images[match m {
            Match::Id(i) | Match::Name(i, _) | Match::Digest(i, _) => i,
        }]
        .clone())
    }

    pub fn image_exists(&self, name: &str) -> Result<bool, Error> {
        match self.find_image(name) {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found(ObjectKind::Image) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn resolve(&self, images: &[ImageRecord], name: &str) -> Result<Match, Error> {
        let no_such = || Error::no_such_image(name);
        if let Some(i) = match_id(images, name)? {
            return Ok(Match::Id(i));
        }
        let parsed = match reference::parse_name(name) {
            Ok(p) => p,
            Err(_) => return Err(no_such()),
        };
        let candidates: Vec<Reference> = match &parsed {
            ParsedName::Qualified(r) => vec![r.clone()],
            ParsedName::Short(s) => {
                let mut c = vec![s.qualify("docker.io"), s.qualify("localhost")];
                for reg in self.registries()?.search_registries() {
                    c.push(s.qualify(&reg));
                }
                c
            }
        };
        for r in &candidates {
            if let Some(digest) = &r.digest {
                let want = format!("{}@{digest}", r.repo_name());
                if let Some(i) = images.iter().position(|im| im.digests.contains(&want)) {
                    return Ok(Match::Digest(i, want));
                }
                continue;
            }
            let full = tagged(r).to_string();
            if let Some(i) = images.iter().position(|im| im.names.contains(&full)) {
                return Ok(Match::Name(i, full));
            }
        }
        // A short name also matches a name on any registry whose path ends with it (as Podman
        // does), provided only one image does.
        if let ParsedName::Short(s) = &parsed {
            if s.digest.is_none() {
                let suffix = format!("/{}:{}", s.repository, s.tag.as_deref().unwrap_or("latest"));
                let found: Vec<(usize, &String)> = images
                    .iter()
                    .enumerate()
                    .flat_map(|(i, im)| im.names.iter().map(move |n| (i, n)))
                    .filter(|(_, n)| n.ends_with(&suffix))
                    .collect();
                match found.as_slice() {
                    [(i, n)] => return Ok(Match::Name(*i, (*n).clone())),
                    [] => {}
                    many => {
                        return Err(Error::Conflict(format!(
                            "{name} is ambiguous: it could be {}; use the full name",
                            many.iter()
                                .map(|(_, n)| familiar(n))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )))
                    }
                }
            }
        }
        Err(no_such())
    }

    /// The rows of `skiff images`, newest first.
    pub fn list_images(&self, filters: &ImageFilters) -> Result<Vec<ImageRow>, Error> {
        let images = self.store.images()?;
        let created_of = |i: &ImageRecord| parse_time(i.created.as_deref());
        let before = match &filters.before {
            Some(n) => Some(created_of(&self.find_image(n)?)),
            None => None,
        };
        let since = match &filters.since {
            Some(n) => Some(created_of(&self.find_image(n)?)),
            None => None,
        };
        let mut rows = Vec::new();
        for image in &images {
            let created = created_of(image);
            if filters
                .dangling
                .is_some_and(|d| d != image.names.is_empty())
            {
                continue;
            }
            if before.is_some_and(|b| created >= b) || since.is_some_and(|s| created <= s) {
                continue;
            }
            let labels = if filters.labels.is_empty() {
                Vec::new()
            } else {
                self.labels(image)
            };
            let label_ok = filters.labels.iter().all(|(k, v)| {
                labels
                    .iter()
                    .any(|(lk, lv)| lk == k && v.as_ref().is_none_or(|v| v == lv))
            });
            if !label_ok {
                continue;
            }
            let digest_for = |repo: &str| {
                image
                    .digests
                    .iter()
                    .find_map(|d| d.strip_prefix(&format!("{repo}@")).map(str::to_string))
                    .unwrap_or_else(|| "<none>".into())
            };
            let mut push = |repository: String, tag: String, digest: String| {
                rows.push(ImageRow {
                    id: image.id.clone(),
                    repository,
                    tag,
                    digest,
                    created,
                    size: image.size,
                    labels: labels.clone(),
                })
            };
            if image.names.is_empty() {
                let digest = image
                    .digests
                    .first()
                    .and_then(|d| d.split_once('@'))
                    .map(|(_, d)| d.to_string())
                    .unwrap_or_else(|| "<none>".into());
                if filters.references.is_empty() {
                    push("<none>".into(), "<none>".into(), digest);
                }
                continue;
            }
            for name in &image.names {
                let (repo, tag) = split_tag(name);
                let shown = familiar(repo);
                if !filters.references.is_empty()
                    && !filters
                        .references
                        .iter()
                        .any(|p| reference_matches(p, &shown, repo, tag))
                {
                    continue;
                }
                push(shown, tag.to_string(), digest_for(repo));
            }
        }
        rows.sort_by(|a, b| {
            b.created
                .cmp(&a.created)
                .then(a.repository.cmp(&b.repository))
        });
        Ok(rows)
    }

    /// The image's config, as stored.
    pub fn image_config(&self, image: &ImageRecord) -> Result<(ImageConfig, Value), Error> {
        let bytes = self.store.read_blob(&image.id)?;
        let config = ImageConfig::parse(&bytes)?;
        let raw: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((config, raw))
    }

    fn labels(&self, image: &ImageRecord) -> Vec<(String, String)> {
        self.image_config(image)
            .ok()
            .and_then(|(c, _)| c.config.and_then(|c| c.labels))
            .map(|l| l.into_iter().collect())
            .unwrap_or_default()
    }

    /// Docker's `image inspect` object for one image.
    pub fn inspect_image(&self, name: &str) -> Result<Value, Error> {
        let image = self.find_image(name)?;
        let (config, raw) = self.image_config(&image)?;
        let run = raw.get("config").cloned().unwrap_or(Value::Null);
        let field = |k: &str| run.get(k).cloned().unwrap_or(Value::Null);
        let repo_tags: Vec<String> = image.names.iter().map(|n| familiar(n)).collect();
        let repo_digests: Vec<String> = image.digests.iter().map(|d| familiar(d)).collect();
        let lower_dirs: Vec<String> = image
            .layers
            .iter()
            .rev()
            .filter_map(|l| self.store.layer_diff(l).ok())
            .map(|p| p.display().to_string())
            .collect();
        Ok(json!({
            "Id": image.id,
            "RepoTags": repo_tags,
            "RepoDigests": repo_digests,
            "Parent": "",
            "Comment": config.comment.clone().unwrap_or_default(),
            "Created": config.created.clone().unwrap_or_default(),
            "DockerVersion": config.docker_version.clone().unwrap_or_default(),
            "Author": config.author.clone().unwrap_or_default(),
            "Config": {
                "Hostname": "",
                "Domainname": "",
                "User": field("User").as_str().unwrap_or(""),
                "AttachStdin": false,
                "AttachStdout": false,
                "AttachStderr": false,
                "ExposedPorts": field("ExposedPorts"),
                "Tty": false,
                "OpenStdin": false,
                "StdinOnce": false,
                "Env": field("Env"),
                "Cmd": field("Cmd"),
                "Image": "",
                "Volumes": field("Volumes"),
                "WorkingDir": field("WorkingDir").as_str().unwrap_or(""),
                "Entrypoint": field("Entrypoint"),
                "OnBuild": field("OnBuild"),
                "Labels": field("Labels"),
                "StopSignal": field("StopSignal"),
            },
            "Architecture": image.architecture,
            "Variant": image.variant,
            "Os": image.os,
            "Size": image.size,
            "VirtualSize": image.size,
            "GraphDriver": {
                "Name": "overlay",
                "Data": { "LowerDir": lower_dirs.join(":") },
            },
            "RootFS": {
                "Type": "layers",
                "Layers": image.layers,
            },
            "Metadata": {
                "LastTagTime": image.tagged.clone().unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
            },
            "Digest": image.manifest_digest,
            "ManifestMediaType": image.manifest_media_type,
        }))
    }

    /// `skiff tag SOURCE TARGET`.
    pub fn tag(&self, source: &str, target: &str) -> Result<(), Error> {
        let target_ref = match reference::parse_name(target)? {
            ParsedName::Qualified(r) => r,
            ParsedName::Short(s) => s.qualify("docker.io"),
        };
        if target_ref.digest.is_some() {
            return Err(Error::Invalid(format!(
                "refusing to create a tag with a digest reference: {target}"
            )));
        }
        let target_ref = tagged(&target_ref);
        let lock = self.store.lock()?;
        let mut images = self.store.images()?;
        let i = match self.resolve(&images, source)? {
            Match::Id(i) | Match::Name(i, _) | Match::Digest(i, _) => i,
        };
        let name = target_ref.to_string();
        for im in images.iter_mut() {
            im.names.retain(|n| n != &name);
        }
        images[i].names.insert(0, name);
        images[i].tagged = Some(Utc::now().to_rfc3339());
        self.store.write_images(&lock, images)?;
        Ok(())
    }

    /// `skiff rmi NAME`: untags, and deletes the image when nothing names it any more.
    pub fn remove_image(&self, name: &str, force: bool) -> Result<Removed, Error> {
        let lock = self.store.lock()?;
        let mut images = self.store.images()?;
        let mut out = Removed::default();
        let matched = self.resolve(&images, name)?;
        let before = images[match &matched {
            Match::Id(i) | Match::Name(i, _) | Match::Digest(i, _) => *i,
        }]
        .clone();
        let i = match matched {
            Match::Name(i, full) => {
                images[i].names.retain(|n| n != &full);
                out.untagged.push(familiar(&full));
                if !images[i].names.is_empty() {
                    self.store.write_images(&lock, images)?;
                    return Ok(out);
                }
                // Docker forgets the repository's digest along with its last tag.
                let repo = split_tag(&full).0.to_string();
                let (gone, kept): (Vec<String>, Vec<String>) = images[i]
                    .digests
                    .drain(..)
                    .partition(|d| d.starts_with(&format!("{repo}@")));
                images[i].digests = kept;
                out.untagged.extend(gone.iter().map(|d| familiar(d)));
                i
            }
            Match::Digest(i, digest) => {
                images[i].digests.retain(|d| d != &digest);
                out.untagged.push(familiar(&digest));
                if !images[i].names.is_empty() && !force {
                    self.store.write_images(&lock, images)?;
                    return Ok(out);
                }
                i
            }
            Match::Id(i) => {
                if images[i].names.len() > 1 && !force {
                    return Err(Error::Conflict(format!(
                        "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                        short_hex(&images[i].id)
                    )));
                }
                i
            }
        };
        if let Some(container) = self.container_using(&images[i].id)? {
            if !force {
                return Err(Error::Conflict(format!(
                    "conflict: unable to remove {name} (must be forced) - container {} is using its referenced image {}",
                    &container[..12],
                    short_hex(&images[i].id)
                )));
            }
            // Forced: the names go, the image stays for its container (Docker's way).
            out.untagged
                .extend(images[i].names.drain(..).map(|n| familiar(&n)));
            self.store.write_images(&lock, images)?;
            return Ok(out);
        }
        let image = images.remove(i);
        out.untagged.extend(image.names.iter().map(|n| familiar(n)));
        out.untagged
            .extend(image.digests.iter().map(|d| familiar(d)));
        // `before` still lists the digests untagged above: their manifests go too.
        let (deleted, reclaimed, mut trash) = self.delete_unreferenced(&lock, images, &before)?;
        out.deleted = deleted;
        out.reclaimed = reclaimed;
        trash.extend(self.claim_leftovers(&lock));
        drop(lock);
        self.remove_trees(&trash)?;
        Ok(out)
    }

    /// Writes `remaining` and takes out of the store whatever only `gone` used. Returns the ids
    /// deleted (image, then layers), the bytes reclaimed, and the layer trees left to delete.
    fn delete_unreferenced(
        &self,
        lock: &crate::store::StoreLock,
        remaining: Vec<ImageRecord>,
        gone: &ImageRecord,
    ) -> Result<(Vec<String>, u64, Vec<std::path::PathBuf>), Error> {
        let used_layers: HashSet<&String> = remaining.iter().flat_map(|i| &i.layers).collect();
        let used_blobs: HashSet<String> = remaining.iter().flat_map(blobs_of).collect();
        self.store.write_images(lock, remaining.clone())?;
        let mut deleted = vec![gone.id.clone()];
        let mut reclaimed = 0;
        let mut trash = Vec::new();
        let mut seen = HashSet::new();
        for layer in &gone.layers {
            if used_layers.contains(layer) || !seen.insert(layer) {
                continue;
            }
            let size = self
                .store
                .layer(layer)
                .ok()
                .flatten()
                .map(|l| l.size)
                .unwrap_or(0);
            if let Some(dir) = self.store.detach_layer(layer)? {
                reclaimed += size;
                trash.push(dir);
                deleted.push(layer.clone());
            }
        }
        for blob in blobs_of(gone) {
            if !used_blobs.contains(&blob) {
                self.store.remove_blob(&blob)?;
            }
        }
        Ok((deleted, reclaimed, trash))
    }

    /// The id of a container made from this image, if any.
    fn container_using(&self, image_id: &str) -> Result<Option<String>, Error> {
        Ok(self
            .containers()?
            .into_iter()
            .find(|c| c.image_id == image_id)
            .map(|c| c.id))
    }

    /// `skiff image prune [-a]`: removes untagged images (with `all`, every image no container
    /// uses) that match `filters`.
    pub fn prune_images(
        &self,
        all: bool,
        filters: &crate::engine::filters::PruneFilters,
    ) -> Result<Removed, Error> {
        let lock = self.store.lock()?;
        let mut out = Removed::default();
        let mut trash = Vec::new();
        let in_use: HashSet<String> = self.containers()?.into_iter().map(|c| c.image_id).collect();
        loop {
            let mut images = self.store.images()?;
            let Some(i) = images.iter().position(|im| {
                (all || im.names.is_empty())
                    && !in_use.contains(&im.id)
                    && filters.matches(parse_time(im.created.as_deref()), &|| self.labels(im))
            }) else {
                break;
            };
            let image = images.remove(i);
            out.untagged.extend(image.names.iter().map(|n| familiar(n)));
            let (deleted, reclaimed, t) = self.delete_unreferenced(&lock, images, &image)?;
            out.deleted.extend(deleted);
            out.reclaimed += reclaimed;
            trash.extend(t);
        }
        // What no image names: layers and blobs of pulls killed before they recorded their
        // image (a pull that runs now names its own at its end, so none may run meanwhile).
        if let Some(_no_pull) = self.store.no_pull_running()? {
            let images = self.store.images()?;
            let used_layers: HashSet<&String> = images.iter().flat_map(|i| &i.layers).collect();
            let used_blobs: HashSet<String> = images.iter().flat_map(blobs_of).collect();
            for layer in self.store.layer_ids() {
                if used_layers.contains(&layer) {
                    continue;
                }
                let size = self
                    .store
                    .layer(&layer)
                    .ok()
                    .flatten()
                    .map_or(0, |l| l.size);
                if let Some(dir) = self.store.detach_layer(&layer)? {
                    out.reclaimed += size;
                    out.deleted.push(layer);
                    trash.push(dir);
                }
            }
            for blob in self.store.blob_digests() {
                if !used_blobs.contains(&blob) {
                    self.store.remove_blob(&blob)?;
                }
            }
        }
        // Leftovers of commands that were killed: staging directories, half-written blobs,
        // half-deleted trees.
        trash.extend(self.claim_leftovers(&lock));
        trash.extend(self.store.stale_temps(std::time::Duration::from_secs(3600)));
        drop(lock);
        self.remove_trees(&trash)?;
        Ok(out)
    }

    /// `skiff history IMAGE`, newest step first.
    pub fn history(&self, name: &str) -> Result<Vec<HistoryRow>, Error> {
        let image = self.find_image(name)?;
        let (config, _) = self.image_config(&image)?;
        let mut sizes = image.layers.iter().map(|l| {
            self.store
                .layer(l)
                .ok()
                .flatten()
                .map(|r| r.size)
                .unwrap_or(0)
        });
        let mut rows: Vec<HistoryRow> = if config.history.is_empty() {
            image
                .layers
                .iter()
                .map(|_| HistoryRow {
                    id: "<missing>".into(),
                    created: None,
                    created_by: String::new(),
                    size: sizes.next().unwrap_or(0),
                    comment: String::new(),
                })
                .collect()
        } else {
            config
                .history
                .iter()
                .map(|h| HistoryRow {
                    id: "<missing>".into(),
                    created: h
                        .created
                        .as_deref()
                        .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
                        .map(|t| t.with_timezone(&Utc)),
                    created_by: h.created_by.clone().unwrap_or_default(),
                    size: if h.empty_layer {
                        0
                    } else {
                        sizes.next().unwrap_or(0)
                    },
                    comment: h.comment.clone().unwrap_or_default(),
                })
                .collect()
        };
        rows.reverse();
        if let Some(top) = rows.first_mut() {
            top.id = image.id.clone();
        }
        Ok(rows)
    }
}

/// `sha256:<hex prefix>` or a bare hex prefix of at least 3 digits names an image by id.
fn match_id(images: &[ImageRecord], name: &str) -> Result<Option<usize>, Error> {
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    let explicit = name.starts_with("sha256:");
    if hex.len() < 3 || hex.len() > 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let hits: Vec<usize> = images
        .iter()
        .enumerate()
        .filter(|(_, im)| {
            im.id
                .strip_prefix("sha256:")
                .unwrap_or(&im.id)
                .starts_with(hex)
        })
        .map(|(i, _)| i)
        .collect();
    match hits.as_slice() {
        [i] => Ok(Some(*i)),
        [] => Ok(None),
        _ if explicit || hex.len() >= 12 => Err(Error::Conflict(format!(
            "image id prefix {name} is ambiguous: give more digits"
        ))),
        _ => Ok(None),
    }
}

fn blobs_of(image: &ImageRecord) -> Vec<String> {
    let mut out = vec![image.id.clone(), image.manifest_digest.clone()];
    out.extend(
        image
            .digests
            .iter()
            .filter_map(|d| d.split_once('@').map(|(_, h)| h.to_string())),
    );
    out.extend(image.blobs.iter().map(|b| b.digest.clone()));
    out
}

fn tagged(r: &Reference) -> Reference {
    let mut r = r.clone();
    if r.tag.is_none() && r.digest.is_none() {
        r.tag = Some("latest".into());
    }
    r
}

/// Splits `registry/repo:tag` into `registry/repo` and `tag` (the colon after the last slash).
pub fn split_tag(name: &str) -> (&str, &str) {
    let slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
    match name[slash..].rfind(':') {
        Some(i) => (&name[..slash + i], &name[slash + i + 1..]),
        None => (name, ""),
    }
}

/// Docker's short display of a stored name: `docker.io/library/x` → `x`.
pub fn familiar(name: &str) -> String {
    let rest = name.strip_prefix("docker.io/").unwrap_or(name);
    if rest.len() == name.len() {
        return name.to_string();
    }
    rest.strip_prefix("library/")
        .filter(|r| !r.contains('/'))
        .unwrap_or(rest)
        .to_string()
}

pub fn short_hex(id: &str) -> String {
    id.strip_prefix("sha256:")
        .unwrap_or(id)
        .chars()
        .take(12)
        .collect()
}

fn parse_time(t: Option<&str>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// Docker's `reference=` filter: a glob on the familiar `repo` or `repo:tag`.
fn reference_matches(pattern: &str, shown: &str, full_repo: &str, tag: &str) -> bool {
    let with_tag = format!("{shown}:{tag}");
    let full_with_tag = format!("{full_repo}:{tag}");
    [shown, with_tag.as_str(), full_repo, full_with_tag.as_str()]
        .iter()
        .any(|s| glob(pattern.as_bytes(), s.as_bytes()))
}

/// Go's path.Match, which Docker uses: `*` (not crossing `/`), `?`, `[a-z]` and `[^…]`
/// classes, and `\\` escapes. The pattern has passed [`check_pattern`].
fn glob(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&p[1..], s) || (!s.is_empty() && s[0] != b'/' && glob(p, &s[1..])),
        (Some(b'?'), Some(c)) if *c != b'/' => glob(&p[1..], &s[1..]),
        (Some(b'['), Some(c)) if *c != b'/' => match class(&p[1..], *c) {
            Some((true, used)) => glob(&p[1 + used..], &s[1..]),
            _ => false,
        },
        (Some(b'\\'), Some(c)) if p.get(1) == Some(c) => glob(&p[2..], &s[1..]),
        (Some(a), Some(b)) if a == b && *a != b'\\' && *a != b'[' => glob(&p[1..], &s[1..]),
        _ => false,
    }
}

/// Matches `c` against the class that `p` starts (just after its `[`): whether it matched, and
/// how many bytes of `p` the class took up to and with its `]`. `None` when it is malformed.
fn class(p: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut i = 0;
    let negated = p.first() == Some(&b'^');
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut ranges = 0;
    loop {
        match p.get(i)? {
            b']' if ranges > 0 => return Some((matched != negated, i + 1)),
            _ => {}
        }
        let (lo, after) = class_char(p, i)?;
        i = after;
        let hi = if p.get(i) == Some(&b'-') {
            let (hi, after) = class_char(p, i + 1)?;
            i = after;
            hi
        } else {
            lo
        };
        if hi < lo {
            return None;
        }
        matched |= (lo..=hi).contains(&c);
        ranges += 1;
    }
}

/// One character of a class at `p[i]`, unescaped, and where the next one starts; `-` and `]`
/// must be escaped there, as Go requires.
fn class_char(p: &[u8], i: usize) -> Option<(u8, usize)> {
    match p.get(i)? {
        b'-' | b']' => None,
        b'\\' => p.get(i + 1).map(|c| (*c, i + 2)),
        c => Some((*c, i + 1)),
    }
}

/// Where a pattern stops being one Go's path.Match reads (an unclosed or empty class, a
/// dangling escape), as a byte offset.
fn check_pattern(pattern: &str) -> Result<(), usize> {
    let p = pattern.as_bytes();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            b'\\' if i + 1 == p.len() => return Err(i),
            b'\\' => i += 2,
            b'[' => match class(&p[i + 1..], 0) {
                Some((_, used)) => i += 1 + used,
                None => return Err(i),
            },
            _ => i += 1,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            split_tag("127.0.0.1:5000/a/b:1"),
            ("127.0.0.1:5000/a/b", "1")
        );
        assert_eq!(split_tag("127.0.0.1:5000/a"), ("127.0.0.1:5000/a", ""));
        assert_eq!(
            familiar("docker.io/library/busybox:latest"),
            "busybox:latest"
        );
        assert_eq!(familiar("docker.io/user/x:1"), "user/x:1");
        assert_eq!(familiar("quay.io/a/b:1"), "quay.io/a/b:1");
    }

    #[test]
    fn globs() {
        assert!(glob(b"busy*", b"busybox"));
        assert!(glob(b"*:latest", b"busybox:latest"));
        assert!(!glob(b"*", b"a/b"));
        assert!(glob(b"a/?", b"a/b"));
        assert!(glob(b"busybox:[0-9]*", b"busybox:1.36"));
        assert!(!glob(b"busybox:[0-9]*", b"busybox:latest"));
        assert!(glob(b"busybox:[^0-9]*", b"busybox:latest"));
        assert!(glob(b"a[bc]d", b"acd"));
        assert!(glob(b"a\\*", b"a*"));
        assert!(!glob(b"a\\*", b"ab"));
        assert!(!glob(b"[a]", b"/"));
    }

    #[test]
    fn malformed_patterns_are_found_as_go_finds_them() {
        for good in ["busy*", "a[b-c]", "[^a]", "a\\]", "[\\]]", ""] {
            assert_eq!(check_pattern(good), Ok(()), "{good}");
        }
        for (bad, at) in [
            ("[", 0),
            ("a[", 1),
            ("[]", 0),
            ("[z-a]", 0),
            ("a\\", 1),
            ("[-]", 0),
        ] {
            assert_eq!(check_pattern(bad), Err(at), "{bad}");
        }
    }
}
