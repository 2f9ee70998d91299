//! The options of `run` and `create`, and Docker's rules for their values: each value is
//! parsed into its type (mounts, ulimits, sizes, capabilities, detach keys; restart policies in
//! `record`, user namespaces in `userns`, durations in `engine::duration`) and checked before
//! anything is pulled or created. A value skiff cannot honour is refused with the flag and the
//! fix, never carried on as if it had been understood.

use std::path::{Component, Path, PathBuf};

pub use super::etc_files::{EtcOptions, HOST_GATEWAY};
use crate::runtime::caps::DEFAULT_CAPS;
pub use crate::runtime::cgroup::Limits;
use crate::runtime::container::{MountKind, MountSpec};
use crate::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    Always,
    Missing,
    Never,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// A network namespace of its own with only loopback.
    None,
    /// The host's network, and its hostname.
    Host,
    /// `container:NAME|ID`: the network namespace, hostname and /etc files of another
    /// container, which must be running when this one starts.
    Container(String),
    /// `bridge` (the default), `pasta[:OPTS]`, `slirp4netns[:OPTS]`: a network namespace of its
    /// own with a way out through a user-mode helper.
    User(crate::network::UserMode),
    /// A user network's name or id (`network create`): a bridge shared with the other
    /// containers on it, and a way out as `bridge`'s unless it is internal.
    Named(String),
}

impl Network {
    /// Docker's HostConfig.NetworkMode.
    pub fn mode_name(&self) -> String {
        match self {
            Network::None => "none".into(),
            Network::Host => "host".into(),
            Network::Container(t) => format!("container:{t}"),
            Network::User(u) => u.name(),
            Network::Named(n) => n.clone(),
        }
    }
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
    /// `-p`: ports published on the host.
    pub publish: Vec<crate::network::PortSpec>,
    /// `-P`: every exposed port published on a random host port.
    pub publish_all: bool,
    /// `--network-alias`, `--ip`, `--ip6`: on a user network only.
    pub network_aliases: Vec<String>,
    pub ip: Option<std::net::Ipv4Addr>,
    pub ip6: Option<std::net::Ipv6Addr>,
    /// `--expose`: ports exposed in addition to the image's.
    pub expose: Vec<(crate::network::Range, crate::network::Protocol)>,
    pub pull: PullPolicy,
    pub remove: bool,
    pub mounts: Vec<MountSpec>,
    pub read_only: bool,
    pub cap_add: Vec<Capability>,
    pub cap_drop: Vec<Capability>,
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
    /// `--dns*`, `--add-host`, `--no-hosts`.
    pub etc: EtcOptions,
    /// `--ulimit`.
    pub ulimits: Vec<Ulimit>,
    /// `--shm-size` in bytes.
    pub shm_size: Option<u64>,
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

/// The longest container name. Docker documents no maximum; this one keeps a name usable as a
/// file name (NAME_MAX), the tightest place skiff or a tool may have to put it.
pub const MAX_NAME_LEN: usize = 255;

/// `-e NAME=VALUE` and `--env-file` lines: an entry needs a name (Docker's "invalid
/// environment variable"); `flag` says where the entry came from.
pub fn check_env(entries: &[String], flag: &str) -> Result<(), Error> {
    for entry in entries {
        let name = entry.split('=').next().unwrap_or("");
        if name.is_empty() {
            return Err(Error::Invalid(format!(
                "invalid environment variable {entry:?} ({flag}): the name before '=' is empty; \
                 use NAME=VALUE"
            )));
        }
    }
    Ok(())
}

/// `-w`: Docker refuses a relative working directory rather than guess what it is relative to.
pub fn check_workdir(workdir: &str) -> Result<(), Error> {
    if workdir.is_empty() || workdir.starts_with('/') {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "the working directory '{workdir}' is invalid (-w), it needs to be an absolute path"
    )))
}

/// `--cpus`: Docker's range, 0.01 up to the CPUs this process may run on (0 means no limit).
/// Infinity and NaN parse as numbers but are none.
pub fn check_cpus(cpus: f64, available: usize) -> Result<(), Error> {
    if cpus == 0.0 {
        return Ok(());
    }
    if !cpus.is_finite() || !(0.01..=available as f64).contains(&cpus) {
        return Err(Error::Invalid(format!(
            "invalid --cpus {cpus}: the range of CPUs is from 0.01 to {available}.00, as there \
             are only {available} CPUs available"
        )));
    }
    Ok(())
}

