//! `attach` and `start -a`: the container's streams over a unix socket that its monitor
//! serves in the container's runtime directory.
//!
//! The socket is SOCK_SEQPACKET, so each message keeps its bounds and carries its kind in its
//! first byte. From the monitor: `1` stdout, `2` stderr (the bytes follow), `x` the run ended
//! (its exit code follows, in decimal). From a client: `0` stdin bytes, `e` end of stdin,
//! `w` the terminal's size (rows and columns, two u16 little-endian each). Any number of
//! clients may attach; each gets the output from the moment it attached (`logs` has the rest).
//!
//! The detach keys (Ctrl-P Ctrl-Q unless `--detach-keys` says otherwise) are watched on the
//! client's side, in what it reads from its stdin: the keys never reach the container.

use std::io::{self, IoSlice, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustix::net::{
    AddressFamily, RecvFlags, SendAncillaryBuffer, SendFlags, SocketAddrUnix, SocketFlags,
    SocketType,
};

use crate::engine::container::record::ContainerRecord;
use crate::engine::Engine;
use crate::runtime::tty::RawMode;
use crate::Error;

const SOCKET: &str = "attach";
const STDIN: u8 = b'0';
const STDOUT: u8 = b'1';
const STDIN_END: u8 = b'e';
const RESIZE: u8 = b'w';
/// A client's first message when it passes its stdin on.
const HELLO_STDIN: u8 = b'i';
/// A client leaves on purpose (the detach keys): the container goes on without it.
const DETACH: u8 = b'd';
const EXIT: u8 = b'x';
/// The largest message: a read of the container's output and its kind.
const MESSAGE: usize = 32 * 1024 + 1;

/// The socket's path, through a descriptor of the runtime directory: the directory's own
/// path may be longer than a socket address holds (108 bytes).
fn socket_address(dir: &OwnedFd) -> io::Result<SocketAddrUnix> {
    let path = format!("/proc/self/fd/{}/{SOCKET}", dir.as_raw_fd());
    Ok(SocketAddrUnix::new(path.as_str())?)
}

fn open_dir(dir: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        dir,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?)
}

fn send(fd: &OwnedFd, kind: u8, data: &[u8]) -> io::Result<()> {
    rustix::net::sendmsg(
        fd,
        &[IoSlice::new(&[kind]), IoSlice::new(data)],
        &mut SendAncillaryBuffer::default(),
        SendFlags::NOSIGNAL,
    )?;
    Ok(())
}

/// The monitor's side: the listening socket and the attached clients.
pub struct Attachments {
    listener: OwnedFd,
    clients: Vec<Client>,
    /// Accepting failed (out of descriptors): the listener is left alone until a client
    /// leaves, rather than polled readable in a loop.
    paused: bool,
    /// `run` in the foreground: the starting command's connection. Its output is never
    /// dropped (the container waits for it instead, as with a pipe), and when it goes
    /// without detaching (skiff was killed) the container must go too.
    owner: Option<std::os::fd::RawFd>,
    owner_gone: bool,
}

/// One attached client. Its socket never blocks the monitor: output it has not taken yet
/// waits in `queue`, and a client that falls too far behind is let go.
struct Client {
    fd: OwnedFd,
    queue: std::collections::VecDeque<Vec<u8>>,
    queued: usize,
    /// It passes its stdin on (said by its first message).
    stdin: bool,
}

/// Output a client may leave unread before it is let go.
const CLIENT_BACKLOG: usize = 4 << 20;
const MAX_CLIENTS: usize = 64;

impl Client {
    /// Sends what is queued; false when the client is gone.
    fn flush(&mut self) -> bool {
        while let Some(msg) = self.queue.front() {
            match rustix::net::send(&self.fd, msg, SendFlags::NOSIGNAL | SendFlags::DONTWAIT) {
                Ok(_) => {
                    self.queued -= msg.len();
                    self.queue.pop_front();
                }
                Err(rustix::io::Errno::AGAIN) => return true,
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => return false,
            }
        }
        true
    }

