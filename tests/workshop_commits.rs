//! What a commit of a workshop carries over to its image, on the real engine: never the mark of a
//! workshop, and the base image's CMD unless the commit sets one (none when the base has none).

mod engine_cleanup;

use engine_cleanup::Cleanup;
use slipway_core::CommitRequest;
use slipway_tests::{base_image, base_image_on, connect, connect_to, run, unique, TestEngine};

/// A base image with a CMD of its own other than the harness base's shell, named `name`.
fn base_with_cmd(name: &str, cleanup: &mut Cleanup) -> String {
    let builder = unique("workshop-commits-base");
    cleanup.containers.push(builder.clone());
    run(
        "docker",
        &["create", "--name", &builder, &base_image(), "true"],
    );
    cleanup.images.push(name.to_string());
    run(
        "docker",
        &[
            "commit",
            "--change",
            r#"CMD ["cat", "/etc/motd"]"#,
            &builder,
            name,
        ],
    );
    name.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_image_is_not_a_workshop() {
    let data = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let mut cleanup = Cleanup::default();

    let name = unique("workshop-commits-label");
    cleanup.containers.push(name.clone());
    let workshop = slipway
        .run_workshop(&base_image(), Some(&name))
        .await
        .unwrap();
    assert!(workshop.workshop, "a workshop is listed as one");

    let reference = format!("slipway-test/{name}:1");
    cleanup.images.push(reference.clone());
    slipway
        .commit(&CommitRequest {
            container: name.clone(),
            reference: Some(reference.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    let labels = run(
        "docker",
        &[
            "image",
            "inspect",
            "--format",
            "{{json .Config.Labels}}",
            &reference,
        ],
    );
    assert!(
        !labels.contains("dev.slipway.workshop"),
        "the committed image carries a workshop label: {labels}"
    );

    // A container run from the committed image is an ordinary container.
    let child = unique("workshop-commits-child");
    cleanup.containers.push(child.clone());
    run(
        "docker",
        &["run", "-d", "--name", &child, &reference, "sleep", "60"],
    );
    let listed = slipway.container(&child).await.unwrap();
    assert!(
        !listed.workshop,
        "a container from a commit is not a workshop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_without_cmd_keeps_the_base_images_cmd() {
    let data = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let mut cleanup = Cleanup::default();
    let base = base_with_cmd(
        &format!("slipway-test/{}:1", unique("cmd-base")),
        &mut cleanup,
    );

    let name = unique("workshop-commits-cmd");
    cleanup.containers.push(name.clone());
    slipway.run_workshop(&base, Some(&name)).await.unwrap();

    let without = format!("slipway-test/{name}:without-cmd");
    let with = format!("slipway-test/{name}:with-cmd");
    cleanup.images.extend([without.clone(), with.clone()]);
    for (reference, changes) in [
        (&without, vec![]),
        (&with, vec![r#"CMD ["echo", "own"]"#.to_string()]),
    ] {
        slipway
            .commit(&CommitRequest {
                container: name.clone(),
                reference: Some(reference.clone()),
                changes,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let cmd = |reference: &str| {
        run(
            "docker",
            &[
                "image",
                "inspect",
                "--format",
                "{{json .Config.Cmd}}",
                reference,
            ],
        )
        .trim()
        .to_string()
    };
    assert_eq!(cmd(&without), r#"["cat","/etc/motd"]"#);
    assert_eq!(cmd(&with), r#"["echo","own"]"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_that_starts_nothing_commits_to_an_image_that_starts_nothing() {
    for name in [
        "system",
        "docker26-containerd",
        "docker26-overlay2",
        "podman",
    ] {
        let Some(engine) = TestEngine::for_test(name) else {
            continue;
        };
        // The harness's base exported and imported again without `-c`: no CMD, no ENTRYPOINT,
        // as a root filesystem made with debootstrap and `docker import` is.
        let builder = engine
            .docker(&["create", &base_image_on(&engine), "true"])
            .trim()
            .to_string();
        let base = format!("localhost/slipway-test/{}:1", unique("bare-base"));
        let imported = engine
            .command("sh")
            .args([
                "-c",
                &format!("docker export {builder} | docker import - {base}"),
            ])
            .output()
            .unwrap();
        engine.docker(&["rm", &builder]);
        assert!(
            imported.status.success(),
            "on {name}: {}",
            String::from_utf8_lossy(&imported.stderr)
        );
        let config = |image: &str| {
            engine
                .docker(&[
                    "image",
                    "inspect",
                    "--format",
                    "{{json .Config.Cmd}} {{json .Config.Entrypoint}}",
                    image,
                ])
                .trim()
                .to_string()
        };
        let nothing = ["null null", "[] null", "null []", "[] []"];
        assert!(
            nothing.contains(&config(&base).as_str()),
            "on {name} the base starts something: {}",
            config(&base)
        );
        let data = tempfile::tempdir().unwrap();
        let slipway = connect_to(&engine, data.path()).await;
        let workshop = slipway.run_workshop(&base, None).await.unwrap();
        let reference = format!("localhost/slipway-test/{}:1", unique("starts-nothing"));
        slipway
            .commit(&CommitRequest {
                container: workshop.id.clone(),
                reference: Some(reference.clone()),
                ..Default::default()
            })
            .await
            .unwrap();
        let committed = config(&reference);
        // Run as the base would be: the engine asks for a command, for both alike.
        let runs = |image: &str| {
            engine
                .command("docker")
                .args(["run", "--rm", image])
                .output()
                .unwrap()
                .status
                .success()
        };
        let (base_runs, committed_runs) = (runs(&base), runs(&reference));
        slipway.remove_container(&workshop.id, true).await.unwrap();
        let _ = engine
            .command("docker")
            .args(["rmi", &reference, &base])
            .output();
        assert!(
            nothing.contains(&committed.as_str()),
            "on {name} the commit of a base with no CMD starts {committed}, not nothing"
        );
        assert_eq!(
            committed_runs, base_runs,
            "on {name} the commit runs without a command where its base does not, or the reverse"
        );
    }
}
