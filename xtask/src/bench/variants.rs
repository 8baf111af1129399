//! What the bench compares: per architecture, cold reboots through each firmware, warm
//! reboots with warmboot (each syscall the kernel offers) and with kexec-tools (defaults
//! and `-i`), and panic reboots with both loaders, all on the same kernel, initrd and
//! QEMU settings.

use crate::boot::{Args, Loader, Scenario, Syscall};
use crate::qemu::{Firmware, GuestArch};

/// Why kexec-tools' arm64 panic reboot is expected to fail here (recorded, not hidden).
pub const ARM64_KEXEC_TOOLS_PANIC: &str =
    "kexec-tools writes a broken crash ELF header on Debian's arm64 6.1 kernel (no _text in \
     /proc/kallsyms), so the capture kernel cannot read /proc/vmcore";

/// One thing the bench measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub arch: GuestArch,
    /// Unique within an architecture, e.g. `warm-warmboot-file`; `--variants` takes these.
    pub id: &'static str,
    pub scenario: Scenario,
    /// `None` for a cold reboot: the firmware restarts the machine, no loader runs.
    pub loader: Option<Loader>,
    /// The loader's option: `file`/`classic` (warmboot's syscall), `default`/`no-verify`
    /// (kexec-tools), `reset` (cold).
    pub name: &'static str,
    pub firmware: Firmware,
    pub syscall: Syscall,
    pub no_verify: bool,
    /// Known to fail on this kernel, and why; its failures are reported and excluded
    /// from the statistics.
    pub known_broken: Option<&'static str>,
}

pub fn arch_name(arch: GuestArch) -> &'static str {
    match arch {
        GuestArch::X86_64 => "x86_64",
        GuestArch::Arm64 => "arm64",
    }
}

pub fn firmware_name(arch: GuestArch, fw: Firmware) -> &'static str {
    match (arch, fw) {
        (_, Firmware::Uefi) => "uefi",
        (GuestArch::X86_64, Firmware::Bios) => "bios",
        (GuestArch::Arm64, Firmware::Bios) => "direct",
    }
}

pub fn scenario_name(s: Scenario) -> &'static str {
    match s {
        Scenario::Warm => "warm",
        Scenario::Panic => "panic",
        Scenario::Cold => "cold",
    }
}

/// What the guest's `reboot-request` marker says for a scenario (`how=`).
pub fn how(s: Scenario) -> &'static str {
    match s {
        Scenario::Warm => "kexec",
        Scenario::Panic => "panic",
        Scenario::Cold => "firmware",
    }
}

impl Variant {
    pub fn loader_name(&self) -> &'static str {
        match self.loader {
            None => "firmware",
            Some(Loader::Warmboot) => "warmboot",
            Some(Loader::KexecTools) => "kexec-tools",
        }
    }

    /// `arch/id`, how progress lines and the chart name a variant.
    pub fn label(&self) -> String {
        format!("{}/{}", arch_name(self.arch), self.id)
    }

    /// The scenario arguments of one run: 1 GiB, one hop, measured (early console,
    /// loglevel=6, the loader's VmHWM), silent.
    pub fn args(&self) -> Args {
        Args {
            firmware: self.firmware,
            syscall: vec![self.syscall],
            loader: self.loader.unwrap_or(Loader::KexecTools),
            no_verify: self.no_verify,
            measure: true,
            silent: true,
            ..Args::new(self.arch, self.scenario)
        }
    }
}

