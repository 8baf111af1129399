//! `<cache>/kernels.json`: how tests find the real kernels that `cargo xtask images` fetched.
//!
//! ```json
//! { "arm64":  { "path": "/root/.cache/warmboot/pkgs/arm64/…/boot/vmlinuz-6.1.0-56-arm64",
//!               "package": "linux-image-6.1.0-56-arm64", "version": "6.1.192-2",
//!               "sha256": "<sha256 of the .deb>" },
//!   "x86_64": { … } }
//! ```
//! Keys are warmboot's architecture names. `sha256` is that of the `.deb` the kernel came
//! from (the value pinned in images/manifest.toml unless the pin had to be replaced).

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
}

/// Architecture name (`x86_64`, `arm64`) to kernel; sorted, so the file is stable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KernelIndex(pub BTreeMap<String, KernelEntry>);

impl KernelIndex {
    pub fn to_json(&self) -> String {
        // A map of strings cannot fail to serialize.
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    pub fn from_json(text: &str, path: &Path) -> Result<KernelIndex> {
        serde_json::from_str(text).map_err(|source| Error::Json {
            path: path.to_owned(),
            source,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> KernelIndex {
        let mut m = BTreeMap::new();
        m.insert(
            "x86_64".to_string(),
            KernelEntry {
                path: PathBuf::from("/c/pkgs/amd64/k/boot/vmlinuz-6.1.0-56-amd64"),
                package: "linux-image-6.1.0-56-amd64".into(),
                version: "6.1.192-2".into(),
                sha256: "a86e2049672f52354c4536a089203b6c82639420424d31c91cf31a181fd4d8f1".into(),
            },
        );
        m.insert(
            "arm64".to_string(),
            KernelEntry {
                path: PathBuf::from("/c/pkgs/arm64/k/boot/vmlinuz-6.1.0-56-arm64"),
                package: "linux-image-6.1.0-56-arm64".into(),
                version: "6.1.192-2".into(),
                sha256: "6f4ed2d1cb9106bc977c2b1960008f175e2eed5740340634b7894e65ef5acc82".into(),
            },
        );
        KernelIndex(m)
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
}
