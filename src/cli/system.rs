//! `skiff system …`: `system prune`; the other system commands are not there yet.

use std::io::{self, Write};

use clap::{Args, Subcommand};

use super::human;
use crate::engine::Engine;
use crate::engine::PruneFilters;
use crate::Error;

#[derive(Subcommand, Debug)]
pub enum SystemCommand {
    /// Remove stopped containers, unused images and what interrupted commands left.
    Prune(SystemPruneArgs),
    /// System commands that are not there yet; they say so and exit 125.
    #[command(external_subcommand)]
    Other(Vec<String>),
}

#[derive(Args, Debug)]
pub struct SystemPruneArgs {
    /// Remove all unused images, not just dangling ones.
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// Prune anonymous volumes (skiff has no volumes yet).
    #[arg(long)]
    pub volumes: bool,
    /// Only objects matching the filter (until=TIME, label=KEY[=VALUE], label!=KEY[=VALUE]).
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
}

pub fn system(
    engine: impl FnOnce() -> Result<Engine, Error>,
    cmd: SystemCommand,
) -> Result<i32, Error> {
    match cmd {
        SystemCommand::Prune(args) => prune(&engine()?, args),
        SystemCommand::Other(args) => {
            let name = args.first().map(String::as_str).unwrap_or("");
            Err(Error::NotSupported(format!("'skiff system {name}'")))
        }
    }
}

fn prune(engine: &Engine, args: SystemPruneArgs) -> Result<i32, Error> {
    if args.volumes {
        return Err(Error::NotSupported(
            "system prune --volumes (skiff has no volumes yet)".into(),
        ));
    }
    let filters = PruneFilters::parse(&args.filter, chrono::Utc::now())?;
    if !args.force {
        let images = if args.all {
            "all images without at least one container associated to them"
        } else {
            "all dangling images"
        };
        let warning = format!(
            "WARNING! This will remove:\n  - all stopped containers\n  - {images}\n  - \
             layers and blobs that no image uses\n  - what interrupted commands left\n"
        );
        if !super::common::confirm(&warning) {
            return Ok(0);
        }
    }
    let pruned = engine.system_prune(args.all, &filters)?;
    let mut out = io::stdout().lock();
    if !pruned.containers.is_empty() {
        let _ = writeln!(out, "Deleted Containers:");
        for id in &pruned.containers {
            let _ = writeln!(out, "{id}");
        }
        let _ = writeln!(out);
    }
    let images = &pruned.images;
    if !images.untagged.is_empty() || !images.deleted.is_empty() {
        let _ = writeln!(out, "Deleted Images:");
        for u in &images.untagged {
            let _ = writeln!(out, "untagged: {u}");
        }
        for d in &images.deleted {
            let _ = writeln!(out, "deleted: {d}");
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "Total reclaimed space: {}",
        human::size(pruned.reclaimed)
    );
    Ok(0)
}
