//! From a kernel file to a plan: KernelImage::parse, KernelLayout::from_image (where each
//! format's pieces go) and planner::plan (placement in a fixture machine's memory, normal
//! and panic). Never panics; a plan the planner returns passes the kernel's placement
//! rules (plan_check::check_placement) and keeps every segment's data within its memsz.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use warmboot::image::KernelImage;
use warmboot::layout::KernelLayout;
use warmboot::memmap::{MemoryMap, Mode};
use warmboot::plan_check::check_placement;
use warmboot::planner::{plan, PlanRequest};
use warmboot::Arch;

const X86_IOMEM: &str =
    include_str!("../../loader/tests/fixtures/machines/x86_64-bios-m1024/proc/iomem");
const ARM64_IOMEM: &str =
    include_str!("../../loader/tests/fixtures/machines/arm64-direct-m1024-crashkernel/proc/iomem");
const RISCV64_IOMEM: &str = include_str!(
    "../../loader/tests/fixtures/machines/riscv64-direct-m1024-crashkernel/proc/iomem"
);

fn map(arch: Arch) -> &'static MemoryMap {
    static X86: OnceLock<MemoryMap> = OnceLock::new();
    static ARM64: OnceLock<MemoryMap> = OnceLock::new();
    static RISCV64: OnceLock<MemoryMap> = OnceLock::new();
    let (cell, text) = match arch {
        Arch::X86_64 => (&X86, X86_IOMEM),
        Arch::Arm64 => (&ARM64, ARM64_IOMEM),
        Arch::Riscv64 => (&RISCV64, RISCV64_IOMEM),
    };
    cell.get_or_init(|| MemoryMap::parse(text, Vec::new()).expect("fixture iomem parses"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(image) = KernelImage::parse(data) else {
        return;
    };
    let Ok(layout) = KernelLayout::from_image(&image, data) else {
        return;
    };
    let map = map(layout.arch);
    for mode in [Mode::Normal, Mode::Panic] {
        let req = PlanRequest {
            layout: layout.clone(),
            initrd: Some(vec![0x5a; 0x3000]),
            cmdline: "console=ttyS0".to_string(),
            extra: Vec::new(),
            mode,
        };
        if let Ok(p) = plan(req, map) {
            check_placement(&p, map).expect("a returned plan passes the placement rules");
            for s in &p.segments {
                assert!(s.buf.len() as u64 <= s.memsz, "segment data past memsz");
            }
        }
    }
});
