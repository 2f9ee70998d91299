//! User networks (`network create`): containers that find each other by name and alias through
//! the resolver at 127.0.0.11, networks kept apart, internal ones without a way out, and the
//! network commands in Docker's forms. Names the resolver doesn't know go to an upstream server
//! the test runs on the host's loopback (127.0.0.0/8 only: nothing leaves this machine).

use std::net::UdpSocket;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use crate::harness::{Sandbox, User};

/// A host's-loopback name server for the tests: `outside.test` is 127.1.2.3; every other
/// name is NXDOMAIN. Runs until the test process ends. Returns its address (port 53: the
/// test runs as root, and a resolver is asked on 53).
fn upstream() -> String {
    static NEXT: AtomicU8 = AtomicU8::new(0);
    loop {
        let address = format!("127.0.53.{}", 10 + NEXT.fetch_add(1, Ordering::SeqCst));
        let Ok(socket) = UdpSocket::bind((address.as_str(), 53)) else {
            continue;
        };
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = socket.recv_from(&mut buf) {
                if let Some(reply) = answer(&buf[..n]) {
                    let _ = socket.send_to(&reply, from);
                }
            }
        });
        return address;
    }
}

/// The one question of `query`, answered.
fn answer(query: &[u8]) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    // The question: labels up to the root, then type and class.
    let mut i = 12;
    let mut labels = Vec::new();
    while *query.get(i)? != 0 {
        let len = query[i] as usize;
        labels.push(String::from_utf8_lossy(query.get(i + 1..i + 1 + len)?).to_lowercase());
        i += 1 + len;
    }
    let end = i + 5;
    let qtype = u16::from_be_bytes([*query.get(i + 1)?, *query.get(i + 2)?]);
    let known = labels.join(".") == "outside.test";
    let mut reply = query[..2].to_vec();
    let rcode = if known { 0 } else { 3 };
    reply.extend_from_slice(&[0x81, 0x80 | rcode, 0, 1]);
    let answers = u16::from(known && qtype == 1);
    reply.extend_from_slice(&answers.to_be_bytes());
    reply.extend_from_slice(&[0, 0, 0, 0]);
    reply.extend_from_slice(query.get(12..end)?);
    if answers == 1 {
        reply.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 1, 2, 3]);
    }
    Some(reply)
}

fn ready(s: &Sandbox) {
    s.check("pull -q $REG/busybox", 0, "");
}

/// The name-table entries of the user's networks now.
fn table_entries(s: &Sandbox) -> Vec<PathBuf> {
    let dir = s.dir.join("run/skiff/networks");
    let Ok(nets) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    nets.flatten()
        .flat_map(|n| std::fs::read_dir(n.path()).into_iter().flatten().flatten())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect()
}

