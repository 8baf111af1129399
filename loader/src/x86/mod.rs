//! x86_64 boot protocol pieces for warmboot's own kexec_load plans: the zero page
//! (struct boot_params), its e820 table, the setup_data list and the EFI hand-over
//! (Documentation/arch/x86/boot.rst, zero-page.rst).

pub mod bootparams;
pub mod e820;
pub mod efi;
pub mod setup_data;
