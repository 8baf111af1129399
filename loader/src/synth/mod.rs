//! Builders that synthesize small, valid kernel images of every supported format for tests
//! and fuzz seeds. Each builder documents which header fields it fills and why.

pub mod elf;
pub mod pe;
pub mod x86;
