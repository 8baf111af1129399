//! Finding the running kernel's image and initrd on disk, the way each distribution names
//! them, for `warmboot load --current`.
//!
//! The release R is `/proc/sys/kernel/osrelease`. Candidates, in order (the first whose
//! kernel file exists wins):
//!
//! 1. `BOOT_IMAGE=` of the running command line (GRUB's path, relative to /boot when /boot
//!    is its own partition, with any `(hd0,gpt2)` device prefix removed), if the file
//!    exists and its name contains R;
//! 2. Boot Loader Spec type #1 entries (`loader/entries/*.conf` under /boot, /efi,
//!    /boot/efi; uapi-group.org/specifications/specs/boot_loader_specification) whose
//!    `version` is R or whose `linux` path ends in R; paths are relative to the partition
//!    holding the entry (or to / where /boot is no partition of its own);
//! 3. Debian/Ubuntu `/boot/vmlinuz-R` with `/boot/initrd.img-R`; Fedora/RHEL/SUSE
//!    `/boot/vmlinuz-R` with `/boot/initramfs-R.img` (or `initrd-R`);
//! 4. Arch `/boot/vmlinuz-linux{,-lts,-zen,-hardened}` with `initramfs-linux*.img`, taken
//!    only when the image's own version string starts with R (the name says nothing);
//! 5. Unified kernel images in `EFI/Linux/*.efi` of the ESP (/efi, /boot/efi, /boot) whose
//!    `.uname` section is R; the initrd is inside the UKI.
//!
//! Invariant: everything is read through [`HostRoot`], so tests point it at fixture trees.

use crate::error::{Error, Result};
use crate::host::HostRoot;
use crate::image::KernelImage;
use std::path::{Path, PathBuf};

/// The running kernel's files, as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentKernel {
    /// The kernel image (a path under the host root).
    pub kernel: PathBuf,
    /// The initrd, if the layout has one (a UKI carries its own).
    pub initrd: Option<PathBuf>,
    /// Which rule found them, e.g. "Debian/Ubuntu naming" (shown to the administrator).
    pub how: String,
}

/// One Boot Loader Spec type #1 entry: the keys warmboot uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlsEntry {
    pub title: Option<String>,
    pub version: Option<String>,
    pub linux: Option<String>,
    /// `initrd` may repeat; the spec loads them in order.
    pub initrd: Vec<String>,
    pub options: Vec<String>,
}

/// Parses a BLS entry: `key value` lines, `#` comments, unknown keys ignored (the spec
/// says so).
pub fn parse_bls_entry(text: &str) -> BlsEntry {
    let mut e = BlsEntry::default();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = match line.split_once(char::is_whitespace) {
            Some((k, v)) => (k, v.trim().to_string()),
            None => (line, String::new()),
        };
        match k {
            "title" => e.title = Some(v),
            "version" => e.version = Some(v),
            "linux" => e.linux = Some(v),
            "initrd" => e.initrd.push(v),
            "options" => e.options.push(v),
            _ => {}
        }
    }
    e
}

/// The path BOOT_IMAGE= names, without a GRUB device prefix: `(hd0,gpt2)/vmlinuz-R` →
/// `/vmlinuz-R`.
pub fn boot_image_path(cmdline: &str) -> Option<&str> {
    let v = cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix("BOOT_IMAGE="))?;
    let v = match v.strip_prefix('(') {
        Some(rest) => rest.split_once(')').map_or(rest, |(_, p)| p),
        None => v,
    };
    (!v.is_empty()).then_some(v)
}

/// Directories holding BLS entries, each with the partition root its paths are relative to.
const BLS_ROOTS: [&str; 3] = ["/boot", "/efi", "/boot/efi"];
/// ESP mount points searched for `EFI/Linux/*.efi`.
const ESP_ROOTS: [&str; 3] = ["/efi", "/boot/efi", "/boot"];
/// Arch Linux kernel package names (`vmlinuz-<pkgbase>`, `initramfs-<pkgbase>.img`).
const ARCH_PKGBASES: [&str; 4] = ["linux", "linux-lts", "linux-zen", "linux-hardened"];

