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
//! Under the loader's default entry (no `--x86-entry`, or `auto`) a warm hop that warmboot
//! loaded with `kexec_load` must have taken the decompressed entry: a bzImage line there is
//! a silent fallback, and fails the run with the loader's reason. Only `--x86-entry
//! bzimage` (asked for) and kexec_file_load hops (the kernel loads the bzImage itself) may
//! enter through the bzImage's decompressor.
//!
//! Pure: console lines and markers in, a reason for a failure out.

use crate::scenario::X86Entry;
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

/// The kexec syscall a load went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadSyscall {
    KexecLoad,
    KexecFileLoad,
}

/// The syscall `warmboot load` says it used: its `loaded … with kexec_load (…)` or
/// `… with kexec_file_load (…)` line (the first of the two phrases on the line; the
/// reason in brackets may name the other syscall).
pub fn parse_loaded_line(line: &str) -> Option<LoadSyscall> {
    let rest = &line[line.find("loaded ")?..];
    let classic = rest.find(" with kexec_load (");
    let file = rest.find(" with kexec_file_load (");
    match (classic, file) {
        (Some(c), Some(f)) if f < c => Some(LoadSyscall::KexecFileLoad),
        (Some(_), _) => Some(LoadSyscall::KexecLoad),
        (None, Some(_)) => Some(LoadSyscall::KexecFileLoad),
        (None, None) => None,
    }
}

/// The syscall of one load: warmboot's `loaded` line among `lines`, else (no such line)
/// the syscall the guest asked for in its `load-done` marker when that names one
/// (`classic`, `file`; `auto` says nothing).
pub fn syscall_in(lines: &[Stamped], load_done: Option<&Marker>) -> Option<LoadSyscall> {
    lines
        .iter()
        .rev()
        .find_map(|s| parse_loaded_line(&s.line))
        .or_else(|| match load_done?.get("syscall")? {
            "classic" => Some(LoadSyscall::KexecLoad),
            "file" => Some(LoadSyscall::KexecFileLoad),
            _ => None,
        })
}

/// The layout the new kernel's init reported: `text=0x… kernel_code=0x…` ("none" when the
/// kernel does not show one).
fn layout_value(m: &Marker, key: &str) -> Result<u64, String> {
    let v = m.get(key).unwrap_or("none");
    hex(v).ok_or_else(|| format!("the layout marker has no {key} address ({key}={v})"))
}

