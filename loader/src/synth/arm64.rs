//! Synthetic arm64 kernels: a plain Image (optionally with an EFI stub PE header and an
//! Authenticode signature), Image.gz, and EFI zboot images with gzip or zstd payloads.
//!
//! The Image header follows arch/arm64/include/asm/image.h; the zboot header follows
//! drivers/firmware/efi/libstub/zboot-header.S. The "code" is filler bytes: nothing runs it.

use crate::compression::Compression;
use crate::image::pe::MACHINE_ARM64;
use crate::synth::pe::{append_signature, write_headers, SectionSpec};
use std::io::Write;

/// LINUX_PE_MAGIC at 0x38 of a zboot image (include/linux/pe.h, 6.12).
const LINUX_PE_MAGIC: u32 = 0x8182_23cd;
/// Where the EFI stub's PE header goes, as in the real kernel (image.h: pe_header at 0x40).
const PE_OFFSET: u32 = 0x40;
/// Where the synthetic "text" starts in the file (after the PE headers).
const TEXT_START: usize = 0x1000;

/// What an arm64 Image built by [`Arm64Builder::build`] looks like.
#[derive(Debug, Clone)]
pub struct Arm64Builder {
    pub text_offset: u64,
    /// image_size header field; None computes the file size rounded up to 64 KiB plus
    /// 64 KiB of "BSS".
    pub image_size: Option<u64>,
    pub flags: u64,
    /// Kernel release in the banner, e.g. "6.1.0-synth"; None writes no banner.
    pub version: Option<String>,
    /// Write an EFI stub PE header (machine arm64) at 0x40.
    pub efi_stub: bool,
    /// Append a (fake) Authenticode signature; needs `efi_stub`.
    pub signed: bool,
    /// Bytes of filler "code" after the header.
    pub code_len: usize,
}

impl Default for Arm64Builder {
    /// A 6.x-style Image: text_offset 0, 4 KiB pages, placement anywhere (flags 0xa), no
    /// EFI stub, banner "Linux version 6.1.0-synth".
    fn default() -> Self {
        Arm64Builder {
            text_offset: 0,
            image_size: None,
            flags: 0xa,
            version: Some("6.1.0-synth".to_string()),
            efi_stub: false,
            signed: false,
            code_len: 0x2000,
        }
    }
}

impl Arm64Builder {
    /// Builds the Image bytes.
    pub fn build(&self) -> Vec<u8> {
        let mut buf = vec![0u8; TEXT_START];
        // Filler "code": a repeating non-zero pattern so compression has something to do.
        buf.extend((0..self.code_len).map(|i| (i % 251) as u8 | 1));
        if let Some(v) = &self.version {
            buf.extend_from_slice(
                format!("Linux version {v} (synth@warmboot) (gcc) #1 SMP PREEMPT_DYNAMIC\n\0")
                    .as_bytes(),
            );
        }
        buf.resize(buf.len().next_multiple_of(0x200), 0);
        let image_size = self
            .image_size
            .unwrap_or((buf.len() as u64).next_multiple_of(0x1_0000) + 0x1_0000);
        // code0 "MZ" + branch-like filler, code1 a "b stext".
        buf[0..4].copy_from_slice(&0xfa40_5a4du32.to_le_bytes());
        buf[4..8].copy_from_slice(&0x1459_a356u32.to_le_bytes());
        if !self.efi_stub {
            buf[0..4].copy_from_slice(&0x9100_0000u32.to_le_bytes()); // "add x0, x0, #0"
        }
        buf[8..16].copy_from_slice(&self.text_offset.to_le_bytes());
        buf[16..24].copy_from_slice(&image_size.to_le_bytes());
        buf[24..32].copy_from_slice(&self.flags.to_le_bytes());
        buf[0x38..0x3c].copy_from_slice(b"ARM\x64");
        if self.efi_stub {
            let sections = [SectionSpec {
                name: ".text".to_string(),
                file_offset: TEXT_START as u32,
                file_size: (buf.len() - TEXT_START) as u32,
                virtual_address: TEXT_START as u32,
                virtual_size: (buf.len() - TEXT_START) as u32,
            }];
            write_headers(&mut buf, PE_OFFSET, MACHINE_ARM64, 0x1000, &sections, None);
            if self.signed {
                let table = append_signature(&mut buf, b"synthetic PKCS#7 signed data");
                write_headers(
                    &mut buf,
                    PE_OFFSET,
                    MACHINE_ARM64,
                    0x1000,
                    &sections,
                    Some(table),
                );
            }
        }
        buf
    }
}

/// Gzip-compresses `data` (an Image.gz from an Image).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

/// Zstd-compresses `data`.
pub fn zstd(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}

/// Wraps `image` in an EFI zboot PE, compressed with `method` (Gzip or Zstd) under the
/// header name `name` ("gzip", "zstd22", ...). The payload is the Image zero-padded to
/// `pad_to` bytes first, as the kernel build pads it to image_size. `signed` appends a
/// (fake) Authenticode signature to the zboot PE.
pub fn zboot(
    image: &[u8],
    method: Compression,
    name: &str,
    pad_to: usize,
    signed: bool,
) -> Vec<u8> {
    let mut plain = image.to_vec();
    if plain.len() < pad_to {
        plain.resize(pad_to, 0);
    }
    let (mut payload, trailer) = match method {
        Compression::Gzip => (gzip(&plain), false),
        Compression::Zstd => (zstd(&plain), true),
        other => panic!("synth::arm64::zboot cannot compress with {other}"),
    };
    let payload_size = payload.len() as u32;
    if trailer {
        // Makefile.zboot appends the decompressed size for methods other than gzip.
        payload.extend_from_slice(&(plain.len() as u32).to_le_bytes());
    }
    zboot_raw(&payload, payload_size, name, signed)
}

/// An EFI zboot PE around an already compressed `payload` (written at 0x1000), with the
/// header's payload size set to `payload_size` and compression type `name`.
pub fn zboot_raw(payload: &[u8], payload_size: u32, name: &str, signed: bool) -> Vec<u8> {
    let mut buf = vec![0u8; TEXT_START];
    buf.extend_from_slice(payload);
    buf.resize(buf.len().next_multiple_of(0x200), 0);
    buf[4..8].copy_from_slice(b"zimg");
    buf[8..12].copy_from_slice(&(TEXT_START as u32).to_le_bytes());
    buf[12..16].copy_from_slice(&payload_size.to_le_bytes());
    let n = name.as_bytes();
    buf[0x18..0x18 + n.len()].copy_from_slice(n);
    buf[0x38..0x3c].copy_from_slice(&LINUX_PE_MAGIC.to_le_bytes());
    let sections = [SectionSpec {
        name: ".data".to_string(),
        file_offset: TEXT_START as u32,
        file_size: (buf.len() - TEXT_START) as u32,
        virtual_address: TEXT_START as u32,
        virtual_size: (buf.len() - TEXT_START) as u32,
    }];
    write_headers(&mut buf, PE_OFFSET, MACHINE_ARM64, 0x1000, &sections, None);
    if signed {
        let table = append_signature(&mut buf, b"synthetic PKCS#7 signed data");
        write_headers(
            &mut buf,
            PE_OFFSET,
            MACHINE_ARM64,
            0x1000,
            &sections,
            Some(table),
        );
    }
    buf
}
