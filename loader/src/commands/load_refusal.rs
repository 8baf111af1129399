//! Why the running kernel refused a load, in one line an administrator can act on (the
//! CLI puts the kernel's path in front, `warmboot: FILE: reason`): the
//! errno of kexec_load or kexec_file_load read together with what the machine shows
//! ([`SecurityState`]: lockdown, Secure Boot, LoadPin, IMA, kexec_load_disabled). Pure:
//! the state is read before the load.
//!
//! Where each refusal comes from:
//! - kernel/kexec_core.c `kexec_load_permitted` (both calls): EPERM without CAP_SYS_BOOT,
//!   with `kernel.kexec_load_disabled` = 1, or a `kexec_load_limit_*` at 0.
//! - kernel/kexec.c `kexec_load_check`: `security_kernel_load_data(LOADING_KEXEC_IMAGE)`
//!   (LoadPin: EPERM for data it cannot trace to a file, security/loadpin/loadpin.c
//!   `loadpin_load_data`; IMA: EACCES under Secure Boot or an appraising policy,
//!   security/integrity/ima/ima_main.c `ima_load_data`), then lockdown (EPERM,
//!   LOCKDOWN_KEXEC).
//! - kernel/kexec_file.c `kimage_file_prepare_segments`: `kernel_read_file` of the kernel
//!   (READING_KEXEC_IMAGE) and the initrd (READING_KEXEC_INITRAMFS), where LoadPin refuses
//!   a file from another filesystem than the pinned one (EPERM, `loadpin_check`) and IMA
//!   one whose appraisal fails (EACCES, `ima_post_read_file`); then
//!   `kimage_validate_signature`: with signature enforcement the verifier's errno
//!   (EKEYREJECTED when the loader has no verifier or it fails, ENOKEY, EBADMSG, ENODATA for
//!   an unsigned PE, EKEYREVOKED for a blacklisted key or hash, ENOPKG for an unknown
//!   algorithm: crypto/asymmetric_keys/verify_pefile.c, certs/system_keyring.c
//!   `verify_pkcs7_signature` over the builtin, secondary and platform keyrings), and
//!   without enforcement EPERM under lockdown unless IMA will appraise the image.

use crate::security_state::{SecureBoot, SecurityState};
use nix::errno::Errno;
use std::path::Path;

/// A refused kexec_load or kexec_file_load, with what was being loaded.
#[derive(Debug, Clone)]
pub struct Refused<'a> {
    /// The call as the backend names it (`kexec_file_load(…)`, `kexec_load(…)`).
    pub call: &'a str,
    pub errno: Errno,
    pub kernel: &'a Path,
    pub initrd: Option<&'a Path>,
    /// Whether the kernel image carries an Authenticode signature (None: not a PE image).
    pub kernel_signed: Option<bool>,
    /// The kernel or initrd went to the kernel as a sealed memfd (`--sha256`,
    /// `--initrd-sha256`), a file on no disk filesystem and without extended attributes.
    pub memfd: bool,
}

/// What the signature-checking kernel accepts, and how to get there.
const SIGNED_KERNELS: &str = "it loads only a kernel signed by a key in its builtin or secondary trusted keyrings or in its platform keyring (the UEFI db, or shim's MOK list); sign an unsigned or self-built kernel with sbsign and enroll the certificate with mokutil --import (confirmed at the next boot)";

/// The one-line explanation of `r` on a machine in state `s`, or None when the errno
/// says nothing more than the generic message ([`crate::error::errno_meaning`]).
pub fn explain(r: &Refused<'_>, s: &SecurityState) -> Option<String> {
    let file_call = r.call.starts_with("kexec_file_load");
    if r.errno == Errno::EPERM && s.kexec_load_disabled {
        return Some(format!(
            "kexec is disabled on this machine until it reboots (kernel.kexec_load_disabled = 1), for both kexec_load and kexec_file_load ({} failed: EPERM)",
            call_name(r.call)
        ));
    }
    if file_call {
        explain_file_load(r, s)
    } else {
        explain_kexec_load(r, s)
    }
}

