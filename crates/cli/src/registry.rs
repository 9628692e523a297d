//! Registry subcommands: push, fetch, copy, catalog, tags, inspect, delete, login, probe.
//!
//! main.rs hooks it in twice. Flattened, its
//! subcommands appear at the top level beside the engine ones; there the engine side already owns
//! `pull` (through the engine) and `rm` (containers), so pulling straight from a registry is
//! `fetch` and removing a remote image is `delete`. Under `slipway registry` the same commands
//! also answer to the names skopeo and registry tools use: `registry pull` and `registry rm`.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Args, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use slipway_core::push::{Compression, PushEvent, PushRequest, Route};
use slipway_core::registry::{self, CopyEvent, Credentials, PlatformChoice, RegistryAccess};

use crate::{format, Context, Failure};

/// How to reach a registry; shared by every registry subcommand.
#[derive(Debug, Clone, Args)]
pub struct AccessArgs {
    /// Allow plain HTTP for this registry (loopback registries are always allowed it).
    #[arg(long)]
    insecure: bool,
    /// A PEM file with the CA that signed the registry's certificate.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Ignore stored credentials and access the registry anonymously.
    #[arg(long)]
    anonymous: bool,
}

impl AccessArgs {
    pub(crate) fn access(&self) -> RegistryAccess {
        RegistryAccess {
            insecure: self.insecure,
            ca_file: self.ca.clone(),
            credentials: None,
            anonymous: self.anonymous,
        }
    }
}

/// `fetch` (`registry pull`): a registry image into the engine.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// HOST[:PORT]/NAME[:TAG|@DIGEST]
    reference: String,
    /// For an index, which platform (default: this machine's).
    #[arg(long)]
    platform: Option<String>,
    #[command(flatten)]
    access: AccessArgs,
}

/// `delete` (`registry rm`): one tag, or with `--all-tags` its manifest and every tag on it, or
/// with a selection the tags of a repository it picks.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// HOST[:PORT]/NAME[:TAG|@DIGEST], or HOST[:PORT]/NAME with --filter, --older-than, --keep.
    pub(crate) reference: String,
    /// Delete the manifest the tag points at and every tag on it, not just this tag.
    #[arg(long)]
    pub(crate) all_tags: bool,
    /// Only print the plan: what would be deleted and the bytes it frees.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Bulk: the repository's tags matching this glob (`feature-*`) or substring.
    #[arg(long)]
    pub(crate) filter: Option<String>,
    /// Bulk: only tags created before this age (30d, 12h, 2w) or RFC 3339 time.
    #[arg(long, value_name = "AGE")]
    pub(crate) older_than: Option<String>,
    /// Bulk: spare the newest N of the chosen tags.
    #[arg(long, value_name = "N")]
    pub(crate) keep: Option<usize>,
    #[command(flatten)]
    pub(crate) access: AccessArgs,
}

/// `slipway registry ...`: every registry command, plus `pull` and `rm` under the names the
/// top level gives to the engine.
#[derive(Debug, Subcommand)]
pub enum RegistryGroup {
    /// Pull an image straight from a registry into the engine (same as `slipway fetch`).
    Pull(FetchArgs),
    /// Delete a tag, or with --all-tags its manifest and every tag on it (same as `slipway delete`).
    Rm(DeleteArgs),
    #[command(flatten)]
    Other(RegistryCommand),
}

impl From<RegistryGroup> for RegistryCommand {
    fn from(group: RegistryGroup) -> RegistryCommand {
        match group {
            RegistryGroup::Pull(args) => RegistryCommand::Fetch(args),
            RegistryGroup::Rm(args) => RegistryCommand::Delete(args),
            RegistryGroup::Other(command) => command,
        }
    }
}

/// `--route` on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RouteArg {
    Auto,
    Export,
    Engine,
}

