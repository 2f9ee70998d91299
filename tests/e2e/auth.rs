//! Registries that want credentials: Basic (htpasswd) and Bearer tokens; login and logout.

use std::fs;

use crate::harness::{env, Sandbox};

#[test]
fn basic_auth_login_pull_logout() {
    let s = Sandbox::user();
    // command | exit | output contains
    s.check(
        "pull $AUTH/private/busybox",
        125,
        "authentication required by 127.0.0.1:5791",
    );
    s.check(
        "login -u $USER -p wrong $AUTH",
        125,
        "127.0.0.1:5791 refused the credentials",
    );
    s.check("login -u $USER -p $PASS $AUTH", 0, "Login Succeeded");
    let auth = s.dir.join("run/containers/auth.json");
    let text = fs::read_to_string(&auth).expect("auth.json written under XDG_RUNTIME_DIR");
    assert!(text.contains("127.0.0.1:5791"), "{text}");
    assert!(
        !text.contains(&env().reg_pass),
        "the password is stored encoded, never in clear"
    );
    s.check("pull $AUTH/private/busybox", 0, "Pull complete");
    s.check(
        "logout $AUTH",
        0,
        "Removing login credentials for 127.0.0.1:5791",
    );
    s.check("logout $AUTH", 125, "not logged in to 127.0.0.1:5791");
    s.check(
        "pull $AUTH/private/busybox:nope",
        125,
        "authentication required",
    );
    s.check(
        "pull --creds $USER:$PASS $AUTH/private/busybox",
        0,
        "Image is up to date",
    );
    s.check(
        "pull --creds $USER:wrong $AUTH/private/busybox",
        125,
        "refused the credentials",
    );
}

#[test]
fn login_password_stdin_never_echoes() {
    let s = Sandbox::user();
    let e = env();
    let mut cmd = s.command(&[
        "login".into(),
        "--username".into(),
        e.reg_user.clone(),
        "--password-stdin".into(),
        e.auth_registry.clone(),
    ]);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{}\n", e.reg_pass).as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let all =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{all}");
    assert!(!all.contains(&e.reg_pass));
    s.check(
        "login --password-stdin $AUTH",
        125,
        "must provide --username with --password-stdin",
    );
    s.check("login -u $USER $AUTH", 125, "stdin is not a terminal");
}

#[test]
fn bearer_tokens_anonymous_and_with_credentials() {
    let s = Sandbox::user();
    s.check("pull $TOKEN/private/busybox", 0, "Pull complete");
    s.check(
        "login -u $USER -p wrong $TOKEN",
        125,
        "refused the credentials",
    );
    s.check("login -u $USER -p $PASS $TOKEN", 0, "Login Succeeded");
    s.check("pull $TOKEN/private/busybox", 0, "Image is up to date");
}

#[test]
fn docker_config_json_is_read_and_runtime_dir_falls_back_to_tmp() {
    let mut s = Sandbox::user();
    let e = env();
    use base64::Engine as _;
    let token =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", e.reg_user, e.reg_pass));
    s.write_home_file(
        ".docker/config.json",
        &format!(
            "{{\"auths\":{{\"{}\":{{\"auth\":\"{token}\"}}}}}}",
            e.auth_registry
        ),
    );
    s.check("pull $AUTH/private/busybox", 0, "Pull complete");
    // Without XDG_RUNTIME_DIR (su, ssh, Slurm) runtime files go to /tmp/skiff-$UID, mode 0700.
    s.set_env("XDG_RUNTIME_DIR", None);
    s.check("login -u $USER -p $PASS $AUTH", 0, "Login Succeeded");
    let fallback = std::path::PathBuf::from(format!("/tmp/skiff-{}", s.user.uid));
    let meta = fs::metadata(&fallback).unwrap();
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    assert_eq!(meta.uid(), s.user.uid);
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    assert!(fallback.join("containers/auth.json").exists());
    s.check("logout --all", 0, "");
}
