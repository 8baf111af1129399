//! `<cache>/kernels.json`: how tests find the real kernels that `cargo xtask images` fetched.
//!
//! The project pins a set of kernel series per architecture (Debian 12's 6.1, Debian 13's
//! 6.12, …), so the index is keyed by architecture and then by series:
//!
//! ```json
//! { "arm64": {
//!     "6.1":  { "path": "/root/.cache/warmboot/pkgs/arm64/…/boot/vmlinuz-6.1.0-56-arm64",
//!               "package": "linux-image-6.1.0-56-arm64", "version": "6.1.192-2",
//!               "sha256": "<sha256 of the .deb>", "series": "6.1",
//!               "release": "6.1.0-56-arm64" },
//!     "6.12": { … } },
//!   "x86_64": { … } }
//! ```
//! Keys are warmboot's architecture names and the series (`major.minor` of the kernel
//! release). `sha256` is that of the `.deb` the kernel came from (the value pinned in
//! images/manifest.toml unless the pin had to be replaced); `release` is the kernel release
//! string, what `uname -r` prints once it runs, taken from the file name after `vmlinuz-`
//! (Debian's linux-image packages name the image `boot/vmlinuz-<release>`).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One extracted kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelEntry {
    /// Absolute path of the extracted kernel image.
    pub path: PathBuf,
    pub package: String,
    pub version: String,
    pub sha256: String,
    /// `major.minor` of `release`, e.g. `6.12`; also the entry's key in its architecture.
    pub series: String,
    /// The kernel release, e.g. `6.12.118+deb13-amd64`.
    pub release: String,
}

/// Architecture name (`x86_64`, `arm64`) to series (`6.1`) to kernel; sorted maps, so the
/// file is stable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KernelIndex(pub BTreeMap<String, BTreeMap<String, KernelEntry>>);

impl KernelIndex {
    /// The kernel of `arch` ("x86_64" | "arm64") and `series` ("6.1").
    pub fn get(&self, arch: &str, series: &str) -> Option<&KernelEntry> {
        self.0.get(arch)?.get(series)
    }

    /// Every series pinned for `arch`, oldest first (numeric major.minor order: 6.1 < 6.12
    /// < 7.2).
    pub fn series(&self, arch: &str) -> Vec<String> {
        let mut all: Vec<String> = self
            .0
            .get(arch)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        all.sort_by_key(|s| series_order(s));
        all
    }

    /// Records `entry` as the kernel of `arch` and `entry.series`, replacing any other.
    pub fn insert(&mut self, arch: &str, entry: KernelEntry) {
        self.0
            .entry(arch.to_owned())
            .or_default()
            .insert(entry.series.clone(), entry);
    }

