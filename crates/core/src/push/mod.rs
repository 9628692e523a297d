//! Push an image from the local engine straight to a registry.
//!
//! The engine's export ([`slipway_engine::archive`], any engine's layout) is requested first, so
//! the engine prepares it while the registry is asked about the layers the push cache already
//! knows (`settle`). The export is then read once, in order, never copied whole to disk
//! (`export`): uncompressed layers are cut into chunks compressed on every core at once
//! (`codec`, `compress`) while both sides are hashed, and uploaded while they grow; blobs the
//! engine already holds compressed (Docker's containerd image store) go to the registry as they
//! are; or the engine pushes itself through a loopback relay (the crate's `relay`) when that
//! costs only what changed (`route`). The config and the manifest go last (`resolve` reads which
//! config and layers the export describes); the manifest is read back by digest before the push
//! reports success.
//!
//! A re-push looks each diff_id up in the cache first: layers the registry already has are
//! skipped after a HEAD, layers in another repository of the same registry are mounted, and
//! layers whose compressed bytes are cached are uploaded without exporting anything.

mod codec;
mod compress;
mod engine;
mod engine_rows;
mod export;
mod overall;
mod resolve;
mod route;
mod settle;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use slipway_engine::system::EngineKind;
use slipway_oci::image::{descriptor, image_manifest, Flavor};
use slipway_oci::{BlobSource, Client, Digest, Reference};
use ts_rs::TS;

use crate::blob_cache::BlobCache;
use crate::registry::RegistryAccess;
use crate::{Error, Result, Slipway};

pub(crate) use codec::cache_name;
pub use codec::Compression;
use codec::{Codec, CHUNK};
use export::{read_export, Entries, Exported, Plan};
pub use route::Route;

/// One step in a blob's journey, for progress display. `blob` is the layer's diff_id, or
/// `config` for the image config, so one layer is one row from `Waiting` to `Done`, on either
/// route. The export route may not know which layer an unnamed `layer.tar` (Docker 24 and older)
/// is until it is hashed: it follows the row of the layer it probably is, and an `Identified`
/// then says which diff_id the row really was, so a display moves its bytes there. The engine
/// route names each of the engine's progress lines by the layer's diff_id from the start.
/// `Done`, `Exists` and `Mounted` carry the digest the registry holds the blob under, the one
/// its browser shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum PushEvent {
    Waiting {
        blob: String,
        size: u64,
    },
    Compressing {
        blob: String,
        done: u64,
        total: u64,
    },
    /// The layer compressed as `label` turned out to be `diff_id`.
    Identified {
        label: String,
        diff_id: String,
    },
    Uploading {
        blob: String,
        done: u64,
        total: u64,
    },
    /// The engine skipped the layer because the registry has it or mounted it; an `Exists`
    /// with the registry's digest follows once the engine's manifest is in (the engine route).
    Skipped {
        blob: String,
    },
    /// The registry already has the blob, under `digest`.
    Exists {
        blob: String,
        digest: String,
    },
    /// Mounted from the repository `from` of the same registry, under `digest`.
    Mounted {
        blob: String,
        digest: String,
        from: String,
    },
    Done {
        blob: String,
        digest: String,
        size: u64,
    },
    /// The whole push, as core computes it (`push/overall.rs`): `moved` of `to_move` layer
    /// bytes (sizes as the engine reports them) have reached the registry; `present` bytes of
    /// layers the registry already had or mounted moved nothing. `permille` is the bar, 1000
    /// only once the push has ended; a display draws it and never recomputes it.
    Overall {
        moved: u64,
        to_move: u64,
        present: u64,
        permille: u16,
    },
    /// What the push as a whole is doing now; sent when that changes, first before any byte
    /// moves, so a display can say why nothing moves yet.
    Phase {
        phase: PushPhase,
    },
}

/// The steps of a push, in the order they come. Not every push goes through each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum PushPhase {
    /// Asking the registry which layers it already has.
    Checking,
    /// The engine prepares its export; a classic store writes the whole image before its first
    /// byte, so nothing moves for a while.
    Exporting,
    /// Layers are being compressed and uploaded.
    Uploading,
    /// The engine pushes the image itself, through Slipway's relay.
    EnginePushing,
    /// The config and the manifest, then reading the manifest back.
    Manifest,
}

