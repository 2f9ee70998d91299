//! `attach` and `start -a`: the container's streams over a unix socket that its monitor
//! serves in the container's runtime directory (`protocol`): the monitor's side in `server`,
//! skiff's in `client`. Any number of clients may attach; each gets the output from the moment
//! it attached (`logs` has the rest).

pub mod client;
pub mod protocol;
pub mod server;

use std::io;

use crate::engine::container::record::{ContainerRecord, Status};
use crate::engine::Engine;
use crate::Error;
pub use client::AttachOptions;
use client::{connect, session, Connection, Outcome};

impl Engine {
    /// `skiff attach`: the running container's streams, until it exits (its code) or the
    /// detach keys (0).
    pub fn attach(&self, name: &str, opts: &AttachOptions) -> Result<i32, Error> {
        let record = self.find_container(name)?;
        if record.state.status != Status::Running || !self.container_alive(&record) {
            return Err(Error::WrongState(
                "you cannot attach to a stopped container, start it first".into(),
            ));
        }
        let conn = connect(&self.container_run_dir(&record.id)).map_err(|e| {
            let ended = self
                .find_container(&record.id)
                .map_or(true, |r| r.state.status != Status::Running);
            if ended {
                Error::WrongState("you cannot attach to a stopped container, start it first".into())
            } else if e.kind() == io::ErrorKind::NotFound {
                // `run` without -d holds its container itself, with no socket to attach to.
                Error::WrongState(format!(
                    "container {} runs in the foreground of another skiff: only containers \
                     started with run -d or start can be attached to",
                    record.name
                ))
            } else {
                Error::Other(format!(
                    "attaching to {}: its monitor does not answer ({e})",
                    record.name
                ))
            }
        })?;
        self.attached(&record, conn, opts)
    }

    /// `start -a`: starts the container under its monitor, attached from its first byte.
    pub fn start_and_attach(
        &self,
        name: &str,
        opts: &AttachOptions,
        notices: crate::engine::Notices<'_>,
    ) -> Result<i32, Error> {
        let (record, conn) = self.launch_monitor(
            name,
            crate::engine::container::monitor::Launch::Attached,
            notices,
        )?;
        match conn {
            Some(conn) => self.attached(&record, conn, opts),
            // Already running: attach to it as it is.
            None => self.attach(&record.id, opts),
        }
    }

    pub(crate) fn attached(
        &self,
        record: &ContainerRecord,
        conn: Connection,
        opts: &AttachOptions,
    ) -> Result<i32, Error> {
        let init = self.init_pid(record).unwrap_or(0);
        let sig_proxy = opts.sig_proxy && !record.tty && init > 0;
        if sig_proxy {
            crate::sys::forward_signals(init, false);
        }
        // As Docker: the detach keys are watched only with a terminal (raw, so they arrive as
        // typed); other input is passed on byte for byte, whatever it holds.
        let mut opts = opts.clone();
        if !record.tty {
            opts.detach_keys.clear();
        }
        let outcome = session(conn, record.tty, &opts);
        if sig_proxy {
            crate::sys::stop_forwarding_signals();
        }
        match outcome.map_err(|e| Error::Other(format!("attached to {}: {e}", record.name)))? {
            Outcome::Exited(code) => Ok(code),
            Outcome::Detached => Ok(0),
            Outcome::Lost => {
                // The monitor ended without a word (it was killed), or let this client go
                // for not reading its output while the container goes on.
                let now = self.find_container(&record.id)?;
                if now.state.status == Status::Running && self.container_alive(&now) {
                    return Err(Error::Other(format!(
                        "detached from {}: its output was not read fast enough; attach again \
                         (logs has it all)",
                        record.name
                    )));
                }
                self.wait_container(&record.id)
            }
        }
    }
}
