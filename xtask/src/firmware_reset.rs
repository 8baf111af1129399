//! Serial lines that prove a guest went through its firmware: a machine reset announced
//! by the kernel, or a firmware banner. A warm (kexec) or panic (kdump) reboot must show
//! none between the old kernel's reboot request and the new kernel's ready marker; a cold
//! reboot must show one. Pure: lines in, the offending line out.
//!
//! What the guests of this project print (captured excerpts in `xtask/testdata/firmware-*`):
//!
//! - every firmware, on reset: the kernel's `reboot: Restarting system` (kernel/reboot.c
//!   kernel_restart, pr_emerg, shown under `quiet`), and with loglevel=6 also
//!   `reboot: machine restart` (arch/x86/kernel/reboot.c native_machine_restart). Under
//!   `-nodefaults` SeaBIOS and OVMF print nothing on the serial port, so on x86 this is
//!   the only sign.
//! - arm64 UEFI (qemu-efi-aarch64): `UEFI firmware (version  built at ...)` on every
//!   start, then the EFI stub's `EFI stub: Booting Linux Kernel...` (without `quiet`).
//! - SeaBIOS with a serial console (`-nographic`, the e2e's manual run):
//!   `SeaBIOS (version 1.16.2-debian-1.16.2-1)`.
//! - a panic without a working crash kernel under `panic=1`: kernel/panic.c's
//!   `Rebooting in 1 seconds..` before the reset.
//!
//! Banners of other firmware the guests could be given (iPXE option ROMs, SeaBIOS's boot
//! menu, OVMF's BdsDxe and TianoCore/EDK II banners, U-Boot) are listed too. They are only
//! taken from lines the kernel did not print (no `[    1.234567] ` printk stamp): a kernel
//! that kept EFI says `efi: EFI v2.70 by EDK II`, which is not a reset.

use crate::bench::phases::is_kernel_line;
use crate::serial::clean_line;

/// Lines the kernel prints when it resets the machine (any printk stamp before them).
const KERNEL_RESET: &[&str] = &[
    "reboot: Restarting system",
    "reboot: machine restart",
    "Rebooting in ",
];

/// Firmware banners and boot-loader lines, matched in lines the kernel did not print.
const FIRMWARE_BANNERS: &[&str] = &[
    "SeaBIOS (version",
    "Booting from ROM",
    "Booting from Hard Disk",
    "Booting from DVD",
    "Booting from Floppy",
    "iPXE",
    "UEFI firmware (version",
    "EFI stub: Booting Linux Kernel",
    "BdsDxe:",
    "[Bds]",
    "EDK II",
    "TianoCore",
    "U-Boot ",
];

/// Whether `raw` (a serial line, escape codes and all) shows the firmware at work.
pub fn is_firmware_line(raw: &str) -> bool {
    let line = clean_line(raw);
    if KERNEL_RESET.iter().any(|p| line.contains(p)) {
        return true;
    }
    !is_kernel_line(&line) && FIRMWARE_BANNERS.iter().any(|p| line.contains(p))
}

/// The first line among `lines` that shows the firmware at work, cleaned of escape codes.
pub fn first_firmware_line<'a>(lines: impl IntoIterator<Item = &'a str>) -> Option<String> {
    lines
        .into_iter()
        .find(|l| is_firmware_line(l))
        .map(|l| clean_line(l).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serial::parse_saved_log;

    fn lines(name: &str) -> Vec<String> {
        let path = format!("{}/testdata/{name}.log", env!("CARGO_MANIFEST_DIR"));
        parse_saved_log(&std::fs::read_to_string(path).unwrap())
            .into_iter()
            .map(|s| s.line)
            .collect()
    }

    /// The first firmware line after the reboot request of a captured cold reboot.
    fn reset_line(name: &str) -> Option<String> {
        let l = lines(name);
        let req = l
            .iter()
            .position(|s| s.contains("@@WB reboot-request"))
            .unwrap();
        first_firmware_line(l[req..].iter().map(String::as_str))
    }

    #[test]
    fn every_captured_cold_reboot_shows_its_reset() {
        for (log, line) in [
            (
                "firmware-x86_64-bios-cold",
                "[    6.525375] reboot: Restarting system",
            ),
            (
                "firmware-x86_64-uefi-cold",
                "[    3.723622] reboot: Restarting system",
            ),
            (
                "firmware-arm64-uefi-cold",
                "[    5.308275] reboot: Restarting system",
            ),
            (
                "bench-x86_64-bios-cold",
                "[    3.135586] reboot: Restarting system",
            ),
        ] {
            assert_eq!(reset_line(log).as_deref(), Some(line), "{log}");
        }
    }

    #[test]
    fn firmware_banners_count_without_the_kernels_reset_line() {
        // The arm64 UEFI firmware's own banner and the EFI stub, the reset line removed.
        let l: Vec<String> = lines("firmware-arm64-uefi-cold")
            .into_iter()
            .filter(|s| !s.contains("reboot: "))
            .collect();
        let req = l.iter().position(|s| s.contains("reboot-request")).unwrap();
        assert_eq!(
            first_firmware_line(l[req..].iter().map(String::as_str)).as_deref(),
            Some("UEFI firmware (version  built at 13:10:49 on Nov  5 2024)")
        );
        assert!(is_firmware_line("EFI stub: Booting Linux Kernel..."));
        assert!(is_firmware_line(
            "\u{1b}[2J\u{1b}[01;01HSeaBIOS (version 1.16.2-debian-1.16.2-1)\r"
        ));
        assert!(is_firmware_line(
            "iPXE (http://ipxe.org) 00:03.0 CA00 PCI2.10 PnP PMM+3FF8C8A0+3FECC8A0 CA00"
        ));
        assert!(is_firmware_line(
            "BdsDxe: loading Boot0001 \"UEFI QEMU HARDDISK\""
        ));
        assert!(is_firmware_line("[    1.000000] Rebooting in 1 seconds.."));
        assert!(is_firmware_line("[Bds]Booting UEFI Misc Device"));
    }

    #[test]
    fn the_kernels_own_lines_are_not_banners() {
        // A kexec'd kernel that kept EFI names the firmware vendor; that is no reset.
        assert!(!is_firmware_line("[    0.000000] efi: EFI v2.70 by EDK II"));
        assert!(!is_firmware_line(
            "[    6.8] kexec_core: Starting new kernel"
        ));
        assert!(!is_firmware_line("@@WB ready hop=1 boot_id=b"));
        // Every captured warm and panic run is clean from its request to the next ready.
        for log in [
            "x86_64-bios-warm-kexec-tools",
            "arm64-direct-warm-kexec-tools",
            "x86_64-bios-panic-kexec-tools",
            "bench-x86_64-bios-warm-warmboot-file",
            "bench-arm64-direct-warm-warmboot",
        ] {
            let l = lines(log);
            let req = l.iter().position(|s| s.contains("reboot-request")).unwrap();
            let next = l.iter().position(|s| s.contains("ready hop=1")).unwrap();
            assert_eq!(
                first_firmware_line(l[req..next].iter().map(String::as_str)),
                None,
                "{log}"
            );
        }
    }
}
