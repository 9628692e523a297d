//! Which way a push goes: the engine's own push through the relay ([`crate::relay`]) when it
//! costs only what changed, the export ([`super::export`]) otherwise.
//!
//! Measured on Docker 20.10 (classic store) with an 892 MB image (README, "Speed"): the export
//! costs the whole image every time (the engine stages it on disk first), while the engine's push
//! HEADs each layer it has pushed before and sends only the others, but compresses those on one
//! core. So the export wins a first push and the engine's push wins every push after it, as
//! long as the engine knows the layers: a classic store knows a layer's registry digest only
//! once it pushed (or pulled) it. The containerd store keeps layers compressed and always knows
//! them. Podman pushes with its own (libpod) API, the only one it lets use plain HTTP toward
//! 127.0.0.1, and there its push wins even a first push: it compresses layers in parallel
//! (containers/image's pgzip) straight from its store, where the export makes Podman write the
//! whole image to a temporary archive first (13.8 s against `podman push`'s 8.5 s for 892 MB).

use serde::{Deserialize, Serialize};
use slipway_engine::images::ImageDetails;
use slipway_engine::system::{EngineKind, ImageStore};
use ts_rs::TS;

use crate::{Error, Result, Slipway};

/// How much of an image may be new to a classic-store engine for its own push to still be the
/// faster way: the engine compresses on one core (about 45 MB/s here), the export route costs
/// the whole image's export (about 8 s for 892 MB here), so a few tens of MB is the break-even.
pub(super) const ENGINE_MAY_COMPRESS: u64 = 64 << 20;

/// What the push cache knows that decides the route.
pub(super) struct CacheKnows {
    /// The diff_ids this engine has pushed through the relay.
    pub engine_pushed: std::collections::BTreeSet<String>,
    /// Those whose blobs, as the engine compressed them, are known to be only in other
    /// registries than the target ([`crate::blob_cache::BlobCache::engine_layers_elsewhere`]).
    pub elsewhere: std::collections::BTreeSet<String>,
    /// The cache holds the image's config and a compressed blob of each of its layers.
    pub every_blob: bool,
}

/// Which way to push.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// The engine's push when it costs only what changed, the export otherwise.
    #[default]
    Auto,
    /// Read the engine's export and compress on every core.
    Export,
    /// The engine pushes through Slipway's relay on 127.0.0.1 and sends only what the target
    /// lacks. A first push this way is as slow as `docker push`, but it teaches a classic-store
    /// engine the layers, so every later push of images built on them is incremental.
    Engine,
}

/// The route a push takes, and whether the export was taken only because the engine does not
/// know the image's layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Choice {
    pub route: Route,
    /// [`Route::Auto`] chose the export because a classic-store Docker engine knows too little
    /// of the image to push only what changed; it would learn by pushing it once itself.
    pub engine_unaware: bool,
}

impl Choice {
    fn of(route: Route) -> Choice {
        Choice {
            route,
            engine_unaware: false,
        }
    }
}

impl Slipway {
    /// Resolves [`Route::Auto`] for this image on this engine.
    pub(super) async fn choose_route(
        &self,
        request: &super::PushRequest,
        kind: EngineKind,
        store: Option<ImageStore>,
        details: &ImageDetails,
        layer_sizes: &[u64],
        cache: &CacheKnows,
    ) -> Result<Choice> {
        let asked = request.route;
        // The engine compresses with its own gzip at its own level.
        let own_compression = request.own_compression();
        if asked == Route::Engine && own_compression {
            return Err(Error::InvalidInput(
                "the engine's push compresses with its own gzip at its own level, so zstd or a \
                 chosen level needs the export route: push with the export route, or with the \
                 default compression"
                    .to_string(),
            ));
        }
        if asked != Route::Auto {
            return Ok(Choice::of(asked));
        }
        // The relay pushes a temporary tag and removes it after; an image with no tag of its
        // own would be removed with it.
        if details.tags.is_empty() || own_compression {
            return Ok(Choice::of(Route::Export));
        }
        // With every blob and the config in the push cache the export route exports nothing: it
        // asks the registry about each blob and uploads only what it lacks, compressing nothing,
        // where an engine that does not know the target's blobs would compress them all again.
        if cache.every_blob {
            return Ok(Choice::of(Route::Export));
        }
        if kind == EngineKind::Podman {
            return Ok(Choice::of(Route::Engine));
        }
        // A Docker image with registry digests was pulled or pushed by the engine, which then
        // knows all its layers. But it knows a layer by the blob it pushed or pulled, and only a
        // registry that holds that blob lets it skip the layer: a layer whose blob is known to be
        // only in other registries would be compressed again, on one core.
        let pushed_or_pulled = !details.digests.is_empty();
        let knows = |diff_id: &String| {
            (pushed_or_pulled || cache.engine_pushed.contains(diff_id))
                && !cache.elsewhere.contains(diff_id)
        };
        let new_to_engine: u64 = details
            .diff_ids
            .iter()
            .zip(layer_sizes)
            .filter(|(d, _)| !knows(d))
            .map(|(_, size)| *size)
            .sum();
        if details.diff_ids.iter().any(knows) && new_to_engine <= ENGINE_MAY_COMPRESS {
            return Ok(Choice::of(Route::Engine));
        }
        // Asked only now when it was not asked already, because `docker info` is slow next to
        // an incremental push.
        let store = match store {
            Some(store) => store,
            None if kind == EngineKind::Docker => self.engine().image_store().await?,
            None => ImageStore::Classic,
        };
        if kind == EngineKind::Docker && store == ImageStore::Containerd {
            return Ok(Choice::of(Route::Engine));
        }
        // A first push: the export compresses on every core, the engine on one. It is the
        // first push for the engine even when the registry has the image from an export before.
        Ok(Choice {
            route: Route::Export,
            engine_unaware: true,
        })
    }
}
