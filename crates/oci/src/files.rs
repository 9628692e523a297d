//! Private files: the one place that writes Slipway's and docker's state files (credentials,
//! profiles, the push cache's index, workshop logs), so that every one of them is written the same
//! way.
//!
//! - Directories Slipway creates are `0700` and files `0600`: they hold passwords, private image
//!   layers and typed commands, and a home directory is often world-readable. Docker creates
//!   `~/.docker` as `0700` and `config.json` as `0600` too.
//! - A write goes to a uniquely named sibling that is synced and renamed over the target, so a
//!   crash never leaves half a file and two writers never share a temp file.
//! - A read-modify-write holds [`lock`] on a sibling `.lock` file, so the app and the CLI (or two
//!   of the app's own tasks) running at once never lose each other's change.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Creates `dir` and its missing parents; the ones created here are readable by the user only.
/// An existing directory keeps its mode: it may be shared on purpose.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Creates `path` for writing, readable by the user only; fails when it exists, so a stale file
/// (with whatever mode it had) is never reused.
pub fn create_private_file(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// A sibling of `path` no other writer (thread or process) uses.
pub fn unique_sibling(path: &Path, suffix: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}-{n}.{suffix}", std::process::id()))
}

/// Replaces `path` with `bytes` atomically, as a `0600` file; the parent directory is created
/// `0700` when missing.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    let tmp = unique_sibling(path, "tmp");
    let written = (|| {
        let mut file = create_private_file(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// An exclusive lock on `<path>.lock`, released when dropped. Advisory: it orders Slipway's own
/// writers (the app, the CLI, and tasks within each), which all take it.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

/// Waits for the exclusive lock that guards `path`'s read-modify-write.
pub fn lock(path: &Path) -> std::io::Result<FileLock> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(&lock_path)?;
    #[cfg(unix)]
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)?;
    Ok(FileLock { _file: file })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn private_files_and_dirs_are_the_users_only_whatever_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a/b/state.json");
        write_private(&file, b"{}").unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&dir.path().join("a/b")), 0o700);
        // A file that was world-readable before is replaced by a private one.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&file, b"{\"x\":1}").unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(std::fs::read(&file).unwrap(), b"{\"x\":1}");
    }

    #[test]
    fn the_lock_serialises_read_modify_write_across_open_files() {
        let dir = tempfile::tempdir().unwrap();
        let counter = dir.path().join("counter");
        write_private(&counter, b"0").unwrap();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        let _guard = lock(&counter).unwrap();
                        let n: u32 = std::fs::read_to_string(&counter).unwrap().parse().unwrap();
                        write_private(&counter, (n + 1).to_string().as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(std::fs::read_to_string(&counter).unwrap(), "200");
    }
}
