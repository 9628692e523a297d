//! A push by the engine itself, through the relay: tag the image for the relay (while the image
//! is inspected, when the push may go this way: [`Staged`]), let the engine push it, untag it,
//! then put the engine's manifest under the user's tag.
//!
//! Each layer keeps its row, by diff_id, from the start ([`super::engine_rows`]): Docker's own
//! progress lines name the layer they are about, by diff_id on a classic store and by compressed
//! digest on the containerd store, named by the digests this engine gave the layers in earlier
//! pushes, else by its manifest, which a dry run through the relay reads first.
//! Podman's push says nothing until it ends; the relay still skips, at once, a layer it asks
//! about by a compressed digest the push cache knows. When the manifest is in, each row ends on
//! the digest the registry holds the layer under.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use serde::Deserialize;
use slipway_engine::images::ImageDetails;
use slipway_engine::system::{EngineKind, ImageStore};
use slipway_oci::Digest;

use super::engine_rows::EngineRows;
use super::{Ctx, How, PushEvent, PushOutcome, PushPhase, PushedLayer, Route};
use crate::blob_cache::CachedLayer;
use crate::relay::push::{Pushed, Relay, Seen};
use crate::{Error, Result, Slipway};

/// One descriptor in a manifest or an index.
#[derive(Deserialize)]
struct Desc {
    digest: String,
    size: u64,
    #[serde(rename = "mediaType", default)]
    media_type: String,
}

/// The parts of a manifest (or an index) the push reads.
#[derive(Deserialize)]
struct Listing {
    config: Option<Desc>,
    #[serde(default)]
    layers: Vec<Desc>,
    #[serde(default)]
    manifests: Vec<Desc>,
}

/// The relay started and the image tagged for it while the image is inspected, so that neither
/// waits for the other: the tag is a write to the engine's store (10-16 ms on the containerd
/// store here, as long as the inspect).
pub(super) struct Staged {
    relay: Relay,
    relay_ref: String,
    tag: TemporaryTag,
}

impl Staged {
    /// The relay's name for the image, which the engine's inspect may list among its tags.
    pub(super) fn relay_ref(&self) -> &str {
        &self.relay_ref
    }

    /// Stops the relay and removes the tag, when the push goes another way or fails first.
    pub(super) async fn discard(self) {
        drop(self.relay);
        self.tag.remove().await;
    }
}

impl Slipway {
    /// Starts the relay and tags `image` for it.
    pub(super) async fn stage(&self, ctx: &Arc<Ctx>, image: &str) -> Result<Staged> {
        let relay = Relay::start(ctx.clone()).await.map_err(|e| {
            Error::Engine(format!("could not serve the push relay on 127.0.0.1: {e}"))
        })?;
        let relay_ref = crate::relay::temporary_name(relay.addr(), ctx.target.repository());
        // The guard comes first, so that no way out of this future leaves the tag behind.
        let tag = TemporaryTag {
            engine: self.engine().clone(),
            name: Some(relay_ref.clone()),
        };
        self.engine().tag_image(image, &relay_ref).await?;
        Ok(Staged {
            relay,
            relay_ref,
            tag,
        })
    }

