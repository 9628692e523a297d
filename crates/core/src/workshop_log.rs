//! The workshop log: every command run in a workshop container, its exit code and when, kept as
//! JSON under the user's data dir (`<data>/slipway/workshops/<container-id>.json`) and stored in
//! the committed image as the label [`LOG_LABEL`], so that a later feature can turn the session
//! into a Dockerfile.
//!
//! The file is rewritten whole on every entry (write to a private temp file, then rename, under a
//! file lock shared with other Slipway processes) so that a crash never leaves half a JSON
//! document behind and the app and the CLI never lose each other's entries.
//!
//! The label is the user's choice per commit, since whoever can pull the image can read it, and
//! what goes into it is [`label_log`]: values of obvious secrets redacted (`*TOKEN*=`,
//! `*PASSWORD*=`, `https://user:pass@`), and only the newest entries that fit in
//! [`MAX_LABEL_BYTES`], so a long workshop never makes a config that other tools refuse
//! (containers/image reads configs up to 4 MiB).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use ts_rs::TS;

use crate::{Error, Result};

/// The image label that carries the log of the workshop an image was committed from.
pub const LOG_LABEL: &str = "dev.slipway.workshop-log";

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
    /// How many older entries were left out to keep the label small (0 in the log on disk).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_entries: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The most the workshop-log label may weigh. Image configs travel in memory through every
/// registry client (containers/image refuses configs over 4 MiB), and a label is not the place
/// for a long session's every keystroke.
pub const MAX_LABEL_BYTES: usize = 64 << 10;

/// The most of one command line that is kept in the label.
const MAX_LABEL_COMMAND: usize = 4 << 10;

/// What replaces a redacted value.
pub const REDACTED: &str = "***";

/// The log as it goes into the label: every command redacted, each at most 4 KiB, and only the
/// newest entries that fit in [`MAX_LABEL_BYTES`] (the count left out is `omitted_entries`).
pub fn label_log(log: &WorkshopLog) -> WorkshopLog {
    let mut entries: Vec<LogEntry> = log
        .entries
        .iter()
        .map(|e| LogEntry {
            command: shorten(&redact(&e.command), MAX_LABEL_COMMAND),
            ..e.clone()
        })
        .collect();
    let mut label = WorkshopLog {
        container_id: log.container_id.clone(),
        base_image: log.base_image.clone(),
        entries: Vec::new(),
        omitted_entries: 0,
    };
    let mut size = label_text(&label).len();
    let mut kept = Vec::new();
    while let Some(entry) = entries.pop() {
        let entry_size = serde_json::to_string(&entry).map_or(0, |t| t.len()) + 1;
        // Room for the omitted count's field as well.
        if size + entry_size + 32 > MAX_LABEL_BYTES {
            label.omitted_entries = entries.len() + 1;
            break;
        }
        size += entry_size;
        kept.push(entry);
    }
    kept.reverse();
    label.entries = kept;
    label
}

/// The label's text: [`label_log`] as JSON.
pub fn label_text(log: &WorkshopLog) -> String {
    serde_json::to_string(log).unwrap_or_default()
}

fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// `command` with the values of obvious secrets replaced by [`REDACTED`]: `NAME=value` where NAME
/// mentions a token, password, secret or key; the word after `--password`/`--token`-like flags;
/// and the password of `scheme://user:password@host`.
pub fn redact(command: &str) -> String {
    let mut out = Vec::new();
    let mut redact_next = false;
    for word in command.split(' ') {
        if redact_next && !word.is_empty() {
            out.push(REDACTED.to_string());
            redact_next = false;
            continue;
        }
        let word = redact_url_password(word);
        let (name, value) = match word.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (word.as_str(), None),
        };
        let secret_name = is_secret_name(name);
        match value {
            Some(value) if secret_name && !value.is_empty() => {
                out.push(format!("{name}={REDACTED}"));
            }
            None if secret_name && name.starts_with('-') => {
                out.push(word.clone());
                redact_next = true;
            }
            _ => out.push(word.clone()),
        }
    }
    out.join(" ")
}

fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "TOKEN",
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
    ]
    .iter()
    .any(|needle| upper.contains(needle))
}

