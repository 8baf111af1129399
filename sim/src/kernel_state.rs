//! What the simulated kernel knows when it judges a kexec call: its architecture and
//! configuration, `totalram_pages()`, `crashk_res`, and the ranges its x86_64 identity map
//! covers, derived from a machine's memory map.
//!
//! The simulator models Debian's 6.1 kernels (the ones the fixtures were captured from):
//! 4 KiB pages, 4-level paging on x86_64, CONFIG_CRASH_DUMP. Where the kernel depends on
//! something /proc/iomem does not show, the choice is said here: the identity map is
//! assumed to be built without 1 GiB pages (more page-table pages, so a crash image needs
//! more room), and totalram_pages is estimated from what iomem shows the kernel took out
//! of the page allocator (see [`totalram_pages_estimate`]).

use std::fmt;
use warmboot::arch::Arch;
use warmboot::host::Lockdown;
use warmboot::memmap::{MemoryMap, Range};

/// `PAGE_SIZE` of the modelled kernels: 4 KiB, `PAGE_SHIFT` 12 on x86_64
/// (arch/x86/include/asm/page_types.h) and on Debian's arm64 (CONFIG_ARM64_4K_PAGES,
/// arch/arm64/include/asm/page-def.h).
pub const PAGE_SIZE: u64 = 4096;

/// `crashk_res`, a `struct resource` with an inclusive end (kernel/crash_reserve.c; 6.1:
/// kernel/kexec_core.c). Without a crashkernel= reservation it keeps its static
/// initialiser, start = end = 0, and the kernel's range checks compare against that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrashkRes {
    pub start: u64,
    /// The last byte, inclusive.
    pub end: u64,
}

impl CrashkRes {
    /// crashk_res with no reservation: `{ .start = 0, .end = 0 }`.
    pub const NONE: CrashkRes = CrashkRes { start: 0, end: 0 };

    /// Whether a reservation exists (the kernel's own test: `crashk_res.end != 0`,
    /// kernel/crash_core.c crash_resource_size).
    pub fn is_reserved(&self) -> bool {
        self.end != 0
    }
}

impl fmt::Display for CrashkRes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_reserved() {
            write!(f, "[{:#x}-{:#x}]", self.start, self.end)
        } else {
            f.write_str("(none)")
        }
    }
}

/// The simulated kernel's state that its kexec rules read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelState {
    pub arch: Arch,
    /// CONFIG_KEXEC_FILE: without it kexec_file_load is sys_ni_syscall (ENOSYS).
    pub kexec_file: bool,
    /// Whether kexec_file_load knows `KEXEC_FILE_DEBUG` (Linux 6.8 and later; older kernels
    /// leave it out of `KEXEC_FILE_FLAGS`, include/linux/kexec.h, and refuse it with EINVAL).
    pub kexec_file_debug: bool,
    /// The lockdown level (security/lockdown/lockdown.c).
    pub lockdown: Lockdown,
    /// `totalram_pages()`, the pages the page allocator manages (mm/page_alloc.c).
    pub totalram_pages: u64,
    pub crashk_res: CrashkRes,
    /// x86_64: the physical ranges `init_pgtable` identity-maps besides the segments
    /// (arch/x86/kernel/machine_kexec_64.c): `pfn_mapped` (System RAM, and the ISA range
    /// below 1 MiB that arch/x86/mm/init.c init_mem_mapping always maps) and the ACPI
    /// tables and NVS (map_acpi_tables). Half-open `[start, end)`.
    pub ident_mapped: Vec<(u64, u64)>,
    /// x86_64: whether the identity map uses 1 GiB pages (`direct_gbpages`), which saves
    /// one page-table page per GiB. Off unless a test says otherwise: iomem does not show
    /// whether the CPU has them.
    pub gbpages: bool,
}

impl KernelState {
    /// The kernel of a machine of `arch` with memory `map`: kexec_file available, no
    /// lockdown, totalram_pages estimated from the map.
    pub fn from_map(arch: Arch, map: &MemoryMap) -> KernelState {
        let crashk_res = match map.crash {
            Some(r) if !r.is_empty() => CrashkRes {
                start: r.start,
                end: r.end - 1,
            },
            _ => CrashkRes::NONE,
        };
        let mut ident_mapped = vec![(0, ISA_END_ADDRESS)];
        ident_mapped.extend(map.ram.iter().map(|r| (r.start, r.end)));
        ident_mapped.extend(
            map.top_level
                .iter()
                .filter(|n| n.name == "ACPI Tables" || n.name == "ACPI Non-volatile Storage")
                .map(|n| (n.range.start, n.range.end)),
        );
        KernelState {
            arch,
            kexec_file: true,
            kexec_file_debug: true,
            lockdown: Lockdown::None,
            totalram_pages: totalram_pages_estimate(map),
            crashk_res,
            ident_mapped,
            gbpages: false,
        }
    }
}

