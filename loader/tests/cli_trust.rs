//! `warmboot load` and the files it trusts, from the command line: `--sha256` pins the
//! kernel image, and a kernel or initrd that a non-root user could replace is warned about
//! (the load goes on). Dry runs against the x86_64 fixture machine, on synthetic kernels.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use warmboot::file_trust::Sha256Digest;
use warmboot::synth::x86::BzImageBuilder;

fn machine() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/machines/x86_64-bios-m1024")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `warmboot load KERNEL --dry-run --arch x86_64 --root <fixture> EXTRA...`.
fn dry_run(kernel: &Path, extra: &[&str]) -> Output {
    let root = machine();
    let mut args = vec![
        "load",
        kernel.to_str().unwrap(),
        "--dry-run",
        "--arch",
        "x86_64",
        "--root",
        root.to_str().unwrap(),
    ];
    args.extend(extra);
    Command::new(env!("CARGO_BIN_EXE_warmboot"))
        // No test may reach the kernel of the machine it runs on.
        .env("WARMBOOT_NO_REAL_SYSCALLS", "1")
        .args(&args)
        .output()
        .unwrap()
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A synthetic bzImage at `path`, mode 0644; returns its bytes.
fn write_kernel(path: &Path) -> Vec<u8> {
    let k = BzImageBuilder::new().build();
    std::fs::write(path, &k).unwrap();
    chmod(path, 0o644);
    k
}

#[test]
fn a_matching_sha256_is_shown_in_the_dry_run() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = dir.path().join("vmlinuz");
    let bytes = write_kernel(&kernel);
    let hex = Sha256Digest::of(&bytes).to_string();
    let out = dry_run(&kernel, &["--sha256", &hex]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    // 0644 files of root (or of the user running the test) in a private directory.
    assert_eq!(stderr, "");
    assert!(
        stdout.contains(&format!(
            "\nnote: kernel SHA-256 {hex} matches --sha256 (these bytes are planned and loaded)\n"
        )),
        "{stdout}"
    );
    // Upper case is the same digest; JSON carries the note too.
    let out = dry_run(&kernel, &["--sha256", &hex.to_uppercase(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let notes = v["notes"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n
            .as_str()
            .unwrap()
            .contains(&format!("SHA-256 {hex} matches"))),
        "{notes:?}"
    );
    // Without --sha256 there is no such note.
    let out = dry_run(&kernel, &[]);
    assert!(
        !text(&out.stdout).contains("SHA-256"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_different_sha256_refuses_the_load() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = dir.path().join("vmlinuz");
    let bytes = write_kernel(&kernel);
    let actual = Sha256Digest::of(&bytes).to_string();
    let wanted = Sha256Digest::of(b"another kernel").to_string();
    let out = dry_run(&kernel, &["--sha256", &wanted]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout, b"");
    assert_eq!(
        text(&out.stderr),
        format!(
            "warmboot: {}: SHA-256 is {actual}, --sha256 expected {wanted}; not loading\n",
            kernel.display()
        )
    );
}

#[test]
fn a_malformed_sha256_is_a_usage_error_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = dir.path().join("vmlinuz");
    let bytes = write_kernel(&kernel);
    let good = Sha256Digest::of(&bytes).to_string();
    for (bad, why) in [
        ("abc", "a SHA-256 is 64 hexadecimal digits, this is 3"),
        (&good[..63], "this is 63"),
        (&format!("{good}0")[..], "this is 65"),
        (
            &format!("{}z", &good[..63])[..],
            "'z' is not a hexadecimal digit",
        ),
        ("", "this is 0"),
    ] {
        let out = dry_run(&kernel, &["--sha256", bad]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {err}");
        assert!(err.contains("--sha256 <HEX>"), "{bad:?}: {err}");
        assert!(err.contains(why), "{bad:?}: {err}");
    }
}

#[test]
fn a_kernel_others_can_write_is_warned_about_and_still_planned() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = dir.path().join("vmlinuz");
    write_kernel(&kernel);
    chmod(&kernel, 0o666);
    let out = dry_run(&kernel, &[]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        text(&out.stdout).contains("syscall:"),
        "the plan is printed"
    );
    assert_eq!(
        err,
        format!(
            "warmboot: warning: {} is writable by group/others (mode 0666): a non-root user could change what is loaded\n",
            kernel.display()
        )
    );
}

#[test]
fn a_directory_others_can_write_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let boot = dir.path().join("boot");
    std::fs::create_dir(&boot).unwrap();
    chmod(&boot, 0o777);
    let kernel = boot.join("vmlinuz");
    write_kernel(&kernel);
    let out = dry_run(&kernel, &[]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        err,
        format!(
            "warmboot: warning: {} is writable by group/others (mode 0777): a non-root user could replace {}\n",
            boot.display(),
            kernel.display()
        )
    );
    // The sticky bit (as on /tmp) takes the replacing away: no warning.
    chmod(&boot, 0o1777);
    let out = dry_run(&kernel, &[]);
    assert!(out.status.success());
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn symlinks_are_checked_where_they_lead_and_where_they_sit() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    let open = dir.path().join("open");
    std::fs::create_dir(&real).unwrap();
    std::fs::create_dir(&open).unwrap();
    chmod(&open, 0o777);
    let kernel = real.join("vmlinuz-6.1");
    write_kernel(&kernel);
    chmod(&kernel, 0o664);
    // A link in a private directory to a group-writable kernel: the target is warned about.
    let link = dir.path().join("vmlinuz");
    std::os::unix::fs::symlink("real/vmlinuz-6.1", &link).unwrap();
    let out = dry_run(&link, &[]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        err,
        format!(
            "warmboot: warning: {} is writable by group/others (mode 0664): a non-root user could change what is loaded\n",
            kernel.display()
        )
    );
    // A link in a directory others can write: they could point it elsewhere.
    chmod(&kernel, 0o644);
    let exposed = open.join("vmlinuz");
    std::os::unix::fs::symlink(&kernel, &exposed).unwrap();
    let out = dry_run(&exposed, &[]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        err,
        format!(
            "warmboot: warning: {} is writable by group/others (mode 0777): a non-root user could replace {}\n",
            open.display(),
            exposed.display()
        )
    );
}

#[test]
fn an_initrd_others_can_write_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = dir.path().join("vmlinuz");
    write_kernel(&kernel);
    let initrd = dir.path().join("initrd.img");
    std::fs::write(
        &initrd,
        warmboot::synth::initrd::newc(&[("init", b"#!/bin/sh\n".as_slice())]),
    )
    .unwrap();
    chmod(&initrd, 0o646);
    let out = dry_run(&kernel, &["--initrd", initrd.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        err,
        format!(
            "warmboot: warning: {} is writable by group/others (mode 0646): a non-root user could change what is loaded\n",
            initrd.display()
        )
    );
}
