//! The container wing: records and their state, the run/create options, the monitor that
//! runs each container, attaching to it, health checks, the lifecycle commands, exec, cp and
//! inspect.

pub mod attach;
pub mod cp;
pub mod create;
pub mod etc_files;
pub mod exec;
pub mod health;
pub mod inspect;
pub mod lifecycle;
pub mod log;
pub mod monitor;
pub mod network;
pub mod options;
pub mod ports;
pub mod record;
pub mod userns;
