//! pasta and slirp4netns: the choice between them, their command lines, starting one for a
//! container's network namespace and knowing when the namespace is ready.
//!
//! pasta needs no readiness signal of its own: it configures the namespace's interface
//! (addresses, then routes) before it sets up its flow tables, and packets the container sends
//! meanwhile wait in the tap device's queue, so the container may start once the default
//! routes are there, some 10 ms before pasta would write its PID file. slirp4netns says so on
//! its ready descriptor; its published ports are added through its API socket afterwards.

use std::fs;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};

use super::error::{Helper, NetworkError};
use super::plan::{Plan, UserMode};
use super::ports::{self, Binding, Limits, PortSpec, Protocol, Range};
use super::probe::{self, Installed};

/// How long a helper may take to make the namespace ready.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Descriptors the helper finds its namespace, ready pipe and exit pipe on.
const NETNS_FD: i32 = 3;
const READY_FD: i32 = 4;
const EXIT_FD: i32 = 5;

/// What skiff passes to pasta itself, which the user's options may not repeat.
const PASTA_OWN: [&str; 10] = [
    "--netns",
    "--userns",
    "--netns-only",
    "-f",
    "--foreground",
    "-P",
    "--pid",
    "--config-net",
    "--runas",
    "--no-netns-quit",
];
/// What pasta must have for skiff to drive it.
const PASTA_NEEDS: [&str; 8] = [
    "--netns",
    "--config-net",
    "-f",
    "-t",
    "-u",
    "-T",
    "-U",
    "--runas",
];
const SLIRP_NEEDS: [&str; 5] = [
    "--netns-type",
    "--ready-fd",
    "--exit-fd",
    "--api-socket",
    "--configure",
];
const SLIRP_KEYS: [&str; 7] = [
    "allow_host_loopback",
    "cidr",
    "enable_ipv6",
    "mtu",
    "outbound_addr",
    "outbound_addr6",
    "port_handler",
];
const MTU: u32 = 65520;

/// The mode `--network VALUE` names, when it is a user-mode one (None: another mode).
pub fn parse_mode(value: &str) -> Option<Result<UserMode, NetworkError>> {
    let (name, options) = match value.split_once(':') {
        Some((n, o)) => (n, Some(o)),
        None => (value, None),
    };
    let helper = match name {
        "bridge" | "default" | "private" => {
            if options.is_some() {
                return Some(Err(NetworkError::Invalid(format!(
                    "--network {value}: the default network takes no options (use pasta:OPTIONS \
                     or slirp4netns:OPTIONS)"
                ))));
            }
            None
        }
        "pasta" => Some(Helper::Pasta),
        "slirp4netns" => Some(Helper::Slirp4netns),
        _ => return None,
    };
    let options: Vec<String> = options
        .unwrap_or("")
        .split(',')
        .filter(|o| !o.is_empty())
        .map(str::to_string)
        .collect();
    let mode = UserMode { helper, options };
    Some(check_options(&mode).map(|()| mode))
}

/// The options of `--network pasta:…|slirp4netns:…` that can be checked without the binary.
pub(super) fn check_options(mode: &UserMode) -> Result<(), NetworkError> {
    match mode.helper {
        None => Ok(()),
        Some(Helper::Pasta) => {
            for o in mode.options.iter().filter(|o| o.starts_with('-')) {
                let name = o.split('=').next().unwrap_or(o);
                if PASTA_OWN.contains(&name) {
                    return Err(NetworkError::Invalid(format!(
                        "--network pasta: {name} is set by skiff itself; leave it out"
                    )));
                }
            }
            Ok(())
        }
        Some(Helper::Slirp4netns) => {
            for o in &mode.options {
                let (key, value) = o.split_once('=').ok_or_else(|| {
                    NetworkError::Invalid(format!(
                        "--network slirp4netns: '{o}' is not KEY=VALUE (keys: {})",
                        SLIRP_KEYS.join(", ")
                    ))
                })?;
                let bad = |why: &str| {
                    Err(NetworkError::Invalid(format!(
                        "--network slirp4netns: {key}={value}: {why}"
                    )))
                };
                match key {
                    "allow_host_loopback" | "enable_ipv6" if !matches!(value, "true" | "false") => {
                        return bad("true or false");
                    }
                    "mtu" if !matches!(value.parse::<u32>(), Ok(68..=65521)) => {
                        return bad("a number from 68 to 65521");
                    }
                    "cidr" if parse_cidr(value).is_none() => {
                        return bad("an IPv4 CIDR like 10.0.2.0/24")
                    }
                    "outbound_addr" | "outbound_addr6" if value.is_empty() => {
                        return bad("an address or interface")
                    }
                    "port_handler" if value == "rootlesskit" => {
                        return Err(NetworkError::NotSupported(
                            "--network slirp4netns:port_handler=rootlesskit".into(),
                        ))
                    }
                    "port_handler" if value != "slirp4netns" => return bad("slirp4netns"),
                    k if !SLIRP_KEYS.contains(&k) => {
                        return Err(NetworkError::Invalid(format!(
                            "--network slirp4netns: unknown option '{k}' (keys: {})",
                            SLIRP_KEYS.join(", ")
                        )))
                    }
                    _ => {}
                }
            }
            Ok(())
        }
    }
}

