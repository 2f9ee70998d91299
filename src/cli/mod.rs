//! The command line: Docker's commands and flags parsed with clap, output for people, and the
//! mapping of errors to one line on stderr and Docker's exit codes.

mod common;
mod containers;
mod cp;
pub mod format;
mod generate;
pub mod human;
mod images;
mod lifecycle;
mod login;
mod networks;
mod pull;
mod run;
mod system;

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::engine::{Engine, GlobalOptions};
use crate::Error;
use common::one_line;
pub use common::EXIT_ENGINE;

#[derive(Parser, Debug)]
#[command(
    name = "skiff",
    version,
    about = "A daemonless, rootless container engine with the Docker command line",
    disable_help_subcommand = true,
    propagate_version = true
)]
pub struct Cli {
    /// Where images and containers are stored (default: $XDG_DATA_HOME/skiff).
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Where runtime state is kept (default: $XDG_RUNTIME_DIR/skiff or /tmp/skiff-$UID).
    #[arg(long, global = true, value_name = "DIR")]
    pub runroot: Option<PathBuf>,
    /// Logging level (trace, debug, info, warn, error, fatal, panic), as Docker's and
    /// Podman's; any other is refused rather than read as the default.
    #[arg(
        long,
        global = true,
        default_value = "warn",
        value_name = "LEVEL",
        ignore_case = true,
        value_parser = ["trace", "debug", "info", "warn", "warning", "error", "fatal", "panic"]
    )]
    pub log_level: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Download an image from a registry.
    Pull(pull::PullArgs),
    #[command(flatten)]
    Verb(ContainerVerb),
    /// List containers.
    Ps(containers::PsArgs),
    /// Manage containers.
    #[command(subcommand)]
    Container(ContainerCommand),
    /// List images.
    #[command(alias = "image-ls")]
    Images(images::ImagesArgs),
    /// Manage images.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Show low-level information on containers and images.
    Inspect(images::InspectArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(images::TagArgs),
    /// Remove one or more images.
    Rmi(images::RmiArgs),
    /// Show the history of an image.
    History(images::HistoryArgs),
    /// Log in to a registry.
    Login(login::LoginArgs),
    /// Log out from a registry.
    Logout(login::LogoutArgs),
    /// Run a container's health check.
    #[command(subcommand)]
    Healthcheck(HealthcheckCommand),
    /// Show the skiff version information.
    Version,
    /// Show how skiff runs here (store, root file system driver, id maps).
    Info(InfoArgs),
    /// Manage skiff's store as a whole.
    #[command(subcommand)]
    System(system::SystemCommand),
    /// Manage networks.
    #[command(subcommand)]
    Network(networks::NetworkCommand),
    /// Commands that are not there yet; they say so and exit 125.
    #[command(external_subcommand)]
    Other(Vec<String>),
}

/// The verbs that work both at the top (`skiff run`) and under `skiff container`.
#[derive(Subcommand, Debug)]
pub enum ContainerVerb {
    /// Run a command in a new container.
    Run(Box<run::RunArgs>),
    /// Create a container without starting it.
    Create(Box<run::RunArgs>),
    /// Start containers (in the background; in the foreground with -a).
    Start(containers::StartArgs),
    /// Attach to a running container's output and input.
    Attach(containers::AttachArgs),
    /// Run a command in a running container.
    Exec(lifecycle::ExecArgs),
    /// Copy files between a container and the local file system.
    Cp(cp::CpArgs),
    /// List the files a container changed: A added, C changed, D deleted.
    Diff(lifecycle::DiffArgs),
    /// Show containers' resource use, live (one sample with --no-stream).
    Stats(lifecycle::StatsArgs),
    /// Rename a container.
    Rename(lifecycle::RenameArgs),
    /// Show the processes of a running container.
    Top(lifecycle::TopArgs),
    /// List a container's published ports.
    Port(lifecycle::PortArgs),
    /// Freeze every process of containers (cgroup v2 freezer).
    Pause(lifecycle::PauseArgs),
    /// Thaw paused containers.
    Unpause(lifecycle::PauseArgs),
    /// Stop running containers (the stop signal, then SIGKILL).
    Stop(lifecycle::StopArgs),
    /// Send a signal to running containers.
    Kill(lifecycle::KillArgs),
    /// Stop and start containers again.
    Restart(lifecycle::StopArgs),
    /// Block until containers stop, then print their exit codes.
    Wait(lifecycle::WaitArgs),
    /// Show a container's log.
    Logs(lifecycle::LogsArgs),
    /// Remove containers.
    Rm(containers::RmArgs),
}

