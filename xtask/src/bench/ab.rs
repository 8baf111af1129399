//! The bench's verdicts on warmboot's optimisations and on the goal, from one run's
//! samples: each A/B pair (variants.rs `ab_pairs`: two variants that differ in one
//! optimisation only) with its downtime off → on and the phase that shrank most, and the
//! goals per architecture and kernel series (variants.rs `goals`): warmboot against
//! kexec-tools like for like (neither hashes, both hash) and default against default, each
//! ratio labelled with what it compares; and the load-cost goals (variants.rs
//! `load_goals`): warmboot's load time and peak memory against kexec-tools', each ratio with
//! its bound. Reported, never an exit failure: a missed goal is a measurement.
//!
//! Pure: samples in, results (kept in results.json) and report text out.

use super::report::{
    field_summary, sets, AbResult, GoalResult, LoadGoalResult, PhaseChange, Sample, Set, PHASES,
};
use super::variants::{ab_pairs, arch_name, goals as goals_of, load_goals as load_goals_of};
use crate::qemu::GuestArch;
use std::fmt::Write;

fn median(
    samples: &[Sample],
    set: &Set,
    id: &str,
    f: impl Fn(&Sample) -> Option<f64>,
) -> Option<f64> {
    field_summary(samples, set, id, f).map(|s| s.median)
}

fn has_samples(samples: &[Sample], set: &Set, id: &str) -> bool {
    samples.iter().any(|s| set.has(s) && s.id == id)
}

/// The architecture and series of `samples` whose architecture is one of `arches`, with
/// that architecture.
fn measured_sets(samples: &[Sample], arches: &[GuestArch]) -> Vec<(GuestArch, Set)> {
    sets(samples)
        .into_iter()
        .filter_map(|set| {
            let arch = arches.iter().find(|&&a| arch_name(a) == set.arch)?;
            Some((*arch, set))
        })
        .collect()
}

/// The phase with the largest fall of its median from `off` to `on`.
fn shrank_most(samples: &[Sample], set: &Set, off: &str, on: &str) -> Option<PhaseChange> {
    PHASES
        .iter()
        .filter_map(|(name, f)| {
            Some(PhaseChange {
                phase: name.to_string(),
                off_s: median(samples, set, off, f)?,
                on_s: median(samples, set, on, f)?,
            })
        })
        .max_by(|a, b| (a.off_s - a.on_s).total_cmp(&(b.off_s - b.on_s)))
}

/// Every A/B pair of `arches` that this run measured (at least one side has samples), per
/// kernel series.
pub fn optimisations(samples: &[Sample], arches: &[GuestArch]) -> Vec<AbResult> {
    let mut out = Vec::new();
    for (arch, a) in measured_sets(samples, arches) {
        let a = &a;
        for p in ab_pairs(arch) {
            if !has_samples(samples, a, p.off) && !has_samples(samples, a, p.on) {
                continue;
            }
            let off_downtime_s = median(samples, a, p.off, |s| s.downtime_s);
            let on_downtime_s = median(samples, a, p.on, |s| s.downtime_s);
            out.push(AbResult {
                arch: a.arch.clone(),
                series: a.series.clone(),
                optimisation: p.optimisation.into(),
                off: p.off.into(),
                on: p.on.into(),
                off_downtime_s,
                on_downtime_s,
                ratio: off_downtime_s.zip(on_downtime_s).map(|(off, on)| on / off),
                shrank_most: shrank_most(samples, a, p.off, p.on),
                off_load_s: median(samples, a, p.off, |s| s.load_s),
                on_load_s: median(samples, a, p.on, |s| s.load_s),
            });
        }
    }
    out
}

