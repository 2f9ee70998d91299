//! The monitor's side of attaching: the listening socket and the attached clients, served
//! from the monitor's single-threaded loop without ever blocking it.

use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use rustix::net::{
    AddressFamily, RecvFlags, SendAncillaryBuffer, SendFlags, SocketFlags, SocketType,
};

use super::protocol::{open_dir, socket_address, Kind, MESSAGE, SOCKET};

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
    fn push(&mut self, kind: Kind, data: &[u8], unbounded: bool) -> bool {
        let kind = kind.byte();
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
    /// Follow the record's networks, and answer (see `reply`).
    Networks,
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
            // Let go on a failed send (it shut its socket), perhaps before its last messages
            // were read: those still say whether it detached, which must not end the container.
            self.owner_gone = !left_on_purpose(&c.fd);
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
        let kind = Kind::output(stream);
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
        match (buf.first().and_then(|b| Kind::of(*b)), n) {
            (_, 0) | (None, _) => {
                self.drop_client(index);
                if self.owner_gone {
                    // The starting command was killed: the container is, not its input ended.
                    Request::Nothing
                } else {
                    Request::End { stdin }
                }
            }
            (Some(Kind::Detach), _) => {
                // Leaving on purpose ends neither the container nor its input.
                client.stdin = false;
                if self.owner == Some(client.fd.as_raw_fd()) {
                    self.owner = None;
                }
                Request::Nothing
            }
            (Some(Kind::HelloStdin), _) => {
                client.stdin = true;
                Request::Nothing
            }
            (Some(Kind::Stdin), n) => Request::Input(&buf[1..n]),
            (Some(Kind::StdinEnd), _) => {
                client.stdin = false;
                Request::End { stdin }
            }
            (Some(Kind::Networks), _) => Request::Networks,
            (Some(Kind::Resize), 5) => Request::Resize(
                u16::from_le_bytes([buf[1], buf[2]]),
                u16::from_le_bytes([buf[3], buf[4]]),
            ),
            _ => Request::Nothing,
        }
    }

    /// Answers client `index`'s request of `kind` with `data`.
    pub fn reply(&mut self, index: usize, kind: Kind, data: &[u8]) {
        if let Some(c) = self.clients.get(index) {
            let _ = super::protocol::send(&c.fd, kind, data);
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
            let mut ok = c.push(Kind::Exit, code.as_bytes(), true);
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

/// Whether the messages a client sent and nobody read yet end with its detaching.
fn left_on_purpose(fd: &OwnedFd) -> bool {
    // A message's first byte is its kind; the rest of a longer one is discarded (SEQPACKET).
    let mut kind = [0u8; 1];
    loop {
        match rustix::net::recv(fd, &mut kind, RecvFlags::DONTWAIT) {
            Ok((n, _)) if n > 0 => {
                if Kind::of(kind[0]) == Some(Kind::Detach) {
                    return true;
                }
            }
            Err(rustix::io::Errno::INTR) => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::client::connect;
    use super::*;

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

    #[test]
    fn the_starter_that_detached_before_it_was_let_go_does_not_end_the_container() {
        use super::super::protocol::send;
        for detach in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let mut attachments = Attachments::listen(dir.path()).unwrap();
            let client = connect(dir.path()).unwrap();
            attachments.accept();
            attachments.set_owner();
            let fd = std::os::fd::AsFd::as_fd(&client)
                .try_clone_to_owned()
                .unwrap();
            send(&fd, Kind::Stdin, b"typed").unwrap();
            if detach {
                send(&fd, Kind::Detach, &[]).unwrap();
            }
            drop((fd, client));
            // As when a send to it fails before its messages are read.
            attachments.drop_client(0);
            assert_eq!(attachments.take_owner_gone(), !detach, "detached: {detach}");
        }
    }
}
