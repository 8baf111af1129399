//! The subcommands' logic, separate from argument parsing.

pub mod exec;
pub mod load;
pub mod status;
pub mod unload;
