//! `/v2/<name>/blobs/<digest>`: existence, verified download and streaming, mounts.

use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use reqwest::{Method, StatusCode};
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt;

use crate::client::{header_str, Client, Request, Scope};
use crate::error::{Error, Result};
use crate::reference::{validate_repository, Digest, DigestAlgorithm};
use crate::uploads::Upload;

/// The result of asking the registry to mount a blob from another repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// The blob is now in the target repository, nothing was uploaded.
    Mounted,
    /// It is not: the source does not hold it, is no repository of this registry, or may not be
    /// read with these credentials. The caller uploads it instead.
    NotMounted,
}

/// The most a blob read into memory ([`Client::get_blob`], an image config) may weigh:
/// containers/image refuses configs over 4 MiB (`iolimits.maxConfigBlobSize`).
pub const MAX_IN_MEMORY_BLOB: u64 = 4 << 20;

/// A blob's bytes as they arrive, hashed on the way: the stream ends with an error instead of its
/// last chunk's successor when the content does not match the digest or the expected size.
///
/// Bytes beyond the expected size are never yielded: the chunk that crosses it ends the stream
/// with [`Error::SizeMismatch`] at once, so a consumer that writes as it reads (an archive for the
/// engine) never passes on more than the descriptor declared. The digest can only be known at the
/// end; a consumer that must not act on unverified bytes holds back the last chunk until the
/// stream has ended cleanly.
pub struct VerifiedStream {
    inner: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    hasher: Sha256,
    expected: Digest,
    expected_size: Option<u64>,
    seen: u64,
    registry: String,
    /// The client's read timeout in seconds, for the message when it fires.
    read_timeout: u64,
    done: bool,
    /// The total size from Content-Length, for progress.
    pub content_length: Option<u64>,
}

impl Stream for VerifiedStream {
    type Item = Result<Bytes>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.inner.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => {
                let seen = self.seen.saturating_add(chunk.len() as u64);
                if let Some(size) = self.expected_size.filter(|size| seen > *size) {
                    self.done = true;
                    return Poll::Ready(Some(Err(Error::SizeMismatch {
                        what: format!("blob {}", self.expected),
                        expected: size,
                        actual: seen,
                    })));
                }
                self.hasher.update(&chunk);
                self.seen = seen;
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                self.done = true;
                let timed_out = e.is_timeout();
                let detail = e.without_url().to_string();
                Poll::Ready(Some(Err(if timed_out {
                    Error::TimedOut {
                        registry: self.registry.clone(),
                        seconds: self.read_timeout,
                        detail,
                    }
                } else {
                    Error::Transport {
                        registry: self.registry.clone(),
                        detail,
                    }
                })))
            }
            Poll::Ready(None) => {
                self.done = true;
                if let Some(size) = self.expected_size {
                    if size != self.seen {
                        return Poll::Ready(Some(Err(Error::SizeMismatch {
                            what: format!("blob {}", self.expected),
                            expected: size,
                            actual: self.seen,
                        })));
                    }
                }
                let actual =
                    Digest::sha256_hex(hex::encode(std::mem::take(&mut self.hasher).finalize()));
                if actual != self.expected {
                    return Poll::Ready(Some(Err(Error::DigestMismatch {
                        registry: self.registry.clone(),
                        expected: self.expected.clone(),
                        actual,
                    })));
                }
                Poll::Ready(None)
            }
        }
    }
}

