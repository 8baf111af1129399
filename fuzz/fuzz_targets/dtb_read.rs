//! Device tree reading (dtb::render, loader/src/dtb.rs): never panics on any
//! input, and what it reads once it reads again the same way.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warmboot::dtb;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = dtb::render(data) {
        assert_eq!(dtb::render(data).ok(), Some(text));
    }
});
