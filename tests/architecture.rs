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

/// The module path of a file of src/ (`src/engine/container/record.rs` → engine::container::record,
/// `src/engine/mod.rs` → engine, `src/lib.rs` → the crate).
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts
}

/// The paths a line names: each `crate::…`, `super::…` or `child::…` path as absolute
/// segments (brace groups expanded one level).
fn named_paths(line: &str, here: &[String], children: &[String]) -> Vec<Vec<String>> {
    let code = line.split("//").next().unwrap_or("");
    let bytes: Vec<char> = code.chars().collect();
    let ident = |i: usize| bytes[i].is_alphanumeric() || bytes[i] == '_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !ident(i) || (i > 0 && (ident(i - 1) || bytes[i - 1] == ':')) {
            i += 1;
            continue;
        }
        // Read `a::b::c` (and a trailing `{x, y::z}`).
        let mut segments = Vec::new();
        let mut j = i;
        let mut group = Vec::new();
        loop {
            let start = j;
            while j < bytes.len() && ident(j) {
                j += 1;
            }
            segments.push(bytes[start..j].iter().collect::<String>());
            if j + 2 < bytes.len() && bytes[j] == ':' && bytes[j + 1] == ':' {
                j += 2;
                if bytes[j] == '{' {
                    let end = bytes[j..].iter().position(|c| *c == '}').map(|p| j + p);
                    let inner: String = bytes[j + 1..end.unwrap_or(bytes.len())].iter().collect();
                    for item in inner.split(',') {
                        let item: Vec<String> = item
                            .trim()
                            .split("::")
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty() && s != "self")
                            .collect();
                        group.push(item);
                    }
                    j = end.unwrap_or(bytes.len());
                    break;
                }
                if j < bytes.len() && ident(j) {
                    continue;
                }
            }
            break;
        }
        i = j.max(i + 1);
        let mut base: Vec<String> = match segments[0].as_str() {
            "crate" => Vec::new(),
            "super" | "self" => here.to_vec(),
            s if children.iter().any(|c| c == s) && segments.len() > 1 => here.to_vec(),
            _ => continue,
        };
        let mut rest = segments.as_slice();
        while let Some(first) = rest.first() {
            match first.as_str() {
                "crate" | "self" => {}
                "super" => {
                    base.pop();
                }
                _ => break,
            }
            rest = &rest[1..];
        }
        base.extend(rest.iter().cloned());
        if group.is_empty() {
            out.push(base);
        } else {
            for item in group {
                let mut p = base.clone();
                p.extend(item);
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn no_import_circle_between_files() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.retain(|f| !f.ends_with("main.rs"));
    let paths: Vec<Vec<String>> = files.iter().map(|f| module_path(&src, f)).collect();
    let file_of = |p: &[String]| -> Option<usize> {
        // The longest prefix of the path that is a file's module.
        (0..=p.len())
            .rev()
            .find_map(|n| paths.iter().position(|m| m.as_slice() == &p[..n]))
    };
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); files.len()];
    for (f, file) in files.iter().enumerate() {
        let here = &paths[f];
        let children: Vec<String> = paths
            .iter()
            .filter(|m| m.len() == here.len() + 1 && m.starts_with(here))
            .map(|m| m.last().unwrap().clone())
            .collect();
        let is_mod = file.ends_with("mod.rs") || file.ends_with("lib.rs");
        let text = std::fs::read_to_string(file).unwrap();
        for line in text.lines() {
            let trimmed = line.trim_start();
            if trimmed.starts_with("mod tests") {
                break;
            }
            // A module's own list of what it offers is its face, not a dependency of its code.
            if trimmed.starts_with("//")
                || trimmed.starts_with("pub mod")
                || (is_mod && trimmed.starts_with("pub use"))
            {
                continue;
            }
            for p in named_paths(line, here, &children) {
                if let Some(t) = file_of(&p) {
                    if t != f && !paths[t].is_empty() && !edges[f].contains(&t) {
                        edges[f].push(t);
                    }
                }
            }
        }
    }
    // Tarjan's strongly connected components: any with two or more files is a circle.
    struct State {
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        circles: Vec<Vec<usize>>,
    }
    fn visit(v: usize, edges: &[Vec<usize>], s: &mut State) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in &edges[v] {
            match s.index[w] {
                None => {
                    visit(w, edges, s);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(i) if s.on_stack[w] => s.low[v] = s.low[v].min(i),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut component = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.circles.push(component);
            }
        }
    }
    let mut s = State {
        index: vec![None; files.len()],
        low: vec![0; files.len()],
        on_stack: vec![false; files.len()],
        stack: Vec::new(),
        next: 0,
        circles: Vec::new(),
    };
    for v in 0..files.len() {
        if s.index[v].is_none() {
            visit(v, &edges, &mut s);
        }
    }
    let shown: Vec<String> = s
        .circles
        .iter()
        .map(|c| {
            let names: Vec<String> = c
                .iter()
                .map(|&f| files[f].strip_prefix(&src).unwrap().display().to_string())
                .collect();
            let arrows: Vec<String> = c
                .iter()
                .flat_map(|&f| {
                    edges[f]
                        .iter()
                        .filter(|t| c.contains(t))
                        .map(move |&t| (f, t))
                })
                .map(|(f, t)| {
                    format!(
                        "{} → {}",
                        files[f].strip_prefix(&src).unwrap().display(),
                        files[t].strip_prefix(&src).unwrap().display()
                    )
                })
                .collect();
            format!("{}\n    {}", names.join(", "), arrows.join("\n    "))
        })
        .collect();
    assert!(
        shown.is_empty(),
        "import circles between files:\n{}",
        shown.join("\n")
    );
    // The test reads what it should: it sees the engine's files reach the store.
    let engine = paths
        .iter()
        .position(|p| p == &["engine".to_string()])
        .unwrap();
    let store = paths
        .iter()
        .position(|p| p == &["store".to_string()])
        .unwrap();
    assert!(
        edges[engine].contains(&store),
        "the reader missed engine → store"
    );
}
