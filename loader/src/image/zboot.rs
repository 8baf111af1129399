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
/// [`compression::MAX_DECOMPRESSED`].
pub fn unpack(data: &[u8]) -> Result<Unpacked> {
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
    if !super::arm64::looks_like(&image) {
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

/// The end of the last PE section's file data in an EFI-stub Image, i.e. the Image's file
/// size before the decompressor's zero padding (kexec-tools truncates the same way).
fn pe_file_end(image: &[u8]) -> Option<usize> {
    if !super::pe::looks_like(image) {
        return None;
    }
    let pe = PeInfo::parse(image).ok()?;
    let end = pe
        .sections
        .iter()
        .map(|s| u64::from(s.file_offset) + u64::from(s.file_size))
        .max()?;
    usize::try_from(end).ok().filter(|&e| e > 0)
}
