//! The only module that talks to namespaces, mounts and credentials.

pub mod caps;
pub mod cgroup;
pub mod container;
pub mod devices;
pub mod exec;
pub mod files;
pub mod hooks;
pub mod namespaces;
mod report;
pub mod rootfs;
pub mod sealed;
pub mod seccomp;
pub mod seccomp_profile;
mod setup;
pub mod spec;
mod syscall;
pub mod tty;
pub mod userns;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("{0}")]
    Userns(String),
    #[error("{0}")]
    Helper(String),
    /// The process that started a helper died before the helper got going.
    #[error("the parent process is gone")]
    ParentGone,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
