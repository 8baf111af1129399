//! x86 bzImage: the real-mode setup header and what it says about the protected-mode
//! kernel behind it.
//!
//! Layout and field semantics from Documentation/arch/x86/boot.rst ("The Real-Mode Kernel
//! Header", "Details of Header Fields", "64-bit Boot Protocol") and
//! arch/x86/include/uapi/asm/bootparam.h (`struct setup_header`, XLF_* and loadflags bits).
//! File offsets equal zero-page offsets: the header starts at 0x1f1 and ends at
//! `0x202 + byte[0x201]` (the operand of the short jump at 0x200).
//!
//! warmboot boots through the 64-bit entry point only, so it needs protocol 2.12
//! (xloadflags) and XLF_KERNEL_64, the same minimum the kernel's own kexec_file loader
//! probes for (arch/x86/kernel/kexec-bzimage64.c).

use super::field::Field;
use super::pe::{self, PeInfo};
use crate::compression::Compression;
use crate::error::{Error, Result};
use crate::fields::{add, le_u16, le_u32, le_u64, slice, u8_at};
use serde::Serialize;

/// boot_flag at 0x1fe: the legacy boot-sector signature.
const BOOT_FLAG: u16 = 0xaa55;
/// "HdrS" at 0x202 marks a kernel with a setup header (protocol 2.00+).
const HEADER_MAGIC: &[u8; 4] = b"HdrS";
/// Protocol 2.12 added xloadflags, which announces the 64-bit entry point.
const MIN_PROTOCOL: u16 = 0x020c;
/// Protocol 2.15 added kernel_info_offset at 0x268.
const PROTOCOL_KERNEL_INFO: u16 = 0x020f;
/// The 64-bit entry (startup_64) sits this far into the protected-mode code
/// (boot.rst "64-bit Boot Protocol"; arch/x86/boot/compressed/head_64.S `.org 0x200`).
pub const ENTRY64_OFFSET: u64 = 0x200;
/// Longest kernel_version string warmboot reads; the real ones are ~100 bytes.
const MAX_VERSION_LEN: usize = 512;

/// xloadflags bits (bootparam.h), with the names `warmboot inspect` prints.
pub mod xlf {
    pub const KERNEL_64: u16 = 1 << 0;
    pub const CAN_BE_LOADED_ABOVE_4G: u16 = 1 << 1;
    pub const EFI_HANDOVER_32: u16 = 1 << 2;
    pub const EFI_HANDOVER_64: u16 = 1 << 3;
    pub const EFI_KEXEC: u16 = 1 << 4;
    pub const FIVE_LEVEL: u16 = 1 << 5;
    pub const FIVE_LEVEL_ENABLED: u16 = 1 << 6;
    /// 6.12 uapi only; no kernel header.S sets it yet.
    pub const MEM_ENCRYPTION: u16 = 1 << 7;

    pub const NAMES: &[(u16, &str)] = &[
        (KERNEL_64, "KERNEL_64"),
        (CAN_BE_LOADED_ABOVE_4G, "CAN_BE_LOADED_ABOVE_4G"),
        (EFI_HANDOVER_32, "EFI_HANDOVER_32"),
        (EFI_HANDOVER_64, "EFI_HANDOVER_64"),
        (EFI_KEXEC, "EFI_KEXEC"),
        (FIVE_LEVEL, "5LEVEL"),
        (FIVE_LEVEL_ENABLED, "5LEVEL_ENABLED"),
        (MEM_ENCRYPTION, "MEM_ENCRYPTION"),
    ];
}

/// loadflags bits (bootparam.h), with the names `warmboot inspect` prints.
pub mod loadflags {
    pub const LOADED_HIGH: u8 = 1 << 0;
    pub const KASLR_FLAG: u8 = 1 << 1;
    pub const QUIET_FLAG: u8 = 1 << 5;
    pub const KEEP_SEGMENTS: u8 = 1 << 6;
    pub const CAN_USE_HEAP: u8 = 1 << 7;

