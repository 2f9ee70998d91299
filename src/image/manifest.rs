//! OCI and Docker schema2 manifests, indexes and image configs: only the fields skiff reads, with
//! unknown fields kept where the document is stored back (configs are stored as their raw bytes).
//!
//! Written here rather than taken from `oci-spec`: skiff reads a few fields of documents it
//! keeps byte for byte (their digests are their names), and checks each digest and media type
//! as it goes. `oci-spec` 0.10 with only its image and runtime features adds 25 crates to the
//! build (regex, derive_builder with darling, strum, getset, const_format, a second major
//! version of syn): 17 s more of a release build on this 2-core machine, measured with
//! `cargo build --release -p oci-spec` in a copy of this crate's dependency tree. The OCI
//! runtime spec's `config.json`, which Slurm's OCI support and CDI speak, is a different
//! matter: reading a bundle's is the place to take `oci_spec::runtime`, when that lands.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// What we ask registries for, best first.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("malformed {what}: {source}")]
    Json {
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("unsupported manifest type {0:?}")]
    Unsupported(String),
    #[error(
        "Docker schema 1 manifests are not supported; push the image again with a current client"
    )]
    Schema1,
    #[error("malformed {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default)]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default)]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
}

/// A manifest as fetched: either an image manifest or an index of them.
#[derive(Debug, Clone)]
pub enum Manifest {
    Image(ImageManifest),
    Index(Index),
}

impl Manifest {
    /// Parses a manifest whose type comes from its `mediaType` field or, when that is absent (it
    /// is optional in OCI), from the registry's Content-Type.
    pub fn parse(
        bytes: &[u8],
        content_type: Option<&str>,
    ) -> Result<(Manifest, String), ManifestError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Probe {
            #[serde(default)]
            schema_version: Option<u32>,
            #[serde(default)]
            media_type: Option<String>,
            #[serde(default)]
            manifests: Option<serde_json::Value>,
            #[serde(default)]
            layers: Option<serde_json::Value>,
        }
        let probe: Probe = serde_json::from_slice(bytes).map_err(|source| ManifestError::Json {
            what: "manifest",
            source,
        })?;
        if probe.schema_version == Some(1) {
            return Err(ManifestError::Schema1);
        }
        let content_type = content_type
            .map(|c| c.split(';').next().unwrap_or("").trim().to_string())
            .filter(|c| !c.is_empty() && c != "application/json" && c != "text/plain");
        let media_type = probe
            .media_type
            .clone()
            .or(content_type)
            .unwrap_or_else(|| {
                if probe.manifests.is_some() {
                    OCI_INDEX.to_string()
                } else {
                    OCI_MANIFEST.to_string()
                }
            });
        let json = |what| move |source| ManifestError::Json { what, source };
        let manifest = match media_type.as_str() {
            OCI_MANIFEST | DOCKER_MANIFEST => {
                Manifest::Image(serde_json::from_slice(bytes).map_err(json("image manifest"))?)
            }
            OCI_INDEX | DOCKER_LIST => {
                Manifest::Index(serde_json::from_slice(bytes).map_err(json("image index"))?)
            }
            DOCKER_SCHEMA1 | DOCKER_SCHEMA1_SIGNED => return Err(ManifestError::Schema1),
            other if probe.layers.is_some() && other.ends_with("+json") => {
                // Artifacts and unknown-but-image-shaped manifests: refuse rather than guess.
                return Err(ManifestError::Unsupported(other.to_string()));
            }
            other => return Err(ManifestError::Unsupported(other.to_string())),
        };
        Ok((manifest, media_type))
    }
}

/// The parts of an image config (`application/vnd.oci.image.config.v1+json`) skiff uses.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ImageConfig {
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
    #[serde(default)]
    pub config: Option<RunConfig>,
    pub rootfs: RootFs,
    #[serde(default)]
    pub history: Vec<History>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub docker_version: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default)]
    pub env: Option<Vec<String>>,
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default)]
    pub working_dir: Option<String>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub stop_signal: Option<String>,
    #[serde(default)]
    pub healthcheck: Option<HealthConfig>,
    #[serde(default)]
    pub on_build: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RootFs {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct History {
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub empty_layer: bool,
}

impl ImageConfig {
    pub fn parse(bytes: &[u8]) -> Result<ImageConfig, ManifestError> {
        serde_json::from_slice(bytes).map_err(|source| ManifestError::Json {
            what: "image config",
            source,
        })
    }
}

/// Checks the shape of a digest string so it can name a file: `sha256:` and 64 lowercase hex.
pub fn check_digest(digest: &str) -> Result<&str, ManifestError> {
    let hex = digest.strip_prefix("sha256:").ok_or_else(|| {
        ManifestError::Invalid(format!("digest {digest:?} (only sha256 is supported)"))
    })?;
    if hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(hex)
    } else {
        Err(ManifestError::Invalid(format!("digest {digest:?}")))
    }
}

/// The image config's (and a container's) health check, Docker's HealthConfig (durations in nanoseconds; 0 means the default).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthConfig {
    /// `["CMD", args…]`, `["CMD-SHELL", line]` or `["NONE"]`.
    #[serde(default)]
    pub test: Vec<String>,
    #[serde(default)]
    pub interval: i64,
    #[serde(default)]
    pub timeout: i64,
    #[serde(default)]
    pub start_period: i64,
    #[serde(default)]
    pub start_interval: i64,
    #[serde(default)]
    pub retries: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_type_from_content_type_when_field_is_missing() {
        let body = br#"{"schemaVersion":2,"config":{"digest":"sha256:aa","size":1},"layers":[]}"#;
        let (m, t) =
            Manifest::parse(body, Some("application/vnd.oci.image.manifest.v1+json")).unwrap();
        assert!(matches!(m, Manifest::Image(_)));
        assert_eq!(t, OCI_MANIFEST);
        let idx = br#"{"schemaVersion":2,"manifests":[]}"#;
        let (m, _) = Manifest::parse(idx, None).unwrap();
        assert!(matches!(m, Manifest::Index(_)));
    }

    #[test]
    fn schema1_is_refused() {
        let body = br#"{"schemaVersion":1,"fsLayers":[]}"#;
        assert!(matches!(
            Manifest::parse(body, None),
            Err(ManifestError::Schema1)
        ));
    }

    #[test]
    fn digests_are_checked() {
        assert!(check_digest(&format!("sha256:{}", "a".repeat(64))).is_ok());
        assert!(check_digest("sha256:../../etc").is_err());
        assert!(check_digest(&format!("sha256:{}", "A".repeat(64))).is_err());
    }
}
