//! Image references: `host[:port]/path[:tag][@digest]`, parsed per the distribution reference
//! grammar (distribution/reference, also used by the OCI Distribution spec for names and tags).
//!
//! The grammar, as we enforce it:
//!
//! ```text
//! reference        := name [ ":" tag ] [ "@" digest ]
//! name             := [ domain "/" ] path-component [ "/" path-component ]*
//! domain           := host [ ":" port ]
//! path-component   := [a-z0-9]+ ( separator [a-z0-9]+ )*
//! separator        := "." | "_" | "__" | "-"+
//! tag              := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//! digest           := algorithm ":" hex
//! ```
//!
//! The first component is a registry host only when it contains a `.` or a `:`, or is
//! `localhost`; otherwise the reference names Docker Hub, as `docker` does. Docker Hub names are
//! normalised (`busybox` -> `docker.io/library/busybox`) so that two spellings of one image compare
//! equal.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The registry a reference names when it names none, as the docker CLI assumes.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that actually serves Docker Hub's registry API.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// The tag a reference without tag or digest means.
pub const DEFAULT_TAG: &str = "latest";

/// The spec's limit on a tag: one leading word character plus up to 127 more.
pub const MAX_TAG_LEN: usize = 128;
/// distribution/reference caps the whole name (domain and path) at 255 characters.
pub const MAX_NAME_LEN: usize = 255;

/// Every way a reference, repository name, tag or digest can break the grammar. Each variant says
/// which rule was broken so that the user can fix the text they typed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("the reference is empty; write it as HOST[:PORT]/NAME[:TAG][@DIGEST], e.g. localhost:5000/app:1.0")]
    Empty,
    #[error("`{input}` contains whitespace; references cannot contain spaces")]
    Whitespace { input: String },
    #[error("`{input}` has an empty path component (a leading, trailing or doubled `/`)")]
    EmptyComponent { input: String },
    #[error(
        "uppercase letters are not allowed in repository names (`{component}`); use `{lower}`"
    )]
    Uppercase { component: String, lower: String },
    #[error("repository name component `{component}` is invalid: components use lowercase letters and digits, separated by `.`, `_`, `__` or dashes, and cannot start or end with a separator")]
    InvalidComponent { component: String },
    #[error("repository name `{name}` is {len} characters long; the limit is 255")]
    NameTooLong { name: String, len: usize },
    #[error("registry host `{host}` is invalid: use a DNS name, an IPv4 address or [IPv6], optionally followed by :PORT")]
    InvalidHost { host: String },
    #[error("registry port `{port}` is invalid: it must be a number from 1 to 65535")]
    InvalidPort { port: String },
    #[error("the tag is empty; write NAME:TAG or leave out the `:`")]
    EmptyTag,
    #[error("tag `{tag}` is {len} characters long; tags are at most 128 characters")]
    TagTooLong { tag: String, len: usize },
    #[error("tag `{tag}` is invalid: a tag starts with a letter, digit or `_` and then uses only letters, digits, `_`, `.` and `-`")]
    InvalidTag { tag: String },
    #[error(
        "digest `{digest}` is invalid: write it as ALGORITHM:HEX, e.g. sha256:<64 hex digits>"
    )]
    InvalidDigest { digest: String },
    #[error("digest algorithm `{algorithm}` is not supported; use sha256 or sha512")]
    UnsupportedDigestAlgorithm { algorithm: String },
    #[error("a {algorithm} digest has {expected} lowercase hex digits, `{hex}` has {actual}")]
    DigestLength {
        algorithm: String,
        hex: String,
        expected: usize,
        actual: usize,
    },
    #[error("digest hex `{hex}` must be lowercase hexadecimal (0-9, a-f)")]
    DigestHex { hex: String },
}

/// A content digest `algorithm:hex` as the OCI image spec defines it, restricted to the
/// algorithms registries accept (sha256, sha512).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest {
    algorithm: DigestAlgorithm,
    hex: String,
}

/// The registered digest algorithms of the OCI image spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DigestAlgorithm {
    Sha256,
    Sha512,
}

impl DigestAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "sha256",
            DigestAlgorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            DigestAlgorithm::Sha256 => 64,
            DigestAlgorithm::Sha512 => 128,
        }
    }
}

