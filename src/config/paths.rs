//! Where the store and the runtime state live, and how a runtime directory in a shared place
//! such as `/tmp` is made and checked.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::storage::{expand_storage_path, storage_roots, Setting, StorageDriver};
use super::{
    config_home_for, effective_uid, env_path, home_dir, io_error, ConfigError, Env, ProcessEnv,
};

// ---------------------------------------------------------------------------
// Paths

/// Path overrides from the command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathOptions {
    /// `--root`
    pub root: Option<PathBuf>,
    /// `--runroot`
    pub runroot: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// Persistent state: images, containers, volumes.
    pub data_root: PathBuf,
    /// Runtime state that must not survive a reboot: locks, pid files.
    pub run_root: PathBuf,
    /// `$XDG_CONFIG_HOME`, or `~/.config`.
    pub config_home: PathBuf,
    pub home: PathBuf,
    /// The driver `storage.conf` asks for, if any.
    pub storage_driver: Option<StorageDriver>,
}

impl Paths {
    /// Resolves paths from the real environment and the effective uid.
    pub fn from_process(opts: &PathOptions) -> Result<Paths, ConfigError> {
        Paths::resolve(opts, &ProcessEnv, effective_uid())
    }

    pub fn resolve(opts: &PathOptions, env: &impl Env, uid: u32) -> Result<Paths, ConfigError> {
        Paths::resolve_in(opts, env, uid, Path::new("/"))
    }

    /// Like [`Paths::resolve`], with `/etc` looked up under `sysroot`.
    pub fn resolve_in(
        opts: &PathOptions,
        env: &impl Env,
        uid: u32,
        sysroot: &Path,
    ) -> Result<Paths, ConfigError> {
        let env: &dyn Env = env;
        let home = home_dir(env, uid)
            .or_else(|| (uid == 0).then(|| PathBuf::from("/root")))
            .ok_or(ConfigError::NoHome)?;
        let config_home = config_home_for(env, &home);
        let settings = storage_roots(env, uid, &config_home, sysroot)?;
        // A value is checked where it was given: a flag by its name, a file's by file and key.
        let configured = |flag: &'static str,
                          given: &Option<PathBuf>,
                          key: &str,
                          setting: Option<Setting>|
         -> Result<Option<PathBuf>, ConfigError> {
            if let Some(path) = given {
                return match unusable_root(path, flag) {
                    Some(reason) => Err(ConfigError::UnusableDirectory {
                        what: flag.to_string(),
                        path: path.clone(),
                        reason,
                    }),
                    None => Ok(Some(path.clone())),
                };
            }
            let Some(setting) = setting else {
                return Ok(None);
            };
            let path = expand_storage_path(&setting.value, env, uid, &home);
            match unusable_root(&path, flag) {
                Some(reason) => Err(ConfigError::UnusableDirectory {
                    what: format!("{} [storage] {key}", setting.file.display()),
                    path,
                    reason,
                }),
                None => Ok(Some(path)),
            }
        };
        let data_root = configured("--root", &opts.root, "graphroot", settings.graphroot)?
            .unwrap_or_else(|| default_data_root(env, uid, &home));
        let run_root = configured("--runroot", &opts.runroot, "runroot", settings.runroot)?
            .unwrap_or_else(|| default_run_root(env, uid));
        Ok(Paths {
            data_root,
            run_root,
            config_home,
            home,
            storage_driver: settings.driver,
        })
    }
}

/// Why `path` cannot hold skiff's state (`flag` says which), or `None` when it can. Relative
/// paths would change meaning with the directory a helper or monitor runs in; `/` and the
/// kernel's /proc and /sys are never a store or a runtime directory.
fn unusable_root(path: &Path, flag: &str) -> Option<String> {
    if !path.is_absolute() {
        return Some("it is not an absolute path: give one that starts with /".into());
    }
    let mut clean = PathBuf::from("/");
    for part in path.components() {
        match part {
            std::path::Component::Normal(p) => clean.push(p),
            std::path::Component::ParentDir => {
                clean.pop();
            }
            _ => {}
        }
    }
    let kind = if flag == "--runroot" {
        "runtime directory"
    } else {
        "store"
    };
    if clean == Path::new("/") {
        return Some(format!(
            "the root directory cannot be skiff's {kind}: give a directory of its own"
        ));
    }
    ["/proc", "/sys"]
        .into_iter()
        .find(|k| clean.starts_with(k))
        .map(|k| {
            format!("{k} is a kernel file system and cannot be skiff's {kind}: give a directory of your own")
        })
}

