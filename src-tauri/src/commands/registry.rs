//! The registry browser and push: every command names a profile, and the profile says how to
//! reach the registry (HTTP allowed, CA file, credentials from the store).

use std::sync::Arc;

use slipway_core::profiles::{ProfileStore, RegistryProfile};
use slipway_core::push::{PushEvent, PushOutcome, PushRequest};
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
    profile: RegistryProfile,
    password: Option<String>,
) -> CmdResult<Capabilities> {
    slipway_core::profiles::validate_address(&profile.address)?;
    let access = profile.access_with_password(password.as_deref());
    Ok(registry::probe(&profile.address, &access).await?)
}

/// One page of the catalog, after `last` (exclusive), at most `n` names.
#[tauri::command]
pub async fn registry_catalog(
    profile: String,
    last: Option<String>,
    n: Option<usize>,
) -> CmdResult<CatalogPage> {
    let p = self::profile(&profile)?;
    Ok(registry::catalog_page(&p.address, &p.access(), last.as_deref(), n.unwrap_or(100)).await?)
}

/// One page of a repository's tags in `sort` order, with digest, size, created and platforms.
#[tauri::command]
pub async fn registry_tags(
    profile: String,
    repository: String,
    sort: Option<TagSort>,
    offset: Option<usize>,
    limit: Option<usize>,
) -> CmdResult<TagPage> {
    let p = self::profile(&profile)?;
    let (sort, offset, limit) = (
        sort.unwrap_or_default(),
        offset.unwrap_or(0),
        limit.unwrap_or(100),
    );
    Ok(registry::tag_page(&p.reference(&repository), &p.access(), sort, offset, limit).await?)
}

#[tauri::command]
pub async fn registry_tag_details(
    profile: String,
    repository: String,
    tag: String,
) -> CmdResult<RemoteImageDto> {
    let p = self::profile(&profile)?;
    Ok(registry::inspect(
        &p.reference(&format!("{repository}:{tag}")),
        &p.access(),
        None,
    )
    .await?)
}

/// Deletes the tag alone; other tags on its digest stay.
#[tauri::command]
pub async fn registry_delete_tag(
    profile: String,
    repository: String,
    tag: String,
) -> CmdResult<DeletePlan> {
    let p = self::profile(&profile)?;
    let reference = p.reference(&format!("{repository}:{tag}"));
    Ok(registry::delete(&reference, &p.access(), DeleteScope::Tag).await?)
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

/// Pushes a local image to `target` (`repo:tag`) on the profile's registry, per-blob progress.
#[tauri::command]
pub async fn image_push(
    engine: State<'_, EngineConn>,
    ops: State<'_, Ops>,
    source: String,
    profile: String,
    target: String,
    op_id: String,
    on_progress: Channel<PushEvent>,
) -> CmdResult<PushOutcome> {
    let p = self::profile(&profile)?;
    let slipway = engine.get().await?;
    let request = PushRequest {
        image: source,
        target: p.reference(&target),
        access: p.access(),
        ..Default::default()
    };
    let progress: slipway_core::push::PushProgress = Arc::new(move |ev| {
        let _ = on_progress.send(ev);
    });
    ops.run(&op_id, async { Ok(slipway.push(request, progress).await?) })
        .await
}
