//! The managed local registry: status, start and stop from the Engine view.

use slipway_core::local_registry::{LocalRegistry, LocalRegistryStatus};
use tauri::State;

use crate::error::CmdResult;

#[tauri::command]
pub async fn local_registry_status(
    reg: State<'_, LocalRegistry>,
) -> CmdResult<LocalRegistryStatus> {
    Ok(reg.status().await)
}

#[tauri::command]
pub async fn local_registry_start(reg: State<'_, LocalRegistry>) -> CmdResult<LocalRegistryStatus> {
    Ok(reg.start().await?)
}

#[tauri::command]
pub async fn local_registry_stop(reg: State<'_, LocalRegistry>) -> CmdResult<LocalRegistryStatus> {
    Ok(reg.stop().await)
}
