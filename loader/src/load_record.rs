//! What warmboot loaded, kept where `warmboot status` and `warmboot reboot` can read it.
//!
//! The kernel says only *that* a kernel is loaded (`/sys/kernel/kexec_loaded`), not which.
//! After `apt upgrade` installs a new kernel an administrator needs to know whether the
//! loaded one is still the one the machine would boot, so each successful load writes a
//! record — the files with their SHA-256, the release, the command line, the syscall and
//! the time — to `/run/warmboot/loaded.json` (`loaded-panic.json` for the capture kernel),
//! in warmboot's root-only directory ([`crate::lock::STATE_DIR`]). `/run` is a tmpfs, so a
//! record never outlives the boot it was made in; an unload removes it; a record whose
//! kernel the kernel no longer has (another tool unloaded it) is reported as stale.
//!
//! The record also keeps which files were read ([`FileIdentity`]: device, inode, size,
//! mtime, ctime, from fstat(2) of the descriptor the bytes were read through), so that
//! `warmboot reboot` can tell the default kernel is still the loaded one without reading
//! and hashing tens of MB again: a package manager replaces a kernel or initrd by renaming
//! a new file over the path (a new inode), and an in-place write changes the ctime, which
//! userspace cannot set back (inode(7), "Last status change timestamp"). Records written
//! before these fields existed still parse, without them, and are checked the slow way.

use crate::error::{Error, Result};
use crate::memmap::Mode;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Which file a path named when warmboot read it, from stat(2) (inode(7)): together,
/// enough to know without reading it again that a path still names the same, unchanged
/// file. The inode number changes when a file is replaced by a rename; the ctime on any
/// write or metadata change (also when the mtime is set back with touch or utimensat).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileIdentity {
    /// st_dev.
    pub dev: u64,
    /// st_ino.
    pub ino: u64,
    /// st_size.
    pub size: u64,
    /// st_mtim in nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// st_ctim in nanoseconds since the epoch.
    pub ctime_ns: i64,
}

impl FileIdentity {
    /// The identity in `meta` (of `File::metadata`, fstat, or `std::fs::metadata`, stat);
    /// `None` when a time is outside the years 1677 to 2262 that nanoseconds in an i64
    /// cover (a file touched far into the future: it is then hashed every time).
    pub fn of(meta: &std::fs::Metadata) -> Option<FileIdentity> {
        use std::os::unix::fs::MetadataExt as _;
        Some(FileIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: nanoseconds(meta.mtime(), meta.mtime_nsec())?,
            ctime_ns: nanoseconds(meta.ctime(), meta.ctime_nsec())?,
        })
    }
}

/// A stat(2) time (seconds and nanoseconds) in nanoseconds, when that fits in an i64.
fn nanoseconds(secs: i64, nsec: i64) -> Option<i64> {
    secs.checked_mul(1_000_000_000)?.checked_add(nsec)
}

/// One load, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadRecord {
    pub kernel: PathBuf,
    pub kernel_sha256: String,
    /// The kernel's release from its version string, when it has one.
    pub release: Option<String>,
    pub initrd: Option<PathBuf>,
    pub initrd_sha256: Option<String>,
    pub cmdline: String,
    /// `kexec_load` or `kexec_file_load`.
    pub syscall: String,
    /// Seconds since the epoch.
    pub loaded_at: u64,
    /// How the kernel was chosen (`--default: GRUB's default entry …`), if not given.
    pub chosen_by: Option<String>,
    /// The kernel file that was read and hashed; absent in older records, and when the
    /// file changed while it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_file: Option<FileIdentity>,
    /// The initrd file that was read and hashed (as `kernel_file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initrd_file: Option<FileIdentity>,
}

/// The record's file name in the state directory.
pub fn file_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Normal => "loaded.json",
        Mode::Panic => "loaded-panic.json",
    }
}

impl LoadRecord {
    /// Whether this record describes loading `kernel` (with its digest) with `initrd` and
    /// `cmdline`: the question `warmboot reboot` asks of the default kernel.
    pub fn is_load_of(
        &self,
        kernel_sha256: &str,
        initrd_sha256: Option<&str>,
        cmdline: &str,
    ) -> bool {
        self.kernel_sha256 == kernel_sha256
            && self.initrd_sha256.as_deref() == initrd_sha256
            && self.cmdline == cmdline
    }

