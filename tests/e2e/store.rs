//! Crash safety and concurrency of the store.

use std::time::Duration;

use crate::harness::Sandbox;

#[test]
fn two_pulls_of_the_same_image_at_once_both_succeed() {
    let s = Sandbox::user();
    let args = crate::harness::split(&format!(
        "pull {}/debian:bookworm",
        crate::harness::env().registry
    ));
    let a = s.command(&args).output().unwrap();
    let _ = a;
    // Start both before waiting for either.
    let mut c1 = s
        .command(&args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut c2 = s
        .command(&args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(c1.wait().unwrap().success());
    assert!(c2.wait().unwrap().success());
    let out = s.run("images -q");
    assert_eq!(out.stdout.lines().count(), 1, "{out:?}");
    assert!(s.temp_entries().is_empty(), "{:?}", s.temp_entries());
}

#[test]
fn concurrent_pulls_of_different_images_share_layers() {
    let s = Sandbox::user();
    let e = crate::harness::env();
    let children: Vec<_> = [
        "busybox:latest",
        "busybox:v2s2",
        "busybox:zstd",
        "multiarch:latest",
    ]
    .iter()
    .map(|n| {
        s.command(&[String::from("pull"), format!("{}/{n}", e.registry)])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    })
    .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    assert_eq!(s.find_in_layers("bin/busybox").len(), 1, "one shared layer");
    // busybox's three tags are one image id (one config); multiarch's amd64 image is another.
    assert_eq!(s.run("images -q").stdout.lines().count(), 2);
    assert_eq!(
        s.run("images --format '{{.Tag}}'").stdout.lines().count(),
        4
    );
}

#[test]
fn a_pull_killed_at_any_point_leaves_a_usable_store() {
    let s = Sandbox::user();
    let args = crate::harness::split(&format!(
        "pull {}/debian:bookworm",
        crate::harness::env().registry
    ));
    for delay_ms in [5u64, 40, 120, 300] {
        let mut child = s
            .command(&args)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // Whatever was half done is never listed.
        let listed = s.run("images --format '{{.Repository}}'");
        assert!(listed.code == 0, "{listed:?}");
        if !listed.stdout.trim().is_empty() {
            s.check("rmi 127.0.0.1:5790/debian:bookworm", 0, "Deleted");
        }
    }
    s.check("pull $REG/debian:bookworm", 0, "Pull complete");
    s.check("inspect -f '{{.Os}}' $REG/debian:bookworm", 0, "linux");
    assert!(!s.find_in_layers("usr/bin/bash").is_empty());
    assert!(s.temp_entries().is_empty(), "{:?}", s.temp_entries());
}

#[test]
fn a_full_disk_fails_cleanly() {
    let mut s = Sandbox::user();
    // A 3 MiB file system: busybox fits, debian (127 MB unpacked) does not.
    let small = s.dir.join("small");
    std::fs::create_dir(&small).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs"])
        .arg(&small)
        .status()
        .unwrap();
    assert!(
        mounted.success(),
        "mounting a small tmpfs (the tests run as root)"
    );
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(small.clone());
    std::os::unix::fs::chown(&small, Some(s.user.uid), Some(s.user.gid)).unwrap();
    s.global = vec!["--root".into(), small.join("store").display().to_string()];
    s.check("pull $REG/busybox", 0, "Pull complete");
    let out = s.check("pull $REG/debian:bookworm", 125, "No space left on device");
    assert!(!out.stderr.contains("panicked"), "{out:?}");
    let tmp: Vec<_> = std::fs::read_dir(small.join("store/tmp"))
        .unwrap()
        .flatten()
        .collect();
    assert!(tmp.is_empty(), "{tmp:?}");
    let listed = s.run("images --format '{{.Repository}}:{{.Tag}}'");
    assert_eq!(listed.stdout.trim(), "127.0.0.1:5790/busybox:latest");
    s.check("inspect -f '{{.Os}}' $REG/busybox", 0, "linux");
}
