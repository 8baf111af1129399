//! Each acceptance rule, broken on purpose by a hand-made plan: the sim refuses it and
//! names the rule, the segment and the addresses.

use warmboot::arch::Arch;
use warmboot::kexec::Kexec;
use warmboot::memmap::{MemoryMap, Mode};
use warmboot::plan::{Plan, Segment};
use warmboot::plan_check::Rule;
use warmboot::Error;
use warmboot_sim::Sim;

const IOMEM: &str = "00001000-0009ffff : System RAM\n00100000-3fffffff : System RAM\n  20000000-2fffffff : Crash kernel\n  30000000-30ffffff : reserved\n";

fn map() -> MemoryMap {
    MemoryMap::parse(IOMEM, Vec::new()).unwrap()
}

fn seg(what: &str, mem: u64, bufsz: usize, memsz: u64) -> Segment {
    Segment {
        what: what.to_string(),
        buf: vec![0xab; bufsz],
        mem,
        memsz,
    }
}

fn good(mode: Mode) -> Plan {
    let base = match mode {
        Mode::Normal => 0x1000000,
        Mode::Panic => 0x20100000,
    };
    Plan {
        arch: Arch::X86_64,
        mode,
        entry: base + 0x200,
        segments: vec![
            seg("kernel", base, 0x1800, 0x4000),
            seg("initrd", base + 0x100000, 0x1000, 0x1000),
        ],
        cmdline: String::new(),
        notes: Vec::new(),
    }
}

