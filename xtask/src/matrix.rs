//! The boot matrix `cargo xtask ci` runs: every scenario the harness proves on every
//! commit, and the summary table printed at the end.

use crate::boot::{self, Args, Loader, Outcome, Scenario, Syscall, X86Entry};
use crate::error::Result;
use crate::qemu::{Firmware, GuestArch};
use std::path::Path;

/// `cargo xtask matrix`'s options.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct MatrixArgs {
    /// Only the Secure Boot cases ([`secure_boot_matrix`]), CI's "secure boot" step.
    #[arg(long)]
    pub secure_boot: bool,
    /// How many guests boot at once (default: one per CPU). Each TCG guest (-smp 1) keeps
    /// one core busy; the timeouts assume a core per guest.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

impl MatrixArgs {
    /// `--jobs`, or one guest per CPU the machine offers.
    pub fn jobs(&self) -> usize {
        self.jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }
}

/// One entry of the matrix: the scenario and whether it must pass.
pub struct Case {
    pub args: Args,
    /// A run that must FAIL, with the reason it must fail for (a substring of the verdict)
    /// and why that is expected. The harness self-test is one: a next kernel that cannot
    /// print its marker must be reported as a failure.
    pub must_fail: Option<ExpectedFailure>,
}

/// Why a case must fail, and how the verdict must say so.
pub struct ExpectedFailure {
    pub reason_contains: &'static str,
    pub because: &'static str,
}

fn case(arch: GuestArch, scenario: Scenario, firmware: Firmware, syscall: Syscall) -> Case {
    Case {
        // The reference loader kexec-tools unless a case says warmboot.
        args: Args {
            firmware,
            syscall: vec![syscall],
            ..Args::new(arch, scenario)
        },
        must_fail: None,
    }
}

/// Where `derived_kernels` writes the re-wrapped arm64 kernels of a series
/// (`target/xtask/derived/6.12/Image.gz`).
fn derived_path(series: &str, name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from("target/xtask/derived")
        .join(series)
        .join(name)
}

/// A warm reboot from the pinned arm64 kernel of `series` into the same Image re-wrapped
/// as `name`.
fn derived(firmware: Firmware, series: &str, name: &str) -> Case {
    let mut c = case(GuestArch::Arm64, Scenario::Warm, firmware, Syscall::Auto);
    c.args.loader = Loader::Warmboot;
    c.args.kernel_series = Some(series.to_string());
    c.args.next_kernel = Some(derived_path(series, name));
    c
}

/// Writes the pinned arm64 Image of every series (Debian ships a raw Image on 6.1 and
/// 6.12) as Image.gz (gzip) and as an EFI zboot image (gzip payload, built with the
/// loader's synth builder the way drivers/firmware/efi/libstub's Makefile.zboot lays it
/// out), for the matrix's decompression cases.
pub fn derived_kernels(root: &Path) -> Result<()> {
    use warmboot::compression::Compression;
    use warmboot::synth::arm64::{gzip, zboot};
    let cache = crate::cache::Cache::from_env()?;
    for series in Pinned::load(&cache)?.arm64 {
        let image_path = boot::pinned_kernel(&cache, GuestArch::Arm64, Some(&series))?;
        let image = std::fs::read(&image_path).map_err(crate::error::Error::io(&image_path))?;
        let dir = root.join(derived_path(&series, ""));
        std::fs::create_dir_all(&dir).map_err(crate::error::Error::io(&dir))?;
        for (name, bytes) in [
            ("Image.gz", gzip(&image)),
            (
                "Image.zboot",
                zboot(&image, Compression::Gzip, "gzip", 0, false),
            ),
        ] {
            let p = dir.join(name);
            std::fs::write(&p, bytes).map_err(crate::error::Error::io(&p))?;
        }
    }
    for series in Pinned::load(&cache)?.x86_64 {
        let kernel = boot::pinned(&cache, GuestArch::X86_64, Some(&series))?;
        let dir = root.join(derived_path(&series, ""));
        std::fs::create_dir_all(&dir).map_err(crate::error::Error::io(&dir))?;
        build_uki(&kernel, &dir)?;
    }
    Ok(())
}

/// systemd's x86_64 EFI stub (Debian's systemd-boot-efi), the PE a UKI is built on.
pub const UKI_STUB: &str = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";

