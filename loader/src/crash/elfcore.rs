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
/// `phys_base` = PHYS_OFFSET (memstart_addr) and `virt_base` = PAGE_OFFSET
/// (arch/arm64/include/asm/memory.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LinearMap {
    pub virt_base: u64,
    pub phys_base: u64,
}

impl LinearMap {
    /// `p_vaddr` of a RAM range starting at `phys`.
    pub fn vaddr(&self, phys: u64) -> Result<u64> {
        let off = phys.checked_sub(self.phys_base).ok_or_else(|| {
            Error::invalid(
                "linear map",
                format!(
                    "RAM at {phys:#x} lies below the linear map's physical base {:#x}",
                    self.phys_base
                ),
            )
        })?;
        fields::add(self.virt_base, off, "linear-map address")
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
    let count = input.cpu_notes.len()
        + usize::from(input.vmcoreinfo.is_some())
        + usize::from(input.kernel_text.is_some())
        + input.ram.len();
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
            Some(m) => m.vaddr(r.start)?,
            None => 0,
        };
        out.push(ProgramHeader::load(vaddr, r.start, r.len()));
    }
    Ok(out)
}

/// Builds the elfcorehdr segment contents, padded to [`ELF_CORE_HEADER_ALIGN`].
pub fn build(input: &ElfCoreInput) -> Result<Vec<u8>> {
    let phdrs = program_headers(input)?;
    let used = EHDR_SIZE + PHDR_SIZE * phdrs.len() as u64;
    let total = used.div_ceil(ELF_CORE_HEADER_ALIGN) * ELF_CORE_HEADER_ALIGN;
    let mut out = Vec::with_capacity(total as usize);
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
    out.extend_from_slice(&(EHDR_SIZE as u16).to_le_bytes()); // e_ehsize
    out.extend_from_slice(&(PHDR_SIZE as u16).to_le_bytes()); // e_phentsize
    out.extend_from_slice(&(phdrs.len() as u16).to_le_bytes()); // e_phnum (checked above)
    out.extend_from_slice(&[0; 6]); // e_shentsize, e_shnum, e_shstrndx
    for p in &phdrs {
        p.write(&mut out);
    }
    out.resize(total as usize, 0);
    Ok(out)
}

/// The RAM a panic load dumps: System RAM minus the crash reservations (crashk_res and
/// crashk_low_res, which hold the capture kernel), and on x86_64 also minus [0, 1 MiB),
/// which the kernel's kexec_file path leaves out of the PT_LOADs (kexec-facts §5,
/// arch/x86/kernel/crash.c). On arm64 only the crash reservations go, which is what the
/// fixture `reference/arm64-direct-m1024-crashkernel/vmcore-head.bin` (a kernel-made
/// header seen through /proc/vmcore) shows: "reserved" children of RAM stay in the dump.
pub fn dump_ranges(map: &MemoryMap, arch: Arch) -> Vec<Range> {
    let mut holes: Vec<Range> = map.crash.into_iter().chain(map.crash_low).collect();
    if arch == Arch::X86_64 {
        holes.push(Range::new(0, 1 << 20));
    }
    subtract(&map.ram, &holes)
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
    while off + 12 <= bytes.len() as u64 {
        let namesz = fields::le_u32(bytes, off, "note name size")? as u64;
        let descsz = fields::le_u32(bytes, off + 4, "note descriptor size")? as u64;
        if namesz == 0 {
            break;
        }
        let name_at = off + 12;
        let name = fields::slice(bytes, name_at, namesz, "note name")?;
        let desc_at = fields::add(name_at, namesz.div_ceil(4) * 4, "note")?;
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
        off = fields::add(desc_at, descsz.div_ceil(4) * 4, "note")?;
    }
    Err(Error::invalid(
        "vmcoreinfo",
        "no VMCOREINFO note in the data",
    ))
}
