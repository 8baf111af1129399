//! The capture (panic) kernel: its command line and whether it fits the crash reservation.
//!
//! Pure code. The command line follows what the distributions' kdump tools do, so that a
//! capture kernel loaded by warmboot behaves like the one an administrator knows:
//!
//! - Debian kdump-tools (`/etc/default/kdump-tools`, `kdump-config`): the default
//!   `KDUMP_CMDLINE_APPEND="reset_devices systemd.unit=kdump-tools-dump.service nr_cpus=1
//!   irqpoll nousb"` (newer versions `usbcore.nousb`), and `crashkernel=` removed.
//! - Fedora/RHEL kexec-tools (`/etc/sysconfig/kdump`): `KDUMP_COMMANDLINE_REMOVE="hugepages
//!   hugepagesz slub_debug quiet log_buf_len swiotlb ..."` and `KDUMP_COMMANDLINE_APPEND=
//!   "irqpoll nr_cpus=1 reset_devices cgroup_disable=memory mce=off numa=off
//!   udev.children-max=2 panic=10 ... transparent_hugepage=never novmcoredd ..."`.
//!
//! warmboot appends what both agree on (`reset_devices nr_cpus=1 irqpoll`: reset devices
//! the crashed kernel left running, boot one CPU, poll interrupts a wedged controller no
//! longer delivers) plus Fedora's arch-neutral memory savers (`cgroup_disable=memory
//! udev.children-max=2 panic=10`), and drops what would waste the small reservation
//! (`crashkernel=` itself, huge page and CMA pools, `swiotlb=`, `log_buf_len=`, slub
//! debugging). Distribution-specific units (Debian's `systemd.unit=kdump-tools-dump.service`)
//! are the caller's business (`--append`).
//!
//! The fit check estimates, before anything is planned, what a panic load occupies in the
//! reservation: the kernel's memory size, the initrd, the boot data (x86 boot_params with the
//! command line, or the arm64 DTB), the ELF core header (the kernel's
//! `crash_prepare_elf64_headers`: one Ehdr, a PT_NOTE per CPU plus the vmcoreinfo note and
//! a PT_LOAD per RAM range, plus the kernel text on x86/arm64), the entry code and one
//! control page (kernel/kexec_core.c `kimage_alloc_control_pages`).

use crate::crash::elfcore::{EHDR_SIZE, PHDR_SIZE};
use crate::memmap::align_up;

/// Arguments appended to a capture kernel's command line (see the module doc).
pub const CAPTURE_APPEND: [&str; 6] = [
    "reset_devices",
    "nr_cpus=1",
    "irqpoll",
    "cgroup_disable=memory",
    "udev.children-max=2",
    "panic=10",
];

/// Parameter names removed from the running kernel's command line for a capture kernel.
pub const CAPTURE_REMOVE: [&str; 10] = [
    "crashkernel",
    "hugepages",
    "hugepagesz",
    "default_hugepagesz",
    "hugetlb_cma",
    "cma",
    "swiotlb",
    "log_buf_len",
    "slub_debug",
    "maxcpus",
];

/// Words a boot loader adds that mean nothing to the next kernel: `BOOT_IMAGE=` (GRUB,
/// LILO) and `initrd=` (the EFI stub's own initrd loader; OVMF/systemd-boot add it).
pub const LOADER_WORDS: [&str; 2] = ["BOOT_IMAGE", "initrd"];

/// The parameter name of a command-line word: `nr_cpus=1` → `nr_cpus`, `quiet` → `quiet`.
fn key(word: &str) -> &str {
    word.split_once('=').map_or(word, |(k, _)| k)
}

