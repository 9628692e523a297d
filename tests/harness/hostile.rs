//! A hostile registry: an axum fake that does, on purpose, what a broken proxy, a misconfigured
//! registry or an attacker on the network path does and a real registry never will. It records
//! every request it gets (scheme, method, URL, Authorization), so a test can tell whether a
//! credential reached a place it must not.
//!
//! One port serves HTTPS and plain HTTP at once (the first byte of a connection tells a TLS
//! handshake from a request line), as a TLS-terminating proxy with a plain backend port does: that
//! is what makes same-host `https -> http` downgrades testable.
//!
//! Everything a real registry does is left to the real `docker-registry` (see [`crate::Registry`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::Request;
use axum::http::{Method, Response, StatusCode};
use base64::Engine as _;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;
use tokio_util::either::Either;

use crate::{TestPki, TEST_PASSWORD, TEST_USER};

/// Stands for the fake's own `127.0.0.1:PORT` in the URLs of a [`Misbehaviour`], which is set up
/// before the port is known.
pub const SELF: &str = "{self}";

/// What the fake does wrong. Everything it is not told to do wrong, it does like a small
/// registry with Basic auth for [`TEST_USER`] (see [`Hostile`]).
#[derive(Clone, Debug)]
pub enum Misbehaviour {
    /// Nothing: the "other host" that a URL points at, recording what reaches it.
    Honest,
    /// Opening an upload answers with this `Location`.
    UploadLocation(String),
    /// The tag list of `app` is these tags (escape sequences, say).
    Tags(Vec<String>),
    /// The tag list of `app` has one tag and `Link: <this>; rel="next"`.
    NextLink(String),
    /// `GET /v2/app/manifests/*` answers `307 Location: <this>`.
    Redirect(String),
    /// `/v2/` asks for a Bearer token at this realm.
    BearerRealm(String),
    /// The token server (the fake's own `/token`) sends this `expires_in`.
    TokenLifetime(u64),
    /// Bodies that never end: a manifest, a blob, an error, a token reply, a tag page.
    EndlessManifest,
    EndlessBlob,
    EndlessErrorBody,
    EndlessToken,
    EndlessTagPage,
    /// The tag list's `Link` points at itself.
    SelfLink,
    /// The tag list's `Link` points at a new page every time, forever.
    EndlessLinks,
    /// Accepts and then never answers: a manifest GET, the token server, a blob after its first
    /// KiB, an upload chunk (whose body it never reads).
    StallManifest,
    StallToken,
    StallBlobMidway,
    StallUpload,
    /// A cross-repository mount is refused with 403, as registries with per-repository access
    /// do when the source may not be read (the reference registry opens an upload instead).
    MountDenied,
    /// Every chunk of an upload is acknowledged with `Range: 0-0`: the offset never advances (or
    /// goes back to 1).
    RangeStuck,
    /// An upload chunk is acknowledged with a Range whose end is `u64::MAX`.
    RangeOverflow,
    /// The first DELETE of a manifest is carried out, then the connection drops before the
    /// answer; the retry finds the manifest gone (404).
    LoseDeleteAnswer,
    /// The first completing PUT of an upload is carried out, then the connection drops; the
    /// retry finds the session gone (404), and the blob is there.
    LosePutAnswer,
    /// Serves these manifests (`reference -> (media type, bytes)`) and blobs (`digest ->
    /// bytes`) for repository `app`, each blob body followed by a few seconds of silence before
    /// it ends, as a registry that appended data and then stalled.
    Serve {
        manifests: HashMap<String, (String, Bytes)>,
        blobs: HashMap<String, Bytes>,
    },
}

/// One request as the fake saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub tls: bool,
    pub method: Method,
    /// Path and query.
    pub uri: String,
    pub authorization: Option<String>,
}

/// A running hostile registry on 127.0.0.1; it stops with the test's runtime.
#[derive(Clone)]
pub struct Hostile {
    pub port: u16,
    state: Arc<State>,
}

struct State {
    misbehaviour: Misbehaviour,
    port: u16,
    seen: Mutex<Vec<Seen>>,
    /// How many times a one-off misbehaviour (a lost answer) has happened.
    once: AtomicUsize,
    blob_stored: AtomicBool,
    pages: AtomicUsize,
}

/// The connection's origin: where from, and whether it spoke TLS.
#[derive(Clone, Copy, Debug)]
struct Origin {
    tls: bool,
}

