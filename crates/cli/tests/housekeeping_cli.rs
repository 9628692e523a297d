//! Registry housekeeping from the `slipway` binary against the managed registry it starts: tags in
//! three orders, a tag deleted alone, the ledger, and garbage collection whose "freed" figure is
//! the one the delete's plan announced.

use std::process::{Command, Output};

use slipway_tests::{base_image, derive_image, free_port, run};

struct Env {
    data: tempfile::TempDir,
    addr: String,
}

impl Env {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_slipway"))
            .args(args)
            .env("XDG_DATA_HOME", self.data.path())
            .env("SLIPWAY_DATA_DIR", self.data.path())
            .env("SLIPWAY_LOCAL_REGISTRY_ADDR", &self.addr)
            .env("DOCKER_CONFIG", self.data.path().join("docker"))
            .env_remove("DOCKER_HOST")
            .output()
            .expect("run slipway")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "slipway {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self.run(&["local-registry", "stop"]);
    }
}

fn docker_push(image: &str, target: &str) {
    run("docker", &["tag", image, target]);
    run("docker", &["push", "-q", target]);
    run("docker", &["rmi", target]);
}

/// The figure after `word` in a line like `would free 1.2MB ...`.
fn figure_after(text: &str, word: &str) -> String {
    let at = text
        .find(word)
        .unwrap_or_else(|| panic!("no `{word}` in {text}"));
    text[at + word.len()..]
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn delete_a_tag_see_the_ledger_and_get_the_space_back_with_gc() {
    if !std::path::Path::new("/usr/bin/docker-registry").is_file() {
        eprintln!("skipped: /usr/bin/docker-registry is not installed");
        return;
    }
    let env = Env {
        data: tempfile::tempdir().unwrap(),
        addr: format!("127.0.0.1:{}", free_port()),
    };
    let started = env.ok(&["local-registry", "start"]);
    assert!(started.contains("running"), "{started}");
    // The registry outlives the command that started it.
    assert!(env.ok(&["local-registry", "status"]).contains("running"));

    let a = &env.addr;
    let derived = derive_image("cli-gc", "head -c 200000 /dev/urandom > /blob");
    for tag in ["1.9", "1.10", "latest"] {
        docker_push(&base_image(), &format!("{a}/cli/app:{tag}"));
    }
    docker_push(&derived.0, &format!("{a}/cli/app:2.0"));

    let version = env.ok(&["tags", &format!("{a}/cli/app"), "--sort", "version"]);
    assert_eq!(
        version.lines().collect::<Vec<_>>(),
        ["1.9", "1.10", "2.0", "latest"]
    );
    let name = env.ok(&["tags", &format!("{a}/cli/app"), "--sort", "name"]);
    assert_eq!(
        name.lines().collect::<Vec<_>>(),
        ["1.10", "1.9", "2.0", "latest"]
    );
    // By date the derived image, committed after the base, comes first.
    let date = env.ok(&["tags", &format!("{a}/cli/app")]);
    assert_eq!(date.lines().next(), Some("2.0"), "{date}");

    let usage = env.ok(&["usage", &format!("{a}/cli/app")]);
    assert!(usage.contains("FREES") && usage.contains("2.0"), "{usage}");

    // One tag of three on the base digest: the others stay and nothing is freed.
    let plan = env.ok(&["delete", "--dry-run", &format!("{a}/cli/app:1.9")]);
    assert!(
        plan.contains("would delete tag") && plan.contains("stays, tagged 1.10, latest"),
        "{plan}"
    );
    assert!(plan.contains("would free 0B"), "{plan}");
    env.ok(&["delete", &format!("{a}/cli/app:1.9")]);
    let left = env.ok(&["tags", &format!("{a}/cli/app"), "--sort", "name"]);
    assert_eq!(left.lines().collect::<Vec<_>>(), ["1.10", "2.0", "latest"]);
    // On the reference registry that delete moved the tag onto a tombstone manifest of a few
    // hundred bytes, deleted at once; a first collection takes it, so the next figures compare
    // the derived image alone.
    env.ok(&["gc"]);

    // The derived image's own layer, config and manifest: what the plan says GC frees.
    let plan = env.ok(&["delete", "--dry-run", &format!("{a}/cli/app:2.0")]);
    let frees = figure_after(&plan, "would free ");
    assert_ne!(frees, "0B", "{plan}");
    env.ok(&["delete", &format!("{a}/cli/app:2.0")]);
    let dry = env.ok(&["gc", "--dry-run"]);
    assert_eq!(figure_after(&dry, "would free "), frees, "{dry}");
    let real = env.ok(&["gc"]);
    assert_eq!(figure_after(&real, "freed "), frees, "{real}");
    assert!(
        env.ok(&["local-registry", "status"]).contains("running"),
        "GC restarts it"
    );

    // For a registry Slipway does not manage, gc says what its operator runs.
    let other = env.ok(&["gc", "registry.lan:5000"]);
    assert!(
        other.contains("garbage-collect --delete-untagged"),
        "{other}"
    );

    let stopped = env.ok(&["local-registry", "stop"]);
    assert!(stopped.contains("stopped"), "{stopped}");
}
