//! Images: list, inspect, pull with per-layer progress, tag, remove.

use bollard::query_parameters::{
    CreateImageOptionsBuilder, ListImagesOptionsBuilder, RemoveImageOptionsBuilder,
    TagImageOptionsBuilder,
};
use futures_util::{Stream, StreamExt};

use crate::{Engine, Error, Result};

/// One image as `docker images` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSummary {
    /// The image id, `sha256:...`.
    pub id: String,
    /// Every `name:tag` pointing at this image; empty for a dangling image.
    pub tags: Vec<String>,
    /// Registry digests (`name@sha256:...`) the image was pulled or pushed as.
    pub digests: Vec<String>,
    /// Total size in bytes, shared layers included.
    pub size: u64,
    /// Creation time, seconds since the Unix epoch.
    pub created: i64,
    /// True when no tag points at the image any more (`<none>:<none>`).
    pub dangling: bool,
}

/// The parts of an image's config a workshop cares about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    /// `CMD`.
    pub cmd: Option<Vec<String>>,
    /// `ENTRYPOINT`.
    pub entrypoint: Option<Vec<String>>,
    /// `ENV`, as `KEY=value`.
    pub env: Vec<String>,
    /// `WORKDIR`.
    pub working_dir: Option<String>,
    /// `USER`.
    pub user: Option<String>,
    /// `EXPOSE`, as `port/proto`.
    pub exposed_ports: Vec<String>,
    /// `LABEL`s.
    pub labels: std::collections::BTreeMap<String, String>,
}

/// One entry of an image's history (`docker history`), newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The layer's image id, or `<missing>` for layers that came from a registry.
    pub id: String,
    /// Creation time, seconds since the Unix epoch.
    pub created: i64,
    /// The instruction that made this step.
    pub created_by: String,
    /// Bytes this step added.
    pub size: u64,
    /// The commit message, if any.
    pub comment: String,
}

/// Everything `inspect` returns about one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageDetails {
    /// The image id, `sha256:...`.
    pub id: String,
    /// Tags pointing at it.
    pub tags: Vec<String>,
    /// Registry digests.
    pub digests: Vec<String>,
    /// Creation time as the engine reports it (RFC 3339).
    pub created: Option<String>,
    /// The commit author.
    pub author: String,
    /// The commit message (the engine calls it "Comment").
    pub comment: String,
    /// `linux`, ...
    pub os: String,
    /// `amd64`, ...
    pub architecture: String,
    /// Size in bytes.
    pub size: u64,
    /// The runtime config.
    pub config: ImageConfig,
    /// History, newest first.
    pub history: Vec<HistoryEntry>,
    /// The uncompressed layer digests (`RootFS.Layers`), base layer first.
    pub diff_ids: Vec<String>,
}

/// One progress event of a pull: the engine reports per layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullProgress {
    /// The short layer id this event is about; `None` for image-wide messages ("Pulling from",
    /// "Digest: ...", "Status: Downloaded newer image").
    pub layer: Option<String>,
    /// The engine's status text: "Pulling fs layer", "Downloading", "Extracting", "Pull complete".
    pub status: String,
    /// Bytes done in the current phase, when the engine says.
    pub current: Option<u64>,
    /// Bytes in total for the current phase, when the engine says.
    pub total: Option<u64>,
}

impl Engine {
    /// Lists every image, dangling ones included (they carry no tag but still take space).
    pub async fn list_images(&self) -> Result<Vec<ImageSummary>> {
        let options = ListImagesOptionsBuilder::default().all(false).build();
        let images = self.docker().list_images(Some(options)).await?;
        Ok(images
            .into_iter()
            .map(|image| {
                // Old engines report a dangling image's tags as ["<none>:<none>"] rather than [].
                let tags: Vec<String> = image
                    .repo_tags
                    .into_iter()
                    .filter(|tag| tag != "<none>:<none>")
                    .collect();
                let digests: Vec<String> = image
                    .repo_digests
                    .into_iter()
                    .filter(|digest| digest != "<none>@<none>")
                    .collect();
                ImageSummary {
                    id: image.id,
                    dangling: tags.is_empty(),
                    tags,
                    digests,
                    size: u64::try_from(image.size).unwrap_or(0),
                    created: image.created,
                }
            })
            .collect())
    }

