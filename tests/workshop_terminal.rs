//! The workshop's terminal on the real engine, with a Debian base made by debootstrap: a TTY with
//! `TERM`, a shell whose `cd` persists, prompts answered by typing (`read -p`, apt-get's
//! "Do you want to continue?" without `-y`), an interactive python3, a resize the shell sees,
//! every command in the workshop log with its exit code, and a large output delivered whole
//! before the exit. The core of it runs with busybox sh (an image without bash) and on Podman's
//! compatible socket as well.

use std::time::{Duration, Instant};

use slipway_core::{Slipway, TerminalEvent, TerminalSize, Terminals};
use slipway_tests::{base_image_on, connect_to, debian_image_on, unique, TestEngine};
use tokio::sync::mpsc;

/// A terminal as a test sees it: what it typed, what the screen got, what was recorded.
struct Term {
    terminals: Terminals,
    id: String,
    events: mpsc::UnboundedReceiver<TerminalEvent>,
    screen: Vec<u8>,
    recorded: Vec<(String, i64)>,
    exit: Option<Option<i64>>,
}

impl Term {
    async fn open(slipway: &Slipway, container: &str) -> Term {
        let terminals = Terminals::default();
        let (sender, events) = mpsc::unbounded_channel();
        let id = terminals
            .open(
                slipway,
                container,
                TerminalSize {
                    rows: 30,
                    cols: 100,
                },
                std::sync::Arc::new(move |event| {
                    let _ = sender.send(event);
                }),
            )
            .await
            .expect("the terminal opens");
        Term {
            terminals,
            id,
            events,
            screen: Vec::new(),
            recorded: Vec::new(),
            exit: None,
        }
    }

    fn type_line(&self, line: &str) {
        self.terminals
            .input(&self.id, format!("{line}\r").as_bytes())
            .expect("the terminal takes input");
    }

    /// The screen's text without bracketed-paste switches, which bash and python's readline
    /// send around every line they read.
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.screen)
            .replace("\x1b[?2004h", "")
            .replace("\x1b[?2004l", "")
    }

    /// Reads events until `done` says so, or fails with the end of the screen.
    async fn until(&mut self, what: &str, timeout: Duration, done: impl Fn(&Term) -> bool) {
        let deadline = Instant::now() + timeout;
        while !done(self) {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.events.recv()).await {
                Ok(Some(event)) => self.take(event),
                Ok(None) => panic!("the events ended while waiting for {what}"),
                Err(_) => {
                    let text = self.text();
                    let tail: String = text
                        .chars()
                        .rev()
                        .take(1500)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect();
                    panic!(
                        "timed out waiting for {what}; recorded {:?}; screen ends with:\n{tail}",
                        self.recorded
                    );
                }
            }
        }
    }

    fn take(&mut self, event: TerminalEvent) {
        assert!(self.exit.is_none(), "an event after the exit: {event:?}");
        match event {
            TerminalEvent::Output { data } => self.screen.extend(data),
            TerminalEvent::Recorded { command, exit_code } => {
                self.recorded.push((command, exit_code))
            }
            TerminalEvent::Exit { code } => self.exit = Some(code),
            TerminalEvent::Failed { error } => panic!("the terminal failed: {error:?}"),
        }
    }

    async fn see(&mut self, needle: &str, secs: u64) {
        self.until(needle, Duration::from_secs(secs), |t| {
            t.text().contains(needle)
        })
        .await;
    }

    /// Runs `line` and waits until the shell reports it; returns its exit code. A report of the
    /// line typed before may still be on its way, so the wait is for this line's own report.
    async fn run(&mut self, line: &str, secs: u64) -> i64 {
        let before = self.recorded.len();
        self.type_line(line);
        self.recorded_after(before, line, secs).await
    }

    async fn recorded_after(&mut self, before: usize, line: &str, secs: u64) -> i64 {
        let found = |t: &Term| t.recorded[before..].iter().position(|(c, _)| c == line);
        self.until(
            &format!("`{line}` to be reported"),
            Duration::from_secs(secs),
            |t| found(t).is_some(),
        )
        .await;
        self.recorded[before + found(self).unwrap()].1
    }
}

