//! The scenarios' side of the real engine: a connected Slipway, images derived from the base
//! image that are removed however the test ends, and the check that an image really runs. Each
//! helper has an `_on` twin taking the [`TestEngine`]; the plain one is the system engine.

use slipway_core::{ConnectOptions, Slipway};

use crate::{base_image_on, unique, TestEngine};

/// A Slipway connected to the system engine, with its workshop logs in `data_dir`.
pub async fn connect(data_dir: &std::path::Path) -> Slipway {
    connect_to(&TestEngine::system(), data_dir).await
}

/// A Slipway connected to `engine` through its `DOCKER_HOST`, as a user would point it there.
pub async fn connect_to(engine: &TestEngine, data_dir: &std::path::Path) -> Slipway {
    Slipway::connect_with(ConnectOptions {
        docker_host: engine.docker_host.clone(),
        data_dir: Some(data_dir.to_path_buf()),
    })
    .await
    .unwrap_or_else(|e| panic!("{} must be running for these tests: {e}", engine.name))
}

/// What a test on one engine starts from: the engine, a Slipway connected to it with a data dir
/// of the test's own, and an empty push cache; both dirs go when the test ends.
pub struct Scene {
    engine: TestEngine,
    slipway: Slipway,
    cache: tempfile::TempDir,
    _data: tempfile::TempDir,
}

impl Scene {
    /// The engine, the Slipway connected to it, and the push cache's dir.
    pub fn parts(&self) -> (&TestEngine, &Slipway, &std::path::Path) {
        (&self.engine, &self.slipway, self.cache.path())
    }

    /// The scene on the engine `name`, or `None` when that engine does not run here (the
    /// reason printed; a run that requires every engine fails instead).
    pub async fn on(name: &str) -> Option<Scene> {
        let engine = TestEngine::for_test(name)?;
        let data = tempfile::tempdir().expect("a temp dir");
        let slipway = connect_to(&engine, data.path()).await;
        Some(Scene {
            engine,
            slipway,
            cache: tempfile::tempdir().expect("a temp dir"),
            _data: data,
        })
    }
}

/// A local image that is removed from its engine when the test ends, passed or failed, so a
/// failing run leaves nothing behind.
pub struct TempImage(pub String, TestEngine);

impl TempImage {
    /// Takes charge of `image`, made (or about to be made) by the test in the system engine.
    pub fn adopt(image: String) -> TempImage {
        TempImage::adopt_on(&TestEngine::system(), image)
    }

    /// Takes charge of `image`, made (or about to be made) by the test in `engine`.
    pub fn adopt_on(engine: &TestEngine, image: String) -> TempImage {
        TempImage(image, engine.clone())
    }
}

impl Drop for TempImage {
    fn drop(&mut self) {
        let _ = self
            .1
            .command("docker")
            .args(["rmi", "-f", &self.0])
            .output();
    }
}

/// A container of the system engine that is removed when the test ends, passed or failed, so a
/// failed run leaves nothing running or listening behind.
pub struct TempContainer(pub String);

impl Drop for TempContainer {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f", &self.0])
            .output();
    }
}

/// The base image plus one layer: what `script` (a shell line) leaves behind, committed as
/// `slipway-test/<prefix>-<unique>:1`, in the system engine.
pub fn derive_image(prefix: &str, script: &str) -> TempImage {
    derive_image_on(&TestEngine::system(), prefix, script)
}

/// [`derive_image`] in `engine`.
pub fn derive_image_on(engine: &TestEngine, prefix: &str, script: &str) -> TempImage {
    derive(engine, &base_image_on(engine), prefix, script)
}

/// `from` plus one layer: what `script` leaves behind, in `engine`.
pub fn derive_image_from_on(engine: &TestEngine, from: &str, script: &str) -> TempImage {
    derive(engine, from, "derived", script)
}

fn derive(engine: &TestEngine, base: &str, prefix: &str, script: &str) -> TempImage {
    let name = unique(prefix);
    let image = format!("slipway-test/{name}:1");
    engine.docker(&["run", "--name", &name, base, "/bin/sh", "-c", script]);
    let image = TempImage(image, engine.clone());
    engine.commit(&name, &image.0);
    engine.docker(&["rm", "-f", &name]);
    image
}

/// Runs `image` in the system engine, checks it echoes `word`, then removes the image: the proof
/// that what was pushed or pulled is a working image.
pub fn assert_runs_and_says(image: &str, word: &str) {
    assert_runs_and_says_on(&TestEngine::system(), image, word)
}

/// [`assert_runs_and_says`] in `engine`.
pub fn assert_runs_and_says_on(engine: &TestEngine, image: &str, word: &str) {
    let echo = format!("echo {word}");
    let said = engine.docker(&["run", "--rm", image, "/bin/sh", "-c", &echo]);
    let _ = engine.command("docker").args(["rmi", "-f", image]).output();
    assert_eq!(said.trim(), word, "on {}", engine.name);
}
