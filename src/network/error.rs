//! The network's errors, and the helpers whose failures they name.

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} is not supported yet")]
    NotSupported(String),
    #[error("{0}")]
    PortInUse(String),
    #[error(
        "cannot publish host port {port}: ports below {start} are privileged on this host; \
         publish a port of {start} or above, or have an administrator lower the sysctl \
         net.ipv4.ip_unprivileged_port_start to {port}"
    )]
    Privileged { port: u16, start: u16 },
    /// No helper, or what one needs is missing (/dev/net/tun).
    #[error("{0}")]
    Unavailable(String),
    #[error("{helper} did not start: {message}")]
    Helper { helper: Helper, message: String },
}

/// The user-mode stack behind a container's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Helper {
    Pasta,
    Slirp4netns,
}

impl Helper {
    pub fn name(self) -> &'static str {
        match self {
            Helper::Pasta => "pasta",
            Helper::Slirp4netns => "slirp4netns",
        }
    }
}

impl std::fmt::Display for Helper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
