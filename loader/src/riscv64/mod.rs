//! riscv64 pieces of warmboot's own kexec_load plans: the plan that puts the Image, the
//! initrd and the device tree of [`crate::dtb`] (and for a crash kernel the ELF core
//! header) together. No entry code: the kernel's own kexec code enters the Image as it
//! expects (Documentation/arch/riscv/boot.rst), see [`kexec_plan`].

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

pub mod fdt_segment;
pub mod image_planner;
pub mod kexec_plan;
