//! What the running kernel enforces on kexec loads, read through [`HostRoot`]: lockdown,
//! Secure Boot, LoadPin, IMA and `kernel.kexec_load_disabled`. `status` shows it, auto's
//! syscall choice reads it, and a refused load is explained from it
//! ([`crate::commands::load_refusal`]).
//!
//! Sources:
//! - Secure Boot: the `SecureBoot` and `SetupMode` EFI variables (UEFI spec 3.3, global
//!   variable GUID 8be4df61-93ca-11d2-aa0d-00e098032b8c, include/linux/efi.h
//!   `EFI_GLOBAL_VARIABLE_GUID`) as efivarfs shows them: four bytes
//!   of attributes, then the data, one byte, 1 = on (Documentation/filesystems/efivarfs.rst).
//!   The kernel's own reading is drivers/firmware/efi/libstub/secureboot.c
//!   `efi_get_secureboot`: no `SecureBoot` variable, `SecureBoot` 0 or `SetupMode` 1 means
//!   off. Distribution kernels lock themselves down when it is on
//!   (security/lockdown/lockdown.c, `lockdown=` or the lockdown-on-Secure-Boot patches),
//!   and IMA's Secure Boot policy refuses kexec_load (security/integrity/ima/ima_main.c
//!   `ima_load_data`, `arch_ima_get_secureboot`).
//! - LoadPin: security/loadpin/loadpin.c registers the sysctl `kernel/loadpin/enforce`
//!   when it starts; `/sys/kernel/security/lsm` lists the active modules
//!   (security/inode.c). LoadPin has no securityfs file of its own except `loadpin/dm-verity`
//!   with CONFIG_SECURITY_LOADPIN_VERITY.
//! - IMA: securityfs `integrity/ima/` (and the `ima` link to it) exists when IMA is built
//!   in (security/integrity/ima/ima_fs.c); its `policy` file is readable only with
//!   CONFIG_IMA_READ_POLICY (and may be gone after the policy was written).
//! - `kernel.kexec_load_disabled` (kernel/kexec_core.c): 1 refuses both syscalls (EPERM)
//!   until the next boot.

use crate::error::{Error, Result};
use crate::host::{HostRoot, Lockdown};
use serde::Serialize;

/// The efivarfs file of the `SecureBoot` variable.
pub const SECURE_BOOT_VAR: &str =
    "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c";
/// The efivarfs file of the `SetupMode` variable.
pub const SETUP_MODE_VAR: &str =
    "/sys/firmware/efi/efivars/SetupMode-8be4df61-93ca-11d2-aa0d-00e098032b8c";

/// UEFI Secure Boot, as the firmware reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecureBoot {
    /// The machine did not boot through EFI (no /sys/firmware/efi): there is no Secure Boot.
    NotEfi,
    /// EFI, but the variables cannot be read (efivarfs not mounted).
    #[default]
    Unknown,
    /// `SecureBoot` is 0 or absent, or the firmware is in setup mode.
    Off,
    /// `SecureBoot` is 1 and the firmware is not in setup mode.
    On,
}

impl std::fmt::Display for SecureBoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SecureBoot::NotEfi => "off (not booted through EFI)",
            SecureBoot::Unknown => {
                "unknown (EFI, but /sys/firmware/efi/efivars is empty: efivarfs not mounted)"
            }
            SecureBoot::Off => "off (EFI variable SecureBoot)",
            SecureBoot::On => "on (EFI variable SecureBoot = 1)",
        })
    }
}

/// The data byte of an efivarfs variable file: 4 attribute bytes, then the value.
pub fn parse_efi_bool(bytes: &[u8]) -> Result<bool> {
    match bytes {
        [_, _, _, _, 0] => Ok(false),
        [_, _, _, _, 1] => Ok(true),
        [_, _, _, _, v] => Err(Error::invalid(
            "EFI variable",
            format!("value {v}, expected 0 or 1"),
        )),
        _ => Err(Error::invalid(
            "EFI variable",
            format!(
                "{} bytes, expected 5 (4 attribute bytes and 1 data byte)",
                bytes.len()
            ),
        )),
    }
}

/// LoadPin, when it is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LoadPin {
    /// `kernel.loadpin.enforce`; None when the sysctl cannot be read.
    pub enforcing: Option<bool>,
}

/// IMA, when it is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ima {
    /// Whether the policy appraises kexec kernels (an `appraise` rule for
    /// `func=KEXEC_KERNEL_CHECK` or without `func=`); None when the policy is not readable.
    pub appraises_kernel: Option<bool>,
    /// The same for initrds (`func=KEXEC_INITRAMFS_CHECK`).
    pub appraises_initrd: Option<bool>,
}

