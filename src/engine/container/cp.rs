//! `skiff cp`: files between a container and the host, with Docker's path rules.
//!
//! The container's side runs in a child that sees the container's files (`runtime::files`)
//! and talks to this process over a socket (a few lines: what the source is, whether the
//! destination suits) and a pipe (the tar stream). Every path inside the container is resolved
//! with `openat2(RESOLVE_IN_ROOT)` from the container's root and then used only through
//! descriptors, so no symlink of the container, absolute or climbing, reaches a host file; what
//! is written is written by `store::unpack` beneath a directory descriptor, refusing anything
//! that would climb out or pass through a symlink, and what is read is read by
//! `store::archive`, which never follows a link either. A tar stream from stdin is as hostile
//! as an image layer and gets the same treatment.
//!
//! The rules are Docker's (its `archive.PrepareArchiveCopy`): a directory lands inside an
//! existing directory or becomes the destination when that is missing, `SRC/.` copies a
//! directory's contents, a trailing `/` asserts a directory, a file replaces a file or lands in
//! a directory. Copied into a container, files belong to the container's root unless `-a`
//! keeps the archive's owners; copied out, they belong to the calling user.

use std::ffi::{OsStr, OsString};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::record::ContainerRecord;
use crate::engine::Engine;
use crate::runtime::files::{self, View};
use crate::runtime::userns::{IdMapping, UserNs};
use crate::store::unpack::{self, ExtractOptions, IdLimits, Owners, UnpackError};
use crate::Error;

/// `-a` and `-L`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CopyOptions {
    /// Keep the owners the archive records (into a container), and the setuid and setgid bits
    /// (out of one).
    pub archive: bool,
    /// Follow SRC_PATH when it is a symlink.
    pub follow_link: bool,
}

/// The host's end of a copy out of a container.
pub enum HostDest<'a> {
    Path(&'a Path),
    /// `-`: a tar stream of the source.
    Stream(&'a mut dyn Write),
}

/// The host's end of a copy into a container.
pub enum HostSource<'a> {
    Path(&'a Path),
    /// `-`: a tar stream (possibly compressed) to extract into a directory.
    Stream(&'a mut dyn Read),
}

/// What a copy moved, for Docker's "Successfully copied" line.
#[derive(Debug)]
pub struct Copied {
    /// Bytes of the tar stream.
    pub bytes: u64,
    /// The destination as Docker names it.
    pub dest: String,
    /// What was skipped or changed on the way (device nodes, owners out of range).
    pub notices: Vec<String>,
}

/// A path split the way Docker's `SplitPathDirEntry` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitPath {
    /// The cleaned directory part (absolute for container paths).
    pub dir: Vec<u8>,
    /// The last component, "." when the path names a directory's contents (`DIR/.`).
    pub base: Vec<u8>,
    /// A trailing `/` or `/.`: the path must be a directory, and a symlink there is followed.
    pub asserts_dir: bool,
}

impl SplitPath {
    /// The whole path again, cleaned.
    pub fn joined(&self) -> Vec<u8> {
        let mut out = self.dir.clone();
        if self.base != b"." {
            if !out.ends_with(b"/") {
                out.push(b'/');
            }
            out.extend_from_slice(&self.base);
        }
        out
    }
}

/// Lexical cleaning as Go's `filepath.Clean` does it: no `.`, no `x/..`, no double slashes.
pub fn clean(path: &[u8]) -> Vec<u8> {
    let absolute = path.starts_with(b"/");
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in path.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if parts.last().is_some_and(|p| *p != b"..") {
                    parts.pop();
                } else if !absolute {
                    parts.push(part);
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join(&b'/');
    match (absolute, joined.is_empty()) {
        (true, _) => [b"/".as_slice(), &joined].concat(),
        (false, true) => b".".to_vec(),
        (false, false) => joined,
    }
}

/// Splits a path into its directory and last component (see `SplitPath`). The root itself
/// names its contents, as `/.` does.
pub fn split_path(path: &[u8]) -> SplitPath {
    let names_contents = path == b"." || path.ends_with(b"/.");
    let asserts_dir = names_contents || path.ends_with(b"/");
    let cleaned = clean(path);
    if names_contents || cleaned == b"/" {
        return SplitPath {
            dir: cleaned,
            base: b".".to_vec(),
            asserts_dir: true,
        };
    }
    match cleaned.iter().rposition(|b| *b == b'/') {
        Some(i) => SplitPath {
            dir: if i == 0 {
                b"/".to_vec()
            } else {
                cleaned[..i].to_vec()
            },
            base: cleaned[i + 1..].to_vec(),
            asserts_dir,
        },
        None => SplitPath {
            dir: b".".to_vec(),
            base: cleaned,
            asserts_dir,
        },
    }
}

/// A path inside a container, split: always taken from the container's root, as Docker does
/// (`filepath.Join("/", path)` with the trailing `/` or `/.` kept), so `..` never survives the
/// cleaning and a relative path means the same as its absolute form.
pub fn split_container_path(path: &[u8]) -> SplitPath {
    split_path(&[b"/".as_slice(), path].concat())
}

/// What is at a destination path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestState {
    Missing,
    Dir,
    /// A regular file (other kinds are refused before the rules apply).
    File,
}

/// Where an archive of the source is extracted, by Docker's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Into the destination itself (an existing directory), else into its parent.
    pub into_dest: bool,
    /// The archive's top name and the name it takes at the destination.
    pub rebase: Option<(Vec<u8>, Vec<u8>)>,
}

