//! `containers-storage.conf(5)`: the keys that decide where data lives.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{current_user_name, env_path, env_value, parse_toml, read_optional, ConfigError, Env};

// ---------------------------------------------------------------------------
// storage.conf

/// The three keys of `[storage]` that decide where data lives; everything
/// else in storage.conf describes Podman's own storage driver.
#[derive(Debug, Default, Deserialize)]
struct StorageTable {
    graphroot: Option<String>,
    runroot: Option<String>,
    rootless_storage_path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct StorageFile {
    #[serde(default)]
    storage: StorageTable,
}

fn load_storage_conf(path: &Path) -> Result<Option<StorageTable>, ConfigError> {
    let Some(text) = read_optional(path)? else {
        return Ok(None);
    };
    let file: StorageFile = parse_toml(&text, path)?;
    let non_empty = |value: Option<String>| value.filter(|v| !v.is_empty());
    Ok(Some(StorageTable {
        graphroot: non_empty(file.storage.graphroot),
        runroot: non_empty(file.storage.runroot),
        rootless_storage_path: non_empty(file.storage.rootless_storage_path),
    }))
}

/// Only the administrator's `/etc/containers/storage.conf`: the
/// distribution's `/usr/share` copy merely restates Podman's own default
/// store, which skiff must not adopt by accident.
fn load_system_storage_conf(sysroot: &Path) -> Result<Option<StorageTable>, ConfigError> {
    load_storage_conf(&sysroot.join("etc/containers/storage.conf"))
}

/// The configured graphroot and runroot, unexpanded, following
/// containers/storage: root reads only the system file (or
/// `$CONTAINERS_STORAGE_CONF`); a rootless user's own file replaces the
/// system one entirely, and of the system file only `rootless_storage_path`
/// applies to rootless users.
pub(super) fn storage_roots(
    env: &dyn Env,
    uid: u32,
    config_home: &Path,
    sysroot: &Path,
) -> Result<(Option<String>, Option<String>), ConfigError> {
    let override_path = env_path(env, "CONTAINERS_STORAGE_CONF");
    if uid == 0 {
        let table = match override_path {
            Some(path) => load_storage_conf(&path)?,
            None => load_system_storage_conf(sysroot)?,
        };
        return Ok(table.map_or((None, None), |t| (t.graphroot, t.runroot)));
    }
    let system_rootless = load_system_storage_conf(sysroot)?.and_then(|t| t.rootless_storage_path);
    let user_path = override_path.unwrap_or_else(|| config_home.join("containers/storage.conf"));
    Ok(match load_storage_conf(&user_path)? {
        Some(user) => (
            user.graphroot
                .or(user.rootless_storage_path)
                .or(system_rootless),
            user.runroot,
        ),
        None => (system_rootless, None),
    })
}

/// containers/storage replaces `$UID` itself and expands other variables
/// from the environment; `$HOME` and `$USER` fall back to the passwd entry.
pub(super) fn expand_storage_path(raw: &str, env: &dyn Env, uid: u32, home: &Path) -> PathBuf {
    let lookup = |name: &str| match name {
        "UID" => Some(uid.to_string()),
        "HOME" => Some(home.to_string_lossy().into_owned()),
        "USER" => env_value(env, "USER").or_else(|| current_user_name(uid)),
        _ => env.var(name),
    };
    PathBuf::from(expand_vars(raw, lookup))
}

/// Expands `$NAME` and `${NAME}`; unset variables become empty, as in Go's
/// `os.ExpandEnv`. A `$` not followed by a name is kept.
pub(super) fn expand_vars(text: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        let (name, consumed) = variable_name(after);
        if name.is_empty() {
            out.push('$');
            rest = after;
            continue;
        }
        out.push_str(&lookup(name).unwrap_or_default());
        rest = &after[consumed..];
    }
    out.push_str(rest);
    out
}

fn variable_name(after_dollar: &str) -> (&str, usize) {
    if let Some(braced) = after_dollar.strip_prefix('{') {
        return match braced.find('}') {
            Some(end) => (&braced[..end], end + 2),
            None => ("", 0),
        };
    }
    let end = after_dollar
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(after_dollar.len());
    (&after_dollar[..end], end)
}
