//! Getting the space back: garbage collection of the registry Slipway manages, and for any other
//! registry, what its operator has to run.
//!
//! Deleting a tag or a manifest through the API only removes links; the blobs stay on disk until
//! the registry's own `garbage-collect` runs, and distribution's documentation says to run it
//! while the registry is stopped or read-only, because an upload in flight could otherwise lose
//! its blobs. So the real run stops the managed registry, collects with `--delete-untagged`
//! (manifests no tag points at go too, as the single-tag delete leaves them), and starts it again.
//!
//! The collection runs on whichever backend serves the registry: the program in place
//! (`program`), or a one-off container of the same image on the same data (`container`).
//! Either way the bytes freed are measured here, on the host's data folder, so that both backends
//! report the same kind of figure.

mod container;
mod program;

use std::collections::HashMap;
use std::path::Path;
use ts_rs::TS;

use serde::Serialize;

use crate::local_registry::{Backend, LocalRegistry, LocalRegistryError};

/// One blob garbage collection deletes (or would).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct GcBlob {
    pub digest: String,
    /// Its size on disk; 0 when its file is already gone.
    pub size: u64,
}

/// What a garbage collection removed, or would remove on a dry run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct GcReport {
    pub dry_run: bool,
    /// What ran the collection, as the local registry's status names its backend: the program's
    /// path, or the image in the engine.
    pub backend: String,
    pub blobs: Vec<GcBlob>,
    /// The sum of the blobs' sizes.
    pub bytes: u64,
    /// Bytes of blob storage on disk before and after (equal on a dry run).
    pub disk_before: u64,
    pub disk_after: u64,
    /// `disk_before - disk_after`: what the run gave back, measured.
    pub freed: u64,
    /// Whether the registry was stopped for the run and started again.
    pub restarted: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum GcError {
    #[error("the managed registry has never been started here, so there is nothing to collect ({path} does not exist); start it first")]
    NeverStarted { path: String },
    #[error("garbage collection failed ({status}); its output ends with: {output}")]
    Failed { status: String, output: String },
    #[error(transparent)]
    Registry(#[from] LocalRegistryError),
}

impl GcError {
    pub fn code(&self) -> &'static str {
        match self {
            GcError::NeverStarted { .. } => "not_found",
            GcError::Failed { .. } => "gc_failed",
            GcError::Registry(e) => e.code(),
        }
    }
}

impl From<GcError> for crate::ErrorDto {
    fn from(e: GcError) -> Self {
        crate::ErrorDto {
            code: e.code().to_string(),
            message: e.to_string(),
        }
    }
}

/// What a backend's `garbage-collect` run printed, and whether it succeeded.
struct Collected {
    success: bool,
    /// How it ended, e.g. `exit status: 1`, for an error message.
    status: String,
    /// Its stdout and stderr.
    output: String,
}

impl Collected {
    /// The run's output, or the error that says how it failed.
    fn into_output(self) -> Result<String, GcError> {
        if self.success {
            return Ok(self.output);
        }
        Err(GcError::Failed {
            status: self.status,
            output: crate::local_registry::tail(&self.output),
        })
    }
}

/// The arguments of distribution's collection after the program's name.
fn arguments(dry_run: bool, config: &str) -> Vec<String> {
    let mut args = vec![
        "garbage-collect".to_string(),
        "--delete-untagged".to_string(),
    ];
    if dry_run {
        args.push("--dry-run".to_string());
    }
    args.push(config.to_string());
    args
}

