//! The running machine's state, read through one root directory.
//!
//! Invariant: everything warmboot reads about the running machine goes through a
//! [`HostRoot`], whose root is `/` in production and a fixture tree of a real machine in
//! tests (`--root DIR` on the command line). Every error names the file it concerns; the
//! parsing of what is read lives in pure functions ([`crate::memmap`], below).
//!
//! Formats: kexec-facts §3 (kernel/ksysfs.c, kernel/resource.c, drivers/firmware/memmap.c,
//! drivers/base/cpu.c, security/lockdown/lockdown.c, drivers/of/fdt.c).

use crate::error::{Error, Result};
use crate::memmap::{parse_firmware_entry, parse_hex, FirmwareMapEntry, MemoryMap};
use serde::Serialize;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// The root every host file is read under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRoot {
    root: PathBuf,
}

impl Default for HostRoot {
    fn default() -> Self {
        HostRoot::new("/")
    }
}

impl HostRoot {
    pub fn new(root: impl Into<PathBuf>) -> HostRoot {
        HostRoot { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of `rel` (an absolute path on the real machine, e.g. "/proc/iomem") under the root.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel.trim_start_matches('/'))
    }

    /// Reads a whole file; errors name it.
    pub fn read_bytes(&self, rel: &str) -> Result<Vec<u8>> {
        let p = self.path(rel);
        std::fs::read(&p).map_err(|e| Error::Io(e).in_file(p))
    }

    /// Reads a text file; errors name it.
    pub fn read_string(&self, rel: &str) -> Result<String> {
        let p = self.path(rel);
        let bytes = std::fs::read(&p).map_err(|e| Error::Io(e).in_file(&p))?;
        String::from_utf8(bytes).map_err(|_| Error::invalid("text file", "not UTF-8").in_file(p))
    }

