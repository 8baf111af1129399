//! The device tree the next kernel receives from a `kexec_load`, on the architectures that
//! boot with one: arm64 and riscv64.
//!
//! Debian's arm64 and riscv64 kernels have no `kexec_file_load`, so warmboot does in user
//! space what the kernel's `of_kexec_alloc_and_setup_fdt` (drivers/of/kexec.c, 6.1 and 6.12,
//! shared by both architectures' kexec_file loaders) does for `kexec_file_load`: copy the
//! running machine's device tree (`/sys/firmware/fdt`) or a user's `--dtb FILE` and rewrite
//! the boot-time properties of `/chosen`. Everything else (nodes, properties, phandles,
//! `/memreserve/` entries, `boot_cpuid_phys`) is kept. The next kernel reads those
//! properties in the architecture-independent drivers/of/fdt.c (`bootargs`, the initrd
//! range, `rng-seed`, `linux,elfcorehdr`, `linux,usable-memory-range`) and, for
//! `kaslr-seed`, in arch/arm64/kernel/pi/kaslr_early.c or arch/riscv/kernel/pi/fdt_early.c.
//!
//! Parsing and serialising use the `dtoolkit` crate (reader with full validation, an
//! editable in-memory tree and a writer); this module only decides *what* changes.
//! Placement rules: the DTB must be 8-byte aligned and at most 2 MiB (arm64: MIN_FDT_ALIGN /
//! MAX_FDT_SIZE, Documentation/arch/arm64/booting.rst; riscv64: MAX_FDT_SIZE = PMD_SIZE in
//! arch/riscv/include/asm/fixmap.h, the fixmap window the early kernel maps it through).

// Parsers and planners: every offset, length and address computed from untrusted input is
// checked (`get`, `checked_*`, `try_from`), an error naming what was truncated, never a
// panic or a silent wrap (issue 16). Tests may index and compute freely.
#![deny(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]
#![cfg_attr(
    test,
    allow(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::cast_possible_truncation
    )
)]

use dtoolkit::fdt::Fdt;
use dtoolkit::memreserve::MemoryReservation;
use dtoolkit::model::{DeviceTree, DeviceTreeNode, DeviceTreeProperty};
use dtoolkit::{Node, Property};

use crate::error::{Error, Result};
use crate::fields;

/// Largest device tree the kernel maps: MAX_FDT_SIZE of arch/arm64/include/asm/boot.h, and
/// of arch/riscv/include/asm/fixmap.h (PMD_SIZE, 2 MiB on rv64).
pub const MAX_FDT_SIZE: usize = 2 << 20;

/// Alignment the DTB's physical address needs (MIN_FDT_ALIGN, arch/arm64/include/asm/boot.h).
/// Placing it is the planner's job; kexec_file additionally keeps it inside one 2 MiB block.
pub const DTB_ALIGN: u64 = 8;

/// Bytes of `rng-seed` warmboot passes, the same as kexec_file (RNG_SEED_SIZE in
/// drivers/of/kexec.c).
pub const RNG_SEED_SIZE: usize = 128;

/// Size of the flattened device tree header (Devicetree Specification §5.2).
const HEADER_SIZE: u64 = 40;
/// Offset of `totalsize` and `boot_cpuid_phys` in the header.
const TOTALSIZE_OFFSET: u64 = 4;
const BOOT_CPUID_OFFSET: usize = 28;

/// Page size the firmware may round an initrd reservation up to (drivers/of/kexec.c
/// checks the exact size and the PAGE_SIZE-rounded one; Debian's arm64 kernel uses 4 KiB).
const PAGE_SIZE: u64 = 4096;

/// `/chosen` properties warmboot owns: each is rewritten (or removed) on every load, so
/// nothing stale from the running kernel's boot reaches the next kernel.
const MANAGED: &[&str] = &[
    "bootargs",
    "linux,initrd-start",
    "linux,initrd-end",
    "kaslr-seed",
    "rng-seed",
    "linux,elfcorehdr",
    "linux,usable-memory-range",
    "linux,booted-from-kexec",
    "linux,ima-kexec-buffer",
];

/// The crash reservation a panic (capture) kernel is told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrashInfo {
    /// `(address, size)` of the ELF core header segment (`linux,elfcorehdr`).
    pub elfcorehdr: (u64, u64),
    /// `(address, size)` of the memory the capture kernel may use: the crash kernel
    /// reservation (`linux,usable-memory-range`).
    pub usable_memory: (u64, u64),
}

/// The complete new state of the `/chosen` properties warmboot manages.
///
/// Every field says what the next kernel gets; `None` means the property is absent in the
/// result, even if the source tree had one (a stale initrd or seed must not leak through).
/// The UEFI properties (`linux,uefi-system-table`, `linux,uefi-mmap-*`) are not managed
/// and pass through unchanged, as in kexec_file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChosenPatch {
    /// New command line; `None` or empty removes `bootargs`.
    pub bootargs: Option<String>,
    /// `(start, end)` of the initrd, end exclusive (`linux,initrd-start`/`-end`, u64 each).
    pub initrd: Option<(u64, u64)>,
    /// `kaslr-seed` (u64); `Some(0)` writes a zero seed.
    pub kaslr_seed: Option<u64>,
    /// `rng-seed` bytes.
    pub rng_seed: Option<Vec<u8>>,
    /// `(address, size)` for `linux,elfcorehdr` (panic loads only).
    pub elfcorehdr: Option<(u64, u64)>,
    /// `(address, size)` for `linux,usable-memory-range` (panic loads only).
    pub usable_memory: Option<(u64, u64)>,
}

