//! The complete x86_64 `kexec_load` plan: the bzImage's protected-mode kernel, the initrd,
//! and one "boot_params" segment holding warmboot's entry trampoline, the zero page, the
//! command line and the setup_data chain (e820 overflow, EFI hand-over); for a crash
//! kernel also the ELF core header, all inside the crash reservation.
//!
//! Planning runs in two passes because the zero page holds addresses (command line,
//! initrd, setup_data) that exist only once the planner has placed the segments: the first
//! pass places a boot_params segment of the final size filled with zeros, the second fills
//! it. Layout of that segment (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol":
//! the zero page and command line may be anywhere, even above 4 GiB):
//!
//! | offset | what |
//! |---|---|
//! | 0x0000 | entry trampoline ([`crate::x86::trampoline`]), the plan's entry |
//! | 0x1000 | zero page (struct boot_params, 4096 bytes) |
//! | 0x2000 | command line, NUL-terminated |
//! | after  | setup_data chain, then the EFI runtime memory map (8-byte aligned) |

use crate::crash::elfcore;
use crate::error::{Error, Result};
use crate::fields::add;
use crate::host::HostRoot;
use crate::image::bzimage::BzImage;
use crate::layout::{Blob, KernelLayout, Placement};
use crate::memmap::{MemoryMap, Mode, Range, PAGE_SIZE};
use crate::plan::Plan;
use crate::planner::{plan, PlanRequest};
use crate::x86::bootparams::{
    build_zero_page, e820_ext_node, setup_header, split_e820, ZeroPageInput,
};
use crate::x86::e820::{crash_e820, normal_e820, E820Entry};
use crate::x86::early_setup::{self, EarlySetupFacts};
use crate::x86::efi::{self, EfiFirmware};
use crate::x86::kaslr::{self, Kaslr, KaslrInput};
use crate::x86::relocs::START_KERNEL_MAP;
use crate::x86::setup_data::SetupDataChain;
use crate::x86::trampoline;
use crate::x86::vmlinux_payload::KernelProper;
use serde::Serialize;

pub use crate::x86::plan_contents::{
    verify, BOOT_PARAMS, CMDLINE_OFFSET, DECOMPRESSED_NOTE, ELFCOREHDR, ENTRY_NOTE,
    ENTRY_OFFSET_NOTE, ZERO_PAGE_OFFSET,
};
const GIB4: u64 = 1 << 32;

/// The note of a plan that enters through the bzImage's own decompressor, and why.
pub fn bzimage_note(reason: &str) -> String {
    format!("{ENTRY_NOTE}{BZIMAGE_NOTE}{reason})")
}

/// Why `plan` enters through the bzImage's own decompressor (the reason in its
/// [`bzimage_note`]); None for any other plan.
pub fn bzimage_fallback(plan: &Plan) -> Option<&str> {
    plan.notes.iter().find_map(|n| {
        n.strip_prefix(ENTRY_NOTE)?
            .strip_prefix(BZIMAGE_NOTE)?
            .strip_suffix(')')
    })
}

const BZIMAGE_NOTE: &str = "bzImage decompressor (";

/// loadflags in the zero page (boot.rst; bootparam.h KASLR_FLAG is bit 1).
const LOADFLAGS_OFFSET: usize = 0x211;

/// How warmboot enters an x86_64 kernel (`load --x86-entry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum X86Entry {
    /// The decompressed kernel proper where that is possible and safe, else the bzImage.
    Auto,
    /// The kernel proper, decompressed and relocated by warmboot at load time; an error
    /// where that cannot be done.
    Decompressed,
    /// The bzImage's own 64-bit entry: the kernel decompresses itself at boot.
    Bzimage,
}

/// Which entry one plan uses.
#[derive(Debug, Clone)]
pub enum KernelEntry {
    /// The bzImage's decompressor, and why.
    BzImage(String),
    /// The kernel proper decompressed by warmboot; two random numbers for the physical
    /// and the virtual KASLR slot.
    Decompressed {
        proper: Box<KernelProper>,
        random: [u64; 2],
    },
}

/// What `load` asks of the x86 entry: the request, the kernel proper if it was
/// decompressed (or why not), whether the plan goes to kexec_load, and randomness.
#[derive(Debug)]
pub struct EntryRequest {
    pub requested: X86Entry,
    pub proper: Option<Result<KernelProper>>,
    pub kexec_load: bool,
    pub random: [u64; 2],
}

