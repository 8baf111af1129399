//! Format detection and parsing of any kernel (KernelImage::parse, loader/src/image/mod.rs):
//! never panics; a parsed image answers every question `warmboot inspect` asks of it and
//! serialises to JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warmboot::image::KernelImage;

fuzz_target!(|data: &[u8]| {
    match KernelImage::parse(data) {
        Ok(k) => {
            let _ = (k.arch(), k.version(), k.format_name(), k.describe());
            serde_json::to_string(&k).expect("a parsed image serialises");
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(
                !msg.is_empty() && !msg.contains('\n'),
                "error message: {msg:?}"
            );
        }
    }
});
