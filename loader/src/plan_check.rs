//! The kernel's acceptance rules for a `kexec_load` plan, as one function.
//!
//! Invariant: **the same validation runs before every real syscall**. The real backend
//! ([`crate::kexec::linux`]), the dry run ([`crate::kexec::DryRun`]) and `load` call
//! [`check_plan`], so a plan that breaks a rule never reaches the kernel. The simulator
//! (`warmboot-sim`) does not call it: it has its own rules, written separately from the
//! kernel's source, and its differential test (sim/tests/differential.rs) holds this
//! module against them.
//!
//! The rules follow kernel/kexec.c and kernel/kexec_core.c (`kimage_alloc_init`,
//! `sanity_check_segment_list`) in the kernel's order, with the errno the kernel would
//! return. Two rules are warmboot's own, stricter than the kernel: destinations must be
//! usable RAM for a normal image (the kernel leaves that to the caller), and the entry must
//! lie inside a segment for a normal image too (the kernel checks only crash entries).

use crate::arch::Arch;
/// The rules a failure names; in their own module so that [`Error`] can name them too.
pub use crate::error::Rule;
use crate::error::{Error, Result};
use crate::memmap::{align_up, subtract, MemoryMap, Mode, Range, PAGE_SIZE};
use crate::plan::Plan;

/// `KEXEC_SEGMENT_MAX` (include/uapi/linux/kexec.h).
pub const KEXEC_SEGMENT_MAX: usize = 16;

/// `KEXEC_DESTINATION_MEMORY_LIMIT`: MAXMEM-1 on x86_64 with 4-level paging
/// (arch/x86/include/asm/kexec.h, MAX_PHYSMEM_BITS 46), -1UL on arm64 and riscv64
/// (arch/arm64/include/asm/kexec.h, arch/riscv/include/asm/kexec.h).
pub fn destination_limit(arch: Arch) -> u64 {
    match arch {
        Arch::X86_64 => (1u64 << 46) - 1,
        Arch::Arm64 | Arch::Riscv64 => u64::MAX,
    }
}

/// `KEXEC_CONTROL_PAGE_SIZE`: 8 KiB on x86_64, one page on arm64 and riscv64.
pub fn control_page_size(arch: Arch) -> u64 {
    match arch {
        Arch::X86_64 => 2 * PAGE_SIZE,
        Arch::Arm64 | Arch::Riscv64 => PAGE_SIZE,
    }
}

/// riscv64's machine_kexec_prepare (arch/riscv/kernel/machine_kexec.c), which runs once
/// the segment list passed its sanity checks: some segment must be a device tree
/// ([`crate::riscv64::fdt_segment::fdt_segment`]), or the kernel refuses the load (EINVAL).
/// Checked here before the crash image's control pages, as the simulator does.
fn device_tree(plan: &Plan) -> Result<()> {
    if plan.arch == Arch::Riscv64 && crate::riscv64::fdt_segment::fdt_segment(plan).is_none() {
        return Err(reject(
            Rule::DeviceTree,
            "no segment is a device tree; the riscv64 kernel finds the next kernel's DTB among the segments and refuses a load without one".to_string(),
        ));
    }
    Ok(())
}

fn reject(rule: Rule, detail: String) -> Error {
    Error::Rejected { rule, detail }
}

fn seg_desc(i: usize, p: &Plan) -> String {
    match p.segments.get(i) {
        Some(s) => format!("segment {i} ({}) [{:#x}+{:#x}]", s.what, s.mem, s.memsz),
        None => format!("segment {i}"),
    }
}

/// Checks `plan` against the kernel's acceptance rules for a machine with `map`.
/// Each failure is an [`Error::Rejected`] naming the rule, the segment and the addresses.
pub fn check_plan(plan: &Plan, map: &MemoryMap) -> Result<()> {
    check_placement(plan, map)?;
    // The contents: what the entry code and boot_params point at must be loaded.
    if plan.arch == Arch::X86_64 {
        crate::x86::plan_contents::verify(plan)?;
    }
    Ok(())
}

