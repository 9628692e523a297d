//! Export: an image as the engine's archive (`docker save`), raw or read entry by entry.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::archive::{read_archive, ArchiveEntry};
use crate::{Engine, Error, Result};

/// Entries the reader may run ahead of its consumer. Each is at most one chunk, so this bounds
/// the memory an export holds while the consumer is busy.
const READ_AHEAD: usize = 4;

impl Engine {
    /// Streams `reference` (a name:tag or an image id) as the engine's archive bytes.
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

    /// Streams `reference`'s export as [`ArchiveEntry`]s, layers in chunks of `chunk` bytes,
    /// whatever the engine's layout (see [`crate::archive`]). The stream ends with `Ok` entries
    /// only when the export was complete; dropping it stops the engine's export.
    ///
    /// The request goes out at once, so a caller can do other work while the engine prepares
    /// the export (Docker's classic store writes the whole image to disk before its first byte).
    pub fn export_archive(
        &self,
        reference: &str,
        chunk: usize,
    ) -> impl Stream<Item = Result<ArchiveEntry>> + Send + 'static {
        let bytes = self
            .export_image(reference)
            .map(|r| r.map_err(|e| std::io::Error::other(e.to_string())));
        let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(bytes));
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<ArchiveEntry>>(READ_AHEAD);
        tokio::task::spawn_blocking(move || {
            let result = read_archive(reader, chunk, |entry| tx.blocking_send(Ok(entry)).is_ok());
            if let Err(e) = result {
                let _ = tx.blocking_send(Err(e));
            }
        });
        futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })
    }
}