/// `https://user:pass@host/...` -> `https://user:***@host/...`, anywhere in `word`.
fn redact_url_password(word: &str) -> String {
    let mut out = String::new();
    let mut rest = word;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let authority_end = tail.find(['/', '?', '#']).unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match authority.rfind('@') {
            Some(userinfo_end) => {
                let userinfo = &authority[..userinfo_end];
                match userinfo.split_once(':') {
                    Some((user, _)) => out.push_str(&format!("{user}:{REDACTED}")),
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[userinfo_end..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
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
        let _lock = self.lock(container_id)?;
        let log = WorkshopLog {
            container_id: container_id.to_string(),
            base_image: Some(base_image.to_string()),
            ..WorkshopLog::default()
        };
        self.save(&log)
    }

    /// Whether `container_id` is a workshop, i.e. has a log. This is how workshops are known: a
    /// container label would not do, because the engine merges the container's labels into every
    /// image committed from it, and no commit option removes one (an empty value is still a
    /// label), so containers run from those images would look like workshops too.
    pub fn exists(&self, container_id: &str) -> bool {
        self.path(container_id).is_file()
    }

    /// Appends one entry.
    pub fn append(&self, container_id: &str, entry: LogEntry) -> Result<()> {
        let _guard = WRITE_LOCK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let _lock = self.lock(container_id)?;
        let mut log = self.load(container_id)?;
        log.entries.push(entry);
        self.save(&log)
    }

    /// Forgets a removed container's log.
    pub fn remove(&self, container_id: &str) -> Result<()> {
        let path = self.path(container_id);
        let mut lock_path = path.clone().into_os_string();
        lock_path.push(".lock");
        let _ = std::fs::remove_file(lock_path);
        match std::fs::remove_file(&path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
                path,
                source: error,
            }),
            _ => Ok(()),
        }
    }

    /// The lock other Slipway processes take around the same log's read-modify-write.
    fn lock(&self, container_id: &str) -> Result<slipway_oci::files::FileLock> {
        let path = self.path(container_id);
        slipway_oci::files::lock(&path).map_err(|source| Error::Io { path, source })
    }

    /// Logs hold every command typed, so the directory is `0700` and each file `0600`.
    fn save(&self, log: &WorkshopLog) -> Result<()> {
        let path = self.path(&log.container_id);
        let bytes = serde_json::to_vec_pretty(log).unwrap_or_default();
        slipway_oci::files::write_private(&path, &bytes)
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
    fn log_round_trips_and_appends() {
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

    fn entry(command: &str) -> LogEntry {
        LogEntry {
            command: command.into(),
            exit_code: Some(0),
            cancelled: false,
            started: now_rfc3339(),
            finished: now_rfc3339(),
        }
    }

    #[test]
    fn obvious_secrets_never_reach_the_label() {
        for (typed, secret) in [
            ("export GITHUB_TOKEN=ghp_abc123", "ghp_abc123"),
            ("DB_PASSWORD='hunter2' ./migrate", "hunter2"),
            ("git clone https://ada:s3cret@git.example/app.git", "s3cret"),
            ("curl -u x https://bob:pw%40x@h.example/", "pw%40x"),
            ("mysql --password hunter3 -h db", "hunter3"),
            ("tool --api-token=t0k3n", "t0k3n"),
            ("AWS_SECRET_ACCESS_KEY=abcd aws s3 ls", "abcd"),
        ] {
            let label = label_text(&label_log(&WorkshopLog {
                entries: vec![entry(typed)],
                ..WorkshopLog::default()
            }));
            assert!(!label.contains(secret), "{typed} gave {label}");
            assert!(label.contains(REDACTED), "{typed} gave {label}");
        }
        let plain = redact("apt-get install -y curl && echo a=b");
        assert_eq!(plain, "apt-get install -y curl && echo a=b");
        assert_eq!(
            redact("git clone https://git.example/app.git"),
            "git clone https://git.example/app.git"
        );
    }

    #[test]
    fn the_label_keeps_the_newest_entries_within_its_cap() {
        let log = WorkshopLog {
            container_id: "c".into(),
            base_image: Some("base:1".into()),
            entries: (0..20_000)
                .map(|i| entry(&format!("echo step {i}")))
                .collect(),
            omitted_entries: 0,
        };
        let label = label_log(&log);
        let text = label_text(&label);
        assert!(text.len() <= MAX_LABEL_BYTES, "{}", text.len());
        assert_eq!(label.entries.last().unwrap().command, "echo step 19999");
        assert_eq!(label.omitted_entries + label.entries.len(), 20_000);
        let huge = label_log(&WorkshopLog {
            entries: vec![entry(&"x".repeat(1 << 20))],
            ..WorkshopLog::default()
        });
        assert!(label_text(&huge).len() < 8 << 10);
    }

    #[cfg(unix)]
    #[test]
    fn logs_are_private_and_concurrent_appends_keep_every_entry() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        LogStore::new(dir.path()).start("abc", "base:1").unwrap();
        // Separate stores stand for separate processes: only the file lock orders them.
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let store = LogStore::new(dir.path());
                std::thread::spawn(move || {
                    for j in 0..10 {
                        store
                            .append("abc", entry(&format!("echo {i}-{j}")))
                            .unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let log = LogStore::new(dir.path()).load("abc").unwrap();
        assert_eq!(log.entries.len(), 40);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("workshops/abc.json")), 0o600);
        assert_eq!(mode(&dir.path().join("workshops")), 0o700);
    }
}
