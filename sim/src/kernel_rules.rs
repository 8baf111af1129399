//! The kernel's acceptance rules for `kexec_load` and `kexec_file_load`, written from the
//! kernel's source and sharing no code with warmboot's own checks (`plan_check`): the
//! simulator is the independent second opinion that the differential test
//! (tests/differential.rs) holds warmboot's checks against.
//!
//! Sources: Linux 6.1 (Debian's pinned kernels), where the code is the same in 6.12 and
//! current mainline unless a rule says otherwise: kernel/kexec.c (`kexec_load_check`,
//! `SYSCALL_DEFINE4(kexec_load)`, `do_kexec_load`, `kimage_alloc_init`),
//! kernel/kexec_core.c (`sanity_check_segment_list`, `kimage_alloc_crash_control_pages`),
//! kernel/crash_core.c (`kimage_crash_copy_vmcoreinfo`; kernel/kexec_core.c in 6.1),
//! arch/x86/kernel/machine_kexec_64.c (`machine_kexec_prepare`, `init_pgtable`),
//! arch/x86/mm/ident_map.c (`kernel_ident_mapping_init`), kernel/kexec_file.c and
//! fs/kernel_read_file.c. Each rule is one function named for the kernel function it
//! models; the kernel's `unsigned long` arithmetic is kept (wrapping adds, inclusive ends)
//! so the edge cases come out as the kernel's do.
//!
//! What the arch code adds: x86_64 `machine_kexec_prepare` builds the identity map, and
//! for a crash image its page-table pages come out of the crash reservation
//! ([`identity_map_pages`]); arm64 `machine_kexec_prepare` refuses a normal image with EBUSY
//! while secondary CPUs are stuck in the kernel (machine state the simulator does not
//! model; inject EBUSY with `faults` instead) and checks nothing about segments, and
//! `machine_kexec_post_load` allocates nothing for a crash image (its segments need no
//! relocation, `kimage->head & IND_DONE`); riscv64 `machine_kexec_prepare` refuses a
//! plan without a device tree segment ([`machine_kexec_prepare`]). Allocations from the page allocator for normal
//! images (control pages, swap page, source pages) are assumed to succeed.

use crate::kernel_state::{CrashkRes, KernelState, PAGE_SIZE};
use crate::refusal::{ControlUse, Refusal};
use warmboot::arch::Arch;
use warmboot::memmap::Mode;
use warmboot::plan::{Plan, Segment};

/// `KEXEC_SEGMENT_MAX` (include/uapi/linux/kexec.h): kexec_load's cap on nr_segments.
pub const KEXEC_SEGMENT_MAX: usize = 16;

/// `KEXEC_DESTINATION_MEMORY_LIMIT`: on x86_64 `MAXMEM - 1` (arch/x86/include/asm/kexec.h),
/// MAXMEM being `1 << MAX_PHYSMEM_BITS`, 46 with 4-level paging
/// (arch/x86/include/asm/pgtable_64_types.h, sparsemem.h); on arm64 and riscv64 `-1UL`
/// (arch/arm64/include/asm/kexec.h, arch/riscv/include/asm/kexec.h).
pub fn destination_limit(arch: Arch) -> u64 {
    match arch {
        Arch::X86_64 => (1 << 46) - 1,
        Arch::Arm64 | Arch::Riscv64 => u64::MAX,
    }
}

/// `KEXEC_CRASH_CONTROL_MEMORY_LIMIT`, defaulting to `KEXEC_CONTROL_MEMORY_LIMIT`
/// (include/linux/kexec.h): `MAXMEM - 1` on x86_64, `-1UL` on arm64 and riscv64
/// (asm/kexec.h).
pub fn crash_control_limit(arch: Arch) -> u64 {
    match arch {
        Arch::X86_64 => (1 << 46) - 1,
        Arch::Arm64 | Arch::Riscv64 => u64::MAX,
    }
}

/// `KEXEC_CONTROL_PAGE_SIZE`: x86_64 `4096UL + 4096UL`, "one page for the pdp and the
/// second for the code" (arch/x86/include/asm/kexec.h up to 6.13; 6.14 allocates the PGD
/// separately and makes it 4096); arm64 4096 (arch/arm64/include/asm/kexec.h); riscv64
/// `PAGE_SIZE` (arch/riscv/include/asm/kexec.h).
pub fn control_page_size(arch: Arch) -> u64 {
    match arch {
        Arch::X86_64 => 2 * PAGE_SIZE,
        Arch::Arm64 | Arch::Riscv64 => PAGE_SIZE,
    }
}