/// `ISA_END_ADDRESS`, 1 MiB (arch/x86/include/asm/e820/types.h): arch/x86/mm/init.c
/// init_mem_mapping maps [0, ISA_END_ADDRESS) whatever the e820 map says.
const ISA_END_ADDRESS: u64 = 0x10_0000;

/// `totalram_pages()` estimated from /proc/iomem: the System RAM pages minus what iomem
/// shows the kernel took out of the page allocator at boot, all memblock reservations that
/// are never freed to it:
///
/// - the crash reservations, crashk_res and crashk_low_res (kernel/crash_reserve.c
///   reserve_crashkernel_generic; 6.1: arch/x86/kernel/setup.c reserve_crashkernel,
///   arch/arm64/mm/init.c reserve_crashkernel; "MemTotal" drops by crashkernel=);
/// - the running kernel's image, "Kernel code/rodata/data/bss" (memblock_reserve of
///   _text.._end in arch/x86/kernel/setup.c early_reserve_memory and
///   arch/arm64/mm/init.c arm64_memblock_init; the freed init sections are not among them);
/// - arm64's "reserved" children of System RAM, which are memblock.reserved and nomap
///   regions (arch/arm64/kernel/setup.c request_standard_resources).
///
/// The real value is smaller still (struct pages, early page tables and other memblock
/// allocations are not in iomem); `MemTotal` in /proc/meminfo is the exact figure. The
/// kernel counts whole pages; the sum is rounded down.
pub fn totalram_pages_estimate(map: &MemoryMap) -> u64 {
    let mut withheld: Vec<(u64, u64)> = Vec::new();
    withheld.extend(map.crash.iter().chain(map.crash_low.iter()).map(pair));
    withheld.extend(map.kernel.iter().map(|k| pair(&k.range)));
    withheld.extend(map.reserved.iter().map(pair));
    let withheld = union(withheld);
    let mut bytes: u64 = 0;
    for r in &map.ram {
        let mut len = r.end.saturating_sub(r.start);
        for &(s, e) in &withheld {
            let lo = s.max(r.start);
            let hi = e.min(r.end);
            len -= hi.saturating_sub(lo);
        }
        bytes = bytes.saturating_add(len);
    }
    bytes / PAGE_SIZE
}

fn pair(r: &Range) -> (u64, u64) {
    (r.start, r.end)
}

/// Sorted, merged, non-empty half-open ranges.
fn union(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    ranges.retain(|&(s, e)| s < e);
    ranges.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (s, e) in ranges {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const IOMEM: &str = "00001000-0009ffff : System RAM\n00100000-3fffffff : System RAM\n  01000000-01ffffff : Kernel code\n  01800000-027fffff : Kernel data\n  20000000-2fffffff : Crash kernel\n  30000000-30ffffff : reserved\n";

    #[test]
    fn totalram_leaves_out_the_crash_reservation_the_kernel_image_and_reserved_ranges() {
        let map = MemoryMap::parse(IOMEM, Vec::new()).unwrap();
        let ram = 0x9f000 + 0x3ff0_0000;
        // The kernel's two ranges overlap by 8 MiB and are counted once.
        let withheld = 0x180_0000 + 0x1000_0000 + 0x100_0000;
        assert_eq!(totalram_pages_estimate(&map), (ram - withheld) / PAGE_SIZE);
    }

    #[test]
    fn no_reservation_is_the_static_zero_resource() {
        let map = MemoryMap::parse("00100000-3fffffff : System RAM\n", Vec::new()).unwrap();
        let k = KernelState::from_map(Arch::Arm64, &map);
        assert_eq!(k.crashk_res, CrashkRes::NONE);
        assert!(!k.crashk_res.is_reserved());
        let map = MemoryMap::parse(IOMEM, Vec::new()).unwrap();
        let k = KernelState::from_map(Arch::X86_64, &map);
        assert_eq!(
            k.crashk_res,
            CrashkRes {
                start: 0x2000_0000,
                end: 0x2fff_ffff
            }
        );
        assert_eq!(k.ident_mapped[0], (0, 0x10_0000));
    }
}