/// Builds `dir/uki.efi`, a unified kernel image of the pinned x86_64 `kernel` made by hand
/// as ../shared/notes/qemu.md describes (objcopy adding sections to systemd's stub):
/// `.osrel`, `.uname`, `.cmdline`, `.linux` (the signed Debian bzImage as it is) and a
/// small `.initrd` (one marker file). The guest loads it with its own `--initrd` and
/// `--command-line`, which warmboot puts after `.initrd` and in place of `.cmdline`.
fn build_uki(kernel: &crate::kernels::Kernel, dir: &Path) -> Result<()> {
    let release = kernel.release.clone().unwrap_or_default();
    let parts = [
        (
            ".osrel",
            "0x20000",
            format!("PRETTY_NAME=\"warmboot test UKI\"\nID=debian\nVERSION_ID=\"{release}\"\n")
                .into_bytes(),
        ),
        (".uname", "0x28000", release.clone().into_bytes()),
        (
            ".cmdline",
            "0x30000",
            b"console=ttyS0 replaced-by-the-guests-command-line".to_vec(),
        ),
        (
            ".initrd",
            "0x3000000",
            warmboot::synth::initrd::newc(&[(
                "uki-initrd",
                b"from the UKI's .initrd\n".as_slice(),
            )]),
        ),
    ];
    let mut cmd = crate::cmd::Cmd::new("objcopy");
    for (name, vma, bytes) in &parts {
        let p = dir.join(format!("uki{name}"));
        std::fs::write(&p, bytes).map_err(crate::error::Error::io(&p))?;
        cmd = cmd
            .arg("--add-section")
            .arg(format!("{name}={}", p.display()))
            .arg("--change-section-vma")
            .arg(format!("{name}={vma}"));
    }
    cmd.arg("--add-section")
        .arg(format!(".linux={}", kernel.path.display()))
        .arg("--change-section-vma")
        .arg(".linux=0x2000000")
        .arg(UKI_STUB)
        .arg(dir.join("uki.efi"))
        .run()
}

/// The kernel series pinned for each architecture, oldest first (`<cache>/kernels.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    pub x86_64: Vec<String>,
    pub arm64: Vec<String>,
}

impl Pinned {
    pub fn of(&self, arch: GuestArch) -> &[String] {
        match arch {
            GuestArch::X86_64 => &self.x86_64,
            GuestArch::Arm64 => &self.arm64,
        }
    }

    /// The series of `<cache>/kernels.json`; an error when an architecture has none.
    pub fn load(cache: &crate::cache::Cache) -> Result<Pinned> {
        let path = cache.root().join("kernels.json");
        let index = crate::index::KernelIndex::load_or_default(&path)?;
        let pinned = Pinned {
            x86_64: index.series("x86_64"),
            arm64: index.series("arm64"),
        };
        for arch in [GuestArch::X86_64, GuestArch::Arm64] {
            if pinned.of(arch).is_empty() {
                return Err(crate::error::Error::Boot {
                    reason: format!(
                        "no {arch:?} kernel in {} — run `cargo xtask images`",
                        path.display()
                    ),
                });
            }
        }
        Ok(pinned)
    }
}

/// Spreads `combos` over `series` in turn (combo i on series i mod n), as many cases as
/// the larger of the two: every combo runs once and every series gets at least one, so a
/// firmware × memory × syscall combination is split between the series, not repeated
/// on each.
fn spread<T: Clone>(combos: &[T], series: &[String]) -> Vec<(T, String)> {
    if combos.is_empty() || series.is_empty() {
        return Vec::new();
    }
    (0..combos.len().max(series.len()))
        .map(|i| {
            (
                combos[i % combos.len()].clone(),
                series[i % series.len()].clone(),
            )
        })
        .collect()
}

/// The upgrades and downgrades between the pinned series of one architecture: each
/// series and the next newer one, both ways (`(from, to)`).
fn hops_between(series: &[String]) -> Vec<(String, String)> {
    series
        .windows(2)
        .flat_map(|w| [(w[0].clone(), w[1].clone()), (w[1].clone(), w[0].clone())])
        .collect()
}

/// How a verdict quotes the purgatory's refusal ([`crate::purgatory_line`]).
const REFUSED_BY_PURGATORY: &str = "the purgatory refused the plan: warmboot purgatory: segment";