    /// Inspects one image by name:tag or id, with its history and layer digests.
    pub async fn inspect_image(&self, reference: &str) -> Result<ImageDetails> {
        // Two requests the engine answers independently, asked at once: every push starts here.
        let (image, history) = tokio::try_join!(
            self.docker().inspect_image(reference),
            self.docker().image_history(reference)
        )?;
        let config = image.config.unwrap_or_default();
        Ok(ImageDetails {
            id: image.id.unwrap_or_default(),
            tags: image.repo_tags.unwrap_or_default(),
            digests: image.repo_digests.unwrap_or_default(),
            created: image.created.map(|created| created.to_string()),
            author: image.author.unwrap_or_default(),
            comment: image.comment.unwrap_or_default(),
            os: image.os.unwrap_or_default(),
            architecture: image.architecture.unwrap_or_default(),
            size: image.size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
            config: ImageConfig {
                cmd: config.cmd,
                entrypoint: config.entrypoint,
                env: config.env.unwrap_or_default(),
                working_dir: config.working_dir.filter(|dir| !dir.is_empty()),
                user: config.user.filter(|user| !user.is_empty()),
                exposed_ports: config.exposed_ports.unwrap_or_default(),
                labels: config.labels.unwrap_or_default().into_iter().collect(),
            },
            history: history
                .into_iter()
                .map(|entry| HistoryEntry {
                    id: entry.id,
                    created: entry.created,
                    created_by: entry.created_by,
                    size: u64::try_from(entry.size).unwrap_or(0),
                    comment: entry.comment,
                })
                .collect(),
            diff_ids: image
                .root_fs
                .and_then(|root_fs| root_fs.layers)
                .unwrap_or_default(),
        })
    }

    /// Pulls `reference` (`host/name:tag`), yielding the engine's per-layer progress.
    ///
    /// The engine reports failures such as "manifest unknown" inside the progress stream with an
    /// HTTP 200; bollard turns those into errors and so do we, so the stream ends with `Err` and
    /// never with a silent success.
    pub fn pull_image(
        &self,
        reference: &str,
    ) -> impl Stream<Item = Result<PullProgress>> + Send + 'static {
        // The engine wants the tag separately; without one it would pull every tag of the repo.
        let (image, tag) = split_tag(reference);
        let options = CreateImageOptionsBuilder::default()
            .from_image(image)
            .tag(tag)
            .build();
        self.docker()
            .create_image(Some(options), None, None)
            .map(|item| {
                let info = item.map_err(Error::from)?;
                if let Some(detail) = info.error_detail {
                    return Err(Error::Stream {
                        message: detail.message.unwrap_or_else(|| "pull failed".to_string()),
                    });
                }
                let detail = info.progress_detail.unwrap_or_default();
                let status = info.status.unwrap_or_default();
                // The engine puts the tag in the id field of the image-wide "Pulling from <repo>"
                // line; it is not a layer.
                let layer = info.id.filter(|_| !status.starts_with("Pulling from"));
                Ok(PullProgress {
                    layer,
                    status,
                    current: detail.current.and_then(|n| u64::try_from(n).ok()),
                    total: detail
                        .total
                        .and_then(|n| u64::try_from(n).ok())
                        .filter(|n| *n > 0),
                })
            })
    }

    /// Adds the tag `target` (`host/name:tag`) to the image `source` (a name:tag or an id).
    pub async fn tag_image(&self, source: &str, target: &str) -> Result<()> {
        let (repo, tag) = split_tag(target);
        let options = TagImageOptionsBuilder::default()
            .repo(repo)
            .tag(tag)
            .build();
        self.docker().tag_image(source, Some(options)).await?;
        Ok(())
    }

    /// Removes a tag, or the image when `reference` is its id or its last tag. Returns the tags
    /// untagged and the ids deleted, as the engine reports them.
    pub async fn remove_image(&self, reference: &str, force: bool) -> Result<Vec<String>> {
        let options = RemoveImageOptionsBuilder::default().force(force).build();
        let items = self
            .docker()
            .remove_image(reference, Some(options), None)
            .await?;
        Ok(items
            .into_iter()
            .flat_map(|item| {
                let untagged = item.untagged.map(|tag| format!("Untagged: {tag}"));
                let deleted = item.deleted.map(|id| format!("Deleted: {id}"));
                untagged.into_iter().chain(deleted)
            })
            .collect())
    }
}

/// Splits `name:tag` at the tag's colon, which is the last colon after the last slash (a colon
/// before a slash is a registry port). A digest reference (`name@sha256:...`) or a name without a
/// tag gets `latest` only in the second case, as the docker CLI does.
pub(crate) fn split_tag(reference: &str) -> (&str, &str) {
    if let Some(at) = reference.find('@') {
        return (&reference[..at], &reference[at + 1..]);
    }
    let after_slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[after_slash..].rfind(':') {
        Some(colon) => (
            &reference[..after_slash + colon],
            &reference[after_slash + colon + 1..],
        ),
        None => (reference, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::split_tag;

    #[test]
    fn split_tag_handles_ports_digests_and_defaults() {
        assert_eq!(
            split_tag("127.0.0.1:5000/team/hello:1.0"),
            ("127.0.0.1:5000/team/hello", "1.0")
        );
        assert_eq!(
            split_tag("127.0.0.1:5000/team/hello"),
            ("127.0.0.1:5000/team/hello", "latest")
        );
        assert_eq!(split_tag("busybox"), ("busybox", "latest"));
        assert_eq!(split_tag("a/b@sha256:abcd"), ("a/b", "sha256:abcd"));
    }
}
