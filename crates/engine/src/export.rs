//! Export: an image as a docker-archive tar stream (`docker save`).

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::{Engine, Error, Result};

impl Engine {
    /// Streams `reference` (a name:tag or an image id) as a docker-archive tar: `manifest.json`,
    /// the image config JSON and one uncompressed layer tar per layer.
    ///
    /// The stream is forwarded as it arrives so that a multi-gigabyte image never sits in memory;
    /// a transport failure midway ends the stream with an `Err`, never with a short, silently
    /// truncated archive.
    pub fn export_image(
        &self,
        reference: &str,
    ) -> impl Stream<Item = Result<Bytes>> + Send + 'static {
        self.docker()
            .export_image(reference)
            .map(|chunk| chunk.map_err(Error::from))
    }
}
