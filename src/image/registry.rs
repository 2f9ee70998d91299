//! A client for the OCI distribution API (pull side): manifests, blobs, tags and login checks,
//! with anonymous, Basic and Bearer-token auth.
//!
//! Written on a small synchronous HTTP client rather than `oci-client`: the async client needs a
//! tokio runtime whose threads must never be alive when the runtime forks and unshares, and we
//! want to verify each blob's digest while it streams into the unpacker, resuming dropped
//! connections with Range requests. Every byte that is used is checked against its digest here.

use std::io::{self, Read, Write};
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::config::Credentials;
use crate::image::manifest::{self, ManifestError};

/// Manifests and configs are small; anything bigger is not what it claims to be.
const MAX_MANIFEST: u64 = 8 << 20;
const BLOB_ATTEMPTS: u32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("registry {host} is unreachable: {why}")]
    Unreachable { host: String, why: String },
    #[error("{what} not found: {detail}")]
    NotFound { what: String, detail: String },
    #[error("authentication required by {host}: log in with 'skiff login {host}' or pass --creds")]
    AuthRequired { host: String },
    #[error("{host} refused the credentials: {detail}")]
    AuthRefused { host: String, detail: String },
    #[error("access to {what} denied by {host}: {detail}")]
    Denied {
        host: String,
        what: String,
        detail: String,
    },
    #[error("{host} answered {status} for {what}: {detail}")]
    Status {
        host: String,
        status: u16,
        what: String,
        detail: String,
    },
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("{what} is truncated: got {got} of {want} bytes from {host}")]
    Truncated {
        host: String,
        what: String,
        got: u64,
        want: u64,
    },
    #[error("{what} is larger than its descriptor says ({want} bytes)")]
    TooLarge { what: String, want: u64 },
    #[error("{host}: {why}")]
    Protocol { host: String, why: String },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// Writing the blob to its destination failed: not the registry's fault, never retried.
    #[error("{0}")]
    Sink(io::Error),
}

/// A manifest exactly as the registry sent it, with the digest of those bytes.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    pub bytes: Vec<u8>,
    pub digest: String,
    pub content_type: Option<String>,
}

/// Where and how to reach one repository.
#[derive(Debug, Clone)]
pub struct Target {
    /// `host[:port]` as the API is reached.
    pub host: String,
    pub repository: String,
    /// May use plain HTTP or unverified TLS (loopback, or marked insecure).
    pub insecure: bool,
}

/// How a session reaches its registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Https,
    /// HTTPS without checking the certificate: insecure registries only.
    HttpsUnverified,
    Http,
}

impl Scheme {
    fn prefix(self) -> &'static str {
        match self {
            Scheme::Https | Scheme::HttpsUnverified => "https",
            Scheme::Http => "http",
        }
    }
}

/// The HTTP clients a session may use; connections are pooled per agent.
#[derive(Clone)]
pub struct Agents {
    verified: ureq::Agent,
    unverified: ureq::Agent,
}

#[derive(Debug, Clone)]
enum Auth {
    None,
    Basic(String),
    Bearer(String),
}

/// One repository on one registry, with the auth it has negotiated so far.
pub struct Session {
    agents: Agents,
    target: Target,
    /// Settled by the first request that gets an answer (insecure registries try two).
    scheme: Mutex<Option<Scheme>>,
    creds: Option<Credentials>,
    /// `pull` or `pull,push`.
    actions: &'static str,
    auth: Mutex<Auth>,
}

pub fn agents() -> Agents {
    let builder = || {
        ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(15))
            .timeout_read(Duration::from_secs(60))
            .redirects(8)
            .user_agent(concat!("skiff/", env!("CARGO_PKG_VERSION")))
    };
    Agents {
        verified: builder().build(),
        unverified: builder()
            .tls_config(super::tls::unverified_config())
            .build(),
    }
}

