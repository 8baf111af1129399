//! Panic (crash) loads: what the capture kernel needs to find the old kernel's memory.

// Parsers and planners: every offset, length and address computed from untrusted input is
// checked (`get`, `checked_*`, `try_from`), an error naming what was truncated, never a
// panic or a silent wrap (issue 16). Tests may index and compute freely.
#![deny(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]
#![cfg_attr(
    test,
    allow(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::cast_possible_truncation
    )
)]

pub mod elfcore;
pub mod vmcore_check;

/// Each CPU's crash_notes buffer as (physical address, size), in CPU order, read from
/// /sys/devices/system/cpu/cpuN/crash_notes{,_size} (drivers/base/cpu.c). When
/// crash_notes_size is not readable the size is sizeof(note_buf_t): two 12-byte note
/// headers, "CORE" padded to 8, and struct elf_prstatus (336 bytes on x86_64, 392 on arm64,
/// 376 on riscv64: the 112-byte common part, ELF_NGREG registers of 8 bytes (27, 34 and
/// 32: arch/riscv/include/uapi/asm/elf.h), pr_fpvalid and padding).
pub fn cpu_notes(
    host: &crate::host::HostRoot,
    arch: crate::Arch,
) -> crate::Result<Vec<(u64, u64)>> {
    // Constant sums per architecture: two note headers, "CORE" padded, elf_prstatus.
    let default_size: u64 = match arch {
        crate::Arch::X86_64 => 12 * 2 + 8 + 336,
        crate::Arch::Arm64 => 12 * 2 + 8 + 392,
        crate::Arch::Riscv64 => 12 * 2 + 8 + 376,
    };
    let mut notes = Vec::new();
    for (cpu, addr) in host.crash_notes()? {
        let rel = format!("/sys/devices/system/cpu/cpu{cpu}/crash_notes_size");
        let size = match host.read_optional(&rel)? {
            Some(t) => crate::host::parse_decimal(&t).map_err(|e| e.in_file(host.path(&rel)))?,
            None => default_size,
        };
        notes.push((addr, size));
    }
    Ok(notes)
}
