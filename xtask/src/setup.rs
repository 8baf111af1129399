//! Everything `cargo xtask ci` needs on a fresh Debian 12 machine that has only rustup's
//! Rust: Debian packages, rustup components and targets, cargo-insta and cargo-fuzz,
//! installed on demand, each said on one line, and one clear error line when it cannot.
//!
//! The README promises that its two commands work on such a machine, and `.ci/run`
//! installs nothing itself, so CI proves it. (`cargo xtask bench` needs less: QEMU,
//! the firmware and the guest targets, from [`crate::host::ensure_guest_tools`].)

use crate::cmd::Cmd;
use crate::error::{Error, Result};
use crate::host::{ensure_packages, GUEST_PACKAGES};

/// Debian packages CI needs besides the QEMU harness's ([`GUEST_PACKAGES`]):
/// ca-certificates for rustup and crates.io over https, binutils and
/// binutils-aarch64-linux-gnu (`as`/`objdump`) for the entry-code cross-checks in tests,
/// g++ for libFuzzer (built by libfuzzer-sys in the fuzz step); for the Secure Boot
/// guests' ESP (esp.rs): Debian's signed boot chain (shim-signed, grub-efi-amd64-signed)
/// and the tools that make a FAT image without root (dosfstools, mtools); systemd-boot-efi
/// for the EFI stub the matrix's unified kernel image is built on (`matrix::UKI_STUB`).
pub const CI_PACKAGES: &[&str] = &[
    "ca-certificates",
    "binutils",
    "binutils-aarch64-linux-gnu",
    "g++",
    "shim-signed",
    "grub-efi-amd64-signed",
    "dosfstools",
    "mtools",
    "systemd-boot-efi",
];

/// rustup components of the format and lint steps.
pub const COMPONENTS: &[&str] = &["rustfmt", "clippy"];

/// cargo-insta's version: the test step checks snapshots and rejects unreferenced ones.
pub const CARGO_INSTA_VERSION: &str = "1.49.0";

/// Installs what CI needs that is missing.
pub fn ensure_ci_tools() -> Result<()> {
    let mut packages: Vec<&str> = CI_PACKAGES.to_vec();
    packages.extend_from_slice(GUEST_PACKAGES);
    ensure_packages(&packages)?;
    ensure_components(COMPONENTS)?;
    // The guest targets and the purgatory's bare-metal targets (and QEMU, again a no-op).
    crate::host::ensure_guest_tools()?;
    ensure_cargo_tool("cargo-insta", "insta", CARGO_INSTA_VERSION)?;
    ensure_cargo_tool("cargo-fuzz", "fuzz", crate::fuzz::CARGO_FUZZ_VERSION)?;
    Ok(())
}

/// `rustup component add` for the missing ones.
fn ensure_components(components: &[&str]) -> Result<()> {
    let installed = Cmd::new("rustup")
        .args(["component", "list", "--installed"])
        .read()
        .map_err(|e| setup_error("rustup component list", e))?;
    let missing = missing_components(&installed, components);
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing rustup components: {}", missing.join(" "));
    Cmd::new("rustup")
        .args(["component", "add"])
        .args(&missing)
        .run()
        .map_err(|e| setup_error("rustup component add", e))
}

/// The entries of `wanted` that `rustup component list --installed` does not list (it
/// names them with the host triple: `clippy-x86_64-unknown-linux-gnu`).
fn missing_components<'a>(listing: &str, wanted: &[&'a str]) -> Vec<&'a str> {
    wanted
        .iter()
        .copied()
        .filter(|c| {
            !listing
                .lines()
                .map(str::trim)
                .any(|l| l == *c || l.starts_with(&format!("{c}-")))
        })
        .collect()
}

/// `cargo install --locked CRATE --version V` unless `cargo SUBCOMMAND --version` works.
fn ensure_cargo_tool(krate: &str, subcommand: &str, version: &str) -> Result<()> {
    if Cmd::new("cargo")
        .args([subcommand, "--version"])
        .succeeds()?
    {
        return Ok(());
    }
    eprintln!("xtask: installing {krate} {version} (cargo install; a few minutes on 2 cores)");
    Cmd::new("cargo")
        .args(["install", "--locked", krate, "--version", version])
        .run()
        .map_err(|e| setup_error(&format!("cargo install {krate} {version}"), e))
}

fn setup_error(what: &str, e: Error) -> Error {
    Error::Setup {
        what: what.to_string(),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_missing_components() {
        let listing = "cargo-x86_64-unknown-linux-gnu\nclippy-x86_64-unknown-linux-gnu\nrust-std-x86_64-unknown-linux-gnu\n";
        assert_eq!(missing_components(listing, COMPONENTS), ["rustfmt"]);
        assert!(missing_components(
            "rustfmt-x86_64-unknown-linux-gnu\nclippy-x86_64-unknown-linux-gnu",
            COMPONENTS
        )
        .is_empty());
    }

    #[test]
    fn ci_packages_cover_what_the_steps_run() {
        // fuzz (g++), the entry-code cross-checks (as, objdump for both arches), QEMU.
        for p in [
            "g++",
            "binutils",
            "binutils-aarch64-linux-gnu",
            "shim-signed",
            "grub-efi-amd64-signed",
            "dosfstools",
            "mtools",
        ] {
            assert!(CI_PACKAGES.contains(&p), "{p}");
        }
        assert!(GUEST_PACKAGES.contains(&"qemu-system-x86"));
    }
}
