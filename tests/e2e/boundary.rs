//! The container boundary, attacked from inside: a static probe (tests/probe/probe.c, built by
//! test-env.sh) runs in the container and reports what it could see and do.

use crate::harness::{env, Out, Sandbox};

/// `-v` of the probe's directory, read-only at /p.
fn probe() -> String {
    format!("-v {}:/p:ro", env().probe.display())
}

fn ready(s: &Sandbox) {
    s.check("pull -q $REG/busybox", 0, "");
}

/// Run modes the boundary must hold in (the list).
const MODES: &[&str] = &[
    "",
    "-t",
    "-i",
    "--init",
    "--tmpfs /scratch",
    "--read-only",
    "--network host",
    "-u 1000",
    "--privileged",
];

/// Working directories that lead through /proc's magic links: every descriptor number from 3
/// to 64 (`all`), or those up to 24 (where skiff's own ever were) and a few beyond.
fn escapes(all: bool) -> Vec<String> {
    let numbers: Vec<u32> = if all {
        (3..=64).collect()
    } else {
        (3..=24).chain([32, 48, 64]).collect()
    };
    let mut w: Vec<String> = numbers
        .iter()
        .map(|n| format!("/proc/self/fd/{n}"))
        .collect();
    w.push("/proc/self/cwd".into());
    w.push("/proc/1/cwd".into());
    w
}

/// A start with such a working directory is refused, or lands beneath the root.
fn assert_inside(what: &str, out: &Out) {
    let all = format!("{}{}", out.stdout, out.stderr);
    if out.code == 0 {
        assert!(all.contains("inside=yes"), "{what}: {out:?}");
    } else {
        assert!(
            all.contains("working directory") && !all.contains("inside=no"),
            "{what}: {out:?}"
        );
    }
}

#[test]
fn working_directories_never_leave_the_root_in_run() {
    let s = Sandbox::user();
    ready(&s);
    let p = probe();
    let vol = s.dir.join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    std::os::unix::fs::chown(&vol, Some(s.user.uid), Some(s.user.gid)).unwrap();
    let with_volume = format!("-v {}:/mnt", vol.display());
    let mut modes: Vec<&str> = MODES.to_vec();
    modes.push(&with_volume);
    // Every number for the plain run, the usual ones in the other modes (each a full start).
    for mode in modes {
        for w in escapes(mode.is_empty()) {
            let line = format!("run --rm {mode} {p} -w {w} $REG/busybox /p/probe cwd");
            assert_inside(&line, &s.run(&line));
        }
    }
}

#[test]
fn working_directories_never_leave_the_root_in_exec_and_detached_runs() {
    let s = Sandbox::user();
    ready(&s);
    let p = probe();
    for (i, mode) in MODES.iter().enumerate() {
        let name = format!("w{i}");
        s.check(
            &format!("run -d --name {name} {mode} {p} $REG/busybox sleep 600"),
            0,
            "",
        );
        for w in escapes(true) {
            let line = format!("exec -w {w} {name} /p/probe cwd");
            assert_inside(&line, &s.run(&line));
        }
        // exec -d: the result lands in a file the container keeps.
        for w in ["/proc/self/fd/3", "/proc/self/fd/17", "/proc/self/cwd"] {
            let out = s.run(&format!(
                "exec -d -w {w} {name} sh -c '/p/probe cwd > /tmp/cwd-d'"
            ));
            if out.code == 0 {
                s.eventually(&format!("exec {name} cat /tmp/cwd-d"), "inside=yes");
            } else {
                assert_inside("exec -d", &out);
            }
        }
        s.check(&format!("rm -f {name}"), 0, "");
    }
    // A detached run and a health check with such a working directory.
    for w in ["/proc/self/fd/3", "/proc/self/fd/16", "/proc/self/cwd"] {
        let out = s.run(&format!(
            "run -d --name dw -w {w} {p} $REG/busybox /p/probe cwd"
        ));
        if out.code == 0 {
            s.eventually("logs dw", "inside=yes");
        } else {
            assert_inside("run -d", &out);
        }
        s.run("rm -f dw");
    }
    // Health checks run where the container's workload does: beneath the root.
    for mode in ["", "--init"] {
        s.check(
            &format!(
                "run -d --name hc {mode} {p} --health-cmd '/p/probe cwd | grep -q inside=yes' \
                 --health-interval 200ms $REG/busybox sleep 600"
            ),
            0,
            "",
        );
        s.eventually("ps --format '{{.Status}}'", "(healthy)");
        s.check("rm -f hc", 0, "");
    }
}

