//! `skiff run` in the foreground.

use std::os::fd::AsFd;

use clap::Args;

use crate::engine::duration;
use crate::engine::options::{self as run, parse_size};
use crate::engine::Engine;
use crate::engine::HealthConfig;
use crate::engine::{Capability, Network, PullPolicy, RunOptions};
use crate::engine::{Notice, PullEvent};
use crate::Error;

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Print help (-h is --hostname, as in Docker).
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Remove an existing container of the same --name first (Podman's).
    #[arg(long)]
    pub replace: bool,
    /// Run in the background and print the container's id.
    #[arg(short, long)]
    pub detach: bool,
    /// Restart policy: no, on-failure[:N], always, unless-stopped.
    #[arg(long, value_name = "POLICY", default_value = "no")]
    pub restart: String,
    /// Logging driver of a detached container: json-file (default), k8s-file or none.
    #[arg(long, value_name = "DRIVER", default_value = "json-file")]
    pub log_driver: String,
    /// Logging options: max-size=SIZE, max-file=N.
    #[arg(long, value_name = "OPT")]
    pub log_opt: Vec<String>,
    /// Set metadata on the container (KEY=VALUE).
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Signal that stops the container (default: the image's, else SIGTERM).
    #[arg(long, value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Seconds to wait for the container to stop before killing it (default 10).
    #[arg(long, value_name = "SECONDS")]
    pub stop_timeout: Option<u32>,
    /// Command that checks the container's health (run with /bin/sh -c).
    #[arg(long, value_name = "COMMAND")]
    pub health_cmd: Option<String>,
    /// Time between health checks (e.g. 30s, 1m30s; default 30s).
    #[arg(long, value_name = "DURATION")]
    pub health_interval: Option<String>,
    /// Longest a health check may run (default 30s).
    #[arg(long, value_name = "DURATION")]
    pub health_timeout: Option<String>,
    /// Failures in a row that make the container unhealthy (default 3).
    #[arg(long, value_name = "N")]
    pub health_retries: Option<u32>,
    /// Time to start during which failures don't count (default 0s).
    #[arg(long, value_name = "DURATION")]
    pub health_start_period: Option<String>,
    /// Time between health checks during the start period (default 5s).
    #[arg(long, value_name = "DURATION")]
    pub health_start_interval: Option<String>,
    /// Disable any health check, the image's included.
    #[arg(long)]
    pub no_healthcheck: bool,
    /// Keys that detach from the container, leaving it running (default ctrl-p,ctrl-q).
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Name the container.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to pass skiff's own value).
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read environment variables from a file (KEY=VALUE lines, # comments).
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<std::path::PathBuf>,
    /// Working directory inside the container (created if missing).
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// User to run as: name|uid[:group|gid].
    #[arg(short, long, value_name = "USER")]
    pub user: Option<String>,
    /// Override the image's entrypoint ("" clears it).
    #[arg(long, value_name = "CMD")]
    pub entrypoint: Option<String>,
    /// Container host name.
    #[arg(short = 'h', long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Network: bridge (the default: a network of its own with a way out through pasta, or
    /// slirp4netns where pasta can't serve), pasta[:OPTIONS], slirp4netns[:OPTIONS], none
    /// (loopback only), host, container:NAME (another running container's network,
    /// hostname and /etc files), or a user network's name (`network create`).
    #[arg(
        long,
        visible_alias = "net",
        value_name = "MODE",
        default_value = "bridge"
    )]
    pub network: String,
    /// A name other containers on the user network find this one by too.
    #[arg(
        long = "network-alias",
        visible_alias = "net-alias",
        value_name = "ALIAS"
    )]
    pub network_alias: Vec<String>,
    /// The container's IPv4 address on its user network.
    #[arg(long, value_name = "ADDRESS")]
    pub ip: Option<std::net::Ipv4Addr>,
    /// The container's IPv6 address on its user network.
    #[arg(long, value_name = "ADDRESS")]
    pub ip6: Option<std::net::Ipv6Addr>,
    /// Publish a container's port on the host: [IP:][HOSTPORT:]CTRPORT[/tcp|udp], ranges as
    /// 8000-8010:80-90; no host port: a free one.
    #[arg(short = 'p', long = "publish", value_name = "[IP:][HOST:]CTR[/PROTO]")]
    pub publish: Vec<String>,
    /// Publish every exposed port (the image's EXPOSE and --expose) on a free host port.
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// Expose a port or a range (PORT[-END][/tcp|udp]) without publishing it.
    #[arg(long, value_name = "PORT[/PROTO]")]
    pub expose: Vec<String>,
    /// A name server for the container's /etc/resolv.conf, instead of the host's.
    #[arg(long = "dns", value_name = "IP")]
    pub dns: Vec<String>,
    /// A search domain instead of the host's (`.` for none).
    #[arg(long = "dns-search", value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// A resolver option (`ndots:2`) instead of the host's.
    #[arg(long = "dns-option", alias = "dns-opt", value_name = "OPTION")]
    pub dns_option: Vec<String>,
    /// An /etc/hosts line: NAME:IP (or NAME=IP; IP may be host-gateway with --network host).
    #[arg(long = "add-host", value_name = "NAME:IP")]
    pub add_host: Vec<String>,
    /// Leave the image's /etc/hosts as it is.
    #[arg(long)]
    pub no_hosts: bool,
    /// When to pull the image: always, missing or never.
    #[arg(long, value_name = "POLICY", default_value = "missing")]
    pub pull: String,
    /// Keep stdin open: the container reads skiff's standard input.
    #[arg(short, long)]
    pub interactive: bool,
    /// Pass signals skiff receives on to the container.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub sig_proxy: bool,
    /// Allocate a pseudo-terminal.
    #[arg(short, long)]
    pub tty: bool,
    /// Bind mount a host path: HOST:CONTAINER[:ro|rw|z|Z] (a missing host directory is created).
    #[arg(short, long, value_name = "HOST:CTR[:OPTS]")]
    pub volume: Vec<String>,
    /// Mount: type=bind|tmpfs,source=…,target=…[,readonly][,tmpfs-size=…].
    #[arg(long, value_name = "SPEC")]
    pub mount: Vec<String>,
    /// Mount a tmpfs: /path[:options].
    #[arg(long, value_name = "PATH[:OPTS]")]
    pub tmpfs: Vec<String>,
    /// Mount the root file system read-only (/tmp, /var/tmp and /run stay writable tmpfs).
    #[arg(long)]
    pub read_only: bool,
    /// Add capabilities (or ALL).
    #[arg(long, value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop capabilities (or ALL).
    #[arg(long, value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Give the container all capabilities and hide nothing of /proc and /sys.
    #[arg(long)]
    pub privileged: bool,
    /// More supplementary groups for the container's process.
    #[arg(long, value_name = "GROUP")]
    pub group_add: Vec<String>,
    /// The platform to pull if the image is missing (os/arch[/variant]).
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Write the container id to this file.
    #[arg(long, value_name = "FILE")]
    pub cidfile: Option<std::path::PathBuf>,
    /// User namespace: host (the user's own, the default), keep-id[:uid=N,gid=N] (your uid
    /// and gid inside), auto[:size=N] (a range of subordinate ids of its own).
    #[arg(long, value_name = "MODE")]
    pub userns: Option<String>,
    /// UID map CONTAINER:HOST[:SIZE] of a user namespace of the container's own; HOST counts
    /// in the user's namespace (0 = you, 1.. = /etc/subuid). Repeatable.
    #[arg(long, value_name = "MAP")]
    pub uidmap: Vec<String>,
    /// GID map CONTAINER:HOST[:SIZE], as --uidmap (which it defaults to). Repeatable.
    #[arg(long, value_name = "MAP")]
    pub gidmap: Vec<String>,
    /// Run a minimal init as PID 1 that passes signals on and reaps orphans.
    #[arg(long)]
    pub init: bool,
    /// Resource limits: NAME=SOFT[:HARD] (nofile, nproc, core, …).
    #[arg(long, value_name = "ULIMIT")]
    pub ulimit: Vec<String>,
    /// Size of /dev/shm (default 64m).
    #[arg(long, value_name = "SIZE")]
    pub shm_size: Option<String>,
    /// Memory limit (needs a delegated cgroup v2 subtree; warns and runs without otherwise).
    #[arg(short, long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// CPU limit, in CPUs (needs a delegated cgroup v2 subtree).
    #[arg(long, value_name = "N")]
    pub cpus: Option<f64>,
    /// Process limit (needs a delegated cgroup v2 subtree).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// Security options: no-new-privileges, seccomp=unconfined, seccomp=FILE (a Docker
    /// seccomp profile), label=disable.
    #[arg(long, value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// The image.
    pub image: String,
    /// The command and its arguments (default: the image's).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub fn run(engine: &Engine, args: RunArgs) -> Result<i32, Error> {
    let detach = args.detach;
    // Only a command in the foreground reads skiff's stdin (`attach` checks its own).
    if args.tty && args.interactive && !detach && !crate::sys::is_terminal(std::io::stdin().as_fd())
    {
        return Err(Error::Invalid("the input device is not a TTY".into()));
    }
    let opts = options(args)?;
    engine.check_run(&opts)?;
    if detach {
        let record = engine.create_container(&opts, &progress, &notice)?;
        if let Err(e) = engine.start_detached(&record.id, &notice) {
            if opts.remove {
                let _ = engine.remove_container(&record.id, true);
            }
            return Err(e);
        }
        println!("{}", record.id);
        return Ok(0);
    }
    engine.run(&opts, &progress, &notice)
}