/// Receives [`PushEvent`]s; the desktop app forwards them to a Tauri channel, the CLI draws bars.
pub type PushProgress = Arc<dyn Fn(PushEvent) + Send + Sync>;

/// What to push where.
#[derive(Debug, Clone, Default)]
pub struct PushRequest {
    /// The local image (name:tag or id).
    pub image: String,
    /// The destination reference (`host:port/repo:tag`).
    pub target: String,
    pub access: RegistryAccess,
    /// gzip level 1-12 (default 1, ISA-L's igzip, within 1.05x of skopeo's output size; 2-12
    /// are libdeflate's, smaller and slower) or zstd level 1-19 (default 1).
    pub level: Option<i32>,
    /// gzip (default) or zstd layers. Layers the engine already holds compressed are pushed as
    /// they are.
    pub compression: Compression,
    /// Where the push cache lives; default the user's cache dir.
    pub cache_dir: Option<PathBuf>,
    /// The export, the engine's own push, or whichever costs only what changed (default).
    pub route: Route,
}

impl PushRequest {
    /// The export route compresses as asked; the engine only with its own gzip at its own level.
    fn own_compression(&self) -> bool {
        self.compression != Compression::Gzip || self.level.is_some()
    }
}

/// Whether `image` names the image by a tag rather than by id or digest: an image found by its
/// tag keeps that tag when another is removed.
fn names_a_tag(image: &str) -> bool {
    let id = image.strip_prefix("sha256:").unwrap_or(image);
    let looks_like_id = (12..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_hexdigit());
    !image.contains('@') && !image.starts_with("sha256:") && !looks_like_id
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PushOutcome {
    /// The pushed reference, pinned: `host/repo:tag@sha256:...`.
    pub reference: String,
    pub digest: String,
    pub media_type: String,
    pub layers: Vec<PushedLayer>,
    /// Compressed bytes actually sent to the registry.
    pub uploaded_bytes: u64,
    /// Layers whose bytes Slipway had to compress in this push.
    pub compressed_layers: usize,
    /// The way the push went: [`Route::Export`] or [`Route::Engine`].
    pub route: Route,
    /// Set when the engine exported the whole image although the registry had most of it.
    pub exported_whole: Option<ExportedWhole>,
}

/// The engine exported the whole image for this push, although the registry already had
/// `present_bytes` of its `image_bytes` (layer sizes as the engine reports them), all but a few
/// MB. A Docker engine with the classic image store knows which registry blob a layer is only
/// once it has pushed or pulled that layer itself, so until then every push of an image built on
/// these layers exports the whole image again. One push with [`Route::Engine`] (as slow as
/// `docker push`) teaches it; the CLI and the window each offer that in their own terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ExportedWhole {
    pub present_bytes: u64,
    pub image_bytes: u64,
}

/// One layer of a pushed image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PushedLayer {
    pub diff_id: String,
    /// The registry digest of the (compressed) blob.
    pub digest: String,
    pub size: u64,
    pub how: How,
}

/// How a layer got into the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum How {
    /// Its bytes were sent in this push.
    Uploaded,
    /// The repository already had it.
    Exists,
    /// Mounted from another repository of the same registry.
    Mounted,
}

/// What every part of one push shares.
pub(crate) struct Ctx {
    pub(crate) client: Client,
    codec: Codec,
    pub(crate) target: Reference,
    pub(crate) cache: BlobCache,
    progress: PushProgress,
    overall: overall::Overall,
    uploaded: AtomicU64,
}

impl Ctx {
    /// Sends `event`, and the overall event it changes after it.
    pub(crate) fn emit(&self, event: PushEvent) {
        (self.progress)(event.clone());
        self.overall
            .observe(&event, |overall| (self.progress)(overall));
    }

    /// Sends the full overall bar, once the manifest is in.
    fn finish(&self) {
        (self.progress)(self.overall.finish());
    }

    /// Files layers the registry now holds, each (diff_id, compression, layer) as
    /// `layer.compressed`, so another push of them, from any engine and either route, finds
    /// them by HEAD or mounts them instead of compressing them.
    fn remember_pushed(
        &self,
        layers: Vec<(
            String,
            slipway_oci::image::LayerCompression,
            crate::blob_cache::CachedLayer,
        )>,
    ) -> Result<()> {
        self.cache.put_all(
            layers.into_iter().map(|(diff_id, compression, layer)| {
                (codec::cache_name(compression), diff_id, layer)
            }),
            Some(&self.target.name()),
        )
    }

