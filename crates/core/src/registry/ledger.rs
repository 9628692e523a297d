//! The space ledger: which bytes a tag, a repository or the whole registry holds alone, and which
//! it shares, computed from the manifests.
//!
//! A registry stores each blob once, whatever the number of repositories and manifests that name
//! it, and its garbage collection deletes a blob only when no manifest left names it. Manifests
//! are blobs too. So the bytes a deletion frees are the sizes of the manifests, configs and layers
//! that the deleted tags reach and that no surviving tag in any repository reaches, each counted
//! once. That is what [`Inventory::frees`] computes, and what the delete confirmation shows.
//!
//! Taking stock reads every tag's manifest of every repository, several at a time. On a registry
//! with thousands of repositories that is still too long to wait for before a delete, so at most
//! [`MAX_REPOSITORIES`] are read (in the catalog's order, plus always the one a plan is about),
//! and the plan or ledger says how far it got in its [`Coverage`]: blobs shared only with a
//! repository it did not read look held alone, so `frees` is then at most what garbage collection
//! gives back, and the registry's total at least what it holds.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use ts_rs::TS;

use futures_util::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use slipway_oci::manifests::{digest_of, ManifestKind};
use slipway_oci::Client;

use super::{parse, RegistryAccess};
use crate::Result;

/// Manifests (and tag lists) read at once while taking stock: enough to hide latency, few enough
/// not to look like a flood to a rate-limiting registry.
const IN_FLIGHT: usize = 8;

/// Repositories a plan or a ledger reads at most: at a few manifests each, what a registry
/// answers in well under a minute.
pub const MAX_REPOSITORIES: usize = 2000;

/// How much of a registry a plan or a ledger took into account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Coverage {
    /// Repositories whose tags and manifests were read.
    pub counted: usize,
    /// Repositories the catalog lists; when the registry hides its catalog, only the one asked
    /// about is known, and this is 1.
    pub listed: usize,
    /// The last repository read in the catalog's (sorted) order: every one up to it was read,
    /// none after it, except the one a plan is about, which is always read.
    pub through: Option<String>,
}

impl Coverage {
    /// Whether the cap left repositories of the catalog unread.
    pub fn capped(&self) -> bool {
        self.counted < self.listed
    }
}

/// What a registry (or the part of it Slipway could list) holds, by tag.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// repository -> tag -> manifest digest.
    pub tags: BTreeMap<String, BTreeMap<String, String>>,
    /// manifest digest -> every blob it reaches (itself, config, layers; an index's children and
    /// theirs), each digest once.
    reach: HashMap<String, BTreeSet<String>>,
    /// blob digest -> size in bytes.
    sizes: HashMap<String, u64>,
    /// Whether every repository was read: false without the catalog (only the asked-for one is)
    /// or when the catalog lists more than the cap.
    pub complete: bool,
    /// How many repositories were read, of how many.
    pub coverage: Coverage,
}

