//! Console: run a command in a running container, stream its output as it comes, report its exit
//! code, and kill it when the caller cancels.
//!
//! The Docker API has no "kill exec" call, and the exec's PID that inspect reports is a host PID
//! we may not signal. So every exec we start carries a unique marker in its environment
//! (`SLIPWAY_EXEC_ID=<token>`), which every process it forks inherits. Cancelling runs a second,
//! short exec in the same container that SIGKILLs every process whose `/proc/<pid>/environ` holds
//! the marker, which ends the whole process tree and with it the output stream. That second exec
//! needs `/bin/sh`, `grep` and `kill` in the container, as busybox, Alpine, Debian and Ubuntu
//! images all have; a process that wipes its own environment (`env -i`) escapes it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::containers::Output;
use crate::{Engine, Error, Result};

/// The environment variable that marks an exec's process tree so that cancel can find it.
pub const EXEC_MARKER_VAR: &str = "SLIPWAY_EXEC_ID";

/// How long, after a kill, we wait for the engine to close the output stream before killing again.
/// A second round matters when the cancel raced the command's start: the first kill then found no
/// marked process yet.
const DRAIN_AFTER_KILL: Duration = Duration::from_secs(1);

/// How many kill rounds we try before giving up on a command that will not die.
const KILL_ROUNDS: usize = 5;

/// What to run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecSpec {
    /// The argv; use [`ExecSpec::shell`] for a shell command line.
    pub cmd: Vec<String>,
    /// Extra environment, `KEY=value`.
    pub env: Vec<String>,
    /// The working directory; the container's when `None`.
    pub working_dir: Option<String>,
    /// The user; the container's when `None`.
    pub user: Option<String>,
    /// Allocate a terminal (stdout and stderr then arrive merged, as stdout).
    pub tty: bool,
}

impl ExecSpec {
    /// Runs `command_line` under `/bin/sh -c`, so pipes, `&&` and redirections work as typed.
    pub fn shell(command_line: &str) -> ExecSpec {
        ExecSpec {
            cmd: vec!["/bin/sh".into(), "-c".into(), command_line.into()],
            ..ExecSpec::default()
        }
    }
}

/// One event of a running exec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecEvent {
    /// A chunk of output, forwarded as soon as the engine sent it.
    Output(Output),
    /// The command exited with this code; always the last event of a stream that did not fail.
    Exit(i64),
}

impl Engine {
    /// Starts `spec` in the running `container` and streams its output, then its exit code.
    ///
    /// Cancelling `cancel`, or dropping the stream, kills the command's whole process tree in the
    /// container. After a cancel the stream ends with `Err(Error::Cancelled)` once the processes
    /// are gone.
    pub fn exec(
        &self,
        container: &str,
        spec: ExecSpec,
        cancel: CancellationToken,
    ) -> impl Stream<Item = Result<ExecEvent>> + Send + 'static {
        let (sender, receiver) = mpsc::channel(64);
        let engine = self.clone();
        let container = container.to_string();
        tokio::spawn(async move {
            run_exec(engine, container, spec, cancel, sender).await;
        });
        futures_util::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|item| (item, receiver))
        })
    }

    /// Runs a shell command line to completion and collects its output; for short commands
    /// where streaming does not matter. Returns (exit code, stdout, stderr).
    pub async fn exec_collect(
        &self,
        container: &str,
        command_line: &str,
    ) -> Result<(i64, Vec<u8>, Vec<u8>)> {
        self.exec_collect_spec(container, ExecSpec::shell(command_line))
            .await
    }

    /// [`Engine::exec_collect`] for any [`ExecSpec`] (an argv, a user).
    pub async fn exec_collect_spec(
        &self,
        container: &str,
        spec: ExecSpec,
    ) -> Result<(i64, Vec<u8>, Vec<u8>)> {
        let mut stream = Box::pin(self.exec(container, spec, CancellationToken::new()));
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        while let Some(event) = stream.next().await {
            match event? {
                ExecEvent::Output(Output::Stdout(bytes)) => stdout.extend_from_slice(&bytes),
                ExecEvent::Output(Output::Stderr(bytes)) => stderr.extend_from_slice(&bytes),
                ExecEvent::Exit(code) => return Ok((code, stdout, stderr)),
            }
        }
        Err(Error::Stream {
            message: "the exec ended without an exit code".to_string(),
        })
    }
}

/// A token unique within this process and, thanks to the PID and clock, across processes.
pub(crate) fn new_marker() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:x}{:x}{:x}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