/// `PAGE_COUNT(x)` (kernel/kexec_core.c): pages covering x bytes, in unsigned long.
fn page_count(bytes: u64) -> u64 {
    bytes.wrapping_add(PAGE_SIZE - 1) / PAGE_SIZE
}

/// `ALIGN(x, a)` for a power of two, in unsigned long (include/linux/align.h).
fn align(x: u64, a: u64) -> u64 {
    x.wrapping_add(a - 1) & !(a - 1)
}

/// A segment's exclusive end as the kernel computes it, `mem + memsz` (may wrap).
fn mend(s: &Segment) -> u64 {
    s.mem.wrapping_add(s.memsz)
}

/// A segment's last byte as the kernel computes it, `mem + memsz - 1` (may wrap).
fn mlast(s: &Segment) -> u64 {
    mend(s).wrapping_sub(1)
}

/// kernel/kexec.c `kexec_load_check`: permission and lockdown (EPERM), then the segment
/// count (EINVAL). The flags are always legal here: warmboot passes only KEXEC_ON_CRASH and
/// the arch field, which KEXEC_FLAGS and KEXEC_ARCH_MASK allow.
pub fn kexec_load_check(k: &KernelState, nr_segments: usize) -> Result<(), Refusal> {
    if k.lockdown.blocks_kexec_load() {
        return Err(Refusal::LockedDown);
    }
    if nr_segments > KEXEC_SEGMENT_MAX {
        return Err(Refusal::TooManySegments {
            count: nr_segments,
            max: KEXEC_SEGMENT_MAX,
        });
    }
    Ok(())
}

/// kernel/kexec.c `SYSCALL_DEFINE4(kexec_load)`: the flags' arch field must be the native
/// `KEXEC_ARCH` (or 0); warmboot always sends the image's arch (EINVAL otherwise).
pub fn arch_field(k: &KernelState, image: Arch) -> Result<(), Refusal> {
    if image == k.arch {
        Ok(())
    } else {
        Err(Refusal::ForeignArch {
            image,
            native: k.arch,
        })
    }
}

/// kernel/kexec.c `kimage_alloc_init`: a crash image's entry must lie in crashk_res,
/// inclusive at both ends (EADDRNOTAVAIL). A normal image's entry is not checked.
pub fn crash_entry(k: &KernelState, mode: Mode, entry: u64) -> Result<(), Refusal> {
    let crash = k.crashk_res;
    if mode == Mode::Panic && (entry < crash.start || entry > crash.end) {
        return Err(Refusal::CrashEntry { entry, crash });
    }
    Ok(())
}

/// kernel/kexec_core.c `sanity_check_segment_list`, its rules in its order:
/// [`destinations`], [`overlaps`], [`buffer_sizes`], [`half_of_ram`], [`crash_region`].
pub fn sanity_check_segment_list(
    k: &KernelState,
    mode: Mode,
    segments: &[Segment],
) -> Result<(), Refusal> {
    destinations(k, segments)?;
    overlaps(segments)?;
    buffer_sizes(segments)?;
    half_of_ram(k, segments)?;
    if mode == Mode::Panic {
        crash_region(k, segments)?;
    }
    Ok(())
}

/// `sanity_check_segment_list`, first loop: per segment, `mem > mem + memsz` (wrap), `mem`
/// or `mem + memsz` not page-aligned, or `mem + memsz >= KEXEC_DESTINATION_MEMORY_LIMIT`
/// is EADDRNOTAVAIL. All three per segment before the next segment.
pub fn destinations(k: &KernelState, segments: &[Segment]) -> Result<(), Refusal> {
    let limit = destination_limit(k.arch);
    for (index, s) in segments.iter().enumerate() {
        let end = mend(s);
        if s.mem > end {
            return Err(Refusal::Wraps {
                index,
                mem: s.mem,
                memsz: s.memsz,
            });
        }
        if !s.mem.is_multiple_of(PAGE_SIZE) || !end.is_multiple_of(PAGE_SIZE) {
            return Err(Refusal::Unaligned {
                index,
                mem: s.mem,
                end,
                page: PAGE_SIZE,
            });
        }
        if end >= limit {
            return Err(Refusal::AboveLimit { index, end, limit });
        }
    }
    Ok(())
}

