//! What the engine hands the runtime to start one container, written as JSON into the
//! container's run directory and read by the helper. Records on disk keep the spec they were
//! created with, so a field added later has a default, and a field replaced is still read (see
//! `namespaces::on_disk`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::devices::Device;
use super::hooks::Hooks;
use super::namespaces::Namespaces;

/// Everything the helper needs to start one container, written by the engine as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Spec {
    /// Image layers' directories, top layer first.
    pub lowers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    /// Where the root file system is assembled (an empty directory).
    pub merged: PathBuf,
    /// The copy driver's private root.
    #[serde(default)]
    pub copy: PathBuf,
    /// How the layers become the root file system.
    #[serde(default = "default_driver")]
    pub driver: super::rootfs::Driver,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub hostname: String,
    /// `uid[:gid]` or `name[:group]` as given; resolved against the image's /etc/passwd.
    pub user: String,
    /// Which namespaces are new, the host's or joined. A new network namespace has only a
    /// loopback device. (Specs from before it have `private_network` instead.)
    #[serde(flatten, with = "super::namespaces::on_disk")]
    pub namespaces: Namespaces,
    /// Files bind-mounted over the image's: (path in the container, file on the host). The
    /// engine writes them; the runtime only mounts them.
    pub etc_files: Vec<(String, PathBuf)>,
    /// Device nodes added to the container's /dev.
    #[serde(default)]
    pub devices: Vec<Device>,
    /// Programs run at points of the container's start and after its end.
    #[serde(default)]
    pub hooks: Hooks,
    /// `-v`, `--mount`, `--tmpfs`, in the order given.
    #[serde(default)]
    pub mounts: Vec<MountSpec>,
    /// `--read-only`: the root file system is mounted read-only (/tmp, /var/tmp, /run stay
    /// writable tmpfs, as Podman does).
    #[serde(default)]
    pub read_only_root: bool,
    /// Capability numbers the container keeps.
    pub capabilities: Vec<u32>,
    /// `--privileged`: nothing masked or made read-only.
    #[serde(default)]
    pub privileged: bool,
    /// `--security-opt no-new-privileges`.
    #[serde(default)]
    pub no_new_privileges: bool,
    /// `--init`: PID 1 is a minimal init that forwards signals and reaps orphans.
    #[serde(default)]
    pub init: bool,
    /// `--ulimit`: (resource name, soft, hard).
    #[serde(default)]
    pub ulimits: Vec<(String, u64, u64)>,
    /// Size of /dev/shm in bytes (`--shm-size`; Docker's default is 64 MiB).
    #[serde(default)]
    pub shm_size: Option<u64>,
    /// The container's own cgroup (created with its limits by the engine), if any.
    #[serde(default)]
    pub cgroup: Option<PathBuf>,
    /// `-t`: the descriptor (inherited from skiff) to send the terminal's master over.
    #[serde(default)]
    pub console_socket: Option<i32>,
    /// The terminal's first size (rows, columns): the attached skiff's, so that the workload
    /// sees it from its first instruction.
    #[serde(default)]
    pub console_size: Option<(u16, u16)>,
    /// The default seccomp filter (off for `--privileged` and `seccomp=unconfined`).
    #[serde(default)]
    pub seccomp: bool,
    /// `--security-opt seccomp=FILE`: the profile's compiled program, used instead of the
    /// default filter (see `seccomp_profile`).
    #[serde(default)]
    pub seccomp_profile: Option<Vec<u64>>,
    /// `--group-add`: more supplementary groups (names from the image's /etc/group, or ids).
    #[serde(default)]
    pub group_add: Vec<String>,
    /// `--userns=keep-id|auto`, `--uidmap`: the container's own user namespace, nested in the
    /// user's, with these maps.
    #[serde(default)]
    pub id_shift: Option<super::userns::IdShift>,
    /// `exec`: the process outlives the command that started it (as in Docker), so no
    /// parent-death signal.
    #[serde(default)]
    pub outlive_parent: bool,
    /// Where the helper writes the host pid of the container's PID 1 (for `exec`, `inspect`).
    #[serde(default)]
    pub pid_file: Option<PathBuf>,
    /// `--userns=keep-id`: the user's passwd and group lines, added to the container's files
    /// when its uid or gid is missing there.
    #[serde(default)]
    pub add_user: Option<(String, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum MountKind {
    Bind,
    Tmpfs,
}

/// One mount requested on the command line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MountSpec {
    pub kind: MountKind,
    /// The host path of a bind mount.
    pub source: Option<PathBuf>,
    /// Absolute path in the container.
    pub target: String,
    pub readonly: bool,
    /// tmpfs options (`size=…,mode=…`).
    pub options: String,
}

fn default_driver() -> super::rootfs::Driver {
    super::rootfs::Driver::Overlay
}

#[cfg(test)]
mod tests {
    use super::super::namespaces::Namespace;
    use super::*;

    /// A spec as skiff wrote it before namespaces were chosen one by one.
    fn old_spec(private_network: bool) -> String {
        format!(
            r#"{{"lowers":["/l"],"upper":"/u","work":"/w","merged":"/run/c/merged",
            "args":["sh"],"env":[],"cwd":"/","hostname":"h","user":"",
            "private_network":{private_network},"etc_files":[],"capabilities":[0]}}"#
        )
    }

    #[test]
    fn an_old_spec_loads_with_its_network_choice() {
        let private: Spec = serde_json::from_str(&old_spec(true)).unwrap();
        assert_eq!(private.namespaces, Namespaces::default());
        assert_eq!(private.namespaces.network, Namespace::New);
        let host: Spec = serde_json::from_str(&old_spec(false)).unwrap();
        assert_eq!(host.namespaces.network, Namespace::Host);
        for other in [
            host.namespaces.ipc,
            host.namespaces.pid,
            host.namespaces.uts,
        ] {
            assert_eq!(other, Namespace::New);
        }
        assert!(host.devices.is_empty());
        assert_eq!(host.hooks, Hooks::default());
    }

    #[test]
    fn namespaces_are_written_and_read_back() {
        let mut spec: Spec = serde_json::from_str(&old_spec(false)).unwrap();
        spec.namespaces.uts = Namespace::Join("/proc/7/ns/uts".into());
        let text = serde_json::to_string(&spec).unwrap();
        assert!(
            text.contains(r#""namespaces":{"network":"host","ipc":"new","pid":"new","uts":{"join":"/proc/7/ns/uts"}},"private_network":false"#),
            "{text}"
        );
        let back: Spec = serde_json::from_str(&text).unwrap();
        assert_eq!(back.namespaces, spec.namespaces);
        // The namespaces win over the old field.
        let both = text.replace(r#""private_network":false"#, r#""private_network":true"#);
        let back: Spec = serde_json::from_str(&both).unwrap();
        assert_eq!(back.namespaces.network, Namespace::Host);
        // A joined network has no old word.
        spec.namespaces.network = Namespace::Join("/run/netns/a".into());
        let text = serde_json::to_string(&spec).unwrap();
        assert!(!text.contains("private_network"), "{text}");
        let back: Spec = serde_json::from_str(&text).unwrap();
        assert_eq!(back.namespaces, spec.namespaces);
        // Neither field: refused, as a spec without `private_network` always was.
        let neither = old_spec(false).replace(r#""private_network":false,"#, "");
        let err = serde_json::from_str::<Spec>(&neither).unwrap_err();
        assert!(err.to_string().contains("namespaces"), "{err}");
    }
}
