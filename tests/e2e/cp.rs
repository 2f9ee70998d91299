//! `skiff cp`: Docker's path rules both ways, running and stopped containers, owners, tar
//! streams, volumes, and containers (or archives) that try to reach the host.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::harness::{owner, Sandbox, User};

fn ready(s: &Sandbox) {
    s.check("pull -q $REG/busybox", 0, "");
}

/// Gives `path` and everything beneath it to the sandbox's user.
fn give(s: &Sandbox, path: &Path) {
    std::os::unix::fs::lchown(path, Some(s.user.uid), Some(s.user.gid)).unwrap();
    if fs::symlink_metadata(path).unwrap().is_dir() {
        for e in fs::read_dir(path).unwrap() {
            give(s, &e.unwrap().path());
        }
    }
}

/// The user's own directory for host-side files, with `file` ("hello\n") and
/// `dir/sub/f` ("deep\n") in it.
fn host_files(s: &Sandbox) -> PathBuf {
    let h = s.dir.join("host");
    fs::create_dir_all(h.join("dir/sub")).unwrap();
    fs::write(h.join("file"), "hello\n").unwrap();
    fs::write(h.join("dir/sub/f"), "deep\n").unwrap();
    give(s, &h);
    h
}

/// What `sh -c CMD` prints in the running container `c`.
fn inside(s: &Sandbox, c: &str, cmd: &str) -> String {
    s.check(&format!("exec {c} sh -c '{cmd}'"), 0, "").stdout
}

/// skiff with raw bytes on stdin (a file) and stdout.
fn raw(s: &Sandbox, line: &str, stdin: Option<&Path>) -> Output {
    let mut cmd = s.command(&s.args(line));
    if let Some(p) = stdin {
        cmd.stdin(fs::File::open(p).unwrap());
    }
    cmd.output().unwrap()
}

