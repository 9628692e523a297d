//! Which layer row each line of the engine's own push progress belongs to.
//!
//! The engine names a layer by a short id, the first 12 hex digits of a digest: of the layer's
//! diff_id on a classic store (moby `distribution/push_v2.go`), of its compressed blob on the
//! containerd store. Both are known before the push starts: the diff_ids from the image's inspect,
//! the compressed digests from the push cache (the digests this engine gave the layers when it
//! pushed them before) or from the engine's own manifest, which a containerd store hands over
//! in a dry run before any byte moves ([`super::engine`]). So every line goes to the row of its
//! layer, by diff_id, from the first byte. When the cache names all layers but one (a commit on
//! a base pushed before), the first id that is no other row's is that layer's; any other line
//! whose id is none of these moves no row and waits for the manifest.

use std::collections::HashMap;

use slipway_engine::push::PushProgress;

use super::PushEvent;

/// The engine's short ids, each with the diff_id of the row it belongs to.
pub(super) struct EngineRows {
    by_short_id: HashMap<String, String>,
    /// Each row's size in the engine's own count: the last total it gave, else what was known
    /// before the push.
    totals: HashMap<String, u64>,
    /// The one row no known digest names, which takes the first short id that names no other
    /// row ([`EngineRows::by_known_digests`]).
    unnamed: Option<String>,
}

/// The engine's short id for a digest.
fn short_id(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, hex)| hex);
    hex.chars().take(12).collect()
}

impl EngineRows {
    /// Rows for `diff_ids` of `sizes` (uncompressed, from the image's history), with the
    /// compressed digest and size of each layer in `compressed` when they are known (a containerd
    /// store's manifest: the same order, or empty).
    pub(super) fn new(diff_ids: &[String], sizes: &[u64], compressed: &[(String, u64)]) -> Self {
        let mut by_short_id = HashMap::new();
        let mut totals = HashMap::new();
        for (i, diff_id) in diff_ids.iter().enumerate() {
            if let Some(size) = sizes.get(i) {
                totals.insert(diff_id.clone(), *size);
            }
            if let Some((digest, size)) = compressed.get(i) {
                by_short_id.insert(short_id(digest), diff_id.clone());
                totals.insert(diff_id.clone(), *size);
            }
        }
        // A diff_id's own id wins over a compressed digest that happens to share its 12 digits.
        for diff_id in diff_ids {
            by_short_id.insert(short_id(diff_id), diff_id.clone());
        }
        EngineRows {
            by_short_id,
            totals,
            unnamed: None,
        }
    }

    /// Rows for a containerd store named by the digests it gave the layers in earlier pushes
    /// (`known`, by diff_id). When one layer has no such name (the new layer of a commit), the
    /// first short id that is no other row's is that layer's: the engine names only layers in
    /// its progress, never the config or the manifest.
    pub(super) fn by_known_digests(
        diff_ids: &[String],
        sizes: &[u64],
        known: &std::collections::BTreeMap<String, String>,
    ) -> Self {
        let mut rows = EngineRows::new(diff_ids, sizes, &[]);
        let mut unnamed = Vec::new();
        for diff_id in diff_ids {
            match known.get(diff_id) {
                Some(digest) => {
                    rows.by_short_id
                        .entry(short_id(digest))
                        .or_insert_with(|| diff_id.clone());
                }
                None => unnamed.push(diff_id.clone()),
            }
        }
        if let [one] = unnamed.as_slice() {
            rows.unnamed = Some(one.clone());
        }
        rows
    }