fn call_name(call: &str) -> &str {
    call.split('(').next().unwrap_or(call)
}

/// The files a refusal of reading files may concern: the kernel ("it": the line starts
/// with its path), and the initrd if any.
fn files(r: &Refused<'_>, kernel: bool, initrd: bool) -> String {
    match (r.initrd, kernel, initrd) {
        (Some(i), true, true) => format!("it or {}", i.display()),
        (Some(i), false, true) => i.display().to_string(),
        _ => "it".to_string(),
    }
}

fn explain_file_load(r: &Refused<'_>, s: &SecurityState) -> Option<String> {
    let errno = r.errno;
    let detail = match errno {
        Errno::EKEYREJECTED => "the signature did not verify against a trusted key, or this kernel cannot check the signatures of this image format",
        Errno::ENOKEY => "it is signed by a key the kernel does not trust",
        Errno::ENODATA => "it carries no signature",
        Errno::EBADMSG => "the signature is malformed, or the file changed after it was signed",
        Errno::EKEYREVOKED => "the signing key or the kernel's hash is revoked (UEFI dbx or the kernel's blacklist)",
        Errno::ENOPKG => "the signature uses an algorithm this kernel was built without",
        Errno::ELIBBAD | Errno::EMSGSIZE => "the signature data is malformed",
        Errno::EPERM if s.loadpin_may_refuse() => return Some(loadpin_file(r, s)),
        Errno::EPERM if s.expects_lockdown() => match s.lockdown {
            Some(l) => return Some(signature(r, &format!("it is locked down ({l}) and the signature did not verify"))),
            None => return Some(signature(r, "Secure Boot is on, so it is most likely locked down, and the signature did not verify")),
        },
        Errno::EACCES => return Some(ima_file(r, s)),
        _ => return None,
    };
    Some(signature(r, detail))
}

/// The signature refusal: says "signature", after the kernel's path (the e2e's contract).
fn signature(r: &Refused<'_>, detail: &str) -> String {
    let unsigned = if r.kernel_signed == Some(false) && r.errno != Errno::ENODATA {
        "; the file carries no signature at all"
    } else {
        ""
    };
    format!(
        "the running kernel rejected its signature (kexec_file_load failed: {:?}: {detail}{unsigned}): {SIGNED_KERNELS}",
        r.errno
    )
}

fn loadpin_file(r: &Refused<'_>, s: &SecurityState) -> String {
    let memfd = if r.memfd {
        "; the sealed memfd --sha256 hands over is on no disk filesystem, so LoadPin always refuses it: load without --sha256/--initrd-sha256"
    } else {
        ""
    };
    let or_signature = if s.expects_lockdown() {
        format!(
            " (if they are, the running kernel rejected the kernel's signature under lockdown: {SIGNED_KERNELS})"
        )
    } else {
        String::new()
    };
    format!(
        "LoadPin refused to let the kernel read {} (kexec_file_load failed: EPERM): it reads kexec images only from the filesystem it pinned, the one the first kernel module or firmware came from (normally the root filesystem){memfd}; keep the kernel and initrd there{or_signature}, or boot with loadpin.exclude=kexec-image,kexec-initramfs",
        files(r, true, true)
    )
}

fn ima_file(r: &Refused<'_>, s: &SecurityState) -> String {
    let memfd = if r.memfd {
        "; the sealed memfd --sha256 hands over carries no security.ima signature: load without --sha256/--initrd-sha256"
    } else {
        ""
    };
    match s.ima {
        Some(ima) => {
            let (k, i) = match (ima.appraises_kernel, ima.appraises_initrd) {
                (Some(k), Some(i)) if k || i => (k, i),
                _ => (true, true),
            };
            let policy = match (ima.appraises_kernel, ima.appraises_initrd) {
                (None, _) | (_, None) => "its policy (not readable here)".to_string(),
                (Some(true), Some(true)) => "its policy's appraise rules for kexec kernels and initrds".to_string(),
                (Some(true), Some(false)) => "its policy's func=KEXEC_KERNEL_CHECK appraise rule".to_string(),
                (Some(false), Some(true)) => "its policy's func=KEXEC_INITRAMFS_CHECK appraise rule".to_string(),
                (Some(false), Some(false)) => "its policy (no kexec appraise rule is listed, so maybe an architecture rule)".to_string(),
            };
            format!(
                "IMA refused {} (kexec_file_load failed: EACCES): {policy} requires a valid IMA signature{memfd}; sign the file with evmctl ima_sign using a key whose certificate is on the .ima keyring (or an appended signature where the policy allows modsig), or change the IMA policy",
                files(r, k, i)
            )
        }
        None => format!(
            "a security module refused to let the kernel read {} (kexec_file_load failed: EACCES; IMA appraisal, or an SELinux or AppArmor policy){memfd}: the audit log (journalctl -k, /var/log/audit) names the rule",
            files(r, true, true)
        ),
    }
}

