//! Pass or fail for a boot scenario, decided only from what the guest printed.
//!
//! A scenario passes only when the NEW kernel's init printed its `ready` marker with a
//! boot id different from every earlier boot (so the first kernel cannot pass for the
//! second), after the old kernel announced the reboot. Pure: stamped lines in, verdict out.

use crate::firmware_reset::first_firmware_line;
use crate::scenario::X86Entry;
use crate::serial::{markers, Marker, Stamped};
use crate::x86_entry;
use std::time::Duration;

/// What a run was asked to prove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expectation {
    /// `hops` warm reboots in a row, each into a fresh kernel. `x86_entry` is the entry
    /// warmboot was asked for on x86_64 (`Some(Auto)`: the loader's default; `None`: not
    /// warmboot on x86_64): whenever the loader says it placed the decompressed kernel
    /// itself, the new kernel must run where it said, with KASLR; under the default, a
    /// kexec_load hop must have taken the decompressed entry (x86_entry.rs).
    Warm {
        hops: u32,
        x86_entry: Option<X86Entry>,
    },
    /// A real crash caught by the capture kernel, whose check of /proc/vmcore (warmboot
    /// x-check-vmcore: PT_LOADs against the first kernel's RAM, a page read at both ends
    /// of each) must pass and describe a guest of `memory_mib` with `crash_mib` reserved.
    Panic { memory_mib: u64, crash_mib: u64 },
    /// A reset through the firmware back into the same kernel.
    Cold,
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub passed: bool,
    /// Why it passed or failed, in one line.
    pub reason: String,
    /// Host time from each reboot request to the next kernel's ready marker.
    pub downtimes: Vec<Duration>,
    /// Guest-measured duration of each load, in seconds.
    pub load_secs: Vec<f64>,
}

impl Verdict {
    fn fail(reason: impl Into<String>) -> Verdict {
        Verdict {
            passed: false,
            reason: reason.into(),
            downtimes: Vec::new(),
            load_secs: Vec::new(),
        }
    }
}