/// Plans a bzImage with the entry `req` asks for: the decompressed kernel proper when it is
/// requested or `auto` and a normal kexec_load, else (and whenever that plan cannot be
/// made under `auto`) the bzImage's own decompressor, with the reason in the plan's
/// [`ENTRY_NOTE`] line. `--x86-entry decompressed` that cannot be honoured is an error;
/// panic loads always use the bzImage path.
#[allow(clippy::too_many_arguments)]
pub fn plan_x86(
    image: &BzImage,
    file: &[u8],
    mut initrd: Option<Vec<u8>>,
    cmdline: &str,
    mode: Mode,
    map: &MemoryMap,
    facts: &MachineFacts,
    verify: bool,
    req: EntryRequest,
) -> Result<Plan> {
    let reason = if mode == Mode::Panic {
        "panic loads always use it".to_string()
    } else if req.requested == X86Entry::Bzimage {
        "requested with --x86-entry bzimage".to_string()
    } else {
        match req.proper {
            Some(Err(e)) => e.to_string(),
            _ if !req.kexec_load => {
                "kexec_file_load: the kernel loads the bzImage itself".to_string()
            }
            None => "the kernel proper was not decompressed".to_string(),
            Some(Ok(proper)) => {
                let entry = KernelEntry::Decompressed {
                    proper: Box::new(proper),
                    random: req.random,
                };
                // A failed attempt hands the initrd back for the bzImage plan below.
                match plan_bzimage_keeping(
                    image,
                    file,
                    &mut initrd,
                    cmdline,
                    mode,
                    map,
                    facts,
                    verify,
                    entry,
                ) {
                    Ok(p) => return Ok(p),
                    Err(e) => e.to_string(),
                }
            }
        }
    };
    if req.requested == X86Entry::Decompressed && mode == Mode::Normal {
        return Err(Error::Unsupported(format!(
            "--x86-entry decompressed cannot be honoured: {reason}"
        )));
    }
    plan_bzimage(
        image,
        file,
        initrd,
        cmdline,
        mode,
        map,
        facts,
        verify,
        KernelEntry::BzImage(reason),
    )
}

/// The kernel segment's layout, entry offset, KASLR flag and entry note for `entry`.
fn kernel_part(
    image: &BzImage,
    file: &[u8],
    cmdline: &str,
    map: &MemoryMap,
    early: &EarlySetupFacts,
    entry: KernelEntry,
) -> Result<KernelPart> {
    // The decompressed entry replaces the kernel piece's bytes: its layout has none.
    let with_bytes = matches!(entry, KernelEntry::BzImage(_));
    let mut layout = KernelLayout::from_bzimage(image, file, with_bytes)?;
    let (proper, random) = match entry {
        KernelEntry::BzImage(reason) => {
            return Ok(KernelPart {
                layout,
                entry_offset: image.entry64_offset(),
                kaslr_flag: None,
                note: bzimage_note(&reason),
            })
        }
        KernelEntry::Decompressed { proper, random } => (proper, random),
    };
    if let Some(option) = kaslr::unmodelled_option(cmdline) {
        return Err(Error::Unsupported(format!(
            "the command line has {option}=, which changes where the kernel's own decompressor places the kernel"
        )));
    }
    if let Some(why) = early_setup::difference(early, cmdline) {
        return Err(Error::Unsupported(why));
    }
    let load = proper.load_physical_addr;
    let image_len = proper.mem_len;
    let input = KaslrInput {
        phys_size: image_len,
        virt_size: proper.virt_size(),
        load_physical_addr: load,
        align: proper.align,
    };
    let nokaslr = kaslr::nokaslr(cmdline);
    // Below the limit the bzImage path honours too (4 GiB without
    // XLF_CAN_BE_LOADED_ABOVE_4G).
    let limit = layout.pieces.first().map_or(GIB4, |p| p.placement.max);
    let free: Vec<Range> = map
        .usable(Mode::Normal)
        .into_iter()
        .filter(|r| r.start < limit)
        .map(|r| Range::new(r.start, r.end.min(limit)))
        .collect();
    let choice = kaslr::choose(&input, &free, nokaslr, random)?;
    let delta = choice.virt_delta(load);
    let signed = i64::try_from(delta).map_err(|_| Error::Overflow {
        what: "KASLR delta",
    })?;
    let (align, entry_offset) = (proper.align, proper.entry_offset);
    let piece = layout
        .pieces
        .first_mut()
        .ok_or_else(|| Error::invalid("x86 plan", "no kernel"))?;
    // Relocated in its own buffer: one copy of the kernel proper at a time.
    piece.data = proper.into_relocated(signed)?;
    piece.memsz = image_len;
    piece.placement.align = align;
    let text = add(add(START_KERNEL_MAP, load, VIRT)?, delta, VIRT)?;
    let mut note = match choice {
        Kaslr::Off => {
            format!("{DECOMPRESSED_NOTE}, physical {{phys}}, virtual _text {text:#018x}, KASLR off (nokaslr)")
        }
        Kaslr::Random { phys, .. } => {
            piece.placement.min = phys;
            piece.placement.max = add(phys, image_len.next_multiple_of(PAGE_SIZE), PHYS)?;
            piece.placement.top_down = false;
            format!("{DECOMPRESSED_NOTE}, physical {{phys}}, virtual _text {text:#018x}, KASLR offset {delta:#x}")
        }
    };
    if entry_offset != 0 {
        note += &format!("{ENTRY_OFFSET_NOTE}{entry_offset:#x}");
    }
    Ok(KernelPart {
        layout,
        entry_offset,
        kaslr_flag: Some(!nokaslr),
        note,
    })
}

