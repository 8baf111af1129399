//! The bench's results (`results.json`: the environment and every raw sample) and the
//! readable report (`report.md`) rendered from them. Pure: values in, text out.

use super::ab::{AbResult, GoalResult};
use super::stats::{summarize, Summary};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Where and how the samples were taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// `qemu-system-*` binary -> its `--version` first line.
    pub qemu: BTreeMap<String, String>,
    /// Accelerators the runs used (tcg, kvm).
    pub accel: Vec<String>,
    /// Architecture -> the kernel release the guests ran (`uname -r` in the guest).
    pub kernels: BTreeMap<String, String>,
    pub host: String,
    /// The host's load averages (/proc/loadavg) when the bench started and ended: other
    /// guests or builds on the host slow every variant and widen the spread.
    pub host_load: String,
    pub git_revision: String,
    pub date: String,
    /// The command that produced the results.
    pub command: String,
    pub runs: u32,
    pub warmup: u32,
}

/// One reboot of one variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub arch: String,
    /// The variant's id within its architecture (`--variants` takes it).
    pub id: String,
    /// cold | warm | panic
    pub scenario: String,
    /// warmboot | kexec-tools | firmware
    pub loader: String,
    /// file | classic (warmboot's syscall), default | no-verify (kexec-tools), reset (cold)
    pub variant: String,
    /// bios | direct | uefi
    pub firmware: String,
    /// Round number, from 0; rounds before `environment.warmup` are warm-up runs.
    pub run: u32,
    pub warmup: bool,
    pub ok: bool,
    /// Why the run failed (the verdict's reason), or why its phases could not be split.
    pub failure: Option<String>,
    /// Set when the variant is known to fail on this kernel, with the reason.
    pub known_broken: Option<String>,
    pub downtime_s: Option<f64>,
    /// Reboot request -> the old kernel's last console line.
    pub shutdown_s: Option<f64>,
    /// -> the new kernel's first line ("Linux version"): firmware, purgatory, decompression.
    pub handoff_s: Option<f64>,
    /// -> the new kernel's init ready marker.
    pub boot_s: Option<f64>,
    /// Guest-measured duration of the load (`warmboot load` / `kexec -l|-p`).
    pub load_s: Option<f64>,
    /// The loader's peak resident memory (VmHWM, sampled every ~20 ms by the guest's init).
    pub loader_hwm_kib: Option<u64>,
    pub attempts: u32,
    pub accel: String,
    /// The serial log of the run, relative to the workspace root.
    pub log: String,
}

/// The whole of `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    pub environment: Environment,
    pub samples: Vec<Sample>,
    /// Each optimisation off and on in this run (ab.rs).
    #[serde(default)]
    pub optimisations: Vec<AbResult>,
    /// warmboot against kexec-tools' default, per architecture (ab.rs).
    #[serde(default)]
    pub goals: Vec<GoalResult>,
}

/// What goes into the statistics: measured rounds that passed.
pub fn counted(s: &Sample) -> bool {
    s.ok && !s.warmup
}

/// The variants in the order they first appear (arch, id).
fn groups(samples: &[Sample]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut sorted: Vec<&Sample> = samples.iter().collect();
    // Round 0 runs every variant in the declared order, so (run, position) is that order.
    sorted.sort_by_key(|s| s.run);
    for s in sorted {
        let k = (s.arch.clone(), s.id.clone());
        if !out.contains(&k) {
            out.push(k);
        }
    }
    out
}

/// Summary of one field over the counted samples of a variant.
pub fn field_summary(
    samples: &[Sample],
    arch: &str,
    id: &str,
    f: impl Fn(&Sample) -> Option<f64>,
) -> Option<Summary> {
    let xs: Vec<f64> = samples
        .iter()
        .filter(|s| s.arch == arch && s.id == id && counted(s))
        .filter_map(f)
        .collect();
    summarize(&xs)
}

fn secs(s: Option<Summary>) -> String {
    s.map(|s| format!("{:.2}", s.median))
        .unwrap_or_else(|| "-".into())
}