impl Inventory {
    /// Takes stock of `registry`: the repositories of its catalog, at most `max_repositories` of
    /// them plus always `focus` (only `focus` when the catalog is refused), every tag, every
    /// manifest once.
    pub async fn load(
        registry: &str,
        access: &RegistryAccess,
        focus: Option<&str>,
        max_repositories: usize,
    ) -> Result<Inventory> {
        let client = access.client(registry)?;
        let (mut listed, catalog) = match client.catalog().await {
            Ok(all) => (all, true),
            Err(e) => match focus {
                // Without the catalog, other repositories may share the focus's blobs; the
                // figures then say what this repository holds, flagged as incomplete.
                Some(repo) => {
                    tracing::debug!("catalog refused, ledger limited to {repo}: {e}");
                    (vec![repo.to_string()], false)
                }
                None => return Err(e.into()),
            },
        };
        // Sorted, so that "read through X" means the same on every run, whatever order the
        // registry's storage lists them in.
        listed.sort();
        listed.dedup();
        let mut chosen: Vec<String> = listed.iter().take(max_repositories).cloned().collect();
        let through = chosen.last().cloned();
        if let Some(repo) = focus.filter(|f| !chosen.iter().any(|c| c == f)) {
            chosen.push(repo.to_string());
        }
        let coverage = Coverage {
            counted: chosen.len(),
            listed: listed.len().max(chosen.len()),
            through,
        };
        let mut inventory = Inventory {
            complete: catalog && !coverage.capped(),
            coverage,
            ..Inventory::default()
        };
        // Every repository read gets its entry, a repository without tags included.
        for repository in &chosen {
            inventory.tags.insert(repository.clone(), BTreeMap::new());
        }
        let tag_lists: Vec<(String, Vec<String>)> = stream::iter(chosen)
            .map(|repository| {
                let client = client.clone();
                async move {
                    let tags = client.tags(&repository).await.unwrap_or_default();
                    (repository, tags)
                }
            })
            .buffered(IN_FLIGHT)
            .collect()
            .await;
        let pairs = tag_lists
            .into_iter()
            .flat_map(|(repository, tags)| tags.into_iter().map(move |t| (repository.clone(), t)));
        // `buffered` keeps the order the pairs were given in, so the reach of an index (read
        // below, one at a time) and every figure come out the same on every run.
        let mut reads = stream::iter(pairs)
            .map(|(repository, tag)| {
                let client = client.clone();
                async move {
                    let manifest = client.get_manifest(&repository, &tag).await;
                    (repository, tag, manifest)
                }
            })
            .buffered(IN_FLIGHT);
        while let Some((repository, tag, manifest)) = reads.next().await {
            // A tag deleted while we read is simply not there any more.
            let Ok(manifest) = manifest else { continue };
            let digest = manifest.digest.to_string();
            if !inventory.reach.contains_key(&digest) {
                let reach = inventory.reach_of(&client, &repository, &manifest).await?;
                inventory.reach.insert(digest.clone(), reach);
            }
            inventory
                .tags
                .entry(repository)
                .or_default()
                .insert(tag, digest);
        }
        Ok(inventory)
    }

    async fn reach_of(
        &mut self,
        client: &Client,
        repository: &str,
        manifest: &slipway_oci::Manifest,
    ) -> Result<BTreeSet<String>> {
        let mut reach = BTreeSet::new();
        let digest = manifest.digest.to_string();
        self.sizes
            .insert(digest.clone(), manifest.bytes.len() as u64);
        reach.insert(digest);
        match &manifest.kind {
            ManifestKind::Image(image) => {
                for d in std::iter::once(image.config()).chain(image.layers().iter()) {
                    self.sizes.insert(d.digest().to_string(), d.size());
                    reach.insert(d.digest().to_string());
                }
            }
            ManifestKind::Index(index) => {
                for d in index.manifests() {
                    let child = client
                        .get_manifest(repository, &digest_of(d)?.to_string())
                        .await?;
                    let child_reach = Box::pin(self.reach_of(client, repository, &child)).await?;
                    reach.extend(child_reach);
                }
            }
        }
        Ok(reach)
    }

    /// The digest `repository:tag` points at.
    pub fn digest_of(&self, repository: &str, tag: &str) -> Option<&str> {
        self.tags.get(repository)?.get(tag).map(String::as_str)
    }