/// Whether the new command line disables KASLR, so the new kernel never reads `kaslr-seed`.
///
/// 6.1's arch/arm64/kernel/pi/kaslr_early.c (`is_kaslr_disabled_cmdline`) looks for
/// `nokaslr` in `/chosen/bootargs` at the start or after a space and then returns from
/// `kaslr_early_init` before `get_kaslr_seed` reads (and zeroes) the property; 6.12 does the
/// same through the id-register override parser. warmboot matches only the whole word
/// `nokaslr` before a `--` (words after it go to init): missing an odd spelling leaves an
/// unused random seed (harmless), while a false match would take KASLR's seed away.
pub fn kaslr_disabled(cmdline: &str) -> bool {
    cmdline
        .split_ascii_whitespace()
        .take_while(|word| *word != "--")
        .any(|word| word == "nokaslr")
}

/// Builds the `/chosen` patch for a load.
///
/// `rng` fills a buffer with random bytes (in production [`crate::randomness::Randomness`] wrapped by
/// the caller, in tests something deterministic). With KASLR disabled on the new command line
/// the kernel never reads `kaslr-seed` (kaslr_early_init returns before reading it,
/// arch/arm64/kernel/pi/kaslr_early.c), so warmboot writes 0 instead of a random value: the
/// unused seed would otherwise stay readable in the next kernel's /sys/firmware/fdt, and
/// kexec-tools refuses a later `kexec -p` when the running kernel's seed is "not wiped to 0".
pub fn chosen_for(
    cmdline: &str,
    initrd: Option<(u64, u64)>,
    crash: Option<CrashInfo>,
    rng: &mut dyn FnMut(&mut [u8]),
) -> ChosenPatch {
    let kaslr_seed = if kaslr_disabled(cmdline) {
        0
    } else {
        let mut seed = [0u8; 8];
        rng(&mut seed);
        u64::from_le_bytes(seed)
    };
    let mut rng_seed = vec![0u8; RNG_SEED_SIZE];
    rng(&mut rng_seed);
    ChosenPatch {
        bootargs: (!cmdline.is_empty()).then(|| cmdline.to_owned()),
        initrd,
        kaslr_seed: Some(kaslr_seed),
        rng_seed: Some(rng_seed),
        elfcorehdr: crash.map(|c| c.elfcorehdr),
        usable_memory: crash.map(|c| c.usable_memory),
    }
}

