//! `/v2/<name>/manifests/<reference>`: get, head, put and delete manifests and indexes.

use bytes::Bytes;
use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde::Serialize;

use crate::client::{header_str, Client, Request, Scope};
use crate::error::{Error, Result};
use crate::reference::{validate_repository, Digest};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// The most a manifest may weigh: containers/image refuses manifests over 4 MiB
/// (`iolimits.maxManifestBodySize`), and so does distribution's registry on push.
pub const MAX_MANIFEST_BODY: u64 = 4 << 20;

/// Every manifest type we understand, so the registry never falls back to converting to the
/// deprecated schema 1 (which it does when Accept lists none of these).
const ACCEPT_ALL: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// A manifest as fetched: its exact bytes (the digest covers these, so they are kept verbatim),
/// their digest and media type, and the parsed form.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub media_type: String,
    pub digest: Digest,
    pub bytes: Bytes,
    pub kind: ManifestKind,
}

#[derive(Debug, Clone)]
pub enum ManifestKind {
    Image(Box<ImageManifest>),
    Index(Box<ImageIndex>),
}

/// What a HEAD on a manifest tells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestHead {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
}

/// A platform as `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlatformSpec {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl PlatformSpec {
    /// Parses `linux/amd64` or `linux/arm64/v8`.
    pub fn parse(s: &str) -> Option<PlatformSpec> {
        let mut parts = s.split('/');
        let os = parts.next().filter(|p| !p.is_empty())?.to_string();
        let architecture = parts.next().filter(|p| !p.is_empty())?.to_string();
        let variant = parts.next().map(str::to_string);
        Some(PlatformSpec {
            os,
            architecture,
            variant,
        })
    }

    /// The platform this program runs on, in Go's naming (what registries use).
    pub fn host() -> PlatformSpec {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        PlatformSpec {
            os: "linux".to_string(),
            architecture: architecture.to_string(),
            variant: None,
        }
    }

    fn matches(&self, d: &Descriptor) -> bool {
        let Some(p) = d.platform() else { return false };
        p.os().to_string() == self.os
            && p.architecture().to_string() == self.architecture
            && match &self.variant {
                None => true,
                Some(v) => p.variant().as_deref() == Some(v.as_str()),
            }
    }
}

impl std::fmt::Display for PlatformSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// The descriptor in `index` for `platform`, or an error listing what the index has.
pub fn select_platform<'a>(
    index: &'a ImageIndex,
    platform: &PlatformSpec,
    reference: &str,
) -> Result<&'a Descriptor> {
    index
        .manifests()
        .iter()
        .find(|d| platform.matches(d))
        .ok_or_else(|| Error::NoSuchPlatform {
            reference: reference.to_string(),
            wanted: platform.to_string(),
            available: platforms_of(index).join(", "),
        })
}

/// `os/arch[/variant]` of every entry in an index.
pub fn platforms_of(index: &ImageIndex) -> Vec<String> {
    index
        .manifests()
        .iter()
        .filter_map(|d| d.platform().as_ref())
        .map(|p| {
            let mut s = format!("{}/{}", p.os(), p.architecture());
            if let Some(v) = p.variant() {
                s.push('/');
                s.push_str(v);
            }
            s
        })
        .collect()
}

/// Converts an oci-spec digest to ours.
pub fn digest_of(d: &Descriptor) -> Result<Digest> {
    Ok(Digest::parse(d.digest().as_ref())?)
}

impl Manifest {
    /// Parses manifest bytes of `media_type` (which may be empty: then the body's own
    /// `mediaType` decides).
    pub fn parse(
        media_type: &str,
        bytes: Bytes,
        digest: Digest,
    ) -> std::result::Result<Manifest, String> {
        let media_type = if media_type.is_empty() || media_type == "application/json" {
            #[derive(serde::Deserialize)]
            struct Peek {
                #[serde(rename = "mediaType", default)]
                media_type: Option<String>,
                #[serde(default)]
                manifests: Option<serde_json::Value>,
            }
            let peek: Peek = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
            peek.media_type.unwrap_or_else(|| {
                if peek.manifests.is_some() {
                    OCI_INDEX
                } else {
                    OCI_MANIFEST
                }
                .to_string()
            })
        } else {
            media_type.to_string()
        };
        let kind = match media_type.as_str() {
            OCI_INDEX | DOCKER_MANIFEST_LIST => ManifestKind::Index(Box::new(
                ImageIndex::from_reader(&bytes[..]).map_err(|e| e.to_string())?,
            )),
            OCI_MANIFEST | DOCKER_MANIFEST => ManifestKind::Image(Box::new(
                ImageManifest::from_reader(&bytes[..]).map_err(|e| e.to_string())?,
            )),
            other => return Err(format!("unsupported manifest media type {other}")),
        };
        Ok(Manifest {
            media_type,
            digest,
            bytes,
            kind,
        })
    }
}

