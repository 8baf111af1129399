//! Small ELF64 vmlinux images for tests and fuzz seeds, written byte by byte.
//!
//! Layout (include/uapi/linux/elf.h): the 64-byte Elf64_Ehdr, the Elf64_Phdr array right
//! after it, then each segment's file bytes at a 512-byte-aligned offset (congruent with
//! its 512-byte-aligned virtual address, as the ELF spec wants). No section headers.
//! The presets mirror the real kernels' shapes: x86_64 vmlinux has a physical e_entry
//! (startup_64 at LOAD_PHYSICAL_ADDR) and text/rodata/data PT_LOADs with p_paddr ≠ p_vaddr;
//! arm64 vmlinux has a virtual e_entry and p_paddr = p_vaddr. A "Linux version …" banner
//! (init/version.c `linux_banner`) is placed in the rodata-like segment.

/// ELF constants used here (include/uapi/linux/elf.h, elf-em.h).
pub const EM_X86_64: u16 = 62;
pub const EM_AARCH64: u16 = 183;
pub const ET_EXEC: u16 = 2;
pub const ET_DYN: u16 = 3;
pub const PT_LOAD: u32 = 1;
pub const PT_NOTE: u32 = 4;
pub const PF_X: u32 = 1;
pub const PF_W: u32 = 2;
pub const PF_R: u32 = 4;

const EHDR_SIZE: usize = 64;
const PHDR_SIZE: usize = 56;
const FILE_ALIGN: usize = 0x200;

/// One program header and, for PT_LOAD, the file bytes it maps.
#[derive(Debug, Clone)]
pub struct SegmentSpec {
    pub p_type: u32,
    pub flags: u32,
    pub paddr: u64,
    pub vaddr: u64,
    /// File bytes; p_filesz is their length.
    pub data: Vec<u8>,
    /// p_memsz; at least `data.len()` for a valid image.
    pub memsz: u64,
    pub align: u64,
}

impl SegmentSpec {
    /// A PT_LOAD of `filesz` filler bytes and `memsz` bytes of memory.
    pub fn load(paddr: u64, vaddr: u64, filesz: usize, memsz: u64, flags: u32) -> SegmentSpec {
        SegmentSpec {
            p_type: PT_LOAD,
            flags,
            paddr,
            vaddr,
            data: (0..filesz).map(|i| (i % 251) as u8 | 0x80).collect(),
            memsz,
            align: FILE_ALIGN as u64,
        }
    }
}

/// Builder for a synthetic ELF64 little-endian vmlinux.
#[derive(Debug, Clone)]
pub struct ElfBuilder {
    pub machine: u16,
    pub e_type: u16,
    pub entry: u64,
    pub segments: Vec<SegmentSpec>,
    /// Written at offset 0x40 of segment `banner_segment`, NUL-terminated.
    pub banner: Option<String>,
    pub banner_segment: usize,
}

/// The banner the presets carry.
pub const BANNER: &str = "Linux version 6.1.0-synth (warmboot@example.org) (gcc (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.0-1 (2026-11-16)\n";

impl ElfBuilder {
    /// An x86_64 vmlinux: text (R-X), rodata with the banner and a note (R--), and
    /// data+bss (RW-, memsz > filesz), linked at 0xffffffff81000000 and loaded at 16 MiB.
    pub fn x86_64() -> ElfBuilder {
        const VIRT: u64 = 0xffff_ffff_8000_0000; // __START_KERNEL_map
        let text = 0x100_0000;
        let rodata = 0x120_0000;
        let data = 0x140_0000;
        let mut note = SegmentSpec::load(rodata + 0x1f0, VIRT + rodata + 0x1f0, 0, 0, PF_R);
        note.p_type = PT_NOTE;
        ElfBuilder {
            machine: EM_X86_64,
            e_type: ET_EXEC,
            entry: text,
            segments: vec![
                SegmentSpec::load(text, VIRT + text, 0x200, 0x200, PF_R | PF_X),
                SegmentSpec::load(rodata, VIRT + rodata, 0x200, 0x200, PF_R),
                SegmentSpec::load(data, VIRT + data, 0x100, 0x1_0000, PF_R | PF_W),
                note,
            ],
            banner: Some(BANNER.to_string()),
            banner_segment: 1,
        }
    }

