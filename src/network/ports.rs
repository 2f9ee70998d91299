//! Published ports: `-p [IP:][HOSTPORT:]CTRPORT[/tcp|/udp]` as Docker reads it (ranges, a
//! random host port when none is given, IPv6 addresses in brackets), and the bindings one
//! start makes of them: host ports checked free and allowed before any helper starts, so that
//! a bad or taken port is one clear error with nothing left running.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener, UdpSocket};

use serde::{Deserialize, Serialize};

use super::error::NetworkError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }

    fn parse(text: &str, whole: &str) -> Result<Protocol, NetworkError> {
        match text.to_ascii_lowercase().as_str() {
            "tcp" => Ok(Protocol::Tcp),
            "udp" => Ok(Protocol::Udp),
            "sctp" => Err(NetworkError::NotSupported(format!(
                "publishing SCTP ports ('{whole}')"
            ))),
            _ => Err(NetworkError::Invalid(format!(
                "invalid protocol '{text}' in '{whole}': use tcp or udp"
            ))),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An inclusive range of ports (one port: `first == last`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub first: u16,
    pub last: u16,
}

impl Range {
    fn len(self) -> u32 {
        u32::from(self.last - self.first) + 1
    }

    fn ports(self) -> impl Iterator<Item = u16> {
        self.first..=self.last
    }
}

/// One `-p` as the user gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortSpec {
    /// None: every interface (Docker's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<IpAddr>,
    /// None: a free port chosen at each start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<Range>,
    pub container: Range,
    pub protocol: Protocol,
}

/// One published port of a running container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Binding {
    pub protocol: Protocol,
    pub container_port: u16,
    /// None: every interface, IPv4 and IPv6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
}

impl Binding {
    /// The address the helper binds on the host for the check (every interface: IPv4's).
    fn check_address(&self) -> IpAddr {
        self.host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }
}

/// Reads one `-p` value.
pub fn parse_publish(text: &str) -> Result<PortSpec, NetworkError> {
    let invalid =
        |why: String| NetworkError::Invalid(format!("invalid port mapping '{text}': {why}"));
    let (rest, protocol) = match text.rsplit_once('/') {
        Some((rest, proto)) => (rest, Protocol::parse(proto, text)?),
        None => (text, Protocol::Tcp),
    };
    // An IPv6 address comes in brackets: [::1]:8080:80.
    let (host_ip, ports) = if let Some(after) = rest.strip_prefix('[') {
        let (ip, ports) = after
            .split_once("]:")
            .ok_or_else(|| invalid("an IPv6 address goes in brackets: [::1]:8080:80".into()))?;
        let ip: Ipv6Addr = ip
            .parse()
            .map_err(|_| invalid(format!("'{ip}' is not an IPv6 address")))?;
        (Some(IpAddr::V6(ip)), ports.split(':').collect::<Vec<_>>())
    } else {
        let parts: Vec<&str> = rest.split(':').collect();
        match parts.len() {
            1 | 2 => (None, parts),
            3 => {
                let ip = parts[0];
                let ip = if ip.is_empty() {
                    None
                } else {
                    Some(IpAddr::V4(ip.parse().map_err(|_| {
                        invalid(format!(
                            "'{ip}' is not an IP address (an IPv6 one goes in brackets)"
                        ))
                    })?))
                };
                (ip, parts[1..].to_vec())
            }
            _ => {
                return Err(invalid(
                    "use [IP:][HOSTPORT:]CONTAINERPORT[/PROTOCOL]".into(),
                ))
            }
        }
    };
    let (host, container) = match ports.as_slice() {
        [container] => (None, *container),
        [host, container] => (Some(*host), *container),
        _ => {
            return Err(invalid(
                "use [IP:][HOSTPORT:]CONTAINERPORT[/PROTOCOL]".into(),
            ))
        }
    };
    let container = parse_range(container, "container port").map_err(invalid)?;
    let host = match host {
        None | Some("") => None,
        Some(h) => Some(parse_range(h, "host port").map_err(invalid)?),
    };
    if let Some(h) = host {
        if h.len() != container.len() && container.len() != 1 {
            return Err(invalid(
                "the host and container port ranges differ in length".into(),
            ));
        }
    }
    Ok(PortSpec {
        host_ip,
        host,
        container,
        protocol,
    })
}

/// `--expose PORT[-END][/PROTO]` and the image's `ExposedPorts` keys ("80/tcp").
pub fn parse_expose(text: &str) -> Result<(Range, Protocol), NetworkError> {
    let (ports, protocol) = match text.rsplit_once('/') {
        Some((p, proto)) => (p, Protocol::parse(proto, text)?),
        None => (text, Protocol::Tcp),
    };
    let range = parse_range(ports, "port")
        .map_err(|why| NetworkError::Invalid(format!("invalid exposed port '{text}': {why}")))?;
    Ok((range, protocol))
}