impl Hostile {
    /// Plain HTTP only: a TLS handshake gets garbage back, so a client falls back to HTTP.
    pub async fn plain(misbehaviour: Misbehaviour) -> Hostile {
        Hostile::start(misbehaviour, None).await
    }

    /// HTTPS with `pki`'s server certificate, and plain HTTP on the same port.
    pub async fn tls(pki: &TestPki, misbehaviour: Misbehaviour) -> Hostile {
        let certs = rustls::pki_types::pem::PemObject::pem_file_iter(pki.server_cert())
            .expect("server certificate")
            .collect::<Result<Vec<rustls::pki_types::CertificateDer>, _>>()
            .expect("server certificate");
        let key: rustls::pki_types::PrivateKeyDer =
            rustls::pki_types::pem::PemObject::from_pem_file(pki.server_key()).expect("server key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server certificate and key");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        Hostile::start(misbehaviour, Some(acceptor)).await
    }

    async fn start(
        misbehaviour: Misbehaviour,
        acceptor: Option<tokio_rustls::TlsAcceptor>,
    ) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State {
            misbehaviour,
            port,
            seen: Mutex::new(Vec::new()),
            once: AtomicUsize::new(0),
            blob_stored: AtomicBool::new(false),
            pages: AtomicUsize::new(0),
        });
        let shared = state.clone();
        let app = axum::Router::new()
            .fallback(
                move |ConnectInfo(origin): ConnectInfo<Origin>, request: Request| {
                    let state = shared.clone();
                    async move { handle(state, origin, request).await }
                },
            )
            .layer(axum::extract::DefaultBodyLimit::disable());
        let listener = Sniffing { listener, acceptor };
        tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<Origin>(),
            )
            .await;
        });
        Hostile { port, state }
    }

    /// `127.0.0.1:PORT`, the registry address to give a client.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Every request so far, oldest first.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// True when some request carried an Authorization header with our user's password or a
    /// token the fake handed out.
    pub fn saw_credentials(&self) -> bool {
        self.seen().iter().any(|s| s.authorization.is_some())
    }
}

/// The Basic header a client sends for [`TEST_USER`].
pub fn basic_header() -> String {
    let raw = format!("{TEST_USER}:{TEST_PASSWORD}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// The token the fake's token server hands out.
pub const FAKE_TOKEN: &str = "hostile-fake-token";

struct Sniffing {
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
}

impl axum::serve::Listener for Sniffing {
    type Io = Either<TcpStream, tokio_rustls::server::TlsStream<TcpStream>>;
    type Addr = Origin;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, _)) = self.listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            if let Some(acceptor) = &self.acceptor {
                let mut first = [0u8; 1];
                // 0x16 is a TLS handshake record; anything else is a plain request line.
                if matches!(stream.peek(&mut first).await, Ok(1) if first[0] == 0x16) {
                    match acceptor.accept(stream).await {
                        Ok(tls) => return (Either::Right(tls), Origin { tls: true }),
                        Err(_) => continue,
                    }
                }
            }
            return (Either::Left(stream), Origin { tls: false });
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(Origin { tls: false })
    }
}

impl Connected<axum::serve::IncomingStream<'_, Sniffing>> for Origin {
    fn connect_info(stream: axum::serve::IncomingStream<'_, Sniffing>) -> Self {
        *stream.remote_addr()
    }
}

fn reply(status: StatusCode) -> axum::http::response::Builder {
    Response::builder().status(status)
}

fn empty(status: StatusCode) -> Response<Body> {
    reply(status).body(Body::empty()).unwrap()
}

fn json(value: serde_json::Value) -> Response<Body> {
    reply(StatusCode::OK)
        .header("content-type", "application/json")
        .body(Body::from(value.to_string()))
        .unwrap()
}

/// A body of spaces that never ends.
fn endless() -> Body {
    let piece = Bytes::from(vec![b' '; 64 << 10]);
    Body::from_stream(futures_util::stream::repeat(piece).map(Ok::<_, std::io::Error>))
}

