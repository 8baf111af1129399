//! x86_64 pieces of warmboot's own kexec_load plans: the zero page (struct boot_params),
//! its e820 table, the setup_data list, the EFI hand-over
//! (Documentation/arch/x86/boot.rst, zero-page.rst), the entry trampoline, and the plan
//! that puts them together.

// Parsers and planners: every offset, length and address computed from untrusted input is
// checked (`get`, `checked_*`, `try_from`), an error naming what was truncated, never a
// panic or a silent wrap (issue 16). Tests may index and compute freely.
#![deny(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]
#![cfg_attr(
    test,
    allow(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::cast_possible_truncation
    )
)]

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
