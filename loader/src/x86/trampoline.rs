//! The x86_64 entry trampoline: the code `machine_kexec` jumps to, which turns the state the
//! old kernel leaves behind into the state the 64-bit boot protocol asks for.
//!
//! **What the old kernel leaves** (kexec-facts §4 "State at the kexec entry on x86_64";
//! arch/x86/kernel/machine_kexec_64.c, relocate_kernel_64.S): 64-bit mode, paging on with an
//! identity map of every segment, interrupts off, the IDT and GDT *invalidated* (limit 0),
//! CS still 0x10, DS/ES/SS/FS/GS = 0x18 but any segment load faults until a GDT is loaded,
//! CR4 = PAE only (so no SSE instructions), all other registers zero and no stack of ours.
//!
//! **What the kernel wants** (Documentation/arch/x86/boot.rst "64-bit Boot Protocol"):
//! a GDT with flat `__BOOT_CS` = 0x10 and `__BOOT_DS` = 0x18, CS = 0x10, DS/ES/SS = 0x18,
//! interrupts off, RSI = the zero page (boot_params), entry = protected-mode load address +
//! 0x200. This is what the kernel's own purgatory `entry64` does
//! (arch/x86/purgatory/entry64.S), minus its SHA-256 check and its 16-register table.
//!
//! The code is a fixed machine-code template ([`INSNS`], one instruction per entry, each with
//! its GNU assembler source) followed by a data area. The code uses RIP-relative addressing
//! only, so it runs wherever it is placed; the data area holds the three absolute values that
//! depend on the placement and are patched by [`build`]: the GDT base (the `lgdt` operand
//! needs an absolute linear address), the boot_params address and the kernel entry.
//!
//! Layout of the [`SIZE`] bytes placed at `load_addr` (a page-aligned address, so the
//! segment is exactly one page of the identity map):
//!
//! | offset | what |
//! |---|---|
//! | 0x000 | code ([`ENTRY_OFFSET`]) |
//! | 0x080 | GDT: null, null, 0x10 code, 0x18 data ([`GDT_OFFSET`]) |
//! | 0x0a6 | GDT pseudo-descriptor: u16 limit, u64 base ([`GDT_BASE_FIELD`] = 0xa8) |
//! | 0x0b0 | u64 boot_params address ([`BOOT_PARAMS_FIELD`]) |
//! | 0x0b8 | u64 kernel 64-bit entry ([`KERNEL_ENTRY_FIELD`]) |
//! | 0x0c0 | stack, growing down from [`STACK_TOP`] = [`SIZE`] |
//!
//! **`--verify`** runs before this code, not inside it: the plan's entry is then
//! warmboot's purgatory ([`crate::purgatory`]), which checks the segments' SHA-256 with
//! plain integer code (SSE is off) using the old kernel's identity map and its own stack,
//! and jumps here on success; nothing in this layout changes.

use crate::error::{Error, Result};

/// Bytes of the trampoline, including its data area and stack. One page is the limit.
pub const SIZE: usize = 0x200;
/// Offset of the first instruction: `kexec_load`'s `entry` = load address + this.
pub const ENTRY_OFFSET: u64 = 0;
/// Where the data area starts; the code must end before it.
pub const DATA_OFFSET: usize = 0x80;
/// The GDT (4 descriptors, 8-byte aligned).
pub const GDT_OFFSET: usize = 0x80;
/// The `lgdt` operand: u16 limit at 0xa6 and u64 base at 0xa8 (8-byte aligned base).
pub const GDT_DESC_OFFSET: usize = 0xa6;
/// Patched: absolute address of the GDT (load_addr + [`GDT_OFFSET`]).
pub const GDT_BASE_FIELD: usize = 0xa8;
/// Patched: physical address of boot_params (the zero page), loaded into RSI.
pub const BOOT_PARAMS_FIELD: usize = 0xb0;
/// Patched: the kernel's 64-bit entry (protected-mode load address + 0x200).
pub const KERNEL_ENTRY_FIELD: usize = 0xb8;
/// Top of the trampoline's stack (16-byte aligned; used only by the far return).
pub const STACK_TOP: usize = SIZE;
/// Offset of the instruction after `lretq`, where the far return lands with CS = 0x10.
pub const RELOAD_OFFSET: usize = 0x1c;

