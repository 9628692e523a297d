//! Tauri commands, one module per resource. They live in modules because `#[tauri::command]`
//! functions declared `pub` at the crate root clash with the macro's generated items (E0255).

pub mod engine;
pub mod housekeeping;
pub mod images;
pub mod local_registry;
pub mod ops;
pub mod profiles;
pub mod registry;
pub mod terminal;
pub mod workshop;