/// A copy the rules refuse (Docker's wording).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("cannot copy directory")]
    CannotCopyDir,
    #[error("no such directory")]
    DirNotExists,
}

/// Docker's `PrepareArchiveCopy`: `src_top` is the top name of the source's archive ("." for a
/// directory's contents).
pub fn plan(
    src_is_dir: bool,
    src_top: &[u8],
    dst: &SplitPath,
    state: DestState,
) -> Result<Plan, RuleError> {
    let rename = || Plan {
        into_dest: false,
        rebase: Some((src_top.to_vec(), dst.base.clone())),
    };
    match state {
        DestState::Dir => Ok(Plan {
            into_dest: true,
            rebase: None,
        }),
        DestState::File if src_is_dir => Err(RuleError::CannotCopyDir),
        DestState::File => Ok(rename()),
        DestState::Missing if src_is_dir => Ok(rename()),
        DestState::Missing if dst.asserts_dir => Err(RuleError::DirNotExists),
        DestState::Missing => Ok(rename()),
    }
}

/// Go's `%q`-like quoting for messages.
fn shown(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An OS error as Go prints it: "no such file or directory".
fn os_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => {
            let text = Errno::from_raw_os_error(n).to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_string();
            let mut chars = text.chars();
            match chars.next() {
                Some(c) => c.to_lowercase().chain(chars).collect(),
                None => text,
            }
        }
        None => e.to_string(),
    }
}

/// An I/O error with a path in front (as `store::archive` makes them), its OS part as Go
/// prints it.
fn io_text(e: &io::Error) -> String {
    let text = e.to_string();
    match e.raw_os_error() {
        None => match text.split_once(": ") {
            Some((path, why)) => {
                let why = why.split(" (os error").next().unwrap_or(why);
                format!("{path}: {}", why.to_lowercase())
            }
            None => text,
        },
        Some(_) => os_text(e),
    }
}

/// A refusal while extracting, worded for files rather than image layers.
fn extract_error(e: UnpackError) -> String {
    match e {
        UnpackError::Escape { path } => {
            format!("archive entry {path:?} climbs out of the destination with '..'")
        }
        UnpackError::BeneathSymlink { path } => {
            format!("archive entry {path:?} lies beneath a symbolic link; refusing to follow it")
        }
        UnpackError::HardlinkEscape { path, target } => {
            format!("archive hard link {path:?} points outside the destination ({target:?})")
        }
        UnpackError::Io { path, source } => format!("extracting {path:?}: {}", os_text(&source)),
        UnpackError::Tar(m) => format!("the archive is not a valid tar stream: {m}"),
        other => other.to_string(),
    }
}

