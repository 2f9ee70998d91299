//! Docker's rules for the values of `run` and `create`, checked before anything is pulled or
//! created: a value skiff cannot honour is refused with the flag and the fix, never carried on
//! as if it had been understood.

use std::path::{Component, Path, PathBuf};

use crate::runtime::container::MountSpec;
use crate::Error;

/// The longest container name. Docker documents no maximum; this one keeps a name usable as a
/// file name (NAME_MAX), the tightest place skiff or a tool may have to put it.
pub const MAX_NAME_LEN: usize = 255;

/// `-e NAME=VALUE` and `--env-file` lines: an entry needs a name (Docker's "invalid
/// environment variable"); `flag` says where the entry came from.
pub fn check_env(entries: &[String], flag: &str) -> Result<(), Error> {
    for entry in entries {
        let name = entry.split('=').next().unwrap_or("");
        if name.is_empty() {
            return Err(Error::Invalid(format!(
                "invalid environment variable {entry:?} ({flag}): the name before '=' is empty; \
                 use NAME=VALUE"
            )));
        }
    }
    Ok(())
}

/// `-w`: Docker refuses a relative working directory rather than guess what it is relative to.
pub fn check_workdir(workdir: &str) -> Result<(), Error> {
    if workdir.is_empty() || workdir.starts_with('/') {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "the working directory '{workdir}' is invalid (-w), it needs to be an absolute path"
    )))
}

/// `--cpus`: Docker's range, 0.01 up to the CPUs this process may run on (0 means no limit).
/// Infinity and NaN parse as numbers but are none.
pub fn check_cpus(cpus: f64, available: usize) -> Result<(), Error> {
    if cpus == 0.0 {
        return Ok(());
    }
    if !cpus.is_finite() || !(0.01..=available as f64).contains(&cpus) {
        return Err(Error::Invalid(format!(
            "invalid --cpus {cpus}: the range of CPUs is from 0.01 to {available}.00, as there \
             are only {available} CPUs available"
        )));
    }
    Ok(())
}

/// `--name`: Docker's characters, and a length skiff can keep.
pub fn check_name(name: &str) -> Result<(), Error> {
    if name.len() > MAX_NAME_LEN {
        return Err(Error::Invalid(format!(
            "invalid container name ({}… is {} characters long): use at most {MAX_NAME_LEN}",
            &name[..name.char_indices().nth(16).map_or(name.len(), |(i, _)| i)],
            name.len()
        )));
    }
    super::record::check_name(name)
}

/// The kernel's limit on a host name (HOST_NAME_MAX).
const MAX_HOSTNAME_LEN: usize = 64;

/// `-h`: a name the kernel will take, known before the container exists rather than when its
/// `sethostname` fails.
pub fn check_hostname(hostname: &str) -> Result<(), Error> {
    if hostname.len() > MAX_HOSTNAME_LEN {
        return Err(Error::Invalid(format!(
            "invalid hostname (-h) of {} characters: the kernel takes at most {MAX_HOSTNAME_LEN}",
            hostname.len()
        )));
    }
    Ok(())
}

/// `--label KEY=VALUE`: Docker refuses a label whose name is empty.
pub fn check_labels(labels: &[String]) -> Result<(), Error> {
    for label in labels {
        let name = label.split('=').next().unwrap_or("");
        if name.trim().is_empty() {
            return Err(Error::Invalid(format!(
                "invalid label {label:?} (--label): empty name; use KEY=VALUE"
            )));
        }
    }
    Ok(())
}

