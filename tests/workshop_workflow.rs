//! The whole workshop workflow on the real engine — run a container from the offline base
//! image, run commands in it, list what changed, commit it with CMD, ENV, message and author under
//! a registry-style name, run the new image and inspect it; and pull with progress from a real
//! local registry.

mod engine_cleanup;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use engine_cleanup::Cleanup;
use futures_util::StreamExt;
use slipway_core::{
    CancellationToken, ChangeKindDto, CommitRequest, ConsoleEvent, OutputChunk, PullEvent,
    RunRequest, WorkshopLog,
};
use slipway_tests::{base_image, connect, run, unique, Registry};

const HELLO_SCRIPT: &str = "#!/bin/sh\necho \"$GREETING from slipway\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_run_exec_changes_commit_run_inspect() {
    let base = base_image();
    let data = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let mut cleanup = Cleanup::default();

    let status = slipway.status().await.unwrap();
    assert_eq!(status.name, "Docker");
    assert!(!status.version.is_empty() && !status.os.is_empty() && !status.arch.is_empty());

    let name = unique("issue2-workshop");
    cleanup.containers.push(name.clone());
    let workshop = slipway.run_workshop(&base, Some(&name)).await.unwrap();
    assert!(workshop.workshop);
    assert_eq!(workshop.state, "running");

    // Create a script in a new directory and change a file that came with the image.
    let commands = [
        format!(
            "mkdir -p /opt/app && printf '{}' > /opt/app/hello.sh && chmod 755 /opt/app/hello.sh",
            HELLO_SCRIPT.replace('\n', "\\n")
        ),
        "echo 'edited in a workshop' >> /etc/motd".to_string(),
        "cat /opt/app/hello.sh; echo to-stderr >&2".to_string(),
    ];
    let mut stdout = String::new();
    let mut stderr = String::new();
    for command in &commands {
        let code = slipway
            .exec_with(
                &name,
                command,
                CancellationToken::new(),
                |chunk| match chunk {
                    OutputChunk::Stdout(text) => stdout.push_str(text),
                    OutputChunk::Stderr(text) => stderr.push_str(text),
                },
            )
            .await
            .unwrap();
        assert_eq!(code, 0, "`{command}` failed: {stderr}");
    }
    assert_eq!(stdout, HELLO_SCRIPT);
    assert_eq!(stderr, "to-stderr\n");

    // Exactly the paths the commands touched, parents included (that is how the engine reports a
    // new file: its new directory is added and the existing parent changed).
    let changes = slipway.changes(&name).await.unwrap();
    let listed: BTreeSet<(char, String)> = changes
        .iter()
        .map(|c| (c.kind.letter(), c.path.clone()))
        .collect();
    let expected: BTreeSet<(char, String)> = [
        ('C', "/etc"),
        ('C', "/etc/motd"),
        ('C', "/opt"),
        ('A', "/opt/app"),
        ('A', "/opt/app/hello.sh"),
    ]
    .into_iter()
    .map(|(k, p)| (k, p.to_string()))
    .collect();
    assert_eq!(listed, expected, "{changes:#?}");
    let script = changes
        .iter()
        .find(|c| c.path == "/opt/app/hello.sh")
        .unwrap();
    assert_eq!(script.kind, ChangeKindDto::Added);
    assert_eq!(script.size, Some(HELLO_SCRIPT.len() as u64));
    assert!(!script.is_dir);
    assert!(
        changes
            .iter()
            .find(|c| c.path == "/opt/app")
            .unwrap()
            .is_dir
    );
    let motd = changes.iter().find(|c| c.path == "/etc/motd").unwrap();
    assert_eq!(
        motd.size,
        Some(("Slipway test base image\n".len() + "edited in a workshop\n".len()) as u64)
    );

    // Commit under the registry-style name the issue names: the tag a user would push to their
    // `host:5000`. Cleanup removes it, so a rerun starts from the same state.
    let repository = "127.0.0.1:5000/team/hello".to_string();
    let reference = format!("{repository}:1.0");
    cleanup.images.push(reference.clone());
    let outcome = slipway
        .commit(&CommitRequest {
            container: name.clone(),
            reference: Some(reference.clone()),
            message: Some("Add the hello script".to_string()),
            author: Some("Ada Lovelace <ada@example.com>".to_string()),
            changes: vec![
                r#"CMD ["/opt/app/hello.sh"]"#.to_string(),
                "ENV GREETING=hello".to_string(),
            ],
            include_log: true,
        })
        .await
        .unwrap();
    assert!(outcome.image_id.starts_with("sha256:"));

    // A second tag through slipway, as `docker tag` would add.
    let latest = format!("{repository}:latest");
    cleanup.images.push(latest.clone());
    slipway.tag(&reference, &latest).await.unwrap();

    // The new image runs the script with the committed ENV.
    let ran = slipway
        .run(
            &RunRequest {
                image: reference.clone(),
                ..RunRequest::default()
            },
            true,
        )
        .await
        .unwrap();
    assert_eq!(ran.exit_code, 0, "{}", ran.stderr);
    assert_eq!(ran.stdout, "hello from slipway\n");

    let image = slipway.inspect_image(&reference).await.unwrap();
    assert_eq!(image.id, outcome.image_id);
    assert!(image.tags.contains(&reference) && image.tags.contains(&latest));
    assert_eq!(image.author, "Ada Lovelace <ada@example.com>");
    assert_eq!(image.message, "Add the hello script");
    assert_eq!(image.cmd, Some(vec!["/opt/app/hello.sh".to_string()]));
    assert!(
        image.env.contains(&"GREETING=hello".to_string()),
        "{:?}",
        image.env
    );
    assert_eq!(
        image.diff_ids.len(),
        2,
        "base layer plus the workshop's layer"
    );
    assert_eq!(image.history[0].comment, "Add the hello script");

    // The workshop log rides along as a label, and is also on disk.
    let label = image
        .labels
        .get(slipway_core::workshop_log::LOG_LABEL)
        .expect("workshop-log label");
    let log: WorkshopLog = serde_json::from_str(label).unwrap();
    assert_eq!(log.container_id, workshop.id);
    assert_eq!(log.base_image.as_deref(), Some(base.as_str()));
    let logged: Vec<(&str, Option<i64>)> = log
        .entries
        .iter()
        .map(|e| (e.command.as_str(), e.exit_code))
        .collect();
    let wanted: Vec<(&str, Option<i64>)> = commands.iter().map(|c| (c.as_str(), Some(0))).collect();
    assert_eq!(logged, wanted);
    assert!(log.entries.iter().all(|e| e.started <= e.finished));
    let on_disk = data
        .path()
        .join("workshops")
        .join(format!("{}.json", workshop.id));
    assert!(on_disk.exists(), "{} missing", on_disk.display());

    // Removing the image and the workshop through slipway cleans up after itself.
    let removed = slipway.remove_image(&latest, false).await.unwrap();
    assert!(
        removed.iter().any(|line| line.contains(&latest)),
        "{removed:?}"
    );
    slipway.remove_container(&name, true).await.unwrap();
    assert!(!on_disk.exists(), "the log goes with its container");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_output_streams_while_the_command_runs() {
    let base = base_image();
    let data = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let mut cleanup = Cleanup::default();
    let name = unique("issue2-stream");
    cleanup.containers.push(name.clone());
    slipway.run_workshop(&base, Some(&name)).await.unwrap();

    let started = Instant::now();
    let mut stream = Box::pin(
        slipway
            .exec(
                &name,
                "for i in 1 2 3; do echo line$i; sleep 1; done",
                CancellationToken::new(),
            )
            .await
            .unwrap(),
    );
    let mut arrivals = Vec::new();
    let mut exit = None;
    while let Some(event) = stream.next().await {
        match event.unwrap() {
            ConsoleEvent::Output { chunk } => arrivals.push((started.elapsed(), chunk)),
            ConsoleEvent::Exit { code } => exit = Some(code),
        }
    }
    assert_eq!(exit, Some(0));
    assert!(arrivals.len() >= 3, "{arrivals:?}");
    // The first line arrives long before the command ends: the output is streamed, not buffered.
    assert!(
        arrivals[0].0 < Duration::from_millis(1500),
        "first output after {:?}",
        arrivals[0].0
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_with_progress_from_a_local_registry() {
    let base = base_image();
    let data = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let mut cleanup = Cleanup::default();
    let registry = Registry::plain();

    // An image with a layer of its own (2 MiB of random bytes), so that pulling it back really
    // downloads something with byte progress; the base layer stays local and is reported as
    // already there.
    let builder = unique("issue2-pull-src");
    cleanup.containers.push(builder.clone());
    run(
        "docker",
        &[
            "run",
            "--name",
            &builder,
            &base,
            "sh",
            "-c",
            "dd if=/dev/urandom of=/opt/blob bs=1024 count=2048 2>/dev/null",
        ],
    );
    let reference = format!("{}/issue2/{}:1", registry.addr(), unique("pulled"));
    cleanup.images.push(reference.clone());
    run("docker", &["commit", &builder, &reference]);
    run("docker", &["push", &reference]);
    run("docker", &["rmi", &reference]);
    assert!(slipway.inspect_image(&reference).await.is_err());

    let mut events = Vec::new();
    let image = slipway
        .pull_with(&reference, |event| events.push(event.clone()))
        .await
        .unwrap();
    assert!(image.tags.contains(&reference));
    assert_eq!(image.diff_ids.len(), 2);

    let message = |e: &PullEvent| match e {
        PullEvent::Message { text } => Some(text.clone()),
        _ => None,
    };
    assert!(
        events
            .iter()
            .filter_map(message)
            .any(|text| text.starts_with("Pulling from")),
        "the engine announces the repository as an image-wide message: {events:#?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, PullEvent::Done { exists: false, .. })),
        "{events:#?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, PullEvent::Done { exists: true, .. })),
        "the base layer is local: {events:#?}"
    );
    let downloaded: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            PullEvent::Downloading { done, total, .. } => Some((*done, *total)),
            _ => None,
        })
        .collect();
    assert!(
        !downloaded.is_empty(),
        "byte progress for the new layer: {events:#?}"
    );
    for (done, total) in &downloaded {
        assert!(done <= total, "{events:#?}");
    }
    assert!(
        events
            .iter()
            .filter_map(message)
            .any(|text| text.contains("Downloaded newer image")),
        "{events:#?}"
    );

    // A pull of a tag the registry does not have ends in an error, not in a silent "done".
    let missing = format!("{}/issue2/{}:nope", registry.addr(), unique("missing"));
    let error = slipway.pull_with(&missing, |_| {}).await.unwrap_err();
    assert!(
        matches!(error.code(), "not_found" | "engine_error"),
        "{}: {error}",
        error.code()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_streams_a_docker_archive() {
    let base = base_image();
    let data = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;

    let mut stream = Box::pin(slipway.engine().export_image(&base));
    let mut archive = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = stream.next().await {
        archive.extend_from_slice(&chunk.unwrap());
        chunks += 1;
    }
    assert!(chunks > 1, "the archive arrives as a stream of chunks");
    let path = data.path().join("base.tar");
    std::fs::write(&path, &archive).unwrap();
    let listing = run("tar", &["-tf", path.to_str().unwrap()]);
    assert!(listing.lines().any(|l| l == "manifest.json"), "{listing}");
    let manifest = run("tar", &["-xOf", path.to_str().unwrap(), "manifest.json"]);
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(manifest[0]["RepoTags"][0], base.as_str());
    assert_eq!(manifest[0]["Layers"].as_array().unwrap().len(), 1);

    // A missing image fails the stream instead of yielding an empty archive.
    let mut missing = Box::pin(
        slipway
            .engine()
            .export_image(&format!("slipway-test/{}:1", unique("absent"))),
    );
    let first = missing.next().await.expect("one item");
    assert!(first.is_err(), "{first:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_containers_in_every_state_and_dangling_images() {
    let base = base_image();
    let data = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let mut cleanup = Cleanup::default();

    let created = unique("issue2-created");
    cleanup.containers.push(created.clone());
    run("docker", &["create", "--name", &created, &base, "true"]);

    let running = unique("issue2-running");
    cleanup.containers.push(running.clone());
    slipway
        .start(&RunRequest {
            image: base.clone(),
            name: Some(running.clone()),
            cmd: Some(vec![
                "sh".into(),
                "-c".into(),
                "echo one; sleep 1; echo two >&2; sleep 30".into(),
            ]),
            ..RunRequest::default()
        })
        .await
        .unwrap();

    let exited = unique("issue2-exited");
    cleanup.containers.push(exited.clone());
    let outcome = slipway
        .run(
            &RunRequest {
                image: base.clone(),
                name: Some(exited.clone()),
                cmd: Some(vec!["sh".into(), "-c".into(), "echo bye; exit 4".into()]),
                ..RunRequest::default()
            },
            false,
        )
        .await
        .unwrap();
    assert_eq!(outcome.exit_code, 4);
    assert_eq!(outcome.stdout, "bye\n");

    let containers = slipway.containers().await.unwrap();
    let state = |name: &str| {
        containers
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.state.clone())
            .unwrap_or_else(|| panic!("{name} not listed: {containers:#?}"))
    };
    assert_eq!(state(&created), "created");
    assert_eq!(state(&running), "running");
    assert_eq!(state(&exited), "exited");

    // Following the logs of a running container streams both outputs as they are written.
    let mut logs = Box::pin(slipway.logs(&running, true));
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let chunk = tokio::time::timeout(Duration::from_secs(10), logs.next())
            .await
            .expect("log lines within 10 s")
            .expect("an open stream")
            .unwrap();
        seen.push(chunk);
    }
    assert_eq!(
        seen,
        vec![
            OutputChunk::Stdout("one\n".into()),
            OutputChunk::Stderr("two\n".into())
        ]
    );
    drop(logs);
    slipway.stop(&running, 1).await.unwrap();
    slipway.stop(&running, 1).await.unwrap();

    // A commit without a name leaves a dangling image, listed as such and removable by id.
    let outcome = slipway
        .commit(&CommitRequest {
            container: exited.clone(),
            ..CommitRequest::default()
        })
        .await
        .unwrap();
    cleanup.images.push(outcome.image_id.clone());
    let images = slipway.images().await.unwrap();
    let image = images
        .iter()
        .find(|i| i.id == outcome.image_id)
        .expect("the new image is listed");
    assert!(image.dangling && image.tags.is_empty(), "{image:?}");
    assert!(image.size > 0);
    let removed = slipway
        .remove_image(&outcome.image_id, false)
        .await
        .unwrap();
    assert!(
        removed.iter().any(|l| l.contains(&outcome.image_id)),
        "{removed:?}"
    );
}
