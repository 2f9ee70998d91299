//! The client's side of attaching (`attach`, `start -a`, `run` in the foreground): skiff's
//! standard streams to and from the monitor's socket.
//!
//! The detach keys (Ctrl-P Ctrl-Q unless `--detach-keys` says otherwise) are watched here, in
//! what the client reads from its stdin: the keys never reach the container.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustix::net::{AddressFamily, RecvFlags, SocketFlags, SocketType};

use super::protocol::{open_dir, send, socket_address, Kind, MESSAGE};
use crate::runtime::tty::RawMode;

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
pub enum Outcome {
    Exited(i32),
    Detached,
    /// The monitor went away without a word.
    Lost,
}

/// A client's connection to a container's monitor.
pub struct Connection(OwnedFd);

impl AsFd for Connection {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// Asks the monitor of the container whose runtime directory is `dir` to join and leave
/// networks as its record names them now; its answer (Err: why it could not).
pub fn follow_networks(dir: &Path) -> io::Result<Result<(), String>> {
    let conn = connect(dir)?;
    send(&conn.0, Kind::Networks, b"")?;
    rustix::net::sockopt::set_socket_timeout(
        &conn.0,
        rustix::net::sockopt::Timeout::Recv,
        Some(Duration::from_secs(30)),
    )?;
    let mut buf = vec![0u8; MESSAGE];
    loop {
        // The container's output comes too, as to any client: passed over.
        let (n, _) = rustix::net::recv(&conn.0, &mut buf, RecvFlags::empty())?;
        match (n, buf.first().and_then(|b| Kind::of(*b))) {
            (0, _) | (_, Some(Kind::Exit)) => {
                return Err(io::Error::other("the container ended meanwhile"))
            }
            (1, Some(Kind::Networks)) => return Ok(Ok(())),
            (_, Some(Kind::Networks)) => {
                return Ok(Err(String::from_utf8_lossy(&buf[1..n]).into_owned()))
            }
            _ => {}
        }
    }
}

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

/// Copies between skiff's standard streams and the connection until the run ends or skiff
/// detaches.
pub fn session(conn: Connection, tty: bool, opts: &AttachOptions) -> io::Result<Outcome> {
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
        send(&conn, Kind::HelloStdin, &[])?;
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
        match Kind::of(buf[0]) {
            Some(Kind::Stdout) => {
                // A closed stdout (`| head`) ends skiff as SIGPIPE ends a program.
                if let Err(e) = out.write_all(data).and_then(|()| out.flush()) {
                    if e.kind() == io::ErrorKind::BrokenPipe {
                        break Outcome::Exited(128 + libc::SIGPIPE);
                    }
                }
            }
            Some(Kind::Stderr) => {
                let _ = err.write_all(data).and_then(|()| err.flush());
            }
            Some(Kind::Exit) => {
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
                if send(conn, Kind::Resize, &msg).is_err() {
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
            let _ = send(conn, Kind::StdinEnd, &[]);
            return;
        }
        out.clear();
        let detach = watch.feed(&buf[..n], &mut out);
        if !out.is_empty() && send(conn, Kind::Stdin, &out).is_err() {
            return;
        }
        if detach {
            detached.store(true, Ordering::SeqCst);
            let _ = send(conn, Kind::Detach, &[]);
            let _ = rustix::net::shutdown(conn, rustix::net::Shutdown::Both);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