/// A mount's target as the kernel will resolve it: absolute, `.` and `..` folded, no trailing
/// slash. Two spellings of one place are one target.
pub fn clean_target(target: &str) -> PathBuf {
    let mut clean = PathBuf::from("/");
    for part in Path::new(target).components() {
        match part {
            Component::Normal(p) => clean.push(p),
            Component::ParentDir => {
                clean.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    clean
}

/// One mount target: absolute, not `/`, and not on the container's /proc or /sys, which skiff
/// mounts itself and which runc refuses too (a mount there would hide the kernel's view or be
/// hidden by it).
pub fn check_target(target: &str, spec: &str) -> Result<(), Error> {
    let clean = clean_target(target);
    if !target.starts_with('/') || clean == Path::new("/") {
        return Err(Error::Invalid(format!(
            "invalid mount target in {spec:?}: must be an absolute path other than /"
        )));
    }
    if let Some(kernel) = ["/proc", "/sys"].into_iter().find(|k| clean.starts_with(k)) {
        return Err(Error::Invalid(format!(
            "invalid mount target {} in {spec:?}: {kernel} is the container's own kernel file \
             system and cannot be mounted over; choose another target",
            clean.display()
        )));
    }
    Ok(())
}

/// `-v`, `--mount` and `--tmpfs` together: one mount per target, as Docker ("Duplicate mount
/// point"), since a second mount on the same place silently hides the first.
pub fn check_duplicate_targets(mounts: &[MountSpec]) -> Result<(), Error> {
    let mut seen: Vec<PathBuf> = Vec::with_capacity(mounts.len());
    for mount in mounts {
        let clean = clean_target(&mount.target);
        if seen.contains(&clean) {
            return Err(Error::Invalid(format!(
                "duplicate mount point: {} is the target of more than one -v, --mount or \
                 --tmpfs; give each target once",
                clean.display()
            )));
        }
        seen.push(clean);
    }
    Ok(())
}

/// The default detach keys, Docker's.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// Docker's detach key syntax: keys separated by commas, each a single character or `ctrl-`
/// (any case) and one of `a`-`z`, `@`, `[`, `\`, `]`, `^`, `_`. An empty string means the
/// default, as in Docker.
pub fn parse_detach_keys(spec: &str) -> Result<Vec<u8>, Error> {
    let bad = || {
        Error::Invalid(format!(
            "invalid detach keys {spec:?}: give keys separated by commas, each a character \
             or ctrl-<a-z, @, [, \\, ], ^, _> (e.g. ctrl-p,ctrl-q)"
        ))
    };
    if spec.is_empty() {
        return parse_detach_keys(DEFAULT_DETACH_KEYS);
    }
    spec.split(',')
        .map(|key| {
            let key = key.trim();
            let ctrl = key
                .get(..5)
                .filter(|p| p.eq_ignore_ascii_case("ctrl-"))
                .map(|_| key[5..].to_ascii_lowercase());
            (key, ctrl)
        })
        .map(|(key, ctrl)| match ctrl.as_deref() {
            Some(k) if k.len() == 1 => match k.as_bytes()[0] {
                c @ b'a'..=b'z' => Ok(c - b'a' + 1),
                c @ (b'@' | b'[' | b'\\' | b']' | b'^' | b'_') => Ok(c - b'@'),
                _ => Err(bad()),
            },
            Some(_) => Err(bad()),
            None if key.len() == 1 => Ok(key.as_bytes()[0]),
            None => Err(bad()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_as_docker_writes_them() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), vec![16, 17]);
        assert_eq!(
            parse_detach_keys("a,ctrl-@,ctrl-[").unwrap(),
            vec![b'a', 0, 27]
        );
        assert_eq!(parse_detach_keys("ctrl-\\,ctrl-_").unwrap(), vec![28, 31]);
        assert_eq!(
            parse_detach_keys("").unwrap(),
            vec![16, 17],
            "Docker's default"
        );
        assert_eq!(parse_detach_keys("CTRL-P, Ctrl-q").unwrap(), vec![16, 17]);
        assert!(parse_detach_keys("ctrl-").is_err());
        assert!(parse_detach_keys("ctrl-1").is_err());
        assert!(parse_detach_keys("ab").is_err());
    }
    use crate::runtime::container::MountKind;

    fn tmpfs(target: &str) -> MountSpec {
        MountSpec {
            kind: MountKind::Tmpfs,
            source: None,
            target: target.into(),
            readonly: false,
            options: String::new(),
        }
    }

    #[test]
    fn environment_entries_need_a_name() {
        let ok = ["A=1".to_string(), "B".into(), "C=".into(), "D==x".into()];
        assert!(check_env(&ok, "-e").is_ok());
        let err = check_env(&["=x".into()], "-e").unwrap_err().to_string();
        assert!(
            err.contains("\"=x\" (-e)") && err.contains("NAME=VALUE"),
            "{err}"
        );
        assert!(check_env(&["".into()], "-e").is_err());
    }

    #[test]
    fn working_directory_is_absolute() {
        assert!(check_workdir("/srv").is_ok());
        assert!(check_workdir("").is_ok());
        let err = check_workdir("relative").unwrap_err().to_string();
        assert!(err.contains("needs to be an absolute path"), "{err}");
    }

    #[test]
    fn cpus_in_docker_range() {
        assert!(check_cpus(0.0, 2).is_ok());
        assert!(check_cpus(0.01, 2).is_ok());
        assert!(check_cpus(2.0, 2).is_ok());
        for bad in [f64::INFINITY, f64::NAN, 0.001, 2.5, -1.0] {
            assert!(check_cpus(bad, 2).is_err(), "{bad}");
        }
        let err = check_cpus("1e309".parse().unwrap(), 4).unwrap_err();
        assert!(err.to_string().contains("from 0.01 to 4.00"), "{err}");
    }

    #[test]
    fn names_follow_docker_and_fit() {
        assert!(check_name("web.1_a-b").is_ok());
        assert!(check_name(&"a".repeat(MAX_NAME_LEN)).is_ok());
        let err = check_name(&"a".repeat(MAX_NAME_LEN + 1)).unwrap_err();
        assert!(err.to_string().contains("256 characters long"), "{err}");
        for bad in ["a", "-ab", "a/b", "a b", "é1"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hostnames_and_labels() {
        assert!(check_hostname(&"h".repeat(64)).is_ok());
        let err = check_hostname(&"h".repeat(65)).unwrap_err().to_string();
        assert!(err.contains("65 characters"), "{err}");
        assert!(check_labels(&["a=1".into(), "b".into(), "c=".into()]).is_ok());
        for bad in ["=x", "", " =x"] {
            assert!(check_labels(&[bad.to_string()]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn targets_are_cleaned_and_kept_off_proc_and_sys() {
        assert_eq!(clean_target("/a/./b/../c/"), Path::new("/a/c"));
        assert_eq!(clean_target("//x"), Path::new("/x"));
        assert!(check_target("/data", "s").is_ok());
        assert!(check_target("/process", "s").is_ok());
        assert!(check_target("/system", "s").is_ok());
        for bad in [
            "/proc",
            "/proc/sys",
            "/sys",
            "/sys/fs/cgroup",
            "/x/../proc",
            "//sys/",
        ] {
            let err = check_target(bad, "s").unwrap_err().to_string();
            assert!(err.contains("kernel file system"), "{bad}: {err}");
        }
        for bad in ["rel", "/", "/.."] {
            assert!(check_target(bad, "s").is_err(), "{bad}");
        }
    }

    #[test]
    fn one_mount_per_target() {
        assert!(check_duplicate_targets(&[tmpfs("/a"), tmpfs("/b")]).is_ok());
        let err = check_duplicate_targets(&[tmpfs("/a"), tmpfs("/b"), tmpfs("/a/")]).unwrap_err();
        assert!(
            err.to_string().contains("duplicate mount point: /a"),
            "{err}"
        );
    }
}
