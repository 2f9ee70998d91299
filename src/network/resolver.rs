//! The resolver a container on a user network finds at 127.0.0.11, as Docker's: it answers the
//! names of the containers on the container's networks (their names, aliases and short ids;
//! several holders of one alias in random order) from the networks' name tables, and forwards
//! every other question to the upstream servers: `--dns`'s or the host's. There is no daemon:
//! each container's monitor serves its own, from its poll loop, through a UDP socket bound
//! inside the container's network namespace. Forwarded questions go out through sockets made
//! while the monitor is still in the host's network (it moves into the container's to start
//! it), so a resolver on the host's loopback (systemd-resolved's 127.0.0.53) serves containers
//! too; each goes under an id of the resolver's own, mapped back on the answer.
//!
//! UDP only: a client that gets a truncated answer and retries over TCP finds no server.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use simple_dns::rdata::{RData, A, AAAA};
use simple_dns::{Packet, PacketFlag, ResourceRecord, CLASS, QCLASS, QTYPE, RCODE, TYPE};

use super::names::{lookup, Table};

/// Where the resolver listens inside the container (Docker's address).
pub const ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
/// How long one upstream server has to answer before the next is asked.
const UPSTREAM_WAIT: Duration = Duration::from_secs(2);
/// Questions forwarded and not yet answered, at most.
const MAX_PENDING: usize = 64;
/// The time to live of the answers for containers: short, since they come and go.
const TTL: u32 = 10;

/// The sockets a resolver sends its questions upstream through (IPv4 and IPv6, those that can
/// be made), in the calling thread's network: the monitor makes them while it is in the
/// host's, before it moves into the container's, which a user's process cannot leave again.
pub fn outward_sockets() -> Vec<UdpSocket> {
    [
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0)),
    ]
    .into_iter()
    .filter_map(|local| UdpSocket::bind(local).ok())
    .filter(|s| s.set_nonblocking(true).is_ok())
    .collect()
}

/// Binds the resolver's socket inside the network namespace `ns` (which `in_namespace` joins).
pub fn bind(ns: BorrowedFd<'_>) -> io::Result<UdpSocket> {
    super::bridge::in_namespace(ns, || {
        let socket = UdpSocket::bind(SocketAddr::new(IpAddr::V4(ADDRESS), 53))?;
        socket.set_nonblocking(true)?;
        Ok(socket)
    })
}

/// A question sent upstream under an id of the resolver's own (several clients may use the
/// same ids), and where its answer goes.
struct Forward {
    id: u16,
    client_id: u16,
    client: SocketAddr,
    query: Vec<u8>,
    upstream: usize,
    deadline: Instant,
}

pub struct Resolver {
    /// The socket inside the container first, then the ones the questions go upstream
    /// through (IPv4, IPv6), made in the host's network.
    sockets: Vec<UdpSocket>,
    tables: Vec<Table>,
    upstreams: Vec<SocketAddr>,
    pending: Vec<Forward>,
    next_id: u16,
    seed: u64,
}

impl Resolver {
    /// `socket`: bound inside the container (`bind`); `outward`: the sockets questions go
    /// upstream through (`outward_sockets`, made in the host's network).
    pub fn new(
        socket: UdpSocket,
        outward: Vec<UdpSocket>,
        tables: Vec<Table>,
        upstreams: Vec<IpAddr>,
    ) -> Resolver {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            | 1;
        let mut sockets = vec![socket];
        sockets.extend(outward);
        Resolver {
            sockets,
            tables,
            upstreams: upstreams
                .into_iter()
                .map(|a| SocketAddr::new(a, 53))
                .collect(),
            pending: Vec::new(),
            next_id: (seed >> 16) as u16,
            seed,
        }
    }

    /// The networks answered for changed (`network connect`, `disconnect`).
    pub fn set_tables(&mut self, tables: Vec<Table>) {
        self.tables = tables;
    }