    /// Every tag of `repository` that points at `digest`, sorted.
    pub fn tags_on(&self, repository: &str, digest: &str) -> Vec<String> {
        self.tags
            .get(repository)
            .map(|t| {
                t.iter()
                    .filter(|(_, d)| *d == digest)
                    .map(|(t, _)| t.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn blobs_of<'a>(
        &'a self,
        tags: impl Iterator<Item = (&'a String, &'a String)>,
    ) -> HashSet<&'a str> {
        tags.filter_map(|(_, digest)| self.reach.get(digest))
            .flat_map(|r| r.iter().map(String::as_str))
            .collect()
    }

    fn bytes(&self, blobs: &HashSet<&str>) -> u64 {
        blobs
            .iter()
            .map(|b| self.sizes.get(*b).copied().unwrap_or(0))
            .sum()
    }

    /// The bytes garbage collection frees once the `(repository, tag)` pairs are deleted: blobs
    /// they reach that no remaining tag anywhere reaches, each once.
    pub fn frees(&self, deleted: &[(String, String)]) -> u64 {
        let gone: HashSet<(&str, &str)> = deleted
            .iter()
            .map(|(r, t)| (r.as_str(), t.as_str()))
            .collect();
        let all = self
            .tags
            .iter()
            .flat_map(|(r, tags)| tags.iter().map(move |(t, d)| (r.as_str(), t, d)));
        let (mut reached, mut kept) = (HashSet::new(), HashSet::new());
        for (repo, tag, digest) in all {
            let Some(reach) = self.reach.get(digest) else {
                continue;
            };
            let set = if gone.contains(&(repo, tag.as_str())) {
                &mut reached
            } else {
                &mut kept
            };
            set.extend(reach.iter().map(String::as_str));
        }
        let freed: HashSet<&str> = reached.difference(&kept).copied().collect();
        self.bytes(&freed)
    }

    /// The bytes every blob of the registry takes, each once.
    pub fn total(&self) -> u64 {
        self.sizes.values().sum()
    }

    /// The bytes one repository's tags reach, each blob once.
    fn repository_bytes(&self, repository: &str) -> u64 {
        self.tags
            .get(repository)
            .map(|t| self.bytes(&self.blobs_of(t.iter())))
            .unwrap_or(0)
    }
}

/// One line of the ledger: a repository, or a tag of one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct UsageEntry {
    /// `repo` for a registry's ledger, `tag` for a repository's.
    pub name: String,
    /// The manifest digest, for a tag.
    pub digest: Option<String>,
    /// Every byte it reaches, each blob once.
    pub bytes: u64,
    /// What deleting it alone frees after garbage collection: the bytes only it holds.
    pub frees: u64,
    /// `bytes - frees`: held with others (other tags on the same digest, a shared base layer).
    pub shared: u64,
}

/// The ledger of a registry (one entry per repository) or of a repository (one per tag).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Usage {
    /// `host` or `host/repo`.
    pub scope: String,
    /// The bytes the scope reaches, each blob once.
    pub bytes: u64,
    /// What deleting the whole scope frees after garbage collection.
    pub frees: u64,
    pub shared: u64,
    pub entries: Vec<UsageEntry>,
    /// False when the registry refused its catalog or had more repositories than were read, so
    /// blobs shared with repositories Slipway did not see count as held alone.
    pub complete: bool,
    /// How many repositories were read, of how many.
    pub coverage: Coverage,
}

/// The ledger of `HOST` (per repository) or `HOST/REPO` (per tag).
pub async fn usage(scope: &str, access: &RegistryAccess) -> Result<Usage> {
    usage_within(scope, access, MAX_REPOSITORIES).await
}

/// [`usage`], reading at most `max_repositories` of the catalog (see [`Coverage`]).
pub async fn usage_within(
    scope: &str,
    access: &RegistryAccess,
    max_repositories: usize,
) -> Result<Usage> {
    let (registry, repository) = match scope.split_once('/') {
        Some(_) => {
            let r = parse(scope)?;
            (r.registry().to_string(), Some(r.repository().to_string()))
        }
        None => (scope.to_string(), None),
    };
    let inventory =
        Inventory::load(&registry, access, repository.as_deref(), max_repositories).await?;
    Ok(ledger(&inventory, scope, repository.as_deref()))
}

