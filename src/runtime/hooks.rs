//! Programs run at fixed points of a container's life, as OCI hooks are: each gets the
//! container's state as JSON on its stdin, and one that fails or outlives its timeout fails the
//! start (after the container, a failure is only reported).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The version of the runtime specification whose state the hooks read.
const OCI_VERSION: &str = "1.0.2";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    pub path: PathBuf,
    /// The whole argument vector, the program's name first (as in OCI); `path` when empty.
    #[serde(default)]
    pub args: Vec<String>,
    /// The whole environment (`KEY=VALUE`): nothing of the runtime's is passed on.
    #[serde(default)]
    pub env: Vec<String>,
    /// Seconds the hook may run before it is killed and counted as failed.
    #[serde(default)]
    pub timeout: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hooks {
    /// Once the container's namespaces exist, before its root file system is set up: run by
    /// the helper, outside the container's mount namespace (and its PID namespace).
    #[serde(default)]
    pub create_runtime: Vec<Hook>,
    /// In the container's namespaces, its root file system mounted, before pivot_root (paths
    /// are still the host's).
    #[serde(default)]
    pub create_container: Vec<Hook>,
    /// In the container, after pivot_root, before the workload's exec (paths are the
    /// container's).
    #[serde(default)]
    pub start_container: Vec<Hook>,
    /// Once the container has exited and its root file system is unmounted.
    #[serde(default)]
    pub poststop: Vec<Hook>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststop,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::CreateRuntime => "create_runtime",
            Stage::CreateContainer => "create_container",
            Stage::StartContainer => "start_container",
            Stage::Poststop => "poststop",
        }
    }

    /// The container's status at this stage, in OCI's words.
    fn status(self) -> &'static str {
        match self {
            Stage::CreateRuntime | Stage::CreateContainer => "creating",
            Stage::StartContainer => "created",
            Stage::Poststop => "stopped",
        }
    }
}

/// What the runtime knows of the container for its hooks' state: the bundle is the
/// container's run directory (where its spec and root file system are), named by its id.
pub(super) struct Context<'a> {
    pub bundle: &'a Path,
    /// The container's PID 1 as the host sees it (0 once it is gone).
    pub pid: i32,
}

impl Context<'_> {
    /// The OCI state: `{"ociVersion", "id", "status", "pid", "bundle"}`.
    pub(super) fn state(&self, stage: Stage) -> Vec<u8> {
        let id = self
            .bundle
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let state = serde_json::json!({
            "ociVersion": OCI_VERSION,
            "id": id,
            "status": stage.status(),
            "pid": self.pid,
            "bundle": self.bundle,
        });
        state.to_string().into_bytes()
    }
}

/// Runs `hooks` in order, each to its end; the first that fails ends the stage with its
/// error.
pub(super) fn run_all(hooks: &[Hook], stage: Stage, context: &Context) -> Result<(), String> {
    if hooks.is_empty() {
        return Ok(());
    }
    let state = context.state(stage);
    hooks.iter().try_for_each(|h| run(h, stage, &state))
}

/// Runs one hook with `state` on its stdin; its stdout and stderr are the caller's.
pub(super) fn run(hook: &Hook, stage: Stage, state: &[u8]) -> Result<(), String> {
    let named = || format!("the {} hook {}", stage.name(), hook.path.display());
    let mut command = Command::new(&hook.path);
    if let Some((first, rest)) = hook.args.split_first() {
        std::os::unix::process::CommandExt::arg0(&mut command, first);
        command.args(rest);
    }
    command.env_clear();
    for e in &hook.env {
        let (key, value) = e.split_once('=').unwrap_or((e, ""));
        command.env(key, value);
    }
    // Nothing of the runtime's but the standard streams reaches the hook (a console socket
    // passed down, a descriptor of the root): a process the hook leaves behind must not keep
    // them open.
    // SAFETY: the closure runs between fork and exec and makes one async-signal-safe system
    // call, close_range(2), which allocates nothing; std's own error pipe is close-on-exec
    // already.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, || {
            crate::sys::close_fds_on_exec()
        });
    }
    let mut child = command
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{} could not be run: {e}", named()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that exits without reading has its reasons; its status says how it went.
        let _ = stdin.write_all(state);
    }
    let status = match hook.timeout {
        None => child
            .wait()
            .map_err(|e| format!("waiting for {}: {e}", named()))?,
        Some(secs) => wait_at_most(&mut child, Duration::from_secs(secs))
            .map_err(|e| format!("waiting for {}: {e}", named()))?
            .ok_or_else(|| format!("{} did not finish within {secs} s", named()))?,
    };
    if status.success() {
        return Ok(());
    }
    use std::os::unix::process::ExitStatusExt;
    Err(match (status.code(), status.signal()) {
        (Some(code), _) => format!("{} exited with status {code}", named()),
        (None, Some(signal)) => format!("{} was killed by signal {signal}", named()),
        _ => format!("{} failed", named()),
    })
}

/// Waits for `child` up to `limit`; past it kills it and answers `None`.
fn wait_at_most(child: &mut Child, limit: Duration) -> std::io::Result<Option<ExitStatus>> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let elapsed = start.elapsed();
        if elapsed >= limit {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(pause.min(limit - elapsed));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Option<u64>) -> Hook {
        Hook {
            path: "/bin/sh".into(),
            args: vec!["sh".into(), "-c".into(), script.into()],
            env: vec!["OUT=unused".into()],
            timeout,
        }
    }

    #[test]
    fn a_hook_reads_the_state_on_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("state.json");
        let bundle = dir.path().join("0123abcd");
        let mut hook = sh("cat > \"$OUT\"; echo \"$HOME\" > \"$OUT.env\"", None);
        hook.env = vec![format!("OUT={}", out.display())];
        let context = Context {
            bundle: &bundle,
            pid: 4242,
        };
        run_all(&[hook], Stage::CreateRuntime, &context).unwrap();
        let state: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        assert_eq!(
            state,
            serde_json::json!({
                "ociVersion": OCI_VERSION,
                "id": "0123abcd",
                "status": "creating",
                "pid": 4242,
                "bundle": bundle,
            })
        );
        let env = std::fs::read_to_string(dir.path().join("state.json.env")).unwrap();
        assert_eq!(env, "\n", "only the hook's own environment");
    }

    #[test]
    fn failures_and_timeouts_are_errors_that_name_the_hook() {
        let err = run(&sh("exit 3", None), Stage::CreateContainer, b"{}").unwrap_err();
        assert!(
            err.contains("create_container hook /bin/sh") && err.contains("status 3"),
            "{err}"
        );
        let err = run(&sh("sleep 5", Some(0)), Stage::StartContainer, b"{}").unwrap_err();
        assert!(err.contains("did not finish within 0 s"), "{err}");
        let missing = Hook {
            path: "/nonexistent/hook".into(),
            args: vec![],
            env: vec![],
            timeout: None,
        };
        let err = run(&missing, Stage::Poststop, b"{}").unwrap_err();
        assert!(err.contains("could not be run"), "{err}");
        // A hook that does not read its stdin is not a failure.
        run(&sh("exit 0", Some(5)), Stage::Poststop, b"{}").unwrap();
    }
}
