//! `/v2/<name>/blobs/uploads/`: pushing blobs, monolithic or chunked, with resume.
//!
//! Small blobs go in one POST + PUT. Larger ones are sent as PATCH chunks with Content-Range; when
//! a connection drops mid-chunk we ask the registry how much it holds (GET on the upload, whose
//! `Range: 0-N` header says so, as the spec requires) and continue from there. If the registry has
//! forgotten the upload we start a new one: the source is a file or bytes, so any offset can be
//! read again.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::client::{header_str, Client, Request, Scope};
use crate::error::{Error, Result};
use crate::reference::{validate_repository, Digest};

/// Blobs up to this size go in a single request.
pub const MONOLITHIC_LIMIT: u64 = 8 << 20;
/// The size of each PATCH of a chunked upload. Small enough that a dropped connection costs
/// little and memory stays low, large enough that request overhead is negligible.
pub const CHUNK_SIZE: u64 = 8 << 20;

/// Where a blob's bytes come from; both can be read again from any offset, which is what makes
/// resuming possible.
#[derive(Debug, Clone)]
pub enum BlobSource {
    Bytes(Bytes),
    File(PathBuf),
}

impl BlobSource {
    /// `len` bytes from `offset` as a stream of small pieces, so a large chunk never sits in
    /// memory whole.
    async fn stream(
        &self,
        offset: u64,
        len: u64,
    ) -> Result<futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>> {
        const PIECE: usize = 256 << 10;
        match self {
            BlobSource::Bytes(b) => {
                let data = b.slice(offset as usize..(offset + len) as usize);
                let pieces: Vec<std::io::Result<Bytes>> = (0..data.len())
                    .step_by(PIECE)
                    .map(|i| Ok(data.slice(i..(i + PIECE).min(data.len()))))
                    .collect();
                Ok(futures_util::stream::iter(pieces).boxed())
            }
            BlobSource::File(path) => {
                let file = open_at(path, offset).await?;
                Ok(tokio_util::io::ReaderStream::with_capacity(file.take(len), PIECE).boxed())
            }
        }
    }

    async fn read(&self, offset: u64, len: u64) -> Result<Bytes> {
        match self {
            BlobSource::Bytes(b) => Ok(b.slice(offset as usize..(offset + len) as usize)),
            BlobSource::File(path) => {
                let mut buf = vec![0u8; len as usize];
                open_at(path, offset)
                    .await?
                    .read_exact(&mut buf)
                    .await
                    .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
                Ok(Bytes::from(buf))
            }
        }
    }
}

/// `path` opened for reading at `offset`.
async fn open_at(path: &std::path::Path, offset: u64) -> Result<tokio::fs::File> {
    let ctx = || format!("reading {}", path.display());
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::io(ctx(), e))?;
    file.seek(std::io::SeekFrom::Start(offset))
        .await
        .map_err(|e| Error::io(ctx(), e))?;
    Ok(file)
}

/// An upload session in progress: where it is and how many bytes the registry holds.
#[derive(Debug, Clone)]
pub struct Upload {
    repository: String,
    pub location: String,
    pub offset: u64,
}

impl Upload {
    /// A session the registry just opened at `location`, holding nothing yet.
    pub(crate) fn opened(repository: &str, location: String) -> Upload {
        Upload {
            repository: repository.to_string(),
            location,
            offset: 0,
        }
    }
}

/// Called with the number of bytes the registry has acknowledged so far (it may go back after a
/// resume).
pub type UploadProgress = Arc<dyn Fn(u64) + Send + Sync>;

