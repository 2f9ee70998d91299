//! The torture harness (contrib/torture/torture.sh) with a short count: skiff commands and
//! monitors killed with SIGKILL at random moments leave a store and a process table that the
//! next command finds sound. The seed changes from run to run and is printed on failure;
//! `SKIFF_TORTURE_SEED` fixes it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::harness::{env, skiff_bin, Sandbox};

/// Trials per case: about a minute on two cores.
const COUNT: u32 = 10;

#[test]
fn commands_killed_at_random_moments_leave_the_store_and_processes_sound() {
    let s = Sandbox::user();
    // Beside the binary, where the test user can read it (the checkout may be private).
    let script = s.dir.join("torture.sh");
    fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/torture/torture.sh"),
        &script,
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let seed = std::env::var("SKIFF_TORTURE_SEED").unwrap_or_else(|_| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        (nanos % 100_000).to_string()
    });
    let out = Command::new("bash")
        .arg(&script)
        .args(["--seed", &seed, "--count", &COUNT.to_string()])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LANG", "C.UTF-8")
        .env("HOME", s.home())
        .env("SKIFF", skiff_bin())
        .env("SKIFF_TEST_REGISTRY", &env().registry)
        .env("TORTURE_DIR", s.dir.join("torture"))
        .current_dir(&s.dir)
        .uid(s.user.uid)
        .gid(s.user.gid)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stdout.lines().last().unwrap_or("");
    assert!(
        out.status.success() && last.contains(" 0 failed"),
        "torture (seed {seed}) failed:\n{stdout}\n{stderr}"
    );
    // Every case ran all its trials.
    let cases = stdout
        .lines()
        .filter(|l| l.contains(&format!("{COUNT} passed,    0 failed")))
        .count();
    assert_eq!(cases, 9, "{stdout}");
}
