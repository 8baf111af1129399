//! `warmboot load`: plan a kernel load, check it, and (for now) only ever dry-run it.
//!
//! A real load must not exist half-way: until the x86 and arm64 issues build boot_params,
//! the DTB and the entry trampolines, a plan would boot nothing, so a load without
//! `--dry-run` is refused with an error saying so. Nothing here calls a real syscall.

use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::host::{HostRoot, Lockdown};
use crate::image::KernelImage;
use crate::kexec::{kexec_file_flags, kexec_load_flags, DryRun, FileLoad, Kexec};
use crate::layout::KernelLayout;
use crate::memmap::{MemoryMap, Mode};
use crate::plan::{Plan, SyscallChoice};
use crate::planner::{plan, PlanRequest};
use std::fmt::Write as _;
use std::path::PathBuf;

/// Where the next kernel's command line comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdlineSource {
    /// Exactly this text (`--append` / `--command-line`).
    Given(String),
    /// The running kernel's, cleaned by [`reuse_cmdline`] (`--reuse-cmdline`).
    Reuse,
    /// Empty.
    Empty,
}

/// Everything `warmboot load` was asked to do.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub kernel: PathBuf,
    pub initrd: Option<PathBuf>,
    pub cmdline: CmdlineSource,
    pub mode: Mode,
    pub syscall: SyscallChoice,
    pub dry_run: bool,
    pub root: PathBuf,
    pub json: bool,
    /// Target architecture; None means the running machine's.
    pub arch: Option<Arch>,
}

