//! Container use cases: list, run (a one-off command or a workshop), stop, remove, wait, logs.

use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use slipway_engine::containers::{ContainerSpec, Output};
use ts_rs::TS;

use crate::error::{Hint, CONTAINER_HINT, IMAGE_HINT};
use crate::names::check_reference;
use crate::{Error, Result, Slipway};

/// One container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ContainerDto {
    /// Full id.
    pub id: String,
    /// First 12 hex digits.
    pub short_id: String,
    /// Its name.
    pub name: String,
    /// The image as named at creation.
    pub image: String,
    /// The command line.
    pub command: String,
    /// `created`, `running`, `exited`, ...
    pub state: String,
    /// "Up 3 minutes", ...
    pub status: String,
    /// Seconds since the Unix epoch.
    pub created: i64,
    /// True for Slipway workshop containers.
    pub workshop: bool,
}

/// What to run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRequest {
    /// The image, reference or id.
    pub image: String,
    /// The container name; generated when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// The command; the image's CMD when absent.
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    /// `KEY=value`.
    #[serde(default)]
    pub env: Vec<String>,
    /// Allocate a terminal.
    #[serde(default)]
    pub tty: bool,
}

/// A chunk of output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "stream", content = "text", rename_all = "snake_case")]
pub enum OutputChunk {
    /// Stdout (or the terminal).
    Stdout(String),
    /// Stderr.
    Stderr(String),
}

impl OutputChunk {
    pub(crate) fn from_engine(output: Output) -> OutputChunk {
        match output {
            Output::Stdout(bytes) => OutputChunk::Stdout(String::from_utf8_lossy(&bytes).into()),
            Output::Stderr(bytes) => OutputChunk::Stderr(String::from_utf8_lossy(&bytes).into()),
        }
    }
}

/// The result of running a container to completion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOutcome {
    /// The container's id (already removed when `remove` was asked).
    pub container_id: String,
    /// The main process's exit code.
    pub exit_code: i64,
    /// Everything it wrote to stdout.
    pub stdout: String,
    /// Everything it wrote to stderr.
    pub stderr: String,
}

fn check_container_name(name: &str) -> Result<()> {
    // The engine's rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+ ; checked here so the message says which.
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if name.len() < 2 || !first_ok || !rest_ok {
        return Err(Error::InvalidInput(format!(
            "container name `{name}` is invalid: it must be at least 2 characters, start with a \
             letter or digit and use only letters, digits, `_`, `.` and `-`"
        )));
    }
    Ok(())
}

impl Slipway {
    /// Every container, stopped ones included, newest first.
    pub async fn containers(&self) -> Result<Vec<ContainerDto>> {
        let logs = self.logs_store();
        let mut list: Vec<ContainerDto> = self
            .engine()
            .list_containers()
            .await?
            .into_iter()
            .map(|c| ContainerDto {
                short_id: c.id.chars().take(12).collect(),
                name: c.names.first().cloned().unwrap_or_default(),
                workshop: logs.exists(&c.id),
                id: c.id,
                image: c.image,
                command: c.command,
                state: c.state,
                status: c.status,
                created: c.created,
            })
            .collect();
        list.sort_by_key(|c| std::cmp::Reverse(c.created));
        Ok(list)
    }

    /// The workshops that still run, newest first: the ones a window opened after a restart can
    /// reattach to. A container counts as a workshop when this data directory holds its log,
    /// the same rule `containers` applies.
    pub async fn running_workshops(&self) -> Result<Vec<ContainerDto>> {
        let mut list = self.containers().await?;
        list.retain(|c| c.workshop && c.state == "running");
        Ok(list)
    }

    /// The container with this id or name.
    pub async fn container(&self, container: &str) -> Result<ContainerDto> {
        let state = self
            .engine()
            .inspect_container(container)
            .await
            .hint(CONTAINER_HINT)?;
        self.containers()
            .await?
            .into_iter()
            .find(|c| c.id == state.id)
            .ok_or_else(|| Error::NotFound(format!("No such container: {container}")))
    }

    /// Creates and starts a container; returns its id without waiting for it.
    pub async fn start(&self, request: &RunRequest) -> Result<String> {
        self.create_and_start(request, None, false).await
    }

