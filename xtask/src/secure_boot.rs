//! What a Secure Boot run (`--firmware secureboot`) must show besides its scenario's
//! verdict, from the guest's serial console. Pure: the verdict and stamped lines in, the
//! verdict out.
//!
//! - Every run: the first kernel reports Secure Boot on (the `SecureBoot` EFI variable's
//!   data byte is 1, or the kernel logged "Secure boot enabled") and lockdown at
//!   `integrity` or `confidentiality` (security/lockdown/lockdown.c; Debian's kernels lock
//!   down under Secure Boot, CONFIG_LOCK_DOWN_IN_EFI_SECURE_BOOT). Otherwise the run fails
//!   with a line saying which, whatever else happened.
//! - warmboot's `auto` loads: kexec_file_load chosen, and lockdown given as the reason
//!   (lockdown refuses kexec_load: kernel/kexec.c `kexec_load_check`).
//! - `--scenario lockdown`: each refusal with a failing exit status, one error line naming
//!   what the contract asks, and nothing loaded afterwards (`/sys/kernel/kexec_loaded`
//!   and `kexec_crash_loaded` 0); `warmboot unload` leaving nothing loaded; `warmboot
//!   reboot --cold` saying it unloaded before the firmware reset the verdict proved.

use crate::scenario::Scenario;
use crate::serial::{markers, Marker, Stamped};
use crate::verdict::Verdict;
use base64::Engine as _;

/// Where the lockdown scenario's guest puts the kernel without its signature.
pub const UNSIGNED_KERNEL: &str = "/boot/next/vmlinuz-unsigned";

/// A load lockdown must refuse: the guest's case name and what its error line must
/// contain (the loader's message contract, so that its wording may change).
struct Refusal {
    case: &'static str,
    must_contain: &'static [&'static str],
}

const REFUSALS: &[Refusal] = &[
    // kexec_file_load of a kernel without a signature: "signature" and the file.
    Refusal {
        case: "unsigned",
        must_contain: &["signature", UNSIGNED_KERNEL],
    },
    Refusal {
        case: "unsigned-panic",
        must_contain: &["signature", UNSIGNED_KERNEL],
    },
    // kexec_load: refused under lockdown, and the line says so.
    Refusal {
        case: "classic",
        must_contain: &["lockdown"],
    },
];

/// What `warmboot reboot --cold` prints when it unloads first (loader commands/reboot.rs).
const COLD_UNLOADED: &str = "unloaded the loaded kernel (--cold)";

/// The Secure Boot checks for a run of `scenario`; `auto_warmboot`: warmboot loaded with
/// `--syscall auto`, whose choice must be kexec_file_load because of lockdown.
pub fn judge(v: Verdict, scenario: Scenario, auto_warmboot: bool, log: &[Stamped]) -> Verdict {
    let ms = markers(log);
    let state = match state(&ms) {
        Ok(s) => s,
        Err(reason) => return fail(v, reason),
    };
    if !v.passed {
        return v;
    }
    let extra = match scenario {
        Scenario::Warm | Scenario::Panic if auto_warmboot => auto_choice(log, &ms),
        Scenario::Lockdown => lockdown(log, &ms),
        _ => Ok(String::new()),
    };
    match extra {
        Ok(said) => Verdict {
            reason: format!("{}; Secure Boot on, lockdown {state}{said}", v.reason),
            ..v
        },
        Err(reason) => fail(v, reason),
    }
}

fn fail(v: Verdict, reason: String) -> Verdict {
    Verdict {
        passed: false,
        reason,
        ..v
    }
}

/// The first kernel's `secureboot` marker: the lockdown level when both are on.
fn state(ms: &[Marker]) -> Result<String, String> {
    let m = ms
        .iter()
        .find(|m| m.event == "secureboot" && m.get("hop") == Some("0"))
        .ok_or("the first kernel printed no secureboot marker (no wb.sb=1, or it never booted)")?;
    let efivar = m.get("efivar").unwrap_or("none");
    if efivar != "1" && m.get("dmesg") != Some("1") {
        // Debian builds efivarfs as a module, which the test initramfs lacks: then only
        // the kernel's log tells.
        let var = match efivar {
            "none" => "could not be read (no efivarfs)".to_string(),
            v => format!("has data byte {v}"),
        };
        return Err(format!(
            "Secure Boot is off in the guest: the SecureBoot EFI variable {var} and the \
             kernel did not log \"Secure boot enabled\""
        ));
    }
    match m.get("lockdown").unwrap_or("none") {
        l @ ("integrity" | "confidentiality") => Ok(l.to_string()),
        l => Err(format!(
            "Secure Boot is on but lockdown is {l}, not integrity or confidentiality \
             (/sys/kernel/security/lockdown)"
        )),
    }
}

