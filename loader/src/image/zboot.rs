//! EFI zboot: a small EFI application (a PE file) that carries the compressed arm64 Image
//! and decompresses it when the firmware starts it. A kexec loader has no firmware to run
//! it, so it decompresses the payload itself, as kexec-tools' kexec-pe-zboot.c does.
//!
//! Header layout from drivers/firmware/efi/libstub/zboot-header.S (and Makefile.zboot):
//!
//! | offset | field |
//! |---|---|
//! | 0x00 | "MZ" (MZ_MAGIC) |
//! | 0x04 | "zimg" |
//! | 0x08 | u32 payload offset (file offset) |
//! | 0x0c | u32 payload size (for methods other than gzip the build appends a 4-byte size, not counted) |
//! | 0x10 | 2 × u32 reserved |
//! | 0x18 | NUL-terminated compression type: "gzip", "lz4", "lzma", "lzo", "xzkern", "zstd22" |
//! | 0x38 | u32 LINUX_PE_MAGIC (6.12 and later) |
//! | 0x3c | u32 PE header offset |
//!
//! The payload decompresses to the Image zero-padded to its image_size.

use super::pe::{PeInfo, MACHINE_ARM64};
use crate::compression::{self, Compression};
use crate::error::{Error, Result};
use crate::fields;
use serde::Serialize;

/// Offset of the compression type string.
const COMPRESSION_NAME_OFFSET: u64 = 0x18;
/// The string runs at most up to the PE magic at 0x38.
const COMPRESSION_NAME_MAX: usize = 0x38 - 0x18;

/// The zboot header fields warmboot uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZbootHeader {
    pub payload_offset: u32,
    pub payload_size: u32,
    pub compression: Compression,
    /// The name as written in the header, e.g. "zstd22".
    pub compression_name: String,
}

/// True when `data` starts with "MZ" and has "zimg" at 4.
pub fn looks_like(data: &[u8]) -> bool {
    data.starts_with(b"MZ") && data.get(4..8) == Some(&b"zimg"[..])
}

/// Parses and checks the zboot header: magics, a known compression name, and a payload
/// that lies inside the file.
pub fn parse_header(data: &[u8]) -> Result<ZbootHeader> {
    let head = fields::slice(data, 0, 0x40, "EFI zboot header")?;
    if !looks_like(head) {
        return Err(Error::invalid(
            "EFI zboot header",
            "no \"MZ\" at 0 and \"zimg\" at 4",
        ));
    }
    let payload_offset = fields::le_u32(data, 8, "EFI zboot header")?;
    let payload_size = fields::le_u32(data, 0xc, "EFI zboot header")?;
    let compression_name = fields::c_string(
        data,
        COMPRESSION_NAME_OFFSET,
        COMPRESSION_NAME_MAX,
        "EFI zboot compression type",
    )?;
    let compression = Compression::from_zboot_name(&compression_name).ok_or_else(|| {
        Error::invalid(
            "EFI zboot compression type",
            format!("unknown method {compression_name:?}"),
        )
    })?;
    if payload_size == 0 {
        return Err(Error::invalid("EFI zboot header", "payload size is 0"));
    }
    fields::slice(
        data,
        payload_offset.into(),
        payload_size.into(),
        "EFI zboot payload",
    )?;
    Ok(ZbootHeader {
        payload_offset,
        payload_size,
        compression,
        compression_name,
    })
}

/// A zboot image taken apart: header, the zboot PE's headers, and the decompressed Image.
#[derive(Debug, Clone)]
pub struct Unpacked {
    pub header: ZbootHeader,
    pub pe: PeInfo,
    /// The Image, truncated to its own PE file size when it has an EFI stub (the
    /// decompressor pads it with zeros up to image_size).
    pub image: Vec<u8>,
}

/// Checks the header and PE of a zboot image and decompresses its payload (gzip and zstd;
/// other methods give [`Error::UnsupportedCompression`]), bounded by
/// [`compression::MAX_DECOMPRESSED`]. `is_image` tells an arm64 Image
/// ([`super::arm64::looks_like`]); it is passed in because the Image parser depends on this
/// module, not the other way round.
pub fn unpack(data: &[u8], is_image: fn(&[u8]) -> bool) -> Result<Unpacked> {
    let header = parse_header(data)?;
    let pe = PeInfo::parse(data)
        .map_err(|e| Error::invalid("EFI zboot image", format!("bad PE header: {e}")))?;
    if pe.machine != MACHINE_ARM64 {
        return Err(Error::UnsupportedArch(format!(
            "EFI zboot image for {}",
            pe.machine_name()
        )));
    }
    let payload = fields::slice(
        data,
        header.payload_offset.into(),
        header.payload_size.into(),
        "EFI zboot payload",
    )?;
    let mut image = compression::decompress(
        header.compression,
        payload,
        compression::MAX_DECOMPRESSED,
        "EFI zboot payload",
    )?;
    if !is_image(&image) {
        return Err(Error::UnknownFormat {
            detail: "EFI zboot payload that is not an arm64 Image".to_string(),
        });
    }
    if let Some(end) = pe_file_end(&image) {
        if end < image.len() {
            image.truncate(end);
        }
    }
    Ok(Unpacked { header, pe, image })
}

