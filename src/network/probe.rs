//! Which user-mode helpers this machine has and what each one understands. Debian 12's pasta
//! (March 2023) lacks options later ones have and says "unknown" to `--version`, so the options
//! are read off `--help`, once per installed binary: the answer is kept in the user's runtime
//! directory, keyed by the binary's path, size and modification time.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

/// An installed helper and the options its `--help` lists (`--netns`, `-t`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installed {
    pub path: PathBuf,
    pub(super) size: u64,
    pub(super) mtime: i64,
    pub options: BTreeSet<String>,
}

impl Installed {
    pub fn has(&self, option: &str) -> bool {
        self.options.contains(option)
    }
}

const CACHE: &str = "network-helpers.json";

/// The helper called `name` on PATH with its options, from the cache in `cache_dir` when the
/// binary is the one probed before.
pub fn installed(name: &str, cache_dir: &Path) -> Option<Installed> {
    let path = on_path(name)?;
    let meta = fs::metadata(&path).ok()?;
    let cache_file = cache_dir.join(CACHE);
    let mut cache: BTreeMap<String, Installed> = fs::read(&cache_file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    if let Some(known) = cache.get(name) {
        if known.path == path && known.size == meta.len() && known.mtime == meta.mtime() {
            return Some(known.clone());
        }
    }
    let out = Command::new(&path)
        .arg("--help")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    let found = Installed {
        path,
        size: meta.len(),
        mtime: meta.mtime(),
        options: options_in(&text),
    };
    cache.insert(name.to_string(), found.clone());
    // Written whole under a temporary name: a reader sees the old cache or the new one.
    if let Ok(bytes) = serde_json::to_vec(&cache) {
        let tmp = cache_dir.join(format!(".{CACHE}.{}", std::process::id()));
        if fs::write(&tmp, bytes).is_ok() && fs::rename(&tmp, &cache_file).is_err() {
            let _ = fs::remove_file(&tmp);
        }
    }
    Some(found)
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            fs::metadata(p)
                .map(|m| m.is_file() && m.mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// The options a help text lists: each word that starts with `-` or `--` where a line's
/// option list is (its leading words, up to the first one that is not an option or its value).
fn options_in(help: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in help.lines() {
        for word in line.split([' ', '\t', ',', '=']).filter(|w| !w.is_empty()) {
            let is_option = (word.starts_with("--") && word.len() > 2)
                || (word.len() == 2 && word.starts_with('-') && word != "--");
            if is_option
                && word[1..]
                    .trim_start_matches('-')
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                out.insert(word.to_string());
            } else if !word
                .chars()
                .all(|c| c.is_ascii_uppercase() || "|[]:_".contains(c))
            {
                // Past the option names and their UPPERCASE values: the description.
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_read_off_a_help_text() {
        let help = "Usage: pasta [OPTION]... [COMMAND] [ARGS]...\n\
                    \x20 -d, --debug\t\tBe verbose\n\
                    \x20 -t, --tcp-ports SPEC\tTCP port forwarding to namespace\n\
                    \x20       -t 22\tForward local port 22 to port 22 in netns\n\
                    \x20 --no-map-gw\t\tDon't map gateway address to host\n\
                    -e, --exit-fd=FD         specify the FD for terminating slirp4netns\n\
                    --netns-type=TYPE \t specify network namespace type ([path|pid], default=pid)\n";
        let found = options_in(help);
        for o in [
            "-d",
            "--debug",
            "-t",
            "--tcp-ports",
            "--no-map-gw",
            "-e",
            "--exit-fd",
            "--netns-type",
        ] {
            assert!(found.contains(o), "{o} in {found:?}");
        }
        assert!(!found.contains("--"), "{found:?}");
    }

    #[test]
    fn a_missing_helper_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(installed("skiff-no-such-helper", dir.path()).is_none());
    }
}
