//! `cargo xtask boot`: one reboot scenario on a real kernel in QEMU, judged from the
//! guest's serial console (see verdict.rs for what passes).

use crate::cache::Cache;
use crate::error::{Error, Result};
use crate::guest::{Ending, Flow, Guest, SERIAL_LOG, STDERR_LOG};
pub use crate::kernels::{pinned, pinned_kernel, Kernel, Kernels};
use crate::qemu::{Accel, Firmware, GuestArch, GuestConfig, SecureBootDisks};
pub use crate::scenario::{AccelChoice, Loader, Scenario, Syscall, X86Entry};
use crate::serial::parse_marker;
use crate::verdict::{check_kernels, judge, Expectation, Verdict};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[arg(long, value_enum)]
    pub arch: GuestArch,
    #[arg(long, value_enum)]
    pub scenario: Scenario,
    #[arg(long, value_enum, default_value = "bios")]
    pub firmware: Firmware,
    /// Which syscall the loader uses; a comma-separated list gives one per hop in turn
    /// (`file,classic` with --hops 2 proves both in one run).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "auto")]
    pub syscall: Vec<Syscall>,
    #[arg(long, value_enum, default_value = "kexec-tools")]
    pub loader: Loader,
    /// The kernel QEMU boots first: any kernel file (default: the pinned Debian kernel of
    /// --kernel-series).
    #[arg(long, value_name = "PATH", conflicts_with = "kernel_series")]
    pub kernel: Option<PathBuf>,
    /// The pinned kernel series QEMU boots first (`6.1`, `6.12`: the series of
    /// <cache>/kernels.json; default the oldest).
    #[arg(long, value_name = "SERIES")]
    pub kernel_series: Option<String>,
    /// The kernel the guest loads for the next boot: any kernel file (default: the
    /// pinned kernel of --next-kernel-series, else the first kernel).
    #[arg(long, value_name = "PATH", conflicts_with = "next_kernel_series")]
    pub next_kernel: Option<PathBuf>,
    /// The pinned kernel series the guest loads for the next boot (default: the first
    /// kernel's): `--kernel-series 6.1 --next-kernel-series 6.12` is an upgrade.
    #[arg(long, value_name = "SERIES")]
    pub next_kernel_series: Option<String>,
    /// A prebuilt initramfs to boot instead of building one with `xtask initramfs`.
    #[arg(long, value_name = "PATH")]
    pub initrd: Option<PathBuf>,
    /// Guest RAM in MiB.
    #[arg(long, default_value_t = 1024)]
    pub memory: u32,
    /// warm: how many warm reboots to chain in one run.
    #[arg(long, default_value_t = 1)]
    pub hops: u32,
    /// kexec-tools: skip the purgatory's SHA-256 check (`kexec -i`).
    #[arg(long)]
    pub no_verify: bool,
    /// warmboot: load with `--verify` (the purgatory checks the segments' SHA-256).
    #[arg(long)]
    pub verify: bool,
    /// warmboot on x86_64: how the new kernel is entered (`warmboot load --x86-entry`);
    /// unset, the loader's default. `decompressed` also makes the verdict require that
    /// the decompressed entry ran and that the new kernel sits where the loader put it.
    #[arg(long, value_enum)]
    pub x86_entry: Option<X86Entry>,
    /// warmboot, warm: reboot with `warmboot reboot` instead of `warmboot exec`; the guest
    /// has no systemd, so this is warmboot's own clean shutdown (every process stopped,
    /// filesystems remounted read-only) before reboot(2).
    #[arg(long)]
    pub clean_reboot: bool,
    /// Negative proof of --verify: the loaded plan's expected digest is wrong, so the
    /// purgatory must halt and the run must fail (no marker from the next kernel).
    #[arg(long, hide = true, requires = "verify")]
    pub corrupt_digest: bool,
    /// Hard timeout of one attempt, in seconds (one retry after a timeout, with the same
    /// seed).
    #[arg(long, default_value_t = 240)]
    pub timeout: u64,
    /// The run's random numbers (QEMU `-seed`, warmboot `--x-random-seed`; see [`Seeds`]);
    /// default a fresh one, printed with the result so a run can be repeated.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Harness self-test: the next kernel's init prints a wrong marker, so the run must fail.
    #[arg(long, hide = true)]
    pub break_next: bool,
    /// Accelerator: probe KVM and fall back to TCG (auto), or force one.
    #[arg(long, value_enum, default_value = "auto")]
    pub accel: AccelChoice,
    /// Measure like `cargo xtask bench`: kernel lines on the serial console from the
    /// start (earlycon, loglevel=6 instead of quiet) so the downtime splits into phases,
    /// and the loader's peak memory sampled by the guest's init.
    #[arg(long)]
    pub measure: bool,
    /// panic: the capture kernel also prints the vmcore's ELF header and the first
    /// kernel's /proc/iomem as `@@WB file` blocks in the serial log (fixtures for the
    /// loader's crash/vmcore_check.rs tests).
    #[arg(long, hide = true)]
    pub dump_vmcore_head: bool,
    /// Print nothing but errors (the bench draws a progress bar instead).
    #[arg(skip)]
    pub silent: bool,
}

impl Args {
    /// A scenario with the command line's defaults: BIOS/direct firmware, `auto` syscall,
    /// kexec-tools as the loader, 1 GiB, one hop, a 240 s timeout, accelerator probed.
    pub fn new(arch: GuestArch, scenario: Scenario) -> Args {
        Args {
            arch,
            scenario,
            firmware: Firmware::Bios,
            syscall: vec![Syscall::Auto],
            loader: Loader::KexecTools,
            kernel: None,
            kernel_series: None,
            next_kernel: None,
            next_kernel_series: None,
            initrd: None,
            memory: 1024,
            hops: 1,
            no_verify: false,
            verify: false,
            x86_entry: None,
            clean_reboot: false,
            corrupt_digest: false,
            timeout: 240,
            seed: None,
            break_next: false,
            accel: AccelChoice::Auto,
            measure: false,
            dump_vmcore_head: false,
            silent: false,
        }
    }
}

