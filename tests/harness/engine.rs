//! The scenarios' side of the real engine: a connected Slipway, images derived from the base
//! image that are removed however the test ends, and the check that an image really runs.

use slipway_core::{ConnectOptions, Slipway};

use crate::{base_image, run, unique};

/// A Slipway connected to the real engine, with its workshop logs in `data_dir`.
pub async fn connect(data_dir: &std::path::Path) -> Slipway {
    Slipway::connect_with(ConnectOptions {
        docker_host: None,
        data_dir: Some(data_dir.to_path_buf()),
    })
    .await
    .expect("the Docker Engine must be running for these tests")
}

/// A local image that is removed when the test ends, passed or failed, so a failing run leaves
/// nothing behind in the engine.
pub struct TempImage(pub String);

impl Drop for TempImage {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rmi", "-f", &self.0])
            .output();
    }
}

/// The base image plus one layer: what `script` (a shell line) leaves behind, committed as
/// `slipway-test/<prefix>-<unique>:1`.
pub fn derive_image(prefix: &str, script: &str) -> TempImage {
    let base = base_image();
    let name = unique(prefix);
    let image = format!("slipway-test/{name}:1");
    run(
        "docker",
        &["run", "--name", &name, &base, "/bin/sh", "-c", script],
    );
    run("docker", &["commit", &name, &image]);
    run("docker", &["rm", "-f", &name]);
    TempImage(image)
}

/// Runs `image` in the engine, checks it echoes `word`, then removes the image: the proof that
/// what was pushed or pulled is a working image.
pub fn assert_runs_and_says(image: &str, word: &str) {
    let echo = format!("echo {word}");
    let said = run("docker", &["run", "--rm", image, "/bin/sh", "-c", &echo]);
    let _ = std::process::Command::new("docker")
        .args(["rmi", "-f", image])
        .output();
    assert_eq!(said.trim(), word);
}
