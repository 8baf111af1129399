//! `warmboot install-units`: the systemd units shipped in `dist/systemd/` (and, if asked,
//! the `kexec` symlink) written into a root, `/` by default or an image being built.
//!
//! Enabling is done the way `systemctl enable` records it, a symlink in
//! `multi-user.target.wants/`, so it works in an offline root (a debootstrap tree) as well
//! as on the running machine (run `systemctl daemon-reload` afterwards there).

use crate::error::{Error, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The units, as shipped: (file name, text with `@WARMBOOT@` for the binary's path).
pub const UNITS: [(&str, &str); 2] = [
    (
        "warmboot-load.service",
        include_str!("../../../dist/systemd/warmboot-load.service"),
    ),
    (
        "warmboot-panic.service",
        include_str!("../../../dist/systemd/warmboot-panic.service"),
    ),
];

/// Where units go: the administrator's unit directory.
pub const UNIT_DIR: &str = "etc/systemd/system";
/// Where systemd looks for kexec (its meson option `kexec-path`, Debian's default).
pub const KEXEC_PATH: &str = "usr/sbin/kexec";

/// What to install.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    pub root: PathBuf,
    /// The warmboot binary as the installed system sees it (absolute).
    pub binary: PathBuf,
    /// Enable the units (multi-user.target.wants symlinks).
    pub enable: bool,
    /// Also make `/usr/sbin/kexec` a symlink to warmboot.
    pub kexec_symlink: bool,
    /// Replace an existing `/usr/sbin/kexec` that is not warmboot (kexec-tools').
    pub force: bool,
}

/// A unit's text for `binary`.
pub fn render(unit: &str, binary: &Path) -> String {
    unit.replace("@WARMBOOT@", &binary.display().to_string())
}

/// Installs into `opts.root` and says what was written.
pub fn run(opts: &InstallOptions) -> Result<String> {
    if !opts.binary.is_absolute() {
        return Err(Error::invalid(
            "--binary",
            format!("{} is not an absolute path", opts.binary.display()),
        ));
    }
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e| Error::Io(e).in_file(p)
    };
    let mut out = String::new();
    let dir = opts.root.join(UNIT_DIR);
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    for (name, text) in UNITS {
        let p = dir.join(name);
        std::fs::write(&p, render(text, &opts.binary)).map_err(io(&p))?;
        let _ = writeln!(out, "wrote {}", p.display());
        if opts.enable {
            let wants = dir.join("multi-user.target.wants");
            std::fs::create_dir_all(&wants).map_err(io(&wants))?;
            let link = wants.join(name);
            replace_symlink(&Path::new("/").join(UNIT_DIR).join(name), &link)?;
            let _ = writeln!(out, "enabled {name} ({})", link.display());
        }
    }
    if opts.kexec_symlink {
        let link = opts.root.join(KEXEC_PATH);
        if let Ok(meta) = std::fs::symlink_metadata(&link) {
            let ours = meta.file_type().is_symlink()
                && std::fs::read_link(&link).map_err(io(&link))? == opts.binary;
            if !ours && !opts.force {
                return Err(Error::Unsupported(format!(
                    "{} exists and is not warmboot (kexec-tools?); remove it or give --force",
                    link.display()
                )));
            }
        }
        if let Some(parent) = link.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        replace_symlink(&opts.binary, &link)?;
        let _ = writeln!(
            out,
            "{} -> {} (kexec-tools' command line)",
            link.display(),
            opts.binary.display()
        );
    }
    Ok(out)
}

fn replace_symlink(target: &Path, link: &Path) -> Result<()> {
    match std::fs::remove_file(link) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::Io(e).in_file(link)),
    }
    std::os::unix::fs::symlink(target, link).map_err(|e| Error::Io(e).in_file(link))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(root: &Path) -> InstallOptions {
        InstallOptions {
            root: root.to_path_buf(),
            binary: PathBuf::from("/usr/local/sbin/warmboot"),
            enable: true,
            kexec_symlink: true,
            force: false,
        }
    }

    #[test]
    fn units_are_written_enabled_and_point_at_the_binary() {
        let dir = tempfile::tempdir().unwrap();
        let out = run(&opts(dir.path())).unwrap();
        let load =
            std::fs::read_to_string(dir.path().join("etc/systemd/system/warmboot-load.service"))
                .unwrap();
        assert!(
            load.contains("\nExecStart=/usr/local/sbin/warmboot load --current\n"),
            "{load}"
        );
        assert!(!load.contains("@WARMBOOT@"));
        let panic =
            std::fs::read_to_string(dir.path().join("etc/systemd/system/warmboot-panic.service"))
                .unwrap();
        assert!(
            panic.contains("\nExecStart=/usr/local/sbin/warmboot load --current --panic\n"),
            "{panic}"
        );
        assert!(
            panic.contains("\nConditionKernelCommandLine=crashkernel\n"),
            "{panic}"
        );
        assert_eq!(
            std::fs::read_link(
                dir.path()
                    .join("etc/systemd/system/multi-user.target.wants/warmboot-panic.service")
            )
            .unwrap(),
            PathBuf::from("/etc/systemd/system/warmboot-panic.service")
        );
        assert_eq!(
            std::fs::read_link(dir.path().join("usr/sbin/kexec")).unwrap(),
            PathBuf::from("/usr/local/sbin/warmboot")
        );
        assert!(out.contains("enabled warmboot-load.service"), "{out}");
        // Installing again is fine (our own symlink is replaced).
        run(&opts(dir.path())).unwrap();
    }

    #[test]
    fn an_existing_kexec_is_kept_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("usr/sbin")).unwrap();
        std::fs::write(dir.path().join("usr/sbin/kexec"), b"\x7fELF kexec-tools").unwrap();
        let e = run(&opts(dir.path())).unwrap_err().to_string();
        assert!(
            e.contains("usr/sbin/kexec exists and is not warmboot"),
            "{e}"
        );
        let mut o = opts(dir.path());
        o.force = true;
        run(&o).unwrap();
        assert!(std::fs::symlink_metadata(dir.path().join("usr/sbin/kexec"))
            .unwrap()
            .file_type()
            .is_symlink());
        let mut o = opts(dir.path());
        o.binary = PathBuf::from("warmboot");
        assert!(run(&o)
            .unwrap_err()
            .to_string()
            .contains("not an absolute path"));
    }
}