impl Client {
    /// Opens an upload session and returns its Location.
    pub async fn start_upload(&self, repository: &str) -> Result<String> {
        validate_repository(repository)?;
        let scope = Scope::push(repository);
        let resp = self
            .send(
                Request::new(
                    Method::POST,
                    format!("/v2/{repository}/blobs/uploads/"),
                    scope.clone(),
                )
                .header(CONTENT_LENGTH, "0"),
            )
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self
                .status_error(resp, &format!("upload to {repository}"), &scope)
                .await);
        }
        header_str(resp.headers(), "location")
            .ok_or_else(|| self.protocol("an upload without a Location header"))
    }

    /// How many bytes the upload at `location` holds, or `None` when the registry no longer knows
    /// it.
    pub async fn upload_offset(
        &self,
        repository: &str,
        location: &str,
    ) -> Result<Option<(u64, String)>> {
        let scope = Scope::push(repository);
        let resp = self
            .send(Request::new(Method::GET, location, scope))
            .await?;
        if !resp.status().is_success() {
            return Ok(None);
        }
        let next = header_str(resp.headers(), "location").unwrap_or_else(|| location.to_string());
        let held = range_end(resp.headers()).map_err(|e| self.protocol(e))?;
        Ok(Some((held.unwrap_or(0), next)))
    }

    /// Pushes a blob of `size` bytes with `digest`, unless the repository already has it.
    /// Returns false when it was already there.
    pub async fn push_blob(
        &self,
        repository: &str,
        digest: &Digest,
        size: u64,
        source: BlobSource,
        progress: Option<UploadProgress>,
    ) -> Result<bool> {
        if self.blob_exists(repository, digest).await?.is_some() {
            return Ok(false);
        }
        let progress = progress.unwrap_or_else(|| Arc::new(|_| {}));
        if size <= MONOLITHIC_LIMIT {
            let data = source.read(0, size).await?;
            let location = self.start_upload(repository).await?;
            self.finish_upload(repository, &location, digest, Some(data))
                .await?;
            progress(size);
            return Ok(true);
        }
        self.push_chunked(repository, digest, size, &source, &progress)
            .await?;
        Ok(true)
    }

    async fn push_chunked(
        &self,
        repository: &str,
        digest: &Digest,
        size: u64,
        source: &BlobSource,
        progress: &UploadProgress,
    ) -> Result<()> {
        let mut upload = self.open_upload(repository).await?;
        self.upload_range(&mut upload, source, size, progress)
            .await?;
        self.complete_upload(upload, digest).await
    }

    /// Opens an upload session for a blob sent in ranges ([`Client::upload_range`]), possibly
    /// while the blob is still being produced, and completed by [`Client::complete_upload`] once
    /// its digest is known.
    pub async fn open_upload(&self, repository: &str) -> Result<Upload> {
        let location = self.start_upload(repository).await?;
        Ok(Upload::opened(repository, location))
    }

    /// Sends `source` from the upload's offset up to `end` in PATCH chunks with Content-Range.
    /// When a connection drops or the registry fails a chunk, asks the registry how much it holds
    /// and continues from there; when it no longer knows the upload, starts a new one from byte 0
    /// (the source can be read again from any offset).
    pub async fn upload_range(
        &self,
        upload: &mut Upload,
        source: &BlobSource,
        end: u64,
        progress: &UploadProgress,
    ) -> Result<()> {
        let repository = upload.repository.clone();
        let scope = Scope::push(&repository);
        let policy = self.retry_policy();
        let mut failures = 0u32;
        while upload.offset < end {
            let offset = upload.offset;
            let len = CHUNK_SIZE.min(end - offset);
            let data = source.stream(offset, len).await?;
            let headers = vec![
                (CONTENT_TYPE, "application/octet-stream".to_string()),
                (CONTENT_RANGE, format!("{}-{}", offset, offset + len - 1)),
                (CONTENT_LENGTH, len.to_string()),
            ];
            let body = progress_stream(data, offset, progress.clone());
            let outcome = self
                .send_once(Method::PATCH, &upload.location, headers, body, &scope)
                .await;
            match outcome {
                Ok(resp) if resp.status() == StatusCode::ACCEPTED => {
                    if let Some(next) = header_str(resp.headers(), "location") {
                        upload.location = next;
                    }
                    let held = range_end(resp.headers())
                        .map_err(|e| self.protocol(e))?
                        .unwrap_or(offset + len);
                    if held > offset + len {
                        return Err(self.protocol(format!(
                            "the upload to {repository} claims {held} bytes after {} were sent",
                            offset + len
                        )));
                    }
                    upload.offset = held;
                    progress(upload.offset);
                    // Only progress resets the failure count: a registry whose Range stays put or
                    // moves backwards would otherwise have us send the same chunk forever.
                    if held > offset {
                        failures = 0;
                        continue;
                    }
                    failures += 1;
                    if failures >= policy.attempts {
                        return Err(self.protocol(format!(
                            "the upload to {repository} made no progress: the registry kept \
                             answering Range up to byte {held} for a chunk from byte {offset}"
                        )));
                    }
                    continue;
                }
                Ok(resp)
                    if !(resp.status().is_server_error()
                        || resp.status() == StatusCode::TOO_MANY_REQUESTS
                        || resp.status() == StatusCode::RANGE_NOT_SATISFIABLE
                        || resp.status() == StatusCode::BAD_REQUEST) =>
                {
                    return Err(self
                        .status_error(resp, &format!("upload to {repository}"), &scope)
                        .await)
                }
                Ok(resp) => {
                    failures += 1;
                    if failures >= policy.attempts {
                        return Err(self
                            .status_error(resp, &format!("upload to {repository}"), &scope)
                            .await);
                    }
                }
                Err(e) if e.is_transient() => {
                    failures += 1;
                    if failures >= policy.attempts {
                        return Err(e);
                    }
                    tracing::warn!(%repository, offset, "upload connection broke, resuming: {e}");
                }
                Err(e) => return Err(e),
            }
            tokio::time::sleep(policy.delay(failures - 1, None)).await;
            // Ask where the upload stands; a registry that forgot it (or refuses to resume from a
            // stale state token) gets a fresh upload from byte 0.
            match self.upload_offset(&repository, &upload.location).await {
                Ok(Some((held, next))) if held <= end => {
                    upload.location = next;
                    upload.offset = held;
                }
                _ => {
                    upload.location = self.start_upload(&repository).await?;
                    upload.offset = 0;
                }
            }
            progress(upload.offset);
        }
        Ok(())
    }

    /// Completes an upload whose bytes have all been sent; the registry checks the digest.
    pub async fn complete_upload(&self, upload: Upload, digest: &Digest) -> Result<()> {
        self.finish_upload(&upload.repository, &upload.location, digest, None)
            .await
    }

    /// Completes an upload with `PUT <location>?digest=...`, optionally carrying the last bytes.
    pub async fn finish_upload(
        &self,
        repository: &str,
        location: &str,
        digest: &Digest,
        data: Option<Bytes>,
    ) -> Result<()> {
        let scope = Scope::push(repository);
        let mut req = Request::new(Method::PUT, completing(location, digest), scope.clone());
        req = match data {
            Some(data) => req
                .header(CONTENT_TYPE, "application/octet-stream")
                .header(CONTENT_LENGTH, data.len().to_string())
                .body(data),
            None => req.header(CONTENT_LENGTH, "0"),
        };
        let (resp, maybe_done) = self.send_tracked(req).await?;
        if resp.status() != StatusCode::CREATED && !resp.status().is_success() {
            // A completing PUT whose answer was lost may have completed: the retry then finds
            // the session gone. The blob being there is the outcome that counts.
            if maybe_done && self.blob_exists(repository, digest).await?.is_some() {
                return Ok(());
            }
            return Err(self
                .status_error(resp, &format!("blob {digest} in {repository}"), &scope)
                .await);
        }
        Ok(())
    }

    /// Uploads a blob from a one-shot stream (a copy between registries): POST, one streaming
    /// PATCH, PUT with the digest. The registry verifies the digest on PUT and keeps nothing when it
    /// does not match; a stream that fails (a [`crate::blobs::VerifiedStream`] that saw the wrong
    /// bytes) aborts the PATCH so the upload is never completed.
    pub async fn push_blob_stream<S>(
        &self,
        repository: &str,
        digest: &Digest,
        stream: S,
    ) -> Result<()>
    where
        S: Stream<Item = Result<Bytes>> + Send + 'static,
    {
        let mut upload = self.open_upload(repository).await?;
        self.upload_stream(&mut upload, stream).await?;
        self.complete_upload(upload, digest).await
    }

    /// Sends a one-shot stream of unknown length as one streaming PATCH at the upload's offset.
    /// A stream that fails (a [`crate::blobs::VerifiedStream`] that saw the wrong bytes, a
    /// producer that gave up) aborts the PATCH, so the upload is never completed with it.
    pub async fn upload_stream<S>(&self, upload: &mut Upload, stream: S) -> Result<()>
    where
        S: Stream<Item = Result<Bytes>> + Send + 'static,
    {
        let repository = upload.repository.clone();
        let scope = Scope::push(&repository);
        let headers = vec![(CONTENT_TYPE, "application/octet-stream".to_string())];
        let location = upload.location.clone();
        let (resp, sent) = self
            .send_stream(Method::PATCH, &location, headers, stream, &scope)
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self
                .status_error(resp, &format!("upload to {repository}"), &scope)
                .await);
        }
        if let Some(next) = header_str(resp.headers(), "location") {
            upload.location = next;
        }
        let offset = upload.offset + sent;
        upload.offset = match range_end(resp.headers()) {
            Ok(Some(end)) => end,
            Ok(None) => offset,
            Err(e) => return Err(self.protocol(e)),
        };
        Ok(())
    }

    /// Sends the last `len` bytes of an upload from a one-shot stream in the PUT that completes
    /// it, as the spec's monolithic upload does (`PUT /v2/<name>/blobs/uploads/<reference>?digest=<digest>`
    /// with the blob as its body,
    /// [distribution-spec](https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#post-then-put)).
    /// One request instead of a PATCH and a PUT: the reference registry saves its hash state to
    /// disk at the end of every PATCH, which a blob of a few MB then waits for. The registry
    /// verifies the digest and keeps nothing when it does not match.
    pub async fn finish_upload_stream<S>(
        &self,
        upload: Upload,
        digest: &Digest,
        len: u64,
        stream: S,
    ) -> Result<()>
    where
        S: Stream<Item = Result<Bytes>> + Send + 'static,
    {
        let repository = upload.repository.clone();
        let scope = Scope::push(&repository);
        let url = completing(&upload.location, digest);
        let headers = vec![
            (CONTENT_TYPE, "application/octet-stream".to_string()),
            (CONTENT_LENGTH, len.to_string()),
        ];
        let (resp, _) = self
            .send_stream(Method::PUT, &url, headers, stream, &scope)
            .await?;
        if resp.status() != StatusCode::CREATED && !resp.status().is_success() {
            return Err(self
                .status_error(resp, &format!("blob {digest} in {repository}"), &scope)
                .await);
        }
        Ok(())
    }

    /// Sends one request whose body is `stream`, once (a one-shot stream cannot be sent again),
    /// and returns the answer with the number of body bytes taken. A failure of the stream
    /// itself is returned as that failure, not as the broken request it caused.
    async fn send_stream<S>(
        &self,
        method: Method,
        url: &str,
        headers: Vec<(reqwest::header::HeaderName, String)>,
        stream: S,
        scope: &Scope,
    ) -> Result<(reqwest::Response, u64)>
    where
        S: Stream<Item = Result<Bytes>> + Send + 'static,
    {
        let failure: Arc<std::sync::Mutex<Option<Error>>> = Arc::default();
        let seen_failure = failure.clone();
        let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counted = sent.clone();
        let body = stream.map(move |item| {
            item.inspect(|bytes| {
                counted.fetch_add(bytes.len() as u64, std::sync::atomic::Ordering::Relaxed);
            })
            .map_err(|e| {
                let text = e.to_string();
                *seen_failure.lock().expect("failure lock") = Some(e);
                std::io::Error::other(text)
            })
        });
        let outcome = self.send_once(method, url, headers, body, scope).await;
        if let Some(e) = failure.lock().expect("failure lock").take() {
            return Err(e);
        }
        Ok((outcome?, sent.load(std::sync::atomic::Ordering::Relaxed)))
    }
}

