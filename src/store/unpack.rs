//! Safe unpacking of one image layer (a tar stream, possibly compressed) into a directory laid out
//! for overlayfs: whiteouts become 0/0 character devices and opaque directories carry the
//! `user.overlay.opaque` xattr, so the directory can be stacked as a lower layer unchanged.
//!
//! Written by hand because no crate unpacks hostile archives the way a container store needs: every
//! path is resolved with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` from the layer's root, so
//! nothing is ever followed out of it, and whiteouts must be turned into overlay's format.
//! `tar` parses the headers; this module decides what each entry may do.
//!
//! It runs inside the user's user namespace (see `runtime::userns`), so owners land on the subuid
//! range; ids beyond the mapped range collapse to 0 with one notice.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::mpsc;

use rustix::fs::{
    self as rfs, AtFlags, Dev, FileType, Mode, OFlags, ResolveFlags, Timestamps, XattrFlags,
};
use rustix::io::Errno;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The largest single file a layer may declare (256 GiB). Anything bigger is taken as hostile.
const MAX_ENTRY_SIZE: u64 = 1 << 38;

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("layer entry {path:?} climbs out of the layer with '..'")]
    Escape { path: String },
    #[error("layer entry {path:?} lies beneath a symbolic link; refusing to follow it")]
    BeneathSymlink { path: String },
    #[error("layer hard link {path:?} points outside the layer ({target:?})")]
    HardlinkEscape { path: String, target: String },
    #[error("layer entry {path:?} declares an absurd size of {size} bytes")]
    AbsurdSize { path: String, size: u64 },
    #[error("layer is not a valid tar stream: {0}")]
    Tar(String),
    #[error("unpacking layer entry {path:?}: {source}")]
    Io { path: String, source: io::Error },
    #[error("reading layer: {0}")]
    Read(#[source] io::Error),
    /// An entry would replace a directory by a non-directory or the reverse (`keep_kinds`).
    #[error("cannot overwrite {existing} {path:?} with {new}")]
    KindConflict {
        path: String,
        existing: &'static str,
        new: &'static str,
    },
}

/// What unpacking learned about the layer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Unpacked {
    /// sha256 of the uncompressed tar stream, `sha256:…`.
    pub diff_id: String,
    /// Sum of the sizes of regular files, as Docker counts a layer's size.
    pub size: u64,
    pub notices: Vec<String>,
}

/// Limits on ids: the user namespace may map only part of the 32-bit range.
#[derive(Debug, Clone, Copy)]
pub struct IdLimits {
    pub uids: u32,
    pub gids: u32,
}

impl IdLimits {
    pub const ALL: IdLimits = IdLimits {
        uids: u32::MAX,
        gids: u32::MAX,
    };
}

/// Who owns what `extract` creates.
#[derive(Debug, Clone, Copy)]
pub enum Owners {
    /// The owners the archive records (an image layer, `cp -a`); ids past the limits collapse
    /// to 0.
    Archive(IdLimits),
    /// Everything to one owner (`cp` into a container: the container's root, as in Docker).
    Fixed(u32, u32),
    /// Left to whoever creates the files (`cp` out of a container: the calling user).
    Creator,
}

/// What an archive means: an image layer, or plain files as `cp` moves them.
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    pub owners: Owners,
    /// `.wh.` entries are overlay whiteouts (layers); otherwise they are files like any other.
    pub whiteouts: bool,
    /// Never replace a directory by a non-directory or the reverse (Docker's cp refuses that).
    pub keep_kinds: bool,
    /// `(old, new)`: entries whose first component is `old` are extracted as `new` (Docker's
    /// RebaseArchiveEntries); an `old` of "." puts every entry beneath `new`.
    pub rebase: Option<(Vec<u8>, Vec<u8>)>,
    /// Create character and block devices. Off for the host's side of a copy out of a
    /// container: a device node there would open the host's device to whoever can reach it.
    pub devices: bool,
    /// Keep the setuid and setgid bits. Off for a copy out of a container (without `-a`): the
    /// container chose those files, and the host should not run them with their owner's ids.
    pub setid: bool,
}

impl ExtractOptions {
    fn layer(limits: IdLimits) -> ExtractOptions {
        ExtractOptions {
            owners: Owners::Archive(limits),
            whiteouts: true,
            keep_kinds: false,
            rebase: None,
            devices: true,
            setid: true,
        }
    }
}

/// Extracts a plain tar stream into the directory `dest`, on the calling thread, with the same
/// refusals as a layer (nothing lands outside `dest` or beneath a symlink). Returns the
/// notices (skipped devices, collapsed owners).
pub fn extract(
    input: impl Read,
    dest: OwnedFd,
    opts: ExtractOptions,
) -> Result<Vec<String>, UnpackError> {
    let mut state = Unpacker::new(dest, opts);
    let mut input = input;
    let result = state.entries(&mut input);
    // Also after a failure: what was extracted gets its directories' modes.
    state.finish_dirs();
    result?;
    Ok(std::mem::take(&mut state.notices).into_list())
}

/// `input` decompressed when it starts with gzip's or zstd's magic bytes, as it is otherwise.
pub fn sniffed<'a>(input: impl Read + 'a) -> io::Result<Box<dyn Read + 'a>> {
    let mut input = BufReader::with_capacity(CHUNK, input);
    let magic = peek(&mut input)?;
    Ok(if magic.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::bufread::MultiGzDecoder::new(input))
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::with_buffer(input)?)
    } else {
        Box::new(input)
    })
}

