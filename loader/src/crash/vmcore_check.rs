//! Does a capture kernel's `/proc/vmcore` hold the old kernel's memory? Pure: the ELF
//! header as `/proc/vmcore` shows it and the FIRST kernel's `/proc/iomem` in, a
//! [`Coverage`] report out.
//!
//! A panic load proves little if the capture kernel merely boots: a dump whose program
//! headers miss most of RAM is still a readable file. This module compares the physical
//! ranges of the dump's `PT_LOAD`s with what the first kernel had: its top-level
//! "System RAM" minus its "Crash kernel" reservations (crashk_res and crashk_low_res,
//! kernel/crash_reserve.c), which hold the capture kernel itself and are never dumped.
//!
//! What /proc/vmcore shows (fs/proc/vmcore.c, kexec-facts §5): the header the loader wrote
//! (elfcorehdr=) with every `PT_NOTE` merged into one and each `PT_LOAD`'s `p_offset`
//! rewritten from the physical address to the offset in /proc/vmcore; `p_paddr` is kept.
//! So the physical range of a `PT_LOAD` is `[p_paddr, p_paddr + p_memsz)` and its bytes are
//! at `p_offset` in the file.
//!
//! What legitimately differs from "System RAM minus Crash kernel", measured on the QEMU
//! guests of this project (Debian 6.1 and 6.12; x86_64 SeaBIOS and OVMF, arm64 direct
//! and UEFI; 1 GiB with crashkernel=256M / 96M; headers written by the kernel's
//! kexec_file_load, by warmboot's kexec_load and by kexec-tools 2.0.25; the fixtures in
//! tests/fixtures/vmcore):
//!
//! - x86_64: the low 1 MiB. The kernel's kexec_file path leaves `[0, 1 MiB)` out
//!   (arch/x86/kernel/crash.c `elf_header_exclude_ranges`: "Exclude the low 1M because it
//!   is always reserved"), and warmboot's own header does the same
//!   ([`super::elfcore::dump_ranges`]): 635 KiB of System RAM (0x1000-0x9fbff) missing.
//!   kexec-tools' kexec_load header instead covers it (a `PT_LOAD` at p_paddr 0x1000 whose
//!   bytes come from its backup region). Missing bytes below 1 MiB are therefore excused on
//!   x86_64 and reported as `excused`, not `missing`.
//! - A kernel-text `PT_LOAD` duplicates RAM that another `PT_LOAD` also covers (the
//!   kernel's and kexec-tools' headers have one, warmboot's do not); coverage is a union,
//!   so it counts once.
//! - Nothing else: every other measured dump covered exactly the expected RAM, on UEFI too
//!   (where EFI runtime memory is not "System RAM" in the first kernel's iomem either).
//!   [`TOLERANCE`] is therefore small: it absorbs a loader rounding a range end to a 64 KiB
//!   page, never a dropped RAM range.
//!
//! `PT_LOAD` bytes outside System RAM are reported separately and fail the check: the
//! capture kernel would read device memory or holes.

use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::fields;
use crate::memmap::{merge, subtract, MemoryMap, Range};
use std::fmt;

/// Missing RAM (beyond what [`Coverage`] excuses) that still passes: 64 KiB. No measured
/// dump missed any; this absorbs a loader rounding a range end to its own page size
/// (64 KiB pages on some arm64 kernels) and nothing the size of a RAM range (the smallest
/// PT_LOAD measured here above 1 MiB is 15.9 MiB).
pub const TOLERANCE: u64 = 64 << 10;

/// The x86_64 low memory the kernel's own crash header leaves out (see the module doc).
pub const X86_LOW_EXCUSED: Range = Range {
    start: 0,
    end: 1 << 20,
};

const ELF_MAGIC: [u8; 4] = [0x7f, b'E', b'L', b'F'];
const ET_CORE: u16 = 4;
const PT_LOAD: u32 = 1;
const PHDR_SIZE: u64 = 56;

/// One `PT_LOAD` of /proc/vmcore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Load {
    /// Its index among the program headers.
    pub index: usize,
    /// Where its bytes are in /proc/vmcore.
    pub file_offset: u64,
    /// `p_filesz`: how many bytes /proc/vmcore holds for it.
    pub file_size: u64,
    /// The physical memory it describes, `[p_paddr, p_paddr + p_memsz)`.
    pub phys: Range,
}