/// Returns the device tree given to the next kernel: `dtb` with `/chosen` rewritten as
/// `patch` says, the old initrd's `/memreserve/` replaced by the new one's, and an
/// elfcorehdr reservation for a panic load, following of_kexec_alloc_and_setup_fdt.
pub fn patch(dtb: &[u8], patch: &ChosenPatch) -> Result<Vec<u8>> {
    let fdt = parse(dtb)?;
    // Refuse oversized values before building anything (the writer would panic past 4 GiB).
    // Saturating is right: a saturated sum is still over the limit and refused.
    let added = patch
        .bootargs
        .as_ref()
        .map_or(0, String::len)
        .saturating_add(patch.rng_seed.as_ref().map_or(0, Vec::len));
    if added > MAX_FDT_SIZE {
        return Err(Error::invalid(
            "device tree",
            format!("bootargs and rng-seed are {added:#x} bytes, more than the {MAX_FDT_SIZE:#x} the kernel accepts"),
        ));
    }
    let mut tree = DeviceTree::from_fdt(&fdt);
    let (src_nodes, src_props) = count(&fdt.root());
    let (model_nodes, model_props) = count(&tree.root);
    if (src_nodes, src_props) != (model_nodes, model_props) {
        return Err(Error::invalid(
            "device tree",
            "duplicate node or property names (the tree cannot be copied faithfully)",
        ));
    }
    let (addr_cells, size_cells) = root_cells(&tree.root)?;

    if tree.find_node("/chosen").is_none() {
        tree.root.add_child(DeviceTreeNode::new_unchecked("chosen"));
    }
    let chosen = tree
        .find_node_mut("/chosen")
        .ok_or_else(|| Error::invalid("device tree", "cannot create /chosen"))?;

    // The old initrd's reservation goes with the old initrd: the kernel reserves the exact
    // size, firmware may round up to a page (drivers/of/kexec.c checks both).
    let old_initrd = initrd_of(chosen);
    // A running capture kernel's elfcorehdr reservation is stale too (kexec_file leaves it;
    // warmboot drops it because nothing in the next kernel owns that memory any more).
    let old_elfcorehdr = reg_of(chosen, "linux,elfcorehdr", addr_cells, size_cells);
    // The IMA measurement buffer a kexec_file load handed the running kernel: kexec_file
    // always removes it with its reservation (remove_ima_buffer, drivers/of/kexec.c), and a
    // kexec_load cannot pass a new one, so it goes.
    let old_ima = reg_of(chosen, "linux,ima-kexec-buffer", addr_cells, size_cells);
    for name in MANAGED {
        chosen.remove_property(name);
    }
    if let Some((start, end)) = old_initrd {
        let size = end.saturating_sub(start);
        if !remove_reservation(&mut tree.memory_reservations, start, size) {
            if let Some(rounded) = crate::memmap::align_up(size, PAGE_SIZE) {
                remove_reservation(&mut tree.memory_reservations, start, rounded);
            }
        }
    }
    for (addr, size) in old_elfcorehdr.into_iter().chain(old_ima) {
        remove_reservation(&mut tree.memory_reservations, addr, size);
    }

    let chosen = tree
        .find_node_mut("/chosen")
        .ok_or_else(|| Error::invalid("device tree", "cannot create /chosen"))?;
    if let Some(args) = patch.bootargs.as_deref().filter(|a| !a.is_empty()) {
        chosen.add_property(DeviceTreeProperty::new_unchecked("bootargs", args));
    }
    let mut reservations = Vec::new();
    if let Some((start, end)) = patch.initrd {
        let size = end.checked_sub(start).ok_or_else(|| {
            Error::invalid(
                "initrd range",
                format!("end {end:#x} is below start {start:#x}"),
            )
        })?;
        chosen.add_property(DeviceTreeProperty::new_unchecked(
            "linux,initrd-start",
            start,
        ));
        chosen.add_property(DeviceTreeProperty::new_unchecked("linux,initrd-end", end));
        reservations.push(MemoryReservation::new(start, size));
    }
    if let Some(seed) = patch.kaslr_seed {
        chosen.add_property(DeviceTreeProperty::new_unchecked("kaslr-seed", seed));
    }
    if let Some(seed) = &patch.rng_seed {
        chosen.add_property(DeviceTreeProperty::new_unchecked("rng-seed", seed.clone()));
    }
    if let Some((addr, size)) = patch.elfcorehdr {
        let cells = reg_cells("linux,elfcorehdr", addr, size, addr_cells, size_cells)?;
        chosen.add_property(DeviceTreeProperty::new_unchecked("linux,elfcorehdr", cells));
        reservations.push(MemoryReservation::new(addr, size));
    }
    if let Some((addr, size)) = patch.usable_memory {
        let cells = reg_cells(
            "linux,usable-memory-range",
            addr,
            size,
            addr_cells,
            size_cells,
        )?;
        chosen.add_property(DeviceTreeProperty::new_unchecked(
            "linux,usable-memory-range",
            cells,
        ));
    }
    // kexec_file marks every kexec'd tree this way (no reader in 6.12, kept for parity).
    chosen.add_property(DeviceTreeProperty::new_unchecked(
        "linux,booted-from-kexec",
        Vec::<u8>::new(),
    ));
    tree.memory_reservations.extend(reservations);

    // The writer panics only past u32::MAX bytes; the input fits a u32 and the additions are
    // bounded by the patch, so the size is checked on the result.
    let mut out = tree.to_dtb();
    // dtoolkit's writer always writes boot_cpuid_phys 0; restore the source's value.
    let boot_cpu = fdt.boot_cpuid_phys().to_be_bytes();
    if let Some(field) = out.get_mut(BOOT_CPUID_OFFSET..BOOT_CPUID_OFFSET + 4) {
        field.copy_from_slice(&boot_cpu);
    }
    if out.len() > MAX_FDT_SIZE {
        return Err(Error::invalid(
            "device tree",
            format!(
                "the patched tree is {:#x} bytes, more than the {MAX_FDT_SIZE:#x} the kernel accepts",
                out.len()
            ),
        ));
    }
    Ok(out)
}

/// A stable dts-like text of `dtb` for snapshot tests and `--dry-run`: a header comment
/// (size, version, boot CPU), `/memreserve/` lines and every node and property in tree
/// order, formatted by dtoolkit's DTS printer.
pub fn render(dtb: &[u8]) -> Result<String> {
    let fdt = parse(dtb)?;
    Ok(format!(
        "// totalsize {:#x}, version {}, last_comp_version {}, boot_cpuid_phys {:#x}\n{}",
        fdt.data().len(),
        fdt.version(),
        fdt.last_comp_version(),
        fdt.boot_cpuid_phys(),
        fdt
    ))
}

/// Checks that `dtb` is a device tree warmboot can edit, so a bad `--dtb` (or
/// /sys/firmware/fdt) is refused with its file name before any planning.
pub fn validate(dtb: &[u8]) -> Result<()> {
    parse(dtb).map(drop)
}

/// Validates `dtb` and returns it cut to its header's `totalsize` (a file may carry
/// trailing bytes; /sys/firmware/fdt does not).
pub(crate) fn parse(dtb: &[u8]) -> Result<Fdt<'_>> {
    if dtb.is_empty() {
        return Err(Error::Empty);
    }
    fields::slice(dtb, 0, HEADER_SIZE, "device tree header")?;
    let totalsize = u32::from_be_bytes(fields::array(
        dtb,
        TOTALSIZE_OFFSET,
        "device tree totalsize",
    )?);
    let data = fields::slice(dtb, 0, u64::from(totalsize), "device tree (totalsize)")?;
    Fdt::new(data).map_err(|e| Error::invalid("device tree", e.to_string()))
}

