//! `skiff pull`: flags and Docker's progress output (redrawn lines on a terminal, plain status
//! lines otherwise, only the image id with `-q`).

use std::io::{self, Write};
use std::os::fd::AsFd;
use std::sync::Mutex;
use std::time::Instant;

use clap::Args;

use super::common::{parse_creds, TlsArgs};
use super::human;
use crate::engine::Engine;
use crate::engine::PlatformSpec;
use crate::engine::{LayerStatus, Notice, PullEvent, PullOptions};
use crate::Error;

#[derive(Args, Debug)]
pub struct PullArgs {
    /// Download all tagged images in the repository.
    #[arg(short = 'a', long)]
    pub all_tags: bool,
    /// Print only the image id.
    #[arg(short, long)]
    pub quiet: bool,
    /// Choose a platform from a multi-platform image (os/arch[/variant]).
    #[arg(long, value_name = "PLATFORM", env = "DOCKER_DEFAULT_PLATFORM")]
    pub platform: Option<String>,
    /// Choose an architecture (overrides the one in --platform).
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// Credentials for the registry (USERNAME[:PASSWORD]).
    #[arg(long, value_name = "USER[:PASS]")]
    pub creds: Option<String>,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Skip image verification (accepted for Docker compatibility; digests are always verified).
    #[arg(long, hide = true)]
    pub disable_content_trust: bool,
    /// The image to pull: NAME[:TAG|@DIGEST].
    pub name: String,
}

pub fn pull(engine: &Engine, args: PullArgs) -> Result<i32, Error> {
    let mut platform = match &args.platform {
        Some(p) => Some(PlatformSpec::parse(p).map_err(Error::Invalid)?),
        None => None,
    };
    if let Some(arch) = &args.arch {
        platform = Some(platform.unwrap_or_else(PlatformSpec::host).with_arch(arch));
    }
    let opts = PullOptions {
        all_tags: args.all_tags,
        platform,
        tls_verify: args.tls.tls_verify,
        creds: args.creds.as_deref().map(parse_creds).transpose()?,
    };
    let tty = !args.quiet && crate::sys::is_terminal(io::stdout().as_fd());
    let printer = Mutex::new(Printer::new(tty, args.quiet));
    let has_tag = !args.all_tags && !args.name.contains('@') && !last_component_has_tag(&args.name);
    // Docker says nothing about tags for a name it cannot parse.
    Engine::check_reference(&args.name)?;
    if has_tag && !args.quiet {
        println!("Using default tag: latest");
    }
    let progress = |e: PullEvent| printer.lock().expect("printer").event(e);
    let notices = |n: Notice| eprintln!("Notice: {n}");
    let pulled = engine.pull(&args.name, &opts, &progress, &notices)?;
    let mut out = io::stdout().lock();
    for p in &pulled {
        if args.quiet {
            let _ = writeln!(out, "{}", p.image_id.trim_start_matches("sha256:"));
            continue;
        }
        let shown = p.reference.familiar();
        let _ = writeln!(out, "Digest: {}", p.digest);
        if p.downloaded {
            let _ = writeln!(out, "Status: Downloaded newer image for {shown}");
        } else {
            let _ = writeln!(out, "Status: Image is up to date for {shown}");
        }
        if !args.all_tags {
            let _ = writeln!(out, "{}", p.reference);
        }
    }
    if args.all_tags && !args.quiet {
        if let Some(p) = pulled.first() {
            let _ = writeln!(out, "{}", p.reference.repo_name());
        }
    }
    Ok(0)
}

fn last_component_has_tag(name: &str) -> bool {
    name.rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':'))
}

/// Draws pull events the way `docker pull` does.
struct Printer {
    tty: bool,
    quiet: bool,
    /// Layer lines on screen (terminal mode), in order.
    lines: Vec<(String, String)>,
    started: Vec<(String, Instant)>,
}

impl Printer {
    fn new(tty: bool, quiet: bool) -> Printer {
        Printer {
            tty,
            quiet,
            lines: Vec::new(),
            started: Vec::new(),
        }
    }

    fn event(&mut self, e: PullEvent) {
        if self.quiet {
            return;
        }
        match e {
            PullEvent::Pulling { tag, repository } => {
                self.lines.clear();
                println!("{tag}: Pulling from {repository}");
            }
            PullEvent::Layer { id, status } => {
                let text = self.layer_text(&id, &status);
                if self.tty {
                    self.draw(&id, &text);
                } else if !matches!(status, LayerStatus::Downloading { .. }) {
                    println!("{id}: {text}");
                }
            }
        }
        let _ = io::stdout().flush();
    }

    fn layer_text(&mut self, id: &str, status: &LayerStatus) -> String {
        match status {
            LayerStatus::AlreadyExists => "Already exists".into(),
            LayerStatus::Waiting => "Pulling fs layer".into(),
            LayerStatus::Complete => "Pull complete".into(),
            LayerStatus::Downloading { current, total } => {
                let start = match self.started.iter().find(|(i, _)| i == id) {
                    Some((_, t)) => *t,
                    None => {
                        self.started.push((id.to_string(), Instant::now()));
                        Instant::now()
                    }
                };
                let secs = start.elapsed().as_secs_f64().max(0.001);
                let speed = human::size((*current as f64 / secs) as u64);
                format!(
                    "Downloading {} {}/{} {speed}/s",
                    bar(*current, *total),
                    human::size(*current),
                    human::size(*total)
                )
            }
        }
    }

    /// Rewrites the layer's line in place, or adds it at the bottom.
    fn draw(&mut self, id: &str, text: &str) {
        let mut out = io::stdout().lock();
        match self.lines.iter().position(|(i, _)| i == id) {
            Some(k) => {
                let up = self.lines.len() - k;
                self.lines[k].1 = text.to_string();
                let _ = write!(out, "\x1b[{up}A\r\x1b[2K{id}: {text}\r\x1b[{up}B");
            }
            None => {
                self.lines.push((id.to_string(), text.to_string()));
                let _ = writeln!(out, "{id}: {text}");
            }
        }
    }
}

/// Docker's 50-character progress bar.
fn bar(current: u64, total: u64) -> String {
    let width = 50usize;
    let filled = if total == 0 {
        width
    } else {
        ((current as f64 / total as f64) * width as f64) as usize
    }
    .min(width);
    let mut s = String::with_capacity(width + 2);
    s.push('[');
    for i in 0..width {
        s.push(if i + 1 < filled {
            '='
        } else if i + 1 == filled {
            '>'
        } else {
            ' '
        });
    }
    s.push(']');
    s
}
