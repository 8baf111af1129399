//! arm64-specific pieces of a kexec_load: the device tree handed to the next kernel.

pub mod dtb;
