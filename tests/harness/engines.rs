//! The engines under test: the system engine and the ones `scripts/engines start` runs beside it,
//! where each answers, and why one is skipped.
//!
//! Every engine is reached the way a user's would be: Slipway through its `DOCKER_HOST`, the
//! docker CLI with `DOCKER_HOST` set (it speaks to Docker 26 and to Podman's compatible socket
//! alike). The system engine keeps the environment's own setting, so the scenarios written before
//! the matrix run exactly as they did.

use std::path::PathBuf;
use std::process::Command;

/// Which program answers on the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Docker,
    Podman,
}

/// Where the engine keeps its images, which decides what its image id is and how it exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageStore {
    /// Docker's graphdriver store (overlay2) or Podman's containers/storage: the image id is the
    /// config digest.
    Classic,
    /// Docker's containerd image store: the image id is the manifest (or index) digest.
    Containerd,
}

/// One engine of the matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestEngine {
    /// Short and stable, for test output and skip messages (`docker26-containerd`).
    pub name: &'static str,
    /// `unix:///...`; `None` for the system engine, which keeps the environment's `DOCKER_HOST`
    /// or the default socket.
    pub docker_host: Option<String>,
    pub kind: EngineKind,
    pub store: ImageStore,
}

/// The engines `scripts/engines` starts, as (name, kind, store). Their sockets live at
/// `$SLIPWAY_ENGINES_RUN/<name>/api.sock` (default run dir `/tmp/slipway-engines`), as the script
/// says in `scripts/engines env`.
const STARTED_BY_SCRIPT: &[(&str, EngineKind, ImageStore)] = &[
    (
        "docker26-containerd",
        EngineKind::Docker,
        ImageStore::Containerd,
    ),
    ("docker26-overlay2", EngineKind::Docker, ImageStore::Classic),
    ("podman", EngineKind::Podman, ImageStore::Classic),
];

/// The name of the system engine in the matrix.
pub const SYSTEM: &str = "system";

fn run_dir() -> PathBuf {
    std::env::var_os("SLIPWAY_ENGINES_RUN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/slipway-engines"))
}

impl TestEngine {
    /// The system engine (Docker 20.10 on these machines), as the environment reaches it.
    pub fn system() -> TestEngine {
        TestEngine {
            name: SYSTEM,
            docker_host: None,
            kind: EngineKind::Docker,
            store: ImageStore::Classic,
        }
    }

    /// Every engine of the matrix, running or not: the system engine first.
    pub fn all() -> Vec<TestEngine> {
        let mut all = vec![TestEngine::system()];
        all.extend(STARTED_BY_SCRIPT.iter().map(|(name, kind, store)| {
            let socket = run_dir().join(name).join("api.sock");
            TestEngine {
                name,
                docker_host: Some(format!("unix://{}", socket.display())),
                kind: *kind,
                store: *store,
            }
        }));
        all
    }

