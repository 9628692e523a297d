//! The engine's own push, through a registry Slipway serves on 127.0.0.1 ([`super`]).
//!
//! A Docker engine pushes only the layers a registry lacks, and asks about each with a HEAD
//! before it reads a byte of it; it is the one way to send an image without exporting all of it.
//! But the engine can only push to registries it is configured for. Every engine trusts
//! 127.0.0.0/8 over plain HTTP without daemon.json (moby `registry/config.go`, containerd
//! `hosts.go`), so Slipway serves the distribution API there and forwards every request to the
//! real target with its own client: HTTPS, a custom CA, credentials, resume. HEADs are answered
//! from the target, uploads are streamed to it as they arrive, and the manifest the engine
//! sends is put under the user's tag. The image in the registry is the engine's own: its config
//! and its layer bytes, unchanged.
//!
//! Before a push on the containerd store whose layers the push cache cannot name, the relay can
//! serve a dry run ([`Relay::dry_run`]): it says it has every blob, so the engine sends nothing
//! but its manifest, which tells the push which compressed blob each layer is before any byte
//! moves.
//!
//! Only what [the spec](https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md)
//! asks of a registry for a push is served: `GET /v2/`, HEAD on blobs, POST (with `mount`),
//! PATCH and PUT on uploads, DELETE of an upload, and PUT of a manifest.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use slipway_oci::blobs::Mount;
use slipway_oci::uploads::Upload;
use slipway_oci::Digest;

use super::{not_found, parse_digest, query_value, reply, route, Outcome, Route};
use crate::push::{Ctx, PushEvent};

/// A layer as the relay saw it go by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seen {
    /// The target already had it: the engine skipped it after a HEAD or a mount.
    Exists,
    /// The engine uploaded it: `size` bytes.
    Uploaded { size: u64 },
}

/// What the engine pushed through the relay.
#[derive(Debug, Default)]
pub(crate) struct Pushed {
    /// Blobs by digest.
    pub blobs: HashMap<Digest, Seen>,
    /// The manifests the engine sent, in order (an index comes after the manifests it lists):
    /// each one's media type and exact bytes.
    pub manifests: Vec<(String, Bytes)>,
}

struct Shared {
    ctx: Arc<Ctx>,
    sessions: Mutex<HashMap<String, Upload>>,
    next: AtomicUsize,
    pushed: Mutex<Pushed>,
    /// Digests HEADed by the engine that the target had.
    heads: Mutex<HashSet<Digest>>,
    /// The first request the relay could not serve: the engine reports only a status code.
    failure: Mutex<Option<crate::Error>>,
    /// A dry run: every blob is said to be there, nothing reaches the target.
    dry_run: AtomicBool,
    /// The layer (diff_id) each known compressed digest is, so that a blob the target has is
    /// `Skipped` on its layer's row as soon as the engine asks about it, before its manifest
    /// says so; Podman's push reports nothing else while it runs. Set once the image is
    /// inspected ([`Relay::know`]), which may be after the relay started.
    layers: std::sync::OnceLock<HashMap<Digest, String>>,
    /// Cancelled when the relay is dropped: the requests still running (each connection is a
    /// task of its own) stop at once instead of streaming on into the target.
    stop: tokio_util::sync::CancellationToken,
    /// Set once the engine has sent the manifest it tags (the last thing a push sends, after
    /// every blob and every manifest an index lists), or once its push ended; outside a dry run.
    last_sent: tokio::sync::watch::Sender<bool>,
}

/// A relay serving one push on 127.0.0.1; it stops when dropped.
pub(crate) struct Relay {
    shared: Arc<Shared>,
    serving: super::hub::Serving,
}

