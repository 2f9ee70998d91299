//! The network wing: user networks' definitions in the user's store (`network create`, `ls`,
//! `inspect`, `rm`, `prune`, `exists`), Docker's three predefined networks beside them, and
//! (in `live`) what a container's monitor does to join its networks and leave them.
//!
//! A definition is `DATA/networks/NAME.json`, written under the store lock to a temporary name
//! and renamed. Its live part is in the runtime directory: `RUNROOT/networks/ID/`, the name
//! table of the containers attached now (see `network::names`).

pub mod live;

use std::fs;
use std::path::PathBuf;

use serde_json::{json, Value};

use super::container::record::ContainerRecord;
use crate::engine::{Engine, ObjectKind};
use crate::network::names::Table;
use crate::network::{CreateOptions, Definition};
use crate::Error;

/// Docker's predefined networks: (name, driver).
pub const PREDEFINED: &[(&str, &str)] = &[("bridge", "bridge"), ("host", "host"), ("none", "null")];

/// One row of `network ls`, predefined or the user's.
#[derive(Debug, Clone)]
pub struct NetworkRow {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub internal: bool,
    pub ipv6: bool,
    pub labels: std::collections::BTreeMap<String, String>,
    pub created: String,
    pub predefined: bool,
    /// Containers that name it (any state).
    pub containers: usize,
}

impl Engine {
    fn networks_dir(&self) -> PathBuf {
        self.paths.data_root.join("networks")
    }

    /// The live part of `def`: its name table.
    pub(crate) fn network_table(&self, def: &Definition) -> Table {
        Table::new(self.paths.run_root.join("networks").join(&def.id))
    }

