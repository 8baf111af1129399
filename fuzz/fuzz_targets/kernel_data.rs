//! What warmboot reads from the running kernel besides /proc/iomem and the firmware memmap:
//! the x86 zero page (/sys/kernel/boot_params/data and a built one read back), setup_data
//! chains, packed e820 tables, the vmcoreinfo ELF note, a capture kernel's /proc/vmcore
//! header (checked against a real first kernel's iomem), and the small sysfs text files
//! (flags, sizes, lockdown, vmcoreinfo address, EFI systab). Every parser runs on every
//! input; none panics, a decoded e820 table encodes back to the same bytes, and a vmcore
//! coverage report adds up.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warmboot::crash::elfcore::parse_vmcoreinfo_note;
use warmboot::crash::vmcore_check;
use warmboot::host;
use warmboot::x86::{bootparams, e820, efi, setup_data};

/// The first kernel of the arm64 vmcore seed (loader/tests/fixtures/vmcore/).
const FIRST_IOMEM: &str = include_str!(
    "../../loader/tests/fixtures/vmcore/arm64-direct-m1024-kexec_load-warmboot/first-iomem"
);

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
    let _ = vmcore_check::header_len(data);
    if let Ok(c) = vmcore_check::check(data, FIRST_IOMEM) {
        assert_eq!(
            c.covered_bytes() + c.missing_bytes() + c.excused_bytes(),
            c.expected_bytes()
        );
        let _ = (c.verdict(), c.to_string());
    }

    let text = String::from_utf8_lossy(data);
    let _ = host::parse_bool(&text);
    let _ = host::parse_decimal(&text);
    let _ = host::parse_lockdown(&text);
    let _ = host::parse_vmcoreinfo(&text);
    let _ = host::parse_systab(&text);
});
