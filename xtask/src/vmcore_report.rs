//! The capture kernel's report on /proc/vmcore, as the test guest (images/initramfs/init
//! `check_vmcore`) and the e2e guest (images/e2e/e2e-step) print it from
//! `warmboot x-check-vmcore` (loader/src/crash/vmcore_check.rs): `ok=1 loads=N
//! expected_kib=… covered_kib=… missing_kib=… excused_kib=… outside_kib=… tolerance_kib=…
//! pages_read=N loads_read=N`, plus `size=` (bytes of /proc/vmcore) from the test guest.
//!
//! The guest already failed if its check did; the harness checks the numbers again and
//! against the guest it started, so that a guest-side bug that prints `ok=1` regardless,
//! or a check run against the wrong memory map, cannot pass. Pure: words in, verdict out.

use std::collections::BTreeMap;

/// `key=value` words of a report line (other words are ignored).
pub fn fields(text: &str) -> BTreeMap<String, String> {
    text.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Passes a report when: it says ok=1; every PT_LOAD was read (`loads_read == loads`, at
/// least one); no PT_LOAD reaches outside the first kernel's System RAM; what is missing
/// stays within the guest's stated tolerance; covered + missing + excused add up to what
/// was expected; and what was expected is the RAM of a `memory_mib` guest minus
/// `crash_mib`, less at most 1/16 for firmware holes. `size`, when given, must be at
/// least the covered bytes. A pass says what was covered and read, in one phrase.
pub fn check(
    report: &BTreeMap<String, String>,
    memory_mib: u64,
    crash_mib: u64,
) -> Result<String, String> {
    if report.get("ok").map(String::as_str) != Some("1") {
        return Err("the capture kernel could not check /proc/vmcore".into());
    }
    let field = |key: &str| -> Result<u64, String> {
        report.get(key).and_then(|s| s.parse().ok()).ok_or_else(|| {
            format!("the vmcore report has no {key}= (a guest older than the harness?)")
        })
    };
    let loads = field("loads")?;
    let loads_read = field("loads_read")?;
    let expected = field("expected_kib")?;
    let covered = field("covered_kib")?;
    let missing = field("missing_kib")?;
    let excused = field("excused_kib")?;
    let outside = field("outside_kib")?;
    let tolerance = field("tolerance_kib")?;
    if loads == 0 || loads_read != loads {
        return Err(format!(
            "only {loads_read} of the dump's {loads} PT_LOADs could be read"
        ));
    }
    if outside > 0 {
        return Err(format!(
            "the dump's PT_LOADs reach {outside} KiB outside the first kernel's System RAM"
        ));
    }
    if missing > tolerance {
        return Err(format!(
            "the dump misses {missing} KiB of the first kernel's RAM (tolerance {tolerance} KiB)"
        ));
    }
    if covered + missing + excused != expected {
        return Err(format!(
            "the vmcore report does not add up: covered {covered} + missing {missing} + \
             excused {excused} KiB is not the {expected} KiB expected"
        ));
    }
    let ram_kib = memory_mib.saturating_sub(crash_mib) << 10;
    let low = ram_kib - ram_kib / 16;
    if expected > ram_kib || expected < low {
        return Err(format!(
            "the capture kernel expected {expected} KiB of RAM in the dump; a {memory_mib} MiB \
             guest with {crash_mib} MiB reserved has between {low} and {ram_kib}"
        ));
    }
    if let Some(size) = report.get("size") {
        let size: u64 = size
            .parse()
            .map_err(|_| format!("the vmcore report's size={size} is not a number"))?;
        if size < covered << 10 {
            return Err(format!(
                "/proc/vmcore is {size} bytes, less than the {covered} KiB its PT_LOADs cover"
            ));
        }
    }
    Ok(format!(
        "its PT_LOADs cover {covered} of {expected} KiB expected{}, all {loads} read",
        if excused > 0 {
            format!(" ({excused} KiB below 1 MiB left out, as the kernel does)")
        } else {
            String::new()
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real report: x86_64, SeaBIOS, 1 GiB, crashkernel=256M, warmboot's panic load
    /// through kexec_file_load (the run that gave the loader's fixture
    /// tests/fixtures/vmcore/x86_64-bios-m1024-kexec_file-warmboot).
    const X86: &str = "ok=1 loads=3 expected_kib=785915 covered_kib=785280 missing_kib=0 \
        excused_kib=635 outside_kib=0 tolerance_kib=64 pages_read=6 loads_read=3 \
        size=858857472 capture_memtotal_kib=205784";

    fn with(from: &str, to: &str) -> Result<(), String> {
        assert!(X86.contains(from), "{from}");
        check(&fields(&X86.replacen(from, to, 1)), 1024, 256).map(drop)
    }

    #[test]
    fn a_real_report_passes_and_each_broken_number_fails() {
        assert_eq!(
            check(&fields(X86), 1024, 256).as_deref(),
            Ok(
                "its PT_LOADs cover 785280 of 785915 KiB expected (635 KiB below 1 MiB left \
                out, as the kernel does), all 3 read"
            )
        );
        assert_eq!(
            with("loads_read=3", "loads_read=2"),
            Err("only 2 of the dump's 3 PT_LOADs could be read".into())
        );
        assert_eq!(
            with("outside_kib=0", "outside_kib=4"),
            Err("the dump's PT_LOADs reach 4 KiB outside the first kernel's System RAM".into())
        );
        assert_eq!(
            with("missing_kib=0", "missing_kib=65"),
            Err("the dump misses 65 KiB of the first kernel's RAM (tolerance 64 KiB)".into())
        );
        assert!(with("covered_kib=785280", "covered_kib=785000")
            .unwrap_err()
            .starts_with("the vmcore report does not add up"));
        assert_eq!(
            with("ok=1", "ok=0"),
            Err("the capture kernel could not check /proc/vmcore".into())
        );
        assert!(with("pages_read=6 loads_read=3", "pages_read=6")
            .unwrap_err()
            .contains("no loads_read="));
        assert!(with("size=858857472", "size=4096")
            .unwrap_err()
            .starts_with("/proc/vmcore is 4096 bytes"));
        // The same report cannot come from a 4 GiB guest, nor from one without the
        // reservation taken off.
        assert!(check(&fields(X86), 4096, 256)
            .unwrap_err()
            .starts_with("the capture kernel expected 785915 KiB"));
        assert!(check(&fields(X86), 1024, 0).is_err());
    }
}
