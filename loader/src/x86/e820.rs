//! The e820 memory map the next x86_64 kernel receives in its zero page.
//!
//! Layout: `struct boot_e820_entry` {u64 addr, u64 size, u32 type}, packed, 20 bytes
//! (arch/x86/include/uapi/asm/bootparam.h); types from arch/x86/include/asm/e820/types.h;
//! the type strings are e820_type_to_string's (arch/x86/kernel/e820.c), which both
//! `/proc/iomem` and `/sys/firmware/memmap/N/type` print (kexec-facts §3, §4).
//!
//! Two tables are built here, both pure:
//! - [`normal_e820`]: for a normal kexec, the firmware memmap (the raw e820 table the running
//!   kernel was given), as kexec-tools hands it on from `/sys/firmware/memmap`.
//! - [`crash_e820`]: for a capture kernel, the ranges the kernel's own kexec_file loader
//!   builds (arch/x86/kernel/crash.c crash_setup_memmap_entries, kexec-facts §5).

use crate::error::{Error, Result};
use crate::fields;
use crate::memmap::{subtract, FirmwareMapEntry, MemoryMap, Range, PAGE_SIZE};
use serde::Serialize;
use std::fmt::Write as _;

/// E820_TYPE_RAM: usable memory.
pub const E820_RAM: u32 = 1;
/// E820_TYPE_RESERVED.
pub const E820_RESERVED: u32 = 2;
/// E820_TYPE_ACPI: ACPI tables, reclaimable after they are parsed.
pub const E820_ACPI: u32 = 3;
/// E820_TYPE_NVS: ACPI non-volatile storage, kept across sleep.
pub const E820_NVS: u32 = 4;
/// E820_TYPE_UNUSABLE.
pub const E820_UNUSABLE: u32 = 5;
/// E820_TYPE_PMEM: persistent memory (ACPI 6).
pub const E820_PMEM: u32 = 7;
/// E820_TYPE_PRAM: legacy persistent memory (type 12).
pub const E820_PRAM: u32 = 12;
/// E820_TYPE_SOFT_RESERVED (EFI_MEMORY_SP).
pub const E820_SOFT_RESERVED: u32 = 0xefff_ffff;

/// Size of one packed `struct boot_e820_entry`.
pub const E820_ENTRY_SIZE: usize = 20;

/// kexec-tools never reports the real-mode interrupt vector table as RAM: the first RAM
/// range starting below this address starts here instead (kexec/arch/i386/kexec-x86-common.c,
/// REALMODE_IVT_END). warmboot does the same so its table matches kexec-tools'.
pub const REALMODE_IVT_END: u64 = 0x400;

/// One e820 entry as the zero page (0x2d0) and SETUP_E820_EXT carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct E820Entry {
    pub addr: u64,
    pub size: u64,
    pub kind: u32,
}

impl E820Entry {
    pub fn new(addr: u64, size: u64, kind: u32) -> E820Entry {
        E820Entry { addr, size, kind }
    }

    /// From a half-open range.
    pub fn from_range(r: Range, kind: u32) -> E820Entry {
        E820Entry::new(r.start, r.len(), kind)
    }

    /// The exclusive end (saturating).
    pub fn end(&self) -> u64 {
        self.addr.saturating_add(self.size)
    }

    pub fn range(&self) -> Range {
        Range::new(self.addr, self.end())
    }

    /// The packed 20-byte record.
    pub fn to_bytes(&self) -> [u8; E820_ENTRY_SIZE] {
        let mut b = [0u8; E820_ENTRY_SIZE];
        b[0..8].copy_from_slice(&self.addr.to_le_bytes());
        b[8..16].copy_from_slice(&self.size.to_le_bytes());
        b[16..20].copy_from_slice(&self.kind.to_le_bytes());
        b
    }
}