/// `skiff container …`: the shared verbs, and those only found here. The display orders put
/// these among the shared verbs, where Docker lists them (a tie sorts by name).
#[derive(Subcommand, Debug)]
pub enum ContainerCommand {
    #[command(flatten)]
    Verb(ContainerVerb),
    /// Remove every stopped container.
    #[command(display_order = 13)]
    Prune(lifecycle::PruneArgs),
    /// Show low-level information on containers.
    #[command(display_order = 18)]
    Inspect(images::InspectArgs),
    /// List containers.
    #[command(visible_aliases = ["ps", "list"], display_order = 19)]
    Ls(containers::PsArgs),
}

#[derive(Subcommand, Debug)]
pub enum HealthcheckCommand {
    /// Run the container's health check now: exit 0 when it passes, 1 when it fails.
    Run(lifecycle::HealthcheckArgs),
}

#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// Download an image from a registry.
    Pull(pull::PullArgs),
    /// List images.
    #[command(visible_alias = "list")]
    Ls(images::ImagesArgs),
    /// Show low-level information on images.
    Inspect(images::InspectArgs),
    /// Remove one or more images.
    Rm(images::RmiArgs),
    /// Remove unused images.
    Prune(images::PruneArgs),
    /// Exit 0 if the image exists locally, 1 if it does not.
    Exists(images::ExistsArgs),
    /// Show the history of an image.
    History(images::HistoryArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(images::TagArgs),
}

/// Docker commands skiff will have; until then they are refused clearly.
const LATER: &[&str] = &[
    "commit", "build", "push", "save", "load", "import", "export", "volume", "events", "update",
    "search", "builder", "buildx", "compose", "manifest",
];

/// Runs the command line and returns the process exit status.
pub fn main() -> i32 {
    // `main` has handed helper processes over to `crate::helper` already.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(("__generate", rest)) = args.split_first().map(|(c, r)| (c.as_str(), r)) {
        return generate::main(rest, Cli::command());
    }
    crate::log::init(false);
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return clap_exit(e),
    };
    let level = cli.log_level.to_ascii_lowercase();
    crate::log::init(level == "debug" || level == "trace");
    tracing::debug!("parsed the command line");
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {}", one_line(&e.to_string()));
            e.exit_code()
        }
    }
}

fn clap_exit(e: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            0
        }
        _ => {
            // One line, as for every other error; Docker's flag errors exit 125 too.
            let text = e.to_string();
            let first: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            let msg = first.join(" ");
            let msg = msg.strip_prefix("error: ").unwrap_or(&msg);
            eprintln!("Error: {msg}; see 'skiff --help'");
            EXIT_ENGINE
        }
    }
}

