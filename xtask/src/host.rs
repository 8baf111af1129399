//! What xtask needs from the host machine, installed on demand when it can.

use crate::cmd::Cmd;
use crate::error::{Error, Result};
use std::path::Path;

/// Makes sure the Debian packages in `packages` are installed. As root on Debian the missing
/// ones are installed (one at a time: apt's resolver once failed on a long list here);
/// otherwise the error names them.
pub fn ensure_packages(packages: &[&str]) -> Result<()> {
    let mut missing = Vec::new();
    for p in packages {
        let status = Cmd::new("dpkg-query")
            .args(["-W", "-f=${db:Status-Status}", p])
            .try_read()?;
        if status.as_deref() != Some("installed") {
            missing.push(*p);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    if !(is_root()? && Path::new("/etc/debian_version").exists()) {
        return Err(Error::HostPackagesMissing {
            missing: missing.join(" "),
        });
    }
    eprintln!(
        "xtask: installing missing host packages: {}",
        missing.join(" ")
    );
    Cmd::new("apt-get").args(["-q", "update"]).run()?;
    for p in missing {
        Cmd::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["-q", "-y", "install", "--no-install-recommends", p])
            .run()?;
    }
    Ok(())
}

/// Debian packages the QEMU harness runs: both system emulators, their UEFI firmware,
/// and cpio(1) (used only to cross-check our own cpio writer in tests).
pub const GUEST_PACKAGES: &[&str] = &[
    "qemu-system-x86",
    "qemu-system-arm",
    "ovmf",
    "qemu-efi-aarch64",
    "cpio",
];

/// The Rust targets of the static `warmboot` inside the guests, and of the `--verify`
/// purgatory embedded in it.
pub const GUEST_TARGETS: &[&str] = &[
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-musl",
    "x86_64-unknown-none",
    "aarch64-unknown-none-softfloat",
];

/// Makes sure QEMU, the firmware and the musl targets are there (installing what it may).
pub fn ensure_guest_tools() -> Result<()> {
    ensure_packages(GUEST_PACKAGES)?;
    let installed = Cmd::new("rustup")
        .args(["target", "list", "--installed"])
        .read()?;
    let missing: Vec<&str> = GUEST_TARGETS
        .iter()
        .copied()
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    if !missing.is_empty() {
        Cmd::new("rustup")
            .args(["target", "add"])
            .args(&missing)
            .run()?;
    }
    Ok(())
}

/// Whether this process runs with effective uid 0, read from /proc/self/status.
pub fn is_root() -> Result<bool> {
    let path = Path::new("/proc/self/status");
    let status = std::fs::read_to_string(path).map_err(Error::io(path))?;
    Ok(effective_uid(&status) == Some(0))
}

/// The effective uid from /proc/<pid>/status (`Uid: real effective saved fs`).
fn effective_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|id| id.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_uid_is_the_second_field() {
        assert_eq!(
            effective_uid("Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t0\n"),
            Some(0)
        );
        assert_eq!(effective_uid("Uid:\t0\t1000\t1000\t1000\n"), Some(1000));
        assert_eq!(effective_uid("Name:\tx\n"), None);
    }

    #[test]
    fn installed_packages_need_nothing() {
        // dpkg and apt are on every Debian machine this runs on.
        ensure_packages(&["dpkg", "apt"]).unwrap();
    }
}
