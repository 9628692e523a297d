//! The push cache under the user's cache dir (`<cache>/slipway/push`): which compressed blob each
//! uncompressed layer (diff_id) became, where those blobs already are, and the compressed bytes
//! themselves.
//!
//! Keeping the compressed bytes is what makes a push to a second registry free of recompression,
//! and what lets an interrupted upload be resumed from any offset; the index alone makes a
//! re-push to the same registry a handful of HEAD requests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use slipway_oci::Digest;

use crate::{Error, Result};

/// What one layer became when we compressed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedLayer {
    pub compressed: Digest,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    pub media_type: String,
    /// `registry/repository` names known to hold the compressed blob.
    #[serde(default)]
    pub locations: BTreeSet<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    /// Keyed by `<compression>:<diff_id>`: a layer compressed with gzip and with zstd are two
    /// different blobs.
    layers: BTreeMap<String, CachedLayer>,
    /// Per engine endpoint, the diff_ids that engine has pushed through Slipway's relay: it
    /// remembers their registry digests and sends only what a target lacks. Written by versions
    /// that did not keep the digests; read, never written, now.
    #[serde(default)]
    engines: BTreeMap<String, BTreeSet<String>>,
    /// Per engine endpoint, each diff_id that engine has pushed or pulled through Slipway's
    /// relay, with the digest of the blob it knows the layer by: the name a containerd store's
    /// progress lines use.
    #[serde(default)]
    engine_layers: BTreeMap<String, BTreeMap<String, String>>,
}

/// The cache; cheap to open, each change is written through.
#[derive(Debug, Clone)]
pub struct BlobCache {
    root: PathBuf,
}

