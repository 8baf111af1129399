//! What an x86_64 plan's boot_params segment holds and where (its segment names, offsets
//! and the notes that say how the kernel is entered), and the check that it points at bytes
//! the plan loads. Apart from [`crate::x86::kexec_plan`], which builds such plans, so that
//! [`crate::plan_check`] can run the check without depending on the planner.

use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::x86::trampoline;

/// Name of the segment holding trampoline, zero page, command line and setup_data.
pub const BOOT_PARAMS: &str = "boot_params";
/// Name of the crash kernel's ELF core header segment.
pub const ELFCOREHDR: &str = "elfcorehdr";

/// Where the zero page (struct boot_params) starts inside the boot_params segment.
pub const ZERO_PAGE_OFFSET: u64 = 0x1000;
/// Where the NUL-terminated command line starts inside the boot_params segment.
pub const CMDLINE_OFFSET: u64 = 0x2000;

/// Every x86 plan says how the kernel is entered in a note starting with this.
pub const ENTRY_NOTE: &str = "x86 entry: ";
/// The note of the decompressed path starts with this.
pub const DECOMPRESSED_NOTE: &str = "x86 entry: kernel proper decompressed at load";
/// A decompressed entry whose e_entry is not `_text` ends its note with this and the
/// offset (hex), which [`verify`] holds the trampoline to.
pub const ENTRY_OFFSET_NOTE: &str = ", entered at _text + ";

/// Checks what the kernel cannot: that the boot_params segment's zero page points at bytes
/// the plan loads — the command line (NUL-terminated), the initrd, the trampoline's
/// kernel entry — so a plan can never boot into garbage. Run by `plan_check::check_plan`
/// for every x86_64 plan that has a boot_params segment.
pub fn verify(plan: &Plan) -> Result<()> {
    let Some(bp) = plan.segments.iter().find(|s| s.what == BOOT_PARAMS) else {
        return Ok(());
    };
    let bad = |detail: String| Error::Rejected {
        rule: crate::error::Rule::BootParams,
        detail,
    };
    let zp = crate::fields::slice(&bp.buf, ZERO_PAGE_OFFSET, 4096, "zero page")?;
    let view = crate::x86::bootparams::parse_zero_page(zp)?;
    // Bytes the plan puts at [addr, addr+len), if one segment holds them all.
    let loaded = |addr: u64, len: u64| -> Option<&[u8]> {
        plan.segments.iter().find_map(|s| {
            let off = addr.checked_sub(s.mem)?;
            let end = off.checked_add(len)?;
            s.buf
                .get(usize::try_from(off).ok()?..usize::try_from(end).ok()?)
        })
    };
    let cmdline = (plan.cmdline.len() as u64)
        .checked_add(1)
        .and_then(|len| loaded(view.cmd_line_ptr, len))
        .ok_or_else(|| {
            bad(format!(
                "cmd_line_ptr {:#x} does not point into a loaded segment",
                view.cmd_line_ptr
            ))
        })?;
    if !matches!(cmdline.split_last(), Some((0, text)) if text == plan.cmdline.as_bytes()) {
        return Err(bad(format!(
            "the command line at {:#x} is not the plan's",
            view.cmd_line_ptr
        )));
    }
    match (
        view.ramdisk,
        plan.segments.iter().find(|s| s.what == "initrd"),
    ) {
        (None, None) => {}
        (Some((addr, size)), Some(s)) if addr == s.mem && size == s.bufsz() => {}
        (r, s) => {
            return Err(bad(format!(
                "ramdisk fields {r:x?} do not match the initrd segment {:x?}",
                s.map(|s| (s.mem, s.bufsz()))
            )))
        }
    }
    if loaded(plan.entry, 1).is_none() {
        return Err(bad(format!(
            "entry {:#x} is not in a loaded segment",
            plan.entry
        )));
    }
    // With --verify the entry is the purgatory, which continues at the trampoline.
    let tramp_at = match crate::purgatory::read_block(plan)? {
        Some(block) => block.next,
        None => plan.entry,
    };
    let tramp = loaded(tramp_at, trampoline::SIZE as u64)
        .ok_or_else(|| bad("the trampoline is cut short".to_string()))?;
    let kernel_entry = crate::fields::le_u64(
        tramp,
        trampoline::KERNEL_ENTRY_FIELD as u64,
        "trampoline kernel entry",
    )?;
    let kernel = plan
        .segments
        .iter()
        .find(|s| s.what == "kernel")
        .ok_or_else(|| bad("no kernel segment".to_string()))?;
    // The decompressed kernel proper is entered at startup_64: _text, the start of its
    // segment, or where its note says (inside the segment's bytes); a bzImage at its
    // 64-bit entry, +0x200.
    let offset = match plan.notes.iter().find(|n| n.starts_with(DECOMPRESSED_NOTE)) {
        None => 0x200,
        Some(note) => match note.rsplit_once(ENTRY_OFFSET_NOTE) {
            None => 0,
            Some((_, hex)) => hex
                .strip_prefix("0x")
                .and_then(|h| u64::from_str_radix(h, 16).ok())
                .filter(|&o| o < kernel.bufsz())
                .ok_or_else(|| {
                    bad(format!(
                        "the entry offset {hex:?} in the plan's note is not inside the kernel's bytes"
                    ))
                })?,
        },
    };
    let want = crate::fields::add(kernel.mem, offset, "kernel entry address")?;
    if kernel_entry != want {
        return Err(bad(format!(
            "the trampoline jumps to {kernel_entry:#x}, not the kernel's 64-bit entry {want:#x}"
        )));
    }
    if view.e820.is_empty() {
        return Err(bad("the zero page has no e820 memory map".to_string()));
    }
    Ok(())
}