    /// The row event for one progress line, if the line moves a row. The bytes of a layer being
    /// pushed do, and "Pushed" fills its row (a small layer may go between two of the engine's
    /// progress lines); a layer the registry has or mounted is skipped at once, so the overall
    /// bar stops waiting for it; "Preparing" and "Waiting" leave the row waiting. Under which
    /// digest the registry holds each layer is said once the engine's manifest is in.
    pub(super) fn event(&mut self, line: &PushProgress) -> Option<PushEvent> {
        let id = line.layer.as_deref()?;
        if !self.by_short_id.contains_key(id) {
            let diff_id = self.unnamed.take()?;
            self.by_short_id.insert(id.to_string(), diff_id);
        }
        let diff_id = self.by_short_id.get(id)?.clone();
        match line.status.as_str() {
            "Pushing" => {
                let total = line.total.unwrap_or(0);
                if total > 0 {
                    self.totals.insert(diff_id.clone(), total);
                }
                Some(PushEvent::Uploading {
                    blob: diff_id,
                    // The engine counts a classic layer's tar a little past the size it gave.
                    done: line.current.unwrap_or(0).min(total.max(1)),
                    total,
                })
            }
            // The registry had it (the engine's HEAD) or mounted it: nothing of it will move.
            "Layer already exists" => Some(PushEvent::Skipped { blob: diff_id }),
            mounted if mounted.starts_with("Mounted from") => {
                Some(PushEvent::Skipped { blob: diff_id })
            }
            "Pushed" => {
                let total = self.totals.get(&diff_id).copied().unwrap_or(0);
                Some(PushEvent::Uploading {
                    blob: diff_id,
                    done: total,
                    total,
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(layer: &str, status: &str, current: Option<u64>, total: Option<u64>) -> PushProgress {
        PushProgress {
            layer: Some(layer.into()),
            status: status.into(),
            current,
            total,
        }
    }

    const BASE: &str = "sha256:7c6b97ddb7eef6d968ce1aa6d22121ac96617b8c98326250853f0ad0f6a1baf5";
    const APP: &str = "sha256:4e784d082927e9b95e7add0687ac8f21c6602ebbb881a924652bf6f026378bb5";

    #[test]
    fn a_classic_store_names_layers_by_their_diff_id() {
        let mut rows = EngineRows::new(&[BASE.to_string(), APP.to_string()], &[10, 20], &[]);
        // Lines as Docker 20.10 wrote them for this image.
        assert_eq!(
            rows.event(&line(
                "4e784d082927",
                "Pushing",
                Some(33280),
                Some(3_000_000)
            )),
            Some(PushEvent::Uploading {
                blob: APP.into(),
                done: 33280,
                total: 3_000_000
            })
        );
        assert_eq!(
            rows.event(&line(
                "4e784d082927",
                "Pushing",
                Some(3_001_920),
                Some(3_000_000)
            )),
            Some(PushEvent::Uploading {
                blob: APP.into(),
                done: 3_000_000,
                total: 3_000_000
            })
        );
        assert_eq!(
            rows.event(&line("7c6b97ddb7ee", "Preparing", None, None)),
            None
        );
        // "Pushed" fills the row, to the engine's last total for it, else the known size.
        assert_eq!(
            rows.event(&line("4e784d082927", "Pushed", None, None)),
            Some(PushEvent::Uploading {
                blob: APP.into(),
                done: 3_000_000,
                total: 3_000_000
            })
        );
        assert_eq!(
            rows.event(&line("7c6b97ddb7ee", "Pushed", None, None)),
            Some(PushEvent::Uploading {
                blob: BASE.into(),
                done: 10,
                total: 10
            })
        );
        assert_eq!(
            rows.event(&line("7c6b97ddb7ee", "Layer already exists", None, None)),
            Some(PushEvent::Skipped { blob: BASE.into() })
        );
        assert_eq!(
            rows.event(&line("7c6b97ddb7ee", "Mounted from team/base", None, None)),
            Some(PushEvent::Skipped { blob: BASE.into() })
        );
        assert_eq!(
            rows.event(&line("7c6b97ddb7ee", "Waiting", None, None)),
            None
        );
    }

    #[test]
    fn a_containerd_store_names_layers_by_their_compressed_digest() {
        let compressed = [
            (
                "sha256:e8f383cd6329075963367a5a39067108ae741653e856e686d138f711a229fd91"
                    .to_string(),
                1_064_361,
            ),
            (
                "sha256:79008b9fce60023cc3ce9aff170e0bf4962172a690dc27984190bea4021187d9"
                    .to_string(),
                3_001_120,
            ),
        ];
        let diff_ids = [BASE.to_string(), APP.to_string()];
        let mut rows = EngineRows::new(&diff_ids, &[2_000_000, 3_000_000], &compressed);
        assert_eq!(
            rows.event(&line(
                "79008b9fce60",
                "Pushing",
                Some(2_097_152),
                Some(3_001_120)
            )),
            Some(PushEvent::Uploading {
                blob: APP.into(),
                done: 2_097_152,
                total: 3_001_120
            })
        );
        // A small layer may go between two progress lines: "Pushed" fills it to its blob's size.
        assert_eq!(
            rows.event(&line("e8f383cd6329", "Pushed", None, None)),
            Some(PushEvent::Uploading {
                blob: BASE.into(),
                done: 1_064_361,
                total: 1_064_361
            })
        );
        // A blob nobody knew before the push moves no row rather than one of its own.
        assert_eq!(
            rows.event(&line("cf3c917c3adb", "Pushing", Some(1), Some(2))),
            None
        );
    }

    #[test]
    fn a_commit_on_a_known_base_names_its_new_layer_by_elimination() {
        // The base was pushed through the relay before, so its digest is known; the commit's
        // layer is not, and the first id that is no other row's is that layer's.
        let known = [(
            BASE.to_string(),
            "sha256:e8f383cd6329075963367a5a39067108ae741653e856e686d138f711a229fd91".to_string(),
        )]
        .into_iter()
        .collect();
        let diff_ids = [BASE.to_string(), APP.to_string()];
        let mut rows = EngineRows::by_known_digests(&diff_ids, &[2_000_000, 5_000_000], &known);
        assert_eq!(
            rows.event(&line("e8f383cd6329", "Mounted from bench/base", None, None)),
            Some(PushEvent::Skipped { blob: BASE.into() })
        );
        assert_eq!(
            rows.event(&line(
                "11e8b1caedf8",
                "Pushing",
                Some(1_000),
                Some(5_001_000)
            )),
            Some(PushEvent::Uploading {
                blob: APP.into(),
                done: 1_000,
                total: 5_001_000
            })
        );
        assert_eq!(
            rows.event(&line("11e8b1caedf8", "Pushed", None, None)),
            Some(PushEvent::Uploading {
                blob: APP.into(),
                done: 5_001_000,
                total: 5_001_000
            })
        );
        // Only one id takes the unnamed row: a second stranger moves nothing.
        assert_eq!(
            rows.event(&line("cf3c917c3adb", "Pushing", Some(1), Some(2))),
            None
        );
    }
}
