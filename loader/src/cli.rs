//! The `warmboot` command line: argument parsing and dispatch.
//!
//! Exit status: 0 success, 1 a failure warmboot could name (bad file, refused load),
//! 2 a usage error (clap's convention). Errors are one line: `warmboot: <file>: <reason>`.

use crate::arch::Arch;
use crate::commands::{check_vmcore, install, load, outcome, reboot, status};
use crate::error::Error;
use crate::host::HostRoot;
use crate::inspect;
use crate::kexec::linux::LinuxKexec;
use crate::kexec::Kexec;
use crate::kexec_compat;
use crate::memmap::Mode;
use crate::plan::SyscallChoice;
use crate::x86::kexec_plan::X86Entry;
use clap::{ArgGroup, Parser, Subcommand};
use std::path::PathBuf;

/// warmboot: load the next kernel safely, then reboot into it without the firmware.
#[derive(Debug, Parser)]
#[command(name = "warmboot", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
// One value per process, parsed once: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Show what a kernel image is: format, architecture, version, sizes, placement
    /// constraints, entry, compression and signature.
    Inspect(InspectArgs),
    /// Load a kernel for the next reboot (or, with --panic, for a crash), after planning
    /// and checking it; --dry-run shows the plan and loads nothing.
    Load(LoadArgs),
    /// Reboot into the loaded kernel now (syncs filesystems first).
    Exec(ExecArgs),
    /// Unload the loaded kernel (or, with --panic, the crash kernel).
    Unload(UnloadArgs),
    /// Show what the running kernel has loaded: normal image, crash image, crash
    /// reservation size, lockdown.
    Status(StatusArgs),
    /// Reboot: warm into the loaded kernel if there is one, else through the firmware;
    /// through systemd where it runs (services stop, filesystems unmount cleanly).
    Reboot(RebootArgs),
    /// Install the systemd units (load the running kernel at boot, load the capture
    /// kernel) and, if asked, the `kexec` symlink, into a root.
    InstallUnits(InstallArgs),
    /// kexec-tools' command line (what runs when warmboot is installed as `kexec`):
    /// -l/-p/-u/-e/-S, --initrd, --append, --command-line, --reuse-cmdline, ...;
    /// `warmboot kexec --help` lists them.
    Kexec(KexecArgs),
    /// Test guests only: in a capture kernel, check that /proc/vmcore's PT_LOADs cover the
    /// first kernel's System RAM minus its crash reservation, and read a page at both ends
    /// of every PT_LOAD.
    #[command(name = "x-check-vmcore", hide = true)]
    XCheckVmcore(CheckVmcoreArgs),
}

#[derive(Debug, clap::Args)]
pub struct CheckVmcoreArgs {
    /// The first (crashed) kernel's /proc/iomem, saved before the panic.
    #[arg(long, value_name = "FILE")]
    pub first_iomem: PathBuf,
    /// The dump to check.
    #[arg(value_name = "VMCORE", default_value = "/proc/vmcore")]
    pub vmcore: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct RebootArgs {
    /// Unload the loaded kernel first and reboot through the firmware.
    #[arg(long)]
    pub cold: bool,
    /// Without systemd: reboot(2) at once, without stopping processes and remounting
    /// filesystems read-only first (as `reboot -f`).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// Install into DIR instead of / (an image being built).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// The warmboot binary's path on the installed system (default: this binary's).
    #[arg(long, value_name = "PATH")]
    pub binary: Option<PathBuf>,
    /// Enable the units (as `systemctl enable` would).
    #[arg(long)]
    pub enable: bool,
    /// Also make /usr/sbin/kexec a symlink to warmboot, so systemd and kdump scripts use it.
    #[arg(long)]
    pub kexec_symlink: bool,
    /// Replace an existing /usr/sbin/kexec that is not warmboot where there is no dpkg to
    /// divert it with (on dpkg systems kexec-tools' binary is diverted, not replaced).
    #[arg(long)]
    pub force: bool,
    /// Remove what install-units installed: the units, their enablement, the kexec
    /// symlink and its diversion (kexec-tools' binary comes back).
    #[arg(long, conflicts_with_all = ["enable", "kexec_symlink", "force"])]
    pub remove: bool,
}

#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub struct KexecArgs {
    /// kexec-tools options and the kernel file.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<String>,
}

