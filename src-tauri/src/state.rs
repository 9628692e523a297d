//! The app's shared state: one engine connection, made on first use and remade after a failure,
//! so that "Retry" on the Engine view really tries again.

use std::sync::Arc;

use slipway_core::Slipway;
use tokio::sync::Mutex;

use crate::error::CmdResult;

#[derive(Default)]
pub struct EngineConn {
    conn: Mutex<Option<Arc<Slipway>>>,
}

impl EngineConn {
    /// The connected core; connects when there is no connection yet.
    pub async fn get(&self) -> CmdResult<Arc<Slipway>> {
        let mut guard = self.conn.lock().await;
        if let Some(s) = guard.as_ref() {
            return Ok(s.clone());
        }
        let s = Arc::new(Slipway::connect().await?);
        *guard = Some(s.clone());
        Ok(s)
    }

    /// Drops the connection so that the next call connects again (the engine may have moved).
    pub async fn forget(&self) {
        *self.conn.lock().await = None;
    }
}