    /// The user's networks, by name.
    pub fn networks(&self) -> Result<Vec<Definition>, Error> {
        let dir = self.networks_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::Other(format!("listing {}: {e}", dir.display()))),
        };
        let mut out: Vec<Definition> = entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .filter_map(|e| fs::read(e.path()).ok())
            .filter_map(|b| serde_json::from_slice(&b).ok())
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// A user network by name, full id or unique id prefix.
    pub fn find_network(&self, name: &str) -> Result<Definition, Error> {
        let all = self.networks()?;
        if let Some(d) = all.iter().find(|d| d.name == name || d.id == name) {
            return Ok(d.clone());
        }
        let hits: Vec<&Definition> = all.iter().filter(|d| d.id.starts_with(name)).collect();
        match hits.as_slice() {
            [one] if !name.is_empty() => Ok((*one).clone()),
            [] | [_] => Err(no_such_network(name)),
            _ => Err(Error::Conflict(format!(
                "multiple networks match {name:?}: give more of the id"
            ))),
        }
    }

    /// `network create`. With `ignore` (Podman's `--ignore`), an existing network of that name
    /// is returned as it is.
    pub fn create_network(
        &self,
        name: &str,
        opts: &CreateOptions,
        ignore: bool,
    ) -> Result<Definition, Error> {
        let _lock = self.store.lock()?;
        let others = self.networks()?;
        if let Some(d) = others.iter().find(|d| d.name == name) {
            if ignore {
                return Ok(d.clone());
            }
            return Err(Error::NameInUse(format!(
                "network with name {name} already exists: remove it or choose another name"
            )));
        }
        let id = super::container::create::random_id()?;
        let routes =
            crate::network::host_routes(&fs::read_to_string("/proc/net/route").unwrap_or_default());
        let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let def = crate::network::define(name, &id, &created, opts, &others, &routes)?;
        let dir = self.networks_dir();
        fs::create_dir_all(&dir)
            .map_err(|e| Error::Other(format!("creating {}: {e}", dir.display())))?;
        crate::store::write_json_replace(&dir.join(format!("{name}.json")), &def)?;
        Ok(def)
    }

    /// The containers whose records name `def` (in any state).
    pub(crate) fn network_users(&self, def: &Definition) -> Result<Vec<ContainerRecord>, Error> {
        Ok(self
            .containers()?
            .into_iter()
            .filter(|c| c.networks.iter().any(|a| a.id == def.id))
            .collect())
    }

    /// `network rm`: the network's name as given back. One that containers use is refused.
    pub fn remove_network(&self, name: &str) -> Result<String, Error> {
        if PREDEFINED.iter().any(|(n, _)| *n == name) {
            return Err(Error::Conflict(format!(
                "{name} is a pre-defined network and cannot be removed"
            )));
        }
        let _lock = self.store.lock()?;
        let def = self.find_network(name)?;
        let users = self.network_users(&def)?;
        if !users.is_empty() {
            let names: Vec<&str> = users.iter().map(|c| c.name.as_str()).collect();
            return Err(Error::Conflict(format!(
                "network {} is in use by container(s) {}: remove them (or disconnect them) first",
                def.name,
                names.join(", ")
            )));
        }
        let path = self.networks_dir().join(format!("{}.json", def.name));
        fs::remove_file(&path)
            .map_err(|e| Error::Other(format!("removing {}: {e}", path.display())))?;
        let _ = fs::remove_dir_all(self.network_table(&def).dir());
        Ok(def.name)
    }

    /// `network prune`: the user's networks no container names, removed; their names.
    pub fn prune_networks(
        &self,
        filters: &crate::engine::PruneFilters,
    ) -> Result<Vec<String>, Error> {
        let unused: Vec<Definition> = {
            let containers = self.containers()?;
            self.networks()?
                .into_iter()
                .filter(|d| {
                    !containers
                        .iter()
                        .any(|c| c.networks.iter().any(|a| a.id == d.id))
                })
                .filter(|d| {
                    let created = chrono::DateTime::parse_from_rfc3339(&d.created)
                        .map(|t| t.with_timezone(&chrono::Utc))
                        .ok();
                    filters.matches(created, &|| {
                        d.labels
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect()
                    })
                })
                .collect()
        };
        let mut removed = Vec::new();
        for d in unused {
            match self.remove_network(&d.id) {
                Ok(name) => removed.push(name),
                // Taken into use meanwhile.
                Err(Error::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }

    /// `network ls`'s rows: Docker's predefined networks, then the user's.
    pub fn network_rows(&self) -> Result<Vec<NetworkRow>, Error> {
        let containers = self.containers()?;
        let created = fs::metadata(&self.paths.data_root)
            .and_then(|m| m.created().or_else(|_| m.modified()))
            .map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339())
            .unwrap_or_default();
        let mut rows: Vec<NetworkRow> = PREDEFINED
            .iter()
            .map(|(name, driver)| NetworkRow {
                id: predefined_id(name),
                name: name.to_string(),
                driver: driver.to_string(),
                internal: false,
                ipv6: false,
                labels: Default::default(),
                created: created.clone(),
                predefined: true,
                containers: containers
                    .iter()
                    .filter(|c| c.networks.is_empty() && network_mode(c) == *name)
                    .count(),
            })
            .collect();
        for d in self.networks()? {
            rows.push(NetworkRow {
                containers: containers
                    .iter()
                    .filter(|c| c.networks.iter().any(|a| a.id == d.id))
                    .count(),
                id: d.id,
                name: d.name,
                driver: d.driver,
                internal: d.internal,
                ipv6: d.ipv6,
                labels: d.labels,
                created: d.created,
                predefined: false,
            });
        }
        Ok(rows)
    }

    /// `network inspect NAME`, in Docker's shape.
    pub fn inspect_network(&self, name: &str) -> Result<Value, Error> {
        if let Some((n, driver)) = PREDEFINED.iter().find(|(n, _)| *n == name) {
            let row = self
                .network_rows()?
                .into_iter()
                .find(|r| r.name == *n)
                .expect("a predefined row");
            return Ok(json!({
                "Name": n,
                "Id": row.id,
                "Created": row.created,
                "Scope": "local",
                "Driver": driver,
                "EnableIPv4": *n == "bridge",
                "EnableIPv6": false,
                "IPAM": {"Driver": "default", "Options": null, "Config": []},
                "Internal": false,
                "Attachable": false,
                "Ingress": false,
                "ConfigFrom": {"Network": ""},
                "ConfigOnly": false,
                "Containers": {},
                "Options": {},
                "Labels": {},
            }));
        }
        let def = self.find_network(name)?;
        let table = self.network_table(&def);
        let names = self.container_names();
        let containers: serde_json::Map<String, Value> = table
            .live()
            .into_iter()
            .map(|e| {
                let prefix = |s: Option<&crate::network::Subnet>| {
                    s.map(|s| s.subnet.prefix_len()).unwrap_or(0)
                };
                let v = json!({
                    "Name": names.iter().find(|(id, _)| *id == e.container).map(|(_, n)| n.clone()).unwrap_or_default(),
                    "EndpointID": endpoint_id(&def.id, &e.container),
                    "MacAddress": e.mac,
                    "IPv4Address": e.ipv4.map(|a| format!("{a}/{}", prefix(def.v4()))).unwrap_or_default(),
                    "IPv6Address": e.ipv6.map(|a| format!("{a}/{}", prefix(def.v6()))).unwrap_or_default(),
                });
                (e.container, v)
            })
            .collect();
        let config: Vec<Value> = def
            .subnets
            .iter()
            .map(|s| {
                let mut c = json!({"Subnet": s.subnet.to_string()});
                if let Some(g) = s.gateway {
                    c["Gateway"] = json!(g.to_string());
                }
                if let Some(r) = s.range {
                    c["IPRange"] = json!(r.to_string());
                }
                c
            })
            .collect();
        Ok(json!({
            "Name": def.name,
            "Id": def.id,
            "Created": def.created,
            "Scope": "local",
            "Driver": def.driver,
            "EnableIPv4": true,
            "EnableIPv6": def.ipv6,
            "IPAM": {"Driver": "default", "Options": {}, "Config": config},
            "Internal": def.internal,
            "Attachable": false,
            "Ingress": false,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": false,
            "Containers": containers,
            "Options": def.options,
            "Labels": def.labels,
        }))
    }

    /// `network exists`.
    pub fn network_exists(&self, name: &str) -> Result<bool, Error> {
        if PREDEFINED.iter().any(|(n, _)| *n == name) {
            return Ok(true);
        }
        match self.find_network(name) {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found(ObjectKind::Network) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn container_names(&self) -> Vec<(String, String)> {
        self.containers()
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c.id, c.name))
            .collect()
    }
}

/// Docker's "No such network" (a missing network in `network rm` exits 1).
pub fn no_such_network(name: &str) -> Error {
    Error::not_found(ObjectKind::Network, format!("No such network: {name}"))
}

/// A stable id for a predefined network (Docker's change with each daemon; ours never do).
fn predefined_id(name: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(format!("skiff network {name}")))
}

