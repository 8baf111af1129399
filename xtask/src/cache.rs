//! Where fetched images live: a cache outside git, shared by every worktree of the user.
//!
//! `$WARMBOOT_CACHE` if set and not empty, else `$HOME/.cache/warmboot`. Tests find the
//! kernels through `<cache>/kernels.json` (see `index.rs` and images/README.md).

use crate::error::{Error, Result};
use crate::manifest::DebArch;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The cache directory and the fixed layout below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    root: PathBuf,
}

/// Chooses the cache directory from the values of `WARMBOOT_CACHE` and `HOME`.
/// A relative `WARMBOOT_CACHE` is taken relative to `cwd`, so the paths written into
/// `kernels.json` are always absolute.
pub fn choose_dir(
    warmboot_cache: Option<OsString>,
    home: Option<OsString>,
    cwd: &Path,
) -> Result<PathBuf> {
    let non_empty = |v: Option<OsString>| v.filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = non_empty(warmboot_cache) {
        return Ok(cwd.join(dir));
    }
    match non_empty(home) {
        Some(home) if home.is_absolute() => Ok(home.join(".cache").join("warmboot")),
        _ => Err(Error::NoCacheDir),
    }
}

impl Cache {
    pub fn new(root: PathBuf) -> Cache {
        Cache { root }
    }

    /// The cache named by this process's environment.
    pub fn from_env() -> Result<Cache> {
        let cwd = std::env::current_dir().map_err(Error::io("."))?;
        choose_dir(
            std::env::var_os("WARMBOOT_CACHE"),
            std::env::var_os("HOME"),
            &cwd,
        )
        .map(Cache::new)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Downloaded `.deb` files, named as apt names them.
    pub fn debs(&self) -> PathBuf {
        self.root.join("debs")
    }

    /// Where `apt-get download` writes, emptied before each download, so the new file is
    /// the only one there whatever apt calls it.
    pub fn incoming(&self) -> PathBuf {
        self.root.join("debs").join("incoming")
    }

    /// The private apt state (lists and cache) that lets us fetch any architecture without
    /// changing the host's dpkg architectures.
    pub fn apt_state(&self) -> PathBuf {
        self.root.join("apt")
    }

    /// The kept files of one package, e.g. `<cache>/pkgs/amd64/busybox-static_1:1.35.0-4`.
    pub fn package_dir(&self, arch: DebArch, name: &str, version: &str) -> PathBuf {
        self.root
            .join("pkgs")
            .join(arch.debian())
            .join(format!("{name}_{version}"))
    }

    /// A scratch directory for unpacking a whole `.deb` before keeping the wanted files.
    pub fn staging(&self) -> PathBuf {
        self.root.join("staging")
    }

    /// The index tests read: see [`crate::index::KernelIndex`].
    pub fn kernels_index(&self) -> PathBuf {
        self.root.join("kernels.json")
    }
}

/// Holds the cache's exclusive lock until dropped: worktrees share one cache, and two
/// `cargo xtask images` runs must not unpack into the same staging directory at once.
pub struct CacheLock {
    _lock: nix::fcntl::Flock<std::fs::File>,
}

impl Cache {
    /// Takes the cache's lock (`<cache>/.lock`, flock), waiting for another run if needed.
    pub fn lock(&self) -> Result<CacheLock> {
        use nix::fcntl::{Flock, FlockArg};
        std::fs::create_dir_all(&self.root).map_err(Error::io(&self.root))?;
        let path = self.root.join(".lock");
        let file = std::fs::File::create(&path).map_err(Error::io(&path))?;
        let lock_error = |errno: nix::errno::Errno| Error::Io {
            path: path.clone(),
            source: std::io::Error::from(errno),
        };
        let file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(CacheLock { _lock: lock }),
            Err((file, nix::errno::Errno::EWOULDBLOCK)) => file,
            Err((_, errno)) => return Err(lock_error(errno)),
        };
        eprintln!(
            "xtask: waiting for another xtask run holding {}",
            path.display()
        );
        Flock::lock(file, FlockArg::LockExclusive)
            .map(|lock| CacheLock { _lock: lock })
            .map_err(|(_, errno)| lock_error(errno))
    }
}

/// The file name apt-get gives a downloaded package (`:` of an epoch becomes `%3a`).
pub fn deb_file_name(name: &str, version: &str, arch: DebArch) -> String {
    format!(
        "{name}_{}_{}.deb",
        version.replace(':', "%3a"),
        arch.debian()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> Option<OsString> {
        Some(OsString::from(s))
    }

    #[test]
    fn warmboot_cache_wins_over_home() {
        let cwd = Path::new("/work/x");
        assert_eq!(
            choose_dir(os("/srv/c"), os("/root"), cwd).unwrap(),
            PathBuf::from("/srv/c")
        );
        assert_eq!(
            choose_dir(os("rel/c"), os("/root"), cwd).unwrap(),
            PathBuf::from("/work/x/rel/c")
        );
    }

    #[test]
    fn empty_warmboot_cache_falls_back_to_home() {
        let cwd = Path::new("/");
        assert_eq!(
            choose_dir(os(""), os("/home/u"), cwd).unwrap(),
            PathBuf::from("/home/u/.cache/warmboot")
        );
        assert_eq!(
            choose_dir(None, os("/home/u"), cwd).unwrap(),
            PathBuf::from("/home/u/.cache/warmboot")
        );
    }

    #[test]
    fn no_usable_home_is_an_error() {
        let cwd = Path::new("/");
        assert!(matches!(
            choose_dir(None, None, cwd),
            Err(Error::NoCacheDir)
        ));
        assert!(matches!(
            choose_dir(None, os(""), cwd),
            Err(Error::NoCacheDir)
        ));
        assert!(matches!(
            choose_dir(None, os("home"), cwd),
            Err(Error::NoCacheDir)
        ));
    }

    #[test]
    fn lock_is_exclusive_and_released_on_drop() {
        use nix::fcntl::{Flock, FlockArg};
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("c"));
        let held = cache.lock().unwrap();
        let other = std::fs::File::open(dir.path().join("c/.lock")).unwrap();
        let other = match Flock::lock(other, FlockArg::LockExclusiveNonblock) {
            Err((file, errno)) => {
                assert_eq!(errno, nix::errno::Errno::EWOULDBLOCK);
                file
            }
            Ok(_) => panic!("the cache lock was not exclusive"),
        };
        drop(held);
        assert!(Flock::lock(other, FlockArg::LockExclusiveNonblock).is_ok());
    }

    #[test]
    fn layout_and_deb_names() {
        let c = Cache::new(PathBuf::from("/c"));
        assert_eq!(c.kernels_index(), PathBuf::from("/c/kernels.json"));
        assert_eq!(
            c.package_dir(DebArch::Arm64, "kexec-tools", "1:2.0.25-3+deb12u3"),
            PathBuf::from("/c/pkgs/arm64/kexec-tools_1:2.0.25-3+deb12u3")
        );
        assert_eq!(
            deb_file_name("busybox-static", "1:1.35.0-4+deb12u1+b1", DebArch::Amd64),
            "busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb"
        );
    }
}
