//! `skiff run` in the foreground: resolve the image (pulling it if needed), lay out the
//! container's directories, and hand a spec to the container helper.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::process::{Command, Stdio};

use super::pull::{PullEvent, PullOptions};
use super::Engine;
use crate::runtime::container::Spec;
use crate::runtime::{userns, RuntimeError};
use crate::store::ImageRecord;
use crate::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    Always,
    Missing,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// A network namespace of its own with only loopback.
    None,
    Host,
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub image: String,
    pub command: Vec<String>,
    /// `Some("")` clears the image's entrypoint.
    pub entrypoint: Option<String>,
    /// `KEY=VALUE`, or `KEY` to take the value from skiff's own environment.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub network: Network,
    pub pull: PullPolicy,
    pub remove: bool,
}

/// Docker's PATH when the image sets none.
const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl Engine {
    /// Runs a container in the foreground and returns its exit status.
    pub fn run(
        &self,
        opts: &RunOptions,
        progress: &(dyn Fn(PullEvent) + Sync),
    ) -> Result<i32, Error> {
        if !opts.remove {
            return Err(Error::NotSupported(
                "keeping a container after it exits (use 'skiff run --rm'); 'skiff run'".into(),
            ));
        }
        let image = self.image_for_run(opts, progress)?;
        let (config, _) = self.image_config(&image)?;
        let defaults = config.config.unwrap_or_default();
        let args = command_line(opts, defaults.entrypoint, defaults.cmd)?;
        let id = random_id()?;
        let hostname = opts
            .hostname
            .clone()
            .unwrap_or_else(|| id[..12].to_string());
        let env = environment(defaults.env.unwrap_or_default(), &opts.env, &hostname);
        let data = self.paths.data_root.join("containers").join(&id);
        let run = self.paths.run_root.join("containers").join(&id);
        crate::config::ensure_run_root(&self.paths.run_root, self.user.uid)?;
        let result = (|| {
            // The upper directory's mode becomes the mode of the container's "/": 0755.
            for (dir, mode) in [
                (data.join("upper"), 0o755),
                (data.join("work"), 0o700),
                (run.join("merged"), 0o700),
            ] {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(mode)
                    .create(&dir)
                    .map_err(|e| Error::Other(format!("creating {}: {e}", dir.display())))?;
            }
            let etc_files = crate::runtime::container::write_etc_files(
                &run,
                &hostname,
                opts.network == Network::Host,
            )
            .map_err(|e| Error::Other(format!("writing /etc files: {e}")))?;
            let spec = Spec {
                lowers: image
                    .layers
                    .iter()
                    .rev()
                    .map(|l| self.store.layer_diff(l))
                    .collect::<Result<_, _>>()?,
                upper: data.join("upper"),
                work: data.join("work"),
                merged: run.join("merged"),
                args,
                env,
                cwd: opts
                    .workdir
                    .clone()
                    .or(defaults.working_dir.filter(|w| !w.is_empty()))
                    .unwrap_or_else(|| "/".into()),
                hostname,
                user: opts.user.clone().or(defaults.user).unwrap_or_default(),
                private_network: opts.network == Network::None,
                etc_files,
            };
            let spec_path = run.join("spec.json");
            let bytes = serde_json::to_vec(&spec).map_err(|e| Error::Other(e.to_string()))?;
            fs::write(&spec_path, bytes)
                .map_err(|e| Error::Other(format!("writing {}: {e}", spec_path.display())))?;
            crate::debug!("container {id} prepared");
            self.start_helper(&spec_path)
        })();
        // --rm: nothing of the container stays, whatever happened.
        let _ = self.remove_trees(&[data]);
        let _ = fs::remove_dir_all(&run);
        crate::debug!("container {id} removed");
        result
    }

    fn image_for_run(
        &self,
        opts: &RunOptions,
        progress: &(dyn Fn(PullEvent) + Sync),
    ) -> Result<ImageRecord, Error> {
        let pull = || {
            self.pull(&opts.image, &PullOptions::default(), progress)
                .and_then(|_| self.find_image(&opts.image))
        };
        match opts.pull {
            PullPolicy::Always => pull(),
            PullPolicy::Never => self.find_image(&opts.image),
            PullPolicy::Missing => match self.find_image(&opts.image) {
                Err(Error::NoSuchImage(_)) => pull(),
                other => other,
            },
        }
    }

    /// Starts the container helper (in the user namespace when rootless) and waits for it.
    fn start_helper(&self, spec: &std::path::Path) -> Result<i32, Error> {
        let mut cmd = Command::new("/proc/self/exe");
        if crate::log::enabled() {
            cmd.env(super::helpers::DEBUG_ENV, "1");
        }
        cmd.arg(super::helpers::RUN_CMD)
            .arg(spec)
            // Without -i the container reads nothing, as in Docker.
            .stdin(Stdio::null());
        let status = if self.user.rootless() {
            let helper = userns::spawn(cmd, &self.userns())?;
            crate::debug!("container helper mapped");
            let mut child = helper.child;
            let status = child.wait().map_err(RuntimeError::Io)?;
            crate::debug!("container helper exited");
            drop(helper.lifeline);
            status
        } else {
            cmd.status().map_err(RuntimeError::Io)?
        };
        Ok(status
            .code()
            .unwrap_or(crate::runtime::container::EXIT_RUNTIME))
    }
}