/// Run before any command reads a pid, socket or lock from the runtime directory: it must be
/// what skiff makes, a real directory (not a symbolic link) owned by `uid`, with no access for
/// others where it sits in a shared directory such as `/tmp`. A missing one is fine: it is
/// made privately when first needed ([`ensure_run_root`]). Costs an `lstat` of the directory
/// and a `stat` of each parent.
pub fn check_run_root(path: &Path, uid: u32) -> Result<(), ConfigError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return check_private_dir(path, uid),
        Err(e) => return Err(io_error(path, e)),
    };
    let problem = if meta.file_type().is_symlink() {
        Some("it is a symbolic link".to_string())
    } else if !meta.is_dir() {
        Some("it is not a directory".to_string())
    } else if meta.uid() != uid {
        Some(format!("it is owned by uid {}", meta.uid()))
    } else {
        None
    };
    match problem {
        Some(problem) => Err(ConfigError::UnsafeDirectory {
            path: path.to_path_buf(),
            reason: format!(
                "{problem}, but a runtime directory must be a directory owned by uid {uid};                  remove it, or set XDG_RUNTIME_DIR (or --runroot) to a private directory"
            ),
        }),
        None => check_private_dir(path, uid),
    }
}

fn default_data_root(env: &dyn Env, uid: u32, home: &Path) -> PathBuf {
    if uid == 0 {
        return PathBuf::from("/var/lib/skiff");
    }
    env_path(env, "XDG_DATA_HOME")
        .unwrap_or_else(|| home.join(".local/share"))
        .join("skiff")
}

fn default_run_root(env: &dyn Env, uid: u32) -> PathBuf {
    if uid == 0 {
        return PathBuf::from("/run/skiff");
    }
    runtime_dir(env, uid).map_or_else(|| tmp_run_root(uid), |dir| dir.join("skiff"))
}

/// `$XDG_RUNTIME_DIR` when it is a directory this user owns; a variable
/// inherited across `su` or `sudo` would point at someone else's.
pub(super) fn runtime_dir(env: &dyn Env, uid: u32) -> Option<PathBuf> {
    let dir = env_path(env, "XDG_RUNTIME_DIR")?;
    let meta = fs::metadata(&dir).ok()?;
    (meta.is_dir() && meta.uid() == uid).then_some(dir)
}

pub(super) fn tmp_run_root(uid: u32) -> PathBuf {
    PathBuf::from(format!("/tmp/skiff-{uid}"))
}

/// Creates the run root with mode 0700. Where a path component sits in a
/// world-writable directory such as `/tmp`, another user could have created
/// it first (or planted a symlink), so it must already be, or be made, a real
/// directory owned by `uid` with no group or other access.
pub fn ensure_run_root(path: &Path, uid: u32) -> Result<(), ConfigError> {
    ensure_private_dir(path, uid)
}

pub(super) fn ensure_private_dir(dir: &Path, uid: u32) -> Result<(), ConfigError> {
    let mut current = PathBuf::new();
    for component in dir.components() {
        current.push(component);
        let Some(parent) = parent_dir(&current) else {
            continue;
        };
        create_dir_if_missing(&current)?;
        check_component(&current, parent, uid, current == dir)?;
    }
    let meta = fs::metadata(dir).map_err(|e| io_error(dir, e))?;
    if meta.is_dir() {
        Ok(())
    } else {
        Err(io_error(dir, io::Error::other("not a directory")))
    }
}

/// The directory holding `path`, or `None` for a filesystem root.
pub(super) fn parent_dir(path: &Path) -> Option<&Path> {
    let parent = path.parent()?;
    Some(if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    })
}

