//! The overall bar of one push, computed once here so that no display recomputes it.
//!
//! It counts what really moved: a layer the registry already had, or mounted from another
//! repository, moved nothing, so it leaves the bar's total and is counted apart as present. A
//! layer's weight is its size as the engine reports it before the push (the only size known for
//! every layer from the start); its share of that weight moves with its own progress: the part
//! compressed times the part of it uploaded (the export route compresses while it uploads), or
//! the part uploaded alone (the engine's push). The bar stops one step short of full until the
//! push has ended, because the config and the manifest still follow the last layer's bytes.

use std::collections::HashMap;
use std::sync::Mutex;

use super::PushEvent;

/// Thousandths of the push, the bar's resolution; the last one comes only with the end.
const FULL: u64 = 1000;

/// The overall progress of one push, fed every per-layer event.
#[derive(Default)]
pub(crate) struct Overall {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    rows: HashMap<String, Row>,
    /// The last permille sent, so that a byte here and there does not send an event each.
    sent: Option<u16>,
}

#[derive(Default, Clone, Copy)]
struct Row {
    /// The layer's size as the engine gave it before the push.
    weight: u64,
    /// The row was announced as a layer of the image (`Waiting`).
    announced: bool,
    /// Bytes compressed of the total, while the export route compresses it.
    compressed: Option<(u64, u64)>,
    /// Bytes uploaded of the total.
    uploaded: Option<(u64, u64)>,
    end: End,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum End {
    #[default]
    Open,
    /// Its bytes reached the registry.
    Moved,
    /// The registry had it already, or mounted it: nothing moved.
    Present,
}

impl Row {
    /// How much of this layer has moved, from 0 to 1.
    fn fraction(&self) -> f64 {
        let part = |(done, total): (u64, u64)| {
            if total == 0 {
                0.0
            } else {
                (done as f64 / total as f64).min(1.0)
            }
        };
        match self.end {
            End::Moved => 1.0,
            End::Present => 0.0,
            End::Open => {
                self.uploaded.map(part).unwrap_or(0.0) * self.compressed.map(part).unwrap_or(1.0)
            }
        }
    }
}

impl Overall {
    /// Takes in one event; calls `send` with the overall event it changes, if any. The lock is
    /// held while sending, so that overall events from several upload tasks arrive in order.
    pub(crate) fn observe(&self, event: &PushEvent, send: impl FnOnce(PushEvent)) {
        let mut state = self.state.lock().expect("overall lock");
        let ended = state.apply(event);
        if ended.is_none() {
            return;
        }
        let overall = state.summary(false);
        let PushEvent::Overall { permille, .. } = overall else {
            unreachable!("summary is an Overall event")
        };
        if ended == Some(true) || state.sent != Some(permille) {
            state.sent = Some(permille);
            send(overall);
        }
    }

    /// The overall event for a push that has ended: full.
    pub(crate) fn finish(&self) -> PushEvent {
        self.state.lock().expect("overall lock").summary(true)
    }
}

impl State {
    fn row(&mut self, blob: &str) -> &mut Row {
        self.rows.entry(blob.to_string()).or_default()
    }

    /// Applies `event`; `None` when it does not concern the overall bar, `Some(true)` when a row
    /// started or ended (always worth an overall event), `Some(false)` for bytes moving.
    fn apply(&mut self, event: &PushEvent) -> Option<bool> {
        match event {
            // The config is not a layer; its bytes are part of the end.
            PushEvent::Done { blob, .. } if blob == "config" => None,
            PushEvent::Waiting { blob, size } => {
                let row = self.row(blob);
                row.weight = *size;
                row.announced = true;
                Some(true)
            }
            PushEvent::Compressing { blob, done, total } => {
                let row = self.row(blob);
                if row.weight == 0 {
                    row.weight = *total;
                }
                row.compressed = Some((*done, *total));
                Some(false)
            }
            PushEvent::Uploading { blob, done, total } => {
                let row = self.row(blob);
                // A layer nobody announced (a blob the engine held compressed) weighs its bytes.
                if row.weight == 0 {
                    row.weight = *total;
                }
                row.uploaded = Some((*done, (*total).max(*done)));
                Some(false)
            }
            PushEvent::Done { blob, size, .. } => {
                let row = self.row(blob);
                if row.weight == 0 {
                    row.weight = *size;
                }
                row.end = End::Moved;
                Some(true)
            }
            PushEvent::Skipped { blob }
            | PushEvent::Exists { blob, .. }
            | PushEvent::Mounted { blob, .. } => {
                let row = self.row(blob);
                if row.end != End::Moved {
                    row.end = End::Present;
                }
                Some(true)
            }
            PushEvent::Identified { label, diff_id } => {
                let from = self.rows.get(label).copied().unwrap_or_default();
                let to = self.row(diff_id);
                if to.end == End::Open {
                    to.compressed = from.compressed;
                    to.uploaded = from.uploaded;
                    to.end = from.end;
                }
                if from.announced {
                    let from = self.row(label);
                    from.compressed = None;
                    from.uploaded = None;
                    from.end = End::Open;
                } else {
                    self.rows.remove(label);
                }
                Some(true)
            }
            PushEvent::Overall { .. } | PushEvent::Phase { .. } => None,
        }
    }