/// The placement rules alone (everything but the contents): what the planner checks
/// before the arch code fills in the segments that hold addresses.
pub fn check_placement(plan: &Plan, map: &MemoryMap) -> Result<()> {
    let segs = &plan.segments;
    if segs.is_empty() || segs.len() > KEXEC_SEGMENT_MAX {
        return Err(reject(
            Rule::SegmentCount,
            format!(
                "{} segments, the kernel takes 1 to {KEXEC_SEGMENT_MAX}",
                segs.len()
            ),
        ));
    }
    if plan.mode == Mode::Panic {
        let crash = map.crash.ok_or_else(|| {
            reject(
                Rule::CrashRegion,
                "a crash image needs a crash kernel reservation and this machine has none"
                    .to_string(),
            )
        })?;
        if !crash.contains_addr(plan.entry) {
            return Err(reject(
                Rule::CrashEntry,
                format!(
                    "entry {:#x} is outside the crash reservation {crash}",
                    plan.entry
                ),
            ));
        }
    }
    let limit = destination_limit(plan.arch);
    for (i, s) in segs.iter().enumerate() {
        let Some(end) = s.mem.checked_add(s.memsz) else {
            return Err(reject(
                Rule::AddressLimit,
                format!("{}: mem + memsz wraps around", seg_desc(i, plan)),
            ));
        };
        if s.mem % PAGE_SIZE != 0 || end % PAGE_SIZE != 0 {
            return Err(reject(
                Rule::PageAlignment,
                format!(
                    "{}: mem {:#x} and end {end:#x} must be multiples of {PAGE_SIZE:#x}",
                    seg_desc(i, plan),
                    s.mem
                ),
            ));
        }
        if end >= limit {
            return Err(reject(
                Rule::AddressLimit,
                format!(
                    "{}: end {end:#x} is at or above the limit {limit:#x}",
                    seg_desc(i, plan)
                ),
            ));
        }
    }
    for i in 0..segs.len() {
        for j in 0..i {
            let (a, b) = (&segs[i], &segs[j]);
            if Range::new(a.mem, a.end()).overlaps(&Range::new(b.mem, b.end())) {
                return Err(reject(
                    Rule::Overlap,
                    format!("{} overlaps {}", seg_desc(i, plan), seg_desc(j, plan)),
                ));
            }
        }
    }
    for (i, s) in segs.iter().enumerate() {
        if s.bufsz() > s.memsz {
            return Err(reject(
                Rule::BufferSize,
                format!(
                    "{}: bufsz {:#x} is larger than memsz",
                    seg_desc(i, plan),
                    s.bufsz()
                ),
            ));
        }
    }
    let half = totalram_pages(map) / 2;
    let mut total_pages: u64 = 0;
    for (i, s) in segs.iter().enumerate() {
        let pages = align_up(s.memsz, PAGE_SIZE).unwrap_or(u64::MAX) / PAGE_SIZE;
        total_pages = total_pages.saturating_add(pages);
        if pages > half || total_pages > half {
            return Err(reject(
                Rule::HalfOfRam,
                format!(
                    "{}: {total_pages:#x} pages in total by here, more than half of RAM ({half:#x} pages)",
                    seg_desc(i, plan)
                ),
            ));
        }
    }
    match plan.mode {
        Mode::Panic => {
            // Checked to exist above.
            let crash = map.crash.unwrap_or(Range::new(0, 0));
            for (i, s) in segs.iter().enumerate() {
                if !crash.contains(&Range::new(s.mem, s.end())) {
                    return Err(reject(
                        Rule::CrashRegion,
                        format!(
                            "{} is not inside the crash reservation {crash}",
                            seg_desc(i, plan)
                        ),
                    ));
                }
            }
            device_tree(plan)?;
            if control_page_hole(plan, crash).is_none() {
                return Err(reject(
                    Rule::CrashControlPage,
                    format!(
                        "no free {:#x}-aligned hole of {:#x} bytes left in the crash reservation {crash} for the kernel's control page",
                        control_page_size(plan.arch),
                        control_page_size(plan.arch)
                    ),
                ));
            }
            let wanted = crash_extra_pages(plan, map);
            let found = crash_extra_page_holes(plan, crash, wanted);
            if found < wanted {
                return Err(reject(
                    Rule::CrashControlPage,
                    format!(
                        "after the control page, the kernel takes {wanted} more pages from the crash reservation {crash} (page tables and vmcoreinfo), and only {found} are free past it"
                    ),
                ));
            }
        }
        Mode::Normal => {
            device_tree(plan)?;
            let usable = map.usable(Mode::Normal);
            for (i, s) in segs.iter().enumerate() {
                let r = Range::new(s.mem, s.end());
                if !usable.iter().any(|u| u.contains(&r)) {
                    return Err(reject(
                        Rule::UsableRam,
                        format!(
                            "{} is not inside usable RAM (System RAM minus reserved and crash ranges)",
                            seg_desc(i, plan)
                        ),
                    ));
                }
            }
        }
    }
    if !segs
        .iter()
        .any(|s| s.mem <= plan.entry && plan.entry < s.end())
    {
        return Err(reject(
            Rule::Entry,
            format!("entry {:#x} is not inside any segment", plan.entry),
        ));
    }
    Ok(())
}

