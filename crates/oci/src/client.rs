//! The transport: one [`Client`] per registry, choosing HTTPS or HTTP, trusting extra CAs,
//! answering `WWW-Authenticate` challenges (Basic and Bearer) and retrying what may be retried.
//!
//! Scheme: like docker, we always try HTTPS first. Plain HTTP is used only when HTTPS fails AND the
//! registry is on loopback or the caller marked it insecure; otherwise a registry that speaks only
//! HTTP gets an error saying so, because credentials would otherwise travel in clear text.
//!
//! Registries are not trusted to keep those promises for us. A URL the registry hands back (an
//! upload `Location`, a `Link: rel="next"`, a redirect) gets our Authorization header only when its
//! scheme, host and port are the registry's own, as distribution's client does (it attaches
//! credentials only to the endpoint that challenged); and nothing follows HTTPS down to HTTP.
//! Nothing waits forever either: every request has a read timeout, small ones an overall one
//! ([`Timeouts`]), and every body we keep in memory has a size limit.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode, Url};
use serde::Serialize;
use tokio::sync::OnceCell;

use crate::credentials::{CredentialStore, Credentials};
use crate::error::{Error, Result};
use crate::reference::{host_is_loopback, validate_host, DOCKER_HUB, DOCKER_HUB_API};

mod challenge;
mod limits;
mod origin;

use challenge::parse_challenge;
use limits::{counted, pieces, Watched, LARGE_BODY, MAX_TOKEN_LIFETIME};
pub use limits::{Timeouts, MAX_ERROR_BODY, MAX_TOKEN_BODY, TIMEOUT_ENV};
use origin::{origin, redirect_policy, refused_redirect};

/// Where a client gets its credentials.
#[derive(Debug, Clone, Default)]
pub enum CredentialSource {
    /// Anonymous access only.
    None,
    /// These credentials, typically typed by the user.
    Explicit(Credentials),
    /// Docker's store (`~/.docker/config.json` and its helpers), as `docker` itself would.
    #[default]
    DockerConfig,
    /// A store at another path (tests, or a profile with its own config).
    Store(CredentialStore),
}

/// How often and how patiently to retry 429, 5xx and dropped connections.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Total attempts including the first.
    pub attempts: u32,
    /// The first back-off; it doubles each attempt.
    pub base_delay: Duration,
    /// No single wait (including a server's Retry-After) is longer than this.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    pub(crate) fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let backoff = self.base_delay.saturating_mul(1 << attempt.min(16));
        retry_after.unwrap_or(backoff).min(self.max_delay)
    }
}

/// How to reach one registry.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Allow plain HTTP when HTTPS fails (loopback registries are always allowed it).
    pub insecure: bool,
    /// A PEM file with extra CA certificates to trust for this registry.
    pub ca_file: Option<PathBuf>,
    pub credentials: CredentialSource,
    pub retry: RetryPolicy,
    /// The certs.d root (default `/etc/docker/certs.d`); `<root>/<host:port>/*.crt` are trusted.
    pub certs_dir: Option<PathBuf>,
    pub timeouts: Timeouts,
}

/// The authentication scheme a registry asked for, learnt from its challenges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    None,
    Basic,
    Bearer,
}

#[derive(Debug, Clone)]
enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// The access a request needs, in the token spec's scope syntax (`repository:NAME:pull,push`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Scope(Vec<String>);

impl Scope {
    pub fn none() -> Scope {
        Scope(Vec::new())
    }
    pub fn pull(repository: &str) -> Scope {
        Scope(vec![format!("repository:{repository}:pull")])
    }
    pub fn push(repository: &str) -> Scope {
        Scope(vec![format!("repository:{repository}:pull,push")])
    }
    pub fn delete(repository: &str) -> Scope {
        Scope(vec![format!("repository:{repository}:pull,delete")])
    }
    pub fn catalog() -> Scope {
        Scope(vec!["registry:catalog:*".to_string()])
    }
    /// Push to `repository` and pull from `from`: what a cross-repository mount needs.
    pub fn mount(repository: &str, from: &str) -> Scope {
        Scope(vec![
            format!("repository:{repository}:pull,push"),
            format!("repository:{from}:pull"),
        ])
    }
    fn key(&self) -> String {
        self.0.join(" ")
    }
}