    /// The descriptors to poll for reading.
    pub fn fds(&self) -> Vec<BorrowedFd<'_>> {
        self.sockets.iter().map(|s| s.as_fd()).collect()
    }

    /// How soon `expire` has work.
    pub fn timeout(&self) -> Option<Duration> {
        let now = Instant::now();
        self.pending
            .iter()
            .map(|p| p.deadline.saturating_duration_since(now))
            .min()
    }

    /// Descriptor `index` of `fds` is readable.
    pub fn ready(&mut self, index: usize) {
        if index == 0 {
            self.serve();
            return;
        }
        let mut buf = [0u8; 4096];
        loop {
            let Some(socket) = self.sockets.get(index) else {
                return;
            };
            let (n, from) = match socket.recv_from(&mut buf) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => continue,
            };
            if n < 12 {
                continue;
            }
            let id = u16::from_be_bytes([buf[0], buf[1]]);
            let Some(k) = self
                .pending
                .iter()
                .position(|p| p.id == id && self.upstreams.get(p.upstream) == Some(&from))
            else {
                continue;
            };
            let p = self.pending.remove(k);
            buf[..2].copy_from_slice(&p.client_id.to_be_bytes());
            let _ = self.sockets[0].send_to(&buf[..n], p.client);
        }
    }

    /// Asks the next upstream server for what the last one didn't answer in time; gives up on
    /// a question when none is left (the client asks again).
    pub fn expire(&mut self) {
        let now = Instant::now();
        let (due, waiting): (Vec<Forward>, Vec<Forward>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| p.deadline <= now);
        self.pending = waiting;
        for p in due {
            let mut query = p.query;
            query[..2].copy_from_slice(&p.client_id.to_be_bytes());
            self.forward(query, p.client, p.upstream + 1);
        }
    }

    fn serve(&mut self) {
        let mut buf = [0u8; 4096];
        loop {
            let (n, client) = match self.sockets[0].recv_from(&mut buf) {
                Ok(r) => r,
                Err(_) => return,
            };
            let query = &buf[..n];
            if n < 12 {
                continue;
            }
            match self.answer(query) {
                Some(reply) => {
                    let _ = self.sockets[0].send_to(&reply, client);
                }
                None => {
                    if !self.forward(query.to_vec(), client, 0) {
                        if let Some(reply) = failure(query, RCODE::ServerFailure) {
                            let _ = self.sockets[0].send_to(&reply, client);
                        }
                    }
                }
            }
        }
    }

    /// The answer to a question about a container's name; None for anything to forward.
    fn answer(&mut self, query: &[u8]) -> Option<Vec<u8>> {
        let packet = Packet::parse(query).ok()?;
        let [question] = packet.questions.as_slice() else {
            return None;
        };
        if !matches!(question.qclass, QCLASS::CLASS(CLASS::IN)) {
            return None;
        }
        let want_v4 = matches!(question.qtype, QTYPE::TYPE(TYPE::A));
        let want_v6 = matches!(question.qtype, QTYPE::TYPE(TYPE::AAAA));
        let name = question.qname.to_string();
        let name = name.trim_end_matches('.');
        if name.is_empty() {
            return None;
        }
        let mut found = lookup(&self.tables, name);
        if found.is_empty() {
            return None;
        }
        self.shuffle(&mut found);
        let mut reply = Packet::new_reply(packet.id());
        reply.set_flags(PacketFlag::RECURSION_AVAILABLE | PacketFlag::AUTHORITATIVE_ANSWER);
        if packet.has_flags(PacketFlag::RECURSION_DESIRED) {
            reply.set_flags(PacketFlag::RECURSION_DESIRED);
        }
        reply.questions.push(question.clone());
        // A name that is a container's answers only with its addresses: no AAAA for a
        // network without IPv6 is "no data", not a question for the upstream servers.
        for address in found {
            let rdata = match address {
                IpAddr::V4(a) if want_v4 => RData::A(A::from(a)),
                IpAddr::V6(a) if want_v6 => RData::AAAA(AAAA::from(a)),
                _ => continue,
            };
            reply.answers.push(ResourceRecord::new(
                question.qname.clone(),
                CLASS::IN,
                TTL,
                rdata,
            ));
        }
        reply.build_bytes_vec().ok()
    }

    /// Sends `query` to the first upstream server from `from` on that takes it; false when
    /// none is left.
    fn forward(&mut self, mut query: Vec<u8>, client: SocketAddr, from: usize) -> bool {
        let client_id = u16::from_be_bytes([query[0], query[1]]);
        for k in from..self.upstreams.len() {
            let upstream = self.upstreams[k];
            let Some(socket) = self.sockets[1..].iter().find(|s| {
                s.local_addr()
                    .is_ok_and(|l| l.is_ipv4() == upstream.is_ipv4())
            }) else {
                continue;
            };
            self.next_id = self.next_id.wrapping_add(1);
            let id = self.next_id;
            query[..2].copy_from_slice(&id.to_be_bytes());
            if socket.send_to(&query, upstream).is_err() {
                continue;
            }
            if self.pending.len() >= MAX_PENDING {
                self.pending.remove(0);
            }
            self.pending.push(Forward {
                id,
                client_id,
                client,
                query,
                upstream: k,
                deadline: Instant::now() + UPSTREAM_WAIT,
            });
            return true;
        }
        false
    }

    fn shuffle(&mut self, items: &mut [IpAddr]) {
        for i in (1..items.len()).rev() {
            // xorshift64: enough to vary the order between answers.
            self.seed ^= self.seed << 13;
            self.seed ^= self.seed >> 7;
            self.seed ^= self.seed << 17;
            items.swap(i, (self.seed % (i as u64 + 1)) as usize);
        }
    }
}

