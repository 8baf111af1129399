//! Each of the kernel's acceptance rules (sim/src/kernel_rules.rs), broken on purpose by a
//! hand-made plan: the sim refuses it with the kernel's errno, names the rule, the segment
//! and the addresses, and loads nothing. And the rules that are warmboot's own
//! (plan_check's usable RAM and entry rules): the kernel has no such rule, so the sim
//! accepts what only warmboot refuses.

use nix::errno::Errno;
use warmboot::arch::Arch;
use warmboot::kexec::Kexec;
use warmboot::memmap::{MemoryMap, Mode};
use warmboot::plan::{Plan, Segment};
use warmboot::plan_check::{check_plan, Rule};
use warmboot::Error;
use warmboot_sim::refusal::{ControlUse, Refusal};
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

/// Runs `plan` through `sim` and returns the rule it was refused with and its message,
/// after checking the error is the syscall's with the rule's errno and nothing is loaded.
fn refuse_on(mut sim: Sim, plan: &Plan) -> (Refusal, String) {
    match sim.kexec_load(plan) {
        Err(Error::Syscall { call, errno }) => {
            assert!(call.starts_with("kexec_load("), "{call}");
            let r = sim.last_refusal().expect("a refusal is recorded").clone();
            assert_eq!(errno, r.errno(), "{r}");
            assert!(sim.image(plan.mode).is_none());
            let msg = r.to_string();
            assert!(!msg.contains('\n'), "{msg}");
            (r, msg)
        }
        other => panic!("expected a refused syscall, got {other:?}"),
    }
}

fn refuse(plan: &Plan) -> (Refusal, String) {
    refuse_on(Sim::new(Arch::X86_64, map()), plan)
}

#[test]
fn the_good_plans_are_accepted() {
    for mode in [Mode::Normal, Mode::Panic] {
        let mut sim = Sim::new(Arch::X86_64, map());
        sim.kexec_load(&good(mode)).unwrap();
        assert!(sim.image(mode).is_some());
        assert_eq!(sim.last_refusal(), None);
    }
}

#[test]
fn overlap() {
    let mut p = good(Mode::Normal);
    p.segments[1].mem = 0x1002000;
    let (r, msg) = refuse(&p);
    assert!(
        matches!(
            r,
            Refusal::Overlap {
                index: 1,
                other: 0,
                ..
            }
        ),
        "{r:?}"
    );
    assert_eq!(r.errno(), Errno::EINVAL);
    assert_eq!(
        msg,
        "segment 1 [0x1002000+0x1000] overlaps segment 0 [0x1000000+0x4000]"
    );
}

#[test]
fn a_zero_length_segment_inside_another_overlaps_it_but_not_at_its_edge() {
    // sanity_check_segment_list: mend > pstart && mstart < pend.
    let mut p = good(Mode::Normal);
    p.segments.push(seg("empty", 0x1002000, 0, 0));
    assert!(matches!(refuse(&p).0, Refusal::Overlap { index: 2, .. }));
    p.segments[2].mem = 0x1004000;
    Sim::new(Arch::X86_64, map()).kexec_load(&p).unwrap();
}

#[test]
fn misaligned_destination() {
    let mut p = good(Mode::Normal);
    p.segments[1].mem = 0x1100800;
    let (r, msg) = refuse(&p);
    assert!(matches!(r, Refusal::Unaligned { index: 1, .. }), "{r:?}");
    assert_eq!(r.errno(), Errno::EADDRNOTAVAIL);
    assert!(
        msg.contains("segment 1") && msg.contains("0x1100800"),
        "{msg}"
    );
}

#[test]
fn misaligned_end() {
    let mut p = good(Mode::Normal);
    p.segments[0].memsz = 0x3800;
    let (r, msg) = refuse(&p);
    assert!(matches!(r, Refusal::Unaligned { index: 0, .. }), "{r:?}");
    assert!(msg.contains("end 0x1003800"), "{msg}");
}

#[test]
fn seventeen_segments() {
    let mut p = good(Mode::Normal);
    p.segments = (0..17)
        .map(|i| seg("blob", 0x2000000 + i * 0x1000, 16, 0x1000))
        .collect();
    p.entry = 0x2000000;
    let (r, msg) = refuse(&p);
    assert_eq!(r, Refusal::TooManySegments { count: 17, max: 16 });
    assert_eq!(r.errno(), Errno::EINVAL);
    assert_eq!(msg, "17 segments, the kernel takes at most 16");
    // Sixteen are fine.
    p.segments.pop();
    Sim::new(Arch::X86_64, map()).kexec_load(&p).unwrap();
}