#[derive(Default)]
struct AuthState {
    challenge: Option<Challenge>,
    tokens: HashMap<String, (String, Instant)>,
}

struct Inner {
    registry: String,
    host: String,
    /// Requests whose answer we wait for: the read timeout also bounds the wait for headers.
    http: reqwest::Client,
    /// Requests with a large body: reqwest's read timeout runs from the start of the request, so
    /// these are watched for progress instead (see [`Client::send_once`]).
    upload_http: reqwest::Client,
    allow_http: bool,
    insecure: bool,
    base: OnceCell<String>,
    source: CredentialSource,
    /// Looked up on the first challenge, off the async workers (a helper may wait on a keychain).
    credentials: OnceCell<Option<Credentials>>,
    auth: Mutex<AuthState>,
    retry: RetryPolicy,
    timeouts: Timeouts,
}

/// A client for one registry. Cheap to clone; clones share connections and the token cache.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("registry", &self.inner.registry)
            .finish_non_exhaustive()
    }
}

/// A request body that can be sent again on retry.
#[derive(Clone, Debug)]
pub(crate) enum Body {
    Empty,
    Bytes(Bytes),
}

pub(crate) struct Request {
    pub method: Method,
    /// A path starting with `/v2/`, or an absolute URL the registry gave us (Location, Link).
    pub url: String,
    pub headers: Vec<(HeaderName, String)>,
    pub body: Body,
    pub scope: Scope,
    /// A blob download: no overall time limit, only the read timeout.
    pub streaming: bool,
}

impl Request {
    pub fn new(method: Method, url: impl Into<String>, scope: Scope) -> Request {
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Body::Empty,
            scope,
            streaming: false,
        }
    }
    /// Marks a request whose body may take long to arrive (a blob).
    pub fn streaming(mut self) -> Request {
        self.streaming = true;
        self
    }
    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Request {
        self.headers.push((name, value.into()));
        self
    }
    pub fn body(mut self, body: Bytes) -> Request {
        self.body = Body::Bytes(body);
        self
    }
}

