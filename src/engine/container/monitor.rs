//! Every container runs under a monitor, one small process per container (the container
//! helper itself, detached from the terminal with setsid). The monitor starts the container,
//! writes its output to the log and to attached clients (`run` in the foreground, `start -a`,
//! `attach`), reaps it, records its exit, runs the restart policy and health checks, and exits
//! with its container. There is no daemon.
//!
//! The monitor tells the starting command over its sync socket whether the workload runs
//! ("ok") or why not ("err CODE MESSAGE"), so `run` fails with Docker's 126/127 when the
//! command can't be executed. It never threads (it forks the container again on restarts; a
//! user-mode network's namespace and readiness take a short-lived thread each, both joined
//! before the container's first start), and holds little memory: a read buffer and the
//! partial line of each stream.

use std::fs::{self, File};
use std::io::{BufRead, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::attach::client::{connect, Connection};
use super::attach::server::{Attachments, Request};
use super::log::{log_path, LogWriter};
use super::record::{ContainerRecord, Status};
use crate::engine::Engine;
use crate::engine::Notices;
use crate::runtime::container::{self, Spec, EXIT_RUNTIME};
use crate::runtime::{userns, RuntimeError};
use crate::Error;

pub const MONITOR_CMD: &str = "__monitor";
/// Where a root monitor (started without a user namespace) finds its status socket.
const STATUS_FD_ENV: &str = "_SKIFF_STATUS_FD";
const STATUS_FD: i32 = 3;
/// The monitor's last argument for `start -a` (and for `run` in the foreground), and the
/// line it sends once it listens.
const ATTACH_ARG: &str = "attach";
const FOREGROUND_ARG: &str = "foreground";
const ATTACH_READY: &[u8] = b"attach\n";
/// A line the monitor sends for the user before its answer.
const NOTICE_PREFIX: &str = "notice ";

impl Engine {
    /// The default seccomp filter for `capabilities`, compiled once per boot and kept in the
    /// runtime directory: compiling the profile with libseccomp takes milliseconds, more than
    /// the rest of a start. Keyed by the profile, the capabilities and the kernel (the profile's
    /// rules depend on its version), so a new skiff or kernel compiles afresh.
    pub(crate) fn default_seccomp_program(&self, capabilities: &[u32]) -> Result<Vec<u64>, Error> {
        use sha2::Digest;
        let mut key = sha2::Sha256::new();
        key.update(crate::runtime::seccomp::DEFAULT_PROFILE);
        let mut caps = capabilities.to_vec();
        caps.sort_unstable();
        for c in &caps {
            key.update(c.to_le_bytes());
        }
        key.update(rustix::system::uname().release().to_bytes());
        // This skiff (its loader may change with the same profile) and this libseccomp.
        key.update(crate::runtime::seccomp::compiler_identity());
        if let Ok(me) = fs::metadata("/proc/self/exe") {
            use std::os::unix::fs::MetadataExt;
            key.update(me.len().to_le_bytes());
            key.update(me.mtime().to_le_bytes());
        }
        let name = hex::encode(&key.finalize()[..16]);
        let dir = self.paths.run_root.join("seccomp");
        let path = dir.join(&name);
        if let Ok(bytes) = fs::read(&path) {
            // A BPF program has at most 4096 instructions.
            if !bytes.is_empty() && bytes.len() % 8 == 0 && bytes.len() <= 4096 * 8 {
                return Ok(bytes
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
                    .collect());
            }
        }
        let program = crate::runtime::seccomp::default_program(capabilities)
            .map_err(|e| Error::Other(format!("building the seccomp filter: {e}")))?;
        // Best effort: a cache that can't be written is compiled again next time.
        let bytes: Vec<u8> = program.iter().flat_map(|w| w.to_le_bytes()).collect();
        let tmp = dir.join(format!(".{name}.{}", std::process::id()));
        if fs::create_dir_all(&dir).is_ok() && fs::write(&tmp, &bytes).is_ok() {
            let _ = fs::rename(&tmp, &path);
        }
        let _ = fs::remove_file(&tmp);
        Ok(program)
    }
}

impl Engine {
    /// `start` (without -a) and `run -d`: starts the container under a monitor and returns
    /// once its workload runs.
    pub fn start_detached(
        &self,
        name: &str,
        notices: Notices<'_>,
    ) -> Result<ContainerRecord, Error> {
        self.launch_monitor(name, Launch::Detached, notices)
            .map(|(record, _)| record)
    }

    /// Starts the container under a new monitor; with `attach`, connects to it before the
    /// workload starts (None: the container was running already).
    pub(crate) fn launch_monitor(
        &self,
        name: &str,
        mode: Launch,
        notices: Notices<'_>,
    ) -> Result<(ContainerRecord, Option<Connection>), Error> {
        let attach = mode != Launch::Detached;
        let mut record = self.find_container(name)?;
        if record.state.is_up() && self.container_alive(&record) {
            return Ok((record, None));
        }
        // Not while `cp` has its files mounted; held until the monitor has started it. `run`
        // starts the container it has just created, which no `cp` can hold: no lock file on
        // that path.
        let _files = match mode {
            Launch::Foreground => None,
            _ => Some(self.container_files_lock(&record.id)?),
        };
        let id = record.id.clone();
        let run = self.container_run_dir(&id);
        crate::config::ensure_run_root(&self.paths.run_root, self.user.uid)?;
        // `--network container:X`: X must be running; its network, files and user namespace
        // are this start's.
        let owner = match &record.network_of {
            Some(target) => Some(self.network_owner(target)?),
            None => None,
        };
        let network = self.network_plan(&record, &run, notices)?;
        let cgroup = self.container_cgroup(&record, notices)?;
        // Attached to a terminal: the container's starts with its size.
        let size = (attach && record.tty)
            .then(|| rustix::termios::tcgetwinsize(std::io::stdin()).ok())
            .flatten()
            .or_else(|| {
                (attach && record.tty)
                    .then(|| rustix::termios::tcgetwinsize(std::io::stdout()).ok())
                    .flatten()
            })
            .map(|w| (w.ws_row, w.ws_col));
        let spec_path = match self.prepare_run_dir(
            &record,
            &run,
            cgroup.clone(),
            size,
            owner.as_ref(),
            network.as_ref(),
        ) {
            Ok(p) => p,
            Err(e) => {
                if let Some(dir) = &cgroup {
                    crate::runtime::cgroup::remove(dir);
                }
                return Err(e);
            }
        };
        // A new start: the restart count and a previous stop request are history (a
        // container just created has none: no write then).
        let state = &mut record.state;
        if state.stop_requested || state.restart_count > 0 || !state.error.is_empty() {
            state.stop_requested = false;
            state.restart_count = 0;
            state.error.clear();
            self.save_container(&record)?;
        }
        tracing::debug!("container {id} prepared");
        let mut cmd = Command::new("/proc/self/exe");
        // None of the caller's environment (its tokens, its secrets): the monitor's children
        // enter the container, and the workload gets the container's own environment anyway.
        // PATH finds fuse-overlayfs.
        cmd.env_clear().env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| container::DEFAULT_PATH.into()),
        );
        if crate::log::enabled() {
            cmd.env(crate::engine::helpers::DEBUG_ENV, "1");
        }
        cmd.arg(MONITOR_CMD)
            .arg(&self.paths.data_root)
            .arg(&self.paths.run_root)
            .arg(&id)
            .arg(&spec_path)
            .args(match mode {
                Launch::Detached => None,
                Launch::Attached => Some(ATTACH_ARG),
                Launch::Foreground => Some(FOREGROUND_ARG),
            })
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: setsid(2) is async-signal-safe; the monitor leaves the terminal's session so
        // that no hangup or Ctrl-C meant for skiff reaches it.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let (mut child, mut status) = if self.user.rootless() {
            let ns = self.userns();
            // Another container's network is owned by its user namespace: that one it must be.
            let holder = match &owner {
                Some(owner) => {
                    let holder = userns::Holder::of_process(
                        owner.state.monitor,
                        owner.state.monitor_start,
                        &ns,
                    );
                    if holder.is_none() {
                        return Err(Error::WrongState(format!(
                            "cannot join the network of container {}: its monitor is gone",
                            owner.name
                        )));
                    }
                    holder
                }
                None => self.user_namespace_holder(&ns),
            };
            let helper = userns::spawn_joining(cmd, &ns, holder.as_ref())?;
            drop(holder);
            self.note_user_namespace_holder(helper.child.id());
            (helper.child, helper.lifeline)
        } else {
            cmd.env(STATUS_FD_ENV, STATUS_FD.to_string());
            let (ours, theirs) = userns::socket_on_fd3(&mut cmd)?;
            let child = cmd.spawn().map_err(RuntimeError::Io)?;
            drop(theirs);
            (child, ours)
        };
        tracing::debug!("monitor started");
        // First any "notice TEXT" lines; with `attach`, "attach" once the monitor listens;
        // then one line: "ok" or "err CODE MESSAGE".
        let mut status = std::io::BufReader::new(&mut status);
        let mut answer = String::new();
        loop {
            answer.clear();
            let _ = status.read_line(&mut answer);
            match answer.strip_prefix(NOTICE_PREFIX) {
                Some(text) => notices(crate::engine::Notice(text.trim_end().to_string())),
                None => break,
            }
        }
        let mut conn = None;
        if attach && answer.as_bytes() == ATTACH_READY {
            conn =
                Some(connect(&run).map_err(|e| {
                    Error::Other(format!("attaching to the container's monitor: {e}"))
                })?);
            answer.clear();
            let _ = status.read_line(&mut answer);
        }
        // The monitor goes on alone; reap it if it is already done (a failed start).
        let _ = child.try_wait();
        let answer = answer.trim();
        tracing::debug!("monitor answered {answer:?}");
        if answer == "ok" {
            // A --rm container that was quick may already be gone again: it did run.
            let now = self.find_container(&id).unwrap_or(record);
            return Ok((now, conn));
        }
        match answer.strip_prefix("err ").and_then(|a| a.split_once(' ')) {
            Some((code, message)) => Err(Error::Start {
                code: code.parse().unwrap_or(EXIT_RUNTIME),
                message: message.to_string(),
            }),
            None => {
                let _ = child.wait();
                Err(Error::Other(
                    "the container's monitor ended before the container started".into(),
                ))
            }
        }
    }

    /// The running container whose network a container joins (`--network container:X`),
    /// its PID 1 checked to be the one its record names.
    pub(crate) fn network_owner(&self, target: &str) -> Result<ContainerRecord, Error> {
        let owner = self.find_container(target)?;
        let s = &owner.state;
        let running = s.status == Status::Running
            && self.container_alive(&owner)
            && s.pid > 0
            && super::record::process_start(s.pid) == s.pid_start;
        if !running {
            return Err(Error::WrongState(format!(
                "cannot join network of a non running container: {}: start it first",
                owner.name
            )));
        }
        Ok(owner)
    }

    /// Lays out the runtime directory of one start (/etc files, spec) and returns the spec's
    /// path. `network_owner`: the running container whose network this start joins;
    /// `network`: the plan of its own user-mode network.
    pub(crate) fn prepare_run_dir(
        &self,
        record: &ContainerRecord,
        run: &Path,
        cgroup: Option<PathBuf>,
        console_size: Option<(u16, u16)>,
        network_owner: Option<&ContainerRecord>,
        network: Option<&crate::network::Plan>,
    ) -> Result<PathBuf, Error> {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(run.join("merged"))
            .map_err(|e| Error::Other(format!("creating {}: {e}", run.display())))?;
        let mut spec = record.spec.clone();
        let host_network = spec.namespaces.network == container::Namespace::Host;
        spec.etc_files = super::etc_files::write_etc_files(
            run,
            &spec.hostname,
            host_network,
            &record.etc,
            &super::etc_files::NetworkFacts {
                host: network.and_then(|n| n.host_address),
                own: Vec::new(),
                resolver: super::network::serves_resolver(
                    record,
                    &fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
                ),
            },
        )
        .map_err(|e| Error::Other(format!("writing /etc files: {e}")))?;
        if let Some(plan) = network {
            super::network::write_plan(run, plan)?;
        }
        if let Some(target) = network_owner {
            spec.namespaces.network =
                container::Namespace::Join(format!("/proc/{}/ns/net", target.state.pid).into());
            // Its /etc files too, as Docker: names and resolvers belong to the network.
            let theirs = self.container_run_dir(&target.id);
            for (inside, host) in &mut spec.etc_files {
                if inside != "/etc/hostname" {
                    *host = theirs.join(host.file_name().unwrap_or_default());
                }
            }
        }
        spec.pid_file = Some(run.join("pid"));
        spec.cgroup = cgroup;
        spec.console_size = console_size;
        if spec.seccomp && spec.seccomp_profile.is_none() {
            spec.seccomp_profile = Some(self.default_seccomp_program(&spec.capabilities)?);
        }
        let spec_path = run.join("spec.json");
        let bytes = serde_json::to_vec(&spec).map_err(|e| Error::Other(e.to_string()))?;
        fs::write(&spec_path, bytes)
            .map_err(|e| Error::Other(format!("writing {}: {e}", spec_path.display())))?;
        Ok(spec_path)
    }
}