/// `--name`: Docker's characters, and a length skiff can keep.
pub fn check_name(name: &str) -> Result<(), Error> {
    if name.len() > MAX_NAME_LEN {
        return Err(Error::Invalid(format!(
            "invalid container name ({}… is {} characters long): use at most {MAX_NAME_LEN}",
            &name[..name.char_indices().nth(16).map_or(name.len(), |(i, _)| i)],
            name.len()
        )));
    }
    super::record::check_name(name)
}

/// The kernel's limit on a host name (HOST_NAME_MAX).
const MAX_HOSTNAME_LEN: usize = 64;

/// `-h`: a name the kernel will take, known before the container exists rather than when its
/// `sethostname` fails.
pub fn check_hostname(hostname: &str) -> Result<(), Error> {
    if hostname.len() > MAX_HOSTNAME_LEN {
        return Err(Error::Invalid(format!(
            "invalid hostname (-h) of {} characters: the kernel takes at most {MAX_HOSTNAME_LEN}",
            hostname.len()
        )));
    }
    Ok(())
}

/// `--label KEY=VALUE`: Docker refuses a label whose name is empty.
pub fn check_labels(labels: &[String]) -> Result<(), Error> {
    for label in labels {
        let name = label.split('=').next().unwrap_or("");
        if name.trim().is_empty() {
            return Err(Error::Invalid(format!(
                "invalid label {label:?} (--label): empty name; use KEY=VALUE"
            )));
        }
    }
    Ok(())
}