    /// Reads a text file that may be absent (a kernel without the feature); other errors count.
    pub fn read_optional(&self, rel: &str) -> Result<Option<String>> {
        match self.read_string(rel) {
            Ok(s) => Ok(Some(s)),
            Err(Error::File { source, .. }) if is_not_found(&source) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Parses a file with `parse`, attaching the file name to its errors.
    fn parse<T>(&self, rel: &str, parse: impl FnOnce(&str) -> Result<T>) -> Result<T> {
        let text = self.read_string(rel)?;
        parse(&text).map_err(|e| e.in_file(self.path(rel)))
    }

    /// `/proc/iomem` plus `/sys/firmware/memmap` (when present) as a [`MemoryMap`].
    pub fn memory_map(&self) -> Result<MemoryMap> {
        let firmware = self.firmware_memmap()?;
        self.parse("/proc/iomem", |t| MemoryMap::parse(t, firmware))
    }

    /// The numeric entry names N of directory `rel`, sorted; empty when it is absent.
    fn numbered_entries(&self, rel: &str) -> Result<Vec<u32>> {
        let dir = self.path(rel);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::Io(e).in_file(dir)),
        };
        let mut indices = Vec::new();
        for e in entries {
            let e = e.map_err(|e| Error::Io(e).in_file(&dir))?;
            if let Some(n) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) {
                indices.push(n);
            }
        }
        indices.sort_unstable();
        Ok(indices)
    }

    /// `/sys/firmware/memmap/N/{start,end,type}` in N order; empty when the directory is
    /// absent (non-x86 machines).
    pub fn firmware_memmap(&self) -> Result<Vec<FirmwareMapEntry>> {
        let indices = self.numbered_entries("/sys/firmware/memmap")?;
        let mut out = Vec::with_capacity(indices.len());
        for n in indices {
            let base = format!("/sys/firmware/memmap/{n}");
            let start = self.read_string(&format!("{base}/start"))?;
            let end = self.read_string(&format!("{base}/end"))?;
            let kind = self.read_string(&format!("{base}/type"))?;
            out.push(
                parse_firmware_entry(&start, &end, &kind)
                    .map_err(|e| e.in_file(self.path(&base)))?,
            );
        }
        Ok(out)
    }

    /// `/proc/cmdline` without the trailing newline.
    pub fn cmdline(&self) -> Result<String> {
        Ok(self
            .read_string("/proc/cmdline")?
            .trim_end_matches('\n')
            .to_string())
    }

    /// `/sys/kernel/kexec_loaded`.
    pub fn kexec_loaded(&self) -> Result<bool> {
        self.parse("/sys/kernel/kexec_loaded", parse_bool)
    }

    /// `/sys/kernel/kexec_crash_loaded`.
    pub fn kexec_crash_loaded(&self) -> Result<bool> {
        self.parse("/sys/kernel/kexec_crash_loaded", parse_bool)
    }

    /// `/sys/kernel/kexec_crash_size`: bytes reserved for the crash kernel.
    pub fn kexec_crash_size(&self) -> Result<u64> {
        self.parse("/sys/kernel/kexec_crash_size", parse_decimal)
    }

    /// `/sys/kernel/security/lockdown`, or None without securityfs/lockdown.
    pub fn lockdown(&self) -> Result<Option<Lockdown>> {
        let rel = "/sys/kernel/security/lockdown";
        match self.read_optional(rel)? {
            None => Ok(None),
            Some(t) => parse_lockdown(&t)
                .map(Some)
                .map_err(|e| e.in_file(self.path(rel))),
        }
    }

    /// `/sys/kernel/vmcoreinfo`: physical address and size of the vmcoreinfo note.
    pub fn vmcoreinfo(&self) -> Result<Option<(u64, u64)>> {
        let rel = "/sys/kernel/vmcoreinfo";
        match self.read_optional(rel)? {
            None => Ok(None),
            Some(t) => parse_vmcoreinfo(&t)
                .map(Some)
                .map_err(|e| e.in_file(self.path(rel))),
        }
    }

    /// `/sys/devices/system/cpu/cpuN/crash_notes` for every CPU that has one: (N, address).
    pub fn crash_notes(&self) -> Result<Vec<(u32, u64)>> {
        let dir = self.path("/sys/devices/system/cpu");
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::Io(e).in_file(dir)),
        };
        let mut out = Vec::new();
        for e in entries {
            let e = e.map_err(|e| Error::Io(e).in_file(&dir))?;
            let Some(n) = e
                .file_name()
                .to_str()
                .and_then(|n| n.strip_prefix("cpu"))
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let rel = format!("/sys/devices/system/cpu/cpu{n}/crash_notes");
            if let Some(t) = self.read_optional(&rel)? {
                let addr = parse_hex("crash_notes", &t).map_err(|e| e.in_file(self.path(&rel)))?;
                out.push((n, addr));
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// `/sys/firmware/fdt`: the DTB the running kernel booted with (arm64), if any.
    pub fn fdt(&self) -> Result<Option<Vec<u8>>> {
        let p = self.path("/sys/firmware/fdt");
        match std::fs::read(&p) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Io(e).in_file(p)),
        }
    }

    /// Whether the machine booted through EFI (`/sys/firmware/efi` exists).
    pub fn efi_booted(&self) -> bool {
        self.path("/sys/firmware/efi").is_dir()
    }

    /// `/sys/firmware/efi/systab` as (key, address) pairs, e.g. ("ACPI20", 0x3fb7e014).
    pub fn efi_systab(&self) -> Result<Option<Vec<(String, u64)>>> {
        let rel = "/sys/firmware/efi/systab";
        match self.read_optional(rel)? {
            None => Ok(None),
            Some(t) => parse_systab(&t)
                .map(Some)
                .map_err(|e| e.in_file(self.path(rel))),
        }
    }

    /// `/sys/firmware/efi/runtime-map/N/*` in N order (x86 EFI only; empty otherwise).
    pub fn efi_runtime_map(&self) -> Result<Vec<EfiRuntimeEntry>> {
        let indices = self.numbered_entries("/sys/firmware/efi/runtime-map")?;
        let mut out = Vec::with_capacity(indices.len());
        for n in indices {
            let field = |name: &'static str| -> Result<u64> {
                let rel = format!("/sys/firmware/efi/runtime-map/{n}/{name}");
                self.parse(&rel, |t| parse_hex(name, t))
            };
            out.push(EfiRuntimeEntry {
                kind: u32::try_from(field("type")?)
                    .map_err(|_| Error::invalid("EFI memory type", "above 32 bits"))?,
                phys_addr: field("phys_addr")?,
                virt_addr: field("virt_addr")?,
                num_pages: field("num_pages")?,
                attribute: field("attribute")?,
            });
        }
        Ok(out)
    }

    // --- x86 boot_params / EFI readers for crate::x86 (zero page construction) ---

    /// `/sys/kernel/boot_params/data`: the running kernel's 4096-byte zero page (x86 only,
    /// arch/x86/kernel/ksysfs.c); None when absent (other architectures, fixture trees
    /// captured without it).
    pub fn x86_boot_params(&self) -> Result<Option<Vec<u8>>> {
        let p = self.path("/sys/kernel/boot_params/data");
        match std::fs::read(&p) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Io(e).in_file(p)),
        }
    }

    /// `/sys/firmware/efi/fw_vendor` (`0x%lx`): physical address of the firmware vendor string.
    pub fn efi_fw_vendor(&self) -> Result<Option<u64>> {
        self.optional_hex("/sys/firmware/efi/fw_vendor", "EFI fw_vendor")
    }

    /// `/sys/firmware/efi/runtime` (`0x%lx`): physical address of the runtime services table.
    pub fn efi_runtime(&self) -> Result<Option<u64>> {
        self.optional_hex("/sys/firmware/efi/runtime", "EFI runtime")
    }

    /// `/sys/firmware/efi/config_table` (`0x%lx`): physical address of the configuration table.
    pub fn efi_config_table(&self) -> Result<Option<u64>> {
        self.optional_hex("/sys/firmware/efi/config_table", "EFI config_table")
    }

    fn optional_hex(&self, rel: &str, what: &'static str) -> Result<Option<u64>> {
        match self.read_optional(rel)? {
            None => Ok(None),
            Some(t) => parse_hex(what, &t)
                .map(Some)
                .map_err(|e| e.in_file(self.path(rel))),
        }
    }

    // --- end of x86 readers ---

    /// The running kernel's release (`/proc/sys/kernel/osrelease`), e.g. "6.1.0-56-amd64".
    pub fn os_release(&self) -> Result<String> {
        Ok(self
            .read_string("/proc/sys/kernel/osrelease")?
            .trim_end_matches('\n')
            .to_string())
    }

    /// The address of `symbol` in `/proc/kallsyms`, if listed (0 when hidden by kptr_restrict
    /// is reported as found-but-zero, so callers can tell the two apart).
    pub fn kallsyms_lookup(&self, symbol: &str) -> Result<Option<u64>> {
        let rel = "/proc/kallsyms";
        let text = self.read_string(rel)?;
        for line in text.lines() {
            let mut f = line.split_whitespace();
            let (Some(addr), Some(_kind), Some(name)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            if name == symbol {
                return parse_hex("kallsyms address", addr)
                    .map(Some)
                    .map_err(|e| e.in_file(self.path(rel)));
            }
        }
        Ok(None)
    }
}

