//! Bad input, as a careless user or an attacker types it: every row is refused with its exit
//! status and one line on stderr naming what was wrong, and leaves the user's store, runtime
//! directory and home exactly as they were. `$DIR` is the sandbox, `$SHARED` a world-writable
//! sticky directory in it (like /tmp).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::harness::{env, Sandbox};

/// Everything under `root`: what each entry is, its mode, and for files their size and
/// modification time. Directories' times are left out (a temporary file made and removed again
/// changes nothing that stays), and so are lock files, which exist once any command has run.
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let kind = meta.file_type();
            let what = if kind.is_symlink() {
                format!("link -> {:?}", fs::read_link(&path).ok())
            } else if kind.is_dir() {
                todo.push(path.clone());
                format!("dir {:o}", meta.mode())
            } else if name.ends_with(".lock") || name == "lock" {
                continue;
            } else {
                format!(
                    "file {:o} {} bytes, modified {}.{}",
                    meta.mode(),
                    meta.len(),
                    meta.mtime(),
                    meta.mtime_nsec()
                )
            };
            out.insert(rel, what);
        }
    }
    out
}

const PASSWORD_WARNING: &str =
    "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n";

/// Runs each row (command | exit status | text its one stderr line contains) and collects every
/// row that misbehaves, so that one run shows them all.
fn refuse_all(s: &Sandbox, rows: &[(&str, i32, &str)]) -> usize {
    let dir = s.dir.display().to_string();
    let mut failures = Vec::new();
    for (line, code, want) in rows {
        let line = line
            .replace("$DIR", &dir)
            .replace("$SHARED", &format!("{dir}/shared"));
        let before = snapshot(&s.dir);
        let out = s.run(&line);
        let after = snapshot(&s.dir);
        let mut wrong = Vec::new();
        if out.code != *code {
            wrong.push(format!("exit {} (expected {code})", out.code));
        }
        // The one warning Docker prints too, before any error of `login -p`.
        let stderr = out.stderr.replace(PASSWORD_WARNING, "");
        if stderr.lines().count() != 1 {
            wrong.push("stderr is not one line".to_string());
        }
        if !out.stderr.contains(want) {
            wrong.push(format!("stderr lacks {want:?}"));
        }
        // Docker's inspect prints an empty list for names it cannot find; nothing else may before it fails.
        // print anything before it fails, except the tag `pull` says it assumes (Docker too).
        let said = out.stdout.strip_prefix("Using default tag: latest\n");
        if !(out.stdout.is_empty() || out.stdout == "[]\n" || said == Some("")) {
            wrong.push(format!("stdout: {:?}", out.stdout));
        }
        if before != after {
            let changed: Vec<String> = after
                .iter()
                .filter(|(k, v)| before.get(*k) != Some(v))
                .map(|(k, v)| format!("+ {k} {v}"))
                .chain(
                    before
                        .iter()
                        .filter(|(k, _)| !after.contains_key(*k))
                        .map(|(k, _)| format!("- {k}")),
                )
                .collect();
            wrong.push(format!("changed: {changed:?}"));
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "`skiff {line}`: {}\n    stderr: {:?}",
                wrong.join("; "),
                out.stderr
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows misbehave:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
    rows.len()
}

/// A sandbox with busybox pulled, a container `box` created (never started), and the files
/// some rows name.
fn prepared() -> Sandbox {
    let s = Sandbox::user();
    s.check("pull -q $REG/busybox", 0, "");
    s.check("create --name box $REG/busybox sleep 100", 0, "");
    // What any copy makes once (the runtime directory, overlayfs's work directory) is there
    // before the rows, so that a failed copy is seen to add nothing of its own.
    s.check(
        &format!("cp box:/etc/passwd {}/copied", s.dir.display()),
        0,
        "",
    );
    let shared = s.dir.join("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
    s.write_home_file("env.bad", "GOOD=1\n=nameless\n");
    s.write_home_file("env.space", "MY VAR=1\n");
    s.write_home_file("cid.existing", "x");
    s
}

const IMG: &str = "$REG/busybox";

/// Rows that need no configuration file of their own.
fn command_line_rows() -> Vec<(String, i32, &'static str)> {
    let long_name = "n".repeat(256);
    let rows: Vec<(String, i32, &str)> = vec![
        // The command line itself.
        (
            "frobnicate".into(),
            125,
            "'frobnicate' is not a skiff command",
        ),
        (
            "commit box".into(),
            125,
            "'skiff commit' is not supported yet",
        ),
        ("build .".into(), 125, "not supported yet"),
        (format!("push {IMG}"), 125, "not supported yet"),
        (
            "network create --driver overlay o".into(),
            125,
            "network driver overlay is not supported yet",
        ),
        ("volume ls".into(), 125, "not supported yet"),
        ("--bogus ps".into(), 125, "unexpected argument '--bogus'"),
        ("ps --bogus".into(), 125, "unexpected argument '--bogus'"),
        (
            "images --bogus".into(),
            125,
            "unexpected argument '--bogus'",
        ),
        ("run --bogus x".into(), 125, "unexpected argument '--bogus'"),
        (
            format!("run -p 85010:8080 {IMG} true"),
            125,
            "host port 85010 is out of range",
        ),
        (
            "--log-level bogus ps".into(),
            125,
            "invalid value 'bogus' for '--log-level",
        ),
        ("--log-level '' ps".into(), 125, "--log-level"),
        ("pull".into(), 125, "required arguments were not provided"),
        ("run".into(), 125, "required arguments were not provided"),
        ("rmi".into(), 125, "required"),
        ("rm".into(), 125, "required"),
        ("stop".into(), 125, "required"),
        ("exec box".into(), 125, "required"),
        ("cp box:/etc".into(), 125, "required"),
        ("tag busybox".into(), 125, "required"),
        ("rename box".into(), 125, "required"),
        ("logs".into(), 125, "required"),
        ("stop -t x box".into(), 125, "invalid value 'x'"),
        ("ps -n x".into(), 125, "invalid value 'x'"),
        // Paths that cannot hold skiff's state.
        (
            "--runroot /proc ps".into(),
            125,
            "/proc is a kernel file system",
        ),
        (
            "--runroot /proc/self ps".into(),
            125,
            "/proc is a kernel file system",
        ),
        (
            "--runroot /sys/fs/cgroup ps".into(),
            125,
            "/sys is a kernel file system",
        ),
        ("--runroot / ps".into(), 125, "the root directory cannot be"),
        (
            "--runroot '' ps".into(),
            125,
            "a value is required for '--runroot",
        ),
        (
            "--root /proc images".into(),
            125,
            "/proc is a kernel file system",
        ),
        (
            "--root / images".into(),
            125,
            "the root directory cannot be",
        ),
        // Runtime directories planted by someone else, or unfit.
        (
            "--runroot $SHARED/link ps".into(),
            125,
            "it is a symbolic link",
        ),
        (
            "--runroot $SHARED/open ps".into(),
            125,
            "gives others access",
        ),
        (
            "--runroot $SHARED/file ps".into(),
            125,
            "it is not a directory",
        ),
        (
            "--runroot $SHARED/theirs ps".into(),
            125,
            "it is owned by uid 0",
        ),
        (
            "--runroot $SHARED/link stop box".into(),
            125,
            "it is a symbolic link",
        ),
        (
            "--runroot $SHARED/open rm box".into(),
            125,
            "gives others access",
        ),
        (
            format!("--runroot $SHARED/theirs run {IMG} true"),
            125,
            "owned by uid 0",
        ),
        ("--runroot /var/tmp ps".into(), 125, "it is owned by uid 0"),
        // Names that match nothing: 1 where Docker and Podman give 1, else 125.
        ("rm nosuch".into(), 1, "No such container: nosuch"),
        ("rm -f nosuch".into(), 1, "No such container: nosuch"),
        ("rmi nosuch".into(), 1, "No such image: nosuch"),
        ("rmi -f nosuch".into(), 1, "No such image: nosuch"),
        ("stop nosuch".into(), 1, "No such container: nosuch"),
        ("kill nosuch".into(), 1, "No such container: nosuch"),
        ("restart nosuch".into(), 1, "No such container: nosuch"),
        ("start nosuch".into(), 1, "No such container: nosuch"),
        ("wait nosuch".into(), 1, "No such container: nosuch"),
        ("pause nosuch".into(), 1, "No such container: nosuch"),
        ("unpause nosuch".into(), 1, "No such container: nosuch"),
        ("container rm nosuch".into(), 1, "No such container: nosuch"),
        ("image rm nosuch".into(), 1, "No such image: nosuch"),
        ("inspect nosuch".into(), 1, "No such object: nosuch"),
        ("image inspect nosuch".into(), 1, "No such object: nosuch"),
        (
            "container inspect nosuch".into(),
            1,
            "No such object: nosuch",
        ),
        ("logs nosuch".into(), 125, "No such container: nosuch"),
        ("exec nosuch true".into(), 125, "No such container: nosuch"),
        ("attach nosuch".into(), 125, "No such container: nosuch"),
        ("top nosuch".into(), 125, "No such container: nosuch"),
        ("port nosuch".into(), 125, "No such container: nosuch"),
        ("diff nosuch".into(), 125, "No such container: nosuch"),
        (
            "stats --no-stream nosuch".into(),
            125,
            "No such container: nosuch",
        ),
        (
            "rename nosuch newname".into(),
            125,
            "No such container: nosuch",
        ),
        (
            "healthcheck run nosuch".into(),
            125,
            "No such container: nosuch",
        ),
        (
            "cp nosuch:/etc $DIR/out".into(),
            125,
            "No such container: nosuch",
        ),
        ("history nosuch".into(), 125, "No such image: nosuch"),
        ("tag nosuch other:1".into(), 125, "No such image: nosuch"),
        ("run --pull never nosuch true".into(), 125, "nosuch"),
        ("create --pull never nosuch".into(), 125, "nosuch"),
        ("pull $REG/nosuch".into(), 125, "not found"),
        (format!("pull {IMG}:nosuchtag"), 125, "not found"),
        (
            format!("pull {IMG}@sha256:{}", "0".repeat(64)),
            125,
            "not found",
        ),
        // References that are not references.
        ("pull 'bad name'".into(), 125, "invalid reference format"),
        ("pull busybox/UPPER".into(), 125, "invalid reference format"),
        (format!("pull {IMG}:"), 125, "invalid reference format"),
        (format!("pull {IMG}@sha256:abc"), 125, "invalid"),
        ("pull ::".into(), 125, "invalid reference format"),
        (
            format!("tag {IMG} 'bad tag!'"),
            125,
            "invalid reference format",
        ),
        (format!("tag {IMG} UPPER"), 125, "invalid reference format"),
        ("run 'a b' true".into(), 125, "invalid reference format"),
        // Templates that do not parse, refused before any row, with rows or without.
        (
            "images --format '{{end}}'".into(),
            125,
            "unexpected {{end}}",
        ),
        (
            "images --format 'x{{else}}y'".into(),
            125,
            "unexpected {{else}}",
        ),
        (
            "images --format '{{if .ID}}a{{end}}{{end}}'".into(),
            125,
            "unexpected {{end}}",
        ),
        (
            "images --format '{{json extra}}'".into(),
            125,
            "function \"extra\" not defined",
        ),
        ("images --format '{{.ID'".into(), 125, "unclosed action"),
        (
            "images --format 'table {{end}}'".into(),
            125,
            "unexpected {{end}}",
        ),
        (
            "images --format '{{.Nope}}'".into(),
            125,
            "map has no entry for key \"Nope\"",
        ),
        ("ps --format '{{end}}'".into(), 125, "unexpected {{end}}"),
        (
            "ps --format '{{json extra}}'".into(),
            125,
            "function \"extra\" not defined",
        ),
        (
            "ps -a --format '{{nope .ID}}'".into(),
            125,
            "function \"nope\" not defined",
        ),
        (
            "container ls --format '{{end}}'".into(),
            125,
            "unexpected {{end}}",
        ),
        (
            format!("history --format '{{{{end}}}}' {IMG}"),
            125,
            "unexpected {{end}}",
        ),
        // inspect and info exit 64 for these, as Docker, and parse before looking anything up.
        ("inspect -f '{{end}}' box".into(), 64, "unexpected {{end}}"),
        (
            "inspect -f '{{end}}' nosuch".into(),
            64,
            "unexpected {{end}}",
        ),
        ("inspect -f '{{.Id' box".into(), 64, "unclosed action"),
        (
            "image inspect -f '{{nope}}' busybox".into(),
            64,
            "function \"nope\" not defined",
        ),
        ("info --format '{{end}}'".into(), 64, "unexpected {{end}}"),
        (
            "inspect -f '{{index .Mounts 5}}' box".into(),
            125,
            "index out of range",
        ),
        // run and create: refused before anything is pulled or created.
        (
            format!("run -e =x {IMG} true"),
            125,
            "invalid environment variable \"=x\"",
        ),
        (
            format!("run -e = {IMG} true"),
            125,
            "invalid environment variable",
        ),
        (
            format!("create -e =x {IMG}"),
            125,
            "invalid environment variable",
        ),
        (
            format!("run --env-file $DIR/home/env.bad {IMG} true"),
            125,
            "env.bad: line 2",
        ),
        (
            format!("run --env-file $DIR/home/env.space {IMG} true"),
            125,
            "\"MY VAR\"",
        ),
        (
            format!("run --env-file $DIR/nonexistent {IMG} true"),
            125,
            "reading --env-file",
        ),
        (
            format!("run -w relative {IMG} true"),
            125,
            "it needs to be an absolute path",
        ),
        (
            format!("run -w ./x {IMG} true"),
            125,
            "it needs to be an absolute path",
        ),
        (
            format!("create -w relative {IMG}"),
            125,
            "it needs to be an absolute path",
        ),
        (
            format!("run --cpus 1e309 {IMG} true"),
            125,
            "the range of CPUs is from 0.01",
        ),
        (
            format!("run --cpus nan {IMG} true"),
            125,
            "the range of CPUs is from 0.01",
        ),
        (
            format!("run --cpus 0.001 {IMG} true"),
            125,
            "the range of CPUs is from 0.01",
        ),
        (
            format!("run --cpus 100000 {IMG} true"),
            125,
            "CPUs available",
        ),
        (
            format!("run --cpus many {IMG} true"),
            125,
            "invalid value 'many' for '--cpus",
        ),
        (
            format!("run --name a {IMG} true"),
            125,
            "invalid container name (a)",
        ),
        (
            format!("run --name 'a b' {IMG} true"),
            125,
            "invalid container name",
        ),
        (
            format!("run --name _ab {IMG} true"),
            125,
            "invalid container name",
        ),
        (
            format!("run --name a/b {IMG} true"),
            125,
            "invalid container name",
        ),
        (
            format!("run --name {long_name} {IMG} true"),
            125,
            "256 characters long",
        ),
        (
            format!("run --name box {IMG} true"),
            125,
            "is already in use",
        ),
        (format!("create --name box {IMG}"), 125, "is already in use"),
        (
            format!("run --name box -v $DIR/new:/x {IMG} true"),
            125,
            "is already in use",
        ),
        (
            format!("run --cidfile $DIR/home/cid.existing -v $DIR/new:/x {IMG} true"),
            125,
            "container ID file",
        ),
        (
            format!("run -v /tmp:/x -v /var/tmp:/x {IMG} true"),
            125,
            "duplicate mount point: /x",
        ),
        (
            format!("run -v /tmp:/x --tmpfs /x/ {IMG} true"),
            125,
            "duplicate mount point: /x",
        ),
        (
            format!("run --mount type=tmpfs,target=/x --tmpfs /y/../x {IMG} true"),
            125,
            "duplicate mount point: /x",
        ),
        (
            format!("run -v $DIR/made:/x -v $DIR/made2:/x {IMG} true"),
            125,
            "duplicate mount",
        ),
        (
            format!("run -v /tmp:/proc {IMG} true"),
            125,
            "/proc is the container's own",
        ),
        (
            format!("run -v /tmp:/proc/sys/kernel {IMG} true"),
            125,
            "/proc is the container's own",
        ),
        (
            format!("run -v /tmp:/sys {IMG} true"),
            125,
            "/sys is the container's own",
        ),
        (
            format!("run -v $DIR/made:/sys {IMG} true"),
            125,
            "/sys is the container's own",
        ),
        (
            format!("run -v /tmp:/x/../proc {IMG} true"),
            125,
            "/proc is the container's own",
        ),
        (
            format!("run --tmpfs /proc {IMG} true"),
            125,
            "/proc is the container's own",
        ),
        (
            format!("run --tmpfs /sys/fs/cgroup {IMG} true"),
            125,
            "/sys is the container's own",
        ),
        (
            format!("run --mount type=bind,source=/tmp,target=/proc/1 {IMG} true"),
            125,
            "/proc is the container's own",
        ),
        (
            format!("run -v /tmp:relative {IMG} true"),
            125,
            "invalid mount target",
        ),
        (
            format!("run -v /tmp:/ {IMG} true"),
            125,
            "invalid mount target",
        ),
        (format!("run -v named:/x {IMG} true"), 125, "named volumes"),
        (
            format!("run -v /tmp:/x:bogus {IMG} true"),
            125,
            "invalid volume option \"bogus\"",
        ),
        (
            format!("run -v /a:/b:ro:/d {IMG} true"),
            125,
            "invalid volume specification",
        ),
        (
            format!("run --mount type=bind,target=/x {IMG} true"),
            125,
            "needs a source",
        ),
        (
            format!("run --mount type=bind,source=$DIR/nonexistent,target=/x {IMG} true"),
            125,
            "bind source path does not exist",
        ),
        (
            format!("run --mount type=volume,target=/x {IMG} true"),
            125,
            "type=volume",
        ),
        (
            format!("run --mount source=/tmp,target=/x {IMG} true"),
            125,
            "needs a type",
        ),
        (
            format!("run --mount type=tmpfs {IMG} true"),
            125,
            "needs a target",
        ),
        (
            format!("run --mount type=tmpfs,target=/x,bogus=1 {IMG} true"),
            125,
            "\"bogus\"",
        ),
        (
            format!("run --tmpfs relative {IMG} true"),
            125,
            "invalid mount target",
        ),
        (
            format!("run --ulimit nofile=x {IMG} true"),
            125,
            "expected NAME=SOFT[:HARD]",
        ),
        (
            format!("run --ulimit nofile {IMG} true"),
            125,
            "expected NAME=SOFT[:HARD]",
        ),
        (
            format!("run --ulimit bogus=1 {IMG} true"),
            125,
            "unknown limit \"bogus\"",
        ),
        (
            format!("run --ulimit nofile=10:5 {IMG} true"),
            125,
            "soft limit above",
        ),
        (
            format!("run --memory 10x {IMG} true"),
            125,
            "invalid size \"10x\"",
        ),
        (format!("run --memory abc {IMG} true"), 125, "invalid size"),
        (format!("run --shm-size x {IMG} true"), 125, "invalid size"),
        (
            format!("run --restart sometimes {IMG} true"),
            125,
            "invalid restart policy",
        ),
        (
            format!("run --restart on-failure:x {IMG} true"),
            125,
            "invalid restart policy",
        ),
        (
            format!("run --rm --restart always {IMG} true"),
            125,
            "--restart and --rm conflict",
        ),
        (
            format!("run --health-interval 5 {IMG} true"),
            125,
            "invalid duration \"5\"",
        ),
        (
            format!("run --health-cmd true --health-timeout 1ns {IMG} true"),
            125,
            "less than one millisecond",
        ),
        (
            format!("run --no-healthcheck --health-cmd true {IMG} true"),
            125,
            "--no-healthcheck conflicts",
        ),
        (
            format!("run --health-retries x {IMG} true"),
            125,
            "invalid value 'x'",
        ),
        (
            format!("run --userns bogus {IMG} true"),
            125,
            "invalid --userns \"bogus\"",
        ),
        (
            format!("run --uidmap 0:x {IMG} true"),
            125,
            "invalid --uidmap \"0:x\"",
        ),
        (format!("run --gidmap bogus {IMG} true"), 125, "--gidmap"),
        (
            format!("run --security-opt apparmor=x {IMG} true"),
            125,
            "apparmor=x",
        ),
        (
            format!("run --security-opt bogus {IMG} true"),
            125,
            "--security-opt bogus",
        ),
        (
            format!("run --security-opt seccomp=$DIR/nonexistent {IMG} true"),
            125,
            "seccomp profile",
        ),
        (
            format!("run --cap-add FOO {IMG} true"),
            125,
            "unknown capability \"FOO\"",
        ),
        (
            format!("run --cap-drop BAR {IMG} true"),
            125,
            "unknown capability \"BAR\"",
        ),
        (
            format!("run --stop-signal SIGFOO {IMG} true"),
            125,
            "invalid signal",
        ),
        (
            format!("run --log-driver syslog {IMG} true"),
            125,
            "invalid --log-driver",
        ),
        (
            format!("run --log-opt foo=bar {IMG} true"),
            125,
            "invalid --log-opt",
        ),
        (
            format!("run --log-opt max-file=0 {IMG} true"),
            125,
            "max-file is a number",
        ),
        (
            format!("run --log-opt max-size=x {IMG} true"),
            125,
            "invalid size",
        ),
        (
            format!("run --pull sometimes {IMG} true"),
            125,
            "invalid --pull",
        ),
        (
            format!("run --network nosuchnet {IMG} true"),
            125,
            "network nosuchnet not found",
        ),
        (
            format!("run --network container:box {IMG} true"),
            125,
            "cannot join network of a non running container: box",
        ),
        (
            format!("run --pids-limit x {IMG} true"),
            125,
            "invalid value 'x'",
        ),
        (
            format!("run -h {} {IMG} true", "h".repeat(65)),
            125,
            "kernel takes at most 64",
        ),
        (
            format!("run --label =x {IMG} true"),
            125,
            "invalid label \"=x\"",
        ),
        (format!("create --label ' =x' {IMG}"), 125, "empty name"),
        (
            format!("run --entrypoint '' {IMG}"),
            125,
            "no command specified",
        ),
        (
            format!("run -it {IMG} true"),
            125,
            "the input device is not a TTY",
        ),
        (
            format!("run --cidfile $DIR/home/cid.existing {IMG} true"),
            125,
            "container ID file",
        ),
        // Other commands' values.
        (
            "exec -e =x box true".into(),
            125,
            "invalid environment variable",
        ),
        (
            "exec -w relative box true".into(),
            125,
            "it needs to be an absolute path",
        ),
        ("exec box true".into(), 125, "is not running"),
        ("kill -s nosuch box".into(), 125, "invalid signal"),
        ("kill box".into(), 125, "is not running"),
        (
            "attach box".into(),
            125,
            "cannot attach to a stopped container",
        ),
        ("top box".into(), 125, "is not running"),
        ("start -a box box".into(), 125, "multiple containers"),
        (
            "rename box 'bad name'".into(),
            125,
            "invalid container name",
        ),
        (
            "logs --since bogus box".into(),
            125,
            "invalid time \"bogus\"",
        ),
        (
            "logs --until bogus box".into(),
            125,
            "invalid time \"bogus\"",
        ),
        ("ps --filter bogus=1".into(), 125, "bogus"),
        ("ps --filter status=bogus".into(), 125, "bogus"),
        (
            "ps -a --filter 'name=['".into(),
            125,
            "regular expressions beyond ^ and $",
        ),
        (
            "ps -a --filter 'name=bo.*'".into(),
            125,
            "--filter name=bo.*",
        ),
        ("images --filter bogus=1".into(), 125, "bogus"),
        (
            "images --filter 'reference=busybox:[0-9'".into(),
            125,
            "syntax error in pattern",
        ),
        (
            "images --filter 'reference=[]'".into(),
            125,
            "syntax error in pattern",
        ),
        (
            "rename box box".into(),
            125,
            "the same name as its current name",
        ),
        (
            format!("rename box {}", "r".repeat(256)),
            125,
            "256 characters long",
        ),
        (
            "image prune -f --filter until=bogus".into(),
            125,
            "invalid time \"bogus\"",
        ),
        (
            "image prune -f --filter color=red".into(),
            125,
            "prune takes until= and label=",
        ),
        (
            "cp box:/nonexistent $DIR/out".into(),
            125,
            "Could not find the file",
        ),
        ("cp $DIR/nonexistent box:/tmp".into(), 125, "nonexistent"),
        ("cp $DIR/a $DIR/b".into(), 125, "at least one container"),
        ("cp box:/etc box:/tmp".into(), 125, "between containers"),
        (
            "login -u $USER -p wrong $AUTH".into(),
            125,
            "refused the credentials",
        ),
        ("login $AUTH".into(), 125, "stdin is not a terminal"),
        (
            "login -u $USER --password-stdin -p x $AUTH".into(),
            125,
            "password-stdin",
        ),
    ];
    rows
}

#[test]
fn bad_command_lines_are_refused_and_change_nothing() {
    let s = prepared();
    let shared = s.dir.join("shared");
    std::os::unix::fs::symlink(s.dir.join("run"), shared.join("link")).unwrap();
    for (name, mode) in [("open", 0o755), ("theirs", 0o700)] {
        let dir = shared.join(name);
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).unwrap();
        if name == "open" {
            std::os::unix::fs::chown(&dir, Some(s.user.uid), Some(s.user.gid)).unwrap();
        }
    }
    fs::write(shared.join("file"), "").unwrap();
    let rows = command_line_rows();
    let rows: Vec<(&str, i32, &str)> = rows.iter().map(|(l, c, w)| (l.as_str(), *c, *w)).collect();
    let counted = refuse_all(&s, &rows);
    assert!(counted > 100, "{counted} rows");
}

/// One configuration file, the text in it, and the rows it breaks.
type ConfigCase = (
    &'static str,
    &'static str,
    Vec<(&'static str, i32, &'static str)>,
);

fn config_cases() -> Vec<ConfigCase> {
    let storage = ".config/containers/storage.conf";
    let unsupported = "driver \"zfs\" is not supported: use \"overlay\" or \"vfs\"";
    vec![
        (
            storage,
            "[storage]\ndriver = \"zfs\"\n",
            vec![
                ("images", 125, unsupported),
                ("ps -a", 125, unsupported),
                ("run $REG/busybox true", 125, unsupported),
                ("rm box", 125, unsupported),
            ],
        ),
        (
            storage,
            "[storage]\ndriver = 5\n",
            vec![(
                "images",
                125,
                "[storage] driver must be a string, not integer 5",
            )],
        ),
        (
            storage,
            "[storage]\ngraphroot = \"\"\n",
            vec![("images", 125, "[storage] graphroot is empty")],
        ),
        (
            storage,
            "[storage]\nrunroot = \"/\"\n",
            vec![
                ("ps", 125, "runroot /: the root directory cannot be"),
                ("run $REG/busybox true", 125, "runroot /"),
            ],
        ),
        (
            storage,
            "[storage]\nrunroot = \"/proc/$UID\"\n",
            vec![("ps", 125, "/proc is a kernel file system")],
        ),
        (
            storage,
            "[storage]\ngraphroot = \"relative/store\"\n",
            vec![("images", 125, "[storage] graphroot relative/store")],
        ),
        (
            storage,
            "[storage]\ngraphroot = [\"/a\"]\n",
            vec![("images", 125, "graphroot must be a string")],
        ),
        (
            storage,
            "[storage\ndriver = \"overlay\"\n",
            vec![("images", 125, "storage.conf: line 1")],
        ),
        (
            ".config/containers/registries.conf",
            "unqualified-search-registries = [\n",
            vec![("pull busybox", 125, "registries.conf: line")],
        ),
        (
            ".config/containers/auth.json",
            "{\"auths\": {",
            vec![
                ("pull $REG/busybox", 125, ".config/containers/auth.json"),
                (
                    "run --pull always $REG/busybox true",
                    125,
                    "containers/auth.json",
                ),
            ],
        ),
        (
            ".config/containers/auth.json",
            "{\"auths\": []}",
            vec![("pull $REG/busybox", 125, "\"auths\" is not a JSON object")],
        ),
        (
            ".config/containers/auth.json",
            "[1, 2]",
            vec![("pull $REG/busybox", 125, "not a JSON object")],
        ),
    ]
}

#[test]
fn bad_configuration_files_are_refused_and_change_nothing() {
    let s = prepared();
    let mut counted = 0;
    for (file, text, rows) in config_cases() {
        s.write_home_file(file, text);
        counted += refuse_all(&s, &rows);
        fs::remove_file(s.home().join(file)).unwrap();
    }
    // Podman's own auth.json in the runtime directory, which login and logout write.
    let primary = "../run/containers/auth.json";
    s.write_home_file(primary, "{not json");
    counted += refuse_all(
        &s,
        &[
            ("pull $REG/busybox", 125, "run/containers/auth.json: line 1"),
            (
                "login -u $USER -p $PASS $AUTH",
                125,
                "run/containers/auth.json",
            ),
            ("logout --all", 125, "run/containers/auth.json"),
            ("logout $AUTH", 125, "run/containers/auth.json"),
        ],
    );
    assert!(counted >= 20, "{counted} rows");
}

/// Docker only warns about a config.json it cannot parse and goes on without its credentials;
/// so does skiff, naming the file, where it used to say nothing.
#[test]
fn broken_docker_config_is_named_and_passed_over() {
    let s = Sandbox::user();
    s.write_home_file(".docker/config.json", "{\"auths\": {");
    let out = s.check("pull $REG/busybox", 0, "Pull complete");
    assert!(
        out.stderr.contains(".docker/config.json: line") && out.stderr.contains("fix or remove"),
        "{out:?}"
    );
    // The registry that needs a login refuses the anonymous pull, and says why.
    let out = s.run("pull $AUTH/private/busybox");
    assert_eq!(out.code, 125, "{out:?}");
    assert!(out.stderr.contains(".docker/config.json"), "{out:?}");
}

/// The `/tmp/skiff-$UID` fallback (no XDG_RUNTIME_DIR, as under su, ssh or Slurm): a directory
/// planted there by someone else, a symbolic link, or one of the user's own that others may
/// read, is refused by every command, and skiff never reads a pid or socket from it. Uses the
/// user without subordinate ids, whose fallback no other test shares.
#[test]
fn planted_tmp_runtime_directory_is_refused_by_every_command() {
    let mut s = Sandbox::nosub();
    s.set_env("XDG_RUNTIME_DIR", None);
    let fallback = std::path::PathBuf::from(format!("/tmp/skiff-{}", s.user.uid));
    struct Remove<'a>(&'a Path);
    impl Drop for Remove<'_> {
        fn drop(&mut self) {
            let _ = fs::remove_file(self.0);
            let _ = fs::remove_dir_all(self.0);
        }
    }
    let _cleanup = Remove(&fallback);
    let _ = fs::remove_dir_all(&fallback);
    let _ = fs::remove_file(&fallback);
    // Made privately when missing.
    s.check("ps", 0, "CONTAINER ID");
    s.check("pull -q $REG/busybox", 0, "");
    s.check("run --rm $REG/busybox true", 0, "");
    let meta = fs::symlink_metadata(&fallback).unwrap();
    assert!(meta.is_dir() && meta.uid() == s.user.uid && meta.mode() & 0o777 == 0o700);
    fs::remove_dir_all(&fallback).unwrap();

    let elsewhere = s.dir.join("run");
    let cases: [(&str, &dyn Fn()); 3] = [
        ("symbolic link", &|| {
            std::os::unix::fs::symlink(&elsewhere, &fallback).unwrap()
        }),
        ("owned by uid 0", &|| fs::create_dir(&fallback).unwrap()),
        ("gives others access", &|| {
            fs::create_dir(&fallback).unwrap();
            fs::set_permissions(&fallback, fs::Permissions::from_mode(0o755)).unwrap();
            std::os::unix::fs::chown(&fallback, Some(s.user.uid), Some(s.user.gid)).unwrap();
        }),
    ];
    for (why, plant) in cases {
        plant();
        let rows: Vec<(&str, i32, &str)> = [
            "ps",
            "ps -a",
            "images",
            "stop x",
            "logs x",
            "rm x",
            "run --rm $REG/busybox true",
        ]
        .into_iter()
        .map(|line| (line, 125, why))
        .collect();
        refuse_all(&s, &rows);
        assert!(
            !elsewhere.join("containers").exists(),
            "nothing is written through a planted link"
        );
        let _ = fs::remove_file(&fallback);
        let _ = fs::remove_dir_all(&fallback);
    }
    assert_eq!(env().nosub_user, s.user.name);
}