/// The kernels `args` names: `--kernel PATH` or the pinned kernel of `--kernel-series`
/// (the oldest without either); `--next-kernel PATH` (relative to the workspace root), the
/// pinned kernel of `--next-kernel-series`, or the first kernel again.
pub fn resolve_kernels(root: &Path, cache: &Cache, args: &Args) -> Result<Kernels> {
    let first = match &args.kernel {
        Some(p) => Kernel::file(p.clone()),
        None => pinned(cache, args.arch, args.kernel_series.as_deref())?,
    };
    let mut next = match (&args.next_kernel, &args.next_kernel_series) {
        (Some(p), _) if p.is_relative() => Kernel::file(root.join(p)),
        (Some(p), _) => Kernel::file(p.clone()),
        (None, Some(s)) => pinned(cache, args.arch, Some(s))?,
        (None, None) => first.clone(),
    };
    if args.initrd.is_some() && args.next_kernel.is_none() && args.next_kernel_series.is_none() {
        // A prebuilt initramfs carries a next kernel of its own.
        next.release = None;
    }
    Ok(Kernels { first, next })
}

/// The result of one scenario, for summaries.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub label: String,
    pub verdict: Verdict,
    pub accel: Accel,
    pub attempts: u32,
    pub wall: Duration,
    pub run_dir: PathBuf,
    /// The last attempt's stamped serial log.
    pub log: Vec<crate::serial::Stamped>,
    /// The seed every attempt ran with.
    pub seed: u64,
    /// The attempt that timed out before the last one, if any.
    pub retry: Option<Retry>,
}

/// What the first attempt of a retried run showed: a pass after it is FLAKY, not a pass.
#[derive(Debug, Clone)]
pub struct Retry {
    /// Why the first attempt failed (it timed out).
    pub reason: String,
    pub run_dir: PathBuf,
    /// Where each kernel of the first attempt ran (`hop0 _text=0x…`), from its layout
    /// markers: the slots the retry may not have repeated (see [`Seeds`]).
    pub layouts: Vec<String>,
}

impl Outcome {
    /// PASS, FLAKY (passed only on the retry after a timeout) or FAIL.
    pub fn status(&self) -> &'static str {
        match (self.verdict.passed, &self.retry) {
            (false, _) => "FAIL",
            (true, Some(_)) => "FLAKY",
            (true, None) => "PASS",
        }
    }

    /// For a FLAKY run: what timed out, the seed both attempts used, and where the kernels
    /// ran in each attempt, so the hang can be chased with `--seed`.
    pub fn flaky_note(&self) -> Option<String> {
        let r = self.retry.as_ref().filter(|_| self.verdict.passed)?;
        Some(format!(
            "passed only on its retry; attempt 1: {} (log {}); both attempts ran with seed {} \
             (repeat with --seed {}); kernels at: attempt 1 [{}], attempt 2 [{}]",
            r.reason,
            r.run_dir.join(SERIAL_LOG).display(),
            self.seed,
            self.seed,
            r.layouts.join(", "),
            layouts(&self.log).join(", ")
        ))
    }
}

/// The random numbers of a run, drawn once and used by every attempt, so that a retry
/// after a timeout repeats the boot it retries instead of rolling new dice (issue 15).
///
/// The one number `seed` goes to QEMU as `-seed`, which under TCG decides what the guest's
/// RDRAND (x86) and RNDR (arm64) return and the `kaslr-seed`/`rng-seed` QEMU writes into an
/// arm64 guest's DTB, and to the guest as `wb.seed`, from which warmboot's loads draw their
/// KASLR slots and DTB seeds (`load --x-random-seed seed+hop`). Not repeatable: the x86
/// kernel mixes the TSC into its own KASLR choice (arch/x86/lib/kaslr.c), so the first
/// kernel's slot and the bzImage path's slots can differ; the layout markers say where each
/// kernel ran, and a FLAKY report shows them for both attempts.
pub struct Seeds;

impl Seeds {
    /// A fresh seed below 2^48, so the guest's shell adds the hop to it without overflow.
    pub fn fresh() -> Result<u64> {
        use std::io::Read;
        let mut b = [0u8; 8];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut b))
            .map_err(Error::io("/dev/urandom"))?;
        Ok(u64::from_le_bytes(b) & ((1 << 48) - 1))
    }
}

/// Where each kernel of a log ran: `hop0 _text=0x…` per layout marker.
pub fn layouts(log: &[crate::serial::Stamped]) -> Vec<String> {
    crate::serial::markers(log)
        .iter()
        .filter(|m| m.event == "layout")
        .map(|m| {
            format!(
                "hop{} _text={}",
                m.get("hop").unwrap_or("?"),
                m.get("text").unwrap_or("none")
            )
        })
        .collect()
}

pub fn run(root: &Path, args: &Args) -> Result<()> {
    let outcome = run_scenario(root, args)?;
    print_outcome(&outcome);
    if outcome.verdict.passed {
        Ok(())
    } else {
        Err(Error::Boot {
            reason: format!("{}: {}", outcome.label, outcome.verdict.reason),
        })
    }
}

