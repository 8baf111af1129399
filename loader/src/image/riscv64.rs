//! riscv64 Image: the flat kernel image Debian installs as `/boot/vmlinux-<release>` (an
//! Image with an EFI stub; Debian's riscv64 kernel has no EFI zboot).
//!
//! The 64-byte header is `struct riscv_image_header` of arch/riscv/include/asm/image.h,
//! explained in Documentation/arch/riscv/boot-image-header.rst; where the kernel must be
//! placed and how it is entered is Documentation/arch/riscv/boot.rst:
//!
//! | offset | field |
//! |---|---|
//! | 0x00 | code0 u32 (with the EFI stub: "MZ" + a harmless instruction) |
//! | 0x04 | code1 u32 (a jump to the kernel's entry) |
//! | 0x08 | text_offset u64: the load offset from the start of RAM boot loaders use |
//! | 0x10 | image_size u64: bytes the kernel needs from its start, BSS included (mandatory) |
//! | 0x18 | flags u64: bit 0 big-endian |
//! | 0x20 | version u32: bits 16-31 major, 0-15 minor (0.2 since Linux 5.x) |
//! | 0x24 | res1 u32 |
//! | 0x28 | res2 u64 |
//! | 0x30 | magic u64 "RISCV\0\0\0" (deprecated as of version 0.2) |
//! | 0x38 | magic2 u32 "RSC\x05", at the position of arm64's magic |
//! | 0x3c | res3 u32: the EFI stub's PE header offset |

use super::arm64::{find_version, signature};
use super::field::Field;
use super::pe::{PeInfo, MACHINE_RISCV64};
use crate::error::{Error, Result};
use crate::fields;
use serde::Serialize;

/// RISCV_IMAGE_MAGIC at 0x30.
pub const MAGIC: &[u8; 8] = b"RISCV\0\0\0";
/// RISCV_IMAGE_MAGIC2 at 0x38.
pub const MAGIC2: &[u8; 4] = b"RSC\x05";
/// Size of the Image header.
pub const HEADER_LEN: u64 = 64;
/// The kernel's physical address must be PMD-aligned: 2 MiB on rv64 (boot.rst, "Kernel
/// location"; `BUG_ON((kernel_map.phys_addr % PMD_SIZE) != 0)` in setup_vm() of
/// arch/riscv/mm/init.c). The kernel checks it before it can print anything.
pub const KERNEL_ALIGN: u64 = 2 << 20;
/// RISCV_IMAGE_FLAG_BE: the kernel is big-endian (none is built; image.h refuses it).
const FLAG_BE: u64 = 1 << 0;
/// Flags bits defined by image.h; the rest are reserved.
const FLAGS_KNOWN: u64 = FLAG_BE;
/// The header version that added magic2 (boot-image-header.rst).
const VERSION_0_2: u32 = 2;

/// The riscv64 Image header (arch/riscv/include/asm/image.h), decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Riscv64Header {
    pub code0: u32,
    pub code1: u32,
    /// The offset from the start of RAM a boot loader loads the Image at (0x200000 for a
    /// non-relocatable rv64 kernel, arch/riscv/kernel/head.S; 0 with CONFIG_RELOCATABLE).
    /// The kernel itself only needs a 2 MiB-aligned address ([`KERNEL_ALIGN`]).
    pub text_offset: u64,
    /// Bytes the kernel needs from the Image start, BSS included; never 0.
    pub image_size: u64,
    pub flags: u64,
    /// Header version, major in bits 16-31, minor in 0-15.
    pub version: u32,
    /// Offset of the EFI stub's PE header (0 without one).
    pub pe_offset: u32,
}