/// Docker's rebase of one entry name (see `ExtractOptions::rebase`).
pub fn rebased(name: &[u8], old: &[u8], new: &[u8]) -> Vec<u8> {
    let trimmed = {
        let mut n = name;
        loop {
            if let Some(rest) = n.strip_prefix(b"./") {
                n = rest;
            } else if let Some(rest) = n.strip_prefix(b"/") {
                n = rest;
            } else {
                break n;
            }
        }
    };
    let joined = |rest: &[u8]| {
        let mut out = new.to_vec();
        if !rest.is_empty() {
            out.push(b'/');
            out.extend_from_slice(rest);
        }
        out
    };
    if old == b"." {
        return match trimmed {
            b"." => new.to_vec(),
            rest => joined(rest),
        };
    }
    let (first, rest) = match trimmed.iter().position(|b| *b == b'/') {
        Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
        None => (trimmed, &b""[..]),
    };
    if first == old {
        joined(rest)
    } else {
        name.to_vec()
    }
}

/// Decompresses `input` (gzip, zstd or plain tar, sniffed from the magic bytes as Docker does),
/// unpacks it into `dest` (an existing empty directory) and drains the stream to its end so the
/// caller's digest covers every byte.
///
/// Decompressing and hashing run on a second thread, handing the tar stream over in bounded
/// chunks: inflate and file creation each take about half the time of a large layer.
pub fn unpack_layer(
    input: impl Read + Send,
    dest: &Path,
    limits: IdLimits,
) -> Result<Unpacked, UnpackError> {
    let root = rfs::open(
        dest,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )
    .map_err(|e| io_err(dest.to_string_lossy(), e.into()))?;
    let mut state = Unpacker::new(root, ExtractOptions::layer(limits));
    let (tx, rx) = mpsc::sync_channel::<io::Result<Vec<u8>>>(CHUNKS_IN_FLIGHT);
    std::thread::scope(|scope| {
        let decompressor = scope.spawn(move || decompress(input, tx));
        let mut reader = ChannelReader {
            rx,
            chunk: Vec::new(),
            pos: 0,
        };
        tracing::debug!("unpacking");
        let result = state.entries(&mut reader).and_then(|()| {
            // Trailing zero blocks and padding belong to the diff id too.
            io::copy(&mut reader, &mut io::sink())
                .map(|_| ())
                .map_err(UnpackError::Read)
        });
        // Dropping the reader stops the decompressor if we stopped early.
        drop(reader);
        let digest = decompressor
            .join()
            .expect("the decompressing thread does not panic");
        result?;
        let digest = digest.map_err(UnpackError::Read)?;
        tracing::debug!("unpacked all entries");
        state.finish_dirs();
        Ok(Unpacked {
            diff_id: format!("sha256:{digest}"),
            size: state.size,
            notices: std::mem::take(&mut state.notices).into_list(),
        })
    })
}

/// Chunks of decompressed tar waiting to be unpacked: bounds memory at 16 × 256 KiB.
const CHUNKS_IN_FLIGHT: usize = 16;
const CHUNK: usize = 256 * 1024;