/// The running kernel's command line for a normal reboot: the boot loader's words
/// dropped, everything else (including `crashkernel=`, which the next kernel needs to
/// reserve memory for its own capture kernel) kept in order.
pub fn normal_cmdline(current: &str) -> String {
    current
        .split_whitespace()
        .filter(|w| !LOADER_WORDS.contains(&key(w)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The running kernel's command line made into a capture kernel's: the boot loader's
/// words and [`CAPTURE_REMOVE`] dropped, any earlier value of an appended parameter
/// dropped, then [`CAPTURE_APPEND`] appended.
pub fn capture_cmdline(current: &str) -> String {
    let appended: Vec<&str> = CAPTURE_APPEND.iter().map(|w| key(w)).collect();
    let mut words: Vec<&str> = current
        .split_whitespace()
        .filter(|w| {
            let k = key(w);
            !LOADER_WORDS.contains(&k) && !CAPTURE_REMOVE.contains(&k) && !appended.contains(&k)
        })
        .collect();
    words.extend(CAPTURE_APPEND);
    words.join(" ")
}

/// What a panic load needs in the crash reservation, item by item (bytes, page-rounded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureNeeds {
    pub kernel: u64,
    pub initrd: u64,
    /// boot_params + command line (x86) or the DTB (arm64).
    pub boot_data: u64,
    pub elfcorehdr: u64,
    /// Entry code (warmboot's trampoline or the kernel's purgatory) and the control page.
    pub entry_and_control: u64,
}

/// Pages for the entry code (purgatory is under 32 KiB on x86_64 and arm64) and one for
/// the control page.
const ENTRY_AND_CONTROL: u64 = 32 * 1024 + 4096;

const PAGE: u64 = 4096;

fn pages(n: u64) -> u64 {
    align_up(n, PAGE).unwrap_or(u64::MAX)
}

impl CaptureNeeds {
    /// Estimates the needs of a capture load. `kernel_memsz` is the kernel's memory size
    /// (x86 `init_size`, arm64 `image_size`), `boot_data` the size of boot_params plus
    /// command line or of the DTB, `cpus` the CPUs with crash notes and `ram_ranges` the
    /// System RAM ranges the core header describes.
    pub fn estimate(
        kernel_memsz: u64,
        initrd: u64,
        boot_data: u64,
        cpus: u64,
        ram_ranges: u64,
    ) -> CaptureNeeds {
        // crash_prepare_elf64_headers: Ehdr + PT_NOTE per CPU + vmcoreinfo PT_NOTE +
        // kernel text PT_LOAD + a PT_LOAD per RAM range (the reservation splits one, +1).
        let phdrs = cpus.saturating_add(ram_ranges).saturating_add(3);
        let elf = EHDR_SIZE.saturating_add(phdrs.saturating_mul(PHDR_SIZE));
        CaptureNeeds {
            kernel: pages(kernel_memsz),
            initrd: pages(initrd),
            boot_data: pages(boot_data),
            elfcorehdr: pages(elf),
            entry_and_control: ENTRY_AND_CONTROL,
        }
    }

    pub fn total(&self) -> u64 {
        [
            self.kernel,
            self.initrd,
            self.boot_data,
            self.elfcorehdr,
            self.entry_and_control,
        ]
        .iter()
        .fold(0u64, |a, b| a.saturating_add(*b))
    }

    /// Ok when the load fits `reserved` bytes, else the message an administrator acts on.
    pub fn check_fits(&self, reserved: u64) -> Result<(), String> {
        let need = self.total();
        if reserved == 0 {
            return Err(
                "no memory is reserved for a capture kernel (kexec_crash_size is 0): boot with crashkernel=SIZE"
                    .to_string(),
            );
        }
        if need <= reserved {
            return Ok(());
        }
        Err(format!(
            "the capture kernel needs {} MiB but crashkernel= reserved {} MiB (kernel {} MiB, initrd {} MiB, boot data, ELF core header and entry code {} KiB); boot with a larger crashkernel= or a smaller initrd",
            mib_up(need),
            reserved / (1024 * 1024),
            mib_up(self.kernel),
            mib_up(self.initrd),
            (self.boot_data + self.elfcorehdr + self.entry_and_control) / 1024,
        ))
    }
}

/// Bytes in MiB, rounded up (what an administrator must reserve at least).
fn mib_up(bytes: u64) -> u64 {
    bytes.div_ceil(1024 * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_keeps_crashkernel_and_drops_loader_words() {
        let c = "BOOT_IMAGE=/boot/vmlinuz-6.1.0-56-amd64 root=UUID=1234 ro crashkernel=256M quiet initrd=\\initrd.img";
        assert_eq!(
            normal_cmdline(c),
            "root=UUID=1234 ro crashkernel=256M quiet"
        );
        // Words that merely contain a loader word stay.
        assert_eq!(normal_cmdline("xinitrd=1 a"), "xinitrd=1 a");
    }

    #[test]
    fn capture_follows_kdump_practice() {
        let c = "BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro crashkernel=384M hugepages=64 hugepagesz=2M nr_cpus=8 console=ttyS0 swiotlb=65536";
        assert_eq!(
            capture_cmdline(c),
            "root=/dev/vda1 ro console=ttyS0 reset_devices nr_cpus=1 irqpoll cgroup_disable=memory udev.children-max=2 panic=10"
        );
        // Idempotent: a capture command line stays as it is.
        let once = capture_cmdline(c);
        assert_eq!(capture_cmdline(&once), once);
        // The earlier panic= is replaced, not duplicated.
        assert_eq!(capture_cmdline("panic=1").matches("panic=").count(), 1);
    }

    #[test]
    fn estimate_adds_page_rounded_parts() {
        let n = CaptureNeeds::estimate(0x2d6_0000 + 1, 0x100_0000, 0x1800, 2, 3);
        assert_eq!(n.kernel, 0x2d6_1000);
        assert_eq!(n.initrd, 0x100_0000);
        assert_eq!(n.boot_data, 0x2000);
        // 64 + 8 * 56 = 512 bytes: one page.
        assert_eq!(n.elfcorehdr, 0x1000);
        assert_eq!(
            n.total(),
            0x2d6_1000 + 0x100_0000 + 0x2000 + 0x1000 + 32 * 1024 + 4096
        );
    }

    #[test]
    fn fit_check_says_how_much_is_needed() {
        // A 45 MiB kernel plus a 60 MiB initrd cannot fit 96 MiB.
        let n = CaptureNeeds::estimate(45 << 20, 60 << 20, 0x3000, 1, 2);
        let e = n.check_fits(96 << 20).unwrap_err();
        assert!(
            e.starts_with("the capture kernel needs 106 MiB but crashkernel= reserved 96 MiB"),
            "{e}"
        );
        assert!(n.check_fits(128 << 20).is_ok());
        assert!(n.check_fits(0).unwrap_err().contains("crashkernel=SIZE"));
        // Exactly enough fits.
        assert!(n.check_fits(n.total()).is_ok());
        assert!(n.check_fits(n.total() - 1).is_err());
    }
}
