//! Health checks: `--health-*`, the monitor's schedule, `healthcheck run`, how `ps` and
//! `inspect` show them.

use std::time::{Duration, Instant};

use crate::harness::Sandbox;

#[test]
fn health_checks_on_their_schedule() {
    let s = Sandbox::user();
    s.check("pull -q $REG/busybox", 0, "");
    s.check(
        "run -d --name hc --health-cmd 'cat /tmp/ok' --health-interval 200ms --health-retries 2 $REG/busybox sleep 600",
        0,
        "",
    );
    s.check(
        "inspect -f '{{json .Config.Healthcheck.Test}} {{.Config.Healthcheck.Retries}}' hc",
        0,
        r#"["CMD-SHELL","cat /tmp/ok"] 2"#,
    );
    // Two failures in a row: unhealthy.
    s.eventually("ps --format '{{.Names}} {{.Status}}'", "(unhealthy)");
    s.check(
        "inspect -f '{{.State.Health.Status}} {{.State.Health.FailingStreak}}' hc",
        0,
        "unhealthy",
    );
    s.check("ps -q --filter health=unhealthy", 0, "");
    assert!(!s
        .run("ps -q --filter health=unhealthy")
        .stdout
        .trim()
        .is_empty());
    // By hand: 1 and "unhealthy" while it fails, 0 once it passes.
    s.check("healthcheck run hc", 1, "unhealthy");
    s.check("exec hc sh -c 'echo fine > /tmp/ok'", 0, "");
    s.check("healthcheck run hc", 0, "");
    s.eventually("ps --format '{{.Names}} {{.Status}}'", "(healthy)");
    let log = s
        .check("inspect -f '{{json .State.Health.Log}}' hc", 0, "fine")
        .stdout;
    let entries: Vec<serde_json::Value> = serde_json::from_str(log.trim()).unwrap();
    assert!(entries.len() <= 5, "the last five results: {log}");
    assert_eq!(entries.last().unwrap()["ExitCode"], 0, "{log}");
    assert!(s
        .run("ps -q --filter health=unhealthy")
        .stdout
        .trim()
        .is_empty());
    s.check("ps -q --filter health=none", 0, "");
    s.check("stop -t 0 hc", 0, "hc");
    s.check("healthcheck run hc", 125, "is not running");
    s.check("rm hc", 0, "hc");
}

#[test]
fn health_check_timeouts_start_period_and_errors() {
    let s = Sandbox::user();
    s.check("pull -q $REG/busybox", 0, "");
    // A check that runs past its timeout fails, with Docker's note.
    s.check(
        "run -d --name slow --health-cmd 'sleep 30' --health-timeout 300ms --health-interval 1h $REG/busybox sleep 600",
        0,
        "",
    );
    let start = Instant::now();
    s.check("healthcheck run slow", 1, "unhealthy");
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "the timeout was not kept"
    );
    s.check(
        "inspect -f '{{range .State.Health.Log}}{{.ExitCode}} {{.Output}}{{end}}' slow",
        0,
        "-1 Health check exceeded timeout (300ms)",
    );
    // A check that leaves a process behind (holding its output open) still ends.
    s.check(
        "run -d --name bg --health-cmd 'sleep 100 & echo started' --health-interval 1h $REG/busybox sleep 600",
        0,
        "",
    );
    s.check("healthcheck run bg", 0, "");
    s.check(
        "inspect -f '{{range .State.Health.Log}}{{.Output}}{{end}}' bg",
        0,
        "started",
    );
    // In the start period failures don't count: it stays starting.
    s.check(
        "run -d --name early --health-cmd false --health-start-period 1h --health-start-interval 100ms --health-retries 1 $REG/busybox sleep 600",
        0,
        "",
    );
    s.eventually("inspect -f '{{len .State.Health.Log}}' early", "3");
    s.check(
        "ps --filter name=early --format '{{.Status}}'",
        0,
        "(health: starting)",
    );
    // No check: none in inspect, an error from healthcheck run.
    s.check("run -d --name plain $REG/busybox sleep 600", 0, "");
    s.check("healthcheck run plain", 125, "no defined healthcheck");
    let out = s.check("inspect -f '{{json .State}}' plain", 0, "").stdout;
    assert!(!out.contains("Health"), "{out}");
    s.check("healthcheck run nothere", 125, "No such container");
    s.check(
        "run -d --no-healthcheck --health-cmd true $REG/busybox true",
        125,
        "conflicts",
    );
    s.check(
        "run -d --health-cmd true --health-interval 5 $REG/busybox true",
        125,
        "invalid duration",
    );
    s.check("rm -f slow early plain bg", 0, "plain");
}
