//! ELF vmlinux (loader/src/image/elf.rs): never panics, and every PT_LOAD segment a
//! successful parse reports has its file bytes inside the input and filesz <= memsz.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warmboot::image::elf::ElfKernel;

fuzz_target!(|data: &[u8]| {
    let Ok(elf) = ElfKernel::parse(data) else {
        return;
    };
    assert_eq!(elf.file_size, data.len() as u64);
    assert!(!elf.segments.is_empty());
    for seg in &elf.segments {
        let end = seg
            .offset
            .checked_add(seg.filesz)
            .expect("segment end wraps");
        assert!(end <= data.len() as u64, "segment past the file");
        assert!(seg.filesz <= seg.memsz);
        let _ = seg.rwx();
    }
    let _ = elf.describe();
});
