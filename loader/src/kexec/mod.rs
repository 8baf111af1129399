//! The kexec syscalls behind a trait, so planning and checking are testable without a kernel.
//!
//! Backends: [`linux::LinuxKexec`] (the real syscalls; the only `unsafe` code in warmboot),
//! [`DryRun`] (checks and records, used by `warmboot load --dry-run`) and `warmboot-sim`
//! (checks like the kernel and keeps a simulated physical memory, used by tests).
//!
//! Invariant: warmboot's backends (the real one and [`DryRun`]) run
//! [`crate::plan_check::check_plan`] before accepting a plan; `warmboot-sim` judges plans
//! by its own rules from the kernel's source, and its differential test holds the two to
//! agreement.

pub mod linux;

use crate::arch::Arch;
use crate::error::Result;
use crate::memmap::{MemoryMap, Mode};
use crate::plan::Plan;
use crate::plan_check::check_plan;
use serde::Serialize;
use std::fs::File;

/// `KEXEC_ON_CRASH` (include/uapi/linux/kexec.h).
pub const KEXEC_ON_CRASH: u64 = 0x1;
/// `KEXEC_PRESERVE_CONTEXT`.
pub const KEXEC_PRESERVE_CONTEXT: u64 = 0x2;
/// `KEXEC_ARCH_MASK`: the arch field holds the ELF e_machine shifted left by 16.
pub const KEXEC_ARCH_MASK: u64 = 0xffff_0000;
/// `KEXEC_FILE_UNLOAD`.
pub const KEXEC_FILE_UNLOAD: u64 = 0x1;
/// `KEXEC_FILE_ON_CRASH`.
pub const KEXEC_FILE_ON_CRASH: u64 = 0x2;
/// `KEXEC_FILE_NO_INITRAMFS`: initrd_fd is ignored.
pub const KEXEC_FILE_NO_INITRAMFS: u64 = 0x4;
/// `KEXEC_FILE_DEBUG`: the kernel logs how it loads the image (segments, placement) at
/// KERN_INFO instead of pr_debug (kernel/kexec_file.c `kexec_file_dbg_print`,
/// include/linux/kexec.h `kexec_dprintk`). New in Linux 6.8 (posted as "kexec_file: add
/// kexec_file flag to control debug printing" after 6.7's merge window); older kernels
/// leave it out of `KEXEC_FILE_FLAGS` and refuse the call with EINVAL before they look at
/// anything else (kernel/kexec_file.c: the flags check comes before the kexec lock).
pub const KEXEC_FILE_DEBUG: u64 = 0x8;

/// The `flags` argument of kexec_load for a plan: native arch field, plus ON_CRASH for panic.
pub fn kexec_load_flags(arch: Arch, mode: Mode) -> u64 {
    let arch_field = u64::from(arch.elf_machine()) << 16;
    match mode {
        Mode::Normal => arch_field,
        Mode::Panic => arch_field | KEXEC_ON_CRASH,
    }
}

/// The `flags` argument of kexec_file_load.
pub fn kexec_file_flags(mode: Mode, has_initrd: bool) -> u64 {
    let mut f = 0;
    if mode == Mode::Panic {
        f |= KEXEC_FILE_ON_CRASH;
    }
    if !has_initrd {
        f |= KEXEC_FILE_NO_INITRAMFS;
    }
    f
}

/// What is loaded, as the kernel reports it in /sys/kernel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Status {
    pub loaded: bool,
    pub crash_loaded: bool,
    /// Bytes of the crash kernel reservation.
    pub crash_size: u64,
}

/// A kexec_file_load request: the kernel parses and places the image itself.
#[derive(Debug)]
pub struct FileLoad<'a> {
    pub kernel: &'a File,
    pub initrd: Option<&'a File>,
    /// The command line without the trailing NUL (the backend adds it).
    pub cmdline: &'a str,
    pub mode: Mode,
    /// Ask the kernel for its load-time debug messages ([`KEXEC_FILE_DEBUG`]).
    pub debug: bool,
}

impl FileLoad<'_> {
    /// The `flags` argument of kexec_file_load for this request.
    pub fn flags(&self) -> u64 {
        let f = kexec_file_flags(self.mode, self.initrd.is_some());
        if self.debug {
            f | KEXEC_FILE_DEBUG
        } else {
            f
        }
    }
}

