//! The failure paths on the real engine — an unreachable engine, invalid names, tags and
//! changes (refused before the engine is asked), missing images and containers, a failing
//! command's exit code, and cancelling a running command.

mod engine_cleanup;

use std::time::{Duration, Instant};

use engine_cleanup::Cleanup;
use futures_util::StreamExt;
use slipway_core::{
    CancellationToken, CommitRequest, ConnectOptions, ConsoleEvent, Error, OutputChunk, RunRequest,
    Slipway,
};
use slipway_tests::{base_image, connect, unique};

#[tokio::test]
async fn engine_unreachable_names_the_place_and_the_fix() {
    let error = Slipway::connect_with(ConnectOptions {
        docker_host: Some("unix:///nonexistent.sock".to_string()),
        data_dir: None,
    })
    .await
    .unwrap_err();
    assert_eq!(error.code(), "engine_unreachable");
    let message = error.to_string();
    for needle in [
        "/nonexistent.sock",
        "DOCKER_HOST",
        "start the engine",
        "docker group",
    ] {
        assert!(
            message.contains(needle),
            "`{needle}` missing from: {message}"
        );
    }
    let dto = slipway_core::ErrorDto::from(&error);
    assert_eq!(dto.code, "engine_unreachable");

    // A tcp:// host where nothing listens fails the same way, promptly.
    let started = Instant::now();
    let error = Slipway::connect_with(ConnectOptions {
        docker_host: Some(format!("tcp://127.0.0.1:{}", slipway_tests::free_port())),
        data_dir: None,
    })
    .await
    .unwrap_err();
    assert_eq!(error.code(), "engine_unreachable", "{error}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn invalid_names_tags_and_changes_are_refused_before_the_engine() {
    let data = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;

    let error = slipway
        .pull("127.0.0.1:5000/Team/hello:1.0")
        .err()
        .expect("uppercase refused");
    assert_eq!(error.code(), "invalid_reference");
    assert!(
        error
            .to_string()
            .contains("uppercase letters are not allowed"),
        "{error}"
    );

    for bad in [
        "team/hello:-1.0",
        "team//hello",
        "team/hello:",
        "team/hello world",
        "-team/hello",
    ] {
        let error = slipway.tag("slipway-test/base:1", bad).await.unwrap_err();
        assert_eq!(error.code(), "invalid_reference", "{bad}: {error}");
    }
    let long_tag = format!("team/hello:{}", "a".repeat(129));
    let error = slipway
        .tag("slipway-test/base:1", &long_tag)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("128"), "{error}");

    // Validation comes first: the container does not even exist, yet the error is about the name
    // or the change, not "no such container".
    let commit = |reference: &str, change: &str| CommitRequest {
        container: "issue2-no-such-container".to_string(),
        reference: Some(reference.to_string()),
        changes: vec![change.to_string()],
        ..CommitRequest::default()
    };
    let error = slipway
        .commit(&commit("127.0.0.1:5000/TEAM/hello:1.0", "CMD true"))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "invalid_reference");
    for bad_change in [
        "CMD ['python3', 'app.py']",
        "ENV GREETING",
        "EXPOSE 70000",
        "WORKDIR relative/dir",
        "RUN apt-get install python3",
        "USER two words",
    ] {
        let error = slipway
            .commit(&commit("127.0.0.1:5000/team/hello:1.0", bad_change))
            .await
            .unwrap_err();
        assert_eq!(error.code(), "invalid_change", "{bad_change}: {error}");
    }

    let error = slipway
        .start(&RunRequest {
            image: "slipway-test/base:1".to_string(),
            name: Some("/bad name".to_string()),
            ..RunRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), "invalid_input", "{error}");
}