    fn summary(&self, complete: bool) -> PushEvent {
        let mut to_move = 0u64;
        let mut moved = 0f64;
        let mut present = 0u64;
        for row in self.rows.values() {
            if row.end == End::Present {
                present += row.weight;
            } else {
                to_move += row.weight;
                moved += row.weight as f64 * row.fraction();
            }
        }
        let moved = if complete { to_move } else { moved as u64 };
        let permille = if complete {
            FULL
        } else {
            // Nothing to move yet (no layer announced, or all present): nothing to show yet.
            moved
                .saturating_mul(FULL)
                .checked_div(to_move)
                .unwrap_or(0)
                .min(FULL - 1)
        };
        PushEvent::Overall {
            moved,
            to_move,
            present,
            permille: permille as u16,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(overall: &Overall, events: &[PushEvent]) -> Vec<PushEvent> {
        let mut out = Vec::new();
        for event in events {
            overall.observe(event, |o| out.push(o));
        }
        out
    }

    fn waiting(blob: &str, size: u64) -> PushEvent {
        PushEvent::Waiting {
            blob: blob.into(),
            size,
        }
    }

    fn uploading(blob: &str, done: u64, total: u64) -> PushEvent {
        PushEvent::Uploading {
            blob: blob.into(),
            done,
            total,
        }
    }

    fn overall(moved: u64, to_move: u64, present: u64, permille: u16) -> PushEvent {
        PushEvent::Overall {
            moved,
            to_move,
            present,
            permille,
        }
    }

    #[test]
    fn a_layer_the_registry_has_moves_nothing_and_is_counted_apart() {
        let tally = Overall::default();
        let out = feed(
            &tally,
            &[
                waiting("sha256:base", 800),
                waiting("sha256:app", 200),
                PushEvent::Exists {
                    blob: "sha256:base".into(),
                    digest: "sha256:b".into(),
                },
                uploading("sha256:app", 50, 100),
            ],
        );
        assert_eq!(out.last(), Some(&overall(100, 200, 800, 500)));
    }

    #[test]
    fn a_layer_the_engine_skipped_leaves_the_bar_before_its_digest_is_known() {
        let tally = Overall::default();
        let out = feed(
            &tally,
            &[
                waiting("sha256:base", 800),
                waiting("sha256:app", 200),
                PushEvent::Skipped {
                    blob: "sha256:base".into(),
                },
                uploading("sha256:app", 100, 100),
                PushEvent::Exists {
                    blob: "sha256:base".into(),
                    digest: "sha256:b".into(),
                },
            ],
        );
        assert_eq!(out.last(), Some(&overall(200, 200, 800, 999)));
    }

    #[test]
    fn the_bar_is_full_only_at_the_end() {
        let tally = Overall::default();
        let out = feed(
            &tally,
            &[
                waiting("sha256:app", 200),
                uploading("sha256:app", 100, 100),
                PushEvent::Done {
                    blob: "sha256:app".into(),
                    digest: "sha256:c".into(),
                    size: 90,
                },
                PushEvent::Done {
                    blob: "config".into(),
                    digest: "sha256:cfg".into(),
                    size: 9,
                },
            ],
        );
        // Every layer is in, but the manifest is not: one step short.
        assert_eq!(out.last(), Some(&overall(200, 200, 0, 999)));
        assert_eq!(tally.finish(), overall(200, 200, 0, 1000));
    }

    #[test]
    fn the_export_route_moves_with_what_is_compressed_and_uploaded() {
        let tally = Overall::default();
        let out = feed(
            &tally,
            &[
                waiting("sha256:app", 1000),
                PushEvent::Compressing {
                    blob: "sha256:app".into(),
                    done: 500,
                    total: 1000,
                },
                // Compressed bytes uploaded as fast as they are written.
                uploading("sha256:app", 120, 120),
            ],
        );
        assert_eq!(out.last(), Some(&overall(500, 1000, 0, 500)));
    }

    #[test]
    fn a_row_followed_under_a_guess_moves_to_its_layer() {
        let tally = Overall::default();
        let out = feed(
            &tally,
            &[
                waiting("sha256:a", 100),
                waiting("sha256:b", 100),
                uploading("sha256:a", 50, 100),
                PushEvent::Identified {
                    label: "sha256:a".into(),
                    diff_id: "sha256:b".into(),
                },
            ],
        );
        assert_eq!(out.last(), Some(&overall(50, 200, 0, 250)));
    }

    #[test]
    fn bytes_that_change_nothing_send_no_event() {
        let tally = Overall::default();
        let out = feed(
            &tally,
            &[
                waiting("sha256:a", 1_000_000),
                uploading("sha256:a", 10, 1_000_000),
                uploading("sha256:a", 20, 1_000_000),
            ],
        );
        // The waiting row sends one event; bytes that leave the permille where it was send none.
        assert_eq!(out.len(), 1);
    }
}
