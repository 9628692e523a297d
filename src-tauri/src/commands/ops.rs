//! Long operations (pull, push, fetch, copy) are filed under an id the page chooses, so that a
//! Cancel button can stop one without knowing anything else about it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

use crate::error::{cancelled, CmdResult};

#[derive(Default)]
pub struct Ops {
    running: Mutex<HashMap<String, CancellationToken>>,
}

impl Ops {
    fn register(&self, id: &str) -> CancellationToken {
        let token = CancellationToken::new();
        self.running
            .lock()
            .expect("ops lock")
            .insert(id.to_string(), token.clone());
        token
    }

    fn finish(&self, id: &str) {
        self.running.lock().expect("ops lock").remove(id);
    }

    /// Runs `work` until it finishes or the op is cancelled. Cancelling drops the future, which
    /// drops the core's stream and with it the request to the engine or registry.
    pub async fn run<T, F>(&self, id: &str, work: F) -> CmdResult<T>
    where
        F: Future<Output = CmdResult<T>>,
    {
        let token = self.register(id);
        let out = tokio::select! {
            res = work => res,
            _ = token.cancelled() => Err(cancelled()),
        };
        self.finish(id);
        out
    }

    pub fn cancel(&self, id: &str) -> bool {
        match self.running.lock().expect("ops lock").get(id) {
            Some(t) => {
                t.cancel();
                true
            }
            None => false,
        }
    }
}

/// Cancels a running operation; false when it had already finished.
#[tauri::command]
pub fn op_cancel(ops: tauri::State<'_, Ops>, op_id: String) -> bool {
    ops.cancel(&op_id)
}