/// What the running machine tells the next kernel, read once at the edge.
#[derive(Debug, Clone, Default)]
pub struct MachineFacts {
    /// The firmware memory map as e820 entries (/sys/firmware/memmap).
    pub e820: Vec<E820Entry>,
    /// ACPI RSDP: the running kernel's boot_params acpi_rsdp_addr, else EFI systab ACPI20.
    pub acpi_rsdp: Option<u64>,
    /// EFI hand-over on EFI-booted machines (None also when the running kernel's
    /// boot_params are not readable: the next kernel then boots without EFI runtime).
    pub efi: Option<EfiFirmware>,
    /// Crash: each CPU's crash_notes (address, size) and the vmcoreinfo note.
    pub cpu_notes: Vec<(u64, u64)>,
    pub vmcoreinfo: Option<(u64, u64)>,
    /// The CPU flags and command line the decompressed entry's early-setup check needs.
    pub early: EarlySetupFacts,
}

/// Reads the facts of the machine at `host`.
pub fn machine_facts(host: &HostRoot) -> Result<MachineFacts> {
    let e820 = normal_e820(&host.firmware_memmap()?)?;
    let running = match host.x86_boot_params()? {
        Some(data) => Some(
            efi::parse_running_boot_params(&data)
                .map_err(|e| e.in_file(host.path("/sys/kernel/boot_params/data")))?,
        ),
        None => None,
    };
    let systab = host.efi_systab()?.unwrap_or_default();
    let acpi_rsdp = efi::acpi_rsdp(running.as_ref(), &systab);
    let efi = EfiFirmware::from_host(host)?;
    let cpu_notes = crate::crash::cpu_notes(host, crate::Arch::X86_64)?;
    let early = EarlySetupFacts {
        cpu_flags: host
            .read_optional("/proc/cpuinfo")?
            .map(|c| EarlySetupFacts::cpu_flags_from_cpuinfo(&c))
            .unwrap_or_default(),
        running_cmdline: host.read_optional("/proc/cmdline")?.unwrap_or_default(),
    };
    Ok(MachineFacts {
        e820,
        acpi_rsdp,
        efi,
        cpu_notes,
        vmcoreinfo: host.vmcoreinfo()?,
        early,
    })
}

/// The final command line: the user's, plus `elfcorehdr=` for a crash kernel. The
/// address is written with a fixed width so the length is known before placement.
fn cmdline_with_elfcorehdr(cmdline: &str, elfcorehdr: u64) -> String {
    let sep = if cmdline.is_empty() { "" } else { " " };
    format!("{cmdline}{sep}elfcorehdr={elfcorehdr:#018x}")
}

/// Plans a bzImage for kexec_load: kernel, initrd, boot_params (and elfcorehdr for a crash
/// kernel), then fills boot_params with the placed addresses. With `verify` (`load
/// --verify`) the plan also gets warmboot's purgatory ([`crate::purgatory`]) as its entry,
/// which checks the SHA-256 of the other segments before running the trampoline.
///
/// `entry` says what the kernel segment holds: the bzImage's protected-mode code (entered
/// at +0x200, the kernel decompresses itself), or the kernel proper warmboot decompressed
/// and relocated ([`crate::x86::vmlinux_payload`]), entered at startup_64 (e_entry, at or
/// after `_text`) with
/// the same 64-bit boot protocol state, KASLR_FLAG set in loadflags when randomised as
/// the decompressor's choose_random_location does.
#[allow(clippy::too_many_arguments)]
pub fn plan_bzimage(
    image: &BzImage,
    file: &[u8],
    initrd: Option<Vec<u8>>,
    cmdline: &str,
    mode: Mode,
    map: &MemoryMap,
    facts: &MachineFacts,
    verify: bool,
    entry: KernelEntry,
) -> Result<Plan> {
    let mut initrd = initrd;
    plan_bzimage_keeping(
        image,
        file,
        &mut initrd,
        cmdline,
        mode,
        map,
        facts,
        verify,
        entry,
    )
}

/// [`plan_bzimage`] that leaves the initrd in `initrd` when it fails, so that a caller
/// can plan again with it without holding a second copy. The initrd is placed by its
/// length alone, first of the extra blobs (where the planner places an initrd, so the
/// placement is the same); its bytes join the plan only once every other part is built.
///
/// The steps: lay out the kernel ([`kernel_part`]), size the other parts
/// ([`size_parts`]), place everything ([`plan`]), fill boot_params with the placed
/// addresses ([`fill_boot_params`]), then add the initrd's bytes and check
/// ([`attach_initrd_and_check`]).
#[allow(clippy::too_many_arguments)]
fn plan_bzimage_keeping(
    image: &BzImage,
    file: &[u8],
    initrd: &mut Option<Vec<u8>>,
    cmdline: &str,
    mode: Mode,
    map: &MemoryMap,
    facts: &MachineFacts,
    verify: bool,
    entry: KernelEntry,
) -> Result<Plan> {
    let kernel = kernel_part(image, file, cmdline, map, &facts.early, entry)?;
    let setup_header = setup_header(file, image.header_end)?;
    let initrd_len = initrd.as_ref().map(|i| i.len() as u64);
    let parts = size_parts(
        &kernel.layout,
        initrd_len,
        cmdline,
        mode,
        map,
        facts,
        verify,
    )?;
    let mut p = plan(
        PlanRequest {
            layout: kernel.layout,
            initrd: None,
            cmdline: parts.final_cmdline,
            extra: parts.extra,
            mode,
        },
        map,
    )?;
    fill_boot_params(
        &mut p,
        BootParamsInput {
            setup_header,
            cmdline,
            map,
            facts,
            initrd_len,
            entry_offset: kernel.entry_offset,
            kaslr_flag: kernel.kaslr_flag,
            entry_note: &kernel.note,
            efi_memmap: &parts.efi_memmap,
        },
    )?;
    attach_initrd_and_check(p, initrd, map, verify)
}

