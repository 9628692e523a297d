//! Commit: a workshop container as a new image, with message, author, config changes and, when
//! the user asks for it, the workshop log as a label (redacted and capped, see
//! [`crate::workshop_log::label_log`]): anyone who can pull the image can read its labels.

use serde::{Deserialize, Serialize};
use slipway_engine::commit::CommitSpec;
use ts_rs::TS;

use crate::change::parse_changes;
use crate::containers::starts_nothing;
use crate::error::{Hint, CONTAINER_HINT, IMAGE_HINT};
use crate::names::{check_tag_target, split_target};
use crate::workshop_log::{label_log, label_text, LOG_LABEL};
use crate::{Error, Result, Slipway};

/// What to commit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CommitRequest {
    /// The container, id or name.
    pub container: String,
    /// The new image's name, e.g. `127.0.0.1:5000/team/hello:1.0`; untagged when absent.
    #[serde(default)]
    pub reference: Option<String>,
    /// The commit message.
    #[serde(default)]
    pub message: Option<String>,
    /// The author, e.g. `Ada <ada@example.com>`.
    #[serde(default)]
    pub author: Option<String>,
    /// Dockerfile-like config changes: `CMD ["python3","app.py"]`, `ENV K=V`, ...
    #[serde(default)]
    pub changes: Vec<String>,
    /// Store the workshop log in the image as the [`LOG_LABEL`] label. Off unless asked for:
    /// the label is public to whoever can pull the image.
    #[serde(default)]
    pub include_log: bool,
}

/// The committed image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CommitOutcome {
    /// The new image's id.
    pub image_id: String,
    /// The reference it was tagged with, if any.
    pub reference: Option<String>,
}

impl Slipway {
    /// Commits a container. Every input is validated before the engine is asked: the reference
    /// against the distribution grammar, each change against its instruction's rules.
    pub async fn commit(&self, request: &CommitRequest) -> Result<CommitOutcome> {
        let target = match &request.reference {
            Some(input) => {
                let reference = check_tag_target(input)?;
                let (repository, tag) = split_target(input, &reference);
                Some((repository.to_string(), tag.map(str::to_string)))
            }
            None => None,
        };
        let mut config = parse_changes(&request.changes)?;
        if config.labels.contains_key(LOG_LABEL) {
            return Err(Error::InvalidInput(format!(
                "the label {LOG_LABEL} is written by Slipway from the workshop log; remove it from \
                 the changes"
            )));
        }
        let state = self
            .engine()
            .inspect_container(&request.container)
            .await
            .hint(CONTAINER_HINT)?;
        if request.include_log {
            let log = self.logs_store().load(&state.id)?;
            config
                .labels
                .insert(LOG_LABEL.to_string(), label_text(&label_log(&log)));
        }
        // The workshop runs a keep-alive shell, and the engine takes every field the request
        // leaves empty from the container, so without this the image would start that shell
        // instead of what its base image starts.
        if config.cmd.is_none() && config.entrypoint.is_none() {
            let base = self
                .engine()
                .inspect_image(&state.image_id)
                .await
                .hint(IMAGE_HINT)?;
            if starts_nothing(&base.config) {
                // The workshop of such a base runs its shell as the entrypoint with an empty CMD
                // (`run_workshop`). The engine fills an empty CMD from the container, which is
                // empty too, and keeps an entrypoint that is sent empty but not absent (moby's
                // commit `merge` tests it against nil): the image starts nothing, as its base.
                config.entrypoint = Some(Vec::new());
            } else {
                config.cmd = base.config.cmd;
                config.entrypoint = base.config.entrypoint;
            }
        }
        let (repository, tag) = target.unzip();
        let spec = CommitSpec {
            container: state.id,
            repository,
            tag: tag.flatten(),
            message: request.message.clone(),
            author: request.author.clone(),
            config,
            pause: true,
        };
        let image_id = self.engine().commit_container(&spec).await?;
        Ok(CommitOutcome {
            image_id,
            reference: request.reference.clone(),
        })
    }
}

impl Slipway {
    /// The workshop-log label a commit of `container` would store, exactly as it would be
    /// stored, for the commit dialog's preview.
    pub async fn workshop_log_label(&self, container: &str) -> Result<String> {
        let id = self.container_id(container).await?;
        let log = self.logs_store().load(&id)?;
        Ok(label_text(&label_log(&log)))
    }
}
