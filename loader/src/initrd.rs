//! Initial ramdisks: size and compression, for information only. PLACEHOLDER — being written.

use crate::compression::Compression;
use crate::error::{Error, Result};
use crate::image::Field;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct InitrdInfo {
    pub size: u64,
    pub compression: Compression,
}

impl InitrdInfo {
    pub fn from_bytes(data: &[u8]) -> Result<InitrdInfo> {
        if data.is_empty() {
            return Err(Error::Empty);
        }
        Ok(InitrdInfo {
            size: data.len() as u64,
            compression: Compression::detect(data),
        })
    }

    pub fn describe(&self) -> Vec<Field> {
        vec![Field::size("size", self.size)]
    }
}
