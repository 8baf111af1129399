//! `cargo xtask bench`: how long each kind of reboot keeps a machine down, measured on
//! real kernels in QEMU. Runs every variant (variants.rs) interleaved round by round,
//! splits each downtime into phases (phases.rs), and writes report.md (report.rs),
//! results.json and downtime.svg (chart.rs).

pub mod ab;
pub mod chart;
pub mod check;
pub mod phases;
pub mod report;
pub mod service;
pub mod stats;
pub mod variants;

use crate::boot::{self, Outcome};
use crate::cmd::Cmd;
use crate::error::{Error, Result};
use crate::matrix::Pinned;
use crate::qemu::{Accel, GuestArch};
use crate::serial::markers;
use report::{Environment, Results, Sample};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use variants::{arch_name, firmware_name, scenario_name, Variant};

/// Which architectures to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ArchChoice {
    #[value(name = "x86_64")]
    X86_64,
    #[value(name = "arm64")]
    Arm64,
    All,
}

/// Which suites `bench` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Suite {
    /// A minimal initramfs guest: the reboot request to the new kernel's init.
    Kernel,
    /// A Debian systemd guest: the reboot request to sshd answering again (service/).
    Service,
    All,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The suite to run: `kernel` (report in --out), `service` (in --out/service), or
    /// both.
    #[arg(long, value_enum, default_value = "all")]
    pub suite: Suite,
    #[arg(long, value_enum, default_value = "all")]
    pub arch: ArchChoice,
    /// Measured runs per variant (after the warm-up runs).
    #[arg(long, default_value_t = 5)]
    pub runs: u32,
    /// Warm-up runs per variant, recorded but left out of the statistics.
    #[arg(long, default_value_t = 1)]
    pub warmup: u32,
    /// Where report.md, results.json and downtime.svg go (default: target/bench).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Only these variants (ids such as warm-warmboot-classic on every series, arch/id, or
    /// arch/series/id), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub variants: Vec<String>,
    /// The pinned kernel series to measure (`6.1,6.12`), comma-separated; default every
    /// series kernels.json pins for the architecture. Every variant runs on each.
    #[arg(long, value_name = "SERIES", value_delimiter = ',')]
    pub kernel_series: Vec<String>,
    /// Measure this kernel file (any Debian kernel, e.g. boot/vmlinuz-<release> from a
    /// linux-image .deb) instead of the pinned series: every variant of its architecture
    /// boots it first and next; the report names it by its release.
    #[arg(long, value_name = "PATH", conflicts_with = "kernel_series")]
    pub kernel: Option<PathBuf>,
    /// CI's smoke test: after writing, fail unless the three files are there, results.json
    /// parses, every variant has a passing measured sample on every series it ran, every
    /// passing measured sample has all its phases (adding up to its downtime), and a
    /// known-broken variant failed for its known reason only (a pass fails the check).
    #[arg(long)]
    pub check: bool,
}

impl ArchChoice {
    fn arches(self) -> Vec<GuestArch> {
        match self {
            ArchChoice::X86_64 => vec![GuestArch::X86_64],
            ArchChoice::Arm64 => vec![GuestArch::Arm64],
            ArchChoice::All => vec![GuestArch::X86_64, GuestArch::Arm64],
        }
    }
}

/// The series `args` measures on `arch`: `--kernel-series` (each must be pinned for it),
/// else every pinned series.
pub fn series_for(args: &Args, arch: GuestArch, pinned: &Pinned) -> Result<Vec<String>> {
    let have = pinned.of(arch);
    if args.kernel_series.is_empty() {
        return Ok(have.to_vec());
    }
    for s in &args.kernel_series {
        if !have.contains(s) {
            return Err(Error::Bench {
                reason: format!(
                    "{} has no pinned kernel series {s} (pinned: {})",
                    arch_name(arch),
                    have.join(", ")
                ),
            });
        }
    }
    // In the order kernels.json pins them (oldest first), whatever the command line's.
    Ok(have
        .iter()
        .filter(|s| args.kernel_series.contains(s))
        .cloned()
        .collect())
}

