//! A real terminal in a workshop: a shell with a TTY, stdin, `TERM` and a size, kept open between
//! commands so that `cd`, prompts, REPLs and editors work as in `docker exec -it`.
//!
//! Sessions are kept by id ([`Terminals`]): open, write input, resize, close. What the terminal
//! prints reaches the caller as one event enum, [`TerminalEvent`], through a callback (like push
//! and fetch): output in batches, each command the shell reports (see [`hook`]) with its exit
//! code, then the exit once every byte was delivered, or a failure.
//!
//! Output is batched: sent when 64 KiB are waiting, or 16 ms after the first unsent byte. A
//! `seq 1 200000` then arrives as a few dozen messages instead of thousands, so the window keeps
//! up, and a prompt still shows at once.
//!
//! Every command the shell reports is appended to the workshop log with its exit code, as the
//! one-shot exec does, because the recipe (`recipe::dockerfile`) is made from that log.

pub mod hook;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use slipway_engine::terminal::{TerminalControl, TerminalInput, TerminalSpec};
use tokio::sync::mpsc;
use ts_rs::TS;

pub use slipway_engine::terminal::TerminalSize;

use crate::error::{Hint, CONTAINER_HINT};
use crate::workshop_log::{now_rfc3339, LogEntry, LogStore};
use crate::{Error, ErrorDto, Result, Slipway};
use hook::{CommandTracker, HookFilter, Piece};

/// Output is sent once this much is waiting...
const BATCH_BYTES: usize = 64 << 10;
/// ...or this long after the first byte that is waiting.
const BATCH_DELAY: Duration = Duration::from_millis(16);

/// One event of a terminal session; the last is `Exit` or `Failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TerminalEvent {
    /// Bytes for the screen, in order.
    Output {
        /// The bytes, base64 in JSON (a TTY's output need not be UTF-8, nor cut at a character).
        #[serde(with = "base64_bytes")]
        #[ts(type = "string")]
        data: Vec<u8>,
    },
    /// The shell finished a command, now in the workshop log.
    Recorded {
        /// The command line as the shell's history has it.
        command: String,
        /// Its exit code.
        exit_code: i64,
    },
    /// The shell exited (after all its output was sent).
    Exit {
        /// The shell's exit code; `None` when the engine could not tell.
        code: Option<i64>,
    },
    /// The connection to the terminal broke; nothing follows.
    Failed {
        /// What broke.
        error: ErrorDto,
    },
}

/// Where a session's events go.
pub type TerminalEvents = Arc<dyn Fn(TerminalEvent) + Send + Sync>;

mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

/// One open terminal.
struct Session {
    control: TerminalControl,
    /// Typed bytes, written in order by the session's input task.
    input: mpsc::UnboundedSender<Vec<u8>>,
    /// When the user started typing the command the next prompt will report.
    typing_since: Arc<Mutex<Option<String>>>,
}

/// The open terminals, by id.
#[derive(Default, Clone)]
pub struct Terminals {
    sessions: Arc<Mutex<HashMap<String, Session>>>,
}

impl Terminals {
    /// Opens a shell in the running workshop `container` (bash if the image has it, else sh) and
    /// returns the session's id; its events go to `events` until `Exit` or `Failed`.
    pub async fn open(
        &self,
        slipway: &Slipway,
        container: &str,
        size: TerminalSize,
        events: TerminalEvents,
    ) -> Result<String> {
        check_size(size)?;
        let state = slipway
            .engine()
            .inspect_container(container)
            .await
            .hint(CONTAINER_HINT)?;
        if !state.running {
            return Err(Error::Conflict(format!(
                "container {container} is not running; start it first (`docker start {container}`)"
            )));
        }
        let token = hook::new_token();
        let spec = TerminalSpec {
            cmd: vec!["/bin/sh".into(), "-c".into(), hook::shell_command(&token)],
            size,
            ..TerminalSpec::default()
        };
        let terminal = slipway.engine().open_terminal(&state.id, spec).await?;
        // Its own random id: the token stays between core and the shell.
        let id = format!("terminal-{}", hook::new_token());
        let typing_since = Arc::new(Mutex::new(None));
        let (input, typed) = mpsc::unbounded_channel();
        tokio::spawn(write_input(terminal.input, typed));
        let recorder = Recorder {
            store: slipway.logs_store().clone(),
            container_id: state.id,
            tracker: CommandTracker::default(),
            typing_since: typing_since.clone(),
        };
        self.sessions.lock().expect("terminals lock").insert(
            id.clone(),
            Session {
                control: terminal.control.clone(),
                input,
                typing_since,
            },
        );
        let sessions = self.clone();
        let session_id = id.clone();
        tokio::spawn(async move {
            let last = pump(terminal.output, &token, recorder, &events).await;
            let last = match last {
                Ok(()) => TerminalEvent::Exit {
                    code: terminal.control.exit_code().await.ok(),
                },
                Err(error) => TerminalEvent::Failed {
                    error: ErrorDto::from(error),
                },
            };
            sessions.forget(&session_id);
            events(last);
        });
        Ok(id)
    }

