//! Pull an image straight from a registry into the local engine, without the engine talking to
//! the registry: Slipway reads manifest, config and layers itself (so plain-HTTP and private-CA
//! registries need no daemon.json or certs.d). The engine pulls them from a loopback relay
//! (the crate's `relay::pull`), which is as fast as its own pull; a reference by digest only, which
//! gives the engine no tag to keep, is streamed to the engine as a docker-archive instead, which
//! the engine loads. Nothing is written to a temporary copy on our side;
//! every layer is verified against its digest as it passes, and the engine checks the diff_ids.
//!
//! Nothing unverified reaches the engine whole: a layer that grows past its descriptor's size
//! fails at the chunk that crosses it (a registry could otherwise append tar entries of its own,
//! a `manifest.json` retagging any local image, after the declared bytes), and each layer's last
//! chunk is held back until the digest has matched, so a wrong layer never completes its entry.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use slipway_oci::manifests::{digest_of, select_platform, ManifestKind};
use slipway_oci::oci_spec::image::{ImageConfiguration, ImageManifest};
use slipway_oci::Reference;
use tokio::sync::mpsc;
use ts_rs::TS;

use crate::blob_cache::{BlobCache, CachedLayer};
use crate::registry::RegistryAccess;
use crate::{Error, Result, Slipway};

/// Progress of a fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum FetchEvent {
    Downloading {
        digest: String,
        done: u64,
        total: u64,
    },
    Downloaded {
        digest: String,
        size: u64,
    },
    /// The engine is loading the archive (it reads it whole before answering).
    Loading,
}

pub type FetchProgress = Arc<dyn Fn(FetchEvent) + Send + Sync>;

/// What was pulled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FetchOutcome {
    /// The tag the image has in the engine now.
    pub reference: String,
    /// The manifest digest it came from.
    pub digest: String,
    /// What the engine said (e.g. `Loaded image: host/app:1`).
    pub engine_messages: Vec<String>,
}

/// What to fetch, from where.
#[derive(Debug, Clone, Default)]
pub struct FetchRequest {
    /// The image in its registry (`host:port/repo:tag` or `...@sha256:...`).
    pub reference: String,
    pub access: RegistryAccess,
    /// For an index, the entry's platform (`os/arch[/variant]`); default this machine's.
    pub platform: Option<String>,
    /// The push cache, told which layers the engine now holds; default the user's cache dir.
    pub cache_dir: Option<PathBuf>,
}

impl Slipway {
    /// Pulls the request's image from its registry into the engine, tagged as written.
    pub async fn fetch(
        &self,
        request: FetchRequest,
        progress: FetchProgress,
    ) -> Result<FetchOutcome> {
        let reference = request.reference.as_str();
        let platform = request.platform.as_deref();
        let r = Reference::parse(reference).map_err(|e| Error::invalid_reference(reference, e))?;
        let client = request.access.client(r.registry())?;
        let repo = r.repository().to_string();
        let top = client.get_manifest(&repo, &r.manifest_reference()).await?;
        let manifest = match &top.kind {
            ManifestKind::Index(index) => {
                let wanted = crate::registry::wanted_platform(platform)?;
                let d = select_platform(index, &wanted, &r.to_string())?;
                client
                    .get_manifest(&repo, &digest_of(d)?.to_string())
                    .await?
            }
            ManifestKind::Image(_) => top.clone(),
        };
        let ManifestKind::Image(image) = &manifest.kind else {
            return Err(Error::InvalidInput(format!(
                "{reference} is an index of indexes, which is not supported"
            )));
        };
        if image
            .layers()
            .iter()
            .any(|l| l.media_type().to_string().contains("zstd"))
        {
            return Err(Error::InvalidInput(format!(
                "{reference} has zstd layers, which this engine cannot load; push or copy it with gzip layers"
            )));
        }
        let config_digest = digest_of(image.config())?;
        let config = client
            .get_blob(&repo, &config_digest, Some(image.config().size()))
            .await?;
        // The engine tags the loaded image with this; a digest-only reference gets no tag.
        let tag = r
            .tag()
            .map(|t| format!("{}/{}:{t}", r.registry(), r.repository()));
        let layers: Vec<(slipway_oci::Digest, u64)> = image
            .layers()
            .iter()
            .map(|d| Ok((digest_of(d)?, d.size())))
            .collect::<Result<_>>()?;

        // The engine pulls it itself through a loopback relay: parallel downloads, each layer
        // unpacked as it arrives, as fast as the engine's own pull.
        if let Some(tag) = &tag {
            let served = crate::relay::pull::Served {
                client: client.clone(),
                repository: repo.clone(),
                manifest: (manifest.media_type.clone(), manifest.bytes.clone()),
                config: (config_digest.clone(), config.clone()),
                layers: layers.iter().cloned().collect(),
                progress: progress.clone(),
            };
            // An engine that holds the image already learns nothing from pulling it again
            // (moby stops as soon as it finds the config), so only a pull that brings the image
            // teaches the engine its layers. With the classic stores and Podman the image id is
            // the config digest.
            let brought = self
                .engine()
                .inspect_image(&config_digest.to_string())
                .await
                .is_err();
            let engine_messages = self.pull_through_relay(served, tag).await?;
            // The fetch succeeded; a cache that cannot learn from it costs only a slower push.
            if let Err(e) = self.remember_pulled(&request, &r, image, &config, brought) {
                tracing::warn!("the push cache did not learn the fetched layers: {e}");
            }
            return Ok(FetchOutcome {
                reference: r.to_string(),
                digest: top.digest.to_string(),
                engine_messages,
            });
        }
        let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(4);
        let producer_client = client.clone();
        let producer_progress = progress.clone();
        let producer = tokio::spawn(async move {
            let result = write_archive(
                &producer_client,
                &repo,
                &config_digest,
                config,
                &layers,
                tag,
                &tx,
                &producer_progress,
            )
            .await;
            if let Err(e) = &result {
                let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
            }
            result
        });
        progress(FetchEvent::Loading);
        let body = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        let loaded = self.engine().load_image(body).await;
        // A download failure is the real cause of a failed load; report it rather than the
        // engine's view of a truncated archive.
        producer
            .await
            .map_err(|e| Error::Engine(format!("the download task failed: {e}")))??;
        let engine_messages = loaded?;
        Ok(FetchOutcome {
            reference: r.to_string(),
            digest: top.digest.to_string(),
            engine_messages,
        })
    }
}