pub fn print_outcome(o: &Outcome) {
    let status = o.status();
    let downtime = o
        .verdict
        .downtimes
        .iter()
        .map(|d| format!("{:.2}s", d.as_secs_f64()))
        .collect::<Vec<_>>()
        .join(", ");
    println!(
        "{status} {} — {} (downtime {}; {:?}; {} attempt(s); seed {}; log {})",
        o.label,
        o.verdict.reason,
        if downtime.is_empty() {
            "-".into()
        } else {
            downtime
        },
        o.accel,
        o.attempts,
        o.seed,
        o.run_dir.join(SERIAL_LOG).display()
    );
    if let Some(note) = o.flaky_note() {
        println!("FLAKY {}: {note}", o.label);
    }
}

/// The syscall list as the guest (",") or a label ("+") writes it.
fn syscall_list(list: &[Syscall], sep: &str) -> String {
    let names: Vec<String> = list
        .iter()
        .map(|s| format!("{s:?}").to_lowercase())
        .collect();
    if names.is_empty() {
        "auto".to_string()
    } else {
        names.join(sep)
    }
}

/// Crash reservation for the panic scenario: 256M on x86_64; on arm64 96M at 1 GiB
/// (measured minimums 96M and 68M, ../shared/notes/qemu.md) and 256M above 1 GiB: at 4 GiB
/// the capture kernel ran out of memory during boot ("System is deadlocked on memory")
/// with 96M (direct and UEFI) and with 192M (UEFI), and booted with 256M.
pub fn crash_mib(arch: GuestArch, memory_mib: u32) -> u64 {
    match arch {
        GuestArch::X86_64 => 256,
        GuestArch::Arm64 if memory_mib <= 1024 => 96,
        GuestArch::Arm64 => 256,
    }
}

/// The run's name: every dimension of `args`, and the kernels booted first and next.
pub fn label(args: &Args, kernels: &Kernels) -> String {
    let arch = match args.arch {
        GuestArch::X86_64 => "x86_64",
        GuestArch::Arm64 => "arm64",
    };
    let fw = match (args.arch, args.firmware) {
        (_, Firmware::Uefi) => "uefi",
        (_, Firmware::Secureboot) => "secureboot",
        (GuestArch::X86_64, Firmware::Bios) => "bios",
        (GuestArch::Arm64, Firmware::Bios) => "direct",
    };
    let scenario = format!("{:?}", args.scenario).to_lowercase();
    let mut l = format!("{arch}/{fw}/{}M/{scenario}", args.memory);
    if !matches!(args.scenario, Scenario::Cold | Scenario::Lockdown) {
        let loader = match args.loader {
            Loader::Warmboot => "warmboot",
            Loader::KexecTools => "kexec-tools",
        };
        l += &format!("/{loader}/{}", syscall_list(&args.syscall, "+"));
        if args.no_verify {
            l += "/no-verify";
        }
        if args.verify {
            l += "/verify";
        }
        if let Some(e) = args.x86_entry {
            l += &format!("/x86-entry={}", e.name());
        }
        if args.corrupt_digest {
            l += "/corrupt-digest";
        }
        if args.clean_reboot {
            l += "/clean-reboot";
        }
    }
    if args.hops > 1 {
        l += &format!("/{}hops", args.hops);
    }
    l += &format!("/{}", kernels.first.tag());
    if kernels.next != kernels.first {
        l += &format!("/next={}", kernels.next.tag());
    }
    if args.break_next {
        l += "/broken-next";
    }
    l
}

/// The early console for `--measure`: the kernel prints from its first lines on, before
/// the real serial driver is up (QEMU's COM1 on pc, its PL011 at 0x9000000 on virt).
pub fn earlycon(arch: GuestArch) -> &'static str {
    match arch {
        GuestArch::X86_64 => "earlycon=uart8250,io,0x3f8,115200",
        GuestArch::Arm64 => "earlycon=pl011,0x9000000",
    }
}

/// The guest kernel command line for a scenario; `seed` becomes `wb.seed` ([`Seeds`]).
pub fn cmdline(args: &Args, seed: u64) -> String {
    // loglevel=6 shows notices ("Linux version", "Starting new kernel") but not the
    // info lines of every driver.
    let verbosity = if args.measure {
        format!("{} loglevel=6", earlycon(args.arch))
    } else {
        "quiet".to_string()
    };
    let mut c = format!("console={} {verbosity} panic=1", args.arch.console());
    // The lockdown scenario also loads (and must be refused) panic kernels.
    if matches!(args.scenario, Scenario::Panic | Scenario::Lockdown) {
        c += &format!(" crashkernel={}M", crash_mib(args.arch, args.memory));
    }
    let scenario = format!("{:?}", args.scenario).to_lowercase();
    let loader = match args.loader {
        Loader::Warmboot => "warmboot",
        Loader::KexecTools => "kexec-tools",
    };
    let syscall = syscall_list(&args.syscall, ",");
    c += &format!(" wb.scenario={scenario} wb.loader={loader} wb.syscall={syscall}");
    c += &format!(" wb.hops={}", args.hops);
    if args.no_verify {
        c += " wb.noverify=1";
    }
    if args.corrupt_digest {
        c += " wb.verify=corrupt";
    } else if args.verify {
        c += " wb.verify=1";
    }
    if let Some(e) = args.x86_entry {
        c += &format!(" wb.x86entry={}", e.name());
    }
    if args.clean_reboot {
        c += " wb.via=reboot";
    }
    if args.break_next {
        c += " wb.break=1";
    }
    if args.measure {
        c += " wb.hwm=1";
    }
    if args.dump_vmcore_head {
        c += " wb.vmcore-head=1";
    }
    if args.firmware == Firmware::Secureboot {
        c += " wb.sb=1";
    }
    c += &format!(" wb.seed={seed}");
    c
}