    pub(crate) fn count_uploaded(&self, bytes: u64) {
        self.uploaded.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Puts `manifest` under the target's tag, then reads it back by digest, so that success is
    /// never reported for a manifest the registry did not keep (a proxy that swallowed the PUT,
    /// a registry that failed to commit).
    async fn put_tagged_manifest(&self, media_type: &str, manifest: Bytes) -> Result<Digest> {
        let repo = self.target.repository();
        let tag = self.target.manifest_reference();
        let digest = self
            .client
            .put_manifest(repo, &tag, media_type, manifest)
            .await?;
        let back = self.client.get_manifest(repo, &digest.to_string()).await?;
        if back.digest != digest {
            return Err(Error::Registry(slipway_oci::Error::DigestMismatch {
                registry: self.target.registry().to_string(),
                expected: digest,
                actual: back.digest,
            }));
        }
        Ok(digest)
    }
}

impl Slipway {
    /// Pushes a local image to a registry. See the module docs for how.
    pub async fn push(&self, request: PushRequest, progress: PushProgress) -> Result<PushOutcome> {
        let target = Reference::parse(&request.target)
            .map_err(|e| Error::invalid_reference(&request.target, e))?;
        let client = request.access.client(target.registry())?;
        let cache = BlobCache::open_or_default(request.cache_dir.as_deref())?;
        let codec = Codec::new(request.compression, request.level);
        let ctx = Arc::new(Ctx {
            client,
            codec,
            target: target.clone(),
            cache,
            progress,
            overall: Default::default(),
            uploaded: Default::default(),
        });
        let kind = self.engine().kind();
        // When the engine may push, its relay is started and the image tagged for it, and a
        // Docker engine asked for its image store, while the image is inspected: on the
        // containerd store each of these takes about as long as the inspect, next to an engine
        // push of a small commit of some 60 ms. An image named by id or digest may have no tag
        // of its own, which removing the relay's tag would then remove with it: not staged.
        let may_use_engine = request.route != Route::Export
            && !request.own_compression()
            && names_a_tag(&request.image);
        // None of the answers depends on another and every push waits for the first two, so the
        // engine and the registry are asked at once. The registry's first answer surfaces
        // unreachable, TLS and HTTP-only problems before any work is done.
        let (details, reached, store, staged) = tokio::join!(
            self.engine().inspect_image(&request.image),
            ctx.client.base_url(),
            async {
                match kind {
                    EngineKind::Docker if may_use_engine => self.engine().image_store().await.ok(),
                    _ => None,
                }
            },
            async {
                // A failure here is the engine route's to report, which stages again itself.
                if may_use_engine {
                    self.stage(&ctx, &request.image).await.ok()
                } else {
                    None
                }
            },
        );
        let checked = details
            .map_err(Error::from)
            .and_then(|details| reached.map(|_| details).map_err(Error::from));
        let mut details = match checked {
            Ok(details) => details,
            Err(e) => {
                if let Some(staged) = staged {
                    staged.discard().await;
                }
                return Err(e);
            }
        };
        if let Some(staged) = &staged {
            details.tags.retain(|tag| tag != staged.relay_ref());
        }
        let layer_sizes = layer_sizes(&details);

        let diff_ids = details.diff_ids.clone();
        for (diff_id, size) in diff_ids.iter().zip(&layer_sizes) {
            ctx.emit(PushEvent::Waiting {
                blob: diff_id.clone(),
                size: *size,
            });
        }
        ctx.emit(PushEvent::Phase {
            phase: PushPhase::Checking,
        });
        let unique: Vec<String> = {
            let mut seen = HashSet::new();
            diff_ids
                .iter()
                .filter(|d| seen.insert((*d).clone()))
                .cloned()
                .collect()
        };
        let cached: HashMap<String, _> = unique
            .iter()
            .filter_map(|d| {
                let layer = ctx.cache.get(ctx.codec.compression.name(), d)?;
                Some((d.clone(), layer))
            })
            .collect();
        // With the classic stores and Podman the image id is the config digest, so a config the
        // cache holds under it is this image's.
        let known_config = Digest::parse(&details.id)
            .ok()
            .and_then(|id| ctx.cache.read_small(&id).map(|bytes| (id, bytes)));
        let endpoint = self.engine().endpoint();
        let cache_knows = route::CacheKnows {
            engine_pushed: ctx.cache.engine_knows(endpoint),
            elsewhere: ctx
                .cache
                .engine_layers_elsewhere(endpoint, ctx.target.registry()),
            every_blob: known_config.is_some()
                && unique.iter().all(|d| {
                    cached
                        .get(d)
                        .is_some_and(|layer| ctx.cache.blob_path(&layer.compressed).exists())
                }),
        };
        let choice = self
            .choose_route(&request, kind, store, &details, &layer_sizes, &cache_knows)
            .await;
        let choice = match choice {
            Ok(choice) if choice.route == Route::Engine => {
                return self
                    .push_through_engine(
                        &ctx,
                        kind,
                        &request.image,
                        &details,
                        &layer_sizes,
                        staged,
                        store,
                    )
                    .await;
            }
            choice => {
                if let Some(staged) = staged {
                    staged.discard().await;
                }
                choice?
            }
        };
        // Ask for the export before talking to the registry, so that the engine prepares it (the
        // classic store writes the whole image to disk before its first byte) while the cache's
        // layers are settled. Only when the cache may settle everything is it not asked for.
        let everything_cached = known_config.is_some() && cached.len() == unique.len();
        let mut entries: Option<Entries> = (!everything_cached)
            .then(|| Box::pin(self.engine().export_archive(&request.image, CHUNK)) as Entries);
        if entries.is_some() {
            ctx.emit(PushEvent::Phase {
                phase: PushPhase::Exporting,
            });
        }

        let mut settled: HashMap<String, PushedLayer> = HashMap::new();
        for (diff_id, layer) in &cached {
            if let Some(pushed) = settle::settle_from_cache(&ctx, diff_id, layer).await? {
                settled.insert(diff_id.clone(), pushed);
            }
        }
        let missing = unique.iter().any(|d| !settled.contains_key(d));
        let read_the_export = known_config.is_none() || missing;
        let (config_digest, config, exported) = match known_config {
            Some((id, config)) if !missing => (id, Bytes::from(config), Exported::default()),
            _ => {
                let entries = entries.take().unwrap_or_else(|| {
                    Box::pin(self.engine().export_archive(&request.image, CHUNK))
                });
                let exported = self
                    .export_missing(
                        &ctx,
                        entries,
                        &request.image,
                        &diff_ids,
                        &layer_sizes,
                        &settled,
                    )
                    .await?;
                let resolved = resolve::resolve(&exported.documents)?;
                if !resolve::is_image(&exported.documents, &resolved.config_digest, &details.id) {
                    return Err(Error::Engine(format!(
                        "the engine exported another image than {} ({}); the tag moved during the push, try again",
                        request.image, details.id
                    )));
                }
                (
                    resolved.config_digest.clone(),
                    resolved.config.clone(),
                    exported,
                )
            }
        };
        drop(entries);
        resolve::check_config(&config, &diff_ids)?;
        ctx.cache.store_small(&config_digest, &config)?;
        let compressed_layers = exported.compressed.len();
        for layer in &exported.compressed {
            settled.insert(layer.diff_id.clone(), layer.clone());
        }
        let layers = self.layers_in_order(&ctx, &diff_ids, &settled, &exported)?;

        // The config, then the manifest that names it and the layers in diff_id order.
        ctx.emit(PushEvent::Phase {
            phase: PushPhase::Manifest,
        });
        let repo = ctx.target.repository().to_string();
        let config_size = config.len() as u64;
        ctx.client
            .push_blob(
                &repo,
                &config_digest,
                config_size,
                BlobSource::Bytes(config.clone()),
                None,
            )
            .await?;
        ctx.emit(PushEvent::Done {
            blob: "config".into(),
            digest: config_digest.to_string(),
            size: config_size,
        });
        let (media_type, manifest) =
            manifest_for(&ctx, &config_digest, config_size, &layers, &exported)?;
        let digest = ctx.put_tagged_manifest(&media_type, manifest).await?;
        // The cache must not grow without bound on a desktop; a failure to prune is not a
        // failure to push.
        if let Err(e) = ctx.cache.prune_default() {
            tracing::warn!("could not prune the push cache: {e}");
        }
        ctx.finish();
        let exported_whole = if choice.engine_unaware && read_the_export {
            exported_whole(&layers, &layer_sizes)
        } else {
            None
        };
        Ok(PushOutcome {
            reference: ctx.target.with_digest(digest.clone()).to_string(),
            digest: digest.to_string(),
            media_type,
            layers,
            uploaded_bytes: ctx.uploaded.load(Ordering::Relaxed),
            compressed_layers,
            route: Route::Export,
            exported_whole,
        })
    }