    /// When it was loaded, as RFC 3339 (UTC).
    pub fn loaded_at_text(&self) -> String {
        humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(self.loaded_at),
        )
        .to_string()
    }

    /// One line for `warmboot status`.
    pub fn describe(&self) -> String {
        let when = self.loaded_at_text();
        let mut s = format!("{}", self.kernel.display());
        if let Some(r) = &self.release {
            s += &format!(" ({r})");
        }
        if let Some(i) = &self.initrd {
            s += &format!(" with {}", i.display());
        }
        s += &format!(", by warmboot with {} at {when}", self.syscall);
        if let Some(c) = &self.chosen_by {
            s += &format!(", chosen as {c}");
        }
        s
    }
}

/// Writes `record` as `dir`/[`file_name`], atomically (a temporary file renamed over it),
/// mode 0600. `dir` must exist and be private ([`crate::lock::prepare_private_dir`]).
pub fn write(dir: &Path, mode: Mode, record: &LoadRecord) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = dir.join(file_name(mode));
    let tmp = dir.join(format!(".{}.tmp", file_name(mode)));
    let text = serde_json::to_string_pretty(record)
        .map_err(|e| Error::Io(std::io::Error::other(e)).in_file(&path))?;
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .map_err(|e| Error::Io(e).in_file(&tmp))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.write_all(b"\n"))
        .map_err(|e| Error::Io(e).in_file(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::Io(e).in_file(&path))
}

/// Reads the record of `mode` from `dir`; `None` when there is none.
pub fn read(dir: &Path, mode: Mode) -> Result<Option<LoadRecord>> {
    let path = dir.join(file_name(mode));
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::Io(e).in_file(&path)),
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        Error::Unsupported(format!("not a warmboot load record ({e}): remove it")).in_file(&path)
    })
}

/// Removes the record of `mode` (after an unload); a missing one is fine.
pub fn remove(dir: &Path, mode: Mode) -> Result<()> {
    let path = dir.join(file_name(mode));
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::Io(e).in_file(&path)),
    }
}

