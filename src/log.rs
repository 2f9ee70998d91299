//! Debug logging for developers (`--log-level debug`): one line per step with the time since
//! start, on stderr. Quiet by default; nothing here is meant for users' eyes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

static DEBUG: AtomicBool = AtomicBool::new(false);
static START: OnceLock<Instant> = OnceLock::new();

/// Turns debug lines on or off; the clock starts at the first call.
pub fn init(debug: bool) {
    START.get_or_init(Instant::now);
    DEBUG.store(debug, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

/// Milliseconds since `init`.
pub fn elapsed_ms() -> f64 {
    START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1000.0
}

/// `debug!("pulled {}", x)` prints `DEBU[  12.3ms] pulled x` when debug logging is on.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => {
        if $crate::log::enabled() {
            eprintln!("DEBU[{:7.1}ms] {}", $crate::log::elapsed_ms(), format_args!($($arg)*));
        }
    };
}
