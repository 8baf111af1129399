//! Command-line editing: the reuse of the running kernel's command line for a load
//! (commands::load::reuse_cmdline), the capture kernel's (capture::normal_cmdline,
//! capture_cmdline) and the `nokaslr` check of the arm64 DTB patch. Never panics; the
//! edits drop what they promise to drop and are idempotent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warmboot::capture::{capture_cmdline, normal_cmdline};
use warmboot::commands::load::reuse_cmdline;
use warmboot::dtb::kaslr_disabled;
use warmboot::memmap::Mode;

fn has_word(line: &str, prefix: &str) -> bool {
    line.split_whitespace().any(|w| w.starts_with(prefix))
}

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    for mode in [Mode::Normal, Mode::Panic] {
        let reused = reuse_cmdline(&line, mode);
        assert!(!has_word(&reused, "BOOT_IMAGE=") && !has_word(&reused, "initrd="));
        if mode == Mode::Panic {
            assert!(!has_word(&reused, "crashkernel="));
        }
        assert_eq!(reuse_cmdline(&reused, mode), reused);
    }
    let normal = normal_cmdline(&line);
    assert_eq!(normal_cmdline(&normal), normal);
    let capture = capture_cmdline(&line);
    assert_eq!(capture_cmdline(&capture), capture);
    let _ = kaslr_disabled(&line);
});
