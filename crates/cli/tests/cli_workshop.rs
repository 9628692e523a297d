//! The `slipway` binary itself on the real engine — exit codes, streamed output and
//! error messages as a script sees them.

use std::process::{Command, Output};

use slipway_tests::{base_image, unique};

fn slipway(data_dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(args)
        .env("SLIPWAY_DATA_DIR", data_dir)
        .env_remove("DOCKER_HOST")
        .output()
        .expect("run slipway")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

struct RemoveContainer(String);

impl Drop for RemoveContainer {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

struct RemoveImage(String);

impl Drop for RemoveImage {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "-f", &self.0]).output();
    }
}

#[test]
fn cli_workshop_exec_exit_codes_diff_commit_run() {
    let base = base_image();
    let data = tempfile::tempdir().unwrap();
    let name = unique("issue2-cli");
    let _container = RemoveContainer(name.clone());

    let out = slipway(data.path(), &["run", "--workshop", "--name", &name, &base]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), name);

    let out = slipway(
        data.path(),
        &[
            "exec",
            &name,
            "mkdir -p /opt/app && echo hi > /opt/app/hi.txt && echo done; echo warn >&2",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "done\n");
    assert_eq!(text(&out.stderr), "warn\n");

    let out = slipway(data.path(), &["exec", &name, "exit", "7"]);
    assert_eq!(out.status.code(), Some(7));

    let out = slipway(data.path(), &["diff", &name]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout),
        "C /opt\nA /opt/app\nA /opt/app/hi.txt (3B)\n"
    );

    let reference = format!("127.0.0.1:5000/team/{}:1.0", unique("cli-hello"));
    let _image = RemoveImage(reference.clone());
    let out = slipway(
        data.path(),
        &[
            "commit",
            &name,
            &reference,
            "-m",
            "cli commit",
            "-a",
            "Ada",
            "--change",
            r#"CMD ["cat", "/opt/app/hi.txt"]"#,
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("sha256:"));

    let out = slipway(data.path(), &["run", "--rm", &reference]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hi\n");
    let out = slipway(
        data.path(),
        &["run", "--rm", &reference, "sh", "-c", "exit 3"],
    );
    assert_eq!(out.status.code(), Some(3));

    let out = slipway(data.path(), &["log", &name]);
    let log = text(&out.stdout);
    assert!(
        log.contains("[exit 0]") && log.contains("[exit 7]"),
        "{log}"
    );

    let out = slipway(data.path(), &["--json", "images"]);
    let images: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(images.as_array().unwrap().iter().any(|i| i["tags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == &reference)));
}

#[test]
fn cli_errors_print_the_message_and_exit_non_zero() {
    let data = tempfile::tempdir().unwrap();

    let out = slipway(data.path(), &["--host", "unix:///nonexistent.sock", "ps"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error: no container engine is reachable"),
        "{stderr}"
    );
    assert!(stderr.contains("/nonexistent.sock"), "{stderr}");

    let out = slipway(
        data.path(),
        &["tag", "slipway-test/base:1", "Team/Hello:1.0"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("uppercase letters are not allowed"));

    let out = slipway(
        data.path(),
        &[
            "--json",
            "commit",
            "nobody-here",
            "x:1",
            "--change",
            "WORKDIR rel",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let error: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(error["code"], "invalid_change");

    let missing = unique("issue2-cli-absent");
    let out = slipway(data.path(), &["exec", &missing, "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains(&missing));
}
