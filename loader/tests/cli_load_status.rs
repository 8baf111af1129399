//! `warmboot status` and `warmboot load` from the command line, against fixture machines.

use std::path::PathBuf;
use std::process::{Command, Output};

fn machine(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/machines")
        .join(name)
}

fn warmboot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warmboot"))
        // No test may reach the kernel of the machine it runs on.
        .env("WARMBOOT_NO_REAL_SYSCALLS", "1")
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn status_reads_the_root() {
    let root = machine("x86_64-bios-m1024");
    let out = warmboot(&["status", "--root", root.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    insta::assert_snapshot!("status-x86_64-bios-m1024", text(&out.stdout));
}

#[test]
fn status_json() {
    let root = machine("arm64-direct-m1024-crashkernel");
    let out = warmboot(&["status", "--json", "--root", root.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["crash_size"], 0x6000000);
    assert_eq!(v["loaded"], false);
    assert_eq!(v["lockdown"], "none");
    assert_eq!(v["kexec_supported"], true);
    assert_eq!(v["crash_supported"], true);
}

#[test]
fn status_reports_lockdown() {
    let dir = tempfile::tempdir().unwrap();
    let k = dir.path().join("sys/kernel");
    std::fs::create_dir_all(k.join("security")).unwrap();
    std::fs::write(k.join("kexec_loaded"), "1\n").unwrap();
    std::fs::write(k.join("kexec_crash_loaded"), "0\n").unwrap();
    std::fs::write(k.join("kexec_crash_size"), "0\n").unwrap();
    std::fs::write(
        k.join("security/lockdown"),
        "none [integrity] confidentiality\n",
    )
    .unwrap();
    let out = warmboot(&["status", "--root", dir.path().to_str().unwrap()]);
    let s = text(&out.stdout);
    assert!(s.contains("loaded:        yes"), "{s}");
    assert!(
        s.contains("lockdown:      integrity (kexec_load is refused"),
        "{s}"
    );
}

#[test]
fn status_reads_secure_boot_from_the_efi_variable() {
    let dir = tempfile::tempdir().unwrap();
    let k = dir.path().join("sys/kernel");
    std::fs::create_dir_all(&k).unwrap();
    std::fs::write(k.join("kexec_loaded"), "0\n").unwrap();
    std::fs::write(k.join("kexec_crash_loaded"), "0\n").unwrap();
    std::fs::write(k.join("kexec_crash_size"), "0\n").unwrap();
    let vars = dir.path().join("sys/firmware/efi/efivars");
    std::fs::create_dir_all(&vars).unwrap();
    // efivarfs: 4 attribute bytes (NV|BS|RT), then the value.
    std::fs::write(
        vars.join("SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"),
        [0x06, 0, 0, 0, 1],
    )
    .unwrap();
    let root = dir.path().to_str().unwrap();
    let out = warmboot(&["status", "--root", root]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(
        s.contains("secure boot:   on (EFI variable SecureBoot = 1) (lockdown not readable but to be expected"),
        "{s}"
    );
    let out = warmboot(&["status", "--json", "--root", root]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["secure_boot"], "on");
    assert_eq!(v["lockdown_expected"], true);
    assert_eq!(v["lockdown"], serde_json::Value::Null);
    // Secure Boot off; LoadPin and IMA shown where the kernel has them.
    std::fs::write(
        vars.join("SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"),
        [0x06, 0, 0, 0, 0],
    )
    .unwrap();
    let sysctl = dir.path().join("proc/sys/kernel/loadpin");
    std::fs::create_dir_all(&sysctl).unwrap();
    std::fs::write(sysctl.join("enforce"), "1\n").unwrap();
    let ima = dir.path().join("sys/kernel/security/integrity/ima");
    std::fs::create_dir_all(&ima).unwrap();
    std::fs::write(
        ima.join("policy"),
        "appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig\n",
    )
    .unwrap();
    let s = text(&warmboot(&["status", "--root", root]).stdout);
    assert!(
        s.contains("secure boot:   off (EFI variable SecureBoot)\n"),
        "{s}"
    );
    assert!(
        s.contains("loadpin:       enforcing (kexec_file_load reads"),
        "{s}"
    );
    assert!(
        s.contains("ima:           appraises kexec kernels (they need IMA signatures)"),
        "{s}"
    );
    let out = warmboot(&["status", "--json", "--root", root]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["secure_boot"], "off");
    assert_eq!(v["loadpin"]["enforcing"], true);
    assert_eq!(v["ima"]["appraises_kernel"], true);
}

#[test]
fn status_says_when_the_kernel_cannot_kexec() {
    let dir = tempfile::tempdir().unwrap();
    let k = dir.path().join("sys/kernel");
    std::fs::create_dir_all(&k).unwrap();
    let root = dir.path().to_str().unwrap();
    // No kexec at all (CONFIG_KEXEC_CORE=n): a plain statement, not an unreadable file.
    let out = warmboot(&["status", "--root", root]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert_eq!(s.lines().count(), 1, "{s}");
    assert!(
        s.starts_with("kexec:         not supported by the running kernel"),
        "{s}"
    );
    let out = warmboot(&["status", "--json", "--root", root]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kexec_supported"], false);
    assert_eq!(v["loaded"], false);
    // kexec without crash dumps (CONFIG_CRASH_DUMP=n, 6.9+).
    std::fs::write(k.join("kexec_loaded"), "1\n").unwrap();
    let out = warmboot(&["status", "--root", root]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.contains("loaded:        yes"), "{s}");
    assert!(
        s.contains("crash dumps:   not supported by the running kernel"),
        "{s}"
    );
    let out = warmboot(&["status", "--json", "--root", root]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["kexec_supported"].clone(), v["crash_supported"].clone()),
        (true.into(), false.into())
    );
}

#[test]
fn status_says_what_warmboot_loaded_and_when_a_record_is_stale() {
    let dir = tempfile::tempdir().unwrap();
    let k = dir.path().join("sys/kernel");
    std::fs::create_dir_all(&k).unwrap();
    std::fs::write(k.join("kexec_loaded"), "1\n").unwrap();
    std::fs::write(k.join("kexec_crash_loaded"), "0\n").unwrap();
    std::fs::write(k.join("kexec_crash_size"), "0\n").unwrap();
    let run = dir.path().join("run/warmboot");
    std::fs::create_dir_all(&run).unwrap();
    let record = warmboot::load_record::LoadRecord {
        kernel: "/boot/vmlinuz-6.12.57+deb13-amd64".into(),
        kernel_sha256: "ab".repeat(32),
        release: Some("6.12.57+deb13-amd64".into()),
        initrd: None,
        initrd_sha256: None,
        cmdline: "ro quiet".into(),
        syscall: "kexec_file_load".into(),
        loaded_at: 0,
        chosen_by: Some("default kernel: the /vmlinuz link".into()),
        kernel_file: Some(warmboot::load_record::FileIdentity {
            dev: 2051,
            ino: 131_074,
            size: 11_000_000,
            mtime_ns: 1_796_669_000_123_456_789,
            ctime_ns: 1_796_669_000_123_456_789,
        }),
        initrd_file: None,
    };
    use warmboot::memmap::Mode;
    warmboot::load_record::write(&run, Mode::Normal, &record).unwrap();
    warmboot::load_record::write(&run, Mode::Panic, &record).unwrap();
    let root = dir.path().to_str().unwrap();
    let s = text(&warmboot(&["status", "--root", root]).stdout);
    assert!(
        s.contains("loaded:        yes\n               /boot/vmlinuz-6.12.57+deb13-amd64 (6.12.57+deb13-amd64), by warmboot with kexec_file_load at 1970-01-01T00:00:00Z, chosen as default kernel: the /vmlinuz link\n"),
        "{s}"
    );
    // The crash kernel's record outlived its load: stale.
    assert!(
        s.contains(
            "crash loaded:  no\n               stale record of /boot/vmlinuz-6.12.57+deb13-amd64"
        ),
        "{s}"
    );
    let out = warmboot(&["status", "--json", "--root", root]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["loaded_kernel"]["cmdline"], "ro quiet");
    // The files' identities are part of the record shown; an absent one is left out.
    assert_eq!(v["loaded_kernel"]["kernel_file"]["ino"], 131_074);
    assert_eq!(
        v["loaded_kernel"]["kernel_file"]["ctime_ns"],
        1_796_669_000_123_456_789_i64
    );
    assert!(v["loaded_kernel"].get("initrd_file").is_none(), "{v}");
    assert_eq!(v["crash_kernel"], serde_json::Value::Null);
}

#[test]
fn status_names_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = warmboot(&["status", "--root", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let e = text(&out.stderr);
    assert!(
        e.starts_with("warmboot: ") && e.contains("sys/kernel/kexec_loaded: cannot read"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1);
}

#[test]
fn load_names_a_file_that_is_no_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk");
    std::fs::write(&junk, b"junk").unwrap();
    let root = machine("x86_64-bios-m1024");
    let out = warmboot(&[
        "load",
        junk.to_str().unwrap(),
        "--dry-run",
        "--root",
        root.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let e = text(&out.stderr);
    assert!(e.contains("junk: not a kernel image"), "{e}");
}

#[test]
fn load_names_a_missing_kernel() {
    let out = warmboot(&["load", "/nonexistent/vmlinuz", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("/nonexistent/vmlinuz: cannot read"));
}

#[test]
fn load_takes_one_command_line_source() {
    let out = warmboot(&["load", "k", "--append", "a", "--command-line", "b"]);
    assert_eq!(out.status.code(), Some(2));
    let out = warmboot(&["load", "k", "--syscall", "fast"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn real_loads_exec_and_unload_never_reach_the_kernel_in_tests() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = dir.path().join("vmlinuz");
    std::fs::write(&kernel, warmboot::synth::x86::BzImageBuilder::new().build()).unwrap();
    let k = kernel.to_str().unwrap();
    // --root describes another machine: only for --dry-run.
    let root = machine("x86_64-bios-m1024");
    let out = warmboot(&[
        "load",
        k,
        "--arch",
        "x86_64",
        "--root",
        root.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("only with --dry-run"),
        "{}",
        text(&out.stderr)
    );
    // Everything that would talk to the kernel is refused by the test guard, with one line.
    for args in [
        vec!["load", k, "--arch", "x86_64"],
        vec!["exec"],
        vec!["unload"],
        vec!["unload", "--panic"],
    ] {
        let out = warmboot(&args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("WARMBOOT_NO_REAL_SYSCALLS"), "{args:?}: {err}");
    }
}