/// The end of the last PE section's file data (or of the certificate table, if the inner
/// Image is itself signed) in an EFI-stub Image, i.e. the Image's file size before the
/// decompressor's zero padding (kexec-tools truncates the same way).
fn pe_file_end(image: &[u8]) -> Option<usize> {
    if !super::pe::looks_like(image) {
        return None;
    }
    let pe = PeInfo::parse(image).ok()?;
    // Two u32 widened to u64 cannot overflow; `checked_add` says so without a panic path.
    let cert_end = pe
        .certificate_table
        .and_then(|(off, size)| u64::from(off).checked_add(u64::from(size)));
    let end = pe
        .sections
        .iter()
        .filter_map(|s| u64::from(s.file_offset).checked_add(u64::from(s.file_size)))
        .chain(cert_end)
        .max()?;
    usize::try_from(end).ok().filter(|&e| e > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::arm64::{Arm64Kernel, Container};
    use crate::image::KernelImage;
    use crate::synth::arm64::{gzip, zboot, zboot_raw, Arm64Builder};
    use proptest::prelude::*;

    use crate::inspect::render_fields as render;

    /// An EFI-stub Image, as a zboot payload holds.
    fn inner() -> Vec<u8> {
        Arm64Builder {
            efi_stub: true,
            ..Arm64Builder::default()
        }
        .build()
    }

    fn err(data: &[u8]) -> String {
        Arm64Kernel::parse_zboot(data).unwrap_err().to_string()
    }

    #[test]
    fn gzip_zboot_is_decompressed_and_unpadded() {
        let image = inner();
        let z = zboot(&image, Compression::Gzip, "gzip", 0x2_0000, true);
        let h = parse_header(&z).unwrap();
        assert_eq!(h.compression, Compression::Gzip);
        assert_eq!(h.compression_name, "gzip");
        assert_eq!(h.payload_offset, 0x1000);
        let k = match KernelImage::parse(&z).unwrap() {
            KernelImage::Arm64(k) => k,
            other => panic!("parsed as {}", other.format_name()),
        };
        // The zero padding up to image_size is cut at the inner PE's file end.
        assert_eq!(k.image, image);
        match &k.container {
            Container::Zboot { pe: Some(pe), .. } => assert!(pe.is_signed()),
            other => panic!("{other:?}"),
        }
        insta::assert_snapshot!("zboot_gzip", render(&k.describe()));
    }

    #[test]
    fn zstd_zboot_is_decompressed() {
        let image = inner();
        let z = zboot(&image, Compression::Zstd, "zstd22", 0x2_0000, false);
        let h = parse_header(&z).unwrap();
        assert_eq!(h.compression, Compression::Zstd);
        assert_eq!(h.compression_name, "zstd22");
        let k = Arm64Kernel::parse_zboot(&z).unwrap();
        assert_eq!(k.image, image);
        assert_eq!(k.version.as_deref(), Some("6.1.0-synth"));
        insta::assert_snapshot!("zboot_zstd", render(&k.describe()));
    }

    #[test]
    fn signed_inner_image_keeps_its_certificate_table() {
        let image = Arm64Builder {
            efi_stub: true,
            signed: true,
            ..Arm64Builder::default()
        }
        .build();
        let z = zboot(&image, Compression::Gzip, "gzip", 0x2_0000, false);
        let k = Arm64Kernel::parse_zboot(&z).unwrap();
        assert_eq!(k.image, image);
        assert!(k.pe.as_ref().unwrap().is_signed());
    }

    #[test]
    fn payload_without_efi_stub_keeps_its_padding() {
        let image = Arm64Builder::default().build();
        let z = zboot(&image, Compression::Gzip, "gzip", 0x2_0000, false);
        let k = Arm64Kernel::parse_zboot(&z).unwrap();
        assert_eq!(k.image.len(), 0x2_0000);
        assert_eq!(&k.image[..image.len()], &image[..]);
    }

    #[test]
    fn refuses_methods_it_cannot_decompress() {
        for (name, method) in [("lz4", "lz4"), ("lzo", "lzo")] {
            let z = zboot_raw(b"\x00compressed bytes", 16, name, false);
            assert_eq!(
                err(&z),
                format!("EFI zboot payload is compressed with {method}, which warmboot cannot decompress")
            );
        }
    }

    #[test]
    fn refuses_unknown_method() {
        let z = zboot_raw(b"data", 4, "brotli", false);
        assert_eq!(
            err(&z),
            "invalid EFI zboot compression type: unknown method \"brotli\""
        );
    }

    #[test]
    fn refuses_payload_past_the_end() {
        let mut z = zboot(&inner(), Compression::Gzip, "gzip", 0, false);
        let len = z.len() as u32;
        z[0xc..0x10].copy_from_slice(&len.to_le_bytes());
        assert_eq!(
            err(&z),
            format!(
                "truncated: EFI zboot payload needs bytes 0x1000..{:#x} but the data is only {len:#x} bytes long",
                0x1000 + len
            )
        );
        z[0xc..0x10].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(err(&z), "invalid EFI zboot header: payload size is 0");
    }

    #[test]
    fn refuses_payload_that_is_not_an_arm64_image() {
        let payload = gzip(&[0x55; 4096]);
        let z = zboot_raw(&payload, payload.len() as u32, "gzip", false);
        assert_eq!(
            err(&z),
            "not a kernel image warmboot understands (EFI zboot payload that is not an arm64 Image)"
        );
    }

    #[test]
    fn refuses_corrupt_zboot_pe_header() {
        let mut z = zboot(&inner(), Compression::Gzip, "gzip", 0, false);
        let len = z.len();
        // SizeOfRawData of the one section header (0x40 + 4 + 20 + 240 = 0x148, field +16).
        z[0x158..0x15c].copy_from_slice(&0x10_0000u32.to_le_bytes());
        assert_eq!(
            err(&z),
            format!("invalid EFI zboot image: bad PE header: truncated: PE section needs bytes 0x1000..0x101000 but the data is only {len:#x} bytes long")
        );
    }

    #[test]
    fn refuses_zboot_for_another_machine() {
        let mut z = zboot(&inner(), Compression::Gzip, "gzip", 0, false);
        z[0x44..0x46].copy_from_slice(&0x5064u16.to_le_bytes());
        assert_eq!(
            err(&z),
            "unsupported architecture: EFI zboot image for riscv64"
        );
    }

    #[test]
    fn refuses_missing_terminator_and_truncated_header() {
        let mut z = zboot(&inner(), Compression::Gzip, "gzip", 0, false);
        z[0x18..0x38].fill(b'a');
        assert_eq!(
            err(&z),
            "invalid EFI zboot compression type: no terminating NUL within 32 bytes"
        );
        assert_eq!(
            err(&z[..0x20]),
            "truncated: EFI zboot header needs bytes 0x0..0x40 but the data is only 0x20 bytes long"
        );
    }

    fn check(data: &[u8]) -> Result<(), TestCaseError> {
        if let Ok(k) = Arm64Kernel::parse_zboot(data) {
            prop_assert!(k.image.len() as u64 <= compression::MAX_DECOMPRESSED);
            let _ = k.describe();
        }
        let _ = parse_header(data);
        Ok(())
    }

    fn samples() -> Vec<Vec<u8>> {
        let image = Arm64Builder {
            efi_stub: true,
            code_len: 0x100,
            ..Arm64Builder::default()
        }
        .build();
        vec![
            zboot(&image, Compression::Gzip, "gzip", 0x8000, true),
            zboot(&image, Compression::Zstd, "zstd22", 0x8000, false),
        ]
    }

    #[test]
    fn every_truncation_is_an_error_or_ok_never_a_panic() {
        for sample in samples() {
            for len in 0..sample.len() {
                check(&sample[..len]).unwrap();
            }
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            check(&data)?;
        }

        #[test]
        fn zboot_header_prefix_with_arbitrary_tail(
            name in prop::sample::select(vec!["gzip", "zstd22", "lz4", "x"]),
            off in 0u32..0x300,
            size in 0u32..0x300,
            tail in proptest::collection::vec(any::<u8>(), 0..0x400),
        ) {
            let mut data = vec![0u8; 0x40];
            data[..2].copy_from_slice(b"MZ");
            data[4..8].copy_from_slice(b"zimg");
            data[8..12].copy_from_slice(&off.to_le_bytes());
            data[12..16].copy_from_slice(&size.to_le_bytes());
            data[0x18..0x18 + name.len()].copy_from_slice(name.as_bytes());
            data.extend_from_slice(&tail);
            check(&data)?;
        }

        #[test]
        fn single_byte_mutations_never_panic(which in 0usize..2, pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let mut data = samples().swap_remove(which);
            let i = pos.index(data.len());
            data[i] = byte;
            check(&data)?;
        }
    }
}