/// The hole the kernel would take for a crash image's control page: the first
/// size-aligned block in crashk_res that no segment covers (kernel/kexec_core.c
/// kimage_alloc_crash_control_pages).
pub fn control_page_hole(plan: &Plan, crash: Range) -> Option<Range> {
    let size = control_page_size(plan.arch);
    let mut hole_start = align_up(crash.start, size)?;
    loop {
        let hole_end = hole_start.checked_add(size)?;
        if hole_end > crash.end {
            return None;
        }
        let hole = Range::new(hole_start, hole_end);
        match plan
            .segments
            .iter()
            .find(|s| Range::new(s.mem, s.end()).overlaps(&hole))
        {
            None => return Some(hole),
            Some(s) => hole_start = align_up(s.end(), size)?,
        }
    }
}

/// The pages the kernel takes from crashk_res for a crash image after its control page,
/// one at a time: on x86_64 the identity map's page tables
/// (arch/x86/kernel/machine_kexec_64.c init_pgtable → alloc_pgt_page →
/// kimage_alloc_control_pages), then one page for the vmcoreinfo copy (kernel/crash_core.c,
/// 6.1 kernel/kexec_core.c, kimage_crash_copy_vmcoreinfo). arm64 takes no page tables
/// for a crash image (arch/arm64/kernel/machine_kexec.c machine_kexec_post_load returns
/// early when no relocation is needed).
///
/// The x86_64 identity map covers System RAM with the ISA range below 1 MiB
/// (pfn_mapped), the segments and the ACPI tables and NVS (map_acpi_tables). With 4-level
/// paging arch/x86/mm/ident_map.c kernel_ident_mapping_init takes two pages for each
/// 512 GiB PGD entry it fills and ident_pud_init one PMD page for each 1 GiB it maps,
/// unless the CPU has 1 GiB pages, which iomem does not tell: counted as if it has not.
fn crash_extra_pages(plan: &Plan, map: &MemoryMap) -> u64 {
    const VMCOREINFO: u64 = 1;
    if plan.arch != Arch::X86_64 {
        return VMCOREINFO;
    }
    let mut ranges: Vec<Range> = vec![Range::new(0, 0x10_0000)];
    ranges.extend(map.ram.iter().copied());
    ranges.extend(
        map.top_level
            .iter()
            .filter(|n| n.name == "ACPI Tables" || n.name == "ACPI Non-volatile Storage")
            .map(|n| n.range),
    );
    ranges.extend(plan.segments.iter().map(|s| Range::new(s.mem, s.end())));
    let mut pgd = std::collections::BTreeSet::new();
    let mut gib = std::collections::BTreeSet::new();
    for r in ranges.iter().filter(|r| !r.is_empty()) {
        pgd.extend(r.start >> 39..=(r.end - 1) >> 39);
        gib.extend(r.start >> 30..=(r.end - 1) >> 30);
    }
    2 * pgd.len() as u64 + gib.len() as u64 + VMCOREINFO
}

/// How many of `wanted` single pages the kernel finds free in `crash` after the control
/// page, each the first page no segment covers past the previous one (the control_page
/// cursor of kernel/kexec_core.c kimage_alloc_crash_control_pages).
fn crash_extra_page_holes(plan: &Plan, crash: Range, wanted: u64) -> u64 {
    let Some(mut at) = control_page_hole(plan, crash).map(|h| h.end) else {
        return 0;
    };
    let mut found = 0;
    while found < wanted {
        let Some(end) = at.checked_add(PAGE_SIZE).filter(|&e| e <= crash.end) else {
            break;
        };
        let page = Range::new(at, end);
        match plan
            .segments
            .iter()
            .find(|s| Range::new(s.mem, s.end()).overlaps(&page))
        {
            Some(s) => match align_up(s.end(), PAGE_SIZE) {
                Some(next) if next > at => at = next,
                _ => break,
            },
            None => {
                found += 1;
                at = end;
            }
        }
    }
    found
}

/// `totalram_pages()`, which the kernel's half-of-RAM rule divides, as far as /proc/iomem
/// shows it: System RAM minus the memblock reservations the page allocator never gets —
/// the crash reservations (reserve_crashkernel), the running kernel's image ("Kernel
/// code/data/...", memblock_reserve'd at boot) and arm64's "reserved" ranges. The real
/// value is a little smaller still (struct pages and other early allocations); all of
/// System RAM, used before, let plans through that the kernel refuses with EINVAL, such as
/// Debian's arm64 kernel (32 MiB) from a 96 MiB capture kernel.
fn totalram_pages(map: &MemoryMap) -> u64 {
    let mut holes = map.reserved.clone();
    holes.extend(map.crash);
    holes.extend(map.crash_low);
    holes.extend(map.kernel.iter().map(|k| k.range));
    subtract(&map.ram, &holes)
        .iter()
        .map(Range::len)
        .sum::<u64>()
        / PAGE_SIZE
}
