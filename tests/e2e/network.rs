//! Registries that misbehave or speak TLS: redirects, dropped and truncated transfers,
//! self-signed certificates.

use serde_json::Value;

use crate::harness::{env, Sandbox};

fn stats(hostport: &str) -> Value {
    let out = std::process::Command::new("curl")
        .args(["-sf", &format!("http://{hostport}/_stats")])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).expect("the chaos proxy's counters")
}

fn counter(hostport: &str, key: &str) -> u64 {
    stats(hostport)[key].as_u64().unwrap_or(0)
}

#[test]
fn blobs_redirected_to_another_server_are_followed() {
    let s = Sandbox::user();
    let before = counter(&env().redirect_registry, "redirects");
    s.check("pull $REDIRECT/busybox", 0, "Pull complete");
    assert!(counter(&env().redirect_registry, "redirects") > before);
    s.check("inspect -f '{{.Os}}' $REDIRECT/busybox", 0, "linux");
}

#[test]
fn a_dropped_connection_resumes_with_a_range_request() {
    let s = Sandbox::user();
    let before = counter(&env().flaky_registry, "range_requests");
    // Every blob's first transfer is cut halfway: only a client that resumes gets the image.
    s.check("pull $FLAKY/debian:bookworm", 0, "Pull complete");
    assert!(counter(&env().flaky_registry, "range_requests") > before);
    assert!(!s.find_in_layers("usr/bin/bash").is_empty());
    assert!(s.temp_entries().is_empty());
}

#[test]
fn a_blob_that_always_ends_early_is_an_error() {
    let s = Sandbox::user();
    s.check("pull $TRUNC/busybox", 125, "is truncated");
    assert!(s.temp_entries().is_empty(), "{:?}", s.temp_entries());
    assert_eq!(s.run("images -q").stdout.trim(), "");
}

#[test]
fn tls_is_verified_unless_the_registry_is_insecure() {
    // command | exit | output contains
    let s = Sandbox::user();
    s.check("pull $TLSNAME/busybox", 125, "certificate");
    s.check(
        "pull --tls-verify=false $TLSNAME/busybox",
        0,
        "Pull complete",
    );
    // A loopback address is insecure by default, as in Docker: HTTPS without verification is
    // tried when plain HTTP is refused.
    s.check("pull $TLSREG/busybox", 0, "Digest: sha256:");
    s.check("pull --tls-verify $TLSREG/busybox", 125, "certificate");

    let conf = Sandbox::user();
    conf.write_home_file(
        ".config/containers/registries.conf",
        &format!(
            "[[registry]]\nlocation = \"{}\"\ninsecure = true\n",
            env().tls_name
        ),
    );
    conf.check("pull $TLSNAME/busybox", 0, "Pull complete");
}
