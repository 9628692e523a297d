//! The registry subcommands of the `slipway` binary against a real TLS + htpasswd
//! registry — login stores through docker's credential store, and push, catalog, tags, inspect
//! and delete then use the stored credentials, at the top level and under `slipway registry`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use slipway_tests::{
    base_image, derive_image, derive_image_from_on, Registry, TestEngine, TEST_PASSWORD, TEST_USER,
};

struct Env {
    docker_config: tempfile::TempDir,
    cache: tempfile::TempDir,
    data: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            docker_config: tempfile::tempdir().unwrap(),
            cache: tempfile::tempdir().unwrap(),
            data: tempfile::tempdir().unwrap(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_slipway"));
        c.args(args)
            .env("DOCKER_CONFIG", self.docker_config.path())
            .env("SLIPWAY_CACHE_DIR", self.cache.path())
            .env("SLIPWAY_DATA_DIR", self.data.path())
            .env_remove("DOCKER_HOST")
            .env_remove("SLIPWAY_PASSWORD");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run slipway")
    }

    fn login(&self, host: &str, ca: &str, password: &str) -> Output {
        let mut child = self
            .command(&[
                "login",
                host,
                "-u",
                TEST_USER,
                "--password-stdin",
                "--ca",
                ca,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn cli_login_push_catalog_tags_inspect_delete() {
    let base = base_image();
    let secure = Registry::tls_htpasswd();
    let ca = secure.pki.ca_cert().to_string_lossy().into_owned();
    let host = secure.addr();
    let env = Env::new();

    // A wrong password fails, says so, and stores nothing.
    let out = env.login(&host, &ca, "wrong");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("slipway login"),
        "{}",
        text(&out.stderr)
    );
    assert!(!env.docker_config.path().join("config.json").exists());

    let out = env.login(&host, &ca, TEST_PASSWORD);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config = std::fs::read_to_string(env.docker_config.path().join("config.json")).unwrap();
    assert!(config.contains(&host), "{config}");
    assert!(
        !config.contains(TEST_PASSWORD),
        "the password must be stored encoded, as docker does"
    );

    // Without the CA the push fails with what to do about the certificate.
    let target = format!("{host}/cli/base:1");
    let out = env.run(&["push", &base, &target]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--ca"), "{}", text(&out.stderr));

    let out = env.run(&["push", &base, &target, "--ca", &ca]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("pushed {target}@sha256:")),
        "{}",
        text(&out.stdout)
    );
    let out = env.run(&["copy", &target, &format!("{host}/cli/base:2"), "--ca", &ca]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = env.run(&["catalog", &host, "--ca", &ca]);
    assert_eq!(
        text(&out.stdout).trim(),
        "cli/base",
        "{}",
        text(&out.stderr)
    );
    let out = env.run(&["tags", &format!("{host}/cli/base"), "--ca", &ca]);
    let mut tags: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    tags.sort();
    assert_eq!(tags, vec!["1", "2"]);

    let out = env.run(&["--json", "inspect", &target, "--ca", &ca]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["platform"], "linux/amd64");
    assert!(shown["layers"].as_array().is_some_and(|l| !l.is_empty()));

    // The same commands under `slipway registry`, with the names registry tools use: `rm` only
    // plans here, and `pull` goes straight from the registry into the engine.
    let out = env.run(&[
        "registry",
        "rm",
        "--dry-run",
        "--all-tags",
        &target,
        "--ca",
        &ca,
    ]);
    let said = text(&out.stdout);
    assert!(
        said.starts_with("would delete manifest sha256:") && said.contains("1, 2"),
        "{said}{}",
        text(&out.stderr)
    );
    let second = format!("{host}/cli/base:2");
    let out = env.run(&["registry", "pull", &second, "--ca", &ca]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ran = Command::new("docker")
        .args(["run", "--rm", &second, "/bin/sh", "-c", "echo pulled"])
        .output()
        .unwrap();
    let _ = Command::new("docker").args(["rmi", "-f", &second]).output();
    assert_eq!(text(&ran.stdout).trim(), "pulled", "{}", text(&ran.stderr));

    // `delete` takes the tag alone; tag 2 on the same digest stays until `--all-tags`.
    let out = env.run(&["delete", &target, "--ca", &ca]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains(&format!("deleted tag {host}/cli/base:1 (sha256:")),
        "{said}"
    );
    assert!(said.contains("stays, tagged 2"), "{said}");
    let out = env.run(&["delete", "--all-tags", &second, "--ca", &ca]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("deleted manifest sha256:") && said.contains("(tags: 2)"),
        "{said}"
    );
    let out = env.run(&["--json", "inspect", &second, "--ca", &ca]);
    assert!(!out.status.success());
    let err: serde_json::Value = serde_json::from_str(text(&out.stderr).trim()).unwrap();
    assert_eq!(err["code"], "not_found");
}

/// On the system engine (a classic store), a commit on an image pushed through the export goes
/// out through the whole export again; the push says how much the registry already had and
/// which flag makes the next pushes send only what changed.
#[test]
fn a_push_that_exports_an_image_the_registry_mostly_has_says_how_to_send_only_what_changed() {
    let base = derive_image("cli-exported", "head -c 3000000 /dev/urandom > /base.bin");
    let derived = derive_image_from_on(
        &TestEngine::system(),
        &base.0,
        "head -c 100000 /dev/urandom > /new.bin",
    );
    let registry = Registry::plain();
    let env = Env::new();
    let first = format!("{}/cli/exported:1", registry.addr());
    let out = env.run(&["push", "--route", "export", &base.0, &first]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("note:"),
        "the registry had nothing yet: {}",
        text(&out.stderr)
    );

    let second = format!("{}/cli/derived:1", registry.addr());
    let out = env.run(&["push", &derived.0, &second]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("via the engine's export"),
        "{}",
        text(&out.stdout)
    );
    let said = text(&out.stderr);
    assert!(
        said.contains("note: the registry had ") && said.contains("--route engine"),
        "{said}"
    );
}