impl Session {
    pub fn new(agents: Agents, target: Target, creds: Option<Credentials>) -> Session {
        Session {
            agents,
            target,
            scheme: Mutex::new(None),
            creds,
            actions: "pull",
            auth: Mutex::new(Auth::None),
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The schemes to try, best first. Docker tries HTTP first on loopback (where registries
    /// usually speak it) and HTTPS first elsewhere, falling back to the other when insecure.
    fn schemes(&self) -> Vec<Scheme> {
        if let Some(s) = *self.scheme.lock().expect("scheme lock") {
            return vec![s];
        }
        if !self.target.insecure {
            vec![Scheme::Https]
        } else if crate::config::is_loopback_host(&self.target.host) {
            vec![Scheme::Http, Scheme::HttpsUnverified]
        } else {
            vec![Scheme::HttpsUnverified, Scheme::Http]
        }
    }

    fn base(&self) -> String {
        format!("{}://{}", self.schemes()[0].prefix(), self.target.host)
    }

    /// Fetches a manifest by tag or digest and checks its digest.
    pub fn manifest(&self, reference: &str) -> Result<FetchedManifest, RegistryError> {
        let what = format!("manifest for {}:{}", self.target.repository, reference);
        let url = format!(
            "{}/v2/{}/manifests/{}",
            self.base(),
            self.target.repository,
            reference
        );
        let resp = self.get(&url, &[("Accept", manifest::ACCEPT)], &what)?;
        let content_type = resp.header("Content-Type").map(str::to_string);
        let header_digest = resp.header("Docker-Content-Digest").map(str::to_string);
        let bytes = read_limited(resp.into_reader(), MAX_MANIFEST)
            .map_err(|e| self.unreachable(format!("reading {what}: {e}")))?;
        let digest = sha256_digest(&bytes);
        let expected = if reference.contains(':') {
            Some(reference.to_string())
        } else {
            header_digest.filter(|d| d.starts_with("sha256:"))
        };
        if let Some(expected) = expected {
            if expected != digest {
                return Err(RegistryError::DigestMismatch {
                    what,
                    expected,
                    actual: digest,
                });
            }
        }
        Ok(FetchedManifest {
            bytes,
            digest,
            content_type,
        })
    }

    /// Fetches a small blob (a config) whole and checks its digest.
    pub fn small_blob(&self, digest: &str, size: u64) -> Result<Vec<u8>, RegistryError> {
        if size > MAX_MANIFEST {
            return Err(RegistryError::TooLarge {
                what: format!("config {digest}"),
                want: MAX_MANIFEST,
            });
        }
        let mut out = Vec::with_capacity(size as usize);
        self.blob(digest, size, &mut out, &mut |_| {})?;
        Ok(out)
    }

    /// Streams a blob into `sink`, resuming dropped connections, and checks its size and digest.
    /// `progress` gets the running byte count.
    pub fn blob(
        &self,
        digest: &str,
        size: u64,
        sink: &mut dyn Write,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), RegistryError> {
        let what = format!("blob {digest}");
        let url = format!(
            "{}/v2/{}/blobs/{}",
            self.base(),
            self.target.repository,
            digest
        );
        let mut hasher = Sha256::new();
        let mut written = 0u64;
        let mut attempt = 0;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            attempt += 1;
            let range = format!("bytes={written}-");
            let headers: Vec<(&str, &str)> = if written > 0 {
                vec![("Range", range.as_str())]
            } else {
                vec![]
            };
            let resp = match self.get(&url, &headers, &what) {
                Ok(r) => r,
                Err(RegistryError::Unreachable { .. }) if attempt < BLOB_ATTEMPTS => {
                    std::thread::sleep(Duration::from_millis(200 * u64::from(attempt)));
                    continue;
                }
                Err(e) => return Err(e),
            };
            // A server that ignores Range sends it all again: skip what we already have.
            let mut skip = if resp.status() == 206 { 0 } else { written };
            let mut reader = resp.into_reader();
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let mut chunk = &buf[..n];
                if skip > 0 {
                    let s = skip.min(chunk.len() as u64) as usize;
                    chunk = &chunk[s..];
                    skip -= s as u64;
                }
                if written + chunk.len() as u64 > size {
                    return Err(RegistryError::TooLarge { what, want: size });
                }
                hasher.update(chunk);
                sink.write_all(chunk).map_err(RegistryError::Sink)?;
                written += chunk.len() as u64;
                progress(written);
            }
            // A read error and a clean end before `size` bytes are both a dropped connection.
            if written == size || attempt >= BLOB_ATTEMPTS {
                break;
            }
            std::thread::sleep(Duration::from_millis(200 * u64::from(attempt)));
        }
        if written < size {
            return Err(RegistryError::Truncated {
                host: self.target.host.clone(),
                what,
                got: written,
                want: size,
            });
        }
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if actual != digest {
            return Err(RegistryError::DigestMismatch {
                what,
                expected: digest.to_string(),
                actual,
            });
        }
        Ok(())
    }

    /// All tags of the repository, following the `Link` header's pages.
    pub fn tags(&self) -> Result<Vec<String>, RegistryError> {
        #[derive(serde::Deserialize)]
        struct TagList {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let what = format!("tags of {}", self.target.repository);
        let mut url = format!(
            "{}/v2/{}/tags/list?n=1000",
            self.base(),
            self.target.repository
        );
        let mut out = Vec::new();
        for _ in 0..1000 {
            let resp = self.get(&url, &[("Accept", "application/json")], &what)?;
            let next = resp.header("Link").and_then(parse_next_link);
            let bytes = read_limited(resp.into_reader(), MAX_MANIFEST)
                .map_err(|e| self.unreachable(format!("reading {what}: {e}")))?;
            let list: TagList =
                serde_json::from_slice(&bytes).map_err(|e| RegistryError::Protocol {
                    host: self.target.host.clone(),
                    why: format!("malformed tag list: {e}"),
                })?;
            out.extend(list.tags.unwrap_or_default());
            match next {
                Some(n) if n.starts_with('/') => url = format!("{}{n}", self.base()),
                Some(n) => url = n,
                None => break,
            }
        }
        Ok(out)
    }

    /// Checks that the registry accepts our credentials (or needs none): `GET /v2/`.
    pub fn check_login(&self) -> Result<(), RegistryError> {
        let url = format!("{}/v2/", self.base());
        self.get(&url, &[], "the registry's API").map(|_| ())
    }

    /// GET with our current auth; on a 401 negotiates auth from the challenge and tries once more.
    fn get(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        what: &str,
    ) -> Result<ureq::Response, RegistryError> {
        let schemes = self.schemes();
        let mut result = self.get_with(schemes[0], url, headers, what);
        if let (Some(&other), Err(e)) = (schemes.get(1), &result) {
            // The other scheme, when this one got no answer or an answer meant for the other
            // (a server speaking TLS answers plain HTTP with 400).
            let wrong_scheme = matches!(e, RegistryError::Unreachable { .. })
                || matches!(e, RegistryError::Status { status: 400, .. });
            if wrong_scheme {
                let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
                let url = format!("{}://{rest}", other.prefix());
                let second = self.get_with(other, &url, headers, what);
                if second.is_ok() {
                    result = second;
                    *self.scheme.lock().expect("scheme lock") = Some(other);
                }
            }
        }
        if result.is_ok() {
            self.scheme
                .lock()
                .expect("scheme lock")
                .get_or_insert(schemes[0]);
        }
        result
    }

    fn get_with(
        &self,
        scheme: Scheme,
        url: &str,
        headers: &[(&str, &str)],
        what: &str,
    ) -> Result<ureq::Response, RegistryError> {
        let agent = match scheme {
            Scheme::HttpsUnverified => &self.agents.unverified,
            _ => &self.agents.verified,
        };
        let mut challenged = false;
        loop {
            let auth = self.auth.lock().expect("auth lock").clone();
            let mut req = agent.get(url);
            for (k, v) in headers {
                req = req.set(k, v);
            }
            req = match &auth {
                Auth::None => req,
                Auth::Basic(b) => req.set("Authorization", &format!("Basic {b}")),
                Auth::Bearer(t) => req.set("Authorization", &format!("Bearer {t}")),
            };
            match req.call() {
                Ok(resp) => return Ok(resp),
                Err(ureq::Error::Status(401, resp)) if !challenged => {
                    challenged = true;
                    let challenge = resp.header("WWW-Authenticate").unwrap_or("").to_string();
                    let next = self.negotiate(&challenge)?;
                    *self.auth.lock().expect("auth lock") = next;
                }
                Err(ureq::Error::Status(code, resp)) => {
                    return Err(self.status_error(code, resp, what, &auth))
                }
                Err(ureq::Error::Transport(t)) => {
                    let mut why = transport_why(&t);
                    if why.contains("certificate") {
                        why.push_str(
                            " (if you trust this registry, mark it insecure in registries.conf \
                             or pass --tls-verify=false)",
                        );
                    }
                    return Err(self.unreachable(why));
                }
            }
        }
    }

    fn negotiate(&self, challenge: &str) -> Result<Auth, RegistryError> {
        let (scheme, params) = parse_challenge(challenge);
        match scheme.to_ascii_lowercase().as_str() {
            "bearer" => self.fetch_token(&params),
            "basic" => match &self.creds {
                Some(c) => Ok(Auth::Basic(basic(c))),
                None => Err(RegistryError::AuthRequired {
                    host: self.target.host.clone(),
                }),
            },
            _ => Err(RegistryError::AuthRequired {
                host: self.target.host.clone(),
            }),
        }
    }

    fn fetch_token(&self, params: &[(String, String)]) -> Result<Auth, RegistryError> {
        let param = |k: &str| {
            params
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
        };
        let realm = param("realm").ok_or_else(|| RegistryError::Protocol {
            host: self.target.host.clone(),
            why: "Bearer challenge without a realm".into(),
        })?;
        let agent = match *self.scheme.lock().expect("scheme lock") {
            Some(Scheme::HttpsUnverified) => &self.agents.unverified,
            _ => &self.agents.verified,
        };
        let mut req = agent.get(&realm);
        if let Some(service) = param("service") {
            req = req.query("service", &service);
        }
        let scope = format!("repository:{}:{}", self.target.repository, self.actions);
        req = req.query("scope", &scope);
        if let Some(c) = &self.creds {
            req = req.set("Authorization", &format!("Basic {}", basic(c)));
        }
        let resp = match req.call() {
            Ok(r) => r,
            Err(ureq::Error::Status(code @ (401 | 403), resp)) => {
                let detail = error_detail(resp);
                return Err(if self.creds.is_some() {
                    RegistryError::AuthRefused {
                        host: self.target.host.clone(),
                        detail: if detail.is_empty() {
                            format!("token server answered {code}")
                        } else {
                            detail
                        },
                    }
                } else {
                    RegistryError::AuthRequired {
                        host: self.target.host.clone(),
                    }
                });
            }
            Err(ureq::Error::Status(code, resp)) => {
                return Err(RegistryError::Protocol {
                    host: self.target.host.clone(),
                    why: format!("token server answered {code}: {}", error_detail(resp)),
                })
            }
            Err(ureq::Error::Transport(t)) => {
                return Err(RegistryError::Unreachable {
                    host: realm.clone(),
                    why: transport_why(&t),
                })
            }
        };
        #[derive(serde::Deserialize)]
        struct TokenReply {
            #[serde(default)]
            token: Option<String>,
            #[serde(default)]
            access_token: Option<String>,
        }
        let bytes = read_limited(resp.into_reader(), 1 << 20)
            .map_err(|e| self.unreachable(format!("reading token: {e}")))?;
        let reply: TokenReply =
            serde_json::from_slice(&bytes).map_err(|e| RegistryError::Protocol {
                host: self.target.host.clone(),
                why: format!("malformed token reply: {e}"),
            })?;
        reply
            .token
            .or(reply.access_token)
            .filter(|t| !t.is_empty())
            .map(Auth::Bearer)
            .ok_or_else(|| RegistryError::Protocol {
                host: self.target.host.clone(),
                why: "token reply without a token".into(),
            })
    }

    fn status_error(
        &self,
        code: u16,
        resp: ureq::Response,
        what: &str,
        auth: &Auth,
    ) -> RegistryError {
        let host = self.target.host.clone();
        let detail = error_detail(resp);
        match code {
            404 => RegistryError::NotFound {
                what: what.to_string(),
                detail: if detail.is_empty() {
                    "not found".into()
                } else {
                    detail
                },
            },
            401 if self.creds.is_some() && !matches!(auth, Auth::None) => {
                RegistryError::AuthRefused { host, detail }
            }
            401 => RegistryError::AuthRequired { host },
            403 => RegistryError::Denied {
                host,
                what: what.to_string(),
                detail,
            },
            _ => RegistryError::Status {
                host,
                status: code,
                what: what.to_string(),
                detail,
            },
        }
    }

    fn unreachable(&self, why: String) -> RegistryError {
        RegistryError::Unreachable {
            host: self.target.host.clone(),
            why,
        }
    }
}

fn basic(c: &Credentials) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.password))
}

