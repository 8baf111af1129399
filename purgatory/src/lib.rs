//! The purgatory's parameter block and its check, shared by the bare-metal `purgatory`
//! binary (which runs [`verify_block`] on the exec path) and by the loader (which fills
//! the block at plan time and tests the check on the host).
//!
//! Like kexec-tools' purgatory (purgatory/purgatory.c `verify_sha256_digest`): SHA-256
//! over every listed segment's bytes `[mem, mem + bufsz)` in list order, compared with
//! the digest computed when the plan was made. Plain integer code only (sha2's portable
//! implementation on bare metal): SSE is off on the x86_64 kexec path and the MMU (hence
//! unaligned access) is off on arm64.
//!
//! Parameter block (little-endian u64 fields, 8-byte aligned), placed right after the
//! purgatory image in its segment:
//!
//! | offset | what |
//! |---|---|
//! | 0x00 | [`MAGIC`] |
//! | 0x08 | where to continue after a good check (warmboot's trampoline entry) |
//! | 0x10 | top of the purgatory's stack (16-byte aligned) |
//! | 0x18 | number of segments (at most [`MAX_SEGMENTS`]) |
//! | 0x20 | expected SHA-256 digest (32 bytes) |
//! | 0x40 | segments: (address u64, length u64) each |

#![no_std]

use sha2::{Digest, Sha256};

/// "WBPURG01": marks a filled block (a zero block never verifies).
pub const MAGIC: u64 = u64::from_le_bytes(*b"WBPURG01");
pub const NEXT_FIELD: usize = 0x08;
pub const STACK_TOP_FIELD: usize = 0x10;
pub const COUNT_FIELD: usize = 0x18;
pub const DIGEST_FIELD: usize = 0x20;
pub const SEGMENTS_FIELD: usize = 0x40;
/// KEXEC_SEGMENT_MAX (include/linux/kexec.h): no plan has more segments.
pub const MAX_SEGMENTS: usize = 16;
/// Size of a block listing `n` segments.
pub const fn block_size(n: usize) -> usize {
    SEGMENTS_FIELD + 16 * n
}

/// SHA-256 over `segments` in order, as the purgatory computes it.
pub fn digest<'a>(segments: impl IntoIterator<Item = &'a [u8]>) -> [u8; 32] {
    let mut h = Sha256::new();
    for s in segments {
        h.update(s);
    }
    h.finalize().into()
}

/// Reads the little-endian u64 at `off` of the block at `block` (8-byte aligned reads only:
/// on arm64 with the MMU off an unaligned access faults).
///
/// # Safety
/// `block + off` must be readable and 8-byte aligned.
// SAFETY: an unsafe fn: the caller upholds the contract above.
unsafe fn field(block: *const u8, off: usize) -> u64 {
    // SAFETY: the caller guarantees the field is readable and aligned.
    unsafe { u64::from_le(core::ptr::read_volatile(block.add(off).cast::<u64>())) }
}

/// The check the purgatory runs: true when the block is well formed and the SHA-256 over
/// the memory it lists equals the digest it holds.
///
/// # Safety
/// `block` must point at a readable, 8-byte aligned parameter block, and every segment it
/// lists must be readable memory (on the kexec path: identity-mapped or physical RAM).
// SAFETY: an unsafe fn: the caller upholds the contract above.
pub unsafe fn verify_block(block: *const u8) -> bool {
    // SAFETY: the header fields are inside the block the caller vouches for.
    let (magic, count) = unsafe { (field(block, 0), field(block, COUNT_FIELD)) };
    if magic != MAGIC || count == 0 || count > MAX_SEGMENTS as u64 {
        return false;
    }
    let mut h = Sha256::new();
    for i in 0..count as usize {
        let at = SEGMENTS_FIELD + 16 * i;
        // SAFETY: i < count <= MAX_SEGMENTS entries, all inside the block.
        let (addr, len) = unsafe { (field(block, at), field(block, at + 8)) };
        if addr == 0 || len > isize::MAX as u64 || addr.checked_add(len).is_none() {
            return false;
        }
        // SAFETY: the caller vouches that every listed segment is readable memory.
        let bytes =
            unsafe { core::slice::from_raw_parts(addr as usize as *const u8, len as usize) };
        h.update(bytes);
    }
    let got: [u8; 32] = h.finalize().into();
    let mut diff = 0u8;
    for (i, g) in got.iter().enumerate() {
        // SAFETY: DIGEST_FIELD + 32 is inside the block; byte reads need no alignment.
        diff |= g ^ unsafe { core::ptr::read_volatile(block.add(DIGEST_FIELD + i)) };
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// A parameter block built by hand from the documented layout, in u64 words so it is
    /// 8-byte aligned as the purgatory's is.
    fn block(next: u64, digest: [u8; 32], segs: &[&[u8]]) -> Vec<u64> {
        let mut w = std::vec![MAGIC, next, 0x1000, segs.len() as u64];
        for c in digest.chunks(8) {
            w.push(u64::from_le_bytes(c.try_into().unwrap()));
        }
        for s in segs {
            w.push(s.as_ptr() as u64);
            w.push(s.len() as u64);
        }
        assert_eq!(w.len() * 8, block_size(segs.len()));
        w
    }

    fn check(words: &[u64]) -> bool {
        // SAFETY: the block and every segment it lists are live host memory.
        unsafe { verify_block(words.as_ptr().cast()) }
    }

    #[test]
    fn digest_is_sha256_of_the_concatenation() {
        // FIPS 180-2 appendix B.1: SHA-256("abc"), here split across two segments.
        let d = digest([&b"a"[..], &b"bc"[..]]);
        assert_eq!(
            d[..8],
            [0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea],
            "{d:02x?}"
        );
    }

    #[test]
    fn verify_block_accepts_the_right_digest_and_nothing_else() {
        let kernel: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        let mut initrd = std::vec![0x5a_u8; 4097];
        let good = digest([kernel.as_slice(), initrd.as_slice()]);
        assert!(check(&block(1, good, &[&kernel, &initrd])));
        // One flipped bit in the expected digest.
        let mut bad = good;
        bad[31] ^= 0x80;
        assert!(!check(&block(1, bad, &[&kernel, &initrd])));
        // One changed byte in a segment (corrupted memory).
        initrd[4096] ^= 1;
        assert!(!check(&block(1, good, &[&kernel, &initrd])));
        initrd[4096] ^= 1;
        // Order matters: the same segments swapped.
        assert!(!check(&block(1, good, &[&initrd, &kernel])));
        // A malformed block never verifies: wrong magic, no segments, too many.
        let mut w = block(1, good, &[&kernel, &initrd]);
        w[0] ^= 1;
        assert!(!check(&w));
        let mut w = block(1, digest([]), &[]);
        assert!(!check(&w));
        w[3] = MAX_SEGMENTS as u64 + 1;
        assert!(!check(&w));
    }
}
