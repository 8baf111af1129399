//! Why the simulated kernel refuses a call: the sim's error enum, one variant per rule of
//! [`crate::kernel_rules`], each with the errno the kernel returns for it.
//!
//! The simulator reports a refusal to warmboot the way the real syscall does, as
//! `Error::Syscall { errno }` (so the CLI prints exactly what a real machine would), and
//! keeps the [`Refusal`] itself for tests ([`crate::Sim::last_refusal`]): the variant says
//! which rule fired and the message names the segment and the addresses.

use crate::kernel_state::CrashkRes;
use nix::errno::Errno;
use warmboot::arch::Arch;

/// Which of the kernel's control-page allocations from the crash reservation failed
/// (kernel/kexec_core.c kimage_alloc_crash_control_pages); all three are ENOMEM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlUse {
    /// The control code buffer, KEXEC_CONTROL_PAGE_SIZE (kernel/kexec.c kimage_alloc_init).
    ControlCode,
    /// A page of the x86_64 identity map (arch/x86/kernel/machine_kexec_64.c init_pgtable).
    IdentityMap,
    /// The vmcoreinfo safe copy (kernel/crash_core.c kimage_crash_copy_vmcoreinfo).
    Vmcoreinfo,
}

impl std::fmt::Display for ControlUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ControlUse::ControlCode => "control code buffer",
            ControlUse::IdentityMap => "identity-map page table",
            ControlUse::Vmcoreinfo => "vmcoreinfo copy",
        })
    }
}

