//! Detached containers: run -d, logs, stop, start, kill, wait, restart policies, the monitor.

use std::time::{Duration, Instant};

use crate::harness::{Sandbox, User};

fn ready(s: &Sandbox) {
    s.check("pull -q $REG/busybox", 0, "");
}

const TICKER: &str = "sh -c 'echo hello; echo oops >&2; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done'";

#[test]
fn detached_run_logs_stop_and_start_again() {
    let s = Sandbox::user();
    ready(&s);
    // command | exit | output contains
    let out = s.check(&format!("run -d --name web $REG/busybox {TICKER}"), 0, "");
    let id = out.stdout.trim();
    assert_eq!(id.len(), 64, "run -d prints the full id: {out:?}");
    s.check("ps --format '{{.Names}} {{.Status}}'", 0, "web Up");
    s.eventually("logs web", "tick 2");
    let logs = s.run("logs web");
    assert!(logs.stdout.starts_with("hello\ntick 0\n"), "{logs:?}");
    assert_eq!(logs.stderr, "oops\n", "stderr stays stderr");
    let tail = s.check("logs --tail 1 web", 0, "tick");
    assert_eq!(tail.stdout.lines().count(), 1, "{tail:?}");
    s.check("logs -t --tail 1 web", 0, "Z tick");
    s.check("logs --since 0 --until 1 web", 0, "");
    assert!(s.run("logs --until 1 web").stdout.is_empty());
    s.check(
        "inspect -f '{{.State.Status}} {{.State.Running}}' web",
        0,
        "running true",
    );
    // sh as PID 1 ignores SIGTERM: stop kills it after the timeout, and says so in the code.
    s.check("stop -t 1 web", 0, "web");
    s.check(
        "ps -a --format '{{.Names}} {{.Status}}'",
        0,
        "web Exited (137)",
    );
    s.check("wait web", 0, "137");
    s.check(
        "inspect -f '{{.State.Status}} {{.State.ExitCode}}' web",
        0,
        "exited 137",
    );
    // Started again: the log keeps what the first run wrote.
    s.check("start web", 0, "web");
    s.check("ps -q --no-trunc", 0, id);
    s.eventually("logs web", "tick 3");
    assert_eq!(s.run("logs web").stdout.matches("hello").count(), 2);
    s.check("restart -t 0 web", 0, "web");
    // --replace: the new container takes the name, the old one goes.
    s.check(
        &format!("run -d --replace --name web $REG/busybox {TICKER}"),
        0,
        "",
    );
    assert_ne!(s.run("ps -q --no-trunc").stdout.trim(), id);
    assert_eq!(s.run("ps -aq").stdout.lines().count(), 1);
    s.check("ps --format '{{.Names}}'", 0, "web");
    s.check("kill web", 0, "web");
    s.check("wait web", 0, "137");
    s.check("kill web", 125, "is not running");
    s.check("stop web", 0, "web");
    s.check("rm web", 0, "web");
    s.check("logs web", 125, "No such container");
    assert!(s.temp_entries().is_empty(), "{:?}", s.temp_entries());
}

