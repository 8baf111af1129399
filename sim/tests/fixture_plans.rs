//! Dry-run plans of Debian-like kernels on every fixture machine, normal and panic, run
//! through the simulator and snapshotted for review.

mod common;

use common::{initrd_for, layout_for, machine_map, HEAD, MACHINES, TAIL};
use warmboot::commands::load::dry_run;
use warmboot::kexec::Kexec;
use warmboot::layout::{Blob, Placement};
use warmboot::memmap::Mode;
use warmboot::plan::SyscallChoice;
use warmboot::planner::PlanRequest;
use warmboot_sim::Sim;

fn render(machine: &str, arch: warmboot::Arch, mode: Mode) -> String {
    let map = machine_map(machine);
    // The riscv64 kernel refuses a kexec_load without a device tree: the machine's own.
    let extra = match arch {
        warmboot::Arch::Riscv64 => vec![fixture_dtb(machine)],
        _ => Vec::new(),
    };
    let req = PlanRequest {
        layout: layout_for(arch),
        initrd: Some(initrd_for(arch)),
        cmdline: "console=ttyS0 quiet".to_string(),
        extra,
        mode,
    };
    // These plans are warmboot's own, what kexec_load would receive.
    let (syscall, reason) = (
        SyscallChoice::Classic,
        "warmboot's own plan, checked by the sim".to_string(),
    );
    let report = match dry_run(req, &map, syscall, reason) {
        Ok(r) => r,
        Err(e) => return format!("error: {e}\n"),
    };
    // The simulator accepts the plan and holds the bytes where the plan says.
    let mut sim = Sim::new(arch, map.clone());
    sim.kexec_load(&report.plan).unwrap();
    let image = sim.image(mode).unwrap();
    for s in &report.plan.segments {
        let read = |addr: u64, len: usize| match mode {
            Mode::Normal => image.read_staged(addr, len),
            Mode::Panic => sim.read(addr, len),
        };
        if s.what == "dtb" {
            assert_eq!(read(s.mem, s.buf.len()), s.buf, "{machine} {mode} dtb");
            continue;
        }
        assert_eq!(read(s.mem, 8), HEAD, "{machine} {mode} {}", s.what);
        assert_eq!(
            read(s.mem + s.bufsz() - 8, 8),
            TAIL,
            "{machine} {mode} {}",
            s.what
        );
        let fill = (s.memsz - s.bufsz()).min(0x10000) as usize;
        assert!(read(s.mem + s.bufsz(), fill).iter().all(|&b| b == 0));
    }
    let usable = map.usable(mode);
    for s in &report.plan.segments {
        assert!(usable.iter().any(|u| u.start <= s.mem && s.end() <= u.end));
    }
    report.to_table()
}

/// The machine's /sys/firmware/fdt as a page-aligned "dtb" segment.
fn fixture_dtb(machine: &str) -> Blob {
    let path = common::machine_root(machine).join("sys/firmware/fdt");
    let placement = Placement {
        align: 4096,
        min: 0,
        max: u64::MAX,
        top_down: false,
        near_kernel: false,
    };
    Blob::new("dtb", std::fs::read(path).unwrap(), placement)
}

#[test]
fn plans_for_every_fixture_machine() {
    for (machine, arch) in MACHINES {
        for mode in [Mode::Normal, Mode::Panic] {
            let text = render(machine, *arch, mode);
            insta::assert_snapshot!(format!("plan-{machine}-{mode}"), text);
        }
    }
}