/// Reads `input` to its end, decompressing and hashing, and sends the tar stream on. Returns the
/// hex sha256 of the uncompressed stream (the layer's diff id).
fn decompress(input: impl Read, tx: mpsc::SyncSender<io::Result<Vec<u8>>>) -> io::Result<String> {
    let fail = |tx: &mpsc::SyncSender<io::Result<Vec<u8>>>, e: io::Error| {
        let _ = tx.send(Err(io::Error::new(e.kind(), e.to_string())));
        e
    };
    let mut decoder = sniffed(input).map_err(|e| fail(&tx, e))?;
    let mut hasher = Sha256::new();
    loop {
        let mut chunk = vec![0u8; CHUNK];
        let mut filled = 0;
        while filled < CHUNK {
            match decoder.read(&mut chunk[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(fail(&tx, e)),
            }
        }
        if filled == 0 {
            break;
        }
        chunk.truncate(filled);
        hasher.update(&chunk);
        if tx.send(Ok(chunk)).is_err() {
            // The unpacker stopped (an error of its own): nothing more to do.
            return Err(io::Error::other("unpacking stopped"));
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

/// `io::copy` with a large buffer: a layer's big files then take a few hundred writes, not tens
/// of thousands.
fn copy_large(from: &mut impl Read, to: &mut impl Write) -> io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// The receiving end of `decompress`, as a `Read`.
struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn peek(input: &mut BufReader<impl Read>) -> io::Result<Vec<u8>> {
    use std::io::BufRead;
    Ok(input.fill_buf()?.iter().take(4).copied().collect())
}

/// Notices are summarised: one line per kind, however many entries it hit.
#[derive(Default)]
struct Notices {
    counts: HashMap<&'static str, usize>,
    order: Vec<&'static str>,
}

impl Notices {
    fn add(&mut self, what: &'static str) {
        let count = self.counts.entry(what).or_insert(0);
        if *count == 0 {
            self.order.push(what);
        }
        *count += 1;
    }

    fn into_list(self) -> Vec<String> {
        self.order
            .iter()
            .map(|what| format!("{what} ({} entries)", self.counts[what]))
            .collect()
    }
}

struct Unpacker {
    root: OwnedFd,
    opts: ExtractOptions,
    size: u64,
    /// Directory modes and mtimes, set last (the latest entry for a directory wins): adding
    /// entries changes a directory's mtime, and a read-only mode would stop them being added.
    dirs: HashMap<PathBuf, (u32, Timestamps)>,
    notices: Notices,
    /// The last parent directory opened: entries come grouped by directory, so this saves an
    /// open and a close for most of them. Dropped whenever a directory is removed.
    last_dir: Option<(PathBuf, Rc<OwnedFd>)>,
    /// Directories with the setgid bit: new entries there take the directory's group.
    setgid_dirs: HashSet<PathBuf>,
    /// The directory of the entry being unpacked.
    current_parent: PathBuf,
}

/// The parts of a tar header this module acts on, with PAX overrides applied.
#[derive(Clone)]
struct Meta {
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: i64,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Unpacker {
    fn new(root: OwnedFd, opts: ExtractOptions) -> Unpacker {
        Unpacker {
            root,
            opts,
            size: 0,
            dirs: HashMap::new(),
            notices: Notices::default(),
            last_dir: None,
            setgid_dirs: HashSet::new(),
            current_parent: PathBuf::new(),
        }
    }

    fn entries(&mut self, reader: &mut impl Read) -> Result<(), UnpackError> {
        let mut archive = tar::Archive::new(reader);
        let entries = archive
            .entries()
            .map_err(|e| UnpackError::Tar(e.to_string()))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| UnpackError::Tar(e.to_string()))?;
            self.entry(&mut entry)?;
        }
        Ok(())
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<(), UnpackError> {
        let mut raw_path = entry.path_bytes().into_owned();
        if let Some((old, new)) = &self.opts.rebase {
            raw_path = rebased(&raw_path, old, new);
        }
        let shown = String::from_utf8_lossy(&raw_path).into_owned();
        let Some(rel) = clean_path(&raw_path).map_err(|ClimbsOut| UnpackError::Escape {
            path: shown.clone(),
        })?
        else {
            // The root itself ("./"): only its metadata, which a layer may not change.
            return Ok(());
        };
        let meta = self.meta(entry, &shown)?;
        let kind = entry.header().entry_type();
        let size = entry.size();
        if size > MAX_ENTRY_SIZE {
            return Err(UnpackError::AbsurdSize { path: shown, size });
        }
        let (parent_rel, name) = split_parent(&rel);
        let name_bytes = name.as_os_str().as_bytes();

        if self.opts.whiteouts && name_bytes == b".wh..wh..opq" {
            let dir = self.dir(parent_rel, &shown)?;
            rfs::fsetxattr(&dir, "user.overlay.opaque", b"y", XattrFlags::empty())
                .map_err(|e| io_err(&shown, e.into()))?;
            return Ok(());
        }
        if let Some(hidden) = name_bytes
            .strip_prefix(b".wh.")
            .filter(|_| self.opts.whiteouts)
        {
            let dir = self.dir(parent_rel, &shown)?;
            let hidden = OsStr::from_bytes(hidden);
            self.clear(&dir, hidden, &shown)?;
            rfs::mknodat(
                &dir,
                hidden,
                FileType::CharacterDevice,
                Mode::empty(),
                rfs::makedev(0, 0),
            )
            .map_err(|e| io_err(&shown, e.into()))?;
            return Ok(());
        }

        let dir = self.dir(parent_rel, &shown)?;
        match kind {
            tar::EntryType::Directory => self.directory(&dir, &rel, name, &meta, &shown),
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                let create = || {
                    rfs::openat(
                        &*dir,
                        name,
                        OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC,
                        Mode::from_raw_mode(0o600),
                    )
                };
                let fd = self.create_or_replace(&dir, name, &shown, create)?;
                let mut file = File::from(fd);
                let copied = copy_large(entry, &mut file).map_err(|e| io_err(&shown, e))?;
                if copied != size {
                    return Err(UnpackError::Tar(format!("entry {shown:?} is truncated")));
                }
                self.size += copied;
                self.apply_fd(file.as_fd(), &meta, &shown)
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| UnpackError::Tar(format!("symlink {shown:?} has no target")))?
                    .into_owned();
                // Stored as it is: absolute targets are normal in images. It is never followed here.
                let create = || rfs::symlinkat(OsStr::from_bytes(&target), &*dir, name);
                self.create_or_replace(&dir, name, &shown, create)?;
                self.apply_symlink(&dir, name, &meta, &shown)
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| UnpackError::Tar(format!("hard link {shown:?} has no target")))?
                    .into_owned();
                let target = match &self.opts.rebase {
                    Some((old, new)) => rebased(&target, old, new),
                    None => target,
                };
                self.hardlink(&dir, name, &target, &shown)
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                self.special(&dir, name, kind, entry.header(), &meta, &shown)
            }
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => Ok(()),
            other => {
                self.notices
                    .add("skipped tar entries of a type that has no file-system meaning");
                let _ = other;
                Ok(())
            }
        }
    }

    fn meta<R: Read>(
        &mut self,
        entry: &mut tar::Entry<R>,
        shown: &str,
    ) -> Result<Meta, UnpackError> {
        let header = entry.header();
        let bad =
            |field: &str| UnpackError::Tar(format!("entry {shown:?} has a bad {field} field"));
        let mut meta = Meta {
            mode: header.mode().map_err(|_| bad("mode"))? & self.mode_mask(),
            // Empty numeric fields mean 0, as Go's archive/tar reads them.
            uid: header.uid().unwrap_or(0),
            gid: header.gid().unwrap_or(0),
            mtime: header.mtime().unwrap_or(0) as i64,
            xattrs: Vec::new(),
        };
        if let Some(pax) = entry
            .pax_extensions()
            .map_err(|e| UnpackError::Tar(e.to_string()))?
        {
            for ext in pax {
                let ext = ext.map_err(|e| UnpackError::Tar(e.to_string()))?;
                let key = ext.key_bytes();
                let value = ext.value_bytes();
                let number = || {
                    std::str::from_utf8(value)
                        .ok()
                        .and_then(|v| v.split('.').next()?.parse::<i64>().ok())
                };
                match key {
                    b"uid" => meta.uid = number().ok_or_else(|| bad("PAX uid"))? as u64,
                    b"gid" => meta.gid = number().ok_or_else(|| bad("PAX gid"))? as u64,
                    b"mtime" => meta.mtime = number().ok_or_else(|| bad("PAX mtime"))?,
                    _ => {
                        if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                            meta.xattrs.push((name.to_vec(), value.to_vec()));
                        }
                    }
                }
            }
        }
        Ok(meta)
    }

    /// The mode bits an entry may keep.
    fn mode_mask(&self) -> u32 {
        if self.opts.setid {
            0o7777
        } else {
            0o1777
        }
    }

    /// Opens (creating as needed) the directory `rel` beneath the root without following links.
    fn dir(&mut self, rel: &Path, shown: &str) -> Result<Rc<OwnedFd>, UnpackError> {
        self.current_parent = rel.to_path_buf();
        if let Some((cached, fd)) = &self.last_dir {
            if cached == rel {
                return Ok(fd.clone());
            }
        }
        let fd = Rc::new(self.open_dir(rel, shown)?);
        self.last_dir = Some((rel.to_path_buf(), fd.clone()));
        Ok(fd)
    }

    fn open_dir(&mut self, rel: &Path, shown: &str) -> Result<OwnedFd, UnpackError> {
        let flags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC;
        if rel.as_os_str().is_empty() {
            return rfs::openat(&self.root, ".", flags, Mode::empty())
                .map_err(|e| io_err(shown, e.into()));
        }
        match open_beneath(&self.root, rel, flags) {
            Ok(fd) => return Ok(fd),
            Err(Errno::NOENT) => {}
            Err(e) => return Err(beneath_err(e, shown)),
        }
        // Missing parents are created one component at a time, as root-owned 0755 directories.
        let mut current = rfs::openat(&self.root, ".", flags, Mode::empty())
            .map_err(|e| io_err(shown, e.into()))?;
        for part in rel.components() {
            match rfs::mkdirat(&current, part.as_os_str(), Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(io_err(shown, e.into())),
            }
            current = open_beneath(&current, Path::new(part.as_os_str()), flags)
                .map_err(|e| beneath_err(e, shown))?;
        }
        Ok(current)
    }

    fn directory(
        &mut self,
        parent: &OwnedFd,
        rel: &Path,
        name: &Path,
        meta: &Meta,
        shown: &str,
    ) -> Result<(), UnpackError> {
        match rfs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {}
            Ok(_) if self.opts.keep_kinds => {
                return Err(UnpackError::KindConflict {
                    path: shown.to_string(),
                    existing: "non-directory",
                    new: "directory",
                })
            }
            Ok(_) => {
                rfs::unlinkat(parent, name, AtFlags::empty())
                    .map_err(|e| io_err(shown, e.into()))?;
                rfs::mkdirat(parent, name, Mode::from_raw_mode(0o700))
                    .map_err(|e| io_err(shown, e.into()))?;
            }
            Err(Errno::NOENT) => rfs::mkdirat(parent, name, Mode::from_raw_mode(0o700))
                .map_err(|e| io_err(shown, e.into()))?,
            Err(e) => return Err(io_err(shown, e.into())),
        }
        let fd = open_beneath(
            parent,
            name,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        )
        .map_err(|e| beneath_err(e, shown))?;
        // Writable and searchable by its owner until the end (`finish_dirs`), whatever the
        // archive says, so that what the archive puts inside can be created there.
        let filling = Meta {
            mode: meta.mode | 0o700,
            ..meta.clone()
        };
        self.apply_owner_mode_xattrs(fd.as_fd(), &filling, false, shown)?;
        if meta.mode & 0o2000 != 0 {
            self.setgid_dirs.insert(rel.to_path_buf());
        }
        self.dirs
            .insert(rel.to_path_buf(), (meta.mode, timestamps(meta.mtime)));
        Ok(())
    }

    /// Creates an entry, first removing what is in the way when the name is taken. Trying first
    /// saves a stat per entry: names are rarely taken within one layer.
    fn create_or_replace<T>(
        &mut self,
        dir: &OwnedFd,
        name: &Path,
        shown: &str,
        create: impl Fn() -> Result<T, Errno>,
    ) -> Result<T, UnpackError> {
        match create() {
            Err(Errno::EXIST) => {
                self.clear(dir, name.as_os_str(), shown)?;
                create().map_err(|e| io_err(shown, e.into()))
            }
            other => other.map_err(|e| io_err(shown, e.into())),
        }
    }

    /// Removes whatever non-directory is in the way of a new entry of the same name.
    fn clear(&mut self, dir: &OwnedFd, name: &OsStr, shown: &str) -> Result<(), UnpackError> {
        match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
                if self.opts.keep_kinds {
                    return Err(UnpackError::KindConflict {
                        path: shown.to_string(),
                        existing: "directory",
                        new: "non-directory",
                    });
                }
                self.last_dir = None;
                // A directory made again later gets that entry's mode, not the removed one's.
                let removed = self.current_parent.join(name);
                self.dirs.retain(|rel, _| !rel.starts_with(&removed));
                remove_tree_at(dir, name).map_err(|e| io_err(shown, e.into()))
            }
            Ok(_) => {
                rfs::unlinkat(dir, name, AtFlags::empty()).map_err(|e| io_err(shown, e.into()))
            }
            Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(io_err(shown, e.into())),
        }
    }

    fn hardlink(
        &mut self,
        dir: &OwnedFd,
        name: &Path,
        target: &[u8],
        shown: &str,
    ) -> Result<(), UnpackError> {
        let escape = || UnpackError::HardlinkEscape {
            path: shown.to_string(),
            target: String::from_utf8_lossy(target).into_owned(),
        };
        let target_rel = clean_path(target)
            .map_err(|ClimbsOut| escape())?
            .ok_or_else(escape)?;
        let (target_parent, target_name) = split_parent(&target_rel);
        let target_dir = if target_parent.as_os_str().is_empty() {
            rfs::openat(
                &self.root,
                ".",
                OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| io_err(shown, e.into()))?
        } else {
            open_beneath(
                &self.root,
                target_parent,
                OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            )
            .map_err(|e| match e {
                // Through a symlink (ELOOP, or ENOTDIR for the last component) or out (EXDEV).
                Errno::LOOP | Errno::XDEV | Errno::NOTDIR => escape(),
                other => io_err(shown, other.into()),
            })?
        };
        self.clear(dir, name.as_os_str(), shown)?;
        // Flags 0: a link to a symlink links the symlink itself, never what it points at.
        rfs::linkat(&target_dir, target_name, dir, name, AtFlags::empty())
            .map_err(|e| io_err(shown, e.into()))
    }

    fn special(
        &mut self,
        dir: &OwnedFd,
        name: &Path,
        kind: tar::EntryType,
        header: &tar::Header,
        meta: &Meta,
        shown: &str,
    ) -> Result<(), UnpackError> {
        let major = header.device_major().ok().flatten().unwrap_or(0);
        let minor = header.device_minor().ok().flatten().unwrap_or(0);
        let file_type = match kind {
            tar::EntryType::Char => FileType::CharacterDevice,
            tar::EntryType::Block => FileType::BlockDevice,
            _ => FileType::Fifo,
        };
        if file_type == FileType::CharacterDevice && major == 0 && minor == 0 {
            // A 0/0 device would act as an overlay whiteout; layers express those as .wh. files.
            self.notices.add("skipped 0/0 character devices");
            return Ok(());
        }
        if file_type != FileType::Fifo && !self.opts.devices {
            self.notices.add("skipped device nodes");
            return Ok(());
        }
        self.clear(dir, name.as_os_str(), shown)?;
        let dev: Dev = rfs::makedev(major, minor);
        // Made with its mode (less the umask) rather than changed after by name: a name can be
        // swapped for a symlink in between, and chmod follows symlinks.
        let mode = Mode::from_raw_mode(meta.mode);
        match rfs::mknodat(dir, name, file_type, mode, dev) {
            Ok(()) => {}
            Err(Errno::PERM) | Err(Errno::ACCESS) if file_type != FileType::Fifo => {
                self.notices
                    .add("skipped device nodes: they can't be created without privileges");
                return Ok(());
            }
            Err(e) => return Err(io_err(shown, e.into())),
        }
        // From here on through a descriptor of the node just made (O_PATH opens neither a
        // device nor a FIFO), checked to be that node.
        let fd = rfs::openat(
            dir,
            name,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io_err(shown, e.into()))?;
        let st = rfs::fstat(&fd).map_err(|e| io_err(shown, e.into()))?;
        if FileType::from_raw_mode(st.st_mode) != file_type
            || (file_type != FileType::Fifo && st.st_rdev != dev)
        {
            return Err(io_err(
                shown,
                io::Error::other("replaced while it was being created"),
            ));
        }
        self.apply_special(&fd, st.st_mode & 0o7777, dir, name, meta, shown)
    }

    /// The owner to give an entry; `None` to leave it to its creator.
    fn owner(&mut self, meta: &Meta) -> Option<(u32, u32)> {
        let limits = match self.opts.owners {
            Owners::Archive(limits) => limits,
            Owners::Fixed(uid, gid) => return Some((uid, gid)),
            Owners::Creator => return None,
        };
        let mut clamp = |id: u64, limit: u32| -> u32 {
            if id < u64::from(limit) {
                id as u32
            } else {
                self.notices.add(
                    "file owners outside the user's id range were mapped to root in the container",
                );
                0
            }
        };
        let uid = clamp(meta.uid, limits.uids);
        let gid = clamp(meta.gid, limits.gids);
        Some((uid, gid))
    }

    fn apply_owner_mode_xattrs(
        &mut self,
        fd: std::os::fd::BorrowedFd<'_>,
        meta: &Meta,
        fresh: bool,
        shown: &str,
    ) -> Result<(), UnpackError> {
        // Owner first: chown clears the setuid and setgid bits.
        if let Some((uid, gid)) = self
            .owner(meta)
            .filter(|(uid, gid)| !(fresh && self.owned_by_creator(*uid, *gid)))
        {
            rfs::fchown(
                fd,
                Some(rfs::Uid::from_raw(uid)),
                Some(rfs::Gid::from_raw(gid)),
            )
            .map_err(|e| io_err(shown, e.into()))?;
        }
        rfs::fchmod(fd, Mode::from_raw_mode(meta.mode)).map_err(|e| io_err(shown, e.into()))?;
        for (key, value) in &meta.xattrs {
            if let Err(e) = rfs::fsetxattr(fd, OsStr::from_bytes(key), value, XattrFlags::empty()) {
                let _ = e;
                self.notices
                    .add("skipped extended attributes the file system or user namespace refused");
            }
        }
        Ok(())
    }

    /// Whether a new entry already has this owner: we create as root, and a setgid directory
    /// would have given it its own group instead.
    fn owned_by_creator(&self, uid: u32, gid: u32) -> bool {
        uid == 0 && gid == 0 && !self.setgid_dirs.contains(&self.current_parent)
    }

    fn apply_fd(
        &mut self,
        fd: std::os::fd::BorrowedFd<'_>,
        meta: &Meta,
        shown: &str,
    ) -> Result<(), UnpackError> {
        self.apply_owner_mode_xattrs(fd, meta, true, shown)?;
        rfs::futimens(fd, &timestamps(meta.mtime)).map_err(|e| io_err(shown, e.into()))
    }

    fn apply_symlink(
        &mut self,
        dir: &OwnedFd,
        name: &Path,
        meta: &Meta,
        shown: &str,
    ) -> Result<(), UnpackError> {
        self.chown_at(dir.as_fd(), name, AtFlags::SYMLINK_NOFOLLOW, meta, shown)?;
        set_mtime_at(dir, name, meta, shown)
    }

    /// The entry's owner, where it differs from the creator's: `at`/`name` with `flags`
    /// (`SYMLINK_NOFOLLOW`, or `EMPTY_PATH` on a descriptor).
    fn chown_at(
        &mut self,
        at: std::os::fd::BorrowedFd<'_>,
        name: &Path,
        flags: AtFlags,
        meta: &Meta,
        shown: &str,
    ) -> Result<(), UnpackError> {
        if let Some((uid, gid)) = self
            .owner(meta)
            .filter(|(uid, gid)| !self.owned_by_creator(*uid, *gid))
        {
            rfs::chownat(
                at,
                name,
                Some(rfs::Uid::from_raw(uid)),
                Some(rfs::Gid::from_raw(gid)),
                flags,
            )
            .map_err(|e| io_err(shown, e.into()))?;
        }
        Ok(())
    }

    /// Owner, mode and mtime of a device node or FIFO, given an `O_PATH` descriptor of it and
    /// the mode it was made with. Nothing here follows a symlink.
    fn apply_special(
        &mut self,
        fd: &OwnedFd,
        made: u32,
        dir: &OwnedFd,
        name: &Path,
        meta: &Meta,
        shown: &str,
    ) -> Result<(), UnpackError> {
        self.chown_at(fd.as_fd(), Path::new(""), AtFlags::EMPTY_PATH, meta, shown)?;
        if made != meta.mode {
            // The umask took bits away (or chown cleared setuid/setgid).
            crate::sys::chmod_fd(fd.as_fd(), meta.mode).map_err(|e| io_err(shown, e))?;
        }
        set_mtime_at(dir, name, meta, shown)
    }

    /// Gives directories their modes and mtimes, the deepest first: a parent made read-only
    /// or unsearchable before its children would keep them from being reached.
    fn finish_dirs(&mut self) {
        let mut dirs: Vec<_> = self.dirs.drain().collect();
        dirs.sort_by_key(|(rel, _)| std::cmp::Reverse(rel.components().count()));
        for (rel, (mode, times)) in dirs {
            // Best effort: a directory replaced later in the layer is simply gone.
            if let Ok(fd) = open_beneath(
                &self.root,
                &rel,
                OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            ) {
                let _ = rfs::fchmod(&fd, Mode::from_raw_mode(mode));
                let _ = rfs::futimens(&fd, &times);
            }
        }
    }
}

