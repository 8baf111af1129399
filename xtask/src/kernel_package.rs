//! `cargo xtask validate --package NAME[=VERSION]`: a Debian kernel package fetched through
//! the private apt state (as `cargo xtask images` fetches, with sid listed too), and the
//! kernel image found in it.
//!
//! Two layouts: the linux-image packages up to Debian 13 hold `boot/vmlinuz-<release>`;
//! Debian's 7.x series splits them, `linux-image-<release>` becoming a metapackage that
//! depends on `linux-binary-<release>`, which holds `usr/lib/modules/<release>/vmlinuz`.
//! A package without a kernel file is followed to its `linux-binary-*` dependency.
//!
//! Only the kernel file is kept, in `<cache>/validate/<arch>/<name>_<version>/` at its path
//! in the package; the `.deb` stays in `<cache>/validate/debs/` (a `.deb` already in
//! `<cache>/debs/`, a pinned one, is used from there). Every `.deb` is checked against the
//! SHA256 of the archive's index (`apt-cache show`), whether downloaded or cached.

use crate::apt::Apt;
use crate::cache::{deb_file_name, Cache};
use crate::cmd::Cmd;
use crate::error::{Error, Result};
use crate::images::{self, sha256_file};
use crate::manifest::DebArch;
use std::path::{Path, PathBuf};

/// Where the kernel image is in a package, relative to its root (glob patterns).
/// Debian's riscv64 kernel is an uncompressed Image, installed as `boot/vmlinux-<release>`.
pub const KERNEL_PATTERNS: [&str; 3] = [
    "boot/vmlinuz-*",
    "boot/vmlinux-*",
    "usr/lib/modules/*/vmlinuz",
];

/// Marker written last into a package's directory: the sha256 of its `.deb` and the
/// kernel's path in it (empty for a package without one).
const MARKER: &str = ".warmboot-unpacked";

/// `NAME[=VERSION]` as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub name: String,
    pub version: Option<String>,
}

impl Spec {
    pub fn parse(s: &str) -> Result<Spec, String> {
        let (name, version) = match s.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (s, None),
        };
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
        if !valid_name {
            return Err(format!("{s:?} is not a Debian package name[=version]"));
        }
        if version.is_some_and(|v| v.is_empty() || v.contains(char::is_whitespace)) {
            return Err(format!(
                "{s:?}: the version after '=' is empty or has spaces"
            ));
        }
        Ok(Spec {
            name: name.to_owned(),
            version: version.map(str::to_owned),
        })
    }
}

/// The architecture a package is fetched for: `arch` when given, else the one its name
/// ends with (`-arm64`, `-riscv64`), else amd64.
pub fn arch_of(name: &str, arch: Option<DebArch>) -> DebArch {
    arch.unwrap_or(if name.ends_with("-arm64") {
        DebArch::Arm64
    } else if name.ends_with("-riscv64") {
        DebArch::Riscv64
    } else {
        DebArch::Amd64
    })
}

