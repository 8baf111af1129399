//! The shared-library check: every dynamically linked ELF file kept from the manifest's
//! packages must find its NEEDED libraries and its program interpreter among the files kept
//! for the same architecture, since those files are all a QEMU guest will have.
//!
//! Layouts: DT_NEEDED and PT_INTERP, include/uapi/linux/elf.h (read with goblin).

use crate::error::{Error, Result};
use crate::manifest::DebArch;
use std::collections::BTreeSet;
use std::path::Path;

/// What a dynamically linked ELF file asks the dynamic loader for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ElfDeps {
    pub needed: Vec<String>,
    pub interpreter: Option<String>,
}

/// One kept file: its path relative to the package root (`/`-separated) and, for a regular
/// ELF file, its dependencies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptFile {
    pub package: String,
    pub rel: String,
    pub deps: Option<ElfDeps>,
}

/// The dependencies of an ELF file; `Ok(None)` for anything that is not ELF.
pub fn elf_deps(bytes: &[u8]) -> Result<Option<ElfDeps>, String> {
    if !bytes.starts_with(b"\x7fELF") {
        return Ok(None);
    }
    let elf = goblin::elf::Elf::parse(bytes).map_err(|e| format!("invalid ELF file: {e}"))?;
    Ok(Some(ElfDeps {
        needed: elf.libraries.iter().map(|s| s.to_string()).collect(),
        interpreter: elf.interpreter.map(str::to_owned),
    }))
}

/// The unmet dependencies among `files` (all of one architecture), one message each.
/// A NEEDED soname is met by any kept file (or symlink) of that name, as the guest's loader
/// searches the standard library directories; an interpreter by a kept file at that path.
pub fn unmet(files: &[KeptFile]) -> Vec<String> {
    let paths: BTreeSet<&str> = files.iter().map(|f| f.rel.as_str()).collect();
    let names: BTreeSet<&str> = files
        .iter()
        .map(|f| f.rel.rsplit('/').next().unwrap_or(&f.rel))
        .collect();
    let mut problems = Vec::new();
    for f in files {
        let Some(deps) = &f.deps else { continue };
        for lib in &deps.needed {
            if !names.contains(lib.as_str()) {
                problems.push(format!("{} ({}) needs {lib}", f.rel, f.package));
            }
        }
        if let Some(interp) = &deps.interpreter {
            if !paths.contains(interp.trim_start_matches('/')) {
                problems.push(format!(
                    "{} ({}) needs the interpreter {interp}",
                    f.rel, f.package
                ));
            }
        }
    }
    problems
}

/// Lists the files kept in one package directory (symlinks as themselves, never followed:
/// an absolute link such as lib64/ld-linux-x86-64.so.2 points into the guest, not the host).
pub fn kept_files(package: &str, dir: &Path) -> Result<Vec<KeptFile>> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| Error::Io {
            path: e.path().unwrap_or(dir).to_owned(),
            source: e.into(),
        })?;
        let ty = entry.file_type();
        if ty.is_dir() || entry.depth() == 1 && entry.file_name() == ".warmboot-unpacked" {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(dir)
            .unwrap_or(entry.path())
            .to_string_lossy()
            .into_owned();
        let deps = if ty.is_file() && is_elf(entry.path())? {
            let bytes = std::fs::read(entry.path()).map_err(Error::io(entry.path()))?;
            elf_deps(&bytes).map_err(|reason| Error::Package {
                package: package.to_owned(),
                reason: format!("{rel}: {reason}"),
            })?
        } else {
            None
        };
        out.push(KeptFile {
            package: package.to_owned(),
            rel,
            deps,
        });
    }
    Ok(out)
}

/// Whether a file starts with the ELF magic (read 4 bytes, not the whole kernel image).
fn is_elf(path: &Path) -> Result<bool> {
    use std::io::Read;
    let mut magic = [0u8; 4];
    let file = std::fs::File::open(path).map_err(Error::io(path))?;
    let n = file.take(4).read(&mut magic).map_err(Error::io(path))?;
    Ok(n == 4 && &magic == b"\x7fELF")
}

