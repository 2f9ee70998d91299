//! A container's monitor joining its user networks and leaving them. For each network, under
//! its name table's lock: the network's namespace is opened through a monitor that holds it,
//! or made anew with its bridge when none does (the namespace goes with the last monitor that
//! holds it, and its bridge and ports with it); an address is handed out; a veth pair joins
//! the container to the bridge; the container's entry goes into the table, naming this
//! monitor as a holder. Leaving removes the entry; the veth pair goes with the container's
//! namespace, or is deleted when the container leaves a network while it runs (`network
//! disconnect`; `network connect` joins one then, through the same reconciliation).

use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use ipnet::IpNet;

use super::super::container::record::{Attachment, ContainerRecord};
use crate::engine::Engine;
use crate::network::bridge;
use crate::network::names::{free_address, Entry, Table};
use crate::network::resolver::Resolver;
use crate::network::Definition;

/// One network a container's monitor has joined: its entry there, and the network's
/// namespace, held open.
struct Held {
    network: String,
    table: Table,
    entry: Entry,
    _ns: OwnedFd,
}

/// The networks a container's monitor has joined, left when dropped.
pub(crate) struct Joined {
    container: String,
    held: Vec<Held>,
    /// Whether a resolver should serve the container (Podman's --disable-dns turns it off).
    pub dns: bool,
    /// The next veth's number (the names of its ports on the bridges).
    next: usize,
}

