//! The managed local registry: so that a newcomer's first run can push without setting anything
//! up, Slipway offers to run the reference registry (Debian's `docker-registry`) at
//! `127.0.0.1:5000` when nothing answers there.
//!
//! It listens on loopback only, keeps its data under `<data dir>/slipway/registry` and has deletes
//! enabled, so the registry browser can delete tags. The process is a child of the app and is killed
//! when the app exits or the user presses Stop.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

/// Where the managed registry listens unless `SLIPWAY_LOCAL_REGISTRY_ADDR` says otherwise (tests set
/// it so they never touch a real registry at port 5000).
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:5000";

/// Debian's packaged reference registry (distribution 2.x).
pub const DEBIAN_REGISTRY: &str = "/usr/bin/docker-registry";

pub fn default_address() -> String {
    std::env::var("SLIPWAY_LOCAL_REGISTRY_ADDR").unwrap_or_else(|_| DEFAULT_ADDRESS.to_string())
}

/// What the Engine view shows about the local registry.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct LocalRegistryStatus {
    pub address: String,
    /// Something answers `GET /v2/` at the address (ours or someone else's).
    pub answering: bool,
    /// The registry answering is the one Slipway started.
    pub managed: bool,
    pub running: bool,
    /// Slipway could start one here (a backend exists and nothing answers yet).
    pub available: bool,
    /// Which backend would run it, e.g. `/usr/bin/docker-registry`.
    pub backend: String,
    pub data_dir: String,
    /// What to install when no backend is available.
    pub hint: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LocalRegistryError {
    #[error("no registry program is installed: install Debian's docker-registry (sudo apt-get install docker-registry) or add a registry profile for an existing registry")]
    NoBackend,
    #[error("something else already answers at {0}; Slipway uses it instead of starting its own")]
    AddressInUse(String),
    #[error("could not find the user's data directory (is $HOME set?); set XDG_DATA_HOME")]
    NoDataDir,
    #[error("the local registry did not start: {0}")]
    StartFailed(String),
    #[error("could not prepare {path}: {source}; check its permissions")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl LocalRegistryError {
    pub fn code(&self) -> &'static str {
        match self {
            LocalRegistryError::NoBackend => "registry_backend_missing",
            LocalRegistryError::AddressInUse(_) => "address_in_use",
            LocalRegistryError::NoDataDir => "io",
            LocalRegistryError::StartFailed(_) => "registry_start_failed",
            LocalRegistryError::Io { .. } => "io",
        }
    }
}

impl From<LocalRegistryError> for crate::ErrorDto {
    fn from(e: LocalRegistryError) -> Self {
        crate::ErrorDto {
            code: e.code().to_string(),
            message: e.to_string(),
        }
    }
}

/// Whether a registry answers `GET /v2/` at `address` (host:port). Any HTTP answer counts: a
/// registry with auth answers 401, which still means "a registry is here".
pub async fn answers(address: &str) -> bool {
    let probe = async {
        let mut s = TcpStream::connect(address).await.ok()?;
        let req = format!("GET /v2/ HTTP/1.0\r\nHost: {address}\r\n\r\n");
        s.write_all(req.as_bytes()).await.ok()?;
        let mut buf = [0u8; 12];
        s.read_exact(&mut buf).await.ok()?;
        Some(buf.starts_with(b"HTTP/1."))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), probe).await,
        Ok(Some(true))
    )
}

/// The managed registry: at most one child process, shared by the app's commands.
pub struct LocalRegistry {
    address: String,
    data_dir: Option<PathBuf>,
    child: Mutex<Option<Child>>,
}

impl Default for LocalRegistry {
    fn default() -> Self {
        Self::new(
            default_address(),
            dirs::data_dir().map(|d| d.join("slipway").join("registry")),
        )
    }
}

impl LocalRegistry {
    pub fn new(address: String, data_dir: Option<PathBuf>) -> Self {
        LocalRegistry {
            address,
            data_dir,
            child: Mutex::new(None),
        }
    }

    fn backend() -> Option<PathBuf> {
        let p = PathBuf::from(DEBIAN_REGISTRY);
        p.is_file().then_some(p)
    }

    fn data_dir_display(&self) -> String {
        self.data_dir
            .as_ref()
            .map(|d| d.display().to_string())
            .unwrap_or_default()
    }

