//! One warmboot at a time changes the loaded kernel: an exclusive advisory lock.
//!
//! The kernel serialises the kexec syscalls themselves (`kexec_trylock()` in
//! kernel/kexec_core.c answers EBUSY), but a warmboot load is longer than one syscall: it
//! reads the machine's state, plans against it and then loads; `reboot --cold` unloads and
//! then reboots. Two of those interleaved could load a plan made for a state that no longer
//! holds, or unload what the other just loaded. So every command that changes kexec state
//! on the real system (`load` without `--dry-run`, `unload`, `exec`, `reboot`, and the
//! kexec-tools command line's `-l`/`-p`/`-u`/`-e`/`-f`/bare kernel) takes this lock first,
//! before reading anything, and holds it until the process ends.
//!
//! The lock is flock(2) (`LOCK_EX | LOCK_NB`) on `/run/warmboot/lock`. The directory is
//! root's alone (created mode 0700, refused when it is a link or another user's, narrowed
//! to 0700 when it is wider): `/run/lock` would be the FHS place, but every local user may
//! create files there (mode 1777), and a user who created the lock file first would make
//! every load, unload and exec fail — and systemd then reboots through the firmware.
//! Only root can create entries in `/run` (0755), so no user can own `/run/warmboot`
//! first. The file itself is opened without following links, mode 0600, and refused when
//! it is not a regular file or is another user's. flock belongs to the open file and
//! the kernel drops it when the process exits, however it exits, so a file left behind by
//! a killed warmboot never blocks the next one. The holder writes its pid and command line
//! into the file so that the loser can say who is busy; the loser exits at once (no
//! waiting) with one line naming both.
//!
//! `WARMBOOT_LOCK_FILE` names another lock file (tests; several warmboot trees on one
//! machine). When `WARMBOOT_NO_REAL_SYSCALLS` is set and `WARMBOOT_LOCK_FILE` is not, no
//! lock is taken: such a process can never change kexec state (every real backend refuses),
//! and test suites running warmboots in parallel must neither contend for nor create the
//! machine's lock file. Where the lock file cannot exist (no `/run`, as in a minimal
//! initramfs, or a read-only one late in shutdown) the command warns and goes on unlocked.

use crate::error::{Error, Result};
use crate::kexec::linux::NO_REAL_SYSCALLS;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use std::ffi::OsString;
use std::fs::File;
use std::io::Read as _;
use std::os::unix::fs::{FileExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

/// warmboot's root-only directory in the tmpfs `/run` (cleared at boot).
pub const STATE_DIR: &str = "/run/warmboot";
/// The lock file, inside [`STATE_DIR`].
pub const LOCK_FILE: &str = "/run/warmboot/lock";
/// Environment variable naming another lock file.
pub const LOCK_FILE_ENV: &str = "WARMBOOT_LOCK_FILE";
/// Test only, honoured only with `WARMBOOT_NO_REAL_SYSCALLS` set: after taking the lock,
/// sleep this many milliseconds, so a test can watch a second warmboot lose.
pub const HOLD_FOR_TEST_ENV: &str = "WARMBOOT_TEST_HOLD_LOCK_MS";

/// Longest command line recorded in the lock file, in characters.
const MAX_COMMAND_CHARS: usize = 200;

/// The held lock; dropping it (or exiting) releases it.
#[derive(Debug)]
pub struct KexecLock {
    _file: Flock<File>,
    path: PathBuf,
}

impl KexecLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Which lock file to use, given `WARMBOOT_LOCK_FILE` and whether
/// `WARMBOOT_NO_REAL_SYSCALLS` is set; None means no lock (see the module doc).
pub fn choose_path(env_file: Option<OsString>, no_real_syscalls: bool) -> Option<PathBuf> {
    match env_file {
        Some(f) if !f.is_empty() => Some(PathBuf::from(f)),
        _ if no_real_syscalls => None,
        _ => Some(PathBuf::from(LOCK_FILE)),
    }
}

/// Makes `dir` a directory only `euid` can enter: creates it mode 0700, or checks the one
/// there is not a link and belongs to `euid`, and narrows a wider mode to 0700. Errors name
/// the directory; a missing parent or a read-only one comes back as the I/O error, which
/// [`lock_unavailable`] recognises.
pub fn prepare_private_dir(dir: &Path, euid: u32) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    let in_dir = |e: Error| e.in_file(dir);
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(in_dir(Error::Io(e))),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| in_dir(Error::Io(e)))?;
    if !meta.file_type().is_dir() {
        return Err(in_dir(Error::Unsupported(
            "warmboot's lock directory is not a directory (a link or a file): remove it"
                .to_string(),
        )));
    }
    if meta.uid() != euid {
        return Err(in_dir(Error::Unsupported(format!(
            "warmboot's lock directory belongs to uid {}, not to uid {euid} running warmboot; its owner could block every load: remove it",
            meta.uid()
        ))));
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| in_dir(Error::Io(e)))?;
    }
    Ok(())
}