/// The architecture of the kernel file `path`, read by warmboot's own parser.
pub fn kernel_arch(path: &Path) -> Result<GuestArch> {
    let data = std::fs::read(path).map_err(Error::io(path))?;
    let image = warmboot::image::KernelImage::parse(&data).map_err(|e| Error::Bench {
        reason: format!("{}: {e}", path.display()),
    })?;
    Ok(match image.arch() {
        warmboot::arch::Arch::X86_64 => GuestArch::X86_64,
        warmboot::arch::Arch::Arm64 => GuestArch::Arm64,
        warmboot::arch::Arch::Riscv64 => {
            return Err(Error::Bench {
                reason: format!(
                    "{}: a riscv64 kernel; the bench has no riscv64 guests yet",
                    path.display()
                ),
            })
        }
    })
}

/// The variants of `arch` on the kernel file `path`, named by the series of its release
/// (`custom` when it has none).
pub fn file_variants(arch: GuestArch, path: &Path) -> Vec<Variant> {
    let series = boot::Kernel::file(path.to_path_buf())
        .release
        .and_then(|r| crate::index::series_of(&r))
        .unwrap_or_else(|| "custom".into());
    variants::variants(arch, &series)
        .into_iter()
        .map(|v| Variant {
            kernel: Some(path.to_path_buf()),
            ..v
        })
        .collect()
}

/// The variants `args` selects, over every architecture and series it names (or, with
/// `--kernel`, of that file's architecture on that file).
pub fn selected(args: &Args, pinned: &Pinned) -> Result<Vec<Variant>> {
    if let Some(path) = &args.kernel {
        let arch = kernel_arch(path)?;
        if !args.arch.arches().contains(&arch) {
            return Err(Error::Bench {
                reason: format!(
                    "{} is an {} kernel, not one of --arch",
                    path.display(),
                    arch_name(arch)
                ),
            });
        }
        return variants::select(file_variants(arch, path), &args.variants)
            .map_err(|reason| Error::Bench { reason });
    }
    let mut all = Vec::new();
    for arch in args.arch.arches() {
        for series in series_for(args, arch, pinned)? {
            all.extend(variants::variants(arch, &series));
        }
    }
    variants::select(all, &args.variants).map_err(|reason| Error::Bench { reason })
}

pub fn run(root: &Path, args: &Args) -> Result<()> {
    if args.runs == 0 {
        return Err(Error::Bench {
            reason: "--runs must be at least 1".into(),
        });
    }
    // The service suite measures x86_64 on the e2e tree's kernel: with `all`, it runs
    // when the arguments allow it and says why not otherwise.
    let service = match (
        args.suite,
        service::selected(
            args.kernel.is_some(),
            args.arch.arches().contains(&GuestArch::X86_64),
            &args.variants,
        ),
    ) {
        (Suite::Kernel, _) => None,
        (_, Ok(list)) => Some(list),
        (Suite::Service, Err(reason)) => return Err(Error::Bench { reason }),
        (Suite::All, Err(reason)) => {
            println!("bench: service suite skipped: {reason}");
            None
        }
    };
    if args.suite != Suite::Service {
        run_kernel_suite(root, args)?;
    }
    if let Some(list) = service {
        let for_env = args.clone();
        let env_root = root.to_path_buf();
        let options = service::Options {
            runs: args.runs,
            warmup: args.warmup,
            out: args
                .out
                .clone()
                .unwrap_or_else(|| root.join("target/bench")),
            kernel_series: args.kernel_series.clone(),
            check: args.check,
            load_average,
            environment: Box::new(move |kernels, host_load| {
                environment(&env_root, &for_env, &[], &[], kernels, host_load)
            }),
            command: format!(
                "cargo xtask bench --suite service --runs {} --warmup {}{}{}",
                args.runs,
                args.warmup,
                if args.variants.is_empty() {
                    String::new()
                } else {
                    format!(" --variants {}", args.variants.join(","))
                },
                if args.check { " --check" } else { "" }
            ),
        };
        service::run(root, &options, &list)?;
    }
    Ok(())
}

