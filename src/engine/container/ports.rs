//! Docker's forms of a container's published and exposed ports: `port`'s lines, `ps`'s PORTS
//! column and `inspect`'s NetworkSettings.Ports.

use crate::network::{self, Binding, Protocol, Range};

/// Docker's key for a container port: "80/tcp".
pub fn port_key(port: u16, protocol: Protocol) -> String {
    format!("{port}/{protocol}")
}

/// The host addresses a binding is reachable on, as Docker shows them: every interface is
/// 0.0.0.0 and [::].
fn host_addresses(b: &Binding) -> Vec<String> {
    match b.host_ip {
        Some(ip) => vec![ip.to_string()],
        None => vec!["0.0.0.0".into(), "::".into()],
    }
}

/// `docker port`'s lines: "80/tcp -> 0.0.0.0:8080", one per host address.
pub fn port_lines(bindings: &[Binding], only: Option<(u16, Protocol)>) -> Vec<String> {
    let mut out = Vec::new();
    for b in bindings {
        if only.is_some_and(|(p, proto)| p != b.container_port || proto != b.protocol) {
            continue;
        }
        for addr in host_addresses(b) {
            let host = if addr.contains(':') {
                format!("[{addr}]:{}", b.host_port)
            } else {
                format!("{addr}:{}", b.host_port)
            };
            if only.is_some() {
                out.push(host);
            } else {
                out.push(format!(
                    "{} -> {host}",
                    port_key(b.container_port, b.protocol)
                ));
            }
        }
    }
    out
}

/// `ps`'s PORTS column: "0.0.0.0:8000-8002->80-82/tcp, :::8000-8002->80-82/tcp, 443/tcp".
pub fn ports_column(bindings: &[Binding], exposed: &[(Range, Protocol)]) -> String {
    let mut parts = Vec::new();
    let range = |first: u16, n: u16| {
        if n > 1 {
            format!("{first}-{}", first + (n - 1))
        } else {
            first.to_string()
        }
    };
    for (b, n) in network::ports::runs(bindings) {
        for addr in host_addresses(&b) {
            parts.push(format!(
                "{addr}:{}->{}/{}",
                range(b.host_port, n),
                range(b.container_port, n),
                b.protocol
            ));
        }
    }
    for (r, proto) in exposed {
        for p in r.first..=r.last {
            if !bindings
                .iter()
                .any(|b| b.container_port == p && b.protocol == *proto)
            {
                parts.push(port_key(p, *proto));
            }
        }
    }
    parts.join(", ")
}

/// `inspect`'s NetworkSettings.Ports: each exposed or published port, with its host bindings
/// (null when only exposed).
pub fn ports_json(bindings: &[Binding], exposed: &[(Range, Protocol)]) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (r, proto) in exposed {
        for p in r.first..=r.last {
            map.insert(port_key(p, *proto), serde_json::Value::Null);
        }
    }
    for b in bindings {
        let entry = map
            .entry(port_key(b.container_port, b.protocol))
            .or_insert_with(|| serde_json::Value::Array(vec![]));
        if entry.is_null() {
            *entry = serde_json::Value::Array(vec![]);
        }
        if let serde_json::Value::Array(list) = entry {
            for addr in host_addresses(b) {
                list.push(serde_json::json!({"HostIp": addr, "HostPort": b.host_port.to_string()}));
            }
        }
    }
    serde_json::Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(host: u16, ctr: u16, ip: Option<&str>, protocol: Protocol) -> Binding {
        Binding {
            protocol,
            container_port: ctr,
            host_ip: ip.map(|i| i.parse().unwrap()),
            host_port: host,
        }
    }

    #[test]
    fn ports_in_dockers_forms() {
        let all = [
            b(8000, 80, None, Protocol::Tcp),
            b(8001, 81, None, Protocol::Tcp),
            b(5353, 53, Some("127.0.0.1"), Protocol::Udp),
        ];
        let exposed = [(
            Range {
                first: 443,
                last: 443,
            },
            Protocol::Tcp,
        )];
        assert_eq!(
            ports_column(&all, &exposed),
            "0.0.0.0:8000-8001->80-81/tcp, :::8000-8001->80-81/tcp, \
             127.0.0.1:5353->53/udp, 443/tcp"
        );
        assert_eq!(
            port_lines(&all, None),
            [
                "80/tcp -> 0.0.0.0:8000",
                "80/tcp -> [::]:8000",
                "81/tcp -> 0.0.0.0:8001",
                "81/tcp -> [::]:8001",
                "53/udp -> 127.0.0.1:5353"
            ]
        );
        assert_eq!(
            port_lines(&all, Some((53, Protocol::Udp))),
            ["127.0.0.1:5353"]
        );
        let json = ports_json(&all, &exposed);
        assert_eq!(json["443/tcp"], serde_json::Value::Null);
        assert_eq!(json["80/tcp"][0]["HostPort"], "8000");
        assert_eq!(json["80/tcp"][1]["HostIp"], "::");
    }
}
