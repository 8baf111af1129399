//! `cargo xtask ci`: everything CI checks, in order, stopping at the first failure.
//!
//! Each step is one command a developer can run by hand (printed in its banner). The test
//! step runs with `WARMBOOT_REQUIRE_REAL_KERNELS=1`, so tests that need the kernels fetched
//! by the images step fail instead of skipping.

use crate::cache::Cache;
use crate::cmd::Cmd;
use crate::error::{Error, Result};
use crate::images;
use std::path::Path;
use std::time::{Duration, Instant};

type Action<'a> = Box<dyn FnOnce() -> Result<()> + 'a>;

struct Step<'a> {
    name: String,
    action: Action<'a>,
}

enum Outcome {
    Pass(Duration),
    Fail(Duration),
    NotRun,
}

pub fn run(root: &Path) -> Result<()> {
    // Plain `cargo` from PATH (rustup's proxy), so each step reads as the command a
    // developer types. WARMBOOT_REQUIRE_PURGATORY: CI builds warmboot with `load --verify`
    // (loader/build.rs would otherwise build without it when its targets are missing).
    let cargo = || {
        Cmd::new("cargo")
            .cwd(root)
            .env("WARMBOOT_REQUIRE_PURGATORY", "1")
    };
    let cache = Cache::from_env()?;

    let tests = cargo()
        .args([
            "insta",
            "test",
            "--workspace",
            "--check",
            "--unreferenced=reject",
        ])
        .env("WARMBOOT_REQUIRE_REAL_KERNELS", "1")
        .env("WARMBOOT_REQUIRE_TOOLS", "1")
        .env("WARMBOOT_CACHE", cache.root());

    let fmt = cargo().args(["fmt", "--all", "--", "--check"]);
    // fuzz/ is its own workspace (libFuzzer stays out of the main build); same format rules.
    let fmt_fuzz = cargo().args(["fmt", "--manifest-path", "fuzz/Cargo.toml", "--", "--check"]);
    let clippy = cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    let steps = vec![
        Step {
            name: "set up: Debian packages, rustup components and targets, cargo-insta, cargo-fuzz"
                .into(),
            action: Box::new(crate::setup::ensure_ci_tools),
        },
        command_step(fmt),
        command_step(fmt_fuzz),
        command_step(clippy),
        Step {
            name: "cargo xtask images".into(),
            action: Box::new(|| images::run(root, &images::Args::default())),
        },
        command_step(tests),
        Step {
            name: "cargo xtask dist".into(),
            action: Box::new(|| crate::dist::run(root, &crate::dist::Args { out: None })),
        },
        Step {
            name: format!("cargo xtask fuzz --seconds {FUZZ_SECONDS}"),
            action: Box::new(|| crate::fuzz::run(root, &crate::fuzz::fuzz_args(FUZZ_SECONDS))),
        },
        Step {
            name: format!(
                "cargo xtask bench --suite kernel --arch arm64 --runs 1 --warmup 0 --out {BENCH_SMOKE_OUT} --check"
            ),
            action: Box::new(|| bench_smoke(root)),
        },
        Step {
            name: "cargo xtask matrix".into(),
            action: Box::new(|| crate::matrix::run_ci(root, &crate::matrix::MatrixArgs::default())),
        },
        // Secure Boot: OVMF with Secure Boot enforced, Debian's signed chain, lockdown
        // (warm and panic through kexec_file_load, the refusals, unload, reboot --cold).
        Step {
            name: "secure boot: cargo xtask matrix --secure-boot".into(),
            action: Box::new(|| {
                crate::matrix::run_ci(
                    root,
                    &crate::matrix::MatrixArgs {
                        secure_boot: true,
                        ..Default::default()
                    },
                )
            }),
        },
        Step {
            name: "cargo xtask e2e".into(),
            action: Box::new(|| crate::e2e::run(root, &crate::e2e::Args { tree: None })),
        },
    ];
    run_steps(steps)
}

/// Seconds CI fuzzes each target: with the build, the step stays under 5 minutes on 2 cores.
const FUZZ_SECONDS: u64 = 10;

