//! `--security-opt seccomp=FILE`: a Docker/OCI seccomp profile (JSON) compiled into a BPF
//! program with libseccomp, which resolves syscall names per architecture and orders rules the
//! way Docker's own loader does. The program is compiled by the engine when the container is
//! created (so a bad profile fails `run` with one line) and installed in the container process
//! like the default filter.
//!
//! Semantics follow moby's loader: unknown syscall names are skipped, `includes`/`excludes`
//! select entries by capability, architecture and kernel version, `errnoRet` falls back to
//! `defaultErrnoRet` and then EPERM, and several conditions on the same argument become separate
//! rules (libseccomp refuses them in one rule).

use std::io::{Read, Seek};

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<i32>,
    #[serde(default)]
    architectures: Vec<String>,
    #[serde(default)]
    arch_map: Vec<ArchMap>,
    #[serde(default)]
    syscalls: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    architecture: String,
    #[serde(default)]
    sub_architectures: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    #[serde(default)]
    names: Vec<String>,
    /// The old single-name form.
    #[serde(default)]
    name: Option<String>,
    action: String,
    #[serde(default)]
    args: Vec<Arg>,
    #[serde(default)]
    errno_ret: Option<i32>,
    #[serde(default)]
    includes: Filter,
    #[serde(default)]
    excludes: Filter,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Arg {
    index: u32,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default)]
    caps: Vec<String>,
    #[serde(default)]
    arches: Vec<String>,
    #[serde(default)]
    min_kernel: Option<String>,
}

/// The machine's architecture as profiles name it in `includes.arches` (Go's names).
fn go_arch() -> &'static str {
    if cfg!(target_arch = "aarch64") {
        "arm64"
    } else {
        "amd64"
    }
}

fn native_arch() -> &'static str {
    if cfg!(target_arch = "aarch64") {
        "SCMP_ARCH_AARCH64"
    } else {
        "SCMP_ARCH_X86_64"
    }
}

