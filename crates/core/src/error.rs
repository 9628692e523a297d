//! Core's error type: every failure a use case reports, each with a stable code for the UI.
//!
//! The message says what was wrong and what to do; the code lets the UI pick an icon or a retry
//! button without parsing text. Codes never change once published.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::change::ChangeError;
use crate::engine_failure::EngineFailure;

/// Every failure core reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No container engine answered; the message lists where we looked and how to fix it.
    #[error("{0}")]
    EngineUnreachable(String),
    /// An image name, tag or reference breaks the distribution grammar.
    #[error("invalid image reference `{input}`: {source}")]
    InvalidReference {
        /// What the user typed.
        input: String,
        /// Which grammar rule it broke.
        #[source]
        source: slipway_oci::ReferenceError,
    },
    /// A `--change` instruction for commit is malformed.
    #[error(transparent)]
    InvalidChange(#[from] ChangeError),
    /// Some other argument is unusable; the message says which and why.
    #[error("{0}")]
    InvalidInput(String),
    /// The image or container does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The object is in a state that forbids the operation.
    #[error("{0}")]
    Conflict(String),
    /// The engine refused or failed the operation.
    #[error("the container engine reported an error: {0}")]
    Engine(String),
    /// The engine failed in one of the common ways that have a known remedy; each has its own
    /// code, and each front end says what to do.
    #[error("{}: {message}", .kind.summary())]
    EngineFailed {
        /// Which failure.
        kind: EngineFailure,
        /// The engine's own message.
        message: String,
    },
    /// The engine will not pull from a registry that speaks plain HTTP (it allows only HTTPS
    /// unless its own configuration lists the registry as insecure). Slipway's fetch can, through
    /// a profile that allows HTTP; each front end says how in its own words.
    #[error("the engine refuses to pull from {registry}: the registry speaks plain HTTP and the engine allows only HTTPS for it")]
    EngineRefusedHttp {
        /// `host:port` of the registry.
        registry: String,
    },
    /// Compressing a layer failed (a codec's own error, or a level it does not have).
    #[error("compressing a layer failed: {0}")]
    Compression(String),
    /// The caller cancelled the operation.
    #[error("the operation was cancelled")]
    Cancelled,
    /// A registry operation failed; the inner error says what to do and has its own code.
    #[error(transparent)]
    Registry(#[from] slipway_oci::Error),
    /// Reading or writing Slipway's own files failed.
    #[error("could not access {path}: {source}; check that the directory is writable or set SLIPWAY_DATA_DIR")]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// A `Result` with core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The stable machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::EngineUnreachable(_) => "engine_unreachable",
            Error::InvalidReference { .. } => "invalid_reference",
            Error::InvalidChange(_) => "invalid_change",
            Error::InvalidInput(_) => "invalid_input",
            Error::NotFound(_) => "not_found",
            Error::Conflict(_) => "conflict",
            Error::Engine(_) => "engine_error",
            Error::EngineFailed { kind, .. } => kind.code(),
            Error::EngineRefusedHttp { .. } => "engine_refused_http",
            Error::Compression(_) => "compression_failed",
            Error::Cancelled => "cancelled",
            Error::Io { .. } => "io",
            Error::Registry(e) => e.code(),
        }
    }

    /// Validation errors are the user's to fix; everything else may be worth a retry.
    pub fn invalid_reference(input: &str, source: slipway_oci::ReferenceError) -> Error {
        Error::InvalidReference {
            input: input.to_string(),
            source,
        }
    }
}

