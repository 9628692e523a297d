//! Engine status and the container list.

use slipway_core::{ContainerDto, EngineStatus};
use tauri::State;

use crate::error::CmdResult;
use crate::state::EngineConn;

/// Which engine answers and its version; on failure the connection is dropped so Retry reconnects.
#[tauri::command]
pub async fn engine_status(engine: State<'_, EngineConn>) -> CmdResult<EngineStatus> {
    engine.forget().await;
    let res = engine.get().await?.status().await;
    if res.is_err() {
        engine.forget().await;
    }
    Ok(res?)
}

#[tauri::command]
pub async fn containers_list(engine: State<'_, EngineConn>) -> CmdResult<Vec<ContainerDto>> {
    Ok(engine.get().await?.containers().await?)
}
