//! Where skiff keeps its state, and the Podman configuration it honours:
//! the paths from `containers-storage.conf(5)`, `containers-registries.conf(5)`
//! (with its drop-in directories and short-name aliases), credentials in
//! `containers-auth.json(5)` and Docker's `config.json`, and `/etc/subuid`.
//!
//! Inputs are explicit: environment variables come through [`Env`] and system
//! files are found under a `sysroot` in the `*_in` variants, so tests never
//! touch the process environment or the real `/etc`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs;
use std::hash::{BuildHasher, Hash};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value};

const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_ALIASES: [&str; 2] = ["index.docker.io", "registry-1.docker.io"];

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
}

fn io_error(path: &Path, source: io::Error) -> ConfigError {
    ConfigError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn invalid(path: &Path, message: impl Into<String>) -> ConfigError {
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
fn env_value(env: &dyn Env, key: &str) -> Option<String> {
    env.var(key).filter(|value| !value.is_empty())
}

fn env_path(env: &dyn Env, key: &str) -> Option<PathBuf> {
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
fn home_dir(env: &dyn Env, uid: u32) -> Option<PathBuf> {
    env_path(env, "HOME").or_else(|| {
        let passwd = fs::read_to_string(PASSWD).ok()?;
        home_from_passwd(&passwd, uid)
    })
}

fn config_home_for(env: &dyn Env, home: &Path) -> PathBuf {
    env_path(env, "XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config"))
}

/// The config home when one can be found at all; registry and auth lookups
/// still work without it, they just skip the per-user files.
fn user_config_home(env: &dyn Env) -> Option<PathBuf> {
    env_path(env, "XDG_CONFIG_HOME").or_else(|| env_path(env, "HOME").map(|h| h.join(".config")))
}

fn user_cache_home(env: &dyn Env) -> Option<PathBuf> {
    env_path(env, "XDG_CACHE_HOME").or_else(|| env_path(env, "HOME").map(|h| h.join(".cache")))
}

// ---------------------------------------------------------------------------
// Paths

/// Path overrides from the command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathOptions {
    /// `--root`
    pub root: Option<PathBuf>,
    /// `--runroot`
    pub runroot: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// Persistent state: images, containers, volumes.
    pub data_root: PathBuf,
    /// Runtime state that must not survive a reboot: locks, pid files.
    pub run_root: PathBuf,
    /// `$XDG_CONFIG_HOME`, or `~/.config`.
    pub config_home: PathBuf,
    pub home: PathBuf,
}

impl Paths {
    /// Resolves paths from the real environment and the effective uid.
    pub fn from_process(opts: &PathOptions) -> Result<Paths, ConfigError> {
        Paths::resolve(opts, &ProcessEnv, effective_uid())
    }

    pub fn resolve(opts: &PathOptions, env: &impl Env, uid: u32) -> Result<Paths, ConfigError> {
        Paths::resolve_in(opts, env, uid, Path::new("/"))
    }

    /// Like [`Paths::resolve`], with `/etc` looked up under `sysroot`.
    pub fn resolve_in(
        opts: &PathOptions,
        env: &impl Env,
        uid: u32,
        sysroot: &Path,
    ) -> Result<Paths, ConfigError> {
        let env: &dyn Env = env;
        let home = home_dir(env, uid)
            .or_else(|| (uid == 0).then(|| PathBuf::from("/root")))
            .ok_or(ConfigError::NoHome)?;
        let config_home = config_home_for(env, &home);
        let (graphroot, runroot) = storage_roots(env, uid, &config_home, sysroot)?;
        let expand = |raw: String| expand_storage_path(&raw, env, uid, &home);
        let data_root = opts
            .root
            .clone()
            .or_else(|| graphroot.map(expand))
            .unwrap_or_else(|| default_data_root(env, uid, &home));
        let run_root = opts
            .runroot
            .clone()
            .or_else(|| runroot.map(expand))
            .unwrap_or_else(|| default_run_root(env, uid));
        Ok(Paths {
            data_root,
            run_root,
            config_home,
            home,
        })
    }
}

fn default_data_root(env: &dyn Env, uid: u32, home: &Path) -> PathBuf {
    if uid == 0 {
        return PathBuf::from("/var/lib/skiff");
    }
    env_path(env, "XDG_DATA_HOME")
        .unwrap_or_else(|| home.join(".local/share"))
        .join("skiff")
}

fn default_run_root(env: &dyn Env, uid: u32) -> PathBuf {
    if uid == 0 {
        return PathBuf::from("/run/skiff");
    }
    runtime_dir(env, uid).map_or_else(|| tmp_run_root(uid), |dir| dir.join("skiff"))
}

/// `$XDG_RUNTIME_DIR` when it is a directory this user owns; a variable
/// inherited across `su` or `sudo` would point at someone else's.
fn runtime_dir(env: &dyn Env, uid: u32) -> Option<PathBuf> {
    let dir = env_path(env, "XDG_RUNTIME_DIR")?;
    let meta = fs::metadata(&dir).ok()?;
    (meta.is_dir() && meta.uid() == uid).then_some(dir)
}

fn tmp_run_root(uid: u32) -> PathBuf {
    PathBuf::from(format!("/tmp/skiff-{uid}"))
}

/// Creates the run root with mode 0700. Where a path component sits in a
/// world-writable directory such as `/tmp`, another user could have created
/// it first (or planted a symlink), so it must already be, or be made, a real
/// directory owned by `uid` with no group or other access.
pub fn ensure_run_root(path: &Path, uid: u32) -> Result<(), ConfigError> {
    ensure_private_dir(path, uid)
}

fn ensure_private_dir(dir: &Path, uid: u32) -> Result<(), ConfigError> {
    let mut current = PathBuf::new();
    for component in dir.components() {
        current.push(component);
        let Some(parent) = parent_dir(&current) else {
            continue;
        };
        create_dir_if_missing(&current)?;
        check_component(&current, parent, uid, current == dir)?;
    }
    let meta = fs::metadata(dir).map_err(|e| io_error(dir, e))?;
    if meta.is_dir() {
        Ok(())
    } else {
        Err(io_error(dir, io::Error::other("not a directory")))
    }
}

/// The directory holding `path`, or `None` for a filesystem root.
fn parent_dir(path: &Path) -> Option<&Path> {
    let parent = path.parent()?;
    Some(if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    })
}

fn create_dir_if_missing(path: &Path) -> Result<(), ConfigError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            match fs::DirBuilder::new().mode(0o700).create(path) {
                Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(io_error(path, e)),
                _ => Ok(()),
            }
        }
        Err(e) => Err(io_error(path, e)),
    }
}

fn is_world_writable(dir: &Path) -> bool {
    fs::metadata(dir).is_ok_and(|meta| meta.mode() & 0o002 != 0)
}

/// Only components of a shared (world-writable) directory need checking:
/// elsewhere, only their owner or root could have put them there. Such a
/// component must be our own real directory that others cannot write to;
/// the final one (the run root itself) must also be closed to reading.
fn check_component(path: &Path, parent: &Path, uid: u32, is_last: bool) -> Result<(), ConfigError> {
    if !is_world_writable(parent) {
        return Ok(());
    }
    let meta = fs::symlink_metadata(path).map_err(|e| io_error(path, e))?;
    let forbidden_mode = if is_last { 0o077 } else { 0o022 };
    let problem = if meta.file_type().is_symlink() {
        Some("it is a symbolic link".to_string())
    } else if !meta.is_dir() {
        Some("it is not a directory".to_string())
    } else if meta.uid() != uid && (is_last || meta.uid() != 0) {
        // Root's own directories in /tmp or /var/tmp are safe to pass through (the sticky bit
        // keeps others from replacing them); the run root itself must be ours.
        Some(format!("it is owned by uid {}", meta.uid()))
    } else if meta.mode() & forbidden_mode != 0 {
        Some(format!(
            "its mode {:o} gives others access",
            meta.mode() & 0o7777
        ))
    } else {
        None
    };
    let required = if is_last {
        "with mode 0700"
    } else {
        "that others cannot write to"
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(ConfigError::UnsafeDirectory {
            path: path.to_path_buf(),
            reason: format!(
                "{problem}, but it must be a directory owned by uid {uid} {required}; \
                 another user may have created it: remove it, or set XDG_RUNTIME_DIR \
                 (or --runroot) to a private directory"
            ),
        }),
    }
}

/// Checks existing components of `dir` as [`ensure_private_dir`] would,
/// without creating anything.
fn check_private_dir(dir: &Path, uid: u32) -> Result<(), ConfigError> {
    let mut current = PathBuf::new();
    for component in dir.components() {
        current.push(component);
        let Some(parent) = parent_dir(&current) else {
            continue;
        };
        if fs::symlink_metadata(&current).is_err() {
            return Ok(());
        }
        check_component(&current, parent, uid, current == dir)?;
    }
    Ok(())
}

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
fn storage_roots(
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
fn expand_storage_path(raw: &str, env: &dyn Env, uid: u32, home: &Path) -> PathBuf {
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
fn expand_vars(text: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
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

// ---------------------------------------------------------------------------
// TOML helpers

fn read_optional(path: &Path) -> Result<Option<String>, ConfigError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path, e)),
    }
}

fn parse_toml<T: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |span| span.start.min(text.len()));
        ConfigError::Syntax {
            path: path.to_path_buf(),
            line: text[..offset].matches('\n').count() + 1,
            message: e.message().trim().to_string(),
        }
    })
}

// ---------------------------------------------------------------------------
// registries.conf

/// Which pulls may go through a mirror (`pull-from-mirror`, or
/// `mirror-by-digest-only` on the registry).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MirrorPolicy {
    #[default]
    All,
    DigestOnly,
    TagOnly,
}

/// Where to reach one repository: the registry after `prefix`/`location`
/// rewriting, plus its mirrors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `host[:port]`. Docker Hub stays `docker.io`; map it to its API host
    /// before connecting.
    pub host: String,
    pub repository: String,
    /// Plain HTTP and unverified TLS are allowed.
    pub insecure: bool,
    /// Pulls of this name are forbidden by configuration.
    pub blocked: bool,
    /// Tried in order before this endpoint; empty on mirrors themselves.
    pub mirrors: Vec<Endpoint>,
    /// For a mirror, which pulls may use it; `All` for a primary endpoint.
    pub pull_from: MirrorPolicy,
}