/// The URL of the PUT that completes an upload at `location`: the location with `digest=` added
/// to its query, which a registry may already have given one.
fn completing(location: &str, digest: &Digest) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={digest}")
}

/// The offset after the `Range: 0-N` header (N+1), per the spec's upload status; `None` without
/// a readable one, an error for an end so large that N+1 overflows.
fn range_end(headers: &reqwest::header::HeaderMap) -> std::result::Result<Option<u64>, String> {
    let Some(range) = header_str(headers, "range") else {
        return Ok(None);
    };
    let end = range
        .trim()
        .trim_start_matches("bytes=")
        .split_once('-')
        .and_then(|(_, end)| end.trim().parse::<u64>().ok());
    match end {
        None => Ok(None),
        Some(end) => end
            .checked_add(1)
            .map(Some)
            .ok_or_else(|| format!("the upload's Range header `{range}` is out of range")),
    }
}

/// Reports progress as reqwest takes the pieces of a chunk.
fn progress_stream(
    data: futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>,
    base: u64,
    progress: UploadProgress,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send {
    let mut sent = base;
    data.map(move |piece| {
        if let Ok(piece) = &piece {
            progress(sent);
            sent += piece.len() as u64;
        }
        piece
    })
}

/// How much of a file that is still being written is on disk, and whether it is complete.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Growth {
    /// Bytes written and flushed so far.
    pub written: u64,
    /// No more bytes will come.
    pub complete: bool,
}

