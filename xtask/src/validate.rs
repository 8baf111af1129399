//! `cargo xtask validate --kernel PATH` or `--package NAME[=VERSION]`: one command to
//! validate a new Debian kernel (a file, e.g. `boot/vmlinuz-<release>` from a linux-image
//! .deb, or a package fetched from the archive, see [`crate::kernel_package`]) before
//! pinning it: the boot
//! scenarios on it (warm with both x86 syscalls and a second hop, warm through UEFI,
//! panic, cold, the kexec-tools reference), upgrades and downgrades between it and every
//! pinned series, and a short bench of every variant on it (`bench --kernel`), each
//! judged as the CI matrix and `bench --check` judge them.

use crate::bench;
use crate::boot::{Args as BootArgs, Loader, Scenario, Syscall};
use crate::error::{Error, Result};
use crate::kernel_package;
use crate::manifest::DebArch;
use crate::matrix::{self, Case, Pinned};
use crate::qemu::{Firmware, GuestArch};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ArchChoice {
    #[value(name = "x86_64")]
    X86_64,
    Arm64,
}

#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["kernel", "package"])))]
pub struct Args {
    /// The kernel file to validate: any Debian kernel image.
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<PathBuf>,
    /// The Debian kernel package to fetch (through the private apt state: bookworm, trixie
    /// and sid) and validate, e.g. linux-image-7.2.13+deb14-amd64; newest version unless
    /// given. A split package's kernel is fetched from its linux-binary-* dependency.
    #[arg(long, value_name = "NAME[=VERSION]", value_parser = parse_spec)]
    pub package: Option<kernel_package::Spec>,
    /// The package's architecture (default: from its name's -arm64 suffix, else x86_64).
    // (Not `requires = "package"`: clap drops a requirement that conflicts with a present
    // argument, and --package conflicts with --kernel through the group.)
    #[arg(long, value_enum, conflicts_with = "kernel")]
    pub arch: Option<ArchChoice>,
    /// Only fetch the package and print its kernel file and release; boot nothing.
    #[arg(long, conflicts_with = "kernel")]
    pub fetch_only: bool,
    /// Measured bench runs per variant after the boot scenarios (0: no bench).
    #[arg(long, default_value_t = 1)]
    pub runs: u32,
    /// Where the bench writes report.md, results.json and downtime.svg (default:
    /// target/validate/<file name>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

fn parse_spec(s: &str) -> Result<kernel_package::Spec, String> {
    kernel_package::Spec::parse(s)
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
    let (kernel, out_name) = match (&args.kernel, &args.package) {
        (Some(path), None) => (path.clone(), None),
        (None, Some(spec)) => {
            let cache = crate::cache::Cache::from_env()?;
            let arch = kernel_package::arch_of(
                &spec.name,
                args.arch.map(|a| match a {
                    ArchChoice::X86_64 => DebArch::Amd64,
                    ArchChoice::Arm64 => DebArch::Arm64,
                }),
            );
            let f = kernel_package::fetch(&cache, spec, arch)?;
            // warmboot's own parser must read it as a kernel of the package's architecture.
            let parsed = bench::kernel_arch(&f.kernel)?;
            let expected = match f.arch {
                DebArch::Amd64 => GuestArch::X86_64,
                DebArch::Arm64 => GuestArch::Arm64,
                DebArch::Riscv64 => {
                    return Err(Error::Package {
                        package: format!("{} {} {}", f.package, f.version, f.arch),
                        reason: "riscv64 kernels are not validated in QEMU yet".to_string(),
                    })
                }
            };
            if parsed != expected {
                return Err(Error::Package {
                    package: format!("{} {} {}", f.package, f.version, f.arch),
                    reason: format!(
                        "{} is a kernel of {parsed:?}, not of {}",
                        f.kernel.display(),
                        f.arch
                    ),
                });
            }
            println!(
                "validate: package {} {} {}: kernel {} (release {}, parsed as {parsed:?})",
                f.package,
                f.version,
                f.arch,
                f.kernel.display(),
                f.release
            );
            if args.fetch_only {
                return Ok(());
            }
            (f.kernel, Some(format!("vmlinuz-{}", f.release)))
        }
        // clap's group "what" requires exactly one of them.
        _ => unreachable!("--kernel and --package are exclusive and one is required"),
    };
    let kernel = std::fs::canonicalize(&kernel).map_err(Error::io(&kernel))?;
    let arch = bench::kernel_arch(&kernel)?;
    crate::images::prepare(root)?;
    let cache = crate::cache::Cache::from_env()?;
    let pinned = Pinned::load(&cache)?;
    let list = cases(arch, &kernel, pinned.of(arch));
    println!(
        "validate {}: {} boot scenarios, then the bench ({} run(s) per variant)",
        kernel.display(),
        list.len(),
        args.runs
    );
    let booted = matrix::run(root, &list, matrix::MatrixArgs::default().jobs())?;
    let measured = if args.runs == 0 {
        Ok(())
    } else {
        // A split package's kernel is plain `vmlinuz`: named by its release instead.
        let name = out_name.clone().unwrap_or_else(|| {
            kernel
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "kernel".into())
        });
        let out = args
            .out
            .clone()
            .unwrap_or_else(|| root.join("target/validate").join(name));
        bench::run(
            root,
            &bench::Args {
                suite: bench::Suite::Kernel,
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
    fn either_a_kernel_file_or_a_package() {
        use clap::Parser;
        #[derive(clap::Parser, Debug)]
        struct Cli {
            #[command(flatten)]
            args: Args,
        }
        let parse = |a: &[&str]| Cli::try_parse_from([&["x"], a].concat()).map(|c| c.args);
        let a = parse(&["--kernel", "/k/vmlinuz-6.12.119+deb13-amd64"]).unwrap();
        assert!(a.package.is_none() && a.kernel.is_some() && a.arch.is_none());
        let a = parse(&[
            "--package",
            "linux-image-7.2.13+deb14-arm64=7.2.13-1",
            "--fetch-only",
        ])
        .unwrap();
        let spec = a.package.unwrap();
        assert_eq!(spec.name, "linux-image-7.2.13+deb14-arm64");
        assert_eq!(spec.version.as_deref(), Some("7.2.13-1"));
        assert!(a.fetch_only && a.kernel.is_none());
        let a = parse(&["--package", "linux-image-amd64", "--arch", "arm64"]).unwrap();
        assert_eq!(a.arch, Some(ArchChoice::Arm64));
        use clap::error::ErrorKind;
        let kind = |a: &[&str]| parse(a).expect_err(&a.join(" ")).kind();
        // Both, neither, and the package's options without a package are refused.
        assert_eq!(
            kind(&["--kernel", "/k", "--package", "linux-image-amd64"]),
            ErrorKind::ArgumentConflict
        );
        assert_eq!(kind(&[]), ErrorKind::MissingRequiredArgument);
        assert_eq!(kind(&["--runs", "2"]), ErrorKind::MissingRequiredArgument);
        assert_eq!(
            kind(&["--kernel", "/k", "--arch", "arm64"]),
            ErrorKind::ArgumentConflict
        );
        assert_eq!(
            kind(&["--kernel", "/k", "--fetch-only"]),
            ErrorKind::ArgumentConflict
        );
        assert_eq!(kind(&["--fetch-only"]), ErrorKind::MissingRequiredArgument);
        assert_eq!(kind(&["--package", "Bad Name"]), ErrorKind::ValueValidation);
        assert_eq!(
            kind(&["--package", "linux-image-amd64", "--arch", "riscv64"]),
            ErrorKind::InvalidValue
        );
    }

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
