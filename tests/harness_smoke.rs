//! The harness itself works: the offline base image runs and the registry answers.

#[test]
fn base_image_runs_a_shell() {
    let image = slipway_tests::base_image();
    let out = slipway_tests::run("docker", &["run", "--rm", &image, "sh", "-c", "echo ok"]);
    assert_eq!(out.trim(), "ok");
}

#[test]
fn plain_registry_answers_v2() {
    let registry = slipway_tests::Registry::plain();
    let body = std::process::Command::new("skopeo")
        .args([
            "list-tags",
            "--tls-verify=false",
            &format!("docker://{}/none", registry.addr()),
        ])
        .output()
        .expect("skopeo");
    // An empty registry answers NAME_UNKNOWN for a repository it does not have, which proves the
    // registry is up and speaking the distribution API.
    let stderr = String::from_utf8_lossy(&body.stderr);
    assert!(
        stderr.contains("404") || stderr.contains("name unknown"),
        "{stderr}"
    );
}

/// Every engine that answers gets the offline base image and runs it; one that does not answer
/// is reported with what to do, not with a confusing failure later.
#[test]
fn base_image_runs_on_every_running_engine() {
    for engine in slipway_tests::TestEngine::all() {
        if let Some(reason) = engine.unavailable_because() {
            eprintln!("skipped on {}: {reason}", engine.name);
            continue;
        }
        let image = slipway_tests::base_image_on(&engine);
        let out = engine.docker(&["run", "--rm", &image, "sh", "-c", "echo ok"]);
        assert_eq!(out.trim(), "ok", "on {}", engine.name);
    }
}

#[test]
fn an_engine_without_a_socket_is_skipped_with_how_to_start_it() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("api.sock");
    let engine = slipway_tests::TestEngine {
        docker_host: Some(format!("unix://{}", socket.display())),
        ..slipway_tests::TestEngine::named("podman")
    };
    let reason = engine.unavailable_because().expect("no engine there");
    assert!(
        reason.contains(&format!("no socket at {}", socket.display()))
            && reason.contains("scripts/engines start"),
        "{reason}"
    );
}