/// `skiff create`: prints the new container's id.
pub fn create(engine: &Engine, args: RunArgs) -> Result<i32, Error> {
    let opts = options(args)?;
    let record = engine.create_container(&opts, &progress, &notice)?;
    println!("{}", record.id);
    Ok(0)
}

/// Docker's health flags: the check's command in Docker's form, durations in nanoseconds.
fn health_options(args: &RunArgs) -> Result<HealthConfig, Error> {
    let given = args.health_cmd.is_some()
        || args.health_interval.is_some()
        || args.health_timeout.is_some()
        || args.health_retries.is_some()
        || args.health_start_period.is_some()
        || args.health_start_interval.is_some();
    if args.no_healthcheck {
        if given {
            return Err(Error::Invalid(
                "--no-healthcheck conflicts with the --health-* options".into(),
            ));
        }
        return Ok(HealthConfig {
            test: vec!["NONE".into()],
            ..HealthConfig::default()
        });
    }
    let nanos = |flag: &str, v: &Option<String>| -> Result<i64, Error> {
        match v {
            None => Ok(0),
            Some(text) => {
                let d = duration::parse(text)?;
                if !d.is_zero() && d < std::time::Duration::from_millis(1) {
                    return Err(Error::Invalid(format!(
                        "{flag} can't be less than one millisecond"
                    )));
                }
                Ok(d.as_nanos() as i64)
            }
        }
    };
    Ok(HealthConfig {
        test: args
            .health_cmd
            .iter()
            .flat_map(|c| ["CMD-SHELL".to_string(), c.clone()])
            .collect(),
        interval: nanos("--health-interval", &args.health_interval)?,
        timeout: nanos("--health-timeout", &args.health_timeout)?,
        start_period: nanos("--health-start-period", &args.health_start_period)?,
        start_interval: nanos("--health-start-interval", &args.health_start_interval)?,
        retries: args.health_retries.unwrap_or(0),
    })
}