#[test]
fn exit_codes_signals_and_failures_of_detached_containers() {
    let s = Sandbox::user();
    ready(&s);
    s.check(
        "run -d --name bad $REG/busybox nosuch",
        127,
        "executable file not found in $PATH",
    );
    s.check("run -d $REG/busybox /etc", 126, "permission denied");
    s.check(
        "ps -a --format '{{.Names}} {{.Status}}'",
        0,
        "bad Exited (127)",
    );
    s.check("run -d --name three $REG/busybox sh -c 'exit 3'", 0, "");
    s.check("wait three", 0, "3");
    // The stop signal: a trap sees it and the container exits on its own terms.
    s.check(
        "run -d --name trap $REG/busybox sh -c 'trap \"echo got TERM; exit 0\" TERM; while true; do sleep 0.1; done'",
        0,
        "",
    );
    s.check("stop -t 10 trap", 0, "trap");
    s.check("wait trap", 0, "0");
    s.check("logs trap", 0, "got TERM");
    s.check(
        "run -d --name usr1 --stop-signal USR1 $REG/busybox sh -c 'trap \"echo got USR1; exit 5\" USR1; while true; do sleep 0.1; done'",
        0,
        "",
    );
    s.check("inspect -f '{{.Config.StopSignal}}' usr1", 0, "USR1");
    s.check("stop usr1", 0, "usr1");
    s.check("wait usr1", 0, "5");
    // --stop-timeout: the wait before SIGKILL when stop is given no -t (sh as PID 1 ignores
    // TERM, so only the KILL ends it).
    s.check(
        "run -d --name patient --stop-timeout 1 $REG/busybox sh -c 'while true; do sleep 0.1; done'",
        0,
        "",
    );
    s.check("inspect -f '{{.Config.StopTimeout}}' patient", 0, "1");
    let start = Instant::now();
    s.check("stop patient", 0, "patient");
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "the 10 s default was used"
    );
    s.check("wait patient", 0, "137");
    s.check("run -d --init --name kk $REG/busybox sleep 60", 0, "");
    s.check("kill -s nosuch kk", 125, "invalid signal");
    s.check("kill -s TERM kk", 0, "kk");
    s.check("wait kk", 0, "143");
    s.check(
        "run -d --stop-signal NOPE $REG/busybox true",
        125,
        "invalid signal",
    );
    s.check(
        "run -d --rm --restart always $REG/busybox true",
        125,
        "conflict",
    );
    // --rm -d: gone once it exits.
    s.check("run -d --rm --name gone $REG/busybox true", 0, "");
    s.eventually("ps -a --format '{{.Names}}.'", "");
    let end = Instant::now() + Duration::from_secs(10);
    while s.run("ps -a").stdout.contains("gone") {
        assert!(Instant::now() < end, "--rm -d container still listed");
        std::thread::sleep(Duration::from_millis(50));
    }
    // rm of several at once, as `skiff rm -f $(skiff ps -aq)`.
    s.check("run -d --name r1 $REG/busybox sleep 60", 0, "");
    let ids = s
        .run("ps -aq")
        .stdout
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    s.check(&format!("rm -f {ids}"), 0, "");
    assert_eq!(s.run("ps -aq").stdout.trim(), "");
    assert!(s.temp_entries().is_empty(), "{:?}", s.temp_entries());
}

#[test]
fn logs_follow_until_the_container_ends() {
    let s = Sandbox::user();
    ready(&s);
    s.check(
        "run -d --name talk $REG/busybox sh -c 'echo first; sleep 0.5; echo second'",
        0,
        "",
    );
    // -f returns once the container has stopped, with what it wrote meanwhile.
    let out = s.check("logs -f talk", 0, "first\nsecond\n");
    assert_eq!(out.stdout, "first\nsecond\n");
    s.check("logs -f --tail 1 talk", 0, "second");
    s.check("logs --tail x talk", 125, "invalid --tail");
    s.check("logs --since yesterday talk", 125, "invalid time");
    s.check("rm talk", 0, "talk");
}

#[test]
fn restart_policies() {
    let s = Sandbox::user();
    ready(&s);
    s.check(
        "run -d --name flaky --restart on-failure:2 $REG/busybox sh -c 'echo attempt; exit 1'",
        0,
        "",
    );
    s.check("wait flaky", 0, "1");
    s.check(
        "inspect -f '{{.RestartCount}} {{.State.Status}}' flaky",
        0,
        "2 exited",
    );
    assert_eq!(s.run("logs flaky").stdout.matches("attempt").count(), 3);
    // on-failure leaves a clean exit alone; always restarts it until stopped.
    s.check(
        "run -d --name fine --restart on-failure $REG/busybox true",
        0,
        "",
    );
    s.check("wait fine", 0, "0");
    s.check("inspect -f '{{.RestartCount}}' fine", 0, "0");
    s.check(
        "run -d --name loop --restart always $REG/busybox sh -c 'echo round; sleep 0.05'",
        0,
        "",
    );
    s.eventually("inspect -f '{{.RestartCount}}' loop", "2");
    // Between two runs it shows as Docker shows it.
    s.eventually(
        "ps --filter name=loop --format '{{.Status}}'",
        "Restarting (0)",
    );
    s.check("stop loop", 0, "loop");
    s.check("inspect -f '{{.State.Status}}' loop", 0, "exited");
    let rounds = s.run("logs loop").stdout.matches("round").count();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        s.run("logs loop").stdout.matches("round").count(),
        rounds,
        "a stopped container is not restarted"
    );
    s.check(
        "run --restart sometimes $REG/busybox true",
        125,
        "invalid restart policy",
    );
    s.check("rm -f flaky fine loop", 0, "loop");
}

