//! The default network and published ports, on pasta and on slirp4netns, as the unprivileged
//! users. Traffic goes only to 127.0.0.1 and ::1 on the host, or stays inside the containers'
//! own namespaces.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use crate::harness::{env, Sandbox, User};

const TEN_MIB: usize = 10 * 1024 * 1024;

fn ready(s: &Sandbox) {
    s.check("pull -q $REG/busybox", 0, "");
}

/// A port nothing listens on now (TCP and UDP), on the host's loopback.
pub(crate) fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() && UdpSocket::bind(("::1", port)).is_ok() {
            return port;
        }
    }
}

/// `GET PATH` over HTTP/1.0, retried until the server answers (it starts on its own time):
/// the body's length.
pub(crate) fn http_body_len(addr: &str, path: &str) -> usize {
    let addr: SocketAddr = addr.parse().unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let got = (|| -> std::io::Result<Vec<u8>> {
            let mut c = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
            c.set_read_timeout(Some(Duration::from_secs(10)))?;
            c.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())?;
            let mut all = Vec::new();
            c.read_to_end(&mut all)?;
            Ok(all)
        })();
        if let Ok(all) = &got {
            if let Some(i) = all.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&all[..i]);
                assert!(
                    head.starts_with("HTTP/1.") && head.contains(" 200 "),
                    "{head}"
                );
                return all.len() - i - 4;
            }
        }
        assert!(Instant::now() < end, "no HTTP answer on {addr}: {got:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends 10 MiB in numbered datagrams to an echo server, each answered before the next (a
/// lost one is sent again): the bytes that came back.
fn udp_echoed(addr: &str) -> usize {
    let addr: SocketAddr = addr.parse().unwrap();
    let local = if addr.is_ipv6() {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    };
    let sock = UdpSocket::bind(local).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let chunk = 60_000;
    let (mut back, mut seq) = (0usize, 0u32);
    let end = Instant::now() + Duration::from_secs(30);
    let mut buf = vec![0u8; 65536];
    while back < TEN_MIB {
        let n = chunk.min(TEN_MIB - back);
        let mut msg = vec![0x5au8; n];
        msg[..4].copy_from_slice(&seq.to_be_bytes());
        loop {
            assert!(
                Instant::now() < end,
                "UDP echo on {addr}: {back} bytes back"
            );
            sock.send_to(&msg, addr).unwrap();
            match sock.recv(&mut buf) {
                Ok(got) if got == n && buf[..4] == seq.to_be_bytes() => break,
                _ => continue,
            }
        }
        back += n;
        seq += 1;
    }
    back
}

/// The processes of helpers (pasta, slirp4netns) started for this sandbox's containers: those
/// whose stderr is a file under its directory.
fn helpers_of(s: &Sandbox) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if !(comm.starts_with("pasta")
            || comm.starts_with("passt")
            || comm.starts_with("slirp4netns"))
        {
            continue;
        }
        if let Ok(target) = std::fs::read_link(format!("/proc/{pid}/fd/2")) {
            if target.starts_with(&s.dir) {
                out.push(format!("{pid} {}", comm.trim()));
            }
        }
    }
    out
}

/// Whether the process is there and not yet a zombie: a killed helper closes its sockets (its
/// host ports) at the end of its exit, some 20 ms after its descriptors have left /proc.
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|t| {
            t.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie)
}