impl Endpoint {
    /// The endpoints a pull should try, in order: the mirrors that allow
    /// this kind of pull, then the primary.
    pub fn pull_sources(&self, by_digest: bool) -> Vec<&Endpoint> {
        let allowed = |mirror: &&Endpoint| match mirror.pull_from {
            MirrorPolicy::All => true,
            MirrorPolicy::DigestOnly => by_digest,
            MirrorPolicy::TagOnly => !by_digest,
        };
        let mut sources: Vec<&Endpoint> = self.mirrors.iter().filter(allowed).collect();
        sources.push(self);
        sources
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct RegistryEntry {
    prefix: String,
    /// Empty only for a wildcard prefix, meaning "leave the name alone".
    location: String,
    insecure: bool,
    blocked: bool,
    mirrors: Vec<MirrorEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct MirrorEntry {
    location: String,
    insecure: bool,
    pull_from: MirrorPolicy,
}

/// The merged registries configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registries {
    search: Option<Vec<String>>,
    short_name_mode: Option<String>,
    /// Keyed by short name without `library/`; `None` erases an earlier alias.
    aliases: BTreeMap<String, Option<String>>,
    /// Keyed by prefix, so a drop-in replaces an entry with the same prefix.
    registries: BTreeMap<String, RegistryEntry>,
}

/// One file's worth of configuration, before merging.
#[derive(Default)]
struct RegistriesFile {
    search: Option<Vec<String>>,
    short_name_mode: Option<String>,
    aliases: BTreeMap<String, Option<String>>,
    registries: BTreeMap<String, RegistryEntry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawRegistriesFile {
    unqualified_search_registries: Option<Vec<String>>,
    short_name_mode: Option<String>,
    registry: Option<Vec<RawRegistry>>,
    aliases: Option<BTreeMap<String, String>>,
    /// The deprecated v1 format.
    registries: Option<RawV1>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawRegistry {
    prefix: Option<String>,
    location: Option<String>,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    mirror_by_digest_only: bool,
    #[serde(default)]
    mirror: Vec<RawMirror>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawMirror {
    location: Option<String>,
    #[serde(default)]
    insecure: bool,
    pull_from_mirror: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct RawV1 {
    search: Option<RawV1List>,
    insecure: Option<RawV1List>,
    block: Option<RawV1List>,
}

#[derive(Debug, Default, Deserialize)]
struct RawV1List {
    #[serde(default)]
    registries: Vec<String>,
}

impl RawV1 {
    fn is_set(&self) -> bool {
        [&self.search, &self.insecure, &self.block]
            .into_iter()
            .flatten()
            .any(|list| !list.registries.is_empty())
    }
}

impl RawRegistriesFile {
    /// Empty lists count as unset, as in containers/image.
    fn has_v2_fields(&self) -> bool {
        self.unqualified_search_registries
            .as_ref()
            .is_some_and(|v| !v.is_empty())
            || self.registry.as_ref().is_some_and(|v| !v.is_empty())
            || self.aliases.as_ref().is_some_and(|v| !v.is_empty())
            || self.short_name_mode.as_ref().is_some_and(|v| !v.is_empty())
    }
}

/// Where the registries configuration comes from, in merge order.
struct RegistrySources {
    main: PathBuf,
    /// An explicitly named main file must exist.
    main_required: bool,
    dropin_dirs: Vec<PathBuf>,
    alias_files: Vec<PathBuf>,
}

impl RegistrySources {
    /// containers/image's rules: `$CONTAINERS_REGISTRIES_CONF`, else the
    /// user's file if it exists (and then only the user's drop-ins), else
    /// the system file with system and then user drop-ins.
    fn find(env: &dyn Env, sysroot: &Path) -> RegistrySources {
        let config_home = user_config_home(env);
        let user_dir = config_home
            .as_ref()
            .map(|home| home.join("containers/registries.conf.d"));
        let user_file = config_home
            .as_ref()
            .map(|home| home.join("containers/registries.conf"))
            .filter(|file| file.exists());
        let system_dir = sysroot.join("etc/containers/registries.conf.d");
        let explicit = env_path(env, "CONTAINERS_REGISTRIES_CONF");
        let main_required = explicit.is_some();
        let (main, dropin_dirs) = match (explicit, user_file) {
            (Some(path), _) => (path, vec![Some(system_dir), user_dir]),
            (None, Some(path)) => (path, vec![user_dir]),
            (None, None) => (
                sysroot.join("etc/containers/registries.conf"),
                vec![Some(system_dir), user_dir],
            ),
        };
        // Podman records aliases in the cache dir; a hand-written file in
        // the config dir is read last so that it wins.
        let alias_files = [user_cache_home(env), config_home]
            .into_iter()
            .flatten()
            .map(|dir| dir.join("containers/short-name-aliases.conf"))
            .collect();
        RegistrySources {
            main,
            main_required,
            dropin_dirs: dropin_dirs.into_iter().flatten().collect(),
            alias_files,
        }
    }
}

impl Registries {
    /// Loads registries.conf, its drop-ins and short-name alias files.
    pub fn load(env: &impl Env) -> Result<Registries, ConfigError> {
        Registries::load_in(env, Path::new("/"))
    }

    /// Like [`Registries::load`], with `/etc` looked up under `sysroot`.
    pub fn load_in(env: &impl Env, sysroot: &Path) -> Result<Registries, ConfigError> {
        let sources = RegistrySources::find(env, sysroot);
        let mut merged = Registries::default();
        match read_optional(&sources.main)? {
            Some(text) => merged.merge(parse_registries(&text, &sources.main, false)?),
            None if sources.main_required => {
                return Err(io_error(&sources.main, io::ErrorKind::NotFound.into()));
            }
            None => {}
        }
        for path in dropin_files(&sources.dropin_dirs)? {
            if let Some(text) = read_optional(&path)? {
                merged.merge(parse_registries(&text, &path, true)?);
            }
        }
        for path in &sources.alias_files {
            if let Some(text) = read_optional(path)? {
                let file = parse_registries(&text, path, true)?;
                merged.aliases.extend(file.aliases);
            }
        }
        Ok(merged)
    }

    /// Parses one registries.conf (v1 or v2) from text.
    pub fn from_toml_str(text: &str) -> Result<Registries, ConfigError> {
        let mut registries = Registries::default();
        registries.merge(parse_registries(text, Path::new("registries.conf"), false)?);
        Ok(registries)
    }

    /// Registries to try for a short name, in order; Docker Hub when none
    /// are configured, which is what Docker always does.
    pub fn search_registries(&self) -> Vec<String> {
        match &self.search {
            Some(list) if !list.is_empty() => list.clone(),
            _ => vec![DOCKER_HUB.to_string()],
        }
    }

    /// `short-name-mode` as configured (`enforcing`, `permissive`, `disabled`).
    pub fn short_name_mode(&self) -> Option<&str> {
        self.short_name_mode.as_deref()
    }

    /// The fully qualified repository (no tag) a short name is aliased to.
    /// Any tag or digest on `short` is ignored, and `library/busybox` finds
    /// the alias for `busybox`.
    pub fn alias(&self, short: &str) -> Option<String> {
        let key = alias_key(strip_tag_and_digest(short));
        self.aliases.get(&key).cloned().flatten()
    }

    /// The endpoint for `registry/repository`, honouring `insecure` from
    /// the configuration and treating loopback registries as insecure.
    pub fn endpoint(&self, registry: &str, repository: &str) -> Endpoint {
        self.endpoint_with_tls(registry, repository, None)
    }

    /// Like [`Registries::endpoint`]; `Some(verify)` (from `--tls-verify`)
    /// overrides the configuration for the endpoint and all its mirrors.
    pub fn endpoint_with_tls(
        &self,
        registry: &str,
        repository: &str,
        tls_verify: Option<bool>,
    ) -> Endpoint {
        let name = format!("{registry}/{repository}");
        let Some((entry, matched)) = self.find_registry(&name) else {
            return make_endpoint(&name, repository, false, false, tls_verify);
        };
        let mut endpoint = make_endpoint(
            &rewrite(&entry.location, &name, matched),
            repository,
            entry.insecure,
            entry.blocked,
            tls_verify,
        );
        endpoint.mirrors = entry
            .mirrors
            .iter()
            .map(|mirror| {
                let target = rewrite(&mirror.location, &name, matched);
                let mut ep = make_endpoint(
                    &target,
                    repository,
                    mirror.insecure,
                    entry.blocked,
                    tls_verify,
                );
                ep.pull_from = mirror.pull_from;
                ep
            })
            .collect();
        endpoint
    }

    /// The entry with the longest matching prefix, and how much of `name`
    /// it matched. On equal lengths an exact prefix beats a wildcard.
    fn find_registry(&self, name: &str) -> Option<(&RegistryEntry, usize)> {
        self.registries
            .values()
            .filter_map(|entry| prefix_match(name, &entry.prefix).map(|len| (entry, len)))
            .max_by_key(|(entry, _)| (entry.prefix.len(), !is_wildcard(&entry.prefix)))
    }

    fn merge(&mut self, file: RegistriesFile) {
        if file.search.is_some() {
            self.search = file.search;
        }
        if file.short_name_mode.is_some() {
            self.short_name_mode = file.short_name_mode;
        }
        self.aliases.extend(file.aliases);
        self.registries.extend(file.registries);
    }
}

fn make_endpoint(
    target: &str,
    original_repository: &str,
    insecure: bool,
    blocked: bool,
    tls_verify: Option<bool>,
) -> Endpoint {
    let (host, repository) = split_target(target, original_repository);
    let insecure = match tls_verify {
        Some(verify) => !verify,
        None => insecure || is_loopback_host(&host),
    };
    Endpoint {
        host,
        repository,
        insecure,
        blocked,
        mirrors: Vec::new(),
        pull_from: MirrorPolicy::All,
    }
}

/// Splits a rewritten `host/repository`. A location that is only a host and
/// replaced the whole name keeps the original repository.
fn split_target(target: &str, original_repository: &str) -> (String, String) {
    let Some((host, repository)) = target.split_once('/') else {
        return (target.to_string(), original_repository.to_string());
    };
    let is_hub = host == DOCKER_HUB || DOCKER_HUB_ALIASES.contains(&host);
    let repository = if is_hub && !repository.contains('/') {
        format!("library/{repository}")
    } else {
        repository.to_string()
    };
    (host.to_string(), repository)
}

fn rewrite(location: &str, name: &str, matched: usize) -> String {
    if location.is_empty() {
        name.to_string()
    } else {
        format!("{location}{}", &name[matched..])
    }
}

fn is_wildcard(prefix: &str) -> bool {
    prefix.starts_with("*.")
}

/// How many bytes of `name` (`host/repository`) `prefix` matches. A prefix
/// must end at a path boundary, so `example.com/foo` does not match
/// `example.com/foobar`, and `example.com` does not match a registry on
/// another port (containers/image allows that, but calls it unintended).
fn prefix_match(name: &str, prefix: &str) -> Option<usize> {
    if is_wildcard(prefix) {
        return wildcard_match(name, &prefix[1..]);
    }
    let rest = name.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with(['/', '@'])).then_some(prefix.len())
}

/// `*.example.com` matches any subdomain of example.com, on any port.
fn wildcard_match(name: &str, dot_suffix: &str) -> Option<usize> {
    let hostport = name.split('/').next().unwrap_or(name);
    let host = strip_port(hostport);
    (host.len() > dot_suffix.len() && host.ends_with(dot_suffix)).then_some(host.len())
}

fn dropin_files(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, ConfigError> {
    let mut files = Vec::new();
    for dir in dirs {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_error(dir, e)),
        };
        let mut names: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|entry| entry.file_type().is_ok_and(|t| !t.is_dir()))
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "conf"))
            .collect();
        names.sort();
        files.extend(names);
    }
    Ok(files)
}

fn parse_registries(text: &str, path: &Path, dropin: bool) -> Result<RegistriesFile, ConfigError> {
    let raw: RawRegistriesFile = parse_toml(text, path)?;
    let v1 = raw.registries.as_ref().is_some_and(RawV1::is_set);
    if v1 && dropin {
        return Err(invalid(path, "drop-in files must use the v2 format"));
    }
    if v1 && raw.has_v2_fields() {
        return Err(invalid(path, "mixing sysregistry v1/v2 is not supported"));
    }
    let mut file = if v1 {
        convert_v1(raw.registries.unwrap_or_default(), path)?
    } else {
        RegistriesFile {
            registries: registry_entries(raw.registry.unwrap_or_default(), path)?,
            ..RegistriesFile::default()
        }
    };
    if let Some(search) = raw.unqualified_search_registries {
        file.search = Some(search_entries(search, path)?);
    }
    file.short_name_mode = raw.short_name_mode.filter(|mode| !mode.is_empty());
    for (name, value) in raw.aliases.unwrap_or_default() {
        let (key, value) = alias_entry(&name, &value, path)?;
        file.aliases.insert(key, value);
    }
    Ok(file)
}

fn convert_v1(v1: RawV1, path: &Path) -> Result<RegistriesFile, ConfigError> {
    let mut registries: BTreeMap<String, RegistryEntry> = BTreeMap::new();
    let lists = [(v1.block, true), (v1.insecure, false)];
    for (list, blocks) in lists {
        for location in list.map(|l| l.registries).unwrap_or_default() {
            let location = clean_location(&location, path)?;
            let entry = registries
                .entry(location.clone())
                .or_insert_with(|| RegistryEntry {
                    prefix: location.clone(),
                    location,
                    insecure: false,
                    blocked: false,
                    mirrors: Vec::new(),
                });
            if blocks {
                entry.blocked = true;
            } else {
                entry.insecure = true;
            }
        }
    }
    let search = match v1.search {
        Some(list) => Some(search_entries(list.registries, path)?),
        None => None,
    };
    Ok(RegistriesFile {
        search,
        registries,
        ..RegistriesFile::default()
    })
}

fn search_entries(list: Vec<String>, path: &Path) -> Result<Vec<String>, ConfigError> {
    list.iter()
        .map(|entry| {
            let host = clean_location(entry, path)?;
            if host.is_empty() || host.contains(['/', '@']) {
                return Err(invalid(
                    path,
                    format!("invalid unqualified-search-registries entry {entry:?}"),
                ));
            }
            Ok(host)
        })
        .collect()
}

/// Registries in one file; the first entry for a prefix wins, as later ones
/// could never be chosen by containers/image either.
fn registry_entries(
    raw: Vec<RawRegistry>,
    path: &Path,
) -> Result<BTreeMap<String, RegistryEntry>, ConfigError> {
    let mut entries = BTreeMap::new();
    for raw in raw {
        let entry = registry_entry(raw, path)?;
        entries.entry(entry.prefix.clone()).or_insert(entry);
    }
    Ok(entries)
}

fn registry_entry(raw: RawRegistry, path: &Path) -> Result<RegistryEntry, ConfigError> {
    let location = clean_location(raw.location.as_deref().unwrap_or(""), path)?;
    let prefix = match raw.prefix.as_deref() {
        Some(prefix) if !prefix.is_empty() => clean_location(prefix, path)?,
        _ => location.clone(),
    };
    if prefix.is_empty() {
        return Err(invalid(path, "[[registry]] needs a prefix or a location"));
    }
    if is_wildcard(&prefix) && prefix.contains(['/', '@', ':']) {
        return Err(invalid(
            path,
            format!("wildcard prefix {prefix:?} must have the form *.example.com"),
        ));
    }
    if !is_wildcard(&prefix) && location.is_empty() {
        return Err(invalid(
            path,
            format!("registry {prefix:?} has no location; only *.example.com prefixes may omit it"),
        ));
    }
    let mirrors = raw
        .mirror
        .into_iter()
        .map(|mirror| mirror_entry(mirror, raw.mirror_by_digest_only, &prefix, path))
        .collect::<Result<_, _>>()?;
    Ok(RegistryEntry {
        prefix,
        location,
        insecure: raw.insecure,
        blocked: raw.blocked,
        mirrors,
    })
}

fn mirror_entry(
    raw: RawMirror,
    digest_only: bool,
    prefix: &str,
    path: &Path,
) -> Result<MirrorEntry, ConfigError> {
    let location = clean_location(raw.location.as_deref().unwrap_or(""), path)?;
    if location.is_empty() {
        return Err(invalid(
            path,
            format!("a mirror of {prefix:?} has no location"),
        ));
    }
    let policy = match raw.pull_from_mirror.as_deref() {
        None | Some("") | Some("all") => MirrorPolicy::All,
        Some("digest-only") => MirrorPolicy::DigestOnly,
        Some("tag-only") => MirrorPolicy::TagOnly,
        Some(other) => {
            return Err(invalid(
                path,
                format!("unsupported pull-from-mirror value {other:?} for mirror {location:?}"),
            ))
        }
    };
    if digest_only && raw.pull_from_mirror.is_some() {
        return Err(invalid(
            path,
            format!("{prefix:?} sets both mirror-by-digest-only and pull-from-mirror"),
        ));
    }
    Ok(MirrorEntry {
        location,
        insecure: raw.insecure,
        pull_from: if digest_only {
            MirrorPolicy::DigestOnly
        } else {
            policy
        },
    })
}

fn clean_location(input: &str, path: &Path) -> Result<String, ConfigError> {
    let trimmed = input.trim_end_matches('/');
    if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
        return Err(invalid(
            path,
            format!("invalid location {input:?}: URI schemes are not supported"),
        ));
    }
    Ok(trimmed.to_string())
}