#[test]
fn log_drivers_and_rotation() {
    let s = Sandbox::user();
    ready(&s);
    s.check(
        "run -d --name k8s --log-driver k8s-file $REG/busybox sh -c 'echo one; printf two'",
        0,
        "",
    );
    s.check("wait k8s", 0, "0");
    s.check("logs k8s", 0, "one\ntwo");
    let path = s
        .run("inspect -f '{{.LogPath}}' k8s")
        .stdout
        .trim()
        .to_string();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(" stdout F one\n") && text.contains(" stdout P two\n"),
        "{text}"
    );
    s.check(
        "run -d --name quiet --log-driver none $REG/busybox echo hi",
        0,
        "",
    );
    s.check("wait quiet", 0, "0");
    s.check("logs quiet", 125, "logs nothing");
    s.check(
        "run -d --name big --log-opt max-size=2k --log-opt max-file=2 $REG/busybox sh -c 'for i in $(seq 1 200); do echo line $i; done'",
        0,
        "",
    );
    s.check("wait big", 0, "0");
    let path = s
        .run("inspect -f '{{.LogPath}}' big")
        .stdout
        .trim()
        .to_string();
    assert!(std::fs::metadata(&path).unwrap().len() <= 2048);
    assert!(std::path::Path::new(&format!("{path}.1")).exists());
    // What is kept is the end, in order.
    s.check("logs --tail 1 big", 0, "line 200");
    s.check(
        "run --log-driver syslog $REG/busybox true",
        125,
        "invalid --log-driver",
    );
    s.check(
        "run --log-opt color=red $REG/busybox true",
        125,
        "invalid --log-opt",
    );
}

fn monitor_pid(s: &Sandbox, name: &str) -> i32 {
    s.run(&format!("inspect -f '{{{{.State.ConmonPid}}}}' {name}"))
        .stdout
        .trim()
        .parse()
        .unwrap()
}

/// The monitors still running for this sandbox's store.
fn monitors_of(s: &Sandbox) -> Vec<String> {
    let pattern = format!("__monitor {}", s.root().display());
    let out = std::process::Command::new("pgrep")
        .args(["-f", &pattern])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect()
}

#[test]
fn a_killed_monitor_is_noticed_and_the_container_removable() {
    let s = Sandbox::user();
    ready(&s);
    s.check("run -d --name orphan $REG/busybox sleep 60", 0, "");
    let monitor = monitor_pid(&s, "orphan");
    assert!(monitor > 0);
    // The monitor is small (see contrib/bench for the figure) and detached from any terminal.
    let status = std::fs::read_to_string(format!("/proc/{monitor}/stat")).unwrap();
    let fields: Vec<&str> = status
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    assert_eq!(fields[4], "0", "no controlling terminal: {status}");
    std::process::Command::new("kill")
        .args(["-9", &monitor.to_string()])
        .status()
        .unwrap();
    // kill(2) returns before the process is dead: the next command sees it soon after.
    s.eventually(
        "ps -a --format '{{.Names}} {{.Status}}'",
        "orphan Exited (137)",
    );
    s.check("inspect -f '{{.State.Error}}' orphan", 0, "was killed");
    s.check("wait orphan", 0, "137");
    // It starts again under a new monitor (what the old one left is replaced).
    s.check("start orphan", 0, "orphan");
    s.check("ps --format '{{.Names}} {{.Status}}'", 0, "orphan Up");
    s.check("rm -f orphan", 0, "orphan");
    s.check("run -d --name orphan2 $REG/busybox sleep 60", 0, "");
    std::process::Command::new("kill")
        .args(["-9", &monitor_pid(&s, "orphan2").to_string()])
        .status()
        .unwrap();
    s.eventually(
        "ps -a --format '{{.Names}} {{.Status}}'",
        "orphan2 Exited (137)",
    );
    s.check("rm orphan2", 0, "orphan2");
    assert!(monitors_of(&s).is_empty(), "{:?}", monitors_of(&s));
}

