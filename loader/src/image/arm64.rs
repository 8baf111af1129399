//! arm64 Image, and the two compressed forms a distribution ships it in: Image.gz (a plain
//! gzip stream, decompressed by the boot loader) and EFI zboot (a PE that carries the
//! compressed Image, see [`super::zboot`]).
//!
//! The 64-byte header is defined by arch/arm64/include/asm/image.h and explained in
//! Documentation/arch/arm64/booting.rst (section "Call the kernel image"):
//!
//! | offset | field |
//! |---|---|
//! | 0x00 | code0 u32 (with the EFI stub: "MZ" + a harmless instruction) |
//! | 0x04 | code1 u32 |
//! | 0x08 | text_offset u64, little-endian |
//! | 0x10 | image_size u64, little-endian (0 before Linux 3.17) |
//! | 0x18 | flags u64: bit 0 big-endian, bits 1-2 page size, bit 3 physical placement |
//! | 0x20..0x38 | reserved |
//! | 0x38 | magic "ARM\x64" (0x644d5241) |
//! | 0x3c | PE header offset (the EFI stub's e_lfanew) |

use super::field::Field;
use super::pe::{PeInfo, MACHINE_ARM64};
use crate::compression::{self, Compression};
use crate::error::{Error, Result};
use crate::fields;
use serde::Serialize;
use std::io::Read;

/// The header magic at 0x38, "ARM\x64" read as a little-endian u32.
pub const MAGIC: u32 = 0x644d_5241;
/// Size of the Image header.
pub const HEADER_LEN: u64 = 64;
/// text_offset booting.rst tells boot loaders to assume when image_size is 0 (pre-3.17).
pub const LEGACY_TEXT_OFFSET: u64 = 0x8_0000;
/// The Image must sit at text_offset above a 2 MiB-aligned base (booting.rst;
/// MIN_KIMG_ALIGN in arch/arm64/include/asm/boot.h), so text_offset is below 2 MiB.
pub const KERNEL_ALIGN: u64 = 2 << 20;
/// How many bytes after "Linux version " the version banner may take.
const BANNER_MAX: usize = 256;

/// Flags bit 0: the kernel is big-endian.
const FLAG_BE: u64 = 1 << 0;
/// Flags bits 1-2: kernel page size (0 unspecified, 1 4K, 2 16K, 3 64K).
const FLAG_PAGE_SIZE_SHIFT: u64 = 1;
/// Flags bit 3: 0 = place as close to the base of DRAM as possible, 1 = anywhere.
const FLAG_PHYS_PLACEMENT: u64 = 1 << 3;
/// Flags bits defined by booting.rst; the rest are reserved.
const FLAGS_KNOWN: u64 = 0xf;

/// The arm64 Image header (arch/arm64/include/asm/image.h), decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Arm64Header {
    pub code0: u32,
    pub code1: u32,
    /// Offset of the Image above its 2 MiB-aligned load base. For a legacy image
    /// (image_size 0) this is the 0x80000 booting.rst says to assume, not the field,
    /// whose endianness was unspecified before 3.17.
    pub text_offset: u64,
    /// Bytes the kernel needs from the Image start, BSS included; 0 for pre-3.17 kernels.
    pub image_size: u64,
    pub flags: u64,
    pub big_endian: bool,
    /// Kernel page size from flags bits 1-2: 4096, 16384, 65536, or None if unspecified.
    pub page_size: Option<u32>,
    /// Flags bit 3: the Image may be placed anywhere in physical memory rather than as
    /// close to the base of DRAM as possible.
    pub phys_placement_anywhere: bool,
    /// Offset of the EFI stub's PE header (0 without one).
    pub pe_offset: u32,
}

