//! The engine's own push, through Slipway's relay on 127.0.0.1: the registry gets the engine's
//! image (its config digest and layers), and once the engine has pushed a layer, a later push of
//! an image built on it sends only the new layer, with each layer's progress on its own row from
//! the start and an overall bar that counts only what moved. A classic store that has not pushed
//! an image itself exports it whole, and the push says so.

use std::sync::{Arc, Mutex};

use slipway_core::push::{How, PushEvent, PushOutcome, PushPhase, PushRequest, Route};
use slipway_core::Slipway;
use slipway_tests::{
    anonymous_fetch, anonymous_push, assert_runs_and_says, connect, derive_image,
    derive_image_from_on, derive_image_on, port_becomes, relay_port, relays_port, run,
    unique_base_on, EngineKind, ImageStore, Registry, Scene, TempImage,
};

async fn push(
    slipway: &Slipway,
    image: &str,
    target: &str,
    route: Route,
    cache: &std::path::Path,
) -> PushOutcome {
    push_recording(slipway, image, target, route, cache).await.0
}

/// A push, with every progress event it sent.
async fn push_recording(
    slipway: &Slipway,
    image: &str,
    target: &str,
    route: Route,
    cache: &std::path::Path,
) -> (PushOutcome, Vec<PushEvent>) {
    let _port = relay_port().await;
    push_holding_the_port(slipway, image, target, route, cache).await
}

/// [`push_recording`] for a caller that holds [`relay_port`] already.
async fn push_holding_the_port(
    slipway: &Slipway,
    image: &str,
    target: &str,
    route: Route,
    cache: &std::path::Path,
) -> (PushOutcome, Vec<PushEvent>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let outcome = slipway
        .push(
            anonymous_push(image, target, route, cache),
            Arc::new(move |event| sink.lock().unwrap().push(event)),
        )
        .await
        .unwrap_or_else(|e| panic!("push of {image} to {target} failed: {e}"));
    let events = std::mem::take(&mut *events.lock().unwrap());
    (outcome, events)
}

/// The rows a display draws from `events` are the image's layers and nothing else, from the
/// first event to the last; each ends on the registry's digest for it; the overall bar counts
/// what moved, is full only with the last event, and counts what was already there apart.
fn rows_tell_the_truth(name: &str, outcome: &PushOutcome, events: &[PushEvent]) {
    let diff_ids: Vec<&String> = outcome.layers.iter().map(|l| &l.diff_id).collect();
    for event in events {
        let blob = match event {
            PushEvent::Waiting { blob, .. }
            | PushEvent::Compressing { blob, .. }
            | PushEvent::Uploading { blob, .. }
            | PushEvent::Skipped { blob }
            | PushEvent::Exists { blob, .. }
            | PushEvent::Mounted { blob, .. }
            | PushEvent::Done { blob, .. } => blob,
            PushEvent::Identified { .. } => panic!("on {name}: a row moved: {events:?}"),
            PushEvent::Overall { .. } | PushEvent::Phase { .. } => continue,
        };
        assert!(
            blob == "config" || diff_ids.contains(&blob),
            "on {name}: a row {blob} that is no layer: {events:?}"
        );
    }
    for layer in &outcome.layers {
        let end = events.iter().rev().find_map(|e| match e {
            PushEvent::Done { blob, digest, .. } | PushEvent::Exists { blob, digest }
                if *blob == layer.diff_id =>
            {
                Some(digest)
            }
            _ => None,
        });
        assert_eq!(end, Some(&layer.digest), "on {name}: {events:?}");
    }
    let overall: Vec<(u64, u64, u64, u16)> = events
        .iter()
        .filter_map(|e| match e {
            PushEvent::Overall {
                moved,
                to_move,
                present,
                permille,
            } => Some((*moved, *to_move, *present, *permille)),
            _ => None,
        })
        .collect();
    let (last, before) = overall.split_last().expect("overall events");
    assert_eq!(last.3, 1000, "on {name}: {overall:?}");
    assert!(before.iter().all(|o| o.3 < 1000), "on {name}: {overall:?}");
    assert!(
        matches!(events.last(), Some(PushEvent::Overall { .. })),
        "on {name}: the full bar comes last: {events:?}"
    );
    if outcome.layers.iter().any(|l| l.how != How::Uploaded) {
        assert!(
            last.2 > 0,
            "on {name}: what was there is counted apart: {overall:?}"
        );
    }
}

