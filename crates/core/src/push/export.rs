//! One pass over the engine's export: every layer the registry still needs is compressed and
//! uploaded, or, when the engine already holds it compressed (the containerd image store),
//! uploaded as it is; layers the cache already settled are skipped; small documents are kept.
//!
//! Layers are identified by content. A path that names a digest ([`BlobName::Digest`]) is checked
//! against the bytes; an unnamed `layer.tar` (Docker 24 and older) is hashed.

use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::{Digest as _, Sha256};
use slipway_engine::archive::{ArchiveEntry, BlobName};
use slipway_oci::image::{sniff_compression, LayerCompression};
use slipway_oci::Digest;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::compress::{compress_layer, finish};
use super::{Ctx, How, PushEvent, PushPhase, PushedLayer};
use crate::{Error, Result};

/// Layers uploading at once.
const UPLOADS_IN_FLIGHT: usize = 3;

/// The engine's export, entry by entry.
pub(super) type Entries =
    Pin<Box<dyn Stream<Item = slipway_engine::Result<ArchiveEntry>> + Send + 'static>>;

/// The next chunk of the current blob, or `None` at its end.
pub(super) async fn next_chunk(entries: &mut Entries) -> Result<Option<Bytes>> {
    match entries.next().await {
        Some(Ok(ArchiveEntry::Chunk(chunk))) => Ok(Some(chunk)),
        Some(Ok(ArchiveEntry::BlobEnd)) => Ok(None),
        Some(Ok(_)) => Err(Error::Engine(
            "the engine's export is malformed: a layer's bytes were interrupted".to_string(),
        )),
        Some(Err(e)) => Err(e.into()),
        None => Err(Error::Engine(
            "the engine's export ended inside a layer; try again".to_string(),
        )),
    }
}

/// What the cache settled before the export, which decides what the export must do.
pub(super) struct Plan {
    /// The image's diff_ids, base first.
    pub diff_ids: Vec<String>,
    /// diff_ids already in the target.
    pub settled: HashSet<String>,
    /// Uncompressed sizes of the settled layers: an unnamed `layer.tar` of such a size is only
    /// hashed at first, because it is probably one of them.
    pub settled_sizes: HashSet<u64>,
    /// Each diff_id's size as the image's history gives it (the content, without the tar's
    /// headers), to tell which layer an unnamed `layer.tar` probably is before it is hashed.
    pub sizes: Vec<u64>,
}

/// A blob the engine held compressed, uploaded (or found) as it is.
#[derive(Debug, Clone)]
pub(super) struct Passed {
    pub digest: Digest,
    pub size: u64,
    pub compression: LayerCompression,
    pub how: How,
}

/// What one pass over the export did.
#[derive(Default)]
pub(super) struct Exported {
    /// Layers compressed and uploaded here, by diff_id.
    pub compressed: Vec<PushedLayer>,
    /// Compressed blobs as the engine held them, by path in the archive.
    pub passed: HashMap<String, Passed>,
    /// The small JSON documents, by path.
    pub documents: HashMap<String, Bytes>,
    /// A layer was only hashed on the guess that it was settled, and it was not: the export must
    /// be read again with every layer compressed.
    pub guessed_wrong: bool,
}