fn is_not_found(e: &Error) -> bool {
    matches!(e, Error::Io(io) if io.kind() == ErrorKind::NotFound)
}

/// One `/sys/firmware/efi/runtime-map/N` entry (Documentation/ABI/testing/sysfs-firmware-efi-runtime-map).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EfiRuntimeEntry {
    /// EFI memory type (5 runtime code, 6 runtime data, ...).
    pub kind: u32,
    pub phys_addr: u64,
    pub virt_addr: u64,
    pub num_pages: u64,
    pub attribute: u64,
}

/// The kernel lockdown level (security/lockdown/lockdown.c).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lockdown {
    None,
    Integrity,
    Confidentiality,
}

impl Lockdown {
    /// Whether this level makes `kexec_load` fail with EPERM (LOCKDOWN_KEXEC).
    pub fn blocks_kexec_load(self) -> bool {
        self != Lockdown::None
    }
}

impl std::fmt::Display for Lockdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Lockdown::None => "none",
            Lockdown::Integrity => "integrity",
            Lockdown::Confidentiality => "confidentiality",
        })
    }
}

/// Parses `0\n` / `1\n`.
pub fn parse_bool(text: &str) -> Result<bool> {
    match text.trim() {
        "0" => Ok(false),
        "1" => Ok(true),
        other => Err(Error::invalid(
            "flag file",
            format!("expected 0 or 1, found {other:?}"),
        )),
    }
}

/// Parses a decimal number with optional trailing newline.
pub fn parse_decimal(text: &str) -> Result<u64> {
    let t = text.trim();
    t.parse::<u64>()
        .map_err(|_| Error::invalid("number", format!("{t:?} is not a decimal number")))
}

/// Parses the lockdown file: the current level is the bracketed word.
pub fn parse_lockdown(text: &str) -> Result<Lockdown> {
    let current = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix('[').and_then(|w| w.strip_suffix(']')))
        .ok_or_else(|| {
            Error::invalid(
                "lockdown",
                format!("no [current] level in {:?}", text.trim()),
            )
        })?;
    match current {
        "none" => Ok(Lockdown::None),
        "integrity" => Ok(Lockdown::Integrity),
        "confidentiality" => Ok(Lockdown::Confidentiality),
        other => Err(Error::invalid(
            "lockdown",
            format!("unknown level {other:?}"),
        )),
    }
}

