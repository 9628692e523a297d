//! Containers: list (all states), create from an image, start, stop, remove, wait, logs.

use std::collections::HashMap;
use std::path::PathBuf;

use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::{Engine, Error, Result};

/// One container as `docker ps -a` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSummary {
    /// The full container id.
    pub id: String,
    /// Names without the leading slash the engine puts on them.
    pub names: Vec<String>,
    /// The image as the user named it when creating the container.
    pub image: String,
    /// The image id.
    pub image_id: String,
    /// The command line, as the engine prints it.
    pub command: String,
    /// Creation time, seconds since the Unix epoch.
    pub created: i64,
    /// `created`, `running`, `paused`, `restarting`, `exited`, `removing` or `dead`.
    pub state: String,
    /// The human status, e.g. "Up 3 minutes" or "Exited (0) 2 hours ago".
    pub status: String,
    /// The container's labels.
    pub labels: HashMap<String, String>,
}

/// What to create a container with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerSpec {
    /// The image, name:tag or id.
    pub image: String,
    /// The container name; the engine picks one when `None`.
    pub name: Option<String>,
    /// The entrypoint; the image's ENTRYPOINT when `None`. A one-off run of an image's program
    /// with other arguments (a registry's `garbage-collect`) needs it, since `cmd` only replaces
    /// the arguments an entrypoint script is given.
    pub entrypoint: Option<Vec<String>>,
    /// The command; the image's CMD when `None`.
    pub cmd: Option<Vec<String>>,
    /// Extra environment, `KEY=value`.
    pub env: Vec<String>,
    /// The user to run as (`uid`, `uid:gid` or a name); the image's USER when `None`.
    pub user: Option<String>,
    /// Allocate a terminal.
    pub tty: bool,
    /// Keep stdin open, so that a shell as the main process does not exit at once.
    pub open_stdin: bool,
    /// Labels to put on the container.
    pub labels: HashMap<String, String>,
    /// TCP ports to publish on the host.
    pub ports: Vec<PublishedPort>,
    /// Host directories to mount into the container.
    pub mounts: Vec<BindMount>,
}

/// A container's TCP port published on the host, like `docker run -p HOST_IP:HOST_PORT:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedPort {
    /// The host address to listen on, e.g. `127.0.0.1` so that only this machine can connect.
    pub host_ip: String,
    /// The port on the host.
    pub host_port: u16,
    /// The TCP port inside the container.
    pub container_port: u16,
}

/// A host directory mounted into the container, like `docker run --mount type=bind,...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    /// The absolute path on the host; it must exist (the engine does not create it for a mount).
    pub host_path: PathBuf,
    /// The absolute path inside the container.
    pub container_path: String,
    /// Mount it read-only.
    pub read_only: bool,
}

/// The state of one container, from inspect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    /// The full container id.
    pub id: String,
    /// The name without the leading slash.
    pub name: String,
    /// The image id the container was created from.
    pub image_id: String,
    /// True while the main process runs.
    pub running: bool,
    /// The main process's exit code, once it has exited.
    pub exit_code: Option<i64>,
    /// The container's labels.
    pub labels: HashMap<String, String>,
}

/// One chunk of a container's or an exec's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Bytes written to stdout (or to the terminal, when a TTY is attached).
    Stdout(Bytes),
    /// Bytes written to stderr.
    Stderr(Bytes),
}

impl Output {
    pub(crate) fn from_log(output: LogOutput) -> Option<Output> {
        match output {
            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                Some(Output::Stdout(message))
            }
            LogOutput::StdErr { message } => Some(Output::Stderr(message)),
            LogOutput::StdIn { .. } => None,
        }
    }
}

/// The host side of a spec: published ports and mounts. Mounts use the structured `Mounts` field
/// rather than `Binds` strings, because a `host:container` string cannot carry a path that
/// contains a colon.
fn host_config(spec: &ContainerSpec) -> HostConfig {
    let mut port_bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for port in &spec.ports {
        port_bindings
            .entry(format!("{}/tcp", port.container_port))
            .or_default()
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(port.host_ip.clone()),
                host_port: Some(port.host_port.to_string()),
            });
    }
    let mounts: Vec<Mount> = spec
        .mounts
        .iter()
        .map(|mount| Mount {
            target: Some(mount.container_path.clone()),
            source: Some(mount.host_path.display().to_string()),
            typ: Some(MountType::BIND),
            read_only: Some(mount.read_only),
            ..Default::default()
        })
        .collect();
    HostConfig {
        port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
        mounts: (!mounts.is_empty()).then_some(mounts),
        ..Default::default()
    }
}

impl Engine {
    /// Lists every container, stopped ones included.
    pub async fn list_containers(&self) -> Result<Vec<ContainerSummary>> {
        let options = ListContainersOptionsBuilder::default().all(true).build();
        let containers = self.docker().list_containers(Some(options)).await?;
        Ok(containers
            .into_iter()
            .map(|container| ContainerSummary {
                id: container.id.unwrap_or_default(),
                names: container
                    .names
                    .unwrap_or_default()
                    .into_iter()
                    .map(|name| name.trim_start_matches('/').to_string())
                    .collect(),
                image: container.image.unwrap_or_default(),
                image_id: container.image_id.unwrap_or_default(),
                command: container.command.unwrap_or_default(),
                created: container.created.unwrap_or_default(),
                state: container
                    .state
                    .map(|state| state.to_string())
                    .unwrap_or_default(),
                status: container.status.unwrap_or_default(),
                labels: container.labels.unwrap_or_default(),
            })
            .collect())
    }