/// Finds the running kernel's image and initrd under `host` (see the module doc).
pub fn find_current(host: &HostRoot) -> Result<CurrentKernel> {
    let release = host.os_release()?;
    if release.is_empty() || release.contains('/') {
        return Err(
            Error::invalid("kernel release", format!("{release:?} cannot name a file"))
                .in_file(host.path("/proc/sys/kernel/osrelease")),
        );
    }
    let r = release.as_str();
    let exists = |rel: &str| host.path(rel).is_file();
    let pick = |kernel: &str, initrds: &[String], how: &str| CurrentKernel {
        kernel: host.path(kernel),
        initrd: initrds.iter().find(|i| exists(i)).map(|i| host.path(i)),
        how: how.to_string(),
    };
    let std_initrds = |dir: &str| {
        vec![
            format!("{dir}/initrd.img-{r}"),
            format!("{dir}/initramfs-{r}.img"),
            format!("{dir}/initrd-{r}"),
        ]
    };

    // 1. BOOT_IMAGE=
    if let Some(cmdline) = host.read_optional("/proc/cmdline")? {
        if let Some(p) = boot_image_path(cmdline.trim_end()) {
            if p.contains(r) {
                for dir in ["", "/boot"] {
                    let k = format!("{dir}/{}", p.trim_start_matches('/'));
                    if exists(&k) {
                        let parent = Path::new(&k)
                            .parent()
                            .and_then(Path::to_str)
                            .unwrap_or("/boot")
                            .to_string();
                        return Ok(pick(
                            &k,
                            &std_initrds(&parent),
                            "BOOT_IMAGE= of the running command line",
                        ));
                    }
                }
            }
        }
    }

    // 2. Boot Loader Spec entries.
    for root in BLS_ROOTS {
        let dir = format!("{root}/loader/entries");
        let mut names = list_dir(host, &dir)?;
        names.retain(|n| n.ends_with(".conf"));
        names.sort();
        for name in names {
            let rel = format!("{dir}/{name}");
            let e = parse_bls_entry(&host.read_string(&rel)?);
            let Some(linux) = &e.linux else { continue };
            let matches = e.version.as_deref() == Some(r) || linux.ends_with(r);
            if !matches {
                continue;
            }
            // Paths are relative to the entry's partition; where /boot is no partition
            // of its own, GRUB's entries name /boot/... from the root file system.
            let Some(base) = [root, ""]
                .into_iter()
                .find(|b| exists(&format!("{b}/{}", linux.trim_start_matches('/'))))
            else {
                continue;
            };
            let k = format!("{base}/{}", linux.trim_start_matches('/'));
            let initrds: Vec<String> = e
                .initrd
                .iter()
                .map(|i| format!("{base}/{}", i.trim_start_matches('/')))
                .collect();
            if e.initrd.len() > 1 {
                return Err(Error::Unsupported(format!(
                    "{} lists {} initrds; warmboot loads one (give --initrd with them concatenated)",
                    host.path(&rel).display(),
                    e.initrd.len()
                )));
            }
            return Ok(pick(
                &k,
                &initrds,
                &format!("Boot Loader Spec entry {}", host.path(&rel).display()),
            ));
        }
    }

    // 3. Debian/Ubuntu and Fedora/RHEL names.
    let k = format!("/boot/vmlinuz-{r}");
    if exists(&k) {
        let how = if exists(&format!("/boot/initrd.img-{r}")) {
            "Debian/Ubuntu naming (/boot/vmlinuz-R, /boot/initrd.img-R)"
        } else if exists(&format!("/boot/initramfs-{r}.img")) {
            "Fedora/RHEL naming (/boot/vmlinuz-R, /boot/initramfs-R.img)"
        } else {
            "/boot/vmlinuz-R"
        };
        return Ok(pick(&k, &std_initrds("/boot"), how));
    }

    // 4. Arch: the name carries no release, the image's version does.
    for base in ARCH_PKGBASES {
        let k = format!("/boot/vmlinuz-{base}");
        if exists(&k) && image_version_is(host, &k, r)? {
            return Ok(pick(
                &k,
                &[format!("/boot/initramfs-{base}.img")],
                "Arch naming (/boot/vmlinuz-linux, version checked in the image)",
            ));
        }
    }

    // 5. UKIs in the ESP.
    for esp in ESP_ROOTS {
        let dir = format!("{esp}/EFI/Linux");
        let mut names = list_dir(host, &dir)?;
        names.retain(|n| n.to_ascii_lowercase().ends_with(".efi"));
        names.sort();
        for name in names {
            let rel = format!("{dir}/{name}");
            if uki_uname_is(host, &rel, r)? {
                return Ok(CurrentKernel {
                    kernel: host.path(&rel),
                    initrd: None,
                    how: "unified kernel image in the ESP (.uname matches)".to_string(),
                });
            }
        }
    }

    Err(Error::Unsupported(format!(
        "cannot find the running kernel {r} under {}: looked for BOOT_IMAGE=, Boot Loader Spec entries, /boot/vmlinuz-{r}, /boot/vmlinuz-linux* and EFI/Linux/*.efi; give the kernel file instead of --current",
        host.root().display()
    )))
}