/// The CI matrix over every pinned kernel series: per architecture and series warm,
/// panic and cold reboots (both syscalls on x86_64 warm reboots, the decompressed x86
/// entry on kexec_load), with the firmware × memory combinations split between the
/// series; upgrades and downgrades between the series (warm and panic, both
/// architectures); warmboot as the loader where it loads that architecture, and the
/// reference loader kexec-tools beside it. Runs chain what they can: a warm run with two
/// hops proves the second hop.
pub fn ci_matrix(pinned: &Pinned) -> Vec<Case> {
    use Firmware::{Bios, Uefi};
    use GuestArch::{Arm64, X86_64};
    use Scenario::{Cold, Panic, Warm};
    use Syscall::{Auto, Classic, File};
    let on = |mut c: Case, series: &str| {
        c.args.kernel_series = Some(series.to_string());
        c
    };
    let warmboot = |arch, scenario, firmware, syscall, memory, hops| {
        let mut c = case(arch, scenario, firmware, syscall);
        c.args.loader = Loader::Warmboot;
        c.args.memory = memory;
        c.args.hops = hops;
        c
    };
    let warm_both = |arch, fw, memory, first, second, entry: Option<X86Entry>| {
        let mut c = warmboot(arch, Warm, fw, first, memory, 2);
        c.args.syscall = vec![first, second];
        c.args.x86_entry = entry;
        c
    };
    let x86 = pinned.of(X86_64);
    let arm = pinned.of(Arm64);
    let oldest = |s: &[String]| s.first().cloned().unwrap_or_default();
    let newest = |s: &[String]| s.last().cloned().unwrap_or_default();
    let mut m = Vec::new();

    // x86_64 with warmboot: SeaBIOS and OVMF, 1 and 4 GiB, both syscalls and a second hop
    // in each warm run, spread over the series so that each series has both firmware
    // kinds, both syscalls and a kexec_load hop on the decompressed entry (the loader's
    // default: the kernel decompressed and placed at a fresh KASLR offset at load time,
    // checked against the new kernel's own layout; a fallback to the bzImage fails).
    // One OVMF run asks for the decompressed entry on both hops, one SeaBIOS run keeps the
    // bzImage entry (its own decompressor) covered on its kexec_load hop.
    let x86_warm = [
        (Bios, 1024, Classic, File, None),
        (Bios, 4096, File, Classic, Some(X86Entry::Bzimage)),
        (Uefi, 1024, Classic, Classic, Some(X86Entry::Decompressed)),
        (Uefi, 4096, Classic, File, None),
    ];
    for (i, ((fw, mem, a, b, entry), s)) in spread(&x86_warm, x86).into_iter().enumerate() {
        let mut c = warm_both(X86_64, fw, mem, a, b, entry);
        // One run reboots the way an admin without systemd does: `warmboot reboot`, its
        // own clean shutdown before reboot(2) (the others use `warmboot exec`).
        c.args.clean_reboot = i == 0;
        m.push(on(c, &s));
    }
    let x86_panic = [
        (Bios, 1024, Classic),
        (Bios, 4096, File),
        (Uefi, 1024, File),
        (Uefi, 4096, Classic),
    ];
    for ((fw, mem, sys), s) in spread(&x86_panic, x86) {
        m.push(on(warmboot(X86_64, Panic, fw, sys, mem, 1), &s));
    }
    // arm64 with warmboot (auto: kexec_file_load where the kernel has it and takes the
    // image, else kexec_load with warmboot's DTB and entry stub); each series gets both
    // firmware kinds and a second hop.
    let arm_warm = [
        (Bios, 1024, 2),
        (Uefi, 1024, 2),
        (Uefi, 4096, 1),
        (Bios, 4096, 1),
    ];
    for ((fw, mem, hops), s) in spread(&arm_warm, arm) {
        m.push(on(warmboot(Arm64, Warm, fw, Auto, mem, hops), &s));
    }
    for ((fw, mem), s) in spread(&[(Bios, 1024), (Uefi, 4096)], arm) {
        m.push(on(warmboot(Arm64, Panic, fw, Auto, mem, 1), &s));
    }
    // Upgrades and downgrades: boot one series, kexec into the other, warm and panic,
    // on both architectures (loader defaults: on x86_64 a warm kexec_load enters the new
    // series' kernel decompressed).
    for arch in [X86_64, Arm64] {
        for (i, (from, to)) in hops_between(pinned.of(arch)).into_iter().enumerate() {
            let (warm_fw, panic_fw) = if i % 2 == 0 {
                (Bios, Uefi)
            } else {
                (Uefi, Bios)
            };
            for (scenario, fw) in [(Warm, warm_fw), (Panic, panic_fw)] {
                let mut c = on(warmboot(arch, scenario, fw, Auto, 1024, 1), &from);
                c.args.next_kernel_series = Some(to.clone());
                m.push(c);
            }
        }
    }
    // arm64 Image.gz and EFI zboot, decompressed by warmboot at load time: a series' raw
    // Image re-wrapped by `derived_kernels`, the two formats split between the series.
    for ((fw, name), s) in spread(&[(Uefi, "Image.gz"), (Bios, "Image.zboot")], arm) {
        m.push(derived(fw, &s, name));
    }
    // load --verify: warmboot's purgatory checks the segments' SHA-256 first (x86_64 on
    // the oldest series, arm64 on the newest).
    let verified = |arch| {
        let mut c = warmboot(arch, Warm, Bios, Classic, 1024, 1);
        c.args.verify = true;
        c
    };
    m.push(on(verified(X86_64), &oldest(x86)));
    m.push(on(verified(Arm64), &newest(arm)));
    // --verify's negative proof: the last segment's digest is wrong on purpose, so the
    // purgatory must print which segment and why on the console and halt, never boot
    // (direct boot/SeaBIOS: the console is on the command line or in QEMU's DTB). x86_64
    // on the newest series, arm64 on the oldest, so each series has one per arch.
    let refused = |arch| {
        let mut c = verified(arch);
        c.args.corrupt_digest = true;
        c.must_fail = Some(ExpectedFailure {
            reason_contains: REFUSED_BY_PURGATORY,
            because: "--verify with a corrupted digest: the purgatory must say why and halt",
        });
        c
    };
    m.push(on(refused(X86_64), &newest(x86)));
    m.push(on(refused(Arm64), &oldest(arm)));
    // The reference loader kexec-tools (Debian 12's 2.0.25, in the guest) on the same
    // machines, on every series.
    for s in x86 {
        m.push(on(case(X86_64, Warm, Bios, Classic), s));
    }
    for s in arm {
        m.push(on(case(Arm64, Warm, Bios, Classic), s));
        let mut c = on(case(Arm64, Panic, Bios, Classic), s);
        c.must_fail = arm64_kexec_tools_panic(s);
        m.push(c);
    }
    // Cold reboots through the firmware: each series once per architecture, the firmware
    // kinds split between them.
    for arch in [X86_64, Arm64] {
        for (fw, s) in spread(&[Bios, Uefi], pinned.of(arch)) {
            m.push(on(case(arch, Cold, fw, Auto), &s));
        }
    }
    // The harness self-test.
    let mut broken = on(case(X86_64, Warm, Bios, Classic), &oldest(x86));
    broken.args.break_next = true;
    broken.must_fail = Some(ExpectedFailure {
        reason_contains: "never printed its ready marker",
        because: "harness self-test: the next kernel's init prints a wrong marker",
    });
    m.push(broken);
    // A unified kernel image (the pinned x86_64 kernel of the newest series in systemd's
    // stub, `derived_kernels`) warm-rebooted twice: through kexec_file_load (its .linux
    // in a sealed memfd) and then kexec_load (the bzImage inside planned by warmboot).
    let mut uki = warm_both(X86_64, Uefi, 1024, File, Classic, None);
    uki.args.kernel_series = Some(newest(x86));
    uki.args.next_kernel = Some(derived_path(&newest(x86), "uki.efi"));
    m.push(uki);
    m
}

