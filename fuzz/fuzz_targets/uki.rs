//! Unified kernel images (loader/src/image/uki.rs): never panics, and the `.linux` and
//! `.initrd` ranges of a parsed UKI lie inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warmboot::image::uki::{self, Uki};
use warmboot::image::KernelImage;

fn inside((offset, size): (u64, u64), len: usize) -> bool {
    offset
        .checked_add(size)
        .is_some_and(|end| end <= len as u64)
}

fuzz_target!(|data: &[u8]| {
    let _ = uki::looks_like(data);
    let Ok(u) = Uki::parse(data, KernelImage::parse) else {
        return;
    };
    assert!(inside(u.linux_range, data.len()), ".linux past the file");
    if let Some(r) = u.initrd_range {
        assert!(inside(r, data.len()), ".initrd past the file");
    }
    let linux = u
        .section_bytes(data, ".linux")
        .expect(".linux readable after a parse");
    assert!(linux.is_some_and(|b| !b.is_empty()));
    for s in &u.sections {
        let _ = u.section_bytes(data, &s.name);
    }
    let _ = u.describe();
});
