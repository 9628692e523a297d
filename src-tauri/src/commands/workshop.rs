//! The workshop: a container to work in, its changes, commit, its recipe and its replay on
//! another base (its terminal is in `terminal`).

use slipway_core::names::NameCheck;
use slipway_core::{
    ChangeDto, CleanOutcome, CommitOutcome, CommitRequest, ContainerDto, HygieneDto, ReplayEvent,
    ReplayOutcome, WorkshopLog,
};
use tauri::ipc::Channel;
use tauri::State;
use tokio_util::sync::CancellationToken;

use crate::commands::ops::Ops;
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

/// The workshop as a Dockerfile, with the commit form's `changes` as its last instructions.
#[tauri::command]
pub async fn workshop_dockerfile(
    engine: State<'_, EngineConn>,
    container: String,
    changes: Vec<String>,
) -> CmdResult<String> {
    Ok(engine.get().await?.dockerfile(&container, &changes).await?)
}

/// Saves the recipe the dialog shows as `dir/Dockerfile`, never over an existing file; returns
/// the file's path.
#[tauri::command]
pub fn workshop_dockerfile_save(dir: String, text: String) -> CmdResult<String> {
    let path = slipway_core::recipe::save_dockerfile(dir.as_ref(), &text)?;
    Ok(path.display().to_string())
}

/// Replays the workshop's successful commands in a new workshop from `image`, streaming each
/// command and its output; Cancel (by `op_id`) drops the replay, leaving the new workshop as it is.
#[tauri::command]
pub async fn workshop_replay(
    engine: State<'_, EngineConn>,
    ops: State<'_, Ops>,
    container: String,
    image: String,
    op_id: String,
    on_event: Channel<ReplayEvent>,
) -> CmdResult<ReplayOutcome> {
    let slipway = engine.get().await?;
    let send = |event| {
        let _ = on_event.send(event);
    };
    ops.run(&op_id, async {
        Ok(slipway
            .replay(&container, &image, CancellationToken::new(), send)
            .await?)
    })
    .await
}
