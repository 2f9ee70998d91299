//! `skiff run` and `create`: resolve the image (pulling it if needed), record the container
//! with its spec, and start it under its monitor, attached (see `monitor` and `attach`).

use std::fs;
use std::os::unix::fs::DirBuilderExt;

use super::options::{capabilities, Network, PullPolicy, RunOptions};
use super::record::{ContainerRecord, ContainerState};
use crate::engine::image::pull::{PullEvent, PullOptions};
use crate::engine::{Engine, ObjectKind};
use crate::engine::{Notice, Notices};
use crate::runtime::cgroup;
use crate::runtime::container::{MountKind, MountSpec, Spec};
use crate::store::ImageRecord;
use crate::Error;

impl Engine {
    /// Runs a container in the foreground and returns its exit status (`create` + `start -a`).
    /// Budget (busybox `true`, rootless, this machine): ~0.7 ms to here (process start and
    /// parsing), ~0.5 ms creating the record, /etc files and spec, then the helper (see
    /// `runtime::container`), then ~1.4 ms removing the container's directories with `--rm`.
    pub fn run(
        &self,
        opts: &RunOptions,
        progress: &(dyn Fn(PullEvent) + Sync),
        notices: Notices<'_>,
    ) -> Result<i32, Error> {
        let record = self.create_container(opts, progress, notices)?;
        let attach = super::attach::AttachOptions {
            stdin: opts.interactive,
            detach_keys: opts.detach_keys.clone(),
            sig_proxy: opts.sig_proxy,
        };
        let launched = self.launch_monitor(&record.id, super::monitor::Launch::Foreground, notices);
        match launched {
            Ok((record, Some(conn))) => self.attached(&record, conn, &attach),
            Ok((record, None)) => Err(Error::Other(format!(
                "container {} was started by another command meanwhile",
                record.name
            ))),
            Err(e) => {
                if opts.remove && self.container_record_exists(&record.id) {
                    let _ = self.remove_container(&record.id, true);
                }
                Err(e)
            }
        }
    }

    /// What `run` must find before it creates anything, so that a start bound to fail leaves
    /// no container behind: the container whose network it joins, running; its own network's
    /// helper and published ports.
    pub fn check_run(&self, opts: &RunOptions) -> Result<(), Error> {
        if let Network::Container(target) = &opts.network {
            self.network_owner(target)?;
        }
        self.check_network(opts)
    }

    /// The user-mode network and the user networks `opts` ask for.
    fn networks_for_run(
        &self,
        opts: &RunOptions,
    ) -> Result<
        (
            Option<super::record::UserNetwork>,
            Vec<super::record::Attachment>,
        ),
        Error,
    > {
        let user_mode = |mode: &crate::network::UserMode| super::record::UserNetwork {
            mode: mode.clone(),
            publish: opts.publish.clone(),
            publish_all: opts.publish_all,
        };
        let scoped = !opts.network_aliases.is_empty() || opts.ip.is_some() || opts.ip6.is_some();
        match &opts.network {
            Network::Named(name) => {
                let def = self.user_network(name)?;
                if def.internal && (!opts.publish.is_empty() || opts.publish_all) {
                    return Err(Error::Invalid(format!(
                        "cannot publish ports from internal network {}: it has no way out; \
                         use a network that is not --internal",
                        def.name
                    )));
                }
                let attachment = super::record::Attachment {
                    id: def.id.clone(),
                    name: def.name.clone(),
                    aliases: opts.network_aliases.clone(),
                    ipv4: opts.ip,
                    ipv6: opts.ip6,
                };
                // An internal network's containers have no way out: no helper.
                let mode = (!def.internal).then(|| user_mode(&Default::default()));
                Ok((mode, vec![attachment]))
            }
            _ if scoped => Err(Error::Invalid(
                "--network-alias, --ip and --ip6 work on user-defined networks only: create one \
                 with `network create NAME` and run with --network NAME"
                    .into(),
            )),
            Network::User(mode) => Ok((Some(user_mode(mode)), Vec::new())),
            _ => Ok((None, Vec::new())),
        }
    }

