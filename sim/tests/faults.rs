//! Fault injection through the simulator (issue 9): for every step of a load, exec or
//! unload — each kernel call, each status read and each of warmboot's own mid-load steps —
//! fail exactly that step with each errno, and check what is loaded afterwards against
//! the kernel's rules (kernel/kexec.c do_kexec_load, kernel/kexec_file.c): a failed normal
//! load keeps the previous normal image; a crash load that fails after the kernel's early
//! checks has already freed the previous crash image. The one-line error must say which.
//! Auto's fallbacks are steps too: kexec_file_load → kexec_load (ENOSYS, EINVAL) and
//! kexec_load → kexec_file_load (EPERM, EACCES: lockdown, LoadPin, IMA); a failure at any
//! step in between leaves nothing half-loaded.

mod common;

use common::cli::{assert_one_line_failure, images, run, Machine, Run};
use nix::errno::Errno;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use warmboot::arch::Arch;
use warmboot::memmap::Mode;
use warmboot_sim::faults::{load_fails_before_any_change, Call, Faults};
use warmboot_sim::Sim;

const ERRNOS: &[Errno] = &[
    Errno::EPERM,
    Errno::EACCES,
    Errno::EBUSY,
    Errno::ENOSYS,
    Errno::EINVAL,
    Errno::ENOMEM,
    Errno::EADDRNOTAVAIL,
    Errno::EIO,
];

/// A command run on a machine that already holds a normal and a crash kernel.
struct Scenario {
    name: String,
    /// Holds the machine's files (the kernel the command loads) for the scenario's life.
    _machine: Machine,
    base: Sim,
    args: Vec<String>,
    /// The command loads a crash kernel.
    panic: bool,
    /// `--syscall auto`: a kexec_file_load ENOSYS or EINVAL falls back to kexec_load, a
    /// kexec_load EPERM or EACCES to kexec_file_load.
    auto: bool,
    /// The steps the command takes without faults.
    steps: Vec<String>,
}

impl Scenario {
    /// The image slot the command targets.
    fn mode(&self) -> Mode {
        if self.panic {
            Mode::Panic
        } else {
            Mode::Normal
        }
    }
}

fn machine(arch: Arch) -> Machine {
    match arch {
        Arch::X86_64 => Machine::x86(),
        Arch::Arm64 => Machine::arm64(),
        Arch::Riscv64 => Machine::riscv64(),
    }
}

fn scenario(arch: Arch, kexec_file: bool, args: &[&str]) -> Scenario {
    scenario_with(arch, kexec_file, args, false)
}

/// A scenario; with `decompressible`, an x86 kernel auto loads with kexec_load.
fn scenario_with(arch: Arch, kexec_file: bool, args: &[&str], decompressible: bool) -> Scenario {
    let m = machine(arch);
    let mut base = m.sim();
    if !kexec_file {
        base = base.without_kexec_file();
    }
    m.preload(&mut base, "prev", false);
    m.preload(&mut base, "prev-crash", true);
    let args: Vec<String> = if args[0] == "load" {
        let k = if decompressible {
            m.decompressible_kernel("next")
        } else {
            m.kernel("next")
        };
        let mut a = m.load_args(&k);
        // A command line of its own, so the new image differs from the preloaded ones.
        let cmdline = a.last_mut().unwrap();
        cmdline.push_str(" next");
        a.extend(args[1..].iter().map(|s| s.to_string()));
        a
    } else {
        args.iter().map(|s| s.to_string()).collect()
    };
    // The same command without faults succeeds; its steps are what gets failed in turn.
    let mut clean = base.clone();
    clean.set_faults(Faults::none());
    let r = run(&mut clean, &args);
    assert_eq!(r.code, 0, "{args:?}: {r:?}");
    let panic = args.iter().any(|a| a == "--panic");
    let auto = args[0] == "load" && !args.iter().any(|a| a == "--syscall");
    Scenario {
        name: format!("{arch} kexec_file={kexec_file} {}", args.join(" ")),
        _machine: m,
        base,
        args,
        panic,
        auto,
        steps: clean.steps(),
    }
}

