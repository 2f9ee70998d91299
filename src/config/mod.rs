//! Where skiff keeps its state, and the Podman configuration it honours:
//! the paths from `containers-storage.conf(5)`, `containers-registries.conf(5)`
//! (with its drop-in directories and short-name aliases), credentials in
//! `containers-auth.json(5)` and Docker's `config.json`, and `/etc/subuid`.
//!
//! Inputs are explicit: environment variables come through [`Env`] and system
//! files are found under a `sysroot` in the `*_in` variants, so tests never
//! touch the process environment or the real `/etc`.

mod auth;
mod paths;
mod registries;
mod storage;
mod subid;

use std::collections::HashMap;
use std::fs;
use std::hash::{BuildHasher, Hash};
use std::io;
use std::path::{Path, PathBuf};

pub use auth::{AuthStore, Credentials, Found};
pub use paths::{check_run_root, ensure_run_root, PathOptions, Paths};
pub use registries::{is_loopback_host, Endpoint, MirrorPolicy, Registries};
pub use storage::StorageDriver;
pub use subid::{read_subgids, read_subuids, subid_ranges, IdRange};

pub(super) const DOCKER_HUB: &str = "docker.io";
pub(super) const DOCKER_HUB_ALIASES: [&str; 2] = ["index.docker.io", "registry-1.docker.io"];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: line {line}: {message}", .path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}: {message}", .path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot determine the home directory: set $HOME")]
    NoHome,
    #[error("refusing to use {}: {reason}", .path.display())]
    UnsafeDirectory { path: PathBuf, reason: String },
    /// A store or runtime directory that cannot be one; `what` is the flag or the file and key
    /// that gave it.
    #[error("{what} {}: {reason}", .path.display())]
    UnusableDirectory {
        what: String,
        path: PathBuf,
        reason: String,
    },
}

pub(super) fn io_error(path: &Path, source: io::Error) -> ConfigError {
    ConfigError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(super) fn invalid(path: &Path, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

// ---------------------------------------------------------------------------
// Environment and users

/// Read access to environment variables.
pub trait Env {
    fn var(&self, key: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var_os(key).and_then(|value| value.into_string().ok())
    }
}

impl<K, V, S> Env for HashMap<K, V, S>
where
    K: std::borrow::Borrow<str> + Hash + Eq,
    V: AsRef<str>,
    S: BuildHasher,
{
    fn var(&self, key: &str) -> Option<String> {
        self.get(key).map(|value| value.as_ref().to_string())
    }
}

/// XDG treats an empty variable like an unset one; so do we everywhere.
pub(super) fn env_value(env: &dyn Env, key: &str) -> Option<String> {
    env.var(key).filter(|value| !value.is_empty())
}

pub(super) fn env_path(env: &dyn Env, key: &str) -> Option<PathBuf> {
    env_value(env, key).map(PathBuf::from)
}

/// The effective uid, which decides between rootful and rootless defaults.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid takes no arguments, cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

const PASSWD: &str = "/etc/passwd";

/// The login name for `uid`, from `/etc/passwd`; `$USER` wins when it names
/// the same uid, since several names may share one.
pub fn current_user_name(uid: u32) -> Option<String> {
    let passwd = fs::read_to_string(PASSWD).ok()?;
    user_name_from_passwd(&passwd, uid, ProcessEnv.var("USER").as_deref())
}

fn user_name_from_passwd(passwd: &str, uid: u32, env_user: Option<&str>) -> Option<String> {
    let entries: Vec<PasswdEntry<'_>> = passwd.lines().filter_map(PasswdEntry::parse).collect();
    let matches_env = |entry: &&PasswdEntry<'_>| Some(entry.name) == env_user;
    let entry = entries
        .iter()
        .filter(|entry| entry.uid == uid)
        .find(matches_env)
        .or_else(|| entries.iter().find(|entry| entry.uid == uid))?;
    Some(entry.name.to_string())
}

fn home_from_passwd(passwd: &str, uid: u32) -> Option<PathBuf> {
    passwd
        .lines()
        .filter_map(PasswdEntry::parse)
        .find(|entry| entry.uid == uid && !entry.home.is_empty())
        .map(|entry| PathBuf::from(entry.home))
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    home: &'a str,
}

impl<'a> PasswdEntry<'a> {
    fn parse(line: &'a str) -> Option<Self> {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() < 7 || fields[0].is_empty() || line.starts_with('#') {
            return None;
        }
        Some(PasswdEntry {
            name: fields[0],
            uid: fields[2].parse().ok()?,
            home: fields[5],
        })
    }
}

/// `$HOME`, else the passwd entry, as Podman's homedir package does.
pub(super) fn home_dir(env: &dyn Env, uid: u32) -> Option<PathBuf> {
    env_path(env, "HOME").or_else(|| {
        let passwd = fs::read_to_string(PASSWD).ok()?;
        home_from_passwd(&passwd, uid)
    })
}

pub(super) fn config_home_for(env: &dyn Env, home: &Path) -> PathBuf {
    env_path(env, "XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config"))
}

