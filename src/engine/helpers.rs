//! Work on layer files that must happen as the container's root: unpacking and removing. A
//! rootless user does it in a `skiff` helper started inside its user namespace; root does it in
//! this process. The helpers' entry points (`helper_main`) are hidden subcommands.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};

use serde::{Deserialize, Serialize};

use super::Engine;
use crate::runtime::userns::{self, UserNs};
use crate::runtime::RuntimeError;
use crate::store::unpack::{self, IdLimits, Unpacked};
use crate::Error;

/// The first thing `main` calls: a helper process enters its user namespace here.
pub use crate::runtime::userns::enter_if_helper;
pub use crate::runtime::RuntimeError as HelperError;

pub const UNPACK_CMD: &str = "__unpack";
pub const RMTREE_CMD: &str = "__rmtree";
pub const DETECT_CMD: &str = "__detect";
/// Set for helpers when the command runs with debug logging.
pub const DEBUG_ENV: &str = "_SKIFF_DEBUG";

/// Where a layer's compressed bytes go to be unpacked, and how to learn the result.
pub struct LayerSink {
    writer: Option<Box<dyn Write + Send>>,
    done: Done,
}

enum Done {
    Helper(userns::Helper),
    Thread(std::thread::JoinHandle<Result<Unpacked, unpack::UnpackError>>),
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Reply {
    Ok(Unpacked),
    Error(String),
}

impl LayerSink {
    pub fn writer(&mut self) -> &mut (dyn Write + Send) {
        self.writer
            .as_mut()
            .expect("writer used after finish")
            .as_mut()
    }

    /// Closes the stream and waits for the unpacker's verdict.
    pub fn finish(mut self) -> Result<Unpacked, Error> {
        drop(self.writer.take());
        match self.done {
            Done::Thread(handle) => handle
                .join()
                .map_err(|_| Error::Other("the unpacking thread panicked".into()))?
                .map_err(Error::from),
            Done::Helper(mut helper) => {
                let mut out = String::new();
                if let Some(mut stdout) = helper.child.stdout.take() {
                    let _ = stdout.read_to_string(&mut out);
                }
                crate::debug!("unpacker replied");
                let status = helper.child.wait().map_err(RuntimeError::Io)?;
                crate::debug!("unpacker exited");
                match serde_json::from_str::<Reply>(out.trim()) {
                    Ok(Reply::Ok(u)) => Ok(u),
                    Ok(Reply::Error(e)) => Err(Error::Other(e)),
                    Err(_) => Err(RuntimeError::Helper(format!(
                        "the unpacking helper failed ({status}) without saying why"
                    ))
                    .into()),
                }
            }
        }
    }

