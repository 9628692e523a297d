//! Push an image from the local engine straight to a registry.
//!
//! The engine exports the image as a docker-archive tar stream. We read that stream once, in
//! order, never copying the whole image to disk: each `layer.tar` is cut into chunks that are
//! gzip-compressed on every core at once (independent gzip members, which RFC 1952 allows to be
//! concatenated and every gzip reader accepts), while the uncompressed bytes are hashed to check
//! them against the image's diff_ids and the compressed bytes are hashed for the manifest. The
//! compressed layer lands in the push cache ([`crate::blob_cache`]) and is uploaded from there,
//! several layers at a time, while the next layer is being compressed.
//!
//! A re-push looks each diff_id up in the cache first: layers the registry already has are
//! skipped after a HEAD, layers in another repository of the same registry are mounted, and
//! layers whose compressed bytes are cached are uploaded without exporting anything.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::FuturesOrdered;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use slipway_oci::blobs::Mount;
use slipway_oci::manifests::{
    DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_MANIFEST, OCI_CONFIG, OCI_LAYER_ZSTD, OCI_MANIFEST,
};
use slipway_oci::oci_spec::image::{DescriptorBuilder, ImageManifestBuilder, MediaType};
use slipway_oci::{BlobSource, Client, Digest, Reference};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, Semaphore};

use crate::blob_cache::{BlobCache, CachedLayer};
use crate::registry::RegistryAccess;
use crate::{Error, Result, Slipway};

/// Uncompressed bytes per gzip member. Large enough that the per-member header and the lost
/// back-references (deflate's window is only 32 KiB) cost well under 1% of ratio, small enough
/// that every core stays busy on a single layer and memory stays bounded.
const CHUNK: usize = 1 << 20;
/// Layers uploading at once.
const UPLOADS_IN_FLIGHT: usize = 3;

/// How layers are compressed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// gzip (ISA-L at the default level, libdeflate at others), as every registry client
    /// understands; Docker v2 media types.
    #[default]
    Gzip,
    /// zstd: faster and smaller, but only OCI media types allow it and Docker 20.10 cannot pull
    /// it (containerd, podman and skopeo can).
    Zstd,
}

impl Compression {
    fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
    fn layer_media_type(self) -> &'static str {
        match self {
            Compression::Gzip => DOCKER_LAYER_GZIP,
            Compression::Zstd => OCI_LAYER_ZSTD,
        }
    }
    fn config_media_type(self) -> &'static str {
        match self {
            Compression::Gzip => DOCKER_CONFIG,
            Compression::Zstd => OCI_CONFIG,
        }
    }
    fn manifest_media_type(self) -> &'static str {
        match self {
            Compression::Gzip => DOCKER_MANIFEST,
            Compression::Zstd => OCI_MANIFEST,
        }
    }
}

/// A compression and its level, everything a compression task needs.
#[derive(Debug, Clone, Copy)]
struct Codec {
    compression: Compression,
    level: i32,
}

impl Codec {
    /// One independent member/frame for `data`: gzip members and zstd frames may both be
    /// concatenated, and decoders read them as one stream.
    fn compress(self, data: &[u8]) -> Result<Bytes> {
        match self.compression {
            Compression::Gzip => gzip_member(data, self.level),
            Compression::Zstd => zstd::bulk::compress(data, self.level)
                .map(Bytes::from)
                .map_err(|e| Error::Engine(format!("zstd failed: {e}"))),
        }
    }
}

