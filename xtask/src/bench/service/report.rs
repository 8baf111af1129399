//! The service suite's results (`service/results.json`), report (`service/report.md`) and
//! chart (`service/downtime.svg`), the same three files as the kernel suite's, and its
//! `--check`. Pure but for [`check_outputs`], which reads the files.

use crate::bench::chart::{render_stacked, Stacked};
use crate::bench::report::{Environment, CHART, REPORT, RESULTS};
use crate::bench::stats::{summarize, Summary};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::path::Path;

/// One reboot of one variant, as the host saw the service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceSample {
    pub arch: String,
    /// The kernel series booted (the tree's kernel's).
    pub series: String,
    /// Its release (`uname -r`).
    pub kernel: String,
    /// cold-bios | cold-uefi | warm-kexec-tools | warm-warmboot
    pub id: String,
    /// cold | warm
    pub scenario: String,
    /// firmware | kexec-tools | warmboot
    pub loader: String,
    /// bios | uefi
    pub firmware: String,
    /// What ran in the guest over SSH to reboot it (after printing the request marker).
    pub request: String,
    pub run: u32,
    pub warmup: bool,
    pub ok: bool,
    pub failure: Option<String>,
    /// The request to the service answering again, seconds.
    pub downtime_s: Option<f64>,
    /// The request to the old kernel's last line (services stopping, unmount, shutdown).
    pub shutdown_s: Option<f64>,
    /// -> the new kernel's first line (firmware; or purgatory and decompression).
    pub handoff_s: Option<f64>,
    /// -> the new kernel starting init.
    pub kernel_s: Option<f64>,
    /// -> the first SSH banner the host read from the new system.
    pub userspace_s: Option<f64>,
    /// What a client polling the service saw: its last answer from the old system to its
    /// first from the new one.
    pub client_outage_s: Option<f64>,
    pub boot_id_before: Option<String>,
    pub boot_id_after: Option<String>,
    /// How many probe attempts the host made from the request on.
    pub probe_attempts: usize,
    /// The serial log, relative to the workspace root.
    pub log: String,
}

/// warmboot's service downtime against kexec-tools' on one kernel series: the goal is no
/// longer (ratio ≤ 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceGoal {
    pub arch: String,
    pub series: String,
    pub warmboot_s: Option<f64>,
    pub kexec_tools_s: Option<f64>,
    pub ratio: Option<f64>,
    /// `None` when a side has no passing measured sample.
    pub met: Option<bool>,
}

/// The whole of `service/results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceResults {
    pub environment: Environment,
    pub samples: Vec<ServiceSample>,
    pub goals: Vec<ServiceGoal>,
    /// What the run could not measure, in words (series the tree cannot boot).
    pub not_covered: Vec<String>,
}

/// A phase's name and how to read it.
pub type Phase = (&'static str, fn(&ServiceSample) -> Option<f64>);

/// The phases of every passing sample, in order; they add up to its downtime.
pub const PHASES: [Phase; 4] = [
    ("shutdown", |s| s.shutdown_s),
    ("handoff", |s| s.handoff_s),
    ("kernel", |s| s.kernel_s),
    ("userspace", |s| s.userspace_s),
];

/// How far a sample's phases may add up from its downtime (float rounding only: all are
/// cut from the same stamps).
pub const PHASE_SUM_TOLERANCE_S: f64 = 0.001;

fn counted(s: &ServiceSample) -> bool {
    s.ok && !s.warmup
}

/// (arch, series, id) in the order they first appear.
fn groups(samples: &[ServiceSample]) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    let mut sorted: Vec<&ServiceSample> = samples.iter().collect();
    sorted.sort_by_key(|s| s.run);
    for s in sorted {
        let k = (s.arch.clone(), s.series.clone(), s.id.clone());
        if !out.contains(&k) {
            out.push(k);
        }
    }
    out
}

fn summary(
    samples: &[ServiceSample],
    (arch, series, id): (&str, &str, &str),
    f: impl Fn(&ServiceSample) -> Option<f64>,
) -> Option<Summary> {
    let xs: Vec<f64> = samples
        .iter()
        .filter(|s| s.arch == arch && s.series == series && s.id == id && counted(s))
        .filter_map(f)
        .collect();
    summarize(&xs)
}

