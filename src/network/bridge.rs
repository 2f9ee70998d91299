//! The links of a user network, made over rtnetlink: a bridge in the network's own namespace
//! and, per container, a veth pair whose one end is a port of that bridge and whose other is
//! the container's `ethN`. Containers on the network reach each other across the bridge; their
//! way out (when the network is not internal) is each container's own user-mode helper, so the
//! bridge's namespace needs no address translation and no helper of its own.
//!
//! Each function works in the calling thread's network namespace (a netlink socket belongs to
//! the namespace it is made in); `in_namespace` runs one in another's.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

use ipnet::IpNet;
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressHeaderFlags, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// The bridge's name inside the network's namespace (it is alone there).
pub const BRIDGE: &str = "br0";
/// The links' MTU, as the user-mode helpers': loopback's size, so that traffic between
/// containers goes in few, large packets.
const MTU: u32 = 65520;

/// Runs `f` in a short-lived thread that has joined the network namespace `ns`, so that the
/// caller stays in its own.
pub fn in_namespace<T: Send>(
    ns: BorrowedFd<'_>,
    f: impl FnOnce() -> io::Result<T> + Send,
) -> io::Result<T> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                rustix::thread::move_into_link_name_space(
                    ns,
                    Some(rustix::thread::LinkNameSpaceType::Network),
                )
                .map_err(io::Error::from)?;
                f()
            })
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("a network thread panicked")))
    })
}

/// One rtnetlink conversation.
struct Netlink {
    socket: Socket,
    sequence: u32,
}

impl Netlink {
    fn open() -> io::Result<Netlink> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        Ok(Netlink {
            socket,
            sequence: 0,
        })
    }

    /// Sends `message` and waits for the kernel's answer: the messages it sent back before
    /// its acknowledgement, or the error it gave.
    fn request(
        &mut self,
        message: RouteNetlinkMessage,
        flags: u16,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        self.sequence += 1;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = self.sequence;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(message));
        packet.finalize();
        let mut buf = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.socket.send(&buf, 0)?;
        let mut replies = Vec::new();
        let mut receive = vec![0u8; 64 * 1024];
        loop {
            let n = self.socket.recv(&mut &mut receive[..], 0)?;
            let mut offset = 0;
            while offset < n {
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&receive[offset..n])
                    .map_err(|e| io::Error::other(format!("a netlink reply: {e}")))?;
                let length = reply.header.length as usize;
                if length == 0 {
                    return Err(io::Error::other("an empty netlink reply"));
                }
                offset += length;
                if reply.header.sequence_number != self.sequence {
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(replies),
                            Some(_) => Err(e.to_io()),
                        }
                    }
                    NetlinkPayload::Done(_) => return Ok(replies),
                    NetlinkPayload::InnerMessage(m) => replies.push(m),
                    _ => {}
                }
            }
        }
    }

    /// The index of the link called `name`.
    fn index(&mut self, name: &str) -> io::Result<u32> {
        let mut message = LinkMessage::default();
        message
            .attributes
            .push(LinkAttribute::IfName(name.to_string()));
        let replies = self.request(RouteNetlinkMessage::GetLink(message), 0)?;
        replies
            .into_iter()
            .find_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some(l.header.index),
                _ => None,
            })
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no link {name}")))
    }

    fn set_up(&mut self, index: u32) -> io::Result<()> {
        let mut message = LinkMessage::default();
        message.header.index = index;
        message.header.flags = LinkFlags::Up;
        message.header.change_mask = LinkFlags::Up;
        self.request(RouteNetlinkMessage::SetLink(message), 0)
            .map(drop)
    }

    fn add_address(&mut self, index: u32, net: IpNet) -> io::Result<()> {
        let mut message = AddressMessage::default();
        message.header.index = index;
        message.header.prefix_len = net.prefix_len();
        // No duplicate address detection: the addresses are handed out from one table, and
        // waiting for it would hold IPv6 back for a second or more.
        message.header.flags = AddressHeaderFlags::Nodad;
        let address = net.addr();
        match address {
            IpAddr::V4(_) => {
                message.header.family = AddressFamily::Inet;
                message.attributes.push(AddressAttribute::Local(address));
                message.attributes.push(AddressAttribute::Address(address));
                if let IpNet::V4(n) = net {
                    if n.prefix_len() < 31 {
                        message
                            .attributes
                            .push(AddressAttribute::Broadcast(n.broadcast()));
                    }
                }
            }
            IpAddr::V6(_) => {
                message.header.family = AddressFamily::Inet6;
                message.attributes.push(AddressAttribute::Address(address));
            }
        }
        self.request(
            RouteNetlinkMessage::NewAddress(message),
            NLM_F_CREATE | NLM_F_EXCL,
        )
        .map(drop)
    }
}

