//! `stop`, `kill`, `wait`, `restart`, `logs`: the detached life of a container.

use std::io::{self, BufRead, Write};
use std::time::Duration;

use clap::Args;

use crate::engine::Engine;
use crate::engine::{parse_log_line, write_entry};
use crate::Error;

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait before killing the container (default: its --stop-timeout, else 10).
    #[arg(short = 't', long = "time", alias = "timeout", value_name = "SECONDS")]
    pub time: Option<u32>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal to send.
    #[arg(short, long, value_name = "SIGNAL", default_value = "KILL")]
    pub signal: String,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct WaitArgs {
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow the log until the container stops.
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines from the end ("all" for every line).
    #[arg(short = 'n', long, value_name = "N", default_value = "all")]
    pub tail: String,
    /// Only entries since a time (RFC 3339, a Unix time, or a duration such as 10m).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only entries before a time (as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Show timestamps.
    #[arg(short, long)]
    pub timestamps: bool,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Keep stdin open.
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-terminal.
    #[arg(short, long)]
    pub tty: bool,
    /// Run the command in the background.
    #[arg(short, long)]
    pub detach: bool,
    /// Set environment variables (KEY=VALUE, or KEY to pass skiff's own value).
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read environment variables from a file.
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<std::path::PathBuf>,
    /// User to run as: name|uid[:group|gid].
    #[arg(short, long, value_name = "USER")]
    pub user: Option<String>,
    /// Working directory inside the container.
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// Every capability and no seccomp filter for this command.
    #[arg(long)]
    pub privileged: bool,
    /// Keys that detach from the command (not supported yet: an exec'd command ends with
    /// skiff's session; only `attach` and `start -a` detach).
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub fn exec(engine: &Engine, args: ExecArgs) -> Result<i32, Error> {
    if args.detach_keys.is_some() {
        return Err(Error::NotSupported("exec --detach-keys".into()));
    }
    if args.tty && !args.detach && !rustix::termios::isatty(io::stdin()) {
        return Err(Error::Invalid("the input device is not a TTY".into()));
    }
    let mut env = super::run::read_env_files(&args.env_file)?;
    crate::engine::options::check_env(&args.env, "-e")?;
    env.extend(args.env);
    if let Some(workdir) = &args.workdir {
        crate::engine::options::check_workdir(workdir)?;
    }
    let opts = crate::engine::ExecOptions {
        command: args.command,
        interactive: args.interactive,
        tty: args.tty,
        detach: args.detach,
        env,
        workdir: args.workdir,
        user: args.user,
        privileged: args.privileged,
    };
    engine.exec(&args.container, &opts)
}

#[derive(Args, Debug)]
pub struct RenameArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(value_name = "NEW_NAME")]
    pub name: String,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// Only containers matching the filter (until=TIME, label=KEY[=VALUE], label!=KEY[=VALUE]).
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
}

#[derive(Args, Debug)]
pub struct TopArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// ps options (only the default -ef columns are shown).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_options: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PortArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// PRIVATE_PORT[/PROTO]
    pub port: Option<String>,
}

#[derive(Args, Debug)]
pub struct PauseArgs {
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

pub fn diff(engine: &Engine, args: DiffArgs) -> Result<i32, Error> {
    for (kind, path) in engine.diff(&args.container)? {
        println!("{kind} {path}");
    }
    Ok(0)
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Show every container (default: the running ones).
    #[arg(short, long)]
    pub all: bool,
    /// Print one sample and exit.
    #[arg(long)]
    pub no_stream: bool,
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output with a Go template, 'table', 'table TEMPLATE' or 'json'.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

const STATS_COLUMNS: &[super::format::Column] = &[
    super::format::Column {
        field: "ID",
        heading: "CONTAINER ID",
    },
    super::format::Column {
        field: "Container",
        heading: "CONTAINER",
    },
    super::format::Column {
        field: "Name",
        heading: "NAME",
    },
    super::format::Column {
        field: "CPUPerc",
        heading: "CPU %",
    },
    super::format::Column {
        field: "MemUsage",
        heading: "MEM USAGE / LIMIT",
    },
    super::format::Column {
        field: "MemPerc",
        heading: "MEM %",
    },
    super::format::Column {
        field: "NetIO",
        heading: "NET I/O",
    },
    super::format::Column {
        field: "BlockIO",
        heading: "BLOCK I/O",
    },
    super::format::Column {
        field: "PIDs",
        heading: "PIDS",
    },
];

/// `stats`: one sample with `--no-stream`, else a new one every second until interrupted
/// (on a terminal the screen is redrawn, as Docker does; elsewhere the tables follow each
/// other). A closed output ends it quietly.
pub fn stats(engine: &Engine, args: StatsArgs) -> Result<i32, Error> {
    let _ = args.all; // stopped containers have no processes to sample: they are left out
    let terminal = rustix::termios::isatty(io::stdout());
    let sample = Duration::from_millis(if args.no_stream { 500 } else { 1000 });
    loop {
        let mut text = Vec::new();
        if !args.no_stream && terminal {
            text.extend_from_slice(b"\x1b[2J\x1b[H");
        }
        stats_table(engine, &args, sample, &mut text)?;
        let mut out = io::stdout().lock();
        if out.write_all(&text).and_then(|()| out.flush()).is_err() || args.no_stream {
            return Ok(0);
        }
    }
}

fn stats_table(
    engine: &Engine,
    args: &StatsArgs,
    sample: Duration,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let rows = engine.stats(&args.containers, sample)?;
    let size = |b: u64| super::human::size(b);
    let values: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let id = if args.no_trunc { r.id.clone() } else { r.id[..12].to_string() };
            serde_json::json!({
                "ID": id,
                "Container": id,
                "Name": r.name,
                "CPUPerc": format!("{:.2}%", r.cpu_percent),
                "MemUsage": format!("{} / {}", binary_size(r.mem_usage), binary_size(r.mem_limit)),
                "MemPerc": format!("{:.2}%", r.mem_usage as f64 / r.mem_limit.max(1) as f64 * 100.0),
                "NetIO": format!("{} / {}", size(r.net.0), size(r.net.1)),
                "BlockIO": format!("{} / {}", size(r.block.0), size(r.block.1)),
                "PIDs": r.pids.to_string(),
            })
        })
        .collect();
    super::common::render_rows(
        &values,
        args.format.as_deref(),
        "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}",
        STATS_COLUMNS,
        out,
    )
}

