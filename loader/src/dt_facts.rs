//! What a device-tree machine (arm64, riscv64) contributes to a `kexec_load` plan, read
//! once at the edge through [`HostRoot`]: the device tree to start from, and for a crash
//! kernel each CPU's crash_notes and the vmcoreinfo note.

use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::host::HostRoot;
use std::path::Path;

/// The running machine's facts a device-tree plan needs.
#[derive(Debug, Clone, Default)]
pub struct MachineFacts {
    /// The DTB to start from: /sys/firmware/fdt or the user's --dtb.
    pub dtb: Vec<u8>,
    /// Crash: each CPU's crash_notes (address, size) and the vmcoreinfo note.
    pub cpu_notes: Vec<(u64, u64)>,
    pub vmcoreinfo: Option<(u64, u64)>,
}

/// Reads the facts from the machine at `host`: the DTB (`dtb` overrides
/// /sys/firmware/fdt, checked by [`crate::dtb::validate`]), the CPUs' crash_notes (sized
/// for `arch` where the kernel does not say) and the vmcoreinfo note.
pub fn read(host: &HostRoot, dtb: Option<&Path>, arch: Arch) -> Result<MachineFacts> {
    let dtb = match dtb {
        Some(p) => {
            let d = crate::inspect::read_file(p)?;
            crate::dtb::validate(&d).map_err(|e| e.in_file(p))?;
            d
        }
        None => host.fdt()?.ok_or_else(|| {
            Error::invalid(
                "device tree",
                "the file is missing (not a device-tree machine?); give --dtb FILE",
            )
            .in_file(host.path("/sys/firmware/fdt"))
        })?,
    };
    let cpu_notes = crate::crash::cpu_notes(host, arch)?;
    Ok(MachineFacts {
        dtb,
        cpu_notes,
        vmcoreinfo: host.vmcoreinfo()?,
    })
}
