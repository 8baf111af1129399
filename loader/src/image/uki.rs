//! Unified kernel images: one PE file (a systemd-stub EFI application) whose sections carry
//! the kernel (`.linux`), initrd, command line, os-release and more. Section names and
//! meanings from the UAPI group's UKI specification (specs/unified_kernel_image.md) and
//! systemd's src/fundamental/uki.c. A kexec loader takes the parts out and loads the
//! kernel in `.linux` with them, as systemd-stub would hand them over.

use super::field::Field;
use super::pe::{PeInfo, PeSection, MACHINE_ARM64, MACHINE_X86_64};
use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::fields;
use crate::initrd::InitrdInfo;
use serde::Serialize;

/// What `.osrel` says about the OS the UKI boots (os-release(5) keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OsRelease {
    pub pretty_name: Option<String>,
    pub id: Option<String>,
    pub version_id: Option<String>,
    /// IMAGE_ID, IMAGE_VERSION, VERSION and BUILD_ID, which systemd-boot sorts UKIs by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_id: Option<String>,
}

impl OsRelease {
    /// Parses os-release text: KEY=VALUE lines, values optionally in single or double
    /// quotes; comments and unknown keys are ignored.
    pub fn parse(text: &str) -> OsRelease {
        let mut out = OsRelease::default();
        for line in text.lines() {
            let line = line.trim();
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value)
                .to_string();
            match key.trim() {
                "PRETTY_NAME" => out.pretty_name = Some(value),
                "ID" => out.id = Some(value),
                "VERSION_ID" => out.version_id = Some(value),
                "IMAGE_ID" => out.image_id = Some(value),
                "IMAGE_VERSION" => out.image_version = Some(value),
                "VERSION" => out.version = Some(value),
                "BUILD_ID" => out.build_id = Some(value),
                _ => {}
            }
        }
        out
    }

    /// PRETTY_NAME, else "ID VERSION_ID", else "unnamed".
    pub fn display(&self) -> String {
        if let Some(p) = &self.pretty_name {
            return p.clone();
        }
        match (&self.id, &self.version_id) {
            (Some(id), Some(v)) => format!("{id} {v}"),
            (Some(id), None) => id.clone(),
            _ => "unnamed".to_string(),
        }
    }
}

/// What a UKI needs of the kernel in its `.linux` section. [`super::KernelImage`]
/// implements it; the UKI is generic over it so that this module does not depend on the
/// format dispatch in `image/mod.rs`, which depends on this module (a UKI holds a kernel
/// of another format).
pub trait LinuxSection {
    fn arch(&self) -> Arch;
    fn format_name(&self) -> String;
    fn describe(&self) -> Vec<Field>;
}

/// A parsed unified kernel image; `K` is the parsed kernel of `.linux`
/// ([`super::KernelImage`]).
#[derive(Debug, Clone, Serialize)]
pub struct Uki<K> {
    /// The kernel in `.linux`, parsed (a bzImage, or an arm64 Image or zboot image).
    pub linux: Box<K>,
    /// Every section of the PE, in file order.
    pub sections: Vec<PeSection>,
    pub cmdline: Option<String>,
    pub osrel: Option<OsRelease>,
    pub uname: Option<String>,
    pub initrd: Option<InitrdInfo>,
    /// Sizes of the `.dtb` sections (the section may repeat).
    pub dtbs: Vec<u64>,
    /// The UKI carries an Authenticode signature.
    pub signed: bool,
    pub pe_machine: u16,
    /// (file offset, size) of the `.linux` data.
    pub linux_range: (u64, u64),
    /// (file offset, size) of the `.initrd` data, if any.
    pub initrd_range: Option<(u64, u64)>,
    /// Titles (or IDs) of the profiles of a multi-profile UKI, @0 first; warmboot uses @0,
    /// the default. Empty for a single-profile UKI.
    pub profiles: Vec<String>,
}

