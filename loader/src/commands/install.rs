//! `warmboot install-units`: the systemd units shipped in `dist/systemd/` (and, if asked,
//! the `kexec` symlink) written into a root, `/` by default or an image being built.
//!
//! Enabling is done the way `systemctl enable` records it, a symlink in
//! `multi-user.target.wants/`, so it works in an offline root (a debootstrap tree) as well
//! as on the running machine (run `systemctl daemon-reload` afterwards there).
//!
//! On a dpkg system (the root has `var/lib/dpkg`) the `kexec` symlink goes in through a
//! local diversion (dpkg-divert(1) `--local --rename`): kexec-tools' own `/usr/sbin/kexec`,
//! if any, moves to `/usr/sbin/kexec.kexec-tools`, and a later install or upgrade of
//! kexec-tools writes there instead of over warmboot. On a merged-/usr root (`/sbin` a
//! link to `usr/sbin`) `/sbin/kexec` is diverted too, to `/sbin/kexec.kexec-tools` (the
//! same file): dpkg does not know the two names are one file, and kexec-tools up to
//! Debian 12 ships `/sbin/kexec`, so a diversion of `/usr/sbin/kexec` alone would let the
//! next kexec-tools upgrade write through `/sbin` over warmboot (DEP 17: divert every
//! aliased name). `--remove` takes all of it back: the
//! units, their enablement, the symlink and the diversion (kexec-tools' binary returns).

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

/// The kernel hooks, as shipped: (path under the root, text with `@WARMBOOT@`). They load
/// the new default kernel when a kernel package is installed or removed (Debian's
/// /etc/kernel hooks; kernel-install(8) plugins elsewhere).
pub const KERNEL_HOOKS: [(&str, &str); 3] = [
    (
        "etc/kernel/postinst.d/zzz-warmboot",
        include_str!("../../../dist/kernel/debian-hook"),
    ),
    (
        "etc/kernel/postrm.d/zzz-warmboot",
        include_str!("../../../dist/kernel/debian-hook"),
    ),
    (
        "etc/kernel/install.d/95-warmboot.install",
        include_str!("../../../dist/kernel/kernel-install-plugin"),
    ),
];

/// Where units go: the administrator's unit directory.
pub const UNIT_DIR: &str = "etc/systemd/system";
/// Where systemd looks for kexec (its meson option `kexec-path`, Debian's default).
pub const KEXEC_PATH: &str = "usr/sbin/kexec";
/// Where a dpkg diversion keeps kexec-tools' binary while warmboot is `kexec`.
pub const DIVERTED_KEXEC: &str = "usr/sbin/kexec.kexec-tools";
/// The name kexec-tools ships its binary under up to Debian 12 (bookworm), the same file
/// as [`KEXEC_PATH`] on a merged-/usr root, and where its diversion points.
pub const ALIASED_KEXEC: &str = "sbin/kexec";
pub const DIVERTED_ALIASED_KEXEC: &str = "sbin/kexec.kexec-tools";

/// The diversions `--kexec-symlink` needs in `root`, (name, where it is diverted to):
/// `/usr/sbin/kexec`, and on a merged-/usr root `/sbin/kexec` as well. The
/// `/usr/sbin/kexec` one comes first, so that its `--rename` moves kexec-tools' binary
/// and the alias's finds nothing left to move.
fn diversions(root: &Path) -> Vec<(&'static str, &'static str)> {
    let merged = std::fs::symlink_metadata(root.join("sbin")).is_ok_and(|m| m.is_symlink());
    let mut out = vec![(KEXEC_PATH, DIVERTED_KEXEC)];
    if merged {
        out.push((ALIASED_KEXEC, DIVERTED_ALIASED_KEXEC));
    }
    out
}

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
    /// Replace an existing `/usr/sbin/kexec` that is not warmboot (kexec-tools') where
    /// there is no dpkg to divert it with.
    pub force: bool,
    /// Undo an install instead: units, enablement, the symlink and its diversion.
    pub remove: bool,
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
    if opts.remove {
        remove(opts, &mut out)?;
        return Ok(out);
    }
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
    for (rel, text) in KERNEL_HOOKS {
        use std::os::unix::fs::PermissionsExt as _;
        let p = opts.root.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&p, render(text, &opts.binary)).map_err(io(&p))?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).map_err(io(&p))?;
        let _ = writeln!(out, "wrote {} (kernel hook)", p.display());
    }
    if opts.kexec_symlink {
        let link = opts.root.join(KEXEC_PATH);
        if uses_dpkg(&opts.root) {
            // Diverted even when nothing is there yet: kexec-tools installed later must
            // not overwrite the symlink either.
            let mut missing = Vec::new();
            for (name, to) in diversions(&opts.root) {
                if !diverted(&opts.root, name)? {
                    missing.push((name, to));
                }
            }
            // dpkg-divert --rename would move our own older symlink aside too.
            if !missing.is_empty() && is_ours(&link, &opts.binary)? {
                std::fs::remove_file(&link).map_err(io(&link))?;
            }
            for (name, to) in missing {
                dpkg_divert(&opts.root, name, Some(to))?;
                let _ = writeln!(
                    out,
                    "diverted /{name} to /{to} (dpkg-divert --local; `install-units --remove` puts it back)"
                );
            }
        } else if std::fs::symlink_metadata(&link).is_ok()
            && !is_ours(&link, &opts.binary)?
            && !opts.force
        {
            return Err(Error::Unsupported(format!(
                "{} exists and is not warmboot (kexec-tools?) and there is no dpkg to divert it with; remove it or give --force",
                link.display()
            )));
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

/// Takes back what [`run`] installed into `opts.root`.
fn remove(opts: &InstallOptions, out: &mut String) -> Result<()> {
    let gone = |p: &Path| match std::fs::remove_file(p) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::Io(e).in_file(p)),
    };
    let dir = opts.root.join(UNIT_DIR);
    for (name, _) in UNITS {
        for p in [
            dir.join("multi-user.target.wants").join(name),
            dir.join(name),
        ] {
            if gone(&p)? {
                let _ = writeln!(out, "removed {}", p.display());
            }
        }
    }
    for (rel, _) in KERNEL_HOOKS {
        let p = opts.root.join(rel);
        if gone(&p)? {
            let _ = writeln!(out, "removed {}", p.display());
        }
    }
    let link = opts.root.join(KEXEC_PATH);
    if is_ours(&link, &opts.binary)? && gone(&link)? {
        let _ = writeln!(out, "removed {}", link.display());
    }
    if uses_dpkg(&opts.root) {
        // Every name warmboot may have diverted, merged /usr or not (the root may have
        // changed since): /usr/sbin/kexec first, whose --rename brings the binary back.
        for name in [KEXEC_PATH, ALIASED_KEXEC] {
            if diverted(&opts.root, name)? {
                dpkg_divert(&opts.root, name, None)?;
                let _ = writeln!(
                    out,
                    "removed the diversion of /{name} (kexec-tools' binary, if any, is back)"
                );
            }
        }
    }
    Ok(())
}

