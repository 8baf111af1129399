//! The "submit" stage of `warmboot load`: a prepared (planned and checked) load handed to a
//! [`Kexec`] backend with kexec_file_load or kexec_load, auto's fallbacks from one to the
//! other (kexec_file_load → kexec_load where kernel/kexec_file.c returns ENOSYS without
//! CONFIG_KEXEC_FILE or ENOEXEC for a format its loader does not take; kexec_load →
//! kexec_file_load where lockdown, LoadPin or IMA refuse kexec_load with EPERM or EACCES),
//! `--kernel-debug`'s second try without KEXEC_FILE_DEBUG on a kernel that does not know
//! it, the one line saying what was loaded and how, and a refusal explained
//! ([`crate::commands::load_refusal`]).

use crate::commands::load_check::DryRunReport;
use crate::commands::load_options::LoadOptions;
use crate::commands::load_refusal::{explain, who_refused_kexec_load, Refused};
use crate::error::{Error, Result};
use crate::image::KernelImage;
use crate::kexec::{FileLoad, Kexec};
use crate::memmap::Mode;
use crate::plan::SyscallChoice;
use crate::security_state::SecurityState;
use crate::x86::kexec_plan::{bzimage_fallback, bzimage_note};
use nix::errno::Errno;

/// A load planned and checked, ready to be dry-run or loaded.
pub struct Prepared {
    pub report: DryRunReport,
    /// The parsed kernel, for its name and version; an arm64 Image's bytes have moved
    /// into the plan ([`crate::arm64::kexec_plan::plan_image`]).
    pub image: KernelImage,
    pub cmdline: String,
    /// What `--syscall` asked for (the report holds what was chosen).
    pub requested: SyscallChoice,
    /// Whether the plan is complete enough to boot through kexec_load (entry code and
    /// boot_params or DTB included); generic plans of other formats are for review only.
    pub bootable: bool,
    /// With `--sha256`: the kernel image's bytes as read and checked, handed to
    /// kexec_file_load in a sealed memfd instead of reopening the path.
    pub pinned_kernel: Option<Vec<u8>>,
    /// With `--initrd-sha256`: the initrd's bytes as read and checked (sealed memfd too).
    pub pinned_initrd: Option<Vec<u8>>,
    /// The SHA-256 of the kernel file and initrd as read (the load record keeps them).
    pub kernel_sha256: Option<crate::file_trust::Sha256Digest>,
    pub initrd_sha256: Option<crate::file_trust::Sha256Digest>,
    /// Which files those were ([`crate::load_record::FileIdentity`]), when known.
    pub kernel_file: Option<crate::load_record::FileIdentity>,
    pub initrd_file: Option<crate::load_record::FileIdentity>,
    /// The descriptors the kernel and initrd were read through.
    pub files: OpenedFiles,
    /// Whether the running kernel's kexec_file loader takes this image format
    /// ([`crate::commands::load::file_syscall_takes`]): where auto may fall back to it.
    pub file_syscall_takes: bool,
    /// What the machine enforces on kexec loads, read before the load: auto's choice and
    /// the explanation of a refusal.
    pub security: SecurityState,
}

/// The kernel and initrd as opened once by the read stage: what kexec_file_load gets is
/// the file that was read and checked, not whatever the path names by then.
#[derive(Debug)]
pub struct OpenedFiles {
    pub kernel: std::fs::File,
    pub initrd: Option<std::fs::File>,
}

/// The kernel and initrd files for kexec_file_load: sealed memfds of the checked bytes
/// when --sha256 / --initrd-sha256 checked them or of the bytes taken from the file (a
/// UKI's sections, a decompressed arm64 Image: [`crate::commands::load_uki`]), else the descriptors they were read
/// through (duplicated; the kernel reads a file from offset 0 whatever its position).
pub fn open_files(
    files: &OpenedFiles,
    pinned: Option<&[u8]>,
    pinned_initrd: Option<&[u8]>,
) -> Result<(std::fs::File, Option<std::fs::File>)> {
    let dup = |f: &std::fs::File| f.try_clone().map_err(Error::Io);
    let kernel = match pinned {
        Some(bytes) => crate::file_trust::sealed_memfd("warmboot-kernel", bytes)?,
        None => dup(&files.kernel)?,
    };
    let initrd = match (&files.initrd, pinned_initrd) {
        // A UKI's .initrd may be handed over without any --initrd file.
        (_, Some(bytes)) => Some(crate::file_trust::sealed_memfd("warmboot-initrd", bytes)?),
        (Some(f), None) => Some(dup(f)?),
        (None, None) => None,
    };
    Ok((kernel, initrd))
}

