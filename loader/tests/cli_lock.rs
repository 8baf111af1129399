//! Two warmboots changing kexec state cannot interleave: while one holds the lock, every
//! other command that would change the loaded kernel exits at once saying who holds it,
//! and once the holder is gone (even killed) the lock is free again. The holder is a real
//! `warmboot load` kept asleep inside its critical section by the test-only
//! WARMBOOT_TEST_HOLD_LOCK_MS; every process runs with WARMBOOT_NO_REAL_SYSCALLS set and a
//! private WARMBOOT_LOCK_FILE, so none can reach the kernel or touch the machine's lock.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

fn machine() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/machines/x86_64-bios-m1024")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn warmboot(lock: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_warmboot"));
    c.env("WARMBOOT_NO_REAL_SYSCALLS", "1")
        .env("WARMBOOT_LOCK_FILE", lock)
        .env_remove("WARMBOOT_TEST_HOLD_LOCK_MS");
    c
}

fn run(lock: &Path, args: &[&str]) -> Output {
    warmboot(lock).args(args).output().unwrap()
}

/// Kills the holder if the test fails before it does.
struct Holder(Child);

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until the lock file records `pid` (the holder has the lock and wrote its record).
fn wait_for_record(lock: &Path, pid: u32) -> String {
    let start = Instant::now();
    loop {
        let t = std::fs::read_to_string(lock).unwrap_or_default();
        if t.lines().next() == Some(pid.to_string().as_str()) && t.lines().count() == 2 {
            return t;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the holder never recorded itself: {t:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_second_warmboot_loses_while_the_first_holds_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("warmboot.lock");
    let kernel = dir.path().join("vmlinuz");
    std::fs::write(&kernel, warmboot::synth::x86::BzImageBuilder::new().build()).unwrap();
    let k = kernel.to_str().unwrap();
    let root = machine();
    let r = root.to_str().unwrap();
    let load = ["load", k, "--arch", "x86_64", "--root", r];

    let mut holder = Holder(
        warmboot(&lock)
            .args(load)
            .env("WARMBOOT_TEST_HOLD_LOCK_MS", "120000")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = holder.0.id();
    let record = wait_for_record(&lock, pid);
    assert_eq!(
        record,
        format!("{pid}\nload {k} --arch x86_64 --root {r}\n")
    );
    let busy = format!(
        "{}: another warmboot (pid {pid}, `load {k} --arch x86_64 --root {r}`) is changing the loaded kernel; try again when it has finished\n",
        lock.display()
    );

    // Every command that changes kexec state loses, with one line, before doing anything.
    for args in [
        load.to_vec(),
        vec!["load", "/nonexistent/vmlinuz"],
        vec!["unload"],
        vec!["unload", "--panic"],
        vec!["exec"],
        vec!["reboot"],
        vec!["reboot", "--cold"],
    ] {
        let out = run(&lock, &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(text(&out.stderr), format!("warmboot: {busy}"), "{args:?}");
        assert_eq!(out.stdout, b"", "{args:?}");
    }
    // kexec-tools' command line: its failure status (255) and prefix.
    for args in [
        vec!["kexec", "-l", k],
        vec!["kexec", "-p", k],
        vec!["kexec", "-u"],
        vec!["kexec", "-p", "-u"],
        vec!["kexec", "-e"],
        vec!["kexec", "-f", k],
    ] {
        let out = run(&lock, &args);
        assert_eq!(out.status.code(), Some(255), "{args:?}");
        assert_eq!(text(&out.stderr), format!("kexec: {busy}"), "{args:?}");
    }
    // What only reads goes on: a dry run, status, kexec's usage.
    let out = run(
        &lock,
        &["load", k, "--arch", "x86_64", "--root", r, "--dry-run"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&lock, &["status", "--root", r]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&lock, &["kexec", "--help"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The losers left the holder's record alone.
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), record);

    // The holder dies without cleaning up: the kernel drops its flock, and the stale
    // record (a dead pid) blocks nobody.
    holder.0.kill().unwrap();
    holder.0.wait().unwrap();
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), record);
    let out = run(&lock, &load);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("warmboot: ")
            && err.ends_with(
                ": --root reads another machine's state, so it goes only with --dry-run\n"
            )
            && err.lines().count() == 1,
        "past the lock, the load got as far as it may in a test: {err}"
    );
    let out = run(&lock, &["unload"]);
    let err = text(&out.stderr);
    assert!(err.contains("WARMBOOT_NO_REAL_SYSCALLS"), "{err}");
}

#[test]
fn under_the_test_guard_without_a_lock_file_no_lock_is_taken() {
    // WARMBOOT_NO_REAL_SYSCALLS without WARMBOOT_LOCK_FILE: no lock at all (the machine's
    // lock file is neither contended for nor created by test suites). The hold only
    // applies to a lock taken, so the command does not sleep.
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_warmboot"))
        .env("WARMBOOT_NO_REAL_SYSCALLS", "1")
        .env_remove("WARMBOOT_LOCK_FILE")
        .env("WARMBOOT_TEST_HOLD_LOCK_MS", "120000")
        .args(["unload"])
        .output()
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(60));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("WARMBOOT_NO_REAL_SYSCALLS"), "{err}");
}

#[test]
fn without_a_place_for_the_lock_file_the_command_goes_on_with_a_warning() {
    // Minimal initramfs systems have no /run; systemd-shutdown runs `kexec -e` late.
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("run/lock/warmboot.lock");
    let out = run(&lock, &["unload"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with(&format!(
            "warmboot: warning: {}: cannot lock (No such file or directory",
            lock.display()
        )),
        "{err}"
    );
    assert!(
        lines[0].ends_with("; going on without the lock, so another warmboot could interleave"),
        "{err}"
    );
    assert!(lines[1].contains("WARMBOOT_NO_REAL_SYSCALLS"), "{err}");
}
