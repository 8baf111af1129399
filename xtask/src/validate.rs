//! `cargo xtask validate --kernel PATH`: one command to validate a new Debian kernel file
//! (e.g. `boot/vmlinuz-<release>` from a linux-image .deb) before pinning it: the boot
//! scenarios on it (warm with both x86 syscalls and a second hop, warm through UEFI,
//! panic, cold, the kexec-tools reference), upgrades and downgrades between it and every
//! pinned series, and a short bench of every variant on it (`bench --kernel`), each
//! judged as the CI matrix and `bench --check` judge them.

use crate::bench;
use crate::boot::{Args as BootArgs, Loader, Scenario, Syscall};
use crate::error::{Error, Result};
use crate::matrix::{self, Case, Pinned};
use crate::qemu::{Firmware, GuestArch};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The kernel file to validate: any Debian kernel image.
    #[arg(long, value_name = "PATH")]
    pub kernel: PathBuf,
    /// Measured bench runs per variant after the boot scenarios (0: no bench).
    #[arg(long, default_value_t = 1)]
    pub runs: u32,
    /// Where the bench writes report.md, results.json and downtime.svg (default:
    /// target/validate/<file name>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// The boot scenarios of a kernel file `kernel` of `arch`, against the pinned series
/// `pinned` of that architecture (oldest first).
pub fn cases(arch: GuestArch, kernel: &Path, pinned: &[String]) -> Vec<Case> {
    use Firmware::{Bios, Uefi};
    use Scenario::{Cold, Panic, Warm};
    let base = |scenario, firmware, loader| {
        let mut args = BootArgs::new(arch, scenario);
        args.firmware = firmware;
        args.loader = loader;
        args.kernel = Some(kernel.to_path_buf());
        Case {
            args,
            must_fail: None,
        }
    };
    let mut m = Vec::new();
    // Two warm hops on the file: both syscalls where the architecture has them (x86_64:
    // kexec_load with the loader's default entry, decompressed, then kexec_file_load).
    let mut warm = base(Warm, Bios, Loader::Warmboot);
    warm.args.hops = 2;
    warm.args.syscall = match arch {
        GuestArch::X86_64 => vec![Syscall::Classic, Syscall::File],
        GuestArch::Arm64 => vec![Syscall::Auto],
    };
    m.push(warm);
    m.push(base(Warm, Uefi, Loader::Warmboot));
    m.push(base(Panic, Bios, Loader::Warmboot));
    m.push(base(Cold, Bios, Loader::KexecTools));
    let mut reference = base(Warm, Bios, Loader::KexecTools);
    reference.args.syscall = vec![Syscall::Classic];
    m.push(reference);
    // From every pinned series to the file and back, warm; a panic into it from the
    // newest.
    for series in pinned {
        let mut up = base(Warm, Bios, Loader::Warmboot);
        up.args.kernel = None;
        up.args.kernel_series = Some(series.clone());
        up.args.next_kernel = Some(kernel.to_path_buf());
        m.push(up);
        let mut down = base(Warm, Uefi, Loader::Warmboot);
        down.args.next_kernel_series = Some(series.clone());
        m.push(down);
    }
    if let Some(newest) = pinned.last() {
        let mut panic = base(Panic, Uefi, Loader::Warmboot);
        panic.args.kernel = None;
        panic.args.kernel_series = Some(newest.clone());
        panic.args.next_kernel = Some(kernel.to_path_buf());
        m.push(panic);
    }
    m
}

