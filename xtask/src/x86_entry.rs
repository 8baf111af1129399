//! The in-guest proof of warmboot's x86 decompressed entry: the loader says where it put
//! the kernel proper (its `x86 entry:` line on the console), the new kernel's init says
//! where the kernel really runs (the `@@WB layout` marker: `_text` from /proc/kallsyms,
//! "Kernel code" from /proc/iomem), and the two must agree. With KASLR on, `_text` must
//! also have moved from the link-time address: the kernel booted with KASLR active, at
//! the physical and virtual offsets the loader chose (the bzImage entry leaves that choice
//! to arch/x86/boot/compressed/kaslr.c). That the relocated bytes equal what the
//! decompressor would write for the same offsets is the loader's own test
//! (loader/tests/real_kernels.rs); this check shows the running kernel agrees.
//!
//! Pure: console lines and markers in, a reason for a failure out.

use crate::boot::X86Entry;
use crate::serial::{Marker, Stamped};

/// Where an x86_64 kernel's `_text` is linked: `__START_KERNEL_map` + `LOAD_PHYSICAL_ADDR`
/// (arch/x86/include/asm/page_64_types.h, CONFIG_PHYSICAL_START 0x1000000). A kernel
/// running with KASLR has moved it.
pub const LINKED_TEXT: u64 = 0xffff_ffff_8100_0000;

/// What the prefix of warmboot's line starts with (loader's `warmboot load` output).
const PREFIX: &str = "x86 entry: ";

/// What `warmboot load` said about how the new x86 kernel will be entered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryLine {
    /// `x86 entry: kernel proper decompressed at load, physical 0x…, virtual _text 0x…,
    /// KASLR offset 0x…` (or `KASLR off (nokaslr)`: `kaslr_offset` is `None`).
    Decompressed {
        physical: u64,
        text: u64,
        kaslr_offset: Option<u64>,
    },
    /// `x86 entry: bzImage decompressor (<reason>)`.
    Bzimage { reason: String },
}

impl EntryLine {
    pub fn kind(&self) -> X86Entry {
        match self {
            EntryLine::Decompressed { .. } => X86Entry::Decompressed,
            EntryLine::Bzimage { .. } => X86Entry::Bzimage,
        }
    }
}

fn hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.trim().strip_prefix("0x")?, 16).ok()
}

/// Parses warmboot's `x86 entry:` line; `None` when `line` is not one, an error naming
/// what is wrong when it is one but malformed.
pub fn parse_entry_line(line: &str) -> Option<Result<EntryLine, String>> {
    let at = line.find(PREFIX)?;
    let rest = line[at + PREFIX.len()..].trim_end();
    if let Some(reason) = rest
        .strip_prefix("bzImage decompressor (")
        .and_then(|r| r.strip_suffix(')'))
    {
        return Some(Ok(EntryLine::Bzimage {
            reason: reason.to_string(),
        }));
    }
    let Some(fields) = rest.strip_prefix("kernel proper decompressed at load, ") else {
        return Some(Err(format!("unknown x86 entry line {rest:?}")));
    };
    let bad = || Err(format!("malformed x86 entry line {rest:?}"));
    let parts: Vec<&str> = fields.split(", ").collect();
    // A kernel whose startup_64 is not at _text (6.12 on) adds where it is entered.
    let (phys, text, kaslr) = match parts.as_slice() {
        [phys, text, kaslr] => (phys, text, kaslr),
        [phys, text, kaslr, entry]
            if entry
                .strip_prefix("entered at _text + ")
                .and_then(hex)
                .is_some() =>
        {
            (phys, text, kaslr)
        }
        _ => return Some(bad()),
    };
    let (Some(physical), Some(text)) = (
        phys.strip_prefix("physical ").and_then(hex),
        text.strip_prefix("virtual _text ").and_then(hex),
    ) else {
        return Some(bad());
    };
    let kaslr_offset = if *kaslr == "KASLR off (nokaslr)" {
        None
    } else {
        match kaslr.strip_prefix("KASLR offset ").and_then(hex) {
            Some(o) => Some(o),
            None => return Some(bad()),
        }
    };
    Some(Ok(EntryLine::Decompressed {
        physical,
        text,
        kaslr_offset,
    }))
}

/// The last `x86 entry:` line among `lines` (one load's output), if any.
pub fn entry_in(lines: &[Stamped]) -> Option<Result<EntryLine, String>> {
    lines.iter().rev().find_map(|s| parse_entry_line(&s.line))
}