fn parse_cidr(text: &str) -> Option<(Ipv4Addr, u8)> {
    let (ip, bits) = text.split_once('/')?;
    let bits: u8 = bits.parse().ok().filter(|b| *b <= 30)?;
    Some((ip.parse().ok()?, bits))
}

/// The helper a start uses: the forced one, or pasta where it is installed with what skiff
/// needs and the host has a default route (it copies that interface), else slirp4netns. The
/// third value is a notice for the user when pasta is there but cannot be used.
pub(super) fn usable(
    forced: Option<Helper>,
    cache_dir: &Path,
) -> Result<(Helper, Installed, Option<String>), NetworkError> {
    let pasta = || -> Result<Installed, String> {
        let found = probe::installed("pasta", cache_dir)
            .ok_or_else(|| "pasta is not installed (Debian's package passt)".to_string())?;
        if let Some(missing) = PASTA_NEEDS.iter().find(|o| !found.has(o)) {
            return Err(format!(
                "the installed pasta ({}) has no {missing} option; a newer passt is needed",
                found.path.display()
            ));
        }
        if host_default_route().is_none() && !host_has_ipv6_default_route() {
            return Err(
                "pasta needs a host interface with a default route, and this host has none".into(),
            );
        }
        Ok(found)
    };
    let slirp = || -> Result<Installed, String> {
        let found = probe::installed("slirp4netns", cache_dir)
            .ok_or_else(|| "slirp4netns is not installed".to_string())?;
        if let Some(missing) = SLIRP_NEEDS.iter().find(|o| !found.has(o)) {
            return Err(format!(
                "the installed slirp4netns ({}) has no {missing} option; version 1.1 or later is needed",
                found.path.display()
            ));
        }
        Ok(found)
    };
    match forced {
        Some(Helper::Pasta) => pasta()
            .map(|i| (Helper::Pasta, i, None))
            .map_err(|why| NetworkError::Unavailable(format!("--network pasta: {why}"))),
        Some(Helper::Slirp4netns) => slirp()
            .map(|i| (Helper::Slirp4netns, i, None))
            .map_err(|why| NetworkError::Unavailable(format!("--network slirp4netns: {why}"))),
        None => match pasta() {
            Ok(i) => Ok((Helper::Pasta, i, None)),
            Err(pasta_why) => match slirp() {
                Ok(i) => {
                    // Where pasta is simply absent, slirp4netns is what the machine has.
                    let notice = probe::installed("pasta", cache_dir)
                        .map(|_| format!("{pasta_why}: using slirp4netns"));
                    Ok((Helper::Slirp4netns, i, notice))
                }
                Err(slirp_why) => Err(NetworkError::Unavailable(format!(
                    "no network helper for the default network: {pasta_why}, and {slirp_why}; \
                     install passt or slirp4netns, or use --network none or --network host"
                ))),
            },
        },
    }
}

/// The machine's helper for the default network, as `info` shows it: pasta where installed with
/// what skiff needs and the host has a default route, slirp4netns otherwise.
pub fn default_helper(cache_dir: &std::path::Path) -> Option<(Helper, Installed)> {
    usable(None, cache_dir).ok().map(|(h, i, _)| (h, i))
}

