//! The workshop: a container to work in, its changes, and commit (its terminal is in
//! `terminal`).

use slipway_core::names::NameCheck;
use slipway_core::{
    ChangeDto, CleanOutcome, CommitOutcome, CommitRequest, ContainerDto, HygieneDto, WorkshopLog,
};
use tauri::State;

use crate::error::CmdResult;
use crate::state::EngineConn;

#[tauri::command]
pub async fn workshop_start(
    engine: State<'_, EngineConn>,
    image: String,
) -> CmdResult<ContainerDto> {
    Ok(engine.get().await?.run_workshop(&image, None).await?)
}

/// The workshops still running, newest first, so a window opened after a restart reattaches.
#[tauri::command]
pub async fn workshops_running(engine: State<'_, EngineConn>) -> CmdResult<Vec<ContainerDto>> {
    Ok(engine.get().await?.running_workshops().await?)
}

/// Stops and removes a workshop container (force: its work is either committed or abandoned).
#[tauri::command]
pub async fn workshop_remove(engine: State<'_, EngineConn>, container: String) -> CmdResult<()> {
    Ok(engine
        .get()
        .await?
        .remove_container(&container, true)
        .await?)
}

#[tauri::command]
pub async fn container_changes(
    engine: State<'_, EngineConn>,
    container: String,
) -> CmdResult<Vec<ChangeDto>> {
    Ok(engine.get().await?.changes(&container).await?)
}

/// What is wrong with the commit dialog's repository and tag, each under its own field.
#[tauri::command]
pub fn validate_reference(repository: String, tag: String) -> NameCheck {
    slipway_core::names::check_parts(&repository, &tag)
}

#[tauri::command]
pub async fn container_commit(
    engine: State<'_, EngineConn>,
    request: CommitRequest,
) -> CmdResult<CommitOutcome> {
    Ok(engine.get().await?.commit(&request).await?)
}

/// The workshop-log label a commit would store (redacted and capped), for the dialog's preview.
#[tauri::command]
pub async fn workshop_log_label(
    engine: State<'_, EngineConn>,
    container: String,
) -> CmdResult<String> {
    Ok(engine.get().await?.workshop_log_label(&container).await?)
}

/// The commands run in a workshop container with their exit codes (a commit can store them as a
/// label).
#[tauri::command]
pub async fn workshop_log(
    engine: State<'_, EngineConn>,
    container: String,
) -> CmdResult<WorkshopLog> {
    Ok(engine.get().await?.workshop_log(&container).await?)
}

/// The hygiene check before a commit: junk with its bytes, likely secrets (`env`: the commit
/// dialog's ENV lines).
#[tauri::command]
pub async fn workshop_hygiene(
    engine: State<'_, EngineConn>,
    container: String,
    env: Vec<String>,
) -> CmdResult<HygieneDto> {
    Ok(engine.get().await?.hygiene(&container, &env).await?)
}

/// Removes the junk the hygiene check lists from the workshop container.
#[tauri::command]
pub async fn workshop_clean(
    engine: State<'_, EngineConn>,
    container: String,
) -> CmdResult<CleanOutcome> {
    Ok(engine.get().await?.clean(&container).await?)
}
