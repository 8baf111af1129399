//! `cargo xtask images`: fetch, verify and unpack the pinned Debian packages of
//! images/manifest.toml into the cache, and write `<cache>/kernels.json` for the tests.
//!
//! Idempotent: a package whose `.deb` is cached with the pinned sha256 and whose files are
//! unpacked is left alone, and a run with nothing to do needs no network. When a pinned
//! version has left the archive the current one is fetched instead and reported loudly,
//! with its sha256, so the manifest can be updated.

use crate::apt::Apt;
use crate::cache::{deb_file_name, Cache};
use crate::cmd::Cmd;
use crate::error::{Error, Result};
use crate::host;
use crate::index::{release_of, series_of, series_order, KernelEntry, KernelIndex};
use crate::manifest::{self, DebArch, Package};
use crate::shared_libs;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Host packages `images` runs (apt-get, apt-cache, dpkg-deb).
const HOST_PACKAGES: &[&str] = &["apt", "dpkg"];

/// Marker written last into a package directory: the sha256 of the `.deb` and the patterns
/// its files were kept by. A directory without a matching marker is unpacked again.
const MARKER: &str = ".warmboot-unpacked";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ArchChoice {
    #[value(name = "x86_64")]
    X86_64,
    Arm64,
    Riscv64,
    All,
}

impl ArchChoice {
    fn includes(self, arch: DebArch) -> bool {
        match self {
            ArchChoice::X86_64 => arch == DebArch::Amd64,
            ArchChoice::Arm64 => arch == DebArch::Arm64,
            ArchChoice::Riscv64 => arch == DebArch::Riscv64,
            ArchChoice::All => true,
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Which architecture's packages to fetch.
    #[arg(long, value_enum, default_value = "all")]
    pub arch: ArchChoice,
    /// Which kernel series to fetch (`6.1`, `6.12`; repeat or separate with commas);
    /// default: every series of the manifest. The other packages of the architecture are
    /// always fetched.
    #[arg(long, value_name = "SERIES", value_delimiter = ',')]
    pub series: Vec<String>,
    /// The manifest to use instead of images/manifest.toml.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
}

impl Default for Args {
    fn default() -> Args {
        Args {
            arch: ArchChoice::All,
            series: Vec::new(),
            manifest: None,
        }
    }
}

/// The packages of `manifest` a run with `arch` and `series` fetches: every package of the
/// chosen architectures, except kernels of a series not asked for. A series no chosen
/// architecture pins is an error, so a typo does not silently fetch nothing.
fn wanted<'m>(
    manifest: &'m manifest::Manifest,
    arch: ArchChoice,
    series: &[String],
) -> Result<Vec<&'m Package>, String> {
    let of_arch: Vec<&Package> = manifest
        .packages
        .iter()
        .filter(|p| arch.includes(p.arch))
        .collect();
    for s in series {
        if !of_arch.iter().any(|p| p.series.as_ref() == Some(s)) {
            let mut pinned: Vec<&str> =
                of_arch.iter().filter_map(|p| p.series.as_deref()).collect();
            pinned.sort_by_key(|s| series_order(s));
            pinned.dedup();
            return Err(format!(
                "no kernel of series {s:?} for the chosen architecture (pinned: {})",
                pinned.join(", ")
            ));
        }
    }
    Ok(of_arch
        .into_iter()
        .filter(|p| match &p.series {
            Some(s) => series.is_empty() || series.contains(s),
            None => true,
        })
        .collect())
}

/// A `.deb` in the cache, and what it really is.
struct Deb {
    path: PathBuf,
    name: String,
    version: String,
    sha256: String,
    /// Set when the pinned version was gone and this is its replacement.
    replaced: bool,
}

