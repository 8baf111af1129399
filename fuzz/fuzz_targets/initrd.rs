//! Initrd inspection (loader/src/initrd.rs): never panics, never fails on non-empty input,
//! and the early cpio part fits the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warmboot::initrd::InitrdInfo;

fuzz_target!(|data: &[u8]| {
    match InitrdInfo::from_bytes(data) {
        Ok(info) => {
            assert_eq!(info.size, data.len() as u64);
            assert!(info.early_cpio_size <= info.size);
            let _ = (info.format(), info.describe());
        }
        Err(_) => assert!(data.is_empty(), "only empty data is refused"),
    }
});