pub fn run(root: &Path, args: &Args) -> Result<()> {
    let kernel = std::fs::canonicalize(&args.kernel).map_err(Error::io(&args.kernel))?;
    let arch = bench::kernel_arch(&kernel)?;
    crate::boot::prepare(root)?;
    let cache = crate::cache::Cache::from_env()?;
    let pinned = Pinned::load(&cache)?;
    let list = cases(arch, &kernel, pinned.of(arch));
    println!(
        "validate {}: {} boot scenarios, then the bench ({} run(s) per variant)",
        kernel.display(),
        list.len(),
        args.runs
    );
    let booted = matrix::run(root, &list)?;
    let measured = if args.runs == 0 {
        Ok(())
    } else {
        let name = kernel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "kernel".into());
        let out = args
            .out
            .clone()
            .unwrap_or_else(|| root.join("target/validate").join(name));
        bench::run(
            root,
            &bench::Args {
                arch: match arch {
                    GuestArch::X86_64 => bench::ArchChoice::X86_64,
                    GuestArch::Arm64 => bench::ArchChoice::Arm64,
                },
                runs: args.runs,
                warmup: 0,
                out: Some(out),
                variants: Vec::new(),
                kernel_series: Vec::new(),
                kernel: Some(kernel.clone()),
                check: true,
            },
        )
    };
    match (booted, measured) {
        (true, Ok(())) => {
            println!(
                "validate {}: every scenario and variant passed",
                kernel.display()
            );
            Ok(())
        }
        (booted, measured) => Err(Error::Boot {
            reason: format!(
                "validate {}: {}{}",
                kernel.display(),
                if booted {
                    String::new()
                } else {
                    "at least one boot scenario did not pass; ".into()
                },
                match measured {
                    Ok(()) => "the bench passed".to_string(),
                    Err(e) => format!("the bench: {e}"),
                }
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kernel_file_is_booted_warm_panic_and_cold_and_against_every_pinned_series() {
        let k = Path::new("/debs/boot/vmlinuz-6.12.119+deb13-amd64");
        let pinned = vec!["6.1".to_string(), "6.12".to_string()];
        let m = cases(GuestArch::X86_64, k, &pinned);
        let on_file = |c: &&Case| c.args.kernel.as_deref() == Some(k);
        for scenario in [Scenario::Warm, Scenario::Panic, Scenario::Cold] {
            assert!(
                m.iter().filter(on_file).any(|c| c.args.scenario == scenario
                    && c.args.next_kernel.is_none()
                    && c.args.next_kernel_series.is_none()),
                "{scenario:?}"
            );
        }
        // Both x86 syscalls, the loader's default entry on the kexec_load hop.
        let warm = m.iter().find(|c| c.args.hops == 2).unwrap();
        assert_eq!(warm.args.syscall, [Syscall::Classic, Syscall::File]);
        assert_eq!(warm.args.x86_entry, None);
        assert!(m
            .iter()
            .filter(on_file)
            .any(|c| c.args.loader == Loader::KexecTools && c.args.scenario == Scenario::Warm));
        // Up from and down to every pinned series.
        for s in &pinned {
            assert!(m
                .iter()
                .any(|c| c.args.kernel_series.as_deref() == Some(s.as_str())
                    && c.args.next_kernel.as_deref() == Some(k)
                    && c.args.scenario == Scenario::Warm));
            assert!(m
                .iter()
                .filter(on_file)
                .any(|c| c.args.next_kernel_series.as_deref() == Some(s.as_str())
                    && c.args.scenario == Scenario::Warm));
        }
        assert!(m
            .iter()
            .any(|c| c.args.kernel_series.as_deref() == Some("6.12")
                && c.args.next_kernel.as_deref() == Some(k)
                && c.args.scenario == Scenario::Panic));
        // Nothing must fail, and no case boots a pinned kernel only.
        assert!(m.iter().all(|c| c.must_fail.is_none()));
        assert!(m.iter().all(
            |c| c.args.kernel.as_deref() == Some(k) || c.args.next_kernel.as_deref() == Some(k)
        ));
        // arm64: kexec_load through auto (Debian's arm64 kernels have no kexec_file_load).
        let a = cases(GuestArch::Arm64, k, &pinned);
        assert_eq!(a[0].args.syscall, [Syscall::Auto]);
        assert_eq!(a.len(), m.len());
    }
}