    /// Stops the unpacker after a failed download; its staging directory is removed by the caller.
    pub fn abort(mut self) {
        drop(self.writer.take());
        match self.done {
            Done::Helper(mut helper) => {
                let _ = helper.child.kill();
                let _ = helper.child.wait();
            }
            Done::Thread(handle) => {
                let _ = handle.join();
            }
        }
    }
}

impl Engine {
    /// Starts an unpacker for one layer into `dest` (an empty directory).
    pub fn layer_sink(&self, dest: &Path) -> Result<LayerSink, Error> {
        if !self.user.rootless() {
            let (reader, writer) = io::pipe().map_err(RuntimeError::Io)?;
            let dest = dest.to_path_buf();
            let handle =
                std::thread::spawn(move || unpack::unpack_layer(reader, &dest, IdLimits::ALL));
            return Ok(LayerSink {
                writer: Some(Box::new(writer)),
                done: Done::Thread(handle),
            });
        }
        let ns = self.userns();
        let limits = IdLimits {
            uids: UserNs::contiguous(&ns.uid_map),
            gids: UserNs::contiguous(&ns.gid_map),
        };
        let mut cmd = Command::new("/proc/self/exe");
        if crate::log::enabled() {
            cmd.env(DEBUG_ENV, "1");
        }
        cmd.arg(UNPACK_CMD)
            .arg(dest)
            .arg(limits.uids.to_string())
            .arg(limits.gids.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut helper = userns::spawn(cmd, &ns)?;
        let stdin: ChildStdin = helper.child.stdin.take().expect("piped stdin");
        Ok(LayerSink {
            writer: Some(Box::new(io::BufWriter::with_capacity(256 * 1024, stdin))),
            done: Done::Helper(helper),
        })
    }

    /// Deletes directory trees that hold layer files (owned by the user's subordinate ids).
    pub fn remove_trees(&self, paths: &[PathBuf]) -> Result<(), Error> {
        if paths.is_empty() {
            return Ok(());
        }
        // Most trees (a container's upper dir, a staging dir) hold only files of container root,
        // which is us: try without the helper's user namespace first.
        let mut left = Vec::new();
        for p in paths {
            if let Err(e) = unpack::remove_tree(p) {
                left.push((p.clone(), e));
            }
        }
        let ns = self.userns();
        if left.is_empty() || !self.user.rootless() || !ns.needs_helpers {
            return match left.into_iter().next() {
                None => Ok(()),
                Some((p, e)) => Err(Error::Other(format!("removing {}: {e}", p.display()))),
            };
        }
        let paths: Vec<PathBuf> = left.into_iter().map(|(p, _)| p).collect();
        let mut cmd = Command::new("/proc/self/exe");
        cmd.arg(RMTREE_CMD)
            .args(&paths)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let helper = userns::spawn(cmd, &ns)?;
        let out = helper.child.wait_with_output().map_err(RuntimeError::Io)?;
        drop(helper.lifeline);
        if out.status.success() {
            Ok(())
        } else {
            Err(RuntimeError::Helper(format!(
                "removing layer files failed: {}",
                String::from_utf8_lossy(&out.stdout).trim()
            ))
            .into())
        }
    }
}

/// Entry point of the hidden helper commands; runs inside the user namespace already.
pub fn helper_main(cmd: &str, args: &[String], lifeline: Option<UnixStream>) -> i32 {
    crate::log::init(std::env::var_os(DEBUG_ENV).is_some());
    crate::debug!("helper {cmd} started");
    if cmd == super::container::monitor::MONITOR_CMD {
        // Single-threaded for good: it forks containers again on restarts.
        return super::container::monitor::monitor_main(args, lifeline);
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
    crate::debug!("replied");
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

impl Engine {
    /// How layers become a root file system here: `SKIFF_ROOTFS_DRIVER` when set, else what
    /// was detected (once per store, by mounting in a scratch directory) and kept in the store.
    pub fn rootfs_driver(&self) -> Result<crate::runtime::rootfs::Driver, Error> {
        use crate::runtime::rootfs::Driver;
        if let Ok(forced) = std::env::var("SKIFF_ROOTFS_DRIVER") {
            return Driver::parse(&forced).ok_or_else(|| {
                Error::Invalid(format!(
                    "SKIFF_ROOTFS_DRIVER={forced}: expected overlay, fuse-overlayfs or copy"
                ))
            });
        }
        if self.paths.storage_driver == Some(crate::config::StorageDriver::Vfs) {
            // storage.conf's vfs: a private copy of the image per container, as Podman's.
            return Ok(Driver::Copy);
        }
        let cache = self.paths.data_root.join("rootfs-driver");
        if let Some(d) = std::fs::read_to_string(&cache)
            .ok()
            .and_then(|s| Driver::parse(&s))
        {
            return Ok(d);
        }
        let scratch = self
            .store
            .root()
            .join("tmp")
            .join(format!("detect-{}", std::process::id()));
        let mut cmd = Command::new("/proc/self/exe");
        cmd.arg(DETECT_CMD)
            .arg(&scratch)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let out = if self.user.rootless() {
            let helper = userns::spawn(cmd, &self.userns())?;
            let out = helper.child.wait_with_output().map_err(RuntimeError::Io)?;
            drop(helper.lifeline);
            out
        } else {
            cmd.output().map_err(RuntimeError::Io)?
        };
        let _ = self.remove_trees(&[scratch]);
        let driver = Driver::parse(&String::from_utf8_lossy(&out.stdout)).unwrap_or(Driver::Copy);
        let _ = std::fs::write(&cache, driver.name());
        Ok(driver)
    }
}
