//! Which UART the `--verify` purgatory prints its refusal on: the serial console the new
//! kernel is given, found at load time from its command line (and on arm64 the device tree
//! it receives), and written into the purgatory's parameter block
//! ([`warmboot_purgatory::console`] drives it). Pure: command line and DTB in, console out.
//! Anything warmboot cannot name with certainty is [`Console::None`]: the purgatory then
//! halts without printing, as before.
//!
//! x86_64 (an 8250/16550 on I/O ports, the only kind the purgatory drives there):
//! 1. the last `console=` (the kernel's /dev/console, Documentation/admin-guide/serial-console.rst)
//!    that is `ttyS0`..`ttyS3` (the legacy ports 0x3f8, 0x2f8, 0x3e8, 0x2e8 of
//!    SERIAL_PORT_DFNS, arch/x86/include/asm/serial.h) or `uart8250,io,<port>` /
//!    `uart,io,<port>` (Documentation/admin-guide/kernel-parameters.txt, `console=`);
//! 2. else the last `earlycon=uart8250,io,<port>` / `earlycon=uart,io,<port>` (same file,
//!    `earlycon=`).
//!
//! MMIO 8250s (`uart8250,mmio…`), `earlyprintk=` and ttyS4 and up are not used.
//!
//! arm64 (a PL011, `compatible = "arm,pl011"`, the only kind the purgatory drives there):
//! 1. the last `console=ttyAMA<n>`: the PL011 that `/aliases/serial<n>` names, else the
//!    n-th enabled PL011 node in tree order (the order the amba bus probes them; the
//!    driver numbers unaliased ports in probe order, drivers/tty/serial/amba-pl011.c
//!    `pl011_probe_dt_alias`);
//! 2. else the last `earlycon=pl011,<addr>` / `earlycon=pl011,mmio32,<addr>`;
//! 3. else the PL011 that `/chosen/stdout-path` (or `linux,stdout-path`) names, by path or
//!    alias, options after `:` ignored (Devicetree Specification §3.6 /chosen).
//!
//! A node's `reg` is translated to a CPU physical address through its ancestors' `ranges`
//! as the kernel's of_translate_address does (drivers/of/address.c: cells from the nearest
//! ancestor that has them, 1 by default; an empty `ranges` is identity; a bus without
//! `ranges` cannot be translated). QEMU virt's PL011 sits at the root, at 0x9000000. A
//! UEFI boot's DTB (the EFI stub's) lists no devices: the console is described by ACPI
//! SPCR, which warmboot does not read, so only an `earlycon=pl011,<addr>` names it there.

use dtoolkit::fdt::FdtNode;
use dtoolkit::{Node, Property};

use crate::arch::Arch;
pub use warmboot_purgatory::Console;

/// The legacy PC serial ports, ttyS0 to ttyS3 (SERIAL_PORT_DFNS, arch/x86/include/asm/serial.h).
pub const LEGACY_PORTS: [u16; 4] = [0x3f8, 0x2f8, 0x3e8, 0x2e8];

/// The console for a kernel of `arch` booted with `cmdline` and (arm64) `dtb`.
pub fn find(arch: Arch, cmdline: &str, dtb: Option<&[u8]>) -> Console {
    match arch {
        Arch::X86_64 => x86(cmdline),
        Arch::Arm64 => arm64(cmdline, dtb.unwrap_or_default()),
        // No riscv64 purgatory drives a console yet (crate::purgatory::image).
        Arch::Riscv64 => Console::None,
    }
}

/// How a plan's notes name the console.
pub fn describe(c: Console) -> String {
    match c {
        Console::None => {
            "no serial console warmboot can drive is on the new command line, so it prints nothing"
                .to_string()
        }
        Console::Uart8250Io(port) => {
            format!("it prints why on the 8250 UART at I/O port {port:#x}")
        }
        Console::Pl011(addr) => format!("it prints why on the PL011 at {addr:#x}"),
    }
}

/// `(name, value)` of each `name=value` parameter before `--` (what follows goes to init),
/// double quotes around the value removed as the kernel's next_arg does (lib/cmdline.c).
fn params(cmdline: &str) -> Vec<(&str, &str)> {
    cmdline
        .split_ascii_whitespace()
        .take_while(|w| *w != "--")
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k, v.trim_matches('"')))
        .collect()
}

/// A number as the kernel's simple_strtoull with base 0 reads it: `0x` hex, leading `0`
/// octal, else decimal.
fn number(s: &str) -> Option<u64> {
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u64::from_str_radix(&s[1..], 8).ok()
    } else {
        s.parse().ok()
    }
}

