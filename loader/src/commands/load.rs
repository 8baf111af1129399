//! `warmboot load`: plan a kernel load, check it, then dry-run it or hand it to the kernel.
//!
//! Every load is planned and checked first, whatever the syscall: the same checks the sim
//! applies (`plan_check`) run before anything reaches the kernel. kexec_file_load then lets
//! the kernel place the image itself; kexec_load takes warmboot's own plan, which needs the
//! arch parts (x86 boot_params and trampoline, arm64 DTB and trampoline) — until those
//! exist, a classic load is refused rather than sent half-built.

use crate::arch::Arch;
use crate::arch_planners::planner_for;
use crate::arch_planning::{ArchPlan, PlanInput, X86EntryInput};
use crate::error::{Error, Result};
use crate::host::{HostRoot, Lockdown};
use crate::image::KernelImage;
use crate::kexec::{DryRun, FileLoad, Kexec};
use crate::layout::KernelLayout;
use crate::load_record::LoadRecord;
use crate::memmap::{MemoryMap, Mode};
use crate::plan::{Plan, SyscallChoice};
use crate::planner::{plan, PlanRequest};
use crate::randomness::Randomness;
use crate::security_state::{SecureBoot, SecurityState};
use crate::x86::kexec_plan::{bzimage_fallback, X86Entry};
use crate::x86::vmlinux_payload::KernelProper;

pub use crate::commands::load_check::{check_report, DryRunReport};
pub use crate::commands::load_options::{CmdlineSource, LoadOptions};
use crate::commands::load_submit::open_files;
pub use crate::commands::load_submit::{load_with, OpenedFiles, Prepared};
use crate::commands::load_uki;

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

/// Whether kexec_file_load can load `image` at all: x86 bzImages
/// (arch/x86/kernel/kexec-bzimage64.c) and arm64 Images (arch/arm64/kernel/kexec_image.c
/// takes only a raw Image; warmboot hands it an Image.gz or zboot decompressed), and the
/// kernel of a UKI ([`crate::commands::load_uki`]); never ELF vmlinux. Not a riscv64
/// Image: its kexec_file_load (arch/riscv/kernel/kexec_image.c) is not modelled by the
/// sim yet, and Debian's riscv64 kernel has no CONFIG_KEXEC_FILE.
pub fn file_syscall_takes(image: &KernelImage) -> bool {
    match image {
        KernelImage::BzImage(_) | KernelImage::Arm64(_) => true,
        KernelImage::Uki(u) => file_syscall_takes(&u.linux),
        KernelImage::Elf(_) | KernelImage::Riscv64(_) => false,
    }
}

