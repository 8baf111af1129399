//! Tidy checks over the workspace's Rust sources, run as ordinary tests (rust-analyzer's
//! habit): they enforce ARCHITECTURE.md's invariants that a grep can check and no compiler
//! lint does. The rules on `unsafe` code are lints: `[workspace.lints]` in Cargo.toml.

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

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

    /// The rules on `unsafe` code and on the parsers' arithmetic are compiler lints
    /// (`[workspace.lints]` in Cargo.toml, module-level `#![deny]`s); they hold only in the
    /// crates that take the workspace's lints.
    #[test]
    fn every_crate_takes_the_workspace_lints() {
        let root = root();
        let mut bad = Vec::new();
        for krate in ["loader", "purgatory", "sim", "xtask"] {
            let manifest = root.join(krate).join("Cargo.toml");
            let text = std::fs::read_to_string(&manifest).unwrap();
            if !text.contains("\n[lints]\nworkspace = true\n") {
                bad.push(krate);
            }
        }
        assert!(
            bad.is_empty(),
            "crates without `[lints] workspace = true`: {bad:?}"
        );
        let workspace = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        for rule in [
            "unsafe_code = \"deny\"",
            "undocumented_unsafe_blocks = \"deny\"",
        ] {
            assert!(
                workspace.contains(rule),
                "Cargo.toml's [workspace.lints] lost `{rule}`"
            );
        }
    }

    /// Every import cycle between the modules of the crate whose sources are in `src`
    /// (`crate::module_graph`: a module is a file, test modules import freely), each as a
    /// chain `a -> b -> a`.
    pub(crate) fn import_cycles(src: &Path) -> Vec<String> {
        let mut files = Vec::new();
        for entry in walkdir::WalkDir::new(src).sort_by_file_name() {
            let entry = entry.unwrap();
            if entry.file_type().is_file() && entry.path().extension() == Some("rs".as_ref()) {
                let rel = entry.path().strip_prefix(src).unwrap();
                let text = std::fs::read_to_string(entry.path()).unwrap();
                files.push((rel.to_string_lossy().into_owned(), text));
            }
        }
        assert!(!files.is_empty(), "no Rust files under {}", src.display());
        crate::module_graph::cycles(&crate::module_graph::build(&files))
    }

    /// ARCHITECTURE.md, "Invariant: layers point one way": the loader's modules form a DAG,
    /// so each layer can be read, tested and replaced without the ones above it. The sim,
    /// the purgatory and xtask are held to the same rule.
    #[test]
    fn crate_modules_import_each_other_in_one_direction_only() {
        let mut bad = Vec::new();
        for krate in ["loader", "sim", "xtask", "purgatory"] {
            for cycle in import_cycles(&root().join(krate).join("src")) {
                bad.push(format!("{krate}: {cycle}"));
            }
        }
        assert!(
            bad.is_empty(),
            "import cycles between modules:\n{}",
            bad.join("\n")
        );
    }
}
