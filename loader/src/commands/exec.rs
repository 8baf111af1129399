//! `warmboot exec`: reboot into the loaded kernel now.
//!
//! reboot(LINUX_REBOOT_CMD_KEXEC) neither syncs nor unmounts filesystems (uapi kexec.h), so
//! exec syncs first unless told not to, and refuses when nothing is loaded rather than let
//! the kernel answer EINVAL after the sync.

use crate::error::{Error, Result};
use crate::kexec::Kexec;

/// Syncs (unless `no_sync`) and jumps into the loaded kernel; returns only on failure.
pub fn run(backend: &mut dyn Kexec, no_sync: bool) -> Result<()> {
    let status = backend.status()?;
    if !status.loaded {
        return Err(Error::Unsupported(
            "nothing to exec: no kernel is loaded (/sys/kernel/kexec_loaded is 0); run `warmboot load` first"
                .to_string(),
        ));
    }
    if !no_sync {
        nix::unistd::sync();
    }
    backend.exec()
}
