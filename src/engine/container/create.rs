//! `skiff run` and `create`: resolve the image (pulling it if needed), record the container
//! with its spec, and start it under its monitor, attached (see `monitor` and `attach`).

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;

use super::record::{ContainerRecord, ContainerState};
use crate::engine::image::pull::{PullEvent, PullOptions};
use crate::engine::{Engine, ObjectKind};
use crate::engine::{Notice, Notices};
use crate::runtime::caps::DEFAULT_CAPS;
use crate::runtime::cgroup;
pub use crate::runtime::cgroup::Limits;
use crate::runtime::container::{MountKind, MountSpec, Spec};
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
    pub mounts: Vec<MountSpec>,
    pub read_only: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub no_new_privileges: bool,
    /// `-i`: the container reads skiff's stdin.
    pub interactive: bool,
    /// Pass signals skiff receives on to the container (Docker's `--sig-proxy`, default on).
    pub sig_proxy: bool,
    /// `run -d`: nobody is attached when the container starts.
    pub detach: bool,
    /// The keys that detach from a container run in the foreground.
    pub detach_keys: Vec<u8>,
    /// `--health-*` and `--no-healthcheck`, over the image's check.
    pub health: super::health::HealthConfig,
    pub init: bool,
    /// `--ulimit` values as given (`nofile=1024:2048`).
    pub ulimits: Vec<String>,
    /// `--shm-size` as given (`64m`).
    pub shm_size: Option<String>,
    pub limits: Limits,
    /// `-t`: a pseudo-terminal for the container.
    pub tty: bool,
    /// The default seccomp filter (`--security-opt seccomp=unconfined` turns it off).
    pub seccomp: bool,
    /// `--security-opt seccomp=FILE`: a Docker seccomp profile used instead of the default.
    pub seccomp_profile: Option<PathBuf>,
    pub group_add: Vec<String>,
    /// `--platform` for a pull on the way.
    pub platform: Option<crate::engine::image::pull::PlatformSpec>,
    /// `--cidfile`: where to write the container's id.
    pub cidfile: Option<PathBuf>,
    /// `--name`.
    pub name: Option<String>,
    /// `--userns`, `--uidmap`, `--gidmap`.
    pub userns: super::userns::UsernsMode,
    /// `--label`.
    pub labels: std::collections::BTreeMap<String, String>,
    pub restart: super::record::RestartPolicy,
    pub log: super::record::LogConfig,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<u32>,
    /// `--replace`: an existing container of that name goes first.
    pub replace: bool,
}

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
        let args = command_line(opts, defaults.entrypoint, defaults.cmd)?;
        let id = random_id()?;
        let hostname = opts
            .hostname
            .clone()
            .unwrap_or_else(|| id[..12].to_string());
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
            .map(|u| parse_ulimit(u))
            .collect::<Result<Vec<_>, _>>()?;
        let shm_size = opts.shm_size.as_deref().map(parse_size).transpose()?;
        let capabilities = capabilities(opts)?;
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
            namespaces: crate::runtime::container::Namespaces::with_network(
                if opts.network == Network::None {
                    crate::runtime::container::Namespace::New
                } else {
                    crate::runtime::container::Namespace::Host
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
    let has_cap = |name: &str| capability_number(name).is_ok_and(|n| capabilities.contains(&n));
    crate::runtime::seccomp_profile::compile(&text, &has_cap)
        .map_err(|e| Error::Invalid(format!("seccomp profile {}: {e}", path.display())))
}

fn capability_number(name: &str) -> Result<u32, Error> {
    crate::runtime::caps::capability_number(name)
        .ok_or_else(|| Error::Invalid(format!("unknown capability {name:?}")))
}

/// Every capability this build knows (`--privileged`).
pub(crate) fn all_capabilities() -> Vec<u32> {
    (0..crate::runtime::caps::CAPABILITY_NAMES.len() as u32).collect()
}

/// The default set, `--privileged` (all), then `--cap-add` and `--cap-drop` (`ALL` allowed).
fn capabilities(opts: &RunOptions) -> Result<Vec<u32>, Error> {
    let all: Vec<u32> = (0..crate::runtime::caps::CAPABILITY_NAMES.len() as u32).collect();
    let mut caps: Vec<u32> = if opts.privileged {
        all.clone()
    } else {
        DEFAULT_CAPS.to_vec()
    };
    for name in &opts.cap_add {
        if name.eq_ignore_ascii_case("all") {
            caps = all.clone();
        } else {
            let n = capability_number(name)?;
            if !caps.contains(&n) {
                caps.push(n);
            }
        }
    }
    for name in &opts.cap_drop {
        if name.eq_ignore_ascii_case("all") {
            caps.clear();
        } else {
            let n = capability_number(name)?;
            caps.retain(|c| *c != n);
        }
    }
    caps.sort_unstable();
    Ok(caps)
}

/// Parses `-v HOST:CTR[:OPTIONS]` (options `ro`, `rw`, `z`, `Z`; SELinux labels are accepted
/// and have nothing to do where SELinux is off). A missing host directory is created later, by
/// [`create_bind_sources`], once every value is known to be good and the image is there.
pub fn parse_volume(spec: &str) -> Result<MountSpec, Error> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, options) = match parts.as_slice() {
        [s, t] => (*s, *t, ""),
        [s, t, o] => (*s, *t, *o),
        _ => {
            return Err(Error::Invalid(format!(
                "invalid volume specification {spec:?}: expected HOST:CONTAINER[:ro|rw]"
            )))
        }
    };
    if !source.starts_with('/') {
        return Err(Error::NotSupported(format!(
            "named volumes ({source:?}); use an absolute host path"
        )));
    }
    check_target(target, spec)?;
    let mut readonly = false;
    for o in options.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => readonly = true,
            "rw" | "z" | "Z" => {}
            other => {
                return Err(Error::Invalid(format!(
                    "invalid volume option {other:?} in {spec:?}"
                )))
            }
        }
    }
    Ok(MountSpec {
        kind: MountKind::Bind,
        source: Some(PathBuf::from(source)),
        target: target.to_string(),
        readonly,
        options: String::new(),
    })
}