#[test]
fn no_segments_is_an_unload() {
    // do_kexec_load: nr_segments == 0 frees the image and succeeds.
    let mut sim = Sim::new(Arch::X86_64, map());
    sim.kexec_load(&good(Mode::Normal)).unwrap();
    let mut p = good(Mode::Normal);
    p.segments.clear();
    sim.kexec_load(&p).unwrap();
    assert!(sim.image(Mode::Normal).is_none());
    // warmboot never sends one: to plan_check an empty plan is an error.
    assert!(matches!(
        check_plan(&p, &map()),
        Err(Error::Rejected {
            rule: Rule::SegmentCount,
            ..
        })
    ));
}

#[test]
fn destinations_outside_usable_ram_are_warmboots_rule_not_the_kernels() {
    // sanity_check_segment_list: "The caller is responsible for making certain we don't
    // attempt to load the new image into invalid or reserved areas of RAM." Beyond RAM, in
    // a reserved range, over the crash reservation: the kernel takes all three.
    for mem in [0x40000000, 0x30000000, 0x20000000] {
        let mut p = good(Mode::Normal);
        p.segments[1].mem = mem;
        let mut sim = Sim::new(Arch::X86_64, map());
        sim.kexec_load(&p).unwrap();
        assert!(sim.image(Mode::Normal).is_some(), "{mem:#x}");
        let e = check_plan(&p, &map()).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Rejected {
                    rule: Rule::UsableRam,
                    ..
                }
            ),
            "{mem:#x}: {e}"
        );
    }
}

