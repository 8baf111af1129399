//! Builders that synthesize small, valid kernel images of every supported format for tests
//! and fuzz seeds. Each builder documents which header fields it fills and why.

pub mod arm64;
pub mod elf;
pub mod initrd;
pub mod pe;
pub mod riscv64;
pub mod uki;
pub mod x86;
