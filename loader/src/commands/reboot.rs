//! `warmboot reboot [--cold]`: the administrator's reboot, warm when a kernel is loaded.
//!
//! Under systemd (`/run/systemd/system` exists, the test `sd_booted()` uses) the reboot
//! goes through systemd so that services stop and filesystems are unmounted cleanly:
//! `systemctl kexec` (warm) or `systemctl reboot` (cold). systemd-shutdown then runs
//! `/usr/sbin/kexec -e` (warmboot when installed as `kexec`) or, since systemd v246, calls
//! reboot(RB_KEXEC) itself when that binary is missing (src/shutdown/shutdown.c). Without
//! systemd, warmboot shuts down cleanly itself ([`crate::shutdown`]: SIGTERM, SIGKILL,
//! sync, remount read-only) and then calls reboot(2): LINUX_REBOOT_CMD_KEXEC when a kernel
//! is loaded, LINUX_REBOOT_CMD_RESTART otherwise; `--force` skips the shutdown (sync and
//! reboot(2) at once, as `reboot -f`). `--cold` unloads the loaded kernel first, so that
//! even a reboot systemd turns into a kexec goes through the firmware.
//!
//! What touches the machine sits behind [`System`] and [`Kexec`], so tests use fakes; the
//! real [`RealSystem`] refuses everything when `WARMBOOT_NO_REAL_SYSCALLS` is set.

use crate::commands::unload::UnloadVia;
use crate::error::{Error, Result};
use crate::host::HostRoot;
use crate::kexec::linux::{LinuxKexec, NO_REAL_SYSCALLS};
use crate::kexec::Kexec;
use crate::load_record::FileIdentity;
use crate::memmap::Mode;

/// The parts of the running system a reboot uses besides the kexec calls.
pub trait System {
    /// Whether systemd is the init system (`/run/systemd/system` is a directory).
    fn systemd_running(&self) -> bool;
    /// Runs `systemctl VERB` and waits for it (it returns once the job is queued).
    fn systemctl(&mut self, verb: &str) -> Result<()>;
    /// sync(2).
    fn sync(&mut self);
    /// Stops every other process (SIGTERM, then SIGKILL), saying what it did.
    fn stop_processes(&mut self, say: &mut dyn FnMut(&str)) -> Result<()>;
    /// sync, remount every real filesystem read-only, sync; one line per failure.
    fn remount_read_only(&mut self) -> Vec<String>;
    /// reboot(LINUX_REBOOT_CMD_RESTART): through the firmware; does not return on success.
    fn reboot_cold(&mut self) -> Result<()>;
}

/// How the reboot went (or is going): said on stdout before anything happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    SystemctlKexec,
    SystemctlReboot,
    SyscallKexec,
    SyscallRestart,
    ForcedKexec,
    ForcedRestart,
}

impl Path {
    pub fn describe(self) -> &'static str {
        match self {
            Path::SystemctlKexec => "warm reboot into the loaded kernel through systemd (systemctl kexec)",
            Path::SystemctlReboot => "cold reboot through systemd and the firmware (systemctl reboot)",
            Path::SyscallKexec => "warm reboot into the loaded kernel (no systemd: stop every process, remount read-only, sync, then reboot(LINUX_REBOOT_CMD_KEXEC))",
            Path::SyscallRestart => "cold reboot through the firmware (no systemd: stop every process, remount read-only, sync, then reboot(LINUX_REBOOT_CMD_RESTART))",
            Path::ForcedKexec => "warm reboot into the loaded kernel at once (--force: sync, then reboot(LINUX_REBOOT_CMD_KEXEC); processes are not stopped)",
            Path::ForcedRestart => "cold reboot through the firmware at once (--force: sync, then reboot(LINUX_REBOOT_CMD_RESTART); processes are not stopped)",
        }
    }
}

