//! Code-level invariants: only `loader/src/kexec/linux.rs` contains `unsafe`, and each of
//! its `unsafe` blocks is preceded by a `// SAFETY:` comment.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn unsafe_lives_only_in_the_real_kexec_backend() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in ["loader/src", "sim/src"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 10);
    let mut with_unsafe = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.contains("unsafe {")
                || code.contains("unsafe fn")
                || code.contains("unsafe impl")
            {
                with_unsafe.push(f.clone());
                let has_safety = lines[..i]
                    .iter()
                    .rev()
                    .take(8)
                    .any(|l| l.trim_start().starts_with("// SAFETY:"));
                assert!(
                    has_safety,
                    "{}:{}: unsafe without a // SAFETY: comment",
                    f.display(),
                    i + 1
                );
            }
        }
    }
    with_unsafe.dedup();
    assert_eq!(with_unsafe.len(), 1, "{with_unsafe:?}");
    assert!(with_unsafe[0].ends_with("kexec/linux.rs"));
}