fn spread(s: Option<Summary>) -> String {
    match s {
        None => "- | - | -".into(),
        Some(s) => {
            let sd =
                s.sd.map(|d| format!("{d:.2}"))
                    .unwrap_or_else(|| "-".into());
            format!("**{:.2}** | {:.2}–{:.2} | {sd}", s.median, s.min, s.max)
        }
    }
}

/// The variant's first sample, for its descriptive columns.
fn first<'a>(samples: &'a [Sample], arch: &str, id: &str) -> Option<&'a Sample> {
    samples.iter().find(|s| s.arch == arch && s.id == id)
}

/// The summary table of one architecture (also pasted into the README).
pub fn table(samples: &[Sample], arch: &str) -> String {
    let mut t = String::from(
        "| variant | scenario | loader | option | firmware | ok/runs | downtime s (median) | min–max | sd | shutdown | handoff | boot | load s | loader peak MiB |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (a, id) in groups(samples).iter().filter(|(a, _)| a == arch) {
        let Some(s0) = first(samples, a, id) else {
            continue;
        };
        let measured: Vec<&Sample> = samples
            .iter()
            .filter(|s| &s.arch == a && &s.id == id && !s.warmup)
            .collect();
        let ok = measured.iter().filter(|s| s.ok).count();
        let sum = |f: fn(&Sample) -> Option<f64>| field_summary(samples, a, id, f);
        let hwm = sum(|s| s.loader_hwm_kib.map(|k| k as f64 / 1024.0));
        let _ = writeln!(
            t,
            "| {id} | {} | {} | {} | {} | {ok}/{} | {} | {} | {} | {} | {} | {} |",
            s0.scenario,
            s0.loader,
            s0.variant,
            s0.firmware,
            measured.len(),
            spread(sum(|s| s.downtime_s)),
            secs(sum(|s| s.shutdown_s)),
            secs(sum(|s| s.handoff_s)),
            secs(sum(|s| s.boot_s)),
            secs(sum(|s| s.load_s)),
            hwm.map(|h| format!("{:.1}", h.median))
                .unwrap_or_else(|| "-".into()),
        );
    }
    t
}

fn median_of(samples: &[Sample], arch: &str, id: &str) -> Option<f64> {
    field_summary(samples, arch, id, |s| s.downtime_s).map(|s| s.median)
}

/// The ratios that matter, per architecture: each warm and panic variant against the cold
/// reboot through the same firmware, and warmboot against kexec-tools for the same
/// scenario and firmware.
pub fn ratios(samples: &[Sample], arch: &str) -> String {
    let mut out = String::new();
    let vs: Vec<&Sample> = groups(samples)
        .iter()
        .filter(|(a, _)| a == arch)
        .filter_map(|(a, id)| first(samples, a, id))
        .collect();
    let colds: Vec<&&Sample> = vs.iter().filter(|s| s.scenario == "cold").collect();
    let warms: Vec<&&Sample> = vs.iter().filter(|s| s.scenario != "cold").collect();
    for c in &colds {
        let Some(cm) = median_of(samples, arch, &c.id) else {
            continue;
        };
        for w in warms.iter().filter(|w| w.firmware == c.firmware) {
            if let Some(wm) = median_of(samples, arch, &w.id) {
                let _ = writeln!(
                    out,
                    "- {} ({}) / {} ({}): {:.2}",
                    w.id,
                    w.firmware,
                    c.id,
                    c.firmware,
                    wm / cm
                );
            }
        }
    }
    for w in vs.iter().filter(|s| s.loader == "warmboot") {
        for k in vs.iter().filter(|s| {
            s.loader == "kexec-tools" && s.scenario == w.scenario && s.firmware == w.firmware
        }) {
            match (
                median_of(samples, arch, &w.id),
                median_of(samples, arch, &k.id),
            ) {
                (Some(a), Some(b)) => {
                    let _ = writeln!(out, "- {} / {}: {:.2}", w.id, k.id, a / b);
                }
                _ => {
                    let _ = writeln!(
                        out,
                        "- {} / {}: no ratio (a side has no passing sample)",
                        w.id, k.id
                    );
                }
            }
        }
    }
    if out.is_empty() {
        out = "- none (no pair with passing samples)\n".into();
    }
    out
}