/// The host's `tar -tv` of an archive.
fn host_tar_list(archive: &Path) -> String {
    let out = Command::new("tar")
        .arg("-tvf")
        .arg(archive)
        .output()
        .unwrap();
    assert!(out.status.success(), "tar -t: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A tar with one file per (name bytes, uid) pair; names are set raw, so `..` and absolute
/// names get through as a hostile archive would have them.
fn tar_of(entries: &[(&[u8], u64)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, uid) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o644);
        h.set_uid(*uid);
        h.set_gid(*uid);
        h.set_entry_type(tar::EntryType::Regular);
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_cksum();
        b.append(&h, &b"pwned"[..]).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn docker_path_rules_into_a_running_container() {
    let s = Sandbox::user();
    ready(&s);
    let h = host_files(&s);
    let h = h.display();
    s.check("run -d --name box $REG/busybox sleep 1000", 0, "");
    // command | exit | output contains
    s.check(&format!("cp {h}/file box:/tmp/"), 0, "");
    s.check(&format!("cp {h}/file box:/tmp/renamed"), 0, "");
    s.check(&format!("container cp {h}/dir box:/tmp/newdir"), 0, "");
    s.check(&format!("cp {h}/dir box:/tmp/newdir"), 0, "");
    s.check(&format!("cp {h}/dir/. box:/tmp/contents"), 0, "");
    s.check(&format!("cp {h}/dir/. box:tmp"), 0, "");
    s.check(
        &format!("cp {h}/file box:/tmp/nodir/"),
        125,
        "no such directory",
    );
    s.check(
        &format!("cp {h}/dir box:/tmp/file"),
        125,
        "cannot copy directory",
    );
    s.check(
        &format!("cp {h}/file box:/nope/x"),
        125,
        "Could not find the file /nope in container box",
    );
    s.check(
        &format!("cp {h}/missing box:/tmp/"),
        125,
        "no such file or directory",
    );
    s.check(&format!("cp {h}/file x:/tmp/"), 125, "No such container: x");
    // A host file the user may not read stops the copy with the reason, not a hang.
    let locked = s.dir.join("host/dir/locked");
    fs::write(&locked, "root's\n").unwrap();
    fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    s.check(
        &format!("cp {h}/dir box:/tmp/partial"),
        125,
        "locked: permission denied",
    );
    fs::remove_file(&locked).unwrap();
    s.check(
        &format!("cp {h}/file {h}/other"),
        125,
        "at least one container",
    );
    s.check(
        "cp box:/tmp/file box:/tmp/x",
        125,
        "between containers is not supported",
    );
    let seen = inside(
        &s,
        "box",
        "cat /tmp/file /tmp/renamed /tmp/newdir/sub/f /tmp/newdir/dir/sub/f /tmp/contents/sub/f /tmp/sub/f",
    );
    assert_eq!(seen, "hello\nhello\ndeep\ndeep\ndeep\ndeep\n");
    // Without -a, the container's root owns what comes in; with it, the owners stay.
    assert_eq!(
        inside(&s, "box", "stat -c %u:%g /tmp/file /tmp/newdir/sub/f"),
        "0:0\n0:0\n"
    );
    s.check(&format!("cp -a {h}/file box:/tmp/kept"), 0, "");
    assert_eq!(
        inside(&s, "box", "stat -c %u:%g /tmp/kept"),
        format!("{}:{}\n", s.user.uid, s.user.gid)
    );
    // -L: a symlink given as the source is copied as a link, or followed with -L.
    std::os::unix::fs::symlink("file", s.dir.join("host/link")).unwrap();
    give(&s, &s.dir.join("host/link"));
    s.check(&format!("cp {h}/link box:/tmp/"), 0, "");
    s.check(&format!("cp -L {h}/link box:/tmp/followed"), 0, "");
    assert_eq!(
        inside(&s, "box", "readlink /tmp/link; cat /tmp/followed"),
        "file\nhello\n"
    );
    s.check("rm -f box", 0, "");
}

#[test]
fn docker_path_rules_out_of_a_running_container() {
    let s = Sandbox::user();
    ready(&s);
    let host = host_files(&s);
    let h = host.display();
    s.check("run -d --name box $REG/busybox sleep 1000", 0, "");
    inside(
        &s,
        "box",
        "mkdir -p /srv/d/sub && echo deep > /srv/d/sub/f && echo u > /srv/u && chown 1000:1000 /srv/u && ln -s /srv/u /srv/link",
    );
    // command | exit | output contains
    s.check(&format!("cp box:/etc/passwd {h}/pw"), 0, "");
    s.check(&format!("cp box:/srv/d {h}/d-copy"), 0, "");
    s.check(&format!("cp box:/srv/d {h}/d-copy"), 0, "");
    s.check(&format!("cp box:/srv/d/. {h}/dir"), 0, "");
    s.check(&format!("cp box:srv/u {h}/"), 0, "");
    s.check(&format!("cp box:/srv/link {h}/as-link"), 0, "");
    s.check(&format!("cp -L box:/srv/link {h}/followed"), 0, "");
    s.check(
        &format!("cp box:/nope {h}/x"),
        125,
        "Could not find the file /nope in container box",
    );
    s.check(
        &format!("cp box:/etc/passwd {h}/missing/x"),
        125,
        "invalid output path: directory",
    );
    s.check(
        &format!("cp box:/srv/d {h}/file"),
        125,
        "cannot copy directory",
    );
    s.check(
        &format!("cp box:/srv/u {h}/nodir/"),
        125,
        "no such directory",
    );
    assert!(fs::read_to_string(host.join("pw"))
        .unwrap()
        .contains("root:x:0:0"));
    for f in ["d-copy/sub/f", "d-copy/d/sub/f", "dir/sub/f"] {
        assert_eq!(fs::read_to_string(host.join(f)).unwrap(), "deep\n", "{f}");
    }
    assert_eq!(
        fs::read_link(host.join("as-link")).unwrap(),
        Path::new("/srv/u")
    );
    assert_eq!(fs::read_to_string(host.join("followed")).unwrap(), "u\n");
    // Copied out, files are the calling user's whatever their owner inside.
    assert_eq!(owner(&host.join("u")), s.user.uid);
    assert_eq!(owner(&host.join("d-copy/sub/f")), s.user.uid);
    s.check("rm -f box", 0, "");
}

#[test]
fn tar_streams_both_ways_keep_owners_with_archive_mode() {
    let s = Sandbox::user();
    ready(&s);
    let host = host_files(&s);
    s.check("run -d --name box $REG/busybox sleep 1000", 0, "");
    inside(
        &s,
        "box",
        "mkdir -p /srv/d && echo x > /srv/d/owned && chown 1000:1000 /srv/d/owned",
    );
    let out = raw(&s, "cp box:/srv/d -", None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let archive = host.join("out.tar");
    fs::write(&archive, &out.stdout).unwrap();
    let listed = host_tar_list(&archive);
    assert!(listed.contains("1000/1000"), "{listed}");
    assert!(listed.contains("d/owned"), "{listed}");
    // The whole container: /proc and /sys are there as directories, not the kernel's files.
    let out = raw(&s, "cp box:/ -", None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let archive = host.join("all.tar");
    fs::write(&archive, &out.stdout).unwrap();
    let listed = host_tar_list(&archive);
    assert!(listed.contains(" bin/busybox"), "{listed}");
    assert!(
        listed.contains(" proc\n") || listed.contains(" proc/\n"),
        "{listed}"
    );
    assert!(!listed.contains(" proc/1/"), "{listed}");
    // In: the archive's owners only with -a.
    let archive = host.join("in.tar");
    fs::write(&archive, tar_of(&[(b"a/owned", 1000)])).unwrap();
    give(&s, &archive);
    let out = raw(&s, "cp - box:/tmp", Some(&archive));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(inside(&s, "box", "stat -c %u:%g /tmp/a/owned"), "0:0\n");
    let out = raw(&s, "cp -a - box:/srv", Some(&archive));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        inside(&s, "box", "stat -c %u:%g /srv/a/owned"),
        "1000:1000\n"
    );
    // A compressed stream is read too (Docker takes gzip).
    let gz = host.join("in.tar.gz");
    let status = Command::new("gzip")
        .arg("-k")
        .arg(&archive)
        .status()
        .unwrap();
    assert!(status.success());
    give(&s, &gz);
    assert_eq!(raw(&s, "cp - box:/root", Some(&gz)).status.code(), Some(0));
    assert_eq!(inside(&s, "box", "cat /root/a/owned"), "pwned");
    // The destination of a stream must be a directory.
    let out = raw(&s, "cp - box:/etc/passwd", Some(&archive));
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be a directory"));
    s.check("rm -f box", 0, "");
}

#[test]
fn stopped_containers_are_copied_to_and_from_through_their_layers() {
    let s = Sandbox::user();
    ready(&s);
    let host = host_files(&s);
    let h = host.display();
    s.check(
        "create --name stopped $REG/busybox sh -c 'cat /root/file /etc/dir/sub/f; rm /etc/group'",
        0,
        "",
    );
    // command | exit | output contains
    s.check(&format!("cp {h}/file stopped:/root/"), 0, "");
    s.check(&format!("cp {h}/dir stopped:/etc/"), 0, "");
    s.check(&format!("cp stopped:/etc/passwd {h}/pw"), 0, "");
    s.check("start -a stopped", 0, "hello\ndeep");
    // The container removed /etc/group: its whiteout hides the image's file.
    s.check(
        &format!("cp stopped:/etc/group {h}/group"),
        125,
        "Could not find the file /etc/group in container stopped",
    );
    s.check(&format!("cp stopped:/root/file {h}/back"), 0, "");
    assert_eq!(fs::read_to_string(host.join("back")).unwrap(), "hello\n");
    assert!(fs::read_to_string(host.join("pw"))
        .unwrap()
        .contains("root:x:0:0"));
    // Exited with a volume: the volume is where the container sees it.
    let vol = s.dir.join("vol");
    fs::create_dir(&vol).unwrap();
    give(&s, &vol);
    s.check(
        &format!(
            "run --name vbox -v {}:/data $REG/busybox true",
            vol.display()
        ),
        0,
        "",
    );
    s.check(&format!("cp {h}/file vbox:/data/stopped"), 0, "");
    assert_eq!(fs::read_to_string(vol.join("stopped")).unwrap(), "hello\n");
    // A read-only root file system takes nothing, as in Docker; reading from it works.
    s.check("create --name ro --read-only $REG/busybox true", 0, "");
    s.check(&format!("cp {h}/file ro:/tmp/"), 125, "read-only");
    s.check(&format!("cp ro:/etc/passwd {h}/ro-pw"), 0, "");
    assert!(
        fs::read_dir(s.dir.join("run/skiff/cp"))
            .unwrap()
            .next()
            .is_none(),
        "no mount point is left behind"
    );
}

#[test]
fn volumes_of_a_running_container_are_copied_into_on_the_host() {
    let s = Sandbox::user();
    ready(&s);
    let host = host_files(&s);
    let h = host.display();
    let vol = s.dir.join("vol");
    fs::create_dir(&vol).unwrap();
    give(&s, &vol);
    s.check(
        &format!(
            "run -d --name vbox -v {}:/data $REG/busybox sleep 1000",
            vol.display()
        ),
        0,
        "",
    );
    // command | exit | output contains
    s.check(&format!("cp {h}/file vbox:/data/"), 0, "");
    s.check(&format!("cp {h}/dir vbox:/data/"), 0, "");
    assert_eq!(fs::read_to_string(vol.join("file")).unwrap(), "hello\n");
    assert_eq!(fs::read_to_string(vol.join("dir/sub/f")).unwrap(), "deep\n");
    // Container root is the user on the host.
    assert_eq!(fs::metadata(vol.join("file")).unwrap().uid(), s.user.uid);
    s.check(&format!("cp vbox:/data/file {h}/from-vol"), 0, "");
    assert_eq!(
        fs::read_to_string(host.join("from-vol")).unwrap(),
        "hello\n"
    );
    s.check("rm -f vbox", 0, "");
}

#[test]
fn container_symlinks_never_reach_the_host() {
    let s = Sandbox::user();
    ready(&s);
    let host = host_files(&s);
    let h = host.display();
    let secret = host.join("secret");
    fs::write(&secret, "SECRET\n").unwrap();
    give(&s, &secret);
    let probe = format!("skiff-cp-probe-{}", std::process::id());
    s.check("run -d --name box $REG/busybox sleep 1000", 0, "");
    inside(
        &s,
        "box",
        &format!(
            "ln -s {} /tmp/evil; ln -s {h} /tmp/hostdir; ln -s / /tmp/root; ln -s ../../../../../../../.. /tmp/up",
            secret.display()
        ),
    );
    fs::write(host.join(&probe), "probe\n").unwrap();
    give(&s, &host.join(&probe));
    // command | exit | output contains
    s.check(
        &format!("cp {h}/file box:/tmp/evil"),
        125,
        "Could not find the file",
    );
    s.check(
        &format!("cp -L box:/tmp/evil {h}/leak"),
        125,
        "Could not find the file /tmp/evil in container box",
    );
    s.check(
        &format!("cp box:/tmp/hostdir/secret {h}/leak"),
        125,
        "Could not find the file",
    );
    s.check(
        &format!("cp {h}/dir box:/tmp/hostdir/"),
        125,
        "Could not find the file",
    );
    // Climbing and absolute links resolve inside the container's root.
    s.check(&format!("cp {h}/{probe} box:/tmp/up/etc/"), 0, "");
    s.check(&format!("cp {h}/{probe} box:/tmp/root/"), 0, "");
    assert_eq!(
        inside(&s, "box", &format!("cat /etc/{probe} /{probe}")),
        "probe\nprobe\n"
    );
    assert!(!Path::new("/etc").join(&probe).exists());
    assert!(!Path::new("/").join(&probe).exists());
    s.check(&format!("cp box:/tmp/up/etc/hostname {h}/hostname"), 0, "");
    assert_eq!(
        fs::read_to_string(host.join("hostname")).unwrap(),
        inside(&s, "box", "cat /etc/hostname")
    );
    // Symlinks inside a copied tree stay links.
    s.check(&format!("cp box:/tmp {h}/tmp-copy"), 0, "");
    assert_eq!(fs::read_link(host.join("tmp-copy/evil")).unwrap(), secret);
    assert_eq!(fs::read_to_string(&secret).unwrap(), "SECRET\n");
    assert!(!host.join("leak").exists());
    let mut names: Vec<String> = fs::read_dir(&host)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut want = [
        "dir",
        "file",
        "hostname",
        probe.as_str(),
        "secret",
        "tmp-copy",
    ];
    names.sort();
    want.sort();
    assert_eq!(names, want);
    s.check("rm -f box", 0, "");
}

#[test]
fn hostile_archives_on_stdin_stay_inside() {
    let s = Sandbox::user();
    ready(&s);
    let host = host_files(&s);
    let probe = format!("skiff-cp-abs-{}", std::process::id());
    s.check("run -d --name box $REG/busybox sleep 1000", 0, "");
    let dotdot = host.join("dotdot.tar");
    fs::write(&dotdot, tar_of(&[(b"../../../../escape", 0)])).unwrap();
    let absolute = host.join("abs.tar");
    fs::write(
        &absolute,
        tar_of(&[(format!("/tmp/{probe}").as_bytes(), 0)]),
    )
    .unwrap();
    let through_link = host.join("link.tar");
    {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        b.append_link(&mut h, "esc", &host).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o644);
        b.append_data(&mut h, "esc/pwned", &b"pwned"[..]).unwrap();
        fs::write(&through_link, b.into_inner().unwrap()).unwrap();
    }
    for f in [&dotdot, &absolute, &through_link] {
        give(&s, f);
    }
    let out = raw(&s, "cp - box:/tmp", Some(&dotdot));
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("climbs out"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let out = raw(&s, "cp - box:/tmp", Some(&through_link));
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("beneath a symbolic link"));
    // An absolute name lands beneath the destination.
    let out = raw(&s, "cp - box:/root", Some(&absolute));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        inside(&s, "box", &format!("cat /root/tmp/{probe}")),
        "pwned"
    );
    assert!(!Path::new("/tmp").join(&probe).exists());
    assert!(!s.dir.join("escape").exists() && !Path::new("/escape").exists());
    assert!(!host.join("pwned").exists());
    s.check("rm -f box", 0, "");
}

#[test]
fn without_subuids_and_as_root() {
    for s in [Sandbox::nosub(), Sandbox::new(User::root())] {
        ready(&s);
        let host = host_files(&s);
        let h = host.display();
        s.check("run -d --name box $REG/busybox sleep 1000", 0, "");
        // command | exit | output contains
        s.check(&format!("cp {h}/dir box:/tmp/"), 0, "");
        s.check(&format!("cp box:/tmp/dir {h}/back"), 0, "");
        assert_eq!(
            fs::read_to_string(host.join("back/sub/f")).unwrap(),
            "deep\n"
        );
        assert_eq!(inside(&s, "box", "stat -c %u:%g /tmp/dir/sub/f"), "0:0\n");
        s.check("rm -f box", 0, "");
        s.check("create --name stopped $REG/busybox cat /root/file", 0, "");
        s.check(&format!("cp {h}/file stopped:/root/"), 0, "");
        s.check("start -a stopped", 0, "hello");
        s.check(&format!("cp stopped:/root/file {h}/again"), 0, "");
        assert_eq!(owner(&host.join("again")), s.user.uid);
    }
}

#[test]
fn containers_with_id_maps_of_their_own_see_their_owners() {
    let s = Sandbox::user();
    ready(&s);
    let host = host_files(&s);
    let h = host.display();
    let archive = host.join("in.tar");
    fs::write(&archive, tar_of(&[(b"a/owned", 1000)])).unwrap();
    give(&s, &archive);
    s.check(
        "create --name auto --userns auto $REG/busybox stat -c %u:%g /root/file /tmp/a/owned",
        0,
        "",
    );
    // command | exit | output contains
    s.check(&format!("cp {h}/file auto:/root/"), 0, "");
    let out = raw(&s, "cp -a - auto:/tmp", Some(&archive));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    s.check("start -a auto", 0, "0:0\n1000:1000");
    s.check(
        "run -d --name running --userns auto $REG/busybox sleep 1000",
        0,
        "",
    );
    s.check(&format!("cp {h}/file running:/root/"), 0, "");
    assert_eq!(inside(&s, "running", "stat -c %u:%g /root/file"), "0:0\n");
    s.check("rm -f running", 0, "");
}

/// Runs `skiff LINE` with a pseudo-terminal (script(1)) as its stdout and stderr.
fn on_terminal(s: &Sandbox, line: &str) -> String {
    let cmdline = format!(
        "{} {}",
        crate::harness::skiff_bin().display(),
        s.args(line).join(" ")
    );
    s.on_terminal(&cmdline, &[])
}

#[test]
fn a_terminal_is_told_what_was_copied_unless_quiet() {
    let s = Sandbox::user();
    ready(&s);
    let host = host_files(&s);
    let h = host.display();
    s.check("run -d --name box $REG/busybox sleep 1000", 0, "");
    let out = on_terminal(&s, &format!("cp {h}/file box:/tmp/"));
    assert!(
        out.contains("Successfully copied 2.05kB to box:/tmp/"),
        "{out}"
    );
    let out = on_terminal(&s, &format!("cp box:/tmp/file {h}/back"));
    assert!(
        out.contains(&format!("Successfully copied 2.05kB to {h}/back")),
        "{out}"
    );
    assert_eq!(on_terminal(&s, &format!("cp -q {h}/file box:/tmp/")), "");
    // Without a terminal nothing is said (Docker's rule).
    assert_eq!(s.check(&format!("cp {h}/file box:/tmp/"), 0, "").stderr, "");
    s.check("rm -f box", 0, "");
}

/// The names in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn dot_dot_in_a_stopped_container_stays_inside_its_root() {
    let s = Sandbox::user();
    ready(&s);
    let host = host_files(&s);
    let h = host.display();
    // Stopped, its root is mounted on a directory under run/skiff/cp: `..` of that root is
    // the host's run/skiff/cp, which nothing may reach.
    s.check("run --name updir $REG/busybox ln -s .. /tmp2", 0, "");
    let mounts = s.dir.join("run/skiff/cp");
    // command | exit | output contains
    s.check(&format!("cp {h}/file updir:.."), 0, "");
    s.check(&format!("cp {h}/dir updir:tmp2"), 0, "");
    s.check(&format!("cp {h}/file updir:/tmp2/via-link"), 0, "");
    s.check(&format!("cp updir:.. {h}/up"), 0, "");
    s.check(&format!("cp updir:tmp2/ {h}/through-link"), 0, "");
    s.check(&format!("cp -L updir:/tmp2 {h}/followed"), 0, "");
    assert!(names_in(&mounts).is_empty(), "{:?}", names_in(&mounts));
    // What went in is in the container's root; what came out is that root.
    for copy in ["up", "through-link", "followed"] {
        let root = host.join(copy);
        assert!(root.join("bin/busybox").is_file(), "{copy}");
        assert_eq!(fs::read_to_string(root.join("file")).unwrap(), "hello\n");
        assert_eq!(
            fs::read_to_string(root.join("dir/sub/f")).unwrap(),
            "deep\n"
        );
        assert_eq!(
            fs::read_to_string(root.join("via-link")).unwrap(),
            "hello\n"
        );
        assert_eq!(fs::read_link(root.join("tmp2")).unwrap(), Path::new(".."));
    }
    assert!(!s.dir.join("run/skiff/file").exists() && !s.dir.join("run/skiff/dir").exists());
    // Running, the same paths mean the same files.
    s.check("run -d --name uprun $REG/busybox sleep 1000", 0, "");
    inside(&s, "uprun", "ln -s .. /tmp2");
    s.check(&format!("cp {h}/file uprun:tmp2"), 0, "");
    s.check(&format!("cp uprun:.. {h}/up-running"), 0, "");
    assert_eq!(inside(&s, "uprun", "cat /file"), "hello\n");
    assert!(host.join("up-running/bin/busybox").is_file());
    s.check("rm -f uprun", 0, "");
}

