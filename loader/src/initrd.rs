//! Initial ramdisks: size, compression and whether they hold a cpio archive, for
//! information only. The kernel unpacks the initramfs itself (init/initramfs.c), so a
//! loader only copies the bytes; what is reported here helps a user spot the wrong file.
//!
//! An initramfs is one or more "newc" cpio archives (Documentation/driver-api/early-userspace/
//! buffer-format.rst), each optionally compressed, concatenated with NUL padding between
//! them. Debian's initramfs-tools puts an uncompressed early archive (CPU microcode, under
//! kernel/x86/microcode/) first and the compressed main archive after it.

use crate::compression::Compression;
use crate::error::{Error, Result};
use crate::image::field::Field;
use serde::Serialize;
use std::io::Read;

/// Length of a newc header: 6-byte magic and 13 eight-digit hex fields.
const NEWC_HEADER_LEN: usize = 110;
/// Name of the entry that ends a cpio archive.
const TRAILER: &[u8] = b"TRAILER!!!";

/// What an initrd is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InitrdInfo {
    pub size: u64,
    /// Compression of the main archive (after any uncompressed early archives).
    pub compression: Compression,
    /// The data is (or, once decompressed, starts with) a newc cpio archive
    /// (magic "070701" or "070702").
    pub cpio: bool,
    /// Bytes of uncompressed cpio archives (with their padding) before the main archive,
    /// e.g. Debian's early microcode archive; 0 when there are none.
    pub early_cpio_size: u64,
}

impl InitrdInfo {
    /// Inspects `data`. Never fails on non-empty data: anything unrecognised is reported as
    /// uncompressed and not cpio.
    pub fn from_bytes(data: &[u8]) -> Result<InitrdInfo> {
        if data.is_empty() {
            return Err(Error::Empty);
        }
        let early = early_cpio_len(data);
        let rest = data.get(early..).unwrap_or_default();
        let (compression, cpio, early) = if rest.is_empty() {
            // Only uncompressed archives: that is the main archive, there is no early one.
            (Compression::None, true, 0)
        } else {
            let compression = Compression::detect(rest);
            let cpio = match compression {
                Compression::None => is_newc(rest),
                c => peek_decompressed(c, rest).is_some_and(|head| is_newc(&head)),
            } || early > 0;
            (compression, cpio, early)
        };
        Ok(InitrdInfo {
            size: data.len() as u64,
            compression,
            cpio,
            early_cpio_size: early as u64,
        })
    }

    /// A short description, e.g. "cpio + gzip", "gzip-compressed cpio", "uncompressed cpio".
    pub fn format(&self) -> String {
        match (self.early_cpio_size > 0, self.compression, self.cpio) {
            (true, Compression::None, _) => "cpio + unrecognised data".to_string(),
            (true, c, _) => format!("cpio + {c}"),
            (false, Compression::None, true) => "uncompressed cpio".to_string(),
            (false, Compression::None, false) => "unrecognised (not a cpio archive)".to_string(),
            (false, c, true) => format!("{c}-compressed cpio"),
            (false, c, false) => format!("{c}-compressed data (not cpio inside)"),
        }
    }

    /// The fields `warmboot inspect --initrd` prints.
    pub fn describe(&self) -> Vec<Field> {
        let mut out = vec![
            Field::new("initrd format", self.format()),
            Field::size("initrd size", self.size),
        ];
        if self.early_cpio_size > 0 {
            out.push(Field::size("early cpio", self.early_cpio_size));
            out.push(Field::size(
                "main archive",
                self.size.saturating_sub(self.early_cpio_size),
            ));
        }
        out
    }
}

/// True when `data` starts with a newc magic ("070701", or "070702" with checksums).
fn is_newc(data: &[u8]) -> bool {
    data.starts_with(b"070701") || data.starts_with(b"070702")
}

/// Decompresses just enough of `data` to see the first bytes; None when that fails or the
/// method has no decoder here.
fn peek_decompressed(method: Compression, data: &[u8]) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let read = match method {
        Compression::Gzip => flate2::read::GzDecoder::new(data)
            .take(NEWC_HEADER_LEN as u64)
            .read_to_end(&mut head),
        Compression::Zstd => ruzstd::decoding::StreamingDecoder::new(data)
            .ok()?
            .take(NEWC_HEADER_LEN as u64)
            .read_to_end(&mut head),
        _ => return None,
    };
    read.ok().map(|_| head)
}

/// Length of the uncompressed newc archives at the start of `data`, each up to and
/// including its TRAILER!!! entry plus the NUL padding after it. Stops (and counts nothing
/// for an archive) at anything malformed. Each step consumes at least one header, so the
/// walk is bounded by the data length.
fn early_cpio_len(data: &[u8]) -> usize {
    let mut pos = 0;
    while data.get(pos..).is_some_and(is_newc) {
        let Some(end) = archive_end(data, pos) else {
            break;
        };
        let mut next = end;
        while data.get(next) == Some(&0) {
            next += 1;
        }
        pos = next;
    }
    pos
}

