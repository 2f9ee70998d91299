//! Subordinate id ranges from `/etc/subuid` and `/etc/subgid`.

use std::path::Path;

use super::{read_optional, ConfigError};

// ---------------------------------------------------------------------------
// subuid / subgid

/// A range of subordinate ids: `start`, `start + 1`, … `start + count - 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IdRange {
    pub start: u32,
    pub count: u32,
}

/// The ranges in an `/etc/subuid`-style file that belong to the user, named
/// either by login name or by numeric uid. Malformed lines are skipped.
pub fn subid_ranges(file_contents: &str, user_name: &str, uid: u32) -> Vec<IdRange> {
    let uid_text = uid.to_string();
    file_contents
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(parse_subid_line)
        .filter(|(owner, _)| (!user_name.is_empty() && *owner == user_name) || *owner == uid_text)
        .map(|(_, range)| range)
        .collect()
}

fn parse_subid_line(line: &str) -> Option<(&str, IdRange)> {
    let mut fields = line.split(':');
    let owner = fields.next()?.trim();
    let start: u32 = fields.next()?.trim().parse().ok()?;
    let count: u32 = fields.next()?.trim().parse().ok()?;
    let fits = u64::from(start) + u64::from(count) <= 1 << 32;
    (fields.next().is_none() && !owner.is_empty() && count > 0 && fits)
        .then_some((owner, IdRange { start, count }))
}

/// Subordinate uids from `/etc/subuid`; a missing file means none.
pub fn read_subuids(user_name: &str, uid: u32) -> Result<Vec<IdRange>, ConfigError> {
    read_subids(Path::new("/etc/subuid"), user_name, uid)
}

/// Subordinate gids from `/etc/subgid`, which is keyed by user, not group.
pub fn read_subgids(user_name: &str, uid: u32) -> Result<Vec<IdRange>, ConfigError> {
    read_subids(Path::new("/etc/subgid"), user_name, uid)
}

fn read_subids(path: &Path, user_name: &str, uid: u32) -> Result<Vec<IdRange>, ConfigError> {
    Ok(read_optional(path)?
        .map(|text| subid_ranges(&text, user_name, uid))
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::*;

    // --- subuid / subgid ---

    #[test]
    fn subid_parsing() {
        let file = "# comment\n\
                    alice:100000:65536\n\
                    \n\
                    1000:200000:1000\n\
                    bob:300000:65536\n\
                    alice:bad:1\n\
                    alice:1:0\n\
                    alice:4294967295:2\n\
                    alice:1:2:3\n\
                    :5:5\n\
                      alice : 400000 : 10 \n";
        assert_eq!(
            subid_ranges(file, "alice", 1000),
            [
                IdRange {
                    start: 100000,
                    count: 65536
                },
                IdRange {
                    start: 200000,
                    count: 1000
                },
                IdRange {
                    start: 400000,
                    count: 10
                },
            ]
        );
        assert_eq!(
            subid_ranges(file, "bob", 1001),
            [IdRange {
                start: 300000,
                count: 65536
            }]
        );
        assert!(subid_ranges(file, "", 5).is_empty());
        assert_eq!(
            subid_ranges("x:4294967295:1\n", "x", 1),
            [IdRange {
                start: u32::MAX,
                count: 1
            }]
        );
    }

    #[test]
    fn missing_subid_file_means_no_ranges() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_subids(&dir.path().join("subuid"), "a", 1)
            .unwrap()
            .is_empty());
        write(&dir.path().join("subgid"), "a:10:5\n");
        assert_eq!(
            read_subids(&dir.path().join("subgid"), "a", 1).unwrap(),
            [IdRange {
                start: 10,
                count: 5
            }]
        );
    }
}
