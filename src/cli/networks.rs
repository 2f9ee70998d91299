//! `skiff network …`: create, ls, inspect, rm, prune, exists, connect, disconnect, in Docker's
//! forms (and Podman's `--ignore`, `exists`).

use std::collections::BTreeMap;
use std::io::{self, Write};

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::format::{self, Column};
use crate::engine::network::NetworkRow;
use crate::engine::{short_hex, Engine, ObjectKind, PruneFilters};
use crate::Error;

#[derive(Subcommand, Debug)]
pub enum NetworkCommand {
    /// Create a network.
    Create(CreateArgs),
    /// List networks.
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Show low-level information on networks.
    Inspect(InspectArgs),
    /// Remove networks.
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove every network no container uses.
    Prune(PruneArgs),
    /// Exit 0 if the network exists, 1 if it does not.
    Exists(ExistsArgs),
    /// Connect a container to a network (a running one at once).
    Connect(ConnectArgs),
    /// Disconnect a container from a network (a running one at once).
    Disconnect(DisconnectArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Driver (bridge, the one there is).
    #[arg(short, long, value_name = "DRIVER")]
    pub driver: Option<String>,
    /// Subnet in CIDR form (10.90.0.0/24); a free 10.89.N.0/24 when none is given.
    #[arg(long, value_name = "SUBNET")]
    pub subnet: Vec<String>,
    /// Gateway of the subnet given in the same position.
    #[arg(long, value_name = "ADDRESS")]
    pub gateway: Vec<String>,
    /// Hand out addresses from this part of the subnet given in the same position.
    #[arg(long, value_name = "RANGE")]
    pub ip_range: Vec<String>,
    /// No way out: containers reach only each other.
    #[arg(long)]
    pub internal: bool,
    /// IPv6 too (a unique local /64 unless an IPv6 --subnet is given).
    #[arg(long)]
    pub ipv6: bool,
    /// A label, KEY=VALUE.
    #[arg(long, value_name = "LABEL")]
    pub label: Vec<String>,
    /// A driver option, KEY=VALUE (kept; skiff's bridge reads none).
    #[arg(short, long = "opt", value_name = "OPTION")]
    pub opt: Vec<String>,
    /// No resolver for the network's containers (Podman's).
    #[arg(long)]
    pub disable_dns: bool,
    /// Don't fail when a network of that name exists (Podman's).
    #[arg(long)]
    pub ignore: bool,
    /// Accepted for Docker compatibility (a swarm setting).
    #[arg(long)]
    pub attachable: bool,
    pub name: String,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Only show network ids.
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't truncate ids.
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter (name=, id=, driver=, label=KEY[=VALUE], type=custom|builtin, dangling=true).
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format output with a Go template, 'table', 'table TEMPLATE' or 'json'.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output with a Go template or 'json'.
    #[arg(short, long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Accepted for Docker compatibility.
    #[arg(short, long)]
    pub verbose: bool,
    #[arg(required = true, value_name = "NETWORK")]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Do not fail when a network does not exist.
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true, value_name = "NETWORK")]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// Only networks matching the filter (until=TIME, label=KEY[=VALUE], label!=KEY[=VALUE]).
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ExistsArgs {
    pub name: String,
}

#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// A name other containers on the network find this one by too.
    #[arg(long, value_name = "ALIAS")]
    pub alias: Vec<String>,
    /// The container's IPv4 address on the network.
    #[arg(long, value_name = "ADDRESS")]
    pub ip: Option<std::net::Ipv4Addr>,
    /// The container's IPv6 address on the network.
    #[arg(long, value_name = "ADDRESS")]
    pub ip6: Option<std::net::Ipv6Addr>,
    pub network: String,
    pub container: String,
}

#[derive(Args, Debug)]
pub struct DisconnectArgs {
    /// Accepted for Docker compatibility.
    #[arg(short, long)]
    pub force: bool,
    pub network: String,
    pub container: String,
}

pub fn network(engine: &Engine, cmd: NetworkCommand) -> Result<i32, Error> {
    match cmd {
        NetworkCommand::Create(a) => create(engine, a),
        NetworkCommand::Ls(a) => ls(engine, a),
        NetworkCommand::Inspect(a) => inspect(engine, a),
        NetworkCommand::Rm(a) => rm(engine, a),
        NetworkCommand::Prune(a) => prune(engine, a),
        NetworkCommand::Exists(a) => Ok(if engine.network_exists(&a.name)? {
            0
        } else {
            1
        }),
        NetworkCommand::Connect(a) => {
            engine.connect_network(&a.network, &a.container, &a.alias, a.ip, a.ip6)?;
            Ok(0)
        }
        NetworkCommand::Disconnect(a) => {
            engine.disconnect_network(&a.network, &a.container)?;
            Ok(0)
        }
    }
}

fn key_values(flag: &str, items: &[String]) -> Result<BTreeMap<String, String>, Error> {
    items
        .iter()
        .map(|i| match i.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            None if !i.is_empty() => Ok((i.clone(), String::new())),
            _ => Err(Error::Invalid(format!(
                "invalid {flag} {i:?}: expected KEY=VALUE"
            ))),
        })
        .collect()
}

fn create(engine: &Engine, args: CreateArgs) -> Result<i32, Error> {
    let mut options = key_values("--opt", &args.opt)?;
    if args.disable_dns {
        options.insert("dns".into(), "false".into());
    }
    let opts = crate::network::CreateOptions {
        driver: args.driver,
        subnets: args.subnet,
        gateways: args.gateway,
        ip_ranges: args.ip_range,
        internal: args.internal,
        ipv6: args.ipv6,
        labels: key_values("--label", &args.label)?,
        options,
    };
    let def = engine.create_network(&args.name, &opts, args.ignore)?;
    println!("{}", def.id);
    Ok(0)
}

