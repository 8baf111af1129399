//! Synthetic unified kernel images: a PE (built by [`crate::synth::pe::build_image`]) with
//! the sections the UKI specification names. The kernel inside and the PE machine are
//! parameters, so the same builder makes arm64 and x86_64 UKIs.

use crate::image::pe::PeInfo;
use crate::synth::pe::{append_signature, build_image, write_headers, SectionSpec};

/// The PE header offset [`build_image`] uses.
const PE_OFFSET: u32 = 0x80;

/// Appends a signature to a PE made by [`build_image`] and points its certificate
/// directory at it (rewriting the headers with the same sections).
fn sign(buf: &mut Vec<u8>, machine: u16) {
    let info = PeInfo::parse(buf).expect("build_image makes a valid PE");
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
    let table = append_signature(buf, b"synthetic PKCS#7 signed data");
    write_headers(buf, PE_OFFSET, machine, 0x1000, &specs, Some(table));
}

/// The parts of a UKI; `None`/empty parts get no section.
#[derive(Debug, Clone, Default)]
pub struct UkiBuilder {
    /// COFF machine of the UKI's PE (0xaa64 arm64, 0x8664 x86_64).
    pub machine: u16,
    /// The kernel image bytes for `.linux`.
    pub linux: Vec<u8>,
    pub osrel: Option<String>,
    pub cmdline: Option<String>,
    pub uname: Option<String>,
    pub initrd: Option<Vec<u8>>,
    pub dtbs: Vec<Vec<u8>>,
    /// Extra sections, e.g. (".sbat", ...), appended after the others.
    pub extra: Vec<(String, Vec<u8>)>,
    /// Sections after `.linux`: the `.profile` sections (each followed by that profile's
    /// own sections) of a multi-profile UKI, as `ukify --join-profile` appends them.
    pub profiles: Vec<(String, Vec<u8>)>,
    /// Append a (fake) Authenticode signature to the UKI.
    pub signed: bool,
}

impl UkiBuilder {
    /// A UKI for `machine` around `linux`, with no other sections yet.
    pub fn new(machine: u16, linux: Vec<u8>) -> UkiBuilder {
        UkiBuilder {
            machine,
            linux,
            ..UkiBuilder::default()
        }
    }

    /// Builds the PE in the order ukify writes sections: .osrel, .cmdline, .dtb, .uname,
    /// extra sections, .initrd, then .linux, then the profile sections.
    pub fn build(&self) -> Vec<u8> {
        let mut sections: Vec<(&str, &[u8])> = Vec::new();
        if let Some(o) = &self.osrel {
            sections.push((".osrel", o.as_bytes()));
        }
        if let Some(c) = &self.cmdline {
            sections.push((".cmdline", c.as_bytes()));
        }
        for d in &self.dtbs {
            sections.push((".dtb", d));
        }
        if let Some(u) = &self.uname {
            sections.push((".uname", u.as_bytes()));
        }
        for (name, data) in &self.extra {
            sections.push((name, data));
        }
        if let Some(i) = &self.initrd {
            sections.push((".initrd", i));
        }
        sections.push((".linux", &self.linux));
        for (name, data) in &self.profiles {
            sections.push((name, data));
        }
        let mut buf = build_image(self.machine, &sections);
        if self.signed {
            sign(&mut buf, self.machine);
        }
        buf
    }
}
