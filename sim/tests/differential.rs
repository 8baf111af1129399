//! Differential test: warmboot's own acceptance checks (`plan_check::check_plan`, which
//! runs before every real kexec_load) against the simulator's kernel rules
//! (`warmboot_sim::kernel_rules`, written separately from the kernel's source), on
//! generated plans for the fixture machines: up to 18 segments, aligned and unaligned
//! addresses and sizes, overlaps, bufsz > memsz, destinations in and out of usable RAM and
//! the crash reservation, sizes around half of RAM, crash reservations packed so full that
//! the kernel's own pages barely fit, normal and panic loads.
//!
//! The verdicts must agree, with two allowances:
//!
//! - **the kernel refuses ⇒ warmboot refuses**, always, and by one of its rules that model
//!   the kernel's (a rule with a kernel errno), with the same errno. warmboot checks its
//!   own extra rules only after the kernel's, so a plan the kernel refuses that warmboot
//!   refuses only by an extra rule means its model of the kernel missed it. One ordering
//!   difference is allowed: a crash plan on a machine without a reservation, which
//!   warmboot refuses first for that (EADDRNOTAVAIL) while the kernel, comparing with
//!   `crashk_res = [0, 0]`, can report an EINVAL rule first when the entry is 0.
//! - **warmboot refuses while the kernel accepts** only by a rule of [`LOADER_ONLY`], the
//!   documented list of warmboot's rules that the kernel does not have.
//!
//! Any other disagreement fails with both verdicts and the plan.

mod common;

use common::{machine_map, MACHINES};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use warmboot::arch::Arch;
use warmboot::memmap::{MemoryMap, Mode};
use warmboot::plan::{Plan, Segment};
use warmboot::plan_check::{check_plan, Rule};
use warmboot::Error;
use warmboot_sim::kernel_rules::{check_kexec_load, destination_limit};
use warmboot_sim::kernel_state::{KernelState, PAGE_SIZE};

/// warmboot's rules that the kernel does not have, each with why warmboot keeps it. A plan
/// that only these refuse is one the kernel would load.
const LOADER_ONLY: &[(Rule, &str)] = &[
    (
        Rule::UsableRam,
        "a normal image's destinations must be usable RAM (System RAM minus reserved ranges \
         and the crash reservation): the kernel leaves that to the caller \
         (kernel/kexec_core.c sanity_check_segment_list), and a segment over firmware data or \
         a loaded crash kernel would destroy it at reboot",
    ),
    (
        Rule::Entry,
        "the entry must lie inside a segment, in both modes: the kernel checks only that a \
         crash entry is in crashk_res (kernel/kexec.c kimage_alloc_init), and jumping \
         anywhere else runs whatever memory holds",
    ),
    (
        Rule::BootParams,
        "x86_64 plans with a boot_params segment must point at the bytes they load (never \
         generated here: no generated segment is called boot_params)",
    ),
    (
        Rule::SegmentCount,
        "only for a plan of no segments: to the kernel, kexec_load with nr_segments 0 is an \
         unload (kernel/kexec.c do_kexec_load); warmboot unloads with `unload`, never with an \
         empty plan",
    ),
];

/// Whether `rule` refusing `plan` is one of the [`LOADER_ONLY`] allowances.
fn loader_only(rule: Rule, plan: &Plan) -> bool {
    match rule {
        Rule::SegmentCount => plan.segments.is_empty(),
        r => LOADER_ONLY.iter().any(|(l, _)| *l == r),
    }
}

/// Compares the two verdicts on `plan`; Err describes a disagreement.
fn judge(plan: &Plan, map: &MemoryMap, kernel: &KernelState) -> Result<(), String> {
    let theirs = check_kexec_load(kernel, plan);
    let ours = check_plan(plan, map);
    let verdicts = || {
        format!(
            "kernel (sim): {}\nwarmboot: {}\n{}",
            match &theirs {
                Ok(()) => "accepts".to_string(),
                Err(r) => format!("refuses with {:?}: {r}", r.errno()),
            },
            match &ours {
                Ok(()) => "accepts".to_string(),
                Err(e) => format!("refuses: {e}"),
            },
            plan.to_table()
        )
    };
    match (&theirs, &ours) {
        (Ok(()), Ok(())) => Ok(()),
        (Err(_), Ok(())) => Err(format!(
            "warmboot accepts a plan the kernel refuses\n{}",
            verdicts()
        )),
        (Ok(()), Err(Error::Rejected { rule, .. })) if loader_only(*rule, plan) => Ok(()),
        (Ok(()), Err(_)) => Err(format!(
            "warmboot refuses a plan the kernel accepts, by a rule that is not one of its own\n{}",
            verdicts()
        )),
        (Err(r), Err(Error::Rejected { rule, .. })) => {
            let no_reservation = plan.mode == Mode::Panic && !kernel.crashk_res.is_reserved();
            match rule.kernel_errno() {
                None => Err(format!(
                    "the kernel refuses, warmboot only by a rule of its own: its model of the kernel missed it\n{}",
                    verdicts()
                )),
                Some(e) if e != r.errno() && !no_reservation => Err(format!(
                    "both refuse, with different errnos (warmboot's rule means {e:?}, the kernel's {:?})\n{}",
                    r.errno(),
                    verdicts()
                )),
                Some(_) => Ok(()),
            }
        }
        (Err(_), Err(_)) => Err(format!(
            "warmboot refuses with an error that is no rule\n{}",
            verdicts()
        )),
    }
}