impl Relay {
    /// Where the engine reaches the relay.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.serving.addr
    }

    /// Starts a relay towards `ctx`'s target, at the relays' port ([`super::hub`]), under the
    /// target's repository.
    pub async fn start(ctx: Arc<Ctx>) -> std::io::Result<Relay> {
        let repository = ctx.target.repository().to_string();
        let shared = Arc::new(Shared {
            ctx,
            sessions: Mutex::default(),
            next: AtomicUsize::new(1),
            pushed: Mutex::default(),
            heads: Mutex::default(),
            failure: Mutex::default(),
            dry_run: AtomicBool::new(false),
            layers: Default::default(),
            stop: Default::default(),
            last_sent: tokio::sync::watch::Sender::new(false),
        });
        let serving = {
            let shared = shared.clone();
            let handler = super::hub::Handler::new(move |request| handle(shared.clone(), request))
                .for_other_repositories();
            super::hub::serve(&repository, handler).await?
        };
        Ok(Relay { shared, serving })
    }

    /// Tells the relay which layer (diff_id) each compressed digest the engine may ask about is;
    /// called once, before the engine's push.
    pub fn know(&self, layers: HashMap<Digest, String>) {
        let _ = self.shared.layers.set(layers);
    }

    /// Returns once the engine has sent the manifest it tags, the last request of its push, so
    /// that the manifest can go under the user's tag while the engine winds its push down; or
    /// once [`Relay::engine_ended`] says the push ended without one.
    pub async fn last_manifest_sent(&self) {
        let mut sent = self.shared.last_sent.subscribe();
        // The sender lives as long as the relay, so the wait ends only when the flag is set.
        let _ = sent.wait_for(|sent| *sent).await;
    }

    /// The engine's push has ended, whatever it sent.
    pub fn engine_ended(&self) {
        sent_last(&self.shared);
    }

    /// Switches the dry run on or off. While it is on, HEADs and mounts answer that the blob is
    /// there without asking the target, uploads are refused, and only the manifests are kept
    /// (taken with [`Relay::take`]), so the engine's push sends its manifest and nothing else.
    pub fn dry_run(&self, on: bool) {
        self.shared.dry_run.store(on, Ordering::SeqCst);
    }

    /// Why the relay failed a request of the engine's, if it did.
    pub fn take_failure(&self) -> Option<crate::Error> {
        self.shared.failure.lock().expect("relay lock").take()
    }

    /// What went through, once the engine's push has ended.
    pub fn take(&self) -> Pushed {
        let mut pushed = std::mem::take(&mut *self.shared.pushed.lock().expect("relay lock"));
        for digest in self.shared.heads.lock().expect("relay lock").iter() {
            pushed.blobs.entry(digest.clone()).or_insert(Seen::Exists);
        }
        pushed
    }
}

/// A push that ends (or is cancelled) with upload sessions still open leaves none behind on the
/// target: the requests still streaming stop, and each session is cancelled there, as the
/// spec's DELETE of an upload allows.
impl Drop for Relay {
    fn drop(&mut self) {
        self.shared.stop.cancel();
        let open: Vec<Upload> =
            std::mem::take(&mut *self.shared.sessions.lock().expect("relay lock"))
                .into_values()
                .collect();
        for upload in open {
            drop(Taken {
                client: self.shared.ctx.client.clone(),
                upload: Some(upload),
            });
        }
    }
}

/// An upload session out of the relay's table while a request of the engine's streams into it or
/// completes it. Dropped without being put back or completed (the push was cancelled and the
/// relay stopped mid-request, or completing failed), it is cancelled on the target.
struct Taken {
    client: slipway_oci::Client,
    upload: Option<Upload>,
}

impl Taken {
    fn from_table(shared: &Shared, id: &str) -> crate::Result<Taken> {
        let upload = shared
            .sessions
            .lock()
            .expect("relay lock")
            .remove(id)
            .ok_or_else(|| crate::Error::InvalidInput(format!("no upload session {id}")))?;
        Ok(Taken {
            client: shared.ctx.client.clone(),
            upload: Some(upload),
        })
    }

    fn upload(&mut self) -> &mut Upload {
        self.upload
            .as_mut()
            .expect("a taken session holds its upload")
    }

