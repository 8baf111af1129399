//! arm64-specific pieces of a kexec_load plan.

pub mod trampoline;