/// The goals of every architecture in `arches` and series that this run measured.
pub fn goals(samples: &[Sample], arches: &[GuestArch]) -> Vec<GoalResult> {
    let mut out = Vec::new();
    for (arch, a) in measured_sets(samples, arches) {
        let a = &a;
        for g in goals_of(arch) {
            if !has_samples(samples, a, g.warmboot) && !has_samples(samples, a, g.reference) {
                continue;
            }
            let warmboot_s = median(samples, a, g.warmboot, |s| s.downtime_s);
            let reference_s = median(samples, a, g.reference, |s| s.downtime_s);
            let ratio = warmboot_s.zip(reference_s).map(|(w, r)| w / r);
            let kernel = samples
                .iter()
                .find(|s| a.has(s) && !s.kernel.is_empty())
                .map(|s| s.kernel.clone())
                .unwrap_or_default();
            out.push(GoalResult {
                arch: a.arch.clone(),
                series: a.series.clone(),
                kernel,
                warmboot: g.warmboot.into(),
                reference: g.reference.into(),
                compares: g.compares.into(),
                hashing: g.hashing.describe().into(),
                warmboot_s,
                reference_s,
                ratio,
                max_ratio: g.max_ratio,
                met: ratio.zip(g.max_ratio).map(|(r, max)| r <= max),
            });
        }
    }
    out
}

/// The kernel release the samples of `set` booted ("" when none says).
fn kernel_of(samples: &[Sample], set: &Set) -> String {
    samples
        .iter()
        .find(|s| set.has(s) && !s.kernel.is_empty())
        .map(|s| s.kernel.clone())
        .unwrap_or_default()
}

/// The load-cost goals of every architecture in `arches` and series that this run
/// measured: median load time and median peak memory (VmHWM) of each side, their ratios,
/// and whether each is within its bound.
pub fn load_goals(samples: &[Sample], arches: &[GuestArch]) -> Vec<LoadGoalResult> {
    let mut out = Vec::new();
    for (arch, a) in measured_sets(samples, arches) {
        let a = &a;
        for g in load_goals_of(arch) {
            if !has_samples(samples, a, g.warmboot) && !has_samples(samples, a, g.reference) {
                continue;
            }
            let load = |id| median(samples, a, id, |s| s.load_s);
            let peak = |id| {
                median(samples, a, id, |s| {
                    s.loader_hwm_kib.map(|k| k as f64 / 1024.0)
                })
            };
            let (wl, rl) = (load(g.warmboot), load(g.reference));
            let (wp, rp) = (peak(g.warmboot), peak(g.reference));
            let time_ratio = wl.zip(rl).map(|(w, r)| w / r);
            let peak_ratio = wp.zip(rp).map(|(w, r)| w / r);
            out.push(LoadGoalResult {
                arch: a.arch.clone(),
                series: a.series.clone(),
                kernel: kernel_of(samples, a),
                warmboot: g.warmboot.into(),
                reference: g.reference.into(),
                compares: g.compares.into(),
                hashing: g.hashing.describe().into(),
                warmboot_load_s: wl,
                reference_load_s: rl,
                time_ratio,
                max_time_ratio: g.max_time_ratio,
                time_met: time_ratio.map(|r| r <= g.max_time_ratio),
                warmboot_peak_mib: wp,
                reference_peak_mib: rp,
                peak_ratio,
                max_peak_ratio: g.max_peak_ratio,
                peak_met: peak_ratio.map(|r| r <= g.max_peak_ratio),
            });
        }
    }
    out
}

/// One ratio of a load-cost line: `a / b = r (≤ max: met)`.
fn bounded(a: String, b: String, ratio: Option<f64>, max: f64, met: Option<bool>) -> String {
    let verdict = match met {
        Some(true) => "met",
        Some(false) => "not met",
        None => "not measured (a side has no passing sample)",
    };
    let r = ratio
        .map(|x| format!("{x:.2}"))
        .unwrap_or_else(|| "-".into());
    format!("{a} / {b} = {r} (≤ {max}: {verdict})")
}

fn s(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.2} s")).unwrap_or_else(|| "-".into())
}