/// Which kexec files an IMA policy appraises: (kernel, initrd). An `appraise` rule with
/// no `func=` condition matches every hook (security/integrity/ima/ima_policy.c
/// `ima_match_rules` checks `func` only when the rule has one).
pub fn ima_policy_appraises(policy: &str) -> (bool, bool) {
    let mut kernel = false;
    let mut initrd = false;
    for line in policy.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("appraise") {
            continue;
        }
        let func = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("func="));
        match func {
            None => {
                kernel = true;
                initrd = true;
            }
            Some("KEXEC_KERNEL_CHECK") => kernel = true,
            Some("KEXEC_INITRAMFS_CHECK") => initrd = true,
            Some(_) => {}
        }
    }
    (kernel, initrd)
}

/// What the running kernel enforces on kexec loads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SecurityState {
    /// None without securityfs or the lockdown LSM.
    pub lockdown: Option<Lockdown>,
    pub secure_boot: SecureBoot,
    /// None when LoadPin is not active.
    pub loadpin: Option<LoadPin>,
    /// None when IMA is not active.
    pub ima: Option<Ima>,
    /// `kernel.kexec_load_disabled` is 1: no kexec load until the next boot.
    pub kexec_load_disabled: bool,
}

impl SecurityState {
    /// Reads it under `host`. Only malformed lockdown and Secure Boot files are errors
    /// (naming the file); what cannot be read otherwise counts as absent or unknown.
    pub fn read(host: &HostRoot) -> Result<SecurityState> {
        let lsms = host
            .read_optional("/sys/kernel/security/lsm")
            .ok()
            .flatten()
            .unwrap_or_default();
        let listed = |name: &str| lsms.trim().split(',').any(|l| l == name);
        let loadpin_enforce = host
            .read_optional("/proc/sys/kernel/loadpin/enforce")
            .ok()
            .flatten();
        let loadpin = match loadpin_enforce {
            Some(t) => Some(LoadPin {
                enforcing: Some(t.trim() != "0"),
            }),
            None if listed("loadpin") => Some(LoadPin { enforcing: None }),
            None => None,
        };
        let ima_dir = [
            "/sys/kernel/security/integrity/ima",
            "/sys/kernel/security/ima",
        ]
        .into_iter()
        .find(|d| host.path(d).is_dir());
        let ima = ima_dir.map(|d| {
            let policy = host.read_optional(&format!("{d}/policy")).ok().flatten();
            let appraises = policy.as_deref().map(ima_policy_appraises);
            Ima {
                appraises_kernel: appraises.map(|a| a.0),
                appraises_initrd: appraises.map(|a| a.1),
            }
        });
        let kexec_load_disabled = host
            .read_optional("/proc/sys/kernel/kexec_load_disabled")
            .ok()
            .flatten()
            .is_some_and(|t| t.trim() == "1");
        Ok(SecurityState {
            lockdown: host.lockdown()?,
            secure_boot: read_secure_boot(host)?,
            loadpin,
            ima,
            kexec_load_disabled,
        })
    }

    /// Whether kexec_load is to be expected refused by lockdown: lockdown says so, or it
    /// cannot be read and Secure Boot is on (distribution kernels lock down under it).
    pub fn expects_lockdown(&self) -> bool {
        match self.lockdown {
            Some(l) => l.blocks_kexec_load(),
            None => self.secure_boot == SecureBoot::On,
        }
    }

    /// Whether LoadPin may refuse kexec loads (active and enforcing, or enforcement unknown).
    pub fn loadpin_may_refuse(&self) -> bool {
        self.loadpin.is_some_and(|l| l.enforcing != Some(false))
    }
}

