//! Tidy checks over the workspace's Rust sources, run as ordinary tests (rust-analyzer's
//! habit): they enforce ARCHITECTURE.md's invariants that a grep can check.

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// Files allowed to contain `unsafe` code: the syscall module only (ARCHITECTURE.md,
    /// "Invariant: only the syscall module has `unsafe`"). Add its path here when it lands.
    /// The one module that talks to the kernel through raw syscalls (ARCHITECTURE.md).
    /// The purgatory reads physical memory, has an assembly entry and drives a UART
    /// (`load --verify`).
    const UNSAFE_ALLOWED: &[&str] = &[
        "loader/src/kexec/linux.rs",
        // xtask's SIGINT/SIGTERM handler (sigaction, write(2)): QEMU is killed on Ctrl-C.
        "xtask/src/guest.rs",
        "purgatory/src/console.rs",
        "purgatory/src/lib.rs",
        "purgatory/src/main.rs",
    ];

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_owned)
            .unwrap_or_default()
    }

    /// Every `.rs` file under the workspace's crates, skipping build output.
    fn rust_files() -> Vec<(String, String)> {
        let root = root();
        let mut out = Vec::new();
        for krate in ["loader", "purgatory", "sim", "xtask"] {
            let walk = walkdir::WalkDir::new(root.join(krate))
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|e| e.file_name() != "target");
            for entry in walk {
                let entry = entry.unwrap();
                if entry.file_type().is_file() && entry.path().extension() == Some("rs".as_ref()) {
                    let rel = entry.path().strip_prefix(&root).unwrap();
                    let text = std::fs::read_to_string(entry.path()).unwrap();
                    out.push((rel.to_string_lossy().into_owned(), text));
                }
            }
        }
        assert!(out.len() > 10, "found only {} Rust files", out.len());
        out
    }

    #[test]
    fn every_file_starts_with_a_module_doc_comment() {
        let bad: Vec<String> = rust_files()
            .into_iter()
            .filter(|(_, text)| !text.starts_with("//!"))
            .map(|(path, _)| path)
            .collect();
        assert!(
            bad.is_empty(),
            "files without a leading `//!` line: {bad:?}"
        );
    }

    #[test]
    fn no_unfinished_or_skipped_code() {
        // Spelled in pieces so this file does not match itself.
        let banned = [
            concat!("to", "do!("),
            concat!("unimple", "mented!("),
            concat!("db", "g!("),
            concat!("#[", "ignore"),
        ];
        let mut bad = Vec::new();
        for (path, text) in rust_files() {
            for (n, line) in text.lines().enumerate() {
                if let Some(b) = banned.iter().find(|b| line.contains(*b)) {
                    bad.push(format!("{path}:{}: {b}", n + 1));
                }
            }
        }
        assert!(bad.is_empty(), "{bad:#?}");
    }

    #[test]
    fn unsafe_code_only_in_the_syscall_module() {
        let kinds = [
            concat!("unsafe", " {"),
            concat!("unsafe", " fn "),
            concat!("unsafe", " impl "),
            concat!("unsafe", " extern"),
        ];
        let mut bad = Vec::new();
        let mut allowed_seen = 0;
        for (path, text) in rust_files() {
            let allowed = UNSAFE_ALLOWED.contains(&path.as_str());
            let lines: Vec<&str> = text.lines().collect();
            for (n, line) in lines.iter().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                if !kinds.iter().any(|k| code.contains(k)) {
                    continue;
                }
                if !allowed {
                    bad.push(format!("{path}:{}", n + 1));
                    continue;
                }
                allowed_seen += 1;
                // Where unsafe is allowed, each use says why it is sound.
                let justified = lines[..n]
                    .iter()
                    .rev()
                    .take(8)
                    .any(|l| l.trim_start().starts_with("// SAFETY:"));
                if !justified {
                    bad.push(format!("{path}:{} (no // SAFETY: comment)", n + 1));
                }
            }
        }
        assert!(allowed_seen > 0, "the syscall module should be found");
        assert!(
            bad.is_empty(),
            "unsafe code outside the syscall module (see UNSAFE_ALLOWED in xtask/src/tidy.rs): {bad:#?}"
        );
    }
}
