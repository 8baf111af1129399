//! Byte counts as people read them ("66682880 bytes (63.6 MiB)"), for `inspect` and
//! `status`. A leaf, so that every image format can render its sizes.

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
