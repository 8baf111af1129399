//! /sys/firmware/memmap (memmap::parse_firmware_entry) and the e820 table built from it
//! (x86::e820::normal_e820). The input holds the entries' file contents as NUL-separated
//! fields, three per entry: start, end, type (what `cargo xtask fuzz` seeds from the
//! fixture machines). Never panics; the table round-trips through its binary encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warmboot::memmap::parse_firmware_entry;
use warmboot::x86::e820;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let fields: Vec<&str> = text.split('\0').collect();
    let mut entries = Vec::new();
    for chunk in fields.chunks_exact(3) {
        if let Ok(e) = parse_firmware_entry(chunk[0], chunk[1], chunk[2]) {
            assert!(e.range.start <= e.range.end);
            entries.push(e);
        }
    }
    let Ok(table) = e820::normal_e820(&entries) else {
        return;
    };
    let bytes = e820::encode_entries(&table);
    let back = e820::decode_entries(&bytes).expect("an encoded table decodes");
    assert_eq!(back, table);
    let _ = e820::render(&table);
});