/// Parses `--mount type=bind|tmpfs,source=…,target=…[,readonly][,tmpfs-size=…][,tmpfs-mode=…]`.
pub fn parse_mount(spec: &str) -> Result<MountSpec, Error> {
    let (mut kind, mut source, mut target, mut readonly) = (None, None, None, false);
    let mut tmpfs = Vec::new();
    for field in spec.split(',') {
        let (k, v) = field.split_once('=').unwrap_or((field, ""));
        match k {
            "type" => kind = Some(v.to_string()),
            "source" | "src" => source = Some(PathBuf::from(v)),
            "target" | "destination" | "dst" => target = Some(v.to_string()),
            "readonly" | "ro" => readonly = v.is_empty() || v == "true" || v == "1",
            "tmpfs-size" => tmpfs.push(format!("size={v}")),
            "tmpfs-mode" => tmpfs.push(format!("mode={v}")),
            "bind-propagation" | "z" | "Z" | "relabel" => {}
            other => return Err(Error::Invalid(format!("unknown --mount option {other:?}"))),
        }
    }
    let target =
        target.ok_or_else(|| Error::Invalid(format!("--mount {spec:?} needs a target")))?;
    check_target(&target, spec)?;
    match kind.as_deref() {
        Some("bind") => {
            let source =
                source.ok_or_else(|| Error::Invalid(format!("--mount {spec:?} needs a source")))?;
            if !source.exists() {
                // Unlike -v, --mount does not create the source (as in Docker).
                return Err(Error::Invalid(format!(
                    "bind source path does not exist: {}",
                    source.display()
                )));
            }
            Ok(MountSpec {
                kind: MountKind::Bind,
                source: Some(source),
                target,
                readonly,
                options: String::new(),
            })
        }
        Some("tmpfs") => Ok(MountSpec {
            kind: MountKind::Tmpfs,
            source: None,
            target,
            readonly,
            options: tmpfs.join(","),
        }),
        Some(other) => Err(Error::NotSupported(format!("--mount type={other}"))),
        None => Err(Error::Invalid(format!("--mount {spec:?} needs a type"))),
    }
}

/// Parses `--tmpfs /path[:options]`.
pub fn parse_tmpfs(spec: &str) -> Result<MountSpec, Error> {
    let (target, options) = spec.split_once(':').unwrap_or((spec, ""));
    check_target(target, spec)?;
    let options = if options.is_empty() {
        "rw,noexec,nosuid,nodev".to_string()
    } else {
        options.to_string()
    };
    // Flags are applied as mount flags; only the data options go to the file system.
    let data: Vec<&str> = options
        .split(',')
        .filter(|o| {
            !matches!(
                *o,
                "rw" | "ro" | "noexec" | "exec" | "nosuid" | "suid" | "nodev" | "dev"
            )
        })
        .collect();
    Ok(MountSpec {
        kind: MountKind::Tmpfs,
        source: None,
        target: target.to_string(),
        readonly: options.split(',').any(|o| o == "ro"),
        options: data.join(","),
    })
}