/// What a run must prove. On x86_64 with warmboot loading, the entry it was asked for
/// (`auto` when none was), so that the verdict holds a kexec_load hop under the default to
/// the decompressed entry; `None` for every other loader and architecture.
pub fn expectation(args: &Args) -> Expectation {
    match args.scenario {
        Scenario::Warm => Expectation::Warm {
            hops: args.hops,
            x86_entry: match args.arch {
                GuestArch::X86_64 if args.loader == Loader::Warmboot => {
                    Some(args.x86_entry.unwrap_or(X86Entry::Auto))
                }
                _ => None,
            },
        },
        Scenario::Panic => Expectation::Panic {
            memory_mib: args.memory.into(),
            crash_mib: crash_mib(args.arch, args.memory),
        },
        // The lockdown scenario ends with `warmboot reboot --cold` (secure_boot.rs judges
        // the rest).
        Scenario::Cold | Scenario::Lockdown => Expectation::Cold,
    }
}

/// Serialises the preparation of runs (images, initramfs, ESP, accelerator probe): they
/// write shared files under target/ and the cache, so `matrix --jobs N` boots its guests
/// side by side but prepares them one at a time.
static PREPARE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// What a run boots, prepared before its first attempt.
struct Prepared {
    kernels: Kernels,
    esp: Option<PathBuf>,
    accel: Accel,
    config: GuestConfig,
    seed: u64,
}

/// Builds what the run needs and runs it, retrying once after a timeout (and only then).
/// Safe to call from several threads at once (`matrix --jobs`): the preparation takes
/// [`PREPARE`], the attempts run unlocked, each in its own run directory.
pub fn run_scenario(root: &Path, args: &Args) -> Result<Outcome> {
    let Prepared {
        kernels,
        esp,
        accel,
        mut config,
        seed,
    } = {
        // A thread that panicked while preparing left nothing half-written that matters:
        // each preparation rebuilds what it needs.
        let _guard = PREPARE.lock().unwrap_or_else(|e| e.into_inner());
        prepare(root, args)?
    };
    let expect = expectation(args);
    let label = label(args, &kernels);
    let started = Instant::now();
    let mut attempts = 0;
    let mut retry: Option<Retry> = None;
    loop {
        attempts += 1;
        let run_dir = run_dir(root, &label, attempts);
        if let Some(esp) = &esp {
            // A fresh copy of the enrolled variable store for every attempt.
            let vars = run_dir.join("OVMF_VARS.fd");
            std::fs::create_dir_all(&run_dir).map_err(Error::io(&run_dir))?;
            std::fs::copy(crate::qemu::SECURE_BOOT_VARS, &vars)
                .map_err(Error::io(crate::qemu::SECURE_BOOT_VARS))?;
            config.secure_boot = Some(SecureBootDisks {
                vars,
                esp: esp.clone(),
            });
        }
        if !args.silent {
            println!("boot {label}: {}", config.display());
        }
        let (ending, log) = attempt(&config, &run_dir, Duration::from_secs(args.timeout))?;
        let mut verdict = judge(expect, &log);
        if verdict.passed {
            verdict = check_kernels(
                verdict,
                expect,
                &log,
                kernels.first.release.as_deref(),
                kernels.next.release.as_deref(),
            );
        }
        crate::purgatory_line::explain(&mut verdict, &log);
        if args.firmware == Firmware::Secureboot {
            let auto_warmboot =
                args.loader == Loader::Warmboot && args.syscall.iter().all(|s| *s == Syscall::Auto);
            verdict = crate::secure_boot::judge(verdict, args.scenario, auto_warmboot, &log);
        }
        if ending == Ending::TimedOut && !verdict.passed {
            verdict.reason = format!("timed out after {}s: {}", args.timeout, verdict.reason);
        }
        // The two failures that get one retry with the same seed: a timeout, and a crash
        // of the next kernel kexec-tools booted. Each says why in its line and its reason.
        let retry_why = match (attempts, verdict.passed) {
            (1, false) if ending == Ending::TimedOut => Some((
                format!(
                    "TIMEOUT {label} after {}s — retrying once (timeouts only)",
                    args.timeout
                ),
                verdict.reason.clone(),
            )),
            (1, false) => reference_loader_crash(args, &log).map(|crash| {
                (
                    format!(
                        "CRASH {label}: kexec-tools' next kernel crashed ({crash}) — retrying \
                         once with the same seed (the reference loader only)"
                    ),
                    format!(
                        "{}; kexec-tools' next kernel crashed: {crash}",
                        verdict.reason
                    ),
                )
            }),
            _ => None,
        };
        if let Some((line, reason)) = retry_why {
            // Printed even when silent: a retry must never go unnoticed.
            println!("{line}; log {}", run_dir.join(SERIAL_LOG).display());
            if !args.silent {
                report_failure(&label, &run_dir);
            }
            retry = Some(Retry {
                reason,
                run_dir: run_dir.clone(),
                layouts: layouts(&log),
            });
            continue;
        }
        if !verdict.passed && !args.silent {
            report_failure(&label, &run_dir);
        }
        return Ok(Outcome {
            label,
            verdict,
            accel,
            attempts,
            wall: started.elapsed(),
            run_dir,
            log,
            seed,
            retry,
        });
    }
}