/// Reads the whole export, uploading what `plan` says is missing.
pub(super) async fn read_export(
    ctx: &Arc<Ctx>,
    mut entries: Entries,
    plan: &Plan,
) -> Result<Exported> {
    let wanted: HashSet<&String> = plan.diff_ids.iter().collect();
    let slots = Arc::new(Semaphore::new(UPLOADS_IN_FLIGHT));
    // A JoinSet aborts its tasks when dropped, so a failed or cancelled push stops its uploads.
    let mut uploads: JoinSet<Result<()>> = JoinSet::new();
    let mut out = Exported::default();
    let mut seen: HashSet<String> = HashSet::new();
    let mut layer_index = 0usize;
    let mut first_entry = true;
    while let Some(entry) = entries.next().await {
        if std::mem::take(&mut first_entry) {
            ctx.emit(PushEvent::Phase {
                phase: PushPhase::Uploading,
            });
        }
        match entry? {
            ArchiveEntry::Document { path, bytes } => {
                out.documents.insert(path, bytes);
            }
            ArchiveEntry::BlobStart { path, size, name } => {
                let first = next_chunk(&mut entries).await?;
                if let Some(compression) = first.as_deref().and_then(sniff_compression) {
                    let BlobName::Digest(digest) = &name else {
                        return Err(Error::Engine(format!(
                            "the engine's export holds a compressed layer {path} without its digest"
                        )));
                    };
                    let digest = parse_digest(digest)?;
                    let passed = pass_through(
                        ctx,
                        digest,
                        size,
                        compression,
                        first,
                        &mut entries,
                        &slots,
                        &mut uploads,
                    )
                    .await?;
                    out.passed.insert(path, passed);
                } else {
                    layer_index += 1;
                    let skip = match &name {
                        BlobName::Digest(d) => plan.settled.contains(d) || !wanted.contains(d),
                        BlobName::Unnamed => plan.settled_sizes.contains(&size),
                    };
                    if skip {
                        let diff_id = hash_rest(first, &mut entries).await?;
                        if !plan.settled.contains(&diff_id) && wanted.contains(&diff_id) {
                            out.guessed_wrong = true;
                        }
                        continue;
                    }
                    let label = row_label(&name, plan, &seen, layer_index, size);
                    let ready = compress_layer(ctx, first, &mut entries, &label, size).await?;
                    if let BlobName::Digest(named) = &name {
                        if *named != ready.diff_id {
                            return Err(Error::Engine(format!(
                                "the engine's export names a layer {named} but it holds {}; the image changed during the push, try again",
                                ready.diff_id
                            )));
                        }
                    }
                    let diff_id = ready.diff_id.clone();
                    if label != diff_id {
                        ctx.emit(PushEvent::Identified {
                            label,
                            diff_id: diff_id.clone(),
                        });
                    }
                    if !plan.settled.contains(&diff_id) && seen.insert(diff_id.clone()) {
                        out.compressed.push(PushedLayer {
                            diff_id,
                            digest: ready.layer.compressed.to_string(),
                            size: ready.layer.compressed_size,
                            how: How::Uploaded,
                        });
                    }
                    // The upload already streamed; completing it is cheap even for a layer that
                    // turned out to be a duplicate (the registry keeps one copy).
                    let permit = slots.clone().acquire_owned().await.expect("never closed");
                    let task_ctx = ctx.clone();
                    uploads.spawn(async move {
                        let _permit = permit;
                        finish(&task_ctx, ready).await
                    });
                }
            }
            ArchiveEntry::Chunk(_) | ArchiveEntry::BlobEnd => {
                return Err(Error::Engine(
                    "the engine's export is malformed: layer bytes outside a layer".to_string(),
                ))
            }
        }
        // Fail fast when an upload failed rather than reading the rest for nothing.
        while let Some(done) = uploads.try_join_next() {
            done.map_err(|e| Error::Engine(format!("an upload task stopped: {e}")))??;
        }
    }
    while let Some(done) = uploads.join_next().await {
        done.map_err(|e| Error::Engine(format!("an upload task stopped: {e}")))??;
    }
    Ok(out)
}

/// The row a layer's progress goes to while it is compressed, before its hash is known. A layer
/// the export names by digest is that diff_id. An unnamed `layer.tar` (Docker 24 and older, which
/// writes layers in the order of their directory names, not base first) is the layer not yet
/// seen whose size in the history is nearest the tar's; the hash then checks the guess, and
/// [`PushEvent::Identified`] moves the row when it was wrong. A settled layer read again keeps
/// its finished row, which a display leaves as it is. Only when every layer was seen does a
/// blob get a `layer-N` row of its own.
fn row_label(
    name: &BlobName,
    plan: &Plan,
    seen: &HashSet<String>,
    layer_index: usize,
    size: u64,
) -> String {
    if let BlobName::Digest(digest) = name {
        return digest.clone();
    }
    plan.diff_ids
        .iter()
        .zip(plan.sizes.iter().chain(std::iter::repeat(&0)))
        .filter(|(d, _)| !seen.contains(*d))
        .min_by_key(|(_, expected)| expected.abs_diff(size))
        .map(|(d, _)| d.clone())
        .unwrap_or_else(|| format!("layer-{layer_index}"))
}

fn parse_digest(digest: &str) -> Result<Digest> {
    Digest::parse(digest)
        .map_err(|e| Error::Engine(format!("the engine's export names a blob {digest}: {e}")))
}

/// Hashes what is left of the current blob (after `first`) and returns its digest.
async fn hash_rest(first: Option<Bytes>, entries: &mut Entries) -> Result<String> {
    let mut hasher = Sha256::new();
    if let Some(first) = first {
        hasher.update(&first);
    }
    while let Some(chunk) = next_chunk(entries).await? {
        hasher.update(&chunk);
    }
    Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
}