/// The kernel suite: every variant of variants.rs on the minimal initramfs guest.
fn run_kernel_suite(root: &Path, args: &Args) -> Result<()> {
    crate::images::prepare(root)?;
    let cache = crate::cache::Cache::from_env()?;
    let list = selected(args, &Pinned::load(&cache)?)?;
    // The release of every series measured, for the samples and the report.
    let mut kernels = BTreeMap::new();
    for v in &list {
        let key = format!("{}/{}", arch_name(v.arch), v.series);
        if let std::collections::btree_map::Entry::Vacant(e) = kernels.entry(key) {
            let k = match &v.kernel {
                Some(path) => boot::Kernel::file(path.clone()),
                None => boot::pinned(&cache, v.arch, Some(&v.series))?,
            };
            e.insert(k.release.unwrap_or_default());
        }
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| root.join("target/bench"));
    let load_at_start = load_average();
    let rounds = args.warmup + args.runs;
    let total = u64::from(rounds) * list.len() as u64;
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} runs, eta {eta}  {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(500));
    let mut samples = Vec::new();
    for round in 0..rounds {
        let warmup = round < args.warmup;
        for v in variants::round_order(&list, round as usize) {
            bar.set_message(format!(
                "round {}{}: {}",
                round,
                if warmup { " (warm-up)" } else { "" },
                v.label()
            ));
            let mut sample = match boot::run_scenario(root, &v.args()) {
                Ok(outcome) => sample_of(root, &v, round, warmup, &outcome),
                Err(e) => failed_sample(&v, round, warmup, e.to_string()),
            };
            sample.kernel = kernels
                .get(&format!("{}/{}", arch_name(v.arch), v.series))
                .cloned()
                .unwrap_or_default();
            let line = progress_line(&sample, &v);
            // A hidden bar (output not a terminal, as in CI) prints nothing: print plainly.
            if bar.is_hidden() {
                println!("{line}");
            } else {
                bar.println(line);
            }
            samples.push(sample);
            bar.inc(1);
        }
    }
    bar.finish_with_message("done");
    let host_load = format!("start {load_at_start}, end {}", load_average());
    let environment = environment(root, args, &list, &samples, kernels, host_load)?;
    let arches = args.arch.arches();
    let results = Results {
        environment,
        optimisations: ab::optimisations(&samples, &arches),
        goals: ab::goals(&samples, &arches),
        load_goals: ab::load_goals(&samples, &arches),
        samples,
    };
    write_outputs(&out, &results)?;
    for set in report::sets(&results.samples) {
        println!(
            "\n{} summary\n\n{}",
            set.name(),
            report::table(&results.samples, &set)
        );
    }
    println!(
        "\n{}",
        ab::render(&results.optimisations, &results.goals, &results.load_goals)
    );
    println!("bench: wrote {}", out.display());
    if args.check {
        check::check_outputs(&out, &list)?;
        println!(
            "bench: check passed: every variant has its samples, every passing one all its \
             phases, and every known-broken one failed for its known reason"
        );
    }
    Ok(())
}

/// The 1, 5 and 15 minute load averages of the host.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

/// One line per run. A known-broken variant's run is `xfail` only when it failed for its
/// known reason; a pass or another failure is shown as `XPASS` or `FAILED`, as `--check`
/// will judge it.
fn progress_line(s: &Sample, v: &Variant) -> String {
    let what = format!(
        "{}/{}/{} run {}{}",
        s.arch,
        s.series,
        s.id,
        s.run,
        if s.warmup { " (warm-up)" } else { "" }
    );
    let known = v
        .known_broken
        .as_ref()
        .and_then(|k| check::known_broken_problem(k, s));
    match (s.ok, s.downtime_s) {
        (true, Some(d)) => format!(
            "{} {what}: downtime {d:.2}s{}{}{}",
            match (known.is_some(), s.flaky.is_some()) {
                (true, _) => "XPASS ",
                (false, true) => "FLAKY ",
                (false, false) => "ok    ",
            },
            s.handoff_s
                .map(|h| format!(
                    " (shutdown {:.2}, handoff {h:.2}, boot {:.2})",
                    s.shutdown_s.unwrap_or(0.0),
                    s.boot_s.unwrap_or(0.0)
                ))
                .unwrap_or_default(),
            s.failure
                .as_deref()
                .map(|f| format!(" [{f}]"))
                .unwrap_or_default(),
            known.map(|k| format!(" [{k}]")).unwrap_or_default()
        ),
        _ => format!(
            "{} {what}: {} (log {}){}",
            if v.known_broken.is_some() && known.is_none() {
                "xfail "
            } else {
                "FAILED"
            },
            s.failure.as_deref().unwrap_or("failed"),
            s.log,
            known.map(|k| format!(" [{k}]")).unwrap_or_default()
        ),
    }
}

