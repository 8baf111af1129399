//! What the x86 boot decompressor does to the machine before it enters the kernel proper,
//! beyond decompressing, relocating and choosing KASLR slots ([`crate::x86::vmlinux_payload`],
//! [`crate::x86::kaslr`]), and whether the running machine needs any of it.
//!
//! warmboot's decompressed entry skips the decompressor, so the kernel proper starts in
//! the state the running kernel's kexec code leaves: the running kernel's paging mode,
//! and no early confidential-computing setup. Where the decompressor would have left a
//! different state, the load must take the bzImage path and say why:
//!
//! - **Paging mode.** arch/x86/boot/compressed/pgtable_64.c (`configure_5level_paging`)
//!   switches to 5-level paging when the CPU has LA57 and `no5lvl` is not on the command
//!   line (and back to 4-level when `no5lvl` is); the kernel proper then keeps whatever
//!   CR4.LA57 says (arch/x86/kernel/head64.c). The running kernel shows `la57` in
//!   /proc/cpuinfo exactly when it runs with 5-level paging (it clears the flag
//!   otherwise). So: running 5-level and the next command line has `no5lvl`, or running
//!   4-level because of `no5lvl` on the running command line that the next one drops,
//!   differ. (A running kernel built without CONFIG_X86_5LEVEL on an LA57 CPU cannot be
//!   told apart from a CPU without LA57 through /proc; that case is not detected.)
//! - **Confidential guests.** In an SEV or TDX guest the decompressor validates and
//!   accepts memory and sets up the GHCB (arch/x86/boot/compressed/sev.c, tdx.c) before
//!   the kernel runs; warmboot does not. /proc/cpuinfo shows `tdx_guest` in a TDX guest
//!   and `sev`/`sev_es`/`sev_snp` together with `hypervisor` in an SEV guest (an SEV
//!   host shows the SEV flags without `hypervisor`).
//!
//! Pure: the running kernel's CPU flags and command lines in, the difference out.

use std::collections::BTreeSet;

/// What the running machine says about its CPU and paging (read at the edge).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EarlySetupFacts {
    /// The `flags` of the first processor in /proc/cpuinfo; empty when unknown.
    pub cpu_flags: BTreeSet<String>,
    /// The running kernel's command line.
    pub running_cmdline: String,
}

impl EarlySetupFacts {
    /// Parses /proc/cpuinfo's first `flags` line (the first CPU's).
    pub fn cpu_flags_from_cpuinfo(cpuinfo: &str) -> BTreeSet<String> {
        cpuinfo
            .lines()
            .find_map(|l| {
                let (key, value) = l.split_once(':')?;
                (key.trim() == "flags").then_some(value)
            })
            .map(|v| v.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    }

    fn has(&self, flag: &str) -> bool {
        self.cpu_flags.contains(flag)
    }
}

fn has_word(cmdline: &str, word: &str) -> bool {
    cmdline.split_whitespace().any(|w| w == word)
}

/// Why the kernel's own decompressor would leave the machine in a different state from
/// warmboot's decompressed entry for a kernel with command line `cmdline`, if it would.
pub fn difference(facts: &EarlySetupFacts, cmdline: &str) -> Option<String> {
    if facts.has("tdx_guest") {
        return Some(
            "this is a TDX guest: the kernel's decompressor accepts memory and sets up TDX before the kernel runs, which the decompressed entry does not".to_string(),
        );
    }
    if facts.has("hypervisor") {
        if let Some(f) = ["sev_snp", "sev_es", "sev"].iter().find(|f| facts.has(f)) {
            return Some(format!(
                "this is an SEV guest ({f}): the kernel's decompressor validates memory and sets up the GHCB before the kernel runs, which the decompressed entry does not"
            ));
        }
    }
    let running_5level = facts.has("la57");
    if running_5level && has_word(cmdline, "no5lvl") {
        return Some(
            "the command line has no5lvl: the kernel's decompressor would switch to 4-level paging, the decompressed entry keeps the running kernel's 5-level paging".to_string(),
        );
    }
    if !running_5level && has_word(&facts.running_cmdline, "no5lvl") && !has_word(cmdline, "no5lvl")
    {
        return Some(
            "the running kernel has no5lvl and the new command line does not: the kernel's decompressor may switch to 5-level paging, the decompressed entry keeps 4-level paging".to_string(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(flags: &str, running: &str) -> EarlySetupFacts {
        EarlySetupFacts {
            cpu_flags: flags.split_whitespace().map(str::to_string).collect(),
            running_cmdline: running.to_string(),
        }
    }

    #[test]
    fn reads_the_first_cpus_flags() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu vme la57 hypervisor\n\nprocessor\t: 1\nflags\t\t: fpu\n";
        let flags = EarlySetupFacts::cpu_flags_from_cpuinfo(cpuinfo);
        assert_eq!(
            flags.into_iter().collect::<Vec<_>>(),
            ["fpu", "hypervisor", "la57", "vme"]
        );
        assert!(EarlySetupFacts::cpu_flags_from_cpuinfo("").is_empty());
    }

    #[test]
    fn same_paging_mode_and_no_confidential_guest_is_no_difference() {
        for (flags, running, next) in [
            ("fpu la57 hypervisor", "quiet", "quiet"),
            ("fpu hypervisor", "quiet", "quiet"),
            // 4-level because of no5lvl, kept on the next command line.
            ("fpu", "no5lvl", "no5lvl console=ttyS0"),
            // An SEV host (no hypervisor flag) is not a guest.
            ("sev sev_es la57", "", ""),
            // Unknown flags (another machine's root without /proc/cpuinfo).
            ("", "", ""),
        ] {
            assert_eq!(difference(&facts(flags, running), next), None, "{flags}");
        }
    }

    #[test]
    fn says_what_the_decompressor_would_do_differently() {
        let d = |flags, running, next| difference(&facts(flags, running), next).unwrap();
        assert!(d("la57", "", "quiet no5lvl").contains("switch to 4-level paging"));
        assert!(d("fpu", "no5lvl", "quiet").contains("may switch to 5-level paging"));
        assert!(d("tdx_guest hypervisor", "", "").starts_with("this is a TDX guest"));
        assert!(d("hypervisor sev sev_es", "", "").starts_with("this is an SEV guest (sev_es)"));
    }
}
