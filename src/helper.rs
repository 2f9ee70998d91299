//! The hidden helper processes skiff starts of itself (`__monitor`, `__unpack`, `__rmtree`,
//! `__detect`): `main` hands over here before the command line is parsed, because a helper
//! started inside a user namespace must unshare before anything else happens (see
//! `runtime::userns`), and helpers never parse Docker's flags.

use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::engine::helpers::{DEBUG_ENV, DETECT_CMD, RMTREE_CMD, UNPACK_CMD};
use crate::engine::image::unpacker::Reply;
use crate::runtime::userns;
use crate::store::unpack::{self, IdLimits};

/// What `main` does first: `Some(status)` when this process is a helper (and has done its
/// work), `None` when it is a command for the CLI.
pub fn dispatch() -> Option<i32> {
    match userns::enter_if_helper() {
        Ok(lifeline) => {
            // Hidden helper commands also run directly (as root, or to debug one by hand).
            let args: Vec<String> = std::env::args().skip(1).collect();
            let (cmd, rest) = args
                .split_first()
                .map(|(c, r)| (c.as_str(), r))
                .unwrap_or(("", &[]));
            if cmd == "__generate" {
                return None;
            }
            if lifeline.is_some() || cmd.starts_with("__") {
                return Some(helper_main(cmd, rest, lifeline));
            }
            None
        }
        Err(crate::runtime::RuntimeError::ParentGone) => Some(125),
        Err(e) => {
            eprintln!("Error: {e}");
            Some(125)
        }
    }
}

/// Entry point of the hidden helper commands; runs inside the user namespace already.
pub fn helper_main(cmd: &str, args: &[String], lifeline: Option<UnixStream>) -> i32 {
    crate::log::init(std::env::var_os(DEBUG_ENV).is_some());
    tracing::debug!("helper {cmd} started");
    if cmd == crate::engine::container::monitor::MONITOR_CMD {
        // Single-threaded for good: it forks containers again on restarts.
        return crate::engine::container::monitor::monitor_main(args, lifeline);
    }
    if cmd == DETECT_CMD {
        // Before any thread: the check unshares a mount namespace.
        return detect_main(args);
    }
    if let Some(lifeline) = lifeline {
        // Never go on working in a staging directory a later command may be cleaning up.
        userns::watch_parent(lifeline, || std::process::exit(125));
    }
    match cmd {
        UNPACK_CMD => unpack_main(args),
        RMTREE_CMD => {
            let mut failed = false;
            for p in args {
                if let Err(e) = unpack::remove_tree(Path::new(p)) {
                    let _ = writeln!(io::stdout(), "{p}: {e}");
                    failed = true;
                }
            }
            i32::from(failed)
        }
        _ => 125,
    }
}

fn unpack_main(args: &[String]) -> i32 {
    let reply = match args {
        [dest, uids, gids] => match (uids.parse(), gids.parse()) {
            (Ok(uids), Ok(gids)) => {
                match unpack::unpack_layer(io::stdin(), Path::new(dest), IdLimits { uids, gids }) {
                    Ok(u) => Reply::Ok(u),
                    // Exiting closes the pipe: the sender stops at once and reads this verdict.
                    Err(e) => Reply::Error(e.to_string()),
                }
            }
            _ => Reply::Error("bad id limits".into()),
        },
        _ => Reply::Error("usage: __unpack DEST UIDS GIDS".into()),
    };
    let ok = matches!(reply, Reply::Ok(_));
    let text = serde_json::to_string(&reply).unwrap_or_else(|_| "{}".into());
    // The parent may be gone (killed): nobody to tell, and no reason to panic.
    let _ = writeln!(io::stdout(), "{text}");
    tracing::debug!("replied");
    i32::from(!ok)
}

/// Tries the root file system drivers in a scratch directory; prints the one that works.
fn detect_main(args: &[String]) -> i32 {
    let [scratch] = args else {
        return 125;
    };
    if crate::sys::unshare(crate::sys::NamespaceFlags::NEWNS).is_err() {
        println!("copy");
        return 0;
    }
    let _ = rustix::mount::mount_change(
        "/",
        rustix::mount::MountPropagationFlags::REC | rustix::mount::MountPropagationFlags::PRIVATE,
    );
    let driver = crate::runtime::rootfs::detect(Path::new(scratch));
    let _ = writeln!(io::stdout(), "{}", driver.name());
    0
}
