//! The recipe: a workshop written down as a Dockerfile, so that the image a commit makes by hand
//! can be rebuilt, reviewed and changed as text. `FROM` the base image (pinned by its registry
//! digest when it has one), every command that succeeded as `RUN`, in the order it ran, then the
//! commit's config changes as the instructions they already are.

use std::path::{Path, PathBuf};

use crate::change::parse_changes;
use crate::error::{Hint, CONTAINER_HINT, IMAGE_HINT};
use crate::workshop_log::WorkshopLog;
use crate::{Error, Result, Slipway};

/// The image a workshop started from, as the recipe names it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecipeBase {
    /// The name the workshop was started with, e.g. `debian:bookworm`.
    pub name: String,
    /// The image id, `sha256:…`.
    pub id: String,
    /// Its registry digests, `repository@sha256:…`; empty for an image never pushed or pulled.
    pub digests: Vec<String>,
}

/// The Dockerfile for a workshop from `base` whose log is `log`, committed with `changes`.
///
/// `FROM sha256:…` is not valid in a Dockerfile, so a base without a registry digest of its own
/// repository is named by its tag, with its id in a comment: the recipe then builds from
/// whatever that tag names, which the comment says.
pub fn dockerfile<S: AsRef<str>>(
    base: &RecipeBase,
    log: &WorkshopLog,
    changes: &[S],
) -> Result<String> {
    // Validated the way a commit validates them, so a recipe never holds a change the commit
    // would refuse.
    parse_changes(changes)?;
    let unnamed = base.name.is_empty()
        || base.name.starts_with("sha256:")
        || base
            .id
            .trim_start_matches("sha256:")
            .starts_with(&base.name);
    if unnamed {
        return Err(Error::InvalidInput(format!(
            "the workshop's base image {} has no name, and a Dockerfile cannot start FROM an \
             image id; tag the base image and start the workshop from that name",
            base.id
        )));
    }
    let mut out = String::new();
    let short: String = log.container_id.chars().take(12).collect();
    out.push_str(&format!(
        "# The recipe of workshop {short}, written by Slipway from its log: the commands that \
         succeeded, in the order they ran.\n"
    ));
    let repository = base.name.split('@').next().unwrap_or_default();
    let repository = match repository.rfind(':') {
        Some(colon) if !repository[colon..].contains('/') => &repository[..colon],
        _ => repository,
    };
    // Only a digest of the repository the workshop was started from: a digest the image got by
    // being pushed somewhere else names a registry the reader may not know or reach.
    let pinned = base
        .digests
        .iter()
        .find(|d| d.split('@').next() == Some(repository));
    match pinned {
        Some(digest) => out.push_str(&format!("FROM {digest}\n")),
        None => out.push_str(&format!(
            "# The base image has no registry digest in {repository} (it was never pulled from \
             or pushed to it), so FROM names it by tag; the workshop ran on image {}.\nFROM {}\n",
            base.id, base.name
        )),
    }
    let left_out = log
        .entries
        .iter()
        .filter(|e| e.exit_code != Some(0) || e.cancelled)
        .count();
    if left_out > 0 {
        out.push_str(&format!(
            "# Left out: {left_out} command(s) that failed or were cancelled.\n"
        ));
    }
    for entry in &log.entries {
        if entry.exit_code != Some(0) || entry.cancelled || entry.command.trim().is_empty() {
            continue;
        }
        out.push_str(&run_instruction(&entry.command));
        out.push('\n');
    }
    for change in changes {
        out.push_str(change.as_ref().trim());
        out.push('\n');
    }
    Ok(out)
}

/// Whether `name` is `id` or a prefix of it rather than a name.
fn is_image_id(name: &str, id: &str) -> bool {
    name.starts_with("sha256:") || id.trim_start_matches("sha256:").starts_with(name)
}

/// `command` as a `RUN` that runs it exactly as the workshop did (`/bin/sh -c`). The shell form
/// is kept when it reads the same; a command over several lines, ending in a line continuation
/// or starting with `[` (which the parser would take for the exec form) goes as the exec form.
fn run_instruction(command: &str) -> String {
    let plain = !command.contains(['\n', '\r']) && !command.ends_with('\\');
    if plain && !command.trim_start().starts_with('[') {
        format!("RUN {command}")
    } else {
        let exec = ["/bin/sh", "-c", command];
        format!(
            "RUN {}",
            serde_json::to_string(&exec).expect("strings serialize")
        )
    }
}

/// Writes `text` as `dir/Dockerfile` and returns that path. An existing Dockerfile is never
/// replaced: a recipe saved over one would lose whatever it held, so the user picks another
/// folder or moves the old file first. The file appears whole or not at all (a temp sibling,
/// then a hard link, which fails rather than replace).
pub fn save_dockerfile(dir: &Path, text: &str) -> Result<PathBuf> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    if !dir.is_dir() {
        return Err(Error::InvalidInput(format!(
            "{} is not a folder; name an existing folder to save the Dockerfile in",
            dir.display()
        )));
    }
    let path = dir.join("Dockerfile");
    let tmp = slipway_oci::files::unique_sibling(&path, "tmp");
    std::fs::write(&tmp, text).map_err(io(&tmp))?;
    let linked = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(path),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(Error::InvalidInput(format!(
                "{} already exists and was left as it is; pick another folder, or move that file \
                 first",
                path.display()
            )))
        }
        Err(e) => Err(io(&path)(e)),
    }
}

