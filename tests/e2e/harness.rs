//! The end-to-end harness: runs the built skiff binary as the unprivileged test users (never as
//! root, unless a test asks for root mode) against the registries that contrib/test-env.sh starts.
//! A missing environment fails the test with the command that makes it.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

pub struct Env {
    pub registry: String,
    pub auth_registry: String,
    pub token_registry: String,
    /// Proxies in front of `registry` that misbehave (contrib/chaos-proxy.py).
    pub redirect_registry: String,
    pub flaky_registry: String,
    pub truncating_registry: String,
    /// The open registry's images over HTTPS with a self-signed certificate, by address and
    /// by a name that is not a loopback address to skiff.
    pub tls_registry: String,
    pub tls_name: String,
    pub user: String,
    pub nosub_user: String,
    pub reg_user: String,
    pub reg_pass: String,
    pub state: PathBuf,
    /// The directory holding `probe` and `probe32` (tests/probe/probe.c, built by test-env.sh),
    /// bound into containers to ask them what they can see and do.
    pub probe: PathBuf,
    /// Reference → manifest digest, as skopeo sees them.
    pub fixtures: HashMap<String, String>,
}

const STATE: &str = "/var/tmp/skiff-test";

pub fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let text = fs::read_to_string(Path::new(STATE).join("env.sh")).unwrap_or_else(|e| {
            panic!("the test environment is missing ({e}): run 'sudo contrib/test-env.sh' first")
        });
        let vars: HashMap<String, String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| {
                (
                    k.to_string(),
                    v.trim_matches('"').trim_matches('\'').to_string(),
                )
            })
            .collect();
        let var = |k: &str| {
            vars.get(k)
                .cloned()
                .unwrap_or_else(|| panic!("{k} missing in env.sh"))
        };
        let fixtures: HashMap<String, String> = serde_json::from_str(
            &fs::read_to_string(Path::new(STATE).join("fixtures.json")).expect("fixtures.json"),
        )
        .expect("fixtures.json parses");
        let env = Env {
            registry: var("SKIFF_TEST_REGISTRY"),
            auth_registry: var("SKIFF_TEST_AUTH_REGISTRY"),
            token_registry: var("SKIFF_TEST_TOKEN_REGISTRY"),
            redirect_registry: var("SKIFF_TEST_REDIRECT_REGISTRY"),
            flaky_registry: var("SKIFF_TEST_FLAKY_REGISTRY"),
            truncating_registry: var("SKIFF_TEST_TRUNCATING_REGISTRY"),
            tls_registry: var("SKIFF_TEST_TLS_REGISTRY"),
            tls_name: var("SKIFF_TEST_TLS_NAME"),
            user: var("SKIFF_TEST_USER"),
            nosub_user: var("SKIFF_TEST_NOSUB_USER"),
            reg_user: var("SKIFF_TEST_REG_USER"),
            reg_pass: var("SKIFF_TEST_REG_PASS"),
            state: PathBuf::from(var("SKIFF_TEST_STATE")),
            probe: PathBuf::from(var("SKIFF_TEST_PROBE")),
            fixtures,
        };
        let probe = format!("http://{}/v2/", env.registry);
        let up = Command::new("curl")
            .args(["-sf", "-o", "/dev/null", &probe])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            up,
            "the test registry at {probe} does not answer: run contrib/test-env.sh"
        );
        env
    })
}

/// The binary under test, copied where the test users can run it (the checkout may be private).
pub fn skiff_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = env().state.join("bin");
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let dest = dir.join(format!("skiff-{}", std::process::id()));
        let tmp = dir.join(format!(".skiff-{}", std::process::id()));
        fs::copy(env!("CARGO_BIN_EXE_skiff"), &tmp).unwrap();
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).unwrap();
        fs::rename(&tmp, &dest).unwrap();
        dest
    })
}

#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl User {
    pub fn named(name: &str) -> User {
        let passwd = fs::read_to_string("/etc/passwd").unwrap();
        let line = passwd
            .lines()
            .find(|l| l.split(':').next() == Some(name))
            .unwrap_or_else(|| panic!("user {name} does not exist: run contrib/test-env.sh"));
        let f: Vec<&str> = line.split(':').collect();
        User {
            name: name.to_string(),
            uid: f[2].parse().unwrap(),
            gid: f[3].parse().unwrap(),
        }
    }

    pub fn root() -> User {
        User {
            name: "root".into(),
            uid: 0,
            gid: 0,
        }
    }

    /// The first host id of the user's subordinate uid range.
    pub fn subuid_start(&self) -> u32 {
        let text = fs::read_to_string("/etc/subuid").unwrap();
        text.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() == 3 && (f[0] == self.name || f[0] == self.uid.to_string()))
                    .then(|| f[1].parse().unwrap())
            })
            .next()
            .expect("the test user has a subuid range")
    }
}

/// One command's result.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn ok(&self) -> &Out {
        assert_eq!(self.code, 0, "expected success:\n{self:?}");
        self
    }
}