/// Hard timeout of one Secure Boot attempt: the cases took 136 s (warm), 93 s (panic) and
/// 167 s (lockdown: two firmware boots) here, 6m39s together, on a 2-core host shared with
/// other builds; the firmware, shim and GRUB alone take about 45 s per boot under TCG
/// with SMM.
pub const SECURE_BOOT_TIMEOUT: u64 = 480;

/// The Secure Boot cases: x86_64 OVMF with Secure Boot enforced and Microsoft's keys
/// enrolled, Debian's signed shim, GRUB and kernel, the kernel locked down (secure_boot.rs
/// judges the state and the proofs). A warm reboot and a panic through warmboot's `auto`
/// (kexec_file_load, for lockdown) and the lockdown scenario (the refusals, unload, reboot
/// --cold), spread over the pinned x86_64 series. Each OVMF boot under TCG with SMM takes
/// tens of seconds, so four cases, each proving several things. The fourth is a warm
/// reboot into the newest series' unified kernel image (derived_kernels: unsigned stub,
/// signed `.linux`): it passes only if warmboot hands kexec_file_load the signed `.linux`
/// (the whole PE fails x86's bzImage64_probe with ENOEXEC, and lockdown refuses
/// kexec_load).
pub fn secure_boot_matrix(pinned: &Pinned) -> Vec<Case> {
    let scenarios = [Scenario::Warm, Scenario::Panic, Scenario::Lockdown];
    let x86 = pinned.of(GuestArch::X86_64);
    let secure = |scenario, series: String| {
        let mut c = case(
            GuestArch::X86_64,
            scenario,
            Firmware::Secureboot,
            Syscall::Auto,
        );
        c.args.loader = Loader::Warmboot;
        c.args.kernel_series = Some(series);
        c.args.timeout = SECURE_BOOT_TIMEOUT;
        c
    };
    let mut m: Vec<Case> = spread(&scenarios, x86)
        .into_iter()
        .map(|(scenario, series)| secure(scenario, series))
        .collect();
    let newest = x86.last().cloned().unwrap_or_default();
    let mut uki = secure(Scenario::Warm, newest.clone());
    uki.args.next_kernel = Some(derived_path(&newest, "uki.efi"));
    m.push(uki);
    m
}