fn base_sample(v: &Variant, round: u32, warmup: bool) -> Sample {
    Sample {
        arch: arch_name(v.arch).into(),
        series: v.series.clone(),
        kernel: String::new(),
        id: v.id.into(),
        scenario: scenario_name(v.scenario).into(),
        loader: v.loader_name().into(),
        variant: v.name.into(),
        firmware: firmware_name(v.arch, v.firmware).into(),
        run: round,
        warmup,
        ok: false,
        failure: None,
        known_broken: v.known_broken.map(|k| k.why.to_string()),
        downtime_s: None,
        shutdown_s: None,
        handoff_s: None,
        boot_s: None,
        load_s: None,
        loader_hwm_kib: None,
        attempts: 0,
        seed: None,
        flaky: None,
        accel: String::new(),
        log: String::new(),
    }
}

fn failed_sample(v: &Variant, round: u32, warmup: bool, reason: String) -> Sample {
    let mut s = base_sample(v, round, warmup);
    s.failure = Some(reason);
    s
}

/// A sample from a finished run: the verdict, the phases cut from the same log, the
/// load time and the loader's peak memory from the `load-done` marker.
pub fn sample_of(root: &Path, v: &Variant, round: u32, warmup: bool, o: &Outcome) -> Sample {
    let mut s = base_sample(v, round, warmup);
    s.ok = o.verdict.passed;
    s.attempts = o.attempts;
    s.seed = Some(o.seed);
    s.flaky = o.flaky_note();
    s.accel = match o.accel {
        Accel::Tcg => "tcg",
        Accel::Kvm => "kvm",
    }
    .into();
    let log = o.run_dir.join(crate::guest::SERIAL_LOG);
    s.log = log.strip_prefix(root).unwrap_or(&log).display().to_string();
    if !o.verdict.passed {
        s.failure = Some(o.verdict.reason.clone());
        return s;
    }
    s.downtime_s = o.verdict.downtimes.first().map(|d| d.as_secs_f64());
    s.load_s = o.verdict.load_secs.first().copied();
    s.loader_hwm_kib = markers(&o.log)
        .iter()
        .find(|m| m.event == "load-done")
        .and_then(|m| m.get("hwm_kib"))
        .and_then(|k| k.parse().ok());
    match phases::split(&o.log, variants::how(v.scenario)) {
        Ok(p) => {
            s.shutdown_s = Some(p.shutdown.as_secs_f64());
            s.handoff_s = Some(p.handoff.as_secs_f64());
            s.boot_s = Some(p.boot.as_secs_f64());
        }
        Err(e) => s.failure = Some(format!("passed, but no phases: {e}")),
    }
    s
}

fn environment(
    root: &Path,
    args: &Args,
    list: &[Variant],
    samples: &[Sample],
    kernels: BTreeMap<String, String>,
    host_load: String,
) -> Result<Environment> {
    let mut qemu = BTreeMap::new();
    for arch in args.arch.arches() {
        if !list.iter().any(|v| v.arch == arch) {
            continue;
        }
        let bin = arch.qemu_binary();
        let version = Cmd::new(bin)
            .arg("--version")
            .try_read()?
            .and_then(|t| t.lines().next().map(str::to_string))
            .unwrap_or_else(|| "unknown".into());
        qemu.insert(bin.to_string(), version);
    }
    let mut accel: Vec<String> = samples
        .iter()
        .filter(|s| !s.accel.is_empty())
        .map(|s| s.accel.clone())
        .collect();
    accel.sort();
    accel.dedup();
    let read = |cmd: Cmd| -> Result<String> {
        Ok(cmd
            .try_read()?
            .map(|t| t.trim().to_string())
            .unwrap_or_else(|| "unknown".into()))
    };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let host = format!(
        "{}, {cpu}, {cpus} CPUs",
        read(Cmd::new("uname").args(["-sr"]))?
    );
    let mut git_revision = read(
        Cmd::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .cwd(root),
    )?;
    let changes = Cmd::new("git")
        .args(["status", "--porcelain"])
        .cwd(root)
        .try_read()?;
    if changes.is_some_and(|c| !c.trim().is_empty()) {
        git_revision += " (with uncommitted changes)";
    }
    let date = read(Cmd::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]))?;
    let mut command = format!(
        "cargo xtask bench{} --arch {} --runs {} --warmup {}",
        match args.suite {
            Suite::Kernel => " --suite kernel",
            Suite::Service => " --suite service",
            Suite::All => "",
        },
        match args.arch {
            ArchChoice::X86_64 => "x86_64",
            ArchChoice::Arm64 => "arm64",
            ArchChoice::All => "all",
        },
        args.runs,
        args.warmup
    );
    if !args.kernel_series.is_empty() {
        command += &format!(" --kernel-series {}", args.kernel_series.join(","));
    }
    if let Some(k) = &args.kernel {
        command += &format!(" --kernel {}", k.display());
    }
    if !args.variants.is_empty() {
        command += &format!(" --variants {}", args.variants.join(","));
    }
    if args.check {
        command += " --check";
    }
    Ok(Environment {
        qemu,
        accel,
        kernels,
        host,
        host_load,
        git_revision,
        date,
        command,
        runs: args.runs,
        warmup: args.warmup,
    })
}

