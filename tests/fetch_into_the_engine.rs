//! Fetching an image from a registry into the engine: nothing the registry sends that does not
//! match its manifest ever reaches the engine whole, and what does is an image that runs.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Response, StatusCode, Uri};
use bytes::Bytes;
use slipway_core::registry::RegistryAccess;
use slipway_oci::Digest;
use slipway_tests::{assert_runs_and_says, connect, derive_image, run, Registry};

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

async fn fetch_from(addr: &str) -> slipway_core::Result<slipway_core::fetch::FetchOutcome> {
    fetch(&format!("{addr}/fake/app:1")).await
}

async fn fetch(reference: &str) -> slipway_core::Result<slipway_core::fetch::FetchOutcome> {
    let data = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    slipway
        .fetch(
            reference,
            &RegistryAccess {
                anonymous: true,
                ..Default::default()
            },
            None,
            Arc::new(|_| {}),
        )
        .await
}

fn engine_has(image: &str) -> bool {
    std::process::Command::new("docker")
        .args(["image", "inspect", image])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_longer_than_its_descriptor_never_reaches_the_engine() {
    let layer = layer_tar(b"longer\n");
    let mut longer = layer.to_vec();
    longer.extend_from_slice(&[0x42; 4096]);
    let addr = lying_registry(layer, Bytes::from(longer)).await;
    let err = fetch_from(&addr).await.unwrap_err();
    assert!(
        err.to_string().contains("bytes but its descriptor says"),
        "{err}"
    );
    assert!(!engine_has(&format!("{addr}/fake/app:1")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_that_does_not_match_its_digest_never_reaches_the_engine() {
    let layer = layer_tar(b"mismatched\n");
    let mut other = layer.to_vec();
    other[600] ^= 0xff;
    let addr = lying_registry(layer, Bytes::from(other)).await;
    let err = fetch_from(&addr).await.unwrap_err();
    assert_eq!(err.code(), "digest_mismatch", "{err}");
    assert!(!engine_has(&format!("{addr}/fake/app:1")));
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