impl BlobCache {
    /// The cache in `dir` when a request names one (tests do), else in `$SLIPWAY_CACHE_DIR` or
    /// `<user cache dir>/slipway/push`.
    pub fn open_or_default(dir: Option<&Path>) -> Result<BlobCache> {
        let root = dir
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("SLIPWAY_CACHE_DIR").map(PathBuf::from))
            .or_else(|| dirs::cache_dir().map(|d| d.join("slipway").join("push")))
            .ok_or_else(|| {
                Error::InvalidInput("no cache directory: set SLIPWAY_CACHE_DIR or HOME".to_string())
            })?;
        BlobCache::open(root)
    }

    /// Opens the cache at `root`, creating it, and removes temp files that a push which ended
    /// without cleaning up (a crash, a killed process) left behind.
    pub fn open(root: impl Into<PathBuf>) -> Result<BlobCache> {
        let root = root.into();
        let blobs = root.join("blobs");
        // Private images' layers live here: the user's only, whatever the umask.
        slipway_oci::files::create_private_dir(&blobs).map_err(|source| Error::Io {
            path: blobs.clone(),
            source,
        })?;
        let cache = BlobCache { root };
        cache.remove_orphans();
        Ok(cache)
    }

    /// Removes `tmp-<pid>-<n>` files whose process is gone, or that nothing wrote for a day.
    /// A live push of another process (the app and the CLI may run at once) keeps its files.
    fn remove_orphans(&self) {
        const STALE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
        let Ok(entries) = std::fs::read_dir(self.root.join("blobs")) else {
            return;
        };
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix("tmp-")
                .and_then(|rest| rest.split('-').next())
            else {
                continue;
            };
            let gone = !Path::new("/proc").join(pid).exists();
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE);
            if gone || stale {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    fn index_path(&self) -> PathBuf {
        self.root.join("layers.json")
    }

    fn read(&self) -> Index {
        // A corrupt or missing index only costs a recompression, so it is treated as empty.
        std::fs::read(self.index_path())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn write(&self, index: &Index) -> Result<()> {
        let path = self.index_path();
        let bytes = serde_json::to_vec(index).map_err(|e| Error::InvalidInput(e.to_string()))?;
        slipway_oci::files::write_private(&path, &bytes)
            .map_err(|source| Error::Io { path, source })
    }

    /// Held around every read-modify-write of the index: concurrent uploads in one push, and the
    /// app and the CLI pushing at once, would otherwise drop each other's entries.
    fn lock(&self) -> Result<slipway_oci::files::FileLock> {
        let path = self.index_path();
        slipway_oci::files::lock(&path).map_err(|source| Error::Io { path, source })
    }

    fn key(compression: &str, diff_id: &str) -> String {
        format!("{compression}:{diff_id}")
    }

    pub fn get(&self, compression: &str, diff_id: &str) -> Option<CachedLayer> {
        self.read()
            .layers
            .get(&Self::key(compression, diff_id))
            .cloned()
    }

    /// Records (or updates) a layer and adds `location` to where it is.
    pub fn put(
        &self,
        compression: &str,
        diff_id: &str,
        layer: CachedLayer,
        location: Option<&str>,
    ) -> Result<()> {
        self.put_all([(compression, diff_id.to_string(), layer)], location)
    }

    /// [`BlobCache::put`] for many layers (compression, diff_id, layer) in one write of the
    /// index: a push that learns every layer at its end (the engine route) pays one read and
    /// one `fsync`, not one per layer.
    pub fn put_all<'a>(
        &self,
        layers: impl IntoIterator<Item = (&'a str, String, CachedLayer)>,
        location: Option<&str>,
    ) -> Result<()> {
        let _lock = self.lock()?;
        let mut index = self.read();
        for (compression, diff_id, mut layer) in layers {
            let key = Self::key(compression, &diff_id);
            if let Some(old) = index.layers.get(&key) {
                if old.compressed == layer.compressed {
                    layer.locations.extend(old.locations.iter().cloned());
                    // A record that does not know the uncompressed size (a fetch's: a registry
                    // says only the compressed one) keeps the one known, which the export route
                    // tells unnamed layers apart by.
                    if layer.uncompressed_size == 0 {
                        layer.uncompressed_size = old.uncompressed_size;
                    }
                }
            }
            if let Some(location) = location {
                layer.locations.insert(location.to_string());
            }
            index.layers.insert(key, layer);
        }
        self.write(&index)
    }

    /// Where the compressed blob `digest` is known to be (`registry/repository` names).
    pub fn locations_of(&self, digest: &Digest) -> BTreeSet<String> {
        self.read()
            .layers
            .into_values()
            .filter(|l| &l.compressed == digest)
            .flat_map(|l| l.locations)
            .collect()
    }

    /// The diff_ids the engine at `endpoint` has pushed or pulled through the relay.
    pub fn engine_knows(&self, endpoint: &str) -> BTreeSet<String> {
        let mut index = self.read();
        let mut known = index.engines.remove(endpoint).unwrap_or_default();
        known.extend(
            index
                .engine_layers
                .remove(endpoint)
                .unwrap_or_default()
                .into_keys(),
        );
        known
    }

    /// The digest under which the engine at `endpoint` last pushed each diff_id, by diff_id.
    pub fn engine_digests(&self, endpoint: &str) -> BTreeMap<String, String> {
        self.read()
            .engine_layers
            .remove(endpoint)
            .unwrap_or_default()
    }

    /// The layers the engine at `endpoint` pushed whose blobs, as it compressed them, are known
    /// to be only in other registries than `registry`: pushing them there, the engine would
    /// compress them again. A layer whose blob has no known location is not among them.
    pub fn engine_layers_elsewhere(&self, endpoint: &str, registry: &str) -> BTreeSet<String> {
        let mut index = self.read();
        let prefix = format!("{registry}/");
        let engine = index.engine_layers.remove(endpoint).unwrap_or_default();
        engine
            .into_iter()
            .filter(|(_, digest)| {
                let mut locations = index
                    .layers
                    .values()
                    .filter(|l| l.compressed.to_string() == *digest)
                    .flat_map(|l| l.locations.iter())
                    .peekable();
                locations.peek().is_some() && !locations.any(|l| l.starts_with(&prefix))
            })
            .map(|(diff_id, _)| diff_id)
            .collect()
    }

    /// Records that the engine at `endpoint` pushed or pulled these layers through the relay,
    /// each as (diff_id, the digest of the blob it knows the layer by: the one in the manifest
    /// it pushed or pulled).
    pub fn remember_engine_layers(
        &self,
        endpoint: &str,
        layers: &[(String, String)],
    ) -> Result<()> {
        let _lock = self.lock()?;
        let mut index = self.read();
        index
            .engine_layers
            .entry(endpoint.to_string())
            .or_default()
            .extend(layers.iter().cloned());
        self.write(&index)
    }

    /// Forgets that `location` holds `digest` (it was deleted or the registry was reset).
    pub fn forget_location(&self, digest: &Digest, location: &str) -> Result<()> {
        let _lock = self.lock()?;
        let mut index = self.read();
        for layer in index.layers.values_mut() {
            if &layer.compressed == digest {
                layer.locations.remove(location);
            }
        }
        self.write(&index)
    }

    /// Where the compressed bytes of `digest` live (they may not exist).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(format!("{}-{}", digest.algorithm().as_str(), digest.hex()))
    }

    pub fn has_blob(&self, digest: &Digest, size: u64) -> bool {
        std::fs::metadata(self.blob_path(digest)).is_ok_and(|m| m.len() == size)
    }

    /// A fresh path to write a blob whose digest is not yet known.
    pub fn temp_path(&self) -> PathBuf {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        self.root
            .join("blobs")
            .join(format!("tmp-{}-{n}", std::process::id()))
    }

    /// Moves a finished temp file to its content address.
    pub fn commit_blob(&self, temp: &Path, digest: &Digest) -> Result<PathBuf> {
        let path = self.blob_path(digest);
        std::fs::rename(temp, &path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }

    /// Keeps a small blob (an image config) by content address.
    pub fn store_small(&self, digest: &Digest, bytes: &[u8]) -> Result<()> {
        let path = self.blob_path(digest);
        if !path.exists() {
            slipway_oci::files::write_private(&path, bytes)
                .map_err(|source| Error::Io { path, source })?;
        }
        Ok(())
    }

    /// Deletes the least recently written blobs until the cached bytes fit in `max_bytes`
    /// (`$SLIPWAY_CACHE_MAX_BYTES`, default 10 GB, via [`BlobCache::prune_default`]). The index
    /// keeps its entries: a pruned layer can still be found in a registry by HEAD or mounted,
    /// only uploading it somewhere new needs the engine's export again.
    pub fn prune(&self, max_bytes: u64) -> Result<u64> {
        let dir = self.root.join("blobs");
        let entries = std::fs::read_dir(&dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        let mut blobs: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter(|e| !e.file_name().to_string_lossy().starts_with("tmp-"))
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                Some((meta.modified().ok()?, meta.len(), e.path()))
            })
            .collect();
        let mut total: u64 = blobs.iter().map(|b| b.1).sum();
        blobs.sort();
        let mut freed = 0;
        for (_, len, path) in blobs {
            if total <= max_bytes {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= len;
                freed += len;
            }
        }
        Ok(freed)
    }

    /// [`BlobCache::prune`] with `$SLIPWAY_CACHE_MAX_BYTES` or 10 GB.
    pub fn prune_default(&self) -> Result<u64> {
        let max = std::env::var("SLIPWAY_CACHE_MAX_BYTES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10_000_000_000);
        self.prune(max)
    }

    pub fn read_small(&self, digest: &Digest) -> Option<Vec<u8>> {
        let bytes = std::fs::read(self.blob_path(digest)).ok()?;
        (Digest::sha256_of(&bytes) == *digest).then_some(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_files_of_a_process_that_is_gone_are_removed_when_the_cache_opens() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::open(dir.path()).unwrap();
        let mine = cache.temp_path();
        std::fs::write(&mine, b"in progress").unwrap();
        // No process has a pid this large (the kernel's limit is 2^22).
        let orphan = dir.path().join("blobs").join("tmp-99999999-0");
        std::fs::write(&orphan, b"left by a crash").unwrap();
        BlobCache::open(dir.path()).unwrap();
        assert!(!orphan.exists(), "the crashed push's temp file is removed");
        assert!(mine.exists(), "a live push's temp file is kept");
    }

    #[test]
    fn a_record_of_a_known_blob_adds_its_location_and_keeps_what_it_does_not_know() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::open(dir.path()).unwrap();
        let layer = |uncompressed_size| CachedLayer {
            compressed: Digest::sha256_of(b"blob"),
            compressed_size: 600,
            uncompressed_size,
            media_type: "x".into(),
            locations: Default::default(),
        };
        cache
            .put("gzip", "sha256:abc", layer(1000), Some("one:5000/pushed"))
            .unwrap();
        // A fetch knows the blob and where it came from, not its uncompressed size.
        cache
            .put_all(
                [("gzip", "sha256:abc".to_string(), layer(0))],
                Some("one:5000/fetched"),
            )
            .unwrap();
        let kept = cache.get("gzip", "sha256:abc").unwrap();
        assert_eq!(kept.uncompressed_size, 1000);
        assert_eq!(
            kept.locations,
            BTreeSet::from([
                "one:5000/fetched".to_string(),
                "one:5000/pushed".to_string()
            ])
        );
    }

    #[test]
    fn prune_removes_the_oldest_blobs_first_and_keeps_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::open(dir.path()).unwrap();
        let old = Digest::sha256_of(b"old");
        let new = Digest::sha256_of(b"new");
        cache.store_small(&old, &[1u8; 600]).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        cache.store_small(&new, &[2u8; 600]).unwrap();
        let layer = CachedLayer {
            compressed: old.clone(),
            compressed_size: 600,
            uncompressed_size: 1000,
            media_type: "x".into(),
            locations: Default::default(),
        };
        cache.put("gzip", "sha256:abc", layer, Some("r/x")).unwrap();
        assert_eq!(cache.prune(1000).unwrap(), 600);
        assert!(!cache.has_blob(&old, 600));
        assert!(cache.has_blob(&new, 600));
        let kept = cache.get("gzip", "sha256:abc").unwrap();
        assert!(kept.locations.contains("r/x"));
    }

    #[cfg(unix)]
    #[test]
    fn the_cache_is_private_and_concurrent_writers_lose_no_entry() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("push");
        let threads: Vec<_> = (0..6)
            .map(|i| {
                let cache = BlobCache::open(&root).unwrap();
                std::thread::spawn(move || {
                    for j in 0..15 {
                        let layer = CachedLayer {
                            compressed: Digest::sha256_of(format!("{i}-{j}").as_bytes()),
                            compressed_size: 1,
                            uncompressed_size: 1,
                            media_type: "x".into(),
                            locations: Default::default(),
                        };
                        cache
                            .put("gzip", &format!("sha256:{i}-{j}"), layer, Some("r/x"))
                            .unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let cache = BlobCache::open(&root).unwrap();
        assert_eq!(cache.read().layers.len(), 90);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("blobs")), 0o700);
        assert_eq!(mode(&cache.index_path()), 0o600);
    }

    #[test]
    fn an_engine_layer_is_elsewhere_only_when_its_blob_is_known_to_be_only_in_other_registries() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::open(dir.path()).unwrap();
        let blob = |name: &str| CachedLayer {
            compressed: Digest::sha256_of(name.as_bytes()),
            compressed_size: 1,
            uncompressed_size: 1,
            media_type: "x".into(),
            locations: Default::default(),
        };
        cache
            .put("gzip", "sha256:a", blob("a"), Some("one:5000/app"))
            .unwrap();
        cache
            .put("gzip", "sha256:b", blob("b"), Some("two:5000/app"))
            .unwrap();
        let digest = |name: &str| Digest::sha256_of(name.as_bytes()).to_string();
        cache
            .remember_engine_layers(
                "unix:///e.sock",
                &[
                    ("sha256:a".into(), digest("a")),
                    ("sha256:b".into(), digest("b")),
                    // Pushed, but where its blob is, nobody recorded: not counted as elsewhere.
                    ("sha256:c".into(), digest("c")),
                ],
            )
            .unwrap();
        let elsewhere = cache.engine_layers_elsewhere("unix:///e.sock", "one:5000");
        assert_eq!(elsewhere, BTreeSet::from(["sha256:b".to_string()]));
        // A registry whose name only starts like another's is another registry.
        let elsewhere = cache.engine_layers_elsewhere("unix:///e.sock", "one:500");
        assert_eq!(
            elsewhere,
            BTreeSet::from(["sha256:a".to_string(), "sha256:b".to_string()])
        );
        assert!(cache
            .engine_layers_elsewhere("unix:///other.sock", "one:5000")
            .is_empty());
    }
}