pub fn run(root: &Path, args: &Args) -> Result<()> {
    host::ensure_packages(HOST_PACKAGES)?;
    // What booting the guests needs: installed as root on Debian, else named (the kernels
    // are still fetched, so the parser tests can run without QEMU).
    if let Err(e) = host::ensure_guest_tools() {
        eprintln!("xtask images: warning: {e}");
    }
    let manifest_path = args
        .manifest
        .clone()
        .unwrap_or_else(|| root.join("images").join("manifest.toml"));
    let manifest = manifest::load(&manifest_path)?;
    let cache = Cache::from_env()?;
    let _lock = cache.lock()?;
    for dir in [cache.debs(), cache.incoming()] {
        std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
    }
    eprintln!("xtask images: cache {}", cache.root().display());

    let mut apt = Apt::new(cache.apt_state());
    let index_path = cache.kernels_index();
    // An index this run cannot read (an older layout, written by an older checkout) is
    // rebuilt from the packages instead of stopping the run.
    let old_index = KernelIndex::load_or_default(&index_path).unwrap_or_else(|e| {
        eprintln!("xtask images: warning: {e}; writing it anew");
        KernelIndex::default()
    });
    let mut index = old_index.clone();
    let mut work_done = false;
    let mut replacements = Vec::new();
    let wanted = wanted(&manifest, args.arch, &args.series).map_err(|reason| Error::Manifest {
        path: manifest_path.clone(),
        reason,
    })?;
    // Series the manifest no longer pins leave the index (other architectures' and series'
    // entries stay, as --arch and --series promise).
    for (arch, kernels) in index.0.iter_mut() {
        kernels.retain(|series, _| {
            manifest
                .packages
                .iter()
                .any(|p| p.arch.warmboot() == arch && p.series.as_ref() == Some(series))
        });
    }
    index.0.retain(|_, kernels| !kernels.is_empty());

    let mut kept = Vec::new();
    for pkg in &wanted {
        let (deb, downloaded) = fetch(&cache, &mut apt, pkg)?;
        let dir = cache.package_dir(pkg.arch, &deb.name, &deb.version);
        let unpacked = unpack(&cache, pkg, &deb, &dir)?;
        kept.push((pkg.arch, deb.name.clone(), dir.clone()));
        work_done |= downloaded || unpacked;
        eprintln!(
            "xtask images: {} {} {}: {}{}",
            deb.name,
            deb.version,
            pkg.arch,
            match (downloaded, deb.replaced) {
                (true, false) => "downloaded, sha256 verified",
                (false, false) => "cached, sha256 verified",
                (_, true) => "REPLACEMENT for the pinned version, sha256 NOT checked",
            },
            if unpacked { ", unpacked" } else { "" },
        );
        if deb.replaced {
            replacements.push(replacement_notice(pkg, &deb));
        }
        if let (Some(pattern), Some(series)) = (&pkg.kernel, &pkg.series) {
            let path = single_match(&dir, pattern, &deb.name)?;
            let release = kernel_release(&path, series).map_err(|reason| Error::Package {
                package: format!("{} {} {}", deb.name, deb.version, pkg.arch),
                reason,
            })?;
            index.insert(
                pkg.arch.warmboot(),
                KernelEntry {
                    path,
                    package: deb.name.clone(),
                    version: deb.version.clone(),
                    sha256: deb.sha256.clone(),
                    series: series.clone(),
                    release,
                },
            );
        }
    }

    if index != old_index || !index_path.exists() {
        index.store(&index_path)?;
        eprintln!("xtask images: wrote {}", index_path.display());
        work_done = true;
    }
    let libraries = check_shared_libraries(&kept);
    if libraries.is_ok() {
        eprintln!("xtask images: shared libraries of the kept ELF files: all present");
        if !work_done && replacements.is_empty() {
            eprintln!(
                "xtask images: nothing to do: all {} packages present and verified",
                wanted.len()
            );
        }
    }
    // Repeated last, where nobody misses them, even when the library check failed.
    for notice in &replacements {
        eprintln!("{notice}");
    }
    libraries
}

/// The release of the kernel image at `path` (`vmlinuz-<release>`), checked to be of the
/// series the manifest pins: a replacement resolved from a metapackage must not slip from
/// one series into another.
fn kernel_release(path: &Path, series: &str) -> Result<String, String> {
    let release = release_of(path).ok_or_else(|| {
        format!(
            "kernel file {} is not named vmlinuz-<major>.<minor>…",
            path.display()
        )
    })?;
    match series_of(&release) {
        Some(s) if s == series => Ok(release),
        _ => Err(format!(
            "kernel release {release} is not of the pinned series {series}"
        )),
    }
}

/// Runs the shared-library check per architecture over the kept package directories.
fn check_shared_libraries(kept: &[(DebArch, String, PathBuf)]) -> Result<()> {
    for arch in DebArch::ALL {
        let mut files = Vec::new();
        for (_, name, dir) in kept.iter().filter(|(a, _, _)| *a == arch) {
            files.extend(shared_libs::kept_files(name, dir)?);
        }
        shared_libs::check(arch, &files)?;
    }
    Ok(())
}