impl Arm64Header {
    /// Parses and checks the header at the start of `data` (an uncompressed Image).
    pub fn parse(data: &[u8]) -> Result<Arm64Header> {
        let magic = fields::le_u32(data, 0x38, "arm64 Image header")?;
        if magic != MAGIC {
            return Err(Error::invalid(
                "arm64 Image header",
                format!("magic at 0x38 is {magic:#010x}, not \"ARM\\x64\" ({MAGIC:#010x})"),
            ));
        }
        let flags = fields::le_u64(data, 0x18, "arm64 Image header")?;
        if flags & FLAG_BE != 0 {
            return Err(Error::UnsupportedArch(
                "big-endian arm64 kernels are not supported".to_string(),
            ));
        }
        let image_size = fields::le_u64(data, 0x10, "arm64 Image header")?;
        let text_offset = if image_size == 0 {
            LEGACY_TEXT_OFFSET
        } else {
            fields::le_u64(data, 0x08, "arm64 Image header")?
        };
        if text_offset >= KERNEL_ALIGN {
            return Err(Error::invalid(
                "arm64 Image text_offset",
                format!("{text_offset:#x} is not below 2 MiB"),
            ));
        }
        // Every kernel's text_offset is page-aligned: 0x80000 by default before 5.8, 0 after,
        // and with CONFIG_ARM64_RANDOMIZE_TEXT_OFFSET (arch/arm64/Makefile, removed in
        // 5.8) a random multiple of the page size below 2 MiB.
        if text_offset % 4096 != 0 {
            return Err(Error::invalid(
                "arm64 Image text_offset",
                format!("{text_offset:#x} is not a multiple of 4 KiB"),
            ));
        }
        fields::add(text_offset, image_size, "arm64 text_offset + image_size")?
            .checked_add(KERNEL_ALIGN)
            .ok_or(Error::Overflow {
                what: "arm64 text_offset + image_size",
            })?;
        let page_size = match (flags >> FLAG_PAGE_SIZE_SHIFT) & 3 {
            1 => Some(4096),
            2 => Some(16384),
            3 => Some(65536),
            _ => None,
        };
        Ok(Arm64Header {
            code0: fields::le_u32(data, 0, "arm64 Image header")?,
            code1: fields::le_u32(data, 4, "arm64 Image header")?,
            text_offset,
            image_size,
            flags,
            big_endian: false,
            page_size,
            phys_placement_anywhere: flags & FLAG_PHYS_PLACEMENT != 0,
            pe_offset: fields::le_u32(data, 0x3c, "arm64 Image header")?,
        })
    }

    /// True for a pre-3.17 Image, whose header gives no size and no reliable text_offset.
    pub fn is_legacy(&self) -> bool {
        self.image_size == 0
    }

    /// The flags, spelled out.
    pub fn flags_meaning(&self) -> String {
        let mut parts = vec![if self.big_endian {
            "big-endian".to_string()
        } else {
            "little-endian".to_string()
        }];
        parts.push(match self.page_size {
            Some(p) => format!("{} KiB pages", p / 1024),
            None => "page size unspecified".to_string(),
        });
        parts.push(
            if self.phys_placement_anywhere {
                "placement anywhere in physical memory"
            } else {
                "placement near the base of DRAM"
            }
            .to_string(),
        );
        let reserved = self.flags & !FLAGS_KNOWN;
        if reserved != 0 {
            parts.push(format!("reserved bits {reserved:#x}"));
        }
        parts.join(", ")
    }
}

/// How the Image reached us.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Container {
    /// A plain Image.
    Raw,
    /// Image.gz: the whole file is one gzip stream.
    Gzip { compressed_size: u64 },
    /// EFI zboot: a PE whose payload is the compressed Image
    /// (drivers/firmware/efi/libstub/zboot-header.S).
    Zboot {
        compression: Compression,
        payload_offset: u32,
        payload_size: u32,
        /// The zboot image's own PE headers (machine, signature); boxed to keep
        /// [`super::KernelImage`] small.
        pe: Option<Box<PeInfo>>,
    },
}

