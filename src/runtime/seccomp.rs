//! The default seccomp filter: an allow-list. `seccomp_default.json` is skiff's own profile,
//! written from the rules of Docker's default profile (see its `comment`): every call not
//! allowed there is refused with EPERM, calls newer than the profile get ENOSYS (so that C
//! libraries fall back to older ones), and capability-gated groups open with the capability
//! (mount and unshare with CAP_SYS_ADMIN, ptrace with CAP_SYS_PTRACE, …). It is compiled like
//! any `--security-opt seccomp=FILE` profile (see `seccomp_profile`), for the native
//! architecture and its 32-bit companions (x86 and x32 beside x86_64, arm beside aarch64).
//! `--privileged` and `--security-opt seccomp=unconfined` run without a filter.

/// The profile's text, built into the binary.
pub const DEFAULT_PROFILE: &[u8] = include_bytes!("seccomp_default.json");

/// The default filter for a container holding `capabilities`, as the kernel takes it (packed:
/// see `seccomp_profile::unpack`).
pub fn default_program(capabilities: &[u32]) -> Result<Vec<u64>, String> {
    let has_cap = |name: &str| {
        super::caps::capability_number(name).is_some_and(|n| capabilities.contains(&n))
    };
    super::seccomp_profile::compile(DEFAULT_PROFILE, &has_cap)
}

/// What compiles profiles here: skiff's version and libseccomp's (a cache of compiled
/// programs is only good for the same).
pub fn compiler_identity() -> String {
    let v = libseccomp::ScmpVersion::current().ok();
    format!(
        "skiff {} libseccomp {:?}",
        env!("CARGO_PKG_VERSION"),
        v.map(|v| (v.major, v.minor, v.micro))
    )
}

#[cfg(test)]
mod tests {
    use super::super::caps::{capability_number, DEFAULT_CAPS};
    use super::super::seccomp_profile::{run_filter, unpack, Verdict};
    use super::*;
    use libseccomp::{ScmpArch, ScmpSyscall};

    const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
    const AUDIT_ARCH_I386: u32 = 0x4000_0003;

    fn verdict(program: &[u64], arch: u32, scmp: ScmpArch, name: &str, args: [u64; 6]) -> Verdict {
        let nr = i32::from(ScmpSyscall::from_name_by_arch(name, scmp).unwrap());
        run_filter(&unpack(program), nr as u32, arch, args)
    }

    /// The calls the profile allows a container holding `caps` without any argument filter,
    /// read straight from the data file.
    fn allowed_names(caps: &[u32]) -> Vec<String> {
        let profile: serde_json::Value = serde_json::from_slice(DEFAULT_PROFILE).unwrap();
        let mut out = Vec::new();
        for rule in profile["syscalls"].as_array().unwrap() {
            let needs: Vec<&str> = rule["includes"]["caps"]
                .as_array()
                .map(|a| a.iter().filter_map(|c| c.as_str()).collect())
                .unwrap_or_default();
            let unless: Vec<&str> = rule["excludes"]["caps"]
                .as_array()
                .map(|a| a.iter().filter_map(|c| c.as_str()).collect())
                .unwrap_or_default();
            let holds = |c: &&str| capability_number(c).is_some_and(|n| caps.contains(&n));
            let arches_ok = rule["includes"]["arches"]
                .as_array()
                .is_none_or(|a| a.iter().any(|x| x == "amd64"));
            if rule["action"] == "SCMP_ACT_ALLOW"
                && rule["args"].as_array().is_none_or(|a| a.is_empty())
                && needs.iter().all(holds)
                && !unless.iter().any(holds)
                && arches_ok
            {
                for n in rule["names"].as_array().unwrap() {
                    out.push(n.as_str().unwrap().to_string());
                }
            }
        }
        out
    }