    pub fn to_json(&self) -> String {
        // Maps of strings cannot fail to serialize.
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Parses the index and checks that every entry sits under its own series.
    pub fn from_json(text: &str, path: &Path) -> Result<KernelIndex> {
        let index: KernelIndex = serde_json::from_str(text).map_err(|source| Error::Json {
            path: path.to_owned(),
            source,
        })?;
        for (arch, kernels) in &index.0 {
            for (key, entry) in kernels {
                if *key != entry.series || series_order(key).is_none() {
                    return Err(Error::Index {
                        path: path.to_owned(),
                        reason: format!(
                            "{arch} kernel under key {key:?} has series {:?}; keys must be \
                             the entry's series, major.minor",
                            entry.series
                        ),
                    });
                }
            }
        }
        Ok(index)
    }

    /// Reads the index, or an empty one if the file does not exist yet.
    pub fn load_or_default(path: &Path) -> Result<KernelIndex> {
        match std::fs::read_to_string(path) {
            Ok(text) => KernelIndex::from_json(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(KernelIndex::default()),
            Err(e) => Err(Error::io(path)(e)),
        }
    }

    /// Writes through a temporary file and a rename, so a reader never sees half a file.
    pub fn store(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, self.to_json()).map_err(Error::io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(Error::io(path))
    }
}

/// The kernel release of a Debian kernel image path: its file name after `vmlinuz-`
/// (`boot/vmlinuz-6.12.118+deb13-amd64` -> `6.12.118+deb13-amd64`), or after `vmlinux-`
/// for riscv64, whose Image is installed uncompressed (`boot/vmlinux-6.12.118+deb13-riscv64`).
pub fn release_of(image: &Path) -> Option<String> {
    let name = image.file_name()?.to_str()?;
    let release = name
        .strip_prefix("vmlinuz-")
        .or_else(|| name.strip_prefix("vmlinux-"))?;
    series_of(release).map(|_| release.to_owned())
}

/// The series (`major.minor`) of a kernel release: `6.1.0-56-amd64` -> `6.1`,
/// `6.12.118+deb13-amd64` -> `6.12`.
pub fn series_of(release: &str) -> Option<String> {
    let mut parts = release.splitn(3, '.');
    let major = parts.next()?;
    let minor_and_rest = parts.next()?;
    let digits = minor_and_rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(minor_and_rest.len());
    let series = format!("{major}.{}", &minor_and_rest[..digits]);
    series_order(&series).map(|_| series)
}

/// `major.minor` as numbers, for ordering (a string sort puts 6.12 before 6.2); None when
/// `series` is not exactly two decimal numbers.
pub fn series_order(series: &str) -> Option<(u32, u32)> {
    let (major, minor) = series.split_once('.')?;
    let number = |s: &str| {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            s.parse::<u32>().ok()
        }
    };
    Some((number(major)?, number(minor)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(arch: &str, package: &str, version: &str, release: &str, sha: &str) -> KernelEntry {
        KernelEntry {
            path: PathBuf::from(format!("/c/pkgs/{arch}/k/boot/vmlinuz-{release}")),
            package: package.into(),
            version: version.into(),
            sha256: sha.into(),
            series: series_of(release).unwrap(),
            release: release.into(),
        }
    }

    fn sample() -> KernelIndex {
        let mut idx = KernelIndex::default();
        idx.insert(
            "x86_64",
            entry(
                "amd64",
                "linux-image-6.1.0-56-amd64",
                "6.1.192-2",
                "6.1.0-56-amd64",
                "a86e2049672f52354c4536a089203b6c82639420424d31c91cf31a181fd4d8f1",
            ),
        );
        idx.insert(
            "x86_64",
            entry(
                "amd64",
                "linux-image-6.12.118+deb13-amd64",
                "6.12.118-1",
                "6.12.118+deb13-amd64",
                "0000000000000000000000000000000000000000000000000000000000000001",
            ),
        );
        idx.insert(
            "arm64",
            entry(
                "arm64",
                "linux-image-6.1.0-56-arm64",
                "6.1.192-2",
                "6.1.0-56-arm64",
                "6f4ed2d1cb9106bc977c2b1960008f175e2eed5740340634b7894e65ef5acc82",
            ),
        );
        idx
    }

    #[test]
    fn json_round_trip_and_stable_layout() {
        let idx = sample();
        let text = idx.to_json();
        insta::assert_snapshot!("kernels_json", text);
        assert_eq!(
            KernelIndex::from_json(&text, Path::new("k.json")).unwrap(),
            idx
        );
    }

    #[test]
    fn get_and_series_in_numeric_order() {
        let mut idx = sample();
        idx.insert(
            "x86_64",
            entry("amd64", "k", "6.2.1-1", "6.2.0-1-amd64", "00"),
        );
        assert_eq!(idx.series("x86_64"), ["6.1", "6.2", "6.12"]);
        assert_eq!(idx.series("arm64"), ["6.1"]);
        assert!(idx.series("riscv64").is_empty());
        assert_eq!(
            idx.get("x86_64", "6.12").unwrap().release,
            "6.12.118+deb13-amd64"
        );
        assert!(idx.get("arm64", "6.12").is_none());
        assert!(idx.get("riscv64", "6.1").is_none());
    }

    #[test]
    fn release_and_series_from_debian_names() {
        assert_eq!(
            release_of(Path::new("/c/boot/vmlinuz-6.12.118+deb13-amd64")).as_deref(),
            Some("6.12.118+deb13-amd64")
        );
        assert_eq!(
            release_of(Path::new("boot/vmlinuz-6.1.0-56-arm64")).as_deref(),
            Some("6.1.0-56-arm64")
        );
        assert_eq!(release_of(Path::new("boot/Image")), None);
        assert_eq!(release_of(Path::new("boot/vmlinuz-x")), None);
        assert_eq!(series_of("6.1.0-56-amd64").as_deref(), Some("6.1"));
        assert_eq!(series_of("6.12.118+deb13-amd64").as_deref(), Some("6.12"));
        assert_eq!(series_of("7.2-rc1").as_deref(), Some("7.2"));
        assert_eq!(series_of("6"), None);
        assert_eq!(series_of("6.x"), None);
        assert_eq!(series_order("6.12"), Some((6, 12)));
        assert_eq!(series_order("6.1.0"), None);
        assert_eq!(series_order("+6.1"), None);
    }

    #[test]
    fn store_then_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kernels.json");
        assert_eq!(
            KernelIndex::load_or_default(&path).unwrap(),
            KernelIndex::default()
        );
        sample().store(&path).unwrap();
        assert_eq!(KernelIndex::load_or_default(&path).unwrap(), sample());
        assert!(!path.with_extension("json.tmp").exists());
    }

    #[test]
    fn bad_json_names_the_file() {
        let err =
            KernelIndex::from_json(r#"{"x86_64": {"path": 1}}"#, Path::new("/c/kernels.json"))
                .unwrap_err();
        assert!(
            err.to_string().starts_with("/c/kernels.json: invalid JSON"),
            "{err}"
        );
    }

    #[test]
    fn an_entry_under_another_series_is_refused() {
        let mut idx = sample();
        let e = idx.0.get_mut("arm64").unwrap().remove("6.1").unwrap();
        idx.0.get_mut("arm64").unwrap().insert("6.12".into(), e);
        let err = KernelIndex::from_json(&idx.to_json(), Path::new("/c/kernels.json"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("/c/kernels.json: arm64 kernel under key \"6.12\" has series \"6.1\""),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1);
    }
}
