//! Commit: a container's filesystem and config as a new image.

use bollard::models::ContainerConfig;
use bollard::query_parameters::CommitContainerOptionsBuilder;

use crate::{Engine, Error, Result};

/// Config changes to apply to the committed image, the engine-side equivalent of Dockerfile
/// instructions: the same fields as an image's config. Fields left empty keep the container's
/// value; `env` and `labels` are added to (and override by key) the container's, as the engine
/// merges them.
pub type CommitConfig = crate::images::ImageConfig;

/// What to commit and how to name it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitSpec {
    /// The container, id or name.
    pub container: String,
    /// The repository (`host/name`) to tag the image with; untagged when `None`.
    pub repository: Option<String>,
    /// The tag; `latest` when a repository is given without one.
    pub tag: Option<String>,
    /// The commit message, shown as the image's "Comment".
    pub message: Option<String>,
    /// The author, e.g. `Ada <ada@example.com>`.
    pub author: Option<String>,
    /// Config changes.
    pub config: CommitConfig,
    /// Pause the container while committing, so that a running process cannot leave a half
    /// written file in the image.
    pub pause: bool,
}

impl Engine {
    /// Commits the container and returns the new image id.
    pub async fn commit_container(&self, spec: &CommitSpec) -> Result<String> {
        // The engine parses ENV entries without `=` as "KEY=" silently; refuse instead, since
        // core's parser should never produce one.
        if let Some(bad) = spec.config.env.iter().find(|entry| !entry.contains('=')) {
            return Err(Error::InvalidInput(format!(
                "ENV entry `{bad}` has no `=`; write it as KEY=value"
            )));
        }
        if let Some(dir) = &spec.config.working_dir {
            if !dir.starts_with('/') {
                return Err(Error::InvalidInput(format!(
                    "WORKDIR `{dir}` is not an absolute path"
                )));
            }
        }
        let mut options = CommitContainerOptionsBuilder::default()
            .container(&spec.container)
            .pause(spec.pause);
        if let Some(repository) = &spec.repository {
            options = options
                .repo(repository)
                .tag(spec.tag.as_deref().unwrap_or("latest"));
        }
        if let Some(message) = &spec.message {
            options = options.comment(message);
        }
        if let Some(author) = &spec.author {
            options = options.author(author);
        }
        // Podman's Docker-compatible commit ignores the config body and applies only `changes`
        // (Dockerfile instructions, which it splits at newlines); Docker applies both, so the
        // instructions go to Podman alone, where they are the only way in.
        if self.kind() == crate::system::EngineKind::Podman {
            let changes = as_instructions(&spec.config);
            if !changes.is_empty() {
                options = options.changes(&changes);
            }
        }
        // The engine takes the container's config for every field the body leaves empty, and
        // merges ENV, LABEL and EXPOSE with it, which is exactly `docker commit --change`.
        let config = ContainerConfig {
            cmd: spec.config.cmd.clone(),
            entrypoint: spec.config.entrypoint.clone(),
            env: (!spec.config.env.is_empty()).then(|| spec.config.env.clone()),
            working_dir: spec.config.working_dir.clone(),
            user: spec.config.user.clone(),
            exposed_ports: (!spec.config.exposed_ports.is_empty())
                .then(|| spec.config.exposed_ports.clone()),
            labels: (!spec.config.labels.is_empty()).then(|| {
                spec.config
                    .labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            }),
            ..Default::default()
        };
        let response = self
            .docker()
            .commit_container(options.build(), config)
            .await?;
        Ok(response.id)
    }
}

/// `config` as Dockerfile instructions, one per line, the form `docker commit --change` takes.
fn as_instructions(config: &CommitConfig) -> String {
    let json = |v: &Vec<String>| serde_json::to_string(v).expect("strings serialize");
    let mut lines = Vec::new();
    if let Some(cmd) = &config.cmd {
        lines.push(format!("CMD {}", json(cmd)));
    }
    if let Some(entrypoint) = &config.entrypoint {
        lines.push(format!("ENTRYPOINT {}", json(entrypoint)));
    }
    lines.extend(config.env.iter().map(|e| format!("ENV {e}")));
    if let Some(dir) = &config.working_dir {
        lines.push(format!("WORKDIR {dir}"));
    }
    if let Some(user) = &config.user {
        lines.push(format!("USER {user}"));
    }
    lines.extend(config.exposed_ports.iter().map(|p| format!("EXPOSE {p}")));
    lines.extend(config.labels.iter().map(|(k, v)| format!("LABEL {k}={v}")));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_reads_as_the_instructions_podman_applies() {
        let config = CommitConfig {
            cmd: Some(vec!["/opt/app/hello.sh".into()]),
            env: vec!["APP=hello".into()],
            working_dir: Some("/opt/app".into()),
            exposed_ports: vec!["8080/tcp".into()],
            labels: [("team".to_string(), "a".to_string())].into(),
            ..Default::default()
        };
        assert_eq!(
            as_instructions(&config),
            "CMD [\"/opt/app/hello.sh\"]\nENV APP=hello\nWORKDIR /opt/app\nEXPOSE 8080/tcp\nLABEL team=a"
        );
    }
}
