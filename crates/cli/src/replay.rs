//! `slipway replay CONTAINER --on IMAGE`: the workshop's successful commands run again in a new
//! workshop from another image, each command's output as it comes, stopping at the first failure.

use std::io::Write;

use slipway_core::{CancellationToken, OutputChunk, ReplayEvent, Slipway};

use crate::Failure;

/// Runs the replay; the exit code is 0 when every command succeeded, else the failed command's.
pub async fn replay(
    slipway: &Slipway,
    container: &str,
    image: &str,
    json: bool,
) -> Result<i32, Failure> {
    let cancel = CancellationToken::new();
    let on_interrupt = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_interrupt.cancel();
        }
    });
    // Progress goes to stderr, so stdout holds only the new workshop's name (or the JSON).
    let outcome = slipway
        .replay(container, image, cancel, |event| {
            let mut err = std::io::stderr().lock();
            let _ = match event {
                ReplayEvent::Started {
                    container,
                    commands,
                } => writeln!(
                    err,
                    "replaying {commands} command(s) in {} from {image}",
                    container.name.trim_start_matches('/')
                ),
                ReplayEvent::Command { index, command } => {
                    writeln!(err, "[{}] {}", index + 1, crate::format::escape(&command))
                }
                ReplayEvent::Output { chunk, .. } => match chunk {
                    OutputChunk::Stdout(text) | OutputChunk::Stderr(text) => {
                        err.write_all(text.as_bytes())
                    }
                },
                ReplayEvent::Finished { .. } => Ok(()),
            };
            let _ = err.flush();
        })
        .await?;
    let name = outcome.container.name.trim_start_matches('/').to_string();
    if json {
        crate::format::print_json(&outcome);
    } else {
        println!("{name}");
    }
    Ok(match &outcome.failed {
        None => 0,
        Some(failed) => {
            eprintln!(
                "command {} of {} failed with exit code {}: {}\nthe workshop {name} is left \
                 running as it was after that command",
                failed.index + 1,
                outcome.total,
                failed.exit_code,
                crate::format::escape(&failed.command)
            );
            // An exit code that wraps to 0 would read as success.
            match failed.exit_code as i32 {
                0 => 1,
                code => code,
            }
        }
    })
}