fn no_helper_left(s: &Sandbox) {
    let end = Instant::now() + Duration::from_secs(2);
    let seen: Vec<String> = helpers_of(s)
        .iter()
        .map(|h| h.split(' ').next().unwrap_or("").to_string())
        .collect();
    while !helpers_of(s).is_empty() || seen.iter().any(|p| alive(p)) {
        assert!(Instant::now() < end, "helpers left: {:?}", helpers_of(s));
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A web server (busybox httpd on 80, 90 and 91, a 10 MiB file) and a UDP echo server,
/// published with the given network and forms; checks each byte count from the host. UDP is
/// published on its own number (see `check_udp` in src/network for why).
fn carries_traffic(s: &Sandbox, network: &str, ipv6: bool) {
    let (p80, p90, p53, u6) = (free_port(), free_port(), free_port(), free_port());
    let p91 = p90 + 1;
    let mut publish = format!(
        "-p 127.0.0.1:{p80}:80 -p 127.0.0.1:{p90}-{p91}:90-91 -p 127.0.0.1:{p53}:{p53}/udp"
    );
    let v6 = free_port();
    if ipv6 {
        publish.push_str(&format!(" -p [::1]:{v6}:80 -p [::1]:{u6}:{u6}/udp"));
    }
    let probe = env().probe.display().to_string();
    s.check(
        &format!(
            "run -d --name web {network} {publish} -v {probe}:/p:ro $REG/busybox sh -c \
             'mkdir /www && dd if=/dev/zero of=/www/big bs=1M count=10 2>/dev/null && \
              httpd -p 90 -h /www && httpd -p 91 -h /www && (/p/probe udpecho {p53} &) && (/p/probe udpecho {u6} &) && \
              exec httpd -f -p 80 -h /www'"
        ),
        0,
        "",
    );
    assert_eq!(http_body_len(&format!("127.0.0.1:{p80}"), "/big"), TEN_MIB);
    // A range, each host port to its own container port.
    assert_eq!(http_body_len(&format!("127.0.0.1:{p90}"), "/big"), TEN_MIB);
    assert_eq!(http_body_len(&format!("127.0.0.1:{p91}"), "/big"), TEN_MIB);
    assert_eq!(udp_echoed(&format!("127.0.0.1:{p53}")), TEN_MIB);
    if ipv6 {
        assert_eq!(http_body_len(&format!("[::1]:{v6}"), "/big"), TEN_MIB);
        assert_eq!(udp_echoed(&format!("[::1]:{u6}")), TEN_MIB);
    }
    // Docker's forms of them.
    let mode = match network {
        "" => "bridge",
        n => n.trim_start_matches("--network "),
    };
    s.check("inspect -f '{{.HostConfig.NetworkMode}}' web", 0, mode);
    let port = s.check("port web", 0, "").stdout.clone();
    assert!(
        port.contains(&format!("80/tcp -> 127.0.0.1:{p80}")),
        "{port}"
    );
    assert!(
        port.contains(&format!("{p53}/udp -> 127.0.0.1:{p53}")),
        "{port}"
    );
    s.check("port web 91", 0, &format!("127.0.0.1:{p91}"));
    s.check(
        "port web 92",
        1,
        "No public port '92/tcp' published for web",
    );
    s.check(
        "ps --format '{{.Ports}}'",
        0,
        &format!("127.0.0.1:{p90}-{p91}->90-91/tcp"),
    );
    s.check(
        "inspect -f '{{json .NetworkSettings.Ports}}'  web",
        0,
        &format!("\"80/tcp\":[{{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"{p80}\"}}"),
    );
    s.check("rm -f web", 0, "web");
    no_helper_left(s);
    // The port is free again at once for the next container.
    s.check(
        &format!("run -d --name again {network} -p 127.0.0.1:{p80}:80 $REG/busybox sleep 60"),
        0,
        "",
    );
    s.check("rm -f again", 0, "again");
    no_helper_left(s);
}

#[test]
fn published_ports_carry_tcp_and_udp_on_pasta() {
    let s = Sandbox::user();
    ready(&s);
    // The default network: an interface with a default route besides loopback.
    let out = s.check("run --rm $REG/busybox ip route", 0, "default via");
    assert!(out.stdout.contains("dev eth0"), "{out:?}");
    s.check("info --format '{{.host.rootlessNetworkCmd}}'", 0, "pasta");
    carries_traffic(&s, "", true);
    carries_traffic(&s, "--network pasta", true);
}

#[test]
fn published_ports_carry_tcp_and_udp_on_slirp4netns() {
    let s = Sandbox::user();
    ready(&s);
    s.check(
        "run --rm --network slirp4netns $REG/busybox ip route",
        0,
        "default via 10.0.2.2 dev tap0",
    );
    carries_traffic(&s, "--network slirp4netns:allow_host_loopback=true", false);
    s.check(
        "run -d --network slirp4netns -p 127.0.0.1:5353:5353/udp $REG/busybox true",
        125,
        "slirp4netns cannot publish UDP port 5353 unless",
    );
}

#[test]
fn the_default_network_works_without_subordinate_ids_and_as_root() {
    for s in [Sandbox::nosub(), Sandbox::new(User::root())] {
        ready(&s);
        let port = free_port();
        s.check(
            &format!(
                "run -d --name web -p 127.0.0.1:{port}:80 $REG/busybox sh -c \
                 'mkdir /www && echo hello > /www/index.html && exec httpd -f -p 80 -h /www'"
            ),
            0,
            "",
        );
        assert_eq!(
            http_body_len(&format!("127.0.0.1:{port}"), "/index.html"),
            6
        );
        s.check("rm -f web", 0, "web");
        no_helper_left(&s);
    }
}

#[test]
fn publish_all_uses_free_host_ports_and_the_client_is_seen_inside() {
    let s = Sandbox::user();
    ready(&s);
    s.check(
        "run -d --name all -P --expose 80 --expose 81/udp $REG/busybox sh -c \
         'mkdir /www && echo hello > /www/index.html && exec httpd -f -p 80 -h /www'",
        0,
        "",
    );
    let lines = s.check("port all 80", 0, "0.0.0.0:").stdout.clone();
    let host_port = lines
        .lines()
        .next()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        http_body_len(&format!("127.0.0.1:{host_port}"), "/index.html"),
        6
    );
    s.check("port all 81/udp", 0, "0.0.0.0:");
    s.check("rm -f all", 0, "all");
    // The client's connection as the container sees it (pasta splices a loopback client in
    // from the container's own loopback).
    for (network, client) in [("", "127.0.0.1:"), ("--network slirp4netns", "10.0.2.2:")] {
        let port = free_port();
        s.check(
            &format!(
                "run -d --name who {network} -p 127.0.0.1:{port}:80 $REG/busybox nc -l -p 80 -e netstat -tn"
            ),
            0,
            "",
        );
        let end = Instant::now() + Duration::from_secs(10);
        let seen = loop {
            let mut text = String::new();
            if let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) {
                let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = c.read_to_string(&mut text);
            }
            if text.contains("ESTABLISHED") || Instant::now() > end {
                break text;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let line = seen
            .lines()
            .find(|l| l.contains(":80 ") && l.contains("ESTABLISHED"))
            .unwrap_or_else(|| panic!("{network}: no connection seen: {seen}"));
        assert!(line.contains(client), "{network}: {line}");
        s.check("rm -f who", 0, "who");
    }
}

#[test]
fn the_host_loopback_is_reached_only_when_allowed() {
    let s = Sandbox::user();
    ready(&s);
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    // An HTTP answer to a client that keeps its side open until then (one that half-closes
    // first can hang this pasta's gateway path; busybox's static wget crashes).
    std::thread::spawn(move || {
        for mut c in server.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = c.read(&mut buf);
            let _ = c.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 13\r\n\r\nhost-says-hi\n");
        }
    });
    let reach = |network: &str| {
        s.run(&format!(
            "run --rm {network} $REG/busybox sh -c \
             'grep -q host.docker.internal /etc/hosts && \
              (printf \"GET / HTTP/1.0\\r\\n\\r\\n\"; sleep 1) | nc -w 3 host.containers.internal {port}'"
        ))
    };
    for allowed in [
        "--network slirp4netns:allow_host_loopback=true",
        "--network pasta:--map-gw",
    ] {
        let out = reach(allowed);
        assert!(out.stdout.contains("host-says-hi"), "{allowed}: {out:?}");
    }
    for refused in ["", "--network slirp4netns", "--network pasta"] {
        let out = reach(refused);
        assert!(!out.stdout.contains("host-says-hi"), "{refused}: {out:?}");
    }
}

#[test]
fn bad_ports_and_networks_are_one_line_errors_that_leave_nothing() {
    let s = Sandbox::user();
    ready(&s);
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    for (line, says) in [
        (
            format!("run -d -p 127.0.0.1:{port}:80 $REG/busybox sleep 9"),
            "port is already allocated".to_string(),
        ),
        (
            "run -d -p 80:80 $REG/busybox sleep 9".into(),
            "net.ipv4.ip_unprivileged_port_start".into(),
        ),
        (
            "run -d -p 85010:8501 $REG/busybox sleep 9".into(),
            "host port 85010 is out of range".into(),
        ),
        (
            "run -d -p abc:80 $REG/busybox sleep 9".into(),
            "host port 'abc' is not a number".into(),
        ),
        (
            "run -d --network nosuchnet $REG/busybox sleep 9".into(),
            "network nosuchnet not found".into(),
        ),
        (
            "run -d --network slirp4netns:frob=1 $REG/busybox sleep 9".into(),
            "unknown option 'frob'".into(),
        ),
        (
            "run -d --network pasta:--nosuchoption $REG/busybox sleep 9".into(),
            "has no option --nosuchoption".into(),
        ),
        (
            "run -d --network slirp4netns:port_handler=rootlesskit $REG/busybox sleep 9".into(),
            "not supported yet".into(),
        ),
    ] {
        s.check(&line, 125, &says);
    }
    s.check("ps -aq", 0, "");
    assert!(s.run("ps -aq").stdout.trim().is_empty());
    no_helper_left(&s);
    drop(taken);
}

#[test]
fn a_killed_monitor_takes_its_network_helper_with_it() {
    let s = Sandbox::user();
    ready(&s);
    let port = free_port();
    s.check(
        &format!("run -d --name orphan -p 127.0.0.1:{port}:80 $REG/busybox sleep 60"),
        0,
        "",
    );
    let helpers = helpers_of(&s);
    assert_eq!(helpers.len(), 1, "{helpers:?}");
    let helper = helpers[0].split(' ').next().unwrap().to_string();
    let monitor = s.run("inspect -f '{{.State.ConmonPid}}' orphan").stdout;
    std::process::Command::new("kill")
        .args(["-9", monitor.trim()])
        .status()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(2);
    while alive(&helper) {
        assert!(
            Instant::now() < end,
            "the helper {helper} outlived its monitor"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    no_helper_left(&s);
    s.eventually(
        "ps -a --format '{{.Names}} {{.Status}}'",
        "orphan Exited (137)",
    );
    // Its port is free again: it starts once more.
    s.check("start orphan", 0, "orphan");
    s.check("port orphan", 0, &format!("127.0.0.1:{port}"));
    s.check("rm -f orphan", 0, "orphan");
    no_helper_left(&s);
}