/// The kernel segment as [`kernel_part`] lays it out for one entry.
struct KernelPart {
    layout: KernelLayout,
    /// Where the kernel is entered, from the start of its segment.
    entry_offset: u64,
    /// The zero page's KASLR_FLAG: set or cleared for the decompressed entry, left as the
    /// setup header has it (None) for the bzImage's own decompressor.
    kaslr_flag: Option<bool>,
    /// The plan's [`ENTRY_NOTE`] line, with `{phys}` for the kernel's placed address.
    note: String,
}

/// The parts of an x86 plan besides the kernel, sized before placement: the initrd by its
/// length, a crash kernel's ELF core header, boot_params at its final size (zeros), and
/// with `--verify` the purgatory.
struct SizedParts {
    extra: Vec<Blob>,
    /// The command line as the kernel will get it (a crash kernel's with a fixed-width
    /// `elfcorehdr=` placeholder, so the length is final).
    final_cmdline: String,
    /// The EFI runtime memory map that ends the boot_params segment (empty without EFI).
    efi_memmap: Vec<u8>,
}

/// Sizes the parts of the plan besides the kernel ([`SizedParts`]).
fn size_parts(
    layout: &KernelLayout,
    initrd_len: Option<u64>,
    cmdline: &str,
    mode: Mode,
    map: &MemoryMap,
    facts: &MachineFacts,
    verify: bool,
) -> Result<SizedParts> {
    let mut extra = Vec::new();
    if let Some(len) = initrd_len {
        extra.push(Blob {
            what: "initrd".to_string(),
            data: Vec::new(),
            memsz: len,
            placement: layout.initrd,
        });
    }
    let elfcorehdr = match mode {
        Mode::Normal => None,
        Mode::Panic => {
            let crash = map.crash.ok_or(Error::NoCrashKernel)?;
            let header = elfcore::build(&elfcore::ElfCoreInput {
                arch: crate::Arch::X86_64,
                cpu_notes: facts.cpu_notes.clone(),
                vmcoreinfo: facts.vmcoreinfo,
                kernel_text: None,
                ram: elfcore::dump_ranges(map, crate::Arch::X86_64),
                // p_vaddr is for dump tools, which also read vmcoreinfo; /proc/vmcore
                // needs only p_offset = p_paddr.
                linear_map: None,
            })?;
            extra.push(Blob::new(
                ELFCOREHDR,
                header,
                Placement {
                    align: PAGE_SIZE,
                    min: crash.start,
                    max: crash.end,
                    top_down: false,
                    near_kernel: false,
                },
            ));
            Some(())
        }
    };
    // The command line's final length: a crash kernel's gets " elfcorehdr=0x…" (fixed width).
    let final_cmdline = match elfcorehdr {
        Some(()) => cmdline_with_elfcorehdr(cmdline, 0),
        None => cmdline.to_string(),
    };
    let (_, rest) = split_e820(&facts.e820);
    // A crash kernel's e820 can have a few more entries than the firmware map: room for 20.
    let mut setup_nodes_len: u64 = 16 * 20;
    for (_, d) in setup_nodes(&rest, facts.efi.as_ref()) {
        let node = add(16, d.len().next_multiple_of(8) as u64, BP)?;
        setup_nodes_len = add(setup_nodes_len, node, BP)?;
    }
    let efi_memmap = match &facts.efi {
        Some(e) => e.memmap_bytes()?,
        None => Vec::new(),
    };
    let cmdline_room = add(final_cmdline.len() as u64, 1, BP)?.next_multiple_of(8);
    let size = add(
        add(add(CMDLINE_OFFSET, cmdline_room, BP)?, setup_nodes_len, BP)?,
        efi_memmap.len() as u64,
        BP,
    )?;
    let size = usize::try_from(size).map_err(|_| Error::Overflow { what: BP })?;
    // Above the first MiB and below 4 GiB, highest first, as kexec_file places them.
    let low_page = Placement {
        align: PAGE_SIZE,
        min: 1 << 20,
        max: GIB4,
        top_down: true,
        near_kernel: false,
    };
    extra.push(Blob::new(BOOT_PARAMS, vec![0; size], low_page));
    if verify {
        extra.push(crate::purgatory::blob(crate::Arch::X86_64, low_page)?);
    }
    Ok(SizedParts {
        extra,
        final_cmdline,
        efi_memmap,
    })
}

