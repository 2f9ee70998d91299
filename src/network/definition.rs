//! What `network create` makes: a user network's definition (its subnets, gateways and
//! ranges, internal or not, labels), checked and completed as Docker does, with subnets chosen
//! where none is given (Podman's 10.89.N.0/24, clear of the others and of the host's routes).
//! The engine keeps it in the user's store; its live part is the name table (`names`) and the
//! bridge (`bridge`).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use super::NetworkError;

/// Names a user network can't take: Docker's predefined ones and skiff's modes.
pub const RESERVED: &[&str] = &["bridge", "host", "none", "default", "pasta", "slirp4netns"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    pub subnet: IpNet,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    /// `--ip-range`: where addresses are handed out from (the subnet when not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<IpNet>,
}

impl Subnet {
    /// The container's address on this subnet, with its prefix.
    pub fn with_prefix(&self, address: IpAddr) -> IpNet {
        IpNet::new(address, self.subnet.prefix_len()).unwrap_or(self.subnet)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Definition {
    pub name: String,
    pub id: String,
    pub driver: String,
    pub created: String,
    pub subnets: Vec<Subnet>,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub ipv6: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

impl Definition {
    pub fn v4(&self) -> Option<&Subnet> {
        self.subnets.iter().find(|s| s.subnet.addr().is_ipv4())
    }

    pub fn v6(&self) -> Option<&Subnet> {
        self.subnets.iter().find(|s| s.subnet.addr().is_ipv6())
    }

    /// The gateways' addresses, on the bridge.
    pub fn gateway_addresses(&self) -> Vec<IpNet> {
        self.subnets
            .iter()
            .filter_map(|s| s.gateway.map(|g| s.with_prefix(g)))
            .collect()
    }
}

/// `network create`'s flags.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub driver: Option<String>,
    pub subnets: Vec<String>,
    pub gateways: Vec<String>,
    pub ip_ranges: Vec<String>,
    pub internal: bool,
    pub ipv6: bool,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
}

/// Docker's rule for network names.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Checks `opts` and completes them into a definition named `name` with `id`, beside the
/// networks in `others`; `host_routes`: the host's IPv4 routes, which a chosen subnet avoids.
pub fn define(
    name: &str,
    id: &str,
    created: &str,
    opts: &CreateOptions,
    others: &[Definition],
    host_routes: &[Ipv4Net],
) -> Result<Definition, NetworkError> {
    let invalid = |m: String| NetworkError::Invalid(m);
    if !valid_name(name) {
        return Err(invalid(format!(
            "invalid network name {name:?}: names start with a letter or digit and hold only \
             letters, digits, '_', '.' and '-'"
        )));
    }
    if RESERVED.contains(&name) {
        return Err(invalid(format!(
            "{name} is a pre-defined network and cannot be created: choose another name"
        )));
    }
    match opts.driver.as_deref() {
        None | Some("bridge") => {}
        Some(d @ ("macvlan" | "ipvlan" | "overlay")) => {
            return Err(NetworkError::NotSupported(format!("network driver {d}")))
        }
        Some(d) => {
            return Err(invalid(format!(
                "unknown network driver {d:?}: the one there is is bridge"
            )))
        }
    }
    let taken: Vec<IpNet> = others
        .iter()
        .flat_map(|o| o.subnets.iter().map(|s| s.subnet))
        .collect();
    let mut subnets = Vec::new();
    for (i, text) in opts.subnets.iter().enumerate() {
        let net: IpNet = text.parse().map_err(|_| {
            invalid(format!(
                "invalid subnet {text:?}: give an address and a prefix length, as 10.90.0.0/24"
            ))
        })?;
        if net.trunc() != net {
            return Err(invalid(format!(
                "invalid subnet {text}: it has host bits set (the network is {})",
                net.trunc()
            )));
        }
        if let Some(o) = taken.iter().find(|t| overlaps(**t, net)) {
            return Err(invalid(format!(
                "subnet {net} overlaps {o} of another network: choose another"
            )));
        }
        let gateway = match opts.gateways.get(i) {
            Some(g) => {
                let g: IpAddr = g
                    .parse()
                    .map_err(|_| invalid(format!("invalid gateway {g:?}: give an IP address")))?;
                if !net.contains(&g) || g == net.network() {
                    return Err(invalid(format!(
                        "gateway {g} is not a host address of {net}"
                    )));
                }
                g
            }
            None => first_host(net)
                .ok_or_else(|| invalid(format!("subnet {net} has no room for a gateway")))?,
        };
        let range = match opts.ip_ranges.get(i) {
            Some(r) => {
                let r: IpNet = r.parse().map_err(|_| {
                    invalid(format!(
                        "invalid IP range {r:?}: give a subnet, as 10.90.0.128/25"
                    ))
                })?;
                if !net.contains(&r) {
                    return Err(invalid(format!("IP range {r} is not within subnet {net}")));
                }
                Some(r)
            }
            None => None,
        };
        subnets.push(Subnet {
            subnet: net,
            gateway: Some(gateway),
            range,
        });
    }
    if opts.gateways.len() > opts.subnets.len() || opts.ip_ranges.len() > opts.subnets.len() {
        return Err(invalid(
            "a --gateway or --ip-range needs a --subnet of its own".to_string(),
        ));
    }
    let has_v4 = subnets.iter().any(|s| s.subnet.addr().is_ipv4());
    let has_v6 = subnets.iter().any(|s| s.subnet.addr().is_ipv6());
    if !has_v4 {
        let net = free_v4(&taken, host_routes).ok_or_else(|| {
            invalid("no free subnet left in 10.89.0.0/16: give one with --subnet".to_string())
        })?;
        subnets.insert(
            0,
            Subnet {
                subnet: IpNet::V4(net),
                gateway: first_host(IpNet::V4(net)),
                range: None,
            },
        );
    }
    let ipv6 = opts.ipv6 || has_v6;
    if ipv6 && !has_v6 {
        let net = unique_local(id);
        subnets.push(Subnet {
            subnet: IpNet::V6(net),
            gateway: first_host(IpNet::V6(net)),
            range: None,
        });
    }
    Ok(Definition {
        name: name.to_string(),
        id: id.to_string(),
        driver: "bridge".into(),
        created: created.to_string(),
        subnets,
        internal: opts.internal,
        ipv6,
        labels: opts.labels.clone(),
        options: opts.options.clone(),
    })
}

fn overlaps(a: IpNet, b: IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The subnet's first address for a host: IPv6's network address (the subnet-router anycast
/// address) is no host's either.
fn first_host(net: IpNet) -> Option<IpAddr> {
    net.hosts().find(|a| *a != net.network())
}

/// The first 10.89.N.0/24 that no network has and no route of the host's covers.
fn free_v4(taken: &[IpNet], host_routes: &[Ipv4Net]) -> Option<Ipv4Net> {
    (0..=255u8)
        .map(|n| Ipv4Net::new(Ipv4Addr::new(10, 89, n, 0), 24).expect("a /24"))
        .find(|n| {
            !taken.iter().any(|t| overlaps(*t, IpNet::V4(*n)))
                && !host_routes
                    .iter()
                    .filter(|r| r.prefix_len() > 0)
                    .any(|r| overlaps(IpNet::V4(*r), IpNet::V4(*n)))
        })
}

/// A unique local /64 (fdXX:…) from the network's id, as RFC 4193 asks.
fn unique_local(id: &str) -> Ipv6Net {
    let bytes = hex::decode(id.get(..14).unwrap_or("00000000000000")).unwrap_or_default();
    let mut octets = [0u8; 16];
    octets[0] = 0xfd;
    for (dst, src) in octets[1..8].iter_mut().zip(&bytes) {
        *dst = *src;
    }
    Ipv6Net::new(Ipv6Addr::from(octets), 64).expect("a /64")
}

/// The host's IPv4 routes (destination and prefix), from /proc/net/route's text.
pub fn host_routes(text: &str) -> Vec<Ipv4Net> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            // The file's words are in the host's byte order, little-endian here.
            let dest = Ipv4Addr::from(dest.swap_bytes());
            let prefix = mask.count_ones() as u8;
            Ipv4Net::new(dest, prefix).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn subnets_are_chosen_clear_of_others_and_the_hosts_routes() {
        let opts = CreateOptions::default();
        let a = define("a", ID, "t", &opts, &[], &[]).unwrap();
        assert_eq!(a.subnets[0].subnet.to_string(), "10.89.0.0/24");
        assert_eq!(a.subnets[0].gateway, Some("10.89.0.1".parse().unwrap()));
        let routes = host_routes(
            "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n\
             eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\n\
             eth0\t0001590A\t00000000\t0001\t0\t0\t0\t00FFFFFF\n",
        );
        assert_eq!(routes[1].to_string(), "10.89.1.0/24");
        let b = define("b", ID, "t", &opts, std::slice::from_ref(&a), &routes).unwrap();
        assert_eq!(b.subnets[0].subnet.to_string(), "10.89.2.0/24");
        let six = CreateOptions {
            ipv6: true,
            ..CreateOptions::default()
        };
        let c = define("c", ID, "t", &six, &[], &[]).unwrap();
        assert_eq!(
            c.v6().unwrap().subnet.to_string(),
            "fd01:2345:6789:abcd::/64"
        );
        assert!(c.ipv6);
    }

    #[test]
    fn bad_requests_are_refused_with_their_reason() {
        let with = |s: &[&str], g: &[&str], r: &[&str]| CreateOptions {
            subnets: s.iter().map(|x| x.to_string()).collect(),
            gateways: g.iter().map(|x| x.to_string()).collect(),
            ip_ranges: r.iter().map(|x| x.to_string()).collect(),
            ..CreateOptions::default()
        };
        let err = |name: &str, o: &CreateOptions, others: &[Definition]| {
            define(name, ID, "t", o, others, &[])
                .unwrap_err()
                .to_string()
        };
        let none = CreateOptions::default();
        assert!(err("bridge", &none, &[]).contains("pre-defined"));
        assert!(err("-x", &none, &[]).contains("invalid network name"));
        assert!(err("x", &with(&["10.90.0.1/24"], &[], &[]), &[]).contains("host bits"));
        assert!(err("x", &with(&["banana"], &[], &[]), &[]).contains("invalid subnet"));
        assert!(err("x", &with(&["10.90.0.0/24"], &["10.91.0.1"], &[]), &[]).contains("not a host"));
        assert!(
            err("x", &with(&["10.90.0.0/24"], &[], &["10.91.0.0/25"]), &[]).contains("not within")
        );
        let a = define("a", ID, "t", &with(&["10.90.0.0/16"], &[], &[]), &[], &[]).unwrap();
        assert!(err("b", &with(&["10.90.3.0/24"], &[], &[]), &[a]).contains("overlaps"));
        let d = CreateOptions {
            driver: Some("macvlan".into()),
            ..CreateOptions::default()
        };
        assert!(err("x", &d, &[]).contains("not supported yet"));
        let ok = define(
            "x",
            ID,
            "t",
            &with(&["10.90.0.0/24"], &["10.90.0.254"], &["10.90.0.128/25"]),
            &[],
            &[],
        )
        .unwrap();
        assert_eq!(ok.subnets[0].gateway, Some("10.90.0.254".parse().unwrap()));
        assert_eq!(ok.subnets[0].range.unwrap().to_string(), "10.90.0.128/25");
    }
}