    /// Sends one message, or queues it behind others; false when the client is gone or
    /// too far behind (`unbounded`: it may be as far behind as it likes).
    fn push(&mut self, kind: u8, data: &[u8], unbounded: bool) -> bool {
        if self.queue.is_empty() {
            match rustix::net::sendmsg(
                &self.fd,
                &[IoSlice::new(&[kind]), IoSlice::new(data)],
                &mut SendAncillaryBuffer::default(),
                SendFlags::NOSIGNAL | SendFlags::DONTWAIT,
            ) {
                Ok(_) => return true,
                Err(rustix::io::Errno::AGAIN) => {}
                Err(_) => return false,
            }
        }
        if self.queued + data.len() > CLIENT_BACKLOG && !unbounded {
            return false;
        }
        let mut msg = Vec::with_capacity(data.len() + 1);
        msg.push(kind);
        msg.extend_from_slice(data);
        self.queued += msg.len();
        self.queue.push_back(msg);
        true
    }
}

/// What a client asked of the container's stdin.
pub enum Request<'a> {
    Input(&'a [u8]),
    /// The end of the client's input, or the client left; `stdin`: it was passing its
    /// stdin on (only then does the container's stdin end with it, Docker's StdinOnce).
    End {
        stdin: bool,
    },
    Resize(u16, u16),
    Nothing,
}