/// The one failure besides a timeout that gets a retry: on a warm reboot through
/// kexec-tools (the reference loader the matrix and bench compare with, not the product),
/// the next kernel crashing in early boot. Debian's kexec-tools 2.0.25 with `--syscall
/// classic` into a 6.12 kernel has been seen to do so once in tens of runs ("Failed to
/// create slab 'sighand_cache'", then a general protection fault; the same seed passed
/// again), while the x86 kernel's own KASLR mixes in the TSC, so no seed repeats it. A
/// pass on the retry is FLAKY and the report quotes the crash; warmboot's own runs, and any
/// other failure, never retry. Returns the kernel's panic line.
fn reference_loader_crash(args: &Args, log: &[crate::serial::Stamped]) -> Option<String> {
    if args.loader != Loader::KexecTools || args.scenario != Scenario::Warm {
        return None;
    }
    let request = log
        .iter()
        .position(|s| s.line.contains("@@WB reboot-request"))?;
    log.iter()
        .skip(request)
        .find(|s| s.line.contains("Kernel panic - not syncing"))
        .map(|s| {
            let line = s.line.trim();
            line.find("Kernel panic")
                .and_then(|i| line.get(i..))
                .unwrap_or(line)
                .to_string()
        })
}

/// Secure Boot guests are x86_64 under TCG (OVMF's secure build; KVM guests hang here), and
/// the lockdown scenario only exists under Secure Boot.
fn check_secure_boot_args(args: &Args) -> Result<()> {
    let bad = |reason: &str| {
        Err(Error::Boot {
            reason: reason.to_string(),
        })
    };
    if args.firmware == Firmware::Secureboot {
        if args.arch != GuestArch::X86_64 {
            return bad("--firmware secureboot: x86_64 only (OVMF's Secure Boot build)");
        }
        if args.accel == AccelChoice::Kvm {
            return bad("--firmware secureboot runs under TCG only; drop --accel kvm");
        }
        if args.loader != Loader::Warmboot {
            return bad("--firmware secureboot proves warmboot: add --loader warmboot");
        }
    } else if args.scenario == Scenario::Lockdown {
        return bad("--scenario lockdown needs --firmware secureboot (a locked-down kernel)");
    }
    Ok(())
}

fn short_hash(p: &Path) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(p.display().to_string().as_bytes());
    h.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// Resolves the kernels, builds the initramfs (and the ESP under Secure Boot), draws the
/// seed and picks the accelerator: everything before the first attempt.
fn prepare(root: &Path, args: &Args) -> Result<Prepared> {
    check_secure_boot_args(args)?;

    crate::images::prepare(root)?;
    let cache = Cache::from_env()?;
    let kernels = resolve_kernels(root, &cache, args)?;
    let kernel = kernels.first.path.clone();
    let initrd = match &args.initrd {
        Some(i) => i.clone(),
        None => {
            let next = &kernels.next.path;
            let mut extra = Vec::new();
            let mut tag = short_hash(next);
            if args.scenario == Scenario::Lockdown {
                // The next kernel again, without its signature, for lockdown to refuse.
                let signed = std::fs::read(next).map_err(Error::io(next))?;
                let stripped =
                    crate::authenticode::strip_signature(&signed).map_err(|e| Error::Boot {
                        reason: format!("{}: cannot strip its signature: {e}", next.display()),
                    })?;
                let at = crate::secure_boot::UNSIGNED_KERNEL.trim_start_matches('/');
                extra.push((at.to_string(), stripped));
                tag += ".unsigned";
            }
            let out = crate::initramfs::default_path(root, args.arch)
                .with_extension(format!("{tag}.cpio"));
            crate::initramfs::build_with(root, args.arch, Some(next), &extra, &out)?;
            out
        }
    };
    let seed = match args.seed {
        Some(s) => s,
        None => Seeds::fresh()?,
    };
    let append = cmdline(args, seed);
    // Secure Boot: the firmware boots the ESP; TCG only (qemu.md: KVM guests hang here).
    let (accel, esp) = if args.firmware == Firmware::Secureboot {
        let esp = crate::esp::build(root, &kernel, &initrd, &append)?;
        (Accel::Tcg, Some(esp))
    } else {
        let accel = crate::accel::choose(root, args.accel, args.arch, &kernel, &initrd)?;
        (accel, None)
    };
    let config = GuestConfig {
        arch: args.arch,
        firmware: args.firmware,
        accel,
        memory_mib: args.memory,
        kernel,
        initrd,
        append,
        no_reboot: !matches!(args.scenario, Scenario::Cold | Scenario::Lockdown),
        drive: None,
        seed: Some(seed),
        secure_boot: None,
        ssh_port: None,
    };
    Ok(Prepared {
        kernels,
        esp,
        accel,
        config,
        seed,
    })
}

fn run_dir(root: &Path, label: &str, attempt: u32) -> PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    root.join("target/xtask/runs")
        .join(format!("{stamp}-{}-try{attempt}", label.replace('/', "-")))
}

/// One QEMU run: answers the cold-boot prompt with the number of boots seen, and stops
/// once the guest says it is done or failed.
fn attempt(
    config: &GuestConfig,
    run_dir: &Path,
    timeout: Duration,
) -> Result<(Ending, Vec<crate::serial::Stamped>)> {
    let mut guest = Guest::start(config, run_dir).map_err(|e| Error::Boot {
        reason: format!("cannot start {}: {e}", config.arch.qemu_binary()),
    })?;
    let mut boots = 0u32;
    let mut finished_at: Option<Instant> = None;
    let ending = guest.run(timeout, |line, stdin: &mut dyn Write| {
        if let Some((event, _)) = parse_marker(&line.line) {
            match event.as_str() {
                "boot-count?" => {
                    let _ = writeln!(stdin, "{boots}");
                    let _ = stdin.flush();
                    boots += 1;
                }
                "done" | "fail" | "broken" => finished_at = Some(Instant::now()),
                _ => {}
            }
        }
        // The --verify purgatory refused the plan and halted: nothing more will come.
        if crate::purgatory_line::in_line(&line.line).is_some() {
            return Flow::Stop;
        }
        // Let the guest power off by itself; if it lingers, stop it.
        match finished_at {
            Some(t) if t.elapsed() > Duration::from_secs(10) => Flow::Stop,
            _ => Flow::Continue,
        }
    });
    Ok((ending, guest.log().to_vec()))
}

