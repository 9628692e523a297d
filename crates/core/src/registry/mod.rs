//! Registry use cases that need no engine: probe, catalog, inspect, copy, login here; the tag
//! table and its sort orders in [`tags`](mod@tags), deletes and their plans in
//! [`delete`](mod@delete), the space ledger in [`ledger`], and what another machine needs to use
//! a registry in [`elsewhere`](mod@elsewhere).
//!
//! Every function takes a [`RegistryAccess`] saying how to reach the registry (insecure, CA file,
//! credentials) and returns plain serde DTOs.

pub mod delete;
pub mod elsewhere;
pub mod ledger;
pub mod tags;

pub use delete::{
    bulk_plan, delete, delete_plan, delete_plan_within, execute, DeletePlan, DeleteScope,
    PlannedManifest, Selection,
};
pub use elsewhere::{elsewhere, Elsewhere, Snippet};
pub use ledger::{usage, usage_within, Coverage, Inventory, Usage, UsageEntry, MAX_REPOSITORIES};
pub use tags::{tag_page, tag_rows, TagPage, TagRow, TagSort};

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use slipway_oci::blobs::Mount;
use slipway_oci::manifests::{digest_of, platforms_of, ManifestKind};
use slipway_oci::{
    Client, ClientOptions, CredentialSource, CredentialStore, PlatformSpec, Reference,
};
use ts_rs::TS;

use crate::{Error, Result};

/// Re-exported so the app and the CLI can pass credentials without depending on slipway-oci.
pub use slipway_oci::{AuthKind, Credentials};

/// How to reach a registry.
#[derive(Debug, Clone, Default)]
pub struct RegistryAccess {
    /// Allow plain HTTP (loopback registries always may).
    pub insecure: bool,
    /// A PEM CA bundle to trust for this registry.
    pub ca_file: Option<PathBuf>,
    /// Credentials to use; when `None`, those in docker's credential store (if any).
    pub credentials: Option<Credentials>,
    /// Use no stored credentials at all (anonymous unless `credentials` is set).
    pub anonymous: bool,
}

impl RegistryAccess {
    /// A client for `registry` with these settings.
    pub fn client(&self, registry: &str) -> Result<Client> {
        let credentials = match (&self.credentials, self.anonymous) {
            (Some(c), _) => CredentialSource::Explicit(c.clone()),
            (None, true) => CredentialSource::None,
            (None, false) => CredentialSource::DockerConfig,
        };
        let options = ClientOptions {
            insecure: self.insecure,
            ca_file: self.ca_file.clone(),
            credentials,
            ..Default::default()
        };
        Ok(Client::new(registry, options)?)
    }
}

pub(crate) fn parse(reference: &str) -> Result<Reference> {
    Reference::parse(reference).map_err(|e| Error::invalid_reference(reference, e))
}

/// A registry's capabilities, for the UI's registry page.
pub use slipway_oci::probe::Capabilities;

/// Probes a registry (`host[:port]`) without changing anything on it.
pub async fn probe(registry: &str, access: &RegistryAccess) -> Result<Capabilities> {
    Ok(access.client(registry)?.probe().await?)
}

/// Every repository of a registry, all pages.
pub async fn catalog(registry: &str, access: &RegistryAccess) -> Result<Vec<String>> {
    Ok(access.client(registry)?.catalog().await?)
}

/// One screen of a registry's catalog, paged by the registry itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CatalogPage {
    pub repositories: Vec<String>,
    /// The last name of this page when the registry says more follow; pass it back as `last`.
    pub next: Option<String>,
}

/// At most `n` repositories after `last`, asking the registry for exactly that page.
///
/// The distribution spec pages `/v2/_catalog` with `n` and `last`, and a registry with more to
/// give MUST say so with a `Link: <...>; rel="next"` header; the name to continue after is the
/// last one of this page. Asking the registry per page keeps a 100,000-repository catalog from
/// being downloaded whole for every screen the user looks at.
pub async fn catalog_page(
    registry: &str,
    access: &RegistryAccess,
    last: Option<&str>,
    n: usize,
) -> Result<CatalogPage> {
    let n = n.clamp(1, slipway_oci::catalog::MAX_PAGE);
    let page = access
        .client(registry)?
        .catalog_page(Some(n), last, None)
        .await?;
    let next = page.next.and(page.items.last().cloned());
    Ok(CatalogPage {
        repositories: page.items,
        next,
    })
}