/// Picks the syscall for `requested` and says why. `auto` prefers kexec_load for an x86
/// bzImage whose kernel proper warmboot decompressed (`x86_decompressed`: a normal load
/// whose `--x86-entry` allows it), since that kernel skips its own decompression at
/// reboot; otherwise kexec_file_load (the kernel checks signatures and places the image
/// itself) wherever the kernel's loader takes the image, and otherwise, or when the
/// kernel lacks it, warmboot's own plan through kexec_load — except under lockdown, which
/// refuses kexec_load. Lockdown is expected where it cannot be read and Secure Boot is on
/// ([`SecurityState::expects_lockdown`]); with Secure Boot on and lockdown off, auto still
/// prefers kexec_file_load (IMA's Secure Boot policy refuses kexec_load with EACCES,
/// security/integrity/ima/ima_main.c `ima_load_data`).
pub fn choose_syscall(
    requested: SyscallChoice,
    image: &KernelImage,
    security: &SecurityState,
    x86_decompressed: bool,
) -> (SyscallChoice, String) {
    let locked = security.lockdown.is_some_and(Lockdown::blocks_kexec_load);
    let secure_boot = security.secure_boot == SecureBoot::On;
    match requested {
        SyscallChoice::Classic => (SyscallChoice::Classic, "requested with --syscall classic".to_string()),
        SyscallChoice::File => (SyscallChoice::File, "requested with --syscall file".to_string()),
        SyscallChoice::Auto if locked => (
            SyscallChoice::File,
            "auto: lockdown is on, which refuses kexec_load; kexec_file_load can still load a signed kernel".to_string(),
        ),
        SyscallChoice::Auto if security.expects_lockdown() => (
            SyscallChoice::File,
            "auto: Secure Boot is on and lockdown cannot be read (no /sys/kernel/security/lockdown), so the kernel is most likely locked down, which refuses kexec_load; kexec_file_load can still load a signed kernel".to_string(),
        ),
        SyscallChoice::Auto if secure_boot && file_syscall_takes(image) => (
            SyscallChoice::File,
            "auto: Secure Boot is on: kexec_file_load, which checks the kernel's signature (kexec_load may be refused by IMA's Secure Boot policy)".to_string(),
        ),
        SyscallChoice::Auto if x86_decompressed && matches!(image, KernelImage::BzImage(_)) => (
            SyscallChoice::Classic,
            "auto: kexec_load with the kernel decompressed at load time (shorter reboot); kexec_file_load under lockdown".to_string(),
        ),
        SyscallChoice::Auto if file_syscall_takes(image) => (
            SyscallChoice::File,
            "auto: kexec_file_load preferred (the kernel verifies and places the image); kexec_load if the kernel lacks it".to_string(),
        ),
        SyscallChoice::Auto => (
            SyscallChoice::Classic,
            format!(
                "auto: the kernel's kexec_file loader does not take {}; warmboot's own plan, checked before loading",
                image.format_name()
            ),
        ),
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
    let arch = req.layout.arch;
    let mut p = plan(req, map)?;
    p.notes.push(match arch {
        Arch::X86_64 => {
            "a generic plan: x86 boot_params and the entry trampoline are built only for bzImages"
                .to_string()
        }
        Arch::Arm64 => "a generic plan without the arm64 DTB and entry trampoline".to_string(),
        Arch::Riscv64 => "a generic plan without the riscv64 DTB".to_string(),
    });
    check_report(p, map, syscall, reason)
}

/// Runs `warmboot load` against the running kernel.
pub fn run(opts: &LoadOptions) -> Result<String> {
    run_with(opts, None)
}

/// Runs `warmboot load` through `backend`, or the running kernel's when None (which refuses
/// `--root` without `--dry-run`: the plan would be for another machine). A failed load says
/// what is loaded now ([`crate::commands::outcome`]).
pub fn run_with(opts: &LoadOptions, backend: Option<&mut dyn Kexec>) -> Result<String> {
    let prepared = prepare(opts)?;
    if opts.dry_run {
        return Ok(if opts.json {
            prepared.report.to_json()
        } else {
            prepared.report.to_table()
        });
    }
    if let Some(backend) = backend {
        return crate::commands::outcome::load(&prepared, opts, backend);
    }
    if opts.root != std::path::Path::new("/") {
        return Err(Error::Unsupported(
            "--root reads another machine's state, so it goes only with --dry-run".to_string(),
        ));
    }
    let mut backend = crate::kexec::linux::LinuxKexec::new(HostRoot::new("/"))?;
    let text = crate::commands::outcome::load(&prepared, opts, &mut backend)?;
    save_record(&record_of(&prepared, opts, &text, now_secs()), opts.mode);
    Ok(text)
}

/// Seconds since the epoch, for the load record.
fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What a successful load records ([`crate::load_record`]): `loaded` is the load's own
/// report line, which says which syscall it used in the end (auto may have fallen back).
pub fn record_of(p: &Prepared, opts: &LoadOptions, loaded: &str, now: u64) -> LoadRecord {
    let syscall = if loaded.contains(" with kexec_file_load (") {
        "kexec_file_load"
    } else {
        "kexec_load"
    };
    LoadRecord {
        kernel: opts.kernel.clone(),
        kernel_sha256: p.kernel_sha256.map(|d| d.to_string()).unwrap_or_default(),
        release: p
            .image
            .version()
            .and_then(|v| v.split_whitespace().next())
            .map(str::to_string),
        initrd: opts.initrd.clone(),
        initrd_sha256: p.initrd_sha256.map(|d| d.to_string()),
        cmdline: p.cmdline.clone(),
        syscall: syscall.to_string(),
        loaded_at: now,
        chosen_by: opts.chosen_by.clone(),
        kernel_file: p.kernel_file,
        initrd_file: p.initrd_file,
    }
}

/// Writes the record into warmboot's state directory; a failure is a warning (the load
/// itself succeeded), and silence where `/run` does not exist (minimal initramfs).
fn save_record(record: &LoadRecord, mode: Mode) {
    let dir = std::path::Path::new(crate::lock::STATE_DIR);
    let euid = nix::unistd::geteuid().as_raw();
    let result = crate::lock::prepare_private_dir(dir, euid)
        .and_then(|()| crate::load_record::write(dir, mode, record));
    if let Err(e) = result {
        if crate::lock::lock_unavailable(&e).is_none() {
            eprintln!("warmboot: warning: the load is not recorded for `warmboot status`: {e}");
        }
    }
}

/// The load pipeline up to the syscall, one named stage per line (ARCHITECTURE.md, "The
/// load pipeline"): read the kernel, read the machine, lay out the kernel (and choose the
/// syscall), read the initrd and command line, plan through the architecture's
/// [`crate::arch_planning::ArchPlanner`], check. No syscall; [`load_with`] submits.
/// The stages run in this order so that each error is the one the first failing read or
/// rule gives.
pub fn prepare(opts: &LoadOptions) -> Result<Prepared> {
    let host = HostRoot::new(&opts.root);
    let arch = target_arch(opts)?;
    let mut kernel = read_kernel(opts, arch)?;
    let security = SecurityState::read(&host)?;
    let route = lay_out_kernel(&kernel, opts, &security)?;
    let map = host.memory_map()?;
    let (initrd, initrd_file, initrd_identity) = match read_initrd(opts)? {
        Some(ReadInitrd {
            bytes,
            file,
            identity,
        }) => (Some(bytes), Some(file), identity),
        None => (None, None, None),
    };
    let initrd_sha256 = initrd.as_deref().map(crate::file_trust::Sha256Digest::of);
    // A UKI's .initrd first, then the given file; its .cmdline unless one was given.
    let (initrd, cmdline_source) = match &kernel.uki {
        Some(u) => (
            load_uki::combine_initrds(u.initrd.as_deref(), initrd),
            u.cmdline_source(&opts.cmdline, opts.mode),
        ),
        None => (initrd, opts.cmdline.clone()),
    };
    let cmdline = cmdline_from(&host, &cmdline_source, opts.mode)?;
    let file_syscall = route.syscall == SyscallChoice::File;
    // What kexec_file_load gets instead of the file: a UKI's .linux, a decompressed Image.
    let handed = if file_syscall {
        let linux = kernel.uki.as_ref().map(|_| kernel.data.as_slice());
        load_uki::handed_kernel(&kernel.image, linux)
    } else {
        None
    };
    if opts.mode == Mode::Panic {
        let initrd_len = initrd.as_ref().map_or(0, |i| i.len() as u64);
        check_capture_fits(
            &host,
            &kernel.image,
            &kernel.data,
            &map,
            initrd_len,
            &cmdline,
            opts,
        )?;
    }
    // With --initrd-sha256 the checked bytes are the ones kexec_file_load gets, and so
    // are a UKI's .initrd (with the given file after it).
    let uki_initrd = kernel.uki.as_ref().is_some_and(|u| u.initrd.is_some());
    let pinned_initrd = match (&opts.initrd_sha256, &initrd) {
        (Some(_), Some(bytes)) => Some(bytes.clone()),
        (None, Some(bytes)) if uki_initrd && file_syscall => Some(bytes.clone()),
        _ => None,
    };
    let kernel_sha256 = kernel.digest;
    let kernel_identity = kernel.identity;
    let kernel_file = kernel
        .file
        .try_clone()
        .map_err(|e| Error::Io(e).in_file(&opts.kernel))?;
    let chosen = (route.syscall, route.reason, route.decompressed);
    let planned = plan_kernel(&host, &mut kernel, initrd, &cmdline, &map, route.x86, opts)?;
    let (syscall, reason) = settle_syscall(&planned.plan, &kernel.image, chosen, &security, opts);
    // The one line a load prints says that the kernel came out of a UKI.
    let reason = match &kernel.uki {
        Some(_) => format!("{reason}; the kernel is the unified kernel image's .linux section"),
        None => reason,
    };
    let format = kernel.image.format_name();
    if let Some(u) = kernel.uki.as_mut() {
        // Any command line option (or --current's) replaces .cmdline.
        let given = opts.cmdline != CmdlineSource::Empty;
        u.finish(
            opts.initrd.as_deref(),
            given,
            syscall == SyscallChoice::File,
            &format,
        );
    }
    let files = OpenedFiles {
        kernel: kernel_file,
        initrd: initrd_file,
    };
    let mut prepared = check(
        kernel,
        planned,
        cmdline,
        map,
        (syscall, reason),
        (pinned_initrd, files, handed),
        opts,
    )?;
    prepared.kernel_sha256 = Some(kernel_sha256);
    prepared.initrd_sha256 = initrd_sha256;
    prepared.kernel_file = kernel_identity;
    prepared.initrd_file = initrd_identity;
    prepared.security = security;
    Ok(prepared)
}

/// The architecture to load for: `--arch`, else the running machine's.
fn target_arch(opts: &LoadOptions) -> Result<Arch> {
    opts.arch.or_else(Arch::host).ok_or_else(|| {
        Error::Unsupported("this machine is neither x86_64 nor arm64; give --arch".to_string())
    })
}

/// The kernel file as read, trusted and parsed.
pub struct KernelInput {
    /// The file's bytes; empty for an arm64 kernel without `--sha256`, whose Image the
    /// parser holds (one copy of the kernel alive while planning instead of two).
    pub data: Vec<u8>,
    pub image: KernelImage,
    /// With `--sha256`: the digest, checked.
    pub verified: Option<crate::file_trust::Sha256Digest>,
    /// The bytes' SHA-256, checked or not (the load record keeps it).
    pub digest: crate::file_trust::Sha256Digest,
    /// The descriptor the bytes were read through, handed to kexec_file_load.
    pub file: std::fs::File,
    /// Which file that was, when it did not change while it was read (the load record
    /// keeps it: [`crate::load_record::FileIdentity`]).
    pub identity: Option<crate::load_record::FileIdentity>,
    /// A UKI's parts; then `image` is the kernel in `.linux` and `data` its bytes.
    pub uki: Option<load_uki::UkiParts>,
}

/// Stage "read the inputs" (the kernel): reads the file once, warns if someone else could
/// replace it, checks `--sha256`, parses it and checks it is for `arch`.
pub fn read_kernel(opts: &LoadOptions, arch: Arch) -> Result<KernelInput> {
    let (file, data, identity) = crate::file_trust::open_and_read(&opts.kernel)?;
    crate::file_trust::warn_if_replaceable(&opts.kernel);
    let verified = match &opts.sha256 {
        Some(want) => Some(want.check(&data).map_err(|e| e.in_file(&opts.kernel))?),
        None => None,
    };
    let digest = verified.unwrap_or_else(|| crate::file_trust::Sha256Digest::of(&data));
    let image = KernelImage::parse(&data).map_err(|e| e.in_file(&opts.kernel))?;
    // A UKI: the kernel in .linux is what is planned and loaded.
    let (image, data, uki) = match image {
        KernelImage::Uki(u) => {
            let (linux, mut parts) =
                load_uki::take_apart(&data, u).map_err(|e| e.in_file(&opts.kernel))?;
            let bytes = std::mem::take(&mut parts.linux);
            (linux, bytes, Some(parts))
        }
        image => (image, data, None),
    };
    if image.arch() != arch {
        return Err(Error::ArchMismatch {
            kernel: image.arch().to_string(),
            target: arch.to_string(),
        }
        .in_file(&opts.kernel));
    }
    // An arm64 kernel's Image now lives in `image` (copied or decompressed by the parser);
    // the file's bytes are needed again only for kexec_file_load with --sha256.
    let data = match (&image, &verified) {
        (KernelImage::Arm64(_), None) => {
            drop(data);
            Vec::new()
        }
        _ => data,
    };
    Ok(KernelInput {
        data,
        image,
        verified,
        digest,
        file,
        identity,
        uki,
    })
}

/// What [`lay_out_kernel`] decided: the syscall (and why), and the x86 entry's input.
pub struct Route {
    pub syscall: SyscallChoice,
    pub reason: String,
    /// Whether x86's kernel proper was decompressed (auto may have chosen kexec_load for it).
    pub decompressed: bool,
    pub x86: X86EntryInput,
}

/// Stage "lay out the kernel": x86's kernel proper decompressed once here where the entry
/// may use it (not for kexec_file_load: asked for, or auto's only choice under lockdown),
/// and the syscall chosen for it; `--verify` needs the purgatory and a kexec_load plan.
pub fn lay_out_kernel(
    kernel: &KernelInput,
    opts: &LoadOptions,
    security: &SecurityState,
) -> Result<Route> {
    // Nothing to decompress where auto takes kexec_file_load even for a decompressed
    // kernel (lockdown, Secure Boot).
    let file_only = opts.syscall == SyscallChoice::File
        || (opts.syscall == SyscallChoice::Auto
            && !opts.verify
            && choose_syscall(opts.syscall, &kernel.image, security, true).0
                == SyscallChoice::File);
    let proper = match (&kernel.image, opts.mode, opts.x86_entry) {
        (KernelImage::BzImage(bz), Mode::Normal, X86Entry::Auto | X86Entry::Decompressed)
            if !file_only =>
        {
            Some(KernelProper::from_bzimage(bz, &kernel.data))
        }
        _ => None,
    };
    let decompressed = matches!(proper, Some(Ok(_)));
    if opts.verify {
        crate::purgatory::available()?;
    }
    let (syscall, reason) = if opts.verify {
        match opts.syscall {
            SyscallChoice::File => {
                return Err(Error::Unsupported(
                    "--verify checks warmboot's own kexec_load plan; with --syscall file the kernel places the segments itself: use --syscall classic".to_string(),
                ))
            }
            SyscallChoice::Auto => (
                SyscallChoice::Classic,
                "auto: --verify needs warmboot's own plan, loaded with kexec_load".to_string(),
            ),
            SyscallChoice::Classic => {
                choose_syscall(opts.syscall, &kernel.image, &SecurityState::default(), decompressed)
            }
        }
    } else {
        choose_syscall(opts.syscall, &kernel.image, security, decompressed)
    };
    if opts.corrupt_digest && !opts.verify {
        return Err(Error::Unsupported(
            "--x-corrupt-digest is a test of --verify and needs it".to_string(),
        ));
    }
    Ok(Route {
        x86: X86EntryInput {
            requested: opts.x86_entry,
            proper,
            kexec_load: syscall == SyscallChoice::Classic,
            kaslr_random: opts.kaslr_random,
        },
        syscall,
        reason,
        decompressed,
    })
}

/// The initrd as [`read_initrd`] read it.
pub struct ReadInitrd {
    pub bytes: Vec<u8>,
    /// The descriptor the bytes were read through.
    pub file: std::fs::File,
    /// Which file that was, when it did not change while it was read.
    pub identity: Option<crate::load_record::FileIdentity>,
}

/// Stage "read the inputs" (the initrd): its bytes, with the same warning as the kernel's.
pub fn read_initrd(opts: &LoadOptions) -> Result<Option<ReadInitrd>> {
    match &opts.initrd {
        Some(p) => {
            let (file, bytes, identity) = crate::file_trust::open_and_read(p)?;
            crate::file_trust::warn_if_replaceable(p);
            if let Some(want) = &opts.initrd_sha256 {
                want.check(&bytes).map_err(|e| e.in_file(p))?;
            }
            Ok(Some(ReadInitrd {
                bytes,
                file,
                identity,
            }))
        }
        None if opts.initrd_sha256.is_some() => Err(Error::Unsupported(
            "--initrd-sha256 checks an initrd, and no --initrd was given".to_string(),
        )),
        None => Ok(None),
    }
}

/// Stage "read the inputs" (the command line): given, empty, or the running kernel's made
/// fit for the next one.
pub fn resolve_cmdline(host: &HostRoot, opts: &LoadOptions) -> Result<String> {
    cmdline_from(host, &opts.cmdline, opts.mode)
}

/// The command line `source` names, for a load of `mode`.
fn cmdline_from(host: &HostRoot, source: &CmdlineSource, mode: Mode) -> Result<String> {
    Ok(match source {
        CmdlineSource::Given(s) => s.clone(),
        CmdlineSource::Reuse => reuse_cmdline(&host.cmdline()?, mode),
        CmdlineSource::Empty => String::new(),
        CmdlineSource::Current => match mode {
            Mode::Normal => crate::capture::normal_cmdline(&host.cmdline()?),
            Mode::Panic => crate::capture::capture_cmdline(&host.cmdline()?),
        },
    })
}

/// Stage "plan": the architecture's planner ([`planner_for`]) reads the machine facts it
/// needs and plans the segments, drawing its random numbers from the load's
/// [`Randomness`].
fn plan_kernel(
    host: &HostRoot,
    kernel: &mut KernelInput,
    initrd: Option<Vec<u8>>,
    cmdline: &str,
    map: &MemoryMap,
    x86: X86EntryInput,
    opts: &LoadOptions,
) -> Result<ArchPlan> {
    let mut randomness = Randomness::from_seed(opts.random_seed);
    let planner = planner_for(&kernel.image);
    planner.plan(
        &mut kernel.image,
        PlanInput {
            host,
            data: &kernel.data,
            kernel_path: &opts.kernel,
            initrd,
            cmdline,
            mode: opts.mode,
            map,
            verify: opts.verify,
            dtb: opts.dtb.as_deref(),
            x86,
            randomness: &mut randomness,
        },
    )
}

/// One truth per load: auto picked kexec_load for the decompressed x86 entry; when the
/// plan had to fall back to the bzImage's own decompressor that reason is gone, and auto
/// decides again as for any bzImage (the plan is the same bzImage plan), saying why the
/// decompressed entry was not possible.
pub fn settle_syscall(
    plan: &Plan,
    image: &KernelImage,
    (syscall, reason, decompressed): (SyscallChoice, String, bool),
    security: &SecurityState,
    opts: &LoadOptions,
) -> (SyscallChoice, String) {
    match bzimage_fallback(plan) {
        Some(why)
            if opts.syscall == SyscallChoice::Auto
                && !opts.verify
                && decompressed
                && syscall == SyscallChoice::Classic =>
        {
            let (s, r) = choose_syscall(opts.syscall, image, security, false);
            (
                s,
                format!("{r}; the decompressed x86 entry is not possible: {why}"),
            )
        }
        _ => (syscall, reason),
    }
}

/// Stage "check": the plan through [`check_report`] (the rules every backend runs), the
/// notes that say how this load differs from a plain one, and for kexec_file_load the
/// request itself through the [`DryRun`] backend.
#[allow(clippy::too_many_arguments)]
fn check(
    kernel: KernelInput,
    planned: ArchPlan,
    cmdline: String,
    map: MemoryMap,
    (syscall, reason): (SyscallChoice, String),
    (pinned_initrd, files, handed): (Option<Vec<u8>>, OpenedFiles, Option<Vec<u8>>),
    opts: &LoadOptions,
) -> Result<Prepared> {
    let mut report = check_report(planned.plan, &map, syscall, reason)?;
    if opts.corrupt_digest {
        crate::purgatory::corrupt_digest(&mut report.plan)?;
        report
            .plan
            .notes
            .push("--x-corrupt-digest: the purgatory's expected digest is wrong on purpose; this plan must not boot".to_string());
    }
    if let Some(seed) = opts.random_seed {
        report.plan.notes.push(format!(
            "--x-random-seed {seed}: the random numbers are a test stream, the same on every load with this seed"
        ));
    }
    if let Some(d) = kernel.verified {
        report.plan.notes.push(format!(
            "kernel SHA-256 {d} matches --sha256 (these bytes are planned and loaded)"
        ));
    }
    if let (Some(d), Some(_)) = (&opts.initrd_sha256, &pinned_initrd) {
        report.plan.notes.push(format!(
            "initrd SHA-256 {d} matches --initrd-sha256 (these bytes are planned and loaded)"
        ));
    }
    if opts.kernel_debug {
        report
            .plan
            .notes
            .push(kernel_debug_note(syscall).to_string());
        if syscall == SyscallChoice::File {
            report.flags |= crate::kexec::KEXEC_FILE_DEBUG;
        }
    }
    if let (Some(h), KernelImage::Arm64(a)) = (&handed, &kernel.image) {
        if !matches!(a.container, crate::image::arm64::Container::Raw) {
            report.plan.notes.push(format!(
                "kexec_file_load gets the Image decompressed from the {} ({}) in a sealed memfd: the kernel's arm64 loader takes only an uncompressed Image (arch/arm64/kernel/kexec_image.c)",
                a.container.describe(),
                crate::human_size::human_size(h.len() as u64)
            ));
        }
    }
    if let Some(u) = &kernel.uki {
        report.uki_sections = u.sections.clone();
    }
    let pinned_kernel = handed.or(kernel.verified.map(|_| kernel.data));
    if syscall == SyscallChoice::File {
        // The request itself goes through the dry-run backend too.
        let (kernel_file, initrd) =
            open_files(&files, pinned_kernel.as_deref(), pinned_initrd.as_deref())?;
        DryRun::new(map).kexec_file_load(&FileLoad {
            kernel: &kernel_file,
            initrd: initrd.as_ref(),
            cmdline: &cmdline,
            mode: opts.mode,
            debug: opts.kernel_debug,
        })?;
    }
    let file_syscall_takes = file_syscall_takes(&kernel.image);
    Ok(Prepared {
        report,
        file_syscall_takes,
        security: SecurityState::default(),
        image: kernel.image,
        cmdline,
        requested: opts.syscall,
        bootable: planned.bootable,
        pinned_kernel,
        pinned_initrd,
        kernel_sha256: None,
        initrd_sha256: None,
        kernel_file: None,
        initrd_file: None,
        files,
    })
}

/// What `--kernel-debug` does for a load through `syscall`, as the dry run notes it.
pub fn kernel_debug_note(syscall: SyscallChoice) -> &'static str {
    match syscall {
        SyscallChoice::Classic => {
            "--kernel-debug: no effect on kexec_load (the kernel only copies warmboot's segments; this plan is what it gets)"
        }
        _ => {
            "--kernel-debug: kexec_file_load with KEXEC_FILE_DEBUG (0x8): the running kernel logs how it loads the image (dmesg); a kernel older than 6.8 refuses the flag, and warmboot loads again without it"
        }
    }
}