/// Makes sure the package's `.deb` is in the cache and verified; returns it and whether it
/// was downloaded by this call.
fn fetch(cache: &Cache, apt: &mut Apt, pkg: &Package) -> Result<(Deb, bool)> {
    let pinned = cache
        .debs()
        .join(deb_file_name(&pkg.name, &pkg.version, pkg.arch));
    if pinned.exists() {
        let actual = sha256_file(&pinned)?;
        if actual == pkg.sha256 {
            return Ok((pinned_deb(pkg, pinned), false));
        }
        eprintln!(
            "xtask images: {}: sha256 {actual} is not the pinned one, downloading again",
            pinned.display()
        );
        std::fs::remove_file(&pinned).map_err(Error::io(&pinned))?;
    }

    let suites = pkg.apt_suites();
    if apt.has_version(&pkg.name, pkg.arch, &pkg.version, &suites)? {
        let got = download(cache, apt, &pkg.apt_spec())?;
        std::fs::rename(&got, &pinned).map_err(Error::io(&pinned))?;
        let actual = sha256_file(&pinned)?;
        if actual != pkg.sha256 {
            std::fs::remove_file(&pinned).map_err(Error::io(&pinned))?;
            return Err(Error::Sha256Mismatch {
                path: pinned,
                expected: pkg.sha256.clone(),
                actual,
            });
        }
        return Ok((pinned_deb(pkg, pinned), true));
    }

    // The pinned version has left the archive: take the current one of the same Debian
    // release and say so.
    let gone = |reason: String| Error::Package {
        package: pkg.label(),
        reason: format!("pinned version is gone and {reason}"),
    };
    let name = match &pkg.resolve {
        Some(meta) => {
            let meta_version = apt
                .newest_in(meta, pkg.arch, &suites)?
                .ok_or_else(|| gone(format!("{meta}:{} is not in {}", pkg.arch, pkg.suite)))?;
            apt.depends(meta, pkg.arch, &meta_version)?
                .into_iter()
                .next()
                .ok_or_else(|| gone(format!("{meta} {meta_version} depends on nothing")))?
        }
        None => pkg.name.clone(),
    };
    let version = apt
        .newest_in(&name, pkg.arch, &suites)?
        .ok_or_else(|| gone(format!("{name}:{} is not in {}", pkg.arch, pkg.suite)))?;
    eprintln!(
        "\n!!!!!! xtask images: PINNED VERSION GONE: {} is not in the archive any more; using {name} {version} instead\n",
        pkg.label()
    );
    let path = cache.debs().join(deb_file_name(&name, &version, pkg.arch));
    let downloaded = !path.exists();
    if downloaded {
        let got = download(cache, apt, &format!("{name}:{}={version}", pkg.arch))?;
        std::fs::rename(&got, &path).map_err(Error::io(&path))?;
    }
    let sha256 = sha256_file(&path)?;
    Ok((
        Deb {
            path,
            name,
            version,
            sha256,
            replaced: true,
        },
        downloaded,
    ))
}

fn pinned_deb(pkg: &Package, path: PathBuf) -> Deb {
    Deb {
        path,
        name: pkg.name.clone(),
        version: pkg.version.clone(),
        sha256: pkg.sha256.clone(),
        replaced: false,
    }
}

fn replacement_notice(pkg: &Package, deb: &Deb) -> String {
    format!(
        "\n!!!!!! PINNED PACKAGE REPLACED: {pinned} has left the archive.\n\
         !!!!!! Fetched {name} {version} {arch} instead; its sha256 could not be checked against a pin.\n\
         !!!!!! Update images/manifest.toml:\n\
         !!!!!!   name = \"{name}\"\n\
         !!!!!!   version = \"{version}\"\n\
         !!!!!!   sha256 = \"{sha}\"\n",
        pinned = pkg.label(),
        name = deb.name,
        version = deb.version,
        arch = pkg.arch,
        sha = deb.sha256,
    )
}