/// How a container is started under its monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launch {
    /// `run -d`, `start`: nothing attached.
    Detached,
    /// `start -a`: attached from the first byte.
    Attached,
    /// `run`: attached from the first byte, and the container ends with the starting
    /// command unless it detaches.
    Foreground,
}

/// The monitor's main, in the helper process (inside the user's namespace when rootless).
pub fn monitor_main(args: &[String], status: Option<UnixStream>) -> i32 {
    let (data_root, run_root, id, spec_path, attach) = match args {
        [d, r, i, s] => (d, r, i, s, false),
        [d, r, i, s, a] if a == ATTACH_ARG || a == FOREGROUND_ARG => (d, r, i, s, true),
        _ => return EXIT_RUNTIME,
    };
    let foreground = args.get(4).is_some_and(|a| a == FOREGROUND_ARG);
    let _ = rustix::thread::set_name(c"skiff-monitor");
    // It outlives the command that started it: it must hold none of that command's files
    // (a lock a script holds on fd 9, a pipe a caller waits on). 0-2 are /dev/null, 3 the
    // status socket.
    crate::sys::close_fds_from(4);
    let status = status.or_else(|| {
        std::env::var(STATUS_FD_ENV).ok()?;
        std::env::remove_var(STATUS_FD_ENV);
        // SAFETY: the starting command put the status socket on this descriptor for us.
        Some(unsafe { UnixStream::from_raw_fd(STATUS_FD) })
    });
    let engine = match Engine::for_monitor(Path::new(data_root), Path::new(run_root)) {
        Ok(e) => e,
        Err(e) => return tell_failure(status, EXIT_RUNTIME, &e.to_string()),
    };
    let spec: Spec = match fs::read(spec_path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => return tell_failure(status, EXIT_RUNTIME, &format!("reading {spec_path}: {e}")),
    };
    Monitor {
        run_dir: engine.container_run_dir(id),
        engine,
        id: id.clone(),
        spec,
        status,
        wait_attach: attach,
        foreground,
        network: None,
        net: None,
    }
    .run()
}

