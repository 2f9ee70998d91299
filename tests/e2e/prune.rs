//! Restartable removal and `system prune`: what a killed command leaves is finished by a later
//! one, files of subordinate ids included, and nothing is left that no record names.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::Sandbox;

fn ready(s: &Sandbox) {
    s.check("pull -q $REG/busybox", 0, "");
}

/// Entries of a store directory (`containers`, `trash`, `layers`, …).
fn entries(s: &Sandbox, dir: &str) -> Vec<String> {
    fs::read_dir(s.root().join(dir))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A tree owned by the user's subordinate ids (container uid 1000), as a container that ran
/// `chown -R 1000:1000` leaves it: the user alone cannot delete it.
fn subuid_tree(s: &Sandbox, dir: &Path, files: usize) {
    let owner = s.user.subuid_start() + 999;
    let d = dir.join("upper/d");
    fs::create_dir_all(&d).unwrap();
    for i in 0..files {
        let f = d.join(format!("f{i}"));
        fs::write(&f, "x").unwrap();
        std::os::unix::fs::chown(&f, Some(owner), Some(owner)).unwrap();
    }
    std::os::unix::fs::chown(&d, Some(owner), Some(owner)).unwrap();
    for p in [dir.to_path_buf(), dir.join("upper")] {
        std::os::unix::fs::chown(&p, Some(s.user.uid), Some(s.user.gid)).unwrap();
    }
}

/// A pid that no process has now.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

#[test]
fn a_killed_rm_is_finished_by_the_next_rm_or_prune() {
    let s = Sandbox::user();
    ready(&s);
    s.check(
        "run -d --name big $REG/busybox sh -c 'mkdir -p /d; i=0; while [ $i -lt 20000 ]; do : > /d/f$i; i=$((i+1)); done; chown -R 1000:1000 /d; echo ready; sleep 100000'",
        0,
        "",
    );
    s.eventually("logs big", "ready");
    let mut rm = s
        .command(&s.args("rm -f big"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(150));
    let _ = rm.kill();
    let _ = rm.wait();
    // Whatever the moment: listed and whole, or gone from the list with its files in trash/.
    let listed = s.run("ps -aq").stdout;
    let dirs = entries(&s, "containers");
    assert_eq!(listed.lines().count(), dirs.len(), "{listed:?} {dirs:?}");
    let _ = s.run("rm -f big");
    s.check("container prune -f", 0, "Total reclaimed space");
    assert!(entries(&s, "containers").is_empty());
    assert!(
        entries(&s, "trash").is_empty(),
        "{:?}",
        entries(&s, "trash")
    );
    assert!(s.temp_entries().is_empty(), "{:?}", s.temp_entries());
}

#[test]
fn leftovers_of_dead_processes_are_finished_by_rm_and_orphans_by_prune() {
    let s = Sandbox::user();
    ready(&s);
    s.check("run --name keep $REG/busybox true", 0, "");
    let dead = dead_pid();
    // A half-deleted container (killed rm), a half-made one (killed create), and a container
    // directory without record (what versions that removed the record first left).
    let trashed = s.root().join(format!("trash/container-{dead}-0-0-s1"));
    let staged = s.root().join(format!("tmp/container-{dead}-0-0-s1"));
    let orphan = s.root().join(format!("containers/{}", "e".repeat(64)));
    for dir in [&trashed, &staged, &orphan] {
        subuid_tree(&s, dir, 50);
    }
    s.check("ps -a --format '{{.Names}}'", 0, "keep");
    assert_eq!(
        s.run("ps -aq").stdout.lines().count(),
        1,
        "only the recorded one is listed"
    );
    // rm of another container finishes what dead processes left, files of subordinate ids
    // included; the directory without record waits for a prune (a stat per container).
    s.check("run --name other $REG/busybox true", 0, "");
    s.check("rm other", 0, "other");
    for dir in [&trashed, &staged] {
        assert!(!dir.exists(), "{dir:?} is still there");
    }
    assert!(orphan.exists());
    s.check("container prune -f", 0, "Total reclaimed space");
    assert!(!orphan.exists());
    assert!(entries(&s, "trash").is_empty());
    // The container stopped: prune took it too.
    assert!(s.run("ps -aq").stdout.trim().is_empty());
}

#[test]
fn hand_deleted_leftovers_have_a_command_system_prune() {
    let s = Sandbox::user();
    ready(&s);
    s.check("run --rm $REG/busybox true", 0, "");
    let orphan = s.root().join(format!("containers/{}", "d".repeat(64)));
    subuid_tree(&s, &orphan, 20);
    // What the user could not delete by hand: Permission denied.
    let by_hand = std::process::Command::new("setpriv")
        .args(["--reuid", &s.user.uid.to_string(), "--regid"])
        .arg(s.user.gid.to_string())
        .arg("--clear-groups")
        .args(["rm", "-rf"])
        .arg(&orphan)
        .output()
        .unwrap();
    assert!(!by_hand.status.success());
    assert!(String::from_utf8_lossy(&by_hand.stderr).contains("Permission denied"));
    s.check("system prune -f", 0, "Total reclaimed space");
    assert!(!orphan.exists());
}

#[test]
fn system_prune_removes_stopped_containers_and_unused_images() {
    let s = Sandbox::user();
    ready(&s);
    s.check("pull -q $REG/multiarch", 0, "");
    s.check("run --name stopped $REG/busybox true", 0, "");
    s.check("run -d --name up $REG/busybox sleep 1000", 0, "");
    // command | exit | output contains
    s.check("system prune --volumes", 125, "not supported yet");
    s.check("system prune --filter since=1h", 125, "invalid filter");
    s.check("system prune -f --filter until=soon", 125, "invalid time");
    // Filters: until= spares what is younger, label!= what has the label.
    s.check(
        "run --name labelled --label keep=yes $REG/busybox true",
        0,
        "",
    );
    s.check(
        "system prune -f --filter until=1h",
        0,
        "Total reclaimed space: 0B",
    );
    s.check(
        "container prune -f --filter label!=keep",
        0,
        "Deleted Containers:",
    );
    let names = s.run("ps -a --format '{{.Names}}'").stdout;
    assert!(
        names.contains("labelled") && !names.contains("stopped"),
        "{names}"
    );
    s.check("run --name stopped $REG/busybox true", 0, "");
    s.check("system df", 125, "'skiff system df' is not supported yet");
    // A layer that no image names, as a pull killed before it recorded its image leaves.
    let fake = "a".repeat(64);
    let layer = s.root().join(format!("layers/{fake}"));
    fs::create_dir_all(layer.join("diff")).unwrap();
    fs::write(
        layer.join("layer.json"),
        format!(r#"{{"diff_id":"sha256:{fake}","size":0,"blob":null}}"#),
    )
    .unwrap();
    chown_tree(&layer, s.user.uid, s.user.gid);
    // Without an answer (no terminal, no input) nothing goes.
    s.check(
        "system prune",
        0,
        "Are you sure you want to continue? [y/N]",
    );
    s.check("ps -a --format '{{.Names}}'", 0, "stopped");
    let yes = s.run_with_input("system prune", b"y\n");
    assert_eq!(yes.code, 0, "{yes:?}");
    assert!(yes.stdout.contains("WARNING! This will remove:"), "{yes:?}");
    assert!(yes.stdout.contains("Deleted Containers:"), "{yes:?}");
    assert!(
        yes.stdout.contains(&format!("deleted: sha256:{fake}")),
        "{yes:?}"
    );
    assert!(!layer.exists());
    assert_eq!(s.run("ps -a --format '{{.Names}}'").stdout.trim(), "up");
    // Tagged images stay without -a; with it, those no container uses go.
    s.check("images --format '{{.Repository}}'", 0, "multiarch");
    s.check(
        "system prune -a -f",
        0,
        "untagged: 127.0.0.1:5790/multiarch:latest",
    );
    let left = s.run("images --format '{{.Repository}}'").stdout;
    assert_eq!(left.trim(), "127.0.0.1:5790/busybox", "{left}");
    s.check("rm -f up", 0, "up");
    s.check("system prune -a -f", 0, "Total reclaimed space");
    assert!(s.run("images -q").stdout.trim().is_empty());
    assert!(
        entries(&s, "layers").is_empty(),
        "{:?}",
        entries(&s, "layers")
    );
    assert!(entries(&s, "blobs/sha256").is_empty());
    assert!(entries(&s, "trash").is_empty());
}

fn chown_tree(dir: &Path, uid: u32, gid: u32) {
    let mut todo: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(p) = todo.pop() {
        std::os::unix::fs::lchown(&p, Some(uid), Some(gid)).unwrap();
        if p.is_dir() {
            todo.extend(fs::read_dir(&p).unwrap().flatten().map(|e| e.path()));
        }
    }
}

#[test]
fn leftovers_are_finished_for_users_without_subordinate_ids_and_for_root() {
    for s in [Sandbox::nosub(), Sandbox::new(crate::harness::User::root())] {
        ready(&s);
        s.check("run --name aa $REG/busybox true", 0, "");
        let entry = s
            .root()
            .join(format!("trash/container-{}-0-0-s1", dead_pid()));
        fs::create_dir_all(entry.join("upper/d")).unwrap();
        fs::write(entry.join("upper/d/f"), "x").unwrap();
        chown_tree(&entry, s.user.uid, s.user.gid);
        s.check("rm aa", 0, "aa");
        assert!(!entry.exists(), "{}: {entry:?}", s.user.name);
        s.check("run --name bb $REG/busybox true", 0, "");
        s.check("system prune -a -f", 0, "Deleted Containers:");
        assert!(entries(&s, "containers").is_empty() && entries(&s, "trash").is_empty());
    }
}
