//! Changes: what a workshop changed in its container's filesystem.

use serde::{Deserialize, Serialize};
use slipway_engine::changes::ChangeKind;
use ts_rs::TS;

use crate::error::{Hint, CONTAINER_HINT};
use crate::{Result, Slipway};

/// What happened to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKindDto {
    /// Created.
    Added,
    /// Modified.
    Changed,
    /// Removed.
    Deleted,
}

impl ChangeKindDto {
    /// `A`, `C` or `D`, as `docker diff` prints it.
    pub fn letter(self) -> char {
        match self {
            ChangeKindDto::Added => 'A',
            ChangeKindDto::Changed => 'C',
            ChangeKindDto::Deleted => 'D',
        }
    }
}

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ChangeDto {
    /// Absolute path in the container.
    pub path: String,
    /// Added, changed or deleted.
    pub kind: ChangeKindDto,
    /// True for directories.
    pub is_dir: bool,
    /// Size in bytes of a regular file that still exists, when known.
    pub size: Option<u64>,
}

impl Slipway {
    /// The container's filesystem changes, sorted by path, with file sizes (see
    /// `slipway_engine::changes` for how sizes are obtained and when they are left out).
    pub async fn changes(&self, container: &str) -> Result<Vec<ChangeDto>> {
        let changes = self
            .engine()
            .container_changes(container, true)
            .await
            .hint(CONTAINER_HINT)?;
        Ok(changes
            .into_iter()
            .map(|change| ChangeDto {
                path: change.path,
                kind: match change.kind {
                    ChangeKind::Added => ChangeKindDto::Added,
                    ChangeKind::Changed => ChangeKindDto::Changed,
                    ChangeKind::Deleted => ChangeKindDto::Deleted,
                },
                is_dir: change.is_dir,
                size: change.size,
            })
            .collect())
    }
}