impl Container {
    /// A short name of the format: "arm64 Image", "arm64 Image.gz", "arm64 EFI zboot (gzip)".
    pub fn describe(&self) -> String {
        match self {
            Container::Raw => "arm64 Image".to_string(),
            Container::Gzip { .. } => "arm64 Image.gz".to_string(),
            Container::Zboot { compression, .. } => format!("arm64 EFI zboot ({compression})"),
        }
    }
}

/// A parsed arm64 kernel in any of its containers.
#[derive(Debug, Clone, Serialize)]
pub struct Arm64Kernel {
    pub container: Container,
    pub header: Arm64Header,
    /// The Image's own EFI stub PE headers, if it has an EFI stub.
    pub pe: Option<PeInfo>,
    /// The kernel release from the "Linux version " banner, e.g. "6.1.0-56-arm64".
    pub version: Option<String>,
    /// The raw (decompressed) Image bytes: what gets loaded at base + text_offset.
    #[serde(skip)]
    pub image: Vec<u8>,
    /// Length of the (decompressed) Image, i.e. `image.len()`.
    pub image_file_size: u64,
    /// Length of the file as given (compressed, for Image.gz and zboot).
    pub file_size: u64,
}

/// True when `data` has the arm64 Image magic at 0x38.
pub fn looks_like(data: &[u8]) -> bool {
    data.get(0x38..0x3c) == Some(&MAGIC.to_le_bytes()[..])
}

impl Arm64Kernel {
    /// Parses an uncompressed Image.
    pub fn parse_image(data: &[u8]) -> Result<Arm64Kernel> {
        Self::from_image(data.to_vec(), Container::Raw, data.len() as u64)
    }

    /// Parses an Image.gz: decompresses it (bounded by [`compression::MAX_DECOMPRESSED`])
    /// and parses the Image inside.
    pub fn parse_gzip(data: &[u8]) -> Result<Arm64Kernel> {
        // Look at the first 64 decompressed bytes before inflating everything, so that a
        // gzip file that is no kernel (an initrd given by mistake) is refused at once.
        let mut head = Vec::new();
        let peek = flate2::read::GzDecoder::new(data)
            .take(HEADER_LEN)
            .read_to_end(&mut head);
        if peek.is_ok() && head.len() as u64 == HEADER_LEN && !looks_like(&head) {
            return Err(not_an_image());
        }
        let image = compression::decompress(
            Compression::Gzip,
            data,
            compression::MAX_DECOMPRESSED,
            "arm64 Image.gz",
        )?;
        if !looks_like(&image) {
            return Err(not_an_image());
        }
        let container = Container::Gzip {
            compressed_size: data.len() as u64,
        };
        Self::from_image(image, container, data.len() as u64)
    }

    /// Parses an EFI zboot image: checks its header and PE, decompresses the payload and
    /// parses the Image inside (see [`super::zboot`]).
    pub fn parse_zboot(data: &[u8]) -> Result<Arm64Kernel> {
        let z = super::zboot::unpack(data, looks_like)?;
        let container = Container::Zboot {
            compression: z.header.compression,
            payload_offset: z.header.payload_offset,
            payload_size: z.header.payload_size,
            pe: Some(Box::new(z.pe)),
        };
        Self::from_image(z.image, container, data.len() as u64)
    }

    fn from_image(image: Vec<u8>, container: Container, file_size: u64) -> Result<Arm64Kernel> {
        let header = Arm64Header::parse(&image)?;
        // An Image starting with "MZ" says it has an EFI stub whose PE header is at 0x3c's
        // offset (arch/arm64/kernel/head.S, efi-header.S): that header must then be there,
        // or the file was cut (a 64-byte head of a real Image would otherwise "load").
        let has_stub = image.starts_with(b"MZ") && header.pe_offset != 0;
        let pe = if has_stub || super::pe::looks_like(&image) {
            let pe = PeInfo::parse(&image).map_err(|e| {
                Error::invalid("arm64 Image EFI stub", format!("bad PE header: {e}"))
            })?;
            if pe.machine != MACHINE_ARM64 {
                return Err(Error::invalid(
                    "arm64 Image EFI stub",
                    format!("PE machine is {}, not arm64", pe.machine_name()),
                ));
            }
            Some(pe)
        } else {
            None
        };
        Ok(Arm64Kernel {
            container,
            version: find_version(&image),
            image_file_size: image.len() as u64,
            file_size,
            header,
            pe,
            image,
        })
    }

