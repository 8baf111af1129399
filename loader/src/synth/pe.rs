//! PE/COFF headers for synthetic EFI-stub kernels, zboot images and UKIs.
//!
//! Layout from the PE/COFF specification: DOS header with e_lfanew at 0x3c, "PE\0\0",
//! the 20-byte COFF header, a PE32+ optional header (112 bytes + 16 data directories),
//! then 40-byte section headers. Only what the kernel's EFI stub headers also fill is
//! filled here.

/// Size of the PE32+ optional header with all 16 data directories.
const OPTIONAL_HEADER_SIZE: u16 = 112 + 16 * 8;
/// IMAGE_SUBSYSTEM_EFI_APPLICATION.
const SUBSYSTEM_EFI_APPLICATION: u16 = 10;
/// WIN_CERT_REVISION_2_0 and WIN_CERT_TYPE_PKCS_SIGNED_DATA.
const WIN_CERT_REVISION_2_0: u16 = 0x0200;
const WIN_CERT_TYPE_PKCS_SIGNED_DATA: u16 = 0x0002;

/// One section header to write.
#[derive(Debug, Clone)]
pub struct SectionSpec {
    pub name: String,
    pub file_offset: u32,
    pub file_size: u32,
    pub virtual_address: u32,
    pub virtual_size: u32,
}

/// Bytes the PE headers take at `pe_offset` with `nsections` sections.
pub fn headers_len(nsections: usize) -> usize {
    4 + 20 + OPTIONAL_HEADER_SIZE as usize + 40 * nsections
}

fn put(buf: &mut Vec<u8>, off: usize, bytes: &[u8]) {
    if buf.len() < off + bytes.len() {
        buf.resize(off + bytes.len(), 0);
    }
    buf[off..off + bytes.len()].copy_from_slice(bytes);
}

/// Writes "MZ" at 0, e_lfanew at 0x3c and the PE headers at `pe_offset` into `buf`
/// (growing it if needed), leaving every other byte as it was — the way an EFI-stub
/// kernel overlays its PE header on the bytes before its own header.
pub fn write_headers(
    buf: &mut Vec<u8>,
    pe_offset: u32,
    machine: u16,
    entry: u32,
    sections: &[SectionSpec],
    certificate_table: Option<(u32, u32)>,
) {
    put(buf, 0, b"MZ");
    put(buf, 0x3c, &pe_offset.to_le_bytes());
    let p = pe_offset as usize;
    put(buf, p, b"PE\0\0");
    let coff = p + 4;
    put(buf, coff, &machine.to_le_bytes());
    put(buf, coff + 2, &(sections.len() as u16).to_le_bytes());
    put(buf, coff + 16, &OPTIONAL_HEADER_SIZE.to_le_bytes());
    put(buf, coff + 18, &0x0206u16.to_le_bytes()); // executable, stripped
    let opt = coff + 20;
    put(buf, opt, &0x20bu16.to_le_bytes()); // PE32+
    put(buf, opt + 16, &entry.to_le_bytes());
    put(buf, opt + 32, &0x1000u32.to_le_bytes()); // section alignment
    put(buf, opt + 36, &0x200u32.to_le_bytes()); // file alignment
    let image_end = sections
        .iter()
        .map(|s| s.virtual_address + s.virtual_size.max(s.file_size))
        .max()
        .unwrap_or(0x1000);
    put(
        buf,
        opt + 56,
        &image_end.next_multiple_of(0x1000).to_le_bytes(),
    );
    let headers_end = (p + headers_len(sections.len())) as u32;
    put(
        buf,
        opt + 60,
        &headers_end.next_multiple_of(0x200).to_le_bytes(),
    );
    put(buf, opt + 68, &SUBSYSTEM_EFI_APPLICATION.to_le_bytes());
    put(buf, opt + 108, &16u32.to_le_bytes()); // number of data directories
    if let Some((off, size)) = certificate_table {
        let dir = opt + 112 + 4 * 8;
        put(buf, dir, &off.to_le_bytes());
        put(buf, dir + 4, &size.to_le_bytes());
    }
    let mut sh = opt + OPTIONAL_HEADER_SIZE as usize;
    for s in sections {
        let mut name = [0u8; 8];
        let n = s.name.as_bytes();
        name[..n.len().min(8)].copy_from_slice(&n[..n.len().min(8)]);
        put(buf, sh, &name);
        put(buf, sh + 8, &s.virtual_size.to_le_bytes());
        put(buf, sh + 12, &s.virtual_address.to_le_bytes());
        put(buf, sh + 16, &s.file_size.to_le_bytes());
        put(buf, sh + 20, &s.file_offset.to_le_bytes());
        put(buf, sh + 36, &0x4000_0040u32.to_le_bytes()); // initialized data, readable
        sh += 40;
    }
}

