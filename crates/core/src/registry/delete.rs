//! Deleting what the user meant: one tag, a manifest with all its tags, or a selection of tags,
//! always as a plan first that names every tag and manifest that goes and the bytes it frees.
//!
//! The [distribution spec](https://github.com/opencontainers/distribution-spec/blob/main/spec.md#deleting-tags)
//! deletes a manifest by digest, and the reference registry then drops every tag that points at
//! it. A tag alone is deleted with `DELETE /v2/<name>/manifests/<tag>` where the registry allows
//! it: "If tag deletion is disabled, the registry MUST respond with either a 400 Bad Request or a
//! 405 Method Not Allowed". The reference registry 2.x answers 400, so [`delete_one_tag`] moves the
//! tag onto a tiny manifest of its own and deletes that one by digest, which takes no other tag
//! with it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};
use ts_rs::TS;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use slipway_oci::{BlobSource, Client, Digest, TagDelete};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::ledger::{Coverage, Inventory, MAX_REPOSITORIES};
use super::tags::{compare_versions, date_of, tag_page, TagSort, EMPTY_REPOSITORY};
use super::{parse, RegistryAccess};
use crate::{Error, Result};

/// What a delete of one reference takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum DeleteScope {
    /// The tag named, and nothing else; other tags on the same digest stay.
    #[default]
    Tag,
    /// The manifest the reference names and every tag on it.
    Manifest,
}

/// Which tags of a repository a bulk delete takes. Each given criterion narrows the choice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Selection {
    /// Exactly these tags (checkboxes); empty means every tag.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Tags matching this: a glob with `*` and `?` when it has one, else a substring.
    #[serde(default)]
    pub filter: Option<String>,
    /// Only tags created before this: an RFC 3339 time or an age like `30d`, `12h`, `2w`.
    #[serde(default)]
    pub older_than: Option<String>,
    /// Spare the newest N of the tags chosen so far (by the config's `created`).
    #[serde(default)]
    pub keep_newest: Option<usize>,
}

/// One manifest a plan touches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PlannedManifest {
    pub digest: String,
    /// Its tags that go.
    pub tags: Vec<String>,
    /// Its tags that stay; when empty, the manifest itself is deleted.
    pub stay: Vec<String>,
}

/// Everything a delete will do, shown before anything is deleted; after [`execute`], what it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DeletePlan {
    /// `host/repo`.
    pub repository: String,
    pub scope: DeleteScope,
    pub manifests: Vec<PlannedManifest>,
    /// Every tag that goes, in version order.
    pub tags: Vec<String>,
    /// The repository's tags that stay.
    pub kept: Vec<String>,
    /// Bytes garbage collection frees afterwards (see [`super::ledger`]).
    pub frees: u64,
    /// False when the registry hides its catalog or has more repositories than were read, so
    /// `frees` may count blobs that other repositories still use: it is then at most what
    /// garbage collection frees.
    pub complete: bool,
    /// How many of the registry's repositories `frees` took into account.
    pub coverage: Coverage,
    /// Said when the repository is left without tags (see [`EMPTY_REPOSITORY`]).
    pub empties_repository: Option<String>,
}

impl DeletePlan {
    /// The digests whose manifests are deleted outright.
    pub fn deleted_manifests(&self) -> impl Iterator<Item = &str> {
        self.manifests
            .iter()
            .filter(|m| m.stay.is_empty())
            .map(|m| m.digest.as_str())
    }
}

/// The plan for deleting `reference` (`host/repo:tag` or `host/repo@digest`): the tag alone, or
/// with [`DeleteScope::Manifest`] (always, for a digest) the manifest and all its tags.
pub async fn delete_plan(
    reference: &str,
    access: &RegistryAccess,
    scope: DeleteScope,
) -> Result<DeletePlan> {
    delete_plan_within(reference, access, scope, MAX_REPOSITORIES).await
}