/// Loads a prepared plan through `backend` and says what was loaded and how.
pub fn load_with(p: &Prepared, opts: &LoadOptions, backend: &mut dyn Kexec) -> Result<String> {
    let what = match opts.mode {
        Mode::Normal => "for the next reboot",
        Mode::Panic => "as the crash kernel",
    };
    let name = format!(
        "{} ({}{})",
        opts.kernel.display(),
        p.image.format_name(),
        p.image
            .version()
            .and_then(|v| v.split_whitespace().next())
            .map(|v| format!(" {v}"))
            .unwrap_or_default()
    );
    let (loaded, fell_back) =
        load_syscall(p, opts, backend, &name, what).map_err(|e| explained(e, p, opts))?;
    // x86: how the kernel is entered, one line after "loaded …". A plan made for
    // kexec_file_load and loaded with kexec_load after all says so, not the reason the
    // kernel's file loader would have had.
    let entry = p
        .report
        .plan
        .notes
        .iter()
        .find(|n| n.starts_with(crate::x86::kexec_plan::ENTRY_NOTE))
        .map(|n| match (bzimage_fallback(&p.report.plan), fell_back) {
            (Some(_), Fallback::ToClassic) => format!(
                "{}\n",
                bzimage_note("the plan made for kexec_file_load, loaded with kexec_load")
            ),
            (_, Fallback::ToFile) => format!(
                "{}\n",
                bzimage_note("kexec_load was refused; kexec_file_load loads the bzImage")
            ),
            _ => format!("{n}\n"),
        })
        .unwrap_or_default();
    Ok(loaded + &entry)
}

/// Which fallback a load took, for its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fallback {
    None,
    /// kexec_file_load failed; loaded with kexec_load.
    ToClassic,
    /// kexec_load was refused; loaded with kexec_file_load.
    ToFile,
}

fn load_syscall(
    p: &Prepared,
    opts: &LoadOptions,
    backend: &mut dyn Kexec,
    name: &str,
    what: &str,
) -> Result<(String, Fallback)> {
    match p.report.syscall {
        SyscallChoice::File | SyscallChoice::Auto => match file_load(p, opts, backend) {
            Ok(note) => Ok((
                format!(
                    "loaded {name} {what} with kexec_file_load ({}{note})\n",
                    p.report.reason
                ),
                Fallback::None,
            )),
            // auto falls back where the kernel has no kexec_file_load or its loader
            // refuses the format; not under lockdown (kexec_load would be refused too).
            Err(Error::Syscall { errno, call })
                if p.requested == SyscallChoice::Auto
                    && falls_back(errno)
                    && !p.report.reason.contains("lockdown") =>
            {
                let why = format!(
                    "{call} failed: {errno:?}{}; fell back to kexec_load",
                    crate::error::errno_meaning(&call, errno)
                );
                backend.step("fall back to kexec_load")?;
                classic_load(p, backend).map(|()| {
                    (
                        format!("loaded {name} {what} with kexec_load ({why})\n"),
                        Fallback::ToClassic,
                    )
                })
            }
            Err(e) => Err(e),
        },
        SyscallChoice::Classic => match classic_load(p, backend) {
            Ok(()) => Ok((
                format!(
                    "loaded {name} {what} with kexec_load ({})\n",
                    p.report.reason
                ),
                Fallback::None,
            )),
            // The other way: kexec_load refused by lockdown or a security module, whose
            // refusal comes before the kernel changes anything (kernel/kexec.c
            // kexec_load_check), so the file loader gets the same machine. Not for
            // --verify: the kernel's own placement has no purgatory check.
            Err(Error::Syscall { errno, call })
                if p.requested == SyscallChoice::Auto
                    && !opts.verify
                    && falls_forward(errno, &p.security)
                    && p.file_syscall_takes =>
            {
                let why = format!(
                    "{call} failed: {errno:?}, refused by {}; fell back to kexec_file_load",
                    who_refused_kexec_load(errno, &p.security)
                );
                backend.step("fall back to kexec_file_load")?;
                let note = file_load(p, opts, backend)?;
                Ok((
                    format!("loaded {name} {what} with kexec_file_load ({why}{note})\n"),
                    Fallback::ToFile,
                ))
            }
            Err(e) => Err(e),
        },
    }
}

