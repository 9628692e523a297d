//! Registry housekeeping: delete plans, the space ledger, the managed registry's start, stop and
//! garbage collection.

use clap::Subcommand;
use slipway_core::local_registry::{self, LocalRegistry, LocalRegistryStatus};
use slipway_core::registry::{self, Coverage, DeletePlan, DeleteScope, Selection, Usage};
use slipway_core::registry_gc;

use crate::registry::DeleteArgs;
use crate::{format, Context, Failure};

/// `slipway local-registry ...`: the reference registry Slipway runs on loopback.
#[derive(Debug, Subcommand)]
pub enum LocalRegistryCommand {
    /// Start it (it keeps running after this command exits; `stop` ends it).
    Start,
    /// Stop it; its data stays for the next start.
    Stop,
    /// Whether it runs, where, and from which program.
    Status,
}

/// `slipway delete`: prints the plan, then (without --dry-run) carries it out.
pub async fn delete(args: DeleteArgs, context: &Context) -> Result<(), Failure> {
    let access = args.access.access();
    let bulk = args.filter.is_some() || args.older_than.is_some() || args.keep.is_some();
    let plan = if bulk {
        let selection = Selection {
            tags: vec![],
            filter: args.filter,
            older_than: args.older_than,
            keep_newest: args.keep,
        };
        registry::bulk_plan(&args.reference, &access, &selection).await?
    } else {
        let scope = if args.all_tags {
            DeleteScope::Manifest
        } else {
            DeleteScope::Tag
        };
        registry::delete_plan(&args.reference, &access, scope).await?
    };
    let plan = if args.dry_run {
        plan
    } else {
        registry::execute(&plan, &access).await?
    };
    if context.json {
        format::print_json(&plan);
    } else {
        print_plan(&plan, args.dry_run);
    }
    Ok(())
}

fn print_plan(plan: &DeletePlan, dry_run: bool) {
    let verb = if dry_run { "would delete" } else { "deleted" };
    if plan.tags.is_empty() && plan.manifests.is_empty() {
        println!("nothing to delete in {}", plan.repository);
    }
    for m in &plan.manifests {
        if m.stay.is_empty() {
            println!("{verb} manifest {} (tags: {})", m.digest, m.tags.join(", "));
        } else {
            for tag in &m.tags {
                println!(
                    "{verb} tag {}:{tag} ({} stays, tagged {})",
                    plan.repository,
                    m.digest,
                    m.stay.join(", ")
                );
            }
        }
    }
    println!("{}", frees_line(plan, dry_run));
    if let Some(why) = &plan.empties_repository {
        println!("{why}");
    }
}

/// The bytes a plan frees, with what they leave out when not every repository was read.
fn frees_line(plan: &DeletePlan, dry_run: bool) -> String {
    let will = if dry_run { "would free" } else { "frees" };
    let at_most = if plan.complete { "" } else { "at most " };
    format!(
        "{will} {at_most}{} after garbage collection{}",
        format::size(plan.frees),
        if plan.coverage.capped() {
            format!(" ({})", counted(&plan.coverage))
        } else if plan.complete {
            String::new()
        } else {
            " (the registry hides its catalog, so blobs other repositories share may stay)"
                .to_string()
        }
    )
}

/// The ledger as a table.
pub fn print_usage(usage: &Usage) {
    let rows: Vec<Vec<String>> = usage
        .entries
        .iter()
        .map(|e| {
            vec![
                e.name.clone(),
                format::size(e.bytes),
                format::size(e.frees),
                format::size(e.shared),
            ]
        })
        .collect();
    format::table(&["NAME", "SIZE", "FREES", "SHARED"], &rows);
    // With repositories unread, a registry's total misses theirs and a repository's "frees"
    // counts blobs only they share: the words say which way each figure is off.
    let whole_registry = !usage.scope.contains('/');
    let (at_least, at_most) = match (usage.complete, whole_registry) {
        (true, _) => ("", ""),
        // The whole registry's frees is its total: both miss what was not read.
        (false, true) => ("at least ", "at least "),
        (false, false) => ("", "at most "),
    };
    println!(
        "{}: {at_least}{} in all, deleting it frees {at_most}{}, {} shared{}",
        usage.scope,
        format::size(usage.bytes),
        format::size(usage.frees),
        format::size(usage.shared),
        if usage.coverage.capped() {
            format!(" ({})", counted(&usage.coverage))
        } else if usage.complete {
            String::new()
        } else {
            " (the catalog is hidden: sharing with other repositories is not known)".to_string()
        }
    );
}

