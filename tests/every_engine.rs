//! The whole workshop-to-registry workflow on every engine a user may have: the system engine
//! (Docker 20.10), Docker 26.1 with the containerd image store and with overlay2, and Podman 4.3
//! through its Docker-compatible socket (see `scripts/engines`). One test per engine, so a failure
//! names the engine; an engine that is not running is skipped with the reason printed.
//!
//! Each runs, through slipway-core: a workshop container, commands in it, its changes, a commit
//! with a CMD, a push to the reference registry on loopback, `skopeo inspect` of what arrived (the
//! engine's own config digest and diff_ids), a fetch back into the engine and a run of it, and a
//! pull of the pushed image by the engine itself and a run of that. Then a small second commit on
//! top, pushed again, with the same checks and the first layers not sent twice.

use std::collections::BTreeSet;
use std::sync::Arc;

use slipway_core::push::{How, PushOutcome, PushRequest};
use slipway_core::registry::RegistryAccess;
use slipway_core::{CancellationToken, CommitRequest, OutputChunk, RunRequest, Slipway};
use slipway_oci::Digest;
use slipway_tests::{
    anonymous_fetch, base_image_on, connect_to, relay_port, run, unique, EngineKind, ImageStore,
    Registry, TestEngine,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workshop_to_registry_and_back_on_the_system_engine() {
    workshop_to_registry_and_back("system").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workshop_to_registry_and_back_on_docker26_containerd_store() {
    workshop_to_registry_and_back("docker26-containerd").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workshop_to_registry_and_back_on_docker26_overlay2() {
    workshop_to_registry_and_back("docker26-overlay2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workshop_to_registry_and_back_on_podman() {
    workshop_to_registry_and_back("podman").await;
}

const HELLO: &str = "#!/bin/sh\necho hello from slipway\n";

async fn workshop_to_registry_and_back(name: &str) {
    let Some(engine) = TestEngine::for_test(name) else {
        return;
    };
    let base = base_image_on(&engine);
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let slipway = connect_to(&engine, data.path()).await;
    let mut leftovers = Leftovers::on(&engine);

    let status = slipway.status().await.unwrap();
    let expected_kind = match engine.kind {
        EngineKind::Docker => "Docker",
        EngineKind::Podman => "Podman",
    };
    assert_eq!(status.name, expected_kind, "on {name}: {status:?}");

    let registry = Registry::plain();
    let repository = format!("{}/every-engine/{name}", registry.addr());

    // First commit: a script in a new directory, a changed file from the image, a CMD.
    let first = format!("slipway-test/{}:1", unique("every-engine"));
    workshop_commit(
        &slipway,
        &engine,
        &mut leftovers,
        &base,
        &[
            format!(
                "mkdir -p /opt/app && printf '{}' > /opt/app/hello.sh && chmod 755 /opt/app/hello.sh",
                HELLO.replace('\n', "\\n")
            ),
            "echo 'edited in a workshop' >> /etc/motd".to_string(),
        ],
        &[
            ('C', "/etc"),
            ('C', "/etc/motd"),
            ('C', "/opt"),
            ('A', "/opt/app"),
            ('A', "/opt/app/hello.sh"),
        ],
        r#"CMD ["/opt/app/hello.sh"]"#,
        &first,
    )
    .await;
    let pushed = push_and_verify(
        &slipway,
        &engine,
        &mut leftovers,
        &registry,
        &first,
        &format!("{repository}:1"),
        cache.path(),
        "hello from slipway\n",
    )
    .await;
    assert!(pushed.uploaded_bytes > 0, "on {name}: {pushed:?}");

    // Incremental: a small commit on top of the first, pushed to the same repository. Only the new
    // layer is sent; the others are already in the registry.
    let second = format!("slipway-test/{}:2", unique("every-engine"));
    workshop_commit(
        &slipway,
        &engine,
        &mut leftovers,
        &first,
        &["echo 'second commit' > /opt/app/motto".to_string()],
        &[('C', "/opt"), ('C', "/opt/app"), ('A', "/opt/app/motto")],
        r#"CMD ["/bin/cat", "/opt/app/motto"]"#,
        &second,
    )
    .await;
    let again = push_and_verify(
        &slipway,
        &engine,
        &mut leftovers,
        &registry,
        &second,
        &format!("{repository}:2"),
        cache.path(),
        "second commit\n",
    )
    .await;
    let (new_layer, shared) = again.layers.split_last().unwrap();
    assert_eq!(shared.len(), pushed.layers.len(), "on {name}: {again:?}");
    assert!(
        shared.iter().all(|l| l.how != How::Uploaded),
        "on {name}, the layers of the first push were sent again: {again:?}"
    );
    assert_eq!(new_layer.how, How::Uploaded, "on {name}: {again:?}");
    assert_eq!(again.uploaded_bytes, new_layer.size, "on {name}: {again:?}");
}

/// Runs a workshop from `from`, runs `commands` in it, checks its changes list exactly `changed`
/// (kind letter, path), and commits it as `reference` with `cmd`.
#[allow(clippy::too_many_arguments)]
async fn workshop_commit(
    slipway: &Slipway,
    engine: &TestEngine,
    leftovers: &mut Leftovers,
    from: &str,
    commands: &[String],
    changed: &[(char, &str)],
    cmd: &str,
    reference: &str,
) {
    let name = engine.name;
    let workshop = unique("every-engine-workshop");
    leftovers.containers.push(workshop.clone());
    let container = slipway
        .run_workshop(from, Some(&workshop))
        .await
        .unwrap_or_else(|e| panic!("on {name}, the workshop did not start: {e}"));
    assert_eq!(container.state, "running", "on {name}");

    for command in commands {
        let mut stderr = String::new();
        let code = slipway
            .exec_with(&workshop, command, CancellationToken::new(), |chunk| {
                if let OutputChunk::Stderr(text) = chunk {
                    stderr.push_str(text)
                }
            })
            .await
            .unwrap_or_else(|e| panic!("on {name}, exec `{command}`: {e}"));
        assert_eq!(code, 0, "on {name}, `{command}` failed: {stderr}");
    }

    let changes = slipway.changes(&workshop).await.unwrap();
    let listed: BTreeSet<(char, String)> = changes
        .iter()
        .map(|c| (c.kind.letter(), c.path.clone()))
        // Podman lists the files it mounts into every container as changed /etc entries.
        .filter(|(_, path)| {
            engine.kind != EngineKind::Podman || !PODMAN_MOUNTED.contains(&path.as_str())
        })
        .collect();
    let expected: BTreeSet<(char, String)> =
        changed.iter().map(|(k, p)| (*k, p.to_string())).collect();
    assert_eq!(listed, expected, "on {name}: {changes:#?}");

    leftovers.images.push(reference.to_string());
    let outcome = slipway
        .commit(&CommitRequest {
            container: workshop.clone(),
            reference: Some(reference.to_string()),
            message: Some(format!("every-engine commit of {reference}")),
            author: None,
            changes: vec![cmd.to_string()],
            include_log: false,
        })
        .await
        .unwrap_or_else(|e| panic!("on {name}, commit: {e}"));
    // Docker answers `sha256:<hex>`, Podman's compatible socket the bare hex: either names the
    // image the reference now points at.
    let committed = slipway.inspect_image(reference).await.unwrap();
    assert!(
        !outcome.image_id.is_empty() && committed.id.ends_with(&outcome.image_id),
        "on {name}: commit said {}, the reference is {}",
        outcome.image_id,
        committed.id
    );
    let wanted_cmd: Vec<String> = serde_json::from_str(cmd.trim_start_matches("CMD ")).unwrap();
    assert_eq!(
        committed.cmd,
        Some(wanted_cmd),
        "on {name}, the commit did not apply `{cmd}`"
    );
    slipway.remove_container(&workshop, true).await.unwrap();
}

/// What Podman bind-mounts into each container and then reports in its changes.
const PODMAN_MOUNTED: &[&str] = &["/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/run"];

/// Pushes `image` to `target` with Slipway, then checks the registry holds the engine's image,
/// that Slipway's fetch brings it back into the engine and it runs saying `says`, and that the
/// engine's own pull of it runs the same.
#[allow(clippy::too_many_arguments)]
async fn push_and_verify(
    slipway: &Slipway,
    engine: &TestEngine,
    leftovers: &mut Leftovers,
    registry: &Registry,
    image: &str,
    target: &str,
    cache: &std::path::Path,
    says: &str,
) -> PushOutcome {
    let name = engine.name;
    let config_digest = engine.config_digest(image);
    let diff_ids = engine.diff_ids(image);
    let image_id = slipway.inspect_image(image).await.unwrap().id;
    match engine.store {
        // Classic stores name an image by its config digest.
        ImageStore::Classic => assert_eq!(image_id, config_digest, "on {name}"),
        // The containerd store names it by its manifest's digest.
        ImageStore::Containerd => assert_ne!(image_id, config_digest, "on {name}"),
    }

    let port = relay_port().await;
    let pushed = slipway
        .push(
            PushRequest {
                image: image.to_string(),
                target: target.to_string(),
                access: anonymous(),
                cache_dir: Some(cache.to_path_buf()),
                ..Default::default()
            },
            Arc::new(|_| {}),
        )
        .await
        .unwrap_or_else(|e| panic!("on {name}, push {image} -> {target} failed: {e}"));
    drop(port);
    leftovers.images.push(target.to_string());

    // The registry holds the engine's image: its config, byte for byte, and its layers' diff_ids.
    let manifest = skopeo(&["inspect", "--tls-verify=false", "--raw"], target);
    assert_eq!(
        Digest::sha256_of(manifest.as_bytes()).to_string(),
        pushed.digest,
        "on {name}: {}",
        registry.log()
    );
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(
        manifest["config"]["digest"], config_digest,
        "on {name}, the pushed config is not the engine's"
    );
    let config = skopeo(
        &["inspect", "--tls-verify=false", "--config", "--raw"],
        target,
    );
    assert_eq!(
        Digest::sha256_of(config.as_bytes()).to_string(),
        config_digest,
        "on {name}"
    );
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    let pushed_diff_ids: Vec<String> =
        serde_json::from_value(config["rootfs"]["diff_ids"].clone()).unwrap();
    assert_eq!(pushed_diff_ids, diff_ids, "on {name}");
    assert_eq!(
        manifest["layers"].as_array().map(Vec::len),
        Some(diff_ids.len()),
        "on {name}: {manifest}"
    );

    // Slipway's fetch brings the same image back into the engine, and it runs.
    let port = relay_port().await;
    let fetched = slipway
        .fetch(anonymous_fetch(target, cache), Arc::new(|_| {}))
        .await
        .unwrap_or_else(|e| panic!("on {name}, fetch {target} failed: {e}"));
    drop(port);
    assert_eq!(fetched.digest, pushed.digest, "on {name}");
    assert_eq!(engine.config_digest(target), config_digest, "on {name}");
    assert_eq!(runs_and_prints(slipway, target).await, says, "on {name}");

    // The engine's own pull of what Slipway pushed gives the same image, and it runs.
    engine.docker(&["rmi", target]);
    engine.pull_from_loopback(target);
    assert_eq!(engine.config_digest(target), config_digest, "on {name}");
    assert_eq!(runs_and_prints(slipway, target).await, says, "on {name}");
    pushed
}

/// Runs `image`'s CMD to completion and returns its stdout.
async fn runs_and_prints(slipway: &Slipway, image: &str) -> String {
    let ran = slipway
        .run(
            &RunRequest {
                image: image.to_string(),
                ..RunRequest::default()
            },
            true,
        )
        .await
        .unwrap_or_else(|e| panic!("run {image}: {e}"));
    assert_eq!(ran.exit_code, 0, "run {image}: {}", ran.stderr);
    ran.stdout
}

fn skopeo(args: &[&str], reference: &str) -> String {
    let transport = format!("docker://{reference}");
    let mut all = args.to_vec();
    all.push(&transport);
    run("skopeo", &all)
}

fn anonymous() -> RegistryAccess {
    RegistryAccess {
        anonymous: true,
        ..Default::default()
    }
}

/// Containers and images a scenario created in its engine, removed however it ends.
struct Leftovers {
    engine: TestEngine,
    containers: Vec<String>,
    images: Vec<String>,
}

impl Leftovers {
    fn on(engine: &TestEngine) -> Leftovers {
        Leftovers {
            engine: engine.clone(),
            containers: Vec::new(),
            images: Vec::new(),
        }
    }
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        for container in &self.containers {
            let _ = self
                .engine
                .command("docker")
                .args(["rm", "-f", container])
                .output();
        }
        for image in self.images.iter().rev() {
            let _ = self
                .engine
                .command("docker")
                .args(["rmi", "-f", image])
                .output();
        }
    }
}