/// What [`fill_boot_params`] writes besides the placed addresses.
struct BootParamsInput<'a> {
    /// The bzImage's setup header, copied into the zero page.
    setup_header: Vec<u8>,
    /// The user's command line (a crash kernel's gets `elfcorehdr=` here).
    cmdline: &'a str,
    map: &'a MemoryMap,
    facts: &'a MachineFacts,
    initrd_len: Option<u64>,
    entry_offset: u64,
    kaslr_flag: Option<bool>,
    entry_note: &'a str,
    efi_memmap: &'a [u8],
}

/// The address of the segment `what`, or an error naming it.
fn segment_mem(p: &Plan, what: &'static str) -> Result<u64> {
    p.segments
        .iter()
        .find(|s| s.what == what)
        .map(|s| s.mem)
        .ok_or_else(|| Error::invalid("x86 plan", format!("no {what}")))
}

/// Names for the overflow errors of this module's address arithmetic (all on addresses
/// and sizes the planner made, so only a planner bug reaches them).
const VIRT: &str = "x86 kernel virtual address";
const PHYS: &str = "x86 kernel physical placement";
const BP: &str = "x86 boot_params segment";

/// The second pass: with every segment placed, builds the boot_params segment (trampoline,
/// zero page, command line, setup_data chain, EFI memory map) from the placed addresses,
/// and sets the plan's entry, command line and notes.
fn fill_boot_params(p: &mut Plan, input: BootParamsInput<'_>) -> Result<()> {
    let facts = input.facts;
    let kernel_mem = segment_mem(p, "kernel")?;
    let kernel_entry = add(kernel_mem, input.entry_offset, PHYS)?;
    let base = segment_mem(p, BOOT_PARAMS)?;
    let initrd_at = segment_mem(p, "initrd")
        .ok()
        .map(|mem| (mem, input.initrd_len.unwrap_or(0)));

    let (cmdline, e820) = match p.segments.iter().find(|s| s.what == ELFCOREHDR) {
        Some(hdr) => (
            cmdline_with_elfcorehdr(input.cmdline, hdr.mem),
            crash_e820(input.map, Range::new(hdr.mem, hdr.end()))?,
        ),
        None => (input.cmdline.to_string(), facts.e820.clone()),
    };
    let (first, rest) = split_e820(&e820);
    let cmdline_addr = add(base, CMDLINE_OFFSET, BP)?;
    let cmdline_room = add(cmdline.len() as u64, 1, BP)?.next_multiple_of(8);
    let chain_base = add(cmdline_addr, cmdline_room, BP)?;
    let nodes = setup_nodes(&rest, facts.efi.as_ref());
    let (chain, first_node) = if nodes.is_empty() {
        (Vec::new(), 0)
    } else {
        SetupDataChain::build(chain_base, nodes)?
    };
    let memmap_addr = add(chain_base, chain.len() as u64, BP)?;
    let efi = match &facts.efi {
        Some(e) => Some(e.efi_info(memmap_addr)?),
        None => None,
    };
    let mut zero_page = build_zero_page(&ZeroPageInput {
        setup_header: input.setup_header,
        cmdline_addr,
        cmdline_len: cmdline.len() as u64,
        initrd: initrd_at,
        e820: first,
        acpi_rsdp: facts.acpi_rsdp,
        efi,
        setup_data: first_node,
    })?;

    if let (Some(on), Some(flags)) = (input.kaslr_flag, zero_page.get_mut(LOADFLAGS_OFFSET)) {
        if on {
            *flags |= crate::image::bzimage::loadflags::KASLR_FLAG;
        } else {
            *flags &= !crate::image::bzimage::loadflags::KASLR_FLAG;
        }
    }

    let zero_page_addr = add(base, ZERO_PAGE_OFFSET, BP)?;
    let mut buf = trampoline::build(base, zero_page_addr, kernel_entry)?;
    let to_usize = |v: u64| usize::try_from(v).map_err(|_| Error::Overflow { what: BP });
    buf.resize(to_usize(ZERO_PAGE_OFFSET)?, 0);
    buf.extend_from_slice(&zero_page);
    buf.extend_from_slice(cmdline.as_bytes());
    buf.push(0);
    // chain_base = base + CMDLINE_OFFSET + room, so this never underflows.
    buf.resize(to_usize(chain_base.saturating_sub(base))?, 0);
    buf.extend_from_slice(&chain);
    buf.extend_from_slice(input.efi_memmap);
    let segment = p
        .segments
        .iter_mut()
        .find(|s| s.what == BOOT_PARAMS)
        .ok_or_else(|| Error::invalid("x86 plan", "no boot_params"))?;
    if buf.len() as u64 > segment.memsz {
        return Err(Error::invalid(
            "x86 boot_params segment",
            format!(
                "{} bytes do not fit the {} planned",
                buf.len(),
                segment.memsz
            ),
        ));
    }
    segment.buf = buf;
    p.entry = add(base, trampoline::ENTRY_OFFSET, BP)?;
    p.cmdline = cmdline;
    p.notes.push(format!(
        "entry: warmboot's trampoline at {base:#x} loads its GDT, sets RSI = boot_params ({zero_page_addr:#x}) and jumps to the kernel's 64-bit entry {kernel_entry:#x}"
    ));
    p.notes.push(
        input
            .entry_note
            .replace("{phys}", &format!("{kernel_mem:#018x}")),
    );
    Ok(())
}