/// One step in a blob's journey, for progress display. `blob` is the layer's diff_id, or
/// `config` for the image config; while a layer is being compressed its diff_id is not known yet
/// (it is the hash of what is being read), so `Compressing` names it `layer-N` in export order
/// and `Identified` then says which diff_id that was, so a display can merge the two rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    Exists {
        blob: String,
    },
    Mounted {
        blob: String,
        from: String,
    },
    Done {
        blob: String,
        digest: String,
        size: u64,
    },
    /// Uncompressed bytes dealt with so far across all layers.
    Overall {
        done: u64,
        total: u64,
    },
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
    /// gzip (default) or zstd layers.
    pub compression: Compression,
    /// Where the push cache lives; default the user's cache dir.
    pub cache_dir: Option<PathBuf>,
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushOutcome {
    /// The pushed reference, pinned: `host/repo:tag@sha256:...`.
    pub reference: String,
    pub digest: String,
    pub media_type: String,
    pub layers: Vec<PushedLayer>,
    /// Compressed bytes actually sent to the registry.
    pub uploaded_bytes: u64,
    /// Layers whose bytes had to be compressed in this push.
    pub compressed_layers: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedLayer {
    pub diff_id: String,
    pub digest: String,
    pub size: u64,
    /// `uploaded`, `exists` or `mounted`.
    pub how: String,
}

struct Ctx {
    client: Client,
    codec: Codec,
    target: Reference,
    cache: BlobCache,
    progress: PushProgress,
    total: u64,
    done: std::sync::atomic::AtomicU64,
    uploaded: std::sync::atomic::AtomicU64,
}

impl Ctx {
    fn emit(&self, event: PushEvent) {
        (self.progress)(event);
    }
    fn advance(&self, bytes: u64) {
        let done = self
            .done
            .fetch_add(bytes, std::sync::atomic::Ordering::Relaxed)
            + bytes;
        self.emit(PushEvent::Overall {
            done,
            total: self.total,
        });
    }
}

/// A compressed layer ready to go.
struct Ready {
    diff_id: String,
    layer: CachedLayer,
    /// The compressed bytes, still under their temporary name while the upload reads them.
    tmp: PathBuf,
    /// The upload that has been streaming the layer while it was compressed.
    uploader: tokio::task::JoinHandle<Result<slipway_oci::uploads::Upload>>,
}

impl Slipway {
    /// Pushes a local image to a registry. See the module docs for how.
    pub async fn push(&self, request: PushRequest, progress: PushProgress) -> Result<PushOutcome> {
        let target = Reference::parse(&request.target)
            .map_err(|e| Error::invalid_reference(&request.target, e))?;
        let details = self.engine().inspect_image(&request.image).await?;
        let config_digest = Digest::parse(&details.id)
            .map_err(|e| Error::Engine(format!("the engine gave image id {}: {e}", details.id)))?;
        let client = request.access.client(target.registry())?;
        let cache = match &request.cache_dir {
            Some(dir) => BlobCache::open(dir)?,
            None => BlobCache::open_default()?,
        };
        let compression = request.compression;
        let level = Codec {
            compression,
            // gzip's default, level 1, is ISA-L's igzip: on the benchmark image its output is
            // 1.05x the size skopeo's gzip produces (the target allows 1.1x) at 2.4x the speed of
            // libdeflate's level 1, whose output is 1.01x. Speed does not come from compressing
            // much less than the peers do; --level 2-12 trade speed for size with libdeflate.
            // zstd's level 1 is already 0.97x skopeo's gzip size there, at 0.7x the CPU of
            // zstd's own default of 3.
            level: request.level.unwrap_or(match compression {
                Compression::Gzip => 1,
                Compression::Zstd => 1,
            }),
        };
        let media = compression;
        let layer_sizes = self.layer_sizes(&details);
        let ctx = Arc::new(Ctx {
            client,
            codec: level,
            target: target.clone(),
            cache,
            progress,
            total: layer_sizes.iter().sum(),
            done: Default::default(),
            uploaded: Default::default(),
        });
        // Surface unreachable/TLS/HTTP-only problems before any work is done.
        ctx.client.base_url().await?;

        let diff_ids = details.diff_ids.clone();
        for (diff_id, size) in diff_ids
            .iter()
            .zip(layer_sizes.iter().chain(std::iter::repeat(&0)))
        {
            ctx.emit(PushEvent::Waiting {
                blob: diff_id.clone(),
                size: *size,
            });
        }

        // Phase 1: everything the cache can settle without the engine.
        let mut settled: HashMap<String, PushedLayer> = HashMap::new();
        let unique: Vec<String> = {
            let mut seen = HashSet::new();
            diff_ids
                .iter()
                .filter(|d| seen.insert((*d).clone()))
                .cloned()
                .collect()
        };
        for diff_id in &unique {
            if let Some(cached) = ctx.cache.get(ctx.codec.compression.name(), diff_id) {
                if let Some(how) = settle_from_cache(&ctx, diff_id, &cached).await? {
                    ctx.advance(cached.uncompressed_size);
                    settled.insert(diff_id.clone(), how);
                }
            }
        }
        let mut compressed_layers = 0;
        let mut config_bytes = ctx.cache.read_small(&config_digest);
        let missing: Vec<String> = unique
            .iter()
            .filter(|d| !settled.contains_key(*d))
            .cloned()
            .collect();
        if !missing.is_empty() || config_bytes.is_none() {
            let (layers, config) =
                export_and_upload(self, &ctx, &request.image, &settled, level).await?;
            compressed_layers = layers.iter().filter(|l| l.how == "uploaded").count();
            for layer in layers {
                settled.insert(layer.diff_id.clone(), layer);
            }
            config_bytes = Some(config);
        }
        let config_bytes = config_bytes.unwrap_or_default();
        if Digest::sha256_of(&config_bytes) != config_digest {
            return Err(Error::Engine(format!(
                "the exported image config does not hash to the image id {config_digest}; the image changed during the push, try again"
            )));
        }
        ctx.cache.store_small(&config_digest, &config_bytes)?;
        check_diff_ids(&config_bytes, &diff_ids)?;

        // The config, then the manifest that names it and the layers in diff_id order.
        let repo = ctx.target.repository().to_string();
        let config_size = config_bytes.len() as u64;
        ctx.client
            .push_blob(
                &repo,
                &config_digest,
                config_size,
                BlobSource::Bytes(Bytes::from(config_bytes)),
                None,
            )
            .await?;
        ctx.emit(PushEvent::Done {
            blob: "config".into(),
            digest: config_digest.to_string(),
            size: config_size,
        });
        let mut layers = Vec::new();
        let mut descriptors = Vec::new();
        for diff_id in &diff_ids {
            let layer = settled
                .get(diff_id)
                .ok_or_else(|| {
                    Error::Engine(format!(
                        "the engine's export has no layer with diff_id {diff_id}"
                    ))
                })?
                .clone();
            descriptors.push(descriptor(
                media.layer_media_type(),
                layer.size,
                &layer.digest,
            )?);
            layers.push(layer);
        }
        let manifest = ImageManifestBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::Other(media.manifest_media_type().to_string()))
            .config(descriptor(
                media.config_media_type(),
                config_size,
                &config_digest.to_string(),
            )?)
            .layers(descriptors)
            .build()
            .map_err(|e| Error::InvalidInput(format!("building the manifest: {e}")))?;
        let manifest_bytes =
            serde_json::to_vec(&manifest).map_err(|e| Error::InvalidInput(e.to_string()))?;
        let tag = ctx.target.manifest_reference();
        let digest = ctx
            .client
            .put_manifest(
                &repo,
                &tag,
                media.manifest_media_type(),
                Bytes::from(manifest_bytes),
            )
            .await?;
        // Read it back by digest so that success is never reported for a manifest the registry
        // did not keep (a proxy that swallowed the PUT, a registry that failed to commit).
        let back = ctx.client.get_manifest(&repo, &digest.to_string()).await?;
        if back.digest != digest {
            return Err(Error::Registry(slipway_oci::Error::DigestMismatch {
                registry: ctx.target.registry().to_string(),
                expected: digest,
                actual: back.digest,
            }));
        }
        // The cache must not grow without bound on a desktop; a failure to prune is not a
        // failure to push.
        if let Err(e) = ctx.cache.prune_default() {
            tracing::warn!("could not prune the push cache: {e}");
        }
        Ok(PushOutcome {
            reference: ctx.target.with_digest(digest.clone()).to_string(),
            digest: digest.to_string(),
            media_type: media.manifest_media_type().to_string(),
            layers,
            uploaded_bytes: ctx.uploaded.load(std::sync::atomic::Ordering::Relaxed),
            compressed_layers,
        })
    }

    fn layer_sizes(&self, details: &slipway_engine::images::ImageDetails) -> Vec<u64> {
        // The engine reports only the image's total size; history sizes list layer sizes in
        // order for the non-empty layers, which is all progress needs.
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
}

fn descriptor(
    media_type: &str,
    size: u64,
    digest: &str,
) -> Result<slipway_oci::oci_spec::image::Descriptor> {
    let digest: slipway_oci::oci_spec::image::Digest = digest
        .parse()
        .map_err(|e| Error::InvalidInput(format!("digest {digest}: {e}")))?;
    DescriptorBuilder::default()
        .media_type(MediaType::Other(media_type.to_string()))
        .size(size)
        .digest(digest)
        .build()
        .map_err(|e| Error::InvalidInput(format!("building a descriptor: {e}")))
}

/// Checks that the config's rootfs.diff_ids are exactly the layers we are about to name.
fn check_diff_ids(config: &[u8], diff_ids: &[String]) -> Result<()> {
    #[derive(Deserialize)]
    struct Config {
        rootfs: RootFs,
    }
    #[derive(Deserialize)]
    struct RootFs {
        diff_ids: Vec<String>,
    }
    let parsed: Config = serde_json::from_slice(config)
        .map_err(|e| Error::Engine(format!("the image config is not valid JSON: {e}")))?;
    if parsed.rootfs.diff_ids != diff_ids {
        return Err(Error::Engine(
            "the image's diff_ids changed during the push; try again".to_string(),
        ));
    }
    Ok(())
}

/// Tries to make a cached layer present in the target without its bytes from the engine:
/// HEAD, then mount from another repository of the same registry, then upload the cached
/// compressed file. `None` when none of that is possible.
async fn settle_from_cache(
    ctx: &Arc<Ctx>,
    diff_id: &str,
    cached: &CachedLayer,
) -> Result<Option<PushedLayer>> {
    let repo = ctx.target.repository();
    let location = ctx.target.name();
    let pushed = |how: &str| PushedLayer {
        diff_id: diff_id.to_string(),
        digest: cached.compressed.to_string(),
        size: cached.compressed_size,
        how: how.to_string(),
    };
    // The cache learns that this repository now holds the blob, so the next push mounts from it.
    let remember_here = || {
        ctx.cache.put(
            ctx.codec.compression.name(),
            diff_id,
            cached.clone(),
            Some(&location),
        )
    };
    if ctx
        .client
        .blob_exists(repo, &cached.compressed)
        .await?
        .is_some()
    {
        ctx.emit(PushEvent::Exists {
            blob: diff_id.to_string(),
        });
        remember_here()?;
        return Ok(Some(pushed("exists")));
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
                from: from.to_string(),
            });
            remember_here()?;
            return Ok(Some(pushed("mounted")));
        }
    }
    if ctx
        .cache
        .has_blob(&cached.compressed, cached.compressed_size)
    {
        upload_layer(ctx, diff_id, cached.clone()).await?;
        return Ok(Some(pushed("uploaded")));
    }
    Ok(None)
}

