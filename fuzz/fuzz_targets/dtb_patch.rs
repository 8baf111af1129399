//! Device tree patching (dtb::patch): warmboot's `/chosen` rewrite for a normal and
//! a panic load, with fixed patches, on any input tree. Never panics; a patched tree is a
//! valid tree no larger than the kernel accepts, and patching it again gives the same
//! tree (nothing stale accumulates).
#![no_main]

use libfuzzer_sys::fuzz_target;
use warmboot::dtb::{self, CrashInfo};

fn fixed_rng(buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = i as u8 ^ 0x5a;
    }
}

fuzz_target!(|data: &[u8]| {
    let normal = dtb::chosen_for(
        "console=ttyAMA0 root=/dev/vda ro",
        Some((0x4800_0000, 0x4880_0000)),
        None,
        &mut fixed_rng,
    );
    let crash = CrashInfo {
        elfcorehdr: (0x7f00_0000, 0x1_0000),
        usable_memory: (0x7000_0000, 0x1000_0000),
    };
    let panic = dtb::chosen_for(
        "console=ttyAMA0 nokaslr maxcpus=1 reset_devices",
        Some((0x7800_0000, 0x7810_0000)),
        Some(crash),
        &mut fixed_rng,
    );
    for p in [normal, panic] {
        let Ok(out) = dtb::patch(data, &p) else {
            continue;
        };
        assert!(out.len() <= dtb::MAX_FDT_SIZE);
        dtb::render(&out).expect("a patched tree reads back");
        let again = dtb::patch(&out, &p).expect("a patched tree patches again");
        assert_eq!(again, out, "patching twice differs from patching once");
    }
});
