//! ELF vmlinux for x86_64 and aarch64. PLACEHOLDER — being written.

use super::Field;
use crate::arch::Arch;
use crate::error::{Error, Result};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct ElfKernel {
    pub arch: Arch,
    pub version: Option<String>,
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