#[derive(Debug, clap::Args)]
#[command(group(ArgGroup::new("cmdline").args(["append", "command_line", "reuse_cmdline"])))]
pub struct LoadArgs {
    /// The kernel image to load.
    #[arg(required_unless_present_any = ["current", "default"])]
    pub kernel: Option<PathBuf>,
    /// Load the running kernel again: its image and initrd found the way the distribution
    /// names them (BOOT_IMAGE=, Boot Loader Spec entries, /boot/vmlinuz-R, Arch, UKIs), with
    /// the running command line (for --panic made into a capture kernel's).
    #[arg(long, conflicts_with_all = ["kernel", "initrd"])]
    pub current: bool,
    /// Load the kernel this machine boots next — after a kernel upgrade the new one: the
    /// boot loader's default entry (systemd-boot, GRUB with saved_entry/next_entry,
    /// RHEL-style BLS), else Debian's /vmlinuz and /initrd.img links, with that entry's
    /// command line (--reuse-cmdline keeps the running one; for --panic made into a
    /// capture kernel's).
    #[arg(long, conflicts_with_all = ["kernel", "initrd", "current"])]
    pub default: bool,
    /// The initrd (initramfs) to load with it.
    #[arg(long, value_name = "FILE")]
    pub initrd: Option<PathBuf>,
    /// The new kernel's command line (kexec-tools' name for it).
    #[arg(long, value_name = "S")]
    pub append: Option<String>,
    /// The new kernel's command line.
    #[arg(long = "command-line", value_name = "S")]
    pub command_line: Option<String>,
    /// Reuse the running kernel's command line (without BOOT_IMAGE=, initrd=, and for
    /// --panic without crashkernel=).
    #[arg(long)]
    pub reuse_cmdline: bool,
    /// Load a crash (panic) kernel into the crash kernel reservation.
    #[arg(long)]
    pub panic: bool,
    /// Which syscall to use.
    #[arg(long, value_enum, default_value_t = SyscallChoice::Auto)]
    pub syscall: SyscallChoice,
    /// Plan and check against the machine's memory map; print the plan; load nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Read the machine's state under DIR instead of / (fixture trees of real machines).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Target architecture (default: the running machine's).
    #[arg(long, value_enum)]
    pub arch: Option<Arch>,
    /// arm64: start from this device tree instead of /sys/firmware/fdt.
    #[arg(long, value_name = "FILE")]
    pub dtb: Option<PathBuf>,
    /// Enter the new kernel through warmboot's purgatory, which checks the SHA-256 of the
    /// loaded segments and halts instead of booting corrupted memory, saying which segment
    /// on the new kernel's serial console (kexec_load only).
    #[arg(long)]
    pub verify: bool,
    /// Refuse to load unless the kernel image's SHA-256 is HEX (64 hex digits, as sha256sum
    /// prints them); the bytes checked are the bytes loaded.
    #[arg(long, value_name = "HEX")]
    pub sha256: Option<crate::file_trust::Sha256Digest>,
    /// Refuse to load unless the initrd's SHA-256 is HEX; the bytes checked are the bytes
    /// loaded.
    #[arg(long, value_name = "HEX", requires = "initrd")]
    pub initrd_sha256: Option<crate::file_trust::Sha256Digest>,
    /// Test only: load a --verify plan with a wrong expected digest for its last segment
    /// (must not boot).
    #[arg(long = "x-corrupt-digest", hide = true, requires = "verify")]
    pub corrupt_digest: bool,
    /// x86_64: enter the kernel proper decompressed and relocated (KASLR) at load time,
    /// or the bzImage, which decompresses itself at boot; auto prefers the first for a
    /// normal kexec_load where it is possible and safe.
    #[arg(long, value_enum, default_value_t = X86Entry::Auto)]
    pub x86_entry: X86Entry,
    /// Test only (with --dry-run): the two random numbers for the x86 KASLR slots.
    #[arg(long = "x-kaslr-random", hide = true, requires = "dry_run", num_args = 2, value_names = ["PHYS", "VIRT"])]
    pub kaslr_random: Option<Vec<u64>>,
    /// kexec_file_load: ask the running kernel to log how it loads the image (its
    /// KEXEC_FILE_DEBUG flag, Linux 6.8 and later; the lines are in the kernel log,
    /// dmesg). A kernel that does not know the flag refuses it with EINVAL: warmboot then
    /// loads again without it and says so. No effect on kexec_load.
    #[arg(long)]
    pub kernel_debug: bool,
    /// Test only: draw every random number of the load (x86 KASLR slots, arm64 kaslr-seed
    /// and rng-seed) from a stream seeded with N, so a retried boot is the same boot.
    #[arg(long = "x-random-seed", hide = true, value_name = "N")]
    pub random_seed: Option<u64>,
}

