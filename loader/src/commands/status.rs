//! `warmboot status`: what the running kernel has loaded, read through the host root.

use crate::error::Result;
use crate::host::{HostRoot, Lockdown};
use crate::human_size::human_size;
use crate::kexec::linux::read_status;
use crate::kexec::{Kexec, Status};
use std::fmt::Write as _;

/// Builds the status report for the machine at `host`.
pub fn run(host: &HostRoot, json: bool) -> Result<String> {
    render(&read_status(host)?, host, json)
}

/// Builds the status report from what `backend` says is loaded, with the lockdown level
/// of the machine at `host` (the simulator, a fake, or the real kernel).
pub fn run_with(backend: &dyn Kexec, host: &HostRoot, json: bool) -> Result<String> {
    render(&backend.status()?, host, json)
}

fn render(status: &Status, host: &HostRoot, json: bool) -> Result<String> {
    let lockdown = host.lockdown()?;
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    if json {
        let v = serde_json::json!({
            "loaded": status.loaded,
            "crash_loaded": status.crash_loaded,
            "crash_size": status.crash_size,
            "lockdown": lockdown,
            "kexec_load_blocked_by_lockdown": lockdown.map(Lockdown::blocks_kexec_load),
        });
        return Ok(format!("{v:#}\n"));
    }
    let mut out = String::new();
    let _ = writeln!(out, "{:<14} {}", "loaded:", yes_no(status.loaded));
    let _ = writeln!(
        out,
        "{:<14} {}",
        "crash loaded:",
        yes_no(status.crash_loaded)
    );
    let _ = writeln!(
        out,
        "{:<14} {}",
        "crash size:",
        human_size(status.crash_size)
    );
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
    Ok(out)
}
