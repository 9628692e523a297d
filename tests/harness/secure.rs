//! Registries with TLS and authentication: TLS with a CA made here plus htpasswd
//! (bcrypt) Basic auth, and token auth with a small token server that signs JWTs with a test key.
//!
//! Certificates and keys are made with the `openssl` command and the password file with
//! `htpasswd -B`, the same tools an administrator would use, so the registry sees exactly what it
//! sees in production.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::registry::{Registry, RegistryConfig};
use crate::run;

/// The user every secured test registry accepts.
pub const TEST_USER: &str = "slipway";
/// Their password.
pub const TEST_PASSWORD: &str = "correct horse battery staple";
/// The identity (OAuth2 refresh) token the token server accepts for them, as `docker login`
/// stores for registries that issue one.
pub const TEST_IDENTITY_TOKEN: &str = "slipway-refresh-0123456789";

/// A CA and a server certificate for 127.0.0.1/localhost signed by it.
#[derive(Debug)]
pub struct TestPki {
    dir: tempfile::TempDir,
}

impl TestPki {
    pub fn new() -> TestPki {
        let dir = tempfile::tempdir().expect("pki dir");
        let p = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
        self_signed(
            "/CN=Slipway Test CA",
            Path::new(&p("ca.key")),
            Path::new(&p("ca.crt")),
        );
        run(
            "openssl",
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                &p("server.key"),
                "-out",
                &p("server.csr"),
            ],
        );
        std::fs::write(
            dir.path().join("ext.cnf"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        run(
            "openssl",
            &[
                "x509",
                "-req",
                "-in",
                &p("server.csr"),
                "-CA",
                &p("ca.crt"),
                "-CAkey",
                &p("ca.key"),
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &p("ext.cnf"),
                "-out",
                &p("server.crt"),
            ],
        );
        TestPki { dir }
    }

    /// The CA certificate clients must trust.
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// A directory with `ca.crt`, as skopeo's `--cert-dir` and docker's certs.d expect.
    pub fn cert_dir(&self) -> PathBuf {
        let d = self.dir.path().join("certs");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(self.ca_cert(), d.join("ca.crt")).unwrap();
        d
    }

    /// The server certificate (for 127.0.0.1 and localhost) and its key, for servers made here.
    pub fn server_cert(&self) -> PathBuf {
        self.path("server.crt")
    }

    pub fn server_key(&self) -> PathBuf {
        self.path("server.key")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Default for TestPki {
    fn default() -> Self {
        TestPki::new()
    }
}

/// A registry over TLS with htpasswd Basic auth; the PKI lives as long as it does.
#[derive(Debug)]
pub struct SecureRegistry {
    pub registry: Registry,
    pub pki: TestPki,
    _files: tempfile::TempDir,
    _token_server: Option<TokenServer>,
}

impl std::ops::Deref for SecureRegistry {
    type Target = Registry;
    fn deref(&self) -> &Registry {
        &self.registry
    }
}

impl Registry {
    /// TLS with a test CA and htpasswd (bcrypt) Basic auth for [`TEST_USER`].
    pub fn tls_htpasswd() -> SecureRegistry {
        let pki = TestPki::new();
        let files = tempfile::tempdir().unwrap();
        let htpasswd = files.path().join("htpasswd");
        run(
            "htpasswd",
            &[
                "-Bbc",
                &htpasswd.to_string_lossy(),
                TEST_USER,
                TEST_PASSWORD,
            ],
        );
        let registry = Registry::start(RegistryConfig {
            http_extra: format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                pki.path("server.crt").display(),
                pki.path("server.key").display()
            ),
            top_extra: format!(
                "auth:\n  htpasswd:\n    realm: slipway-test\n    path: {}\n",
                htpasswd.display()
            ),
            tls: true,
            ..Default::default()
        });
        SecureRegistry {
            registry,
            pki,
            _files: files,
            _token_server: None,
        }
    }

    /// Plain HTTP with token auth (`auth: token`): a token server on another port signs JWTs
    /// with a test key whose certificate is the registry's `rootcertbundle`. It grants what is
    /// asked to [`TEST_USER`] and nothing to anonymous clients.
    pub fn token() -> SecureRegistry {
        let pki = TestPki::new();
        let files = tempfile::tempdir().unwrap();
        let server = TokenServer::start(files.path());
        let registry = Registry::start(RegistryConfig {
            top_extra: format!(
                "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: slipway-test\n    issuer: slipway-test-issuer\n    rootcertbundle: {}\n",
                server.port,
                server.cert.display()
            ),
            ..Default::default()
        });
        SecureRegistry {
            registry,
            pki,
            _files: files,
            _token_server: Some(server),
        }
    }
}

/// The token server: `GET /token?service=..&scope=..` with optional Basic auth, answered by a
/// thread with its own runtime so it serves sync and async tests alike.
#[derive(Debug)]
pub struct TokenServer {
    pub port: u16,
    cert: PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TokenServer {
    fn start(dir: &Path) -> TokenServer {
        let key = dir.join("token.key");
        let cert = dir.join("token.crt");
        self_signed("/CN=slipway token signer", &key, &cert);
        let der = run_bytes(
            "openssl",
            &["x509", "-in", &cert.to_string_lossy(), "-outform", "DER"],
        );
        let x5c = base64::engine::general_purpose::STANDARD.encode(der);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let state = std::sync::Arc::new((key, x5c));
                let for_post = state.clone();
                let app = axum::Router::new().route(
                    "/token",
                    axum::routing::get(
                        move |headers: axum::http::HeaderMap, query: axum::extract::RawQuery| {
                            let state = state.clone();
                            async move {
                                match basic_grant(&headers) {
                                    Some(authorized) => issue_token(
                                        &state.0,
                                        &state.1,
                                        authorized,
                                        "token",
                                        query.0.unwrap_or_default(),
                                    ),
                                    None => wrong_credentials(),
                                }
                            }
                        },
                    )
                    .post(move |form: String| {
                        let state = for_post.clone();
                        async move {
                            match refresh_grant(&form) {
                                Some(authorized) => issue_token(
                                    &state.0,
                                    &state.1,
                                    authorized,
                                    "access_token",
                                    form,
                                ),
                                None => wrong_credentials(),
                            }
                        }
                    }),
                );
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await;
            });
        });
        TokenServer {
            port,
            cert,
            shutdown: Some(tx),
        }
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn run_bytes(program: &str, args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{program} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `Some(authorized)` for a GET with no or the right Basic credentials, `None` for wrong ones.
fn basic_grant(headers: &axum::http::HeaderMap) -> Option<bool> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let Some(header) = headers.get("authorization") else {
        return Some(false);
    };
    header
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| b64.decode(v).ok())
        .is_some_and(|raw| raw == format!("{TEST_USER}:{TEST_PASSWORD}").as_bytes())
        .then_some(true)
}