impl Client {
    /// The blob's size when `repository` has it, `None` when it does not.
    pub async fn blob_exists(&self, repository: &str, digest: &Digest) -> Result<Option<u64>> {
        validate_repository(repository)?;
        let scope = Scope::pull(repository);
        let resp = self
            .send(Request::new(
                Method::HEAD,
                format!("/v2/{repository}/blobs/{digest}"),
                scope.clone(),
            ))
            .await?;
        match resp.status() {
            // The header, not `content_length()`: for a HEAD reqwest reports the empty body's
            // length, 0, whatever the registry said.
            s if s.is_success() => Ok(Some(
                crate::client::header_str(resp.headers(), "content-length")
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0),
            )),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self
                .status_error(resp, &format!("blob {digest} in {repository}"), &scope)
                .await),
        }
    }

    /// Streams a blob, verifying its digest (and `size` when given) as it goes.
    pub async fn blob_stream(
        &self,
        repository: &str,
        digest: &Digest,
        size: Option<u64>,
    ) -> Result<VerifiedStream> {
        validate_repository(repository)?;
        if digest.algorithm() != DigestAlgorithm::Sha256 {
            return Err(self.protocol(format!(
                "cannot verify {digest}: only sha256 blobs are supported"
            )));
        }
        let scope = Scope::pull(repository);
        let resp = self
            .send(
                Request::new(
                    Method::GET,
                    format!("/v2/{repository}/blobs/{digest}"),
                    scope.clone(),
                )
                .streaming(),
            )
            .await?;
        if !resp.status().is_success() {
            return Err(self
                .status_error(resp, &format!("blob {digest} in {repository}"), &scope)
                .await);
        }
        let content_length = resp.content_length();
        if let (Some(size), Some(length)) = (size, content_length) {
            if length > size {
                return Err(Error::SizeMismatch {
                    what: format!("blob {digest}"),
                    expected: size,
                    actual: length,
                });
            }
        }
        Ok(VerifiedStream {
            inner: Box::pin(resp.bytes_stream()),
            hasher: Sha256::new(),
            expected: digest.clone(),
            expected_size: size,
            seen: 0,
            registry: self.registry().to_string(),
            read_timeout: self.timeouts().read.as_secs(),
            done: false,
            content_length,
        })
    }

    /// A small blob (a config) in memory, verified, of the descriptor's `size` when known and
    /// never more than [`MAX_IN_MEMORY_BLOB`].
    pub async fn get_blob(
        &self,
        repository: &str,
        digest: &Digest,
        size: Option<u64>,
    ) -> Result<Bytes> {
        let too_big = || Error::TooBig {
            registry: self.registry().to_string(),
            what: format!("blob {digest}"),
            limit: MAX_IN_MEMORY_BLOB,
        };
        if size.is_some_and(|s| s > MAX_IN_MEMORY_BLOB) {
            return Err(too_big());
        }
        let mut stream = self.blob_stream(repository, digest, size).await?;
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if out.len() as u64 + chunk.len() as u64 > MAX_IN_MEMORY_BLOB {
                return Err(too_big());
            }
            out.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(out))
    }

    /// Downloads a blob to `path`. The bytes go to a sibling temporary file that is renamed into
    /// place only once the digest matches, so a lying registry leaves nothing behind.
    pub async fn download_blob(
        &self,
        repository: &str,
        digest: &Digest,
        path: &Path,
    ) -> Result<u64> {
        let tmp = path.with_extension("partial");
        let result = async {
            let mut stream = self.blob_stream(repository, digest, None).await?;
            let mut file = tokio::fs::File::create(&tmp)
                .await
                .map_err(|e| Error::io(format!("creating {}", tmp.display()), e))?;
            let mut written = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                written += chunk.len() as u64;
                file.write_all(&chunk)
                    .await
                    .map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
            }
            file.flush()
                .await
                .map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
            Ok(written)
        }
        .await;
        match result {
            Ok(written) => {
                tokio::fs::rename(&tmp, path)
                    .await
                    .map_err(|e| Error::io(format!("renaming to {}", path.display()), e))?;
                Ok(written)
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                Err(e)
            }
        }
    }

    /// Asks the registry to mount `digest` from repository `from` into `repository`.
    ///
    /// A mount is only a shortcut, so a registry that cannot or will not do it is not an error:
    /// "If the registry does not support cross-repository mounting or is unable to mount the
    /// requested blob, it SHOULD return a `202`. This indicates that the upload session has begun
    /// and that the client MAY proceed with the upload"
    /// ([spec](https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#mounting-a-blob-from-another-repository)).
    /// No caller uploads into that session (each uploads later, in a session it can resume), so
    /// it is cancelled here instead of left on the registry until it expires. A source these
    /// credentials may not read (401, 403) or that does not exist (404) is [`Mount::NotMounted`]
    /// too: callers try places an engine remembers, which may belong to another registry, and a
    /// target the credentials may not write to fails the upload that follows anyway.
    pub async fn mount_blob(&self, repository: &str, digest: &Digest, from: &str) -> Result<Mount> {
        validate_repository(repository)?;
        validate_repository(from)?;
        let scope = Scope::mount(repository, from);
        let url = format!("/v2/{repository}/blobs/uploads/?mount={digest}&from={from}");
        let resp = self
            .send(Request::new(Method::POST, url, scope.clone()))
            .await?;
        match resp.status() {
            StatusCode::CREATED => Ok(Mount::Mounted),
            StatusCode::ACCEPTED => {
                if let Some(location) = header_str(resp.headers(), "location") {
                    self.abandon_upload(&Upload::opened(repository, location))
                        .await;
                }
                Ok(Mount::NotMounted)
            }
            _ => match self
                .status_error(
                    resp,
                    &format!("blob mount of {digest} into {repository}"),
                    &scope,
                )
                .await
            {
                Error::Unauthorized { .. } | Error::Denied { .. } | Error::NotFound { .. } => {
                    Ok(Mount::NotMounted)
                }
                e => Err(e),
            },
        }
    }
}