    /// Reads the export and uploads what is missing. An unnamed layer that was only hashed on the
    /// guess that it was settled (same size) and turned out not to be sends the push through the
    /// export a second time with every layer compressed; that costs time only when two layers
    /// have exactly the same size.
    async fn export_missing(
        &self,
        ctx: &Arc<Ctx>,
        entries: Entries,
        image: &str,
        diff_ids: &[String],
        layer_sizes: &[u64],
        settled: &HashMap<String, PushedLayer>,
    ) -> Result<Exported> {
        let plan = Plan {
            diff_ids: diff_ids.to_vec(),
            sizes: layer_sizes.to_vec(),
            settled: settled.keys().cloned().collect(),
            settled_sizes: settled
                .keys()
                .filter_map(|d| ctx.cache.get(ctx.codec.compression.name(), d))
                .map(|l| l.uncompressed_size)
                .collect(),
        };
        let first = read_export(ctx, entries, &plan).await?;
        if !first.guessed_wrong {
            return Ok(first);
        }
        let mut plan = plan;
        plan.settled
            .extend(first.compressed.iter().map(|l| l.diff_id.clone()));
        plan.settled_sizes.clear();
        let again = Box::pin(self.engine().export_archive(image, CHUNK)) as Entries;
        let mut second = read_export(ctx, again, &plan).await?;
        second.compressed.extend(first.compressed);
        Ok(second)
    }

