//! `skiff run --rm` in the foreground: ask the container what it sees.

use crate::harness::{Sandbox, User};

fn ready(s: &Sandbox) {
    s.check("pull -q $REG/busybox", 0, "");
}

#[test]
fn run_behaviours() {
    let s = Sandbox::user();
    ready(&s);
    // command | exit | output contains
    s.check("run --rm $REG/busybox true", 0, "");
    s.check("run --rm $REG/busybox sh -c 'exit 3'", 3, "");
    s.check(
        "run --rm $REG/busybox nosuch",
        127,
        "executable file not found in $PATH",
    );
    s.check("run --rm $REG/busybox /etc", 126, "permission denied");
    s.check(
        "run --rm --network nosuchnet $REG/busybox true",
        125,
        "network nosuchnet not found",
    );
    s.check(
        "run --rm --pull never $REG/nothere true",
        125,
        "No such image",
    );
    s.check("run --rm $REG/busybox id", 0, "uid=0(root) gid=0(root)");
    s.check(
        "run --rm -u nobody $REG/busybox id",
        0,
        "uid=65534(nobody) gid=65534(nogroup)",
    );
    s.check("run --rm -u 123:456 $REG/busybox id", 0, "uid=123 gid=456");
    s.check(
        "run --rm -u nosuchuser $REG/busybox id",
        125,
        "unable to find user nosuchuser",
    );
    s.check("run --rm $REG/busybox sh -c 'echo $$'", 0, "1\n");
    // No signal ignored or blocked from skiff's side (SIGPIPE would survive exec).
    s.check(
        "run --rm $REG/busybox grep -E 'SigIgn|SigBlk' /proc/self/status",
        0,
        "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000",
    );
    s.check("run --rm -h box1 $REG/busybox hostname", 0, "box1");
    // An empty -h is the default, the container's short id, as in Docker.
    let out = s.check("run --rm -h '' $REG/busybox hostname", 0, "");
    let short = out.stdout.trim();
    assert!(
        short.len() == 12 && short.bytes().all(|b| b.is_ascii_hexdigit()),
        "{out:?}"
    );
    s.check(
        "run --rm -h box1 $REG/busybox cat /etc/hostname /etc/hosts",
        0,
        "127.0.1.1\tbox1",
    );
    s.check(
        "run --rm -e FOO=bar $REG/busybox sh -c 'echo $FOO'",
        0,
        "bar",
    );
    s.check(
        "run --rm $REG/busybox sh -c 'echo $PATH'",
        0,
        "/usr/local/sbin:/usr/local/bin",
    );
    s.check("run --rm -w /made/here $REG/busybox pwd", 0, "/made/here");
    s.check("run --rm --entrypoint echo $REG/busybox hello", 0, "hello");
    s.check(
        "run --rm --entrypoint '' $REG/busybox echo cleared",
        0,
        "cleared",
    );
    // Podman's rootless default capabilities, nothing more.
    s.check(
        "run --rm $REG/busybox grep CapEff /proc/self/status",
        0,
        "00000000800405fb",
    );
    s.check(
        "run --rm $REG/busybox grep CapBnd /proc/self/status",
        0,
        "00000000800405fb",
    );
    // Masked: the host has 2 kB of interrupt counts there.
    s.check(
        "run --rm $REG/busybox wc -c /proc/interrupts",
        0,
        "0 /proc/interrupts",
    );
    s.check(
        "run --rm $REG/busybox sh -c 'echo x > /proc/sys/kernel/domainname'",
        1,
        "Read-only",
    );
    s.check("run --rm $REG/busybox cat /proc/net/dev", 0, "lo:");
    s.check("run --rm $REG/busybox ls /dev", 0, "urandom");
    // Only the container's own processes.
    let ps = s.run("run --rm $REG/busybox ps -o pid,comm");
    assert_eq!(
        ps.ok().stdout.lines().count(),
        2,
        "header and ps itself: {ps:?}"
    );
}

#[test]
fn no_descriptor_of_skiff_leaks_into_the_container() {
    let s = Sandbox::user();
    ready(&s);
    // `; true` keeps the shell as PID 1 with ls its child, so the shell's own files are listed.
    let out = s.run("run --rm $REG/busybox sh -c 'ls /proc/$$/fd; true'");
    let fds: Vec<&str> = out.ok().stdout.split_whitespace().collect();
    assert_eq!(fds, ["0", "1", "2"], "{out:?}");
}

