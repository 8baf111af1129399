//! The subcommands' logic, separate from argument parsing.

pub mod check_vmcore;
pub mod exec;
pub mod install;
pub mod load;
pub mod load_check;
pub mod load_options;
pub mod load_refusal;
pub mod load_submit;
pub mod load_uki;
pub mod outcome;
pub mod reboot;
pub mod status;
pub mod unload;
