//! The attach socket's protocol, shared by the monitor (`server`) and `skiff attach`/`start -a`
//! (`client`).
//!
//! The socket is SOCK_SEQPACKET in the container's runtime directory, so each message keeps its
//! bounds and carries its kind in its first byte. From the monitor: stdout or stderr bytes,
//! or the run's end (its exit code follows, in decimal). From a client: stdin bytes, the end of
//! stdin, the terminal's size (rows and columns, two u16 little-endian each), a first hello
//! when it passes its stdin on, or that it leaves on purpose; or a request to follow the
//! record's networks, which the monitor answers.

use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use rustix::net::{SendAncillaryBuffer, SendFlags, SocketAddrUnix};

pub const SOCKET: &str = "attach";

/// The largest message: a read of the container's output and its kind.
pub const MESSAGE: usize = 32 * 1024 + 1;

/// A message's kind, its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Stdin,
    Stdout,
    Stderr,
    StdinEnd,
    Resize,
    /// A client's first message when it passes its stdin on.
    HelloStdin,
    /// A client leaves on purpose (the detach keys): the container goes on without it.
    Detach,
    Exit,
    /// From a client: join and leave networks as the record names them now (`network
    /// connect` and `disconnect` while the container runs). From the monitor, the answer:
    /// empty when done, else why not.
    Networks,
}

impl Kind {
    const ALL: [(Kind, u8); 9] = [
        (Kind::Stdin, b'0'),
        (Kind::Stdout, b'1'),
        (Kind::Stderr, b'2'),
        (Kind::StdinEnd, b'e'),
        (Kind::Resize, b'w'),
        (Kind::HelloStdin, b'i'),
        (Kind::Detach, b'd'),
        (Kind::Exit, b'x'),
        (Kind::Networks, b'n'),
    ];

    pub fn byte(self) -> u8 {
        Kind::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map(|(_, b)| *b)
            .unwrap_or(0)
    }

    pub fn of(byte: u8) -> Option<Kind> {
        Kind::ALL.iter().find(|(_, b)| *b == byte).map(|(k, _)| *k)
    }

    /// The kind for output stream 0 (stdout) or 1 (stderr).
    pub fn output(stream: usize) -> Kind {
        if stream == 0 {
            Kind::Stdout
        } else {
            Kind::Stderr
        }
    }
}

/// The socket's path, through a descriptor of the runtime directory: the directory's own
/// path may be longer than a socket address holds (108 bytes).
pub fn socket_address(dir: &OwnedFd) -> io::Result<SocketAddrUnix> {
    let path = format!("/proc/self/fd/{}/{SOCKET}", dir.as_raw_fd());
    Ok(SocketAddrUnix::new(path.as_str())?)
}

pub fn open_dir(dir: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        dir,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?)
}

pub fn send(fd: &OwnedFd, kind: Kind, data: &[u8]) -> io::Result<()> {
    rustix::net::sendmsg(
        fd,
        &[IoSlice::new(&[kind.byte()]), IoSlice::new(data)],
        &mut SendAncillaryBuffer::default(),
        SendFlags::NOSIGNAL,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_keep_their_bytes() {
        for (kind, byte) in Kind::ALL {
            assert_eq!(kind.byte(), byte);
            assert_eq!(Kind::of(byte), Some(kind));
        }
        assert_eq!(Kind::of(b'?'), None);
        assert_eq!(Kind::output(0), Kind::Stdout);
        assert_eq!(Kind::output(1), Kind::Stderr);
    }
}