fn create_dir_if_missing(path: &Path) -> Result<(), ConfigError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            match fs::DirBuilder::new().mode(0o700).create(path) {
                Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(io_error(path, e)),
                _ => Ok(()),
            }
        }
        Err(e) => Err(io_error(path, e)),
    }
}

fn is_world_writable(dir: &Path) -> bool {
    fs::metadata(dir).is_ok_and(|meta| meta.mode() & 0o002 != 0)
}

/// Only components of a shared (world-writable) directory need checking:
/// elsewhere, only their owner or root could have put them there. Such a
/// component must be our own real directory that others cannot write to;
/// the final one (the run root itself) must also be closed to reading.
fn check_component(path: &Path, parent: &Path, uid: u32, is_last: bool) -> Result<(), ConfigError> {
    if !is_world_writable(parent) {
        return Ok(());
    }
    let meta = fs::symlink_metadata(path).map_err(|e| io_error(path, e))?;
    let forbidden_mode = if is_last { 0o077 } else { 0o022 };
    let problem = if meta.file_type().is_symlink() {
        Some("it is a symbolic link".to_string())
    } else if !meta.is_dir() {
        Some("it is not a directory".to_string())
    } else if meta.uid() != uid && (is_last || meta.uid() != 0) {
        // Root's own directories in /tmp or /var/tmp are safe to pass through (the sticky bit
        // keeps others from replacing them); the run root itself must be ours.
        Some(format!("it is owned by uid {}", meta.uid()))
    } else if meta.mode() & forbidden_mode != 0 {
        Some(format!(
            "its mode {:o} gives others access",
            meta.mode() & 0o7777
        ))
    } else {
        None
    };
    let required = if is_last {
        "with mode 0700"
    } else {
        "that others cannot write to"
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(ConfigError::UnsafeDirectory {
            path: path.to_path_buf(),
            reason: format!(
                "{problem}, but it must be a directory owned by uid {uid} {required}; \
                 another user may have created it: remove it, or set XDG_RUNTIME_DIR \
                 (or --runroot) to a private directory"
            ),
        }),
    }
}

