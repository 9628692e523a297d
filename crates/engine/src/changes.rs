//! Changes: what a container's processes added, changed or deleted in its filesystem.
//!
//! The engine's `/changes` lists paths and kinds only. Sizes and directory flags of a running
//! container come from `stat` inside it: a few execs of `stat -c '%s %f %n' -- PATH...`, each
//! with as many paths as fit a safe argument list, so 2,500 changes cost a handful of requests
//! instead of 2,500. A stopped container, or an image without `stat`, falls back to one `HEAD
//! /containers/{id}/archive?path=...` per path, which works anywhere but is slow, so that
//! fallback only runs for lists short enough to stay quick.

use std::collections::HashMap;

use bollard::query_parameters::ContainerArchiveInfoOptionsBuilder;
use futures_util::StreamExt;

use crate::exec::ExecSpec;
use crate::{Engine, Result};

/// Above this many changes the per-path fallback is not tried (`size` stays `None`): one request
/// per path would take minutes for a large install. The `stat` route has no such limit.
pub const MAX_SIZED_CHANGES: usize = 2000;

/// The bytes of paths one `stat` exec takes. Linux allows 2 MiB of arguments and environment, and
/// a quarter of the stack limit at least; 96 KiB stays well inside both, everywhere.
const STAT_BATCH_BYTES: usize = 96 * 1024;

/// How many `stat` execs run at once.
const STAT_EXECS_AT_ONCE: usize = 4;

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
        if !with_sizes {
            return Ok(changes);
        }
        let wanted: Vec<String> = changes
            .iter()
            .filter(|change| change.kind != ChangeKind::Deleted)
            .map(|change| change.path.clone())
            .collect();
        let stats = match self.stat_paths(container, &wanted).await {
            Some(stats) => stats,
            None if changes.len() <= MAX_SIZED_CHANGES => {
                self.stat_paths_by_archive(container, wanted).await
            }
            None => HashMap::new(),
        };
        for change in &mut changes {
            if let Some(stat) = stats.get(&change.path) {
                change.is_dir = stat.is_dir;
                change.size = stat.size;
            }
        }
        Ok(changes)
    }
    /// Stats `paths` with `stat` inside the running container: `None` when that is impossible
    /// (the container is stopped, the image has no `stat`), so the caller can fall back. A path
    /// that vanished in the meantime is simply missing from the map.
    async fn stat_paths(&self, container: &str, paths: &[String]) -> Option<HashMap<String, Stat>> {
        let batches = batches(paths, STAT_BATCH_BYTES);
        let results: Vec<Option<Vec<u8>>> =
            futures_util::stream::iter(batches.into_iter().map(|batch| {
                let engine = self.clone();
                let container = container.to_string();
                async move { engine.stat_batch(&container, batch).await }
            }))
            .buffered(STAT_EXECS_AT_ONCE)
            .collect()
            .await;
        let mut stats = HashMap::new();
        for output in results {
            parse_stat_output(&output?, &mut stats);
        }
        Some(stats)
    }

    /// One `stat` exec over `batch`; its stdout, or `None` when the exec could not run `stat`.
    async fn stat_batch(&self, container: &str, batch: Vec<String>) -> Option<Vec<u8>> {
        let mut cmd = vec![
            "stat".to_string(),
            "-c".to_string(),
            "%s %f %n".to_string(),
            "--".to_string(),
        ];
        cmd.extend(batch);
        let (code, stdout, _) = self.collect_as_root(container, cmd).await.ok()?;
        // 1 is `stat` saying some path was missing (it still printed the others); 126 and 127
        // are the engine saying there is no `stat` to run.
        (code == 0 || code == 1).then_some(stdout)
    }

    /// The slow route: one archive `HEAD` per path, 16 at a time.
    async fn stat_paths_by_archive(
        &self,
        container: &str,
        paths: Vec<String>,
    ) -> HashMap<String, Stat> {
        // Each request owns its path, container name and client handle (an `Arc` inside), so the
        // futures borrow nothing from this function: a closure over a borrowed path made the
        // whole future `Send` only for some lifetimes, which callers on a multi-threaded runtime
        // (Tauri commands) cannot use.
        futures_util::stream::iter(paths.into_iter().map(|path| {
            let docker = self.docker().clone();
            let container = container.to_string();
            async move {
                let options = ContainerArchiveInfoOptionsBuilder::default()
                    .path(&path)
                    .build();
                // A path can vanish between the two calls; that only costs its size.
                let stat = docker
                    .get_container_archive_info(&container, Some(options))
                    .await
                    .ok()?;
                let regular = stat.file_mode & GO_MODE_TYPE_BITS == 0;
                Some((
                    path,
                    Stat {
                        is_dir: stat.file_mode & GO_MODE_DIR != 0,
                        size: regular.then(|| u64::try_from(stat.size).unwrap_or(0)),
                    },
                ))
            }
        }))
        .buffered(STAT_CONCURRENCY)
        .filter_map(|stat| async move { stat })
        .collect()
        .await
    }

    /// Which of `paths` (regular files) contain `needle`, read by `grep -l -F` in the running
    /// container as root. A file that cannot be read is simply not listed.
    pub async fn files_containing(
        &self,
        container: &str,
        needle: &str,
        paths: &[String],
    ) -> Result<Vec<String>> {
        let mut found = Vec::new();
        for batch in batches(paths, STAT_BATCH_BYTES) {
            let mut cmd = vec![
                "grep".to_string(),
                "-l".to_string(),
                "-F".to_string(),
                "-e".to_string(),
                needle.to_string(),
                "--".to_string(),
            ];
            cmd.extend(batch);
            // grep exits 1 when no file matched and 2 when one could not be read; the names it
            // printed are right either way.
            let (_, stdout, _) = self.collect_as_root(container, cmd).await?;
            found.extend(String::from_utf8_lossy(&stdout).lines().map(str::to_string));
        }
        Ok(found)
    }

    /// Removes exactly `paths` (recursively) in the running container, as root, in as few execs
    /// as the argument limit allows.
    pub async fn remove_paths(&self, container: &str, paths: &[String]) -> Result<()> {
        for batch in batches(paths, STAT_BATCH_BYTES) {
            let mut cmd = vec!["rm".to_string(), "-rf".to_string(), "--".to_string()];
            cmd.extend(batch);
            let (code, _, stderr) = self.collect_as_root(container, cmd).await?;
            if code != 0 {
                return Err(crate::Error::Stream {
                    message: format!(
                        "rm exited with {code}: {}",
                        String::from_utf8_lossy(&stderr).trim()
                    ),
                });
            }
        }
        Ok(())
    }

    /// Runs `cmd` in the running container as root, so that files of every user count, and
    /// collects its exit code and output.
    async fn collect_as_root(
        &self,
        container: &str,
        cmd: Vec<String>,
    ) -> Result<(i64, Vec<u8>, Vec<u8>)> {
        let spec = ExecSpec {
            cmd,
            user: Some("0".to_string()),
            ..ExecSpec::default()
        };
        self.exec_collect_spec(container, spec).await
    }
}