/// Judges a run from its stamped serial log.
pub fn judge(expect: Expectation, log: &[Stamped]) -> Verdict {
    let ms = markers(log);
    if let Some(f) = ms.iter().find(|m| m.event == "fail") {
        // warmboot's own one-line error, when it printed one before the failure.
        let said = log[..f.index]
            .iter()
            .rev()
            .take_while(|s| !s.line.contains("@@WB "))
            .map(|s| crate::serial::clean_line(&s.line))
            .find(|l| l.starts_with("warmboot: ") && !l.starts_with("warmboot: warning:"))
            .map(|l| format!(" ({l})"))
            .unwrap_or_default();
        return Verdict::fail(format!(
            "the guest reported a failure at hop {}: {}{said}",
            f.get("hop").unwrap_or("?"),
            f.get("reason")
                .unwrap_or("no reason given")
                .replace('_', " ")
        ));
    }
    let hops = match expect {
        Expectation::Warm { hops, .. } => hops,
        Expectation::Panic { .. } | Expectation::Cold => 1,
    };
    let how = match expect {
        Expectation::Warm { .. } => "kexec",
        Expectation::Panic { .. } => "panic",
        Expectation::Cold => "firmware",
    };
    let mut seen_ids: Vec<&str> = Vec::new();
    let mut downtimes = Vec::new();
    let mut load_secs = Vec::new();
    let mut pos = 0usize; // index into ms: we only ever look forward
    let ready = |from: usize, hop: u32| {
        ms[from..]
            .iter()
            .position(|m| m.event == "ready" && m.get("hop") == Some(&hop.to_string()))
            .map(|i| i + from)
    };
    let Some(first) = ready(0, 0) else {
        return Verdict::fail("the first kernel never printed its ready marker (hop 0)");
    };
    seen_ids.push(ms[first].get("boot_id").unwrap_or(""));
    pos = pos.max(first);
    for hop in 1..=hops {
        let Some(req) = ms[pos..]
            .iter()
            .position(|m| m.event == "reboot-request" && m.get("how") == Some(how))
            .map(|i| i + pos)
        else {
            return Verdict::fail(format!(
                "hop {}: the old kernel never requested the {how} reboot",
                hop - 1
            ));
        };
        if let Some(load) = ms[pos..req].iter().rev().find(|m| m.event == "load-done") {
            if let Some(s) = load_duration(load) {
                load_secs.push(s);
            }
        }
        let Some(next) = ready(req, hop) else {
            let broken = ms[req..].iter().any(|m| m.event == "broken");
            return Verdict::fail(format!(
                "hop {hop}: the new kernel never printed its ready marker{}",
                if broken {
                    " (it printed a broken marker instead)"
                } else {
                    ""
                }
            ));
        };
        // Between the request and the new kernel's marker: a cold reboot must show the
        // firmware at work, a warm or panic reboot must not (whatever QEMU's -no-reboot
        // would have done with the reset).
        let between = log[ms[req].index..ms[next].index]
            .iter()
            .map(|s| s.line.as_str());
        match (expect, first_firmware_line(between)) {
            (Expectation::Cold, None) => {
                return Verdict::fail(
                    "the guest did not reset through the firmware after reboot -f",
                )
            }
            (Expectation::Warm { .. } | Expectation::Panic { .. }, Some(line)) => {
                return Verdict::fail(format!(
                    "hop {hop}: the machine went through the firmware between the {how} \
                     reboot request and the new kernel's ready marker: {line:?}"
                ))
            }
            _ => {}
        }
        // A warm reboot on an EFI machine must keep EFI (runtime services, tables).
        if matches!(expect, Expectation::Warm { .. })
            && ms[first].get("efi") == Some("1")
            && ms[next].get("efi") != Some("1")
        {
            return Verdict::fail(format!(
                "hop {hop}: the new kernel lost EFI (no /sys/firmware/efi after the warm reboot)"
            ));
        }
        let id = ms[next].get("boot_id").unwrap_or("");
        if id.is_empty() || seen_ids.contains(&id) {
            return Verdict::fail(format!(
                "hop {hop}: the ready marker carries boot id {id:?} of an earlier boot"
            ));
        }
        seen_ids.push(id);
        if let Expectation::Warm {
            x86_entry: asked, ..
        } = expect
        {
            let lines = &log[ms[pos].index..ms[req].index];
            let load_done = ms[pos..req].iter().rev().find(|m| m.event == "load-done");
            let syscall = x86_entry::syscall_in(lines, load_done);
            let entry = x86_entry::entry_in(lines);
            let layout = ms[next..]
                .iter()
                .find(|m| m.event == "layout" && m.get("hop") == Some(&hop.to_string()));
            if let Err(reason) = x86_entry::check_hop(hop, asked, syscall, entry, layout) {
                return Verdict::fail(reason);
            }
        }
        downtimes.push(ms[next].t.saturating_sub(ms[req].t));
        pos = next;
    }
    let mut dump = String::new();
    if let Expectation::Panic {
        memory_mib,
        crash_mib,
    } = expect
    {
        match check_vmcore(&ms[pos..], memory_mib, crash_mib) {
            Ok(said) => dump = said,
            Err(reason) => return Verdict::fail(reason),
        }
    }
    Verdict {
        passed: true,
        reason: match expect {
            Expectation::Warm { hops, .. } => format!("{hops} warm reboot(s) reached a new kernel"),
            Expectation::Panic { .. } => {
                format!("the capture kernel booted and checked /proc/vmcore: {dump}")
            }
            Expectation::Cold => "the machine reset through the firmware and booted again".into(),
        },
        downtimes,
        load_secs,
    }
}

