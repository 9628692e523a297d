//! The managed local registry: so that a newcomer's first run can push without setting anything
//! up, Slipway offers to run the reference registry at `127.0.0.1:5000` when nothing answers there.
//!
//! Two backends run the same program (distribution 2.x): Debian's `docker-registry` binary when it
//! is installed, else the `registry:2` image through the engine when the engine already has it.
//! The image is never pulled: Slipway must not reach out to Docker Hub behind the user's back, and
//! the machines it targets may have no internet at all.
//!
//! Either way it listens on loopback only, keeps its data under `<data dir>/slipway/registry` and
//! has deletes enabled, so the registry browser can delete tags. The process is a child of the app
//! and is killed when the app exits or the user presses Stop; the container is stopped and removed
//! at the same moments (its data lives in the bind-mounted directory, not in the container).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::Serialize;
use slipway_engine::containers::{BindMount, ContainerSpec, Output, PublishedPort};
use slipway_engine::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;
use ts_rs::TS;

/// Where the managed registry listens unless `SLIPWAY_LOCAL_REGISTRY_ADDR` says otherwise (tests set
/// it so they never touch a real registry at port 5000).
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:5000";

/// Debian's packaged reference registry (distribution 2.x).
pub const DEBIAN_REGISTRY: &str = "/usr/bin/docker-registry";

/// The reference registry's image, used when the binary is missing and the engine has it.
pub const DEFAULT_IMAGE: &str = "registry:2";

/// The name of the container Slipway runs the image as.
pub const CONTAINER_NAME: &str = "slipway-local-registry";

/// The label that marks the container as Slipway's, so that a container someone else named the
/// same way is never stopped or removed by us.
pub const MANAGED_LABEL: &str = "io.slipway.local-registry";

/// Where `registry:2`'s default configuration listens and keeps its data inside the container.
const IMAGE_PORT: u16 = 5000;
const IMAGE_STORAGE: &str = "/var/lib/registry";

/// The registry program inside `registry:2` and the configuration its entrypoint serves; garbage
/// collection of the image backend runs the same program on the same file.
pub(crate) const IMAGE_PROGRAM: &str = "/bin/registry";
pub(crate) const IMAGE_CONFIG: &str = "/etc/docker/registry/config.yml";

pub fn default_address() -> String {
    std::env::var("SLIPWAY_LOCAL_REGISTRY_ADDR").unwrap_or_else(|_| DEFAULT_ADDRESS.to_string())
}

/// The image to fall back to: `SLIPWAY_LOCAL_REGISTRY_IMAGE` or `registry:2`.
pub fn default_image() -> String {
    std::env::var("SLIPWAY_LOCAL_REGISTRY_IMAGE")
        .ok()
        .filter(|image| !image.is_empty())
        .unwrap_or_else(|| DEFAULT_IMAGE.to_string())
}

/// How the managed registry is run; [`Default`] reads the environment as described on each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalRegistryOptions {
    /// `host:port` on loopback; `SLIPWAY_LOCAL_REGISTRY_ADDR` or `127.0.0.1:5000`.
    pub address: String,
    /// Where the data and the config live; `<user data dir>/slipway/registry`.
    pub data_dir: Option<PathBuf>,
    /// The registry binary to run as a child process; [`DEBIAN_REGISTRY`].
    pub program: PathBuf,
    /// The image to run when the binary is missing; `SLIPWAY_LOCAL_REGISTRY_IMAGE` or
    /// [`DEFAULT_IMAGE`].
    pub image: String,
    /// The container's name; [`CONTAINER_NAME`].
    pub container_name: String,
    /// The engine to run the image in, as a `DOCKER_HOST` value; `None` connects the default way.
    pub docker_host: Option<String>,
}

impl Default for LocalRegistryOptions {
    fn default() -> Self {
        LocalRegistryOptions {
            address: default_address(),
            data_dir: dirs::data_dir().map(|d| d.join("slipway").join("registry")),
            program: PathBuf::from(DEBIAN_REGISTRY),
            image: default_image(),
            container_name: CONTAINER_NAME.to_string(),
            docker_host: None,
        }
    }
}

