//! Build: an image from a folder with a Dockerfile, the other way the seeds make images.

use std::path::Path;

use crate::names::check_tag_target;
use crate::{Error, Result, Slipway};

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
