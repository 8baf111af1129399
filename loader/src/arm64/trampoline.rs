//! The arm64 entry stub: what `kexec_load`'s entry points at, so the Image starts with the
//! registers Documentation/arch/arm64/booting.rst asks for.
//!
//! After `machine_kexec` the CPU runs with the MMU off (arch/arm64/kernel/relocate_kernel.S,
//! cpu-reset.S) and DAIF masked; x0 holds `arch.dtb_mem`, which only kexec_file sets, so for
//! a `kexec_load` image x0 is 0 (kexec-facts §6). The kernel needs **x0 = DTB physical
//! address, x1 = x2 = x3 = 0**, so the stub loads them and branches to the Image entry.
//! kexec-tools' purgatory does the same after its SHA check (purgatory/arch/arm64/entry.S).
//!
//! The instruction sequence is the one QEMU's own aarch64 boot stub uses
//! (hw/arm/boot.c `bootloader_aarch64`), with both literals 64-bit:
//!
//! | offset | word | assembly |
//! |---|---|---|
//! | 0x00 | 0x580000c0 | `ldr x0, dtb` |
//! | 0x04 | 0xaa1f03e1 | `mov x1, xzr` |
//! | 0x08 | 0xaa1f03e2 | `mov x2, xzr` |
//! | 0x0c | 0xaa1f03e3 | `mov x3, xzr` |
//! | 0x10 | 0x58000084 | `ldr x4, entry` |
//! | 0x14 | 0xd61f0080 | `br x4` |
//! | 0x18 | u64 | `dtb:` DTB physical address ([`DTB_FIELD`]) |
//! | 0x20 | u64 | `entry:` Image entry ([`KERNEL_ENTRY_FIELD`]) |
//!
//! Everything is PC-relative, so the stub runs wherever it is placed; the MMU is off, so
//! addresses are physical. With `--verify` the plan enters through warmboot's purgatory
//! ([`crate::purgatory`]), which checks the segments' SHA-256 and then branches here.

/// Bytes of the stub (code and literal pool).
pub const SIZE: usize = 0x28;
/// Offset of the first instruction: `kexec_load`'s `entry` = load address + this.
pub const ENTRY_OFFSET: u64 = 0;
/// Patched: the DTB's physical address (8-byte aligned literal).
pub const DTB_FIELD: usize = 0x18;
/// Patched: the Image entry (Image load address; text_offset included).
pub const KERNEL_ENTRY_FIELD: usize = 0x20;

/// Register numbers used by the stub.
const X0: u32 = 0;
const X4: u32 = 4;

/// `LDR Xt, label` (load register, literal, 64-bit): 0x58000000 | imm19 << 5 | Rt, where
/// imm19 is the word offset from the instruction to the literal (Arm ARM C6.2 "LDR
/// (literal)"). `None` if the offset is not a multiple of 4 or out of the ±1 MiB range.
pub const fn ldr_literal(rt: u32, insn_offset: usize, literal_offset: usize) -> Option<u32> {
    let Some(delta) = (literal_offset as i64).checked_sub(insn_offset as i64) else {
        return None;
    };
    if delta % 4 != 0 || rt > 31 {
        return None;
    }
    let words = delta / 4;
    if words < -(1 << 18) || words >= (1 << 18) {
        return None;
    }
    Some(0x5800_0000 | (((words & 0x7_ffff) as u32) << 5) | rt)
}

/// `MOV Xd, XZR` (alias of `ORR Xd, XZR, XZR`): 0xaa1f03e0 | Rd.
pub const fn mov_xzr(rd: u32) -> u32 {
    0xaa1f_03e0 | (rd & 31)
}

/// `BR Xn`: 0xd61f0000 | Rn << 5.
pub const fn br(rn: u32) -> u32 {
    0xd61f_0000 | ((rn & 31) << 5)
}

const fn must(x: Option<u32>) -> u32 {
    match x {
        Some(v) => v,
        None => panic!("literal out of range"),
    }
}

/// The instruction words with their assembly, in order from offset 0.
pub const INSNS: [(u32, &str); 6] = [
    (must(ldr_literal(X0, 0x00, DTB_FIELD)), "ldr x0, dtb"),
    (mov_xzr(1), "mov x1, xzr"),
    (mov_xzr(2), "mov x2, xzr"),
    (mov_xzr(3), "mov x3, xzr"),
    (
        must(ldr_literal(X4, 0x10, KERNEL_ENTRY_FIELD)),
        "ldr x4, entry",
    ),
    (br(X4), "br x4"),
];

const _: () = assert!(INSNS.len() * 4 == DTB_FIELD && DTB_FIELD.is_multiple_of(8));
const _: () = assert!(KERNEL_ENTRY_FIELD == DTB_FIELD + 8 && SIZE == KERNEL_ENTRY_FIELD + 8);

