//! `skiff pull`: resolve a name, fetch its manifest, and download, verify and unpack the layers the
//! store lacks, several at a time, each streamed from the registry into the unpacker and the blob
//! store at once (one pass over the bytes; memory stays bounded whatever the layer size).

use std::collections::HashSet;
use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::unpacker::{LayerSink, Prepared};
use crate::config::Credentials;
use crate::engine::{Engine, ObjectKind};
use crate::engine::{Notice, Notices};
use crate::image::manifest::{self, Descriptor, ImageConfig, ImageManifest, Manifest};
pub use crate::image::platform::PlatformSpec;
use crate::image::reference::{self, ParsedName, Reference};
use crate::image::registry::{self, FetchedManifest, RegistryError, Session, Target};
use crate::store::{BlobRef, ImageRecord, LayerRecord};
use crate::Error;

/// Layers fetched at once: enough to overlap download and unpack on small machines.
const PARALLEL_LAYERS: usize = 3;

#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    pub all_tags: bool,
    pub platform: Option<PlatformSpec>,
    /// `Some(false)` for `--tls-verify=false`.
    pub tls_verify: Option<bool>,
    pub creds: Option<Credentials>,
}

/// What a pull reports while it works, for the CLI to draw.
#[derive(Debug, Clone)]
pub enum PullEvent {
    /// `TAG: Pulling from REPO`.
    Pulling {
        tag: String,
        repository: String,
    },
    Layer {
        id: String,
        status: LayerStatus,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum LayerStatus {
    AlreadyExists,
    Waiting,
    Downloading { current: u64, total: u64 },
    Complete,
}

/// The result of pulling one reference.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub reference: Reference,
    pub image_id: String,
    /// The digest a later `pull NAME@DIGEST` would use (index or manifest).
    pub digest: String,
    /// False when the image was already there and only its name was (re)applied.
    pub downloaded: bool,
}

type Progress<'a> = &'a (dyn Fn(PullEvent) + Sync);

/// Where a pull reports: its progress, and what the user should know.
#[derive(Clone, Copy)]
struct Report<'a> {
    progress: Progress<'a>,
    notices: Notices<'a>,
}

impl Engine {
    /// Pulls `name` (or, with `all_tags`, every tag of its repository).
    pub fn pull(
        &self,
        name: &str,
        opts: &PullOptions,
        progress: Progress<'_>,
        notices: Notices<'_>,
    ) -> Result<Vec<Pulled>, Error> {
        let report = Report { progress, notices };
        // Held to the end: a sweep of layers no image names must not take this pull's.
        let _pulling = self.store.pull_guard()?;
        std::thread::scope(|scope| {
            if self.user.rootless() {
                // Start an unpacker in the user namespace while the manifest is fetched: it
                // costs a few milliseconds (fork, exec, newuidmap) that need not wait.
                self.spare.start();
                scope.spawn(|| self.spare.finish(self.prepare_unpacker()));
            }
            let result = self.pull_names(name, opts, report);
            if let Some(Ok(unused)) = self.spare.take() {
                let _ = self.remove_trees(&[unused.discard()]);
            }
            result
        })
    }

    fn pull_names(
        &self,
        name: &str,
        opts: &PullOptions,
        report: Report<'_>,
    ) -> Result<Vec<Pulled>, Error> {
        let candidates = self.candidates(name)?;
        tracing::debug!("candidates: {candidates:?}");
        // What an earlier, killed command left half-done goes first; failing that is no reason
        // to stop.
        let _ = self.finish_leftovers();
        if opts.all_tags {
            if candidates[0].tag.is_some() || candidates[0].digest.is_some() {
                return Err(Error::Invalid(
                    "tag can't be used with --all-tags/-a".into(),
                ));
            }
            return self.pull_all_tags(&candidates, opts, report);
        }
        let mut errors = Vec::new();
        for reference in &candidates {
            let reference = with_default_tag(reference.clone());
            match self.pull_one(&reference, opts, report) {
                Ok(p) => return Ok(vec![p]),
                // A short name moves on to the next search registry, as Podman does.
                Err(e) if candidates.len() > 1 => errors.push(format!("{reference}: {e}")),
                Err(e) => return Err(e),
            }
        }
        Err(Error::not_found(
            ObjectKind::Image,
            format!(
                "{name}: no search registry could provide it ({})",
                errors.join("; ")
            ),
        ))
    }

