//! The `warmboot` command line: argument parsing and dispatch.
//!
//! Exit status: 0 success, 1 a failure warmboot could name (bad file, refused load),
//! 2 a usage error (clap's convention). Errors are one line: `warmboot: <file>: <reason>`.

use crate::error::Error;
use crate::inspect;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// warmboot: load the next kernel safely, then reboot into it without the firmware.
#[derive(Debug, Parser)]
#[command(name = "warmboot", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what a kernel image is: format, architecture, version, sizes, placement
    /// constraints, entry, compression and signature.
    Inspect(InspectArgs),
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The kernel image (bzImage, vmlinux ELF, arm64 Image[.gz], EFI zboot or UKI).
    pub file: PathBuf,
    /// Also describe this initrd (size and compression).
    #[arg(long, value_name = "FILE")]
    pub initrd: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command line in `std::env::args` and returns the exit status.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match run(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("warmboot: {e}");
            1
        }
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Inspect(args) => {
            let out = inspect::run(&args.file, args.initrd.as_deref(), args.json)?;
            print!("{out}");
            Ok(())
        }
    }
}