/// [`delete_plan`], taking at most `max_repositories` of the catalog into account for `frees`
/// (see [`Coverage`]); the repository of `reference` is always read whole.
pub async fn delete_plan_within(
    reference: &str,
    access: &RegistryAccess,
    scope: DeleteScope,
    max_repositories: usize,
) -> Result<DeletePlan> {
    let r = parse(reference)?;
    let (registry, repo) = (r.registry().to_string(), r.repository().to_string());
    let inventory = Inventory::load(&registry, access, Some(&repo), max_repositories).await?;
    let not_found = || {
        Error::Registry(slipway_oci::Error::NotFound {
            registry: registry.clone(),
            what: format!("manifest {r}"),
        })
    };
    let (digest, scope) = match r.digest() {
        Some(d) => (d.to_string(), DeleteScope::Manifest),
        None => {
            let tag = r.tag().unwrap_or("latest");
            let digest = inventory.digest_of(&repo, tag).ok_or_else(not_found)?;
            if scope == DeleteScope::Tag {
                let chosen = BTreeSet::from([tag.to_string()]);
                return Ok(plan(&inventory, &registry, &repo, chosen, scope));
            }
            (digest.to_string(), scope)
        }
    };
    let chosen: BTreeSet<String> = inventory.tags_on(&repo, &digest).into_iter().collect();
    if chosen.is_empty() {
        // An untagged manifest: deleting it by digest is all there is to do.
        let kept = inventory
            .tags
            .get(&repo)
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default();
        return Ok(DeletePlan {
            repository: format!("{registry}/{repo}"),
            scope,
            manifests: vec![PlannedManifest {
                digest,
                tags: vec![],
                stay: vec![],
            }],
            tags: vec![],
            kept,
            frees: 0,
            complete: inventory.complete,
            coverage: inventory.coverage.clone(),
            empties_repository: None,
        });
    }
    Ok(plan(&inventory, &registry, &repo, chosen, scope))
}

/// The plan for deleting the tags of `repository` (`host/repo`) that `selection` picks.
pub async fn bulk_plan(
    repository: &str,
    access: &RegistryAccess,
    selection: &Selection,
) -> Result<DeletePlan> {
    let r = parse(repository)?;
    let (registry, repo) = (r.registry().to_string(), r.repository().to_string());
    let inventory = Inventory::load(&registry, access, Some(&repo), MAX_REPOSITORIES).await?;
    let dated = if selection.older_than.is_some() || selection.keep_newest.is_some() {
        tag_page(repository, access, TagSort::Date, 0, usize::MAX)
            .await?
            .rows
            .into_iter()
            .map(|row| (row.tag, row.created))
            .collect()
    } else {
        Vec::new()
    };
    let all: Vec<String> = inventory
        .tags
        .get(&repo)
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default();
    let chosen = select(&all, &dated, selection, OffsetDateTime::now_utc())?;
    Ok(plan(&inventory, &registry, &repo, chosen, DeleteScope::Tag))
}

/// Applies a selection to a repository's tags; `dated` is every tag with its `created`, newest
/// first (needed only for `older_than` and `keep_newest`).
pub fn select(
    all: &[String],
    dated: &[(String, Option<String>)],
    selection: &Selection,
    now: OffsetDateTime,
) -> Result<BTreeSet<String>> {
    for tag in &selection.tags {
        if !all.contains(tag) {
            return Err(Error::NotFound(format!(
                "tag `{tag}` is not in this repository; choose one from its tag list"
            )));
        }
    }
    let mut chosen: Vec<String> = all
        .iter()
        .filter(|t| selection.tags.is_empty() || selection.tags.contains(t))
        .filter(|t| selection.filter.as_deref().is_none_or(|f| matches(f, t)))
        .cloned()
        .collect();
    if let Some(n) = selection.keep_newest {
        let newest: Vec<&String> = dated
            .iter()
            .map(|(t, _)| t)
            .filter(|t| chosen.contains(t))
            .take(n)
            .collect();
        let spared: BTreeSet<String> = newest.into_iter().cloned().collect();
        chosen.retain(|t| !spared.contains(t));
    }
    if let Some(limit) = &selection.older_than {
        let cutoff = cutoff(limit, now)?;
        let created: BTreeMap<&str, Option<OffsetDateTime>> = dated
            .iter()
            .map(|(t, c)| (t.as_str(), date_of(c.as_deref())))
            .collect();
        // A tag without a readable date is never "older than" anything: it stays.
        chosen.retain(|t| matches!(created.get(t.as_str()), Some(Some(d)) if *d < cutoff));
    }
    Ok(chosen.into_iter().collect())
}

fn cutoff(limit: &str, now: OffsetDateTime) -> Result<OffsetDateTime> {
    if let Ok(at) = OffsetDateTime::parse(limit, &Rfc3339) {
        return Ok(at);
    }
    let bad = || {
        Error::InvalidInput(format!(
            "`{limit}` is neither an age (30d, 12h, 2w) nor an RFC 3339 time (2024-05-01T00:00:00Z)"
        ))
    };
    let split = limit.len().checked_sub(1).ok_or_else(bad)?;
    let (n, unit) = limit.split_at(split);
    let n: i64 = n.parse().map_err(|_| bad())?;
    let age = match unit {
        "h" => Duration::hours(n),
        "d" => Duration::days(n),
        "w" => Duration::weeks(n),
        _ => return Err(bad()),
    };
    Ok(now - age)
}