fn no_entries_left(s: &Sandbox) {
    let end = Instant::now() + Duration::from_secs(5);
    while !table_entries(s).is_empty() {
        assert!(
            Instant::now() < end,
            "name-table entries left: {:?}",
            table_entries(s)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Two containers on one network fetch from each other by name and alias; a third on another
/// (internal) network finds neither name nor address.
fn find_each_other(s: &Sandbox) {
    ready(s);
    let dns = upstream();
    s.check("network create app", 0, "");
    s.check(
        "network create --internal --subnet 10.97.0.0/24 apart",
        0,
        "",
    );
    s.check(
        &format!(
            "run -d --name web --network app --network-alias www --dns {dns} $REG/busybox \
             sh -c 'mkdir /www && hostname > /www/who && exec httpd -f -p 80 -h /www'"
        ),
        0,
        "",
    );
    let id = s.run("inspect -f '{{.Id}}' web").stdout.trim()[..12].to_string();
    let ip = s
        .check(
            "inspect -f '{{.NetworkSettings.Networks.app.IPAddress}}' web",
            0,
            "10.89.",
        )
        .stdout
        .trim()
        .to_string();
    for name in ["web", "www", id.as_str(), "WEB"] {
        s.check(
            &format!("run --rm --network app --dns {dns} $REG/busybox wget -qO- http://{name}/who"),
            0,
            &id,
        );
    }
    // The resolver's own answer, and the upstream's for a name it doesn't hold.
    s.check(
        &format!("run --rm --network app --dns {dns} $REG/busybox nslookup www"),
        0,
        &format!("Address: {ip}"),
    );
    s.check(
        &format!("run --rm --network app --dns {dns} $REG/busybox nslookup outside.test"),
        0,
        "Address: 127.1.2.3",
    );
    // Many questions in a row, every one answered (the figures are the benchmark's).
    let probe = crate::harness::env().probe.display().to_string();
    s.check(
        &format!("run --rm --network app -v {probe}:/p:ro $REG/busybox /p/probe dnstime www 300"),
        0,
        "answered=300 ",
    );
    // Over TCP too: a container's name, and a forwarded one.
    s.check(
        &format!("run --rm --network app -v {probe}:/p:ro $REG/busybox /p/probe dnstcp web"),
        0,
        &format!("answered=1 address={ip}"),
    );
    s.check(
        &format!(
            "run --rm --network app --dns {dns} -v {probe}:/p:ro $REG/busybox /p/probe dnstcp outside.test"
        ),
        0,
        "answered=1 address=127.1.2.3",
    );
    let file = s.check(
        &format!("run --rm --network app --dns {dns} $REG/busybox cat /etc/resolv.conf"),
        0,
        "nameserver 127.0.0.11",
    );
    assert!(!file.stdout.contains(&dns), "{file:?}");
    // Another network: the name is not known there, the address not reached, no way out.
    let other = s.run(&format!(
        "run --rm --network apart --dns {dns} $REG/busybox nslookup web"
    ));
    assert_ne!(other.code, 0, "{other:?}");
    assert!(!other.stdout.contains(&ip), "{other:?}");
    let route = s.check(
        "run --rm --network apart $REG/busybox ip route",
        0,
        "10.97.0.0/24",
    );
    assert!(!route.stdout.contains("default"), "{route:?}");
    s.check(
        &format!("run --rm --network apart $REG/busybox wget -qO- http://{ip}/who"),
        1,
        "",
    );
    s.check(
        "network inspect -f '{{range .Containers}}{{.Name}} {{end}}' app",
        0,
        "web",
    );
    s.check("network rm app", 125, "in use by container(s) web");
    s.check("rm -f web", 0, "web");
    no_entries_left(s);
    s.check("network rm app apart", 0, "app\napart");
    s.check("network ls -q --filter type=custom", 0, "");
}

#[test]
fn containers_on_a_user_network_find_each_other_by_name_and_alias() {
    find_each_other(&Sandbox::user());
}

#[test]
fn user_networks_work_without_subordinate_ids_and_as_root() {
    find_each_other(&Sandbox::nosub());
    find_each_other(&Sandbox::new(User::root()));
}

#[test]
fn the_network_commands_in_docker_forms() {
    // command | exit | output contains
    let s = Sandbox::user();
    ready(&s);
    s.check(
        "network ls --format '{{.Name}} {{.Driver}}'",
        0,
        "bridge bridge\nhost host\nnone null",
    );
    let id = s
        .check("network create --label team=a --subnet 10.98.0.0/24 --gateway 10.98.0.254 --ip-range 10.98.0.128/25 lab", 0, "")
        .stdout
        .trim()
        .to_string();
    assert_eq!(id.len(), 64, "{id}");
    s.check(
        "network create lab",
        125,
        "network with name lab already exists",
    );
    s.check("network create --ignore lab", 0, &id);
    s.check(
        "network create --subnet 10.98.0.0/16 wide",
        125,
        "overlaps 10.98.0.0/24",
    );
    s.check(
        "network create --subnet 10.99.0.1/24 bits",
        125,
        "host bits set",
    );
    s.check("network create bridge", 125, "pre-defined network");
    s.check("network create -d macvlan mac", 125, "not supported yet");
    s.check(
        "network ls --filter label=team=a --format '{{.Name}}'",
        0,
        "lab",
    );
    s.check("network ls -q --filter name=la", 0, &id[..12]);
    s.check(
        "network ls --filter dangling=true --format '{{.Name}}'",
        0,
        "lab",
    );
    s.check("network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}} {{.IPRange}}{{end}}' lab", 0, "10.98.0.0/24 10.98.0.254 10.98.0.128/25");
    s.check("network inspect -f '{{.Labels.team}}' lab", 0, "a");
    s.check("network inspect nothere", 1, "No such network: nothere");
    s.check("network exists lab", 0, "");
    s.check("network exists nothere", 1, "");
    // --ip from the range, the gateway refused; a taken address refused.
    s.check(
        "run -d --name fixed --network lab --ip 10.98.0.200 $REG/busybox sleep 60",
        0,
        "",
    );
    s.check("inspect -f '{{.NetworkSettings.Networks.lab.IPAddress}} {{.NetworkSettings.Networks.lab.Gateway}} {{.NetworkSettings.Networks.lab.MacAddress}}' fixed", 0, "10.98.0.200 10.98.0.254 02:42:0a:62:00:c8");
    s.check(
        "run --rm --network lab --ip 10.98.0.200 $REG/busybox true",
        125,
        "already in use",
    );
    s.check(
        "run --rm --network lab $REG/busybox ip -4 addr show",
        0,
        "inet 10.98.0.129/24",
    );
    s.check(
        "run --rm --network lab --ip 10.98.0.254 $REG/busybox true",
        125,
        "not one the network hands out",
    );
    s.check(
        "run --rm --network-alias x $REG/busybox true",
        125,
        "user-defined networks only",
    );
    s.check(
        "run --rm --network nowhere $REG/busybox true",
        125,
        "network nowhere not found",
    );
    s.check("rm -f fixed", 0, "fixed");
    // connect and disconnect take effect at the next start.
    s.check("network create second", 0, "");
    s.check(
        "create --name later --network lab $REG/busybox ip -4 addr show",
        0,
        "",
    );
    s.check("network connect --alias l2 second later", 0, "");
    s.check(
        "network connect second later",
        125,
        "already exists in network second",
    );
    s.check("start -a later", 0, "inet 10.89.");
    s.check("inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}:{{$v.Aliases}} {{end}}' later", 0, "lab:[] second:[l2]");
    s.check("network disconnect lab later", 0, "");
    s.check(
        "network disconnect lab later",
        125,
        "is not connected to network lab",
    );
    let out = s.check("start -a later", 0, "inet 10.89.");
    assert!(!out.stdout.contains("10.98."), "{out:?}");
    s.check(
        "network rm bridge",
        125,
        "pre-defined network and cannot be removed",
    );
    s.check("network rm nothere", 1, "No such network: nothere");
    s.check("network rm -f nothere", 0, "");
    s.check("network prune -f", 0, "Deleted Networks:\nlab");
    s.check("network ls -q --filter type=custom", 0, "");
    s.check("rm later", 0, "later");
    s.check("network prune -f", 0, "second");
}

#[test]
fn a_killed_monitor_leaves_no_name_behind() {
    let s = Sandbox::user();
    ready(&s);
    let dns = upstream();
    s.check("network create killnet", 0, "");
    s.check(
        "run -d --name gone --network killnet $REG/busybox sleep 60",
        0,
        "",
    );
    assert_eq!(table_entries(&s).len(), 1);
    let monitor = s.run("inspect -f '{{.State.ConmonPid}}' gone").stdout;
    std::process::Command::new("kill")
        .args(["-9", monitor.trim()])
        .status()
        .unwrap();
    s.eventually(
        "ps -a --format '{{.Names}} {{.Status}}'",
        "gone Exited (137)",
    );
    // The dead entry answers nothing, and the next container on the network clears it.
    let out = s.run(&format!(
        "run --rm --network killnet --dns {dns} $REG/busybox nslookup gone"
    ));
    assert_ne!(out.code, 0, "{out:?}");
    no_entries_left(&s);
    s.check("rm -f gone", 0, "gone");
    s.check("network rm killnet", 0, "killnet");
}

#[test]
fn the_default_network_forwards_to_a_resolver_on_the_hosts_loopback() {
    let s = Sandbox::user();
    ready(&s);
    let dns = upstream();
    // The host's loopback is not the container's: its resolver forwards from the host's side.
    s.check(
        &format!("run --rm --dns {dns} $REG/busybox cat /etc/resolv.conf"),
        0,
        "nameserver 127.0.0.11",
    );
    s.check(
        &format!("run --rm --dns {dns} $REG/busybox nslookup outside.test"),
        0,
        "Address: 127.1.2.3",
    );
    s.check(
        &format!("run --rm --network slirp4netns --dns {dns} $REG/busybox nslookup outside.test"),
        0,
        "Address: 127.1.2.3",
    );
    // A server that is not on the loopback is the container's own to ask.
    s.check(
        "run --rm --dns 192.0.2.53 $REG/busybox cat /etc/resolv.conf",
        0,
        "nameserver 192.0.2.53",
    );
}

#[test]
fn published_ports_and_ipv6_on_a_user_network() {
    let s = Sandbox::user();
    ready(&s);
    let port = crate::user_network::free_port();
    s.check("network create --ipv6 six", 0, "");
    s.check(
        &format!(
            "run -d --name w6 --network six -p 127.0.0.1:{port}:80 $REG/busybox sh -c \
             'mkdir /www && echo hello > /www/index.html && exec httpd -f -p 80 -h /www'"
        ),
        0,
        "",
    );
    assert_eq!(
        crate::user_network::http_body_len(&format!("127.0.0.1:{port}"), "/index.html"),
        6
    );
    let v6 = s
        .check(
            "inspect -f '{{.NetworkSettings.Networks.six.GlobalIPv6Address}}' w6",
            0,
            "fd",
        )
        .stdout
        .trim()
        .to_string();
    assert!(!v6.ends_with("::1"), "the gateway's address: {v6}");
    s.check(
        "run --rm --network six $REG/busybox nslookup -type=aaaa w6",
        0,
        &format!("Address: {v6}"),
    );
    s.check(
        &format!("run --rm --network six $REG/busybox wget -qO- http://[{v6}]/index.html"),
        0,
        "hello",
    );
    s.check("rm -f w6", 0, "w6");
    s.check("network rm six", 0, "six");
}

#[test]
fn a_running_container_is_connected_and_disconnected_at_once() {
    let s = Sandbox::user();
    ready(&s);
    let dns = upstream();
    s.check("network create front", 0, "");
    s.check("network create back --subnet 10.96.0.0/24", 0, "");
    s.check(
        &format!("run -d --name app --network front --dns {dns} $REG/busybox sleep 300"),
        0,
        "",
    );
    s.check(
        "run -d --name db --network back $REG/busybox sh -c \
         'mkdir /www && echo db > /www/who && exec httpd -f -p 80 -h /www'",
        0,
        "",
    );
    let out = s.run("exec app nslookup db");
    assert_ne!(out.code, 0, "{out:?}");
    s.check("network connect --alias store back app", 0, "");
    s.check("exec app wget -qO- http://db/who", 0, "db");
    s.check("exec app ip -4 addr show", 0, "inet 10.96.0.");
    s.check("exec db nslookup store", 0, "Address: 10.96.0.");
    s.check("network inspect -f '{{len .Containers}}' back", 0, "2");
    s.check("network disconnect back app", 0, "");
    let addrs = s.check("exec app ip -4 addr show", 0, "inet 10.89.");
    assert!(!addrs.stdout.contains("10.96.0."), "{addrs:?}");
    let out = s.run("exec db nslookup store");
    assert_ne!(out.code, 0, "{out:?}");
    s.check("network inspect -f '{{len .Containers}}' back", 0, "1");
    s.check(
        "run -d --name lonely --network none $REG/busybox sleep 300",
        0,
        "",
    );
    s.check(
        "network connect back lonely",
        125,
        "can't be connected to a network",
    );
    s.check("rm -f app db lonely", 0, "");
    no_entries_left(&s);
    s.check("network rm front back", 0, "front\nback");
}