impl Engine {
    /// `cp CONTAINER:SRC DEST|-`.
    pub fn copy_from_container(
        &self,
        name: &str,
        src: &str,
        dest: HostDest<'_>,
        opts: &CopyOptions,
    ) -> Result<Copied, Error> {
        let record = self.find_container(name)?;
        let host = match &dest {
            HostDest::Path(p) => Some(host_output_path(p)?),
            HostDest::Stream(_) => None,
        };
        let src_split = split_container_path(src.as_bytes());
        let follow = opts.follow_link || src_split.asserts_dir;
        let (control, child_control) = socket()?;
        let (data_rx, data_tx) = io::pipe().map_err(|e| Error::Other(format!("pipe: {e}")))?;
        let container = record.name.clone();
        let wanted = src.to_string();
        let src_top = src_split.base.clone();
        let work = move |root: OwnedFd| -> Result<(), String> {
            let mut control = child_control;
            let missing = |e: Errno| match e {
                Errno::NOENT => {
                    format!("Could not find the file {wanted} in container {container}")
                }
                other => format!("{wanted}: {}", os_text(&other.into())),
            };
            let (dir, base) = locate(&root, &src_split, follow).map_err(|(e, _)| missing(e))?;
            let st =
                rfs::statat(&dir, base.as_os_str(), AtFlags::SYMLINK_NOFOLLOW).map_err(missing)?;
            let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
            if src_split.asserts_dir && !is_dir {
                return Err(missing(Errno::NOTDIR));
            }
            let line: &[u8] = if is_dir { b"dir\n" } else { b"file\n" };
            control.write_all(line).map_err(|e| e.to_string())?;
            let mut out = tar::Builder::new(io::BufWriter::with_capacity(CHUNK, data_tx));
            let top = PathBuf::from(OsStr::from_bytes(&src_split.base));
            let written = crate::store::archive::write_tree(&mut out, dir.as_fd(), &base, &top)
                .and_then(|()| out.into_inner())
                .and_then(|mut w| w.flush());
            match written {
                Ok(()) => Ok(()),
                // The reader stopped: its own error says why.
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                Err(e) => Err(format!(
                    "reading {wanted} in the container: {}",
                    io_text(&e)
                )),
            }
        };
        let target = self.copy_target(&record)?;
        let inside = target.enter(&record, &[control.as_fd(), data_rx.as_fd()], work)?;
        let mut control = BufReader::new(control);
        let mut answer = String::new();
        let _ = control.read_line(&mut answer);
        let src_is_dir = match answer.trim() {
            "dir" => true,
            "file" => false,
            _ => {
                drop(data_rx);
                return Err(inside.failed());
            }
        };
        let mut reader = Counting {
            inner: data_rx,
            count: 0,
        };
        let (outcome, shown_dest) = match (dest, host) {
            (HostDest::Stream(out), _) => (
                io::copy(&mut reader, out)
                    .map(|_| Vec::new())
                    .map_err(|e| Error::Other(format!("writing the archive: {e}"))),
                "-".to_string(),
            ),
            (HostDest::Path(_), Some(path)) => (
                extract_on_host(&mut reader, &path, src_is_dir, &src_top, opts.archive).inspect(
                    |_| {
                        // The end-of-archive blocks: counted as Docker counts the stream.
                        let _ = io::copy(&mut reader, &mut io::sink());
                    },
                ),
                shown(&path),
            ),
            (HostDest::Path(_), None) => unreachable!("host paths are checked first"),
        };
        let bytes = reader.count;
        drop(reader);
        // The child's error first: a read that failed there shows here as a cut stream.
        inside.finish()?;
        Ok(Copied {
            bytes,
            dest: shown_dest,
            notices: outcome?,
        })
    }