/// After a real unload: the machine's record of `mode` goes too (best effort; a record
/// left behind shows as stale in `warmboot status`).
pub fn forget(mode: Mode) {
    let _ = remove(Path::new(crate::lock::STATE_DIR), mode);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> LoadRecord {
        LoadRecord {
            kernel: "/boot/vmlinuz-6.12.57+deb13-amd64".into(),
            kernel_sha256: "ab".repeat(32),
            release: Some("6.12.57+deb13-amd64".into()),
            initrd: Some("/boot/initrd.img-6.12.57+deb13-amd64".into()),
            initrd_sha256: Some("cd".repeat(32)),
            cmdline: "root=UUID=1 ro quiet".into(),
            syscall: "kexec_file_load".into(),
            loaded_at: 1_796_670_000,
            chosen_by: Some("--default: GRUB's default entry 'Debian GNU/Linux'".into()),
            kernel_file: Some(FileIdentity {
                dev: 0x803,
                ino: 131_074,
                size: 11_000_000,
                mtime_ns: 1_796_669_000_123_456_789,
                ctime_ns: i64::MAX,
            }),
            initrd_file: Some(FileIdentity {
                dev: 0x803,
                ino: 131_075,
                size: 60_000_000,
                mtime_ns: -1,
                ctime_ns: 1_796_669_001_000_000_000,
            }),
        }
    }

    #[test]
    fn records_round_trip_privately_and_go_away() {
        use std::os::unix::fs::PermissionsExt as _;
        let t = tempfile::tempdir().unwrap();
        assert_eq!(read(t.path(), Mode::Normal).unwrap(), None);
        write(t.path(), Mode::Normal, &record()).unwrap();
        let p = t.path().join("loaded.json");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(read(t.path(), Mode::Normal).unwrap(), Some(record()));
        assert_eq!(read(t.path(), Mode::Panic).unwrap(), None);
        // Written again over the old one.
        let mut r = record();
        r.cmdline = "ro".into();
        write(t.path(), Mode::Normal, &r).unwrap();
        assert_eq!(read(t.path(), Mode::Normal).unwrap().unwrap().cmdline, "ro");
        remove(t.path(), Mode::Normal).unwrap();
        remove(t.path(), Mode::Normal).unwrap();
        assert_eq!(read(t.path(), Mode::Normal).unwrap(), None);
        std::fs::write(&p, "{}").unwrap();
        let e = read(t.path(), Mode::Normal).unwrap_err().to_string();
        assert!(e.contains("loaded.json: not a warmboot load record"), "{e}");
    }

    #[test]
    fn a_record_without_file_identities_parses_and_is_written_without_them() {
        // A record as warmboot wrote it before it kept file identities.
        let old = r#"{
  "kernel": "/vmlinuz",
  "kernel_sha256": "d8808aa4ca188560da1e6d749dcb930c87a5fd8b11ebff1f3fa6d728af35203d",
  "release": "6.1.0-50-amd64",
  "initrd": "/initrd.img",
  "initrd_sha256": "9ab929fc948d078f494872bff64c772efe80aafd5704b6d81cda1c3df0c277e2",
  "cmdline": "root=/dev/vda rw console=ttyS0 crashkernel=256M",
  "syscall": "kexec_load",
  "loaded_at": 1796676723,
  "chosen_by": "default kernel: the /vmlinuz link"
}"#;
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("loaded.json"), old).unwrap();
        let r = read(t.path(), Mode::Normal).unwrap().unwrap();
        assert_eq!((r.kernel_file, r.initrd_file), (None, None));
        assert_eq!(r.kernel, Path::new("/vmlinuz"));
        write(t.path(), Mode::Normal, &r).unwrap();
        let text = std::fs::read_to_string(t.path().join("loaded.json")).unwrap();
        assert!(!text.contains("_file"), "{text}");
        // With them, each is written and read back exactly.
        let json = serde_json::to_value(record()).unwrap();
        assert_eq!(json["kernel_file"]["ino"], 131_074);
        assert_eq!(json["initrd_file"]["mtime_ns"], -1);
    }

    #[test]
    fn a_file_identity_is_what_stat_says() {
        use std::os::unix::fs::MetadataExt as _;
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("f");
        std::fs::write(&p, b"12345").unwrap();
        let f = std::fs::File::open(&p).unwrap();
        // (Setting times needs only ownership, not a descriptor open for writing.)
        f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::new(1_000, 7))
            .unwrap();
        let m = std::fs::metadata(&p).unwrap();
        let id = FileIdentity::of(&m).unwrap();
        assert_eq!((id.dev, id.ino, id.size), (m.dev(), m.ino(), 5));
        assert_eq!(id.mtime_ns, 1_000_000_000_007);
        assert_eq!(Some(id.ctime_ns), nanoseconds(m.ctime(), m.ctime_nsec()));
        assert_eq!(FileIdentity::of(&f.metadata().unwrap()), Some(id));
        // Times past 2262 (or before 1677) do not fit: then no identity.
        assert_eq!(nanoseconds(-1, 999_999_999), Some(-1));
        assert_eq!(nanoseconds(9_223_372_036, 854_775_807), Some(i64::MAX));
        assert_eq!(nanoseconds(9_223_372_036, 854_775_808), None);
        assert_eq!(nanoseconds(10_413_792_000, 0), None);
        assert_eq!(nanoseconds(-9_223_372_037, 0), None);
    }

    #[test]
    fn a_record_knows_its_load_and_says_it_in_one_line() {
        let r = record();
        let (k, i) = ("ab".repeat(32), "cd".repeat(32));
        assert!(r.is_load_of(&k, Some(&i), "root=UUID=1 ro quiet"));
        assert!(!r.is_load_of(&k, Some(&i), "root=UUID=1 ro"));
        assert!(!r.is_load_of(&k, None, "root=UUID=1 ro quiet"));
        assert!(!r.is_load_of(&i, Some(&i), "root=UUID=1 ro quiet"));
        assert_eq!(
            r.describe(),
            "/boot/vmlinuz-6.12.57+deb13-amd64 (6.12.57+deb13-amd64) with /boot/initrd.img-6.12.57+deb13-amd64, by warmboot with kexec_file_load at 2026-12-07T19:00:00Z, chosen as --default: GRUB's default entry 'Debian GNU/Linux'"
        );
    }
}