/// Every tag of a repository (`host/repo`, a tag or digest is ignored), all pages.
pub async fn tags(repository: &str, access: &RegistryAccess) -> Result<Vec<String>> {
    let r = parse(repository)?;
    Ok(access.client(r.registry())?.tags(r.repository()).await?)
}

/// Checks credentials against the registry and, when they work, stores them in docker's
/// credential store (so `docker` and Slipway share one login).
pub async fn login(
    registry: &str,
    credentials: Credentials,
    access: &RegistryAccess,
) -> Result<()> {
    let access = RegistryAccess {
        credentials: Some(credentials.clone()),
        ..access.clone()
    };
    let client = access.client(registry)?;
    let caps = client.probe().await?;
    if !caps.authenticated {
        return Err(Error::Registry(slipway_oci::Error::Unauthorized {
            registry: registry.to_string(),
            detail: "the registry did not accept these credentials on /v2/".to_string(),
        }));
    }
    CredentialStore::docker_default().store(registry, &credentials)?;
    Ok(())
}

/// One layer or the config, as listed by [`inspect`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct BlobDto {
    pub digest: String,
    pub size: u64,
    pub media_type: String,
}

/// One step of the image's history, from its config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RemoteHistoryDto {
    pub created: Option<String>,
    pub created_by: Option<String>,
    pub empty_layer: bool,
}

/// What `inspect` shows about a remote image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct RemoteImageDto {
    pub reference: String,
    pub digest: String,
    pub media_type: String,
    /// Platforms of the index, when the reference names one.
    pub platforms: Vec<String>,
    /// The platform shown below (chosen from the index, or the image's own).
    pub platform: Option<String>,
    pub config: Option<BlobDto>,
    pub layers: Vec<BlobDto>,
    /// Compressed size of config and layers.
    pub total_size: u64,
    pub created: Option<String>,
    pub history: Vec<RemoteHistoryDto>,
    /// The manifest exactly as the registry sent it.
    #[ts(type = "unknown")]
    pub manifest: serde_json::Value,
    #[ts(type = "unknown")]
    pub config_json: Option<serde_json::Value>,
}