/// What the Engine view shows about the local registry.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, TS)]
pub struct LocalRegistryStatus {
    pub address: String,
    /// Something answers `GET /v2/` at the address (ours or someone else's).
    pub answering: bool,
    /// The registry answering is the one Slipway started.
    pub managed: bool,
    pub running: bool,
    /// Slipway could start one here (a backend exists and nothing answers yet).
    pub available: bool,
    /// Which backend runs it or would run it, e.g. `/usr/bin/docker-registry` or
    /// `registry:2 image in the engine`.
    pub backend: String,
    pub data_dir: String,
    /// What to install when no backend is available.
    pub hint: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LocalRegistryError {
    #[error("no registry program is available: {program} is not installed and {engine}. Install Debian's docker-registry (sudo apt-get install docker-registry), or load the {image} image into the engine (docker load -i registry.tar, saved with `docker save {image}` on a machine with internet access), or add a registry profile for an existing registry")]
    NoBackend {
        program: String,
        image: String,
        /// Why the image cannot be used: the engine lacks it, or no engine answers.
        engine: String,
    },
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
            LocalRegistryError::NoBackend { .. } => "registry_backend_missing",
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

/// What runs the registry.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    /// The binary, as a child process of the app.
    Program(PathBuf),
    /// The image, as a container in this engine.
    Image(Engine),
}

/// The managed registry: at most one child process or container, shared by the app's commands.
pub struct LocalRegistry {
    options: LocalRegistryOptions,
    child: Mutex<Option<Child>>,
    /// The engine connection, made on first need and dropped after a failure so that the next
    /// call connects again (the engine may have been started since).
    engine: Mutex<Option<Engine>>,
}

impl Default for LocalRegistry {
    fn default() -> Self {
        Self::with_options(LocalRegistryOptions::default())
    }
}

impl LocalRegistry {
    /// A registry at `address` with its data in `data_dir`; the other options are the defaults.
    pub fn new(address: String, data_dir: Option<PathBuf>) -> Self {
        Self::with_options(LocalRegistryOptions {
            address,
            data_dir,
            ..LocalRegistryOptions::default()
        })
    }

    pub fn with_options(options: LocalRegistryOptions) -> Self {
        LocalRegistry {
            options,
            child: Mutex::new(None),
            engine: Mutex::new(None),
        }
    }

    async fn engine(&self) -> Result<Engine, String> {
        let mut guard = self.engine.lock().await;
        if let Some(engine) = guard.as_ref() {
            return Ok(engine.clone());
        }
        let engine = match &self.options.docker_host {
            Some(host) => Engine::connect_with_host(Some(host)).await,
            None => Engine::connect().await,
        }
        .map_err(|e| {
            // The engine's message lists every endpoint tried, one per line; keep it on one line.
            let tried: Vec<String> = e
                .to_string()
                .lines()
                .skip(1)
                .map(|line| line.trim().trim_start_matches("- ").to_string())
                .filter(|line| !line.is_empty())
                .collect();
            format!(
                "no container engine answers to run the {} image instead ({})",
                self.options.image,
                tried.join("; ")
            )
        })?;
        *guard = Some(engine.clone());
        Ok(engine)
    }

    async fn forget_engine(&self) {
        *self.engine.lock().await = None;
    }

    /// The binary when it is installed, else the engine when it has the image.
    pub(crate) async fn backend(&self) -> Result<Backend, LocalRegistryError> {
        let program = &self.options.program;
        if program.is_file() {
            return Ok(Backend::Program(program.clone()));
        }
        let missing = |engine: String| LocalRegistryError::NoBackend {
            program: program.display().to_string(),
            image: self.options.image.clone(),
            engine,
        };
        let engine = self.engine().await.map_err(missing)?;
        match engine.inspect_image(&self.options.image).await {
            Ok(_) => Ok(Backend::Image(engine)),
            Err(slipway_engine::Error::NotFound { .. }) => Err(missing(format!(
                "the engine has no {} image (Slipway never pulls it)",
                self.options.image
            ))),
            Err(e) => {
                self.forget_engine().await;
                Err(missing(format!(
                    "the engine could not be asked for the {} image ({e})",
                    self.options.image
                )))
            }
        }
    }

