//! `skiff exec`: a command in a running container, with the container's own namespaces,
//! capabilities, seccomp filter and cgroup (see `runtime::exec`).

use std::os::unix::net::UnixStream;

use crate::engine::Engine;
use crate::runtime::container::Spec;
use crate::runtime::RuntimeError;
use crate::Error;

#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub command: Vec<String>,
    pub interactive: bool,
    pub tty: bool,
    pub detach: bool,
    /// `-e` and `--env-file` entries, over the container's environment.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub privileged: bool,
}

impl Engine {
    /// Runs the command and returns its exit status (0 at once with `detach`). Call with a
    /// single thread: this process joins the container's user namespace.
    pub fn exec(&self, name: &str, opts: &ExecOptions) -> Result<i32, Error> {
        if opts.command.is_empty() {
            return Err(Error::Invalid("exec needs a command to run".into()));
        }
        let record = self.find_container(name)?;
        let Some(init) = self.init_pid(&record) else {
            return Err(Error::WrongState(format!(
                "container {} is not running",
                record.name
            )));
        };
        // The spec of the current start (its cgroup, /etc files), else the recorded one.
        let run = self.container_run_dir(&record.id);
        let mut spec: Spec = std::fs::read(run.join("spec.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_else(|| record.spec.clone());
        let hostname = spec.hostname.clone();
        spec.env = super::create::environment(std::mem::take(&mut spec.env), &opts.env, &hostname);
        spec.args = opts.command.clone();
        if let Some(w) = &opts.workdir {
            spec.cwd = w.clone();
        }
        if let Some(u) = &opts.user {
            spec.user = u.clone();
        }
        spec.init = false;
        spec.outlive_parent = true;
        if opts.privileged {
            spec.capabilities = super::options::all_capabilities();
            spec.seccomp = false;
            spec.no_new_privileges = false;
        }
        let console = if opts.tty {
            let (ours, theirs) = UnixStream::pair().map_err(RuntimeError::Io)?;
            spec.console_socket = Some(std::os::fd::AsRawFd::as_raw_fd(&theirs));
            Some((ours, theirs))
        } else {
            spec.console_socket = None;
            None
        };
        let stdin_null = !opts.interactive || opts.detach;
        // Detached, as in Docker, its output goes nowhere (not to the terminal of a command
        // that has returned).
        let null = if opts.detach && !opts.tty {
            Some(std::fs::File::create("/dev/null").map_err(RuntimeError::Io)?)
        } else {
            None
        };
        let output = null.as_ref().map(std::os::fd::AsRawFd::as_raw_fd);
        let mut process = crate::runtime::exec::exec(init, &spec, stdin_null, output)
            .map_err(|e| Error::Other(format!("exec in {}: {e}", record.name)))?;
        let attached = match console {
            Some((ours, theirs)) => {
                drop(theirs);
                if opts.detach {
                    None
                } else {
                    crate::runtime::tty::attach(&ours, opts.interactive)
                        .map_err(|e| Error::Other(format!("attaching to the terminal: {e}")))?
                }
            }
            None => None,
        };
        if let Some((code, message)) = process.failure() {
            let _ = crate::sys::wait_for(process.pid);
            if let Some(a) = attached {
                a.finish();
            }
            return Err(Error::Start { code, message });
        }
        if opts.detach {
            return Ok(0);
        }
        crate::sys::forward_signals(process.pid, !opts.tty);
        let status = crate::sys::wait_for(process.pid);
        crate::sys::stop_forwarding_signals();
        if let Some(a) = attached {
            a.finish();
        }
        Ok(status)
    }
}
