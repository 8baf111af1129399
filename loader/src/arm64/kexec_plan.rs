//! The complete arm64 `kexec_load` plan: the Image, the initrd, the patched DTB and
//! warmboot's entry trampoline (x0 = DTB); for a crash kernel also the ELF core header,
//! all inside the crash reservation. Debian's arm64 kernels have no kexec_file_load, so
//! warmboot does here what the kernel's drivers/of/kexec.c and
//! arch/arm64/kernel/machine_kexec_file.c would.
//!
//! Two passes, as on x86: the DTB's /chosen holds the initrd's and the ELF header's
//! addresses, known only after placement. The DTB's size does not depend on those values
//! (every patched property has a fixed width), so the first pass plans a DTB patched with
//! zeros and the second patches the real addresses into a DTB of the same size.

use crate::arm64::trampoline;
use crate::dt_chosen::Chosen;
use crate::error::{Error, Result};
use crate::fields::add;
use crate::image::arm64::Arm64Kernel;
use crate::layout::{Blob, KernelLayout};
use crate::memmap::{MemoryMap, Mode, PAGE_SIZE};
use crate::plan::Plan;
use crate::planner::{plan, PlanRequest};

/// Segment names.
pub const DTB: &str = "dtb";
pub const ENTRY: &str = "entry";
pub use crate::dt_chosen::ELFCOREHDR;

/// The planned segment holding `what`; the planner was asked for it, so its absence is a
/// planner bug reported as an error, never a panic.
fn segment<'a>(p: &'a mut Plan, what: &str) -> Result<&'a mut crate::plan::Segment> {
    p.segments
        .iter_mut()
        .find(|s| s.what == what)
        .ok_or_else(|| Error::invalid("arm64 plan", format!("no {what}")))
}

/// A DTB must not cross a 2 MiB boundary and is at most 2 MiB (booting.rst); placing it
/// 2 MiB-aligned, as kexec_file does, guarantees both.
const DTB_ALIGN: u64 = 2 << 20;

pub use crate::dt_facts::MachineFacts;

/// Reads what an arm64 plan needs from the machine at `host` ([`crate::dt_facts::read`]).
pub fn machine_facts(
    host: &crate::host::HostRoot,
    dtb: Option<&std::path::Path>,
) -> Result<MachineFacts> {
    crate::dt_facts::read(host, dtb, crate::Arch::Arm64)
}

/// The most an arm64 kernel takes from /chosen/bootargs, NUL included
/// (arch/arm64/include/uapi/asm/setup.h `COMMAND_LINE_SIZE`): early_init_dt_scan_chosen
/// (drivers/of/fdt.c) silently cuts anything longer, so warmboot refuses it instead.
pub const COMMAND_LINE_SIZE: usize = 2048;

/// Plans an arm64 Image (raw, or decompressed from Image.gz / zboot) for kexec_load.
/// `seeds` gives the random kaslr-seed (None under `nokaslr`) and rng-seed. With `verify`
/// (`load --verify`) the plan also gets warmboot's purgatory ([`crate::purgatory`]) as its
/// entry, which checks the SHA-256 of the other segments before running the stub.
/// The Image's bytes move into the plan (`image.image` is left empty; its header,
/// container and version stay), so the kernel is not held twice while planning.
#[allow(clippy::too_many_arguments)]
pub fn plan_image(
    image: &mut Arm64Kernel,
    initrd: Option<Vec<u8>>,
    cmdline: &str,
    mode: Mode,
    map: &MemoryMap,
    facts: &MachineFacts,
    seeds: (Option<u64>, Vec<u8>),
    verify: bool,
) -> Result<Plan> {
    if cmdline.len() >= COMMAND_LINE_SIZE {
        return Err(Error::invalid(
            "command line",
            format!(
                "command line is {} bytes but an arm64 kernel accepts at most {}",
                cmdline.len(),
                COMMAND_LINE_SIZE - 1
            ),
        ));
    }
    let layout = KernelLayout::take_arm64(image)?;
    let chosen = Chosen::new(facts, cmdline, seeds, initrd.as_deref(), mode, map)?;
    let limits = |align| chosen.limits(align);
    // First pass: the DTB with placeholder addresses, for its size.
    let placeholder = chosen.placeholder()?;
    let mut extra = vec![Blob::new(DTB, placeholder.clone(), limits(DTB_ALIGN))];
    extra.extend(chosen.elfcorehdr(crate::Arch::Arm64, map)?);
    extra.push(Blob::new(
        ENTRY,
        vec![0; trampoline::SIZE],
        limits(PAGE_SIZE),
    ));
    if verify {
        extra.push(crate::purgatory::blob(
            crate::Arch::Arm64,
            limits(PAGE_SIZE),
        )?);
    }
    let mut p = plan(
        PlanRequest {
            layout,
            initrd,
            cmdline: cmdline.to_string(),
            extra,
            mode,
        },
        map,
    )?;
    // The planner placed every segment in memory, so these sums of an address and an
    // offset inside its segment cannot overflow; checked all the same.
    let kernel = segment(&mut p, "kernel")?;
    let kernel_entry = add(kernel.mem, image.header.text_offset, "arm64 Image entry")?;
    let dtb_addr = segment(&mut p, DTB)?.mem;
    let final_dtb = chosen.finish(&p, &placeholder)?;
    // The purgatory's console, from what the new kernel gets: its command line and DTB.
    let console = crate::console::arm64(cmdline, &final_dtb);
    segment(&mut p, DTB)?.buf = final_dtb;
    let entry = segment(&mut p, ENTRY)?;
    let entry_addr = entry.mem;
    entry.buf = trampoline::build(entry_addr, dtb_addr, kernel_entry);
    p.entry = add(entry_addr, trampoline::ENTRY_OFFSET, "trampoline entry")?;
    p.notes.push(format!(
        "entry: warmboot's trampoline at {entry_addr:#x} sets x0 = DTB ({dtb_addr:#x}), x1-x3 = 0 and branches to the Image at {kernel_entry:#x}"
    ));
    if verify {
        crate::purgatory::attach(&mut p, console)?;
        crate::purgatory::check(&p)?;
    }
    crate::plan_check::check_plan(&p, map)?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_segment_is_an_error_not_a_panic() {
        let mut p = Plan {
            arch: crate::Arch::Arm64,
            mode: Mode::Normal,
            entry: 0,
            segments: vec![crate::plan::Segment {
                what: DTB.to_string(),
                buf: vec![1],
                mem: 0x4000_0000,
                memsz: 0x1000,
            }],
            cmdline: String::new(),
            notes: Vec::new(),
        };
        assert_eq!(segment(&mut p, DTB).unwrap().mem, 0x4000_0000);
        let e = segment(&mut p, ENTRY).unwrap_err();
        assert_eq!(e.to_string(), "invalid arm64 plan: no entry");
    }
}
