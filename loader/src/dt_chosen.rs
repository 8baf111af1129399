//! The two planning passes of a kernel booted with a device tree (arm64, riscv64): the
//! DTB's /chosen holds the initrd's and the crash ELF header's addresses
//! (drivers/of/fdt.c `early_init_dt_scan_chosen`, drivers/of/kexec.c), known only once
//! the planner has placed the segments, and its size does not depend on them. So the DTB
//! is planned first with placeholder addresses, for its size, and patched again with the
//! real ones afterwards. The arch planners add what differs (their entry).

use crate::crash::elfcore;
use crate::dt_facts::MachineFacts;
use crate::dtb::{self, ChosenPatch};
use crate::error::{Error, Result};
use crate::fields::add;
use crate::layout::{Blob, Placement};
use crate::memmap::{MemoryMap, Mode, Range};
use crate::plan::Plan;

/// The crash ELF header's segment name.
pub const ELFCOREHDR: &str = "elfcorehdr";

/// What the new kernel's /chosen gets, but the placed addresses.
pub struct Chosen<'a> {
    facts: &'a MachineFacts,
    cmdline: &'a str,
    kaslr_seed: Option<u64>,
    rng_seed: Vec<u8>,
    initrd_len: Option<u64>,
    /// The crash reservation, for a panic plan: every segment goes inside it.
    pub crash: Option<Range>,
}

impl<'a> Chosen<'a> {
    /// `seeds` gives the kaslr-seed (None: none written) and the rng-seed. A panic plan
    /// without a crash reservation is [`Error::NoCrashKernel`].
    pub fn new(
        facts: &'a MachineFacts,
        cmdline: &'a str,
        seeds: (Option<u64>, Vec<u8>),
        initrd: Option<&[u8]>,
        mode: Mode,
        map: &MemoryMap,
    ) -> Result<Chosen<'a>> {
        let crash = match mode {
            Mode::Normal => None,
            Mode::Panic => Some(map.crash.ok_or(Error::NoCrashKernel)?),
        };
        Ok(Chosen {
            facts,
            cmdline,
            kaslr_seed: seeds.0,
            rng_seed: seeds.1,
            initrd_len: initrd.map(|i| i.len() as u64),
            crash,
        })
    }

    fn patch(&self, initrd: Option<(u64, u64)>, elfcorehdr: Option<(u64, u64)>) -> ChosenPatch {
        ChosenPatch {
            bootargs: Some(self.cmdline.to_string()).filter(|c| !c.is_empty()),
            initrd,
            kaslr_seed: self.kaslr_seed,
            rng_seed: Some(self.rng_seed.clone()),
            elfcorehdr,
            usable_memory: self.crash.map(|c| (c.start, c.len())),
        }
    }

    /// First pass: the DTB with placeholder addresses, for its size.
    pub fn placeholder(&self) -> Result<Vec<u8>> {
        dtb::patch(
            &self.facts.dtb,
            &self.patch(self.initrd_len.map(|_| (0, 0)), self.crash.map(|_| (0, 0))),
        )
    }

    /// Where a segment with `align` may go: inside the crash reservation for a panic plan.
    pub fn limits(&self, align: u64) -> Placement {
        Placement {
            align,
            min: self.crash.map_or(0, |c| c.start),
            max: self.crash.map_or(u64::MAX, |c| c.end),
            top_down: false,
            near_kernel: false,
        }
    }

    /// For a panic plan, the crash ELF header of the running machine (its System RAM but
    /// the reservation, the CPUs' notes and vmcoreinfo). The RAM loads cover the kernel
    /// image, so there is no separate (and, where /proc/kallsyms has no `_text`, possibly
    /// wrong) kernel-text load.
    pub fn elfcorehdr(&self, arch: crate::Arch, map: &MemoryMap) -> Result<Option<Blob>> {
        if self.crash.is_none() {
            return Ok(None);
        }
        let header = elfcore::build(&elfcore::ElfCoreInput {
            arch,
            cpu_notes: self.facts.cpu_notes.clone(),
            vmcoreinfo: self.facts.vmcoreinfo,
            kernel_text: None,
            ram: elfcore::dump_ranges(map, arch),
            linear_map: None,
        })?;
        Ok(Some(Blob::new(ELFCOREHDR, header, self.limits(64 << 10))))
    }

    /// Second pass: the DTB with where the planner put the initrd and the ELF header; an
    /// error if its size is not the placeholder's (the plan was made for that size).
    pub fn finish(&self, p: &Plan, placeholder: &[u8]) -> Result<Vec<u8>> {
        let initrd_at = match p.segments.iter().find(|s| s.what == "initrd") {
            Some(s) => Some((
                s.mem,
                add(s.mem, self.initrd_len.unwrap_or(0), "initrd end")?,
            )),
            None => None,
        };
        let elfcorehdr = p
            .segments
            .iter()
            .find(|s| s.what == ELFCOREHDR)
            .map(|s| (s.mem, s.memsz));
        let dtb = dtb::patch(&self.facts.dtb, &self.patch(initrd_at, elfcorehdr))?;
        if dtb.len() != placeholder.len() {
            return Err(Error::invalid(
                "patched DTB",
                format!(
                    "its size changed from {} to {} bytes between the planning passes",
                    placeholder.len(),
                    dtb.len()
                ),
            ));
        }
        Ok(dtb)
    }
}