impl Client {
    /// Uploads the file at `path` while another task is still writing it, following `growth`:
    /// while the file grows only whole [`CHUNK_SIZE`] PATCHes go, so a blob reaches the registry
    /// while the rest of it is being produced; the remainder goes once it is complete. The
    /// session is then ready for [`Client::complete_upload`] with the digest the producer
    /// computed. A producer that stops before saying `complete` fails the upload.
    pub async fn upload_growing_file(
        &self,
        upload: &mut Upload,
        path: PathBuf,
        mut growth: tokio::sync::watch::Receiver<Growth>,
        progress: UploadProgress,
    ) -> Result<()> {
        let source = BlobSource::File(path);
        loop {
            let Growth { written, complete } = *growth.borrow_and_update();
            let end = if complete {
                written
            } else {
                written - written % CHUNK_SIZE
            };
            if end > upload.offset {
                self.upload_range(upload, &source, end, &progress).await?;
            }
            if complete {
                return Ok(());
            }
            if growth.changed().await.is_err() {
                return Err(Error::io(
                    format!("uploading to {}", upload.repository),
                    std::io::Error::other("the blob stopped growing before it was complete"),
                ));
            }
        }
    }

    /// Abandons an upload session, so the registry can free what it holds of it
    /// ([spec: "Canceling an upload"](https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#canceling-an-upload)).
    /// Best effort: a registry that already forgot it, or is unreachable, changes nothing for
    /// the caller, who is already failing or cancelling.
    pub async fn abandon_upload(&self, upload: &Upload) {
        let scope = Scope::push(&upload.repository);
        let _ = self
            .send_once(
                Method::DELETE,
                &upload.location,
                Vec::new(),
                futures_util::stream::empty(),
                &scope,
            )
            .await;
    }
}