impl Attachments {
    /// Listens in the runtime directory `dir`.
    pub fn listen(dir: &Path) -> io::Result<Attachments> {
        let dir_fd = open_dir(dir)?;
        let listener = rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            None,
        )?;
        // A monitor that was killed left its socket; one monitor runs per container.
        let _ = rustix::fs::unlinkat(&dir_fd, SOCKET, rustix::fs::AtFlags::empty());
        rustix::net::bind(&listener, &socket_address(&dir_fd)?)?;
        rustix::net::listen(&listener, 16)?;
        Ok(Attachments {
            listener,
            clients: Vec::new(),
            paused: false,
            owner: None,
            owner_gone: false,
        })
    }

    /// `run` in the foreground: the client that connected first is the starting command.
    pub fn set_owner(&mut self) {
        self.owner = self.clients.first().map(|c| c.fd.as_raw_fd());
    }

    /// The starting command went without detaching (once): the container must end.
    pub fn take_owner_gone(&mut self) -> bool {
        std::mem::take(&mut self.owner_gone)
    }

    /// The starting command has fallen behind: the container's output waits for it.
    pub fn owner_behind(&self) -> bool {
        self.owner.is_some_and(|o| {
            self.clients
                .iter()
                .any(|c| c.fd.as_raw_fd() == o && c.queued > CLIENT_BACKLOG)
        })
    }

    /// Client `index` is let go.
    fn drop_client(&mut self, index: usize) {
        let c = self.clients.remove(index);
        if self.owner == Some(c.fd.as_raw_fd()) {
            self.owner = None;
            self.owner_gone = true;
        }
        self.paused = false;
    }

    /// The listener, while it may be polled.
    pub fn listener(&self) -> Option<&OwnedFd> {
        (!self.paused && self.clients.len() < MAX_CLIENTS).then_some(&self.listener)
    }

    /// Each client's socket, and whether output waits for it.
    pub fn clients(&self) -> impl Iterator<Item = (&OwnedFd, bool)> {
        self.clients.iter().map(|c| (&c.fd, !c.queue.is_empty()))
    }

    /// Takes every waiting client.
    pub fn accept(&mut self) {
        while self.clients.len() < MAX_CLIENTS {
            match rustix::net::accept_with(
                &self.listener,
                SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            ) {
                Ok(fd) => self.clients.push(Client {
                    fd,
                    queue: Default::default(),
                    queued: 0,
                    stdin: false,
                }),
                Err(rustix::io::Errno::AGAIN) => return,
                Err(rustix::io::Errno::INTR | rustix::io::Errno::CONNABORTED) => {}
                Err(_) => {
                    self.paused = true;
                    return;
                }
            }
        }
    }

    /// `start -a`: waits up to `limit` for the starting command to connect; false at once when
    /// `starter` (the socket to that command, which sends nothing more) reads as closed: it
    /// was killed and will never connect.
    pub fn wait_for_client(
        &mut self,
        limit: Duration,
        starter: Option<&std::os::unix::net::UnixStream>,
    ) -> bool {
        use rustix::event::{PollFd, PollFlags};
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let timeout = rustix::event::Timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: left.subsec_nanos() as _,
            };
            let mut fds = vec![PollFd::new(&self.listener, PollFlags::IN)];
            if let Some(s) = starter {
                fds.push(PollFd::new(s, PollFlags::IN));
            }
            match rustix::event::poll(&mut fds, Some(&timeout)) {
                Err(rustix::io::Errno::INTR) => continue,
                Ok(0) | Err(_) => return false,
                Ok(_) => {}
            }
            if fds.get(1).is_some_and(|f| !f.revents().is_empty()) && fds[0].revents().is_empty() {
                return false;
            }
            self.accept();
            return !self.clients.is_empty();
        }
    }

    /// Sends output of `stream` (0 stdout, 1 stderr) to every client; one that is gone or
    /// too far behind is let go (`logs` has everything).
    pub fn broadcast(&mut self, stream: usize, data: &[u8]) {
        let kind = STDOUT + stream as u8;
        let mut k = 0;
        while k < self.clients.len() {
            let owner = self.owner == Some(self.clients[k].fd.as_raw_fd());
            if self.clients[k].push(kind, data, owner) {
                k += 1;
            } else {
                self.drop_client(k);
            }
        }
    }

    /// Client `index` can take more: sends what waits for it. False when it is gone.
    pub fn flush(&mut self, index: usize) -> bool {
        let Some(c) = self.clients.get_mut(index) else {
            return false;
        };
        if c.flush() {
            return true;
        }
        self.drop_client(index);
        false
    }

    /// Reads one message from client `index` (ready to read) into `buf`.
    pub fn receive<'a>(&mut self, index: usize, buf: &'a mut [u8]) -> Request<'a> {
        let Some(client) = self.clients.get_mut(index) else {
            return Request::Nothing;
        };
        let n = match rustix::net::recv(&client.fd, &mut *buf, RecvFlags::DONTWAIT) {
            Ok((n, _)) => n,
            Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => return Request::Nothing,
            Err(_) => 0,
        };
        let stdin = client.stdin;
        match (buf.first(), n) {
            (_, 0) | (None, _) => {
                self.drop_client(index);
                if self.owner_gone {
                    // The starting command was killed: the container is, not its input ended.
                    Request::Nothing
                } else {
                    Request::End { stdin }
                }
            }
            (Some(&DETACH), _) => {
                // Leaving on purpose ends neither the container nor its input.
                client.stdin = false;
                if self.owner == Some(client.fd.as_raw_fd()) {
                    self.owner = None;
                }
                Request::Nothing
            }
            (Some(&HELLO_STDIN), _) => {
                client.stdin = true;
                Request::Nothing
            }
            (Some(&STDIN), n) => Request::Input(&buf[1..n]),
            (Some(&STDIN_END), _) => {
                client.stdin = false;
                Request::End { stdin }
            }
            (Some(&RESIZE), 5) => Request::Resize(
                u16::from_le_bytes([buf[1], buf[2]]),
                u16::from_le_bytes([buf[3], buf[4]]),
            ),
            _ => Request::Nothing,
        }
    }

    /// The run ended with `code`: every client gets what is left for it (for a few seconds
    /// at most: a client that doesn't read must not hold the monitor), then the code, and
    /// is let go.
    pub fn finish(&mut self, code: i32) {
        self.accept();
        let code = code.to_string();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut scratch = vec![0u8; MESSAGE];
        for mut c in self.clients.drain(..) {
            // What it sent and nobody read would make the kernel reset the connection on
            // close, and the client lose the code: read it away first.
            while let Ok((1.., _)) = rustix::net::recv(&c.fd, &mut scratch, RecvFlags::DONTWAIT) {}
            let mut ok = c.push(EXIT, code.as_bytes(), true);
            while ok && !c.queue.is_empty() {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    break;
                }
                let mut fds = [rustix::event::PollFd::new(
                    &c.fd,
                    rustix::event::PollFlags::OUT,
                )];
                let wait = rustix::event::Timespec {
                    tv_sec: 0,
                    tv_nsec: left.min(Duration::from_millis(100)).as_nanos() as i64,
                };
                let _ = rustix::event::poll(&mut fds, Some(&wait));
                ok = c.flush();
            }
        }
        self.paused = false;
    }
}