/// A glob with `*` and `?` over the whole tag, or a substring when there is neither.
fn matches(pattern: &str, tag: &str) -> bool {
    if !pattern.contains(['*', '?']) {
        return tag.contains(pattern);
    }
    fn glob(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => glob(&p[1..], t) || (!t.is_empty() && glob(p, &t[1..])),
            (Some(b'?'), Some(_)) => glob(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => glob(&p[1..], &t[1..]),
            _ => false,
        }
    }
    glob(pattern.as_bytes(), tag.as_bytes())
}

/// The plan for deleting `chosen` tags of `repo`: grouped by manifest, what stays, what it frees.
fn plan(
    inventory: &Inventory,
    registry: &str,
    repo: &str,
    chosen: BTreeSet<String>,
    scope: DeleteScope,
) -> DeletePlan {
    let mut by_digest: BTreeMap<String, PlannedManifest> = BTreeMap::new();
    let mut kept = Vec::new();
    if let Some(tags) = inventory.tags.get(repo) {
        for (tag, digest) in tags {
            let m = by_digest
                .entry(digest.clone())
                .or_insert_with(|| PlannedManifest {
                    digest: digest.clone(),
                    tags: vec![],
                    stay: vec![],
                });
            if chosen.contains(tag) {
                m.tags.push(tag.clone());
            } else {
                m.stay.push(tag.clone());
                kept.push(tag.clone());
            }
        }
    }
    let mut manifests: Vec<PlannedManifest> = by_digest
        .into_values()
        .filter(|m| !m.tags.is_empty())
        .map(|mut m| {
            m.tags.sort_by(|a, b| compare_versions(a, b));
            m.stay.sort_by(|a, b| compare_versions(a, b));
            m
        })
        .collect();
    manifests.sort_by(|a, b| compare_versions(&a.tags[0], &b.tags[0]));
    let mut tags: Vec<String> = manifests.iter().flat_map(|m| m.tags.clone()).collect();
    tags.sort_by(|a, b| compare_versions(a, b));
    kept.sort_by(|a, b| compare_versions(a, b));
    let pairs: Vec<(String, String)> = tags.iter().map(|t| (repo.to_string(), t.clone())).collect();
    DeletePlan {
        repository: format!("{registry}/{repo}"),
        scope,
        frees: inventory.frees(&pairs),
        complete: inventory.complete,
        coverage: inventory.coverage.clone(),
        empties_repository: (kept.is_empty() && !tags.is_empty())
            .then(|| EMPTY_REPOSITORY.to_string()),
        manifests,
        tags,
        kept,
    }
}

/// Carries out a plan: a manifest none of whose tags stay is deleted by digest; otherwise each
/// planned tag is deleted alone. Returns the plan, now a record of what was deleted.
pub async fn execute(plan: &DeletePlan, access: &RegistryAccess) -> Result<DeletePlan> {
    let r = parse(&plan.repository)?;
    let client = access.client(r.registry())?;
    let repo = r.repository();
    for m in &plan.manifests {
        let digest = Digest::parse(&m.digest).map_err(slipway_oci::Error::from)?;
        if m.stay.is_empty() {
            client.delete_manifest(repo, &digest).await?;
        } else {
            for tag in &m.tags {
                delete_one_tag(&client, repo, tag, &digest).await?;
            }
        }
    }
    Ok(plan.clone())
}

/// Plans and deletes `reference` in one go (see [`delete_plan`]).
pub async fn delete(
    reference: &str,
    access: &RegistryAccess,
    scope: DeleteScope,
) -> Result<DeletePlan> {
    execute(&delete_plan(reference, access, scope).await?, access).await
}