/// The goal per architecture and series that has both sides.
pub fn goals(samples: &[ServiceSample]) -> Vec<ServiceGoal> {
    let mut sets: Vec<(String, String)> = Vec::new();
    for (a, s, _) in groups(samples) {
        if !sets.contains(&(a.clone(), s.clone())) {
            sets.push((a, s));
        }
    }
    sets.into_iter()
        .filter(|(a, s)| {
            let has = |id: &str| {
                samples
                    .iter()
                    .any(|x| &x.arch == a && &x.series == s && x.id == id)
            };
            has("warm-warmboot") && has("warm-kexec-tools")
        })
        .map(|(arch, series)| {
            let med = |id: &str| {
                summary(samples, (&arch, &series, id), |s| s.downtime_s).map(|s| s.median)
            };
            let (w, k) = (med("warm-warmboot"), med("warm-kexec-tools"));
            let ratio = w.zip(k).map(|(w, k)| w / k);
            ServiceGoal {
                arch,
                series,
                warmboot_s: w,
                kexec_tools_s: k,
                ratio,
                met: ratio.map(|r| r <= 1.0),
            }
        })
        .collect()
}

fn secs(s: Option<Summary>) -> String {
    s.map(|s| format!("{:.2}", s.median))
        .unwrap_or_else(|| "-".into())
}

