//! The arrows between the crate's modules that must never exist (see the README's layout):
//! every `crate::…` path (and `super::super::…` out of a module) in src/ is read, and one that
//! runs the wrong way fails the test.

use std::path::{Path, PathBuf};

/// (module, modules it must not reach; `*` for any module but itself).
const FORBIDDEN: &[(&str, &[&str])] = &[
    (
        "runtime",
        &["engine", "store", "image", "network", "build", "cli"],
    ),
    (
        "image",
        &["engine", "store", "runtime", "network", "build", "cli"],
    ),
    (
        "store",
        &["engine", "image", "runtime", "network", "build", "cli"],
    ),
    ("network", &["engine", "store", "cli"]),
    ("config", &["*except sys"]),
    ("sys", &["*"]),
    ("cli", &["store", "runtime", "image"]),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of src/ belongs to (`src/runtime/exec.rs` → runtime).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The modules of the crate a line of code names, by `crate::X` or (in a file one level down)
/// `super::super::X`.
fn named_modules(line: &str) -> Vec<String> {
    let code = line.split("//").next().unwrap_or("");
    let mut out = Vec::new();
    for prefix in ["crate::", "super::super::"] {
        let mut rest = code;
        while let Some(i) = rest.find(prefix) {
            rest = &rest[i + prefix.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

#[test]
fn no_module_reaches_one_it_must_not() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: Vec<String> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut wrong = Vec::new();
    for (file, module) in files.iter().zip(&modules) {
        let Some((_, forbidden)) = FORBIDDEN.iter().find(|(m, _)| m == module) else {
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.starts_with("//") {
                continue;
            }
            for target in named_modules(line) {
                // Only the crate's own modules count (not `crate::debug!` and other macros).
                if target == *module || !modules.contains(&target) {
                    continue;
                }
                let refused = forbidden.iter().any(|f| match *f {
                    "*" => true,
                    "*except sys" => target != "sys",
                    name => name == target,
                });
                if refused {
                    wrong.push(format!(
                        "{}:{}: {module} → {target}: {}",
                        file.strip_prefix(&src).unwrap().display(),
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "arrows that must not exist:\n{}",
        wrong.join("\n")
    );
    // The test reads what it should: the crate has these modules.
    for m in [
        "runtime", "image", "store", "sys", "config", "cli", "engine",
    ] {
        assert!(modules.iter().any(|x| x == m), "no module {m} found");
    }
}
