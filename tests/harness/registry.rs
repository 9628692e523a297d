//! The reference registry (Debian's `docker-registry`) on loopback with a throwaway config.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// Returns a port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Extra YAML for the registry's config, beyond storage and the listen address.
#[derive(Debug, Default, Clone)]
pub struct RegistryConfig {
    /// Appended under `http:` (e.g. a `tls:` block), indented by the caller by two spaces.
    pub http_extra: String,
    /// Appended at the top level (e.g. an `auth:` block).
    pub top_extra: String,
    /// Whether the `/v2/` probe is expected to answer over TLS (then readiness is judged by the
    /// TCP port alone, since the probe speaks plain HTTP).
    pub tls: bool,
    /// Log every request to [`Registry::access_log`], for tests that count what a call read.
    pub access_log: bool,
}

/// A running reference registry; killed, and its storage removed, on drop.
#[derive(Debug)]
pub struct Registry {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Registry {
    /// A plain-HTTP registry with deletes enabled, as a developer runs on `host:5000`.
    pub fn plain() -> Registry {
        Registry::start(RegistryConfig::default())
    }

    /// A registry with extra configuration (TLS, htpasswd, token auth).
    pub fn start(config: RegistryConfig) -> Registry {
        assert!(
            std::path::Path::new(REGISTRY_BIN).exists(),
            "{REGISTRY_BIN} is missing: install Debian's docker-registry (apt-get install docker-registry)"
        );
        let dir = tempfile::tempdir().expect("registry temp dir");
        let port = free_port();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let yaml = format!(
            "version: 0.1\n\
             log:\n  level: warn\n  accesslog:\n    disabled: {quiet}\n\
             storage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n  secret: slipway-test-secret\n{http_extra}\n{top_extra}\n",
            data = data.display(),
            http_extra = config.http_extra,
            top_extra = config.top_extra,
            quiet = !config.access_log,
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, yaml).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config_path)
            .stdout(std::fs::File::create(dir.path().join("access.log")).unwrap())
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let registry = Registry { child, port, dir };
        registry.wait_ready(config.tls);
        registry
    }

    /// `127.0.0.1:PORT`, the registry's host part of a reference.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The registry's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where the registry keeps its blobs and repositories, for assertions on what it stored.
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The registry's own log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// The requests the registry answered, one line each, when started with `access_log`.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    /// The temp directory holding config, data and log; TLS and auth files can go here too.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    fn wait_ready(&self, tls: bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                if tls {
                    return;
                }
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let req = format!("GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1:{}\r\n\r\n", self.port);
                let mut buf = [0u8; 12];
                if s.write_all(req.as_bytes()).is_ok() && s.read_exact(&mut buf).is_ok() {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "docker-registry did not start on {}: {}",
            self.addr(),
            self.log()
        );
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