fn alias_entry(
    name: &str,
    value: &str,
    path: &Path,
) -> Result<(String, Option<String>), ConfigError> {
    if !is_short_repository(name) {
        return Err(invalid(
            path,
            format!(
                "invalid short name {name:?}: must be a repository without registry, tag or digest"
            ),
        ));
    }
    // An empty value erases an alias set by an earlier file.
    if value.is_empty() {
        return Ok((alias_key(name), None));
    }
    if !is_qualified_repository(value) {
        return Err(invalid(
            path,
            format!("invalid alias {value:?} for {name:?}: must be registry/repository without tag or digest"),
        ));
    }
    Ok((alias_key(name), Some(normalize_hub_name(value))))
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '/')
}

fn is_short_repository(name: &str) -> bool {
    let first = name.split('/').next().unwrap_or("");
    !name.is_empty()
        && name.chars().all(is_name_char)
        && !(name.contains('/') && (first.contains('.') || first == "localhost"))
}

fn is_qualified_repository(value: &str) -> bool {
    let Some((host, repository)) = value.split_once('/') else {
        return false;
    };
    let host_ok = host.contains(['.', ':']) || host == "localhost";
    host_ok && !repository.is_empty() && repository.chars().all(is_name_char)
}

/// `docker.io/alpine` means `docker.io/library/alpine`, as containers/image
/// normalises alias values.
fn normalize_hub_name(value: &str) -> String {
    match value.split_once('/') {
        Some((host, repo)) if host == DOCKER_HUB || DOCKER_HUB_ALIASES.contains(&host) => {
            let repo = if repo.contains('/') {
                repo.to_string()
            } else {
                format!("library/{repo}")
            };
            format!("{DOCKER_HUB}/{repo}")
        }
        _ => value.to_string(),
    }
}

fn alias_key(name: &str) -> String {
    match name.strip_prefix("library/") {
        Some(rest) if !rest.contains('/') => rest.to_string(),
        _ => name.to_string(),
    }
}

fn strip_tag_and_digest(name: &str) -> &str {
    let name = name.split('@').next().unwrap_or(name);
    match name.rfind(':') {
        Some(colon) if name.rfind('/').is_none_or(|slash| colon > slash) => &name[..colon],
        _ => name,
    }
}

