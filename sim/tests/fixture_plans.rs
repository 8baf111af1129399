//! Dry-run plans of Debian-like kernels on every fixture machine, normal and panic, run
//! through the simulator and snapshotted for review.

mod common;

use common::{initrd_for, layout_for, machine_map, HEAD, MACHINES, TAIL};
use warmboot::commands::load::dry_run;
use warmboot::kexec::Kexec;
use warmboot::memmap::Mode;
use warmboot::plan::SyscallChoice;
use warmboot::planner::PlanRequest;
use warmboot_sim::Sim;

fn render(machine: &str, arch: warmboot::Arch, mode: Mode) -> String {
    let map = machine_map(machine);
    let req = PlanRequest {
        layout: layout_for(arch),
        initrd: Some(initrd_for(arch)),
        cmdline: "console=ttyS0 quiet".to_string(),
        extra: Vec::new(),
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

#[test]
fn plans_for_every_fixture_machine() {
    for (machine, arch) in MACHINES {
        for mode in [Mode::Normal, Mode::Panic] {
            let text = render(machine, *arch, mode);
            insta::assert_snapshot!(format!("plan-{machine}-{mode}"), text);
        }
    }
}