/// Nodes and properties below (and including) `node`, to prove the editable copy lost nothing.
fn count<N: Node>(node: &N) -> (usize, usize) {
    let mut nodes: usize = 1;
    let mut props = node.properties().count();
    for child in node.children() {
        let (n, p) = count(&child);
        // Counts of what a parsed tree holds (at most 4 GiB of it) cannot reach usize::MAX.
        nodes = nodes.saturating_add(n);
        props = props.saturating_add(p);
    }
    (nodes, props)
}

/// The root's `#address-cells` / `#size-cells`, which size `linux,elfcorehdr` and
/// `linux,usable-memory-range`; absent ones default to 1 as in the kernel
/// (OF_ROOT_NODE_ADDR_CELLS_DEFAULT / OF_ROOT_NODE_SIZE_CELLS_DEFAULT, include/linux/of.h).
fn root_cells(root: &DeviceTreeNode) -> Result<(usize, usize)> {
    let read = |name: &'static str| -> Result<usize> {
        match root.property(name) {
            None => Ok(1),
            Some(p) => {
                let bytes: [u8; 4] = p.value().try_into().map_err(|_| {
                    Error::invalid(name, format!("is {} bytes, not one cell", p.value().len()))
                })?;
                let cells = u32::from_be_bytes(bytes);
                if !(1..=4).contains(&cells) {
                    return Err(Error::invalid(name, format!("{cells} is not 1 to 4 cells")));
                }
                Ok(cells as usize)
            }
        }
    };
    Ok((read("#address-cells")?, read("#size-cells")?))
}

/// Encodes `<addr size>` in the given cell counts, refusing values that do not fit.
fn reg_cells(
    what: &'static str,
    addr: u64,
    size: u64,
    addr_cells: usize,
    size_cells: usize,
) -> Result<Vec<u32>> {
    // A capacity hint only; root_cells allows at most 4 + 4 cells.
    let mut cells = Vec::with_capacity(addr_cells.saturating_add(size_cells));
    for (value, n) in [(addr, addr_cells), (size, size_cells)] {
        if n == 1 && value > u64::from(u32::MAX) {
            return Err(Error::invalid(
                what,
                format!("{value:#x} does not fit the tree's 1-cell #address-cells/#size-cells"),
            ));
        }
        for i in (0..n).rev() {
            // Cells beyond the second are high-order zeros.
            let cell = match i {
                0 => (value & 0xffff_ffff) as u32,
                1 => (value >> 32) as u32,
                _ => 0,
            };
            cells.push(cell);
        }
    }
    Ok(cells)
}

/// Decodes a big-endian number of 1 or 2 cells (how the kernel reads initrd and UEFI values).
fn be_number(value: &[u8]) -> Option<u64> {
    match value.len() {
        4 => value
            .try_into()
            .ok()
            .map(|b| u64::from(u32::from_be_bytes(b))),
        8 => value.try_into().ok().map(u64::from_be_bytes),
        _ => None,
    }
}

/// The running initrd `(start, end)` from `/chosen`, if both properties are readable.
/// Unreadable or half-present values are replaced anyway; only their reservation cannot
/// be matched then.
fn initrd_of(chosen: &DeviceTreeNode) -> Option<(u64, u64)> {
    let get = |name: &str| be_number(chosen.property(name)?.value());
    Some((get("linux,initrd-start")?, get("linux,initrd-end")?))
}

/// A `<addr size>` property in the given cell counts, if it has exactly that shape.
fn reg_of(
    node: &DeviceTreeNode,
    name: &str,
    addr_cells: usize,
    size_cells: usize,
) -> Option<(u64, u64)> {
    let value = node.property(name)?.value().to_vec();
    if value.len() != addr_cells.checked_add(size_cells)?.checked_mul(4)? {
        return None;
    }
    let number = |bytes: &[u8]| {
        bytes.chunks_exact(4).try_fold(0u64, |acc, c| {
            let cell = u64::from(u32::from_be_bytes(c.try_into().ok()?));
            acc.checked_mul(1 << 32).map(|v| v | cell)
        })
    };
    let (a, s) = value.split_at_checked(addr_cells.checked_mul(4)?)?;
    Some((number(a)?, number(s)?))
}