    /// `staged` is the relay and tag [`Slipway::stage`] prepared while the image was inspected,
    /// if it did; `store` is a Docker engine's image store when it was asked already.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn push_through_engine(
        &self,
        ctx: &Arc<Ctx>,
        kind: EngineKind,
        image: &str,
        details: &ImageDetails,
        layer_sizes: &[u64],
        staged: Option<Staged>,
        store: Option<ImageStore>,
    ) -> Result<PushOutcome> {
        // The compressed digests this push cache knows for the image's layers: what an engine
        // that pushed them before asks the relay about.
        let known: std::collections::HashMap<Digest, String> = details
            .diff_ids
            .iter()
            .filter_map(|diff_id| {
                let layer = ctx.cache.get(
                    super::codec::cache_name(slipway_oci::image::LayerCompression::Gzip),
                    diff_id,
                )?;
                Some((layer.compressed, diff_id.clone()))
            })
            .collect();
        // Which store a Docker engine uses decides how its progress lines name layers.
        let store_now = || async {
            match (kind, store) {
                (EngineKind::Podman, _) => Ok(None),
                (EngineKind::Docker, Some(store)) => Ok(Some(store)),
                (EngineKind::Docker, None) => self.engine().image_store().await.map(Some),
            }
        };
        let (staged, store) = match staged {
            Some(staged) => (staged, store_now().await),
            None => {
                // `/info`, when it is still to ask, goes while the engine tags: each takes 5-10
                // ms here.
                let (staged, store) = tokio::join!(self.stage(ctx, image), store_now());
                (staged?, store)
            }
        };
        let store = match store {
            Ok(store) => store,
            Err(e) => {
                staged.discard().await;
                return Err(e.into());
            }
        };
        let Staged {
            relay,
            relay_ref,
            tag,
        } = staged;
        relay.know(known);
        ctx.emit(PushEvent::Phase {
            phase: PushPhase::EnginePushing,
        });
        let pushing = async {
            let pushed = self
                .engine_push(
                    ctx,
                    store,
                    &relay,
                    &relay_ref,
                    &details.diff_ids,
                    layer_sizes,
                )
                .await;
            relay.engine_ended();
            pushed
        };
        // The manifest goes under the user's tag as soon as the engine has sent its last one,
        // while the engine still records its push (10-15 ms on the containerd store here).
        let finishing = async {
            relay.last_manifest_sent().await;
            self.finish_engine_push(ctx, relay.take(), image, details, layer_sizes)
                .await
        };
        tokio::pin!(pushing, finishing);
        // The engine reports the relay's failures as a bare status; the relay knows why. A push
        // whose engine fails after its last manifest fails too, though the user's tag then names
        // the complete image.
        let failed = |e| relay.take_failure().unwrap_or(e);
        let finished = tokio::select! {
            pushed = &mut pushing => {
                if let Err(e) = pushed {
                    tag.remove().await;
                    return Err(failed(e));
                }
                // The temporary tag goes while the manifest goes under the user's tag (each
                // takes 5-10 ms here); the image keeps its own tags whatever happens.
                tokio::join!(tag.remove(), finishing).1
            }
            finished = &mut finishing => {
                let pushed = pushing.await;
                tag.remove().await;
                pushed.map_err(failed)?;
                finished
            }
        };
        let (outcome, events) = finished?;
        for event in events {
            ctx.emit(event);
        }
        ctx.finish();
        Ok(outcome)
    }

    /// Puts the manifest the engine pushed through the relay (`seen`) under the user's tag, once
    /// it is known to be `image`'s, and tells the push cache where each layer is. The events
    /// that end each row come back to be sent once the engine's push has ended: the engine may
    /// still report on a layer after its last manifest, and no row may move after its end.
    async fn finish_engine_push(
        &self,
        ctx: &Ctx,
        seen: Pushed,
        image: &str,
        details: &ImageDetails,
        layer_sizes: &[u64],
    ) -> Result<(PushOutcome, Vec<PushEvent>)> {
        let mut events = Vec::new();
        let (media_type, top) = seen.manifests.last().cloned().ok_or_else(|| {
            Error::Engine("the engine's push ended without sending a manifest".to_string())
        })?;
        let (manifest_bytes, children) = image_manifest_of(&seen.manifests, &top)?;
        let manifest: Listing = serde_json::from_slice(&manifest_bytes)
            .map_err(|e| Error::Engine(format!("the engine pushed an unreadable manifest: {e}")))?;
        let config = manifest
            .config
            .ok_or_else(|| Error::Engine("the engine's manifest names no config".to_string()))?;
        let top_digest = Digest::sha256_of(&top).to_string();
        let same_image = config.digest == details.id
            || top_digest == details.id
            || Digest::sha256_of(&manifest_bytes).to_string() == details.id;
        if !same_image || manifest.layers.len() != details.diff_ids.len() {
            return Err(Error::Engine(format!(
                "the engine pushed another image than {image} ({}); the tag moved during the push, try again",
                details.id
            )));
        }

        let mut layers = Vec::new();
        let mut engine_layers = Vec::new();
        let mut remembered = Vec::new();
        for (i, (desc, diff_id)) in manifest.layers.iter().zip(&details.diff_ids).enumerate() {
            let digest = Digest::parse(&desc.digest)
                .map_err(|e| Error::Engine(format!("the engine's manifest: {e}")))?;
            let how = match seen.blobs.get(&digest) {
                Some(Seen::Uploaded { size }) => {
                    events.push(PushEvent::Done {
                        blob: diff_id.clone(),
                        digest: desc.digest.clone(),
                        size: *size,
                    });
                    How::Uploaded
                }
                // Skipped by the engine after a HEAD or a mount the target answered.
                _ => {
                    events.push(PushEvent::Exists {
                        blob: diff_id.clone(),
                        digest: desc.digest.clone(),
                    });
                    How::Exists
                }
            };
            if let Some(compression) = slipway_oci::image::compression_of(&desc.media_type) {
                let cached = CachedLayer {
                    compressed: digest.clone(),
                    compressed_size: desc.size,
                    uncompressed_size: layer_sizes.get(i).copied().unwrap_or(0),
                    media_type: desc.media_type.clone(),
                    locations: Default::default(),
                };
                remembered.push((diff_id.clone(), compression, cached));
            }
            engine_layers.push((diff_id.clone(), desc.digest.clone()));
            layers.push(PushedLayer {
                diff_id: diff_id.clone(),
                digest: desc.digest.clone(),
                size: desc.size,
                how,
            });
        }
        ctx.remember_pushed(remembered)?;
        events.push(PushEvent::Done {
            blob: "config".into(),
            digest: config.digest.clone(),
            size: config.size,
        });

        ctx.emit(PushEvent::Phase {
            phase: PushPhase::Manifest,
        });
        // Manifests an index lists go first, by digest; the top one goes under the user's tag.
        let repo = ctx.target.repository().to_string();
        for (child_type, child) in &children {
            let digest = Digest::sha256_of(child).to_string();
            ctx.client
                .put_manifest(&repo, &digest, child_type, child.clone())
                .await?;
        }
        let digest = ctx.put_tagged_manifest(&media_type, top).await?;
        ctx.cache
            .remember_engine_layers(self.engine().endpoint(), &engine_layers)?;
        // Layer bytes, as the export route counts them (the config is not a layer).
        let uploaded_bytes = layers
            .iter()
            .filter(|l| l.how == How::Uploaded)
            .map(|l| l.size)
            .sum();
        Ok((
            PushOutcome {
                reference: ctx.target.with_digest(digest.clone()).to_string(),
                digest: digest.to_string(),
                media_type,
                layers,
                uploaded_bytes,
                compressed_layers: 0,
                route: Route::Engine,
                exported_whole: None,
            },
            events,
        ))
    }
}