/// `--env-file`: KEY=VALUE lines (or KEY alone), `#` comments. Like Docker, a line whose name
/// is empty or holds white space is refused, naming the file and line.
pub fn read_env_files(files: &[std::path::PathBuf]) -> Result<Vec<String>, Error> {
    let mut env = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| Error::Invalid(format!("reading --env-file {}: {e}", file.display())))?;
        for (number, line) in text.lines().enumerate() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let name = line.split('=').next().unwrap_or("");
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(Error::Invalid(format!(
                    "--env-file {}: line {}: invalid variable name {name:?}: use NAME=VALUE",
                    file.display(),
                    number + 1
                )));
            }
            env.push(line.trim_end().to_string());
        }
    }
    Ok(env)
}

fn log_config(driver: &str, opts: &[String]) -> Result<crate::engine::LogConfig, Error> {
    if !["json-file", "k8s-file", "none"].contains(&driver) {
        return Err(Error::Invalid(format!(
            "invalid --log-driver {driver:?}: use json-file, k8s-file or none"
        )));
    }
    let mut log = crate::engine::LogConfig {
        driver: driver.into(),
        ..Default::default()
    };
    for o in opts {
        match o.split_once('=') {
            Some(("max-size", v)) => log.max_size = Some(parse_size(v)?),
            Some(("max-file", v)) => {
                log.max_file = v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    Error::Invalid(format!(
                        "invalid --log-opt {o:?}: max-file is a number from 1"
                    ))
                })?
            }
            _ => {
                return Err(Error::Invalid(format!(
                    "invalid --log-opt {o:?}: use max-size=SIZE or max-file=N"
                )))
            }
        }
    }
    Ok(log)
}