impl Load {
    /// The file offsets of the pages to read to prove the `PT_LOAD` is backed: its first
    /// byte and, when it spans more than a page, the start of its last page.
    pub fn probe_offsets(&self, page: u64) -> Vec<u64> {
        let mut out = vec![self.file_offset];
        // file_size > page, so the subtraction stays in range; an end past u64 (a hostile
        // header) leaves the last page unprobed rather than wrapping.
        if let Some(last) = self
            .file_offset
            .checked_add(self.file_size)
            .and_then(|end| end.checked_sub(page))
            .filter(|_| self.file_size > page)
        {
            out.push(last);
        }
        out
    }
}

/// The vmcore header's facts the check uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmcoreHeader {
    pub arch: Arch,
    pub loads: Vec<Load>,
}

/// How many bytes the header of a vmcore takes: the ELF header and the program header
/// table (`e_phoff + e_phnum * e_phentsize`), from its first 64 bytes. Reads past that
/// are not needed to check coverage.
pub fn header_len(first: &[u8]) -> Result<u64> {
    let (phoff, phnum) = ident(first)?;
    fields::add(
        phoff,
        u64::from(phnum) * PHDR_SIZE,
        "vmcore program header table",
    )
}

/// Checks the ELF header fields /proc/vmcore itself requires (fs/proc/vmcore.c
/// parse_crash_elf64_headers) and returns e_phoff and e_phnum.
fn ident(data: &[u8]) -> Result<(u64, u16)> {
    let magic: [u8; 4] = fields::array(data, 0, "ELF magic")?;
    if magic != ELF_MAGIC {
        return Err(Error::invalid(
            "vmcore header",
            format!("no ELF magic (starts with {magic:02x?})"),
        ));
    }
    let class = fields::u8_at(data, 4, "ELF class")?;
    let endian = fields::u8_at(data, 5, "ELF data encoding")?;
    if class != 2 || endian != 1 {
        return Err(Error::invalid(
            "vmcore header",
            format!("ELF class {class}, encoding {endian}: only little-endian ELF64 vmcores are checked"),
        ));
    }
    let e_type = fields::le_u16(data, 16, "e_type")?;
    if e_type != ET_CORE {
        return Err(Error::invalid(
            "vmcore header",
            format!("e_type {e_type} is not ET_CORE (4)"),
        ));
    }
    let phentsize = fields::le_u16(data, 54, "e_phentsize")?;
    if u64::from(phentsize) != PHDR_SIZE {
        return Err(Error::invalid(
            "vmcore header",
            format!("e_phentsize {phentsize}, expected {PHDR_SIZE}"),
        ));
    }
    let phnum = fields::le_u16(data, 56, "e_phnum")?;
    if phnum == 0 {
        return Err(Error::invalid("vmcore header", "no program headers"));
    }
    Ok((fields::le_u64(data, 32, "e_phoff")?, phnum))
}

