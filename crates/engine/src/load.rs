//! Load: a docker-archive tar stream into the engine (`docker load`).
//!
//! For the direct pull: Slipway fetches an image from a registry itself (so plain-HTTP
//! and private-CA registries need no daemon.json or certs.d) and hands the engine the archive.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::{Engine, Error, Result};

impl Engine {
    /// Loads a docker-archive tar (`manifest.json`, config, layer tars, gzip-compressed or not)
    /// and returns what the engine reported (e.g. `Loaded image: host/app:1`).
    ///
    /// The engine reports a broken archive inside the response stream; that becomes an `Err`.
    pub async fn load_image<S, E>(&self, archive: S) -> Result<Vec<String>>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        let options = bollard::query_parameters::ImportImageOptionsBuilder::new()
            .quiet(true)
            .build();
        let mut replies = self.docker().import_image_stream(options, archive, None);
        let mut messages = Vec::new();
        while let Some(reply) = replies.next().await {
            let info = reply?;
            if let Some(detail) = info.error_detail {
                return Err(Error::Stream {
                    message: detail
                        .message
                        .unwrap_or_else(|| "the engine could not load the image".to_string()),
                });
            }
            if let Some(text) = info.stream {
                let text = text.trim();
                if !text.is_empty() {
                    messages.push(text.to_string());
                }
            }
        }
        Ok(messages)
    }
}
