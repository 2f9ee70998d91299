//! The files the engine writes for each start and the runtime binds over the image's:
//! /etc/hosts (with `--add-host`'s lines; none with `--no-hosts`), /etc/hostname and
//! /etc/resolv.conf (the host's, with `--dns`, `--dns-search` and `--dns-option` in place of
//! its own lines of each kind, as Docker writes it).

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What the user asked of the container's /etc/hosts and /etc/resolv.conf.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtcOptions {
    /// `--dns`: name servers instead of the host's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    /// `--dns-search`: search domains instead of the host's (`.`: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    /// `--dns-option`: resolver options instead of the host's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_options: Vec<String>,
    /// `--add-host NAME:IP`: (name, address) lines added to /etc/hosts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_hosts: Vec<(String, String)>,
    /// `--no-hosts`: the image's /etc/hosts is left as it is.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_hosts: bool,
}

impl EtcOptions {
    pub fn is_empty(&self) -> bool {
        *self == EtcOptions::default()
    }
}

/// `--add-host NAME:host-gateway` on a user-mode network, as the record keeps it.
pub const HOST_GATEWAY: &str = "host-gateway";

/// The names a container on a user-mode network reaches the host by (Podman's and Docker's).
const HOST_NAMES: &str = "host.containers.internal host.docker.internal";

/// What a start knows of the container's network that its files tell.
#[derive(Debug, Clone, Default)]
pub(crate) struct NetworkFacts {
    /// The host's address on the container's user-mode network (for its names and
    /// `--add-host NAME:host-gateway`).
    pub host: Option<std::net::IpAddr>,
    /// The container's addresses on its user networks: its hostname's.
    pub own: Vec<std::net::IpAddr>,
    /// A resolver of skiff's serves it at 127.0.0.11 (on user networks).
    pub resolver: bool,
}

/// Writes the files into `dir` (the container's run directory) and returns them as the spec
/// names them: (path in the container, file on the host).
pub(crate) fn write_etc_files(
    dir: &Path,
    hostname: &str,
    host_network: bool,
    options: &EtcOptions,
    facts: &NetworkFacts,
) -> io::Result<Vec<(String, PathBuf)>> {
    let host = facts.host;
    let mut hosts = if host_network {
        fs::read_to_string("/etc/hosts").unwrap_or_default()
    } else {
        let mut text =
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n".to_string();
        // On a user network the hostname is the container's address there, as in Docker.
        if facts.own.is_empty() {
            text.push_str(&format!("127.0.1.1\t{hostname}\n"));
        }
        for a in &facts.own {
            text.push_str(&format!("{a}\t{hostname}\n"));
        }
        text
    };
    if !hosts.is_empty() && !hosts.ends_with('\n') {
        hosts.push('\n');
    }
    if let Some(host) = host {
        hosts.push_str(&format!("{host}\t{HOST_NAMES}\n"));
    }
    for (name, address) in &options.add_hosts {
        let address = match (address.as_str(), host) {
            (HOST_GATEWAY, Some(h)) => h.to_string(),
            (HOST_GATEWAY, None) => continue,
            _ => address.clone(),
        };
        hosts.push_str(&format!("{address}\t{name}\n"));
    }
    let host_resolv = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let resolv = if facts.resolver {
        resolver_conf(&host_resolv, options)
    } else {
        resolv_conf(&host_resolv, options)
    };
    let files = [
        ("/etc/hosts", hosts),
        ("/etc/hostname", format!("{hostname}\n")),
        ("/etc/resolv.conf", resolv),
    ];
    let mut out = Vec::new();
    for (inside, text) in files {
        if inside == "/etc/hosts" && options.no_hosts {
            continue;
        }
        let host = dir.join(Path::new(inside).file_name().unwrap_or(OsStr::new("file")));
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&host)?;
        f.write_all(text.as_bytes())?;
        out.push((inside.to_string(), host));
    }
    Ok(out)
}

/// The host's resolv.conf with the user's name servers, search domains and options in place
/// of its own of each kind.
fn resolv_conf(host: &str, options: &EtcOptions) -> String {
    let replaced = |line: &str| {
        let key = line.split_whitespace().next().unwrap_or("");
        (key == "nameserver" && !options.dns.is_empty())
            || (matches!(key, "search" | "domain") && !options.dns_search.is_empty())
            || (key == "options" && !options.dns_options.is_empty())
    };
    if options.dns.is_empty() && options.dns_search.is_empty() && options.dns_options.is_empty() {
        return host.to_string();
    }
    let mut out: String = host
        .lines()
        .filter(|l| !replaced(l))
        .map(|l| format!("{l}\n"))
        .collect();
    // `--dns-search .` asks for no search domain at all.
    let search: Vec<&str> = options
        .dns_search
        .iter()
        .map(String::as_str)
        .filter(|d| *d != ".")
        .collect();
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    for server in &options.dns {
        out.push_str(&format!("nameserver {server}\n"));
    }
    if !options.dns_options.is_empty() {
        out.push_str(&format!("options {}\n", options.dns_options.join(" ")));
    }
    out
}