    /// Refuses a name that is no image reference at all, before anything is said about it.
    pub fn check_reference(name: &str) -> Result<(), Error> {
        reference::parse_name(name).map(|_| ()).map_err(Error::from)
    }

    /// The fully qualified names a user's name may mean, in the order to try them.
    pub fn candidates(&self, name: &str) -> Result<Vec<Reference>, Error> {
        match reference::parse_name(name)? {
            ParsedName::Qualified(r) => Ok(vec![r]),
            ParsedName::Short(short) => {
                let registries = self.registries()?;
                if let Some(alias) = registries.alias(&short.repository) {
                    let mut r = match reference::parse_name(&alias)? {
                        ParsedName::Qualified(r) => r,
                        ParsedName::Short(s) => s.qualify("docker.io"),
                    };
                    r.tag = short.tag.clone();
                    r.digest = short.digest.clone();
                    return Ok(vec![r]);
                }
                Ok(registries
                    .search_registries()
                    .iter()
                    .map(|reg| short.qualify(reg))
                    .collect())
            }
        }
    }

    /// Sessions for the places `reference` may be pulled from: mirrors first, then the registry.
    fn session(
        &self,
        reference: &Reference,
        opts: &PullOptions,
        report: Report<'_>,
    ) -> Result<Vec<Session>, Error> {
        let registries = self.registries()?;
        let endpoint = registries.endpoint_with_tls(
            &reference.registry,
            &reference.repository,
            opts.tls_verify,
        );
        if endpoint.blocked {
            return Err(Error::Invalid(format!(
                "registry {} is blocked in registries.conf",
                reference.registry
            )));
        }
        let creds = match &opts.creds {
            Some(c) => Some(c.clone()),
            None => {
                let found = self.credentials(&reference.registry, &reference.repository)?;
                for broken in &found.skipped {
                    (report.notices)(Notice(format!(
                        "{broken}: its credentials are not used (Docker goes on without them \
                         too); fix or remove the file"
                    )));
                }
                found.credentials
            }
        };
        let agent = registry::agents();
        Ok(endpoint
            .pull_sources(reference.digest.is_some())
            .into_iter()
            .map(|source| {
                let host = if source.host == "docker.io" {
                    "registry-1.docker.io".to_string()
                } else {
                    source.host.clone()
                };
                Session::new(
                    agent.clone(),
                    Target {
                        host,
                        repository: source.repository.clone(),
                        insecure: source.insecure,
                    },
                    creds.clone(),
                )
            })
            .collect())
    }

    fn pull_all_tags(
        &self,
        candidates: &[Reference],
        opts: &PullOptions,
        report: Report<'_>,
    ) -> Result<Vec<Pulled>, Error> {
        let base = &candidates[0];
        let sessions = self.session(base, opts, report)?;
        let session = sessions.last().expect("at least the registry itself");
        let mut tags = session.tags()?;
        tags.sort();
        let mut out = Vec::new();
        for tag in tags {
            let mut r = base.clone();
            r.tag = Some(tag);
            out.push(self.pull_one(&r, opts, report)?);
        }
        Ok(out)
    }

    fn pull_one(
        &self,
        reference: &Reference,
        opts: &PullOptions,
        report: Report<'_>,
    ) -> Result<Pulled, Error> {
        let sessions = self.session(reference, opts, report)?;
        let wanted = reference
            .digest
            .clone()
            .or_else(|| reference.tag.clone())
            .unwrap_or_else(|| "latest".into());
        let mut last_err = None;
        for session in &sessions {
            let fetched = session.manifest(&wanted);
            tracing::debug!(
                "manifest {wanted} from {}: {}",
                session.target().host,
                fetched.is_ok()
            );
            match fetched {
                Ok(top) => return self.pull_from(session, reference, top, opts, report),
                Err(e) => last_err = Some(e),
            }
        }
        let err = last_err.expect("at least one session");
        Err(match err {
            RegistryError::NotFound { detail, .. } => Error::not_found(
                ObjectKind::Image,
                format!("manifest for {} not found: {detail}", reference.familiar()),
            ),
            other => other.into(),
        })
    }