/// Every variant of `arch`, in the order of the report. Warm and panic reboots run on
/// BIOS (x86_64) or direct boot (arm64); one warmboot warm reboot also runs on UEFI.
pub fn variants(arch: GuestArch) -> Vec<Variant> {
    use Firmware::{Bios, Uefi};
    use Scenario::{Cold, Panic, Warm};
    let v = |id, scenario, loader, name, firmware, syscall, no_verify| Variant {
        arch,
        id,
        scenario,
        loader,
        name,
        firmware,
        syscall,
        no_verify,
        known_broken: None,
    };
    let wb = Some(Loader::Warmboot);
    let kt = Some(Loader::KexecTools);
    let mut list = vec![
        v("cold-bios", Cold, None, "reset", Bios, Syscall::Auto, false),
        v("cold-uefi", Cold, None, "reset", Uefi, Syscall::Auto, false),
    ];
    match arch {
        GuestArch::X86_64 => list.extend([
            v(
                "warm-warmboot-file",
                Warm,
                wb,
                "file",
                Bios,
                Syscall::File,
                false,
            ),
            v(
                "warm-warmboot-classic",
                Warm,
                wb,
                "classic",
                Bios,
                Syscall::Classic,
                false,
            ),
        ]),
        // Debian's arm64 kernel has no kexec_file_load (ENOSYS): only kexec_load.
        GuestArch::Arm64 => list.push(v(
            "warm-warmboot-classic",
            Warm,
            wb,
            "classic",
            Bios,
            Syscall::Classic,
            false,
        )),
    }
    // One warm reboot through UEFI firmware too, so warm and cold compare per firmware.
    list.push(match arch {
        GuestArch::X86_64 => v(
            "warm-warmboot-file-uefi",
            Warm,
            wb,
            "file",
            Uefi,
            Syscall::File,
            false,
        ),
        GuestArch::Arm64 => v(
            "warm-warmboot-classic-uefi",
            Warm,
            wb,
            "classic",
            Uefi,
            Syscall::Classic,
            false,
        ),
    });
    list.extend([
        v(
            "warm-kexec-tools",
            Warm,
            kt,
            "default",
            Bios,
            Syscall::Auto,
            false,
        ),
        v(
            "warm-kexec-tools-i",
            Warm,
            kt,
            "no-verify",
            Bios,
            Syscall::Auto,
            true,
        ),
        v(
            "panic-warmboot",
            Panic,
            wb,
            "default",
            Bios,
            Syscall::Auto,
            false,
        ),
        v(
            "panic-kexec-tools",
            Panic,
            kt,
            "default",
            Bios,
            Syscall::Auto,
            false,
        ),
    ]);
    if arch == GuestArch::Arm64 {
        if let Some(p) = list.iter_mut().find(|x| x.id == "panic-kexec-tools") {
            p.known_broken = Some(ARM64_KEXEC_TOOLS_PANIC);
        }
        if let Some(c) = list.iter_mut().find(|x| x.id == "cold-bios") {
            c.id = "cold-direct";
        }
    }
    list
}

/// Selects variants by id (`--variants`); an unknown id is an error naming it.
pub fn select(all: Vec<Variant>, ids: &[String]) -> Result<Vec<Variant>, String> {
    if ids.is_empty() {
        return Ok(all);
    }
    for id in ids {
        if !all.iter().any(|v| v.id == id || v.label() == *id) {
            let known: Vec<String> = all.iter().map(|v| v.label()).collect();
            return Err(format!(
                "unknown variant {id:?}; known: {}",
                known.join(", ")
            ));
        }
    }
    Ok(all
        .into_iter()
        .filter(|v| ids.iter().any(|id| v.id == id || v.label() == *id))
        .collect())
}

/// Round `round`'s order: the list rotated by `round`, so every variant takes every place
/// in turn and slow drifts of the host hit all variants alike.
pub fn round_order<T: Clone>(list: &[T], round: usize) -> Vec<T> {
    let mut v = list.to_vec();
    if !v.is_empty() {
        let k = round % v.len();
        v.rotate_left(k);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_arch_has_cold_warm_and_panic_for_both_loaders() {
        let x = variants(GuestArch::X86_64);
        let ids: Vec<&str> = x.iter().map(|v| v.id).collect();
        assert_eq!(
            ids,
            [
                "cold-bios",
                "cold-uefi",
                "warm-warmboot-file",
                "warm-warmboot-classic",
                "warm-warmboot-file-uefi",
                "warm-kexec-tools",
                "warm-kexec-tools-i",
                "panic-warmboot",
                "panic-kexec-tools"
            ]
        );
        assert!(x.iter().all(|v| v.known_broken.is_none()));
        let a = variants(GuestArch::Arm64);
        assert_eq!(a.len(), 8);
        assert_eq!(
            a.iter()
                .filter(|v| v.scenario == Scenario::Warm && v.firmware == Firmware::Uefi)
                .count(),
            1
        );
        assert!(a.iter().all(|v| v.syscall != Syscall::File));
        assert_eq!(a[0].id, "cold-direct");
        let broken: Vec<&str> = a
            .iter()
            .filter(|v| v.known_broken.is_some())
            .map(|v| v.id)
            .collect();
        assert_eq!(broken, ["panic-kexec-tools"]);
        let i = a.iter().find(|v| v.id == "warm-kexec-tools-i").unwrap();
        assert!(i.args().no_verify && i.args().measure && i.args().silent);
    }

    #[test]
    fn selection_by_id_or_label_and_unknown_ids_are_named() {
        let s = select(
            variants(GuestArch::Arm64),
            &["cold-uefi".into(), "arm64/panic-warmboot".into()],
        )
        .unwrap();
        assert_eq!(s.len(), 2);
        let e = select(variants(GuestArch::Arm64), &["warm-warmboot-file".into()]).unwrap_err();
        assert!(
            e.starts_with("unknown variant \"warm-warmboot-file\""),
            "{e}"
        );
    }

    #[test]
    fn rounds_rotate_the_order() {
        let l = [1, 2, 3];
        assert_eq!(round_order(&l, 0), [1, 2, 3]);
        assert_eq!(round_order(&l, 1), [2, 3, 1]);
        assert_eq!(round_order(&l, 4), [2, 3, 1]);
        assert!(round_order::<u8>(&[], 3).is_empty());
    }
}
