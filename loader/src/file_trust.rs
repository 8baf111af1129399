//! Whether the files warmboot loads are the ones the administrator meant: who else could
//! have replaced them, and (with `--sha256`) whether the image is exactly the pinned one.
//!
//! Replaceable files: a kernel or initrd that a non-root user can write, or that sits in a
//! directory a non-root user can write (anywhere on the path, including the directories a
//! symlink is resolved through), lets that user choose the code the machine runs next.
//! warmboot warns, one line per path, and loads anyway (the administrator may know
//! better); the decision is a pure function over (path, mode, uid) so it is tested without
//! chown. A directory with the sticky bit (`/tmp`, mode 1777) is not a concern for its
//! write bits: others cannot rename or delete an entry they do not own there
//! (Documentation/admin-guide/sysctl/fs.rst, protected_* and inode(7) S_ISVTX); the entry's
//! own owner is checked on the next step of the path.
//!
//! Pinned images: `--sha256 HEX` compares the SHA-256 of the bytes warmboot read (once)
//! with HEX and refuses a mismatch. Those same bytes are what is planned, and for
//! kexec_file_load, which reads the image from a file descriptor, they are handed over in a
//! sealed memfd ([`sealed_memfd`]) rather than by opening the path again, so replacing the
//! file between the check and the syscall changes nothing.

use crate::error::{Error, Result};
use crate::load_record::FileIdentity;
use sha2::{Digest as _, Sha256};
use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

/// A SHA-256 digest, as given to `--sha256` and shown in lowercase hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Sha256Digest {
        Sha256Digest(Sha256::digest(data).into())
    }

    /// Checks that `data` hashes to `self`; returns the digest on a match, and
    /// [`Error::DigestMismatch`] (to be put in the file's name) otherwise.
    pub fn check(&self, data: &[u8]) -> Result<Sha256Digest> {
        let actual = Sha256Digest::of(data);
        if actual == *self {
            Ok(actual)
        } else {
            Err(Error::DigestMismatch {
                actual: actual.to_string(),
                expected: self.to_string(),
            })
        }
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl FromStr for Sha256Digest {
    type Err = String;

    /// 64 hexadecimal digits, either case (what `sha256sum` prints, without the file name).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if let Some(c) = s.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(format!(
                "{c:?} is not a hexadecimal digit; a SHA-256 is 64 of them (as sha256sum prints it)"
            ));
        }
        if s.len() != 64 {
            return Err(format!(
                "a SHA-256 is 64 hexadecimal digits, this is {}",
                s.len()
            ));
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
            let hex = std::str::from_utf8(pair).map_err(|e| e.to_string())?;
            *byte = u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?;
        }
        Ok(Sha256Digest(out))
    }
}

/// One path warmboot goes through to reach a file: the file itself or a directory on the
/// way, with the metadata that says who can change it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStep {
    pub path: PathBuf,
    /// st_mode (type and permission bits).
    pub mode: u32,
    pub uid: u32,
    pub is_dir: bool,
}

/// Why a non-root user could replace `file`'s content, one line per step that lets them
/// (without the `warmboot: warning: ` prefix). `steps` are the directories from `/` and
/// the file last, as [`resolve_steps`] lists them. Owners other than root and `euid` (the
/// user running warmboot) count: only root loads kernels, so for a load this is "not
/// root", while a user's dry run of their own build is not warned about their own files.
pub fn replaceable_by_others(file: &Path, steps: &[PathStep], euid: u32) -> Vec<String> {
    let mut out = Vec::new();
    for s in steps {
        let perm = s.mode & 0o7777;
        let sticky_dir = s.is_dir && perm & 0o1000 != 0;
        let mut why = Vec::new();
        if s.uid != 0 && s.uid != euid {
            why.push(format!("owned by uid {}", s.uid));
        }
        if perm & 0o022 != 0 && !sticky_dir {
            why.push(format!("writable by group/others (mode {perm:04o})"));
        }
        if why.is_empty() {
            continue;
        }
        let consequence = if s.is_dir {
            format!("a non-root user could replace {}", file.display())
        } else {
            "a non-root user could change what is loaded".to_string()
        };
        out.push(format!(
            "{} is {}: {consequence}",
            s.path.display(),
            why.join(" and ")
        ));
    }
    out
}

/// A path component still to resolve.
enum Pending {
    Root,
    Parent,
    Name(OsString),
}

