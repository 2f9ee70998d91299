//! skiff: a daemonless, rootless container engine that speaks the Docker command line.
//!
//! Data flows one way: `cli` → `engine` → {`image`, `store`, `runtime`, `network`} → {`sys`, `config`}.
pub mod cli;
pub mod config;
pub mod engine;
pub mod helper;
pub mod image;
pub mod log;
pub mod network;
pub mod runtime;
pub mod store;
pub mod sys;

pub use engine::Error;
