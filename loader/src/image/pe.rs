//! PE/COFF headers, as carried by EFI-stub kernels, EFI zboot images and UKIs.
//!
//! warmboot does not run PE code; it reads the headers to tell what a file is
//! (EFI stub present, target machine), to find UKI sections, and to report whether the
//! file carries an Authenticode signature (the certificate table, data directory 4 of
//! the optional header — the signature `kexec_file_load` checks under
//! CONFIG_KEXEC_SIG, crypto/asymmetric_keys/verify_pefile.c). Parsing is goblin's.

use crate::error::{Error, Result};
use goblin::pe::certificate_table::{AttributeCertificate, AttributeCertificateType};
use goblin::pe::options::{ParseMode, ParseOptions};
use serde::Serialize;

/// IMAGE_FILE_MACHINE_AMD64.
pub const MACHINE_X86_64: u16 = 0x8664;
/// IMAGE_FILE_MACHINE_ARM64.
pub const MACHINE_ARM64: u16 = 0xaa64;
/// IMAGE_FILE_MACHINE_I386.
pub const MACHINE_I386: u16 = 0x14c;
/// IMAGE_FILE_MACHINE_RISCV64.
pub const MACHINE_RISCV64: u16 = 0x5064;

/// The parts of a PE image's headers warmboot reports and uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeInfo {
    /// File offset of the "PE\0\0" signature (the DOS header's e_lfanew at 0x3c).
    pub header_offset: u32,
    /// COFF machine type, e.g. 0x8664 (x86_64) or 0xaa64 (arm64).
    pub machine: u16,
    pub sections: Vec<PeSection>,
    /// File offset and size of the certificate table, when the image has one.
    pub certificate_table: Option<(u32, u32)>,
    /// Number of Authenticode (PKCS#7 signed data) certificates in that table.
    pub signatures: usize,
}

/// One section header of a PE image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeSection {
    pub name: String,
    pub file_offset: u32,
    pub file_size: u32,
    pub virtual_address: u32,
    pub virtual_size: u32,
}

/// True when `data` starts with a DOS header whose e_lfanew points at a PE signature.
pub fn looks_like(data: &[u8]) -> bool {
    if !data.starts_with(b"MZ") {
        return false;
    }
    let Ok(off) = crate::fields::le_u32(data, 0x3c, "PE header offset") else {
        return false;
    };
    let off = off as usize;
    data.get(off..off.saturating_add(4)) == Some(&b"PE\0\0"[..])
}

impl PeInfo {
    /// Parses the PE headers, section table and certificate table of `data`.
    pub fn parse(data: &[u8]) -> Result<PeInfo> {
        let mut opts = ParseOptions::default()
            .with_parse_mode(ParseMode::Permissive)
            .with_parse_tls_data(false)
            .with_parse_resources(false)
            .with_parse_imports(false);
        opts.resolve_rva = false;
        opts.parse_attribute_certificates = false;
        let pe = goblin::pe::PE::parse_with_opts(data, &opts)
            .map_err(|e| Error::invalid("PE header", e.to_string()))?;
        let header_offset = pe.header.dos_header.pe_pointer;
        let machine = pe.header.coff_header.machine;
        let mut sections = Vec::with_capacity(pe.sections.len());
        for s in &pe.sections {
            let name = String::from_utf8_lossy(&s.name)
                .trim_end_matches('\0')
                .to_string();
            let end = crate::fields::add(
                s.pointer_to_raw_data.into(),
                s.size_of_raw_data.into(),
                "PE section",
            )?;
            if s.size_of_raw_data > 0 && end > data.len() as u64 {
                return Err(Error::Truncated {
                    what: "PE section",
                    start: s.pointer_to_raw_data.into(),
                    end,
                    len: data.len() as u64,
                });
            }
            sections.push(PeSection {
                name,
                file_offset: s.pointer_to_raw_data,
                file_size: s.size_of_raw_data,
                virtual_address: s.virtual_address,
                virtual_size: s.virtual_size,
            });
        }
        let dir = pe
            .header
            .optional_header
            .as_ref()
            .and_then(|o| o.data_directories.get_certificate_table().copied())
            .filter(|d| d.size > 0);
        let (certificate_table, signatures) = match dir {
            None => (None, 0),
            Some(d) => {
                let count = count_signatures(data, d.virtual_address, d.size)?;
                (Some((d.virtual_address, d.size)), count)
            }
        };
        Ok(PeInfo {
            header_offset,
            machine,
            sections,
            certificate_table,
            signatures,
        })
    }