/// An empty answer with `code` to `query`.
fn failure(query: &[u8], code: RCODE) -> Option<Vec<u8>> {
    let packet = Packet::parse(query).ok()?;
    let mut reply = Packet::new_reply(packet.id());
    *reply.rcode_mut() = code;
    reply.questions = packet.questions.clone();
    reply.build_bytes_vec().ok()
}

/// The servers a resolver forwards to: the name servers of `resolv_conf`'s text (the host's),
/// or `dns` (`--dns`) where given.
pub fn upstreams(dns: &[String], resolv_conf: &str) -> Vec<IpAddr> {
    if !dns.is_empty() {
        return dns.iter().filter_map(|d| d.parse().ok()).collect();
    }
    resolv_conf
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some("nameserver"))
                .then(|| words.next())
                .flatten()
                .and_then(|a| a.split('%').next())
                .and_then(|a| a.parse().ok())
        })
        .filter(|a: &IpAddr| *a != IpAddr::V4(ADDRESS))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::names::Entry;

    fn query(name: &str, qtype: TYPE) -> Vec<u8> {
        let mut p = Packet::new_query(7);
        p.set_flags(PacketFlag::RECURSION_DESIRED);
        p.questions.push(simple_dns::Question::new(
            simple_dns::Name::new_unchecked(name),
            QTYPE::TYPE(qtype),
            QCLASS::CLASS(CLASS::IN),
            false,
        ));
        p.build_bytes_vec().unwrap()
    }

    #[test]
    fn names_of_the_networks_are_answered_and_the_rest_forwarded() {
        let dir = tempfile::tempdir().unwrap();
        let table = Table::new(dir.path().join("n"));
        let me = std::process::id() as i32;
        for (id, ip) in [("a", "10.89.0.2"), ("b", "10.89.0.3")] {
            table
                .put(&Entry {
                    container: id.into(),
                    names: vec![format!("web-{id}"), "web".into()],
                    ipv4: Some(ip.parse().unwrap()),
                    ipv6: None,
                    mac: String::new(),
                    interface: "eth0".into(),
                    port: "v".into(),
                    monitor: me,
                    monitor_start: crate::sys::process_start(me),
                    netns_fd: 3,
                })
                .unwrap();
        }
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut r = Resolver::new(socket, outward_sockets(), vec![table], vec![]);
        let reply = r.answer(&query("WEB-a.", TYPE::A)).unwrap();
        let p = Packet::parse(&reply).unwrap();
        assert_eq!(p.id(), 7);
        assert_eq!(p.answers.len(), 1);
        assert!(
            matches!(&p.answers[0].rdata, RData::A(a) if Ipv4Addr::from(a.address) == Ipv4Addr::new(10, 89, 0, 2))
        );
        let both = Packet::parse(&r.answer(&query("web", TYPE::A)).unwrap())
            .unwrap()
            .answers
            .len();
        assert_eq!(both, 2, "an alias of two containers answers with both");
        let bytes = r.answer(&query("web", TYPE::AAAA)).unwrap();
        let none = Packet::parse(&bytes).unwrap();
        assert!(none.answers.is_empty() && none.rcode() == RCODE::NoError);
        assert!(r.answer(&query("example.org", TYPE::A)).is_none());
        let bytes = failure(&query("x", TYPE::A), RCODE::ServerFailure).unwrap();
        let refused = Packet::parse(&bytes).unwrap();
        assert_eq!(refused.rcode(), RCODE::ServerFailure);
    }

    #[test]
    fn upstreams_are_the_flags_or_the_hosts_servers() {
        let host = "search x\nnameserver 127.0.0.53\nnameserver fe80::1%eth0\n";
        assert_eq!(
            upstreams(&[], host),
            [
                "127.0.0.53".parse::<IpAddr>().unwrap(),
                "fe80::1".parse().unwrap()
            ]
        );
        assert_eq!(
            upstreams(&["10.1.1.1".into()], host),
            ["10.1.1.1".parse::<IpAddr>().unwrap()]
        );
    }
}
