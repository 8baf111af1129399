//! The ELF core header of a panic load (`elfcorehdr=`): the table from which the capture
//! kernel builds `/proc/vmcore`.
//!
//! Layout as the kernel's own `crash_prepare_elf64_headers` writes it for kexec_file
//! (kernel/crash_core.c; kexec-facts §5 "ELF header"): ELFCLASS64, little-endian, ET_CORE,
//! the architecture's e_machine, e_phoff 64, e_phentsize 56, and program headers in order:
//!
//! 1. one `PT_NOTE` per possible CPU: p_offset = p_paddr = that CPU's `crash_notes`
//!    buffer (`/sys/devices/system/cpu/cpuN/crash_notes`), size `crash_notes_size`;
//! 2. one `PT_NOTE` for vmcoreinfo (`/sys/kernel/vmcoreinfo`: address and size);
//! 3. optionally one `PT_LOAD` for the kernel text (p_vaddr = `_text`);
//! 4. one `PT_LOAD` per dumped RAM range: p_offset = p_paddr = start, p_vaddr = its
//!    linear-map address, flags RWX, p_align 0.
//!
//! The buffer is padded to `ELF_CORE_HEADER_ALIGN` (4096).
//!
//! What the reader needs (fs/proc/vmcore.c, kexec-facts §5 "/proc/vmcore"): it checks magic,
//! ET_CORE, native e_machine, ELFCLASS64, EV_CURRENT, e_ehsize 64, e_phentsize 56 and
//! e_phnum > 0; it reads each PT_NOTE's p_memsz bytes **at the physical address p_offset**,
//! and takes each PT_LOAD's **p_offset as the physical address** (rewriting file offsets).
//! p_vaddr matters only to dump tools (makedumpfile, crash, gdb) translating kernel
//! addresses; a wrong kernel-text p_vaddr, as kexec-tools writes on Debian's 6.1 arm64
//! kernel without `_text` in kallsyms (0xffff...ffff, qemu.md), makes /proc/vmcore
//! unreadable, so [`build`] refuses an implausible one and the text header is optional.

use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::fields;
use crate::memmap::{subtract, MemoryMap, Range};
use serde::Serialize;
use std::collections::BTreeMap;

/// The elfcorehdr buffer is padded (and placed) to this alignment (include/linux/kexec.h).
pub const ELF_CORE_HEADER_ALIGN: u64 = 4096;
/// Size of the ELF64 file header.
pub const EHDR_SIZE: u64 = 64;
/// Size of one ELF64 program header.
pub const PHDR_SIZE: u64 = 56;
/// The same two sizes as the u16 fields e_ehsize and e_phentsize hold them.
const E_EHSIZE: u16 = 64;
const E_PHENTSIZE: u16 = 56;
const _: () = assert!(E_EHSIZE as u64 == EHDR_SIZE && E_PHENTSIZE as u64 == PHDR_SIZE);

/// `p_type` values (include/uapi/linux/elf.h).
pub const PT_LOAD: u32 = 1;
pub const PT_NOTE: u32 = 4;
/// `p_flags` of every PT_LOAD: PF_R | PF_W | PF_X, as crash_prepare_elf64_headers sets.
pub const PF_RWX: u32 = 7;
/// e_phnum 0xffff (PN_XNUM) would mean "the count is in section header 0"; stay below it.
pub const MAX_PHNUM: usize = 0xfffe;

/// The running kernel's text mapping (`_text` .. `_end`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KernelText {
    /// Virtual address of `_text`.
    pub vaddr: u64,
    /// Physical address of `_text` (`__pa_symbol(_text)`).
    pub paddr: u64,
    /// `_end - _text`.
    pub size: u64,
}

/// How a physical RAM address maps to its linear-map (direct-map) virtual address:
/// `vaddr = virt_base + (phys - phys_base)`.
///
/// x86_64: `__va(p) = p + page_offset_base`, so `phys_base` = 0 and `virt_base` =
/// page_offset_base. arm64: `__phys_to_virt(p) = (p - PHYS_OFFSET) | PAGE_OFFSET`, so
/// `phys_base` = PHYS_OFFSET (memstart_addr, vmcoreinfo `NUMBER(PHYS_OFFSET)`) and
/// `virt_base` = PAGE_OFFSET (0xffff000000000000 for VA_BITS 48;
/// arch/arm64/include/asm/memory.h). The OR equals the addition because the difference
/// stays below 2^(VA_BITS-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LinearMap {
    pub virt_base: u64,
    pub phys_base: u64,
}