    /// A user network for `--network NAME`, with the message Docker gives when there is none.
    pub(crate) fn user_network(&self, name: &str) -> Result<crate::network::Definition, Error> {
        self.find_network(name).map_err(|e| match e {
            Error::NotFound { kind, .. } => Error::NotFound {
                kind,
                message: format!(
                    "network {name} not found: create it with `network create {name}`, or use \
                     one of bridge, host, none, pasta, slirp4netns, container:NAME"
                ),
            },
            other => other,
        })
    }

    /// `skiff create`: resolves the image and records the container, ready to start.
    pub fn create_container(
        &self,
        opts: &RunOptions,
        progress: &(dyn Fn(PullEvent) + Sync),
        notices: Notices<'_>,
    ) -> Result<ContainerRecord, Error> {
        let image = self.image_for_run(opts, progress, notices)?;
        if let (true, Some(name)) = (opts.replace, &opts.name) {
            match self.remove_container(name, true) {
                Ok(_) => {}
                Err(e) if e.is_not_found(ObjectKind::Container) => {}
                Err(e) => return Err(e),
            }
        }
        let (config, _) = self.image_config(&image)?;
        let defaults = config.config.unwrap_or_default();
        let mut exposed = Vec::new();
        // The image's EXPOSE lines ("80/tcp"), then --expose; one that skiff cannot read is
        // left out, as Docker ignores what it cannot publish.
        for key in defaults.exposed_ports.iter().flat_map(|m| m.keys()) {
            if let Ok(port) = crate::network::ports::parse_expose(key) {
                exposed.push(port);
            }
        }
        for port in &opts.expose {
            if !exposed.contains(port) {
                exposed.push(*port);
            }
        }
        let (user_network, networks) = self.networks_for_run(opts)?;
        let args = command_line(opts, defaults.entrypoint, defaults.cmd)?;
        let id = random_id()?;
        // Another container's network comes with its hostname, the host's with the host's
        // (as in Docker).
        let network_of = match &opts.network {
            Network::Container(target) => {
                if opts.hostname.is_some() {
                    return Err(Error::Invalid(
                        "conflicting options: hostname and the network mode: a container on \
                         another's network has that one's hostname"
                            .into(),
                    ));
                }
                Some(self.find_container(target)?)
            }
            _ => None,
        };
        let hostname = match (&opts.hostname, &network_of, &opts.network) {
            (Some(h), _, _) => h.clone(),
            (None, Some(target), _) => target.spec.hostname.clone(),
            (None, None, Network::Host) => rustix::system::uname()
                .nodename()
                .to_string_lossy()
                .into_owned(),
            (None, None, _) => id[..12].to_string(),
        };
        let nested = self.nested_user(&opts.userns)?;
        let mut env = environment(defaults.env.unwrap_or_default(), &opts.env, &hostname);
        let mut user = opts.user.clone().or(defaults.user).unwrap_or_default();
        let mut add_user = None;
        if let Some((lines, keep_user, home)) = nested.as_ref().and_then(|n| n.keep_id.clone()) {
            // keep-id runs as the user, at home, unless told otherwise (Podman).
            add_user = Some(lines);
            if opts.user.is_none() {
                user = keep_user;
            }
            if !env.iter().any(|e| e.starts_with("HOME=")) {
                env.push(format!("HOME={home}"));
            }
        }
        let ulimits = opts
            .ulimits
            .iter()
            .map(|u| (u.name.clone(), u.soft, u.hard))
            .collect();
        let shm_size = opts.shm_size;
        let capabilities = capabilities(opts);
        let seccomp_profile = match &opts.seccomp_profile {
            Some(path) if opts.seccomp && !opts.privileged => {
                Some(seccomp_program(path, &capabilities)?)
            }
            _ => None,
        };
        let data = self.container_dir(&id);
        let run = self.container_run_dir(&id);
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
            copy: data.join("rootfs"),
            driver: self.rootfs_driver()?,
            args,
            env,
            cwd: opts
                .workdir
                .clone()
                .or(defaults.working_dir.filter(|w| !w.is_empty()))
                .unwrap_or_else(|| "/".into()),
            hostname,
            user,
            // Another container's network is joined at each start, where it is then (see
            // `prepare_run_dir`).
            namespaces: crate::runtime::container::Namespaces::with_network(
                if opts.network == Network::Host {
                    crate::runtime::container::Namespace::Host
                } else {
                    crate::runtime::container::Namespace::New
                },
            ),
            etc_files: Vec::new(),
            devices: Vec::new(),
            hooks: Default::default(),
            mounts: opts.mounts.clone(),
            read_only_root: opts.read_only,
            capabilities,
            privileged: opts.privileged,
            no_new_privileges: opts.no_new_privileges,
            init: opts.init,
            ulimits,
            shm_size,
            cgroup: None,
            seccomp: opts.seccomp && !opts.privileged,
            seccomp_profile,
            group_add: opts.group_add.clone(),
            id_shift: nested.map(|n| n.shift),
            pid_file: None,
            outlive_parent: false,
            add_user,
            console_socket: None,
            console_size: None,
        };
        let record = ContainerRecord {
            id: id.clone(),
            name: String::new(),
            image: opts.image.clone(),
            image_id: image.id.clone(),
            created: super::record::timestamp(),
            spec,
            tty: opts.tty,
            interactive: opts.interactive,
            stdin_once: opts.interactive && !opts.detach,
            sig_proxy: opts.sig_proxy,
            remove: opts.remove,
            limits: opts.limits,
            state: ContainerState::default(),
            labels: opts.labels.clone(),
            restart: opts.restart.clone(),
            log: opts.log.clone(),
            stop_signal: opts.stop_signal.clone().or(defaults.stop_signal.clone()),
            stop_timeout: opts.stop_timeout,
            health: super::health::HealthConfig::merge(&opts.health, defaults.healthcheck.as_ref()),
            network_of: network_of.map(|t| t.id),
            etc: opts.etc.clone(),
            user_network,
            exposed,
            networks,
        };
        // Built under tmp/ and renamed into place with its record: a kill before that leaves
        // a temp entry that a later command removes, never a container directory without one.
        let staging = self.store.staging_dir("container")?;
        // The upper directory's mode becomes the mode of the container's "/": 0755.
        for (dir, mode) in [("upper", 0o755), ("work", 0o700)] {
            let dir = staging.join(dir);
            if let Err(e) = fs::DirBuilder::new().mode(mode).create(&dir) {
                let _ = fs::remove_dir_all(&staging);
                return Err(Error::Other(format!("creating {}: {e}", dir.display())));
            }
        }
        let record = self.add_container(record, opts.name.as_deref(), &staging)?;
        if let Some(path) = &opts.cidfile {
            if let Err(e) = write_cidfile(path, &id) {
                let _ = self.remove_container(&id, true);
                return Err(e);
            }
        }
        // Last, once the name and the cidfile are taken: a refused container makes no host
        // directories.
        if let Err(e) = create_bind_sources(&opts.mounts) {
            let _ = self.remove_container(&id, true);
            if let Some(path) = &opts.cidfile {
                let _ = fs::remove_file(path);
            }
            return Err(e);
        }
        Ok(record)
    }

    /// The container's own cgroup with its limits, where a cgroup v2 subtree is delegated to
    /// the user; without one the limits are not applied, and skiff says so.
    pub(crate) fn container_cgroup(
        &self,
        record: &ContainerRecord,
        notices: Notices<'_>,
    ) -> Result<Option<std::path::PathBuf>, Error> {
        if !record.limits.any() {
            return Ok(None);
        }
        match cgroup::delegated_parent(&record.limits) {
            Ok(parent) => Ok(Some(
                cgroup::create(&parent, &format!("skiff-{}", record.id), &record.limits)
                    .map_err(|e| Error::Other(format!("creating the container's cgroup: {e}")))?,
            )),
            Err(why) => {
                notices(Notice(format!(
                    "resource limits (--memory, --cpus, --pids-limit) are not applied: {why}"
                )));
                Ok(None)
            }
        }
    }

    fn image_for_run(
        &self,
        opts: &RunOptions,
        progress: &(dyn Fn(PullEvent) + Sync),
        notices: Notices<'_>,
    ) -> Result<ImageRecord, Error> {
        let pull = || {
            let pull_opts = PullOptions {
                platform: opts.platform.clone(),
                ..PullOptions::default()
            };
            self.pull(&opts.image, &pull_opts, progress, notices)
                .and_then(|_| self.find_image(&opts.image))
        };
        match opts.pull {
            PullPolicy::Always => pull(),
            PullPolicy::Never => self.find_image(&opts.image),
            PullPolicy::Missing => match self.find_image(&opts.image) {
                Err(e) if e.is_not_found(ObjectKind::Image) => pull(),
                other => other,
            },
        }
    }
}

