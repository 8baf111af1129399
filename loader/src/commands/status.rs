//! `warmboot status`: what the running kernel has loaded, read through the host root.

use crate::error::Result;
use crate::host::{HostRoot, Lockdown};
use crate::human_size::human_size;
use crate::kexec::linux::read_status;
use crate::kexec::{Kexec, Status};
use crate::load_record::LoadRecord;
use crate::memmap::Mode;
use crate::security_state::{SecureBoot, SecurityState};
use std::fmt::Write as _;

/// What the running kernel was built with, from which of its sysfs files exist
/// (kernel/ksysfs.c: `kexec_loaded` with CONFIG_KEXEC_CORE; `kexec_crash_loaded` and
/// `kexec_crash_size` with CONFIG_CRASH_DUMP since 6.9, CONFIG_KEXEC_CORE before).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Support {
    pub kexec: bool,
    pub crash: bool,
}

impl Support {
    /// Reads it under `host`; `None` when `/sys/kernel` itself is missing (sysfs not
    /// mounted, or a wrong `--root`), which says nothing about the kernel.
    pub fn of(host: &HostRoot) -> Option<Support> {
        host.path("/sys/kernel").is_dir().then(|| Support {
            kexec: host.path("/sys/kernel/kexec_loaded").exists(),
            crash: host.path("/sys/kernel/kexec_crash_loaded").exists(),
        })
    }
}

/// Builds the status report for the machine at `host`. A kernel built without kexec (or
/// without crash dumps) is reported as such, not as a file that cannot be read.
pub fn run(host: &HostRoot, json: bool) -> Result<String> {
    match Support::of(host) {
        Some(Support { kexec: false, .. }) => unsupported(host, json),
        Some(Support { crash: false, .. }) => {
            let status = Status {
                loaded: host.kexec_loaded()?,
                crash_loaded: false,
                crash_size: 0,
            };
            render(&status, host, json, false)
        }
        _ => render(&read_status(host)?, host, json, true),
    }
}

/// The report for a kernel that cannot kexec at all.
fn unsupported(host: &HostRoot, json: bool) -> Result<String> {
    let security = SecurityState::read(host)?;
    let lockdown = security.lockdown;
    if json {
        let v = serde_json::json!({
            "kexec_supported": false,
            "crash_supported": false,
            "loaded": false,
            "crash_loaded": false,
            "crash_size": 0,
            "lockdown": lockdown,
            "kexec_load_blocked_by_lockdown": lockdown.map(Lockdown::blocks_kexec_load),
            "secure_boot": security.secure_boot,
            "loadpin": security.loadpin,
            "ima": security.ima,
            "kexec_load_disabled": security.kexec_load_disabled,
        });
        return Ok(format!("{v:#}\n"));
    }
    Ok(format!(
        "{:<14} not supported by the running kernel (no /sys/kernel/kexec_loaded: built without CONFIG_KEXEC_CORE); reboots go through the firmware\n",
        "kexec:"
    ))
}

/// Builds the status report from what `backend` says is loaded, with the lockdown level
/// of the machine at `host` (the simulator, a fake, or the real kernel).
pub fn run_with(backend: &dyn Kexec, host: &HostRoot, json: bool) -> Result<String> {
    render(&backend.status()?, host, json, true)
}

/// What warmboot recorded of the loads under `host` ([`crate::load_record`]).
fn records(host: &HostRoot) -> Result<(Option<LoadRecord>, Option<LoadRecord>)> {
    let dir = host.path(crate::lock::STATE_DIR);
    Ok((
        crate::load_record::read(&dir, Mode::Normal)?,
        crate::load_record::read(&dir, Mode::Panic)?,
    ))
}

/// The "what" of a loaded slot: the record when it matches the kernel's state.
fn describe_slot(loaded: bool, record: Option<&LoadRecord>) -> Option<String> {
    match (loaded, record) {
        (true, Some(r)) => Some(r.describe()),
        (false, Some(r)) => Some(format!(
            "stale record of {} ({}): something else unloaded it",
            r.kernel.display(),
            r.loaded_at_text()
        )),
        (true, None) => Some("not loaded by warmboot (no record in /run/warmboot)".to_string()),
        (false, None) => None,
    }
}