/// The initrd's bytes into the completed plan, then with `--verify` the purgatory
/// attached, and the plan checked ([`crate::plan_check::check_plan`]). On failure the
/// initrd goes back into `initrd`.
fn attach_initrd_and_check(
    mut p: Plan,
    initrd: &mut Option<Vec<u8>>,
    map: &MemoryMap,
    verify: bool,
) -> Result<Plan> {
    let had_initrd = initrd.is_some();
    // The initrd's bytes, now that the plan is complete; given back if a check fails.
    if let Some(bytes) = initrd.take() {
        match p.segments.iter_mut().find(|s| s.what == "initrd") {
            Some(s) => s.buf = bytes,
            None => {
                *initrd = Some(bytes);
                return Err(Error::invalid("x86 plan", "no initrd"));
            }
        }
    }
    // The purgatory's console, from the new kernel's command line.
    let console = crate::console::x86(&p.cmdline);
    let checked = (|| {
        if verify {
            crate::purgatory::attach(&mut p, console)?;
            crate::purgatory::check(&p)?;
        }
        crate::plan_check::check_plan(&p, map)
    })();
    if let Err(e) = checked {
        if had_initrd {
            if let Some(s) = p.segments.iter_mut().find(|s| s.what == "initrd") {
                *initrd = Some(std::mem::take(&mut s.buf));
            }
        }
        return Err(e);
    }
    Ok(p)
}