/// Prints the run's serial log and QEMU's stderr between banners; the run dir is kept.
/// One write, under stdout's lock, so that the guests of `matrix --jobs` do not
/// interleave their logs.
fn report_failure(label: &str, run_dir: &Path) {
    let mut out = String::new();
    for (name, file) in [("serial console", SERIAL_LOG), ("QEMU stderr", STDERR_LOG)] {
        let text = std::fs::read_to_string(run_dir.join(file)).unwrap_or_default();
        out += &format!(
            "===== {label}: {name} ({}) =====\n{text}",
            run_dir.join(file).display()
        );
        if !text.ends_with('\n') {
            out.push('\n');
        }
        out += &format!("===== end of {name} =====\n");
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn args(arch: GuestArch, scenario: Scenario) -> Args {
        Args {
            syscall: vec![Syscall::Classic],
            accel: AccelChoice::Tcg,
            ..Args::new(arch, scenario)
        }
    }

    /// The command line with seed 7.
    fn cmdline_of(a: &Args) -> String {
        cmdline(a, 7)
    }

    fn pinned(release: &str) -> Kernel {
        Kernel {
            path: PathBuf::from(format!("/c/pkgs/k/boot/vmlinuz-{release}")),
            release: Some(release.into()),
        }
    }

    /// The same pinned kernel first and next.
    fn one(release: &str) -> Kernels {
        Kernels {
            first: pinned(release),
            next: pinned(release),
        }
    }

    /// An outcome judged from a saved log, with or without a timed-out first attempt.
    pub(crate) fn outcome_of(log: &str, retry: Option<Retry>) -> Outcome {
        let log = crate::serial::parse_saved_log(log);
        let expect = Expectation::Warm {
            hops: 1,
            x86_entry: None,
        };
        Outcome {
            label: "x86_64/bios/1024M/warm".into(),
            verdict: judge(expect, &log),
            accel: Accel::Tcg,
            attempts: 1 + u32::from(retry.is_some()),
            wall: Duration::ZERO,
            run_dir: PathBuf::from("/r/try2"),
            log,
            seed: 4242,
            retry,
        }
    }

    pub(crate) const WARM_LOG: &str = "\
[    5.60] @@WB ready hop=0 boot_id=a kernel=k scenario=warm uptime=2.41
[    5.70] @@WB layout text=0xffffffff9a000000 kernel_code=0x19000000 hop=0
[    6.95] @@WB load-done kind=normal loader=warmboot syscall=classic start=2.55 end=3.70
[    7.21] @@WB reboot-request hop=0 how=kexec
[   12.57] @@WB ready hop=1 boot_id=b kernel=k scenario=warm uptime=1.1
[   12.60] @@WB layout text=0xffffffffa2000000 kernel_code=0x21000000 hop=1
[   12.70] @@WB done hop=1
";

    pub(crate) fn timed_out_once() -> Retry {
        Retry {
            reason: "timed out after 240s: no ready marker after the reboot request".into(),
            run_dir: PathBuf::from("/r/try1"),
            layouts: vec!["hop0 _text=0xffffffff8c000000".into()],
        }
    }

    /// The crash retry is for kexec-tools' warm reboots whose next kernel panicked, and
    /// nothing else.
    #[test]
    fn only_a_crash_of_the_reference_loaders_next_kernel_is_retried() {
        let crashed = WARM_LOG.replace(
            "[   12.57] @@WB ready hop=1",
            "[   11.00] [    0.95] Kernel panic - not syncing: __kmem_cache_create_args: \
             Failed to create slab 'sighand_cache'. Error -12\n[   12.57] @@WB nope",
        );
        let log = crate::serial::parse_saved_log(&crashed);
        let mut kt = Args::new(GuestArch::X86_64, Scenario::Warm);
        kt.loader = Loader::KexecTools;
        assert_eq!(
            reference_loader_crash(&kt, &log).as_deref(),
            Some(
                "Kernel panic - not syncing: __kmem_cache_create_args: Failed to create \
                 slab 'sighand_cache'. Error -12"
            )
        );
        // warmboot's own runs never retry a crash.
        let mut wb = kt.clone();
        wb.loader = Loader::Warmboot;
        assert_eq!(reference_loader_crash(&wb, &log), None);
        // A panic scenario panics on purpose.
        let mut panic = kt.clone();
        panic.scenario = Scenario::Panic;
        assert_eq!(reference_loader_crash(&panic, &log), None);
        // No crash, or a crash before the reboot request (the first kernel's): no retry.
        let clean = crate::serial::parse_saved_log(WARM_LOG);
        assert_eq!(reference_loader_crash(&kt, &clean), None);
        let early = WARM_LOG.replace(
            "[    6.95] @@WB load-done",
            "[    6.90] Kernel panic - not syncing: first kernel\n[    6.95] @@WB load-done",
        );
        let early = crate::serial::parse_saved_log(&early);
        assert_eq!(reference_loader_crash(&kt, &early), None);
    }

    #[test]
    fn a_pass_after_a_retry_is_flaky_and_says_with_which_seed() {
        let plain = outcome_of(WARM_LOG, None);
        assert!(plain.verdict.passed, "{}", plain.verdict.reason);
        assert_eq!(plain.status(), "PASS");
        assert_eq!(plain.flaky_note(), None);
        let flaky = outcome_of(WARM_LOG, Some(timed_out_once()));
        assert_eq!(flaky.status(), "FLAKY");
        let note = flaky.flaky_note().unwrap();
        for want in [
            "attempt 1: timed out after 240s",
            "/r/try1/serial.log",
            "seed 4242 (repeat with --seed 4242)",
            "attempt 1 [hop0 _text=0xffffffff8c000000]",
            "attempt 2 [hop0 _text=0xffffffff9a000000, hop1 _text=0xffffffffa2000000]",
        ] {
            assert!(note.contains(want), "{want:?} not in {note}");
        }
        // A failure after a retry is a failure, not FLAKY.
        let failed = outcome_of(
            &WARM_LOG.replace("hop=1 boot_id=b", "hop=1 boot_id=a"),
            Some(timed_out_once()),
        );
        assert_eq!(failed.status(), "FAIL");
        assert_eq!(failed.flaky_note(), None);
    }

    #[test]
    fn the_seed_reaches_qemu_and_the_guest_and_stays_in_range() {
        let a = args(GuestArch::X86_64, Scenario::Warm);
        assert!(cmdline(&a, 99).ends_with(" wb.seed=99"));
        for _ in 0..64 {
            assert!(Seeds::fresh().unwrap() < 1 << 48);
        }
        assert_ne!(Seeds::fresh().unwrap(), Seeds::fresh().unwrap());
    }

    #[test]
    fn command_lines_carry_the_scenario_and_reserve_crash_memory_only_for_panic() {
        let warm = cmdline_of(&args(GuestArch::X86_64, Scenario::Warm));
        assert_eq!(
            warm,
            "console=ttyS0 quiet panic=1 wb.scenario=warm wb.loader=kexec-tools \
             wb.syscall=classic wb.hops=1 wb.seed=7"
        );
        let panic = cmdline_of(&args(GuestArch::Arm64, Scenario::Panic));
        assert!(
            panic.starts_with("console=ttyAMA0 quiet panic=1 crashkernel=96M "),
            "{panic}"
        );
        let mut broken = args(GuestArch::X86_64, Scenario::Warm);
        broken.break_next = true;
        assert!(cmdline_of(&broken).ends_with(" wb.break=1 wb.seed=7"));
        let mut measured = args(GuestArch::Arm64, Scenario::Warm);
        measured.measure = true;
        let m = cmdline_of(&measured);
        assert!(
            m.starts_with("console=ttyAMA0 earlycon=pl011,0x9000000 loglevel=6 panic=1 "),
            "{m}"
        );
        assert!(
            m.ends_with(" wb.hwm=1 wb.seed=7") && !m.contains("quiet"),
            "{m}"
        );
        let mut verify = args(GuestArch::Arm64, Scenario::Warm);
        verify.loader = Loader::Warmboot;
        verify.verify = true;
        assert!(cmdline_of(&verify).ends_with(" wb.hops=1 wb.verify=1 wb.seed=7"));
        let k = one("6.1.0-56-arm64");
        assert_eq!(
            label(&verify, &k),
            "arm64/direct/1024M/warm/warmboot/classic/verify/6.1.0-56-arm64"
        );
        verify.corrupt_digest = true;
        assert!(cmdline_of(&verify).ends_with(" wb.hops=1 wb.verify=corrupt wb.seed=7"));
        assert!(label(&verify, &k).ends_with("/verify/corrupt-digest/6.1.0-56-arm64"));
    }

    #[test]
    fn the_x86_entry_reaches_the_guest_only_when_set() {
        let mut a = args(GuestArch::X86_64, Scenario::Warm);
        a.loader = Loader::Warmboot;
        assert!(!cmdline_of(&a).contains("x86entry"));
        let k = one("6.12.57+deb13-amd64");
        assert_eq!(
            label(&a, &k),
            "x86_64/bios/1024M/warm/warmboot/classic/6.12.57+deb13-amd64"
        );
        a.x86_entry = Some(X86Entry::Bzimage);
        assert!(cmdline_of(&a).ends_with(" wb.hops=1 wb.x86entry=bzimage wb.seed=7"));
        assert_eq!(
            label(&a, &k),
            "x86_64/bios/1024M/warm/warmboot/classic/x86-entry=bzimage/6.12.57+deb13-amd64"
        );
        a.x86_entry = Some(X86Entry::Decompressed);
        assert!(cmdline_of(&a).ends_with(" wb.x86entry=decompressed wb.seed=7"));
    }

    #[test]
    fn x86_warmboot_runs_expect_the_default_entry_unless_one_is_asked() {
        let mut a = args(GuestArch::X86_64, Scenario::Warm);
        a.loader = Loader::Warmboot;
        let entry = |a: &Args| match expectation(a) {
            Expectation::Warm { x86_entry, .. } => x86_entry,
            e => panic!("{e:?}"),
        };
        assert_eq!(entry(&a), Some(X86Entry::Auto));
        a.x86_entry = Some(X86Entry::Bzimage);
        assert_eq!(entry(&a), Some(X86Entry::Bzimage));
        // kexec-tools, and warmboot on arm64, have no x86 entry to check.
        a.loader = Loader::KexecTools;
        assert_eq!(entry(&a), None);
        let mut arm = args(GuestArch::Arm64, Scenario::Warm);
        arm.loader = Loader::Warmboot;
        assert_eq!(entry(&arm), None);
    }

    #[test]
    fn secure_boot_runs_are_x86_64_warmboot_under_tcg_and_lockdown_needs_them() {
        let mut a = args(GuestArch::X86_64, Scenario::Lockdown);
        a.loader = Loader::Warmboot;
        let e = check_secure_boot_args(&a).unwrap_err().to_string();
        assert!(
            e.contains("--scenario lockdown needs --firmware secureboot"),
            "{e}"
        );
        a.firmware = Firmware::Secureboot;
        check_secure_boot_args(&a).unwrap();
        let c = cmdline_of(&a);
        assert!(c.contains(" crashkernel=256M wb.scenario=lockdown "), "{c}");
        assert!(c.ends_with(" wb.sb=1 wb.seed=7"), "{c}");
        assert_eq!(
            label(&a, &one("6.1.0-56-amd64")),
            "x86_64/secureboot/1024M/lockdown/6.1.0-56-amd64"
        );
        assert_eq!(expectation(&a), Expectation::Cold);
        a.loader = Loader::KexecTools;
        let e = check_secure_boot_args(&a).unwrap_err().to_string();
        assert!(e.contains("add --loader warmboot"), "{e}");
        a.loader = Loader::Warmboot;
        a.accel = AccelChoice::Kvm;
        let e = check_secure_boot_args(&a).unwrap_err().to_string();
        assert!(e.contains("TCG only"), "{e}");
        a.accel = AccelChoice::Tcg;
        a.arch = GuestArch::Arm64;
        let e = check_secure_boot_args(&a).unwrap_err().to_string();
        assert!(e.contains("x86_64 only"), "{e}");
    }

    #[test]
    fn labels_name_every_dimension() {
        let mut a = args(GuestArch::Arm64, Scenario::Warm);
        a.firmware = Firmware::Uefi;
        a.hops = 2;
        let k = one("6.1.0-56-arm64");
        assert_eq!(
            label(&a, &k),
            "arm64/uefi/1024M/warm/kexec-tools/classic/2hops/6.1.0-56-arm64"
        );
        assert_eq!(
            label(
                &args(GuestArch::X86_64, Scenario::Cold),
                &one("6.1.0-56-amd64")
            ),
            "x86_64/bios/1024M/cold/6.1.0-56-amd64"
        );
        // An upgrade names both kernels; a file that is not vmlinuz-<release> keeps its
        // name beside the release, and a kernel without a known release its name only.
        let up = Kernels {
            first: pinned("6.1.0-56-arm64"),
            next: pinned("6.12.57+deb13-arm64"),
        };
        assert!(label(&a, &up).ends_with("/2hops/6.1.0-56-arm64/next=6.12.57+deb13-arm64"));
        let derived = Kernels {
            first: pinned("6.1.0-56-arm64"),
            next: Kernel {
                path: PathBuf::from("target/xtask/derived/Image.gz"),
                release: Some("6.1.0-56-arm64".into()),
            },
        };
        assert!(label(&a, &derived).ends_with("/6.1.0-56-arm64/next=Image.gz@6.1.0-56-arm64"));
        let unknown = Kernels {
            first: Kernel {
                path: PathBuf::from("/tmp/bzImage"),
                release: None,
            },
            next: pinned("6.1.0-56-amd64"),
        };
        assert!(label(&a, &unknown).ends_with("/bzImage/next=6.1.0-56-amd64"));
    }

    #[test]
    fn kernels_come_from_the_series_or_any_file() {
        use crate::index::{KernelEntry, KernelIndex};
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().to_owned());
        let mut index = KernelIndex::default();
        for (series, release) in [("6.1", "6.1.0-56-amd64"), ("6.12", "6.12.57+deb13-amd64")] {
            index.insert(
                "x86_64",
                KernelEntry {
                    path: PathBuf::from(format!("/c/vmlinuz-{release}")),
                    package: format!("linux-image-{release}"),
                    version: "1".into(),
                    sha256: "0".repeat(64),
                    series: series.into(),
                    release: release.into(),
                },
            );
        }
        index.store(&dir.path().join("kernels.json")).unwrap();
        let root = Path::new("/w");
        let mut a = args(GuestArch::X86_64, Scenario::Warm);
        let k = resolve_kernels(root, &cache, &a).unwrap();
        assert_eq!(k.first.release.as_deref(), Some("6.1.0-56-amd64"));
        assert_eq!(k.next, k.first);
        a.kernel_series = Some("6.12".into());
        let k = resolve_kernels(root, &cache, &a).unwrap();
        assert_eq!(
            k.first.path,
            PathBuf::from("/c/vmlinuz-6.12.57+deb13-amd64")
        );
        assert_eq!(k.next, k.first);
        a.next_kernel_series = Some("6.1".into());
        let k = resolve_kernels(root, &cache, &a).unwrap();
        assert_eq!(k.next.release.as_deref(), Some("6.1.0-56-amd64"));
        // Any file: its release from its name; the next kernel relative to the root.
        a.kernel = Some(PathBuf::from("/debs/x/boot/vmlinuz-6.12.99+deb13-amd64"));
        a.kernel_series = None;
        a.next_kernel_series = None;
        a.next_kernel = Some(PathBuf::from("target/k/vmlinuz-6.1.0-99-amd64"));
        let k = resolve_kernels(root, &cache, &a).unwrap();
        assert_eq!(k.first.release.as_deref(), Some("6.12.99+deb13-amd64"));
        assert_eq!(
            k.next.path,
            PathBuf::from("/w/target/k/vmlinuz-6.1.0-99-amd64")
        );
        assert_eq!(k.next.release.as_deref(), Some("6.1.0-99-amd64"));
        // A series that is not pinned names the pinned ones.
        let mut b = args(GuestArch::X86_64, Scenario::Warm);
        b.kernel_series = Some("5.10".into());
        let e = resolve_kernels(root, &cache, &b).unwrap_err().to_string();
        assert!(e.contains("no x86_64 kernel of series 5.10"), "{e}");
        assert!(e.contains("(pinned: 6.1, 6.12)"), "{e}");
    }
}