/// The registry subcommands.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Push a local image straight to a registry (no daemon.json or certs.d needed).
    Push {
        /// The local image (name:tag or id).
        image: String,
        /// Where to push it: HOST[:PORT]/NAME[:TAG].
        reference: String,
        /// Compression level: gzip 1-12 (default 1, the fastest; higher is smaller and slower),
        /// zstd 1-19 (default 1).
        #[arg(long)]
        level: Option<i32>,
        /// Compress layers with zstd (OCI media types; Docker 20.10 cannot pull these).
        #[arg(long)]
        zstd: bool,
        /// `export`: read the engine's export and compress on every core (fastest for a first
        /// push); `engine`: the engine pushes through Slipway's loopback relay and sends only
        /// what the registry lacks (teaches a classic-store engine the layers, so later pushes
        /// are incremental); `auto` (default): the engine when it already knows nearly every
        /// layer, the export otherwise.
        #[arg(long, value_enum, default_value = "auto")]
        route: RouteArg,
        #[command(flatten)]
        access: AccessArgs,
    },
    /// Pull an image straight from a registry into the engine (no daemon.json or certs.d needed;
    /// `pull` goes through the engine instead).
    Fetch(FetchArgs),
    /// Copy an image or index between registries, streaming, mounting within one registry.
    Copy {
        source: String,
        destination: String,
        /// Copy only these platforms of an index (os/arch[/variant]); repeatable.
        #[arg(long = "platform")]
        platforms: Vec<String>,
        #[command(flatten)]
        access: AccessArgs,
    },
    /// List every repository of a registry.
    Catalog {
        /// HOST[:PORT]
        host: String,
        #[command(flatten)]
        access: AccessArgs,
    },
    /// List every tag of a repository, newest first (`--json` adds digest, size, created).
    Tags {
        /// HOST[:PORT]/NAME
        repository: String,
        /// date (newest first, from the config's created), version (1.9 before 1.10) or name.
        #[arg(long, default_value = "date")]
        sort: registry::TagSort,
        #[command(flatten)]
        access: AccessArgs,
    },
    /// Show a remote image: manifest, config, layers, sizes, platforms, history.
    Inspect {
        reference: String,
        /// For an index, which platform to show (default: this machine's).
        #[arg(long)]
        platform: Option<String>,
        #[command(flatten)]
        access: AccessArgs,
    },
    /// Delete a tag (other tags on its digest stay), or with --all-tags its manifest and every
    /// tag on it; --dry-run prints the plan and the bytes garbage collection frees.
    Delete(DeleteArgs),
    /// The space ledger of a registry (per repository) or a repository (per tag): the bytes
    /// each holds alone, which deleting it frees after garbage collection, and the bytes shared.
    Usage {
        /// HOST[:PORT] or HOST[:PORT]/NAME
        scope: String,
        #[command(flatten)]
        access: AccessArgs,
    },
    /// Log in to a registry; the credentials go to docker's credential store.
    Login {
        /// HOST[:PORT]
        host: String,
        #[arg(long, short)]
        username: String,
        /// Read the password from stdin (otherwise SLIPWAY_PASSWORD, else stdin).
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        access: AccessArgs,
    },
    /// Show what a registry allows: scheme, auth, catalog, deletes.
    Probe {
        host: String,
        #[command(flatten)]
        access: AccessArgs,
    },
}