/// The ledger of an inventory already taken.
pub fn ledger(inventory: &Inventory, scope: &str, repository: Option<&str>) -> Usage {
    let entry = |name: String, digest: Option<String>, bytes: u64, frees: u64| UsageEntry {
        name,
        digest,
        bytes,
        frees,
        shared: bytes.saturating_sub(frees),
    };
    let pairs = |repo: &str| -> Vec<(String, String)> {
        inventory
            .tags
            .get(repo)
            .map(|t| {
                t.keys()
                    .map(|tag| (repo.to_string(), tag.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    match repository {
        Some(repo) => {
            let entries = inventory
                .tags
                .get(repo)
                .map(|tags| {
                    tags.iter()
                        .map(|(tag, digest)| {
                            let bytes =
                                inventory.bytes(&inventory.blobs_of([(tag, digest)].into_iter()));
                            let frees = inventory.frees(&[(repo.to_string(), tag.clone())]);
                            entry(tag.clone(), Some(digest.clone()), bytes, frees)
                        })
                        .collect()
                })
                .unwrap_or_default();
            let bytes = inventory.repository_bytes(repo);
            let frees = inventory.frees(&pairs(repo));
            Usage {
                scope: scope.to_string(),
                bytes,
                frees,
                shared: bytes.saturating_sub(frees),
                entries,
                complete: inventory.complete,
                coverage: inventory.coverage.clone(),
            }
        }
        None => {
            let entries = inventory
                .tags
                .keys()
                .map(|repo| {
                    let bytes = inventory.repository_bytes(repo);
                    entry(repo.clone(), None, bytes, inventory.frees(&pairs(repo)))
                })
                .collect();
            let total = inventory.total();
            Usage {
                scope: scope.to_string(),
                bytes: total,
                frees: total,
                shared: 0,
                entries,
                complete: inventory.complete,
                coverage: inventory.coverage.clone(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two repositories: `app` with tags 1 and 2 on one manifest and 3 on another sharing a base
    /// layer; `other` reusing the base layer.
    fn inventory() -> Inventory {
        let mut inv = Inventory {
            complete: true,
            ..Inventory::default()
        };
        for (blob, size) in [
            ("m1", 10),
            ("m3", 11),
            ("mo", 12),
            ("c1", 100),
            ("c3", 101),
            ("co", 102),
            ("base", 1000),
            ("top1", 2000),
            ("top3", 3000),
        ] {
            inv.sizes.insert(blob.to_string(), size);
        }
        let set = |b: &[&str]| b.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        inv.reach
            .insert("m1".into(), set(&["m1", "c1", "base", "top1"]));
        inv.reach
            .insert("m3".into(), set(&["m3", "c3", "base", "top3"]));
        inv.reach.insert("mo".into(), set(&["mo", "co", "base"]));
        let tags = |t: &[(&str, &str)]| {
            t.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        inv.tags
            .insert("app".into(), tags(&[("1", "m1"), ("2", "m1"), ("3", "m3")]));
        inv.tags.insert("other".into(), tags(&[("x", "mo")]));
        inv
    }

    fn pair(r: &str, t: &str) -> (String, String) {
        (r.to_string(), t.to_string())
    }

    #[test]
    fn a_tag_sharing_its_manifest_frees_nothing_and_both_free_the_manifest() {
        let inv = inventory();
        assert_eq!(inv.frees(&[pair("app", "1")]), 0);
        assert_eq!(
            inv.frees(&[pair("app", "1"), pair("app", "2")]),
            10 + 100 + 2000
        );
    }

    #[test]
    fn a_shared_base_layer_is_freed_only_with_its_last_user() {
        let inv = inventory();
        let whole_app = [pair("app", "1"), pair("app", "2"), pair("app", "3")];
        assert_eq!(inv.frees(&whole_app), 10 + 100 + 2000 + 11 + 101 + 3000);
        let mut everything = whole_app.to_vec();
        everything.push(pair("other", "x"));
        assert_eq!(inv.frees(&everything), inv.total());
    }

    #[test]
    fn the_repository_ledger_splits_bytes_into_frees_and_shared() {
        let usage = ledger(&inventory(), "h/app", Some("app"));
        let three = usage.entries.iter().find(|e| e.name == "3").unwrap();
        assert_eq!(three.bytes, 11 + 101 + 1000 + 3000);
        assert_eq!(three.frees, 11 + 101 + 3000);
        assert_eq!(three.shared, 1000);
        assert_eq!(usage.shared, 1000, "the base layer is shared with `other`");
    }
}