/// Whether `link` is a symlink to `binary`.
fn is_ours(link: &Path, binary: &Path) -> Result<bool> {
    match std::fs::symlink_metadata(link) {
        Ok(m) if m.file_type().is_symlink() => {
            Ok(std::fs::read_link(link).map_err(|e| Error::Io(e).in_file(link))? == binary)
        }
        _ => Ok(false),
    }
}

/// Whether `root` is managed by dpkg (its database directory exists).
fn uses_dpkg(root: &Path) -> bool {
    root.join("var/lib/dpkg").is_dir()
}

/// Whether dpkg records a diversion of `/name` in `root`.
fn diverted(root: &Path, name: &str) -> Result<bool> {
    let out = std::process::Command::new("dpkg-divert")
        .arg("--root")
        .arg(root)
        .args(["--listpackage", &format!("/{name}")])
        .output()
        .map_err(dpkg_divert_missing)?;
    Ok(out.status.success() && !out.stdout.is_empty())
}

/// Adds the local diversion of `/name` to `/to` (`Some`), or removes it (`None`),
/// renaming the file.
fn dpkg_divert(root: &Path, name: &str, to: Option<&str>) -> Result<()> {
    let add = to.is_some();
    let mut cmd = std::process::Command::new("dpkg-divert");
    cmd.arg("--root").arg(root).args(["--local", "--rename"]);
    match to {
        Some(to) => cmd.args(["--divert", &format!("/{to}"), "--add"]),
        None => cmd.arg("--remove"),
    };
    let out = cmd
        .arg(format!("/{name}"))
        .output()
        .map_err(dpkg_divert_missing)?;
    if out.status.success() {
        return Ok(());
    }
    Err(Error::Unsupported(format!(
        "dpkg-divert could not {} the diversion of /{name} in {}: {}",
        if add { "add" } else { "remove" },
        root.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

fn dpkg_divert_missing(e: std::io::Error) -> Error {
    Error::Unsupported(format!(
        "this root has a dpkg database but dpkg-divert cannot run ({e}); install dpkg or remove /usr/sbin/kexec yourself and give --force"
    ))
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
            remove: false,
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
            load.contains("\nExecStart=/usr/local/sbin/warmboot load --default\n"),
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
        assert!(
            panic.contains("\nConflicts=kdump-tools.service kdump.service\n"),
            "{panic}"
        );
        assert!(load.contains("\nDocumentation=man:warmboot(8)\n"), "{load}");
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
        for (rel, _) in KERNEL_HOOKS {
            use std::os::unix::fs::PermissionsExt as _;
            let p = dir.path().join(rel);
            let hook = std::fs::read_to_string(&p).unwrap();
            assert!(
                hook.contains("/usr/local/sbin/warmboot load --default"),
                "{rel}"
            );
            assert!(hook.contains("/usr/local/sbin/warmboot unload"), "{rel}");
            assert!(!hook.contains("@WARMBOOT@"), "{rel}");
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o755
            );
        }
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

    #[test]
    fn on_merged_usr_sbin_kexec_is_diverted_too() {
        // Debian 12: /sbin is a link to usr/sbin and kexec-tools ships /sbin/kexec, which
        // dpkg would write through the link over warmboot were only /usr/sbin/kexec
        // diverted (seen in the e2e tree: a reinstall of kexec-tools replaced warmboot).
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
        std::fs::create_dir_all(root.join("usr/sbin")).unwrap();
        std::os::unix::fs::symlink("usr/sbin", root.join("sbin")).unwrap();
        std::fs::write(root.join("usr/sbin/kexec"), b"kexec-tools").unwrap();
        let out = run(&opts(root)).unwrap();
        assert!(
            out.contains("diverted /usr/sbin/kexec to /usr/sbin/kexec.kexec-tools")
                && out.contains("diverted /sbin/kexec to /sbin/kexec.kexec-tools"),
            "{out}"
        );
        let db = std::fs::read_to_string(root.join("var/lib/dpkg/diversions")).unwrap();
        assert_eq!(
            db,
            "/usr/sbin/kexec\n/usr/sbin/kexec.kexec-tools\n:\n/sbin/kexec\n/sbin/kexec.kexec-tools\n:\n"
        );
        assert_eq!(
            std::fs::read(root.join("sbin/kexec.kexec-tools")).unwrap(),
            b"kexec-tools"
        );
        assert_eq!(
            std::fs::read_link(root.join("sbin/kexec")).unwrap(),
            PathBuf::from("/usr/local/sbin/warmboot")
        );
        // An install from before the alias was diverted gets the missing one only.
        std::fs::write(
            root.join("var/lib/dpkg/diversions"),
            "/usr/sbin/kexec\n/usr/sbin/kexec.kexec-tools\n:\n",
        )
        .unwrap();
        let out = run(&opts(root)).unwrap();
        assert!(
            out.contains("diverted /sbin/kexec") && !out.contains("diverted /usr/sbin/kexec"),
            "{out}"
        );
        let mut o = opts(root);
        o.remove = true;
        let out = run(&o).unwrap();
        assert!(
            out.contains("removed the diversion of /usr/sbin/kexec")
                && out.contains("removed the diversion of /sbin/kexec"),
            "{out}"
        );
        assert_eq!(
            std::fs::read(root.join("usr/sbin/kexec")).unwrap(),
            b"kexec-tools"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("var/lib/dpkg/diversions")).unwrap(),
            ""
        );
    }

    #[test]
    fn on_dpkg_systems_kexec_tools_is_diverted_and_comes_back_on_remove() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
        std::fs::create_dir_all(root.join("usr/sbin")).unwrap();
        std::fs::write(root.join("usr/sbin/kexec"), b"kexec-tools").unwrap();
        // No --force needed: kexec-tools' binary is moved aside, not overwritten.
        let out = run(&opts(root)).unwrap();
        assert!(
            out.contains("diverted /usr/sbin/kexec to /usr/sbin/kexec.kexec-tools"),
            "{out}"
        );
        assert_eq!(
            std::fs::read(root.join("usr/sbin/kexec.kexec-tools")).unwrap(),
            b"kexec-tools"
        );
        assert_eq!(
            std::fs::read_link(root.join("usr/sbin/kexec")).unwrap(),
            PathBuf::from("/usr/local/sbin/warmboot")
        );
        let db = std::fs::read_to_string(root.join("var/lib/dpkg/diversions")).unwrap();
        assert_eq!(db, "/usr/sbin/kexec\n/usr/sbin/kexec.kexec-tools\n:\n");
        // Again: nothing to divert twice.
        assert!(!run(&opts(root)).unwrap().contains("diverted"));
        // An install from before diversions (our symlink, no diversion) gets one, and our
        // symlink is not moved aside as if it were kexec-tools'.
        std::fs::write(root.join("var/lib/dpkg/diversions"), "").unwrap();
        std::fs::rename(root.join("usr/sbin/kexec.kexec-tools"), root.join("kt")).unwrap();
        assert!(run(&opts(root)).unwrap().contains("diverted"));
        assert!(!root.join("usr/sbin/kexec.kexec-tools").exists());
        std::fs::rename(root.join("kt"), root.join("usr/sbin/kexec.kexec-tools")).unwrap();
        let mut o = opts(root);
        o.remove = true;
        let out = run(&o).unwrap();
        assert!(out.contains("removed the diversion"), "{out}");
        assert_eq!(
            std::fs::read(root.join("usr/sbin/kexec")).unwrap(),
            b"kexec-tools"
        );
        assert!(!root.join("usr/sbin/kexec.kexec-tools").exists());
        assert!(!root.join("etc/kernel/postinst.d/zzz-warmboot").exists());
        assert!(!root
            .join("etc/systemd/system/warmboot-load.service")
            .exists());
        assert!(!root
            .join("etc/systemd/system/multi-user.target.wants/warmboot-load.service")
            .exists());
        assert_eq!(
            std::fs::read_to_string(root.join("var/lib/dpkg/diversions")).unwrap(),
            ""
        );
        // Removing what is not there is quiet and fine.
        assert_eq!(run(&o).unwrap(), "");
    }
}