/// Runs one registry subcommand; returns the process exit code.
pub async fn run(command: RegistryCommand, context: &Context) -> Result<i32, Failure> {
    match command {
        RegistryCommand::Push {
            image,
            reference,
            level,
            zstd,
            route,
            access,
        } => {
            let slipway = context.slipway().await?;
            let bars = Bars::new(!context.json);
            let sink = bars.clone();
            let request = PushRequest {
                image,
                target: reference,
                access: access.access(),
                level,
                cache_dir: None,
                compression: if zstd {
                    Compression::Zstd
                } else {
                    Compression::Gzip
                },
                route: match route {
                    RouteArg::Auto => Route::Auto,
                    RouteArg::Export => Route::Export,
                    RouteArg::Engine => Route::Engine,
                },
            };
            let started = std::time::Instant::now();
            let outcome = slipway
                .push(request, Arc::new(move |event| sink.on_push(event)))
                .await;
            bars.finish();
            let outcome = outcome?;
            if context.json {
                crate::format::print_json(&outcome);
            } else {
                let elapsed = started.elapsed().as_secs_f64();
                let route = match outcome.route {
                    Route::Engine => "the engine's push through the relay",
                    _ => "the engine's export",
                };
                println!(
                    "pushed {} ({} uploaded in {:.2}s, via {route})",
                    outcome.reference,
                    format::size(outcome.uploaded_bytes),
                    elapsed
                );
                if let Some(whole) = outcome.exported_whole {
                    eprintln!("{}", exported_whole_note(&whole));
                }
            }
        }
        RegistryCommand::Fetch(FetchArgs {
            reference,
            platform,
            access,
        }) => {
            let slipway = context.slipway().await?;
            let quiet = context.json;
            let progress: slipway_core::fetch::FetchProgress = Arc::new(move |event| {
                if quiet {
                    return;
                }
                match event {
                    slipway_core::fetch::FetchEvent::Downloaded { digest, size } => {
                        eprintln!("{}: downloaded {}", short(&digest), format::size(size))
                    }
                    slipway_core::fetch::FetchEvent::Loading => {
                        eprintln!("loading into the engine")
                    }
                    slipway_core::fetch::FetchEvent::Downloading { .. } => {}
                }
            });
            let outcome = slipway
                .fetch(
                    slipway_core::fetch::FetchRequest {
                        reference: reference.clone(),
                        access: access.access(),
                        platform: platform.clone(),
                        cache_dir: None,
                    },
                    progress,
                )
                .await?;
            if context.json {
                crate::format::print_json(&outcome);
            } else {
                println!("fetched {} ({})", outcome.reference, outcome.digest);
            }
        }
        RegistryCommand::Copy {
            source,
            destination,
            platforms,
            access,
        } => {
            let choice = if platforms.is_empty() {
                PlatformChoice::All
            } else {
                PlatformChoice::Only(platforms)
            };
            let quiet = context.json;
            let progress: registry::CopyProgress = Arc::new(move |event| {
                if !quiet {
                    match event {
                        CopyEvent::Exists { digest } => eprintln!("{}: exists", short(&digest)),
                        CopyEvent::Mounted { digest } => eprintln!("{}: mounted", short(&digest)),
                        CopyEvent::Copied { digest, size } => {
                            eprintln!("{}: copied {}", short(&digest), format::size(size))
                        }
                        CopyEvent::Manifest { digest } => eprintln!("manifest {}", short(&digest)),
                    }
                }
            });
            let a = access.access();
            let outcome =
                registry::copy(&source, &destination, &a, &a, choice, Some(progress)).await?;
            if context.json {
                crate::format::print_json(&outcome);
            } else {
                println!("copied to {}", outcome.reference);
            }
        }
        RegistryCommand::Catalog { host, access } => {
            let repos = registry::catalog(&host, &access.access()).await?;
            if context.json {
                crate::format::print_json(&repos);
            } else {
                repos.iter().for_each(|r| println!("{}", format::escape(r)));
            }
        }
        RegistryCommand::Tags {
            repository,
            sort,
            access,
        } => {
            let page =
                registry::tag_page(&repository, &access.access(), sort, 0, usize::MAX).await?;
            if context.json {
                crate::format::print_json(&page.rows);
            } else {
                page.rows
                    .iter()
                    .for_each(|t| println!("{}", format::escape(&t.tag)));
                if let Some(why) = page.empty {
                    eprintln!("{}", format::escape(&why));
                }
            }
        }
        RegistryCommand::Usage { scope, access } => {
            let usage = registry::usage(&scope, &access.access()).await?;
            if context.json {
                crate::format::print_json(&usage);
            } else {
                crate::housekeeping::print_usage(&usage);
            }
        }
        RegistryCommand::Inspect {
            reference,
            platform,
            access,
        } => {
            let image =
                registry::inspect(&reference, &access.access(), platform.as_deref()).await?;
            if context.json {
                crate::format::print_json(&image);
            } else {
                // Everything below but sizes comes from the registry: escaped for the terminal.
                let e = |s: &str| format::escape(s);
                println!("Reference:  {}", e(&image.reference));
                println!("Media type: {}", e(&image.media_type));
                if !image.platforms.is_empty() {
                    println!("Platforms:  {}", e(&image.platforms.join(", ")));
                }
                println!(
                    "Platform:   {}",
                    e(image.platform.as_deref().unwrap_or_default())
                );
                println!(
                    "Created:    {}",
                    e(image.created.as_deref().unwrap_or_default())
                );
                println!("Size:       {}", format::size(image.total_size));
                let mut rows = Vec::new();
                if let Some(c) = &image.config {
                    rows.push(vec![
                        "config".to_string(),
                        c.digest.clone(),
                        format::size(c.size),
                    ]);
                }
                for (i, l) in image.layers.iter().enumerate() {
                    rows.push(vec![
                        format!("layer {}", i + 1),
                        l.digest.clone(),
                        format::size(l.size),
                    ]);
                }
                format::table(&["BLOB", "DIGEST", "SIZE"], &rows);
                println!("History:");
                for h in &image.history {
                    println!(
                        "  {}  {}",
                        e(h.created.as_deref().unwrap_or_default()),
                        e(h.created_by.as_deref().unwrap_or_default())
                    );
                }
            }
        }
        RegistryCommand::Delete(args) => {
            crate::housekeeping::delete(args, context).await?;
        }
        RegistryCommand::Login {
            host,
            username,
            password_stdin,
            access,
        } => {
            let password = match std::env::var("SLIPWAY_PASSWORD") {
                Ok(p) if !password_stdin => p,
                _ => read_password(!password_stdin).map_err(|e| Failure {
                    code: "io".to_string(),
                    message: format!("could not read the password from stdin: {e}"),
                })?,
            };
            registry::login(
                &host,
                Credentials::new(username, password),
                &access.access(),
            )
            .await?;
            if !context.json {
                println!("Login succeeded; credentials stored in docker's credential store");
            }
        }
        RegistryCommand::Probe { host, access } => {
            let caps = registry::probe(&host, &access.access()).await?;
            if context.json {
                crate::format::print_json(&caps);
            } else {
                println!("scheme:   {}", caps.scheme);
                println!("auth:     {:?}", caps.auth);
                println!("login ok: {}", caps.authenticated);
                println!("catalog:  {}", tri(caps.catalog));
                println!("deletes:  {}", tri(caps.delete));
            }
        }
    }
    Ok(0)
}

