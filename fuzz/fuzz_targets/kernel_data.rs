//! What warmboot reads from the running kernel besides /proc/iomem and the firmware memmap:
//! the x86 zero page (/sys/kernel/boot_params/data and a built one read back), setup_data
//! chains, packed e820 tables, the vmcoreinfo ELF note, and the small sysfs text files
//! (flags, sizes, lockdown, vmcoreinfo address, EFI systab). Every parser runs on every
//! input; none panics, and a decoded e820 table encodes back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warmboot::crash::elfcore::parse_vmcoreinfo_note;
use warmboot::host;
use warmboot::x86::{bootparams, e820, efi, setup_data};

fuzz_target!(|data: &[u8]| {
    let _ = efi::parse_running_boot_params(data);
    if let Ok(view) = bootparams::parse_zero_page(data) {
        let _ = view.render();
    }
    let _ = bootparams::render_zero_page(data);
    // A chain loaded at 0x1000 whose first node is the start of the data.
    let _ = setup_data::parse_chain(data, 0x1000, 0x1000);
    if let Ok(table) = e820::decode_entries(data) {
        assert_eq!(e820::encode_entries(&table), data);
    }
    let _ = parse_vmcoreinfo_note(data);

    let text = String::from_utf8_lossy(data);
    let _ = host::parse_bool(&text);
    let _ = host::parse_decimal(&text);
    let _ = host::parse_lockdown(&text);
    let _ = host::parse_vmcoreinfo(&text);
    let _ = host::parse_systab(&text);
});