    /// `cp SRC|- CONTAINER:DEST`.
    pub fn copy_to_container(
        &self,
        src: HostSource<'_>,
        name: &str,
        dst: &str,
        opts: &CopyOptions,
    ) -> Result<Copied, Error> {
        let record = self.find_container(name)?;
        // As Docker: nothing is copied into a container whose root file system is read-only
        // (its volumes included).
        if record.spec.read_only_root {
            return Err(Error::WrongState(format!(
                "container rootfs is marked read-only: can't copy into {}",
                record.name
            )));
        }
        let tree = match &src {
            HostSource::Path(p) => Some(host_source(p, opts.follow_link)?),
            HostSource::Stream(_) => None,
        };
        let src_info = tree.as_ref().map(|t| (t.is_dir, t.top.clone()));
        let dst_split = split_container_path(dst.as_bytes());
        let target = self.copy_target(&record)?;
        let owners = if opts.archive {
            Owners::Archive(target.limits(&record))
        } else {
            Owners::Fixed(0, 0)
        };
        let (control, child_control) = socket()?;
        let (data_rx, data_tx) = io::pipe().map_err(|e| Error::Other(format!("pipe: {e}")))?;
        let container = record.name.clone();
        let wanted = dst.to_string();
        let work = move |root: OwnedFd| -> Result<(), String> {
            let mut control = child_control;
            let (dir, base) = match locate(&root, &dst_split, true) {
                Ok(found) => found,
                Err((Errno::NOENT, dir)) => {
                    return Err(format!(
                        "Could not find the file {} in container {container}",
                        shown(&dir)
                    ))
                }
                Err((Errno::NOTDIR, _)) => return Err("extraction point is not a directory".into()),
                Err((e, _)) => return Err(format!("{wanted}: {}", os_text(&e.into()))),
            };
            let state = match rfs::statat(&dir, base.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => match FileType::from_raw_mode(st.st_mode) {
                    FileType::Directory => DestState::Dir,
                    // "FILE/" names a directory that is not there (Docker).
                    FileType::RegularFile if dst_split.asserts_dir => DestState::Missing,
                    FileType::RegularFile => DestState::File,
                    _ => {
                        return Err(format!(
                            "destination \"{container}:{wanted}\" must be a directory or a regular file"
                        ))
                    }
                },
                Err(Errno::NOENT) | Err(Errno::NOTDIR) => DestState::Missing,
                Err(e) => return Err(format!("{wanted}: {}", os_text(&e.into()))),
            };
            let plan = match &src_info {
                None if state != DestState::Dir => {
                    return Err(format!(
                        "destination \"{container}:{wanted}\" must be a directory"
                    ))
                }
                None => Plan {
                    into_dest: true,
                    rebase: None,
                },
                Some((is_dir, top)) => {
                    let dst = SplitPath {
                        dir: Vec::new(),
                        base: base.as_bytes().to_vec(),
                        asserts_dir: dst_split.asserts_dir,
                    };
                    plan(*is_dir, top, &dst, state).map_err(|e| e.to_string())?
                }
            };
            let into = if plan.into_dest {
                base.as_os_str()
            } else {
                OsStr::new(".")
            };
            let into = rfs::openat(
                &dir,
                into,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| format!("{wanted}: {}", os_text(&e.into())))?;
            control.write_all(b"go\n").map_err(|e| e.to_string())?;
            let mut input =
                unpack::sniffed(data_rx).map_err(|e| format!("reading the archive: {e}"))?;
            let options = ExtractOptions {
                owners,
                whiteouts: false,
                keep_kinds: true,
                rebase: plan.rebase,
                // Inside the container, as Docker does: its root could make them anyway.
                devices: true,
                setid: true,
            };
            let notices = unpack::extract(&mut input, into, options).map_err(extract_error)?;
            // What follows the archive's end is read too, so the sender never meets a closed
            // pipe after a copy that worked.
            let _ = io::copy(&mut input, &mut io::sink());
            for n in notices {
                let _ = writeln!(control, "notice {n}");
            }
            Ok(())
        };
        let inside = target.enter(&record, &[control.as_fd(), data_tx.as_fd()], work)?;
        let mut control = BufReader::new(control);
        let mut answer = String::new();
        let _ = control.read_line(&mut answer);
        if answer.trim() != "go" {
            drop(data_tx);
            return Err(inside.failed());
        }
        let mut writer = Counting {
            inner: data_tx,
            count: 0,
        };
        let src_shown = match &src {
            HostSource::Path(p) => p.display().to_string(),
            HostSource::Stream(_) => "the archive".into(),
        };
        let sent = match (src, tree) {
            (HostSource::Stream(input), _) => io::copy(input, &mut writer).map(drop),
            (HostSource::Path(_), Some(tree)) => {
                let mut out = tar::Builder::new(io::BufWriter::with_capacity(CHUNK, &mut writer));
                let top = PathBuf::from(OsStr::from_bytes(&tree.top));
                crate::store::archive::write_tree(&mut out, tree.dir.as_fd(), &tree.name, &top)
                    .and_then(|()| out.into_inner())
                    .and_then(|mut w| w.flush())
            }
            (HostSource::Path(_), None) => unreachable!("host paths are checked first"),
        };
        let bytes = writer.count;
        drop(writer);
        let notices: Vec<String> = control
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| l.strip_prefix("notice ").map(str::to_string))
            .collect();
        let finished = inside.finish();
        match sent {
            // A host file that could not be read: the container's side only saw a cut stream.
            // (A closed pipe means that side stopped first, and its own error says why.)
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(Error::Other(format!(
                "copying {src_shown}: {}",
                io_text(&e)
            ))),
            _ => finished.map(|()| Copied {
                bytes,
                dest: format!("{}:{dst}", record.name),
                notices,
            }),
        }
    }

    /// How the files of `record` can be reached now.
    fn copy_target(&self, record: &ContainerRecord) -> Result<Target, Error> {
        if let Some(init) = self.init_pid(record) {
            return Ok(Target {
                init: Some(init),
                mount: None,
                userns: None,
                _lock: None,
            });
        }
        // Stopped: nothing may start or remove it while its files are mounted here. Then
        // look again, since it may have started while the lock was awaited.
        let lock = self.container_files_lock(&record.id)?;
        let record = &self.find_container(&record.id)?;
        if let Some(init) = self.init_pid(record) {
            return Ok(Target {
                init: Some(init),
                mount: None,
                userns: None,
                _lock: None,
            });
        }
        if self.container_alive(record) {
            // Between two runs of its restart policy: its monitor may mount it any moment.
            return Err(Error::WrongState(format!(
                "container {} is restarting: try again once it runs or is stopped",
                record.name
            )));
        }
        crate::config::ensure_run_root(&self.paths.run_root, self.user.uid)?;
        let dir =
            self.paths
                .run_root
                .join("cp")
                .join(format!("{}-{}", record.id, std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::Other(format!("creating {}: {e}", dir.display())))?;
        Ok(Target {
            init: None,
            mount: Some(MountDir(dir)),
            userns: self.user.rootless().then(|| self.userns()),
            _lock: Some(lock),
        })
    }
}

