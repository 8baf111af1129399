//! The complete riscv64 `kexec_load` plan: the Image, the initrd and the patched DTB; for a
//! crash kernel also the ELF core header, all inside the crash reservation. Debian's
//! riscv64 kernel has no kexec_file_load, so warmboot does here what the kernel's
//! drivers/of/kexec.c and arch/riscv/kernel/kexec_image.c would.
//!
//! The entry needs no code of warmboot's: for kexec_load the kernel finds the device tree
//! itself. `machine_kexec_prepare` (arch/riscv/kernel/machine_kexec.c) takes the first
//! segment, in the order given, longer than an FDT header whose first 40 bytes pass
//! `fdt_check_header`, and refuses the load with EINVAL ("Device tree not included in the
//! provided image") when there is none. At reboot `machine_kexec` hands the relocation code
//! of kexec_relocate.S (normal) or `riscv_kexec_norelocate` (crash) the entry, that FDT's
//! address and the boot hart's id; both turn the MMU off (satp = 0), set a0 = hart id and
//! a1 = FDT address, and jump to `image->start`, the plan's entry: the Image's first byte,
//! at a 2 MiB-aligned address (Documentation/arch/riscv/boot.rst). So the plan's only
//! duty is that the DTB is that first FDT-looking segment
//! ([`crate::riscv64::fdt_segment`]).
//!
//! Two passes, as on arm64 ([`crate::dt_chosen`]): the DTB's /chosen holds the initrd's
//! and the ELF header's addresses, known only after placement.

use crate::dt_chosen::Chosen;
use crate::dt_facts::MachineFacts;
use crate::error::{Error, Result};
use crate::image::riscv64::Riscv64Kernel;
use crate::layout::{riscv64_layout, Blob};
use crate::memmap::{MemoryMap, Mode, PAGE_SIZE};
use crate::plan::{Plan, Segment};
use crate::planner::{plan, PlanRequest};
use crate::riscv64::fdt_segment::fdt_segment;

/// Segment names.
pub const DTB: &str = "dtb";
pub use crate::dt_chosen::ELFCOREHDR;

/// The most a riscv64 kernel takes from /chosen/bootargs, NUL included
/// (`COMMAND_LINE_SIZE`, arch/riscv/include/uapi/asm/setup.h in 6.12):
/// early_init_dt_scan_chosen (drivers/of/fdt.c) silently cuts anything longer, so
/// warmboot refuses it instead.
pub const COMMAND_LINE_SIZE: usize = 1024;

/// The DTB's alignment: 8 bytes would do (the early kernel maps the 2 MiB around it through
/// its fixmap, arch/riscv/mm/init.c `create_fdt_early_page_table`); a page keeps it apart
/// from its neighbours.
const DTB_ALIGN: u64 = PAGE_SIZE;

/// The planned segment holding `what`; the planner was asked for it, so its absence is a
/// planner bug reported as an error, never a panic.
fn segment<'a>(p: &'a mut Plan, what: &str) -> Result<&'a mut Segment> {
    p.segments
        .iter_mut()
        .find(|s| s.what == what)
        .ok_or_else(|| Error::invalid("riscv64 plan", format!("no {what}")))
}

/// Plans a riscv64 Image for kexec_load. `seeds` gives the kaslr-seed (None: none
/// written) and the rng-seed. The Image's bytes move into the plan (`image.image` is left
/// empty; its header and version stay).
pub fn plan_image(
    image: &mut Riscv64Kernel,
    initrd: Option<Vec<u8>>,
    cmdline: &str,
    mode: Mode,
    map: &MemoryMap,
    facts: &MachineFacts,
    seeds: (Option<u64>, Vec<u8>),
) -> Result<Plan> {
    if cmdline.len() >= COMMAND_LINE_SIZE {
        return Err(Error::invalid(
            "command line",
            format!(
                "command line is {} bytes but a riscv64 kernel accepts at most {}",
                cmdline.len(),
                COMMAND_LINE_SIZE - 1
            ),
        ));
    }
    // image_size covers the Image and its BSS (the parser refused 0).
    if (image.image.len() as u64) > image.header.image_size {
        return Err(Error::invalid(
            "riscv64 image_size",
            format!(
                "{:#x} is smaller than the Image itself ({:#x} bytes)",
                image.header.image_size,
                image.image.len()
            ),
        ));
    }
    let layout = riscv64_layout(std::mem::take(&mut image.image), image.header.image_size);
    let chosen = Chosen::new(facts, cmdline, seeds, initrd.as_deref(), mode, map)?;
    let placeholder = chosen.placeholder()?;
    let mut extra = vec![Blob::new(
        DTB,
        placeholder.clone(),
        chosen.limits(DTB_ALIGN),
    )];
    extra.extend(chosen.elfcorehdr(crate::Arch::Riscv64, map)?);
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
    let kernel_addr = segment(&mut p, "kernel")?.mem;
    let final_dtb = chosen.finish(&p, &placeholder)?;
    let dtb_seg = segment(&mut p, DTB)?;
    dtb_seg.buf = final_dtb;
    let dtb_addr = dtb_seg.mem;
    p.entry = kernel_addr;
    check_entry(&p)?;
    p.notes.push(format!(
        "entry: the kernel's own kexec code turns the MMU off and jumps to the Image at {kernel_addr:#x} with a0 = boot hart id, a1 = DTB ({dtb_addr:#x}, the first segment that is a device tree)"
    ));
    crate::plan_check::check_plan(&p, map)?;
    Ok(p)
}

