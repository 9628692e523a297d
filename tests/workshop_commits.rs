//! What a commit of a workshop carries over to its image, on the real engine: never the mark of a
//! workshop, and the base image's CMD unless the commit sets one.

mod engine_cleanup;

use engine_cleanup::Cleanup;
use slipway_core::CommitRequest;
use slipway_tests::{base_image, connect, run, unique};

/// A base image with a CMD of its own (the harness's base has none), named `name`.
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