/// The kernel image in an unpacked package `dir` and its release (from the file name
/// `vmlinuz-<release>` or the directory `modules/<release>/`); `None` if it has none, an
/// error if it has more than one.
pub fn find_kernel(dir: &Path) -> Result<Option<(PathBuf, String)>, String> {
    let mut found = Vec::new();
    for pattern in KERNEL_PATTERNS {
        let full = format!(
            "{}/{pattern}",
            glob::Pattern::escape(&dir.to_string_lossy())
        );
        let paths = glob::glob(&full).map_err(|e| format!("{pattern:?}: {e}"))?;
        for path in paths {
            let path = path.map_err(|e| e.to_string())?;
            if path.is_file() {
                found.push(path);
            }
        }
    }
    match <[PathBuf; 1]>::try_from(found) {
        Ok([path]) => {
            let rel = path.strip_prefix(dir).unwrap_or(&path);
            let release = match rel.file_name().and_then(|f| f.to_str()) {
                Some("vmlinuz") => rel.parent().and_then(|p| p.file_name()),
                Some(file) => file
                    .strip_prefix("vmlinuz-")
                    .or_else(|| file.strip_prefix("vmlinux-"))
                    .map(std::ffi::OsStr::new),
                None => None,
            }
            .map(|r| r.to_string_lossy().into_owned())
            .ok_or_else(|| format!("{} names no kernel release", path.display()))?;
            Ok(Some((path, release)))
        }
        Err(found) if found.is_empty() => Ok(None),
        Err(found) => Err(format!(
            "{} kernel files inside ({}), expected 1",
            found.len(),
            found
                .iter()
                .map(|p| p.strip_prefix(dir).unwrap_or(p).display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// A field of the first stanza of `apt-cache show` output (`SHA256`, `Depends`).
pub fn show_field<'a>(show: &'a str, field: &str) -> Option<&'a str> {
    let stanza = show.split("\n\n").find(|s| !s.trim().is_empty())?;
    stanza
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(str::trim)
}

/// The `linux-binary-*` package a split kernel metapackage depends on, with the version
/// its `(= version)` pins, from its `Depends:` field.
pub fn binary_dependency(depends: &str) -> Option<(String, Option<String>)> {
    depends
        .split([',', '|'])
        .map(str::trim)
        .find(|d| d.starts_with("linux-binary-"))
        .map(|d| {
            let (name, rest) = d.split_once(' ').unwrap_or((d, ""));
            let name = name.split(':').next().unwrap_or(name).to_owned();
            let version = rest
                .trim()
                .strip_prefix("(=")
                .and_then(|r| r.strip_suffix(')'))
                .map(|v| v.trim().to_owned());
            (name, version)
        })
}

/// A kernel fetched from the archive.
#[derive(Debug)]
pub struct Fetched {
    /// The package holding the kernel file (`linux-binary-*` for a split one).
    pub package: String,
    pub version: String,
    pub arch: DebArch,
    pub kernel: PathBuf,
    pub release: String,
}

/// Fetches the package `spec` of `arch` (and, for a split one, its `linux-binary-*`) and
/// returns its kernel. Takes the cache's lock while it uses the private apt state.
pub fn fetch(cache: &Cache, spec: &Spec, arch: DebArch) -> Result<Fetched> {
    let _lock = cache.lock()?;
    let mut apt = Apt::with_unstable(cache.apt_state());
    let label = |name: &str, version: Option<&str>| match version {
        Some(v) => format!("{name} {v} {arch}"),
        None => format!("{name} {arch}"),
    };
    let (version, dir) = fetch_one(cache, &mut apt, &spec.name, spec.version.as_deref(), arch)?;
    let found = find_kernel(&dir).map_err(|reason| Error::Package {
        package: label(&spec.name, Some(&version)),
        reason,
    })?;
    if let Some((kernel, release)) = found {
        return Ok(Fetched {
            package: spec.name.clone(),
            version,
            arch,
            kernel,
            release,
        });
    }
    let show = apt.show(&spec.name, arch, &version)?;
    let no_kernel = |reason: String| Error::Package {
        package: label(&spec.name, Some(&version)),
        reason,
    };
    let (binary, binary_version) = show_field(&show, "Depends")
        .and_then(binary_dependency)
        .ok_or_else(|| {
            no_kernel(format!(
                "no kernel file inside ({}) and no linux-binary-* dependency",
                KERNEL_PATTERNS.join(" or ")
            ))
        })?;
    eprintln!(
        "xtask validate: {} has no kernel file; following its dependency {binary}",
        label(&spec.name, Some(&version))
    );
    let (version, dir) = fetch_one(cache, &mut apt, &binary, binary_version.as_deref(), arch)?;
    let (kernel, release) = find_kernel(&dir)
        .and_then(|f| {
            f.ok_or_else(|| format!("no kernel file inside ({})", KERNEL_PATTERNS.join(" or ")))
        })
        .map_err(|reason| Error::Package {
            package: format!(
                "{} (the kernel of {})",
                label(&binary, Some(&version)),
                spec.name
            ),
            reason,
        })?;
    Ok(Fetched {
        package: binary,
        version,
        arch,
        kernel,
        release,
    })
}

/// Fetches one package: resolves its version (the one asked for, which must be in a known
/// suite, else the newest), makes sure its `.deb` is cached with the archive's SHA256, and
/// keeps its kernel file (if any) in its directory. Returns the version and the directory.
fn fetch_one(
    cache: &Cache,
    apt: &mut Apt,
    name: &str,
    version: Option<&str>,
    arch: DebArch,
) -> Result<(String, PathBuf)> {
    let fail = |version: Option<&str>, reason: String| Error::Package {
        package: match version {
            Some(v) => format!("{name} {v} {arch}"),
            None => format!("{name} {arch}"),
        },
        reason,
    };
    let known = apt.madison(name, arch)?;
    let version = match version {
        None => known
            .first()
            .map(|(v, _)| v.clone())
            .ok_or_else(|| fail(None, format!("no such package in {}", apt.suites())))?,
        Some(v) if known.iter().any(|(k, _)| k == v) => v.to_owned(),
        Some(v) => {
            let there: Vec<String> = known.iter().map(|(v, s)| format!("{v} ({s})")).collect();
            return Err(fail(
                Some(v),
                if there.is_empty() {
                    format!("no such package in {}", apt.suites())
                } else {
                    format!(
                        "no such version in {}; there: {}",
                        apt.suites(),
                        there.join(", ")
                    )
                },
            ));
        }
    };
    let show = apt.show(name, arch, &version)?;
    let expected = show_field(&show, "SHA256")
        .ok_or_else(|| {
            fail(
                Some(&version),
                "`apt-cache show` names no SHA256".to_owned(),
            )
        })?
        .to_owned();

    let file = deb_file_name(name, &version, arch);
    let own = cache.root().join("validate").join("debs");
    std::fs::create_dir_all(&own).map_err(Error::io(&own))?;
    let mut deb = None;
    for candidate in [cache.debs().join(&file), own.join(&file)] {
        if candidate.exists() {
            if sha256_file(&candidate)? == expected {
                deb = Some(candidate);
                break;
            }
            eprintln!(
                "xtask validate: {}: sha256 is not the archive's {expected}, {}",
                candidate.display(),
                if candidate.starts_with(&own) {
                    "deleting it"
                } else {
                    "not using it"
                }
            );
            if candidate.starts_with(&own) {
                std::fs::remove_file(&candidate).map_err(Error::io(&candidate))?;
            }
        }
    }
    let deb = match deb {
        Some(deb) => {
            eprintln!(
                "xtask validate: {name} {version} {arch}: cached, sha256 verified ({})",
                deb.display()
            );
            deb
        }
        None => {
            let spec = format!("{name}:{arch}={version}");
            let got = images::download(cache, apt, &spec).map_err(|e| {
                fail(
                    Some(&version),
                    format!("download failed (apt says why above, e.g. a hash sum mismatch): {e}"),
                )
            })?;
            let deb = own.join(&file);
            std::fs::rename(&got, &deb).map_err(Error::io(&deb))?;
            let actual = sha256_file(&deb)?;
            if actual != expected {
                std::fs::remove_file(&deb).map_err(Error::io(&deb))?;
                return Err(fail(
                    Some(&version),
                    format!(
                        "sha256 mismatch: the download is {actual}, the archive's index says {expected}"
                    ),
                ));
            }
            eprintln!("xtask validate: {name} {version} {arch}: downloaded, sha256 verified");
            deb
        }
    };
    let dir = cache
        .root()
        .join("validate")
        .join(arch.debian())
        .join(format!("{name}_{version}"));
    unpack(cache, &deb, &expected, &dir)
        .map_err(|e| fail(Some(&version), format!("unpacking: {e}")))?;
    Ok((version, dir))
}

/// Unpacks `deb` and keeps only its kernel file in `dir`, unless the marker says this very
/// `.deb` is unpacked there already.
fn unpack(cache: &Cache, deb: &Path, sha256: &str, dir: &Path) -> Result<()> {
    let marker_path = dir.join(MARKER);
    if let Ok(marker) = std::fs::read_to_string(&marker_path) {
        let mut lines = marker.lines();
        let kernel = (lines.next() == Some(sha256)).then(|| lines.next().unwrap_or(""));
        if kernel.is_some_and(|k| k.is_empty() || dir.join(k).is_file()) {
            return Ok(());
        }
    }
    let staging = cache.root().join("validate").join("staging");
    images::remove_dir_if_exists(&staging)?;
    images::remove_dir_if_exists(dir)?;
    std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    Cmd::new("dpkg-deb")
        .arg("-x")
        .arg(deb)
        .arg(&staging)
        .run()?;
    let found = find_kernel(&staging).map_err(|reason| Error::Package {
        package: deb.display().to_string(),
        reason,
    })?;
    let rel = match found {
        Some((from, _)) => {
            let rel = from.strip_prefix(&staging).unwrap_or(&from).to_owned();
            let to = dir.join(&rel);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(Error::io(parent))?;
            }
            std::fs::rename(&from, &to).map_err(Error::io(&to))?;
            rel.display().to_string()
        }
        None => String::new(),
    };
    images::remove_dir_if_exists(&staging)?;
    std::fs::write(&marker_path, format!("{sha256}\n{rel}\n")).map_err(Error::io(&marker_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"kernel").unwrap();
    }

    #[test]
    fn the_kernel_of_a_linux_image_package_up_to_debian_13() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp
            .path()
            .join("linux-image-6.12.118+deb13-amd64_6.12.118-1");
        let k = dir.join("boot/vmlinuz-6.12.118+deb13-amd64");
        touch(&k);
        touch(&dir.join("boot/config-6.12.118+deb13-amd64"));
        touch(&dir.join("usr/lib/modules/6.12.118+deb13-amd64/modules.order"));
        assert_eq!(
            find_kernel(&dir).unwrap(),
            Some((k, "6.12.118+deb13-amd64".to_owned()))
        );
    }

    #[test]
    fn the_kernel_of_a_split_linux_binary_package() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("linux-binary-7.2.13+deb14-amd64_7.2.13-1");
        let k = dir.join("usr/lib/modules/7.2.13+deb14-amd64/vmlinuz");
        touch(&k);
        touch(&dir.join("usr/lib/modules/7.2.13+deb14-amd64/config"));
        assert_eq!(
            find_kernel(&dir).unwrap(),
            Some((k, "7.2.13+deb14-amd64".to_owned()))
        );
    }

    #[test]
    fn a_metapackage_has_no_kernel_and_two_kernels_are_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let meta = tmp.path().join("meta");
        touch(&meta.join("usr/share/doc/linux-image-7.2.13+deb14-amd64/copyright"));
        // A directory named like a kernel is not one.
        std::fs::create_dir_all(meta.join("usr/lib/modules/7.2.13+deb14-amd64/vmlinuz")).unwrap();
        assert_eq!(find_kernel(&meta).unwrap(), None);
        assert_eq!(find_kernel(&tmp.path().join("absent")).unwrap(), None);
        let both = tmp.path().join("both");
        touch(&both.join("boot/vmlinuz-7.2.13+deb14-amd64"));
        touch(&both.join("usr/lib/modules/7.2.13+deb14-amd64/vmlinuz"));
        let err = find_kernel(&both).unwrap_err();
        assert_eq!(
            err,
            "2 kernel files inside (boot/vmlinuz-7.2.13+deb14-amd64, \
             usr/lib/modules/7.2.13+deb14-amd64/vmlinuz), expected 1"
        );
    }

    /// `apt-cache show linux-image-7.2.13+deb14-amd64:amd64=7.2.13-1` as sid's index
    /// printed it (2026-12-07), shortened.
    const SHOW_SPLIT: &str = "\
Package: linux-image-7.2.13+deb14-amd64
Source: linux-signed-amd64 (7.2.13+1)
Version: 7.2.13-1
Installed-Size: 15
Architecture: amd64
Depends: dracut | initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, linux-base-7.2.13+deb14-amd64 (= 7.2.13-1), linux-binary-7.2.13+deb14-amd64 (= 7.2.13-1), linux-modules-7.2.13+deb14-amd64 (= 7.2.13-1)
Pre-Depends: linux-base (>= 4.17~)
Recommends: apparmor
Description: Linux 7.2.13 for 64-bit PCs
Filename: pool/main/l/linux-signed-amd64/linux-image-7.2.13+deb14-amd64_7.2.13-1_amd64.deb
Size: 1892
SHA256: 28dc3dd3c1446246ced2f9e4bf4e93475aae3815d03eaedebe20b168cb944b10

