//! How a started process tells its starter that its start failed: a failure is an exit code
//! and a message, written to a report socket whose other end the starter reads. A successful
//! exec closes the socket (it is close-on-exec) with nothing written.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

/// Exit status when the runtime itself fails.
pub const EXIT_RUNTIME: i32 = 125;

/// Why a start failed: the exit code to end with and the message for the user.
pub(super) type Failure = (i32, String);

pub(super) fn fail(what: &str, e: impl std::fmt::Display) -> Failure {
    (EXIT_RUNTIME, format!("{what}: {e}"))
}

/// The starter's end of a report socket: closed by the started process's exec (success), or
/// carrying `CODE:MESSAGE` when it failed before.
pub(super) fn read_report(report: &mut UnixStream) -> Option<(i32, String)> {
    let mut text = String::new();
    let _ = report.read_to_string(&mut text);
    let (code, message) = text.split_once(':')?;
    Some((code.parse().unwrap_or(EXIT_RUNTIME), message.to_string()))
}

/// The started process's end: reports `failure` and exits with its code.
pub(super) fn report_and_exit(mut report: UnixStream, failure: Failure) -> ! {
    let (code, message) = failure;
    let _ = write!(report, "{code}:{message}");
    crate::sys::exit_now(code)
}