    /// The fields `warmboot inspect` prints.
    pub fn describe(&self) -> Vec<Field> {
        let h = &self.header;
        let mut out = vec![
            Field::new("format", self.container.describe()),
            Field::new("architecture", "arm64"),
            Field::new(
                "kernel version",
                self.version
                    .clone()
                    .unwrap_or_else(|| "unknown".to_string()),
            ),
            Field::size("file size", self.file_size),
        ];
        match &self.container {
            Container::Raw => {}
            Container::Gzip { .. } => {
                out.push(Field::size("decompressed size", self.image_file_size));
            }
            Container::Zboot {
                compression,
                payload_offset,
                payload_size,
                pe,
            } => {
                out.push(Field::new(
                    "zboot payload",
                    format!(
                        "{compression}, {payload_size:#x} bytes at file offset {payload_offset:#x}"
                    ),
                ));
                // The decompressed payload is padded with zeros to image_size; this is
                // the Image up to its PE file end.
                out.push(Field::size("Image size", self.image_file_size));
                if let Some(pe) = pe {
                    out.push(Field::new("zboot PE machine", pe.machine_name()));
                    out.push(Field::new("zboot signature", signature(pe)));
                }
            }
        }
        if h.is_legacy() {
            out.push(Field::new(
                "text_offset",
                format!(
                    "{:#x} (assumed: image_size is 0, a pre-3.17 kernel)",
                    h.text_offset
                ),
            ));
            out.push(Field::new(
                "image_size",
                "0 (unknown; the Image file size is a lower bound)",
            ));
        } else {
            out.push(Field::hex("text_offset", h.text_offset));
            out.push(Field::new(
                "image_size",
                format!("{:#x} ({} bytes, BSS included)", h.image_size, h.image_size),
            ));
        }
        out.push(Field::new(
            "flags",
            format!("{:#x} ({})", h.flags, h.flags_meaning()),
        ));
        let need = if h.is_legacy() {
            self.image_file_size
        } else {
            h.image_size
        };
        out.push(Field::new(
            "load",
            format!(
                "at base + {:#x}, base 2 MiB-aligned, {need:#x} bytes free from there",
                h.text_offset
            ),
        ));
        out.push(Field::new(
            "entry",
            format!(
                "base + {:#x}, x0 = DTB physical address, x1-x3 = 0, MMU off",
                h.text_offset
            ),
        ));
        match &self.pe {
            Some(pe) => {
                out.push(Field::new(
                    "EFI stub",
                    format!(
                        "yes (PE machine {}, header at {:#x})",
                        pe.machine_name(),
                        pe.header_offset
                    ),
                ));
                out.push(Field::new("signature", signature(pe)));
            }
            None => {
                out.push(Field::new("EFI stub", "no"));
                out.push(Field::new("signature", "unsigned (no PE header)"));
            }
        }
        out
    }
}

fn not_an_image() -> Error {
    Error::UnknownFormat {
        detail: "gzip data that is not an arm64 Image".to_string(),
    }
}

/// "signed (N Authenticode signatures)" or "unsigned".
pub(crate) fn signature(pe: &PeInfo) -> String {
    match pe.signatures {
        0 => "unsigned".to_string(),
        1 => "signed (1 Authenticode signature)".to_string(),
        n => format!("signed ({n} Authenticode signatures)"),
    }
}