/// What a start would refuse: the options (pasta's checked against the installed binary,
/// which is probed only then), /dev/net/tun, the published ports (checked free and
/// allowed). Writes nothing but pasta's probe, and that only for pasta's own options.
pub fn check(
    mode: &UserMode,
    specs: &[PortSpec],
    cache_dir: &Path,
    rootless: bool,
) -> Result<(), NetworkError> {
    check_options(mode)?;
    check_tun()?;
    let bindings = ports::bind(specs, &[], &Limits::of_host(rootless))?;
    if mode.helper == Some(Helper::Pasta) && !mode.options.is_empty() {
        let (_, installed, _) = usable(Some(Helper::Pasta), cache_dir)?;
        pasta_plan(
            &mode.options,
            &installed,
            bindings,
            Path::new("/"),
            rootless,
        )?;
    }
    Ok(())
}

/// Makes the plan of one start. `run_dir`: the container's runtime directory; `rootless`: the
/// helper runs as root of the user's namespace; `notice`: told when the helper is not the one
/// the user would expect (pasta unusable here).
pub fn plan(
    mode: &UserMode,
    specs: &[PortSpec],
    publish_all: &[(Range, Protocol)],
    run_dir: &Path,
    cache_dir: &Path,
    rootless: bool,
    notice: &dyn Fn(String),
) -> Result<Plan, NetworkError> {
    check_options(mode)?;
    check_tun()?;
    let (helper, installed, why) = usable(mode.helper, cache_dir)?;
    if let Some(why) = why {
        notice(why);
    }
    let bindings = ports::bind(specs, publish_all, &Limits::of_host(rootless))?;
    check_udp(helper, &mode.options, &bindings, notice)?;
    let mut plan = match helper {
        Helper::Pasta => pasta_plan(
            &mode.options,
            &installed,
            bindings.clone(),
            run_dir,
            rootless,
        )?,
        Helper::Slirp4netns => slirp_plan(&mode.options, &installed, bindings.clone(), run_dir),
    };
    if mode.helper.is_none() && helper == Helper::Pasta {
        if let Ok((_, slirp, _)) = usable(Some(Helper::Slirp4netns), cache_dir) {
            plan.fallback = Some(Box::new(slirp_plan(&[], &slirp, bindings, run_dir)));
        }
    }
    Ok(plan)
}