/// Parses `/sys/kernel/vmcoreinfo`: `0x<addr> <size in hex without 0x>`.
pub fn parse_vmcoreinfo(text: &str) -> Result<(u64, u64)> {
    let mut f = text.split_whitespace();
    match (f.next(), f.next(), f.next()) {
        (Some(a), Some(s), None) => Ok((
            parse_hex("vmcoreinfo address", a)?,
            parse_hex("vmcoreinfo size", s)?,
        )),
        _ => Err(Error::invalid(
            "vmcoreinfo",
            format!("expected \"ADDRESS SIZE\", found {:?}", text.trim()),
        )),
    }
}

/// Parses `/sys/firmware/efi/systab`: `KEY=0xADDR` lines.
pub fn parse_systab(text: &str) -> Result<Vec<(String, u64)>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .ok_or_else(|| Error::invalid("EFI systab line", format!("{l:?} has no '='")))?;
            Ok((k.to_string(), parse_hex("EFI systab address", v)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_parsers() {
        assert!(parse_bool("1\n").unwrap());
        assert!(!parse_bool("0").unwrap());
        assert!(parse_bool("2\n").is_err());
        assert_eq!(parse_decimal("268435456\n").unwrap(), 0x1000_0000);
        assert!(parse_decimal("0x10").is_err());
        assert_eq!(
            parse_lockdown("none [integrity] confidentiality\n").unwrap(),
            Lockdown::Integrity
        );
        assert_eq!(
            parse_lockdown("[none] integrity confidentiality\n").unwrap(),
            Lockdown::None
        );
        assert!(parse_lockdown("none integrity\n").is_err());
        assert_eq!(
            parse_vmcoreinfo("0x0000000001338000 1024\n").unwrap(),
            (0x1338000, 0x1024)
        );
        assert!(parse_vmcoreinfo("0x1\n").is_err());
        assert_eq!(
            parse_systab("ACPI20=0x3fb7e014\nSMBIOS=0x3f918000\n").unwrap(),
            vec![
                ("ACPI20".to_string(), 0x3fb7e014),
                ("SMBIOS".to_string(), 0x3f918000)
            ]
        );
        assert!(parse_systab("ACPI20\n").is_err());
    }

    #[test]
    fn missing_and_malformed_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let host = HostRoot::new(dir.path());
        let e = host.kexec_loaded().unwrap_err().to_string();
        assert!(e.contains("sys/kernel/kexec_loaded"), "{e}");
        std::fs::create_dir_all(dir.path().join("sys/kernel")).unwrap();
        std::fs::write(dir.path().join("sys/kernel/kexec_crash_size"), "lots\n").unwrap();
        let e = host.kexec_crash_size().unwrap_err().to_string();
        assert!(
            e.contains("kexec_crash_size") && e.contains("not a decimal"),
            "{e}"
        );
        assert_eq!(host.lockdown().unwrap(), None);
        assert_eq!(host.fdt().unwrap(), None);
        assert!(host.firmware_memmap().unwrap().is_empty());
    }

    #[test]
    fn kallsyms_lookup_finds_symbols() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc")).unwrap();
        std::fs::write(
            dir.path().join("proc/kallsyms"),
            "ffffffff81000000 T _text\nffffffff81000040 T _stext\n",
        )
        .unwrap();
        let host = HostRoot::new(dir.path());
        assert_eq!(
            host.kallsyms_lookup("_stext").unwrap(),
            Some(0xffffffff81000040)
        );
        assert_eq!(host.kallsyms_lookup("_end").unwrap(), None);
    }

    #[test]
    fn crash_notes_and_os_release() {
        let dir = tempfile::tempdir().unwrap();
        let cpu = dir.path().join("sys/devices/system/cpu");
        for (n, addr) in [(1, "7fdc7600\n"), (0, "7fdc6600\n")] {
            std::fs::create_dir_all(cpu.join(format!("cpu{n}"))).unwrap();
            std::fs::write(cpu.join(format!("cpu{n}/crash_notes")), addr).unwrap();
        }
        std::fs::create_dir_all(cpu.join("cpufreq")).unwrap();
        std::fs::create_dir_all(dir.path().join("proc/sys/kernel")).unwrap();
        std::fs::write(
            dir.path().join("proc/sys/kernel/osrelease"),
            "6.1.0-56-arm64\n",
        )
        .unwrap();
        let host = HostRoot::new(dir.path());
        assert_eq!(
            host.crash_notes().unwrap(),
            vec![(0, 0x7fdc6600), (1, 0x7fdc7600)]
        );
        assert_eq!(host.os_release().unwrap(), "6.1.0-56-arm64");
        std::fs::write(cpu.join("cpu1/crash_notes"), "nothex\n").unwrap();
        let e = host.crash_notes().unwrap_err().to_string();
        assert!(e.contains("cpu1/crash_notes"), "{e}");
    }
}
