//! ELF vmlinux for x86_64 and aarch64: the entry point and the PT_LOAD segments a loader
//! copies, from the ELF header and program headers (include/uapi/linux/elf.h, the System V
//! gABI). Header parsing is goblin's; warmboot adds the checks a loader needs.
//!
//! Only the program headers matter for loading, so section headers, symbols and
//! relocations are not parsed (a stripped or oddly linked vmlinux still loads), except that
//! `.rodata` is looked up when present to find the version banner quickly.
//!
//! Both ET_EXEC and ET_DYN are accepted: an x86_64 vmlinux is ET_EXEC, an arm64 vmlinux
//! built with CONFIG_RELOCATABLE is linked with `-shared` (arch/arm64/Makefile) and so is
//! ET_DYN.

use super::field::Field;
use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::fields::{add, array, slice};
use goblin::container::{Container, Ctx};
use goblin::elf::program_header::{ProgramHeader, PT_LOAD};
use goblin::elf::section_header::SectionHeader;
use serde::Serialize;

const ELFCLASS32: u8 = 1;
const ELFCLASS64: u8 = 2;
const ELFDATA2LSB: u8 = 1;
const ELFDATA2MSB: u8 = 2;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const EHDR64_SIZE: u64 = 64;
const PHDR64_SIZE: u16 = 56;
const SHDR64_SIZE: u16 = 64;
/// The banner init/version.c prints first at boot: "Linux version <release> (<builder>) …".
const BANNER: &[u8] = b"Linux version ";
/// Longest version string kept; real banners are ~150 bytes.
const MAX_VERSION_LEN: usize = 512;
/// p_flags bits.
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;

/// A parsed ELF vmlinux.
#[derive(Debug, Clone, Serialize)]
pub struct ElfKernel {
    pub arch: Arch,
    /// e_machine (62 or 183).
    pub machine: u16,
    /// e_type: 2 ET_EXEC or 3 ET_DYN.
    pub elf_type: u16,
    /// e_entry as linked: physical on x86_64 (startup_64 at LOAD_PHYSICAL_ADDR), virtual
    /// on arm64.
    pub entry: u64,
    pub file_size: u64,
    /// Where the ELF's own bytes end: the furthest of the ELF header, the program header
    /// table, the PT_LOADs' file bytes and the section header table (which objcopy and
    /// ld write last). An x86 bzImage payload appends its relocation table right there
    /// (arch/x86/boot/compressed/Makefile: `vmlinux.bin.all = vmlinux.bin + vmlinux.relocs`).
    pub file_end: u64,
    /// The PT_LOAD segments, in program-header order.
    pub segments: Vec<ElfSegment>,
    /// The text after "Linux version " in the banner, e.g. "6.1.0-56-amd64 (…) …".
    pub version: Option<String>,
}

/// One PT_LOAD program header, checked: its file bytes lie inside the file,
/// filesz ≤ memsz, and neither address range wraps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ElfSegment {
    pub paddr: u64,
    pub vaddr: u64,
    pub offset: u64,
    pub filesz: u64,
    pub memsz: u64,
    pub align: u64,
    /// p_flags: PF_R 4, PF_W 2, PF_X 1.
    pub flags: u32,
}

impl ElfSegment {
    /// "RWX"-style permissions, '-' for a missing one.
    pub fn rwx(&self) -> String {
        [(PF_R, 'R'), (PF_W, 'W'), (PF_X, 'X')]
            .iter()
            .map(|&(bit, c)| if self.flags & bit != 0 { c } else { '-' })
            .collect()
    }
}

/// True when `data` starts with the ELF magic.
pub fn looks_like(data: &[u8]) -> bool {
    data.starts_with(b"\x7fELF")
}

/// Human name of an e_machine value (include/uapi/linux/elf-em.h), for errors.
fn machine_name(m: u16) -> &'static str {
    match m {
        2 => "SPARC",
        3 => "i386",
        8 => "MIPS",
        20 => "PowerPC",
        21 => "PowerPC64",
        22 => "s390",
        40 => "32-bit ARM",
        42 => "SuperH",
        43 => "SPARC64",
        50 => "IA-64",
        62 => "x86_64",
        183 => "arm64",
        243 => "RISC-V",
        258 => "LoongArch",
        _ => "an unknown machine",
    }
}

