//! `attach` and `start -a`: a container's streams through its monitor, detach keys, stdin,
//! signals passed on.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::harness::{Sandbox, User};

fn ready(s: &Sandbox) {
    s.check("pull -q $REG/busybox", 0, "");
}

/// Reads `from` until `marker` shows; what was read.
fn read_until(from: &mut impl Read, marker: &str) -> String {
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&seen).contains(marker) {
        match from.read(&mut byte) {
            Ok(1) => seen.push(byte[0]),
            _ => panic!("the stream ended before {marker:?}: {seen:?}"),
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// Sends lines through the first client (`input`, answered on `output` as "LINE" or
/// "got LINE") until a second one shows a line on `viewer`: then it is surely attached.
fn until_viewer_attached(
    viewer: impl Read + Send + 'static,
    input: &mut impl Write,
    output: &mut impl Read,
) {
    let seen = lines_seen(viewer);
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(
            Instant::now() < end,
            "the second client never saw the output"
        );
        input.write_all(b"line\n").unwrap();
        read_until(output, "line\n");
        if seen.recv_timeout(Duration::from_millis(100)).is_ok() {
            return;
        }
    }
}

/// Each line read from `from`, as it comes, on a channel.
fn lines_seen(from: impl Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(from)).map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

#[test]
fn attach_passes_stdin_output_and_the_exit_code() {
    for s in [
        Sandbox::user(),
        Sandbox::nosub(),
        Sandbox::new(User::root()),
    ] {
        ready(&s);
        s.check(
            "run -di --name rd $REG/busybox sh -c 'read l; echo \"got $l\"; echo err >&2; exit 3'",
            0,
            "",
        );
        // The container waits for its input, so nothing is missed before attaching.
        let out = s.run_with_input("attach rd", b"x\n");
        assert_eq!(out.code, 3, "the container's exit code: {out:?}");
        assert_eq!(out.stdout, "got x\n", "{out:?}");
        assert_eq!(out.stderr, "err\n", "stderr stays stderr: {out:?}");
        s.check(
            "ps -a --format '{{.Names}} {{.Status}}'",
            0,
            "rd Exited (3)",
        );
        s.check("attach rd", 125, "stopped container");
        s.check("attach nothere", 125, "No such container");
        s.check(
            "container attach --detach-keys ctrl-1 rd",
            125,
            "invalid detach keys",
        );
        s.check("rm rd", 0, "rd");
    }
}

#[test]
fn detach_keys_leave_the_container_running() {
    let s = Sandbox::user();
    ready(&s);
    let skiff = crate::harness::skiff_bin().display().to_string();
    s.check("run -dit --name loop $REG/busybox sh", 0, "");
    // Keys of one's own (the default ones are in attach_to_a_terminal): skiff leaves, the
    // shell goes on, and what follows the keys is not sent.
    s.on_terminal(
        &format!("{skiff} attach --detach-keys ctrl-a,x loop; echo code=$?"),
        &[
            (b"echo one-$((1+1))\r", "one-2"),
            (b"\x01xecho two-$((1+2))\r", "code=0"),
        ],
    );
    s.check("ps --format '{{.Names}} {{.Status}}'", 0, "loop Up");
    let logs = s.run("logs loop").stdout;
    assert!(
        logs.contains("one-2") && !logs.contains("two-3"),
        "{logs:?}"
    );
    // Without a terminal the keys are plain input (piped data may hold any byte), as in
    // Docker: this shell gets them and skiff stays until it exits.
    s.check(
        "run -di --name raw $REG/busybox sh -c 'head -c 5 > /tmp/got; od -c /tmp/got'",
        0,
        "",
    );
    let out = s.run_with_input("attach raw", b"\x10\x11end");
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("020 021   e   n   d"), "{out:?}");
    s.check("rm -f loop raw", 0, "raw");
    // A container in the foreground of another skiff can be attached to as well: both see
    // its output, and the second leaving leaves it running.
    let mut fg = s
        .command(&s.args(
            "run -i --name fg $REG/busybox sh -c 'echo ready; while read l; do echo \"got $l\"; done'",
        ))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    read_until(fg.stdout.as_mut().unwrap(), "ready");
    let mut viewer = s
        .command(&s.args("attach --no-stdin fg"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    until_viewer_attached(
        viewer.stdout.take().unwrap(),
        fg.stdin.as_mut().unwrap(),
        fg.stdout.as_mut().unwrap(),
    );
    viewer.kill().unwrap();
    viewer.wait().unwrap();
    s.check("ps --format '{{.Names}} {{.Status}}'", 0, "fg Up");
    // Its own skiff killed: the container goes with it (what a batch job's end needs).
    fg.kill().unwrap();
    fg.wait().unwrap();
    s.eventually("ps -a --format '{{.Names}} {{.Status}}'", "fg Exited (137)");
    s.check("rm fg", 0, "fg");
}

#[test]
fn attach_without_stdin_and_signals_passed_on() {
    let s = Sandbox::user();
    ready(&s);
    s.check(
        "run -di --name tick $REG/busybox sh -c 'trap \"echo usr1\" USR1; while true; do echo tick; read -t 0.1 l && echo \"got $l\"; done'",
        0,
        "",
    );
    let attach = |line: &str, input: &[u8]| {
        let mut child = s
            .command(&s.args(line))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.as_mut().unwrap().write_all(input).unwrap();
        child
    };
    // With stdin: the line reaches the container, its answer comes back here.
    let mut child = attach("attach tick", b"hello\n");
    read_until(child.stdout.as_mut().unwrap(), "got hello");
    // A signal skiff receives goes on to the container (--sig-proxy, the default).
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::USR1,
    )
    .unwrap();
    read_until(child.stdout.as_mut().unwrap(), "usr1");
    child.kill().unwrap();
    child.wait().unwrap();
    // --no-stdin: output comes, input stays here.
    let mut child = attach("attach --no-stdin tick", b"secret\n");
    read_until(child.stdout.as_mut().unwrap(), "tick");
    // --sig-proxy=false: the signal is skiff's own (USR1 ends it), not the container's.
    let mut quiet = attach("attach --sig-proxy=false tick", b"");
    read_until(quiet.stdout.as_mut().unwrap(), "tick");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(quiet.id() as i32).unwrap(),
        rustix::process::Signal::USR1,
    )
    .unwrap();
    let status = quiet.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGUSR1)
    );
    // A line sent now by a third client shows the first two were not passed on.
    let mut last = attach("attach tick", b"last\n");
    read_until(last.stdout.as_mut().unwrap(), "got last");
    let logs = s.run("logs tick").stdout;
    assert!(
        !logs.contains("secret"),
        "--no-stdin passed stdin on: {logs:?}"
    );
    assert_eq!(logs.matches("usr1").count(), 1, "{logs:?}");
    for mut c in [child, last] {
        c.kill().unwrap();
        c.wait().unwrap();
    }
    s.check("rm -f tick", 0, "tick");
}

