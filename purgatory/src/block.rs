//! The parameter block's layout, its check and the refusals (the crate doc has the
//! table). A leaf of the crate: the console line writer names what it refuses.

use crate::console::Console;
use sha2::{Digest, Sha256};

/// "WBPURG02": marks a filled block (a zero block never verifies). 02: per-segment
/// digests and the console fields; a block of the 01 layout is refused.
pub const MAGIC: u64 = u64::from_le_bytes(*b"WBPURG02");
pub const NEXT_FIELD: usize = 0x08;
pub const STACK_TOP_FIELD: usize = 0x10;
pub const COUNT_FIELD: usize = 0x18;
pub const CONSOLE_KIND_FIELD: usize = 0x20;
pub const CONSOLE_BASE_FIELD: usize = 0x28;
pub const SEGMENTS_FIELD: usize = 0x30;
/// One segment entry: address, length, SHA-256.
pub const SEGMENT_SIZE: usize = 0x30;
/// Offset of the SHA-256 inside a segment entry.
pub const SEGMENT_DIGEST: usize = 0x10;
/// KEXEC_SEGMENT_MAX (include/linux/kexec.h): no plan has more segments.
pub const MAX_SEGMENTS: usize = 16;
/// Size of a block listing `n` segments.
pub const fn block_size(n: usize) -> usize {
    SEGMENTS_FIELD + SEGMENT_SIZE * n
}

/// SHA-256 of one segment's bytes, as the purgatory computes it.
pub fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Why the purgatory refuses to continue. Addresses and lengths are as the block lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No [`MAGIC`]: not a block this purgatory can read (its console fields are not
    /// trusted either, so nothing is printed).
    NotABlock,
    /// The segment count is 0 or above [`MAX_SEGMENTS`].
    Count(u64),
    /// A segment the purgatory cannot hash: address 0, or the range wraps.
    Unreadable { index: usize, addr: u64, len: u64 },
    /// The memory of segment `index` does not hash to the plan's digest.
    Mismatch {
        index: usize,
        addr: u64,
        len: u64,
        actual: [u8; 32],
        expected: [u8; 32],
    },
}

/// Reads the little-endian u64 at `off` of the block at `block` (8-byte aligned reads only:
/// on arm64 with the MMU off an unaligned access faults).
///
/// # Safety
/// `block + off` must be readable and 8-byte aligned.
unsafe fn field(block: *const u8, off: usize) -> u64 {
    // SAFETY: the caller guarantees the field is readable and aligned.
    unsafe { u64::from_le(core::ptr::read_volatile(block.add(off).cast::<u64>())) }
}

/// The console the block names; [`Console::None`] for a block without [`MAGIC`].
///
/// # Safety
/// `block` must point at a readable, 8-byte aligned parameter block.
pub unsafe fn block_console(block: *const u8) -> Console {
    // SAFETY: the header fields are inside the block the caller vouches for.
    let (magic, kind, base) = unsafe {
        (
            field(block, 0),
            field(block, CONSOLE_KIND_FIELD),
            field(block, CONSOLE_BASE_FIELD),
        )
    };
    if magic != MAGIC {
        return Console::None;
    }
    Console::decode(kind, base)
}

