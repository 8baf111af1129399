//! The architectures warmboot boots, and how other code names them.

use serde::Serialize;
use std::fmt;

/// A target architecture. warmboot boots 64-bit x86, 64-bit Arm and 64-bit RISC-V kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    #[value(name = "x86_64")]
    #[serde(rename = "x86_64")]
    X86_64,
    #[value(name = "arm64", alias = "aarch64")]
    Arm64,
    #[value(name = "riscv64")]
    #[serde(rename = "riscv64")]
    Riscv64,
}

impl Arch {
    /// The architecture this binary was built for, i.e. the running machine's.
    pub fn host() -> Option<Arch> {
        if cfg!(target_arch = "x86_64") {
            Some(Arch::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Arch::Arm64)
        } else if cfg!(target_arch = "riscv64") {
            Some(Arch::Riscv64)
        } else {
            None
        }
    }

    /// ELF `e_machine` of the architecture (include/uapi/linux/elf-em.h), which is also
    /// what `kexec_load` expects in the arch field of its flags (shifted left by 16).
    pub fn elf_machine(self) -> u16 {
        match self {
            Arch::X86_64 => 62,
            Arch::Arm64 => 183,
            Arch::Riscv64 => 243,
        }
    }

    /// The name Debian and the kernel's `uname -m` use for the architecture.
    pub fn uname(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "aarch64",
            Arch::Riscv64 => "riscv64",
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
            Arch::Riscv64 => "riscv64",
        })
    }
}
