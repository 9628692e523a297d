//! Build: an image from a Dockerfile and its context (`docker build`), output streamed.

use bollard::query_parameters::{BuildImageOptionsBuilder, BuilderVersion};
use bytes::Bytes;
use futures_util::StreamExt;

use crate::{Engine, Error, Result};

impl Engine {
    /// Builds `context` (a tar holding a `Dockerfile` at its root) as `tag` with the classic
    /// builder, calling `on_output` with each piece of the build's output as it arrives, and
    /// returns the new image's id. A failed step ends the build with [`Error::Stream`] carrying
    /// the engine's message.
    pub async fn build_image(
        &self,
        context: Bytes,
        tag: &str,
        mut on_output: impl FnMut(&str),
    ) -> Result<String> {
        // The classic builder: BuildKit through the API needs a session the engine dials back,
        // and it resolves a local base against its registry, which an offline engine cannot.
        let options = BuildImageOptionsBuilder::new()
            .dockerfile("Dockerfile")
            .t(tag)
            .rm(true)
            .version(BuilderVersion::BuilderV1)
            .build();
        let mut replies =
            self.docker()
                .build_image(options, None, Some(bollard::body_full(context)));
        while let Some(reply) = replies.next().await {
            let info = reply?;
            if let Some(detail) = info.error_detail {
                return Err(Error::Stream {
                    message: detail
                        .message
                        .unwrap_or_else(|| "the engine could not build the image".to_string()),
                });
            }
            if let Some(text) = info.stream.as_deref().or(info.status.as_deref()) {
                on_output(text);
            }
        }
        Ok(self.inspect_image(tag).await?.id)
    }
}