/// Runs the managed registry's garbage collection: with `dry_run`, lists what would go while the
/// registry keeps running; otherwise stops it, collects, starts it again (detached when it had
/// been started detached, see [`LocalRegistry::start_detached`]) and measures what left the disk.
pub async fn garbage_collect(reg: &LocalRegistry, dry_run: bool) -> Result<GcReport, GcError> {
    let dir = reg
        .options()
        .data_dir
        .clone()
        .ok_or(LocalRegistryError::NoDataDir)?;
    let storage = dir.join("storage");
    let backend = reg.backend().await?;
    // The program reads the config file `start` writes; the image reads its own config and finds
    // the data in the bind-mounted storage. Either missing means no start ever happened here.
    let config = dir.join("config.yml");
    let needed = match backend {
        Backend::Program(_) => &config,
        Backend::Image(_) => &storage,
    };
    if !needed.exists() {
        return Err(GcError::NeverStarted {
            path: needed.display().to_string(),
        });
    }
    let blobs_root = storage.join("docker/registry/v2/blobs");
    // Sizes are taken before the run: afterwards the collected blobs' files are gone.
    let sizes = blob_sizes(&blobs_root);
    let disk_before: u64 = sizes.values().sum();
    let was_running = !dry_run && reg.status().await.running;
    let detached = was_running && !reg.owns_child().await;
    if was_running {
        reg.stop().await;
    }
    let collected = match &backend {
        Backend::Program(path) => program::collect(path, &config, dry_run).await,
        Backend::Image(engine) => container::collect(reg, engine, &storage, dry_run).await,
    };
    // Whatever the collection did, the registry the user had running runs again.
    if was_running {
        if detached {
            reg.start_detached().await?;
        } else {
            reg.start().await?;
        }
    }
    let output = collected.into_output()?;
    let blobs: Vec<GcBlob> = eligible(&output)
        .into_iter()
        .map(|digest| GcBlob {
            size: sizes.get(&digest).copied().unwrap_or(0),
            digest,
        })
        .collect();
    let bytes = blobs.iter().map(|b| b.size).sum();
    let disk_after = blob_bytes(&blobs_root);
    Ok(GcReport {
        dry_run,
        backend: reg.backend_display(&backend),
        blobs,
        bytes,
        disk_before,
        disk_after,
        freed: disk_before.saturating_sub(disk_after),
        restarted: was_running,
    })
}

/// The digests of `blob eligible for deletion: sha256:…` lines, as distribution 2.x prints them.
fn eligible(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|l| l.split_once("blob eligible for deletion: "))
        .map(|(_, d)| d.trim().to_string())
        .collect()
}

/// Every blob under `root` (distribution's `blobs/sha256/ab/abcd…/data`) by digest, with its size.
fn blob_sizes(root: &Path) -> HashMap<String, u64> {
    let mut sizes = HashMap::new();
    for algorithm in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let alg = algorithm.file_name().to_string_lossy().to_string();
        for prefix in std::fs::read_dir(algorithm.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            for blob in std::fs::read_dir(prefix.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                if let Ok(meta) = std::fs::metadata(blob.path().join("data")) {
                    let hex = blob.file_name().to_string_lossy().to_string();
                    sizes.insert(format!("{alg}:{hex}"), meta.len());
                }
            }
        }
    }
    sizes
}

/// Bytes of every blob file under `root`: what the registry's storage holds in content (the
/// link files beside them are a few dozen bytes each and are not counted).
pub fn blob_bytes(root: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(root) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let path = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => blob_bytes(&path),
                Ok(t) if t.is_file() && e.file_name() == "data" => {
                    e.metadata().map(|m| m.len()).unwrap_or(0)
                }
                _ => 0,
            }
        })
        .sum()
}

/// What the operator of a registry Slipway does not manage has to run to get the space back.
pub fn operator_instructions(registry: &str) -> String {
    format!(
        "Deleting frees no disk space on {registry} until its operator runs the registry's garbage \
collection. For the reference registry (distribution, registry:2), on its host:\n\
  1. stop it, or set storage.maintenance.readonly.enabled: true (uploads during a collection can lose blobs);\n\
  2. run: registry garbage-collect --delete-untagged /etc/docker/registry/config.yml\n\
     (in a container: docker exec <container> registry garbage-collect --delete-untagged /etc/docker/registry/config.yml;\n\
      Debian's package: docker-registry garbage-collect --delete-untagged /etc/docker/registry/config.yml);\n\
  3. start it again (or turn read-only off).\n\
Harbor: Administration > Clean Up > GC Now. Other registries: see their documentation for garbage collection."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eligible_blobs_are_read_from_distributions_output() {
        let out = "a/b\n\n0 blobs marked, 2 blobs and 0 manifests eligible for deletion\n\
blob eligible for deletion: sha256:aa11\nblob eligible for deletion: sha256:bb22\n";
        assert_eq!(eligible(out), ["sha256:aa11", "sha256:bb22"]);
    }

    #[test]
    fn blob_bytes_counts_data_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let blob = dir.path().join("sha256/ab/abcdef");
        std::fs::create_dir_all(&blob).unwrap();
        std::fs::write(blob.join("data"), [0u8; 1234]).unwrap();
        std::fs::write(blob.join("link"), "x").unwrap();
        assert_eq!(blob_bytes(dir.path()), 1234);
        assert_eq!(blob_sizes(dir.path())["sha256:abcdef"], 1234);
    }

    #[test]
    fn other_registries_get_the_command_their_operator_runs() {
        let text = operator_instructions("registry.lan:5000");
        assert!(text.contains("garbage-collect --delete-untagged"), "{text}");
        assert!(text.contains("registry.lan:5000"), "{text}");
    }
}
