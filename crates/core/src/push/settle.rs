//! Settling a layer from what the push cache knows, without the engine: the target already has
//! the blob (HEAD), another repository of the same registry has it (mount), or the compressed
//! bytes are in the cache (upload them).

use std::sync::Arc;

use slipway_oci::blobs::Mount;
use slipway_oci::BlobSource;

use super::{Ctx, How, PushEvent, PushedLayer};
use crate::blob_cache::CachedLayer;
use crate::Result;

/// Makes a cached layer present in the target: HEAD, then mount from another repository of the
/// same registry, then upload the cached compressed file. `None` when none of that is possible.
pub(super) async fn settle_from_cache(
    ctx: &Arc<Ctx>,
    diff_id: &str,
    cached: &CachedLayer,
) -> Result<Option<PushedLayer>> {
    let repo = ctx.target.repository();
    let pushed = |how| PushedLayer {
        diff_id: diff_id.to_string(),
        digest: cached.compressed.to_string(),
        size: cached.compressed_size,
        how,
    };
    if ctx
        .client
        .blob_exists(repo, &cached.compressed)
        .await?
        .is_some()
    {
        ctx.emit(PushEvent::Exists {
            blob: diff_id.to_string(),
            digest: cached.compressed.to_string(),
        });
        remember_here(ctx, diff_id, cached)?;
        return Ok(Some(pushed(How::Exists)));
    }
    let prefix = format!("{}/", ctx.target.registry());
    for other in &cached.locations {
        let Some(from) = other.strip_prefix(&prefix) else {
            continue;
        };
        if from == repo {
            continue;
        }
        if let Mount::Mounted = ctx
            .client
            .mount_blob(repo, &cached.compressed, from)
            .await?
        {
            ctx.emit(PushEvent::Mounted {
                blob: diff_id.to_string(),
                digest: cached.compressed.to_string(),
                from: from.to_string(),
            });
            remember_here(ctx, diff_id, cached)?;
            return Ok(Some(pushed(How::Mounted)));
        }
    }
    if ctx
        .cache
        .has_blob(&cached.compressed, cached.compressed_size)
    {
        upload_cached(ctx, diff_id, cached.clone()).await?;
        return Ok(Some(pushed(How::Uploaded)));
    }
    Ok(None)
}

/// The cache learns that the target repository now holds the blob, so the next push to another
/// repository of the registry mounts from it.
fn remember_here(ctx: &Ctx, diff_id: &str, cached: &CachedLayer) -> Result<()> {
    ctx.cache.put(
        ctx.codec.compression.name(),
        diff_id,
        cached.clone(),
        Some(&ctx.target.name()),
    )
}

async fn upload_cached(ctx: &Arc<Ctx>, diff_id: &str, layer: CachedLayer) -> Result<()> {
    let repo = ctx.target.repository().to_string();
    let total = layer.compressed_size;
    let blob = diff_id.to_string();
    let progress_ctx = ctx.clone();
    let on_progress: slipway_oci::uploads::UploadProgress = Arc::new(move |done| {
        progress_ctx.emit(PushEvent::Uploading {
            blob: blob.clone(),
            done,
            total,
        });
    });
    let source = BlobSource::File(ctx.cache.blob_path(&layer.compressed));
    let sent = ctx
        .client
        .push_blob(&repo, &layer.compressed, total, source, Some(on_progress))
        .await?;
    if sent {
        ctx.count_uploaded(total);
        ctx.emit(PushEvent::Done {
            blob: diff_id.to_string(),
            digest: layer.compressed.to_string(),
            size: total,
        });
    } else {
        ctx.emit(PushEvent::Exists {
            blob: diff_id.to_string(),
            digest: layer.compressed.to_string(),
        });
    }
    remember_here(ctx, diff_id, &layer)
}