/// kexec-tools' arm64 panic reboot on `series`: known to fail on 6.1.
fn arm64_kexec_tools_panic(series: &str) -> Option<ExpectedFailure> {
    (series == "6.1").then_some(ExpectedFailure {
        // The bench's known-broken entry holds the one pattern for this failure.
        reason_contains: crate::bench::variants::ARM64_KEXEC_TOOLS_PANIC.failure_contains,
        because: "kexec-tools writes a broken crash ELF header on Debian's arm64 6.1 kernel \
                  (no _text in /proc/kallsyms, ../shared/notes/qemu.md); warmboot's arm64 \
                  loader replaces it here",
    })
}

/// `cargo xtask matrix`: the CI boot matrix (or with `--secure-boot` its Secure Boot
/// cases), an error unless every case came out as it must.
pub fn run_ci(root: &Path, args: &MatrixArgs) -> Result<()> {
    crate::images::prepare(root)?;
    let pinned = Pinned::load(&crate::cache::Cache::from_env()?)?;
    derived_kernels(root)?;
    let cases = if args.secure_boot {
        secure_boot_matrix(&pinned)
    } else {
        ci_matrix(&pinned)
    };
    if run(root, &cases, args.jobs())? {
        Ok(())
    } else {
        Err(crate::error::Error::Boot {
            reason: "matrix: at least one scenario did not come out as it must".into(),
        })
    }
}

/// Runs every case, `jobs` guests at a time, prints a summary table in the cases' order,
/// and says whether the matrix passed. Each case prints its outcome as it ends. An error
/// that is not a verdict (a kernel that cannot be fetched, QEMU that cannot start) stops
/// the workers from taking new cases and is returned once the running ones end.
pub fn run(root: &Path, cases: &[Case], jobs: usize) -> Result<bool> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Mutex;
    let started = std::time::Instant::now();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let done: Mutex<Vec<Option<CaseResult>>> = Mutex::new(cases.iter().map(|_| None).collect());
    let workers = jobs.clamp(1, cases.len().max(1));
    if workers > 1 {
        println!("matrix: {} cases, {workers} guests at a time", cases.len());
    }
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while !stop.load(Ordering::SeqCst) {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(c) = cases.get(i) else { break };
                    let result = run_case(root, c);
                    if result.is_err() {
                        stop.store(true, Ordering::SeqCst);
                    }
                    if let Ok(mut d) = done.lock() {
                        d[i] = Some(result);
                    }
                }
            });
        }
    });
    let done = done.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut rows: Vec<(String, bool, Outcome)> = Vec::new();
    for result in done.into_iter().flatten() {
        let (ok, outcome) = result?;
        rows.push((outcome.label.clone(), ok, outcome));
    }
    println!("{}", summary(&rows, started.elapsed()));
    Ok(rows.iter().all(|(_, ok, _)| *ok))
}

/// Whether a case came out as it must, and how it ran.
type CaseResult = Result<(bool, Outcome)>;

/// Boots one case and says whether it came out as it must (a pass, or for a case that
/// must fail, a failure for its reason); prints the outcome.
fn run_case(root: &Path, c: &Case) -> CaseResult {
    let outcome = boot::run_scenario(root, &c.args)?;
    boot::print_outcome(&outcome);
    let ok = match &c.must_fail {
        None => outcome.verdict.passed,
        Some(x) => {
            let ok = !outcome.verdict.passed && outcome.verdict.reason.contains(x.reason_contains);
            println!(
                "expected failure of {} ({}): {}",
                outcome.label,
                x.because,
                if ok {
                    "it failed for the expected reason"
                } else {
                    "it did NOT fail as expected"
                }
            );
            ok
        }
    };
    Ok((ok, outcome))
}

