//! The workshop's lifecycle on the real engine: after a restart the window asks core which
//! workshops still run, and reattaches to the newest. Only containers whose log this data
//! directory holds count; a stopped workshop or a plain container does not.

mod engine_cleanup;

use std::time::Duration;

use engine_cleanup::Cleanup;
use slipway_core::RunRequest;
use slipway_tests::{base_image, connect, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_workshops_lists_the_live_ones_newest_first() {
    let base = base_image();
    let data = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let mut cleanup = Cleanup::default();

    let older = unique("lifecycle-older");
    let newer = unique("lifecycle-newer");
    let stopped = unique("lifecycle-stopped");
    let plain = unique("lifecycle-plain");
    cleanup
        .containers
        .extend([&older, &newer, &stopped, &plain].map(|n| n.to_string()));

    slipway.run_workshop(&base, Some(&stopped)).await.unwrap();
    slipway.stop(&stopped, 1).await.unwrap();
    slipway.run_workshop(&base, Some(&older)).await.unwrap();
    // The engine dates containers to the second; the newest must be told apart from the other.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    slipway.run_workshop(&base, Some(&newer)).await.unwrap();
    slipway
        .start(&RunRequest {
            image: base.clone(),
            name: Some(plain.clone()),
            cmd: Some(vec!["sleep".into(), "60".into()]),
            ..RunRequest::default()
        })
        .await
        .unwrap();

    // What a restarted window sees: a new Slipway on the same data directory.
    drop(slipway);
    let restarted = connect(data.path()).await;
    let names: Vec<String> = restarted
        .running_workshops()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name.trim_start_matches('/').to_string())
        .collect();
    assert_eq!(names, vec![newer.clone(), older.clone()]);

    // Another data directory holds none of their logs, so it sees no workshop at all.
    let elsewhere = tempfile::tempdir().unwrap();
    let stranger = connect(elsewhere.path()).await;
    let theirs = stranger.running_workshops().await.unwrap();
    assert!(
        theirs
            .iter()
            .all(|c| c.name.trim_start_matches('/') != newer),
        "{theirs:#?}"
    );
}
