//! `warmboot unload [--panic]`: forget the loaded kernel (or the crash kernel).

use crate::error::Result;
use crate::kexec::Kexec;
use crate::memmap::Mode;

/// Unloads the image of `mode` and says what changed.
pub fn run(backend: &mut dyn Kexec, mode: Mode) -> Result<String> {
    let before = backend.status()?;
    backend.unload(mode)?;
    let (what, was) = match mode {
        Mode::Normal => ("kernel", before.loaded),
        Mode::Panic => ("crash kernel", before.crash_loaded),
    };
    Ok(if was {
        format!("unloaded the {what}\n")
    } else {
        format!("no {what} was loaded; nothing changed\n")
    })
}
