//! kexec-tools argument parsing (kexec_compat::parse, `warmboot` run as `kexec`): the input
//! is the argument list, NUL-separated. Never panics; usage errors are one line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warmboot::kexec_compat;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let args: Vec<String> = if text.is_empty() {
        Vec::new()
    } else {
        text.split('\0').map(str::to_owned).collect()
    };
    if let Err(e) = kexec_compat::parse(&args) {
        assert!(
            !e.0.chars().any(char::is_control),
            "usage error with a control character: {:?}",
            e.0
        );
    }
});