/// Appends an attribute certificate table holding one fake PKCS#7 blob (the parser only
/// counts signatures, it does not verify them) at an 8-byte-aligned offset, and returns
/// the table's (file offset, size) for the certificate data directory.
pub fn append_signature(buf: &mut Vec<u8>, blob: &[u8]) -> (u32, u32) {
    buf.resize(buf.len().next_multiple_of(8), 0);
    let start = buf.len();
    let len = (8 + blob.len()) as u32;
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&WIN_CERT_REVISION_2_0.to_le_bytes());
    buf.extend_from_slice(&WIN_CERT_TYPE_PKCS_SIGNED_DATA.to_le_bytes());
    buf.extend_from_slice(blob);
    buf.resize(buf.len().next_multiple_of(8), 0);
    (start as u32, (buf.len() - start) as u32)
}

/// Builds a standalone PE image (as a UKI is) whose sections hold `sections`' data, each
/// at a 512-byte-aligned file offset and a 4 KiB-aligned virtual address. SizeOfRawData is
/// rounded up to the file alignment as the PE/COFF spec requires; VirtualSize is the data's
/// exact length.
pub fn build_image(machine: u16, sections: &[(&str, &[u8])]) -> Vec<u8> {
    const PE_OFFSET: u32 = 0x80;
    let header_end = PE_OFFSET as usize + headers_len(sections.len());
    let mut file_off = header_end.next_multiple_of(0x200) as u32;
    let mut vaddr = 0x1000u32;
    let mut specs = Vec::new();
    for (name, data) in sections {
        specs.push(SectionSpec {
            name: name.to_string(),
            file_offset: file_off,
            file_size: (data.len() as u32).next_multiple_of(0x200),
            virtual_address: vaddr,
            virtual_size: data.len() as u32,
        });
        file_off = (file_off + data.len() as u32).next_multiple_of(0x200);
        vaddr = (vaddr + data.len() as u32).next_multiple_of(0x1000);
    }
    let mut buf = Vec::new();
    write_headers(&mut buf, PE_OFFSET, machine, 0x1000, &specs, None);
    for (spec, (_, data)) in specs.iter().zip(sections) {
        put(&mut buf, spec.file_offset as usize, data);
    }
    buf.resize(buf.len().next_multiple_of(0x200), 0);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::pe::{looks_like, PeInfo, MACHINE_X86_64};

    #[test]
    fn built_images_parse_back_with_their_sections_and_signature() {
        let mut pe = build_image(
            MACHINE_X86_64,
            &[(".linux", b"kernel"), (".cmdline", b"quiet\0")],
        );
        assert!(looks_like(&pe));
        let info = PeInfo::parse(&pe).unwrap();
        assert_eq!(info.machine, MACHINE_X86_64);
        let names: Vec<_> = info.sections.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, [".linux", ".cmdline"]);
        let linux = info.section(".linux").unwrap();
        let raw = info.section_data(&pe, linux).unwrap();
        assert_eq!(&raw[..6], b"kernel");
        assert_eq!((raw.len(), linux.virtual_size), (0x200, 6));
        assert!(!info.is_signed());

        let table = append_signature(&mut pe, b"not really pkcs7");
        let specs: Vec<SectionSpec> = info
            .sections
            .iter()
            .map(|s| SectionSpec {
                name: s.name.clone(),
                file_offset: s.file_offset,
                file_size: s.file_size,
                virtual_address: s.virtual_address,
                virtual_size: s.virtual_size,
            })
            .collect();
        write_headers(&mut pe, 0x80, MACHINE_X86_64, 0x1000, &specs, Some(table));
        let info = PeInfo::parse(&pe).unwrap();
        assert!(info.is_signed());
        assert_eq!(info.signatures, 1);
    }
}