impl From<slipway_engine::Error> for Error {
    fn from(error: slipway_engine::Error) -> Self {
        use slipway_engine::Error as E;
        match error {
            E::Unreachable { ref attempts }
                if attempts
                    .iter()
                    .any(|a| a.reason.contains("permission denied")) =>
            {
                Error::EngineFailed {
                    kind: EngineFailure::PermissionDenied,
                    message: error.to_string(),
                }
            }
            E::Unreachable { .. } | E::Disconnected { .. } => {
                Error::EngineUnreachable(error.to_string())
            }
            E::InvalidInput(message) => Error::InvalidInput(message),
            E::Cancelled => Error::Cancelled,
            // The engine's own words tell its common failures apart whatever the status code.
            ref other if EngineFailure::classify(&other.to_string()).is_some() => {
                let message = other.to_string();
                Error::EngineFailed {
                    kind: EngineFailure::classify(&message).expect("matched above"),
                    message,
                }
            }
            E::NotFound { message } => Error::NotFound(message),
            E::Conflict { message } => Error::Conflict(message),
            other => Error::Engine(other.to_string()),
        }
    }
}

/// Where to look when something is not found; appended to the engine's "No such ..." message.
/// They name no front end's commands: the CLI and the window add their own hint per code.
pub(crate) const IMAGE_HINT: &str = "no local image has that name or id";
pub(crate) const CONTAINER_HINT: &str = "no container has that name or id";
pub(crate) const PULL_HINT: &str = "check the name and tag, and that the registry holds that image";

/// Adds a hint to a not-found error, so the user learns where to look.
pub(crate) trait Hint<T> {
    fn hint(self, hint: &str) -> Result<T>;
}

impl<T> Hint<T> for std::result::Result<T, slipway_engine::Error> {
    fn hint(self, hint: &str) -> Result<T> {
        self.map_err(|error| match Error::from(error) {
            Error::NotFound(message) => Error::NotFound(format!("{message}; {hint}")),
            other => other,
        })
    }
}

/// What the UI receives for any failed call: `{code, message}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ErrorDto {
    /// The stable code, see [`Error::code`].
    pub code: String,
    /// The human message: what was wrong and what to do.
    pub message: String,
}

impl From<&Error> for ErrorDto {
    fn from(error: &Error) -> Self {
        ErrorDto {
            code: error.code().to_string(),
            message: error.to_string(),
        }
    }
}

impl From<Error> for ErrorDto {
    fn from(error: Error) -> Self {
        ErrorDto::from(&error)
    }
}

#[cfg(test)]
mod tests {
    use super::Error;
    use slipway_engine::{Attempt, Error as E};

    fn code(error: E) -> &'static str {
        Error::from(error).code()
    }

    #[test]
    fn the_engines_common_failures_get_their_own_codes_whatever_the_status() {
        let conflict = E::Conflict {
            message: r#"Conflict. The container name "/shop" is already in use by container "4f1c0e2b9a7d". You have to remove (or rename) that container to be able to reuse that name."#.into(),
        };
        assert_eq!(code(conflict), "name_in_use");
        let network = E::NotFound {
            message: "network slipway-net not found".into(),
        };
        assert_eq!(code(network), "engine_network_missing");
        let manifest = E::Stream {
            message:
                "manifest for 127.0.0.1:5000/a:9 not found: manifest unknown: manifest unknown"
                    .into(),
        };
        assert_eq!(code(manifest), "engine_manifest_unknown");
        let socket = E::Unreachable {
            attempts: vec![Attempt {
                endpoint: "unix:///var/run/docker.sock".into(),
                source: "Docker's default socket".into(),
                reason: "permission denied: your user may not use this socket (is it in the docker group?)".into(),
            }],
        };
        assert_eq!(code(socket), "engine_permission_denied");
        // Everything else keeps the code it had.
        let image = E::NotFound {
            message: "No such image: a:1".into(),
        };
        assert_eq!(code(image), "not_found");
        let running = E::Conflict {
            message: "Container 4f1c0e2b9a7d is not running".into(),
        };
        assert_eq!(code(running), "conflict");
        let gone = E::Unreachable {
            attempts: vec![Attempt {
                endpoint: "unix:///var/run/docker.sock".into(),
                source: "Docker's default socket".into(),
                reason: "no socket at this path".into(),
            }],
        };
        assert_eq!(code(gone), "engine_unreachable");
    }
}
