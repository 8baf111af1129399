//! The boot matrix `cargo xtask ci` runs: every scenario the harness proves on every
//! commit, and the summary table printed at the end.

use crate::boot::{self, Args, Loader, Outcome, Scenario, Syscall, X86Entry};
use crate::error::Result;
use crate::qemu::{Firmware, GuestArch};
use std::path::Path;

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

/// Where `derived_kernels` writes the re-wrapped arm64 kernels.
fn derived_path(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from("target/xtask/derived").join(name)
}

fn derived(arch: GuestArch, firmware: Firmware, name: &str) -> Case {
    let mut c = case(arch, Scenario::Warm, firmware, Syscall::Auto);
    c.args.loader = Loader::Warmboot;
    c.args.next_kernel = Some(derived_path(name));
    c
}

/// Writes the pinned arm64 Image as Image.gz (gzip) and as an EFI zboot image (gzip
/// payload, built with the loader's synth builder the way drivers/firmware/efi/libstub's
/// Makefile.zboot lays it out), for the matrix's decompression cases.
pub fn derived_kernels(root: &Path) -> Result<()> {
    use warmboot::compression::Compression;
    use warmboot::synth::arm64::{gzip, zboot};
    let cache = crate::cache::Cache::from_env()?;
    let image_path = boot::pinned_kernel(&cache, GuestArch::Arm64, None)?;
    let image = std::fs::read(&image_path).map_err(crate::error::Error::io(&image_path))?;
    let dir = root.join(derived_path(""));
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
    Ok(())
}

/// The CI matrix: both architectures, warm/panic/cold, both firmware kinds, both syscalls
/// where the kernel offers them (Debian's arm64 kernel has no kexec_file_load), warmboot
/// as the loader where it loads that architecture, and the reference loader kexec-tools
/// beside it. Runs chain what they can: a warm run with two hops proves the second hop.
pub fn ci_matrix() -> Vec<Case> {
    use Firmware::{Bios, Uefi};
    use GuestArch::{Arm64, X86_64};
    use Scenario::{Cold, Panic, Warm};
    let warmboot = |arch, scenario, firmware, syscall, memory, hops| {
        let mut c = case(arch, scenario, firmware, syscall);
        c.args.loader = Loader::Warmboot;
        c.args.memory = memory;
        c.args.hops = hops;
        c
    };
    let arm64_panic_with_kexec_tools = |fw| {
        let mut c = case(Arm64, Panic, fw, Syscall::Classic);
        c.must_fail = Some(ExpectedFailure {
            reason_contains: "unreadable",
            because: "kexec-tools writes a broken crash ELF header on Debian's arm64 6.1 kernel \
                      (no _text in /proc/kallsyms, ../shared/notes/qemu.md); warmboot's arm64 \
                      loader replaces it here",
        });
        c
    };
    let verified = |arch| {
        let mut c = warmboot(arch, Warm, Bios, Syscall::Classic, 1024, 1);
        c.args.verify = true;
        c
    };
    let mut broken = case(X86_64, Warm, Bios, Syscall::Classic);
    broken.args.break_next = true;
    broken.must_fail = Some(ExpectedFailure {
        reason_contains: "never printed its ready marker",
        because: "harness self-test: the next kernel's init prints a wrong marker",
    });
    use Syscall::{Auto, Classic, File};
    let two = |a, b| vec![a, b];
    let warm_both = |arch, fw, memory, first, second| {
        let mut c = warmboot(arch, Warm, fw, first, memory, 2);
        c.args.syscall = two(first, second);
        c
    };
    let entry = |mut c: Case, e| {
        c.args.x86_entry = Some(e);
        c
    };
    vec![
        // x86_64 with warmboot: SeaBIOS and OVMF, 1 and 4 GiB, both syscalls and a second
        // hop in each warm run, and a panic per machine. kexec_load hops take the
        // loader's default entry (the kernel decompressed and placed at a fresh KASLR
        // offset at load time, checked against the new kernel's own layout), except:
        // OVMF at 1 GiB asks for the decompressed entry on both hops, and the 4 GiB
        // SeaBIOS run keeps the bzImage entry (its own decompressor) covered on its
        // kexec_load hop.
        warm_both(X86_64, Bios, 1024, Classic, File),
        entry(
            warm_both(X86_64, Uefi, 1024, Classic, Classic),
            X86Entry::Decompressed,
        ),
        entry(
            warm_both(X86_64, Bios, 4096, File, Classic),
            X86Entry::Bzimage,
        ),
        warm_both(X86_64, Uefi, 4096, Classic, File),
        warmboot(X86_64, Panic, Bios, Classic, 1024, 1),
        warmboot(X86_64, Panic, Uefi, File, 1024, 1),
        warmboot(X86_64, Panic, Bios, File, 4096, 1),
        warmboot(X86_64, Panic, Uefi, Classic, 4096, 1),
        // arm64 with warmboot (auto: the kernel has no kexec_file_load, so kexec_load with
        // warmboot's DTB and entry stub).
        warmboot(Arm64, Warm, Bios, Auto, 1024, 2),
        warmboot(Arm64, Warm, Uefi, Auto, 1024, 2),
        warmboot(Arm64, Warm, Bios, Auto, 4096, 1),
        warmboot(Arm64, Warm, Uefi, Auto, 4096, 1),
        warmboot(Arm64, Panic, Bios, Auto, 1024, 1),
        warmboot(Arm64, Panic, Uefi, Auto, 4096, 1),
        // arm64 Image.gz and EFI zboot, decompressed by warmboot at load time: the pinned
        // Image re-wrapped (Debian's 6.1 ships a raw Image) by `derived_kernels`.
        derived(Arm64, Uefi, "Image.gz"),
        derived(Arm64, Bios, "Image.zboot"),
        // load --verify: warmboot's purgatory checks the segments' SHA-256 first.
        verified(X86_64),
        verified(Arm64),
        // The reference loader on the same machines.
        case(X86_64, Warm, Bios, Classic),
        case(Arm64, Warm, Bios, Classic),
        arm64_panic_with_kexec_tools(Bios),
        // Cold reboots through the firmware.
        case(X86_64, Cold, Bios, Auto),
        case(X86_64, Cold, Uefi, Auto),
        case(Arm64, Cold, Bios, Auto),
        case(Arm64, Cold, Uefi, Auto),
        broken,
    ]
}