fn tell_failure(status: Option<UnixStream>, code: i32, message: &str) -> i32 {
    if let Some(mut s) = status {
        let _ = writeln!(s, "err {code} {}", message.replace('\n', " "));
    }
    code
}

struct Monitor {
    engine: Engine,
    id: String,
    spec: Spec,
    run_dir: PathBuf,
    /// Open until the first start is told.
    status: Option<UnixStream>,
    /// `start -a`: the first run waits for the starting command to attach.
    wait_attach: bool,
    /// `run` in the foreground: the container goes with the starting command.
    foreground: bool,
    /// The container's user-mode network, for the monitor's whole life (across restarts).
    network: Option<super::network::Started>,
    /// The user networks it has joined, and its resolver.
    net: Option<crate::engine::network::live::ContainerNet>,
}

impl Monitor {
    fn run(mut self) -> i32 {
        let code = self.serve();
        // Last: the container's processes are gone by now, whichever way it ended.
        if let Some(dir) = &self.spec.cgroup {
            crate::runtime::cgroup::remove(dir);
        }
        code
    }

    fn serve(&mut self) -> i32 {
        let Ok(record) = self.engine.find_container(&self.id) else {
            return tell_failure(self.status.take(), EXIT_RUNTIME, "the container is gone");
        };
        if let Err(e) = self
            .start_network(&record)
            .and_then(|()| container::prepare(&self.spec))
        {
            self.network = None;
            self.record_end(EXIT_RUNTIME, &e);
            return tell_failure(self.status.take(), EXIT_RUNTIME, &e);
        }
        let mut attachments = match Attachments::listen(&self.run_dir) {
            Ok(a) => a,
            Err(e) => {
                let message = format!("creating the attach socket: {e}");
                self.record_end(EXIT_RUNTIME, &message);
                return tell_failure(self.status.take(), EXIT_RUNTIME, &message);
            }
        };
        if self.wait_attach {
            if let Some(s) = &mut self.status {
                let _ = s.write_all(ATTACH_READY);
            }
            if !attachments.wait_for_client(Duration::from_secs(10), self.status.as_ref()) {
                let message = "the starting command did not attach";
                self.record_end(EXIT_RUNTIME, message);
                return tell_failure(self.status.take(), EXIT_RUNTIME, message);
            }
            if self.foreground {
                attachments.set_owner();
            }
        }
        let dir = self.engine.container_dir(&self.id);
        let mut log = LogWriter::open(log_path(&dir, &record.log), &record.log);
        // Restarts in all (on-failure's limit, RestartCount) and the back-off's step, which
        // goes back to the start after a run of 10 s.
        let (mut restarts, mut backoff) = (0u32, 0u32);
        let code = loop {
            let started_at = Instant::now();
            let code = match self.start_once(&record, &mut log, &mut attachments) {
                Ok(code) => code,
                Err((code, message)) => {
                    if self.status.is_some() {
                        self.record_end(code, &message);
                        break tell_failure(self.status.take(), code, &message);
                    }
                    log.line("stderr", format!("Error: {message}\n").as_bytes());
                    code
                }
            };
            let Ok(now) = self.engine.find_container(&self.id) else {
                break code; // removed meanwhile
            };
            if now.state.stop_requested || !now.restart.restarts(code, restarts) {
                self.record_end(code, "");
                break code;
            }
            // Docker's back-off: 100 ms, doubling, back to the start after a run of 10 s.
            if started_at.elapsed() > Duration::from_secs(10) {
                backoff = 0;
            }
            let delay = Duration::from_millis(100u64 << backoff.min(9));
            backoff += 1;
            restarts += 1;
            self.record_restart(code, restarts);
            // Attached clients follow one run, as in Docker.
            attachments.finish(code);
            if !self.sleep_unless_stopped(delay) {
                self.record_end(code, "");
                break code;
            }
        };
        // The helper goes with the container: killed now; waited for before the end is told
        // where it holds host ports (a next `run -p` may want them as soon as this one is
        // gone), and else after (closing the container's interface takes it some 20 ms that
        // `run --rm` need not wait).
        if let Some(n) = self.network.as_mut().and_then(|n| n.running.as_mut()) {
            n.kill();
        }
        // Its names leave the networks' tables with it.
        self.net = None;
        container::teardown(&self.spec);
        super::record::remove_run_dir(&self.run_dir);
        if record.remove {
            // Record and files leave the store in one rename, so a kill from here on leaves
            // a trash entry that a later command finishes, never a container without record.
            let trashed = match self.engine.store.lock() {
                Ok(_lock) => self.engine.store.trash(&dir, "container"),
                Err(e) => Err(e),
            };
            if let Ok(Some(entry)) = trashed {
                let _ = crate::store::unpack::remove_tree(&entry);
            }
        }
        let mut network = self.network.take().and_then(|n| n.running);
        if network.as_ref().is_some_and(|n| !n.bindings().is_empty()) {
            if let Some(n) = network.take() {
                n.finish();
            }
        }
        // Last, so that `start -a` of a `--rm` container returns once it is gone.
        attachments.finish(code);
        if let Some(n) = network {
            n.finish();
        }
        if record.remove {
            // Nobody waits for this process any more, and it is inside the user namespace:
            // the moment to finish what killed commands left.
            let _ = self.engine.finish_leftovers();
        }
        code
    }