    fn pull_from(
        &self,
        session: &Session,
        reference: &Reference,
        top: FetchedManifest,
        opts: &PullOptions,
        report: Report<'_>,
    ) -> Result<Pulled, Error> {
        let (parsed, media_type) = Manifest::parse(&top.bytes, top.content_type.as_deref())?;
        let explicit_platform = opts.platform.is_some();
        let platform = opts.platform.clone().unwrap_or_else(PlatformSpec::host);
        let mut blobs_to_keep: Vec<(String, Vec<u8>)> =
            vec![(top.digest.clone(), top.bytes.clone())];
        let (image, image_digest, image_media_type) = match parsed {
            Manifest::Image(m) => (m, top.digest.clone(), media_type),
            Manifest::Index(index) => {
                let chosen = platform.choose(&index.manifests).ok_or_else(|| {
                    Error::not_found(
                        ObjectKind::Image,
                        format!(
                        "no image for platform {platform} in the manifest list of {} (it has: {})",
                        reference.familiar(),
                        platforms_of(&index.manifests)
                    ),
                    )
                })?;
                let fetched = session.manifest(&chosen.digest)?;
                let (m, t) = Manifest::parse(&fetched.bytes, fetched.content_type.as_deref())?;
                let Manifest::Image(m) = m else {
                    return Err(Error::Manifest(manifest::ManifestError::Invalid(
                        "nested image index".into(),
                    )));
                };
                blobs_to_keep.push((fetched.digest.clone(), fetched.bytes));
                (m, fetched.digest, t)
            }
        };
        let config_bytes = session.small_blob(&image.config.digest, image.config.size)?;
        let config = ImageConfig::parse(&config_bytes)?;
        check_layers(&image, &config)?;
        tracing::debug!(
            "config {} with {} layers",
            image.config.digest,
            image.layers.len()
        );
        if explicit_platform
            && !platform.matches(&config.os, &config.architecture, config.variant.as_deref())
        {
            return Err(Error::not_found(ObjectKind::Image, format!(
                "image with reference {} was found but does not match the specified platform: wanted {platform}, actual: {}/{}",
                reference.familiar(),
                config.os,
                config.architecture
            )));
        }
        let image_id = image.config.digest.clone();
        (report.progress)(PullEvent::Pulling {
            tag: reference
                .tag
                .clone()
                .or_else(|| reference.digest.clone())
                .unwrap_or_default(),
            repository: reference.familiar_repo(),
        });

        let missing = self.missing_layers(&image, &config, report);
        let downloaded = !missing.is_empty();
        self.fetch_layers(session, &missing, report)?;
        tracing::debug!("{} layers fetched", missing.len());

        for (digest, bytes) in &blobs_to_keep {
            self.store.put_blob(digest, bytes)?;
        }
        self.store.put_blob(&image_id, &config_bytes)?;

        let mut layers = Vec::new();
        let mut blobs = Vec::new();
        let mut size = 0;
        for (desc, diff_id) in image.layers.iter().zip(&config.rootfs.diff_ids) {
            let record = self.store.layer(diff_id)?.ok_or_else(|| {
                Error::Other(format!(
                    "layer {diff_id} vanished from the store during the pull"
                ))
            })?;
            size += record.size;
            layers.push(diff_id.clone());
            blobs.push(BlobRef {
                digest: desc.digest.clone(),
                media_type: desc.media_type.clone(),
                size: desc.size,
            });
        }
        let record = ImageRecord {
            id: image_id.clone(),
            names: reference
                .tag
                .as_ref()
                .map(|_| vec![reference.to_string()])
                .unwrap_or_default(),
            digests: vec![format!("{}@{}", reference.repo_name(), top.digest)],
            manifest_digest: image_digest,
            manifest_media_type: image_media_type,
            layers,
            blobs,
            size,
            created: config.created.clone(),
            architecture: config.architecture.clone(),
            os: config.os.clone(),
            variant: config.variant.clone(),
            tagged: Some(chrono::Utc::now().to_rfc3339()),
        };
        let changed = self.store.add_image(record)?;
        tracing::debug!("image record written");
        Ok(Pulled {
            reference: reference.clone(),
            image_id,
            digest: top.digest,
            downloaded: downloaded || changed,
        })
    }

