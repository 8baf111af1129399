//! Choosing the accelerator: KVM only if it really boots a guest here, else TCG.
//!
//! /dev/kvm exists on these machines but guests hang or abort under it
//! (../shared/notes/qemu.md), so its presence proves nothing: a short bounded boot of the
//! real kernel must reach init's ready marker. The answer is remembered in
//! target/xtask/kvm-probe.txt so a CI run probes once.

use crate::error::Result;
use crate::guest::{Flow, Guest};
use crate::qemu::{Accel, Firmware, GuestArch, GuestConfig};
use crate::scenario::AccelChoice;
use crate::serial::parse_marker;
use std::path::Path;
use std::time::Duration;

/// How long the probe boot may take before KVM is declared unusable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(45);

pub fn choose(
    root: &Path,
    choice: AccelChoice,
    arch: GuestArch,
    kernel: &Path,
    initrd: &Path,
) -> Result<Accel> {
    match choice {
        AccelChoice::Tcg => return Ok(Accel::Tcg),
        AccelChoice::Kvm => return Ok(Accel::Kvm),
        AccelChoice::Auto => {}
    }
    // KVM runs only guests of the host's own architecture.
    let native = cfg!(target_arch = "x86_64") && arch == GuestArch::X86_64
        || cfg!(target_arch = "aarch64") && arch == GuestArch::Arm64;
    if !native || !Path::new("/dev/kvm").exists() {
        return Ok(Accel::Tcg);
    }
    let memo = root.join("target/xtask/kvm-probe.txt");
    if let Ok(text) = std::fs::read_to_string(&memo) {
        return Ok(if text.trim() == "kvm works" {
            Accel::Kvm
        } else {
            Accel::Tcg
        });
    }
    println!(
        "accel: probing KVM with a {}s boot of {}",
        PROBE_TIMEOUT.as_secs(),
        kernel.display()
    );
    let config = GuestConfig {
        arch,
        firmware: Firmware::Bios,
        accel: Accel::Kvm,
        memory_mib: 512,
        kernel: kernel.to_path_buf(),
        initrd: initrd.to_path_buf(),
        append: format!("console={} quiet panic=1 wb.scenario=idle", arch.console()),
        no_reboot: true,
        drive: None,
        seed: None,
        secure_boot: None,
        ssh_port: None,
    };
    let works = match Guest::start(&config, &root.join("target/xtask/runs/kvm-probe")) {
        Ok(mut guest) => {
            let mut ready = false;
            guest.run(PROBE_TIMEOUT, |line, _| {
                if matches!(parse_marker(&line.line), Some((e, _)) if e == "ready") {
                    ready = true;
                    Flow::Stop
                } else {
                    Flow::Continue
                }
            });
            ready
        }
        Err(_) => false,
    };
    let verdict = if works {
        "kvm works"
    } else {
        "kvm does not boot guests here; using tcg"
    };
    println!("accel: {verdict}");
    if let Some(dir) = memo.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(&memo, format!("{verdict}\n"));
    Ok(if works { Accel::Kvm } else { Accel::Tcg })
}