/// An endpoint's id: one container on one network.
pub(crate) fn endpoint_id(network: &str, container: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(format!("{network}/{container}")))
}

/// The predefined network a container without user networks is on.
fn network_mode(c: &ContainerRecord) -> &'static str {
    if c.user_network.is_some() {
        "bridge"
    } else if c.spec.namespaces.network == crate::runtime::container::Namespace::Host {
        "host"
    } else if c.network_of.is_some() {
        ""
    } else {
        "none"
    }
}

impl Engine {
    /// `network connect NET CTR`: a running container joins it now (its monitor does), any
    /// other at its next start.
    pub fn connect_network(
        &self,
        network: &str,
        container: &str,
        aliases: &[String],
        ipv4: Option<std::net::Ipv4Addr>,
        ipv6: Option<std::net::Ipv6Addr>,
    ) -> Result<(), Error> {
        if PREDEFINED.iter().any(|(n, _)| *n == network) {
            return Err(Error::NotSupported(format!(
                "connecting a container to the predefined network {network}"
            )));
        }
        let (before, running) = {
            let _lock = self.store.lock()?;
            let def = self.user_network(network)?;
            let mut record = self.find_container(container)?;
            let before = record.clone();
            if record.network_of.is_some()
                || record.spec.namespaces.network == crate::runtime::container::Namespace::Host
                || (record.user_network.is_none() && record.networks.is_empty())
            {
                return Err(Error::Invalid(format!(
                    "container {} has the host's network, another container's or none: it \
                     can't be connected to a network",
                    record.name
                )));
            }
            if record.networks.iter().any(|a| a.id == def.id) {
                return Err(Error::Conflict(format!(
                    "endpoint with name {} already exists in network {}",
                    record.name, def.name
                )));
            }
            record.networks.push(super::container::record::Attachment {
                id: def.id.clone(),
                name: def.name.clone(),
                aliases: aliases.to_vec(),
                ipv4,
                ipv6,
            });
            self.save_container(&record)?;
            (before, self.is_running(&record))
        };
        if running {
            self.follow_networks(&before)?;
        }
        Ok(())
    }

    /// `network disconnect NET CTR`: a running container leaves it now.
    pub fn disconnect_network(&self, network: &str, container: &str) -> Result<(), Error> {
        let (before, running) = {
            let _lock = self.store.lock()?;
            let mut record = self.find_container(container)?;
            let before = record.clone();
            let def = self.find_network(network);
            record.networks.retain(|a| match &def {
                Ok(d) => a.id != d.id,
                // A network removed meanwhile is still named in the record.
                Err(_) => a.name != network,
            });
            if record.networks.len() == before.networks.len() {
                def?;
                return Err(Error::not_found(
                    ObjectKind::Network,
                    format!(
                        "container {} is not connected to network {network}",
                        record.name
                    ),
                ));
            }
            self.save_container(&record)?;
            (before, self.is_running(&record))
        };
        if running {
            self.follow_networks(&before)?;
        }
        Ok(())
    }

    fn is_running(&self, record: &ContainerRecord) -> bool {
        record.state.monitor > 0
            && crate::sys::process_start(record.state.monitor) == record.state.monitor_start
    }

    /// Has the running container's monitor follow its record's networks; on failure the
    /// record goes back to `before` (what the monitor holds still matches it).
    fn follow_networks(&self, before: &ContainerRecord) -> Result<(), Error> {
        let dir = self.container_run_dir(&before.id);
        let answer = super::container::attach::client::follow_networks(&dir)
            .map_err(|e| Error::Other(format!("asking the container's monitor: {e}")));
        let failed = match answer {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(why)) => Error::Other(why),
            Err(e) => e,
        };
        let _lock = self.store.lock()?;
        if let Ok(mut now) = self.find_container(&before.id) {
            now.networks = before.networks.clone();
            self.save_container(&now)?;
        }
        Err(failed)
    }
}
