//! A terminal in a running container: an exec with a TTY and an open stdin, as `docker exec -it`
//! makes, whose output arrives as raw bytes, whose input is written as typed, whose size follows
//! the window, and which is killed when it is closed.
//!
//! The engine API has no "kill exec" call, so a terminal is marked like every exec (see
//! [`crate::exec`]): `SLIPWAY_EXEC_ID=<token>` in its environment, and closing it SIGKILLs every
//! process that carries the token. That ends the shell and whatever it was running, the TTY
//! closes, and with it the output stream.
//!
//! It works the same on Docker and on Podman's Docker-compatible socket: both hijack the
//! connection of `POST /exec/{id}/start` for the raw TTY stream and accept
//! `POST /exec/{id}/resize` while the exec runs.

use std::pin::Pin;
use std::time::Duration;

use bollard::exec::{CreateExecOptions, ResizeExecOptions, StartExecOptions, StartExecResults};
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::exec::{exit_code, kill_marked, new_marker, EXEC_MARKER_VAR};
use crate::{Engine, Error, Result};

/// What the terminal says it is, so that programs use colours, cursor moves and line editing.
pub const TERM: &str = "xterm-256color";

/// The size of a terminal in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminalSize {
    pub rows: u16,
    pub cols: u16,
}

impl Default for TerminalSize {
    fn default() -> Self {
        TerminalSize { rows: 24, cols: 80 }
    }
}

/// What to run in the terminal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TerminalSpec {
    /// The argv, usually a shell.
    pub cmd: Vec<String>,
    /// Extra environment, `KEY=value`; `TERM` is set to [`TERM`] unless given here.
    pub env: Vec<String>,
    /// The working directory; the container's when `None`.
    pub working_dir: Option<String>,
    /// The user; the container's when `None`.
    pub user: Option<String>,
    /// The size to start with.
    pub size: TerminalSize,
}

/// An open terminal, in three parts that can live in different tasks: the control (resize,
/// kill, exit code), the input writer and the output stream.
pub struct Terminal {
    pub control: TerminalControl,
    pub input: TerminalInput,
    /// The TTY's bytes as the engine sends them; it ends when every process holding the TTY has
    /// exited, and an `Err` item means the connection to the engine broke.
    pub output: BoxStream<'static, Result<Bytes>>,
}

/// Resizes, kills and reads the exit code of one terminal; cheap to clone.
#[derive(Debug, Clone)]
pub struct TerminalControl {
    engine: Engine,
    container: String,
    exec_id: String,
    marker: String,
}

/// Where the keys typed go: the exec's stdin.
pub struct TerminalInput {
    writer: Pin<Box<dyn AsyncWrite + Send>>,
}

impl Engine {
    /// Starts `spec` in the running `container` with a TTY and an attached stdin.
    pub async fn open_terminal(&self, container: &str, spec: TerminalSpec) -> Result<Terminal> {
        let marker = new_marker();
        let mut env = vec![format!("TERM={TERM}")];
        env.extend(spec.env.iter().cloned());
        env.push(format!("{EXEC_MARKER_VAR}={marker}"));
        let options = CreateExecOptions::<String> {
            cmd: Some(spec.cmd.clone()),
            env: Some(env),
            working_dir: spec.working_dir.clone(),
            user: spec.user.clone(),
            tty: Some(true),
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let exec_id = self.docker().create_exec(container, options).await?.id;
        let start = StartExecOptions {
            detach: false,
            tty: true,
            output_capacity: None,
        };
        let (output, writer) = match self.docker().start_exec(&exec_id, Some(start)).await? {
            StartExecResults::Attached { output, input } => (output, input),
            StartExecResults::Detached => {
                return Err(Error::Stream {
                    message: "the engine started the terminal detached".to_string(),
                })
            }
        };
        let control = TerminalControl {
            engine: self.clone(),
            container: container.to_string(),
            exec_id,
            marker,
        };
        control.first_resize(spec.size).await;
        let output = output
            .map(|item| match item {
                Ok(chunk) => Ok(chunk.into_bytes()),
                Err(error) => Err(Error::from(error)),
            })
            .boxed();
        Ok(Terminal {
            control,
            input: TerminalInput { writer },
            output,
        })
    }
}

impl TerminalControl {
    /// Tells the TTY its new size; the shell and full-screen programs get SIGWINCH.
    pub async fn resize(&self, size: TerminalSize) -> Result<()> {
        if size.rows == 0 || size.cols == 0 {
            return Err(Error::InvalidInput(format!(
                "a terminal needs at least one row and one column, not {}x{}",
                size.cols, size.rows
            )));
        }
        let options = ResizeExecOptions {
            height: size.rows,
            width: size.cols,
        };
        Ok(self
            .engine
            .docker()
            .resize_exec(&self.exec_id, options)
            .await?)
    }

    /// The first size, right after the start. The engine refuses a resize until the exec's
    /// process runs, which may take a moment after the start answered, so this retries briefly;
    /// a terminal that keeps its default size is still usable, so a last failure is only logged.
    async fn first_resize(&self, size: TerminalSize) {
        for attempt in 0..10 {
            match self.resize(size).await {
                Ok(()) => return,
                Err(error) if attempt == 9 => {
                    tracing::warn!(%error, "could not size a new terminal");
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    /// Kills the shell and everything it started. The output stream ends once they are gone.
    pub async fn kill(&self) {
        kill_marked(&self.engine, &self.container, &self.marker).await;
    }

    /// The shell's exit code, once its output has ended.
    pub async fn exit_code(&self) -> Result<i64> {
        exit_code(&self.engine, &self.exec_id).await
    }
}

impl TerminalInput {
    /// Writes typed bytes to the terminal, at once.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let broken = |error: std::io::Error| Error::Stream {
            message: format!("the terminal's input connection broke: {error}"),
        };
        self.writer.write_all(bytes).await.map_err(broken)?;
        self.writer.flush().await.map_err(broken)
    }
}