/// A fixture machine: its map, the simulated kernel's view of it, and addresses worth
/// placing segments at.
struct Machine {
    name: &'static str,
    arch: Arch,
    map: MemoryMap,
    kernel: KernelState,
    anchors: Vec<u64>,
}

fn machines() -> Vec<Machine> {
    MACHINES
        .iter()
        .map(|&(name, arch)| {
            let map = machine_map(name);
            let kernel = KernelState::from_map(arch, &map);
            let mut anchors = vec![0, 0x100000, destination_limit(Arch::X86_64) & !0xfff];
            for r in map.ram.iter().chain(&map.reserved).chain(&map.crash) {
                anchors.extend([r.start, r.end]);
            }
            for r in map.usable(Mode::Normal) {
                anchors.extend([r.start, r.end]);
            }
            anchors.extend(map.kernel.iter().map(|k| k.range.start));
            Machine {
                name,
                arch,
                map,
                kernel,
                anchors,
            }
        })
        .collect()
}

/// One segment's recipe: where (an anchor, or right after the previous segment), how far
/// from it, how big, how much data.
#[derive(Debug, Clone)]
struct SegRecipe {
    /// Anchor index (modulo the machine's anchors); None: the previous segment's end, or
    /// for the first segment the start of the crash reservation (panic) or of a usable
    /// RAM range (normal).
    anchor: Option<usize>,
    delta_pages: i64,
    /// Added to the address: 0 mostly, else an unaligned amount.
    unaligned: u64,
    size: SizeRecipe,
    buf: BufRecipe,
}

#[derive(Debug, Clone)]
enum SizeRecipe {
    Zero,
    Pages(u64),
    /// Pages from the RAM-size boundaries: `half ± delta` of the kernel's totalram_pages,
    /// or of all System RAM, divided by `parts` (to split a total over segments).
    NearHalf {
        of_system_ram: bool,
        parts: u64,
        delta: i64,
    },
    Unaligned(u64),
}

#[derive(Debug, Clone)]
enum BufRecipe {
    Empty,
    /// min(memsz, n) bytes.
    Upto(usize),
    /// memsz + n bytes (only for small memsz).
    Over(usize),
}

#[derive(Debug, Clone)]
enum EntryRecipe {
    InSegment(usize, u64),
    CrashStart,
    CrashLast,
    CrashEnd,
    Zero,
    Anchor(usize),
}

#[derive(Debug, Clone)]
enum Layout {
    /// Segments from their own recipes.
    Scattered(Vec<SegRecipe>),
    /// Segments packed from the start of the crash reservation (or of a usable RAM range)
    /// with gaps of `gaps[i]` pages, the last one ending `slack` pages before its end.
    Packed {
        in_crash: bool,
        range: usize,
        sizes: Vec<u64>,
        gaps: Vec<u64>,
        slack: u64,
    },
}

#[derive(Debug, Clone)]
struct Recipe {
    machine: usize,
    /// A panic load for 0..5 on machines with a crash reservation, for 0 on the others.
    panic: u8,
    layout: Layout,
    entry: EntryRecipe,
}

fn size_recipe() -> impl Strategy<Value = SizeRecipe> {
    prop_oneof![
        1 => Just(SizeRecipe::Zero),
        16 => (1u64..32).prop_map(SizeRecipe::Pages),
        2 => (1u64..0x10000).prop_map(SizeRecipe::Pages),
        2 => (any::<bool>(), 1u64..4, -2i64..=2).prop_map(|(of_system_ram, parts, delta)| {
            SizeRecipe::NearHalf { of_system_ram, parts, delta }
        }),
        1 => (1u64..0x20000).prop_map(SizeRecipe::Unaligned),
    ]
}