#[tokio::test]
async fn missing_image_and_container_are_not_found() {
    let data = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let missing_image = format!("slipway-test/{}:1", unique("absent"));
    let missing_container = unique("issue2-absent");

    let error = slipway.inspect_image(&missing_image).await.unwrap_err();
    assert_eq!(error.code(), "not_found", "{error}");
    // Core's message names no front end's commands; the CLI and the window add their own hint
    // for the code.
    assert!(!error.to_string().contains("slipway "), "{error}");
    let error = slipway
        .remove_image(&missing_image, false)
        .await
        .unwrap_err();
    assert_eq!(error.code(), "not_found", "{error}");
    let error = slipway
        .run_workshop(&missing_image, None)
        .await
        .unwrap_err();
    assert_eq!(error.code(), "not_found", "{error}");

    let error = slipway
        .exec(&missing_container, "true", CancellationToken::new())
        .await
        .err()
        .expect("no such container");
    assert_eq!(error.code(), "not_found", "{error}");
    assert!(error.to_string().contains(&missing_container), "{error}");
    assert!(!error.to_string().contains("slipway "), "{error}");
    let error = slipway.changes(&missing_container).await.unwrap_err();
    assert_eq!(error.code(), "not_found", "{error}");
    let error = slipway
        .commit(&CommitRequest {
            container: missing_container.clone(),
            ..CommitRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), "not_found", "{error}");
    let error = slipway
        .remove_container(&missing_container, true)
        .await
        .unwrap_err();
    assert_eq!(error.code(), "not_found", "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_command_reports_its_exit_code() {
    let base = base_image();
    let data = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let mut cleanup = Cleanup::default();
    let name = unique("issue2-fail");
    cleanup.containers.push(name.clone());
    slipway.run_workshop(&base, Some(&name)).await.unwrap();

    let mut stderr = String::new();
    let code = slipway
        .exec_with(
            &name,
            "echo broken >&2; exit 42",
            CancellationToken::new(),
            |chunk| {
                if let OutputChunk::Stderr(text) = chunk {
                    stderr.push_str(text);
                }
            },
        )
        .await
        .unwrap();
    assert_eq!(code, 42);
    assert_eq!(stderr, "broken\n");
    let code = slipway
        .exec_with(&name, "no-such-program", CancellationToken::new(), |_| {})
        .await
        .unwrap();
    assert_eq!(code, 127);

    let log = slipway.workshop_log(&name).await.unwrap();
    let codes: Vec<Option<i64>> = log.entries.iter().map(|e| e.exit_code).collect();
    assert_eq!(codes, vec![Some(42), Some(127)]);

    // A stopped container is refused with a message that says so.
    slipway.stop(&name, 1).await.unwrap();
    let error = slipway
        .exec(&name, "true", CancellationToken::new())
        .await
        .err()
        .expect("stopped");
    assert_eq!(error.code(), "conflict", "{error}");
    assert!(error.to_string().contains("not running"), "{error}");
}

/// True while a `sleep` runs in the container (the base image has `ps` and `awk` but no `pgrep`).
async fn sleep_is_running(slipway: &Slipway, container: &str) -> bool {
    let (code, _, _) = slipway
        .engine()
        .exec_collect(container, "ps | awk '$3 == \"sleep\"' | grep -q .")
        .await
        .unwrap();
    code == 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_kills_a_running_command_promptly() {
    let base = base_image();
    let data = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let mut cleanup = Cleanup::default();
    let name = unique("issue2-cancel");
    cleanup.containers.push(name.clone());
    slipway.run_workshop(&base, Some(&name)).await.unwrap();

    let cancel = CancellationToken::new();
    let mut stream = Box::pin(
        slipway
            .exec(&name, "echo started; sleep 30; echo never", cancel.clone())
            .await
            .unwrap(),
    );
    match stream.next().await {
        Some(Ok(ConsoleEvent::Output {
            chunk: OutputChunk::Stdout(text),
        })) => assert_eq!(text, "started\n"),
        other => panic!("expected the first line, got {other:?}"),
    }
    assert!(sleep_is_running(&slipway, &name).await);

    let cancelled_at = Instant::now();
    cancel.cancel();
    let mut rest = Vec::new();
    while let Some(event) = stream.next().await {
        rest.push(event);
    }
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(5),
        "cancel took {:?}",
        cancelled_at.elapsed()
    );
    assert!(
        matches!(rest.as_slice(), [Err(Error::Cancelled)]),
        "{rest:?}"
    );
    assert!(!sleep_is_running(&slipway, &name).await, "sleep survived");

    let log = slipway.workshop_log(&name).await.unwrap();
    assert_eq!(log.entries.len(), 1);
    assert!(log.entries[0].cancelled);
    assert_eq!(log.entries[0].exit_code, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_stream_kills_the_command() {
    let base = base_image();
    let data = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let mut cleanup = Cleanup::default();
    let name = unique("issue2-drop");
    cleanup.containers.push(name.clone());
    slipway.run_workshop(&base, Some(&name)).await.unwrap();

    let mut stream = Box::pin(
        slipway
            .exec(&name, "echo started; sleep 30", CancellationToken::new())
            .await
            .unwrap(),
    );
    assert!(stream.next().await.is_some());
    assert!(sleep_is_running(&slipway, &name).await);
    drop(stream);

    let deadline = Instant::now() + Duration::from_secs(5);
    while sleep_is_running(&slipway, &name).await {
        assert!(
            Instant::now() < deadline,
            "sleep survived the dropped stream"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The abandoned command is still in the workshop log, as cancelled.
    let log = slipway.workshop_log(&name).await.unwrap();
    assert_eq!(log.entries.len(), 1, "{log:?}");
    assert!(log.entries[0].cancelled && log.entries[0].exit_code.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_right_after_start_still_kills_the_command() {
    let base = base_image();
    let data = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let mut cleanup = Cleanup::default();
    let name = unique("issue2-cancel-early");
    cleanup.containers.push(name.clone());
    slipway.run_workshop(&base, Some(&name)).await.unwrap();

    // Cancelled before the command can have printed anything: the kill may race the command's
    // start, and must still end it.
    let cancel = CancellationToken::new();
    let mut stream = Box::pin(
        slipway
            .exec(&name, "sleep 30", cancel.clone())
            .await
            .unwrap(),
    );
    cancel.cancel();
    let started = Instant::now();
    let mut last = None;
    while let Some(event) = stream.next().await {
        last = Some(event);
    }
    assert!(matches!(last, Some(Err(Error::Cancelled))), "{last:?}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert!(!sleep_is_running(&slipway, &name).await, "sleep survived");
}
