//! Pulling: formats, platforms, short names, errors, and what lands in the store.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::process::CommandExt;

use crate::harness::{env, owner, Sandbox, User};

#[test]
fn pull_behaviours() {
    let s = Sandbox::user();
    // command | exit | output contains
    s.check(
        "pull $REG/busybox",
        0,
        "Status: Downloaded newer image for 127.0.0.1",
    );
    s.check("pull $REG/busybox", 0, "Status: Image is up to date for");
    s.check("image pull $REG/busybox:v2s2", 0, "Already exists");
    s.check("pull $REG/busybox:zstd", 0, "Digest: sha256:");
    s.check("pull $REG/nomediatype", 0, "Digest: sha256:");
    s.check(
        "pull $REG/busybox:nope",
        125,
        "manifest for 127.0.0.1:5790/busybox:nope not found",
    );
    s.check("pull $REG/no/such/repo", 125, "not found");
    s.check(
        "pull 127.0.0.1:5799/busybox",
        125,
        "registry 127.0.0.1:5799 is unreachable",
    );
    s.check("pull 'Bad Name'", 125, "invalid reference format");
    s.check("pull $REG/Busybox", 125, "must be lowercase");
    s.check("pull --platform linux $REG/busybox", 125, "");
    s.check("pull --bogus-flag $REG/busybox", 125, "");
    s.check(
        "pull -a $REG/busybox:latest",
        125,
        "tag can't be used with --all-tags",
    );
    assert!(s.temp_entries().is_empty(), "{:?}", s.temp_entries());
}

#[test]
fn digests_match_what_skopeo_reports() {
    let s = Sandbox::user();
    let e = env();
    for name in [
        "busybox:latest",
        "busybox:v2s2",
        "busybox:zstd",
        "multiarch:latest",
        "layers:latest",
    ] {
        let full = format!("{}/{name}", e.registry);
        let want = &e.fixtures[&full];
        let out = s.run(&format!("pull {full}"));
        out.ok();
        assert!(
            out.stdout.contains(&format!("Digest: {want}")),
            "{name}: {out:?}"
        );
        let repo = full.rsplit_once(':').unwrap().0;
        let digests = s.run(&format!(
            "image inspect --format '{{{{json .RepoDigests}}}}' {full}"
        ));
        assert!(
            digests.ok().stdout.contains(&format!("{repo}@{want}")),
            "{digests:?}"
        );
        // Pulling by digest gives the same image.
        s.check(&format!("pull {repo}@{want}"), 0, want);
    }
}

