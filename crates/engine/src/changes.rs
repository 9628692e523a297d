//! Changes: what a container's processes added, changed or deleted in its filesystem.
//!
//! The engine's `/changes` lists paths and kinds only. Sizes come from one `HEAD
//! /containers/{id}/archive?path=...` per added or changed path: it works on running and stopped
//! containers alike and needs nothing inside the image (no `stat` binary), at the price of one
//! request per path, so we only ask when the list is short enough to stay quick.

use bollard::query_parameters::ContainerArchiveInfoOptionsBuilder;
use futures_util::StreamExt;

use crate::{Engine, Result};

/// Above this many changes sizes are not fetched (`size` stays `None`): a package install can
/// change tens of thousands of files and one request each would take minutes.
pub const MAX_SIZED_CHANGES: usize = 2000;

/// How many size requests are in flight at once.
const STAT_CONCURRENCY: usize = 16;

/// Go's `os.FileMode` type bits (dir, symlink, named pipe, socket, device, char device,
/// irregular): a mode with none of them set is a regular file.
const GO_MODE_TYPE_BITS: u32 =
    (1 << 31) | (1 << 27) | (1 << 25) | (1 << 24) | (1 << 26) | (1 << 21) | (1 << 19);
const GO_MODE_DIR: u32 = 1 << 31;

/// What happened to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChangeKind {
    /// Created by the container.
    Added,
    /// Existed in the image and was modified (for a directory: its entries changed).
    Changed,
    /// Existed in the image and was removed.
    Deleted,
}

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The absolute path inside the container.
    pub path: String,
    /// Added, changed or deleted.
    pub kind: ChangeKind,
    /// True when the path is a directory (unknown, hence false, for deleted paths).
    pub is_dir: bool,
    /// The file's size in bytes now, for regular files that still exist and when sizes were
    /// fetched.
    pub size: Option<u64>,
}

impl Engine {
    /// Lists the container's filesystem changes relative to its image, sorted by path.
    pub async fn container_changes(
        &self,
        container: &str,
        with_sizes: bool,
    ) -> Result<Vec<Change>> {
        let raw = self
            .docker()
            .container_changes(container)
            .await?
            .unwrap_or_default();
        let mut changes: Vec<Change> = raw
            .into_iter()
            .map(|change| Change {
                path: change.path,
                kind: match change.kind {
                    bollard::models::ChangeType::_0 => ChangeKind::Changed,
                    bollard::models::ChangeType::_1 => ChangeKind::Added,
                    bollard::models::ChangeType::_2 => ChangeKind::Deleted,
                },
                is_dir: false,
                size: None,
            })
            .collect();
        changes.sort_by(|a, b| a.path.cmp(&b.path));
        if !with_sizes || changes.len() > MAX_SIZED_CHANGES {
            return Ok(changes);
        }
        // Each request owns its path, container name and client handle (an `Arc` inside), so the
        // futures borrow nothing from this function: a closure over `&Change` made the whole
        // future `Send` only for some lifetimes, which callers on a multi-threaded runtime (Tauri
        // commands) cannot use.
        let wanted: Vec<Option<String>> = changes
            .iter()
            .map(|change| (change.kind != ChangeKind::Deleted).then(|| change.path.clone()))
            .collect();
        let stats: Vec<Option<(bool, Option<u64>)>> =
            futures_util::stream::iter(wanted.into_iter().map(|path| {
                let docker = self.docker().clone();
                let container = container.to_string();
                async move {
                    let path = path?;
                    let options = ContainerArchiveInfoOptionsBuilder::default()
                        .path(&path)
                        .build();
                    // A path can vanish between the two calls; that only costs its size.
                    let stat = docker
                        .get_container_archive_info(&container, Some(options))
                        .await
                        .ok()?;
                    let is_dir = stat.file_mode & GO_MODE_DIR != 0;
                    let regular = stat.file_mode & GO_MODE_TYPE_BITS == 0;
                    Some((
                        is_dir,
                        regular.then(|| u64::try_from(stat.size).unwrap_or(0)),
                    ))
                }
            }))
            .buffered(STAT_CONCURRENCY)
            .collect()
            .await;
        for (change, stat) in changes.iter_mut().zip(stats) {
            if let Some((is_dir, size)) = stat {
                change.is_dir = is_dir;
                change.size = size;
            }
        }
        Ok(changes)
    }
}