impl Riscv64Header {
    /// Parses and checks the header at the start of `data` (an uncompressed Image).
    pub fn parse(data: &[u8]) -> Result<Riscv64Header> {
        const WHAT: &str = "riscv64 Image header";
        let magic2 = fields::array::<4>(data, 0x38, WHAT)?;
        let magic = fields::array::<8>(data, 0x30, WHAT)?;
        let version = fields::le_u32(data, 0x20, WHAT)?;
        // Version 0.1 headers carry only the first magic; 0.2 and later carry magic2.
        if &magic2 != MAGIC2 && !(&magic == MAGIC && version < VERSION_0_2) {
            return Err(Error::invalid(
                WHAT,
                format!(
                    "magic2 at 0x38 is {:#010x}, not \"RSC\\x05\" (0x05435352)",
                    u32::from_le_bytes(magic2)
                ),
            ));
        }
        let flags = fields::le_u64(data, 0x18, WHAT)?;
        if flags & FLAG_BE != 0 {
            return Err(Error::UnsupportedArch(
                "big-endian riscv64 kernels are not supported".to_string(),
            ));
        }
        let image_size = fields::le_u64(data, 0x10, WHAT)?;
        if image_size == 0 {
            // boot-image-header.rst: "Image size is mandatory for boot loader to load
            // kernel image. Booting will fail otherwise."
            return Err(Error::invalid(
                "riscv64 Image image_size",
                "is 0; the kernel's size (BSS included) is mandatory in a riscv64 Image",
            ));
        }
        let text_offset = fields::le_u64(data, 0x08, WHAT)?;
        if text_offset % 4096 != 0 {
            return Err(Error::invalid(
                "riscv64 Image text_offset",
                format!("{text_offset:#x} is not a multiple of 4 KiB"),
            ));
        }
        fields::add(text_offset, image_size, "riscv64 text_offset + image_size")?
            .checked_add(KERNEL_ALIGN)
            .ok_or(Error::Overflow {
                what: "riscv64 text_offset + image_size",
            })?;
        Ok(Riscv64Header {
            code0: fields::le_u32(data, 0, WHAT)?,
            code1: fields::le_u32(data, 4, WHAT)?,
            text_offset,
            image_size,
            flags,
            version,
            pe_offset: fields::le_u32(data, 0x3c, WHAT)?,
        })
    }

    /// "0.2".
    pub fn version_string(&self) -> String {
        format!("{}.{}", self.version >> 16, self.version & 0xffff)
    }

    /// The flags, spelled out.
    pub fn flags_meaning(&self) -> String {
        let mut parts = vec!["little-endian".to_string()];
        let reserved = self.flags & !FLAGS_KNOWN;
        if reserved != 0 {
            parts.push(format!("reserved bits {reserved:#x}"));
        }
        parts.join(", ")
    }
}

/// A parsed riscv64 Image.
#[derive(Debug, Clone, Serialize)]
pub struct Riscv64Kernel {
    pub header: Riscv64Header,
    /// The Image's own EFI stub PE headers, if it has an EFI stub.
    pub pe: Option<PeInfo>,
    /// The kernel release from the "Linux version " banner, e.g. "6.12.118+deb13-riscv64".
    pub version: Option<String>,
    /// The Image bytes: what gets loaded at the 2 MiB-aligned kernel address.
    #[serde(skip)]
    pub image: Vec<u8>,
    /// Length of the file.
    pub file_size: u64,
}

/// True when `data` has a riscv64 Image magic: magic2 at 0x38, or (a version 0.1 header)
/// the first magic at 0x30.
pub fn looks_like(data: &[u8]) -> bool {
    data.get(0x38..0x3c) == Some(&MAGIC2[..]) || data.get(0x30..0x38) == Some(&MAGIC[..])
}

impl Riscv64Kernel {
    /// Parses an Image.
    pub fn parse(data: &[u8]) -> Result<Riscv64Kernel> {
        let header = Riscv64Header::parse(data)?;
        // An Image starting with "MZ" has an EFI stub whose PE header is at 0x3c's offset
        // (arch/riscv/kernel/head.S, efi-header.S): it must then be there, or the file
        // was cut.
        let has_stub = data.starts_with(b"MZ") && header.pe_offset != 0;
        let pe = if has_stub || super::pe::looks_like(data) {
            let pe = PeInfo::parse(data).map_err(|e| {
                Error::invalid("riscv64 Image EFI stub", format!("bad PE header: {e}"))
            })?;
            if pe.machine != MACHINE_RISCV64 {
                return Err(Error::invalid(
                    "riscv64 Image EFI stub",
                    format!("PE machine is {}, not riscv64", pe.machine_name()),
                ));
            }
            Some(pe)
        } else {
            None
        };
        Ok(Riscv64Kernel {
            version: find_version(data),
            file_size: data.len() as u64,
            header,
            pe,
            image: data.to_vec(),
        })
    }

