//! The operations the CLI calls, one per user-visible command, behind a thin façade: `Engine`
//! (the user's paths, store and user namespace), and a curated `pub use` of the types the CLI
//! needs. The work is in two wings:
//!
//! - `image/`: pull (and the unpacking helper it feeds), the local image operations, login.
//! - `container/`: the run options and their parsers, create, the records and their states,
//!   the monitor that holds each container, its log, attach, health checks, the lifecycle
//!   commands, exec, cp, inspect and diff, and user namespaces of a container's own.
//!
//! Beside them: the engine's typed errors (`error`), notices for the user (`notice`), the
//! helper processes' plumbing (`helpers`), prune filters, durations, `info` and `system`.
//! The engine owns the order in which locks are taken: a layer's lock before the store lock,
//! never the other way round.

pub mod container;
pub mod duration;
pub mod error;
pub mod filters;
pub mod helpers;
pub mod image;
pub mod info;
pub mod network;
pub mod notice;
pub mod system;

pub use error::{Error, ObjectKind};
pub use notice::{Notice, Notices};

// The operations' types the CLI uses, in one place: the wings' inner layout is theirs to change.
pub use crate::network::ports::{parse_expose, parse_publish};
pub use crate::network::{parse_mode as parse_network_mode, Protocol};
pub use container::attach::AttachOptions;
pub use container::cp::{CopyOptions, HostDest, HostSource};
pub use container::exec::ExecOptions;
pub use container::health::HealthConfig;
pub use container::lifecycle::signal_number;
pub use container::log::{parse_log_line, write_entry, LogEntry};
pub use container::options;
pub use container::options::{parse_detach_keys, DEFAULT_DETACH_KEYS};
pub use container::options::{Capability, Network, PullPolicy, RunOptions};
pub use container::ports::port_lines;
pub use container::record::{
    ContainerRow, HealthStatus, LogConfig, PsFilters, RestartPolicy, Status,
};
pub use container::userns::UsernsMode;
pub use filters::PruneFilters;
pub use image::local::{short_hex, ImageFilters, ImageRow};
pub use image::login::normalize_server;
pub use image::pull::{LayerStatus, PlatformSpec, PullEvent, PullOptions};

use std::path::PathBuf;

use crate::config::{self, Paths, Registries};
use crate::runtime::userns::UserNs;
use crate::store::Store;

/// Options every command takes (`--root`, `--runroot`).
#[derive(Debug, Clone, Default)]
pub struct GlobalOptions {
    pub root: Option<PathBuf>,
    pub runroot: Option<PathBuf>,
}

/// Who runs skiff.
#[derive(Debug, Clone)]
pub struct User {
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub name: Option<String>,
}

impl User {
    pub fn current() -> User {
        let (uid, euid, gid) = crate::sys::ids();
        User {
            uid,
            euid,
            gid,
            name: config::current_user_name(uid),
        }
    }

    pub fn rootless(&self) -> bool {
        self.euid != 0
    }
}

/// The state one command works on.
pub struct Engine {
    pub paths: Paths,
    pub store: Store,
    pub user: User,
    registries: std::sync::OnceLock<Registries>,
    /// An unpacker started ahead of need by `pull`.
    spare: image::unpacker::SpareUnpacker,
}

impl Engine {
    pub fn new(opts: &GlobalOptions) -> Result<Engine, Error> {
        let user = User::current();
        // A relative --root or --runroot means the working directory's, fixed now: helpers and
        // monitors run elsewhere.
        let absolute = |p: &Option<PathBuf>| -> Result<Option<PathBuf>, Error> {
            p.as_deref()
                .map(|p| {
                    std::path::absolute(p)
                        .map_err(|e| Error::Invalid(format!("{}: {e}", p.display())))
                })
                .transpose()
        };
        let paths = Paths::resolve(
            &config::PathOptions {
                root: absolute(&opts.root)?,
                runroot: absolute(&opts.runroot)?,
            },
            &config::ProcessEnv,
            user.euid,
        )?;
        // Every command, before it reads a pid, socket or lock from there.
        config::check_run_root(&paths.run_root, user.euid)?;
        let store = Store::open(&paths.data_root)?;
        Ok(Engine {
            paths,
            store,
            user,
            registries: std::sync::OnceLock::new(),
            spare: image::unpacker::SpareUnpacker::default(),
        })
    }

    /// The engine of a container's monitor, which runs inside the user's namespace (as its
    /// root) and so is given the user's paths rather than working them out.
    pub fn for_monitor(
        data_root: &std::path::Path,
        run_root: &std::path::Path,
    ) -> Result<Engine, Error> {
        let paths = Paths {
            data_root: data_root.to_path_buf(),
            run_root: run_root.to_path_buf(),
            config_home: PathBuf::new(),
            home: PathBuf::new(),
            storage_driver: None,
        };
        let store = Store::open(&paths.data_root)?;
        let (uid, euid, gid) = crate::sys::ids();
        Ok(Engine {
            paths,
            store,
            user: User {
                uid,
                euid,
                gid,
                name: None,
            },
            registries: std::sync::OnceLock::new(),
            spare: image::unpacker::SpareUnpacker::default(),
        })
    }

    /// registries.conf, read on first use.
    pub fn registries(&self) -> Result<&Registries, Error> {
        if let Some(r) = self.registries.get() {
            return Ok(r);
        }
        let loaded = Registries::load(&config::ProcessEnv)?;
        Ok(self.registries.get_or_init(|| loaded))
    }

    /// First thing in a command that starts processes in containers (`run`, `start`,
    /// `restart`, `exec`, `healthcheck run`): where a container's root could write skiff's
    /// binary, this process executes itself again from a sealed copy (see `runtime::sealed`),
    /// and the processes it starts inherit that copy. Returns only when nothing had to be done,
    /// or with the reason it could not be.
    pub fn protect_binary(&self) -> Result<(), Error> {
        use crate::runtime::sealed;
        let mapped = || {
            if !self.user.rootless() {
                return Vec::new();
            }
            self.userns()
                .uid_map
                .iter()
                .map(|m| (m.host, m.size))
                .collect()
        };
        if !sealed::writable_by_container(mapped) {
            return Ok(());
        }
        if sealed::running_sealed() {
            // Executed through /proc/self/fd/N, the process is named "N" otherwise.
            let _ = rustix::thread::set_name(c"skiff");
            return Ok(());
        }
        tracing::debug!("re-executing from a sealed copy of the binary");
        let e = sealed::reexec_from_sealed_copy();
        Err(Error::Other(format!(
            "re-executing from a sealed copy of skiff's binary (needed because a container \
             could write the binary): {e}"
        )))
    }

    /// The id maps of this user's namespace, from /etc/subuid and /etc/subgid.
    pub fn userns(&self) -> UserNs {
        let name = self.user.name.as_deref().unwrap_or("");
        // An unreadable /etc/subuid is the same as no range: the single-uid map still works.
        let subuids = config::read_subuids(name, self.user.uid).unwrap_or_default();
        let subgids = config::read_subgids(name, self.user.uid).unwrap_or_default();
        UserNs::for_user(self.user.uid, self.user.gid, &subuids, &subgids)
    }
}