impl Digest {
    /// Parses `algorithm:hex`. The OCI image spec requires sha256 and sha512 hex to be lowercase
    /// and of their fixed length, so anything else is refused rather than silently normalised.
    pub fn parse(s: &str) -> Result<Digest, ReferenceError> {
        let invalid = || ReferenceError::InvalidDigest {
            digest: s.to_string(),
        };
        let (algorithm, hex) = s.split_once(':').ok_or_else(invalid)?;
        if algorithm.is_empty() || hex.is_empty() {
            return Err(invalid());
        }
        // The general grammar allows other algorithms (`[a-z0-9]+([+._-][a-z0-9]+)*`); a
        // well-formed but unknown one gets its own message so that the user knows the text was
        // understood but cannot be verified.
        let algorithm_ok = algorithm
            .split(['+', '.', '_', '-'])
            .all(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric()));
        if !algorithm_ok {
            return Err(invalid());
        }
        let algorithm = match algorithm {
            "sha256" => DigestAlgorithm::Sha256,
            "sha512" => DigestAlgorithm::Sha512,
            other => {
                return Err(ReferenceError::UnsupportedDigestAlgorithm {
                    algorithm: other.to_string(),
                })
            }
        };
        if !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(ReferenceError::DigestHex {
                hex: hex.to_string(),
            });
        }
        if hex.len() != algorithm.hex_len() {
            return Err(ReferenceError::DigestLength {
                algorithm: algorithm.as_str().to_string(),
                hex: hex.to_string(),
                expected: algorithm.hex_len(),
                actual: hex.len(),
            });
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }

    /// The digest of `hex` computed with sha256; `hex` must already be 64 lowercase hex digits.
    pub fn sha256_hex(hex: impl Into<String>) -> Digest {
        let hex = hex.into();
        debug_assert_eq!(hex.len(), 64);
        Digest {
            algorithm: DigestAlgorithm::Sha256,
            hex,
        }
    }

    /// The sha256 digest of `data`.
    pub fn sha256_of(data: &[u8]) -> Digest {
        use sha2::Digest as _;
        Digest::sha256_hex(hex::encode(sha2::Sha256::digest(data)))
    }

    /// The digest of `data` with `algorithm`: content fetched by a digest is verified with that
    /// digest's own algorithm, as the distribution spec requires.
    pub fn of(algorithm: DigestAlgorithm, data: &[u8]) -> Digest {
        use sha2::Digest as _;
        match algorithm {
            DigestAlgorithm::Sha256 => Digest::sha256_of(data),
            DigestAlgorithm::Sha512 => Digest {
                algorithm,
                hex: hex::encode(sha2::Sha512::digest(data)),
            },
        }
    }

    pub fn algorithm(&self) -> DigestAlgorithm {
        self.algorithm
    }

    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.as_str(), self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Digest {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl TryFrom<String> for Digest {
    type Error = ReferenceError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Digest::parse(&s)
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.to_string()
    }
}

/// A parsed, normalised image reference.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses and normalises a reference. `busybox` becomes `docker.io/library/busybox:latest`
    /// (the tag is implied only for display and resolution, see [`Reference::tag`]).
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        if input.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if input.chars().any(char::is_whitespace) {
            return Err(ReferenceError::Whitespace {
                input: input.to_string(),
            });
        }
        let (rest, digest) = match input.split_once('@') {
            Some((rest, digest)) => (rest, Some(Digest::parse(digest)?)),
            None => (input, None),
        };
        // A `:` after the last `/` separates the tag; one before it belongs to host:port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].find(':') {
            Some(i) => {
                let tag = &rest[last_slash + i + 1..];
                validate_tag(tag)?;
                (&rest[..last_slash + i], Some(tag.to_string()))
            }
            None => (rest, None),
        };
        if name.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let (registry, repository) = split_domain(name)?;
        validate_repository(&repository)?;
        let full_len = registry.len() + 1 + repository.len();
        if full_len > MAX_NAME_LEN {
            return Err(ReferenceError::NameTooLong {
                name: name.to_string(),
                len: full_len,
            });
        }
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// Builds a reference from parts already split, validating each one.
    pub fn new(
        registry: &str,
        repository: &str,
        tag: Option<&str>,
        digest: Option<Digest>,
    ) -> Result<Reference, ReferenceError> {
        validate_host(registry)?;
        validate_repository(repository)?;
        if let Some(tag) = tag {
            validate_tag(tag)?;
        }
        Ok(Reference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// The registry as the user names it (`docker.io`, `localhost:5000`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The host:port to send HTTP requests to; Docker Hub's API lives on another host than its
    /// name.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// The repository path inside the registry (`library/busybox`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag as written, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What to put in `/v2/<name>/manifests/<reference>`: the digest when there is one (it pins
    /// content), else the tag, else `latest`.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }

    /// The same repository with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Result<Reference, ReferenceError> {
        validate_tag(tag)?;
        Ok(Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        })
    }

    /// The same repository pinned to `digest`, keeping the tag for display.
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The same registry, another repository.
    pub fn with_repository(&self, repository: &str) -> Result<Reference, ReferenceError> {
        validate_repository(repository)?;
        Ok(Reference {
            repository: repository.to_string(),
            ..self.clone()
        })
    }

    /// `registry/repository` without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// True when the registry is on this machine, where plain HTTP is the norm (as in docker,
    /// which trusts 127.0.0.0/8 and localhost without TLS).
    pub fn is_loopback(&self) -> bool {
        host_is_loopback(&self.registry)
    }
}

