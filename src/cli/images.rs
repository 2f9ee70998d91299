//! Image commands: `images`, `inspect`, `tag`, `rmi`, `image prune`, `image exists`, `history`.

use std::io::{self, Write};

use chrono::Utc;
use clap::Args;
use serde_json::{json, Value};

use super::format::{self, Column};
use super::human;
use crate::engine::PruneFilters;
use crate::engine::{short_hex, ImageFilters, ImageRow};
use crate::engine::{Engine, ObjectKind};
use crate::Error;

#[derive(Args, Debug)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images).
    #[arg(short, long)]
    pub all: bool,
    /// Only show image ids.
    #[arg(short, long)]
    pub quiet: bool,
    /// Show digests.
    #[arg(long)]
    pub digests: bool,
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter output (dangling=, reference=, before=, since=, label=).
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format output with a Go template, 'table', 'table TEMPLATE' or 'json'.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Show images of this repository[:tag] only.
    pub reference: Option<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output with a Go template or 'json'.
    #[arg(short, long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Only inspect objects of this type (image).
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    /// Display total file sizes (accepted for Docker compatibility).
    #[arg(short, long)]
    pub size: bool,
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct TagArgs {
    pub source: String,
    pub target: String,
}

#[derive(Args, Debug)]
pub struct RmiArgs {
    /// Force removal of an image referenced by several names.
    #[arg(short, long)]
    pub force: bool,
    /// Do not delete untagged parents (accepted for Docker compatibility).
    #[arg(long)]
    pub no_prune: bool,
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones.
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// Only images matching the filter (until=TIME, label=KEY[=VALUE], label!=KEY[=VALUE]).
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ExistsArgs {
    pub image: String,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Print sizes and dates in human readable format.
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub human: bool,
    /// Only show image ids.
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output with a Go template, 'table', 'table TEMPLATE' or 'json'.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    pub image: String,
}

const IMAGE_COLUMNS: &[Column] = &[
    Column {
        field: "Repository",
        heading: "REPOSITORY",
    },
    Column {
        field: "Tag",
        heading: "TAG",
    },
    Column {
        field: "Digest",
        heading: "DIGEST",
    },
    Column {
        field: "ID",
        heading: "IMAGE ID",
    },
    Column {
        field: "CreatedSince",
        heading: "CREATED",
    },
    Column {
        field: "CreatedAt",
        heading: "CREATED AT",
    },
    Column {
        field: "Size",
        heading: "SIZE",
    },
    Column {
        field: "VirtualSize",
        heading: "SIZE",
    },
    Column {
        field: "SharedSize",
        heading: "SHARED SIZE",
    },
    Column {
        field: "UniqueSize",
        heading: "UNIQUE SIZE",
    },
    Column {
        field: "Containers",
        heading: "CONTAINERS",
    },
    Column {
        field: "Labels",
        heading: "LABELS",
    },
];

pub fn list(engine: &Engine, args: ImagesArgs) -> Result<i32, Error> {
    let mut terms = args.filter.clone();
    if let Some(r) = &args.reference {
        terms.push(format!("reference={r}"));
    }
    let filters = ImageFilters::parse(&terms)?;
    let rows = engine.list_images(&filters)?;
    let mut out = io::stdout().lock();
    if args.quiet {
        let mut seen = Vec::new();
        for r in &rows {
            let id = shown_id(&r.id, args.no_trunc);
            if !seen.contains(&id) {
                let _ = writeln!(out, "{id}");
                seen.push(id);
            }
        }
        return Ok(0);
    }
    let now = Utc::now();
    let values: Vec<Value> = rows
        .iter()
        .map(|r| image_row(r, args.no_trunc, now))
        .collect();
    let default = if args.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    drop(out);
    super::common::print_rows(&values, args.format.as_deref(), default, IMAGE_COLUMNS)?;
    Ok(0)
}

fn shown_id(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        short_hex(id)
    }
}

fn image_row(r: &ImageRow, no_trunc: bool, now: chrono::DateTime<Utc>) -> Value {
    let labels = r
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    json!({
        "Containers": "N/A",
        "CreatedAt": r.created.map(go_time).unwrap_or_default(),
        "CreatedSince": r.created.map(|t| human::ago(t, now)).unwrap_or_else(|| "N/A".into()),
        "Digest": r.digest,
        "ID": shown_id(&r.id, no_trunc),
        "Labels": labels,
        "Repository": r.repository,
        "SharedSize": "N/A",
        "Size": human::size(r.size),
        "Tag": r.tag,
        "UniqueSize": "N/A",
        "VirtualSize": human::size(r.size),
    })
}

/// Go's `time.Time.String()` for UTC, as Docker prints CreatedAt.
fn go_time(t: chrono::DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()
}

