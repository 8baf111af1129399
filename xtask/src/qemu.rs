//! QEMU command lines for the test guests (facts measured in ../shared/notes/qemu.md).
//!
//! Pure: a [`GuestConfig`] in, the argument vector out, so the exact command line is unit
//! tested and printed before every run.

use std::path::PathBuf;

/// The guest architecture, named as the harness's `--arch` flag names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GuestArch {
    #[value(name = "x86_64")]
    X86_64,
    #[value(name = "arm64")]
    Arm64,
}

/// How the guest's firmware starts the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Firmware {
    /// x86: SeaBIOS; arm64: QEMU's direct -kernel boot (no firmware).
    Bios,
    /// OVMF (x86) or the edk2 build in qemu-efi-aarch64 (arm64).
    Uefi,
    /// x86_64 only: OVMF with Secure Boot enforced and Microsoft's keys enrolled, booting
    /// Debian's signed chain (shim, GRUB, the kernel) from an ESP disk image (esp.rs), so
    /// that the guest kernel runs locked down. TCG only.
    Secureboot,
}

/// Debian's OVMF built with Secure Boot and SMM (package `ovmf`, README.Debian): the code
/// image, which needs `-machine q35,smm=on` and secure pflash.
pub const SECURE_BOOT_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd";
/// Its variable store template with Microsoft's KEK and db (the UEFI CA that signs shim)
/// enrolled and Secure Boot enabled; every run writes to its own copy.
pub const SECURE_BOOT_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd";

/// The disks of a Secure Boot guest: its own copy of the variable store and the ESP.
#[derive(Debug, Clone)]
pub struct SecureBootDisks {
    pub vars: PathBuf,
    pub esp: PathBuf,
}

/// The accelerator QEMU runs the guest on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    Tcg,
    Kvm,
}

/// Everything that decides a guest's QEMU command line.
#[derive(Debug, Clone)]
pub struct GuestConfig {
    pub arch: GuestArch,
    pub firmware: Firmware,
    pub accel: Accel,
    pub memory_mib: u32,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub append: String,
    /// Exit QEMU when the guest resets (every scenario but the cold reboot).
    pub no_reboot: bool,
    /// A raw disk image attached as a virtio block device (`/dev/vda`), for guests with a
    /// real root file system (the admin e2e); None for initramfs-only guests.
    pub drive: Option<PathBuf>,
    /// QEMU's `-seed`: what the guest's RDRAND/RNDR and QEMU's DTB seeds return under TCG,
    /// so that a retried boot gets the same random numbers (boot.rs `Seeds`); None leaves
    /// QEMU to seed itself.
    pub seed: Option<u64>,
    /// Firmware::Secureboot: the variable store and ESP the firmware boots from; the
    /// kernel, initrd and command line are then on the ESP, not on QEMU's command line.
    pub secure_boot: Option<SecureBootDisks>,
    /// A host port forwarded to the guest's port 22 over QEMU's user-mode network
    /// (`hostfwd=tcp:127.0.0.1:PORT-:22` on a virtio NIC), for guests whose service is
    /// probed or driven over SSH from the host (the service bench, the fleet); None: no
    /// network device at all.
    pub ssh_port: Option<u16>,
}

impl GuestArch {
    pub fn qemu_binary(self) -> &'static str {
        match self {
            GuestArch::X86_64 => "qemu-system-x86_64",
            GuestArch::Arm64 => "qemu-system-aarch64",
        }
    }

    /// The kernel's serial console device on this machine model.
    pub fn console(self) -> &'static str {
        match self {
            GuestArch::X86_64 => "ttyS0",
            GuestArch::Arm64 => "ttyAMA0",
        }
    }

    /// The UEFI firmware image Debian ships for this architecture.
    pub fn uefi_firmware(self) -> &'static str {
        match self {
            GuestArch::X86_64 => "/usr/share/ovmf/OVMF.fd",
            GuestArch::Arm64 => "/usr/share/qemu-efi-aarch64/QEMU_EFI.fd",
        }
    }
}

