//! Image use cases: list, inspect, pull with progress, tag, remove.

use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};

use crate::error::{Hint, IMAGE_HINT, PULL_HINT};
use crate::names::{check_reference, check_tag_target};
use crate::{Result, Slipway};

/// One local image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageDto {
    /// `sha256:...`.
    pub id: String,
    /// The first 12 hex digits of the id, as the docker CLI shows it.
    pub short_id: String,
    /// `name:tag` entries; empty when dangling.
    pub tags: Vec<String>,
    /// Bytes.
    pub size: u64,
    /// Seconds since the Unix epoch.
    pub created: i64,
    /// No tag points at it.
    pub dangling: bool,
}

/// One history step of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryDto {
    /// The instruction that made the step.
    pub created_by: String,
    /// Seconds since the Unix epoch.
    pub created: i64,
    /// Bytes the step added.
    pub size: u64,
    /// The commit message.
    pub comment: String,
}

/// An image's details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageDetailsDto {
    /// `sha256:...`.
    pub id: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Registry digests.
    pub digests: Vec<String>,
    /// RFC 3339.
    pub created: Option<String>,
    /// The commit author.
    pub author: String,
    /// The commit message.
    pub message: String,
    /// `linux/amd64`.
    pub platform: String,
    /// Bytes.
    pub size: u64,
    /// `CMD`.
    pub cmd: Option<Vec<String>>,
    /// `ENTRYPOINT`.
    pub entrypoint: Option<Vec<String>>,
    /// `KEY=value`.
    pub env: Vec<String>,
    /// `WORKDIR`.
    pub working_dir: Option<String>,
    /// `USER`.
    pub user: Option<String>,
    /// `port/proto`.
    pub exposed_ports: Vec<String>,
    /// Labels.
    pub labels: std::collections::BTreeMap<String, String>,
    /// Newest first.
    pub history: Vec<HistoryDto>,
    /// Uncompressed layer digests, base first.
    pub diff_ids: Vec<String>,
}

/// One pull progress event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullProgressDto {
    /// The layer's short id; `None` for image-wide messages.
    pub layer: Option<String>,
    /// "Downloading", "Extracting", "Pull complete", ...
    pub status: String,
    /// Bytes done in the current phase.
    pub current: Option<u64>,
    /// Bytes in the current phase.
    pub total: Option<u64>,
}

fn short_id(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

impl Slipway {
    /// Every local image, newest first.
    pub async fn images(&self) -> Result<Vec<ImageDto>> {
        let mut images: Vec<ImageDto> = self
            .engine()
            .list_images()
            .await?
            .into_iter()
            .map(|image| ImageDto {
                short_id: short_id(&image.id),
                id: image.id,
                tags: image.tags,
                size: image.size,
                created: image.created,
                dangling: image.dangling,
            })
            .collect();
        images.sort_by_key(|i| std::cmp::Reverse(i.created));
        Ok(images)
    }

    /// Details of one image, by reference or id.
    pub async fn inspect_image(&self, reference: &str) -> Result<ImageDetailsDto> {
        check_reference(reference)?;
        let image = self
            .engine()
            .inspect_image(reference)
            .await
            .hint(IMAGE_HINT)?;
        Ok(ImageDetailsDto {
            id: image.id,
            tags: image.tags,
            digests: image.digests,
            created: image.created,
            author: image.author,
            message: image.comment,
            platform: format!("{}/{}", image.os, image.architecture),
            size: image.size,
            cmd: image.config.cmd,
            entrypoint: image.config.entrypoint,
            env: image.config.env,
            working_dir: image.config.working_dir,
            user: image.config.user,
            exposed_ports: image.config.exposed_ports,
            labels: image.config.labels,
            history: image
                .history
                .into_iter()
                .map(|h| HistoryDto {
                    created_by: h.created_by,
                    created: h.created,
                    size: h.size,
                    comment: h.comment,
                })
                .collect(),
            diff_ids: image.diff_ids,
        })
    }

    /// Pulls `reference` through the engine, streaming per-layer progress. The name is validated
    /// first, so a typo fails here instead of as a registry error.
    pub fn pull(
        &self,
        reference: &str,
    ) -> Result<impl Stream<Item = Result<PullProgressDto>> + Send + 'static> {
        check_reference(reference)?;
        Ok(self.engine().pull_image(reference).map(|event| {
            let event = event.hint(PULL_HINT)?;
            Ok(PullProgressDto {
                layer: event.layer,
                status: event.status,
                current: event.current,
                total: event.total,
            })
        }))
    }

    /// Pulls `reference`, calling `on_progress` for each event, and returns the pulled image.
    pub async fn pull_with(
        &self,
        reference: &str,
        mut on_progress: impl FnMut(&PullProgressDto),
    ) -> Result<ImageDetailsDto> {
        let mut stream = Box::pin(self.pull(reference)?);
        while let Some(event) = stream.next().await {
            on_progress(&event?);
        }
        self.inspect_image(reference).await
    }

    /// Tags `source` (reference or id) as `target` (`host/name:tag`).
    pub async fn tag(&self, source: &str, target: &str) -> Result<()> {
        check_reference(source)?;
        check_tag_target(target)?;
        self.engine()
            .tag_image(source, target)
            .await
            .hint(IMAGE_HINT)?;
        Ok(())
    }

    /// Removes a tag or an image; returns what the engine untagged and deleted.
    pub async fn remove_image(&self, reference: &str, force: bool) -> Result<Vec<String>> {
        check_reference(reference)?;
        self.engine()
            .remove_image(reference, force)
            .await
            .hint(IMAGE_HINT)
    }
}
