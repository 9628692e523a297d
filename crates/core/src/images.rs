//! Image use cases: list, inspect, pull with progress, tag, remove.

use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Hint, IMAGE_HINT, PULL_HINT};
use crate::names::{check_reference, check_tag_target};
use crate::{Error, Result, Slipway};

/// One local image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
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

/// One step of an engine pull, per layer (the engine's short layer id) or for the whole image.
/// The engine's free status words are read here, once, so the page and the CLI match on a
/// variant instead of on words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum PullEvent {
    /// The engine knows the layer and has not started on it ("Pulling fs layer", "Waiting").
    Waiting { layer: String },
    /// The layer's compressed bytes are arriving.
    Downloading {
        layer: String,
        done: u64,
        total: u64,
    },
    /// The layer is downloaded and checked, not yet unpacked.
    Downloaded { layer: String },
    /// The layer is being unpacked into the engine's store.
    Extracting {
        layer: String,
        done: u64,
        total: u64,
    },
    /// The layer is in the engine: pulled now, or `exists` because it was there already.
    Done { layer: String, exists: bool },
    /// An image-wide message ("Pulling from library/debian", "Digest: sha256:...").
    Message { text: String },
}

impl PullEvent {
    /// The layer this event is about; `None` for an image-wide message.
    pub fn layer(&self) -> Option<&str> {
        match self {
            PullEvent::Waiting { layer }
            | PullEvent::Downloading { layer, .. }
            | PullEvent::Downloaded { layer }
            | PullEvent::Extracting { layer, .. }
            | PullEvent::Done { layer, .. } => Some(layer),
            PullEvent::Message { .. } => None,
        }
    }

    /// A few words for a log line or a bar: the message itself, or the layer's step.
    pub fn describe(&self) -> &str {
        match self {
            PullEvent::Waiting { .. } => "waiting",
            PullEvent::Downloading { .. } => "downloading",
            PullEvent::Downloaded { .. } => "downloaded",
            PullEvent::Extracting { .. } => "extracting",
            PullEvent::Done { exists: false, .. } => "pulled",
            PullEvent::Done { exists: true, .. } => "already there",
            PullEvent::Message { text } => text,
        }
    }

    fn from_engine(event: slipway_engine::images::PullProgress) -> Self {
        let Some(layer) = event.layer else {
            return PullEvent::Message { text: event.status };
        };
        let (done, total) = (event.current.unwrap_or(0), event.total.unwrap_or(0));
        match event.status.as_str() {
            "Downloading" => PullEvent::Downloading { layer, done, total },
            "Extracting" => PullEvent::Extracting { layer, done, total },
            "Download complete" | "Verifying Checksum" => PullEvent::Downloaded { layer },
            "Pull complete" => PullEvent::Done {
                layer,
                exists: false,
            },
            "Already exists" => PullEvent::Done {
                layer,
                exists: true,
            },
            _ => PullEvent::Waiting { layer },
        }
    }
}

/// The engine's refusal of a plain-HTTP registry, which it reports only in words (Docker:
/// "server gave HTTP response to HTTPS client"), becomes an error with its own code, so each
/// front end can say what to do instead.
fn refused_http(error: Error, registry: &str) -> Error {
    match error {
        Error::Engine(message)
            if message.contains("server gave HTTP response to HTTPS client")
                || message.contains("http: server gave HTTP response") =>
        {
            Error::EngineRefusedHttp {
                registry: registry.to_string(),
            }
        }
        other => other,
    }
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
    ) -> Result<impl Stream<Item = Result<PullEvent>> + Send + 'static> {
        check_reference(reference)?;
        let registry = slipway_oci::Reference::parse(reference)
            .map(|r| r.registry().to_string())
            .unwrap_or_default();
        Ok(self.engine().pull_image(reference).map(move |event| {
            let event = event
                .hint(PULL_HINT)
                .map_err(|e| refused_http(e, &registry))?;
            Ok(PullEvent::from_engine(event))
        }))
    }

    /// Pulls `reference`, calling `on_progress` for each event, and returns the pulled image.
    pub async fn pull_with(
        &self,
        reference: &str,
        mut on_progress: impl FnMut(&PullEvent),
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

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_engine::images::PullProgress;

    fn engine(layer: Option<&str>, status: &str, current: Option<u64>) -> PullEvent {
        PullEvent::from_engine(PullProgress {
            layer: layer.map(str::to_string),
            status: status.to_string(),
            current,
            total: current.map(|c| c * 2),
        })
    }

    #[test]
    fn the_engines_pull_words_become_variants() {
        let layer = || "abc".to_string();
        assert_eq!(
            engine(Some("abc"), "Downloading", Some(5)),
            PullEvent::Downloading {
                layer: layer(),
                done: 5,
                total: 10
            }
        );
        assert_eq!(
            engine(Some("abc"), "Already exists", None),
            PullEvent::Done {
                layer: layer(),
                exists: true
            }
        );
        assert_eq!(
            engine(Some("abc"), "Pull complete", None),
            PullEvent::Done {
                layer: layer(),
                exists: false
            }
        );
        assert_eq!(
            engine(None, "Digest: sha256:00", None),
            PullEvent::Message {
                text: "Digest: sha256:00".into()
            }
        );
        let json = serde_json::to_value(engine(Some("abc"), "Extracting", Some(1))).unwrap();
        assert_eq!(json["event"], "extracting");
    }

    #[test]
    fn the_engines_refusal_of_plain_http_gets_its_own_code() {
        let refused = refused_http(
            Error::Engine(
                "Get \"https://10.0.0.5:5000/v2/\": http: server gave HTTP response to HTTPS client"
                    .into(),
            ),
            "10.0.0.5:5000",
        );
        assert_eq!(refused.code(), "engine_refused_http");
        assert!(refused.to_string().contains("10.0.0.5:5000"), "{refused}");
        assert_eq!(
            refused_http(Error::Engine("no space left".into()), "x").code(),
            "engine_error"
        );
    }
}
