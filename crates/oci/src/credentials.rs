//! Registry credentials and the Docker credential store (`~/.docker/config.json`).
//!
//! We read and write the same store `docker login` uses so that a user who logged in with docker
//! is logged in with Slipway too, and the other way round: `auths` entries (base64 `user:pass`),
//! a global `credsStore`, and per-registry `credHelpers`, the latter two through the
//! `docker-credential-NAME get|store|erase` protocol (JSON over stdin/stdout).
//!
//! Some registries (Azure's, or any with an OAuth2 token server) hand `docker login` an identity
//! token, a long-lived refresh token, instead of keeping a password: config.json then holds it as
//! `identitytoken`, and a credential helper reports it with the username `<token>`. Both become
//! [`Credentials::identity_token`], which the client trades for access tokens with an OAuth2
//! `refresh_token` grant rather than Basic auth.

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::reference::DOCKER_HUB;

/// The key Docker Hub's credentials are stored under, for historical reasons.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// How long a credential helper may take before it is stopped: long enough for a keychain to
/// unlock, short enough that a helper stuck on a prompt nobody sees does not hang Slipway.
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(60);

/// The most of a helper's output that is read; a credentials reply is a few hundred bytes.
const MAX_HELPER_OUTPUT: u64 = 1 << 20;

/// The username the credential-helper protocol uses to mark the secret as an identity token.
pub const IDENTITY_TOKEN_USERNAME: &str = "<token>";

/// A username and a secret (password or token). `Debug` never shows the secret, so logging a
/// value that holds credentials cannot leak them.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    secret: String,
}

impl Credentials {
    pub fn new(username: impl Into<String>, secret: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            secret: secret.into(),
        }
    }

    /// An OAuth2 identity (refresh) token, as `docker login` stores for registries that issue one.
    pub fn identity_token(token: impl Into<String>) -> Credentials {
        Credentials::new(IDENTITY_TOKEN_USERNAME, token)
    }

    /// Whether the secret is an identity token, to be sent as an OAuth2 `refresh_token` grant.
    pub fn is_identity_token(&self) -> bool {
        self.username == IDENTITY_TOKEN_USERNAME
    }

    /// The secret, for the one place that must send it: an Authorization header.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    pub(crate) fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.secret);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The Docker CLI's credential store, rooted at a config.json.
#[derive(Debug, Clone)]
pub struct CredentialStore {
    config_path: PathBuf,
    /// Where to look for `docker-credential-*` first (tests); otherwise PATH, as docker does.
    credential_program_dir: Option<PathBuf>,
    /// How long a helper may run; [`HELPER_TIMEOUT`] unless changed.
    helper_timeout: Duration,
}

#[derive(Deserialize, Serialize)]
struct CredentialReply {
    #[serde(rename = "ServerURL", default)]
    server_url: String,
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

impl CredentialStore {
    /// The store docker uses: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    pub fn docker_default() -> CredentialStore {
        let dir = std::env::var_os("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| dirs::home_dir().map(|h| h.join(".docker")))
            .unwrap_or_else(|| PathBuf::from(".docker"));
        CredentialStore::at(dir.join("config.json"))
    }

    pub fn at(config_path: impl Into<PathBuf>) -> CredentialStore {
        CredentialStore {
            config_path: config_path.into(),
            credential_program_dir: None,
            helper_timeout: HELPER_TIMEOUT,
        }
    }

    /// Stops a credential helper that has not answered after `timeout`.
    pub fn with_helper_timeout(mut self, timeout: Duration) -> CredentialStore {
        self.helper_timeout = timeout;
        self
    }

    /// Looks for credential helpers in `dir` before PATH.
    pub fn with_credential_program_dir(mut self, dir: impl Into<PathBuf>) -> CredentialStore {
        self.credential_program_dir = Some(dir.into());
        self
    }

