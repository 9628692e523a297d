//! The managed local registry falls back to the `registry:2` image through the
//! engine when Debian's binary is missing, and says what to install when neither is there.
//!
//! The binary is installed on the machines that run these tests, so each scenario points the
//! program at a path that does not exist; the image is the offline stand-in from the harness,
//! since `registry:2` cannot be pulled here.

use std::path::Path;

use slipway_core::local_registry::{answers, LocalRegistry, LocalRegistryOptions};
use slipway_core::registry::{self, DeleteScope, RegistryAccess};
use slipway_tests::{base_image, free_port, registry_image, run, unique, TempContainer};

fn options(dir: &Path, image: &str, container_name: &str) -> LocalRegistryOptions {
    LocalRegistryOptions {
        address: format!("127.0.0.1:{}", free_port()),
        data_dir: Some(dir.join("registry")),
        program: dir.join("no-docker-registry-here"),
        image: image.to_string(),
        container_name: container_name.to_string(),
        docker_host: None,
    }
}

fn container_exists(name: &str) -> bool {
    std::process::Command::new("docker")
        .args(["container", "inspect", name])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_registry_falls_back_to_the_image_through_the_engine() {
    let image = registry_image();
    let base = base_image();
    let dir = tempfile::tempdir().unwrap();
    let name = unique("slipway-test-local-registry");
    let _cleanup = TempContainer(name.clone());
    let opts = options(dir.path(), &image, &name);
    let address = opts.address.clone();
    let reg = LocalRegistry::with_options(opts.clone());

    let before = reg.status().await;
    assert!(
        before.available && !before.running && !before.answering,
        "{before:?}"
    );
    assert!(before.backend.contains(&image), "{before:?}");
    assert_eq!(before.hint, None);

    let running = reg.start().await.unwrap();
    assert!(
        running.running && running.managed && running.answering,
        "{running:?}"
    );
    assert!(answers(&address).await);

    // Published on loopback only, data bind-mounted, no restart policy.
    let port = address.rsplit(':').next().unwrap();
    let bindings = run(
        "docker",
        &[
            "inspect",
            "--format",
            "{{json .HostConfig.PortBindings}}",
            &name,
        ],
    );
    assert!(
        bindings.contains(r#""HostIp":"127.0.0.1""#)
            && bindings.contains(&format!(r#""HostPort":"{port}""#))
            && bindings.contains("5000/tcp"),
        "{bindings}"
    );
    let restart = run(
        "docker",
        &[
            "inspect",
            "--format",
            "{{.HostConfig.RestartPolicy.Name}}",
            &name,
        ],
    );
    assert!(matches!(restart.trim(), "" | "no"), "{restart}");

    // The image's own config keeps deletes off; the environment Slipway sets turns them on.
    let access = RegistryAccess {
        anonymous: true,
        ..Default::default()
    };
    let caps = registry::probe(&address, &access).await.unwrap();
    assert_eq!(caps.delete, Some(true), "{caps:?}");

    // The engine pushes to it (a loopback registry needs no TLS), and the data lands in the
    // user's directory, not in the container.
    let pushed = format!("{address}/issue4/fallback:1");
    run("docker", &["tag", &base, &pushed]);
    run("docker", &["push", &pushed]);
    let _ = run("docker", &["rmi", &pushed]);
    let repo_dir = dir
        .path()
        .join("registry/storage/docker/registry/v2/repositories/issue4/fallback");
    assert!(repo_dir.is_dir(), "{} is missing", repo_dir.display());

    // A second handle (the app started again) recognises the running container as its own.
    let again = LocalRegistry::with_options(opts.clone()).status().await;
    assert!(again.running && again.managed, "{again:?}");

    registry::delete(&pushed, &access, DeleteScope::Tag)
        .await
        .unwrap();

    let stopped = reg.stop().await;
    assert!(!stopped.running && !stopped.answering, "{stopped:?}");
    assert!(!container_exists(&name), "the container is removed on stop");
    assert!(repo_dir.is_dir(), "the data outlives the container");

    // Start works again after stop, on the same data.
    let restarted = reg.start().await.unwrap();
    assert!(restarted.running, "{restarted:?}");
    let stopped = reg.stop().await;
    assert!(!stopped.running && !container_exists(&name), "{stopped:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_registry_without_binary_or_image_says_what_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let missing = "slipway-test/no-such-registry:2";
    let name = unique("slipway-test-never-created");
    let reg = LocalRegistry::with_options(options(dir.path(), missing, &name));

    let st = reg.status().await;
    assert!(!st.available && !st.running, "{st:?}");
    let hint = st.hint.expect("a hint when nothing can run the registry");
    assert!(hint.contains("apt-get install docker-registry"), "{hint}");
    assert!(
        hint.contains(&format!("the engine has no {missing} image")),
        "{hint}"
    );

    let err = reg.start().await.unwrap_err();
    assert_eq!(err.code(), "registry_backend_missing");
    assert!(err.to_string().contains("docker load"), "{err}");
    assert!(!container_exists(&name));
    // Slipway never pulls the image: it is still not in the engine.
    let inspect = std::process::Command::new("docker")
        .args(["image", "inspect", missing])
        .output()
        .unwrap();
    assert!(!inspect.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_registry_leaves_a_foreign_container_with_its_name_alone() {
    let image = registry_image();
    let base = base_image();
    let dir = tempfile::tempdir().unwrap();
    let name = unique("slipway-test-foreign");
    let _cleanup = TempContainer(name.clone());
    run("docker", &["create", "--name", &name, &base, "sleep", "60"]);
    let reg = LocalRegistry::with_options(options(dir.path(), &image, &name));
    let err = reg.start().await.unwrap_err();
    assert_eq!(err.code(), "registry_start_failed");
    assert!(err.to_string().contains("did not create"), "{err}");
    let _ = reg.stop().await;
    assert!(
        container_exists(&name),
        "someone else's container is not removed"
    );
}
