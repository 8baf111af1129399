//! The line warmboot's `--verify` purgatory prints on the serial console when it refuses
//! to boot (purgatory/src/line.rs writes it), found in a run's log: so that a refused plan
//! ends the run as soon as the line arrives instead of at the timeout, and the verdict
//! quotes it ("the purgatory refused the plan: …") instead of "the new kernel never
//! printed its ready marker". Pure: lines in, findings out.
//!
//! Only lines that follow the purgatory's grammar count (its prefix, then a segment
//! refusal or a malformed block, ending with "; halting instead of booting"), so that the
//! loader's own messages about the purgatory never pass for it.

use crate::serial::{markers, Stamped};
use crate::verdict::Verdict;
use std::time::Duration;
use warmboot_purgatory::line::PREFIX;

/// How a verdict names a refusal; the matrix's must-fail cases look for it.
pub const REASON: &str = "the purgatory refused the plan: ";

/// The purgatory's line in one serial line: the text from its prefix on, if the rest
/// follows the purgatory's grammar.
pub fn in_line(line: &str) -> Option<&str> {
    let at = line.find(PREFIX)?;
    let text = line[at..].trim_end();
    let body = &text[PREFIX.len()..];
    let known = body.starts_with("segment ")
        || body.starts_with("the parameter block lists ")
        || body.starts_with("its parameter block ");
    (known && text.contains("; halting instead of booting")).then_some(text)
}

/// The first purgatory line in a run's log, with the host time it was read.
pub fn find(log: &[Stamped]) -> Option<(Duration, &str)> {
    log.iter().find_map(|s| in_line(&s.line).map(|t| (s.t, t)))
}

/// Seconds from the last reboot request before the purgatory's line to the line: how long
/// the purgatory took to hash and refuse (plus the old kernel's shutdown).
pub fn delay(log: &[Stamped]) -> Option<Duration> {
    let (t, _) = find(log)?;
    let req = markers(log)
        .into_iter()
        .rev()
        .find(|m| m.event == "reboot-request" && m.t <= t)?;
    Some(t.saturating_sub(req.t))
}