    /// The layers the store lacks, each once; reports the ones it has.
    fn missing_layers(
        &self,
        image: &ImageManifest,
        config: &ImageConfig,
        report: Report<'_>,
    ) -> Vec<(Descriptor, String)> {
        let mut seen = HashSet::new();
        let mut missing = Vec::new();
        for (desc, diff_id) in image.layers.iter().zip(&config.rootfs.diff_ids) {
            if !seen.insert(diff_id.clone()) {
                continue;
            }
            if self.store.has_layer(diff_id) {
                (report.progress)(PullEvent::Layer {
                    id: short_id(&desc.digest),
                    status: LayerStatus::AlreadyExists,
                });
            } else {
                (report.progress)(PullEvent::Layer {
                    id: short_id(&desc.digest),
                    status: LayerStatus::Waiting,
                });
                missing.push((desc.clone(), diff_id.clone()));
            }
        }
        missing
    }

    fn fetch_layers(
        &self,
        session: &Session,
        layers: &[(Descriptor, String)],
        report: Report<'_>,
    ) -> Result<(), Error> {
        let next = AtomicUsize::new(0);
        let first_error: Mutex<Option<Error>> = Mutex::new(None);
        let notices: Mutex<Vec<String>> = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..PARALLEL_LAYERS.min(layers.len()) {
                scope.spawn(|| loop {
                    if first_error.lock().expect("lock").is_some() {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some((desc, diff_id)) = layers.get(i) else {
                        return;
                    };
                    match self.fetch_layer(session, desc, diff_id, report) {
                        Ok(n) => notices.lock().expect("lock").extend(n),
                        Err(e) => {
                            first_error.lock().expect("lock").get_or_insert(e);
                            return;
                        }
                    }
                });
            }
        });
        if let Some(e) = first_error.into_inner().expect("lock") {
            return Err(e);
        }
        let mut notices = notices.into_inner().expect("lock");
        notices.sort();
        notices.dedup();
        for n in notices {
            (report.notices)(Notice(self.explain_notice(&n)));
        }
        Ok(())
    }

    fn explain_notice(&self, notice: &str) -> String {
        let kind = notice.split(" (").next().unwrap_or(notice);
        if kind.starts_with("file owners outside") && !self.userns().has_subids() {
            let user = self
                .user
                .name
                .clone()
                .unwrap_or_else(|| self.user.uid.to_string());
            return format!(
                "user {user} has no subordinate id range in /etc/subuid and /etc/subgid, so file \
                 owners in the image were mapped to your own user (ask an administrator for a \
                 range to keep them)"
            );
        }
        kind.to_string()
    }

    /// Downloads one layer into the blob store and unpacks it in the same pass.
    fn fetch_layer(
        &self,
        session: &Session,
        desc: &Descriptor,
        diff_id: &str,
        report: Report<'_>,
    ) -> Result<Vec<String>, Error> {
        let id = short_id(&desc.digest);
        let _guard = self.store.lock_layer(diff_id)?;
        if self.store.has_layer(diff_id) {
            // Another pull unpacked it while we waited for the lock.
            (report.progress)(PullEvent::Layer {
                id,
                status: LayerStatus::AlreadyExists,
            });
            return Ok(Vec::new());
        }
        let prepared = match self.spare.take() {
            Some(ready) => ready?,
            None => self.prepare_unpacker()?,
        };
        let (staging, sink) = prepared.into_parts();
        let result = self.stream_layer(session, desc, diff_id, sink, &id, report);
        let unpacked = match result {
            Ok(u) => u,
            Err(e) => {
                let _ = self.remove_trees(&[staging]);
                return Err(e);
            }
        };
        let record = LayerRecord {
            diff_id: diff_id.to_string(),
            size: unpacked.size,
            blob: Some(BlobRef {
                digest: desc.digest.clone(),
                media_type: desc.media_type.clone(),
                size: desc.size,
            }),
        };
        if !self.store.commit_layer(&staging, &record)? {
            self.remove_trees(&[staging])?;
        }
        (report.progress)(PullEvent::Layer {
            id,
            status: LayerStatus::Complete,
        });
        Ok(unpacked.notices)
    }

    fn stream_layer(
        &self,
        session: &Session,
        desc: &Descriptor,
        diff_id: &str,
        mut sink: LayerSink,
        id: &str,
        report: Report<'_>,
    ) -> Result<crate::store::unpack::Unpacked, Error> {
        tracing::debug!("unpacker for {} ready", desc.digest);
        let mut blob = self.store.blob_writer()?;
        let total = desc.size;
        let mut last_report = 0u64;
        let fetched = {
            let mut tee = Tee {
                a: &mut blob,
                b: sink.writer(),
            };
            session.blob(&desc.digest, desc.size, &mut tee, &mut |current| {
                // A report per ~512 KiB keeps a terminal busy enough without flooding it.
                if current - last_report >= 512 * 1024 || current == total {
                    last_report = current;
                    (report.progress)(PullEvent::Layer {
                        id: id.to_string(),
                        status: LayerStatus::Downloading { current, total },
                    });
                }
            })
        };
        match fetched {
            Ok(()) => {}
            // The unpacker stopped reading: its own error says why.
            Err(RegistryError::Sink(e)) => {
                return match sink.finish() {
                    Err(unpack_err) => Err(unpack_err),
                    Ok(_) => Err(Error::Other(format!("writing layer {}: {e}", desc.digest))),
                }
            }
            Err(e) => {
                sink.abort();
                return Err(e.into());
            }
        }
        tracing::debug!("downloaded {}", desc.digest);
        let unpacked = sink.finish()?;
        tracing::debug!("unpacked {}", desc.digest);
        if unpacked.diff_id != diff_id {
            return Err(RegistryError::DigestMismatch {
                what: format!("uncompressed layer {}", desc.digest),
                expected: diff_id.to_string(),
                actual: unpacked.diff_id,
            }
            .into());
        }
        blob.commit(&self.store, &desc.digest)?;
        Ok(unpacked)
    }
}

