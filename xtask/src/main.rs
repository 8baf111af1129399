//! `cargo xtask`: developer and CI tasks for warmboot.

fn main() {
    eprintln!("xtask: not written yet");
    std::process::exit(2);
}
