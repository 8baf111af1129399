//! The `warmboot` command.

fn main() {
    std::process::exit(warmboot::cli::main());
}
