//! Docker image references: parsing, normalisation and display.
//!
//! The grammar and normalisation follow Docker's `distribution/reference`
//! package (`ParseNormalizedNamed`), so that names accepted, rejected and
//! displayed by skiff match what `docker` does with the same input:
//!
//! ```text
//! reference := name [ ":" tag ] [ "@" digest ]
//! name      := [domain "/"] path-component ["/" path-component]*
//! domain    := host [":" port]        host: DNS name, IPv4, or "[" IPv6 "]"
//! path-component := [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
//! tag       := [\w][\w.-]{0,127}
//! digest    := algorithm ":" hex      (sha256: 64, sha384: 96, sha512: 128)
//! ```

use std::fmt;
use std::str::FromStr;

/// The registry that unqualified names refer to, as Docker spells it.
pub const DEFAULT_REGISTRY: &str = "docker.io";
/// Docker Hub's real API endpoint; `docker.io` itself serves no registry API.
const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";
/// Other spellings of Docker Hub that must compare equal to `docker.io`.
const DOCKER_HUB_ALIASES: [&str; 2] = ["index.docker.io", "registry-1.docker.io"];
/// Namespace of Docker Hub's official images ("busybox" is "library/busybox").
const OFFICIAL_PREFIX: &str = "library/";
pub const DEFAULT_TAG: &str = "latest";
const NAME_TOTAL_MAX: usize = 255;
const TAG_MAX: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("invalid reference format")]
    InvalidFormat,
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    #[error("repository name must not be more than 255 characters")]
    NameTooLong,
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexIdentifier(String),
    #[error("unsupported digest algorithm")]
    UnsupportedDigest,
    #[error("invalid checksum digest length")]
    DigestLength,
    #[error("invalid checksum digest format")]
    DigestFormat,
}

/// A fully qualified image reference such as `docker.io/library/busybox:1.36`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    /// `algorithm:hex`, e.g. `sha256:…`.
    pub digest: Option<String>,
}

/// A name whose first path component is not a registry host, e.g. `busybox`
/// or `user/app:1`. It still has to be qualified with a registry before use.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ShortName {
    /// The path as written: `busybox` stays `busybox`, without `library/`.
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ParsedName {
    Qualified(Reference),
    Short(ShortName),
}

/// Parses and validates `s`, keeping short names short so that callers can
/// choose between Docker's implicit `docker.io` and configured search registries.
pub fn parse_name(s: &str) -> Result<ParsedName, ReferenceError> {
    if is_hex_identifier(s) {
        return Err(ReferenceError::HexIdentifier(s.to_string()));
    }
    let pieces = split_pieces(s);
    let (domain, path) = split_domain(pieces.name);
    let registry = domain.map_or(DEFAULT_REGISTRY, normalize_registry);
    let docker_path = qualified_path(registry, path);
    // Docker reports uppercase before any other problem, naming the path as
    // it would be normalised ("library/Busybox").
    if docker_path.to_lowercase() != docker_path {
        return Err(ReferenceError::Uppercase(docker_path));
    }
    validate(domain, path, &pieces)?;
    if registry.len() + 1 + docker_path.len() > NAME_TOTAL_MAX {
        return Err(ReferenceError::NameTooLong);
    }
    if let Some(digest) = pieces.digest {
        check_digest_algorithm(digest)?;
    }
    let tag = pieces.tag.map(str::to_string);
    let digest = pieces.digest.map(str::to_string);
    Ok(match domain {
        Some(_) => ParsedName::Qualified(Reference {
            registry: registry.to_string(),
            repository: docker_path,
            tag,
            digest,
        }),
        None => ParsedName::Short(ShortName {
            repository: path.to_string(),
            tag,
            digest,
        }),
    })
}