impl Slipway {
    /// The recipe of workshop `container` committed with `changes` (see [`dockerfile`]).
    pub async fn dockerfile(&self, container: &str, changes: &[String]) -> Result<String> {
        let state = self
            .engine()
            .inspect_container(container)
            .await
            .hint(CONTAINER_HINT)?;
        let log = self.logs_store().load(&state.id)?;
        let image = self
            .engine()
            .inspect_image(&state.image_id)
            .await
            .hint(IMAGE_HINT)?;
        // A workshop started from an image id gets the image's first tag, if it has one.
        let name = log
            .base_image
            .clone()
            .filter(|name| !is_image_id(name, &image.id))
            .or_else(|| image.tags.first().cloned())
            .unwrap_or_default();
        let base = RecipeBase {
            name,
            id: image.id,
            digests: image.digests,
        };
        dockerfile(&base, &log, changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workshop_log::LogEntry;

    #[test]
    fn a_saved_recipe_never_replaces_an_existing_dockerfile() {
        let dir = tempfile::tempdir().unwrap();
        let path = save_dockerfile(dir.path(), "FROM a\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "FROM a\n");
        let err = save_dockerfile(dir.path(), "FROM b\n").unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "FROM a\n");
        // Nothing but the Dockerfile is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let missing = dir.path().join("nope");
        let err = save_dockerfile(&missing, "FROM a\n").unwrap_err();
        assert!(err.to_string().contains("not a folder"), "{err}");
    }

    fn entry(command: &str, exit_code: Option<i64>) -> LogEntry {
        LogEntry {
            command: command.into(),
            exit_code,
            cancelled: false,
            started: String::new(),
            finished: String::new(),
        }
    }

    fn log() -> WorkshopLog {
        WorkshopLog {
            container_id: "0123456789abcdef".into(),
            base_image: Some("debian:bookworm".into()),
            entries: vec![
                entry("apt-get update", Some(0)),
                entry("apt-get install python3", Some(100)),
                entry("apt-get install -y python3", Some(0)),
                entry("sleep 100", None),
                entry("printf 'a\nb' > /x", Some(0)),
                entry("[ -f /x ] && echo yes", Some(0)),
            ],
            omitted_entries: 0,
        }
    }

    #[test]
    fn a_recipe_pins_the_base_by_its_digest_and_runs_only_what_succeeded() {
        let base = RecipeBase {
            name: "127.0.0.1:5000/debian:bookworm".into(),
            id: "sha256:aaaa".into(),
            digests: vec![
                "other/name@sha256:1111".into(),
                "127.0.0.1:5000/debian@sha256:2222".into(),
            ],
        };
        let text = dockerfile(
            &base,
            &log(),
            &[r#"CMD ["python3"]"#, "ENV A=1", "WORKDIR /srv", "USER 1000"],
        )
        .unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                "FROM 127.0.0.1:5000/debian@sha256:2222",
                "RUN apt-get update",
                "RUN apt-get install -y python3",
                r#"RUN ["/bin/sh","-c","printf 'a\nb' > /x"]"#,
                r#"RUN ["/bin/sh","-c","[ -f /x ] && echo yes"]"#,
                r#"CMD ["python3"]"#,
                "ENV A=1",
                "WORKDIR /srv",
                "USER 1000",
            ]
        );
        assert!(text.contains("# Left out: 2 command(s)"));
    }

    #[test]
    fn a_base_without_digest_is_named_by_tag_with_its_id_in_a_comment() {
        let base = RecipeBase {
            name: "slipway-test/base:1".into(),
            id: "sha256:abcd".into(),
            digests: vec![],
        };
        let text = dockerfile::<&str>(&base, &log(), &[]).unwrap();
        assert!(text.contains("no registry digest"));
        assert!(text.contains("image sha256:abcd"));
        assert!(text.contains("\nFROM slipway-test/base:1\n"));
    }

    #[test]
    fn a_digest_of_another_repository_does_not_pin_the_base() {
        let base = RecipeBase {
            name: "slipway-test/base:1".into(),
            id: "sha256:abcd".into(),
            digests: vec!["127.0.0.1:5931/a/b@sha256:1111".into()],
        };
        let text = dockerfile::<&str>(&base, &log(), &[]).unwrap();
        assert!(text.contains("\nFROM slipway-test/base:1\n"), "{text}");
    }

    #[test]
    fn a_base_known_only_by_id_is_refused() {
        let base = RecipeBase {
            name: "abcd".into(),
            id: "sha256:abcdef".into(),
            digests: vec![],
        };
        let error = dockerfile::<&str>(&base, &log(), &[]).unwrap_err();
        assert!(error.to_string().contains("tag the base image"), "{error}");
    }

    #[test]
    fn a_change_the_commit_would_refuse_is_refused() {
        let base = RecipeBase {
            name: "debian:bookworm".into(),
            ..Default::default()
        };
        assert!(dockerfile(&base, &log(), &["WORKDIR relative"]).is_err());
    }
}
