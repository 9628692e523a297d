//! Tasks that end with their owner, and the cleanup a `Drop` starts but cannot await.

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

/// Runs `cleanup` on the current runtime without waiting for it: what a `Drop` cannot await
/// (cancelling an upload session on the registry, removing a temporary tag). Outside a runtime,
/// as when the process is ending, there is nothing left to run it on and it is skipped.
pub(crate) fn cleanup_later(cleanup: impl std::future::Future<Output = ()> + Send + 'static) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(cleanup);
    }
}
