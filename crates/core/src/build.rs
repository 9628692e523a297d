//! Build: an image from a folder with a Dockerfile, the other way the seeds make images.

use std::path::Path;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::names::check_tag_target;
use crate::{Error, Result, Slipway};

/// What a build reports while it runs. The build ends with the call's own result (the image id,
/// or the error), as every long operation does, so the only event is its output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum BuildEvent {
    /// The engine's output as it arrives: each step, and what the RUN commands print.
    Output {
        /// The text, as the engine sent it (lines end in `\n`).
        text: String,
    },
}

impl Slipway {
    /// Builds the folder `dir` (its `Dockerfile` and everything beside it as the context) as
    /// `tag`, calling `on_output` with the build's output as it arrives; returns the image id.
    pub async fn build_with(
        &self,
        dir: &Path,
        tag: &str,
        on_output: impl FnMut(&str),
    ) -> Result<String> {
        check_tag_target(tag)?;
        let dockerfile = dir.join("Dockerfile");
        if !dockerfile.is_file() {
            return Err(Error::InvalidInput(format!(
                "{} has no Dockerfile; pick the folder that holds it",
                dir.display()
            )));
        }
        let context = context_tar(dir.to_path_buf()).await?;
        Ok(self.engine().build_image(context, tag, on_output).await?)
    }

    /// `build_with` for the window: the output as `BuildEvent`s.
    pub async fn build_events(
        &self,
        dir: &Path,
        tag: &str,
        on_event: impl Fn(BuildEvent),
    ) -> Result<String> {
        self.build_with(dir, tag, |text| {
            on_event(BuildEvent::Output {
                text: text.to_string(),
            })
        })
        .await
    }
}

/// The folder as the tar the engine takes for a build context, made off the async threads.
async fn context_tar(dir: std::path::PathBuf) -> Result<bytes::Bytes> {
    tokio::task::spawn_blocking(move || {
        let mut builder = tar::Builder::new(Vec::new());
        builder.follow_symlinks(false);
        builder
            .append_dir_all(".", &dir)
            .and_then(|()| builder.into_inner())
            .map(bytes::Bytes::from)
            .map_err(|source| Error::Io { path: dir, source })
    })
    .await
    .map_err(|e| Error::Engine(format!("the build context could not be packed: {e}")))?
}
