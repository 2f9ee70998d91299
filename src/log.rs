//! Debug logging for developers (`--log-level debug`): the crate's `tracing::debug!` events,
//! one line per step with the time since start, on stderr (`DEBU[   12.3ms] pulled x`). Quiet
//! by default, and then free: no subscriber is installed, so each event costs one check of
//! tracing's global level. Nothing here is meant for users' eyes.
//!
//! The subscriber is written here rather than taken from `tracing-subscriber`: it needs one
//! fixed format and no spans, filters or layers, and the fmt layer's dependencies would add
//! to the start-up of every command for nothing.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

static DEBUG: AtomicBool = AtomicBool::new(false);
static START: OnceLock<Instant> = OnceLock::new();

/// Turns debug lines on (they cannot be turned off again); the clock starts at the first call.
pub fn init(debug: bool) {
    let start = *START.get_or_init(Instant::now);
    if debug && !DEBUG.swap(true, Ordering::Relaxed) {
        let _ = tracing::subscriber::set_global_default(Stderr { start });
    }
}

/// Whether debug lines are on (helpers started now are told to print theirs too).
pub fn enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

/// Prints each debug event as one line on stderr.
struct Stderr {
    start: Instant,
}

impl Subscriber for Stderr {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= Level::DEBUG
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::DEBUG)
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = Line(String::new());
        event.record(&mut line);
        let ms = self.start.elapsed().as_secs_f64() * 1000.0;
        eprintln!("DEBU[{ms:7.1}ms] {}", line.0);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// An event's message, then any other fields as `name=value`.
struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}
