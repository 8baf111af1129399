//! `images/manifest.toml`: the Debian packages warmboot's tests run against, pinned by
//! version and sha256 so that every machine tests the same bytes.
//!
//! Parsing is pure (text in, validated [`Manifest`] out); `images.rs` does the fetching.

use crate::error::{Error, Result};
use crate::index::series_order;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

/// A Debian architecture the project tests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DebArch {
    Amd64,
    Arm64,
    /// An official Debian architecture since Debian 13 (trixie); bookworm has none.
    Riscv64,
}

impl DebArch {
    pub const ALL: [DebArch; 3] = [DebArch::Amd64, DebArch::Arm64, DebArch::Riscv64];

    /// Debian's name, as in `apt-get download pkg:arm64`.
    pub fn debian(self) -> &'static str {
        match self {
            DebArch::Amd64 => "amd64",
            DebArch::Arm64 => "arm64",
            DebArch::Riscv64 => "riscv64",
        }
    }

    /// The name warmboot (and `kernels.json`) uses, matching `warmboot::Arch`.
    pub fn warmboot(self) -> &'static str {
        match self {
            DebArch::Amd64 => "x86_64",
            DebArch::Arm64 => "arm64",
            DebArch::Riscv64 => "riscv64",
        }
    }
}

impl fmt::Display for DebArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.debian())
    }
}

/// The whole manifest: a list of pinned packages.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(rename = "package")]
    pub packages: Vec<Package>,
}

/// One pinned `.deb`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Package {
    /// Debian package name, e.g. `linux-image-6.1.0-56-amd64`.
    pub name: String,
    pub arch: DebArch,
    /// Full Debian version including any epoch, e.g. `1:2.0.25-3+deb12u3`.
    pub version: String,
    /// sha256 of the `.deb` file, lowercase hex.
    pub sha256: String,
    /// Glob patterns (relative to the package root) of the files to keep after unpacking.
    /// Each pattern must match at least one file.
    pub files: Vec<String>,
    /// For a kernel package: the pattern (one of `files`) of the kernel image recorded in
    /// `kernels.json`. It must match exactly one file.
    #[serde(default)]
    pub kernel: Option<String>,
    /// A metapackage whose `Depends` names the current package when the pinned one has left
    /// the archive (kernel ABI bumps rename the package, e.g. `linux-image-amd64`). It is
    /// resolved within `suite`: trixie's `linux-image-amd64` is a 6.12 kernel, bookworm's a
    /// 6.1 one, sid's a newer one still.
    #[serde(default)]
    pub resolve: Option<String>,
    /// For a kernel package: the kernel series, `major.minor` of its release (`6.1`,
    /// `6.12`); the key of its entry in `kernels.json`. At most one kernel per (arch, series).
    #[serde(default)]
    pub series: Option<String>,
    /// The Debian release the package comes from (one of [`SUITES`]); its `-updates` and
    /// `-security` suites count as the same release.
    #[serde(default = "default_suite")]
    pub suite: String,
}

/// The Debian releases packages may come from: Debian 12 and Debian 13. `cargo xtask
/// images` writes its own apt sources for exactly these (see `apt.rs`).
pub const SUITES: [&str; 2] = ["bookworm", "trixie"];

fn default_suite() -> String {
    SUITES[0].to_owned()
}

impl Package {
    /// `name:arch=version`, the form apt-get understands.
    pub fn apt_spec(&self) -> String {
        format!("{}:{}={}", self.name, self.arch, self.version)
    }

    /// `name version arch`, for messages.
    pub fn label(&self) -> String {
        format!("{} {} {}", self.name, self.version, self.arch)
    }

    /// The archive suites of the package's release: the release itself, its stable
    /// updates and its security updates (`bookworm`, `bookworm-updates`, `bookworm-security`).
    pub fn apt_suites(&self) -> [String; 3] {
        let s = &self.suite;
        [s.clone(), format!("{s}-updates"), format!("{s}-security")]
    }
}

/// Reads and validates the manifest file.
pub fn load(path: &Path) -> Result<Manifest> {
    let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
    parse(&text).map_err(|reason| Error::Manifest {
        path: path.to_owned(),
        reason,
    })
}