/// `sanity_check_segment_list`: segments i and j < i overlap when
/// `mend > pstart && mstart < pend` with exclusive ends (EINVAL). The array need not be
/// sorted. A zero-length segment strictly inside another one overlaps it.
pub fn overlaps(segments: &[Segment]) -> Result<(), Refusal> {
    for (index, a) in segments.iter().enumerate() {
        for (other, b) in segments.iter().enumerate().take(index) {
            if mend(a) > b.mem && a.mem < mend(b) {
                return Err(Refusal::Overlap {
                    index,
                    mem: a.mem,
                    memsz: a.memsz,
                    other,
                    other_mem: b.mem,
                    other_memsz: b.memsz,
                });
            }
        }
    }
    Ok(())
}

/// `sanity_check_segment_list`: `bufsz > memsz` is EINVAL.
pub fn buffer_sizes(segments: &[Segment]) -> Result<(), Refusal> {
    for (index, s) in segments.iter().enumerate() {
        if s.bufsz() > s.memsz {
            return Err(Refusal::BufferLarger {
                index,
                bufsz: s.bufsz(),
                memsz: s.memsz,
            });
        }
    }
    Ok(())
}

/// `sanity_check_segment_list`: "no more than half of memory will be consumed" — each
/// segment's `PAGE_COUNT(memsz)`, checked inside the loop, and then their sum, must not
/// exceed `totalram_pages() / 2` (EINVAL).
pub fn half_of_ram(k: &KernelState, segments: &[Segment]) -> Result<(), Refusal> {
    let half = k.totalram_pages / 2;
    let mut total: u64 = 0;
    for (index, s) in segments.iter().enumerate() {
        let pages = page_count(s.memsz);
        if pages > half {
            return Err(Refusal::HalfOfRam {
                what: format!("segment {index}"),
                pages,
                half,
                totalram: k.totalram_pages,
            });
        }
        total = total.wrapping_add(pages);
    }
    if total > half {
        return Err(Refusal::HalfOfRam {
            what: format!("{} segments together", segments.len()),
            pages: total,
            half,
            totalram: k.totalram_pages,
        });
    }
    Ok(())
}

/// `sanity_check_segment_list`, KEXEC_TYPE_CRASH only: each segment's
/// `[mem, mem + memsz - 1]` must lie in crashk_res (EADDRNOTAVAIL). With no reservation
/// crashk_res is [0, 0], so every crash segment fails here or earlier.
pub fn crash_region(k: &KernelState, segments: &[Segment]) -> Result<(), Refusal> {
    let crash = k.crashk_res;
    for (index, s) in segments.iter().enumerate() {
        if s.mem < crash.start || mlast(s) > crash.end {
            return Err(Refusal::OutsideCrashRegion {
                index,
                mem: s.mem,
                memsz: s.memsz,
                crash,
            });
        }
    }
    Ok(())
}

/// kernel/kexec_core.c `kimage_alloc_crash_control_pages`: the allocator of a crash image's
/// own pages. It takes the first size-aligned hole at or after `image->control_page` (set
/// to crashk_res.start by kimage_alloc_init) that no segment touches and whose end stays
/// within crashk_res and KEXEC_CRASH_CONTROL_MEMORY_LIMIT, then moves `control_page` past
/// it: later allocations never go back to a hole before an earlier one. (6.1 stores
/// `hole_end`, 6.8 `hole_end + 1`; with sizes that never grow the holes found are the same.)
struct CrashControlPages<'a> {
    crash: CrashkRes,
    limit: u64,
    segments: &'a [Segment],
    control_page: u64,
}

impl CrashControlPages<'_> {
    /// The next hole of `size` bytes, or None (the kernel's NULL page: ENOMEM).
    fn alloc(&mut self, size: u64) -> Option<u64> {
        let mut hole_start = align(self.control_page, size);
        let mut hole_end = hole_start.wrapping_add(size - 1);
        while hole_end <= self.crash.end {
            if hole_end > self.limit {
                break;
            }
            match self
                .segments
                .iter()
                .find(|s| hole_end >= s.mem && hole_start <= mlast(s))
            {
                Some(s) => {
                    // "Advance the hole to the end of the segment".
                    let next = align(mlast(s), size);
                    if next <= hole_start {
                        // The kernel would spin here; only a segment sanity_check_segment_list
                        // refuses (one wrapping around the top) can get here.
                        return None;
                    }
                    hole_start = next;
                    hole_end = hole_start.wrapping_add(size - 1);
                }
                None => {
                    self.control_page = hole_end;
                    return Some(hole_start);
                }
            }
        }
        None
    }
}