/// Fails with every unmet dependency of one architecture's kept files.
pub fn check(arch: DebArch, files: &[KeptFile]) -> Result<()> {
    let problems = unmet(files);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::MissingLibraries {
            arch: arch.debian(),
            problems: problems.join("; "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(rel: &str, needed: &[&str], interp: Option<&str>) -> KeptFile {
        KeptFile {
            package: "p".into(),
            rel: rel.into(),
            deps: Some(ElfDeps {
                needed: needed.iter().map(|s| s.to_string()).collect(),
                interpreter: interp.map(str::to_owned),
            }),
        }
    }

    fn plain(rel: &str) -> KeptFile {
        KeptFile {
            package: "libc6".into(),
            rel: rel.into(),
            deps: None,
        }
    }

    #[test]
    fn met_by_name_anywhere_and_interpreter_by_path() {
        let files = vec![
            file(
                "sbin/kexec",
                &["libc.so.6", "libz.so.1"],
                Some("/lib/ld-linux-aarch64.so.1"),
            ),
            plain("lib/aarch64-linux-gnu/libc.so.6"),
            plain("lib/aarch64-linux-gnu/libz.so.1"),
            plain("lib/ld-linux-aarch64.so.1"),
        ];
        assert_eq!(unmet(&files), Vec::<String>::new());
    }

    #[test]
    fn reports_each_missing_library_and_interpreter() {
        let files = vec![
            file(
                "sbin/kexec",
                &["libc.so.6", "libz.so.1"],
                Some("/lib64/ld-linux-x86-64.so.2"),
            ),
            plain("lib/x86_64-linux-gnu/libc.so.6"),
            // The loader under another path does not satisfy PT_INTERP.
            plain("lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
        ];
        assert_eq!(
            unmet(&files),
            [
                "sbin/kexec (p) needs libz.so.1",
                "sbin/kexec (p) needs the interpreter /lib64/ld-linux-x86-64.so.2"
            ]
        );
        let err = check(DebArch::Amd64, &files).unwrap_err().to_string();
        assert!(err.starts_with("amd64: shared libraries missing from images/manifest.toml: sbin/kexec (p) needs libz.so.1; "), "{err}");
    }

    #[test]
    fn reads_needed_and_interpreter_of_a_real_elf() {
        // This test binary itself is a dynamically linked ELF on Linux.
        let exe = std::env::current_exe().unwrap();
        let deps = elf_deps(&std::fs::read(exe).unwrap()).unwrap().unwrap();
        assert!(
            deps.needed.iter().any(|l| l.starts_with("libc.so")),
            "{deps:?}"
        );
        assert!(deps.interpreter.is_some_and(|i| i.contains("ld-linux")));
    }

    #[test]
    fn non_elf_is_none_and_broken_elf_is_an_error() {
        assert_eq!(elf_deps(b"MZ\x90\x00"), Ok(None));
        assert_eq!(elf_deps(b""), Ok(None));
        let err = elf_deps(b"\x7fELF\x02\x01\x01").unwrap_err();
        assert!(err.starts_with("invalid ELF file"), "{err}");
    }

    #[test]
    fn kept_files_lists_symlinks_without_following_them() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::create_dir_all(dir.join("lib64")).unwrap();
        std::os::unix::fs::symlink(
            "/nonexistent/ld-linux-x86-64.so.2",
            dir.join("lib64/ld-linux-x86-64.so.2"),
        )
        .unwrap();
        std::fs::write(dir.join("notes.txt"), b"text").unwrap();
        std::fs::write(dir.join(".warmboot-unpacked"), b"marker").unwrap();
        let files = kept_files("libc6", dir).unwrap();
        let rels: Vec<&str> = files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["lib64/ld-linux-x86-64.so.2", "notes.txt"]);
        assert!(files.iter().all(|f| f.deps.is_none()));
    }
}
