//! Health checks: Docker's `--health-cmd` family (or the image's HEALTHCHECK), run on their
//! schedule by the container's monitor and on demand by `healthcheck run`. A check is a
//! command run in the container as `exec` runs one; its result is recorded in the container's
//! state in Docker's shape (Status, FailingStreak, the last five results in Log).

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use super::record::{ContainerRecord, Health, HealthResult, HealthStatus};
use crate::engine::Engine;
use crate::runtime::container::Spec;
use crate::Error;

pub use crate::image::manifest::HealthConfig;

/// Docker's defaults.
const INTERVAL: Duration = Duration::from_secs(30);
const TIMEOUT: Duration = Duration::from_secs(30);
const START_INTERVAL: Duration = Duration::from_secs(5);
const RETRIES: u32 = 3;
/// Results kept in the state, and the output kept of each.
const LOG_ENTRIES: usize = 5;
const OUTPUT_LIMIT: usize = 4096;

fn nanos(d: i64, default: Duration) -> Duration {
    if d > 0 {
        Duration::from_nanos(d as u64)
    } else {
        default
    }
}

impl HealthConfig {
    /// Whether there is a check to run.
    pub fn enabled(&self) -> bool {
        matches!(
            self.test.first().map(String::as_str),
            Some("CMD" | "CMD-SHELL")
        ) && self.test.len() > 1
    }

    /// The command the check runs.
    pub fn command(&self) -> Vec<String> {
        match self.test.first().map(String::as_str) {
            Some("CMD-SHELL") => vec!["/bin/sh".into(), "-c".into(), self.test[1..].join(" ")],
            _ => self.test[1..].to_vec(),
        }
    }

    pub fn interval(&self) -> Duration {
        nanos(self.interval, INTERVAL)
    }

    pub fn timeout(&self) -> Duration {
        nanos(self.timeout, TIMEOUT)
    }

    pub fn start_period(&self) -> Duration {
        nanos(self.start_period, Duration::ZERO)
    }

    pub fn start_interval(&self) -> Duration {
        nanos(self.start_interval, START_INTERVAL)
    }

    pub fn retries(&self) -> u32 {
        if self.retries > 0 {
            self.retries
        } else {
            RETRIES
        }
    }

    /// The container's check: `flags` over `image`'s, field by field, as Docker merges them.
    pub fn merge(flags: &HealthConfig, image: Option<&HealthConfig>) -> Option<HealthConfig> {
        let image = image.cloned().unwrap_or_default();
        let pick = |a: i64, b: i64| if a != 0 { a } else { b };
        let merged = HealthConfig {
            test: if flags.test.is_empty() {
                image.test
            } else {
                flags.test.clone()
            },
            interval: pick(flags.interval, image.interval),
            timeout: pick(flags.timeout, image.timeout),
            start_period: pick(flags.start_period, image.start_period),
            start_interval: pick(flags.start_interval, image.start_interval),
            retries: if flags.retries > 0 {
                flags.retries
            } else {
                image.retries
            },
        };
        (!merged.test.is_empty()).then_some(merged)
    }
}

impl Health {
    /// Takes one result: healthy at the first success, unhealthy after `retries` failures
    /// in a row, failures in the start period not counted while still starting.
    fn record(&mut self, result: HealthResult, config: &HealthConfig, in_start_period: bool) {
        if result.exit_code == 0 {
            self.status = HealthStatus::Healthy;
            self.failing_streak = 0;
        } else if !(in_start_period && self.status == HealthStatus::Starting) {
            self.failing_streak += 1;
            if self.failing_streak >= config.retries() {
                self.status = HealthStatus::Unhealthy;
            }
        }
        self.log.push(result);
        let extra = self.log.len().saturating_sub(LOG_ENTRIES);
        self.log.drain(..extra);
    }
}