/// True for `localhost`, `127.0.0.0/8` and `::1`, with or without a port.
/// Docker talks plain HTTP to such registries by default.
pub fn is_loopback_host(hostport: &str) -> bool {
    let host = strip_port(hostport);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

fn strip_port(hostport: &str) -> &str {
    // An unbracketed IPv6 address has colons but no port.
    if hostport.parse::<std::net::Ipv6Addr>().is_ok() {
        return hostport;
    }
    if let Some(end) = hostport.find(']') {
        return &hostport[..=end];
    }
    hostport.split_once(':').map_or(hostport, |(host, _)| host)
}

// ---------------------------------------------------------------------------
// Credentials

/// A registry login. `Debug` redacts the secrets and there is deliberately
/// no `Display`, so they cannot end up in logs by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// An OAuth refresh token (`identitytoken`), used instead of the password.
    pub identity_token: Option<String>,
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            password: password.into(),
            identity_token: None,
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field(
                "identity_token",
                &self.identity_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Podman's `auth.json` (read/write) plus the read-only files it falls back
/// to: `$XDG_CONFIG_HOME/containers/auth.json` and Docker's `config.json`.
#[derive(Clone, Debug)]
pub struct AuthStore {
    primary: PathBuf,
    read_only: Vec<PathBuf>,
    uid: u32,
}

impl AuthStore {
    pub fn new(primary: PathBuf, read_only: Vec<PathBuf>, uid: u32) -> AuthStore {
        AuthStore {
            primary,
            read_only,
            uid,
        }
    }

    pub fn from_process() -> AuthStore {
        AuthStore::from_env(&ProcessEnv, effective_uid())
    }

    /// `$REGISTRY_AUTH_FILE` alone when set (as Podman does); otherwise
    /// `$XDG_RUNTIME_DIR/containers/auth.json` (or the `/tmp/skiff-$UID`
    /// fallback) followed by the read-only files.
    pub fn from_env(env: &impl Env, uid: u32) -> AuthStore {
        let env: &dyn Env = env;
        if let Some(file) = env_path(env, "REGISTRY_AUTH_FILE") {
            return AuthStore::new(file, Vec::new(), uid);
        }
        let primary = match runtime_dir(env, uid) {
            Some(dir) => dir.join("containers/auth.json"),
            // Podman's path for root; /run/containers is not writable by others.
            None if uid == 0 => PathBuf::from("/run/containers/0/auth.json"),
            None => tmp_run_root(uid).join("containers/auth.json"),
        };
        let home = home_dir(env, uid);
        let mut read_only = Vec::new();
        if let Some(config_home) = home.as_ref().map(|h| config_home_for(env, h)) {
            read_only.push(config_home.join("containers/auth.json"));
        }
        let docker_dir = env_path(env, "DOCKER_CONFIG").or_else(|| home.map(|h| h.join(".docker")));
        if let Some(dir) = docker_dir {
            read_only.push(dir.join("config.json"));
        }
        AuthStore::new(primary, read_only, uid)
    }

    /// The file that `store` and `remove` change.
    pub fn primary_path(&self) -> &Path {
        &self.primary
    }

    /// Credentials for `registry/repository`: in each file in turn, the most
    /// specific key wins (`host/ns/repo`, `host/ns`, `host`). Files that are
    /// missing or unreadable are skipped.
    pub fn lookup(&self, registry: &str, repository: &str) -> Option<Credentials> {
        self.sources()
            .filter_map(|path| read_auth_file(path).ok().flatten())
            .find_map(|doc| find_credentials(&doc, registry, repository))
    }

    /// Saves a login for `registry` (a host, or `host/namespace`) in the
    /// primary file, keeping every other entry and key.
    pub fn store(&self, registry: &str, creds: &Credentials) -> Result<(), ConfigError> {
        let mut doc = self.read_primary()?.unwrap_or_else(empty_auth_doc);
        let auths = auths_mut(&mut doc, &self.primary)?;
        let entry = auths
            .entry(registry.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let entry = entry
            .as_object_mut()
            .expect("entry was just made an object");
        entry.insert("auth".into(), Value::String(encode_auth(creds)));
        match &creds.identity_token {
            Some(token) => {
                entry.insert("identitytoken".into(), Value::String(token.clone()));
            }
            None => {
                entry.shift_remove("identitytoken");
            }
        }
        self.write_primary(&doc)
    }

    /// Forgets the login for `registry`; false when there was none. For a
    /// bare host, entries spelled as URLs or Docker Hub aliases go too.
    pub fn remove(&self, registry: &str) -> Result<bool, ConfigError> {
        let Some(mut doc) = self.read_primary()? else {
            return Ok(false);
        };
        let auths = auths_mut(&mut doc, &self.primary)?;
        let mut keys: Vec<String> = auths.keys().filter(|k| *k == registry).cloned().collect();
        if keys.is_empty() && !registry.contains('/') {
            let wanted = normalize_auth_key(registry);
            keys = auths
                .keys()
                .filter(|k| normalize_auth_key(k) == wanted)
                .cloned()
                .collect();
        }
        if keys.is_empty() {
            return Ok(false);
        }
        for key in &keys {
            auths.shift_remove(key);
        }
        self.write_primary(&doc)?;
        Ok(true)
    }

    /// Forgets every login in the primary file, like `podman logout --all`
    /// (credential helper settings there go too).
    pub fn remove_all(&self) -> Result<(), ConfigError> {
        let Some(mut doc) = self.read_primary()? else {
            return Ok(());
        };
        let Some(root) = doc.as_object_mut() else {
            return Err(invalid(&self.primary, "not a JSON object"));
        };
        root.insert("auths".into(), Value::Object(Map::new()));
        root.shift_remove("credHelpers");
        self.write_primary(&doc)
    }

    fn sources(&self) -> impl Iterator<Item = &Path> {
        let primary = self.primary_is_trusted().then_some(self.primary.as_path());
        primary
            .into_iter()
            .chain(self.read_only.iter().map(PathBuf::as_path))
    }

    /// A primary file under /tmp that another user planted must not feed us
    /// their credentials.
    fn primary_is_trusted(&self) -> bool {
        self.primary
            .parent()
            .is_none_or(|dir| check_private_dir(dir, self.uid).is_ok())
    }

    fn read_primary(&self) -> Result<Option<Value>, ConfigError> {
        if let Some(dir) = self.primary.parent() {
            check_private_dir(dir, self.uid)?;
        }
        read_auth_file(&self.primary)
    }

    /// Writes atomically: a private temporary file in the same directory,
    /// flushed, then renamed over the old file.
    fn write_primary(&self, doc: &Value) -> Result<(), ConfigError> {
        let dir = parent_dir(&self.primary).unwrap_or(Path::new("/"));
        ensure_private_dir(dir, self.uid)?;
        let temp = temp_path(&self.primary);
        let result = write_new_file(&temp, &to_tab_indented_json(doc))
            .and_then(|()| fs::rename(&temp, &self.primary));
        if let Err(e) = result {
            let _ = fs::remove_file(&temp);
            return Err(io_error(&self.primary, e));
        }
        // Makes the rename itself durable; the file is already complete.
        if let Ok(handle) = fs::File::open(dir) {
            let _ = handle.sync_all();
        }
        Ok(())
    }
}

fn empty_auth_doc() -> Value {
    let mut root = Map::new();
    root.insert("auths".into(), Value::Object(Map::new()));
    Value::Object(root)
}

fn auths_mut<'a>(
    doc: &'a mut Value,
    path: &Path,
) -> Result<&'a mut Map<String, Value>, ConfigError> {
    let root = doc
        .as_object_mut()
        .ok_or_else(|| invalid(path, "not a JSON object"))?;
    let auths = root
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    auths
        .as_object_mut()
        .ok_or_else(|| invalid(path, "\"auths\" is not a JSON object"))
}

fn read_auth_file(path: &Path) -> Result<Option<Value>, ConfigError> {
    let Some(text) = read_optional(path)? else {
        return Ok(None);
    };
    if text.trim().is_empty() {
        return Ok(Some(empty_auth_doc()));
    }
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            line: e.line(),
            message: e.to_string(),
        })
}

fn find_credentials(doc: &Value, registry: &str, repository: &str) -> Option<Credentials> {
    let auths = doc.get("auths")?.as_object()?;
    let exact = auth_lookup_keys(registry, repository)
        .into_iter()
        .find_map(|key| auths.get(&key).and_then(decode_entry));
    exact.or_else(|| {
        // Docker writes Hub logins as "https://index.docker.io/v1/", and old
        // files use URLs for other registries too.
        let wanted = normalize_auth_key(registry);
        auths
            .iter()
            .filter(|(key, _)| normalize_auth_key(key) == wanted)
            .find_map(|(_, entry)| decode_entry(entry))
    })
}

/// `host/a/b/c`, `host/a/b`, `host/a`, `host`: most specific first.
fn auth_lookup_keys(registry: &str, repository: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut path = repository.trim_matches('/');
    while !path.is_empty() {
        keys.push(format!("{registry}/{path}"));
        path = path.rsplit_once('/').map_or("", |(parent, _)| parent);
    }
    keys.push(registry.to_string());
    keys
}

/// Reduces URL-style keys to their host and all Docker Hub spellings to one.
fn normalize_auth_key(key: &str) -> String {
    let stripped = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"));
    let host = match stripped {
        Some(rest) => rest.split('/').next().unwrap_or(rest),
        None => key,
    };
    if DOCKER_HUB_ALIASES.contains(&host) {
        DOCKER_HUB.to_string()
    } else {
        host.to_string()
    }
}

/// An entry's `auth` is base64 of `user:password`; `{}` (a credential
/// helper marker in Docker's file) and undecodable values count as absent.
fn decode_entry(entry: &Value) -> Option<Credentials> {
    let token = entry
        .get("identitytoken")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    let auth = entry.get("auth").and_then(Value::as_str).unwrap_or("");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    match decoded.as_deref().and_then(|text| text.split_once(':')) {
        Some((username, password)) => Some(Credentials {
            username: username.to_string(),
            password: password.trim_matches('\0').to_string(),
            identity_token: token,
        }),
        None => token.map(|token| Credentials {
            username: String::new(),
            password: String::new(),
            identity_token: Some(token),
        }),
    }
}

fn encode_auth(creds: &Credentials) -> String {
    let plain = format!("{}:{}", creds.username, creds.password);
    base64::engine::general_purpose::STANDARD.encode(plain)
}

/// Podman indents auth.json with tabs; matching it keeps diffs quiet.
fn to_tab_indented_json(doc: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(doc, &mut serializer).expect("a JSON value always serializes");
    out.push(b'\n');
    out
}

fn temp_path(target: &Path) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = target
        .file_name()
        .map_or("auth.json".into(), |n| n.to_string_lossy());
    target.with_file_name(format!(".{name}.{}.{nanos}.tmp", std::process::id()))
}

fn write_new_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

// ---------------------------------------------------------------------------
// subuid / subgid

/// A range of subordinate ids: `start`, `start + 1`, … `start + count - 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IdRange {
    pub start: u32,
    pub count: u32,
}

/// The ranges in an `/etc/subuid`-style file that belong to the user, named
/// either by login name or by numeric uid. Malformed lines are skipped.
pub fn subid_ranges(file_contents: &str, user_name: &str, uid: u32) -> Vec<IdRange> {
    let uid_text = uid.to_string();
    file_contents
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(parse_subid_line)
        .filter(|(owner, _)| (!user_name.is_empty() && *owner == user_name) || *owner == uid_text)
        .map(|(_, range)| range)
        .collect()
}

fn parse_subid_line(line: &str) -> Option<(&str, IdRange)> {
    let mut fields = line.split(':');
    let owner = fields.next()?.trim();
    let start: u32 = fields.next()?.trim().parse().ok()?;
    let count: u32 = fields.next()?.trim().parse().ok()?;
    let fits = u64::from(start) + u64::from(count) <= 1 << 32;
    (fields.next().is_none() && !owner.is_empty() && count > 0 && fits)
        .then_some((owner, IdRange { start, count }))
}

/// Subordinate uids from `/etc/subuid`; a missing file means none.
pub fn read_subuids(user_name: &str, uid: u32) -> Result<Vec<IdRange>, ConfigError> {
    read_subids(Path::new("/etc/subuid"), user_name, uid)
}