#[test]
fn quiet_pull_prints_only_the_image_id() {
    let s = Sandbox::user();
    let out = s.run("pull -q $REG/busybox");
    out.ok();
    let id = out.stdout.trim();
    assert_eq!(id.len(), 64, "{out:?}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    let ids = s.run("images -q --no-trunc");
    assert_eq!(ids.stdout.trim(), format!("sha256:{id}"));
}

#[test]
fn platforms_are_chosen_from_an_index() {
    let s = Sandbox::user();
    s.check("pull $REG/multiarch", 0, "Pull complete");
    let arch = s.find_in_layers("arch");
    assert_eq!(arch.len(), 1);
    assert_eq!(fs::read_to_string(&arch[0]).unwrap(), "amd64\n");
    s.check("inspect -f '{{.Architecture}}' $REG/multiarch", 0, "amd64");

    let arm = Sandbox::user();
    arm.check(
        "pull --platform linux/arm64 $REG/multiarch",
        0,
        "Pull complete",
    );
    arm.check(
        "image inspect -f '{{.Architecture}}/{{.Os}}' $REG/multiarch",
        0,
        "arm64/linux",
    );
    let arm2 = Sandbox::user();
    arm2.check("pull --arch arm64 $REG/multiarch:v2s2", 0, "Pull complete");
    arm2.check(
        "inspect -f '{{.Architecture}}' $REG/multiarch:v2s2",
        0,
        "arm64",
    );
    arm2.check(
        "pull --platform linux/s390x $REG/multiarch",
        125,
        "no image for platform linux/s390x",
    );
    arm2.check(
        "pull --platform linux/arm64 $REG/busybox",
        125,
        "does not match the specified platform",
    );
}

#[test]
fn all_tags() {
    let s = Sandbox::user();
    let out = s.check("pull --all-tags $REG/busybox", 0, "");
    for tag in ["latest", "v2s2", "zstd"] {
        assert!(
            out.stdout.contains(&format!("{tag}: Pulling from")),
            "{out:?}"
        );
    }
    let tags = s.run("images --format '{{.Tag}}' $REG/busybox");
    let mut got: Vec<&str> = tags.stdout.lines().collect();
    got.sort();
    assert_eq!(got, ["latest", "v2s2", "zstd"]);
}

#[test]
fn short_names_resolve_through_registries_conf() {
    let s = Sandbox::user();
    let e = env();
    s.write_home_file(
        ".config/containers/registries.conf",
        &format!(
            "unqualified-search-registries = [\"127.0.0.1:5799\", \"{}\"]\n[aliases]\n\"bb\" = \"{}/busybox\"\n",
            e.registry, e.registry
        ),
    );
    // The first search registry is down: as Podman does, the next candidate is tried.
    s.check("pull busybox", 0, &format!("{}/busybox:latest", e.registry));
    s.write_home_file(
        ".config/containers/registries.conf",
        "unqualified-search-registries = [\"127.0.0.1:5799\", \"127.0.0.1:5781\"]\n",
    );
    s.check("pull busybox", 125, "127.0.0.1:5781");
    s.write_home_file(
        ".config/containers/registries.conf",
        &format!(
            "unqualified-search-registries = [\"{}\"]\n[aliases]\n\"bb\" = \"{}/busybox\"\n",
            e.registry, e.registry
        ),
    );
    s.check("pull busybox", 0, &format!("{}/busybox:latest", e.registry));
    s.check("pull bb:zstd", 0, &format!("{}/busybox:zstd", e.registry));
    // Local lookups accept the short name too.
    s.check("image exists busybox", 0, "");
    s.check("inspect -f '{{.Os}}' busybox", 0, "linux");
    // Without search registries a short name still finds a local image by its path.
    s.write_home_file(
        ".config/containers/registries.conf",
        "unqualified-search-registries = []\n",
    );
    s.check("image exists busybox:zstd", 0, "");
}

#[test]
fn owners_land_on_the_subuid_range() {
    let s = Sandbox::user();
    s.check("pull $REG/layers", 0, "Pull complete");
    let base = s.user.subuid_start();
    let nobody = s.find_in_layers("data/nobody");
    assert_eq!(nobody.len(), 1);
    // Container uid 65534 is subordinate id 65533 (container root is the user itself).
    assert_eq!(owner(&nobody[0]), base + 65533);
    let keep = &s.find_in_layers("data/keep")[0];
    assert_eq!(owner(keep), s.user.uid);

    // Layer 2 holds the whiteout, the opaque marker, the links, setuid bit, mtime and xattr.
    let gone: Vec<_> = s
        .find_in_layers("data/gone")
        .into_iter()
        .filter(|p| {
            fs::symlink_metadata(p)
                .unwrap()
                .file_type()
                .is_char_device()
        })
        .collect();
    assert_eq!(gone.len(), 1, "a whiteout device for data/gone");
    assert_eq!(fs::symlink_metadata(&gone[0]).unwrap().rdev(), 0);
    let layer2 = gone[0].parent().unwrap().parent().unwrap().to_path_buf();
    let opaque = xattr(&layer2.join("opaque"), "user.overlay.opaque");
    assert_eq!(opaque.as_deref(), Some(&b"y"[..]));
    assert!(!layer2.join("opaque/.wh..wh..opq").exists());
    let hard = fs::metadata(layer2.join("data/hard")).unwrap();
    assert_eq!(
        hard.ino(),
        fs::metadata(layer2.join("data/keep")).unwrap().ino()
    );
    assert_eq!(
        fs::read_link(layer2.join("data/link")).unwrap().to_str(),
        Some("keep")
    );
    let suid = fs::metadata(layer2.join("data/suid")).unwrap();
    assert_eq!(suid.mode() & 0o7777, 0o4755);
    let dated = fs::metadata(layer2.join("data/dated")).unwrap();
    assert_eq!(dated.mtime(), 981158400, "2001-02-03T00:00:00Z");
    assert_eq!(
        xattr(&layer2.join("data/dated"), "user.skiff").as_deref(),
        Some(&b"yes"[..])
    );
}

fn xattr(path: &std::path::Path, name: &str) -> Option<Vec<u8>> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import os,sys\ntry: sys.stdout.buffer.write(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False))\nexcept OSError: sys.exit(3)",
            path.to_str().unwrap(),
            name,
        ])
        .output()
        .unwrap();
    out.status.success().then_some(out.stdout)
}