fn open_beneath(dir: &OwnedFd, rel: &Path, flags: OFlags) -> Result<OwnedFd, Errno> {
    crate::sys::openat2(
        dir,
        rel,
        flags | OFlags::NOFOLLOW,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    )
}

fn beneath_err(e: Errno, shown: &str) -> UnpackError {
    match e {
        Errno::LOOP | Errno::NOTDIR => UnpackError::BeneathSymlink {
            path: shown.to_string(),
        },
        Errno::XDEV => UnpackError::Escape {
            path: shown.to_string(),
        },
        other => io_err(shown, other.into()),
    }
}

fn io_err(path: impl Into<String>, source: io::Error) -> UnpackError {
    UnpackError::Io {
        path: path.into(),
        source,
    }
}

/// The entry's mtime, on `name` in `dir` itself (never through a symlink).
fn set_mtime_at(dir: &OwnedFd, name: &Path, meta: &Meta, shown: &str) -> Result<(), UnpackError> {
    rfs::utimensat(
        dir,
        name,
        &timestamps(meta.mtime),
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(|e| io_err(shown, e.into()))
}

fn timestamps(mtime: i64) -> Timestamps {
    let t = rfs::Timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// A name that climbs above the layer root.
#[derive(Debug, PartialEq, Eq)]
pub struct ClimbsOut;

/// Lexically cleans an entry name. Absolute names are taken relative to the layer root; a name
/// that climbs above the root is an error; the root itself is `None`.
pub fn clean_path(raw: &[u8]) -> Result<Option<PathBuf>, ClimbsOut> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in raw.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if parts.pop().is_none() {
                    return Err(ClimbsOut);
                }
            }
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return Ok(None);
    }
    Ok(Some(PathBuf::from(OsStr::from_bytes(&parts.join(&b'/')))))
}