    /// Puts the session back under `id`, for the engine's next request, unless the relay is
    /// stopping (then it is cancelled like any other).
    fn put_back(mut self, shared: &Shared, id: &str) {
        if shared.stop.is_cancelled() {
            return;
        }
        if let Some(upload) = self.upload.take() {
            shared
                .sessions
                .lock()
                .expect("relay lock")
                .insert(id.to_string(), upload);
        }
    }

    /// The target completed the session: there is nothing left to cancel.
    fn completed(mut self) {
        self.upload = None;
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        let Some(upload) = self.upload.take() else {
            return;
        };
        let client = self.client.clone();
        crate::task::cleanup_later(async move { client.abandon_upload(&upload).await });
    }
}

async fn handle(shared: Arc<Shared>, request: Request) -> Response {
    let stopped = shared.stop.clone();
    tokio::select! {
        biased;
        _ = stopped.cancelled() => {
            super::failure_response(&crate::Error::Engine("the push was stopped".to_string()))
        }
        response = serve(&shared, request) => response,
    }
}

async fn serve(shared: &Shared, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    let outcome = match (method, route(&path)) {
        (Method::GET, Route::Base) => Ok(reply(StatusCode::OK, &[], Body::from("{}"))),
        (Method::HEAD, Route::Blob(digest)) => head_blob(shared, &path, digest).await,
        (Method::POST, Route::Uploads) => start_upload(shared, &path, &query).await,
        (Method::PATCH, Route::Upload(id)) => patch(shared, &path, id, request).await,
        (Method::PUT, Route::Upload(id)) => {
            let id = id.to_string();
            put_upload(shared, &path, &id, &query, request).await
        }
        (Method::DELETE, Route::Upload(id)) => {
            let session = shared.sessions.lock().expect("relay lock").remove(id);
            if let Some(upload) = session {
                shared.ctx.client.abandon_upload(&upload).await;
            }
            Ok(reply(StatusCode::NO_CONTENT, &[], Body::empty()))
        }
        (Method::PUT, Route::Manifest(reference)) => {
            let tagged = !reference.starts_with("sha256:");
            put_manifest(shared, tagged, request).await
        }
        (Method::HEAD | Method::GET, Route::Manifest(_)) => Ok(not_found("MANIFEST_UNKNOWN")),
        _ => Ok(not_found("UNSUPPORTED")),
    };
    outcome.unwrap_or_else(|e| {
        let response = super::failure_response(&e);
        shared.failure.lock().expect("relay lock").get_or_insert(e);
        response
    })
}

/// The size of `digest` in the target, after mounting it there from another repository of the
/// same registry when `from` (the repository the engine names, which is the upstream one) or
/// the push cache says one holds it: the engine remembers a layer under the repository it first
/// pushed it to, and asks about it in the next one.
async fn settle(
    shared: &Shared,
    digest: &Digest,
    from: Option<&str>,
) -> crate::Result<Option<u64>> {
    let ctx = &shared.ctx;
    let repo = ctx.target.repository();
    if let Some(size) = ctx.client.blob_exists(repo, digest).await? {
        return Ok(Some(size));
    }
    let prefix = format!("{}/", ctx.target.registry());
    let known = ctx.cache.locations_of(digest);
    let candidates = from
        .map(str::to_string)
        .into_iter()
        .chain(
            known
                .iter()
                .filter_map(|l| l.strip_prefix(&prefix))
                .map(str::to_string),
        )
        .filter(|other| other != repo);
    for other in candidates {
        if let Mount::Mounted = ctx.client.mount_blob(repo, digest, &other).await? {
            return ctx
                .client
                .blob_exists(repo, digest)
                .await
                .map_err(Into::into);
        }
    }
    Ok(None)
}

/// Wakes whoever waits in [`Relay::last_manifest_sent`].
fn sent_last(shared: &Shared) {
    shared.last_sent.send_replace(true);
}