/// Where CI's bench smoke run writes its report.
const BENCH_SMOKE_OUT: &str = "target/bench-smoke";

/// One measured run of every arm64 variant on every pinned series (arm64 boots fastest
/// here, and no warm-up, to keep the step short: 20 runs for 6.1 and 6.12, under 9
/// minutes in a fresh clone with the static guest warmboot's build), with `--check` (bench/check.rs): the files exist, results.json parses, every
/// variant has its sample on every series, every passing one all its phases, and the
/// known-broken one failed for its known reason.
fn bench_smoke(root: &Path) -> Result<()> {
    let args = crate::bench::Args {
        suite: crate::bench::Suite::Kernel,
        arch: crate::bench::ArchChoice::Arm64,
        runs: 1,
        warmup: 0,
        out: Some(root.join(BENCH_SMOKE_OUT)),
        variants: Vec::new(),
        kernel_series: Vec::new(),
        kernel: None,
        check: true,
    };
    crate::bench::run(root, &args)
}

fn command_step<'a>(cmd: Cmd) -> Step<'a> {
    Step {
        name: cmd.display(),
        action: Box::new(move || cmd.run()),
    }
}

/// Runs the steps in order until one fails, then prints the summary.
fn run_steps(steps: Vec<Step<'_>>) -> Result<()> {
    let total = steps.len();
    let mut results: Vec<(String, Outcome)> = Vec::new();
    let mut failed: Option<(String, Error)> = None;
    for (i, step) in steps.into_iter().enumerate() {
        if failed.is_some() {
            results.push((step.name, Outcome::NotRun));
            continue;
        }
        eprintln!("\n==> [{}/{total}] {}", i + 1, step.name);
        let start = Instant::now();
        let result = (step.action)();
        let took = start.elapsed();
        match result {
            Ok(()) => results.push((step.name, Outcome::Pass(took))),
            Err(e) => {
                eprintln!("xtask ci: {e}");
                results.push((step.name.clone(), Outcome::Fail(took)));
                failed = Some((step.name, e));
            }
        }
    }
    eprintln!("\n{}", summary(&results));
    match failed {
        None => Ok(()),
        Some((step, _)) => Err(Error::CiStepFailed { step }),
    }
}

fn summary(results: &[(String, Outcome)]) -> String {
    let mut s = String::from("==> CI summary\n");
    for (name, outcome) in results {
        let line = match outcome {
            Outcome::Pass(d) => format!("  PASS  {:>7.1}s  {name}\n", d.as_secs_f64()),
            Outcome::Fail(d) => format!("  FAIL  {:>7.1}s  {name}\n", d.as_secs_f64()),
            Outcome::NotRun => format!("  ----  {:>8}  {name} (not run)\n", ""),
        };
        s.push_str(&line);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn step<'a>(name: &str, log: &'a RefCell<Vec<String>>, ok: bool) -> Step<'a> {
        let n = name.to_owned();
        Step {
            name: name.into(),
            action: Box::new(move || {
                log.borrow_mut().push(n);
                if ok {
                    Ok(())
                } else {
                    Cmd::new("false").run()
                }
            }),
        }
    }

    #[test]
    fn stops_at_the_first_failure() {
        let log = RefCell::new(Vec::new());
        let err = run_steps(vec![
            step("a", &log, true),
            step("b", &log, false),
            step("c", &log, true),
        ])
        .unwrap_err();
        assert_eq!(*log.borrow(), ["a", "b"]);
        assert_eq!(err.to_string(), "CI failed at step `b`");
    }

    #[test]
    fn all_passing_is_ok() {
        let log = RefCell::new(Vec::new());
        run_steps(vec![step("a", &log, true), step("b", &log, true)]).unwrap();
        assert_eq!(*log.borrow(), ["a", "b"]);
    }

    #[test]
    fn summary_lists_every_step() {
        let s = summary(&[
            ("fmt".into(), Outcome::Pass(Duration::from_millis(1500))),
            ("clippy".into(), Outcome::Fail(Duration::from_secs(12))),
            ("tests".into(), Outcome::NotRun),
        ]);
        insta::assert_snapshot!("ci_summary", s);
    }
}
