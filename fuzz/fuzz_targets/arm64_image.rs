//! arm64 kernels in every container (loader/src/image/arm64.rs, zboot.rs): the raw Image,
//! Image.gz and EFI zboot entry points all run on every input; none panics, and a parsed
//! kernel's sizes match what it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warmboot::image::arm64::{Arm64Kernel, Container};

fn check(k: &Arm64Kernel, data: &[u8]) {
    assert_eq!(k.file_size, data.len() as u64);
    assert_eq!(k.image_file_size, k.image.len() as u64);
    match &k.container {
        Container::Raw => assert_eq!(k.image, data),
        Container::Gzip { compressed_size } => assert_eq!(*compressed_size, data.len() as u64),
        Container::Zboot {
            payload_offset,
            payload_size,
            ..
        } => {
            let end = u64::from(*payload_offset) + u64::from(*payload_size);
            assert!(end <= data.len() as u64, "zboot payload past the file");
        }
    }
    let _ = (k.header.is_legacy(), k.header.flags_meaning(), k.describe());
}

fuzz_target!(|data: &[u8]| {
    if let Ok(k) = Arm64Kernel::parse_image(data) {
        check(&k, data);
    }
    if let Ok(k) = Arm64Kernel::parse_gzip(data) {
        check(&k, data);
    }
    if let Ok(k) = Arm64Kernel::parse_zboot(data) {
        check(&k, data);
    }
});
