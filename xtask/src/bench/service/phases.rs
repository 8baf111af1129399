//! One service reboot's verdict and phases, from the serial log (lines stamped with host
//! time) and the host probe's attempts on the same clock. Pure.
//!
//! - shutdown: the reboot request (the `@@WB reboot-request` line the guest prints just
//!   before running the reboot command) to the old kernel's last console line
//!   ("kexec_core: Starting new kernel", kernel/kexec_core.c; "reboot: Restarting
//!   system", kernel/reboot.c): systemd stopping the services, unmounting, the kernel's
//!   shutdown;
//! - handoff: to the new kernel's first line, its "Linux version" banner (init/main.c):
//!   firmware on a cold reboot, purgatory and decompression on a warm one;
//! - kernel: to "Run /init as init process" (init/main.c `run_init_process`, the
//!   initramfs's init; the first userspace);
//! - userspace: to the host probe's first SSH banner from the new system (initramfs,
//!   systemd, sshd).
//!
//! The four add up to the downtime: the request to the service answering again.

use super::probe::{answered_again, Attempt};
use crate::bench::phases::{is_kernel_line, NEW_KERNEL_BANNER};
use crate::serial::{markers, Stamped};
use std::time::Duration;

/// kexec_core.c's last line before the jump into the new kernel.
pub const KEXEC_LINE: &str = "kexec_core: Starting new kernel";
/// kernel_restart()'s last line before a reset (kernel/reboot.c).
pub const RESTART_LINE: &str = "reboot: Restarting system";
/// init/main.c `run_init_process`: `pr_info("Run %s as init process\n", ...)`.
pub const INIT_LINE: &str = " as init process";

/// How the reboot must have gone for the run to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Through the firmware: a restart, no kexec.
    Cold,
    /// Through kexec: no restart.
    Warm,
}

/// One reboot's downtime and its four phases.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServicePhases {
    pub downtime: Duration,
    pub shutdown: Duration,
    pub handoff: Duration,
    pub kernel: Duration,
    pub userspace: Duration,
}

/// The evidence of one run besides the serial log: the boot ids the guest reported
/// before the request and after the service answered again (/proc/sys/kernel/random/
/// boot_id), and the probe's attempts.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub boot_id_before: Option<String>,
    pub boot_id_after: Option<String>,
    pub attempts: Vec<Attempt>,
}

fn kernel_time(line: &str) -> Option<f64> {
    let rest = line.trim_start().strip_prefix('[')?;
    rest.split_once(']')?.0.trim().parse().ok()
}

