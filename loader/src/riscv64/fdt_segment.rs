//! Which kexec_load segment the riscv64 kernel takes as the next kernel's device tree:
//! `machine_kexec_prepare` (arch/riscv/kernel/machine_kexec.c) walks the segments in the
//! order given and records the first whose memsz exceeds `sizeof(struct fdt_header)` and
//! whose first 40 bytes pass libfdt's `fdt_check_header`; without one it refuses the load
//! (EINVAL). Pure: used by the plan's own checks ([`crate::plan_check`]) and the planner.

use crate::plan::Plan;

/// `sizeof(struct fdt_header)`: machine_kexec_prepare skips segments no longer than this.
const FDT_HEADER_SIZE: u64 = 40;
/// FDT_MAGIC, big-endian at offset 0.
const FDT_MAGIC: u32 = 0xd00d_feed;

/// Whether `head` starts like a device tree to the kernel, as libfdt's `fdt_check_header`
/// (scripts/dtc/libfdt/fdt.c) judges the 40 header bytes: FDT_MAGIC; version at least 2,
/// last_comp_version at most 17 and not above version; totalsize from the header's size
/// (32, 36 or 40 bytes by version) to INT_MAX; the reservation map's offset inside it,
/// and the structure (only its offset before version 17) and strings blocks.
pub fn looks_like_fdt(head: &[u8]) -> bool {
    let be = |off: usize| -> Option<u64> {
        let b = head.get(off..off.checked_add(4)?)?;
        Some(u64::from(u32::from_be_bytes(b.try_into().ok()?)))
    };
    let field = |off| be(off).unwrap_or(0);
    if (head.len() as u64) < FDT_HEADER_SIZE || be(0) != Some(u64::from(FDT_MAGIC)) {
        return false;
    }
    let (total, off_struct, off_strings, off_rsv) = (field(4), field(8), field(12), field(16));
    let (version, last_comp) = (field(20), field(24));
    let (size_strings, size_struct) = (field(32), field(36));
    if version < 2 || last_comp > 17 || version < last_comp {
        return false;
    }
    let hdrsize = match version {
        2 => 32,
        3..=16 => 36,
        _ => FDT_HEADER_SIZE,
    };
    let inside = |off: u64| off >= hdrsize && off <= total;
    let block =
        |off: u64, size: u64| inside(off) && off.checked_add(size).is_some_and(|e| e <= total);
    total >= hdrsize
        && total <= i32::MAX as u64
        && inside(off_rsv)
        && if version < 17 {
            inside(off_struct)
        } else {
            block(off_struct, size_struct)
        }
        && block(off_strings, size_strings)
}

/// The index of the segment riscv64's machine_kexec_prepare takes as the device tree: the
/// first, in plan order, whose memsz exceeds an FDT header and whose data starts like one.
pub fn fdt_segment(plan: &Plan) -> Option<usize> {
    plan.segments
        .iter()
        .position(|s| s.memsz > FDT_HEADER_SIZE && looks_like_fdt(&s.buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIRT: &[u8] =
        include_bytes!("../../tests/fixtures/machines/riscv64-direct-m1024/sys/firmware/fdt");

    #[test]
    fn a_real_dtb_passes_and_broken_headers_do_not() {
        assert!(looks_like_fdt(VIRT));
        let with = |off: usize, v: u32| {
            let mut h = VIRT[..40].to_vec();
            h[off..off + 4].copy_from_slice(&v.to_be_bytes());
            looks_like_fdt(&h)
        };
        assert!(!with(0, 0xd00d_fee0), "magic");
        assert!(!with(4, 39), "totalsize below the header");
        assert!(!with(4, 0x8000_0000), "totalsize above INT_MAX");
        assert!(!with(20, 1), "version 1");
        assert!(!with(24, 18), "last_comp_version 18");
        assert!(!with(12, 0x10_0000), "strings block past totalsize");
        assert!(!with(16, 8), "reservation map inside the header");
        assert!(!looks_like_fdt(&VIRT[..39]));
        assert!(!looks_like_fdt(
            b"MZ\x00\x00 a riscv64 Image is not a device tree...."
        ));
    }
}