fn buf_recipe() -> impl Strategy<Value = BufRecipe> {
    prop_oneof![
        2 => Just(BufRecipe::Empty),
        12 => (1usize..0x3000).prop_map(BufRecipe::Upto),
        1 => (1usize..0x1001).prop_map(BufRecipe::Over),
    ]
}

fn seg_recipe() -> impl Strategy<Value = SegRecipe> {
    (
        prop::option::weighted(0.4, any::<usize>()),
        prop_oneof![12 => Just(0i64), 4 => 0i64..=4, 2 => -4i64..=4, 1 => -0x400i64..0x400],
        prop_oneof![24 => Just(0u64), 1 => Just(0x800u64), 1 => Just(1u64), 1 => Just(0xfffu64)],
        size_recipe(),
        buf_recipe(),
    )
        .prop_map(|(anchor, delta_pages, unaligned, size, buf)| SegRecipe {
            anchor,
            delta_pages,
            unaligned,
            size,
            buf,
        })
}

fn layout() -> impl Strategy<Value = Layout> {
    let scattered = prop_oneof![
        1 => Just(0usize),
        8 => 1usize..6,
        2 => 6usize..15,
        2 => 15usize..19,
    ]
    .prop_flat_map(|n| prop::collection::vec(seg_recipe(), n))
    .prop_map(Layout::Scattered);
    let packed = (
        prop::bool::weighted(0.8),
        any::<usize>(),
        prop::collection::vec(prop_oneof![3 => 1u64..8, 1 => 1u64..0x8000], 1..=16),
        prop::collection::vec(prop_oneof![4 => Just(0u64), 2 => 1u64..4], 17),
        prop_oneof![2 => 0u64..8, 1 => 8u64..64],
    )
        .prop_map(|(in_crash, range, sizes, gaps, slack)| Layout::Packed {
            in_crash,
            range,
            sizes,
            gaps,
            slack,
        });
    prop_oneof![3 => scattered, 2 => packed]
}

fn entry_recipe() -> impl Strategy<Value = EntryRecipe> {
    prop_oneof![
        12 => (0usize..18, prop_oneof![2 => Just(0u64), 2 => 0u64..0x1000, 1 => 0u64..0x40000]).prop_map(|(i, o)| EntryRecipe::InSegment(i, o)),
        1 => Just(EntryRecipe::CrashStart),
        1 => Just(EntryRecipe::CrashLast),
        1 => Just(EntryRecipe::CrashEnd),
        1 => Just(EntryRecipe::Zero),
        1 => any::<usize>().prop_map(EntryRecipe::Anchor),
    ]
}

fn recipe(machines: usize) -> impl Strategy<Value = Recipe> {
    (0..machines, 0u8..10, layout(), entry_recipe()).prop_map(|(machine, panic, layout, entry)| {
        Recipe {
            machine,
            panic,
            layout,
            entry,
        }
    })
}

fn page_count_near_half(m: &Machine, of_system_ram: bool, parts: u64, delta: i64) -> u64 {
    let total = if of_system_ram {
        m.map.ram.iter().map(|r| r.end - r.start).sum::<u64>() / PAGE_SIZE
    } else {
        m.kernel.totalram_pages
    };
    (total / 2 / parts).saturating_add_signed(delta).max(1)
}

fn buffer(buf: &BufRecipe, memsz: u64) -> Vec<u8> {
    let len = match *buf {
        BufRecipe::Empty => 0,
        BufRecipe::Upto(n) => (memsz as usize).min(n),
        BufRecipe::Over(n) if memsz <= 0x10000 => memsz as usize + n,
        BufRecipe::Over(n) => n,
    };
    vec![0x5a; len]
}