/// Notes that the engine will skip `digest`, which the target has, and says so on its layer's
/// row when the layer is known.
fn skipped(shared: &Shared, digest: &Digest) {
    let first = shared
        .heads
        .lock()
        .expect("relay lock")
        .insert(digest.clone());
    let layer = shared.layers.get().and_then(|layers| layers.get(digest));
    if let Some(diff_id) = layer.filter(|_| first) {
        shared.ctx.emit(PushEvent::Skipped {
            blob: diff_id.clone(),
        });
    }
}

/// A blob the target has (or can mount) answers 200 with its length, as a registry does; the
/// engine then skips it (and remembers it as pushed, which is what makes the next push
/// incremental).
///
/// A HEAD may name another repository than the target's: Podman asks about a blob where its
/// blob-info cache saw it, at this relay's address, and mounts from there only when that
/// answers 200 (containers/image, `docker_image_dest.go`). That repository is then tried as a
/// mount source on the real registry, before the places the push cache knows: Podman may know
/// one the push cache does not (the cache was cleared since, or that push ran with another).
async fn head_blob(shared: &Shared, path: &str, digest: &str) -> Outcome {
    let digest = parse_digest(digest)?;
    let from = super::repository(path).filter(|r| *r != shared.ctx.target.repository());
    if shared.dry_run.load(Ordering::SeqCst) {
        return Ok(reply(
            StatusCode::OK,
            &[("docker-content-digest", digest.to_string())],
            Body::empty(),
        ));
    }
    match settle(shared, &digest, from).await? {
        Some(size) => {
            skipped(shared, &digest);
            Ok(reply(
                StatusCode::OK,
                &[
                    ("content-length", size.to_string()),
                    ("docker-content-digest", digest.to_string()),
                    ("content-type", "application/octet-stream".to_string()),
                ],
                Body::empty(),
            ))
        }
        None => Ok(not_found("BLOB_UNKNOWN")),
    }
}

/// POST: a cross-repository mount the target can satisfy answers 201; anything else opens an
/// upload session on the target and answers 202 with the relay's own Location for it.
async fn start_upload(shared: &Shared, path: &str, query: &str) -> Outcome {
    let prefix = path.trim_end_matches('/');
    let dry_run = shared.dry_run.load(Ordering::SeqCst);
    if let Some(digest) = query_value(query, "mount") {
        let digest = parse_digest(&digest)?;
        let from = query_value(query, "from");
        if dry_run || settle(shared, &digest, from.as_deref()).await?.is_some() {
            if !dry_run {
                skipped(shared, &digest);
            }
            let location = format!("{}/{digest}", prefix.trim_end_matches("/uploads"));
            return Ok(reply(
                StatusCode::CREATED,
                &[
                    ("location", location),
                    ("docker-content-digest", digest.to_string()),
                ],
                Body::empty(),
            ));
        }
    }
    if dry_run {
        return Err(crate::Error::InvalidInput(
            "the engine tried to upload a blob in a dry run".to_string(),
        ));
    }
    let upload = shared
        .ctx
        .client
        .open_upload(shared.ctx.target.repository())
        .await?;
    let n = shared.next.fetch_add(1, Ordering::Relaxed);
    let id = format!("slipway-{n}");
    shared
        .sessions
        .lock()
        .expect("relay lock")
        .insert(id.clone(), upload);
    Ok(reply(
        StatusCode::ACCEPTED,
        &[
            ("location", format!("{prefix}/{id}")),
            ("docker-upload-uuid", id),
            ("range", "0-0".to_string()),
        ],
        Body::empty(),
    ))
}

/// Streams a request body to the target's upload session; returns the session's offset after
/// it. The engine's own progress says which layer these bytes are ([`crate::push`]), so the
/// relay reports none.
async fn forward_body(shared: &Shared, id: &str, request: Request) -> crate::Result<u64> {
    let mut taken = Taken::from_table(shared, id)?;
    let sent = shared
        .ctx
        .client
        .upload_stream(taken.upload(), engine_body(request))
        .await;
    let offset = taken.upload().offset;
    // Back in the table even after a failure: the engine may go on with the session, and a
    // session left there is cancelled when the relay stops.
    taken.put_back(shared, id);
    sent?;
    Ok(offset)
}