    /// The section called `name`, if present.
    pub fn section(&self, name: &str) -> Option<&PeSection> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// The file bytes of a section.
    pub fn section_data<'a>(&self, data: &'a [u8], section: &PeSection) -> Result<&'a [u8]> {
        crate::fields::slice(
            data,
            section.file_offset.into(),
            section.file_size.into(),
            "PE section",
        )
    }

    /// True when the image carries at least one Authenticode signature.
    pub fn is_signed(&self) -> bool {
        self.signatures > 0
    }

    /// A readable name for the COFF machine type.
    pub fn machine_name(&self) -> String {
        match self.machine {
            MACHINE_X86_64 => "x86_64".to_string(),
            MACHINE_ARM64 => "arm64".to_string(),
            MACHINE_I386 => "i386".to_string(),
            MACHINE_RISCV64 => "riscv64".to_string(),
            m => format!("{m:#06x}"),
        }
    }
}

/// Walks the attribute certificate table (PE/COFF spec, "The Attribute Certificate Table")
/// and counts WIN_CERT_TYPE_PKCS_SIGNED_DATA entries. The table's "virtual address" is a
/// file offset.
fn count_signatures(data: &[u8], offset: u32, size: u32) -> Result<usize> {
    let start = u64::from(offset);
    let end = crate::fields::add(start, size.into(), "PE certificate table")?;
    let Some(table) = usize::try_from(end).ok().and_then(|e| data.get(..e)) else {
        return Err(Error::Truncated {
            what: "PE certificate table",
            start,
            end,
            len: data.len() as u64,
        });
    };
    let mut pos = offset as usize;
    let mut count: usize = 0;
    while pos < table.len() {
        let cert = AttributeCertificate::parse(table, &mut pos)
            .map_err(|e| Error::invalid("PE certificate table", e.to_string()))?;
        if cert.length < 8 {
            return Err(Error::invalid(
                "PE certificate table",
                format!("entry length {} is shorter than its header", cert.length),
            ));
        }
        if cert.certificate_type == AttributeCertificateType::PkcsSignedData {
            // Each entry is at least 8 bytes long: the count stays far below usize::MAX.
            count = count.saturating_add(1);
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::pe::{append_signature, build_image, write_headers, SectionSpec};

    /// A PE with one `.text` section and a one-signature certificate table, and the
    /// table's (offset, size).
    fn signed() -> (Vec<u8>, (u32, u32)) {
        let mut img = build_image(MACHINE_X86_64, &[(".text", &[0x90; 16])]);
        let table = append_signature(&mut img, &[0x30; 24]);
        let text = PeInfo::parse(&img).unwrap().sections[0].clone();
        let spec = SectionSpec {
            name: text.name,
            file_offset: text.file_offset,
            file_size: text.file_size,
            virtual_address: text.virtual_address,
            virtual_size: text.virtual_size,
        };
        write_headers(&mut img, 0x80, MACHINE_X86_64, 0x1000, &[spec], Some(table));
        (img, table)
    }

    #[test]
    fn counts_the_signatures() {
        let (img, table) = signed();
        let pe = PeInfo::parse(&img).unwrap();
        assert_eq!(pe.certificate_table, Some(table));
        assert_eq!(pe.signatures, 1);
        assert!(pe.is_signed());
    }

    #[test]
    fn refuses_a_certificate_table_past_the_end() {
        let (img, (off, size)) = signed();
        let cut = &img[..img.len() - 8];
        let e = PeInfo::parse(cut).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Truncated { what: "PE certificate table", start, end, len }
                    if start == u64::from(off)
                        && end == u64::from(off) + u64::from(size)
                        && len == cut.len() as u64
            ),
            "{e:?}"
        );
    }

    #[test]
    fn refuses_a_section_past_the_end() {
        let img = build_image(MACHINE_X86_64, &[(".text", &[0x90; 16])]);
        let cut = &img[..img.len() - 1];
        let e = PeInfo::parse(cut).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Truncated {
                    what: "PE section",
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn looks_like_survives_short_and_hostile_headers() {
        assert!(!looks_like(b"MZ"));
        let mut hostile = vec![0u8; 0x40];
        hostile[..2].copy_from_slice(b"MZ");
        hostile[0x3c..0x40].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(!looks_like(&hostile));
        assert!(looks_like(&build_image(
            MACHINE_ARM64,
            &[(".text", &[0; 4])]
        )));
    }
}