/// The three files of a bench run.
pub use report::{CHART, REPORT, RESULTS};

fn write_outputs(out: &Path, results: &Results) -> Result<()> {
    std::fs::create_dir_all(out).map_err(Error::io(out))?;
    let write = |name: &str, text: String| {
        let p = out.join(name);
        std::fs::write(&p, text).map_err(Error::io(&p))
    };
    write(
        REPORT,
        report::render(
            results,
            &ab::render(&results.optimisations, &results.goals, &results.load_goals),
        ),
    )?;
    let json = serde_json::to_string_pretty(results).map_err(|source| Error::Json {
        path: out.join(RESULTS),
        source,
    })?;
    write(RESULTS, json + "\n")?;
    let svg = chart::render(&chart::bars(&results.samples)).map_err(|reason| Error::Bench {
        reason: format!("drawing {CHART}: {reason}"),
    })?;
    write(CHART, svg)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boot::{Outcome, Scenario};
    use crate::serial::parse_saved_log;
    use crate::verdict::{judge, Expectation};

    fn outcome(name: &str, expect: Expectation) -> Outcome {
        let path = format!("{}/testdata/{name}.log", env!("CARGO_MANIFEST_DIR"));
        let log = parse_saved_log(&std::fs::read_to_string(path).unwrap());
        Outcome {
            label: name.into(),
            verdict: judge(expect, &log),
            accel: Accel::Tcg,
            attempts: 1,
            wall: std::time::Duration::ZERO,
            run_dir: PathBuf::from("/r/target/xtask/runs/x"),
            log,
            seed: 7,
            retry: None,
        }
    }

    fn variant(arch: GuestArch, id: &str) -> Variant {
        variants::variants(arch, "6.1")
            .into_iter()
            .find(|v| v.id == id)
            .unwrap()
    }

    #[test]
    fn a_captured_arm64_warm_reboot_becomes_a_sample_with_phases_load_and_memory() {
        let v = variant(GuestArch::Arm64, "warm-warmboot-classic");
        assert_eq!(v.scenario, Scenario::Warm);
        let o = outcome(
            "bench-arm64-direct-warm-warmboot",
            Expectation::Warm {
                hops: 1,
                x86_entry: None,
            },
        );
        let s = sample_of(Path::new("/r"), &v, 1, false, &o);
        assert!(s.ok, "{:?}", s.failure);
        assert_eq!(s.failure, None);
        assert_eq!(s.log, "target/xtask/runs/x/serial.log");
        // reboot-request 4.602312, "Starting new kernel" 4.617808, "Booting Linux on
        // physical CPU" 4.755938, ready 12.495954.
        let close = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-6;
        assert!(close(s.downtime_s, 12.495954 - 4.602312), "{s:?}");
        assert!(close(s.shutdown_s, 4.617808 - 4.602312), "{s:?}");
        assert!(close(s.handoff_s, 4.755938 - 4.617808), "{s:?}");
        assert!(close(s.boot_s, 12.495954 - 4.755938), "{s:?}");
        assert!(close(s.load_s, 3.57 - 2.30), "{s:?}");
        assert_eq!(s.loader_hwm_kib, Some(206068));
        assert_eq!(
            (s.scenario.as_str(), s.variant.as_str()),
            ("warm", "classic")
        );
        assert_eq!(s.firmware, "direct");
    }

    #[test]
    fn a_quiet_log_passes_but_says_why_it_has_no_phases() {
        let v = variant(GuestArch::X86_64, "warm-kexec-tools");
        let o = outcome(
            "x86_64-bios-warm-kexec-tools",
            Expectation::Warm {
                hops: 1,
                x86_entry: None,
            },
        );
        let s = sample_of(Path::new("/r"), &v, 0, true, &o);
        assert!(s.ok && s.downtime_s.is_some());
        assert_eq!(s.handoff_s, None);
        assert!(
            s.failure.as_deref().unwrap_or("").contains("no phases"),
            "{:?}",
            s.failure
        );
    }

    #[test]
    fn every_pinned_series_unless_some_are_named() {
        let pinned = Pinned {
            x86_64: vec!["6.1".into(), "6.12".into()],
            arm64: vec!["6.1".into(), "6.12".into()],
        };
        let mut args = Args {
            suite: Suite::All,
            arch: ArchChoice::Arm64,
            runs: 1,
            warmup: 0,
            out: None,
            variants: vec!["cold-uefi".into()],
            kernel_series: Vec::new(),
            kernel: None,
            check: false,
        };
        let series = |args: &Args| -> Vec<String> {
            selected(args, &pinned)
                .unwrap()
                .iter()
                .map(|v| v.label())
                .collect()
        };
        assert_eq!(
            series(&args),
            ["arm64/6.1/cold-uefi", "arm64/6.12/cold-uefi"]
        );
        args.kernel_series = vec!["6.12".into(), "6.1".into()];
        assert_eq!(
            series(&args),
            ["arm64/6.1/cold-uefi", "arm64/6.12/cold-uefi"]
        );
        args.kernel_series = vec!["6.12".into()];
        assert_eq!(series(&args), ["arm64/6.12/cold-uefi"]);
        args.kernel_series = vec!["5.10".into()];
        let e = selected(&args, &pinned).unwrap_err().to_string();
        assert!(
            e.ends_with("arm64 has no pinned kernel series 5.10 (pinned: 6.1, 6.12)"),
            "{e}"
        );
    }

    #[test]
    fn a_kernel_file_runs_every_variant_of_its_architecture_on_that_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vmlinuz-6.12.119+deb13-arm64");
        let image = warmboot::synth::arm64::Arm64Builder::default().build();
        std::fs::write(&path, &image).unwrap();
        let pinned = Pinned {
            x86_64: vec!["6.1".into()],
            arm64: vec!["6.1".into()],
        };
        let mut args = Args {
            suite: Suite::All,
            arch: ArchChoice::All,
            runs: 1,
            warmup: 0,
            out: None,
            variants: Vec::new(),
            kernel_series: Vec::new(),
            kernel: Some(path.clone()),
            check: false,
        };
        let list = selected(&args, &pinned).unwrap();
        assert_eq!(
            list.len(),
            variants::variants(GuestArch::Arm64, "6.12").len()
        );
        for v in &list {
            assert_eq!((v.arch, v.series.as_str()), (GuestArch::Arm64, "6.12"));
            let a = v.args();
            assert_eq!(a.kernel.as_deref(), Some(path.as_path()));
            assert_eq!((a.kernel_series, a.next_kernel_series), (None, None));
        }
        // Without a vmlinuz-<release> name, the release in the image names the series.
        let other = dir.path().join("Image");
        std::fs::write(&other, &image).unwrap();
        assert!(file_variants(GuestArch::Arm64, &other)
            .iter()
            .all(|v| v.series == "6.1"));
        args.arch = ArchChoice::X86_64;
        let e = selected(&args, &pinned).unwrap_err().to_string();
        assert!(e.contains("is an arm64 kernel, not one of --arch"), "{e}");
        args.kernel = Some(dir.path().join("missing"));
        assert!(selected(&args, &pinned).is_err());
    }
}
