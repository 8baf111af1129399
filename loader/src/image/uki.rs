//! Unified kernel images: one PE file (a systemd-stub EFI application) whose sections carry
//! the kernel (`.linux`), initrd, command line, os-release and more. Section names and
//! meanings from the UAPI group's UKI specification (specs/unified_kernel_image.md) and
//! systemd's src/fundamental/uki.c. A kexec loader takes the parts out and loads the
//! kernel in `.linux` with them, as systemd-stub would hand them over.

use super::pe::{PeInfo, PeSection, MACHINE_ARM64, MACHINE_X86_64};
use super::{Field, KernelImage};
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

/// A parsed unified kernel image.
#[derive(Debug, Clone, Serialize)]
pub struct Uki {
    /// The kernel in `.linux`, parsed (a bzImage, or an arm64 Image or zboot image).
    pub linux: Box<KernelImage>,
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
    let count = fields::le_u16(data, coff + 2, "PE").ok()?;
    let opt_size = fields::le_u16(data, coff + 16, "PE").ok()?;
    let table = coff + 20 + u64::from(opt_size);
    let mut names = Vec::new();
    for i in 0..u64::from(count) {
        names.push(fields::array::<8>(data, table + i * 40, "PE").ok()?);
    }
    Some(names)
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

impl Uki {
    /// Parses the PE and its sections, and the kernel in `.linux` (which must not be
    /// another UKI, and must be for the architecture of the PE machine).
    pub fn parse(data: &[u8]) -> Result<Uki> {
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
            let mut it = pe.sections.iter().filter(|s| s.name == name);
            let first = it.next();
            if it.next().is_some() {
                return Err(Error::invalid(
                    "unified kernel image",
                    format!("section {name} appears more than once"),
                ));
            }
            Ok(first)
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
        let linux = KernelImage::parse(linux_bytes)
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
        let dtbs = pe
            .sections
            .iter()
            .filter(|s| s.name == ".dtb")
            .map(|s| content_range(s).1)
            .collect();
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
            sections: pe.sections,
        })
    }

    /// The content bytes of the first section called `name` in `data` (the file this UKI
    /// was parsed from), e.g. to load `.linux` and `.initrd`.
    pub fn section_bytes<'a>(&self, data: &'a [u8], name: &str) -> Result<Option<&'a [u8]>> {
        match self.sections.iter().find(|s| s.name == name) {
            None => Ok(None),
            Some(s) => {
                let (off, len) = content_range(s);
                fields::slice(data, off, len, "UKI section").map(Some)
            }
        }
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
            Field::new("PE machine", machine),
            Field::new("signature", if self.signed { "signed" } else { "unsigned" }),
        ];
        for s in &self.sections {
            out.push(Field::new(
                "section",
                format!(
                    "{:<9} {}",
                    s.name,
                    crate::inspect::human_size(content_range(s).1)
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