    pub const NAMES: &[(u8, &str)] = &[
        (LOADED_HIGH, "LOADED_HIGH"),
        (KASLR_FLAG, "KASLR_FLAG"),
        (QUIET_FLAG, "QUIET_FLAG"),
        (KEEP_SEGMENTS, "KEEP_SEGMENTS"),
        (CAN_USE_HEAP, "CAN_USE_HEAP"),
    ];
}

/// A parsed x86 bzImage: the setup-header fields a loader needs, where the parts of the
/// file are, and the EFI-stub PE header when the file is also a PE image.
#[derive(Debug, Clone, Serialize)]
pub struct BzImage {
    /// Length of the whole file.
    pub file_size: u64,
    /// Boot protocol version, e.g. 0x020f for 2.15.
    pub protocol_version: u16,
    /// setup_sects as stored (0 means 4).
    pub setup_sects: u8,
    /// Bytes of real-mode code including the boot sector: (setup_sects or 4, + 1) × 512.
    pub setup_size: u64,
    /// End of the setup header: `0x202 + byte[0x201]`; the parts of the file a loader
    /// copies into the zero page are 0x1f1..header_end.
    pub header_end: u64,
    /// File offset of the protected-mode code (= setup_size): the kernel segment.
    pub kernel_offset: u64,
    /// File bytes from kernel_offset to the end of the file.
    pub kernel_size: u64,
    /// Preferred physical load address (LOAD_PHYSICAL_ADDR).
    pub pref_address: u64,
    /// Memory the kernel needs from its load address until it has set itself up.
    pub init_size: u32,
    /// Physical alignment the kernel wants (CONFIG_PHYSICAL_ALIGN).
    pub kernel_alignment: u32,
    /// log2 of the minimum alignment the kernel accepts.
    pub min_alignment: u8,
    /// relocatable_kernel: the kernel can run at any suitably aligned address.
    pub relocatable: bool,
    pub loadflags: u8,
    pub xloadflags: u16,
    /// Longest command line the kernel accepts, without the NUL.
    pub cmdline_size: u32,
    /// Highest address an initrd may end at (for 32-bit loaders; 64-bit loaders may
    /// go above it with XLF_CAN_BE_LOADED_ABOVE_4G).
    pub initrd_addr_max: u32,
    /// Offset of the compressed payload from the start of the protected-mode code.
    pub payload_offset: u32,
    pub payload_length: u32,
    /// Detected from the payload's magic. `None` means an uncompressed ELF payload.
    pub payload_compression: Compression,
    /// The LE32 the kernel build appends to the compressed payload (gzip ISIZE or
    /// scripts/Makefile.lib `size_append`): the decompressed size. Not read for an
    /// uncompressed payload.
    pub uncompressed_size: Option<u32>,
    /// Offset of the EFI handover entry from the protected-mode code (0: none).
    pub handover_offset: u32,
    /// Offset of `kernel_info` ("LToP") from the protected-mode code (2.15+; 0: none).
    pub kernel_info_offset: u32,
    /// The kernel_version string, e.g. "6.1.0-56-amd64 (debian-kernel@…) #1 SMP …".
    pub version: Option<String>,
    /// The PE header of an EFI-stub kernel.
    pub pe: Option<PeInfo>,
}

/// True when `data` has the boot sector flag and the "HdrS" setup-header magic.
pub fn looks_like(data: &[u8]) -> bool {
    data.get(0x202..0x206) == Some(&HEADER_MAGIC[..])
        && data.get(0x1fe..0x200) == Some(&BOOT_FLAG.to_le_bytes()[..])
}

/// Last header byte each protocol revision defines (exclusive), so that a header claiming
/// a protocol but ending before its fields is refused: 2.11–2.14 end after
/// handover_offset, 2.15 adds kernel_info_offset (boot.rst header layout table).
fn header_end_required(protocol: u16) -> u64 {
    if protocol >= PROTOCOL_KERNEL_INFO {
        0x26c
    } else {
        0x268
    }
}

