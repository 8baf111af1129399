//! `cargo xtask`: developer and CI tasks for warmboot (the cargo-xtask convention: plain
//! Rust instead of shell scripts, run with `cargo xtask <job>`).

mod accel;
mod apt;
mod authenticode;
mod bench;
mod boot;
mod cache;
mod ci;
mod cmd;
mod cpio;
mod dist;
mod e2e;
mod error;
mod esp;
mod firmware_reset;
mod fixtures;
mod fleet;
mod fuzz;
mod guest;
mod host;
mod images;
mod index;
mod initramfs;
mod kernel_package;
mod kernels;
mod manifest;
mod matrix;
/// Used by tidy's tests only.
#[cfg(test)]
mod module_graph;
mod purgatory_line;
mod qemu;
mod scenario;
mod secure_boot;
mod serial;
mod setup;
mod shared_libs;
mod tidy;
mod validate;
mod verdict;
mod vmcore_report;
mod x86_entry;

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "Developer and CI tasks for warmboot")]
struct Cli {
    #[command(subcommand)]
    job: Job,
}

#[derive(Debug, Subcommand)]
enum Job {
    /// Fetch, verify and unpack the pinned Debian packages of images/manifest.toml into the
    /// cache ($WARMBOOT_CACHE or ~/.cache/warmboot) and write <cache>/kernels.json.
    Images(images::Args),
    /// Build the test guest's initramfs (busybox, static warmboot, kexec-tools, next kernel).
    Initramfs(initramfs::Args),
    /// Boot one reboot scenario of a real kernel in QEMU and judge it from the serial console.
    Boot(boot::Args),
    /// Recapture the fixture machine trees (loader/tests/fixtures/machines) from QEMU guests.
    Fixtures(fixtures::Args),
    /// Write the pinned arm64 Image of every series re-wrapped as Image.gz and EFI zboot,
    /// and the pinned x86_64 kernel in a unified kernel image (uki.efi), into
    /// target/xtask/derived/<series> (the matrix boots them as --next-kernel).
    DerivedKernels,
    /// Measure reboot downtime (cold, warm with warmboot and kexec-tools, panic) on real
    /// kernels in QEMU; writes report.md, results.json and downtime.svg.
    Bench(bench::Args),
    /// Run the CI boot matrix: every scenario on both architectures and every pinned kernel
    /// series, upgrades and downgrades between the series, with a summary table.
    Matrix(matrix::MatrixArgs),
    /// Validate a new kernel file or Debian kernel package (fetched): the boot scenarios on it
    /// (warm, panic, cold, kexec-tools), upgrades and downgrades against every pinned series,
    /// and a short bench of it.
    Validate(validate::Args),
    /// Generate the man pages and shell completions from warmboot's clap definitions, and
    /// collect the systemd units (into target/dist).
    Dist(dist::Args),
    /// The administrator's workflow in a Debian bookworm systemd guest (debootstrap, cached):
    /// load at boot, warm and cold reboots, systemctl kexec through warmboot as kexec, the
    /// capture kernel. Needs root. Not part of `ci` yet.
    E2e(e2e::Args),
    /// A rolling reboot of two Debian systemd guests with Ansible (ansible-core from PyPI,
    /// installed under the cache): dist/ansible/warmboot-rolling-reboot.yml with `warmboot
    /// reboot`, then with a cold reboot; Ansible's elapsed beside the host probe's, each
    /// host judged from its serial console and boot id. Needs root.
    Fleet(fleet::Args),
    /// Run every cargo-fuzz target of fuzz/ for a bounded time, seeded from the synthetic
    /// images and the fixtures; fails with the reproducer of any crash.
    Fuzz(fuzz::Args),
    /// Run every CI check in order: fmt, clippy, images, tests (snapshots checked).
    Ci,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    guest::install_interrupt_handler();
    let root = project_root();
    let result = match cli.job {
        Job::Images(args) => images::run(&root, &args),
        Job::Initramfs(args) => initramfs::run(&root, &args),
        Job::Boot(args) => boot::run(&root, &args),
        Job::Fixtures(args) => fixtures::run(&root, &args),
        Job::DerivedKernels => matrix::derived_kernels(&root),
        Job::Bench(args) => bench::run(&root, &args),
        Job::Matrix(args) => matrix::run_ci(&root, &args),
        Job::Validate(args) => validate::run(&root, &args),
        Job::Dist(args) => dist::run(&root, &args),
        Job::E2e(args) => e2e::run(&root, &args),
        Job::Fleet(args) => fleet::run(&root, &args),
        Job::Fuzz(args) => fuzz::run(&root, &args),
        Job::Ci => ci::run(&root),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: xtask lives in `<root>/xtask`.
fn project_root() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    dir.parent().unwrap_or(dir).to_owned()
}