/// Parses `--ulimit name=soft[:hard]` (`-1` or `unlimited` for no limit).
pub fn parse_ulimit(spec: &str) -> Result<(String, u64, u64), Error> {
    let bad = || {
        Error::Invalid(format!(
            "invalid --ulimit {spec:?}: expected NAME=SOFT[:HARD]"
        ))
    };
    let (name, values) = spec.split_once('=').ok_or_else(bad)?;
    if !crate::sys::is_limit_name(name) {
        // Known before the container exists, not when its process sets the limits.
        return Err(Error::Invalid(format!(
            "invalid --ulimit {spec:?}: unknown limit {name:?}; use one of {}",
            crate::sys::LIMIT_NAMES.join(", ")
        )));
    }
    let number = |v: &str| -> Result<u64, Error> {
        match v {
            "-1" | "unlimited" => Ok(u64::MAX),
            v => v.parse().map_err(|_| bad()),
        }
    };
    let (soft, hard) = match values.split_once(':') {
        Some((s, h)) => (number(s)?, number(h)?),
        None => (number(values)?, number(values)?),
    };
    if soft > hard {
        return Err(Error::Invalid(format!(
            "invalid --ulimit {spec:?}: soft limit above the hard limit"
        )));
    }
    Ok((name.to_string(), soft, hard))
}

/// Docker's sizes: a number with an optional b, k, m or g (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, Error> {
    let lower = s.trim().to_ascii_lowercase();
    let (digits, unit) = match lower.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => lower.split_at(i),
        None => (lower.as_str(), ""),
    };
    let factor: u64 = match unit.trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => {
            return Err(Error::Invalid(format!(
                "invalid size {s:?}: use a number with b, k, m or g"
            )))
        }
    };
    let value: f64 = digits
        .parse()
        .map_err(|_| Error::Invalid(format!("invalid size {s:?}")))?;
    Ok((value * factor as f64) as u64)
}

fn check_target(target: &str, spec: &str) -> Result<(), Error> {
    super::options::check_target(target, spec)
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
            mounts: vec![],
            read_only: false,
            cap_add: vec![],
            cap_drop: vec![],
            privileged: false,
            no_new_privileges: false,
            interactive: false,
            sig_proxy: true,
            detach: false,
            detach_keys: Vec::new(),
            health: Default::default(),
            init: false,
            ulimits: vec![],
            shm_size: None,
            limits: Limits::default(),
            tty: false,
            seccomp: true,
            seccomp_profile: None,
            userns: Default::default(),
            labels: Default::default(),
            restart: Default::default(),
            log: Default::default(),
            stop_signal: None,
            stop_timeout: None,
            replace: false,
            group_add: vec![],
            platform: None,
            cidfile: None,
            name: None,
        }
    }

    #[test]
    fn capabilities_follow_docker() {
        let mut o = opts();
        assert_eq!(capabilities(&o).unwrap(), DEFAULT_CAPS);
        o.cap_add = vec!["net_admin".into(), "CAP_SYS_PTRACE".into()];
        o.cap_drop = vec!["chown".into()];
        let caps = capabilities(&o).unwrap();
        assert!(caps.contains(&12) && caps.contains(&19) && !caps.contains(&0));
        o.cap_drop = vec!["ALL".into()];
        assert!(capabilities(&o).unwrap().is_empty());
        o.cap_add = vec!["bogus".into()];
        assert!(capabilities(&o).is_err());
    }

    #[test]
    fn sizes_and_ulimits() {
        assert_eq!(parse_size("64m").unwrap(), 64 << 20);
        assert_eq!(parse_size("1g").unwrap(), 1 << 30);
        assert_eq!(parse_size("512").unwrap(), 512);
        assert!(parse_size("12x").is_err());
        assert_eq!(
            parse_ulimit("nofile=1024:2048").unwrap(),
            ("nofile".into(), 1024, 2048)
        );
        assert_eq!(parse_ulimit("core=-1").unwrap().1, u64::MAX);
        assert!(parse_ulimit("nofile=10:5").is_err());
    }

    #[test]
    fn mount_flags_parse() {
        let t = parse_tmpfs("/scratch:size=1m,ro").unwrap();
        assert_eq!(
            (t.target.as_str(), t.readonly, t.options.as_str()),
            ("/scratch", true, "size=1m")
        );
        assert!(parse_volume("rel:/x").is_err());
        assert!(parse_volume("/a:b").is_err());
        assert!(
            parse_mount("type=tmpfs,target=/t,tmpfs-size=1m")
                .unwrap()
                .options
                == "size=1m"
        );
        assert!(parse_mount("type=volume,target=/t").is_err());
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