fn push_reversed(pending: &mut Vec<Pending>, path: &Path) {
    for c in path.components().rev() {
        match c {
            Component::RootDir | Component::Prefix(_) => pending.push(Pending::Root),
            Component::ParentDir => pending.push(Pending::Parent),
            Component::CurDir => {}
            Component::Normal(n) => pending.push(Pending::Name(n.to_os_string())),
        }
    }
}

/// Most symlinks followed while resolving one path (the kernel's MAXSYMLINKS).
const MAX_SYMLINKS: u32 = 40;

/// Every directory and the final file that resolving `path` goes through, in order, with
/// symlinks followed the way the kernel follows them (a link's target is resolved from
/// the directory holding the link): whoever can change any of them can change what
/// `path` names. Relative paths start from the current directory.
pub fn resolve_steps(path: &Path) -> std::io::Result<Vec<PathStep>> {
    let mut pending = Vec::new();
    push_reversed(&mut pending, path);
    let mut cur = if path.is_absolute() {
        PathBuf::from("/")
    } else {
        std::env::current_dir()?
    };
    let mut visited: Vec<PathBuf> = cur.ancestors().map(Path::to_path_buf).collect();
    visited.reverse();
    let mut links = 0;
    while let Some(c) = pending.pop() {
        match c {
            Pending::Root => cur = PathBuf::from("/"),
            // `cur` holds no symlinks, so ".." is its parent.
            Pending::Parent => {
                cur.pop();
            }
            Pending::Name(n) => {
                let next = cur.join(&n);
                let meta = std::fs::symlink_metadata(&next)?;
                if meta.file_type().is_symlink() {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(std::io::Error::from_raw_os_error(libc::ELOOP));
                    }
                    push_reversed(&mut pending, &std::fs::read_link(&next)?);
                } else {
                    cur = next;
                    if !visited.contains(&cur) {
                        visited.push(cur.clone());
                    }
                }
            }
        }
    }
    visited
        .into_iter()
        .map(|p| {
            let m = std::fs::metadata(&p)?;
            Ok(PathStep {
                mode: m.mode(),
                uid: m.uid(),
                is_dir: m.is_dir(),
                path: p,
            })
        })
        .collect()
}

/// Prints a warning line on stderr for every way a non-root user could replace `file`
/// ([`replaceable_by_others`]); loading goes on.
pub fn warn_if_replaceable(file: &Path) {
    match resolve_steps(file) {
        Ok(steps) => {
            for w in replaceable_by_others(file, &steps, nix::unistd::geteuid().as_raw()) {
                eprintln!("warmboot: warning: {w}");
            }
        }
        Err(e) => eprintln!(
            "warmboot: warning: {}: cannot check who could replace it: {e}",
            file.display()
        ),
    }
}

/// A sealed memfd holding `data`, for kexec_file_load: the kernel reads exactly these
/// bytes, and the seals (F_SEAL_WRITE, F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_SEAL;
/// memfd_create(2), fcntl(2) "File Sealing") make that true even against another holder
/// of the descriptor. kexec-tools passes decompressed kernels the same way
/// (kexec/kexec.c copybuf_memfd). Used only for `--sha256` loads: a memfd has no IMA
/// xattr and is not on LoadPin's pinned filesystem, so kernels enforcing those policies
/// refuse it (and SELinux policies must allow the loader's domain memfd objects, as
/// Fedora's did for kdump_t with kexec-tools 2.0.27); without a pin warmboot passes the
/// file itself as kexec-tools does.
pub fn sealed_memfd(name: &str, data: &[u8]) -> Result<File> {
    use nix::fcntl::{fcntl, FcntlArg, SealFlag};
    use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
    use std::io::Write as _;
    use std::os::fd::AsRawFd as _;
    let what = |call: &str| format!("{call} for the checked kernel image");
    let cname = std::ffi::CString::new(name)
        .map_err(|_| Error::invalid("memfd name", "contains a NUL byte"))?;
    let fd = memfd_create(
        &cname,
        MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING,
    )
    .map_err(|errno| Error::Syscall {
        call: what("memfd_create"),
        errno,
    })?;
    let mut file = File::from(fd);
    file.write_all(data)
        .map_err(|e| Error::Io(e).in_file(format!("memfd:{name}")))?;
    fcntl(
        file.as_raw_fd(),
        FcntlArg::F_ADD_SEALS(
            SealFlag::F_SEAL_WRITE
                | SealFlag::F_SEAL_SHRINK
                | SealFlag::F_SEAL_GROW
                | SealFlag::F_SEAL_SEAL,
        ),
    )
    .map_err(|errno| Error::Syscall {
        call: what("fcntl(F_ADD_SEALS)"),
        errno,
    })?;
    Ok(file)
}