impl BzImage {
    /// Parses and checks the setup header and locates the protected-mode code and payload.
    pub fn parse(data: &[u8]) -> Result<BzImage> {
        let file_size = data.len() as u64;
        let boot_flag = le_u16(data, 0x1fe, "bzImage boot sector")?;
        if boot_flag != BOOT_FLAG {
            return Err(Error::invalid(
                "bzImage boot sector",
                format!("boot_flag at 0x1fe is {boot_flag:#06x}, expected 0xaa55"),
            ));
        }
        let magic = slice(data, 0x202, 4, "bzImage setup header")?;
        if magic != HEADER_MAGIC {
            return Err(Error::invalid(
                "bzImage setup header",
                format!(
                    "no \"HdrS\" signature at 0x202 (found {}): not a bzImage with a boot protocol header",
                    hex_bytes(magic)
                ),
            ));
        }
        let protocol_version = le_u16(data, 0x206, "bzImage setup header")?;
        if protocol_version < MIN_PROTOCOL {
            let [minor, major] = protocol_version.to_le_bytes();
            return Err(Error::OldBootProtocol { major, minor });
        }
        let header_end = 0x202 + u64::from(u8_at(data, 0x201, "bzImage setup header")?);
        let required = header_end_required(protocol_version);
        if header_end < required {
            return Err(Error::invalid(
                "bzImage setup header",
                format!(
                    "the header ends at {header_end:#x} (0x202 + byte 0x201), before the end of the protocol {} fields at {required:#x}",
                    protocol_name(protocol_version)
                ),
            ));
        }
        // Every field below lies inside the header; one bounds check covers them all.
        let header = slice(data, 0, header_end, "bzImage setup header")?;
        let xloadflags = le_u16(header, 0x236, "xloadflags")?;
        if xloadflags & xlf::KERNEL_64 == 0 {
            return Err(Error::UnsupportedArch(format!(
                "x86 bzImage with no 64-bit entry point (xloadflags {xloadflags:#06x} lacks XLF_KERNEL_64): a 32-bit kernel"
            )));
        }
        let setup_sects = u8_at(header, 0x1f1, "setup_sects")?;
        // At most (255 + 1) × 512 bytes: neither operation can saturate.
        let setup_size = u64::from(if setup_sects == 0 { 4 } else { setup_sects })
            .saturating_add(1)
            .saturating_mul(512);
        slice(data, 0, setup_size, "bzImage real-mode setup code")?;
        let kernel_offset = setup_size;
        // syssize: the protected-mode code in 16-byte paragraphs (32 bits from protocol
        // 2.04, boot.rst). A signed kernel carries its certificate table after it, so the
        // file may be longer, never shorter.
        let syssize = le_u32(header, 0x1f4, "syssize")?;
        slice(
            data,
            kernel_offset,
            u64::from(syssize) * 16,
            "bzImage protected-mode kernel (syssize)",
        )?;
        // The syssize check above read from kernel_offset, so kernel_offset <= file_size.
        let kernel_size = file_size.saturating_sub(kernel_offset);

        let payload_offset = le_u32(header, 0x248, "payload_offset")?;
        let payload_length = le_u32(header, 0x24c, "payload_length")?;
        let payload_start = add(
            kernel_offset,
            u64::from(payload_offset),
            "bzImage payload offset",
        )?;
        let payload = slice(
            data,
            payload_start,
            u64::from(payload_length),
            "bzImage compressed payload",
        )?;
        let (payload_compression, uncompressed_size) = payload_kind(payload)?;

        let kernel_info_offset = if protocol_version >= PROTOCOL_KERNEL_INFO {
            le_u32(header, 0x268, "kernel_info_offset")?
        } else {
            0
        };
        let pe = if pe::looks_like(data) {
            Some(PeInfo::parse(data)?)
        } else {
            None
        };
        Ok(BzImage {
            file_size,
            protocol_version,
            setup_sects,
            setup_size,
            header_end,
            kernel_offset,
            kernel_size,
            pref_address: le_u64(header, 0x258, "pref_address")?,
            init_size: le_u32(header, 0x260, "init_size")?,
            kernel_alignment: le_u32(header, 0x230, "kernel_alignment")?,
            min_alignment: u8_at(header, 0x235, "min_alignment")?,
            relocatable: u8_at(header, 0x234, "relocatable_kernel")? != 0,
            loadflags: u8_at(header, 0x211, "loadflags")?,
            xloadflags,
            cmdline_size: le_u32(header, 0x238, "cmdline_size")?,
            initrd_addr_max: le_u32(header, 0x22c, "initrd_addr_max")?,
            payload_offset,
            payload_length,
            payload_compression,
            uncompressed_size,
            handover_offset: le_u32(header, 0x264, "handover_offset")?,
            kernel_info_offset,
            version: kernel_version(data, le_u16(header, 0x20e, "kernel_version")?, setup_size),
            pe,
        })
    }