/// One line from stdin. On a terminal it is asked for with a prompt and read without echo, as
/// `docker login` does, so the password never shows on screen or in a recording of it.
fn read_password(prompt: bool) -> std::io::Result<String> {
    let stdin = std::io::stdin();
    #[cfg(unix)]
    let saved = match rustix::termios::tcgetattr(&stdin) {
        Ok(saved) => {
            let mut quiet = saved.clone();
            quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
            rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &quiet)?;
            Some(saved)
        }
        // Not a terminal (a pipe in a script): nothing is echoed anyway.
        Err(_) => None,
    };
    if prompt {
        eprint!("Password: ");
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    #[cfg(unix)]
    if let Some(saved) = saved {
        let _ = rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &saved);
        if prompt {
            eprintln!();
        }
    }
    read?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn tri(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    }
}

fn short(digest: &str) -> String {
    digest
        .trim_start_matches("sha256:")
        .chars()
        .take(12)
        .collect()
}

/// Progress bars for a push: one per blob plus an overall bar.
#[derive(Clone)]
struct Bars {
    inner: Option<Arc<BarsInner>>,
}

struct BarsInner {
    multi: MultiProgress,
    overall: ProgressBar,
    blobs: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    fn new(enabled: bool) -> Bars {
        if !enabled {
            return Bars { inner: None };
        }
        let multi = MultiProgress::new();
        let overall = multi.add(ProgressBar::new(0));
        overall.set_style(
            ProgressStyle::with_template(
                "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        overall.set_prefix("total");
        overall.enable_steady_tick(Duration::from_millis(200));
        Bars {
            inner: Some(Arc::new(BarsInner {
                multi,
                overall,
                blobs: Mutex::new(HashMap::new()),
            })),
        }
    }

    fn bar(inner: &BarsInner, blob: &str) -> ProgressBar {
        let mut blobs = inner.blobs.lock().expect("bars lock");
        blobs
            .entry(blob.to_string())
            .or_insert_with(|| {
                let bar = inner
                    .multi
                    .insert_before(&inner.overall, ProgressBar::new(0));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>12} {msg:<12} [{bar:30}] {bytes}/{total_bytes}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_prefix(short(blob));
                bar
            })
            .clone()
    }

    fn on_push(&self, event: PushEvent) {
        let Some(inner) = &self.inner else { return };
        match event {
            PushEvent::Waiting { blob, size } => {
                let bar = Self::bar(inner, &blob);
                bar.set_length(size);
                bar.set_message("waiting");
            }
            PushEvent::Compressing { blob, done, total } => {
                let bar = Self::bar(inner, &blob);
                bar.set_length(total);
                bar.set_position(done);
                bar.set_message("compressing");
            }
            PushEvent::Uploading { blob, done, total } => {
                let bar = Self::bar(inner, &blob);
                bar.set_length(total);
                bar.set_position(done);
                bar.set_message("uploading");
            }
            PushEvent::Identified { label, diff_id } => {
                // The compressing row becomes the layer's row; the waiting row for that diff_id
                // is dropped so each layer shows once.
                let mut blobs = inner.blobs.lock().expect("bars lock");
                if let Some(bar) = blobs.remove(&label) {
                    if let Some(waiting) = blobs.insert(diff_id.clone(), bar.clone()) {
                        waiting.finish_and_clear();
                        inner.multi.remove(&waiting);
                    }
                    bar.set_prefix(short(&diff_id));
                }
            }
            PushEvent::Skipped { blob } | PushEvent::Exists { blob, .. } => {
                Self::bar(inner, &blob).finish_with_message("exists")
            }
            PushEvent::Mounted { blob, .. } => {
                Self::bar(inner, &blob).finish_with_message("mounted")
            }
            PushEvent::Done { blob, size, .. } => {
                let bar = Self::bar(inner, &blob);
                bar.set_length(size);
                bar.set_position(size);
                bar.finish_with_message("done");
            }
            // Core counts what moved; layers the registry had are left out of the bar.
            PushEvent::Overall { moved, to_move, .. } => {
                inner.overall.set_length(to_move);
                inner.overall.set_position(moved);
            }
            PushEvent::Phase { phase } => {
                inner
                    .overall
                    .set_message(format!("{phase:?}").to_lowercase());
            }
        }
    }

    fn finish(&self) {
        if let Some(inner) = &self.inner {
            inner.overall.finish();
        }
    }
}

/// What to do when the engine exported a whole image the registry mostly had: the command that
/// teaches the engine its layers, so pushes of commits on them cost only the commit.
fn exported_whole_note(whole: &slipway_core::push::ExportedWhole) -> String {
    format!(
        "note: the registry had {} of this image's {}, yet the engine exported all of it: it \
         learns which registry blob a layer is only by pushing or pulling that layer itself. \
         Run this push once more with `--route engine` added (as slow as docker push); pushes \
         of images built on it then send only what changed.",
        format::size(whole.present_bytes),
        format::size(whole.image_bytes),
    )
}