    /// The container's user-mode network, started from the host's network before `prepare`
    /// and joined by the container.
    fn start_network(&mut self, record: &ContainerRecord) -> Result<(), String> {
        let Some(started) =
            super::network::start_in_monitor(&self.run_dir, !record.networks.is_empty())?
        else {
            return Ok(());
        };
        if let Some(text) = &started.fell_back {
            if let Some(s) = &mut self.status {
                let _ = writeln!(s, "{NOTICE_PREFIX}{}", text.replace('\n', " "));
            }
        }
        let host_resolv_conf = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let net = crate::engine::network::live::ContainerNet::start(
            &self.engine,
            record,
            started.netns.as_fd(),
            &host_resolv_conf,
        )?;
        if started.fell_back.is_some() || !net.addresses().is_empty() {
            // The host's address on slirp4netns's network is not pasta's; the container's
            // addresses on its user networks are known now.
            self.write_etc_files(record, &net, started.running.as_ref())?;
        }
        self.net = Some(net);
        self.spec.namespaces.network = container::Namespace::Join(started.netns_path());
        self.network = Some(started);
        Ok(())
    }

    /// The container's /etc files as its networks have them now.
    fn write_etc_files(
        &self,
        record: &ContainerRecord,
        net: &crate::engine::network::live::ContainerNet,
        helper: Option<&crate::network::Running>,
    ) -> Result<(), String> {
        let facts = super::etc_files::NetworkFacts {
            host: helper.and_then(|r| r.host_address()),
            own: net.addresses(),
            resolver: net.serves(),
        };
        super::etc_files::write_etc_files(
            &self.run_dir,
            &self.spec.hostname,
            false,
            &record.etc,
            &facts,
        )
        .map(drop)
        .map_err(|e| format!("writing /etc files: {e}"))
    }