/// Checks what the kernel does with a riscv64 plan at reboot: the device tree it finds
/// ([`fdt_segment`]) is the plan's DTB, and the entry is the 2 MiB-aligned kernel.
pub fn check_entry(p: &Plan) -> Result<()> {
    let bad = |detail: String| Error::invalid("riscv64 plan", detail);
    let dtb = p
        .segments
        .iter()
        .position(|s| s.what == DTB)
        .ok_or_else(|| bad("no dtb segment".to_string()))?;
    match fdt_segment(p) {
        Some(i) if i == dtb => {}
        Some(i) => {
            let what = p.segments.get(i).map_or("?", |s| s.what.as_str());
            return Err(bad(format!(
                "segment {i} ({what}) starts like a device tree and comes before the DTB, so the kernel would hand it to the new kernel as its device tree"
            )));
        }
        None => return Err(bad("the dtb segment is not a valid device tree".to_string())),
    }
    let kernel = p
        .segments
        .iter()
        .find(|s| s.what == "kernel")
        .ok_or_else(|| bad("no kernel segment".to_string()))?;
    if p.entry != kernel.mem || kernel.mem % crate::image::riscv64::KERNEL_ALIGN != 0 {
        return Err(bad(format!(
            "entry {:#x} is not the 2 MiB-aligned Image start ({:#x})",
            p.entry, kernel.mem
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::HostRoot;
    use crate::image::KernelImage;
    use crate::synth::riscv64::Riscv64Builder;

    fn machine(name: &str) -> (MemoryMap, MachineFacts) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/machines")
            .join(name);
        let host = HostRoot::new(root);
        let facts = crate::dt_facts::read(&host, None, crate::Arch::Riscv64).unwrap();
        (host.memory_map().unwrap(), facts)
    }

    fn kernel() -> Riscv64Kernel {
        let KernelImage::Riscv64(k) =
            KernelImage::parse(&Riscv64Builder::default().build()).unwrap()
        else {
            panic!("not a riscv64 Image");
        };
        k
    }

    fn plan_for(mode: Mode, initrd: Vec<u8>) -> Result<Plan> {
        let (map, facts) = machine("riscv64-direct-m1024-crashkernel");
        plan_image(
            &mut kernel(),
            Some(initrd),
            "console=ttyS0",
            mode,
            &map,
            &facts,
            (Some(7), vec![1; 8]),
        )
    }

    #[test]
    fn the_dtb_is_the_device_tree_the_kernel_finds_and_the_image_the_entry() {
        for mode in [Mode::Normal, Mode::Panic] {
            let p = plan_for(mode, vec![0x5a; 0x3000]).unwrap();
            let dtb = p.segments.iter().position(|s| s.what == DTB).unwrap();
            assert_eq!(fdt_segment(&p), Some(dtb), "{mode}");
            let kernel = p.segments.iter().find(|s| s.what == "kernel").unwrap();
            assert_eq!(p.entry, kernel.mem, "{mode}");
            assert_eq!(kernel.mem % (2 << 20), 0, "{mode}");
            // The patched /chosen names the planned initrd.
            let initrd = p.segments.iter().find(|s| s.what == "initrd").unwrap();
            let text = crate::dtb::render(&p.segments[dtb].buf).unwrap();
            assert!(
                text.contains(&format!("linux,initrd-start = <0x00 {:#x}>", initrd.mem)),
                "{mode}: {text}"
            );
            assert_eq!(
                text.contains("linux,elfcorehdr"),
                mode == Mode::Panic,
                "{mode}"
            );
        }
    }

    #[test]
    fn an_initrd_that_is_a_device_tree_before_the_dtb_is_refused() {
        // In a crash plan the initrd lies below the DTB: a DTB given as the initrd would
        // be what the kernel hands the new kernel.
        let (_, facts) = machine("riscv64-direct-m1024-crashkernel");
        let e = plan_for(Mode::Panic, facts.dtb.clone()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid riscv64 plan: segment 1 (initrd) starts like a device tree and comes before the DTB, so the kernel would hand it to the new kernel as its device tree"
        );
    }

    #[test]
    fn a_too_long_command_line_is_refused() {
        let (map, facts) = machine("riscv64-direct-m1024");
        let e = plan_image(
            &mut kernel(),
            None,
            &"x".repeat(COMMAND_LINE_SIZE),
            Mode::Normal,
            &map,
            &facts,
            (None, Vec::new()),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid command line: command line is 1024 bytes but a riscv64 kernel accepts at most 1023"
        );
    }

    #[test]
    fn the_kernel_refuses_a_plan_without_a_device_tree_and_so_does_warmboot() {
        let mut p = plan_for(Mode::Normal, vec![0x5a; 0x3000]).unwrap();
        p.segments.retain(|s| s.what != DTB);
        let (map, _) = machine("riscv64-direct-m1024-crashkernel");
        let e = crate::plan_check::check_plan(&p, &map).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Rejected {
                    rule: crate::error::Rule::DeviceTree,
                    ..
                }
            ),
            "{e}"
        );
    }
}