async fn upload_layer(ctx: &Arc<Ctx>, diff_id: &str, layer: CachedLayer) -> Result<()> {
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
        ctx.uploaded
            .fetch_add(total, std::sync::atomic::Ordering::Relaxed);
        ctx.emit(PushEvent::Done {
            blob: diff_id.to_string(),
            digest: layer.compressed.to_string(),
            size: total,
        });
    } else {
        ctx.emit(PushEvent::Exists {
            blob: diff_id.to_string(),
        });
    }
    ctx.cache.put(
        ctx.codec.compression.name(),
        diff_id,
        layer,
        Some(&ctx.target.name()),
    )
}

/// Messages from the blocking tar reader to the async pipeline.
enum TarMsg {
    LayerStart {
        size: u64,
    },
    Chunk(Bytes),
    LayerEnd,
    /// A small top-level file (`manifest.json`, the config `<id>.json`).
    File {
        path: String,
        bytes: Vec<u8>,
    },
}

/// Exports the image once and compresses + uploads every layer not in `settled`. Returns the
/// new layers and the config bytes.
async fn export_and_upload(
    slipway: &Slipway,
    ctx: &Arc<Ctx>,
    image: &str,
    settled: &HashMap<String, PushedLayer>,
    level: Codec,
) -> Result<(Vec<PushedLayer>, Vec<u8>)> {
    let stream = slipway.engine().export_image(image);
    let reader = tokio_util::io::StreamReader::new(
        stream.map(|r| r.map_err(|e| std::io::Error::other(e.to_string()))),
    );
    let bridge = tokio_util::io::SyncIoBridge::new(reader);
    let (tx, mut rx) = mpsc::channel::<TarMsg>(2);
    let reader_task = tokio::task::spawn_blocking(move || read_archive(bridge, tx));

    // Sizes of layers we already settled: a layer.tar of such a size is only hashed (to learn
    // its diff_id), not compressed. If the hash then names an unsettled layer, a second export
    // compresses it; that costs time only when two layers have exactly the same size.
    let settled_sizes: HashSet<u64> = settled
        .keys()
        .filter_map(|d| ctx.cache.get(ctx.codec.compression.name(), d))
        .map(|l| l.uncompressed_size)
        .collect();
    let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
    let uploads = Arc::new(Semaphore::new(UPLOADS_IN_FLIGHT));
    let mut upload_tasks = tokio::task::JoinSet::new();
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    let mut new_layers = Vec::new();
    let mut seen_diff_ids: HashSet<String> = HashSet::new();
    let mut unexpected_skips = false;
    let mut layer_index = 0usize;

    while let Some(msg) = rx.recv().await {
        match msg {
            TarMsg::File { path, bytes } => {
                files.insert(path, bytes);
            }
            TarMsg::LayerStart { size } => {
                layer_index += 1;
                let hash_only = settled_sizes.contains(&size);
                let outcome = if hash_only {
                    hash_layer(&mut rx).await?
                } else {
                    let label = format!("layer-{}", layer_index);
                    let ready = compress_layer(ctx, &mut rx, &label, size, level, parallel).await?;
                    let diff_id = ready.diff_id.clone();
                    ctx.emit(PushEvent::Identified {
                        label: label.clone(),
                        diff_id: diff_id.clone(),
                    });
                    if !settled.contains_key(&diff_id) && seen_diff_ids.insert(diff_id.clone()) {
                        new_layers.push(PushedLayer {
                            diff_id: diff_id.clone(),
                            digest: ready.layer.compressed.to_string(),
                            size: ready.layer.compressed_size,
                            how: "uploaded".to_string(),
                        });
                    }
                    // The upload already streamed; completing it is cheap and harmless even for
                    // a layer that turned out to be a duplicate (the registry keeps one copy).
                    let permit = uploads
                        .clone()
                        .acquire_owned()
                        .await
                        .expect("semaphore open");
                    let task_ctx = ctx.clone();
                    upload_tasks.spawn(async move {
                        let _permit = permit;
                        finish_streamed(&task_ctx, ready).await
                    });
                    ctx.advance(size);
                    diff_id
                };
                if hash_only && !settled.contains_key(&outcome) {
                    unexpected_skips = true;
                }
            }
            TarMsg::Chunk(_) | TarMsg::LayerEnd => {}
        }
        // Fail fast when an upload failed rather than compressing the rest for nothing.
        while let Some(done) = upload_tasks.try_join_next() {
            done.map_err(|e| Error::Engine(format!("an upload task failed: {e}")))??;
        }
    }
    reader_task
        .await
        .map_err(|e| Error::Engine(format!("the export reader failed: {e}")))?
        .map_err(|e| Error::Engine(format!("reading the engine's export of {image}: {e}")))?;
    while let Some(done) = upload_tasks.join_next().await {
        done.map_err(|e| Error::Engine(format!("an upload task failed: {e}")))??;
    }
    if unexpected_skips {
        // Same-size collision: export again and compress everything not yet settled.
        let mut all_settled = settled.clone();
        for layer in &new_layers {
            all_settled.insert(layer.diff_id.clone(), layer.clone());
        }
        let (more, config) = Box::pin(export_and_upload_all(
            slipway,
            ctx,
            image,
            &all_settled,
            level,
        ))
        .await?;
        new_layers.extend(more);
        return Ok((new_layers, config));
    }
    let config = config_from(&files)?;
    Ok((new_layers, config))
}