fn run(cli: Cli) -> Result<i32, Error> {
    let global = GlobalOptions {
        root: cli.root.clone(),
        runroot: cli.runroot.clone(),
    };
    let engine = || Engine::new(&global);
    // These start processes in containers: skiff's binary must be out of their reach first.
    let starts = || {
        let e = engine()?;
        e.protect_binary()?;
        Ok::<Engine, Error>(e)
    };
    match cli.command {
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => pull::pull(&engine()?, a),
        Command::Verb(v) | Command::Container(ContainerCommand::Verb(v)) => {
            container_verb(v, engine, starts)
        }
        Command::Healthcheck(HealthcheckCommand::Run(a)) => lifecycle::healthcheck(&starts()?, a),
        Command::Container(ContainerCommand::Prune(a)) => lifecycle::prune(&engine()?, a),
        Command::Ps(a) | Command::Container(ContainerCommand::Ls(a)) => {
            containers::ps(&engine()?, a)
        }
        Command::Images(a) | Command::Image(ImageCommand::Ls(a)) => images::list(&engine()?, a),
        Command::Inspect(a) => images::inspect(&engine()?, a),
        Command::Image(ImageCommand::Inspect(mut a)) => {
            a.kind = Some("image".into());
            images::inspect(&engine()?, a)
        }
        Command::Container(ContainerCommand::Inspect(mut a)) => {
            a.kind = Some("container".into());
            images::inspect(&engine()?, a)
        }
        Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => images::tag(&engine()?, a),
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => images::rmi(&engine()?, a),
        Command::History(a) | Command::Image(ImageCommand::History(a)) => {
            images::history(&engine()?, a)
        }
        Command::Image(ImageCommand::Prune(a)) => images::prune(&engine()?, a),
        Command::Image(ImageCommand::Exists(a)) => images::exists(&engine()?, a),
        Command::Login(a) => login::login(&engine()?, a),
        Command::Logout(a) => login::logout(&engine()?, a),
        Command::Info(a) => info(&engine()?, a),
        Command::System(c) => system::system(engine, c),
        Command::Network(c) => networks::network(&engine()?, c),
        Command::Version => {
            println!("skiff version {}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
        Command::Other(args) => {
            let name = args.first().map(String::as_str).unwrap_or("");
            if LATER.contains(&name) {
                Err(Error::NotSupported(format!("'skiff {name}'")))
            } else {
                Err(Error::Invalid(format!(
                    "'{name}' is not a skiff command; see 'skiff --help'"
                )))
            }
        }
    }
}

fn container_verb(
    verb: ContainerVerb,
    engine: impl Fn() -> Result<Engine, Error>,
    starts: impl Fn() -> Result<Engine, Error>,
) -> Result<i32, Error> {
    match verb {
        ContainerVerb::Run(a) => run::run(&starts()?, *a),
        ContainerVerb::Create(a) => run::create(&engine()?, *a),
        ContainerVerb::Start(a) => containers::start(&starts()?, a),
        ContainerVerb::Attach(a) => containers::attach(&engine()?, a),
        ContainerVerb::Exec(a) => lifecycle::exec(&starts()?, a),
        ContainerVerb::Cp(a) => cp::cp(&engine()?, a),
        ContainerVerb::Diff(a) => lifecycle::diff(&engine()?, a),
        ContainerVerb::Stats(a) => lifecycle::stats(&engine()?, a),
        ContainerVerb::Rename(a) => lifecycle::rename(&engine()?, a),
        ContainerVerb::Top(a) => lifecycle::top(&engine()?, a),
        ContainerVerb::Port(a) => lifecycle::port(&engine()?, a),
        ContainerVerb::Pause(a) => lifecycle::pause(&engine()?, a, true),
        ContainerVerb::Unpause(a) => lifecycle::pause(&engine()?, a, false),
        ContainerVerb::Stop(a) => lifecycle::stop(&engine()?, a),
        ContainerVerb::Kill(a) => lifecycle::kill(&engine()?, a),
        ContainerVerb::Restart(a) => lifecycle::restart(&starts()?, a),
        ContainerVerb::Wait(a) => lifecycle::wait(&engine()?, a),
        ContainerVerb::Logs(a) => lifecycle::logs(&engine()?, a),
        ContainerVerb::Rm(a) => containers::rm(&engine()?, a),
    }
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Format output with a Go template or 'json'.
    #[arg(short, long, value_name = "FORMAT")]
    pub format: Option<String>,
}

fn info(engine: &Engine, args: InfoArgs) -> Result<i32, Error> {
    if let Some(f) = args.format.as_deref().filter(|f| *f != "json") {
        format::check_one(f).map_err(format::usage_error)?;
    }
    let value = engine.info()?;
    let mut out = std::io::stdout().lock();
    match args.format.as_deref() {
        Some("json") => {
            let _ = std::io::Write::write_all(
                &mut out,
                format!("{}\n", images::pretty(&value)).as_bytes(),
            );
        }
        Some(f) => {
            format::render_one(&value, f, &mut out).map_err(format::usage_error)?;
        }
        None => {
            let _ = std::io::Write::write_all(&mut out, yaml_like(&value, 0).as_bytes());
        }
    }
    Ok(0)
}

/// Podman prints info as YAML; this is the same shape without a YAML dependency.
fn yaml_like(v: &serde_json::Value, indent: usize) -> String {
    use serde_json::Value;
    let pad = "  ".repeat(indent);
    let mut out = String::new();
    if let Value::Object(map) = v {
        for (k, v) in map {
            match v {
                Value::Object(_) => {
                    out.push_str(&format!("{pad}{k}:\n{}", yaml_like(v, indent + 1)));
                }
                Value::Array(items) if items.iter().all(|i| i.is_object()) && !items.is_empty() => {
                    out.push_str(&format!("{pad}{k}:\n"));
                    for item in items {
                        let inner = yaml_like(item, indent + 2);
                        let inner =
                            inner.replacen(&"  ".repeat(indent + 2), &format!("{pad}  - "), 1);
                        out.push_str(&inner);
                    }
                }
                Value::String(s) => out.push_str(&format!("{pad}{k}: {s}\n")),
                other => out.push_str(&format!("{pad}{k}: {other}\n")),
            }
        }
    }
    out
}