async fn forever() {
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

async fn handle(state: Arc<State>, origin: Origin, request: Request) -> Response<Body> {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let path = uri.path().to_string();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    state.seen.lock().unwrap().push(Seen {
        tls: origin.tls,
        method: method.clone(),
        uri: uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        authorization: authorization.clone(),
    });
    let own = |scheme: &str, path: &str| format!("{scheme}://127.0.0.1:{}{path}", state.port);
    let scheme = if origin.tls { "https" } else { "http" };
    use Misbehaviour as M;
    let m = &state.misbehaviour;
    let here = format!("127.0.0.1:{}", state.port);
    let fill = |url: &String| url.replace(SELF, &here);

    // The token server.
    if path == "/token" {
        return match m {
            M::StallToken => {
                forever().await;
                empty(StatusCode::OK)
            }
            M::EndlessToken => reply(StatusCode::OK).body(endless()).unwrap(),
            M::TokenLifetime(lifetime) => {
                json(serde_json::json!({"token": FAKE_TOKEN, "expires_in": lifetime}))
            }
            _ => json(serde_json::json!({"token": FAKE_TOKEN})),
        };
    }
    // The base endpoint, where clients learn the challenge.
    if path == "/v2/" {
        let bearer = match m {
            M::BearerRealm(realm) => Some(fill(realm)),
            M::StallToken | M::EndlessToken | M::TokenLifetime(_) => Some(own(scheme, "/token")),
            _ => None,
        };
        let expected = match &bearer {
            Some(_) => format!("Bearer {FAKE_TOKEN}"),
            None => basic_header(),
        };
        if authorization.as_deref() == Some(expected.as_str()) {
            return empty(StatusCode::OK);
        }
        let challenge = match bearer {
            Some(realm) => format!("Bearer realm=\"{realm}\",service=\"hostile\""),
            None => "Basic realm=\"hostile\"".to_string(),
        };
        return reply(StatusCode::UNAUTHORIZED)
            .header("www-authenticate", challenge)
            .header("docker-distribution-api-version", "registry/2.0")
            .body(Body::empty())
            .unwrap();
    }

    match (m, method.clone()) {
        (M::Redirect(to), Method::GET) if path.starts_with("/v2/app/manifests/") => {
            return reply(StatusCode::TEMPORARY_REDIRECT)
                .header("location", fill(to))
                .body(Body::empty())
                .unwrap();
        }
        (M::EndlessManifest, Method::GET) if path.starts_with("/v2/app/manifests/") => {
            return reply(StatusCode::OK)
                .header("content-type", "application/vnd.oci.image.manifest.v1+json")
                .body(endless())
                .unwrap();
        }
        (M::StallManifest, Method::GET) if path.starts_with("/v2/app/manifests/") => {
            forever().await;
        }
        (M::EndlessErrorBody, _) if path.starts_with("/v2/app/") => {
            return reply(StatusCode::BAD_REQUEST)
                .header("content-type", "application/json")
                .body(endless())
                .unwrap();
        }
        (M::EndlessBlob, Method::GET) if path.starts_with("/v2/app/blobs/") => {
            return reply(StatusCode::OK).body(endless()).unwrap();
        }
        (M::StallBlobMidway, Method::GET) if path.starts_with("/v2/app/blobs/") => {
            let first =
                futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(vec![0u8; 1024]))]);
            let body = first.chain(futures_util::stream::pending());
            return reply(StatusCode::OK)
                .header("content-length", (1u64 << 20).to_string())
                .body(Body::from_stream(body))
                .unwrap();
        }
        (M::Serve { manifests, .. }, Method::GET | Method::HEAD)
            if path.starts_with("/v2/app/manifests/") =>
        {
            let reference = path.trim_start_matches("/v2/app/manifests/");
            return match manifests.get(reference) {
                Some((media_type, bytes)) => reply(StatusCode::OK)
                    .header("content-type", media_type)
                    .body(Body::from(bytes.clone()))
                    .unwrap(),
                None => empty(StatusCode::NOT_FOUND),
            };
        }
        (M::Serve { blobs, .. }, Method::GET) if path.starts_with("/v2/app/blobs/") => {
            let digest = path.trim_start_matches("/v2/app/blobs/");
            let Some(bytes) = blobs.get(digest).cloned() else {
                return empty(StatusCode::NOT_FOUND);
            };
            let body = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes)]).chain(
                futures_util::stream::once(async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    Ok(Bytes::new())
                }),
            );
            return reply(StatusCode::OK).body(Body::from_stream(body)).unwrap();
        }
        (M::LoseDeleteAnswer, Method::DELETE) if path.starts_with("/v2/app/manifests/") => {
            if state.once.fetch_add(1, Ordering::SeqCst) == 0 {
                drop_connection("the DELETE was carried out");
            }
            return empty(StatusCode::NOT_FOUND);
        }
        _ => {}
    }

    // Listings.
    if path == "/v2/app/tags/list" {
        let page = state.pages.fetch_add(1, Ordering::SeqCst);
        let (tags, next) = match m {
            M::NextLink(next) => (vec!["a".to_string()], Some(fill(next))),
            M::Tags(tags) => (tags.clone(), None),
            M::SelfLink => (
                vec![format!("t{page}")],
                Some("/v2/app/tags/list?n=1".to_string()),
            ),
            M::EndlessLinks => (vec![], Some(format!("/v2/app/tags/list?n=1&last=p{page}"))),
            M::EndlessTagPage => {
                return reply(StatusCode::OK)
                    .header("content-type", "application/json")
                    .body(endless())
                    .unwrap()
            }
            // The other host's page: the last one.
            _ => (vec!["b".to_string()], None),
        };
        let mut r = reply(StatusCode::OK).header("content-type", "application/json");
        if let Some(next) = next {
            r = r.header("link", format!("<{next}>; rel=\"next\""));
        }
        return r
            .body(Body::from(
                serde_json::json!({"name": "app", "tags": tags}).to_string(),
            ))
            .unwrap();
    }

    // Blobs and uploads.
    if path.starts_with("/v2/app/blobs/sha256:") && method == Method::HEAD {
        return if state.blob_stored.load(Ordering::SeqCst) {
            reply(StatusCode::OK)
                .header("content-length", "1")
                .body(Body::empty())
                .unwrap()
        } else {
            empty(StatusCode::NOT_FOUND)
        };
    }
    if path == "/v2/app/blobs/uploads/"
        && method == Method::POST
        && matches!(m, M::MountDenied)
        && uri.query().is_some_and(|q| q.contains("mount="))
    {
        return reply(StatusCode::FORBIDDEN)
            .header("content-type", "application/json")
            .body(Body::from(
                r#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#,
            ))
            .unwrap();
    }
    if path == "/v2/app/blobs/uploads/" && method == Method::POST {
        let location = match m {
            M::UploadLocation(location) => fill(location),
            _ => "/v2/app/blobs/uploads/u1".to_string(),
        };
        return reply(StatusCode::ACCEPTED)
            .header("location", location)
            .header("range", "0-0")
            .body(Body::empty())
            .unwrap();
    }
    if path.starts_with("/v2/app/blobs/uploads/") || path.starts_with("/upload/") {
        match method {
            Method::PATCH => {
                if matches!(m, M::StallUpload) {
                    // Never read the body, never answer: the client's writes stop making progress.
                    forever().await;
                }
                let got = axum::body::to_bytes(request.into_body(), usize::MAX)
                    .await
                    .map(|b| b.len())
                    .unwrap_or(0);
                let range = match m {
                    M::RangeStuck => "0-0".to_string(),
                    M::RangeOverflow => format!("0-{}", u64::MAX),
                    _ => format!("0-{}", got.saturating_sub(1)),
                };
                return reply(StatusCode::ACCEPTED)
                    .header("location", path)
                    .header("range", range)
                    .body(Body::empty())
                    .unwrap();
            }
            Method::PUT => {
                if matches!(m, M::LosePutAnswer) {
                    if state.once.fetch_add(1, Ordering::SeqCst) == 0 {
                        state.blob_stored.store(true, Ordering::SeqCst);
                        drop_connection("the upload was completed");
                    }
                    return empty(StatusCode::NOT_FOUND);
                }
                state.blob_stored.store(true, Ordering::SeqCst);
                return empty(StatusCode::CREATED);
            }
            Method::GET => {
                return reply(StatusCode::NO_CONTENT)
                    .header("location", path)
                    .header("range", "0-0")
                    .body(Body::empty())
                    .unwrap()
            }
            _ => {}
        }
    }
    empty(StatusCode::NOT_FOUND)
}

/// Ends the connection without an answer, as a proxy that dies after forwarding a request does:
/// the unwind ends the connection's task, which closes the socket.
///
/// `resume_unwind` and not `panic!`, because it skips the panic hook: with `RUST_BACKTRACE` set,
/// the hook symbolizes a backtrace first, and on a fresh machine that took longer than the 1 s
/// the client waits, so the client timed out instead of seeing the connection close.
fn drop_connection(what: &str) -> ! {
    std::panic::resume_unwind(Box::new(format!(
        "hostile fake: {what}; dropping the connection before the answer (on purpose)"
    )))
}
