//! Bounds-checked reads of little-endian header fields.
//!
//! Every kernel header parser reads through these helpers so that an offset or size taken
//! from the file is always checked against the file's length and never wraps
//! (the habit of goblin and rust-vmm's linux-loader).

use crate::error::{Error, Result};

/// Returns `data[start..start + len]`, or a [`Error::Truncated`] naming `what`.
pub fn slice<'a>(data: &'a [u8], start: u64, len: u64, what: &'static str) -> Result<&'a [u8]> {
    let end = start.checked_add(len).ok_or(Error::Overflow { what })?;
    if end > data.len() as u64 {
        return Err(Error::Truncated {
            what,
            start,
            end,
            len: data.len() as u64,
        });
    }
    Ok(&data[start as usize..end as usize])
}

/// Reads a fixed-size array at `start`.
pub fn array<const N: usize>(data: &[u8], start: u64, what: &'static str) -> Result<[u8; N]> {
    let s = slice(data, start, N as u64, what)?;
    let mut out = [0u8; N];
    out.copy_from_slice(s);
    Ok(out)
}

pub fn u8_at(data: &[u8], off: u64, what: &'static str) -> Result<u8> {
    Ok(array::<1>(data, off, what)?[0])
}

pub fn le_u16(data: &[u8], off: u64, what: &'static str) -> Result<u16> {
    Ok(u16::from_le_bytes(array(data, off, what)?))
}

pub fn le_u32(data: &[u8], off: u64, what: &'static str) -> Result<u32> {
    Ok(u32::from_le_bytes(array(data, off, what)?))
}

pub fn le_u64(data: &[u8], off: u64, what: &'static str) -> Result<u64> {
    Ok(u64::from_le_bytes(array(data, off, what)?))
}

/// `a + b` or [`Error::Overflow`] naming `what`.
pub fn add(a: u64, b: u64, what: &'static str) -> Result<u64> {
    a.checked_add(b).ok_or(Error::Overflow { what })
}

/// Reads a NUL-terminated string starting at `start`, at most `max` bytes long.
/// Non-UTF-8 bytes are replaced; a missing terminator within `max` is an error.
pub fn c_string(data: &[u8], start: u64, max: usize, what: &'static str) -> Result<String> {
    if start >= data.len() as u64 {
        return Err(Error::Truncated {
            what,
            start,
            end: start.saturating_add(1),
            len: data.len() as u64,
        });
    }
    let rest = &data[start as usize..];
    let window = &rest[..rest.len().min(max)];
    let nul = window
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| Error::invalid(what, format!("no terminating NUL within {max} bytes")))?;
    Ok(String::from_utf8_lossy(&window[..nul]).into_owned())
}

// Helpers for x86/ (issue 16, checked conversions). Kept in one block to ease merging.

/// The low and high 32-bit halves of `v`, for formats that store a 64-bit value as two
/// u32 fields (the zero page's `*_hi` fields). No cast: nothing is truncated by accident.
pub fn split_u64(v: u64) -> (u32, u32) {
    let [l0, l1, l2, l3, h0, h1, h2, h3] = v.to_le_bytes();
    (
        u32::from_le_bytes([l0, l1, l2, l3]),
        u32::from_le_bytes([h0, h1, h2, h3]),
    )
}

// End of the x86/ helpers.

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_in_bounds_and_refuses_past_the_end() {
        let d = [1u8, 2, 3, 4, 5];
        assert_eq!(le_u32(&d, 1, "x").unwrap(), 0x0504_0302);
        assert!(matches!(
            le_u32(&d, 2, "x"),
            Err(Error::Truncated {
                start: 2,
                end: 6,
                len: 5,
                ..
            })
        ));
        assert!(matches!(
            slice(&d, u64::MAX, 2, "x"),
            Err(Error::Overflow { .. })
        ));
    }

    #[test]
    fn split_u64_gives_low_then_high() {
        assert_eq!(split_u64(0x1122_3344_5566_7788), (0x5566_7788, 0x1122_3344));
    }

    #[test]
    fn c_string_needs_a_terminator() {
        assert_eq!(c_string(b"abc\0def", 0, 16, "s").unwrap(), "abc");
        assert!(c_string(b"abcdef", 0, 16, "s").is_err());
        assert!(c_string(b"abc", 7, 16, "s").is_err());
    }
}