fn scenarios() -> Vec<Scenario> {
    use Arch::{Arm64, X86_64};
    vec![
        scenario(X86_64, true, &["load"]),
        scenario(X86_64, true, &["load", "--syscall", "classic"]),
        scenario(X86_64, false, &["load"]),
        scenario(X86_64, true, &["load", "--panic"]),
        scenario(X86_64, true, &["load", "--panic", "--syscall", "classic"]),
        scenario(X86_64, false, &["load", "--panic"]),
        scenario(Arm64, true, &["load", "--syscall", "classic", "--verify"]),
        scenario(Arm64, true, &["load", "--panic", "--syscall", "classic"]),
        // auto with kexec_load first (the decompressed x86 entry), and kexec_file_load when
        // kexec_load is refused.
        scenario_with(X86_64, true, &["load"], true),
        scenario(X86_64, true, &["exec", "--no-sync"]),
        scenario(X86_64, true, &["unload"]),
        scenario(Arm64, true, &["unload", "--panic"]),
    ]
}

/// Fails step `k` (1-based) of `s` with `errno` and checks the outcome.
fn fail_at(s: &Scenario, k: usize, errno: Errno) -> Result<(), TestCaseError> {
    let mut sim = s.base.clone();
    sim.set_faults(Faults::none().at(k, errno));
    let before = images(&sim);
    let r = run(&mut sim, &s.args);
    let after = images(&sim);
    let step = &s.steps[k - 1];
    let ctx = format!("{}: step {k} ({step}) fails with {errno:?}: {r:?}", s.name);
    // auto whose first call is kexec_load, refused by lockdown or a security module,
    // must load through kexec_file_load (available in these scenarios when it is first).
    let classic_first = s.steps.get(1).is_some_and(|c| c == "kexec_load");
    if s.auto
        && classic_first
        && step == "kexec_load"
        && matches!(errno, Errno::EPERM | Errno::EACCES)
    {
        prop_assert_eq!(r.code, 0, "no fallback to kexec_file_load: {}", ctx);
    }
    if r.code == 0 {
        // Two failures that are no failure of the command: auto falls back when
        // kexec_file_load is missing or refuses the image or request (ENOSYS, EINVAL here;
        // kexec-tools' EFALLBACK errnos) and loads warmboot's own plan with kexec_load;
        // and a load goes ahead when the status read before it (only for the report) fails.
        let fallback =
            s.auto && step == "kexec_file_load" && matches!(errno, Errno::ENOSYS | Errno::EINVAL);
        let fall_forward =
            s.auto && step == "kexec_load" && matches!(errno, Errno::EPERM | Errno::EACCES);
        let status_for_report = s.args[0] == "load" && k == 1 && step == "status";
        prop_assert!(fallback || fall_forward || status_for_report, "{}", ctx);
        if fallback {
            prop_assert!(r.out.contains("fell back to kexec_load"), "{}", ctx);
        }
        if fall_forward {
            prop_assert!(
                r.out.contains("with kexec_file_load (kexec_load(entry=0x")
                    && r.out.contains(&format!("failed: {errno:?}, refused by "))
                    && r.out.contains("; fell back to kexec_file_load)"),
                "{}",
                ctx
            );
        }
        prop_assert!(r.out.starts_with("loaded "), "{}", ctx);
        prop_assert!(sim.image(s.mode()).is_some(), "{}", ctx);
        prop_assert!(images(&sim) != before, "nothing new was loaded: {}", ctx);
        return Ok(());
    }
    assert_one_line_failure(&r, &ctx);
    check_message(&r, s, k, errno, &ctx)?;
    let crash_freed =
        s.panic && load_call(step).is_some_and(|c| !load_fails_before_any_change(c, errno));
    // (== rather than assert_eq: a failure would print whole simulated memories)
    prop_assert!(after.0 == before.0, "the normal image changed: {}", ctx);
    if crash_freed {
        prop_assert!(after.1.is_none(), "the crash image survived: {}", ctx);
    } else {
        prop_assert!(after.1 == before.1, "the crash image changed: {}", ctx);
    }
    prop_assert_eq!(sim.executed(), None, "{}", ctx);
    // The comparisons above are of the preloaded images, not of nothing.
    prop_assert!(before.0.is_some() && before.1.is_some(), "{}", ctx);
    Ok(())
}