/// Every failed measured or warm-up sample, with its reason.
fn failures(samples: &[Sample]) -> String {
    let mut out = String::new();
    // Passing runs whose phases could not be cut carry a note too; their downtime counts.
    for s in samples.iter().filter(|s| !s.ok || s.failure.is_some()) {
        let _ = writeln!(
            out,
            "- {}/{} run {}{}{}: {}{} (log `{}`)",
            s.arch,
            s.id,
            s.run,
            if s.warmup { " (warm-up)" } else { "" },
            if s.ok { " (passed)" } else { "" },
            s.failure.as_deref().unwrap_or("no reason recorded"),
            s.known_broken
                .as_deref()
                .map(|k| format!(" — known broken: {k}"))
                .unwrap_or_default(),
            s.log
        );
    }
    if out.is_empty() {
        out = "- none\n".into();
    }
    out
}

/// The text of report.md.
pub fn render(results: &Results) -> String {
    let env = &results.environment;
    let samples = &results.samples;
    let mut r = String::from("# warmboot downtime benchmark\n\n");
    let _ = writeln!(
        r,
        "Downtime = host time from the guest's reboot request to the new kernel's init \
         marker, on real Debian kernels in QEMU, {} measured run(s) per variant after {} \
         warm-up run(s), variants interleaved (rotated each round) so host noise hits all \
         alike. Seconds; median, min–max and sample standard deviation over the passing \
         measured runs. Phases (medians) are cut at serial lines stamped on the host: \
         shutdown = request → the old kernel's last line; handoff → the new kernel's \
         first line (its \"Linux version\" banner, or the line just before it on arm64): \
         firmware, purgatory, decompression; boot → init marker. Load is the loader's run \
         time measured in the guest; loader peak is its VmHWM.\n",
        env.runs, env.warmup
    );
    let arches: Vec<String> = {
        let mut a: Vec<String> = Vec::new();
        for (arch, _) in groups(samples) {
            if !a.contains(&arch) {
                a.push(arch);
            }
        }
        a
    };
    for arch in &arches {
        let kernel = env
            .kernels
            .get(arch)
            .map(String::as_str)
            .unwrap_or("unknown kernel");
        let _ = writeln!(r, "## {arch} ({kernel})\n");
        r += &table(samples, arch);
        r += "\nRatios of median downtimes:\n\n";
        r += &ratios(samples, arch);
        r += "\n";
    }
    r += &super::ab::render(&results.optimisations, &results.goals);
    r += "\n## Failed runs\n\nFailed runs are listed here and left out of the statistics \
          (a passing run without phases counts for the downtime only).\n\n";
    r += &failures(samples);
    r += "\n## What emulation changes\n\n";
    r += "These guests run under QEMU; with TCG (no hardware virtualisation) every \
          instruction is translated, so CPU-bound steps — decompressing the kernel, \
          kexec-tools' purgatory hashing the segments with SHA-256 (`-i` skips it), the \
          crypto self-tests of a booting kernel — take many times longer than on hardware. \
          Firmware, on the other hand, is fast here: SeaBIOS, OVMF and edk2 find no real \
          devices to train or probe, while real servers spend from tens of seconds to \
          minutes in firmware on each cold reboot, exactly the phase a warm reboot skips. \
          So the warm/cold ratios here understate what kexec saves on a real server; the \
          warmboot/kexec-tools ratios compare work both loaders do on the same emulated CPU. \
          To cut the phases the guests print kernel messages from the first line \
          (`earlycon`, `loglevel=6` instead of `quiet`); writing to the emulated serial port \
          costs time, the same for every variant. Warm and panic reboots run on BIOS \
          (x86_64) or direct kernel boot (arm64), plus one warmboot warm reboot on UEFI; \
          ratios pair variants on the same firmware. On arm64 the kernel also pays an \
          emulation-only slowdown after a warm reboot: code in pages where the old kernel's \
          code ran stays slow under TCG (measured, see the project's QEMU notes); it lands in the \
          boot phase and varies from run to run, so an A/B pair on arm64 is best read in \
          the phase that shrank. On x86_64 warmboot's default entry decompresses the kernel \
          and picks its KASLR offset at load time, while the machine still runs: the \
          handoff loses the decompression and the load gains it (the A/B pair shows both). \
          Debian's \
          arm64 kernel has no kexec_file_load (KEXEC_FILE is not set, the call returns \
          ENOSYS), so warmboot's `file` variant is not offered there. The loader's peak \
          memory is VmHWM sampled every ~20 ms by the guest's init while the loader runs \
          (a short final peak can be missed; the sampling shares the one vCPU).\n\n";
    r += "## Environment\n\n";
    for (bin, v) in &env.qemu {
        let _ = writeln!(r, "- {bin}: {v}");
    }
    let _ = writeln!(r, "- accelerator: {}", env.accel.join(", "));
    for (arch, k) in &env.kernels {
        let _ = writeln!(r, "- {arch} kernel: {k}");
    }
    let _ = writeln!(r, "- host: {}", env.host);
    let _ = writeln!(r, "- host load: {}", env.host_load);
    let _ = writeln!(r, "- git revision: {}", env.git_revision);
    let _ = writeln!(r, "- date: {}", env.date);
    let _ = writeln!(r, "- command: `{}`", env.command);
    r
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::qemu::GuestArch;

    /// A fixed sample, varied by the tests.
    pub fn sample(arch: &str, id: &str, scenario: &str, loader: &str, run: u32) -> Sample {
        Sample {
            arch: arch.into(),
            id: id.into(),
            scenario: scenario.into(),
            loader: loader.into(),
            variant: "default".into(),
            firmware: "bios".into(),
            run,
            warmup: run == 0,
            ok: true,
            failure: None,
            known_broken: None,
            downtime_s: None,
            shutdown_s: None,
            handoff_s: None,
            boot_s: None,
            load_s: None,
            loader_hwm_kib: None,
            attempts: 1,
            accel: "tcg".into(),
            log: format!("target/xtask/runs/{run}-{id}/serial.log"),
        }
    }

    fn timed(mut s: Sample, shutdown: f64, handoff: f64, boot: f64) -> Sample {
        s.shutdown_s = Some(shutdown);
        s.handoff_s = Some(handoff);
        s.boot_s = Some(boot);
        s.downtime_s = Some(shutdown + handoff + boot);
        s
    }

    pub fn fixed_results() -> Results {
        let mut samples = Vec::new();
        for run in 0..3u32 {
            let d = run as f64 * 0.1;
            let mut cold = timed(
                sample("arm64", "cold-direct", "cold", "firmware", run),
                0.1,
                0.4 + d,
                2.5,
            );
            cold.variant = "reset".into();
            cold.firmware = "direct".into();
            samples.push(cold);
            let mut w = timed(
                sample("arm64", "warm-warmboot-classic", "warm", "warmboot", run),
                0.2,
                0.3,
                3.0 + d,
            );
            w.variant = "classic".into();
            w.firmware = "direct".into();
            w.load_s = Some(0.5);
            w.loader_hwm_kib = Some(3072 + 100 * u64::from(run));
            samples.push(w);
            let mut v = timed(
                sample(
                    "arm64",
                    "warm-warmboot-classic-verify",
                    "warm",
                    "warmboot",
                    run,
                ),
                0.2,
                1.6,
                3.0 + d,
            );
            v.variant = "classic --verify".into();
            v.firmware = "direct".into();
            v.load_s = Some(0.5);
            samples.push(v);
            let mut k = timed(
                sample("arm64", "warm-kexec-tools", "warm", "kexec-tools", run),
                0.2,
                20.0 + d,
                3.0,
            );
            k.firmware = "direct".into();
            k.load_s = Some(1.2);
            k.loader_hwm_kib = Some(5000);
            samples.push(k);
            let mut p = sample("arm64", "panic-kexec-tools", "panic", "kexec-tools", run);
            p.ok = false;
            p.firmware = "direct".into();
            p.failure = Some("the guest reported a failure at hop 1: vmcore unreadable".into());
            p.known_broken = Some("broken crash header".into());
            samples.push(p);
        }
        Results {
            environment: Environment {
                qemu: BTreeMap::from([(
                    "qemu-system-aarch64".to_string(),
                    "QEMU emulator version 7.2.19".to_string(),
                )]),
                accel: vec!["tcg".into()],
                kernels: BTreeMap::from([("arm64".to_string(), "6.1.0-56-arm64".to_string())]),
                host: "Linux 6.1, 2 CPUs".into(),
                host_load: "start 1.00 0.50 0.25, end 1.10 1.00 0.80".into(),
                git_revision: "0123456789ab".into(),
                date: "2026-11-25 16:00 UTC".into(),
                command: "cargo xtask bench --arch arm64 --runs 2".into(),
                runs: 2,
                warmup: 1,
            },
            optimisations: super::super::ab::optimisations(&samples, &[GuestArch::Arm64]),
            goals: super::super::ab::goals(&samples, &[GuestArch::Arm64]),
            samples,
        }
    }

    #[test]
    fn report_from_fixed_samples() {
        insta::assert_snapshot!("bench_report", render(&fixed_results()));
    }

    #[test]
    fn warm_up_and_failed_runs_stay_out_of_the_statistics() {
        let r = fixed_results();
        let s = field_summary(&r.samples, "arm64", "cold-direct", |s| s.downtime_s).unwrap();
        // Runs 1 and 2 only: 0.1 + 0.5 + 2.5 and 0.1 + 0.6 + 2.5.
        assert_eq!(s.n, 2);
        assert!((s.median - 3.15).abs() < 1e-9, "{}", s.median);
        assert_eq!(
            field_summary(&r.samples, "arm64", "panic-kexec-tools", |s| s.downtime_s),
            None
        );
        let ratios = ratios(&r.samples, "arm64");
        // 3.65 / 23.35
        assert!(
            ratios.contains("- warm-warmboot-classic / warm-kexec-tools: 0.16\n"),
            "{ratios}"
        );
        // (0.2 + 20.15 + 3.0) / 3.15
        assert!(
            ratios.contains("- warm-kexec-tools (direct) / cold-direct (direct): 7.41\n"),
            "{ratios}"
        );
        // No passing sample, no ratio.
        assert!(!ratios.contains("panic-kexec-tools"), "{ratios}");
    }

    #[test]
    fn ratios_pair_variants_on_the_same_firmware_only() {
        let mut r = fixed_results();
        for s in r
            .samples
            .iter_mut()
            .filter(|s| s.id == "warm-warmboot-classic")
        {
            s.firmware = "uefi".into();
        }
        let ratios = ratios(&r.samples, "arm64");
        assert!(!ratios.contains("warm-warmboot-classic "), "{ratios}");
        assert!(
            ratios.contains("warm-warmboot-classic-verify (direct) / cold-direct"),
            "{ratios}"
        );
        assert!(
            ratios.contains("warm-kexec-tools (direct) / cold-direct"),
            "{ratios}"
        );
    }

    #[test]
    fn results_json_has_the_documented_shape() {
        let r = fixed_results();
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert!(v["environment"]["qemu"].is_object());
        // Run 1's warmboot sample (run 0 holds five samples, then run 1's cold).
        let s = &v["samples"][6];
        for key in [
            "arch",
            "scenario",
            "loader",
            "variant",
            "firmware",
            "run",
            "downtime_s",
            "shutdown_s",
            "handoff_s",
            "boot_s",
            "load_s",
            "loader_hwm_kib",
            "ok",
        ] {
            assert!(s.get(key).is_some(), "sample lacks {key}: {s}");
        }
        assert_eq!(s["scenario"], "warm");
        assert_eq!(s["loader"], "warmboot");
        assert_eq!(s["variant"], "classic");
        assert_eq!(s["run"], 1);
        assert!((s["downtime_s"].as_f64().unwrap() - 3.6).abs() < 1e-9);
        // The A/B pair and the goal travel with the samples.
        assert_eq!(v["optimisations"][0]["on"], "warm-warmboot-classic");
        assert_eq!(v["optimisations"][0]["shrank_most"]["phase"], "handoff");
        assert_eq!(v["goals"][0]["met"], true);
        let back: Results = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(back, r);
        // results.json written before the A/B section still parses (--check reads it).
        let mut old = v;
        let o = old.as_object_mut().unwrap();
        o.remove("optimisations");
        o.remove("goals");
        let back: Results = serde_json::from_value(old).unwrap();
        assert!(back.optimisations.is_empty() && back.goals.is_empty());
    }
}
