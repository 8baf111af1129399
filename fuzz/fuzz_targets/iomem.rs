//! /proc/iomem (MemoryMap::parse, loader/src/memmap.rs) and what the planner derives from
//! it: never panics; RAM comes out sorted and merged, the crash reservations are ordered,
//! and the usable ranges are page-aligned and inside RAM.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warmboot::crash::elfcore;
use warmboot::memmap::{MemoryMap, Mode, Range};
use warmboot::x86::e820;
use warmboot::Arch;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(map) = MemoryMap::parse(&text, Vec::new()) else {
        return;
    };
    assert!(!map.ram.is_empty());
    for pair in map.ram.windows(2) {
        assert!(pair[0].end < pair[1].start, "RAM not merged: {pair:?}");
    }
    if let (Some(high), Some(low)) = (map.crash, map.crash_low) {
        assert!(low <= high);
    }
    let _ = map.total_ram();
    for mode in [Mode::Normal, Mode::Panic] {
        for r in map.usable(mode) {
            assert!(
                !r.is_empty() && r.start.is_multiple_of(4096) && r.end.is_multiple_of(4096),
                "{r:?}"
            );
            if mode == Mode::Normal {
                assert!(
                    map.ram.iter().any(|ram| ram.contains(&r)),
                    "{r} outside RAM"
                );
            }
        }
    }
    for arch in [Arch::X86_64, Arch::Arm64] {
        let _ = elfcore::dump_ranges(&map, arch);
    }
    if let Some(crash) = map.crash {
        let hdr = Range::new(crash.start, crash.start.saturating_add(4096).min(crash.end));
        if let Ok(table) = e820::crash_e820(&map, hdr) {
            let _ = e820::render(&table);
        }
    }
});
