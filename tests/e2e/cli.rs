//! The command line itself: exit codes, help, what is not there yet, configuration files.

use std::os::unix::process::CommandExt;

use crate::harness::Sandbox;

#[test]
fn exit_codes_and_messages() {
    let s = Sandbox::user();
    // command | exit | output contains
    s.check("--help", 0, "Usage: ");
    s.check("pull --help", 0, "--all-tags");
    s.check("--version", 0, "skiff ");
    s.check("version", 0, "skiff version");
    s.check("commit x", 125, "'skiff commit' is not supported yet");
    s.check("cp x:/a /b", 125, "No such container: x");
    s.check("stop x", 1, "No such container: x");
    s.check("exec x true", 125, "No such container: x");
    s.check("attach x", 125, "No such container: x");
    s.check("frobnicate", 125, "'frobnicate' is not a skiff command");
    s.check("pull", 125, "required arguments were not provided");
    s.check("images --bogus", 125, "unexpected argument '--bogus'");
    s.check("rmi", 125, "required");
}

#[test]
fn storage_conf_and_flags_choose_the_store() {
    let s = Sandbox::user();
    let graph = s.dir.join("graph");
    s.write_home_file(
        ".config/containers/storage.conf",
        &format!(
            "[storage]\ndriver = \"overlay\"\ngraphroot = \"{}\"\n",
            graph.display()
        ),
    );
    s.check("pull $REG/busybox", 0, "Pull complete");
    assert!(
        graph.join("images.json").exists(),
        "storage.conf's graphroot is used"
    );
    assert!(!s.root().exists(), "and the default is not");
    let flag_root = s.dir.join("flagroot");
    s.check(&format!("--root {} images -q", flag_root.display()), 0, "");
    assert!(
        flag_root.join("blobs").exists(),
        "--root wins over storage.conf"
    );
    // A relative one is the working directory's.
    s.check("--root relroot images -q", 0, "");
    assert!(s.dir.join("relroot/blobs").exists(), "relative --root");
}

#[test]
fn memory_stays_bounded_whatever_the_layer_size() {
    let s = Sandbox::user();
    let mut args = vec!["-f".to_string(), "%M".to_string()];
    args.push(crate::harness::skiff_bin().display().to_string());
    args.extend(crate::harness::split(&format!(
        "pull -q {}/debian:bookworm",
        crate::harness::env().registry
    )));
    let base = s.command(&[]);
    let out = std::process::Command::new("/usr/bin/time")
        .args(&args)
        .env_clear()
        .envs(
            base.get_envs()
                .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))),
        )
        .current_dir(&s.dir)
        .uid(s.user.uid)
        .gid(s.user.gid)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kb: u64 = stderr.lines().last().unwrap().trim().parse().unwrap();
    // The layer is 49 MB compressed and 127 MB unpacked; neither may be held in memory.
    assert!(kb < 48 * 1024, "max resident set {kb} KiB");
}