/// The second pass of [`export_and_upload`], for the rare export where two layers had the same
/// size: it compresses every layer again and keeps the ones not settled by the first pass.
async fn export_and_upload_all(
    slipway: &Slipway,
    ctx: &Arc<Ctx>,
    image: &str,
    settled: &HashMap<String, PushedLayer>,
    level: Codec,
) -> Result<(Vec<PushedLayer>, Vec<u8>)> {
    let empty: HashMap<String, PushedLayer> = HashMap::new();
    let (layers, config) = export_and_upload(slipway, ctx, image, &empty, level).await?;
    Ok((
        layers
            .into_iter()
            .filter(|l| !settled.contains_key(&l.diff_id))
            .collect(),
        config,
    ))
}

fn config_from(files: &HashMap<String, Vec<u8>>) -> Result<Vec<u8>> {
    #[derive(Deserialize)]
    struct Entry {
        #[serde(rename = "Config")]
        config: String,
    }
    let manifest = files
        .get("manifest.json")
        .ok_or_else(|| Error::Engine("the engine's export has no manifest.json".to_string()))?;
    let entries: Vec<Entry> = serde_json::from_slice(manifest)
        .map_err(|e| Error::Engine(format!("the export's manifest.json: {e}")))?;
    let entry = entries
        .first()
        .ok_or_else(|| Error::Engine("the export's manifest.json is empty".to_string()))?;
    files
        .get(&entry.config)
        .cloned()
        .ok_or_else(|| Error::Engine(format!("the export has no config file {}", entry.config)))
}