/// True for `localhost`, `127.x.x.x` and `[::1]`, with or without a port.
pub fn host_is_loopback(registry: &str) -> bool {
    let host = strip_port(registry);
    host == "localhost"
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn strip_port(registry: &str) -> &str {
    if let Some(end) = registry.strip_prefix('[').and_then(|r| r.find(']')) {
        return &registry[..end + 2];
    }
    registry.rsplit_once(':').map_or(registry, |(h, _)| h)
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        } else if self.digest.is_none() {
            write!(f, ":{DEFAULT_TAG}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({self})")
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

/// Splits `name` into (registry, repository), normalising Docker Hub names.
fn split_domain(name: &str) -> Result<(String, String), ReferenceError> {
    let (first, rest) = match name.split_once('/') {
        Some((first, rest)) => (first, Some(rest)),
        None => (name, None),
    };
    let is_domain = rest.is_some()
        && (first.contains('.')
            || first.contains(':')
            || first == "localhost"
            || first.starts_with('['));
    let (registry, repository) = if is_domain {
        validate_host(first)?;
        (first.to_string(), rest.unwrap_or_default().to_string())
    } else {
        (DOCKER_HUB.to_string(), name.to_string())
    };
    let registry = if registry == "index.docker.io" {
        DOCKER_HUB.to_string()
    } else {
        registry
    };
    let repository =
        if registry == DOCKER_HUB && !repository.is_empty() && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
    Ok((registry, repository))
}

/// Validates `host[:port]` where host is a DNS name, an IPv4 address or a bracketed IPv6 address.
pub fn validate_host(registry: &str) -> Result<(), ReferenceError> {
    let invalid = || ReferenceError::InvalidHost {
        host: registry.to_string(),
    };
    let (host, port) = if let Some(inner) = registry.strip_prefix('[') {
        let end = inner.find(']').ok_or_else(invalid)?;
        inner[..end]
            .parse::<std::net::Ipv6Addr>()
            .map_err(|_| invalid())?;
        let after = &inner[end + 1..];
        match after.strip_prefix(':') {
            Some(port) => (None, Some(port)),
            None if after.is_empty() => (None, None),
            None => return Err(invalid()),
        }
    } else {
        match registry.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(registry), None),
        }
    };
    if let Some(host) = host {
        if host.is_empty() {
            return Err(invalid());
        }
        for label in host.split('.') {
            let ok = !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if !ok {
                return Err(invalid());
            }
        }
    }
    if let Some(port) = port {
        let ok = !port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|p| p > 0);
        if !ok {
            return Err(ReferenceError::InvalidPort {
                port: port.to_string(),
            });
        }
    }
    Ok(())
}