/// What each helper does not carry of published UDP ports, found by the tests here:
/// slirp4netns drops the container's replies as traffic to the host's loopback unless that is
/// allowed; this pasta (2023) loses them for host-loopback clients when the port numbers differ.
fn check_udp(
    helper: Helper,
    options: &[String],
    bindings: &[Binding],
    notice: &dyn Fn(String),
) -> Result<(), NetworkError> {
    let udp: Vec<&Binding> = bindings
        .iter()
        .filter(|b| b.protocol == Protocol::Udp)
        .collect();
    match helper {
        Helper::Slirp4netns
            if !udp.is_empty() && !options.iter().any(|o| o == "allow_host_loopback=true") =>
        {
            Err(NetworkError::Invalid(format!(
                "slirp4netns cannot publish UDP port {} unless the container may reach the \
                 host's loopback (it drops the replies otherwise): use pasta, or \
                 --network slirp4netns:allow_host_loopback=true",
                udp[0].container_port
            )))
        }
        Helper::Pasta => {
            if let Some(b) = udp.iter().find(|b| b.host_port != b.container_port) {
                notice(format!(
                    "this pasta loses UDP replies to clients on the host's loopback when the \
                     host port ({}) is not the container's ({}): publish UDP on the same number \
                     where local clients need it",
                    b.host_port, b.container_port
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Both helpers make the container's interface on /dev/net/tun, mode 0600 on a machine
/// without udev.
fn check_tun() -> Result<(), NetworkError> {
    use rustix::fs::{access, Access};
    if !Path::new("/dev/net/tun").exists() {
        return Err(NetworkError::Unavailable(
            "/dev/net/tun is missing: load the tun module (modprobe tun), or use --network none \
             or --network host"
                .into(),
        ));
    }
    access("/dev/net/tun", Access::READ_OK | Access::WRITE_OK).map_err(|_| {
        NetworkError::Unavailable(
            "/dev/net/tun is not accessible to this user (it is mode 0600 where udev does not \
             run): have an administrator run 'chmod 0666 /dev/net/tun', or use --network none \
             or --network host"
                .into(),
        )
    })
}

fn pasta_plan(
    user: &[String],
    installed: &Installed,
    bindings: Vec<Binding>,
    run_dir: &Path,
    rootless: bool,
) -> Result<Plan, NetworkError> {
    // `--map-gw` is Podman's word for pasta's default; without it the gateway is not the host.
    let map_gw = user.iter().any(|o| o == "--map-gw");
    let user: Vec<&String> = user.iter().filter(|o| *o != "--map-gw").collect();
    for o in user.iter().filter(|o| o.starts_with('-')) {
        let name = o.split('=').next().unwrap_or(o);
        if !installed.has(name) {
            return Err(NetworkError::Invalid(format!(
                "--network pasta: the installed pasta ({}) has no option {name}",
                installed.path.display()
            )));
        }
    }
    let given = |a: &str, b: &str| user.iter().any(|o| o.as_str() == a || o.as_str() == b);
    let mut args: Vec<String> = ["-f", "-q", "--config-net"].map(String::from).to_vec();
    if rootless {
        // Root of the user's namespace is the user; pasta's default, nobody, may not be mapped.
        args.extend(["--runas".into(), "0".into()]);
    }
    if !map_gw && installed.has("--no-map-gw") {
        args.push("--no-map-gw".into());
    }
    for (flag, long, protocol) in [
        ("-t", "--tcp-ports", Protocol::Tcp),
        ("-u", "--udp-ports", Protocol::Udp),
    ] {
        if given(flag, long) {
            continue;
        }
        let specs: Vec<String> = ports::runs(&bindings)
            .into_iter()
            .filter(|(b, _)| b.protocol == protocol)
            .map(|(b, n)| pasta_port(&b, n))
            .collect();
        if specs.is_empty() {
            args.extend([flag.into(), "none".into()]);
        }
        // One option each: pasta takes no address inside a comma-separated list.
        for spec in specs {
            args.extend([flag.into(), spec]);
        }
    }
    for (flag, long) in [("-T", "--tcp-ns"), ("-U", "--udp-ns")] {
        if !given(flag, long) {
            args.extend([flag.into(), "none".into()]);
        }
    }
    args.extend(user.iter().map(|o| o.to_string()));
    let ipv4_only = given("-4", "--ipv4-only");
    let host_address = if map_gw {
        host_default_route()
    } else {
        // pasta gives the container the host's own address: the host is not reached through
        // it (what Podman 5.0 does with this pasta, which lacks --map-guest-addr).
        host_route_address()
    }
    .map(IpAddr::V4);
    Ok(Plan {
        helper: Helper::Pasta,
        program: installed.path.clone(),
        args,
        bindings,
        host_address,
        ipv6: !ipv4_only && host_has_ipv6_default_route(),
        log: run_dir.join("network.log"),
        api_socket: None,
        fallback: None,
    })
}

/// pasta's form of a run of bindings: [ADDR/]HOST[-END]:CTR[-END].
fn pasta_port(b: &Binding, n: u16) -> String {
    let range = |first: u16| {
        if n > 1 {
            format!("{first}-{}", first + (n - 1))
        } else {
            first.to_string()
        }
    };
    let addr = b.host_ip.map(|ip| format!("{ip}/")).unwrap_or_default();
    format!("{addr}{}:{}", range(b.host_port), range(b.container_port))
}

fn slirp_plan(
    user: &[String],
    installed: &Installed,
    mut bindings: Vec<Binding>,
    run_dir: &Path,
) -> Plan {
    // slirp4netns binds what it is given: "every interface" is IPv4's alone.
    for b in &mut bindings {
        b.host_ip.get_or_insert(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    }
    let value = |key: &str| {
        user.iter()
            .rev()
            .filter_map(|o| o.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string())
    };
    let mtu = value("mtu").unwrap_or_else(|| MTU.to_string());
    let mut args = vec!["--configure".to_string(), format!("--mtu={mtu}")];
    if value("allow_host_loopback").as_deref() != Some("true") {
        args.push("--disable-host-loopback".into());
    }
    if value("enable_ipv6").as_deref() == Some("true") {
        args.push("--enable-ipv6".into());
    }
    let cidr = value("cidr");
    if let Some(c) = &cidr {
        args.push(format!("--cidr={c}"));
    }
    for key in ["outbound_addr", "outbound_addr6"] {
        if let Some(v) = value(key) {
            args.push(format!("--{}={v}", key.replace('_', "-")));
        }
    }
    let (net, _) = cidr
        .as_deref()
        .and_then(parse_cidr)
        .unwrap_or((Ipv4Addr::new(10, 0, 2, 0), 24));
    // slirp4netns's host is the network's .2.
    let host = Ipv4Addr::from(u32::from(net) + 2);
    Plan {
        helper: Helper::Slirp4netns,
        program: installed.path.clone(),
        args,
        bindings,
        host_address: Some(IpAddr::V4(host)),
        ipv6: false,
        log: run_dir.join("network.log"),
        api_socket: Some(run_dir.join("slirp.sock")),
        fallback: None,
    }
}

/// The host's IPv4 default gateway.
fn host_default_route() -> Option<Ipv4Addr> {
    ipv4_default_routes(&fs::read_to_string("/proc/net/route").ok()?)
        .into_iter()
        .next()
}

/// The host's address on the interface of its default route: the source address the kernel
/// picks towards the gateway (a UDP connect sends nothing).
fn host_route_address() -> Option<Ipv4Addr> {
    let gateway = host_default_route()?;
    let s = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    s.connect((gateway, 9)).ok()?;
    match s.local_addr().ok()?.ip() {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(_) => None,
    }
}

/// The gateways of a /proc/net/route table's default routes (on any interface but lo).
fn ipv4_default_routes(table: &str) -> Vec<Ipv4Addr> {
    table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() > 7 && f[0] != "lo" && f[1] == "00000000" && f[7] == "00000000")
        .filter_map(|f| u32::from_str_radix(f[2], 16).ok())
        .map(|g| Ipv4Addr::from(u32::from_be(g)))
        .collect()
}

/// Whether a /proc/net/ipv6_route table has a default route on an interface but lo.
fn has_ipv6_default_route(table: &str) -> bool {
    table.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() >= 10 && f[0].bytes().all(|b| b == b'0') && f[1] == "00" && f[9] != "lo"
    })
}

fn host_has_ipv6_default_route() -> bool {
    fs::read_to_string("/proc/net/ipv6_route")
        .map(|t| has_ipv6_default_route(&t))
        .unwrap_or(false)
}

/// A helper running for a container's network namespace.
pub struct Running {
    pub helper: Helper,
    child: Child,
    pidfd: OwnedFd,
    ready: Option<OwnedFd>,
    /// slirp4netns exits when this closes.
    exit: Option<OwnedFd>,
    plan: Plan,
}

/// Starts the plan's helper for `netns` (the container's network namespace). Call it from the
/// host's network: the helper's outside is the network of whoever starts it.
pub fn start(plan: &Plan, netns: BorrowedFd<'_>) -> Result<Running, NetworkError> {
    let failed = |e: std::io::Error| NetworkError::Helper {
        helper: plan.helper,
        message: e.to_string(),
    };
    let log = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&plan.log)
        .map_err(failed)?;
    let mut cmd = Command::new(&plan.program);
    cmd.args(&plan.args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    let netns_path = format!("/proc/self/fd/{NETNS_FD}");
    let (mut ready, mut exit) = (None, None);
    let mut passed: Vec<(OwnedFd, i32)> =
        vec![(netns.try_clone_to_owned().map_err(failed)?, NETNS_FD)];
    match plan.helper {
        Helper::Pasta => {
            cmd.args(["--netns", &netns_path]);
        }
        Helper::Slirp4netns => {
            let (ready_r, ready_w) = rustix::pipe::pipe().map_err(|e| failed(e.into()))?;
            let (exit_r, exit_w) = rustix::pipe::pipe().map_err(|e| failed(e.into()))?;
            passed.push((ready_w, READY_FD));
            passed.push((exit_r, EXIT_FD));
            ready = Some(ready_r);
            exit = Some(exit_w);
            if let Some(socket) = &plan.api_socket {
                let _ = fs::remove_file(socket);
                // Relative to its working directory: the full path may be longer than a
                // socket address holds (108 bytes).
                if let (Some(dir), Some(name)) = (socket.parent(), socket.file_name()) {
                    cmd.current_dir(dir);
                    cmd.arg(format!("--api-socket={}", name.to_string_lossy()));
                }
            }
            cmd.args([
                format!("--ready-fd={READY_FD}"),
                format!("--exit-fd={EXIT_FD}"),
                "--netns-type=path".into(),
                netns_path,
                "tap0".into(),
            ]);
        }
    }
    let sources: Vec<(i32, i32)> = passed
        .iter()
        .map(|(fd, to)| (fd.as_raw_fd(), *to))
        .collect();
    // SAFETY: between fork and exec only async-signal-safe calls: fcntl(2), dup2(2) and
    // close_range(2) on descriptors this process owns, and prctl(2) for the parent-death
    // signal.
    unsafe {
        cmd.pre_exec(move || {
            // Out of the way of the targets first: a source may sit on another's number.
            let mut high = Vec::with_capacity(sources.len());
            for (fd, to) in &sources {
                let moved = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 64);
                if moved < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                high.push((moved, *to));
            }
            for (fd, to) in high {
                if libc::dup2(fd, to) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            // Nothing else of the monitor's (a status socket handed down without
            // close-on-exec) reaches the helper.
            libc::syscall(libc::SYS_close_range, EXIT_FD + 1, u32::MAX, 0u32);
            // The helper goes with the monitor, even one killed with SIGKILL.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(failed)?;
    drop(passed);
    let pid = rustix::process::Pid::from_raw(child.id() as i32)
        .ok_or_else(|| failed(std::io::Error::other("no pid")))?;
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
        .map_err(|e| failed(e.into()))?;
    Ok(Running {
        helper: plan.helper,
        child,
        pidfd,
        ready,
        exit,
        plan: plan.clone(),
    })
}

impl Running {
    pub fn bindings(&self) -> &[Binding] {
        &self.plan.bindings
    }

    pub fn host_address(&self) -> Option<IpAddr> {
        self.plan.host_address
    }

    /// Waits until the container's network (`netns`) works. pasta's routes are looked at from
    /// a thread that joins the namespace for the purpose: the caller stays where it is (the
    /// host's network, should a fallback helper have to start from there).
    pub fn wait_ready(&mut self, netns: BorrowedFd<'_>) -> Result<(), NetworkError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        match self.helper {
            Helper::Pasta => std::thread::scope(|scope| {
                scope
                    .spawn(|| {
                        rustix::thread::move_into_link_name_space(
                            netns,
                            Some(rustix::thread::LinkNameSpaceType::Network),
                        )
                        .map_err(|e| self.io_failure(e.into()))?;
                        self.wait_for_routes(deadline)
                    })
                    .join()
                    .unwrap_or_else(|_| {
                        Err(NetworkError::Helper {
                            helper: Helper::Pasta,
                            message: "waiting for its routes panicked".into(),
                        })
                    })
            }),
            Helper::Slirp4netns => {
                self.wait_for_ready_fd(deadline)?;
                self.add_slirp_ports()
            }
        }
    }

    fn failure(&mut self, fallback: &str) -> NetworkError {
        // Its last words, without the noise of a missing syslog.
        let _ = self.child.try_wait();
        let text = fs::read_to_string(&self.plan.log).unwrap_or_default();
        let message = text
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty() && !l.starts_with("Failed to send") && !l.contains("syslog"))
            .map(str::to_string)
            .unwrap_or_else(|| fallback.to_string());
        NetworkError::Helper {
            helper: self.helper,
            message,
        }
    }

    /// Polls `fd` and the helper's pidfd until `fd` is readable; false if the helper ended.
    fn wait_readable(
        &mut self,
        fd: BorrowedFd<'_>,
        deadline: Instant,
    ) -> Result<bool, NetworkError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let _ = rustix::process::pidfd_send_signal(&self.pidfd, rustix::process::Signal::KILL);
            return Err(self.failure(&format!("not ready after {} s", READY_TIMEOUT.as_secs())));
        }
        let timeout = Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        let mut fds = [
            PollFd::new(&fd, PollFlags::IN),
            PollFd::new(&self.pidfd, PollFlags::IN),
        ];
        let _ = poll(&mut fds, Some(&timeout));
        if !fds[1].revents().is_empty() {
            return Ok(false);
        }
        Ok(!fds[0].revents().is_empty())
    }

    fn wait_for_routes(&mut self, deadline: Instant) -> Result<(), NetworkError> {
        use rustix::net::{netlink, AddressFamily, SocketFlags, SocketType};
        const RTMGRP_IPV4_ROUTE: u32 = 0x40;
        const RTMGRP_IPV6_ROUTE: u32 = 0x400;
        let socket = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            None,
        )
        .map_err(|e| self.io_failure(e.into()))?;
        rustix::net::bind(
            &socket,
            &netlink::SocketAddrNetlink::new(0, RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE),
        )
        .map_err(|e| self.io_failure(e.into()))?;
        let mut buf = vec![0u8; 16384];
        loop {
            // Looked at after subscribing: a route added in between is seen one way or the other.
            let v4 = fs::read_to_string("/proc/thread-self/net/route")
                .map(|t| !ipv4_default_routes(&t).is_empty())
                .unwrap_or(false);
            let v6 = !self.plan.ipv6
                || fs::read_to_string("/proc/thread-self/net/ipv6_route")
                    .map(|t| has_ipv6_default_route(&t))
                    .unwrap_or(false);
            if v4 && v6 {
                return Ok(());
            }
            if !self.wait_readable(socket.as_fd(), deadline)? {
                return Err(self.failure("it exited"));
            }
            while rustix::io::read(&socket, &mut buf).is_ok() {}
        }
    }

    fn wait_for_ready_fd(&mut self, deadline: Instant) -> Result<(), NetworkError> {
        let Some(ready) = self.ready.take() else {
            return Ok(());
        };
        loop {
            if !self.wait_readable(ready.as_fd(), deadline)? {
                return Err(self.failure("it exited"));
            }
            let mut byte = [0u8; 1];
            match rustix::io::read(&ready, &mut byte) {
                Ok(1) => return Ok(()),
                Ok(_) => return Err(self.failure("it exited before the network was ready")),
                Err(rustix::io::Errno::INTR) | Err(rustix::io::Errno::AGAIN) => continue,
                Err(e) => return Err(self.io_failure(e.into())),
            }
        }
    }

    fn io_failure(&self, e: std::io::Error) -> NetworkError {
        NetworkError::Helper {
            helper: self.helper,
            message: e.to_string(),
        }
    }

    /// slirp4netns's published ports, one `add_hostfwd` request each.
    fn add_slirp_ports(&mut self) -> Result<(), NetworkError> {
        let Some(socket) = self.plan.api_socket.clone() else {
            return Ok(());
        };
        for b in self.plan.bindings.clone() {
            let host = b
                .host_ip
                .map(|ip| ip.to_string())
                .unwrap_or_else(|| "0.0.0.0".into());
            let request = serde_json::json!({
                "execute": "add_hostfwd",
                "arguments": {
                    "proto": b.protocol.name(),
                    "host_addr": host,
                    "host_port": b.host_port,
                    "guest_port": b.container_port,
                }
            });
            let answer = (|| -> std::io::Result<String> {
                let mut s = connect_short(&socket)?;
                s.set_read_timeout(Some(READY_TIMEOUT))?;
                s.write_all(request.to_string().as_bytes())?;
                s.shutdown(std::net::Shutdown::Write)?;
                let mut text = String::new();
                s.read_to_string(&mut text)?;
                Ok(text)
            })()
            .map_err(|e| self.io_failure(e))?;
            let reply: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
            if reply.get("return").is_none() {
                let why = reply
                    .pointer("/error/desc")
                    .and_then(|d| d.as_str())
                    .unwrap_or(answer.trim());
                return Err(NetworkError::PortInUse(format!(
                    "publishing {host}:{}->{}/{}: {why}",
                    b.host_port, b.container_port, b.protocol
                )));
            }
        }
        Ok(())
    }
}

impl Running {
    /// Ends the helper without waiting for it.
    pub fn kill(&mut self) {
        drop(self.exit.take());
        let _ = rustix::process::pidfd_send_signal(&self.pidfd, rustix::process::Signal::KILL);
    }

    /// Ends the helper and waits until it is gone (its host ports free again), at most a
    /// second.
    pub fn finish(mut self) {
        self.kill();
        let mut fds = [PollFd::new(&self.pidfd, PollFlags::IN)];
        let timeout = Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        };
        let _ = poll(&mut fds, Some(&timeout));
        let _ = self.child.try_wait();
    }
}

/// Connects to a Unix socket through a descriptor of its directory (see `start`).
fn connect_short(path: &Path) -> std::io::Result<UnixStream> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return UnixStream::connect(path);
    };
    let dir = rustix::fs::open(
        dir,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    UnixStream::connect(format!(
        "/proc/self/fd/{}/{}",
        dir.as_raw_fd(),
        name.to_string_lossy()
    ))
}

