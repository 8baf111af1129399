//! The `warmboot inspect` command as users run it: exit status, output and one-line errors.

use std::path::Path;
use std::process::{Command, Output};

fn warmboot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warmboot"))
        .args(args)
        .output()
        .expect("run warmboot")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a failed run: status 1 and exactly one stderr line naming `file` and `reason`.
fn assert_clean_failure(o: &Output, file: &Path, reason: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line expected: {err:?}");
    assert!(err.starts_with("warmboot: "), "{err}");
    assert!(
        err.contains(&file.display().to_string()),
        "names the file: {err}"
    );
    assert!(err.contains(reason), "says {reason:?}: {err}");
    assert!(o.stdout.is_empty(), "no partial report on failure");
}

fn write(dir: &Path, name: &str, data: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(warmboot(&[]).status.code(), Some(2));
    assert_eq!(warmboot(&["inspect"]).status.code(), Some(2));
    assert_eq!(
        warmboot(&["inspect", "--bogus", "x"]).status.code(),
        Some(2)
    );
    assert_eq!(warmboot(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn bad_files_give_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("vmlinuz-missing");
    assert_clean_failure(
        &warmboot(&["inspect", missing.to_str().unwrap()]),
        &missing,
        "No such file",
    );
    assert_clean_failure(
        &warmboot(&["inspect", dir.path().to_str().unwrap()]),
        dir.path(),
        "is a directory",
    );
    let empty = write(dir.path(), "empty", b"");
    assert_clean_failure(
        &warmboot(&["inspect", empty.to_str().unwrap()]),
        &empty,
        "empty",
    );
    let png = write(dir.path(), "logo.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
    assert_clean_failure(
        &warmboot(&["inspect", png.to_str().unwrap()]),
        &png,
        "not a kernel image",
    );
    let cpio = write(
        dir.path(),
        "initrd.img",
        b"07070100000000000000000000000000",
    );
    assert_clean_failure(
        &warmboot(&["inspect", cpio.to_str().unwrap()]),
        &cpio,
        "cpio",
    );
    let mut zimage = vec![0u8; 0x40];
    zimage[0x24..0x28].copy_from_slice(&0x016f_2818u32.to_le_bytes());
    let zimage = write(dir.path(), "zImage", &zimage);
    assert_clean_failure(
        &warmboot(&["inspect", zimage.to_str().unwrap()]),
        &zimage,
        "unsupported architecture: 32-bit ARM zImage",
    );
    let mut riscv = vec![0u8; 0x40];
    riscv[0x38..0x3c].copy_from_slice(b"RSC\x05");
    let riscv = write(dir.path(), "Image-riscv", &riscv);
    assert_clean_failure(
        &warmboot(&["inspect", riscv.to_str().unwrap()]),
        &riscv,
        "RISC-V",
    );
}