#[test]
fn only_the_standard_streams_reach_the_workload() {
    let s = Sandbox::user();
    ready(&s);
    let p = probe();
    for mode in MODES {
        s.check(
            &format!("run --rm {mode} {p} $REG/busybox /p/probe fds"),
            0,
            "fds=0,1,2",
        );
    }
    s.check(
        &format!("run -d --name fds --init {p} $REG/busybox sleep 600"),
        0,
        "",
    );
    s.check("exec fds /p/probe fds", 0, "fds=0,1,2");
    let tty = s.on_terminal(
        &format!(
            "{} exec -it fds /p/probe fds",
            crate::harness::skiff_bin().display()
        ),
        &[],
    );
    assert!(tty.contains("fds=0,1,2"), "exec -it: {tty}");
    s.check("exec -d fds sh -c '/p/probe fds > /tmp/fds'", 0, "");
    s.eventually("exec fds cat /tmp/fds", "fds=0,1,2");
    s.check("rm -f fds", 0, "");
    s.check(
        &format!("run -d --name log {p} $REG/busybox /p/probe fds"),
        0,
        "",
    );
    s.eventually("logs log", "fds=0,1,2");
    s.check("rm -f log", 0, "");
    s.check(
        &format!(
            "run -d --name hc {p} --health-cmd '/p/probe fds | grep -qx fds=0,1,2' \
             --health-interval 200ms $REG/busybox sleep 600"
        ),
        0,
        "",
    );
    s.eventually("ps --format '{{.Status}}'", "(healthy)");
    s.check("rm -f hc", 0, "");
}

/// /proc/self/status lines as Podman 4.3.1 (rootless, runc, its default capabilities and
/// seccomp profile) shows them on this machine for root and for uid 1000 in a container.
const PODMAN_ROOT: &[&str] = &[
    "CapInh:\t0000000000000000",
    "CapPrm:\t00000000800405fb",
    "CapEff:\t00000000800405fb",
    "CapBnd:\t00000000800405fb",
    "CapAmb:\t0000000000000000",
    "NoNewPrivs:\t0",
    "Seccomp:\t2",
];
const PODMAN_USER: &[&str] = &[
    "CapInh:\t0000000000000000",
    "CapPrm:\t0000000000000000",
    "CapEff:\t0000000000000000",
    "CapBnd:\t00000000800405fb",
    "CapAmb:\t0000000000000000",
    "NoNewPrivs:\t0",
    "Seccomp:\t2",
];

#[test]
fn capabilities_are_podmans() {
    let s = Sandbox::user();
    ready(&s);
    let status = "grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status";
    s.check("run -d --name caps $REG/busybox sleep 600", 0, "");
    for (user, want) in [("", PODMAN_ROOT), ("-u 1000", PODMAN_USER)] {
        let run = s.check(&format!("run --rm {user} $REG/busybox {status}"), 0, "");
        let exec = s.check(&format!("exec {user} caps {status}"), 0, "");
        for line in want {
            assert!(run.stdout.contains(line), "run {user}: {line:?}\n{run:?}");
            assert!(
                exec.stdout.contains(line),
                "exec {user}: {line:?}\n{exec:?}"
            );
        }
    }
    s.check("rm -f caps", 0, "");
}

#[test]
fn a_file_capability_gives_a_user_nothing() {
    let s = Sandbox::user();
    ready(&s);
    // uid 1000 runs a copy of the probe that carries CAP_DAC_OVERRIDE as inheritable: with an
    // empty inheritable set it gains nothing and can't read root's secret.
    s.check(
        &format!("run --rm {} $REG/busybox /p/probe filecap", probe()),
        0,
        "uid=1000 capeff=0000000000000000 secret=EACCES",
    );
}