fn summary(rows: &[(String, bool, Outcome)], wall: std::time::Duration) -> String {
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(10).max(8);
    let mut s = format!(
        "\nboot matrix\n{:<width$}  {:<6} {:>9} {:>8} {:>7}  {}\n",
        "scenario", "result", "downtime", "wall", "tries", "why"
    );
    for (label, ok, o) in rows {
        let downtime = o
            .verdict
            .downtimes
            .last()
            .map(|d| format!("{:.2}s", d.as_secs_f64()))
            .unwrap_or_else(|| "-".into());
        let result = match (ok, o.verdict.passed) {
            (true, true) if o.retry.is_some() => "FLAKY",
            (true, true) => "ok",
            (true, false) => "xfail",
            (false, _) => "FAILED",
        };
        s += &format!(
            "{label:<width$}  {result:<6} {downtime:>9} {:>7.1}s {:>7}  {}\n",
            o.wall.as_secs_f64(),
            o.attempts,
            o.verdict.reason
        );
    }
    let failed = rows.iter().filter(|r| !r.1).count();
    let flaky: Vec<String> = rows
        .iter()
        .filter_map(|(label, _, o)| Some(format!("FLAKY {label}: {}\n", o.flaky_note()?)))
        .collect();
    s += &flaky.concat();
    s += &format!(
        "{} passed ({} of them FLAKY), {} failed; {} cases in {}m{:02}s\n",
        rows.len() - failed,
        flaky.len(),
        failed,
        rows.len(),
        wall.as_secs() / 60,
        wall.as_secs() % 60
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_marks_a_pass_after_a_retry_flaky_with_its_seed() {
        use crate::boot::tests::{outcome_of, timed_out_once, WARM_LOG};
        let rows = vec![
            ("plain".to_string(), true, outcome_of(WARM_LOG, None)),
            (
                "retried".to_string(),
                true,
                outcome_of(WARM_LOG, Some(timed_out_once())),
            ),
        ];
        let s = summary(&rows, std::time::Duration::from_secs(61));
        let row = |l: &str| s.lines().find(|x| x.starts_with(l)).unwrap().to_string();
        assert!(row("plain ").contains(" ok "), "{s}");
        assert!(row("retried ").contains(" FLAKY "), "{s}");
        assert!(s.contains("FLAKY retried: passed only on its retry"), "{s}");
        assert!(s.contains("seed 4242"), "{s}");
        assert!(s.contains("2 passed (1 of them FLAKY), 0 failed"), "{s}");
    }

    fn two() -> Pinned {
        Pinned {
            x86_64: vec!["6.1".into(), "6.12".into()],
            arm64: vec!["6.1".into(), "6.12".into()],
        }
    }

    /// The case runs one series from start to end.
    fn only(c: &Case, series: &str) -> bool {
        c.args.kernel_series.as_deref() == Some(series)
            && c.args.next_kernel_series.is_none()
            && c.args.kernel.is_none()
    }

    #[test]
    fn every_series_proves_warm_panic_and_cold_on_both_arches() {
        let p = two();
        let m = ci_matrix(&p);
        for arch in [GuestArch::X86_64, GuestArch::Arm64] {
            for series in p.of(arch) {
                for scenario in [Scenario::Warm, Scenario::Panic, Scenario::Cold] {
                    assert!(
                        m.iter().any(|c| c.args.arch == arch
                            && c.args.scenario == scenario
                            && only(c, series)
                            && c.args.next_kernel.is_none()
                            && c.must_fail.is_none()
                            && (scenario == Scenario::Cold || c.args.loader == Loader::Warmboot)),
                        "{arch:?} {series} {scenario:?} missing"
                    );
                }
            }
            // Every firmware kind for every scenario, over the series together.
            for scenario in [Scenario::Warm, Scenario::Panic, Scenario::Cold] {
                for fw in [Firmware::Bios, Firmware::Uefi] {
                    assert!(
                        m.iter().any(|c| c.args.arch == arch
                            && c.args.scenario == scenario
                            && c.args.firmware == fw
                            && c.must_fail.is_none()
                            && (scenario == Scenario::Cold || c.args.loader == Loader::Warmboot)),
                        "{arch:?} {scenario:?} {fw:?} missing"
                    );
                }
            }
        }
        // Every case names its series: none runs "whatever is oldest" by accident.
        assert!(m.iter().all(|c| c.args.kernel_series.is_some()));
    }

    #[test]
    fn every_series_proves_both_x86_syscalls_and_the_decompressed_entry() {
        let p = two();
        let m = ci_matrix(&p);
        for series in p.of(GuestArch::X86_64) {
            let x86_warm = |c: &&Case| {
                c.args.arch == GuestArch::X86_64
                    && c.args.scenario == Scenario::Warm
                    && c.args.loader == Loader::Warmboot
                    && only(c, series)
                    && c.must_fail.is_none()
            };
            for s in [Syscall::Classic, Syscall::File] {
                assert!(
                    m.iter()
                        .filter(x86_warm)
                        .any(|c| c.args.syscall.contains(&s)),
                    "x86_64 {series}: no warm {s:?}"
                );
            }
            // A kexec_load hop on the decompressed entry (the default or asked for; the
            // verdict fails a default kexec_load hop that fell back to the bzImage).
            assert!(
                m.iter()
                    .filter(x86_warm)
                    .any(|c| c.args.syscall.contains(&Syscall::Classic)
                        && matches!(
                            c.args.x86_entry,
                            None | Some(X86Entry::Auto) | Some(X86Entry::Decompressed)
                        )),
                "x86_64 {series}: no kexec_load hop on the decompressed entry"
            );
        }
        // Asked for explicitly too: decompressed on two kexec_load hops on OVMF, and the
        // bzImage entry on a kexec_load hop.
        assert!(m.iter().any(|c| c.args.arch == GuestArch::X86_64
            && c.args.x86_entry == Some(X86Entry::Decompressed)
            && c.args.firmware == Firmware::Uefi
            && c.args.hops >= 2
            && c.args.syscall.iter().all(|s| *s == Syscall::Classic)
            && c.must_fail.is_none()));
        assert!(m.iter().any(|c| c.args.arch == GuestArch::X86_64
            && c.args.scenario == Scenario::Warm
            && c.args.x86_entry == Some(X86Entry::Bzimage)
            && c.args.syscall.contains(&Syscall::Classic)
            && c.must_fail.is_none()));
        assert!(m.iter().any(|c| c.args.hops >= 2 && c.args.memory == 4096));
    }

    #[test]
    fn every_upgrade_and_downgrade_runs_warm_and_panic_on_both_arches() {
        let m = ci_matrix(&two());
        for arch in [GuestArch::X86_64, GuestArch::Arm64] {
            for (from, to) in [("6.1", "6.12"), ("6.12", "6.1")] {
                for scenario in [Scenario::Warm, Scenario::Panic] {
                    let n = m
                        .iter()
                        .filter(|c| {
                            c.args.arch == arch
                                && c.args.scenario == scenario
                                && c.args.loader == Loader::Warmboot
                                && c.args.kernel_series.as_deref() == Some(from)
                                && c.args.next_kernel_series.as_deref() == Some(to)
                                && c.must_fail.is_none()
                        })
                        .count();
                    assert_eq!(n, 1, "{arch:?} {from} -> {to} {scenario:?}");
                }
            }
        }
        // Three series: each neighbour pair both ways, nothing between 6.1 and 7.0.
        let three = Pinned {
            x86_64: vec!["6.1".into(), "6.12".into(), "7.0".into()],
            arm64: vec!["6.1".into()],
        };
        let pairs: Vec<(String, String)> = ci_matrix(&three)
            .iter()
            .filter(|c| c.args.scenario == Scenario::Warm)
            .filter_map(|c| {
                Some((
                    c.args.kernel_series.clone()?,
                    c.args.next_kernel_series.clone()?,
                ))
            })
            .collect();
        assert_eq!(pairs.len(), 4, "{pairs:?}");
        assert!(!pairs.contains(&("6.1".into(), "7.0".into())));
    }

    #[test]
    fn combinations_are_split_between_the_series_not_doubled() {
        let p = two();
        let m = ci_matrix(&p);
        let count = |arch, scenario| {
            m.iter()
                .filter(|c| {
                    c.args.arch == arch
                        && c.args.scenario == scenario
                        && c.args.loader == Loader::Warmboot
                        && c.args.next_kernel_series.is_none()
                        && c.args.next_kernel.is_none()
                        && !c.args.verify
                })
                .count()
        };
        // One series would have run the same four, two, ... combinations.
        assert_eq!(count(GuestArch::X86_64, Scenario::Warm), 4);
        assert_eq!(count(GuestArch::X86_64, Scenario::Panic), 4);
        assert_eq!(count(GuestArch::Arm64, Scenario::Warm), 4);
        assert_eq!(count(GuestArch::Arm64, Scenario::Panic), 2);
        // With one series pinned every combination runs on it.
        let single = Pinned {
            x86_64: vec!["6.1".into()],
            arm64: vec!["6.1".into()],
        };
        let one = ci_matrix(&single);
        assert!(one
            .iter()
            .all(|c| only(c, "6.1") || c.args.next_kernel.is_some()));
        assert!(one.len() < m.len());
        // The whole matrix stays within CI's time budget: ~20 s a case under TCG here.
        assert!(m.len() <= 40, "{} cases", m.len());
    }

    #[test]
    fn a_uki_warm_reboots_through_both_syscalls() {
        let m = ci_matrix(&two());
        let uki: Vec<&Case> = m
            .iter()
            .filter(|c| {
                c.args
                    .next_kernel
                    .as_ref()
                    .is_some_and(|p| p.ends_with("uki.efi"))
            })
            .collect();
        assert_eq!(uki.len(), 1);
        let a = &uki[0].args;
        assert_eq!(
            (a.arch, a.scenario, a.loader, a.hops),
            (GuestArch::X86_64, Scenario::Warm, Loader::Warmboot, 2)
        );
        assert_eq!(a.syscall, [Syscall::File, Syscall::Classic]);
        assert!(uki[0].must_fail.is_none());
    }

    #[test]
    fn the_other_cases_stay_verify_derived_kexec_tools_and_one_self_test() {
        let p = two();
        let m = ci_matrix(&p);
        // load --verify on both architectures, expected to boot.
        for arch in [GuestArch::X86_64, GuestArch::Arm64] {
            assert!(m.iter().any(|c| c.args.arch == arch
                && c.args.verify
                && !c.args.corrupt_digest
                && c.args.loader == Loader::Warmboot
                && c.must_fail.is_none()));
        }
        // --verify refusing a corrupted plan, on both architectures, must fail with the
        // purgatory's own line.
        for arch in [GuestArch::X86_64, GuestArch::Arm64] {
            assert!(m.iter().any(|c| c.args.arch == arch
                && c.args.verify
                && c.args.corrupt_digest
                && c.must_fail
                    .as_ref()
                    .is_some_and(|f| f.reason_contains == REFUSED_BY_PURGATORY)));
        }
        // The re-wrapped arm64 Images as next kernels, each from its own series' Image.
        for name in ["Image.gz", "Image.zboot"] {
            assert!(m.iter().any(|c| c.args.arch == GuestArch::Arm64
                && c.args.next_kernel.as_deref()
                    == c.args
                        .kernel_series
                        .as_deref()
                        .map(|s| derived_path(s, name))
                        .as_deref()
                && c.must_fail.is_none()));
        }
        // The reference loader warm on every arch and series.
        for arch in [GuestArch::X86_64, GuestArch::Arm64] {
            for series in p.of(arch) {
                assert!(m.iter().any(|c| c.args.arch == arch
                    && c.args.loader == Loader::KexecTools
                    && c.args.scenario == Scenario::Warm
                    && only(c, series)
                    && !c.args.break_next
                    && c.must_fail.is_none()));
            }
        }
        assert_eq!(
            m.iter()
                .filter(|c| c.must_fail.is_some() && c.args.break_next)
                .count(),
            1
        );
    }

    #[test]
    fn secure_boot_cases_prove_warm_panic_and_lockdown_with_warmboot_auto() {
        let m = secure_boot_matrix(&two());
        let got: Vec<(Scenario, Option<&str>)> = m
            .iter()
            .map(|c| (c.args.scenario, c.args.kernel_series.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (Scenario::Warm, Some("6.1")),
                (Scenario::Panic, Some("6.12")),
                (Scenario::Lockdown, Some("6.1")),
                (Scenario::Warm, Some("6.12")),
            ]
        );
        // The last one boots into the UKI; the others into the pinned kernel.
        let next: Vec<bool> = m.iter().map(|c| c.args.next_kernel.is_some()).collect();
        assert_eq!(next, [false, false, false, true]);
        assert!(m[3]
            .args
            .next_kernel
            .as_ref()
            .is_some_and(|p| p.ends_with("6.12/uki.efi")));
        for c in &m {
            assert_eq!(c.args.firmware, Firmware::Secureboot);
            assert_eq!(c.args.arch, GuestArch::X86_64);
            assert_eq!(c.args.loader, Loader::Warmboot);
            assert_eq!(c.args.syscall, [Syscall::Auto]);
            assert!(c.must_fail.is_none());
            assert_eq!(c.args.timeout, SECURE_BOOT_TIMEOUT);
        }
        // The main matrix stays without them.
        assert!(ci_matrix(&two())
            .iter()
            .all(|c| c.args.firmware != Firmware::Secureboot));
    }
}