/// Compiles the profile at `path` for a container holding `capabilities`.
fn seccomp_program(path: &std::path::Path, capabilities: &[u32]) -> Result<Vec<u64>, Error> {
    let text = fs::read(path).map_err(|e| {
        Error::Invalid(format!(
            "reading the seccomp profile {}: {e}",
            path.display()
        ))
    })?;
    let has_cap = |name: &str| {
        crate::runtime::caps::capability_number(name).is_some_and(|n| capabilities.contains(&n))
    };
    crate::runtime::seccomp_profile::compile(&text, &has_cap)
        .map_err(|e| Error::Invalid(format!("seccomp profile {}: {e}", path.display())))
}

/// Makes the missing host directories of `-v` binds, as Docker does when it creates the
/// container (`--mount` sources were checked to exist when parsed).
fn create_bind_sources(mounts: &[MountSpec]) -> Result<(), Error> {
    let sources = mounts
        .iter()
        .filter(|m| m.kind == MountKind::Bind)
        .filter_map(|m| m.source.as_ref());
    for source in sources {
        if !source.exists() {
            fs::create_dir_all(source).map_err(|e| {
                Error::Invalid(format!(
                    "creating the volume source {}: {e}",
                    source.display()
                ))
            })?;
        }
    }
    Ok(())
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
pub(crate) fn environment(
    image_env: Vec<String>,
    overrides: &[String],
    hostname: &str,
) -> Vec<String> {
    let mut env: Vec<String> = Vec::new();
    let mut set = |entry: String| {
        let key = entry.split('=').next().unwrap_or("").to_string();
        env.retain(|e| e.split('=').next() != Some(key.as_str()));
        env.push(entry);
    };
    if !image_env.iter().any(|e| e.starts_with("PATH=")) {
        set(format!("PATH={}", crate::runtime::container::DEFAULT_PATH));
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

/// Writes the container id for `--cidfile`; an existing file is refused, as Docker does.
fn write_cidfile(path: &std::path::Path, id: &str) -> Result<(), Error> {
    use std::io::Write;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Error::Invalid(format!(
                "container ID file found, make sure the other container isn't running or delete {}",
                path.display()
            )),
            _ => Error::Invalid(format!("writing --cidfile {}: {e}", path.display())),
        })?;
    f.write_all(id.as_bytes())
        .map_err(|e| Error::Invalid(format!("writing --cidfile {}: {e}", path.display())))
}

/// A container id: 64 random hex digits, as Docker's.
pub(crate) fn random_id() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    let mut f =
        fs::File::open("/dev/urandom").map_err(|e| Error::Other(format!("/dev/urandom: {e}")))?;
    std::io::Read::read_exact(&mut f, &mut bytes)
        .map_err(|e| Error::Other(format!("/dev/urandom: {e}")))?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::super::options::test_options as opts;
    use super::*;

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