#[test]
fn the_network_is_private_unless_host() {
    let s = Sandbox::user();
    ready(&s);
    let none = s.run("run --rm --network none $REG/busybox cat /proc/net/dev");
    let devices: Vec<&str> = none.stdout.lines().skip(2).collect();
    assert_eq!(devices.len(), 1, "only loopback: {none:?}");
    // And it is up: the container reaches its own 127.0.0.1.
    s.check(
        "run --rm --network none $REG/busybox ip link show lo",
        0,
        "UP",
    );
    // The default network: loopback and one interface out.
    let default = s.run("run --rm $REG/busybox cat /proc/net/dev");
    assert_eq!(
        default.ok().stdout.lines().skip(2).count(),
        2,
        "{default:?}"
    );
    s.check(
        "run --rm --network none $REG/busybox sh -c 'nc -l -p 8080 -e echo pong & sleep 0.3; nc 127.0.0.1 8080'",
        0,
        "pong",
    );
    let host = s.run("run --rm --network host $REG/busybox cat /proc/net/dev");
    assert!(host.ok().stdout.lines().count() > 3, "{host:?}");
}

#[test]
fn writes_stay_in_the_container_and_nothing_is_left_behind() {
    let s = Sandbox::user();
    ready(&s);
    s.check(
        "run --rm $REG/busybox sh -c 'echo x > /bin/new && rm /bin/ls && ls /bin/new'",
        0,
        "/bin/new",
    );
    s.check("run --rm $REG/busybox ls /bin/new", 1, "No such file");
    s.check("run --rm $REG/busybox ls /bin/ls", 0, "/bin/ls");
    let containers = s.root().join("containers");
    let left: Vec<_> = std::fs::read_dir(&containers)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    let run_dirs = s.dir.join("run/skiff/containers");
    let left: Vec<_> = std::fs::read_dir(&run_dirs)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_missing_image_is_pulled_first() {
    let s = Sandbox::user();
    let out = s.check("run --rm $REG/busybox echo ran", 0, "ran");
    assert!(out.stderr.contains("Pulling from"), "{out:?}");
    assert!(
        !out.stdout.contains("Pulling"),
        "pull progress stays off stdout: {out:?}"
    );
}

#[test]
fn layers_with_whiteouts_and_owners_as_the_container_sees_them() {
    let s = Sandbox::user();
    s.check("pull -q $REG/layers", 0, "");
    s.check("run --rm $REG/layers ls /data", 0, "keep");
    let listing = s.run("run --rm $REG/layers ls /data /opaque");
    assert!(
        !listing.stdout.contains("gone"),
        "whiteout hides data/gone: {listing:?}"
    );
    assert!(
        !listing.stdout.contains("old1"),
        "opaque dir hides the lower layer: {listing:?}"
    );
    assert!(listing.stdout.contains("new"));
    s.check(
        "run --rm $REG/layers stat -c '%u:%g %a' /data/nobody /data/suid",
        0,
        "65534:65534",
    );
    s.check("run --rm $REG/layers stat -c '%a' /data/suid", 0, "4755");
}

#[test]
fn a_user_without_subuids_runs_containers_as_root_only() {
    let s = Sandbox::nosub();
    s.check("pull -q $REG/layers", 0, "");
    s.check("run --rm $REG/layers id -u", 0, "0");
    s.check("run --rm $REG/layers stat -c '%u' /data/nobody", 0, "0");
    s.check("run --rm -u 65534 $REG/layers id", 125, "subuid range");
}

#[test]
fn root_runs_containers_too() {
    let s = Sandbox::new(User::root());
    ready(&s);
    s.check("run --rm $REG/busybox id -u", 0, "0");
    s.check("run --rm $REG/busybox sh -c 'echo $$'", 0, "1");
    // Every capability root has, even where root's own bounding set lacks some.
    let have = std::fs::read_to_string("/proc/self/status").unwrap();
    let bounding = have
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap()
        .trim()
        .to_string();
    s.check(
        "run --rm --privileged $REG/busybox grep CapEff /proc/self/status",
        0,
        &bounding,
    );
}

#[test]
fn volumes_tmpfs_and_read_only_root() {
    let s = Sandbox::user();
    ready(&s);
    let host = s.dir.join("vol");
    let h = host.display().to_string();
    // command | exit | output contains
    s.check(
        &format!("run --rm -v {h}:/h $REG/busybox sh -c 'echo hi > /h/f && cat /h/f'"),
        0,
        "hi",
    );
    assert!(host.is_dir(), "-v creates a missing host directory");
    assert_eq!(
        crate::harness::owner(&host.join("f")),
        s.user.uid,
        "container root writes as the user"
    );
    s.check(
        &format!("run --rm -u 123 -v {h}:/h $REG/busybox touch /h/by123"),
        1,
        "Permission denied",
    );
    s.check(
        &format!("run --rm -v {h}:/h:ro $REG/busybox touch /h/g"),
        1,
        "Read-only file system",
    );
    s.check(
        &format!("run --rm --mount type=bind,source={h},target=/m,readonly $REG/busybox cat /m/f"),
        0,
        "hi",
    );
    s.check(
        "run --rm --mount type=bind,source=/nonexistent/x,target=/m $REG/busybox true",
        125,
        "bind source path does not exist",
    );
    s.check(
        "run --rm -v relative:/x $REG/busybox true",
        125,
        "named volumes",
    );
    s.check(
        "run --rm --tmpfs /scratch $REG/busybox sh -c 'mount | grep /scratch'",
        0,
        "tmpfs on /scratch",
    );
    s.check(
        "run --rm --mount type=tmpfs,target=/t,tmpfs-size=1m $REG/busybox df -k /t",
        0,
        "1024",
    );
    s.check(
        "run --rm --read-only $REG/busybox touch /x",
        1,
        "Read-only file system",
    );
    s.check("run --rm --read-only $REG/busybox touch /tmp/x", 0, "");
}

#[test]
fn capabilities_and_privileges() {
    let s = Sandbox::user();
    ready(&s);
    // command | exit | output contains
    s.check(
        "run --rm --cap-drop ALL $REG/busybox grep CapEff /proc/self/status",
        0,
        "0000000000000000",
    );
    s.check(
        "run --rm --cap-add NET_ADMIN $REG/busybox grep CapEff /proc/self/status",
        0,
        "00000000800415fb",
    );
    s.check(
        "run --rm --cap-drop chown $REG/busybox chown 1 /tmp",
        1,
        "Operation not permitted",
    );
    s.check(
        "run --rm --cap-add bogus $REG/busybox true",
        125,
        "unknown capability",
    );
    s.check(
        "run --rm --privileged $REG/busybox grep CapEff /proc/self/status",
        0,
        "000001ffffffffff",
    );
    let counts = s.run("run --rm --privileged $REG/busybox wc -c /proc/interrupts");
    assert!(
        !counts.stdout.starts_with("0 "),
        "nothing masked: {counts:?}"
    );
    s.check(
        "run --rm --security-opt no-new-privileges $REG/busybox grep NoNewPrivs /proc/self/status",
        0,
        "1",
    );
}

#[test]
fn seccomp_profile_files() {
    let s = Sandbox::user();
    ready(&s);
    s.write_home_file(
        "profile.json",
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
                        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
            "syscalls": [
              {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
              {"names": ["chmod", "fchmodat", "fchmodat2"], "action": "SCMP_ACT_ERRNO",
               "includes": {"caps": ["CAP_SYS_ADMIN"]}},
              {"names": ["no_such_call"], "action": "SCMP_ACT_KILL"}
            ]}"#,
    );
    s.write_home_file("broken.json", r#"{"defaultAction": "SCMP_ACT_SOMETIMES"}"#);
    let opt = format!("--security-opt seccomp={}/profile.json", s.home().display());
    // command | exit | output contains
    s.check(
        &format!("run --rm {opt} $REG/busybox mkdir /x"),
        1,
        "Permission denied",
    );
    s.check(
        &format!("run --rm {opt} $REG/busybox sh -c 'touch /y && chmod 600 /y && echo ok'"),
        0,
        "ok",
    );
    s.check(
        &format!("run --rm {opt} --cap-add SYS_ADMIN $REG/busybox chmod 600 /etc/passwd"),
        1,
        "Operation not permitted",
    );
    s.check(
        &format!("run --rm {opt} $REG/busybox grep Seccomp: /proc/self/status"),
        0,
        "2",
    );
    // The default profile's refusals are gone with a profile that allows everything else.
    s.check(
        &format!("run --rm {opt} --cap-add SYS_ADMIN $REG/busybox unshare -n true"),
        0,
        "",
    );
    s.check(
        &format!(
            "run --rm --security-opt seccomp={}/broken.json $REG/busybox true",
            s.home().display()
        ),
        125,
        "unknown action",
    );
    s.check(
        "run --rm --security-opt seccomp=/nonexistent.json $REG/busybox true",
        125,
        "reading the seccomp profile /nonexistent.json",
    );
}

#[test]
fn stdin_only_with_interactive() {
    use std::io::Write;
    let s = Sandbox::user();
    ready(&s);
    let args = crate::harness::split(&format!(
        "run --rm -i {}/busybox cat",
        crate::harness::env().registry
    ));
    let mut child = s
        .command(&args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"through stdin\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "through stdin\n");
    let without = s.run("run --rm $REG/busybox cat");
    assert_eq!(
        without.ok().stdout,
        "",
        "without -i the container reads nothing"
    );
}

#[test]
fn a_signal_to_skiff_reaches_the_container() {
    let s = Sandbox::user();
    ready(&s);
    let mut child = s.spawn_until(
        "run --rm $REG/busybox sh -c \"trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.1; done\"",
        "ready\n",
    );
    kill(&child, "TERM");
    let mut rest = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut rest).unwrap();
    assert_eq!(rest, "got TERM\n");
    assert_eq!(child.wait().unwrap().code(), Some(7));
}

fn kill(child: &std::process::Child, signal: &str) {
    std::process::Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .unwrap();
}

#[test]
fn init_limits_and_shm() {
    let s = Sandbox::user();
    ready(&s);
    // command | exit | output contains
    s.check(
        "run --rm --init $REG/busybox ps -o pid,comm",
        0,
        "skiff-init",
    );
    // Our init is skiff's own binary: the container may not reach it through /proc/1/exe.
    s.check(
        "run --rm --init $REG/busybox cat /proc/1/exe",
        1,
        "Permission denied",
    );
    // The orphan is reaped by init: no zombie is left.
    let ps =
        s.run("run --rm --init $REG/busybox sh -c '(sleep 0.1 &); sleep 0.5; ps -o stat,comm'");
    assert!(
        !ps.ok()
            .stdout
            .lines()
            .any(|l| l.trim_start().starts_with('Z')),
        "{ps:?}"
    );
    s.check("run --rm --init $REG/busybox sh -c 'exit 4'", 4, "");
    s.check(
        "run --rm --init $REG/busybox nosuch",
        127,
        "executable file not found",
    );
    s.check(
        "run --rm --ulimit nofile=512:1024 $REG/busybox sh -c 'ulimit -n; ulimit -Hn'",
        0,
        "512\n1024",
    );
    s.check(
        "run --rm --ulimit nofile=abc $REG/busybox true",
        125,
        "invalid --ulimit",
    );
    s.check(
        "run --rm --shm-size 8m $REG/busybox df -k /dev/shm",
        0,
        "8192",
    );
    // cgroup v1 here: the limit is reported as not applied, and the container still runs.
    let out = s.check(
        "run --rm --memory 64m --pids-limit 50 $REG/busybox echo ran",
        0,
        "ran",
    );
    assert!(out.stderr.contains("WARNING: resource limits"), "{out:?}");
    // Detached too: its monitor would put it in its cgroup.
    let out = s.check("run -d --rm --memory 64m $REG/busybox true", 0, "");
    assert!(out.stderr.contains("WARNING: resource limits"), "{out:?}");
}

#[test]
fn init_passes_signals_on() {
    let s = Sandbox::user();
    ready(&s);
    let mut child = s.spawn_until(
        "run --rm --init $REG/busybox sh -c 'echo ready; exec sleep 30'",
        "ready\n",
    );
    // sleep is not PID 1 here, so a plain TERM ends it (as with docker run --init).
    kill(&child, "TERM");
    assert_eq!(child.wait().unwrap().code(), Some(128 + 15));
}

/// Runs `shell_line` under script(1), so that skiff's stdin and stdout are a terminal; once
/// the output shows `wait_for`, types `input`. Returns what the terminal showed.
pub fn on_a_terminal(s: &Sandbox, shell_line: &str, wait_for: &str, input: &[u8]) -> String {
    s.on_terminal(shell_line, &[(b"", wait_for), (input, "")])
}

#[test]
fn a_terminal_with_t() {
    let s = Sandbox::user();
    ready(&s);
    let skiff = crate::harness::skiff_bin().display().to_string();
    let reg = &crate::harness::env().registry;
    let out = on_a_terminal(
        &s,
        &format!("stty cols 100 rows 40; {skiff} run --rm -t {reg}/busybox sh -c 'tty; stty size'"),
        "",
        b"",
    );
    assert!(
        out.contains("/dev/pts/0"),
        "a terminal of the container's own: {out:?}"
    );
    assert!(out.contains("40 100"), "the window size follows: {out:?}");
    assert!(
        !out.contains("\r\r\n"),
        "line endings are not doubled: {out:?}"
    );
    // Ctrl-C is a byte on the terminal: the container's terminal turns it into SIGINT.
    let script = "trap 'echo caught INT; exit 9' INT; echo ready; sleep 5; echo missed";
    let out = on_a_terminal(
        &s,
        &format!("{skiff} run --rm -it {reg}/busybox sh -c \"{script}\"; echo status=$?"),
        "ready",
        b"\x03",
    );
    assert!(out.contains("caught INT"), "{out:?}");
    assert!(out.contains("status=9"), "{out:?}");
    s.check(
        "run --rm -it $REG/busybox true",
        125,
        "the input device is not a TTY",
    );
}

#[test]
fn seccomp_refuses_what_dockers_profile_refuses() {
    let s = Sandbox::user();
    ready(&s);
    // unshare(2) needs CAP_SYS_ADMIN in the profile: refused by the filter with EPERM, not by
    // the kernel (the container is root in its own user namespace, which would allow it).
    s.check(
        "run --rm $REG/busybox unshare -n true",
        1,
        "Operation not permitted",
    );
    s.check("run --rm --security-opt seccomp=unconfined --cap-add SYS_ADMIN $REG/busybox unshare -n true", 0, "");
    s.check(
        "run --rm --cap-add SYS_ADMIN $REG/busybox unshare -n true",
        0,
        "",
    );
    // keyctl is refused whatever the capabilities (the kernel keyring is not namespaced).
    s.check(
        "run --rm --cap-add ALL $REG/busybox grep -c Seccomp:.2 /proc/self/status",
        0,
        "1",
    );
    s.check(
        "run --rm --privileged $REG/busybox grep Seccomp: /proc/self/status",
        0,
        "0",
    );
    // Ordinary work is unaffected.
    s.check(
        "run --rm $REG/busybox sh -c 'ls / >/dev/null && echo fine'",
        0,
        "fine",
    );
}

#[test]
fn groups_cidfile_and_user_namespace_modes() {
    let s = Sandbox::user();
    ready(&s);
    // command | exit | output contains
    s.check(
        "run --rm -u nobody --group-add root --group-add 44 $REG/busybox id",
        0,
        "groups=0(root),44",
    );
    s.check(
        "run --rm --group-add nosuchgroup $REG/busybox id",
        125,
        "unable to find group nosuchgroup",
    );
    let cid = s.dir.join("cid");
    s.check(
        &format!("run --rm --cidfile {} $REG/busybox true", cid.display()),
        0,
        "",
    );
    let id = std::fs::read_to_string(&cid).unwrap();
    assert_eq!(id.len(), 64, "{id}");
    s.check(
        &format!("run --rm --cidfile {} $REG/busybox true", cid.display()),
        125,
        "container ID file found",
    );
    s.check("run --rm --userns host $REG/busybox true", 0, "");
    let arm = Sandbox::user();
    // The arm64 image holds only /arch: it cannot run here, but it is the one pulled.
    arm.check(
        "run --rm --platform linux/arm64 $REG/multiarch cat /arch",
        127,
        "not found",
    );
    arm.check("inspect -f '{{.Architecture}}' $REG/multiarch", 0, "arm64");
}

#[test]
fn user_namespaces_of_the_containers_own() {
    let s = Sandbox::user();
    ready(&s);
    let (uid, gid, sub) = (s.user.uid, s.user.gid, s.user.subuid_start());
    let vol = s.dir.join("vol");
    // command | exit | output contains
    // keep-id: the user is the same uid inside, with a passwd entry, and image files keep
    // their owners (root's stay root's).
    s.check(
        "run --rm --userns keep-id $REG/busybox id",
        0,
        &format!("uid={uid}({name}) gid={gid}({name})", name = s.user.name),
    );
    s.check(
        "run --rm --userns keep-id $REG/busybox stat -c %u:%g /bin/busybox",
        0,
        "0:0",
    );
    s.check(
        "run --rm --userns keep-id $REG/busybox sh -c 'echo $HOME'",
        0,
        &s.home().display().to_string(),
    );
    s.check(
        "run --rm --userns keep-id -u 0 $REG/busybox id -u",
        0,
        "0\n",
    );
    s.check(
        "run --rm --userns keep-id:uid=4000,gid=4001 $REG/busybox id",
        0,
        "uid=4000",
    );
    s.check(
        &format!(
            "run --rm --userns keep-id -v {}:/v $REG/busybox touch /v/kept",
            vol.display()
        ),
        0,
        "",
    );
    assert_eq!(crate::harness::owner(&vol.join("kept")), uid);
    // auto: a range of the user's subordinate ids of its own; a second container gets the next.
    s.check(
        "run --rm --userns auto $REG/busybox cat /proc/self/uid_map",
        0,
        "0          1       1024",
    );
    s.check(
        "create --name holder --userns auto:size=2000 $REG/busybox true",
        0,
        "",
    );
    s.check(
        &format!("run --rm --userns auto -v {}:/v $REG/busybox sh -c 'cat /proc/self/uid_map; touch /v/auto'", vol.display()),
        0,
        "0       2001       1024",
    );
    assert_eq!(crate::harness::owner(&vol.join("auto")), sub + 2000);
    s.check(
        "run --rm --userns auto $REG/busybox stat -c %u:%g /bin/busybox /etc/passwd",
        0,
        "0:0\n0:0",
    );
    s.check(
        "run --rm --userns auto:size=70000 $REG/busybox true",
        125,
        "no free range of 70000 ids",
    );
    // Two created at the same moment never share a range (taken under the store lock).
    std::thread::scope(|scope| {
        for n in ["a1", "a2"] {
            let s = &s;
            scope.spawn(move || {
                s.check(
                    &format!("create --name {n} --userns auto $REG/busybox cat /proc/self/uid_map"),
                    0,
                    "",
                )
            });
        }
    });
    let first = s.check("start -a a1", 0, "").stdout;
    let second = s.check("start -a a2", 0, "").stdout;
    assert_ne!(
        first.lines().next(),
        second.lines().next(),
        "{first} / {second}"
    );
    s.check("rm a1 a2", 0, "a2");
    // --uidmap/--gidmap: ids on the right count in the user's namespace (0 = the user).
    s.check(
        "run --rm --uidmap 0:1:100 --gidmap 0:1:200 $REG/busybox cat /proc/self/uid_map /proc/self/gid_map",
        0,
        "0          1        100",
    );
    s.check(
        "run --rm --uidmap 0:1:100 --gidmap 0:1:200 $REG/busybox cat /proc/self/gid_map",
        0,
        "0          1        200",
    );
    s.check(
        "run --rm --uidmap 0:1:100 $REG/busybox stat -c %u /etc/passwd",
        0,
        "0\n",
    );
    s.check(
        "run --rm --uidmap 0:70000:5 $REG/busybox true",
        125,
        "this user's namespace has ids 0 to 65536 only",
    );
    s.check(
        "run --rm --uidmap 0:x $REG/busybox true",
        125,
        "invalid --uidmap",
    );
    s.check(
        "run --rm --userns sideways $REG/busybox true",
        125,
        "invalid --userns",
    );
    s.check(
        "run --rm --userns nomap $REG/busybox true",
        125,
        "not supported yet",
    );
    // Without subordinate ids keep-id still gives the user's own uid, and auto explains.
    let n = Sandbox::nosub();
    ready(&n);
    n.check(
        "run --rm --userns keep-id $REG/busybox id -u",
        0,
        &format!("{}\n", n.user.uid),
    );
    n.check(
        "run --rm --userns auto $REG/busybox true",
        125,
        "--userns=auto needs subordinate ids",
    );
    // root: maps are host ids; keep-id has no meaning.
    let r = Sandbox::new(User::root());
    ready(&r);
    r.check(
        "run --rm --uidmap 0:300000:65536 $REG/busybox sh -c 'cat /proc/self/uid_map; stat -c %u /bin/busybox'",
        0,
        "300000",
    );
    r.check(
        "run --rm --userns keep-id $REG/busybox true",
        125,
        "for rootless containers",
    );
}

#[test]
fn every_root_file_system_driver_gives_the_same_container() {
    // command | exit | output contains, under kernel overlayfs, fuse-overlayfs and the copy.
    for driver in ["overlay", "fuse-overlayfs", "copy"] {
        let mut s = Sandbox::user();
        s.set_env("SKIFF_ROOTFS_DRIVER", Some(driver));
        s.check("pull -q $REG/layers", 0, "");
        let out = s.check("run --rm $REG/layers ls /data /opaque", 0, "keep");
        assert!(
            !out.stdout.contains("gone") && !out.stdout.contains("old1"),
            "{driver}: {out:?}"
        );
        s.check(
            "run --rm $REG/layers stat -c '%u %a' /data/nobody /data/suid",
            0,
            "65534 644\n0 4755",
        );
        s.check(
            "run --name w1 $REG/layers sh -c 'echo kept > /data/new'",
            0,
            "",
        );
        s.check(
            "container create --name r1 $REG/layers cat /data/new",
            0,
            "",
        );
        s.check("start -a r1", 1, "No such file");
        s.check("rm w1 r1", 0, "r1");
        s.check("info --format '{{.store.graphDriverName}}'", 0, driver);
    }
    // Without the override the driver is detected once and kept in the store.
    let s = Sandbox::user();
    s.check("info --format '{{.store.graphDriverName}}'", 0, "overlay");
    assert_eq!(
        std::fs::read_to_string(s.root().join("rootfs-driver")).unwrap(),
        "overlay"
    );
    s.check("info", 0, "rootless: true");
    s.check("info --format json", 0, "\"graphRoot\"");
}

#[test]
fn containers_share_the_users_namespace_while_one_runs() {
    for s in [Sandbox::user(), Sandbox::nosub()] {
        ready(&s);
        let start = || {
            s.run("run -d $REG/busybox sleep 60")
                .ok()
                .stdout
                .trim()
                .to_string()
        };
        let user_ns = |id: &str| {
            let line = format!("inspect --format '{{{{.State.Pid}}}}' {id}");
            let pid = s.run(&line).ok().stdout.trim().to_string();
            std::fs::read_link(format!("/proc/{pid}/ns/user")).unwrap()
        };
        let (a, b) = (start(), start());
        assert_eq!(user_ns(&a), user_ns(&b), "{}", s.user.name);
        // The one that made it goes: a later container finds the other that holds it.
        s.check(&format!("rm -f {a}"), 0, "");
        let c = start();
        assert_eq!(user_ns(&b), user_ns(&c), "{}", s.user.name);
        s.check(&format!("exec {c} id -u"), 0, "0\n");
        // None left: the next one makes a namespace of its own again.
        s.check(&format!("rm -f {b} {c}"), 0, "");
        s.check("run --rm $REG/busybox id -u", 0, "0\n");
        // A monitor killed outright: the next container neither joins nor trips over it, and
        // the entry that named it is gone.
        let d = start();
        let line = format!("inspect --format '{{{{.State.ConmonPid}}}}' {d}");
        let monitor: i32 = s.run(&line).ok().stdout.trim().parse().unwrap();
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(monitor).unwrap(),
            rustix::process::Signal::KILL,
        )
        .unwrap();
        s.eventually(&format!("ps -a --filter id={d}"), "Exited");
        s.check("run --rm $REG/busybox id -u", 0, "0\n");
        let holders = s.dir.join("run/skiff/userns-holders");
        let named: Vec<String> = std::fs::read_dir(&holders)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            !named.iter().any(|n| n.starts_with(&format!("{monitor}-"))),
            "{}: {named:?}",
            s.user.name
        );
        s.check(&format!("rm -f {d}"), 0, "");
    }
}

