//! The changes of an overlay upper directory over its lower layers: what `diff` lists, and
//! what commit and build will turn into a layer. A whiteout (a 0:0 character device) is a
//! deletion; a directory is changed when something inside it is, or added when no lower
//! has it.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// What happened to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Changed,
    Deleted,
}

impl Change {
    /// Docker's letter for it: A, C or D.
    pub fn letter(self) -> char {
        match self {
            Change::Added => 'A',
            Change::Changed => 'C',
            Change::Deleted => 'D',
        }
    }
}

/// What is not the container's own even though it is in the upper directory.
pub struct Skip<'a> {
    /// Trees mounted over at every start (`/proc`): nothing under them is listed.
    pub trees: &'a [&'a str],
    /// Files made as mount points (`/etc/hosts`): not listed while empty.
    pub empty_files: &'a [&'a str],
}

/// The changes in `upper` over `lowers` (top first), as absolute paths, sorted by path.
pub fn changes(upper: &Path, lowers: &[PathBuf], skip: &Skip) -> Vec<(Change, String)> {
    let mut out = Vec::new();
    walk(upper, "", lowers, skip, &mut out);
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

/// Lists the changes under `upper/rel`; returns whether any was listed.
fn walk(
    upper: &Path,
    rel: &str,
    lowers: &[PathBuf],
    skip: &Skip,
    out: &mut Vec<(Change, String)>,
) -> bool {
    let Ok(entries) = std::fs::read_dir(upper.join(rel.trim_start_matches('/'))) else {
        return false;
    };
    let mut any = false;
    for e in entries.flatten() {
        let path = format!("{rel}/{}", e.file_name().to_string_lossy());
        if skip.trees.contains(&path.as_str()) {
            continue;
        }
        let Ok(meta) = e.path().symlink_metadata() else {
            continue;
        };
        let in_lower = lowers.iter().any(|l| {
            l.join(path.trim_start_matches('/'))
                .symlink_metadata()
                .is_ok()
        });
        let kind = if in_lower {
            Change::Changed
        } else {
            Change::Added
        };
        if meta.file_type().is_char_device() && meta.rdev() == 0 {
            out.push((Change::Deleted, path));
            any = true;
        } else if meta.is_dir() {
            let changed_inside = walk(upper, &path, lowers, skip, out);
            if !in_lower || changed_inside {
                out.push((kind, path));
                any = true;
            }
        } else if !(skip.empty_files.contains(&path.as_str()) && meta.len() == 0) {
            out.push((kind, path));
            any = true;
        }
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn additions_changes_and_whiteouts_over_the_lowers() {
        let dir = tempfile::tempdir().unwrap();
        let (upper, lower) = (dir.path().join("upper"), dir.path().join("lower"));
        for d in ["a", "b", "keep"] {
            fs::create_dir_all(lower.join(d)).unwrap();
        }
        fs::write(lower.join("a/old"), "x").unwrap();
        fs::write(lower.join("gone"), "x").unwrap();
        for d in ["a", "new/deep", "proc/1", "etc", "keep"] {
            fs::create_dir_all(upper.join(d)).unwrap();
        }
        fs::write(upper.join("a/old"), "y").unwrap();
        fs::write(upper.join("new/deep/f"), "y").unwrap();
        fs::write(upper.join("proc/1/stat"), "y").unwrap();
        fs::write(upper.join("etc/hosts"), "").unwrap();
        fs::write(upper.join("etc/hostname"), "mine").unwrap();
        // A whiteout: the overlay's mark of a deletion.
        rustix::fs::mknodat(
            rustix::fs::CWD,
            upper.join("gone"),
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .expect("mknod of a whiteout (the tests run as root)");
        let skip = Skip {
            trees: &["/proc"],
            empty_files: &["/etc/hosts", "/etc/hostname"],
        };
        let listed: Vec<(char, String)> = changes(&upper, &[lower], &skip)
            .into_iter()
            .map(|(c, p)| (c.letter(), p))
            .collect();
        let want = [
            ('C', "/a"),
            ('C', "/a/old"),
            ('A', "/etc"),
            ('A', "/etc/hostname"),
            ('D', "/gone"),
            ('A', "/new"),
            ('A', "/new/deep"),
            ('A', "/new/deep/f"),
        ];
        let want: Vec<(char, String)> = want.iter().map(|(c, p)| (*c, p.to_string())).collect();
        assert_eq!(listed, want);
    }
}