/// The GDT: null, null, `__BOOT_CS` 0x10 (64-bit code, L=1, execute/read) and `__BOOT_DS`
/// 0x18 (flat 4 GiB read/write), the values of arch/x86/purgatory/entry64.S.
pub const GDT: [u64; 4] = [0, 0, 0x00AF_9A00_0000_FFFF, 0x00CF_9200_0000_FFFF];
/// The `lgdt` limit: the GDT's size in bytes minus 1.
// A const item: 4 * 8 - 1 fits a u16, and the assert below holds it to that at compile time.
#[allow(clippy::cast_possible_truncation)]
pub const GDT_LIMIT: u16 = (GDT.len() * 8 - 1) as u16;
const _: () = assert!(GDT_LIMIT as usize == GDT.len() * 8 - 1);
/// The code segment selector (GDT entry 2).
pub const BOOT_CS: u8 = 0x10;
/// The data segment selector (GDT entry 3).
pub const BOOT_DS: u8 = 0x18;

/// One instruction of the template.
#[derive(Debug, Clone, Copy)]
pub struct Insn {
    /// GNU assembler source (AT&T syntax), also used by the tests to re-assemble the code.
    pub asm: &'static str,
    /// A label the assembler source defines at this instruction, if any.
    pub label: Option<&'static str>,
    /// The opcode bytes; for RIP-relative instructions, the bytes before the disp32.
    pub bytes: &'static [u8],
    /// For RIP-relative instructions: the template offset the disp32 points at. The disp32
    /// is the instruction's last field, so it is relative to the end of those 4 bytes.
    pub rip_target: Option<usize>,
}

const fn op(asm: &'static str, bytes: &'static [u8]) -> Insn {
    Insn {
        asm,
        label: None,
        bytes,
        rip_target: None,
    }
}

const fn rip(asm: &'static str, bytes: &'static [u8], target: usize) -> Insn {
    Insn {
        asm,
        label: None,
        bytes,
        rip_target: Some(target),
    }
}

/// The code, in order. Each entry's `asm` is exactly what `as --64` turns into its bytes.
pub const INSNS: &[Insn] = &[
    // Interrupts are already off (RFLAGS = 0); say so anyway, and clear DF for the kernel.
    op("cli", &[0xfa]),
    op("cld", &[0xfc]),
    // Our own GDT; the old one has limit 0.
    rip("lgdt gdt_desc(%rip)", &[0x0f, 0x01, 0x15], GDT_DESC_OFFSET),
    // A stack of our own, for the far return (the old RSP is in the control page).
    rip("lea stack_top(%rip), %rsp", &[0x48, 0x8d, 0x25], STACK_TOP),
    // Reload CS from the new GDT: push selector and target, far return.
    op("push $0x10", &[0x6a, BOOT_CS]),
    rip("lea reload(%rip), %rax", &[0x48, 0x8d, 0x05], RELOAD_OFFSET),
    op("push %rax", &[0x50]),
    op("lretq", &[0x48, 0xcb]),
    Insn {
        label: Some("reload"),
        ..op("mov $0x18, %eax", &[0xb8, BOOT_DS, 0, 0, 0])
    },
    op("mov %eax, %ds", &[0x8e, 0xd8]),
    op("mov %eax, %es", &[0x8e, 0xc0]),
    op("mov %eax, %ss", &[0x8e, 0xd0]),
    op("mov %eax, %fs", &[0x8e, 0xe0]),
    op("mov %eax, %gs", &[0x8e, 0xe8]),
    // RSI = boot_params, RAX = the kernel's 64-bit entry.
    rip(
        "mov boot_params(%rip), %rsi",
        &[0x48, 0x8b, 0x35],
        BOOT_PARAMS_FIELD,
    ),
    rip(
        "mov kernel_entry(%rip), %rax",
        &[0x48, 0x8b, 0x05],
        KERNEL_ENTRY_FIELD,
    ),
    // Every other general-purpose register zero, as purgatory leaves them (rbx = 0 there).
    op("xor %ebx, %ebx", &[0x31, 0xdb]),
    op("xor %ecx, %ecx", &[0x31, 0xc9]),
    op("xor %edx, %edx", &[0x31, 0xd2]),
    op("xor %edi, %edi", &[0x31, 0xff]),
    op("xor %ebp, %ebp", &[0x31, 0xed]),
    op("xor %r8d, %r8d", &[0x45, 0x31, 0xc0]),
    op("xor %r9d, %r9d", &[0x45, 0x31, 0xc9]),
    op("xor %r10d, %r10d", &[0x45, 0x31, 0xd2]),
    op("xor %r11d, %r11d", &[0x45, 0x31, 0xdb]),
    op("xor %r12d, %r12d", &[0x45, 0x31, 0xe4]),
    op("xor %r13d, %r13d", &[0x45, 0x31, 0xed]),
    op("xor %r14d, %r14d", &[0x45, 0x31, 0xf6]),
    op("xor %r15d, %r15d", &[0x45, 0x31, 0xff]),
    op("jmp *%rax", &[0xff, 0xe0]),
];