    /// Every layer of the image, base first, as it now is in the registry.
    fn layers_in_order(
        &self,
        ctx: &Ctx,
        diff_ids: &[String],
        settled: &HashMap<String, PushedLayer>,
        exported: &Exported,
    ) -> Result<Vec<PushedLayer>> {
        let paths = resolve::resolve(&exported.documents)
            .map(|r| r.layer_paths)
            .unwrap_or_default();
        let mut passed_on = Vec::new();
        let layers = diff_ids
            .iter()
            .enumerate()
            .map(|(i, diff_id)| {
                if let Some(passed) = paths.get(i).and_then(|p| exported.passed.get(p)) {
                    let layer = crate::blob_cache::CachedLayer {
                        compressed: passed.digest.clone(),
                        compressed_size: passed.size,
                        uncompressed_size: 0,
                        media_type: Flavor::Oci.layer_media_type(passed.compression).to_string(),
                        locations: Default::default(),
                    };
                    passed_on.push((diff_id.clone(), passed.compression, layer));
                    return Ok(PushedLayer {
                        diff_id: diff_id.clone(),
                        digest: passed.digest.to_string(),
                        size: passed.size,
                        how: passed.how,
                    });
                }
                settled.get(diff_id).cloned().ok_or_else(|| {
                    Error::Engine(format!(
                        "the engine's export has no layer with diff_id {diff_id}"
                    ))
                })
            })
            .collect::<Result<Vec<_>>>();
        // What the registry now holds is worth remembering even when the push fails here.
        ctx.remember_pushed(passed_on)?;
        layers
    }
}

/// The manifest to PUT: the engine's own when the export carries one for exactly these blobs
/// (its digest is then the one the engine reports), otherwise one built from the pushed layers.
fn manifest_for(
    ctx: &Ctx,
    config_digest: &Digest,
    config_size: u64,
    layers: &[PushedLayer],
    exported: &Exported,
) -> Result<(String, Bytes)> {
    let digests: Vec<Digest> = layers
        .iter()
        .map(|l| {
            Digest::parse(&l.digest).map_err(|e| Error::Engine(format!("layer {}: {e}", l.digest)))
        })
        .collect::<Result<_>>()?;
    if let Some(own) = resolve::engine_manifest(&exported.documents, config_digest, &digests) {
        return Ok(own);
    }
    let compression_of = |digest: &Digest| {
        exported
            .passed
            .values()
            .find(|p| &p.digest == digest)
            .map(|p| p.compression)
    };
    // zstd layers need the OCI flavor; gzip ones go in Docker's, which every engine pulls.
    let flavor = if digests
        .iter()
        .any(|d| compression_of(d) == Some(slipway_oci::image::LayerCompression::Zstd))
    {
        Flavor::Oci
    } else {
        ctx.codec.compression.flavor()
    };
    let descriptors = layers
        .iter()
        .zip(&digests)
        .map(|(layer, digest)| {
            let compression = compression_of(digest).unwrap_or(ctx.codec.compression.layer());
            descriptor(flavor.layer_media_type(compression), layer.size, digest)
        })
        .collect();
    let config = descriptor(flavor.config_media_type(), config_size, config_digest);
    Ok((
        flavor.manifest_media_type().to_string(),
        image_manifest(flavor, config, descriptors),
    ))
}

/// What the registry already had of an image whose whole export was read, when that was all but
/// what an engine that knew the rest would have pushed as fast ([`route::ENGINE_MAY_COMPRESS`]).
fn exported_whole(layers: &[PushedLayer], layer_sizes: &[u64]) -> Option<ExportedWhole> {
    let present_bytes: u64 = layers
        .iter()
        .zip(layer_sizes)
        .filter(|(layer, _)| layer.how != How::Uploaded)
        .map(|(_, size)| size)
        .sum();
    let image_bytes: u64 = layer_sizes.iter().sum();
    (present_bytes > 0 && image_bytes.saturating_sub(present_bytes) <= route::ENGINE_MAY_COMPRESS)
        .then_some(ExportedWhole {
            present_bytes,
            image_bytes,
        })
}

/// Layer sizes for progress: the engine reports only the image's total size; history sizes list
/// the non-empty layers in order, which is all progress needs.
fn layer_sizes(details: &slipway_engine::images::ImageDetails) -> Vec<u64> {
    let mut sizes: Vec<u64> = details
        .history
        .iter()
        .rev()
        .map(|h| h.size)
        .filter(|s| *s > 0)
        .collect();
    sizes.resize(details.diff_ids.len(), 0);
    sizes
}

#[cfg(test)]
mod tests {
    use super::{exported_whole, names_a_tag, How, PushedLayer};