#[test]
fn a_scanning_container_never_sees_the_host() {
    let mut s = Sandbox::user();
    // Every command runs with a secret in its environment, as a user's shell may hold one.
    s.set_env("SKIFF_TEST_SECRET", Some("hunter2"));
    ready(&s);
    let p = probe();
    for mode in ["", "--init"] {
        // The scan runs while 200 execs and a health check every 100 ms join the container.
        let name = if mode.is_empty() { "scan" } else { "scani" };
        s.check(
            &format!(
                "run -d --name {name} {mode} {p} --health-cmd true --health-interval 100ms \
                 $REG/busybox /p/probe scan 8 SKIFF_TEST_SECRET"
            ),
            0,
            "",
        );
        for _ in 0..200 {
            let out = s.run(&format!("exec {name} true"));
            if out.code != 0 {
                break; // the scan is over
            }
        }
        s.check(&format!("wait {name}"), 0, "0");
        let log = s.check(&format!("logs {name}"), 0, "").stdout;
        assert!(
            log.contains("environ=0 exe_open=0 ptrace=0 getfd=0 "),
            "{mode}: {log}"
        );
        let seen: u32 = log
            .split_whitespace()
            .find_map(|w| w.strip_prefix("seen="))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        // Without --init none of skiff's processes is the container's own; with it, init is,
        // and the scan must have seen more than that one.
        let least = if mode.is_empty() { 1 } else { 2 };
        assert!(
            seen >= least,
            "{mode}: the scan saw too few of skiff's processes: {log}"
        );
        s.check(&format!("rm -f {name}"), 0, "");
    }
}

#[test]
fn a_binary_the_container_could_write_is_sealed() {
    let mut s = Sandbox::user();
    s.check("pull -q $REG/debian:bookworm", 0, "");
    let p = probe();
    // The user's own copy of skiff (as `cargo install` leaves it), and the suite's one that
    // belongs to root.
    let own = s.home().join("skiff");
    std::fs::copy(crate::harness::skiff_bin(), &own).unwrap();
    std::os::unix::fs::chown(&own, Some(s.user.uid), Some(s.user.gid)).unwrap();
    for (binary, want) in [
        (Some(own.clone()), "sealed=yes"),
        (None, "open_write=EACCES"),
    ] {
        s.binary = binary.clone();
        s.check(
            &format!("run -d --name ex {p} $REG/debian:bookworm sleep 600"),
            0,
            "",
        );
        s.check("exec -d ex sh -c '/p/probe exe 8 login > /tmp/exe'", 0, "");
        wait_until_running("/p/probe exe 8 login", true, "the probe never ran");
        // skiff's binary runs inside the container (exec of /proc/self/exe), waiting on its
        // input, while the probe takes hold of its executable. It lives a few milliseconds:
        // on a busy machine the probe's scan of /proc may miss one, so it runs until caught.
        let end = std::time::Instant::now() + std::time::Duration::from_secs(6);
        while !processes_of_any("/p/probe exe 8 login").is_empty()
            && std::time::Instant::now() < end
        {
            let _ = s.run_with_input(
                "exec -i ex /proc/self/exe login --password-stdin -u x 127.0.0.1:1",
                b"",
            );
        }
        let out = s.eventually("exec ex cat /tmp/exe", "held=");
        assert!(out.contains("held=yes"), "{out}");
        assert!(out.contains(want), "{binary:?}: {out}");
        assert!(!out.contains("write=ok"), "{binary:?}: {out}");
        s.check("rm -f ex", 0, "");
    }
}