/// The pages a crash image takes from crashk_res after its segments, in the kernel's order,
/// each ENOMEM when no hole is left:
/// 1. the control code buffer, KEXEC_CONTROL_PAGE_SIZE (kernel/kexec.c kimage_alloc_init);
/// 2. on x86_64, the identity map's page tables, one page each (machine_kexec_prepare →
///    init_pgtable → alloc_pgt_page → kimage_alloc_control_pages; [`identity_map_pages`]);
/// 3. one page for the vmcoreinfo safe copy (do_kexec_load → kimage_crash_copy_vmcoreinfo).
pub fn crash_control_pages(k: &KernelState, segments: &[Segment]) -> Result<(), Refusal> {
    let mut pages = CrashControlPages {
        crash: k.crashk_res,
        limit: crash_control_limit(k.arch),
        segments,
        control_page: k.crashk_res.start,
    };
    let mut take = |what: ControlUse, size: u64| match pages.alloc(size) {
        Some(_) => Ok(()),
        None => Err(Refusal::NoControlPage {
            what,
            size,
            crash: k.crashk_res,
        }),
    };
    take(ControlUse::ControlCode, control_page_size(k.arch))?;
    if k.arch == Arch::X86_64 {
        for _ in 0..identity_map_pages(k, segments) {
            take(ControlUse::IdentityMap, PAGE_SIZE)?;
        }
    }
    take(ControlUse::Vmcoreinfo, PAGE_SIZE)
}

/// `PGDIR_SIZE` with 4-level paging: one PGD entry maps 512 GiB
/// (arch/x86/include/asm/pgtable_64_types.h, PGDIR_SHIFT 39).
const PGDIR_SIZE: u64 = 1 << 39;
/// `PUD_SIZE`: one PUD entry maps 1 GiB (PUD_SHIFT 30).
const PUD_SIZE: u64 = 1 << 30;

/// How many pages x86_64 `init_pgtable` (arch/x86/kernel/machine_kexec_64.c) takes from
/// the crash reservation for the identity map of pfn_mapped, the segments and the ACPI
/// tables. The PGD is the first page of the control code buffer. arch/x86/mm/ident_map.c
/// `kernel_ident_mapping_init`, with 4-level paging (p4d folded), allocates two pages for
/// each PGD entry it fills (the p4d page, then the PUD page that the PGD entry points
/// at), and `ident_pud_init` one PMD page for each 1 GiB entry it fills, unless it maps
/// with 1 GiB pages (`direct_gbpages`). So: 2 per 512 GiB slot touched, plus 1 per GiB slot
/// touched without gbpages. Not modelled: the EFI system table (`map_efi_systab`), which
/// lies in firmware memory below 4 GiB.
pub fn identity_map_pages(k: &KernelState, segments: &[Segment]) -> u64 {
    let ranges = k
        .ident_mapped
        .iter()
        .copied()
        .chain(segments.iter().map(|s| (s.mem, mend(s))));
    let mut pgd_slots = std::collections::BTreeSet::new();
    let mut pud_slots = std::collections::BTreeSet::new();
    for (start, end) in ranges {
        if start >= end {
            continue;
        }
        let last = end - 1;
        pgd_slots.extend(start / PGDIR_SIZE..=last / PGDIR_SIZE);
        if !k.gbpages {
            pud_slots.extend(start / PUD_SIZE..=last / PUD_SIZE);
        }
    }
    2 * pgd_slots.len() as u64 + pud_slots.len() as u64
}

/// Everything `kexec_load` checks, in the kernel's order, for a plan of at least one
/// segment: [`kexec_load_check`], [`arch_field`], then [`kimage_checks`]. A plan with no
/// segments is no load but an unload, which these rules never refuse (the simulator's
/// `kexec_load` unloads; `unload` is the usual way). The simulator itself runs the two
/// halves separately, because a crash load frees the old crash image between them.
pub fn check_kexec_load(k: &KernelState, plan: &Plan) -> Result<(), Refusal> {
    kexec_load_check(k, plan.segments.len())?;
    arch_field(k, plan.arch)?;
    if plan.segments.is_empty() {
        return Ok(());
    }
    kimage_checks(k, plan)
}

