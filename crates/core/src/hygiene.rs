//! Hygiene before a commit: the junk a commit of the workshop would keep (package lists and
//! archives, caches, temporary files, shell history), each with the bytes it costs, and the likely
//! secrets (private keys, credential files, token-like ENV values).
//!
//! Everything is read from the changes (`diff`), so the check costs one listing, and `clean`
//! removes exactly the junk paths the check lists, nothing around them: an added folder goes as a
//! whole, a folder the image already had keeps itself and loses only what the workshop put in it,
//! so a commit never records a whiteout for a folder apt expects to exist.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::diff::{ChangeDto, ChangeKindDto};
use crate::error::{Hint, CONTAINER_HINT};
use crate::{Result, Slipway};

/// A kind of junk a commit would keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum JunkKind {
    /// `/var/lib/apt/lists`: the package indexes `apt-get update` downloaded.
    AptLists,
    /// `/var/cache/apt`: downloaded `.deb`s and apt's package caches.
    AptArchives,
    /// `~/.cache/pip`.
    PipCache,
    /// `~/.npm`.
    NpmCache,
    /// `/tmp` and `/var/tmp`.
    Tmp,
    /// Shell and REPL history files.
    ShellHistory,
}

/// One kind of junk found: the paths `clean` would remove and what they cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct JunkDto {
    /// What it is.
    pub kind: JunkKind,
    /// Exactly the paths a clean removes (recursively), none inside another.
    pub paths: Vec<String>,
    /// Bytes of the regular files under those paths.
    pub bytes: u64,
    /// How many changed paths that is.
    pub files: u64,
}

/// A likely secret: a file by its path, or an ENV line of the commit by its name (never its value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SecretDto {
    /// The file's path, or `ENV NAME` for an ENV line.
    pub what: String,
    /// Why it looks like a secret, in a few words.
    pub reason: String,
}

/// The hygiene check of a workshop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct HygieneDto {
    /// Junk by kind, only the kinds found.
    pub junk: Vec<JunkDto>,
    /// The bytes all junk costs.
    pub junk_bytes: u64,
    /// Likely secrets.
    pub secrets: Vec<SecretDto>,
}

/// What a clean removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CleanOutcome {
    /// The paths removed.
    pub removed: Vec<String>,
    /// The bytes they held.
    pub bytes: u64,
}

impl Slipway {
    /// Checks the workshop `container`'s changes, and `env` (the commit's `KEY=value` lines), for
    /// junk and likely secrets. PEM files are read in the container to tell private keys apart.
    pub async fn hygiene(&self, container: &str, env: &[String]) -> Result<HygieneDto> {
        let changes = self.changes(container).await?;
        let mut report = check(&changes, env);
        let pems: Vec<String> = changes
            .iter()
            .filter(|c| c.kind != ChangeKindDto::Deleted && !c.is_dir && is_pem_like(&c.path))
            .map(|c| c.path.clone())
            .collect();
        if !pems.is_empty() {
            let holding = self
                .engine()
                .files_containing(container, "PRIVATE KEY-----", &pems)
                .await
                .hint(CONTAINER_HINT)?;
            report
                .secrets
                .extend(holding.into_iter().map(|path| SecretDto {
                    what: path,
                    reason: "holds a private key".to_string(),
                }));
        }
        Ok(report)
    }

    /// Removes the junk the hygiene check finds in `container` (an `rm -rf` of exactly those
    /// paths, as root), and says what went.
    pub async fn clean(&self, container: &str) -> Result<CleanOutcome> {
        let changes = self.changes(container).await?;
        let report = check(&changes, &[]);
        let removed: Vec<String> = report.junk.iter().flat_map(|j| j.paths.clone()).collect();
        if !removed.is_empty() {
            self.engine()
                .remove_paths(container, &removed)
                .await
                .hint(CONTAINER_HINT)?;
        }
        Ok(CleanOutcome {
            removed,
            bytes: report.junk_bytes,
        })
    }
}

