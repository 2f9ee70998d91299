//! A container's way out beyond loopback, with no daemon: a network namespace of its own joined
//! to the host by a user-mode stack, pasta (Debian's passt) where it is installed and usable,
//! slirp4netns otherwise, and the ports published through it.
//!
//! The engine makes a `Plan` before the container's monitor starts (the helper chosen, the
//! options checked against what the installed binary has, the host ports chosen and checked
//! free); the monitor calls `start` while it is still in the host's network, with the new
//! namespace made by `sys::new_network_namespace`, joins that namespace, and calls
//! `Running::wait_ready` before the workload starts. The helper is the monitor's child, killed
//! when the `Running` is dropped and by its parent-death signal if the monitor is killed.

mod error;
mod plan;
pub mod ports;
mod probe;
mod user_mode;

pub use error::{Helper, NetworkError};
pub use plan::{Plan, UserMode};
pub use ports::{Binding, PortSpec, Protocol, Range};
pub use probe::{installed, Installed};
pub use user_mode::{check, default_helper, parse_mode, plan, start, Running};