/// True when `data` is a PE file with a `.linux` section. Reads only the DOS header, the
/// COFF header and the section names, so it is cheap on any input.
pub fn looks_like(data: &[u8]) -> bool {
    if !super::pe::looks_like(data) {
        return false;
    }
    section_names(data).is_some_and(|names| names.iter().any(|n| n == b".linux\0\0"))
}

/// The raw 8-byte section names of a PE (PE/COFF spec: COFF header after "PE\0\0",
/// section table after the optional header).
fn section_names(data: &[u8]) -> Option<Vec<[u8; 8]>> {
    let pe = u64::from(fields::le_u32(data, 0x3c, "PE").ok()?);
    let coff = pe.checked_add(4)?;
    let count = fields::le_u16(data, coff.checked_add(2)?, "PE").ok()?;
    let opt_size = fields::le_u16(data, coff.checked_add(16)?, "PE").ok()?;
    let table = coff.checked_add(20)?.checked_add(u64::from(opt_size))?;
    let mut names = Vec::new();
    for i in 0..u64::from(count) {
        let entry = table.checked_add(i.checked_mul(40)?)?;
        names.push(fields::array::<8>(data, entry, "PE").ok()?);
    }
    Some(names)
}

/// The sections called `name` that the default profile uses. A multi-profile UKI (UKI
/// specification, "Multi-Profile UKIs") separates profiles with `.profile` sections: the
/// sections before the first `.profile` form the base profile, and those of the selected
/// profile (@0 by default: between the first and second `.profile`) override base sections
/// of the same name. A UKI without `.profile` is all base.
fn select<'a>(sections: &'a [PeSection], name: &str) -> Vec<&'a PeSection> {
    let mut segments = sections.split(|s| s.name == ".profile");
    let base = segments.next().unwrap_or_default();
    let profile0 = segments.next().unwrap_or_default();
    let pick = |seg: &'a [PeSection]| seg.iter().filter(|s| s.name == name).collect::<Vec<_>>();
    let own = pick(profile0);
    if own.is_empty() {
        pick(base)
    } else {
        own
    }
}

/// A `.profile` section's TITLE=, else its ID=, else "untitled".
fn profile_title(text: &str) -> String {
    let mut id = None;
    let mut title = None;
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim().trim_matches('"').to_string();
            match k.trim() {
                "TITLE" => title = Some(v),
                "ID" => id = Some(v),
                _ => {}
            }
        }
    }
    title.or(id).unwrap_or_else(|| "untitled".to_string())
}

/// The bytes of a section that are its content: the smaller of the virtual and file sizes
/// (the file size is rounded up to the file alignment; systemd-stub reads VirtualSize).
fn content_range(s: &PeSection) -> (u64, u64) {
    let size = if s.virtual_size == 0 {
        s.file_size
    } else {
        s.virtual_size.min(s.file_size)
    };
    (u64::from(s.file_offset), u64::from(size))
}

/// A section's text: lossy UTF-8, trailing NULs and whitespace (newlines) trimmed.
fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data)
        .trim_end_matches(['\0', '\n', '\r', ' '])
        .to_string()
}