fn explain_kexec_load(r: &Refused<'_>, s: &SecurityState) -> Option<String> {
    let file = "use --syscall file (or auto), which hands the kernel the file to check";
    match r.errno {
        Errno::EPERM => match s.lockdown {
            Some(l) if l.blocks_kexec_load() => Some(format!(
                "kexec_load is refused under lockdown ({l}) (kexec_load failed: EPERM); {file}, with a kernel signed by a trusted key"
            )),
            _ if s.loadpin_may_refuse() => Some(format!(
                "LoadPin refuses kexec_load, whose image it cannot trace to a file (kexec_load failed: EPERM); {file}, from the pinned filesystem, or boot with loadpin.exclude=kexec-image"
            )),
            None if s.secure_boot == SecureBoot::On => Some(format!(
                "kexec_load was refused, most likely by lockdown: Secure Boot is on and /sys/kernel/security/lockdown cannot be read (kexec_load failed: EPERM); {file}, with a kernel signed by a trusted key"
            )),
            _ => None,
        },
        Errno::EACCES => Some(if s.ima.is_some() || s.secure_boot == SecureBoot::On {
            format!(
                "IMA refused kexec_load, because it cannot appraise a kernel handed over in memory (Secure Boot, or an IMA policy appraising KEXEC_KERNEL_CHECK) (kexec_load failed: EACCES); {file}"
            )
        } else {
            format!(
                "a security module refused kexec_load (kexec_load failed: EACCES; IMA, or an SELinux or AppArmor policy); {file}, or see the audit log"
            )
        }),
        _ => None,
    }
}

