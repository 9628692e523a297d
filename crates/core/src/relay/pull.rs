//! The engine's own pull, from a registry Slipway serves on 127.0.0.1 ([`super`]) with one image
//! it reads from the real registry: the engine then downloads layers in parallel and unpacks
//! each as it arrives, as `docker pull` does, while Slipway keeps the real registry's TLS, CA
//! and credentials.
//!
//! Nothing unverified reaches the engine whole: a layer is cut at its descriptor's size, and its
//! last bytes are held back until the whole blob hashed to its digest. A blob that does not
//! match ends the engine's download short, so the engine discards it instead of unpacking it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use slipway_oci::{Client, Digest};

use super::{not_found, parse_digest, reply, route, Outcome, Route};
use crate::fetch::{FetchEvent, FetchProgress};

/// The one image a pull relay serves.
pub(crate) struct Served {
    /// The real registry and repository the blobs come from.
    pub client: Client,
    pub repository: String,
    /// The image manifest's media type and exact bytes.
    pub manifest: (String, Bytes),
    /// The config, already read and verified.
    pub config: (Digest, Bytes),
    /// Each layer's size, by digest.
    pub layers: HashMap<Digest, u64>,
    pub progress: FetchProgress,
}

struct Shared {
    served: Served,
    manifest_digest: Digest,
    failure: std::sync::Mutex<Option<crate::Error>>,
    /// Blobs that failed verification: asked again, they are unknown, which the engine takes as
    /// final instead of retrying a download that cannot succeed.
    refused: std::sync::Mutex<std::collections::HashSet<Digest>>,
    /// The layers whose download began, each with whether its row got its `Downloaded`.
    downloads: std::sync::Mutex<HashMap<Digest, bool>>,
}

/// A pull relay on 127.0.0.1; it stops when dropped.
pub(crate) struct PullRelay {
    shared: Arc<Shared>,
    serving: super::hub::Serving,
}

impl PullRelay {
    /// Where the engine reaches the relay.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.serving.addr
    }

    /// Starts a relay serving `served` at the relays' port ([`super::hub`]), under its repository.
    pub async fn start(served: Served) -> std::io::Result<PullRelay> {
        let repository = served.repository.clone();
        let shared = Arc::new(Shared {
            manifest_digest: Digest::sha256_of(&served.manifest.1),
            served,
            failure: Default::default(),
            refused: Default::default(),
            downloads: Default::default(),
        });
        let serving = {
            let shared = shared.clone();
            let handler = super::hub::Handler::new(move |request| handle(shared.clone(), request));
            super::hub::serve(&repository, handler).await?
        };
        Ok(PullRelay { shared, serving })
    }

    /// Once the engine's pull succeeded: it holds every layer, each verified by its digest, so
    /// a row whose download began ends too. One that has not ended is a download the engine
    /// broke off because it had the layer another way (seen once under load in the end-to-end
    /// run: a row stayed at "downloading 1.1 MB / 1.1 MB" after the image was in).
    fn finish_rows(&self) {
        let downloads = self.shared.downloads.lock().expect("relay lock").clone();
        for (digest, _) in downloads.into_iter().filter(|(_, ended)| !ended) {
            let size = self.shared.served.layers.get(&digest).copied().unwrap_or(0);
            (self.shared.served.progress)(FetchEvent::Downloaded {
                digest: digest.to_string(),
                size,
            });
        }
    }

    /// Why a blob could not be served, if one could not: the engine reports only a short read.
    pub fn take_failure(&self) -> Option<crate::Error> {
        self.shared.failure.lock().expect("relay lock").take()
    }
}

async fn handle(shared: Arc<Shared>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let head = method == Method::HEAD;
    let outcome = match (method, route(&path)) {
        (Method::GET, Route::Base) => Ok(reply(StatusCode::OK, &[], Body::from("{}"))),
        (Method::GET | Method::HEAD, Route::Manifest(_)) => Ok(manifest(&shared, head)),
        (Method::GET | Method::HEAD, Route::Blob(digest)) => blob(&shared, digest, head).await,
        _ => Ok(not_found("UNSUPPORTED")),
    };
    outcome.unwrap_or_else(|e| {
        let response = super::failure_response(&e);
        remember(&shared, e);
        response
    })
}

fn refuse(shared: &Shared, digest: &Digest, why: crate::Error) {
    shared
        .refused
        .lock()
        .expect("relay lock")
        .insert(digest.clone());
    remember(shared, why);
}

fn remember(shared: &Shared, why: crate::Error) {
    shared
        .failure
        .lock()
        .expect("relay lock")
        .get_or_insert(why);
}

/// The one manifest, under any tag or its digest: the relay serves a single image.
fn manifest(shared: &Shared, head: bool) -> Response {
    let (media_type, bytes) = &shared.served.manifest;
    let headers = [
        ("content-type", media_type.clone()),
        ("content-length", bytes.len().to_string()),
        ("docker-content-digest", shared.manifest_digest.to_string()),
    ];
    let body = if head {
        Body::empty()
    } else {
        Body::from(bytes.clone())
    };
    reply(StatusCode::OK, &headers, body)
}