/// A client's connection to a container's monitor.
pub struct Connection(OwnedFd);

/// Connects to the monitor of the container whose runtime directory is `dir`.
pub fn connect(dir: &Path) -> io::Result<Connection> {
    let dir_fd = open_dir(dir)?;
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )?;
    rustix::net::connect(&fd, &socket_address(&dir_fd)?)?;
    Ok(Connection(fd))
}

/// How skiff attaches.
#[derive(Debug, Clone)]
pub struct AttachOptions {
    /// Pass skiff's stdin on (the container was made with `-i` and no `--no-stdin`).
    pub stdin: bool,
    /// The key sequence that detaches (empty: none).
    pub detach_keys: Vec<u8>,
    /// Pass the signals skiff receives on to the container (not with a terminal, where
    /// Ctrl-C is a byte the terminal turns into a signal).
    pub sig_proxy: bool,
}

/// How an attachment ended.
enum Outcome {
    Exited(i32),
    Detached,
    /// The monitor went away without a word.
    Lost,
}

/// The default detach keys, Docker's.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// Docker's detach key syntax: keys separated by commas, each a single character or `ctrl-`
/// (any case) and one of `a`-`z`, `@`, `[`, `\`, `]`, `^`, `_`. An empty string means the
/// default, as in Docker.
pub fn parse_detach_keys(spec: &str) -> Result<Vec<u8>, Error> {
    let bad = || {
        Error::Invalid(format!(
            "invalid detach keys {spec:?}: give keys separated by commas, each a character \
             or ctrl-<a-z, @, [, \\, ], ^, _> (e.g. ctrl-p,ctrl-q)"
        ))
    };
    if spec.is_empty() {
        return parse_detach_keys(DEFAULT_DETACH_KEYS);
    }
    spec.split(',')
        .map(|key| {
            let key = key.trim();
            let ctrl = key
                .get(..5)
                .filter(|p| p.eq_ignore_ascii_case("ctrl-"))
                .map(|_| key[5..].to_ascii_lowercase());
            (key, ctrl)
        })
        .map(|(key, ctrl)| match ctrl.as_deref() {
            Some(k) if k.len() == 1 => match k.as_bytes()[0] {
                c @ b'a'..=b'z' => Ok(c - b'a' + 1),
                c @ (b'@' | b'[' | b'\\' | b']' | b'^' | b'_') => Ok(c - b'@'),
                _ => Err(bad()),
            },
            Some(_) => Err(bad()),
            None if key.len() == 1 => Ok(key.as_bytes()[0]),
            None => Err(bad()),
        })
        .collect()
}

impl Engine {
    /// `skiff attach`: the running container's streams, until it exits (its code) or the
    /// detach keys (0).
    pub fn attach(&self, name: &str, opts: &AttachOptions) -> Result<i32, Error> {
        let record = self.find_container(name)?;
        if record.state.status != "running" || !self.container_alive(&record) {
            return Err(Error::Conflict(
                "you cannot attach to a stopped container, start it first".into(),
            ));
        }
        let conn = connect(&self.container_run_dir(&record.id)).map_err(|e| {
            let ended = self
                .find_container(&record.id)
                .map_or(true, |r| r.state.status != "running");
            if ended {
                Error::Conflict("you cannot attach to a stopped container, start it first".into())
            } else if e.kind() == io::ErrorKind::NotFound {
                // `run` without -d holds its container itself, with no socket to attach to.
                Error::Conflict(format!(
                    "container {} runs in the foreground of another skiff: only containers \
                     started with run -d or start can be attached to",
                    record.name
                ))
            } else {
                Error::Other(format!(
                    "attaching to {}: its monitor does not answer ({e})",
                    record.name
                ))
            }
        })?;
        self.attached(&record, conn, opts)
    }

    /// `start -a`: starts the container under its monitor, attached from its first byte.
    pub fn start_and_attach(
        &self,
        name: &str,
        opts: &AttachOptions,
        notices: crate::engine::Notices<'_>,
    ) -> Result<i32, Error> {
        let (record, conn) = self.launch_monitor(
            name,
            crate::engine::container::monitor::Launch::Attached,
            notices,
        )?;
        match conn {
            Some(conn) => self.attached(&record, conn, opts),
            // Already running: attach to it as it is.
            None => self.attach(&record.id, opts),
        }
    }

