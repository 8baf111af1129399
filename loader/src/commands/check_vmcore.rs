//! `warmboot x-check-vmcore` (hidden, for test guests): in a capture kernel, checks that
//! /proc/vmcore's `PT_LOAD`s cover the first kernel's RAM ([`crate::crash::vmcore_check`])
//! and that a page at the start and at the end of every `PT_LOAD` can be read.
//!
//! The first kernel's `/proc/iomem` must be handed over as a file (the test guest packs it
//! into the capture initrd): the capture kernel's own iomem shows only the crash
//! reservation. Prints one line of `key=value` words the QEMU harness parses; a dump that
//! fails the check is an error naming the file and what is missing.

use crate::crash::vmcore_check::{self, Coverage};
use crate::error::{Error, Result};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Bytes read at each probed offset: one page.
pub const PAGE: u64 = 4096;

/// What the check found, for the one output line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub coverage: Coverage,
    /// Pages read in all.
    pub pages_read: usize,
    /// `PT_LOAD`s whose every probed page was read.
    pub loads_read: usize,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ok=1 {} pages_read={} loads_read={}",
            self.coverage, self.pages_read, self.loads_read
        )
    }
}

/// Runs the check on `vmcore` against the first kernel's iomem in `first_iomem`.
pub fn run(first_iomem: &Path, vmcore: &Path) -> Result<Outcome> {
    let iomem =
        std::fs::read_to_string(first_iomem).map_err(|e| Error::Io(e).in_file(first_iomem))?;
    let file = std::fs::File::open(vmcore).map_err(|e| Error::Io(e).in_file(vmcore))?;
    let in_vmcore = |e: Error| e.in_file(vmcore);
    let read = |offset: u64, len: u64| -> Result<Vec<u8>> {
        let mut buf = vec![0u8; len as usize];
        file.read_exact_at(&mut buf, offset).map_err(|e| {
            Error::Io(std::io::Error::new(
                e.kind(),
                format!("{len} bytes at offset {offset:#x}: {e}"),
            ))
        })?;
        Ok(buf)
    };
    let first = read(0, 64).map_err(in_vmcore)?;
    let len = vmcore_check::header_len(&first).map_err(in_vmcore)?;
    if len > 1 << 20 {
        return Err(in_vmcore(Error::invalid(
            "vmcore header",
            format!("program header table ends at {len:#x}, beyond 1 MiB"),
        )));
    }
    let header = read(0, len).map_err(in_vmcore)?;
    let coverage = vmcore_check::check(&header, &iomem).map_err(|e| match e {
        // An iomem problem is about the iomem file, anything else about the vmcore.
        Error::Invalid { what, .. } if what.contains("iomem") => e.in_file(first_iomem),
        e => in_vmcore(e),
    })?;
    coverage.verdict().map_err(|why| {
        in_vmcore(Error::invalid(
            "dump",
            format!("{why} (first kernel's iomem: {})", first_iomem.display()),
        ))
    })?;
    let mut pages_read = 0;
    for load in &coverage.loads {
        for offset in load.probe_offsets(PAGE) {
            let len = PAGE.min(load.file_size);
            read(offset, len).map_err(|e| {
                in_vmcore(Error::invalid(
                    "dump",
                    format!(
                        "PT_LOAD {} (physical {}) is unreadable: {e}",
                        load.index, load.phys
                    ),
                ))
            })?;
            pages_read += 1;
        }
    }
    Ok(Outcome {
        loads_read: coverage.loads.len(),
        coverage,
        pages_read,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/vmcore/arm64-direct-m1024-kexec_load-warmboot"
    );

    /// A sparse stand-in for /proc/vmcore: the captured header, then `len` bytes in all.
    fn vmcore(dir: &Path, len: u64) -> std::path::PathBuf {
        let path = dir.join("vmcore");
        let head = std::fs::read(format!("{FIXTURE}/vmcore-head.bin")).unwrap();
        std::fs::write(&path, head).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len)
            .unwrap();
        path
    }

    #[test]
    fn every_pt_load_is_read_at_both_ends() {
        let dir = tempfile::tempdir().unwrap();
        let iomem = Path::new(FIXTURE).join("first-iomem");
        // The last PT_LOAD ends at file offset 0x34c02000 + 0x5400000.
        let full = 0x34c0_2000 + 0x540_0000;
        let o = run(&iomem, &vmcore(dir.path(), full)).unwrap();
        assert_eq!(
            o.to_string(),
            "ok=1 loads=2 expected_kib=950272 covered_kib=950272 missing_kib=0 excused_kib=0 \
             outside_kib=0 tolerance_kib=64 pages_read=4 loads_read=2"
        );
        // A dump whose last PT_LOAD is short cannot be read there.
        let short = vmcore(dir.path(), full - 1);
        let e = run(&iomem, &short).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!(
                "{}: invalid dump: PT_LOAD 2 (physical [0x7ac00000-0x80000000)) is unreadable: \
                 cannot read: 4096 bytes at offset 0x3a001000",
                short.display()
            )),
            "{e}"
        );
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let iomem = Path::new(FIXTURE).join("first-iomem");
        let missing = dir.path().join("no-such-iomem");
        let e = run(&missing, &vmcore(dir.path(), 8192)).unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("{}: cannot read", missing.display())),
            "{e}"
        );
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        let e = run(&iomem, &empty).unwrap_err();
        assert!(
            e.to_string().starts_with(&format!(
                "{}: cannot read: 64 bytes at offset 0x0",
                empty.display()
            )),
            "{e}"
        );
        let e = run(&empty, &vmcore(dir.path(), 8192)).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: invalid iomem: no entries", empty.display())
        );
    }
}