/// Removes the container from its engine however the test ends.
struct Container(TestEngine, String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = self
            .0
            .command("docker")
            .args(["rm", "-f", &self.1])
            .output();
    }
}

async fn workshop(engine: &TestEngine, data: &std::path::Path) -> (Slipway, Container) {
    let image = debian_image_on(engine);
    let slipway = connect_to(engine, data).await;
    let name = unique("terminal");
    let guard = Container(engine.clone(), name.clone());
    slipway.run_workshop(&image, Some(&name)).await.unwrap();
    (slipway, guard)
}

/// What every engine must do: a TTY with TERM, `cd` that persists, a `read` prompt answered,
/// resize, exit codes recorded, and a large output whole before the exit.
async fn shell_basics(slipway: &Slipway, container: &str) -> Term {
    let mut term = Term::open(slipway, container).await;
    // Arithmetic, so the echo of the typed line cannot satisfy the wait.
    term.type_line("echo ready-$((20+22))");
    term.see("ready-42", 60).await;

    assert_eq!(term.run("tty", 30).await, 0);
    term.see("/dev/pts/", 5).await;
    assert_eq!(term.run("echo \"term=$TERM\"", 30).await, 0);
    term.see("term=xterm-256color", 5).await;

    assert_eq!(term.run("cd /tmp", 30).await, 0);
    assert_eq!(term.run("pwd", 30).await, 0);
    let after_pwd = term.text().rsplit("# pwd").next().unwrap().to_string();
    assert!(after_pwd.contains("/tmp\r\n"), "{after_pwd:?}");

    let before = term.recorded.len();
    let read = "read -p \"$(echo Q)uestion? \" x; echo \"got-$x\"";
    term.type_line(read);
    term.see("Question? ", 30).await;
    term.type_line("yes");
    term.see("got-yes", 30).await;
    assert_eq!(term.recorded_after(before, read, 30).await, 0);

    assert_eq!(term.run("false", 30).await, 1);

    term.terminals
        .resize(
            &term.id,
            TerminalSize {
                rows: 41,
                cols: 123,
            },
        )
        .await
        .unwrap();
    assert_eq!(term.run("echo \"size=$(stty size)\"", 30).await, 0);
    term.see("size=41 123", 5).await;

    let started = Instant::now();
    assert_eq!(term.run("seq 1 200000", 120).await, 0);
    assert!(
        term.text().contains("\r\n199999\r\n200000\r\n"),
        "the last lines arrived before the command was reported"
    );
    eprintln!("seq 1 200000 took {:?}", started.elapsed());

    // The exit comes after every byte the shell wrote before it.
    term.type_line("seq 1 50000; exit 7");
    term.until("the exit", Duration::from_secs(120), |t| t.exit.is_some())
        .await;
    assert_eq!(term.exit, Some(Some(7)));
    assert!(
        term.text().contains("\r\n49999\r\n50000\r\n"),
        "the exit came before the output"
    );
    assert!(term.events.try_recv().is_err(), "nothing follows the exit");
    assert!(
        term.terminals.input(&term.id, b"x").is_err(),
        "an ended session takes no input"
    );
    term
}