/// Deletes `repo:tag`, which points at `digest`, leaving every other tag on that digest alone.
///
/// Where the registry refuses a tag DELETE, the tag is moved onto a manifest of its own (an
/// empty OCI image whose annotation names the tag and the time, so no other tag can share its
/// digest) and that manifest is deleted by digest. Should that delete fail, the tag is put back
/// on its manifest, so a refused delete changes nothing.
pub async fn delete_one_tag(client: &Client, repo: &str, tag: &str, digest: &Digest) -> Result<()> {
    if client.delete_tag(repo, tag).await? == TagDelete::Deleted {
        return Ok(());
    }
    // A registry with deletes disabled also answers 405 to a tag; asking it to delete a digest
    // nobody has tells the two apart (404 when deletes work) before anything is changed.
    let nobody = Digest::sha256_of(format!("slipway-delete-probe {repo}:{tag}").as_bytes());
    match client.delete_manifest(repo, &nobody).await {
        Ok(()) | Err(slipway_oci::Error::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let original = client.get_manifest(repo, &digest.to_string()).await?;
    let now = client.head_manifest(repo, tag).await?;
    if now.as_ref().map(|h| &h.digest) != Some(digest) {
        return Err(Error::Conflict(format!(
            "{repo}:{tag} no longer points at {digest} (it was changed since the plan was made); list the tags again and retry"
        )));
    }
    let config = Bytes::from_static(b"{}");
    let config_digest = Digest::sha256_of(&config);
    if client.blob_exists(repo, &config_digest).await?.is_none() {
        client
            .push_blob(
                repo,
                &config_digest,
                config.len() as u64,
                BlobSource::Bytes(config.clone()),
                None,
            )
            .await?;
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let tombstone = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.empty.v1+json",
            "digest": config_digest.to_string(),
            "size": config.len(),
        },
        "layers": [],
        "annotations": { "dev.slipway.deleted-tag": format!("{repo}:{tag} {nanos}") },
    });
    let bytes = Bytes::from(tombstone.to_string());
    let moved = client.put_manifest(repo, tag, OCI_MANIFEST, bytes).await?;
    if let Err(e) = client.delete_manifest(repo, &moved).await {
        // Put the tag back where it was; the tombstone becomes untagged and GC removes it.
        client
            .put_manifest(repo, tag, &original.media_type, original.bytes.clone())
            .await?;
        return Err(e.into());
    }
    Ok(())
}

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse("2024-06-30T00:00:00Z", &Rfc3339).unwrap()
    }

    /// Newest first, as the date sort gives them.
    fn dated() -> Vec<(String, Option<String>)> {
        [
            ("5", Some("2024-06-29T00:00:00Z")),
            ("4", Some("2024-06-20T00:00:00Z")),
            ("feature-b", Some("2024-06-10T00:00:00Z")),
            ("3", Some("2024-05-01T00:00:00Z")),
            ("feature-a", Some("2024-04-01T00:00:00Z")),
            ("2", Some("2024-01-01T00:00:00Z")),
            ("broken", None),
        ]
        .map(|(t, c)| (t.to_string(), c.map(str::to_string)))
        .to_vec()
    }

    fn all() -> Vec<String> {
        dated().into_iter().map(|(t, _)| t).collect()
    }

    fn pick(selection: Selection) -> Vec<String> {
        select(&all(), &dated(), &selection, now())
            .unwrap()
            .into_iter()
            .collect()
    }

    #[test]
    fn checkboxes_pick_exactly_those_tags() {
        let chosen = pick(Selection {
            tags: names(&["2", "4"]),
            ..Selection::default()
        });
        assert_eq!(chosen, ["2", "4"]);
    }

    #[test]
    fn a_filter_is_a_glob_or_a_substring() {
        let glob = pick(Selection {
            filter: Some("feature-*".into()),
            ..Selection::default()
        });
        assert_eq!(glob, ["feature-a", "feature-b"]);
        let sub = pick(Selection {
            filter: Some("oke".into()),
            ..Selection::default()
        });
        assert_eq!(sub, ["broken"]);
    }

    #[test]
    fn older_than_an_age_keeps_undated_tags() {
        let chosen = pick(Selection {
            older_than: Some("30d".into()),
            ..Selection::default()
        });
        assert_eq!(chosen, ["2", "3", "feature-a"]);
    }

    #[test]
    fn keep_newest_spares_the_newest_of_what_the_filter_chose() {
        let chosen = pick(Selection {
            filter: Some("feature-*".into()),
            keep_newest: Some(1),
            ..Selection::default()
        });
        assert_eq!(chosen, ["feature-a"]);
        let all_but_two = pick(Selection {
            keep_newest: Some(2),
            ..Selection::default()
        });
        assert_eq!(all_but_two, ["2", "3", "broken", "feature-a", "feature-b"]);
    }

    #[test]
    fn an_unknown_tag_or_age_is_refused_with_what_to_do() {
        let err = select(
            &all(),
            &dated(),
            &Selection {
                tags: names(&["nope"]),
                ..Selection::default()
            },
            now(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("its tag list"), "{err}");
        let err = select(
            &all(),
            &dated(),
            &Selection {
                older_than: Some("3 months".into()),
                ..Selection::default()
            },
            now(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("30d"), "{err}");
    }
}
