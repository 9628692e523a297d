//! A push that is cancelled or fails stops everything it started: no upload keeps running in the
//! background, no temp file stays in the push cache, and the registry is told to drop the upload
//! sessions it was holding.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use slipway_core::push::{PushEvent, Route};
use slipway_tests::{anonymous_push, connect, derive_image, Registry};

fn temp_files(cache: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(cache.join("blobs"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("tmp-"))
                .collect()
        })
        .unwrap_or_default()
}

/// Starts a push of `image` to `target` on `route` and drops it (what a cancel in the window or
/// Ctrl-C does) once its first layer bytes have moved.
async fn cancel_mid_upload(image: &str, target: String, route: Route, data: &Path, cache: &Path) {
    let slipway = connect(data).await;
    let uploading = Arc::new(tokio::sync::Notify::new());
    let seen = uploading.clone();
    let push = slipway.push(
        anonymous_push(image, &target, route, cache),
        Arc::new(move |event| {
            if matches!(event, PushEvent::Uploading { done, .. } if done > 0) {
                seen.notify_one();
            }
        }),
    );
    tokio::select! {
        outcome = push => panic!("the push ended before it could be cancelled: {outcome:?}"),
        _ = uploading.notified() => {}
    }
}

/// Waits up to 5 s for the registry to log a DELETE of an upload session and for `settled`;
/// says whether the DELETE came.
async fn session_deleted(reg: &Registry, settled: impl Fn() -> bool) -> bool {
    let mut abandoned = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        abandoned = reg
            .log()
            .lines()
            .any(|l| l.contains("http.request.method=DELETE") && l.contains("/blobs/uploads/"));
        if abandoned && settled() {
            break;
        }
    }
    abandoned
}

/// Nothing reaches the registry any more: its log stops growing.
async fn assert_quiet(reg: &Registry) {
    let before = reg.log().len();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        reg.log().len(),
        before,
        "requests kept coming after the cancel"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_push_stops_its_uploads_and_leaves_no_temp_files_or_sessions() {
    // Random bytes do not compress: 48 MiB takes several chunked PATCHes, so the push is
    // certainly mid-upload when it is cancelled.
    let image = derive_image("cancel", "head -c 50331648 /dev/urandom > /big.bin");
    let reg = Registry::plain();
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let target = format!("{}/cancel/big:1", reg.addr());
    cancel_mid_upload(&image.0, target, Route::Export, data.path(), cache.path()).await;
    let abandoned = session_deleted(&reg, || temp_files(cache.path()).is_empty()).await;
    assert_eq!(temp_files(cache.path()), Vec::<String>::new());
    // The session is abandoned with a DELETE, as the spec describes. (docker-registry 2.8 cannot
    // honour it when the cancel cut a PATCH in its body: the signed upload state no longer
    // matches the bytes it holds, so it logs "wrong offset" and leaves the files to its upload
    // purger; a session cancelled between PATCHes is removed at once.)
    assert!(
        abandoned,
        "no DELETE for the upload session:\n{}",
        reg.log()
    );
    assert_quiet(&reg).await;
}

/// The engine's route: cancelled while the engine streams a layer through the relay, the push
/// cancels the session the relay holds on the registry, stops forwarding, and takes the relay's
/// temporary name off the image.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_engine_push_leaves_no_session_and_no_temporary_tag() {
    // 48 MiB of random bytes take the engine's one-core gzip about a second.
    let image = derive_image("cancel-engine", "head -c 50331648 /dev/urandom > /big.bin");
    let reg = Registry::plain();
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let target = format!("{}/cancel/engine:1", reg.addr());
    cancel_mid_upload(&image.0, target, Route::Engine, data.path(), cache.path()).await;
    let temporary = || {
        let out = std::process::Command::new("docker")
            .args(["image", "inspect", "-f", "{{json .RepoTags}}", &image.0])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("127.0.0.1:")
    };
    let abandoned = session_deleted(&reg, || !temporary()).await;
    assert!(
        abandoned,
        "no DELETE for the relay's upload session:\n{}",
        reg.log()
    );
    assert!(!temporary(), "the relay's name stayed on {}", image.0);
    assert_quiet(&reg).await;
}

/// A push that fails before anything moves, because nothing answers at the target, leaves no
/// relay name on the image either, though the image was tagged for the engine's push while it
/// was inspected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_to_a_registry_that_does_not_answer_leaves_no_temporary_tag() {
    let image = derive_image("unanswered", "echo hello > /hello.txt");
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let target = format!("127.0.0.1:{}/nobody/app:1", slipway_tests::free_port());
    let failed = slipway
        .push(
            anonymous_push(&image.0, &target, Route::Auto, cache.path()),
            Arc::new(|_| {}),
        )
        .await;
    assert!(failed.is_err(), "nothing answers at {target}: {failed:?}");
    let tags = slipway_tests::run(
        "docker",
        &["image", "inspect", "-f", "{{json .RepoTags}}", &image.0],
    );
    assert!(
        !tags.contains("127.0.0.1:"),
        "the relay's name stayed: {tags}"
    );
}