#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// Do not sync filesystems first.
    #[arg(long)]
    pub no_sync: bool,
}

#[derive(Debug, clap::Args)]
pub struct UnloadArgs {
    /// Unload the crash kernel instead of the normal one.
    #[arg(long)]
    pub panic: bool,
    /// Which syscall unloads: auto takes kexec_file_load where lockdown refuses
    /// kexec_load (Secure Boot), else kexec_load.
    #[arg(long, value_enum, default_value_t = SyscallChoice::Auto)]
    pub syscall: SyscallChoice,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Read the machine's state under DIR instead of /.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The kernel image (bzImage, vmlinux ELF, arm64 Image[.gz], EFI zboot or UKI).
    pub file: PathBuf,
    /// Also describe this initrd (size and compression).
    #[arg(long, value_name = "FILE")]
    pub initrd: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command line in `std::env::args` against the running kernel and returns the
/// exit status. Invoked as `kexec` (a symlink), warmboot speaks kexec-tools' command line
/// ([`kexec_compat`]).
pub fn main() -> i32 {
    run_args(
        std::env::args_os(),
        Backend::Real,
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    )
}

/// Which kexec backend the command line drives.
pub enum Backend<'a> {
    /// The running kernel ([`LinuxKexec`], made only when a command needs it). `--root`
    /// goes only with `--dry-run`, and the kexec-tools command line and `reboot` are
    /// available.
    Real,
    /// Any other backend (the simulator, a fake): load, exec, unload and status go through
    /// it, `--root` gives the machine it stands for, and nothing reaches the running
    /// kernel (`reboot` and the kexec-tools command line are refused).
    Given(&'a mut dyn Kexec),
}

/// Runs the command line `args` (argv\[0\] first): parsing, dispatch, output to `out`,
/// one-line errors to `err`; returns the exit status. [`main`] is this with the real
/// backend and the process's stdout and stderr; tests run it in-process with the simulator.
pub fn run_args<I, T>(
    args: I,
    backend: Backend<'_>,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let real = matches!(backend, Backend::Real);
    let argv0 = args.first().map(|a| a.to_string_lossy().into_owned());
    if invoked_as_kexec(argv0.as_deref()) {
        if !real {
            return refuse_kexec_compat(err);
        }
        let rest: Vec<String> = args
            .iter()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        return kexec_compat::main(&rest);
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            if real {
                let _ = e.print();
            } else if e.use_stderr() {
                let _ = write!(err, "{}", e.render());
            } else {
                let _ = write!(out, "{}", e.render());
            }
            return code;
        }
    };
    if let Command::Kexec(a) = &cli.command {
        if !real {
            return refuse_kexec_compat(err);
        }
        return kexec_compat::main(&a.args);
    }
    // One warmboot at a time changes the running kernel's loaded image; held until the
    // process ends. Other backends stand for other machines and need no lock.
    let _lock = if real && changes_kexec_state(&cli.command) {
        let words: Vec<String> = args
            .iter()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        match crate::lock::take(&words) {
            Ok(l) => l,
            Err(e) => {
                let _ = writeln!(err, "warmboot: {e}");
                return 1;
            }
        }
    } else {
        None
    };
    match run(cli, backend, out, err) {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(err, "warmboot: {e}");
            1
        }
    }
}

fn refuse_kexec_compat(err: &mut dyn std::io::Write) -> i32 {
    let _ = writeln!(
        err,
        "warmboot: the kexec-tools command line runs only against the running kernel"
    );
    1
}

