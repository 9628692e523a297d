//! Local images: list, inspect, tag, remove, pull with per-layer progress, and build from a
//! folder with a Dockerfile.

use futures_util::StreamExt;
use slipway_core::{BuildEvent, ImageDetailsDto, ImageDto, PullEvent};
use tauri::ipc::Channel;
use tauri::State;

use crate::commands::ops::Ops;
use crate::error::CmdResult;
use crate::state::EngineConn;

#[tauri::command]
pub async fn images_list(engine: State<'_, EngineConn>) -> CmdResult<Vec<ImageDto>> {
    Ok(engine.get().await?.images().await?)
}

#[tauri::command]
pub async fn image_inspect(
    engine: State<'_, EngineConn>,
    reference: String,
) -> CmdResult<ImageDetailsDto> {
    Ok(engine.get().await?.inspect_image(&reference).await?)
}

#[tauri::command]
pub async fn image_tag(
    engine: State<'_, EngineConn>,
    source: String,
    target: String,
) -> CmdResult<()> {
    Ok(engine.get().await?.tag(&source, &target).await?)
}

#[tauri::command]
pub async fn image_remove(
    engine: State<'_, EngineConn>,
    reference: String,
) -> CmdResult<Vec<String>> {
    Ok(engine.get().await?.remove_image(&reference, false).await?)
}

/// Pulls through the engine; each progress event goes to the page as it arrives.
#[tauri::command]
pub async fn image_pull(
    engine: State<'_, EngineConn>,
    ops: State<'_, Ops>,
    reference: String,
    op_id: String,
    on_progress: Channel<PullEvent>,
) -> CmdResult<ImageDetailsDto> {
    let slipway = engine.get().await?;
    ops.run(&op_id, async {
        let mut stream = Box::pin(slipway.pull(&reference)?);
        while let Some(event) = stream.next().await {
            let _ = on_progress.send(event?);
        }
        Ok(slipway.inspect_image(&reference).await?)
    })
    .await
}

/// Builds the folder `dir` (its Dockerfile) as `tag`, streaming the engine's output; returns the
/// new image's id.
#[tauri::command]
pub async fn image_build(
    engine: State<'_, EngineConn>,
    ops: State<'_, Ops>,
    dir: String,
    tag: String,
    op_id: String,
    on_event: Channel<BuildEvent>,
) -> CmdResult<String> {
    let slipway = engine.get().await?;
    let send = |event| {
        let _ = on_event.send(event);
    };
    ops.run(&op_id, async {
        Ok(slipway.build_events(dir.as_ref(), &tag, send).await?)
    })
    .await
}
