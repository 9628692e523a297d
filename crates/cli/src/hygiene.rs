//! `slipway hygiene CONTAINER [--clean] [--env KEY=value]`: the junk a commit of the workshop
//! would keep, with its bytes, and likely secrets; `--clean` removes the junk first.

use slipway_core::JunkKind;

use crate::format::size;
use crate::{Context, Failure};

/// Prints the check (after the clean, when asked) and returns the exit code: 0 when nothing is
/// left to warn about, 1 when junk or secrets remain, so a script can stop before a commit.
pub async fn run(
    container: String,
    clean: bool,
    env: Vec<String>,
    context: &Context,
) -> Result<i32, Failure> {
    let slipway = context.slipway().await?;
    if clean {
        let outcome = slipway.clean(&container).await?;
        if !context.json {
            println!(
                "removed {} path(s), {}",
                outcome.removed.len(),
                size(outcome.bytes)
            );
        }
    }
    let report = slipway.hygiene(&container, &env).await?;
    if context.json {
        crate::format::print_json(&report);
    } else {
        for junk in &report.junk {
            println!(
                "junk  {:<14} {:>8}  {} path(s): {}",
                kind_name(junk.kind),
                size(junk.bytes),
                junk.paths.len(),
                preview(&junk.paths)
            );
        }
        for secret in &report.secrets {
            println!("secret  {}  ({})", secret.what, secret.reason);
        }
        if report.junk.is_empty() && report.secrets.is_empty() {
            println!("clean: no junk, no likely secrets");
        } else if !report.junk.is_empty() {
            println!(
                "{} of junk; `slipway hygiene {container} --clean` removes it",
                size(report.junk_bytes)
            );
        }
    }
    Ok(i32::from(
        !report.junk.is_empty() || !report.secrets.is_empty(),
    ))
}

/// The kind's name as the JSON output spells it.
fn kind_name(kind: JunkKind) -> &'static str {
    match kind {
        JunkKind::AptLists => "apt_lists",
        JunkKind::AptArchives => "apt_archives",
        JunkKind::PipCache => "pip_cache",
        JunkKind::NpmCache => "npm_cache",
        JunkKind::Tmp => "tmp",
        JunkKind::ShellHistory => "shell_history",
    }
}

/// The first few paths, then how many more.
fn preview(paths: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut text = paths
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    if paths.len() > SHOWN {
        text.push_str(&format!(" (+{} more)", paths.len() - SHOWN));
    }
    text
}
