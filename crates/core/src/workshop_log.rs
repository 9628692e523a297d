//! The workshop log: every command run in a workshop container, its exit code and when, kept as
//! JSON under the user's data dir (`<data>/slipway/workshops/<container-id>.json`) and stored in
//! the committed image as the label [`LOG_LABEL`], so that a later feature can turn the session
//! into a Dockerfile.
//!
//! The file is rewritten whole on every entry (write to a temp file, then rename) so that a crash
//! never leaves half a JSON document behind.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use ts_rs::TS;

use crate::{Error, Result};

/// The image label that carries the log of the workshop an image was committed from.
pub const LOG_LABEL: &str = "dev.slipway.workshop-log";

/// The container label that marks a container as a Slipway workshop.
pub const WORKSHOP_LABEL: &str = "dev.slipway.workshop";

/// One command run in the workshop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct LogEntry {
    /// The shell command line as typed.
    pub command: String,
    /// Its exit code; `None` when it was cancelled or the engine failed midway.
    pub exit_code: Option<i64>,
    /// True when the user cancelled it.
    #[serde(default)]
    pub cancelled: bool,
    /// When it started, RFC 3339.
    pub started: String,
    /// When it ended, RFC 3339.
    pub finished: String,
}

/// The log of one workshop container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct WorkshopLog {
    /// The full container id.
    pub container_id: String,
    /// The image the container was created from, as the user named it.
    #[serde(default)]
    pub base_image: Option<String>,
    /// The commands, oldest first.
    pub entries: Vec<LogEntry>,
}

/// Now, as RFC 3339.
pub fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

/// Serialises updates to log files within this process, so that two commands finishing at once
/// in one workshop cannot lose each other's entry.
static WRITE_LOCK: Mutex<()> = Mutex::new(());

/// Where logs live: `<data_dir>/workshops`.
#[derive(Debug, Clone)]
pub struct LogStore {
    dir: PathBuf,
}

impl LogStore {
    /// A store under `data_dir` (the `slipway` data directory itself).
    pub fn new(data_dir: &Path) -> LogStore {
        LogStore {
            dir: data_dir.join("workshops"),
        }
    }

    fn path(&self, container_id: &str) -> PathBuf {
        // Container ids are hex, but a name could contain `/`; never let it escape the directory.
        let safe: String = container_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("{safe}.json"))
    }

    /// The container's log; an empty one when nothing was recorded yet.
    pub fn load(&self, container_id: &str) -> Result<WorkshopLog> {
        let path = self.path(container_id);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|error| Error::Io {
                path,
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, error),
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(WorkshopLog {
                container_id: container_id.to_string(),
                ..WorkshopLog::default()
            }),
            Err(source) => Err(Error::Io { path, source }),
        }
    }

    /// Creates the log of a new workshop.
    pub fn start(&self, container_id: &str, base_image: &str) -> Result<()> {
        let _guard = WRITE_LOCK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let log = WorkshopLog {
            container_id: container_id.to_string(),
            base_image: Some(base_image.to_string()),
            entries: Vec::new(),
        };
        self.save(&log)
    }

    /// Appends one entry.
    pub fn append(&self, container_id: &str, entry: LogEntry) -> Result<()> {
        let _guard = WRITE_LOCK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut log = self.load(container_id)?;
        log.entries.push(entry);
        self.save(&log)
    }

    /// Forgets a removed container's log.
    pub fn remove(&self, container_id: &str) -> Result<()> {
        let path = self.path(container_id);
        match std::fs::remove_file(&path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
                path,
                source: error,
            }),
            _ => Ok(()),
        }
    }

    fn save(&self, log: &WorkshopLog) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|source| Error::Io {
            path: self.dir.clone(),
            source,
        })?;
        let path = self.path(&log.container_id);
        let temp = path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(log).unwrap_or_default();
        std::fs::write(&temp, bytes)
            .and_then(|()| std::fs::rename(&temp, &path))
            .map_err(|source| Error::Io { path, source })
    }
}

/// The data directory: `SLIPWAY_DATA_DIR` if set, else `<user data dir>/slipway`.
pub fn default_data_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SLIPWAY_DATA_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    dirs::data_dir()
        .map(|dir| dir.join("slipway"))
        .ok_or_else(|| {
            Error::InvalidInput(
                "could not find the user's data directory (is $HOME set?); set SLIPWAY_DATA_DIR"
                    .to_string(),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_2_log_round_trips_and_appends() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::new(dir.path());
        store.start("abc", "base:1").unwrap();
        let entry = LogEntry {
            command: "echo hi".into(),
            exit_code: Some(0),
            cancelled: false,
            started: now_rfc3339(),
            finished: now_rfc3339(),
        };
        store.append("abc", entry.clone()).unwrap();
        let log = store.load("abc").unwrap();
        assert_eq!(log.base_image.as_deref(), Some("base:1"));
        assert_eq!(log.entries, vec![entry]);
        assert!(dir.path().join("workshops/abc.json").exists());
        assert!(OffsetDateTime::parse(&log.entries[0].started, &Rfc3339).is_ok());
        store.remove("abc").unwrap();
        assert!(store.load("abc").unwrap().entries.is_empty());
    }
}
