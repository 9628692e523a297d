//! One listener at the relays' port for every transfer of the process at once.
//!
//! Engines remember where a layer is by registry host and port ([`super::PORT`]): a relay that
//! cannot have the port costs the engine what it learned there, and it sends those layers
//! again. So transfers that run at once (two pushes in the window, a push beside a fetch) share
//! one listener, each served under its repository: the part of every request path before
//! `/blobs/` or `/manifests/`, which is all an engine names besides host and port. A second
//! transfer of a repository that is already being served cannot be told apart from the first
//! there, and gets a listener of its own at any free port.
//!
//! The listener belongs to one tokio runtime, the one the transfers run on (the window's and
//! the CLI's have one; each test has its own): a relay's work, its registry client's connections
//! among it, ends with its runtime, and a listener shared across runtimes would outlive the
//! handlers it routes to. It closes when its last transfer ends, so that another process (the
//! CLI beside the window) can take the port between transfers.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{not_found, reply, route, Route};
use crate::task::AbortOnDrop;

type Serve = dyn Fn(Request) -> Pin<Box<dyn Future<Output = Response> + Send>> + Send + Sync;

/// What serves one transfer's requests.
#[derive(Clone)]
pub(crate) struct Handler {
    serve: Arc<Serve>,
    /// A push's relay is asked about other repositories too: Podman looks for a blob it knows
    /// from another repository of the relay with a HEAD there before it mounts it into the
    /// pushed one (containers/image, `docker_image_dest.go`), and the push relay answers that
    /// from the target registry.
    other_repositories: bool,
}

impl Handler {
    pub fn new<F, R>(serve: F) -> Handler
    where
        F: Fn(Request) -> R + Send + Sync + 'static,
        R: Future<Output = Response> + Send + 'static,
    {
        Handler {
            serve: Arc::new(move |request| Box::pin(serve(request))),
            other_repositories: false,
        }
    }

    /// Asked about repositories no transfer serves, when it is the one such handler.
    pub fn for_other_repositories(mut self) -> Handler {
        self.other_repositories = true;
        self
    }
}

/// The transfers a listener serves, by repository.
#[derive(Default)]
struct Routes(Mutex<HashMap<String, Handler>>);

impl Routes {
    /// Adds `repository`, unless a transfer of it is already served here.
    fn add(&self, repository: &str, handler: Handler) -> bool {
        let mut routes = self.0.lock().expect("relay routes");
        if routes.contains_key(repository) {
            return false;
        }
        routes.insert(repository.to_string(), handler);
        true
    }

    fn remove(&self, repository: &str) {
        self.0.lock().expect("relay routes").remove(repository);
    }

    /// The handler of `repository`; for one that no transfer serves, the one handler that
    /// answers for other repositories, if there is exactly one (with two, which push's target
    /// the engine asks about cannot be known, and it is told the blob is unknown).
    fn get(&self, repository: &str) -> Option<Handler> {
        let routes = self.0.lock().expect("relay routes");
        if let Some(handler) = routes.get(repository) {
            return Some(handler.clone());
        }
        let mut others = routes.values().filter(|h| h.other_repositories);
        match (others.next(), others.next()) {
            (Some(only), None) => Some(only.clone()),
            _ => None,
        }
    }
}

/// A listener and the server on it; the server stops when the last transfer lets go of it.
struct Listening {
    addr: SocketAddr,
    _server: AbortOnDrop<()>,
}

impl Listening {
    fn start(listener: std::net::TcpListener, routes: Arc<Routes>) -> std::io::Result<Listening> {
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new().fallback(dispatch).with_state(routes);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Listening {
            addr,
            _server: AbortOnDrop(server),
        })
    }
}

/// A runtime's shared listener. The routes outlive each listener: an engine may send a request
/// of a new transfer on a connection it kept open from an earlier one, whose task still runs.
struct PerRuntime {
    runtime: tokio::runtime::Id,
    routes: Arc<Routes>,
    /// None until the runtime's first transfer.
    listening: Option<Weak<Listening>>,
    /// The port the runtime's last listener had, which its next one takes again when it can.
    had: Option<u16>,
}

/// One entry for each runtime that ever served a transfer: one in the window and in the CLI.
static LISTENERS: Mutex<Vec<PerRuntime>> = Mutex::new(Vec::new());

/// One transfer served at `addr`; its requests stop reaching it when this is dropped.
pub(crate) struct Serving {
    pub addr: SocketAddr,
    routes: Arc<Routes>,
    repository: String,
    _listening: Arc<Listening>,
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.routes.remove(&self.repository);
    }
}