/// Runs `apt-get download` in an emptied incoming directory and returns the one file it wrote.
pub fn download(cache: &Cache, apt: &mut Apt, spec: &str) -> Result<PathBuf> {
    let incoming = cache.incoming();
    remove_dir_if_exists(&incoming)?;
    std::fs::create_dir_all(&incoming).map_err(Error::io(&incoming))?;
    apt.download(spec, &incoming)?;
    let mut debs = Vec::new();
    for entry in std::fs::read_dir(&incoming).map_err(Error::io(&incoming))? {
        let path = entry.map_err(Error::io(&incoming))?.path();
        if path.extension().is_some_and(|e| e == "deb") {
            debs.push(path);
        }
    }
    match <[PathBuf; 1]>::try_from(debs) {
        Ok([deb]) => Ok(deb),
        Err(debs) => Err(Error::Package {
            package: spec.to_owned(),
            reason: format!(
                "apt-get download left {} .deb files in {}, expected 1",
                debs.len(),
                incoming.display()
            ),
        }),
    }
}

/// Unpacks the `.deb` and keeps only the files the manifest asks for. Returns whether it
/// had to (false when the marker says this exact `.deb` is already unpacked).
fn unpack(cache: &Cache, pkg: &Package, deb: &Deb, dir: &Path) -> Result<bool> {
    let marker_path = dir.join(MARKER);
    let marker = format!("{}\n{}\n", deb.sha256, pkg.files.join("\n"));
    if std::fs::read_to_string(&marker_path).ok().as_deref() == Some(marker.as_str()) {
        let mut complete = true;
        for pattern in &pkg.files {
            complete &= !glob_in(dir, pattern, &deb.name)?.is_empty();
        }
        if complete {
            return Ok(false);
        }
    }
    let staging = cache.staging();
    remove_dir_if_exists(&staging)?;
    remove_dir_if_exists(dir)?;
    std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    Cmd::new("dpkg-deb")
        .arg("-x")
        .arg(&deb.path)
        .arg(&staging)
        .run()?;
    for pattern in &pkg.files {
        let matches = glob_in(&staging, pattern, &deb.name)?;
        if matches.is_empty() {
            return Err(Error::Package {
                package: format!("{} {}", deb.name, deb.version),
                reason: format!("no file matches {pattern:?} in {}", deb.path.display()),
            });
        }
        for from in matches {
            let rel = from.strip_prefix(&staging).unwrap_or(&from);
            let to = dir.join(rel);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(Error::io(parent))?;
            }
            std::fs::rename(&from, &to).map_err(Error::io(&to))?;
        }
    }
    remove_dir_if_exists(&staging)?;
    std::fs::write(&marker_path, marker).map_err(Error::io(&marker_path))?;
    Ok(true)
}

/// The paths under `dir` matching `pattern` (a manifest pattern, relative to `dir`).
pub fn glob_in(dir: &Path, pattern: &str, package: &str) -> Result<Vec<PathBuf>> {
    let full = format!(
        "{}/{pattern}",
        glob::Pattern::escape(&dir.to_string_lossy())
    );
    let bad = |reason: String| Error::Package {
        package: package.to_owned(),
        reason,
    };
    glob::glob(&full)
        .map_err(|e| bad(format!("file pattern {pattern:?}: {e}")))?
        .map(|m| m.map_err(|e| bad(e.to_string())))
        .collect()
}

/// The one file in `dir` matching `pattern`; anything else is an error.
fn single_match(dir: &Path, pattern: &str, package: &str) -> Result<PathBuf> {
    let mut found = glob_in(dir, pattern, package)?;
    match found.len() {
        1 => Ok(found.remove(0)),
        n => Err(Error::Package {
            package: package.to_owned(),
            reason: format!(
                "kernel pattern {pattern:?} matches {n} files in {}, expected 1",
                dir.display()
            ),
        }),
    }
}

pub fn remove_dir_if_exists(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(dir)(e)),
        _ => Ok(()),
    }
}

