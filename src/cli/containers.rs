//! Container commands of the foreground life: `start -a`, `attach`, `rm`, `ps`.

use std::io::{self, Write};

use chrono::Utc;
use clap::Args;
use serde_json::{json, Value};

use super::format::Column;
use super::human;
use crate::engine::Engine;
use crate::engine::{parse_detach_keys, AttachOptions, DEFAULT_DETACH_KEYS};
use crate::engine::{ContainerRow, HealthStatus, Status};
use crate::Error;

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Attach to the container's output and wait for it (the foreground).
    #[arg(short, long)]
    pub attach: bool,
    /// Attach stdin too.
    #[arg(short, long)]
    pub interactive: bool,
    /// Keys that detach, leaving the container running (default ctrl-p,ctrl-q).
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Keys that detach, leaving the container running (default ctrl-p,ctrl-q).
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Don't pass stdin on.
    #[arg(long)]
    pub no_stdin: bool,
    /// Pass the signals skiff receives on to the container (not with a terminal).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub sig_proxy: bool,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Kill a running container first.
    #[arg(short, long)]
    pub force: bool,
    /// Remove anonymous volumes too (containers have none yet).
    #[arg(short, long)]
    pub volumes: bool,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default shows running ones).
    #[arg(short, long)]
    pub all: bool,
    /// Only show ids.
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output with a Go template, 'table', 'table TEMPLATE' or 'json'.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Show the latest created container.
    #[arg(short, long)]
    pub latest: bool,
    /// Show the N last created containers.
    #[arg(short = 'n', long, value_name = "N")]
    pub last: Option<usize>,
    /// Filter output: status=, name=, id=, label=KEY[=VALUE], ancestor=, exited=, before=,
    /// since= (repeat a key for either value).
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Show the size each container wrote (and of its image).
    #[arg(short, long)]
    pub size: bool,
}

pub fn start(engine: &Engine, args: StartArgs) -> Result<i32, Error> {
    if !args.attach && !args.interactive {
        let mut status = 0;
        for name in &args.containers {
            match engine.start_detached(name, &super::run::notice) {
                Ok(_) => println!("{name}"),
                Err(e) => status = super::common::failed_name(status, &e),
            }
        }
        return Ok(status);
    }
    let [name] = args.containers.as_slice() else {
        return Err(Error::Invalid(
            "you cannot start and attach multiple containers at once".into(),
        ));
    };
    let record = engine.find_container(name)?;
    let stdin = args.interactive && record.interactive;
    let opts = attach_options(args.detach_keys.as_deref(), stdin, record.sig_proxy)?;
    if stdin && record.tty && !rustix::termios::isatty(io::stdin()) {
        return Err(Error::Invalid("the input device is not a TTY".into()));
    }
    engine.start_and_attach(&record.id, &opts, &super::run::notice)
}

/// `skiff attach`: the running container's output (and stdin, when it has one) here.
pub fn attach(engine: &Engine, args: AttachArgs) -> Result<i32, Error> {
    let record = engine.find_container(&args.container)?;
    let stdin = record.interactive && !args.no_stdin;
    let opts = attach_options(args.detach_keys.as_deref(), stdin, args.sig_proxy)?;
    // As Docker: a terminal's input can't come from a pipe or file.
    if stdin && record.tty && !rustix::termios::isatty(io::stdin()) {
        return Err(Error::Invalid("the input device is not a TTY".into()));
    }
    engine.attach(&record.id, &opts)
}

fn attach_options(
    keys: Option<&str>,
    stdin: bool,
    sig_proxy: bool,
) -> Result<AttachOptions, Error> {
    Ok(AttachOptions {
        stdin,
        detach_keys: parse_detach_keys(keys.unwrap_or(DEFAULT_DETACH_KEYS))?,
        sig_proxy,
    })
}

pub fn rm(engine: &Engine, args: RmArgs) -> Result<i32, Error> {
    let mut status = 0;
    for name in &args.containers {
        match engine.remove_container(name, args.force) {
            Ok(_) => println!("{name}"),
            Err(e) => status = super::common::failed_name(status, &e),
        }
    }
    Ok(status)
}

const PS_COLUMNS: &[Column] = &[
    Column {
        field: "ID",
        heading: "CONTAINER ID",
    },
    Column {
        field: "Image",
        heading: "IMAGE",
    },
    Column {
        field: "Command",
        heading: "COMMAND",
    },
    Column {
        field: "CreatedAt",
        heading: "CREATED AT",
    },
    Column {
        field: "RunningFor",
        heading: "CREATED",
    },
    Column {
        field: "Status",
        heading: "STATUS",
    },
    Column {
        field: "State",
        heading: "STATE",
    },
    Column {
        field: "Ports",
        heading: "PORTS",
    },
    Column {
        field: "Names",
        heading: "NAMES",
    },
    Column {
        field: "Labels",
        heading: "LABELS",
    },
    Column {
        field: "Mounts",
        heading: "MOUNTS",
    },
    Column {
        field: "Size",
        heading: "SIZE",
    },
];

pub fn ps(engine: &Engine, args: PsArgs) -> Result<i32, Error> {
    let filters = crate::engine::PsFilters::parse(&args.filter)?;
    let mut rows = engine.list_containers(
        args.all || args.latest || args.last.is_some(),
        &filters,
        args.size,
    )?;
    if args.latest {
        rows.truncate(1);
    }
    if let Some(n) = args.last {
        rows.truncate(n);
    }
    let mut out = io::stdout().lock();
    if args.quiet {
        for r in &rows {
            let _ = writeln!(out, "{}", short(&r.id, args.no_trunc));
        }
        return Ok(0);
    }
    let now = Utc::now();
    let values: Vec<Value> = rows.iter().map(|r| row(r, args.no_trunc, now)).collect();
    drop(out);
    let default = if args.size {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}"
    } else {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
    };
    super::common::print_rows(&values, args.format.as_deref(), default, PS_COLUMNS)?;
    Ok(0)
}

fn short(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        id.chars().take(12).collect()
    }
}

fn row(r: &ContainerRow, no_trunc: bool, now: chrono::DateTime<Utc>) -> Value {
    let command = if no_trunc {
        r.command.clone()
    } else {
        ellipsis(&r.command, 20)
    };
    let status = match r.status {
        Status::Running => {
            let up = format!("Up {}", human::duration(now - r.started.unwrap_or(now)));
            match r.health {
                Some(HealthStatus::Starting) => format!("{up} (health: starting)"),
                Some(h) => format!("{up} ({})", h.as_str()),
                None => up,
            }
        }
        Status::Restarting => format!(
            "Restarting ({}) {}",
            r.exit_code,
            human::ago(r.finished.unwrap_or(now), now)
        ),
        Status::Exited => format!(
            "Exited ({}) {}",
            r.exit_code,
            human::ago(r.finished.unwrap_or(now), now)
        ),
        Status::Created => "Created".to_string(),
    };
    json!({
        "ID": short(&r.id, no_trunc),
        "Image": r.image,
        "Command": format!("{command:?}"),
        "CreatedAt": r.created.map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()).unwrap_or_default(),
        "RunningFor": r.created.map(|t| human::ago(t, now)).unwrap_or_default(),
        "Status": status,
        "State": r.status.as_str(),
        "Ports": r.ports,
        "Names": r.name,
        "Labels": r.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        "Mounts": r.mounts.join(","),
        "Size": r.size.map(|(own, image)| format!(
            "{} (virtual {})",
            human::size(own),
            human::size(own + image)
        )).unwrap_or_default(),
    })
}

/// Docker's `stringutils.Ellipsis`.
fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}