impl Slipway {
    /// Has the engine push `relay_ref` through `relay`, each of its progress lines on its
    /// layer's row. `store` is a Docker engine's image store, `None` for Podman.
    async fn engine_push(
        &self,
        ctx: &Ctx,
        store: Option<ImageStore>,
        relay: &Relay,
        relay_ref: &str,
        diff_ids: &[String],
        layer_sizes: &[u64],
    ) -> Result<()> {
        let Some(store) = store else {
            return Ok(self.engine().podman_push(relay_ref).await?);
        };
        let mut rows = match store {
            ImageStore::Containerd => {
                // The digests this engine gave the layers when it pushed them before name all
                // rows but the new layer of a commit, whose lines are then the only unnamed ones:
                // a dry run would cost a second push (20-30 ms here) to learn that one name.
                let known = ctx.cache.engine_digests(self.engine().endpoint());
                let unnamed = diff_ids.iter().filter(|d| !known.contains_key(*d)).count();
                if unnamed <= 1 {
                    EngineRows::by_known_digests(diff_ids, layer_sizes, &known)
                } else {
                    let compressed = self.layer_digests(relay, relay_ref, diff_ids).await;
                    EngineRows::new(diff_ids, layer_sizes, &compressed)
                }
            }
            ImageStore::Classic => EngineRows::new(diff_ids, layer_sizes, &[]),
        };
        let mut lines = std::pin::pin!(self.engine().push_image(relay_ref));
        while let Some(line) = lines.next().await {
            if let Some(event) = rows.event(&line?) {
                ctx.emit(event);
            }
        }
        Ok(())
    }