/// The kexec operations warmboot uses.
pub trait Kexec {
    /// kexec_load(2) with `plan`'s segments.
    fn kexec_load(&mut self, plan: &Plan) -> Result<()>;
    /// kexec_file_load(2).
    fn kexec_file_load(&mut self, req: &FileLoad<'_>) -> Result<()>;
    /// Unloads the normal (Mode::Normal) or crash (Mode::Panic) image.
    fn unload(&mut self, mode: Mode) -> Result<()>;
    /// kexec_file_load(2) with KEXEC_FILE_UNLOAD: the unload lockdown allows (kexec_load
    /// is refused under lockdown, even with no segments). Backends without a file loader
    /// refuse it.
    fn unload_file(&mut self, _mode: Mode) -> Result<()> {
        Err(crate::error::Error::Unsupported(
            "this backend cannot unload with kexec_file_load".to_string(),
        ))
    }
    /// reboot(LINUX_REBOOT_CMD_KEXEC): on a real machine this does not return on success.
    fn exec(&mut self) -> Result<()>;
    /// What is loaded.
    fn status(&self) -> Result<Status>;
    /// Called before each of warmboot's own steps of a load that can fail between two
    /// kernel calls (opening the files, the auto fallback to kexec_load), naming the step.
    /// Real backends do nothing; the simulator can inject a failure there, so tests prove
    /// that a failure at any step leaves the previously loaded kernel as it was.
    fn step(&mut self, _what: &str) -> Result<()> {
        Ok(())
    }
}

/// A backend that checks plans exactly as the others do and records what it would load,
/// touching nothing. `warmboot load --dry-run` runs through it.
#[derive(Debug, Clone)]
pub struct DryRun {
    map: MemoryMap,
    /// Plans accepted, in order.
    pub accepted: Vec<Plan>,
    /// kexec_file_load requests accepted: (kernel size, initrd size, cmdline, flags).
    pub file_loads: Vec<(u64, Option<u64>, String, u64)>,
}

impl DryRun {
    pub fn new(map: MemoryMap) -> DryRun {
        DryRun {
            map,
            accepted: Vec::new(),
            file_loads: Vec::new(),
        }
    }
}

impl Kexec for DryRun {
    fn kexec_load(&mut self, plan: &Plan) -> Result<()> {
        check_plan(plan, &self.map)?;
        self.accepted.push(plan.clone());
        Ok(())
    }

    fn kexec_file_load(&mut self, req: &FileLoad<'_>) -> Result<()> {
        let len = |f: &File| {
            f.metadata()
                .map(|m| m.len())
                .map_err(crate::error::Error::Io)
        };
        let kernel = len(req.kernel)?;
        let initrd = req.initrd.map(len).transpose()?;
        self.file_loads
            .push((kernel, initrd, req.cmdline.to_string(), req.flags()));
        Ok(())
    }

    fn unload(&mut self, _mode: Mode) -> Result<()> {
        Ok(())
    }

    fn unload_file(&mut self, _mode: Mode) -> Result<()> {
        Ok(())
    }

    fn exec(&mut self) -> Result<()> {
        Err(crate::error::Error::Unsupported(
            "a dry run never reboots".to_string(),
        ))
    }

    fn status(&self) -> Result<Status> {
        Ok(Status {
            loaded: false,
            crash_loaded: false,
            crash_size: self.map.crash.map(|r| r.len()).unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_match_the_uapi_values() {
        assert_eq!(kexec_load_flags(Arch::X86_64, Mode::Normal), 0x3e0000);
        assert_eq!(kexec_load_flags(Arch::Arm64, Mode::Panic), 0xb70001);
        assert_eq!(kexec_file_flags(Mode::Panic, false), 0x6);
        assert_eq!(kexec_file_flags(Mode::Normal, true), 0);
        let kernel = tempfile::tempfile().unwrap();
        let req = |debug| FileLoad {
            kernel: &kernel,
            initrd: None,
            cmdline: "",
            mode: Mode::Panic,
            debug,
        };
        assert_eq!(req(false).flags(), 0x6);
        assert_eq!(req(true).flags(), 0xe);
    }

    #[test]
    fn the_dry_run_records_the_debug_flag() {
        let map = MemoryMap::parse("00100000-3fffffff : System RAM\n", Vec::new()).unwrap();
        let mut d = DryRun::new(map);
        let kernel = tempfile::tempfile().unwrap();
        d.kexec_file_load(&FileLoad {
            kernel: &kernel,
            initrd: None,
            cmdline: "quiet",
            mode: Mode::Normal,
            debug: true,
        })
        .unwrap();
        assert_eq!(
            d.file_loads[0].3,
            KEXEC_FILE_NO_INITRAMFS | KEXEC_FILE_DEBUG
        );
    }
}