#[test]
fn an_entry_outside_every_segment_is_warmboots_rule_not_the_kernels() {
    let mut p = good(Mode::Normal);
    p.entry = 0x1004000;
    Sim::new(Arch::X86_64, map()).kexec_load(&p).unwrap();
    let e = check_plan(&p, &map()).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Rejected {
                rule: Rule::Entry,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn outside_the_crash_region() {
    let mut p = good(Mode::Panic);
    p.segments[1].mem = 0x1000000;
    let (r, msg) = refuse(&p);
    assert!(
        matches!(r, Refusal::OutsideCrashRegion { index: 1, .. }),
        "{r:?}"
    );
    assert_eq!(r.errno(), Errno::EADDRNOTAVAIL);
    assert_eq!(
        msg,
        "segment 1 [0x1000000+0x1000] is not inside the crash reservation [0x20000000-0x2fffffff]"
    );
}

#[test]
fn crash_segment_straddling_the_end_of_the_region() {
    let mut p = good(Mode::Panic);
    p.segments[1].mem = 0x2ffff000;
    p.segments[1].memsz = 0x2000;
    assert!(matches!(
        refuse(&p).0,
        Refusal::OutsideCrashRegion { index: 1, .. }
    ));
    // Ending on the reservation's last byte is inside.
    p.segments[1].memsz = 0x1000;
    Sim::new(Arch::X86_64, map()).kexec_load(&p).unwrap();
}

#[test]
fn crash_entry_outside_the_region() {
    let mut p = good(Mode::Panic);
    p.entry = 0x1000;
    let (r, msg) = refuse(&p);
    assert_eq!(r.errno(), Errno::EADDRNOTAVAIL);
    assert_eq!(
        msg,
        "entry 0x1000 is outside the crash reservation [0x20000000-0x2fffffff]"
    );
    // The last byte of crashk_res is still inside (kimage_alloc_init: entry > end).
    p.entry = 0x2fffffff;
    Sim::new(Arch::X86_64, map()).kexec_load(&p).unwrap();
}

#[test]
fn crash_image_without_a_reservation() {
    // crashk_res stays { 0, 0 }: the entry check fails for any entry but 0, and a crash
    // segment can never fit.
    let map = MemoryMap::parse("00100000-3fffffff : System RAM\n", Vec::new()).unwrap();
    let (r, msg) = refuse_on(Sim::new(Arch::X86_64, map.clone()), &good(Mode::Panic));
    assert!(matches!(r, Refusal::CrashEntry { .. }), "{r:?}");
    assert!(
        msg.ends_with("is outside the crash reservation (none)"),
        "{msg}"
    );
    let mut p = good(Mode::Panic);
    p.entry = 0;
    let (r, _) = refuse_on(Sim::new(Arch::X86_64, map), &p);
    assert!(
        matches!(r, Refusal::OutsideCrashRegion { index: 0, .. }),
        "{r:?}"
    );
}

/// A machine whose crash reservation is 0x20000000..0x2000ffff (16 pages).
fn small_crash_map() -> MemoryMap {
    MemoryMap::parse(
        "00100000-3fffffff : System RAM\n  20000000-2000ffff : Crash kernel\n",
        Vec::new(),
    )
    .unwrap()
}

/// A crash plan filling the small reservation but for the pages of `gaps` (page numbers).
fn crash_plan_with_gaps(arch: Arch, gaps: &[u64]) -> Plan {
    let mut segments = Vec::new();
    let mut run: Option<u64> = None;
    for page in 0..=16u64 {
        let free = page == 16 || gaps.contains(&page);
        match (free, run) {
            (false, None) => run = Some(page),
            (true, Some(start)) => {
                segments.push(seg(
                    "blob",
                    0x20000000 + start * 0x1000,
                    0x100,
                    (page - start) * 0x1000,
                ));
                run = None;
            }
            _ => {}
        }
    }
    Plan {
        arch,
        mode: Mode::Panic,
        entry: segments[0].mem,
        segments,
        cmdline: String::new(),
        notes: Vec::new(),
    }
}

#[test]
fn crash_images_need_holes_for_the_kernels_own_pages() {
    let map = small_crash_map();
    let x86 = |gaps: &[u64]| crash_plan_with_gaps(Arch::X86_64, gaps);
    let arm = |gaps: &[u64]| crash_plan_with_gaps(Arch::Arm64, gaps);
    let refused = |p: &Plan| {
        let (r, msg) = refuse_on(Sim::new(p.arch, map.clone()), p);
        assert_eq!(r.errno(), Errno::ENOMEM, "{msg}");
        match r {
            Refusal::NoControlPage { what, .. } => what,
            other => panic!("{other:?}"),
        }
    };
    let accepted = |p: &Plan| Sim::new(p.arch, map.clone()).kexec_load(p).unwrap();

    // x86_64: the control code buffer is 8 KiB, 8 KiB-aligned (two free pages 5 and 6
    // are not; 6 and 7 are). Then the identity map of this 1 GiB machine: 2 pages for the
    // PGD entry, 1 for the GiB. Then the vmcoreinfo page.
    assert_eq!(refused(&x86(&[5, 6])), ControlUse::ControlCode);
    assert_eq!(refused(&x86(&[6, 7])), ControlUse::IdentityMap);
    assert_eq!(refused(&x86(&[6, 7, 9, 10])), ControlUse::IdentityMap);
    assert_eq!(refused(&x86(&[6, 7, 9, 10, 11])), ControlUse::Vmcoreinfo);
    accepted(&x86(&[6, 7, 9, 10, 11, 15]));
    // Holes before the control code buffer are not taken: allocation moves forward only.
    assert_eq!(refused(&x86(&[1, 3, 5, 6, 7, 9])), ControlUse::IdentityMap);

    // arm64: a 4 KiB control page, no identity map, the vmcoreinfo page.
    assert_eq!(refused(&arm(&[])), ControlUse::ControlCode);
    assert_eq!(refused(&arm(&[3])), ControlUse::Vmcoreinfo);
    accepted(&arm(&[3, 12]));
}

#[test]
fn x86_identity_map_pages_with_and_without_gigabyte_pages() {
    use warmboot_sim::kernel_rules::identity_map_pages;
    use warmboot_sim::kernel_state::KernelState;
    // RAM in GiB 0 and 4 (a 4 GiB machine's layout) and one segment in GiB 0.
    let map = MemoryMap::parse(
        "00001000-0009ffff : System RAM\n00100000-bffdffff : System RAM\n100000000-13fffffff : System RAM\n",
        Vec::new(),
    )
    .unwrap();
    let mut k = KernelState::from_map(Arch::X86_64, &map);
    let segs = [seg("kernel", 0x1000000, 0, 0x1000)];
    // One PGD entry (2 pages) and GiBs 0, 1, 2 and 4.
    assert_eq!(identity_map_pages(&k, &segs), 2 + 4);
    k.gbpages = true;
    assert_eq!(identity_map_pages(&k, &segs), 2);
}

#[test]
fn bufsz_larger_than_memsz() {
    let mut p = good(Mode::Normal);
    p.segments[0].buf = vec![1; 0x5000];
    let (r, msg) = refuse(&p);
    assert_eq!(r.errno(), Errno::EINVAL);
    assert_eq!(msg, "segment 0: bufsz 0x5000 is larger than memsz 0x4000");
}

#[test]
fn more_than_half_of_ram() {
    let mut p = good(Mode::Normal);
    p.segments[0].memsz = 0x20000000;
    p.segments[1].mem = 0x21000000;
    let (r, msg) = refuse(&p);
    assert!(matches!(r, Refusal::HalfOfRam { .. }), "{r:?}");
    assert_eq!(r.errno(), Errno::EINVAL);
    assert!(msg.starts_with("segment 0: 0x20000 pages"), "{msg}");
}

#[test]
fn half_of_ram_at_its_boundary() {
    // totalram_pages 0x1001: half is 0x800 pages, for one segment and for all together.
    let sim = || Sim::new(Arch::X86_64, map()).with_totalram_pages(0x1001);
    let mut p = good(Mode::Normal);
    p.segments = vec![seg("kernel", 0x1000000, 0, 0x800 * 0x1000)];
    p.entry = 0x1000000;
    sim().kexec_load(&p).unwrap();
    p.segments[0].memsz += 0x1000;
    let (r, msg) = refuse_on(sim(), &p);
    assert!(matches!(r, Refusal::HalfOfRam { .. }));
    assert!(msg.starts_with("segment 0: 0x801 pages"), "{msg}");
    // Two segments under the limit each, over it together.
    p.segments = vec![
        seg("kernel", 0x1000000, 0, 0x400 * 0x1000),
        seg("initrd", 0x2000000, 0, 0x401 * 0x1000),
    ];
    let (_, msg) = refuse_on(sim(), &p);
    assert!(msg.starts_with("2 segments together: 0x801 pages"), "{msg}");
}

#[test]
fn wrapping_and_too_high_destinations() {
    let mut p = good(Mode::Normal);
    p.segments[1].mem = u64::MAX - 0xfff;
    let (r, _) = refuse(&p);
    assert!(matches!(r, Refusal::Wraps { index: 1, .. }), "{r:?}");
    assert_eq!(r.errno(), Errno::EADDRNOTAVAIL);
    let mut p = good(Mode::Normal);
    p.segments[1].mem = 1 << 46;
    let (r, msg) = refuse(&p);
    assert!(matches!(r, Refusal::AboveLimit { index: 1, .. }), "{r:?}");
    assert!(msg.contains("limit 0x3fffffffffff"), "{msg}");
    // An end at 2^46, one past the limit's last address, is refused too; arm64 has no
    // limit below the top of the address space.
    let mut p = good(Mode::Normal);
    p.segments[1].mem = (1 << 46) - 0x1000;
    assert!(matches!(refuse(&p).0, Refusal::AboveLimit { .. }));
    p.arch = Arch::Arm64;
    Sim::new(Arch::Arm64, map()).kexec_load(&p).unwrap();
}

#[test]
fn every_kernel_rule_has_its_errno() {
    assert_eq!(Rule::Overlap.kernel_errno(), Some(Errno::EINVAL));
    assert_eq!(
        Rule::PageAlignment.kernel_errno(),
        Some(Errno::EADDRNOTAVAIL)
    );
    assert_eq!(Rule::CrashControlPage.kernel_errno(), Some(Errno::ENOMEM));
    assert_eq!(Rule::UsableRam.kernel_errno(), None);
}

/// riscv64's machine_kexec_prepare (arch/riscv/kernel/machine_kexec.c): a plan must carry a
/// device tree, found by its header among the segments; without one the kernel refuses
/// with EINVAL, and warmboot's own check refuses it by the same rule. A segment with the
/// magic but a header libfdt rejects does not count.
#[test]
fn riscv64_needs_a_device_tree_segment() {
    let fdt = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../loader/tests/fixtures/machines/riscv64-direct-m1024/sys/firmware/fdt"),
    )
    .unwrap();
    let mut plan = good(Mode::Normal);
    plan.arch = Arch::Riscv64;
    plan.entry = plan.segments[0].mem;
    let sim = || Sim::new(Arch::Riscv64, map());
    let (r, msg) = refuse_on(sim(), &plan);
    assert_eq!(r, Refusal::NoDeviceTree);
    assert_eq!(r.errno(), Errno::EINVAL);
    assert!(msg.contains("Device tree not included"), "{msg}");
    assert!(matches!(
        check_plan(&plan, &map()),
        Err(Error::Rejected {
            rule: Rule::DeviceTree,
            ..
        })
    ));
    // A broken header (version 1) is no device tree to the kernel either.
    let mut broken = fdt.clone();
    broken[20..24].copy_from_slice(&1u32.to_be_bytes());
    let mut with_broken = plan.clone();
    let mut s = seg("dtb", 0x1200000, 0, 0x2000);
    s.buf = broken;
    with_broken.segments.push(s);
    assert_eq!(refuse_on(sim(), &with_broken).0, Refusal::NoDeviceTree);
    // The machine's own DTB: accepted, and it is the segment the kernel records.
    let mut with_dtb = plan.clone();
    let mut s = seg("dtb", 0x1200000, 0, 0x2000);
    s.buf = fdt;
    with_dtb.segments.push(s);
    let mut ok = sim();
    ok.kexec_load(&with_dtb).unwrap();
    assert_eq!(
        warmboot_sim::kernel_rules::riscv64_fdt_segment(&with_dtb.segments),
        Some(2)
    );
    check_plan(&with_dtb, &map()).unwrap();
}