#[test]
fn a_user_without_subuids_still_gets_a_working_image() {
    let s = Sandbox::nosub();
    let out = s.check("pull $REG/layers", 0, "Pull complete");
    let notices: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("subordinate id"))
        .collect();
    assert_eq!(notices.len(), 1, "one notice saying why: {out:?}");
    let nobody = &s.find_in_layers("data/nobody")[0];
    assert_eq!(owner(nobody), s.user.uid);
    let suid = fs::metadata(s.find_in_layers("data/suid")[0].clone()).unwrap();
    assert_eq!(suid.mode() & 0o7777, 0o4755);
    s.check(
        "images --format '{{.Repository}}:{{.Tag}}'",
        0,
        "127.0.0.1:5790/layers:latest",
    );
    s.check("rmi $REG/layers", 0, "Deleted: sha256:");
    assert!(s.find_in_layers("data").is_empty());
}

#[test]
fn root_mode_works_too() {
    let s = Sandbox::new(User::root());
    s.check("pull $REG/layers", 0, "Pull complete");
    let nobody = &s.find_in_layers("data/nobody")[0];
    assert_eq!(owner(nobody), 65534);
    s.check("rmi $REG/layers", 0, "Deleted:");
}

#[test]
fn progress_on_a_terminal() {
    let s = Sandbox::user();
    let e = env();
    // script(1) gives skiff a pseudo-terminal as stdout.
    let cmdline = format!(
        "{} pull {}/debian:bookworm",
        crate::harness::skiff_bin().display(),
        e.registry
    );
    let base = s.command(&[]);
    let cmd = std::process::Command::new("script")
        .args(["-qec", &cmdline, "/dev/null"])
        .env_clear()
        .envs(
            base.get_envs()
                .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))),
        )
        .uid(s.user.uid)
        .gid(s.user.gid)
        .current_dir(&s.dir)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&cmd.stdout);
    assert!(cmd.status.success(), "{out}");
    assert!(out.contains("Downloading ["), "a progress bar: {out}");
    assert!(out.contains("/s"), "a speed: {out}");
    assert!(out.contains("\x1b["), "lines redrawn in place: {out}");
    assert!(out.contains("Pull complete"), "{out}");
}

#[test]
fn list_filters_by_time() {
    let s = Sandbox::user();
    s.check("pull $REG/busybox", 0, "");
    s.check("pull $REG/debian:bookworm", 0, "");
    let since = s.run("images --format '{{.Repository}}' --filter since=$REG/busybox");
    let before = s.run("images --format '{{.Repository}}' --filter before=$REG/busybox");
    // One of the two images was built before the other; each filter shows only the other one.
    let both = format!("{}{}", since.ok().stdout, before.ok().stdout);
    assert_eq!(both.lines().count(), 1, "{both}");
    assert!(both.contains("debian"), "{both}");
}
