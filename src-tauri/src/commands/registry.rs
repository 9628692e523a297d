//! The registry browser and push: every command names a profile, and the profile says how to
//! reach the registry (HTTP allowed, CA file, credentials from the store).

use std::sync::Arc;

use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use slipway_core::profiles::{ProfileStore, RegistryProfile};
use slipway_core::push::{PushEvent, PushOutcome, PushRequest};
use slipway_core::registry::{
    self, Capabilities, CopyEvent, CopyOutcome, DeleteOutcome, PlatformChoice, RemoteImageDto,
};
use tauri::ipc::Channel;
use tauri::State;

use crate::commands::ops::Ops;
use crate::error::CmdResult;
use crate::state::EngineConn;

fn profile(name: &str) -> CmdResult<RegistryProfile> {
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

#[derive(Serialize)]
pub struct CatalogPage {
    pub repositories: Vec<String>,
    /// The last name of this page when more follow; pass it back as `last` for the next page.
    pub next: Option<String>,
}

/// One page of the catalog, after `last` (exclusive), at most `n` names.
#[tauri::command]
pub async fn registry_catalog(
    profile: String,
    last: Option<String>,
    n: Option<usize>,
) -> CmdResult<CatalogPage> {
    let p = self::profile(&profile)?;
    let all = registry::catalog(&p.address, &p.access()).await?;
    Ok(page_of(all, last.as_deref(), n.unwrap_or(100)))
}

/// Pages a full catalog the way the distribution spec pages `/v2/_catalog` (`last` and `n`), so
/// the page can load a large catalog a screen at a time.
fn page_of(mut all: Vec<String>, last: Option<&str>, n: usize) -> CatalogPage {
    all.sort();
    let start = last.map_or(0, |l| all.partition_point(|r| r.as_str() <= l));
    let page: Vec<String> = all.iter().skip(start).take(n.max(1)).cloned().collect();
    let next = (start + page.len() < all.len())
        .then(|| page.last().cloned())
        .flatten();
    CatalogPage {
        repositories: page,
        next,
    }
}

#[derive(Serialize)]
pub struct TagRow {
    pub tag: String,
    pub digest: Option<String>,
    pub size: Option<u64>,
    pub created: Option<String>,
    pub platforms: Vec<String>,
    /// Why the details are missing, when the manifest could not be read.
    pub error: Option<String>,
}

/// The tags of a repository with digest, size, created and platforms (a few manifests at a time).
#[tauri::command]
pub async fn registry_tags(profile: String, repository: String) -> CmdResult<Vec<TagRow>> {
    let p = Arc::new(self::profile(&profile)?);
    let mut tags = registry::tags(&p.reference(&repository), &p.access()).await?;
    tags.sort();
    let rows = stream::iter(tags)
        .map(|tag| {
            let (p, repository) = (p.clone(), repository.clone());
            async move {
                match registry::inspect(
                    &p.reference(&format!("{repository}:{tag}")),
                    &p.access(),
                    None,
                )
                .await
                {
                    Ok(d) => TagRow {
                        tag,
                        digest: Some(d.digest),
                        size: Some(d.total_size),
                        created: d.created,
                        platforms: if d.platforms.is_empty() {
                            d.platform.into_iter().collect()
                        } else {
                            d.platforms
                        },
                        error: None,
                    },
                    Err(e) => TagRow {
                        tag,
                        digest: None,
                        size: None,
                        created: None,
                        platforms: vec![],
                        error: Some(e.to_string()),
                    },
                }
            }
        })
        .buffered(4)
        .collect()
        .await;
    Ok(rows)
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

/// Deletes the manifest the tag points at; every tag on that digest goes with it.
#[tauri::command]
pub async fn registry_delete_tag(
    profile: String,
    repository: String,
    tag: String,
) -> CmdResult<DeleteOutcome> {
    let p = self::profile(&profile)?;
    Ok(registry::delete(&p.reference(&format!("{repository}:{tag}")), &p.access()).await?)
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

#[cfg(test)]
mod tests {
    use super::page_of;

    #[test]
    fn issue_4_catalog_pages_follow_last_and_n() {
        let all: Vec<String> = ["c", "a", "e", "b", "d"].map(String::from).to_vec();
        let first = page_of(all.clone(), None, 2);
        assert_eq!(first.repositories, ["a", "b"]);
        assert_eq!(first.next.as_deref(), Some("b"));
        let second = page_of(all.clone(), first.next.as_deref(), 2);
        assert_eq!(second.repositories, ["c", "d"]);
        let last = page_of(all, second.next.as_deref(), 2);
        assert_eq!(last.repositories, ["e"]);
        assert_eq!(last.next, None);
    }
}