pub fn inspect(engine: &Engine, args: InspectArgs) -> Result<i32, Error> {
    let kind = args.kind.as_deref().unwrap_or("");
    if !["", "image", "container"].contains(&kind) {
        return Err(Error::Invalid(format!(
            "invalid --type {kind:?}: use container or image"
        )));
    }
    if let Some(f) = args.format.as_deref().filter(|f| !["", "json"].contains(f)) {
        format::check_one(f).map_err(format::usage_error)?;
    }
    let mut found = Vec::new();
    let mut failed = false;
    for name in &args.names {
        // Containers first, as Docker looks them up.
        let result = match kind {
            "image" => engine.inspect_image(name),
            "container" => engine.inspect_container(name),
            _ => match engine.inspect_container(name) {
                Err(e) if e.is_not_found(ObjectKind::Container) => engine.inspect_image(name),
                other => other,
            },
        };
        match result {
            Ok(v) => found.push(v),
            Err(Error::NotFound { .. }) => {
                eprintln!("Error: No such object: {name}");
                failed = true;
            }
            Err(e) => return Err(e),
        }
    }
    let mut out = io::stdout().lock();
    match args.format.as_deref() {
        None | Some("") => {
            let _ = writeln!(out, "{}", pretty(&Value::Array(found)));
        }
        Some("json") => {
            let _ = writeln!(out, "{}", Value::Array(found));
        }
        Some(f) => {
            for v in &found {
                format::render_one(v, f, &mut out).map_err(format::usage_error)?;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

/// Docker indents inspect output with four spaces.
pub fn pretty(v: &Value) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(v, &mut ser).expect("a JSON value serialises");
    String::from_utf8(buf).expect("JSON is UTF-8")
}

pub fn tag(engine: &Engine, args: TagArgs) -> Result<i32, Error> {
    engine.tag(&args.source, &args.target)?;
    Ok(0)
}

pub fn rmi(engine: &Engine, args: RmiArgs) -> Result<i32, Error> {
    let mut status = 0;
    let mut out = io::stdout().lock();
    for name in &args.images {
        match engine.remove_image(name, args.force) {
            Ok(r) => {
                for u in &r.untagged {
                    let _ = writeln!(out, "Untagged: {u}");
                }
                for d in &r.deleted {
                    let _ = writeln!(out, "Deleted: {d}");
                }
            }
            Err(e) => status = super::common::failed_name(status, &e),
        }
    }
    Ok(status)
}

pub fn prune(engine: &Engine, args: PruneArgs) -> Result<i32, Error> {
    let filters = PruneFilters::parse(&args.filter, Utc::now())?;
    if !args.force {
        let warning = if args.all {
            "WARNING! This will remove all images without at least one container associated to them."
        } else {
            "WARNING! This will remove all dangling images."
        };
        if !super::common::confirm(warning) {
            return Ok(0);
        }
    }
    let r = engine.prune_images(args.all, &filters)?;
    let mut out = io::stdout().lock();
    if !r.untagged.is_empty() || !r.deleted.is_empty() {
        let _ = writeln!(out, "Deleted Images:");
        for u in &r.untagged {
            let _ = writeln!(out, "untagged: {u}");
        }
        for d in &r.deleted {
            let _ = writeln!(out, "deleted: {d}");
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "Total reclaimed space: {}", human::size(r.reclaimed));
    Ok(0)
}

pub fn exists(engine: &Engine, args: ExistsArgs) -> Result<i32, Error> {
    Ok(if engine.image_exists(&args.image)? {
        0
    } else {
        1
    })
}

const HISTORY_COLUMNS: &[Column] = &[
    Column {
        field: "ID",
        heading: "IMAGE",
    },
    Column {
        field: "CreatedSince",
        heading: "CREATED",
    },
    Column {
        field: "CreatedAt",
        heading: "CREATED AT",
    },
    Column {
        field: "CreatedBy",
        heading: "CREATED BY",
    },
    Column {
        field: "Size",
        heading: "SIZE",
    },
    Column {
        field: "Comment",
        heading: "COMMENT",
    },
];

pub fn history(engine: &Engine, args: HistoryArgs) -> Result<i32, Error> {
    let rows = engine.history(&args.image)?;
    let mut out = io::stdout().lock();
    if args.quiet {
        for r in &rows {
            let _ = writeln!(out, "{}", shown_id(&r.id, args.no_trunc));
        }
        return Ok(0);
    }
    let now = Utc::now();
    let values: Vec<Value> = rows
        .iter()
        .map(|r| {
            let id = if r.id.starts_with("sha256:") {
                shown_id(&r.id, args.no_trunc)
            } else {
                r.id.clone()
            };
            let created_by = if args.no_trunc {
                r.created_by.clone()
            } else {
                truncate(&r.created_by.replace('\t', " "), 45)
            };
            let since = match (r.created, args.human) {
                (Some(t), true) => human::ago(t, now),
                (Some(t), false) => t.to_rfc3339(),
                (None, _) => "N/A".into(),
            };
            let size = if args.human {
                human::size(r.size)
            } else {
                r.size.to_string()
            };
            json!({
                "ID": id,
                "CreatedSince": since,
                "CreatedAt": r.created.map(|t| t.to_rfc3339()).unwrap_or_default(),
                "CreatedBy": created_by,
                "Size": size,
                "Comment": r.comment,
            })
        })
        .collect();
    drop(out);
    super::common::print_rows(
        &values,
        args.format.as_deref(),
        "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
        HISTORY_COLUMNS,
    )?;
    Ok(0)
}

/// Docker's `stringutils.Ellipsis`: at most `max` characters, the last one `…` when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}