/// File names in `rel` (empty when the directory is absent).
fn list_dir(host: &HostRoot, rel: &str) -> Result<Vec<String>> {
    let dir = host.path(rel);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::Io(e).in_file(dir)),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(|e| Error::Io(e).in_file(&dir))?;
        if let Some(n) = e.file_name().to_str() {
            out.push(n.to_string());
        }
    }
    Ok(out)
}

/// Whether the kernel image at `rel` reports a version starting with `release` (an
/// unparsable file is simply not the running kernel).
fn image_version_is(host: &HostRoot, rel: &str, release: &str) -> Result<bool> {
    let data = host.read_bytes(rel)?;
    Ok(KernelImage::parse(&data)
        .ok()
        .and_then(|i| i.version().map(|v| version_matches(v, release)))
        .unwrap_or(false))
}

/// Whether the UKI at `rel` has `.uname` equal to `release`.
fn uki_uname_is(host: &HostRoot, rel: &str, release: &str) -> Result<bool> {
    let data = host.read_bytes(rel)?;
    Ok(match KernelImage::parse(&data) {
        Ok(KernelImage::Uki(u)) => u.uname.as_deref().map(str::trim) == Some(release),
        _ => false,
    })
}

/// A kernel version string ("6.6.1-arch1-1 (linux@archlinux) #1 SMP ...") belongs to
/// `release` when its first word is exactly the release.
pub fn version_matches(version: &str, release: &str) -> bool {
    version.split_whitespace().next() == Some(release)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bls_entry_keys() {
        let e = parse_bls_entry(
            "# comment\ntitle Fedora Linux (6.5.6-300.fc39.x86_64) 39\nversion 6.5.6-300.fc39.x86_64\nlinux /vmlinuz-6.5.6-300.fc39.x86_64\ninitrd /initramfs-6.5.6-300.fc39.x86_64.img\noptions root=UUID=abc ro rhgb quiet\ngrub_users $grub_users\n",
        );
        assert_eq!(e.version.as_deref(), Some("6.5.6-300.fc39.x86_64"));
        assert_eq!(e.linux.as_deref(), Some("/vmlinuz-6.5.6-300.fc39.x86_64"));
        assert_eq!(e.initrd, vec!["/initramfs-6.5.6-300.fc39.x86_64.img"]);
        assert_eq!(e.options, vec!["root=UUID=abc ro rhgb quiet"]);
        assert_eq!(
            e.title.as_deref(),
            Some("Fedora Linux (6.5.6-300.fc39.x86_64) 39")
        );
    }

    #[test]
    fn boot_image_prefixes() {
        assert_eq!(
            boot_image_path("BOOT_IMAGE=/boot/vmlinuz-6.1.0-56-amd64 root=/dev/vda1"),
            Some("/boot/vmlinuz-6.1.0-56-amd64")
        );
        assert_eq!(
            boot_image_path("BOOT_IMAGE=(hd0,gpt2)/vmlinuz-6.5.6 ro"),
            Some("/vmlinuz-6.5.6")
        );
        assert_eq!(boot_image_path("root=/dev/vda1"), None);
        assert_eq!(boot_image_path("BOOT_IMAGE= ro"), None);
    }

    #[test]
    fn versions_match_on_the_first_word() {
        assert!(version_matches(
            "6.6.1-arch1-1 (linux@archlinux) #1 SMP PREEMPT_DYNAMIC",
            "6.6.1-arch1-1"
        ));
        assert!(!version_matches("6.6.1-arch1-10 (x)", "6.6.1-arch1-1"));
    }
}
