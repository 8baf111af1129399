//! Every fixture machine tree parses: iomem, firmware memmap, crash reservation, kernel
//! ranges, sysfs flags, EFI files; the parsed facts agree with each other.

use std::fmt::Write as _;
use std::path::PathBuf;
use warmboot::host::HostRoot;
use warmboot::memmap::{MemoryMap, Mode, Range};

const MACHINES: &[&str] = &[
    "x86_64-bios-m1024",
    "x86_64-bios-m4096",
    "x86_64-ovmf-m1024",
    "x86_64-ovmf-m4096",
    "arm64-direct-m1024",
    "arm64-direct-m4096",
    "arm64-uefi-m1024",
    "arm64-uefi-m4096",
    "arm64-direct-m1024-crashkernel",
    "arm64-direct-m1024-crashkernel-capture",
    "riscv64-direct-m1024",
    "riscv64-direct-m1024-crashkernel",
];

fn host(name: &str) -> HostRoot {
    HostRoot::new(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/machines")
            .join(name),
    )
}

fn summary(name: &str) -> String {
    let h = host(name);
    let m = h.memory_map().unwrap();
    let mut out = String::new();
    let _ = writeln!(out, "machine {name}");
    let _ = writeln!(out, "total RAM {:#x}", m.total_ram());
    for r in &m.ram {
        let _ = writeln!(out, "ram      {:#014x}-{:#014x}", r.start, r.end);
    }
    for r in &m.reserved {
        let _ = writeln!(out, "reserved {:#014x}-{:#014x}", r.start, r.end);
    }
    for k in &m.kernel {
        let _ = writeln!(
            out,
            "kernel   {:#014x}-{:#014x} {}",
            k.range.start, k.range.end, k.name
        );
    }
    if let Some(c) = m.crash {
        let _ = writeln!(out, "crash    {:#014x}-{:#014x}", c.start, c.end);
    }
    for f in &m.firmware {
        let _ = writeln!(
            out,
            "firmware {:#014x}-{:#014x} {}",
            f.range.start, f.range.end, f.kind
        );
    }
    for r in m.usable(Mode::Normal) {
        let _ = writeln!(out, "usable   {:#014x}-{:#014x}", r.start, r.end);
    }
    out
}

#[test]
fn memory_maps_of_every_machine() {
    for name in MACHINES {
        insta::assert_snapshot!(format!("memmap-{name}"), summary(name));
    }
}

#[test]
fn crash_reservations_match_kexec_crash_size() {
    for name in MACHINES {
        let h = host(name);
        let m = h.memory_map().unwrap();
        let size = match h.kexec_crash_size() {
            Ok(s) => s,
            // The capture kernel's tree has only iomem and cmdline.
            Err(_) if name.ends_with("-capture") => continue,
            Err(e) => panic!("{name}: {e}"),
        };
        assert_eq!(m.crash.map(|r| r.len()).unwrap_or(0), size, "{name}");
    }
    let m = host("x86_64-bios-m1024").memory_map().unwrap();
    assert_eq!(m.crash, Some(Range::new(0x22000000, 0x32000000)));
    let m = host("arm64-direct-m1024-crashkernel").memory_map().unwrap();
    assert_eq!(m.crash, Some(Range::new(0x74c00000, 0x7ac00000)));
}

#[test]
fn kernel_ranges_are_inside_ram() {
    for name in MACHINES {
        let m = host(name).memory_map().unwrap();
        assert!(m.kernel.iter().any(|k| k.name == "Kernel code"), "{name}");
        for k in &m.kernel {
            assert!(
                m.ram.iter().any(|r| r.contains(&k.range)),
                "{name}: {}",
                k.name
            );
        }
    }
}

#[test]
fn iomem_ram_lies_inside_firmware_ram_on_x86() {
    for name in MACHINES.iter().filter(|n| n.starts_with("x86_64")) {
        let m = host(name).memory_map().unwrap();
        assert!(!m.firmware.is_empty(), "{name}");
        let fw_ram: Vec<Range> = m
            .firmware
            .iter()
            .filter(|f| f.kind == "System RAM")
            .map(|f| f.range)
            .collect();
        let fw_ram = warmboot::memmap::merge(fw_ram);
        for r in &m.ram {
            assert!(fw_ram.iter().any(|f| f.contains(r)), "{name}: {r}");
        }
    }
}

#[test]
fn sysfs_and_efi_files() {
    let h = host("x86_64-ovmf-m1024");
    assert!(!h.kexec_loaded().unwrap());
    assert!(!h.kexec_crash_loaded().unwrap());
    assert_eq!(h.vmcoreinfo().unwrap(), Some((0x3eeb8000, 0x1024)));
    assert!(h.efi_booted());
    let systab = h.efi_systab().unwrap().unwrap();
    assert_eq!(systab[0], ("ACPI20".to_string(), 0x3fb7e014));
    let rt = h.efi_runtime_map().unwrap();
    assert_eq!(rt.len(), 7);
    assert_eq!(
        (rt[0].kind, rt[0].phys_addr, rt[0].num_pages),
        (6, 0x3ff58000, 0x20)
    );
    assert!(h
        .cmdline()
        .unwrap()
        .ends_with("crashkernel=256M initrd=initrd"));

    let h = host("x86_64-bios-m1024");
    assert!(!h.efi_booted());
    assert_eq!(h.efi_systab().unwrap(), None);
    assert!(h.efi_runtime_map().unwrap().is_empty());

    // arm64 UEFI guests have EFI (systab without a runtime map: that is x86 only) ...
    let h = host("arm64-uefi-m1024");
    assert!(h.efi_booted());
    assert_eq!(
        h.efi_systab().unwrap().unwrap()[0],
        ("ACPI20".to_string(), 0x79f10018)
    );
    // ... and every machine reports lockdown off and its kernel release.
    for name in MACHINES.iter().filter(|n| !n.ends_with("-capture")) {
        let h = host(name);
        assert!(h.lockdown().unwrap().is_some(), "{name}");
        let release = if name.starts_with("riscv64") {
            "6.12.118+deb13-riscv64"
        } else {
            "6.1.0-56-"
        };
        assert!(h.os_release().unwrap().starts_with(release), "{name}");
    }

    let h = host("arm64-direct-m1024");
    let fdt = h.fdt().unwrap().unwrap();
    assert_eq!(&fdt[..4], &[0xd0, 0x0d, 0xfe, 0xed]);
    assert_eq!(h.firmware_memmap().unwrap(), Vec::new());
    assert_eq!(h.lockdown().unwrap(), Some(warmboot::host::Lockdown::None));
}

#[test]
fn the_capture_kernel_sees_only_the_crash_reservation_as_ram() {
    let capture = host("arm64-direct-m1024-crashkernel-capture")
        .memory_map()
        .unwrap();
    let first = host("arm64-direct-m1024-crashkernel").memory_map().unwrap();
    assert_eq!(capture.ram, vec![first.crash.unwrap()]);
    assert_eq!(capture.crash, None);
}

#[test]
fn blank_lines_in_iomem_are_ignored() {
    let text = std::fs::read_to_string(host("x86_64-bios-m4096").path("/proc/iomem")).unwrap();
    let a = MemoryMap::parse(&text, Vec::new()).unwrap();
    let b = MemoryMap::parse(&format!("{text}\n\n"), Vec::new()).unwrap();
    assert_eq!(a, b);
}