impl<K: LinuxSection> Uki<K> {
    /// Parses the PE and its sections, and the kernel in `.linux` with `parse_linux`
    /// (which must not be another UKI, and must be for the architecture of the PE machine).
    pub fn parse(data: &[u8], parse_linux: impl FnOnce(&[u8]) -> Result<K>) -> Result<Uki<K>> {
        let pe = PeInfo::parse(data)?;
        let arch = match pe.machine {
            MACHINE_X86_64 => Arch::X86_64,
            MACHINE_ARM64 => Arch::Arm64,
            _ => {
                return Err(Error::UnsupportedArch(format!(
                    "unified kernel image for PE machine {}",
                    pe.machine_name()
                )))
            }
        };
        let bytes = |s: &PeSection| {
            let (off, len) = content_range(s);
            fields::slice(data, off, len, "UKI section")
        };
        let one = |name: &str| -> Result<Option<&PeSection>> {
            let found = select(&pe.sections, name);
            if found.len() > 1 {
                return Err(Error::invalid(
                    "unified kernel image",
                    format!("section {name} appears more than once in one profile"),
                ));
            }
            Ok(found.first().copied())
        };
        let linux_section = one(".linux")?
            .ok_or_else(|| Error::invalid("unified kernel image", "no .linux section"))?;
        let linux_range = content_range(linux_section);
        let linux_bytes = bytes(linux_section)?;
        if linux_bytes.is_empty() {
            return Err(Error::invalid(
                "unified kernel image",
                "the .linux section is empty",
            ));
        }
        if looks_like(linux_bytes) {
            return Err(Error::invalid(
                "unified kernel image",
                "its .linux section holds another UKI; nested UKIs are refused",
            ));
        }
        let linux = parse_linux(linux_bytes)
            .map_err(|e| Error::invalid("UKI .linux section", e.to_string()))?;
        if linux.arch() != arch {
            return Err(Error::invalid(
                "unified kernel image",
                format!(
                    "PE machine {} does not match the {} kernel in .linux",
                    pe.machine_name(),
                    linux.arch()
                ),
            ));
        }
        let cmdline = one(".cmdline")?.map(bytes).transpose()?.map(text);
        let osrel = one(".osrel")?
            .map(bytes)
            .transpose()?
            .map(|b| OsRelease::parse(&text(b)));
        let uname = one(".uname")?.map(bytes).transpose()?.map(text);
        let (initrd, initrd_range) = match one(".initrd")? {
            Some(s) => {
                let b = bytes(s)?;
                if b.is_empty() {
                    (None, None)
                } else {
                    (Some(InitrdInfo::from_bytes(b)?), Some(content_range(s)))
                }
            }
            None => (None, None),
        };
        let dtbs = select(&pe.sections, ".dtb")
            .into_iter()
            .map(|s| content_range(s).1)
            .collect();
        let profiles = pe
            .sections
            .iter()
            .filter(|s| s.name == ".profile")
            .map(|s| bytes(s).map(|b| profile_title(&text(b))))
            .collect::<Result<Vec<_>>>()?;
        Ok(Uki {
            linux: Box::new(linux),
            cmdline,
            osrel,
            uname,
            initrd,
            dtbs,
            signed: pe.is_signed(),
            pe_machine: pe.machine,
            linux_range,
            initrd_range,
            profiles,
            sections: pe.sections,
        })
    }