async fn run_exec(
    engine: Engine,
    container: String,
    spec: ExecSpec,
    cancel: CancellationToken,
    sender: mpsc::Sender<Result<ExecEvent>>,
) {
    // Cancelled before it started: do not start it at all.
    if cancel.is_cancelled() {
        let _ = sender.send(Err(Error::Cancelled)).await;
        return;
    }
    let marker = new_marker();
    let mut env = spec.env.clone();
    env.push(format!("{EXEC_MARKER_VAR}={marker}"));
    let options = CreateExecOptions::<String> {
        cmd: Some(spec.cmd.clone()),
        env: Some(env),
        working_dir: spec.working_dir.clone(),
        user: spec.user.clone(),
        tty: Some(spec.tty),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let exec_id = match engine.docker().create_exec(&container, options).await {
        Ok(created) => created.id,
        Err(error) => {
            let _ = sender.send(Err(error.into())).await;
            return;
        }
    };
    let start = StartExecOptions {
        detach: false,
        tty: spec.tty,
        output_capacity: None,
    };
    let mut output = match engine.docker().start_exec(&exec_id, Some(start)).await {
        Ok(StartExecResults::Attached { output, .. }) => output,
        Ok(StartExecResults::Detached) => {
            let _ = sender
                .send(Err(Error::Stream {
                    message: "the engine started the exec detached".to_string(),
                }))
                .await;
            return;
        }
        Err(error) => {
            let _ = sender.send(Err(error.into())).await;
            return;
        }
    };

    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                stop_marked(&engine, &container, &marker, &mut output).await;
                let _ = sender.send(Err(Error::Cancelled)).await;
                return;
            }
            _ = sender.closed() => {
                // The caller dropped the stream: nobody wants the output, so stop the command
                // rather than let it run on unseen.
                stop_marked(&engine, &container, &marker, &mut output).await;
                return;
            }
            item = output.next() => match item {
                Some(Ok(chunk)) => {
                    if let Some(chunk) = Output::from_log(chunk) {
                        if sender.send(Ok(ExecEvent::Output(chunk))).await.is_err() {
                            stop_marked(&engine, &container, &marker, &mut output).await;
                            return;
                        }
                    }
                }
                Some(Err(error)) => {
                    let _ = sender.send(Err(error.into())).await;
                    return;
                }
                None => break,
            },
        }
    }

    let _ = sender
        .send(exit_code(&engine, &exec_id).await.map(ExecEvent::Exit))
        .await;
}

/// The exit code of an exec whose output has ended. The output closes when the process exits, but
/// the engine may record the exit code a moment later, so this polls briefly until inspect no
/// longer says "running".
pub(crate) async fn exit_code(engine: &Engine, exec_id: &str) -> Result<i64> {
    for _ in 0..100 {
        let inspect = engine.docker().inspect_exec(exec_id).await?;
        if inspect.running == Some(false) {
            return Ok(inspect.exit_code.unwrap_or(-1));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(Error::Stream {
        message: "the command's output ended but the engine still reports it running".to_string(),
    })
}

/// SIGKILLs every process in `container` whose environment carries `marker`.
pub(crate) async fn kill_marked(engine: &Engine, container: &str, marker: &str) {
    let script = format!(
        "for p in /proc/[0-9]*; do \
           if grep -q '{EXEC_MARKER_VAR}={marker}' \"$p/environ\" 2>/dev/null; then \
             kill -9 \"${{p#/proc/}}\" 2>/dev/null; \
           fi; \
         done; true"
    );
    let options = CreateExecOptions::<String> {
        cmd: Some(vec!["/bin/sh".to_string(), "-c".to_string(), script]),
        // Root, so that it may read environ of and signal processes run as another user.
        user: Some("0".to_string()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let Ok(created) = engine.docker().create_exec(container, options).await else {
        tracing::warn!(
            container,
            "could not create the exec that kills a cancelled command"
        );
        return;
    };
    // Run it attached and read to the end, so the kill has happened when we return.
    if let Ok(StartExecResults::Attached { mut output, .. }) =
        engine.docker().start_exec(&created.id, None).await
    {
        while output.next().await.is_some() {}
    }
}

/// Kills the marked processes until the output stream ends (which means every process holding
/// the exec's stdout or stderr is gone), in at most [`KILL_ROUNDS`] rounds.
async fn stop_marked<S>(engine: &Engine, container: &str, marker: &str, output: &mut S)
where
    S: Stream + Unpin,
{
    for _ in 0..KILL_ROUNDS {
        kill_marked(engine, container, marker).await;
        let drained = tokio::time::timeout(DRAIN_AFTER_KILL, async {
            while output.next().await.is_some() {}
        })
        .await;
        if drained.is_ok() {
            return;
        }
    }
    tracing::warn!(
        container,
        "a cancelled command is still running after {KILL_ROUNDS} kills"
    );
}