fn parse_range(text: &str, what: &str) -> Result<Range, String> {
    let port = |p: &str| -> Result<u16, String> {
        match p.parse::<u32>() {
            Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
            Ok(_) => Err(format!("{what} {p} is out of range (1-65535)")),
            Err(_) => Err(format!("{what} '{p}' is not a number")),
        }
    };
    let (first, last) = match text.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => {
            let p = port(text)?;
            (p, p)
        }
    };
    if last < first {
        return Err(format!("{what} range {text} ends before it starts"));
    }
    Ok(Range { first, last })
}

/// What the bindings of one start must respect.
pub struct Limits {
    /// Ports below it need privilege on the host (rootless: `ip_unprivileged_port_start`).
    pub unprivileged_start: u16,
}

impl Limits {
    /// The host's, for a rootless user (`rootless` false: root binds any port).
    pub fn of_host(rootless: bool) -> Limits {
        let start = if rootless {
            std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(1024)
        } else {
            0
        };
        Limits {
            unprivileged_start: start,
        }
    }
}

/// The bindings of one start: every spec's ports, with host ports chosen where none was given
/// and each checked free on the host. `exposed` (`-P`): published on random host ports too.
pub fn bind(
    specs: &[PortSpec],
    publish_all: &[(Range, Protocol)],
    limits: &Limits,
) -> Result<Vec<Binding>, NetworkError> {
    let mut out: Vec<Binding> = Vec::new();
    for spec in specs {
        match spec.host {
            Some(host) if host.len() == spec.container.len() => {
                for (h, c) in host.ports().zip(spec.container.ports()) {
                    out.push(Binding {
                        protocol: spec.protocol,
                        container_port: c,
                        host_ip: spec.host_ip,
                        host_port: h,
                    });
                }
            }
            // A host range for one container port: the first free one in it (Docker's).
            Some(host) => {
                let free = host.ports().find(|&p| {
                    let b = Binding {
                        protocol: spec.protocol,
                        container_port: spec.container.first,
                        host_ip: spec.host_ip,
                        host_port: p,
                    };
                    !out.iter().any(|o| same_host_port(o, &b)) && is_free(&b)
                });
                let Some(port) = free else {
                    return Err(NetworkError::PortInUse(format!(
                        "no free host port in {}-{} for {}/{}",
                        host.first, host.last, spec.container.first, spec.protocol
                    )));
                };
                out.push(Binding {
                    protocol: spec.protocol,
                    container_port: spec.container.first,
                    host_ip: spec.host_ip,
                    host_port: port,
                });
            }
            None => {
                for c in spec.container.ports() {
                    out.push(random(spec.protocol, c, spec.host_ip)?);
                }
            }
        }
    }
    for (range, protocol) in publish_all {
        for c in range.ports() {
            if !out
                .iter()
                .any(|b| b.container_port == c && b.protocol == *protocol)
            {
                out.push(random(*protocol, c, None)?);
            }
        }
    }
    for (i, b) in out.iter().enumerate() {
        if b.host_port < limits.unprivileged_start {
            return Err(NetworkError::Privileged {
                port: b.host_port,
                start: limits.unprivileged_start,
            });
        }
        if out[..i].iter().any(|o| same_host_port(o, b)) {
            return Err(NetworkError::Invalid(format!(
                "host port {}/{} is published twice",
                b.host_port, b.protocol
            )));
        }
        if !is_free(b) {
            return Err(NetworkError::PortInUse(format!(
                "Bind for {}:{} failed: port is already allocated (choose another host port, \
                 or stop what listens there)",
                b.check_address(),
                b.host_port
            )));
        }
    }
    out.sort();
    Ok(out)
}

fn same_host_port(a: &Binding, b: &Binding) -> bool {
    a.protocol == b.protocol
        && a.host_port == b.host_port
        && (a.host_ip.is_none() || b.host_ip.is_none() || a.host_ip == b.host_ip)
}

/// A port the kernel picks from its ephemeral range, as Docker takes one.
fn random(
    protocol: Protocol,
    container_port: u16,
    host_ip: Option<IpAddr>,
) -> Result<Binding, NetworkError> {
    let ip = host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let port = match protocol {
        Protocol::Tcp => TcpListener::bind((ip, 0)).and_then(|l| l.local_addr()),
        Protocol::Udp => UdpSocket::bind((ip, 0)).and_then(|s| s.local_addr()),
    }
    .map_err(|e| NetworkError::PortInUse(format!("choosing a free host port on {ip}: {e}")))?
    .port();
    Ok(Binding {
        protocol,
        container_port,
        host_ip,
        host_port: port,
    })
}