async fn blob(shared: &Arc<Shared>, digest: &str, head: bool) -> Outcome {
    let digest = parse_digest(digest)?;
    let served = &shared.served;
    let size = if digest == served.config.0 {
        served.config.1.len() as u64
    } else if let Some(size) = served
        .layers
        .get(&digest)
        .filter(|_| !shared.refused.lock().expect("relay lock").contains(&digest))
    {
        *size
    } else {
        return Ok(not_found("BLOB_UNKNOWN"));
    };
    let headers = [
        ("content-length", size.to_string()),
        ("docker-content-digest", digest.to_string()),
        ("content-type", "application/octet-stream".to_string()),
    ];
    if head {
        return Ok(reply(StatusCode::OK, &headers, Body::empty()));
    }
    if digest == served.config.0 {
        return Ok(reply(
            StatusCode::OK,
            &headers,
            Body::from(served.config.1.clone()),
        ));
    }
    let upstream = match served
        .client
        .blob_stream(&served.repository, &digest, Some(size))
        .await
    {
        Ok(upstream) => upstream,
        // A registry that announces more bytes than the descriptor is refused before a byte
        // goes, and the blob stays refused, so the engine stops asking.
        Err(e @ slipway_oci::Error::SizeMismatch { .. }) => {
            refuse(shared, &digest, e.into());
            return Ok(not_found("BLOB_UNKNOWN"));
        }
        Err(e) => return Err(e.into()),
    };
    let body = held_back(upstream, digest.clone(), size, shared.clone());
    Ok(reply(StatusCode::OK, &headers, Body::from_stream(body)))
}

/// Forwards a verified stream but never more than `size` bytes, and keeps its last chunk until
/// the stream ended verified; on a failure the body ends short, and the engine's download with
/// it.
fn held_back(
    upstream: slipway_oci::blobs::VerifiedStream,
    digest: Digest,
    size: u64,
    shared: Arc<Shared>,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    struct State {
        upstream:
            std::pin::Pin<Box<dyn futures_util::Stream<Item = slipway_oci::Result<Bytes>> + Send>>,
        held: Option<Bytes>,
        done: u64,
        finished: bool,
    }
    let state = State {
        upstream: Box::pin(super::coalesce(upstream)),
        held: None,
        done: 0,
        finished: false,
    };
    futures_util::stream::unfold(state, move |mut state| {
        let digest = digest.clone();
        let shared = shared.clone();
        async move {
            if state.finished {
                return None;
            }
            loop {
                match state.upstream.next().await {
                    Some(Ok(chunk)) => {
                        state.done += chunk.len() as u64;
                        if state.done > size {
                            let why = format!(
                                "the registry sent more than the {size} bytes of blob {digest}; nothing of it was used"
                            );
                            refuse(
                                &shared,
                                &digest,
                                crate::Error::Registry(slipway_oci::Error::SizeMismatch {
                                    what: format!("blob {digest}"),
                                    expected: size,
                                    actual: state.done,
                                }),
                            );
                            state.finished = true;
                            return Some((Err(std::io::Error::other(why)), state));
                        }
                        if state.done == chunk.len() as u64 {
                            shared
                                .downloads
                                .lock()
                                .expect("relay lock")
                                .entry(digest.clone())
                                .or_insert(false);
                        }
                        (shared.served.progress)(FetchEvent::Downloading {
                            digest: digest.to_string(),
                            done: state.done,
                            total: size,
                        });
                        if let Some(previous) = state.held.replace(chunk) {
                            return Some((Ok(previous), state));
                        }
                    }
                    Some(Err(e)) => {
                        let text = e.to_string();
                        refuse(&shared, &digest, e.into());
                        state.finished = true;
                        return Some((Err(std::io::Error::other(text)), state));
                    }
                    None => {
                        // Verified to the end: the last bytes may go now.
                        shared
                            .downloads
                            .lock()
                            .expect("relay lock")
                            .insert(digest.clone(), true);
                        (shared.served.progress)(FetchEvent::Downloaded {
                            digest: digest.to_string(),
                            size,
                        });
                        state.finished = true;
                        return state.held.take().map(|last| (Ok(last), state));
                    }
                }
            }
        }
    })
}

impl crate::Slipway {
    /// Has the engine pull `served` through a pull relay and tags the result `tag`; the
    /// engine's messages. Docker pulls with its own API (it trusts 127.0.0.0/8 over plain HTTP);
    /// Podman with libpod's pull, the one that can be told to allow plain HTTP per request.
    pub(crate) async fn pull_through_relay(
        &self,
        served: Served,
        tag: &str,
    ) -> crate::Result<Vec<String>> {
        use slipway_engine::system::EngineKind;
        let podman = self.engine().kind() == EngineKind::Podman;
        let repository = served.repository.clone();
        let relay = PullRelay::start(served).await.map_err(|e| {
            crate::Error::Engine(format!("could not serve the pull relay on 127.0.0.1: {e}"))
        })?;
        let relay_ref = super::temporary_name(relay.addr(), &repository);
        let failed = if podman {
            self.engine().podman_pull(&relay_ref).await.err()
        } else {
            let mut pull = Box::pin(self.engine().pull_image(&relay_ref));
            let mut failed = None;
            while let Some(event) = pull.next().await {
                if let Err(e) = event {
                    failed = Some(e);
                    break;
                }
            }
            failed
        };
        // The relay's reason first: the engine reports a cut download as a bare "EOF".
        if let Some(why) = relay.take_failure() {
            return Err(why);
        }
        if let Some(e) = failed {
            return Err(e.into());
        }
        relay.finish_rows();
        self.engine().tag_image(&relay_ref, tag).await?;
        // The relay's name goes; the image keeps the tag the user asked for.
        let _ = self.engine().remove_image(&relay_ref, false).await;
        Ok(vec![format!("Pulled by the engine: {tag}")])
    }
}
