//! `skiff run` in the foreground.

use clap::Args;

use crate::engine::pull::PullEvent;
use crate::engine::run::{Network, PullPolicy, RunOptions};
use crate::engine::Engine;
use crate::Error;

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Print help (-h is --hostname, as in Docker).
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Remove the container when it exits (required for now: containers are not kept yet).
    #[arg(long)]
    pub rm: bool,
    /// Set environment variables (KEY=VALUE, or KEY to pass skiff's own value).
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read environment variables from a file (KEY=VALUE lines, # comments).
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<std::path::PathBuf>,
    /// Working directory inside the container (created if missing).
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// User to run as: name|uid[:group|gid].
    #[arg(short, long, value_name = "USER")]
    pub user: Option<String>,
    /// Override the image's entrypoint ("" clears it).
    #[arg(long, value_name = "CMD")]
    pub entrypoint: Option<String>,
    /// Container host name.
    #[arg(short = 'h', long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Network: none (loopback only, the default for now) or host.
    #[arg(
        long,
        visible_alias = "net",
        value_name = "MODE",
        default_value = "none"
    )]
    pub network: String,
    /// When to pull the image: always, missing or never.
    #[arg(long, value_name = "POLICY", default_value = "missing")]
    pub pull: String,
    /// The image.
    pub image: String,
    /// The command and its arguments (default: the image's).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub fn run(engine: &Engine, args: RunArgs) -> Result<i32, Error> {
    let network = match args.network.as_str() {
        "none" => Network::None,
        "host" => Network::Host,
        other => return Err(Error::NotSupported(format!("--network {other}"))),
    };
    let pull = match args.pull.as_str() {
        "always" => PullPolicy::Always,
        "missing" => PullPolicy::Missing,
        "never" => PullPolicy::Never,
        other => {
            return Err(Error::Invalid(format!(
                "invalid --pull {other:?}: expected always, missing or never"
            )))
        }
    };
    let mut env = Vec::new();
    for file in &args.env_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| Error::Invalid(format!("reading --env-file {}: {e}", file.display())))?;
        env.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string),
        );
    }
    env.extend(args.env);
    let opts = RunOptions {
        image: args.image,
        command: args.command,
        entrypoint: args.entrypoint,
        env,
        workdir: args.workdir,
        user: args.user,
        hostname: args.hostname,
        network,
        pull,
        remove: args.rm,
    };
    // A pull on the way goes to stderr, so that the container's output stays clean.
    let progress = |e: PullEvent| match e {
        PullEvent::Pulling { tag, repository } => eprintln!("{tag}: Pulling from {repository}"),
        PullEvent::Notice(n) => eprintln!("Notice: {n}"),
        PullEvent::Layer { .. } => {}
    };
    engine.run(&opts, &progress)
}