/// Takes the lock for a command that changes kexec state; `args` is the command line
/// without the program name (recorded for a loser's message). Returns None when no lock
/// applies (see the module doc), and, after a warning line on stderr, when the lock's
/// directory is missing or read-only ([`lock_unavailable`]): minimal initramfs systems
/// have no /run, and systemd-shutdown runs `kexec -e` after most filesystems are gone;
/// refusing there would only turn a warm reboot into a failed one.
pub fn take(args: &[String]) -> Result<Option<KexecLock>> {
    let no_real = std::env::var_os(NO_REAL_SYSCALLS).is_some();
    let env_file = std::env::var_os(LOCK_FILE_ENV).filter(|f| !f.is_empty());
    let Some(path) = choose_path(env_file.clone(), no_real) else {
        return Ok(None);
    };
    // The machine's lock lives in root's own directory; a test's file where it says.
    let acquired = match env_file {
        Some(_) => acquire(&path, &command_line(args)),
        None => prepare_private_dir(Path::new(STATE_DIR), nix::unistd::geteuid().as_raw())
            .and_then(|()| acquire(&path, &command_line(args))),
    };
    let lock = match acquired {
        Ok(l) => l,
        Err(e) => {
            if let Some(why) = lock_unavailable(&e) {
                eprintln!(
                    "warmboot: warning: {}: cannot lock ({why}); going on without the lock, so another warmboot could interleave",
                    path.display()
                );
                return Ok(None);
            }
            return Err(e);
        }
    };
    if no_real {
        if let Some(ms) = std::env::var(HOLD_FOR_TEST_ENV)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
    }
    Ok(Some(lock))
}

/// Takes the lock at `path` without waiting and records `command` and this process's pid
/// in it. Fails with [`Error::Locked`] (in the file) naming the holder when another open
/// file holds it, and refuses a lock file that is a symlink or belongs to another user:
/// whoever owns it could hold it forever and so block every kexec load.
pub fn acquire(path: &Path, command: &str) -> Result<KexecLock> {
    let in_file = |e: Error| e.in_file(path);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| in_file(open_error(e)))?;
    let meta = file.metadata().map_err(|e| in_file(Error::Io(e)))?;
    if !meta.is_file() {
        return Err(in_file(Error::Unsupported(
            "the lock file is not a regular file: remove it".to_string(),
        )));
    }
    check_owner(meta.uid(), nix::unistd::geteuid().as_raw()).map_err(in_file)?;
    let locked = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(l) => l,
        Err((mut file, Errno::EWOULDBLOCK)) => {
            let mut text = String::new();
            // A holder that has not written its record yet reads as empty.
            let _ = file.read_to_string(&mut text);
            return Err(in_file(Error::Locked {
                holder: describe_holder(&text),
            }));
        }
        Err((_, errno)) => return Err(in_file(Error::Io(errno.into()))),
    };
    let record = format!("{}\n{command}\n", std::process::id());
    locked
        .set_len(0)
        .and_then(|()| locked.write_all_at(record.as_bytes(), 0))
        .map_err(|e| in_file(Error::Io(e)))?;
    Ok(KexecLock {
        _file: locked,
        path: path.to_path_buf(),
    })
}

/// Whether `e` (from [`acquire`]) says the lock file cannot exist here at all: its
/// directory is missing (ENOENT, ENOTDIR) or read-only (EROFS). Returns the reason.
pub fn lock_unavailable(e: &Error) -> Option<&std::io::Error> {
    match e {
        Error::File { source, .. } => lock_unavailable(source),
        Error::Io(io)
            if matches!(
                io.raw_os_error(),
                Some(libc::ENOENT | libc::ENOTDIR | libc::EROFS)
            ) =>
        {
            Some(io)
        }
        _ => None,
    }
}