    /// True when the file is also a PE image, i.e. the kernel has an EFI stub.
    pub fn efi_stub(&self) -> bool {
        self.pe.is_some()
    }

    /// True when the EFI stub's PE image carries at least one Authenticode signature
    /// (what kexec_file_load verifies under CONFIG_KEXEC_BZIMAGE_VERIFY_SIG).
    pub fn signed(&self) -> bool {
        self.pe.as_ref().is_some_and(PeInfo::is_signed)
    }

    /// Offset of the 64-bit entry point from the load address of the protected-mode code.
    pub fn entry64_offset(&self) -> u64 {
        ENTRY64_OFFSET
    }

    /// The names of the xloadflags bits that are set (unknown bits as "bitN").
    pub fn xloadflag_names(&self) -> Vec<String> {
        flag_names(u64::from(self.xloadflags), 16, |bit| {
            xlf::NAMES
                .iter()
                .find(|(b, _)| u64::from(*b) == bit)
                .map(|(_, n)| *n)
        })
    }

    /// The names of the loadflags bits that are set (unknown bits as "bitN").
    pub fn loadflag_names(&self) -> Vec<String> {
        flag_names(u64::from(self.loadflags), 8, |bit| {
            loadflags::NAMES
                .iter()
                .find(|(b, _)| u64::from(*b) == bit)
                .map(|(_, n)| *n)
        })
    }