/// The load call a step names, if it is one.
fn load_call(step: &str) -> Option<Call> {
    match step {
        "kexec_load" => Some(Call::KexecLoad),
        "kexec_file_load" => Some(Call::KexecFileLoad),
        _ => None,
    }
}

/// The error line says what is loaded now.
fn check_message(
    r: &Run,
    s: &Scenario,
    k: usize,
    errno: Errno,
    ctx: &str,
) -> Result<(), TestCaseError> {
    let step = &s.steps[k - 1];
    let expect = if k == 1 && step == "status" && s.args[0] == "exec" {
        "could not read what is loaded, so nothing was attempted"
    } else if s.args[0] == "exec" {
        "the loaded kernel is still loaded"
    } else if s.args[0] == "unload" {
        if s.panic {
            "the crash kernel is still loaded"
        } else {
            "the kernel is still loaded"
        }
    } else if !s.panic {
        "the previously loaded kernel is still loaded"
    } else if load_call(step).is_some_and(|c| !load_fails_before_any_change(c, errno)) {
        "the kernel unloaded the previous crash kernel when the load began; no crash kernel is loaded now"
    } else {
        "the previously loaded crash kernel is still loaded"
    };
    if s.args[0] == "unload" && step == "status" {
        // unload reads the status first; its failure is the plain read error.
        prop_assert!(
            r.err.contains("/sys/kernel/kexec_loaded: cannot read"),
            "{}",
            ctx
        );
        return Ok(());
    }
    prop_assert!(r.err.contains(expect), "expected {:?}: {}", expect, ctx);
    if step.starts_with("kexec") || step == "exec" || step == "unload" {
        prop_assert!(r.err.contains(&format!("{errno:?}")), "{}", ctx);
    }
    // Loads name the kernel file.
    if s.args[0] == "load" {
        prop_assert!(r.err.contains(&s.args[1]), "{}", ctx);
    }
    Ok(())
}

/// Every step of every scenario, failed with every errno.
#[test]
fn a_failure_at_any_step_leaves_what_the_kernel_rules_say() {
    let scenarios = scenarios();
    let mut checked = 0;
    for s in &scenarios {
        assert!(!s.steps.is_empty(), "{}", s.name);
        for k in 1..=s.steps.len() {
            for &errno in ERRNOS {
                if let Err(e) = fail_at(s, k, errno) {
                    panic!("{e}");
                }
                checked += 1;
            }
        }
    }
    // The steps themselves: a load with the file syscall reads the status, opens the
    // files and calls kexec_file_load; the fallback adds its own step and kexec_load.
    let steps = |i: usize| scenarios[i].steps.join(", ");
    assert_eq!(
        steps(0),
        "status, step: open the kernel and initrd, kexec_file_load"
    );
    assert_eq!(steps(1), "status, kexec_load");
    assert_eq!(
        steps(2),
        "status, step: open the kernel and initrd, kexec_file_load, step: fall back to kexec_load, kexec_load"
    );
    assert_eq!(
        steps(8),
        "status, kexec_load",
        "auto loads the decompressible kernel with kexec_load"
    );
    assert_eq!(steps(9), "status, status, exec");
    assert!(checked > 100, "{checked}");
}

/// Random scenario, step and errno, including steps past the end (no fault fires, the
/// command succeeds).
#[test]
fn random_faults() {
    let scenarios = scenarios();
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });
    let strategy = (
        0..scenarios.len(),
        1usize..8,
        proptest::sample::select(ERRNOS),
    );
    runner
        .run(&strategy, |(i, k, errno)| {
            let s = &scenarios[i];
            if k <= s.steps.len() {
                fail_at(s, k, errno)
            } else {
                let mut sim = s.base.clone();
                sim.set_faults(Faults::none().at(k, errno));
                let r = run(&mut sim, &s.args);
                prop_assert_eq!(r.code, 0, "{}: {:?}", s.name, r);
                Ok(())
            }
        })
        .unwrap();
}