/// Checks one warm hop: `asked` is what the run requested of warmboot on x86_64
/// (`Some(Auto)` = the loader's default, `None` = not warmboot on x86_64), `syscall` the
/// syscall the load went through, `entry` what the loader printed before the reboot,
/// `layout` the new kernel's layout marker. `hop` is the new kernel's hop number, for the
/// messages.
pub fn check_hop(
    hop: u32,
    asked: Option<X86Entry>,
    syscall: Option<LoadSyscall>,
    entry: Option<Result<EntryLine, String>>,
    layout: Option<&Marker>,
) -> Result<(), String> {
    let entry = match entry {
        Some(Ok(e)) => Some(e),
        Some(Err(e)) => return Err(format!("hop {}: {e}", hop - 1)),
        None => None,
    };
    // The default entry on a kexec_load hop is the decompressed kernel: anything else is
    // a fallback the run must not hide.
    if asked == Some(X86Entry::Auto) && syscall == Some(LoadSyscall::KexecLoad) {
        match &entry {
            Some(EntryLine::Bzimage { reason }) => {
                return Err(format!(
                    "hop {}: warmboot's kexec_load fell back to the bzImage decompressor \
                     ({reason}) under the default x86 entry",
                    hop - 1
                ))
            }
            None => {
                return Err(format!(
                    "hop {}: warmboot loaded with kexec_load but printed no \"x86 entry:\" line",
                    hop - 1
                ))
            }
            Some(EntryLine::Decompressed { .. }) => {}
        }
    }
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

    const CLASSIC: Option<LoadSyscall> = Some(LoadSyscall::KexecLoad);

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
            check_hop(
                1,
                Some(X86Entry::Decompressed),
                CLASSIC,
                e.clone(),
                Some(&l)
            ),
            Ok(())
        );
        // The loader's default choosing the decompressed entry is checked the same way.
        assert_eq!(
            check_hop(1, Some(X86Entry::Auto), CLASSIC, e.clone(), Some(&l)),
            Ok(())
        );
        assert_eq!(check_hop(1, None, CLASSIC, e, Some(&l)), Ok(()));
    }

    #[test]
    fn a_kernel_elsewhere_or_without_kaslr_or_without_layout_fails() {
        let e = || parse_entry_line(DECOMPRESSED);
        let asked = Some(X86Entry::Decompressed);
        let moved = layout("@@WB layout text=0xffffffffa5400000 kernel_code=0xe600000 hop=1");
        let r = check_hop(1, asked, CLASSIC, e(), Some(&moved)).unwrap_err();
        assert_eq!(
            r,
            "hop 1: the new kernel's _text is 0xffffffffa5400000, the loader said \
             0xffffffffa5200000"
        );
        let phys = layout("@@WB layout text=0xffffffffa5200000 kernel_code=0x1000000 hop=1");
        let r = check_hop(1, asked, CLASSIC, e(), Some(&phys)).unwrap_err();
        assert!(r.contains("code starts at physical 0x1000000"), "{r}");
        let r = check_hop(1, asked, CLASSIC, e(), None).unwrap_err();
        assert!(r.contains("printed no layout marker"), "{r}");
        let none = layout("@@WB layout text=none kernel_code=0xe600000 hop=1");
        let r = check_hop(1, asked, CLASSIC, e(), Some(&none)).unwrap_err();
        assert!(r.contains("no text address (text=none)"), "{r}");
        // KASLR on, but the kernel (and the loader's claim) at the link-time address.
        let claim = "x86 entry: kernel proper decompressed at load, physical \
            0x0000000001000000, virtual _text 0xffffffff81000000, KASLR offset 0x0";
        let linked = layout("@@WB layout text=0xffffffff81000000 kernel_code=0x1000000 hop=2");
        let r = check_hop(2, asked, CLASSIC, parse_entry_line(claim), Some(&linked)).unwrap_err();
        assert!(r.starts_with("hop 2: KASLR was on but"), "{r}");
        // The same place with nokaslr is right.
        let nokaslr = "x86 entry: kernel proper decompressed at load, physical \
            0x0000000001000000, virtual _text 0xffffffff81000000, KASLR off (nokaslr)";
        assert_eq!(
            check_hop(2, asked, CLASSIC, parse_entry_line(nokaslr), Some(&linked)),
            Ok(())
        );
    }

    #[test]
    fn the_entry_asked_for_must_be_the_entry_taken() {
        let bz = || parse_entry_line("x86 entry: bzImage decompressor (panic load)");
        let r = check_hop(1, Some(X86Entry::Decompressed), CLASSIC, bz(), None).unwrap_err();
        assert_eq!(
            r,
            "hop 0: --x86-entry decompressed was asked but the loader took the bzImage \
             decompressor (panic load)"
        );
        let r = check_hop(1, Some(X86Entry::Decompressed), CLASSIC, None, None).unwrap_err();
        assert!(r.contains("printed no \"x86 entry:\" line"), "{r}");
        let r = check_hop(
            3,
            Some(X86Entry::Bzimage),
            CLASSIC,
            parse_entry_line(DECOMPRESSED),
            None,
        )
        .unwrap_err();
        assert!(r.starts_with("hop 2: --x86-entry bzimage was asked"), "{r}");
        // The bzImage path needs no layout; a run that is not warmboot on x86_64 checks
        // nothing it did not print.
        assert_eq!(
            check_hop(1, Some(X86Entry::Bzimage), CLASSIC, bz(), None),
            Ok(())
        );
        assert_eq!(check_hop(1, None, CLASSIC, bz(), None), Ok(()));
        assert_eq!(check_hop(1, None, CLASSIC, None, None), Ok(()));
        let malformed = parse_entry_line("x86 entry: ???");
        assert!(check_hop(1, None, CLASSIC, malformed, None).is_err());
    }

    #[test]
    fn the_default_entry_on_kexec_load_must_not_fall_back_to_the_bzimage() {
        let fallback = || {
            parse_entry_line(
                "x86 entry: bzImage decompressor (invalid decompressed x86 kernel: its entry \
                 is not at _text)",
            )
        };
        let auto = Some(X86Entry::Auto);
        let r = check_hop(2, auto, CLASSIC, fallback(), None).unwrap_err();
        assert_eq!(
            r,
            "hop 1: warmboot's kexec_load fell back to the bzImage decompressor (invalid \
             decompressed x86 kernel: its entry is not at _text) under the default x86 entry"
        );
        // A kexec_load hop must say how it entered the kernel.
        let r = check_hop(1, auto, CLASSIC, None, None).unwrap_err();
        assert_eq!(
            r,
            "hop 0: warmboot loaded with kexec_load but printed no \"x86 entry:\" line"
        );
        // kexec_file_load: the kernel loads the bzImage itself, that is no fallback.
        let file = parse_entry_line(
            "x86 entry: bzImage decompressor (kexec_file_load: the kernel loads the bzImage \
             itself)",
        );
        let as_file = Some(LoadSyscall::KexecFileLoad);
        assert_eq!(check_hop(1, auto, as_file, file, None), Ok(()));
        assert_eq!(check_hop(1, auto, as_file, None, None), Ok(()));
        // Asked for explicitly, the bzImage entry on kexec_load passes.
        assert_eq!(
            check_hop(1, Some(X86Entry::Bzimage), CLASSIC, fallback(), None),
            Ok(())
        );
    }

    #[test]
    fn the_syscall_of_a_load_comes_from_its_loaded_line_or_its_marker() {
        let line = |l: &str| Stamped {
            t: Duration::ZERO,
            line: l.into(),
        };
        assert_eq!(
            parse_loaded_line(
                "loaded /boot/next/vmlinuz (x86 bzImage 6.12.48+deb13-amd64) for the next \
                 reboot with kexec_load (auto: kexec_load with the kernel decompressed at load \
                 time (shorter reboot); kexec_file_load under lockdown)"
            ),
            Some(LoadSyscall::KexecLoad)
        );
        // The reason of a kexec_file_load line names kexec_load: the first phrase counts.
        assert_eq!(
            parse_loaded_line(
                "loaded /boot/next/vmlinuz (x86 bzImage 6.1.0-56-amd64) for the next reboot \
                 with kexec_file_load (auto: kexec_file_load preferred (the kernel verifies \
                 and places the image); kexec_load if the kernel lacks it)"
            ),
            Some(LoadSyscall::KexecFileLoad)
        );
        // The fallback after ENOSYS went through kexec_load.
        assert_eq!(
            parse_loaded_line(
                "loaded /boot/next/vmlinuz (arm64 Image 6.1.0-56-arm64) for the next reboot \
                 with kexec_load (kexec_file_load(kernel_fd=3, initrd_fd=4, cmdline_len=140, \
                 flags=0x0) failed: ENOSYS; fell back to kexec_load)"
            ),
            Some(LoadSyscall::KexecLoad)
        );
        assert_eq!(parse_loaded_line("@@WB load-done syscall=classic"), None);
        let done = |sys: &str| {
            layout(&format!(
                "@@WB load-done kind=normal loader=warmboot syscall={sys}"
            ))
        };
        let quiet = [line("x86 entry: bzImage decompressor (panic load)")];
        assert_eq!(
            syscall_in(&quiet, Some(&done("classic"))),
            Some(LoadSyscall::KexecLoad)
        );
        assert_eq!(
            syscall_in(&quiet, Some(&done("file"))),
            Some(LoadSyscall::KexecFileLoad)
        );
        assert_eq!(syscall_in(&quiet, Some(&done("auto"))), None);
        assert_eq!(syscall_in(&quiet, None), None);
        // The loaded line wins over what was asked for.
        let told = [line(
            "loaded /boot/next/vmlinuz (x86 bzImage) for the next reboot with \
             kexec_file_load (requested with --syscall file)",
        )];
        assert_eq!(
            syscall_in(&told, Some(&done("classic"))),
            Some(LoadSyscall::KexecFileLoad)
        );
    }
}
