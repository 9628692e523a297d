//! Tasks that end with their owner.

use crate::{Error, Result};

/// A task that stops when its handle is dropped: dropping a push or a fetch (a cancel) or
/// failing it stops every task it started instead of leaving them running in the background.
pub(crate) struct AbortOnDrop<T>(pub tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> AbortOnDrop<T> {
    /// Waits for the task's result.
    pub async fn join(&mut self) -> Result<T> {
        (&mut self.0)
            .await
            .map_err(|e| Error::Engine(format!("a background task stopped: {e}")))
    }
}