/// Opens `path` once and reads it through that descriptor, which the caller keeps: the
/// bytes checked and planned and the descriptor later handed to kexec_file_load are the
/// same file, whatever happens to the path in between (a rename over it, a symlink
/// swapped). A directory is refused by its descriptor's own metadata.
///
/// Also the file's identity ([`FileIdentity`], fstat of that descriptor) when it was the
/// same before and after the read, so that the bytes read are the ones it describes; `None`
/// when the file changed while it was read (a later check then reads it again).
pub fn open_and_read(path: &Path) -> Result<(std::fs::File, Vec<u8>, Option<FileIdentity>)> {
    use std::io::Read as _;
    let in_file = |e: std::io::Error| Error::Io(e).in_file(path);
    let file = std::fs::File::open(path).map_err(in_file)?;
    let meta = file.metadata().map_err(in_file)?;
    if meta.is_dir() {
        return Err(Error::invalid("file", "is a directory, not a file").in_file(path));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    (&file).read_to_end(&mut bytes).map_err(in_file)?;
    let after = file.metadata().map_err(in_file)?;
    let identity = match (FileIdentity::of(&meta), FileIdentity::of(&after)) {
        (Some(before), Some(after)) => unchanged_while_read(before, after, bytes.len()),
        _ => None,
    };
    Ok((file, bytes, identity))
}

/// The identity of a file read in full between fstat `before` and fstat `after`, when
/// nothing changed it meanwhile (then the `read` bytes are the ones it describes).
fn unchanged_while_read(
    before: FileIdentity,
    after: FileIdentity,
    read: usize,
) -> Option<FileIdentity> {
    (after == before && before.size == read as u64).then_some(before)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// sha256sum of the empty input and of "abc" (FIPS 180-2 appendix B.1).
    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn a_file_changed_while_read_has_no_identity() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("initrd.img");
        std::fs::write(&p, b"initrd").unwrap();
        let (f, bytes, id) = open_and_read(&p).unwrap();
        let id = id.unwrap();
        assert_eq!(Some(id), FileIdentity::of(&f.metadata().unwrap()));
        assert_eq!(unchanged_while_read(id, id, bytes.len()), Some(id));
        let changed = FileIdentity {
            ctime_ns: id.ctime_ns + 1,
            ..id
        };
        assert_eq!(unchanged_while_read(id, changed, bytes.len()), None);
        // Grown or shrunk during the read without a time change the clock could see.
        assert_eq!(unchanged_while_read(id, id, bytes.len() + 1), None);
    }

    #[test]
    fn digests_parse_print_and_check() {
        let abc: Sha256Digest = ABC.parse().unwrap();
        assert_eq!(abc.to_string(), ABC);
        assert_eq!(Sha256Digest::of(b"abc"), abc);
        assert_eq!(Sha256Digest::of(b"").to_string(), EMPTY);
        let upper: Sha256Digest = ABC.to_uppercase().parse().unwrap();
        assert_eq!(upper, abc);
        assert_eq!(abc.check(b"abc").unwrap(), abc);
        let e = abc.check(b"abd").unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "SHA-256 is {}, --sha256 expected {ABC}; not loading",
                Sha256Digest::of(b"abd")
            )
        );
    }

    #[test]
    fn malformed_digests_say_why() {
        let e = "abc".parse::<Sha256Digest>().unwrap_err();
        assert_eq!(e, "a SHA-256 is 64 hexadecimal digits, this is 3");
        let e = format!("{ABC}00").parse::<Sha256Digest>().unwrap_err();
        assert!(e.contains("this is 66"), "{e}");
        let e = ABC.replace('f', "g").parse::<Sha256Digest>().unwrap_err();
        assert!(e.starts_with("'g' is not a hexadecimal digit"), "{e}");
        let e = format!("{}é", &ABC[..62])
            .parse::<Sha256Digest>()
            .unwrap_err();
        assert!(e.starts_with("'é' is not"), "{e}");
        assert!("".parse::<Sha256Digest>().is_err());
    }

    fn step(path: &str, mode: u32, uid: u32) -> PathStep {
        PathStep {
            path: PathBuf::from(path),
            mode,
            uid,
            is_dir: mode & 0o170000 == 0o040000,
        }
    }

    #[test]
    fn who_could_replace_a_file() {
        let file = Path::new("/boot/vmlinuz-6.1");
        let good = [
            step("/", 0o040755, 0),
            step("/boot", 0o040755, 0),
            step("/boot/vmlinuz-6.1", 0o100644, 0),
        ];
        assert!(replaceable_by_others(file, &good, 0).is_empty());
        let bad = [
            step("/", 0o040755, 0),
            step("/boot", 0o040777, 0),
            step("/boot/vmlinuz-6.1", 0o100664, 1000),
        ];
        assert_eq!(
            replaceable_by_others(file, &bad, 0),
            vec![
                "/boot is writable by group/others (mode 0777): a non-root user could replace /boot/vmlinuz-6.1".to_string(),
                "/boot/vmlinuz-6.1 is owned by uid 1000 and writable by group/others (mode 0664): a non-root user could change what is loaded".to_string(),
            ]
        );
        // Only the write bits of group and others count, for files and directories alike.
        let readable = [step("/k", 0o100755, 0), step("/d", 0o040555, 0)];
        assert!(replaceable_by_others(file, &readable, 0).is_empty());
        let group_dir = [step("/boot", 0o040775, 0)];
        assert_eq!(replaceable_by_others(file, &group_dir, 0).len(), 1);
        let others_file = [step("/k", 0o100602, 0)];
        assert_eq!(
            replaceable_by_others(file, &others_file, 0),
            vec![
                "/k is writable by group/others (mode 0602): a non-root user could change what is loaded"
                    .to_string()
            ]
        );
    }

    #[test]
    fn sticky_directories_protect_root_owned_entries() {
        let file = Path::new("/tmp/k");
        let steps = [step("/tmp", 0o041777, 0), step("/tmp/k", 0o100644, 0)];
        assert!(replaceable_by_others(file, &steps, 0).is_empty());
        // A file with the sticky mode bit is no directory: its write bits count.
        let sticky_file = [step("/tmp/k", 0o101666, 0)];
        assert_eq!(replaceable_by_others(file, &sticky_file, 0).len(), 1);
        // Sticky, but owned by a user: that user can do anything there.
        let users = [step("/tmp", 0o041777, 1000)];
        // The user running warmboot trusts their own files (a dry run of their build).
        assert!(replaceable_by_others(file, &users, 1000).is_empty());
        assert_eq!(
            replaceable_by_others(file, &users, 0),
            vec!["/tmp is owned by uid 1000: a non-root user could replace /tmp/k".to_string()]
        );
    }

    #[test]
    fn resolution_visits_every_directory_a_symlink_goes_through() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::create_dir_all(root.join("c")).unwrap();
        std::fs::write(root.join("a/b/vmlinuz"), b"k").unwrap();
        // c/link -> ../a/b/vmlinuz (relative), d -> c (a directory link), abs -> absolute.
        symlink("../a/b/vmlinuz", root.join("c/link")).unwrap();
        symlink("c", root.join("d")).unwrap();
        symlink(root.join("d/link"), root.join("abs")).unwrap();
        let steps = resolve_steps(&root.join("abs")).unwrap();
        let paths: Vec<PathBuf> = steps.iter().map(|s| s.path.clone()).collect();
        let mut want: Vec<PathBuf> = root.ancestors().map(Path::to_path_buf).collect();
        want.reverse();
        want.extend([
            root.join("c"),
            root.join("a"),
            root.join("a/b"),
            root.join("a/b/vmlinuz"),
        ]);
        assert_eq!(paths, want);
        let last = steps.last().unwrap();
        assert!(!last.is_dir);
        assert!(steps[..steps.len() - 1].iter().all(|s| s.is_dir));
        // A loop is an error, not a hang.
        symlink("loop2", root.join("loop1")).unwrap();
        symlink("loop1", root.join("loop2")).unwrap();
        let e = resolve_steps(&root.join("loop1")).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
        assert!(resolve_steps(&root.join("missing")).is_err());
    }

    #[test]
    fn a_sealed_memfd_holds_the_bytes_and_refuses_changes() {
        use std::io::{Read as _, Seek as _, Write as _};
        let mut f = sealed_memfd("kernel", b"exactly these bytes").unwrap();
        let mut back = Vec::new();
        f.rewind().unwrap();
        f.read_to_end(&mut back).unwrap();
        assert_eq!(back, b"exactly these bytes");
        assert!(f.write_all(b"more").is_err());
        assert!(f.set_len(4).is_err());
        assert!(f.set_len(100).is_err());
        assert_eq!(f.metadata().unwrap().len(), 19);
    }
}