#[test]
fn parallel_runs_execs_and_removals_stay_consistent() {
    let s = Sandbox::user();
    ready(&s);
    std::thread::scope(|scope| {
        for t in 0..20 {
            let s = &s;
            scope.spawn(move || {
                for i in 0..2 {
                    let name = format!("p{t}x{i}");
                    s.check(
                        &format!("run -d --name {name} $REG/busybox sleep 30"),
                        0,
                        "",
                    );
                    s.check(&format!("exec {name} true"), 0, "");
                    s.check("ps -a", 0, "CONTAINER ID");
                    s.check(&format!("rm -f {name}"), 0, &name);
                }
            });
        }
    });
    assert_eq!(s.run("ps -aq").stdout.trim(), "");
    assert!(s.temp_entries().is_empty(), "{:?}", s.temp_entries());
    let containers = std::fs::read_dir(s.root().join("containers"))
        .unwrap()
        .count();
    assert_eq!(containers, 0, "no container directory left");
    assert!(
        monitors_of(&s).is_empty(),
        "no monitor left: {:?}",
        monitors_of(&s)
    );
}

#[test]
fn detached_containers_of_root_and_of_a_user_without_subuids() {
    for s in [Sandbox::new(User::root()), Sandbox::nosub()] {
        ready(&s);
        s.check(
            "run -d --name dd $REG/busybox sh -c 'echo up; sleep 60'",
            0,
            "",
        );
        s.eventually("logs dd", "up");
        s.check("stop -t 0 dd", 0, "dd");
        s.check("wait dd", 0, "137");
        s.check("rm dd", 0, "dd");
    }
}

#[test]
fn exec_joins_the_running_container() {
    let s = Sandbox::user();
    ready(&s);
    s.check(
        "run -d --name box -e FROM_RUN=1 $REG/busybox sleep 60",
        0,
        "",
    );
    // command | exit | output contains
    s.check("exec box sh -c 'echo $$'", 0, "");
    let ps = s.check("exec box ps -o pid,comm", 0, "sleep");
    assert!(
        ps.stdout.lines().count() <= 4,
        "only the container's processes: {ps:?}"
    );
    s.check(
        "exec box hostname",
        0,
        &s.run("inspect -f '{{.Config.Hostname}}' box").stdout,
    );
    s.check("exec box sh -c 'echo $FROM_RUN'", 0, "1");
    s.check("exec -e X=2 box sh -c 'echo $FROM_RUN$X'", 0, "12");
    s.write_home_file("exec.env", "Y=3\n# comment\n");
    s.check(
        &format!(
            "exec --env-file {}/exec.env box sh -c 'echo $Y'",
            s.home().display()
        ),
        0,
        "3",
    );
    s.check(
        "exec -u nobody -w /tmp box sh -c 'id -u; pwd'",
        0,
        "65534\n/tmp",
    );
    s.check(
        "exec box grep CapEff /proc/self/status",
        0,
        "00000000800405fb",
    );
    s.check("exec box grep Seccomp: /proc/self/status", 0, "2");
    s.check(
        "exec --privileged box grep Seccomp: /proc/self/status",
        0,
        "0",
    );
    s.check("exec box sh -c 'exit 7'", 7, "");
    s.check("exec box nosuch", 127, "executable file not found");
    s.check("exec box /etc", 126, "permission denied");
    s.check("exec nobox true", 125, "No such container");
    s.check(
        "exec --detach-keys ctrl-a box true",
        125,
        "not supported yet",
    );
    s.check("exec box", 125, "");
    let mut child = s.command(&s.args("exec -i box cat"));
    child
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = child.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"piped in\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "piped in\n");
    s.check("exec box cat", 0, "");
    s.check("exec -d box sh -c 'echo later > /tmp/d'", 0, "");
    s.eventually("exec box cat /tmp/d", "later");
    // A terminal of its own, in the container's devpts.
    let skiff = crate::harness::skiff_bin().display().to_string();
    let out = crate::run::on_a_terminal(&s, &format!("{skiff} exec -t box sh -c 'tty'"), "", b"");
    assert!(out.contains("/dev/pts/"), "{out:?}");
    s.check("exec -t box true", 125, "not a TTY");
    s.check("stop -t 0 box", 0, "box");
    s.check("exec box true", 125, "is not running");
    s.check("rm box", 0, "box");
    // In a container with a user namespace of its own, and in root's.
    s.check(
        "run -d --name auto --userns auto $REG/busybox sleep 60",
        0,
        "",
    );
    s.check(
        "exec auto cat /proc/self/uid_map",
        0,
        "0          1       1024",
    );
    s.check("exec auto id -u", 0, "0");
    s.check("rm -f auto", 0, "auto");
    let r = Sandbox::new(User::root());
    ready(&r);
    r.check("run -d --name rbox $REG/busybox sleep 60", 0, "");
    r.check("exec rbox sh -c 'echo $$'", 0, "");
    r.check("rm -f rbox", 0, "rbox");
    // A foreground container can be joined too.
    let fg = s.spawn_until(
        "run --rm --name fg $REG/busybox sh -c 'echo ready; sleep 30'",
        "ready",
    );
    s.check("exec fg ps", 0, "sleep 30");
    s.check("rm -f fg", 0, "fg");
    let _ = fg.wait_with_output();
}