/// Docker's resolv.conf on a user network: its resolver, which forwards to `--dns`'s servers
/// or the host's; the search domains and options as `resolv_conf` gives them, and ndots:0
/// where no options are asked for, so that a container's name is asked for as it is first.
fn resolver_conf(host: &str, options: &EtcOptions) -> String {
    let local = EtcOptions {
        dns: vec![crate::network::resolver::ADDRESS.to_string()],
        ..options.clone()
    };
    let mut text = resolv_conf(host, &local);
    let has_options = text.lines().any(|l| l.starts_with("options"));
    if !has_options {
        text.push_str("options ndots:0\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_network_gets_its_own_hosts_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_etc_files(
            dir.path(),
            "box",
            false,
            &EtcOptions::default(),
            &NetworkFacts::default(),
        )
        .unwrap();
        let names: Vec<&str> = files.iter().map(|(inside, _)| inside.as_str()).collect();
        assert_eq!(names, ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"]);
        assert_eq!(
            fs::read_to_string(dir.path().join("hosts")).unwrap(),
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tbox\n"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("hostname")).unwrap(),
            "box\n"
        );
        let host = write_etc_files(
            dir.path(),
            "box",
            true,
            &EtcOptions::default(),
            &NetworkFacts::default(),
        )
        .unwrap();
        assert_eq!(
            fs::read(&host[0].1).unwrap(),
            fs::read("/etc/hosts").unwrap_or_default(),
            "the host's network: the host's file"
        );
    }

    #[test]
    fn added_hosts_and_resolvers_as_docker_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        let options = EtcOptions {
            add_hosts: vec![
                ("db".into(), "10.0.0.5".into()),
                ("six".into(), "::1".into()),
            ],
            ..EtcOptions::default()
        };
        write_etc_files(dir.path(), "box", false, &options, &NetworkFacts::default()).unwrap();
        let hosts = fs::read_to_string(dir.path().join("hosts")).unwrap();
        assert!(
            hosts.ends_with("127.0.1.1\tbox\n10.0.0.5\tdb\n::1\tsix\n"),
            "{hosts}"
        );
        let gateway = EtcOptions {
            add_hosts: vec![("gw".into(), super::HOST_GATEWAY.into())],
            ..EtcOptions::default()
        };
        write_etc_files(
            dir.path(),
            "box",
            false,
            &gateway,
            &NetworkFacts {
                host: Some("10.0.2.2".parse().unwrap()),
                ..NetworkFacts::default()
            },
        )
        .unwrap();
        let hosts = fs::read_to_string(dir.path().join("hosts")).unwrap();
        assert!(
            hosts.ends_with(
                "127.0.1.1\tbox\n10.0.2.2\thost.containers.internal host.docker.internal\n\
                 10.0.2.2\tgw\n"
            ),
            "{hosts}"
        );
        let no_hosts = EtcOptions {
            no_hosts: true,
            ..EtcOptions::default()
        };
        let other = tempfile::tempdir().unwrap();
        let files = write_etc_files(
            other.path(),
            "box",
            false,
            &no_hosts,
            &NetworkFacts::default(),
        )
        .unwrap();
        assert!(files.iter().all(|(inside, _)| inside != "/etc/hosts"));
        assert!(!other.path().join("hosts").exists());

        let host = "# generated\nnameserver 192.0.2.53\nsearch example.net\noptions edns0\n";
        let dns = EtcOptions {
            dns: vec!["10.1.1.1".into(), "10.1.1.2".into()],
            ..EtcOptions::default()
        };
        assert_eq!(
            resolv_conf(host, &dns),
            "# generated\nsearch example.net\noptions edns0\nnameserver 10.1.1.1\nnameserver 10.1.1.2\n"
        );
        let search = EtcOptions {
            dns_search: vec![".".into()],
            dns_options: vec!["ndots:2".into(), "rotate".into()],
            ..EtcOptions::default()
        };
        assert_eq!(
            resolv_conf(host, &search),
            "# generated\nnameserver 192.0.2.53\noptions ndots:2 rotate\n"
        );
        assert_eq!(resolv_conf(host, &EtcOptions::default()), host);
    }

    #[test]
    fn a_user_network_names_the_container_by_its_address_and_its_resolver() {
        let dir = tempfile::tempdir().unwrap();
        let facts = NetworkFacts {
            own: vec!["10.89.0.2".parse().unwrap()],
            resolver: true,
            ..NetworkFacts::default()
        };
        write_etc_files(dir.path(), "box", false, &EtcOptions::default(), &facts).unwrap();
        let hosts = fs::read_to_string(dir.path().join("hosts")).unwrap();
        assert!(hosts.ends_with("ip6-loopback\n10.89.0.2\tbox\n"), "{hosts}");
        let host = "nameserver 127.0.0.53\nsearch example.net\n";
        assert_eq!(
            resolver_conf(host, &EtcOptions::default()),
            "search example.net\nnameserver 127.0.0.11\noptions ndots:0\n"
        );
        let opts = EtcOptions {
            dns_options: vec!["ndots:3".into()],
            ..EtcOptions::default()
        };
        assert_eq!(
            resolver_conf(host, &opts),
            "search example.net\nnameserver 127.0.0.11\noptions ndots:3\n"
        );
    }
}