/// sha256 of a file as lowercase hex, streamed (kernel packages are ~70 MB).
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(Error::io(path))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = match std::io::Read::read(&mut file, &mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(path)(e)),
        };
        hasher.update(&buffer[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Fetches the pinned packages and installs the guest tools, once per xtask process.
pub fn prepare(root: &Path) -> Result<()> {
    static DONE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    if DONE.get().is_some() {
        return Ok(());
    }
    crate::host::ensure_guest_tools()?;
    run(root, &Args::default())?;
    let _ = DONE.set(());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_a_known_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(
            sha256_file(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn arch_choice_filters() {
        assert!(ArchChoice::X86_64.includes(DebArch::Amd64));
        assert!(!ArchChoice::X86_64.includes(DebArch::Arm64));
        assert!(!ArchChoice::Arm64.includes(DebArch::Amd64));
        assert!(ArchChoice::All.includes(DebArch::Arm64));
    }

    #[test]
    fn series_choose_kernels_and_keep_the_other_packages() {
        let text = r#"
[[package]]
name = "linux-image-6.1.0-56-amd64"
arch = "amd64"
version = "6.1.192-2"
sha256 = "a86e2049672f52354c4536a089203b6c82639420424d31c91cf31a181fd4d8f1"
files = ["boot/vmlinuz-*"]
kernel = "boot/vmlinuz-*"
series = "6.1"

[[package]]
name = "linux-image-6.12.118+deb13-amd64"
arch = "amd64"
version = "6.12.118-1"
sha256 = "a86e2049672f52354c4536a089203b6c82639420424d31c91cf31a181fd4d8f1"
files = ["boot/vmlinuz-*"]
kernel = "boot/vmlinuz-*"
series = "6.12"
suite = "trixie"

[[package]]
name = "busybox-static"
arch = "amd64"
version = "1:1.35.0-4+deb12u1+b1"
sha256 = "3d3fdbe91d4660c873e14b092c213fe81c1da6362daa236eb25d0171eb108744"
files = ["bin/busybox"]

[[package]]
name = "linux-image-6.12.118+deb13-arm64"
arch = "arm64"
version = "6.12.118-1"
sha256 = "a86e2049672f52354c4536a089203b6c82639420424d31c91cf31a181fd4d8f1"
files = ["boot/vmlinuz-*"]
kernel = "boot/vmlinuz-*"
series = "6.12"
suite = "trixie"
"#;
        let m = manifest::parse(text).unwrap();
        let names = |arch, series: &[&str]| -> Result<Vec<String>, String> {
            let series: Vec<String> = series.iter().map(|s| s.to_string()).collect();
            Ok(wanted(&m, arch, &series)?
                .iter()
                .map(|p| format!("{}:{}", p.name, p.arch))
                .collect())
        };
        assert_eq!(names(ArchChoice::All, &[]).unwrap().len(), 4);
        assert_eq!(
            names(ArchChoice::X86_64, &["6.12"]).unwrap(),
            [
                "linux-image-6.12.118+deb13-amd64:amd64",
                "busybox-static:amd64"
            ]
        );
        assert_eq!(
            names(ArchChoice::All, &["6.1"]).unwrap(),
            ["linux-image-6.1.0-56-amd64:amd64", "busybox-static:amd64"]
        );
        assert_eq!(
            names(ArchChoice::Arm64, &["6.1"]).unwrap_err(),
            "no kernel of series \"6.1\" for the chosen architecture (pinned: 6.12)"
        );
        assert!(names(ArchChoice::All, &["6.2"])
            .unwrap_err()
            .contains("pinned: 6.1, 6.12"));
    }

    #[test]
    fn a_kernel_of_another_series_is_refused() {
        let p = Path::new("/c/boot/vmlinuz-6.12.118+deb13-amd64");
        assert_eq!(kernel_release(p, "6.12").unwrap(), "6.12.118+deb13-amd64");
        assert_eq!(
            kernel_release(p, "6.1").unwrap_err(),
            "kernel release 6.12.118+deb13-amd64 is not of the pinned series 6.1"
        );
        assert!(kernel_release(Path::new("/c/boot/Image"), "6.1")
            .unwrap_err()
            .contains("not named vmlinuz-"));
    }

    #[test]
    fn the_series_option_takes_commas_and_repeats() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: Args,
        }
        let a = Cli::parse_from(["x", "--series", "6.1,6.12", "--series", "7.2"]).args;
        assert_eq!(a.series, ["6.1", "6.12", "7.2"]);
        assert_eq!(a.arch, ArchChoice::All);
        assert!(Cli::parse_from(["x"]).args.series.is_empty());
    }

    #[test]
    fn glob_keeps_patterns_relative_and_escapes_the_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a[1]");
        std::fs::create_dir_all(dir.join("boot")).unwrap();
        std::fs::write(dir.join("boot/vmlinuz-6.1"), b"k").unwrap();
        std::fs::write(dir.join("boot/config-6.1"), b"c").unwrap();
        assert_eq!(
            single_match(&dir, "boot/vmlinuz-*", "p").unwrap(),
            dir.join("boot/vmlinuz-6.1")
        );
        assert_eq!(glob_in(&dir, "boot/*", "p").unwrap().len(), 2);
        let err = single_match(&dir, "boot/*", "p").unwrap_err().to_string();
        assert!(err.contains("matches 2 files"), "{err}");
    }
}
