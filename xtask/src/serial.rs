//! The guest's serial console as the harness sees it: lines stamped with host monotonic
//! time, and the markers the guest's init prints to say what happened.
//!
//! Marker lines have the form `@@WB <event> key=value ...` and are matched as substrings,
//! since firmware escape codes can land on the same line (../shared/notes/qemu.md).
//! Everything here is pure so it is tested on captured logs.

use std::collections::BTreeMap;
use std::time::Duration;

/// The prefix every marker line carries.
pub const MARKER: &str = "@@WB ";

/// One line of serial output and when the host read it, from the start of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamped {
    pub t: Duration,
    pub line: String,
}

/// A marker printed by the guest's init.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub t: Duration,
    /// Index of the line in the log.
    pub index: usize,
    pub event: String,
    pub fields: BTreeMap<String, String>,
}

impl Marker {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }
}

/// Parses the marker in `line`, if there is one.
pub fn parse_marker(line: &str) -> Option<(String, BTreeMap<String, String>)> {
    let at = line.find(MARKER)?;
    let mut words = line[at + MARKER.len()..].split_whitespace();
    let event = words.next()?.to_string();
    let fields = words
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Some((event, fields))
}

/// All markers in a stamped log, in order.
pub fn markers(log: &[Stamped]) -> Vec<Marker> {
    log.iter()
        .enumerate()
        .filter_map(|(index, s)| {
            parse_marker(&s.line).map(|(event, fields)| Marker {
                t: s.t,
                index,
                event,
                fields,
            })
        })
        .collect()
}

/// Strips ANSI/VT100 escape sequences and carriage returns from a raw serial line.
pub fn clean_line(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                // CSI: ESC [ params final-byte; other escapes: ESC + one char.
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                } else {
                    chars.next();
                }
            }
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Parses a saved log as written by the harness (`[   12.345678] line`) back into
/// stamped lines, so captured runs can be re-judged in tests.
#[cfg(test)]
pub fn parse_saved_log(text: &str) -> Vec<Stamped> {
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix('[')?;
            let (secs, line) = rest.split_once("] ")?;
            let secs: f64 = secs.trim().parse().ok()?;
            Some(Stamped {
                t: Duration::from_secs_f64(secs),
                line: line.to_string(),
            })
        })
        .collect()
}

/// Renders a stamped line the way the harness saves it.
pub fn render_line(s: &Stamped) -> String {
    format!("[{:12.6}] {}", s.t.as_secs_f64(), s.line)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPTURED: &str = "\
[    0.412000] SeaBIOS (version 1.16.2-debian-1.16.2-1)
[    6.701000] [    0.000000] Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org)
[   10.950000] \x1b[2J\x1b[01;01H@@WB ready hop=0 boot_id=0b7c kernel=6.1.0-56-amd64
[   11.100000] @@WB load-done loader=warmboot secs=0.84
[   11.200000] @@WB reboot-request
[   11.300000] [   12.000000] kexec_core: Starting new kernel
[   11.900000] [    0.000000] Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org)
[   15.250000] @@WB ready hop=1 boot_id=9f2a kernel=6.1.0-56-amd64
";

    #[test]
    fn markers_are_found_in_a_captured_log_even_behind_escape_codes() {
        let log = parse_saved_log(CAPTURED);
        assert_eq!(log.len(), 8);
        let m = markers(&log);
        let events: Vec<&str> = m.iter().map(|m| m.event.as_str()).collect();
        assert_eq!(events, ["ready", "load-done", "reboot-request", "ready"]);
        assert_eq!(m[0].get("hop"), Some("0"));
        assert_eq!(m[3].get("boot_id"), Some("9f2a"));
        assert_eq!(m[3].t, Duration::from_secs_f64(15.25));
        assert_eq!(m[1].get("secs"), Some("0.84"));
    }

    #[test]
    fn clean_line_removes_escape_sequences_and_carriage_returns() {
        assert_eq!(clean_line("\x1b[2J\x1b[01;01Habc\r"), "abc");
        assert_eq!(clean_line("plain"), "plain");
        assert_eq!(clean_line("\x1bcX"), "X");
    }

    #[test]
    fn saved_lines_round_trip() {
        let s = Stamped {
            t: Duration::from_millis(12_345),
            line: "@@WB ready hop=2".into(),
        };
        assert_eq!(parse_saved_log(&render_line(&s)), vec![s]);
    }

    #[test]
    fn lines_without_markers_or_with_bare_prefix_are_not_markers() {
        assert_eq!(parse_marker("Linux version 6.1"), None);
        assert_eq!(parse_marker("@@WB "), None);
        assert_eq!(parse_marker("xx@@WB ok a=b c").unwrap().1.len(), 1);
    }
}