/// Checks that every boot of a passed run ran the kernel it should: hop 0 the first
/// kernel, every later hop the next one (after a cold reset the first again: the firmware
/// boots QEMU's kernel). `first` and `next` are the releases expected (`uname -r`, which
/// the ready marker carries as `kernel=`); `None` is not checked. The passing reason gains
/// the kernels that booted first and last (`6.1.0-56-amd64 → 6.12.57+deb13-amd64`).
pub fn check_kernels(
    v: Verdict,
    expect: Expectation,
    log: &[Stamped],
    first: Option<&str>,
    next: Option<&str>,
) -> Verdict {
    if !v.passed {
        return v;
    }
    let ms = markers(log);
    let mut booted: Vec<&str> = Vec::new();
    for m in ms.iter().filter(|m| m.event == "ready") {
        let hop: u32 = m.get("hop").and_then(|h| h.parse().ok()).unwrap_or(0);
        let want = if hop == 0 || expect == Expectation::Cold {
            first
        } else {
            next
        };
        let got = m.get("kernel");
        match (want, got) {
            (Some(w), Some(g)) if w != g => {
                return Verdict::fail(format!(
                    "hop {hop}: kernel {g} booted, expected {w} ({} kernel)",
                    if hop == 0 || expect == Expectation::Cold {
                        "first"
                    } else {
                        "next"
                    }
                ))
            }
            (Some(w), None) => {
                return Verdict::fail(format!(
                    "hop {hop}: the ready marker names no kernel, expected {w}"
                ))
            }
            _ => {}
        }
        booted.push(got.unwrap_or("?"));
    }
    let mut v = v;
    if let (Some(a), Some(b)) = (booted.first(), booted.last()) {
        v.reason = format!("{}: {a} → {b}", v.reason);
    }
    v
}

fn load_duration(m: &Marker) -> Option<f64> {
    let start: f64 = m.get("start")?.parse().ok()?;
    let end: f64 = m.get("end")?.parse().ok()?;
    Some(end - start)
}