/// The layout the new kernel's init reported: `text=0x… kernel_code=0x…` ("none" when the
/// kernel does not show one).
fn layout_value(m: &Marker, key: &str) -> Result<u64, String> {
    let v = m.get(key).unwrap_or("none");
    hex(v).ok_or_else(|| format!("the layout marker has no {key} address ({key}={v})"))
}

/// Checks one warm hop: `asked` is what the run requested (`None` = the loader's
/// default), `entry` what the loader printed before the reboot, `layout` the new
/// kernel's layout marker. `hop` is the new kernel's hop number, for the messages.
pub fn check_hop(
    hop: u32,
    asked: Option<X86Entry>,
    entry: Option<Result<EntryLine, String>>,
    layout: Option<&Marker>,
) -> Result<(), String> {
    let entry = match entry {
        Some(Ok(e)) => Some(e),
        Some(Err(e)) => return Err(format!("hop {}: {e}", hop - 1)),
        None => None,
    };
    match (asked, &entry) {
        (Some(want @ (X86Entry::Decompressed | X86Entry::Bzimage)), got)
            if got.as_ref().map(EntryLine::kind) != Some(want) =>
        {
            let said = match got {
                None => "printed no \"x86 entry:\" line".to_string(),
                Some(EntryLine::Bzimage { reason }) => {
                    format!("took the bzImage decompressor ({reason})")
                }
                Some(EntryLine::Decompressed { .. }) => "took the decompressed entry".to_string(),
            };
            return Err(format!(
                "hop {}: --x86-entry {} was asked but the loader {said}",
                hop - 1,
                want.name()
            ));
        }
        _ => {}
    }
    let Some(EntryLine::Decompressed {
        physical,
        text,
        kaslr_offset,
    }) = entry
    else {
        return Ok(());
    };
    let Some(layout) = layout else {
        return Err(format!(
            "hop {hop}: the loader placed the kernel itself but the new kernel printed no \
             layout marker"
        ));
    };
    let got_text = layout_value(layout, "text").map_err(|e| format!("hop {hop}: {e}"))?;
    let got_code = layout_value(layout, "kernel_code").map_err(|e| format!("hop {hop}: {e}"))?;
    if got_text != text {
        return Err(format!(
            "hop {hop}: the new kernel's _text is {got_text:#018x}, the loader said \
             {text:#018x}"
        ));
    }
    if got_code != physical {
        return Err(format!(
            "hop {hop}: the new kernel's code starts at physical {got_code:#x}, the loader \
             said {physical:#x}"
        ));
    }
    if kaslr_offset.is_some() && got_text == LINKED_TEXT {
        return Err(format!(
            "hop {hop}: KASLR was on but the new kernel's _text is at the link-time address \
             {LINKED_TEXT:#018x}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serial::parse_marker;
    use std::time::Duration;

    const DECOMPRESSED: &str = "x86 entry: kernel proper decompressed at load, physical \
        0x000000000e600000, virtual _text 0xffffffffa5200000, KASLR offset 0x24200000";

    fn layout(line: &str) -> Marker {
        let (event, fields) = parse_marker(line).unwrap();
        Marker {
            t: Duration::ZERO,
            index: 0,
            event,
            fields,
        }
    }

    #[test]
    fn entry_lines_parse_or_say_what_is_wrong() {
        assert_eq!(
            parse_entry_line(&format!("\u{1b}[0m{DECOMPRESSED}\r")).unwrap(),
            Ok(EntryLine::Decompressed {
                physical: 0xe60_0000,
                text: 0xffff_ffff_a520_0000,
                kaslr_offset: Some(0x2420_0000),
            })
        );
        let off = "x86 entry: kernel proper decompressed at load, physical 0x0000000001000000, \
                   virtual _text 0xffffffff81000000, KASLR off (nokaslr)";
        assert_eq!(
            parse_entry_line(off).unwrap(),
            Ok(EntryLine::Decompressed {
                physical: 0x100_0000,
                text: LINKED_TEXT,
                kaslr_offset: None,
            })
        );
        let entered = "x86 entry: kernel proper decompressed at load, physical 0x0000000028000000, \
                       virtual _text 0xffffffff92600000, KASLR offset 0x11600000, entered at _text + 0xc43";
        assert_eq!(
            parse_entry_line(entered).unwrap(),
            Ok(EntryLine::Decompressed {
                physical: 0x2800_0000,
                text: 0xffff_ffff_9260_0000,
                kaslr_offset: Some(0x1160_0000),
            })
        );
        let e = parse_entry_line(&entered.replace("0xc43", "c43"))
            .unwrap()
            .unwrap_err();
        assert!(e.starts_with("malformed x86 entry line"), "{e}");
        assert_eq!(
            parse_entry_line("x86 entry: bzImage decompressor (kexec_file_load)").unwrap(),
            Ok(EntryLine::Bzimage {
                reason: "kexec_file_load".into()
            })
        );
        assert_eq!(parse_entry_line("loaded /boot/next/vmlinuz"), None);
        let e = parse_entry_line("x86 entry: kernel proper decompressed at load, physical 0xzz")
            .unwrap()
            .unwrap_err();
        assert!(e.starts_with("malformed x86 entry line"), "{e}");
        let e = parse_entry_line("x86 entry: something new")
            .unwrap()
            .unwrap_err();
        assert!(e.starts_with("unknown x86 entry line"), "{e}");
    }

    #[test]
    fn a_kernel_where_the_loader_put_it_with_kaslr_passes() {
        let l = layout("@@WB layout text=0xffffffffa5200000 kernel_code=0xe600000 hop=1");
        let e = parse_entry_line(DECOMPRESSED);
        assert_eq!(
            check_hop(1, Some(X86Entry::Decompressed), e.clone(), Some(&l)),
            Ok(())
        );
        // The loader's default choosing the decompressed entry is checked the same way.
        assert_eq!(check_hop(1, None, e, Some(&l)), Ok(()));
    }

    #[test]
    fn a_kernel_elsewhere_or_without_kaslr_or_without_layout_fails() {
        let e = || parse_entry_line(DECOMPRESSED);
        let asked = Some(X86Entry::Decompressed);
        let moved = layout("@@WB layout text=0xffffffffa5400000 kernel_code=0xe600000 hop=1");
        let r = check_hop(1, asked, e(), Some(&moved)).unwrap_err();
        assert_eq!(
            r,
            "hop 1: the new kernel's _text is 0xffffffffa5400000, the loader said \
             0xffffffffa5200000"
        );
        let phys = layout("@@WB layout text=0xffffffffa5200000 kernel_code=0x1000000 hop=1");
        let r = check_hop(1, asked, e(), Some(&phys)).unwrap_err();
        assert!(r.contains("code starts at physical 0x1000000"), "{r}");
        let r = check_hop(1, asked, e(), None).unwrap_err();
        assert!(r.contains("printed no layout marker"), "{r}");
        let none = layout("@@WB layout text=none kernel_code=0xe600000 hop=1");
        let r = check_hop(1, asked, e(), Some(&none)).unwrap_err();
        assert!(r.contains("no text address (text=none)"), "{r}");
        // KASLR on, but the kernel (and the loader's claim) at the link-time address.
        let claim = "x86 entry: kernel proper decompressed at load, physical \
            0x0000000001000000, virtual _text 0xffffffff81000000, KASLR offset 0x0";
        let linked = layout("@@WB layout text=0xffffffff81000000 kernel_code=0x1000000 hop=2");
        let r = check_hop(2, asked, parse_entry_line(claim), Some(&linked)).unwrap_err();
        assert!(r.starts_with("hop 2: KASLR was on but"), "{r}");
        // The same place with nokaslr is right.
        let nokaslr = "x86 entry: kernel proper decompressed at load, physical \
            0x0000000001000000, virtual _text 0xffffffff81000000, KASLR off (nokaslr)";
        assert_eq!(
            check_hop(2, asked, parse_entry_line(nokaslr), Some(&linked)),
            Ok(())
        );
    }

    #[test]
    fn the_entry_asked_for_must_be_the_entry_taken() {
        let bz = || parse_entry_line("x86 entry: bzImage decompressor (panic load)");
        let r = check_hop(1, Some(X86Entry::Decompressed), bz(), None).unwrap_err();
        assert_eq!(
            r,
            "hop 0: --x86-entry decompressed was asked but the loader took the bzImage \
             decompressor (panic load)"
        );
        let r = check_hop(1, Some(X86Entry::Decompressed), None, None).unwrap_err();
        assert!(r.contains("printed no \"x86 entry:\" line"), "{r}");
        let r = check_hop(
            3,
            Some(X86Entry::Bzimage),
            parse_entry_line(DECOMPRESSED),
            None,
        )
        .unwrap_err();
        assert!(r.starts_with("hop 2: --x86-entry bzimage was asked"), "{r}");
        // The bzImage path needs no layout; auto and no request accept either entry.
        assert_eq!(check_hop(1, Some(X86Entry::Bzimage), bz(), None), Ok(()));
        assert_eq!(check_hop(1, Some(X86Entry::Auto), bz(), None), Ok(()));
        assert_eq!(check_hop(1, None, None, None), Ok(()));
        let malformed = parse_entry_line("x86 entry: ???");
        assert!(check_hop(1, None, malformed, None).is_err());
    }
}