/// The check the purgatory runs: Ok when the block is well formed and every segment's
/// memory hashes to its digest; otherwise the first reason to refuse, segments in order.
///
/// # Safety
/// `block` must point at a readable, 8-byte aligned parameter block, and every segment it
/// lists must be readable memory (on the kexec path: identity-mapped or physical RAM).
pub unsafe fn check_block(block: *const u8) -> Result<(), Refusal> {
    // SAFETY: the header fields are inside the block the caller vouches for.
    let (magic, count) = unsafe { (field(block, 0), field(block, COUNT_FIELD)) };
    if magic != MAGIC {
        return Err(Refusal::NotABlock);
    }
    if count == 0 || count > MAX_SEGMENTS as u64 {
        return Err(Refusal::Count(count));
    }
    for index in 0..count as usize {
        let at = SEGMENTS_FIELD + SEGMENT_SIZE * index;
        // SAFETY: index < count <= MAX_SEGMENTS entries, all inside the block.
        let (addr, len) = unsafe { (field(block, at), field(block, at + 8)) };
        if addr == 0 || len > isize::MAX as u64 || addr.checked_add(len).is_none() {
            return Err(Refusal::Unreadable { index, addr, len });
        }
        // SAFETY: the caller vouches that every listed segment is readable memory.
        let bytes =
            unsafe { core::slice::from_raw_parts(addr as usize as *const u8, len as usize) };
        let actual = digest(bytes);
        let mut expected = [0u8; 32];
        for (i, e) in expected.iter_mut().enumerate() {
            // SAFETY: the digest is inside the entry; byte reads need no alignment.
            *e = unsafe { core::ptr::read_volatile(block.add(at + SEGMENT_DIGEST + i)) };
        }
        if actual != expected {
            return Err(Refusal::Mismatch {
                index,
                addr,
                len,
                actual,
                expected,
            });
        }
    }
    Ok(())
}