#[test]
fn attach_to_a_terminal() {
    let s = Sandbox::user();
    ready(&s);
    let skiff = crate::harness::skiff_bin().display().to_string();
    s.check("run -dit --name term $REG/busybox sh", 0, "");
    // Its input must be a terminal too, as in Docker.
    let out = s.run_with_input("attach term", b"exit\n");
    assert_eq!(out.code, 125, "{out:?}");
    assert!(out.stderr.contains("not a TTY"), "{out:?}");
    // A line (which shows skiff's terminal is raw, so the keys that follow reach skiff),
    // then the detach keys: skiff leaves, the shell stays.
    let out = s.on_terminal(
        &format!("{skiff} attach term; echo code=$?"),
        &[
            (b"tty; echo hi-$((6*7))\r", "hi-42"),
            (b"\x10\x11", "code=0"),
        ],
    );
    assert!(out.contains("/dev/pts/0"), "{out:?}");
    s.check("ps --format '{{.Names}} {{.Status}}'", 0, "term Up");
    // Back again; the shell's exit ends skiff with its code.
    let out = s.on_terminal(
        &format!("{skiff} attach term; echo code=$?"),
        &[(b"echo again-$((6*7)); exit 5\r", "code=5")],
    );
    assert!(out.contains("again-42"), "{out:?}");
    s.check(
        "ps -a --format '{{.Names}} {{.Status}}'",
        0,
        "term Exited (5)",
    );
    s.check("rm term", 0, "term");
}

#[test]
fn start_attached_runs_under_the_monitor() {
    let s = Sandbox::user();
    ready(&s);
    s.check(
        "create --name sa $REG/busybox sh -c 'echo out; echo err >&2; exit 3'",
        0,
        "",
    );
    // Attached from the first byte.
    let out = s.run("start -a sa");
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (3, "out\n", "err\n")
    );
    // And logged, as every run of a container is.
    let logs = s.run("logs sa");
    assert_eq!(
        (logs.stdout.as_str(), logs.stderr.as_str()),
        ("out\n", "err\n")
    );
    // create -i: stdin ends when skiff's ends (Docker's StdinOnce).
    s.check(
        "create -i --name si $REG/busybox sh -c 'cat; exit 4'",
        0,
        "",
    );
    let out = s.run_with_input("start -ai si", b"hello\n");
    assert_eq!((out.code, out.stdout.as_str()), (4, "hello\n"), "{out:?}");
    // --rm: gone when skiff returns.
    s.check("create --rm --name gone $REG/busybox true", 0, "");
    s.check("start -a gone", 0, "");
    let ids = s.run("ps -aq --filter name=gone");
    assert!(ids.stdout.trim().is_empty(), "{ids:?}");
    s.check("start -a sa si", 125, "multiple containers");
    s.check("rm sa si", 0, "si");
}

