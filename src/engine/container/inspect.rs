//! `inspect` of containers, in the shape of Docker's JSON (the fields scripts read).

use serde_json::{json, Value};

use super::record::{ContainerRecord, Status};
use crate::engine::Engine;
use crate::runtime::container::MountKind;
use crate::store::diff::Skip;
use crate::Error;

/// Docker's zero time, for times that never happened.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

impl Engine {
    /// The state a record shows, with a dead monitor taken into account: (status, exit code,
    /// error).
    pub fn effective_state(&self, r: &ContainerRecord) -> (Status, i32, String) {
        let s = &r.state;
        if s.is_up() && !self.container_alive(r) {
            return (
                Status::Exited,
                137,
                "the process that held the container (its monitor or skiff) was killed".into(),
            );
        }
        (s.status, s.exit_code, s.error.clone())
    }

    pub fn inspect_container(&self, name: &str) -> Result<Value, Error> {
        let r = self.find_container(name)?;
        let (status, exit_code, error) = self.effective_state(&r);
        // Docker reports a restarting container as running too.
        let running = matches!(status, Status::Running | Status::Restarting);
        let pid = if running {
            self.init_pid(&r).unwrap_or(0)
        } else {
            0
        };
        let dir = self.container_dir(&r.id);
        let run = self.container_run_dir(&r.id);
        let spec = &r.spec;
        let binds: Vec<String> = spec
            .mounts
            .iter()
            .filter(|m| m.kind == MountKind::Bind)
            .map(|m| {
                let source = m.source.as_ref().map(|p| p.display().to_string());
                format!(
                    "{}:{}{}",
                    source.unwrap_or_default(),
                    m.target,
                    if m.readonly { ":ro" } else { "" }
                )
            })
            .collect();
        let mounts: Vec<Value> = spec
            .mounts
            .iter()
            .map(|m| match m.kind {
                MountKind::Bind => json!({
                    "Type": "bind",
                    "Source": m.source.as_ref().map(|p| p.display().to_string()),
                    "Destination": m.target,
                    "Mode": "",
                    "RW": !m.readonly,
                    "Propagation": "rprivate",
                }),
                MountKind::Tmpfs => json!({
                    "Type": "tmpfs",
                    "Source": "",
                    "Destination": m.target,
                    "Mode": m.options,
                    "RW": !m.readonly,
                    "Propagation": "",
                }),
            })
            .collect();
        let tmpfs: serde_json::Map<String, Value> = spec
            .mounts
            .iter()
            .filter(|m| m.kind == MountKind::Tmpfs)
            .map(|m| (m.target.clone(), Value::String(m.options.clone())))
            .collect();
        let time = |t: &Option<String>| t.clone().unwrap_or_else(|| ZERO_TIME.into());
        let log_path = super::log::log_path(&dir, &r.log)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let mut log_config = serde_json::Map::new();
        if let Some(size) = r.log.max_size {
            log_config.insert("max-size".into(), json!(size.to_string()));
        }
        log_config.insert("max-file".into(), json!(r.log.max_file.to_string()));
        let port_bindings = port_bindings(&r);
        let exposed = exposed_ports(&r);
        let ports = super::ports::ports_json(&r.state.ports, &r.exposed);
        let endpoints = self.container_endpoints(&r);
        let networks: serde_json::Map<String, Value> = r
            .networks
            .iter()
            .map(|a| {
                let live = endpoints.iter().find(|(d, _)| d.id == a.id);
                let e = live.map(|(_, e)| e);
                let def = live.map(|(d, _)| d);
                let v = json!({
                    "Aliases": a.aliases,
                    "NetworkID": a.id,
                    "EndpointID": e.map(|_| crate::engine::network::endpoint_id(&a.id, &r.id)).unwrap_or_default(),
                    "Gateway": def.and_then(|d| d.v4()).and_then(|s| s.gateway).map(|g| g.to_string()).unwrap_or_default(),
                    "IPAddress": e.and_then(|e| e.ipv4).map(|x| x.to_string()).unwrap_or_default(),
                    "IPPrefixLen": e.and(def.and_then(|d| d.v4())).map(|s| s.subnet.prefix_len()).unwrap_or(0),
                    "IPv6Gateway": def.and_then(|d| d.v6()).filter(|_| def.is_some_and(|d| d.ipv6)).and_then(|s| s.gateway).map(|g| g.to_string()).unwrap_or_default(),
                    "GlobalIPv6Address": e.and_then(|e| e.ipv6).map(|x| x.to_string()).unwrap_or_default(),
                    "MacAddress": e.map(|e| e.mac.clone()).unwrap_or_default(),
                    "DNSNames": e.map(|e| e.names.clone()),
                });
                (a.name.clone(), v)
            })
            .collect();
        let mut value = json!({
            "Id": r.id,
            "Created": r.created,
            "Path": spec.args.first(),
            "Args": spec.args.get(1..).unwrap_or_default(),
            "State": {
                "Status": status,
                "Running": running,
                "Paused": false,
                "Restarting": status == Status::Restarting,
                "OOMKilled": false,
                "Dead": false,
                "Pid": pid,
                // Podman's name for the process that holds the container: here, its monitor.
                "ConmonPid": if running { r.state.monitor } else { 0 },
                "ExitCode": exit_code,
                "Error": error,
                "StartedAt": time(&r.state.started_at),
                "FinishedAt": time(&r.state.finished_at),
            },
            "Image": r.image_id,
            "ResolvConfPath": run.join("resolv.conf"),
            "HostnamePath": run.join("hostname"),
            "HostsPath": run.join("hosts"),
            "LogPath": log_path,
            "Name": format!("/{}", r.name),
            "RestartCount": r.state.restart_count,
            "Driver": spec.driver.name(),
            "Platform": "linux",
            "MountLabel": "",
            "ProcessLabel": "",
            "AppArmorProfile": "",
            "ExecIDs": Value::Null,
            "HostConfig": {
                "Binds": binds,
                "Dns": r.etc.dns,
                "DnsSearch": r.etc.dns_search,
                "DnsOptions": r.etc.dns_options,
                "ExtraHosts": r.etc.add_hosts.iter().map(|(n, a)| format!("{n}:{a}")).collect::<Vec<_>>(),
                "NetworkMode": match &spec.namespaces.network {
                    _ if !r.networks.is_empty() => r.networks[0].name.clone(),
                    _ if r.user_network.is_some() => {
                        r.user_network.as_ref().map(|u| u.mode.name()).unwrap_or_default()
                    }
                    _ if r.network_of.is_some() => {
                        format!("container:{}", r.network_of.as_deref().unwrap_or_default())
                    }
                    crate::runtime::container::Namespace::New => "none".to_string(),
                    crate::runtime::container::Namespace::Host => "host".to_string(),
                    crate::runtime::container::Namespace::Join(path) => {
                        format!("ns:{}", path.display())
                    }
                },
                "PortBindings": port_bindings,
                "PublishAllPorts": r.user_network.as_ref().is_some_and(|u| u.publish_all),
                "RestartPolicy": {
                    "Name": r.restart.name.as_str(),
                    "MaximumRetryCount": r.restart.max_retries,
                },
                "AutoRemove": r.remove,
                "Privileged": spec.privileged,
                "ReadonlyRootfs": spec.read_only_root,
                "Tmpfs": tmpfs,
                "ShmSize": spec.shm_size.unwrap_or(64 * 1024 * 1024),
                "Memory": r.limits.memory.unwrap_or(0),
                "NanoCpus": r.limits.cpus.map_or(0, |c| (c * 1e9) as i64),
                "PidsLimit": r.limits.pids,
                "Init": spec.init,
                "LogConfig": {"Type": r.log.driver, "Config": log_config},
            },
            "Mounts": mounts,
            "Config": {
                "Hostname": spec.hostname,
                "Domainname": "",
                "User": spec.user,
                "AttachStdin": r.interactive,
                "AttachStdout": true,
                "AttachStderr": true,
                "Tty": r.tty,
                "OpenStdin": r.interactive,
                "StdinOnce": r.stdin_once,
                "Env": spec.env,
                "Cmd": spec.args,
                "Image": r.image,
                "WorkingDir": spec.cwd,
                "Entrypoint": Value::Null,
                "Labels": r.labels,
                "ExposedPorts": exposed,
                "StopSignal": r.stop_signal.clone().unwrap_or_else(|| "SIGTERM".into()),
                "StopTimeout": r.stop_timeout.unwrap_or(10),
            },
            "NetworkSettings": {
                "Bridge": "",
                "SandboxID": "",
                "Ports": ports,
                "IPAddress": endpoints.first().and_then(|(_, e)| e.ipv4).map(|a| a.to_string()).unwrap_or_default(),
                "Networks": networks,
            },
        });
        // As Docker: the check as configured, its results once it has started.
        if let Some(check) = &r.health {
            value["Config"]["Healthcheck"] = json!(check);
        }
        if let Some(health) = r
            .state
            .health
            .as_ref()
            .filter(|_| r.health.as_ref().is_some_and(|h| h.enabled()))
        {
            value["State"]["Health"] = json!(health);
        }
        Ok(value)
    }
}