/// `cargo xtask matrix`: the CI boot matrix, an error unless every case came out as it must.
pub fn run_ci(root: &Path) -> Result<()> {
    boot::prepare(root)?;
    derived_kernels(root)?;
    if run(root, &ci_matrix())? {
        Ok(())
    } else {
        Err(crate::error::Error::Boot {
            reason: "matrix: at least one scenario did not come out as it must".into(),
        })
    }
}

/// Runs every case, prints a summary table, and says whether the matrix passed.
pub fn run(root: &Path, cases: &[Case]) -> Result<bool> {
    let mut rows: Vec<(String, bool, Outcome)> = Vec::new();
    for c in cases {
        let outcome = boot::run_scenario(root, &c.args)?;
        boot::print_outcome(&outcome);
        let ok = match &c.must_fail {
            None => outcome.verdict.passed,
            Some(x) => {
                let ok =
                    !outcome.verdict.passed && outcome.verdict.reason.contains(x.reason_contains);
                println!(
                    "expected failure ({}): {}",
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
        rows.push((outcome.label.clone(), ok, outcome));
    }
    println!("{}", summary(&rows));
    Ok(rows.iter().all(|(_, ok, _)| *ok))
}

fn summary(rows: &[(String, bool, Outcome)]) -> String {
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
    s += &format!("{} passed, {} failed\n", rows.len() - failed, failed);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_covers_every_arch_scenario_and_firmware() {
        let m = ci_matrix();
        for arch in [GuestArch::X86_64, GuestArch::Arm64] {
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
        // Both syscalls on x86_64 warm reboots, warmboot loading, a second hop, 4 GiB,
        // and exactly one self-test.
        assert!(m.iter().any(|c| c.args.loader == Loader::Warmboot));
        assert!(m.iter().any(|c| c.args.memory == 4096));
        let x86_warm = |s| {
            m.iter().any(|c| {
                c.args.arch == GuestArch::X86_64
                    && c.args.scenario == Scenario::Warm
                    && c.args.syscall.contains(&s)
            })
        };
        assert!(x86_warm(Syscall::File) && x86_warm(Syscall::Classic));
        // The decompressed x86 entry on two kexec_load hops on OVMF, and the bzImage
        // entry still proved on a kexec_load hop.
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
        assert!(m.iter().any(|c| c.args.hops >= 2));
        // load --verify on both architectures, expected to boot.
        for arch in [GuestArch::X86_64, GuestArch::Arm64] {
            assert!(m.iter().any(|c| c.args.arch == arch
                && c.args.verify
                && !c.args.corrupt_digest
                && c.args.loader == Loader::Warmboot
                && c.must_fail.is_none()));
        }
        assert_eq!(
            m.iter()
                .filter(|c| c.must_fail.is_some() && c.args.break_next)
                .count(),
            1
        );
    }
}