/// What a failure to open the lock file means for the administrator.
fn open_error(e: std::io::Error) -> Error {
    match e.raw_os_error() {
        Some(libc::ELOOP) => Error::Unsupported(
            "the lock file is a symbolic link, which warmboot does not follow: remove it"
                .to_string(),
        ),
        Some(libc::EACCES | libc::EPERM) => Error::Unsupported(
            "cannot open the lock file: permission denied (changing the loaded kernel needs root)"
                .to_string(),
        ),
        _ => Error::Io(e),
    }
}

/// Refuses a lock file owned by another user than the one running warmboot.
pub fn check_owner(file_uid: u32, euid: u32) -> Result<()> {
    if file_uid == euid {
        return Ok(());
    }
    Err(Error::Unsupported(format!(
        "the lock file belongs to uid {file_uid}, not to uid {euid} running warmboot; its owner could block every load: remove it"
    )))
}

/// The holder as a loser shows it, from the lock file's text (`PID\nCOMMAND\n`):
/// "pid 1234, `load /boot/vmlinuz`".
pub fn describe_holder(text: &str) -> String {
    let mut lines = text.lines();
    let pid = lines.next().and_then(|l| l.trim().parse::<u32>().ok());
    let command = lines.next().map(str::trim).filter(|c| !c.is_empty());
    match (pid, command) {
        (Some(p), Some(c)) => format!("pid {p}, `{c}`"),
        (Some(p), None) => format!("pid {p}"),
        (None, _) => "pid not recorded yet".to_string(),
    }
}

