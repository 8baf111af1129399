//! The running machine's physical memory map, from `/proc/iomem` and
//! `/sys/firmware/memmap` (kernel/resource.c r_show, drivers/firmware/memmap.c).
//!
//! Pure code: text in, [`MemoryMap`] out. Reading the files is [`crate::host`]'s job.
//!
//! `/proc/iomem` is the authority for planning: it shows System RAM as the running kernel
//! sees it, the kernel's own ranges ("Kernel code", "Kernel data", ...), memory the kernel
//! or firmware keeps ("reserved" children of System RAM on arm64) and the crash kernel
//! reservation ("Crash kernel", crashk_res and crashk_low_res, kernel/crash_reserve.c).
//! The firmware memmap is the raw e820 table (x86 only); it is kept for the boot_params
//! e820 that the x86 issue builds.

use crate::error::{Error, Result};
use serde::Serialize;
use std::fmt;

/// The kernel's page size for kexec purposes (4 KiB on both x86_64 and Debian's arm64).
pub const PAGE_SIZE: u64 = 4096;

/// A half-open physical address range `[start, end)`.
///
/// The kernel prints inclusive ends; they are converted once, on parsing. An inclusive end
/// of `u64::MAX` is stored as `u64::MAX` (the top byte of the address space is lost, which
/// no memory the kernel can load into reaches).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Range {
    pub start: u64,
    pub end: u64,
}

impl Range {
    pub fn new(start: u64, end: u64) -> Range {
        Range { start, end }
    }

    /// From the kernel's `start-last` notation (last byte inclusive).
    pub fn from_inclusive(start: u64, last: u64) -> Range {
        Range {
            start,
            end: last.saturating_add(1),
        }
    }

    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    pub fn contains(&self, other: &Range) -> bool {
        other.start >= self.start && other.end <= self.end
    }

    pub fn contains_addr(&self, addr: u64) -> bool {
        addr >= self.start && addr < self.end
    }

    pub fn overlaps(&self, other: &Range) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// The largest page-aligned range inside this one (may be empty).
    pub fn pages_inside(&self) -> Range {
        let start = align_up(self.start, PAGE_SIZE).unwrap_or(u64::MAX);
        let end = align_down(self.end, PAGE_SIZE);
        Range { start, end }
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:#x}-{:#x})", self.start, self.end)
    }
}

/// `value` rounded up to a multiple of `align` (a power of two), or `None` on overflow.
pub fn align_up(value: u64, align: u64) -> Option<u64> {
    let mask = align.max(1) - 1;
    value.checked_add(mask).map(|v| v & !mask)
}

/// `value` rounded down to a multiple of `align` (a power of two).
pub fn align_down(value: u64, align: u64) -> u64 {
    value & !(align.max(1) - 1)
}

/// Subtracts every range of `holes` from every range of `from`. Both may be unsorted; the
/// result is sorted and non-overlapping.
pub fn subtract(from: &[Range], holes: &[Range]) -> Vec<Range> {
    let mut out = Vec::new();
    for r in from {
        let mut pieces = vec![*r];
        for h in holes {
            let mut next = Vec::new();
            for p in pieces {
                if !p.overlaps(h) {
                    next.push(p);
                    continue;
                }
                if p.start < h.start {
                    next.push(Range::new(p.start, h.start));
                }
                if h.end < p.end {
                    next.push(Range::new(h.end, p.end));
                }
            }
            pieces = next;
        }
        out.extend(pieces.into_iter().filter(|p| !p.is_empty()));
    }
    merge(out)
}

/// Sorts ranges and merges the ones that overlap or touch.
pub fn merge(mut ranges: Vec<Range>) -> Vec<Range> {
    ranges.sort();
    let mut out: Vec<Range> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// One line of `/proc/iomem`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IomemEntry {
    /// Nesting level: two spaces of indent per level.
    pub depth: usize,
    pub range: Range,
    pub name: String,
}

