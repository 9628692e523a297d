//! slipway-core: Slipway's use cases and the plain serde DTOs they return.
//!
//! The desktop app and the CLI call only this crate; neither sees bollard, reqwest or Tauri types
//! through it. Engine use cases are methods on [`Slipway`], a connected engine plus the data
//! directory where workshop logs live; every name is validated (see [`names`]) and every commit
//! change parsed (see [`change`]) before the engine is asked.

pub mod blob_cache;
pub mod build;
pub mod change;
pub mod commit;
pub mod console;
pub mod containers;
pub mod diff;
pub mod engine;
pub mod engine_failure;
mod error;
pub mod fetch;
pub mod hygiene;
pub mod images;
pub mod local_registry;
pub mod names;
pub mod profiles;
pub mod pull_back;
pub mod push;
pub mod recipe;
pub mod registry;
pub mod registry_gc;
mod relay;
pub mod replay;
mod task;
pub mod terminal;
#[cfg(test)]
mod ui_types;
pub mod workshop_log;

pub use build::BuildEvent;
pub use change::ChangeError;
pub use commit::{CommitOutcome, CommitRequest};
pub use console::ConsoleEvent;
pub use containers::{ContainerDto, OutputChunk, RunOutcome, RunRequest};
pub use diff::{ChangeDto, ChangeKindDto};
pub use engine::{ConnectOptions, EngineStatus, Slipway};
pub use engine_failure::EngineFailure;
pub use error::{Error, ErrorDto, Result};
pub use hygiene::{CleanOutcome, HygieneDto, JunkDto, JunkKind, SecretDto};
pub use images::{HistoryDto, ImageDetailsDto, ImageDto, PullEvent};
pub use replay::{ReplayEvent, ReplayFailure, ReplayOutcome};
pub use terminal::{TerminalEvent, TerminalSize, Terminals};
pub use tokio_util::sync::CancellationToken;
pub use workshop_log::{LogEntry, WorkshopLog};