    /// The fields `warmboot inspect` prints.
    pub fn describe(&self) -> Vec<Field> {
        let h = &self.header;
        let mut out = vec![
            Field::new("format", "riscv64 Image"),
            Field::new("architecture", "riscv64"),
            Field::new(
                "kernel version",
                self.version
                    .clone()
                    .unwrap_or_else(|| "unknown".to_string()),
            ),
            Field::size("file size", self.file_size),
            Field::new("header version", h.version_string()),
            Field::hex("text_offset", h.text_offset),
            Field::new(
                "image_size",
                format!("{:#x} ({} bytes, BSS included)", h.image_size, h.image_size),
            ),
            Field::new(
                "flags",
                format!("{:#x} ({})", h.flags, h.flags_meaning()),
            ),
            Field::new(
                "load",
                format!(
                    "at a 2 MiB-aligned address (boot loaders use start of RAM + {:#x}), {:#x} bytes free from there",
                    h.text_offset, h.image_size
                ),
            ),
            Field::new(
                "entry",
                "Image start, a0 = hart id, a1 = DTB physical address, satp = 0 (MMU off), S-mode",
            ),
        ];
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::render_fields as render;
    use crate::synth::riscv64::Riscv64Builder;
    use proptest::prelude::*;

    fn err(data: &[u8]) -> String {
        Riscv64Kernel::parse(data).unwrap_err().to_string()
    }

    fn with_u64(mut image: Vec<u8>, off: usize, v: u64) -> Vec<u8> {
        image[off..off + 8].copy_from_slice(&v.to_le_bytes());
        image
    }

    #[test]
    fn image_with_efi_stub_header_fields() {
        let image = Riscv64Builder::default().build();
        let k = Riscv64Kernel::parse(&image).unwrap();
        assert_eq!(k.header.text_offset, 0x20_0000);
        assert_eq!(k.header.image_size, 0x2_0000);
        assert_eq!(k.header.flags, 0);
        assert_eq!(k.header.version, 2);
        assert_eq!(k.header.version_string(), "0.2");
        assert_eq!(k.header.pe_offset, 0x40);
        assert_eq!(k.header.code0 & 0xffff, 0x5a4d); // "MZ"
        assert_eq!(k.pe.as_ref().unwrap().machine, MACHINE_RISCV64);
        assert_eq!(k.version.as_deref(), Some("6.12.0-synth-riscv64"));
        assert_eq!(k.image, image);
        insta::assert_snapshot!("riscv64_efi_stub", render(&k.describe()));
        // Dispatch from content finds it.
        let any = crate::image::KernelImage::parse(&image).unwrap();
        assert_eq!(any.format_name(), "riscv64 Image");
        assert_eq!(any.arch(), crate::arch::Arch::Riscv64);
    }

    #[test]
    fn image_without_stub_and_signed_image() {
        let plain = Riscv64Builder {
            efi_stub: false,
            ..Riscv64Builder::default()
        }
        .build();
        let k = Riscv64Kernel::parse(&plain).unwrap();
        assert!(k.pe.is_none());
        assert_eq!(k.header.code0 & 0xffff, 0x0297); // "auipc t0, 0"-like filler
        insta::assert_snapshot!("riscv64_plain", render(&k.describe()));
        let signed = Riscv64Builder {
            signed: true,
            ..Riscv64Builder::default()
        }
        .build();
        assert!(Riscv64Kernel::parse(&signed)
            .unwrap()
            .pe
            .unwrap()
            .is_signed());
    }

    #[test]
    fn version_0_1_header_has_only_the_first_magic() {
        let mut image = Riscv64Builder::default().build();
        image[0x38..0x3c].copy_from_slice(&[0; 4]);
        image[0x20..0x24].copy_from_slice(&1u32.to_le_bytes());
        let k = Riscv64Kernel::parse(&image).unwrap();
        assert_eq!(k.header.version_string(), "0.1");
        assert!(looks_like(&image));
    }

    #[test]
    fn refuses_bad_magic() {
        let mut image = Riscv64Builder::default().build();
        image[0x38] = b'X';
        assert_eq!(
            err(&image),
            "invalid riscv64 Image header: magic2 at 0x38 is 0x05435358, not \"RSC\\x05\" (0x05435352)"
        );
    }

    #[test]
    fn refuses_big_endian() {
        let image = with_u64(Riscv64Builder::default().build(), 0x18, 1);
        assert_eq!(
            err(&image),
            "unsupported architecture: big-endian riscv64 kernels are not supported"
        );
    }

    #[test]
    fn refuses_missing_image_size() {
        let image = with_u64(Riscv64Builder::default().build(), 0x10, 0);
        assert_eq!(
            err(&image),
            "invalid riscv64 Image image_size: is 0; the kernel's size (BSS included) is mandatory in a riscv64 Image"
        );
    }

    #[test]
    fn refuses_unaligned_text_offset_and_overflow() {
        let image = with_u64(Riscv64Builder::default().build(), 0x8, 0x20_0010);
        assert_eq!(
            err(&image),
            "invalid riscv64 Image text_offset: 0x200010 is not a multiple of 4 KiB"
        );
        let image = with_u64(Riscv64Builder::default().build(), 0x10, u64::MAX - 0x1000);
        assert_eq!(
            err(&image),
            "corrupt header: riscv64 text_offset + image_size overflows"
        );
    }

    #[test]
    fn refuses_truncated_header() {
        let image = Riscv64Builder::default().build();
        assert_eq!(
            err(&image[..0x30]),
            "truncated: riscv64 Image header needs bytes 0x38..0x3c but the data is only 0x30 bytes long"
        );
    }

    #[test]
    fn refuses_efi_stub_for_another_machine() {
        let mut image = Riscv64Builder::default().build();
        image[0x44..0x46].copy_from_slice(&0xaa64u16.to_le_bytes());
        assert_eq!(
            err(&image),
            "invalid riscv64 Image EFI stub: PE machine is arm64, not riscv64"
        );
    }

    #[test]
    fn refuses_an_efi_stub_image_cut_after_its_header() {
        let image = Riscv64Builder::default().build();
        let e = err(&image[..0x40]);
        assert!(
            e.starts_with("invalid riscv64 Image EFI stub: bad PE header:") && e.contains("0x40"),
            "{e}"
        );
    }

    fn check_parse(data: &[u8]) -> Result<(), TestCaseError> {
        if let Ok(k) = Riscv64Kernel::parse(data) {
            prop_assert!(k.header.image_size != 0);
            prop_assert!(k.header.flags & FLAG_BE == 0);
            let _ = k.describe();
        }
        if let Ok(k) = crate::image::KernelImage::parse(data) {
            let _ = k.describe();
        }
        Ok(())
    }

    fn samples() -> Vec<Vec<u8>> {
        let small = Riscv64Builder {
            code_len: 0x100,
            ..Riscv64Builder::default()
        };
        vec![
            small.build(),
            Riscv64Builder {
                signed: true,
                ..small.clone()
            }
            .build(),
            Riscv64Builder {
                efi_stub: false,
                ..small
            }
            .build(),
        ]
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
        fn valid_magic_with_arbitrary_fields(
            header in proptest::collection::vec(any::<u8>(), 0x38..0x38usize + 1),
            tail in proptest::collection::vec(any::<u8>(), 0..1024),
        ) {
            let mut data = header;
            data.extend_from_slice(MAGIC2);
            data.extend_from_slice(&tail);
            check_parse(&data)?;
        }

        #[test]
        fn single_byte_mutations_never_panic(which in 0usize..3, pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let mut data = samples().swap_remove(which);
            let i = pos.index(data.len());
            data[i] = byte;
            check_parse(&data)?;
        }
    }
}