/// Serves `repository`'s requests with `handler`, on the runtime's shared listener at the relays'
/// port ([`super::port`]) when it can.
pub(crate) async fn serve(repository: &str, handler: Handler) -> std::io::Result<Serving> {
    serve_at(super::port(), repository, handler).await
}

async fn serve_at(port: u16, repository: &str, handler: Handler) -> std::io::Result<Serving> {
    let runtime = tokio::runtime::Handle::current().id();
    // The listener this runtime closed a moment ago may still hold its port: its server task is
    // dropped on the runtime's next turn. Waiting for that keeps the port, and what the engine
    // learned at it. Only a runtime that had a port waits for it (0.1 s at most); one that never
    // had one takes the next free port after the relays' at once when another program holds it.
    const TRIES: usize = 20;
    for tries_left in (0..TRIES).rev() {
        match share(runtime, port, repository, &handler, tries_left == 0)? {
            Found::Served(serving) => return Ok(serving),
            Found::Taken => break,
            Found::Closing => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
    alone(repository, handler)
}

/// What [`share`] found at the runtime's listener.
enum Found {
    Served(Serving),
    /// The repository is served there already.
    Taken,
    /// This runtime's last listener is still letting go of the port.
    Closing,
}

/// Serves `repository` on the runtime's listener, starting it when the runtime has none: at
/// `port`, else at any free port, which the runtime's transfers then share until the last ends.
fn share(
    runtime: tokio::runtime::Id,
    port: u16,
    repository: &str,
    handler: &Handler,
    last_try: bool,
) -> std::io::Result<Found> {
    let mut listeners = LISTENERS.lock().expect("relay listeners");
    let index = match listeners.iter().position(|l| l.runtime == runtime) {
        Some(i) => i,
        None => {
            listeners.push(PerRuntime {
                runtime,
                routes: Arc::default(),
                listening: None,
                had: None,
            });
            listeners.len() - 1
        }
    };
    let entry = &mut listeners[index];
    let listening = match entry.listening.as_ref().and_then(Weak::upgrade) {
        Some(listening) => listening,
        None => {
            let listener = match entry.had {
                Some(had) => match std::net::TcpListener::bind(("127.0.0.1", had)) {
                    Ok(listener) => listener,
                    Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && !last_try => {
                        return Ok(Found::Closing);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => bind_near(port)?,
                    Err(e) => return Err(e),
                },
                None => bind_near(port)?,
            };
            entry.had = Some(listener.local_addr()?.port());
            let listening = Arc::new(Listening::start(listener, entry.routes.clone())?);
            entry.listening = Some(Arc::downgrade(&listening));
            listening
        }
    };
    if !entry.routes.add(repository, handler.clone()) {
        return Ok(Found::Taken);
    }
    Ok(Found::Served(Serving {
        addr: listening.addr,
        routes: entry.routes.clone(),
        repository: repository.to_string(),
        _listening: listening,
    }))
}

/// How many ports after the relays' one a relay tries, in order, before any free port.
const NEAR: u16 = 8;

/// Binds `port`, else the first free one of the [`NEAR`] ports after it, else any free port.
/// The fixed order gives a relay whose port another program holds the same address from one
/// run to the next, and so keeps what the engine learned at it: a random port each time would
/// make every push through a classic store or Podman send every layer again.
fn bind_near(port: u16) -> std::io::Result<std::net::TcpListener> {
    for candidate in (0..=NEAR).filter_map(|i| port.checked_add(i)) {
        match std::net::TcpListener::bind(("127.0.0.1", candidate)) {
            Ok(listener) => return Ok(listener),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) => return Err(e),
        }
    }
    std::net::TcpListener::bind(("127.0.0.1", 0))
}

/// A listener of the transfer's own, at any free port.
fn alone(repository: &str, handler: Handler) -> std::io::Result<Serving> {
    let routes = Arc::new(Routes::default());
    routes.add(repository, handler);
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    let listening = Arc::new(Listening::start(listener, routes.clone())?);
    Ok(Serving {
        addr: listening.addr,
        routes,
        repository: repository.to_string(),
        _listening: listening,
    })
}

/// Hands each request to the transfer of its repository.
async fn dispatch(State(routes): State<Arc<Routes>>, request: Request) -> Response {
    let path = request.uri().path();
    if route(path) == Route::Base {
        return reply(StatusCode::OK, &[], Body::from("{}"));
    }
    match super::repository(path).and_then(|r| routes.get(r)) {
        Some(handler) => (handler.serve)(request).await,
        None => not_found("NAME_UNKNOWN"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn answering(text: &'static str) -> Handler {
        Handler::new(move |_| async move { reply(StatusCode::OK, &[], Body::from(text)) })
    }

    /// The status line and body of a GET of `path` at `addr`.
    async fn get(addr: SocketAddr, path: &str) -> (String, String) {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nhost: relay\r\nconnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let status = response.lines().next().unwrap_or_default().to_string();
        let body = response
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or_default()
            .to_string();
        (status, body)
    }

    fn free_port() -> u16 {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        listener.local_addr().unwrap().port()
    }

    #[tokio::test]
    async fn transfers_at_once_share_the_port_each_under_its_repository() {
        let port = free_port();
        let a = serve_at(port, "team/a", answering("a")).await.unwrap();
        let b = serve_at(port, "team/b", answering("b")).await.unwrap();
        assert_eq!(a.addr.port(), port);
        assert_eq!(b.addr, a.addr);
        assert_eq!(get(a.addr, "/v2/team/a/manifests/1").await.1, "a");
        assert_eq!(get(a.addr, "/v2/team/b/blobs/sha256:ab").await.1, "b");
        assert_eq!(get(a.addr, "/v2/").await.1, "{}");
        let (status, body) = get(a.addr, "/v2/team/c/manifests/1").await;
        assert!(status.contains("404"), "{status}");
        assert!(body.contains("NAME_UNKNOWN"), "{body}");

        // The engine names only host, port and repository: a second transfer of a repository
        // served already cannot share the port.
        let a2 = serve_at(port, "team/a", answering("a2")).await.unwrap();
        assert_ne!(a2.addr, a.addr);
        assert_eq!(get(a2.addr, "/v2/team/a/manifests/1").await.1, "a2");
        assert_eq!(get(a.addr, "/v2/team/a/manifests/1").await.1, "a");

        // An ended transfer is no longer served; the port is let go when the last one ends,
        // and the next transfer has it again at once.
        drop(b);
        assert!(get(a.addr, "/v2/team/b/manifests/1")
            .await
            .0
            .contains("404"));
        drop((a, a2));
        let c = serve_at(port, "team/c", answering("c")).await.unwrap();
        assert_eq!(c.addr.port(), port);
        assert_eq!(get(c.addr, "/v2/team/c/manifests/1").await.1, "c");
    }

    #[tokio::test]
    async fn a_push_answers_for_other_repositories_while_it_is_the_only_one() {
        let port = free_port();
        let fetch = serve_at(port, "team/base", answering("fetch"))
            .await
            .unwrap();
        let push = serve_at(port, "team/app", answering("push").for_other_repositories())
            .await
            .unwrap();
        let addr = push.addr;
        assert_eq!(get(addr, "/v2/team/base/blobs/sha256:ab").await.1, "fetch");
        assert_eq!(get(addr, "/v2/team/old/blobs/sha256:ab").await.1, "push");
        drop(fetch);
        assert_eq!(get(addr, "/v2/team/base/blobs/sha256:ab").await.1, "push");
        let second = serve_at(
            port,
            "team/other",
            answering("other").for_other_repositories(),
        )
        .await
        .unwrap();
        assert!(get(addr, "/v2/team/old/blobs/sha256:ab")
            .await
            .0
            .contains("404"));
        drop(second);
        assert_eq!(get(addr, "/v2/team/old/blobs/sha256:ab").await.1, "push");
    }

    /// A port held by another program, with the one after it free.
    fn held_port() -> (std::net::TcpListener, u16) {
        loop {
            let held = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
            let port = held.local_addr().unwrap().port();
            let next_is_free = port
                .checked_add(1)
                .is_some_and(|next| std::net::TcpListener::bind(("127.0.0.1", next)).is_ok());
            if next_is_free {
                return (held, port);
            }
        }
    }

    #[tokio::test]
    async fn transfers_share_the_next_port_while_another_program_holds_the_relays_one() {
        let (_held, port) = held_port();
        let a = serve_at(port, "team/a", answering("a")).await.unwrap();
        let b = serve_at(port, "team/b", answering("b")).await.unwrap();
        assert_eq!(a.addr.port(), port + 1);
        assert_eq!(b.addr, a.addr);
        assert_eq!(get(a.addr, "/v2/team/b/manifests/1").await.1, "b");
        assert_eq!(get(a.addr, "/v2/team/a/manifests/1").await.1, "a");
    }

    /// Every run of the CLI is a runtime of its own: each finds the same port while another
    /// program holds the relays' one, and the engine finds its layers where it left them.
    #[test]
    fn each_runtime_takes_the_same_next_port_while_the_relays_one_is_held() {
        let (_held, port) = held_port();
        let serve_once = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let served = serve_at(port, "team/a", answering("a")).await.unwrap();
                    served.addr.port()
                })
        };
        assert_eq!(serve_once(), port + 1);
        assert_eq!(serve_once(), port + 1);
    }
}
