//! Container records in the foreground life: create, start -a, ps -a, rm.

use crate::harness::Sandbox;

#[test]
fn create_then_start_is_run() {
    let s = Sandbox::user();
    s.check("pull -q $REG/busybox", 0, "");
    // command | exit | output contains
    let id = s.check(
        "create --name c1 $REG/busybox sh -c 'echo hi; exit 3'",
        0,
        "",
    );
    let id = id.stdout.trim().to_string();
    assert_eq!(id.len(), 64, "{id}");
    s.check("ps -a", 0, "Created");
    s.check("ps -a --format '{{.Names}} {{.Status}}'", 0, "c1 Created");
    s.check("ps", 0, "CONTAINER ID   IMAGE");
    assert!(
        !s.run("ps").stdout.contains("c1"),
        "not running, not listed without -a"
    );
    s.check("start -a c1", 3, "hi");
    s.check(
        "ps -a --format '{{.Names}} {{.Status}}'",
        0,
        "c1 Exited (3)",
    );
    s.check(&format!("start -a {}", &id[..12]), 3, "hi");
    s.check("start c1", 0, "c1");
    s.check("wait c1", 0, "3");
    s.check(
        "create --name c1 $REG/busybox true",
        125,
        "is already in use",
    );
    s.check(
        "create --name b@d $REG/busybox true",
        125,
        "invalid container name",
    );
    s.check("rm c1", 0, "c1");
    s.check("rm c1", 1, "No such container: c1");
    assert_eq!(s.run("ps -aq").stdout.trim(), "");
}

#[test]
fn run_without_rm_keeps_the_container() {
    let s = Sandbox::user();
    s.check("pull -q $REG/busybox", 0, "");
    s.check("run --name kept $REG/busybox sh -c 'echo x > /made'", 0, "");
    s.check(
        "ps -a --format '{{.Names}}|{{.Status}}|{{.Command}}'",
        0,
        "kept|Exited (0)",
    );
    // Its file system is kept too: starting it again sees its own writes.
    s.check(
        "container create --name other $REG/busybox cat /made",
        0,
        "",
    );
    s.check("start -a other", 1, "No such file");
    let ids = s.run("ps -aq");
    assert_eq!(ids.stdout.lines().count(), 2, "{ids:?}");
    s.check("ps -l --format '{{.Names}}'", 0, "other");
    s.check("ps -n 2 -q --no-trunc", 0, "");
    s.check("container ls -a", 0, "kept");
    s.check("container rm kept other", 0, "other");
    assert!(std::fs::read_dir(s.root().join("containers"))
        .unwrap()
        .next()
        .is_none());
}

#[test]
fn a_running_container_is_listed_and_only_removed_by_force() {
    let s = Sandbox::user();
    s.check("pull -q $REG/busybox", 0, "");
    let args = crate::harness::split(&format!(
        "run --name live {}/busybox sleep 3072",
        crate::harness::env().registry
    ));
    let mut child = s.command(&args).spawn().unwrap();
    let mut up = false;
    for _ in 0..100 {
        let out = s.run("ps --format '{{.Names}} {{.Status}}'");
        if out.stdout.contains("live Up") {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(up, "the running container is listed as Up");
    s.check("rm live", 125, "container is running");
    s.check("rm -f live", 0, "live");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(137), "run reports the kill");
    // The container's processes went with it (PID 1 dies with its helper).
    let left = std::process::Command::new("pgrep")
        // An odd duration tells its process from other tests' sleeps.
        .args(["-f", "^sleep 3072$"])
        .output()
        .unwrap();
    assert!(!left.status.success(), "a container process survived rm -f");
    assert_eq!(s.run("ps -aq").stdout.trim(), "");
}

#[test]
fn images_in_use_by_containers_are_kept() {
    let s = Sandbox::user();
    s.check("pull -q $REG/busybox", 0, "");
    s.check("create --name user1 $REG/busybox true", 0, "");
    // command | exit | output contains
    s.check("rmi $REG/busybox", 125, "container");
    s.check("image prune -a -f", 0, "Total reclaimed space: 0B");
    s.check(
        "rmi -f $REG/busybox",
        0,
        "Untagged: 127.0.0.1:5790/busybox:latest",
    );
    // The image stays, untagged, and the container still runs from it.
    s.check("images --filter dangling=true -q", 0, "");
    assert_eq!(s.run("images -q").stdout.lines().count(), 1);
    s.check("start -a user1", 0, "");
    s.check("rm user1", 0, "user1");
    s.check("image prune -f", 0, "deleted: sha256:");
    assert_eq!(s.run("images -q").stdout.trim(), "");
}

#[test]
fn killing_skiff_ends_its_foreground_container() {
    let s = Sandbox::user();
    s.check("pull -q $REG/busybox", 0, "");
    // An odd duration marks the container's process among all others.
    let marker = "sleep 6173";
    let args = crate::harness::split(&format!(
        "run --name doomed {}/busybox {marker}",
        crate::harness::env().registry
    ));
    let mut child = s.command(&args).spawn().unwrap();
    let running = || {
        std::process::Command::new("pgrep")
            .args(["-f", &format!("^{marker}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    for _ in 0..100 {
        if running() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(running(), "the container started");
    child.kill().unwrap();
    child.wait().unwrap();
    // The helper sees its lifeline close and kills the container: nothing is left running.
    for _ in 0..100 {
        if !running() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!running(), "the container died with skiff");
    // Its helper finishes a moment later; then the record reads as exited.
    let mut status = String::new();
    for _ in 0..100 {
        status = s.run("ps -a --format '{{.Names}} {{.Status}}'").stdout;
        if status.contains("Exited") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(status.contains("doomed Exited (137)"), "{status}");
    s.check("rm doomed", 0, "doomed");
    let run_dirs = s.dir.join("run/skiff/containers");
    let left: Vec<_> = std::fs::read_dir(&run_dirs)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}