/// Inspects a remote image; for an index, shows `platform` (default: this machine's).
pub async fn inspect(
    reference: &str,
    access: &RegistryAccess,
    platform: Option<&str>,
) -> Result<RemoteImageDto> {
    let r = parse(reference)?;
    let client = access.client(r.registry())?;
    let repo = r.repository();
    let top = client.get_manifest(repo, &r.manifest_reference()).await?;
    let mut platforms = Vec::new();
    let manifest = match &top.kind {
        ManifestKind::Index(index) => {
            platforms = platforms_of(index);
            let wanted = wanted_platform(platform)?;
            let d = slipway_oci::manifests::select_platform(index, &wanted, &r.to_string())?;
            client
                .get_manifest(repo, &digest_of(d)?.to_string())
                .await?
        }
        ManifestKind::Image(_) => top.clone(),
    };
    let ManifestKind::Image(image) = &manifest.kind else {
        return Err(Error::InvalidInput(format!(
            "{reference} is an index of indexes, which is not supported"
        )));
    };
    let blob = |d: &slipway_oci::oci_spec::image::Descriptor| BlobDto {
        digest: d.digest().to_string(),
        size: d.size(),
        media_type: d.media_type().to_string(),
    };
    let config = blob(image.config());
    let layers: Vec<BlobDto> = image.layers().iter().map(blob).collect();
    let total_size = config.size + layers.iter().map(|l| l.size).sum::<u64>();
    let config_bytes = client
        .get_blob(
            repo,
            &digest_of(image.config())?,
            Some(image.config().size()),
        )
        .await?;
    let config_json: Option<serde_json::Value> = serde_json::from_slice(&config_bytes).ok();
    let created = config_json
        .as_ref()
        .and_then(|c| c.get("created"))
        .and_then(|c| c.as_str())
        .map(str::to_string);
    let platform = config_json.as_ref().map(|c| {
        let os = c.get("os").and_then(|v| v.as_str()).unwrap_or("?");
        let arch = c
            .get("architecture")
            .and_then(|v| v.as_str())
            .unwrap_or("?");
        format!("{os}/{arch}")
    });
    let history = config_json
        .as_ref()
        .and_then(|c| c.get("history"))
        .and_then(|h| h.as_array())
        .map(|entries| {
            entries
                .iter()
                .map(|h| RemoteHistoryDto {
                    created: h
                        .get("created")
                        .and_then(|v| v.as_str())
                        .map(str::to_string),
                    created_by: h
                        .get("created_by")
                        .and_then(|v| v.as_str())
                        .map(str::to_string),
                    empty_layer: h
                        .get("empty_layer")
                        .and_then(|v| v.as_bool())
                        .unwrap_or(false),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(RemoteImageDto {
        reference: r.with_digest(top.digest.clone()).to_string(),
        digest: top.digest.to_string(),
        media_type: top.media_type.clone(),
        platforms,
        platform,
        config: Some(config),
        layers,
        total_size,
        created,
        history,
        manifest: serde_json::from_slice(&manifest.bytes).unwrap_or(serde_json::Value::Null),
        config_json,
    })
}

/// Which platforms of an index to copy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlatformChoice {
    #[default]
    All,
    Only(Vec<String>),
}

/// Progress of a copy: one event per blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum CopyEvent {
    Exists { digest: String },
    Mounted { digest: String },
    Copied { digest: String, size: u64 },
    Manifest { digest: String },
}

pub type CopyProgress = Arc<dyn Fn(CopyEvent) + Send + Sync>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CopyOutcome {
    pub reference: String,
    pub digest: String,
    pub blobs_copied: usize,
    pub bytes_copied: u64,
}

/// Copies an image or index between repositories or registries, streaming each blob from source
/// to destination (nothing is written locally), mounting when both are on one registry.
pub async fn copy(
    source: &str,
    destination: &str,
    source_access: &RegistryAccess,
    destination_access: &RegistryAccess,
    platforms: PlatformChoice,
    progress: Option<CopyProgress>,
) -> Result<CopyOutcome> {
    let src = parse(source)?;
    let dst = parse(destination)?;
    let from = source_access.client(src.registry())?;
    let to = if src.registry() == dst.registry() {
        from.clone()
    } else {
        destination_access.client(dst.registry())?
    };
    let progress = progress.unwrap_or_else(|| Arc::new(|_| {}));
    let mut stats = (0usize, 0u64);
    let top = from
        .get_manifest(src.repository(), &src.manifest_reference())
        .await?;
    let (bytes, media_type) = match &top.kind {
        ManifestKind::Image(_) => (top.bytes.clone(), top.media_type.clone()),
        ManifestKind::Index(index) => {
            let wanted: Option<HashSet<String>> = match &platforms {
                PlatformChoice::All => None,
                PlatformChoice::Only(list) => Some(list.iter().cloned().collect()),
            };
            let mut kept = Vec::new();
            let mut raw: serde_json::Value = serde_json::from_slice(&top.bytes)
                .map_err(|e| Error::InvalidInput(format!("the source index is not JSON: {e}")))?;
            for (i, d) in index.manifests().iter().enumerate() {
                let name = d
                    .platform()
                    .as_ref()
                    .map(|p| match p.variant() {
                        Some(v) => format!("{}/{}/{v}", p.os(), p.architecture()),
                        None => format!("{}/{}", p.os(), p.architecture()),
                    })
                    .unwrap_or_default();
                let keep = match &wanted {
                    None => true,
                    Some(set) => {
                        set.contains(&name)
                            || set.iter().any(|w| name.starts_with(&format!("{w}/")))
                    }
                };
                if !keep {
                    continue;
                }
                kept.push(i);
                let child = from
                    .get_manifest(src.repository(), &digest_of(d)?.to_string())
                    .await?;
                copy_image(&from, &to, &src, &dst, &child, &progress, &mut stats).await?;
                to.put_manifest(
                    dst.repository(),
                    &child.digest.to_string(),
                    &child.media_type,
                    child.bytes.clone(),
                )
                .await?;
                progress(CopyEvent::Manifest {
                    digest: child.digest.to_string(),
                });
            }
            if kept.is_empty() {
                return Err(Error::Registry(slipway_oci::Error::NoSuchPlatform {
                    reference: src.to_string(),
                    wanted: format!("{platforms:?}"),
                    available: platforms_of(index).join(", "),
                }));
            }
            if kept.len() == index.manifests().len() {
                (top.bytes.clone(), top.media_type.clone())
            } else {
                // A subset changes the index, so it is re-serialised (and gets a new digest).
                if let Some(list) = raw.get_mut("manifests").and_then(|m| m.as_array_mut()) {
                    let all = std::mem::take(list);
                    *list = all
                        .into_iter()
                        .enumerate()
                        .filter(|(i, _)| kept.contains(i))
                        .map(|(_, v)| v)
                        .collect();
                }
                (
                    Bytes::from(
                        serde_json::to_vec(&raw).map_err(|e| Error::InvalidInput(e.to_string()))?,
                    ),
                    top.media_type.clone(),
                )
            }
        }
    };
    if let ManifestKind::Image(_) = &top.kind {
        copy_image(&from, &to, &src, &dst, &top, &progress, &mut stats).await?;
    }
    let digest = to
        .put_manifest(
            dst.repository(),
            &dst.manifest_reference(),
            &media_type,
            bytes,
        )
        .await?;
    progress(CopyEvent::Manifest {
        digest: digest.to_string(),
    });
    Ok(CopyOutcome {
        reference: dst.with_digest(digest.clone()).to_string(),
        digest: digest.to_string(),
        blobs_copied: stats.0,
        bytes_copied: stats.1,
    })
}

async fn copy_image(
    from: &Client,
    to: &Client,
    src: &Reference,
    dst: &Reference,
    manifest: &slipway_oci::Manifest,
    progress: &CopyProgress,
    stats: &mut (usize, u64),
) -> Result<()> {
    let ManifestKind::Image(image) = &manifest.kind else {
        return Ok(());
    };
    let same_registry = src.registry() == dst.registry();
    let blobs = std::iter::once(image.config()).chain(image.layers().iter());
    for d in blobs {
        let digest = digest_of(d)?;
        if to.blob_exists(dst.repository(), &digest).await?.is_some() {
            progress(CopyEvent::Exists {
                digest: digest.to_string(),
            });
            continue;
        }
        if same_registry {
            if let Mount::Mounted = to
                .mount_blob(dst.repository(), &digest, src.repository())
                .await?
            {
                progress(CopyEvent::Mounted {
                    digest: digest.to_string(),
                });
                continue;
            }
        }
        let stream = from
            .blob_stream(src.repository(), &digest, Some(d.size()))
            .await?;
        to.push_blob_stream(dst.repository(), &digest, stream)
            .await?;
        stats.0 += 1;
        stats.1 += d.size();
        progress(CopyEvent::Copied {
            digest: digest.to_string(),
            size: d.size(),
        });
    }
    Ok(())
}

/// The platform the user asked for (`OS/ARCH[/VARIANT]`), or this machine's when none was given:
/// what an index is narrowed to for inspect and fetch.
pub(crate) fn wanted_platform(platform: Option<&str>) -> Result<PlatformSpec> {
    match platform {
        Some(p) => PlatformSpec::parse(p).ok_or_else(|| {
            Error::InvalidInput(format!(
                "platform `{p}` is not OS/ARCH[/VARIANT], e.g. linux/amd64"
            ))
        }),
        None => Ok(PlatformSpec::host()),
    }
}

#[cfg(test)]
mod tests {
    use super::wanted_platform;

    #[test]
    fn a_platform_without_arch_says_the_form_it_needs() {
        let err = wanted_platform(Some("linux")).unwrap_err();
        assert_eq!(err.code(), "invalid_input");
        assert!(err.to_string().contains("OS/ARCH[/VARIANT]"), "{err}");
        let arm = wanted_platform(Some("linux/arm64/v8")).unwrap();
        assert!(format!("{arm:?}").contains("arm64"), "{arm:?}");
    }
}