/// `(major, minor)` of a version string such as `5.8` or the running kernel's `6.1.0-13-amd64`.
fn version(s: &str) -> Option<(u32, u32)> {
    let mut parts = s.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

fn kernel_version() -> Option<(u32, u32)> {
    let uname = rustix::system::uname();
    version(&uname.release().to_string_lossy())
}

impl Rule {
    /// Whether the entry applies to a container holding the capabilities `has_cap` says.
    fn applies(&self, has_cap: &dyn Fn(&str) -> bool, kernel: Option<(u32, u32)>) -> bool {
        let inc = &self.includes;
        if !inc.caps.iter().all(|c| has_cap(c)) {
            return false;
        }
        if !inc.arches.is_empty() && !inc.arches.iter().any(|a| a == go_arch()) {
            return false;
        }
        if let (Some(min), Some(k)) = (inc.min_kernel.as_deref().and_then(version), kernel) {
            if k < min {
                return false;
            }
        }
        let exc = &self.excludes;
        if exc.caps.iter().any(|c| has_cap(c)) || exc.arches.iter().any(|a| a == go_arch()) {
            return false;
        }
        if let (Some(min), Some(k)) = (exc.min_kernel.as_deref().and_then(version), kernel) {
            if k >= min {
                return false;
            }
        }
        true
    }
}

fn action(
    name: &str,
    errno: Option<i32>,
    default_errno: Option<i32>,
) -> Result<ScmpAction, String> {
    let value = match name {
        "SCMP_ACT_ERRNO" => Some(errno.or(default_errno).unwrap_or(libc::EPERM)),
        "SCMP_ACT_TRACE" => Some(errno.or(default_errno).unwrap_or(libc::EPERM)),
        _ => None,
    };
    match name {
        "SCMP_ACT_NOTIFY" => {
            Err("the action SCMP_ACT_NOTIFY needs a listener, which skiff does not run".into())
        }
        _ => ScmpAction::from_str(name, value).map_err(|_| format!("unknown action {name:?}")),
    }
}

fn compare(arg: &Arg) -> Result<ScmpArgCompare, String> {
    let (op, datum) = match arg.op.as_str() {
        "SCMP_CMP_NE" => (ScmpCompareOp::NotEqual, arg.value),
        "SCMP_CMP_LT" => (ScmpCompareOp::Less, arg.value),
        "SCMP_CMP_LE" => (ScmpCompareOp::LessOrEqual, arg.value),
        "SCMP_CMP_EQ" => (ScmpCompareOp::Equal, arg.value),
        "SCMP_CMP_GE" => (ScmpCompareOp::GreaterEqual, arg.value),
        "SCMP_CMP_GT" => (ScmpCompareOp::Greater, arg.value),
        // `value` is the mask, `valueTwo` what the masked argument must equal.
        "SCMP_CMP_MASKED_EQ" => (ScmpCompareOp::MaskedEqual(arg.value), arg.value_two),
        other => return Err(format!("unknown comparison {other:?}")),
    };
    if arg.index > 5 {
        return Err(format!("argument index {} out of range (0-5)", arg.index));
    }
    Ok(ScmpArgCompare::new(arg.index, op, datum))
}

/// Compiles `json` (a profile's text) for a container whose capabilities `has_cap` answers for
/// (names such as `CAP_SYS_ADMIN`). Returns the BPF program as the kernel takes it.
pub fn compile(json: &[u8], has_cap: &dyn Fn(&str) -> bool) -> Result<Vec<u64>, String> {
    let profile: Profile =
        serde_json::from_slice(json).map_err(|e| format!("not a seccomp profile: {e}"))?;
    let default = action(&profile.default_action, None, profile.default_errno_ret)?;
    let mut ctx = ScmpFilterContext::new(default).map_err(|e| e.to_string())?;
    let mut arches: Vec<&str> = profile.architectures.iter().map(String::as_str).collect();
    for m in profile
        .arch_map
        .iter()
        .filter(|m| m.architecture == native_arch())
    {
        arches.push(&m.architecture);
        arches.extend(m.sub_architectures.iter().map(String::as_str));
    }
    let mut added = vec![ScmpArch::native()];
    for a in arches {
        let arch: ScmpArch = a
            .parse()
            .map_err(|_| format!("unknown architecture {a:?}"))?;
        // An architecture the kernel can't run here is no error, as in Docker.
        if ctx.add_arch(arch).is_ok() && !added.contains(&arch) {
            added.push(arch);
        }
    }
    let kernel = kernel_version();
    for rule in profile
        .syscalls
        .iter()
        .filter(|r| r.applies(has_cap, kernel))
    {
        let act = action(&rule.action, rule.errno_ret, profile.default_errno_ret)?;
        if act == default {
            continue;
        }
        let conditions = rule
            .args
            .iter()
            .map(compare)
            .collect::<Result<Vec<_>, _>>()?;
        let mut indexes: Vec<u32> = rule.args.iter().map(|a| a.index).collect();
        indexes.sort_unstable();
        let repeated = indexes.windows(2).any(|w| w[0] == w[1]);
        let names = rule.names.iter().chain(rule.name.iter());
        for name in names {
            let Ok(call) = ScmpSyscall::from_name(name) else {
                continue; // unknown here (another architecture's or a newer kernel's call)
            };
            let added = if repeated {
                conditions
                    .iter()
                    .try_for_each(|c| ctx.add_rule_conditional(act, call, &[*c]).map(|_| ()))
            } else {
                ctx.add_rule_conditional(act, call, &conditions).map(|_| ())
            };
            added.map_err(|e| format!("adding the rule for {name}: {e}"))?;
        }
    }
    let program = export(&ctx)?;
    if default == ScmpAction::Allow {
        return Ok(program);
    }
    // Calls the profile has never heard of (newer than it) answer ENOSYS, not the default
    // action, so that C libraries fall back to the older calls they replace (as runc does).
    let names: Vec<&str> = profile
        .syscalls
        .iter()
        .flat_map(|r| r.names.iter().chain(r.name.iter()))
        .map(String::as_str)
        .collect();
    let mut prefix = Vec::new();
    let newest: Vec<(u32, ArchLimit)> = added
        .iter()
        .filter_map(|arch| Some((audit_arch(*arch)?, newest_call(*arch, &names)?)))
        .collect();
    enosys_prefix(&newest, &mut prefix);
    prefix.extend(program);
    Ok(prefix)
}

/// The highest system call number a profile names on one architecture.
#[derive(Debug, Clone, Copy)]
enum ArchLimit {
    Plain(u32),
    /// x32 shares x86_64's audit value, its numbers carry bit 30.
    X32(u32),
}

const X32_SYSCALL_BIT: u32 = 0x4000_0000;

fn audit_arch(arch: ScmpArch) -> Option<u32> {
    Some(match arch {
        ScmpArch::X8664 | ScmpArch::X32 => 0xC000_003E,
        ScmpArch::X86 => 0x4000_0003,
        ScmpArch::Aarch64 => 0xC000_00B7,
        ScmpArch::Arm => 0x4000_0028,
        _ => return None,
    })
}

fn newest_call(arch: ScmpArch, names: &[&str]) -> Option<ArchLimit> {
    let max = names
        .iter()
        .filter_map(|n| ScmpSyscall::from_name_by_arch(n, arch).ok())
        .map(i32::from)
        // arm's private calls (breakpoint, cacheflush, set_tls) sit at 0xf0000 and up, far
        // above the ordinary table.
        .filter(|nr| (0..0xf0000).contains(nr) || (arch == ScmpArch::X32 && *nr >= 0))
        .max()? as u32;
    Some(if arch == ScmpArch::X32 {
        ArchLimit::X32(max)
    } else {
        ArchLimit::Plain(max)
    })
}

/// Classic BPF instructions (packed as in `export`) that return ENOSYS for a call numbered
/// above the newest one of its architecture, and otherwise fall through to what follows.
fn enosys_prefix(limits: &[(u32, ArchLimit)], out: &mut Vec<u64>) {
    const LD_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JEQ: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const JGT: u16 = 0x25; // BPF_JMP | BPF_JGT | BPF_K
    const JGE: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
    const RET: u16 = 0x06; // BPF_RET | BPF_K
    const RET_ERRNO: u32 = 0x0005_0000;
    /// Where a conditional jump goes; jumps are relative and forward, resolved at the end.
    enum To {
        Next,
        Skip(usize),
        NextBlock,
        Enosys,
        Start,
    }
    // One block per audit value: (value, newest plain call, newest x32 call).
    let mut arches: Vec<(u32, Option<u32>, Option<u32>)> = Vec::new();
    for (audit, limit) in limits {
        let i = match arches.iter().position(|(a, _, _)| a == audit) {
            Some(i) => i,
            None => {
                arches.push((*audit, None, None));
                arches.len() - 1
            }
        };
        match limit {
            ArchLimit::Plain(n) => arches[i].1 = Some(*n),
            ArchLimit::X32(n) => arches[i].2 = Some(*n),
        }
    }
    // (instruction, where it jumps when true, when false, constant, block it belongs to)
    let mut code: Vec<(u16, To, To, u32, usize)> = vec![(LD_ABS, To::Next, To::Next, 4, 0)];
    let mut block_starts = Vec::new();
    for (i, (audit, plain, x32)) in arches.iter().enumerate() {
        block_starts.push(code.len());
        code.push((JEQ, To::Next, To::NextBlock, *audit, i));
        code.push((LD_ABS, To::Next, To::Next, 0, i));
        if let Some(x32) = x32 {
            // Numbers with bit 30 are x32's, the others x86_64's.
            code.push((JGE, To::Next, To::Skip(1), X32_SYSCALL_BIT, i));
            code.push((JGT, To::Enosys, To::Start, *x32, i));
        }
        code.push((JGT, To::Enosys, To::Start, plain.unwrap_or(u32::MAX), i));
    }
    let blocks_end = code.len();
    // Past the last block (an architecture not listed): on to the program, over the return.
    code.push((JEQ, To::Skip(1), To::Skip(1), 0, usize::MAX));
    let enosys = code.len();
    code.push((
        RET,
        To::Next,
        To::Next,
        RET_ERRNO | libc::ENOSYS as u32,
        usize::MAX,
    ));
    let start = code.len();
    for (pc, (op, jt, jf, k, block)) in code.iter().enumerate() {
        let resolve = |to: &To| -> u64 {
            let target = match to {
                To::Next => pc + 1,
                To::Skip(n) => pc + 1 + n,
                To::NextBlock => block_starts.get(block + 1).copied().unwrap_or(blocks_end),
                To::Enosys => enosys,
                To::Start => start,
            };
            (target - pc - 1) as u64
        };
        let (jt, jf) = match *op {
            LD_ABS | RET => (0, 0),
            _ => (resolve(jt), resolve(jf)),
        };
        out.push(*op as u64 | jt << 16 | jf << 24 | (*k as u64) << 32);
    }
}

/// libseccomp 2.5 exports BPF only to a descriptor: use an anonymous file.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<u64>, String> {
    let fd = rustix::fs::memfd_create("seccomp", rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(|e| e.to_string())?;
    ctx.export_bpf(&fd).map_err(|e| e.to_string())?;
    let mut file = std::fs::File::from(fd);
    file.rewind().map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    Ok(bytes
        .chunks_exact(8)
        .map(|c| {
            let code = u16::from_ne_bytes([c[0], c[1]]) as u64;
            let k = u32::from_ne_bytes([c[4], c[5], c[6], c[7]]) as u64;
            code | (c[2] as u64) << 16 | (c[3] as u64) << 24 | k << 32
        })
        .collect())
}

/// The program as the kernel takes it, from `compile`'s packed form (kept packed in the spec).
pub fn unpack(packed: &[u64]) -> Vec<libc::sock_filter> {
    packed
        .iter()
        .map(|p| libc::sock_filter {
            code: *p as u16,
            jt: (*p >> 16) as u8,
            jf: (*p >> 24) as u8,
            k: (*p >> 32) as u32,
        })
        .collect()
}

/// What a filter answers for one call (tests run programs with `run_filter`).
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Allow,
    Errno(i32),
    Kill,
    Other(u32),
}