impl ElfKernel {
    /// Parses and checks the ELF header and the PT_LOAD program headers.
    pub fn parse(data: &[u8]) -> Result<ElfKernel> {
        let ident: [u8; 20] = array(data, 0, "ELF header")?;
        if !ident.starts_with(b"\x7fELF") {
            return Err(Error::invalid("ELF header", "no \\x7fELF magic"));
        }
        let (class, encoding) = (ident[4], ident[5]);
        let machine = match encoding {
            ELFDATA2LSB => u16::from_le_bytes([ident[18], ident[19]]),
            ELFDATA2MSB => u16::from_be_bytes([ident[18], ident[19]]),
            other => {
                return Err(Error::invalid(
                    "ELF header",
                    format!("unknown data encoding (EI_DATA {other})"),
                ))
            }
        };
        let bits = match class {
            ELFCLASS32 => 32,
            ELFCLASS64 => 64,
            other => {
                return Err(Error::invalid(
                    "ELF header",
                    format!("unknown class (EI_CLASS {other})"),
                ))
            }
        };
        let what = format!("ELF for {} (e_machine {machine})", machine_name(machine));
        if bits == 32 {
            return Err(Error::UnsupportedArch(format!("32-bit {what}")));
        }
        if encoding == ELFDATA2MSB {
            return Err(Error::UnsupportedArch(format!("big-endian {what}")));
        }
        let arch = match machine {
            62 => Arch::X86_64,
            183 => Arch::Arm64,
            _ => return Err(Error::UnsupportedArch(what)),
        };

        slice(data, 0, EHDR64_SIZE, "ELF header")?;
        let header = goblin::elf::Elf::parse_header(data)
            .map_err(|e| Error::invalid("ELF header", e.to_string()))?;
        if header.e_type != ET_EXEC && header.e_type != ET_DYN {
            return Err(Error::invalid(
                "ELF header",
                format!(
                    "e_type {} is not an executable (ET_EXEC) or position-independent executable (ET_DYN)",
                    header.e_type
                ),
            ));
        }
        let ctx = Ctx::new(Container::Big, goblin::container::Endian::Little);

        // Check the program header table against the data before goblin allocates for it.
        let phnum = header.e_phnum;
        if phnum > 0 && header.e_phentsize != PHDR64_SIZE {
            return Err(Error::invalid(
                "ELF header",
                format!(
                    "e_phentsize is {}, expected {PHDR64_SIZE}",
                    header.e_phentsize
                ),
            ));
        }
        // A u16 count times a u16 size cannot overflow (or saturate) a u64.
        let table_len = u64::from(phnum).saturating_mul(u64::from(PHDR64_SIZE));
        let table_end = add(header.e_phoff, table_len, "ELF program headers")?;
        slice(data, header.e_phoff, table_len, "ELF program headers")?;
        let phoff = usize::try_from(header.e_phoff).map_err(|_| Error::Overflow {
            what: "ELF program header offset",
        })?;
        let phdrs = ProgramHeader::parse(data, phoff, usize::from(phnum), ctx)
            .map_err(|e| Error::invalid("ELF program headers", e.to_string()))?;

        let mut segments = Vec::new();
        let mut segments_end = 0;
        for ph in phdrs.iter().filter(|p| p.p_type == PT_LOAD) {
            let seg = ElfSegment {
                paddr: ph.p_paddr,
                vaddr: ph.p_vaddr,
                offset: ph.p_offset,
                filesz: ph.p_filesz,
                memsz: ph.p_memsz,
                align: ph.p_align,
                flags: ph.p_flags,
            };
            let seg_end = add(seg.offset, seg.filesz, "ELF PT_LOAD segment")?;
            slice(data, seg.offset, seg.filesz, "ELF PT_LOAD segment")?;
            segments_end = segments_end.max(seg_end);
            if seg.filesz > seg.memsz {
                return Err(Error::invalid(
                    "ELF PT_LOAD segment",
                    format!(
                        "p_filesz {:#x} is larger than p_memsz {:#x}",
                        seg.filesz, seg.memsz
                    ),
                ));
            }
            add(seg.paddr, seg.memsz, "ELF PT_LOAD physical range")?;
            add(seg.vaddr, seg.memsz, "ELF PT_LOAD virtual range")?;
            segments.push(seg);
        }
        if segments.is_empty() {
            return Err(Error::invalid(
                "ELF program headers",
                "ELF has no loadable segments (PT_LOAD)",
            ));
        }

        let version = rodata(data, &header, ctx)
            .and_then(find_banner)
            .or_else(|| find_banner_in_segments(data, &segments));
        // Every term lies inside the data (checked above, or here). Section headers are
        // optional for loading: a table outside the file is left out. A u16 count times a
        // u16 size cannot overflow (or saturate) a u64.
        let shlen = u64::from(header.e_shnum).saturating_mul(u64::from(header.e_shentsize));
        let section_table_end = match header.e_shoff {
            0 => 0,
            off => off
                .checked_add(shlen)
                .filter(|&end| end <= data.len() as u64)
                .unwrap_or(0),
        };
        let file_end = [EHDR64_SIZE, table_end, section_table_end, segments_end]
            .into_iter()
            .max()
            .unwrap_or(EHDR64_SIZE);
        Ok(ElfKernel {
            arch,
            machine,
            elf_type: header.e_type,
            entry: header.e_entry,
            file_size: data.len() as u64,
            file_end,
            segments,
            version,
        })
    }

