//! Core's error type: every failure a use case reports, each with a stable code for the UI.
//!
//! The message says what was wrong and what to do; the code lets the UI pick an icon or a retry
//! button without parsing text. Codes never change once published.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::change::ChangeError;

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
            E::Unreachable { .. } | E::Disconnected { .. } => {
                Error::EngineUnreachable(error.to_string())
            }
            E::NotFound { message } => Error::NotFound(message),
            E::Conflict { message } => Error::Conflict(message),
            E::InvalidInput(message) => Error::InvalidInput(message),
            E::Cancelled => Error::Cancelled,
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