/// Parses the header of /proc/vmcore (at least [`header_len`] bytes).
pub fn parse_header(data: &[u8]) -> Result<VmcoreHeader> {
    let (phoff, phnum) = ident(data)?;
    let machine = fields::le_u16(data, 18, "e_machine")?;
    let arch = match machine {
        62 => Arch::X86_64,
        183 => Arch::Arm64,
        m => {
            return Err(Error::invalid(
                "vmcore header",
                format!("e_machine {m} is neither x86_64 (62) nor aarch64 (183)"),
            ))
        }
    };
    let mut loads = Vec::new();
    for index in 0..usize::from(phnum) {
        let rel = PHDR_SIZE
            .checked_mul(index as u64)
            .ok_or_else(|| Error::invalid("vmcore header", "program header table too large"))?;
        let at = fields::add(phoff, rel, "program header")?;
        let ph = fields::slice(data, at, PHDR_SIZE, "program header")?;
        if fields::le_u32(ph, 0, "p_type")? != PT_LOAD {
            continue;
        }
        let file_offset = fields::le_u64(ph, 8, "p_offset")?;
        let paddr = fields::le_u64(ph, 24, "p_paddr")?;
        let file_size = fields::le_u64(ph, 32, "p_filesz")?;
        let memsz = fields::le_u64(ph, 40, "p_memsz")?;
        let vaddr = fields::le_u64(ph, 16, "p_vaddr")?;
        let wraps = |what: &str, start: u64, size: u64| {
            Error::invalid(
                "vmcore header",
                format!(
                    "PT_LOAD {index} (p_vaddr {vaddr:#x}): {what} {start:#x} + size {size:#x} \
                     wraps past the end of the address space"
                ),
            )
        };
        let end = paddr
            .checked_add(memsz)
            .ok_or_else(|| wraps("physical address", paddr, memsz))?;
        file_offset
            .checked_add(file_size)
            .ok_or_else(|| wraps("file offset", file_offset, file_size))?;
        loads.push(Load {
            index,
            file_offset,
            file_size,
            phys: Range::new(paddr, end),
        });
    }
    if loads.is_empty() {
        return Err(Error::invalid(
            "vmcore header",
            "no PT_LOAD: the dump holds no memory",
        ));
    }
    Ok(VmcoreHeader { arch, loads })
}

/// What the dump covers of the first kernel's memory. Ranges are sorted and merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    pub arch: Arch,
    pub loads: Vec<Load>,
    /// The first kernel's System RAM minus its crash reservations.
    pub expected: Vec<Range>,
    /// Expected RAM no `PT_LOAD` covers, outside what is excused.
    pub missing: Vec<Range>,
    /// Expected RAM no `PT_LOAD` covers that the architecture's own crash header leaves
    /// out too (x86_64: below 1 MiB).
    pub excused: Vec<Range>,
    /// `PT_LOAD` bytes outside the first kernel's System RAM.
    pub outside: Vec<Range>,
}

fn total(ranges: &[Range]) -> u64 {
    ranges.iter().map(Range::len).sum()
}

impl Coverage {
    pub fn expected_bytes(&self) -> u64 {
        total(&self.expected)
    }
    pub fn missing_bytes(&self) -> u64 {
        total(&self.missing)
    }
    pub fn excused_bytes(&self) -> u64 {
        total(&self.excused)
    }
    pub fn outside_bytes(&self) -> u64 {
        total(&self.outside)
    }
    /// Expected bytes some `PT_LOAD` covers.
    pub fn covered_bytes(&self) -> u64 {
        // missing and excused are parts of expected (computed from it), so no underflow.
        self.expected_bytes()
            .saturating_sub(self.missing_bytes())
            .saturating_sub(self.excused_bytes())
    }

    /// Pass, or why not in one line naming the ranges.
    pub fn verdict(&self) -> std::result::Result<(), String> {
        let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
        if !self.outside.is_empty() {
            return Err(format!(
                "{} PT_LOAD bytes lie outside the first kernel's System RAM: {}",
                self.outside_bytes(),
                list(&self.outside)
            ));
        }
        if self.missing_bytes() > TOLERANCE {
            return Err(format!(
                "PT_LOADs cover {:.1} of {:.1} MiB expected (System RAM minus Crash kernel{}); \
                 {} KiB missing, tolerance {} KiB: {}",
                mib(self.covered_bytes()),
                mib(self.expected_bytes().saturating_sub(self.excused_bytes())),
                if self.excused.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", minus {} KiB below 1 MiB left out on x86_64",
                        self.excused_bytes() >> 10
                    )
                },
                self.missing_bytes() >> 10,
                TOLERANCE >> 10,
                list(&self.missing)
            ));
        }
        Ok(())
    }
}

fn list(ranges: &[Range]) -> String {
    const SHOWN: usize = 4;
    let mut s: Vec<String> = ranges.iter().take(SHOWN).map(Range::to_string).collect();
    if ranges.len() > SHOWN {
        s.push(format!("and {} more", ranges.len().saturating_sub(SHOWN)));
    }
    s.join(", ")
}

