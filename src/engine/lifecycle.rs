//! The life of a container after `create`: `stop`, `kill`, `wait`, `restart`, `rm -f`, and
//! reading its log. Each command acts on the container's processes directly (signals to its
//! PID 1, pidfds to wait) and on its record; the monitor notices and records the exit.

use std::fs;
use std::io::Write;
use std::time::{Duration, Instant};

use super::containers::ContainerRecord;
use super::Engine;
use crate::Error;

/// Signal names as Docker takes them (`SIGTERM`, `TERM`, `15`).
pub fn signal_number(name: &str) -> Result<i32, Error> {
    if let Ok(n) = name.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
    }
    let upper = name.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    const NAMES: &[(&str, i32)] = &[
        ("HUP", libc::SIGHUP),
        ("INT", libc::SIGINT),
        ("QUIT", libc::SIGQUIT),
        ("ILL", libc::SIGILL),
        ("TRAP", libc::SIGTRAP),
        ("ABRT", libc::SIGABRT),
        ("IOT", libc::SIGIOT),
        ("BUS", libc::SIGBUS),
        ("FPE", libc::SIGFPE),
        ("KILL", libc::SIGKILL),
        ("USR1", libc::SIGUSR1),
        ("SEGV", libc::SIGSEGV),
        ("USR2", libc::SIGUSR2),
        ("PIPE", libc::SIGPIPE),
        ("ALRM", libc::SIGALRM),
        ("TERM", libc::SIGTERM),
        ("STKFLT", libc::SIGSTKFLT),
        ("CHLD", libc::SIGCHLD),
        ("CONT", libc::SIGCONT),
        ("STOP", libc::SIGSTOP),
        ("TSTP", libc::SIGTSTP),
        ("TTIN", libc::SIGTTIN),
        ("TTOU", libc::SIGTTOU),
        ("URG", libc::SIGURG),
        ("XCPU", libc::SIGXCPU),
        ("XFSZ", libc::SIGXFSZ),
        ("VTALRM", libc::SIGVTALRM),
        ("PROF", libc::SIGPROF),
        ("WINCH", libc::SIGWINCH),
        ("IO", libc::SIGIO),
        ("POLL", libc::SIGPOLL),
        ("PWR", libc::SIGPWR),
        ("SYS", libc::SIGSYS),
    ];
    if let Some((_, n)) = NAMES.iter().find(|(n, _)| *n == bare) {
        return Ok(*n);
    }
    if let Some(rest) = bare.strip_prefix("RTMIN+") {
        if let Ok(k) = rest.parse::<i32>() {
            if libc::SIGRTMIN() + k <= libc::SIGRTMAX() {
                return Ok(libc::SIGRTMIN() + k);
            }
        }
    }
    Err(Error::Invalid(format!("invalid signal: {name}")))
}

impl Engine {
    /// The host pid of the container's PID 1 while it runs.
    pub fn init_pid(&self, record: &ContainerRecord) -> Option<i32> {
        if !self.container_alive(record) {
            return None;
        }
        let pid = if record.state.pid > 0 {
            record.state.pid
        } else {
            let run = self.paths.run_root.join("containers").join(&record.id);
            fs::read_to_string(run.join("pid"))
                .ok()?
                .trim()
                .parse()
                .ok()?
        };
        (super::containers::process_start(pid) > 0).then_some(pid)
    }

    fn running(&self, name: &str) -> Result<(ContainerRecord, i32), Error> {
        let record = self.find_container(name)?;
        match self.init_pid(&record) {
            Some(pid) => Ok((record, pid)),
            None => Err(Error::Conflict(format!(
                "container {} is not running",
                record.name
            ))),
        }
    }

    /// Marks the container as stopped on purpose (no restart), under the store lock.
    fn request_stop(&self, id: &str) -> Result<(), Error> {
        let _lock = self.store.lock()?;
        let mut record = self.find_container(id)?;
        record.state.stop_requested = true;
        self.save_container(&record)
    }

    /// `skiff kill -s SIGNAL`.
    pub fn kill_container(&self, name: &str, signal: &str) -> Result<ContainerRecord, Error> {
        let sig = signal_number(signal)?;
        let (record, pid) = self.running(name)?;
        self.request_stop(&record.id)?;
        send(pid, sig)?;
        Ok(record)
    }

    /// `skiff stop -t N`: the stop signal, then SIGKILL after `timeout` seconds; returns once
    /// the container has exited and its monitor is done. A container that is not running is
    /// no error (Docker). A container between two runs of its restart policy just stays
    /// stopped.
    pub fn stop_container(
        &self,
        name: &str,
        timeout: Option<u32>,
    ) -> Result<ContainerRecord, Error> {
        let record = self.find_container(name)?;
        if !self.container_alive(&record) {
            return Ok(record);
        }
        self.request_stop(&record.id)?;
        let signal = signal_number(record.stop_signal.as_deref().unwrap_or("SIGTERM"))?;
        let timeout = Duration::from_secs(timeout.or(record.stop_timeout).unwrap_or(10).into());
        let deadline = Instant::now() + timeout;
        let monitor = pidfd(record.state.monitor);
        let (mut signalled, mut killed) = (None, None);
        loop {
            let now = self.find_container(&record.id)?;
            if !self.container_alive(&now) {
                break;
            }
            if let Some(pid) = self.init_pid(&now) {
                if timeout.is_zero() || Instant::now() >= deadline {
                    if killed != Some(pid) {
                        let _ = send(pid, libc::SIGKILL);
                        killed = Some(pid);
                    }
                } else if signalled != Some(pid) {
                    send(pid, signal)?;
                    signalled = Some(pid);
                }
            }
            if wait_exit(monitor.as_ref(), Duration::from_millis(50)) && monitor.is_some() {
                break;
            }
        }
        self.find_container(&record.id)
    }

