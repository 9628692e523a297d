//! Replay on the real engine: the successful commands of a busybox workshop run again in a new
//! workshop, one by one, and leave the same files; a command that fails on the new base stops the
//! replay, which says which command it was.

mod engine_cleanup;

use std::sync::Mutex;

use engine_cleanup::Cleanup;
use slipway_core::{CancellationToken, ReplayEvent, Slipway};
use slipway_tests::{base_image, connect, run, unique};

async fn record(slipway: &Slipway, container: &str, command: &str) -> i64 {
    slipway
        .exec_with(container, command, CancellationToken::new(), |_| {})
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_runs_the_successful_commands_on_a_new_workshop() {
    let base = base_image();
    let data = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let mut cleanup = Cleanup::default();

    let source = unique("replay-source");
    cleanup.containers.push(source.clone());
    slipway.run_workshop(&base, Some(&source)).await.unwrap();
    assert_eq!(record(&slipway, &source, "mkdir -p /srv/app").await, 0);
    // A failed attempt is not part of the work, so the replay leaves it out.
    assert_ne!(record(&slipway, &source, "ls /no-such-dir").await, 0);
    assert_eq!(
        record(&slipway, &source, "echo replayed > /srv/app/note.txt").await,
        0
    );

    let events = Mutex::new(Vec::new());
    let outcome = slipway
        .replay(&source, &base, CancellationToken::new(), |e| {
            events.lock().unwrap().push(e)
        })
        .await
        .unwrap();
    let copy = outcome.container.id.clone();
    cleanup.containers.push(copy.clone());
    assert_eq!((outcome.succeeded, outcome.total), (2, 2));
    assert_eq!(outcome.failed, None);
    assert_eq!(
        run("docker", &["exec", &copy, "cat", "/srv/app/note.txt"]),
        "replayed\n"
    );
    let events = events.into_inner().unwrap();
    assert!(
        matches!(&events[0], ReplayEvent::Started { commands: 2, .. }),
        "{events:#?}"
    );
    let ran: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            ReplayEvent::Command { command, .. } => Some(command.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        ran,
        ["mkdir -p /srv/app", "echo replayed > /srv/app/note.txt"]
    );
    // The new workshop's own log holds what ran in it.
    let log = slipway.workshop_log(&copy).await.unwrap();
    assert_eq!(log.entries.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_command_stops_the_replay_and_is_named() {
    let base = base_image();
    let data = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let mut cleanup = Cleanup::default();

    let source = unique("replay-fails");
    cleanup.containers.push(source.clone());
    slipway.run_workshop(&base, Some(&source)).await.unwrap();
    assert_eq!(record(&slipway, &source, "mkdir /made-here").await, 0);
    assert_eq!(record(&slipway, &source, "touch /made-here/one").await, 0);
    assert_eq!(record(&slipway, &source, "touch /made-here/two").await, 0);

    // Run on the new base, `mkdir /made-here` fails when the directory is already there: the
    // replay is started from an image committed from the source, so the first command fails.
    let committed = format!("slipway-test/{}:1", unique("replay-base"));
    cleanup.images.push(committed.clone());
    slipway
        .commit(&slipway_core::CommitRequest {
            container: source.clone(),
            reference: Some(committed.clone()),
            message: None,
            author: None,
            changes: vec![],
            include_log: false,
        })
        .await
        .unwrap();

    let finished = Mutex::new(Vec::new());
    let outcome = slipway
        .replay(&source, &committed, CancellationToken::new(), |e| {
            if let ReplayEvent::Finished { index, exit_code } = e {
                finished.lock().unwrap().push((index, exit_code));
            }
        })
        .await
        .unwrap();
    cleanup.containers.push(outcome.container.id.clone());
    let failed = outcome.failed.expect("the replay stops at the failure");
    assert_eq!(failed.index, 0);
    assert_eq!(failed.command, "mkdir /made-here");
    assert_ne!(failed.exit_code, 0);
    assert_eq!((outcome.succeeded, outcome.total), (0, 3));
    // Nothing after the failure ran.
    assert_eq!(finished.into_inner().unwrap(), [(0, failed.exit_code)]);
    assert_eq!(
        slipway
            .workshop_log(&outcome.container.id)
            .await
            .unwrap()
            .entries
            .len(),
        1
    );
}