impl fmt::Display for Coverage {
    /// The report's fields as `key=value` words, for the harness.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "loads={} expected_kib={} covered_kib={} missing_kib={} excused_kib={} outside_kib={} tolerance_kib={}",
            self.loads.len(),
            self.expected_bytes() >> 10,
            self.covered_bytes() >> 10,
            self.missing_bytes() >> 10,
            self.excused_bytes() >> 10,
            self.outside_bytes() >> 10,
            TOLERANCE >> 10
        )
    }
}

/// Compares the vmcore header with the first kernel's `/proc/iomem`.
pub fn check(header: &[u8], first_iomem: &str) -> Result<Coverage> {
    let header = parse_header(header)?;
    let map = MemoryMap::parse(first_iomem, Vec::new())?;
    let crash: Vec<Range> = map.crash.into_iter().chain(map.crash_low).collect();
    if crash.is_empty() {
        return Err(Error::invalid(
            "first kernel's iomem",
            "no \"Crash kernel\" range: it is not the iomem of the kernel that panicked",
        ));
    }
    let expected = subtract(&map.ram, &crash);
    let dumped = merge(
        header
            .loads
            .iter()
            .map(|l| l.phys)
            .filter(|r| !r.is_empty())
            .collect(),
    );
    let uncovered = subtract(&expected, &dumped);
    let excusable: &[Range] = match header.arch {
        Arch::X86_64 => &[X86_LOW_EXCUSED],
        Arch::Arm64 | Arch::Riscv64 => &[],
    };
    let missing = subtract(&uncovered, excusable);
    let excused = subtract(&uncovered, &missing);
    let outside = subtract(&dumped, &map.ram);
    Ok(Coverage {
        arch: header.arch,
        loads: header.loads,
        expected,
        missing,
        excused,
        outside,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARM64_DIRECT_HEAD: &[u8] = include_bytes!(
        "../../tests/fixtures/machines/reference/arm64-direct-m1024-crashkernel/vmcore-head.bin"
    );
    const ARM64_DIRECT_IOMEM: &str =
        include_str!("../../tests/fixtures/machines/arm64-direct-m1024-crashkernel/proc/iomem");

    /// The header and program headers only, as [`header_len`] says.
    fn head(bytes: &[u8]) -> Vec<u8> {
        bytes[..header_len(bytes).unwrap() as usize].to_vec()
    }

    /// `header` without its program header `index`.
    fn without_phdr(header: &[u8], index: usize) -> Vec<u8> {
        let mut h = head(header);
        let at = 64 + index * 56;
        h.drain(at..at + 56);
        let phnum = u16::from_le_bytes([h[56], h[57]]) - 1;
        h[56..58].copy_from_slice(&phnum.to_le_bytes());
        h
    }

    /// `header` with one more PT_LOAD for physical `[paddr, paddr + size)`.
    fn with_load(header: &[u8], paddr: u64, size: u64) -> Vec<u8> {
        let mut h = head(header);
        let mut ph = Vec::new();
        ph.extend_from_slice(&PT_LOAD.to_le_bytes());
        ph.extend_from_slice(&7u32.to_le_bytes());
        for v in [0x1000u64, 0, paddr, size, size, 0] {
            ph.extend_from_slice(&v.to_le_bytes());
        }
        h.extend_from_slice(&ph);
        let phnum = u16::from_le_bytes([h[56], h[57]]) + 1;
        h[56..58].copy_from_slice(&phnum.to_le_bytes());
        h
    }

    #[test]
    fn the_kernels_own_arm64_header_covers_ram_minus_the_crash_kernel() {
        let c = check(ARM64_DIRECT_HEAD, ARM64_DIRECT_IOMEM).unwrap();
        assert_eq!(c.arch, Arch::Arm64);
        assert_eq!(c.loads.len(), 3);
        assert_eq!(c.expected_bytes(), (1024 - 96) << 20);
        assert_eq!(c.covered_bytes(), c.expected_bytes());
        assert_eq!(c.verdict(), Ok(()));
        assert_eq!(
            c.to_string(),
            "loads=3 expected_kib=950272 covered_kib=950272 missing_kib=0 excused_kib=0 \
             outside_kib=0 tolerance_kib=64"
        );
        // The kernel-text PT_LOAD (index 1) duplicates RAM: it is probed, not counted twice.
        assert_eq!(c.loads[0].index, 1);
        assert_eq!(
            c.loads[0].probe_offsets(4096),
            vec![0x2000, 0x2000 + 0x2010000 - 4096]
        );
    }

    /// A captured vmcore header and its first kernel's iomem
    /// (tests/fixtures/vmcore/README.md).
    fn captured(name: &str) -> (Vec<u8>, String) {
        let dir = format!(
            "{}/tests/fixtures/vmcore/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        (
            std::fs::read(format!("{dir}/vmcore-head.bin")).unwrap(),
            std::fs::read_to_string(format!("{dir}/first-iomem")).unwrap(),
        )
    }

    #[test]
    fn captured_x86_headers_pass_with_the_low_megabyte_excused_only_where_left_out() {
        // The kernel's own header (kexec_file_load): RAM below 1 MiB left out.
        let (h, iomem) = captured("x86_64-bios-m1024-kexec_file-warmboot");
        let c = check(&h, &iomem).unwrap();
        assert_eq!(c.arch, Arch::X86_64);
        assert_eq!(c.verdict(), Ok(()));
        assert_eq!(c.excused, vec![Range::new(0x1000, 0x9fc00)]);
        assert_eq!(
            c.to_string(),
            "loads=3 expected_kib=785915 covered_kib=785280 missing_kib=0 excused_kib=635 \
             outside_kib=0 tolerance_kib=64"
        );
        // warmboot's own header (kexec_load) leaves the low 1 MiB out as the kernel does.
        let (h, iomem) = captured("x86_64-bios-m1024-kexec_load-warmboot");
        let c = check(&h, &iomem).unwrap();
        assert_eq!(c.verdict(), Ok(()));
        assert_eq!((c.loads.len(), c.excused_bytes() >> 10), (2, 635));
        // kexec-tools (kexec_load) dumps the low RAM too, through its backup region.
        let (h, iomem) = captured("x86_64-bios-m1024-kexec_load-kexec-tools");
        let c = check(&h, &iomem).unwrap();
        assert_eq!(c.verdict(), Ok(()));
        assert_eq!((c.loads.len(), c.excused_bytes()), (4, 0));
        assert_eq!(c.covered_bytes(), c.expected_bytes());
        // Dropping kexec-tools' RAM above the reservation fails: the last PT_LOAD,
        // 0x3f000000-0x3ffe0000.
        let c = check(&without_phdr(&h, 4), &iomem).unwrap();
        assert_eq!(c.missing, vec![Range::new(0x3f00_0000, 0x3ffe_0000)]);
        assert!(c.verdict().unwrap_err().contains("16256 KiB missing"));
    }

    #[test]
    fn captured_arm64_headers_of_warmboot_pass_and_of_kexec_tools_fail_as_known() {
        let (h, iomem) = captured("arm64-direct-m1024-kexec_load-warmboot");
        let c = check(&h, &iomem).unwrap();
        assert_eq!(c.verdict(), Ok(()));
        assert_eq!(c.covered_bytes(), (1024 - 96) << 20);
        // kexec-tools 2.0.25 on Debian's 6.1 arm64 kernel (no _text in kallsyms): the
        // kernel-text PT_LOAD is garbage (qemu.md), and /proc/vmcore passes it on.
        let (h, iomem) = captured("arm64-direct-m1024-kexec_load-kexec-tools");
        assert_eq!(
            check(&h, &iomem).unwrap_err().to_string(),
            "invalid vmcore header: PT_LOAD 1 (p_vaddr 0xffffffffffffffff): physical address \
             0x2feb3e600000 + size 0xffffd01503c10000 wraps past the end of the address space"
        );
    }

    #[test]
    fn a_dropped_pt_load_fails_naming_the_missing_range() {
        // Program header 3 is RAM above the crash reservation, 0x7ac00000-0x80000000.
        let c = check(&without_phdr(ARM64_DIRECT_HEAD, 3), ARM64_DIRECT_IOMEM).unwrap();
        assert_eq!(c.missing, vec![Range::new(0x7ac0_0000, 0x8000_0000)]);
        assert_eq!(
            c.verdict().unwrap_err(),
            "PT_LOADs cover 844.0 of 928.0 MiB expected (System RAM minus Crash kernel); \
             86016 KiB missing, tolerance 64 KiB: [0x7ac00000-0x80000000)"
        );
    }

    #[test]
    fn a_pt_load_outside_ram_fails() {
        // QEMU virt's PCIe window, device memory.
        let c = check(
            &with_load(ARM64_DIRECT_HEAD, 0x1000_0000, 0x1_0000),
            ARM64_DIRECT_IOMEM,
        )
        .unwrap();
        assert_eq!(c.outside, vec![Range::new(0x1000_0000, 0x1001_0000)]);
        assert_eq!(
            c.verdict().unwrap_err(),
            "65536 PT_LOAD bytes lie outside the first kernel's System RAM: \
             [0x10000000-0x10010000)"
        );
        // A PT_LOAD over the crash reservation is RAM, just not expected: it passes.
        let c = check(
            &with_load(ARM64_DIRECT_HEAD, 0x74c0_0000, 0x1000),
            ARM64_DIRECT_IOMEM,
        )
        .unwrap();
        assert_eq!(c.verdict(), Ok(()));
    }

    #[test]
    fn a_small_gap_passes_within_the_stated_tolerance_only() {
        // Shrink the last PT_LOAD by TOLERANCE, then by one page more.
        let shrunk = |by: u64| {
            let mut h = head(ARM64_DIRECT_HEAD);
            let at = 64 + 3 * 56 + 40;
            let memsz = u64::from_le_bytes(h[at..at + 8].try_into().unwrap()) - by;
            h[at..at + 8].copy_from_slice(&memsz.to_le_bytes());
            check(&h, ARM64_DIRECT_IOMEM).unwrap().verdict()
        };
        assert_eq!(shrunk(TOLERANCE), Ok(()));
        assert!(shrunk(TOLERANCE + 4096)
            .unwrap_err()
            .contains("68 KiB missing"));
    }

    #[test]
    fn the_iomem_must_be_the_crashed_kernels() {
        let e = check(ARM64_DIRECT_HEAD, "40000000-7fffffff : System RAM\n").unwrap_err();
        assert!(e.to_string().contains("no \"Crash kernel\" range"), "{e}");
    }

    #[test]
    fn truncated_or_foreign_bytes_give_a_clear_error() {
        let h = head(ARM64_DIRECT_HEAD);
        for len in [0, 3, 20, 63, 64, h.len() - 1] {
            let e = check(&h[..len], ARM64_DIRECT_IOMEM).unwrap_err();
            assert!(e.to_string().starts_with("truncated:"), "{len}: {e}");
        }
        let elf_exec = {
            let mut b = h.clone();
            b[16] = 2; // ET_EXEC
            b
        };
        assert_eq!(
            check(&elf_exec, ARM64_DIRECT_IOMEM)
                .unwrap_err()
                .to_string(),
            "invalid vmcore header: e_type 2 is not ET_CORE (4)"
        );
        assert_eq!(
            check(b"MZ\x90\0\x03\0\0\0", ARM64_DIRECT_IOMEM)
                .unwrap_err()
                .to_string(),
            "invalid vmcore header: no ELF magic (starts with [4d, 5a, 90, 00])"
        );
        let mut riscv = h.clone();
        riscv[18..20].copy_from_slice(&243u16.to_le_bytes());
        assert!(check(&riscv, ARM64_DIRECT_IOMEM)
            .unwrap_err()
            .to_string()
            .contains("e_machine 243"));
        // Only notes, no memory.
        let notes_only = without_phdr(&without_phdr(&without_phdr(&h, 3), 2), 1);
        assert_eq!(
            check(&notes_only, ARM64_DIRECT_IOMEM)
                .unwrap_err()
                .to_string(),
            "invalid vmcore header: no PT_LOAD: the dump holds no memory"
        );
        // A PT_LOAD whose range wraps the address space.
        let wraps = with_load(&h, u64::MAX - 0xfff, 0x2000);
        assert_eq!(
            check(&wraps, ARM64_DIRECT_IOMEM).unwrap_err().to_string(),
            "invalid vmcore header: PT_LOAD 4 (p_vaddr 0x0): physical address \
             0xfffffffffffff000 + size 0x2000 wraps past the end of the address space"
        );
    }
}