    /// The compressed digest and size of each layer, as the engine's manifest lists them, read
    /// by a dry run of the push: the relay says it has every blob, so the engine sends only its
    /// manifest. A containerd store names its progress lines by these digests. Empty when the
    /// dry run fails, which costs the rows their bytes but not the push.
    async fn layer_digests(
        &self,
        relay: &Relay,
        relay_ref: &str,
        diff_ids: &[String],
    ) -> Vec<(String, u64)> {
        relay.dry_run(true);
        let mut lines = std::pin::pin!(self.engine().push_image(relay_ref));
        let mut ran = true;
        while let Some(line) = lines.next().await {
            if let Err(e) = line {
                tracing::warn!("the dry run of the engine's push failed: {e}");
                ran = false;
                break;
            }
        }
        relay.dry_run(false);
        let seen = relay.take();
        let _ = relay.take_failure();
        let Some((_, top)) = seen.manifests.last().filter(|_| ran) else {
            return Vec::new();
        };
        let Ok((manifest, _)) = image_manifest_of(&seen.manifests, top) else {
            return Vec::new();
        };
        let Ok(listing) = serde_json::from_slice::<Listing>(&manifest) else {
            return Vec::new();
        };
        if listing.layers.len() != diff_ids.len() {
            return Vec::new();
        }
        listing
            .layers
            .into_iter()
            .map(|l| (l.digest, l.size))
            .collect()
    }
}

/// The relay's name for the image, tagged for one push: removed after the engine's push, and
/// also when the push fails or is cancelled before that, so no `127.0.0.1:...` name stays in the
/// user's image list.
struct TemporaryTag {
    engine: slipway_engine::Engine,
    name: Option<String>,
}

impl TemporaryTag {
    async fn remove(mut self) {
        if let Some(name) = self.name.take() {
            let _ = self.engine.remove_image(&name, false).await;
        }
    }
}

impl Drop for TemporaryTag {
    fn drop(&mut self) {
        let Some(name) = self.name.take() else {
            return;
        };
        let engine = self.engine.clone();
        crate::task::cleanup_later(async move {
            let _ = engine.remove_image(&name, false).await;
        });
    }
}

/// For the manifest the engine pushed last: when it is an index, the image manifest among those
/// it lists (the one whose blobs were pushed) plus every listed manifest the engine sent;
/// otherwise the manifest itself and nothing else.
fn image_manifest_of(
    sent: &[(String, Bytes)],
    top: &Bytes,
) -> Result<(Bytes, Vec<(String, Bytes)>)> {
    let listing: Listing = serde_json::from_slice(top).map_err(|e| {
        Error::Engine(format!(
            "the engine pushed an unreadable manifest: {e}: {}",
            String::from_utf8_lossy(&top[..top.len().min(400)])
        ))
    })?;
    if listing.manifests.is_empty() {
        return Ok((top.clone(), Vec::new()));
    }
    let children: Vec<(String, Bytes)> = sent
        .iter()
        .filter(|(_, bytes)| {
            let digest = Digest::sha256_of(bytes).to_string();
            listing.manifests.iter().any(|d| d.digest == digest)
        })
        .cloned()
        .collect();
    let image = children.first().map(|(_, b)| b.clone()).ok_or_else(|| {
        Error::Engine("the engine pushed an index without its manifests".to_string())
    })?;
    Ok((image, children))
}