/// Uploads a blob the engine already holds compressed, under its own digest, unless the target
/// has it. The bytes are hashed as they go: a blob that does not match its name fails the
/// upload before the registry completes it (the registry checks the digest too).
#[allow(clippy::too_many_arguments)]
async fn pass_through(
    ctx: &Arc<Ctx>,
    digest: Digest,
    size: u64,
    compression: LayerCompression,
    first: Option<Bytes>,
    entries: &mut Entries,
    slots: &Arc<Semaphore>,
    uploads: &mut JoinSet<Result<()>>,
) -> Result<Passed> {
    let repo = ctx.target.repository().to_string();
    let blob = digest.to_string();
    let mut passed = Passed {
        digest: digest.clone(),
        size,
        compression,
        how: How::Exists,
    };
    if ctx.client.blob_exists(&repo, &digest).await?.is_some() {
        // The bytes are not needed; reading past them is all the export asks.
        while next_chunk(entries).await?.is_some() {}
        ctx.emit(PushEvent::Exists {
            digest: blob.clone(),
            blob,
        });
        return Ok(passed);
    }
    passed.how = How::Uploaded;
    let (tx, rx) = tokio::sync::mpsc::channel::<slipway_oci::Result<Bytes>>(4);
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let permit = slots.clone().acquire_owned().await.expect("never closed");
    let task_ctx = ctx.clone();
    let task_digest = digest.clone();
    let upload = tokio::spawn(async move {
        let _permit = permit;
        task_ctx
            .client
            .push_blob_stream(&repo, &task_digest, body)
            .await
    });
    let upload = crate::task::AbortOnDrop(upload);
    let mut hasher = Sha256::new();
    let mut sent = 0u64;
    let mut pending = first;
    loop {
        let chunk = match pending.take() {
            Some(chunk) => Some(chunk),
            None => next_chunk(entries).await?,
        };
        let Some(chunk) = chunk else { break };
        hasher.update(&chunk);
        sent += chunk.len() as u64;
        if tx.send(Ok(chunk)).await.is_err() {
            // The upload ended early; its own error is reported below.
            while next_chunk(entries).await?.is_some() {}
            break;
        }
        ctx.emit(PushEvent::Uploading {
            blob: blob.clone(),
            done: sent,
            total: size,
        });
    }
    let actual = Digest::sha256_hex(hex::encode(hasher.finalize()));
    if actual != digest {
        let _ = tx
            .send(Err(slipway_oci::Error::DigestMismatch {
                registry: ctx.target.registry().to_string(),
                expected: digest.clone(),
                actual: actual.clone(),
            }))
            .await;
        return Err(Error::Engine(format!(
            "the engine's export holds blob {digest} with other bytes ({actual}); try again"
        )));
    }
    drop(tx);
    let task_ctx = ctx.clone();
    uploads.spawn(async move {
        let mut upload = upload;
        upload.join().await??;
        task_ctx.count_uploaded(size);
        task_ctx.emit(PushEvent::Done {
            blob: digest.to_string(),
            digest: digest.to_string(),
            size,
        });
        Ok(())
    });
    Ok(passed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            diff_ids: vec!["sha256:base".into(), "sha256:big".into()],
            settled: HashSet::from(["sha256:base".to_string()]),
            settled_sizes: HashSet::new(),
            sizes: vec![2_000_000, 150_000_000],
        }
    }

    #[test]
    fn an_unnamed_layer_gets_the_row_of_the_unseen_layer_nearest_its_size() {
        let plan = plan();
        let none = HashSet::new();
        // Docker 20.10 may write the big layer first: its tar is a little larger than its content.
        assert_eq!(
            row_label(&BlobName::Unnamed, &plan, &none, 1, 150_010_240),
            "sha256:big"
        );
        // A settled layer read again keeps its own (finished) row.
        assert_eq!(
            row_label(&BlobName::Unnamed, &plan, &none, 2, 2_005_760),
            "sha256:base"
        );
        // Once a layer is seen, the other takes the remaining row whatever its size.
        let seen = HashSet::from(["sha256:big".to_string()]);
        assert_eq!(
            row_label(&BlobName::Unnamed, &plan, &seen, 2, 150_010_240),
            "sha256:base"
        );
        let all: HashSet<String> = plan.diff_ids.iter().cloned().collect();
        assert_eq!(row_label(&BlobName::Unnamed, &plan, &all, 3, 1), "layer-3");
        // A layer the export names by digest is that diff_id.
        assert_eq!(
            row_label(&BlobName::Digest("sha256:x".into()), &plan, &none, 1, 1),
            "sha256:x"
        );
    }
}
