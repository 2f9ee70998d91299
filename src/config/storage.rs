//! `containers-storage.conf(5)`: the keys that decide where data lives.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{
    current_user_name, env_path, env_value, invalid, parse_toml, read_optional, ConfigError, Env,
};

/// The storage driver a `storage.conf` asks for, of those skiff can honour: `overlay` (the
/// kernel's overlayfs, or fuse-overlayfs where the kernel's is not allowed) or `vfs` (a private
/// copy of the image for each container).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageDriver {
    Overlay,
    Vfs,
}

/// A path setting and the file it came from, so that a bad value can name both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Setting {
    pub value: String,
    pub file: PathBuf,
}

/// What `[storage]` says about where data lives and how images are mounted; the other keys
/// describe Podman's own driver options and do not apply to skiff.
#[derive(Debug, Default)]
struct StorageTable {
    graphroot: Option<Setting>,
    runroot: Option<Setting>,
    rootless_storage_path: Option<Setting>,
    driver: Option<StorageDriver>,
}

/// Read loosely typed, so that a wrong type gets a message naming its key.
#[derive(Debug, Default, Deserialize)]
struct RawStorageTable {
    graphroot: Option<toml::Value>,
    runroot: Option<toml::Value>,
    rootless_storage_path: Option<toml::Value>,
    driver: Option<toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
struct StorageFile {
    #[serde(default)]
    storage: RawStorageTable,
}

/// The settings that decide where skiff's store and runtime state live, unexpanded.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct StorageSettings {
    pub graphroot: Option<Setting>,
    pub runroot: Option<Setting>,
    pub driver: Option<StorageDriver>,
}

/// Every value skiff reads is checked here: one it cannot honour (a driver it does not have,
/// an empty or non-string path) is an error naming the file and key, never silently replaced
/// by the default.
fn load_storage_conf(path: &Path) -> Result<Option<StorageTable>, ConfigError> {
    let Some(text) = read_optional(path)? else {
        return Ok(None);
    };
    let file: StorageFile = parse_toml(&text, path)?;
    let raw = file.storage;
    let setting = |key: &str, value: Option<toml::Value>| -> Result<Option<Setting>, ConfigError> {
        match value {
            None => Ok(None),
            Some(toml::Value::String(text)) if text.is_empty() => Err(invalid(
                path,
                format!(
                    "[storage] {key} is empty: give an absolute directory, or remove the key                      for the default"
                ),
            )),
            Some(toml::Value::String(text)) => Ok(Some(Setting {
                value: text,
                file: path.to_path_buf(),
            })),
            Some(other) => Err(invalid(
                path,
                format!(
                    "[storage] {key} must be a string (an absolute directory), not {}",
                    other.type_str()
                ),
            )),
        }
    };
    Ok(Some(StorageTable {
        graphroot: setting("graphroot", raw.graphroot)?,
        runroot: setting("runroot", raw.runroot)?,
        rootless_storage_path: setting("rootless_storage_path", raw.rootless_storage_path)?,
        driver: storage_driver(path, raw.driver)?,
    }))
}

fn storage_driver(
    path: &Path,
    value: Option<toml::Value>,
) -> Result<Option<StorageDriver>, ConfigError> {
    let fix = "use \"overlay\" or \"vfs\"";
    match value {
        // containers/storage picks a driver itself when the key is empty.
        None => Ok(None),
        Some(toml::Value::String(name)) => match name.as_str() {
            "" => Ok(None),
            "overlay" | "overlay2" => Ok(Some(StorageDriver::Overlay)),
            "vfs" => Ok(Some(StorageDriver::Vfs)),
            other => Err(invalid(
                path,
                format!("[storage] driver {other:?} is not supported: {fix}"),
            )),
        },
        Some(other) => Err(invalid(
            path,
            format!(
                "[storage] driver must be a string, not {} {other}: {fix}",
                other.type_str()
            ),
        )),
    }
}

/// Only the administrator's `/etc/containers/storage.conf`: the
/// distribution's `/usr/share` copy merely restates Podman's own default
/// store, which skiff must not adopt by accident.
fn load_system_storage_conf(sysroot: &Path) -> Result<Option<StorageTable>, ConfigError> {
    load_storage_conf(&sysroot.join("etc/containers/storage.conf"))
}

/// The configured graphroot, runroot and driver, unexpanded, following
/// containers/storage: root reads only the system file (or
/// `$CONTAINERS_STORAGE_CONF`); a rootless user's own file replaces the
/// system one entirely, and of the system file only `rootless_storage_path`
/// (and the driver, where the user has no file) applies to rootless users.
pub(super) fn storage_roots(
    env: &dyn Env,
    uid: u32,
    config_home: &Path,
    sysroot: &Path,
) -> Result<StorageSettings, ConfigError> {
    let override_path = env_path(env, "CONTAINERS_STORAGE_CONF");
    if uid == 0 {
        let table = match override_path {
            Some(path) => load_storage_conf(&path)?,
            None => load_system_storage_conf(sysroot)?,
        };
        return Ok(
            table.map_or_else(StorageSettings::default, |t| StorageSettings {
                graphroot: t.graphroot,
                runroot: t.runroot,
                driver: t.driver,
            }),
        );
    }
    let system = load_system_storage_conf(sysroot)?;
    let system_driver = system.as_ref().and_then(|t| t.driver);
    let system_rootless = system.and_then(|t| t.rootless_storage_path);
    let user_path = override_path.unwrap_or_else(|| config_home.join("containers/storage.conf"));
    Ok(match load_storage_conf(&user_path)? {
        Some(user) => StorageSettings {
            graphroot: user
                .graphroot
                .or(user.rootless_storage_path)
                .or(system_rootless),
            runroot: user.runroot,
            driver: user.driver,
        },
        None => StorageSettings {
            graphroot: system_rootless,
            runroot: None,
            driver: system_driver,
        },
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
