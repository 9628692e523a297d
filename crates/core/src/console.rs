//! The console: run a shell command in a running workshop, stream its output as it comes, and
//! record it in the workshop log.

use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use slipway_engine::exec::{ExecEvent, ExecSpec};
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

use crate::containers::OutputChunk;
use crate::error::{Hint, CONTAINER_HINT};
use crate::workshop_log::{now_rfc3339, LogEntry, LogStore};
use crate::{Error, Result, Slipway};

/// One event of a console command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ConsoleEvent {
    /// Output, as soon as the engine sent it.
    Output {
        /// The chunk.
        chunk: OutputChunk,
    },
    /// The command exited; always the last event unless the stream ends with an error.
    Exit {
        /// Its exit code.
        code: i64,
    },
}

impl Slipway {
    /// Runs `command_line` under `/bin/sh -c` in the running `container` and streams its output,
    /// then its exit code. Cancelling `cancel` (or dropping the stream) kills the command; the
    /// stream then ends with `Err(Error::Cancelled)`. The command, its exit code and its start and
    /// end times are appended to the container's workshop log.
    pub async fn exec(
        &self,
        container: &str,
        command_line: &str,
        cancel: CancellationToken,
    ) -> Result<impl Stream<Item = Result<ConsoleEvent>> + Send + 'static> {
        if command_line.trim().is_empty() {
            return Err(Error::InvalidInput(
                "the command is empty; type a shell command such as `ls /`".to_string(),
            ));
        }
        // Resolve the name to the id the log is keyed by, and fail early (with not_found) for a
        // container that does not exist, or with a clear message for one that is stopped.
        let state = self
            .engine()
            .inspect_container(container)
            .await
            .hint(CONTAINER_HINT)?;
        if !state.running {
            return Err(Error::Conflict(format!(
                "container {container} is not running; start it first (`docker start {container}`)"
            )));
        }
        let container_id = state.id;
        let stream = self
            .engine()
            .exec(&container_id, ExecSpec::shell(command_line), cancel);
        let mut pending = PendingEntry {
            store: self.logs_store().clone(),
            container_id,
            command: command_line.to_string(),
            started: now_rfc3339(),
            recorded: false,
        };
        Ok(stream.map(move |event| match event {
            Ok(ExecEvent::Output(output)) => Ok(ConsoleEvent::Output {
                chunk: OutputChunk::from_engine(output),
            }),
            Ok(ExecEvent::Exit(code)) => {
                pending.record(Some(code), false);
                Ok(ConsoleEvent::Exit { code })
            }
            Err(slipway_engine::Error::Cancelled) => {
                pending.record(None, true);
                Err(Error::Cancelled)
            }
            Err(error) => {
                pending.record(None, false);
                Err(error.into())
            }
        }))
    }

    /// Runs a command to completion; calls `on_output` for each chunk and returns the exit code.
    pub async fn exec_with(
        &self,
        container: &str,
        command_line: &str,
        cancel: CancellationToken,
        mut on_output: impl FnMut(&OutputChunk),
    ) -> Result<i64> {
        let mut stream = Box::pin(self.exec(container, command_line, cancel).await?);
        while let Some(event) = stream.next().await {
            match event? {
                ConsoleEvent::Output { chunk } => on_output(&chunk),
                ConsoleEvent::Exit { code } => return Ok(code),
            }
        }
        Err(Error::Engine(
            "the command's output ended without an exit code".to_string(),
        ))
    }

    /// The workshop log of a container (by id or name).
    pub async fn workshop_log(&self, container: &str) -> Result<crate::WorkshopLog> {
        let id = self.container_id(container).await?;
        self.logs_store().load(&id)
    }
}

/// The log entry of a command still running. It is written once, when the command ends; if the
/// caller drops the stream first (which kills the command), `Drop` records it as cancelled so the
/// log still shows every command that touched the container.
struct PendingEntry {
    store: LogStore,
    container_id: String,
    command: String,
    started: String,
    recorded: bool,
}

impl PendingEntry {
    fn record(&mut self, exit_code: Option<i64>, cancelled: bool) {
        if self.recorded {
            return;
        }
        self.recorded = true;
        let entry = LogEntry {
            command: self.command.clone(),
            exit_code,
            cancelled,
            started: self.started.clone(),
            finished: now_rfc3339(),
        };
        if let Err(error) = self.store.append(&self.container_id, entry) {
            tracing::warn!(%error, "could not record a command in the workshop log");
        }
    }
}

impl Drop for PendingEntry {
    fn drop(&mut self) {
        self.record(None, true);
    }
}
