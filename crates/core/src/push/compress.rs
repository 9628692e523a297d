//! Compressing one layer from the engine's export on every core, into a cache file that is
//! uploaded while it grows.
//!
//! Chunks are compressed as independent members in parallel and written in order; both sides are
//! hashed on the way (the uncompressed side is the diff_id, the compressed side the registry
//! digest). An upload session follows the file, so the registry receives a layer while the rest
//! of it is still being compressed; the session is completed once the digest is known.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::FuturesOrdered;
use futures_util::StreamExt;
use sha2::{Digest as _, Sha256};
use slipway_oci::uploads::{Upload, UploadProgress, CHUNK_SIZE};
use slipway_oci::{Digest, Growth};
use tokio::io::AsyncWriteExt;

use super::export::{next_chunk, Entries};
use super::{Ctx, PushEvent};
use crate::blob_cache::CachedLayer;
use crate::task::AbortOnDrop;
use crate::{Error, Result};

/// A compressed layer whose upload has been streaming; [`finish`] completes it.
pub(super) struct Ready {
    pub diff_id: String,
    pub layer: CachedLayer,
    tmp: TempBlob,
    uploader: AbortOnDrop<Result<Upload>>,
}

/// A blob file under its temporary name, removed unless it was filed in the cache: a cancelled
/// or failed push leaves no temp file behind.
struct TempBlob(Option<PathBuf>);

impl Drop for TempBlob {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Compresses one layer whose first chunk is `first` (already read from `entries`) and whose
/// remaining chunks follow in `entries` up to the blob's end. `label` names the layer in progress
/// events until its diff_id is known.
pub(super) async fn compress_layer(
    ctx: &Arc<Ctx>,
    first: Option<Bytes>,
    entries: &mut Entries,
    label: &str,
    size: u64,
) -> Result<Ready> {
    let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
    let path = ctx.cache.temp_path();
    let tmp = TempBlob(Some(path.clone()));
    let io_err = |source| Error::Io {
        path: path.clone(),
        source,
    };
    let mut file = tokio::fs::File::create(&path).await.map_err(io_err)?;
    let (growth_tx, growth_rx) = tokio::sync::watch::channel(Growth::default());
    let uploader = AbortOnDrop(tokio::spawn(follow_file(
        ctx.clone(),
        path.clone(),
        label.to_string(),
        growth_rx,
    )));
    let mut signalled = 0u64;
    let mut raw_hasher = Sha256::new();
    let mut packed_hasher = Sha256::new();
    let mut compressed_size = 0u64;
    let mut read = 0u64;
    let mut in_flight = FuturesOrdered::new();
    let codec = ctx.codec;
    let mut pending = first;
    loop {
        let chunk = match pending.take() {
            Some(chunk) => Some(chunk),
            None => next_chunk(entries).await?,
        };
        let finished = chunk.is_none();
        if let Some(chunk) = chunk {
            raw_hasher.update(&chunk);
            read += chunk.len() as u64;
            in_flight.push_back(tokio::task::spawn_blocking(move || codec.compress(&chunk)));
        }
        // Keep every core busy but no more chunks in memory than that.
        while in_flight.len() > parallel || (finished && !in_flight.is_empty()) {
            let member =
                in_flight.next().await.expect("non-empty").map_err(|e| {
                    Error::Compression(format!("a compression task stopped: {e}"))
                })??;
            packed_hasher.update(&member);
            compressed_size += member.len() as u64;
            file.write_all(&member).await.map_err(io_err)?;
            if compressed_size - signalled >= CHUNK_SIZE {
                // The uploader reads the file by path: flush so it sees these bytes.
                file.flush().await.map_err(io_err)?;
                signalled = compressed_size;
                let _ = growth_tx.send(Growth {
                    written: compressed_size,
                    complete: false,
                });
            }
        }
        ctx.emit(PushEvent::Compressing {
            blob: label.to_string(),
            done: read,
            total: size,
        });
        if finished {
            break;
        }
    }
    if read == 0 {
        // An empty layer still needs a valid gzip or zstd stream.
        let member = codec.compress(&[])?;
        packed_hasher.update(&member);
        compressed_size += member.len() as u64;
        file.write_all(&member).await.map_err(io_err)?;
    }
    file.flush().await.map_err(io_err)?;
    let _ = growth_tx.send(Growth {
        written: compressed_size,
        complete: true,
    });
    let layer = CachedLayer {
        compressed: Digest::sha256_hex(hex::encode(packed_hasher.finalize())),
        compressed_size,
        uncompressed_size: read,
        media_type: codec
            .compression
            .flavor()
            .layer_media_type(codec.compression.layer())
            .to_string(),
        locations: Default::default(),
    };
    Ok(Ready {
        diff_id: format!("sha256:{}", hex::encode(raw_hasher.finalize())),
        layer,
        tmp,
        uploader,
    })
}

/// Uploads the compressed file as it grows and returns the session, to be completed once the
/// digest is known. A session that fails or is abandoned is cancelled on the registry.
async fn follow_file(
    ctx: Arc<Ctx>,
    path: PathBuf,
    label: String,
    growth: tokio::sync::watch::Receiver<Growth>,
) -> Result<Upload> {
    let upload = ctx.client.open_upload(ctx.target.repository()).await?;
    let mut session = Session {
        ctx: ctx.clone(),
        upload: Some(upload),
    };
    let progress_ctx = ctx.clone();
    // The final size is unknown while the layer is being compressed: the total shown is what
    // has been compressed so far.
    let written = growth.clone();
    let on_progress: UploadProgress = Arc::new(move |done| {
        progress_ctx.emit(PushEvent::Uploading {
            blob: label.clone(),
            done,
            total: written.borrow().written.max(done),
        });
    });
    let upload = session.upload.as_mut().expect("set above");
    ctx.client
        .upload_growing_file(upload, path, growth, on_progress)
        .await?;
    Ok(session.upload.take().expect("set above"))
}

/// An upload session that is cancelled on the registry unless it was handed on.
struct Session {
    ctx: Arc<Ctx>,
    upload: Option<Upload>,
}

impl Drop for Session {
    fn drop(&mut self) {
        let Some(upload) = self.upload.take() else {
            return;
        };
        let client = self.ctx.client.clone();
        crate::task::cleanup_later(async move { client.abandon_upload(&upload).await });
    }
}

/// Completes a streamed layer upload with its digest and files the compressed bytes in the cache
/// (even when the upload failed, so a retry does not compress again).
pub(super) async fn finish(ctx: &Arc<Ctx>, mut ready: Ready) -> Result<()> {
    let completed = match ready.uploader.join().await {
        Ok(Ok(upload)) => ctx
            .client
            .complete_upload(upload, &ready.layer.compressed)
            .await
            .map_err(Error::from),
        Ok(Err(e)) | Err(e) => Err(e),
    };
    let tmp = ready.tmp.0.take().expect("a ready layer has its file");
    ctx.cache.commit_blob(&tmp, &ready.layer.compressed)?;
    let location = completed.is_ok().then(|| ctx.target.name());
    ctx.cache.put(
        ctx.codec.compression.name(),
        &ready.diff_id,
        ready.layer.clone(),
        location.as_deref(),
    )?;
    completed?;
    let size = ready.layer.compressed_size;
    ctx.count_uploaded(size);
    ctx.emit(PushEvent::Done {
        blob: ready.diff_id.clone(),
        digest: ready.layer.compressed.to_string(),
        size,
    });
    Ok(())
}