/// How far the reading got on a registry with more repositories than a plan or a ledger reads.
fn counted(coverage: &Coverage) -> String {
    format!(
        "counted {} of {} repositories, in name order through {}; blobs shared only with the {} not read count as held alone",
        coverage.counted,
        coverage.listed,
        coverage.through.as_deref().unwrap_or("none"),
        coverage.listed - coverage.counted
    )
}

pub async fn local_registry(
    command: LocalRegistryCommand,
    context: &Context,
) -> Result<(), Failure> {
    let reg = LocalRegistry::default();
    let status = match command {
        LocalRegistryCommand::Start => reg.start_detached().await?,
        LocalRegistryCommand::Stop => reg.stop().await,
        LocalRegistryCommand::Status => reg.status().await,
    };
    print_status(&status, context);
    Ok(())
}

fn print_status(st: &LocalRegistryStatus, context: &Context) {
    if context.json {
        format::print_json(st);
        return;
    }
    let state = match (st.running, st.answering) {
        (true, _) => "running (managed by Slipway)",
        (false, true) => "another registry answers there",
        (false, false) => "stopped",
    };
    println!("address:  {}", st.address);
    println!("state:    {state}");
    println!("backend:  {}", st.backend);
    println!("data dir: {}", st.data_dir);
    if let Some(hint) = &st.hint {
        println!("hint:     {hint}");
    }
}

/// `slipway gc [HOST] [--dry-run]`: the managed registry's garbage collection, or for another
/// registry what its operator has to run.
pub async fn gc(host: Option<String>, dry_run: bool, context: &Context) -> Result<(), Failure> {
    let reg = LocalRegistry::default();
    let managed = reg.options().address.clone();
    if let Some(host) = host.filter(|h| *h != managed) {
        println!("{}", registry_gc::operator_instructions(&host));
        return Ok(());
    }
    let report = registry_gc::garbage_collect(&reg, dry_run).await?;
    if context.json {
        format::print_json(&report);
        return Ok(());
    }
    for blob in &report.blobs {
        let verb = if dry_run { "would delete" } else { "deleted" };
        println!("{verb} blob {} ({})", blob.digest, format::size(blob.size));
    }
    if dry_run {
        println!(
            "would free {} ({} blobs) on {managed}",
            format::size(report.bytes),
            report.blobs.len()
        );
    } else {
        println!(
            "freed {} on disk ({} blobs) on {managed}{}",
            format::size(report.freed),
            report.blobs.len(),
            if report.restarted {
                "; the registry was stopped for the run and started again"
            } else {
                ""
            }
        );
    }
    println!("collected by {}", report.backend);
    Ok(())
}

impl From<local_registry::LocalRegistryError> for Failure {
    fn from(e: local_registry::LocalRegistryError) -> Self {
        Failure::from(slipway_core::ErrorDto::from(e))
    }
}

impl From<registry_gc::GcError> for Failure {
    fn from(e: registry_gc::GcError) -> Self {
        Failure::from(slipway_core::ErrorDto::from(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(complete: bool, counted: usize, listed: usize) -> DeletePlan {
        DeletePlan {
            repository: "127.0.0.1:5000/zz/app".to_string(),
            scope: DeleteScope::Tag,
            manifests: vec![],
            tags: vec!["1".to_string()],
            kept: vec![],
            frees: 2048,
            complete,
            coverage: Coverage {
                counted,
                listed,
                through: Some("many/r019".to_string()),
            },
            empties_repository: None,
        }
    }

    #[test]
    fn a_plan_past_the_cap_says_how_far_it_counted_and_that_frees_is_at_most() {
        let line = frees_line(&plan(false, 21, 50), true);
        assert!(line.starts_with("would free at most 2"), "{line}");
        assert!(
            line.contains("counted 21 of 50 repositories, in name order through many/r019"),
            "{line}"
        );
        assert!(line.contains("the 29 not read"), "{line}");
    }

    #[test]
    fn a_complete_plan_needs_no_footnote() {
        let line = frees_line(&plan(true, 3, 3), false);
        assert!(!line.contains("at most") && !line.contains('('), "{line}");
    }
}