const COLUMNS: &[Column] = &[
    Column {
        field: "ID",
        heading: "NETWORK ID",
    },
    Column {
        field: "Name",
        heading: "NAME",
    },
    Column {
        field: "Driver",
        heading: "DRIVER",
    },
    Column {
        field: "Scope",
        heading: "SCOPE",
    },
    Column {
        field: "IPv6",
        heading: "IPV6",
    },
    Column {
        field: "Internal",
        heading: "INTERNAL",
    },
    Column {
        field: "Labels",
        heading: "LABELS",
    },
    Column {
        field: "CreatedAt",
        heading: "CREATED AT",
    },
];

/// Whether `row` passes every `--filter` term (terms of one key are alternatives, as in
/// Docker).
fn passes(row: &NetworkRow, terms: &[(String, String)]) -> Result<bool, Error> {
    let mut keys: Vec<&str> = terms.iter().map(|(k, _)| k.as_str()).collect();
    keys.dedup();
    for key in keys {
        let values = terms
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str());
        let mut any = false;
        for v in values {
            any |= match key {
                "name" => row.name.contains(v),
                "id" => row.id.starts_with(v),
                "driver" => row.driver == v,
                "label" => match v.split_once('=') {
                    Some((k, val)) => row.labels.get(k).is_some_and(|x| x == val),
                    None => row.labels.contains_key(v),
                },
                "type" => match v {
                    "custom" => !row.predefined,
                    "builtin" => row.predefined,
                    _ => {
                        return Err(Error::Invalid(format!(
                            "invalid filter 'type={v}': use custom or builtin"
                        )))
                    }
                },
                "dangling" => match v {
                    "true" | "1" => row.containers == 0 && !row.predefined,
                    "false" | "0" => row.containers > 0 || row.predefined,
                    _ => {
                        return Err(Error::Invalid(format!(
                            "invalid filter 'dangling={v}': use true or false"
                        )))
                    }
                },
                other => {
                    return Err(Error::Invalid(format!(
                        "invalid filter {other:?}: use name, id, driver, label, type or dangling"
                    )))
                }
            };
        }
        if !any {
            return Ok(false);
        }
    }
    Ok(true)
}

fn ls(engine: &Engine, args: LsArgs) -> Result<i32, Error> {
    let terms: Vec<(String, String)> = args
        .filter
        .iter()
        .map(|f| {
            f.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| Error::Invalid(format!("invalid filter {f:?}: expected KEY=VALUE")))
        })
        .collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    for r in engine.network_rows()? {
        if passes(&r, &terms)? {
            rows.push(r);
        }
    }
    let id = |r: &NetworkRow| {
        if args.no_trunc {
            r.id.clone()
        } else {
            short_hex(&r.id)
        }
    };
    if args.quiet {
        let mut out = io::stdout().lock();
        for r in &rows {
            let _ = writeln!(out, "{}", id(r));
        }
        return Ok(0);
    }
    let values: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "ID": id(r),
                "Name": r.name,
                "Driver": r.driver,
                "Scope": "local",
                "IPv6": r.ipv6,
                "Internal": r.internal,
                "Labels": r.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
                "CreatedAt": r.created,
            })
        })
        .collect();
    super::common::print_rows(
        &values,
        args.format.as_deref(),
        "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
        COLUMNS,
    )?;
    Ok(0)
}

fn inspect(engine: &Engine, args: InspectArgs) -> Result<i32, Error> {
    if let Some(f) = args.format.as_deref().filter(|f| !["", "json"].contains(f)) {
        format::check_one(f).map_err(format::usage_error)?;
    }
    let mut found = Vec::new();
    let mut failed = false;
    for name in &args.names {
        match engine.inspect_network(name) {
            Ok(v) => found.push(v),
            Err(e) if e.is_not_found(ObjectKind::Network) => {
                eprintln!("Error: No such network: {name}");
                failed = true;
            }
            Err(e) => return Err(e),
        }
    }
    let mut out = io::stdout().lock();
    match args.format.as_deref() {
        None | Some("") => {
            let _ = writeln!(out, "{}", super::images::pretty(&Value::Array(found)));
        }
        Some("json") => {
            let _ = writeln!(out, "{}", Value::Array(found));
        }
        Some(f) => {
            for v in &found {
                format::render_one(v, f, &mut out).map_err(format::usage_error)?;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

fn rm(engine: &Engine, args: RmArgs) -> Result<i32, Error> {
    let mut status = 0;
    for name in &args.names {
        match engine.remove_network(name) {
            Ok(n) => println!("{n}"),
            Err(e) if args.force && e.is_not_found(ObjectKind::Network) => {}
            Err(e) => status = super::common::failed_name(status, &e),
        }
    }
    Ok(status)
}

fn prune(engine: &Engine, args: PruneArgs) -> Result<i32, Error> {
    let filters = PruneFilters::parse(&args.filter, chrono::Utc::now())?;
    if !args.force
        && !super::common::confirm(
            "WARNING! This will remove all custom networks not used by at least one container.",
        )
    {
        return Ok(0);
    }
    let removed = engine.prune_networks(&filters)?;
    if !removed.is_empty() {
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "Deleted Networks:");
        for n in &removed {
            let _ = writeln!(out, "{n}");
        }
    }
    Ok(0)
}