fn with_default_tag(mut r: Reference) -> Reference {
    if r.tag.is_none() && r.digest.is_none() {
        r.tag = Some("latest".into());
    }
    r
}

fn check_layers(image: &ImageManifest, config: &ImageConfig) -> Result<(), Error> {
    if image.layers.len() != config.rootfs.diff_ids.len() {
        return Err(manifest::ManifestError::Invalid(format!(
            "image: the manifest lists {} layers but the config {}",
            image.layers.len(),
            config.rootfs.diff_ids.len()
        ))
        .into());
    }
    for d in image
        .layers
        .iter()
        .map(|l| &l.digest)
        .chain(&config.rootfs.diff_ids)
    {
        manifest::check_digest(d)?;
    }
    manifest::check_digest(&image.config.digest)?;
    Ok(())
}

fn platforms_of(entries: &[Descriptor]) -> String {
    entries
        .iter()
        .filter_map(|d| d.platform.as_ref())
        .map(|p| match &p.variant {
            Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
            None => format!("{}/{}", p.os, p.architecture),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Docker shows a layer by the first 12 hex digits of its blob digest.
pub fn short_id(digest: &str) -> String {
    let hex = digest.split_once(':').map(|(_, h)| h).unwrap_or(digest);
    hex.chars().take(12).collect()
}

impl Engine {
    fn prepare_unpacker(&self) -> Result<Prepared, Error> {
        let staging = self.store.layer_staging()?;
        match self.layer_sink(&staging.join("diff")) {
            Ok(sink) => Ok(Prepared::new(staging, sink)),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staging);
                Err(e)
            }
        }
    }
}

/// Writes every byte to both writers.
struct Tee<'a> {
    a: &'a mut dyn Write,
    b: &'a mut dyn Write,
}

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.a.write_all(buf)?;
        self.b.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.a.flush()?;
        self.b.flush()
    }
}
