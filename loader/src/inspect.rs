//! `warmboot inspect`: what a kernel image is, as text or JSON.

/// Formats a byte count as "N bytes (X.Y MiB)".
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{bytes} bytes ({v:.1} {})", UNITS[unit])
}

use crate::error::{Error, Result};
use crate::image::KernelImage;
use std::path::Path;

/// Reads `file` (and optionally `initrd`), parses it and renders the report.
pub fn run(file: &Path, initrd: Option<&Path>, json: bool) -> Result<String> {
    let data = std::fs::read(file).map_err(|e| Error::Io(e).in_file(file))?;
    let image = KernelImage::parse(&data).map_err(|e| e.in_file(file))?;
    let _ = initrd;
    if json {
        let v = serde_json::to_string_pretty(&image)
            .map_err(|e| Error::invalid("JSON", e.to_string()))?;
        Ok(format!("{v}\n"))
    } else {
        let mut out = String::new();
        for f in image.describe() {
            out.push_str(&format!("{:<20} {}\n", format!("{}:", f.label), f.value));
        }
        Ok(out)
    }
}