#[test]
fn ps_filters_sizes_and_fields() {
    let s = Sandbox::user();
    ready(&s);
    s.check(
        "run -d --name f1 -l app=web -l tier=front $REG/busybox sleep 60",
        0,
        "",
    );
    s.check(
        "run --name f2 $REG/busybox sh -c 'echo data > /file; exit 2'",
        2,
        "",
    );
    s.check("create --name f3 -v /tmp:/host $REG/busybox true", 0, "");
    let names = |line: &str| -> Vec<String> {
        let mut v: Vec<String> = s
            .run(&format!("{line} --format '{{{{.Names}}}}'"))
            .stdout
            .lines()
            .map(String::from)
            .collect();
        v.sort();
        v
    };
    // filter | names listed
    assert_eq!(names("ps"), ["f1"]);
    assert_eq!(names("ps --filter status=exited"), ["f2"]);
    assert_eq!(names("ps --filter status=created"), ["f3"]);
    assert_eq!(
        names("ps -a --filter status=exited --filter status=created"),
        ["f2", "f3"]
    );
    assert_eq!(names("ps -a --filter label=app"), ["f1"]);
    assert_eq!(names("ps -a --filter label=app=web"), ["f1"]);
    assert!(names("ps -a --filter label=app=db").is_empty());
    assert_eq!(names("ps -a --filter exited=2"), ["f2"]);
    assert_eq!(
        names("ps -a --filter name=f --filter status=running"),
        ["f1"]
    );
    // Docker's name= is a regular expression; its anchors are honoured.
    assert_eq!(names("ps -a --filter name=^f2$"), ["f2"]);
    assert_eq!(names("ps -a --filter name=3$"), ["f3"]);
    assert_eq!(names("ps -a --filter since=f1"), ["f2", "f3"]);
    assert_eq!(names("ps -a --filter before=f3"), ["f1", "f2"]);
    assert_eq!(
        names("ps -a --filter ancestor=$REG/busybox"),
        ["f1", "f2", "f3"]
    );
    assert!(names("ps -a --filter ancestor=other").is_empty());
    let id = s.run("ps -q --no-trunc").stdout.trim().to_string();
    assert_eq!(names(&format!("ps -a --filter id={}", &id[..6])), ["f1"]);
    s.check("ps --filter colour=red", 125, "invalid filter");
    s.check("ps --filter status=sleeping", 125, "invalid filter");
    s.check("ps --filter nonsense", 125, "bad format of filter");
    s.check("ps -a --filter since=nobody", 125, "No such container");
    // Fields and -s.
    s.check("ps --format '{{.Labels}}'", 0, "app=web,tier=front");
    s.check("ps -a --filter name=f3 --format '{{.Mounts}}'", 0, "/host");
    s.check("ps -s", 0, "SIZE");
    s.check(
        "ps -a -s --filter name=f2 --format '{{.Size}}'",
        0,
        "(virtual ",
    );
    s.check("ps --format json", 0, "\"Names\":\"f1\"");
    s.check("rm -f f1 f2 f3", 0, "f3");
}

