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
//!
//! User networks (`network create`): a `Definition` kept by the engine; while containers use
//! one, a namespace with a bridge (`bridge`) that their monitors hold open, a name table
//! (`names`) and each container's resolver at 127.0.0.11 (`resolver`).

pub mod bridge;
mod definition;
mod error;
pub mod names;
mod plan;
pub mod ports;
mod probe;
pub mod resolver;
mod user_mode;

pub use definition::{
    define, host_routes, valid_name, CreateOptions, Definition, Subnet, RESERVED,
};
pub use error::{Helper, NetworkError};
pub use plan::{Plan, UserMode};
pub use ports::{Binding, PortSpec, Protocol, Range};
pub use probe::{installed, Installed};
pub use user_mode::{check, default_helper, parse_mode, plan, start, Running};