/// A call the simulated kernel refuses. Messages are one line, for an administrator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// kexec_load under lockdown (security/lockdown/lockdown.c, LOCKDOWN_KEXEC).
    #[error("kexec_load is forbidden under lockdown")]
    LockedDown,

    /// nr_segments > KEXEC_SEGMENT_MAX (kernel/kexec.c kexec_load_check).
    #[error("{count} segments, the kernel takes at most {max}")]
    TooManySegments { count: usize, max: usize },

    /// The flags' arch field names another architecture (kernel/kexec.c SYSCALL kexec_load).
    #[error("the image is for {image}, this kernel is {native}")]
    ForeignArch { image: Arch, native: Arch },

    /// A crash image's entry outside crashk_res (kernel/kexec.c kimage_alloc_init).
    #[error("entry {entry:#x} is outside the crash reservation {crash}")]
    CrashEntry { entry: u64, crash: CrashkRes },

    /// mem + memsz wraps (kernel/kexec_core.c sanity_check_segment_list).
    #[error("segment {index}: mem {mem:#x} + memsz {memsz:#x} wraps around")]
    Wraps { index: usize, mem: u64, memsz: u64 },

    /// mem or mem + memsz not page-aligned (sanity_check_segment_list).
    #[error("segment {index}: mem {mem:#x} and end {end:#x} must be multiples of {page:#x}")]
    Unaligned {
        index: usize,
        mem: u64,
        end: u64,
        page: u64,
    },

    /// mem + memsz at or above KEXEC_DESTINATION_MEMORY_LIMIT (sanity_check_segment_list).
    #[error("segment {index}: end {end:#x} is at or above the destination limit {limit:#x}")]
    AboveLimit { index: usize, end: u64, limit: u64 },

    /// Two segments' [mem, mem + memsz) intersect (sanity_check_segment_list).
    #[error("segment {index} [{mem:#x}+{memsz:#x}] overlaps segment {other} [{other_mem:#x}+{other_memsz:#x}]")]
    Overlap {
        index: usize,
        mem: u64,
        memsz: u64,
        other: usize,
        other_mem: u64,
        other_memsz: u64,
    },

    /// bufsz > memsz (sanity_check_segment_list).
    #[error("segment {index}: bufsz {bufsz:#x} is larger than memsz {memsz:#x}")]
    BufferLarger {
        index: usize,
        bufsz: u64,
        memsz: u64,
    },

    /// One segment, or all together, more than half of totalram_pages
    /// (sanity_check_segment_list).
    #[error("{what}: {pages:#x} pages, more than half of RAM ({half:#x} of {totalram:#x} pages)")]
    HalfOfRam {
        what: String,
        pages: u64,
        half: u64,
        totalram: u64,
    },

    /// A crash segment outside crashk_res (sanity_check_segment_list).
    #[error("segment {index} [{mem:#x}+{memsz:#x}] is not inside the crash reservation {crash}")]
    OutsideCrashRegion {
        index: usize,
        mem: u64,
        memsz: u64,
        crash: CrashkRes,
    },

    /// No hole left in crashk_res for one of the kernel's own pages
    /// (kernel/kexec_core.c kimage_alloc_crash_control_pages).
    #[error(
        "no free {size:#x}-byte hole left in the crash reservation {crash} for the kernel's {what}"
    )]
    NoControlPage {
        what: ControlUse,
        size: u64,
        crash: CrashkRes,
    },

    /// riscv64 machine_kexec_prepare found no segment that is a device tree
    /// (arch/riscv/kernel/machine_kexec.c).
    #[error("no segment is a device tree (riscv64 machine_kexec_prepare: \"Device tree not included in the provided image\")")]
    NoDeviceTree,

    /// kexec_file_load on a kernel without CONFIG_KEXEC_FILE (kernel/sys_ni.c).
    #[error("this kernel has no kexec_file_load (built without CONFIG_KEXEC_FILE)")]
    NoKexecFile,

    /// kexec_file_load flags outside the kernel's `KEXEC_FILE_FLAGS` (kernel/kexec_file.c:
    /// checked right after the permission check, before the kexec lock).
    #[error("kexec_file_load flags {flags:#x} include bits this kernel does not know (it takes {known:#x})")]
    UnknownFileFlags { flags: u64, known: u64 },
    /// No kexec_file loader of the architecture takes the kernel file
    /// (kernel/kexec_file.c kexec_image_probe_default returns the last probe's error:
    /// x86 bzImage64_probe ENOEXEC, arm64 image_probe EINVAL).
    #[error("the kernel's {arch} kexec_file loader does not take this file: {why}")]
    NotLoadable { arch: Arch, why: &'static str },

    /// An empty kernel or initrd file (fs/kernel_read_file.c kernel_read_file).
    #[error("the {what} file is empty")]
    EmptyFile { what: &'static str },

    /// A kexec_file crash load with no crash reservation: the kernel finds no hole for the
    /// segments (kernel/kexec_file.c kexec_locate_mem_hole).
    #[error("a crash kernel needs a crash reservation and this machine has none")]
    NoCrashReservation,
}

impl Refusal {
    /// The errno the kernel returns for this refusal.
    pub fn errno(&self) -> Errno {
        match self {
            Refusal::LockedDown => Errno::EPERM,
            Refusal::TooManySegments { .. }
            | Refusal::ForeignArch { .. }
            | Refusal::Overlap { .. }
            | Refusal::BufferLarger { .. }
            | Refusal::HalfOfRam { .. }
            | Refusal::EmptyFile { .. }
            | Refusal::NoDeviceTree
            | Refusal::UnknownFileFlags { .. } => Errno::EINVAL,
            Refusal::CrashEntry { .. }
            | Refusal::Wraps { .. }
            | Refusal::Unaligned { .. }
            | Refusal::AboveLimit { .. }
            | Refusal::OutsideCrashRegion { .. }
            | Refusal::NoCrashReservation => Errno::EADDRNOTAVAIL,
            Refusal::NoControlPage { .. } => Errno::ENOMEM,
            Refusal::NoKexecFile => Errno::ENOSYS,
            Refusal::NotLoadable {
                arch: Arch::X86_64, ..
            } => Errno::ENOEXEC,
            Refusal::NotLoadable {
                arch: Arch::Arm64 | Arch::Riscv64,
                ..
            } => Errno::EINVAL,
        }
    }
}