/// The last value of `key` that `pick` accepts.
fn last<T>(params: &[(&str, &str)], key: &str, pick: impl Fn(&str) -> Option<T>) -> Option<T> {
    params
        .iter()
        .rev()
        .filter(|(k, _)| *k == key)
        .find_map(|(_, v)| pick(v))
}

/// `uart8250,io,<port>[,…]` or `uart,io,<port>[,…]`: the port, if a whole 8250 fits.
fn uart8250_io(value: &str) -> Option<Console> {
    let mut parts = value.split(',');
    if !matches!(parts.next()?, "uart8250" | "uart") || parts.next()? != "io" {
        return None;
    }
    let port = number(parts.next()?)?;
    let c = Console::decode(warmboot_purgatory::console::KIND_8250_IO, port);
    (c != Console::None).then_some(c)
}

/// The x86_64 console (rules in the module doc).
pub fn x86(cmdline: &str) -> Console {
    let p = params(cmdline);
    let console = |v: &str| {
        let name = v.split(',').next()?;
        match name.strip_prefix("ttyS") {
            Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                let i: usize = n.parse().ok()?;
                LEGACY_PORTS.get(i).map(|&port| Console::Uart8250Io(port))
            }
            _ => uart8250_io(v),
        }
    };
    last(&p, "console", console)
        .or_else(|| last(&p, "earlycon", uart8250_io))
        .unwrap_or(Console::None)
}

/// The arm64 console (rules in the module doc); [`Console::None`] for a DTB that does not
/// parse (the planner refuses those anyway).
pub fn arm64(cmdline: &str, dtb: &[u8]) -> Console {
    let p = params(cmdline);
    let fdt = crate::dtb::parse(dtb).ok();
    let uarts = fdt.map(|f| pl011s(f.root())).unwrap_or_default();
    let string = |path: &str, prop: &str| -> Option<String> {
        let v = fdt?.find_node(path)?.property(prop)?.value().to_vec();
        let text = v.split(|&b| b == 0).next()?;
        String::from_utf8(text.to_vec()).ok()
    };
    // A path, or an alias name resolved through /aliases, to the PL011 it names.
    let named = |target: &str| -> Option<Console> {
        let path = if target.starts_with('/') {
            target.to_string()
        } else {
            string("/aliases", target)?
        };
        uarts
            .iter()
            .find(|u| same_path(&u.path, &path))
            .and_then(|u| u.addr)
            .map(Console::Pl011)
    };
    let tty = |v: &str| -> Option<Console> {
        let n = v.split(',').next()?.strip_prefix("ttyAMA")?;
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let index: usize = n.parse().ok()?;
        named(&format!("serial{index}")).or_else(|| {
            uarts
                .iter()
                .filter(|u| u.enabled)
                .nth(index)
                .and_then(|u| u.addr)
                .map(Console::Pl011)
        })
    };
    let earlycon = |v: &str| -> Option<Console> {
        let mut parts = v.split(',');
        if parts.next()? != "pl011" {
            return None;
        }
        let mut addr = parts.next()?;
        if addr == "mmio32" {
            addr = parts.next()?;
        }
        let c = Console::decode(warmboot_purgatory::console::KIND_PL011, number(addr)?);
        (c != Console::None).then_some(c)
    };
    let stdout = || {
        let path =
            string("/chosen", "stdout-path").or_else(|| string("/chosen", "linux,stdout-path"))?;
        named(path.split(':').next()?)
    };
    last(&p, "console", tty)
        .or_else(|| last(&p, "earlycon", earlycon))
        .or_else(stdout)
        .unwrap_or(Console::None)
}

/// A PL011 node: its full path, whether it is enabled, and its translated base address
/// (None if its `reg` cannot be translated).
#[derive(Debug)]
struct Pl011Node {
    path: String,
    enabled: bool,
    addr: Option<u64>,
}

/// Every PL011 node in tree order.
fn pl011s(root: FdtNode<'_>) -> Vec<Pl011Node> {
    let mut out = Vec::new();
    walk(root, &mut vec![], String::new(), &mut out);
    out
}

fn walk<'a>(
    node: FdtNode<'a>,
    chain: &mut Vec<FdtNode<'a>>,
    path: String,
    out: &mut Vec<Pl011Node>,
) {
    let compatible = node
        .property("compatible")
        .is_some_and(|p| p.value().split(|&b| b == 0).any(|s| s == b"arm,pl011"));
    if compatible && !chain.is_empty() {
        let status = node.property("status").map(|p| p.value().to_vec());
        let enabled = match status.as_deref() {
            None => true,
            Some(s) => matches!(s.split(|&b| b == 0).next(), Some(b"okay" | b"ok")),
        };
        out.push(Pl011Node {
            path: if path.is_empty() {
                "/".into()
            } else {
                path.clone()
            },
            enabled,
            addr: translate(node, chain),
        });
    }
    chain.push(node);
    for child in node.children() {
        let child_path = format!("{path}/{}", child.name());
        walk(child, chain, child_path, out);
    }
    chain.pop();
}