impl Slipway {
    /// Tells the push cache what the registry and the engine hold after the engine's pull
    /// through the relay: each layer (by diff_id) is the blob pulled, in the repository it came
    /// from. When the pull `brought` the image, the engine knows each layer by that blob too
    /// (moby's v2 metadata, containerd's content store, Podman's blob info cache), so `auto`
    /// lets it push an image built on these layers itself, and the push relay mounts each one
    /// from where it came instead of receiving it again.
    fn remember_pulled(
        &self,
        request: &FetchRequest,
        reference: &Reference,
        image: &ImageManifest,
        config: &[u8],
        brought: bool,
    ) -> Result<()> {
        let config: ImageConfiguration = serde_json::from_slice(config)
            .map_err(|e| Error::InvalidInput(format!("the image config is not readable: {e}")))?;
        let diff_ids = config.rootfs().diff_ids();
        if diff_ids.len() != image.layers().len() {
            return Ok(());
        }
        let cache = BlobCache::open_or_default(request.cache_dir.as_deref())?;
        let mut layers = Vec::new();
        let mut engine_layers = Vec::new();
        for (diff_id, layer) in diff_ids.iter().zip(image.layers()) {
            let media_type = layer.media_type().to_string();
            let Some(compression) = slipway_oci::image::compression_of(&media_type) else {
                continue;
            };
            let compressed = digest_of(layer)?;
            engine_layers.push((diff_id.to_string(), compressed.to_string()));
            let cached = CachedLayer {
                compressed,
                compressed_size: layer.size(),
                uncompressed_size: 0,
                media_type,
                locations: Default::default(),
            };
            layers.push((
                crate::push::cache_name(compression),
                diff_id.to_string(),
                cached,
            ));
        }
        cache.put_all(layers, Some(&reference.name()))?;
        if !brought {
            return Ok(());
        }
        cache.remember_engine_layers(self.engine().endpoint(), &engine_layers)
    }
}

fn tar_header(path: &str, size: u64) -> Bytes {
    let mut header = tar::Header::new_ustar();
    // Paths here are short (`<64 hex>/layer.tar`), well inside ustar's 100 bytes.
    let _ = header.set_path(path);
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    Bytes::copy_from_slice(header.as_bytes())
}

fn padding(size: u64) -> Bytes {
    let rest = (512 - size % 512) % 512;
    Bytes::from(vec![0u8; rest as usize])
}

#[allow(clippy::too_many_arguments)]
async fn write_archive(
    client: &slipway_oci::Client,
    repo: &str,
    config_digest: &slipway_oci::Digest,
    config: Bytes,
    layers: &[(slipway_oci::Digest, u64)],
    tag: Option<String>,
    tx: &mpsc::Sender<std::io::Result<Bytes>>,
    progress: &FetchProgress,
) -> Result<()> {
    let send = |b: Bytes| async move {
        tx.send(Ok(b))
            .await
            .map_err(|_| Error::Engine("the engine stopped reading the archive".to_string()))
    };
    let config_name = format!("{}.json", config_digest.hex());
    send(tar_header(&config_name, config.len() as u64)).await?;
    let config_len = config.len() as u64;
    send(config).await?;
    send(padding(config_len)).await?;
    let mut layer_names = Vec::new();
    for (digest, size) in layers {
        let name = format!("{}/layer.tar", digest.hex());
        send(tar_header(&name, *size)).await?;
        let mut stream = client.blob_stream(repo, digest, Some(*size)).await?;
        let mut done = 0u64;
        let mut held_back: Option<Bytes> = None;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            done += chunk.len() as u64;
            progress(FetchEvent::Downloading {
                digest: digest.to_string(),
                done,
                total: *size,
            });
            if let Some(previous) = held_back.replace(chunk) {
                send(previous).await?;
            }
        }
        // The stream ended without an error: size and digest matched, the last chunk may go.
        if let Some(last) = held_back {
            send(last).await?;
        }
        send(padding(*size)).await?;
        progress(FetchEvent::Downloaded {
            digest: digest.to_string(),
            size: *size,
        });
        layer_names.push(name);
    }
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": tag.into_iter().collect::<Vec<_>>(),
        "Layers": layer_names,
    }]);
    let manifest =
        Bytes::from(serde_json::to_vec(&manifest).map_err(|e| Error::InvalidInput(e.to_string()))?);
    let manifest_len = manifest.len() as u64;
    send(tar_header("manifest.json", manifest_len)).await?;
    send(manifest).await?;
    send(padding(manifest_len)).await?;
    // The end of a tar archive is two zero blocks.
    send(Bytes::from(vec![0u8; 1024])).await?;
    Ok(())
}