    #[test]
    fn only_a_name_with_a_tag_is_staged_for_the_relay() {
        assert!(names_a_tag("team/app:1.0"));
        assert!(names_a_tag("127.0.0.1:5000/team/app"));
        assert!(names_a_tag("busybox"));
        assert!(!names_a_tag("1a1303fed646"));
        assert!(!names_a_tag(
            "sha256:1a1303fed6461a1303fed6461a1303fed6461a1303fed6461a1303fed6461a13"
        ));
        assert!(!names_a_tag("sha256:1a13"));
        assert!(!names_a_tag("team/app@sha256:1a1303fed646"));
    }

    fn layer(how: How) -> PushedLayer {
        PushedLayer {
            diff_id: String::new(),
            digest: String::new(),
            size: 0,
            how,
        }
    }

    #[test]
    fn a_whole_export_is_reported_only_when_the_registry_had_all_but_a_few_mb() {
        let mib = 1 << 20;
        let sizes = [800 * mib, 5 * mib];
        let commit = [layer(How::Exists), layer(How::Uploaded)];
        assert_eq!(
            exported_whole(&commit, &sizes).map(|w| (w.present_bytes, w.image_bytes)),
            Some((800 * mib, 805 * mib))
        );
        let mounted = [layer(How::Mounted), layer(How::Uploaded)];
        assert!(exported_whole(&mounted, &sizes).is_some());
        // A first push: the registry had nothing.
        let first = [layer(How::Uploaded), layer(How::Uploaded)];
        assert_eq!(exported_whole(&first, &sizes), None);
        // A shared base of 5 MB under 800 new MB: the export was the right way anyway.
        let new_on_a_base = [layer(How::Exists), layer(How::Uploaded)];
        assert_eq!(exported_whole(&new_on_a_base, &[5 * mib, 800 * mib]), None);
    }
}