/// Parses `/proc/iomem` text. Errors name the line.
///
/// Refuses the all-zero listing the kernel shows to readers without CAP_SYS_ADMIN, since
/// planning against it would place everything at address 0.
pub fn parse_iomem(text: &str) -> Result<Vec<IomemEntry>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad =
            |why: &str| Error::invalid("iomem line", format!("line {}: {why}: {line:?}", i + 1));
        let trimmed = line.trim_start_matches(' ');
        let indent = line.len() - trimmed.len();
        if indent % 2 != 0 {
            return Err(bad("odd indentation"));
        }
        let (range, name) = trimmed
            .split_once(" : ")
            .ok_or_else(|| bad("no \" : \" separator"))?;
        let (start, last) = range
            .split_once('-')
            .ok_or_else(|| bad("range has no '-'"))?;
        let start = u64::from_str_radix(start, 16).map_err(|_| bad("start is not hex"))?;
        let last = u64::from_str_radix(last, 16).map_err(|_| bad("end is not hex"))?;
        if last < start {
            return Err(bad("end is below start"));
        }
        out.push(IomemEntry {
            depth: indent / 2,
            range: Range::from_inclusive(start, last),
            name: name.to_string(),
        });
    }
    if out.is_empty() {
        return Err(Error::invalid("iomem", "no entries"));
    }
    if out.iter().all(|e| e.range.start == 0 && e.range.end == 1) {
        return Err(Error::invalid(
            "iomem",
            "all addresses are zero: the kernel hides them from readers without CAP_SYS_ADMIN (run as root)",
        ));
    }
    Ok(out)
}

/// One entry of `/sys/firmware/memmap/N/{start,end,type}` (x86: the raw e820 table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FirmwareMapEntry {
    pub range: Range,
    /// The e820 type string, e.g. "System RAM", "Reserved", "ACPI Tables".
    pub kind: String,
}

/// Parses one firmware memmap entry from its three files' contents (`0x%llx\n` start and
/// inclusive end, type string).
pub fn parse_firmware_entry(start: &str, end: &str, kind: &str) -> Result<FirmwareMapEntry> {
    let start = parse_hex("firmware memmap start", start)?;
    let last = parse_hex("firmware memmap end", end)?;
    if last < start {
        return Err(Error::invalid(
            "firmware memmap entry",
            format!("end {last:#x} is below start {start:#x}"),
        ));
    }
    Ok(FirmwareMapEntry {
        range: Range::from_inclusive(start, last),
        kind: kind.trim_end_matches('\n').to_string(),
    })
}

/// Parses a hex number with or without `0x`, ignoring surrounding whitespace.
pub fn parse_hex(what: &'static str, text: &str) -> Result<u64> {
    let t = text.trim();
    let digits = t.strip_prefix("0x").unwrap_or(t);
    u64::from_str_radix(digits, 16)
        .map_err(|_| Error::invalid(what, format!("{t:?} is not a hex number")))
}

/// A named range the running kernel occupies ("Kernel code", "Kernel data", ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedRange {
    pub name: String,
    pub range: Range,
}

/// Whether a load is for the normal (reboot) image or the crash (panic) image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Normal,
    Panic,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Normal => "normal",
            Mode::Panic => "panic",
        })
    }
}

/// The memory facts the planner and the acceptance checks need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemoryMap {
    /// Top-level "System RAM" ranges (substring match, as kexec-tools does, so
    /// "System RAM (kmem)" counts), merged and sorted.
    pub ram: Vec<Range>,
    /// Memory inside RAM the next kernel's loader must not overwrite: "reserved" children
    /// of System RAM (arm64 memblock/nomap reservations: firmware, DTB, initrd, EFI).
    pub reserved: Vec<Range>,
    /// The running kernel's own ranges. A normal image may be placed over them (the kernel
    /// moves pages into place only at reboot); they are listed for the crash header and
    /// for display.
    pub kernel: Vec<NamedRange>,
    /// crashk_res: the (highest) "Crash kernel" range. kexec_load's crash checks use this one.
    pub crash: Option<Range>,
    /// crashk_low_res, when `crashkernel=X,high` also reserved a low range.
    pub crash_low: Option<Range>,
    /// The raw firmware map, where the machine has one (x86).
    pub firmware: Vec<FirmwareMapEntry>,
    /// Every top-level `/proc/iomem` entry in file order ("System RAM", "Reserved",
    /// "ACPI Tables", "PCI Bus 0000:00", ...): the x86 crash e820 needs the running kernel's
    /// ACPI, NVS and reserved resources (arch/x86/kernel/crash.c), see [`crate::x86::e820`].
    pub top_level: Vec<NamedRange>,
}