/// Length of an instruction, including the disp32 of RIP-relative ones.
// Evaluated in const context (CODE_LEN) and by tests on the fixed INSNS: an overflow is a compile error.
#[allow(clippy::arithmetic_side_effects)]
const fn insn_len(i: &Insn) -> usize {
    i.bytes.len() + if i.rip_target.is_some() { 4 } else { 0 }
}

/// The template: code, GDT and GDT limit filled in; the patched fields are zero.
pub const TEMPLATE: [u8; SIZE] = assemble();

// A const fn table, evaluated only for TEMPLATE: an out-of-bounds index, overflow or
// truncation is a compile error, never a runtime panic.
#[allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]
const fn assemble() -> [u8; SIZE] {
    let mut out = [0u8; SIZE];
    let mut pos = 0;
    let mut i = 0;
    while i < INSNS.len() {
        let insn = &INSNS[i];
        let mut b = 0;
        while b < insn.bytes.len() {
            out[pos] = insn.bytes[b];
            pos += 1;
            b += 1;
        }
        if let Some(target) = insn.rip_target {
            let disp = (target as i64 - (pos as i64 + 4)) as i32;
            let d = disp.to_le_bytes();
            let mut k = 0;
            while k < 4 {
                out[pos + k] = d[k];
                k += 1;
            }
            pos += 4;
        }
        i += 1;
    }
    assert!(pos <= DATA_OFFSET, "trampoline code overlaps its data area");
    let mut e = 0;
    while e < GDT.len() {
        let d = GDT[e].to_le_bytes();
        let mut k = 0;
        while k < 8 {
            out[GDT_OFFSET + e * 8 + k] = d[k];
            k += 1;
        }
        e += 1;
    }
    let limit = GDT_LIMIT.to_le_bytes();
    out[GDT_DESC_OFFSET] = limit[0];
    out[GDT_DESC_OFFSET + 1] = limit[1];
    out
}

/// Length of the code part of the template.
pub const CODE_LEN: usize = code_len();

// A const fn evaluated only for CODE_LEN: an out-of-bounds index or overflow is a compile error.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const fn code_len() -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < INSNS.len() {
        n += insn_len(&INSNS[i]);
        i += 1;
    }
    n
}

const _: () = assert!(SIZE <= 4096 && CODE_LEN <= DATA_OFFSET);
const _: () = assert!(GDT_DESC_OFFSET + 2 == GDT_BASE_FIELD && GDT_BASE_FIELD.is_multiple_of(8));
const _: () = assert!(KERNEL_ENTRY_FIELD + 8 <= STACK_TOP && STACK_TOP.is_multiple_of(16));

/// The trampoline bytes for placement at `load_addr` (page-aligned; its [`SIZE`] bytes must
/// be one segment of the plan, so the identity map covers them), jumping to `kernel_entry`
/// (the kernel's protected-mode load address + 0x200) with RSI = `boot_params`.
///
/// `kexec_load`'s entry is `load_addr + ENTRY_OFFSET`. All three values are physical
/// addresses, which the kexec identity map makes equal to virtual ones.
///
/// The error (a field past the template's end) cannot happen: the offsets are constants
/// asserted inside [`SIZE`] at compile time.
pub fn build(load_addr: u64, boot_params: u64, kernel_entry: u64) -> Result<Vec<u8>> {
    let mut out = TEMPLATE.to_vec();
    let gdt = load_addr.wrapping_add(GDT_OFFSET as u64);
    put_u64(&mut out, GDT_BASE_FIELD, gdt)?;
    put_u64(&mut out, BOOT_PARAMS_FIELD, boot_params)?;
    put_u64(&mut out, KERNEL_ENTRY_FIELD, kernel_entry)?;
    Ok(out)
}