#[test]
fn rename_top_port_pause_and_prune() {
    let s = Sandbox::user();
    ready(&s);
    s.check("run -d --name first $REG/busybox sleep 60", 0, "");
    s.check("create --name other $REG/busybox true", 0, "");
    // command | exit | output contains
    s.check("rename first second", 0, "");
    s.check("ps --format '{{.Names}}'", 0, "second");
    s.check("rename second other", 125, "already in use");
    s.check("rename second b@d", 125, "invalid container name");
    s.check("rename nobody x2", 125, "No such container");
    let top = s.check("top second", 0, "UID");
    assert!(
        top.stdout
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
        "{top:?}"
    );
    assert!(top.stdout.contains("sleep 60"), "{top:?}");
    assert_eq!(
        top.stdout.lines().count(),
        2,
        "only the container's process: {top:?}"
    );
    s.check("top other", 125, "is not running");
    s.check("port second", 0, "");
    s.check(
        "port second 80",
        1,
        "No public port '80/tcp' published for second",
    );
    // No delegated cgroup v2 here (or no limits given): pausing explains itself.
    s.check("pause second", 125, "no cgroup of its own to freeze");
    s.check("unpause second", 125, "no cgroup of its own");
    // prune: stopped containers only, after a yes (none without stdin).
    s.check("container prune", 0, "Are you sure");
    s.check("ps -a --format '{{.Names}}'", 0, "other");
    let out = s.check("container prune -f", 0, "Deleted Containers:");
    assert!(out.stdout.contains("Total reclaimed space:"), "{out:?}");
    s.check("ps -a --format '{{.Names}}'", 0, "second");
    assert!(!s.run("ps -a").stdout.contains("other"));
    s.check("rm -f second", 0, "second");
}

#[test]
fn diff_lists_what_the_container_changed() {
    let s = Sandbox::user();
    ready(&s);
    s.check(
        "run --name changed $REG/busybox sh -c 'echo x > /new; rm /bin/ls; echo y >> /etc/passwd; mkdir -p /a/b; touch /a/b/c'",
        0,
        "",
    );
    let out = s.check("diff changed", 0, "");
    assert_eq!(
        out.stdout, "A /a\nA /a/b\nA /a/b/c\nC /bin\nD /bin/ls\nC /etc\nC /etc/passwd\nA /new\n",
        "{out:?}"
    );
    s.check("diff nobody", 125, "No such container");
    s.check("rm changed", 0, "changed");
}

#[test]
fn stats_of_running_containers() {
    let s = Sandbox::user();
    ready(&s);
    s.check(
        "run -d --name busy $REG/busybox sh -c 'while true; do :; done'",
        0,
        "",
    );
    s.check("run -d --name idle $REG/busybox sleep 60", 0, "");
    let out = s.check("stats --no-stream", 0, "CONTAINER ID   NAME");
    assert!(
        out.stdout.contains("busy") && out.stdout.contains("idle"),
        "{out:?}"
    );
    // The busy loop uses a CPU; the sleeper next to nothing.
    let cpu = |name: &str| -> f64 {
        s.run(&format!(
            "stats --no-stream --format '{{{{.CPUPerc}}}}' {name}"
        ))
        .stdout
        .trim()
        .trim_end_matches('%')
        .parse()
        .unwrap()
    };
    assert!(cpu("busy") > 5.0, "busy: {}", cpu("busy"));
    assert!(cpu("idle") < 5.0, "idle: {}", cpu("idle"));
    s.check(
        "stats --no-stream --format '{{.Name}} {{.PIDs}}' idle",
        0,
        "idle 1",
    );
    s.check(
        "stats --no-stream --format '{{.MemUsage}}' idle",
        0,
        "iB / ",
    );
    // Live: a new sample every second, until skiff is stopped or its output closed.
    let mut live = s.spawn_until(
        "stats --format '{{.Name}} {{.PIDs}}' idle",
        "idle 1\nidle 1\n",
    );
    drop(live.stdout.take());
    let status = live.wait().unwrap();
    assert_eq!(status.code(), Some(0), "a closed output ends it quietly");
    s.check("stop -t 0 busy", 0, "busy");
    s.check("stats --no-stream busy", 125, "is not running");
    s.check("rm -f busy idle", 0, "idle");
}
