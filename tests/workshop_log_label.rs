//! The workshop log goes into a committed image only when the commit asks for it, and then without
//! the values of secrets typed at the console; the preview shows exactly what is stored. Against
//! the real engine.

use slipway_core::workshop_log::LOG_LABEL;
use slipway_core::{CancellationToken, CommitRequest};
use slipway_tests::{base_image, connect, unique, TempImage};

/// Removes the workshop container however the test ends.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f", &self.0])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workshop_log_is_stored_only_when_asked_and_without_secrets() {
    let base = base_image();
    let data = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let workshop = Container(unique("log-label"));
    slipway
        .run_workshop(&base, Some(&workshop.0))
        .await
        .unwrap();
    for command in [
        "export API_TOKEN=s3cr3t-value; echo configured",
        "wget -q -O /dev/null https://ada:pa55word@git.invalid/x || true",
        "echo done",
    ] {
        slipway
            .exec_with(&workshop.0, command, CancellationToken::new(), |_| {})
            .await
            .unwrap();
    }

    let without = TempImage::adopt(format!("slipway-test/{}:1", unique("nolog")));
    slipway
        .commit(&CommitRequest {
            container: workshop.0.clone(),
            reference: Some(without.0.clone()),
            ..CommitRequest::default()
        })
        .await
        .unwrap();
    let image = slipway.inspect_image(&without.0).await.unwrap();
    assert!(
        !image.labels.contains_key(LOG_LABEL),
        "stored without being asked: {:?}",
        image.labels
    );

    let with = TempImage::adopt(format!("slipway-test/{}:1", unique("withlog")));
    slipway
        .commit(&CommitRequest {
            container: workshop.0.clone(),
            reference: Some(with.0.clone()),
            include_log: true,
            ..CommitRequest::default()
        })
        .await
        .unwrap();
    let image = slipway.inspect_image(&with.0).await.unwrap();
    let label = image.labels.get(LOG_LABEL).expect("the log label");
    assert!(label.contains("echo done"), "{label}");
    assert!(label.contains("API_TOKEN=***"), "{label}");
    assert!(
        !label.contains("s3cr3t-value") && !label.contains("pa55word"),
        "{label}"
    );
    assert_eq!(
        &slipway.workshop_log_label(&workshop.0).await.unwrap(),
        label,
        "the preview is what the commit stores"
    );
}