    /// Whether our child is still alive; reaps it when it has exited.
    async fn child_running(&self) -> bool {
        let mut guard = self.child.lock().await;
        match guard.as_mut().map(|c| c.try_wait()) {
            Some(Ok(None)) => true,
            Some(_) => {
                *guard = None;
                false
            }
            None => false,
        }
    }

    pub async fn status(&self) -> LocalRegistryStatus {
        let running = self.child_running().await;
        let answering = answers(&self.address).await;
        let backend = Self::backend();
        LocalRegistryStatus {
            address: self.address.clone(),
            answering,
            managed: running,
            running,
            available: !answering && backend.is_some() && self.data_dir.is_some(),
            backend: backend.map(|b| b.display().to_string()).unwrap_or_default(),
            data_dir: self.data_dir_display(),
            hint: Self::backend()
                .is_none()
                .then(|| LocalRegistryError::NoBackend.to_string()),
        }
    }

    /// Starts the registry and waits until it answers; returns the new status.
    pub async fn start(&self) -> Result<LocalRegistryStatus, LocalRegistryError> {
        if self.child_running().await {
            return Ok(self.status().await);
        }
        if answers(&self.address).await {
            return Err(LocalRegistryError::AddressInUse(self.address.clone()));
        }
        let program = Self::backend().ok_or(LocalRegistryError::NoBackend)?;
        let dir = self.data_dir.clone().ok_or(LocalRegistryError::NoDataDir)?;
        let io = |path: &PathBuf| {
            let path = path.clone();
            move |source| LocalRegistryError::Io { path, source }
        };
        let storage = dir.join("storage");
        std::fs::create_dir_all(&storage).map_err(io(&storage))?;
        let config = dir.join("config.yml");
        // The registry reads YAML; the values below are plain words and paths, so no quoting is
        // needed beyond what the path itself would need, which JSON string syntax (valid YAML) gives.
        let yaml = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {}\n",
            serde_json::to_string(&storage.display().to_string()).expect("a string serializes"),
            self.address
        );
        std::fs::write(&config, yaml).map_err(io(&config))?;
        let log_path = dir.join("registry.log");
        let log = std::fs::File::create(&log_path).map_err(io(&log_path))?;
        let log_err = log.try_clone().map_err(io(&log_path))?;
        let mut child = Command::new(&program)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            // The registry must not outlive the app that manages it.
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| LocalRegistryError::StartFailed(format!("{}: {e}", program.display())))?;
        for _ in 0..100 {
            if answers(&self.address).await {
                *self.child.lock().await = Some(child);
                return Ok(self.status().await);
            }
            if let Ok(Some(exit)) = child.try_wait() {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                let tail: String = log.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
                return Err(LocalRegistryError::StartFailed(format!(
                    "it exited with {exit}; its log ({}) ends with: {tail}",
                    log_path.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill().await;
        Err(LocalRegistryError::StartFailed(format!(
            "it did not answer at {} within 10 s; see {}",
            self.address,
            log_path.display()
        )))
    }

    /// Stops the registry Slipway started; the data stays for the next start.
    pub async fn stop(&self) -> LocalRegistryStatus {
        if let Some(mut child) = self.child.lock().await.take() {
            let _ = child.kill().await;
        }
        self.status().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn free_address() -> String {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    }

    #[tokio::test]
    async fn issue_4_managed_registry_starts_answers_and_stops() {
        if LocalRegistry::backend().is_none() {
            eprintln!("skipped: {DEBIAN_REGISTRY} is not installed");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let reg = LocalRegistry::new(free_address(), Some(dir.path().join("registry")));
        let before = reg.status().await;
        assert!(before.available && !before.answering);
        let running = reg.start().await.unwrap();
        assert!(running.running && running.answering && running.managed);
        assert!(dir.path().join("registry/config.yml").is_file());
        let stopped = reg.stop().await;
        assert!(!stopped.running);
    }

    #[tokio::test]
    async fn issue_4_someone_elses_registry_is_used_not_replaced() {
        // Anything that answers HTTP at the address counts as a registry already there.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 256];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
                    .await;
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let reg = LocalRegistry::new(address.clone(), Some(dir.path().join("registry")));
        let st = reg.status().await;
        assert!(st.answering && !st.managed && !st.available, "{st:?}");
        let err = reg.start().await.unwrap_err();
        assert_eq!(err.code(), "address_in_use");
        assert!(err.to_string().contains(&address));
    }
}
