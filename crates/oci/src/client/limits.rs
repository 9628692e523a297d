//! How long and how much a registry may take: [`Timeouts`], the size limits of what is read into
//! memory, and the progress watch on request bodies that no fixed timeout fits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::Response;

use super::Client;
use crate::error::{Error, Result};

/// How long a registry may keep us waiting.
///
/// The default is 60 s of silence (`SLIPWAY_REGISTRY_TIMEOUT=SECONDS` changes it), as long as
/// containerd's and docker's HTTP clients wait for response headers; a stalled registry or token
/// server then ends in [`Error::TimedOut`] instead of a window or CLI that hangs forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Connecting (TCP and TLS).
    pub connect: Duration,
    /// The longest silence while waiting for an answer or reading a body. Uploads count a piece of
    /// the body taken by the connection as progress too.
    pub read: Duration,
    /// The whole of a small request (token, manifest, catalog page, HEAD, upload session steps);
    /// blob downloads and uploads have no overall limit, only `read`.
    pub request: Duration,
}

/// The environment variable that sets [`Timeouts::read`] in seconds (and the others from it).
pub const TIMEOUT_ENV: &str = "SLIPWAY_REGISTRY_TIMEOUT";

impl Timeouts {
    /// Timeouts derived from one silence limit: connect within it (at most 10 s), a small request
    /// within twice it.
    pub fn from_read(read: Duration) -> Timeouts {
        Timeouts {
            connect: read.min(Duration::from_secs(10)),
            read,
            request: read.saturating_mul(2),
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        let seconds = std::env::var(TIMEOUT_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|s| *s > 0)
            .unwrap_or(60);
        Timeouts::from_read(Duration::from_secs(seconds))
    }
}

/// The most a token reply or an error body may weigh: containers/image reads at most 1 MiB of
/// either (`iolimits.maxAuthTokenBodySize`, `maxErrorBodySize`).
pub const MAX_TOKEN_BODY: u64 = 1 << 20;
/// See [`MAX_TOKEN_BODY`].
pub const MAX_ERROR_BODY: u64 = 1 << 20;
/// A token is never kept longer than a day, whatever `expires_in` says: a token server is not
/// trusted to make us hold (or overflow the clock with) a huge lifetime.
pub(super) const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// A request body above this size is sent in pieces and watched for progress (see
/// [`Client::send_tracked`]); below it, the read timeout is ample even on a slow link.
pub(super) const LARGE_BODY: usize = 1 << 20;

/// How a watched request failed: reqwest's error, or no progress for the silence limit.
pub(super) enum Watched {
    Send(reqwest::Error),
    Stalled(Error),
}

/// `bytes` as 256 KiB pieces, so that progress can be counted piece by piece.
pub(super) fn pieces(
    bytes: &Bytes,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send {
    const PIECE: usize = 256 << 10;
    let bytes = bytes.clone();
    let starts: Vec<usize> = (0..bytes.len()).step_by(PIECE).collect();
    futures_util::stream::iter(
        starts
            .into_iter()
            .map(move |i| Ok(bytes.slice(i..(i + PIECE).min(bytes.len())))),
    )
}

/// `body`, counting each piece the connection takes in `taken`.
pub(super) fn counted<S>(
    body: S,
    taken: Arc<AtomicU64>,
) -> impl futures_util::Stream<Item = S::Item> + Send
where
    S: futures_util::Stream + Send,
{
    use futures_util::StreamExt;
    body.inspect(move |_| {
        taken.fetch_add(1, Ordering::Relaxed);
    })
}

impl Client {
    /// Waits for `sending`, failing when `taken` (pieces of the body taken by the connection) has
    /// not moved for the silence limit: after the last piece, that limits the wait for the answer.
    pub(super) async fn watched(
        &self,
        sending: impl std::future::Future<Output = reqwest::Result<Response>>,
        taken: &AtomicU64,
    ) -> std::result::Result<Response, Watched> {
        let silence = self.inner.timeouts.read;
        tokio::pin!(sending);
        let mut seen = taken.load(Ordering::Relaxed);
        loop {
            tokio::select! {
                sent = &mut sending => return sent.map_err(Watched::Send),
                () = tokio::time::sleep(silence) => {
                    let now = taken.load(Ordering::Relaxed);
                    if now == seen {
                        return Err(Watched::Stalled(self.timed_out(
                            "the upload made no progress and no answer came".to_string(),
                        )));
                    }
                    seen = now;
                }
            }
        }
    }

    /// Reads a whole body into memory, refusing more than `limit` bytes: a hostile or broken
    /// registry must not be able to fill the app's memory with a "manifest" or "token".
    pub(crate) async fn read_capped(
        &self,
        mut resp: Response,
        limit: u64,
        what: &str,
    ) -> Result<Bytes> {
        let too_big = || Error::TooBig {
            registry: self.inner.registry.clone(),
            what: what.to_string(),
            limit,
        };
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(too_big());
        }
        let mut out = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.classify_send_error(&e))?
        {
            if out.len() as u64 + chunk.len() as u64 > limit {
                return Err(too_big());
            }
            out.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(out))
    }
}
