//! The registry browser and push: every command names a profile, and the profile says how to
//! reach the registry (HTTP allowed, CA file, credentials from the store). Every command that
//! talks to a registry runs under an op id, so the page can stop it (a registry that stalls ends
//! in a timeout anyway, but the user need not wait for it).

use std::sync::Arc;

use slipway_core::fetch::{FetchEvent, FetchOutcome};
use slipway_core::profiles::{ProfileStore, RegistryProfile};
use slipway_core::pull_back::{self, PullCommands};
use slipway_core::push::{PushEvent, PushOutcome, PushRequest, Route};
use slipway_core::registry::{
    self, Capabilities, CatalogPage, CopyEvent, CopyOutcome, DeletePlan, DeleteScope,
    PlatformChoice, RemoteImageDto, TagPage, TagSort,
};
use tauri::ipc::Channel;
use tauri::State;

use crate::commands::ops::Ops;
use crate::error::CmdResult;
use crate::state::EngineConn;

pub(crate) fn profile(name: &str) -> CmdResult<RegistryProfile> {
    Ok(ProfileStore::at_default_path()?.get(name)?)
}

/// Tests a profile as typed in the form (saved or not): what the registry allows.
#[tauri::command]
pub async fn profile_test(
    ops: State<'_, Ops>,
    profile: RegistryProfile,
    password: Option<String>,
    op_id: String,
) -> CmdResult<Capabilities> {
    slipway_core::profiles::validate_address(&profile.address)?;
    let access = profile.access_with_password(password.as_deref());
    ops.run(&op_id, async {
        Ok(registry::probe(&profile.address, &access).await?)
    })
    .await
}

/// One page of the catalog, after `last` (exclusive), at most `n` names.
#[tauri::command]
pub async fn registry_catalog(
    ops: State<'_, Ops>,
    profile: String,
    last: Option<String>,
    n: Option<usize>,
    op_id: String,
) -> CmdResult<CatalogPage> {
    let p = self::profile(&profile)?;
    let (access, n) = (p.access(), n.unwrap_or(100));
    let page = registry::catalog_page(&p.address, &access, last.as_deref(), n);
    ops.run(&op_id, async { Ok(page.await?) }).await
}

/// One page of a repository's tags in `sort` order, with digest, size, created and platforms.
#[tauri::command]
pub async fn registry_tags(
    ops: State<'_, Ops>,
    profile: String,
    repository: String,
    sort: Option<TagSort>,
    offset: Option<usize>,
    limit: Option<usize>,
    op_id: String,
) -> CmdResult<TagPage> {
    let p = self::profile(&profile)?;
    let (sort, offset, limit) = (
        sort.unwrap_or_default(),
        offset.unwrap_or(0),
        limit.unwrap_or(100),
    );
    let (reference, access) = (p.reference(&repository), p.access());
    ops.run(&op_id, async {
        Ok(registry::tag_page(&reference, &access, sort, offset, limit).await?)
    })
    .await
}

#[tauri::command]
pub async fn registry_tag_details(
    ops: State<'_, Ops>,
    profile: String,
    repository: String,
    tag: String,
    op_id: String,
) -> CmdResult<RemoteImageDto> {
    let p = self::profile(&profile)?;
    let (reference, access) = (p.reference(&format!("{repository}:{tag}")), p.access());
    ops.run(&op_id, async {
        Ok(registry::inspect(&reference, &access, None).await?)
    })
    .await
}

/// Deletes the tag alone; other tags on its digest stay.
#[tauri::command]
pub async fn registry_delete_tag(
    ops: State<'_, Ops>,
    profile: String,
    repository: String,
    tag: String,
    op_id: String,
) -> CmdResult<DeletePlan> {
    let p = self::profile(&profile)?;
    let (reference, access) = (p.reference(&format!("{repository}:{tag}")), p.access());
    ops.run(&op_id, async {
        Ok(registry::delete(&reference, &access, DeleteScope::Tag).await?)
    })
    .await
}

/// Copies `source` from one registry into `target` on another, one event per blob.
#[tauri::command]
pub async fn registry_copy(
    ops: State<'_, Ops>,
    from_profile: String,
    source: String,
    to_profile: String,
    target: String,
    op_id: String,
    on_progress: Channel<CopyEvent>,
) -> CmdResult<CopyOutcome> {
    let (from, to) = (self::profile(&from_profile)?, self::profile(&to_profile)?);
    let progress: registry::CopyProgress = Arc::new(move |ev| {
        let _ = on_progress.send(ev);
    });
    ops.run(&op_id, async {
        Ok(registry::copy(
            &from.reference(&source),
            &to.reference(&target),
            &from.access(),
            &to.access(),
            PlatformChoice::All,
            Some(progress),
        )
        .await?)
    })
    .await
}

/// Pushes a local image to `target` (`repo:tag`) on the profile's registry, per-blob progress;
/// `route` as core's, `auto` when the page sends none.
#[tauri::command]
// Tauri passes each argument by name from the page; a struct would only rename them.
#[allow(clippy::too_many_arguments)]
pub async fn image_push(
    engine: State<'_, EngineConn>,
    ops: State<'_, Ops>,
    source: String,
    profile: String,
    target: String,
    route: Option<Route>,
    op_id: String,
    on_progress: Channel<PushEvent>,
) -> CmdResult<PushOutcome> {
    let p = self::profile(&profile)?;
    let slipway = engine.get().await?;
    let request = PushRequest {
        image: source,
        target: p.reference(&target),
        access: p.access(),
        route: route.unwrap_or_default(),
        ..Default::default()
    };
    let progress: slipway_core::push::PushProgress = Arc::new(move |ev| {
        let _ = on_progress.send(ev);
    });
    ops.run(&op_id, async { Ok(slipway.push(request, progress).await?) })
        .await
}

/// Pulls `path` (`repo:tag` or `repo@digest`) from the profile's registry into the engine
/// through core's fetch, so the profile's HTTP, CA and credentials apply; per-layer progress.
#[tauri::command]
pub async fn registry_fetch(
    engine: State<'_, EngineConn>,
    ops: State<'_, Ops>,
    profile: String,
    path: String,
    op_id: String,
    on_progress: Channel<FetchEvent>,
) -> CmdResult<FetchOutcome> {
    let p = self::profile(&profile)?;
    let slipway = engine.get().await?;
    let progress: slipway_core::fetch::FetchProgress = Arc::new(move |ev| {
        let _ = on_progress.send(ev);
    });
    ops.run(&op_id, async {
        Ok(slipway
            .fetch(
                slipway_core::fetch::FetchRequest {
                    reference: p.reference(&path),
                    access: p.access(),
                    ..Default::default()
                },
                progress,
            )
            .await?)
    })
    .await
}

/// The profile whose registry holds `reference`, if any: Images -> Pull then fetches through it
/// instead of asking the engine.
#[tauri::command]
pub fn pull_profile(reference: String) -> CmdResult<Option<String>> {
    let profiles = ProfileStore::at_default_path()?.list()?;
    Ok(pull_back::profile_for(&profiles, &reference)?.map(|p| p.name.clone()))
}

/// `docker pull` commands for a tag, by tag and by digest, for the browser's copy buttons.
#[tauri::command]
pub fn registry_pull_commands(
    profile: String,
    repository: String,
    tag: String,
    digest: String,
) -> CmdResult<PullCommands> {
    let p = self::profile(&profile)?;
    Ok(pull_back::pull_commands(&p, &repository, &tag, &digest))
}