/// Docker's rules: `--entrypoint` replaces the image's (and drops its Cmd unless a command is
/// given); a command replaces the image's Cmd.
fn command_line(
    opts: &RunOptions,
    image_entrypoint: Option<Vec<String>>,
    image_cmd: Option<Vec<String>>,
) -> Result<Vec<String>, Error> {
    let entrypoint = match &opts.entrypoint {
        Some(e) if e.is_empty() => Vec::new(),
        Some(e) => vec![e.clone()],
        None => image_entrypoint.unwrap_or_default(),
    };
    let cmd = if !opts.command.is_empty() {
        opts.command.clone()
    } else if opts.entrypoint.is_some() {
        Vec::new()
    } else {
        image_cmd.unwrap_or_default()
    };
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(Error::Invalid(
            "no command specified: the image has none; give one after the image name".into(),
        ));
    }
    Ok(args)
}

/// The image's environment, then `-e` on top; PATH and HOSTNAME as Docker sets them.
fn environment(image_env: Vec<String>, overrides: &[String], hostname: &str) -> Vec<String> {
    let mut env: Vec<String> = Vec::new();
    let mut set = |entry: String| {
        let key = entry.split('=').next().unwrap_or("").to_string();
        env.retain(|e| e.split('=').next() != Some(key.as_str()));
        env.push(entry);
    };
    if !image_env.iter().any(|e| e.starts_with("PATH=")) {
        set(DEFAULT_PATH.to_string());
    }
    set(format!("HOSTNAME={hostname}"));
    for e in image_env {
        set(e);
    }
    for o in overrides {
        if o.contains('=') {
            set(o.clone());
        } else if let Ok(v) = std::env::var(o) {
            // `-e KEY` takes skiff's own value, and is dropped when there is none (Docker).
            set(format!("{o}={v}"));
        }
    }
    env
}

/// A container id: 64 random hex digits, as Docker's.
fn random_id() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    let mut f =
        fs::File::open("/dev/urandom").map_err(|e| Error::Other(format!("/dev/urandom: {e}")))?;
    std::io::Read::read_exact(&mut f, &mut bytes)
        .map_err(|e| Error::Other(format!("/dev/urandom: {e}")))?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> RunOptions {
        RunOptions {
            image: "x".into(),
            command: vec![],
            entrypoint: None,
            env: vec![],
            workdir: None,
            user: None,
            hostname: None,
            network: Network::None,
            pull: PullPolicy::Missing,
            remove: true,
        }
    }

    #[test]
    fn entrypoint_and_cmd_follow_docker() {
        let s = |v: &[&str]| Some(v.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        let mut o = opts();
        assert_eq!(
            command_line(&o, s(&["/ep"]), s(&["a"])).unwrap(),
            ["/ep", "a"]
        );
        o.command = vec!["b".into()];
        assert_eq!(
            command_line(&o, s(&["/ep"]), s(&["a"])).unwrap(),
            ["/ep", "b"]
        );
        o.entrypoint = Some(String::new());
        assert_eq!(command_line(&o, s(&["/ep"]), s(&["a"])).unwrap(), ["b"]);
        o.command.clear();
        assert!(command_line(&o, s(&["/ep"]), s(&["a"])).is_err());
        o.entrypoint = Some("/other".into());
        assert_eq!(
            command_line(&o, s(&["/ep"]), s(&["a"])).unwrap(),
            ["/other"]
        );
    }

    #[test]
    fn environment_layers() {
        let env = environment(
            vec!["A=1".into(), "PATH=/x".into()],
            &["A=2".into(), "B=3".into()],
            "h",
        );
        assert_eq!(env, ["HOSTNAME=h", "PATH=/x", "A=2", "B=3"]);
        let env = environment(vec![], &[], "h");
        assert!(env[0].starts_with("PATH=/usr/local/sbin"));
    }
}