/// The end of the newc archive starting at `start` (just past its TRAILER!!! entry), or
/// None if a header is malformed or runs past the data.
fn archive_end(data: &[u8], start: usize) -> Option<usize> {
    let mut pos = start;
    loop {
        let header = data.get(pos..pos.checked_add(NEWC_HEADER_LEN)?)?;
        if !is_newc(header) {
            return None;
        }
        let filesize = hex_field(header, 6)?;
        let namesize = hex_field(header, 11)?;
        let name_start = pos + NEWC_HEADER_LEN;
        let name_end = name_start.checked_add(namesize)?;
        let name = data.get(name_start..name_end)?;
        let data_start = align4(name_end)?;
        let data_end = data_start.checked_add(filesize)?;
        if data_end > data.len() {
            return None;
        }
        pos = align4(data_end)?.min(data.len());
        if name.strip_suffix(b"\0") == Some(TRAILER) {
            return Some(pos);
        }
    }
}

/// Field `index` (0 = c_ino) of a newc header: eight ASCII hex digits after the magic.
fn hex_field(header: &[u8], index: usize) -> Option<usize> {
    let start = 6 + index * 8;
    let digits = std::str::from_utf8(header.get(start..start + 8)?).ok()?;
    usize::from_str_radix(digits, 16).ok()
}

fn align4(n: usize) -> Option<usize> {
    n.checked_add(3).map(|v| v & !3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::initrd::{early_plus_gzip, newc, newc_gzip};
    use proptest::prelude::*;

    use crate::inspect::render_fields as render;

    fn files() -> Vec<(&'static str, &'static [u8])> {
        vec![
            ("bin/", b""),
            ("init", b"#!/bin/sh\nexec /bin/sh\n"),
            ("etc/hostname", b"guest\n"),
        ]
    }

    const UCODE: &[(&str, &[u8])] = &[
        ("kernel/", b""),
        (
            "kernel/x86/microcode/GenuineIntel.bin",
            b"\x01\x02\x03 microcode",
        ),
    ];

    #[test]
    fn plain_cpio() {
        let data = newc(&files());
        let info = InitrdInfo::from_bytes(&data).unwrap();
        assert_eq!(
            info,
            InitrdInfo {
                size: data.len() as u64,
                compression: Compression::None,
                cpio: true,
                early_cpio_size: 0,
            }
        );
        insta::assert_snapshot!("initrd_cpio", render(&info.describe()));
    }

    #[test]
    fn gzip_cpio() {
        let data = newc_gzip(&files());
        let info = InitrdInfo::from_bytes(&data).unwrap();
        assert_eq!(info.compression, Compression::Gzip);
        assert!(info.cpio);
        assert_eq!(info.early_cpio_size, 0);
        insta::assert_snapshot!("initrd_gzip", render(&info.describe()));
    }

    #[test]
    fn early_cpio_then_gzip() {
        let data = early_plus_gzip(UCODE, &files());
        let early = newc(UCODE).len().next_multiple_of(512);
        let info = InitrdInfo::from_bytes(&data).unwrap();
        assert_eq!(info.early_cpio_size, early as u64);
        assert_eq!(info.compression, Compression::Gzip);
        assert!(info.cpio);
        assert_eq!(info.format(), "cpio + gzip");
        insta::assert_snapshot!("initrd_cpio_gzip", render(&info.describe()));
    }

    #[test]
    fn other_data_is_reported_not_refused() {
        let info = InitrdInfo::from_bytes(b"hello").unwrap();
        assert_eq!(info.compression, Compression::None);
        assert!(!info.cpio);
        assert_eq!(info.format(), "unrecognised (not a cpio archive)");
        let xz = InitrdInfo::from_bytes(b"\xfd7zXZ\0rest").unwrap();
        assert_eq!(xz.format(), "xz-compressed data (not cpio inside)");
        let gz_text = InitrdInfo::from_bytes(&crate::synth::arm64::gzip(b"text")).unwrap();
        assert_eq!(gz_text.format(), "gzip-compressed data (not cpio inside)");
    }

    #[test]
    fn truncated_cpio_is_not_counted_as_an_early_archive() {
        let data = newc(&files());
        let info = InitrdInfo::from_bytes(&data[..data.len() - 20]).unwrap();
        assert_eq!(info.early_cpio_size, 0);
        assert_eq!(info.format(), "uncompressed cpio");
    }

    #[test]
    fn empty_is_an_error() {
        assert_eq!(
            InitrdInfo::from_bytes(b"").unwrap_err().to_string(),
            "file is empty"
        );
    }

    fn samples() -> Vec<Vec<u8>> {
        vec![
            newc(&files()),
            newc_gzip(&files()),
            early_plus_gzip(UCODE, &files()),
        ]
    }

    fn check(data: &[u8]) -> Result<(), TestCaseError> {
        match InitrdInfo::from_bytes(data) {
            Ok(info) => {
                prop_assert_eq!(info.size, data.len() as u64);
                prop_assert!(info.early_cpio_size <= info.size);
                let _ = info.describe();
            }
            Err(e) => {
                prop_assert!(data.is_empty(), "{}", e);
            }
        }
        Ok(())
    }

    #[test]
    fn every_truncation_is_described() {
        for sample in samples() {
            for len in 0..sample.len() {
                check(&sample[..len]).unwrap();
            }
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_are_described(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            check(&data)?;
        }

        #[test]
        fn newc_magic_with_arbitrary_tail(tail in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut data = b"070701".to_vec();
            data.extend_from_slice(&tail);
            check(&data)?;
        }

        #[test]
        fn single_byte_mutations_are_described(which in 0usize..3, pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let mut data = samples().swap_remove(which);
            let i = pos.index(data.len());
            data[i] = byte;
            check(&data)?;
        }
    }
}