impl Reference {
    /// Parses `s` the way `docker pull s` would: short names go to Docker Hub.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        Ok(match parse_name(s)? {
            ParsedName::Qualified(reference) => reference,
            ParsedName::Short(short) => short.qualify(DEFAULT_REGISTRY),
        })
    }

    /// Adds the `latest` tag when the reference names neither tag nor digest.
    pub fn with_default_tag(mut self) -> Reference {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(DEFAULT_TAG.to_string());
        }
        self
    }

    /// `registry/repository`, without tag or digest.
    pub fn repo_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The repository as Docker displays it: `busybox`, `user/app`,
    /// `quay.io/org/app`.
    pub fn familiar_repo(&self) -> String {
        if self.registry != DEFAULT_REGISTRY {
            return self.repo_name();
        }
        match self.repository.strip_prefix(OFFICIAL_PREFIX) {
            // Docker only shortens "library/x", never "library/x/y".
            Some(rest) if !rest.contains('/') => rest.to_string(),
            _ => self.repository.clone(),
        }
    }

    /// The whole reference as Docker displays it, e.g. `busybox:latest`.
    pub fn familiar(&self) -> String {
        let mut out = self.familiar_repo();
        push_suffix(&mut out, self.tag.as_deref(), self.digest.as_deref());
        out
    }

    /// True for registries on the loopback interface, which Docker talks to
    /// over plain HTTP unless told otherwise.
    pub fn is_loopback_registry(&self) -> bool {
        crate::config::is_loopback_host(&self.registry)
    }

    /// The host that actually serves the registry API for this reference.
    pub fn api_host(&self) -> &str {
        if self.registry == DEFAULT_REGISTRY {
            DOCKER_HUB_API_HOST
        } else {
            &self.registry
        }
    }
}

impl ShortName {
    /// Places the short name in `registry`; only Docker Hub gets the implicit
    /// `library/` namespace for single-component names.
    pub fn qualify(&self, registry: &str) -> Reference {
        let registry = normalize_registry(registry);
        Reference {
            registry: registry.to_string(),
            repository: qualified_path(registry, &self.repository),
            tag: self.tag.clone(),
            digest: self.digest.clone(),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = self.repo_name();
        push_suffix(&mut out, self.tag.as_deref(), self.digest.as_deref());
        f.write_str(&out)
    }
}

impl fmt::Display for ShortName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = self.repository.clone();
        push_suffix(&mut out, self.tag.as_deref(), self.digest.as_deref());
        f.write_str(&out)
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

fn push_suffix(out: &mut String, tag: Option<&str>, digest: Option<&str>) {
    if let Some(tag) = tag {
        out.push(':');
        out.push_str(tag);
    }
    if let Some(digest) = digest {
        out.push('@');
        out.push_str(digest);
    }
}

/// Maps the other spellings of Docker Hub to `docker.io`.
fn normalize_registry(registry: &str) -> &str {
    if DOCKER_HUB_ALIASES.contains(&registry) {
        DEFAULT_REGISTRY
    } else {
        registry
    }
}

fn qualified_path(registry: &str, path: &str) -> String {
    if registry == DEFAULT_REGISTRY && !path.contains('/') {
        format!("{OFFICIAL_PREFIX}{path}")
    } else {
        path.to_string()
    }
}

fn is_hex_identifier(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

struct Pieces<'a> {
    name: &'a str,
    tag: Option<&'a str>,
    digest: Option<&'a str>,
}

fn split_pieces(s: &str) -> Pieces<'_> {
    let (rest, digest) = match s.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (s, None),
    };
    // A colon before the last slash belongs to a registry port, not a tag.
    let last_slash = rest.rfind('/');
    let (name, tag) = match rest.rfind(':') {
        Some(colon) if last_slash.is_none_or(|slash| colon > slash) => {
            (&rest[..colon], Some(&rest[colon + 1..]))
        }
        _ => (rest, None),
    };
    Pieces { name, tag, digest }
}