/// Whether `command` changes kexec state on the real system, and so takes [`crate::lock`]
/// before it reads anything.
fn changes_kexec_state(command: &Command) -> bool {
    match command {
        Command::Load(a) => !a.dry_run,
        Command::Exec(_) | Command::Unload(_) | Command::Reboot(_) => true,
        // kexec_compat takes the lock itself for the steps that need it.
        Command::Inspect(_)
        | Command::Status(_)
        | Command::InstallUnits(_)
        | Command::Kexec(_)
        | Command::XCheckVmcore(_) => false,
    }
}

/// Whether argv\[0\] names `kexec` (`/usr/sbin/kexec`, `kexec`).
pub fn invoked_as_kexec(argv0: Option<&str>) -> bool {
    argv0
        .and_then(|a| std::path::Path::new(a).file_name())
        .is_some_and(|n| n == "kexec")
}

fn run(
    cli: Cli,
    backend: Backend<'_>,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> Result<(), Error> {
    match cli.command {
        Command::Inspect(args) => {
            let text = inspect::run(&args.file, args.initrd.as_deref(), args.json)?;
            emit(out, &text)
        }
        Command::Load(a) => {
            let cmdline = match (a.append, a.command_line, a.reuse_cmdline) {
                (Some(s), _, _) | (None, Some(s), _) => load::CmdlineSource::Given(s),
                (None, None, true) => load::CmdlineSource::Reuse,
                (None, None, false) if a.current => load::CmdlineSource::Current,
                (None, None, false) => load::CmdlineSource::Empty,
            };
            let mut cmdline = cmdline;
            let (kernel, initrd, found) = match (a.current, a.default, a.kernel) {
                (true, _, _) => {
                    let c = crate::boot_files::find_current(&HostRoot::new(&a.root))?;
                    (
                        c.kernel,
                        c.initrd,
                        Some(format!("running kernel found by {}", c.how)),
                    )
                }
                (false, true, _) => {
                    let d = crate::default_kernel::find_default(&HostRoot::new(&a.root))?;
                    if cmdline == load::CmdlineSource::Empty {
                        // The entry's own command line; without one (the /vmlinuz links)
                        // the running kernel's, as --current takes it.
                        let mode = if a.panic { Mode::Panic } else { Mode::Normal };
                        cmdline = crate::commands::load_options::default_cmdline(d.cmdline, mode);
                    }
                    (
                        d.kernel,
                        d.initrd,
                        Some(format!("default kernel: {}", d.how)),
                    )
                }
                (false, false, Some(k)) => (k, a.initrd, None),
                (false, false, None) => {
                    return Err(Error::Unsupported(
                        "give a kernel file, --current or --default".to_string(),
                    ))
                }
            };
            if let Some(how) = &found {
                let _ = writeln!(
                    err,
                    "warmboot: {how}: {}{}",
                    kernel.display(),
                    initrd
                        .as_ref()
                        .map(|i| format!(" with initrd {}", i.display()))
                        .unwrap_or_default()
                );
            }
            let opts = load::LoadOptions {
                kernel,
                initrd,
                cmdline,
                mode: if a.panic { Mode::Panic } else { Mode::Normal },
                syscall: a.syscall,
                dry_run: a.dry_run,
                root: a.root,
                json: a.json,
                arch: a.arch,
                dtb: a.dtb,
                verify: a.verify,
                corrupt_digest: a.corrupt_digest,
                sha256: a.sha256,
                x86_entry: a.x86_entry,
                kaslr_random: a.kaslr_random.and_then(|r| r.try_into().ok()),
                random_seed: a.random_seed,
                initrd_sha256: a.initrd_sha256,
                chosen_by: found.clone(),
                kernel_debug: a.kernel_debug,
            };
            let text = match backend {
                Backend::Real => load::run(&opts),
                Backend::Given(b) => load::run_with(&opts, Some(b)),
            }
            .map_err(|e| outcome::name_file(e, &opts.kernel))?;
            emit(out, &text)
        }
        Command::Exec(a) => match backend {
            Backend::Real => outcome::exec(&mut LinuxKexec::new(HostRoot::new("/"))?, a.no_sync),
            Backend::Given(b) => outcome::exec(b, a.no_sync),
        },
        Command::Unload(a) => {
            let mode = if a.panic { Mode::Panic } else { Mode::Normal };
            let text = match backend {
                Backend::Real => {
                    let host = HostRoot::new("/");
                    let security = crate::security_state::SecurityState::read(&host)?;
                    let via = crate::commands::unload::choose(a.syscall, &security);
                    let out = outcome::unload_via(&mut LinuxKexec::new(host)?, mode, via)?;
                    crate::load_record::forget(mode);
                    out
                }
                Backend::Given(b) => {
                    let via = crate::commands::unload::choose(
                        a.syscall,
                        &crate::security_state::SecurityState::default(),
                    );
                    outcome::unload_via(b, mode, via)?
                }
            };
            emit(out, &text)
        }
        Command::Status(a) => {
            let host = HostRoot::new(a.root);
            let text = match backend {
                Backend::Real => status::run(&host, a.json)?,
                Backend::Given(b) => status::run_with(b, &host, a.json)?,
            };
            emit(out, &text)
        }
        Command::Reboot(a) => match backend {
            Backend::Real => reboot::run_real(a.cold, a.force, reboot::Refresh::DefaultIfStale),
            Backend::Given(_) => Err(Error::Unsupported(
                "reboot runs only against the running kernel".to_string(),
            )),
        },
        Command::InstallUnits(a) => {
            let binary = match a.binary {
                Some(b) => b,
                None => {
                    std::env::current_exe().map_err(|e| Error::Io(e).in_file("/proc/self/exe"))?
                }
            };
            let text = install::run(&install::InstallOptions {
                root: a.root,
                binary,
                enable: a.enable,
                kexec_symlink: a.kexec_symlink,
                force: a.force,
                remove: a.remove,
            })?;
            emit(out, &text)
        }
        Command::XCheckVmcore(a) => {
            let outcome = check_vmcore::run(&a.first_iomem, &a.vmcore)?;
            emit(out, &format!("{outcome}\n"))
        }
        // Dispatched in main(): kexec-tools' exit codes are its callers' contract.
        Command::Kexec(a) => Err(Error::Unsupported(format!(
            "internal: kexec arguments {:?} reached run()",
            a.args
        ))),
    }
}

