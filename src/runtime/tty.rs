//! `-t`: the container's terminal. The container creates a pseudo-terminal in its own devpts
//! instance (so /dev/pts/0 inside is real), makes the slave its controlling terminal and sends
//! the master back over a socket; skiff then copies between its own terminal and the master,
//! with its terminal in raw mode (so Ctrl-C reaches the container as a byte) and the window
//! size kept in step.

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use rustix::net::{
    recvmsg, sendmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use rustix::pty::OpenptFlags;
use rustix::termios::{self, OptionalActions};

/// In the container, after the root is entered: creates the terminal, sends its master over
/// `socket`, and makes the slave the process's controlling terminal and stdio.
pub fn make_console(socket: BorrowedFd<'_>, size: Option<(u16, u16)>) -> io::Result<()> {
    let master = rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY)?;
    rustix::pty::grantpt(&master)?;
    rustix::pty::unlockpt(&master)?;
    if let Some((rows, cols)) = size {
        let size = termios::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        termios::tcsetwinsize(&master, size)?;
    }
    let slave = rustix::pty::ioctl_tiocgptpeer(&master, OpenptFlags::RDWR | OpenptFlags::NOCTTY)?;
    let fds = [master.as_fd()];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    control.push(SendAncillaryMessage::ScmRights(&fds));
    sendmsg(
        socket,
        &[IoSlice::new(b"m")],
        &mut control,
        SendFlags::empty(),
    )?;
    drop(master);
    rustix::process::setsid()?;
    rustix::process::ioctl_tiocsctty(&slave)?;
    rustix::stdio::dup2_stdin(&slave)?;
    rustix::stdio::dup2_stdout(&slave)?;
    rustix::stdio::dup2_stderr(&slave)?;
    Ok(())
}

/// In skiff: waits for the container's terminal master (None when the container failed first).
pub fn receive_console(socket: &UnixStream) -> io::Result<Option<OwnedFd>> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut byte = [0u8; 1];
    let got = recvmsg(
        socket,
        &mut [IoSliceMut::new(&mut byte)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )?;
    if got.bytes == 0 {
        return Ok(None);
    }
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = message {
            if let Some(fd) = fds.next() {
                return Ok(Some(fd));
            }
        }
    }
    Ok(None)
}

/// Puts skiff's terminal in raw mode until dropped: all of it when the container reads from
/// it (`-i`), else only its output processing, so the container's CR LF is not doubled.
pub struct RawMode {
    saved: Option<(OwnedFd, termios::Termios)>,
}

impl RawMode {
    pub fn enter(input: bool) -> RawMode {
        let fd = if input {
            io::stdin().as_fd().try_clone_to_owned()
        } else {
            io::stdout().as_fd().try_clone_to_owned()
        };
        let Ok(fd) = fd else {
            return RawMode { saved: None };
        };
        let Ok(saved) = termios::tcgetattr(&fd) else {
            return RawMode { saved: None };
        };
        let mut raw = saved.clone();
        if input {
            raw.make_raw();
        } else {
            raw.output_modes.remove(termios::OutputModes::OPOST);
        }
        let _ = termios::tcsetattr(&fd, OptionalActions::Now, &raw);
        RawMode {
            saved: Some((fd, saved)),
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some((fd, t)) = &self.saved {
            let _ = termios::tcsetattr(fd, OptionalActions::Now, t);
        }
    }
}

/// Gives the container's terminal the size of skiff's (when skiff has one).
pub fn copy_window_size(master: BorrowedFd<'_>) {
    if let Ok(size) = termios::tcgetwinsize(io::stdin().as_fd()) {
        let _ = termios::tcsetwinsize(master, size);
    }
}

/// Copies the container's output to stdout until the terminal closes (the container exited).
pub fn pump_output(master: &OwnedFd) {
    let mut file = std::fs::File::from(master.try_clone().expect("dup of the terminal"));
    let mut out = io::stdout();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match file.read(&mut buf) {
            // EIO: the last slave descriptor closed.
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if out.write_all(&buf[..n]).and_then(|()| out.flush()).is_err() {
                    break;
                }
            }
        }
    }
}

/// Copies stdin to the container's terminal (for `-i`); runs until stdin ends.
pub fn pump_input(master: OwnedFd) {
    let mut file = std::fs::File::from(master);
    let mut input = io::stdin();
    let mut buf = [0u8; 4096];
    while let Ok(n) = input.read(&mut buf) {
        if n == 0 || file.write_all(&buf[..n]).is_err() {
            break;
        }
    }
}

/// skiff's side of a container's terminal while the container runs.
pub struct Attached {
    _raw: Option<RawMode>,
    output: std::thread::JoinHandle<()>,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Receives the container's terminal and starts copying: output always, input with `-i`. The
/// window size is followed by looking every 100 ms (a resize makes the kernel send the
/// container SIGWINCH).
pub fn attach(socket: &UnixStream, interactive: bool) -> io::Result<Option<Attached>> {
    let Some(master) = receive_console(socket)? else {
        return Ok(None);
    };
    let stdin_is_tty = termios::isatty(io::stdin().as_fd());
    let raw = if interactive && stdin_is_tty {
        Some(RawMode::enter(true))
    } else if termios::isatty(io::stdout().as_fd()) {
        Some(RawMode::enter(false))
    } else {
        None
    };
    copy_window_size(master.as_fd());
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    if stdin_is_tty {
        let master = master.try_clone()?;
        let done = done.clone();
        std::thread::spawn(move || {
            let mut last = termios::tcgetwinsize(io::stdin().as_fd()).ok();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(100));
                let now = termios::tcgetwinsize(io::stdin().as_fd()).ok();
                let changed = match (&now, &last) {
                    (Some(a), Some(b)) => (a.ws_row, a.ws_col) != (b.ws_row, b.ws_col),
                    _ => false,
                };
                if changed {
                    copy_window_size(master.as_fd());
                    last = now;
                }
            }
        });
    }
    if interactive {
        let master = master.try_clone()?;
        // Not joined: a read of stdin cannot be interrupted, and the process ends after the
        // container anyway.
        std::thread::spawn(move || pump_input(master));
    }
    let output = std::thread::spawn(move || pump_output(&master));
    Ok(Some(Attached {
        _raw: raw,
        output,
        done,
    }))
}

impl Attached {
    /// After the container exited: the rest of its output, then the terminal restored.
    pub fn finish(self) {
        let _ = self.output.join();
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
