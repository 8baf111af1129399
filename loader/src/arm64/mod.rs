//! arm64 pieces of warmboot's own kexec_load plans: the entry trampoline (x0 = DTB) and the
//! plan that puts it together with the device tree of [`crate::dtb`]
//! (Documentation/arch/arm64/booting.rst).

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

pub mod image_planner;
pub mod kexec_plan;
pub mod trampoline;