/// kexec_file_load of the prepared files; with `--kernel-debug` on a kernel that refuses
/// KEXEC_FILE_DEBUG (EINVAL: older than 6.8, kernel/kexec_file.c checks the flags before
/// anything else), once more without it. Returns what the output line adds about the flag.
fn file_load(p: &Prepared, opts: &LoadOptions, backend: &mut dyn Kexec) -> Result<String> {
    backend.step("open the kernel and initrd")?;
    let (kernel, initrd) = open_files(
        &p.files,
        p.pinned_kernel.as_deref(),
        p.pinned_initrd.as_deref(),
    )?;
    let req = |debug| FileLoad {
        kernel: &kernel,
        initrd: initrd.as_ref(),
        cmdline: &p.cmdline,
        mode: opts.mode,
        debug,
    };
    match backend.kexec_file_load(&req(opts.kernel_debug)) {
        Ok(()) if opts.kernel_debug => Ok(
            "; with KEXEC_FILE_DEBUG: the kernel's account of the load is in its log, dmesg"
                .to_string(),
        ),
        Ok(()) => Ok(String::new()),
        Err(Error::Syscall {
            errno: Errno::EINVAL,
            ..
        }) if opts.kernel_debug => {
            backend.step("kexec_file_load again without KEXEC_FILE_DEBUG")?;
            backend.kexec_file_load(&req(false)).map(|()| {
                "; without KEXEC_FILE_DEBUG: the running kernel refused it (EINVAL; the flag is new in Linux 6.8), so it logged nothing more".to_string()
            })
        }
        Err(e) => Err(e),
    }
}

/// Whether auto tries kexec_file_load after kexec_load was refused with `errno`: EPERM
/// (lockdown, LoadPin; kernel/kexec.c kexec_load_check) or EACCES (IMA's
/// `ima_load_data`, or another module's kernel_load_data hook) — not where
/// `kernel.kexec_load_disabled` refuses every load.
pub fn falls_forward(errno: Errno, security: &SecurityState) -> bool {
    matches!(errno, Errno::EPERM | Errno::EACCES) && !security.kexec_load_disabled
}

/// A refusal of the kernel's (`Error::Syscall` of a load call) explained with what the
/// machine shows ([`explain`]), naming the kernel; anything else as it is.
fn explained(e: Error, p: &Prepared, opts: &LoadOptions) -> Error {
    let Error::Syscall { call, errno } = &e else {
        return e;
    };
    let signed = match &p.image {
        crate::image::KernelImage::BzImage(b) => b.efi_stub().then(|| b.signed()),
        crate::image::KernelImage::Arm64(a) => a.pe.as_ref().map(|pe| pe.is_signed()),
        _ => None,
    };
    let r = Refused {
        call,
        errno: *errno,
        kernel: &opts.kernel,
        initrd: opts.initrd.as_deref(),
        kernel_signed: signed,
        memfd: p.pinned_kernel.is_some() || p.pinned_initrd.is_some(),
    };
    match explain(&r, &p.security) {
        Some(m) => Error::Refused(m),
        None => e,
    }
}

/// Whether auto tries kexec_load after kexec_file_load failed with `errno`: the kernel
/// has no kexec_file_load (ENOSYS), its file loaders do not take the image (ENOEXEC,
/// ENOTSUP/EOPNOTSUPP) or refuse the request as such (EINVAL) — the errnos kexec-tools
/// falls back on too (kexec/kexec.c, `do_kexec_file_load` returning EFALLBACK). Never on
/// EPERM or EKEYREJECTED: those are lockdown and signature refusals kexec_load must not
/// get around.
pub fn falls_back(errno: nix::errno::Errno) -> bool {
    use nix::errno::Errno;
    matches!(
        errno,
        Errno::ENOSYS | Errno::ENOEXEC | Errno::ENOTSUP | Errno::EINVAL
    )
}

/// kexec_load with warmboot's own plan (checked again by the backend right before the
/// syscall).
fn classic_load(p: &Prepared, backend: &mut dyn Kexec) -> Result<()> {
    if !p.bootable {
        return Err(Error::Unsupported(format!(
            "kexec_load of {} needs boot_params or a DTB and entry code, which warmboot builds only for x86 bzImages and arm64 Images; use --syscall file where the kernel has kexec_file_load",
            p.image.format_name()
        )));
    }
    backend.kexec_load(&p.report.plan)
}

#[cfg(test)]
mod tests {
    use super::falls_back;
    use nix::errno::Errno;

    #[test]
    fn auto_falls_back_on_the_errnos_kexec_tools_does_and_never_on_refusals() {
        for e in [Errno::ENOSYS, Errno::ENOEXEC, Errno::ENOTSUP, Errno::EINVAL] {
            assert!(falls_back(e), "{e:?}");
        }
        assert!(
            falls_back(Errno::EOPNOTSUPP),
            "EOPNOTSUPP is ENOTSUP on Linux"
        );
        for e in [
            Errno::EPERM,
            Errno::EKEYREJECTED,
            Errno::EBUSY,
            Errno::ENOMEM,
        ] {
            assert!(!falls_back(e), "{e:?}");
        }
    }
}
