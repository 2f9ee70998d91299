//! `containers-registries.conf(5)`: search registries, short-name aliases, prefixes rewritten
//! to locations, mirrors, insecure and blocked registries, with drop-in directories.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{
    env_path, invalid, io_error, parse_toml, read_optional, user_cache_home, user_config_home,
    ConfigError, Env, DOCKER_HUB, DOCKER_HUB_ALIASES,
};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::*;

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
}
