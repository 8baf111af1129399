//! arm64 Image and its compressed forms. PLACEHOLDER — being written.

use super::Field;
use crate::error::{Error, Result};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Arm64Kernel {
    pub container: Container,
    pub version: Option<String>,
    // Minimal fields added by the planner work (issue 3); the real parser replaces this file.
    pub header: Arm64Header,
    #[serde(skip)]
    pub image: Vec<u8>,
}

/// The arm64 Image header fields the planner needs (minimal placeholder, see above).
#[derive(Debug, Clone, Serialize)]
pub struct Arm64Header {
    pub text_offset: u64,
    pub image_size: u64,
    pub flags: u64,
    pub big_endian: bool,
    pub page_size: Option<u32>,
    pub phys_placement_anywhere: bool,
}

#[derive(Debug, Clone, Serialize)]
pub enum Container {
    Raw,
}

impl Container {
    pub fn describe(&self) -> String {
        "arm64 Image".to_string()
    }
}

pub fn looks_like(data: &[u8]) -> bool {
    data.get(0x38..0x3c) == Some(&b"ARM\x64"[..])
}

impl Arm64Kernel {
    pub fn parse_image(_data: &[u8]) -> Result<Arm64Kernel> {
        Err(Error::invalid("arm64 Image", "parser not written yet"))
    }
    pub fn parse_gzip(_data: &[u8]) -> Result<Arm64Kernel> {
        Err(Error::invalid("arm64 Image", "parser not written yet"))
    }
    pub fn parse_zboot(_data: &[u8]) -> Result<Arm64Kernel> {
        Err(Error::invalid("arm64 Image", "parser not written yet"))
    }
    pub fn describe(&self) -> Vec<Field> {
        Vec::new()
    }
}