/// In the network's namespace: its bridge, up, with the gateway addresses.
pub fn make_bridge(addresses: &[IpNet]) -> io::Result<()> {
    let mut nl = Netlink::open()?;
    let mut message = LinkMessage::default();
    message
        .attributes
        .push(LinkAttribute::IfName(BRIDGE.to_string()));
    message.attributes.push(LinkAttribute::Mtu(MTU));
    message
        .attributes
        .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
            InfoKind::Bridge,
        )]));
    nl.request(
        RouteNetlinkMessage::NewLink(message),
        NLM_F_CREATE | NLM_F_EXCL,
    )?;
    let index = nl.index(BRIDGE)?;
    for a in addresses {
        nl.add_address(index, *a)?;
    }
    nl.set_up(index)
}

/// In the network's namespace: a veth pair, `port` on the bridge and up, its peer moved into
/// `container` (a network namespace) as the first free `ethN` with `mac`. Returns the peer's
/// name.
pub fn add_port(port: &str, container: BorrowedFd<'_>, mac: [u8; 6]) -> io::Result<String> {
    let mut nl = Netlink::open()?;
    let bridge = nl.index(BRIDGE)?;
    // A name the container's namespace has (its helper's interface may be eth0) answers
    // EEXIST: the next one is tried.
    for n in 0..16 {
        let name = format!("eth{n}");
        let mut peer = LinkMessage::default();
        peer.attributes.push(LinkAttribute::IfName(name.clone()));
        peer.attributes
            .push(LinkAttribute::NetNsFd(container.as_raw_fd()));
        peer.attributes.push(LinkAttribute::Address(mac.to_vec()));
        peer.attributes.push(LinkAttribute::Mtu(MTU));
        let mut message = LinkMessage::default();
        message
            .attributes
            .push(LinkAttribute::IfName(port.to_string()));
        message.attributes.push(LinkAttribute::Controller(bridge));
        message.attributes.push(LinkAttribute::Mtu(MTU));
        message.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
        ]));
        match nl.request(
            RouteNetlinkMessage::NewLink(message),
            NLM_F_CREATE | NLM_F_EXCL,
        ) {
            Ok(_) => {
                let index = nl.index(port)?;
                nl.set_up(index)?;
                return Ok(name);
            }
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) && nl.index(port).is_err() => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("no free interface name in the container"))
}

/// In the container's namespace: `name` up with `addresses`.
pub fn configure(name: &str, addresses: &[IpNet]) -> io::Result<()> {
    let mut nl = Netlink::open()?;
    let index = nl.index(name)?;
    for a in addresses {
        nl.add_address(index, *a)?;
    }
    nl.set_up(index)
}

/// Deletes the link `name` (a veth's end takes its peer with it).
pub fn remove_link(name: &str) -> io::Result<()> {
    let mut nl = Netlink::open()?;
    let index = nl.index(name)?;
    let mut message = LinkMessage::default();
    message.header.index = index;
    nl.request(RouteNetlinkMessage::DelLink(message), 0)
        .map(drop)
}

/// Docker's MAC for an address on a bridge network: 02:42 and the IPv4 address.
pub fn mac_for(address: std::net::Ipv4Addr) -> [u8; 6] {
    let o = address.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

pub fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