/// A container's files as `cp` reaches them: its running PID 1's namespaces, or its root file
/// system mounted for the time of the copy.
struct Target {
    init: Option<i32>,
    mount: Option<MountDir>,
    userns: Option<UserNs>,
    /// A stopped container's files lock, held for the copy (see `container_files_lock`).
    _lock: Option<std::fs::File>,
}

impl Target {
    /// The ids the container maps, counting from 0 (`-a` keeps owners below these).
    fn limits(&self, record: &ContainerRecord) -> IdLimits {
        let from_file = |file: &str| -> Option<u32> {
            let pid = self.init?;
            let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
            let map: Vec<IdMapping> = text
                .lines()
                .filter_map(|l| {
                    let n: Vec<u32> = l
                        .split_whitespace()
                        .filter_map(|f| f.parse().ok())
                        .collect();
                    (n.len() == 3).then(|| IdMapping {
                        container: n[0],
                        host: n[1],
                        size: n[2],
                    })
                })
                .collect();
            Some(UserNs::contiguous(&map))
        };
        let of = |uids: &[IdMapping], gids: &[IdMapping]| IdLimits {
            uids: UserNs::contiguous(uids),
            gids: UserNs::contiguous(gids),
        };
        if self.init.is_some() {
            IdLimits {
                uids: from_file("uid_map").unwrap_or(u32::MAX),
                gids: from_file("gid_map").unwrap_or(u32::MAX),
            }
        } else if let Some(shift) = &record.spec.id_shift {
            // Stopped, a container with maps of its own is entered with them.
            of(&shift.uid_map, &shift.gid_map)
        } else if let Some(ns) = &self.userns {
            of(&ns.uid_map, &ns.gid_map)
        } else {
            IdLimits::ALL
        }
    }

    fn enter<F>(
        self,
        record: &ContainerRecord,
        parent_ends: &[std::os::fd::BorrowedFd<'_>],
        work: F,
    ) -> Result<Entered, Error>
    where
        F: FnOnce(OwnedFd) -> Result<(), String>,
    {
        let view = match (&self.init, &self.mount) {
            (Some(init), _) => View::Running { init: *init },
            (None, Some(dir)) => View::Stopped {
                spec: &record.spec,
                mount_point: &dir.0,
                userns: self.userns.as_ref(),
            },
            (None, None) => unreachable!("a target is running or mounted"),
        };
        let inside = files::enter(&view, parent_ends, work).map_err(Error::Other)?;
        Ok(Entered {
            inside,
            _mount: self.mount,
        })
    }
}

/// The empty directory a stopped container is mounted on (in the child's namespace only).
struct MountDir(PathBuf);

impl Drop for MountDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// The child at work; the mount point stays until it is done.
struct Entered {
    inside: files::Inside,
    _mount: Option<MountDir>,
}

impl Entered {
    fn finish(self) -> Result<(), Error> {
        self.inside.finish().map_err(Error::Other)
    }