#[test]
fn system_calls_are_refused_as_under_dockers_profile() {
    let s = Sandbox::user();
    ready(&s);
    let p = probe();
    let refused = [
        "unshare=EPERM",
        "mount=EPERM",
        "umount=EPERM",
        "pivot_root=EPERM",
        "keyctl=EPERM",
        "add_key=EPERM",
        "bpf=EPERM",
        "perf_event_open=EPERM",
        "userfaultfd=EPERM",
        "open_by_handle_at=EPERM",
        "init_module=EPERM",
        "kexec_load=EPERM",
        "ptrace=E",
        "setns=EPERM",
        "io_uring_setup=EPERM",
        "vsock=EPERM",
        "personality=EPERM",
    ];
    // ptrace of a process outside: this test's own pid, which the container can't even see.
    let outside = std::process::id();
    let out = s.check(
        &format!("run --rm {p} $REG/busybox /p/probe syscalls {outside}"),
        0,
        "",
    );
    // The filter, not a missing capability, refuses these: unconfined, they go through.
    let unconfined = s.check(
        &format!("run --rm --security-opt seccomp=unconfined {p} $REG/busybox /p/probe syscalls"),
        0,
        "",
    );
    for r in [
        "keyctl=ok",
        "add_key=ok",
        "io_uring_setup=ok",
        "personality=ok",
    ] {
        assert!(
            unconfined.stdout.contains(r),
            "unconfined: {r}\n{unconfined:?}"
        );
    }
    for r in refused {
        assert!(out.stdout.contains(r), "default: {r}\n{out:?}");
    }
    for r in ["kcore=", "sysrq=", "sys="] {
        assert!(
            !out.stdout.contains(&format!("{r}ok")),
            "default: {r}\n{out:?}"
        );
    }
    // The same refusals through the 32-bit ABI (not SIGSYS).
    let out = s.check(
        &format!("run --rm {p} $REG/busybox /p/probe32 syscalls"),
        0,
        "",
    );
    for r in refused.iter().filter(|r| !r.starts_with("vsock")) {
        assert!(out.stdout.contains(r), "32-bit: {r}\n{out:?}");
    }
    // Allowed where --privileged or --cap-add says so (and the kernel lets a user namespace).
    let out = s.check(
        &format!("run --rm --privileged {p} $REG/busybox /p/probe syscalls"),
        0,
        "",
    );
    for r in [
        "unshare=ok",
        "mount=ok",
        "umount=ok",
        "keyctl=ok",
        "add_key=ok",
    ] {
        assert!(out.stdout.contains(r), "--privileged: {r}\n{out:?}");
    }
    let out = s.check(
        &format!("run --rm --cap-add SYS_ADMIN {p} $REG/busybox /p/probe syscalls"),
        0,
        "",
    );
    for r in [
        "unshare=ok",
        "mount=ok",
        "umount=ok",
        "setns=ok",
        "keyctl=EPERM",
    ] {
        assert!(out.stdout.contains(r), "--cap-add SYS_ADMIN: {r}\n{out:?}");
    }
}

#[test]
fn cp_never_follows_a_swapped_symlink_out_of_the_root() {
    let s = Sandbox::user();
    ready(&s);
    // A canary on the host, at a path the container tries to reach through /x/d -> /.
    let canary = s.dir.join("canary");
    std::fs::write(&canary, "CANARY-CONTENT").unwrap();
    std::os::unix::fs::chown(&canary, Some(s.user.uid), Some(s.user.gid)).unwrap();
    let before = std::fs::metadata(&canary).unwrap();
    let rel = canary.strip_prefix("/").unwrap().display().to_string();
    s.check(
        "run -d --name sw $REG/busybox sh -c 'mkdir -p /x; while :; do mkdir -p /x/d; \
         rm -rf /x/d; ln -s / /x/d; rm -f /x/d; done'",
        0,
        "",
    );
    let src = s.dir.join("in");
    std::fs::write(&src, "FROM-THE-HOST").unwrap();
    std::os::unix::fs::chown(&src, Some(s.user.uid), Some(s.user.gid)).unwrap();
    let out_dir = s.dir.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    std::os::unix::fs::chown(&out_dir, Some(s.user.uid), Some(s.user.gid)).unwrap();
    for i in 0..200 {
        let dest = out_dir.join(format!("o{i}"));
        let _ = s.run(&format!("cp sw:/x/d/{rel} {}", dest.display()));
        if let Ok(text) = std::fs::read_to_string(&dest) {
            assert!(!text.contains("CANARY"), "copy {i} read the host's canary");
        }
        let _ = s.run(&format!("cp {} sw:/x/d/{rel}", src.display()));
    }
    assert_eq!(std::fs::read_to_string(&canary).unwrap(), "CANARY-CONTENT");
    let after = std::fs::metadata(&canary).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(before.mtime(), after.mtime());
    assert_eq!(before.ino(), after.ino());
    s.check("rm -f sw", 0, "");
}

#[test]
fn init_containers_take_exec_cp_and_health_checks() {
    // --init's PID 1 is not dumpable: what joins the container goes through its workload.
    let s = Sandbox::user();
    ready(&s);
    s.check(
        "run -d --init --name ini --health-cmd 'test -d /proc/1' --health-interval 200ms \
         $REG/busybox sleep 600",
        0,
        "",
    );
    s.check("exec ini sh -c 'cat /proc/1/comm'", 0, "skiff-init");
    let file = s.dir.join("f");
    std::fs::write(&file, "copied").unwrap();
    std::os::unix::fs::chown(&file, Some(s.user.uid), Some(s.user.gid)).unwrap();
    s.check(&format!("cp {} ini:/tmp/f", file.display()), 0, "");
    s.check("exec ini cat /tmp/f", 0, "copied");
    s.eventually("ps --format '{{.Status}}'", "(healthy)");
    s.check("rm -f ini", 0, "");
}