    /// Sends typed bytes (keys, pasted text) to the terminal.
    pub fn input(&self, id: &str, data: &[u8]) -> Result<()> {
        let sessions = self.sessions.lock().expect("terminals lock");
        let session = sessions.get(id).ok_or_else(|| ended(id))?;
        session
            .typing_since
            .lock()
            .expect("typing lock")
            .get_or_insert_with(now_rfc3339);
        session.input.send(data.to_vec()).map_err(|_| ended(id))
    }

    /// Tells the terminal its new size in character cells.
    pub async fn resize(&self, id: &str, size: TerminalSize) -> Result<()> {
        check_size(size)?;
        let control = self.control(id)?;
        Ok(control.resize(size).await?)
    }

    /// Closes the terminal: kills the shell and what it runs. Its events end with `Exit`.
    pub async fn close(&self, id: &str) -> Result<()> {
        let control = self.control(id)?;
        control.kill().await;
        Ok(())
    }

    /// Closes every terminal, for an app that quits.
    pub async fn close_all(&self) {
        let controls: Vec<TerminalControl> = self
            .sessions
            .lock()
            .expect("terminals lock")
            .values()
            .map(|s| s.control.clone())
            .collect();
        for control in controls {
            control.kill().await;
        }
    }

    fn control(&self, id: &str) -> Result<TerminalControl> {
        let sessions = self.sessions.lock().expect("terminals lock");
        Ok(sessions.get(id).ok_or_else(|| ended(id))?.control.clone())
    }

    fn forget(&self, id: &str) {
        self.sessions.lock().expect("terminals lock").remove(id);
    }
}

fn ended(id: &str) -> Error {
    Error::NotFound(format!(
        "no open terminal {id}: it has ended; open a new one"
    ))
}

fn check_size(size: TerminalSize) -> Result<()> {
    if size.rows == 0 || size.cols == 0 {
        return Err(Error::InvalidInput(format!(
            "a terminal needs at least one row and one column, not {}x{}",
            size.cols, size.rows
        )));
    }
    Ok(())
}

/// Writes typed bytes in order; ends when the session is gone or the connection broke.
async fn write_input(mut input: TerminalInput, mut typed: mpsc::UnboundedReceiver<Vec<u8>>) {
    while let Some(bytes) = typed.recv().await {
        if let Err(error) = input.write(&bytes).await {
            tracing::warn!(%error, "could not write to a terminal");
            return;
        }
    }
}

/// Turns the shell's reports into workshop-log entries.
struct Recorder {
    store: LogStore,
    container_id: String,
    tracker: CommandTracker,
    typing_since: Arc<Mutex<Option<String>>>,
}

impl Recorder {
    /// The event for a prompt that ends a command, after logging it.
    fn prompt(&mut self, prompt: &hook::Prompt) -> Option<TerminalEvent> {
        let started = self.typing_since.lock().expect("typing lock").take();
        let (command, exit_code) = self.tracker.finished(prompt)?;
        let finished = now_rfc3339();
        let entry = LogEntry {
            command: command.clone(),
            exit_code: Some(exit_code),
            cancelled: false,
            started: started.unwrap_or_else(|| finished.clone()),
            finished,
        };
        if let Err(error) = self.store.append(&self.container_id, entry) {
            tracing::warn!(%error, "could not record a terminal command in the workshop log");
        }
        Some(TerminalEvent::Recorded { command, exit_code })
    }
}