impl Client {
    /// Fetches a manifest by tag or digest. When asked by digest the bytes are verified against
    /// it, with its own algorithm: "the client MUST always verify the content against the digest
    /// used to fetch the content" (distribution-spec, Pulling manifests). A tag's manifest is
    /// checked against the registry's `Docker-Content-Digest` when it sends one. At most
    /// [`MAX_MANIFEST_BODY`] is read.
    pub async fn get_manifest(&self, repository: &str, reference: &str) -> Result<Manifest> {
        validate_repository(repository)?;
        let scope = Scope::pull(repository);
        let req = Request::new(
            Method::GET,
            format!("/v2/{repository}/manifests/{reference}"),
            scope.clone(),
        )
        .header(ACCEPT, ACCEPT_ALL);
        let resp = self.send(req).await?;
        if !resp.status().is_success() {
            return Err(self
                .status_error(resp, &format!("manifest {repository}:{reference}"), &scope)
                .await);
        }
        let media_type = header_str(resp.headers(), "content-type").unwrap_or_default();
        let media_type = media_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        let header_digest = header_str(resp.headers(), "docker-content-digest");
        let bytes = self
            .read_capped(resp, MAX_MANIFEST_BODY, "a manifest")
            .await?;
        let asked = reference.contains(':');
        let expected = if asked {
            Some(Digest::parse(reference)?)
        } else {
            header_digest.as_deref().and_then(|d| Digest::parse(d).ok())
        };
        if let Some(expected) = expected {
            let actual = Digest::of(expected.algorithm(), &bytes);
            if expected != actual {
                return Err(Error::DigestMismatch {
                    registry: self.registry().to_string(),
                    expected,
                    actual,
                });
            }
        }
        // Manifests are addressed by their sha256 digest everywhere else (tags, deletes, copies).
        let actual = Digest::sha256_of(&bytes);
        Manifest::parse(&media_type, bytes, actual)
            .map_err(|e| self.protocol(format!("manifest {repository}:{reference}: {e}")))
    }

    /// HEADs a manifest: `None` when it does not exist.
    pub async fn head_manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<Option<ManifestHead>> {
        validate_repository(repository)?;
        let scope = Scope::pull(repository);
        let req = Request::new(
            Method::HEAD,
            format!("/v2/{repository}/manifests/{reference}"),
            scope.clone(),
        )
        .header(ACCEPT, ACCEPT_ALL);
        let resp = self.send(req).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(self
                .status_error(resp, &format!("manifest {repository}:{reference}"), &scope)
                .await);
        }
        let digest = header_str(resp.headers(), "docker-content-digest")
            .ok_or_else(|| self.protocol("a manifest HEAD without Docker-Content-Digest"))?;
        let media_type = header_str(resp.headers(), "content-type").unwrap_or_default();
        let size = resp.content_length().unwrap_or(0);
        Ok(Some(ManifestHead {
            digest: Digest::parse(&digest)?,
            media_type,
            size,
        }))
    }

    /// Uploads a manifest under `reference` (a tag or its digest) and returns its digest. The
    /// Content-Type MUST be the manifest's media type or the registry may refuse or misread it.
    pub async fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<Digest> {
        validate_repository(repository)?;
        let digest = Digest::sha256_of(&bytes);
        let scope = Scope::push(repository);
        let req = Request::new(
            Method::PUT,
            format!("/v2/{repository}/manifests/{reference}"),
            scope.clone(),
        )
        .header(CONTENT_TYPE, media_type)
        .body(bytes);
        let resp = self.send(req).await?;
        if !resp.status().is_success() {
            return Err(self
                .status_error(resp, &format!("manifest {repository}:{reference}"), &scope)
                .await);
        }
        if let Some(sent) = header_str(resp.headers(), "docker-content-digest") {
            if sent != digest.to_string() {
                return Err(Error::DigestMismatch {
                    registry: self.registry().to_string(),
                    expected: digest,
                    actual: Digest::parse(&sent)?,
                });
            }
        }
        Ok(digest)
    }

    /// Deletes a manifest by digest (the spec only allows deleting by digest; every tag on it
    /// goes with it). 405 means the registry has deletes disabled.
    pub async fn delete_manifest(&self, repository: &str, digest: &Digest) -> Result<()> {
        validate_repository(repository)?;
        let scope = Scope::delete(repository);
        let (resp, maybe_done) = self
            .send_tracked(Request::new(
                Method::DELETE,
                format!("/v2/{repository}/manifests/{digest}"),
                scope.clone(),
            ))
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            // The first DELETE went through but its answer was lost; the retry finds it gone,
            // which is what was asked for.
            StatusCode::NOT_FOUND if maybe_done => Ok(()),
            StatusCode::METHOD_NOT_ALLOWED => Err(Error::DeleteDisabled {
                registry: self.registry().to_string(),
            }),
            _ => Err(self
                .status_error(resp, &format!("manifest {repository}@{digest}"), &scope)
                .await),
        }
    }
}
