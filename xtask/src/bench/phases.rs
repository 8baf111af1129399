//! The phases of one reboot's downtime, from serial lines stamped with host time.
//!
//! Pure: a stamped log in, durations out. The bench boots its guests with an early console
//! and `loglevel=6` (boot.rs `--measure`), so both kernels print from their first lines:
//!
//! - shutdown: the reboot request (init's `reboot-request` marker) to the old kernel's
//!   last line ("kexec_core: Starting new kernel", the end of a "Kernel panic" report,
//!   "reboot: Restarting system");
//! - handoff: to the new kernel's first line, its "Linux version" banner (firmware,
//!   purgatory, decompression and early setup happen in between);
//! - boot: to the new kernel's init `ready` marker.
//!
//! The three add up to the downtime the verdict measures.

use crate::serial::{markers, Stamped};
use std::time::Duration;

/// The first line start_kernel prints (init/main.c, `linux_banner`).
pub const NEW_KERNEL_BANNER: &str = "Linux version ";

/// One reboot's downtime and its three phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phases {
    pub downtime: Duration,
    pub shutdown: Duration,
    pub handoff: Duration,
    pub boot: Duration,
}

/// Whether a console line comes from a kernel: printk lines carry the kernel's own
/// timestamp, `[   12.345678] ...` (CONFIG_PRINTK_TIME, set in Debian's kernels); firmware,
/// the EFI stub and init print without one.
pub fn is_kernel_line(line: &str) -> bool {
    let Some(rest) = line.trim_start().strip_prefix('[') else {
        return false;
    };
    let Some((stamp, _)) = rest.split_once(']') else {
        return false;
    };
    let stamp = stamp.trim();
    match stamp.split_once('.') {
        Some((s, us)) => {
            !s.is_empty()
                && !us.is_empty()
                && s.bytes().all(|b| b.is_ascii_digit())
                && us.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// The kernel's own timestamp of a printk line, in seconds (`[  3.754802]` -> 3.754802).
fn kernel_time(line: &str) -> Option<f64> {
    let rest = line.trim_start().strip_prefix('[')?;
    rest.split_once(']')?.0.trim().parse().ok()
}

/// Splits the first reboot (`how` = kexec, panic or firmware, as the `reboot-request`
/// marker says) of a stamped log into its phases.
pub fn split(log: &[Stamped], how: &str) -> Result<Phases, String> {
    let ms = markers(log);
    let req = ms
        .iter()
        .find(|m| m.event == "reboot-request" && m.get("how") == Some(how))
        .ok_or_else(|| format!("no {how} reboot request in the log"))?;
    let ready = ms
        .iter()
        .find(|m| m.index > req.index && m.event == "ready" && m.get("hop") == Some("1"))
        .ok_or("the new kernel never printed its ready marker")?;
    let between = &log[req.index + 1..ready.index];
    let banner = between
        .iter()
        .position(|s| s.line.contains(NEW_KERNEL_BANNER))
        .ok_or("the new kernel printed no \"Linux version\" line (no early console?)")?;
    // arm64 prints "Booting Linux on physical CPU" just before the banner: walk back over
    // kernel lines stamped no later than the banner (the old kernel's are later).
    let banner_time = kernel_time(&between[banner].line);
    let mut first = banner;
    while first > 0
        && is_kernel_line(&between[first - 1].line)
        && kernel_time(&between[first - 1].line) <= banner_time
    {
        first -= 1;
    }
    let last = between[..first]
        .iter()
        .rev()
        .find(|s| is_kernel_line(&s.line))
        .ok_or("the old kernel printed nothing after the reboot request")?;
    let new_first = &between[first];
    Ok(Phases {
        downtime: ready.t.saturating_sub(req.t),
        shutdown: last.t.saturating_sub(req.t),
        handoff: new_first.t.saturating_sub(last.t),
        boot: ready.t.saturating_sub(new_first.t),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serial::parse_saved_log;

    fn log(name: &str) -> Vec<Stamped> {
        let path = format!("{}/testdata/{name}.log", env!("CARGO_MANIFEST_DIR"));
        parse_saved_log(&std::fs::read_to_string(path).unwrap())
    }

    fn secs(d: Duration) -> f64 {
        d.as_secs_f64()
    }

    #[test]
    fn kernel_lines_are_told_from_firmware_and_init_lines() {
        assert!(is_kernel_line(
            "[    0.000000] Linux version 6.1.0-56-arm64"
        ));
        assert!(is_kernel_line("[12345.5] x"));
        assert!(!is_kernel_line("SeaBIOS (version 1.16.2-debian-1.16.2-1)"));
        assert!(!is_kernel_line("@@WB ready hop=1"));
        assert!(!is_kernel_line("[Bds]Booting UEFI Misc Device"));
        assert!(!is_kernel_line("[ 1.] x"));
        assert!(!is_kernel_line("[ .5] x"));
    }

    /// (log, how, shutdown, handoff, boot) from the captured runs: the request marker,
    /// the old kernel's last line, the new kernel's first line and the ready marker.
    #[test]
    fn captured_arm64_reboots_split_at_the_kernel_lines() {
        let cases = [
            // kexec: "Starting new kernel" at 4.617808, "Booting Linux on physical CPU"
            // (just before the banner) at 4.755938.
            (
                "bench-arm64-direct-warm-warmboot",
                "kexec",
                4.617808 - 4.602312,
                4.755938 - 4.617808,
                12.495954 - 4.755938,
            ),
            // Direct boot: QEMU loads the kernel again at once.
            (
                "bench-arm64-direct-cold",
                "firmware",
                1.993624 - 1.985254,
                2.184598 - 1.993624,
                3.612586 - 2.184598,
            ),
            // UEFI: edk2 and the EFI stub (unstamped lines) are part of the handoff.
            (
                "bench-arm64-uefi-cold",
                "firmware",
                4.354740 - 4.326079,
                5.705658 - 4.354740,
                7.262274 - 5.705658,
            ),
            // x86_64 kexec_file_load: the handoff holds the purgatory and the bzImage
            // decompressing itself.
            (
                "bench-x86_64-bios-warm-warmboot-file",
                "kexec",
                11.087058 - 11.040789,
                15.179907 - 11.087058,
                17.220988 - 15.179907,
            ),
            // SeaBIOS prints nothing here; "reboot: machine restart" is the last line.
            (
                "bench-x86_64-bios-cold",
                "firmware",
                8.142872 - 8.134686,
                13.219124 - 8.142872,
                16.938589 - 13.219124,
            ),
        ];
        for (name, how, shutdown, handoff, boot) in cases {
            let p = split(&log(name), how).unwrap();
            let close = |d: Duration, want: f64| (secs(d) - want).abs() < 1e-6;
            assert!(close(p.shutdown, shutdown), "{name}: {p:?}");
            assert!(close(p.handoff, handoff), "{name}: {p:?}");
            assert!(close(p.boot, boot), "{name}: {p:?}");
            assert!(
                close(p.downtime, shutdown + handoff + boot),
                "{name}: {p:?}"
            );
        }
        // A quiet boot (the matrix's) has no banner after the request.
        let e = split(&log("x86_64-bios-warm-kexec-tools"), "kexec").unwrap_err();
        assert!(e.contains("no \"Linux version\" line"), "{e}");
    }

    #[test]
    fn phases_add_up_to_the_downtime_on_a_synthetic_log() {
        let l: Vec<Stamped> = [
            (1.0, "@@WB ready hop=0 boot_id=a"),
            (2.0, "@@WB reboot-request hop=0 how=kexec"),
            (2.5, "[    9.100000] kexec_core: Starting new kernel"),
            (2.5, "@@WB stray"),
            (3.9, "[    0.000000] Booting Linux on physical CPU 0x0"),
            (4.0, "[    0.000000] Linux version 6.1.0-56-arm64"),
            (4.2, "[    0.010000] Machine model: linux,dummy-virt"),
            (7.0, "@@WB ready hop=1 boot_id=b"),
        ]
        .iter()
        .map(|(t, line)| Stamped {
            t: Duration::from_secs_f64(*t),
            line: line.to_string(),
        })
        .collect();
        let p = split(&l, "kexec").unwrap();
        let close = |d: Duration, want: f64| (secs(d) - want).abs() < 1e-6;
        assert!(close(p.shutdown, 0.5), "{p:?}");
        assert!(close(p.handoff, 1.4), "{p:?}");
        assert!(close(p.boot, 3.1), "{p:?}");
        assert!(close(p.downtime, 5.0), "{p:?}");
        assert_eq!(
            split(&l, "panic").unwrap_err(),
            "no panic reboot request in the log"
        );
        let quiet: Vec<Stamped> = l
            .iter()
            .filter(|s| !s.line.contains("Linux version"))
            .cloned()
            .collect();
        assert!(split(&quiet, "kexec")
            .unwrap_err()
            .contains("Linux version"));
    }
}
