//! x86 bzImage: the setup header (Documentation/arch/x86/boot.rst). PLACEHOLDER — being written.

use super::Field;
use crate::error::{Error, Result};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct BzImage {
    pub version: Option<String>,
    // Minimal fields added by the planner work (issue 3) so `KernelLayout::from_image`
    // compiles; the real parser replaces this file.
    pub kernel_offset: u64,
    pub kernel_size: u64,
    pub pref_address: u64,
    pub init_size: u32,
    pub kernel_alignment: u32,
    pub relocatable: bool,
    pub xloadflags: u16,
    pub initrd_addr_max: u32,
}

pub fn looks_like(data: &[u8]) -> bool {
    data.get(0x202..0x206) == Some(&b"HdrS"[..])
        && data.get(0x1fe..0x200) == Some(&[0x55, 0xaa][..])
}

impl BzImage {
    pub fn parse(_data: &[u8]) -> Result<BzImage> {
        Err(Error::invalid("bzImage", "parser not written yet"))
    }

    pub fn describe(&self) -> Vec<Field> {
        Vec::new()
    }
}
