//! Hostile layers and registries: nothing may land outside the layer, nothing half-written may
//! stay in the store, and each failure is one clear line with exit status 125.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::harness::Sandbox;

/// Paths on the host the evil layers aim at.
const TARGETS: &[&str] = &[
    "/tmp/skiff-evil-dotdot",
    "/tmp/skiff-evil-abs",
    "/tmp/skiff-evil-target/pwned",
    "/tmp/skiff-evil-target/pwned2",
];

fn prepare_targets() {
    // A directory the user could write to, so that an escape would really land.
    let target = Path::new("/tmp/skiff-evil-target");
    fs::create_dir_all(target).unwrap();
    fs::set_permissions(target, fs::Permissions::from_mode(0o1777)).unwrap();
}

fn assert_host_untouched() {
    for t in TARGETS {
        assert!(!Path::new(t).exists(), "{t} was written on the host");
    }
    let passwd = fs::read_to_string("/etc/passwd").unwrap();
    assert!(passwd.starts_with("root:"), "/etc/passwd changed");
}

fn assert_store_clean(s: &Sandbox) {
    assert!(
        s.temp_entries().is_empty(),
        "leftovers in tmp/: {:?}",
        s.temp_entries()
    );
    let images = s.run("images -q");
    assert_eq!(
        images.stdout.trim(),
        "",
        "a refused image must not be listed"
    );
}

#[test]
fn escaping_layers_are_refused() {
    prepare_targets();
    for s in [Sandbox::user(), Sandbox::nosub()] {
        // command | exit | output contains
        s.check("pull $REG/evil/dotdot", 125, "climbs out of the layer");
        s.check("pull $REG/evil/symlink", 125, "beneath a symbolic link");
        s.check("pull $REG/evil/hardlink", 125, "points outside the layer");
        s.check("pull $REG/evil/symhard", 125, "points outside the layer");
        s.check("pull $REG/evil/bigsize", 125, "absurd size");
        assert_host_untouched();
        assert_store_clean(&s);
        assert!(
            s.find_in_layers("ok").is_empty(),
            "no layer of a refused image is kept"
        );
    }
}

#[test]
fn absolute_names_land_inside_and_devices_are_skipped() {
    prepare_targets();
    let s = Sandbox::user();
    s.check("pull $REG/evil/abs", 0, "Pull complete");
    assert_eq!(s.find_in_layers("tmp/skiff-evil-abs").len(), 1);
    assert_host_untouched();
    let out = s.check("pull $REG/evil/device", 0, "skipped device nodes");
    assert!(
        out.stderr.lines().filter(|l| l.contains("device")).count() == 1,
        "{out:?}"
    );
    assert_eq!(s.find_in_layers("ok").len(), 2);
}

#[test]
fn a_blob_that_does_not_match_its_digest_is_refused() {
    let s = Sandbox::user();
    s.check("pull $REG/corrupt", 125, "digest mismatch for blob sha256:");
    assert_store_clean(&s);
    // Its good layer (shared with busybox) may stay: it was verified. The bad one must not.
    assert!(s.find_in_layers("corrupt").is_empty());
    s.check("pull $REG/busybox", 0, "Status: Downloaded newer image");
}