    /// One run of the workload: start it, pump its output into the log until it exits.
    fn start_once(
        &mut self,
        record: &ContainerRecord,
        log: &mut LogWriter,
        attachments: &mut Attachments,
    ) -> Result<i32, (i32, String)> {
        let streams = Streams::new(record, &mut self.spec).map_err(|e| {
            (
                EXIT_RUNTIME,
                format!("creating the container's streams: {e}"),
            )
        })?;
        let mut started =
            container::spawn(&self.spec, &streams.for_child()).map_err(|e| (EXIT_RUNTIME, e))?;
        let mut streams = streams.parent_side();
        if let Some((code, message)) = started.failure() {
            let _ = crate::sys::wait_for(started.child);
            return Err((code, message));
        }
        if !self.record_running(started.init) {
            // An `rm` saw it created, not yet running, and took its record: nothing would
            // name it, stop it or remove it, so it must not run on.
            crate::sys::kill_now(started.init);
        }
        if let Some(mut s) = self.status.take() {
            let _ = s.write_all(b"ok\n");
            crate::sys::drop_clean_file_pages();
        }
        // After "ok", off the starting command's path; dropped (and reaped) at the end.
        let _watcher = started.watch();
        let mut health = super::health::Schedule::new(record.health.as_ref());
        let (engine, id) = (&self.engine, self.id.as_str());
        let host = self
            .network
            .as_ref()
            .and_then(|n| n.running.as_ref())
            .and_then(|r| r.host_address());
        let mut live = self.net.as_mut().map(|net| LiveNet {
            net,
            engine,
            id,
            run_dir: &self.run_dir,
            hostname: &self.spec.hostname,
            host,
        });
        let service = live.as_mut().map(|l| l as &mut dyn NetworkService);
        streams.pump(log, attachments, started.init, service, &mut || {
            health.as_mut().map(|h| {
                h.tick(engine, id);
                h.wait()
            })
        });
        if let Some(h) = &mut health {
            h.stop();
        }
        let code = crate::sys::wait_for(started.child);
        if let Some(p) = &self.spec.pid_file {
            let _ = fs::remove_file(p);
        }
        Ok(code)
    }

    /// Changes the record under the store lock; false when it is gone (removed).
    fn update(&self, change: impl FnOnce(&mut ContainerRecord)) -> bool {
        let Ok(_lock) = self.engine.store.lock() else {
            return true;
        };
        match self.engine.find_container(&self.id) {
            Ok(mut record) => {
                change(&mut record);
                let _ = self.engine.save_container(&record);
                true
            }
            Err(_) => false,
        }
    }

    /// False when the record is gone: an `rm` took the container while it started.
    fn record_running(&self, init: i32) -> bool {
        if let Some(p) = &self.spec.pid_file {
            let _ = fs::write(p, init.to_string());
        }
        let me = std::process::id() as i32;
        let ports = self
            .network
            .as_ref()
            .and_then(|n| n.running.as_ref())
            .map(|n| n.bindings().to_vec())
            .unwrap_or_default();
        self.update(|r| {
            r.state.ports = ports;
            r.state.status = Status::Running;
            r.state.pid = init;
            r.state.pid_start = super::record::process_start(init);
            r.state.monitor = me;
            r.state.monitor_start = super::record::process_start(me);
            r.state.started_at = Some(super::record::timestamp());
            r.state.finished_at = None;
            r.state.health = r
                .health
                .as_ref()
                .filter(|h| h.enabled())
                .map(|_| super::record::Health::starting());
        })
    }

    fn record_restart(&self, code: i32, restarts: u32) {
        self.update(|r| {
            r.state.status = Status::Restarting;
            r.state.exit_code = code;
            r.state.restart_count = restarts;
            r.state.pid = 0;
            r.state.finished_at = Some(super::record::timestamp());
        });
    }

    fn record_end(&self, code: i32, error: &str) {
        self.update(|r| {
            r.state.status = Status::Exited;
            r.state.exit_code = code;
            r.state.pid = 0;
            r.state.pid_start = 0;
            r.state.monitor = 0;
            r.state.ports.clear();
            r.state.error = error.to_string();
            r.state.finished_at = Some(super::record::timestamp());
        });
    }

    /// Sleeps `delay`; false when a stop (or removal) came meanwhile.
    fn sleep_unless_stopped(&self, delay: Duration) -> bool {
        let end = Instant::now() + delay;
        while Instant::now() < end {
            std::thread::sleep(Duration::from_millis(50).min(end - Instant::now()));
            match self.engine.find_container(&self.id) {
                Ok(r) if !r.state.stop_requested => {}
                _ => return false,
            }
        }
        true
    }
}

/// What the monitor's loop serves of the container's networks: the resolver's sockets, and a
/// client's request to follow the record's networks (`network connect` while it runs).
trait NetworkService {
    fn resolver_ref(&self) -> Option<&crate::network::resolver::Resolver>;
    fn resolver(&mut self) -> Option<&mut crate::network::resolver::Resolver>;
    fn reconcile(&mut self) -> Result<(), String>;
}

struct LiveNet<'a> {
    net: &'a mut crate::engine::network::live::ContainerNet,
    engine: &'a Engine,
    id: &'a str,
    run_dir: &'a Path,
    hostname: &'a str,
    /// The host's address on the container's user-mode network.
    host: Option<std::net::IpAddr>,
}

impl NetworkService for LiveNet<'_> {
    fn resolver_ref(&self) -> Option<&crate::network::resolver::Resolver> {
        self.net.resolver_ref()
    }

    fn resolver(&mut self) -> Option<&mut crate::network::resolver::Resolver> {
        self.net.resolver()
    }

    fn reconcile(&mut self) -> Result<(), String> {
        let record = self
            .engine
            .find_container(self.id)
            .map_err(|e| e.to_string())?;
        let result = self.net.reconcile(self.engine, &record);
        // The container's own names and resolver as they are now, even after a failure.
        let facts = super::etc_files::NetworkFacts {
            host: self.host,
            own: self.net.addresses(),
            resolver: self.net.serves(),
        };
        super::etc_files::write_etc_files(self.run_dir, self.hostname, false, &record.etc, &facts)
            .map_err(|e| format!("writing /etc files: {e}"))?;
        result
    }
}