/// Docker's `units.BytesSize`: binary units, four significant digits (Go's `%.4g`).
fn binary_size(bytes: u64) -> String {
    const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let digits = if value >= 1000.0 {
        0
    } else if value >= 100.0 {
        1
    } else if value >= 10.0 {
        2
    } else {
        3
    };
    let text = format!("{value:.digits$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    format!("{text}{}", UNITS[unit])
}

pub fn rename(engine: &Engine, args: RenameArgs) -> Result<i32, Error> {
    engine.rename_container(&args.container, &args.name)?;
    Ok(0)
}

pub fn prune(engine: &Engine, args: PruneArgs) -> Result<i32, Error> {
    let filters = crate::engine::PruneFilters::parse(&args.filter, chrono::Utc::now())?;
    if !args.force && !super::common::confirm("WARNING! This will remove all stopped containers.") {
        return Ok(0);
    }
    let (removed, freed) = engine.prune_containers(&filters)?;
    if !removed.is_empty() {
        println!("Deleted Containers:");
        for id in &removed {
            println!("{id}");
        }
        println!();
    }
    println!("Total reclaimed space: {}", super::human::size(freed));
    Ok(0)
}

pub fn top(engine: &Engine, args: TopArgs) -> Result<i32, Error> {
    if !args.ps_options.is_empty() && args.ps_options != ["-ef"] {
        return Err(Error::NotSupported(format!(
            "top with ps options {:?} (the default columns are shown without)",
            args.ps_options.join(" ")
        )));
    }
    let rows = engine.top(&args.container)?;
    let mut text = String::from("UID\tPID\tPPID\tC\tSTIME\tTTY\tTIME\tCMD\n");
    for r in rows {
        text.push_str(&r.join("\t"));
        text.push('\n');
    }
    print!("{}", super::format::align_columns(&text));
    Ok(0)
}

pub fn port(engine: &Engine, args: PortArgs) -> Result<i32, Error> {
    let record = engine.find_container(&args.container)?;
    let only = match &args.port {
        None => None,
        Some(p) => {
            let (range, protocol) = crate::engine::parse_expose(p)?;
            if range.first != range.last {
                return Err(Error::Invalid(format!(
                    "invalid port '{p}': give one container port, as 80 or 80/udp"
                )));
            }
            Some((range.first, protocol))
        }
    };
    let lines = crate::engine::port_lines(&record.state.ports, only);
    if let (Some((port, protocol)), true) = (only, lines.is_empty()) {
        // Docker's words and status.
        eprintln!(
            "Error: No public port '{port}/{protocol}' published for {}",
            record.name
        );
        return Ok(1);
    }
    for line in lines {
        println!("{line}");
    }
    Ok(0)
}

pub fn pause(engine: &Engine, args: PauseArgs, frozen: bool) -> Result<i32, Error> {
    Ok(for_each(&args.containers, |n| engine.freeze(n, frozen)))
}

/// Runs `each` for every name, printing the name on success, as Docker does; 125 if any failed.
fn for_each(names: &[String], mut each: impl FnMut(&str) -> Result<(), Error>) -> i32 {
    let mut status = 0;
    for name in names {
        match each(name) {
            Ok(()) => println!("{name}"),
            Err(e) => status = super::common::failed_name(status, &e),
        }
    }
    status
}

pub fn stop(engine: &Engine, args: StopArgs) -> Result<i32, Error> {
    Ok(for_each(&args.containers, |n| {
        engine.stop_container(n, args.time).map(|_| ())
    }))
}

pub fn kill(engine: &Engine, args: KillArgs) -> Result<i32, Error> {
    Ok(for_each(&args.containers, |n| {
        engine.kill_container(n, &args.signal).map(|_| ())
    }))
}

pub fn restart(engine: &Engine, args: StopArgs) -> Result<i32, Error> {
    Ok(for_each(&args.containers, |n| {
        engine.stop_container(n, args.time)?;
        engine.start_detached(n, &super::run::notice).map(|_| ())
    }))
}

pub fn wait(engine: &Engine, args: WaitArgs) -> Result<i32, Error> {
    let mut status = 0;
    for name in &args.containers {
        match engine.wait_container(name) {
            Ok(code) => println!("{code}"),
            Err(e) => status = super::common::failed_name(status, &e),
        }
    }
    Ok(status)
}

/// `--since`/`--until`: RFC 3339, Unix seconds, or a duration back from now.
fn parse_time(
    text: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, Error> {
    crate::engine::duration::parse_moment(text, now)
}

pub fn logs(engine: &Engine, args: LogsArgs) -> Result<i32, Error> {
    let now = chrono::Utc::now();
    let since = args
        .since
        .as_deref()
        .map(|t| parse_time(t, now))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|t| parse_time(t, now))
        .transpose()?;
    let tail: Option<usize> = match args.tail.as_str() {
        "all" | "-1" => None,
        n => Some(n.parse().map_err(|_| {
            Error::Invalid(format!("invalid --tail {n:?}: a number of lines or all"))
        })?),
    };
    let record = engine.find_container(&args.container)?;
    let k8s = record.log.driver == "k8s-file";
    let files = engine.log_files(&record)?;
    let keep = |e: &crate::engine::LogEntry| {
        since.is_none_or(|s| e.time >= s) && until.is_none_or(|u| e.time <= u)
    };
    let mut entries = Vec::new();
    for f in &files[..files.len() - 1] {
        if let Ok(text) = std::fs::read_to_string(f) {
            entries.extend(text.lines().filter_map(|l| parse_log_line(l, k8s)));
        }
    }
    let current = &files[files.len() - 1];
    let mut reader = std::fs::File::open(current).ok().map(io::BufReader::new);
    let mut line = String::new();
    if let Some(r) = reader.as_mut() {
        while r.read_line(&mut line).unwrap_or(0) > 0 {
            if line.ends_with('\n') {
                entries.extend(parse_log_line(line.trim_end_matches('\n'), k8s));
                line.clear();
            }
        }
    }
    entries.retain(keep);
    if let Some(n) = tail {
        let skip = entries.len().saturating_sub(n);
        entries.drain(..skip);
    }
    let (mut out, mut err) = (io::stdout().lock(), io::stderr().lock());
    let mut show = |e: &crate::engine::LogEntry| -> io::Result<()> {
        if e.stream == "stderr" {
            write_entry(&mut err, e, args.timestamps)
        } else {
            write_entry(&mut out, e, args.timestamps)?;
            out.flush()
        }
    };
    for e in &entries {
        if show(e).is_err() {
            return Ok(0);
        }
    }
    if !args.follow {
        return Ok(0);
    }
    // Follow: new lines as the monitor appends them, until the container is no longer running
    // (and what it wrote last has been read).
    let mut reader = match reader {
        Some(r) => r,
        None => return Ok(0),
    };
    loop {
        let alive = engine
            .find_container(&record.id)
            .map(|r| engine.container_alive(&r))
            .unwrap_or(false);
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            if !line.ends_with('\n') {
                continue;
            }
            if let Some(e) = parse_log_line(line.trim_end_matches('\n'), k8s) {
                if until.is_some_and(|u| e.time > u) {
                    return Ok(0);
                }
                if keep(&e) && show(&e).is_err() {
                    return Ok(0);
                }
            }
            line.clear();
        }
        if !alive {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_sizes() {
        assert_eq!(binary_size(0), "0B");
        assert_eq!(binary_size(64 * 1024 * 1024), "64MiB");
        assert_eq!(binary_size(1_474_560), "1.406MiB");
        assert_eq!(binary_size(1536), "1.5KiB");
    }

    #[test]
    fn times() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:10:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            parse_time("10m", now).unwrap().to_rfc3339(),
            "2026-01-01T00:00:00+00:00"
        );
        assert_eq!(parse_time("0", now).unwrap().timestamp(), 0);
        assert_eq!(
            parse_time("2026-01-01T00:05:00Z", now)
                .unwrap()
                .to_rfc3339(),
            "2026-01-01T00:05:00+00:00"
        );
        assert!(parse_time("soon", now).is_err());
    }
}

#[derive(Args, Debug)]
pub struct HealthcheckArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// `healthcheck run`: as Podman, 0 when the check passed, "unhealthy" and 1 when it failed.
pub fn healthcheck(engine: &Engine, args: HealthcheckArgs) -> Result<i32, Error> {
    let health = engine.run_health_check(&args.container)?;
    if health.log.last().is_some_and(|r| r.exit_code == 0) {
        return Ok(0);
    }
    println!("unhealthy");
    Ok(1)
}