    /// Creates and starts the container `request` describes; `entrypoint` replaces the image's.
    async fn create_and_start(
        &self,
        request: &RunRequest,
        entrypoint: Option<Vec<String>>,
        open_stdin: bool,
    ) -> Result<String> {
        check_reference(&request.image)?;
        if let Some(name) = &request.name {
            check_container_name(name)?;
        }
        let spec = ContainerSpec {
            image: request.image.clone(),
            name: request.name.clone(),
            cmd: request.cmd.clone(),
            env: request.env.clone(),
            tty: request.tty,
            open_stdin,
            entrypoint,
            ..ContainerSpec::default()
        };
        let id = self
            .engine()
            .create_container(&spec)
            .await
            .hint(IMAGE_HINT)?;
        if let Err(error) = self.engine().start_container(&id).await {
            // A container that cannot start is of no use; do not leave it behind.
            let _ = self.engine().remove_container(&id, true).await;
            return Err(error.into());
        }
        Ok(id)
    }

    /// Runs a container to completion and collects its output; removes it afterwards when
    /// `remove` is set.
    pub async fn run(&self, request: &RunRequest, remove: bool) -> Result<RunOutcome> {
        let id = self.create_and_start(request, None, false).await?;
        let exit_code = self.engine().wait_container(&id).await;
        let (mut stdout, mut stderr) = (String::new(), String::new());
        let mut logs = Box::pin(self.engine().container_logs(&id, false));
        while let Some(chunk) = logs.next().await {
            match chunk.map(OutputChunk::from_engine) {
                Ok(OutputChunk::Stdout(text)) => stdout.push_str(&text),
                Ok(OutputChunk::Stderr(text)) => stderr.push_str(&text),
                Err(_) => break,
            }
        }
        if remove {
            self.engine().remove_container(&id, true).await?;
        }
        Ok(RunOutcome {
            container_id: id,
            exit_code: exit_code?,
            stdout,
            stderr,
        })
    }

    /// Starts a workshop: a container from `image` that stays up (a shell waiting on an open
    /// stdin) so that commands can be run in it one by one, with a fresh workshop log.
    pub async fn run_workshop(&self, image: &str, name: Option<&str>) -> Result<ContainerDto> {
        check_reference(image)?;
        let shell = vec!["/bin/sh".to_string()];
        // The engine's commit takes an empty CMD from the container. A base that starts nothing
        // (no CMD, no ENTRYPOINT) therefore gets the keep-alive shell as its entrypoint, with an
        // empty CMD, so that a commit can keep "nothing" (see `commit`) instead of the shell.
        let base = self.engine().inspect_image(image).await.hint(IMAGE_HINT)?;
        let (entrypoint, cmd) = if starts_nothing(&base.config) {
            (Some(shell), Some(Vec::new()))
        } else {
            (None, Some(shell))
        };
        let request = RunRequest {
            image: image.to_string(),
            name: name.map(str::to_string),
            cmd,
            env: Vec::new(),
            tty: true,
        };
        // No marker label: the workshop is known by its log (see `LogStore::exists`).
        let id = self.create_and_start(&request, entrypoint, true).await?;
        self.logs_store().start(&id, image)?;
        self.container(&id).await
    }

    /// Stops a container (SIGTERM, then SIGKILL after `timeout_secs`).
    pub async fn stop(&self, container: &str, timeout_secs: i32) -> Result<()> {
        self.engine()
            .stop_container(container, timeout_secs)
            .await
            .hint(CONTAINER_HINT)
    }

    /// The full id of a container named by id or name. Workshop logs are kept by id, so a
    /// container renamed or named differently still finds its log.
    pub(crate) async fn container_id(&self, container: &str) -> Result<String> {
        Ok(self
            .engine()
            .inspect_container(container)
            .await
            .hint(CONTAINER_HINT)?
            .id)
    }

    /// Removes a container (killing it first when `force`) and forgets its workshop log.
    pub async fn remove_container(&self, container: &str, force: bool) -> Result<()> {
        let id = self.container_id(container).await?;
        self.engine().remove_container(&id, force).await?;
        self.logs_store().remove(&id)
    }

    /// Waits for a container to exit; returns its exit code.
    pub async fn wait(&self, container: &str) -> Result<i64> {
        self.engine()
            .wait_container(container)
            .await
            .hint(CONTAINER_HINT)
    }

    /// A container's output; with `follow` it lasts until the container exits.
    pub fn logs(
        &self,
        container: &str,
        follow: bool,
    ) -> impl Stream<Item = Result<OutputChunk>> + Send + 'static {
        self.engine()
            .container_logs(container, follow)
            .map(|chunk| Ok(OutputChunk::from_engine(chunk?)))
    }
}

/// Whether an image starts nothing of its own: no CMD and no ENTRYPOINT (a `docker import`ed
/// root filesystem, say), so that `docker run` needs a command.
pub(crate) fn starts_nothing(config: &slipway_engine::images::ImageConfig) -> bool {
    config.cmd.as_ref().is_none_or(Vec::is_empty)
        && config.entrypoint.as_ref().is_none_or(Vec::is_empty)
}
