//! Credentials: Podman's `containers-auth.json(5)` and Docker's `config.json`.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Map, Value};

use super::paths::{check_private_dir, ensure_private_dir, parent_dir, runtime_dir, tmp_run_root};
use super::{
    config_home_for, effective_uid, env_path, home_dir, invalid, io_error, read_optional,
    ConfigError, Env, ProcessEnv, DOCKER_HUB, DOCKER_HUB_ALIASES,
};

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
    /// specific key wins (`host/ns/repo`, `host/ns`, `host`). Missing files
    /// are skipped. A file that cannot be read or parsed is an error naming it,
    /// as in Podman, except Docker's `config.json`, which Docker itself only
    /// warns about: it is passed over and reported in [`Found::skipped`].
    pub fn find(&self, registry: &str, repository: &str) -> Result<Found, ConfigError> {
        let mut skipped = Vec::new();
        for path in self.sources() {
            let doc = match read_auth_file(path).and_then(|doc| check_shape(doc, path)) {
                Ok(Some(doc)) => doc,
                Ok(None) => continue,
                Err(e) if is_docker_config(path) => {
                    skipped.push(e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            if let Some(credentials) = find_credentials(&doc, registry, repository) {
                return Ok(Found {
                    credentials: Some(credentials),
                    skipped,
                });
            }
        }
        Ok(Found {
            credentials: None,
            skipped,
        })
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

/// What [`AuthStore::find`] found, and the Docker files it had to pass over.
#[derive(Debug)]
pub struct Found {
    pub credentials: Option<Credentials>,
    pub skipped: Vec<ConfigError>,
}

/// Docker's file is `config.json` (in `$DOCKER_CONFIG` or `~/.docker`); Podman's are
/// `auth.json`.
fn is_docker_config(path: &Path) -> bool {
    path.file_name().is_some_and(|name| name == "config.json")
}

/// A file that parses but is not an object, or whose `auths` is not one, holds no
/// credentials skiff could read: as broken as one that does not parse.
fn check_shape(doc: Option<Value>, path: &Path) -> Result<Option<Value>, ConfigError> {
    let Some(doc) = doc else {
        return Ok(None);
    };
    let root = doc
        .as_object()
        .ok_or_else(|| invalid(path, "not a JSON object: fix or remove the file"))?;
    if root.get("auths").is_some_and(|auths| !auths.is_object()) {
        return Err(invalid(
            path,
            "\"auths\" is not a JSON object: fix or remove the file",
        ));
    }
    Ok(Some(doc))
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
            // serde_json ends its message with the position, which the line already gives.
            message: format!(
                "{}: not valid JSON; fix or remove the file",
                e.to_string()
                    .rsplit_once(" at line ")
                    .map_or(e.to_string(), |(m, _)| m.to_string())
            ),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::*;
    use std::os::unix::fs::PermissionsExt;

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

    /// A lookup that must find every file readable.
    fn lookup_in(store: &AuthStore, registry: &str, repository: &str) -> Option<Credentials> {
        let found = store.find(registry, repository).unwrap();
        assert!(found.skipped.is_empty(), "{:?}", found.skipped);
        found.credentials
    }

    #[test]
    fn broken_podman_files_are_errors_and_docker_files_are_passed_over() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(dir.path());
        let podman = dir.path().join("config/containers/auth.json");
        let docker = dir.path().join("docker/config.json");
        write(&docker, &auth_json(&[("a.io", "d:1")]));
        for text in ["{not json", "[]", r#"{"auths": 5}"#] {
            write(&podman, text);
            let err = store.find("a.io", "x").unwrap_err().to_string();
            assert!(err.contains("containers/auth.json"), "{text}: {err}");
        }
        // Credentials found before a broken file are used: files are read in order.
        write(store.primary_path(), &auth_json(&[("a.io", "p:0")]));
        assert_eq!(
            user_of(lookup_in(&store, "a.io", "x")).as_deref(),
            Some("p:0")
        );
        fs::remove_file(store.primary_path()).unwrap();
        fs::remove_file(&podman).unwrap();
        write(&docker, "{\"auths\": {");
        let found = store.find("a.io", "x").unwrap();
        assert_eq!(found.credentials, None);
        assert_eq!(found.skipped.len(), 1);
        assert!(
            found.skipped[0].to_string().contains("docker/config.json"),
            "{:?}",
            found.skipped
        );
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
        let look = |repo: &str| user_of(lookup_in(&store, "my-registry.local", repo));
        assert_eq!(look("foo/bar/image").as_deref(), Some("repo:3"));
        assert_eq!(look("foo/bar/other").as_deref(), Some("ns:2"));
        assert_eq!(look("foo/x").as_deref(), Some("ns:2"));
        assert_eq!(look("foobar/x").as_deref(), Some("host:1"));
        assert_eq!(user_of(lookup_in(&store, "other.local", "x")), None);
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
            user_of(lookup_in(&store, "docker.io", "library/busybox")).as_deref(),
            Some("hub:1")
        );
        assert_eq!(
            user_of(lookup_in(&store, "legacy.io", "a/b")).as_deref(),
            Some("legacy:2")
        );
        assert_eq!(
            user_of(lookup_in(&store, "ghcr.io", "a")).as_deref(),
            Some("podman-ghcr:4")
        );

        store
            .store("ghcr.io", &Credentials::new("primary", "5"))
            .unwrap();
        assert_eq!(
            user_of(lookup_in(&store, "ghcr.io", "a")).as_deref(),
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
            user_of(lookup_in(&store, "a.io", "ns/x")).as_deref(),
            Some("u:p")
        );
        assert_eq!(lookup_in(&store, "b.io", "x"), None);
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
        let creds = lookup_in(&store, "t.io", "x").unwrap();
        assert_eq!(creds.username, "<token>");
        assert_eq!(creds.identity_token.as_deref(), Some("refresh"));
        assert_eq!(
            lookup_in(&store, "only.io", "x")
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
        let creds = lookup_in(&store, "a.io", "x").unwrap();
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
        assert_eq!(
            user_of(lookup_in(&store, "a.io", "r")).as_deref(),
            Some("u:p")
        );
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
        assert_eq!(lookup_in(&store, "a.io", "x"), None);
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
        assert!(lookup_in(&store, "a.io", "x").is_none());
        assert!(lookup_in(&store, "d.io", "x").is_some());
        assert_eq!(mode_of(store.primary_path()), 0o600);

        store.remove_all().unwrap();
        assert!(lookup_in(&store, "d.io", "x").is_none());
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
}