#[test]
fn a_client_that_reads_nothing_holds_up_nothing() {
    let s = Sandbox::user();
    ready(&s);
    // More output than a socket holds, then quiet.
    s.check(
        "run -d --name loud $REG/busybox sh -c 'sleep 0.5; seq 1 200000; sleep 600'",
        0,
        "",
    );
    // An attached client whose output is never read (a stopped pager, Ctrl-Z)…
    let mut stuck = s
        .command(&s.args("attach --sig-proxy loud"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // …doesn't stop the monitor: all of the output reaches the log, stop and rm work.
    s.eventually("logs --tail 1 loud", "200000");
    s.check("stop -t 0 loud", 0, "loud");
    s.check(
        "ps -a --format '{{.Names}} {{.Status}}'",
        0,
        "loud Exited (137)",
    );
    stuck.kill().unwrap();
    stuck.wait().unwrap();
    s.check("rm loud", 0, "loud");
}

#[test]
fn only_the_client_passing_stdin_ends_it() {
    let s = Sandbox::user();
    ready(&s);
    s.check(
        "create -i --name once $REG/busybox sh -c 'cat; exit 4'",
        0,
        "",
    );
    let mut owner = s
        .command(&s.args("start -ai once"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = owner.stdin.take().unwrap();
    let mut output = owner.stdout.take().unwrap();
    input.write_all(b"one\n").unwrap();
    read_until(&mut output, "one\n");
    // A second client without stdin comes (it sees the output) and goes.
    let mut viewer = s
        .command(&s.args("attach --no-stdin once"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    until_viewer_attached(viewer.stdout.take().unwrap(), &mut input, &mut output);
    viewer.kill().unwrap();
    viewer.wait().unwrap();
    // The container's stdin is still open: the owner's next line gets through.
    input.write_all(b"three\n").unwrap();
    read_until(&mut output, "three\n");
    drop(input);
    assert_eq!(owner.wait().unwrap().code(), Some(4));
    s.check("rm once", 0, "once");
}

#[test]
fn run_in_the_foreground_is_logged_and_detachable() {
    let s = Sandbox::user();
    ready(&s);
    // Its output is in the log too, as with Docker.
    let out = s.run("run --name lg $REG/busybox sh -c 'echo out; echo err >&2; exit 2'");
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (2, "out\n", "err\n")
    );
    let logs = s.run("logs lg");
    assert_eq!(
        (logs.stdout.as_str(), logs.stderr.as_str()),
        ("out\n", "err\n")
    );
    // Ctrl-P Ctrl-Q leaves `run -it`: the shell goes on, and can be attached to again.
    let skiff = crate::harness::skiff_bin().display().to_string();
    s.on_terminal(
        &format!("{skiff} run -it --name det $REG/busybox sh; echo code=$?")
            .replace("$REG", &crate::harness::env().registry),
        &[(b"echo hi-$((6*7))\r", "hi-42"), (b"\x10\x11", "code=0")],
    );
    s.check("ps --format '{{.Names}} {{.Status}}'", 0, "det Up");
    s.on_terminal(
        &format!(
            "{skiff} run -it --detach-keys ctrl-a,x --name det2 $REG/busybox sh; echo code=$?"
        )
        .replace("$REG", &crate::harness::env().registry),
        &[(b"echo hi-$((6*7))\r", "hi-42"), (b"\x01x", "code=0")],
    );
    s.check("ps --format '{{.Names}} {{.Status}}'", 0, "det2 Up");
    s.check(
        "run --detach-keys ctrl-1 $REG/busybox true",
        125,
        "invalid detach keys",
    );
    let out = s.on_terminal(
        &format!("{skiff} attach det; echo code=$?"),
        &[(b"exit 3\r", "code=3")],
    );
    assert!(out.contains("code=3"), "{out:?}");
    // A closed output ends skiff as SIGPIPE would, and the container with it.
    let mut child = s
        .command(&s.args("run --name piped $REG/busybox sh -c 'while true; do echo y; done'"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    read_until(child.stdout.as_mut().unwrap(), "y\n");
    drop(child.stdout.take());
    assert_eq!(child.wait().unwrap().code(), Some(141));
    s.eventually(
        "ps -a --format '{{.Names}} {{.Status}}'",
        "piped Exited (137)",
    );
    s.check("rm -f lg det det2 piped", 0, "piped");
}
