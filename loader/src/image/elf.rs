//! ELF vmlinux for x86_64 and aarch64. PLACEHOLDER — being written.

use super::Field;
use crate::arch::Arch;
use crate::error::{Error, Result};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct ElfKernel {
    pub arch: Arch,
    pub version: Option<String>,
    // Minimal fields added by the planner work (issue 3); the real parser replaces this file.
    pub entry: u64,
    pub segments: Vec<ElfSegment>,
}

/// One PT_LOAD (minimal placeholder, see above).
#[derive(Debug, Clone, Serialize)]
pub struct ElfSegment {
    pub paddr: u64,
    pub vaddr: u64,
    pub offset: u64,
    pub filesz: u64,
    pub memsz: u64,
    pub align: u64,
    pub flags: u32,
}

pub fn looks_like(data: &[u8]) -> bool {
    data.starts_with(b"\x7fELF")
}

impl ElfKernel {
    pub fn parse(_data: &[u8]) -> Result<ElfKernel> {
        Err(Error::invalid("ELF", "parser not written yet"))
    }

    pub fn describe(&self) -> Vec<Field> {
        Vec::new()
    }
}