    /// The fields `warmboot inspect` prints, in order.
    pub fn describe(&self) -> Vec<Field> {
        let mut f = vec![
            Field::new("format", "ELF vmlinux"),
            Field::new("architecture", self.arch.to_string()),
            Field::new(
                "kernel version",
                self.version.clone().unwrap_or_else(|| "unknown".into()),
            ),
            Field::size("file size", self.file_size),
            Field::new(
                "ELF type",
                match self.elf_type {
                    ET_EXEC => "ET_EXEC (executable)",
                    _ => "ET_DYN (position-independent)",
                },
            ),
            Field::hex("entry", self.entry),
        ];
        const LABELS: [&str; 8] = [
            "segment 0",
            "segment 1",
            "segment 2",
            "segment 3",
            "segment 4",
            "segment 5",
            "segment 6",
            "segment 7",
        ];
        for (i, s) in self.segments.iter().enumerate() {
            let value = format!(
                "paddr {:#x}, vaddr {:#x}, offset {:#x}, filesz {:#x}, memsz {:#x}, {}",
                s.paddr,
                s.vaddr,
                s.offset,
                s.filesz,
                s.memsz,
                s.rwx()
            );
            match LABELS.get(i) {
                Some(label) => f.push(Field::new(label, value)),
                None => f.push(Field::new("segment", format!("{i}: {value}"))),
            }
        }
        f
    }
}

/// The file bytes of the `.rodata` section, when the section headers are present and
/// sane. Any problem just means "not found": sections are optional for loading.
fn rodata<'a>(data: &'a [u8], header: &goblin::elf::Header, ctx: Ctx) -> Option<&'a [u8]> {
    let shnum = header.e_shnum;
    if header.e_shoff == 0 || shnum == 0 || header.e_shentsize != SHDR64_SIZE {
        return None;
    }
    let table_len = u64::from(shnum).checked_mul(u64::from(SHDR64_SIZE))?;
    slice(data, header.e_shoff, table_len, "ELF section headers").ok()?;
    let shoff = usize::try_from(header.e_shoff).ok()?;
    let shdrs = SectionHeader::parse(data, shoff, usize::from(shnum), ctx).ok()?;
    let strtab = shdrs.get(usize::from(header.e_shstrndx))?;
    let names = slice(data, strtab.sh_offset, strtab.sh_size, "ELF strtab").ok()?;
    let sh = shdrs.iter().find(|s| {
        names
            .get(s.sh_name..)
            .is_some_and(|n| n.starts_with(b".rodata\0"))
    })?;
    slice(data, sh.sh_offset, sh.sh_size, "ELF .rodata").ok()
}

/// Searches the PT_LOAD file bytes in order, scanning at most the file's size in total
/// (overlapping hostile segments cannot make this quadratic).
fn find_banner_in_segments(data: &[u8], segments: &[ElfSegment]) -> Option<String> {
    let mut budget = data.len() as u64;
    let mut found = Vec::new();
    for s in segments {
        let len = s.filesz.min(budget);
        // len <= budget, so this never saturates.
        budget = budget.saturating_sub(len);
        let Ok(bytes) = slice(data, s.offset, len, "ELF PT_LOAD segment") else {
            continue;
        };
        collect_banners(bytes, &mut found);
        if budget == 0 || found.len() >= MAX_BANNERS {
            break;
        }
    }
    pick_banner(found)
}

