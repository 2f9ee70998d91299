//! `skiff info`: what this engine runs with, for people and for scripts.

use serde_json::{json, Value};

use super::Engine;
use crate::Error;

impl Engine {
    pub fn info(&self) -> Result<Value, Error> {
        let ns = self.userns();
        let maps = |m: &[crate::runtime::userns::IdMapping]| -> Vec<Value> {
            m.iter()
                .map(|e| json!({"container_id": e.container, "host_id": e.host, "size": e.size}))
                .collect()
        };
        let uname = rustix::system::uname();
        let cgroup_version = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            "v2"
        } else {
            "v1"
        };
        // The default network's helper, chosen as each start chooses it (Podman 5's name for
        // the field), and where each helper is.
        let helper = crate::network::default_helper(&self.paths.run_root);
        let installed = |name: &str| {
            crate::network::installed(name, &self.paths.run_root)
                .map(|i| json!({"executable": i.path}))
                .unwrap_or(Value::Null)
        };
        Ok(json!({
            "host": {
                "rootlessNetworkCmd": helper.map(|(h, _)| h.name()).unwrap_or("none"),
                "pasta": installed("pasta"),
                "slirp4netns": installed("slirp4netns"),
                "arch": std::env::consts::ARCH,
                "os": "linux",
                "kernel": uname.release().to_string_lossy(),
                "rootless": self.user.rootless(),
                "cgroupVersion": cgroup_version,
                "idMappings": {
                    "uidmap": maps(&ns.uid_map),
                    "gidmap": maps(&ns.gid_map),
                },
                "subordinateIds": ns.has_subids(),
            },
            "store": {
                "graphRoot": self.paths.data_root,
                "runRoot": self.paths.run_root,
                "graphDriverName": self.rootfs_driver()?.name(),
                "imageStore": { "number": self.store.images()?.len() },
                "containerStore": { "number": self.containers()?.len() },
            },
            "registries": {
                "search": self.registries()?.search_registries(),
            },
            "version": {
                "Version": env!("CARGO_PKG_VERSION"),
            },
        }))
    }
}
