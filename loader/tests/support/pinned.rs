//! The pinned Debian kernels, for the tests that run on them (loader/tests/real_kernels.rs
//! and the sim's tests, which include this file by path).
//!
//! images/manifest.toml says which kernel series are pinned for each architecture (Debian
//! 12's 6.1, Debian 13's 6.12, …); `cargo xtask images` fetches them into a cache outside
//! git and lists them in `<cache>/kernels.json` (`{ arch: { series: { "path", … } } }`,
//! images/README.md). A test runs on every series of its architecture. A missing kernel
//! is skipped after a notice, or fails the test when WARMBOOT_REQUIRE_REAL_KERNELS=1 (as
//! `cargo xtask ci` sets it).

use std::path::PathBuf;

/// The cache `cargo xtask images` fills, chosen as xtask/src/cache.rs chooses it:
/// `$WARMBOOT_CACHE` if set and not empty, else `$HOME/.cache/warmboot`.
pub fn cache_dir() -> Option<PathBuf> {
    match std::env::var_os("WARMBOOT_CACHE") {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/warmboot")),
    }
}

/// `major.minor` as numbers, so that 6.1 < 6.12 < 7.2 (a string sort puts 6.12 first).
fn series_order(series: &str) -> (u32, u32) {
    let (major, minor) = series.split_once('.').unwrap_or((series, "0"));
    (major.parse().unwrap_or(0), minor.parse().unwrap_or(0))
}

/// The kernel series images/manifest.toml pins for `arch` ("x86_64" | "arm64" | "riscv64"), oldest
/// first.
pub fn pinned_series(arch: &str) -> Vec<String> {
    let debian = match arch {
        "x86_64" => "amd64",
        "arm64" => "arm64",
        "riscv64" => "riscv64",
        other => panic!("no Debian architecture for {other:?}"),
    };
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../images/manifest.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let manifest: toml::Value = toml::from_str(&text).unwrap();
    let mut series: Vec<String> = manifest["package"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["arch"].as_str() == Some(debian))
        .filter_map(|p| Some(p.get("series")?.as_str()?.to_owned()))
        .collect();
    series.sort_by_key(|s| series_order(s));
    assert!(!series.is_empty(), "{}: no {debian} kernel", path.display());
    series
}

/// Every pinned kernel of `arch` that is in the cache, oldest series first, as
/// `(series, path, bytes)`. A series missing from the cache is left out after a notice, or
/// panics when WARMBOOT_REQUIRE_REAL_KERNELS=1.
pub fn real_kernels(arch: &str) -> Vec<(String, PathBuf, Vec<u8>)> {
    let required = std::env::var("WARMBOOT_REQUIRE_REAL_KERNELS").is_ok_and(|v| v == "1");
    let index_path = cache_dir().map(|d| d.join("kernels.json"));
    let index = index_path
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok());
    let mut found = Vec::new();
    for series in pinned_series(arch) {
        let path = index
            .as_ref()
            .and_then(|v| v.get(arch)?.get(&series)?.get("path")?.as_str())
            .map(PathBuf::from);
        match path.and_then(|p| std::fs::read(&p).ok().map(|d| (p, d))) {
            Some((path, data)) => found.push((series, path, data)),
            None if required => panic!(
                "the real {arch} {series} kernel is missing from {index_path:?} \
                 (run `cargo xtask images`)"
            ),
            None => eprintln!(
                "NOTICE: real {arch} {series} kernel not fetched ({index_path:?} has none); \
                 skipping its checks. `cargo xtask images` fetches it; `cargo xtask ci` \
                 always does."
            ),
        }
    }
    found
}
