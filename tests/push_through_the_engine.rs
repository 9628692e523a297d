//! The engine's own push, through Slipway's relay on 127.0.0.1: the registry gets the engine's
//! image (its config digest and layers), and once the engine has pushed a layer, a later push of
//! an image built on it sends only the new layer.

use std::sync::Arc;

use slipway_core::push::{How, PushOutcome, PushRequest, Route};
use slipway_core::registry::RegistryAccess;
use slipway_core::Slipway;
use slipway_tests::{
    assert_runs_and_says, connect, derive_image, run, unique, Registry, TempImage,
};

async fn push(
    slipway: &Slipway,
    image: &str,
    target: &str,
    route: Route,
    cache: &std::path::Path,
) -> PushOutcome {
    slipway
        .push(
            PushRequest {
                image: image.to_string(),
                target: target.to_string(),
                access: RegistryAccess {
                    anonymous: true,
                    ..Default::default()
                },
                cache_dir: Some(cache.to_path_buf()),
                route,
                ..Default::default()
            },
            Arc::new(|_| {}),
        )
        .await
        .unwrap_or_else(|e| panic!("push of {image} to {target} failed: {e}"))
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

/// `from` plus one layer holding `bytes` random bytes.
fn derive_from(from: &str, bytes: usize) -> TempImage {
    let name = unique("relay-derived");
    let image = format!("slipway-test/{name}:1");
    let script = format!("head -c {bytes} /dev/urandom > /new.bin");
    run(
        "docker",
        &["run", "--name", &name, from, "/bin/sh", "-c", &script],
    );
    run("docker", &["commit", &name, &image]);
    run("docker", &["rm", "-f", &name]);
    TempImage::adopt(image)
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
async fn after_one_engine_push_a_derived_image_sends_only_its_new_layer() {
    let base = derive_image("relay-base", "head -c 3000000 /dev/urandom > /base.bin");
    let reg = Registry::plain();
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let first = push(
        &slipway,
        &base.0,
        &format!("{}/relay/base:1", reg.addr()),
        Route::Engine,
        cache.path(),
    )
    .await;
    assert!(first.uploaded_bytes > 3_000_000, "{first:?}");

    let derived = derive_from(&base.0, 200_000);
    let target = format!("{}/relay/derived:1", reg.addr());
    let second = push(&slipway, &derived.0, &target, Route::Auto, cache.path()).await;
    assert_eq!(
        second.route,
        Route::Engine,
        "auto picks the engine: it knows the base"
    );
    let (new, old) = second.layers.split_last().unwrap();
    assert_eq!(new.how, How::Uploaded, "{second:?}");
    assert!(old.iter().all(|l| l.how == How::Exists), "{second:?}");
    // Only the new layer's bytes went (random bytes do not compress), not the 3 MB base.
    assert!(
        second.uploaded_bytes < 1_000_000,
        "uploaded {} bytes: {second:?}",
        second.uploaded_bytes
    );
    assert_eq!(pushed_config_digest(&target), image_id(&derived.0));
}