/// The OAuth2 flow (`POST` form, `grant_type=refresh_token`): `Some(true)` for
/// [`TEST_IDENTITY_TOKEN`], `None` for any other token or grant.
fn refresh_grant(form: &str) -> Option<bool> {
    let field = |name: &str| {
        form.split('&')
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
    };
    let right = field("grant_type").as_deref() == Some("refresh_token")
        && field("refresh_token").as_deref() == Some(TEST_IDENTITY_TOKEN)
        && field("client_id").is_some();
    right.then_some(true)
}

fn wrong_credentials() -> (axum::http::StatusCode, String) {
    (
        axum::http::StatusCode::UNAUTHORIZED,
        r#"{"details":"wrong credentials"}"#.to_string(),
    )
}

/// Signs a JWT granting the scopes in `scopes` (a query string or form with `scope=` fields)
/// to an authorized client, and nothing to an anonymous one; `field` is the reply's token name
/// (`token` for the GET flow, `access_token` for OAuth2).
fn issue_token(
    key: &Path,
    x5c: &str,
    authorized: bool,
    field: &str,
    query: String,
) -> (axum::http::StatusCode, String) {
    let mut access = Vec::new();
    for pair in query.split('&') {
        let Some(scope) = pair.strip_prefix("scope=") else {
            continue;
        };
        let scope = scope
            .replace("%3A", ":")
            .replace("%2C", ",")
            .replace("%2F", "/")
            .replace('+', " ");
        for one in scope.split(' ') {
            let mut parts = one.rsplitn(2, ':');
            let actions = parts.next().unwrap_or_default();
            let rest = parts.next().unwrap_or_default();
            let Some((kind, name)) = rest.split_once(':') else {
                continue;
            };
            // Anonymous clients get nothing: the registry then answers 401, as a locked-down
            // registry would.
            let granted: Vec<&str> = if authorized {
                actions.split(',').collect()
            } else {
                Vec::new()
            };
            access.push(serde_json::json!({ "type": kind, "name": name, "actions": granted }));
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = serde_json::json!({ "alg": "RS256", "typ": "JWT", "x5c": [x5c] });
    let claims = serde_json::json!({
        "iss": "slipway-test-issuer",
        "sub": if authorized { TEST_USER } else { "" },
        "aud": "slipway-test",
        "exp": now + 300,
        "nbf": now - 10,
        "iat": now,
        "jti": format!("{now}-{}", crate::unique("jti")),
        "access": access,
    });
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let signing_input = format!(
        "{}.{}",
        url.encode(header.to_string()),
        url.encode(claims.to_string())
    );
    let mut child = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-sign", &key.to_string_lossy()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl");
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(signing_input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let token = format!("{signing_input}.{}", url.encode(out.stdout));
    (
        axum::http::StatusCode::OK,
        serde_json::json!({ field: token, "expires_in": 300 }).to_string(),
    )
}

/// A throwaway RSA key and a self-signed certificate for it, valid two days: the test CA, and the
/// token server's signing certificate.
fn self_signed(subject: &str, key: &Path, cert: &Path) {
    run(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            subject,
            "-keyout",
            &key.to_string_lossy(),
            "-out",
            &cert.to_string_lossy(),
        ],
    );
}
