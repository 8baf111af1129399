//! `cargo xtask fixtures`: recaptures the fixture machine trees the planner tests use
//! (loader/tests/fixtures/machines) from the QEMU guests, into target/xtask/fixtures
//! unless `--out` names another place.
//!
//! Each machine boots with `wb.scenario=capture`; its init prints every file warmboot
//! reads (/proc/iomem, /sys/firmware/memmap, kexec sysfs files, the FDT, EFI tables,
//! lockdown, crash_notes, ...) as base64 between `@@WB file` and `@@WB end-file` markers,
//! and this job writes them back as a root tree.

use crate::boot::{self, AccelChoice};
use crate::error::{Error, Result};
use crate::guest::{Flow, Guest};
use crate::qemu::{Firmware, GuestArch, GuestConfig};
use crate::serial::{parse_marker, Stamped};
use base64::Engine as _;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this machine (e.g. x86_64-bios-m1024); default: all of them.
    #[arg(long)]
    pub machine: Option<String>,
    /// Where to write the trees (default: target/xtask/fixtures). Pass
    /// loader/tests/fixtures/machines to replace the committed trees, then review the
    /// snapshot changes and refresh reference/ (kexec-tools' plans on the old trees).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// A fixture machine: how its guest boots.
pub struct Machine {
    pub name: &'static str,
    pub arch: GuestArch,
    pub firmware: Firmware,
    pub memory_mib: u32,
    pub crashkernel: Option<&'static str>,
}

/// The machines the planner tests run against (loader/tests/fixtures/machines/README.md).
pub const MACHINES: &[Machine] = &[
    m(
        "x86_64-bios-m1024",
        GuestArch::X86_64,
        Firmware::Bios,
        1024,
        Some("256M"),
    ),
    m(
        "x86_64-bios-m4096",
        GuestArch::X86_64,
        Firmware::Bios,
        4096,
        Some("256M"),
    ),
    m(
        "x86_64-ovmf-m1024",
        GuestArch::X86_64,
        Firmware::Uefi,
        1024,
        Some("256M"),
    ),
    m(
        "x86_64-ovmf-m4096",
        GuestArch::X86_64,
        Firmware::Uefi,
        4096,
        Some("256M"),
    ),
    m(
        "arm64-direct-m1024",
        GuestArch::Arm64,
        Firmware::Bios,
        1024,
        None,
    ),
    m(
        "arm64-direct-m4096",
        GuestArch::Arm64,
        Firmware::Bios,
        4096,
        None,
    ),
    m(
        "arm64-uefi-m1024",
        GuestArch::Arm64,
        Firmware::Uefi,
        1024,
        None,
    ),
    m(
        "arm64-uefi-m4096",
        GuestArch::Arm64,
        Firmware::Uefi,
        4096,
        None,
    ),
    m(
        "arm64-direct-m1024-crashkernel",
        GuestArch::Arm64,
        Firmware::Bios,
        1024,
        Some("96M"),
    ),
];

const fn m(
    name: &'static str,
    arch: GuestArch,
    firmware: Firmware,
    memory_mib: u32,
    crashkernel: Option<&'static str>,
) -> Machine {
    Machine {
        name,
        arch,
        firmware,
        memory_mib,
        crashkernel,
    }
}

pub fn run(root: &Path, args: &Args) -> Result<()> {
    crate::images::prepare(root)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| root.join("target/xtask/fixtures"));
    let chosen: Vec<&Machine> = MACHINES
        .iter()
        .filter(|m| args.machine.as_deref().is_none_or(|n| n == m.name))
        .collect();
    if chosen.is_empty() {
        return Err(Error::Boot {
            reason: format!(
                "fixtures: no machine named {:?}",
                args.machine.as_deref().unwrap_or("")
            ),
        });
    }
    for machine in chosen {
        let files = capture(root, machine)?;
        let dir = out.join(machine.name);
        write_tree(&dir, &files)?;
        println!(
            "fixtures: {} — {} files in {}",
            machine.name,
            files.len(),
            dir.display()
        );
    }
    Ok(())
}

