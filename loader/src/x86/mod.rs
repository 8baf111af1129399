//! x86_64 pieces of warmboot's own kexec_load plans: the zero page (struct boot_params),
//! its e820 table, the setup_data list, the EFI hand-over
//! (Documentation/arch/x86/boot.rst, zero-page.rst), the entry trampoline, and the plan
//! that puts them together.

pub mod bootparams;
pub mod bzimage_planner;
pub mod e820;
pub mod early_setup;
pub mod efi;
pub mod kaslr;
pub mod kexec_plan;
pub mod plan_contents;
pub mod relocs;
pub mod setup_data;
pub mod trampoline;
pub mod vmlinux_payload;