/// Docker's rule: a first component is a registry when it contains `.` or
/// `:`, is `localhost`, or has uppercase letters (which a path may not have).
fn split_domain(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest)) if looks_like_host(first) => (Some(first), rest),
        _ => (None, name),
    }
}

fn looks_like_host(component: &str) -> bool {
    component == "localhost"
        || component.contains(['.', ':'])
        || component.to_lowercase() != component
}

fn validate(domain: Option<&str>, path: &str, pieces: &Pieces<'_>) -> Result<(), ReferenceError> {
    let ok = domain.is_none_or(is_valid_domain)
        && path.split('/').all(is_valid_path_component)
        && pieces.tag.is_none_or(is_valid_tag)
        && pieces.digest.is_none_or(is_valid_digest_syntax);
    if ok {
        Ok(())
    } else {
        Err(ReferenceError::InvalidFormat)
    }
}

fn is_valid_domain(domain: &str) -> bool {
    let Some((host, port)) = split_host_port(domain) else {
        return false;
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    port_ok && (is_valid_ipv6_literal(host) || is_valid_domain_name(host))
}

/// Splits `host[:port]`; `None` when text follows an IPv6 literal without a colon.
fn split_host_port(domain: &str) -> Option<(&str, Option<&str>)> {
    if domain.starts_with('[') {
        let end = domain.find(']')?;
        let (host, rest) = domain.split_at(end + 1);
        return match rest {
            "" => Some((host, None)),
            _ => rest.strip_prefix(':').map(|port| (host, Some(port))),
        };
    }
    Some(match domain.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    })
}

fn is_valid_ipv6_literal(host: &str) -> bool {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .is_some_and(|inner| {
            !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':')
        })
}

fn is_valid_domain_name(host: &str) -> bool {
    host.split('.').all(|label| {
        let bytes = label.as_bytes();
        !bytes.is_empty()
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            && bytes[0] != b'-'
            && bytes[bytes.len() - 1] != b'-'
    })
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `[a-z0-9]+` runs joined by `.`, `_`, `__` or any number of `-`.
fn is_valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let mut i = 0;
    loop {
        let run_start = i;
        while i < bytes.len() && is_lower_alnum(bytes[i]) {
            i += 1;
        }
        if i == run_start {
            return false;
        }
        if i == bytes.len() {
            return true;
        }
        let sep_start = i;
        while i < bytes.len() && !is_lower_alnum(bytes[i]) {
            i += 1;
        }
        if !is_valid_separator(&component[sep_start..i]) {
            return false;
        }
    }
}

fn is_valid_separator(sep: &str) -> bool {
    matches!(sep, "." | "_" | "__") || sep.bytes().all(|b| b == b'-')
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_valid_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= TAG_MAX
        && is_word_byte(bytes[0])
        && bytes[1..]
            .iter()
            .all(|&b| is_word_byte(b) || b == b'.' || b == b'-')
}