/// The config home when one can be found at all; registry and auth lookups
/// still work without it, they just skip the per-user files.
pub(super) fn user_config_home(env: &dyn Env) -> Option<PathBuf> {
    env_path(env, "XDG_CONFIG_HOME").or_else(|| env_path(env, "HOME").map(|h| h.join(".config")))
}

pub(super) fn user_cache_home(env: &dyn Env) -> Option<PathBuf> {
    env_path(env, "XDG_CACHE_HOME").or_else(|| env_path(env, "HOME").map(|h| h.join(".cache")))
}

// ---------------------------------------------------------------------------
// TOML helpers

pub(super) fn read_optional(path: &Path) -> Result<Option<String>, ConfigError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path, e)),
    }
}

pub(super) fn parse_toml<T: serde::de::DeserializeOwned>(
    text: &str,
    path: &Path,
) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |span| span.start.min(text.len()));
        ConfigError::Syntax {
            path: path.to_path_buf(),
            line: text[..offset].matches('\n').count() + 1,
            message: e.message().trim().to_string(),
        }
    })
}

/// Helpers the tests of every configuration file share.
#[cfg(test)]
pub(crate) mod test_support {
    use std::collections::HashMap;
    use std::fs;
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};

    pub type TestEnv = HashMap<&'static str, String>;

    pub fn env_of(pairs: &[(&'static str, &str)]) -> TestEnv {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    pub fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    /// A sticky world-writable directory like /tmp, inside a private one
    /// (the shared directory itself would fail the check if it sat in /tmp).
    pub fn shared_dir() -> (tempfile::TempDir, PathBuf) {
        let base = tempfile::tempdir().unwrap();
        let shared = base.path().join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
        (base, shared)
    }

    pub fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().mode() & 0o7777
    }
}

#[cfg(test)]
mod tests {
    use super::storage::expand_vars;
    use super::*;
    use crate::config::test_support::*;

    // --- environment helpers ---

    #[test]
    fn empty_variables_count_as_unset() {
        let env = env_of(&[("HOME", ""), ("XDG_CONFIG_HOME", "/x")]);
        assert_eq!(env_value(&env, "HOME"), None);
        assert_eq!(env_value(&env, "XDG_CONFIG_HOME").as_deref(), Some("/x"));
        assert_eq!(env_value(&env, "MISSING"), None);
    }

    #[test]
    fn variable_expansion() {
        let lookup = |name: &str| match name {
            "HOME" => Some("/home/u".to_string()),
            "UID" => Some("1000".to_string()),
            _ => None,
        };
        assert_eq!(expand_vars("$HOME/s/$UID", lookup), "/home/u/s/1000");
        assert_eq!(expand_vars("${HOME}x", lookup), "/home/ux");
        assert_eq!(expand_vars("/a/$NOPE/b", lookup), "/a//b");
        assert_eq!(expand_vars("cost$", lookup), "cost$");
        assert_eq!(expand_vars("a$/b", lookup), "a$/b");
        assert_eq!(expand_vars("${unterminated", lookup), "${unterminated");
    }

    #[test]
    fn passwd_parsing() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      # comment\n\
                      alice:x:1000:1000:Alice:/home/alice:/bin/sh\n\
                      alias:x:1000:1000::/home/alias:/bin/sh\n\
                      broken line\n";
        assert_eq!(
            user_name_from_passwd(passwd, 1000, None).as_deref(),
            Some("alice")
        );
        assert_eq!(
            user_name_from_passwd(passwd, 1000, Some("alias")).as_deref(),
            Some("alias")
        );
        assert_eq!(
            user_name_from_passwd(passwd, 1000, Some("root")).as_deref(),
            Some("alice")
        );
        assert_eq!(user_name_from_passwd(passwd, 4242, Some("bob")), None);
        assert_eq!(home_from_passwd(passwd, 0), Some(PathBuf::from("/root")));
        assert_eq!(
            home_from_passwd(passwd, 1000),
            Some(PathBuf::from("/home/alice"))
        );
    }
}
