//! The workshop's terminal: a shell in the container whose output reaches the page over a
//! Channel until it exits, with typed input, resize and close by session id.

use std::sync::Arc;

use slipway_core::{TerminalEvent, TerminalSize, Terminals};
use tauri::ipc::Channel;
use tauri::State;

use crate::error::CmdResult;
use crate::state::EngineConn;

/// Opens a shell in the workshop `container`; returns the session id. Output, recorded commands
/// and the exit go to `on_event`.
#[tauri::command]
pub async fn terminal_open(
    engine: State<'_, EngineConn>,
    terminals: State<'_, Terminals>,
    container: String,
    rows: u16,
    cols: u16,
    on_event: Channel<TerminalEvent>,
) -> CmdResult<String> {
    let slipway = engine.get().await?;
    let events = Arc::new(move |event| {
        let _ = on_event.send(event);
    });
    let size = TerminalSize { rows, cols };
    Ok(terminals.open(&slipway, &container, size, events).await?)
}

/// What the user typed or pasted, as the terminal encodes it.
#[tauri::command]
pub fn terminal_input(terminals: State<'_, Terminals>, id: String, data: String) -> CmdResult<()> {
    Ok(terminals.input(&id, data.as_bytes())?)
}

#[tauri::command]
pub async fn terminal_resize(
    terminals: State<'_, Terminals>,
    id: String,
    rows: u16,
    cols: u16,
) -> CmdResult<()> {
    Ok(terminals.resize(&id, TerminalSize { rows, cols }).await?)
}

/// Kills the shell and what it runs; the channel then gets the exit.
#[tauri::command]
pub async fn terminal_close(terminals: State<'_, Terminals>, id: String) -> CmdResult<()> {
    Ok(terminals.close(&id).await?)
}