/// Decides and performs the reboot. `say` gets one line before the point of no return.
/// `force`: without systemd, reboot(2) at once, without stopping processes first (under
/// systemd it changes nothing: systemd's own shutdown is the clean one).
pub fn run(
    kexec: &mut dyn Kexec,
    sys: &mut dyn System,
    (cold, force): (bool, bool),
    unload_via: UnloadVia,
    say: &mut dyn FnMut(&str),
) -> Result<Path> {
    let loaded = kexec.status()?.loaded;
    if cold && loaded {
        unload_via.unload(kexec, Mode::Normal)?;
        say("unloaded the loaded kernel (--cold)");
    }
    let warm = loaded && !cold;
    if !warm && !cold {
        say("no kernel is loaded: rebooting through the firmware (run `warmboot load` first for a warm reboot)");
    }
    let path = match (sys.systemd_running(), warm, force) {
        (true, true, _) => Path::SystemctlKexec,
        (true, false, _) => Path::SystemctlReboot,
        (false, true, false) => Path::SyscallKexec,
        (false, false, false) => Path::SyscallRestart,
        (false, true, true) => Path::ForcedKexec,
        (false, false, true) => Path::ForcedRestart,
    };
    say(path.describe());
    match path {
        Path::SystemctlKexec => sys.systemctl("kexec")?,
        Path::SystemctlReboot => sys.systemctl("reboot")?,
        Path::SyscallKexec | Path::SyscallRestart => {
            sys.stop_processes(say)?;
            for failure in sys.remount_read_only() {
                say(&failure);
            }
            if path == Path::SyscallKexec {
                kexec.exec()?;
            } else {
                sys.reboot_cold()?;
            }
        }
        Path::ForcedKexec => {
            sys.sync();
            kexec.exec()?;
        }
        Path::ForcedRestart => {
            sys.sync();
            sys.reboot_cold()?;
        }
    }
    Ok(path)
}

/// The running machine. Refuses every action when [`NO_REAL_SYSCALLS`] is set.
#[derive(Debug, Default)]
pub struct RealSystem;

impl RealSystem {
    fn guard() -> Result<()> {
        guard_with(std::env::var_os(NO_REAL_SYSCALLS))
    }
}

/// The test guard, given the value of [`NO_REAL_SYSCALLS`]: any value refuses.
fn guard_with(value: Option<std::ffi::OsString>) -> Result<()> {
    if value.is_some() {
        return Err(Error::Unsupported(format!(
            "real reboots are disabled here ({NO_REAL_SYSCALLS} is set)"
        )));
    }
    Ok(())
}

impl System for RealSystem {
    fn systemd_running(&self) -> bool {
        HostRoot::new("/").path("/run/systemd/system").is_dir()
    }

    fn systemctl(&mut self, verb: &str) -> Result<()> {
        RealSystem::guard()?;
        let status = std::process::Command::new("systemctl")
            .arg(verb)
            .status()
            .map_err(|e| Error::Io(e).in_file("systemctl"))?;
        if status.success() {
            Ok(())
        } else {
            Err(Error::Unsupported(format!(
                "systemctl {verb} failed ({status})"
            )))
        }
    }

    fn sync(&mut self) {
        if RealSystem::guard().is_ok() {
            nix::unistd::sync();
        }
    }

    fn stop_processes(&mut self, say: &mut dyn FnMut(&str)) -> Result<()> {
        RealSystem::guard()?;
        crate::shutdown::stop_processes(say)
    }

    fn remount_read_only(&mut self) -> Vec<String> {
        match RealSystem::guard() {
            Ok(()) => crate::shutdown::remount_read_only(),
            Err(e) => vec![e.to_string()],
        }
    }

    fn reboot_cold(&mut self) -> Result<()> {
        RealSystem::guard()?;
        crate::kexec::linux::reboot_restart()
    }
}