    pub(crate) fn attached(
        &self,
        record: &ContainerRecord,
        conn: Connection,
        opts: &AttachOptions,
    ) -> Result<i32, Error> {
        let init = self.init_pid(record).unwrap_or(0);
        let sig_proxy = opts.sig_proxy && !record.tty && init > 0;
        if sig_proxy {
            crate::sys::forward_signals(init, false);
        }
        // As Docker: the detach keys are watched only with a terminal (raw, so they arrive as
        // typed); other input is passed on byte for byte, whatever it holds.
        let mut opts = opts.clone();
        if !record.tty {
            opts.detach_keys.clear();
        }
        let outcome = session(conn, record.tty, &opts);
        if sig_proxy {
            crate::sys::stop_forwarding_signals();
        }
        match outcome.map_err(|e| Error::Other(format!("attached to {}: {e}", record.name)))? {
            Outcome::Exited(code) => Ok(code),
            Outcome::Detached => Ok(0),
            Outcome::Lost => {
                // The monitor ended without a word (it was killed), or let this client go
                // for not reading its output while the container goes on.
                let now = self.find_container(&record.id)?;
                if now.state.status == "running" && self.container_alive(&now) {
                    return Err(Error::Other(format!(
                        "detached from {}: its output was not read fast enough; attach again \
                         (logs has it all)",
                        record.name
                    )));
                }
                self.wait_container(&record.id)
            }
        }
    }
}

/// Copies between skiff's standard streams and the connection until the run ends or skiff
/// detaches.
fn session(conn: Connection, tty: bool, opts: &AttachOptions) -> io::Result<Outcome> {
    let conn = Arc::new(conn.0);
    let stdin_tty = rustix::termios::isatty(io::stdin());
    let _raw = if tty && opts.stdin && stdin_tty {
        Some(RawMode::enter(true))
    } else if tty && rustix::termios::isatty(io::stdout()) {
        Some(RawMode::enter(false))
    } else {
        None
    };
    let detached = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    if tty && stdin_tty {
        let conn = conn.clone();
        let done = done.clone();
        std::thread::spawn(move || follow_window_size(&conn, &done));
    }
    if opts.stdin {
        send(&conn, HELLO_STDIN, &[])?;
        let conn = conn.clone();
        let detached = detached.clone();
        let keys = opts.detach_keys.clone();
        // Not joined: a read of stdin cannot be interrupted, and skiff ends after this anyway.
        std::thread::spawn(move || pump_stdin(&conn, &keys, &detached));
    }
    let mut buf = vec![0u8; MESSAGE];
    let (mut out, mut err) = (io::stdout(), io::stderr());
    let outcome = loop {
        let n = match rustix::net::recv(&*conn, &mut buf, RecvFlags::empty()) {
            Ok((n, _)) => n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => 0,
        };
        if n == 0 {
            break if detached.load(Ordering::SeqCst) {
                Outcome::Detached
            } else {
                Outcome::Lost
            };
        }
        let data = &buf[1..n];
        match buf[0] {
            b'1' => {
                // A closed stdout (`| head`) ends skiff as SIGPIPE ends a program.
                if let Err(e) = out.write_all(data).and_then(|()| out.flush()) {
                    if e.kind() == io::ErrorKind::BrokenPipe {
                        break Outcome::Exited(128 + libc::SIGPIPE);
                    }
                }
            }
            b'2' => {
                let _ = err.write_all(data).and_then(|()| err.flush());
            }
            EXIT => {
                let code = std::str::from_utf8(data)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(crate::runtime::container::EXIT_RUNTIME);
                break Outcome::Exited(code);
            }
            _ => {}
        }
    };
    done.store(true, Ordering::Relaxed);
    Ok(outcome)
}