impl Drop for Running {
    fn drop(&mut self) {
        // Nothing of the helper's outlives the container: no state to save, so no SIGTERM
        // (pasta, PID 1 of a namespace of its own, would not even take it). Not waited for:
        // closing the container's interface takes the dying helper some 20 ms, and the
        // monitor, about to exit itself, leaves the zombie to the system's init.
        self.kill();
        let _ = self.child.try_wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_routes_are_found_in_the_tables() {
        let v4 =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                  eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                  eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        assert_eq!(ipv4_default_routes(v4), vec![Ipv4Addr::new(192, 0, 2, 1)]);
        let none = "Iface\tDestination\tGateway\n";
        assert!(ipv4_default_routes(none).is_empty());
        let v6 = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 \
                  00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n";
        assert!(
            !has_ipv6_default_route(v6),
            "lo's unreachable route is no way out"
        );
        let v6 = format!(
            "{v6}00000000000000000000000000000000 00 00000000000000000000000000000000 00 \
             fd000000000000000000000000000001 00000400 00000001 00000000 00000003     eth0\n"
        );
        assert!(has_ipv6_default_route(&v6));
    }

    #[test]
    fn pasta_takes_port_runs_and_podman_options() {
        let b = |h, c, ip: Option<&str>| Binding {
            protocol: Protocol::Tcp,
            container_port: c,
            host_ip: ip.map(|i| i.parse().unwrap()),
            host_port: h,
        };
        assert_eq!(pasta_port(&b(8000, 80, None), 3), "8000-8002:80-82");
        assert_eq!(
            pasta_port(&b(8080, 80, Some("127.0.0.1")), 1),
            "127.0.0.1/8080:80"
        );
        assert_eq!(pasta_port(&b(8080, 80, Some("::1")), 1), "::1/8080:80");
        let own = UserMode {
            helper: Some(Helper::Pasta),
            options: vec!["--netns".into(), "x".into()],
        };
        assert!(check_options(&own)
            .unwrap_err()
            .to_string()
            .contains("set by skiff"));
        let slirp = |o: &str| UserMode {
            helper: Some(Helper::Slirp4netns),
            options: vec![o.into()],
        };
        assert!(check_options(&slirp("allow_host_loopback=true")).is_ok());
        assert!(check_options(&slirp("mtu=9000")).is_ok());
        assert!(check_options(&slirp("mtu=big")).is_err());
        assert!(check_options(&slirp("frobnicate=1")).is_err());
        assert!(matches!(
            check_options(&slirp("port_handler=rootlesskit")),
            Err(NetworkError::NotSupported(_))
        ));
    }

    #[test]
    fn slirp_options_become_its_flags() {
        let installed = Installed {
            path: "/usr/bin/slirp4netns".into(),
            size: 0,
            mtime: 0,
            options: Default::default(),
        };
        let dir = Path::new("/run/x");
        let plan = slirp_plan(&[], &installed, vec![], dir);
        assert!(plan.args.contains(&"--disable-host-loopback".to_string()));
        assert!(plan.args.contains(&"--mtu=65520".to_string()));
        assert_eq!(plan.host_address, Some("10.0.2.2".parse().unwrap()));
        let plan = slirp_plan(
            &["allow_host_loopback=true".into(), "cidr=10.9.0.0/24".into()],
            &installed,
            vec![],
            dir,
        );
        assert!(!plan.args.contains(&"--disable-host-loopback".to_string()));
        assert_eq!(plan.host_address, Some("10.9.0.2".parse().unwrap()));
    }
}