/// Runs `plan` through a fresh sim and returns the rule and message it was refused with.
fn refuse(plan: &Plan) -> (Rule, String) {
    let mut sim = Sim::new(Arch::X86_64, map());
    match sim.kexec_load(plan) {
        Err(e @ Error::Rejected { .. }) => {
            let msg = e.to_string();
            let Error::Rejected { rule, .. } = e else {
                unreachable!()
            };
            assert!(sim.image(plan.mode).is_none());
            (rule, msg)
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn the_good_plans_are_accepted() {
    for mode in [Mode::Normal, Mode::Panic] {
        let mut sim = Sim::new(Arch::X86_64, map());
        sim.kexec_load(&good(mode)).unwrap();
        assert!(sim.image(mode).is_some());
    }
}

#[test]
fn overlap() {
    let mut p = good(Mode::Normal);
    p.segments[1].mem = 0x1002000;
    let (rule, msg) = refuse(&p);
    assert_eq!(rule, Rule::Overlap);
    assert!(
        msg.contains(
            "segment 1 (initrd) [0x1002000+0x1000] overlaps segment 0 (kernel) [0x1000000+0x4000]"
        ),
        "{msg}"
    );
}

#[test]
fn misaligned_destination() {
    let mut p = good(Mode::Normal);
    p.segments[1].mem = 0x1100800;
    let (rule, msg) = refuse(&p);
    assert_eq!(rule, Rule::PageAlignment);
    assert!(
        msg.contains("segment 1 (initrd)") && msg.contains("0x1100800"),
        "{msg}"
    );
}

#[test]
fn misaligned_end() {
    let mut p = good(Mode::Normal);
    p.segments[0].memsz = 0x3800;
    let (rule, msg) = refuse(&p);
    assert_eq!(rule, Rule::PageAlignment);
    assert!(msg.contains("end 0x1003800"), "{msg}");
}

#[test]
fn seventeen_segments() {
    let mut p = good(Mode::Normal);
    p.segments = (0..17)
        .map(|i| seg("blob", 0x2000000 + i * 0x1000, 16, 0x1000))
        .collect();
    p.entry = 0x2000000;
    let (rule, msg) = refuse(&p);
    assert_eq!(rule, Rule::SegmentCount);
    assert!(msg.contains("17 segments"), "{msg}");
}

#[test]
fn no_segments() {
    let mut p = good(Mode::Normal);
    p.segments.clear();
    assert_eq!(refuse(&p).0, Rule::SegmentCount);
}

#[test]
fn outside_ram() {
    let mut p = good(Mode::Normal);
    p.segments[1].mem = 0x40000000;
    let (rule, msg) = refuse(&p);
    assert_eq!(rule, Rule::UsableRam);
    assert!(
        msg.contains("segment 1 (initrd) [0x40000000+0x1000]"),
        "{msg}"
    );
}

#[test]
fn normal_image_in_reserved_or_crash_memory() {
    for mem in [0x30000000, 0x20000000] {
        let mut p = good(Mode::Normal);
        p.segments[1].mem = mem;
        assert_eq!(refuse(&p).0, Rule::UsableRam, "{mem:#x}");
    }
}

#[test]
fn outside_the_crash_region() {
    let mut p = good(Mode::Panic);
    p.segments[1].mem = 0x1000000;
    let (rule, msg) = refuse(&p);
    assert_eq!(rule, Rule::CrashRegion);
    assert!(
        msg.contains("[0x1000000+0x1000]") && msg.contains("[0x20000000-0x30000000)"),
        "{msg}"
    );
}

#[test]
fn crash_segment_straddling_the_end_of_the_region() {
    let mut p = good(Mode::Panic);
    p.segments[1].mem = 0x2ffff000;
    p.segments[1].memsz = 0x2000;
    assert_eq!(refuse(&p).0, Rule::CrashRegion);
}

#[test]
fn crash_entry_outside_the_region() {
    let mut p = good(Mode::Panic);
    p.entry = 0x1000;
    let (rule, msg) = refuse(&p);
    assert_eq!(rule, Rule::CrashEntry);
    assert!(msg.contains("entry 0x1000"), "{msg}");
}

#[test]
fn crash_image_without_a_reservation() {
    let map = MemoryMap::parse("00100000-3fffffff : System RAM\n", Vec::new()).unwrap();
    let mut sim = Sim::new(Arch::X86_64, map);
    let e = sim.kexec_load(&good(Mode::Panic)).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Rejected {
                rule: Rule::CrashRegion,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn crash_region_without_a_control_page_hole() {
    // A crash region of 0x10000 bytes filled by segments leaves no 8 KiB hole.
    let map = MemoryMap::parse(
        "00100000-3fffffff : System RAM\n  20000000-2000ffff : Crash kernel\n",
        Vec::new(),
    )
    .unwrap();
    let mut p = good(Mode::Panic);
    p.segments = vec![
        seg("kernel", 0x20000000, 0x100, 0x8000),
        seg("initrd", 0x20008000, 0x100, 0x7000),
    ];
    p.entry = 0x20000200;
    let mut sim = Sim::new(Arch::X86_64, map.clone());
    let e = sim.kexec_load(&p).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Rejected {
                rule: Rule::CrashControlPage,
                ..
            }
        ),
        "{e}"
    );
    // arm64's control page is one page, but the kernel takes another one for the vmcoreinfo
    // copy (kimage_crash_copy_vmcoreinfo): one free 4 KiB page is not enough, two are.
    let mut arm = p.clone();
    arm.arch = Arch::Arm64;
    let e = Sim::new(Arch::Arm64, map.clone())
        .kexec_load(&arm)
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Rejected {
                rule: Rule::CrashControlPage,
                ..
            }
        ),
        "{e}"
    );
    arm.segments[1].memsz = 0x6000;
    Sim::new(Arch::Arm64, map).kexec_load(&arm).unwrap();
}

#[test]
fn bufsz_larger_than_memsz() {
    let mut p = good(Mode::Normal);
    p.segments[0].buf = vec![1; 0x5000];
    let (rule, msg) = refuse(&p);
    assert_eq!(rule, Rule::BufferSize);
    assert!(msg.contains("bufsz 0x5000"), "{msg}");
}

#[test]
fn entry_outside_any_segment() {
    let mut p = good(Mode::Normal);
    p.entry = 0x1004000;
    let (rule, msg) = refuse(&p);
    assert_eq!(rule, Rule::Entry);
    assert!(msg.contains("entry 0x1004000"), "{msg}");
}

#[test]
fn more_than_half_of_ram() {
    let mut p = good(Mode::Normal);
    p.segments[0].memsz = 0x20000000;
    p.segments[1].mem = 0x21000000;
    let (rule, msg) = refuse(&p);
    assert_eq!(rule, Rule::HalfOfRam);
    assert!(msg.contains("segment 0 (kernel)"), "{msg}");
}

#[test]
fn wrapping_and_too_high_destinations() {
    let mut p = good(Mode::Normal);
    p.segments[1].mem = u64::MAX - 0xfff;
    assert_eq!(refuse(&p).0, Rule::AddressLimit);
    let mut p = good(Mode::Normal);
    p.segments[1].mem = 1 << 46;
    let (rule, msg) = refuse(&p);
    assert_eq!(rule, Rule::AddressLimit);
    assert!(msg.contains("limit 0x3fffffffffff"), "{msg}");
}

#[test]
fn every_kernel_rule_has_its_errno() {
    use nix::errno::Errno;
    assert_eq!(Rule::Overlap.kernel_errno(), Some(Errno::EINVAL));
    assert_eq!(
        Rule::PageAlignment.kernel_errno(),
        Some(Errno::EADDRNOTAVAIL)
    );
    assert_eq!(Rule::CrashControlPage.kernel_errno(), Some(Errno::ENOMEM));
    assert_eq!(Rule::UsableRam.kernel_errno(), None);
}