/// Reads a docker-archive tar and forwards layers in chunks and small files whole.
fn read_archive(reader: impl Read, tx: mpsc::Sender<TarMsg>) -> std::io::Result<()> {
    let closed = || std::io::Error::other("the push was abandoned");
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        let kind = entry.header().entry_type();
        if !kind.is_file() {
            // Directories, and symlinked duplicate layers: the config's diff_ids already say a
            // layer repeats, so the link target is all we need.
            continue;
        }
        if path.ends_with("/layer.tar") || path == "layer.tar" {
            let size = entry.size();
            tx.blocking_send(TarMsg::LayerStart { size })
                .map_err(|_| closed())?;
            loop {
                let mut buf = vec![0u8; CHUNK];
                let mut filled = 0;
                while filled < CHUNK {
                    let n = entry.read(&mut buf[filled..])?;
                    if n == 0 {
                        break;
                    }
                    filled += n;
                }
                if filled == 0 {
                    break;
                }
                buf.truncate(filled);
                tx.blocking_send(TarMsg::Chunk(Bytes::from(buf)))
                    .map_err(|_| closed())?;
                if filled < CHUNK {
                    break;
                }
            }
            tx.blocking_send(TarMsg::LayerEnd).map_err(|_| closed())?;
        } else if !path.contains('/') && path.ends_with(".json") {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes)?;
            tx.blocking_send(TarMsg::File { path, bytes })
                .map_err(|_| closed())?;
        }
    }
    Ok(())
}