/// The running kernel's command line made fit for the next kernel: drops `BOOT_IMAGE=`
/// (boot loaders) and `initrd=` (the EFI stub's, OVMF appends it), and for a panic
/// (capture) kernel also `crashkernel=`, which must not reserve memory again.
pub fn reuse_cmdline(current: &str, mode: Mode) -> String {
    current
        .split_whitespace()
        .filter(|w| !w.starts_with("BOOT_IMAGE=") && !w.starts_with("initrd="))
        .filter(|w| mode == Mode::Normal || !w.starts_with("crashkernel="))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Picks the syscall for `requested` and says why.
pub fn choose_syscall(
    requested: SyscallChoice,
    arch: Arch,
    lockdown: Option<Lockdown>,
) -> (SyscallChoice, String) {
    let locked = lockdown.is_some_and(Lockdown::blocks_kexec_load);
    match requested {
        SyscallChoice::Classic => (SyscallChoice::Classic, "requested with --syscall classic".to_string()),
        SyscallChoice::File => (SyscallChoice::File, "requested with --syscall file".to_string()),
        SyscallChoice::Auto if locked => (
            SyscallChoice::File,
            "lockdown is on, which refuses kexec_load; kexec_file_load can still load a signed kernel".to_string(),
        ),
        SyscallChoice::Auto => match arch {
            Arch::Arm64 => (
                SyscallChoice::Classic,
                "arm64: Debian's kernels lack CONFIG_KEXEC_FILE and its arm64 loader takes only raw Images; warmboot's own plan is checked before loading".to_string(),
            ),
            Arch::X86_64 => (
                SyscallChoice::Classic,
                "no lockdown: warmboot's own plan, checked before loading, works for every image format".to_string(),
            ),
        },
    }
}

/// The result of a dry run, ready to render.
#[derive(Debug, Clone)]
pub struct DryRunReport {
    pub plan: Plan,
    pub syscall: SyscallChoice,
    pub reason: String,
    pub flags: u64,
}

impl DryRunReport {
    pub fn to_table(&self) -> String {
        let mut out = self.plan.to_table();
        let _ = writeln!(
            out,
            "syscall: {} (flags {:#x}): {}",
            self.syscall, self.flags, self.reason
        );
        out
    }

    pub fn to_json(&self) -> String {
        let mut v = self.plan.to_json();
        if let Some(o) = v.as_object_mut() {
            o.insert("syscall".to_string(), serde_json::json!(self.syscall));
            o.insert("syscall_reason".to_string(), serde_json::json!(self.reason));
            o.insert("flags".to_string(), serde_json::json!(self.flags));
        }
        format!("{v:#}\n")
    }
}

/// Plans `layout` for `map` and runs the plan through the [`DryRun`] backend (the same
/// checks the real backend runs before its syscall). Pure apart from the backend record.
pub fn dry_run(
    req: PlanRequest,
    map: &MemoryMap,
    syscall: SyscallChoice,
    reason: String,
) -> Result<DryRunReport> {
    let mode = req.mode;
    let arch = req.layout.arch;
    let mut p = plan(req, map)?;
    p.notes.push(match arch {
        Arch::X86_64 => "x86 boot_params (zero page, e820, command line) and the entry trampoline are added by the x86 boot protocol issue".to_string(),
        Arch::Arm64 => "the arm64 DTB (command line, initrd) and the entry trampoline are added by the arm64 issue".to_string(),
    });
    let mut backend = DryRun::new(map.clone());
    backend.kexec_load(&p)?;
    let flags = match syscall {
        SyscallChoice::File => {
            kexec_file_flags(mode, p.segments.iter().any(|s| s.what == "initrd"))
        }
        _ => kexec_load_flags(arch, mode),
    };
    if syscall == SyscallChoice::File {
        p.notes.push(
            "with kexec_file_load the kernel places the segments itself; the plan above is what warmboot checked".to_string(),
        );
    }
    Ok(DryRunReport {
        plan: p,
        syscall,
        reason,
        flags,
    })
}

/// Runs `warmboot load`.
pub fn run(opts: &LoadOptions) -> Result<String> {
    let host = HostRoot::new(&opts.root);
    let arch = match opts.arch.or_else(Arch::host) {
        Some(a) => a,
        None => {
            return Err(Error::Unsupported(
                "this machine is neither x86_64 nor arm64; give --arch".to_string(),
            ))
        }
    };
    let data = std::fs::read(&opts.kernel).map_err(|e| Error::Io(e).in_file(&opts.kernel))?;
    let image = KernelImage::parse(&data).map_err(|e| e.in_file(&opts.kernel))?;
    if image.arch() != arch {
        return Err(Error::ArchMismatch {
            kernel: image.arch(),
            target: arch,
        }
        .in_file(&opts.kernel));
    }
    if !opts.dry_run {
        return Err(Error::Unsupported(format!(
            "real loading of {arch} kernels arrives with the {} issue; use --dry-run to see and check the plan",
            match arch {
                Arch::X86_64 => "x86 boot protocol (boot_params, trampoline)",
                Arch::Arm64 => "arm64 (DTB, entry trampoline)",
            }
        )));
    }
    let (syscall, reason) = choose_syscall(opts.syscall, arch, host.lockdown()?);
    let map = host.memory_map()?;
    let layout = KernelLayout::from_image(&image, &data).map_err(|e| e.in_file(&opts.kernel))?;
    let initrd = match &opts.initrd {
        Some(p) => Some(std::fs::read(p).map_err(|e| Error::Io(e).in_file(p))?),
        None => None,
    };
    let cmdline = match &opts.cmdline {
        CmdlineSource::Given(s) => s.clone(),
        CmdlineSource::Reuse => reuse_cmdline(&host.cmdline()?, opts.mode),
        CmdlineSource::Empty => String::new(),
    };
    let req = PlanRequest {
        layout,
        initrd,
        cmdline: cmdline.clone(),
        extra: Vec::new(),
        mode: opts.mode,
    };
    let report = dry_run(req, &map, syscall, reason)?;
    if syscall == SyscallChoice::File {
        // Also put the kexec_file_load request through the dry-run backend.
        let kernel =
            std::fs::File::open(&opts.kernel).map_err(|e| Error::Io(e).in_file(&opts.kernel))?;
        let initrd = match &opts.initrd {
            Some(p) => Some(std::fs::File::open(p).map_err(|e| Error::Io(e).in_file(p))?),
            None => None,
        };
        DryRun::new(map).kexec_file_load(&FileLoad {
            kernel: &kernel,
            initrd: initrd.as_ref(),
            cmdline: &cmdline,
            mode: opts.mode,
        })?;
    }
    Ok(if opts.json {
        report.to_json()
    } else {
        report.to_table()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuse_cmdline_strips_loader_words() {
        let c = "console=ttyS0 quiet panic=1 labmode=fixtures crashkernel=256M initrd=initrd BOOT_IMAGE=/vmlinuz";
        assert_eq!(
            reuse_cmdline(c, Mode::Normal),
            "console=ttyS0 quiet panic=1 labmode=fixtures crashkernel=256M"
        );
        assert_eq!(
            reuse_cmdline(c, Mode::Panic),
            "console=ttyS0 quiet panic=1 labmode=fixtures"
        );
    }

    #[test]
    fn auto_syscall_follows_lockdown_and_arch() {
        assert_eq!(
            choose_syscall(SyscallChoice::Auto, Arch::X86_64, None).0,
            SyscallChoice::Classic
        );
        assert_eq!(
            choose_syscall(SyscallChoice::Auto, Arch::X86_64, Some(Lockdown::Integrity)).0,
            SyscallChoice::File
        );
        assert_eq!(
            choose_syscall(SyscallChoice::Auto, Arch::Arm64, Some(Lockdown::None)).0,
            SyscallChoice::Classic
        );
        assert_eq!(
            choose_syscall(SyscallChoice::File, Arch::Arm64, None).0,
            SyscallChoice::File
        );
    }

    #[test]
    fn dry_run_report_as_table_and_json() {
        let map = MemoryMap::parse(
            "00100000-3fffffff : System RAM\n  20000000-2fffffff : Crash kernel\n",
            Vec::new(),
        )
        .unwrap();
        let layout = crate::layout::x86_layout(vec![1; 0x3000], 0x400000, 0x200000, 0x1000000);
        let req = PlanRequest {
            layout,
            initrd: Some(vec![2; 0x1800]),
            cmdline: "console=ttyS0".to_string(),
            extra: Vec::new(),
            mode: Mode::Panic,
        };
        let r = dry_run(req, &map, SyscallChoice::Classic, "because".to_string()).unwrap();
        let table = r.to_table();
        // Kernel top-down at a 2 MiB boundary, initrd top-down in the highest hole, and the
        // top 8 KiB of the crash reservation left free for the control page.
        assert!(
            table.contains(
                "  0  0x2fa00000          0x2fe00000              0x3000    0x400000  kernel"
            ),
            "{table}"
        );
        assert!(
            table.contains(
                "  1  0x2fffc000          0x2fffe000              0x1800      0x2000  initrd"
            ),
            "{table}"
        );
        assert!(
            table.contains("syscall: kexec_load (flags 0x3e0001): because"),
            "{table}"
        );
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["entry"], 0x2fa00200u64);
        assert_eq!(v["segments"][0]["memsz"], 0x400000);
        assert_eq!(v["segments"][1]["bufsz"], 0x1800);
        assert_eq!(v["syscall"], "classic");
        assert_eq!(v["mode"], "panic");
    }
}