/// The command line as recorded: arguments joined by spaces (an argument that is empty
/// or holds spaces in single quotes), control characters (a newline would break the
/// record) shown as `?`, at most 200 characters.
pub fn command_line(args: &[String]) -> String {
    let joined = args
        .iter()
        .map(|a| {
            if a.is_empty() || a.chars().any(char::is_whitespace) {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let mut out: String = joined
        .chars()
        .take(MAX_COMMAND_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if joined.chars().count() > MAX_COMMAND_CHARS {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_chosen_by_env_test_mode_and_run_lock() {
        assert_eq!(
            choose_path(Some("/tmp/x.lock".into()), true),
            Some(PathBuf::from("/tmp/x.lock"))
        );
        assert_eq!(
            choose_path(Some("/tmp/x.lock".into()), false),
            Some(PathBuf::from("/tmp/x.lock"))
        );
        assert_eq!(choose_path(None, true), None);
        assert_eq!(choose_path(Some("".into()), true), None);
        assert_eq!(choose_path(None, false), Some(PathBuf::from(LOCK_FILE)));
        assert_eq!(
            choose_path(Some("".into()), false),
            Some(PathBuf::from(LOCK_FILE))
        );
        assert_eq!(Path::new(LOCK_FILE).parent(), Some(Path::new(STATE_DIR)));
    }

    #[test]
    fn the_lock_directory_is_made_and_kept_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let t = tempfile::tempdir().unwrap();
        let me = nix::unistd::geteuid().as_raw();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o7777;
        // Created 0700.
        let dir = t.path().join("warmboot");
        prepare_private_dir(&dir, me).unwrap();
        assert_eq!(mode(&dir), 0o700);
        // A wider one of ours is narrowed.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
        prepare_private_dir(&dir, me).unwrap();
        assert_eq!(mode(&dir), 0o700);
        // Another user's is refused (simulated by asking for another owner).
        let e = prepare_private_dir(&dir, me + 1).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}: ", dir.display())), "{e}");
        assert!(
            e.contains(&format!("belongs to uid {me}, not to uid {}", me + 1)),
            "{e}"
        );
        // A link (even to a private directory) and a file are refused.
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        let e = prepare_private_dir(&link, me).unwrap_err().to_string();
        assert!(e.contains("is not a directory (a link or a file)"), "{e}");
        let file = t.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(prepare_private_dir(&file, me).is_err());
        // No parent (no /run): unavailable, so the command warns and goes on.
        let e = prepare_private_dir(&t.path().join("no/run/warmboot"), me).unwrap_err();
        assert_eq!(
            lock_unavailable(&e).and_then(std::io::Error::raw_os_error),
            Some(libc::ENOENT)
        );
        // The lock file inside is root's alone too.
        let _held = acquire(&dir.join("lock"), "load").unwrap();
        assert_eq!(mode(&dir.join("lock")), 0o600);
    }

    #[test]
    fn a_second_taker_loses_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("warmboot.lock");
        let held = acquire(&path, "load /boot/vmlinuz --initrd /boot/initrd.img").unwrap();
        assert_eq!(held.path(), path);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!(
                "{}\nload /boot/vmlinuz --initrd /boot/initrd.img\n",
                std::process::id()
            )
        );
        // flock conflicts between two open files even within one process.
        let e = acquire(&path, "unload").unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "{}: another warmboot (pid {}, `load /boot/vmlinuz --initrd /boot/initrd.img`) is changing the loaded kernel; try again when it has finished",
                path.display(),
                std::process::id()
            )
        );
        drop(held);
        let again = acquire(&path, "unload").unwrap();
        assert_eq!(
            std::fs::read_to_string(again.path()).unwrap(),
            format!("{}\nunload\n", std::process::id())
        );
    }

    #[test]
    fn a_stale_record_does_not_block_and_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("warmboot.lock");
        // A longer record than ours: truncation must leave no tail of it.
        std::fs::write(&path, "4194304\nload /a/very/long/path/to/a/kernel/image\n").unwrap();
        let held = acquire(&path, "exec").unwrap();
        assert_eq!(
            std::fs::read_to_string(held.path()).unwrap(),
            format!("{}\nexec\n", std::process::id())
        );
    }

    #[test]
    fn symlinks_and_other_owners_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        let link = dir.path().join("warmboot.lock");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = acquire(&link, "load").unwrap_err().to_string();
        assert!(e.contains("is a symbolic link"), "{e}");
        assert!(!target.exists());
        let fifo = dir.path().join("fifo.lock");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let e = acquire(&fifo, "load").unwrap_err().to_string();
        assert!(
            e.ends_with("fifo.lock: the lock file is not a regular file: remove it"),
            "{e}"
        );
        assert!(check_owner(0, 0).is_ok());
        let e = open_error(std::io::Error::from_raw_os_error(libc::EACCES)).to_string();
        assert!(
            e == "cannot open the lock file: permission denied (changing the loaded kernel needs root)",
            "{e}"
        );
        let e = open_error(std::io::Error::from_raw_os_error(libc::EROFS)).to_string();
        assert!(e.starts_with("cannot read: Read-only file system"), "{e}");
        let e = check_owner(1000, 0).unwrap_err().to_string();
        assert!(e.contains("belongs to uid 1000, not to uid 0"), "{e}");
    }

    #[test]
    fn a_missing_or_read_only_directory_makes_the_lock_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let e = acquire(&dir.path().join("no/such/dir/warmboot.lock"), "exec").unwrap_err();
        assert_eq!(
            lock_unavailable(&e).and_then(std::io::Error::raw_os_error),
            Some(libc::ENOENT)
        );
        let e = Error::Io(std::io::Error::from_raw_os_error(libc::EROFS)).in_file("/run/x");
        assert!(lock_unavailable(&e).is_some());
        // Contention and refusals are not "unavailable": they stop the command.
        let path = dir.path().join("warmboot.lock");
        let _held = acquire(&path, "load").unwrap();
        assert!(lock_unavailable(&acquire(&path, "exec").unwrap_err()).is_none());
        let e = open_error(std::io::Error::from_raw_os_error(libc::EACCES)).in_file("/run/x");
        assert!(lock_unavailable(&e).is_none());
    }

    #[test]
    fn holders_are_described_from_their_record() {
        assert_eq!(
            describe_holder("77\nload k --panic\n"),
            "pid 77, `load k --panic`"
        );
        assert_eq!(describe_holder("77\n"), "pid 77");
        assert_eq!(describe_holder(""), "pid not recorded yet");
        assert_eq!(describe_holder("garbage"), "pid not recorded yet");
    }

    #[test]
    fn command_lines_are_one_line_and_bounded() {
        assert_eq!(
            command_line(&["load".into(), "a\nb".into()]),
            "load 'a?b'".to_string()
        );
        assert_eq!(
            command_line(&[
                "load".into(),
                "k".into(),
                "--append".into(),
                "console=ttyS0 quiet".into(),
                "".into()
            ]),
            "load k --append 'console=ttyS0 quiet' ''"
        );
        let long = command_line(&["x".repeat(500)]);
        assert_eq!(long.chars().count(), MAX_COMMAND_CHARS + 1);
        assert!(long.ends_with('…'));
    }
}
