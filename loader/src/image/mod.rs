//! Kernel image formats, detected from content (never from the file name).
//!
//! | format | module | reference |
//! |---|---|---|
//! | x86 bzImage | [`bzimage`] | Documentation/arch/x86/boot.rst |
//! | ELF vmlinux (x86_64, aarch64) | [`elf`] | include/uapi/linux/elf.h |
//! | arm64 Image, Image.gz | [`arm64`] | Documentation/arch/arm64/booting.rst, arch/arm64/include/asm/image.h |
//! | riscv64 Image | [`riscv64`] | Documentation/arch/riscv/boot-image-header.rst, arch/riscv/include/asm/image.h |
//! | EFI zboot (arm64 compressed PE) | [`zboot`] | drivers/firmware/efi/libstub/zboot-header.S |
//! | Unified kernel image | [`uki`] | the UAPI group's UKI specification |
//! | PE/COFF headers (EFI stub, signatures) | [`pe`] | the PE/COFF specification |

// Parsers and planners: every offset, length and address computed from untrusted input is
// checked (`get`, `checked_*`, `try_from`), an error naming what was truncated, never a
// panic or a silent wrap (issue 16). Tests may index and compute freely.
#![deny(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]
#![cfg_attr(
    test,
    allow(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::cast_possible_truncation
    )
)]

pub mod arm64;
pub mod bzimage;
pub mod elf;
pub mod field;
pub mod pe;
pub mod riscv64;
pub mod uki;
pub mod zboot;

pub use field::Field;

use crate::arch::Arch;
use crate::compression::Compression;
use crate::error::{Error, Result};
use serde::Serialize;

/// A parsed kernel image of any supported format.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "format", rename_all = "kebab-case")]
pub enum KernelImage {
    /// x86 bzImage (boot protocol >= 2.12, 64-bit entry).
    #[serde(rename = "bzImage")]
    BzImage(bzimage::BzImage),
    /// An ELF vmlinux for x86_64 or aarch64.
    #[serde(rename = "elf-vmlinux")]
    Elf(elf::ElfKernel),
    /// An arm64 Image, possibly gzip-compressed or wrapped in EFI zboot.
    #[serde(rename = "arm64-image")]
    Arm64(arm64::Arm64Kernel),
    /// A riscv64 Image (with or without its EFI stub).
    #[serde(rename = "riscv64-image")]
    Riscv64(riscv64::Riscv64Kernel),
    /// A unified kernel image: a PE with .linux and friends.
    #[serde(rename = "uki")]
    Uki(uki::Uki<KernelImage>),
}

impl KernelImage {
    /// Detects the format of `data` from its content and parses it.
    ///
    /// Order matters: a UKI and an EFI zboot image are PE files whose headers start with
    /// "MZ", and so are EFI-stub bzImages and arm64 Images; the more specific marks are
    /// checked first.
    pub fn parse(data: &[u8]) -> Result<KernelImage> {
        if data.is_empty() {
            return Err(Error::Empty);
        }
        if uki::looks_like(data) {
            return Ok(KernelImage::Uki(uki::Uki::parse(data, KernelImage::parse)?));
        }
        if zboot::looks_like(data) {
            return Ok(KernelImage::Arm64(arm64::Arm64Kernel::parse_zboot(data)?));
        }
        if bzimage::looks_like(data) {
            return Ok(KernelImage::BzImage(bzimage::BzImage::parse(data)?));
        }
        if arm64::looks_like(data) {
            return Ok(KernelImage::Arm64(arm64::Arm64Kernel::parse_image(data)?));
        }
        if riscv64::looks_like(data) {
            return Ok(KernelImage::Riscv64(riscv64::Riscv64Kernel::parse(data)?));
        }
        if elf::looks_like(data) {
            return Ok(KernelImage::Elf(elf::ElfKernel::parse(data)?));
        }
        if Compression::detect(data) == Compression::Gzip {
            return Ok(KernelImage::Arm64(arm64::Arm64Kernel::parse_gzip(data)?));
        }
        Err(identify_foreign(data))
    }

    /// The architecture the kernel is built for.
    pub fn arch(&self) -> Arch {
        match self {
            KernelImage::BzImage(_) => Arch::X86_64,
            KernelImage::Elf(e) => e.arch,
            KernelImage::Arm64(_) => Arch::Arm64,
            KernelImage::Riscv64(_) => Arch::Riscv64,
            KernelImage::Uki(u) => u.linux.arch(),
        }
    }

    /// The kernel's version string, where the format carries one.
    pub fn version(&self) -> Option<&str> {
        match self {
            KernelImage::BzImage(b) => b.version.as_deref(),
            KernelImage::Elf(e) => e.version.as_deref(),
            KernelImage::Arm64(a) => a.version.as_deref(),
            KernelImage::Riscv64(r) => r.version.as_deref(),
            KernelImage::Uki(u) => u.linux.version(),
        }
    }

    /// A short human name of the format, e.g. "x86 bzImage" or "arm64 Image (gzip)".
    pub fn format_name(&self) -> String {
        match self {
            KernelImage::BzImage(_) => "x86 bzImage".to_string(),
            KernelImage::Elf(e) => format!("ELF vmlinux ({})", e.arch),
            KernelImage::Arm64(a) => a.container.describe(),
            KernelImage::Riscv64(_) => "riscv64 Image".to_string(),
            KernelImage::Uki(u) => format!("unified kernel image ({})", u.linux.format_name()),
        }
    }

    /// The fields `warmboot inspect` prints for this image, in order.
    pub fn describe(&self) -> Vec<Field> {
        match self {
            KernelImage::BzImage(b) => b.describe(),
            KernelImage::Elf(e) => e.describe(),
            KernelImage::Arm64(a) => a.describe(),
            KernelImage::Riscv64(r) => r.describe(),
            KernelImage::Uki(u) => u.describe(),
        }
    }
}

/// Builds the error for data that is no kernel warmboot supports, naming what it looks like
/// when we can tell (a kernel for another architecture, an initramfs, an archive).
impl uki::LinuxSection for KernelImage {
    fn arch(&self) -> Arch {
        KernelImage::arch(self)
    }
    fn format_name(&self) -> String {
        KernelImage::format_name(self)
    }
    fn describe(&self) -> Vec<Field> {
        KernelImage::describe(self)
    }
}

fn identify_foreign(data: &[u8]) -> Error {
    // 32-bit ARM zImage: magic 0x016f2818 at 0x24 (arch/arm/boot/compressed/head.S).
    if data.get(0x24..0x28) == Some(&0x016f_2818u32.to_le_bytes()[..]) {
        return Error::UnsupportedArch("32-bit ARM zImage".to_string());
    }
    let what = if data.starts_with(b"070701") || data.starts_with(b"070702") {
        "it is a cpio archive (an initramfs?)".to_string()
    } else if data.starts_with(b"\x7fELF") {
        "an ELF file that is not a kernel".to_string()
    } else {
        match Compression::detect(data) {
            Compression::None => {
                let head: Vec<String> = data.iter().take(8).map(|b| format!("{b:02x}")).collect();
                format!("starts with {}", head.join(" "))
            }
            c => format!("{c}-compressed data that is not an arm64 kernel"),
        }
    };
    Error::UnknownFormat { detail: what }
}