fn split_parent(rel: &Path) -> (&Path, &Path) {
    let parent = rel.parent().unwrap_or(Path::new(""));
    let name = rel.file_name().map(Path::new).unwrap_or(rel);
    (parent, name)
}

pub use crate::sys::tree::{remove_tree, remove_tree_at};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_paths() {
        let c = |s: &str| clean_path(s.as_bytes()).map(|p| p.map(|p| p.display().to_string()));
        assert_eq!(c("./a/b"), Ok(Some("a/b".into())));
        assert_eq!(c("/tmp/x"), Ok(Some("tmp/x".into())));
        assert_eq!(c("a/../b"), Ok(Some("b".into())));
        assert_eq!(c("./"), Ok(None));
        assert_eq!(c("../x"), Err(ClimbsOut));
        assert_eq!(c("a/../../x"), Err(ClimbsOut));
    }

    fn tar_with(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().unwrap()
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mtime(1_000_000_000);
        b.append_data(&mut h, path, data).unwrap();
    }

    fn link(b: &mut tar::Builder<Vec<u8>>, kind: tar::EntryType, path: &str, target: &str) {
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_mode(0o777);
        h.set_entry_type(kind);
        b.append_link(&mut h, path, target).unwrap();
    }

    fn limits() -> IdLimits {
        // Unit tests run unprivileged or as root; chown to our own ids always works.
        IdLimits { uids: 1, gids: 1 }
    }

    #[test]
    fn unpacks_files_links_and_whiteouts() {
        let data = tar_with(|b| {
            file(b, "a/b.txt", b"hello");
            link(b, tar::EntryType::Symlink, "a/link", "/etc/passwd");
            link(b, tar::EntryType::Link, "a/hard", "a/b.txt");
            file(b, "a/.wh.gone", b"");
            file(b, "o/.wh..wh..opq", b"");
        });
        let dir = tempfile::tempdir().unwrap();
        let got = unpack_layer(&data[..], dir.path(), limits());
        // Whiteouts need mknod of 0/0, which some sandboxes forbid; everything else must work.
        let got = got.unwrap();
        assert_eq!(got.size, 5);
        assert_eq!(
            got.diff_id,
            format!("sha256:{}", hex::encode(Sha256::digest(&data)))
        );
        let root = dir.path();
        assert_eq!(std::fs::read(root.join("a/b.txt")).unwrap(), b"hello");
        assert_eq!(
            std::fs::read_link(root.join("a/link")).unwrap(),
            Path::new("/etc/passwd")
        );
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            std::fs::metadata(root.join("a/hard")).unwrap().ino(),
            std::fs::metadata(root.join("a/b.txt")).unwrap().ino()
        );
        let wh = std::fs::symlink_metadata(root.join("a/gone")).unwrap();
        assert_eq!(wh.rdev(), 0);
        use std::os::unix::fs::FileTypeExt;
        assert!(wh.file_type().is_char_device());
    }

    #[test]
    fn refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let layer = dir.path().join("layer");
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                tar_with(|b| {
                    let mut h = tar::Header::new_gnu();
                    h.set_size(1);
                    h.set_mode(0o644);
                    h.set_entry_type(tar::EntryType::Regular);
                    // Set the name bytes directly: the builder itself refuses '..'.
                    h.as_old_mut().name[..12].copy_from_slice(b"../outside/x");
                    h.set_cksum();
                    b.append(&h, &b"x"[..]).unwrap();
                }),
                "climbs out",
            ),
            (
                tar_with(|b| {
                    link(b, tar::EntryType::Symlink, "esc", "../outside");
                    file(b, "esc/pwned", b"x");
                }),
                "beneath a symbolic link",
            ),
            (
                tar_with(|b| {
                    let mut h = tar::Header::new_gnu();
                    h.set_size(0);
                    h.set_mode(0o644);
                    h.set_entry_type(tar::EntryType::Link);
                    h.as_old_mut().name[..2].copy_from_slice(b"hl");
                    h.as_old_mut().linkname[..12].copy_from_slice(b"../outside/y");
                    h.set_cksum();
                    b.append(&h, &b""[..]).unwrap();
                }),
                "points outside",
            ),
        ];
        for (data, want) in cases {
            let _ = remove_tree(&layer);
            std::fs::create_dir(&layer).unwrap();
            let err = unpack_layer(&data[..], &layer, limits()).unwrap_err();
            assert!(err.to_string().contains(want), "{err} should say {want}");
            assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        }
    }

    #[test]
    fn rebasing_renames_the_first_component() {
        let r = |name: &str, old: &str, new: &str| {
            String::from_utf8(rebased(name.as_bytes(), old.as_bytes(), new.as_bytes())).unwrap()
        };
        assert_eq!(r("dir/sub/f", "dir", "new"), "new/sub/f");
        assert_eq!(r("./dir", "dir", "new"), "new");
        assert_eq!(r("dirty/f", "dir", "new"), "dirty/f");
        assert_eq!(r("./a/b", ".", "new"), "new/a/b");
        assert_eq!(r(".", ".", "new"), "new");
    }

    #[test]
    fn plain_archives_keep_kinds_and_names() {
        let data = tar_with(|b| {
            file(b, "top/.wh.kept", b"1");
            file(b, "top/d", b"2");
        });
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("new/d")).unwrap();
        let open = || {
            rfs::open(
                dir.path(),
                OFlags::DIRECTORY | OFlags::RDONLY,
                Mode::empty(),
            )
            .unwrap()
        };
        let opts = ExtractOptions {
            owners: Owners::Creator,
            whiteouts: false,
            keep_kinds: true,
            rebase: Some((b"top".to_vec(), b"new".to_vec())),
            devices: false,
            setid: false,
        };
        let err = extract(&data[..], open(), opts.clone()).unwrap_err();
        assert!(
            err.to_string().contains("cannot overwrite directory"),
            "{err}"
        );
        // A `.wh.` name is a file like any other outside a layer.
        assert_eq!(
            std::fs::read(dir.path().join("new/.wh.kept")).unwrap(),
            b"1"
        );
        assert!(dir.path().join("new/d").is_dir());
    }

    fn entry(b: &mut tar::Builder<Vec<u8>>, kind: tar::EntryType, path: &str, mode: u32) {
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_mode(mode);
        h.set_entry_type(kind);
        h.set_mtime(1_000_000_000);
        if kind == tar::EntryType::Char {
            h.set_device_major(1).unwrap();
            h.set_device_minor(3).unwrap();
        }
        b.append_data(&mut h, path, &b""[..]).unwrap();
    }

    fn host_options() -> ExtractOptions {
        ExtractOptions {
            owners: Owners::Creator,
            whiteouts: false,
            keep_kinds: true,
            rebase: None,
            devices: false,
            setid: false,
        }
    }

    fn open_dir(p: &Path) -> OwnedFd {
        rfs::open(p, OFlags::DIRECTORY | OFlags::RDONLY, Mode::empty()).unwrap()
    }

    fn mode_of(p: &Path) -> u32 {
        use std::os::unix::fs::MetadataExt;
        std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn read_only_directories_get_their_mode_once_filled() {
        let data = tar_with(|b| {
            entry(b, tar::EntryType::Directory, "ro", 0o555);
            entry(b, tar::EntryType::Directory, "ro/sub", 0o500);
            file(b, "ro/sub/f", b"x");
            file(b, "ro/g", b"y");
        });
        let dir = tempfile::tempdir().unwrap();
        extract(&data[..], open_dir(dir.path()), host_options()).unwrap();
        assert_eq!(std::fs::read(dir.path().join("ro/sub/f")).unwrap(), b"x");
        assert_eq!(std::fs::read(dir.path().join("ro/g")).unwrap(), b"y");
        assert_eq!(mode_of(&dir.path().join("ro")), 0o555);
        assert_eq!(mode_of(&dir.path().join("ro/sub")), 0o500);
        use std::os::unix::fs::MetadataExt;
        let mtime = std::fs::metadata(dir.path().join("ro")).unwrap().mtime();
        assert_eq!(mtime, 1_000_000_000);
        // The temporary directory must stay removable.
        for d in ["ro", "ro/sub"] {
            std::fs::set_permissions(
                dir.path().join(d),
                std::os::unix::fs::PermissionsExt::from_mode(0o755),
            )
            .unwrap();
        }
    }

    #[test]
    fn onto_the_host_no_devices_and_no_setid_bits() {
        let data = tar_with(|b| {
            let mut h = tar::Header::new_gnu();
            h.set_size(1);
            h.set_mode(0o6755);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, "suid", &b"x"[..]).unwrap();
            entry(b, tar::EntryType::Char, "null", 0o666);
            entry(b, tar::EntryType::Fifo, "fifo", 0o4666);
        });
        let dir = tempfile::tempdir().unwrap();
        let notices = extract(&data[..], open_dir(dir.path()), host_options()).unwrap();
        assert_eq!(mode_of(&dir.path().join("suid")), 0o755);
        assert!(!dir.path().join("null").exists());
        assert_eq!(notices, ["skipped device nodes (1 entries)"]);
        // The FIFO gets its full mode (no umask, no setuid bit) without a chmod by name.
        assert_eq!(mode_of(&dir.path().join("fifo")), 0o666);
        // With -a the bits stay.
        let kept = tempfile::tempdir().unwrap();
        let opts = ExtractOptions {
            setid: true,
            ..host_options()
        };
        extract(&data[..], open_dir(kept.path()), opts).unwrap();
        assert_eq!(mode_of(&kept.path().join("suid")), 0o6755);
        assert_eq!(mode_of(&kept.path().join("fifo")), 0o4666);
    }

    #[test]
    fn gzip_and_zstd_are_sniffed() {
        let data = tar_with(|b| file(b, "f", b"1"));
        let want = format!("sha256:{}", hex::encode(Sha256::digest(&data)));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(&data[..], 1).unwrap();
        for blob in [gz, zst] {
            let dir = tempfile::tempdir().unwrap();
            let got = unpack_layer(&blob[..], dir.path(), limits()).unwrap();
            assert_eq!(got.diff_id, want);
        }
    }
}