/// The side-by-side table of one architecture and series.
pub fn table(samples: &[ServiceSample], arch: &str, series: &str) -> String {
    let mut t = String::from(
        "| variant | loader | firmware | reboot request | ok/runs | service downtime s (median) | min–max | sd | shutdown | handoff | kernel | userspace | client-seen outage |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (a, s, id) in groups(samples)
        .into_iter()
        .filter(|(a, s, _)| a == arch && s == series)
    {
        let mine: Vec<&ServiceSample> = samples
            .iter()
            .filter(|x| x.arch == a && x.series == s && x.id == id && !x.warmup)
            .collect();
        let Some(s0) = samples
            .iter()
            .find(|x| x.arch == a && x.series == s && x.id == id)
        else {
            continue;
        };
        let key = (a.as_str(), s.as_str(), id.as_str());
        let sum = |f: fn(&ServiceSample) -> Option<f64>| summary(samples, key, f);
        let d = sum(|x| x.downtime_s);
        let _ = writeln!(
            t,
            "| {id} | {} | {} | `{}` | {}/{} | {} | {} | {} | {} | {} | {} | {} | {} |",
            s0.loader,
            s0.firmware,
            s0.request,
            mine.iter().filter(|x| x.ok).count(),
            mine.len(),
            d.map(|d| format!("**{:.2}**", d.median))
                .unwrap_or_else(|| "-".into()),
            d.map(|d| format!("{:.2}–{:.2}", d.min, d.max))
                .unwrap_or_else(|| "-".into()),
            d.and_then(|d| d.sd)
                .map(|x| format!("{x:.2}"))
                .unwrap_or_else(|| "-".into()),
            secs(sum(|x| x.shutdown_s)),
            secs(sum(|x| x.handoff_s)),
            secs(sum(|x| x.kernel_s)),
            secs(sum(|x| x.userspace_s)),
            secs(sum(|x| x.client_outage_s)),
        );
    }
    t
}

/// The goal lines.
pub fn render_goals(goals: &[ServiceGoal]) -> String {
    let mut out = String::new();
    for g in goals {
        let _ = writeln!(
            out,
            "- {} {}: warmboot {} s / kexec-tools {} s = {} (goal ≤ 1.00): {}",
            g.arch,
            g.series,
            g.warmboot_s
                .map(|x| format!("{x:.2}"))
                .unwrap_or_else(|| "-".into()),
            g.kexec_tools_s
                .map(|x| format!("{x:.2}"))
                .unwrap_or_else(|| "-".into()),
            g.ratio
                .map(|x| format!("{x:.2}"))
                .unwrap_or_else(|| "-".into()),
            match g.met {
                Some(true) => "met",
                Some(false) => "NOT met",
                None => "no verdict (a side has no passing sample)",
            }
        );
    }
    if out.is_empty() {
        out = "- none (warmboot and kexec-tools were not both measured)\n".into();
    }
    out
}

/// The text of service/report.md.
pub fn render(r: &ServiceResults) -> String {
    let env = &r.environment;
    let mut out = String::from("# warmboot service downtime benchmark\n\n");
    let _ = writeln!(
        out,
        "Service downtime = host time from the reboot request to sshd answering again: a \
         Debian bookworm systemd guest (the e2e's tree, with openssh-server) in QEMU, its \
         port 22 forwarded to 127.0.0.1, probed from the host with a fresh TCP connection \
         every {:.1} s until the `SSH-2.0-` banner arrives from the new system. The \
         request is the `@@WB reboot-request` line the guest prints to its console just \
         before the reboot command runs; every time is a host stamp on one clock. \
         {} measured run(s) per variant after {} warm-up run(s), variants interleaved. \
         Phases (medians): shutdown = request → the old kernel's last console line \
         (systemd stopping services, unmounting, the kernel's shutdown); handoff → the new \
         kernel's \"Linux version\" line (firmware; or purgatory and decompression); \
         kernel → \"Run /init as init process\"; userspace → the SSH banner (initramfs, \
         systemd, sshd). Client-seen outage = the probe's last answer from the old system \
         to its first from the new one. warm-kexec-tools loads with kexec-tools' own \
         binary (`kexec -l`, ahead) and reboots with `systemctl kexec`; warm-warmboot has \
         the kernel loaded at boot by warmboot-load.service and reboots with `warmboot \
         reboot`, as the README tells administrators (it runs `systemctl kexec`). In both, \
         systemd-shutdown's final `kexec -e` is warmboot's (`install-units \
         --kexec-symlink`), which only makes the reboot(2) call the loaded kernel needs.\n",
        super::probe::INTERVAL.as_secs_f64(),
        env.runs,
        env.warmup
    );
    let mut sets: Vec<(String, String)> = Vec::new();
    for (a, s, _) in groups(&r.samples) {
        if !sets.contains(&(a.clone(), s.clone())) {
            sets.push((a, s));
        }
    }
    for (arch, series) in &sets {
        let kernel = r
            .samples
            .iter()
            .find(|s| &s.arch == arch && &s.series == series)
            .map(|s| s.kernel.as_str())
            .unwrap_or("unknown kernel");
        let _ = writeln!(out, "## {arch} {series} ({kernel})\n");
        out += &table(&r.samples, arch, series);
        out += "\n";
    }
    out += "## Goal: warmboot's service downtime no longer than kexec-tools'\n\n";
    out += &render_goals(&r.goals);
    out += "\n## Not covered\n\n";
    if r.not_covered.is_empty() {
        out += "- nothing\n";
    }
    for n in &r.not_covered {
        let _ = writeln!(out, "- {n}");
    }
    out += "\n## Failed runs\n\n";
    let mut any = false;
    for s in r.samples.iter().filter(|s| !s.ok) {
        any = true;
        let _ = writeln!(
            out,
            "- {} {}/{} run {}{}: {} (log `{}`)",
            s.arch,
            s.series,
            s.id,
            s.run,
            if s.warmup { " (warm-up)" } else { "" },
            s.failure.as_deref().unwrap_or("no reason recorded"),
            s.log
        );
    }
    if !any {
        out += "- none\n";
    }
    out += "\n## Environment\n\n";
    for (bin, v) in &env.qemu {
        let _ = writeln!(out, "- {bin}: {v}");
    }
    let _ = writeln!(out, "- accelerator: {}", env.accel.join(", "));
    let _ = writeln!(out, "- host: {}", env.host);
    let _ = writeln!(out, "- host load: {}", env.host_load);
    let _ = writeln!(out, "- git revision: {}", env.git_revision);
    let _ = writeln!(out, "- date: {}", env.date);
    let _ = writeln!(out, "- command: `{}`", env.command);
    out
}

/// The chart's bars: one per variant with passing samples, its median phases.
pub fn bars(samples: &[ServiceSample]) -> Vec<Stacked> {
    groups(samples)
        .into_iter()
        .filter_map(|(a, s, id)| {
            let key = (a.as_str(), s.as_str(), id.as_str());
            let parts: Option<Vec<f64>> = PHASES
                .iter()
                .map(|(_, f)| summary(samples, key, f).map(|x| x.median))
                .collect();
            Some(Stacked {
                label: format!("{a} {s} {id}"),
                parts: parts?,
            })
        })
        .collect()
}

/// downtime.svg of the service suite.
pub fn chart(samples: &[ServiceSample]) -> std::result::Result<String, String> {
    render_stacked(
        "Service downtime by phase (medians, seconds, QEMU): reboot request to sshd answering",
        "seconds from the reboot request to the SSH banner from the new system",
        &[
            "shutdown (services stop, old kernel)",
            "handoff (firmware, or purgatory)",
            "kernel (to init)",
            "userspace (initramfs, systemd, sshd)",
        ],
        &bars(samples),
    )
}

/// Every problem of the measured samples of the expected (arch, series, id)s; `Ok` when
/// none: each has a measured sample, a passing one, and every passing one has all four
/// phases, none negative, adding up to its downtime.
pub fn check_samples(
    samples: &[ServiceSample],
    expected: &[(String, String, String)],
) -> std::result::Result<(), String> {
    let mut problems = Vec::new();
    for (a, s, id) in expected {
        let label = format!("{a}/{s}/{id}");
        let mine: Vec<&ServiceSample> = samples
            .iter()
            .filter(|x| &x.arch == a && &x.series == s && &x.id == id && !x.warmup)
            .collect();
        if mine.is_empty() {
            problems.push(format!("{label} has no sample"));
            continue;
        }
        if !mine.iter().any(|x| x.ok) {
            problems.push(format!(
                "{label} has no passing sample: {}",
                mine[0].failure.as_deref().unwrap_or("no reason recorded")
            ));
        }
        for x in mine.iter().filter(|x| x.ok) {
            let Some(d) = x.downtime_s else {
                problems.push(format!("{label} run {} passed without a downtime", x.run));
                continue;
            };
            let mut sum = 0.0;
            for (name, f) in PHASES {
                match f(x) {
                    None => problems.push(format!("{label} run {} has no {name} phase", x.run)),
                    Some(v) if v < 0.0 => {
                        problems.push(format!("{label} run {} has a negative {name} phase", x.run))
                    }
                    Some(v) => sum += v,
                }
            }
            if (sum - d).abs() > PHASE_SUM_TOLERANCE_S {
                problems.push(format!(
                    "{label} run {}: the phases add up to {sum:.3} s, not the downtime {d:.3} s",
                    x.run
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// `--check` of the service suite's output directory.
pub fn check_outputs(dir: &Path, expected: &[(String, String, String)]) -> Result<()> {
    let fail = |reason: String| Error::Bench {
        reason: format!("service smoke test: {reason}"),
    };
    for name in [REPORT, RESULTS, CHART] {
        let p = dir.join(name);
        let len = std::fs::metadata(&p).map_err(Error::io(&p))?.len();
        if len == 0 {
            return Err(fail(format!("{} is empty", p.display())));
        }
    }
    let p = dir.join(RESULTS);
    let text = std::fs::read_to_string(&p).map_err(Error::io(&p))?;
    let r: ServiceResults =
        serde_json::from_str(&text).map_err(|source| Error::Json { path: p, source })?;
    check_samples(&r.samples, expected).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn sample(id: &str, run: u32, phases: [f64; 4]) -> ServiceSample {
        let (scenario, loader, firmware, request) = match id {
            "cold-bios" => ("cold", "firmware", "bios", "systemctl reboot"),
            "cold-uefi" => ("cold", "firmware", "uefi", "systemctl reboot"),
            "warm-kexec-tools" => ("warm", "kexec-tools", "bios", "systemctl kexec"),
            _ => ("warm", "warmboot", "bios", "warmboot reboot"),
        };
        ServiceSample {
            arch: "x86_64".into(),
            series: "6.1".into(),
            kernel: "6.1.0-50-amd64".into(),
            id: id.into(),
            scenario: scenario.into(),
            loader: loader.into(),
            firmware: firmware.into(),
            request: request.into(),
            run,
            warmup: run == 0,
            ok: true,
            failure: None,
            downtime_s: Some(phases.iter().sum()),
            shutdown_s: Some(phases[0]),
            handoff_s: Some(phases[1]),
            kernel_s: Some(phases[2]),
            userspace_s: Some(phases[3]),
            client_outage_s: Some(phases.iter().sum::<f64>() + 0.5),
            boot_id_before: Some("a".into()),
            boot_id_after: Some("b".into()),
            probe_attempts: 40,
            log: format!("target/xtask/runs/{run}-{id}/serial.log"),
        }
    }

    pub fn fixed() -> ServiceResults {
        let mut samples = Vec::new();
        for run in 0..3 {
            let d = f64::from(run) * 0.1;
            samples.push(sample("cold-bios", run, [2.0, 1.0 + d, 8.0, 20.0]));
            samples.push(sample("cold-uefi", run, [2.0, 9.0 + d, 8.0, 20.0]));
            samples.push(sample("warm-kexec-tools", run, [2.1, 3.0 + d, 8.0, 20.0]));
            samples.push(sample("warm-warmboot", run, [2.1, 0.5 + d, 7.5, 20.0]));
        }
        let goals = goals(&samples);
        ServiceResults {
            environment: Environment {
                qemu: BTreeMap::from([(
                    "qemu-system-x86_64".to_string(),
                    "QEMU emulator version 7.2.19".to_string(),
                )]),
                accel: vec!["tcg".into()],
                kernels: BTreeMap::from([("x86_64/6.1".into(), "6.1.0-50-amd64".into())]),
                host: "Linux 6.1, 2 CPUs".into(),
                host_load: "start 1.00 0.50 0.25, end 1.10 1.00 0.80".into(),
                git_revision: "0123456789ab".into(),
                date: "2026-12-08 03:00 UTC".into(),
                command: "cargo xtask bench --suite service --runs 2".into(),
                runs: 2,
                warmup: 1,
            },
            samples,
            goals,
            not_covered: vec!["x86_64 6.12: the tree boots its own kernel only".into()],
        }
    }

    #[test]
    fn report_from_fixed_samples() {
        insta::assert_snapshot!("service_report", render(&fixed()));
    }

    #[test]
    fn the_goal_compares_warmboot_with_kexec_tools_on_each_series() {
        let r = fixed();
        assert_eq!(r.goals.len(), 1);
        let g = &r.goals[0];
        // Runs 1 and 2 (run 0 is the warm-up): 2.1 + 0.65 + 7.5 + 20 and 2.1 + 3.15 + 8 + 20.
        assert!((g.warmboot_s.unwrap() - 30.25).abs() < 1e-9, "{g:?}");
        assert!((g.kexec_tools_s.unwrap() - 33.25).abs() < 1e-9, "{g:?}");
        assert_eq!(g.met, Some(true));
        let mut slow = r.samples.clone();
        for s in slow.iter_mut().filter(|s| s.id == "warm-warmboot") {
            s.downtime_s = Some(40.0);
        }
        assert_eq!(goals(&slow)[0].met, Some(false));
        assert!(render_goals(&goals(&slow)).contains("NOT met"));
        for s in slow.iter_mut().filter(|s| s.id == "warm-warmboot") {
            s.ok = false;
        }
        assert_eq!(goals(&slow)[0].met, None);
    }

    #[test]
    fn check_wants_every_variant_passing_with_four_phases_adding_up() {
        let r = fixed();
        let expected: Vec<(String, String, String)> = [
            "cold-bios",
            "cold-uefi",
            "warm-kexec-tools",
            "warm-warmboot",
        ]
        .iter()
        .map(|id| ("x86_64".to_string(), "6.1".to_string(), id.to_string()))
        .collect();
        assert_eq!(check_samples(&r.samples, &expected), Ok(()));
        let broken = |f: &dyn Fn(&mut ServiceSample), why: &str| {
            let mut s = r.samples.clone();
            for x in s.iter_mut().filter(|x| x.id == "cold-uefi") {
                f(x);
            }
            let e = check_samples(&s, &expected).unwrap_err();
            assert!(e.contains(why), "{e}");
        };
        broken(&|x| x.userspace_s = None, "has no userspace phase");
        broken(&|x| x.kernel_s = Some(-1.0), "negative kernel phase");
        broken(&|x| x.handoff_s = Some(100.0), "the phases add up to");
        broken(
            &|x| {
                x.ok = false;
                x.failure = Some("the reboot did not go through the firmware".into());
            },
            "has no passing sample: the reboot did not go through the firmware",
        );
        broken(&|x| x.warmup = true, "x86_64/6.1/cold-uefi has no sample");
    }

    #[test]
    fn the_chart_has_a_bar_per_variant_and_every_phase_in_its_legend() {
        let svg = chart(&fixed().samples).unwrap();
        for text in [
            "x86_64 6.1 cold-uefi",
            "x86_64 6.1 warm-warmboot",
            "userspace (initramfs, systemd, sshd)",
        ] {
            assert!(svg.contains(text), "missing {text}");
        }
        let b = &bars(&fixed().samples)[3];
        // Runs 1 and 2 (run 0 is the warm-up): handoffs 0.6 and 0.7.
        assert!((b.parts[1] - 0.65).abs() < 1e-9, "{b:?}");
        assert_eq!((b.parts[0], b.parts[2], b.parts[3]), (2.1, 7.5, 20.0));
    }

    #[test]
    fn results_json_round_trips() {
        let r = fixed();
        let text = serde_json::to_string(&r).unwrap();
        let back: ServiceResults = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        for key in [
            "downtime_s",
            "shutdown_s",
            "handoff_s",
            "kernel_s",
            "userspace_s",
        ] {
            assert!(v["samples"][0].get(key).is_some(), "{key}");
        }
    }
}
