//! `bench --check`, CI's smoke test of a bench run: the three files are there,
//! results.json parses, and its samples prove what the report claims. Every selected
//! variant has a measured sample on every series it ran; a variant that works has a
//! passing one, and every passing measured sample carries all of its phases, sane and
//! adding up to its downtime (a report whose phase columns come from fewer runs than its
//! downtime column would mislead); a known-broken variant fails for its known reason
//! only, and passing is an error too (variants.rs would then claim a breakage that is
//! gone). Warm-up samples are left out, as they are of the statistics.
//!
//! [`check_samples`] and [`known_broken_problem`] are pure; [`check_outputs`] reads the
//! files.

use super::report::{Results, Sample, PHASES};
use super::report::{CHART, REPORT, RESULTS};
use super::variants::{arch_name, KnownBroken, Variant};
use crate::error::{Error, Result};
use std::path::Path;

/// How far the phases of a sample may add up from its downtime, in seconds. phases.rs cuts
/// both from the same host-stamped lines, so they differ only by float rounding (below a
/// microsecond); a millisecond is far above that and far below any phase.
pub const PHASE_SUM_TOLERANCE_S: f64 = 0.001;

/// Checks a bench output directory: the three files exist and are not empty, results.json
/// parses, and [`check_samples`] accepts its samples.
pub fn check_outputs(out: &Path, expected: &[Variant]) -> Result<()> {
    let fail = |reason: String| Error::Bench {
        reason: format!("smoke test: {reason}"),
    };
    for name in [REPORT, RESULTS, CHART] {
        let p = out.join(name);
        let len = std::fs::metadata(&p).map_err(Error::io(&p))?.len();
        if len == 0 {
            return Err(fail(format!("{} is empty", p.display())));
        }
    }
    let p = out.join(RESULTS);
    let text = std::fs::read_to_string(&p).map_err(Error::io(&p))?;
    let results: Results =
        serde_json::from_str(&text).map_err(|source| Error::Json { path: p, source })?;
    check_samples(&results.samples, expected).map_err(fail)
}