/// The hygiene check over `changes` (sorted by path, as `Slipway::changes` returns them) and the
/// commit's `env` lines, without reading any file.
pub fn check(changes: &[ChangeDto], env: &[String]) -> HygieneDto {
    let live: Vec<&ChangeDto> = changes
        .iter()
        .filter(|c| c.kind != ChangeKindDto::Deleted)
        .collect();
    let mut junk: Vec<JunkDto> = Vec::new();
    for change in &live {
        let Some(kind) = junk_kind(&change.path) else {
            continue;
        };
        // A folder the image had stays, so apt and the shell find it where they expect it.
        if change.is_dir && change.kind == ChangeKindDto::Changed {
            continue;
        }
        let entry = match junk.iter_mut().find(|j| j.kind == kind) {
            Some(entry) => entry,
            None => {
                junk.push(JunkDto {
                    kind,
                    paths: Vec::new(),
                    bytes: 0,
                    files: 0,
                });
                junk.last_mut().expect("just pushed")
            }
        };
        // Sorted by path, so a path inside one already listed comes right after it.
        if !entry.paths.iter().any(|p| is_inside(&change.path, p)) {
            entry.paths.push(change.path.clone());
        }
        entry.files += 1;
        entry.bytes += change.size.unwrap_or(0);
    }
    let junk_bytes = junk.iter().map(|j| j.bytes).sum();
    let mut secrets: Vec<SecretDto> = live
        .iter()
        .filter(|c| !c.is_dir)
        .filter_map(|c| {
            secret_file(&c.path).map(|reason| SecretDto {
                what: c.path.clone(),
                reason: reason.to_string(),
            })
        })
        .collect();
    secrets.extend(env.iter().filter_map(|line| secret_env(line)));
    HygieneDto {
        junk,
        junk_bytes,
        secrets,
    }
}

/// Whether `path` is `folder` or below it.
fn is_inside(path: &str, folder: &str) -> bool {
    path == folder
        || path
            .strip_prefix(folder)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Which junk `path` is, if any. The folders themselves (`/tmp`, `/var/lib/apt/lists`) are
/// not junk; only what is inside them.
fn junk_kind(path: &str) -> Option<JunkKind> {
    const ROOTS: [(&str, JunkKind); 4] = [
        ("/var/lib/apt/lists/", JunkKind::AptLists),
        ("/var/cache/apt/", JunkKind::AptArchives),
        ("/tmp/", JunkKind::Tmp),
        ("/var/tmp/", JunkKind::Tmp),
    ];
    if let Some((_, kind)) = ROOTS.iter().find(|(root, _)| path.starts_with(root)) {
        return Some(*kind);
    }
    // A cache folder the workshop made goes as a whole, itself included.
    if in_home(path, ".cache/pip") {
        return Some(JunkKind::PipCache);
    }
    if in_home(path, ".npm") {
        return Some(JunkKind::NpmCache);
    }
    let name = path.rsplit('/').next().unwrap_or("");
    const HISTORY: [&str; 6] = [
        ".bash_history",
        ".ash_history",
        ".sh_history",
        ".zsh_history",
        ".python_history",
        ".lesshst",
    ];
    HISTORY.contains(&name).then_some(JunkKind::ShellHistory)
}

/// Whether `path` is `/root/<rest>` or `/home/<user>/<rest>`, or inside it.
fn in_home(path: &str, rest: &str) -> bool {
    let tail = match path.strip_prefix("/root/") {
        Some(tail) => Some(tail),
        None => path
            .strip_prefix("/home/")
            .and_then(|tail| tail.split_once('/'))
            .map(|(_, tail)| tail),
    };
    tail.is_some_and(|tail| is_inside(tail, rest))
}

/// Why the file at `path` is likely a secret by its name alone.
fn secret_file(path: &str) -> Option<&'static str> {
    let name = path.rsplit('/').next().unwrap_or("");
    const KEYS: [&str; 4] = ["id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"];
    if KEYS.contains(&name) {
        return Some("an SSH private key");
    }
    if name == ".netrc" || name == ".git-credentials" || name == ".pgpass" {
        return Some("a credentials file");
    }
    if path.ends_with("/.docker/config.json") {
        return Some("Docker's registry credentials");
    }
    if path.ends_with("/.aws/credentials") {
        return Some("AWS credentials");
    }
    None
}

/// Whether the file may be PEM text worth reading for a private key.
fn is_pem_like(path: &str) -> bool {
    [".pem", ".key"].iter().any(|ext| path.ends_with(ext))
}