#[derive(serde::Deserialize)]
struct TokenReply {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl Client {
    /// A client for `registry` (`host[:port]` as written in references).
    pub fn new(registry: &str, options: ClientOptions) -> Result<Client> {
        validate_host(registry)?;
        let host = if registry == DOCKER_HUB {
            DOCKER_HUB_API.to_string()
        } else {
            registry.to_string()
        };
        let timeouts = options.timeouts;
        let mut ca_files: Vec<PathBuf> = options.ca_file.iter().cloned().collect();
        let certs_root = options
            .certs_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("/etc/docker/certs.d"));
        ca_files.extend(certs_d_files(&certs_root.join(registry)));
        let mut roots = Vec::new();
        for file in &ca_files {
            let pem = std::fs::read(file)
                .map_err(|e| Error::io(format!("reading CA file {}", file.display()), e))?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| Error::Credentials {
                    detail: format!("{} is not a PEM certificate bundle ({e})", file.display()),
                })?;
            roots.extend(certs);
        }
        let build = |read_timeout: Option<Duration>| {
            let mut builder = reqwest::Client::builder()
                .use_rustls_tls()
                .connect_timeout(timeouts.connect)
                .pool_idle_timeout(Duration::from_secs(60))
                .user_agent(concat!("slipway/", env!("CARGO_PKG_VERSION")))
                .redirect(redirect_policy());
            if let Some(read) = read_timeout {
                builder = builder.read_timeout(read);
            }
            for cert in &roots {
                builder = builder.add_root_certificate(cert.clone());
            }
            builder.build().map_err(|e| Error::Transport {
                registry: registry.to_string(),
                detail: e.to_string(),
            })
        };
        Ok(Client {
            inner: Arc::new(Inner {
                registry: registry.to_string(),
                host,
                http: build(Some(timeouts.read))?,
                upload_http: build(None)?,
                allow_http: options.insecure || host_is_loopback(registry),
                insecure: options.insecure,
                base: OnceCell::new(),
                source: options.credentials.clone(),
                credentials: OnceCell::new(),
                auth: Mutex::new(AuthState::default()),
                retry: options.retry,
                timeouts,
            }),
        })
    }

    pub fn registry(&self) -> &str {
        &self.inner.registry
    }

    /// Whether credentials are known for this registry (looking them up if need be).
    pub async fn has_credentials(&self) -> Result<bool> {
        Ok(self.credentials().await?.is_some())
    }

    /// The credentials for this registry, looked up once. A credential helper is a program that
    /// may wait on a keychain or a PIN prompt, so it runs on a blocking thread (with the store's
    /// timeout), never on an async worker that other requests and the UI's commands share.
    async fn credentials(&self) -> Result<Option<&Credentials>> {
        self.inner
            .credentials
            .get_or_try_init(|| async {
                let store = match &self.inner.source {
                    CredentialSource::None => return Ok(None),
                    CredentialSource::Explicit(c) => return Ok(Some(c.clone())),
                    CredentialSource::DockerConfig => CredentialStore::docker_default(),
                    CredentialSource::Store(store) => store.clone(),
                };
                let registry = self.inner.registry.clone();
                tokio::task::spawn_blocking(move || store.get(&registry))
                    .await
                    .map_err(|e| Error::Credentials {
                        detail: format!("the credential lookup stopped: {e}"),
                    })?
            })
            .await
            .map(Option::as_ref)
    }

    pub(crate) fn timeouts(&self) -> Timeouts {
        self.inner.timeouts
    }

    pub(crate) fn retry_policy(&self) -> RetryPolicy {
        self.inner.retry
    }

    /// The auth scheme the registry asked for so far (after [`Client::base_url`] it is known).
    pub fn auth_kind(&self) -> AuthKind {
        match &self.inner.auth.lock().expect("auth lock").challenge {
            None => AuthKind::None,
            Some(Challenge::Basic) => AuthKind::Basic,
            Some(Challenge::Bearer { .. }) => AuthKind::Bearer,
        }
    }

    /// `https://host` or `http://host`, decided once by probing `/v2/`.
    pub async fn base_url(&self) -> Result<&str> {
        self.inner
            .base
            .get_or_try_init(|| self.choose_scheme())
            .await
            .map(String::as_str)
    }

    async fn choose_scheme(&self) -> Result<String> {
        let https = format!("https://{}", self.inner.host);
        let request = self.inner.timeouts.request;
        let tls_err = match self
            .inner
            .http
            .get(format!("{https}/v2/"))
            .timeout(request)
            .send()
            .await
        {
            Ok(resp) => {
                self.learn_challenge(resp.headers());
                return Ok(https);
            }
            Err(e) => e,
        };
        // A certificate error proves the server speaks TLS: falling back to HTTP would only
        // hide the real problem (and a TLS server answers plain HTTP with a 400 anyway).
        let tls_failure = self.classify_send_error(&tls_err);
        if matches!(tls_failure, Error::UnknownCertificate { .. }) {
            return Err(tls_failure);
        }
        let http = format!("http://{}", self.inner.host);
        match self
            .inner
            .http
            .get(format!("{http}/v2/"))
            .timeout(request)
            .send()
            .await
        {
            Ok(resp) if !looks_like_registry(&resp) => Err(tls_failure),
            Ok(resp) if self.inner.allow_http => {
                self.learn_challenge(resp.headers());
                Ok(http)
            }
            Ok(_) => Err(Error::HttpToHttps {
                registry: self.inner.registry.clone(),
            }),
            Err(_) => Err(tls_failure),
        }
    }

    fn learn_challenge(&self, headers: &HeaderMap) {
        if let Some(challenge) = headers
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_challenge)
        {
            self.inner.auth.lock().expect("auth lock").challenge = Some(challenge);
        }
    }

    pub(crate) fn classify_send_error(&self, e: &reqwest::Error) -> Error {
        let chain = error_chain(e);
        let registry = self.inner.registry.clone();
        let lower = chain.to_lowercase();
        if let Some(refused) = refused_redirect(e) {
            return Error::InsecureUrl {
                registry,
                what: "a redirect".to_string(),
                target: refused,
            };
        }
        if e.is_timeout() && !e.is_connect() {
            return self.timed_out(chain);
        }
        if lower.contains("certificate")
            || lower.contains("unknownissuer")
            || lower.contains("invalid peer")
        {
            Error::UnknownCertificate {
                registry,
                detail: chain,
            }
        } else if e.is_connect() || e.is_timeout() && !e.is_body() {
            Error::Unreachable {
                registry,
                detail: chain,
            }
        } else {
            Error::Transport {
                registry,
                detail: chain,
            }
        }
    }

    pub(crate) fn timed_out(&self, detail: String) -> Error {
        Error::TimedOut {
            registry: self.inner.registry.clone(),
            seconds: self.inner.timeouts.read.as_secs(),
            detail,
        }
    }

    /// hold none for this scope yet (so bodies that cannot be replayed are sent authenticated).
    pub(crate) async fn auth_header(&self, scope: &Scope) -> Result<Option<String>> {
        let challenge = {
            let state = self.inner.auth.lock().expect("auth lock");
            match &state.challenge {
                None => return Ok(None),
                Some(Challenge::Basic) => None,
                Some(c @ Challenge::Bearer { .. }) => {
                    if let Some((token, expiry)) = state.tokens.get(&scope.key()) {
                        if *expiry > Instant::now() {
                            return Ok(Some(format!("Bearer {token}")));
                        }
                    }
                    Some(c.clone())
                }
            }
        };
        match challenge {
            None => Ok(self.credentials().await?.map(Credentials::basic_header)),
            Some(challenge) => {
                let token = self.fetch_token(&challenge, scope).await?;
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    async fn fetch_token(&self, challenge: &Challenge, scope: &Scope) -> Result<String> {
        let Challenge::Bearer {
            realm,
            service,
            scope: challenge_scope,
        } = challenge
        else {
            return Err(self.protocol("fetch_token called for a non-Bearer challenge"));
        };
        // The realm is the registry's word, but what we send there is the user's: never in clear
        // text off this machine unless the user said the network is trusted.
        let realm_url = Url::parse(realm)
            .map_err(|e| self.protocol(format!("the token realm `{realm}` is not a URL: {e}")))?;
        let realm_is_local = realm_url
            .host_str()
            .is_some_and(|h| h == "localhost" || host_is_loopback(h));
        match realm_url.scheme() {
            "https" => {}
            "http" if self.inner.insecure || realm_is_local => {}
            "http" => {
                return Err(Error::InsecureRealm {
                    registry: self.inner.registry.clone(),
                    realm: origin(&realm_url),
                })
            }
            _ => return Err(self.protocol(format!("the token realm `{realm}` is not an HTTP URL"))),
        }
        let credentials = self.credentials().await?;
        let mut query: Vec<(&str, String)> = Vec::new();
        if let Some(service) = service {
            query.push(("service", service.clone()));
        }
        if scope.0.is_empty() {
            if let Some(s) = challenge_scope {
                query.push(("scope", s.clone()));
            }
        } else {
            for s in &scope.0 {
                query.push(("scope", s.clone()));
            }
        }
        let req = match credentials {
            // The token spec's OAuth2 flow: an identity token is a refresh token, POSTed as a
            // form with all scopes in one space-separated `scope`; client_id is required there.
            Some(creds) if creds.is_identity_token() => {
                let scopes: Vec<&str> = query
                    .iter()
                    .filter(|(k, _)| *k == "scope")
                    .map(|(_, v)| v.as_str())
                    .collect();
                let mut form: Vec<(&str, String)> = vec![
                    ("grant_type", "refresh_token".to_string()),
                    ("refresh_token", creds.secret().to_string()),
                    ("client_id", "slipway".to_string()),
                ];
                if let Some(service) = service {
                    form.push(("service", service.clone()));
                }
                if !scopes.is_empty() {
                    form.push(("scope", scopes.join(" ")));
                }
                self.inner.http.post(realm).form(&form)
            }
            Some(creds) => self
                .inner
                .http
                .get(realm)
                .query(&query)
                .header(AUTHORIZATION, creds.basic_header()),
            None => self.inner.http.get(realm).query(&query),
        };
        let resp = req
            .timeout(self.inner.timeouts.request)
            .send()
            .await
            .map_err(|e| self.classify_send_error(&e))?;
        let status = resp.status();
        if !status.is_success() {
            let detail = format!("the token server {realm} answered {status}");
            return Err(match status {
                StatusCode::UNAUTHORIZED => Error::Unauthorized {
                    registry: self.inner.registry.clone(),
                    detail,
                },
                StatusCode::FORBIDDEN => Error::Denied {
                    registry: self.inner.registry.clone(),
                    scope: scope.key(),
                    action: "the requested".to_string(),
                    detail: format!(" ({detail})"),
                },
                _ => Error::Protocol {
                    registry: self.inner.registry.clone(),
                    detail,
                },
            });
        }
        let body = self
            .read_capped(resp, MAX_TOKEN_BODY, "the token reply")
            .await?;
        let reply: TokenReply = serde_json::from_slice(&body).map_err(|e| {
            self.protocol(format!("the token server {realm} sent no token JSON ({e})"))
        })?;
        let token = reply
            .token
            .or(reply.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                self.protocol(format!("the token server {realm} sent an empty token"))
            })?;
        // The token spec says a missing expires_in means 60 seconds; keep a margin so a token
        // never expires between our check and the registry's.
        let lifetime = Duration::from_secs(reply.expires_in.unwrap_or(60).max(10))
            .min(MAX_TOKEN_LIFETIME)
            - Duration::from_secs(5);
        let now = Instant::now();
        let expiry = now.checked_add(lifetime).unwrap_or(now);
        self.inner
            .auth
            .lock()
            .expect("auth lock")
            .tokens
            .insert(scope.key(), (token.clone(), expiry));
        Ok(token)
    }

    pub(crate) fn protocol(&self, detail: impl Into<String>) -> Error {
        Error::Protocol {
            registry: self.inner.registry.clone(),
            detail: detail.into(),
        }
    }

    /// Sends a replayable request: authenticates on a 401 challenge (once), and retries 429, 5xx
    /// and dropped connections with back-off, honouring Retry-After. Returns the last response
    /// whatever its status; callers turn statuses into errors with [`Client::status_error`].
    pub(crate) async fn send(&self, req: Request) -> Result<Response> {
        self.send_tracked(req).await.map(|(resp, _)| resp)
    }

    /// Like [`Client::send`], and also says whether an earlier attempt may have taken effect
    /// although its answer was lost (a dropped connection or a 5xx after the request went out).
    /// A DELETE or an upload-completing PUT retried after such an attempt may then meet a 404
    /// for work that was in fact done; the caller checks the outcome before reporting a failure.
    pub(crate) async fn send_tracked(&self, req: Request) -> Result<(Response, bool)> {
        let target = self
            .target(&req.url, "a URL (an upload Location or a next-page Link)")
            .await?;
        let policy = self.inner.retry;
        let mut attempt = 0;
        let mut authenticated_retry = false;
        let mut maybe_done = false;
        // reqwest's read timeout runs from the start of a request, so a large body on a slow link
        // would hit it while still uploading: such a body goes through the upload client, watched
        // for progress instead.
        let large = matches!(&req.body, Body::Bytes(b) if b.len() > LARGE_BODY);
        loop {
            let http = if large {
                &self.inner.upload_http
            } else {
                &self.inner.http
            };
            let mut builder = http.request(req.method.clone(), target.url.clone());
            if !req.streaming && !large {
                builder = builder.timeout(self.inner.timeouts.request);
            }
            for (name, value) in &req.headers {
                builder = builder.header(name, value);
            }
            if target.same_origin {
                if let Some(auth) = self.auth_header(&req.scope).await? {
                    builder = builder.header(AUTHORIZATION, auth);
                }
            }
            let taken = Arc::new(AtomicU64::new(0));
            builder = match &req.body {
                Body::Empty => builder,
                Body::Bytes(b) if large => builder.body(reqwest::Body::wrap_stream(counted(
                    pieces(b),
                    taken.clone(),
                ))),
                Body::Bytes(b) => builder.body(b.clone()),
            };
            let sent = if large {
                self.watched(builder.send(), &taken).await
            } else {
                builder.send().await.map_err(Watched::Send)
            };
            let resp = match sent {
                Ok(resp) => resp,
                Err(Watched::Stalled(e)) => return Err(e),
                Err(Watched::Send(e)) => {
                    let err = self.classify_send_error(&e);
                    if err.is_transient() && attempt + 1 < policy.attempts {
                        maybe_done |= !e.is_connect();
                        tokio::time::sleep(policy.delay(attempt, None)).await;
                        attempt += 1;
                        continue;
                    }
                    return Err(err);
                }
            };
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED && !authenticated_retry && target.same_origin {
                if let Some(challenge) = resp
                    .headers()
                    .get(WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_challenge)
                {
                    authenticated_retry = true;
                    let is_basic = matches!(challenge, Challenge::Basic);
                    {
                        let mut state = self.inner.auth.lock().expect("auth lock");
                        state.challenge = Some(challenge);
                        // A 401 with a token we held means it expired or lacks this scope.
                        state.tokens.remove(&req.scope.key());
                    }
                    if is_basic && self.credentials().await?.is_none() {
                        return Ok((resp, maybe_done));
                    }
                    continue;
                }
            }
            if (status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error())
                && attempt + 1 < policy.attempts
            {
                maybe_done |= status.is_server_error();
                let retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                tokio::time::sleep(policy.delay(attempt, retry_after)).await;
                attempt += 1;
                continue;
            }
            return Ok((resp, maybe_done));
        }
    }

    /// Sends a request once with a body that cannot be replayed (a stream). The caller has made
    /// sure a token for `scope` is cached (any earlier request in the same scope does that).
    ///
    /// A large body can take far longer than any fixed limit, so instead of an overall timeout
    /// the request is watched for progress: it fails when the connection has taken no piece of
    /// the body, and no answer has come, for [`Timeouts::read`].
    pub(crate) async fn send_once<S>(
        &self,
        method: Method,
        url: &str,
        headers: Vec<(HeaderName, String)>,
        body: S,
        scope: &Scope,
    ) -> Result<Response>
    where
        S: futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    {
        let taken = Arc::new(AtomicU64::new(0));
        let body = reqwest::Body::wrap_stream(counted(body, taken.clone()));
        let target = self.target(url, "an upload location").await?;
        let mut builder = self
            .inner
            .upload_http
            .request(method, target.url)
            .body(body);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        if target.same_origin {
            if let Some(auth) = self.auth_header(scope).await? {
                builder = builder.header(AUTHORIZATION, auth);
            }
        }
        self.watched(builder.send(), &taken)
            .await
            .map_err(|e| match e {
                Watched::Send(e) => self.classify_send_error(&e),
                Watched::Stalled(e) => e,
            })
    }

    /// app:1") for 404s, `scope` the access for 403s.
    pub(crate) async fn status_error(&self, resp: Response, what: &str, scope: &Scope) -> Error {
        let status = resp.status();
        let request = format!("{} {}", what, resp.url().path());
        let detail = self.error_detail(resp).await;
        let registry = self.inner.registry.clone();
        let attempts = self.inner.retry.attempts;
        match status {
            StatusCode::UNAUTHORIZED => Error::Unauthorized {
                registry,
                detail: if detail.is_empty() {
                    "401 Unauthorized".to_string()
                } else {
                    detail.trim_start_matches(": ").to_string()
                },
            },
            StatusCode::FORBIDDEN => Error::Denied {
                registry,
                scope: scope.key(),
                action: scope
                    .0
                    .first()
                    .and_then(|s| s.rsplit(':').next())
                    .unwrap_or("access")
                    .to_string(),
                detail,
            },
            StatusCode::NOT_FOUND => Error::NotFound {
                registry,
                what: what.to_string(),
            },
            StatusCode::PAYLOAD_TOO_LARGE => Error::TooLarge { registry },
            StatusCode::TOO_MANY_REQUESTS => Error::TooManyRequests { registry, attempts },
            s if s.is_server_error() => Error::Server {
                registry,
                status: s.as_u16(),
                attempts,
                detail,
            },
            s => Error::Unexpected {
                registry,
                request,
                status: s.as_u16(),
                detail,
            },
        }
    }
}

impl Client {
    /// The registry's error body (`{"errors":[{"code","message"}]}`) as `: CODE message`, or
    /// empty; at most [`MAX_ERROR_BODY`] of it is read.
    async fn error_detail(&self, resp: Response) -> String {
        let Ok(body) = self
            .read_capped(resp, MAX_ERROR_BODY, "an error body")
            .await
        else {
            return String::new();
        };
        error_detail(&body)
    }
}

/// The spec's error body (`{"errors":[{"code","message"}]}`) as `: CODE message`, or empty.
fn error_detail(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorEntry>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorEntry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_slice::<Errors>(body) {
        Ok(errors) if !errors.errors.is_empty() => {
            let parts: Vec<String> = errors
                .errors
                .iter()
                .map(|e| format!("{} {}", e.code, e.message).trim().to_string())
                .collect();
            format!(": {}", parts.join("; "))
        }
        _ => String::new(),
    }
}

/// A registry's `/v2/` answers 200 or 401, or at least names the API version; anything else on
/// the plain-HTTP port (a TLS server's 400, a web server's 404) is not a registry speaking HTTP.
fn looks_like_registry(resp: &Response) -> bool {
    resp.headers()
        .contains_key("docker-distribution-api-version")
        || resp.status() == StatusCode::OK
        || resp.status() == StatusCode::UNAUTHORIZED
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

fn certs_d_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "crt"))
        .collect();
    files.sort();
    files
}

/// The `rel="next"` target of a Link header (`</v2/_catalog?last=x&n=10>; rel="next"`).
pub(crate) fn next_link(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all(reqwest::header::LINK) {
        let value = value.to_str().ok()?;
        for part in value.split(',') {
            let (target, params) = part.split_once(';').unwrap_or((part, ""));
            if params.replace(' ', "").contains("rel=\"next\"")
                || params.replace(' ', "").contains("rel=next")
            {
                return Some(
                    target
                        .trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_string(),
                );
            }
        }
    }
    None
}

pub(crate) fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn hv(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).unwrap()
    }

    #[test]
    fn link_headers_give_the_next_page() {
        let mut h = HeaderMap::new();
        h.insert(
            reqwest::header::LINK,
            hv(r#"</v2/_catalog?last=b&n=2>; rel="next""#),
        );
        assert_eq!(next_link(&h).as_deref(), Some("/v2/_catalog?last=b&n=2"));
    }
}
