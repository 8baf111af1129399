//! The EFI system partition a Secure Boot guest boots from (`--firmware secureboot`): a
//! FAT image, made without root by mkfs.vfat (dosfstools) and mtools, holding Debian's
//! signed boot chain and the harness's kernel, initramfs and command line:
//!
//! ```text
//! EFI/BOOT/BOOTX64.EFI   shim (shim-signed; signed by Microsoft's UEFI CA, in OVMF's db)
//! EFI/BOOT/grubx64.efi   GRUB (grub-efi-amd64-signed; signed by Debian, trusted by shim)
//! EFI/BOOT/grub.cfg      linux + initrd + boot, with the run's command line
//! vmlinuz                the Debian kernel (signed by Debian; GRUB checks it through shim)
//! initrd.cpio            the test initramfs
//! ```
//!
//! The removable-media path `EFI/BOOT/BOOTX64.EFI` is what the firmware boots from a disk
//! without boot entries (UEFI spec 2.10, 3.5.1.1). shim loads `grubx64.efi` from its own
//! directory (shim's DEFAULT_LOADER). Debian's signed GRUB is a monolithic image whose
//! embedded config (grub2's debian/build-efi-images, `grub-bootstrap.cfg`) sources
//! `$prefix/grub.cfg` when /EFI/debian or /boot/grub exists and otherwise
//! `$cmdpath/grub.cfg`, the directory GRUB was loaded from: EFI/BOOT here.
//!
//! Images are cached by content under target/xtask/esp/ (the SHA-256 of every input), so a
//! retried run reuses its image; the images of earlier invocations are removed.

use crate::cmd::Cmd;
use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The Debian packages a Secure Boot guest needs on the host: its firmware (ovmf), the
/// signed chain, and the tools that make the FAT image without root.
pub const PACKAGES: &[&str] = &[
    "ovmf",
    "shim-signed",
    "grub-efi-amd64-signed",
    "dosfstools",
    "mtools",
];

/// shim, signed by Microsoft (package shim-signed).
pub const SHIM: &str = "/usr/lib/shim/shimx64.efi.signed";
/// GRUB, signed by Debian (package grub-efi-amd64-signed).
pub const GRUB: &str = "/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed";

/// GRUB's configuration: boot the kernel at once, no menu.
pub fn grub_cfg(cmdline: &str) -> String {
    format!(
        "# warmboot test guest (xtask esp.rs)\n\
         set timeout=0\n\
         linux /vmlinuz {cmdline}\n\
         initrd /initrd.cpio\n\
         boot\n"
    )
}

/// When this process built its first ESP: older images are from earlier invocations.
static PROCESS_START: std::sync::OnceLock<std::time::SystemTime> = std::sync::OnceLock::new();

/// Removes the images (and their file trees) in `dir` last written before `start`.
fn prune_older_than(dir: &Path, start: std::time::SystemTime) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < start);
        if old {
            let p = e.path();
            let _ = std::fs::remove_file(&p).or_else(|_| std::fs::remove_dir_all(&p));
        }
    }
}

/// The ESP image for `kernel`, `initrd` and `cmdline`, built unless cached (installing
/// [`PACKAGES`] where missing).
pub fn build(root: &Path, kernel: &Path, initrd: &Path, cmdline: &str) -> Result<PathBuf> {
    crate::host::ensure_packages(PACKAGES)?;
    let read = |p: &Path| std::fs::read(p).map_err(Error::io(p));
    let shim = read(Path::new(SHIM))?;
    let grub = read(Path::new(GRUB))?;
    let kernel_bytes = read(kernel)?;
    let signed = warmboot::image::pe::PeInfo::parse(&kernel_bytes)
        .map(|p| p.is_signed())
        .unwrap_or(false);
    if !signed {
        return Err(Error::Boot {
            reason: format!(
                "{}: the kernel carries no Authenticode signature; shim and GRUB would refuse \
                 it under Secure Boot",
                kernel.display()
            ),
        });
    }
    let initrd_bytes = read(initrd)?;
    let cfg = grub_cfg(cmdline);
    let mut h = Sha256::new();
    for part in [
        &shim[..],
        &grub,
        &kernel_bytes,
        &initrd_bytes,
        cfg.as_bytes(),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    let key: String = h
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let dir = root.join("target/xtask/esp");
    let image = dir.join(format!("esp-{key}.img"));
    if image.exists() {
        return Ok(image);
    }
    std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
    // Every run has its own command line (its seed), so images pile up: those of earlier
    // invocations go, those of this one stay (`matrix --jobs` boots several at once, and
    // a retry boots its image again).
    prune_older_than(
        &dir,
        PROCESS_START
            .get_or_init(std::time::SystemTime::now)
            .to_owned(),
    );
    let files = dir.join(format!("esp-{key}.files"));
    std::fs::create_dir_all(&files).map_err(Error::io(&files))?;
    let cfg_file = files.join("grub.cfg");
    std::fs::write(&cfg_file, &cfg).map_err(Error::io(&cfg_file))?;
    let tmp = dir.join(format!("esp-{key}.img.tmp"));
    let payload = [&shim, &grub, &kernel_bytes, &initrd_bytes]
        .iter()
        .map(|b| b.len() as u64)
        .sum::<u64>();
    Cmd::new("mkfs.vfat")
        .args(["-C", "-n", "WBESP"])
        .arg(&tmp)
        .arg(size_kib(payload).to_string())
        .run()?;
    Cmd::new("mmd")
        .arg("-i")
        .arg(&tmp)
        .args(["::/EFI", "::/EFI/BOOT"])
        .env("MTOOLS_SKIP_CHECK", "1")
        .run()?;
    let copy = |from: &Path, to: &str| {
        Cmd::new("mcopy")
            .arg("-i")
            .arg(&tmp)
            .arg(from)
            .arg(to)
            .env("MTOOLS_SKIP_CHECK", "1")
            .run()
    };
    copy(Path::new(SHIM), "::/EFI/BOOT/BOOTX64.EFI")?;
    copy(Path::new(GRUB), "::/EFI/BOOT/grubx64.efi")?;
    copy(&cfg_file, "::/EFI/BOOT/grub.cfg")?;
    copy(kernel, "::/vmlinuz")?;
    copy(initrd, "::/initrd.cpio")?;
    std::fs::remove_dir_all(&files).map_err(Error::io(&files))?;
    std::fs::rename(&tmp, &image).map_err(Error::io(&image))?;
    Ok(image)
}

/// The image size in KiB for `payload` bytes of files: 25% and 4 MiB for the FAT and
/// cluster slack, rounded up to a MiB.
fn size_kib(payload: u64) -> u64 {
    let kib = payload.div_ceil(1024);
    (kib + kib / 4 + 4096).div_ceil(1024) * 1024
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grub_boots_the_kernel_with_the_runs_command_line_without_a_menu() {
        let cfg = grub_cfg("console=ttyS0 quiet wb.sb=1");
        assert_eq!(
            cfg.lines().skip(1).collect::<Vec<_>>(),
            [
                "set timeout=0",
                "linux /vmlinuz console=ttyS0 quiet wb.sb=1",
                "initrd /initrd.cpio",
                "boot"
            ]
        );
    }

    #[test]
    fn the_image_leaves_room_for_the_fat() {
        assert_eq!(size_kib(0), 4096);
        assert_eq!(size_kib(40 << 20), 54 << 10);
    }
}
