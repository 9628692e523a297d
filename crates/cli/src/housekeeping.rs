//! Registry housekeeping: delete plans, the space ledger, the managed registry's start, stop and
//! garbage collection.

use clap::Subcommand;
use slipway_core::local_registry::{self, LocalRegistry, LocalRegistryStatus};
use slipway_core::registry::{self, DeletePlan, DeleteScope, Selection, Usage};
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
    let will = if dry_run { "would free" } else { "frees" };
    println!(
        "{will} {} after garbage collection{}",
        format::size(plan.frees),
        if plan.complete {
            ""
        } else {
            " (at most: the registry hides its catalog, so blobs other repositories share may stay)"
        }
    );
    if let Some(why) = &plan.empties_repository {
        println!("{why}");
    }
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
    println!(
        "{}: {} in all, deleting it frees {}, {} shared{}",
        usage.scope,
        format::size(usage.bytes),
        format::size(usage.frees),
        format::size(usage.shared),
        if usage.complete {
            ""
        } else {
            " (the catalog is hidden: sharing with other repositories is not known)"
        }
    );
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
