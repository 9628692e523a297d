//! The export route on every engine: whatever layout the engine writes (Docker 24's, the OCI
//! layout of Docker 25+ with either store, Podman's), the registry gets the engine's image.

use std::sync::Arc;

use slipway_core::push::Route;
use slipway_tests::{anonymous_push, derive_image_on, run, Registry, Scene};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_route_pushes_the_engines_image_on_the_system_engine() {
    export_route("system").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_route_pushes_the_engines_image_on_docker26_containerd_store() {
    export_route("docker26-containerd").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_route_pushes_the_engines_image_on_docker26_overlay2() {
    export_route("docker26-overlay2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_route_pushes_the_engines_image_on_podman() {
    export_route("podman").await;
}

async fn export_route(name: &str) {
    let Some(scene) = Scene::on(name).await else {
        return;
    };
    let (engine, slipway, cache) = scene.parts();
    let image = derive_image_on(engine, "export", "head -c 2000000 /dev/urandom > /x.bin");
    let reg = Registry::plain();
    let target = format!("{}/export/{name}:1", reg.addr());
    let outcome = slipway
        .push(
            anonymous_push(&image.0, &target, Route::Export, cache),
            Arc::new(|_| {}),
        )
        .await
        .unwrap_or_else(|e| panic!("on {name}: {e}"));
    assert_eq!(outcome.route, Route::Export);
    let raw = run(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            "--raw",
            &format!("docker://{target}"),
        ],
    );
    let manifest: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        manifest["config"]["digest"].as_str().unwrap(),
        engine.config_digest(&image.0),
        "on {name}"
    );
    let layers: Vec<&str> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap())
        .collect();
    let pushed: Vec<&str> = outcome.layers.iter().map(|l| l.digest.as_str()).collect();
    assert_eq!(layers, pushed, "on {name}");
    if name == "docker26-containerd" {
        // The containerd store's blobs go as they are, under the engine's own manifest, whose
        // digest is the engine's image id.
        let id = engine.docker(&["image", "inspect", "--format", "{{.Id}}", &image.0]);
        assert_eq!(outcome.digest, id.trim(), "on {name}");
        assert_eq!(outcome.compressed_layers, 0, "on {name}: {outcome:?}");
    }
}