/// The e820 type for a type string of `/proc/iomem` or `/sys/firmware/memmap`, or None for
/// names that are not e820 types ("PCI Bus 0000:00", "Unknown E820 type", ...).
/// Both "Reserved" (x86 e820.c) and "reserved" (the ABI document, arm64) are accepted, as
/// kexec-tools' firmware_memmap.c does.
pub fn type_from_name(name: &str) -> Option<u32> {
    Some(match name.trim_end_matches('\n') {
        "System RAM" => E820_RAM,
        "Reserved" | "reserved" => E820_RESERVED,
        "ACPI Tables" => E820_ACPI,
        "ACPI Non-volatile Storage" => E820_NVS,
        "Unusable memory" => E820_UNUSABLE,
        "Persistent Memory" => E820_PMEM,
        "Persistent Memory (legacy)" => E820_PRAM,
        "Soft Reserved" => E820_SOFT_RESERVED,
        _ => return None,
    })
}

/// A short name for an e820 type, for rendering.
pub fn type_name(kind: u32) -> &'static str {
    match kind {
        E820_RAM => "RAM",
        E820_RESERVED => "reserved",
        E820_ACPI => "ACPI",
        E820_NVS => "NVS",
        E820_UNUSABLE => "unusable",
        E820_PMEM => "PMEM",
        E820_PRAM => "PRAM",
        E820_SOFT_RESERVED => "soft-reserved",
        _ => "unknown",
    }
}

/// Encodes entries as packed 20-byte records: the zero page's e820_table layout and the data
/// of a SETUP_E820_EXT node (arch/x86/kernel/e820.c parse_setup_data → e820__memory_setup_extended).
pub fn encode_entries(entries: &[E820Entry]) -> Vec<u8> {
    entries.iter().flat_map(|e| e.to_bytes()).collect()
}

/// Decodes packed 20-byte records; the length must be a multiple of 20.
pub fn decode_entries(bytes: &[u8]) -> Result<Vec<E820Entry>> {
    if !bytes.len().is_multiple_of(E820_ENTRY_SIZE) {
        return Err(Error::invalid(
            "e820 table",
            format!(
                "{} bytes is not a whole number of {E820_ENTRY_SIZE}-byte entries",
                bytes.len()
            ),
        ));
    }
    bytes
        .chunks_exact(E820_ENTRY_SIZE)
        .map(|c| {
            Ok(E820Entry {
                addr: fields::le_u64(c, 0, "e820 entry address")?,
                size: fields::le_u64(c, 8, "e820 entry size")?,
                kind: fields::le_u32(c, 16, "e820 entry type")?,
            })
        })
        .collect()
}

/// The e820 table for the next kernel of a normal kexec: the firmware memmap, sorted by
/// address, with unknown type strings as reserved (never handing memory of unknown purpose
/// to the next kernel) and the interrupt vector table trimmed from RAM like kexec-tools.
///
/// The sysfs end is inclusive; [`FirmwareMapEntry::range`] already holds the exclusive end,
/// so size = end - start + 1 of the sysfs values. An empty firmware map is an error: without
/// it (non-x86, or a kernel without CONFIG_FIRMWARE_MEMMAP) there is no raw e820 to hand on.
pub fn normal_e820(firmware: &[FirmwareMapEntry]) -> Result<Vec<E820Entry>> {
    if firmware.is_empty() {
        return Err(Error::Unsupported(
            "no firmware memory map (/sys/firmware/memmap is empty or absent): cannot build the next kernel's e820 table".to_string(),
        ));
    }
    let mut out: Vec<E820Entry> = firmware
        .iter()
        .filter(|f| !f.range.is_empty())
        .map(|f| E820Entry::from_range(f.range, type_from_name(&f.kind).unwrap_or(E820_RESERVED)))
        .collect();
    out.sort();
    if let Some(first_ram) = out.iter_mut().find(|e| e.kind == E820_RAM) {
        if first_ram.addr < REALMODE_IVT_END {
            let end = first_ram.end();
            first_ram.addr = REALMODE_IVT_END.min(end);
            // addr <= end by the min just above: the subtraction cannot saturate.
            first_ram.size = end.saturating_sub(first_ram.addr);
        }
    }
    out.retain(|e| e.size != 0);
    Ok(out)
}