    pub(crate) fn backend_display(&self, backend: &Backend) -> String {
        match backend {
            Backend::Program(program) => program.display().to_string(),
            Backend::Image(_) => format!("{} image in the engine", self.options.image),
        }
    }

    fn data_dir_display(&self) -> String {
        self.options
            .data_dir
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

    /// Our container as the engine sees it: `Some(running)` when a container with our name and
    /// our label exists.
    async fn own_container(&self, engine: &Engine) -> Option<bool> {
        let state = engine
            .inspect_container(&self.options.container_name)
            .await
            .ok()?;
        state
            .labels
            .contains_key(MANAGED_LABEL)
            .then_some(state.running)
    }

    /// Whether the registry Slipway manages runs, as a child or as a container; the container
    /// counts even when an earlier run of the app started it.
    async fn managed_running(&self, backend: Option<&Backend>) -> bool {
        if self.child_running().await || self.detached_pid().is_some() {
            return true;
        }
        match backend {
            Some(Backend::Image(engine)) => self.own_container(engine).await == Some(true),
            _ => false,
        }
    }

    pub async fn status(&self) -> LocalRegistryStatus {
        let backend = self.backend().await;
        let running = self.managed_running(backend.as_ref().ok()).await;
        let answering = answers(&self.options.address).await;
        LocalRegistryStatus {
            address: self.options.address.clone(),
            answering,
            managed: running,
            running,
            available: !answering && backend.is_ok() && self.options.data_dir.is_some(),
            backend: backend
                .as_ref()
                .map(|b| self.backend_display(b))
                .unwrap_or_default(),
            data_dir: self.data_dir_display(),
            hint: backend.err().map(|e| e.to_string()),
        }
    }

    /// Starts the registry and waits until it answers; returns the new status.
    pub async fn start(&self) -> Result<LocalRegistryStatus, LocalRegistryError> {
        // The managed registry has no auth and allows deletes: it must never listen beyond this
        // machine, even when its address comes from the environment.
        split_address(&self.options.address)?;
        let backend = self.backend().await?;
        if self.managed_running(Some(&backend)).await {
            return Ok(self.status().await);
        }
        if answers(&self.options.address).await {
            return Err(LocalRegistryError::AddressInUse(
                self.options.address.clone(),
            ));
        }
        let dir = self
            .options
            .data_dir
            .clone()
            .ok_or(LocalRegistryError::NoDataDir)?;
        let storage = dir.join("storage");
        std::fs::create_dir_all(&storage).map_err(io(&storage))?;
        match backend {
            Backend::Program(program) => self.start_program(&program, &dir, &storage).await?,
            Backend::Image(engine) => self.start_container(&engine, &storage).await?,
        }
        Ok(self.status().await)
    }

    async fn start_program(
        &self,
        program: &Path,
        dir: &Path,
        storage: &Path,
    ) -> Result<(), LocalRegistryError> {
        let address = &self.options.address;
        let config = dir.join("config.yml");
        // The registry reads YAML; the path and the address are quoted as JSON strings (valid
        // YAML), so no value can add keys of its own.
        let quote = |s: &str| serde_json::to_string(s).expect("a string serializes");
        let yaml = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {}\n",
            quote(&storage.display().to_string()),
            quote(address)
        );
        std::fs::write(&config, yaml).map_err(io(&config))?;
        let log_path = dir.join("registry.log");
        let log = std::fs::File::create(&log_path).map_err(io(&log_path))?;
        let log_err = log.try_clone().map_err(io(&log_path))?;
        let mut child = Command::new(program)
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
            if answers(address).await {
                if let Some(pid) = child.id() {
                    // A CLI run leaves the registry running after it exits (see
                    // `start_detached`); the pid file is how a later run finds it to stop it.
                    let pid_path = dir.join(PID_FILE);
                    std::fs::write(&pid_path, pid.to_string()).map_err(io(&pid_path))?;
                }
                *self.child.lock().await = Some(child);
                return Ok(());
            }
            if let Ok(Some(exit)) = child.try_wait() {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                return Err(LocalRegistryError::StartFailed(format!(
                    "it exited with {exit}; its log ({}) ends with: {}",
                    log_path.display(),
                    tail(&log)
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill().await;
        Err(LocalRegistryError::StartFailed(format!(
            "it did not answer at {address} within 10 s; see {}",
            log_path.display()
        )))
    }

    /// Runs the image with the same guarantees as the binary: published on the loopback address
    /// only, data in the user's directory (bind-mounted where `registry:2` keeps it), deletes
    /// enabled through the image's environment override, and no restart policy, so it never comes
    /// back on its own after Stop or a reboot.
    async fn start_container(
        &self,
        engine: &Engine,
        storage: &Path,
    ) -> Result<(), LocalRegistryError> {
        let address = &self.options.address;
        let name = &self.options.container_name;
        let failed = |what: &str, e: slipway_engine::Error| {
            LocalRegistryError::StartFailed(format!("{what} container {name}: {e}"))
        };
        let (host_ip, host_port) = split_address(address)?;
        match engine.inspect_container(name).await {
            // A stopped container of ours from an earlier run: replace it, so that it carries
            // today's address and directory.
            Ok(state) if state.labels.contains_key(MANAGED_LABEL) => engine
                .remove_container(name, true)
                .await
                .map_err(|e| failed("could not remove the old", e))?,
            Ok(_) => {
                return Err(LocalRegistryError::StartFailed(format!(
                    "a container named {name} exists that Slipway did not create; remove or rename it (docker rm {name})"
                )))
            }
            Err(_) => {}
        }
        let spec = ContainerSpec {
            name: Some(name.clone()),
            labels: [(MANAGED_LABEL.to_string(), "true".to_string())].into(),
            ports: vec![PublishedPort {
                host_ip,
                host_port,
                container_port: IMAGE_PORT,
            }],
            ..self.image_spec(storage)
        };
        engine
            .create_container(&spec)
            .await
            .map_err(|e| failed("could not create", e))?;
        if let Err(e) = engine.start_container(name).await {
            let _ = engine.remove_container(name, true).await;
            return Err(failed("could not start", e));
        }
        for _ in 0..100 {
            if answers(address).await {
                return Ok(());
            }
            if let Ok(state) = engine.inspect_container(name).await {
                if !state.running {
                    let log = container_log(engine, name).await;
                    let _ = engine.remove_container(name, true).await;
                    return Err(LocalRegistryError::StartFailed(format!(
                        "container {name} exited with {}; its log ends with: {}",
                        state.exit_code.unwrap_or_default(),
                        tail(&log)
                    )));
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log = container_log(engine, name).await;
        let _ = engine.remove_container(name, true).await;
        Err(LocalRegistryError::StartFailed(format!(
            "container {name} did not answer at {address} within 10 s; its log ends with: {}",
            tail(&log)
        )))
    }

    /// The image with the registry's data and configuration: what the serving container and the
    /// one-off garbage collection share, so that both see the same storage the same way.
    pub(crate) fn image_spec(&self, storage: &Path) -> ContainerSpec {
        ContainerSpec {
            image: self.options.image.clone(),
            env: vec!["REGISTRY_STORAGE_DELETE_ENABLED=true".to_string()],
            // Files the registry writes belong to whoever owns the data directory (the user),
            // not to root, so the user can back them up or remove them.
            user: owner(storage),
            mounts: vec![BindMount {
                host_path: storage.to_path_buf(),
                container_path: IMAGE_STORAGE.to_string(),
                read_only: false,
            }],
            ..ContainerSpec::default()
        }
    }

    /// Stops the registry Slipway started; the data stays for the next start. The container is
    /// removed as well: everything worth keeping is in the data directory.
    pub async fn stop(&self) -> LocalRegistryStatus {
        self.stop_own().await;
        self.stop_detached().await;
        self.status().await
    }

    /// What the app does when it exits: stops its own child (and the container), but leaves a
    /// registry that `slipway local-registry start` left running, since the user started that
    /// one to outlive any window.
    pub async fn stop_on_exit(&self) -> LocalRegistryStatus {
        self.stop_own().await;
        self.status().await
    }

    async fn stop_own(&self) {
        if let Some(mut child) = self.child.lock().await.take() {
            let _ = child.kill().await;
        }
        if let Ok(engine) = self.engine_if_relevant().await {
            if self.own_container(&engine).await.is_some() {
                let name = &self.options.container_name;
                let _ = engine.stop_container(name, 10).await;
                let _ = engine.remove_container(name, true).await;
            }
        }
    }

    /// The engine, when our container could exist: only when the binary is missing, so that
    /// stopping the binary's registry never waits for an engine probe.
    async fn engine_if_relevant(&self) -> Result<Engine, String> {
        if self.options.program.is_file() && self.engine.lock().await.is_none() {
            return Err("the binary backend is in use".to_string());
        }
        self.engine().await
    }
}

/// The file in the data directory that holds the pid of a registry started by `start_detached`.
const PID_FILE: &str = "registry.pid";

impl LocalRegistry {
    /// How this registry is run.
    pub fn options(&self) -> &LocalRegistryOptions {
        &self.options
    }

    /// Whether the registry runs as this process's child (the app's), not detached (the CLI's).
    pub async fn owns_child(&self) -> bool {
        self.child_running().await
    }

    /// Starts the registry so that it outlives this process: what `slipway local-registry start`
    /// needs, since the CLI exits right after. The app keeps its child instead, so that closing
    /// the window stops the registry.
    pub async fn start_detached(&self) -> Result<LocalRegistryStatus, LocalRegistryError> {
        let status = self.start().await?;
        if let Some(child) = self.child.lock().await.take() {
            // Dropping the handle would kill the registry (it is spawned with kill_on_drop);
            // forgetting it leaves the process running, found again through the pid file.
            std::mem::forget(child);
        }
        Ok(status)
    }

    /// The pid of a registry another run started with `start_detached`, when that process
    /// is still our registry: its command line names our program and our config file, so a
    /// recycled pid is never taken for it.
    fn detached_pid(&self) -> Option<u32> {
        let dir = self.options.data_dir.as_ref()?;
        let pid: u32 = std::fs::read_to_string(dir.join(PID_FILE))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let cmdline = String::from_utf8_lossy(&cmdline);
        let config = dir.join("config.yml");
        let ours = cmdline.contains(&*self.options.program.to_string_lossy())
            && cmdline.contains(&*config.to_string_lossy());
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // A zombie (state Z) has exited; only its parent can reap it.
        let alive = !state.split(") ").nth(1).is_some_and(|s| s.starts_with('Z'));
        (ours && alive).then_some(pid)
    }

    /// Stops a registry a detached start left running, and waits until it is gone.
    async fn stop_detached(&self) {
        if let Some(pid) = self.detached_pid() {
            let _ = Command::new("kill").arg(pid.to_string()).status().await;
            for _ in 0..100 {
                if self.detached_pid().is_none() && !answers(&self.options.address).await {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        if let Some(dir) = &self.options.data_dir {
            let _ = std::fs::remove_file(dir.join(PID_FILE));
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LocalRegistryError {
    let path = path.to_path_buf();
    move |source| LocalRegistryError::Io { path, source }
}

/// The last few lines of a log, on one line, for an error message.
pub(crate) fn tail(log: &str) -> String {
    let mut lines: Vec<&str> = log.lines().rev().take(5).collect();
    lines.reverse();
    lines.join(" | ")
}

/// `127.0.0.1:5000` as the host IP and port to publish on; only a loopback address is accepted.
fn split_address(address: &str) -> Result<(String, u16), LocalRegistryError> {
    let parsed: std::net::SocketAddr = address.parse().map_err(|_| {
        LocalRegistryError::StartFailed(format!(
            "{address} is not an IP address and port (e.g. 127.0.0.1:5000); fix SLIPWAY_LOCAL_REGISTRY_ADDR"
        ))
    })?;
    if !parsed.ip().is_loopback() {
        return Err(LocalRegistryError::StartFailed(format!(
            "{address} is not a loopback address; the managed registry has no password and \
             allows deletes, so it only listens on this machine (127.0.0.1 or [::1]). Fix \
             SLIPWAY_LOCAL_REGISTRY_ADDR, or add a profile for a registry you secured yourself"
        )));
    }
    Ok((parsed.ip().to_string(), parsed.port()))
}

/// `uid:gid` of the directory's owner.
#[cfg(unix)]
fn owner(dir: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir).ok()?;
    Some(format!("{}:{}", meta.uid(), meta.gid()))
}

#[cfg(not(unix))]
fn owner(_dir: &Path) -> Option<String> {
    None
}

pub(crate) async fn container_log(engine: &Engine, name: &str) -> String {
    use futures_util::StreamExt;
    let chunks: Vec<_> = engine.container_logs(name, false).collect().await;
    let mut log = String::new();
    for chunk in chunks.into_iter().flatten() {
        let (Output::Stdout(bytes) | Output::Stderr(bytes)) = chunk;
        log.push_str(&String::from_utf8_lossy(&bytes));
    }
    log
}

#[cfg(test)]
mod tests {
    use super::*;

    fn free_address() -> String {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    }

    #[tokio::test]
    async fn managed_registry_starts_answers_and_stops() {
        if !Path::new(DEBIAN_REGISTRY).is_file() {
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
    async fn someone_elses_registry_is_used_not_replaced() {
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

    #[tokio::test]
    async fn the_managed_registry_refuses_an_address_beyond_loopback() {
        let dir = tempfile::tempdir().unwrap();
        for address in ["0.0.0.0:5999", "192.0.2.1:5000", "[::]:5000"] {
            let reg = LocalRegistry::new(address.to_string(), Some(dir.path().join("registry")));
            let err = reg.start().await.unwrap_err().to_string();
            assert!(err.contains("not a loopback address"), "{address}: {err}");
            assert!(!dir.path().join("registry/config.yml").exists());
        }
    }

    #[tokio::test]
    async fn neither_binary_nor_engine_says_what_to_install() {
        let dir = tempfile::tempdir().unwrap();
        let reg = LocalRegistry::with_options(LocalRegistryOptions {
            address: free_address(),
            data_dir: Some(dir.path().join("registry")),
            program: dir.path().join("no-such-registry"),
            image: "slipway-test/no-such-registry:2".to_string(),
            container_name: "slipway-test-never-created".to_string(),
            docker_host: Some(format!("unix://{}", dir.path().join("no.sock").display())),
        });
        let st = reg.status().await;
        assert!(
            !st.available && !st.running && st.backend.is_empty(),
            "{st:?}"
        );
        let hint = st.hint.expect("a hint when nothing can run the registry");
        assert!(hint.contains("apt-get install docker-registry"), "{hint}");
        assert!(hint.contains("no-such-registry"), "{hint}");
        assert!(hint.contains("no container engine answers"), "{hint}");
        let err = reg.start().await.unwrap_err();
        assert_eq!(err.code(), "registry_backend_missing");
        assert!(
            err.to_string().contains("slipway-test/no-such-registry:2"),
            "{err}"
        );
        assert!(
            !dir.path().join("registry").exists(),
            "nothing is created when nothing can run"
        );
    }
}