/// Files the runtime creates as mount points: not the container's changes (Docker hides them).
const RUNTIME_FILES: &[&str] = &["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"];
/// Kernel file systems mounted over these at every start: what is under them is not the
/// container's.
const RUNTIME_TREES: &[&str] = &["/dev", "/proc", "/sys"];

impl Engine {
    /// `skiff diff`: what the container changed in its image, as (kind, path): `A` added, `C`
    /// changed, `D` deleted, sorted by path.
    pub fn diff(&self, name: &str) -> Result<Vec<(char, String)>, Error> {
        let r = self.find_container(name)?;
        if r.spec.driver == crate::runtime::rootfs::Driver::Copy {
            return Err(Error::NotSupported(
                "diff of a container on the copy driver".into(),
            ));
        }
        let skip = Skip {
            trees: RUNTIME_TREES,
            empty_files: RUNTIME_FILES,
        };
        let changes = crate::store::diff::changes(&r.spec.upper, &r.spec.lowers, &skip);
        Ok(changes
            .into_iter()
            .map(|(change, path)| (change.letter(), path))
            .collect())
    }
}

/// HostConfig.PortBindings: what `-p` asked for ("" for every interface or a free port).
fn port_bindings(r: &ContainerRecord) -> Value {
    let mut map = serde_json::Map::new();
    for spec in r.user_network.iter().flat_map(|u| &u.publish) {
        let n = spec.container.last - spec.container.first;
        for i in 0..=n {
            let host_port = match spec.host {
                Some(h) if h.last - h.first == n => (h.first + i).to_string(),
                Some(h) if h.first == h.last => h.first.to_string(),
                Some(h) => format!("{}-{}", h.first, h.last),
                None => String::new(),
            };
            let key = super::ports::port_key(spec.container.first + i, spec.protocol);
            let entry = map.entry(key).or_insert_with(|| json!([]));
            if let Value::Array(list) = entry {
                list.push(json!({
                    "HostIp": spec.host_ip.map(|ip| ip.to_string()).unwrap_or_default(),
                    "HostPort": host_port,
                }));
            }
        }
    }
    Value::Object(map)
}

/// Config.ExposedPorts: the image's and `--expose`'s ports, as `{"80/tcp": {}}`.
fn exposed_ports(r: &ContainerRecord) -> Value {
    let mut map = serde_json::Map::new();
    for (range, protocol) in &r.exposed {
        for p in range.first..=range.last {
            map.insert(super::ports::port_key(p, *protocol), json!({}));
        }
    }
    if map.is_empty() {
        Value::Null
    } else {
        Value::Object(map)
    }
}