/// [`check_block`] on a copy of a block whose segments are given as `segments` (host
/// memory) instead of read at the addresses it lists: the purgatory's own check, for the
/// loader's tests of whole plans. A listed length that differs from its slice, or a count
/// that differs from `segments.len()`, is refused as the purgatory would refuse it
/// (addresses in the refusal are the listed ones).
pub fn check_with(block: &[u8], segments: &[&[u8]]) -> Result<(), Refusal> {
    let mut words = [0u64; block_size(MAX_SEGMENTS) / 8];
    for (w, c) in words.iter_mut().zip(block.chunks(8)) {
        let mut b = [0u8; 8];
        b[..c.len()].copy_from_slice(c);
        *w = u64::from_le_bytes(b);
    }
    let count = words[COUNT_FIELD / 8];
    if words[0] == MAGIC && count != segments.len() as u64 {
        return Err(Refusal::Count(count));
    }
    let mut listed = [0u64; MAX_SEGMENTS];
    for (i, s) in segments.iter().enumerate().take(MAX_SEGMENTS) {
        let at = (SEGMENTS_FIELD + SEGMENT_SIZE * i) / 8;
        listed[i] = words[at];
        if words[at + 1] != s.len() as u64 {
            return Err(Refusal::Unreadable {
                index: i,
                addr: words[at],
                len: words[at + 1],
            });
        }
        words[at] = s.as_ptr() as u64;
    }
    // SAFETY: `words` is an aligned block; every segment it lists (count checked above)
    // is a live slice of exactly the listed length.
    let r = unsafe { check_block(words.as_ptr().cast()) };
    match r {
        Err(Refusal::Mismatch {
            index,
            len,
            actual,
            expected,
            ..
        }) => Err(Refusal::Mismatch {
            index,
            addr: listed[index],
            len,
            actual,
            expected,
        }),
        Err(Refusal::Unreadable { index, len, .. }) => Err(Refusal::Unreadable {
            index,
            addr: listed[index],
            len,
        }),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// A parameter block built by hand from the documented layout, in u64 words so it is
    /// 8-byte aligned as the purgatory's is; `digests` gives each segment's expected digest.
    fn block(console: [u64; 2], segs: &[&[u8]], digests: &[[u8; 32]]) -> Vec<u64> {
        let mut w = std::vec![MAGIC, 1, 0x1000, segs.len() as u64, console[0], console[1]];
        for (s, d) in segs.iter().zip(digests) {
            w.push(s.as_ptr() as u64);
            w.push(s.len() as u64);
            for c in d.chunks(8) {
                w.push(u64::from_le_bytes(c.try_into().unwrap()));
            }
        }
        assert_eq!(w.len() * 8, block_size(segs.len()));
        w
    }

    fn check(words: &[u64]) -> Result<(), Refusal> {
        // SAFETY: the block and every segment it lists are live host memory.
        unsafe { check_block(words.as_ptr().cast()) }
    }

    #[test]
    fn digest_is_sha256() {
        // FIPS 180-2 appendix B.1: SHA-256("abc").
        let d = digest(b"abc");
        assert_eq!(
            d[..8],
            [0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea],
            "{d:02x?}"
        );
    }

    #[test]
    fn check_block_accepts_the_right_digests_and_names_the_first_wrong_segment() {
        let kernel: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        let mut initrd = std::vec![0x5a_u8; 4097];
        let good = [digest(&kernel), digest(&initrd)];
        let none = Console::None.encode();
        assert_eq!(check(&block(none, &[&kernel, &initrd], &good)), Ok(()));
        // One flipped bit in the second expected digest: segment 1 is named.
        let mut bad = good;
        bad[1][31] ^= 0x80;
        let w = block(none, &[&kernel, &initrd], &bad);
        assert_eq!(
            check(&w),
            Err(Refusal::Mismatch {
                index: 1,
                addr: initrd.as_ptr() as u64,
                len: 4097,
                actual: good[1],
                expected: bad[1],
            })
        );
        // One changed byte in a segment (corrupted memory).
        initrd[4096] ^= 1;
        let changed = digest(&initrd);
        match check(&block(none, &[&kernel, &initrd], &good)) {
            Err(Refusal::Mismatch {
                index: 1, actual, ..
            }) => assert_eq!(actual, changed),
            other => panic!("{other:?}"),
        }
        initrd[4096] ^= 1;
        // Order matters: the same segments swapped fail at the first.
        assert!(matches!(
            check(&block(none, &[&initrd, &kernel], &good)),
            Err(Refusal::Mismatch { index: 0, .. })
        ));
        // A malformed block never verifies: wrong magic, no segments, too many, address 0.
        let mut w = block(none, &[&kernel, &initrd], &good);
        w[0] ^= 1;
        assert_eq!(check(&w), Err(Refusal::NotABlock));
        let mut w = block(none, &[], &[]);
        assert_eq!(check(&w), Err(Refusal::Count(0)));
        w[3] = MAX_SEGMENTS as u64 + 1;
        assert_eq!(check(&w), Err(Refusal::Count(17)));
        let mut w = block(none, &[&kernel], &good);
        w[6] = 0;
        assert!(matches!(
            check(&w),
            Err(Refusal::Unreadable {
                index: 0,
                addr: 0,
                ..
            })
        ));
    }

    #[test]
    fn check_with_reads_the_given_slices_and_reports_listed_addresses() {
        let seg: Vec<u8> = std::vec![7; 100];
        let mut w = block(Console::None.encode(), &[&seg], &[digest(&seg)]);
        w[6] = 0x4000_0000; // the plan's address, not where the host holds the bytes
        let bytes: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(check_with(&bytes, &[&seg]), Ok(()));
        let other = std::vec![8u8; 100];
        assert!(matches!(
            check_with(&bytes, &[&other]),
            Err(Refusal::Mismatch {
                index: 0,
                addr: 0x4000_0000,
                len: 100,
                ..
            })
        ));
        assert_eq!(
            check_with(&bytes, &[&seg[..99]]),
            Err(Refusal::Unreadable {
                index: 0,
                addr: 0x4000_0000,
                len: 100
            })
        );
        assert_eq!(check_with(&bytes, &[&seg, &seg]), Err(Refusal::Count(1)));
    }

    #[test]
    fn the_console_is_read_only_from_a_filled_block() {
        let d = [digest(b"x")];
        let mut w = block(Console::Pl011(0x900_0000).encode(), &[b"x"], &d);
        // SAFETY: a live, aligned block.
        let read = |w: &[u64]| unsafe { block_console(w.as_ptr().cast()) };
        assert_eq!(read(&w), Console::Pl011(0x900_0000));
        w[0] = 0;
        assert_eq!(read(&w), Console::None);
    }
}
