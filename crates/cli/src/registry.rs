//! Registry subcommands (push, pull from a registry, copy, catalog, tags, inspect, login, ...).
//!
//! This module belongs to the registry work (issue 3); main.rs hooks it in with one flattened
//! variant, so its subcommands appear at the top level beside the engine ones.

use clap::Subcommand;

use crate::{Context, Failure};

/// The registry subcommands.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {}

/// Runs one registry subcommand; returns the process exit code.
pub async fn run(command: RegistryCommand, _context: &Context) -> Result<i32, Failure> {
    match command {}
}