    /// The child ended before it said anything: its report says why.
    fn failed(self) -> Error {
        match self.finish() {
            Err(e) => e,
            Ok(()) => Error::Other("the copying process ended without a word".into()),
        }
    }
}

/// Resolves `path` inside the container's `root` to the directory holding its last component
/// and that component's name (".": the directory itself). Every step is an `openat2` with
/// `RESOLVE_IN_ROOT`, so absolute and climbing symlinks stay inside the root. With `follow`,
/// a symlink in the last place is followed too (its target resolved the same way, a missing
/// target included: a copy creates it). An error names the directory it could not open.
fn locate(
    root: &OwnedFd,
    path: &SplitPath,
    follow: bool,
) -> Result<(OwnedFd, OsString), (Errno, Vec<u8>)> {
    let mut dir_path = path.dir.clone();
    let mut base = path.base.clone();
    for _ in 0..40 {
        let cleaned = clean(&[b"/", dir_path.as_slice()].concat());
        let rel = cleaned.strip_prefix(b"/").unwrap_or(&cleaned);
        let dir = crate::sys::openat2(
            root,
            OsStr::from_bytes(if rel.is_empty() { b"." } else { rel }),
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
        .map_err(|e| (e, cleaned.clone()))?;
        // Never the parent of the directory just opened: for a stopped container that is the
        // host directory its root is mounted on, reached without RESOLVE_IN_ROOT. Container
        // paths are cleaned from "/", so this only guards against a mistake above.
        if base.is_empty() || base == b".." || base.contains(&b'/') {
            return Err((Errno::INVAL, path.joined()));
        }
        if !follow || base == b"." {
            return Ok((dir, OsString::from_vec(base)));
        }
        match rfs::statat(&dir, OsStr::from_bytes(&base), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                let target = rfs::readlinkat(&dir, OsStr::from_bytes(&base), Vec::new())
                    .map_err(|e| (e, cleaned.clone()))?;
                // Relative targets continue from the directory the link is really in (the path
                // as typed may have passed through links); either way the result is cleaned from
                // "/", so a target such as ".." stops at the container's root.
                let target = target.as_bytes();
                let next = if target.starts_with(b"/") {
                    clean(target)
                } else {
                    let real = real_path(root, &cleaned).map_err(|e| (e, cleaned.clone()))?;
                    clean(&[real.as_slice(), b"/", target].concat())
                };
                let next = split_path(&next);
                dir_path = next.dir;
                base = next.base;
            }
            _ => return Ok((dir, OsString::from_vec(base))),
        }
    }
    Err((Errno::LOOP, path.joined()))
}

/// The path of the directory `path` (absolute, cleaned) in the container, every symlink on the
/// way replaced by its target one component at a time as the kernel would follow it, never above
/// the container's root (Docker's `FollowSymlinkInScope`).
fn real_path(root: &OwnedFd, path: &[u8]) -> Result<Vec<u8>, Errno> {
    let mut real: Vec<Vec<u8>> = Vec::new();
    let mut pending: Vec<Vec<u8>> = path
        .split(|b| *b == b'/')
        .rev()
        .map(<[u8]>::to_vec)
        .collect();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        match part.as_slice() {
            b"" | b"." => continue,
            b".." => {
                real.pop();
                continue;
            }
            _ => {}
        }
        // `real` holds no symlink, so this opens exactly that directory.
        let joined = real.join(&b'/');
        let dir = crate::sys::openat2(
            root,
            OsStr::from_bytes(if joined.is_empty() { b"." } else { &joined }),
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )?;
        match rfs::statat(&dir, OsStr::from_bytes(&part), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                links += 1;
                if links > 40 {
                    return Err(Errno::LOOP);
                }
                let target = rfs::readlinkat(&dir, OsStr::from_bytes(&part), Vec::new())?;
                let target = target.as_bytes();
                if target.starts_with(b"/") {
                    real.clear();
                }
                pending.extend(target.split(|b| *b == b'/').rev().map(<[u8]>::to_vec));
            }
            _ => real.push(part),
        }
    }
    Ok([b"/".as_slice(), &real.join(&b'/')].concat())
}

/// The source of a copy into a container, on the host.
struct HostTree {
    dir: OwnedFd,
    name: OsString,
    is_dir: bool,
    /// The name its archive has ("." for a directory's contents).
    top: Vec<u8>,
}

/// Docker's `CopyInfoSourcePath`: symlinks on the way are followed, the last one only with
/// `-L` or a trailing `/`, and the archive keeps the name asked for.
fn host_source(path: &Path, follow: bool) -> Result<HostTree, Error> {
    let raw = path.as_os_str().as_bytes();
    let split = split_path(raw);
    let lstat_err =
        |e: io::Error| Error::Invalid(format!("lstat {}: {}", path.display(), os_text(&e)));
    let (dir, name) = if split.base == b"." {
        (split.dir.clone(), b".".to_vec())
    } else if follow || split.asserts_dir {
        let real = std::fs::canonicalize(OsStr::from_bytes(&split.joined())).map_err(lstat_err)?;
        let real = split_path(real.as_os_str().as_bytes());
        (real.dir, real.base)
    } else {
        (split.dir.clone(), split.base.clone())
    };
    let dir = rfs::open(
        OsStr::from_bytes(&dir),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| lstat_err(e.into()))?;
    let st = rfs::statat(&dir, OsStr::from_bytes(&name), AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| lstat_err(e.into()))?;
    let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
    if split.asserts_dir && !is_dir {
        return Err(lstat_err(Errno::NOTDIR.into()));
    }
    Ok(HostTree {
        dir,
        name: OsString::from_vec(name),
        is_dir,
        top: split.base,
    })
}

/// Docker's `ValidateOutputPath` for a local destination; returns it absolute (a trailing
/// `/` or `/.` kept).
fn host_output_path(path: &Path) -> Result<Vec<u8>, Error> {
    let raw = path.as_os_str().as_bytes();
    let absolute = if raw.starts_with(b"/") {
        raw.to_vec()
    } else {
        let cwd = std::env::current_dir()
            .map_err(|e| Error::Other(format!("the working directory: {e}")))?;
        [cwd.as_os_str().as_bytes(), b"/", raw].concat()
    };
    let cleaned = clean(&absolute);
    let parent = split_path(&cleaned).dir;
    if std::fs::metadata(OsStr::from_bytes(&parent)).is_err() {
        return Err(Error::Invalid(format!(
            "invalid output path: directory {:?} does not exist",
            shown(&parent)
        )));
    }
    if let Ok(m) = std::fs::metadata(OsStr::from_bytes(&absolute)) {
        if !m.is_dir() && !m.is_file() {
            return Err(Error::Invalid(format!(
                "invalid output path: {:?} must be a directory or a regular file",
                shown(&absolute)
            )));
        }
    }
    Ok(absolute)
}

