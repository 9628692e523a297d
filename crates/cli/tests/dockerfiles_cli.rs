//! Dockerfiles both ways on the real engine: `slipway dockerfile` writes a workshop's recipe, which
//! `docker build` turns into an image holding what the workshop made; `slipway build` builds a
//! folder with a Dockerfile, its output streamed; `slipway replay` runs a workshop's commands on
//! another base and exits with the code of the command that stopped it.

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

/// Removes, on drop, the containers and images the test made.
#[derive(Default)]
struct Cleanup {
    containers: Vec<String>,
    images: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for container in &self.containers {
            let _ = Command::new("docker")
                .args(["rm", "-f", container])
                .output();
        }
        for image in &self.images {
            let _ = Command::new("docker").args(["rmi", "-f", image]).output();
        }
    }
}

#[test]
fn the_exported_dockerfile_builds_an_image_with_the_workshops_files() {
    let base = base_image();
    let data = tempfile::tempdir().unwrap();
    let mut cleanup = Cleanup::default();
    let name = unique("recipe-cli");
    cleanup.containers.push(name.clone());

    let out = slipway(data.path(), &["run", "--workshop", "--name", &name, &base]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for (command, code) in [
        (
            "mkdir -p /opt/app && echo 'made in a workshop' > /opt/app/note.txt",
            0,
        ),
        // A failed command is not in the recipe: it would fail the build.
        ("cat /no/such/file", 1),
        ("printf 'line one\\nline two\\n' >> /opt/app/note.txt", 0),
    ] {
        let out = slipway(data.path(), &["exec", &name, command]);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{command}: {}",
            text(&out.stderr)
        );
    }

    let out = slipway(
        data.path(),
        &[
            "dockerfile",
            &name,
            "--change",
            r#"CMD ["cat", "/opt/app/note.txt"]"#,
            "--change",
            "WORKDIR /opt/app",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let recipe = text(&out.stdout);
    assert!(recipe.contains(&format!("\nFROM {base}\n")), "{recipe}");
    assert!(!recipe.contains("/no/such/file"), "{recipe}");

    // The engine here has no internet and BuildKit would try to resolve the base remotely, so the
    // classic builder builds from the local base.
    let context = tempfile::tempdir().unwrap();
    std::fs::write(context.path().join("Dockerfile"), &recipe).unwrap();
    let image = format!("slipway-test/{name}:recipe");
    cleanup.images.push(image.clone());
    let out = Command::new("docker")
        .args(["build", "-q", "-t", &image])
        .arg(context.path())
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(out.status.success(), "{recipe}\n{}", text(&out.stderr));

    let built = unique("recipe-cli-built");
    cleanup.containers.push(built.clone());
    let out = Command::new("docker")
        .args(["run", "--name", &built, &image])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let in_workshop = Command::new("docker")
        .args(["exec", &name, "cat", "/opt/app/note.txt"])
        .output()
        .unwrap();
    assert_eq!(
        text(&out.stdout),
        text(&in_workshop.stdout),
        "the built image's file differs from the workshop's"
    );
    assert_eq!(
        text(&out.stdout),
        "made in a workshop\nline one\nline two\n"
    );
}

#[test]
fn build_makes_an_image_from_a_folder_and_streams_its_output() {
    let base = base_image();
    let data = tempfile::tempdir().unwrap();
    let mut cleanup = Cleanup::default();
    let context = tempfile::tempdir().unwrap();
    std::fs::write(context.path().join("greeting.txt"), "built by slipway\n").unwrap();
    std::fs::write(
        context.path().join("Dockerfile"),
        format!(
            "FROM {base}\nCOPY greeting.txt /greeting.txt\nRUN echo step-output-marker\n\
             CMD [\"cat\", \"/greeting.txt\"]\n"
        ),
    )
    .unwrap();
    let image = format!("slipway-test/{}:built", unique("build-cli"));
    cleanup.images.push(image.clone());

    let dir = context.path().to_str().unwrap();
    let out = slipway(data.path(), &["build", dir, "-t", &image]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("step-output-marker"),
        "the build's output is shown: {}",
        text(&out.stderr)
    );
    let id = text(&out.stdout).trim().to_string();
    assert!(id.starts_with("sha256:"), "{id}");

    let run = Command::new("docker")
        .args(["run", "--rm", &image])
        .output()
        .unwrap();
    assert_eq!(text(&run.stdout), "built by slipway\n");

    // A failing step fails the command with the engine's message.
    std::fs::write(
        context.path().join("Dockerfile"),
        format!("FROM {base}\nRUN exit 3\n"),
    )
    .unwrap();
    let out = slipway(data.path(), &["build", dir, "-t", &image]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("returned a non-zero code: 3"),
        "{}",
        text(&out.stderr)
    );

    // A folder without a Dockerfile is refused before the engine is asked.
    let empty = tempfile::tempdir().unwrap();
    let out = slipway(
        data.path(),
        &["build", empty.path().to_str().unwrap(), "-t", &image],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("has no Dockerfile"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn replay_runs_the_commands_again_and_stops_at_the_first_failure() {
    let base = base_image();
    let data = tempfile::tempdir().unwrap();
    let mut cleanup = Cleanup::default();
    let name = unique("replay-cli");
    cleanup.containers.push(name.clone());
    let out = slipway(data.path(), &["run", "--workshop", "--name", &name, &base]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for command in ["mkdir /replayed", "echo again > /replayed/note"] {
        let out = slipway(data.path(), &["exec", &name, command]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }

    // On the same base every command succeeds; stdout is the new workshop's name.
    let out = slipway(data.path(), &["replay", &name, "--on", &base]);
    let copy = text(&out.stdout).trim().to_string();
    cleanup.containers.push(copy.clone());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("[2] echo again > /replayed/note"));
    let note = Command::new("docker")
        .args(["exec", &copy, "cat", "/replayed/note"])
        .output()
        .unwrap();
    assert_eq!(text(&note.stdout), "again\n");

    // On an image that already has /replayed, the mkdir fails: the replay stops there, says
    // which command it was and exits with its code.
    let committed = format!("slipway-test/{}:1", unique("replay-cli-base"));
    cleanup.images.push(committed.clone());
    let out = slipway(data.path(), &["commit", &name, &committed]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = slipway(data.path(), &["replay", &name, "--on", &committed]);
    cleanup
        .containers
        .push(text(&out.stdout).trim().to_string());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("command 1 of 2 failed with exit code 1: mkdir /replayed"),
        "{stderr}"
    );
    assert!(!stderr.contains("[2]"), "{stderr}");
}