/// The e820 table for a capture (crash) kernel, following the kernel's kexec_file loader
/// (arch/x86/kernel/crash.c crash_setup_memmap_entries, kexec-facts §5):
/// - System RAM below 1 MiB as RAM (the capture kernel needs real-mode memory);
/// - every "ACPI Tables" range as ACPI, "ACPI Non-volatile Storage" as NVS and "Reserved"
///   as reserved (the kernel walks the iomem resources with those descriptors);
/// - crashk_low_res as RAM;
/// - crashk_res minus the elfcorehdr range as RAM, pieces under a page dropped.
///
/// Non-RAM ranges come from the top-level `/proc/iomem` entries ([`MemoryMap::top_level`]),
/// which is what the kernel walks (they include ranges the running kernel reserved after
/// boot, e.g. EFI setup_data, which the firmware memmap lacks); when iomem has none of
/// them (a map built without its top-level entries), the firmware memmap is used.
/// Sorted by address (the kernel sorts the table anyway, e820__update_table).
pub fn crash_e820(map: &MemoryMap, elfcorehdr: Range) -> Result<Vec<E820Entry>> {
    let crash = map.crash.ok_or(Error::NoCrashKernel)?;
    if !crash.contains(&elfcorehdr) || elfcorehdr.is_empty() {
        return Err(Error::invalid(
            "elfcorehdr range",
            format!("{elfcorehdr} does not lie inside the crash kernel reservation {crash}"),
        ));
    }
    let mut out = Vec::new();
    let low = Range::new(0, 1 << 20);
    for r in &map.ram {
        let start = r.start.max(low.start);
        let end = r.end.min(low.end);
        if start < end {
            out.push(E820Entry::from_range(Range::new(start, end), E820_RAM));
        }
    }
    let wanted = [E820_ACPI, E820_NVS, E820_RESERVED];
    let from_iomem: Vec<E820Entry> = map
        .top_level
        .iter()
        .filter_map(|n| type_from_name(&n.name).map(|t| (n.range, t)))
        .filter(|(r, t)| wanted.contains(t) && !r.is_empty())
        .map(|(r, t)| E820Entry::from_range(r, t))
        .collect();
    if from_iomem.is_empty() {
        out.extend(
            map.firmware
                .iter()
                .filter_map(|f| type_from_name(&f.kind).map(|t| (f.range, t)))
                .filter(|(r, t)| wanted.contains(t) && !r.is_empty())
                .map(|(r, t)| E820Entry::from_range(r, t)),
        );
    } else {
        out.extend(from_iomem);
    }
    if let Some(low) = map.crash_low {
        out.push(E820Entry::from_range(low, E820_RAM));
    }
    for piece in subtract(&[crash], &[elfcorehdr]) {
        if piece.len() >= PAGE_SIZE {
            out.push(E820Entry::from_range(piece, E820_RAM));
        }
    }
    out.sort();
    Ok(out)
}

