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

/// Also here for callers that render whole images.
pub use crate::human_size::human_size;

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
    /// x86 bzImages: whether `load` can enter the kernel proper decompressed at load time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x86_entry: Option<X86EntryReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initrd: Option<InitrdReport>,
}

/// Whether warmboot can decompress, lay out and relocate an x86 bzImage's kernel proper
/// ([`crate::x86::vmlinux_payload`]), so that `load` enters it directly (`--x86-entry`),
/// and if not, why: the same check `load` makes, so inspect and load never disagree.
/// Load-time conditions come on top (normal loads through kexec_load only; no
/// `mem=`/`memmap=`-style options; room for the kernel in usable RAM).
#[derive(Debug, Serialize)]
pub struct X86EntryReport {
    pub decompressed_entry_possible: bool,
    /// Why not, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// startup_64's offset from `_text` (e_entry - LOAD_PHYSICAL_ADDR).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_offset: Option<u64>,
    /// `_end - _text`: the memory the kernel proper occupies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relocations: Option<usize>,
    /// The relocation table's layout, read from the data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relocation_layout: Option<&'static str>,
}

impl X86EntryReport {
    /// Tries what `load` tries for `bz` (whose file is `file`).
    pub fn new(bz: &crate::image::bzimage::BzImage, file: &[u8]) -> X86EntryReport {
        match crate::x86::vmlinux_payload::KernelProper::from_bzimage(bz, file) {
            Ok(k) => X86EntryReport {
                decompressed_entry_possible: true,
                reason: None,
                entry_offset: Some(k.entry_offset),
                image_size: Some(k.mem_len),
                relocations: Some(k.relocs.len()),
                relocation_layout: Some(k.relocs.format.describe()),
            },
            Err(e) => X86EntryReport {
                decompressed_entry_possible: false,
                reason: Some(e.to_string()),
                entry_offset: None,
                image_size: None,
                relocations: None,
                relocation_layout: None,
            },
        }
    }

    fn describe(&self) -> Field {
        let value = match (&self.reason, self.entry_offset, self.relocations) {
            (Some(why), ..) => format!("not possible: {why} (load uses the bzImage decompressor)"),
            (None, Some(entry), Some(n)) => format!(
                "possible (entry at _text + {entry:#x}, {} of memory, {n} relocations {})",
                human_size(self.image_size.unwrap_or(0)),
                self.relocation_layout.unwrap_or("")
            ),
            _ => "possible".to_string(),
        };
        Field::new("decompressed entry", value)
    }
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
        let x86_entry = match &image {
            KernelImage::BzImage(bz) => Some(X86EntryReport::new(bz, kernel)),
            _ => None,
        };
        Ok(Report {
            file: name.to_string(),
            file_size: kernel.len() as u64,
            format_name: image.format_name(),
            arch: image.arch(),
            version: image.version().map(str::to_string),
            image,
            x86_entry,
            initrd,
        })
    }

    /// The report as aligned text lines.
    pub fn to_text(&self) -> String {
        let mut fields = vec![Field::new("file", self.file.clone())];
        fields.extend(self.image.describe());
        fields.extend(self.x86_entry.as_ref().map(X86EntryReport::describe));
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

    /// inspect says what load would do with the x86 entry: possible for a payload
    /// warmboot can lay out (entry offset, relocations and their layout), and the exact
    /// reason load falls back otherwise.
    #[test]
    fn says_whether_the_decompressed_x86_entry_is_possible() {
        let (payload, _) = crate::x86::vmlinux_payload::tests::synth_payload();
        let good = crate::synth::x86::BzImageBuilder::new()
            .payload_plain(payload)
            .build();
        let r = Report::new("good", &good, None).unwrap();
        let text = r.to_text();
        assert!(
            text.lines().any(|l| l.starts_with("decompressed entry:")
                && l.ends_with("possible (entry at _text + 0x0, 4259840 bytes (4.1 MiB) of memory, 3 relocations with an inverse 32-bit set (up to 6.14))")),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
        assert_eq!(json["x86_entry"]["decompressed_entry_possible"], true);
        assert_eq!(json["x86_entry"]["relocations"], 3);
        // A payload that is not a vmlinux: not possible, with load's own reason.
        let bad = crate::synth::x86::BzImageBuilder::new()
            .payload_plain(vec![0; 64])
            .build();
        let r = Report::new("bad", &bad, None).unwrap();
        let why = crate::x86::vmlinux_payload::KernelProper::from_bzimage(
            match &r.image {
                KernelImage::BzImage(b) => b,
                _ => unreachable!(),
            },
            &bad,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            r.to_text().contains(&format!(
                "decompressed entry:  not possible: {why} (load uses the bzImage decompressor)"
            )),
            "{}",
            r.to_text()
        );
        let json: serde_json::Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
        assert_eq!(json["x86_entry"]["decompressed_entry_possible"], false);
        assert_eq!(json["x86_entry"]["reason"], why.as_str());
        // Other formats say nothing about it.
        let elf = crate::synth::elf::ElfBuilder::x86_64().build();
        assert!(Report::new("elf", &elf, None).unwrap().x86_entry.is_none());
    }
}