/// Why the loaded kernel is not the default one (what `load --default` would load now),
/// from warmboot's record of the load; `None` when it is. Pure: the digests of the default
/// kernel and initrd and its command line, as `load --default` resolves them, in.
pub fn stale_reason(
    record: Option<&crate::load_record::LoadRecord>,
    kernel_sha256: &str,
    initrd_sha256: Option<&str>,
    cmdline: &str,
) -> Option<String> {
    let Some(r) = record else {
        return Some("warmboot has no record of the loaded kernel".to_string());
    };
    if r.is_load_of(kernel_sha256, initrd_sha256, cmdline) {
        return None;
    }
    Some(if r.kernel_sha256 != kernel_sha256 {
        format!(
            "the loaded kernel is {}{}, not the default one",
            r.kernel.display(),
            r.release
                .as_deref()
                .map(|v| format!(" ({v})"))
                .unwrap_or_default()
        )
    } else if r.initrd_sha256.as_deref() != initrd_sha256 {
        "the default kernel's initrd changed since it was loaded".to_string()
    } else {
        format!(
            "the default command line is now {cmdline:?}, not {:?}",
            r.cmdline
        )
    })
}

/// The record's digests of the default kernel and initrd, when its files are provably the
/// ones the load read and hashed: the record has their identities and the default's files
/// have exactly those now (`kernel_now`: the default kernel's, `None` when it cannot be
/// stat'ed; `initrd_now`: `None` when the default has no initrd, else its identity as
/// `kernel_now`). The default has an initrd exactly when the load had one. `None`: the
/// files must be read and hashed. Pure.
pub fn recorded_digests_if_same_files(
    record: Option<&crate::load_record::LoadRecord>,
    kernel_now: Option<FileIdentity>,
    initrd_now: Option<Option<FileIdentity>>,
) -> Option<(String, Option<String>)> {
    let r = record?;
    let kernel_same = r.kernel_file.is_some() && r.kernel_file == kernel_now;
    if !kernel_same || r.kernel_sha256.is_empty() {
        return None;
    }
    let initrd_same = match initrd_now {
        None => r.initrd.is_none() && r.initrd_sha256.is_none(),
        Some(now) => r.initrd_file.is_some() && r.initrd_file == now && r.initrd_sha256.is_some(),
    };
    initrd_same.then(|| (r.kernel_sha256.clone(), r.initrd_sha256.clone()))
}

/// The SHA-256 of the default kernel and initrd: the record's when
/// [`recorded_digests_if_same_files`] says its files are the default's (stat(2) only),
/// else `digest` of each file (which reads it).
pub fn default_digests(
    record: Option<&crate::load_record::LoadRecord>,
    kernel: &std::path::Path,
    initrd: Option<&std::path::Path>,
    digest: &mut dyn FnMut(&std::path::Path) -> Result<String>,
) -> Result<(String, Option<String>)> {
    let now = |p: &std::path::Path| std::fs::metadata(p).ok().and_then(|m| FileIdentity::of(&m));
    let initrd_now = initrd.map(now);
    if let Some(d) = recorded_digests_if_same_files(record, now(kernel), initrd_now) {
        return Ok(d);
    }
    let kernel_sha = digest(kernel)?;
    let initrd_sha = initrd.map(&mut *digest).transpose()?;
    Ok((kernel_sha, initrd_sha))
}