/// A mount's target as the kernel will resolve it: absolute, `.` and `..` folded, no trailing
/// slash. Two spellings of one place are one target.
pub fn clean_target(target: &str) -> PathBuf {
    let mut clean = PathBuf::from("/");
    for part in Path::new(target).components() {
        match part {
            Component::Normal(p) => clean.push(p),
            Component::ParentDir => {
                clean.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    clean
}

/// One mount target: absolute, not `/`, and not on the container's /proc or /sys, which skiff
/// mounts itself and which runc refuses too (a mount there would hide the kernel's view or be
/// hidden by it).
pub fn check_target(target: &str, spec: &str) -> Result<(), Error> {
    let clean = clean_target(target);
    if !target.starts_with('/') || clean == Path::new("/") {
        return Err(Error::Invalid(format!(
            "invalid mount target in {spec:?}: must be an absolute path other than /"
        )));
    }
    if let Some(kernel) = ["/proc", "/sys"].into_iter().find(|k| clean.starts_with(k)) {
        return Err(Error::Invalid(format!(
            "invalid mount target {} in {spec:?}: {kernel} is the container's own kernel file \
             system and cannot be mounted over; choose another target",
            clean.display()
        )));
    }
    Ok(())
}

/// `-v`, `--mount` and `--tmpfs` together: one mount per target, as Docker ("Duplicate mount
/// point"), since a second mount on the same place silently hides the first.
pub fn check_duplicate_targets(mounts: &[MountSpec]) -> Result<(), Error> {
    let mut seen: Vec<PathBuf> = Vec::with_capacity(mounts.len());
    for mount in mounts {
        let clean = clean_target(&mount.target);
        if seen.contains(&clean) {
            return Err(Error::Invalid(format!(
                "duplicate mount point: {} is the target of more than one -v, --mount or \
                 --tmpfs; give each target once",
                clean.display()
            )));
        }
        seen.push(clean);
    }
    Ok(())
}

/// `--dns`, `--dns-search`, `--dns-option`, `--add-host` and `--no-hosts`, checked as Docker
/// and Podman check them.
pub fn etc_options(
    network: &Network,
    dns: Vec<String>,
    dns_search: Vec<String>,
    dns_options: Vec<String>,
    add_hosts: &[String],
    no_hosts: bool,
) -> Result<EtcOptions, Error> {
    for server in &dns {
        if server.parse::<std::net::IpAddr>().is_err() {
            return Err(Error::Invalid(format!(
                "invalid --dns {server:?}: give a name server's IP address"
            )));
        }
    }
    if no_hosts && !add_hosts.is_empty() {
        return Err(Error::Invalid(
            "--no-hosts and --add-host conflict: the image's /etc/hosts is kept as it is".into(),
        ));
    }
    let add_hosts = add_hosts
        .iter()
        .map(|h| parse_add_host(h, network))
        .collect::<Result<Vec<_>, _>>()?;
    let options = EtcOptions {
        dns,
        dns_search,
        dns_options,
        add_hosts,
        no_hosts,
    };
    if matches!(network, Network::Container(_)) {
        // Docker's words: the files are the other container's.
        if !options.dns.is_empty()
            || !options.dns_search.is_empty()
            || !options.dns_options.is_empty()
        {
            return Err(Error::Invalid(
                "conflicting options: dns and the network mode: a container on another's \
                 network has that one's resolv.conf"
                    .into(),
            ));
        }
        if !options.add_hosts.is_empty() {
            return Err(Error::Invalid(
                "conflicting options: custom host-to-IP mapping and the network mode: a \
                 container on another's network has that one's /etc/hosts"
                    .into(),
            ));
        }
    }
    Ok(options)
}

/// One `--add-host NAME:IP` (or `NAME=IP`): the name, and the address (an IPv6 one keeps its
/// colons). `host-gateway` is the host itself: on the host's network, its loopback.
fn parse_add_host(spec: &str, network: &Network) -> Result<(String, String), Error> {
    let bad = |why: &str| Error::Invalid(format!("invalid --add-host {spec:?}: {why}"));
    let (name, address) = spec
        .split_once(['=', ':'])
        .ok_or_else(|| bad("expected NAME:IP"))?;
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(bad("the name is empty or holds spaces"));
    }
    let address = address.trim_start_matches('[').trim_end_matches(']');
    if address == "host-gateway" {
        return match network {
            Network::Host => Ok((name.to_string(), "127.0.0.1".to_string())),
            // The host's address on this network is known at each start.
            Network::User(_) | Network::Named(_) => {
                Ok((name.to_string(), HOST_GATEWAY.to_string()))
            }
            _ => Err(bad(
                "host-gateway needs a network that reaches the host: this container has only \
                 its loopback (--network none); give the address, or use --network host",
            )),
        };
    }
    address
        .parse::<std::net::IpAddr>()
        .map_err(|_| bad("not an IP address"))?;
    Ok((name.to_string(), address.to_string()))
}

/// The default detach keys, Docker's.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// Docker's detach key syntax: keys separated by commas, each a single character or `ctrl-`
/// (any case) and one of `a`-`z`, `@`, `[`, `\`, `]`, `^`, `_`. An empty string means the
/// default, as in Docker.
pub fn parse_detach_keys(spec: &str) -> Result<Vec<u8>, Error> {
    let bad = || {
        Error::Invalid(format!(
            "invalid detach keys {spec:?}: give keys separated by commas, each a character \
             or ctrl-<a-z, @, [, \\, ], ^, _> (e.g. ctrl-p,ctrl-q)"
        ))
    };
    if spec.is_empty() {
        return parse_detach_keys(DEFAULT_DETACH_KEYS);
    }
    spec.split(',')
        .map(|key| {
            let key = key.trim();
            let ctrl = key
                .get(..5)
                .filter(|p| p.eq_ignore_ascii_case("ctrl-"))
                .map(|_| key[5..].to_ascii_lowercase());
            (key, ctrl)
        })
        .map(|(key, ctrl)| match ctrl.as_deref() {
            Some(k) if k.len() == 1 => match k.as_bytes()[0] {
                c @ b'a'..=b'z' => Ok(c - b'a' + 1),
                c @ (b'@' | b'[' | b'\\' | b']' | b'^' | b'_') => Ok(c - b'@'),
                _ => Err(bad()),
            },
            Some(_) => Err(bad()),
            None if key.len() == 1 => Ok(key.as_bytes()[0]),
            None => Err(bad()),
        })
        .collect()
}

/// One `--cap-add` or `--cap-drop` value: a capability, or `ALL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    All,
    Number(u32),
}

impl Capability {
    /// A name as Docker takes it: with or without `CAP_`, any case, or `ALL`.
    pub fn parse(name: &str) -> Result<Capability, Error> {
        if name.eq_ignore_ascii_case("all") {
            return Ok(Capability::All);
        }
        crate::runtime::caps::capability_number(name)
            .map(Capability::Number)
            .ok_or_else(|| Error::Invalid(format!("unknown capability {name:?}")))
    }
}

/// Every capability this build knows (`--privileged`).
pub(crate) fn all_capabilities() -> Vec<u32> {
    (0..crate::runtime::caps::CAPABILITY_NAMES.len() as u32).collect()
}

/// The default set, `--privileged` (all), then `--cap-add` and `--cap-drop` (`ALL` allowed).
pub fn capabilities(opts: &RunOptions) -> Vec<u32> {
    let all = all_capabilities();
    let mut caps: Vec<u32> = if opts.privileged {
        all.clone()
    } else {
        DEFAULT_CAPS.to_vec()
    };
    for cap in &opts.cap_add {
        match *cap {
            Capability::All => caps = all.clone(),
            Capability::Number(n) if !caps.contains(&n) => caps.push(n),
            Capability::Number(_) => {}
        }
    }
    for cap in &opts.cap_drop {
        match *cap {
            Capability::All => caps.clear(),
            Capability::Number(n) => caps.retain(|c| *c != n),
        }
    }
    caps.sort_unstable();
    caps
}

/// Parses `-v HOST:CTR[:OPTIONS]` (options `ro`, `rw`, `z`, `Z`; SELinux labels are accepted
/// and have nothing to do where SELinux is off). A missing host directory is created later, by
/// `create_bind_sources`, once every value is known to be good and the image is there.
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

/// One `--ulimit`: a resource limit's name (as `ulimit` and Docker spell it) and values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ulimit {
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}