fn logged(slipway_log: &slipway_core::WorkshopLog) -> Vec<(String, Option<i64>)> {
    slipway_log
        .entries
        .iter()
        .map(|e| (e.command.clone(), e.exit_code))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_debian_workshop_terminal_runs_prompts_apt_and_python_and_records_each_command() {
    let engine = TestEngine::system();
    let data = tempfile::tempdir().unwrap();
    let (slipway, container) = workshop(&engine, data.path()).await;
    let name = container.1.clone();

    shell_basics(&slipway, &name).await;

    // A second session in the same workshop: apt-get without -y asks, and is answered.
    let mut term = Term::open(&slipway, &name).await;
    term.type_line("echo ready-$((40+2))");
    term.see("ready-42", 60).await;
    assert_eq!(term.run("apt-get update", 300).await, 0);
    let before = term.recorded.len();
    let install = "apt-get install python3-minimal";
    term.type_line(install);
    term.see("Do you want to continue? [Y/n]", 300).await;
    term.type_line("Y");
    let code = term.recorded_after(before, install, 600).await;
    assert_eq!(code, 0, "{}", term.text());
    assert!(
        !term.text().contains("TERM is not set"),
        "debconf saw no TERM"
    );

    // An interactive REPL: it waits for input instead of exiting at once.
    term.type_line("python3");
    term.see(">>> ", 60).await;
    term.type_line("print(6 * 7)");
    term.see("42\r\n>>> ", 30).await;
    let before = term.recorded.len();
    term.type_line("exit()");
    assert_eq!(term.recorded_after(before, "python3", 30).await, 0);

    // Closing kills what runs and ends the session with an exit.
    term.type_line("sleep 1000");
    tokio::time::sleep(Duration::from_millis(500)).await;
    term.terminals.close(&term.id).await.unwrap();
    term.until("the exit after close", Duration::from_secs(30), |t| {
        t.exit.is_some()
    })
    .await;

    let mut log = logged(&slipway.workshop_log(&name).await.unwrap());
    // Close kills the command first and then the shell; when the shell gets to print one more
    // prompt in between, the killed command is recorded with the signal's 137, which is as true
    // as not recording it. Either is accepted.
    if log.last() == Some(&("sleep 1000".to_string(), Some(137))) {
        log.pop();
    }
    let expected: Vec<(String, Option<i64>)> = [
        ("tty", 0),
        ("echo \"term=$TERM\"", 0),
        ("cd /tmp", 0),
        ("pwd", 0),
        ("read -p \"$(echo Q)uestion? \" x; echo \"got-$x\"", 0),
        ("false", 1),
        ("echo \"size=$(stty size)\"", 0),
        ("seq 1 200000", 0),
        ("echo ready-$((40+2))", 0),
        ("apt-get update", 0),
        ("apt-get install python3-minimal", 0),
        ("python3", 0),
    ]
    .iter()
    .map(|(c, code)| (c.to_string(), Some(*code)))
    .collect();
    // The very first line of each session is typed at the first prompt, whose report is only
    // the baseline; it is recorded by the second prompt like any other.
    let first = ("echo ready-$((20+22))".to_string(), Some(0));
    assert_eq!(log[0], first, "{log:?}");
    assert_eq!(&log[1..], &expected[..], "{log:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_without_bash_gets_sh_with_the_same_hook() {
    let engine = TestEngine::system();
    let data = tempfile::tempdir().unwrap();
    let slipway = connect_to(&engine, data.path()).await;
    let name = unique("terminal-sh");
    let _guard = Container(engine.clone(), name.clone());
    slipway
        .run_workshop(&base_image_on(&engine), Some(&name))
        .await
        .unwrap();
    shell_basics(&slipway, &name).await;
    let log = logged(&slipway.workshop_log(&name).await.unwrap());
    assert!(log.contains(&("false".to_string(), Some(1))), "{log:?}");
    assert!(log.contains(&("pwd".to_string(), Some(0))), "{log:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_terminal_works_on_podman() {
    let Some(engine) = TestEngine::for_test("podman") else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let (slipway, container) = workshop(&engine, data.path()).await;
    shell_basics(&slipway, &container.1).await;
    let log = logged(&slipway.workshop_log(&container.1).await.unwrap());
    assert!(log.contains(&("false".to_string(), Some(1))), "{log:?}");
    assert!(log.contains(&("cd /tmp".to_string(), Some(0))), "{log:?}");
}