/// A pull on the way goes to stderr, so that the container's output stays clean.
pub fn progress(e: PullEvent) {
    match e {
        PullEvent::Pulling { tag, repository } => eprintln!("{tag}: Pulling from {repository}"),
        PullEvent::Layer { .. } => {}
    }
}

/// Warnings go to stderr too, as Docker's.
pub fn notice(n: Notice) {
    eprintln!("WARNING: {n}");
}

fn options(args: RunArgs) -> Result<RunOptions, Error> {
    let health = health_options(&args)?;
    let network = match args.network.as_str() {
        "none" => Network::None,
        "host" => Network::Host,
        other => match other.strip_prefix("container:") {
            Some("") => {
                return Err(Error::Invalid(
                    "--network container: needs a container's name or id (container:NAME)".into(),
                ))
            }
            Some(target) => Network::Container(target.to_string()),
            None => match crate::engine::parse_network_mode(other) {
                Some(mode) => Network::User(mode?),
                // A user network's name (looked up when the container is made).
                None => Network::Named(other.to_string()),
            },
        },
    };
    let publish = args
        .publish
        .iter()
        .map(|p| crate::engine::parse_publish(p))
        .collect::<Result<Vec<_>, _>>()?;
    let expose = args
        .expose
        .iter()
        .map(|p| crate::engine::parse_expose(p))
        .collect::<Result<Vec<_>, _>>()?;
    if !publish.is_empty() || args.publish_all {
        match &network {
            Network::Container(_) => {
                return Err(Error::Invalid(
                    "conflicting options: port publishing and the container type network mode: \
                     publish the ports on the container whose network this one joins"
                        .into(),
                ))
            }
            Network::Host | Network::None => notice(crate::engine::Notice(format!(
                "Published ports are discarded when using {} network mode",
                network.mode_name()
            ))),
            Network::User(_) | Network::Named(_) => {}
        }
    }
    let pull = match args.pull.as_str() {
        "always" => PullPolicy::Always,
        "missing" => PullPolicy::Missing,
        "never" => PullPolicy::Never,
        other => {
            return Err(Error::Invalid(format!(
                "invalid --pull {other:?}: expected always, missing or never"
            )))
        }
    };
    let mut env = read_env_files(&args.env_file)?;
    crate::engine::options::check_env(&args.env, "-e")?;
    env.extend(args.env);
    if let Some(workdir) = &args.workdir {
        crate::engine::options::check_workdir(workdir)?;
    }
    if let Some(cpus) = args.cpus {
        let available = std::thread::available_parallelism().map_or(1, |n| n.get());
        crate::engine::options::check_cpus(cpus, available)?;
    }
    if let Some(name) = &args.name {
        crate::engine::options::check_name(name)?;
    }
    if let Some(hostname) = &args.hostname {
        crate::engine::options::check_hostname(hostname)?;
    }
    crate::engine::options::check_labels(&args.label)?;
    let mut mounts = Vec::new();
    for v in &args.volume {
        mounts.push(run::parse_volume(v)?);
    }
    for m in &args.mount {
        mounts.push(run::parse_mount(m)?);
    }
    for t in &args.tmpfs {
        mounts.push(run::parse_tmpfs(t)?);
    }
    crate::engine::options::check_duplicate_targets(&mounts)?;
    let ulimits = args
        .ulimit
        .iter()
        .map(|u| run::parse_ulimit(u))
        .collect::<Result<Vec<_>, _>>()?;
    let shm_size = args.shm_size.as_deref().map(parse_size).transpose()?;
    let capabilities = |names: &[String]| -> Result<Vec<Capability>, Error> {
        names.iter().map(|n| Capability::parse(n)).collect()
    };
    if args.rm && args.restart != "no" {
        return Err(Error::Invalid(
            "--restart and --rm conflict: a container removed on exit can't be restarted".into(),
        ));
    }
    let userns =
        crate::engine::UsernsMode::parse(args.userns.as_deref(), &args.uidmap, &args.gidmap)?;
    let platform = match &args.platform {
        Some(p) => Some(crate::engine::PlatformSpec::parse(p).map_err(Error::Invalid)?),
        None => None,
    };
    let mut no_new_privileges = false;
    let mut seccomp = true;
    let mut seccomp_profile = None;
    for opt in &args.security_opt {
        match opt.as_str() {
            "no-new-privileges" | "no-new-privileges=true" | "no-new-privileges:true" => {
                no_new_privileges = true
            }
            "seccomp=unconfined" | "seccomp:unconfined" => seccomp = false,
            o if o.starts_with("seccomp=") || o.starts_with("seccomp:") => {
                seccomp_profile = Some(std::path::PathBuf::from(&o["seccomp=".len()..]));
            }
            "label=disable" | "no-new-privileges=false" | "no-new-privileges:false" => {}
            other => return Err(Error::NotSupported(format!("--security-opt {other}"))),
        }
    }
    let etc = run::etc_options(
        &network,
        args.dns,
        args.dns_search,
        args.dns_option,
        &args.add_host,
        args.no_hosts,
    )?;
    Ok(RunOptions {
        network_aliases: args.network_alias,
        ip: args.ip,
        ip6: args.ip6,
        image: args.image,
        command: args.command,
        entrypoint: args.entrypoint,
        env,
        workdir: args.workdir,
        user: args.user,
        // An empty -h means the default, the container's short id, as in Docker.
        hostname: args.hostname.filter(|h| !h.is_empty()),
        network,
        publish,
        publish_all: args.publish_all,
        expose,
        pull,
        remove: args.rm,
        mounts,
        read_only: args.read_only,
        cap_add: capabilities(&args.cap_add)?,
        cap_drop: capabilities(&args.cap_drop)?,
        privileged: args.privileged,
        no_new_privileges,
        interactive: args.interactive,
        sig_proxy: args.sig_proxy,
        detach: args.detach,
        detach_keys: crate::engine::parse_detach_keys(
            args.detach_keys
                .as_deref()
                .unwrap_or(crate::engine::DEFAULT_DETACH_KEYS),
        )?,
        init: args.init,
        ulimits,
        shm_size,
        etc,
        tty: args.tty,
        seccomp,
        seccomp_profile,
        group_add: args.group_add,
        platform,
        cidfile: args.cidfile,
        name: args.name,
        userns,
        labels: args
            .label
            .iter()
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap_or((l, ""));
                (k.to_string(), v.to_string())
            })
            .collect(),
        restart: crate::engine::RestartPolicy::parse(&args.restart)?,
        log: log_config(&args.log_driver, &args.log_opt)?,
        stop_signal: match args.stop_signal {
            Some(s) => {
                crate::engine::signal_number(&s)?;
                Some(s)
            }
            None => None,
        },
        stop_timeout: args.stop_timeout,
        health,
        replace: args.replace,
        limits: run::Limits {
            memory: args.memory.as_deref().map(parse_size).transpose()?,
            cpus: args.cpus,
            pids: args.pids_limit,
        },
    })
}