impl MemoryMap {
    /// Builds the map from parsed `/proc/iomem` entries and the firmware memmap (may be empty).
    pub fn from_iomem(
        entries: &[IomemEntry],
        firmware: Vec<FirmwareMapEntry>,
    ) -> Result<MemoryMap> {
        let mut ram = Vec::new();
        let mut reserved = Vec::new();
        let mut kernel = Vec::new();
        let mut crash = Vec::new();
        let mut top_level = Vec::new();
        // Whether the closest depth-0 ancestor of the current line is System RAM.
        let mut in_ram = false;
        for e in entries {
            if e.depth == 0 {
                top_level.push(NamedRange {
                    name: e.name.clone(),
                    range: e.range,
                });
                in_ram = e.name.contains("System RAM");
                if in_ram {
                    ram.push(e.range);
                }
                continue;
            }
            if e.name == "Crash kernel" {
                crash.push(e.range);
            } else if e.name.starts_with("Kernel ") {
                kernel.push(NamedRange {
                    name: e.name.clone(),
                    range: e.range,
                });
            } else if in_ram && e.depth == 1 && e.name.eq_ignore_ascii_case("reserved") {
                reserved.push(e.range);
            }
        }
        if ram.is_empty() {
            return Err(Error::invalid("iomem", "no \"System RAM\" ranges"));
        }
        crash.sort();
        let (crash, crash_low) = match crash.as_slice() {
            [] => (None, None),
            [one] => (Some(*one), None),
            [low, .., high] => (Some(*high), Some(*low)),
        };
        Ok(MemoryMap {
            ram: merge(ram),
            reserved: merge(reserved),
            kernel,
            crash,
            crash_low,
            firmware,
            top_level,
        })
    }

    /// Parses `/proc/iomem` text; convenience for tests and the host reader.
    pub fn parse(iomem: &str, firmware: Vec<FirmwareMapEntry>) -> Result<MemoryMap> {
        MemoryMap::from_iomem(&parse_iomem(iomem)?, firmware)
    }

    /// Total bytes of System RAM. The kernel's half-of-RAM limit uses totalram_pages(),
    /// which is a little smaller (memblock reservations excluded); this is the upper bound.
    pub fn total_ram(&self) -> u64 {
        self.ram.iter().map(Range::len).sum()
    }