/// Parses and validates manifest text; the error is a one-line reason.
pub fn parse(text: &str) -> Result<Manifest, String> {
    let manifest: Manifest = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text.get(..s.start).unwrap_or("").lines().count().max(1));
        let msg = e.message().replace('\n', " ");
        match line {
            Some(line) => format!("line {line}: {msg}"),
            None => msg,
        }
    })?;
    validate(&manifest)?;
    Ok(manifest)
}

fn validate(manifest: &Manifest) -> Result<(), String> {
    if manifest.packages.is_empty() {
        return Err("no [[package]] entries".into());
    }
    let mut seen = BTreeSet::new();
    let mut kernels = BTreeSet::new();
    for p in &manifest.packages {
        let what = || format!("package {} ({})", p.name, p.arch);
        if p.name.is_empty()
            || !p
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
        {
            return Err(format!("{}: invalid Debian package name", what()));
        }
        if p.version.is_empty() || p.version.chars().any(|c| c.is_whitespace() || c == '/') {
            return Err(format!("{}: invalid version {:?}", what(), p.version));
        }
        if p.sha256.len() != 64
            || !p
                .sha256
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        {
            return Err(format!(
                "{}: sha256 must be 64 lowercase hex digits",
                what()
            ));
        }
        if !seen.insert((p.name.clone(), p.arch)) {
            return Err(format!("{}: listed twice", what()));
        }
        if p.files.is_empty() {
            return Err(format!("{}: `files` is empty", what()));
        }
        for f in &p.files {
            if f.is_empty() || f.starts_with('/') || f.split('/').any(|c| c == ".." || c == ".") {
                return Err(format!(
                    "{}: file pattern {f:?} must be relative, without . or ..",
                    what()
                ));
            }
            glob::Pattern::new(f).map_err(|e| format!("{}: file pattern {f:?}: {e}", what()))?;
        }
        if !SUITES.contains(&p.suite.as_str()) {
            return Err(format!(
                "{}: unknown suite {:?} (known: {})",
                what(),
                p.suite,
                SUITES.join(", ")
            ));
        }
        match (&p.kernel, &p.series) {
            (Some(k), Some(series)) => {
                if !p.files.contains(k) {
                    return Err(format!(
                        "{}: kernel pattern {k:?} is not one of `files`",
                        what()
                    ));
                }
                if series_order(series).is_none() {
                    return Err(format!(
                        "{}: series {series:?} must be major.minor, e.g. \"6.1\"",
                        what()
                    ));
                }
                if !kernels.insert((p.arch, series.clone())) {
                    return Err(format!(
                        "{}: a second kernel of series {series} for {}",
                        what(),
                        p.arch
                    ));
                }
            }
            (Some(_), None) => return Err(format!("{}: a kernel needs a `series`", what())),
            (None, Some(_)) => {
                return Err(format!(
                    "{}: `series` is only for kernel packages (with `kernel`)",
                    what()
                ))
            }
            (None, None) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
# a comment
[[package]]
name = "linux-image-6.1.0-56-amd64"
arch = "amd64"
version = "6.1.192-2"
sha256 = "a86e2049672f52354c4536a089203b6c82639420424d31c91cf31a181fd4d8f1"
files = ["boot/vmlinuz-*", "boot/config-*"]
kernel = "boot/vmlinuz-*"
resolve = "linux-image-amd64"
series = "6.1"

[[package]]
name = "busybox-static"
arch = "arm64"
version = "1:1.35.0-4+deb12u1+b1"
sha256 = "732c9135564fc71337e0e05fb4da4d11e6c28c1834bce3e405e575afef2a52f5"
files = ["bin/busybox"]
"#;

    #[test]
    fn parses_a_good_manifest() {
        let m = parse(GOOD).unwrap();
        assert_eq!(m.packages.len(), 2);
        let k = &m.packages[0];
        assert_eq!(k.arch, DebArch::Amd64);
        assert_eq!(k.kernel.as_deref(), Some("boot/vmlinuz-*"));
        assert_eq!(k.resolve.as_deref(), Some("linux-image-amd64"));
        assert_eq!(k.series.as_deref(), Some("6.1"));
        assert_eq!(k.suite, "bookworm");
        assert_eq!(
            k.apt_suites(),
            ["bookworm", "bookworm-updates", "bookworm-security"]
        );
        let b = &m.packages[1];
        assert_eq!(b.apt_spec(), "busybox-static:arm64=1:1.35.0-4+deb12u1+b1");
        assert_eq!(b.kernel, None);
        assert_eq!(b.arch.warmboot(), "arm64");
        assert_eq!(DebArch::Amd64.warmboot(), "x86_64");
    }

    #[test]
    fn the_real_manifest_is_valid_and_pins_the_kernels_of_each_debian_release_per_arch() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../images/manifest.toml");
        let m = load(&path).unwrap();
        for arch in DebArch::ALL {
            let kernels: Vec<(&str, &str)> = m
                .packages
                .iter()
                .filter(|p| p.arch == arch && p.kernel.is_some())
                .map(|p| (p.series.as_deref().unwrap(), p.suite.as_str()))
                .collect();
            // riscv64 became an official Debian architecture with Debian 13.
            let want: &[(&str, &str)] = match arch {
                DebArch::Riscv64 => &[("6.12", "trixie")],
                _ => &[("6.1", "bookworm"), ("6.12", "trixie")],
            };
            assert_eq!(kernels, want, "{arch}");
        }
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err()
    }

    #[test]
    fn rejects_bad_fields_with_a_reason() {
        assert!(err(&GOOD.replace("a86e20", "A86E20")).contains("64 lowercase hex"));
        assert!(err(&GOOD.replace("c82639420424d31c91", "")).contains("64 lowercase hex"));
        assert!(err(&GOOD.replace("\"arm64\"", "\"mips64el\""))
            .starts_with("line 15: unknown variant `mips64el`"));
        assert!(err(&GOOD.replace("[\"bin/busybox\"]", "[]")).contains("`files` is empty"));
        assert!(err(&GOOD.replace("bin/busybox", "/bin/busybox")).contains("must be relative"));
        assert!(err(&GOOD.replace("bin/busybox", "../busybox")).contains("must be relative"));
        assert!(err(&GOOD.replace("bin/busybox", "bin/[")).contains("file pattern"));
        assert!(
            err(&GOOD.replace("kernel = \"boot/vmlinuz-*\"", "kernel = \"boot/x\""))
                .contains("is not one of `files`")
        );
        assert!(err(&GOOD.replace("resolve =", "resolv =")).contains("unknown field"));
        assert_eq!(
            err(&GOOD.replace(
                "files = [\"bin/busybox\"]",
                "files = [\"bin/busybox\"]\nsuite = \"sid\""
            )),
            "package busybox-static (arm64): unknown suite \"sid\" (known: bookworm, trixie)"
        );
        assert!(err(&GOOD.replace("series = \"6.1\"", "series = \"6\"")).contains("major.minor"));
        assert!(err(&GOOD.replace("series = \"6.1\"", ""))
            .ends_with("linux-image-6.1.0-56-amd64 (amd64): a kernel needs a `series`"));
        assert!(err(&GOOD.replace(
            "files = [\"bin/busybox\"]",
            "files = [\"bin/busybox\"]\nseries = \"6.1\""
        ))
        .contains("only for kernel packages"));
        assert!(err(&GOOD.replace("busybox-static", "Busybox")).contains("package name"));
        assert!(err("").contains("missing field"));
        assert_eq!(err("package = []"), "no [[package]] entries");
    }

    #[test]
    fn rejects_duplicates_and_two_kernels_per_arch() {
        let second = GOOD.split("[[package]]").nth(1).unwrap();
        let twice = format!("{GOOD}[[package]]{second}");
        assert!(err(&twice).contains("listed twice"));
        let other = second.replace("linux-image-6.1.0-56-amd64", "linux-image-6.1.0-57-amd64");
        assert!(err(&format!("{GOOD}[[package]]{other}"))
            .contains("a second kernel of series 6.1 for amd64"));
        let trixie = other.replace("series = \"6.1\"", "series = \"6.12\"\nsuite = \"trixie\"");
        let m = parse(&format!("{GOOD}[[package]]{trixie}")).unwrap();
        assert_eq!(m.packages[2].suite, "trixie");
        assert_eq!(m.packages[2].series.as_deref(), Some("6.12"));
        assert_eq!(
            m.packages[2].apt_suites(),
            ["trixie", "trixie-updates", "trixie-security"]
        );
    }
}