/// The body of the engine's request, as the target's upload takes it.
fn engine_body(
    request: Request,
) -> impl futures_util::Stream<Item = slipway_oci::Result<bytes::Bytes>> + Send + 'static {
    let body = futures_util::TryStreamExt::map_err(request.into_body().into_data_stream(), |e| {
        slipway_oci::Error::Protocol {
            registry: "the engine".to_string(),
            detail: format!("the engine's upload broke off: {e}"),
        }
    });
    super::coalesce(body)
}

async fn patch(shared: &Shared, path: &str, id: &str, request: Request) -> Outcome {
    let offset = forward_body(shared, id, request).await?;
    Ok(reply(
        StatusCode::ACCEPTED,
        &[
            ("location", path.to_string()),
            ("docker-upload-uuid", id.to_string()),
            ("range", format!("0-{}", offset.saturating_sub(1))),
        ],
        Body::empty(),
    ))
}

/// PUT `?digest=`: the last bytes (containerd sends the whole blob here) and the digest; the
/// target checks the digest as it completes the upload. A whole blob in the PUT goes on to the
/// target the same way, in one request.
async fn put_upload(
    shared: &Shared,
    path: &str,
    id: &str,
    query: &str,
    request: Request,
) -> Outcome {
    let digest = parse_digest(
        &query_value(query, "digest")
            .ok_or_else(|| crate::Error::InvalidInput("PUT without ?digest=".to_string()))?,
    )?;
    let length = request
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut taken = Taken::from_table(shared, id)?;
    let client = &shared.ctx.client;
    // Docker's client sends its bytes in PATCHes and an empty PUT; containerd's sends them all
    // in the PUT, with their length. A failure on the way drops `taken`, which cancels the
    // session on the target.
    let size = match length {
        Some(0) => {
            let size = taken.upload().offset;
            client
                .complete_upload(taken.upload().clone(), &digest)
                .await?;
            size
        }
        Some(length) if taken.upload().offset == 0 => {
            let body = engine_body(request);
            client
                .finish_upload_stream(taken.upload().clone(), &digest, length, body)
                .await?;
            length
        }
        // The last bytes after earlier PATCHes, or a body of no stated length.
        _ => {
            client
                .upload_stream(taken.upload(), engine_body(request))
                .await?;
            let size = taken.upload().offset;
            client
                .complete_upload(taken.upload().clone(), &digest)
                .await?;
            size
        }
    };
    taken.completed();
    shared.ctx.count_uploaded(size);
    shared
        .pushed
        .lock()
        .expect("relay lock")
        .blobs
        .insert(digest.clone(), Seen::Uploaded { size });
    let blobs = path
        .rfind("/uploads/")
        .map_or(path, |i| &path[..i])
        .to_string();
    Ok(reply(
        StatusCode::CREATED,
        &[
            ("location", format!("{blobs}/{digest}")),
            ("docker-content-digest", digest.to_string()),
        ],
        Body::empty(),
    ))
}

/// The engine's manifest is kept, not forwarded: Slipway puts it under the user's tag once the
/// engine has sent the one it tags (`tagged`), the last of its push, after every blob and every
/// manifest an index lists, so the user's tag never names an image the registry lacks a part of.
async fn put_manifest(shared: &Shared, tagged: bool, request: Request) -> Outcome {
    let media_type = request
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = axum::body::to_bytes(
        request.into_body(),
        slipway_engine::archive::SMALL_MAX as usize,
    )
    .await
    .map_err(|e| crate::Error::InvalidInput(format!("the engine's manifest: {e}")))?;
    let digest = Digest::sha256_of(&bytes);
    shared
        .pushed
        .lock()
        .expect("relay lock")
        .manifests
        .push((media_type, bytes));
    if tagged && !shared.dry_run.load(Ordering::SeqCst) {
        sent_last(shared);
    }
    Ok(reply(
        StatusCode::CREATED,
        &[("docker-content-digest", digest.to_string())],
        Body::empty(),
    ))
}
