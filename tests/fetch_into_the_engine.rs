//! Fetching an image from a registry into the engine: nothing the registry sends that does not
//! match its manifest ever reaches the engine whole, and what does is an image that runs.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Response, StatusCode, Uri};
use bytes::Bytes;
use slipway_oci::Digest;
use slipway_tests::{
    anonymous_fetch, assert_runs_and_says, assert_runs_and_says_on, connect_to, derive_image,
    derive_image_on, run, Registry, TestEngine,
};

/// A registry that serves one image whose layer blob is `served` instead of `layer`.
async fn lying_registry(layer: Bytes, served: Bytes) -> String {
    let layer_digest = Digest::sha256_of(&layer);
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer_digest.to_string()]},
    });
    let config = Bytes::from(serde_json::to_vec(&config).unwrap());
    let config_digest = Digest::sha256_of(&config);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": config.len(), "digest": config_digest.to_string()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar",
                    "size": layer.len(), "digest": layer_digest.to_string()}],
    });
    let manifest = Bytes::from(serde_json::to_vec(&manifest).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let (manifest, config, served) = (manifest.clone(), config.clone(), served.clone());
        let (config_digest, layer_digest) = (config_digest.clone(), layer_digest.clone());
        async move {
            let path = uri.path();
            let (body, kind) = if path == "/v2/" {
                (Bytes::from_static(b"{}"), "application/json")
            } else if path.ends_with("/manifests/1") {
                (
                    manifest,
                    "application/vnd.docker.distribution.manifest.v2+json",
                )
            } else if path.ends_with(&config_digest.to_string()) {
                (config, "application/octet-stream")
            } else if path.ends_with(&layer_digest.to_string()) {
                (served, "application/octet-stream")
            } else {
                return Response::builder()
                    .status(StatusCode::NOT_FOUND)
                    .body(Body::empty())
                    .unwrap();
            };
            Response::builder()
                .header("content-type", kind)
                .body(Body::from(body))
                .unwrap()
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr.to_string()
}

/// A one-file layer tar holding `content`. Each test plants its own content: the engine shares
/// one download between pulls of the same digest, so two tests with one layer would see each
/// other's registry.
fn layer_tar(content: &[u8]) -> Bytes {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, "planted.txt", content)
        .unwrap();
    Bytes::from(builder.into_inner().unwrap())
}

async fn fetch_on(
    engine: &TestEngine,
    reference: &str,
) -> slipway_core::Result<slipway_core::fetch::FetchOutcome> {
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let slipway = connect_to(engine, data.path()).await;
    slipway
        .fetch(anonymous_fetch(reference, cache.path()), Arc::new(|_| {}))
        .await
}

async fn fetch(reference: &str) -> slipway_core::Result<slipway_core::fetch::FetchOutcome> {
    fetch_on(&TestEngine::system(), reference).await
}

fn engine_has(engine: &TestEngine, image: &str) -> bool {
    engine
        .command("docker")
        .args(["image", "inspect", image])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A layer served with 4 KiB more than its descriptor says is refused, and the engine never
/// holds the image.
async fn a_longer_blob_is_refused(name: &str, planted: &[u8]) {
    let Some(engine) = TestEngine::for_test(name) else {
        return;
    };
    let layer = layer_tar(planted);
    let mut longer = layer.to_vec();
    longer.extend_from_slice(&[0x42; 4096]);
    let addr = lying_registry(layer, Bytes::from(longer)).await;
    let reference = format!("{addr}/fake/app:1");
    let err = fetch_on(&engine, &reference).await.unwrap_err();
    assert!(
        err.to_string().contains("bytes but its descriptor says"),
        "on {name}: {err}"
    );
    assert!(!engine_has(&engine, &reference), "on {name}");
}

/// A layer whose bytes do not hash to its digest is refused, and the engine never holds the
/// image.
async fn a_mismatched_blob_is_refused(name: &str, planted: &[u8]) {
    let Some(engine) = TestEngine::for_test(name) else {
        return;
    };
    let layer = layer_tar(planted);
    let mut other = layer.to_vec();
    other[600] ^= 0xff;
    let addr = lying_registry(layer, Bytes::from(other)).await;
    let reference = format!("{addr}/fake/app:1");
    let err = fetch_on(&engine, &reference).await.unwrap_err();
    assert_eq!(err.code(), "digest_mismatch", "on {name}: {err}");
    assert!(!engine_has(&engine, &reference), "on {name}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_longer_than_its_descriptor_never_reaches_the_engine() {
    a_longer_blob_is_refused("system", b"longer\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_longer_than_its_descriptor_never_reaches_podman() {
    a_longer_blob_is_refused("podman", b"longer on podman\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_that_does_not_match_its_digest_never_reaches_the_engine() {
    a_mismatched_blob_is_refused("system", b"mismatched\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_that_does_not_match_its_digest_never_reaches_podman() {
    a_mismatched_blob_is_refused("podman", b"mismatched on podman\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetched_image_is_the_pushed_one_and_runs() {
    let image = derive_image("fetched", "echo fetched > /f.txt");
    let reg = Registry::plain();
    let target = format!("{}/fetch/app:1", reg.addr());
    run("docker", &["tag", &image.0, &target]);
    run("docker", &["push", &target]);
    run("docker", &["rmi", &target]);
    let outcome = fetch(&target).await.unwrap();
    assert_eq!(
        run(
            "docker",
            &["image", "inspect", "--format", "{{.Id}}", &target]
        )
        .trim(),
        run(
            "docker",
            &["image", "inspect", "--format", "{{.Id}}", &image.0]
        )
        .trim()
    );
    assert!(outcome.reference.ends_with("/fetch/app:1"));
    assert_runs_and_says(&target, "fetched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn podman_pulls_a_fetched_image_itself_and_it_runs() {
    let Some(engine) = TestEngine::for_test("podman") else {
        return;
    };
    let image = derive_image_on(&engine, "fetched", "echo fetched-by-podman > /f.txt");
    let reg = Registry::plain();
    let target = format!("{}/fetch/podman:1", reg.addr());
    engine.push_to_loopback(&image.0, &target);
    let outcome = fetch_on(&engine, &target).await.unwrap();
    // Podman's own pull through the relay, not the archive load.
    assert_eq!(
        outcome.engine_messages,
        vec![format!("Pulled by the engine: {target}")]
    );
    assert_eq!(
        engine.config_digest(&target),
        engine.config_digest(&image.0)
    );
    assert_runs_and_says_on(&engine, &target, "fetched-by-podman");
    let _ = engine.command("docker").args(["rmi", &target]).output();
}
