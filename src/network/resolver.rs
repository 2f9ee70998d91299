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
//! Over UDP and TCP: a question that comes over TCP (a client's retry after a truncated
//! answer) goes upstream over UDP with EDNS's larger size, and its answer back over TCP.

use std::io;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
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

/// How long a TCP client has to ask and be answered.
const STREAM_WAIT: Duration = Duration::from_secs(5);
/// TCP clients served at once, at most.
const MAX_STREAMS: usize = 16;

/// The resolver's sockets inside the container.
pub struct Listening {
    udp: UdpSocket,
    tcp: TcpListener,
}

/// Binds the resolver's sockets inside the network namespace `ns` (which `in_namespace`
/// joins).
pub fn bind(ns: BorrowedFd<'_>) -> io::Result<Listening> {
    super::bridge::in_namespace(ns, || {
        let address = SocketAddr::new(IpAddr::V4(ADDRESS), 53);
        let udp = UdpSocket::bind(address)?;
        udp.set_nonblocking(true)?;
        let tcp = TcpListener::bind(address)?;
        tcp.set_nonblocking(true)?;
        Ok(Listening { udp, tcp })
    })
}

/// Where an answer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    Udp(SocketAddr),
    /// The TCP client of this number.
    Tcp(u64),
}

/// A TCP client: what it sent so far.
struct Stream {
    number: u64,
    socket: TcpStream,
    read: Vec<u8>,
    deadline: Instant,
    /// Its question is upstream: nothing more is read.
    asked: bool,
}

/// A question sent upstream under an id of the resolver's own (several clients may use the
/// same ids), and where its answer goes.
struct Forward {
    id: u16,
    client_id: u16,
    client: Client,
    query: Vec<u8>,
    upstream: usize,
    deadline: Instant,
}

