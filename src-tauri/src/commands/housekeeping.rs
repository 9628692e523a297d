//! Registry housekeeping in the window: delete plans (shown before anything is deleted) and their
//! execution, the space ledger, garbage collection, and the "use from another machine" snippets.

use slipway_core::local_registry::LocalRegistry;
use slipway_core::registry::{self, DeletePlan, DeleteScope, Elsewhere, Selection, Usage};
use slipway_core::registry_gc::{self, GcReport};
use tauri::State;

use crate::commands::registry::profile;
use crate::error::{app_error, CmdResult};

/// The plan for deleting `tag` (with `all_tags`, its manifest and every tag on it), or without a
/// tag the tags `selection` picks.
#[tauri::command]
pub async fn registry_delete_plan(
    profile: String,
    repository: String,
    tag: Option<String>,
    all_tags: bool,
    selection: Option<Selection>,
) -> CmdResult<DeletePlan> {
    let p = self::profile(&profile)?;
    let access = p.access();
    Ok(match tag {
        Some(tag) => {
            let scope = if all_tags {
                DeleteScope::Manifest
            } else {
                DeleteScope::Tag
            };
            registry::delete_plan(&p.reference(&format!("{repository}:{tag}")), &access, scope)
                .await?
        }
        None => {
            let selection = selection.unwrap_or_default();
            registry::bulk_plan(&p.reference(&repository), &access, &selection).await?
        }
    })
}

/// Carries out a plan the page showed; only on the profile's own registry.
#[tauri::command]
pub async fn registry_delete_execute(profile: String, plan: DeletePlan) -> CmdResult<DeletePlan> {
    let p = self::profile(&profile)?;
    if !plan.repository.starts_with(&p.reference("")) {
        return Err(app_error(
            "invalid_input",
            format!(
                "the plan is for {}, not for profile {profile}",
                plan.repository
            ),
        ));
    }
    Ok(registry::execute(&plan, &p.access()).await?)
}

/// The ledger of the profile's registry, or of one repository when given.
#[tauri::command]
pub async fn registry_usage(profile: String, repository: Option<String>) -> CmdResult<Usage> {
    let p = self::profile(&profile)?;
    let scope = repository.map_or_else(|| p.address.clone(), |r| p.reference(&r));
    Ok(registry::usage(&scope, &p.access()).await?)
}

/// Garbage collection of the managed registry: a dry run, or the real run with bytes freed.
#[tauri::command]
pub async fn local_registry_gc(
    reg: State<'_, LocalRegistry>,
    dry_run: bool,
) -> CmdResult<GcReport> {
    Ok(registry_gc::garbage_collect(&reg, dry_run).await?)
}

/// What the operator of a registry Slipway does not manage runs to get the space back.
#[tauri::command]
pub async fn registry_gc_instructions(profile: String) -> CmdResult<String> {
    Ok(registry_gc::operator_instructions(
        &self::profile(&profile)?.address,
    ))
}

/// The daemon.json / certs.d / containerd / Podman / k3s snippets for a profile's registry.
#[tauri::command]
pub async fn registry_elsewhere(profile: String) -> CmdResult<Elsewhere> {
    let p = self::profile(&profile)?;
    Ok(registry::elsewhere(
        &p.address,
        p.allow_http,
        p.ca_file.as_deref(),
    ))
}