/// Judges the first reboot request of `log` and splits it: an error says why the run does
/// not count (the reboot was not of the expected kind, the new kernel never booted, the
/// service never answered from it, the boot id did not change).
pub fn judge(log: &[Stamped], ev: &Evidence, expect: Expect) -> Result<ServicePhases, String> {
    let req = markers(log)
        .into_iter()
        .find(|m| m.event == "reboot-request")
        .ok_or("no reboot request on the console")?;
    let after = &log[req.index + 1..];
    let banner = after
        .iter()
        .position(|s| s.line.contains(NEW_KERNEL_BANNER))
        .ok_or("no new kernel booted after the reboot request (no \"Linux version\" line)")?;
    // Kernel lines stamped no later than the banner belong to the new kernel (walk back).
    let banner_time = kernel_time(&after[banner].line);
    let mut first = banner;
    while first > 0
        && is_kernel_line(&after[first - 1].line)
        && kernel_time(&after[first - 1].line) <= banner_time
    {
        first -= 1;
    }
    let old = &after[..first];
    let kexec = old.iter().any(|s| s.line.contains(KEXEC_LINE));
    let restart = old.iter().any(|s| s.line.contains(RESTART_LINE));
    match expect {
        Expect::Warm if !kexec || restart => {
            return Err(format!(
                "the reboot was not warm: the old kernel {} \"{KEXEC_LINE}\"{}",
                if kexec { "printed" } else { "never printed" },
                if restart {
                    format!(" and printed \"{RESTART_LINE}\"")
                } else {
                    String::new()
                }
            ))
        }
        Expect::Cold if kexec || !restart => {
            return Err(format!(
                "the reboot did not go through the firmware: {}",
                if kexec {
                    format!("the old kernel printed \"{KEXEC_LINE}\"")
                } else {
                    format!("no \"{RESTART_LINE}\"")
                }
            ))
        }
        _ => {}
    }
    let last = old
        .iter()
        .rev()
        .find(|s| is_kernel_line(&s.line))
        .ok_or("the old kernel printed nothing after the reboot request")?;
    let new_first = &after[first];
    let init = after[banner..]
        .iter()
        .find(|s| is_kernel_line(&s.line) && s.line.contains(INIT_LINE))
        .ok_or("the new kernel never started init (no \"Run … as init process\" line)")?;
    let answered = answered_again(&ev.attempts, new_first.t).ok_or(
        "the service never answered from the new system (no SSH banner after the new kernel's first line)",
    )?;
    match (&ev.boot_id_before, &ev.boot_id_after) {
        (Some(a), Some(b)) if a != b => {}
        (a, b) => {
            return Err(format!(
                "boot ids {a:?} before and {b:?} after are not two boots"
            ))
        }
    }
    if answered < init.t {
        return Err("the service answered before the new kernel started init".into());
    }
    Ok(ServicePhases {
        downtime: answered.saturating_sub(req.t),
        shutdown: last.t.saturating_sub(req.t),
        handoff: new_first.t.saturating_sub(last.t),
        kernel: init.t.saturating_sub(new_first.t),
        userspace: answered.saturating_sub(init.t),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Serial lines stamped at the given seconds (also the fleet's tests').
    pub(crate) fn stamped(lines: &[(f64, &str)]) -> Vec<Stamped> {
        lines
            .iter()
            .map(|(t, l)| Stamped {
                t: Duration::from_secs_f64(*t),
                line: l.to_string(),
            })
            .collect()
    }

    /// One probe attempt from `start` to `end` seconds (also the fleet's tests').
    pub(crate) fn attempt(start: f64, end: f64, answered: bool) -> Attempt {
        Attempt {
            start: Duration::from_secs_f64(start),
            end: Duration::from_secs_f64(end),
            answered,
        }
    }

    /// A warm reboot as the guest prints it (timings shortened).
    pub(super) fn warm_log() -> Vec<Stamped> {
        stamped(&[
            (
                50.0,
                "[   40.000000] EXT4-fs (vda): re-mounted. Quota mode: none.",
            ),
            (60.0, "@@WB reboot-request how=kexec via=warmboot-reboot"),
            (
                60.5,
                "[  OK  ] Stopped ssh.service - OpenBSD Secure Shell server.",
            ),
            (
                61.0,
                "[   51.000000] systemd-shutdown[1]: Rebooting with kexec.",
            ),
            (61.5, "[   51.500000] kexec_core: Starting new kernel"),
            (63.0, "[    0.000000] Linux version 6.1.0-50-amd64"),
            (
                63.1,
                "[    0.000000] Command line: root=/dev/vda rw console=ttyS0",
            ),
            (70.0, "[    5.000000] Run /init as init process"),
            (
                80.0,
                "[  OK  ] Started ssh.service - OpenBSD Secure Shell server.",
            ),
        ])
    }

    pub(super) fn warm_evidence() -> Evidence {
        Evidence {
            boot_id_before: Some("a".into()),
            boot_id_after: Some("b".into()),
            attempts: vec![
                attempt(60.0, 60.2, true),
                attempt(60.3, 61.3, false),
                attempt(61.4, 62.4, false),
                attempt(62.5, 63.5, false),
                attempt(79.0, 80.0, false),
                attempt(80.1, 80.4, true),
            ],
        }
    }

    #[test]
    fn a_warm_reboot_splits_into_four_phases_adding_up_to_the_downtime() {
        let p = judge(&warm_log(), &warm_evidence(), Expect::Warm).unwrap();
        let close = |d: Duration, want: f64| (d.as_secs_f64() - want).abs() < 1e-9;
        assert!(close(p.shutdown, 1.5), "{p:?}");
        assert!(close(p.handoff, 1.5), "{p:?}");
        assert!(close(p.kernel, 7.0), "{p:?}");
        assert!(close(p.userspace, 10.4), "{p:?}");
        assert!(close(p.downtime, 20.4), "{p:?}");
    }

    /// A captured cold reboot through SeaBIOS (excerpt of the serial log; the probe's
    /// attempts whole), on a host loaded by other guests.
    fn captured() -> (Vec<Stamped>, Evidence) {
        let dir = format!("{}/testdata", env!("CARGO_MANIFEST_DIR"));
        let log = crate::serial::parse_saved_log(
            &std::fs::read_to_string(format!("{dir}/service-x86_64-bios-cold.log")).unwrap(),
        );
        let attempts: Vec<Attempt> = serde_json::from_str(
            &std::fs::read_to_string(format!("{dir}/service-x86_64-bios-cold.probe.json")).unwrap(),
        )
        .unwrap();
        let ev = Evidence {
            boot_id_before: Some("before".into()),
            boot_id_after: Some("after".into()),
            attempts,
        };
        (log, ev)
    }

    #[test]
    fn a_captured_cold_reboot_splits_at_its_console_lines_and_the_probe_s_answer() {
        let (log, ev) = captured();
        let p = judge(&log, &ev, Expect::Cold).unwrap();
        // Request 198.284365; the old kernel's last line "reboot: machine restart"
        // 213.887064 (after "reboot: Restarting system"); "Linux version"
        // 246.828422; "Run /init as init process" 271.923852; the first banner from the
        // new system read at 511.571286831 (sshd still answered at 199.339 after the
        // request: the old system's, left out).
        let close = |d: Duration, want: f64| (d.as_secs_f64() - want).abs() < 1e-6;
        assert!(close(p.shutdown, 213.887064 - 198.284365), "{p:?}");
        assert!(close(p.handoff, 246.828422 - 213.887064), "{p:?}");
        assert!(close(p.kernel, 271.923852 - 246.828422), "{p:?}");
        assert!(close(p.userspace, 511.571286831 - 271.923852), "{p:?}");
        assert!(close(p.downtime, 511.571286831 - 198.284365), "{p:?}");
        let e = judge(&log, &ev, Expect::Warm).unwrap_err();
        assert!(e.contains("never printed \"kexec_core"), "{e}");
    }

    #[test]
    fn a_cold_reboot_needs_the_firmware_and_a_warm_one_kexec() {
        let cold: Vec<Stamped> = warm_log()
            .into_iter()
            .map(|mut s| {
                s.line = s.line.replace(KEXEC_LINE, RESTART_LINE);
                s
            })
            .collect();
        assert!(judge(&cold, &warm_evidence(), Expect::Cold).is_ok());
        let e = judge(&cold, &warm_evidence(), Expect::Warm).unwrap_err();
        assert!(e.starts_with("the reboot was not warm"), "{e}");
        let e = judge(&warm_log(), &warm_evidence(), Expect::Cold).unwrap_err();
        assert!(e.contains("did not go through the firmware"), "{e}");
    }

    #[test]
    fn each_verdict_fails_on_its_own_evidence() {
        let broken = |log: Vec<Stamped>, ev: Evidence, why: &str| {
            let e = judge(&log, &ev, Expect::Warm).unwrap_err();
            assert!(e.contains(why), "{e}");
        };
        let without = |text: &str| -> Vec<Stamped> {
            warm_log()
                .into_iter()
                .filter(|s| !s.line.contains(text))
                .collect()
        };
        broken(
            without("reboot-request"),
            warm_evidence(),
            "no reboot request",
        );
        broken(
            without("Linux version"),
            warm_evidence(),
            "no new kernel booted",
        );
        broken(without("Run /init"), warm_evidence(), "never started init");
        // A kexec that did not take, then a reset through the firmware.
        let mut fell_back = warm_log();
        fell_back.insert(
            5,
            stamped(&[(62.0, "[   52.000000] reboot: Restarting system")])[0].clone(),
        );
        broken(
            fell_back,
            warm_evidence(),
            "and printed \"reboot: Restarting system\"",
        );
        // The only answers came from the old system.
        let mut ev = warm_evidence();
        ev.attempts.pop();
        broken(warm_log(), ev, "never answered from the new system");
        let mut ev = warm_evidence();
        ev.boot_id_after = Some("a".into());
        broken(warm_log(), ev, "are not two boots");
        let mut ev = warm_evidence();
        ev.boot_id_after = None;
        broken(warm_log(), ev, "are not two boots");
        // An answer between the handoff and init is not sshd of the new system.
        let mut ev = warm_evidence();
        ev.attempts.insert(4, attempt(64.0, 64.1, true));
        broken(warm_log(), ev, "before the new kernel started init");
    }
}