    /// The content bytes of the section called `name` that the default profile uses, in
    /// `data` (the file this UKI was parsed from), e.g. to load `.linux` and `.initrd`.
    pub fn section_bytes<'a>(&self, data: &'a [u8], name: &str) -> Result<Option<&'a [u8]>> {
        match self.section_range(name) {
            None => Ok(None),
            Some((off, len)) => fields::slice(data, off, len, "UKI section").map(Some),
        }
    }

    /// (file offset, size) of the content of the section called `name` that the default
    /// profile uses.
    pub fn section_range(&self, name: &str) -> Option<(u64, u64)> {
        select(&self.sections, name)
            .first()
            .map(|s| content_range(s))
    }

    /// The fields `warmboot inspect` prints: the UKI's own, then the kernel's.
    pub fn describe(&self) -> Vec<Field> {
        let machine = match self.pe_machine {
            MACHINE_X86_64 => "x86_64".to_string(),
            MACHINE_ARM64 => "arm64".to_string(),
            m => format!("{m:#06x}"),
        };
        let mut out = vec![
            Field::new("format", "unified kernel image"),
            Field::new("UKI PE machine", machine),
            Field::new(
                "UKI signature",
                if self.signed { "signed" } else { "unsigned" },
            ),
        ];
        for s in &self.sections {
            out.push(Field::new(
                "section",
                format!(
                    "{:<9} {}",
                    s.name,
                    crate::human_size::human_size(content_range(s).1)
                ),
            ));
        }
        if let Some(c) = &self.cmdline {
            out.push(Field::new("cmdline", c.clone()));
        }
        if let Some(o) = &self.osrel {
            out.push(Field::new("os-release", o.display()));
        }
        if let Some(u) = &self.uname {
            out.push(Field::new("uname", u.clone()));
        }
        match &self.initrd {
            Some(i) => out.extend(i.describe()),
            None => out.push(Field::new("initrd", "none")),
        }
        if !self.dtbs.is_empty() {
            let sizes: Vec<String> = self.dtbs.iter().map(|s| format!("{s:#x}")).collect();
            out.push(Field::new(
                "dtb",
                format!("{} ({} bytes)", self.dtbs.len(), sizes.join(", ")),
            ));
        }
        if !self.profiles.is_empty() {
            let list: Vec<String> = self
                .profiles
                .iter()
                .enumerate()
                .map(|(i, t)| format!("@{i} {t}"))
                .collect();
            out.push(Field::new(
                "profiles",
                format!("{} (using @0): {}", list.len(), list.join("; ")),
            ));
        }
        out.push(Field::new("kernel (.linux)", self.linux.format_name()));
        out.extend(
            self.linux
                .describe()
                .into_iter()
                .filter(|f| f.label != "format"),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compression::Compression;
    use crate::image::KernelImage;
    use crate::synth::arm64::{zboot, Arm64Builder};
    use crate::synth::initrd::early_plus_gzip;
    use crate::synth::uki::UkiBuilder;
    use proptest::prelude::*;

    use crate::inspect::render_fields as render;

    fn kernel() -> Vec<u8> {
        Arm64Builder {
            efi_stub: true,
            ..Arm64Builder::default()
        }
        .build()
    }

    fn full() -> UkiBuilder {
        let mut b = UkiBuilder::new(MACHINE_ARM64, kernel());
        b.osrel = Some(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID='12'\n"
                .to_string(),
        );
        b.cmdline = Some("console=ttyAMA0 root=/dev/vda1 quiet\n\0".to_string());
        b.uname = Some("6.1.0-synth\n".to_string());
        b.initrd = Some(early_plus_gzip(
            &[("kernel/", b"")],
            &[("init", b"#!/bin/sh\n")],
        ));
        b.dtbs = vec![
            vec![0xd0, 0x0d, 0xfe, 0xed, 0, 0, 0, 0x28],
            vec![0xd0; 0x30],
        ];
        b.extra = vec![(".sbat".to_string(), b"sbat,1,SBAT Version\n".to_vec())];
        b
    }

    #[test]
    fn looks_like_needs_a_linux_section() {
        let uki = full().build();
        assert!(looks_like(&uki));
        assert!(!looks_like(&kernel())); // an EFI-stub Image is a PE without .linux
        let other = crate::synth::pe::build_image(MACHINE_ARM64, &[(".text", b"code")]);
        assert!(!looks_like(&other));
        assert!(!looks_like(&uki[..0x100]));
    }

    #[test]
    fn full_uki() {
        let b = full();
        let data = b.build();
        let uki = match KernelImage::parse(&data).unwrap() {
            KernelImage::Uki(u) => u,
            other => panic!("parsed as {}", other.format_name()),
        };
        assert_eq!(uki.pe_machine, MACHINE_ARM64);
        assert_eq!(
            uki.cmdline.as_deref(),
            Some("console=ttyAMA0 root=/dev/vda1 quiet")
        );
        assert_eq!(uki.uname.as_deref(), Some("6.1.0-synth"));
        let osrel = uki.osrel.as_ref().unwrap();
        assert_eq!(
            osrel.pretty_name.as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(osrel.id.as_deref(), Some("debian"));
        assert_eq!(osrel.version_id.as_deref(), Some("12"));
        assert_eq!(uki.dtbs, vec![8, 0x30]);
        let initrd = uki.initrd.as_ref().unwrap();
        assert_eq!(initrd.format(), "cpio + gzip");
        assert!(!uki.signed);
        let signed = UkiBuilder {
            signed: true,
            ..full()
        }
        .build();
        let signed = Uki::parse(&signed, KernelImage::parse).unwrap();
        assert!(signed.signed);
        let fields = signed.describe();
        let sig = fields.iter().find(|f| f.label == "UKI signature").unwrap();
        assert!(sig.value.starts_with("signed"), "{}", sig.value);
        assert_eq!(
            uki.section_bytes(&data, ".linux").unwrap(),
            Some(&b.linux[..])
        );
        assert_eq!(
            uki.section_bytes(&data, ".initrd").unwrap(),
            b.initrd.as_deref()
        );
        let (off, len) = uki.linux_range;
        assert_eq!(&data[off as usize..(off + len) as usize], &b.linux[..]);
        let (off, len) = uki.initrd_range.unwrap();
        assert_eq!(
            &data[off as usize..(off + len) as usize],
            &b.initrd.as_ref().unwrap()[..]
        );
        assert_eq!(uki.section_bytes(&data, ".splash").unwrap(), None);
        assert_eq!(uki.linux.version(), Some("6.1.0-synth"));
        insta::assert_snapshot!("uki_arm64", render(&uki.describe()));
    }

    #[test]
    fn zboot_inside_a_uki() {
        let z = zboot(&kernel(), Compression::Zstd, "zstd22", 0x2_0000, false);
        let data = UkiBuilder::new(MACHINE_ARM64, z).build();
        let uki = Uki::parse(&data, KernelImage::parse).unwrap();
        assert_eq!(uki.linux.format_name(), "arm64 EFI zboot (zstd)");
        assert!(uki.initrd.is_none());
        assert!(uki.cmdline.is_none());
    }

    #[test]
    fn refuses_nested_uki() {
        let inner = full().build();
        let data = UkiBuilder::new(MACHINE_ARM64, inner).build();
        assert_eq!(
            Uki::parse(&data, KernelImage::parse).unwrap_err().to_string(),
            "invalid unified kernel image: its .linux section holds another UKI; nested UKIs are refused"
        );
    }

    #[test]
    fn refuses_machine_mismatch() {
        let data = UkiBuilder::new(MACHINE_X86_64, kernel()).build();
        assert_eq!(
            Uki::parse(&data, KernelImage::parse).unwrap_err().to_string(),
            "invalid unified kernel image: PE machine x86_64 does not match the arm64 kernel in .linux"
        );
        let data = UkiBuilder::new(0x5064, kernel()).build();
        assert_eq!(
            Uki::parse(&data, KernelImage::parse)
                .unwrap_err()
                .to_string(),
            "unsupported architecture: unified kernel image for PE machine riscv64"
        );
    }

    #[test]
    fn refuses_what_is_not_a_kernel_in_linux() {
        let data = UkiBuilder::new(MACHINE_ARM64, b"not a kernel".to_vec()).build();
        assert_eq!(
            Uki::parse(&data, KernelImage::parse).unwrap_err().to_string(),
            "invalid UKI .linux section: not a kernel image warmboot understands (starts with 6e 6f 74 20 61 20 6b 65)"
        );
    }

    #[test]
    fn refuses_empty_linux_section() {
        let data = UkiBuilder::new(MACHINE_ARM64, Vec::new()).build();
        assert!(looks_like(&data));
        assert_eq!(
            Uki::parse(&data, KernelImage::parse)
                .unwrap_err()
                .to_string(),
            "invalid unified kernel image: the .linux section is empty"
        );
    }

    #[test]
    fn refuses_duplicate_and_missing_sections() {
        let mut b = UkiBuilder::new(MACHINE_ARM64, kernel());
        b.cmdline = Some("a".to_string());
        b.extra = vec![(".cmdline".to_string(), b"b".to_vec())];
        assert_eq!(
            Uki::parse(&b.build(), KernelImage::parse)
                .unwrap_err()
                .to_string(),
            "invalid unified kernel image: section .cmdline appears more than once in one profile"
        );
        let other = crate::synth::pe::build_image(MACHINE_ARM64, &[(".text", b"code")]);
        assert_eq!(
            Uki::parse(&other, KernelImage::parse)
                .unwrap_err()
                .to_string(),
            "invalid unified kernel image: no .linux section"
        );
    }

    #[test]
    fn multi_profile_uki_uses_profile_0_over_the_base() {
        let mut b = UkiBuilder::new(MACHINE_ARM64, kernel());
        b.cmdline = Some("quiet".to_string());
        b.profiles = vec![
            (
                ".profile".to_string(),
                b"ID=regular\nTITLE=\"Regular boot\"\n".to_vec(),
            ),
            (".cmdline".to_string(), b"quiet profile0".to_vec()),
            (".profile".to_string(), b"ID=factory-reset\n".to_vec()),
            (
                ".cmdline".to_string(),
                b"quiet systemd.unit=factory-reset.target".to_vec(),
            ),
        ];
        let data = b.build();
        let uki = Uki::parse(&data, KernelImage::parse).unwrap();
        assert_eq!(uki.cmdline.as_deref(), Some("quiet profile0"));
        assert_eq!(uki.profiles, ["Regular boot", "factory-reset"]);
        assert_eq!(
            uki.section_bytes(&data, ".cmdline").unwrap(),
            Some(&b"quiet profile0"[..])
        );
        let text = render(&uki.describe());
        assert!(
            text.contains("profiles:        2 (using @0): @0 Regular boot; @1 factory-reset\n"),
            "{text}"
        );
        // A profile without its own .cmdline falls back to the base one.
        b.profiles.swap(1, 2);
        b.profiles.truncate(2);
        let uki = Uki::parse(&b.build(), KernelImage::parse).unwrap();
        assert_eq!(uki.cmdline.as_deref(), Some("quiet"));
    }

    #[test]
    fn os_release_parsing() {
        let o = OsRelease::parse("# c\nNAME=x\nID=fedora\nVERSION_ID=41\n");
        assert_eq!(o.display(), "fedora 41");
        assert_eq!(o.pretty_name, None);
        assert_eq!(OsRelease::parse("").display(), "unnamed");
    }

    fn check(data: &[u8]) -> Result<(), TestCaseError> {
        let _ = looks_like(data);
        if let Ok(u) = Uki::parse(data, KernelImage::parse) {
            let _ = u.describe();
            let _ = u.section_bytes(data, ".linux");
        }
        if let Ok(k) = KernelImage::parse(data) {
            let _ = k.describe();
        }
        Ok(())
    }

    fn small() -> Vec<u8> {
        let mut b = full();
        b.linux = Arm64Builder {
            code_len: 0x40,
            ..Arm64Builder::default()
        }
        .build();
        b.build()
    }

    #[test]
    fn every_truncation_is_an_error_or_ok_never_a_panic() {
        let data = small();
        for len in 0..data.len() {
            check(&data[..len]).unwrap();
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..1024)) {
            check(&data)?;
        }

        #[test]
        fn pe_prefix_with_arbitrary_tail(tail in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let mut data = small();
            data.truncate(0x80 + 4 + 20);
            data.extend_from_slice(&tail);
            check(&data)?;
        }

        #[test]
        fn single_byte_mutations_never_panic(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let mut data = small();
            let i = pos.index(data.len());
            data[i] = byte;
            check(&data)?;
        }
    }
}