/// Removes the first reservation exactly matching `(start, size)`; true if one was found.
fn remove_reservation(list: &mut Vec<MemoryReservation>, start: u64, size: u64) -> bool {
    match list
        .iter()
        .position(|r| r.address() == start && r.size() == size)
    {
        Some(i) => {
            list.remove(i);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DIRECT: &[u8] =
        include_bytes!("../tests/fixtures/machines/arm64-direct-m1024/sys/firmware/fdt");
    const CRASHKERNEL: &[u8] = include_bytes!(
        "../tests/fixtures/machines/arm64-direct-m1024-crashkernel/sys/firmware/fdt"
    );
    const UEFI: &[u8] =
        include_bytes!("../tests/fixtures/machines/arm64-uefi-m1024/sys/firmware/fdt");
    /// QEMU's riscv64 virt DTB as OpenSBI passed it on (with FDT_NOP tokens where OpenSBI
    /// removed nodes), from a crashkernel=96M guest.
    const RISCV64: &[u8] = include_bytes!(
        "../tests/fixtures/machines/riscv64-direct-m1024-crashkernel/sys/firmware/fdt"
    );

    /// Deterministic "RNG": bytes 1, 2, 3, … continuing across calls.
    fn counter() -> impl FnMut(&mut [u8]) {
        let mut next = 0u8;
        move |buf: &mut [u8]| {
            for b in buf {
                next = next.wrapping_add(1);
                *b = next;
            }
        }
    }

    fn tree(dtb: &[u8]) -> DeviceTree {
        DeviceTree::from_fdt(&Fdt::new(dtb).unwrap())
    }

    fn prop(tree: &DeviceTree, node: &str, name: &str) -> Option<Vec<u8>> {
        let node = tree.find_node(node)?;
        node.property(name).map(|p| p.value().to_vec())
    }

    /// The tree without the properties warmboot manages, for "everything else kept" checks.
    fn unmanaged(dtb: &[u8]) -> DeviceTree {
        let mut t = tree(dtb);
        if let Some(chosen) = t.find_node_mut("/chosen") {
            for name in MANAGED {
                chosen.remove_property(name);
            }
        }
        t
    }

    fn reservations(dtb: &[u8]) -> Vec<(u64, u64)> {
        tree(dtb)
            .memory_reservations
            .iter()
            .map(|r| (r.address(), r.size()))
            .collect()
    }

    const CMDLINE: &str = "console=ttyAMA0 panic=1 warmboot=next";
    const INITRD: (u64, u64) = (0x4800_0000, 0x4812_3456);

    fn check_normal_load(src: &[u8]) {
        let p = chosen_for(CMDLINE, Some(INITRD), None, &mut counter());
        let out = patch(src, &p).unwrap();
        assert!(out.len() <= MAX_FDT_SIZE);
        let t = tree(&out);
        assert_eq!(
            prop(&t, "/chosen", "bootargs").unwrap(),
            b"console=ttyAMA0 panic=1 warmboot=next\0"
        );
        assert_eq!(
            prop(&t, "/chosen", "linux,initrd-start").unwrap(),
            0x4800_0000u64.to_be_bytes()
        );
        assert_eq!(
            prop(&t, "/chosen", "linux,initrd-end").unwrap(),
            0x4812_3456u64.to_be_bytes()
        );
        // counter(): the kaslr seed takes bytes 1..=8, the rng seed 9..=136.
        assert_eq!(
            prop(&t, "/chosen", "kaslr-seed").unwrap(),
            u64::from_le_bytes([1, 2, 3, 4, 5, 6, 7, 8]).to_be_bytes()
        );
        let rng = prop(&t, "/chosen", "rng-seed").unwrap();
        assert_eq!(rng.len(), RNG_SEED_SIZE);
        assert_eq!(rng.first(), Some(&9));
        assert_eq!(rng.last(), Some(&136));
        assert_eq!(prop(&t, "/chosen", "linux,booted-from-kexec").unwrap(), b"");
        assert_eq!(prop(&t, "/chosen", "linux,elfcorehdr"), None);
        assert_eq!(prop(&t, "/chosen", "linux,usable-memory-range"), None);
        // The fixtures have no reservation for the old initrd; the new one is appended.
        let mut expected = reservations(src);
        expected.push((0x4800_0000, 0x12_3456));
        assert_eq!(reservations(&out), expected);
        // Everything not managed is identical, including the UEFI properties.
        assert_eq!(unmanaged(&out).root, unmanaged(src).root);
        assert_eq!(
            Fdt::new(&out).unwrap().boot_cpuid_phys(),
            Fdt::new(src).unwrap().boot_cpuid_phys()
        );
    }

    #[test]
    fn direct_fixture_normal_load() {
        check_normal_load(DIRECT);
    }

    #[test]
    fn uefi_fixture_normal_load_keeps_uefi_properties() {
        check_normal_load(UEFI);
        let out = patch(UEFI, &chosen_for(CMDLINE, None, None, &mut counter())).unwrap();
        let (src, t) = (tree(UEFI), tree(&out));
        for name in [
            "linux,uefi-system-table",
            "linux,uefi-mmap-start",
            "linux,uefi-mmap-size",
            "linux,uefi-mmap-desc-size",
            "linux,uefi-mmap-desc-ver",
            "linux,uefi-secure-boot",
        ] {
            let before = prop(&src, "/chosen", name);
            assert!(before.is_some(), "{name} missing in the fixture");
            assert_eq!(prop(&t, "/chosen", name), before, "{name}");
        }
        assert_eq!(prop(&t, "/chosen", "linux,initrd-start"), None);
    }

    #[test]
    fn snapshots_before_and_after() {
        for (name, src) in [("direct-m1024", DIRECT), ("uefi-m1024", UEFI)] {
            insta::assert_snapshot!(format!("arm64_dtb_{name}_before"), render(src).unwrap());
            let p = chosen_for(CMDLINE, Some(INITRD), None, &mut counter());
            insta::assert_snapshot!(
                format!("arm64_dtb_{name}_after"),
                render(&patch(src, &p).unwrap()).unwrap()
            );
        }
    }

    #[test]
    fn crashkernel_fixture_panic_load_snapshot() {
        // The fixture machine's iomem has "74c00000-7abfffff : Crash kernel"; kexec-tools put
        // the elfcorehdr at 0x7abff000 (size 0x400) in the same guest.
        let crash = CrashInfo {
            elfcorehdr: (0x7abf_f000, 0x400),
            usable_memory: (0x74c0_0000, 0x600_0000),
        };
        let p = chosen_for(
            "console=ttyAMA0 panic=1 nr_cpus=1 reset_devices",
            Some((0x7800_0000, 0x7840_0000)),
            Some(crash),
            &mut counter(),
        );
        let out = patch(CRASHKERNEL, &p).unwrap();
        assert_eq!(unmanaged(&out).root, unmanaged(CRASHKERNEL).root);
        insta::assert_snapshot!(
            "arm64_dtb_direct-m1024-crashkernel_panic",
            render(&out).unwrap()
        );
    }

    #[test]
    fn riscv64_virt_dtb_normal_and_panic_loads() {
        // The fixture's /chosen has the initrd QEMU loaded (0x88200000..0x8830772d) and
        // bootargs; its /reserved-memory keeps OpenSBI's region out of the next kernel.
        let src = tree(RISCV64);
        assert_eq!(
            prop(&src, "/chosen", "linux,initrd-start"),
            Some(0x8820_0000u32.to_be_bytes().to_vec())
        );
        let normal = patch(
            RISCV64,
            &chosen_for(CMDLINE, Some(INITRD), None, &mut counter()),
        )
        .unwrap();
        assert_eq!(unmanaged(&normal).root, unmanaged(RISCV64).root);
        let t = tree(&normal);
        assert_eq!(
            prop(&t, "/chosen", "linux,initrd-start"),
            Some(INITRD.0.to_be_bytes().to_vec())
        );
        assert!(prop(&t, "/reserved-memory/mmode_resv0@80000000", "reg").is_some());
        // The crash reservation of the fixture's iomem: b6c00000-bcbfffff.
        let crash = CrashInfo {
            elfcorehdr: (0xbcbf_f000, 0x1000),
            usable_memory: (0xb6c0_0000, 0x600_0000),
        };
        let p = chosen_for(
            "console=ttyS0 nr_cpus=1 reset_devices",
            Some((0xb800_0000, 0xb840_0000)),
            Some(crash),
            &mut counter(),
        );
        let out = patch(RISCV64, &p).unwrap();
        assert_eq!(unmanaged(&out).root, unmanaged(RISCV64).root);
        let t = tree(&out);
        // #address-cells = #size-cells = 2 at the root: 64-bit address and size.
        let mut want = 0xbcbf_f000u64.to_be_bytes().to_vec();
        want.extend_from_slice(&0x1000u64.to_be_bytes());
        assert_eq!(prop(&t, "/chosen", "linux,elfcorehdr"), Some(want));
        insta::assert_snapshot!(
            "riscv64_dtb_virt-m1024-crashkernel_panic",
            render(&out).unwrap()
        );
    }

    #[test]
    fn empty_patch_keeps_every_unmanaged_node_and_property() {
        for src in [DIRECT, UEFI] {
            let out = patch(src, &ChosenPatch::default()).unwrap();
            assert_eq!(unmanaged(&out), unmanaged(src));
            let t = tree(&out);
            for name in MANAGED.iter().filter(|n| **n != "linux,booted-from-kexec") {
                assert_eq!(prop(&t, "/chosen", name), None, "{name}");
            }
        }
    }

    #[test]
    fn identity_patch_reproduces_the_direct_tree() {
        // Feeding the fixture's own values back gives the original tree plus the kexec marker.
        let p = ChosenPatch {
            bootargs: Some(
                "console=ttyAMA0 quiet panic=1 cryptomgr.notests kxopt=-i xcmd=cryptomgr.notests stage=probe fix=1"
                    .into(),
            ),
            initrd: None,
            kaslr_seed: Some(0),
            rng_seed: None,
            elfcorehdr: None,
            usable_memory: None,
        };
        let out = patch(DIRECT, &p).unwrap();
        let mut t = tree(&out);
        let mut src = tree(DIRECT);
        // QEMU wrote the initrd as 1-cell values; put the original ones back to compare.
        for name in ["linux,initrd-start", "linux,initrd-end"] {
            let value = prop(&src, "/chosen", name).unwrap();
            assert_eq!(value.len(), 4);
            t.find_node_mut("/chosen")
                .unwrap()
                .add_property(DeviceTreeProperty::new_unchecked(name, value));
        }
        src.find_node_mut("/chosen")
            .unwrap()
            .add_property(DeviceTreeProperty::new_unchecked(
                "linux,booted-from-kexec",
                Vec::<u8>::new(),
            ));
        let sort = |t: &DeviceTree| {
            let mut v: Vec<(String, Vec<u8>)> = t
                .find_node("/chosen")
                .unwrap()
                .properties()
                .map(|p| (p.name().to_owned(), p.value().to_vec()))
                .collect();
            v.sort();
            v
        };
        assert_eq!(sort(&t), sort(&src));
        assert_eq!(unmanaged(&out), unmanaged(DIRECT));
    }

    #[test]
    fn panic_load_adds_crash_properties_in_root_cells() {
        let crash = CrashInfo {
            elfcorehdr: (0x1_2345_0000, 0x1_0000),
            usable_memory: (0x5800_0000, 0x600_0000),
        };
        let out = patch(
            UEFI,
            &chosen_for(CMDLINE, None, Some(crash), &mut counter()),
        )
        .unwrap();
        let t = tree(&out);
        // The fixture's root has #address-cells = #size-cells = 2.
        let cells = |v: &[u32]| v.iter().flat_map(|c| c.to_be_bytes()).collect::<Vec<u8>>();
        assert_eq!(
            prop(&t, "/chosen", "linux,elfcorehdr").unwrap(),
            cells(&[0x1, 0x2345_0000, 0x0, 0x1_0000])
        );
        assert_eq!(
            prop(&t, "/chosen", "linux,usable-memory-range").unwrap(),
            cells(&[0x0, 0x5800_0000, 0x0, 0x600_0000])
        );
        assert_eq!(reservations(&out), vec![(0x1_2345_0000, 0x1_0000)]);

        // Loading a normal kernel from that (capture) kernel's tree drops the stale crash
        // properties and the elfcorehdr reservation.
        let next = patch(&out, &chosen_for(CMDLINE, None, None, &mut counter())).unwrap();
        let t = tree(&next);
        assert_eq!(prop(&t, "/chosen", "linux,elfcorehdr"), None);
        assert_eq!(prop(&t, "/chosen", "linux,usable-memory-range"), None);
        assert_eq!(reservations(&next), vec![]);
    }

    /// A small tree with one-cell addresses and the given memreserves / initrd.
    fn one_cell_tree(reserve: &[(u64, u64)], initrd: Option<(u32, u32)>) -> Vec<u8> {
        let mut t = DeviceTree::new();
        t.root
            .add_property(DeviceTreeProperty::new_unchecked("#address-cells", 1u32));
        t.root
            .add_property(DeviceTreeProperty::new_unchecked("#size-cells", 1u32));
        let mut chosen = DeviceTreeNode::new_unchecked("chosen");
        if let Some((s, e)) = initrd {
            chosen.add_property(DeviceTreeProperty::new_unchecked("linux,initrd-start", s));
            chosen.add_property(DeviceTreeProperty::new_unchecked("linux,initrd-end", e));
        }
        t.root.add_child(chosen);
        t.memory_reservations = reserve
            .iter()
            .map(|&(a, s)| MemoryReservation::new(a, s))
            .collect();
        t.to_dtb()
    }

    #[test]
    fn one_cell_tree_encodes_one_cell_and_rejects_high_values() {
        let src = one_cell_tree(&[], None);
        let crash = CrashInfo {
            elfcorehdr: (0x1000_0000, 0x1000),
            usable_memory: (0x2000_0000, 0x400_0000),
        };
        let out = patch(&src, &chosen_for("", None, Some(crash), &mut counter())).unwrap();
        let t = tree(&out);
        assert_eq!(
            prop(&t, "/chosen", "linux,usable-memory-range").unwrap(),
            [0x2000_0000u32.to_be_bytes(), 0x400_0000u32.to_be_bytes()].concat()
        );
        assert_eq!(prop(&t, "/chosen", "bootargs"), None);
        let high = CrashInfo {
            elfcorehdr: (0x1_0000_0000, 0x1000),
            ..crash
        };
        let err = patch(&src, &chosen_for("", None, Some(high), &mut counter())).unwrap_err();
        assert!(err.to_string().contains("does not fit"), "{err}");
    }

    #[test]
    fn old_initrd_reservation_is_replaced_exact_or_page_rounded() {
        for reserved in [0x1234u64, 0x2000] {
            let src = one_cell_tree(
                &[(0x100, 0x10), (0x4000_0000, reserved)],
                Some((0x4000_0000, 0x4000_1234)),
            );
            let p = chosen_for("x", Some((0x5000_0000, 0x5000_0800)), None, &mut counter());
            let out = patch(&src, &p).unwrap();
            assert_eq!(
                reservations(&out),
                vec![(0x100, 0x10), (0x5000_0000, 0x800)]
            );
        }
        // A reservation that matches neither size stays.
        let src = one_cell_tree(&[(0x4000_0000, 0x3000)], Some((0x4000_0000, 0x4000_1234)));
        let out = patch(&src, &ChosenPatch::default()).unwrap();
        assert_eq!(reservations(&out), vec![(0x4000_0000, 0x3000)]);
    }

    #[test]
    fn stale_ima_buffer_and_its_reservation_are_removed() {
        let mut t = tree(UEFI);
        t.find_node_mut("/chosen")
            .unwrap()
            .add_property(DeviceTreeProperty::new_unchecked(
                "linux,ima-kexec-buffer",
                [0u32, 0x7000_0000, 0, 0x2000],
            ));
        t.memory_reservations = vec![
            MemoryReservation::new(0x7000_0000, 0x2000),
            MemoryReservation::new(0x100, 0x100),
        ];
        let out = patch(&t.to_dtb(), &ChosenPatch::default()).unwrap();
        assert_eq!(prop(&tree(&out), "/chosen", "linux,ima-kexec-buffer"), None);
        assert_eq!(reservations(&out), vec![(0x100, 0x100)]);
    }

    #[test]
    fn nokaslr_writes_a_zero_seed_and_keeps_the_rng_seed() {
        for cmdline in ["console=ttyAMA0 nokaslr", "nokaslr quiet"] {
            let p = chosen_for(cmdline, None, None, &mut counter());
            assert_eq!(p.kaslr_seed, Some(0), "{cmdline}");
            assert_eq!(p.rng_seed.as_ref().and_then(|s| s.first()), Some(&1));
            let out = patch(DIRECT, &p).unwrap();
            assert_eq!(
                prop(&tree(&out), "/chosen", "kaslr-seed").unwrap(),
                [0u8; 8]
            );
        }
        // After `--` the word belongs to init.
        assert!(!kaslr_disabled("quiet -- nokaslr"));
        assert!(!kaslr_disabled("nokaslrx"));
        assert_ne!(
            chosen_for("quiet -- nokaslr", None, None, &mut counter()).kaslr_seed,
            Some(0)
        );
    }

    #[test]
    fn boot_cpuid_phys_is_kept() {
        let mut src = UEFI.to_vec();
        src[BOOT_CPUID_OFFSET..BOOT_CPUID_OFFSET + 4].copy_from_slice(&3u32.to_be_bytes());
        let out = patch(&src, &ChosenPatch::default()).unwrap();
        assert_eq!(Fdt::new(&out).unwrap().boot_cpuid_phys(), 3);
        assert!(render(&out).unwrap().contains("boot_cpuid_phys 0x3"));
    }

    #[test]
    fn duplicate_property_names_are_refused_not_silently_merged() {
        // Point the nameoff of /chosen's second property at the first one's name.
        let mut src = UEFI.to_vec();
        let be = |at: usize| u32::from_be_bytes(src[at..at + 4].try_into().unwrap());
        let (off_struct, off_strings) = (be(8) as usize, be(12) as usize);
        let name_off = |name: &str| {
            let strings = &UEFI[off_strings..];
            let pat = format!("{name}\0");
            (0..strings.len())
                .find(|&i| strings[i..].starts_with(pat.as_bytes()))
                .unwrap() as u32
        };
        let (first, second) = (
            name_off("linux,uefi-secure-boot"),
            name_off("linux,uefi-mmap-desc-ver"),
        );
        let at = (off_struct..src.len() - 12)
            .step_by(4)
            .find(|&i| be(i) == 3 && be(i + 8) == second)
            .unwrap();
        src[at + 8..at + 12].copy_from_slice(&first.to_be_bytes());
        let err = patch(&src, &ChosenPatch::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("duplicate node or property names"), "{err}");
    }

    #[test]
    fn trailing_bytes_after_totalsize_are_ignored() {
        let mut src = UEFI.to_vec();
        src.extend_from_slice(&[0xff; 16]);
        assert_eq!(render(&src).unwrap(), render(UEFI).unwrap());
    }

    #[test]
    fn oversized_result_is_refused() {
        let mut t = tree(UEFI);
        t.root.add_property(DeviceTreeProperty::new_unchecked(
            "big",
            vec![0u8; MAX_FDT_SIZE],
        ));
        let err = patch(&t.to_dtb(), &ChosenPatch::default()).unwrap_err();
        assert!(err.to_string().contains("more than the 0x200000"), "{err}");
    }

    #[test]
    fn oversized_values_are_refused_before_building() {
        let p = ChosenPatch {
            rng_seed: Some(vec![0; MAX_FDT_SIZE + 1]),
            ..Default::default()
        };
        let err = patch(UEFI, &p).unwrap_err().to_string();
        assert!(
            err.contains("bootargs and rng-seed are 0x200001 bytes"),
            "{err}"
        );
    }

    #[test]
    fn initrd_end_below_start_is_refused() {
        let p = ChosenPatch {
            initrd: Some((0x2000, 0x1000)),
            ..Default::default()
        };
        assert!(patch(UEFI, &p)
            .unwrap_err()
            .to_string()
            .contains("below start"));
    }

    #[test]
    fn truncated_trees_give_clean_errors() {
        assert!(matches!(
            patch(&[], &ChosenPatch::default()),
            Err(Error::Empty)
        ));
        for len in 1..UEFI.len() {
            let cut = &UEFI[..len];
            let err = patch(cut, &ChosenPatch::default()).unwrap_err().to_string();
            assert!(
                err.contains("truncated") || err.contains("invalid"),
                "{len}: {err}"
            );
            assert!(!err.contains('\n'));
            assert!(render(cut).is_err());
        }
        let err = render(&DIRECT[..0x1000]).unwrap_err().to_string();
        assert!(err.contains("needs bytes 0x0..0x100000"), "{err}");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = render(&data);
            let _ = patch(&data, &ChosenPatch::default());
        }

        #[test]
        fn corrupted_fixture_never_panics(
            flips in proptest::collection::vec((0..UEFI.len(), any::<u8>()), 1..8),
        ) {
            let mut data = UEFI.to_vec();
            for (at, value) in flips {
                data[at] = value;
            }
            let p = chosen_for("console=ttyAMA0", Some((0x1000, 0x2000)), None, &mut counter());
            if let Ok(out) = patch(&data, &p) {
                prop_assert!(Fdt::new(&out).is_ok());
                prop_assert!(render(&out).is_ok());
            }
            let _ = render(&data);
        }
    }
}