#[test]
fn read_only_directories_are_copied_whole_both_ways() {
    let s = Sandbox::user();
    ready(&s);
    let host = host_files(&s);
    let h = host.display();
    s.check("run -d --name box $REG/busybox sleep 1000", 0, "");
    inside(
        &s,
        "box",
        "mkdir -p /srv/ro/sub && echo a > /srv/ro/sub/f && echo b > /srv/ro/g && chmod 500 /srv/ro/sub && chmod 555 /srv/ro",
    );
    let ro_in = host.join("ro-in");
    fs::create_dir_all(ro_in.join("sub")).unwrap();
    fs::write(ro_in.join("sub/f"), "c\n").unwrap();
    give(&s, &ro_in);
    for (dir, mode) in [(ro_in.join("sub"), 0o500), (ro_in.clone(), 0o555)] {
        fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
    }
    // command | exit | output contains
    s.check(&format!("cp box:/srv/ro {h}/ro-out"), 0, "");
    s.check(&format!("cp {h}/ro-in box:/tmp/"), 0, "");
    let out = host.join("ro-out");
    assert_eq!(fs::read_to_string(out.join("sub/f")).unwrap(), "a\n");
    assert_eq!(fs::read_to_string(out.join("g")).unwrap(), "b\n");
    let mode = |p: &Path| fs::metadata(p).unwrap().mode() & 0o7777;
    assert_eq!(mode(&out), 0o555);
    assert_eq!(mode(&out.join("sub")), 0o500);
    assert_eq!(
        inside(
            &s,
            "box",
            "cat /tmp/ro-in/sub/f; stat -c %a /tmp/ro-in /tmp/ro-in/sub"
        ),
        "c\n555\n500\n"
    );
    s.check("rm -f box", 0, "");
}

