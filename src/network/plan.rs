//! What the records keep of a user-mode network, and the plan of one start that the engine
//! hands to the container's monitor.

use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::Helper;
use super::ports::Binding;

/// A user-mode network as the container's record keeps it: `--network bridge` (the default),
/// `pasta[:OPTIONS]` or `slirp4netns[:OPTIONS]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserMode {
    /// None: the machine's choice, made at each start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helper: Option<Helper>,
    /// After the colon, split at commas: pasta's own options; slirp4netns's KEY=VALUE ones
    /// (Podman's: allow_host_loopback, cidr, enable_ipv6, mtu, outbound_addr[6],
    /// port_handler).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

impl UserMode {
    /// As `--network` takes it, and Docker's HostConfig.NetworkMode shows it.
    pub fn name(&self) -> String {
        match self.helper {
            None => "bridge".into(),
            Some(h) if self.options.is_empty() => h.name().into(),
            Some(h) => format!("{}:{}", h.name(), self.options.join(",")),
        }
    }
}

/// What one start of a container's network is: made by the engine, carried to the monitor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub helper: Helper,
    pub program: PathBuf,
    /// The helper's options (the user's included), but for those of the namespace and the
    /// descriptors, which `start` adds.
    pub args: Vec<String>,
    pub bindings: Vec<Binding>,
    /// Names the container's /etc/hosts gets for the host (host.containers.internal, ...).
    pub host_address: Option<IpAddr>,
    /// pasta: wait for an IPv6 default route too.
    pub ipv6: bool,
    /// Where the helper's messages go (the container's run directory).
    pub log: PathBuf,
    /// slirp4netns: its API socket, for the published ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_socket: Option<PathBuf>,
    /// pasta chosen by default: slirp4netns's plan, taken if pasta refuses to start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Box<Plan>>,
}
