//! Synthetic initrds: a minimal "newc" cpio writer
//! (Documentation/driver-api/early-userspace/buffer-format.rst) and the gzip variant.
//!
//! Entries are regular files (mode 0100644) or, for names ending in '/', directories
//! (mode 040755); the archive ends with a TRAILER!!! entry. Header and name, and file data,
//! are each padded to a multiple of 4 bytes, as the kernel's unpacker expects.

/// Builds a newc archive holding `entries` (name, contents).
pub fn newc(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (ino, (name, data)) in entries.iter().enumerate() {
        let (name, mode) = match name.strip_suffix('/') {
            Some(dir) => (dir, 0o040755),
            None => (*name, 0o100644),
        };
        entry(&mut out, ino as u32 + 1, mode, name, data);
    }
    entry(&mut out, 0, 0, "TRAILER!!!", b"");
    out
}

fn entry(out: &mut Vec<u8>, ino: u32, mode: u32, name: &str, data: &[u8]) {
    let nlink = if mode & 0o040000 != 0 { 2 } else { 1 };
    let fields = [
        ino,
        mode,
        0,
        0,
        nlink,
        0,
        data.len() as u32,
        0,
        0,
        0,
        0,
        name.len() as u32 + 1,
        0,
    ];
    out.extend_from_slice(b"070701");
    for f in fields {
        out.extend_from_slice(format!("{f:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    out.resize(out.len().next_multiple_of(4), 0);
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(4), 0);
}

/// A gzip-compressed newc archive.
pub fn newc_gzip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    crate::synth::arm64::gzip(&newc(entries))
}

/// A Debian-style initrd: an uncompressed early archive (microcode), padded with NULs to a
/// 512-byte boundary, followed by the gzip-compressed main archive.
pub fn early_plus_gzip(early: &[(&str, &[u8])], main: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = newc(early);
    out.resize(out.len().next_multiple_of(512), 0);
    out.extend_from_slice(&newc_gzip(main));
    out
}
