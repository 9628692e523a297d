//! The engine itself: which product it is, its version and platform.

use crate::{Engine, Result};

/// Which product answers on the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    /// Docker Engine (moby).
    Docker,
    /// Podman's Docker-compatible API service.
    Podman,
}

impl std::fmt::Display for EngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EngineKind::Docker => "Docker",
            EngineKind::Podman => "Podman",
        })
    }
}

/// What `/version` tells us about the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineInfo {
    /// Docker or Podman.
    pub kind: EngineKind,
    /// The product version, e.g. `20.10.24+dfsg1`.
    pub version: String,
    /// The API version both sides now speak, e.g. `1.41`.
    pub api_version: String,
    /// The engine's operating system, e.g. `linux`.
    pub os: String,
    /// The engine's CPU architecture, e.g. `amd64`.
    pub arch: String,
    /// Where we reached it.
    pub endpoint: String,
}

/// Where a Docker engine keeps its images, which decides what its export and push cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageStore {
    /// The classic graph drivers (overlay2, ...): layers are kept unpacked, and an export or a
    /// push assembles and (for a push) compresses each layer again.
    Classic,
    /// containerd's content store (`containerd-snapshotter`, the default for new installs from
    /// Docker 29): layers are kept as the compressed blobs a registry holds.
    Containerd,
}

impl Engine {
    /// Which image store the engine uses; Podman and older engines answer [`ImageStore::Classic`].
    pub async fn image_store(&self) -> Result<ImageStore> {
        let info = self.docker().info().await?;
        let containerd = info
            .driver_status
            .iter()
            .flatten()
            .any(|pair| pair.iter().any(|v| v == "io.containerd.snapshotter.v1"));
        Ok(if containerd {
            ImageStore::Containerd
        } else {
            ImageStore::Classic
        })
    }

    /// Asks the engine who it is.
    pub async fn info(&self) -> Result<EngineInfo> {
        let version = self.docker().version().await?;
        Ok(EngineInfo {
            kind: kind_of(&version),
            version: version.version.unwrap_or_default(),
            api_version: self.docker().client_version().to_string(),
            os: version.os.unwrap_or_default(),
            arch: version.arch.unwrap_or_default(),
            endpoint: self.endpoint.clone(),
        })
    }
}

/// Which product a `/version` answer comes from. Podman lists a component named "Podman Engine"
/// and puts "Podman" in the platform name; Docker names its component "Engine".
pub(crate) fn kind_of(version: &bollard::models::SystemVersion) -> EngineKind {
    let is_podman = version
        .components
        .iter()
        .flatten()
        .any(|component| component.name.contains("Podman"))
        || version
            .platform
            .as_ref()
            .is_some_and(|platform| platform.name.contains("Podman"));
    if is_podman {
        EngineKind::Podman
    } else {
        EngineKind::Docker
    }
}
