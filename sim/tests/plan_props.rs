//! Property tests: random machines and kernel sizes give a plan the simulator accepts, or a
//! clear error; every plan is sorted, non-overlapping, page-aligned, inside usable memory,
//! with the entry inside a segment.

use proptest::prelude::*;
use warmboot::arch::Arch;
use warmboot::kexec::Kexec;
use warmboot::layout::{arm64_layout, x86_layout};
use warmboot::memmap::{MemoryMap, Mode, PAGE_SIZE};
use warmboot::planner::{plan, PlanRequest};
use warmboot::Error;
use warmboot_sim::Sim;

const MIB: u64 = 1 << 20;

/// A random /proc/iomem: RAM ranges with gaps (not necessarily page-aligned), some
/// reserved children, maybe a crash kernel reservation inside one range.
fn iomem() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((0u64..2048 * MIB, 1u64..2048 * MIB, any::<bool>()), 1..6),
        prop::option::of((0usize..6, 0u64..512 * MIB, 1u64..512 * MIB)),
    )
        .prop_map(|(ranges, crash)| {
            let mut text = String::new();
            let mut at = 0u64;
            for (i, (gap, len, reserved)) in ranges.iter().enumerate() {
                let start = at + gap;
                let last = start + len - 1;
                text.push_str(&format!("{start:08x}-{last:08x} : System RAM\n"));
                let mut children = Vec::new();
                if *reserved && *len > 4 * MIB {
                    children.push((start + len / 2, start + len / 2 + MIB - 1, "reserved"));
                }
                if let Some((idx, off, clen)) = crash {
                    if idx == i && off + clen <= *len {
                        children.push((start + off, start + off + clen - 1, "Crash kernel"));
                    }
                }
                children.sort();
                children.dedup_by(|a, b| a.0 <= b.1);
                for (s, l, name) in children {
                    text.push_str(&format!("  {s:08x}-{l:08x} : {name}\n"));
                }
                at = last + 1;
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn plans_are_well_formed_and_accepted(
        text in iomem(),
        x86 in any::<bool>(),
        panic in any::<bool>(),
        kernel_len in 0x1000usize..0x10000,
        kernel_memsz in 1u64..128 * MIB,
        align_shift in 12u32..22,
        initrd_len in prop::option::of(1usize..0x10000),
    ) {
        let map = MemoryMap::parse(&text, Vec::new()).unwrap();
        let mode = if panic { Mode::Panic } else { Mode::Normal };
        let (arch, layout) = if x86 {
            (Arch::X86_64, x86_layout(vec![0x11; kernel_len], kernel_memsz, 1 << align_shift, 16 * MIB))
        } else {
            (Arch::Arm64, arm64_layout(vec![0x22; kernel_len], kernel_memsz.max(kernel_len as u64), 0))
        };
        let req = PlanRequest {
            layout,
            initrd: initrd_len.map(|n| vec![0x33; n]),
            cmdline: String::new(),
            extra: Vec::new(),
            mode,
        };
        match plan(req, &map) {
            Ok(p) => {
                let usable = map.usable(mode);
                prop_assert!(!p.segments.is_empty() && p.segments.len() <= 16);
                for w in p.segments.windows(2) {
                    prop_assert!(w[0].end() <= w[1].mem, "unsorted or overlapping: {}", p.to_table());
                }
                for s in &p.segments {
                    prop_assert_eq!(s.mem % PAGE_SIZE, 0);
                    prop_assert_eq!(s.memsz % PAGE_SIZE, 0);
                    prop_assert!(s.bufsz() <= s.memsz);
                    prop_assert!(usable.iter().any(|u| u.start <= s.mem && s.end() <= u.end), "{}", p.to_table());
                }
                prop_assert!(p.segments.iter().any(|s| s.mem <= p.entry && p.entry < s.end()));
                let mut sim = Sim::new(arch, map.clone());
                prop_assert!(sim.kexec_load(&p).is_ok(), "sim refused {}", p.to_table());
                prop_assert!(sim.image(mode).is_some());
            }
            Err(e) => {
                let ok = matches!(e, Error::NoRoom { .. } | Error::NoCrashKernel | Error::Rejected { .. });
                prop_assert!(ok, "unexpected error kind: {:?}", e);
                let msg = e.to_string();
                prop_assert!(!msg.is_empty() && !msg.contains('\n'));
                if let Error::Rejected { rule, .. } = e {
                    // The planner keeps to the layout rules itself; only the size limit
                    // can remain for the checks to find.
                    prop_assert_eq!(rule, warmboot::plan_check::Rule::HalfOfRam);
                }
                if panic && map.crash.is_none() {
                    prop_assert!(matches!(e, Error::NoCrashKernel));
                }
            }
        }
    }
}