/// Validates a repository path (`team/app`) against the spec's
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`.
pub fn validate_repository(name: &str) -> Result<(), ReferenceError> {
    if name.is_empty() {
        return Err(ReferenceError::Empty);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(ReferenceError::NameTooLong {
            name: name.to_string(),
            len: name.len(),
        });
    }
    if name.chars().any(char::is_whitespace) {
        return Err(ReferenceError::Whitespace {
            input: name.to_string(),
        });
    }
    for component in name.split('/') {
        validate_component(name, component)?;
    }
    Ok(())
}

fn validate_component(name: &str, component: &str) -> Result<(), ReferenceError> {
    if component.is_empty() {
        return Err(ReferenceError::EmptyComponent {
            input: name.to_string(),
        });
    }
    if component.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(ReferenceError::Uppercase {
            component: component.to_string(),
            lower: component.to_ascii_lowercase(),
        });
    }
    let invalid = || ReferenceError::InvalidComponent {
        component: component.to_string(),
    };
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Err(invalid());
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if alnum(b) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or one or more "-".
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &component[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return Err(invalid());
        }
    }
    Ok(())
}

/// Validates a tag against the spec's `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub fn validate_tag(tag: &str) -> Result<(), ReferenceError> {
    if tag.is_empty() {
        return Err(ReferenceError::EmptyTag);
    }
    if tag.len() > MAX_TAG_LEN {
        return Err(ReferenceError::TagTooLong {
            tag: tag.to_string(),
            len: tag.len(),
        });
    }
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    if !word(bytes[0]) || !bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-') {
        return Err(ReferenceError::InvalidTag {
            tag: tag.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn docker_hub_names_are_normalised() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(r.registry(), "docker.io");
        assert_eq!(r.repository(), "library/busybox");
        assert_eq!(r.tag(), None);
        assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        let r = Reference::parse("index.docker.io/team/app:1").unwrap();
        assert_eq!(r.to_string(), "docker.io/team/app:1");
        assert_eq!(
            Reference::parse("docker.io/busybox").unwrap(),
            Reference::parse("busybox").unwrap()
        );
        assert_eq!(
            Reference::parse("team/app").unwrap().registry(),
            "docker.io"
        );
    }

    #[test]
    fn host_port_tag_and_digest() {
        let r = Reference::parse(&format!("localhost:5000/a/b-c/d__e:v1.2_3@{D}")).unwrap();
        assert_eq!(r.registry(), "localhost:5000");
        assert_eq!(r.repository(), "a/b-c/d__e");
        assert_eq!(r.tag(), Some("v1.2_3"));
        assert_eq!(r.digest().unwrap().to_string(), D);
        assert_eq!(r.manifest_reference(), D);
        assert!(r.is_loopback());
        let r = Reference::parse("127.0.0.1:5000/app").unwrap();
        assert_eq!(r.manifest_reference(), "latest");
        assert!(r.is_loopback());
        let r = Reference::parse("[::1]:5000/app:x").unwrap();
        assert_eq!(r.registry(), "[::1]:5000");
        assert!(r.is_loopback());
        let r = Reference::parse("registry.example.com/app").unwrap();
        assert!(!r.is_loopback());
        let r = Reference::parse("localhost/app").unwrap();
        assert_eq!(r.registry(), "localhost");
    }

    #[test]
    fn each_broken_rule_has_its_own_error() {
        let e = |s: &str| Reference::parse(s).unwrap_err();
        assert_eq!(e(""), ReferenceError::Empty);
        assert!(matches!(e("a b"), ReferenceError::Whitespace { .. }));
        let up = e("localhost:5000/MyApp:1");
        assert!(matches!(up, ReferenceError::Uppercase { .. }));
        assert!(up
            .to_string()
            .contains("uppercase letters are not allowed in repository names"));
        assert!(matches!(
            e("localhost:5000//app"),
            ReferenceError::EmptyComponent { .. }
        ));
        assert!(matches!(
            e("localhost:5000/app/"),
            ReferenceError::EmptyComponent { .. }
        ));
        assert!(matches!(
            e("localhost:5000/-app"),
            ReferenceError::InvalidComponent { .. }
        ));
        assert!(matches!(
            e("localhost:5000/a___b"),
            ReferenceError::InvalidComponent { .. }
        ));
        assert!(matches!(
            e("localhost:5000/a.-b"),
            ReferenceError::InvalidComponent { .. }
        ));
        assert!(matches!(
            e("localhost:99999/app"),
            ReferenceError::InvalidPort { .. }
        ));
        assert!(matches!(
            e("local_host.x:5000/app"),
            ReferenceError::InvalidHost { .. }
        ));
        assert_eq!(e("app:"), ReferenceError::EmptyTag);
        assert!(matches!(e("app:-x"), ReferenceError::InvalidTag { .. }));
        assert!(matches!(e("app:a+b"), ReferenceError::InvalidTag { .. }));
        let long = "a".repeat(129);
        assert!(matches!(
            e(&format!("app:{long}")),
            ReferenceError::TagTooLong { len: 129, .. }
        ));
        assert!(matches!(
            e("app@sha256"),
            ReferenceError::InvalidDigest { .. }
        ));
        assert!(matches!(
            e("app@md5:abcd"),
            ReferenceError::UnsupportedDigestAlgorithm { .. }
        ));
        assert!(matches!(
            e("app@sha256:abcd"),
            ReferenceError::DigestLength { actual: 4, .. }
        ));
        assert!(matches!(
            e(&format!("app@{}", D.to_uppercase().replace("SHA", "sha"))),
            ReferenceError::DigestHex { .. }
        ));
        let name = format!("localhost/{}", "a".repeat(250));
        assert!(matches!(e(&name), ReferenceError::NameTooLong { .. }));
    }

    #[test]
    fn validate_repository_and_tag_check_names_and_tags() {
        assert!(validate_repository("team/app.web_x__y--z").is_ok());
        assert!(matches!(
            validate_repository("Team/app"),
            Err(ReferenceError::Uppercase { .. })
        ));
        assert!(validate_tag("_v1.0-rc").is_ok());
        assert!(validate_tag(&"x".repeat(128)).is_ok());
        assert!(validate_tag(".x").is_err());
    }

    #[test]
    fn digests_round_trip_through_serde() {
        let d: Digest = serde_json::from_str(&format!("\"{D}\"")).unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{D}\""));
        assert_eq!(
            Digest::sha256_of(b"").hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
