//! A container's user-mode network seen from the engine: the plan of one start (made by the
//! starting command, so that a bad or taken port fails there) and the monitor's part (the
//! namespace, the helper, a fallback from pasta to slirp4netns). Docker's forms of the
//! published ports are in `ports`.

use std::fs;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::record::ContainerRecord;
use crate::engine::{Engine, Notice, Notices};
use crate::network::{self, Plan, Protocol, Range, Running};
use crate::Error;

/// The plan's file in the container's run directory, read by the monitor.
const PLAN_FILE: &str = "network.json";

impl Engine {
    /// The plan of this start of `record`'s user-mode network (None: it has none).
    pub(crate) fn network_plan(
        &self,
        record: &ContainerRecord,
        run: &Path,
        notices: Notices<'_>,
    ) -> Result<Option<Plan>, Error> {
        let Some(net) = &record.user_network else {
            return Ok(None);
        };
        let exposed: &[(Range, Protocol)] = if net.publish_all {
            &record.exposed
        } else {
            &[]
        };
        let plan = network::plan(
            &net.mode,
            &net.publish,
            exposed,
            run,
            &self.paths.run_root,
            self.user.rootless(),
            &|n| notices(Notice(n)),
        )?;
        Ok(Some(plan))
    }

    /// Before a container is created: what its network's first start would refuse (the
    /// helper, /dev/net/tun, the ports), so that nothing is left behind for it.
    pub(crate) fn check_network(&self, opts: &super::options::RunOptions) -> Result<(), Error> {
        let mode = match &opts.network {
            super::options::Network::User(mode) => mode.clone(),
            super::options::Network::Named(name) => {
                if self.user_network(name)?.internal {
                    return Ok(());
                }
                network::UserMode::default()
            }
            _ => return Ok(()),
        };
        if mode.helper.is_some() && !mode.options.is_empty() {
            crate::config::ensure_run_root(&self.paths.run_root, self.user.uid)?;
        }
        network::check(
            &mode,
            &opts.publish,
            &self.paths.run_root,
            self.user.rootless(),
        )?;
        Ok(())
    }
}

/// Whether a resolver of the monitor's serves the container at 127.0.0.11: on user networks
/// (for their names), and on the default network when a name server it would be given is on
/// the host's loopback (systemd-resolved's 127.0.0.53), which its own loopback is not.
pub(crate) fn serves_resolver(record: &ContainerRecord, host_resolv_conf: &str) -> bool {
    !record.networks.is_empty()
        || (record.user_network.is_some()
            && network::resolver::upstreams(&record.etc.dns, host_resolv_conf)
                .iter()
                .any(|a| a.is_loopback()))
}

/// Puts the plan where the monitor finds it.
pub(crate) fn write_plan(run: &Path, plan: &Plan) -> Result<(), Error> {
    let path = run.join(PLAN_FILE);
    let bytes = serde_json::to_vec(plan).map_err(|e| Error::Other(e.to_string()))?;
    fs::write(&path, bytes).map_err(|e| Error::Other(format!("writing {}: {e}", path.display())))
}

/// The monitor's network: the namespace the container joins and the helper serving it.
pub(crate) struct Started {
    pub netns: OwnedFd,
    /// None on an internal user network: no way out.
    pub running: Option<Running>,
    /// pasta refused and slirp4netns serves instead: what to tell the user, and the host's
    /// address on the new network.
    pub fell_back: Option<String>,
}

impl Started {
    /// The path the container's spec joins.
    pub fn netns_path(&self) -> PathBuf {
        format!("/proc/self/fd/{}", self.netns.as_raw_fd()).into()
    }
}

/// In the monitor, still in the host's network: the container's network namespace and its
/// helper, ready. None when the container has no user-mode network and no user network
/// (`own_namespace`: it has one, whose namespace the monitor must make to join it).
pub(crate) fn start_in_monitor(run: &Path, own_namespace: bool) -> Result<Option<Started>, String> {
    let plan: Option<Plan> = match fs::read(run.join(PLAN_FILE)) {
        Ok(bytes) => Some(
            serde_json::from_slice(&bytes).map_err(|e| format!("reading the network plan: {e}"))?,
        ),
        Err(_) => None,
    };
    if plan.is_none() && !own_namespace {
        return Ok(None);
    }
    let netns = crate::sys::new_network_namespace()
        .map_err(|e| format!("creating the container's network namespace: {e}"))?;
    let Some(plan) = plan else {
        return Ok(Some(Started {
            netns,
            running: None,
            fell_back: None,
        }));
    };
    let start = |plan: &Plan| -> Result<Running, network::NetworkError> {
        let mut running = network::start(plan, netns.as_fd())?;
        running.wait_ready(netns.as_fd())?;
        Ok(running)
    };
    let (running, fell_back) = match start(&plan) {
        Ok(r) => (r, None),
        Err(e) => match &plan.fallback {
            Some(slirp) => {
                let r = start(slirp).map_err(|e2| format!("{e}; and then {e2}"))?;
                (r, Some(format!("{e}: using slirp4netns")))
            }
            None => return Err(e.to_string()),
        },
    };
    Ok(Some(Started {
        netns,
        running: Some(running),
        fell_back,
    }))
}