/// Who refused a kexec_load with `errno`, in a few words for auto's fallback line.
pub fn who_refused_kexec_load(errno: Errno, s: &SecurityState) -> String {
    match (errno, s.lockdown) {
        (Errno::EPERM, Some(l)) if l.blocks_kexec_load() => format!("lockdown ({l})"),
        (Errno::EPERM, _) if s.loadpin_may_refuse() => "LoadPin".to_string(),
        (Errno::EPERM, None) if s.secure_boot == SecureBoot::On => {
            "lockdown, most likely (Secure Boot is on)".to_string()
        }
        (Errno::EPERM, _) => "the running kernel (not permitted)".to_string(),
        _ if s.ima.is_some() || s.secure_boot == SecureBoot::On => {
            "IMA, which cannot appraise a kernel handed over in memory".to_string()
        }
        _ => "a security module".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Lockdown;
    use crate::security_state::{Ima, LoadPin};

    const FILE_CALL: &str = "kexec_file_load(kernel_fd=3, initrd_fd=4, cmdline_len=1, flags=0x0)";
    const LOAD_CALL: &str = "kexec_load(entry=0x1000, segments=4, flags=0x3e0000)";

    fn refused(call: &'static str, errno: Errno) -> Refused<'static> {
        Refused {
            call,
            errno,
            kernel: Path::new("/boot/vmlinuz-6.12"),
            initrd: Some(Path::new("/boot/initrd.img-6.12")),
            kernel_signed: Some(true),
            memfd: false,
        }
    }

    fn state(lockdown: Option<Lockdown>) -> SecurityState {
        SecurityState {
            lockdown,
            ..SecurityState::default()
        }
    }

    #[test]
    fn signature_refusals_name_the_kernel_and_what_it_accepts() {
        let locked = state(Some(Lockdown::Integrity));
        for (errno, detail) in [
            (Errno::EKEYREJECTED, "did not verify against a trusted key"),
            (Errno::ENOKEY, "a key the kernel does not trust"),
            (Errno::EBADMSG, "changed after it was signed"),
            (Errno::ENODATA, "carries no signature"),
            (Errno::EKEYREVOKED, "revoked"),
            (Errno::ENOPKG, "algorithm"),
            (
                Errno::EPERM,
                "locked down (integrity) and the signature did not verify",
            ),
        ] {
            let m = explain(&refused(FILE_CALL, errno), &locked).unwrap();
            assert!(
                m.starts_with(&format!(
                    "the running kernel rejected its signature (kexec_file_load failed: {errno:?}: "
                )),
                "{m}"
            );
            assert!(m.contains(detail), "{errno:?}: {m}");
            assert!(m.contains("builtin or secondary trusted keyrings"), "{m}");
            assert!(
                m.contains("platform keyring (the UEFI db, or shim's MOK list)"),
                "{m}"
            );
            assert!(
                m.contains("sbsign") && m.contains("mokutil --import"),
                "{m}"
            );
            assert!(!m.contains('\n'));
        }
        // An unsigned kernel says so.
        let mut r = refused(FILE_CALL, Errno::EKEYREJECTED);
        r.kernel_signed = Some(false);
        let m = explain(&r, &locked).unwrap();
        assert!(m.contains("; the file carries no signature at all)"), "{m}");
        // EPERM without lockdown, LoadPin or kexec_load_disabled: the generic message.
        assert_eq!(
            explain(&refused(FILE_CALL, Errno::EPERM), &state(None)),
            None
        );
        assert_eq!(
            explain(
                &refused(FILE_CALL, Errno::EPERM),
                &state(Some(Lockdown::None))
            ),
            None
        );
        // Secure Boot on and lockdown unreadable: lockdown expected.
        let sb = SecurityState {
            secure_boot: SecureBoot::On,
            ..SecurityState::default()
        };
        let m = explain(&refused(FILE_CALL, Errno::EPERM), &sb).unwrap();
        assert!(
            m.contains("its signature (kexec_file_load failed: EPERM: Secure Boot is on"),
            "{m}"
        );
        // Other errnos are left to the generic message.
        assert_eq!(explain(&refused(FILE_CALL, Errno::ENOMEM), &locked), None);
    }

    #[test]
    fn kexec_load_under_lockdown_says_lockdown_and_what_to_use() {
        let m = explain(
            &refused(LOAD_CALL, Errno::EPERM),
            &state(Some(Lockdown::Confidentiality)),
        )
        .unwrap();
        assert_eq!(
            m,
            "kexec_load is refused under lockdown (confidentiality) (kexec_load failed: EPERM); use --syscall file (or auto), which hands the kernel the file to check, with a kernel signed by a trusted key"
        );
        let sb = SecurityState {
            secure_boot: SecureBoot::On,
            ..SecurityState::default()
        };
        let m = explain(&refused(LOAD_CALL, Errno::EPERM), &sb).unwrap();
        assert!(
            m.contains("most likely by lockdown: Secure Boot is on"),
            "{m}"
        );
        assert_eq!(
            explain(
                &refused(LOAD_CALL, Errno::EPERM),
                &state(Some(Lockdown::None))
            ),
            None
        );
    }

    #[test]
    fn loadpin_refusals_name_the_files_and_the_way_out() {
        let pinned = SecurityState {
            loadpin: Some(LoadPin {
                enforcing: Some(true),
            }),
            ..SecurityState::default()
        };
        let m = explain(&refused(FILE_CALL, Errno::EPERM), &pinned).unwrap();
        assert_eq!(
            m,
            "LoadPin refused to let the kernel read it or /boot/initrd.img-6.12 (kexec_file_load failed: EPERM): it reads kexec images only from the filesystem it pinned, the one the first kernel module or firmware came from (normally the root filesystem); keep the kernel and initrd there, or boot with loadpin.exclude=kexec-image,kexec-initramfs"
        );
        let mut r = refused(FILE_CALL, Errno::EPERM);
        r.memfd = true;
        assert!(explain(&r, &pinned)
            .unwrap()
            .contains("load without --sha256"));
        // Under lockdown too, the signature may be what failed: both are said.
        let both = SecurityState {
            lockdown: Some(Lockdown::Integrity),
            ..pinned.clone()
        };
        let m = explain(&refused(FILE_CALL, Errno::EPERM), &both).unwrap();
        assert!(
            m.starts_with("LoadPin refused") && m.contains("rejected the kernel's signature"),
            "{m}"
        );
        // kexec_load: LoadPin refuses what it cannot trace to a file.
        let m = explain(&refused(LOAD_CALL, Errno::EPERM), &pinned).unwrap();
        assert!(
            m.contains("LoadPin refuses kexec_load") && m.contains("--syscall file"),
            "{m}"
        );
        // Not enforcing: nothing to blame on LoadPin.
        let lax = SecurityState {
            loadpin: Some(LoadPin {
                enforcing: Some(false),
            }),
            ..SecurityState::default()
        };
        assert_eq!(explain(&refused(FILE_CALL, Errno::EPERM), &lax), None);
    }

    #[test]
    fn ima_refusals_name_the_appraised_files_and_how_to_sign_them() {
        let ima = |k, i| SecurityState {
            ima: Some(Ima {
                appraises_kernel: k,
                appraises_initrd: i,
            }),
            ..SecurityState::default()
        };
        let m = explain(
            &refused(FILE_CALL, Errno::EACCES),
            &ima(Some(true), Some(false)),
        )
        .unwrap();
        assert_eq!(
            m,
            "IMA refused it (kexec_file_load failed: EACCES): its policy's func=KEXEC_KERNEL_CHECK appraise rule requires a valid IMA signature; sign the file with evmctl ima_sign using a key whose certificate is on the .ima keyring (or an appended signature where the policy allows modsig), or change the IMA policy"
        );
        let m = explain(
            &refused(FILE_CALL, Errno::EACCES),
            &ima(Some(false), Some(true)),
        )
        .unwrap();
        assert!(m.starts_with("IMA refused /boot/initrd.img-6.12 ("), "{m}");
        let m = explain(&refused(FILE_CALL, Errno::EACCES), &ima(None, None)).unwrap();
        assert!(
            m.starts_with("IMA refused it or /boot/initrd.img-6.12 (")
                && m.contains("not readable here"),
            "{m}"
        );
        let mut r = refused(FILE_CALL, Errno::EACCES);
        r.memfd = true;
        assert!(explain(&r, &ima(None, None))
            .unwrap()
            .contains("carries no security.ima signature"));
        // No IMA to be seen: some security module, and where to look.
        let m = explain(&refused(FILE_CALL, Errno::EACCES), &state(None)).unwrap();
        assert!(
            m.starts_with("a security module refused to let the kernel read it or"),
            "{m}"
        );
        // kexec_load: IMA cannot appraise memory.
        let m = explain(&refused(LOAD_CALL, Errno::EACCES), &ima(None, None)).unwrap();
        assert!(
            m.contains("IMA refused kexec_load") && m.contains("--syscall file"),
            "{m}"
        );
        let m = explain(&refused(LOAD_CALL, Errno::EACCES), &state(None)).unwrap();
        assert!(m.contains("a security module refused kexec_load"), "{m}");
    }

    #[test]
    fn kexec_load_disabled_comes_first() {
        let s = SecurityState {
            kexec_load_disabled: true,
            lockdown: Some(Lockdown::Integrity),
            ..SecurityState::default()
        };
        for call in [FILE_CALL, LOAD_CALL] {
            let m = explain(&refused(call, Errno::EPERM), &s).unwrap();
            assert!(
                m.starts_with("kexec is disabled on this machine until it reboots (kernel.kexec_load_disabled = 1)"),
                "{m}"
            );
        }
    }
}