/// An ENV line whose name or value looks like a secret, named by its key only.
fn secret_env(line: &str) -> Option<SecretDto> {
    let (key, value) = line.split_once('=').unwrap_or((line, ""));
    let (key, value) = (key.trim(), value.trim().trim_matches('"'));
    if value.is_empty() {
        return None;
    }
    let upper = key.to_ascii_uppercase();
    const NAMES: [&str; 7] = [
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "API_KEY",
        "APIKEY",
        "ACCESS_KEY",
    ];
    const PREFIXES: [&str; 7] = [
        "ghp_",
        "gho_",
        "github_pat_",
        "glpat-",
        "xoxb-",
        "xoxp-",
        "AKIA",
    ];
    let reason = if NAMES.iter().any(|n| upper.contains(n)) {
        "its name says it is a secret"
    } else if PREFIXES.iter().any(|p| value.starts_with(p)) {
        "its value looks like an access token"
    } else {
        return None;
    };
    Some(SecretDto {
        what: format!("ENV {key}"),
        reason: reason.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(path: &str, kind: ChangeKindDto, is_dir: bool, size: Option<u64>) -> ChangeDto {
        ChangeDto {
            path: path.to_string(),
            kind,
            is_dir,
            size,
        }
    }

    #[test]
    fn junk_is_listed_by_kind_with_its_bytes_and_outermost_paths() {
        use ChangeKindDto::{Added, Changed, Deleted};
        let changes = vec![
            change("/root/.bash_history", Added, false, Some(10)),
            change("/root/.cache", Added, true, None),
            change("/root/.cache/pip", Added, true, None),
            change("/root/.cache/pip/wheel", Added, false, Some(300)),
            change("/tmp", Changed, true, None),
            change("/tmp/build", Added, true, None),
            change("/tmp/build/a.o", Added, false, Some(7)),
            change("/tmp/gone", Deleted, false, None),
            change("/var/lib/apt/lists", Changed, true, None),
            change(
                "/var/lib/apt/lists/deb.debian.org_Packages",
                Added,
                false,
                Some(1000),
            ),
            change("/var/lib/apt/lists/partial", Changed, true, None),
        ];
        let report = check(&changes, &[]);
        let kinds: Vec<JunkKind> = report.junk.iter().map(|j| j.kind).collect();
        assert_eq!(
            kinds,
            [
                JunkKind::ShellHistory,
                JunkKind::PipCache,
                JunkKind::Tmp,
                JunkKind::AptLists
            ]
        );
        let tmp = &report.junk[2];
        assert_eq!(tmp.paths, ["/tmp/build"]);
        assert_eq!((tmp.bytes, tmp.files), (7, 2));
        assert_eq!(report.junk[1].paths, ["/root/.cache/pip"]);
        assert_eq!(
            report.junk[3].paths,
            ["/var/lib/apt/lists/deb.debian.org_Packages"]
        );
        assert_eq!(report.junk_bytes, 1317);
        assert!(report.secrets.is_empty());
    }

    #[test]
    fn secrets_are_found_by_path_and_env_without_their_values() {
        use ChangeKindDto::{Added, Deleted};
        let changes = vec![
            change("/root/.ssh/id_rsa", Added, false, Some(2600)),
            change("/root/.ssh/id_rsa.pub", Added, false, Some(500)),
            change("/home/app/.docker/config.json", Added, false, Some(90)),
            change("/root/.netrc", Deleted, false, None),
        ];
        let env = [
            "GITHUB_TOKEN=abc".to_string(),
            "X=ghp_0123456789".to_string(),
            "PATH=/usr/bin".to_string(),
            "EMPTY_PASSWORD=".to_string(),
        ];
        let report = check(&changes, &env);
        let found: Vec<&str> = report.secrets.iter().map(|s| s.what.as_str()).collect();
        assert_eq!(
            found,
            [
                "/root/.ssh/id_rsa",
                "/home/app/.docker/config.json",
                "ENV GITHUB_TOKEN",
                "ENV X"
            ]
        );
        assert!(report
            .secrets
            .iter()
            .all(|s| !s.reason.contains("abc") && !s.reason.contains("ghp_")));
    }
}