    fn credential_program(&self, helper: &str) -> PathBuf {
        let name = format!("docker-credential-{helper}");
        match &self.credential_program_dir {
            Some(dir) if dir.join(&name).exists() => dir.join(name),
            _ => PathBuf::from(name),
        }
    }

    pub fn path(&self) -> &Path {
        &self.config_path
    }

    fn read_config(&self) -> Result<serde_json::Value> {
        match std::fs::read(&self.config_path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(serde_json::json!({})),
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Credentials {
                detail: format!(
                    "{} is not valid JSON ({e}); fix or remove it",
                    self.config_path.display()
                ),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(serde_json::json!({})),
            Err(e) => Err(Error::io(
                format!("reading {}", self.config_path.display()),
                e,
            )),
        }
    }

    /// The credentials stored for `registry` (as written in references: `host[:port]`), if any.
    pub fn get(&self, registry: &str) -> Result<Option<Credentials>> {
        let config = self.read_config()?;
        let key = store_key(registry);
        if let Some(helper) = credential_program_for(&config, registry) {
            return program_get(&self.credential_program(&helper), &key, self.helper_timeout);
        }
        let Some(auths) = config.get("auths").and_then(|a| a.as_object()) else {
            return Ok(None);
        };
        // docker has stored keys with and without a scheme over the years; accept both.
        let candidates = [
            key.clone(),
            format!("https://{registry}"),
            format!("http://{registry}"),
        ];
        for candidate in candidates {
            let Some(entry) = auths.get(&candidate) else {
                continue;
            };
            // docker writes `identitytoken` beside a placeholder `auth`; the token is what counts.
            if let Some(token) = entry
                .get("identitytoken")
                .and_then(|t| t.as_str())
                .filter(|t| !t.is_empty())
            {
                return Ok(Some(Credentials::identity_token(token)));
            }
            if let Some(auth) = entry
                .get("auth")
                .and_then(|a| a.as_str())
                .filter(|a| !a.is_empty())
            {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(auth)
                    .map_err(|_| Error::Credentials {
                        detail: format!(
                            "the auth entry for {registry} in {} is not base64",
                            self.config_path.display()
                        ),
                    })?;
                let text = String::from_utf8_lossy(&decoded);
                let (user, pass) = text.split_once(':').ok_or_else(|| Error::Credentials {
                    detail: format!(
                        "the auth entry for {registry} in {} is not user:password",
                        self.config_path.display()
                    ),
                })?;
                return Ok(Some(Credentials::new(user, pass)));
            }
        }
        Ok(None)
    }

    /// Stores credentials where docker would: in the registry's helper or the global credsStore
    /// when one is configured, else base64 in `auths`.
    pub fn store(&self, registry: &str, credentials: &Credentials) -> Result<()> {
        let _lock = self.lock()?;
        let mut config = self.read_config()?;
        let key = store_key(registry);
        if let Some(helper) = credential_program_for(&config, registry) {
            let payload = serde_json::to_vec(&CredentialReply {
                server_url: key,
                username: credentials.username.clone(),
                secret: credentials.secret.clone(),
            })
            .map_err(|e| Error::Credentials {
                detail: e.to_string(),
            })?;
            run_credential_program(
                &self.credential_program(&helper),
                "store",
                &payload,
                self.helper_timeout,
            )?;
            return Ok(());
        }
        let entry = if credentials.is_identity_token() {
            serde_json::json!({ "identitytoken": credentials.secret })
        } else {
            let raw = format!("{}:{}", credentials.username, credentials.secret);
            serde_json::json!({ "auth": base64::engine::general_purpose::STANDARD.encode(raw) })
        };
        let root = config.as_object_mut().ok_or_else(|| Error::Credentials {
            detail: format!("{} is not a JSON object", self.config_path.display()),
        })?;
        let auths = root.entry("auths").or_insert_with(|| serde_json::json!({}));
        if let Some(auths) = auths.as_object_mut() {
            auths.insert(key, entry);
        }
        self.write_config(&config)
    }

    /// Removes stored credentials for `registry`.
    pub fn erase(&self, registry: &str) -> Result<()> {
        let _lock = self.lock()?;
        let mut config = self.read_config()?;
        let key = store_key(registry);
        if let Some(helper) = credential_program_for(&config, registry) {
            run_credential_program(
                &self.credential_program(&helper),
                "erase",
                key.as_bytes(),
                self.helper_timeout,
            )?;
            return Ok(());
        }
        if let Some(auths) = config.get_mut("auths").and_then(|a| a.as_object_mut()) {
            auths.remove(&key);
        }
        self.write_config(&config)
    }

    /// Orders our own read-modify-writes of config.json (the app's and the CLI's); docker takes
    /// no lock, so a concurrent `docker login` can still race, as it can with docker itself.
    fn lock(&self) -> Result<crate::files::FileLock> {
        crate::files::lock(&self.config_path)
            .map_err(|e| Error::io(format!("locking {}", self.config_path.display()), e))
    }

    fn write_config(&self, config: &serde_json::Value) -> Result<()> {
        let text = serde_json::to_vec_pretty(config).map_err(|e| Error::Credentials {
            detail: e.to_string(),
        })?;
        // The file holds passwords: readable by the user only, as docker creates it, and
        // replaced atomically, since a half-written config.json would lock the user out of every
        // registry at once.
        crate::files::write_private(&self.config_path, &text)
            .map_err(|e| Error::io(format!("writing {}", self.config_path.display()), e))
    }
}

fn store_key(registry: &str) -> String {
    if registry == DOCKER_HUB || registry == "index.docker.io" || registry == "registry-1.docker.io"
    {
        DOCKER_HUB_KEY.to_string()
    } else {
        registry.to_string()
    }
}

fn credential_program_for(config: &serde_json::Value, registry: &str) -> Option<String> {
    let per_registry = config
        .get("credHelpers")
        .and_then(|h| h.get(registry).or_else(|| h.get(store_key(registry))))
        .and_then(|h| h.as_str());
    per_registry
        .or_else(|| config.get("credsStore").and_then(|s| s.as_str()))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn program_get(helper: &Path, key: &str, timeout: Duration) -> Result<Option<Credentials>> {
    match run_credential_program(helper, "get", key.as_bytes(), timeout) {
        Ok(out) => {
            let reply: CredentialReply =
                serde_json::from_slice(&out).map_err(|_| Error::Credentials {
                    detail: format!(
                        "{} returned something that is not credentials JSON",
                        helper.display()
                    ),
                })?;
            Ok(Some(Credentials::new(reply.username, reply.secret)))
        }
        // The protocol reports a missing entry on stdout with a non-zero exit; treat it as none.
        Err(Error::Credentials { detail }) if detail.contains("credentials not found") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Runs `helper verb` with `input` on stdin and returns its stdout; a helper still running after
/// `timeout` is killed. This blocks: async callers run it on a blocking thread.
fn run_credential_program(
    helper: &Path,
    verb: &str,
    input: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>> {
    let program = helper.display().to_string();
    let mut child = Command::new(helper)
        .arg(verb)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Credentials {
            detail: format!(
                "cannot run {program} ({e}); install it or remove it from the docker config"
            ),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading its input is answered by its exit status below.
        let _ = stdin.write_all(input);
    }
    // The output is read on threads so that a helper writing more than a pipe holds cannot
    // block itself, and us, before it exits.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            if let Some(pipe) = pipe {
                let _ = pipe.take(MAX_HELPER_OUTPUT).read_to_end(&mut out);
            }
            out
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child
            .try_wait()
            .map_err(|e| Error::io(format!("running {program}"), e))?
        {
            Some(status) => break status,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::Credentials {
                    detail: format!(
                        "{program} {verb} did not answer within {} s and was stopped; unlock \
                         the keychain it uses, or check the helper with `{program} {verb}`",
                        timeout.as_secs()
                    ),
                });
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    drop(stderr.join());
    if status.success() {
        Ok(stdout)
    } else {
        // Helpers print a short reason; it never contains the secret we are looking for.
        let reason: String = String::from_utf8_lossy(&stdout)
            .trim()
            .chars()
            .take(300)
            .collect();
        Err(Error::Credentials {
            detail: format!("{program} {verb} failed: {reason}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_secret() {
        let c = Credentials::new("alice", "hunter2");
        let shown = format!("{c:?}");
        assert!(shown.contains("alice") && !shown.contains("hunter2"));
    }

    #[test]
    fn store_then_get_round_trips_through_auths() {
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::at(dir.path().join("config.json"));
        assert_eq!(store.get("localhost:5000").unwrap(), None);
        store
            .store("localhost:5000", &Credentials::new("bob", "pw:with:colons"))
            .unwrap();
        let got = store.get("localhost:5000").unwrap().unwrap();
        assert_eq!(got, Credentials::new("bob", "pw:with:colons"));
        store.erase("localhost:5000").unwrap();
        assert_eq!(store.get("localhost:5000").unwrap(), None);
    }

    #[cfg(unix)]
    #[test]
    fn the_docker_config_is_written_private_and_concurrent_logins_keep_every_entry() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docker/config.json");
        let threads: Vec<_> = (0..6)
            .map(|i| {
                let store = CredentialStore::at(&path);
                std::thread::spawn(move || {
                    for j in 0..10 {
                        let registry = format!("r{i}-{j}.example");
                        store.store(&registry, &Credentials::new("u", "p")).unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(config["auths"].as_object().unwrap().len(), 60);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
    }

    #[test]
    fn identity_tokens_are_read_and_stored_as_docker_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        // As `docker login` leaves it for a registry that issued an identity token.
        std::fs::write(
            &path,
            r#"{"auths":{"r.example":{"auth":"MDAwMDAwMDA6","identitytoken":"refresh-me"}}}"#,
        )
        .unwrap();
        let store = CredentialStore::at(&path);
        let got = store.get("r.example").unwrap().unwrap();
        assert!(got.is_identity_token());
        assert_eq!(got.secret(), "refresh-me");
        assert!(!format!("{got:?}").contains("refresh-me"));

        store
            .store("other.example", &Credentials::identity_token("t2"))
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(r#""identitytoken": "t2""#), "{text}");
        assert_eq!(
            store.get("other.example").unwrap(),
            Some(Credentials::identity_token("t2"))
        );
    }

    #[test]
    fn a_missing_credential_program_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"credHelpers":{"r.example":"slipway-nonexistent"}}"#,
        )
        .unwrap();
        let err = CredentialStore::at(&path).get("r.example").unwrap_err();
        assert!(err
            .to_string()
            .contains("docker-credential-slipway-nonexistent"));
    }

    #[cfg(unix)]
    #[test]
    fn credential_programs_are_asked_through_the_docker_protocol() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // A helper that knows one registry; the program name is what config.json names.
        let helper = dir.path().join("docker-credential-slipwaytest");
        std::fs::write(
            &helper,
            "#!/bin/sh\nread server\nif [ \"$1\" = get ] && [ \"$server\" = r.example:5000 ]; then\n  echo '{\"ServerURL\":\"r.example:5000\",\"Username\":\"carol\",\"Secret\":\"s3\"}'\nelse\n  echo 'credentials not found in native keychain'; exit 1\nfi\n",
        )
        .unwrap();
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let config = dir.path().join("config.json");
        std::fs::write(
            &config,
            r#"{"credHelpers":{"r.example:5000":"slipwaytest"},"auths":{}}"#,
        )
        .unwrap();
        // And through the store, with the helper's directory on PATH for the child only.
        let store = CredentialStore::at(&config).with_credential_program_dir(dir.path());
        assert_eq!(
            store.get("r.example:5000").unwrap(),
            Some(Credentials::new("carol", "s3"))
        );
        assert_eq!(store.get("other.example").unwrap(), None);
    }
}