#[test]
fn copied_out_as_root_no_device_nodes_and_no_setuid_bits() {
    let s = Sandbox::new(User::root());
    ready(&s);
    let host = host_files(&s);
    let h = host.display();
    s.check(
        "run -d --name box --cap-add MKNOD $REG/busybox sleep 1000",
        0,
        "",
    );
    inside(
        &s,
        "box",
        "mkdir -p /srv/d && echo x > /srv/d/suid && chmod 4755 /srv/d/suid && echo y > /srv/d/sgid && chmod 2755 /srv/d/sgid && mknod /srv/d/mem c 1 1 && mknod /srv/d/blk b 7 0 && mkfifo -m 666 /srv/d/fifo",
    );
    // command | exit | output contains
    let out = s.check(&format!("cp box:/srv/d {h}/d"), 0, "");
    assert!(
        out.stderr
            .contains("Notice: skipped device nodes (2 entries)"),
        "{out:?}"
    );
    s.check(
        &format!("cp box:/srv/d/mem {h}/mem"),
        0,
        "skipped device nodes",
    );
    s.check(
        &format!("cp -a box:/srv/d {h}/kept"),
        0,
        "skipped device nodes",
    );
    let d = host.join("d");
    let mode = |p: &Path| fs::symlink_metadata(p).unwrap().mode() & 0o7777;
    assert_eq!(names_in(&d), ["fifo", "sgid", "suid"]);
    assert!(!host.join("mem").exists());
    assert_eq!(mode(&d.join("suid")), 0o755);
    assert_eq!(mode(&d.join("sgid")), 0o755);
    assert_eq!(mode(&d.join("fifo")), 0o666);
    // -a keeps the bits (still no devices).
    assert_eq!(names_in(&host.join("kept")), ["fifo", "sgid", "suid"]);
    assert_eq!(mode(&host.join("kept/suid")), 0o4755);
    assert_eq!(mode(&host.join("kept/sgid")), 0o2755);
    // Into a container, the archive's devices and modes are kept, as Docker keeps them.
    s.check(&format!("cp {h}/d box:/tmp/"), 0, "");
    s.check("exec box mknod /tmp/null c 1 3", 0, "");
    s.check(&format!("cp box:/tmp/null {h}/"), 0, "skipped device nodes");
    assert!(!host.join("null").exists());
    assert_eq!(
        inside(&s, "box", "stat -c %a /tmp/d/suid /tmp/d/fifo"),
        "755\n666\n"
    );
    s.check("rm -f box", 0, "");
}

#[test]
fn a_stopped_container_does_not_start_under_a_copy() {
    let s = Sandbox::user();
    ready(&s);
    s.check(
        "run --name held $REG/busybox dd if=/dev/zero of=/big bs=1M count=8",
        0,
        "",
    );
    // A copy out whose reader waits: it holds the container's files meanwhile.
    let mut copy = s
        .command(&s.args("cp held:/big -"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = copy.stdout.take().unwrap();
    let mut first = [0u8; 512];
    std::io::Read::read_exact(&mut out, &mut first).unwrap();
    let mut start = s
        .command(&s.args("start held"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        start.try_wait().unwrap().is_none(),
        "start went ahead while the copy had the files mounted"
    );
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut out, &mut rest).unwrap();
    assert!(copy.wait().unwrap().success());
    assert!(
        start.wait().unwrap().success(),
        "start goes on after the copy"
    );
    assert!(rest.len() > 8 << 20, "the whole file came: {}", rest.len());
    s.check("rm -f held", 0, "held");
}
