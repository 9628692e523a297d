//! `slipway`: Slipway's engine workflow from the command line — the same core the desktop app
//! calls, for scripts and CI.
//!
//! Every failure prints its message (which says what to do) and exits non-zero; `exec` and `run`
//! exit with the command's own exit code.

// clap makes each argument's doc comment its help text, and the help says `HOST[:PORT]` and
// `NAME[:TAG|@DIGEST]` as every registry tool's does; rustdoc would read those as links.
#![allow(rustdoc::broken_intra_doc_links)]

mod engine;
mod format;
mod housekeeping;
mod hygiene;
// Registry subcommands live in registry.rs and are flattened into `Command` below.
mod registry;
mod replay;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use slipway_core::{ConnectOptions, ErrorDto, Slipway};

/// Build container images on your local Docker Engine and publish them to your own registry.
#[derive(Debug, Parser)]
#[command(name = "slipway", version, about)]
struct Cli {
    /// The engine to use, as DOCKER_HOST (unix:///path/to/socket or tcp://host:port).
    #[arg(long, global = true, env = "DOCKER_HOST", value_name = "URL")]
    host: Option<String>,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    #[command(flatten)]
    Engine(engine::EngineCommand),
    #[command(flatten)]
    Registry(registry::RegistryCommand),
    /// Registry commands under the names registry tools use (pull, rm, push, copy, catalog,
    /// tags, inspect, login, probe); `registry pull` and `registry rm` act on the registry.
    #[command(name = "registry", subcommand)]
    RegistryGroup(registry::RegistryGroup),
    /// The registry Slipway runs on loopback (127.0.0.1:5000 unless SLIPWAY_LOCAL_REGISTRY_ADDR).
    #[command(name = "local-registry", subcommand)]
    LocalRegistry(housekeeping::LocalRegistryCommand),
    /// The junk a commit of a workshop would keep (apt lists and archives, pip/npm caches, /tmp,
    /// shell history) with the bytes each costs, and likely secrets. Exits 1 when any is found.
    Hygiene {
        /// The container, id or name.
        container: String,
        /// Remove the junk in the container first (`rm -rf` of exactly the listed paths).
        #[arg(long)]
        clean: bool,
        /// An ENV line the commit will set, KEY=value, checked for token-like values (repeatable).
        #[arg(long, value_name = "KEY=value")]
        env: Vec<String>,
    },
    /// Garbage-collect the managed registry to get the space of deleted images back; for
    /// another registry, print what its operator has to run.
    Gc {
        /// HOST[:PORT] of another registry (default: the managed one).
        host: Option<String>,
        /// List the blobs that would go and the bytes, and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// What every subcommand may need: the global flags and a way to reach the engine.
#[derive(Debug)]
pub struct Context {
    /// The `--host` / DOCKER_HOST value, if any.
    pub host: Option<String>,
    /// `--json`.
    pub json: bool,
}

impl Context {
    /// Connects to the engine; only commands that need it call this, so `--help` and
    /// registry-only commands work without a running engine.
    pub async fn slipway(&self) -> Result<Slipway, Failure> {
        Ok(Slipway::connect_with(ConnectOptions {
            docker_host: self.host.clone(),
            data_dir: None,
        })
        .await?)
    }
}

/// A failure to report: its stable code and its message.
#[derive(Debug)]
pub struct Failure {
    /// The stable error code, e.g. `engine_unreachable`.
    pub code: String,
    /// What went wrong and what to do.
    pub message: String,
}

impl From<slipway_core::Error> for Failure {
    fn from(error: slipway_core::Error) -> Self {
        Failure::from(ErrorDto::from(&error))
    }
}

impl From<ErrorDto> for Failure {
    fn from(dto: ErrorDto) -> Self {
        Failure {
            code: dto.code,
            message: dto.message,
        }
    }
}

/// What to do about an error, in this CLI's words, by the core's stable code. Core's and
/// slipway-oci's messages say what is wrong and name no front end's commands or controls; the
/// window has its own table (ui/js/hints.js).
fn cli_hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "not_found" => "`slipway images` lists local images, `slipway ps` containers",
        "engine_refused_http" => {
            "pull it with Slipway instead: `slipway fetch --insecure REFERENCE` (or allow the registry in the engine's insecure-registries)"
        }
        "engine_unreachable" => "start the engine, or point --host at it",
        "registry_http_only" => "if you trust this network, pass --insecure",
        "registry_untrusted_certificate" => "pass the registry's CA with --ca FILE",
        "unauthorized" => {
            "run `slipway login HOST` (or check the username and password), or pass --anonymous for a public registry"
        }
        "engine_network_missing" => {
            "restart the engine so it recreates its bridge (`sudo systemctl restart docker`), or create the missing network (`docker network create NAME`)"
        }
        "name_in_use" => {
            "pick another --name, or remove the old container first (`slipway rm --force NAME`)"
        }
        "engine_permission_denied" => {
            "add yourself to the docker group (`sudo usermod -aG docker $USER`, then log in again), or point --host at a socket you may use"
        }
        "engine_disk_full" => {
            "free space where the engine keeps its data (`slipway rmi` unused images, `docker system prune`), then try again"
        }
        "engine_pull_unauthorized" => {
            "pull it with Slipway, which uses your stored login: `slipway login HOST`, then `slipway fetch REFERENCE`; or check the name"
        }
        "engine_manifest_unknown" => {
            "check the name and tag: `slipway tags HOST/REPOSITORY` lists the tags a registry has"
        }
        _ => return None,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let context = Context {
        host: cli.host.filter(|host| !host.is_empty()),
        json: cli.json,
    };
    let result = match cli.command {
        Command::Engine(command) => engine::run(command, &context).await,
        Command::Registry(command) => registry::run(command, &context).await,
        Command::RegistryGroup(group) => registry::run(group.into(), &context).await,
        Command::LocalRegistry(command) => housekeeping::local_registry(command, &context)
            .await
            .map(|()| 0),
        Command::Hygiene {
            container,
            clean,
            env,
        } => hygiene::run(container, clean, env, &context).await,
        Command::Gc { host, dry_run } => {
            housekeeping::gc(host, dry_run, &context).await.map(|()| 0)
        }
    };
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code.clamp(0, 255)).unwrap_or(1)),
        Err(failure) => {
            if context.json {
                eprintln!(
                    "{}",
                    serde_json::json!({"code": failure.code, "message": failure.message})
                );
            } else {
                // A message may quote a registry's error text: escaped for the terminal.
                eprintln!("error: {}", format::escape(&failure.message));
                if let Some(hint) = cli_hint(&failure.code) {
                    eprintln!("hint: {hint}");
                }
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::cli_hint;

    #[test]
    fn the_cli_adds_its_own_hint_per_error_code() {
        assert!(cli_hint("engine_refused_http")
            .unwrap()
            .contains("slipway fetch --insecure"));
        assert!(cli_hint("not_found").unwrap().contains("slipway images"));
        assert_eq!(cli_hint("cancelled"), None);
    }

    #[test]
    fn registry_errors_get_the_flag_that_fixes_them() {
        // slipway-oci's messages name no flag; the CLI's hint does.
        assert!(cli_hint("registry_http_only")
            .unwrap()
            .contains("--insecure"));
        assert!(cli_hint("registry_untrusted_certificate")
            .unwrap()
            .contains("--ca FILE"));
        assert!(cli_hint("unauthorized").unwrap().contains("slipway login"));
    }

    #[test]
    fn the_engines_common_failures_each_say_what_to_do() {
        for (code, fix) in [
            ("engine_network_missing", "restart the engine"),
            ("name_in_use", "--name"),
            ("engine_permission_denied", "docker group"),
            ("engine_disk_full", "free space"),
            ("engine_pull_unauthorized", "slipway login"),
            ("engine_manifest_unknown", "slipway tags"),
        ] {
            let hint = cli_hint(code).unwrap_or_else(|| panic!("no hint for {code}"));
            assert!(hint.contains(fix), "{code}: {hint}");
        }
    }

    #[test]
    fn every_engine_failure_code_has_a_cli_hint() {
        for kind in slipway_core::EngineFailure::ALL {
            assert!(cli_hint(kind.code()).is_some(), "{}", kind.code());
        }
    }
}
