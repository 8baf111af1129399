//! `warmboot inspect`: what a kernel image is, as text or JSON.
//!
//! The report is built from the parsed image (pure: bytes in, report out) and rendered
//! either as aligned "label: value" lines for people or as one JSON object for scripts.
//! Both carry the same facts.

use crate::error::{Error, Result};
use crate::image::{Field, KernelImage};
use crate::initrd::InitrdInfo;
use serde::Serialize;
use std::path::Path;

/// Everything `warmboot inspect` reports about one kernel (and optionally an initrd).
#[derive(Debug, Serialize)]
pub struct Report {
    /// The file as the user named it.
    pub file: String,
    pub file_size: u64,
    /// A short human name of the format, e.g. "x86 bzImage".
    pub format_name: String,
    pub arch: crate::Arch,
    pub version: Option<String>,
    /// The format-specific details; `format` tags which one.
    pub image: KernelImage,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initrd: Option<InitrdReport>,
}

/// The initrd part of a report.
#[derive(Debug, Serialize)]
pub struct InitrdReport {
    pub file: String,
    #[serde(flatten)]
    pub info: InitrdInfo,
}

impl Report {
    /// Parses `kernel` (named `name` in the report) and, if given, describes the initrd.
    pub fn new(name: &str, kernel: &[u8], initrd: Option<(&str, &[u8])>) -> Result<Report> {
        let image = KernelImage::parse(kernel).map_err(|e| e.in_file(name))?;
        let initrd = match initrd {
            None => None,
            Some((iname, data)) => Some(InitrdReport {
                file: iname.to_string(),
                info: InitrdInfo::from_bytes(data).map_err(|e| e.in_file(iname))?,
            }),
        };
        Ok(Report {
            file: name.to_string(),
            file_size: kernel.len() as u64,
            format_name: image.format_name(),
            arch: image.arch(),
            version: image.version().map(str::to_string),
            image,
            initrd,
        })
    }

    /// The report as aligned text lines.
    pub fn to_text(&self) -> String {
        let mut fields = vec![Field::new("file", self.file.clone())];
        fields.extend(self.image.describe());
        let mut out = render_fields(&fields);
        if let Some(initrd) = &self.initrd {
            out.push('\n');
            let mut fields = vec![Field::new("initrd", initrd.file.clone())];
            fields.extend(initrd.info.describe());
            out.push_str(&render_fields(&fields));
        }
        out
    }

    /// The report as pretty-printed JSON with a trailing newline.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map(|s| s + "\n")
            .map_err(|e| Error::invalid("JSON report", e.to_string()))
    }
}

/// Renders fields as "label:   value" lines, values aligned in one column.
pub fn render_fields(fields: &[Field]) -> String {
    let width = fields.iter().map(|f| f.label.len()).max().unwrap_or(0) + 1;
    let mut out = String::new();
    for f in fields {
        let label = format!("{}:", f.label);
        out.push_str(&format!("{label:<width$} {}\n", f.value, width = width));
    }
    out
}

/// Reads `file` (and optionally `initrd`) and renders the report as text or JSON.
pub fn run(file: &Path, initrd: Option<&Path>, json: bool) -> Result<String> {
    let kernel = read_file(file)?;
    let initrd_data = match initrd {
        Some(p) => Some((p.display().to_string(), read_file(p)?)),
        None => None,
    };
    let report = Report::new(
        &file.display().to_string(),
        &kernel,
        initrd_data
            .as_ref()
            .map(|(n, d)| (n.as_str(), d.as_slice())),
    )?;
    if json {
        report.to_json()
    } else {
        Ok(report.to_text())
    }
}

/// Reads a whole file, turning "is a directory" and the like into errors naming it.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::Io(e).in_file(path))?;
    if meta.is_dir() {
        return Err(Error::invalid("file", "is a directory, not a file").in_file(path));
    }
    std::fs::read(path).map_err(|e| Error::Io(e).in_file(path))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(0), "0 bytes");
        assert_eq!(human_size(1023), "1023 bytes");
        assert_eq!(human_size(1536), "1536 bytes (1.5 KiB)");
        assert_eq!(human_size(0x3f98000), "66682880 bytes (63.6 MiB)");
    }

    #[test]
    fn fields_align_in_one_column() {
        let text = render_fields(&[Field::new("a", "1"), Field::new("longer", "2")]);
        assert_eq!(text, "a:      1\nlonger: 2\n");
    }
}
