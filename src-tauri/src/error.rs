//! The one error shape the page sees: the core's stable code and its message (what was wrong and
//! what to do), never a Rust debug dump.

use serde::Serialize;
use slipway_core::local_registry::LocalRegistryError;
use slipway_core::profiles::ProfileError;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ErrorDto {
    pub code: String,
    pub message: String,
}

impl ErrorDto {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ErrorDto {
            code: code.to_string(),
            message: message.into(),
        }
    }

    /// The answer of a long operation the user cancelled.
    pub fn cancelled() -> Self {
        Self::new("cancelled", "cancelled by the user")
    }
}

impl From<ProfileError> for ErrorDto {
    fn from(e: ProfileError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl From<LocalRegistryError> for ErrorDto {
    fn from(e: LocalRegistryError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

pub type CmdResult<T> = Result<T, ErrorDto>;
