//! The crate's one error type.
//!
//! Messages are written for a system administrator: they say what was wrong with which
//! file or value, not which function noticed. The CLI prints `warmboot: <error>` on one
//! line, so no message contains a newline.
//!
//! The bottom layer: every module may use it, and it imports nothing from the crate. The
//! names of the kernel's acceptance rules a rejected plan names ([`Rule`]) live here for
//! that reason; [`crate::plan_check`] checks them.

use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong in warmboot's library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Wraps any error with the file it concerns; the CLI's errors always name the file.
    #[error("{}: {source}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: Box<Error>,
    },

    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),

    #[error("file is empty")]
    Empty,

    /// A header field or structure extends past the end of the data.
    #[error("truncated: {what} needs bytes {start:#x}..{end:#x} but the data is only {len:#x} bytes long")]
    Truncated {
        what: &'static str,
        start: u64,
        end: u64,
        len: u64,
    },

    /// Header arithmetic overflowed: the header is corrupt (or hostile).
    #[error("corrupt header: {what} overflows")]
    Overflow { what: &'static str },

    /// A field holds a value the format does not allow.
    #[error("invalid {what}: {detail}")]
    Invalid { what: &'static str, detail: String },

    /// No supported kernel format matched the content.
    #[error("not a kernel image warmboot understands ({detail})")]
    UnknownFormat { detail: String },

    /// The image is a kernel, but for an architecture warmboot does not boot.
    #[error("unsupported architecture: {0}")]
    UnsupportedArch(String),

    /// The x86 boot protocol is too old for a 64-bit entry (Documentation/arch/x86/boot.rst).
    #[error("x86 boot protocol {major}.{minor:02} is too old: warmboot needs 2.12 or later for the 64-bit entry point")]
    OldBootProtocol { major: u8, minor: u8 },

    /// Compressed data whose compression warmboot cannot (or may not) decompress.
    #[error("{what} is compressed with {method}, which warmboot cannot decompress")]
    UnsupportedCompression { what: &'static str, method: String },

    /// A load plan broke one of the kernel's acceptance rules ([`crate::plan_check`]).
    #[error("plan rejected ({rule}): {detail}")]
    Rejected { rule: Rule, detail: String },

    /// The planner found no place for a segment.
    #[error("no room for {what}: {detail}")]
    NoRoom { what: String, detail: String },

    /// A panic load on a machine without a crash kernel reservation.
    #[error("no crash kernel reservation (no \"Crash kernel\" in /proc/iomem): boot the running kernel with crashkernel=SIZE")]
    NoCrashKernel,

    /// A capture kernel that does not fit the crash reservation; the message says how much
    /// it needs ([`crate::capture::CaptureNeeds::check_fits`]).
    #[error("{0}")]
    CaptureTooBig(String),

    /// The kernel image is for another architecture than the one being loaded for.
    #[error("the kernel is built for {kernel}, but the target architecture is {target}")]
    ArchMismatch {
        /// The architectures' names (`x86_64`, `arm64`).
        kernel: String,
        target: String,
    },

    /// Something warmboot deliberately does not do (yet); the message says what and when.
    #[error("{0}")]
    Unsupported(String),

    /// A kexec/reboot syscall failed; `call` shows the syscall and its arguments.
    #[error("{call} failed: {errno:?}{}", errno_meaning(call, *errno))]
    Syscall {
        call: String,
        errno: nix::errno::Errno,
    },

    /// The running kernel refused a load, said with why and what the administrator can do
    /// (`commands::load_refusal`); the CLI puts the kernel's path in front.
    #[error("{0}")]
    Refused(String),

    /// A load that failed after warmboot began talking to the kernel, with what the kernel
    /// holds now, read from its status before and after ([`crate::commands::outcome`]).
    #[error("{source}; {state}")]
    LoadFailed {
        #[source]
        source: Box<Error>,
        state: String,
    },

    /// Another warmboot holds the kexec lock ([`crate::lock`]); `holder` is its pid and
    /// command as it recorded them.
    #[error(
        "another warmboot ({holder}) is changing the loaded kernel; try again when it has finished"
    )]
    Locked { holder: String },

    /// The kernel image is not the one `--sha256` pinned ([`crate::file_trust`]).
    #[error("SHA-256 is {actual}, --sha256 expected {expected}; not loading")]
    DigestMismatch { actual: String, expected: String },

    /// Decompression failed or produced more than the limit.
    #[error("cannot decompress {what} ({method}): {detail}")]
    Decompress {
        what: &'static str,
        method: String,
        detail: String,
    },
}

impl Error {
    /// Attaches the file this error is about.
    pub fn in_file(self, path: impl Into<PathBuf>) -> Error {
        Error::File {
            path: path.into(),
            source: Box::new(self),
        }
    }

