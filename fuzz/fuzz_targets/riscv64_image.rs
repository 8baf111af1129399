//! riscv64 Images (loader/src/image/riscv64.rs): the parser never panics on any input; a
//! parsed kernel keeps the bytes it was given, needs a size and is little-endian.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warmboot::image::riscv64::Riscv64Kernel;

fuzz_target!(|data: &[u8]| {
    if let Ok(k) = Riscv64Kernel::parse(data) {
        assert_eq!(k.file_size, data.len() as u64);
        assert_eq!(k.image, data);
        assert_ne!(k.header.image_size, 0);
        assert_eq!(k.header.flags & 1, 0, "a big-endian kernel parsed");
        let _ = (
            k.header.version_string(),
            k.header.flags_meaning(),
            k.describe(),
        );
    }
});