impl Engine {
    /// `healthcheck run` (and the monitor's schedule): runs the container's check once and
    /// records the result; the container's health after it.
    pub fn run_health_check(&self, name: &str) -> Result<Health, Error> {
        let record = self.find_container(name)?;
        let config = record
            .health
            .clone()
            .filter(HealthConfig::enabled)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "container {} has no defined healthcheck",
                    record.name
                ))
            })?;
        let Some(init) = self.init_pid(&record) else {
            return Err(Error::WrongState(format!(
                "container {} is not running",
                record.name
            )));
        };
        let start = super::record::timestamp();
        let (exit_code, output) = self.probe(&record, init, &config)?;
        let result = HealthResult {
            start,
            end: super::record::timestamp(),
            exit_code,
            output,
        };
        let _lock = self.store.lock()?;
        let mut now = self.find_container(&record.id)?;
        let in_start_period = now
            .state
            .started_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .and_then(|t| (chrono::Utc::now() - t.to_utc()).to_std().ok())
            .is_some_and(|up| up < config.start_period());
        let mut health = now.state.health.take().unwrap_or_else(Health::starting);
        health.record(result, &config, in_start_period);
        now.state.health = Some(health.clone());
        self.save_container(&now)?;
        Ok(health)
    }

    /// Runs the check's command in the container: its exit code and output, or -1 and a
    /// note when it ran past the timeout.
    fn probe(
        &self,
        record: &ContainerRecord,
        init: i32,
        config: &HealthConfig,
    ) -> Result<(i32, String), Error> {
        let run = self.container_run_dir(&record.id);
        let mut spec: Spec = std::fs::read(run.join("spec.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_else(|| record.spec.clone());
        spec.args = config.command();
        spec.init = false;
        // The command dies with its relay: a check killed for its timeout leaves nothing.
        spec.outlive_parent = false;
        spec.console_socket = None;
        let (reader, writer) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| Error::Other(format!("creating a pipe: {e}")))?;
        let mut process =
            crate::runtime::exec::exec(init, &spec, true, Some(writer.as_raw_fd()))
                .map_err(|e| Error::Other(format!("health check in {}: {e}", record.name)))?;
        drop(writer);
        if let Some((code, message)) = process.failure() {
            let _ = crate::sys::wait_for(process.pid);
            return Ok((code, message));
        }
        // Never a blocking read: a process the check leaves behind may hold the pipe open.
        let flags = rustix::fs::fcntl_getfl(&reader)
            .map_err(|e| Error::Other(format!("health check pipe: {e}")))?;
        let _ = rustix::fs::fcntl_setfl(&reader, flags | rustix::fs::OFlags::NONBLOCK);
        let deadline = Instant::now() + config.timeout();
        let mut output = Vec::new();
        let mut buf = [0u8; 4096];
        let mut open = true;
        let mut drain = |output: &mut Vec<u8>, open: &mut bool| {
            while *open {
                match rustix::io::read(&reader, &mut buf) {
                    Ok(0) => *open = false,
                    Ok(n) => keep(output, &buf[..n]),
                    Err(rustix::io::Errno::INTR) => {}
                    Err(rustix::io::Errno::AGAIN) => return,
                    Err(_) => *open = false,
                }
            }
        };
        loop {
            if let Some(code) = crate::sys::exited(process.pid) {
                drain(&mut output, &mut open);
                return Ok((code, String::from_utf8_lossy(&output).into_owned()));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                // The relay passes SIGTERM on to the command, then goes itself (and the
                // command with it).
                crate::sys::signal(process.pid, libc::SIGTERM);
                std::thread::sleep(Duration::from_millis(100));
                crate::sys::kill_now(process.pid);
                let _ = crate::sys::wait_for(process.pid);
                return Ok((
                    -1,
                    format!(
                        "Health check exceeded timeout ({})",
                        crate::engine::duration::go_text(config.timeout())
                    ),
                ));
            }
            let step = left.min(Duration::from_millis(20));
            if open && poll_in(&reader, step) {
                drain(&mut output, &mut open);
            } else if !open {
                std::thread::sleep(step);
            }
        }
    }
}

fn keep(output: &mut Vec<u8>, data: &[u8]) {
    let room = OUTPUT_LIMIT.saturating_sub(output.len());
    output.extend_from_slice(&data[..data.len().min(room)]);
}

fn poll_in(fd: &impl std::os::fd::AsFd, wait: Duration) -> bool {
    let mut fds = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
    let timeout = rustix::event::Timespec {
        tv_sec: wait.as_secs() as i64,
        tv_nsec: wait.subsec_nanos() as i64,
    };
    rustix::event::poll(&mut fds, Some(&timeout)).unwrap_or(0) > 0
}

/// The exit code of a scheduled check's process while the container is still starting.
const STILL_STARTING: i32 = 2;

