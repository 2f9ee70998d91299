//! The default seccomp filter: what Docker's default profile refuses to an unprivileged
//! container, as a deny list (everything else allowed). A call is refused with EPERM unless the
//! container holds the capability that the profile lets it through with (CAP_SYS_ADMIN for
//! mount and unshare, CAP_SYS_PTRACE for ptrace, …). clone3 gets ENOSYS so that C libraries
//! fall back to clone, whose namespace flags can be checked. `--privileged` and
//! `--security-opt seccomp=unconfined` run without a filter.
//!
//! Built with seccompiler (pure Rust BPF generation); installed here with seccomp(2) directly
//! because seccompiler's own installer also sets no_new_privs, which Docker does not do by
//! default (setuid programs inside the container keep working).

use std::collections::BTreeMap;
use std::io;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

const CAP_DAC_READ_SEARCH: u32 = 2;
const CAP_SYS_MODULE: u32 = 16;
const CAP_SYS_RAWIO: u32 = 17;
const CAP_SYS_PTRACE: u32 = 19;
const CAP_SYS_PACCT: u32 = 20;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_SYS_BOOT: u32 = 22;
const CAP_SYS_NICE: u32 = 23;
const CAP_SYS_TIME: u32 = 25;
const CAP_SYSLOG: u32 = 34;
/// No capability unlocks these.
const NEVER: u32 = u32::MAX;

/// (system call, capability that makes it allowed).
fn denied() -> Vec<(i64, u32)> {
    let mut list = vec![
        (libc::SYS_acct, CAP_SYS_PACCT),
        (libc::SYS_add_key, NEVER),
        (libc::SYS_bpf, CAP_SYS_ADMIN),
        (libc::SYS_clock_adjtime, CAP_SYS_TIME),
        (libc::SYS_clock_settime, CAP_SYS_TIME),
        (libc::SYS_delete_module, CAP_SYS_MODULE),
        (libc::SYS_finit_module, CAP_SYS_MODULE),
        (libc::SYS_fsconfig, CAP_SYS_ADMIN),
        (libc::SYS_fsmount, CAP_SYS_ADMIN),
        (libc::SYS_fsopen, CAP_SYS_ADMIN),
        (libc::SYS_fspick, CAP_SYS_ADMIN),
        (libc::SYS_get_mempolicy, CAP_SYS_NICE),
        (libc::SYS_init_module, CAP_SYS_MODULE),
        (libc::SYS_kcmp, CAP_SYS_PTRACE),
        (libc::SYS_kexec_file_load, CAP_SYS_BOOT),
        (libc::SYS_kexec_load, CAP_SYS_BOOT),
        (libc::SYS_keyctl, NEVER),
        (libc::SYS_lookup_dcookie, CAP_SYS_ADMIN),
        (libc::SYS_mbind, CAP_SYS_NICE),
        (libc::SYS_mount, CAP_SYS_ADMIN),
        (libc::SYS_move_mount, CAP_SYS_ADMIN),
        (libc::SYS_move_pages, CAP_SYS_NICE),
        (libc::SYS_name_to_handle_at, CAP_SYS_ADMIN),
        (libc::SYS_open_by_handle_at, CAP_DAC_READ_SEARCH),
        (libc::SYS_open_tree, CAP_SYS_ADMIN),
        (libc::SYS_perf_event_open, CAP_SYS_ADMIN),
        (libc::SYS_pivot_root, CAP_SYS_ADMIN),
        (libc::SYS_process_vm_readv, CAP_SYS_PTRACE),
        (libc::SYS_process_vm_writev, CAP_SYS_PTRACE),
        (libc::SYS_quotactl, CAP_SYS_ADMIN),
        (libc::SYS_reboot, CAP_SYS_BOOT),
        (libc::SYS_request_key, NEVER),
        (libc::SYS_set_mempolicy, CAP_SYS_NICE),
        (libc::SYS_setns, CAP_SYS_ADMIN),
        (libc::SYS_settimeofday, CAP_SYS_TIME),
        (libc::SYS_swapoff, CAP_SYS_ADMIN),
        (libc::SYS_swapon, CAP_SYS_ADMIN),
        (libc::SYS_syslog, CAP_SYSLOG),
        (libc::SYS_umount2, CAP_SYS_ADMIN),
        (libc::SYS_unshare, CAP_SYS_ADMIN),
        (libc::SYS_userfaultfd, NEVER),
        (libc::SYS_vhangup, CAP_SYS_ADMIN),
    ];
    #[cfg(target_arch = "x86_64")]
    list.extend([
        (libc::SYS_ioperm, CAP_SYS_RAWIO),
        (libc::SYS_iopl, CAP_SYS_RAWIO),
        (libc::SYS_nfsservctl, NEVER),
        (libc::SYS__sysctl, NEVER),
        (libc::SYS_sysfs, NEVER),
        (libc::SYS_uselib, NEVER),
        (libc::SYS_ustat, NEVER),
    ]);
    list
}

/// Namespace flags clone may not be given without CAP_SYS_ADMIN.
const CLONE_NAMESPACES: [i32; 7] = [
    libc::CLONE_NEWNS,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWCGROUP,
];

fn bad(e: seccompiler::BackendError) -> io::Error {
    io::Error::other(e.to_string())
}

fn arch() -> TargetArch {
    if cfg!(target_arch = "aarch64") {
        TargetArch::aarch64
    } else {
        TargetArch::x86_64
    }
}

/// The default filters for a container holding `capabilities`, to be installed in order.
pub fn default_filters(capabilities: &[u32]) -> io::Result<Vec<BpfProgram>> {
    let mut refused: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for (call, cap) in denied() {
        if cap == NEVER || !capabilities.contains(&cap) {
            refused.insert(call, Vec::new());
        }
    }
    if !capabilities.contains(&CAP_SYS_ADMIN) {
        // clone(flags, …): refused when any namespace flag is set (flags are the first
        // argument on x86_64 and aarch64). Rules are alternatives: one per flag.
        let rules = CLONE_NAMESPACES
            .iter()
            .map(|flag| {
                let flag = *flag as u64;
                SeccompCondition::new(
                    0,
                    SeccompCmpArgLen::Qword,
                    SeccompCmpOp::MaskedEq(flag),
                    flag,
                )
                .and_then(|c| SeccompRule::new(vec![c]))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        refused.insert(libc::SYS_clone, rules);
    }
    let eperm = SeccompFilter::new(
        refused,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch(),
    )
    .map_err(bad)?;
    let mut filters: Vec<BpfProgram> = vec![eperm.try_into().map_err(bad)?];
    if !capabilities.contains(&CAP_SYS_ADMIN) {
        // clone3 keeps its flags in memory, out of a filter's sight: ENOSYS, as Docker
        // answers, makes C libraries fall back to clone.
        let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
        rules.insert(libc::SYS_clone3, Vec::new());
        let enosys = SeccompFilter::new(
            rules,
            SeccompAction::Allow,
            SeccompAction::Errno(libc::ENOSYS as u32),
            arch(),
        )
        .map_err(bad)?;
        filters.push(enosys.try_into().map_err(bad)?);
    }
    Ok(filters)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_build() {
        let f = default_filters(super::super::container::DEFAULT_CAPS).unwrap();
        assert_eq!(f.len(), 2);
        assert!(!f[0].is_empty());
        let admin = default_filters(&[CAP_SYS_ADMIN]).unwrap();
        assert_eq!(admin.len(), 1);
    }
}