#[test]
fn network_of_another_container_and_of_the_host() {
    for s in [
        Sandbox::user(),
        Sandbox::nosub(),
        Sandbox::new(User::root()),
    ] {
        ready(&s);
        let who = s.user.name.clone();
        let server = s
            .run("run -d --name web -h webhost $REG/busybox sh -c 'while true; do nc -l -p 8080 -e echo pong; done'")
            .ok()
            .stdout
            .trim()
            .to_string();
        // command | exit | output contains
        // Its loopback, its hostname and its /etc files.
        let joined = s.eventually(
            "run --rm --network container:web $REG/busybox sh -c 'nc 127.0.0.1 8080; hostname; grep webhost /etc/hosts'",
            "pong",
        );
        assert!(
            joined.contains("webhost\n127.0.1.1\twebhost"),
            "{who}: {joined}"
        );
        s.check(
            "run --rm --network container:web -h other $REG/busybox true",
            125,
            "conflicting options: hostname and the network mode",
        );
        s.check(
            "run --rm --network container:nosuch $REG/busybox true",
            125,
            "No such container: nosuch",
        );
        s.check(
            "create --name later --network container:web $REG/busybox true",
            0,
            "",
        );
        s.check(
            "inspect --format '{{.HostConfig.NetworkMode}}' later",
            0,
            &format!("container:{server}"),
        );
        s.check("stop -t 0 web", 0, "web");
        s.check(
            "start -a later",
            125,
            "cannot join network of a non running container: web",
        );
        s.check("rm -f web later", 0, "");
        // The host's network comes with the host's hostname, as in Docker.
        let host = rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned();
        s.check(
            "run --rm --network host $REG/busybox hostname",
            0,
            &format!("{host}\n"),
        );
    }
}

