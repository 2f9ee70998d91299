//! The crate's error: each module's own error gathered in one type. The CLI turns any of these
//! into one line on stderr and exit status 125 (or the container's 126/127).

use crate::config::ConfigError;
use crate::image::manifest::ManifestError;
use crate::image::reference::ReferenceError;
use crate::image::registry::RegistryError;
use crate::network::NetworkError;
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
    #[error(transparent)]
    Network(NetworkError),
    /// A name matched no object of its kind (Docker's "No such container: …", 404).
    #[error("{message}")]
    NotFound { kind: ObjectKind, message: String },
    /// A name that must be unique is taken already (409).
    #[error("{0}")]
    NameInUse(String),
    /// The object is in the wrong state for the operation, e.g. not running (409).
    #[error("{0}")]
    WrongState(String),
    /// The operation conflicts with the store's state (Docker's "conflict: …", 409): an
    /// image still in use, a name that matches more than one object.
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

impl From<NetworkError> for Error {
    fn from(e: NetworkError) -> Error {
        match e {
            // "… is not supported yet" the way every other missing feature says it.
            NetworkError::NotSupported(what) => Error::NotSupported(what),
            NetworkError::Invalid(why) => Error::Invalid(why),
            other => Error::Network(other),
        }
    }
}

/// The kinds of object a name can fail to match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Container,
    Image,
    Volume,
    Network,
}

impl Error {
    /// `No such container: NAME`.
    pub fn no_such_container(name: &str) -> Error {
        Error::not_found(ObjectKind::Container, format!("No such container: {name}"))
    }

    /// `No such image: NAME`.
    pub fn no_such_image(name: &str) -> Error {
        Error::not_found(ObjectKind::Image, format!("No such image: {name}"))
    }

    pub fn not_found(kind: ObjectKind, message: String) -> Error {
        Error::NotFound { kind, message }
    }

    /// True when a name matched no object of this kind.
    pub fn is_not_found(&self, of: ObjectKind) -> bool {
        matches!(self, Error::NotFound { kind, .. } if *kind == of)
    }

    /// The exit status the CLI gives for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Start { code, .. } => *code,
            Error::Usage(_) => 64,
            _ => 125,
        }
    }
}