    /// The fields `warmboot inspect` prints, in order.
    pub fn describe(&self) -> Vec<Field> {
        let mut f = vec![
            Field::new("format", "x86 bzImage"),
            Field::new("architecture", "x86_64"),
            Field::new(
                "kernel version",
                self.version.clone().unwrap_or_else(|| "unknown".into()),
            ),
            Field::size("file size", self.file_size),
            Field::new(
                "boot protocol",
                protocol_name(self.protocol_version).to_string(),
            ),
            Field::new(
                "setup size",
                format!(
                    "{:#x} (boot sector + {} setup sector{})",
                    self.setup_size,
                    (self.setup_size / 512).saturating_sub(1),
                    if self.setup_size == 1024 { "" } else { "s" }
                ),
            ),
            Field::hex("kernel offset", self.kernel_offset),
            Field::size("kernel size", self.kernel_size),
            Field::new(
                "payload offset",
                format!(
                    "{:#x} (file offset {:#x})",
                    self.payload_offset,
                    self.kernel_offset
                        .saturating_add(u64::from(self.payload_offset))
                ),
            ),
            Field::size("payload length", self.payload_length.into()),
            Field::new(
                "payload compression",
                match self.payload_compression {
                    Compression::None => "none (ELF)".to_string(),
                    c => c.name().to_string(),
                },
            ),
            Field::new(
                "uncompressed size",
                self.uncompressed_size
                    .map(|s| crate::human_size::human_size(s.into()))
                    .unwrap_or_else(|| "unknown".into()),
            ),
            Field::hex("pref_address", self.pref_address),
            Field::new(
                "init_size",
                format!(
                    "{:#x}, {}",
                    self.init_size,
                    crate::human_size::human_size(self.init_size.into())
                ),
            ),
            Field::hex("kernel_alignment", self.kernel_alignment.into()),
            Field::new(
                "min alignment",
                match 1u64.checked_shl(self.min_alignment.into()) {
                    Some(v) => format!("{v:#x} (2^{})", self.min_alignment),
                    None => format!("2^{} (invalid)", self.min_alignment),
                },
            ),
            Field::new("relocatable", if self.relocatable { "yes" } else { "no" }),
            Field::new(
                "loadflags",
                format!(
                    "{:#04x} [{}]",
                    self.loadflags,
                    self.loadflag_names().join(", ")
                ),
            ),
            Field::new(
                "xloadflags",
                format!(
                    "{:#06x} [{}]",
                    self.xloadflags,
                    self.xloadflag_names().join(", ")
                ),
            ),
            Field::new(
                "cmdline_size",
                format!("{:#x} ({} bytes)", self.cmdline_size, self.cmdline_size),
            ),
            Field::hex("initrd_addr_max", self.initrd_addr_max.into()),
        ];
        if self.handover_offset != 0 {
            f.push(Field::hex("handover_offset", self.handover_offset.into()));
        }
        if self.kernel_info_offset != 0 {
            f.push(Field::hex(
                "kernel_info_offset",
                self.kernel_info_offset.into(),
            ));
        }
        f.push(Field::new(
            "entry",
            format!(
                "load address + {:#x} (64-bit startup_64)",
                self.entry64_offset()
            ),
        ));
        f.push(Field::new(
            "EFI stub",
            match &self.pe {
                Some(pe) => format!(
                    "yes (PE machine {}, PE header at {:#x})",
                    pe.machine_name(),
                    pe.header_offset
                ),
                None => "no".to_string(),
            },
        ));
        f.push(Field::new(
            "signature",
            match &self.pe {
                Some(pe) if pe.is_signed() => format!(
                    "signed ({} Authenticode signature{})",
                    pe.signatures,
                    if pe.signatures == 1 { "" } else { "s" }
                ),
                Some(_) => "unsigned".to_string(),
                None => "unsigned (no PE header)".to_string(),
            },
        ));
        f
    }
}

/// "2.15" for 0x020f.
fn protocol_name(v: u16) -> String {
    format!("{}.{:02}", v >> 8, v & 0xff)
}

fn hex_bytes(b: &[u8]) -> String {
    b.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn flag_names(value: u64, bits: u32, name: impl Fn(u64) -> Option<&'static str>) -> Vec<String> {
    (0..bits)
        .map(|i| 1u64 << i)
        .filter(|bit| value & bit != 0)
        .map(|bit| match name(bit) {
            Some(n) => n.to_string(),
            None => format!("bit{}", bit.trailing_zeros()),
        })
        .collect()
}

/// Identifies the payload by its magic (boot.rst, "payload_offset") and reads the
/// decompressed size the build appends. An uncompressed kernel (CONFIG_KERNEL_UNCOMPRESSED)
/// carries the ELF vmlinux itself.
fn payload_kind(payload: &[u8]) -> Result<(Compression, Option<u32>)> {
    if payload.is_empty() {
        return Err(Error::invalid("bzImage payload", "payload_length is 0"));
    }
    let method = Compression::detect(payload);
    if method == Compression::None {
        if payload.starts_with(b"\x7fELF") {
            return Ok((Compression::None, None));
        }
        let head = payload.get(..8).unwrap_or(payload);
        return Err(Error::invalid(
            "bzImage payload",
            format!(
                "unknown payload compression (payload starts with {})",
                hex_bytes(head)
            ),
        ));
    }
    let size = payload
        .len()
        .checked_sub(4)
        .and_then(|at| payload.get(at..))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes);
    Ok((method, size))
}

