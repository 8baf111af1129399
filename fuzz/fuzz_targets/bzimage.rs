//! x86 bzImage setup header (loader/src/image/bzimage.rs): never panics, and a parsed
//! image's parts lie inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warmboot::image::bzimage::BzImage;

fuzz_target!(|data: &[u8]| {
    let Ok(bz) = BzImage::parse(data) else {
        return;
    };
    let len = data.len() as u64;
    assert_eq!(bz.file_size, len);
    assert!(bz.header_end <= len && bz.setup_size <= len);
    assert_eq!(bz.kernel_offset + bz.kernel_size, len);
    let payload_end = u64::from(bz.payload_offset) + u64::from(bz.payload_length);
    assert!(payload_end <= bz.kernel_size, "payload past the file");
    let _ = (bz.efi_stub(), bz.signed(), bz.entry64_offset());
    let _ = (bz.xloadflag_names(), bz.loadflag_names(), bz.describe());
});