/// Parses `--ulimit name=soft[:hard]` (`-1` or `unlimited` for no limit).
pub fn parse_ulimit(spec: &str) -> Result<Ulimit, Error> {
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
    Ok(Ulimit {
        name: name.to_string(),
        soft,
        hard,
    })
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

/// Options as `run IMAGE` with no flags gives them, for tests.
#[cfg(test)]
pub fn test_options() -> RunOptions {
    RunOptions {
        image: "x".into(),
        command: vec![],
        entrypoint: None,
        env: vec![],
        workdir: None,
        user: None,
        hostname: None,
        network: Network::None,
        publish: vec![],
        publish_all: false,
        network_aliases: Vec::new(),
        ip: None,
        ip6: None,
        expose: vec![],
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
        etc: EtcOptions::default(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_follow_docker() {
        let mut o = test_options();
        let parsed = |names: &[&str]| -> Vec<Capability> {
            names
                .iter()
                .map(|n| Capability::parse(n).unwrap())
                .collect()
        };
        assert_eq!(capabilities(&o), DEFAULT_CAPS);
        o.cap_add = parsed(&["net_admin", "CAP_SYS_PTRACE"]);
        o.cap_drop = parsed(&["chown"]);
        let caps = capabilities(&o);
        assert!(caps.contains(&12) && caps.contains(&19) && !caps.contains(&0));
        o.cap_drop = parsed(&["ALL"]);
        assert!(capabilities(&o).is_empty());
        assert!(Capability::parse("bogus").is_err());
    }

    #[test]
    fn sizes_and_ulimits() {
        assert_eq!(parse_size("64m").unwrap(), 64 << 20);
        assert_eq!(parse_size("1g").unwrap(), 1 << 30);
        assert_eq!(parse_size("512").unwrap(), 512);
        assert!(parse_size("12x").is_err());
        let u = parse_ulimit("nofile=1024:2048").unwrap();
        assert_eq!((u.name.as_str(), u.soft, u.hard), ("nofile", 1024, 2048));
        assert_eq!(parse_ulimit("core=-1").unwrap().soft, u64::MAX);
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
    fn detach_keys_parse_as_docker_writes_them() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), vec![16, 17]);
        assert_eq!(
            parse_detach_keys("a,ctrl-@,ctrl-[").unwrap(),
            vec![b'a', 0, 27]
        );
        assert_eq!(parse_detach_keys("ctrl-\\,ctrl-_").unwrap(), vec![28, 31]);
        assert_eq!(
            parse_detach_keys("").unwrap(),
            vec![16, 17],
            "Docker's default"
        );
        assert_eq!(parse_detach_keys("CTRL-P, Ctrl-q").unwrap(), vec![16, 17]);
        assert!(parse_detach_keys("ctrl-").is_err());
        assert!(parse_detach_keys("ctrl-1").is_err());
        assert!(parse_detach_keys("ab").is_err());
    }
    use crate::runtime::container::MountKind;

    fn tmpfs(target: &str) -> MountSpec {
        MountSpec {
            kind: MountKind::Tmpfs,
            source: None,
            target: target.into(),
            readonly: false,
            options: String::new(),
        }
    }

    #[test]
    fn environment_entries_need_a_name() {
        let ok = ["A=1".to_string(), "B".into(), "C=".into(), "D==x".into()];
        assert!(check_env(&ok, "-e").is_ok());
        let err = check_env(&["=x".into()], "-e").unwrap_err().to_string();
        assert!(
            err.contains("\"=x\" (-e)") && err.contains("NAME=VALUE"),
            "{err}"
        );
        assert!(check_env(&["".into()], "-e").is_err());
    }

    #[test]
    fn working_directory_is_absolute() {
        assert!(check_workdir("/srv").is_ok());
        assert!(check_workdir("").is_ok());
        let err = check_workdir("relative").unwrap_err().to_string();
        assert!(err.contains("needs to be an absolute path"), "{err}");
    }

    #[test]
    fn cpus_in_docker_range() {
        assert!(check_cpus(0.0, 2).is_ok());
        assert!(check_cpus(0.01, 2).is_ok());
        assert!(check_cpus(2.0, 2).is_ok());
        for bad in [f64::INFINITY, f64::NAN, 0.001, 2.5, -1.0] {
            assert!(check_cpus(bad, 2).is_err(), "{bad}");
        }
        let err = check_cpus("1e309".parse().unwrap(), 4).unwrap_err();
        assert!(err.to_string().contains("from 0.01 to 4.00"), "{err}");
    }

    #[test]
    fn names_follow_docker_and_fit() {
        assert!(check_name("web.1_a-b").is_ok());
        assert!(check_name(&"a".repeat(MAX_NAME_LEN)).is_ok());
        let err = check_name(&"a".repeat(MAX_NAME_LEN + 1)).unwrap_err();
        assert!(err.to_string().contains("256 characters long"), "{err}");
        for bad in ["a", "-ab", "a/b", "a b", "é1"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hostnames_and_labels() {
        assert!(check_hostname(&"h".repeat(64)).is_ok());
        let err = check_hostname(&"h".repeat(65)).unwrap_err().to_string();
        assert!(err.contains("65 characters"), "{err}");
        assert!(check_labels(&["a=1".into(), "b".into(), "c=".into()]).is_ok());
        for bad in ["=x", "", " =x"] {
            assert!(check_labels(&[bad.to_string()]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn targets_are_cleaned_and_kept_off_proc_and_sys() {
        assert_eq!(clean_target("/a/./b/../c/"), Path::new("/a/c"));
        assert_eq!(clean_target("//x"), Path::new("/x"));
        assert!(check_target("/data", "s").is_ok());
        assert!(check_target("/process", "s").is_ok());
        assert!(check_target("/system", "s").is_ok());
        for bad in [
            "/proc",
            "/proc/sys",
            "/sys",
            "/sys/fs/cgroup",
            "/x/../proc",
            "//sys/",
        ] {
            let err = check_target(bad, "s").unwrap_err().to_string();
            assert!(err.contains("kernel file system"), "{bad}: {err}");
        }
        for bad in ["rel", "/", "/.."] {
            assert!(check_target(bad, "s").is_err(), "{bad}");
        }
    }

    #[test]
    fn one_mount_per_target() {
        assert!(check_duplicate_targets(&[tmpfs("/a"), tmpfs("/b")]).is_ok());
        let err = check_duplicate_targets(&[tmpfs("/a"), tmpfs("/b"), tmpfs("/a/")]).unwrap_err();
        assert!(
            err.to_string().contains("duplicate mount point: /a"),
            "{err}"
        );
    }
}