    /// Where segments of an image in `mode` may go, page-aligned and sorted.
    ///
    /// Normal: System RAM minus reserved ranges and the crash reservations (kept intact so a
    /// loaded crash kernel is never overwritten). Panic: the crash reservation (crashk_res)
    /// only, since kexec_load refuses crash segments anywhere else (kernel/kexec_core.c
    /// sanity_check_segment_list).
    pub fn usable(&self, mode: Mode) -> Vec<Range> {
        let ranges = match mode {
            Mode::Normal => {
                let mut holes = self.reserved.clone();
                holes.extend(self.crash);
                holes.extend(self.crash_low);
                subtract(&self.ram, &holes)
            }
            Mode::Panic => self.crash.into_iter().collect(),
        };
        ranges
            .iter()
            .map(Range::pages_inside)
            .filter(|r| !r.is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const X86: &str = "00000000-00000fff : Reserved\n00001000-0009fbff : System RAM\n00100000-3ffdffff : System RAM\n  22000000-31ffffff : Crash kernel\n  32800000-33601d31 : Kernel code\n3ffe0000-3fffffff : Reserved\n";

    #[test]
    fn parses_ram_crash_and_kernel() {
        let m = MemoryMap::parse(X86, Vec::new()).unwrap();
        assert_eq!(
            m.ram,
            vec![
                Range::new(0x1000, 0x9fc00),
                Range::new(0x100000, 0x3ffe0000)
            ]
        );
        assert_eq!(m.crash, Some(Range::new(0x22000000, 0x32000000)));
        assert_eq!(m.kernel[0].range, Range::new(0x32800000, 0x33601d32));
        let top: Vec<(&str, Range)> = m
            .top_level
            .iter()
            .map(|n| (n.name.as_str(), n.range))
            .collect();
        assert_eq!(
            top,
            vec![
                ("Reserved", Range::new(0, 0x1000)),
                ("System RAM", Range::new(0x1000, 0x9fc00)),
                ("System RAM", Range::new(0x100000, 0x3ffe0000)),
                ("Reserved", Range::new(0x3ffe0000, 0x40000000)),
            ]
        );
        assert_eq!(
            m.usable(Mode::Normal),
            vec![
                Range::new(0x1000, 0x9f000),
                Range::new(0x100000, 0x22000000),
                Range::new(0x32000000, 0x3ffe0000)
            ]
        );
        assert_eq!(
            m.usable(Mode::Panic),
            vec![Range::new(0x22000000, 0x32000000)]
        );
    }

    #[test]
    fn bad_lines_name_the_line() {
        let e = parse_iomem("00000000-00000fff : Reserved\nzz-1 : x\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        assert!(parse_iomem("0-1 Reserved\n").is_err());
        assert!(parse_iomem(" 0-1 : odd\n").is_err());
        assert!(parse_iomem("2-1 : backwards\n").is_err());
        assert!(MemoryMap::parse("00000000-00000fff : Reserved\n", Vec::new()).is_err());
    }

    #[test]
    fn hidden_addresses_are_refused() {
        let e = parse_iomem("00000000-00000000 : System RAM\n00000000-00000000 : Reserved\n")
            .unwrap_err();
        assert!(e.to_string().contains("CAP_SYS_ADMIN"), "{e}");
    }

    #[test]
    fn two_crash_ranges_are_high_and_low() {
        let t = "00001000-ffffffff : System RAM\n  10000000-13ffffff : Crash kernel\n100000000-2ffffffff : System RAM\n  200000000-20fffffff : Crash kernel\n";
        let m = MemoryMap::parse(t, Vec::new()).unwrap();
        assert_eq!(m.crash, Some(Range::new(0x200000000, 0x210000000)));
        assert_eq!(m.crash_low, Some(Range::new(0x10000000, 0x14000000)));
    }

    #[test]
    fn subtract_and_merge() {
        let r = subtract(
            &[Range::new(0, 100)],
            &[Range::new(10, 20), Range::new(15, 30), Range::new(90, 200)],
        );
        assert_eq!(r, vec![Range::new(0, 10), Range::new(30, 90)]);
        assert_eq!(
            merge(vec![Range::new(5, 8), Range::new(0, 5)]),
            vec![Range::new(0, 8)]
        );
    }

    #[test]
    fn firmware_entry_parses_inclusive_end() {
        let e = parse_firmware_entry("0x100000\n", "0x3ffdffff\n", "System RAM\n").unwrap();
        assert_eq!(e.range, Range::new(0x100000, 0x3ffe0000));
        assert_eq!(e.kind, "System RAM");
        assert!(parse_firmware_entry("0x10", "0x1", "x").is_err());
        assert!(parse_firmware_entry("zz", "0x1", "x").is_err());
    }

    proptest::proptest! {
        #[test]
        fn iomem_parsing_never_panics(text in "(( )*[0-9a-f]{0,9}-[0-9a-f]{0,9} : [A-Za-z ]{0,12}\n){0,8}") {
            let _ = MemoryMap::parse(&text, Vec::new());
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = parse_iomem(&text);
        }
    }
}
