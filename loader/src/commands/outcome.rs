//! What a failed load (or exec, or unload) leaves behind, said in its one-line error.
//!
//! A load can fail before the kernel is asked (warmboot's own checks), in the syscall, or
//! between two calls (the auto fallback). The kernel's rules for what survives differ by
//! image (kernel/kexec.c do_kexec_load, kernel/kexec_file.c kexec_file_load; kexec-facts
//! §2): a failed normal load keeps the previous normal image, but a crash load frees the
//! previous crash image before it validates the new one. Rather than guess which case
//! happened, [`load`] reads the backend's status before and after and says what is loaded
//! now.

use crate::commands::load_options::LoadOptions;
use crate::commands::load_submit::{load_with, Prepared};
use crate::error::{Error, Result};
use crate::host::HostRoot;
use crate::kexec::{Kexec, Status};
use crate::memmap::Mode;
use crate::plan::SyscallChoice;

/// Loads `p` through `backend`; on failure the error names the kernel file, the reason and
/// what is loaded now. The status is only for the report: when it cannot be read (no /sys
/// in an initramfs) the load goes ahead all the same.
pub fn load(p: &Prepared, opts: &LoadOptions, backend: &mut dyn Kexec) -> Result<String> {
    let before = backend.status().ok();
    let result = refuse_under_lockdown(p, opts)
        .and_then(|()| load_with(p, opts, backend))
        .map_err(|e| no_kexec_possible(e, opts));
    result.map_err(|e| {
        let state = match (before, backend.status()) {
            (Some(before), Ok(after)) => describe(opts.mode, &before, &after),
            (None, Ok(after)) => describe_now(opts.mode, &after),
            (_, Err(s)) => format!("what is loaded now is unknown ({s})"),
        };
        failed(e, opts, state)
    })
}

/// `warmboot exec` through `backend` ([`crate::commands::exec::run`]); when the reboot
/// call fails, the error says whether the kernel is still loaded (kernel_kexec fails before
/// it touches the image: EBUSY, EPERM).
pub fn exec(backend: &mut dyn Kexec, no_sync: bool) -> Result<()> {
    let before = match backend.status() {
        Ok(s) => s,
        Err(e) => return Err(not_attempted(e)),
    };
    if !before.loaded {
        // The "nothing to exec" error, without a reboot call.
        return crate::commands::exec::run(backend, no_sync);
    }
    crate::commands::exec::run(backend, no_sync).map_err(|e| {
        let state = match backend.status() {
            Ok(s) if s.loaded => "the loaded kernel is still loaded".to_string(),
            Ok(_) => "no kernel is loaded now".to_string(),
            Err(s) => format!("what is loaded now is unknown ({s})"),
        };
        Error::LoadFailed {
            source: Box::new(e),
            state,
        }
    })
}

/// `warmboot unload` through `backend` ([`crate::commands::unload::run`]); a failed unload
/// says what is still loaded.
pub fn unload(backend: &mut dyn Kexec, mode: Mode) -> Result<String> {
    unload_via(backend, mode, crate::commands::unload::UnloadVia::Classic)
}

/// [`unload`] through the call `via` ([`crate::commands::unload::choose`]).
pub fn unload_via(
    backend: &mut dyn Kexec,
    mode: Mode,
    via: crate::commands::unload::UnloadVia,
) -> Result<String> {
    crate::commands::unload::run_via(backend, mode, via).map_err(|e| {
        let state = match (backend.status(), mode) {
            (Ok(s), Mode::Normal) if s.loaded => "the kernel is still loaded",
            (Ok(s), Mode::Panic) if s.crash_loaded => "the crash kernel is still loaded",
            (Ok(_), Mode::Normal) => "no kernel is loaded now",
            (Ok(_), Mode::Panic) => "no crash kernel is loaded now",
            (Err(_), _) => return e,
        };
        Error::LoadFailed {
            source: Box::new(e),
            state: state.to_string(),
        }
    })
}

fn not_attempted(e: Error) -> Error {
    Error::LoadFailed {
        source: Box::new(e),
        state: "could not read what is loaded, so nothing was attempted".to_string(),
    }
}

/// kexec_load is refused under lockdown (integrity and confidentiality): say so and name
/// the syscall that can still work, instead of letting the kernel answer EPERM.
fn refuse_under_lockdown(p: &Prepared, opts: &LoadOptions) -> Result<()> {
    if p.report.syscall != SyscallChoice::Classic {
        return Ok(());
    }
    match HostRoot::new(&opts.root).lockdown()? {
        Some(l) if l.blocks_kexec_load() => Err(Error::Unsupported(format!(
            "kexec_load is refused under lockdown ({l}); use --syscall file: kexec_file_load loads a kernel signed by a trusted key"
        ))),
        _ => Ok(()),
    }
}