/// Before a warm reboot: when the loaded kernel is not the one the machine boots by
/// default (a kernel upgrade since it was loaded), loads the default first and says so;
/// if that load fails, unloads, so the reboot goes through the firmware into the default
/// kernel instead of warm into the old one. When the default cannot be told, says so and
/// keeps the loaded kernel.
fn load_default_if_stale(
    kexec: &mut dyn Kexec,
    unload_via: UnloadVia,
    say: &mut dyn FnMut(&str),
) -> Result<()> {
    use crate::commands::load_options::{default_cmdline, LoadOptions};
    use crate::file_trust::Sha256Digest;
    if !kexec.status()?.loaded {
        return Ok(());
    }
    let host = HostRoot::new("/");
    let default = match crate::default_kernel::find_default(&host) {
        Ok(d) => d,
        Err(e) => {
            say(&format!(
                "cannot tell the default kernel ({e}); rebooting into the loaded kernel"
            ));
            return Ok(());
        }
    };
    let record =
        crate::load_record::read(std::path::Path::new(crate::lock::STATE_DIR), Mode::Normal)?;
    let mut digest = |p: &std::path::Path| -> Result<String> {
        let bytes = std::fs::read(p).map_err(|e| Error::Io(e).in_file(p))?;
        Ok(Sha256Digest::of(&bytes).to_string())
    };
    let (kernel_sha, initrd_sha) = default_digests(
        record.as_ref(),
        &default.kernel,
        default.initrd.as_deref(),
        &mut digest,
    )?;
    let opts = LoadOptions {
        cmdline: default_cmdline(default.cmdline.clone(), Mode::Normal),
        chosen_by: Some(format!("default kernel: {}", default.how)),
        ..LoadOptions::new(default.kernel.clone(), default.initrd.clone())
    };
    let cmdline = crate::commands::load::resolve_cmdline(&host, &opts)?;
    let Some(why) = stale_reason(
        record.as_ref(),
        &kernel_sha,
        initrd_sha.as_deref(),
        &cmdline,
    ) else {
        return Ok(());
    };
    say(&format!(
        "{why}: loading the default kernel {} first ({})",
        default.kernel.display(),
        default.how
    ));
    match crate::commands::load::run(&opts) {
        Ok(text) => {
            say(text.lines().next().unwrap_or_default());
            Ok(())
        }
        Err(e) => {
            say(&format!(
                "could not load the default kernel ({e}); unloading, so this reboot goes through the firmware"
            ));
            unload_via.unload(kexec, Mode::Normal)?;
            crate::load_record::forget(Mode::Normal);
            Ok(())
        }
    }
}

/// Whether a warm reboot first makes sure the loaded kernel is the default one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// `warmboot reboot`: load the default kernel first when the loaded one is not it
    /// (a kernel upgrade since the load).
    DefaultIfStale,
    /// kexec-tools' bare `kexec KERNEL`: reboot into what was just loaded, whatever the
    /// default (kexec-tools loads, then runs `shutdown -r now`).
    KeepLoaded,
}