/// The reference grammar's digest: `[A-Za-z][A-Za-z0-9]*` components joined
/// by `[-_+.]`, a colon, and at least 32 hex digits of either case.
fn is_valid_digest_syntax(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    let algorithm_ok = algorithm.split(['-', '_', '+', '.']).all(|part| {
        part.as_bytes()
            .first()
            .is_some_and(|b| b.is_ascii_alphabetic())
            && part.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    algorithm_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// go-digest's checks on a syntactically valid digest: a known algorithm,
/// the matching length, and lowercase hex.
fn check_digest_algorithm(digest: &str) -> Result<(), ReferenceError> {
    let (algorithm, hex) = digest
        .split_once(':')
        .ok_or(ReferenceError::InvalidFormat)?;
    let expected_len = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ if is_lowercase_algorithm(algorithm) => return Err(ReferenceError::UnsupportedDigest),
        _ => return Err(ReferenceError::DigestFormat),
    };
    if hex.len() != expected_len {
        return Err(ReferenceError::DigestLength);
    }
    if hex.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(ReferenceError::DigestFormat);
    }
    Ok(())
}

fn is_lowercase_algorithm(algorithm: &str) -> bool {
    algorithm
        .split(['.', '+', '_', '-'])
        .all(|part| !part.is_empty() && part.bytes().all(is_lower_alnum))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX64: &str = "7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa";

    fn sha(hex: &str) -> String {
        format!("sha256:{hex}")
    }

    fn qualified(s: &str) -> Reference {
        match parse_name(s).unwrap() {
            ParsedName::Qualified(r) => r,
            other => panic!("{s} parsed as {other:?}"),
        }
    }

    fn short(s: &str) -> ShortName {
        match parse_name(s).unwrap() {
            ParsedName::Short(n) => n,
            other => panic!("{s} parsed as {other:?}"),
        }
    }

    fn err(s: &str) -> ReferenceError {
        parse_name(s).expect_err(s)
    }

    #[test]
    fn short_names_stay_short() {
        let n = short("busybox");
        assert_eq!(n.repository, "busybox");
        assert_eq!(n.tag, None);
        let n = short("library/busybox:1.36");
        assert_eq!(n.repository, "library/busybox");
        assert_eq!(n.tag.as_deref(), Some("1.36"));
        let n = short("user/app/sub");
        assert_eq!(n.repository, "user/app/sub");
    }

    #[test]
    fn single_components_that_look_like_hosts_are_still_short() {
        // Docker only treats the first component as a host when a slash follows.
        assert_eq!(short("localhost").repository, "localhost");
        assert_eq!(short("example.com").repository, "example.com");
        let n = short("host:5000");
        assert_eq!(n.repository, "host");
        assert_eq!(n.tag.as_deref(), Some("5000"));
    }

    #[test]
    fn qualified_names() {
        let r = qualified("host:5000/repo/x:tag");
        assert_eq!(r.registry, "host:5000");
        assert_eq!(r.repository, "repo/x");
        assert_eq!(r.tag.as_deref(), Some("tag"));
        let r = qualified("localhost/foo");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("localhost", "foo")
        );
        let r = qualified("quay.io/org/app");
        assert_eq!(r.registry, "quay.io");
        assert_eq!(r.repository, "org/app");
    }

    #[test]
    fn uppercase_first_component_is_a_registry() {
        let r = qualified("Registry/app");
        assert_eq!(r.registry, "Registry");
        assert_eq!(r.repository, "app");
    }

    #[test]
    fn ipv6_registries() {
        let r = qualified("[::1]:5000/foo:bar");
        assert_eq!(r.registry, "[::1]:5000");
        assert_eq!(r.repository, "foo");
        assert_eq!(r.tag.as_deref(), Some("bar"));
        assert_eq!(qualified("[fe80::1]/foo").registry, "[fe80::1]");
        assert_eq!(err("[::1]x/foo"), ReferenceError::InvalidFormat);
        assert_eq!(err("[]/foo"), ReferenceError::InvalidFormat);
        assert_eq!(err("[::1]:/foo"), ReferenceError::InvalidFormat);
    }

    #[test]
    fn digests_and_tags_together() {
        let n = short(&format!("repo@{}", sha(HEX64)));
        assert_eq!(n.digest, Some(sha(HEX64)));
        assert_eq!(n.tag, None);
        let n = short(&format!("repo:tag@{}", sha(HEX64)));
        assert_eq!(n.tag.as_deref(), Some("tag"));
        assert_eq!(n.digest, Some(sha(HEX64)));
        let r = qualified(&format!("host:5000/repo:tag@{}", sha(HEX64)));
        assert_eq!(r.registry, "host:5000");
        assert_eq!(r.to_string(), format!("host:5000/repo:tag@{}", sha(HEX64)));
    }

    #[test]
    fn sha512_and_sha384() {
        let hex128 = "a".repeat(128);
        assert!(parse_name(&format!("x@sha512:{hex128}")).is_ok());
        assert!(parse_name(&format!("x@sha384:{}", "b".repeat(96))).is_ok());
        assert_eq!(
            err(&format!("x@sha512:{HEX64}")),
            ReferenceError::DigestLength
        );
    }

    #[test]
    fn digest_errors() {
        assert_eq!(err("x@sha256:abc"), ReferenceError::InvalidFormat);
        assert_eq!(
            err(&format!("x@sha256:{}", "a".repeat(40))),
            ReferenceError::DigestLength
        );
        assert_eq!(
            err(&format!("x@sha256:{}", HEX64.to_uppercase())),
            ReferenceError::DigestFormat
        );
        assert_eq!(
            err(&format!("x@md5:{}", "a".repeat(32))),
            ReferenceError::UnsupportedDigest
        );
        assert_eq!(
            err(&format!("x@MD5:{}", "a".repeat(32))),
            ReferenceError::DigestFormat
        );
        assert_eq!(
            err(&format!("x@sha256:{}g", &HEX64[1..])),
            ReferenceError::InvalidFormat
        );
        assert_eq!(err("x@"), ReferenceError::InvalidFormat);
        assert_eq!(err(&format!("x@{HEX64}")), ReferenceError::InvalidFormat);
    }

    #[test]
    fn rejected_forms() {
        for bad in [
            "",
            ":tag",
            "busybox:",
            "/busybox",
            "busybox/",
            "foo//bar",
            "foo/-bar",
            "foo/bar-",
            "foo/bar..baz",
            "foo/bar___baz",
            "foo/b@r",
            "foo:bar/baz",
            "host:port/foo",
            "-host.com/foo",
            "host-.com/foo",
            "ho_st.com/foo",
            "busybox:-tag",
            "busybox:.tag",
            "busybox:ta g",
            "a b",
        ] {
            assert_eq!(
                parse_name(bad),
                Err(ReferenceError::InvalidFormat),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn accepted_separators() {
        for good in ["a.b", "a_b", "a__b", "a-b", "a---b", "a1/b-c_d.e__f", "0"] {
            assert!(parse_name(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn tag_length_limit() {
        let ok = format!("busybox:{}", "t".repeat(128));
        assert!(parse_name(&ok).is_ok());
        let bad = format!("busybox:{}", "t".repeat(129));
        assert_eq!(parse_name(&bad), Err(ReferenceError::InvalidFormat));
        assert!(parse_name("busybox:_Mixed.Case-1").is_ok());
    }

    #[test]
    fn uppercase_errors_use_docker_wording() {
        assert_eq!(
            err("Busybox").to_string(),
            "invalid reference format: repository name (library/Busybox) must be lowercase"
        );
        assert_eq!(
            err("user/App:tag"),
            ReferenceError::Uppercase("user/App".to_string())
        );
        assert_eq!(
            err("quay.io/Org/app"),
            ReferenceError::Uppercase("Org/app".to_string())
        );
        assert_eq!(err("busybox:").to_string(), "invalid reference format");
    }

    #[test]
    fn hex_identifiers_are_not_names() {
        assert_eq!(err(HEX64), ReferenceError::HexIdentifier(HEX64.to_string()));
        // Only the exact 64-hex form is refused; shorter hex is a valid name.
        assert!(parse_name(&HEX64[..12]).is_ok());
    }

    #[test]
    fn total_name_length_counts_the_normalised_name() {
        // "docker.io/library/" is 18 characters.
        let fits = "a".repeat(NAME_TOTAL_MAX - 18);
        assert!(parse_name(&fits).is_ok());
        let too_long = "a".repeat(NAME_TOTAL_MAX - 17);
        assert_eq!(parse_name(&too_long), Err(ReferenceError::NameTooLong));
        let qualified_long = format!("example.com/{}", "b".repeat(NAME_TOTAL_MAX - 11));
        assert_eq!(
            parse_name(&qualified_long),
            Err(ReferenceError::NameTooLong)
        );
    }

    #[test]
    fn reference_parse_qualifies_docker_style() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(r.registry, "docker.io");
        assert_eq!(r.repository, "library/busybox");
        assert_eq!(r.to_string(), "docker.io/library/busybox");
        let r = Reference::parse("user/app:1").unwrap();
        assert_eq!(r.to_string(), "docker.io/user/app:1");
        let r: Reference = "docker.io/busybox".parse().unwrap();
        assert_eq!(r.repository, "library/busybox");
    }

    #[test]
    fn docker_hub_aliases_normalise() {
        for name in [
            "index.docker.io/busybox",
            "registry-1.docker.io/library/busybox",
        ] {
            let r = Reference::parse(name).unwrap();
            assert_eq!(r.registry, "docker.io", "{name}");
            assert_eq!(r.repository, "library/busybox", "{name}");
        }
        assert_eq!(
            Reference::parse("busybox").unwrap().api_host(),
            "registry-1.docker.io"
        );
        assert_eq!(
            Reference::parse("quay.io/a/b").unwrap().api_host(),
            "quay.io"
        );
    }

    #[test]
    fn default_tag() {
        let r = Reference::parse("busybox").unwrap().with_default_tag();
        assert_eq!(r.tag.as_deref(), Some("latest"));
        let r = Reference::parse("busybox:1").unwrap().with_default_tag();
        assert_eq!(r.tag.as_deref(), Some("1"));
        let digested = format!("busybox@{}", sha(HEX64));
        let r = Reference::parse(&digested).unwrap().with_default_tag();
        assert_eq!(r.tag, None);
    }

    #[test]
    fn qualify_adds_library_only_on_docker_hub() {
        let n = short("busybox:1");
        assert_eq!(
            n.qualify("docker.io").to_string(),
            "docker.io/library/busybox:1"
        );
        assert_eq!(
            n.qualify("index.docker.io").to_string(),
            "docker.io/library/busybox:1"
        );
        assert_eq!(n.qualify("quay.io").to_string(), "quay.io/busybox:1");
        assert_eq!(short("a/b").qualify("docker.io").repository, "a/b");
        assert_eq!(n.to_string(), "busybox:1");
    }

    #[test]
    fn familiar_forms() {
        let familiar = |s: &str| Reference::parse(s).unwrap().with_default_tag().familiar();
        assert_eq!(familiar("busybox"), "busybox:latest");
        assert_eq!(familiar("docker.io/library/busybox:1"), "busybox:1");
        assert_eq!(familiar("user/x:tag"), "user/x:tag");
        assert_eq!(familiar("docker.io/library/a/b"), "library/a/b:latest");
        assert_eq!(familiar("quay.io/library/x"), "quay.io/library/x:latest");
        assert_eq!(familiar("localhost:5000/x"), "localhost:5000/x:latest");
        let digested = Reference::parse(&format!("busybox@{}", sha(HEX64))).unwrap();
        assert_eq!(digested.familiar(), format!("busybox@{}", sha(HEX64)));
        assert_eq!(digested.familiar_repo(), "busybox");
        assert_eq!(digested.repo_name(), "docker.io/library/busybox");
    }

    #[test]
    fn loopback_registries() {
        let loopback = |s: &str| Reference::parse(s).unwrap().is_loopback_registry();
        assert!(loopback("localhost/x"));
        assert!(loopback("localhost:5000/x"));
        assert!(loopback("127.0.0.1/x"));
        assert!(loopback("127.1.2.3:8080/x"));
        assert!(loopback("[::1]/x"));
        assert!(loopback("[::1]:5000/x"));
        assert!(!loopback("busybox"));
        assert!(!loopback("128.0.0.1/x"));
        assert!(!loopback("[::2]:5000/x"));
        assert!(!loopback("localhost.example.com/x"));
        assert!(crate::config::is_loopback_host("::1"));
    }
}