/// The monitor's timetable of checks for one run of the container.
pub struct Schedule {
    config: HealthConfig,
    started: Instant,
    next: Instant,
    /// The process running a check now.
    running: Option<i32>,
    /// No check has passed or failed for good yet (Docker's "starting").
    starting: bool,
}

impl Schedule {
    pub fn new(config: Option<&HealthConfig>) -> Option<Schedule> {
        let config = config.filter(|c| c.enabled())?.clone();
        let now = Instant::now();
        let mut s = Schedule {
            config,
            started: now,
            next: now,
            running: None,
            starting: true,
        };
        s.next = now + s.pause();
        Some(s)
    }

    /// The time between checks: the start interval while starting in the start period.
    fn pause(&self) -> Duration {
        if self.starting && self.started.elapsed() < self.config.start_period() {
            self.config.start_interval()
        } else {
            self.config.interval()
        }
    }

    /// How long the monitor may wait before the next call to `tick`.
    pub fn wait(&self) -> Duration {
        if self.running.is_some() {
            return Duration::from_millis(100);
        }
        self.next.saturating_duration_since(Instant::now())
    }

    /// Reaps a finished check and starts the next one when it is due. A check runs in a
    /// child process of the monitor, so the monitor goes on serving the container's streams.
    pub fn tick(&mut self, engine: &Engine, id: &str) {
        if let Some(pid) = self.running {
            let Some(code) = crate::sys::exited(pid) else {
                return;
            };
            self.starting = code == STILL_STARTING;
            self.running = None;
            self.next = Instant::now() + self.pause();
        }
        if Instant::now() < self.next {
            return;
        }
        match crate::sys::fork() {
            Ok(None) => {
                // Nothing of the monitor's: the container's stdin, the attach sockets and
                // the log stay the monitor's alone (the engine holds no descriptor).
                crate::sys::close_fds_from(3);
                let code = match engine.run_health_check(id) {
                    Ok(h) if h.status == HealthStatus::Starting => STILL_STARTING,
                    Ok(h) if h.status == HealthStatus::Healthy => 0,
                    _ => 1,
                };
                crate::sys::exit_now(code)
            }
            Ok(Some(pid)) => self.running = Some(pid),
            Err(_) => self.next = Instant::now() + self.pause(),
        }
    }

    /// The run ended: a check still going is stopped.
    pub fn stop(&mut self) {
        if let Some(pid) = self.running.take() {
            crate::sys::kill_now(pid);
            let _ = crate::sys::wait_for(pid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_follows_dockers_rules() {
        let config = HealthConfig {
            test: vec!["CMD-SHELL".into(), "true".into()],
            retries: 2,
            ..HealthConfig::default()
        };
        let result = |code| HealthResult {
            exit_code: code,
            ..HealthResult::default()
        };
        let mut h = Health::starting();
        h.record(result(1), &config, true);
        assert_eq!((h.status.as_str(), h.failing_streak), ("starting", 0));
        h.record(result(1), &config, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("starting", 1));
        h.record(result(1), &config, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("unhealthy", 2));
        h.record(result(0), &config, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("healthy", 0));
        for _ in 0..10 {
            h.record(result(0), &config, false);
        }
        assert_eq!(h.log.len(), LOG_ENTRIES);
    }

    #[test]
    fn flags_override_the_image_field_by_field() {
        let image = HealthConfig {
            test: vec!["CMD".into(), "check".into()],
            interval: 5,
            retries: 7,
            ..HealthConfig::default()
        };
        let flags = HealthConfig {
            interval: 9,
            ..HealthConfig::default()
        };
        let merged = HealthConfig::merge(&flags, Some(&image)).unwrap();
        assert_eq!(
            (merged.test[1].as_str(), merged.interval, merged.retries),
            ("check", 9, 7)
        );
        assert_eq!(merged.command(), vec!["check"]);
        let none = HealthConfig {
            test: vec!["NONE".into()],
            ..HealthConfig::default()
        };
        assert!(!HealthConfig::merge(&none, Some(&image)).unwrap().enabled());
        assert!(HealthConfig::merge(&HealthConfig::default(), None).is_none());
        let shell = HealthConfig {
            test: vec!["CMD-SHELL".into(), "exit 1".into()],
            ..HealthConfig::default()
        };
        assert_eq!(shell.command(), vec!["/bin/sh", "-c", "exit 1"]);
    }
}