pub struct Resolver {
    /// The socket inside the container first, then the ones the questions go upstream
    /// through (IPv4, IPv6), made in the host's network.
    sockets: Vec<UdpSocket>,
    listener: TcpListener,
    streams: Vec<Stream>,
    streams_made: u64,
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
        listening: Listening,
        outward: Vec<UdpSocket>,
        tables: Vec<Table>,
        upstreams: Vec<IpAddr>,
    ) -> Resolver {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            | 1;
        let mut sockets = vec![listening.udp];
        sockets.extend(outward);
        Resolver {
            sockets,
            listener: listening.tcp,
            streams: Vec::new(),
            streams_made: 0,
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

    /// The descriptors to poll for reading: the UDP sockets, the TCP listener, its clients.
    pub fn fds(&self) -> Vec<BorrowedFd<'_>> {
        self.sockets
            .iter()
            .map(|s| s.as_fd())
            .chain(std::iter::once(self.listener.as_fd()))
            .chain(self.streams.iter().map(|s| s.socket.as_fd()))
            .collect()
    }

    /// How soon `expire` has work.
    pub fn timeout(&self) -> Option<Duration> {
        let now = Instant::now();
        self.pending
            .iter()
            .map(|p| p.deadline)
            .chain(self.streams.iter().map(|s| s.deadline))
            .map(|d| d.saturating_duration_since(now))
            .min()
    }

    /// Descriptor `index` of `fds` is readable.
    pub fn ready(&mut self, index: usize) {
        let udp = self.sockets.len();
        if index == 0 {
            self.serve();
            return;
        }
        if index == udp {
            self.accept();
            return;
        }
        if index > udp {
            self.read_stream(index - udp - 1);
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
            self.reply(p.client, &buf[..n]);
        }
    }

    fn reply(&mut self, client: Client, answer: &[u8]) {
        match client {
            Client::Udp(to) => {
                let _ = self.sockets[0].send_to(answer, to);
            }
            Client::Tcp(number) => {
                if let Some(k) = self.streams.iter().position(|s| s.number == number) {
                    let mut s = self.streams.remove(k);
                    let mut framed = (answer.len() as u16).to_be_bytes().to_vec();
                    framed.extend_from_slice(answer);
                    // Small, on a fresh connection: it fits the socket's buffer at once.
                    let _ = s.socket.set_nonblocking(false);
                    let _ = s.socket.set_write_timeout(Some(Duration::from_millis(200)));
                    let _ = s.socket.write_all(&framed);
                }
            }
        }
    }

    fn accept(&mut self) {
        while let Ok((socket, _)) = self.listener.accept() {
            if self.streams.len() >= MAX_STREAMS || socket.set_nonblocking(true).is_err() {
                continue;
            }
            self.streams_made += 1;
            self.streams.push(Stream {
                number: self.streams_made,
                socket,
                read: Vec::new(),
                deadline: Instant::now() + STREAM_WAIT,
                asked: false,
            });
        }
    }

    /// TCP client `k` sent something: its question, once whole, is answered or forwarded.
    fn read_stream(&mut self, k: usize) {
        let Some(s) = self.streams.get_mut(k) else {
            return;
        };
        let mut buf = [0u8; 1024];
        match s.socket.read(&mut buf) {
            Ok(0) => {
                self.streams.remove(k);
                return;
            }
            Ok(n) if !s.asked => s.read.extend_from_slice(&buf[..n]),
            Ok(_) => return,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(_) => {
                self.streams.remove(k);
                return;
            }
        }
        if s.read.len() > 4096 {
            self.streams.remove(k);
            return;
        }
        let want = match s.read.get(..2) {
            Some(l) => u16::from_be_bytes([l[0], l[1]]) as usize,
            None => return,
        };
        if s.read.len() < 2 + want || want < 12 {
            return;
        }
        s.asked = true;
        let query = s.read[2..2 + want].to_vec();
        let client = Client::Tcp(s.number);
        match self.answer(&query) {
            Some(answer) => self.reply(client, &answer),
            None => {
                // Upstream over UDP, where an answer may be as large as EDNS allows.
                if !self.forward(with_edns(query.clone()), client, 0) {
                    if let Some(answer) = failure(&query, RCODE::ServerFailure) {
                        self.reply(client, &answer);
                    }
                }
            }
        }
    }

    /// Asks the next upstream server for what the last one didn't answer in time; gives up on
    /// a question when none is left (the client asks again).
    pub fn expire(&mut self) {
        let now = Instant::now();
        self.streams.retain(|s| s.deadline > now);
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
            let client = Client::Udp(client);
            match self.answer(query) {
                Some(reply) => self.reply(client, &reply),
                None => {
                    if !self.forward(query.to_vec(), client, 0) {
                        if let Some(reply) = failure(query, RCODE::ServerFailure) {
                            self.reply(client, &reply);
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
    fn forward(&mut self, mut query: Vec<u8>, client: Client, from: usize) -> bool {
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

/// `query` with EDNS's OPT record asking for answers of up to 4096 bytes over UDP, where it
/// has no additional record yet.
fn with_edns(mut query: Vec<u8>) -> Vec<u8> {
    if query.len() >= 12 && query[10] == 0 && query[11] == 0 {
        query[11] = 1;
        // Root name, type OPT (41), class = the payload size, no extended flags, no data.
        query.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
    }
    query
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
        let listening = Listening {
            udp: UdpSocket::bind("127.0.0.1:0").unwrap(),
            tcp: TcpListener::bind("127.0.0.1:0").unwrap(),
        };
        let mut r = Resolver::new(listening, outward_sockets(), vec![table], vec![]);
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
    fn names_are_answered_over_tcp_too() {
        let dir = tempfile::tempdir().unwrap();
        let table = Table::new(dir.path().join("n"));
        let me = std::process::id() as i32;
        table
            .put(&Entry {
                container: "a".into(),
                names: vec!["web".into()],
                ipv4: Some("10.89.0.2".parse().unwrap()),
                ipv6: None,
                mac: String::new(),
                interface: "eth0".into(),
                port: "v".into(),
                monitor: me,
                monitor_start: crate::sys::process_start(me),
                netns_fd: 3,
            })
            .unwrap();
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        tcp.set_nonblocking(true).unwrap();
        let address = tcp.local_addr().unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut r = Resolver::new(Listening { udp, tcp }, Vec::new(), vec![table], vec![]);
        let mut c = TcpStream::connect(address).unwrap();
        let q = query("web", TYPE::A);
        c.write_all(&(q.len() as u16).to_be_bytes()).unwrap();
        c.write_all(&q).unwrap();
        let listener = r.sockets.len();
        for _ in 0..200 {
            r.ready(listener);
            if !r.streams.is_empty() {
                r.ready(listener + 1);
            }
            if r.streams.is_empty() && r.streams_made > 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut len = [0u8; 2];
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.read_exact(&mut len).unwrap();
        let mut reply = vec![0u8; u16::from_be_bytes(len) as usize];
        c.read_exact(&mut reply).unwrap();
        let p = Packet::parse(&reply).unwrap();
        assert_eq!(p.answers.len(), 1, "{p:?}");
    }

    #[test]
    fn a_question_over_tcp_goes_upstream_with_edns() {
        let q = query("example.org", TYPE::A);
        let e = with_edns(q.clone());
        let p = Packet::parse(&e).unwrap();
        assert!(p.opt().is_some_and(|o| o.udp_packet_size == 4096), "{p:?}");
        assert_eq!(with_edns(e.clone()), e, "one OPT record only");
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