fn capture(root: &Path, machine: &Machine) -> Result<BTreeMap<String, Vec<u8>>> {
    let cache = crate::cache::Cache::from_env()?;
    let kernel = boot::pinned_kernel(&cache, machine.arch, None)?;
    let initrd = crate::initramfs::default_path(root, machine.arch);
    crate::initramfs::build(root, machine.arch, Some(&kernel), &initrd)?;
    let accel = crate::accel::choose(root, AccelChoice::Auto, machine.arch, &kernel, &initrd)?;
    let mut append = format!("console={} quiet panic=1", machine.arch.console());
    if let Some(c) = machine.crashkernel {
        append += &format!(" crashkernel={c}");
    }
    append += " wb.scenario=capture";
    let config = GuestConfig {
        arch: machine.arch,
        firmware: machine.firmware,
        accel,
        memory_mib: machine.memory_mib,
        kernel,
        initrd,
        append,
        no_reboot: true,
        drive: None,
        seed: None,
        secure_boot: None,
        ssh_port: None,
    };
    println!("fixtures {}: {}", machine.name, config.display());
    let run_dir = root
        .join("target/xtask/runs")
        .join(format!("fixtures-{}", machine.name));
    let mut guest = Guest::start(&config, &run_dir).map_err(|e| Error::Boot {
        reason: format!("cannot start {}: {e}", config.arch.qemu_binary()),
    })?;
    guest.run(Duration::from_secs(240), |line, _| {
        match parse_marker(&line.line) {
            Some((e, _)) if e == "done" || e == "fail" => Flow::Stop,
            _ => Flow::Continue,
        }
    });
    parse_capture(guest.log()).map_err(|reason| Error::Boot {
        reason: format!(
            "fixtures {}: {reason} (log in {})",
            machine.name,
            run_dir.display()
        ),
    })
}

/// The files between `@@WB file path=P` and `@@WB end-file path=P`, base64-decoded.
pub fn parse_capture(log: &[Stamped]) -> std::result::Result<BTreeMap<String, Vec<u8>>, String> {
    let mut files = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    let mut done = false;
    for s in log {
        match parse_marker(&s.line) {
            Some((event, fields)) if event == "file" => {
                let path = fields
                    .get("path")
                    .cloned()
                    .ok_or("file marker without path")?;
                current = Some((path, String::new()));
            }
            Some((event, fields)) if event == "end-file" => {
                let (path, b64) = current.take().ok_or("end-file without file")?;
                if fields.get("path") != Some(&path) {
                    return Err(format!("end-file does not match file {path}"));
                }
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.as_bytes())
                    .map_err(|e| format!("{path}: bad base64: {e}"))?;
                files.insert(path, bytes);
            }
            Some((event, _)) if event == "fail" => return Err(s.line.clone()),
            Some((event, _)) if event == "done" => done = true,
            _ => {
                if let Some((_, b64)) = current.as_mut() {
                    b64.push_str(s.line.trim());
                }
            }
        }
    }
    if current.is_some() || !done {
        return Err("the guest did not finish the capture".into());
    }
    if !files.contains_key("/proc/iomem") {
        return Err("no /proc/iomem in the capture".into());
    }
    Ok(files)
}

/// Replaces `dir` with a root tree of `files`.
fn write_tree(dir: &Path, files: &BTreeMap<String, Vec<u8>>) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(Error::io(dir))?;
    }
    for (path, bytes) in files {
        let rel = path.trim_start_matches('/');
        if rel.split('/').any(|c| c == ".." || c.is_empty()) {
            return Err(Error::Boot {
                reason: format!("fixtures: refusing path {path:?}"),
            });
        }
        let target = dir.join(rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(Error::io(parent))?;
        }
        std::fs::write(&target, bytes).map_err(Error::io(&target))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[&str]) -> Vec<Stamped> {
        text.iter()
            .map(|l| Stamped {
                t: Duration::ZERO,
                line: l.to_string(),
            })
            .collect()
    }

    #[test]
    fn captured_files_are_decoded_and_kernel_noise_outside_them_ignored() {
        let log = lines(&[
            "[    1.0] random: crng init done",
            "@@WB file path=/proc/iomem",
            "MDAwMDAwMDAtMDAwMDBmZmYgOiBSZXNlcnZlZAo=",
            "@@WB end-file path=/proc/iomem",
            "@@WB file path=/sys/kernel/kexec_loaded",
            "MAo=",
            "@@WB end-file path=/sys/kernel/kexec_loaded",
            "@@WB done hop=0",
        ]);
        let files = parse_capture(&log).unwrap();
        assert_eq!(files["/proc/iomem"], b"00000000-00000fff : Reserved\n");
        assert_eq!(files["/sys/kernel/kexec_loaded"], b"0\n");
    }

    #[test]
    fn an_unfinished_or_garbled_capture_is_an_error() {
        let cut = lines(&["@@WB file path=/proc/iomem", "MDAw"]);
        assert!(parse_capture(&cut).is_err());
        let garbled = lines(&[
            "@@WB file path=/proc/iomem",
            "not base64 !!",
            "@@WB end-file path=/proc/iomem",
            "@@WB done hop=0",
        ]);
        assert!(parse_capture(&garbled).unwrap_err().contains("bad base64"));
    }

    #[test]
    fn paths_cannot_escape_the_tree() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = BTreeMap::new();
        files.insert("/../etc/passwd".to_string(), b"x".to_vec());
        assert!(write_tree(&dir.path().join("m"), &files).is_err());
    }
}