/// Docker's `CopyInfoDestinationPath`: a symlink at the destination is followed (up to ten),
/// a missing destination needs a directory as its parent.
fn host_destination(path: &[u8]) -> Result<(Vec<u8>, DestState), Error> {
    let mut p = path.to_vec();
    for _ in 0..=10 {
        let os = OsStr::from_bytes(&p);
        match std::fs::symlink_metadata(os) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(os)
                    .map_err(|e| Error::Other(format!("readlink {}: {}", shown(&p), os_text(&e))))?
                    .into_os_string()
                    .into_vec();
                p = if target.starts_with(b"/") {
                    target
                } else {
                    [split_path(&p).dir.as_slice(), b"/", &target].concat()
                };
            }
            Ok(m) if m.is_dir() => return Ok((p, DestState::Dir)),
            Ok(_) => return Ok((p, DestState::File)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let parent = split_path(&p).dir;
                return match std::fs::metadata(OsStr::from_bytes(&parent)) {
                    Ok(m) if m.is_dir() => Ok((p, DestState::Missing)),
                    Ok(_) => Err(Error::Invalid("not a directory".into())),
                    Err(e) => Err(Error::Invalid(format!(
                        "stat {}: {}",
                        shown(&parent),
                        os_text(&e)
                    ))),
                };
            }
            Err(e) => {
                return Err(Error::Other(format!(
                    "lstat {}: {}",
                    shown(&p),
                    os_text(&e)
                )))
            }
        }
    }
    Err(Error::Invalid(format!(
        "too many symlinks in {}",
        shown(path)
    )))
}

/// The host's side of a copy out: the archive extracted by Docker's rules, the files the
/// calling user's; no device nodes, and setuid/setgid bits only with `-a`.
fn extract_on_host(
    input: &mut impl Read,
    dest: &[u8],
    src_is_dir: bool,
    src_top: &[u8],
    archive: bool,
) -> Result<Vec<String>, Error> {
    let (resolved, state) = host_destination(dest)?;
    let split = split_path(&resolved);
    let plan =
        plan(src_is_dir, src_top, &split, state).map_err(|e| Error::Invalid(e.to_string()))?;
    let dir = if plan.into_dest {
        split.joined()
    } else {
        split.dir.clone()
    };
    let fd = rfs::open(
        OsStr::from_bytes(&dir),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::Other(format!("{}: {}", shown(&dir), os_text(&e.into()))))?;
    let options = ExtractOptions {
        owners: Owners::Creator,
        whiteouts: false,
        keep_kinds: true,
        rebase: plan.rebase,
        // The container's device nodes would be the host's devices here, and its setuid files
        // the host's setuid files.
        devices: false,
        setid: archive,
    };
    unpack::extract(input, fd, options).map_err(|e| Error::Other(extract_error(e)))
}

/// Buffer of the tar streams.
const CHUNK: usize = 256 * 1024;

/// A socket pair, as the engine's error.
fn socket() -> Result<(UnixStream, UnixStream), Error> {
    UnixStream::pair().map_err(|e| Error::Other(format!("socketpair: {e}")))
}

/// Counts what passes through.
struct Counting<T> {
    inner: T,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(p: &str) -> (String, String, bool) {
        let s = split_path(p.as_bytes());
        (shown(&s.dir), shown(&s.base), s.asserts_dir)
    }

    #[test]
    fn paths_split_like_docker() {
        assert_eq!(
            split("/etc/passwd"),
            ("/etc".into(), "passwd".into(), false)
        );
        assert_eq!(split("etc/"), (".".into(), "etc".into(), true));
        assert_eq!(split("/tmp/dir/."), ("/tmp/dir".into(), ".".into(), true));
        assert_eq!(split("/"), ("/".into(), ".".into(), true));
        assert_eq!(split("/a/../../b"), ("/".into(), "b".into(), false));
        assert_eq!(split("file"), (".".into(), "file".into(), false));
        assert_eq!(shown(&clean(b"a/./b//../c")), "a/c");
        assert_eq!(shown(&clean(b"../x")), "../x");
    }

    #[test]
    fn container_paths_never_climb_above_the_root() {
        let split = |p: &str| {
            let s = split_container_path(p.as_bytes());
            (shown(&s.dir), shown(&s.base), s.asserts_dir)
        };
        assert_eq!(split(".."), ("/".into(), ".".into(), true));
        assert_eq!(split("../.."), ("/".into(), ".".into(), true));
        assert_eq!(split("../etc"), ("/".into(), "etc".into(), false));
        assert_eq!(split(""), ("/".into(), ".".into(), true));
        assert_eq!(split("tmp"), ("/".into(), "tmp".into(), false));
        assert_eq!(split("srv/u"), ("/srv".into(), "u".into(), false));
        assert_eq!(split("tmp/"), ("/".into(), "tmp".into(), true));
        assert_eq!(split("."), ("/".into(), ".".into(), true));
        assert_eq!(split("tmp/."), ("/tmp".into(), ".".into(), true));
    }

