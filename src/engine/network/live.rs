//! A container's monitor joining its user networks and leaving them. For each network, under
//! its name table's lock: the network's namespace is opened through a monitor that holds it,
//! or made anew with its bridge when none does (the namespace goes with the last monitor that
//! holds it, and its bridge and ports with it); an address is handed out; a veth pair joins
//! the container to the bridge; the container's entry goes into the table, naming this
//! monitor as a holder. Leaving removes the entry; the veth pair goes with the container's
//! namespace.

use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use ipnet::IpNet;

use super::super::container::record::{Attachment, ContainerRecord};
use crate::engine::Engine;
use crate::network::bridge;
use crate::network::names::{free_address, Entry, Table};
use crate::network::Definition;

/// The networks a container's monitor has joined, left when dropped.
pub(crate) struct Joined {
    /// The tables the container's resolver answers from.
    pub tables: Vec<Table>,
    /// The container's addresses, for its /etc/hosts.
    pub addresses: Vec<IpAddr>,
    /// Whether a resolver should serve the container (Podman's --disable-dns turns it off).
    pub dns: bool,
    held: Vec<(Table, String, OwnedFd)>,
}

impl Drop for Joined {
    fn drop(&mut self) {
        for (table, container, _ns) in &self.held {
            if let Ok(_lock) = table.lock() {
                table.remove(container);
            }
        }
    }
}

impl Engine {
    /// In the monitor: joins `record`'s user networks from its network namespace `netns`.
    /// None when it has none.
    pub(crate) fn join_networks(
        &self,
        record: &ContainerRecord,
        netns: BorrowedFd<'_>,
    ) -> Result<Option<Joined>, String> {
        if record.networks.is_empty() {
            return Ok(None);
        }
        let mut joined = Joined {
            tables: Vec::new(),
            addresses: Vec::new(),
            dns: true,
            held: Vec::new(),
        };
        for (k, attachment) in record.networks.iter().enumerate() {
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
            let (entry, ns) = join_one(&table, &def, record, attachment, k, netns)
                .map_err(|e| format!("joining network {}: {e}", def.name))?;
            joined.addresses.extend(entry.ipv4.map(IpAddr::V4));
            joined.addresses.extend(entry.ipv6.map(IpAddr::V6));
            joined.held.push((table.clone(), record.id.clone(), ns));
            joined.tables.push(table);
        }
        Ok(Some(joined))
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