/// Subordinate gids from `/etc/subgid`, which is keyed by user, not group.
pub fn read_subgids(user_name: &str, uid: u32) -> Result<Vec<IdRange>, ConfigError> {
    read_subids(Path::new("/etc/subgid"), user_name, uid)
}

fn read_subids(path: &Path, user_name: &str, uid: u32) -> Result<Vec<IdRange>, ConfigError> {
    Ok(read_optional(path)?
        .map(|text| subid_ranges(&text, user_name, uid))
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    type TestEnv = HashMap<&'static str, String>;

    fn env_of(pairs: &[(&'static str, &str)]) -> TestEnv {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().mode() & 0o7777
    }

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

    // --- Paths ---

    const UID: u32 = 1000;

    fn rootless_env(home: &str) -> TestEnv {
        env_of(&[("HOME", home), ("USER", "alice")])
    }

    #[test]
    fn rootless_defaults() {
        let sys = tempfile::tempdir().unwrap();
        let env = rootless_env("/home/alice");
        let paths = Paths::resolve_in(&PathOptions::default(), &env, UID, sys.path()).unwrap();
        assert_eq!(
            paths.data_root,
            PathBuf::from("/home/alice/.local/share/skiff")
        );
        assert_eq!(paths.run_root, PathBuf::from("/tmp/skiff-1000"));
        assert_eq!(paths.config_home, PathBuf::from("/home/alice/.config"));
        assert_eq!(paths.home, PathBuf::from("/home/alice"));
    }

    #[test]
    fn xdg_variables_and_flags() {
        let sys = tempfile::tempdir().unwrap();
        let mut env = rootless_env("/home/alice");
        env.insert("XDG_DATA_HOME", "/data".into());
        env.insert("XDG_CONFIG_HOME", "/cfg".into());
        let paths = Paths::resolve_in(&PathOptions::default(), &env, UID, sys.path()).unwrap();
        assert_eq!(paths.data_root, PathBuf::from("/data/skiff"));
        assert_eq!(paths.config_home, PathBuf::from("/cfg"));
        let opts = PathOptions {
            root: Some("/r".into()),
            runroot: Some("/rr".into()),
        };
        let paths = Paths::resolve_in(&opts, &env, UID, sys.path()).unwrap();
        assert_eq!(paths.data_root, PathBuf::from("/r"));
        assert_eq!(paths.run_root, PathBuf::from("/rr"));
    }

    #[test]
    fn runtime_dir_must_be_owned_by_the_user() {
        let sys = tempfile::tempdir().unwrap();
        let runtime = tempfile::tempdir().unwrap();
        let me = effective_uid();
        let mut env = rootless_env("/home/alice");
        env.insert("XDG_RUNTIME_DIR", runtime.path().to_string_lossy().into());
        let paths = Paths::resolve_in(&PathOptions::default(), &env, me, sys.path()).unwrap();
        if me != 0 {
            assert_eq!(paths.run_root, runtime.path().join("skiff"));
        }
        let other = me.wrapping_add(1);
        let paths = Paths::resolve_in(&PathOptions::default(), &env, other, sys.path()).unwrap();
        assert_eq!(paths.run_root, PathBuf::from(format!("/tmp/skiff-{other}")));
    }

    #[test]
    fn root_defaults_and_system_storage_conf() {
        let sys = tempfile::tempdir().unwrap();
        let env = env_of(&[("HOME", "/root")]);
        let paths = Paths::resolve_in(&PathOptions::default(), &env, 0, sys.path()).unwrap();
        assert_eq!(paths.data_root, PathBuf::from("/var/lib/skiff"));
        assert_eq!(paths.run_root, PathBuf::from("/run/skiff"));

        write(
            &sys.path().join("usr/share/containers/storage.conf"),
            "[storage]\ngraphroot = \"/usr-graph\"\n",
        );
        let paths = Paths::resolve_in(&PathOptions::default(), &env, 0, sys.path()).unwrap();
        assert_eq!(
            paths.data_root,
            PathBuf::from("/var/lib/skiff"),
            "/usr/share is not read"
        );

        write(
            &sys.path().join("etc/containers/storage.conf"),
            "[storage]\ndriver = \"overlay\"\ngraphroot = \"/g\"\nrunroot = \"/rr\"\n\
             [storage.options.overlay]\nmountopt = \"nodev\"\n",
        );
        let paths = Paths::resolve_in(&PathOptions::default(), &env, 0, sys.path()).unwrap();
        assert_eq!(paths.data_root, PathBuf::from("/g"));
        assert_eq!(paths.run_root, PathBuf::from("/rr"));
    }

    #[test]
    fn rootless_ignores_system_graphroot_but_uses_rootless_storage_path() {
        let sys = tempfile::tempdir().unwrap();
        write(
            &sys.path().join("etc/containers/storage.conf"),
            "[storage]\ngraphroot = \"/var/lib/containers/storage\"\n\
             runroot = \"/run/containers/storage\"\n\
             rootless_storage_path = \"$HOME/stor/$UID/${USER}\"\n",
        );
        let env = rootless_env("/home/alice");
        let paths = Paths::resolve_in(&PathOptions::default(), &env, UID, sys.path()).unwrap();
        assert_eq!(
            paths.data_root,
            PathBuf::from("/home/alice/stor/1000/alice")
        );
        assert_eq!(paths.run_root, PathBuf::from("/tmp/skiff-1000"));
    }

    #[test]
    fn rootless_user_storage_conf_replaces_the_system_file() {
        let sys = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let home_str = home.path().to_string_lossy().into_owned();
        write(
            &sys.path().join("etc/containers/storage.conf"),
            "[storage]\nrootless_storage_path = \"/system-rootless\"\n",
        );
        let user_conf = home.path().join(".config/containers/storage.conf");
        let env = rootless_env(&home_str);
        let resolve = || Paths::resolve_in(&PathOptions::default(), &env, UID, sys.path()).unwrap();

        // A user file without either key still falls back to the system's
        // rootless_storage_path, as containers/storage does.
        write(&user_conf, "[storage]\ndriver = \"vfs\"\n");
        assert_eq!(resolve().data_root, PathBuf::from("/system-rootless"));

        write(
            &user_conf,
            "[storage]\nrootless_storage_path = \"/user-rootless\"\n",
        );
        assert_eq!(resolve().data_root, PathBuf::from("/user-rootless"));

        write(
            &user_conf,
            "[storage]\ngraphroot = \"$HOME/g\"\nrunroot = \"/run/user/$UID/r\"\n\
             rootless_storage_path = \"/ignored\"\n",
        );
        let paths = resolve();
        assert_eq!(paths.data_root, home.path().join("g"));
        assert_eq!(paths.run_root, PathBuf::from("/run/user/1000/r"));
    }

    #[test]
    fn containers_storage_conf_overrides_the_file() {
        let sys = tempfile::tempdir().unwrap();
        let other = sys.path().join("custom.conf");
        write(&other, "[storage]\ngraphroot = \"/custom\"\n");
        let mut env = rootless_env("/home/alice");
        env.insert("CONTAINERS_STORAGE_CONF", other.to_string_lossy().into());
        let paths = Paths::resolve_in(&PathOptions::default(), &env, UID, sys.path()).unwrap();
        assert_eq!(paths.data_root, PathBuf::from("/custom"));
        let paths = Paths::resolve_in(&PathOptions::default(), &env, 0, sys.path()).unwrap();
        assert_eq!(paths.data_root, PathBuf::from("/custom"));
    }

    #[test]
    fn storage_conf_syntax_errors_name_file_and_line() {
        let sys = tempfile::tempdir().unwrap();
        let conf = sys.path().join("etc/containers/storage.conf");
        write(
            &conf,
            "[storage]\ndriver = \"overlay\"\ngraphroot = /oops\n",
        );
        let env = env_of(&[("HOME", "/root")]);
        let err = Paths::resolve_in(&PathOptions::default(), &env, 0, sys.path()).unwrap_err();
        match &err {
            ConfigError::Syntax { path, line, .. } => {
                assert_eq!(path, &conf);
                assert_eq!(*line, 3);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("storage.conf: line 3"), "{err}");
    }

    #[test]
    fn no_home_is_an_error_for_rootless() {
        let sys = tempfile::tempdir().unwrap();
        let env = env_of(&[]);
        // uid 4242424 has no passwd entry anywhere sensible.
        let result = Paths::resolve_in(&PathOptions::default(), &env, 4_242_424, sys.path());
        assert!(matches!(result, Err(ConfigError::NoHome)), "{result:?}");
    }

    // --- ensure_run_root ---

    /// A sticky world-writable directory like /tmp, inside a private one
    /// (the shared directory itself would fail the check if it sat in /tmp).
    fn shared_dir() -> (tempfile::TempDir, PathBuf) {
        let base = tempfile::tempdir().unwrap();
        let shared = base.path().join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
        (base, shared)
    }

    #[test]
    fn run_root_is_created_private() {
        let base = tempfile::tempdir().unwrap();
        let target = base.path().join("a/b/skiff");
        ensure_run_root(&target, effective_uid()).unwrap();
        assert_eq!(mode_of(&target), 0o700);
        assert_eq!(mode_of(&base.path().join("a")), 0o700);
        ensure_run_root(&target, effective_uid()).unwrap();
    }

    #[test]
    fn run_root_in_shared_dir_is_checked() {
        let (_base, shared) = shared_dir();
        let me = effective_uid();
        let ok = shared.join("skiff-ok");
        ensure_run_root(&ok, me).unwrap();
        assert_eq!(mode_of(&ok), 0o700);

        let open = shared.join("skiff-open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o755)).unwrap();
        let err = ensure_run_root(&open, me).unwrap_err();
        assert!(
            matches!(err, ConfigError::UnsafeDirectory { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("skiff-open"), "{err}");

        let link = shared.join("skiff-link");
        symlink(ok.as_path(), &link).unwrap();
        let err = ensure_run_root(&link, me).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");

        let file = shared.join("skiff-file");
        fs::write(&file, "").unwrap();
        assert!(ensure_run_root(&file, me).is_err());

        let err = ensure_run_root(&ok, me.wrapping_add(1)).unwrap_err();
        assert!(err.to_string().contains("owned by uid"), "{err}");
    }

    // --- registries.conf ---

    const EXAMPLE: &str = r#"
unqualified-search-registries = ["example.com", "quay.io"]
short-name-mode = "enforcing"
some-future-key = 1

[aliases]
"fedora" = "registry.fedoraproject.org/fedora"
"library/alpine" = "docker.io/alpine"

[[registry]]
prefix = "example.com/foo"
insecure = false
blocked = false
location = "internal-registry-for-example.com/bar"

[[registry.mirror]]
location = "example-mirror-0.local/mirror-for-foo"

[[registry.mirror]]
location = "example-mirror-1.local/mirrors/foo"
insecure = true

[[registry]]
location = "example.com"
insecure = true

[[registry]]
prefix = "blocked.io"
location = "blocked.io"
blocked = true

[[registry]]
prefix = "*.wild.io"

[[registry]]
prefix = "x.wild.io"
location = "exact.wild.io"

[[registry]]
prefix = "docker.io"
location = "docker.io"
mirror-by-digest-only = true

[[registry.mirror]]
location = "mirror.gcr.io"
"#;

    fn example() -> Registries {
        Registries::from_toml_str(EXAMPLE).unwrap()
    }

    #[test]
    fn documented_example_rewrites_location_and_mirrors() {
        let ep = example().endpoint("example.com", "foo/image");
        assert_eq!(ep.host, "internal-registry-for-example.com");
        assert_eq!(ep.repository, "bar/image");
        assert!(!ep.insecure && !ep.blocked);
        let mirrors: Vec<(&str, &str, bool)> = ep
            .mirrors
            .iter()
            .map(|m| (m.host.as_str(), m.repository.as_str(), m.insecure))
            .collect();
        assert_eq!(
            mirrors,
            [
                ("example-mirror-0.local", "mirror-for-foo/image", false),
                ("example-mirror-1.local", "mirrors/foo/image", true),
            ]
        );
        let order: Vec<&str> = ep
            .pull_sources(false)
            .iter()
            .map(|e| e.host.as_str())
            .collect();
        assert_eq!(
            order,
            [
                "example-mirror-0.local",
                "example-mirror-1.local",
                "internal-registry-for-example.com"
            ]
        );
    }

    #[test]
    fn longest_prefix_wins_on_path_boundaries() {
        let regs = example();
        let ep = regs.endpoint("example.com", "other/image");
        assert_eq!(
            (ep.host.as_str(), ep.repository.as_str()),
            ("example.com", "other/image")
        );
        assert!(ep.insecure, "falls back to the shorter example.com prefix");
        assert!(ep.mirrors.is_empty());
        let ep = regs.endpoint("example.com", "foobar/image");
        assert_eq!(ep.repository, "foobar/image");
        assert!(ep.insecure);
        // Another port is another registry.
        let ep = regs.endpoint("example.com:5000", "foo/image");
        assert_eq!(ep.host, "example.com:5000");
        assert!(!ep.insecure);
    }

    #[test]
    fn exact_prefix_beats_a_repository_prefix_equal_to_the_name() {
        let ep = example().endpoint("example.com", "foo");
        assert_eq!(ep.host, "internal-registry-for-example.com");
        assert_eq!(ep.repository, "bar");
    }

    #[test]
    fn unmatched_names_pass_through() {
        let ep = example().endpoint("ghcr.io", "org/app");
        assert_eq!(
            ep,
            Endpoint {
                host: "ghcr.io".into(),
                repository: "org/app".into(),
                insecure: false,
                blocked: false,
                mirrors: vec![],
                pull_from: MirrorPolicy::All,
            }
        );
    }

    #[test]
    fn wildcard_prefixes() {
        let regs = example();
        let ep = regs.endpoint("a.wild.io", "x");
        assert_eq!(
            (ep.host.as_str(), ep.repository.as_str()),
            ("a.wild.io", "x")
        );
        let ep = regs.endpoint("b.a.wild.io:5000", "x/y");
        assert_eq!(ep.host, "b.a.wild.io:5000");
        assert!(regs.find_registry("b.a.wild.io:5000/x/y").is_some());
        assert!(regs.find_registry("wild.io/x").is_none());
        assert!(regs.find_registry("notwild.io/x").is_none());
        // Same prefix length: the exact entry wins over the wildcard.
        assert_eq!(regs.endpoint("x.wild.io", "app").host, "exact.wild.io");
    }

    #[test]
    fn wildcard_prefix_must_be_a_bare_domain() {
        let err = Registries::from_toml_str("[[registry]]\nprefix = \"*.a.io/ns\"\n").unwrap_err();
        assert!(err.to_string().contains("*.example.com"), "{err}");
    }

    #[test]
    fn blocked_applies_to_mirrors_too() {
        let text = "[[registry]]\nlocation = \"b.io\"\nblocked = true\n\
                    [[registry.mirror]]\nlocation = \"m.io\"\n";
        let ep = Registries::from_toml_str(text)
            .unwrap()
            .endpoint("b.io", "x");
        assert!(ep.blocked);
        assert!(ep.mirrors.iter().all(|m| m.blocked));
        assert!(example().endpoint("blocked.io", "x").blocked);
    }

    #[test]
    fn loopback_is_insecure_unless_tls_is_forced() {
        let regs = Registries::default();
        for host in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.9.9.9",
            "[::1]:5000",
        ] {
            assert!(regs.endpoint(host, "x").insecure, "{host}");
        }
        assert!(!regs.endpoint("10.0.0.1:5000", "x").insecure);
        assert!(
            !regs
                .endpoint_with_tls("localhost:5000", "x", Some(true))
                .insecure
        );
        let forced = example().endpoint_with_tls("example.com", "foo/image", Some(false));
        assert!(forced.insecure);
        assert!(forced.mirrors.iter().all(|m| m.insecure));
        let verified = example().endpoint_with_tls("example.com", "other", Some(true));
        assert!(!verified.insecure);
    }

    #[test]
    fn mirror_policies() {
        let ep = example().endpoint("docker.io", "library/busybox");
        assert_eq!(ep.mirrors.len(), 1);
        assert_eq!(ep.mirrors[0].repository, "library/busybox");
        assert_eq!(ep.pull_sources(false).len(), 1);
        assert_eq!(ep.pull_sources(true)[0].host, "mirror.gcr.io");

        let text = "[[registry]]\nlocation = \"r.io\"\n\
                    [[registry.mirror]]\nlocation = \"tags.io\"\npull-from-mirror = \"tag-only\"\n\
                    [[registry.mirror]]\nlocation = \"digests.io\"\npull-from-mirror = \"digest-only\"\n";
        let ep = Registries::from_toml_str(text)
            .unwrap()
            .endpoint("r.io", "x");
        let hosts = |by_digest| -> Vec<String> {
            ep.pull_sources(by_digest)
                .iter()
                .map(|e| e.host.clone())
                .collect()
        };
        assert_eq!(hosts(false), ["tags.io", "r.io"]);
        assert_eq!(hosts(true), ["digests.io", "r.io"]);

        let bad = "[[registry]]\nlocation = \"r.io\"\n[[registry.mirror]]\nlocation = \"m\"\n\
                   pull-from-mirror = \"sometimes\"\n";
        assert!(Registries::from_toml_str(bad).is_err());
    }

    #[test]
    fn docker_hub_location_rewrite_adds_library() {
        let text = "[[registry]]\nprefix = \"quay.io/mirrored\"\nlocation = \"docker.io\"\n";
        let ep = Registries::from_toml_str(text)
            .unwrap()
            .endpoint("quay.io", "mirrored/alpine");
        assert_eq!(
            (ep.host.as_str(), ep.repository.as_str()),
            ("docker.io", "library/alpine")
        );
    }

    #[test]
    fn search_registries_and_mode() {
        let regs = example();
        assert_eq!(regs.search_registries(), ["example.com", "quay.io"]);
        assert_eq!(regs.short_name_mode(), Some("enforcing"));
        let empty = Registries::from_toml_str("").unwrap();
        assert_eq!(empty.search_registries(), ["docker.io"]);
        assert_eq!(empty.short_name_mode(), None);
        let cleared = Registries::from_toml_str("unqualified-search-registries = []").unwrap();
        assert_eq!(cleared.search_registries(), ["docker.io"]);
        let bad = Registries::from_toml_str("unqualified-search-registries = [\"a.io/ns\"]");
        assert!(bad.is_err());
    }

    #[test]
    fn aliases() {
        let regs = example();
        assert_eq!(
            regs.alias("fedora").as_deref(),
            Some("registry.fedoraproject.org/fedora")
        );
        assert_eq!(
            regs.alias("fedora:39").as_deref(),
            Some("registry.fedoraproject.org/fedora")
        );
        assert_eq!(
            regs.alias("library/fedora").as_deref(),
            Some("registry.fedoraproject.org/fedora")
        );
        // The key was written with library/, and the value normalised.
        assert_eq!(
            regs.alias("alpine@sha256:abc").as_deref(),
            Some("docker.io/library/alpine")
        );
        assert_eq!(regs.alias("ubuntu"), None);
        for bad in [
            "[aliases]\n\"quay.io/x\" = \"quay.io/x\"\n",
            "[aliases]\n\"x:1\" = \"quay.io/x\"\n",
            "[aliases]\n\"x\" = \"x\"\n",
            "[aliases]\n\"x\" = \"quay.io/x:1\"\n",
        ] {
            assert!(Registries::from_toml_str(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn v1_format() {
        let text = "[registries.search]\nregistries = ['registry1.com', 'registry2.com']\n\
                    [registries.insecure]\nregistries = ['registry3.com']\n\
                    [registries.block]\nregistries = ['registry.untrusted.com', 'registry3.com']\n";
        let regs = Registries::from_toml_str(text).unwrap();
        assert_eq!(regs.search_registries(), ["registry1.com", "registry2.com"]);
        let ep = regs.endpoint("registry3.com", "x");
        assert!(ep.insecure && ep.blocked);
        assert!(regs.endpoint("registry.untrusted.com", "x").blocked);
        assert!(!regs.endpoint("registry1.com", "x").insecure);
    }

    #[test]
    fn mixing_v1_and_v2_is_refused() {
        let text = "unqualified-search-registries = [\"a.io\"]\n\
                    [registries.search]\nregistries = ['b.io']\n";
        let err = Registries::from_toml_str(text).unwrap_err();
        assert!(err.to_string().contains("mixing"), "{err}");
        // An empty v1 table next to v2 settings is harmless.
        let text = "unqualified-search-registries = [\"a.io\"]\n\
                    [registries.search]\nregistries = []\n";
        assert!(Registries::from_toml_str(text).is_ok());
    }

    #[test]
    fn invalid_registry_tables() {
        for bad in [
            "[[registry]]\nlocation = \"https://a.io\"\n",
            "[[registry]]\ninsecure = true\n",
            "[[registry]]\nprefix = \"a.io\"\n",
            "[[registry]]\nlocation = \"a.io\"\n[[registry.mirror]]\ninsecure = true\n",
            "[[registry]]\nlocation = \"a.io\"\nmirror-by-digest-only = true\n\
             [[registry.mirror]]\nlocation = \"m.io\"\npull-from-mirror = \"all\"\n",
        ] {
            assert!(Registries::from_toml_str(bad).is_err(), "{bad}");
        }
        // Trailing slashes are tolerated, as in containers/image.
        let regs = Registries::from_toml_str("[[registry]]\nlocation = \"a.io/ns/\"\n").unwrap();
        assert!(regs.find_registry("a.io/ns/x").is_some());
    }

    #[test]
    fn first_entry_for_a_prefix_wins_within_a_file() {
        let text = "[[registry]]\nlocation = \"a.io\"\ninsecure = true\n\
                    [[registry]]\nlocation = \"a.io\"\n";
        assert!(
            Registries::from_toml_str(text)
                .unwrap()
                .endpoint("a.io", "x")
                .insecure
        );
    }

    #[test]
    fn syntax_errors_carry_the_line() {
        let err = Registries::from_toml_str("a = 1\n\n[[registry]\n").unwrap_err();
        match err {
            ConfigError::Syntax { line, .. } => assert_eq!(line, 3),
            other => panic!("unexpected {other:?}"),
        }
        let err =
            Registries::from_toml_str("[[registry]]\nlocation = \"a.io\"\ninsecure = \"yes\"\n")
                .unwrap_err();
        assert!(
            matches!(err, ConfigError::Syntax { line: 3, .. }),
            "{err:?}"
        );
    }

    struct ConfigTree {
        sys: tempfile::TempDir,
        home: tempfile::TempDir,
    }

    impl ConfigTree {
        fn new() -> ConfigTree {
            ConfigTree {
                sys: tempfile::tempdir().unwrap(),
                home: tempfile::tempdir().unwrap(),
            }
        }

        fn env(&self) -> TestEnv {
            env_of(&[("HOME", &self.home.path().to_string_lossy())])
        }

        fn system(&self, rel: &str, text: &str) {
            write(&self.sys.path().join("etc/containers").join(rel), text);
        }

        fn user(&self, rel: &str, text: &str) {
            write(&self.home.path().join(".config/containers").join(rel), text);
        }

        fn load(&self, env: &TestEnv) -> Result<Registries, ConfigError> {
            Registries::load_in(env, self.sys.path())
        }
    }

    #[test]
    fn system_file_then_system_and_user_dropins() {
        let tree = ConfigTree::new();
        tree.system(
            "registries.conf",
            "unqualified-search-registries = [\"sys.io\"]\n\
             [[registry]]\nlocation = \"a.io\"\ninsecure = true\n\
             [aliases]\n\"tool\" = \"sys.io/tool\"\n\"gone\" = \"sys.io/gone\"\n",
        );
        tree.system(
            "registries.conf.d/10-a.conf",
            "unqualified-search-registries = [\"d10.io\"]\n",
        );
        tree.system(
            "registries.conf.d/20-b.conf",
            "short-name-mode = \"disabled\"\n[[registry]]\nlocation = \"a.io\"\n\
             [aliases]\n\"gone\" = \"\"\n",
        );
        tree.system("registries.conf.d/30-ignored.txt", "this is not toml = =");
        fs::create_dir_all(
            tree.sys
                .path()
                .join("etc/containers/registries.conf.d/sub.conf"),
        )
        .unwrap();
        tree.user(
            "registries.conf.d/05-user.conf",
            "unqualified-search-registries = [\"user.io\"]\n",
        );

        let regs = tree.load(&tree.env()).unwrap();
        assert_eq!(
            regs.search_registries(),
            ["user.io"],
            "user drop-ins load last"
        );
        assert_eq!(regs.short_name_mode(), Some("disabled"));
        assert!(
            !regs.endpoint("a.io", "x").insecure,
            "drop-in replaced the entry"
        );
        assert_eq!(regs.alias("tool").as_deref(), Some("sys.io/tool"));
        assert_eq!(regs.alias("gone"), None);
    }

    #[test]
    fn user_registries_conf_replaces_system_configuration() {
        let tree = ConfigTree::new();
        tree.system(
            "registries.conf",
            "unqualified-search-registries = [\"sys.io\"]\n",
        );
        tree.system(
            "registries.conf.d/10.conf",
            "short-name-mode = \"disabled\"\n",
        );
        tree.user(
            "registries.conf",
            "[[registry]]\nlocation = \"u.io\"\nblocked = true\n",
        );
        tree.user(
            "registries.conf.d/10.conf",
            "unqualified-search-registries = [\"ud.io\"]\n",
        );
        let regs = tree.load(&tree.env()).unwrap();
        assert_eq!(regs.search_registries(), ["ud.io"]);
        assert_eq!(regs.short_name_mode(), None);
        assert!(regs.endpoint("u.io", "x").blocked);

        let mut env = tree.env();
        let cfg = tree.home.path().join("elsewhere");
        env.insert("XDG_CONFIG_HOME", cfg.to_string_lossy().into());
        let regs = tree.load(&env).unwrap();
        assert_eq!(
            regs.search_registries(),
            ["sys.io"],
            "XDG_CONFIG_HOME moves the user file"
        );
    }

    #[test]
    fn explicit_registries_conf() {
        let tree = ConfigTree::new();
        tree.user(
            "registries.conf",
            "unqualified-search-registries = [\"user.io\"]\n",
        );
        tree.system(
            "registries.conf.d/10.conf",
            "short-name-mode = \"permissive\"\n",
        );
        let explicit = tree.sys.path().join("explicit.conf");
        write(
            &explicit,
            "unqualified-search-registries = [\"explicit.io\"]\n",
        );
        let mut env = tree.env();
        env.insert(
            "CONTAINERS_REGISTRIES_CONF",
            explicit.to_string_lossy().into(),
        );
        let regs = tree.load(&env).unwrap();
        assert_eq!(regs.search_registries(), ["explicit.io"]);
        assert_eq!(regs.short_name_mode(), Some("permissive"));

        env.insert(
            "CONTAINERS_REGISTRIES_CONF",
            "/nonexistent/registries.conf".into(),
        );
        assert!(matches!(tree.load(&env), Err(ConfigError::Io { .. })));
    }

    #[test]
    fn missing_files_are_fine() {
        let tree = ConfigTree::new();
        let regs = tree.load(&tree.env()).unwrap();
        assert_eq!(regs, Registries::default());
        assert!(Registries::load_in(&env_of(&[]), tree.sys.path()).is_ok());
    }

    #[test]
    fn dropins_must_be_v2_and_valid() {
        let tree = ConfigTree::new();
        tree.system(
            "registries.conf.d/1.conf",
            "[registries.search]\nregistries = ['a.io']\n",
        );
        let err = tree.load(&tree.env()).unwrap_err();
        assert!(err.to_string().contains("1.conf"), "{err}");
        let tree = ConfigTree::new();
        tree.system("registries.conf.d/1.conf", "\n[[registry]\n");
        let err = tree.load(&tree.env()).unwrap_err();
        assert!(err.to_string().contains("1.conf: line 2"), "{err}");
    }

    #[test]
    fn short_name_alias_files_win() {
        let tree = ConfigTree::new();
        tree.system(
            "registries.conf",
            "[aliases]\n\"a\" = \"sys.io/a\"\n\"b\" = \"sys.io/b\"\n\"c\" = \"sys.io/c\"\n",
        );
        write(
            &tree
                .home
                .path()
                .join(".cache/containers/short-name-aliases.conf"),
            "[aliases]\n\"a\" = \"cache.io/a\"\n\"b\" = \"cache.io/b\"\n",
        );
        tree.user(
            "short-name-aliases.conf",
            "[aliases]\n\"b\" = \"config.io/b\"\n",
        );
        let regs = tree.load(&tree.env()).unwrap();
        assert_eq!(regs.alias("a").as_deref(), Some("cache.io/a"));
        assert_eq!(regs.alias("b").as_deref(), Some("config.io/b"));
        assert_eq!(regs.alias("c").as_deref(), Some("sys.io/c"));
    }

    #[test]
    fn loopback_hosts() {
        for yes in [
            "localhost",
            "LOCALHOST:80",
            "127.0.0.1",
            "127.255.0.1:5000",
            "[::1]",
            "[::1]:5000",
            "::1",
        ] {
            assert!(is_loopback_host(yes), "{yes}");
        }
        for no in [
            "example.com",
            "10.0.0.1",
            "[::2]:5000",
            "localhost.localdomain",
            "0.0.0.0",
            "",
        ] {
            assert!(!is_loopback_host(no), "{no}");
        }
    }

    #[test]
    fn strip_tag_and_digest_keeps_ports() {
        assert_eq!(strip_tag_and_digest("a:1"), "a");
        assert_eq!(strip_tag_and_digest("a/b:1@sha256:x"), "a/b");
        assert_eq!(strip_tag_and_digest("h:5000/a"), "h:5000/a");
    }

    // --- credentials ---

    fn b64(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    fn auth_json(entries: &[(&str, &str)]) -> String {
        let auths: Map<String, Value> = entries
            .iter()
            .map(|(key, plain)| {
                (
                    (*key).to_string(),
                    serde_json::json!({ "auth": b64(plain) }),
                )
            })
            .collect();
        serde_json::json!({ "auths": auths }).to_string()
    }

    fn store_in(dir: &Path) -> AuthStore {
        AuthStore::new(
            dir.join("run/containers/auth.json"),
            vec![
                dir.join("config/containers/auth.json"),
                dir.join("docker/config.json"),
            ],
            effective_uid(),
        )
    }

    fn user_of(creds: Option<Credentials>) -> Option<String> {
        creds.map(|c| format!("{}:{}", c.username, c.password))
    }

    #[test]
    fn most_specific_key_wins() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(dir.path());
        write(
            store.primary_path(),
            &auth_json(&[
                ("my-registry.local", "host:1"),
                ("my-registry.local/foo", "ns:2"),
                ("my-registry.local/foo/bar/image", "repo:3"),
            ]),
        );
        let look = |repo: &str| user_of(store.lookup("my-registry.local", repo));
        assert_eq!(look("foo/bar/image").as_deref(), Some("repo:3"));
        assert_eq!(look("foo/bar/other").as_deref(), Some("ns:2"));
        assert_eq!(look("foo/x").as_deref(), Some("ns:2"));
        assert_eq!(look("foobar/x").as_deref(), Some("host:1"));
        assert_eq!(user_of(store.lookup("other.local", "x")), None);
    }

    #[test]
    fn docker_config_is_a_fallback_with_hub_and_url_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(dir.path());
        write(
            &dir.path().join("docker/config.json"),
            &auth_json(&[
                ("https://index.docker.io/v1/", "hub:1"),
                ("https://legacy.io/v1/", "legacy:2"),
                ("ghcr.io", "docker-ghcr:3"),
            ]),
        );
        write(
            &dir.path().join("config/containers/auth.json"),
            &auth_json(&[("ghcr.io", "podman-ghcr:4")]),
        );
        assert_eq!(
            user_of(store.lookup("docker.io", "library/busybox")).as_deref(),
            Some("hub:1")
        );
        assert_eq!(
            user_of(store.lookup("legacy.io", "a/b")).as_deref(),
            Some("legacy:2")
        );
        assert_eq!(
            user_of(store.lookup("ghcr.io", "a")).as_deref(),
            Some("podman-ghcr:4")
        );

        store
            .store("ghcr.io", &Credentials::new("primary", "5"))
            .unwrap();
        assert_eq!(
            user_of(store.lookup("ghcr.io", "a")).as_deref(),
            Some("primary:5")
        );
    }

    #[test]
    fn empty_and_broken_entries_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(dir.path());
        write(
            store.primary_path(),
            r#"{"auths": {"a.io/ns": {}, "a.io": {"auth": "bm9jb2xvbg=="}, "b.io": {"auth": "!!"}}}"#,
        );
        write(
            &dir.path().join("docker/config.json"),
            &auth_json(&[("a.io", "u:p")]),
        );
        assert_eq!(
            user_of(store.lookup("a.io", "ns/x")).as_deref(),
            Some("u:p")
        );
        assert_eq!(store.lookup("b.io", "x"), None);
        // A corrupt file is skipped for lookups but never overwritten.
        write(&dir.path().join("config/containers/auth.json"), "{not json");
        assert_eq!(user_of(store.lookup("a.io", "x")).as_deref(), Some("u:p"));
        write(store.primary_path(), "{not json");
        let err = store
            .store("a.io", &Credentials::new("u", "p"))
            .unwrap_err();
        assert!(matches!(err, ConfigError::Syntax { .. }), "{err:?}");
    }

    #[test]
    fn identity_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(dir.path());
        write(
            store.primary_path(),
            &serde_json::json!({"auths": {
                "t.io": {"auth": b64("<token>:"), "identitytoken": "refresh"},
                "only.io": {"identitytoken": "tok"}
            }})
            .to_string(),
        );
        let creds = store.lookup("t.io", "x").unwrap();
        assert_eq!(creds.username, "<token>");
        assert_eq!(creds.identity_token.as_deref(), Some("refresh"));
        assert_eq!(
            store
                .lookup("only.io", "x")
                .unwrap()
                .identity_token
                .as_deref(),
            Some("tok")
        );
    }

    #[test]
    fn store_writes_private_files_atomically_and_keeps_other_data() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(dir.path());
        write(
            store.primary_path(),
            r#"{"auths": {"keep.io": {"auth": "a2VlcDpt", "email": "x@y"}, "a.io": {"auth": "b2xkOm9sZA==", "identitytoken": "old", "extra": 1}}, "credHelpers": {"h.io": "pass"}, "future": [1, 2]}"#,
        );
        store
            .store("a.io", &Credentials::new("new", "pw:with:colons"))
            .unwrap();
        store.store("b.io/ns", &Credentials::new("b", "2")).unwrap();

        let doc: Value =
            serde_json::from_str(&fs::read_to_string(store.primary_path()).unwrap()).unwrap();
        assert_eq!(doc["future"], serde_json::json!([1, 2]));
        assert_eq!(doc["credHelpers"]["h.io"], "pass");
        assert_eq!(doc["auths"]["keep.io"]["email"], "x@y");
        assert_eq!(doc["auths"]["a.io"]["extra"], 1);
        assert!(doc["auths"]["a.io"].get("identitytoken").is_none());
        let keys: Vec<&String> = doc["auths"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["keep.io", "a.io", "b.io/ns"], "order is preserved");
        let creds = store.lookup("a.io", "x").unwrap();
        assert_eq!(
            (creds.username.as_str(), creds.password.as_str()),
            ("new", "pw:with:colons")
        );

        assert_eq!(mode_of(store.primary_path()), 0o600);
        let leftovers: Vec<_> = fs::read_dir(store.primary_path().parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["auth.json"]);
    }

    #[test]
    fn store_creates_private_directories() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(dir.path());
        store.store("a.io", &Credentials::new("u", "p")).unwrap();
        assert_eq!(mode_of(store.primary_path()), 0o600);
        assert_eq!(mode_of(store.primary_path().parent().unwrap()), 0o700);
        let text = fs::read_to_string(store.primary_path()).unwrap();
        assert!(text.starts_with("{\n\t\"auths\""), "{text}");
        assert_eq!(user_of(store.lookup("a.io", "r")).as_deref(), Some("u:p"));
    }

    #[test]
    fn planted_primary_in_shared_dir_is_ignored() {
        let (_base, shared) = shared_dir();
        let planted = shared.join("skiff-x/containers");
        fs::create_dir_all(&planted).unwrap();
        fs::set_permissions(shared.join("skiff-x"), fs::Permissions::from_mode(0o777)).unwrap();
        write(
            &planted.join("auth.json"),
            &auth_json(&[("a.io", "evil:1")]),
        );
        let store = AuthStore::new(planted.join("auth.json"), vec![], effective_uid());
        assert_eq!(store.lookup("a.io", "x"), None);
        assert!(matches!(
            store.store("a.io", &Credentials::new("u", "p")),
            Err(ConfigError::UnsafeDirectory { .. })
        ));
    }

    #[test]
    fn remove_and_remove_all() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(dir.path());
        assert!(!store.remove("a.io").unwrap(), "no file yet");
        store.remove_all().unwrap();
        assert!(!store.primary_path().exists());

        write(
            store.primary_path(),
            &auth_json(&[
                ("a.io", "a:1"),
                ("https://index.docker.io/v1/", "hub:2"),
                ("c.io/ns", "c:3"),
                ("d.io", "d:4"),
            ]),
        );
        assert!(store.remove("a.io").unwrap());
        assert!(!store.remove("a.io").unwrap());
        assert!(store.remove("docker.io").unwrap(), "URL-style hub key");
        assert!(
            !store.remove("c.io").unwrap(),
            "namespaced entries need their exact key"
        );
        assert!(store.remove("c.io/ns").unwrap());
        assert!(store.lookup("a.io", "x").is_none());
        assert!(store.lookup("d.io", "x").is_some());
        assert_eq!(mode_of(store.primary_path()), 0o600);

        store.remove_all().unwrap();
        assert!(store.lookup("d.io", "x").is_none());
        let doc: Value =
            serde_json::from_str(&fs::read_to_string(store.primary_path()).unwrap()).unwrap();
        assert_eq!(doc, serde_json::json!({"auths": {}}));
    }

    #[test]
    fn auth_paths_from_environment() {
        let runtime = tempfile::tempdir().unwrap();
        let me = effective_uid();
        let env = env_of(&[("REGISTRY_AUTH_FILE", "/x/auth.json"), ("HOME", "/home/a")]);
        let store = AuthStore::from_env(&env, me);
        assert_eq!(store.primary_path(), Path::new("/x/auth.json"));
        assert!(
            store.read_only.is_empty(),
            "an explicit file is the only source"
        );

        let env = env_of(&[
            ("XDG_RUNTIME_DIR", &runtime.path().to_string_lossy()),
            ("HOME", "/home/a"),
            ("DOCKER_CONFIG", "/dc"),
        ]);
        let store = AuthStore::from_env(&env, me);
        assert_eq!(
            store.primary_path(),
            runtime.path().join("containers/auth.json")
        );
        assert_eq!(
            store.read_only,
            [
                PathBuf::from("/home/a/.config/containers/auth.json"),
                PathBuf::from("/dc/config.json")
            ]
        );

        let env = env_of(&[("HOME", "/home/a"), ("XDG_CONFIG_HOME", "/cfg")]);
        let store = AuthStore::from_env(&env, 1234);
        assert_eq!(
            store.primary_path(),
            Path::new("/tmp/skiff-1234/containers/auth.json")
        );
        assert_eq!(
            store.read_only,
            [
                PathBuf::from("/cfg/containers/auth.json"),
                PathBuf::from("/home/a/.docker/config.json")
            ]
        );
        assert_eq!(
            AuthStore::from_env(&env_of(&[("HOME", "/root")]), 0).primary_path(),
            Path::new("/run/containers/0/auth.json")
        );
    }

    #[test]
    fn credentials_debug_redacts_secrets() {
        let mut creds = Credentials::new("alice", "hunter2");
        creds.identity_token = Some("tok-secret".into());
        let shown = format!("{creds:?}");
        assert!(shown.contains("alice"), "{shown}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("tok-secret"),
            "{shown}"
        );
    }

    #[test]
    fn auth_lookup_key_order() {
        assert_eq!(
            auth_lookup_keys("r.io", "a/b/c"),
            ["r.io/a/b/c", "r.io/a/b", "r.io/a", "r.io"]
        );
        assert_eq!(auth_lookup_keys("r.io", ""), ["r.io"]);
        assert_eq!(
            normalize_auth_key("https://registry-1.docker.io/v2/"),
            "docker.io"
        );
        assert_eq!(normalize_auth_key("quay.io/ns"), "quay.io/ns");
    }

    // --- subuid / subgid ---

    #[test]
    fn subid_parsing() {
        let file = "# comment\n\
                    alice:100000:65536\n\
                    \n\
                    1000:200000:1000\n\
                    bob:300000:65536\n\
                    alice:bad:1\n\
                    alice:1:0\n\
                    alice:4294967295:2\n\
                    alice:1:2:3\n\
                    :5:5\n\
                      alice : 400000 : 10 \n";
        assert_eq!(
            subid_ranges(file, "alice", 1000),
            [
                IdRange {
                    start: 100000,
                    count: 65536
                },
                IdRange {
                    start: 200000,
                    count: 1000
                },
                IdRange {
                    start: 400000,
                    count: 10
                },
            ]
        );
        assert_eq!(
            subid_ranges(file, "bob", 1001),
            [IdRange {
                start: 300000,
                count: 65536
            }]
        );
        assert!(subid_ranges(file, "", 5).is_empty());
        assert_eq!(
            subid_ranges("x:4294967295:1\n", "x", 1),
            [IdRange {
                start: u32::MAX,
                count: 1
            }]
        );
    }

    #[test]
    fn missing_subid_file_means_no_ranges() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_subids(&dir.path().join("subuid"), "a", 1)
            .unwrap()
            .is_empty());
        write(&dir.path().join("subgid"), "a:10:5\n");
        assert_eq!(
            read_subids(&dir.path().join("subgid"), "a", 1).unwrap(),
            [IdRange {
                start: 10,
                count: 5
            }]
        );
    }
}