    /// Creates (but does not start) a container; returns its id.
    pub async fn create_container(&self, spec: &ContainerSpec) -> Result<String> {
        let mut options = CreateContainerOptionsBuilder::default();
        if let Some(name) = &spec.name {
            options = options.name(name);
        }
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            entrypoint: spec.entrypoint.clone(),
            cmd: spec.cmd.clone(),
            env: (!spec.env.is_empty()).then(|| spec.env.clone()),
            user: spec.user.clone(),
            tty: Some(spec.tty),
            open_stdin: Some(spec.open_stdin),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            labels: (!spec.labels.is_empty()).then(|| spec.labels.clone()),
            exposed_ports: (!spec.ports.is_empty()).then(|| {
                spec.ports
                    .iter()
                    .map(|port| format!("{}/tcp", port.container_port))
                    .collect()
            }),
            host_config: Some(host_config(spec)),
            ..Default::default()
        };
        let created = self
            .docker()
            .create_container(Some(options.build()), body)
            .await?;
        Ok(created.id)
    }

    /// Starts a created or stopped container.
    pub async fn start_container(&self, container: &str) -> Result<()> {
        self.docker()
            .start_container(
                container,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await?;
        Ok(())
    }

    /// Stops a container: SIGTERM, then SIGKILL after `timeout_secs`.
    pub async fn stop_container(&self, container: &str, timeout_secs: i32) -> Result<()> {
        let options = StopContainerOptionsBuilder::default()
            .t(timeout_secs)
            .build();
        match self.docker().stop_container(container, Some(options)).await {
            // 304 "not modified": it was already stopped, which is what the caller wanted.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            other => Ok(other?),
        }
    }

    /// Removes a container; `force` kills it first if it runs.
    pub async fn remove_container(&self, container: &str, force: bool) -> Result<()> {
        let options = RemoveContainerOptionsBuilder::default()
            .force(force)
            .build();
        self.docker()
            .remove_container(container, Some(options))
            .await?;
        Ok(())
    }

    /// Inspects a container's state.
    pub async fn inspect_container(&self, container: &str) -> Result<ContainerState> {
        let inspect = self.docker().inspect_container(container, None).await?;
        let state = inspect.state.unwrap_or_default();
        Ok(ContainerState {
            id: inspect.id.unwrap_or_default(),
            name: inspect
                .name
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            image_id: inspect.image.unwrap_or_default(),
            running: state.running.unwrap_or(false),
            exit_code: if state.running.unwrap_or(false) {
                None
            } else {
                state.exit_code
            },
            labels: inspect
                .config
                .and_then(|config| config.labels)
                .unwrap_or_default(),
        })
    }

    /// Waits for a container's main process to exit and returns its exit code.
    pub async fn wait_container(&self, container: &str) -> Result<i64> {
        let options = WaitContainerOptionsBuilder::default()
            .condition("not-running")
            .build();
        let mut waits = self.docker().wait_container(container, Some(options));
        match waits.next().await {
            Some(Ok(response)) => Ok(response.status_code),
            // bollard reports a non-zero exit as an error; it is a normal outcome for us.
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(error)) => Err(error.into()),
            None => Err(Error::Stream {
                message: format!("the engine closed the wait on {container} without a status"),
            }),
        }
    }

    /// Streams a container's output; with `follow` the stream stays open until it exits.
    pub fn container_logs(
        &self,
        container: &str,
        follow: bool,
    ) -> impl Stream<Item = Result<Output>> + Send + 'static {
        let options = LogsOptionsBuilder::default()
            .follow(follow)
            .stdout(true)
            .stderr(true)
            .build();
        self.docker()
            .logs(container, Some(options))
            .filter_map(|item| async move {
                match item {
                    Ok(output) => Output::from_log(output).map(Ok),
                    Err(error) => Some(Err(Error::from(error))),
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_mounts_map_to_the_host_config() {
        let spec = ContainerSpec {
            image: "registry:2".to_string(),
            ports: vec![PublishedPort {
                host_ip: "127.0.0.1".to_string(),
                host_port: 5001,
                container_port: 5000,
            }],
            mounts: vec![BindMount {
                host_path: PathBuf::from("/home/ada/data:with-colon"),
                container_path: "/var/lib/registry".to_string(),
                read_only: false,
            }],
            ..ContainerSpec::default()
        };
        let host = host_config(&spec);
        let bindings = host.port_bindings.expect("port bindings");
        assert_eq!(
            bindings["5000/tcp"],
            Some(vec![PortBinding {
                host_ip: Some("127.0.0.1".to_string()),
                host_port: Some("5001".to_string()),
            }])
        );
        let mounts = host.mounts.expect("mounts");
        assert_eq!(mounts.len(), 1);
        assert_eq!(mounts[0].typ, Some(MountType::BIND));
        assert_eq!(
            mounts[0].source.as_deref(),
            Some("/home/ada/data:with-colon")
        );
        assert_eq!(mounts[0].target.as_deref(), Some("/var/lib/registry"));
        // Nothing asked for, nothing sent: the engine's defaults apply.
        let plain = host_config(&ContainerSpec::default());
        assert!(plain.port_bindings.is_none() && plain.mounts.is_none());
        assert!(plain.restart_policy.is_none());
    }
}