    /// An arm64 vmlinux: one RWX PT_LOAD at the kernel's virtual base with p_paddr =
    /// p_vaddr, ET_DYN as CONFIG_RELOCATABLE links it (arch/arm64/Makefile: -shared).
    pub fn aarch64() -> ElfBuilder {
        let base = 0xffff_8000_0800_0000;
        ElfBuilder {
            machine: EM_AARCH64,
            e_type: ET_DYN,
            entry: base,
            segments: vec![SegmentSpec::load(
                base,
                base,
                0x300,
                0x2_0000,
                PF_R | PF_W | PF_X,
            )],
            banner: Some(BANNER.to_string()),
            banner_segment: 0,
        }
    }

    pub fn machine(mut self, m: u16) -> Self {
        self.machine = m;
        self
    }
    pub fn entry(mut self, e: u64) -> Self {
        self.entry = e;
        self
    }
    pub fn segments(mut self, s: Vec<SegmentSpec>) -> Self {
        self.segments = s;
        self
    }
    pub fn banner(mut self, b: Option<&str>) -> Self {
        self.banner = b.map(str::to_string);
        self
    }

    /// File offsets of the segments' data, as `build` lays them out.
    pub fn layout(&self) -> Vec<usize> {
        let mut off = (EHDR_SIZE + PHDR_SIZE * self.segments.len()).next_multiple_of(FILE_ALIGN);
        let mut out = Vec::new();
        for s in &self.segments {
            out.push(off);
            off = (off + s.data.len()).next_multiple_of(FILE_ALIGN);
        }
        out
    }

    /// [`ElfBuilder::build`] cut right after the last segment's bytes, as a bzImage
    /// payload's `vmlinux.bin` ends (objcopy writes nothing past what it keeps): the x86
    /// relocation table appended to it starts where the ELF ends.
    pub fn vmlinux_bin(&self) -> Vec<u8> {
        let mut out = self.build();
        let end = crate::image::elf::ElfKernel::parse(&out)
            .map(|e| e.file_end)
            .unwrap_or(out.len() as u64);
        out.truncate(end as usize);
        out
    }

    pub fn build(&self) -> Vec<u8> {
        let mut segments = self.segments.clone();
        if let Some(b) = &self.banner {
            if let Some(seg) = segments.get_mut(self.banner_segment) {
                let mut bytes = b.as_bytes().to_vec();
                bytes.push(0);
                let end = 0x40 + bytes.len();
                if seg.data.len() < end {
                    seg.data.resize(end, 0);
                    seg.memsz = seg.memsz.max(end as u64);
                }
                seg.data[0x40..end].copy_from_slice(&bytes);
            }
        }
        let this = ElfBuilder {
            segments,
            ..self.clone()
        };
        let offsets = this.layout();

        let mut buf = vec![0u8; EHDR_SIZE];
        buf[..4].copy_from_slice(b"\x7fELF");
        buf[4] = 2; // ELFCLASS64
        buf[5] = 1; // ELFDATA2LSB
        buf[6] = 1; // EV_CURRENT
        buf[16..18].copy_from_slice(&this.e_type.to_le_bytes());
        buf[18..20].copy_from_slice(&this.machine.to_le_bytes());
        buf[20..24].copy_from_slice(&1u32.to_le_bytes());
        buf[24..32].copy_from_slice(&this.entry.to_le_bytes());
        buf[32..40].copy_from_slice(&(EHDR_SIZE as u64).to_le_bytes()); // e_phoff
        buf[52..54].copy_from_slice(&(EHDR_SIZE as u16).to_le_bytes());
        buf[54..56].copy_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
        buf[56..58].copy_from_slice(&(this.segments.len() as u16).to_le_bytes());
        buf[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
        for (s, &off) in this.segments.iter().zip(&offsets) {
            buf.extend_from_slice(&s.p_type.to_le_bytes());
            buf.extend_from_slice(&s.flags.to_le_bytes());
            buf.extend_from_slice(&(off as u64).to_le_bytes());
            buf.extend_from_slice(&s.vaddr.to_le_bytes());
            buf.extend_from_slice(&s.paddr.to_le_bytes());
            buf.extend_from_slice(&(s.data.len() as u64).to_le_bytes());
            buf.extend_from_slice(&s.memsz.to_le_bytes());
            buf.extend_from_slice(&s.align.to_le_bytes());
        }
        for (s, &off) in this.segments.iter().zip(&offsets) {
            if buf.len() < off + s.data.len() {
                buf.resize(off + s.data.len(), 0);
            }
            buf[off..off + s.data.len()].copy_from_slice(&s.data);
        }
        buf
    }
}