    pub(crate) fn invalid(what: &'static str, detail: impl Into<String>) -> Error {
        Error::Invalid {
            what,
            detail: detail.into(),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What an errno from a kexec or reboot syscall means for an administrator, appended to
/// the error as ` (…)`; empty when the errno speaks for itself. Sources: kernel/kexec.c,
/// kernel/kexec_file.c, kernel/kexec_core.c, kernel/reboot.c (../shared/notes/kexec-facts.md §1).
pub fn errno_meaning(call: &str, errno: nix::errno::Errno) -> String {
    use nix::errno::Errno;
    let file = call.starts_with("kexec_file_load");
    let m = match errno {
        Errno::ENOSYS if file => "this kernel was built without CONFIG_KEXEC_FILE",
        Errno::ENOSYS => "this kernel was built without CONFIG_KEXEC",
        Errno::EPERM => {
            "not permitted: it needs root (CAP_SYS_BOOT in the initial user namespace), and is refused under lockdown or kernel.kexec_load_disabled=1"
        }
        Errno::EBUSY => "the kernel is busy with another kexec load or reboot; try again",
        Errno::EKEYREJECTED | Errno::EBADMSG if file => {
            "the kernel's signature was rejected (signature enforcement is on)"
        }
        Errno::ENOKEY | Errno::ENODATA if file => {
            "the kernel is not signed by a trusted key and signature enforcement is on"
        }
        Errno::ENOEXEC if file => "the running kernel's kexec_file loader does not accept this image format",
        Errno::EADDRNOTAVAIL => "a segment lies outside the memory the kernel allows (crash reservation or address limit)",
        Errno::ENOMEM => "the kernel could not find memory for the image",
        Errno::EINVAL if call.starts_with("reboot") => "no kernel is loaded",
        _ => "",
    };
    if m.is_empty() {
        String::new()
    } else {
        format!(" ({m})")
    }
}

/// The names of the kernel's acceptance rules for a `kexec_load` plan, each with the errno
/// the kernel returns for it (kernel/kexec.c, kernel/kexec_core.c:
/// `sanity_check_segment_list`, `kimage_alloc_init`).
/// One acceptance rule; each failure names exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// 1..=16 segments (EINVAL above 16; zero segments would unload instead).
    SegmentCount,
    /// A crash image's entry must lie in crashk_res (EADDRNOTAVAIL, kimage_alloc_init).
    CrashEntry,
    /// mem and mem+memsz page-aligned (EADDRNOTAVAIL).
    PageAlignment,
    /// mem+memsz must not wrap and must stay below KEXEC_DESTINATION_MEMORY_LIMIT (EADDRNOTAVAIL).
    AddressLimit,
    /// No two segments' [mem, mem+memsz) intersect (EINVAL).
    Overlap,
    /// bufsz <= memsz (EINVAL).
    BufferSize,
    /// No segment, and not all together, larger than half of RAM (EINVAL).
    HalfOfRam,
    /// A crash segment must lie inside crashk_res (EADDRNOTAVAIL).
    CrashRegion,
    /// A crash image needs free holes in crashk_res for the kernel's own pages: the control
    /// page, the x86_64 identity map, the vmcoreinfo copy (ENOMEM).
    CrashControlPage,
    /// warmboot's rule: a normal image's segments lie in usable RAM.
    UsableRam,
    /// warmboot's rule: the entry lies inside a segment.
    Entry,
    /// warmboot's rule (x86_64): the zero page's command line pointer, ramdisk fields and
    /// the trampoline's jump point at bytes the plan loads.
    BootParams,
    /// riscv64: some segment is a device tree (EINVAL, machine_kexec_prepare in
    /// arch/riscv/kernel/machine_kexec.c).
    DeviceTree,
}

impl Rule {
    /// The errno the kernel returns when it enforces this rule (None: warmboot's own rule).
    pub fn kernel_errno(self) -> Option<nix::errno::Errno> {
        use nix::errno::Errno;
        match self {
            Rule::SegmentCount
            | Rule::Overlap
            | Rule::BufferSize
            | Rule::HalfOfRam
            | Rule::DeviceTree => Some(Errno::EINVAL),
            Rule::CrashEntry | Rule::PageAlignment | Rule::AddressLimit | Rule::CrashRegion => {
                Some(Errno::EADDRNOTAVAIL)
            }
            Rule::CrashControlPage => Some(Errno::ENOMEM),
            Rule::UsableRam | Rule::Entry | Rule::BootParams => None,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::SegmentCount => "segment count",
            Rule::CrashEntry => "crash entry",
            Rule::PageAlignment => "page alignment",
            Rule::AddressLimit => "address limit",
            Rule::Overlap => "overlap",
            Rule::BufferSize => "bufsz <= memsz",
            Rule::HalfOfRam => "half of RAM",
            Rule::CrashRegion => "crash region",
            Rule::CrashControlPage => "crash control page",
            Rule::UsableRam => "usable RAM",
            Rule::Entry => "entry",
            Rule::BootParams => "boot_params",
            Rule::DeviceTree => "device tree segment",
        })
    }
}
