//! The life of a container after `create`: `stop`, `kill`, `wait`, `restart`, `rm -f`, and
//! reading its log. Each command acts on the container's processes directly (signals to its
//! PID 1, pidfds to wait) and on its record; the monitor notices and records the exit.

use std::fs;
use std::time::{Duration, Instant};

use super::record::ContainerRecord;
use crate::engine::{Engine, ObjectKind};
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
            let run = self.container_run_dir(&record.id);
            fs::read_to_string(run.join("pid"))
                .ok()?
                .trim()
                .parse()
                .ok()?
        };
        (super::record::process_start(pid) > 0).then_some(pid)
    }

    pub(crate) fn running(&self, name: &str) -> Result<(ContainerRecord, i32), Error> {
        let record = self.find_container(name)?;
        match self.init_pid(&record) {
            Some(pid) => Ok((record, pid)),
            None => Err(Error::WrongState(format!(
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
            // A monitor that doesn't end its killed container (it is stuck) goes itself; the
            // container then reads as killed, as with any monitor that died.
            if killed.is_some() && Instant::now() >= deadline + Duration::from_secs(10) {
                crate::sys::kill_now(now.state.monitor);
                self.wait_for_monitor(&now, Duration::from_secs(5));
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
            if !now.state.is_up() {
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
                if !r.state.is_up() || r.state.pid != now.state.pid {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    /// `skiff rename OLD NEW`.
    pub fn rename_container(&self, name: &str, new: &str) -> Result<(), Error> {
        super::options::check_name(new)?;
        let _lock = self.store.lock()?;
        let mut record = self.find_container(name)?;
        if record.name == new {
            // Docker's refusal: nothing would change, which is likely not what was meant.
            return Err(Error::Invalid(format!(
                "renaming a container with the same name as its current name ({new}): \
                 give a new name"
            )));
        }
        if self
            .containers()?
            .iter()
            .any(|c| c.name == new && c.id != record.id)
        {
            return Err(Error::NameInUse(format!(
                "the container name \"/{new}\" is already in use: remove that container or choose another name"
            )));
        }
        record.name = new.to_string();
        self.save_container(&record)
    }

    /// `skiff container prune`: removes every container that is not running (and matches
    /// `filters`), and what killed
    /// commands left (half-removed containers among it); returns the ids removed and the
    /// bytes freed.
    pub fn prune_containers(
        &self,
        filters: &crate::engine::filters::PruneFilters,
    ) -> Result<(Vec<String>, u64), Error> {
        let mut removed = Vec::new();
        let mut freed = 0;
        for c in self.containers()? {
            if self.init_pid(&c).is_some() || self.container_alive(&c) {
                continue;
            }
            let created = chrono::DateTime::parse_from_rfc3339(&c.created)
                .ok()
                .map(|t| t.to_utc());
            let labels = || c.labels.clone().into_iter().collect();
            if !filters.matches(created, &labels) {
                continue;
            }
            let dir = self.container_dir(&c.id);
            freed += super::record::dir_size(&dir);
            match self.remove_container(&c.id, false) {
                Ok(_) => removed.push(c.id),
                // Removed by another command meanwhile.
                Err(e) if e.is_not_found(ObjectKind::Container) => {}
                Err(e) => return Err(e),
            }
        }
        let lock = self.store.lock()?;
        let leftovers = self.claim_orphans(&lock);
        drop(lock);
        freed += leftovers
            .iter()
            .map(|p| super::record::dir_size(p))
            .sum::<u64>();
        self.remove_trees(&leftovers)?;
        Ok((removed, freed))
    }

    /// `skiff top`: the container's processes as `ps -ef` shows them (host pids).
    pub fn top(&self, name: &str) -> Result<Vec<[String; 8]>, Error> {
        let (_, init) = self.running(name)?;
        let tick = rustix::param::clock_ticks_per_second().max(1);
        let boot = fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|t| {
                t.lines().find_map(|l| {
                    l.strip_prefix("btime ")
                        .and_then(|v| v.trim().parse::<i64>().ok())
                })
            })
            .unwrap_or(0);
        let users = fs::read_to_string("/etc/passwd").unwrap_or_default();
        let mut rows = Vec::new();
        for pid in container_processes(init) {
            let pid = pid.to_string();
            let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let Some((_, rest)) = stat.rsplit_once(')') else {
                continue;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            let num = |i: usize| f.get(i).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
            let uid = fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|s| {
                    s.lines().find_map(|l| {
                        l.strip_prefix("Uid:")
                            .map(|v| v.split_whitespace().next().unwrap_or("").to_string())
                    })
                })
                .unwrap_or_default();
            let user = users
                .lines()
                .find(|l| l.split(':').nth(2) == Some(uid.as_str()))
                .and_then(|l| l.split(':').next())
                .map_or(uid.clone(), String::from);
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let mut cmd = String::from_utf8_lossy(&cmdline)
                .replace('\0', " ")
                .trim()
                .to_string();
            if cmd.is_empty() {
                cmd = format!(
                    "[{}]",
                    stat.split_once('(')
                        .and_then(|(_, r)| r.rsplit_once(')'))
                        .map_or("", |(c, _)| c)
                );
            }
            // Fields after the name: state(0) ppid(1) … utime(11) stime(12) … tty(4) start(19).
            let started = boot + num(19) / tick as i64;
            let stime = chrono::DateTime::from_timestamp(started, 0)
                .map(|t| t.with_timezone(&chrono::Local).format("%H:%M").to_string())
                .unwrap_or_default();
            let cpu = (num(11) + num(12)) / tick as i64;
            let tty = match num(4) {
                0 => "?".to_string(),
                n => format!("pts/{}", (n & 0xff) | ((n >> 12) & 0xfff00)),
            };
            rows.push([
                user,
                pid.clone(),
                num(1).to_string(),
                "0".into(),
                stime,
                tty,
                format!("{:02}:{:02}:{:02}", cpu / 3600, cpu / 60 % 60, cpu % 60),
                cmd,
            ]);
        }
        rows.sort_by_key(|r| r[1].parse::<i64>().unwrap_or(0));
        Ok(rows)
    }

    /// `pause`/`unpause`: the cgroup v2 freezer of the container's own cgroup.
    pub fn freeze(&self, name: &str, frozen: bool) -> Result<(), Error> {
        let (record, _) = self.running(name)?;
        let run = self.container_run_dir(&record.id);
        let cgroup = fs::read(run.join("spec.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<crate::runtime::container::Spec>(&b).ok())
            .and_then(|s| s.cgroup);
        let Some(dir) = cgroup else {
            return Err(Error::Invalid(format!(
                "can't {} container {}: it has no cgroup of its own to freeze (that needs a cgroup v2 subtree delegated to you, {})",
                if frozen { "pause" } else { "unpause" },
                record.name,
                crate::runtime::cgroup::why_unavailable()
            )));
        };
        fs::write(dir.join("cgroup.freeze"), if frozen { "1" } else { "0" }).map_err(|e| {
            Error::Other(format!(
                "writing {}: {e}",
                dir.join("cgroup.freeze").display()
            ))
        })
    }
}

/// The host pids of the processes in the PID namespace of `init`.
pub fn container_processes(init: i32) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let ns = |pid: &str| {
        fs::metadata(format!("/proc/{pid}/ns/pid"))
            .ok()
            .map(|m| (m.dev(), m.ino()))
    };
    let Some(theirs) = ns(&init.to_string()) else {
        return Vec::new();
    };
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| ns(&p.to_string()) == Some(theirs))
        .collect()
}

/// One row of `stats`.
#[derive(Debug, Clone)]
pub struct Stats {
    pub id: String,
    pub name: String,
    pub cpu_percent: f64,
    pub mem_usage: u64,
    pub mem_limit: u64,
    pub net: (u64, u64),
    pub block: (u64, u64),
    pub pids: usize,
}

impl Engine {
    /// `skiff stats --no-stream`: read from /proc (and the container's cgroup for its memory
    /// limit when it has one), CPU over `sample`.
    pub fn stats(&self, names: &[String], sample: Duration) -> Result<Vec<Stats>, Error> {
        // Each container with its PID 1, looked up once: one that ends meanwhile must not
        // shift the others' figures.
        let records: Vec<(ContainerRecord, i32)> = if names.is_empty() {
            self.containers()?
                .into_iter()
                .filter_map(|r| self.init_pid(&r).map(|i| (r, i)))
                .collect()
        } else {
            names
                .iter()
                .map(|n| self.running(n))
                .collect::<Result<Vec<_>, _>>()?
        };
        let tick = rustix::param::clock_ticks_per_second().max(1) as f64;
        let cpu_ticks = |pids: &[i32]| -> u64 {
            pids.iter()
                .filter_map(|p| fs::read_to_string(format!("/proc/{p}/stat")).ok())
                .filter_map(|s| {
                    let rest = s.rsplit_once(')')?.1.to_string();
                    let f: Vec<u64> = rest
                        .split_whitespace()
                        .skip(11)
                        .take(2)
                        .filter_map(|v| v.parse().ok())
                        .collect();
                    Some(f.iter().sum::<u64>())
                })
                .sum()
        };
        let before: Vec<u64> = records
            .iter()
            .map(|(_, i)| cpu_ticks(&container_processes(*i)))
            .collect();
        let start = Instant::now();
        std::thread::sleep(sample);
        let elapsed = start.elapsed().as_secs_f64();
        let total_mem = fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            })
            .unwrap_or(0)
            * 1024;
        let page = rustix::param::page_size() as u64;
        let mut out = Vec::new();
        for ((r, init), before) in records.iter().zip(before) {
            let pids = container_processes(*init);
            let after = cpu_ticks(&pids);
            let mem_usage: u64 = pids
                .iter()
                .filter_map(|p| fs::read_to_string(format!("/proc/{p}/statm")).ok())
                .filter_map(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>()
                * page;
            let mem_limit = r.limits.memory.filter(|m| *m > 0).unwrap_or(total_mem);
            let mut net = (0, 0);
            if let Ok(dev) = fs::read_to_string(format!("/proc/{init}/net/dev")) {
                for line in dev.lines().skip(2) {
                    let Some((iface, rest)) = line.split_once(':') else {
                        continue;
                    };
                    if iface.trim() == "lo" {
                        continue;
                    }
                    let f: Vec<u64> = rest
                        .split_whitespace()
                        .filter_map(|v| v.parse().ok())
                        .collect();
                    net.0 += f.first().copied().unwrap_or(0);
                    net.1 += f.get(8).copied().unwrap_or(0);
                }
            }
            let mut block = (0, 0);
            for p in &pids {
                if let Ok(io) = fs::read_to_string(format!("/proc/{p}/io")) {
                    for line in io.lines() {
                        let value = |k: &str| {
                            line.strip_prefix(k)
                                .and_then(|v| v.trim().parse::<u64>().ok())
                                .unwrap_or(0)
                        };
                        block.0 += value("read_bytes:");
                        block.1 += value("write_bytes:");
                    }
                }
            }
            out.push(Stats {
                id: r.id.clone(),
                name: r.name.clone(),
                cpu_percent: (after.saturating_sub(before)) as f64 / tick / elapsed.max(1e-6)
                    * 100.0,
                mem_usage,
                mem_limit,
                net,
                block,
                pids: pids.len(),
            });
        }
        Ok(out)
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
