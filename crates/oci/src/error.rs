//! The registry client's errors. Each says what went wrong and what the user can do about it, and
//! none ever contains a credential. They name no front end's flags, commands or buttons: each
//! front end adds its own hint for the error's [`Error::code`] (the CLI's flags, the window's
//! controls).

use crate::reference::{Digest, ReferenceError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Reference(#[from] ReferenceError),

    #[error("the registry {registry} answered plain HTTP to an HTTPS request (server gave HTTP response to HTTPS client): it speaks only plain HTTP, which Slipway uses only for a registry marked as allowed plain HTTP, on a network you trust")]
    HttpToHttps { registry: String },

    #[error("the TLS certificate of {registry} is not trusted ({detail}): Slipway needs the CA certificate that signed it, given for this registry or placed at /etc/docker/certs.d/{registry}/ca.crt")]
    UnknownCertificate { registry: String, detail: String },

    #[error("cannot reach the registry {registry} ({detail}); check the address and port and that the registry is running")]
    Unreachable { registry: String, detail: String },

    #[error("the registry {registry} refused the credentials or needs some ({detail}): log in to it with a username and password (or token) it accepts")]
    Unauthorized { registry: String, detail: String },

    #[error("access to {scope} on {registry} is denied (403){detail}; ask the registry's administrator for {action} rights")]
    Denied {
        registry: String,
        scope: String,
        action: String,
        detail: String,
    },

    #[error("{what} was not found on {registry} (404); check the repository name, tag or digest")]
    NotFound { registry: String, what: String },

    #[error("the registry {registry} rejected the upload as too large (413); raise the size limit of the registry or of the proxy in front of it")]
    TooLarge { registry: String },

    #[error("the registry {registry} kept answering 429 Too Many Requests after {attempts} attempts; wait a while and try again, or raise its rate limit")]
    TooManyRequests { registry: String, attempts: u32 },

    #[error("the registry {registry} failed with HTTP {status} after {attempts} attempts{detail}; check the registry's logs")]
    Server {
        registry: String,
        status: u16,
        attempts: u32,
        detail: String,
    },

    #[error("the registry {registry} does not allow deletes (405); enable them in its configuration with `storage: delete: enabled: true` (REGISTRY_STORAGE_DELETE_ENABLED=true) and restart it")]
    DeleteDisabled { registry: String },

    #[error("the registry {registry} does not allow listing its catalog (/v2/_catalog); browse by repository name instead")]
    CatalogDisabled { registry: String },

    #[error("the registry {registry} answered {status} to {request}{detail}")]
    Unexpected {
        registry: String,
        request: String,
        status: u16,
        detail: String,
    },

    #[error("the registry {registry} sent something that is not valid: {detail}")]
    Protocol { registry: String, detail: String },

    #[error("content from {registry} does not match its digest: expected {expected}, got {actual}; nothing was kept. The registry or a proxy corrupted the data")]
    DigestMismatch {
        registry: String,
        expected: Digest,
        actual: Digest,
    },

    #[error("{what} has {actual} bytes but its descriptor says {expected}; nothing was kept")]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },

    #[error("no image for platform {wanted} in {reference}; it has {available}")]
    NoSuchPlatform {
        reference: String,
        wanted: String,
        available: String,
    },

    #[error("the registry {registry} sent {what} on {target}; Slipway sends nothing over plain HTTP for a registry reached over HTTPS. If a proxy terminates TLS in front of the registry, make it pass X-Forwarded-Proto: https (or fix the registry's `http.host`)")]
    InsecureUrl {
        registry: String,
        /// What pointed there: "an upload location", "a redirect", "a next-page link".
        what: String,
        /// `scheme://host:port` only: the rest of a registry-made URL may hold a token.
        target: String,
    },

    #[error("the registry {registry} asks for credentials at the token server {realm} over plain HTTP, where they would travel in clear text; serve the token server over HTTPS, or mark the registry insecure if this network is trusted")]
    InsecureRealm { registry: String, realm: String },

    #[error("{what} from {registry} is larger than {limit} bytes, which no genuine one is; refusing to read more")]
    TooBig {
        registry: String,
        what: String,
        limit: u64,
    },

    #[error("the registry {registry} keeps sending more pages of {what} ({detail}); stopped reading. Check the registry (or the proxy in front of it) for a broken Link header")]
    EndlessPages {
        registry: String,
        what: String,
        detail: String,
    },

    #[error("the registry {registry} stopped answering: nothing arrived for {seconds} s ({detail}); check that the registry and its token server are healthy, or allow more time with SLIPWAY_REGISTRY_TIMEOUT=SECONDS")]
    TimedOut {
        registry: String,
        seconds: u64,
        detail: String,
    },

    #[error("the credential store failed: {detail}")]
    Credentials { detail: String },

    #[error("the connection to {registry} broke: {detail}")]
    Transport { registry: String, detail: String },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// A stable code the UI can switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Reference(_) => "invalid_reference",
            Error::HttpToHttps { .. } => "registry_http_only",
            Error::UnknownCertificate { .. } => "registry_untrusted_certificate",
            Error::Unreachable { .. } => "registry_unreachable",
            Error::Unauthorized { .. } => "unauthorized",
            Error::Denied { .. } => "denied",
            Error::NotFound { .. } => "not_found",
            Error::TooLarge { .. } => "too_large",
            Error::TooManyRequests { .. } => "rate_limited",
            Error::Server { .. } => "registry_server_error",
            Error::DeleteDisabled { .. } => "delete_disabled",
            Error::CatalogDisabled { .. } => "catalog_disabled",
            Error::Unexpected { .. } => "registry_unexpected_status",
            Error::Protocol { .. } => "registry_protocol_error",
            Error::DigestMismatch { .. } => "digest_mismatch",
            Error::SizeMismatch { .. } => "size_mismatch",
            Error::NoSuchPlatform { .. } => "no_such_platform",
            Error::InsecureUrl { .. } => "registry_insecure_url",
            Error::InsecureRealm { .. } => "registry_insecure_realm",
            Error::TooBig { .. } => "registry_response_too_large",
            Error::EndlessPages { .. } => "registry_endless_pages",
            Error::TimedOut { .. } => "registry_timeout",
            Error::Credentials { .. } => "credentials_error",
            Error::Transport { .. } => "registry_connection_broken",
            Error::Io { .. } => "io_error",
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// True when the request may succeed if sent again (a dropped connection).
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Transport { .. })
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
