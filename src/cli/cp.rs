//! `skiff cp` / `skiff container cp`: which argument names a container (Docker's rule), and
//! the "Successfully copied" line Docker prints to a terminal.

use std::io::IsTerminal;
use std::path::Path;

use clap::Args;

use crate::engine::Engine;
use crate::engine::{CopyOptions, HostDest, HostSource};
use crate::Error;

#[derive(Args, Debug)]
pub struct CpArgs {
    /// Archive mode: keep the owners (uid/gid) of the copied files.
    #[arg(short, long)]
    pub archive: bool,
    /// Always follow a symbolic link given as SRC_PATH.
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// Print nothing on success (nothing is printed anyway unless stderr is a terminal).
    #[arg(short, long)]
    pub quiet: bool,
    /// CONTAINER:SRC_PATH, a local path, or - (a tar stream on stdin).
    #[arg(value_name = "SRC_PATH")]
    pub source: String,
    /// CONTAINER:DEST_PATH, a local path, or - (a tar stream on stdout).
    #[arg(value_name = "DEST_PATH")]
    pub destination: String,
}

/// Docker's `splitCpArg`: `NAME:PATH` names a container unless the argument is an absolute
/// path or starts with `.` (`./file:with:colons`).
pub fn split_cp_arg(arg: &str) -> (Option<&str>, &str) {
    if arg.starts_with('/') {
        return (None, arg);
    }
    match arg.split_once(':') {
        Some((container, path)) if !container.starts_with('.') => (Some(container), path),
        _ => (None, arg),
    }
}

pub fn cp(engine: &Engine, args: CpArgs) -> Result<i32, Error> {
    let opts = CopyOptions {
        archive: args.archive,
        follow_link: args.follow_link,
    };
    if args.source.is_empty() {
        return Err(Error::Invalid("source can not be empty".into()));
    }
    if args.destination.is_empty() {
        return Err(Error::Invalid("destination can not be empty".into()));
    }
    let (src_container, src) = split_cp_arg(&args.source);
    let (dst_container, dst) = split_cp_arg(&args.destination);
    let streamed = src == "-" || dst == "-";
    let copied = match (src_container, dst_container) {
        (Some(_), Some(_)) => {
            return Err(Error::Invalid(
                "copying between containers is not supported".into(),
            ))
        }
        (None, None) => {
            return Err(Error::Invalid(
                "must specify at least one container source".into(),
            ))
        }
        (Some(container), None) => {
            let mut stdout = std::io::stdout().lock();
            let dest = if dst == "-" {
                HostDest::Stream(&mut stdout)
            } else {
                HostDest::Path(Path::new(dst))
            };
            engine.copy_from_container(container, src, dest, &opts)?
        }
        (None, Some(container)) => {
            let mut stdin = std::io::stdin().lock();
            let source = if src == "-" {
                HostSource::Stream(&mut stdin)
            } else {
                HostSource::Path(Path::new(src))
            };
            engine.copy_to_container(source, container, dst, &opts)?
        }
    };
    for n in &copied.notices {
        eprintln!("Notice: {n}");
    }
    if !args.quiet && !streamed && std::io::stderr().is_terminal() {
        eprintln!(
            "Successfully copied {} to {}",
            super::human::size(copied.bytes),
            copied.dest
        );
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_arguments_are_told_apart_like_docker() {
        assert_eq!(split_cp_arg("web:/etc/hosts"), (Some("web"), "/etc/hosts"));
        assert_eq!(split_cp_arg("web:"), (Some("web"), ""));
        assert_eq!(split_cp_arg("/abs:olute"), (None, "/abs:olute"));
        assert_eq!(split_cp_arg("./rel:ative"), (None, "./rel:ative"));
        assert_eq!(split_cp_arg("plain"), (None, "plain"));
        assert_eq!(split_cp_arg("-"), (None, "-"));
    }
}
