//! Long operations (pull, push, exec, copy) are filed under an id the page chooses, so that a
//! Cancel button can stop one without knowing anything else about it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

use crate::error::{CmdResult, ErrorDto};

#[derive(Default)]
pub struct Ops {
    running: Mutex<HashMap<String, CancellationToken>>,
}

impl Ops {
    /// Runs `work` until it finishes or the op is cancelled. Cancelling drops the future, which
    /// drops the core's stream and with it the request to the engine or registry.
    pub async fn run<T, F>(&self, id: &str, work: F) -> CmdResult<T>
    where
        F: Future<Output = CmdResult<T>>,
    {
        let token = CancellationToken::new();
        self.running
            .lock()
            .expect("ops lock")
            .insert(id.to_string(), token.clone());
        let out = tokio::select! {
            res = work => res,
            _ = token.cancelled() => Err(ErrorDto::cancelled()),
        };
        self.running.lock().expect("ops lock").remove(id);
        out
    }

    /// The token of a running op, for core calls that take one themselves.
    pub fn token(&self, id: &str) -> Option<CancellationToken> {
        self.running.lock().expect("ops lock").get(id).cloned()
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