/// Every `loaded …` line of warmboot before the first reboot request says
/// kexec_file_load, for lockdown.
fn auto_choice(log: &[Stamped], ms: &[Marker]) -> Result<String, String> {
    let end = ms
        .iter()
        .find(|m| m.event == "reboot-request")
        .map_or(log.len(), |m| m.index);
    let loaded: Vec<&str> = log
        .get(..end)
        .unwrap_or(log)
        .iter()
        .map(|s| s.line.trim())
        .filter(|l| l.starts_with("loaded "))
        .collect();
    let Some(line) = loaded.first() else {
        return Err("warmboot printed no \"loaded …\" line under Secure Boot".into());
    };
    if !(line.contains("with kexec_file_load") && line.contains("lockdown")) {
        return Err(format!(
            "under lockdown warmboot's auto must choose kexec_file_load and say so; it said: {line}"
        ));
    }
    Ok("; auto chose kexec_file_load for lockdown".into())
}

/// The lockdown scenario's refusals, unloads and cold reboot.
fn lockdown(log: &[Stamped], ms: &[Marker]) -> Result<String, String> {
    let mut problems = Vec::new();
    let mut refused = Vec::new();
    for r in REFUSALS {
        match refusal(ms, r) {
            Ok(line) => refused.push(format!("{} ({line})", r.case)),
            Err(p) => problems.push(format!("{}: {p}", r.case)),
        }
    }
    for (kind, file) in [("panic", "kexec_crash_loaded"), ("normal", "kexec_loaded")] {
        match ms
            .iter()
            .find(|m| m.event == "unloaded" && m.get("kind") == Some(kind))
        {
            None => problems.push(format!("no unload of the {kind} kernel reported")),
            Some(m) if m.get(file) != Some("0") => problems.push(format!(
                "after `warmboot unload` ({kind}) {file} is {}",
                m.get(file).unwrap_or("?")
            )),
            Some(_) => {}
        }
    }
    let request = ms
        .iter()
        .find(|m| m.event == "reboot-request")
        .map_or(log.len(), |m| m.index);
    if !log
        .get(request..)
        .unwrap_or_default()
        .iter()
        .any(|s| s.line.contains(COLD_UNLOADED))
    {
        problems.push(format!(
            "`warmboot reboot --cold` did not say \"{COLD_UNLOADED}\""
        ));
    }
    if problems.is_empty() {
        Ok(format!(
            "; refused with nothing loaded: {}; unload (normal, panic) and reboot --cold worked",
            refused.join(", ")
        ))
    } else {
        Err(format!("under lockdown: {}", problems.join("; ")))
    }
}