    /// The engine of the matrix called `name`, running or not.
    pub fn named(name: &str) -> TestEngine {
        TestEngine::all()
            .into_iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("no engine named {name} in the test matrix"))
    }

    /// The engines that answer now.
    pub fn available() -> Vec<TestEngine> {
        TestEngine::all()
            .into_iter()
            .filter(|e| e.unavailable_because().is_none())
            .collect()
    }

    /// `name` if it answers. Otherwise prints why the case is skipped and returns `None`, or,
    /// when `SLIPWAY_REQUIRE_ENGINES=1` (as `./dev test` sets after starting them), fails: there a
    /// missing engine is a broken setup, not a machine without it.
    pub fn for_test(name: &str) -> Option<TestEngine> {
        let engine = TestEngine::named(name);
        let Some(reason) = engine.unavailable_because() else {
            return Some(engine);
        };
        if std::env::var("SLIPWAY_REQUIRE_ENGINES").is_ok_and(|v| v == "1") {
            panic!("{name} is required (SLIPWAY_REQUIRE_ENGINES=1) but {reason}");
        }
        eprintln!("skipped on {name}: {reason}");
        None
    }

    /// Why this engine cannot be used now, or `None` when it answers.
    pub fn unavailable_because(&self) -> Option<String> {
        let Some(host) = &self.docker_host else {
            // The system engine: the scenarios have always required it, and fail with the
            // engine's own message when it is down.
            return None;
        };
        let socket = host.trim_start_matches("unix://");
        if !std::path::Path::new(socket).exists() {
            return Some(format!(
                "no socket at {socket}; run scripts/engines install && scripts/engines start"
            ));
        }
        let answers = self
            .command("docker")
            .args(["version", "--format", "{{.Server.Version}}"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        (!answers).then(|| {
            format!(
                "nothing answers on {socket}; see scripts/engines status and the logs under {}",
                run_dir().join(self.name).display()
            )
        })
    }

    /// `program` (the docker CLI, skopeo, ...) with `DOCKER_HOST` pointing at this engine.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        if let Some(host) = &self.docker_host {
            command.env("DOCKER_HOST", host);
        }
        command
    }

    /// Runs the docker CLI against this engine and returns its stdout, panicking with its stderr
    /// (and the engine's name) on failure.
    pub fn docker(&self, args: &[&str]) -> String {
        crate::run_command(self.command("docker"), "docker", args, self.name)
    }

    /// Commits `container` as `reference` through the CLI. Podman 4.3's compatible endpoint
    /// rejects the docker CLI's commit (it sends no body: "Decode(): EOF"), so there Podman's own
    /// client does it over the same socket.
    pub fn commit(&self, container: &str, reference: &str) {
        match (self.kind, &self.docker_host) {
            (EngineKind::Podman, Some(host)) => {
                crate::run_command(
                    Command::new("podman"),
                    "podman",
                    &["--url", host, "commit", "-q", container, reference],
                    self.name,
                );
            }
            _ => {
                self.docker(&["commit", container, reference]);
            }
        }
    }

    /// Pulls `reference` from a plain-HTTP registry on loopback with the engine itself. Docker
    /// trusts 127.0.0.0/8 over HTTP without configuration; Podman does not, so it is told per
    /// pull, with its own client on the same socket.
    pub fn pull_from_loopback(&self, reference: &str) {
        match (self.kind, &self.docker_host) {
            (EngineKind::Podman, Some(host)) => {
                crate::run_command(
                    Command::new("podman"),
                    "podman",
                    &["--url", host, "pull", "-q", "--tls-verify=false", reference],
                    self.name,
                );
            }
            _ => {
                self.docker(&["pull", "-q", reference]);
            }
        }
    }

    /// Pushes `image` as `reference` to a plain-HTTP registry on loopback with the engine itself
    /// (Podman told per push, as for [`TestEngine::pull_from_loopback`]).
    pub fn push_to_loopback(&self, image: &str, reference: &str) {
        match (self.kind, &self.docker_host) {
            (EngineKind::Podman, Some(host)) => {
                crate::run_command(
                    Command::new("podman"),
                    "podman",
                    &[
                        "--url",
                        host,
                        "push",
                        "-q",
                        "--tls-verify=false",
                        image,
                        reference,
                    ],
                    self.name,
                );
            }
            _ => {
                self.docker(&["tag", image, reference]);
                self.docker(&["push", "-q", reference]);
                self.docker(&["rmi", reference]);
            }
        }
    }

    /// The digest of the image config the engine holds for `image`, as the engine itself states
    /// it in its export's `manifest.json` (`Config`). On classic stores it is the image id; on the
    /// containerd store the image id is the manifest digest, and the inspect API of Docker 26 does
    /// not show the config digest at all, so the export is the one place every engine names it.
    pub fn config_digest(&self, image: &str) -> String {
        let dir = tempfile::tempdir().expect("temp dir for the export");
        let archive = dir.path().join("image.tar");
        self.docker(&["save", "-o", archive.to_str().unwrap(), image]);
        let manifest = crate::run("tar", &["-xOf", archive.to_str().unwrap(), "manifest.json"]);
        let manifest: serde_json::Value =
            serde_json::from_str(&manifest).expect("the export's manifest.json is JSON");
        let config = manifest[0]["Config"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: manifest.json has no Config: {manifest}", self.name));
        // `<hex>.json` (Docker <= 24, Podman) or `blobs/sha256/<hex>` (Docker 25+).
        let hex = config.rsplit('/').next().unwrap().trim_end_matches(".json");
        format!("sha256:{hex}")
    }

    /// The engine's diff_ids for `image` (`RootFS.Layers`), base layer first.
    pub fn diff_ids(&self, image: &str) -> Vec<String> {
        let json = self.docker(&[
            "image",
            "inspect",
            "--format",
            "{{json .RootFS.Layers}}",
            image,
        ]);
        serde_json::from_str(json.trim()).expect("RootFS.Layers is a JSON list")
    }
}
