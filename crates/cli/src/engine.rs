//! The engine subcommands: status, images, ps, pull, run, exec, diff, commit, dockerfile, build,
//! tag, rmi, rm, stop, log.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};

use clap::Subcommand;
use futures_util::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use slipway_core::{
    CancellationToken, CommitRequest, ConsoleEvent, Error, OutputChunk, PullEvent, RunRequest,
};

use crate::format::{age, size, table};
use crate::{Context, Failure};

/// The engine subcommands.
#[derive(Debug, Subcommand)]
pub enum EngineCommand {
    /// Show which engine answers, its version and platform.
    Status,
    /// List local images.
    Images,
    /// List containers, stopped ones included.
    Ps,
    /// Pull an image through the engine, with a progress bar per layer.
    Pull {
        /// The image, e.g. 127.0.0.1:5000/team/hello:1.0.
        reference: String,
    },
    /// Run a container: to completion (streaming its output), detached, or as a workshop.
    Run {
        /// The container's name.
        #[arg(long)]
        name: Option<String>,
        /// Environment variables, KEY=value (repeatable).
        #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
        env: Vec<String>,
        /// Allocate a terminal.
        #[arg(short = 't', long)]
        tty: bool,
        /// Start it and print its id without waiting.
        #[arg(short = 'd', long, conflicts_with = "workshop")]
        detach: bool,
        /// Start a workshop: a shell that stays up, for `slipway exec`, `diff` and `commit`.
        #[arg(long)]
        workshop: bool,
        /// Remove the container when it exits.
        #[arg(long, conflicts_with_all = ["detach", "workshop"])]
        rm: bool,
        /// The image.
        image: String,
        /// The command and its arguments; the image's CMD when absent.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        cmd: Vec<String>,
    },
    /// Run a shell command in a running container; exits with the command's exit code.
    Exec {
        /// The container, id or name.
        container: String,
        /// The shell command line (words are joined with spaces and run by /bin/sh -c).
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// List what a container changed in its filesystem.
    Diff {
        /// The container, id or name.
        container: String,
    },
    /// Commit a container as a new image.
    Commit {
        /// The container, id or name.
        container: String,
        /// The new image's name, e.g. 127.0.0.1:5000/team/hello:1.0.
        reference: Option<String>,
        /// The commit message.
        #[arg(short, long)]
        message: Option<String>,
        /// The author, e.g. "Ada <ada@example.com>".
        #[arg(short, long)]
        author: Option<String>,
        /// A config change: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER or WORKDIR (repeatable),
        /// e.g. --change 'CMD ["python3","app.py"]'.
        #[arg(short, long = "change", value_name = "INSTRUCTION")]
        change: Vec<String>,
        /// Store the workshop's command log in the image (label dev.slipway.workshop-log;
        /// secrets redacted, newest 64 KiB). Anyone who can pull the image can read it.
        #[arg(long)]
        workshop_log: bool,
    },
    /// Print the workshop's recipe as a Dockerfile: FROM its base image (by registry digest
    /// when it has one), every command that succeeded as RUN, then the given config changes.
    Dockerfile {
        /// The workshop container, id or name.
        container: String,
        /// A config change to end the recipe with, as for commit (repeatable),
        /// e.g. --change 'CMD ["python3","app.py"]'.
        #[arg(short, long = "change", value_name = "INSTRUCTION")]
        change: Vec<String>,
    },
    /// Build an image from a folder holding a Dockerfile; the build's output goes to stderr as
    /// it arrives, the new image's id to stdout.
    Build {
        /// The folder: its Dockerfile and everything beside it (the build context).
        dir: std::path::PathBuf,
        /// The new image's name, e.g. 127.0.0.1:5000/team/hello:1.0.
        #[arg(short, long)]
        tag: String,
    },
    /// Run the workshop's successful commands again, one by one, in a new workshop from
    /// another image; stops at the first that fails and exits with its code. Prints the new
    /// workshop's name.
    Replay {
        /// The workshop container whose log is replayed, id or name.
        container: String,
        /// The image to start the new workshop from.
        #[arg(long = "on", value_name = "IMAGE")]
        on: String,
    },
    /// Give an image another name.
    Tag {
        /// The image, name:tag or id.
        source: String,
        /// The new name, e.g. 127.0.0.1:5000/team/hello:1.0.
        target: String,
    },
    /// Remove images (or just tags).
    Rmi {
        /// Remove even if containers use them.
        #[arg(short, long)]
        force: bool,
        /// The images.
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Remove containers.
    Rm {
        /// Kill running containers first.
        #[arg(short, long)]
        force: bool,
        /// The containers.
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Stop running containers.
    Stop {
        /// Seconds to wait before killing.
        #[arg(short, long, default_value_t = 10)]
        time: i32,
        /// The containers.
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Show a workshop's log: every command run through Slipway, its exit code and when.
    Log {
        /// The container, id or name.
        container: String,
    },
}

/// Runs one engine subcommand; returns the process exit code.
pub async fn run(command: EngineCommand, context: &Context) -> Result<i32, Failure> {
    let slipway = context.slipway().await?;
    match command {
        EngineCommand::Status => {
            let status = slipway.status().await?;
            if context.json {
                crate::format::print_json(&status);
            } else {
                println!(
                    "{} {} (API {}) on {}/{}, at {}",
                    status.name,
                    status.version,
                    status.api_version,
                    status.os,
                    status.arch,
                    status.endpoint
                );
            }
        }
        EngineCommand::Images => {
            let images = slipway.images().await?;
            if context.json {
                crate::format::print_json(&images);
            } else {
                let mut rows = Vec::new();
                for image in &images {
                    let names = if image.tags.is_empty() {
                        vec!["<none>:<none>".to_string()]
                    } else {
                        image.tags.clone()
                    };
                    for name in names {
                        rows.push(vec![
                            name,
                            image.short_id.clone(),
                            age(image.created),
                            size(image.size),
                        ]);
                    }
                }
                table(&["IMAGE", "ID", "CREATED", "SIZE"], &rows);
            }
        }
        EngineCommand::Ps => {
            let containers = slipway.containers().await?;
            if context.json {
                crate::format::print_json(&containers);
            } else {
                let rows: Vec<Vec<String>> = containers
                    .iter()
                    .map(|c| {
                        vec![
                            c.short_id.clone(),
                            c.name.clone(),
                            c.image.clone(),
                            c.status.clone(),
                            if c.workshop { "workshop" } else { "" }.to_string(),
                        ]
                    })
                    .collect();
                table(&["ID", "NAME", "IMAGE", "STATUS", "KIND"], &rows);
            }
        }
        EngineCommand::Pull { reference } => pull(&slipway, &reference, context.json).await?,
        EngineCommand::Run {
            name,
            env,
            tty,
            detach,
            workshop,
            rm,
            image,
            cmd,
        } => {
            if workshop {
                let container = slipway.run_workshop(&image, name.as_deref()).await?;
                if context.json {
                    crate::format::print_json(&container);
                } else {
                    println!("{}", container.name);
                }
                return Ok(0);
            }
            let request = RunRequest {
                image,
                name,
                cmd: (!cmd.is_empty()).then_some(cmd),
                env,
                tty,
            };
            let id = slipway.start(&request).await?;
            if detach {
                println!("{id}");
                return Ok(0);
            }
            let mut logs = Box::pin(slipway.logs(&id, true));
            while let Some(chunk) = logs.next().await {
                write_chunk(&chunk?);
            }
            let code = slipway.wait(&id).await?;
            if rm {
                slipway.remove_container(&id, true).await?;
            }
            return Ok(code as i32);
        }
        EngineCommand::Exec { container, command } => {
            let cancel = CancellationToken::new();
            let on_interrupt = cancel.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    on_interrupt.cancel();
                }
            });
            let line = command.join(" ");
            let mut stream = Box::pin(slipway.exec(&container, &line, cancel).await?);
            while let Some(event) = stream.next().await {
                match event {
                    Ok(ConsoleEvent::Output { chunk }) => write_chunk(&chunk),
                    Ok(ConsoleEvent::Exit { code }) => return Ok(code as i32),
                    // 130 is what a shell reports for a command ended by Ctrl-C.
                    Err(Error::Cancelled) => return Ok(130),
                    Err(error) => return Err(error.into()),
                }
            }
            return Err(Error::Engine("the command ended without an exit code".into()).into());
        }
        EngineCommand::Diff { container } => {
            let changes = slipway.changes(&container).await?;
            if context.json {
                crate::format::print_json(&changes);
            } else {
                for change in &changes {
                    match change.size {
                        Some(bytes) => {
                            println!("{} {} ({})", change.kind.letter(), change.path, size(bytes))
                        }
                        None => println!("{} {}", change.kind.letter(), change.path),
                    }
                }
            }
        }
        EngineCommand::Commit {
            container,
            reference,
            message,
            author,
            change,
            workshop_log,
        } => {
            let outcome = slipway
                .commit(&CommitRequest {
                    container,
                    reference,
                    message,
                    author,
                    changes: change,
                    include_log: workshop_log,
                })
                .await?;
            if context.json {
                crate::format::print_json(&outcome);
            } else {
                println!("{}", outcome.image_id);
            }
        }
        EngineCommand::Dockerfile { container, change } => {
            print!("{}", slipway.dockerfile(&container, &change).await?);
        }
        EngineCommand::Build { dir, tag } => {
            let id = slipway
                .build_with(&dir, &tag, |text| {
                    // The Dockerfile's commands print what they like; keep line breaks, show
                    // every other control character as an escape.
                    let shown: Vec<String> = text.split('\n').map(crate::format::escape).collect();
                    let mut err = std::io::stderr().lock();
                    let _ = err.write_all(shown.join("\n").as_bytes());
                    let _ = err.flush();
                })
                .await?;
            println!("{id}");
        }
        EngineCommand::Replay { container, on } => {
            return crate::replay::replay(&slipway, &container, &on, context.json).await;
        }
        EngineCommand::Tag { source, target } => slipway.tag(&source, &target).await?,
        EngineCommand::Rmi { force, images } => {
            for image in images {
                for line in slipway.remove_image(&image, force).await? {
                    println!("{line}");
                }
            }
        }
        EngineCommand::Rm { force, containers } => {
            for container in containers {
                slipway.remove_container(&container, force).await?;
                println!("{container}");
            }
        }
        EngineCommand::Stop { time, containers } => {
            for container in containers {
                slipway.stop(&container, time).await?;
                println!("{container}");
            }
        }
        EngineCommand::Log { container } => {
            let log = slipway.workshop_log(&container).await?;
            if context.json {
                crate::format::print_json(&log);
            } else {
                for entry in &log.entries {
                    let outcome = match (entry.exit_code, entry.cancelled) {
                        (_, true) => "cancelled".to_string(),
                        (Some(code), _) => format!("exit {code}"),
                        (None, _) => "failed".to_string(),
                    };
                    println!("{}  [{outcome}]  {}", entry.started, entry.command);
                }
            }
        }
    }
    Ok(0)
}

fn write_chunk(chunk: &OutputChunk) {
    // Flush per chunk so that long commands show their progress as it happens.
    match chunk {
        OutputChunk::Stdout(text) => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
        OutputChunk::Stderr(text) => {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(text.as_bytes());
            let _ = err.flush();
        }
    }
}

async fn pull(slipway: &slipway_core::Slipway, reference: &str, json: bool) -> Result<(), Failure> {
    let mut stream = Box::pin(slipway.pull(reference)?);
    let bars = MultiProgress::new();
    let style =
        ProgressStyle::with_template("{prefix:.bold} {msg:<20} [{bar:30}] {bytes}/{total_bytes}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    let mut layers: HashMap<String, ProgressBar> = HashMap::new();
    // Without a terminal the bars are hidden, so scripts and CI logs get one line per change of a
    // layer's status instead.
    let plain = !std::io::stderr().is_terminal();
    let mut last_status: HashMap<Option<String>, String> = HashMap::new();
    while let Some(event) = stream.next().await {
        let event = event?;
        if json {
            crate::format::print_json(&event);
            continue;
        }
        let layer = event.layer().map(str::to_string);
        let status = event.describe().to_string();
        if plain {
            if last_status.get(&layer) != Some(&status) {
                match &layer {
                    Some(layer) => eprintln!("{layer}: {status}"),
                    None => eprintln!("{status}"),
                }
                last_status.insert(layer, status);
            }
            continue;
        }
        let Some(layer) = layer else {
            let _ = bars.println(&status);
            continue;
        };
        let bar = layers.entry(layer.clone()).or_insert_with(|| {
            let bar = bars.add(ProgressBar::new(0));
            bar.set_style(style.clone());
            bar.set_prefix(layer.clone());
            bar
        });
        if let PullEvent::Downloading { done, total, .. }
        | PullEvent::Extracting { done, total, .. } = &event
        {
            bar.set_length(*total);
            bar.set_position(*done);
        }
        bar.set_message(status);
        if matches!(event, PullEvent::Done { .. }) {
            bar.finish();
        }
    }
    for bar in layers.values() {
        if !bar.is_finished() {
            bar.finish();
        }
    }
    Ok(())
}