";

    #[test]
    fn a_split_metapackage_leads_to_its_linux_binary() {
        let depends = show_field(SHOW_SPLIT, "Depends").unwrap();
        assert_eq!(
            binary_dependency(depends),
            Some((
                "linux-binary-7.2.13+deb14-amd64".to_owned(),
                Some("7.2.13-1".to_owned())
            ))
        );
        assert_eq!(
            show_field(SHOW_SPLIT, "SHA256"),
            Some("28dc3dd3c1446246ced2f9e4bf4e93475aae3815d03eaedebe20b168cb944b10")
        );
        // "Pre-Depends" is not "Depends", "Package" not "Packages".
        assert_eq!(show_field("Pre-Depends: a\n", "Depends"), None);
        assert_eq!(show_field(SHOW_SPLIT, "Packages"), None);
        // A linux-image of Debian 13 depends on no linux-binary; one without a version
        // pin gets none.
        let old = "Depends: kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool";
        assert_eq!(binary_dependency(old), None);
        assert_eq!(
            binary_dependency("linux-binary-7.2.13+deb14-arm64:arm64"),
            Some(("linux-binary-7.2.13+deb14-arm64".to_owned(), None))
        );
        // Only the first stanza counts (a version in two suites is shown twice).
        let two = format!("{SHOW_SPLIT}Package: x\nSHA256: other\n\n");
        assert_eq!(show_field(&two, "SHA256"), show_field(SHOW_SPLIT, "SHA256"));
    }

    #[test]
    fn package_specs_and_their_architecture() {
        assert_eq!(
            Spec::parse("linux-image-7.2.13+deb14-amd64").unwrap(),
            Spec {
                name: "linux-image-7.2.13+deb14-amd64".into(),
                version: None
            }
        );
        let s = Spec::parse("linux-image-6.12.118+deb13-arm64=6.12.118-1").unwrap();
        assert_eq!(s.version.as_deref(), Some("6.12.118-1"));
        assert!(Spec::parse("").is_err());
        assert!(Spec::parse("=1.0").is_err());
        assert!(Spec::parse("Linux-Image").is_err());
        assert!(Spec::parse("linux-image-amd64=").is_err());
        assert_eq!(arch_of(&s.name, None), DebArch::Arm64);
        assert_eq!(
            arch_of("linux-image-7.2.13+deb14-amd64", None),
            DebArch::Amd64
        );
        assert_eq!(
            arch_of("linux-image-amd64", Some(DebArch::Arm64)),
            DebArch::Arm64
        );
    }
}