/// True if `wanted` names the node at `full`: component by component, a component
/// without a unit address matching any (as the kernel's of_find_node_by_path does).
fn same_path(full: &str, wanted: &str) -> bool {
    let a: Vec<&str> = full.split('/').filter(|c| !c.is_empty()).collect();
    let b: Vec<&str> = wanted.split('/').filter(|c| !c.is_empty()).collect();
    a.len() == b.len()
        && a.iter().zip(&b).all(|(have, want)| {
            have == want || (!want.contains('@') && have.split('@').next() == Some(want))
        })
}

/// `#address-cells` or `#size-cells` for children of the last node of `chain`: the nearest
/// node that has it, else 1 (of_bus_n_addr_cells / of_bus_n_size_cells, drivers/of/base.c).
fn cells(chain: &[FdtNode<'_>], name: &str) -> usize {
    chain
        .iter()
        .rev()
        .find_map(|n| {
            let v: [u8; 4] = n.property(name)?.value().try_into().ok()?;
            Some(u32::from_be_bytes(v) as usize)
        })
        .unwrap_or(1)
}

/// A big-endian number of 1 or 2 cells.
fn read_cells(bytes: &[u8]) -> Option<u64> {
    match bytes.len() {
        4 => Some(u64::from(u32::from_be_bytes(bytes.try_into().ok()?))),
        8 => Some(u64::from_be_bytes(bytes.try_into().ok()?)),
        _ => None,
    }
}

/// The CPU physical address of the first `reg` entry of `node`, whose ancestors are
/// `chain` (root first).
fn translate(node: FdtNode<'_>, chain: &[FdtNode<'_>]) -> Option<u64> {
    let na = cells(chain, "#address-cells");
    let reg = node.property("reg")?.value().to_vec();
    let mut addr = read_cells(reg.get(..na * 4)?)?;
    // Up through each bus below the root; the root's address space is the CPU's.
    for depth in (1..chain.len()).rev() {
        let ranges = chain[depth].property("ranges")?.value().to_vec();
        if ranges.is_empty() {
            continue;
        }
        let cna = cells(&chain[..=depth], "#address-cells");
        let cns = cells(&chain[..=depth], "#size-cells");
        let pna = cells(&chain[..depth], "#address-cells");
        let entry = 4 * (cna + pna + cns);
        addr = ranges.chunks_exact(entry).find_map(|r| {
            let child = read_cells(&r[..4 * cna])?;
            let parent = read_cells(&r[4 * cna..4 * (cna + pna)])?;
            let size = read_cells(&r[4 * (cna + pna)..])?;
            (addr >= child && addr - child < size).then(|| parent + (addr - child))
        })?;
    }
    Some(addr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dtoolkit::model::{DeviceTree, DeviceTreeNode, DeviceTreeProperty};

    fn fixture_dtb(machine: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/machines")
                .join(machine)
                .join("sys/firmware/fdt"),
        )
        .unwrap()
    }

    fn fixture_cmdline(machine: &str) -> String {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/machines")
                .join(machine)
                .join("proc/cmdline"),
        )
        .unwrap()
    }

    #[test]
    fn x86_takes_the_last_legacy_or_io_port_console_then_earlycon() {
        for (cmdline, want) in [
            // The captured QEMU guests' command line.
            (
                fixture_cmdline("x86_64-bios-m1024").as_str(),
                Console::Uart8250Io(0x3f8),
            ),
            ("console=ttyS1,115200n8", Console::Uart8250Io(0x2f8)),
            ("console=ttyS2", Console::Uart8250Io(0x3e8)),
            ("console=ttyS3", Console::Uart8250Io(0x2e8)),
            // The last console= is /dev/console; a VGA one after a serial one is skipped.
            ("console=ttyS0 console=ttyS1", Console::Uart8250Io(0x2f8)),
            ("console=ttyS1 console=tty0", Console::Uart8250Io(0x2f8)),
            (
                "console=uart8250,io,0x2f8,115200",
                Console::Uart8250Io(0x2f8),
            ),
            ("console=uart,io,1016", Console::Uart8250Io(0x3f8)),
            (
                "earlycon=uart8250,io,0x3e8,115200",
                Console::Uart8250Io(0x3e8),
            ),
            (
                "earlycon=uart,io,0x2e8 console=tty0",
                Console::Uart8250Io(0x2e8),
            ),
            // console= wins over earlycon=, wherever they stand.
            (
                "console=ttyS1 earlycon=uart8250,io,0x3f8",
                Console::Uart8250Io(0x2f8),
            ),
            ("console=\"ttyS1,115200\"", Console::Uart8250Io(0x2f8)),
            // Nothing the purgatory can drive.
            ("", Console::None),
            ("quiet console=tty0", Console::None),
            ("console=ttyS4", Console::None),
            ("console=ttyS", Console::None),
            ("console=ttyS0x", Console::None),
            ("console=uart8250,mmio,0xfe000000", Console::None),
            ("earlycon=uart8250,mmio32,0xfe000000", Console::None),
            ("earlycon=uart8250,io,0xfffc", Console::None),
            ("console=ttyAMA0", Console::None),
            // After `--` the words are init's.
            ("quiet -- console=ttyS0", Console::None),
        ] {
            assert_eq!(x86(cmdline), want, "{cmdline:?}");
            assert_eq!(find(Arch::X86_64, cmdline, None), want);
        }
    }

    #[test]
    fn arm64_qemu_direct_boot_dtb_names_its_pl011() {
        let dtb = fixture_dtb("arm64-direct-m1024");
        let cmdline = fixture_cmdline("arm64-direct-m1024");
        assert!(cmdline.contains("console=ttyAMA0"));
        let virt = Console::Pl011(0x900_0000);
        // console=ttyAMA0: the first PL011; no console= at all: /chosen/stdout-path.
        assert_eq!(arm64(&cmdline, &dtb), virt);
        assert_eq!(arm64("quiet", &dtb), virt);
        assert_eq!(find(Arch::Arm64, "", Some(&dtb)), virt);
        // virt has no ttyAMA1: no console= names a PL011, so stdout-path decides.
        assert_eq!(arm64("console=ttyAMA1", &dtb), virt);
        // earlycon names the address directly.
        assert_eq!(
            arm64("earlycon=pl011,mmio32,0x9000000", &[]),
            Console::Pl011(0x900_0000)
        );
        // After the loader's patch of /chosen the console is the same.
        let patched = crate::dtb::patch(
            &dtb,
            &crate::dtb::ChosenPatch {
                bootargs: Some("console=ttyAMA0".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(arm64("console=ttyAMA0", &patched), virt);
    }

    #[test]
    fn arm64_uefi_dtb_has_no_uart_so_only_earlycon_names_one() {
        let dtb = fixture_dtb("arm64-uefi-m1024");
        let cmdline = fixture_cmdline("arm64-uefi-m1024");
        assert_eq!(arm64(&cmdline, &dtb), Console::None);
        assert_eq!(
            arm64(&format!("{cmdline} earlycon=pl011,0x9000000"), &dtb),
            Console::Pl011(0x900_0000)
        );
        assert_eq!(arm64("console=ttyAMA0", b"not a dtb"), Console::None);
        assert_eq!(arm64("earlycon=pl011,0x9000002", &dtb), Console::None);
        assert_eq!(
            arm64("earlycon=uart8250,mmio32,0x9000000", &dtb),
            Console::None
        );
    }

    fn prop(name: &str, value: impl Into<Vec<u8>>) -> DeviceTreeProperty {
        DeviceTreeProperty::new_unchecked(name, value.into())
    }

    fn cells_of(values: &[u32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_be_bytes()).collect()
    }

    fn pl011(name: &str, reg: &[u32], status: Option<&str>) -> DeviceTreeNode {
        let mut n = DeviceTreeNode::new_unchecked(name);
        n.add_property(prop("compatible", &b"arm,pl011\0arm,primecell\0"[..]));
        n.add_property(prop("reg", cells_of(reg)));
        if let Some(s) = status {
            n.add_property(prop("status", format!("{s}\0")));
        }
        n
    }

    /// A board with two PL011s behind a simple-bus that maps 0x0.. to 0x1c000000.., the
    /// first disabled, a third at the root, and an 8250 as stdout-path.
    fn board(stdout: &str, aliases: &[(&str, &str)]) -> Vec<u8> {
        let mut t = DeviceTree::new();
        t.root.add_property(prop("#address-cells", cells_of(&[2])));
        t.root.add_property(prop("#size-cells", cells_of(&[2])));
        let mut bus = DeviceTreeNode::new_unchecked("soc");
        bus.add_property(prop("compatible", &b"simple-bus\0"[..]));
        bus.add_property(prop("#address-cells", cells_of(&[1])));
        bus.add_property(prop("#size-cells", cells_of(&[1])));
        // child 0x0 size 0x100000 -> parent 0x0_1c000000.
        bus.add_property(prop("ranges", cells_of(&[0, 0, 0x1c00_0000, 0x10_0000])));
        bus.add_child(pl011("serial@9000", &[0x9000, 0x1000], Some("disabled")));
        bus.add_child(pl011("serial@a000", &[0xa000, 0x1000], Some("okay")));
        // Outside the bus window: cannot be translated.
        bus.add_child(pl011("serial@200000", &[0x20_0000, 0x1000], None));
        t.root.add_child(bus);
        t.root
            .add_child(pl011("uart@9000000", &[0, 0x900_0000, 0, 0x1000], None));
        let mut ns = DeviceTreeNode::new_unchecked("serial@fe000000");
        ns.add_property(prop("compatible", &b"ns16550a\0"[..]));
        ns.add_property(prop("reg", cells_of(&[0, 0xfe00_0000, 0, 0x100])));
        t.root.add_child(ns);
        // A bus without ranges: its PL011 has no CPU address.
        let mut opaque = DeviceTreeNode::new_unchecked("i2c@0");
        opaque.add_property(prop("#address-cells", cells_of(&[1])));
        opaque.add_property(prop("#size-cells", cells_of(&[1])));
        opaque.add_child(pl011("serial@10", &[0x10, 0x10], None));
        t.root.add_child(opaque);
        let mut a = DeviceTreeNode::new_unchecked("aliases");
        for (k, v) in aliases {
            a.add_property(prop(k, format!("{v}\0")));
        }
        t.root.add_child(a);
        let mut chosen = DeviceTreeNode::new_unchecked("chosen");
        if !stdout.is_empty() {
            chosen.add_property(prop("stdout-path", format!("{stdout}\0")));
        }
        t.root.add_child(chosen);
        t.to_dtb()
    }

    #[test]
    fn arm64_translates_through_bus_ranges_and_follows_aliases_and_stdout_path() {
        let dtb = board("", &[]);
        // ttyAMA<n> without aliases: the n-th enabled PL011 in tree order.
        assert_eq!(arm64("console=ttyAMA0", &dtb), Console::Pl011(0x1c00_a000));
        assert_eq!(arm64("console=ttyAMA2", &dtb), Console::Pl011(0x900_0000));
        // The 2nd enabled one is outside its bus's window, the 4th behind a bus without
        // ranges: no address, no console.
        assert_eq!(arm64("console=ttyAMA1", &dtb), Console::None);
        assert_eq!(arm64("console=ttyAMA3", &dtb), Console::None);
        assert_eq!(arm64("console=ttyAMA4", &dtb), Console::None);
        // The last console= that names a PL011 wins.
        assert_eq!(
            arm64("console=ttyAMA2 console=ttyAMA0 console=tty0", &dtb),
            Console::Pl011(0x1c00_a000)
        );
        // An alias renumbers.
        let aliased = board(
            "",
            &[
                ("serial0", "/uart@9000000"),
                ("serial1", "/soc/serial@a000"),
            ],
        );
        assert_eq!(
            arm64("console=ttyAMA0", &aliased),
            Console::Pl011(0x900_0000)
        );
        assert_eq!(
            arm64("console=ttyAMA1", &aliased),
            Console::Pl011(0x1c00_a000)
        );
        // stdout-path by path (options cut), by alias, by path without unit address.
        for stdout in ["/soc/serial@a000:115200n8", "serial1", "/uart"] {
            let want = if stdout == "/uart" {
                Console::Pl011(0x900_0000)
            } else {
                Console::Pl011(0x1c00_a000)
            };
            let dtb = board(stdout, &[("serial1", "/soc/serial@a000")]);
            assert_eq!(arm64("quiet", &dtb), want, "{stdout}");
        }
        // stdout-path naming an 8250 (not driven) or nothing: no console.
        assert_eq!(
            arm64("quiet", &board("/serial@fe000000", &[])),
            Console::None
        );
        assert_eq!(arm64("quiet", &board("serial7", &[])), Console::None);
        assert_eq!(arm64("", &dtb), Console::None);
    }

    #[test]
    fn notes_say_where_the_refusal_goes() {
        assert!(describe(Console::Uart8250Io(0x3f8)).contains("I/O port 0x3f8"));
        assert!(describe(Console::Pl011(0x900_0000)).contains("PL011 at 0x9000000"));
        assert!(describe(Console::None).contains("prints nothing"));
    }
}