/// What `stat` said about one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    is_dir: bool,
    /// The size of a regular file; `None` for anything else.
    size: Option<u64>,
}

/// `paths` cut into lists of at most `max_bytes` each (a single longer path gets a list alone).
fn batches(paths: &[String], max_bytes: usize) -> Vec<Vec<String>> {
    let mut batches: Vec<Vec<String>> = Vec::new();
    let mut bytes = 0;
    for path in paths {
        let cost = path.len() + 1;
        match batches.last_mut() {
            Some(batch) if bytes + cost <= max_bytes => batch.push(path.clone()),
            _ => {
                batches.push(vec![path.clone()]);
                bytes = 0;
            }
        }
        bytes += cost;
    }
    batches
}

/// Reads `stat -c '%s %f %n'` lines (size, raw mode in hex, path) into `stats`. A line that does
/// not parse (a path with a newline in it) is skipped, which only costs that path its size.
fn parse_stat_output(output: &[u8], stats: &mut HashMap<String, Stat>) {
    for line in String::from_utf8_lossy(output).lines() {
        let mut fields = line.splitn(3, ' ');
        let (Some(size), Some(mode), Some(path)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let (Ok(size), Ok(mode)) = (size.parse::<u64>(), u32::from_str_radix(mode, 16)) else {
            continue;
        };
        let file_type = mode & 0o170000;
        stats.insert(
            path.to_string(),
            Stat {
                is_dir: file_type == 0o040000,
                size: (file_type == 0o100000).then_some(size),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_give_sizes_of_files_and_flags_of_directories() {
        let mut stats = HashMap::new();
        parse_stat_output(
            b"4096 41ed /etc\n12 81a4 /etc/a file\n7 a1ff /bin/link\nbroken line\n",
            &mut stats,
        );
        assert_eq!(
            stats["/etc"],
            Stat {
                is_dir: true,
                size: None
            }
        );
        assert_eq!(
            stats["/etc/a file"],
            Stat {
                is_dir: false,
                size: Some(12)
            }
        );
        assert_eq!(
            stats["/bin/link"],
            Stat {
                is_dir: false,
                size: None
            }
        );
        assert_eq!(stats.len(), 3);
    }

    #[test]
    fn batches_stay_under_their_byte_limit() {
        let paths: Vec<String> = (0..100).map(|i| format!("/p/{i:04}")).collect();
        let cut = batches(&paths, 70);
        assert!(cut
            .iter()
            .all(|batch| batch.iter().map(|p| p.len() + 1).sum::<usize>() <= 70));
        assert_eq!(cut.concat(), paths);
        assert!(batches(&[], 70).is_empty());
    }
}