    /// Waits until the process holding the container has gone (it records the exit first).
    fn wait_for_monitor(&self, record: &ContainerRecord, limit: Duration) -> bool {
        if !self.container_alive(record) {
            return true;
        }
        wait_exit(pidfd(record.state.monitor).as_ref(), limit)
    }

    /// `rm -f` of a running container: a detached one is stopped so that its monitor tears
    /// down (unmounts, records); one in the foreground goes with its helper.
    pub(crate) fn kill_for_removal(&self, record: &ContainerRecord) {
        let _ = self.request_stop(&record.id);
        if let Some(pid) = self.init_pid(record) {
            let _ = send(pid, libc::SIGKILL);
            if self.wait_for_monitor(record, Duration::from_secs(5)) {
                return;
            }
        }
        crate::sys::kill_now(record.state.monitor);
        self.wait_for_monitor(record, Duration::from_secs(5));
    }

    /// `skiff wait`: blocks until the container is not running; returns its exit code.
    pub fn wait_container(&self, name: &str) -> Result<i32, Error> {
        let record = self.find_container(name)?;
        loop {
            let now = self.find_container(&record.id)?;
            if now.state.status != "running" {
                return Ok(now.state.exit_code);
            }
            if !self.container_alive(&now) {
                // The process that held it died without recording the end.
                return Ok(137);
            }
            match self.init_pid(&now) {
                Some(pid) => {
                    wait_exit(pidfd(pid).as_ref(), Duration::from_secs(1));
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
            // The monitor records the exit right after; give it the moment.
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline {
                let r = self.find_container(&record.id)?;
                if r.state.status != "running" || r.state.pid != now.state.pid {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    /// The log entries of a container, oldest first: rotated files, then the current one.
    pub fn log_files(&self, record: &ContainerRecord) -> Result<Vec<std::path::PathBuf>, Error> {
        let dir = self.paths.data_root.join("containers").join(&record.id);
        let Some(path) = super::monitor::log_path(&dir, &record.log) else {
            return Err(Error::Invalid(format!(
                "container {} logs nothing (--log-driver {})",
                record.name, record.log.driver
            )));
        };
        let mut files: Vec<std::path::PathBuf> = (1..record.log.max_file)
            .rev()
            .map(|n| std::path::PathBuf::from(format!("{}.{n}", path.display())))
            .filter(|p| p.exists())
            .collect();
        files.push(path);
        Ok(files)
    }
}

/// A parsed log entry.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub stream: String,
    pub time: chrono::DateTime<chrono::Utc>,
    pub text: Vec<u8>,
}

/// Parses one line of a json-file or k8s-file log.
pub fn parse_log_line(line: &str, k8s: bool) -> Option<LogEntry> {
    if k8s {
        let mut parts = line.splitn(4, ' ');
        let time = parts.next()?;
        let stream = parts.next()?;
        let tag = parts.next()?;
        let text = parts.next().unwrap_or("");
        let mut text = text.as_bytes().to_vec();
        if tag == "F" {
            text.push(b'\n');
        }
        Some(LogEntry {
            stream: stream.into(),
            time: chrono::DateTime::parse_from_rfc3339(time).ok()?.to_utc(),
            text,
        })
    } else {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        Some(LogEntry {
            stream: v["stream"].as_str()?.into(),
            time: chrono::DateTime::parse_from_rfc3339(v["time"].as_str()?)
                .ok()?
                .to_utc(),
            text: v["log"].as_str()?.as_bytes().to_vec(),
        })
    }
}

fn send(pid: i32, sig: i32) -> Result<(), Error> {
    // SAFETY: kill(2) takes plain integers.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ESRCH) {
            return Ok(()); // ended on its own meanwhile
        }
        Err(Error::Other(format!("sending signal {sig}: {e}")))
    }
}

fn pidfd(pid: i32) -> Option<rustix::fd::OwnedFd> {
    let pid = rustix::process::Pid::from_raw(pid)?;
    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()
}

/// Waits until the process of `pidfd` exits; false after `limit`.
fn wait_exit(pidfd: Option<&rustix::fd::OwnedFd>, limit: Duration) -> bool {
    let Some(fd) = pidfd else {
        return true;
    };
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ts = rustix::event::Timespec {
            tv_sec: left.as_secs() as _,
            tv_nsec: left.subsec_nanos() as _,
        };
        let mut fds = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(0) => return false,
            Ok(_) => return true,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return true,
        }
    }
}

/// Writes `entries` as `logs` shows them (with `-t`, Docker's timestamp first).
pub fn write_entry(out: &mut impl Write, e: &LogEntry, timestamps: bool) -> std::io::Result<()> {
    if timestamps {
        write!(
            out,
            "{} ",
            e.time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
        )?;
    }
    out.write_all(&e.text)
}