/// The container's standard streams as the monitor holds them.
struct Streams {
    /// (stdout, stderr) read ends, or the terminal's master in `out`.
    out: Option<OwnedFd>,
    err: Option<OwnedFd>,
    /// The container's stdin with `-i`: a pipe's write end, or the terminal's master; what
    /// attached clients sent that it has not taken yet.
    input: Option<OwnedFd>,
    pending: Vec<u8>,
    /// Docker's StdinOnce: the end of an attached client's input ends the container's.
    stdin_once: bool,
    close_input: bool,
    interactive: bool,
    tty: bool,
    /// The child's ends (dropped once it is started).
    child_in: Option<OwnedFd>,
    child_out: Option<OwnedFd>,
    child_err: Option<OwnedFd>,
    null: Option<File>,
    console: Option<UnixStream>,
}

/// What a polled descriptor is.
#[derive(Clone, Copy)]
enum Slot {
    Output(usize),
    Listener,
    Client(usize),
    Input,
    /// The resolver's descriptor `k` (see `Resolver::fds`).
    Dns(usize),
}

impl Streams {
    fn new(record: &ContainerRecord, spec: &mut Spec) -> std::io::Result<Streams> {
        let null = File::open("/dev/null")?;
        let mut streams = Streams {
            out: None,
            err: None,
            input: None,
            pending: Vec::new(),
            stdin_once: record.stdin_once,
            close_input: false,
            interactive: record.interactive,
            tty: record.tty,
            child_in: None,
            child_out: None,
            child_err: None,
            null: Some(null),
            console: None,
        };
        let pipe = || rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC);
        if record.tty {
            let (ours, theirs) = UnixStream::pair()?;
            rustix::io::fcntl_setfd(&theirs, rustix::io::FdFlags::empty())?;
            spec.console_socket = Some(theirs.as_raw_fd());
            // The child end stays open in `child_out` until the child is started.
            streams.child_out = Some(OwnedFd::from(theirs));
            streams.console = Some(ours);
            return Ok(streams);
        }
        spec.console_socket = None;
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        (streams.out, streams.child_out) = (Some(out_r), Some(out_w));
        (streams.err, streams.child_err) = (Some(err_r), Some(err_w));
        if record.interactive {
            let (in_r, in_w) = pipe()?;
            set_nonblocking(&in_w)?;
            (streams.child_in, streams.input) = (Some(in_r), Some(in_w));
        }
        Ok(streams)
    }

    fn for_child(&self) -> container::Stdio {
        let raw = |f: &Option<OwnedFd>| f.as_ref().map(|f| f.as_raw_fd());
        container::Stdio {
            stdin: raw(&self.child_in).or(self.null.as_ref().map(|f| f.as_raw_fd())),
            stdout: if self.console.is_some() {
                None
            } else {
                raw(&self.child_out)
            },
            stderr: raw(&self.child_err),
        }
    }

    fn parent_side(mut self) -> Streams {
        self.child_in = None;
        self.child_out = None;
        self.child_err = None;
        self.null = None;
        self
    }

    /// Copies output into the log and to attached clients, and clients' input to the
    /// container, until the output streams end.
    /// `tick` runs the health checks' schedule and says how soon it wants to run again.
    fn pump(
        &mut self,
        log: &mut LogWriter,
        attachments: &mut Attachments,
        init: i32,
        mut net: Option<&mut dyn NetworkService>,
        tick: &mut dyn FnMut() -> Option<Duration>,
    ) {
        if let Some(console) = self.console.take() {
            // With a terminal, the container sends its master end first.
            match crate::runtime::tty::receive_console(&console) {
                Ok(Some(master)) => {
                    if self.interactive {
                        // Writes must not block the monitor (see `write_input`).
                        let _ = set_nonblocking(&master);
                        self.input = master.try_clone().ok();
                    }
                    self.out = Some(master);
                }
                _ => return,
            }
        }
        let mut buf = vec![0u8; 32 * 1024];
        let mut partial: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        let names = ["stdout", "stderr"];
        // After a quiet while, what the output path touched is given back (see
        // `drop_clean_file_pages`): an idle monitor stays small.
        let quiet = rustix::event::Timespec {
            tv_sec: 2,
            tv_nsec: 0,
        };
        let mut busy = true;
        use rustix::event::{PollFd, PollFlags};
        loop {
            if self.out.is_none() && self.err.is_none() {
                break;
            }
            if attachments.take_owner_gone() {
                // skiff, which ran it in its foreground, was killed: so is the container.
                crate::sys::kill_now(init);
            }
            let mut fds = Vec::new();
            let mut slots = Vec::new();
            // While the starting command is far behind, the output waits for it, as the
            // container's writes would wait on a pipe.
            let behind = attachments.owner_behind();
            for (i, f) in [&self.out, &self.err].into_iter().enumerate() {
                if let (Some(f), false) = (f, behind) {
                    fds.push(PollFd::new(f, PollFlags::IN));
                    slots.push(Slot::Output(i));
                }
            }
            if let Some(listener) = attachments.listener() {
                fds.push(PollFd::new(listener, PollFlags::IN));
                slots.push(Slot::Listener);
            }
            // Input waiting for the container: clients' input waits until it is taken.
            let taking_input = self.pending.is_empty();
            if let (Some(input), false) = (&self.input, taking_input) {
                fds.push(PollFd::new(input, PollFlags::OUT));
                slots.push(Slot::Input);
            }
            for (k, (c, behind)) in attachments.clients().enumerate() {
                let mut flags = PollFlags::empty();
                if taking_input {
                    flags |= PollFlags::IN;
                }
                if behind {
                    flags |= PollFlags::OUT;
                }
                fds.push(PollFd::new(c, flags));
                slots.push(Slot::Client(k));
            }
            if let Some(r) = net.as_deref().and_then(|n| n.resolver_ref()) {
                for (k, fd) in r.fds().into_iter().enumerate() {
                    fds.push(PollFd::from_borrowed_fd(fd, PollFlags::IN));
                    slots.push(Slot::Dns(k));
                }
            }
            let dns_due = net
                .as_deref()
                .and_then(|n| n.resolver_ref())
                .and_then(|r| r.timeout());
            let soonest = match (tick(), dns_due) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let wait = match soonest {
                Some(d) if d < Duration::from_secs(2) => rustix::event::Timespec {
                    tv_sec: d.as_secs() as i64,
                    tv_nsec: d.subsec_nanos().into(),
                },
                _ => quiet,
            };
            let polled = rustix::event::poll(&mut fds, Some(&wait));
            let ready: Vec<(Slot, PollFlags)> = fds
                .iter()
                .zip(&slots)
                .filter(|(f, _)| !f.revents().is_empty())
                .map(|(f, s)| (*s, f.revents()))
                .collect();
            drop(fds);
            if let Some(r) = net.as_deref_mut().and_then(|n| n.resolver()) {
                // From the highest: an answered question leaves the list.
                for (slot, _) in ready.iter().rev() {
                    if let Slot::Dns(k) = slot {
                        r.ready(*k);
                    }
                }
                r.expire();
            }
            match polled {
                Ok(0) => {
                    if std::mem::take(&mut busy) {
                        crate::sys::drop_clean_file_pages();
                    }
                    continue;
                }
                Ok(_) => busy = true,
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => break,
            }
            // Clients first, from the highest index: one leaving shifts none still to be read,
            // and a broadcast (which drops clients that are gone) comes after.
            for (slot, revents) in ready.iter().rev() {
                if let Slot::Client(k) = slot {
                    let here = !revents.contains(PollFlags::OUT) || attachments.flush(*k);
                    if here
                        && !(*revents - PollFlags::OUT).is_empty()
                        && self.serve(attachments, *k, &mut buf)
                    {
                        // `network connect` or `disconnect` while the container runs.
                        let answer = match net.as_deref_mut() {
                            Some(n) => n.reconcile(),
                            None => Err("the container has no network namespace of its own \
                                         to join networks from"
                                .to_string()),
                        };
                        let text = answer.err().unwrap_or_default();
                        attachments.reply(
                            *k,
                            super::attach::protocol::Kind::Networks,
                            text.as_bytes(),
                        );
                    }
                }
            }
            for (slot, _) in ready {
                match slot {
                    Slot::Output(i) => {
                        let fd = if i == 0 { &self.out } else { &self.err };
                        let n = match fd.as_ref().map(|f| rustix::io::read(f, &mut buf)) {
                            Some(Ok(n)) => n,
                            Some(Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR)) => {
                                continue
                            }
                            _ => 0,
                        };
                        if n == 0 {
                            // End of stream (EIO from a terminal whose other side is gone
                            // counts too).
                            if !partial[i].is_empty() {
                                log.line(names[i], &std::mem::take(&mut partial[i]));
                            }
                            if i == 0 {
                                self.out = None;
                            } else {
                                self.err = None;
                            }
                            continue;
                        }
                        attachments.broadcast(i, &buf[..n]);
                        let mut data = &buf[..n];
                        while let Some(pos) = data.iter().position(|b| *b == b'\n') {
                            partial[i].extend_from_slice(&data[..=pos]);
                            log.line(names[i], &std::mem::take(&mut partial[i]));
                            data = &data[pos + 1..];
                        }
                        partial[i].extend_from_slice(data);
                        if partial[i].len() >= 16 * 1024 {
                            log.line(names[i], &std::mem::take(&mut partial[i]));
                        }
                    }
                    Slot::Listener => attachments.accept(),
                    Slot::Client(_) | Slot::Dns(_) => {}
                    Slot::Input => self.write_input(),
                }
            }
        }
    }

    /// One message from attached client `k`; true when it asks the monitor to follow the
    /// record's networks (the caller does, and answers).
    fn serve(&mut self, attachments: &mut Attachments, k: usize, buf: &mut [u8]) -> bool {
        match attachments.receive(k, buf) {
            Request::Input(data) => {
                if self.input.is_some() && !self.close_input {
                    self.pending.extend_from_slice(data);
                    self.write_input();
                }
            }
            Request::Resize(rows, cols) => {
                if let Some(master) = self.console_master() {
                    let size = rustix::termios::Winsize {
                        ws_row: rows,
                        ws_col: cols,
                        ws_xpixel: 0,
                        ws_ypixel: 0,
                    };
                    let _ = rustix::termios::tcsetwinsize(master, size);
                }
            }
            Request::Nothing => {}
            Request::Networks => return true,
            Request::End { stdin } => {
                // A terminal has no end of input to give; a pipe is closed once drained.
                if stdin
                    && self.stdin_once
                    && self.console_master().is_none()
                    && self.input.is_some()
                {
                    self.close_input = true;
                    self.write_input();
                }
            }
        }
        false
    }

    /// The terminal's master, when the container has one.
    fn console_master(&self) -> Option<&OwnedFd> {
        self.out.as_ref().filter(|_| self.tty)
    }

    /// Gives the container what it will take of the pending input, without blocking: a
    /// container that doesn't read its stdin must not stop its output being read.
    fn write_input(&mut self) {
        let Some(input) = &self.input else {
            self.pending.clear();
            return;
        };
        while !self.pending.is_empty() {
            match rustix::io::write(input, &self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(rustix::io::Errno::AGAIN) => return,
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => {
                    self.input = None;
                    self.pending.clear();
                    return;
                }
            }
        }
        if self.close_input {
            self.input = None;
        }
    }
}

