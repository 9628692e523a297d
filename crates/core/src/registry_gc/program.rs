//! Garbage collection by the registry program itself (Debian's `docker-registry`), run in place
//! on the config file the managed registry serves.

use std::path::Path;

use tokio::process::Command;

use super::{arguments, Collected};

/// Runs `PROGRAM garbage-collect [--dry-run] --delete-untagged CONFIG` and keeps what it printed.
pub(super) async fn collect(program: &Path, config: &Path, dry_run: bool) -> Collected {
    let output = Command::new(program)
        .args(arguments(dry_run, &config.display().to_string()))
        .output()
        .await;
    match output {
        Ok(output) => Collected {
            success: output.status.success(),
            status: output.status.to_string(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        },
        Err(e) => Collected {
            success: false,
            status: format!("could not run {}", program.display()),
            output: e.to_string(),
        },
    }
}