/// Hashes a layer's chunks without compressing them; returns its diff_id.
async fn hash_layer(rx: &mut mpsc::Receiver<TarMsg>) -> Result<String> {
    let mut hasher = Sha256::new();
    loop {
        match rx.recv().await {
            Some(TarMsg::Chunk(chunk)) => hasher.update(&chunk),
            Some(TarMsg::LayerEnd) => break,
            _ => {
                return Err(Error::Engine(
                    "the engine's export ended inside a layer".to_string(),
                ))
            }
        }
    }
    Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
}

/// Compresses one layer's chunks on all cores into a cache file, hashing both sides.
async fn compress_layer(
    ctx: &Arc<Ctx>,
    rx: &mut mpsc::Receiver<TarMsg>,
    label: &str,
    size: u64,
    level: Codec,
    parallel: usize,
) -> Result<Ready> {
    let tmp = ctx.cache.temp_path();
    let io_err = |source| Error::Io {
        path: tmp.clone(),
        source,
    };
    let mut file = tokio::fs::File::create(&tmp).await.map_err(io_err)?;
    // The upload starts now and follows the compressed file as it grows, a whole upload chunk at
    // a time, so the registry receives a layer while the next part of it is being compressed.
    let (written_tx, written_rx) = tokio::sync::watch::channel((0u64, false));
    let uploader = tokio::spawn(stream_upload(
        ctx.clone(),
        tmp.clone(),
        label.to_string(),
        written_rx,
    ));
    let mut signalled = 0u64;
    let mut raw_hasher = Sha256::new();
    let mut gz_hasher = Sha256::new();
    let mut compressed_size = 0u64;
    let mut read = 0u64;
    let mut in_flight = FuturesOrdered::new();
    let result: Result<()> = async {
        loop {
            let msg = rx.recv().await;
            let finished = match msg {
                Some(TarMsg::Chunk(chunk)) => {
                    raw_hasher.update(&chunk);
                    read += chunk.len() as u64;
                    in_flight
                        .push_back(tokio::task::spawn_blocking(move || level.compress(&chunk)));
                    false
                }
                Some(TarMsg::LayerEnd) => true,
                _ => {
                    return Err(Error::Engine(
                        "the engine's export ended inside a layer".to_string(),
                    ))
                }
            };
            // Keep every core busy but no more chunks in memory than that.
            while in_flight.len() > parallel || (finished && !in_flight.is_empty()) {
                let member = in_flight
                    .next()
                    .await
                    .expect("non-empty")
                    .map_err(|e| Error::Engine(format!("compression task failed: {e}")))??;
                gz_hasher.update(&member);
                compressed_size += member.len() as u64;
                file.write_all(&member).await.map_err(io_err)?;
                if compressed_size - signalled >= slipway_oci::uploads::CHUNK_SIZE {
                    // The uploader reads the file by path: flush so it sees these bytes.
                    file.flush().await.map_err(io_err)?;
                    signalled = compressed_size;
                    let _ = written_tx.send((compressed_size, false));
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
        if size == 0 && compressed_size == 0 {
            // An empty layer still needs a valid gzip stream.
            let member = level.compress(&[])?;
            gz_hasher.update(&member);
            compressed_size += member.len() as u64;
            file.write_all(&member).await.map_err(io_err)?;
        }
        file.flush().await.map_err(io_err)?;
        file.sync_data().await.map_err(io_err)?;
        let _ = written_tx.send((compressed_size, true));
        Ok(())
    }
    .await;
    if let Err(e) = result {
        uploader.abort();
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(e);
    }
    let diff_id = format!("sha256:{}", hex::encode(raw_hasher.finalize()));
    let compressed = Digest::sha256_hex(hex::encode(gz_hasher.finalize()));
    let layer = CachedLayer {
        compressed,
        compressed_size,
        uncompressed_size: read,
        media_type: ctx.codec.compression.layer_media_type().to_string(),
        locations: Default::default(),
    };
    Ok(Ready {
        diff_id,
        layer,
        tmp,
        uploader,
    })
}

/// Uploads the compressed file at `path` as it grows; `written` says how many bytes are in it and
/// whether it is complete. Returns the session, to be completed once the digest is known.
async fn stream_upload(
    ctx: Arc<Ctx>,
    path: PathBuf,
    label: String,
    mut written: tokio::sync::watch::Receiver<(u64, bool)>,
) -> Result<slipway_oci::uploads::Upload> {
    let chunk = slipway_oci::uploads::CHUNK_SIZE;
    let mut upload = ctx.client.open_upload(ctx.target.repository()).await?;
    let source = BlobSource::File(path);
    loop {
        let (bytes, finished) = *written.borrow_and_update();
        // While the file grows, only whole chunks go; the rest waits for more or for the end.
        let end = if finished {
            bytes
        } else {
            bytes - bytes % chunk
        };
        if end > upload.offset {
            let progress_ctx = ctx.clone();
            let blob = label.clone();
            let on_progress: slipway_oci::uploads::UploadProgress = Arc::new(move |done| {
                progress_ctx.emit(PushEvent::Uploading {
                    blob: blob.clone(),
                    done,
                    total: bytes,
                });
            });
            ctx.client
                .upload_range(&mut upload, &source, end, &on_progress)
                .await?;
        }
        if finished {
            return Ok(upload);
        }
        if written.changed().await.is_err() {
            return Err(Error::Engine(
                "compression stopped before the layer was complete".to_string(),
            ));
        }
    }
}

/// Completes a streamed layer upload with its digest and files the compressed bytes in the cache
/// (even when the upload failed, so a retry does not compress again).
async fn finish_streamed(ctx: &Arc<Ctx>, ready: Ready) -> Result<()> {
    let uploaded = match ready.uploader.await {
        Ok(result) => result,
        Err(e) => Err(Error::Engine(format!("the upload task failed: {e}"))),
    };
    let completed = match uploaded {
        Ok(upload) => ctx
            .client
            .complete_upload(upload, &ready.layer.compressed)
            .await
            .map_err(Error::from),
        Err(e) => Err(e),
    };
    ctx.cache.commit_blob(&ready.tmp, &ready.layer.compressed)?;
    let location = completed.is_ok().then(|| ctx.target.name());
    ctx.cache.put(
        ctx.codec.compression.name(),
        &ready.diff_id,
        ready.layer.clone(),
        location.as_deref(),
    )?;
    completed?;
    let size = ready.layer.compressed_size;
    ctx.uploaded
        .fetch_add(size, std::sync::atomic::Ordering::Relaxed);
    ctx.emit(PushEvent::Done {
        blob: ready.diff_id.clone(),
        digest: ready.layer.compressed.to_string(),
        size,
    });
    Ok(())
}

/// One independent gzip member for `data`: level 1 with ISA-L's igzip, levels 2-12 with
/// libdeflate.
fn gzip_member(data: &[u8], level: i32) -> Result<Bytes> {
    if level == 1 {
        return isal::compress(data, isal::CompressionLevel::One, isal::Codec::Gzip)
            .map(Bytes::from)
            .map_err(|e| Error::Engine(format!("gzip (ISA-L) failed: {e}")));
    }
    let lvl = libdeflater::CompressionLvl::new(level)
        .map_err(|_| Error::InvalidInput(format!("gzip level {level} is out of range 1-12")))?;
    thread_local! {
        // A compressor holds large match-finder tables; one per blocking thread and level avoids
        // allocating them for every chunk.
        static COMPRESSOR: std::cell::RefCell<Option<(i32, libdeflater::Compressor)>> =
            const { std::cell::RefCell::new(None) };
    }
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(l, _)| *l != level) {
            *slot = Some((level, libdeflater::Compressor::new(lvl)));
        }
        let (_, compressor) = slot.as_mut().expect("just set");
        let mut out = vec![0u8; compressor.gzip_compress_bound(data.len())];
        let n = compressor
            .gzip_compress(data, &mut out)
            .map_err(|e| Error::Engine(format!("gzip failed: {e:?}")))?;
        out.truncate(n);
        Ok(Bytes::from(out))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenated_members_decompress_to_the_input() {
        let data: Vec<u8> = (0..3 * CHUNK + 123).map(|i| (i % 251) as u8).collect();
        let mut gz = Vec::new();
        // Members from both compressors (ISA-L at level 1, libdeflate at 6), concatenated: a
        // decoder must read them as one stream whichever made each.
        for (i, chunk) in data.chunks(CHUNK).enumerate() {
            let level = if i % 2 == 0 { 1 } else { 6 };
            gz.extend_from_slice(&gzip_member(chunk, level).unwrap());
        }
        // tar's own gzip reader is not available here; the multi-member check uses the system
        // gzip, which is what `docker pull` effectively relies on (Go's gzip reader is multistream).
        let mut child = std::process::Command::new("gzip")
            .arg("-dc")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &gz));
        let mut out = Vec::new();
        child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
        writer.join().unwrap().unwrap();
        assert!(child.wait().unwrap().success());
        assert_eq!(out, data);
    }
}