fn set_nonblocking(fd: &OwnedFd) -> std::io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(fd)?;
    rustix::fs::fcntl_setfl(fd, flags | rustix::fs::OFlags::NONBLOCK)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::super::attach::protocol::{send, Kind, MESSAGE};
    use super::super::log::parse_log_line;
    use super::super::record::LogConfig;
    use super::*;

    /// The monitor's side of a container's pipes, and the container's ends.
    struct Pipes {
        streams: Streams,
        out: OwnedFd,
        err: OwnedFd,
        input: Option<OwnedFd>,
    }

    fn pipes(interactive: bool) -> Pipes {
        let pipe = || rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let ((out_r, out_w), (err_r, err_w)) = (pipe(), pipe());
        let (input, theirs) = if interactive {
            let (r, w) = pipe();
            set_nonblocking(&w).unwrap();
            (Some(w), Some(r))
        } else {
            (None, None)
        };
        let streams = Streams {
            out: Some(out_r),
            err: Some(err_r),
            input,
            pending: Vec::new(),
            stdin_once: true,
            close_input: false,
            interactive,
            tty: false,
            child_in: None,
            child_out: None,
            child_err: None,
            null: None,
            console: None,
        };
        Pipes {
            streams,
            out: out_w,
            err: err_w,
            input: theirs,
        }
    }

    fn json_log(dir: &Path) -> (PathBuf, LogWriter) {
        let config = LogConfig::default();
        let path = log_path(dir, &config).unwrap();
        let writer = LogWriter::open(Some(path.clone()), &config);
        (path, writer)
    }

    fn entries(path: &Path) -> Vec<(String, Vec<u8>)> {
        fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| parse_log_line(l, false).unwrap())
            .map(|e| (e.stream, e.text))
            .collect()
    }

    /// The container's PID 1 for `pump`: only signalled when a foreground owner is gone, and
    /// these tests have none.
    const NO_INIT: i32 = i32::MAX;

    #[test]
    fn output_goes_to_the_log_by_line_and_stream() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut log) = json_log(dir.path());
        let mut attachments = Attachments::listen(dir.path()).unwrap();
        let mut p = pipes(false);
        rustix::io::write(&p.out, b"one\ntwo\nthree").unwrap();
        rustix::io::write(&p.err, b"oops\n").unwrap();
        drop((p.out, p.err));
        p.streams
            .pump(&mut log, &mut attachments, NO_INIT, None, &mut || None);
        let got = entries(&path);
        let of = |stream: &str| -> Vec<Vec<u8>> {
            got.iter()
                .filter(|(s, _)| s == stream)
                .map(|(_, t)| t.clone())
                .collect()
        };
        // A last line without its newline is logged when the stream ends.
        assert_eq!(of("stdout"), [&b"one\n"[..], b"two\n", b"three"]);
        assert_eq!(of("stderr"), [b"oops\n"]);
    }

    #[test]
    fn a_long_line_is_logged_in_parts() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut log) = json_log(dir.path());
        let mut attachments = Attachments::listen(dir.path()).unwrap();
        let mut p = pipes(false);
        // Within a pipe's capacity, so that it is all there before the monitor reads: the
        // first read takes a whole buffer (32 KiB), past the 16 KiB a partial line may grow.
        let line = vec![b'x'; 40_000];
        rustix::io::write(&p.out, &line).unwrap();
        drop((p.out, p.err));
        p.streams
            .pump(&mut log, &mut attachments, NO_INIT, None, &mut || None);
        let sizes: Vec<usize> = entries(&path).iter().map(|(_, t)| t.len()).collect();
        assert_eq!(sizes, [32 * 1024, 40_000 - 32 * 1024]);
    }

    #[test]
    fn a_client_gets_the_output_and_its_input_reaches_the_container() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut log) = json_log(dir.path());
        let mut attachments = Attachments::listen(dir.path()).unwrap();
        let p = pipes(true);
        let client = connect(dir.path()).unwrap();
        send_on(&client, Kind::HelloStdin, b"");
        send_on(&client, Kind::Stdin, b"hello ");
        send_on(&client, Kind::Stdin, b"there");
        // With StdinOnce, the end of the client's input ends the container's.
        send_on(&client, Kind::StdinEnd, b"");
        let Pipes {
            mut streams,
            out,
            err,
            input,
        } = p;
        let monitor = std::thread::spawn(move || {
            streams.pump(&mut log, &mut attachments, NO_INIT, None, &mut || None);
        });
        // The container: reads its stdin to the end, answers, exits.
        let mut stdin = File::from(input.unwrap());
        let mut read = Vec::new();
        std::io::Read::read_to_end(&mut stdin, &mut read).unwrap();
        assert_eq!(read, b"hello there");
        rustix::io::write(&out, b"got it\n").unwrap();
        drop((out, err));
        monitor.join().unwrap();
        let mut buf = vec![0u8; MESSAGE];
        let (n, _) =
            rustix::net::recv(client.as_fd(), &mut buf, rustix::net::RecvFlags::empty()).unwrap();
        assert_eq!(Kind::of(buf[0]), Some(Kind::Stdout));
        assert_eq!(&buf[1..n], b"got it\n");
        assert_eq!(
            entries(&path),
            [("stdout".to_string(), b"got it\n".to_vec())]
        );
    }

    fn send_on(conn: &Connection, kind: Kind, data: &[u8]) {
        let fd = conn.as_fd().try_clone_to_owned().unwrap();
        send(&fd, kind, data).unwrap();
    }
}