fn check_vmcore(ms: &[Marker], memory_mib: u64, crash_mib: u64) -> Result<String, String> {
    let Some(v) = ms.iter().find(|m| m.event == "vmcore") else {
        return Err("the capture kernel booted but never reported on /proc/vmcore".into());
    };
    crate::vmcore_report::check(&v.fields, memory_mib, crash_mib)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serial::parse_saved_log;

    fn log(name: &str) -> Vec<Stamped> {
        let path = format!("{}/testdata/{name}.log", env!("CARGO_MANIFEST_DIR"));
        parse_saved_log(&std::fs::read_to_string(path).unwrap())
    }

    #[test]
    fn captured_warm_reboots_pass_with_their_downtime() {
        let v = judge(
            Expectation::Warm {
                hops: 1,
                x86_entry: None,
            },
            &log("x86_64-bios-warm-kexec-tools"),
        );
        assert!(v.passed, "{}", v.reason);
        assert_eq!(v.downtimes.len(), 1);
        let d = v.downtimes[0].as_secs_f64();
        assert!((d - (12.571515 - 7.210794)).abs() < 1e-3, "{d}");
        assert!((v.load_secs[0] - 1.15).abs() < 1e-6);
        let v = judge(
            Expectation::Warm {
                hops: 1,
                x86_entry: None,
            },
            &log("arm64-direct-warm-kexec-tools"),
        );
        assert!(v.passed, "{}", v.reason);
    }

    #[test]
    fn a_second_hop_is_required_when_asked_for() {
        let v = judge(
            Expectation::Warm {
                hops: 2,
                x86_entry: None,
            },
            &log("x86_64-bios-warm-kexec-tools"),
        );
        assert!(!v.passed);
        assert!(
            v.reason.contains("hop 1: the old kernel never requested"),
            "{}",
            v.reason
        );
    }

    #[test]
    fn captured_panic_passes_with_the_capture_kernels_vmcore_report() {
        let l = log("x86_64-bios-panic-kexec-tools");
        let panic = Expectation::Panic {
            memory_mib: 1024,
            crash_mib: 256,
        };
        let ok = judge(panic, &l);
        assert_eq!(
            ok.reason,
            "the capture kernel booted and checked /proc/vmcore: its PT_LOADs cover 785915 of \
             785915 KiB expected, all 4 read"
        );
        let arm64 = judge(
            Expectation::Panic {
                memory_mib: 1024,
                crash_mib: 96,
            },
            &log("arm64-direct-panic-warmboot"),
        );
        assert_eq!(
            arm64.reason,
            "the capture kernel booted and checked /proc/vmcore: its PT_LOADs cover 950272 of \
             950272 KiB expected, all 2 read"
        );
        // The same dump cannot come from a 4 GiB guest.
        let v = judge(
            Expectation::Panic {
                memory_mib: 4096,
                crash_mib: 256,
            },
            &l,
        );
        assert!(
            v.reason
                .starts_with("the capture kernel expected 785915 KiB of RAM in the dump"),
            "{}",
            v.reason
        );
        // A PT_LOAD the guest could not read, or a report without the coverage, fails.
        let edit = |from: &str, to: &str| -> Verdict {
            let mut l = l.clone();
            for s in l.iter_mut().filter(|s| s.line.contains("@@WB vmcore ok=1")) {
                assert!(s.line.contains(from), "{from}");
                s.line = s.line.replacen(from, to, 1);
            }
            judge(panic, &l)
        };
        assert_eq!(
            edit("loads_read=4", "loads_read=3").reason,
            "only 3 of the dump's 4 PT_LOADs could be read"
        );
        assert_eq!(
            edit(" covered_kib=785915", "").reason,
            "the vmcore report has no covered_kib= (a guest older than the harness?)"
        );
        // Nor does a warm expectation accept a panic reboot.
        assert!(
            !judge(
                Expectation::Warm {
                    hops: 1,
                    x86_entry: None
                },
                &l
            )
            .passed
        );
    }

    #[test]
    fn a_vmcore_check_that_failed_in_the_guest_fails_with_its_reason() {
        // The capture kernel of kexec-tools on Debian's arm64 6.1 (a real run's lines).
        let l: Vec<Stamped> = [
            "@@WB ready hop=0 boot_id=a kernel=6.1.0-56-arm64",
            "@@WB load-done kind=panic loader=kexec-tools syscall=auto start=1 end=2",
            "@@WB reboot-request hop=0 how=panic",
            "@@WB ready hop=1 boot_id=b kernel=6.1.0-56-arm64",
            "@@WB vmcore-size size=18446691388381798400",
            "warmboot: /proc/vmcore: invalid vmcore header: PT_LOAD 1 (p_vaddr \
             0xffffffffffffffff): physical address 0x2feb3e600000 + size 0xffffd01503c10000 \
             wraps past the end of the address space",
            "@@WB fail hop=1 reason=vmcore_check_failed",
        ]
        .iter()
        .map(|line| Stamped {
            t: Duration::ZERO,
            line: line.to_string(),
        })
        .collect();
        let v = judge(
            Expectation::Panic {
                memory_mib: 1024,
                crash_mib: 96,
            },
            &l,
        );
        assert!(!v.passed);
        assert!(
            v.reason.starts_with(
                "the guest reported a failure at hop 1: vmcore check failed (warmboot: \
                 /proc/vmcore: invalid vmcore header: PT_LOAD 1"
            ),
            "{}",
            v.reason
        );
    }

    #[test]
    fn the_first_kernel_cannot_pass_for_the_second() {
        let mut l = log("x86_64-bios-warm-kexec-tools");
        // Replay the first ready line after the reboot request: same boot id.
        let first = l
            .iter()
            .find(|s| s.line.contains("ready hop=0"))
            .unwrap()
            .clone();
        l.retain(|s| !s.line.contains("ready hop=1"));
        let mut replay = first;
        replay.line = replay.line.replace("hop=0", "hop=1");
        replay.t = Duration::from_secs(20);
        l.push(replay);
        let v = judge(
            Expectation::Warm {
                hops: 1,
                x86_entry: None,
            },
            &l,
        );
        assert!(!v.passed);
        assert!(v.reason.contains("of an earlier boot"), "{}", v.reason);
    }

    #[test]
    fn a_missing_or_broken_marker_fails() {
        let mut l = log("x86_64-bios-warm-kexec-tools");
        l.retain(|s| !s.line.contains("ready hop=1"));
        let v = judge(
            Expectation::Warm {
                hops: 1,
                x86_entry: None,
            },
            &l,
        );
        assert!(!v.passed);
        assert!(
            v.reason.contains("never printed its ready marker"),
            "{}",
            v.reason
        );
        l.push(Stamped {
            t: Duration::from_secs(30),
            line: "@@WB broken hop=1".into(),
        });
        let v = judge(
            Expectation::Warm {
                hops: 1,
                x86_entry: None,
            },
            &l,
        );
        assert!(v.reason.contains("broken marker"), "{}", v.reason);
    }

    #[test]
    fn a_warm_reboot_that_loses_efi_fails() {
        let l: Vec<Stamped> = [
            "@@WB ready hop=0 boot_id=a efi=1",
            "@@WB reboot-request hop=0 how=kexec",
            "@@WB ready hop=1 boot_id=b efi=0",
        ]
        .iter()
        .map(|line| Stamped {
            t: Duration::ZERO,
            line: line.to_string(),
        })
        .collect();
        let v = judge(
            Expectation::Warm {
                hops: 1,
                x86_entry: None,
            },
            &l,
        );
        assert!(v.reason.contains("lost EFI"), "{}", v.reason);
    }

    /// A two-hop x86 warm run with the decompressed entry: each hop's loader line sits
    /// between the old kernel's ready marker and its reboot request, each new kernel's
    /// layout marker after its ready marker.
    fn decompressed_run(text2: &str) -> Vec<Stamped> {
        let entry = |phys: &str, text: &str, off: &str| {
            format!(
                "x86 entry: kernel proper decompressed at load, physical {phys}, virtual \
                 _text {text}, KASLR offset {off}"
            )
        };
        [
            "@@WB ready hop=0 boot_id=a efi=0".to_string(),
            "@@WB layout text=0xffffffff9b000000 kernel_code=0x5a000000 hop=0".into(),
            entry("0x0000000023000000", "0xffffffffa1400000", "0x20400000"),
            "@@WB load-done kind=normal loader=warmboot syscall=classic start=1.0 end=2.5".into(),
            "@@WB reboot-request hop=0 how=kexec".into(),
            "@@WB ready hop=1 boot_id=b efi=0".into(),
            "@@WB layout text=0xffffffffa1400000 kernel_code=0x23000000 hop=1".into(),
            entry("0x0000000031200000", "0xffffffff8f600000", "0x0e600000"),
            "@@WB reboot-request hop=1 how=kexec".into(),
            "@@WB ready hop=2 boot_id=c efi=0".into(),
            format!("@@WB layout text={text2} kernel_code=0x31200000 hop=2"),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, line)| Stamped {
            t: Duration::from_secs(i as u64),
            line,
        })
        .collect()
    }

    #[test]
    fn a_decompressed_x86_entry_must_land_where_the_loader_said_on_every_hop() {
        let asked = Expectation::Warm {
            hops: 2,
            x86_entry: Some(X86Entry::Decompressed),
        };
        let v = judge(asked, &decompressed_run("0xffffffff8f600000"));
        assert!(v.passed, "{}", v.reason);
        assert_eq!(v.downtimes.len(), 2);
        // The second kernel is not where the second load put it.
        let v = judge(asked, &decompressed_run("0xffffffff8f800000"));
        assert_eq!(
            v.reason,
            "hop 2: the new kernel's _text is 0xffffffff8f800000, the loader said \
             0xffffffff8f600000"
        );
        // Unasked (the loader's default), the decompressed entry is still checked.
        let v = judge(
            Expectation::Warm {
                hops: 2,
                x86_entry: Some(X86Entry::Auto),
            },
            &decompressed_run("0xffffffff8f800000"),
        );
        assert!(
            v.reason.starts_with("hop 2: the new kernel's _text"),
            "{}",
            v.reason
        );
        // The first kernel's layout cannot stand in for the second's: without hop 1's
        // layout marker the run fails although hop 0 printed one.
        let mut l = decompressed_run("0xffffffff8f600000");
        l.retain(|s| !s.line.contains("layout") || !s.line.contains("hop=1"));
        let v = judge(asked, &l);
        assert!(
            v.reason.contains(
                "hop 1: the loader placed the kernel itself but the new \
             kernel printed no layout marker"
            ),
            "{}",
            v.reason
        );
        // Asked for decompressed, a load that printed no entry line fails.
        let mut l = decompressed_run("0xffffffff8f600000");
        l.retain(|s| !s.line.contains("0x0000000031200000"));
        let v = judge(asked, &l);
        assert!(
            v.reason.starts_with(
                "hop 1: --x86-entry decompressed was asked but the loader \
             printed no"
            ),
            "{}",
            v.reason
        );
    }

    #[test]
    fn a_default_x86_warm_run_fails_when_kexec_load_fell_back_to_the_bzimage() {
        let default = Expectation::Warm {
            hops: 2,
            x86_entry: Some(X86Entry::Auto),
        };
        let loaded = "loaded /boot/next/vmlinuz (x86 bzImage 6.12.48+deb13-amd64) for the \
            next reboot with kexec_load (auto: kexec_load with the kernel decompressed at load \
            time (shorter reboot); kexec_file_load under lockdown)";
        let with_loaded_lines = |l: Vec<Stamped>| -> Vec<Stamped> {
            l.into_iter()
                .flat_map(|s| {
                    let mut out = Vec::new();
                    if s.line.starts_with("x86 entry:") {
                        out.push(Stamped {
                            t: s.t,
                            line: loaded.into(),
                        });
                    }
                    out.push(s);
                    out
                })
                .collect()
        };
        // Both hops entered the decompressed kernel: passes.
        let good = with_loaded_lines(decompressed_run("0xffffffff8f600000"));
        let v = judge(default, &good);
        assert!(v.passed, "{}", v.reason);
        // The second load fell back to the bzImage entry (6.12 before the loader's fix):
        // the kernel booted, but the run fails and says why.
        let fallback = "x86 entry: bzImage decompressor (invalid decompressed x86 kernel: \
            its entry is not at _text)";
        let mut bad = good.clone();
        for s in bad.iter_mut() {
            if s.line.contains("physical 0x0000000031200000") {
                s.line = fallback.into();
            }
        }
        let v = judge(default, &bad);
        assert!(!v.passed);
        assert_eq!(
            v.reason,
            "hop 1: warmboot's kexec_load fell back to the bzImage decompressor (invalid \
             decompressed x86 kernel: its entry is not at _text) under the default x86 entry"
        );
        // Asked for the bzImage entry, the same log is what was asked for ... up to the
        // first hop, which took the decompressed entry.
        let bz = Expectation::Warm {
            hops: 2,
            x86_entry: Some(X86Entry::Bzimage),
        };
        assert!(judge(bz, &bad)
            .reason
            .starts_with("hop 0: --x86-entry bzimage"));
        // kexec-tools (or arm64) runs are not judged on warmboot's x86 entry.
        let other = Expectation::Warm {
            hops: 2,
            x86_entry: None,
        };
        let v = judge(other, &bad);
        assert!(v.passed, "{}", v.reason);
    }

    #[test]
    fn every_boot_must_run_the_kernel_it_should() {
        let run = |k0: &str, k1: &str| -> Vec<Stamped> {
            [
                format!("@@WB ready hop=0 boot_id=a kernel={k0}"),
                "@@WB reboot-request hop=0 how=kexec".into(),
                format!("@@WB ready hop=1 boot_id=b kernel={k1}"),
            ]
            .into_iter()
            .map(|line| Stamped {
                t: Duration::ZERO,
                line,
            })
            .collect()
        };
        let warm = Expectation::Warm {
            hops: 1,
            x86_entry: None,
        };
        let (old, new) = ("6.1.0-56-amd64", "6.12.57+deb13-amd64");
        let up = run(old, new);
        let v = check_kernels(judge(warm, &up), warm, &up, Some(old), Some(new));
        assert!(v.passed, "{}", v.reason);
        assert_eq!(
            v.reason,
            "1 warm reboot(s) reached a new kernel: 6.1.0-56-amd64 → 6.12.57+deb13-amd64"
        );
        // The upgrade booted the old kernel again: the boot-id check cannot see that.
        let same = run(old, old);
        let v = check_kernels(judge(warm, &same), warm, &same, Some(old), Some(new));
        assert_eq!(
            v.reason,
            "hop 1: kernel 6.1.0-56-amd64 booted, expected 6.12.57+deb13-amd64 (next kernel)"
        );
        let v = check_kernels(judge(warm, &up), warm, &up, Some(new), Some(new));
        assert!(v.reason.starts_with("hop 0: kernel 6.1.0-56-amd64 booted"));
        // Unknown releases are not checked; a failed run stays failed as it was.
        let v = check_kernels(judge(warm, &same), warm, &same, None, None);
        assert!(v.passed, "{}", v.reason);
        let failed = Verdict::fail("hop 1: no");
        assert_eq!(
            check_kernels(failed.clone(), warm, &up, Some(new), Some(old)),
            failed
        );
        // A cold reset boots the first kernel again.
        let cold = run(old, old);
        let v = check_kernels(
            Verdict {
                passed: true,
                reason: "reset".into(),
                downtimes: vec![],
                load_secs: vec![],
            },
            Expectation::Cold,
            &cold,
            Some(old),
            Some(new),
        );
        assert!(v.passed, "{}", v.reason);
        // A ready marker without kernel= cannot prove anything.
        let mut bare = up.clone();
        bare[2].line = "@@WB ready hop=1 boot_id=b".into();
        let v = check_kernels(judge(warm, &bare), warm, &bare, Some(old), Some(new));
        assert_eq!(
            v.reason,
            "hop 1: the ready marker names no kernel, expected 6.12.57+deb13-amd64"
        );
    }

    #[test]
    fn guest_failures_are_reported_with_their_reason() {
        let l = vec![Stamped {
            t: Duration::ZERO,
            line: "@@WB fail hop=0 reason=kexec-tools_load_failed".into(),
        }];
        let v = judge(
            Expectation::Warm {
                hops: 1,
                x86_entry: None,
            },
            &l,
        );
        assert_eq!(
            v.reason,
            "the guest reported a failure at hop 0: kexec-tools load failed"
        );
        // warmboot's error line goes with the reason; its warnings and lines of an
        // earlier hop do not.
        let lines = [
            "warmboot: /boot/next/vmlinuz: an earlier hop's error",
            "@@WB ready hop=1 boot_id=b",
            "warmboot: warning: /run/warmboot.lock: cannot lock (No such file or directory)",
            "warmboot: /boot/next/vmlinuz: --x86-entry decompressed cannot be honoured: \
             invalid decompressed x86 kernel: its entry is not at _text",
            "@@WB fail hop=1 reason=warmboot_load_failed",
        ];
        let l: Vec<Stamped> = lines
            .iter()
            .map(|line| Stamped {
                t: Duration::ZERO,
                line: line.to_string(),
            })
            .collect();
        let warm = Expectation::Warm {
            hops: 2,
            x86_entry: None,
        };
        assert_eq!(
            judge(warm, &l).reason,
            "the guest reported a failure at hop 1: warmboot load failed (warmboot: \
             /boot/next/vmlinuz: --x86-entry decompressed cannot be honoured: invalid \
             decompressed x86 kernel: its entry is not at _text)"
        );
        let l: Vec<Stamped> = l
            .into_iter()
            .filter(|s| !s.line.contains("honoured"))
            .collect();
        assert_eq!(
            judge(warm, &l).reason,
            "the guest reported a failure at hop 1: warmboot load failed"
        );
    }

    /// `log` with `line` spliced in right after the reboot request, as a firmware would
    /// print it before the next kernel.
    fn with_line_after_request(log: &[Stamped], line: &str) -> Vec<Stamped> {
        let mut l = log.to_vec();
        let req = l
            .iter()
            .position(|s| s.line.contains("@@WB reboot-request"))
            .unwrap();
        let t = l[req].t;
        l.insert(
            req + 1,
            Stamped {
                t,
                line: line.into(),
            },
        );
        l
    }

    #[test]
    fn warm_and_panic_reboots_fail_on_a_firmware_line_naming_it() {
        let warm = Expectation::Warm {
            hops: 1,
            x86_entry: None,
        };
        let panic = Expectation::Panic {
            memory_mib: 1024,
            crash_mib: 256,
        };
        // The lines the guests of this project print when they reset (testdata/firmware-*).
        let resets = [
            "[    6.525375] reboot: Restarting system",
            "UEFI firmware (version  built at 13:10:49 on Nov  5 2024)",
            "SeaBIOS (version 1.16.2-debian-1.16.2-1)",
            "EFI stub: Booting Linux Kernel...",
        ];
        for (expect, name) in [
            (warm, "x86_64-bios-warm-kexec-tools"),
            (warm, "arm64-direct-warm-kexec-tools"),
            (panic, "x86_64-bios-panic-kexec-tools"),
        ] {
            let clean = log(name);
            assert!(judge(expect, &clean).passed, "{name}");
            for line in resets {
                let v = judge(expect, &with_line_after_request(&clean, line));
                assert!(!v.passed, "{name} with {line}");
                let quoted = format!("{:?}", line.trim());
                assert!(
                    v.reason
                        .starts_with("hop 1: the machine went through the firmware")
                        && v.reason.ends_with(&quoted),
                    "{name}: {}",
                    v.reason
                );
            }
        }
        // After the new kernel's ready marker a reset is the end of the run, not a hop.
        let mut l = log("x86_64-bios-warm-kexec-tools");
        l.push(Stamped {
            t: Duration::from_secs(99),
            line: "[   9.0] reboot: Restarting system".into(),
        });
        assert!(judge(warm, &l).passed);
    }

    #[test]
    fn captured_cold_reboots_pass() {
        for name in [
            "firmware-x86_64-bios-cold",
            "firmware-x86_64-uefi-cold",
            "firmware-arm64-uefi-cold",
            "bench-arm64-direct-cold",
            "bench-x86_64-bios-cold",
        ] {
            let v = judge(Expectation::Cold, &log(name));
            assert!(v.passed, "{name}: {}", v.reason);
        }
    }

    #[test]
    fn cold_needs_a_reset_line_between_the_boots() {
        let mut l = vec![
            Stamped {
                t: Duration::from_secs(1),
                line: "@@WB boot-count?".into(),
            },
            Stamped {
                t: Duration::from_secs(2),
                line: "@@WB ready hop=0 boot_id=a".into(),
            },
            Stamped {
                t: Duration::from_secs(3),
                line: "@@WB reboot-request hop=0 how=firmware".into(),
            },
            Stamped {
                t: Duration::from_secs(4),
                line: "@@WB boot-count?".into(),
            },
            Stamped {
                t: Duration::from_secs(5),
                line: "@@WB ready hop=1 boot_id=b".into(),
            },
        ];
        assert!(!judge(Expectation::Cold, &l).passed);
        l.insert(
            3,
            Stamped {
                t: Duration::from_secs(3),
                line: "[    3.1] reboot: Restarting system".into(),
            },
        );
        let v = judge(Expectation::Cold, &l);
        assert!(v.passed, "{}", v.reason);
        assert_eq!(v.downtimes, vec![Duration::from_secs(2)]);
    }
}
