//! Unified kernel images. PLACEHOLDER — being written.

use super::{Field, KernelImage};
use crate::error::{Error, Result};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Uki {
    pub linux: Box<KernelImage>,
}

pub fn looks_like(_data: &[u8]) -> bool {
    false
}

impl Uki {
    pub fn parse(_data: &[u8]) -> Result<Uki> {
        Err(Error::invalid("UKI", "parser not written yet"))
    }
    pub fn describe(&self) -> Vec<Field> {
        Vec::new()
    }
}
