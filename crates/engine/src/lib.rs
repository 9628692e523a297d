//! slipway-engine: the local container engine (Docker, or Podman's Docker-compatible socket) seen
//! through bollard, mapped to Slipway's own types.
//!
//! This crate never speaks HTTP to a registry: pulls go through the engine, pushes through
//! `slipway-oci`. It is deliberately thin: one module per engine resource, each mapping bollard's
//! models to plain structs and forwarding streams, with every in-band stream error turned into an
//! `Err` so that a failed pull can never look like a finished one.

pub mod archive;
pub mod build;
pub mod changes;
pub mod commit;
pub mod containers;
mod error;
pub mod exec;
pub mod export;
pub mod images;
pub mod libpod;
pub mod load;
pub mod push;
mod raw;
pub mod system;
pub mod terminal;

pub use error::{Attempt, Error, Result};

use bollard::{ClientVersion, Docker, API_DEFAULT_VERSION};
use system::EngineKind;

/// How long the engine may take to start answering one request, in seconds. bollard applies it
/// until the response headers arrive, not to the body, so long streams (pull, exec, logs) are not
/// cut; but a commit or an image removal answers only when done, which for a multi-gigabyte
/// container takes minutes, so the limit is generous. Callers that want to give up sooner drop
/// the future.
const REQUEST_TIMEOUT_SECS: u64 = 3600;

/// How long we wait for a candidate endpoint to answer before moving to the next one.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A connection to a container engine whose API version has been negotiated.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
    endpoint: String,
    kind: EngineKind,
}

impl Engine {
    /// Connects the way the docker CLI does: `DOCKER_HOST` if it is set, otherwise Docker's default
    /// socket, then Podman's Docker-compatible sockets.
    pub async fn connect() -> Result<Engine> {
        let docker_host = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|value| !value.is_empty());
        Self::connect_with_host(docker_host.as_deref()).await
    }

    /// Connects with an explicit `DOCKER_HOST` value (`None` means unset), so tests and callers
    /// never need to mutate the process environment.
    ///
    /// When a host is given it is the only endpoint tried: silently falling back to another engine
    /// than the one the user named would make images appear in the wrong place.
    pub async fn connect_with_host(docker_host: Option<&str>) -> Result<Engine> {
        let mut attempts = Vec::new();
        for (endpoint, source) in candidates(docker_host) {
            match probe(&endpoint).await {
                Ok((docker, kind)) => {
                    return Ok(Engine {
                        docker,
                        endpoint,
                        kind,
                    })
                }
                Err(reason) => attempts.push(Attempt {
                    endpoint,
                    source,
                    reason,
                }),
            }
        }
        Err(Error::Unreachable { attempts })
    }

    /// The endpoint this engine answered on, e.g. `unix:///var/run/docker.sock`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Docker or Podman, as the engine said when it was connected.
    pub fn kind(&self) -> EngineKind {
        self.kind
    }

    /// The underlying bollard client, for the modules of this crate.
    pub(crate) fn docker(&self) -> &Docker {
        &self.docker
    }
}

/// The endpoints to try, in order, each with a human description of where it came from.
fn candidates(docker_host: Option<&str>) -> Vec<(String, String)> {
    if let Some(host) = docker_host {
        return vec![(
            host.to_string(),
            "DOCKER_HOST; no other place is tried while it is set".to_string(),
        )];
    }
    let mut list = vec![(
        "unix:///var/run/docker.sock".to_string(),
        "Docker's default socket".to_string(),
    )];
    if let Some(runtime_dir) = std::env::var_os("XDG_RUNTIME_DIR") {
        let path = std::path::Path::new(&runtime_dir).join("podman/podman.sock");
        list.push((
            format!("unix://{}", path.display()),
            "Podman's rootless socket in $XDG_RUNTIME_DIR".to_string(),
        ));
    }
    list.push((
        "unix:///run/podman/podman.sock".to_string(),
        "Podman's rootful socket".to_string(),
    ));
    list
}

/// Builds a client for one endpoint and negotiates the API version with it; also says which
/// product answers.
///
/// Negotiation is mandatory: bollard defaults to a newer API than older engines (Docker 20.10
/// speaks 1.41) accept, and such an engine rejects every request with "client version is too new".
async fn probe(endpoint: &str) -> std::result::Result<(Docker, EngineKind), String> {
    let docker = if let Some(path) = endpoint.strip_prefix("unix://") {
        if !std::path::Path::new(path).exists() {
            return Err("no socket at this path".to_string());
        }
        if let Some((version, kind)) = ping(path).await {
            let docker = Docker::connect_with_unix(path, REQUEST_TIMEOUT_SECS, &version)
                .map_err(|error| error.to_string())?;
            return Ok((docker, kind));
        }
        Docker::connect_with_unix(path, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
    } else if endpoint.starts_with("tcp://") || endpoint.starts_with("http://") {
        Docker::connect_with_http(endpoint, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
    } else {
        return Err(
            "unsupported scheme; use unix:///path/to/socket or tcp://host:port".to_string(),
        );
    }
    .map_err(|error| error.to_string())?;
    let asked = async {
        let docker = docker.negotiate_version().await?;
        let version = docker.version().await?;
        Ok::<_, bollard::errors::Error>((docker, system::kind_of(&version)))
    };
    match tokio::time::timeout(PROBE_TIMEOUT, asked).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(error)) => Err(describe_probe_error(&error)),
        Err(_) => Err(format!(
            "no answer within {} seconds",
            PROBE_TIMEOUT.as_secs()
        )),
    }
}

/// The API version to speak and the product, from the headers of `GET /_ping` on a unix socket.
/// Asked instead of `/version` because Podman answers that in 0.7 to 0.9 s (it gathers facts
/// about the host) and `/_ping` in 10 ms, and every `slipway` command connects anew. `None` when
/// the ping says too little; the caller then asks the slow way, which also words the failure.
async fn ping(socket: &str) -> Option<(ClientVersion, EngineKind)> {
    let answer = tokio::time::timeout(PROBE_TIMEOUT, raw::request(socket, "GET", "/_ping", ""))
        .await
        .ok()?
        .ok()?;
    if answer.status != 200 {
        return None;
    }
    let (major, minor) = answer.header("api-version")?.split_once('.')?;
    let theirs = ClientVersion {
        major_version: major.parse().ok()?,
        minor_version: minor.parse().ok()?,
    };
    let version = if theirs < *API_DEFAULT_VERSION {
        theirs
    } else {
        *API_DEFAULT_VERSION
    };
    // Podman adds its own API version and names itself in `Server`; Docker does neither.
    let podman = answer.header("libpod-api-version").is_some()
        || answer
            .header("server")
            .is_some_and(|s| s.starts_with("Libpod"));
    let kind = if podman {
        EngineKind::Podman
    } else {
        EngineKind::Docker
    };
    Some((version, kind))
}

fn describe_probe_error(error: &bollard::errors::Error) -> String {
    let text = error.to_string();
    if text.contains("ermission denied") {
        "permission denied: your user may not use this socket (is it in the docker group?)"
            .to_string()
    } else if text.contains("onnection refused") {
        "connection refused: the engine is not running".to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_host_is_the_only_candidate_when_set() {
        let list = candidates(Some("tcp://10.0.0.1:2375"));
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].0, "tcp://10.0.0.1:2375");
    }

    #[test]
    fn default_candidates_end_with_podman() {
        let list = candidates(None);
        assert_eq!(list[0].0, "unix:///var/run/docker.sock");
        assert_eq!(list.last().unwrap().0, "unix:///run/podman/podman.sock");
    }
}