/// kexec_file_load answered ENOSYS (a kernel built without CONFIG_KEXEC_FILE, as Debian's
/// arm64 kernels are) under a lockdown that refuses kexec_load: this kernel can kexec
/// nothing at all, and the error says so and why instead of naming one syscall.
fn no_kexec_possible(e: Error, opts: &LoadOptions) -> Error {
    let Error::Syscall { call, errno } = &e else {
        return e;
    };
    if *errno != nix::errno::Errno::ENOSYS || !call.starts_with("kexec_file_load") {
        return e;
    }
    match HostRoot::new(&opts.root).lockdown() {
        Ok(Some(l)) if l.blocks_kexec_load() => Error::Unsupported(format!(
            "no kexec is possible on this kernel: it was built without CONFIG_KEXEC_FILE (kexec_file_load: ENOSYS), and lockdown ({l}) refuses kexec_load; boot a kernel with CONFIG_KEXEC_FILE (or without lockdown) to kexec"
        )),
        _ => e,
    }
}

fn failed(e: Error, opts: &LoadOptions, state: String) -> Error {
    Error::LoadFailed {
        source: Box::new(name_file(e, &opts.kernel)),
        state,
    }
}

/// Attaches the kernel's path unless the error already names a file.
pub fn name_file(e: Error, kernel: &std::path::Path) -> Error {
    match e {
        Error::File { .. } | Error::LoadFailed { .. } => e,
        e => e.in_file(kernel),
    }
}

/// What is loaded now in the slot a load of `mode` targeted, given the status before and
/// after the failed attempt.
pub fn describe(mode: Mode, before: &Status, after: &Status) -> String {
    let s = match mode {
        Mode::Normal => match (before.loaded, after.loaded) {
            (true, true) => "the previously loaded kernel is still loaded",
            (false, false) => "nothing was loaded before and nothing is now",
            (true, false) => "the previously loaded kernel is no longer loaded",
            (false, true) => "a kernel is loaded now, though none was before",
        },
        Mode::Panic => match (before.crash_loaded, after.crash_loaded) {
            (true, true) => "the previously loaded crash kernel is still loaded",
            (false, false) => "no crash kernel was loaded before and none is now",
            (true, false) => {
                "the kernel unloaded the previous crash kernel when the load began; no crash kernel is loaded now"
            }
            (false, true) => "a crash kernel is loaded now, though none was before",
        },
    };
    s.to_string()
}

/// What is loaded now in the slot a failed load of `mode` targeted, when what was loaded
/// before is unknown.
pub fn describe_now(mode: Mode, after: &Status) -> String {
    let s = match mode {
        Mode::Normal if after.loaded => "a kernel is still loaded",
        Mode::Normal => "no kernel is loaded now",
        Mode::Panic if after.crash_loaded => "a crash kernel is still loaded",
        Mode::Panic => "no crash kernel is loaded now",
    };
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(loaded: bool, crash_loaded: bool) -> Status {
        Status {
            loaded,
            crash_loaded,
            crash_size: 0,
        }
    }

    #[test]
    fn describes_every_before_and_after() {
        let n = |b, a| describe(Mode::Normal, &st(b, false), &st(a, false));
        assert_eq!(
            n(true, true),
            "the previously loaded kernel is still loaded"
        );
        assert_eq!(
            n(false, false),
            "nothing was loaded before and nothing is now"
        );
        assert_eq!(
            n(true, false),
            "the previously loaded kernel is no longer loaded"
        );
        let c = |b, a| describe(Mode::Panic, &st(true, b), &st(true, a));
        assert_eq!(
            c(true, false),
            "the kernel unloaded the previous crash kernel when the load began; no crash kernel is loaded now"
        );
        assert_eq!(
            c(false, false),
            "no crash kernel was loaded before and none is now"
        );
        assert_eq!(
            c(true, true),
            "the previously loaded crash kernel is still loaded"
        );
        let now = |mode, c| describe_now(mode, &st(true, c));
        assert_eq!(now(Mode::Panic, false), "no crash kernel is loaded now");
        assert_eq!(now(Mode::Normal, false), "a kernel is still loaded");
    }

    #[test]
    fn a_file_already_named_is_not_named_twice() {
        let k = std::path::Path::new("/boot/vmlinuz");
        let e = name_file(Error::Empty.in_file("/boot/initrd.img"), k).to_string();
        assert_eq!(e, "/boot/initrd.img: file is empty");
        let e = name_file(Error::Empty, k).to_string();
        assert_eq!(e, "/boot/vmlinuz: file is empty");
    }
}
