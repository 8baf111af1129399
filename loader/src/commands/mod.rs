//! The `load` and `status` subcommands: their logic, separate from argument parsing.

pub mod load;
pub mod status;