/// The checks `do_kexec_load` runs once it holds the kexec lock (and, for a crash load,
/// has freed the old crash image): kimage_alloc_init ([`crash_entry`],
/// [`sanity_check_segment_list`], the control code page), then for a crash image the
/// pages machine_kexec_prepare and kimage_crash_copy_vmcoreinfo take
/// ([`crash_control_pages`]).
pub fn kimage_checks(k: &KernelState, plan: &Plan) -> Result<(), Refusal> {
    crash_entry(k, plan.mode, plan.entry)?;
    sanity_check_segment_list(k, plan.mode, &plan.segments)?;
    machine_kexec_prepare(k, &plan.segments)?;
    if plan.mode == Mode::Panic {
        crash_control_pages(k, &plan.segments)?;
    }
    Ok(())
}

/// The architecture's `machine_kexec_prepare`, as far as it refuses a kexec_load: riscv64
/// (arch/riscv/kernel/machine_kexec.c) needs a device tree among the segments, the first
/// whose memsz exceeds `sizeof(struct fdt_header)` and whose first 40 bytes pass
/// [`fdt_check_header`], and returns EINVAL ("Device tree not included in the provided
/// image") without one; the segment found is what the new kernel gets in a1
/// ([`riscv64_fdt_segment`]). x86_64 and arm64 refuse nothing about segments here.
/// The kernel runs it after kimage_alloc_init took a crash image's control page; the
/// simulator checks it before [`crash_control_pages`] (which also covers the pages taken
/// after it), so a crash plan that fails both gets EINVAL here where the kernel would say
/// ENOMEM: a refusal either way.
pub fn machine_kexec_prepare(k: &KernelState, segments: &[Segment]) -> Result<(), Refusal> {
    if k.arch == Arch::Riscv64 && riscv64_fdt_segment(segments).is_none() {
        return Err(Refusal::NoDeviceTree);
    }
    Ok(())
}

/// The segment riscv64's machine_kexec_prepare records as the FDT (`kimage_arch.fdt_addr`).
pub fn riscv64_fdt_segment(segments: &[Segment]) -> Option<usize> {
    const FDT_HEADER: usize = 40;
    segments.iter().position(|s| {
        s.memsz > FDT_HEADER as u64
            && s.buf.len() >= FDT_HEADER
            && fdt_check_header(&s.buf[..FDT_HEADER])
    })
}

/// libfdt's `fdt_check_header` (scripts/dtc/libfdt/fdt.c) on the 40 header bytes the
/// kernel copies: FDT_MAGIC; version at least FDT_FIRST_SUPPORTED_VERSION (2),
/// last_comp_version at most FDT_LAST_SUPPORTED_VERSION (17) and not above version;
/// totalsize from the header size to INT_MAX; the memory reservation map's offset, and the
/// structure block (offset only before version 17) and strings block inside totalsize.
pub fn fdt_check_header(h: &[u8]) -> bool {
    let be = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]) as u64;
    if h.len() < 40 || be(0) != 0xd00d_feed {
        return false;
    }
    let (total, off_struct, off_strings, off_rsv) = (be(4), be(8), be(12), be(16));
    let (version, last_comp, size_strings, size_struct) = (be(20), be(24), be(32), be(36));
    if version < 2 || last_comp > 17 || version < last_comp {
        return false;
    }
    // fdt_header_size_(): 28 bytes before version 2, 32 before 3, 36 before 17, else 40.
    let hdrsize = match version {
        0..=1 => 28,
        2 => 32,
        3..=16 => 36,
        _ => 40,
    };
    let check_off = |off: u64| off >= hdrsize && off <= total;
    let check_block =
        |off: u64, size: u64| check_off(off) && off + size >= off && off + size <= total;
    total >= hdrsize
        && total <= i32::MAX as u64
        && check_off(off_rsv)
        && if version < 17 {
            check_off(off_struct)
        } else {
            check_block(off_struct, size_struct)
        }
        && check_block(off_strings, size_strings)
}

/// kernel/sys_ni.c: without CONFIG_KEXEC_FILE, kexec_file_load is `sys_ni_syscall` (ENOSYS).
pub fn kexec_file_available(k: &KernelState) -> Result<(), Refusal> {
    if k.kexec_file {
        Ok(())
    } else {
        Err(Refusal::NoKexecFile)
    }
}