/// `warmboot reboot` on the running machine.
pub fn run_real(cold: bool, force: bool, refresh: Refresh) -> Result<()> {
    RealSystem::guard()?;
    let mut kexec = LinuxKexec::new(HostRoot::new("/"))?;
    // Lines after the other processes are stopped may find no terminal: never fail on them.
    let mut say = |l: &str| {
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), "{l}");
    };
    // Under lockdown kexec_load is refused, the unload of --cold included.
    let unload_via = crate::commands::unload::choose(
        crate::plan::SyscallChoice::Auto,
        &crate::security_state::SecurityState::read(&HostRoot::new("/"))?,
    );
    if !cold && refresh == Refresh::DefaultIfStale {
        load_default_if_stale(&mut kexec, unload_via, &mut say)?;
    }
    let r = run(
        &mut kexec,
        &mut RealSystem,
        (cold, force),
        unload_via,
        &mut say,
    );
    if cold {
        crate::load_record::forget(Mode::Normal);
    }
    r.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kexec::{FileLoad, Status};
    use crate::plan::Plan;

    /// Both fakes write into one log, so the order of calls is checked.
    type Log = std::rc::Rc<std::cell::RefCell<Vec<String>>>;

    struct Fake {
        loaded: bool,
        log: Log,
    }

    impl Kexec for Fake {
        fn kexec_load(&mut self, _plan: &Plan) -> Result<()> {
            Err(Error::Unsupported("a reboot loads nothing".into()))
        }
        fn kexec_file_load(&mut self, _req: &FileLoad<'_>) -> Result<()> {
            Err(Error::Unsupported("a reboot loads nothing".into()))
        }
        fn unload(&mut self, mode: Mode) -> Result<()> {
            self.log.borrow_mut().push(format!("unload {mode:?}"));
            self.loaded = false;
            Ok(())
        }
        fn unload_file(&mut self, mode: Mode) -> Result<()> {
            self.log.borrow_mut().push(format!("unload_file {mode:?}"));
            self.loaded = false;
            Ok(())
        }
        fn exec(&mut self) -> Result<()> {
            self.log.borrow_mut().push("reboot(KEXEC)".into());
            Ok(())
        }
        fn status(&self) -> Result<Status> {
            Ok(Status {
                loaded: self.loaded,
                ..Status::default()
            })
        }
    }

    struct FakeSystem {
        systemd: bool,
        log: Log,
    }

    impl System for FakeSystem {
        fn systemd_running(&self) -> bool {
            self.systemd
        }
        fn systemctl(&mut self, verb: &str) -> Result<()> {
            self.log.borrow_mut().push(format!("systemctl {verb}"));
            Ok(())
        }
        fn sync(&mut self) {
            self.log.borrow_mut().push("sync".into());
        }
        fn reboot_cold(&mut self) -> Result<()> {
            self.log.borrow_mut().push("reboot(RESTART)".into());
            Ok(())
        }
        fn stop_processes(&mut self, say: &mut dyn FnMut(&str)) -> Result<()> {
            self.log.borrow_mut().push("stop processes".into());
            say("1 process(es) still running 10s after SIGTERM: sending SIGKILL");
            Ok(())
        }
        fn remount_read_only(&mut self) -> Vec<String> {
            self.log.borrow_mut().push("remount read-only".into());
            vec!["/srv: cannot remount read-only: Device or resource busy".into()]
        }
    }

    fn reboot(loaded: bool, systemd: bool, cold: bool) -> (Path, Vec<String>, Vec<String>) {
        reboot_forced(loaded, systemd, cold, false)
    }

    fn reboot_forced(
        loaded: bool,
        systemd: bool,
        cold: bool,
        force: bool,
    ) -> (Path, Vec<String>, Vec<String>) {
        let log = Log::default();
        let mut k = Fake {
            loaded,
            log: log.clone(),
        };
        let mut sys = FakeSystem {
            systemd,
            log: log.clone(),
        };
        let mut said = Vec::new();
        let path = run(
            &mut k,
            &mut sys,
            (cold, force),
            UnloadVia::Classic,
            &mut |l| said.push(l.to_string()),
        )
        .unwrap();
        let calls = log.borrow().clone();
        (path, calls, said)
    }

    #[test]
    fn every_path() {
        let (p, log, _) = reboot(true, true, false);
        assert_eq!(
            (p, log),
            (Path::SystemctlKexec, vec!["systemctl kexec".to_string()])
        );
        let (p, log, said) = reboot(false, true, false);
        assert_eq!(
            (p, log),
            (Path::SystemctlReboot, vec!["systemctl reboot".to_string()])
        );
        assert!(said[0].starts_with("no kernel is loaded"), "{said:?}");
        // Without systemd: stop everything, remount read-only (which syncs), reboot.
        let clean = |last: &str| {
            vec![
                "stop processes".to_string(),
                "remount read-only".to_string(),
                last.to_string(),
            ]
        };
        let (p, log, said) = reboot(true, false, false);
        assert_eq!((p, log), (Path::SyscallKexec, clean("reboot(KEXEC)")));
        assert!(
            said.iter().any(|l| l.contains("sending SIGKILL")),
            "{said:?}"
        );
        assert!(
            said.iter()
                .any(|l| l.contains("/srv: cannot remount read-only")),
            "{said:?}"
        );
        let (p, log, _) = reboot(false, false, false);
        assert_eq!((p, log), (Path::SyscallRestart, clean("reboot(RESTART)")));
        // --force: reboot(2) at once (still synced).
        let (p, log, said) = reboot_forced(true, false, false, true);
        assert_eq!(
            (p, log),
            (
                Path::ForcedKexec,
                vec!["sync".to_string(), "reboot(KEXEC)".to_string()]
            )
        );
        assert!(said.last().unwrap().contains("processes are not stopped"));
        let (p, log, _) = reboot_forced(false, false, false, true);
        assert_eq!(
            (p, log),
            (
                Path::ForcedRestart,
                vec!["sync".to_string(), "reboot(RESTART)".to_string()]
            )
        );
        // Under systemd --force changes nothing.
        let (p, _, _) = reboot_forced(true, true, false, true);
        assert_eq!(p, Path::SystemctlKexec);
    }

    #[test]
    fn cold_under_lockdown_unloads_with_kexec_file_load() {
        let log = Log::default();
        let mut k = Fake {
            loaded: true,
            log: log.clone(),
        };
        let mut sys = FakeSystem {
            systemd: true,
            log: log.clone(),
        };
        let p = run(
            &mut k,
            &mut sys,
            (true, false),
            UnloadVia::File,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(p, Path::SystemctlReboot);
        assert_eq!(
            *log.borrow(),
            vec![
                "unload_file Normal".to_string(),
                "systemctl reboot".to_string()
            ]
        );
    }

    #[test]
    fn cold_unloads_first() {
        let (p, log, said) = reboot(true, true, true);
        assert_eq!(p, Path::SystemctlReboot);
        assert_eq!(
            log,
            vec!["unload Normal".to_string(), "systemctl reboot".to_string()]
        );
        assert_eq!(said[0], "unloaded the loaded kernel (--cold)");
        let (p, log, _) = reboot(true, false, true);
        assert_eq!(p, Path::SyscallRestart);
        assert_eq!(log[0], "unload Normal");
    }

    #[test]
    fn a_loaded_kernel_is_stale_when_the_default_differs_in_any_part() {
        let r = crate::load_record::LoadRecord {
            kernel: "/boot/vmlinuz-6.1.0-56-amd64".into(),
            kernel_sha256: "aa".into(),
            release: Some("6.1.0-56-amd64".into()),
            initrd: Some("/boot/initrd.img-6.1.0-56-amd64".into()),
            initrd_sha256: Some("bb".into()),
            cmdline: "ro quiet".into(),
            syscall: "kexec_load".into(),
            loaded_at: 0,
            chosen_by: None,
            kernel_file: None,
            initrd_file: None,
        };
        assert_eq!(stale_reason(Some(&r), "aa", Some("bb"), "ro quiet"), None);
        assert_eq!(
            stale_reason(Some(&r), "cc", Some("bb"), "ro quiet").unwrap(),
            "the loaded kernel is /boot/vmlinuz-6.1.0-56-amd64 (6.1.0-56-amd64), not the default one"
        );
        assert!(stale_reason(Some(&r), "aa", Some("dd"), "ro quiet")
            .unwrap()
            .contains("initrd changed"));
        assert!(stale_reason(Some(&r), "aa", Some("bb"), "ro")
            .unwrap()
            .contains("command line is now \"ro\""));
        assert!(stale_reason(None, "aa", None, "")
            .unwrap()
            .contains("no record"));
    }

    /// A kernel and initrd as a load read them, and the record of that load.
    fn loaded_files() -> (
        tempfile::TempDir,
        std::path::PathBuf,
        std::path::PathBuf,
        crate::load_record::LoadRecord,
    ) {
        let d = tempfile::tempdir().unwrap();
        let (kernel, initrd) = (d.path().join("vmlinuz"), d.path().join("initrd.img"));
        std::fs::write(&kernel, b"kernel 6.1.0-56").unwrap();
        std::fs::write(&initrd, b"initrd 6.1.0-56").unwrap();
        // What the load's read stage gives the record.
        let (_, kb, kid) = crate::file_trust::open_and_read(&kernel).unwrap();
        let (_, ib, iid) = crate::file_trust::open_and_read(&initrd).unwrap();
        let sha = |b: &[u8]| crate::file_trust::Sha256Digest::of(b).to_string();
        let record = crate::load_record::LoadRecord {
            kernel: kernel.clone(),
            kernel_sha256: sha(&kb),
            release: Some("6.1.0-56-amd64".into()),
            initrd: Some(initrd.clone()),
            initrd_sha256: Some(sha(&ib)),
            cmdline: "ro quiet".into(),
            syscall: "kexec_load".into(),
            loaded_at: 0,
            chosen_by: None,
            kernel_file: Some(kid.unwrap()),
            initrd_file: Some(iid.unwrap()),
        };
        (d, kernel, initrd, record)
    }

    /// [`default_digests`] with a digest function that reads and counts: the digests, and
    /// how many files were read.
    fn digests_counted(
        record: Option<&crate::load_record::LoadRecord>,
        kernel: &std::path::Path,
        initrd: Option<&std::path::Path>,
    ) -> ((String, Option<String>), usize) {
        let mut reads = 0;
        let mut digest = |p: &std::path::Path| -> Result<String> {
            reads += 1;
            let bytes = std::fs::read(p).map_err(|e| Error::Io(e).in_file(p))?;
            Ok(crate::file_trust::Sha256Digest::of(&bytes).to_string())
        };
        let d = default_digests(record, kernel, initrd, &mut digest).unwrap();
        (d, reads)
    }

    fn stale(r: &crate::load_record::LoadRecord, d: &(String, Option<String>)) -> Option<String> {
        stale_reason(Some(r), &d.0, d.1.as_deref(), "ro quiet")
    }

    #[test]
    fn the_same_files_are_not_read_again() {
        let (_d, k, i, r) = loaded_files();
        let (d, reads) = digests_counted(Some(&r), &k, Some(&i));
        assert_eq!(reads, 0);
        assert_eq!(d, (r.kernel_sha256.clone(), r.initrd_sha256.clone()));
        assert_eq!(stale(&r, &d), None);
        // Without an initrd on either side too.
        let r = crate::load_record::LoadRecord {
            initrd: None,
            initrd_sha256: None,
            initrd_file: None,
            ..r
        };
        assert_eq!(digests_counted(Some(&r), &k, None).1, 0);
    }

    #[test]
    fn a_file_renamed_over_the_default_is_hashed_and_found_stale() {
        let (d, k, i, r) = loaded_files();
        // What dpkg and update-initramfs do: write a new file, rename it over the path.
        let new = d.path().join("vmlinuz.dpkg-new");
        std::fs::write(&new, b"kernel 6.1.0-57").unwrap();
        std::fs::rename(&new, &k).unwrap();
        let (got, reads) = digests_counted(Some(&r), &k, Some(&i));
        assert_eq!(reads, 2);
        assert!(
            stale(&r, &got).unwrap().contains("not the default one"),
            "{got:?}"
        );
        // The initrd alone, even with the same bytes: hashed (and then not stale).
        let (d, k, i, r) = loaded_files();
        let new = d.path().join("initrd.img.new");
        std::fs::write(&new, b"initrd 6.1.0-56").unwrap();
        std::fs::rename(&new, &i).unwrap();
        let (got, reads) = digests_counted(Some(&r), &k, Some(&i));
        assert_eq!((reads, stale(&r, &got)), (2, None));
    }

    #[test]
    fn a_file_rewritten_in_place_is_hashed() {
        use std::io::Write as _;
        let (_d, k, i, r) = loaded_files();
        // Same inode, same size, new bytes; the mtime set apart for sure (a write in the
        // same clock tick as the load may leave both times as they were).
        let mut f = std::fs::OpenOptions::new().write(true).open(&i).unwrap();
        f.write_all(b"initrd 6.1.0-57").unwrap();
        f.set_modified(std::time::UNIX_EPOCH).unwrap();
        drop(f);
        assert_eq!(
            std::fs::metadata(&i).unwrap().len(),
            r.initrd_file.unwrap().size
        );
        let (got, reads) = digests_counted(Some(&r), &k, Some(&i));
        assert_eq!(reads, 2);
        assert!(
            stale(&r, &got).unwrap().contains("initrd changed"),
            "{got:?}"
        );
    }

    #[test]
    fn a_record_without_file_identities_is_hashed() {
        let (_d, k, i, r) = loaded_files();
        let old = crate::load_record::LoadRecord {
            kernel_file: None,
            initrd_file: None,
            ..r.clone()
        };
        let (got, reads) = digests_counted(Some(&old), &k, Some(&i));
        assert_eq!((reads, stale(&old, &got)), (2, None));
        // An old record of a load without an initrd: the kernel is still hashed.
        let old = crate::load_record::LoadRecord {
            initrd: None,
            initrd_sha256: None,
            ..old
        };
        let (got, reads) = digests_counted(Some(&old), &k, None);
        assert_eq!((reads, stale(&old, &got)), (1, None));
        // Nor without a record, or without the initrd's identity alone.
        assert_eq!(digests_counted(None, &k, Some(&i)).1, 2);
        let half = crate::load_record::LoadRecord {
            initrd_file: None,
            ..r
        };
        assert_eq!(digests_counted(Some(&half), &k, Some(&i)).1, 2);
    }

    #[test]
    fn any_difference_in_identity_or_in_having_an_initrd_means_hashing() {
        let (_d, k, _i, r) = loaded_files();
        let (ki, ii) = (r.kernel_file.unwrap(), r.initrd_file.unwrap());
        let same = recorded_digests_if_same_files(Some(&r), Some(ki), Some(Some(ii)));
        assert_eq!(
            same,
            Some((r.kernel_sha256.clone(), r.initrd_sha256.clone()))
        );
        let changes: [fn(&mut FileIdentity); 5] = [
            |f| f.dev += 1,
            |f| f.ino += 1,
            |f| f.size += 1,
            |f| f.mtime_ns += 1,
            |f| f.ctime_ns += 1,
        ];
        for change in changes {
            let mut other = ki;
            change(&mut other);
            assert_eq!(
                recorded_digests_if_same_files(Some(&r), Some(other), Some(Some(ii))),
                None
            );
            let mut other = ii;
            change(&mut other);
            assert_eq!(
                recorded_digests_if_same_files(Some(&r), Some(ki), Some(Some(other))),
                None
            );
        }
        // A file that cannot be stat'ed; the default without the loaded initrd.
        assert_eq!(
            recorded_digests_if_same_files(Some(&r), None, Some(Some(ii))),
            None
        );
        assert_eq!(
            recorded_digests_if_same_files(Some(&r), Some(ki), Some(None)),
            None
        );
        assert_eq!(
            recorded_digests_if_same_files(Some(&r), Some(ki), None),
            None
        );
        assert_eq!(digests_counted(Some(&r), &k, None).1, 1);
        // The default with an initrd the load did not have.
        let bare = crate::load_record::LoadRecord {
            initrd: None,
            initrd_sha256: None,
            initrd_file: None,
            ..r.clone()
        };
        assert_eq!(
            recorded_digests_if_same_files(Some(&bare), Some(ki), Some(Some(ii))),
            None
        );
        assert_eq!(
            recorded_digests_if_same_files(Some(&bare), Some(ki), None),
            Some((r.kernel_sha256, None))
        );
    }

    #[test]
    fn the_guard_refuses_whatever_its_value() {
        // (The processes the CLI tests start run with the variable set; see
        // tests/admin_cli.rs. Setting it here would race with other threads' getenv.)
        let e = guard_with(Some("1".into())).unwrap_err().to_string();
        assert!(e.contains(NO_REAL_SYSCALLS), "{e}");
        assert!(guard_with(Some("".into())).is_err());
        assert!(guard_with(None).is_ok());
    }
}