/// The "Optimisations (A/B in this run)" section, the goal lines and the load-cost lines,
/// as markdown (also printed on stdout).
pub fn render(opts: &[AbResult], goals: &[GoalResult], loads: &[LoadGoalResult]) -> String {
    let mut r = String::from("## Optimisations (A/B in this run)\n\n");
    r += "Each pair differs in one optimisation only; medians of the same run's passing \
          measured samples, ratio = on / off.\n\n";
    if opts.is_empty() {
        r += "- none measured (no variant of a pair was selected)\n";
    }
    for o in opts {
        let ratio = o
            .ratio
            .map(|x| format!("ratio {x:.2}"))
            .unwrap_or_else(|| "no ratio (a side has no passing sample)".into());
        let phase = match &o.shrank_most {
            Some(p) if p.off_s > p.on_s => format!(
                "phase that shrank most: {} {:.2} s → {:.2} s",
                p.phase, p.off_s, p.on_s
            ),
            Some(p) => format!(
                "no phase shrank (least growth: {} {:.2} s → {:.2} s)",
                p.phase, p.off_s, p.on_s
            ),
            None => "no phases measured".into(),
        };
        let _ = writeln!(
            r,
            "- {} {}: {} → {}: downtime {} → {}, {ratio}; {phase}; load {} → {}",
            Set::new(&o.arch, &o.series).name(),
            o.optimisation,
            o.off,
            o.on,
            s(o.off_downtime_s),
            s(o.on_downtime_s),
            s(o.off_load_s),
            s(o.on_load_s),
        );
    }
    r += "\n";
    if !goals.is_empty() {
        r += "Goals: medians of the same run's passing measured samples, warmboot / \
              kexec-tools. Under TCG the purgatory's SHA-256 of the segments costs seconds, \
              so a ratio is like for like only when both sides hash (warmboot `--verify`, \
              kexec-tools' default) or neither does (warmboot's default, `kexec -i`).\n\n";
    }
    for g in goals {
        let target = match g.max_ratio {
            Some(max) => format!(" ≤ {max}"),
            None => ", no target set".into(),
        };
        let verdict = match (g.ratio, g.met) {
            (None, _) => ": not measured (a side has no passing sample)",
            (Some(_), Some(true)) => ": met",
            (Some(_), Some(false)) => ": not met",
            (Some(_), None) => "",
        };
        let _ = writeln!(
            r,
            "Goal: {} ({}){target} — {}: {} {} / {} {} = {}{verdict}",
            g.compares,
            g.hashing,
            Set::new(&g.arch, &g.series).name(),
            g.warmboot,
            s(g.warmboot_s),
            g.reference,
            s(g.reference_s),
            g.ratio
                .map(|x| format!("{x:.2}"))
                .unwrap_or_else(|| "-".into()),
        );
    }
    if !loads.is_empty() {
        r += "\nLoad cost: what the load costs before the reboot, medians of the same run's \
              passing measured samples, warmboot / kexec-tools: the loader's run time in the \
              guest and its peak memory (VmHWM), each side's hashing while loading alike.\n\n";
    }
    for l in loads {
        let mib = |x: Option<f64>| {
            x.map(|v| format!("{v:.1} MiB"))
                .unwrap_or_else(|| "-".into())
        };
        let _ = writeln!(
            r,
            "Load cost: {} ({}) — {}: time {}; peak {}",
            l.compares,
            l.hashing,
            Set::new(&l.arch, &l.series).name(),
            bounded(
                format!("{} {}", l.warmboot, s(l.warmboot_load_s)),
                format!("{} {}", l.reference, s(l.reference_load_s)),
                l.time_ratio,
                l.max_time_ratio,
                l.time_met
            ),
            bounded(
                mib(l.warmboot_peak_mib),
                mib(l.reference_peak_mib),
                l.peak_ratio,
                l.max_peak_ratio,
                l.peak_met
            ),
        );
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::tests::sample;

    /// A passing measured sample with its phases.
    fn timed(arch: &str, id: &str, run: u32, phases: [f64; 3], load: f64) -> Sample {
        let mut s = sample(arch, id, "warm", "warmboot", run);
        s.shutdown_s = Some(phases[0]);
        s.handoff_s = Some(phases[1]);
        s.boot_s = Some(phases[2]);
        s.downtime_s = Some(phases.iter().sum());
        s.load_s = Some(load);
        s
    }

    /// Two measured runs (1, 2) and a warm-up (0) whose values must not count.
    fn runs(arch: &str, id: &str, phases: [f64; 3], load: f64) -> Vec<Sample> {
        (0..3)
            .map(|run| {
                let bump = if run == 0 {
                    100.0
                } else {
                    f64::from(run) * 0.1
                };
                timed(
                    arch,
                    id,
                    run,
                    [phases[0], phases[1] + bump, phases[2]],
                    load,
                )
            })
            .collect()
    }

    fn synthetic() -> Vec<Sample> {
        let mut v = Vec::new();
        // x86_64: the bzImage entry spends ~6 s decompressing in the handoff.
        v.extend(runs(
            "x86_64",
            "warm-warmboot-classic-bzimage",
            [0.1, 6.0, 2.0],
            2.5,
        ));
        v.extend(runs(
            "x86_64",
            "warm-warmboot-classic",
            [0.1, 0.5, 2.2],
            3.5,
        ));
        // --verify: warmboot's purgatory hashes the segments in the handoff.
        v.extend(runs(
            "x86_64",
            "warm-warmboot-classic-verify",
            [0.1, 1.5, 2.2],
            3.6,
        ));
        v.extend(runs("x86_64", "warm-kexec-tools", [0.1, 8.0, 2.0], 4.0));
        v.extend(runs("x86_64", "warm-kexec-tools-i", [0.1, 4.0, 2.0], 1.5));
        // x86_64 on the 6.12 series: warmboot took the bzImage path there, kexec-tools as
        // on 6.1.
        let newer = |mut l: Vec<Sample>| {
            for s in &mut l {
                s.series = "6.12".into();
                s.kernel = "6.12.118+deb13-amd64".into();
            }
            l
        };
        v.extend(newer(runs(
            "x86_64",
            "warm-warmboot-classic",
            [0.1, 6.0, 2.2],
            2.5,
        )));
        v.extend(newer(runs(
            "x86_64",
            "warm-kexec-tools",
            [0.1, 8.0, 2.0],
            4.0,
        )));
        v.extend(newer(runs(
            "x86_64",
            "warm-kexec-tools-i",
            [0.1, 4.0, 2.0],
            1.5,
        )));
        // arm64: --verify hashes in the handoff.
        v.extend(runs(
            "arm64",
            "warm-warmboot-classic-verify",
            [0.2, 1.5, 3.0],
            0.6,
        ));
        v.extend(runs("arm64", "warm-warmboot-classic", [0.2, 0.3, 3.1], 0.6));
        v.extend(runs("arm64", "warm-kexec-tools", [0.2, 2.0, 3.0], 1.2));
        v.extend(runs("arm64", "warm-kexec-tools-i", [0.2, 0.6, 3.2], 1.0));
        v
    }

    #[test]
    fn each_pair_gives_its_downtimes_ratio_and_the_phase_that_shrank_most() {
        let o = optimisations(&synthetic(), &[GuestArch::X86_64, GuestArch::Arm64]);
        // x86_64 6.1 and 6.12 (the latter without its bzImage and --verify sides), two
        // pairs each, arm64 6.1.
        let sets: Vec<(&str, &str, &str)> = o
            .iter()
            .map(|o| (o.arch.as_str(), o.series.as_str(), o.off.as_str()))
            .collect();
        assert_eq!(
            sets,
            [
                ("x86_64", "6.1", "warm-warmboot-classic-bzimage"),
                ("x86_64", "6.1", "warm-warmboot-classic-verify"),
                ("x86_64", "6.12", "warm-warmboot-classic-bzimage"),
                ("x86_64", "6.12", "warm-warmboot-classic-verify"),
                ("arm64", "6.1", "warm-warmboot-classic-verify")
            ]
        );
        assert_eq!((o[2].off_downtime_s, o[2].ratio), (None, None));
        assert_eq!((o[3].off_downtime_s, o[3].ratio), (None, None));
        let x = &o[0];
        assert_eq!(
            (x.arch.as_str(), x.off.as_str(), x.on.as_str()),
            (
                "x86_64",
                "warm-warmboot-classic-bzimage",
                "warm-warmboot-classic"
            )
        );
        // Medians of runs 1 and 2: handoff 6.15 vs 0.65, the warm-up's +100 left out.
        let close = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-9;
        assert!(close(x.off_downtime_s, 0.1 + 6.15 + 2.0), "{x:?}");
        assert!(close(x.on_downtime_s, 0.1 + 0.65 + 2.2), "{x:?}");
        assert!(close(x.ratio, 2.95 / 8.25), "{x:?}");
        let p = x.shrank_most.as_ref().unwrap();
        assert_eq!(p.phase, "handoff");
        assert!((p.off_s - 6.15).abs() < 1e-9 && (p.on_s - 0.65).abs() < 1e-9);
        assert!(close(x.off_load_s, 2.5) && close(x.on_load_s, 3.5));
        let h = &o[1];
        assert_eq!(h.shrank_most.as_ref().unwrap().phase, "handoff");
        assert!(close(h.ratio, 2.95 / 3.95), "{h:?}");
        let a = &o[4];
        assert_eq!(a.off, "warm-warmboot-classic-verify");
        assert_eq!(a.shrank_most.as_ref().unwrap().phase, "handoff");
        assert!(close(a.ratio, 3.75 / 4.85), "{a:?}");
    }

    #[test]
    fn goals_compare_like_for_like_and_are_met_at_their_target_and_not_above() {
        let g = goals(&synthetic(), &[GuestArch::X86_64, GuestArch::Arm64]);
        let what: Vec<(&str, &str, &str, &str)> = g
            .iter()
            .map(|g| {
                (
                    g.arch.as_str(),
                    g.series.as_str(),
                    g.warmboot.as_str(),
                    g.reference.as_str(),
                )
            })
            .collect();
        let (wb, verify) = ("warm-warmboot-classic", "warm-warmboot-classic-verify");
        let (kt, kt_i) = ("warm-kexec-tools", "warm-kexec-tools-i");
        assert_eq!(
            what,
            [
                ("x86_64", "6.1", wb, kt_i),
                ("x86_64", "6.1", verify, kt),
                ("x86_64", "6.1", wb, kt),
                ("x86_64", "6.12", wb, kt_i),
                ("x86_64", "6.12", verify, kt),
                ("x86_64", "6.12", wb, kt),
                ("arm64", "6.1", wb, kt_i),
                ("arm64", "6.1", verify, kt),
                ("arm64", "6.1", wb, kt),
            ]
        );
        let labels: Vec<(&str, &str)> = g[..3]
            .iter()
            .map(|g| (g.compares.as_str(), g.hashing.as_str()))
            .collect();
        assert_eq!(
            labels,
            [
                ("warmboot default / kexec -i", "neither hashes"),
                ("warmboot --verify / kexec-tools default", "both hash"),
                (
                    "warmboot default / kexec-tools default",
                    "only kexec-tools hashes"
                ),
            ]
        );
        let close = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-9;
        // x86_64 6.1: 2.95 / 6.25 = 0.47 ≤ 0.6 — met; 3.95 / 10.25 = 0.39, no target;
        // 2.95 / 10.25 = 0.29 ≤ 0.5 — met.
        assert!(close(g[0].ratio, 2.95 / 6.25));
        assert_eq!((g[0].met, g[0].max_ratio), (Some(true), Some(0.6)));
        assert!(close(g[1].ratio, 3.95 / 10.25));
        assert_eq!((g[1].met, g[1].max_ratio), (None, None));
        assert!(close(g[2].ratio, 2.95 / 10.25));
        assert_eq!((g[2].met, g[2].max_ratio), (Some(true), Some(0.5)));
        // x86_64 6.12: 8.45 / 6.25 = 1.35, 8.45 / 10.25 = 0.82 — neither met; no --verify
        // sample, no ratio.
        assert_eq!((g[3].met, g[5].met), (Some(false), Some(false)));
        assert_eq!((g[4].ratio, g[4].met), (None, None));
        assert_eq!(g[3].kernel, "6.12.118+deb13-amd64");
        // arm64: no target against `kexec -i` or for --verify; 3.75 / 5.35 = 0.70 > 0.5.
        assert_eq!((g[6].max_ratio, g[6].met), (None, None));
        assert!(close(g[6].ratio, 3.75 / 4.15));
        assert_eq!(g[8].met, Some(false));
        // Exactly half is met.
        let mut v = synthetic();
        for s in v.iter_mut().filter(|s| s.arch == "arm64") {
            if s.id == "warm-kexec-tools" {
                s.downtime_s = Some(10.0);
            } else if s.id == "warm-warmboot-classic" {
                s.downtime_s = Some(5.0);
            }
        }
        assert_eq!(goals(&v, &[GuestArch::Arm64])[2].met, Some(true));
    }

    #[test]
    fn a_side_without_passing_samples_gives_no_ratio_and_no_verdict() {
        let mut v = synthetic();
        for s in v.iter_mut().filter(|s| s.id == "warm-kexec-tools") {
            s.ok = false;
        }
        for s in v
            .iter_mut()
            .filter(|s| s.id == "warm-warmboot-classic-verify")
        {
            s.ok = false;
        }
        let g = goals(&v, &[GuestArch::Arm64]);
        assert_eq!(g.len(), 3);
        assert!(g[0].ratio.is_some());
        assert_eq!((g[1].ratio, g[1].met), (None, None));
        assert_eq!((g[2].ratio, g[2].met), (None, None));
        let o = optimisations(&v, &[GuestArch::Arm64]);
        assert_eq!((o[0].ratio, o[0].off_downtime_s), (None, None));
        let text = render(&o, &g, &[]);
        assert!(
            text.contains("downtime - → 3.75 s, no ratio (a side has no passing sample)"),
            "{text}"
        );
        assert!(text.contains("= -: not measured"), "{text}");
        // Pairs and goals of variants this run did not select are left out.
        let only_cold: Vec<Sample> = Vec::new();
        assert!(optimisations(&only_cold, &[GuestArch::X86_64]).is_empty());
        assert!(goals(&only_cold, &[GuestArch::X86_64]).is_empty());
    }

    /// Issue 19 item 3: the load-cost line gives both ratios from the one run, each
    /// against its bound (met exactly at it, not above), and says when a side is missing.
    #[test]
    fn load_cost_gives_time_and_peak_ratios_against_their_bounds() {
        let mut v = synthetic();
        for s in v.iter_mut() {
            s.loader_hwm_kib = Some(match s.id.as_str() {
                "warm-warmboot-classic" => 40 * 1024,
                "warm-warmboot-classic-verify" => 50 * 1024,
                _ => 20 * 1024,
            });
        }
        let l = load_goals(&v, &[GuestArch::X86_64, GuestArch::Arm64]);
        let what: Vec<(&str, &str, &str)> = l
            .iter()
            .map(|l| (l.series.as_str(), l.warmboot.as_str(), l.reference.as_str()))
            .collect();
        assert_eq!(
            what,
            [
                ("6.1", "warm-warmboot-classic", "warm-kexec-tools-i"),
                ("6.1", "warm-warmboot-classic-verify", "warm-kexec-tools"),
                ("6.12", "warm-warmboot-classic", "warm-kexec-tools-i"),
                ("6.12", "warm-warmboot-classic-verify", "warm-kexec-tools"),
            ],
            "x86_64 only"
        );
        let close = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-9;
        // 6.1, default / -i: load 3.5 / 1.5 = 2.33 > 1.5; peak 40 / 20 = 2.0, at the bound.
        assert!(close(l[0].time_ratio, 3.5 / 1.5));
        assert_eq!((l[0].time_met, l[0].peak_met), (Some(false), Some(true)));
        assert!(close(l[0].peak_ratio, 2.0));
        // --verify / default: 3.6 / 4.0 = 0.9 met; 50 / 20 = 2.5 not.
        assert_eq!((l[1].time_met, l[1].peak_met), (Some(true), Some(false)));
        // 6.12 has no --verify sample: no ratios, no verdicts.
        assert_eq!((l[3].time_ratio, l[3].time_met), (None, None));
        assert_eq!((l[3].peak_ratio, l[3].peak_met), (None, None));
        assert_eq!(l[2].kernel, "6.12.118+deb13-amd64");
        let text = render(&[], &[], &l);
        assert!(
            text.contains(
                "Load cost: warmboot default / kexec -i (neither hashes) — x86_64 6.1: time \
                 warm-warmboot-classic 3.50 s / warm-kexec-tools-i 1.50 s = 2.33 (≤ 1.5: not \
                 met); peak 40.0 MiB / 20.0 MiB = 2.00 (≤ 2: met)"
            ),
            "{text}"
        );
        assert!(
            text.contains("= - (≤ 1.5: not measured (a side has no passing sample))"),
            "{text}"
        );
        // A run without the pairs' variants has no load-cost line.
        let cold: Vec<Sample> = v.iter().filter(|s| s.arch == "arm64").cloned().collect();
        assert!(load_goals(&cold, &[GuestArch::X86_64, GuestArch::Arm64]).is_empty());
    }

    #[test]
    fn the_section_names_each_pair_and_goal() {
        let arches = [GuestArch::X86_64, GuestArch::Arm64];
        let v = synthetic();
        insta::assert_snapshot!(
            "ab_section",
            render(
                &optimisations(&v, &arches),
                &goals(&v, &arches),
                &load_goals(&v, &arches)
            )
        );
    }
}
