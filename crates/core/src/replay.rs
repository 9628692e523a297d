//! Replay: the recorded successful commands of one workshop run again, one by one, in a new
//! workshop from another image; the way to carry a workshop's work to a new base (a newer
//! release, another distribution) without writing the recipe out first.

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

use crate::containers::{ContainerDto, OutputChunk};
use crate::workshop_log::LogEntry;
use crate::{Error, Result, Slipway};

/// What a replay reports while it runs. It ends with the call's own result, `ReplayOutcome`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ReplayEvent {
    /// The new workshop runs; `commands` will run in it.
    Started {
        /// The new workshop.
        container: ContainerDto,
        /// How many commands the replay will run if none fails.
        commands: usize,
    },
    /// Command `index` (from 0) starts.
    Command {
        /// Its place in the replay.
        index: usize,
        /// The command line, as recorded.
        command: String,
    },
    /// Output of command `index`, as it arrives.
    Output {
        /// Its place in the replay.
        index: usize,
        /// The chunk.
        chunk: OutputChunk,
    },
    /// Command `index` exited; a code other than 0 ends the replay.
    Finished {
        /// Its place in the replay.
        index: usize,
        /// Its exit code.
        exit_code: i64,
    },
}

/// The command that stopped a replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ReplayFailure {
    /// Its place in the replay, from 0.
    pub index: usize,
    /// The command line.
    pub command: String,
    /// Its exit code on the new base.
    pub exit_code: i64,
}

/// How a replay ended. The new workshop is left running either way: after a failure it is the
/// place to find out why, and after success it is ready to commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ReplayOutcome {
    /// The new workshop.
    pub container: ContainerDto,
    /// The commands that exited 0.
    pub succeeded: usize,
    /// The commands the replay had to run.
    pub total: usize,
    /// The first command that failed, which stopped the replay.
    pub failed: Option<ReplayFailure>,
}

/// The commands a replay runs: those that exited 0, as the recipe keeps them. A failed or
/// cancelled attempt was not part of the work the workshop ended with.
pub fn replayable(entries: &[LogEntry]) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e.exit_code == Some(0) && !e.cancelled && !e.command.trim().is_empty())
        .map(|e| e.command.clone())
        .collect()
}

impl Slipway {
    /// Starts a workshop from `image` and runs in it, one by one, the successful commands of
    /// `container`'s workshop log, each as its own `/bin/sh -c` (as a Dockerfile's RUN would, so
    /// a `cd` does not carry over). The first command that exits non-zero stops the replay;
    /// `ReplayOutcome::failed` says which. Each command is recorded in the new workshop's log.
    pub async fn replay(
        &self,
        container: &str,
        image: &str,
        cancel: CancellationToken,
        on_event: impl Fn(ReplayEvent),
    ) -> Result<ReplayOutcome> {
        let commands = replayable(&self.workshop_log(container).await?.entries);
        if commands.is_empty() {
            return Err(Error::InvalidInput(format!(
                "the workshop {container} has no successful command to replay"
            )));
        }
        let workshop = self.run_workshop(image, None).await?;
        let total = commands.len();
        on_event(ReplayEvent::Started {
            container: workshop.clone(),
            commands: total,
        });
        for (index, command) in commands.into_iter().enumerate() {
            on_event(ReplayEvent::Command {
                index,
                command: command.clone(),
            });
            let exit_code = self
                .exec_with(&workshop.id, &command, cancel.clone(), |chunk| {
                    on_event(ReplayEvent::Output {
                        index,
                        chunk: chunk.clone(),
                    })
                })
                .await?;
            on_event(ReplayEvent::Finished { index, exit_code });
            if exit_code != 0 {
                return Ok(ReplayOutcome {
                    container: workshop,
                    succeeded: index,
                    total,
                    failed: Some(ReplayFailure {
                        index,
                        command,
                        exit_code,
                    }),
                });
            }
        }
        Ok(ReplayOutcome {
            container: workshop,
            succeeded: total,
            total,
            failed: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(command: &str, exit_code: Option<i64>, cancelled: bool) -> LogEntry {
        LogEntry {
            command: command.into(),
            exit_code,
            cancelled,
            started: String::new(),
            finished: String::new(),
        }
    }

    #[test]
    fn only_the_successful_commands_are_replayed_in_order() {
        let entries = [
            entry("mkdir /a", Some(0), false),
            entry("ls /nope", Some(1), false),
            entry("sleep 100", None, true),
            entry("  ", Some(0), false),
            entry("echo hi > /a/b", Some(0), false),
        ];
        assert_eq!(replayable(&entries), vec!["mkdir /a", "echo hi > /a/b"]);
    }
}