/// Renders a table, one entry per line: `start-last (type name)` with the inclusive last
/// byte, like kexec-tools' "E820 memmap" debug output, so the two can be compared.
pub fn render(entries: &[E820Entry]) -> String {
    let mut out = String::new();
    for e in entries {
        let _ = writeln!(
            out,
            "{:016x}-{:016x} ({}) {}",
            e.addr,
            e.end().saturating_sub(1),
            e.kind,
            type_name(e.kind)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::HostRoot;
    use std::path::PathBuf;

    fn machine(name: &str) -> HostRoot {
        HostRoot::new(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/machines")
                .join(name),
        )
    }

    /// kexec-tools' "E820 memmap:" block from a reference `kexec -d` log, as
    /// `start-last (type)` lines.
    fn kexec_tools_e820(machine: &str) -> Vec<String> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/machines/reference")
            .join(machine)
            .join("kexec-d-load-c.txt");
        let text = std::fs::read_to_string(path).unwrap();
        text.lines()
            .skip_while(|l| *l != "E820 memmap:")
            .skip(1)
            .take_while(|l| l.contains('-') && l.ends_with(')'))
            .map(str::to_string)
            .collect()
    }

    fn without_names(rendered: &str) -> Vec<String> {
        rendered
            .lines()
            .map(|l| l.rsplit_once(' ').unwrap().0.to_string())
            .collect()
    }

    #[test]
    fn type_strings_map_to_e820_types() {
        let cases = [
            ("System RAM", 1),
            ("Reserved", 2),
            ("reserved", 2),
            ("ACPI Tables", 3),
            ("ACPI Non-volatile Storage", 4),
            ("Unusable memory", 5),
            ("Persistent Memory", 7),
            ("Persistent Memory (legacy)", 12),
            ("Soft Reserved", 0xefff_ffff),
        ];
        for (name, kind) in cases {
            assert_eq!(type_from_name(name), Some(kind), "{name}");
            assert_eq!(type_from_name(&format!("{name}\n")), Some(kind), "{name}");
        }
        assert_eq!(type_from_name("PCI Bus 0000:00"), None);
        assert_eq!(type_from_name("Unknown E820 type"), None);
        assert_eq!(type_from_name("system ram"), None);
    }

    #[test]
    fn records_are_20_bytes_and_round_trip() {
        let e = vec![
            E820Entry::new(0x1122_3344_5566_7788, 0x99aa_bbcc_ddee_ff00, 0xefff_ffff),
            E820Entry::new(0x1000, 0x9f000, 1),
        ];
        let b = encode_entries(&e);
        assert_eq!(b.len(), 40);
        assert_eq!(&b[0..8], &0x1122_3344_5566_7788u64.to_le_bytes());
        assert_eq!(&b[16..20], &[0xff, 0xff, 0xff, 0xef]);
        assert_eq!(decode_entries(&b).unwrap(), e);
        let err = decode_entries(&b[..39]).unwrap_err();
        assert!(err.to_string().contains("39 bytes"), "{err}");
    }

    #[test]
    fn normal_e820_matches_kexec_tools_on_the_fixture_machines() {
        for m in [
            "x86_64-bios-m1024",
            "x86_64-ovmf-m4096",
            "x86_64-bios-m4096",
            "x86_64-ovmf-m1024",
        ] {
            let fw = machine(m).firmware_memmap().unwrap();
            let ours = normal_e820(&fw).unwrap();
            let expected = kexec_tools_e820(m);
            assert!(
                !expected.is_empty(),
                "{m}: no E820 memmap in the reference log"
            );
            assert_eq!(without_names(&render(&ours)), expected, "{m}");
        }
    }

    #[test]
    fn normal_e820_snapshots() {
        for m in ["x86_64-bios-m1024", "x86_64-ovmf-m4096"] {
            let fw = machine(m).firmware_memmap().unwrap();
            insta::assert_snapshot!(
                format!("normal_e820_{m}"),
                render(&normal_e820(&fw).unwrap())
            );
        }
    }

    #[test]
    fn normal_e820_sorts_trims_the_ivt_and_reserves_unknown_types() {
        let fw = vec![
            FirmwareMapEntry {
                range: Range::new(0x100000, 0x200000),
                kind: "Unknown E820 type".into(),
            },
            FirmwareMapEntry {
                range: Range::new(0, 0xa0000),
                kind: "System RAM".into(),
            },
            FirmwareMapEntry {
                range: Range::new(0x200000, 0x300000),
                kind: "System RAM".into(),
            },
        ];
        assert_eq!(
            normal_e820(&fw).unwrap(),
            vec![
                E820Entry::new(0x400, 0x9fc00, E820_RAM),
                E820Entry::new(0x100000, 0x100000, E820_RESERVED),
                E820Entry::new(0x200000, 0x100000, E820_RAM),
            ]
        );
        let e = normal_e820(&[]).unwrap_err();
        assert!(e.to_string().contains("/sys/firmware/memmap"), "{e}");
    }

    #[test]
    fn crash_e820_follows_the_kernels_kexec_file_rules() {
        let map = machine("x86_64-ovmf-m4096").memory_map().unwrap();
        let crash = map.crash.unwrap();
        assert_eq!(crash, Range::new(0xa900_0000, 0xb900_0000));
        // elfcorehdr in the middle of the reservation: the RAM is split around it.
        let hdr = Range::new(0xb000_0000, 0xb001_0000);
        let t = crash_e820(&map, hdr).unwrap();
        let ram: Vec<Range> = t
            .iter()
            .filter(|e| e.kind == E820_RAM)
            .map(|e| e.range())
            .collect();
        assert_eq!(
            ram,
            vec![
                Range::new(0x1000, 0xa0000),
                Range::new(0xa900_0000, 0xb000_0000),
                Range::new(0xb001_0000, 0xb900_0000),
            ]
        );
        // iomem's "Reserved" 0-0xfff (the kernel reserved page 0) and bc8ea000 (not in the
        // firmware memmap) are there, as kexec-tools' crash ranges have them.
        assert!(t.contains(&E820Entry::new(0, 0x1000, E820_RESERVED)));
        assert!(t.contains(&E820Entry::new(0xbc8e_a000, 0x9000, E820_RESERVED)));
        assert!(t.contains(&E820Entry::new(0xbfb6_d000, 0x12000, E820_ACPI)));
        assert!(t.contains(&E820Entry::new(0x80_0000, 0x8000, E820_NVS)));
        // Nothing else of the running kernel's RAM is handed to the capture kernel.
        assert!(!t.iter().any(|e| e.kind == E820_RAM && e.addr == 0x100000));
        let mut sorted = t.clone();
        sorted.sort();
        assert_eq!(t, sorted);
        insta::assert_snapshot!("crash_e820_x86_64-ovmf-m4096", render(&t));
    }

    #[test]
    fn crash_e820_drops_sub_page_pieces_and_adds_the_low_reservation() {
        let iomem = "00001000-0009ffff : System RAM\n000f0000-000fffff : Reserved\n00100000-3fffffff : System RAM\n  10000000-13ffffff : Crash kernel\n  20000000-2fffffff : Crash kernel\n";
        let map = MemoryMap::parse(iomem, Vec::new()).unwrap();
        // elfcorehdr leaves 0x800 bytes at the start: dropped.
        let t = crash_e820(&map, Range::new(0x2000_0800, 0x2001_0000)).unwrap();
        assert_eq!(
            t,
            vec![
                E820Entry::new(0x1000, 0x9f000, E820_RAM),
                E820Entry::new(0xf0000, 0x10000, E820_RESERVED),
                E820Entry::new(0x1000_0000, 0x400_0000, E820_RAM),
                E820Entry::new(0x2001_0000, 0xfff_0000, E820_RAM),
            ]
        );
    }

    #[test]
    fn crash_e820_falls_back_to_the_firmware_map_and_refuses_bad_input() {
        let iomem = "00001000-3fffffff : System RAM\n  10000000-13ffffff : Crash kernel\n";
        let fw = vec![FirmwareMapEntry {
            range: Range::new(0x4000_0000, 0x4001_0000),
            kind: "ACPI Tables".into(),
        }];
        let map = MemoryMap::parse(iomem, fw).unwrap();
        let t = crash_e820(&map, Range::new(0x1000_0000, 0x1000_1000)).unwrap();
        assert!(
            t.contains(&E820Entry::new(0x4000_0000, 0x10000, E820_ACPI)),
            "{t:?}"
        );
        let e = crash_e820(&map, Range::new(0x2000_0000, 0x2000_1000)).unwrap_err();
        assert!(e.to_string().contains("crash kernel reservation"), "{e}");
        let no_crash = MemoryMap::parse("00001000-3fffffff : System RAM\n", Vec::new()).unwrap();
        assert!(matches!(
            crash_e820(&no_crash, Range::new(0, 0x1000)),
            Err(Error::NoCrashKernel)
        ));
    }
}
