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