/// A private HOME, data root and runtime dir for one test, owned by the user who runs skiff.
pub struct Sandbox {
    pub user: User,
    pub dir: PathBuf,
    pub env: Vec<(String, String)>,
    /// Flags put before every command (root's store would otherwise be /var/lib/skiff).
    pub global: Vec<String>,
    /// The skiff binary to run instead of the suite's copy (a user's own copy of it).
    pub binary: Option<PathBuf>,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl Sandbox {
    pub fn new(user: User) -> Sandbox {
        let base = env().state.join("work");
        fs::create_dir_all(&base).unwrap();
        fs::set_permissions(&base, fs::Permissions::from_mode(0o755)).unwrap();
        let dir = base.join(format!(
            "{}-{}-{}",
            user.name,
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        for sub in ["", "home", "run"] {
            let p = dir.join(sub);
            fs::create_dir_all(&p).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(0o700)).unwrap();
            std::os::unix::fs::chown(&p, Some(user.uid), Some(user.gid)).unwrap();
        }
        let env = vec![
            ("HOME".into(), dir.join("home").display().to_string()),
            (
                "XDG_RUNTIME_DIR".into(),
                dir.join("run").display().to_string(),
            ),
        ];
        let global = if user.uid == 0 {
            vec![
                "--root".into(),
                dir.join("home/.local/share/skiff").display().to_string(),
                "--runroot".into(),
                dir.join("run/skiff").display().to_string(),
            ]
        } else {
            Vec::new()
        };
        Sandbox {
            user,
            dir,
            env,
            global,
            binary: None,
        }
    }

    pub fn user() -> Sandbox {
        Sandbox::new(User::named(&env().user))
    }

    pub fn nosub() -> Sandbox {
        Sandbox::new(User::named(&env().nosub_user))
    }

    /// Where the store lands by default: $HOME/.local/share/skiff.
    pub fn root(&self) -> PathBuf {
        self.dir.join("home/.local/share/skiff")
    }

    pub fn home(&self) -> PathBuf {
        self.dir.join("home")
    }

    pub fn set_env(&mut self, key: &str, value: Option<&str>) {
        self.env.retain(|(k, _)| k != key);
        if let Some(v) = value {
            self.env.push((key.into(), v.into()));
        }
    }

    /// Writes a file under HOME as the user would have it.
    pub fn write_home_file(&self, rel: &str, text: &str) {
        let path = self.home().join(rel);
        let mut created = Vec::new();
        let mut p = path.parent().unwrap().to_path_buf();
        while !p.exists() {
            created.push(p.clone());
            p = p.parent().unwrap().to_path_buf();
        }
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        for d in created {
            std::os::unix::fs::chown(&d, Some(self.user.uid), Some(self.user.gid)).unwrap();
        }
        fs::write(&path, text).unwrap();
        std::os::unix::fs::chown(&path, Some(self.user.uid), Some(self.user.gid)).unwrap();
    }

    pub fn command(&self, args: &[String]) -> Command {
        let mut cmd = Command::new(self.binary.as_deref().unwrap_or(skiff_bin()));
        cmd.args(&self.global)
            .args(args)
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("LANG", "C.UTF-8")
            .current_dir(&self.dir)
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if self.user.uid != 0 {
            cmd.uid(self.user.uid).gid(self.user.gid);
        }
        cmd
    }

    /// Runs skiff with already split arguments.
    pub fn run_args(&self, args: &[String]) -> Out {
        let out = self.command(args).output().expect("running skiff");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Splits LINE like a shell would (quotes, no expansion) after `$REG`, `$AUTH`, `$TOKEN`,
    /// `$REDIRECT`, `$FLAKY`, `$TRUNC`, `$TLSREG` and `$TLSNAME` are replaced by the
    /// registries' addresses.
    pub fn args(&self, line: &str) -> Vec<String> {
        let e = env();
        let line = line
            .replace("$REG", &e.registry)
            .replace("$AUTH", &e.auth_registry)
            .replace("$TOKEN", &e.token_registry)
            .replace("$REDIRECT", &e.redirect_registry)
            .replace("$FLAKY", &e.flaky_registry)
            .replace("$TRUNC", &e.truncating_registry)
            .replace("$TLSREG", &e.tls_registry)
            .replace("$TLSNAME", &e.tls_name)
            .replace("$USER", &e.reg_user)
            .replace("$PASS", &e.reg_pass);
        split(&line)
    }

    /// Runs `skiff LINE` (see `args`) to the end.
    pub fn run(&self, line: &str) -> Out {
        self.run_args(&self.args(line))
    }

    /// Polls `skiff LINE` until its output (stdout and stderr) contains `want`: a detached
    /// container works on its own time. Fails after 10 s; returns the output that matched.
    pub fn eventually(&self, line: &str, want: &str) -> String {
        let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let out = self.run(line);
            let all = format!("{}{}", out.stdout, out.stderr);
            if all.contains(want) {
                return all;
            }
            assert!(
                std::time::Instant::now() < end,
                "`skiff {line}` never showed {want:?}: {all}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Runs the shell line `shell_line` as the user on a terminal of its own (script(1)):
    /// for each step, types its input, then waits for its marker (an empty one waits for
    /// nothing); then reads to the end. Everything the terminal showed.
    pub fn on_terminal(&self, shell_line: &str, steps: &[(&[u8], &str)]) -> String {
        use std::io::{Read, Write};
        let base = self.command(&[]);
        let mut child = Command::new("script")
            .args(["-qec", shell_line, "/dev/null"])
            .env_clear()
            .envs(
                base.get_envs()
                    .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))),
            )
            .uid(self.user.uid)
            .gid(self.user.gid)
            .current_dir(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting script");
        let mut stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = child.stdout.take().expect("piped stdout");
        let mut seen = Vec::new();
        let mut buf = [0u8; 1024];
        for (input, marker) in steps {
            stdin.write_all(input).unwrap();
            while !String::from_utf8_lossy(&seen).contains(marker) {
                match stdout.read(&mut buf) {
                    Ok(n @ 1..) => seen.extend_from_slice(&buf[..n]),
                    _ => break,
                }
            }
        }
        stdout.read_to_end(&mut seen).unwrap();
        child.wait().unwrap();
        // Open until the end: a closed terminal input would end the session early.
        drop(stdin);
        String::from_utf8_lossy(&seen).into_owned()
    }

    /// Runs `skiff LINE` (see `args`) with `input` on its stdin, then the end of it.
    pub fn run_with_input(&self, line: &str, input: &[u8]) -> Out {
        let mut child = self
            .command(&self.args(line))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting skiff");
        let mut stdin = child.stdin.take().expect("piped stdin");
        let input = input.to_vec();
        // A thread, so that a command that reads nothing doesn't block the test.
        let writer = std::thread::spawn(move || {
            let _ = std::io::Write::write_all(&mut stdin, &input);
        });
        let out = child.wait_with_output().expect("waiting for skiff");
        let _ = writer.join();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Starts `skiff LINE` (see `args`) with its stdout piped, and reads that until `marker`
    /// shows (an empty marker waits for nothing).
    pub fn spawn_until(&self, line: &str, marker: &str) -> std::process::Child {
        let mut child = self
            .command(&self.args(line))
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting skiff");
        let mut seen = Vec::new();
        let stdout = child.stdout.as_mut().expect("piped stdout");
        while !String::from_utf8_lossy(&seen).contains(marker) {
            let mut byte = [0u8; 1];
            match std::io::Read::read(stdout, &mut byte) {
                Ok(1) => seen.push(byte[0]),
                _ => panic!("skiff ended before printing {marker:?}: {seen:?}"),
            }
        }
        child
    }

    /// One row of a behaviour table: the command, its exit status, and text its output contains
    /// (stdout and stderr together; empty means no check).
    pub fn check(&self, line: &str, code: i32, expect: &str) -> Out {
        let out = self.run(line);
        assert_eq!(out.code, code, "`skiff {line}` exit status\n{out:#?}");
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(
            all.contains(expect),
            "`skiff {line}` output lacks {expect:?}\n{out:#?}"
        );
        if (125..=127).contains(&code) {
            // Errors of skiff's own are one line.
            let lines: Vec<&str> = out
                .stderr
                .lines()
                .filter(|l| l.starts_with("Error"))
                .collect();
            assert_eq!(
                lines.len(),
                1,
                "`skiff {line}`: one error line expected\n{out:#?}"
            );
        }
        out
    }

    /// The diff directory of the layer holding `rel` (searching from the top layer of an image).
    pub fn find_in_layers(&self, rel: &str) -> Vec<PathBuf> {
        let layers = self.root().join("layers");
        let mut out = Vec::new();
        if let Ok(entries) = fs::read_dir(&layers) {
            for e in entries.flatten() {
                let p = e.path().join("diff").join(rel);
                if fs::symlink_metadata(&p).is_ok() {
                    out.push(p);
                }
            }
        }
        out
    }

    /// Everything under the store's `tmp/`: must be empty after any finished command.
    pub fn temp_entries(&self) -> Vec<String> {
        fs::read_dir(self.root().join("tmp"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // A test that failed halfway may leave containers running: their monitors would
        // outlive the sandbox. Only then (a container's runtime directory is left) a
        // `rm -af` ends them.
        let runs = self.dir.join("run/skiff/containers");
        if fs::read_dir(&runs).is_ok_and(|mut d| d.next().is_some()) {
            let ids = self.run_args(&["ps".into(), "-aq".into()]).stdout;
            let mut args = vec!["rm".to_string(), "-f".to_string()];
            args.extend(ids.split_whitespace().map(String::from));
            if args.len() > 2 {
                let _ = self.run_args(&args);
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Owner uid of a path, not following links.
pub fn owner(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().uid()
}

/// Splits a command line: whitespace separates, single and double quotes group.
pub fn split(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}
