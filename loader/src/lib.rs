//! warmboot: a kexec loader that plans, checks and then loads the next kernel.
//!
//! The library is split so that everything which decides *what* to load is pure (bytes in,
//! typed values out) and testable against fixtures, while the few places that touch the
//! running machine are small and named for it. See ARCHITECTURE.md for the code map.

pub mod arch;
pub mod arch_planners;
pub mod arch_planning;
pub mod arm64;
pub mod boot_files;
pub mod capture;
pub mod cli;
pub mod commands;
pub mod compression;
pub mod console;
pub mod crash;
pub mod default_kernel;
pub mod dt_chosen;
pub mod dt_facts;
pub mod dtb;
pub mod error;
pub mod fields;
pub mod file_trust;
pub mod generic_planner;
pub mod grub_cfg;
pub mod host;
pub mod human_size;
pub mod image;
pub mod initrd;
pub mod inspect;
pub mod kexec;
pub mod kexec_compat;
pub mod layout;
pub mod load_record;
pub mod lock;
pub mod memmap;
pub mod plan;
pub mod plan_check;
pub mod planner;
pub mod purgatory;
pub mod randomness;
pub mod riscv64;
pub mod security_state;
pub mod shutdown;
pub mod x86;

#[cfg(feature = "synth")]
pub mod synth;

pub use arch::Arch;
pub use error::{Error, Result};