/// Sends the terminal's size now and whenever it changes (looked at every 100 ms).
fn follow_window_size(conn: &OwnedFd, done: &AtomicBool) {
    let mut last = None;
    while !done.load(Ordering::Relaxed) {
        if let Ok(size) = rustix::termios::tcgetwinsize(io::stdin().as_fd()) {
            let now = (size.ws_row, size.ws_col);
            if last != Some(now) {
                let mut msg = [0u8; 4];
                msg[..2].copy_from_slice(&now.0.to_le_bytes());
                msg[2..].copy_from_slice(&now.1.to_le_bytes());
                if send(conn, RESIZE, &msg).is_err() {
                    return;
                }
                last = Some(now);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Watches stdin for the detach keys: the bytes that may begin them are held back until
/// the next byte shows whether they do.
struct DetachWatch<'a> {
    keys: &'a [u8],
    matched: usize,
}

impl DetachWatch<'_> {
    /// Appends what of `input` goes to the container to `out`; true when the keys are
    /// complete (the rest of `input` is dropped).
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        for &b in input {
            if self.keys.is_empty() {
                out.push(b);
                continue;
            }
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return true;
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    return true;
                }
            } else {
                out.push(b);
            }
        }
        false
    }
}

fn pump_stdin(conn: &OwnedFd, keys: &[u8], detached: &AtomicBool) {
    let mut watch = DetachWatch { keys, matched: 0 };
    let mut buf = vec![0u8; 16 * 1024];
    let mut out = Vec::with_capacity(buf.len());
    let mut stdin = io::stdin().lock();
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => 0,
        };
        if n == 0 {
            let _ = send(conn, STDIN_END, &[]);
            return;
        }
        out.clear();
        let detach = watch.feed(&buf[..n], &mut out);
        if !out.is_empty() && send(conn, STDIN, &out).is_err() {
            return;
        }
        if detach {
            detached.store(true, Ordering::SeqCst);
            let _ = send(conn, DETACH, &[]);
            let _ = rustix::net::shutdown(conn, rustix::net::Shutdown::Both);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_as_docker_writes_them() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), vec![16, 17]);
        assert_eq!(
            parse_detach_keys("a,ctrl-@,ctrl-[").unwrap(),
            vec![b'a', 0, 27]
        );
        assert_eq!(parse_detach_keys("ctrl-\\,ctrl-_").unwrap(), vec![28, 31]);
        assert_eq!(
            parse_detach_keys("").unwrap(),
            vec![16, 17],
            "Docker's default"
        );
        assert_eq!(parse_detach_keys("CTRL-P, Ctrl-q").unwrap(), vec![16, 17]);
        assert!(parse_detach_keys("ctrl-").is_err());
        assert!(parse_detach_keys("ctrl-1").is_err());
        assert!(parse_detach_keys("ab").is_err());
    }

    #[test]
    fn detach_keys_are_held_back_until_they_complete_or_not() {
        let keys = [16u8, 17];
        let mut w = DetachWatch {
            keys: &keys,
            matched: 0,
        };
        let mut out = Vec::new();
        assert!(!w.feed(b"ab\x10", &mut out));
        assert_eq!(out, b"ab", "a possible start is held");
        out.clear();
        assert!(!w.feed(b"c", &mut out));
        assert_eq!(out, b"\x10c", "released when the next byte does not follow");
        out.clear();
        assert!(!w.feed(b"\x10\x10", &mut out));
        assert_eq!(out, b"\x10", "a repeated first key starts again");
        out.clear();
        assert!(w.feed(b"\x11zz", &mut out));
        assert!(out.is_empty());
        let mut none = DetachWatch {
            keys: &[],
            matched: 0,
        };
        assert!(!none.feed(b"\x10\x11", &mut out));
        assert_eq!(out, b"\x10\x11");
    }

    #[test]
    fn waiting_for_the_starting_command_ends_when_it_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let mut attachments = Attachments::listen(dir.path()).unwrap();
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        drop(theirs);
        let start = std::time::Instant::now();
        assert!(!attachments.wait_for_client(Duration::from_secs(10), Some(&ours)));
        assert!(start.elapsed() < Duration::from_secs(5));
        // A client that connects is taken, whether or not the starter still waits.
        let (ours, _theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let _client = connect(dir.path()).unwrap();
        assert!(attachments.wait_for_client(Duration::from_secs(10), Some(&ours)));
    }
}