/// Forwards the terminal's output in batches and its commands as they finish, until the output
/// ends (`Ok`) or breaks (`Err`); everything read is sent before it returns.
async fn pump(
    mut output: futures_util::stream::BoxStream<'static, slipway_engine::Result<bytes::Bytes>>,
    token: &str,
    mut recorder: Recorder,
    events: &TerminalEvents,
) -> Result<()> {
    let mut filter = HookFilter::new(token);
    let mut batch: Vec<u8> = Vec::new();
    let flush = |batch: &mut Vec<u8>| {
        if !batch.is_empty() {
            events(TerminalEvent::Output {
                data: std::mem::take(batch),
            });
        }
    };
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let next = match deadline {
            Some(at) => match tokio::time::timeout_at(at, output.next()).await {
                Ok(next) => next,
                Err(_) => {
                    flush(&mut batch);
                    deadline = None;
                    continue;
                }
            },
            None => output.next().await,
        };
        let chunk = match next {
            Some(Ok(chunk)) => chunk,
            Some(Err(error)) => {
                flush(&mut batch);
                return Err(error.into());
            }
            None => break,
        };
        for piece in filter.feed(&chunk) {
            match piece {
                Piece::Output(bytes) => {
                    batch.extend_from_slice(&bytes);
                    if batch.len() >= BATCH_BYTES {
                        flush(&mut batch);
                        deadline = None;
                    }
                }
                Piece::Prompt(prompt) => {
                    if let Some(event) = recorder.prompt(&prompt) {
                        flush(&mut batch);
                        deadline = None;
                        events(event);
                    }
                }
            }
        }
        if !batch.is_empty() && deadline.is_none() {
            deadline = Some(tokio::time::Instant::now() + BATCH_DELAY);
        }
    }
    batch.extend(filter.finish());
    flush(&mut batch);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `pump` over `chunks` as if the engine sent them; returns the events and the log.
    async fn pumped(chunks: Vec<Vec<u8>>) -> (Vec<TerminalEvent>, crate::WorkshopLog) {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::new(dir.path());
        store.start("c", "base:1").unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let events: TerminalEvents = Arc::new(move |event| sink.lock().unwrap().push(event));
        let recorder = Recorder {
            store: store.clone(),
            container_id: "c".into(),
            tracker: CommandTracker::default(),
            typing_since: Arc::new(Mutex::new(None)),
        };
        let output = futures_util::stream::iter(
            chunks
                .into_iter()
                .map(|c| Ok(bytes::Bytes::from(c)))
                .collect::<Vec<slipway_engine::Result<bytes::Bytes>>>(),
        )
        .boxed();
        pump(output, "tok", recorder, &events).await.unwrap();
        let seen = seen.lock().unwrap().clone();
        (seen, store.load("c").unwrap())
    }

    fn screen(events: &[TerminalEvent]) -> Vec<u8> {
        events
            .iter()
            .filter_map(|e| match e {
                TerminalEvent::Output { data } => Some(data.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    #[tokio::test]
    async fn many_small_chunks_go_out_as_few_batches_in_order() {
        let lines: Vec<Vec<u8>> = (1..=200_000)
            .map(|i| format!("{i}\r\n").into_bytes())
            .collect();
        let expected: Vec<u8> = lines.concat();
        let (events, _) = pumped(lines).await;
        assert_eq!(screen(&events), expected);
        assert!(
            events.len() <= expected.len() / BATCH_BYTES + 2,
            "{} messages for {} bytes",
            events.len(),
            expected.len()
        );
    }

    #[tokio::test]
    async fn a_reported_command_is_logged_after_the_output_before_it() {
        let hook = |mark: u32, status: i32, command: &str| {
            format!("\x1b]6973;tok;{status};{mark};{command}\x07").into_bytes()
        };
        let (events, log) = pumped(vec![
            hook(4, 0, "an earlier session's"),
            b"# false\r\n".to_vec(),
            hook(5, 1, "false"),
            b"# ".to_vec(),
        ])
        .await;
        assert_eq!(
            events,
            vec![
                TerminalEvent::Output {
                    data: b"# false\r\n".to_vec()
                },
                TerminalEvent::Recorded {
                    command: "false".into(),
                    exit_code: 1
                },
                TerminalEvent::Output {
                    data: b"# ".to_vec()
                },
            ]
        );
        let logged: Vec<_> = log
            .entries
            .iter()
            .map(|e| (e.command.as_str(), e.exit_code))
            .collect();
        assert_eq!(logged, vec![("false", Some(1))]);
    }

    #[test]
    fn output_travels_as_base64_and_events_are_tagged() {
        let event = TerminalEvent::Output {
            data: vec![0xff, b'a', 0x1b],
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json, serde_json::json!({"event": "output", "data": "/2Eb"}));
        assert_eq!(
            serde_json::from_value::<TerminalEvent>(json).unwrap(),
            event
        );
        let json = serde_json::to_value(TerminalEvent::Recorded {
            command: "false".into(),
            exit_code: 1,
        })
        .unwrap();
        assert_eq!(json["event"], "recorded");
    }
}
