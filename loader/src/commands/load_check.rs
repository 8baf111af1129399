//! The "check" stage of `warmboot load`: a complete plan run through the checks every
//! backend runs before its syscall ([`crate::plan_check::check_plan`], the rules of
//! kernel/kexec.c and kernel/kexec_core.c), with the flags the syscall will get, wrapped
//! as the report `load --dry-run` prints.

use crate::error::Result;
use crate::kexec::{kexec_file_flags, kexec_load_flags};
use crate::memmap::MemoryMap;
use crate::plan::{Plan, SyscallChoice};
use std::fmt::Write as _;

/// The result of a dry run, ready to render.
#[derive(Debug, Clone)]
pub struct DryRunReport {
    pub plan: Plan,
    pub syscall: SyscallChoice,
    pub reason: String,
    pub flags: u64,
    /// The sections of a UKI the load used (empty for any other file).
    pub uki_sections: Vec<crate::commands::load_uki::UsedSection>,
}

impl DryRunReport {
    pub fn to_table(&self) -> String {
        let mut out = self.plan.to_table();
        let _ = writeln!(
            out,
            "syscall: {} (flags {:#x}): {}",
            self.syscall, self.flags, self.reason
        );
        if !self.uki_sections.is_empty() {
            out.push_str(&crate::commands::load_uki::render(&self.uki_sections));
        }
        out
    }

    pub fn to_json(&self) -> String {
        let mut v = self.plan.to_json();
        if let Some(o) = v.as_object_mut() {
            o.insert("syscall".to_string(), serde_json::json!(self.syscall));
            o.insert("syscall_reason".to_string(), serde_json::json!(self.reason));
            o.insert("flags".to_string(), serde_json::json!(self.flags));
            if !self.uki_sections.is_empty() {
                o.insert(
                    "uki_sections".to_string(),
                    serde_json::json!(self.uki_sections),
                );
            }
        }
        format!("{v:#}\n")
    }
}

/// Runs a complete plan through the checks every backend runs (those of [`crate::kexec::DryRun`])
/// and wraps it for display.
pub fn check_report(
    mut p: Plan,
    map: &MemoryMap,
    syscall: SyscallChoice,
    reason: String,
) -> Result<DryRunReport> {
    let mode = p.mode;
    let arch = p.arch;
    // The checks DryRun::kexec_load runs, without its record of the plan: that record is a
    // copy of every segment (kernel and initrd) and would double the peak memory here.
    crate::plan_check::check_plan(&p, map)?;
    let flags = match syscall {
        SyscallChoice::File => {
            kexec_file_flags(mode, p.segments.iter().any(|s| s.what == "initrd"))
        }
        _ => kexec_load_flags(arch, mode),
    };
    if syscall == SyscallChoice::File {
        p.notes.push(
            "with kexec_file_load the kernel places the segments itself; the plan above is what warmboot checked".to_string(),
        );
    }
    Ok(DryRunReport {
        plan: p,
        syscall,
        reason,
        flags,
        uki_sections: Vec::new(),
    })
}