/// Checks existing components of `dir` as [`ensure_private_dir`] would,
/// without creating anything.
pub(super) fn check_private_dir(dir: &Path, uid: u32) -> Result<(), ConfigError> {
    let mut current = PathBuf::new();
    for component in dir.components() {
        current.push(component);
        let Some(parent) = parent_dir(&current) else {
            continue;
        };
        if fs::symlink_metadata(&current).is_err() {
            return Ok(());
        }
        check_component(&current, parent, uid, current == dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    // --- Paths ---

    const UID: u32 = 1000;

    fn rootless_env(home: &str) -> TestEnv {
        env_of(&[("HOME", home), ("USER", "alice")])
    }

    #[test]
    fn rootless_defaults() {
        let sys = tempfile::tempdir().unwrap();
        let env = rootless_env("/home/alice");
        let paths = Paths::resolve_in(&PathOptions::default(), &env, UID, sys.path()).unwrap();
        assert_eq!(
            paths.data_root,
            PathBuf::from("/home/alice/.local/share/skiff")
        );
        assert_eq!(paths.run_root, PathBuf::from("/tmp/skiff-1000"));
        assert_eq!(paths.config_home, PathBuf::from("/home/alice/.config"));
        assert_eq!(paths.home, PathBuf::from("/home/alice"));
    }

    #[test]
    fn xdg_variables_and_flags() {
        let sys = tempfile::tempdir().unwrap();
        let mut env = rootless_env("/home/alice");
        env.insert("XDG_DATA_HOME", "/data".into());
        env.insert("XDG_CONFIG_HOME", "/cfg".into());
        let paths = Paths::resolve_in(&PathOptions::default(), &env, UID, sys.path()).unwrap();
        assert_eq!(paths.data_root, PathBuf::from("/data/skiff"));
        assert_eq!(paths.config_home, PathBuf::from("/cfg"));
        let opts = PathOptions {
            root: Some("/r".into()),
            runroot: Some("/rr".into()),
        };
        let paths = Paths::resolve_in(&opts, &env, UID, sys.path()).unwrap();
        assert_eq!(paths.data_root, PathBuf::from("/r"));
        assert_eq!(paths.run_root, PathBuf::from("/rr"));
    }

    #[test]
    fn runtime_dir_must_be_owned_by_the_user() {
        let sys = tempfile::tempdir().unwrap();
        let runtime = tempfile::tempdir().unwrap();
        let me = effective_uid();
        let mut env = rootless_env("/home/alice");
        env.insert("XDG_RUNTIME_DIR", runtime.path().to_string_lossy().into());
        let paths = Paths::resolve_in(&PathOptions::default(), &env, me, sys.path()).unwrap();
        if me != 0 {
            assert_eq!(paths.run_root, runtime.path().join("skiff"));
        }
        let other = me.wrapping_add(1);
        let paths = Paths::resolve_in(&PathOptions::default(), &env, other, sys.path()).unwrap();
        assert_eq!(paths.run_root, PathBuf::from(format!("/tmp/skiff-{other}")));
    }

    #[test]
    fn root_defaults_and_system_storage_conf() {
        let sys = tempfile::tempdir().unwrap();
        let env = env_of(&[("HOME", "/root")]);
        let paths = Paths::resolve_in(&PathOptions::default(), &env, 0, sys.path()).unwrap();
        assert_eq!(paths.data_root, PathBuf::from("/var/lib/skiff"));
        assert_eq!(paths.run_root, PathBuf::from("/run/skiff"));

        write(
            &sys.path().join("usr/share/containers/storage.conf"),
            "[storage]\ngraphroot = \"/usr-graph\"\n",
        );
        let paths = Paths::resolve_in(&PathOptions::default(), &env, 0, sys.path()).unwrap();
        assert_eq!(
            paths.data_root,
            PathBuf::from("/var/lib/skiff"),
            "/usr/share is not read"
        );

        write(
            &sys.path().join("etc/containers/storage.conf"),
            "[storage]\ndriver = \"overlay\"\ngraphroot = \"/g\"\nrunroot = \"/rr\"\n\
             [storage.options.overlay]\nmountopt = \"nodev\"\n",
        );
        let paths = Paths::resolve_in(&PathOptions::default(), &env, 0, sys.path()).unwrap();
        assert_eq!(paths.data_root, PathBuf::from("/g"));
        assert_eq!(paths.run_root, PathBuf::from("/rr"));
    }

    #[test]
    fn rootless_ignores_system_graphroot_but_uses_rootless_storage_path() {
        let sys = tempfile::tempdir().unwrap();
        write(
            &sys.path().join("etc/containers/storage.conf"),
            "[storage]\ngraphroot = \"/var/lib/containers/storage\"\n\
             runroot = \"/run/containers/storage\"\n\
             rootless_storage_path = \"$HOME/stor/$UID/${USER}\"\n",
        );
        let env = rootless_env("/home/alice");
        let paths = Paths::resolve_in(&PathOptions::default(), &env, UID, sys.path()).unwrap();
        assert_eq!(
            paths.data_root,
            PathBuf::from("/home/alice/stor/1000/alice")
        );
        assert_eq!(paths.run_root, PathBuf::from("/tmp/skiff-1000"));
    }

    #[test]
    fn rootless_user_storage_conf_replaces_the_system_file() {
        let sys = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let home_str = home.path().to_string_lossy().into_owned();
        write(
            &sys.path().join("etc/containers/storage.conf"),
            "[storage]\nrootless_storage_path = \"/system-rootless\"\n",
        );
        let user_conf = home.path().join(".config/containers/storage.conf");
        let env = rootless_env(&home_str);
        let resolve = || Paths::resolve_in(&PathOptions::default(), &env, UID, sys.path()).unwrap();

        // A user file without either key still falls back to the system's
        // rootless_storage_path, as containers/storage does.
        write(&user_conf, "[storage]\ndriver = \"vfs\"\n");
        assert_eq!(resolve().data_root, PathBuf::from("/system-rootless"));

        write(
            &user_conf,
            "[storage]\nrootless_storage_path = \"/user-rootless\"\n",
        );
        assert_eq!(resolve().data_root, PathBuf::from("/user-rootless"));

        write(
            &user_conf,
            "[storage]\ngraphroot = \"$HOME/g\"\nrunroot = \"/run/user/$UID/r\"\n\
             rootless_storage_path = \"/ignored\"\n",
        );
        let paths = resolve();
        assert_eq!(paths.data_root, home.path().join("g"));
        assert_eq!(paths.run_root, PathBuf::from("/run/user/1000/r"));
    }

    #[test]
    fn containers_storage_conf_overrides_the_file() {
        let sys = tempfile::tempdir().unwrap();
        let other = sys.path().join("custom.conf");
        write(&other, "[storage]\ngraphroot = \"/custom\"\n");
        let mut env = rootless_env("/home/alice");
        env.insert("CONTAINERS_STORAGE_CONF", other.to_string_lossy().into());
        let paths = Paths::resolve_in(&PathOptions::default(), &env, UID, sys.path()).unwrap();
        assert_eq!(paths.data_root, PathBuf::from("/custom"));
        let paths = Paths::resolve_in(&PathOptions::default(), &env, 0, sys.path()).unwrap();
        assert_eq!(paths.data_root, PathBuf::from("/custom"));
    }

    #[test]
    fn storage_conf_syntax_errors_name_file_and_line() {
        let sys = tempfile::tempdir().unwrap();
        let conf = sys.path().join("etc/containers/storage.conf");
        write(
            &conf,
            "[storage]\ndriver = \"overlay\"\ngraphroot = /oops\n",
        );
        let env = env_of(&[("HOME", "/root")]);
        let err = Paths::resolve_in(&PathOptions::default(), &env, 0, sys.path()).unwrap_err();
        match &err {
            ConfigError::Syntax { path, line, .. } => {
                assert_eq!(path, &conf);
                assert_eq!(*line, 3);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("storage.conf: line 3"), "{err}");
    }

    #[test]
    fn no_home_is_an_error_for_rootless() {
        let sys = tempfile::tempdir().unwrap();
        let env = env_of(&[]);
        // uid 4242424 has no passwd entry anywhere sensible.
        let result = Paths::resolve_in(&PathOptions::default(), &env, 4_242_424, sys.path());
        assert!(matches!(result, Err(ConfigError::NoHome)), "{result:?}");
    }

    // --- ensure_run_root ---

    #[test]
    fn run_root_is_created_private() {
        let base = tempfile::tempdir().unwrap();
        let target = base.path().join("a/b/skiff");
        ensure_run_root(&target, effective_uid()).unwrap();
        assert_eq!(mode_of(&target), 0o700);
        assert_eq!(mode_of(&base.path().join("a")), 0o700);
        ensure_run_root(&target, effective_uid()).unwrap();
    }

    #[test]
    fn run_root_in_shared_dir_is_checked() {
        let (_base, shared) = shared_dir();
        let me = effective_uid();
        let ok = shared.join("skiff-ok");
        ensure_run_root(&ok, me).unwrap();
        assert_eq!(mode_of(&ok), 0o700);

        let open = shared.join("skiff-open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o755)).unwrap();
        let err = ensure_run_root(&open, me).unwrap_err();
        assert!(
            matches!(err, ConfigError::UnsafeDirectory { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("skiff-open"), "{err}");

        let link = shared.join("skiff-link");
        symlink(ok.as_path(), &link).unwrap();
        let err = ensure_run_root(&link, me).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");

        let file = shared.join("skiff-file");
        fs::write(&file, "").unwrap();
        assert!(ensure_run_root(&file, me).is_err());

        let err = ensure_run_root(&ok, me.wrapping_add(1)).unwrap_err();
        assert!(err.to_string().contains("owned by uid"), "{err}");
    }

    /// Resolves root's paths with `text` as the system storage.conf.
    fn with_system_conf(text: &str) -> (tempfile::TempDir, Result<Paths, ConfigError>) {
        let sys = tempfile::tempdir().unwrap();
        write(&sys.path().join("etc/containers/storage.conf"), text);
        let env = env_of(&[("HOME", "/root")]);
        let paths = Paths::resolve_in(&PathOptions::default(), &env, 0, sys.path());
        (sys, paths)
    }

    #[test]
    fn storage_conf_values_skiff_cannot_honour_are_refused() {
        for (text, want) in [
            (
                "driver = \"zfs\"",
                "driver \"zfs\" is not supported: use \"overlay\" or \"vfs\"",
            ),
            ("driver = 5", "driver must be a string, not integer 5"),
            ("graphroot = \"\"", "[storage] graphroot is empty"),
            ("runroot = \"\"", "[storage] runroot is empty"),
            ("graphroot = 7", "graphroot must be a string"),
            (
                "runroot = \"/\"",
                "the root directory cannot be skiff's runtime directory",
            ),
            ("graphroot = \"/proc/x\"", "/proc is a kernel file system"),
            ("runroot = \"relative\"", "not an absolute path"),
        ] {
            let (_sys, result) = with_system_conf(&format!("[storage]\n{text}\n"));
            let err = result.expect_err(text).to_string();
            assert!(err.contains("storage.conf"), "{text}: {err}");
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn storage_conf_drivers() {
        for (text, driver) in [
            ("", None),
            ("driver = \"\"", None),
            ("driver = \"overlay\"", Some(StorageDriver::Overlay)),
            ("driver = \"overlay2\"", Some(StorageDriver::Overlay)),
            ("driver = \"vfs\"", Some(StorageDriver::Vfs)),
        ] {
            let (_sys, result) = with_system_conf(&format!("[storage]\n{text}\n"));
            assert_eq!(result.unwrap().storage_driver, driver, "{text}");
        }
    }

    #[test]
    fn flags_that_cannot_be_a_store_or_runtime_directory() {
        let env = rootless_env("/home/alice");
        let sys = tempfile::tempdir().unwrap();
        for (root, runroot, want) in [
            (
                None,
                Some("/proc"),
                "--runroot /proc: /proc is a kernel file system",
            ),
            (None, Some("/sys/fs"), "/sys is a kernel file system"),
            (None, Some("/"), "the root directory"),
            (None, Some("run"), "not an absolute path"),
            (
                Some("/proc/../proc/1"),
                None,
                "--root /proc/../proc/1: /proc",
            ),
        ] {
            let opts = PathOptions {
                root: root.map(PathBuf::from),
                runroot: runroot.map(PathBuf::from),
            };
            let err = Paths::resolve_in(&opts, &env, UID, sys.path()).unwrap_err();
            assert!(err.to_string().contains(want), "{err}");
        }
    }

    #[test]
    fn every_command_checks_the_runtime_directory() {
        let (_base, shared) = shared_dir();
        let me = effective_uid();
        assert!(check_run_root(&shared.join("missing"), me).is_ok());
        let ok = shared.join("skiff-ok");
        ensure_run_root(&ok, me).unwrap();
        assert!(check_run_root(&ok, me).is_ok());

        let open = shared.join("skiff-open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o755)).unwrap();
        let err = check_run_root(&open, me).unwrap_err().to_string();
        assert!(err.contains("gives others access"), "{err}");

        let link = shared.join("skiff-link");
        symlink(ok.as_path(), &link).unwrap();
        let err = check_run_root(&link, me).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");

        let file = shared.join("skiff-file");
        fs::write(&file, "").unwrap();
        let err = check_run_root(&file, me).unwrap_err().to_string();
        assert!(err.contains("not a directory"), "{err}");

        // Someone else's, even outside a shared directory (--runroot /proc/1 and the like).
        let err = check_run_root(&ok, me.wrapping_add(1))
            .unwrap_err()
            .to_string();
        assert!(err.contains("owned by uid"), "{err}");
    }
}