/// Reads the kernel_version string: the pointer at 0x20e is relative to 0x200 and points
/// into the setup code (boot.rst, "kernel_version"). The boot protocol does not depend on
/// it, so a pointer outside the setup code or an unterminated string gives `None` rather
/// than refusing the kernel.
fn kernel_version(data: &[u8], ptr: u16, setup_size: u64) -> Option<String> {
    if ptr == 0 {
        return None;
    }
    let start = 0x200 + u64::from(ptr);
    if start >= setup_size {
        return None;
    }
    let setup = data.get(..usize::try_from(setup_size).ok()?)?;
    let s = crate::fields::c_string(setup, start, MAX_VERSION_LEN, "kernel_version").ok()?;
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::x86::BzImageBuilder;
    use proptest::prelude::*;

    use crate::inspect::render_fields as render;

    fn err(data: &[u8]) -> String {
        BzImage::parse(data).unwrap_err().to_string()
    }

    #[test]
    fn builder_defaults_parse_back() {
        let img = BzImageBuilder::new().build();
        assert!(looks_like(&img));
        let b = BzImage::parse(&img).unwrap();
        assert_eq!(b.protocol_version, 0x020f);
        assert_eq!(b.setup_sects, 1);
        assert_eq!(b.setup_size, 0x400);
        assert_eq!(b.kernel_offset, 0x400);
        assert_eq!(b.kernel_size, img.len() as u64 - 0x400);
        assert_eq!(b.header_end, 0x26c);
        assert_eq!(b.payload_compression, Compression::Xz);
        assert_eq!(b.uncompressed_size, Some(0x10000));
        assert!(!b.efi_stub());
        assert!(!b.signed());
        assert_eq!(b.entry64_offset(), 0x200);
        assert_eq!(
            b.version.as_deref(),
            Some("6.1.0-synth (warmboot@example.org) #1 SMP PREEMPT_DYNAMIC")
        );
    }

    #[test]
    fn setup_sects_zero_means_four() {
        let img = BzImageBuilder::new().setup_sects(0).build();
        let b = BzImage::parse(&img).unwrap();
        assert_eq!(b.setup_size, 5 * 512);
        assert_eq!(b.kernel_offset, 5 * 512);
    }

    #[test]
    fn gzip_payload_is_real_and_its_isize_is_the_uncompressed_size() {
        let img = BzImageBuilder::new().compression(Compression::Gzip).build();
        let b = BzImage::parse(&img).unwrap();
        assert_eq!(b.payload_compression, Compression::Gzip);
        let start = (b.kernel_offset + u64::from(b.payload_offset)) as usize;
        let payload = &img[start..start + b.payload_length as usize];
        let plain =
            crate::compression::decompress(Compression::Gzip, payload, 1 << 20, "t").unwrap();
        assert_eq!(Some(plain.len() as u32), b.uncompressed_size);
    }

    #[test]
    fn every_payload_magic_is_detected() {
        for c in [
            Compression::Gzip,
            Compression::Bzip2,
            Compression::Lzma,
            Compression::Xz,
            Compression::Lzo,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let img = BzImageBuilder::new().compression(c).build();
            assert_eq!(BzImage::parse(&img).unwrap().payload_compression, c);
        }
    }

    #[test]
    fn refuses_protocol_2_11() {
        let img = BzImageBuilder::new().protocol(0x020b).build();
        let e = BzImage::parse(&img).unwrap_err();
        assert!(
            matches!(
                e,
                Error::OldBootProtocol {
                    major: 2,
                    minor: 11
                }
            ),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "x86 boot protocol 2.11 is too old: warmboot needs 2.12 or later for the 64-bit entry point"
        );
    }

    #[test]
    fn accepts_protocol_2_12_without_kernel_info() {
        let img = BzImageBuilder::new().protocol(0x020c).build();
        let b = BzImage::parse(&img).unwrap();
        assert_eq!(b.header_end, 0x268);
        assert_eq!(b.kernel_info_offset, 0);
        // A 2.12 header that ends at 0x268: the bytes at 0x268 belong to the setup code.
        let mut img = img;
        img[0x268..0x26c].copy_from_slice(&0xdead_beefu32.to_le_bytes());
        assert_eq!(BzImage::parse(&img).unwrap().kernel_info_offset, 0);
    }

    #[test]
    fn refuses_a_header_shorter_than_its_protocol() {
        let mut img = BzImageBuilder::new().build();
        img[0x201] = 0x66; // ends at 0x268, but 2.15 needs 0x26c
        assert_eq!(
            err(&img),
            "invalid bzImage setup header: the header ends at 0x268 (0x202 + byte 0x201), before the end of the protocol 2.15 fields at 0x26c"
        );
    }

    #[test]
    fn refuses_missing_hdrs() {
        let mut img = BzImageBuilder::new().build();
        img[0x202..0x206].copy_from_slice(b"\0\0\0\0");
        assert_eq!(
            err(&img),
            "invalid bzImage setup header: no \"HdrS\" signature at 0x202 (found 00 00 00 00): not a bzImage with a boot protocol header"
        );
    }

    #[test]
    fn refuses_missing_boot_flag() {
        let mut img = BzImageBuilder::new().build();
        img[0x1fe] = 0;
        assert_eq!(
            err(&img),
            "invalid bzImage boot sector: boot_flag at 0x1fe is 0xaa00, expected 0xaa55"
        );
    }

    #[test]
    fn refuses_a_kernel_without_64_bit_entry() {
        let img = BzImageBuilder::new()
            .xloadflags(xlf::CAN_BE_LOADED_ABOVE_4G)
            .build();
        let e = BzImage::parse(&img).unwrap_err();
        assert!(matches!(e, Error::UnsupportedArch(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "unsupported architecture: x86 bzImage with no 64-bit entry point (xloadflags 0x0002 lacks XLF_KERNEL_64): a 32-bit kernel"
        );
    }

    #[test]
    fn refuses_truncation_inside_the_header() {
        let img = BzImageBuilder::new().build();
        let e = BzImage::parse(&img[..0x240]).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Truncated {
                    what: "bzImage setup header",
                    start: 0,
                    end: 0x26c,
                    len: 0x240
                }
            ),
            "{e:?}"
        );
        let e = BzImage::parse(&img[..0x100]).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Truncated {
                    what: "bzImage boot sector",
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn refuses_truncated_setup_code() {
        let img = BzImageBuilder::new().setup_sects(4).build();
        let e = BzImage::parse(&img[..0x300]).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Truncated {
                    what: "bzImage real-mode setup code",
                    start: 0,
                    end: 0xa00,
                    len: 0x300
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn refuses_payload_past_eof() {
        let mut img = BzImageBuilder::new().build();
        let b = BzImage::parse(&img).unwrap();
        let len = img.len() as u64;
        let too_long = (len - b.kernel_offset - u64::from(b.payload_offset) + 1) as u32;
        img[0x24c..0x250].copy_from_slice(&too_long.to_le_bytes());
        let e = BzImage::parse(&img).unwrap_err();
        assert!(
            matches!(e, Error::Truncated { what: "bzImage compressed payload", end, len: l, .. } if end == len + 1 && l == len),
            "{e:?}"
        );
        // The largest offset and length still end past EOF (u64 arithmetic cannot wrap here).
        img[0x248..0x24c].copy_from_slice(&u32::MAX.to_le_bytes());
        img[0x24c..0x250].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            BzImage::parse(&img).unwrap_err(),
            Error::Truncated { .. }
        ));
    }

    #[test]
    fn refuses_unknown_payload_magic() {
        let mut img = BzImageBuilder::new().build();
        let b = BzImage::parse(&img).unwrap();
        let start = (b.kernel_offset + u64::from(b.payload_offset)) as usize;
        img[start..start + 8].copy_from_slice(b"NOTAKERN");
        assert_eq!(
            err(&img),
            "invalid bzImage payload: unknown payload compression (payload starts with 4e 4f 54 41 4b 45 52 4e)"
        );
        img[0x24c..0x250].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(err(&img), "invalid bzImage payload: payload_length is 0");
    }

    #[test]
    fn a_bad_version_pointer_only_loses_the_version() {
        let mut img = BzImageBuilder::new().build();
        img[0x20e..0x210].copy_from_slice(&0xfff0u16.to_le_bytes());
        assert_eq!(BzImage::parse(&img).unwrap().version, None);
        img[0x20e..0x210].copy_from_slice(&0u16.to_le_bytes());
        assert_eq!(BzImage::parse(&img).unwrap().version, None);
    }

    #[test]
    fn flag_names_include_unknown_bits() {
        let img = BzImageBuilder::new().xloadflags(0x0301).build();
        let b = BzImage::parse(&img).unwrap();
        assert_eq!(b.xloadflag_names(), ["KERNEL_64", "bit8", "bit9"]);
        assert_eq!(b.loadflag_names(), ["LOADED_HIGH"]);
    }

    #[test]
    fn describe_xz_unsigned() {
        let img = BzImageBuilder::new()
            .compression(Compression::Xz)
            .uncompressed_size(0x02a0_0000)
            .build();
        let b = BzImage::parse(&img).unwrap();
        insta::assert_snapshot!("bzimage_xz_unsigned", render(&b.describe()));
    }

    #[test]
    fn describe_gzip_efi_signed() {
        let img = BzImageBuilder::new()
            .compression(Compression::Gzip)
            .efi_stub(true)
            .signed(true)
            .build();
        let b = BzImage::parse(&img).unwrap();
        assert!(b.efi_stub());
        assert!(b.signed());
        let pe = b.pe.as_ref().unwrap();
        let names: Vec<_> = pe.sections.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, [".setup", ".text"]);
        insta::assert_snapshot!("bzimage_gzip_efi_signed", render(&b.describe()));
    }

    #[test]
    fn efi_stub_without_signature_is_unsigned() {
        let img = BzImageBuilder::new().efi_stub(true).build();
        let b = BzImage::parse(&img).unwrap();
        assert!(b.efi_stub());
        assert!(!b.signed());
    }

    fn samples() -> Vec<Vec<u8>> {
        vec![
            BzImageBuilder::new().build(),
            BzImageBuilder::new()
                .compression(Compression::Gzip)
                .efi_stub(true)
                .signed(true)
                .build(),
            BzImageBuilder::new()
                .protocol(0x020c)
                .setup_sects(0)
                .build(),
        ]
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        for img in samples() {
            let full = BzImage::parse(&img).unwrap();
            for len in 0..img.len() {
                let r = BzImage::parse(&img[..len]);
                // The payload ends before EOF only if something follows it; anything
                // shorter than the payload's end must fail.
                let payload_end = full.kernel_offset
                    + u64::from(full.payload_offset)
                    + u64::from(full.payload_length);
                if (len as u64) < payload_end {
                    assert!(r.is_err(), "truncated to {len} bytes but parsed");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..8192)) {
            let _ = BzImage::parse(&data);
        }

        #[test]
        fn arbitrary_bytes_behind_a_valid_header_never_panic(
            tail in proptest::collection::vec(any::<u8>(), 0..8192),
            header_len in 0x1f1usize..0x280,
        ) {
            let img = BzImageBuilder::new().build();
            let mut data = img[..header_len].to_vec();
            data.extend_from_slice(&tail);
            let _ = BzImage::parse(&data);
        }

        #[test]
        fn single_byte_mutations_never_panic(
            which in 0usize..3,
            pos in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let mut img = samples().swap_remove(which);
            let i = pos.index(img.len());
            img[i] = byte;
            if let Ok(b) = BzImage::parse(&img) {
                prop_assert!(b.kernel_offset + b.kernel_size == img.len() as u64);
                prop_assert!(b.protocol_version >= MIN_PROTOCOL);
                prop_assert!(b.xloadflags & xlf::KERNEL_64 != 0);
            }
        }
    }
}
