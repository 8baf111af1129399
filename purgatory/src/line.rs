//! The one line the purgatory prints before it halts, formatted without allocation or
//! `core::fmt` (no vtables to relocate, nothing that could need SSE or unaligned access):
//! a fixed buffer with decimal, hex and byte-string writers.
//!
//! The line names the refused segment with its index in the parameter block, destination
//! and length (as `warmboot load --dry-run` lists the plan's segments, the purgatory's own
//! excluded) and both digests in full, so the administrator at the console can tell a
//! corrupted segment from a wrong plan, and the QEMU harness can quote it
//! (xtask/src/purgatory_line.rs parses it back).

use crate::block::Refusal;

/// Every line the purgatory prints starts with this.
pub const PREFIX: &str = "warmboot purgatory: ";
/// The longest line (a mismatch with 16-digit address and length) fits without truncation.
pub const LINE_MAX: usize = 320;

/// A line being formatted; text past [`LINE_MAX`] bytes is dropped.
pub struct Line {
    buf: [u8; LINE_MAX],
    len: usize,
}

impl Default for Line {
    fn default() -> Line {
        Line {
            buf: [0; LINE_MAX],
            len: 0,
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl Line {
    /// The text so far (ASCII, no line ending).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn byte(&mut self, b: u8) -> &mut Line {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
        self
    }

    pub fn str(&mut self, s: &str) -> &mut Line {
        for &b in s.as_bytes() {
            self.byte(b);
        }
        self
    }

    /// `v` in decimal.
    pub fn dec(&mut self, v: u64) -> &mut Line {
        let mut digits = [0u8; 20];
        let mut n = 0;
        let mut v = v;
        loop {
            digits[n] = b'0' + (v % 10) as u8;
            n += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for &d in digits[..n].iter().rev() {
            self.byte(d);
        }
        self
    }

    /// `v` as Rust's `{:#x}` writes it: `0x`, lower-case, no leading zeros.
    pub fn hex(&mut self, v: u64) -> &mut Line {
        self.str("0x");
        let digits = (64 - v.leading_zeros()).div_ceil(4).max(1);
        for i in (0..digits).rev() {
            self.byte(HEX[(v >> (4 * i)) as usize & 0xf]);
        }
        self
    }

    /// `bytes` as two lower-case hex digits each, as `sha256sum` prints a digest.
    pub fn hex_bytes(&mut self, bytes: &[u8]) -> &mut Line {
        for &b in bytes {
            self.byte(HEX[usize::from(b >> 4)]);
            self.byte(HEX[usize::from(b & 0xf)]);
        }
        self
    }
}

/// The line printed for `r`.
pub fn refusal(r: &Refusal) -> Line {
    let mut l = Line::default();
    l.str(PREFIX);
    match *r {
        Refusal::NotABlock => {
            l.str("its parameter block is not filled in; halting instead of booting")
        }
        Refusal::Count(n) => l
            .str("the parameter block lists ")
            .dec(n)
            .str(" segments (1 to ")
            .dec(crate::block::MAX_SEGMENTS as u64)
            .str(" allowed); halting instead of booting"),
        Refusal::Unreadable { index, addr, len } => l
            .str("segment ")
            .dec(index as u64)
            .str(" at ")
            .hex(addr)
            .str(" (")
            .hex(len)
            .str(" bytes) is not memory it can read; halting instead of booting"),
        Refusal::Mismatch {
            index,
            addr,
            len,
            actual,
            expected,
        } => l
            .str("segment ")
            .dec(index as u64)
            .str(" at ")
            .hex(addr)
            .str(" (")
            .hex(len)
            .str(" bytes): SHA-256 is ")
            .hex_bytes(&actual)
            .str(" but the plan says ")
            .hex_bytes(&expected)
            .str("; halting instead of booting corrupted memory"),
    };
    l
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;
    use std::string::String;

    fn text(l: &Line) -> String {
        String::from_utf8(l.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn numbers_are_written_as_rust_formats_them() {
        for v in [0, 1, 9, 10, 0xf, 0x10, 0x3ff5_6000, u64::MAX, 1 << 63] {
            let mut l = Line::default();
            l.dec(v).str(" ").hex(v);
            assert_eq!(text(&l), format!("{v} {v:#x}"));
        }
        let mut l = Line::default();
        l.hex_bytes(&[0x00, 0x5e, 0xff]);
        assert_eq!(text(&l), "005eff");
    }

    #[test]
    fn a_mismatch_names_the_segment_and_both_digests() {
        let mut actual = [0u8; 32];
        actual[0] = 0x5e;
        actual[31] = 0x3a;
        let mut expected = actual;
        expected[31] ^= 1;
        let l = refusal(&Refusal::Mismatch {
            index: 2,
            addr: 0x3ff5_6000,
            len: 0x3000,
            actual,
            expected,
        });
        let zeros = "00".repeat(30);
        assert_eq!(
            text(&l),
            format!(
                "warmboot purgatory: segment 2 at 0x3ff56000 (0x3000 bytes): SHA-256 is \
                 5e{zeros}3a but the plan says 5e{zeros}3b; halting instead of booting \
                 corrupted memory"
            )
        );
    }

    #[test]
    fn the_longest_line_fits_and_longer_text_is_cut() {
        let l = refusal(&Refusal::Mismatch {
            index: 15,
            addr: u64::MAX,
            len: u64::MAX,
            actual: [0xff; 32],
            expected: [0xee; 32],
        });
        let t = text(&l);
        assert!(t.ends_with("corrupted memory"), "{t}");
        assert!(t.len() <= LINE_MAX);
        let mut l = Line::default();
        for _ in 0..LINE_MAX {
            l.str("ab");
        }
        assert_eq!(l.as_bytes().len(), LINE_MAX);
    }

    #[test]
    fn malformed_blocks_are_explained_too() {
        let count = text(&refusal(&Refusal::Count(17)));
        assert_eq!(
            count,
            "warmboot purgatory: the parameter block lists 17 segments (1 to 16 allowed); \
             halting instead of booting"
        );
        let unreadable = text(&refusal(&Refusal::Unreadable {
            index: 0,
            addr: 0,
            len: 0x10,
        }));
        assert!(
            unreadable.starts_with(PREFIX) && unreadable.contains("segment 0 at 0x0 (0x10 bytes)"),
            "{unreadable}"
        );
    }
}