#[test]
fn hosts_and_resolvers_as_asked() {
    let s = Sandbox::user();
    ready(&s);
    // command | exit | output contains
    s.check(
        "run --rm --add-host db:10.0.0.5 --add-host six=::1 $REG/busybox tail -2 /etc/hosts",
        0,
        "10.0.0.5\tdb\n::1\tsix\n",
    );
    s.check(
        "run --rm --dns 10.1.1.1 --dns-search example.org --dns-option ndots:2 $REG/busybox cat /etc/resolv.conf",
        0,
        "search example.org\nnameserver 10.1.1.1\noptions ndots:2\n",
    );
    // The image's own /etc/hosts: nothing is mounted over it.
    s.check(
        "run --rm --no-hosts $REG/busybox sh -c 'grep -c \" /etc/hosts \" /proc/self/mountinfo'",
        1,
        "0\n",
    );
    s.check(
        "run --rm --network host --add-host gw:host-gateway $REG/busybox grep gw /etc/hosts",
        0,
        "127.0.0.1\tgw",
    );
    s.check(
        "create --name asked --dns 10.1.1.1 --add-host db:10.0.0.5 $REG/busybox true",
        0,
        "",
    );
    s.check(
        "inspect -f '{{.HostConfig.Dns}} {{.HostConfig.ExtraHosts}}' asked",
        0,
        "[10.1.1.1] [db:10.0.0.5]",
    );
    // On the default network, host-gateway is the host's address there, as the host's names.
    let hosts = s.run("run --rm --add-host gw:host-gateway $REG/busybox cat /etc/hosts");
    let host_line = hosts
        .ok()
        .stdout
        .lines()
        .find(|l| l.ends_with("host.containers.internal host.docker.internal"))
        .unwrap_or_else(|| panic!("{hosts:?}"))
        .to_string();
    let address = host_line.split('\t').next().unwrap();
    assert!(
        hosts.stdout.contains(&format!("{address}\tgw\n")),
        "{hosts:?}"
    );
    s.check("run -d --name other $REG/busybox sleep 60", 0, "");
    for (line, why) in [
        (
            "--network none --add-host gw:host-gateway",
            "host-gateway needs a network",
        ),
        ("--dns nope", "invalid --dns \"nope\""),
        ("--add-host lonely", "expected NAME:IP"),
        ("--add-host db:1.2.3", "not an IP address"),
        (
            "--no-hosts --add-host db:10.0.0.5",
            "--no-hosts and --add-host conflict",
        ),
        (
            "--network container:other --dns 10.1.1.1",
            "conflicting options: dns",
        ),
        (
            "--network container:other --add-host db:10.0.0.5",
            "conflicting options: custom host-to-IP mapping",
        ),
    ] {
        s.check(&format!("run --rm {line} $REG/busybox true"), 125, why);
    }
    s.check("rm -f asked other", 0, "");
}
