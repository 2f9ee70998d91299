//! The crate's error: each module's own error gathered in one type. The CLI turns any of these
//! into one line on stderr and exit status 125 (or the container's 126/127).

use crate::config::ConfigError;
use crate::image::manifest::ManifestError;
use crate::image::reference::ReferenceError;
use crate::image::registry::RegistryError;
use crate::runtime::RuntimeError;
use crate::store::unpack::UnpackError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// No such image (or tag) in the local store.
    #[error("{0}")]
    NoSuchImage(String),
    /// The operation conflicts with the store's state (Docker's "conflict: …").
    #[error("{0}")]
    Conflict(String),
    /// The request itself is wrong.
    #[error("{0}")]
    Invalid(String),
    /// A usage error Docker gives its own exit status, 64 (EX_USAGE): an `inspect` or `info`
    /// template that does not parse.
    #[error("{0}")]
    Usage(String),
    /// A feature that is not there yet.
    #[error("{0} is not supported yet")]
    NotSupported(String),
    #[error("{0}")]
    Other(String),
    /// The container's command could not be started (exit 126/127 as in Docker, or 125).
    #[error("{message}")]
    Start { code: i32, message: String },
}

impl Error {
    /// The exit status the CLI gives for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Start { code, .. } => *code,
            Error::Usage(_) => 64,
            _ => 125,
        }
    }
}