/// Every problem of the measured samples of `expected`, one per line; `Ok` when none.
pub fn check_samples(samples: &[Sample], expected: &[Variant]) -> Result<(), String> {
    let mut problems = Vec::new();
    for v in expected {
        let mine: Vec<&Sample> = samples
            .iter()
            .filter(|s| {
                s.arch == arch_name(v.arch) && s.series == v.series && s.id == v.id && !s.warmup
            })
            .collect();
        if mine.is_empty() {
            problems.push(format!("{} has no sample", v.label()));
            continue;
        }
        if let Some(known) = &v.known_broken {
            problems.extend(mine.iter().filter_map(|s| {
                known_broken_problem(known, s).map(|p| format!("{} run {}: {p}", v.label(), s.run))
            }));
            continue;
        }
        if !mine.iter().any(|s| s.ok) {
            let why = mine
                .iter()
                .find_map(|s| s.failure.clone())
                .unwrap_or_else(|| "no reason recorded".into());
            problems.push(format!("{} has no passing sample: {why}", v.label()));
        }
        for s in mine.iter().filter(|s| s.ok) {
            if let Err(p) = check_phases(s) {
                problems.push(format!("{} run {}: {p}", v.label(), s.run));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// What is wrong with a sample of a known-broken variant: a pass (the breakage is gone,
/// or the run no longer reaches it), or a failure for another reason (something else
/// broke, which the known breakage must not hide). `None` when it failed as known.
pub fn known_broken_problem(known: &KnownBroken, s: &Sample) -> Option<String> {
    if s.ok {
        return Some(format!(
            "known-broken variant passed: update variants.rs (it is listed as broken because \
             {})",
            known.why
        ));
    }
    let failure = s.failure.as_deref().unwrap_or("no reason recorded");
    (!known.explains(failure)).then(|| {
        format!(
            "known-broken variant failed for another reason: {failure} (its known failure \
             contains {:?}: {}; if only the wording changed, update the pattern in \
             variants.rs)",
            known.failure_contains, known.why
        )
    })
}

/// A passing sample's downtime and phases: all present, finite, the downtime positive,
/// no phase negative, and the phases adding up to the downtime within
/// [`PHASE_SUM_TOLERANCE_S`].
pub fn check_phases(s: &Sample) -> Result<(), String> {
    let downtime = match s.downtime_s {
        Some(d) if d.is_finite() && d > 0.0 => d,
        Some(d) => return Err(format!("passed with a downtime of {d} s")),
        None => return Err("passed without a downtime".into()),
    };
    let missing: Vec<&str> = PHASES
        .iter()
        .filter(|(_, f)| f(s).is_none())
        .map(|(name, _)| *name)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "passed without its {} phase{}{}",
            missing.join(", "),
            if missing.len() == 1 { "" } else { "s" },
            s.failure
                .as_deref()
                .map(|f| format!(" ({f})"))
                .unwrap_or_default()
        ));
    }
    let mut sum = 0.0;
    for (name, f) in PHASES {
        let x = f(s).unwrap_or_default();
        if !x.is_finite() || x < 0.0 {
            return Err(format!("passed with a {name} phase of {x} s"));
        }
        sum += x;
    }
    if (sum - downtime).abs() > PHASE_SUM_TOLERANCE_S {
        return Err(format!(
            "its phases add up to {sum:.6} s, not its downtime {downtime:.6} s (tolerance \
             {PHASE_SUM_TOLERANCE_S} s)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::variants::{self, ARM64_KEXEC_TOOLS_PANIC};
    use crate::qemu::GuestArch;

    /// The failure reason of kexec-tools' arm64 panic on 6.1 under the capture kernel's
    /// x-check-vmcore (the verdict of a real run's lines, verdict.rs
    /// `a_vmcore_check_that_failed_in_the_guest_fails_with_its_reason`).
    const CAPTURED_FAILURE: &str = "the guest reported a failure at hop 1: vmcore check \
                                    failed (warmboot: /proc/vmcore: invalid vmcore header: \
                                    PT_LOAD 1 (p_vaddr 0xffffffffffffffff): physical address \
                                    0x2feb3e600000 + size 0xffffd01503c10000 wraps past the \
                                    end of the address space)";

    /// A passing measured sample of every variant of arm64 on 6.1 and 6.12, with phases
    /// 0.25 + 0.5 + 3 s; the known-broken one failed as known.
    fn smoke_run() -> (Vec<Variant>, Vec<Sample>) {
        let mut expected = variants::variants(GuestArch::Arm64, "6.1");
        expected.extend(variants::variants(GuestArch::Arm64, "6.12"));
        let samples = expected
            .iter()
            .map(|v| {
                let mut s = crate::bench::report::tests::sample(
                    "arm64",
                    v.id,
                    variants::scenario_name(v.scenario),
                    v.loader_name(),
                    1,
                );
                s.series = v.series.clone();
                if let Some(known) = v.known_broken {
                    s.ok = false;
                    s.known_broken = Some(known.why.into());
                    s.failure = Some(CAPTURED_FAILURE.into());
                } else {
                    s.shutdown_s = Some(0.25);
                    s.handoff_s = Some(0.5);
                    s.boot_s = Some(3.0);
                    s.downtime_s = Some(3.75);
                }
                s
            })
            .collect();
        (expected, samples)
    }

    fn find<'a>(samples: &'a mut [Sample], series: &str, id: &str) -> &'a mut Sample {
        samples
            .iter_mut()
            .find(|s| s.series == series && s.id == id)
            .unwrap()
    }

    #[test]
    fn a_complete_run_passes() {
        let (expected, samples) = smoke_run();
        assert!(expected.iter().any(|v| v.known_broken.is_some()));
        check_samples(&samples, &expected).unwrap();
    }

    /// CI's smoke step checks kexec-tools' UEFI peer like any variant: a run without its
    /// sample, or with only a failing one, fails naming it.
    #[test]
    fn the_kexec_tools_uefi_peer_is_checked_on_every_series() {
        let (expected, samples) = smoke_run();
        let peer = "warm-kexec-tools-i-uefi";
        for series in ["6.1", "6.12"] {
            assert!(expected.iter().any(|v| v.id == peer && v.series == series));
        }
        let without: Vec<Sample> = samples
            .iter()
            .filter(|s| !(s.id == peer && s.series == "6.12"))
            .cloned()
            .collect();
        assert_eq!(
            check_samples(&without, &expected).unwrap_err(),
            "arm64/6.12/warm-kexec-tools-i-uefi has no sample"
        );
        let mut failed = samples.clone();
        let s = find(&mut failed, "6.1", peer);
        s.ok = false;
        s.failure = Some("timed out after 240 s".into());
        assert_eq!(
            check_samples(&failed, &expected).unwrap_err(),
            "arm64/6.1/warm-kexec-tools-i-uefi has no passing sample: timed out after 240 s"
        );
    }

    #[test]
    fn a_passing_sample_missing_a_phase_fails_naming_it_and_why() {
        let (expected, mut samples) = smoke_run();
        let s = find(&mut samples, "6.12", "warm-kexec-tools");
        s.handoff_s = None;
        s.failure = Some("passed, but no phases: no \"Linux version\" line".into());
        assert_eq!(
            check_samples(&samples, &expected).unwrap_err(),
            "arm64/6.12/warm-kexec-tools run 1: passed without its handoff phase (passed, \
             but no phases: no \"Linux version\" line)"
        );
        let s = find(&mut samples, "6.12", "warm-kexec-tools");
        s.shutdown_s = None;
        s.boot_s = None;
        s.failure = None;
        assert_eq!(
            check_samples(&samples, &expected).unwrap_err(),
            "arm64/6.12/warm-kexec-tools run 1: passed without its shutdown, handoff, boot \
             phases"
        );
    }

    #[test]
    fn every_passing_measured_sample_counts_not_just_one() {
        let (expected, mut samples) = smoke_run();
        // A second measured run of cold-uefi that passed without phases: the first run's
        // phases do not stand in for it.
        let mut second = find(&mut samples, "6.1", "cold-uefi").clone();
        second.run = 2;
        second.boot_s = None;
        samples.push(second.clone());
        let e = check_samples(&samples, &expected).unwrap_err();
        assert_eq!(
            e,
            "arm64/6.1/cold-uefi run 2: passed without its boot phase"
        );
        // A warm-up sample is not checked.
        samples.pop();
        second.run = 0;
        second.warmup = true;
        samples.push(second);
        check_samples(&samples, &expected).unwrap();
    }

    #[test]
    fn phases_must_be_sane_and_add_up_to_the_downtime() {
        let (_, samples) = smoke_run();
        let good = samples.iter().find(|s| s.ok).unwrap().clone();
        check_phases(&good).unwrap();
        // Within the tolerance.
        let mut s = good.clone();
        s.downtime_s = Some(3.75 + PHASE_SUM_TOLERANCE_S / 2.0);
        check_phases(&s).unwrap();
        // Beyond it: a phase lost or double-counted.
        s.downtime_s = Some(3.76);
        assert_eq!(
            check_phases(&s).unwrap_err(),
            "its phases add up to 3.750000 s, not its downtime 3.760000 s (tolerance 0.001 s)"
        );
        let mut s = good.clone();
        s.shutdown_s = Some(-0.25);
        s.boot_s = Some(3.5);
        assert_eq!(
            check_phases(&s).unwrap_err(),
            "passed with a shutdown phase of -0.25 s"
        );
        let mut s = good.clone();
        s.handoff_s = Some(f64::NAN);
        assert_eq!(
            check_phases(&s).unwrap_err(),
            "passed with a handoff phase of NaN s"
        );
        let mut s = good.clone();
        s.downtime_s = None;
        assert_eq!(check_phases(&s).unwrap_err(), "passed without a downtime");
        s.downtime_s = Some(0.0);
        assert_eq!(
            check_phases(&s).unwrap_err(),
            "passed with a downtime of 0 s"
        );
    }

    #[test]
    fn the_known_broken_variant_passes_only_failing_for_its_known_reason() {
        let (expected, mut samples) = smoke_run();
        assert!(ARM64_KEXEC_TOOLS_PANIC.explains(CAPTURED_FAILURE));
        // Another failure: reported with both texts.
        let s = find(&mut samples, "6.1", "panic-kexec-tools");
        s.failure = Some("timed out after 240 s".into());
        let e = check_samples(&samples, &expected).unwrap_err();
        assert!(
            e.starts_with(
                "arm64/6.1/panic-kexec-tools run 1: known-broken variant failed for another \
                 reason: timed out after 240 s (its known failure contains \"wraps past the end of \
                 the address space\": \
                 kexec-tools writes a broken crash ELF header"
            ),
            "{e}"
        );
        assert!(e.ends_with("update the pattern in variants.rs)"), "{e}");
        // No reason at all is not the known reason either.
        let s = find(&mut samples, "6.1", "panic-kexec-tools");
        s.failure = None;
        let e = check_samples(&samples, &expected).unwrap_err();
        assert!(e.contains("another reason: no reason recorded"), "{e}");
        // A pass is loud, and fails the check: the list must stay true.
        let s = find(&mut samples, "6.1", "panic-kexec-tools");
        s.ok = true;
        s.downtime_s = Some(2.0);
        let e = check_samples(&samples, &expected).unwrap_err();
        assert!(
            e.starts_with(
                "arm64/6.1/panic-kexec-tools run 1: known-broken variant passed: update \
                 variants.rs (it is listed as broken because kexec-tools writes"
            ),
            "{e}"
        );
        // The same variant on 6.12 is not known broken: it must pass.
        let (expected, mut samples) = smoke_run();
        let s = find(&mut samples, "6.12", "panic-kexec-tools");
        s.ok = false;
        s.failure = Some(CAPTURED_FAILURE.into());
        assert_eq!(
            check_samples(&samples, &expected).unwrap_err(),
            format!("arm64/6.12/panic-kexec-tools has no passing sample: {CAPTURED_FAILURE}")
        );
    }

    #[test]
    fn every_variant_and_series_needs_its_sample_and_every_problem_is_listed() {
        let (expected, mut samples) = smoke_run();
        let s = find(&mut samples, "6.1", "cold-direct");
        s.ok = false;
        s.failure = Some("timed out".into());
        find(&mut samples, "6.12", "cold-uefi").boot_s = None;
        assert_eq!(
            check_samples(&samples, &expected).unwrap_err(),
            "arm64/6.1/cold-direct has no passing sample: timed out\n\
             arm64/6.12/cold-uefi run 1: passed without its boot phase"
        );
        samples.retain(|s| s.id != "cold-direct" || s.series != "6.1");
        find(&mut samples, "6.12", "cold-uefi").boot_s = Some(3.0);
        assert_eq!(
            check_samples(&samples, &expected).unwrap_err(),
            "arm64/6.1/cold-direct has no sample"
        );
        // A sample of the other series does not stand in for a missing one.
        let only_old: Vec<Sample> = smoke_run()
            .1
            .into_iter()
            .filter(|s| s.series == "6.1")
            .collect();
        let e = check_samples(&only_old, &expected).unwrap_err();
        assert!(
            e.starts_with("arm64/6.12/cold-direct has no sample\n"),
            "{e}"
        );
        assert_eq!(e.lines().count(), expected.len() / 2, "{e}");
    }

    #[test]
    fn the_files_must_be_there_and_parse() {
        let dir = tempfile::tempdir().unwrap();
        let (expected, samples) = smoke_run();
        let e = check_outputs(dir.path(), &expected)
            .unwrap_err()
            .to_string();
        assert!(e.contains(REPORT), "{e}");
        let mut results = crate::bench::report::tests::fixed_results();
        results.samples = samples;
        std::fs::write(dir.path().join(REPORT), "# report\n").unwrap();
        std::fs::write(dir.path().join(CHART), "<svg/>").unwrap();
        std::fs::write(dir.path().join(RESULTS), "").unwrap();
        let e = check_outputs(dir.path(), &expected)
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("results.json is empty"), "{e}");
        let json = serde_json::to_string(&results).unwrap();
        std::fs::write(dir.path().join(RESULTS), &json).unwrap();
        check_outputs(dir.path(), &expected).unwrap();
        results.samples[0].handoff_s = None;
        let json = serde_json::to_string(&results).unwrap();
        std::fs::write(dir.path().join(RESULTS), &json).unwrap();
        let e = check_outputs(dir.path(), &expected)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("bench: smoke test: arm64/6.1/cold-direct run 1: passed without"),
            "{e}"
        );
    }
}