impl Joined {
    pub(crate) fn new(container: &str) -> Joined {
        Joined {
            container: container.to_string(),
            held: Vec::new(),
            dns: true,
            next: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// The tables the container's resolver answers from.
    pub fn tables(&self) -> Vec<Table> {
        self.held.iter().map(|h| h.table.clone()).collect()
    }

    /// The container's addresses, for its /etc/hosts.
    pub fn addresses(&self) -> Vec<IpAddr> {
        self.held
            .iter()
            .flat_map(|h| {
                h.entry
                    .ipv4
                    .map(IpAddr::V4)
                    .into_iter()
                    .chain(h.entry.ipv6.map(IpAddr::V6))
            })
            .collect()
    }
}

impl Drop for Joined {
    fn drop(&mut self) {
        for h in &self.held {
            if let Ok(_lock) = h.table.lock() {
                h.table.remove(&self.container);
            }
        }
    }
}

impl Engine {
    /// In the monitor: makes what `joined` holds match the networks `record` names now,
    /// from the container's network namespace `netns`: joins the new ones, leaves (and takes
    /// the interface of) the ones no longer named.
    pub(crate) fn reconcile_networks(
        &self,
        record: &ContainerRecord,
        netns: BorrowedFd<'_>,
        joined: &mut Joined,
    ) -> Result<(), String> {
        let mut k = 0;
        while k < joined.held.len() {
            if record
                .networks
                .iter()
                .any(|a| a.id == joined.held[k].network)
            {
                k += 1;
                continue;
            }
            let h = joined.held.remove(k);
            bridge::in_namespace(netns, || bridge::remove_link(&h.entry.interface))
                .map_err(|e| format!("removing {}: {e}", h.entry.interface))?;
            if let Ok(_lock) = h.table.lock() {
                h.table.remove(&record.id);
            }
        }
        for attachment in &record.networks {
            if joined.held.iter().any(|h| h.network == attachment.id) {
                continue;
            }
            let def = self.find_network(&attachment.id).map_err(|_| {
                format!(
                    "network {} was removed: disconnect the container from it (network \
                     disconnect {} {})",
                    attachment.name, attachment.name, record.name
                )
            })?;
            if def.options.get("dns").is_some_and(|v| v == "false") {
                joined.dns = false;
            }
            let table = self.network_table(&def);
            let (entry, ns) = join_one(&table, &def, record, attachment, joined.next, netns)
                .map_err(|e| format!("joining network {}: {e}", def.name))?;
            joined.next += 1;
            joined.held.push(Held {
                network: def.id.clone(),
                table,
                entry,
                _ns: ns,
            });
        }
        Ok(())
    }

    /// The live entries of container `id` on its networks: (network's definition, entry).
    pub(crate) fn container_endpoints(&self, record: &ContainerRecord) -> Vec<(Definition, Entry)> {
        record
            .networks
            .iter()
            .filter_map(|a| self.find_network(&a.id).ok())
            .filter_map(|d| {
                let e = self
                    .network_table(&d)
                    .get(&record.id)
                    .filter(Entry::alive)?;
                Some((d, e))
            })
            .collect()
    }
}

fn join_one(
    table: &Table,
    def: &Definition,
    record: &ContainerRecord,
    attachment: &Attachment,
    index: usize,
    netns: BorrowedFd<'_>,
) -> Result<(Entry, OwnedFd), String> {
    let _lock = table
        .lock()
        .map_err(|e| format!("locking its table: {e}"))?;
    table.clean();
    let live = table.live();
    let ns = match table.namespace() {
        Some(ns) => ns,
        None => {
            let ns = crate::sys::new_network_namespace()
                .map_err(|e| format!("creating its namespace: {e}"))?;
            let gateways = def.gateway_addresses();
            bridge::in_namespace(ns.as_fd(), || bridge::make_bridge(&gateways))
                .map_err(|e| format!("creating its bridge: {e}"))?;
            ns
        }
    };
    let taken: Vec<IpAddr> = live
        .iter()
        .flat_map(|e| {
            e.ipv4
                .map(IpAddr::V4)
                .into_iter()
                .chain(e.ipv6.map(IpAddr::V6))
        })
        .collect();
    let pick = |subnet: Option<&crate::network::Subnet>,
                wanted: Option<IpAddr>|
     -> Result<Option<IpAddr>, String> {
        let Some(s) = subnet else {
            return match wanted {
                Some(w) => Err(format!("{w}: the network has no subnet of its kind")),
                None => Ok(None),
            };
        };
        match wanted {
            Some(w) if !s.subnet.contains(&w) || Some(w) == s.gateway => Err(format!(
                "address {w} is not one the network hands out (its subnet is {})",
                s.subnet
            )),
            Some(w) if taken.contains(&w) => Err(format!(
                "address {w} is already in use on the network: choose another or none"
            )),
            Some(w) => Ok(Some(w)),
            None => free_address(s.subnet, s.range.unwrap_or(s.subnet), s.gateway, &taken)
                .map(Some)
                .ok_or_else(|| format!("no free address is left in {}", s.subnet)),
        }
    };
    let ipv4 = pick(def.v4(), attachment.ipv4.map(IpAddr::V4))?;
    let ipv6 = if def.ipv6 {
        pick(def.v6(), attachment.ipv6.map(IpAddr::V6))?
    } else {
        None
    };
    let v4 = match ipv4 {
        Some(IpAddr::V4(a)) => Some(a),
        _ => None,
    };
    let v6 = match ipv6 {
        Some(IpAddr::V6(a)) => Some(a),
        _ => None,
    };
    let mac = bridge::mac_for(v4.unwrap_or(std::net::Ipv4Addr::new(0, 0, 0, index as u8)));
    let port = format!("v{}{index}", &record.id[..12.min(record.id.len())]);
    let interface = bridge::in_namespace(ns.as_fd(), || bridge::add_port(&port, netns, mac))
        .map_err(|e| format!("adding its port: {e}"))?;
    let mut addresses: Vec<IpNet> = Vec::new();
    if let (Some(a), Some(s)) = (ipv4, def.v4()) {
        addresses.push(s.with_prefix(a));
    }
    if let (Some(a), Some(s)) = (ipv6, def.v6()) {
        addresses.push(s.with_prefix(a));
    }
    bridge::in_namespace(netns, || bridge::configure(&interface, &addresses))
        .map_err(|e| format!("configuring {interface}: {e}"))?;
    let mut names = vec![record.name.clone()];
    names.extend(attachment.aliases.iter().cloned());
    names.push(record.id[..12.min(record.id.len())].to_string());
    let me = std::process::id() as i32;
    let entry = Entry {
        container: record.id.clone(),
        names,
        ipv4: v4,
        ipv6: v6,
        mac: bridge::mac_text(mac),
        interface,
        port,
        monitor: me,
        monitor_start: crate::sys::process_start(me),
        netns_fd: ns.as_raw_fd(),
    };
    table
        .put(&entry)
        .map_err(|e| format!("writing its name table: {e}"))?;
    Ok((entry, ns))
}

/// A container's part on its networks, as its monitor holds it for the container's life: what
/// it joined, its resolver (on user networks, or for a name server on the host's loopback), and
/// what a `network connect` while it runs needs later: its namespace, and sockets for a resolver
/// made in the host's network.
pub(crate) struct ContainerNet {
    netns: OwnedFd,
    joined: Joined,
    resolver: Option<Resolver>,
    outward: Vec<std::net::UdpSocket>,
    upstreams: Vec<IpAddr>,
    /// A resolver serves the container without user networks (a loopback name server).
    forwards: bool,
}

impl ContainerNet {
    /// In the monitor, still in the host's network: joins `record`'s networks from `netns`
    /// and starts the resolver where one serves.
    pub(crate) fn start(
        engine: &Engine,
        record: &ContainerRecord,
        netns: BorrowedFd<'_>,
        host_resolv_conf: &str,
    ) -> Result<ContainerNet, String> {
        let mut net = ContainerNet {
            netns: netns
                .try_clone_to_owned()
                .map_err(|e| format!("holding the network namespace: {e}"))?,
            joined: Joined::new(&record.id),
            resolver: None,
            outward: crate::network::resolver::outward_sockets(),
            upstreams: crate::network::resolver::upstreams(&record.etc.dns, host_resolv_conf),
            forwards: record.networks.is_empty()
                && super::super::container::network::serves_resolver(record, host_resolv_conf),
        };
        net.reconcile(engine, record)?;
        Ok(net)
    }

    /// Joins and leaves networks as `record` names them now; the resolver follows.
    pub(crate) fn reconcile(
        &mut self,
        engine: &Engine,
        record: &ContainerRecord,
    ) -> Result<(), String> {
        let result = engine.reconcile_networks(record, self.netns.as_fd(), &mut self.joined);
        if self.serves() && self.resolver.is_none() {
            let socket = crate::network::resolver::bind(self.netns.as_fd())
                .map_err(|e| format!("starting the container's resolver: {e}"))?;
            self.resolver = Some(Resolver::new(
                socket,
                std::mem::take(&mut self.outward),
                Vec::new(),
                self.upstreams.clone(),
            ));
        }
        if let Some(r) = &mut self.resolver {
            r.set_tables(self.joined.tables());
        }
        result
    }

    /// Whether the container's resolv.conf names the resolver.
    pub(crate) fn serves(&self) -> bool {
        (!self.joined.is_empty() && self.joined.dns) || self.forwards
    }

    pub(crate) fn addresses(&self) -> Vec<IpAddr> {
        self.joined.addresses()
    }

    pub(crate) fn resolver(&mut self) -> Option<&mut Resolver> {
        self.resolver.as_mut()
    }

    pub(crate) fn resolver_ref(&self) -> Option<&Resolver> {
        self.resolver.as_ref()
    }
}