    #[test]
    fn the_default_filter_allows_exactly_the_profiles_list() {
        let program = default_program(DEFAULT_CAPS).unwrap();
        let allowed = allowed_names(DEFAULT_CAPS);
        let conditional = ["socket", "personality", "clone", "clone3"];
        // The newest call the profile names: only those above it may answer ENOSYS.
        let profile: serde_json::Value = serde_json::from_slice(DEFAULT_PROFILE).unwrap();
        let newest = profile["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["names"].as_array().unwrap())
            .filter_map(|n| ScmpSyscall::from_name_by_arch(n.as_str()?, ScmpArch::X8664).ok())
            .map(i32::from)
            .max()
            .unwrap();
        let mut checked = 0;
        // Every system call libseccomp knows on x86_64, by number.
        for nr in 0..600 {
            let Ok(name) = ScmpSyscall::from(nr).get_name_by_arch(ScmpArch::X8664) else {
                continue;
            };
            if conditional.contains(&name.as_str()) {
                continue;
            }
            let got = run_filter(&unpack(&program), nr as u32, AUDIT_ARCH_X86_64, [0; 6]);
            let want = if allowed.contains(&name) {
                Verdict::Allow
            } else {
                Verdict::Errno(libc::EPERM)
            };
            // Calls newer than any the profile names get ENOSYS instead of EPERM.
            if nr > newest && want == Verdict::Errno(libc::EPERM) {
                assert_eq!(got, Verdict::Errno(libc::ENOSYS), "{name} ({nr})");
                checked += 1;
                continue;
            }
            assert_eq!(got, want, "{name} ({nr})");
            checked += 1;
        }
        assert!(checked > 300, "only {checked} calls checked");
    }

    #[test]
    fn argument_filters_and_capabilities_follow_dockers_profile() {
        let x86_64 = |p: &[u64], name: &str, args: [u64; 6]| {
            verdict(p, AUDIT_ARCH_X86_64, ScmpArch::X8664, name, args)
        };
        let default = default_program(DEFAULT_CAPS).unwrap();
        let eperm = Verdict::Errno(libc::EPERM);
        for (name, args, want) in [
            ("read", [0; 6], Verdict::Allow),
            ("mount", [0; 6], eperm),
            ("unshare", [0; 6], eperm),
            ("keyctl", [0; 6], eperm),
            ("io_uring_setup", [0; 6], eperm),
            ("ptrace", [0; 6], Verdict::Allow),
            (
                "socket",
                [libc::AF_INET as u64, 0, 0, 0, 0, 0],
                Verdict::Allow,
            ),
            ("socket", [40, 0, 0, 0, 0, 0], eperm),
            ("personality", [0, 0, 0, 0, 0, 0], Verdict::Allow),
            ("personality", [0xffff_ffff, 0, 0, 0, 0, 0], Verdict::Allow),
            ("personality", [0x0040000, 0, 0, 0, 0, 0], eperm),
            (
                "clone",
                [libc::SIGCHLD as u64, 0, 0, 0, 0, 0],
                Verdict::Allow,
            ),
            ("clone", [libc::CLONE_NEWUSER as u64, 0, 0, 0, 0, 0], eperm),
            ("clone3", [0; 6], Verdict::Errno(libc::ENOSYS)),
        ] {
            assert_eq!(x86_64(&default, name, args), want, "{name} {args:?}");
        }
        let admin = capability_number("CAP_SYS_ADMIN").unwrap();
        let with_admin = default_program(&[admin]).unwrap();
        for name in ["mount", "unshare", "setns", "clone3"] {
            assert_eq!(x86_64(&with_admin, name, [0; 6]), Verdict::Allow, "{name}");
        }
        assert_eq!(x86_64(&with_admin, "keyctl", [0; 6]), eperm);
        // A call newer than the profile: ENOSYS, so that libraries fall back.
        assert_eq!(
            run_filter(&unpack(&default), 1000, AUDIT_ARCH_X86_64, [0; 6]),
            Verdict::Errno(libc::ENOSYS)
        );
    }

    #[test]
    fn the_32_bit_abi_gets_the_same_rules() {
        let default = default_program(DEFAULT_CAPS).unwrap();
        let i386 = |name: &str| verdict(&default, AUDIT_ARCH_I386, ScmpArch::X86, name, [0; 6]);
        assert_eq!(i386("read"), Verdict::Allow);
        assert_eq!(i386("getuid32"), Verdict::Allow);
        assert_eq!(i386("mount"), Verdict::Errno(libc::EPERM));
        assert_eq!(i386("keyctl"), Verdict::Errno(libc::EPERM));
        assert_eq!(
            run_filter(&unpack(&default), 2000, AUDIT_ARCH_I386, [0; 6]),
            Verdict::Errno(libc::ENOSYS)
        );
        // x32: x86_64's numbers with bit 30 set.
        let nr = i32::from(ScmpSyscall::from_name_by_arch("read", ScmpArch::X32).unwrap());
        assert_eq!(
            run_filter(&unpack(&default), nr as u32, AUDIT_ARCH_X86_64, [0; 6]),
            Verdict::Allow
        );
    }
}