/// One refusal's marker checked: the exit status and error line, when it passes.
fn refusal(ms: &[Marker], r: &Refusal) -> Result<String, String> {
    let m = ms
        .iter()
        .find(|m| m.event == "refused" && m.get("case") == Some(r.case))
        .ok_or("the guest never tried it")?;
    let line = m
        .get("msg")
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map(|b| String::from_utf8_lossy(&b).trim_end().to_string())
        .unwrap_or_default();
    let exit = m.get("exit").unwrap_or("?");
    if exit == "0" {
        return Err("warmboot loaded it (exit status 0)".into());
    }
    for file in ["kexec_loaded", "kexec_crash_loaded"] {
        if m.get(file) != Some("0") {
            return Err(format!(
                "{file} is {} after the refusal",
                m.get(file).unwrap_or("?")
            ));
        }
    }
    if m.get("lines") != Some("1") {
        return Err(format!(
            "{} error lines instead of one (first: {line:?})",
            m.get("lines").unwrap_or("?")
        ));
    }
    let missing: Vec<&str> = r
        .must_contain
        .iter()
        .copied()
        .filter(|w| !line.contains(w))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "its error line lacks {}: {line:?}",
            missing
                .iter()
                .map(|w| format!("{w:?}"))
                .collect::<Vec<_>>()
                .join(" and ")
        ));
    }
    Ok(format!("exit {exit}: {line}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serial::parse_saved_log;
    use crate::verdict::{judge as judge_scenario, Expectation};

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    const SB: &str = "[    2.00] @@WB secureboot hop=0 efivar=1 dmesg=1 lockdown=integrity\n";

    fn warm_log(loaded: &str) -> String {
        format!(
            "[    1.90] @@WB ready hop=0 boot_id=a kernel=k scenario=warm efi=1 uptime=2\n{SB}\
             [    3.00] {loaded}\n\
             [    3.10] @@WB load-done kind=normal loader=warmboot syscall=auto start=2 end=3\n\
             [    3.20] @@WB reboot-request hop=0 how=kexec\n\
             [    5.00] @@WB ready hop=1 boot_id=b kernel=k scenario=warm efi=1 uptime=1\n\
             [    5.10] @@WB done hop=1\n"
        )
    }

    const AUTO_LINE: &str = "loaded vmlinuz (bzImage, 8.0 MiB) with kexec_file_load (auto: \
        lockdown is on, which refuses kexec_load; kexec_file_load can still load a signed kernel)";

    fn run(scenario: Scenario, expect: Expectation, log: &str) -> Verdict {
        let log = parse_saved_log(log);
        judge(judge_scenario(expect, &log), scenario, true, &log)
    }

    const WARM: Expectation = Expectation::Warm {
        hops: 1,
        x86_entry: None,
    };

    #[test]
    fn a_warm_reboot_passes_only_with_secure_boot_lockdown_and_auto_saying_why() {
        let v = run(Scenario::Warm, WARM, &warm_log(AUTO_LINE));
        assert!(v.passed, "{}", v.reason);
        assert!(
            v.reason.ends_with(
                "; Secure Boot on, lockdown integrity; auto chose kexec_file_load for lockdown"
            ),
            "{}",
            v.reason
        );
        let classic = AUTO_LINE.replace("with kexec_file_load", "with kexec_load");
        let v = run(Scenario::Warm, WARM, &warm_log(&classic));
        assert!(!v.passed);
        assert!(
            v.reason
                .starts_with("under lockdown warmboot's auto must choose"),
            "{}",
            v.reason
        );
        let v = run(Scenario::Warm, WARM, &warm_log("nothing"));
        assert!(v.reason.contains("no \"loaded …\" line"), "{}", v.reason);
    }

    #[test]
    fn secure_boot_off_or_no_lockdown_fails_the_run_saying_which() {
        let off = warm_log(AUTO_LINE).replace("efivar=1 dmesg=1", "efivar=0 dmesg=0");
        let v = run(Scenario::Warm, WARM, &off);
        assert!(!v.passed);
        assert_eq!(
            v.reason,
            "Secure Boot is off in the guest: the SecureBoot EFI variable has data byte 0 \
             and the kernel did not log \"Secure boot enabled\""
        );
        // Either sign is enough for Secure Boot; lockdown none is not.
        let none = warm_log(AUTO_LINE).replace(
            "efivar=1 dmesg=1 lockdown=integrity",
            "efivar=none dmesg=1 lockdown=none",
        );
        let v = run(Scenario::Warm, WARM, &none);
        assert!(
            v.reason
                .starts_with("Secure Boot is on but lockdown is none"),
            "{}",
            v.reason
        );
        let missing = warm_log(AUTO_LINE).replace(SB, "");
        let v = run(Scenario::Warm, WARM, &missing);
        assert!(
            v.reason
                .starts_with("the first kernel printed no secureboot marker"),
            "{}",
            v.reason
        );
        // The state is judged even when the scenario failed: it is the likelier cause.
        let failed = off.replace("hop=1 boot_id=b", "hop=1 boot_id=a");
        let v = run(Scenario::Warm, WARM, &failed);
        assert!(v.reason.starts_with("Secure Boot is off"), "{}", v.reason);
    }

    fn lockdown_log(unsigned_msg: &str, classic_msg: &str, crash_loaded: &str) -> String {
        format!(
            "[    1.90] @@WB boot-count?\n\
             [    1.95] @@WB ready hop=0 boot_id=a kernel=k scenario=lockdown efi=1 uptime=2\n{SB}\
             [    3.00] @@WB refused case=unsigned exit=1 lines=1 kexec_loaded=0 kexec_crash_loaded=0 msg={}\n\
             [    3.10] @@WB refused case=unsigned-panic exit=1 lines=1 kexec_loaded=0 kexec_crash_loaded={crash_loaded} msg={}\n\
             [    3.20] @@WB refused case=classic exit=1 lines=1 kexec_loaded=0 kexec_crash_loaded=0 msg={}\n\
             [    4.00] @@WB unloaded kind=panic kexec_crash_loaded=0\n\
             [    4.10] @@WB unloaded kind=normal kexec_loaded=0\n\
             [    4.20] @@WB reboot-request hop=0 how=firmware\n\
             [    4.30] {COLD_UNLOADED}\n\
             [    4.40] [    9.100000] reboot: Restarting system\n\
             [    9.00] @@WB boot-count?\n\
             [    9.50] @@WB ready hop=1 boot_id=c kernel=k scenario=lockdown efi=1 uptime=2\n\
             [    9.60] @@WB done hop=1\n",
            b64(unsigned_msg),
            b64(unsigned_msg),
            b64(classic_msg)
        )
    }

    const UNSIGNED_MSG: &str = "warmboot: /boot/next/vmlinuz-unsigned: kexec_file_load: the \
        kernel's signature is missing and lockdown requires one";
    const CLASSIC_MSG: &str = "warmboot: kexec_load is refused under lockdown";

    #[test]
    fn the_lockdown_scenario_needs_every_refusal_unload_and_the_cold_reboot() {
        let v = run(
            Scenario::Lockdown,
            Expectation::Cold,
            &lockdown_log(UNSIGNED_MSG, CLASSIC_MSG, "0"),
        );
        assert!(v.passed, "{}", v.reason);
        assert!(
            v.reason.contains(&format!(
                "refused with nothing loaded: unsigned (exit 1: {UNSIGNED_MSG})"
            )),
            "{}",
            v.reason
        );
        // The stripped kernel's line must say "signature" and name the file; classic's
        // must say "lockdown"; a crash kernel left loaded fails; all problems are listed.
        let v = run(
            Scenario::Lockdown,
            Expectation::Cold,
            &lockdown_log(
                "warmboot: kexec_file_load: Operation not permitted",
                "warmboot: kexec_load: Operation not permitted",
                "1",
            ),
        );
        assert!(!v.passed);
        for want in [
            "under lockdown: unsigned: its error line lacks \"signature\" and \"/boot/next/vmlinuz-unsigned\"",
            "unsigned-panic: kexec_crash_loaded is 1 after the refusal",
            "classic: its error line lacks \"lockdown\"",
        ] {
            assert!(v.reason.contains(want), "{want:?} not in {}", v.reason);
        }
        let loaded = lockdown_log(UNSIGNED_MSG, CLASSIC_MSG, "0")
            .replace("case=classic exit=1", "case=classic exit=0")
            .replace("kind=normal kexec_loaded=0", "kind=normal kexec_loaded=1")
            .replace(COLD_UNLOADED, "rebooting");
        let v = run(Scenario::Lockdown, Expectation::Cold, &loaded);
        for want in [
            "classic: warmboot loaded it (exit status 0)",
            "after `warmboot unload` (normal) kexec_loaded is 1",
            "`warmboot reboot --cold` did not say",
        ] {
            assert!(v.reason.contains(want), "{want:?} not in {}", v.reason);
        }
        let two_lines = lockdown_log(UNSIGNED_MSG, CLASSIC_MSG, "0").replace(
            "case=unsigned exit=1 lines=1",
            "case=unsigned exit=1 lines=2",
        );
        let v = run(Scenario::Lockdown, Expectation::Cold, &two_lines);
        assert!(
            v.reason.contains("unsigned: 2 error lines instead of one"),
            "{}",
            v.reason
        );
    }
}
