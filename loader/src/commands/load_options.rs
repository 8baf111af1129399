//! What `warmboot load` was asked to do: the options the CLI and the kexec-tools front end
//! fill in, read by every stage of the load pipeline ([`crate::commands::load`]).

use crate::arch::Arch;
use crate::memmap::Mode;
use crate::plan::SyscallChoice;
use crate::x86::kexec_plan::X86Entry;
use std::path::PathBuf;

/// Where the next kernel's command line comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdlineSource {
    /// Exactly this text (`--append` / `--command-line`).
    Given(String),
    /// The running kernel's, cleaned by [`reuse_cmdline`] (`--reuse-cmdline`).
    Reuse,
    /// Empty.
    Empty,
    /// The running kernel's, for `load --current`: loader words dropped, and for a
    /// capture kernel made into a kdump command line ([`crate::capture`]).
    Current,
}

/// The command line `--default` loads with when none was given: the boot entry's own
/// (for a capture kernel made into a kdump command line, [`crate::capture`]), or without
/// one (Debian's /vmlinuz links) the running kernel's, as `--current` takes it.
pub fn default_cmdline(entry: Option<String>, mode: Mode) -> CmdlineSource {
    match (entry, mode) {
        (Some(c), Mode::Normal) => CmdlineSource::Given(c),
        (Some(c), Mode::Panic) => CmdlineSource::Given(crate::capture::capture_cmdline(&c)),
        (None, _) => CmdlineSource::Current,
    }
}

/// Everything `warmboot load` was asked to do.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub kernel: PathBuf,
    pub initrd: Option<PathBuf>,
    pub cmdline: CmdlineSource,
    pub mode: Mode,
    pub syscall: SyscallChoice,
    pub dry_run: bool,
    pub root: PathBuf,
    pub json: bool,
    /// Target architecture; None means the running machine's.
    pub arch: Option<Arch>,
    /// arm64: the device tree to start from instead of /sys/firmware/fdt.
    pub dtb: Option<PathBuf>,
    /// Enter the next kernel through warmboot's purgatory, which checks the SHA-256 of the
    /// loaded segments first ([`crate::purgatory`]); kexec_load plans only.
    pub verify: bool,
    /// Test hook for the QEMU harness's negative proof: with `verify`, load a plan whose
    /// expected digest is wrong (after every check), so the purgatory must refuse to boot.
    pub corrupt_digest: bool,
    /// `--sha256`: load only a kernel image with this digest ([`crate::file_trust`]).
    pub sha256: Option<crate::file_trust::Sha256Digest>,
    /// x86_64: how the kernel is entered (`--x86-entry`).
    pub x86_entry: X86Entry,
    /// Test hook (dry runs): the random numbers for the x86 KASLR slots.
    pub kaslr_random: Option<[u64; 2]>,
    /// Test hook (`--x-random-seed`): every random number of the load from a stream
    /// seeded with this, so a retried boot gets the same KASLR slots and seeds
    /// ([`crate::randomness`]).
    pub random_seed: Option<u64>,
    /// `--initrd-sha256`: load only an initrd with this digest; its checked bytes are the
    /// ones loaded.
    pub initrd_sha256: Option<crate::file_trust::Sha256Digest>,
    /// How the kernel was chosen (`--default`, `--current`), for the load record.
    pub chosen_by: Option<String>,
    /// `--kernel-debug` (kexec-tools' `-d`): kexec_file_load with KEXEC_FILE_DEBUG, so the
    /// running kernel logs how it loads the image ([`crate::kexec::KEXEC_FILE_DEBUG`]).
    pub kernel_debug: bool,
}

impl LoadOptions {
    /// A normal load of `kernel` (and `initrd`) on the running machine with every choice
    /// at its default: auto syscall, empty command line, no checks beyond the built-in.
    pub fn new(kernel: PathBuf, initrd: Option<PathBuf>) -> LoadOptions {
        LoadOptions {
            kernel,
            initrd,
            cmdline: CmdlineSource::Empty,
            mode: Mode::Normal,
            syscall: SyscallChoice::Auto,
            dry_run: false,
            root: PathBuf::from("/"),
            json: false,
            arch: None,
            dtb: None,
            verify: false,
            corrupt_digest: false,
            sha256: None,
            x86_entry: X86Entry::Auto,
            kaslr_random: None,
            random_seed: None,
            initrd_sha256: None,
            chosen_by: None,
            kernel_debug: false,
        }
    }
}