/// Writes a command's output. A write error (stdout closed early by `| head`) is ignored:
/// the command itself has succeeded.
fn emit(out: &mut dyn std::io::Write, text: &str) -> Result<(), Error> {
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kexec::DryRun;

    fn run_with(args: &[&str]) -> (i32, String, String) {
        let map = crate::memmap::MemoryMap::parse("00100000-3fffffff : System RAM\n", Vec::new())
            .unwrap();
        let mut backend = DryRun::new(map);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run_args(
            args.iter().copied(),
            Backend::Given(&mut backend),
            &mut out,
            &mut err,
        );
        let s = |b: Vec<u8>| String::from_utf8(b).unwrap();
        (code, s(out), s(err))
    }

    #[test]
    fn another_backend_never_reaches_the_running_kernel() {
        // reboot and the kexec-tools command line act on the running kernel only.
        let (code, out, err) = run_with(&["warmboot", "reboot"]);
        assert_eq!((code, out.as_str()), (1, ""));
        assert_eq!(
            err,
            "warmboot: reboot runs only against the running kernel\n"
        );
        for args in [&["warmboot", "kexec", "-e"][..], &["/usr/sbin/kexec", "-e"]] {
            let (code, _, err) = run_with(args);
            assert_eq!(code, 1, "{args:?}");
            assert!(err.contains("only against the running kernel"), "{err}");
        }
        // exec goes to the backend, which has nothing loaded: no reboot call.
        let (code, _, err) = run_with(&["warmboot", "exec"]);
        assert_eq!(code, 1);
        assert!(err.starts_with("warmboot: nothing to exec"), "{err}");
    }

    #[test]
    fn help_and_usage_errors_go_to_the_given_writers() {
        let (code, out, err) = run_with(&["warmboot", "--help"]);
        assert_eq!((code, err.as_str()), (0, ""));
        assert!(out.contains("Usage: warmboot"), "{out}");
        let (code, out, err) = run_with(&["warmboot", "load", "--no-such-flag"]);
        assert_eq!((code, out.as_str()), (2, ""));
        assert!(err.contains("--no-such-flag"), "{err}");
    }
}