/// Finds the kernel release in the `linux_banner` ("Linux version 6.1.0-56-arm64 (...)",
/// init/version-timestamp.c): the first "Linux version " followed by a printable word that
/// starts with a digit. One memmem pass over the image; the word is at most 256 bytes.
pub fn find_version(image: &[u8]) -> Option<String> {
    const NEEDLE: &[u8] = b"Linux version ";
    for pos in memchr::memmem::find_iter(image, NEEDLE) {
        let Some(rest) = image.get(pos..).and_then(|r| r.strip_prefix(NEEDLE)) else {
            continue;
        };
        let rest = rest.get(..BANNER_MAX).unwrap_or(rest);
        // A word that runs to the end of the window has no terminator: not the banner.
        let Some(word) = rest
            .iter()
            .position(|b| !b.is_ascii_graphic())
            .and_then(|end| rest.get(..end))
        else {
            continue;
        };
        if word.first().is_some_and(u8::is_ascii_digit) {
            return Some(String::from_utf8_lossy(word).into_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::arm64::{gzip, Arm64Builder};
    use proptest::prelude::*;

    use crate::inspect::render_fields as render;

    fn with_u64(mut image: Vec<u8>, off: usize, v: u64) -> Vec<u8> {
        image[off..off + 8].copy_from_slice(&v.to_le_bytes());
        image
    }

    fn err(data: &[u8]) -> String {
        Arm64Kernel::parse_image(data).unwrap_err().to_string()
    }

    #[test]
    fn raw_image_header_fields() {
        let image = Arm64Builder::default().build();
        let k = Arm64Kernel::parse_image(&image).unwrap();
        assert_eq!(k.container, Container::Raw);
        assert_eq!(k.header.text_offset, 0);
        assert_eq!(k.header.image_size, 0x2_0000);
        assert_eq!(k.header.flags, 0xa);
        assert_eq!(k.header.page_size, Some(4096));
        assert!(k.header.phys_placement_anywhere);
        assert!(!k.header.big_endian);
        assert_eq!(k.header.pe_offset, 0);
        assert_eq!(k.version.as_deref(), Some("6.1.0-synth"));
        assert!(k.pe.is_none());
        assert_eq!(k.image, image);
        assert_eq!(k.image_file_size, image.len() as u64);
        insta::assert_snapshot!("arm64_raw", render(&k.describe()));
    }

    #[test]
    fn efi_stub_signed_image() {
        let image = Arm64Builder {
            efi_stub: true,
            signed: true,
            text_offset: 0x8_0000,
            flags: 0x2 | 0x10, // 4K pages, near DRAM base, a reserved bit
            ..Arm64Builder::default()
        }
        .build();
        let k = Arm64Kernel::parse_image(&image).unwrap();
        let pe = k.pe.as_ref().unwrap();
        assert_eq!(pe.machine, MACHINE_ARM64);
        assert!(pe.is_signed());
        assert_eq!(k.header.pe_offset, 0x40);
        assert_eq!(k.header.code0 & 0xffff, 0x5a4d); // "MZ"
        assert!(!k.header.phys_placement_anywhere);
        insta::assert_snapshot!("arm64_efi_signed", render(&k.describe()));
    }

    #[test]
    fn image_gz_is_decompressed_and_parsed() {
        let image = Arm64Builder::default().build();
        let gz = gzip(&image);
        let k = Arm64Kernel::parse_gzip(&gz).unwrap();
        assert_eq!(
            k.container,
            Container::Gzip {
                compressed_size: gz.len() as u64
            }
        );
        assert_eq!(k.image, image);
        assert_eq!(k.file_size, gz.len() as u64);
        // Dispatch from content finds it too.
        let any = crate::image::KernelImage::parse(&gz).unwrap();
        assert_eq!(any.format_name(), "arm64 Image.gz");
        insta::assert_snapshot!("arm64_image_gz", render(&k.describe()));
    }

    #[test]
    fn legacy_image_without_size_assumes_text_offset_0x80000() {
        let image = with_u64(Arm64Builder::default().build(), 0x10, 0);
        let image = with_u64(image, 0x8, 0x0008_0000_0000_0000); // big-endian 0x80000
        let k = Arm64Kernel::parse_image(&image).unwrap();
        assert!(k.header.is_legacy());
        assert_eq!(k.header.text_offset, LEGACY_TEXT_OFFSET);
        let fields = k.describe();
        let text_offset = fields.iter().find(|f| f.label == "text_offset").unwrap();
        assert_eq!(
            text_offset.value,
            "0x80000 (assumed: image_size is 0, a pre-3.17 kernel)"
        );
    }

    #[test]
    fn page_size_codes() {
        for (flags, want) in [
            (0, None),
            (2, Some(4096)),
            (4, Some(16384)),
            (6, Some(65536)),
        ] {
            let image = Arm64Builder {
                flags,
                ..Arm64Builder::default()
            }
            .build();
            let h = Arm64Header::parse(&image).unwrap();
            assert_eq!(h.page_size, want, "flags {flags:#x}");
        }
    }

    #[test]
    fn refuses_bad_magic() {
        let mut image = Arm64Builder::default().build();
        image[0x38] = b'X';
        assert_eq!(
            err(&image),
            "invalid arm64 Image header: magic at 0x38 is 0x644d5258, not \"ARM\\x64\" (0x644d5241)"
        );
    }

    #[test]
    fn refuses_big_endian() {
        let image = with_u64(Arm64Builder::default().build(), 0x18, 0xb);
        assert_eq!(
            err(&image),
            "unsupported architecture: big-endian arm64 kernels are not supported"
        );
    }

    #[test]
    fn refuses_text_offset_at_or_above_2mib_or_unaligned() {
        let image = with_u64(Arm64Builder::default().build(), 0x8, 0x20_0000);
        assert_eq!(
            err(&image),
            "invalid arm64 Image text_offset: 0x200000 is not below 2 MiB"
        );
        let image = with_u64(Arm64Builder::default().build(), 0x8, 0x8_0010);
        assert_eq!(
            err(&image),
            "invalid arm64 Image text_offset: 0x80010 is not a multiple of 4 KiB"
        );
    }

    #[test]
    fn refuses_overflowing_image_size() {
        let image = with_u64(Arm64Builder::default().build(), 0x10, u64::MAX - 0x1000);
        assert_eq!(
            err(&image),
            "corrupt header: arm64 text_offset + image_size overflows"
        );
    }

    #[test]
    fn refuses_truncated_header() {
        let image = Arm64Builder::default().build();
        assert_eq!(
            err(&image[..0x30]),
            "truncated: arm64 Image header needs bytes 0x38..0x3c but the data is only 0x30 bytes long"
        );
    }

    #[test]
    fn refuses_efi_stub_for_another_machine() {
        let mut image = Arm64Builder {
            efi_stub: true,
            ..Arm64Builder::default()
        }
        .build();
        image[0x44..0x46].copy_from_slice(&0x8664u16.to_le_bytes());
        assert_eq!(
            err(&image),
            "invalid arm64 Image EFI stub: PE machine is x86_64, not arm64"
        );
    }

    #[test]
    fn refuses_efi_stub_with_a_corrupt_pe_header() {
        let mut image = Arm64Builder {
            efi_stub: true,
            ..Arm64Builder::default()
        }
        .build();
        // SizeOfRawData of the one section header (0x40 + 4 + 20 + 240 = 0x148, field +16).
        image[0x158..0x15c].copy_from_slice(&0x10_0000u32.to_le_bytes());
        assert_eq!(
            err(&image),
            "invalid arm64 Image EFI stub: bad PE header: truncated: PE section needs bytes 0x1000..0x101000 but the data is only 0x3200 bytes long"
        );
    }

    #[test]
    fn refuses_an_efi_stub_image_cut_after_its_header() {
        let image = Arm64Builder {
            efi_stub: true,
            ..Arm64Builder::default()
        }
        .build();
        // The 64-byte Image header alone still has "MZ" and the PE offset 0x40.
        let e = err(&image[..0x40]);
        assert!(
            e.starts_with("invalid arm64 Image EFI stub: bad PE header:") && e.contains("0x40"),
            "{e}"
        );
        // Without a stub (no "MZ"), the PE offset field is not consulted.
        assert!(Arm64Kernel::parse_image(&Arm64Builder::default().build()).is_ok());
    }

    #[test]
    fn refuses_gzip_that_is_not_an_arm64_image() {
        // Shorter than a header (found after full decompression) and longer (found by the
        // 64-byte peek).
        for plain in [&b"tiny"[..], &[b'x'; 4096][..]] {
            let gz = gzip(plain);
            assert_eq!(
                Arm64Kernel::parse_gzip(&gz).unwrap_err().to_string(),
                "not a kernel image warmboot understands (gzip data that is not an arm64 Image)"
            );
        }
    }

    #[test]
    fn refuses_corrupt_gzip() {
        let gz = gzip(&Arm64Builder::default().build());
        let e = Arm64Kernel::parse_gzip(&gz[..gz.len() / 2]).unwrap_err();
        assert!(
            matches!(&e, Error::Decompress { what: "arm64 Image.gz", method, .. } if method == "gzip"),
            "{e}"
        );
    }

    #[test]
    fn version_banner() {
        assert_eq!(
            find_version(b"xx\0Linux version %s\0Linux version 6.12.1-arm64 (x@y) #1\n"),
            Some("6.12.1-arm64".to_string())
        );
        assert_eq!(find_version(b"Linux version "), None);
        assert_eq!(find_version(b"Linux version 6.1"), None); // no terminator
        assert_eq!(find_version(b"nothing here"), None);
    }

    fn check_parse(data: &[u8]) -> Result<(), TestCaseError> {
        if let Ok(k) = Arm64Kernel::parse_image(data) {
            prop_assert!(k.header.text_offset < KERNEL_ALIGN);
            let _ = k.describe();
        }
        if let Ok(k) = Arm64Kernel::parse_gzip(data) {
            prop_assert!(k.image.len() as u64 <= compression::MAX_DECOMPRESSED);
            let _ = k.describe();
        }
        if let Ok(k) = crate::image::KernelImage::parse(data) {
            let _ = k.describe();
        }
        Ok(())
    }

    fn samples() -> Vec<Vec<u8>> {
        let signed = Arm64Builder {
            efi_stub: true,
            signed: true,
            code_len: 0x200,
            ..Arm64Builder::default()
        }
        .build();
        let small = Arm64Builder {
            code_len: 0x100,
            ..Arm64Builder::default()
        }
        .build();
        vec![small.clone(), signed.clone(), gzip(&small), gzip(&signed)]
    }

    #[test]
    fn every_truncation_is_an_error_or_ok_never_a_panic() {
        for sample in samples() {
            for len in 0..sample.len() {
                check_parse(&sample[..len]).unwrap();
            }
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            check_parse(&data)?;
        }

        #[test]
        fn valid_header_prefix_with_arbitrary_tail(
            header in proptest::collection::vec(any::<u8>(), 0x38..0x38usize + 1),
            tail in proptest::collection::vec(any::<u8>(), 0..1024),
        ) {
            let mut data = header;
            data.extend_from_slice(b"ARM\x64");
            data.extend_from_slice(&tail);
            check_parse(&data)?;
        }

        #[test]
        fn single_byte_mutations_never_panic(which in 0usize..4, pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let mut data = samples().swap_remove(which);
            let i = pos.index(data.len());
            data[i] = byte;
            check_parse(&data)?;
        }
    }
}
