//! slipway-core: Slipway's use cases and the plain serde DTOs they return.
//!
//! The desktop app and the CLI call only this crate; neither sees bollard, reqwest or Tauri types
//! through it.

pub mod local_registry;
pub mod profiles;