impl LinearMap {
    /// `p_vaddr` of a RAM range starting at `phys`, in wrapping 64-bit arithmetic as the
    /// kernel computes it: with arm64 linear-map randomization PHYS_OFFSET is "negative"
    /// (the fixture's vmcoreinfo has NUMBER(PHYS_OFFSET)=0xfffff70d40000000, and RAM at
    /// 0x40000000 maps to 0xffff08f300000000; arch/arm64/mm/init.c memstart_addr).
    pub fn vaddr(&self, phys: u64) -> u64 {
        self.virt_base
            .wrapping_add(phys.wrapping_sub(self.phys_base))
    }
}

/// Everything the header describes. Addresses are physical unless named vaddr.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ElfCoreInput {
    pub arch: Arch,
    /// (address, size) of each possible CPU's crash_notes buffer, in CPU order.
    pub cpu_notes: Vec<(u64, u64)>,
    /// (address, size) of the vmcoreinfo note (`/sys/kernel/vmcoreinfo`).
    pub vmcoreinfo: Option<(u64, u64)>,
    pub kernel_text: Option<KernelText>,
    /// RAM to dump (see [`dump_ranges`]), in the order to describe it.
    pub ram: Vec<Range>,
    /// For PT_LOAD p_vaddr; `None` leaves p_vaddr 0 (the capture kernel needs only p_offset,
    /// dump tools then fall back to vmcoreinfo).
    pub linear_map: Option<LinearMap>,
}

/// One ELF64 program header (include/uapi/linux/elf.h `Elf64_Phdr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ProgramHeader {
    pub p_type: u32,
    pub p_flags: u32,
    pub p_offset: u64,
    pub p_vaddr: u64,
    pub p_paddr: u64,
    pub p_filesz: u64,
    pub p_memsz: u64,
    pub p_align: u64,
}

impl ProgramHeader {
    fn note(addr: u64, size: u64) -> ProgramHeader {
        ProgramHeader {
            p_type: PT_NOTE,
            p_flags: 0,
            p_offset: addr,
            p_vaddr: 0,
            p_paddr: addr,
            p_filesz: size,
            p_memsz: size,
            p_align: 0,
        }
    }