impl GuestConfig {
    /// The full argument vector (without the binary name).
    pub fn args(&self) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        let mut push = |xs: &[&str]| a.extend(xs.iter().map(|s| s.to_string()));
        match self.arch {
            // `-cpu max` under TCG; with KVM the host CPU model.
            GuestArch::X86_64 => {
                let cpu = if self.accel == Accel::Kvm {
                    "host"
                } else {
                    "max"
                };
                if self.firmware == Firmware::Secureboot {
                    // OVMF's secure variable store lives in SMM (README.Debian of ovmf).
                    push(&["-machine", "q35,smm=on", "-cpu", cpu]);
                    push(&["-global", "driver=cfi.pflash01,property=secure,value=on"]);
                } else {
                    push(&["-machine", "pc", "-cpu", cpu]);
                }
            }
            // cortex-a72: `-cpu max` is ~6x slower under TCG (pointer authentication).
            GuestArch::Arm64 => push(&["-machine", "virt", "-cpu", "cortex-a72"]),
        }
        push(&[
            "-accel",
            match self.accel {
                Accel::Tcg => "tcg",
                Accel::Kvm => "kvm",
            },
        ]);
        // One vCPU: -smp 2 was slower on this 2-core host, and a normal kexec needs
        // one online CPU on arm64 anyway.
        push(&["-smp", "1", "-m", &self.memory_mib.to_string()]);
        push(&["-nodefaults", "-no-user-config", "-display", "none"]);
        push(&["-serial", "stdio", "-monitor", "none"]);
        if self.firmware == Firmware::Uefi {
            push(&["-bios", self.arch.uefi_firmware()]);
        }
        if self.no_reboot {
            push(&["-no-reboot"]);
        }
        if let Some(seed) = self.seed {
            push(&["-seed", &seed.to_string()]);
        }
        if self.firmware == Firmware::Secureboot {
            if let Some(d) = &self.secure_boot {
                push(&[
                    "-drive",
                    &format!("if=pflash,format=raw,unit=0,readonly=on,file={SECURE_BOOT_CODE}"),
                    "-drive",
                    &format!("if=pflash,format=raw,unit=1,file={}", d.vars.display()),
                ]);
                // A root disk (the e2e's) first, so that it is /dev/vda and the ESP vdb:
                // virtio disks are named in the order of their PCI slots.
                if let Some(root) = &self.drive {
                    push(&[
                        "-drive",
                        &format!("file={},format=raw,if=virtio", root.display()),
                    ]);
                }
                push(&[
                    "-drive",
                    &format!("file={},format=raw,if=virtio", d.esp.display()),
                ]);
            }
            return a;
        }
        let kernel = self.kernel.display().to_string();
        let initrd = self.initrd.display().to_string();
        push(&[
            "-kernel",
            &kernel,
            "-initrd",
            &initrd,
            "-append",
            &self.append,
        ]);
        if let Some(d) = &self.drive {
            push(&[
                "-drive",
                &format!("file={},format=raw,if=virtio", d.display()),
            ]);
        }
        if let Some(port) = self.ssh_port {
            push(&[
                "-netdev",
                &format!("user,id=n,hostfwd=tcp:127.0.0.1:{port}-:22"),
                "-device",
                "virtio-net-pci,netdev=n",
            ]);
        }
        a
    }

    /// The command as one printable line (arguments with spaces quoted).
    pub fn display(&self) -> String {
        std::iter::once(self.arch.qemu_binary().to_string())
            .chain(self.args().into_iter().map(
                |s| {
                    if s.contains(' ') {
                        format!("'{s}'")
                    } else {
                        s
                    }
                },
            ))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(arch: GuestArch, firmware: Firmware) -> GuestConfig {
        GuestConfig {
            arch,
            firmware,
            accel: Accel::Tcg,
            memory_mib: 1024,
            kernel: "/c/vmlinuz".into(),
            initrd: "/c/initrd.cpio".into(),
            append: format!("console={} panic=1", arch.console()),
            no_reboot: true,
            drive: None,
            seed: None,
            secure_boot: None,
            ssh_port: None,
        }
    }

    #[test]
    fn x86_bios_command_line() {
        assert_eq!(
            config(GuestArch::X86_64, Firmware::Bios).display(),
            "qemu-system-x86_64 -machine pc -cpu max -accel tcg -smp 1 -m 1024 -nodefaults \
             -no-user-config -display none -serial stdio -monitor none -no-reboot \
             -kernel /c/vmlinuz -initrd /c/initrd.cpio -append 'console=ttyS0 panic=1'"
        );
    }

    #[test]
    fn an_ssh_port_forwards_to_the_guests_port_22_on_loopback_only() {
        let mut c = config(GuestArch::X86_64, Firmware::Bios);
        c.drive = Some("/r/disk.img".into());
        c.ssh_port = Some(40022);
        assert!(
            c.display().ends_with(
                "-drive file=/r/disk.img,format=raw,if=virtio \
                 -netdev user,id=n,hostfwd=tcp:127.0.0.1:40022-:22 -device virtio-net-pci,netdev=n"
            ),
            "{}",
            c.display()
        );
        c.ssh_port = None;
        assert!(!c.display().contains("-netdev"));
    }

    #[test]
    fn arm64_uefi_command_line_uses_cortex_a72_and_edk2() {
        let mut c = config(GuestArch::Arm64, Firmware::Uefi);
        c.no_reboot = false;
        let args = c.args();
        let s = args.join(" ");
        assert!(
            s.starts_with("-machine virt -cpu cortex-a72 -accel tcg"),
            "{s}"
        );
        assert!(
            s.contains("-bios /usr/share/qemu-efi-aarch64/QEMU_EFI.fd"),
            "{s}"
        );
        assert!(
            !args.iter().any(|a| a == "-no-reboot"),
            "cold reboots need resets"
        );
        assert_eq!(args.last().unwrap(), "console=ttyAMA0 panic=1");
        assert!(!s.contains("-seed"), "{s}");
        c.seed = Some(42);
        let s = c.args().join(" ");
        assert!(s.contains(" -seed 42 -kernel "), "{s}");
    }

    #[test]
    fn kvm_uses_the_host_cpu_on_x86() {
        let mut c = config(GuestArch::X86_64, Firmware::Uefi);
        c.accel = Accel::Kvm;
        let s = c.args().join(" ");
        assert!(s.contains("-cpu host -accel kvm"), "{s}");
        assert!(s.contains("-bios /usr/share/ovmf/OVMF.fd"), "{s}");
    }

    #[test]
    fn secure_boot_uses_smm_secure_pflash_and_the_esp_instead_of_a_kernel() {
        let mut c = config(GuestArch::X86_64, Firmware::Secureboot);
        c.secure_boot = Some(SecureBootDisks {
            vars: "/r/OVMF_VARS.fd".into(),
            esp: "/c/esp.img".into(),
        });
        assert_eq!(
            c.display(),
            "qemu-system-x86_64 -machine q35,smm=on -cpu max \
             -global driver=cfi.pflash01,property=secure,value=on -accel tcg -smp 1 -m 1024 \
             -nodefaults -no-user-config -display none -serial stdio -monitor none -no-reboot \
             -drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd \
             -drive if=pflash,format=raw,unit=1,file=/r/OVMF_VARS.fd \
             -drive file=/c/esp.img,format=raw,if=virtio"
        );
        // The e2e's root disk comes first: /dev/vda, as its command line says.
        c.drive = Some("/r/disk.img".into());
        let s = c.display();
        assert!(
            s.ends_with(
                "-drive file=/r/disk.img,format=raw,if=virtio \
                 -drive file=/c/esp.img,format=raw,if=virtio"
            ),
            "{s}"
        );
    }
}