/// Runs a classic BPF seccomp program the way the kernel does, on `struct seccomp_data` for
/// call `nr` of architecture `arch` with `args`: tests check compiled filters call by call.
#[cfg(test)]
pub(super) fn run_filter(
    program: &[libc::sock_filter],
    nr: u32,
    arch: u32,
    args: [u64; 6],
) -> Verdict {
    let word = |offset: u32| -> u32 {
        match offset {
            0 => nr,
            4 => arch,
            8 | 12 => 0,
            o if (16..64).contains(&o) => {
                let arg = args[((o - 16) / 8) as usize];
                if (o - 16) % 8 == 0 {
                    arg as u32
                } else {
                    (arg >> 32) as u32
                }
            }
            o => panic!("load from offset {o}"),
        }
    };
    let (mut a, mut x, mut mem) = (0u32, 0u32, [0u32; 16]);
    let mut pc = 0usize;
    loop {
        let i = program[pc];
        pc += 1;
        let jump = |cond: bool| if cond { i.jt as usize } else { i.jf as usize };
        match i.code {
            0x20 => a = word(i.k),
            0x00 => a = i.k,
            0x01 => x = i.k,
            0x02 => mem[i.k as usize] = a,
            0x03 => mem[i.k as usize] = x,
            0x60 => a = mem[i.k as usize],
            0x61 => x = mem[i.k as usize],
            0x04 => a = a.wrapping_add(i.k),
            0x14 => a = a.wrapping_sub(i.k),
            0x44 => a |= i.k,
            0x54 => a &= i.k,
            0x07 => x = a,
            0x87 => a = x,
            0x05 => pc += i.k as usize,
            0x15 => pc += jump(a == i.k),
            0x25 => pc += jump(a > i.k),
            0x35 => pc += jump(a >= i.k),
            0x45 => pc += jump(a & i.k != 0),
            0x1d => pc += jump(a == x),
            0x2d => pc += jump(a > x),
            0x3d => pc += jump(a >= x),
            0x4d => pc += jump(a & x != 0),
            0x06 | 0x16 => {
                let ret = if i.code == 0x06 { i.k } else { a };
                return match ret & 0xffff_0000 {
                    0x7fff_0000 => Verdict::Allow,
                    0x0005_0000 => Verdict::Errno((ret & 0xffff) as i32),
                    0x0000_0000 | 0x8000_0000 => Verdict::Kill,
                    _ => Verdict::Other(ret),
                };
            }
            op => panic!("instruction {op:#x} at {}", pc - 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE: &str = r#"{
        "defaultAction": "SCMP_ACT_ALLOW",
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
                    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
        "syscalls": [
            {"names": ["mkdir", "mkdirat", "no_such_call"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
                      {"index": 0, "value": 9, "op": "SCMP_CMP_EQ"}]},
            {"names": ["reboot"], "action": "SCMP_ACT_KILL", "excludes": {"caps": ["CAP_SYS_BOOT"]}}
        ]
    }"#;

    #[test]
    fn compiles_profiles() {
        let without = compile(PROFILE.as_bytes(), &|_| false).unwrap();
        let with = compile(PROFILE.as_bytes(), &|c| c == "CAP_SYS_BOOT").unwrap();
        assert!(!without.is_empty());
        // The reboot rule is left out when the container holds CAP_SYS_BOOT.
        assert!(with.len() < without.len());
    }

    #[test]
    fn refuses_bad_profiles() {
        for (text, why) in [
            ("{", "not a seccomp profile"),
            (r#"{"defaultAction": "SCMP_ACT_NOPE"}"#, "unknown action"),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_XX"}]}]}"#,
                "unknown comparison",
            ),
        ] {
            let err = compile(text.as_bytes(), &|_| false).unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn versions() {
        assert_eq!(version("6.1.0-13-amd64"), Some((6, 1)));
        assert_eq!(version("4.8"), Some((4, 8)));
        assert_eq!(version("5"), Some((5, 0)));
    }
}