fn transport_why(t: &ureq::Transport) -> String {
    // ureq's Display repeats the URL; the message's own words are enough.
    let msg = t.message().map(str::to_string).unwrap_or_default();
    let source = std::error::Error::source(t).map(|s| s.to_string());
    match (msg.is_empty(), source) {
        (true, Some(s)) => s,
        (false, Some(s)) => format!("{msg}: {s}"),
        (false, None) => msg,
        (true, None) => t.kind().to_string(),
    }
}

/// The registry's own words from an error body (`{"errors":[{"code","message"}]}`), in one line.
fn error_detail(resp: ureq::Response) -> String {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        errors: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let bytes = read_limited(resp.into_reader(), 64 * 1024).unwrap_or_default();
    match serde_json::from_slice::<Body>(&bytes) {
        Ok(b) if !b.errors.is_empty() => b
            .errors
            .iter()
            .map(|e| {
                let code = e.code.to_lowercase().replace('_', " ");
                if e.message.is_empty() || e.message.eq_ignore_ascii_case(&code) {
                    code
                } else {
                    format!("{code}: {}", e.message)
                }
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => String::from_utf8_lossy(&bytes)
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect(),
    }
}

fn read_limited(reader: impl Read, limit: u64) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    reader.take(limit + 1).read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "reply too large",
        ));
    }
    Ok(out)
}

pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Splits `Bearer realm="x",service="y"` into the scheme and its parameters.
fn parse_challenge(header: &str) -> (String, Vec<(String, String)>) {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = Vec::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key.trim().trim_start_matches(',').trim().to_string();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            (&quoted[..end], quoted.get(end + 1..).unwrap_or(""))
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        params.push((key, value.to_string()));
        rest = remaining.trim_start_matches([',', ' ']);
    }
    (scheme.to_string(), params)
}

/// `<url>; rel="next"` → url.
fn parse_next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, rel) = part.split_once(';')?;
        rel.contains("next").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="http://127.0.0.1:5793/token",service="skiff-test",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(s, "Bearer");
        assert_eq!(p[0], ("realm".into(), "http://127.0.0.1:5793/token".into()));
        assert_eq!(p[2].1, "repository:a/b:pull,push");
        let (s, p) = parse_challenge(r#"Basic realm="Registry Realm""#);
        assert_eq!(s, "Basic");
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn next_links() {
        assert_eq!(
            parse_next_link(r#"</v2/x/tags/list?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/x/tags/list?last=b&n=2")
        );
    }
}
