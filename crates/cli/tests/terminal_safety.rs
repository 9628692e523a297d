//! What the terminal shows is safe: a password typed at `slipway login` is not echoed, and text
//! from a registry cannot drive the terminal (set its title, write the clipboard through OSC 52,
//! clear the screen) because control characters are printed escaped.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use slipway_tests::{Hostile, Misbehaviour};

fn slipway(config: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_slipway"));
    c.env("DOCKER_CONFIG", config)
        .env_remove("DOCKER_HOST")
        .env_remove("SLIPWAY_PASSWORD");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_with_escape_sequences_are_printed_escaped() {
    let hostile = "v1\u{1b}]52;c;ZXZpbA==\u{7}\u{1b}]0;pwned\u{7}\u{1b}[2J".to_string();
    let fake = Hostile::plain(Misbehaviour::Tags(vec![hostile, "ok".into()])).await;
    let config = tempfile::tempdir().unwrap();
    let out = tokio::task::spawn_blocking(move || {
        slipway(config.path())
            .args(["tags", &format!("{}/app", fake.addr())])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\u{7}'),
        "{stdout:?}"
    );
    assert!(stdout.contains("v1\\u{1b}]52;c;ZXZpbA=="), "{stdout}");
    assert!(stdout.lines().any(|l| l == "ok"), "{stdout}");
}

/// `slipway login` on a terminal (a pty made by `script`): the password typed after the prompt
/// must not come back in what the terminal shows.
#[test]
fn login_does_not_echo_the_password() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: `script` (util-linux) is not installed, so no pty can be made");
        return;
    }
    let config = tempfile::tempdir().unwrap();
    // Port 9 on loopback: nothing answers, so the login fails after reading the password.
    let line = format!("{} login 127.0.0.1:9 -u ada", env!("CARGO_BIN_EXE_slipway"));
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("DOCKER_CONFIG", config.path())
        .env_remove("SLIPWAY_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let shown = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let shown = shown.clone();
        let mut stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                shown.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let started = Instant::now();
    while !String::from_utf8_lossy(&shown.lock().unwrap()).contains("Password:") {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no prompt: {:?}",
            String::from_utf8_lossy(&shown.lock().unwrap())
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"hunter2-typed-secret\n").unwrap();
    stdin.flush().unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("slipway login did not end");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(stdin);
    let _ = reader.join();
    let shown = String::from_utf8_lossy(&shown.lock().unwrap()).into_owned();
    assert!(shown.contains("error:"), "the login should fail: {shown}");
    assert!(
        !shown.contains("hunter2-typed-secret"),
        "the password was echoed: {shown}"
    );
}
