//! The one error shape the page sees: the core's `ErrorDto` — a stable code and a message that
//! says what was wrong and what to do — never a Rust debug dump.

pub use slipway_core::ErrorDto;

pub type CmdResult<T> = Result<T, ErrorDto>;

/// The answer of a long operation the user cancelled.
pub fn cancelled() -> ErrorDto {
    ErrorDto {
        code: "cancelled".to_string(),
        message: "the operation was cancelled".to_string(),
    }
}

/// An error of the app itself, such as a missing argument.
pub fn app_error(code: &str, message: impl Into<String>) -> ErrorDto {
    ErrorDto {
        code: code.to_string(),
        message: message.into(),
    }
}