/// Writes the u64 field at offset `at` of the trampoline bytes.
fn put_u64(out: &mut [u8], at: usize, value: u64) -> Result<()> {
    let len = out.len() as u64;
    let field = out
        .get_mut(at..)
        .and_then(|rest| rest.first_chunk_mut::<8>())
        .ok_or(Error::Truncated {
            what: "trampoline field",
            start: at as u64,
            end: (at as u64).saturating_add(8),
            len,
        })?;
    *field = value.to_le_bytes();
    Ok(())
}

/// GNU assembler source for the whole template (code, labels, data area with zeroed patch
/// fields). The tests assemble it and compare the result with [`TEMPLATE`] byte for byte.
pub fn assembler_source() -> String {
    let mut s = String::from(".code64\n.text\n");
    for i in INSNS {
        if let Some(l) = i.label {
            s.push_str(l);
            s.push_str(":\n");
        }
        s.push_str("    ");
        s.push_str(i.asm);
        s.push('\n');
    }
    s.push_str(&format!(".org {GDT_OFFSET:#x}\ngdt:\n"));
    for d in GDT {
        s.push_str(&format!("    .quad {d:#018x}\n"));
    }
    s.push_str(&format!(
        ".org {GDT_DESC_OFFSET:#x}\ngdt_desc:\n    .word {GDT_LIMIT:#x}\n    .quad 0\n"
    ));
    s.push_str(&format!(
        ".org {BOOT_PARAMS_FIELD:#x}\nboot_params:\n    .quad 0\n.org {KERNEL_ENTRY_FIELD:#x}\nkernel_entry:\n    .quad 0\n.org {STACK_TOP:#x}\nstack_top:\n"
    ));
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::Path;
    use std::process::Command;

    /// Whether `tool` runs. When it does not and WARMBOOT_REQUIRE_TOOLS=1 (set by
    /// `cargo xtask ci`), the test fails instead of skipping the check.
    pub(crate) fn have_tool(tool: &str) -> bool {
        let ok = Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            assert!(
                std::env::var("WARMBOOT_REQUIRE_TOOLS").as_deref() != Ok("1"),
                "{tool} is not installed but WARMBOOT_REQUIRE_TOOLS=1: install binutils"
            );
            eprintln!("NOTICE: {tool} not found; the assembler cross-check is skipped (only the pure checks ran)");
        }
        ok
    }

    fn run(cmd: &mut Command) -> std::process::Output {
        let out = cmd.output().expect("tool runs");
        assert!(
            out.status.success(),
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Assembles `source` with GNU as and returns the raw .text bytes.
    fn assemble_with_gas(dir: &Path, source: &str) -> Vec<u8> {
        let s = dir.join("t.S");
        std::fs::write(&s, source).unwrap();
        run(Command::new("as")
            .arg("--64")
            .arg("-o")
            .arg(dir.join("t.o"))
            .arg(&s));
        run(Command::new("objcopy")
            .args(["-O", "binary", "-j", ".text"])
            .arg(dir.join("t.o"))
            .arg(dir.join("t.bin")));
        std::fs::read(dir.join("t.bin")).unwrap()
    }

    fn le64(b: &[u8], off: usize) -> u64 {
        u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
    }

    #[test]
    fn patched_fields_land_at_the_documented_offsets() {
        let b = build(0x7ff0_0000, 0x1_2345_6000, 0x0100_0200).unwrap();
        assert_eq!(b.len(), SIZE);
        assert_eq!(le64(&b, GDT_BASE_FIELD), 0x7ff0_0080);
        assert_eq!(le64(&b, BOOT_PARAMS_FIELD), 0x1_2345_6000);
        assert_eq!(le64(&b, KERNEL_ENTRY_FIELD), 0x0100_0200);
        assert_eq!(u16::from_le_bytes([b[0xa6], b[0xa7]]), 31);
        assert_eq!(le64(&b, GDT_OFFSET + 16), 0x00af_9a00_0000_ffff);
        assert_eq!(le64(&b, GDT_OFFSET + 24), 0x00cf_9200_0000_ffff);
        // Only the three fields differ between two placements.
        let c = build(0, 0, 0).unwrap();
        let differing: Vec<usize> = (0..SIZE).filter(|&i| b[i] != c[i]).collect();
        assert!(differing
            .iter()
            .all(|&i| (GDT_BASE_FIELD..GDT_BASE_FIELD + 24).contains(&i)));
        assert_eq!(le64(&c, GDT_BASE_FIELD), GDT_OFFSET as u64);
        assert_eq!(c[..GDT_BASE_FIELD], TEMPLATE[..GDT_BASE_FIELD]);
        assert_eq!(c[GDT_BASE_FIELD + 8..], TEMPLATE[GDT_BASE_FIELD + 8..]);
    }

    #[test]
    fn code_fits_before_the_data_area_and_reload_label_is_right() {
        let mut pos = 0;
        for i in INSNS {
            if i.label == Some("reload") {
                assert_eq!(pos, RELOAD_OFFSET);
            }
            pos += insn_len(i);
        }
        assert_eq!(pos, CODE_LEN);
        // The byte after the code up to the data area is zero padding.
        assert!(TEMPLATE[CODE_LEN..DATA_OFFSET].iter().all(|&b| b == 0));
        // CR4 has no OSFXSR/OSXSAVE: no VEX-encoded (AVX) instruction may appear.
        assert!(INSNS
            .iter()
            .all(|i| i.bytes[0] != 0xc5 && i.bytes[0] != 0xc4));
    }

    #[test]
    fn disp32_fields_point_at_their_targets() {
        let mut pos = 0;
        for i in INSNS {
            let len = insn_len(i);
            if let Some(t) = i.rip_target {
                let d = i32::from_le_bytes(TEMPLATE[pos + len - 4..pos + len].try_into().unwrap());
                assert_eq!((pos + len) as i64 + d as i64, t as i64, "{}", i.asm);
            }
            pos += len;
        }
    }

    #[test]
    fn gnu_as_assembles_the_same_bytes() {
        if !have_tool("as") || !have_tool("objcopy") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let bytes = assemble_with_gas(dir.path(), &assembler_source());
        assert_eq!(bytes.len(), SIZE);
        for (k, (a, b)) in bytes.iter().zip(TEMPLATE.iter()).enumerate() {
            assert_eq!(a, b, "byte {k:#x} differs: as {a:#04x}, template {b:#04x}");
        }
    }

    #[test]
    fn objdump_shows_the_expected_instructions_in_order() {
        if !have_tool("objdump") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("t.bin");
        std::fs::write(&bin, &build(0x1000, 0x2000, 0x3000).unwrap()[..CODE_LEN]).unwrap();
        let out = run(Command::new("objdump")
            .args(["-D", "-b", "binary", "-mi386:x86-64"])
            .arg(&bin));
        let text = String::from_utf8_lossy(&out.stdout);
        let mnemonics: Vec<String> = text
            .lines()
            .filter_map(|l| {
                let mut cols = l.split('\t');
                let addr = cols.next()?;
                if !addr.trim_end().ends_with(':') {
                    return None;
                }
                let _bytes = cols.next()?;
                let insn = cols.next()?;
                Some(insn.split_whitespace().collect::<Vec<_>>().join(" "))
            })
            .collect();
        let expected = [
            "cli",
            "cld",
            "lgdt 0x9d(%rip) # 0xa6",
            "lea 0x1f0(%rip),%rsp # 0x200",
            "push $0x10",
            "lea 0x3(%rip),%rax # 0x1c",
            "push %rax",
            "lretq",
            "mov $0x18,%eax",
            "mov %eax,%ds",
            "mov %eax,%es",
            "mov %eax,%ss",
            "mov %eax,%fs",
            "mov %eax,%gs",
            "mov 0x7e(%rip),%rsi # 0xb0",
            "mov 0x7f(%rip),%rax # 0xb8",
            "xor %ebx,%ebx",
            "xor %ecx,%ecx",
            "xor %edx,%edx",
            "xor %edi,%edi",
            "xor %ebp,%ebp",
            "xor %r8d,%r8d",
            "xor %r9d,%r9d",
            "xor %r10d,%r10d",
            "xor %r11d,%r11d",
            "xor %r12d,%r12d",
            "xor %r13d,%r13d",
            "xor %r14d,%r14d",
            "xor %r15d,%r15d",
            "jmp *%rax",
        ];
        assert_eq!(mnemonics, expected, "objdump output:\n{text}");
    }
}
