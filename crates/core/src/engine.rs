//! The connection to the container engine and its status.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use slipway_engine::Engine;
use ts_rs::TS;

use crate::workshop_log::{default_data_dir, LogStore};
use crate::Result;

/// How to connect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectOptions {
    /// A `DOCKER_HOST` value (`unix:///path` or `tcp://host:port`); `None` reads the environment
    /// and falls back to Docker's and Podman's default sockets.
    pub docker_host: Option<String>,
    /// Where workshop logs live; `None` means `SLIPWAY_DATA_DIR` or `<user data dir>/slipway`.
    pub data_dir: Option<PathBuf>,
}

/// What the status bar shows about the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct EngineStatus {
    /// `Docker` or `Podman`.
    pub name: String,
    /// The engine's version.
    pub version: String,
    /// The negotiated API version.
    pub api_version: String,
    /// `linux`, ...
    pub os: String,
    /// `amd64`, ...
    pub arch: String,
    /// Where it answered, e.g. `unix:///var/run/docker.sock`.
    pub endpoint: String,
}

/// A connected engine plus Slipway's data directory: the handle every engine use case hangs off.
#[derive(Debug, Clone)]
pub struct Slipway {
    engine: Engine,
    logs: LogStore,
    data_dir: PathBuf,
}

impl Slipway {
    /// Connects with the defaults: `DOCKER_HOST`, then the default sockets; logs in the default
    /// data dir.
    pub async fn connect() -> Result<Slipway> {
        Self::connect_with(ConnectOptions::default()).await
    }

    /// Connects as `options` say.
    pub async fn connect_with(options: ConnectOptions) -> Result<Slipway> {
        let engine = match options.docker_host {
            Some(host) => Engine::connect_with_host(Some(&host)).await?,
            None => Engine::connect().await?,
        };
        let data_dir = match options.data_dir {
            Some(dir) => dir,
            None => default_data_dir()?,
        };
        Ok(Slipway {
            engine,
            logs: LogStore::new(&data_dir),
            data_dir,
        })
    }

    /// The engine adapter, for use cases in other modules (e.g. pushing an exported image).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Slipway's data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    pub(crate) fn logs_store(&self) -> &LogStore {
        &self.logs
    }

    /// Which engine answered, its version and platform.
    pub async fn status(&self) -> Result<EngineStatus> {
        let info = self.engine.info().await?;
        Ok(EngineStatus {
            name: info.kind.to_string(),
            version: info.version,
            api_version: info.api_version,
            os: info.os,
            arch: info.arch,
            endpoint: info.endpoint,
        })
    }
}