/// The config digest skopeo reads from the registry's manifest.
fn pushed_config_digest(reference: &str) -> String {
    let raw = run(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            "--raw",
            &format!("docker://{reference}"),
        ],
    );
    let manifest: serde_json::Value = serde_json::from_str(&raw).unwrap();
    manifest["config"]["digest"].as_str().unwrap().to_string()
}

fn image_id(image: &str) -> String {
    run(
        "docker",
        &["image", "inspect", "--format", "{{.Id}}", image],
    )
    .trim()
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_push_through_the_relay_gives_the_registry_the_engines_image() {
    let image = derive_image("relay", "echo relayed > /relayed.txt");
    let reg = Registry::plain();
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let target = format!("{}/relay/app:1", reg.addr());
    let outcome = push(&slipway, &image.0, &target, Route::Engine, cache.path()).await;
    assert_eq!(outcome.route, Route::Engine);
    assert_eq!(pushed_config_digest(&target), image_id(&image.0));
    let raw = run(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            "--raw",
            &format!("docker://{target}"),
        ],
    );
    assert_eq!(
        slipway_oci::Digest::sha256_of(raw.as_bytes()).to_string(),
        outcome.digest
    );
    // No temporary relay tag is left on the image.
    let tags = run(
        "docker",
        &["image", "inspect", "--format", "{{.RepoTags}}", &image.0],
    );
    assert!(!tags.contains("127.0.0.1:"), "{tags}");
    let pulled = format!("{target}-pulled");
    let _ = pulled;
    run("docker", &["pull", &target]);
    assert_runs_and_says(&target, "relayed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_one_engine_push_a_derived_image_sends_only_its_new_layer_on_the_system_engine() {
    incremental_after_an_engine_push("system").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_one_engine_push_a_derived_image_sends_only_its_new_layer_on_docker26_containerd_store(
) {
    incremental_after_an_engine_push("docker26-containerd").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_one_engine_push_a_derived_image_sends_only_its_new_layer_on_docker26_overlay2() {
    incremental_after_an_engine_push("docker26-overlay2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_one_engine_push_a_derived_image_sends_only_its_new_layer_on_podman() {
    incremental_after_an_engine_push("podman").await;
}

/// The base pushed once by the engine itself (which teaches it the layers), then an image with
/// one more layer pushed with the `auto` route: only that layer travels, and the registry holds
/// the engine's config.
async fn incremental_after_an_engine_push(name: &str) {
    let Some(scene) = Scene::on(name).await else {
        return;
    };
    let (engine, slipway, cache) = scene.parts();
    let base = derive_image_on(
        engine,
        "relay-base",
        "head -c 3000000 /dev/urandom > /base.bin",
    );
    let reg = Registry::plain();
    let (first, first_events) = push_recording(
        slipway,
        &base.0,
        &format!("{}/relay/base:1", reg.addr()),
        Route::Engine,
        cache,
    )
    .await;
    assert!(first.uploaded_bytes > 3_000_000, "on {name}: {first:?}");
    rows_tell_the_truth(name, &first, &first_events);

    let derived = derive_image_from_on(engine, &base.0, "head -c 200000 /dev/urandom > /new.bin");
    let target = format!("{}/relay/derived:1", reg.addr());
    let (second, events) = push_recording(slipway, &derived.0, &target, Route::Auto, cache).await;
    rows_tell_the_truth(name, &second, &events);
    // A layer the registry has leaves the bar as soon as the engine asks about it, before the
    // manifest: Docker says so, and the relay knows the digests an engine that pushed them
    // before asks about (all Podman says while it pushes).
    let manifest = events.iter().position(|e| {
        matches!(
            e,
            PushEvent::Phase {
                phase: PushPhase::Manifest
            }
        )
    });
    let (_, old) = second.layers.split_last().unwrap();
    for layer in old {
        let skipped = events
            .iter()
            .position(|e| matches!(e, PushEvent::Skipped { blob } if *blob == layer.diff_id));
        assert!(
            skipped.is_some() && skipped < manifest,
            "on {name}: the base layer leaves the bar while the engine pushes: {events:?}"
        );
    }
    // Docker says which layer its bytes are; Podman's push is quiet until it ends.
    if name != "podman" {
        let new_layer = &second.layers.last().unwrap().diff_id;
        assert!(
            events.iter().any(
                |e| matches!(e, PushEvent::Uploading { blob, done, .. } if blob == new_layer && *done > 0)
            ),
            "on {name}: the new layer's bytes move on its row: {events:?}"
        );
    }
    assert_eq!(
        second.route,
        Route::Engine,
        "on {name}: auto picks the engine, which knows the base"
    );
    let (new, old) = second.layers.split_last().unwrap();
    assert_eq!(new.how, How::Uploaded, "on {name}: {second:?}");
    assert!(
        old.iter().all(|l| l.how == How::Exists),
        "on {name}: {second:?}"
    );
    // Only the new layer's bytes went (random bytes do not compress), not the 3 MB base.
    assert!(
        second.uploaded_bytes < 1_000_000,
        "on {name}: uploaded {} bytes: {second:?}",
        second.uploaded_bytes
    );
    assert_eq!(
        pushed_config_digest(&target),
        engine.config_digest(&derived.0),
        "on {name}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_on_an_exported_image_says_how_to_stop_exporting_it_whole_on_the_system_engine() {
    commit_on_an_exported_image("system").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_on_an_exported_image_says_how_to_stop_exporting_it_whole_on_docker26_overlay2() {
    commit_on_an_exported_image("docker26-overlay2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_on_an_exported_image_goes_through_the_engine_on_docker26_containerd_store() {
    commit_on_an_exported_image("docker26-containerd").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_on_an_exported_image_goes_through_the_engine_on_podman() {
    commit_on_an_exported_image("podman").await;
}

/// The base pushed through the export, then a commit on it with `auto`. A classic store has not
/// pushed the base itself, so it does not know the registry's blobs for it: the export goes out
/// whole again, and the outcome says how much the registry already had, so the front ends can
/// offer the one engine push that teaches the engine. After that push a further commit goes
/// through the engine and sends only itself. The containerd store and Podman push the commit
/// themselves at once: the containerd store's export passed its own blobs on, so it knows them
/// and sends only the commit; Podman compresses the base again (Slipway's blobs are not the ones
/// it made) and learns its own, so there too the next commit sends only itself.
async fn commit_on_an_exported_image(name: &str) {
    let Some(scene) = Scene::on(name).await else {
        return;
    };
    let (engine, slipway, cache) = scene.parts();
    let classic = engine.kind == EngineKind::Docker && engine.store == ImageStore::Classic;
    let base = derive_image_on(
        engine,
        "exported-base",
        "head -c 3000000 /dev/urandom > /base.bin",
    );
    let reg = Registry::plain();
    let first = push(
        slipway,
        &base.0,
        &format!("{}/exported/base:1", reg.addr()),
        Route::Export,
        cache,
    )
    .await;
    assert_eq!(
        first.exported_whole, None,
        "on {name}: the registry had nothing of the image: {first:?}"
    );

    let derived = derive_image_from_on(engine, &base.0, "head -c 200000 /dev/urandom > /new.bin");
    let target = format!("{}/exported/derived:1", reg.addr());
    let commit = push(slipway, &derived.0, &target, Route::Auto, cache).await;
    assert_eq!(
        pushed_config_digest(&target),
        engine.config_digest(&derived.0),
        "on {name}"
    );
    // `auto` tags the image for the relay while it inspects it; the export route takes that
    // name off again.
    let tags = engine.docker(&["image", "inspect", "-f", "{{json .RepoTags}}", &derived.0]);
    assert!(!tags.contains("127.0.0.1:"), "on {name}: {tags}");
    if classic {
        assert_eq!(commit.route, Route::Export, "on {name}: {commit:?}");
        let whole = commit.exported_whole.unwrap_or_else(|| {
            panic!("on {name}: the outcome says the export went whole: {commit:?}")
        });
        assert!(
            whole.present_bytes >= 3_000_000 && whole.present_bytes < whole.image_bytes,
            "on {name}: the registry had the base, not the commit: {whole:?}"
        );
        // Only the commit's bytes went, whatever the export cost.
        assert!(commit.uploaded_bytes < 1_000_000, "on {name}: {commit:?}");

        // The offer taken: one push through the engine, which teaches it the layers.
        let taught = push(slipway, &derived.0, &target, Route::Engine, cache).await;
        assert_eq!(taught.route, Route::Engine, "on {name}");
        assert_eq!(taught.exported_whole, None, "on {name}: {taught:?}");
    } else {
        assert_eq!(commit.route, Route::Engine, "on {name}: {commit:?}");
        assert_eq!(commit.exported_whole, None, "on {name}: {commit:?}");
        if engine.kind == EngineKind::Docker {
            assert!(commit.uploaded_bytes < 1_000_000, "on {name}: {commit:?}");
        }
    }

    let next = derive_image_from_on(
        engine,
        &derived.0,
        "head -c 200000 /dev/urandom > /next.bin",
    );
    let target = format!("{}/exported/next:1", reg.addr());
    let after = push(slipway, &next.0, &target, Route::Auto, cache).await;
    assert_eq!(
        after.route,
        Route::Engine,
        "on {name}: the taught engine pushes the next commit itself: {after:?}"
    );
    assert_eq!(after.exported_whole, None, "on {name}: {after:?}");
    assert!(after.uploaded_bytes < 1_000_000, "on {name}: {after:?}");
    assert_eq!(
        pushed_config_digest(&target),
        engine.config_digest(&next.0),
        "on {name}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_on_a_fetched_image_sends_only_its_new_layer_on_the_system_engine() {
    commit_on_a_fetched_image("system", Beside::Nothing).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_beside_a_push_still_lets_a_commit_on_it_send_only_its_new_layer_on_the_system_engine(
) {
    commit_on_a_fetched_image("system", Beside::APush).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_beside_a_push_still_lets_a_commit_on_it_send_only_its_new_layer_on_podman() {
    commit_on_a_fetched_image("podman", Beside::APush).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_on_a_fetched_image_sends_only_its_new_layer_on_docker26_containerd_store() {
    commit_on_a_fetched_image("docker26-containerd", Beside::Nothing).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_on_a_fetched_image_sends_only_its_new_layer_on_docker26_overlay2() {
    commit_on_a_fetched_image("docker26-overlay2", Beside::Nothing).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_on_a_fetched_image_sends_only_its_new_layer_on_podman() {
    commit_on_a_fetched_image("podman", Beside::Nothing).await;
}

/// The pull-back workflow: an image another machine pushed is fetched, a commit goes on it,
/// and the commit is pushed to another repository of the same registry. The engine knows the
/// fetched layers by the blobs it pulled through the relay, at the address the push relay has
/// too, so `auto` lets the engine push, and it mounts those layers instead of compressing and
/// sending them again. That holds when another push runs through the relay as the fetch starts:
/// the two share its port.
async fn commit_on_a_fetched_image(name: &str, beside: Beside) {
    let Some(scene) = Scene::on(name).await else {
        return;
    };
    let (engine, slipway, cache) = scene.parts();
    let reg = Registry::plain();
    let source = format!("{}/fetched/base:1", reg.addr());
    {
        // Pushed with a push cache of its own, as from another machine, and gone from the
        // engine before the fetch. Its busybox layer is the test's own (`unique_base_on` says
        // why).
        let own = unique_base_on(engine, "fetched-busybox");
        let base = derive_image_from_on(engine, &own.0, "head -c 3000000 /dev/urandom > /base.bin");
        let elsewhere = tempfile::tempdir().unwrap();
        push(slipway, &base.0, &source, Route::Export, elsewhere.path()).await;
    }
    let fetched = TempImage::adopt_on(engine, source.clone());
    {
        let _port = relay_port().await;
        let fetch = slipway.fetch(anonymous_fetch(&source, cache), Arc::new(|_| {}));
        let fetched = match beside {
            Beside::Nothing => fetch.await,
            Beside::APush => {
                let other = derive_image_on(
                    engine,
                    "beside-a-fetch",
                    "dd if=/dev/urandom of=/beside.bin bs=1M count=24",
                );
                let other_target = format!("{}/beside/push:1", reg.addr());
                let elsewhere = tempfile::tempdir().unwrap();
                let push = push_holding_the_port(
                    slipway,
                    &other.0,
                    &other_target,
                    Route::Engine,
                    elsewhere.path(),
                );
                let fetch = async {
                    relay_listening().await;
                    fetch.await
                };
                tokio::join!(push, fetch).1
            }
        };
        fetched.unwrap_or_else(|e| panic!("on {name}: fetch of {source} failed: {e}"));
    }

    let derived =
        derive_image_from_on(engine, &fetched.0, "head -c 200000 /dev/urandom > /new.bin");
    let target = format!("{}/fetched/derived:1", reg.addr());
    let (outcome, events) = push_recording(slipway, &derived.0, &target, Route::Auto, cache).await;
    rows_tell_the_truth(name, &outcome, &events);
    assert_eq!(
        outcome.route,
        Route::Engine,
        "on {name}: the engine knows the fetched layers: {outcome:?}"
    );
    let (new, old) = outcome.layers.split_last().unwrap();
    assert_eq!(new.how, How::Uploaded, "on {name}: {outcome:?}");
    assert!(
        old.iter().all(|l| l.how != How::Uploaded),
        "on {name}: {outcome:?}"
    );
    // Only the new layer's bytes went (random bytes do not compress), not the 3 MB base.
    assert!(
        outcome.uploaded_bytes < 1_000_000,
        "on {name}: uploaded {} bytes: {outcome:?}",
        outcome.uploaded_bytes
    );
    assert_eq!(
        pushed_config_digest(&target),
        engine.config_digest(&derived.0),
        "on {name}"
    );
}

/// What else runs through the relay while a fetch starts.
#[derive(Clone, Copy)]
enum Beside {
    Nothing,
    /// The engine's push of another image (24 MB, which it compresses on one core).
    APush,
}

/// Returns once a relay listens at the relays' port.
async fn relay_listening() {
    let port = relays_port();
    if !port_becomes(port, true, std::time::Duration::from_secs(30)).await {
        panic!("no relay listened at 127.0.0.1:{port} within 30 s");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engines_push_refuses_a_compression_it_cannot_do() {
    let reg = Registry::plain();
    let data = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let err = slipway
        .push(
            PushRequest {
                compression: slipway_core::push::Compression::Zstd,
                ..anonymous_push(
                    &slipway_tests::base_image(),
                    &format!("{}/relay/zstd:1", reg.addr()),
                    Route::Engine,
                    data.path(),
                )
            },
            Arc::new(|_| {}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input", "{err}");
    assert!(err.to_string().contains("needs the export route"), "{err}");
}

/// On Podman even a first push goes through Podman's own push: it compresses in parallel from
/// its store, where the export would stage the whole image in a temporary archive first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_push_on_podman_goes_through_podmans_own_push() {
    let Some(scene) = Scene::on("podman").await else {
        return;
    };
    let (engine, slipway, cache) = scene.parts();
    let image = derive_image_on(engine, "podman-first", "echo first > /first.txt");
    let reg = Registry::plain();
    let target = format!("{}/relay/podman-first:1", reg.addr());
    let outcome = push(slipway, &image.0, &target, Route::Auto, cache).await;
    assert_eq!(outcome.route, Route::Engine, "{outcome:?}");
    assert!(
        outcome.layers.iter().all(|l| l.how == How::Uploaded),
        "{outcome:?}"
    );
    assert_eq!(
        pushed_config_digest(&target),
        engine.config_digest(&image.0)
    );
    let raw = run(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            "--raw",
            &format!("docker://{target}"),
        ],
    );
    assert_eq!(
        slipway_oci::Digest::sha256_of(raw.as_bytes()).to_string(),
        outcome.digest
    );
}

/// Podman remembers where it pushed a layer (its blob-info cache: this relay's address and the
/// repository) and asks about it there before it mounts it. The relay answers for that
/// repository from the real registry, so the layer is mounted even when Slipway's push cache
/// does not know it: a cache cleared since, or a push by another user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn podman_mounts_a_layer_from_where_it_pushed_it_when_the_push_cache_forgot_it() {
    let Some(scene) = Scene::on("podman").await else {
        return;
    };
    let (engine, slipway, cache) = scene.parts();
    let own = unique_base_on(engine, "forgotten-busybox");
    let base = derive_image_from_on(engine, &own.0, "head -c 3000000 /dev/urandom > /base.bin");
    let reg = Registry::plain();
    let first = push(
        slipway,
        &base.0,
        &format!("{}/relay/first:1", reg.addr()),
        Route::Engine,
        cache,
    )
    .await;
    assert!(first.uploaded_bytes > 3_000_000, "{first:?}");

    let derived = derive_image_from_on(engine, &base.0, "head -c 200000 /dev/urandom > /new.bin");
    let target = format!("{}/relay/second:1", reg.addr());
    let forgotten = tempfile::tempdir().unwrap();
    let second = push(
        slipway,
        &derived.0,
        &target,
        Route::Engine,
        forgotten.path(),
    )
    .await;
    // Only the new layer's bytes went (random bytes do not compress), not the 3 MB base.
    assert!(
        second.uploaded_bytes < 1_000_000,
        "uploaded {} bytes: {second:?}",
        second.uploaded_bytes
    );
    assert_eq!(
        pushed_config_digest(&target),
        engine.config_digest(&derived.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_without_the_engines_blobs_gets_the_export_on_the_system_engine() {
    export_where_the_engine_would_compress_again("system").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_without_the_engines_blobs_gets_the_export_on_docker26_overlay2() {
    export_where_the_engine_would_compress_again("docker26-overlay2").await;
}

/// A classic store knows a layer by the blob it pushed, and skips it only where that blob is.
/// After an engine push to one registry, `auto` keeps the engine's push for that registry, but
/// to a registry that lacks the engine's blobs the engine would compress every layer again on
/// one core, so the export goes there.
async fn export_where_the_engine_would_compress_again(name: &str) {
    let Some(scene) = Scene::on(name).await else {
        return;
    };
    let (engine, slipway, cache) = scene.parts();
    // More than the engine may compress for its push to win (64 MiB).
    let image = derive_image_on(
        engine,
        "elsewhere",
        "head -c 70000000 /dev/urandom > /big.bin",
    );
    let (first, second) = (Registry::plain(), Registry::plain());
    let taught = push(
        slipway,
        &image.0,
        &format!("{}/elsewhere/app:1", first.addr()),
        Route::Engine,
        cache,
    )
    .await;
    assert_eq!(taught.route, Route::Engine);

    let again = format!("{}/elsewhere/again:1", first.addr());
    let same_registry = push(slipway, &image.0, &again, Route::Auto, cache).await;
    assert_eq!(
        same_registry.route,
        Route::Engine,
        "on {name}: the first registry holds the engine's blobs: {same_registry:?}"
    );

    let target = format!("{}/elsewhere/app:1", second.addr());
    let other_registry = push(slipway, &image.0, &target, Route::Auto, cache).await;
    assert_eq!(
        other_registry.route,
        Route::Export,
        "on {name}: the second registry lacks the engine's blobs: {other_registry:?}"
    );
    assert_eq!(
        pushed_config_digest(&target),
        engine.config_digest(&image.0),
        "on {name}"
    );
}

/// While another program holds the relays' port, every relay takes the same next one, so Podman,
/// which remembers where its layers are by host and port, still sends only a commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_relays_port_held_elsewhere_a_commit_still_sends_only_itself_on_podman() {
    let Some(scene) = Scene::on("podman").await else {
        return;
    };
    let (engine, slipway, cache) = scene.parts();
    let _port = relay_port().await;
    let port = relays_port();
    let Ok(_held) = std::net::TcpListener::bind(("127.0.0.1", port)) else {
        eprintln!("skipped: something else holds 127.0.0.1:{port} already, so holding it here proves nothing");
        return;
    };
    let base = derive_image_on(
        engine,
        "held-port",
        "head -c 3000000 /dev/urandom > /base.bin",
    );
    let reg = Registry::plain();
    let (first, _) = push_holding_the_port(
        slipway,
        &base.0,
        &format!("{}/held/base:1", reg.addr()),
        Route::Engine,
        cache,
    )
    .await;
    assert!(first.uploaded_bytes > 3_000_000, "{first:?}");
    let derived = derive_image_from_on(engine, &base.0, "head -c 200000 /dev/urandom > /new.bin");
    let target = format!("{}/held/derived:1", reg.addr());
    let (second, _) = push_holding_the_port(slipway, &derived.0, &target, Route::Auto, cache).await;
    assert_eq!(second.route, Route::Engine, "{second:?}");
    assert!(
        second.uploaded_bytes < 1_000_000,
        "only the commit goes while port {port} is held: {second:?}"
    );
}

/// An image with no tag, pushed by its id, goes out through the export and stays in the engine:
/// the relay's name, which removing would take the image with it, is never put on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untagged_image_pushed_by_its_id_stays_in_the_engine() {
    let Some(scene) = Scene::on("system").await else {
        return;
    };
    let (engine, slipway, cache) = scene.parts();
    let container = slipway_tests::unique("untagged");
    let base = slipway_tests::base_image_on(engine);
    engine.docker(&[
        "run",
        "--name",
        &container,
        &base,
        "sh",
        "-c",
        "echo untagged > /u.txt",
    ]);
    let id = engine.docker(&["commit", &container]).trim().to_string();
    engine.docker(&["rm", &container]);
    let _image = TempImage::adopt(id.clone());
    let reg = Registry::plain();
    let target = format!("{}/untagged/app:1", reg.addr());
    let outcome = push(slipway, &id, &target, Route::Auto, cache).await;
    assert_eq!(outcome.route, Route::Export, "{outcome:?}");
    let tags = engine.docker(&["image", "inspect", "-f", "{{json .RepoTags}}", &id]);
    assert_eq!(tags.trim(), "[]", "the image keeps no tag and stays");
    assert_eq!(pushed_config_digest(&target), id);
}

/// An image whose every blob and config the push cache holds goes out of the cache, whatever
/// the engine seems to know. A pull of an image the engine already has gives it a registry digest
/// without teaching it a layer; the engine's push would then compress every layer again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_the_cache_holds_whole_goes_out_of_the_cache() {
    let Some(scene) = Scene::on("system").await else {
        return;
    };
    let (engine, slipway, cache) = scene.parts();
    let image = derive_image_on(engine, "held", "head -c 2000000 /dev/urandom > /held.bin");
    let (first, second) = (Registry::plain(), Registry::plain());
    let pushed = format!("{}/held/app:1", first.addr());
    let exported = push(slipway, &image.0, &pushed, Route::Export, cache).await;
    assert_eq!(exported.route, Route::Export);
    // The engine has the image: this pull only adds the registry digest.
    run("docker", &["pull", &pushed]);
    let _pulled = slipway_tests::TempImage::adopt(pushed.clone());

    let target = format!("{}/held/app:1", second.addr());
    let again = push(slipway, &image.0, &target, Route::Auto, cache).await;
    assert_eq!(again.route, Route::Export, "{again:?}");
    assert_eq!(
        again.compressed_layers, 0,
        "nothing compressed again: {again:?}"
    );
    assert!(
        again.layers.iter().all(|l| l.how == How::Uploaded),
        "a new registry gets every blob: {again:?}"
    );
    assert_eq!(
        pushed_config_digest(&target),
        engine.config_digest(&image.0)
    );
}