/// Secure Boot from the EFI variables under `host` ([`SecureBoot`]).
pub fn read_secure_boot(host: &HostRoot) -> Result<SecureBoot> {
    if !host.efi_booted() {
        return Ok(SecureBoot::NotEfi);
    }
    let efivars = host.path("/sys/firmware/efi/efivars");
    let mounted = std::fs::read_dir(&efivars).is_ok_and(|mut d| d.next().is_some());
    if !mounted {
        return Ok(SecureBoot::Unknown);
    }
    let var = |rel: &str| -> Result<Option<bool>> {
        let p = host.path(rel);
        match std::fs::read(&p) {
            Ok(b) => parse_efi_bool(&b).map(Some).map_err(|e| e.in_file(p)),
            // Not there, or not readable by this user: not known from this variable.
            Err(_) => Ok(None),
        }
    };
    Ok(match (var(SECURE_BOOT_VAR)?, var(SETUP_MODE_VAR)?) {
        (Some(true), Some(true)) => SecureBoot::Off,
        (Some(true), _) => SecureBoot::On,
        _ => SecureBoot::Off,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Writes an efivarfs variable file (attributes NV|BS|RT, then `value`) under `root`.
    pub fn write_efi_var(root: &std::path::Path, rel: &str, value: u8) {
        let p = root.join(rel.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, [0x06, 0, 0, 0, value]).unwrap();
    }

    #[test]
    fn secure_boot_from_the_efi_variables() {
        let dir = tempfile::tempdir().unwrap();
        let host = HostRoot::new(dir.path());
        assert_eq!(read_secure_boot(&host).unwrap(), SecureBoot::NotEfi);
        std::fs::create_dir_all(dir.path().join("sys/firmware/efi/efivars")).unwrap();
        assert_eq!(read_secure_boot(&host).unwrap(), SecureBoot::Unknown);
        write_efi_var(dir.path(), SETUP_MODE_VAR, 0);
        // efivarfs mounted, no SecureBoot variable: firmware without Secure Boot.
        assert_eq!(read_secure_boot(&host).unwrap(), SecureBoot::Off);
        write_efi_var(dir.path(), SECURE_BOOT_VAR, 1);
        assert_eq!(read_secure_boot(&host).unwrap(), SecureBoot::On);
        write_efi_var(dir.path(), SETUP_MODE_VAR, 1);
        assert_eq!(read_secure_boot(&host).unwrap(), SecureBoot::Off);
        write_efi_var(dir.path(), SECURE_BOOT_VAR, 0);
        write_efi_var(dir.path(), SETUP_MODE_VAR, 0);
        assert_eq!(read_secure_boot(&host).unwrap(), SecureBoot::Off);
        std::fs::write(dir.path().join(&SECURE_BOOT_VAR[1..]), [6, 0, 0]).unwrap();
        let e = read_secure_boot(&host).unwrap_err().to_string();
        assert!(
            e.contains("SecureBoot-8be4df61") && e.contains("3 bytes, expected 5"),
            "{e}"
        );
    }

    #[test]
    fn efi_values_are_the_fifth_byte() {
        assert!(parse_efi_bool(&[7, 0, 0, 0, 1]).unwrap());
        assert!(!parse_efi_bool(&[7, 0, 0, 0, 0]).unwrap());
        assert!(parse_efi_bool(&[7, 0, 0, 0, 2]).is_err());
        assert!(parse_efi_bool(&[1]).is_err());
    }

    #[test]
    fn ima_policy_rules_for_kexec() {
        let arch = "appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig|modsig\n\
                    measure func=KEXEC_KERNEL_CHECK\n";
        assert_eq!(ima_policy_appraises(arch), (true, false));
        assert_eq!(
            ima_policy_appraises("dont_appraise fsmagic=0x9fa0\nappraise fowner=0\n"),
            (true, true)
        );
        assert_eq!(
            ima_policy_appraises(
                "measure func=KEXEC_INITRAMFS_CHECK\nappraise func=MODULE_CHECK\n"
            ),
            (false, false)
        );
        assert_eq!(
            ima_policy_appraises("appraise func=KEXEC_INITRAMFS_CHECK\n"),
            (false, true)
        );
    }

    #[test]
    fn loadpin_ima_and_kexec_load_disabled_are_read_where_the_kernel_shows_them() {
        let dir = tempfile::tempdir().unwrap();
        let host = HostRoot::new(dir.path());
        let s = SecurityState::read(&host).unwrap();
        assert_eq!(
            s,
            SecurityState {
                secure_boot: SecureBoot::NotEfi,
                ..SecurityState::default()
            }
        );
        let set = |rel: &str, text: &str| {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        set(
            "sys/kernel/security/lsm",
            "lockdown,capability,loadpin,integrity\n",
        );
        let s = SecurityState::read(&host).unwrap();
        assert_eq!(s.loadpin, Some(LoadPin { enforcing: None }));
        assert!(s.loadpin_may_refuse());
        set("proc/sys/kernel/loadpin/enforce", "0\n");
        let s = SecurityState::read(&host).unwrap();
        assert_eq!(
            s.loadpin,
            Some(LoadPin {
                enforcing: Some(false)
            })
        );
        assert!(!s.loadpin_may_refuse());
        std::fs::create_dir_all(dir.path().join("sys/kernel/security/integrity/ima")).unwrap();
        let s = SecurityState::read(&host).unwrap();
        assert_eq!(
            s.ima,
            Some(Ima {
                appraises_kernel: None,
                appraises_initrd: None
            })
        );
        set(
            "sys/kernel/security/integrity/ima/policy",
            "appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig\n",
        );
        let s = SecurityState::read(&host).unwrap();
        assert_eq!(s.ima.unwrap().appraises_kernel, Some(true));
        assert!(!s.kexec_load_disabled);
        set("proc/sys/kernel/kexec_load_disabled", "1\n");
        assert!(SecurityState::read(&host).unwrap().kexec_load_disabled);
    }

    #[test]
    fn lockdown_is_expected_under_secure_boot_only_when_it_cannot_be_read() {
        let mut s = SecurityState {
            secure_boot: SecureBoot::On,
            ..SecurityState::default()
        };
        assert!(s.expects_lockdown());
        s.lockdown = Some(Lockdown::None);
        assert!(!s.expects_lockdown());
        s.lockdown = Some(Lockdown::Integrity);
        s.secure_boot = SecureBoot::Off;
        assert!(s.expects_lockdown());
        s.lockdown = None;
        assert!(!s.expects_lockdown());
    }
}