/// The stub bytes for placement at `load_addr` (4-byte aligned at least; the literal pool is
/// 8-byte aligned when `load_addr` is): x0 = `dtb`, x1..x3 = 0, branch to `kernel_entry`.
/// `load_addr` does not appear in the bytes (everything is PC-relative); it is taken for the
/// same shape as the x86 builder (the planner gives the stub a page of its own).
pub fn build(_load_addr: u64, dtb: u64, kernel_entry: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(SIZE);
    for (word, _) in INSNS {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.extend_from_slice(&dtb.to_le_bytes());
    out.extend_from_slice(&kernel_entry.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodings checked against independent sources, not against our encoder's output:
    /// QEMU hw/arm/boot.c bootloader_aarch64 (`0x580000c0 ldr x0, arg`, `0xaa1f03e1 mov x1,
    /// xzr`, `0x58000084 ldr x4, entry`, `0xd61f0080 br x4`) and a QEMU-derived stub listing
    /// (`0x58000287 ldr x7, +0x50`, `0x58000224 ldr x4, +0x44`).
    #[test]
    fn encoder_matches_known_encodings() {
        assert_eq!(ldr_literal(0, 0, 0x18), Some(0x5800_00c0));
        assert_eq!(ldr_literal(4, 0x10, 0x20), Some(0x5800_0084));
        assert_eq!(ldr_literal(7, 0, 0x50), Some(0x5800_0287));
        assert_eq!(ldr_literal(4, 0, 0x44), Some(0x5800_0224));
        assert_eq!(mov_xzr(1), 0xaa1f_03e1);
        assert_eq!(mov_xzr(2), 0xaa1f_03e2);
        assert_eq!(mov_xzr(3), 0xaa1f_03e3);
        assert_eq!(br(4), 0xd61f_0080);
        // A backwards literal: imm19 is two's complement (ldr x0, .-4 = 0x58ffffe0).
        assert_eq!(ldr_literal(0, 8, 4), Some(0x58ff_ffe0));
        assert_eq!(ldr_literal(0, 0, 2), None);
        assert_eq!(ldr_literal(0, 0, 1 << 20), None);
        assert_eq!(ldr_literal(32, 0, 8), None);
    }

    #[test]
    fn stub_words_and_literals() {
        let b = build(0x4800_0000, 0x4a00_0000, 0x4020_0000);
        assert_eq!(b.len(), SIZE);
        let words: Vec<u32> = b[..DTB_FIELD]
            .chunks(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(
            words,
            [0x580000c0, 0xaa1f03e1, 0xaa1f03e2, 0xaa1f03e3, 0x58000084, 0xd61f0080]
        );
        let lit = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
        assert_eq!(lit(DTB_FIELD), 0x4a00_0000);
        assert_eq!(lit(KERNEL_ENTRY_FIELD), 0x4020_0000);
        // Each ldr's imm19 resolves to its literal.
        for (off, field) in [(0usize, DTB_FIELD), (0x10, KERNEL_ENTRY_FIELD)] {
            let imm19 = (words[off / 4] >> 5) & 0x7_ffff;
            assert_eq!(off + imm19 as usize * 4, field);
        }
    }

    /// An aarch64 assembler on this machine: GNU cross binutils
    /// (binutils-aarch64-linux-gnu) or LLVM's integrated assembler, as (as, objcopy, args).
    fn aarch64_assembler() -> Option<(&'static str, &'static str, &'static [&'static str])> {
        use std::process::Command;
        let runs = |t: &str| {
            Command::new(t)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if runs("aarch64-linux-gnu-as") && runs("aarch64-linux-gnu-objcopy") {
            return Some(("aarch64-linux-gnu-as", "aarch64-linux-gnu-objcopy", &[]));
        }
        if runs("llvm-mc") && runs("llvm-objcopy") {
            return Some((
                "llvm-mc",
                "llvm-objcopy",
                &["-triple=aarch64", "-filetype=obj"],
            ));
        }
        assert!(
            std::env::var("WARMBOOT_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "no aarch64 assembler (aarch64-linux-gnu-as or llvm-mc) but WARMBOOT_REQUIRE_TOOLS=1: install binutils-aarch64-linux-gnu"
        );
        eprintln!(
            "NOTICE: no aarch64 assembler found; only the hand-checked encodings were tested"
        );
        None
    }

    #[test]
    fn an_aarch64_assembler_produces_the_same_bytes() {
        use std::process::Command;
        let Some((asm, objcopy, args)) = aarch64_assembler() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let mut src = String::from(".text\n");
        for (_, line) in INSNS {
            src.push_str(&format!("    {line}\n"));
        }
        src.push_str("dtb: .quad 0\nentry: .quad 0\n");
        std::fs::write(dir.path().join("t.S"), src).unwrap();
        let o = dir.path().join("t.o");
        let st = Command::new(asm)
            .args(args)
            .arg("-o")
            .arg(&o)
            .arg(dir.path().join("t.S"))
            .status()
            .unwrap();
        assert!(st.success(), "{asm} failed");
        let bin = dir.path().join("t.bin");
        let st = Command::new(objcopy)
            .args(["-O", "binary", "-j", ".text"])
            .arg(&o)
            .arg(&bin)
            .status()
            .unwrap();
        assert!(st.success(), "{objcopy} failed");
        assert_eq!(std::fs::read(bin).unwrap(), build(0, 0, 0));
    }
}