fn render(status: &Status, host: &HostRoot, json: bool, crash_supported: bool) -> Result<String> {
    let security = SecurityState::read(host)?;
    let lockdown = security.lockdown;
    let (normal, crash) = records(host)?;
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    if json {
        let v = serde_json::json!({
            "kexec_supported": true,
            "crash_supported": crash_supported,
            "loaded": status.loaded,
            "loaded_kernel": normal.as_ref().filter(|_| status.loaded),
            "crash_kernel": crash.as_ref().filter(|_| status.crash_loaded),
            "crash_loaded": status.crash_loaded,
            "crash_size": status.crash_size,
            "lockdown": lockdown,
            "kexec_load_blocked_by_lockdown": lockdown.map(Lockdown::blocks_kexec_load),
            "secure_boot": security.secure_boot,
            "lockdown_expected": security.expects_lockdown(),
            "loadpin": security.loadpin,
            "ima": security.ima,
            "kexec_load_disabled": security.kexec_load_disabled,
        });
        return Ok(format!("{v:#}\n"));
    }
    let mut out = String::new();
    let _ = writeln!(out, "{:<14} {}", "loaded:", yes_no(status.loaded));
    if let Some(what) = describe_slot(status.loaded, normal.as_ref()) {
        let _ = writeln!(out, "{:<14} {what}", "");
    }
    if crash_supported {
        let _ = writeln!(
            out,
            "{:<14} {}",
            "crash loaded:",
            yes_no(status.crash_loaded)
        );
        if let Some(what) = describe_slot(status.crash_loaded, crash.as_ref()) {
            let _ = writeln!(out, "{:<14} {what}", "");
        }
        let _ = writeln!(
            out,
            "{:<14} {}",
            "crash size:",
            human_size(status.crash_size)
        );
    } else {
        let _ = writeln!(
            out,
            "{:<14} not supported by the running kernel (no /sys/kernel/kexec_crash_loaded: built without CONFIG_CRASH_DUMP)",
            "crash dumps:"
        );
    }
    let lock = match lockdown {
        None => {
            "unknown (no /sys/kernel/security/lockdown; securityfs not mounted or no lockdown LSM)"
                .to_string()
        }
        Some(l) if l.blocks_kexec_load() => {
            format!("{l} (kexec_load is refused; kexec_file_load needs a signed kernel)")
        }
        Some(l) => l.to_string(),
    };
    let _ = writeln!(out, "{:<14} {}", "lockdown:", lock);
    security_lines(&mut out, &security);
    Ok(out)
}

/// The text lines for Secure Boot, LoadPin, IMA and kexec_load_disabled (the last three
/// only where they are in force).
fn security_lines(out: &mut String, s: &SecurityState) {
    let sb = match s.secure_boot {
        SecureBoot::On if s.lockdown.is_none() => format!(
            "{} (lockdown not readable but to be expected: auto loads with kexec_file_load, which needs a signed kernel)",
            s.secure_boot
        ),
        SecureBoot::On => format!(
            "{} (auto prefers kexec_file_load, which checks the kernel's signature)",
            s.secure_boot
        ),
        other => other.to_string(),
    };
    let _ = writeln!(out, "{:<14} {sb}", "secure boot:");
    if let Some(l) = s.loadpin {
        let what = match l.enforcing {
            Some(true) => "enforcing (kexec_file_load reads kernels and initrds only from the pinned filesystem; kexec_load is refused)",
            Some(false) => "active, not enforcing",
            None => "active (kernel.loadpin.enforce not readable)",
        };
        let _ = writeln!(out, "{:<14} {what}", "loadpin:");
    }
    if let Some(i) = s.ima {
        let what = match (i.appraises_kernel, i.appraises_initrd) {
            (None, _) | (_, None) => "active (policy not readable here)",
            (Some(true), Some(true)) => {
                "appraises kexec kernels and initrds (they need IMA signatures)"
            }
            (Some(true), Some(false)) => "appraises kexec kernels (they need IMA signatures)",
            (Some(false), Some(true)) => "appraises kexec initrds (they need IMA signatures)",
            (Some(false), Some(false)) => "active, no appraise rule for kexec files",
        };
        let _ = writeln!(out, "{:<14} {what}", "ima:");
    }
    if s.kexec_load_disabled {
        let _ = writeln!(
            out,
            "{:<14} kernel.kexec_load_disabled = 1: no kexec load until the next boot",
            "kexec:"
        );
    }
}