/// Builds the plan a recipe describes for its machine.
fn build(r: &Recipe, m: &Machine) -> Plan {
    let panic = match m.map.crash {
        Some(_) => r.panic < 5,
        None => r.panic == 0,
    };
    let mode = if panic { Mode::Panic } else { Mode::Normal };
    let usable = m.map.usable(Mode::Normal);
    let home = match (mode, m.map.crash) {
        (Mode::Panic, Some(c)) => c.start,
        _ => usable
            .get(r.machine.wrapping_mul(7) % usable.len().max(1))
            .map_or(0x1000000, |u| u.start),
    };
    let mut segments: Vec<Segment> = Vec::new();
    match &r.layout {
        Layout::Scattered(recipes) => {
            for s in recipes {
                let base = match s.anchor {
                    Some(i) => m.anchors[i % m.anchors.len()],
                    None => segments.last().map_or(home, |p| p.end()),
                };
                let mem = base
                    .wrapping_add_signed(s.delta_pages.wrapping_mul(PAGE_SIZE as i64))
                    .wrapping_add(s.unaligned);
                let memsz = match s.size {
                    SizeRecipe::Zero => 0,
                    SizeRecipe::Pages(n) => n * PAGE_SIZE,
                    SizeRecipe::NearHalf {
                        of_system_ram,
                        parts,
                        delta,
                    } => page_count_near_half(m, of_system_ram, parts, delta) * PAGE_SIZE,
                    SizeRecipe::Unaligned(n) => n * 0x100 + 0x80,
                };
                segments.push(Segment {
                    what: "blob".to_string(),
                    buf: buffer(&s.buf, memsz),
                    mem,
                    memsz,
                });
            }
        }
        Layout::Packed {
            in_crash,
            range,
            sizes,
            gaps,
            slack,
        } => {
            let target = match (in_crash, m.map.crash) {
                (true, Some(c)) => Some(c),
                _ if usable.is_empty() => None,
                _ => Some(usable[range % usable.len()]),
            };
            if let Some(t) = target {
                let mut at = t.start + gaps[16] * PAGE_SIZE;
                let n = sizes.len();
                for (i, &pages) in sizes.iter().enumerate() {
                    let mut memsz = pages * PAGE_SIZE;
                    if i == n - 1 {
                        // The last one fills the range to `slack` pages before its end.
                        memsz = (t.end - slack * PAGE_SIZE)
                            .saturating_sub(at)
                            .max(PAGE_SIZE);
                    }
                    segments.push(Segment {
                        what: "blob".to_string(),
                        buf: vec![0x5a; 0x100.min(memsz as usize)],
                        mem: at,
                        memsz,
                    });
                    at = at.saturating_add(memsz + gaps[i] * PAGE_SIZE);
                }
            }
        }
    }
    let crash = m.kernel.crashk_res;
    let entry = match r.entry {
        EntryRecipe::InSegment(i, off) if !segments.is_empty() => {
            segments[i % segments.len()].mem.wrapping_add(off)
        }
        EntryRecipe::InSegment(..) => 0x1000000,
        EntryRecipe::CrashStart => crash.start,
        EntryRecipe::CrashLast => crash.end,
        EntryRecipe::CrashEnd => crash.end.wrapping_add(1),
        EntryRecipe::Zero => 0,
        EntryRecipe::Anchor(i) => m.anchors[i % m.anchors.len()],
    };
    Plan {
        arch: m.arch,
        mode,
        entry,
        segments,
        cmdline: String::new(),
        notes: Vec::new(),
    }
}

#[test]
fn warmboot_and_the_kernel_agree_on_generated_plans() {
    let machines = machines();
    let mut runner = TestRunner::new(Config {
        cases: 10_000,
        failure_persistence: None,
        ..Config::default()
    });
    // Verdicts counted by mode, kernel verdict and warmboot's (false: refused).
    let outcomes = std::cell::RefCell::new([[[0usize; 2]; 2]; 2]);
    runner
        .run(&recipe(machines.len()), |r| {
            let m = &machines[r.machine];
            let plan = build(&r, m);
            if let Err(why) = judge(&plan, &m.map, &m.kernel) {
                return Err(TestCaseError::fail(format!("{}: {why}", m.name)));
            }
            let k = check_kexec_load(&m.kernel, &plan).is_ok();
            let w = check_plan(&plan, &m.map).is_ok();
            outcomes.borrow_mut()[usize::from(plan.mode == Mode::Panic)][usize::from(k)]
                [usize::from(w)] += 1;
            Ok(())
        })
        .unwrap();
    // The generator reaches every verdict the test allows, in both modes, often enough to
    // mean something: both refuse, only warmboot refuses (its own rules), both accept.
    let o = outcomes.into_inner();
    for mode in o {
        let [[both_refuse, _], [loader_only, both_accept]] = mode;
        assert!(both_refuse > 1000, "{o:?}");
        assert!(loader_only > 100, "{o:?}");
        assert!(both_accept > 200, "{o:?}");
    }
}

/// The plans warmboot's planner makes for a Debian-like kernel on every fixture machine:
/// what the kernel does with them is what a real load would meet.
#[test]
fn the_planners_fixture_plans_agree() {
    use common::{initrd_for, layout_for};
    use warmboot::planner::{plan, PlanRequest};
    for m in machines() {
        for mode in [Mode::Normal, Mode::Panic] {
            let req = PlanRequest {
                layout: layout_for(m.arch),
                initrd: Some(initrd_for(m.arch)),
                cmdline: String::new(),
                extra: Vec::new(),
                mode,
            };
            if let Ok(p) = plan(req, &m.map) {
                if let Err(why) = judge(&p, &m.map, &m.kernel) {
                    panic!("{} {mode}: {why}", m.name);
                }
            }
        }
    }
}
