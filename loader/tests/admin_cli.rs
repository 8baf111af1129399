//! The administrator's commands from the command line: `warmboot reboot`, `install-units`,
//! and kexec-tools' command line (as `warmboot kexec …` and through a `kexec` symlink),
//! with kexec-tools' exit codes. Every process runs with WARMBOOT_NO_REAL_SYSCALLS set, so
//! whatever would reach the kernel or reboot is refused.

use std::path::Path;
use std::process::{Command, Output};

fn run(program: &Path, args: &[&str]) -> Output {
    Command::new(program)
        // No test may reach the kernel of the machine it runs on, or reboot it.
        .env("WARMBOOT_NO_REAL_SYSCALLS", "1")
        .args(args)
        .output()
        .unwrap()
}

fn warmboot(args: &[&str]) -> Output {
    run(Path::new(env!("CARGO_BIN_EXE_warmboot")), args)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn reboot_is_refused_under_the_guard() {
    for args in [vec!["reboot"], vec!["reboot", "--cold"]] {
        let out = warmboot(&args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("WARMBOOT_NO_REAL_SYSCALLS"), "{err}");
    }
}

#[test]
fn kexec_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = dir.path().join("vmlinuz");
    std::fs::write(&kernel, warmboot::synth::x86::BzImageBuilder::new().build()).unwrap();
    let k = kernel.to_str().unwrap();
    // (arguments, exit status, what stderr says)
    let table: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["-h"], 0, ""),
        (vec!["--version"], 0, ""),
        // Usage errors: 1, like kexec-tools' `case '?': usage(); return 1`.
        (vec!["--bogus"], 1, "kexec: unrecognized option '--bogus'"),
        (
            vec!["-l", "--mem-min=0x100000", k],
            1,
            "not supported by warmboot",
        ),
        (vec!["-e", "--append=quiet"], 1, "only goes with a load"),
        // A failed load, unload or exec: 255 (EFAILED returned from main).
        (vec!["-l"], 255, "No kernel specified"),
        (vec!["-e"], 255, "WARMBOOT_NO_REAL_SYSCALLS"),
        (vec!["-p", "-u"], 255, "WARMBOOT_NO_REAL_SYSCALLS"),
        (
            vec!["-l", k, "--initrd", k, "--append", "root=/dev/vda1"],
            255,
            "WARMBOOT_NO_REAL_SYSCALLS",
        ),
        (
            vec!["-l", "/nonexistent/vmlinuz"],
            255,
            "/nonexistent/vmlinuz: cannot read",
        ),
    ];
    for (args, code, msg) in table {
        let mut full = vec!["kexec"];
        full.extend(&args);
        let out = warmboot(&full);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(msg), "{args:?}: {err}");
    }
    let out = warmboot(&["kexec", "--help"]);
    let usage = text(&out.stdout);
    assert!(
        usage.starts_with("warmboot ") && usage.contains("Usage: kexec [OPTION]... [kernel]"),
        "{usage}"
    );
    assert!(usage.contains("-p, --load-panic"), "{usage}");
}

#[test]
fn invoked_as_kexec_through_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("kexec");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_warmboot"), &link).unwrap();
    let out = run(&link, &["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("(kexec-tools compatible)"));
    // systemd-shutdown's `kexec -e`: refused here by the guard, with kexec-tools' 255.
    let out = run(&link, &["-e"]);
    assert_eq!(out.status.code(), Some(255), "{}", text(&out.stderr));
    let out = run(&link, &["-x", "--bogus"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn install_units_into_a_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let out = warmboot(&[
        "install-units",
        "--root",
        root,
        "--binary",
        "/usr/sbin/warmboot",
        "--enable",
        "--kexec-symlink",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let unit = std::fs::read_to_string(dir.path().join("etc/systemd/system/warmboot-load.service"))
        .unwrap();
    assert!(
        unit.contains("ExecStart=/usr/sbin/warmboot load --default\n"),
        "{unit}"
    );
    assert!(dir
        .path()
        .join("etc/systemd/system/multi-user.target.wants/warmboot-panic.service")
        .is_symlink());
    assert_eq!(
        std::fs::read_link(dir.path().join("usr/sbin/kexec")).unwrap(),
        Path::new("/usr/sbin/warmboot")
    );
}