/// A failed verdict of a run whose log holds the purgatory's line gets that line as its
/// reason, then how long after the reboot request it came; a passed verdict, or a log
/// without the line, is left as it is.
pub fn explain(verdict: &mut Verdict, log: &[Stamped]) {
    if verdict.passed {
        return;
    }
    if let Some((_, text)) = find(log) {
        verdict.reason = format!("{REASON}{text}");
        if let Some(d) = delay(log) {
            verdict.reason += &format!(" [{:.2} s after the reboot request]", d.as_secs_f64());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::{judge, Expectation};
    use warmboot_purgatory::{line, Refusal};

    /// A refusal of one segment, parsed back from the line.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Mismatch {
        index: usize,
        addr: u64,
        len: u64,
        /// The digests as printed (64 lower-case hex digits each).
        actual: String,
        expected: String,
    }

    /// The segment refusal in a purgatory line, parsed: `segment <i> at 0x<addr> (0x<len>
    /// bytes): SHA-256 is <hex> but the plan says <hex>; …`.
    fn mismatch(text: &str) -> Option<Mismatch> {
        let body = text.strip_prefix(PREFIX)?.strip_prefix("segment ")?;
        let (index, rest) = body.split_once(" at 0x")?;
        let (addr, rest) = rest.split_once(" (0x")?;
        let (len, rest) = rest.split_once(" bytes): SHA-256 is ")?;
        let (actual, rest) = rest.split_once(" but the plan says ")?;
        let (expected, _) = rest.split_once("; halting")?;
        let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex64(actual) || !hex64(expected) {
            return None;
        }
        Some(Mismatch {
            index: index.parse().ok()?,
            addr: u64::from_str_radix(addr, 16).ok()?,
            len: u64::from_str_radix(len, 16).ok()?,
            actual: actual.to_string(),
            expected: expected.to_string(),
        })
    }

    fn stamped(lines: &[(f64, &str)]) -> Vec<Stamped> {
        lines
            .iter()
            .map(|&(t, l)| Stamped {
                t: Duration::from_secs_f64(t),
                line: l.to_string(),
            })
            .collect()
    }

    /// The line exactly as the purgatory formats it.
    fn printed(r: &Refusal) -> String {
        String::from_utf8(line::refusal(r).as_bytes().to_vec()).unwrap()
    }

    fn refusal() -> Refusal {
        let mut expected = [0x9c; 32];
        expected[31] = 0x1f;
        Refusal::Mismatch {
            index: 6,
            addr: 0x3ff5_6000,
            len: 0x3000,
            actual: [0x5e; 32],
            expected,
        }
    }

    /// A warm run on x86_64 whose purgatory refused, as the serial log shows it.
    fn refused_run(purgatory: &str) -> Vec<Stamped> {
        stamped(&[
            (0.4, "SeaBIOS (version 1.16.2-debian-1.16.2-1)"),
            (9.5, "@@WB ready hop=0 boot_id=aaaa kernel=6.1.0-56-amd64"),
            (
                12.0,
                "@@WB load-done loader=warmboot verify=corrupt start=1 end=2",
            ),
            (12.1, "@@WB reboot-request how=kexec hop=0"),
            (12.3, "[   11.9] kexec_core: Starting new kernel"),
            (14.6, purgatory),
        ])
    }

    #[test]
    fn the_purgatorys_own_line_is_found_parsed_and_timed() {
        let text = printed(&refusal());
        let log = refused_run(&text);
        let (t, found) = find(&log).unwrap();
        assert_eq!(found, text);
        assert_eq!(t, Duration::from_secs_f64(14.6));
        let m = mismatch(found).unwrap();
        assert_eq!((m.index, m.addr, m.len), (6, 0x3ff5_6000, 0x3000));
        assert_eq!(m.actual, "5e".repeat(32));
        assert_eq!(m.expected, format!("{}1f", "9c".repeat(31)));
        let d = delay(&log).unwrap().as_secs_f64();
        assert!((d - 2.5).abs() < 1e-9, "{d}");
        // Escape codes, a CR or kernel text before it on the same line do not hide it.
        let log = refused_run(&format!("\u{1b}[0m[  11.9] Bye!{text}\r"));
        assert_eq!(find(&log).unwrap().1, text.as_str());
        // Malformed blocks are refusals too.
        for r in [Refusal::Count(0), Refusal::NotABlock] {
            let t = printed(&r);
            assert_eq!(in_line(&t), Some(t.as_str()));
            assert_eq!(mismatch(&t), None);
        }
    }

    #[test]
    fn the_loaders_messages_about_the_purgatory_do_not_count() {
        for l in [
            "note: --verify: purgatory at 0x7fe00000 checks the SHA-256 of the other 5 segments",
            "warmboot: invalid purgatory: the plan has no purgatory segment",
            "warmboot purgatory: segment 1 at 0x1000 (0x10 bytes): SHA-256 is",
            "@@WB load-done loader=warmboot verify=corrupt",
        ] {
            assert_eq!(in_line(l), None, "{l}");
        }
        // A cut line (lost characters) is still the purgatory's, but not a parsed mismatch.
        let cut = printed(&refusal()).replace("5e5e5e", "5e");
        assert!(in_line(&cut).is_some());
        assert_eq!(mismatch(&cut), None);
    }

    #[test]
    fn a_refused_run_fails_with_the_line_as_its_reason() {
        let text = printed(&refusal());
        let log = refused_run(&text);
        let mut v = judge(
            Expectation::Warm {
                hops: 1,
                x86_entry: None,
            },
            &log,
        );
        assert!(!v.passed);
        assert!(
            v.reason.contains("never printed its ready marker"),
            "{}",
            v.reason
        );
        explain(&mut v, &log);
        assert!(!v.passed);
        assert_eq!(
            v.reason,
            format!("{REASON}{text} [2.50 s after the reboot request]")
        );
        // Without the line the reason stays the verdict's own.
        let mut quiet = refused_run("");
        quiet.pop();
        let mut v = judge(
            Expectation::Warm {
                hops: 1,
                x86_entry: None,
            },
            &quiet,
        );
        let before = v.reason.clone();
        explain(&mut v, &quiet);
        assert_eq!(v.reason, before);
        assert_eq!(delay(&quiet), None);
        // A passed verdict is never rewritten, whatever the log holds.
        let mut passed = Verdict {
            passed: true,
            reason: "1 warm reboot(s) reached a new kernel".into(),
            downtimes: Vec::new(),
            load_secs: Vec::new(),
        };
        explain(&mut passed, &log);
        assert!(passed.passed);
        assert_eq!(passed.reason, "1 warm reboot(s) reached a new kernel");
    }
}