/// Processes (of any user: a container's may run as a subordinate id) whose command line is
/// `cmdline` (NUL-separated words joined by spaces), which is unique to one test.
fn processes_of_any(cmdline: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).replace('\0', " ").trim() == cmdline)
        })
        .collect()
}

/// Waits up to 5 s until processes with command line `cmdline` run (`running`) or are gone;
/// fails with `why` otherwise.
fn wait_until_running(cmdline: &str, running: bool, why: &str) {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while processes_of_any(cmdline).is_empty() == running {
        assert!(std::time::Instant::now() < end, "{why}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_killed_monitor_takes_every_process_of_its_container_with_it() {
    let s = Sandbox::user();
    ready(&s);
    // The workload switches user with su in the last two: that clears PID 1's parent-death
    // signal, and the container must still end.
    for (i, mode) in [
        "",
        "--init",
        "-t",
        "--init -t",
        "--userns keep-id",
        "--init --userns keep-id",
        "su",
        "--userns auto:size=65536 su",
    ]
    .iter()
    .enumerate()
    {
        let name = format!("mon{i}");
        let sleep = format!("sleep 42{i}");
        let (flags, command) = match mode.strip_suffix("su") {
            Some(flags) => (
                flags.to_string(),
                format!("su -s /bin/sh nobody -c 'exec {sleep}'"),
            ),
            None => (mode.to_string(), sleep.clone()),
        };
        s.check(
            &format!("run -d --name {name} {flags} $REG/busybox {command}"),
            0,
            "",
        );
        wait_until_running(&sleep, true, &format!("{mode}: never ran"));
        let monitor: i32 = s
            .check(
                &format!("inspect -f '{{{{.State.ConmonPid}}}}' {name}"),
                0,
                "",
            )
            .stdout
            .trim()
            .parse()
            .unwrap();
        assert!(monitor > 0);
        // The monitor this test started, by its pid.
        std::process::Command::new("kill")
            .args(["-9", &monitor.to_string()])
            .status()
            .unwrap();
        s.eventually(
            &format!("ps -a --filter name={name} --format '{{{{.Status}}}}'"),
            "Exited",
        );
        wait_until_running(
            &sleep,
            false,
            &format!("{mode}: the container's processes outlived their monitor"),
        );
        s.check(&format!("rm -f {name}"), 0, "");
    }
}

#[test]
fn rm_ends_what_outlived_a_killed_monitor() {
    // A workload that cleared its parent-death signal (su), its watcher and its monitor all
    // killed: the record says exited, and `rm -f` still ends PID 1, found by pid and start time.
    let s = Sandbox::user();
    ready(&s);
    let sleep = "sleep 4299";
    s.check(
        &format!("run -d --name orphan $REG/busybox su -s /bin/sh nobody -c 'exec {sleep}'"),
        0,
        "",
    );
    wait_until_running(sleep, true, "never ran");
    let monitor: i32 = s
        .check("inspect -f '{{.State.ConmonPid}}' orphan", 0, "")
        .stdout
        .trim()
        .parse()
        .unwrap();
    // The monitor starts the watcher once it has answered `run -d`, and the watcher takes its
    // name after the fork: on a busy machine it may take a moment to be there.
    let find_watcher = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .find(|pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                stat.contains("(skiff-watch)")
                    && stat
                        .rsplit_once(')')
                        .and_then(|(_, r)| r.split_whitespace().nth(1)?.parse::<i32>().ok())
                        == Some(monitor)
            })
    };
    let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let watcher = loop {
        match find_watcher() {
            Some(pid) => break pid,
            None if std::time::Instant::now() < end => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            None => panic!("the container's watcher"),
        }
    };
    for pid in [watcher, monitor] {
        std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
    }
    s.eventually("ps -a --format '{{.Status}}'", "Exited");
    assert!(
        !processes_of_any(sleep).is_empty(),
        "nothing was left to end"
    );
    s.check("rm -f orphan", 0, "orphan");
    wait_until_running(sleep, false, "rm -f left PID 1 running");
}
