//! The names of the kernel's acceptance rules for a `kexec_load` plan, each with the errno
//! the kernel returns for it (kernel/kexec.c, kernel/kexec_core.c:
//! `sanity_check_segment_list`, `kimage_alloc_init`). A leaf: the error type names a rule,
//! and [`crate::plan_check`] checks them.

use serde::Serialize;
use std::fmt;

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
}

impl Rule {
    /// The errno the kernel returns when it enforces this rule (None: warmboot's own rule).
    pub fn kernel_errno(self) -> Option<nix::errno::Errno> {
        use nix::errno::Errno;
        match self {
            Rule::SegmentCount | Rule::Overlap | Rule::BufferSize | Rule::HalfOfRam => {
                Some(Errno::EINVAL)
            }
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
        })
    }
}
