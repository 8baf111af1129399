//! A load plan: the segments `kexec_load` receives, where each goes, and the entry point.
//!
//! A [`Plan`] is the one value every backend consumes: the real syscall
//! ([`crate::kexec::linux`]), the dry run ([`crate::kexec::DryRun`]) and the simulator
//! (`warmboot-sim`). Its layout mirrors `struct kexec_segment` (include/uapi/linux/kexec.h):
//! a user buffer of `bufsz` bytes copied to physical `mem`, zero-filled up to `memsz`.

use crate::arch::Arch;
use crate::memmap::Mode;
use serde::Serialize;
use std::fmt::Write as _;

/// One `struct kexec_segment`, plus what it holds (for humans).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segment {
    /// What the segment holds: "kernel", "initrd", "boot_params", "dtb", ...
    pub what: String,
    /// The bytes copied to `mem`; the kernel zero-fills `buf.len()..memsz`.
    #[serde(skip)]
    pub buf: Vec<u8>,
    /// Physical destination address.
    pub mem: u64,
    /// Bytes reserved at `mem`; >= `buf.len()`, a multiple of the page size.
    pub memsz: u64,
}

impl Segment {
    pub fn bufsz(&self) -> u64 {
        self.buf.len() as u64
    }

    /// The exclusive end `mem + memsz` (saturating: overflow is for the checks to report).
    pub fn end(&self) -> u64 {
        self.mem.saturating_add(self.memsz)
    }
}

/// Which syscall a load uses, and why it was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum SyscallChoice {
    /// Pick one from the architecture and the lockdown state.
    Auto,
    /// kexec_file_load(2): the kernel parses and places the image itself.
    File,
    /// kexec_load(2): warmboot's own plan.
    Classic,
}

impl std::fmt::Display for SyscallChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SyscallChoice::Auto => "auto",
            SyscallChoice::File => "kexec_file_load",
            SyscallChoice::Classic => "kexec_load",
        })
    }
}

/// Everything a `kexec_load` needs, plus the facts a reviewer wants to see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub arch: Arch,
    pub mode: Mode,
    /// Physical address execution starts at after the kernel's relocation code.
    pub entry: u64,
    /// Segments, sorted by destination.
    pub segments: Vec<Segment>,
    /// The command line the next kernel gets (carried by an arch-specific segment).
    pub cmdline: String,
    /// Remarks shown with the plan (e.g. which parts arrive with later issues).
    pub notes: Vec<String>,
}

impl Plan {
    /// Renders the plan for review: one segment per line, hex addresses, sorted.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "arch:    {}", self.arch);
        let _ = writeln!(out, "mode:    {}", self.mode);
        let _ = writeln!(out, "entry:   {:#x}", self.entry);
        let _ = writeln!(out, "cmdline: {:?}", self.cmdline);
        let _ = writeln!(
            out,
            "{:>3}  {:<18}  {:<18}  {:>10}  {:>10}  what",
            "#", "mem", "end", "bufsz", "memsz"
        );
        for (i, s) in self.segments.iter().enumerate() {
            let _ = writeln!(
                out,
                "{:>3}  {:<#18x}  {:<#18x}  {:>#10x}  {:>#10x}  {}",
                i,
                s.mem,
                s.end(),
                s.bufsz(),
                s.memsz,
                s.what
            );
        }
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
        out
    }

    /// The plan as a JSON value (addresses as numbers, plus `bufsz` per segment).
    pub fn to_json(&self) -> serde_json::Value {
        let segments: Vec<serde_json::Value> = self
            .segments
            .iter()
            .map(|s| {
                serde_json::json!({
                    "what": s.what,
                    "mem": s.mem,
                    "memsz": s.memsz,
                    "bufsz": s.bufsz(),
                })
            })
            .collect();
        serde_json::json!({
            "arch": self.arch,
            "mode": self.mode,
            "entry": self.entry,
            "cmdline": self.cmdline,
            "segments": segments,
            "notes": self.notes,
        })
    }
}