    fn load(vaddr: u64, paddr: u64, size: u64) -> ProgramHeader {
        ProgramHeader {
            p_type: PT_LOAD,
            p_flags: PF_RWX,
            p_offset: paddr,
            p_vaddr: vaddr,
            p_paddr: paddr,
            p_filesz: size,
            p_memsz: size,
            p_align: 0,
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.p_type.to_le_bytes());
        out.extend_from_slice(&self.p_flags.to_le_bytes());
        for v in [
            self.p_offset,
            self.p_vaddr,
            self.p_paddr,
            self.p_filesz,
            self.p_memsz,
            self.p_align,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

/// A physical range `[addr, addr + size)` must be non-empty and not wrap.
fn check_range(what: &'static str, addr: u64, size: u64) -> Result<()> {
    if size == 0 {
        return Err(Error::invalid(what, format!("empty range at {addr:#x}")));
    }
    fields::add(addr, size, what).map(|_| ())
}

/// The program headers [`build`] writes, in order, after checking the input.
pub fn program_headers(input: &ElfCoreInput) -> Result<Vec<ProgramHeader>> {
    // Saturating is right: a saturated count is over MAX_PHNUM and refused below.
    let count = input
        .cpu_notes
        .len()
        .saturating_add(usize::from(input.vmcoreinfo.is_some()))
        .saturating_add(usize::from(input.kernel_text.is_some()))
        .saturating_add(input.ram.len());
    if count == 0 {
        return Err(Error::invalid(
            "ELF core header",
            "nothing to describe (no CPU notes, vmcoreinfo or RAM); /proc/vmcore refuses e_phnum 0",
        ));
    }
    if count > MAX_PHNUM {
        return Err(Error::invalid(
            "ELF core header",
            format!("{count} program headers do not fit e_phnum (at most {MAX_PHNUM})"),
        ));
    }
    let mut out = Vec::with_capacity(count);
    for &(addr, size) in &input.cpu_notes {
        check_range("CPU crash_notes", addr, size)?;
        out.push(ProgramHeader::note(addr, size));
    }
    if let Some((addr, size)) = input.vmcoreinfo {
        check_range("vmcoreinfo note", addr, size)?;
        out.push(ProgramHeader::note(addr, size));
    }
    if let Some(t) = input.kernel_text {
        check_range("kernel text", t.paddr, t.size)?;
        // Kernel text lives in the upper (kernel) half on x86_64 and arm64; kexec-tools'
        // broken fallback (vaddr 0xffff_ffff_ffff_ffff) fails the overflow check.
        if t.vaddr >> 63 == 0 || t.vaddr.checked_add(t.size).is_none() {
            return Err(Error::invalid(
                "kernel text",
                format!(
                    "virtual address {:#x} (size {:#x}) is not a kernel address; leave the kernel-text header out instead",
                    t.vaddr, t.size
                ),
            ));
        }
        out.push(ProgramHeader::load(t.vaddr, t.paddr, t.size));
    }
    for r in &input.ram {
        if r.is_empty() {
            return Err(Error::invalid("dump range", format!("empty RAM range {r}")));
        }
        let vaddr = match &input.linear_map {
            Some(m) => m.vaddr(r.start),
            None => 0,
        };
        out.push(ProgramHeader::load(vaddr, r.start, r.len()));
    }
    Ok(out)
}

/// Builds the elfcorehdr segment contents, padded to [`ELF_CORE_HEADER_ALIGN`].
pub fn build(input: &ElfCoreInput) -> Result<Vec<u8>> {
    let phdrs = program_headers(input)?;
    let phnum = u16::try_from(phdrs.len()).map_err(|_| Error::Overflow {
        what: "ELF core header e_phnum",
    })?;
    // program_headers refuses more than MAX_PHNUM headers, so this is at most
    // 64 + 0xfffe × 56 bytes rounded up to 4 KiB: nowhere near saturating.
    let used = PHDR_SIZE
        .saturating_mul(u64::from(phnum))
        .saturating_add(EHDR_SIZE);
    let total = usize::try_from(used.next_multiple_of(ELF_CORE_HEADER_ALIGN)).map_err(|_| {
        Error::Overflow {
            what: "ELF core header size",
        }
    })?;
    let mut out = Vec::with_capacity(total);
    // e_ident: magic, ELFCLASS64, ELFDATA2LSB, EV_CURRENT, ELFOSABI_NONE, padding.
    out.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&4u16.to_le_bytes()); // e_type ET_CORE
    out.extend_from_slice(&input.arch.elf_machine().to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes()); // e_version EV_CURRENT
    out.extend_from_slice(&0u64.to_le_bytes()); // e_entry
    out.extend_from_slice(&EHDR_SIZE.to_le_bytes()); // e_phoff
    out.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    out.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    out.extend_from_slice(&E_EHSIZE.to_le_bytes()); // e_ehsize
    out.extend_from_slice(&E_PHENTSIZE.to_le_bytes()); // e_phentsize
    out.extend_from_slice(&phnum.to_le_bytes()); // e_phnum (checked above)
    out.extend_from_slice(&[0; 6]); // e_shentsize, e_shnum, e_shstrndx
    for p in &phdrs {
        p.write(&mut out);
    }
    out.resize(total, 0);
    Ok(out)
}

/// The RAM a panic load dumps: System RAM minus the crash reservations (crashk_res and
/// crashk_low_res, which hold the capture kernel), and on x86_64 also minus [0, 1 MiB),
/// which the kernel's kexec_file path leaves out of the PT_LOADs (kexec-facts §5;
/// arch/x86/kernel/crash.c `elf_header_exclude_ranges`: "Exclude the low 1M because it is
/// always reserved", `crash_exclude_mem_range(cmem, 0, (1<<20)-1)`, then crashk_res and
/// crashk_low_res; later kernels moved this to `arch_crash_exclude_ranges` and added CMA
/// crash ranges, which 6.1 does not have). On arm64 only the crash reservations go, which is what the
/// fixture `reference/arm64-direct-m1024-crashkernel/vmcore-head.bin` (a kernel-made
/// header seen through /proc/vmcore) shows: "reserved" children of RAM stay in the dump.
pub fn dump_ranges(map: &MemoryMap, arch: Arch) -> Vec<Range> {
    let mut holes: Vec<Range> = map.crash.into_iter().chain(map.crash_low).collect();
    if arch == Arch::X86_64 {
        holes.push(Range::new(0, 1 << 20));
    }
    subtract(&map.ram, &holes)
}

/// The arm64 kernel-text PT_LOAD without `_text` from kallsyms (Debian's 6.1 arm64 kernel
/// has none, kexec-facts / qemu.md), from the running kernel's vmcoreinfo and /proc/iomem:
///
/// - `kimage_voffset` (vmcoreinfo `NUMBER(kimage_voffset)`) = kernel-image vaddr − paddr
///   (arch/arm64/include/asm/memory.h);
/// - "Kernel code" starts at `__pa_symbol(_stext)` and "Kernel data" ends at
///   `__pa_symbol(_end)` (arch/arm64/kernel/setup.c); `SYMBOL(_stext)` − kimage_voffset must
///   equal that start, or the two sources describe different kernels;
/// - `_text` is the Image start, placed at a 2 MiB-aligned base with text_offset 0
///   (Documentation/arch/arm64/booting.rst), so its paddr is the 2 MiB boundary at or below
///   `_stext`.
///
/// On the fixture this gives exactly the kernel-text header the kernel itself wrote.
pub fn arm64_kernel_text(
    map: &MemoryMap,
    vmcoreinfo: &BTreeMap<String, String>,
) -> Result<KernelText> {
    let number = |key: &'static str| -> Result<u64> {
        let text = vmcoreinfo
            .get(key)
            .ok_or_else(|| Error::invalid("vmcoreinfo", format!("no {key}")))?;
        u64::from_str_radix(text.trim().trim_start_matches("0x"), 16)
            .map_err(|_| Error::invalid("vmcoreinfo", format!("{key}={text} is not hexadecimal")))
    };
    let voffset = number("NUMBER(kimage_voffset)")?;
    let stext = number("SYMBOL(_stext)")?;
    let range = |name: &str| {
        map.kernel
            .iter()
            .find(|k| k.name == name)
            .map(|k| k.range)
            .ok_or_else(|| Error::invalid("iomem", format!("no \"{name}\" range")))
    };
    let code = range("Kernel code")?;
    let data = range("Kernel data")?;
    if stext.wrapping_sub(voffset) != code.start {
        return Err(Error::invalid(
            "vmcoreinfo",
            format!(
                "_stext {stext:#x} - kimage_voffset {voffset:#x} is not the \"Kernel code\" start {:#x}",
                code.start
            ),
        ));
    }
    let paddr = crate::memmap::align_down(code.start, 2 << 20);
    let size = data
        .end
        .checked_sub(paddr)
        .filter(|&s| s > 0)
        .ok_or_else(|| {
            Error::invalid(
                "iomem",
                format!(
                    "\"Kernel data\" ends at {:#x}, before the kernel text",
                    data.end
                ),
            )
        })?;
    Ok(KernelText {
        vaddr: paddr.wrapping_add(voffset),
        paddr,
        size,
    })
}

/// Parses the KEY=VALUE lines of the "VMCOREINFO" note in a note buffer (a sequence of ELF
/// notes, each `n_namesz, n_descsz, n_type` then name and desc padded to 4 bytes, ended by
/// an empty note or the end of the data; kernel/crash_core.c append_elf_note).
///
/// Keys the loader can use to describe the old kernel without kallsyms: arm64 writes
/// `NUMBER(VA_BITS)`, `NUMBER(kimage_voffset)`, `NUMBER(PHYS_OFFSET)` and `KERNELOFFSET`
/// (arch/arm64/kernel/crash_core.c), x86_64 `KERNELOFFSET` and `NUMBER(phys_base)`; the
/// generic part has `SYMBOL(_stext)`, `PAGESIZE` and `OSRELEASE`.
pub fn parse_vmcoreinfo_note(bytes: &[u8]) -> Result<BTreeMap<String, String>> {
    let mut off = 0u64;
    let len = bytes.len() as u64;
    while off
        .checked_add(12)
        .is_some_and(|header_end| header_end <= len)
    {
        let namesz = u64::from(fields::le_u32(bytes, off, "note name size")?);
        let descsz_at = fields::add(off, 4, "note")?;
        let descsz = u64::from(fields::le_u32(bytes, descsz_at, "note descriptor size")?);
        if namesz == 0 {
            break;
        }
        let name_at = fields::add(off, 12, "note")?;
        let name = fields::slice(bytes, name_at, namesz, "note name")?;
        // namesz and descsz are u32 values: rounding them up to 4 cannot overflow a u64.
        let desc_at = fields::add(name_at, namesz.next_multiple_of(4), "note")?;
        let desc = fields::slice(bytes, desc_at, descsz, "note descriptor")?;
        if name == b"VMCOREINFO\0" || name == b"VMCOREINFO" {
            let text = String::from_utf8_lossy(desc);
            let mut map = BTreeMap::new();
            for line in text.split(['\n', '\0']) {
                if let Some((k, v)) = line.split_once('=') {
                    map.insert(k.to_string(), v.to_string());
                }
            }
            return Ok(map);
        }
        off = fields::add(desc_at, descsz.next_multiple_of(4), "note")?;
    }
    Err(Error::invalid(
        "vmcoreinfo",
        "no VMCOREINFO note in the data",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use goblin::elf::Elf;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/machines");

    fn fixture(path: &str) -> Vec<u8> {
        std::fs::read(format!("{FIXTURES}/{path}")).unwrap()
    }

    fn fixture_map(machine: &str) -> MemoryMap {
        let iomem = String::from_utf8(fixture(&format!("{machine}/proc/iomem"))).unwrap();
        MemoryMap::parse(&iomem, Vec::new()).unwrap()
    }

    /// Renders the header as goblin reads it: one line per program header, hex addresses.
    fn render(bytes: &[u8]) -> String {
        let elf = Elf::parse(bytes).unwrap();
        let mut s = format!(
            "len {:#x} type {} machine {} phoff {} phentsize {} phnum {}\n",
            bytes.len(),
            elf.header.e_type,
            elf.header.e_machine,
            elf.header.e_phoff,
            elf.header.e_phentsize,
            elf.header.e_phnum
        );
        s.push_str("type  flags offset             vaddr              paddr              filesz             memsz              align\n");
        for p in &elf.program_headers {
            let t = match p.p_type {
                PT_LOAD => "LOAD",
                PT_NOTE => "NOTE",
                _ => "????",
            };
            s.push_str(&format!(
                "{t:<5} {:<5} {:#018x} {:#018x} {:#018x} {:#018x} {:#018x} {:#x}\n",
                p.p_flags, p.p_offset, p.p_vaddr, p.p_paddr, p.p_filesz, p.p_memsz, p.p_align
            ));
        }
        s
    }

    /// x86_64-bios-m1024 (1 GiB, crashkernel=256M, `Kernel code` at 0x32800000).
    /// MADE-UP values (not in the fixture tree): two CPUs' crash_notes at plausible per-CPU
    /// addresses, the vmcoreinfo note at the fixture's /sys/kernel/vmcoreinfo address
    /// (0x1338000, size 1024; that one is real), _text at the non-KASLR
    /// 0xffffffff81000000 mapped to the fixture's Kernel code start, and the non-KASLR
    /// page_offset_base 0xffff888000000000.
    fn x86_input() -> ElfCoreInput {
        let map = fixture_map("x86_64-bios-m1024");
        ElfCoreInput {
            arch: Arch::X86_64,
            cpu_notes: vec![(0x3fc1_6e00, 0x1a8), (0x3fc3_6e00, 0x1a8)],
            vmcoreinfo: Some((0x0133_8000, 1024)),
            kernel_text: Some(KernelText {
                vaddr: 0xffff_ffff_8100_0000,
                paddr: 0x3280_0000,
                size: 0x0340_0000,
            }),
            ram: dump_ranges(&map, Arch::X86_64),
            linear_map: Some(LinearMap {
                virt_base: 0xffff_8880_0000_0000,
                phys_base: 0,
            }),
        }
    }

    #[test]
    fn x86_dump_ranges_drop_low_mib_and_crash_kernel() {
        let map = fixture_map("x86_64-bios-m1024");
        assert_eq!(
            dump_ranges(&map, Arch::X86_64),
            vec![
                Range::new(0x10_0000, 0x2200_0000),
                Range::new(0x3200_0000, 0x3ffe_0000)
            ]
        );
    }

    #[test]
    fn every_field_reads_back_with_goblin() {
        let input = x86_input();
        let bytes = build(&input).unwrap();
        assert_eq!(bytes.len(), 4096);
        let elf = Elf::parse(&bytes).unwrap();
        let h = &elf.header;
        assert_eq!(&h.e_ident[..8], &[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
        assert!(elf.is_64 && elf.little_endian);
        assert_eq!(h.e_type, goblin::elf::header::ET_CORE);
        assert_eq!(h.e_machine, goblin::elf::header::EM_X86_64);
        assert_eq!(h.e_version, 1);
        assert_eq!((h.e_entry, h.e_flags, h.e_shoff), (0, 0, 0));
        assert_eq!((h.e_ehsize, h.e_phentsize, h.e_phoff), (64, 56, 64));
        assert_eq!((h.e_shentsize, h.e_shnum, h.e_shstrndx), (0, 0, 0));
        assert_eq!(h.e_phnum, 6);
        let got: Vec<ProgramHeader> = elf
            .program_headers
            .iter()
            .map(|p| ProgramHeader {
                p_type: p.p_type,
                p_flags: p.p_flags,
                p_offset: p.p_offset,
                p_vaddr: p.p_vaddr,
                p_paddr: p.p_paddr,
                p_filesz: p.p_filesz,
                p_memsz: p.p_memsz,
                p_align: p.p_align,
            })
            .collect();
        assert_eq!(got, program_headers(&input).unwrap());
        assert_eq!(got[0], ProgramHeader::note(0x3fc1_6e00, 0x1a8));
        assert_eq!(got[2], ProgramHeader::note(0x0133_8000, 1024));
        assert_eq!(
            got[3],
            ProgramHeader::load(0xffff_ffff_8100_0000, 0x3280_0000, 0x0340_0000)
        );
        assert_eq!(
            got[5],
            ProgramHeader::load(0xffff_8880_3200_0000, 0x3200_0000, 0x0dfe_0000)
        );
        // Padding after the table is zero.
        assert!(bytes[64 + 6 * 56..].iter().all(|&b| b == 0));
    }

    #[test]
    fn x86_snapshot() {
        let bytes = build(&x86_input()).unwrap();
        insta::assert_snapshot!("elfcore_x86_64_bios_m1024", render(&bytes));
    }

    /// The arm64 fixture: its /proc/iomem and the header the capture kernel showed in
    /// /proc/vmcore (offsets rewritten there, so only types, addresses, sizes and flags are
    /// compared). The linear map comes from that dump's VMCOREINFO (PHYS_OFFSET, VA_BITS 48)
    /// and the kernel text from its kernel-text PT_LOAD; the CPU note address is made up.
    #[test]
    fn arm64_matches_the_kernel_made_header() {
        let vmcore = fixture("reference/arm64-direct-m1024-crashkernel/vmcore-head.bin");
        let reference = Elf::parse(&vmcore).unwrap();
        let note = &reference.program_headers[0];
        let info = parse_vmcoreinfo_note(
            &vmcore[note.p_offset as usize..(note.p_offset + note.p_filesz) as usize],
        )
        .unwrap();
        let phys_offset =
            u64::from_str_radix(info["NUMBER(PHYS_OFFSET)"].trim_start_matches("0x"), 16).unwrap();
        assert_eq!(info["NUMBER(VA_BITS)"], "48");
        let text = &reference.program_headers[1];
        let map = fixture_map("arm64-direct-m1024-crashkernel");
        let input = ElfCoreInput {
            arch: Arch::Arm64,
            cpu_notes: vec![(0x7fb0_f000, 0x1c8)],
            vmcoreinfo: None,
            kernel_text: Some(KernelText {
                vaddr: text.p_vaddr,
                paddr: text.p_paddr,
                size: text.p_memsz,
            }),
            ram: dump_ranges(&map, Arch::Arm64),
            linear_map: Some(LinearMap {
                virt_base: 0xffff_0000_0000_0000,
                phys_base: phys_offset,
            }),
        };
        let ours = program_headers(&input).unwrap();
        let ours_loads: Vec<_> = ours
            .iter()
            .filter(|p| p.p_type == PT_LOAD)
            .map(|p| {
                (
                    p.p_vaddr, p.p_paddr, p.p_filesz, p.p_memsz, p.p_flags, p.p_align,
                )
            })
            .collect();
        let kernel_loads: Vec<_> = reference
            .program_headers
            .iter()
            .filter(|p| p.p_type == PT_LOAD)
            .map(|p| {
                (
                    p.p_vaddr, p.p_paddr, p.p_filesz, p.p_memsz, p.p_flags, p.p_align,
                )
            })
            .collect();
        assert_eq!(ours_loads, kernel_loads);
        let bytes = build(&input).unwrap();
        assert_eq!(Elf::parse(&bytes).unwrap().header.e_machine, 183);
        insta::assert_snapshot!("elfcore_arm64_direct_m1024_crashkernel", render(&bytes));
    }

    #[test]
    fn arm64_kernel_text_from_vmcoreinfo_and_iomem_matches_the_kernel() {
        let vmcore = fixture("reference/arm64-direct-m1024-crashkernel/vmcore-head.bin");
        let reference = Elf::parse(&vmcore).unwrap();
        let info = parse_vmcoreinfo_note(&vmcore[0x1000..0x1000 + 0xf4c]).unwrap();
        let map = fixture_map("arm64-direct-m1024-crashkernel");
        let text = arm64_kernel_text(&map, &info).unwrap();
        let k = &reference.program_headers[1];
        assert_eq!(
            (text.vaddr, text.paddr, text.size),
            (k.p_vaddr, k.p_paddr, k.p_memsz)
        );
        let mut other = info.clone();
        other.insert("SYMBOL(_stext)".into(), "ffffbca931e20000".into());
        let e = arm64_kernel_text(&map, &other).unwrap_err().to_string();
        assert!(e.contains("is not the \"Kernel code\" start"), "{e}");
        other.remove("NUMBER(kimage_voffset)");
        assert!(arm64_kernel_text(&map, &other).is_err());
    }

    #[test]
    fn vmcoreinfo_keys_from_the_arm64_dump() {
        let vmcore = fixture("reference/arm64-direct-m1024-crashkernel/vmcore-head.bin");
        let info = parse_vmcoreinfo_note(&vmcore[0x1000..0x1000 + 0xf4c]).unwrap();
        assert_eq!(info["OSRELEASE"], "6.1.0-56-arm64");
        assert_eq!(info["KERNELOFFSET"], "3ca929e00000");
        assert_eq!(info["NUMBER(kimage_voffset)"], "0xffffbca8f1c00000");
        assert_eq!(info["SYMBOL(_stext)"], "ffffbca931e10000");
        assert!(!info.contains_key("SYMBOL(_text)"));
    }

    fn note(name: &[u8], desc: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&(name.len() as u32).to_le_bytes());
        v.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(name);
        v.resize(v.len().div_ceil(4) * 4, 0);
        v.extend_from_slice(desc);
        v.resize(v.len().div_ceil(4) * 4, 0);
        v
    }

    #[test]
    fn vmcoreinfo_note_parsing_skips_other_notes_and_checks_bounds() {
        let mut buf = note(b"CORE\0", &[1, 2, 3, 4, 5]);
        buf.extend(note(b"VMCOREINFO\0", b"PAGESIZE=4096\nKERNELOFFSET=0\n"));
        buf.extend([0u8; 12]);
        let m = parse_vmcoreinfo_note(&buf).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m["PAGESIZE"], "4096");
        // Only a CORE note, then the empty terminator: no VMCOREINFO.
        let only = [note(b"CORE\0", &[0; 8]), vec![0; 12]].concat();
        assert!(parse_vmcoreinfo_note(&only).is_err());
        // A descriptor size past the end.
        let mut bad = note(b"VMCOREINFO\0", b"A=1\n");
        bad[4..8].copy_from_slice(&0x1000u32.to_le_bytes());
        let e = parse_vmcoreinfo_note(&bad).unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
    }

    #[test]
    fn bad_inputs_are_refused_with_a_reason() {
        let mut i = x86_input();
        // kexec-tools' fallback when kallsyms has no _text.
        i.kernel_text = Some(KernelText {
            vaddr: u64::MAX,
            paddr: 0x4020_0000,
            size: 0x0201_0000,
        });
        let e = build(&i).unwrap_err().to_string();
        assert!(e.contains("not a kernel address"), "{e}");
        i.kernel_text = None;
        assert_eq!(Elf::parse(&build(&i).unwrap()).unwrap().header.e_phnum, 5);

        let empty = ElfCoreInput {
            arch: Arch::X86_64,
            cpu_notes: vec![],
            vmcoreinfo: None,
            kernel_text: None,
            ram: vec![],
            linear_map: None,
        };
        assert!(build(&empty).unwrap_err().to_string().contains("e_phnum 0"));

        let mut many = empty.clone();
        many.ram = (0..=MAX_PHNUM as u64)
            .map(|k| Range::new(k * 0x2000, k * 0x2000 + 0x1000))
            .collect();
        assert!(build(&many).unwrap_err().to_string().contains("do not fit"));
        many.ram.pop();
        let b = build(&many).unwrap();
        assert_eq!(b.len() % 4096, 0);
        assert_eq!(Elf::parse(&b).unwrap().header.e_phnum as usize, MAX_PHNUM);

        let mut wrap = empty.clone();
        wrap.cpu_notes = vec![(u64::MAX - 8, 0x100)];
        assert!(matches!(build(&wrap), Err(Error::Overflow { .. })));
        wrap.cpu_notes = vec![(0x1000, 0)];
        assert!(build(&wrap).unwrap_err().to_string().contains("empty"));
    }

    proptest::proptest! {
        #[test]
        fn random_ram_lists_read_back(
            starts in proptest::collection::vec((0u64..1 << 40, 1u64..1 << 30), 0..300),
            cpus in 0usize..8,
            page_offset in proptest::prelude::any::<u64>(),
        ) {
            let ram: Vec<Range> = starts.iter().map(|&(s, l)| Range::new(s, s + l)).collect();
            let input = ElfCoreInput {
                arch: Arch::Arm64,
                cpu_notes: (0..cpus as u64).map(|c| (0x1000 * (c + 1), 0x1c8)).collect(),
                vmcoreinfo: Some((0x9000, 0x1000)),
                kernel_text: None,
                ram: ram.clone(),
                linear_map: Some(LinearMap { virt_base: page_offset, phys_base: 0x4000_0000 }),
            };
            let bytes = build(&input).unwrap();
            proptest::prop_assert_eq!(bytes.len() % 4096, 0);
            proptest::prop_assert!(bytes.len() as u64 >= 64 + 56 * (cpus + 1 + ram.len()) as u64);
            let elf = Elf::parse(&bytes).unwrap();
            proptest::prop_assert_eq!(elf.program_headers.len(), cpus + 1 + ram.len());
            for (p, r) in elf.program_headers[cpus + 1..].iter().zip(&ram) {
                proptest::prop_assert_eq!(p.p_type, PT_LOAD);
                proptest::prop_assert_eq!((p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz), (r.start, r.start, r.len(), r.len()));
                proptest::prop_assert_eq!(p.p_vaddr, page_offset.wrapping_add(r.start.wrapping_sub(0x4000_0000)));
            }
        }

        #[test]
        fn arbitrary_note_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = parse_vmcoreinfo_note(&bytes);
        }

        #[test]
        fn arbitrary_inputs_never_panic(
            notes in proptest::collection::vec((proptest::prelude::any::<u64>(), proptest::prelude::any::<u64>()), 0..4),
            ram in proptest::collection::vec((proptest::prelude::any::<u64>(), proptest::prelude::any::<u64>()), 0..4),
            text in proptest::option::of((proptest::prelude::any::<u64>(), proptest::prelude::any::<u64>(), proptest::prelude::any::<u64>())),
        ) {
            let input = ElfCoreInput {
                arch: Arch::X86_64,
                cpu_notes: notes,
                vmcoreinfo: None,
                kernel_text: text.map(|(vaddr, paddr, size)| KernelText { vaddr, paddr, size }),
                ram: ram.into_iter().map(|(s, e)| Range::new(s, e)).collect(),
                linear_map: None,
            };
            if let Ok(b) = build(&input) {
                proptest::prop_assert!(Elf::parse(&b).is_ok());
            }
        }
    }
}