    /// `locate` in a directory standing in for a container's root, with `/up -> ..`,
    /// `/tmp/up2 -> ../..` and `/abs -> /tmp`.
    #[test]
    fn symlinks_to_dot_dot_stop_at_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("tmp")).unwrap();
        std::os::unix::fs::symlink("..", root.join("up")).unwrap();
        std::os::unix::fs::symlink("../..", root.join("tmp/up2")).unwrap();
        std::os::unix::fs::symlink("/tmp", root.join("abs")).unwrap();
        let fd = rfs::open(
            &root,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        let found = |p: &str| {
            let (dir, base) = locate(&fd, &split_container_path(p.as_bytes()), true).unwrap();
            let st = rfs::fstat(&dir).unwrap();
            (st.st_ino, base.into_string().unwrap())
        };
        let ino = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
        assert_eq!(found("up"), (ino(&root), ".".into()));
        assert_eq!(found("tmp/up2"), (ino(&root), ".".into()));
        assert_eq!(found(".."), (ino(&root), ".".into()));
        assert_eq!(found("abs"), (ino(&root), "tmp".into()));
        // A relative target is taken from where its link really is: /deep/via is /tmp/d/sub,
        // whose rel -> ../etc/x means /tmp/d/etc/x (not /deep/etc/x).
        std::fs::create_dir_all(root.join("tmp/d/etc")).unwrap();
        std::fs::create_dir_all(root.join("deep")).unwrap();
        std::os::unix::fs::symlink("/tmp/d/sub", root.join("deep/via")).unwrap();
        std::fs::create_dir_all(root.join("tmp/d/sub")).unwrap();
        std::os::unix::fs::symlink("../etc/x", root.join("tmp/d/sub/rel")).unwrap();
        assert_eq!(
            found("/deep/via/rel"),
            (ino(&root.join("tmp/d/etc")), "x".into())
        );
        // The guard: a base of ".." is refused even if something above produced one.
        let bad = SplitPath {
            dir: b"/".to_vec(),
            base: b"..".to_vec(),
            asserts_dir: false,
        };
        assert!(matches!(locate(&fd, &bad, false), Err((Errno::INVAL, _))));
    }

    fn dst(p: &str) -> SplitPath {
        split_path(p.as_bytes())
    }

    #[test]
    fn the_rules_of_docker_cp() {
        use DestState::*;
        let into = Plan {
            into_dest: true,
            rebase: None,
        };
        let renamed = |from: &str, to: &str| Plan {
            into_dest: false,
            rebase: Some((from.as_bytes().to_vec(), to.as_bytes().to_vec())),
        };
        // A file: into an existing directory, over a file, or to a new name.
        assert_eq!(plan(false, b"f", &dst("/d"), Dir), Ok(into.clone()));
        assert_eq!(plan(false, b"f", &dst("/x"), File), Ok(renamed("f", "x")));
        assert_eq!(
            plan(false, b"f", &dst("/new"), Missing),
            Ok(renamed("f", "new"))
        );
        // ... but not to a missing directory.
        assert_eq!(
            plan(false, b"f", &dst("/new/"), Missing),
            Err(RuleError::DirNotExists)
        );
        // A directory: inside an existing one, or becomes a missing one; never onto a file.
        assert_eq!(plan(true, b"d", &dst("/d"), Dir), Ok(into.clone()));
        assert_eq!(
            plan(true, b"d", &dst("/new"), Missing),
            Ok(renamed("d", "new"))
        );
        assert_eq!(
            plan(true, b"d", &dst("/new/"), Missing),
            Ok(renamed("d", "new"))
        );
        assert_eq!(
            plan(true, b"d", &dst("/f"), File),
            Err(RuleError::CannotCopyDir)
        );
        // DIR/. : the contents, into an existing directory or as a new one.
        assert_eq!(plan(true, b".", &dst("/d"), Dir), Ok(into));
        assert_eq!(
            plan(true, b".", &dst("/new"), Missing),
            Ok(renamed(".", "new"))
        );
        assert_eq!(
            RuleError::CannotCopyDir.to_string(),
            "cannot copy directory"
        );
    }

    #[test]
    fn os_errors_read_like_go() {
        assert_eq!(
            os_text(&io::Error::from_raw_os_error(libc::ENOENT)),
            "no such file or directory"
        );
    }
}
