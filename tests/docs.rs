//! The man pages in man/ are generated from the command-line definitions; they must match.

use std::process::Command;

#[test]
fn man_pages_are_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_skiff"))
        .args(["__generate", "man"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let mut generated: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    generated.sort();
    assert!(!generated.is_empty());
    for name in generated {
        let fresh = std::fs::read(dir.path().join(&name)).unwrap();
        let old = std::fs::read(committed.join(&name)).unwrap_or_default();
        assert!(
            fresh == old,
            "man/{} is stale: run `cargo run -- __generate man man`",
            name.to_string_lossy()
        );
    }
}

#[test]
fn completions_are_generated() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(env!("CARGO_BIN_EXE_skiff"))
            .args(["__generate", "completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("pull"), "{shell}: {text}");
    }
}