fn find_banner(hay: &[u8]) -> Option<String> {
    let mut found = Vec::new();
    collect_banners(hay, &mut found);
    pick_banner(found)
}

/// How many banner candidates are collected before choosing.
const MAX_BANNERS: usize = 8;

/// Since 6.1 a vmlinux carries two banners: init/version.c's weak default, built once and
/// so without the build number ("… # SMP …"), and init/version-timestamp.c's, linked last,
/// which the kernel actually uses ("… #1 SMP …"). Prefer one with a build number.
fn pick_banner(found: Vec<String>) -> Option<String> {
    let numbered = |s: &String| {
        s.as_bytes()
            .windows(2)
            .any(|w| matches!(w, [b'#', d] if d.is_ascii_digit()))
    };
    match found.iter().position(numbered) {
        Some(i) => found.into_iter().nth(i),
        None => found.into_iter().next(),
    }
}

/// Collects (up to [`MAX_BANNERS`]) texts following "Linux version " and a digit, each up
/// to NUL or newline and at most [`MAX_VERSION_LEN`] bytes (an unterminated run is not a
/// banner).
fn collect_banners(hay: &[u8], found: &mut Vec<String>) {
    // "Linux version " cannot overlap itself, so the non-overlapping matches are all of them.
    for at in memchr::memmem::find_iter(hay, BANNER) {
        if found.len() >= MAX_BANNERS {
            return;
        }
        let Some(text) = hay.get(at..).and_then(|r| r.strip_prefix(BANNER)) else {
            continue;
        };
        if text.first().is_some_and(u8::is_ascii_digit) {
            let window = text.get(..MAX_VERSION_LEN).unwrap_or(text);
            if let Some(line) = window
                .iter()
                .position(|&b| b == 0 || b == b'\n')
                .and_then(|end| window.get(..end))
            {
                found.push(String::from_utf8_lossy(line).into_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::elf::{ElfBuilder, SegmentSpec, BANNER as SYNTH_BANNER, PF_R};
    use proptest::prelude::*;

    use crate::inspect::render_fields as render;

    fn err(data: &[u8]) -> Error {
        ElfKernel::parse(data).unwrap_err()
    }

    const SYNTH_VERSION: &str = "6.1.0-synth (warmboot@example.org) (gcc (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.0-1 (2026-11-16)";

    #[test]
    fn x86_64_parses_back() {
        let img = ElfBuilder::x86_64().build();
        assert!(looks_like(&img));
        let k = ElfKernel::parse(&img).unwrap();
        assert_eq!(k.arch, Arch::X86_64);
        assert_eq!(k.entry, 0x100_0000);
        assert_eq!(k.segments.len(), 3, "the PT_NOTE is not a segment to load");
        assert_eq!(k.segments[2].memsz, 0x1_0000);
        assert_eq!(k.segments[2].rwx(), "RW-");
        assert_eq!(k.version.as_deref(), Some(SYNTH_VERSION));
        assert!(SYNTH_BANNER.contains(SYNTH_VERSION));
    }

    #[test]
    fn aarch64_parses_back() {
        let k = ElfKernel::parse(&ElfBuilder::aarch64().build()).unwrap();
        assert_eq!(k.arch, Arch::Arm64);
        assert_eq!(k.elf_type, ET_DYN);
        assert_eq!(k.segments.len(), 1);
        assert_eq!(k.version.as_deref(), Some(SYNTH_VERSION));
    }

    #[test]
    fn no_banner_means_no_version() {
        let k = ElfKernel::parse(&ElfBuilder::x86_64().banner(None).build()).unwrap();
        assert_eq!(k.version, None);
        // A format string is not a banner: it must be followed by a release number.
        let k = ElfKernel::parse(
            &ElfBuilder::x86_64()
                .banner(Some("Linux version %s\n"))
                .build(),
        )
        .unwrap();
        assert_eq!(k.version, None);
    }

    #[test]
    fn finds_the_banner_in_rodata_via_section_headers() {
        // Append a section header table: [null, .rodata, .shstrtab] after the segments.
        let mut img = ElfBuilder::x86_64().banner(None).build();
        let names_off = img.len() as u64;
        img.extend_from_slice(b"\0.rodata\0.shstrtab\0");
        let rodata_off = img.len() as u64;
        img.extend_from_slice(b"xx\0Linux version 9.9.9-rodata\0");
        let rodata_len = img.len() as u64 - rodata_off;
        img.resize(img.len().next_multiple_of(8), 0);
        let shoff = img.len() as u64;
        let mut sh = |name: u32, off: u64, size: u64| {
            let mut s = [0u8; 64];
            s[0..4].copy_from_slice(&name.to_le_bytes());
            s[4..8].copy_from_slice(&1u32.to_le_bytes()); // SHT_PROGBITS
            s[24..32].copy_from_slice(&off.to_le_bytes());
            s[32..40].copy_from_slice(&size.to_le_bytes());
            img.extend_from_slice(&s);
        };
        sh(0, 0, 0);
        sh(1, rodata_off, rodata_len);
        sh(9, names_off, 19);
        img[40..48].copy_from_slice(&shoff.to_le_bytes());
        img[60..62].copy_from_slice(&3u16.to_le_bytes()); // e_shnum
        img[62..64].copy_from_slice(&2u16.to_le_bytes()); // e_shstrndx
        let k = ElfKernel::parse(&img).unwrap();
        assert_eq!(k.version.as_deref(), Some("9.9.9-rodata"));
    }

    #[test]
    fn prefers_the_banner_with_a_build_number() {
        let two =
            "Linux version 6.1.0-x (b@h) (gcc) # SMP\n\0Linux version 6.1.0-x (b@h) (gcc) #1 SMP\n";
        let k = ElfKernel::parse(&ElfBuilder::x86_64().banner(Some(two)).build()).unwrap();
        assert_eq!(k.version.as_deref(), Some("6.1.0-x (b@h) (gcc) #1 SMP"));
        let one = "Linux version 6.1.0-x (b@h) (gcc) # SMP\n";
        let k = ElfKernel::parse(&ElfBuilder::x86_64().banner(Some(one)).build()).unwrap();
        assert_eq!(k.version.as_deref(), Some("6.1.0-x (b@h) (gcc) # SMP"));
    }

    #[test]
    fn refuses_other_architectures() {
        let img = ElfBuilder::x86_64().machine(243).build();
        let e = err(&img);
        assert!(matches!(e, Error::UnsupportedArch(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "unsupported architecture: ELF for RISC-V (e_machine 243)"
        );
        assert_eq!(
            err(&ElfBuilder::x86_64().machine(0x1234).build()).to_string(),
            "unsupported architecture: ELF for an unknown machine (e_machine 4660)"
        );
    }

    #[test]
    fn refuses_32_bit_elf() {
        let mut img = ElfBuilder::x86_64().machine(3).build();
        img[4] = ELFCLASS32;
        let e = err(&img);
        assert!(matches!(e, Error::UnsupportedArch(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "unsupported architecture: 32-bit ELF for i386 (e_machine 3)"
        );
    }

    #[test]
    fn refuses_big_endian_elf() {
        let mut img = ElfBuilder::aarch64().build();
        img[5] = ELFDATA2MSB;
        img[18..20].copy_from_slice(&183u16.to_be_bytes());
        assert_eq!(
            err(&img).to_string(),
            "unsupported architecture: big-endian ELF for arm64 (e_machine 183)"
        );
    }

    #[test]
    fn refuses_relocatable_objects() {
        let mut img = ElfBuilder::x86_64().build();
        img[16..18].copy_from_slice(&1u16.to_le_bytes()); // ET_REL
        assert_eq!(
            err(&img).to_string(),
            "invalid ELF header: e_type 1 is not an executable (ET_EXEC) or position-independent executable (ET_DYN)"
        );
    }

    #[test]
    fn refuses_no_pt_load() {
        let mut note = SegmentSpec::load(0, 0, 0x10, 0x10, PF_R);
        note.p_type = crate::synth::elf::PT_NOTE;
        let img = ElfBuilder::x86_64().segments(vec![note]).build();
        let e = err(&img);
        assert_eq!(
            e.to_string(),
            "invalid ELF program headers: ELF has no loadable segments (PT_LOAD)"
        );
        let img = ElfBuilder::x86_64().segments(vec![]).build();
        assert!(err(&img).to_string().contains("no loadable segments"));
    }

    #[test]
    fn refuses_a_segment_past_eof() {
        let img = ElfBuilder::x86_64().build();
        let k = ElfKernel::parse(&img).unwrap();
        let last = k.segments[2];
        let end = last.offset + last.filesz;
        let cut = &img[..end as usize - 1];
        let e = err(cut);
        assert!(
            matches!(e, Error::Truncated { what: "ELF PT_LOAD segment", start, end: e_end, .. } if start == last.offset && e_end == end),
            "{e:?}"
        );
    }

    #[test]
    fn refuses_filesz_above_memsz_and_wrapping_ranges() {
        let mut img = ElfBuilder::aarch64().build();
        // p_memsz of phdr 0 at 64 + 40.
        img[104..112].copy_from_slice(&0x10u64.to_le_bytes());
        assert_eq!(
            err(&img).to_string(),
            "invalid ELF PT_LOAD segment: p_filesz 0x300 is larger than p_memsz 0x10"
        );
        img[104..112].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            err(&img),
            Error::Overflow {
                what: "ELF PT_LOAD physical range"
            }
        ));
    }

    #[test]
    fn refuses_a_program_header_table_past_eof() {
        let mut img = ElfBuilder::x86_64().build();
        img[56..58].copy_from_slice(&0xffffu16.to_le_bytes()); // e_phnum
        let e = err(&img);
        assert!(
            matches!(
                e,
                Error::Truncated {
                    what: "ELF program headers",
                    start: 64,
                    end: 0x38_0008, // 64 + 0xffff * 56
                    ..
                }
            ),
            "{e:?}"
        );
        let e = err(&img[..40]);
        assert!(
            matches!(
                e,
                Error::Truncated {
                    what: "ELF header",
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn refuses_a_program_header_table_whose_end_overflows() {
        let mut img = ElfBuilder::x86_64().build();
        img[32..40].copy_from_slice(&(u64::MAX - 8).to_le_bytes()); // e_phoff
        let e = err(&img);
        assert!(
            matches!(
                e,
                Error::Overflow {
                    what: "ELF program headers"
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn describe_x86_64() {
        let k = ElfKernel::parse(&ElfBuilder::x86_64().build()).unwrap();
        insta::assert_snapshot!("elf_x86_64", render(&k.describe()));
    }

    #[test]
    fn describe_aarch64() {
        let k = ElfKernel::parse(&ElfBuilder::aarch64().build()).unwrap();
        insta::assert_snapshot!("elf_aarch64", render(&k.describe()));
    }

    fn samples() -> Vec<Vec<u8>> {
        vec![ElfBuilder::x86_64().build(), ElfBuilder::aarch64().build()]
    }

    #[test]
    fn every_truncation_is_handled() {
        for img in samples() {
            let k = ElfKernel::parse(&img).unwrap();
            let needed = k
                .segments
                .iter()
                .map(|s| s.offset + s.filesz)
                .max()
                .unwrap();
            for len in 0..img.len() {
                let r = ElfKernel::parse(&img[..len]);
                if (len as u64) < needed {
                    assert!(r.is_err(), "truncated to {len} bytes but parsed");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..8192)) {
            let _ = ElfKernel::parse(&data);
        }

        #[test]
        fn arbitrary_bytes_behind_a_valid_header_never_panic(
            tail in proptest::collection::vec(any::<u8>(), 0..8192),
            keep in 16usize..400,
            aarch64 in any::<bool>(),
        ) {
            let img = if aarch64 { ElfBuilder::aarch64() } else { ElfBuilder::x86_64() }.build();
            let mut data = img[..keep.min(img.len())].to_vec();
            data.extend_from_slice(&tail);
            let _ = ElfKernel::parse(&data);
        }

        #[test]
        fn single_byte_mutations_never_panic(
            which in 0usize..2,
            pos in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let mut img = samples().swap_remove(which);
            let i = pos.index(img.len());
            img[i] = byte;
            if let Ok(k) = ElfKernel::parse(&img) {
                prop_assert!(!k.segments.is_empty());
                for s in &k.segments {
                    prop_assert!(s.filesz <= s.memsz);
                    prop_assert!(s.offset + s.filesz <= img.len() as u64);
                }
            }
        }

        #[test]
        fn header_mutations_never_panic(
            which in 0usize..2,
            pos in 0usize..(64 + 4 * 56),
            byte in any::<u8>(),
        ) {
            let mut img = samples().swap_remove(which);
            if let Some(b) = img.get_mut(pos) {
                *b = byte;
            }
            let _ = ElfKernel::parse(&img);
        }
    }
}