/// Refuses a panic load that cannot fit the crash reservation, before planning, with the
/// size it needs ([`crate::capture::CaptureNeeds`]). Machines without a reservation are
/// left to the planner's own error.
fn check_capture_fits(
    host: &HostRoot,
    image: &KernelImage,
    data: &[u8],
    map: &MemoryMap,
    initrd_len: u64,
    cmdline: &str,
    opts: &LoadOptions,
) -> Result<()> {
    let Some(crash) = map.crash else {
        return Ok(());
    };
    let kernel_memsz =
        KernelLayout::kernel_memsz(image, data).map_err(|e| e.in_file(&opts.kernel))?;
    let cmdline_len = cmdline.len() as u64 + 1;
    let boot_data = match image.arch() {
        // boot_params, the command line, setup_data (e820 ext, EFI)
        Arch::X86_64 => 4096 + cmdline_len + 4096,
        Arch::Arm64 | Arch::Riscv64 => {
            let fdt = match &opts.dtb {
                Some(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
                None => host.fdt()?.map_or(0, |f| f.len() as u64),
            };
            fdt + cmdline_len + 4096
        }
    };
    let cpus = host.crash_notes()?.len().max(1) as u64;
    let needs = crate::capture::CaptureNeeds::estimate(
        kernel_memsz,
        initrd_len,
        boot_data,
        cpus,
        map.ram.len() as u64,
    );
    needs.check_fits(crash.len()).map_err(Error::CaptureTooBig)
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
    fn auto_syscall_prefers_file_where_the_kernel_takes_the_format() {
        use crate::synth::{
            arm64::gzip, arm64::Arm64Builder, elf::ElfBuilder, x86::BzImageBuilder,
        };
        let parse = |d: Vec<u8>| KernelImage::parse(&d).unwrap();
        let bz = parse(BzImageBuilder::new().build());
        let image = parse(Arm64Builder::default().build());
        let image_gz = parse(gzip(&Arm64Builder::default().build()));
        let elf = parse(ElfBuilder::x86_64().build());
        let none = SecurityState::default();
        let at = |l: Lockdown| locked_down(l);
        let auto =
            |i: &KernelImage, s: &SecurityState| choose_syscall(SyscallChoice::Auto, i, s, false).0;
        assert_eq!(auto(&bz, &none), SyscallChoice::File);
        // An x86 bzImage whose kernel proper warmboot decompressed: kexec_load, whose
        // plan enters it directly; under lockdown still kexec_file_load.
        let decompressed = |s: &SecurityState| choose_syscall(SyscallChoice::Auto, &bz, s, true);
        assert_eq!(decompressed(&none).0, SyscallChoice::Classic);
        assert_eq!(
            decompressed(&at(Lockdown::None)).1,
            "auto: kexec_load with the kernel decompressed at load time (shorter reboot); kexec_file_load under lockdown"
        );
        assert_eq!(
            decompressed(&at(Lockdown::Integrity)).0,
            SyscallChoice::File
        );
        // Only bzImages have a kernel proper to decompress.
        assert_eq!(
            choose_syscall(SyscallChoice::Auto, &image, &none, true).0,
            SyscallChoice::File
        );
        assert_eq!(auto(&image, &at(Lockdown::None)), SyscallChoice::File);
        // An Image.gz goes to kexec_file_load decompressed (commands::load_uki).
        assert_eq!(auto(&image_gz, &none), SyscallChoice::File);
        assert_eq!(auto(&elf, &none), SyscallChoice::Classic);
        // Under lockdown only kexec_file_load can work, whatever the format.
        assert_eq!(auto(&elf, &at(Lockdown::Integrity)), SyscallChoice::File);
        assert_eq!(
            choose_syscall(SyscallChoice::Classic, &bz, &none, false).0,
            SyscallChoice::Classic
        );
    }

    /// A machine at lockdown level `l` (Secure Boot not known).
    fn locked_down(l: Lockdown) -> SecurityState {
        SecurityState {
            lockdown: Some(l),
            ..SecurityState::default()
        }
    }

    #[test]
    fn auto_expects_lockdown_under_secure_boot_and_says_why() {
        use crate::synth::{elf::ElfBuilder, x86::BzImageBuilder};
        let bz = KernelImage::parse(&BzImageBuilder::new().build()).unwrap();
        let elf = KernelImage::parse(&ElfBuilder::x86_64().build()).unwrap();
        // Secure Boot on, lockdown unreadable: lockdown expected, kexec_file_load whatever
        // the format, even over the decompressed entry.
        let sb = SecurityState {
            secure_boot: SecureBoot::On,
            ..SecurityState::default()
        };
        for (image, decompressed) in [(&bz, true), (&bz, false), (&elf, false)] {
            let (s, why) = choose_syscall(SyscallChoice::Auto, image, &sb, decompressed);
            assert_eq!(s, SyscallChoice::File);
            assert!(
                why.starts_with("auto: Secure Boot is on and lockdown cannot be read"),
                "{why}"
            );
        }
        // Secure Boot on, lockdown readable and off: kexec_file_load where it takes the
        // image (IMA may refuse kexec_load), kexec_load for what it does not take.
        let sb_open = SecurityState {
            lockdown: Some(Lockdown::None),
            ..sb.clone()
        };
        let (s, why) = choose_syscall(SyscallChoice::Auto, &bz, &sb_open, true);
        assert_eq!(s, SyscallChoice::File);
        assert!(
            why.starts_with("auto: Secure Boot is on: kexec_file_load"),
            "{why}"
        );
        assert_eq!(
            choose_syscall(SyscallChoice::Auto, &elf, &sb_open, false).0,
            SyscallChoice::Classic
        );
        // Secure Boot off changes nothing.
        let off = SecurityState {
            secure_boot: SecureBoot::Off,
            ..SecurityState::default()
        };
        assert_eq!(
            choose_syscall(SyscallChoice::Auto, &bz, &off, true).0,
            SyscallChoice::Classic
        );
        // --syscall classic is honoured as asked.
        assert_eq!(
            choose_syscall(SyscallChoice::Classic, &bz, &sb, false).0,
            SyscallChoice::Classic
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

    /// A backend whose answers are scripted: kexec_file_load fails with `file_errno`.
    struct Scripted {
        file_errno: Option<nix::errno::Errno>,
        file_calls: usize,
        classic_calls: usize,
    }

    impl Scripted {
        /// A backend whose kexec_file_load fails with `file_errno` (succeeds on None).
        fn new(file_errno: Option<nix::errno::Errno>) -> Scripted {
            Scripted {
                file_errno,
                file_calls: 0,
                classic_calls: 0,
            }
        }
    }

    impl Kexec for Scripted {
        fn kexec_load(&mut self, _plan: &Plan) -> Result<()> {
            self.classic_calls += 1;
            Ok(())
        }
        fn kexec_file_load(&mut self, _req: &FileLoad<'_>) -> Result<()> {
            self.file_calls += 1;
            match self.file_errno {
                None => Ok(()),
                Some(errno) => Err(Error::Syscall {
                    call: "kexec_file_load(kernel_fd=3, initrd_fd=-1, cmdline_len=1, flags=0x4)"
                        .to_string(),
                    errno,
                }),
            }
        }
        fn unload(&mut self, _mode: Mode) -> Result<()> {
            Ok(())
        }
        fn exec(&mut self) -> Result<()> {
            Ok(())
        }
        fn status(&self) -> Result<crate::kexec::Status> {
            Ok(crate::kexec::Status::default())
        }
    }

    fn prepared(syscall: SyscallChoice) -> (tempfile::TempDir, LoadOptions, Prepared) {
        let dir = tempfile::tempdir().unwrap();
        let kernel = dir.path().join("vmlinuz");
        std::fs::write(&kernel, crate::synth::x86::BzImageBuilder::new().build()).unwrap();
        let opts = LoadOptions {
            cmdline: CmdlineSource::Given("console=ttyS0".into()),
            syscall,
            root: std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/machines/x86_64-bios-m1024"),
            arch: Some(Arch::X86_64),
            ..LoadOptions::new(kernel, None)
        };
        let p = prepare(&opts).unwrap();
        (dir, opts, p)
    }

    #[test]
    fn verify_goes_with_warmboots_own_plan_only() {
        let (_d, mut opts, _) = prepared(SyscallChoice::Classic);
        opts.verify = true;
        // auto picks kexec_load, whose plan then enters through the purgatory.
        opts.syscall = SyscallChoice::Auto;
        let p = prepare(&opts).unwrap();
        assert_eq!(p.report.syscall, SyscallChoice::Classic);
        assert!(p.report.reason.contains("--verify"), "{}", p.report.reason);
        assert!(p.report.plan.segments.iter().any(|s| s.what == "purgatory"));
        crate::purgatory::check(&p.report.plan).unwrap();
        // The test hook leaves a plan whose digest is wrong.
        opts.corrupt_digest = true;
        let p = prepare(&opts).unwrap();
        assert!(crate::purgatory::check(&p.report.plan).is_err());
        // kexec_file_load has no room for warmboot's purgatory.
        opts.corrupt_digest = false;
        opts.syscall = SyscallChoice::File;
        let err = prepare(&opts).err().unwrap().to_string();
        assert!(
            err.contains("--verify") && err.contains("--syscall classic"),
            "{err}"
        );
        // Nor do generic plans of other formats.
        std::fs::write(
            &opts.kernel,
            crate::synth::elf::ElfBuilder::x86_64().build(),
        )
        .unwrap();
        opts.syscall = SyscallChoice::Classic;
        let err = prepare(&opts).err().unwrap().to_string();
        assert!(
            err.contains("--verify needs warmboot's own entry code"),
            "{err}"
        );
        // The test hook alone is refused.
        opts.verify = false;
        opts.corrupt_digest = true;
        assert!(prepare(&opts).is_err());
    }

    #[test]
    fn stage_read_kernel_parses_checks_the_digest_and_the_architecture() {
        let (_d, mut opts, _) = prepared(SyscallChoice::Classic);
        let k = read_kernel(&opts, Arch::X86_64).unwrap();
        assert!(matches!(k.image, KernelImage::BzImage(_)));
        assert!(!k.data.is_empty() && k.verified.is_none());
        let err = read_kernel(&opts, Arch::Arm64).err().unwrap().to_string();
        assert!(
            err.ends_with("the kernel is built for x86_64, but the target architecture is arm64"),
            "{err}"
        );
        // An arm64 Image's file bytes are dropped: the parser holds the Image.
        std::fs::write(
            &opts.kernel,
            crate::synth::arm64::Arm64Builder::default().build(),
        )
        .unwrap();
        assert!(read_kernel(&opts, Arch::Arm64).unwrap().data.is_empty());
        opts.kernel = opts.kernel.with_file_name("missing");
        assert!(read_kernel(&opts, Arch::Arm64).is_err());
    }

    #[test]
    fn stage_lay_out_kernel_decompresses_only_for_kexec_load() {
        let (_d, mut opts, _) = prepared(SyscallChoice::Auto);
        let kernel = read_kernel(&opts, Arch::X86_64).unwrap();
        let route = lay_out_kernel(&kernel, &opts, &SecurityState::default()).unwrap();
        assert!(route.x86.proper.is_some());
        assert_eq!(
            route.x86.kexec_load,
            route.syscall == SyscallChoice::Classic
        );
        // Under lockdown auto can only use kexec_file_load: nothing to decompress.
        let locked = lay_out_kernel(&kernel, &opts, &locked_down(Lockdown::Integrity)).unwrap();
        assert!(locked.x86.proper.is_none() && !locked.decompressed);
        assert_eq!(locked.syscall, SyscallChoice::File);
        opts.syscall = SyscallChoice::File;
        assert!(lay_out_kernel(&kernel, &opts, &SecurityState::default())
            .unwrap()
            .x86
            .proper
            .is_none());
        opts.corrupt_digest = true;
        assert!(lay_out_kernel(&kernel, &opts, &SecurityState::default()).is_err());
    }

    #[test]
    fn stage_resolve_cmdline_takes_the_given_or_the_running_one() {
        let (_d, mut opts, _) = prepared(SyscallChoice::Classic);
        let host = HostRoot::new(&opts.root);
        assert_eq!(resolve_cmdline(&host, &opts).unwrap(), "console=ttyS0");
        opts.cmdline = CmdlineSource::Empty;
        assert_eq!(resolve_cmdline(&host, &opts).unwrap(), "");
        opts.cmdline = CmdlineSource::Reuse;
        let running = host.cmdline().unwrap();
        assert_eq!(
            resolve_cmdline(&host, &opts).unwrap(),
            reuse_cmdline(&running, Mode::Normal)
        );
    }

    #[test]
    fn stage_plan_kernel_uses_the_architectures_planner() {
        let (_d, opts, _) = prepared(SyscallChoice::Classic);
        let host = HostRoot::new(&opts.root);
        let map = host.memory_map().unwrap();
        let mut kernel = read_kernel(&opts, Arch::X86_64).unwrap();
        let route = lay_out_kernel(&kernel, &opts, &SecurityState::default()).unwrap();
        let planned =
            plan_kernel(&host, &mut kernel, None, "quiet", &map, route.x86, &opts).unwrap();
        assert!(planned.bootable);
        assert!(planned
            .plan
            .segments
            .iter()
            .any(|s| s.what == "boot_params"));
        // The generic planner: a plan for review only.
        std::fs::write(
            &opts.kernel,
            crate::synth::elf::ElfBuilder::x86_64().build(),
        )
        .unwrap();
        let mut kernel = read_kernel(&opts, Arch::X86_64).unwrap();
        let route = lay_out_kernel(&kernel, &opts, &SecurityState::default()).unwrap();
        let planned =
            plan_kernel(&host, &mut kernel, None, "quiet", &map, route.x86, &opts).unwrap();
        assert!(!planned.bootable);
    }

    /// The DTB a seeded arm64 load writes (its kaslr-seed and rng-seed are random).
    fn arm64_dtb(seed: Option<u64>) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let kernel = dir.path().join("Image");
        std::fs::write(
            &kernel,
            crate::synth::arm64::Arm64Builder::default().build(),
        )
        .unwrap();
        let (_d, mut opts, _) = prepared(SyscallChoice::Classic);
        opts.kernel = kernel;
        opts.arch = Some(Arch::Arm64);
        opts.root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/machines/arm64-direct-m1024");
        opts.random_seed = seed;
        let p = prepare(&opts).unwrap();
        if let Some(s) = seed {
            let note = format!("--x-random-seed {s}:");
            assert!(p.report.plan.notes.iter().any(|n| n.starts_with(&note)));
        }
        let dtb = p.report.plan.segments.iter().find(|s| s.what == "dtb");
        dtb.expect("an arm64 kexec_load plan carries a DTB")
            .buf
            .clone()
    }

    #[test]
    fn a_random_seed_makes_the_load_repeatable_and_only_then() {
        assert_eq!(arm64_dtb(Some(7)), arm64_dtb(Some(7)));
        assert_ne!(arm64_dtb(Some(7)), arm64_dtb(Some(8)));
        assert_ne!(arm64_dtb(None), arm64_dtb(None));
    }

    #[test]
    fn a_load_records_its_files_digests_command_line_and_syscall() {
        let (_d, opts, p) = prepared(SyscallChoice::Auto);
        let mut b = Scripted::new(None);
        let out = load_with(&p, &opts, &mut b).unwrap();
        let r = record_of(&p, &opts, &out, 1_796_670_000);
        let bytes = std::fs::read(&opts.kernel).unwrap();
        assert_eq!(
            r.kernel_sha256,
            crate::file_trust::Sha256Digest::of(&bytes).to_string()
        );
        assert_eq!(r.kernel, opts.kernel);
        assert_eq!((r.initrd, r.initrd_sha256), (None, None));
        assert_eq!(r.cmdline, "console=ttyS0");
        assert_eq!(r.syscall, "kexec_file_load");
        // Which files were read, for `warmboot reboot` to skip hashing them again.
        use crate::load_record::FileIdentity;
        let kernel_now = FileIdentity::of(&std::fs::metadata(&opts.kernel).unwrap());
        assert_eq!((r.kernel_file, r.initrd_file), (kernel_now, None));
        assert!(kernel_now.is_some());
        let initrd = _d.path().join("initrd.img");
        std::fs::write(&initrd, b"an initrd").unwrap();
        let with_initrd = LoadOptions {
            initrd: Some(initrd.clone()),
            ..opts.clone()
        };
        let p = prepare(&with_initrd).unwrap();
        let out = load_with(&p, &with_initrd, &mut b).unwrap();
        let r = record_of(&p, &with_initrd, &out, 0);
        assert_eq!(
            r.initrd_file,
            FileIdentity::of(&std::fs::metadata(&initrd).unwrap())
        );
        assert_eq!(
            r.initrd_sha256,
            Some(crate::file_trust::Sha256Digest::of(b"an initrd").to_string())
        );
        let (_d, opts, p) = prepared(SyscallChoice::Classic);
        let out = load_with(&p, &opts, &mut Scripted::new(None)).unwrap();
        assert_eq!(record_of(&p, &opts, &out, 0).syscall, "kexec_load");
    }

    #[test]
    fn kexec_file_load_gets_the_file_that_was_read_not_what_the_path_names_later() {
        use std::os::unix::fs::MetadataExt as _;
        let (d, opts, p) = prepared(SyscallChoice::File);
        let read = std::fs::metadata(&opts.kernel).unwrap();
        // Someone renames another file over the path after warmboot read and checked it.
        let other = d.path().join("other");
        std::fs::write(&other, vec![0u8; read.len() as usize + 4096]).unwrap();
        std::fs::rename(&other, &opts.kernel).unwrap();
        let (kernel, _) = crate::commands::load_submit::open_files(&p.files, None, None).unwrap();
        let handed = kernel.metadata().unwrap();
        assert_eq!((handed.ino(), handed.len()), (read.ino(), read.len()));
        assert_ne!(std::fs::metadata(&opts.kernel).unwrap().ino(), read.ino());
        // The identity recorded is that file's.
        assert_eq!(p.kernel_file, crate::load_record::FileIdentity::of(&read));
    }

    #[test]
    fn auto_loads_with_kexec_file_load_and_says_so() {
        let (_d, opts, p) = prepared(SyscallChoice::Auto);
        let mut b = Scripted::new(None);
        let out = load_with(&p, &opts, &mut b).unwrap();
        assert!(out.contains("with kexec_file_load (auto:"), "{out}");
        assert_eq!((b.file_calls, b.classic_calls), (1, 0));
    }

    #[test]
    fn auto_loads_a_decompressible_bzimage_with_kexec_load_and_says_how_it_is_entered() {
        let (dir, mut opts, _) = prepared(SyscallChoice::Auto);
        let (payload, _) = crate::x86::vmlinux_payload::tests::synth_payload();
        let file = crate::synth::x86::BzImageBuilder::new()
            .payload_plain(payload)
            .build();
        std::fs::write(dir.path().join("vmlinuz"), file).unwrap();
        let p = prepare(&opts).unwrap();
        let mut b = Scripted::new(None);
        let out = load_with(&p, &opts, &mut b).unwrap();
        assert_eq!((b.file_calls, b.classic_calls), (0, 1));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(lines[0].starts_with("loaded "), "{out}");
        assert!(
            lines[0].ends_with("with kexec_load (auto: kexec_load with the kernel decompressed at load time (shorter reboot); kexec_file_load under lockdown)"),
            "{out}"
        );
        assert!(
            lines[1].starts_with("x86 entry: kernel proper decompressed at load, physical 0x"),
            "{out}"
        );
        // _text = 0xffffffff81000000 + the KASLR offset, inside the 1 GiB kernel mapping.
        let hex = |after: &str| {
            let at = lines[1].find(after).unwrap() + after.len();
            let digits: String = lines[1][at..]
                .chars()
                .take_while(char::is_ascii_hexdigit)
                .collect();
            u64::from_str_radix(&digits, 16).unwrap()
        };
        let (text, offset) = (hex(", virtual _text 0x"), hex(", KASLR offset 0x"));
        assert_eq!(text, 0xffff_ffff_8100_0000 + offset, "{out}");
        assert!(offset < 1 << 30 && offset % 0x20_0000 == 0, "{out}");
        // --x86-entry bzimage: kexec_file_load (auto's preference then), and the line says why.
        opts.x86_entry = X86Entry::Bzimage;
        let p = prepare(&opts).unwrap();
        let mut b = Scripted::new(None);
        let out = load_with(&p, &opts, &mut b).unwrap();
        assert_eq!((b.file_calls, b.classic_calls), (1, 0));
        assert!(
            out.ends_with(
                "\nx86 entry: bzImage decompressor (requested with --x86-entry bzimage)\n"
            ),
            "{out}"
        );
        // The synthetic bzImage's filler payload cannot be decompressed: decompressed is
        // refused with the reason.
        std::fs::write(
            dir.path().join("vmlinuz"),
            crate::synth::x86::BzImageBuilder::new().build(),
        )
        .unwrap();
        opts.x86_entry = X86Entry::Decompressed;
        let err = prepare(&opts).err().unwrap().to_string();
        assert!(
            err.starts_with("--x86-entry decompressed cannot be honoured: cannot decompress bzImage payload (xz)"),
            "{err}"
        );
    }

    /// The "loaded …" line and the "x86 entry: …" line of a load's output tell one story:
    /// the decompressed entry is claimed by both or by neither.
    fn assert_one_truth(out: &str) {
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        let claims = lines[0].contains("decompressed at load time");
        let entered = lines[1].starts_with("x86 entry: kernel proper decompressed at load");
        assert_eq!(claims, entered, "the two lines disagree:\n{out}");
        assert_eq!(
            lines[0].contains("with kexec_file_load"),
            lines[1].contains("bzImage decompressor") && !entered,
            "kexec_file_load always loads the bzImage:\n{out}"
        );
    }

    /// A bzImage that warmboot can decompress but whose decompressed plan cannot be made
    /// (here memmap= on the command line): auto decides again as for any bzImage, and the
    /// syscall reason, the entry line and the dry run all say the bzImage path, and why.
    #[test]
    fn auto_never_claims_the_decompressed_entry_it_fell_back_from() {
        let (dir, mut opts, _) = prepared(SyscallChoice::Auto);
        let (payload, _) = crate::x86::vmlinux_payload::tests::synth_payload();
        let file = crate::synth::x86::BzImageBuilder::new()
            .payload_plain(payload)
            .build();
        std::fs::write(dir.path().join("vmlinuz"), file).unwrap();
        opts.cmdline = CmdlineSource::Given("console=ttyS0 memmap=64M$1G".into());
        let p = prepare(&opts).unwrap();
        assert_eq!(p.report.syscall, SyscallChoice::File);
        let why = "the command line has memmap=, which changes where the kernel's own decompressor places the kernel";
        assert_eq!(
            p.report.reason,
            format!("auto: kexec_file_load preferred (the kernel verifies and places the image); kexec_load if the kernel lacks it; the decompressed x86 entry is not possible: {why}")
        );
        assert_eq!(bzimage_fallback(&p.report.plan), Some(why));
        let mut b = Scripted::new(None);
        let out = load_with(&p, &opts, &mut b).unwrap();
        assert_eq!((b.file_calls, b.classic_calls), (1, 0));
        assert_one_truth(&out);
        assert!(
            out.ends_with(&format!("\nx86 entry: bzImage decompressor ({why})\n")),
            "{out}"
        );
        // Where the kernel lacks kexec_file_load, the plan goes to kexec_load, and the
        // entry line says that, not the file loader's reason.
        let mut b = Scripted::new(Some(nix::errno::Errno::ENOSYS));
        let out = load_with(&p, &opts, &mut b).unwrap();
        assert_eq!((b.file_calls, b.classic_calls), (1, 1));
        assert!(out.ends_with("\nx86 entry: bzImage decompressor (the plan made for kexec_file_load, loaded with kexec_load)\n"), "{out}");
        // Without memmap= the same kernel takes the decompressed entry, and both lines say so.
        opts.cmdline = CmdlineSource::Given("console=ttyS0".into());
        let p = prepare(&opts).unwrap();
        let mut b = Scripted::new(None);
        assert_one_truth(&load_with(&p, &opts, &mut b).unwrap());
        // The dry run's JSON carries the same reason and entry note.
        opts.cmdline = CmdlineSource::Given("console=ttyS0 memmap=64M$1G".into());
        let p = prepare(&opts).unwrap();
        let json = serde_json::to_string(&p.report.plan.notes).unwrap();
        assert!(
            json.contains("bzImage decompressor (the command line has memmap="),
            "{json}"
        );
    }

    #[test]
    fn auto_falls_back_to_kexec_load_only_where_the_kernel_lacks_the_file_syscall() {
        let (_d, opts, p) = prepared(SyscallChoice::Auto);
        let mut b = Scripted::new(Some(nix::errno::Errno::ENOSYS));
        // The fallback loads warmboot's own plan and says why.
        let out = load_with(&p, &opts, &mut b).unwrap();
        assert!(out.contains("with kexec_load (kexec_file_load("), "{out}");
        assert!(
            out.contains(
                "ENOSYS (this kernel was built without CONFIG_KEXEC_FILE); fell back to kexec_load"
            ),
            "{out}"
        );
        assert_eq!((b.file_calls, b.classic_calls), (1, 1));
        // A signature refusal is explained, names the kernel, and never falls back.
        let mut b = Scripted::new(Some(nix::errno::Errno::EKEYREJECTED));
        let err = load_with(&p, &opts, &mut b).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "the running kernel rejected its signature (kexec_file_load failed: EKEYREJECTED: "
            ),
            "{err}"
        );
        assert_eq!((b.file_calls, b.classic_calls), (1, 0));
        // Any other error is reported as it is, with what it means, and no fallback.
        let mut b = Scripted::new(Some(nix::errno::Errno::ENOMEM));
        let err = load_with(&p, &opts, &mut b).unwrap_err().to_string();
        assert!(
            err.contains("ENOMEM (the kernel could not find memory for the image)"),
            "{err}"
        );
        assert_eq!((b.file_calls, b.classic_calls), (1, 0));
        // --syscall file never falls back.
        let (_d, opts, p) = prepared(SyscallChoice::File);
        let mut b = Scripted::new(Some(nix::errno::Errno::ENOSYS));
        let err = load_with(&p, &opts, &mut b).unwrap_err().to_string();
        assert!(
            err.contains("ENOSYS (this kernel was built without CONFIG_KEXEC_FILE)"),
            "{err}"
        );
    }

    #[test]
    fn exec_refuses_when_nothing_is_loaded_and_unload_says_what_changed() {
        let mut b = Scripted::new(None);
        let err = crate::commands::exec::run(&mut b, true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("nothing to exec"), "{err}");
        let out = crate::commands::unload::run(&mut b, Mode::Panic).unwrap();
        assert_eq!(out, "no crash kernel was loaded; nothing changed\n");
    }
}
