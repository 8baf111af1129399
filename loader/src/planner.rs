//! The segment planner: places a kernel, its initrd and extra blobs into free memory.
//!
//! Pure: (layout, initrd, command line, extra blobs, memory map, mode) in, [`Plan`] out.
//! Holes come from [`MemoryMap::usable`] (System RAM for a normal image, the crash
//! reservation for a panic image). Every destination is page-aligned, every memsz a whole
//! number of pages, and the plan is checked with [`crate::plan_check::check_plan`] before it is returned, so
//! the planner can never hand out a plan the backends would refuse.

use crate::error::{Error, Result};
use crate::layout::{Blob, KernelLayout, Placement};
use crate::memmap::{align_down, align_up, subtract, MemoryMap, Mode, Range, PAGE_SIZE};
use crate::plan::{Plan, Segment};
use crate::plan_check::{check_placement, control_page_size, KEXEC_SEGMENT_MAX};

/// What to plan.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    pub layout: KernelLayout,
    pub initrd: Option<Vec<u8>>,
    pub cmdline: String,
    /// Arch-specific blobs (boot_params, DTB, trampoline, ...), placed after the initrd in order.
    pub extra: Vec<Blob>,
    pub mode: Mode,
}

/// Plans `req` against `map`.
pub fn plan(req: PlanRequest, map: &MemoryMap) -> Result<Plan> {
    let PlanRequest {
        layout,
        initrd,
        cmdline,
        extra,
        mode,
    } = req;
    let count = layout.pieces.len() + usize::from(initrd.is_some()) + extra.len();
    if count > KEXEC_SEGMENT_MAX {
        return Err(Error::NoRoom {
            what: format!("{count} segments"),
            detail: format!("the kernel takes at most {KEXEC_SEGMENT_MAX}"),
        });
    }
    if mode == Mode::Panic && map.crash.is_none() {
        return Err(Error::NoCrashKernel);
    }
    let mut free = map.usable(mode);
    if mode == Mode::Panic {
        // Keep the last control-page-sized, size-aligned block of crashk_res free: the
        // kernel needs one such hole for its control page (kexec-facts §2), else ENOMEM.
        // The top end costs nothing: kernels go to the bottom (arm64) or to a 2 MiB-aligned
        // address below the end (x86), matching kexec-tools' placements.
        if let Some(crash) = map.crash {
            let size = control_page_size(layout.arch);
            if let Some(last) = crash.end.checked_sub(size) {
                let start = align_down(last, size);
                if start >= crash.start {
                    free = subtract(&free, &[Range::new(start, start + size)]);
                }
            }
        }
    }
    let mut segments = Vec::with_capacity(count);
    let mut kernel_range: Option<Range> = None;
    for (i, piece) in layout.pieces.into_iter().enumerate() {
        let seg = place(piece, &mut free, None)?;
        if i == 0 {
            kernel_range = Some(Range::new(seg.mem, seg.end()));
        }
        segments.push(seg);
    }
    let entry_base = segments
        .get(layout.entry_piece)
        .map(|s| s.mem)
        .ok_or_else(|| Error::invalid("kernel layout", "entry piece does not exist"))?;
    let entry = entry_base
        .checked_add(layout.entry_offset)
        .ok_or(Error::Overflow {
            what: "entry point",
        })?;
    if let Some(data) = initrd {
        let blob = Blob::new("initrd", data, layout.initrd);
        segments.push(place(blob, &mut free, kernel_range)?);
    }
    for blob in extra {
        segments.push(place(blob, &mut free, kernel_range)?);
    }
    segments.sort_by_key(|s| s.mem);
    let plan = Plan {
        arch: layout.arch,
        mode,
        entry,
        segments,
        cmdline,
        notes: Vec::new(),
    };
    check_placement(&plan, map)?;
    Ok(plan)
}

/// Finds a destination for `blob` in `free`, removes it from `free`, returns the segment.
fn place(blob: Blob, free: &mut Vec<Range>, kernel: Option<Range>) -> Result<Segment> {
    let memsz =
        align_up(blob.memsz.max(blob.data.len() as u64), PAGE_SIZE).ok_or(Error::Overflow {
            what: "segment size",
        })?;
    let memsz = memsz.max(PAGE_SIZE);
    let p = effective_placement(&blob.placement, kernel);
    let align = p.align.max(PAGE_SIZE);
    if !align.is_power_of_two() {
        return Err(Error::invalid(
            "placement",
            format!("{}: alignment {align:#x} is not a power of two", blob.what),
        ));
    }
    let fits = |r: &Range| -> Option<u64> {
        let lo = r.start.max(p.min);
        let hi = r.end.min(p.max);
        if p.top_down {
            let start = align_down(hi.checked_sub(memsz)?, align);
            (start >= lo).then_some(start)
        } else {
            let start = align_up(lo, align)?;
            (start.checked_add(memsz)? <= hi).then_some(start)
        }
    };
    let found = if p.top_down {
        free.iter().rev().find_map(fits)
    } else {
        free.iter().find_map(fits)
    };
    let mem = found.ok_or_else(|| Error::NoRoom {
        what: blob.what.clone(),
        detail: format!(
            "{memsz:#x} bytes aligned to {align:#x} between {:#x} and {:#x}; free: {}",
            p.min,
            p.max,
            describe_free(free)
        ),
    })?;
    *free = subtract(free, &[Range::new(mem, mem + memsz)]);
    Ok(Segment {
        what: blob.what,
        buf: blob.data,
        mem,
        memsz,
    })
}

fn effective_placement(p: &Placement, kernel: Option<Range>) -> Placement {
    let mut p = *p;
    if p.near_kernel {
        if let Some(k) = kernel {
            const GIB: u64 = 1 << 30;
            p.min = p.min.max(k.end);
            p.max = p.max.min(align_down(k.start, GIB).saturating_add(32 * GIB));
        }
    }
    p
}

/// The free ranges for an error line: the largest few, so a fragmented map (hundreds of
/// holes) still gives one readable line that shows why nothing fits.
fn describe_free(free: &[Range]) -> String {
    const SHOWN: usize = 4;
    if free.is_empty() {
        return "none".to_string();
    }
    let mut by_size: Vec<&Range> = free.iter().collect();
    by_size.sort_by_key(|r| std::cmp::Reverse(r.end - r.start));
    let largest = by_size
        .iter()
        .take(SHOWN)
        .map(|r| format!("{r} ({:#x} bytes)", r.end - r.start))
        .collect::<Vec<_>>()
        .join(" ");
    match free.len().saturating_sub(SHOWN) {
        0 => largest,
        more => format!("{largest} and {more} more, none larger"),
    }
}