/// The setup_data nodes: the e820 entries past 128, and on EFI machines the SETUP_EFI node
/// (struct efi_setup_data) that lets the next kernel find the firmware's tables.
fn setup_nodes(rest: &[E820Entry], efi: Option<&EfiFirmware>) -> Vec<(u32, Vec<u8>)> {
    let mut nodes = Vec::new();
    if !rest.is_empty() {
        nodes.push(e820_ext_node(rest));
    }
    if let Some(e) = efi {
        nodes.push(e.setup_node());
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::bzimage::loadflags::KASLR_FLAG;
    use crate::synth::x86::BzImageBuilder;
    use crate::x86::e820::E820_RAM;
    use crate::x86::vmlinux_payload::tests::synth_payload;

    const MIB: u64 = 1 << 20;

    /// A bzImage whose gzip payload is the synthetic vmlinux + relocs, parsed.
    fn synth() -> (Vec<u8>, BzImage) {
        let (payload, _) = synth_payload();
        let file = BzImageBuilder::new().payload_plain(payload).build();
        let bz = BzImage::parse(&file).unwrap();
        (file, bz)
    }

    fn machine() -> (MemoryMap, MachineFacts) {
        let map = MemoryMap::parse(
            "00001000-0009fbff : System RAM\n00100000-3fffffff : System RAM\n  30000000-37ffffff : Crash kernel\n",
            Vec::new(),
        )
        .unwrap();
        let facts = MachineFacts {
            e820: vec![
                E820Entry::new(0x1000, 0x9e000, E820_RAM),
                E820Entry::new(MIB, 0x3ff0_0000, E820_RAM),
            ],
            ..MachineFacts::default()
        };
        (map, facts)
    }

    fn request(file: &[u8], bz: &BzImage, requested: X86Entry, random: [u64; 2]) -> EntryRequest {
        EntryRequest {
            requested,
            proper: Some(KernelProper::from_bzimage(bz, file)),
            kexec_load: true,
            random,
        }
    }

    fn plan_with(cmdline: &str, mode: Mode, req: EntryRequest) -> Result<Plan> {
        let (file, bz) = synth();
        let (map, facts) = machine();
        plan_x86(
            &bz,
            &file,
            Some(vec![7; 0x3000]),
            cmdline,
            mode,
            &map,
            &facts,
            false,
            req,
        )
    }

    fn entry_note(p: &Plan) -> &str {
        let notes: Vec<&String> = p
            .notes
            .iter()
            .filter(|n| n.starts_with(ENTRY_NOTE))
            .collect();
        assert_eq!(notes.len(), 1, "{:?}", p.notes);
        notes[0]
    }

    fn zero_page(p: &Plan) -> crate::x86::bootparams::ZeroPageView {
        let bp = p.segments.iter().find(|s| s.what == BOOT_PARAMS).unwrap();
        crate::x86::bootparams::parse_zero_page(&bp.buf[0x1000..0x2000]).unwrap()
    }

    /// A failed plan leaves the initrd with the caller (plan_x86 then plans the bzImage
    /// entry with it, without a second copy); a plan that works carries its bytes.
    #[test]
    fn a_failed_plan_hands_the_initrd_back() {
        let (file, bz) = synth();
        let (_, facts) = machine();
        // 95 MiB of RAM: the synth kernel's 64 MiB init_size fits, a 32 MiB initrd then not.
        let small = MemoryMap::parse("00100000-05ffffff : System RAM\n", Vec::new()).unwrap();
        let (map, _) = machine();
        let run = |initrd: &mut Option<Vec<u8>>, map: &MemoryMap| {
            plan_bzimage_keeping(
                &bz,
                &file,
                initrd,
                "",
                Mode::Normal,
                map,
                &facts,
                false,
                KernelEntry::BzImage("test".to_string()),
            )
        };
        let mut initrd = Some(vec![7u8; 32 << 20]);
        let err = run(&mut initrd, &small).unwrap_err().to_string();
        assert!(err.contains("initrd"), "{err}");
        assert_eq!(initrd, Some(vec![7u8; 32 << 20]), "handed back");
        let mut initrd = Some(vec![7u8; 0x3000]);
        let p = run(&mut initrd, &map).unwrap();
        assert_eq!(initrd, None, "moved into the plan");
        let seg = p.segments.iter().find(|s| s.what == "initrd").unwrap();
        assert_eq!((seg.buf.clone(), seg.memsz), (vec![7u8; 0x3000], 0x3000));
    }

    #[test]
    fn decompressed_kernel_proper_is_relocated_and_placed_at_the_random_slot() {
        let (file, bz) = synth();
        let proper = KernelProper::from_bzimage(&bz, &file).unwrap();
        let p = plan_with(
            "console=ttyS0",
            Mode::Normal,
            request(&file, &bz, X86Entry::Auto, [5, 7]),
        )
        .unwrap();
        let kernel = p.segments.iter().find(|s| s.what == "kernel").unwrap();
        // Slot 5 of the 2 MiB slots from 16 MiB (the crash reservation is not free).
        assert_eq!(kernel.mem, 16 * MIB + 5 * 2 * MIB);
        assert_eq!(kernel.memsz, proper.mem_len);
        assert_eq!(kernel.bufsz(), proper.image.len() as u64);
        // Virtual slot 7: the image equals the decompressor's for delta 7 * 2 MiB.
        let delta = 7 * 2 * MIB;
        assert_eq!(kernel.buf, proper.relocated(delta as i64).unwrap());
        assert_ne!(kernel.buf, proper.image);
        assert_eq!(
            entry_note(&p),
            "x86 entry: kernel proper decompressed at load, physical 0x0000000001a00000, virtual _text 0xffffffff81e00000, KASLR offset 0xe00000"
        );
        assert_eq!(zero_page(&p).loadflags & KASLR_FLAG, KASLR_FLAG);
        // The trampoline jumps to startup_64 = _text, the start of the segment.
        let bp = p.segments.iter().find(|s| s.what == BOOT_PARAMS).unwrap();
        let target =
            crate::fields::le_u64(&bp.buf, trampoline::KERNEL_ENTRY_FIELD as u64, "t").unwrap();
        assert_eq!(target, kernel.mem);
        verify(&p).unwrap();
        let (map, _) = machine();
        crate::plan_check::check_plan(&p, &map).unwrap();
    }

    #[test]
    fn physical_slots_stay_below_4_gib_without_xlf_can_be_loaded_above_4g() {
        use crate::image::bzimage::xlf;
        let (payload, _) = synth_payload();
        let map = MemoryMap::parse(
            "00100000-3fffffff : System RAM\n100000000-2ffffffff : System RAM\n",
            Vec::new(),
        )
        .unwrap();
        let (_, facts) = machine();
        let mut highest = [0u64; 2];
        for (i, above) in [false, true].into_iter().enumerate() {
            let flags = xlf::KERNEL_64
                | if above {
                    xlf::CAN_BE_LOADED_ABOVE_4G
                } else {
                    0
                };
            let file = BzImageBuilder::new()
                .xloadflags(flags)
                .payload_plain(payload.clone())
                .build();
            let bz = BzImage::parse(&file).unwrap();
            for r in (0..4000u64).step_by(97) {
                let req = request(&file, &bz, X86Entry::Decompressed, [r * 7919, 0]);
                let p =
                    plan_x86(&bz, &file, None, "", Mode::Normal, &map, &facts, false, req).unwrap();
                let kernel = p.segments.iter().find(|s| s.what == "kernel").unwrap();
                highest[i] = highest[i].max(kernel.end());
            }
        }
        assert!(highest[0] <= 1 << 32, "{:#x}", highest[0]);
        assert!(highest[1] > 1 << 32, "{:#x}", highest[1]);
    }

    #[test]
    fn nokaslr_keeps_the_link_address_and_clears_kaslr_flag() {
        let (file, bz) = synth();
        let proper = KernelProper::from_bzimage(&bz, &file).unwrap();
        let p = plan_with(
            "console=ttyS0 nokaslr",
            Mode::Normal,
            request(&file, &bz, X86Entry::Decompressed, [5, 7]),
        )
        .unwrap();
        let kernel = p.segments.iter().find(|s| s.what == "kernel").unwrap();
        assert_eq!(kernel.buf, proper.image, "no relocation");
        assert_eq!(kernel.mem % (2 * MIB), 0);
        assert_eq!(
            entry_note(&p),
            format!("x86 entry: kernel proper decompressed at load, physical {:#018x}, virtual _text 0xffffffff81000000, KASLR off (nokaslr)", kernel.mem)
        );
        assert_eq!(zero_page(&p).loadflags & KASLR_FLAG, 0);
        verify(&p).unwrap();
    }

    #[test]
    fn the_bzimage_path_says_why() {
        let (file, bz) = synth();
        let cases = [
            ("", Mode::Panic, X86Entry::Auto, true, "panic loads always use it"),
            ("", Mode::Panic, X86Entry::Decompressed, true, "panic loads always use it"),
            ("", Mode::Normal, X86Entry::Bzimage, true, "requested with --x86-entry bzimage"),
            ("", Mode::Normal, X86Entry::Auto, false, "kexec_file_load: the kernel loads the bzImage itself"),
            ("mem=512M", Mode::Normal, X86Entry::Auto, true, "the command line has mem=, which changes where the kernel's own decompressor places the kernel"),
        ];
        for (cmdline, mode, requested, kexec_load, why) in cases {
            let mut req = request(&file, &bz, requested, [0, 0]);
            req.kexec_load = kexec_load;
            let p = plan_with(cmdline, mode, req).unwrap();
            assert_eq!(
                entry_note(&p),
                format!("x86 entry: bzImage decompressor ({why})")
            );
            let kernel = p.segments.iter().find(|s| s.what == "kernel").unwrap();
            assert_eq!(kernel.bufsz(), bz.kernel_size, "the protected-mode code");
            verify(&p).unwrap();
        }
        // A machine whose decompressor would change the paging mode (running 5-level,
        // the next command line asks for 4-level): the bzImage path, saying so.
        let (map, mut facts) = machine();
        facts.early.cpu_flags = ["la57".to_string()].into();
        let p = plan_x86(
            &bz,
            &file,
            None,
            "console=ttyS0 no5lvl",
            Mode::Normal,
            &map,
            &facts,
            false,
            request(&file, &bz, X86Entry::Auto, [0, 0]),
        )
        .unwrap();
        assert_eq!(entry_note(&p), "x86 entry: bzImage decompressor (the command line has no5lvl: the kernel's decompressor would switch to 4-level paging, the decompressed entry keeps the running kernel's 5-level paging)");
        // A payload that does not decompress: auto falls back with the error...
        let mut req = request(&file, &bz, X86Entry::Auto, [0, 0]);
        req.proper = Some(Err(Error::UnsupportedCompression {
            what: "bzImage payload",
            method: "lzo".into(),
        }));
        let p = plan_with("", Mode::Normal, req).unwrap();
        assert_eq!(entry_note(&p), "x86 entry: bzImage decompressor (bzImage payload is compressed with lzo, which warmboot cannot decompress)");
        // Not decompressed because the load goes to kexec_file_load: that is the reason.
        let mut req = request(&file, &bz, X86Entry::Decompressed, [0, 0]);
        (req.proper, req.kexec_load) = (None, false);
        assert_eq!(
            plan_with("", Mode::Normal, req).unwrap_err().to_string(),
            "--x86-entry decompressed cannot be honoured: kexec_file_load: the kernel loads the bzImage itself"
        );
        // ... and `decompressed` refuses, in one line.
        for (cmdline, kexec_load) in [("mem=1G", true), ("", false)] {
            let mut req = request(&file, &bz, X86Entry::Decompressed, [0, 0]);
            req.kexec_load = kexec_load;
            let err = plan_with(cmdline, Mode::Normal, req)
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("--x86-entry decompressed cannot be honoured: "),
                "{err}"
            );
            assert!(!err.contains('\n'));
        }
    }

    #[test]
    fn verify_checks_the_entry_of_either_path() {
        let (file, bz) = synth();
        let mut p = plan_with(
            "",
            Mode::Normal,
            request(&file, &bz, X86Entry::Auto, [1, 1]),
        )
        .unwrap();
        // Without its note, the plan looks like a bzImage plan entered at +0x200: refused.
        p.notes.retain(|n| !n.starts_with(DECOMPRESSED_NOTE));
        let err = verify(&p).unwrap_err().to_string();
        assert!(err.contains("not the kernel's 64-bit entry"), "{err}");
        let mut p = plan_with(
            "",
            Mode::Normal,
            request(&file, &bz, X86Entry::Bzimage, [1, 1]),
        )
        .unwrap();
        p.notes.push(format!("{DECOMPRESSED_NOTE}, forged"));
        assert!(verify(&p).is_err());
    }
}
