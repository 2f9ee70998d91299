//! What the command line's commands share: listing output, the exit status of commands that
//! act on several names, prompts and secrets read from the terminal, and the TLS and
//! credential flags of the registry commands.

use clap::Args;

use super::format;
use crate::Error;

/// Exit status when skiff itself fails (Docker's).
pub const EXIT_ENGINE: i32 = 125;

/// Docker's prune question; true when the answer is yes (no answer, as without stdin, is no).
pub fn confirm(warning: &str) -> bool {
    use std::io::{BufRead, Write};
    print!("{warning}\nAre you sure you want to continue? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    let yes = matches!(answer.trim().to_lowercase().as_str(), "y" | "yes");
    if !yes {
        println!();
    }
    yes
}

/// Prints listing rows with `--format` (Go template, `table …`, `json`), or `default_table`
/// when none is given (or just `table`).
pub fn print_rows(
    rows: &[serde_json::Value],
    user_format: Option<&str>,
    default_table: &str,
    columns: &[format::Column],
) -> Result<(), Error> {
    render_rows(
        rows,
        user_format,
        default_table,
        columns,
        &mut std::io::stdout().lock(),
    )
}

/// `print_rows` into any writer.
pub fn render_rows(
    rows: &[serde_json::Value],
    user_format: Option<&str>,
    default_table: &str,
    columns: &[format::Column],
    out: &mut impl std::io::Write,
) -> Result<(), Error> {
    let chosen = match user_format {
        None | Some("") | Some("table") => default_table,
        Some(f) => f,
    };
    format::render_list(rows, Some(chosen), &[], columns, out)
        .map_err(|e| Error::Invalid(e.to_string()))
}

/// Reports one failed name of a command that acts on several (`rm`, `rmi`, `stop`, …) and
/// returns the exit status so far. A name that matches nothing exits 1, as in Docker and in
/// Podman's `rm` and `rmi`, so that scripts can tell "already gone" from a failure; any other
/// error makes it 125.
pub fn failed_name(status: i32, e: &Error) -> i32 {
    eprintln!("Error: {}", one_line(&e.to_string()));
    let code = match e {
        Error::NotFound { .. } => 1,
        other => other.exit_code(),
    };
    status.max(code)
}

/// Errors are one line: a registry's multi-line body must not spill over several.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `--tls-verify` takes an optional value like Podman's (`--tls-verify`, `--tls-verify=false`).
#[derive(Args, Debug, Clone, Default)]
pub struct TlsArgs {
    /// Require HTTPS and verify certificates (default: true, except for loopback registries).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub tls_verify: Option<bool>,
}

/// Splits Podman's `--creds USER[:PASS]`.
pub fn parse_creds(s: &str) -> Result<crate::config::Credentials, Error> {
    let (user, pass) = s.split_once(':').unwrap_or((s, ""));
    if user.is_empty() {
        return Err(Error::Invalid("--creds needs USERNAME[:PASSWORD]".into()));
    }
    let password = if pass.is_empty() {
        read_secret("Password: ")?
    } else {
        pass.to_string()
    };
    Ok(crate::config::Credentials::new(user, password))
}

/// Reads a secret from the terminal without echo; refuses when there is no terminal.
pub fn read_secret(prompt: &str) -> Result<String, Error> {
    use std::io::{BufRead, Write};
    use std::os::fd::AsFd;
    let stdin = std::io::stdin();
    if !crate::sys::is_terminal(stdin.as_fd()) {
        return Err(Error::Invalid(
            "a password is needed but stdin is not a terminal: pass it with --password-stdin or -p"
                .into(),
        ));
    }
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let fd = stdin.as_fd();
    let saved = rustix::termios::tcgetattr(fd).ok();
    if let Some(mut t) = saved.clone() {
        t.local_modes.remove(rustix::termios::LocalModes::ECHO);
        let _ = rustix::termios::tcsetattr(fd, rustix::termios::OptionalActions::Now, &t);
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if let Some(t) = saved {
        let _ = rustix::termios::tcsetattr(fd, rustix::termios::OptionalActions::Now, &t);
    }
    eprintln!();
    read.map_err(|e| Error::Other(format!("reading password: {e}")))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}