/// Whether the helper will be able to bind the binding's host port (nothing listens there).
fn is_free(b: &Binding) -> bool {
    let addr = (b.check_address(), b.host_port);
    match b.protocol {
        Protocol::Tcp => TcpListener::bind(addr).is_ok(),
        Protocol::Udp => UdpSocket::bind(addr).is_ok(),
    }
}

/// Consecutive bindings (host and container ports both one apart, same address and
/// protocol) as ranges: (first binding, count). What the helpers and Docker's PORTS column
/// take.
pub fn runs(bindings: &[Binding]) -> Vec<(Binding, u16)> {
    let mut out: Vec<(Binding, u16)> = Vec::new();
    for b in bindings {
        if let Some((first, n)) = out.last_mut() {
            if first.protocol == b.protocol
                && first.host_ip == b.host_ip
                && u32::from(first.host_port) + u32::from(*n) == u32::from(b.host_port)
                && u32::from(first.container_port) + u32::from(*n) == u32::from(b.container_port)
            {
                *n += 1;
                continue;
            }
        }
        out.push((*b, 1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> PortSpec {
        parse_publish(text).unwrap()
    }

    #[test]
    fn docker_forms_are_read() {
        let s = spec("8080:80");
        assert_eq!(
            s.host,
            Some(Range {
                first: 8080,
                last: 8080
            })
        );
        assert_eq!(
            s.container,
            Range {
                first: 80,
                last: 80
            }
        );
        assert_eq!((s.host_ip, s.protocol), (None, Protocol::Tcp));
        let s = spec("127.0.0.1:8080:80/udp");
        assert_eq!(s.host_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(s.protocol, Protocol::Udp);
        let s = spec("127.0.0.1::80");
        assert_eq!(s.host, None);
        let s = spec("[::1]:9000-9002:90-92");
        assert_eq!(s.host_ip, Some("::1".parse().unwrap()));
        assert_eq!(
            s.host,
            Some(Range {
                first: 9000,
                last: 9002
            })
        );
        assert_eq!(
            s.container,
            Range {
                first: 90,
                last: 92
            }
        );
        assert_eq!(spec("80").host, None);
        assert_eq!(spec("8000-8010:80").container.len(), 1);
    }

    #[test]
    fn bad_forms_name_the_cause() {
        for (text, says) in [
            ("85010:8501", "host port 85010 is out of range"),
            ("abc:80", "host port 'abc' is not a number"),
            ("80:abc", "container port 'abc' is not a number"),
            ("8000-8002:80-81", "differ in length"),
            ("80/icmp", "invalid protocol 'icmp'"),
            ("1.2.3:80:80", "not an IP address"),
            ("[::1:80:80", "brackets"),
            ("1:2:3:4", "use [IP:]"),
            ("90-80:80", "ends before it starts"),
        ] {
            let err = parse_publish(text).unwrap_err().to_string();
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn bindings_are_checked_and_chosen() {
        let limits = Limits {
            unprivileged_start: 1024,
        };
        let err = bind(&[spec("80:80")], &[], &limits).unwrap_err();
        assert!(
            err.to_string().contains("ip_unprivileged_port_start"),
            "{err}"
        );
        // A port something listens on.
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = bind(&[spec(&format!("127.0.0.1:{port}:80"))], &[], &limits).unwrap_err();
        assert!(err.to_string().contains("already allocated"), "{err}");
        drop(taken);
        // Random ports, and -P's exposed ones not published twice.
        let b = bind(
            &[spec("127.0.0.1::80")],
            &[(
                Range {
                    first: 80,
                    last: 81,
                },
                Protocol::Tcp,
            )],
            &limits,
        )
        .unwrap();
        assert_eq!(b.len(), 2, "{b:?}");
        assert!(b.iter().all(|b| b.host_port >= 1024));
        let twice = bind(&[spec("40001:80"), spec("40001:81")], &[], &limits).unwrap_err();
        assert!(twice.to_string().contains("published twice"), "{twice}");
    }

    #[test]
    fn consecutive_bindings_make_runs() {
        let b = |h, c| Binding {
            protocol: Protocol::Tcp,
            container_port: c,
            host_ip: None,
            host_port: h,
        };
        let r = runs(&[b(8000, 80), b(8001, 81), b(8002, 82), b(9000, 443)]);
        assert_eq!(r, vec![(b(8000, 80), 3), (b(9000, 443), 1)]);
    }
}