/// kernel/kexec_file.c `SYSCALL_DEFINE5(kexec_file_load)`: `flags` must lie inside
/// `KEXEC_FILE_FLAGS` (include/linux/kexec.h): UNLOAD, ON_CRASH and NO_INITRAMFS, and
/// DEBUG from Linux 6.8 (EINVAL otherwise). Checked before the kexec lock, so a refused
/// call changes nothing.
pub fn file_flags(k: &KernelState, flags: u64) -> Result<(), Refusal> {
    use warmboot::kexec::{
        KEXEC_FILE_DEBUG, KEXEC_FILE_NO_INITRAMFS, KEXEC_FILE_ON_CRASH, KEXEC_FILE_UNLOAD,
    };
    let mut known = KEXEC_FILE_UNLOAD | KEXEC_FILE_ON_CRASH | KEXEC_FILE_NO_INITRAMFS;
    if k.kexec_file_debug {
        known |= KEXEC_FILE_DEBUG;
    }
    if flags & !known == 0 {
        Ok(())
    } else {
        Err(Refusal::UnknownFileFlags { flags, known })
    }
}

/// The architecture's kexec_file loader's probe of the kernel file's first bytes `head`
/// (kernel/kexec_file.c `kexec_image_probe_default`, one loader per architecture here):
/// x86_64 arch/x86/kernel/kexec-bzimage64.c `bzImage64_probe` (the "HdrS" setup header at
/// 0x202, boot protocol 2.12 or later at 0x206, LOADED_HIGH in loadflags at 0x211,
/// XLF_KERNEL_64 and XLF_CAN_BE_LOADED_ABOVE_4G in xloadflags at 0x236; ENOEXEC), arm64
/// arch/arm64/kernel/kexec_image.c `image_probe` (the Image magic "ARM\x64" at 0x38 of
/// a 64-byte header; EINVAL), riscv64 arch/riscv/kernel/kexec_image.c `image_probe` (a
/// 64-byte header whose magic2 is "RSC\x05" when its version is 0.2 or later; EINVAL).
/// Compressed Images, zboot and UKIs fail it.
pub fn file_image_probe(arch: Arch, head: &[u8]) -> Result<(), Refusal> {
    let refuse = |why| Err(Refusal::NotLoadable { arch, why });
    let u16_at = |off: usize| {
        head.get(off..off + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    match arch {
        Arch::X86_64 => {
            if head.get(0x202..0x206) != Some(b"HdrS") {
                return refuse("not a bzImage (no HdrS setup header)");
            }
            if u16_at(0x206).unwrap_or(0) < 0x020c {
                return refuse("boot protocol older than 2.12");
            }
            if head.get(0x211).copied().unwrap_or(0) & 1 == 0 {
                return refuse("not loaded high");
            }
            if u16_at(0x236).unwrap_or(0) & 0b11 != 0b11 {
                return refuse("no 64-bit entry above 4 GiB (xloadflags)");
            }
            Ok(())
        }
        Arch::Arm64 => {
            if head.len() < 64 || head.get(0x38..0x3c) != Some(b"ARM\x64") {
                return refuse("not an uncompressed arm64 Image (no ARM\\x64 magic)");
            }
            Ok(())
        }
        Arch::Riscv64 => {
            let version = head
                .get(0x20..0x24)
                .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            if head.len() < 64 || (version >= 2 && head.get(0x38..0x3c) != Some(b"RSC\x05")) {
                return refuse("not an uncompressed riscv64 Image (no RSC\\x05 magic2)");
            }
            Ok(())
        }
    }
}

/// fs/kernel_read_file.c `kernel_read_file`, which kexec_file_load uses for the kernel and
/// the initrd (kernel/kexec_file.c kimage_file_prepare_segments): a file of size 0 is EINVAL.
pub fn read_file(len: u64, what: &'static str) -> Result<(), Refusal> {
    if len == 0 {
        Err(Refusal::EmptyFile { what })
    } else {
        Ok(())
    }
}

/// kernel/kexec_file.c: a crash image's segments are placed inside crashk_res
/// (`kexec_locate_mem_hole` walks crashk_res only for KEXEC_TYPE_CRASH); with no
/// reservation there is no hole (EADDRNOTAVAIL). The old crash image is already freed.
pub fn file_crash_reservation(k: &KernelState) -> Result<(), Refusal> {
    if k.crashk_res.is_reserved() {
        Ok(())
    } else {
        Err(Refusal::NoCrashReservation)
    }
}
