//! `cargo xtask initramfs --arch A`: the test guest's initramfs, an uncompressed newc cpio
//! (gzip costs ~2 s of boot under TCG, ../shared/notes/qemu.md).
//!
//! It holds busybox (its applet links are made by /init at boot), a static musl
//! `warmboot`, the reference loader kexec-tools with exactly the shared libraries its ELF
//! headers ask for, the kernel for the next boot, and images/initramfs/init.

use crate::cache::Cache;
use crate::cmd::Cmd;
use crate::cpio::Archive;
use crate::error::{Error, Result};
use crate::manifest::DebArch;
use crate::qemu::GuestArch;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, value_enum)]
    pub arch: GuestArch,
    /// The kernel the guest loads for its next boot (default: the pinned Debian kernel).
    #[arg(long, value_name = "PATH")]
    pub next_kernel: Option<PathBuf>,
    /// Where to write the cpio (default: target/xtask/initramfs-ARCH.cpio).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

pub fn run(root: &Path, args: &Args) -> Result<()> {
    crate::images::prepare(root)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_path(root, args.arch));
    build(root, args.arch, args.next_kernel.as_deref(), &out)?;
    println!("initramfs: {}", out.display());
    Ok(())
}

pub fn default_path(root: &Path, arch: GuestArch) -> PathBuf {
    root.join("target/xtask")
        .join(format!("initramfs-{}.cpio", arch_name(arch)))
}

fn arch_name(arch: GuestArch) -> &'static str {
    match arch {
        GuestArch::X86_64 => "x86_64",
        GuestArch::Arm64 => "arm64",
    }
}

pub fn deb_arch(arch: GuestArch) -> DebArch {
    match arch {
        GuestArch::X86_64 => DebArch::Amd64,
        GuestArch::Arm64 => DebArch::Arm64,
    }
}

fn musl_target(arch: GuestArch) -> &'static str {
    match arch {
        GuestArch::X86_64 => "x86_64-unknown-linux-musl",
        GuestArch::Arm64 => "aarch64-unknown-linux-musl",
    }
}

/// Builds the static `warmboot` for the guest and returns its path.
pub fn build_guest_warmboot(root: &Path, arch: GuestArch) -> Result<PathBuf> {
    let target = musl_target(arch);
    Cmd::new("cargo")
        .args([
            "build",
            "--quiet",
            "--release",
            "--package",
            "warmboot-loader",
        ])
        .args(["--bin", "warmboot", "--target", target])
        .cwd(root)
        .run()?;
    Ok(root.join("target").join(target).join("release/warmboot"))
}

/// Assembles the initramfs for `arch` into `out`.
pub fn build(root: &Path, arch: GuestArch, next_kernel: Option<&Path>, out: &Path) -> Result<()> {
    build_with(root, arch, next_kernel, &[], out)
}

/// [`build`], with `extra` files (path inside the initramfs, contents) added.
pub fn build_with(
    root: &Path,
    arch: GuestArch,
    next_kernel: Option<&Path>,
    extra: &[(String, Vec<u8>)],
    out: &Path,
) -> Result<()> {
    let cache = Cache::from_env()?;
    let debarch = deb_arch(arch);
    let next_kernel = match next_kernel {
        Some(p) => p.to_path_buf(),
        None => crate::kernels::pinned_kernel(&cache, arch, None)?,
    };
    let warmboot = build_guest_warmboot(root, arch)?;

    let mut a = Archive::new();
    for d in [
        "proc", "sys", "dev", "tmp", "root", "etc", "sbin", "usr/bin",
    ] {
        a.dir(d);
    }
    let init = root.join("images/initramfs/init");
    a.file("init", 0o755, &read(&init)?);
    let busybox = package_file(&cache, debarch, "busybox-static", "bin/busybox")?;
    a.file("bin/busybox", 0o755, &read(&busybox)?);
    a.symlink("bin/sh", "busybox");
    a.file("usr/bin/warmboot", 0o755, &read(&warmboot)?);
    a.file("boot/next/vmlinuz", 0o644, &read(&next_kernel)?);
    for (path, bytes) in extra {
        a.file(path, 0o644, bytes);
    }

    let kexec = package_file(&cache, debarch, "kexec-tools", "sbin/kexec")?;
    let kexec_bytes = read(&kexec)?;
    a.file("sbin/kexec", 0o755, &kexec_bytes);
    let lib_dirs = library_dirs(&cache, debarch)?;
    let (interp, libs) = shared_library_closure(&kexec_bytes, &lib_dirs)?;
    if let Some((path, file)) = interp {
        a.file(path.trim_start_matches('/'), 0o755, &read(&file)?);
    }
    for (soname, file) in libs {
        a.file(&format!("lib/{soname}"), 0o755, &read(&file)?);
    }
    let bytes = a.finish();
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    }
    // Written beside and renamed into place: a guest of `matrix --jobs` may be starting
    // from the same file right now, and must read the old or the new one, never half.
    let tmp = out.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(Error::io(&tmp))?;
    std::fs::rename(&tmp, out).map_err(Error::io(out))?;
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(Error::io(path))
}

/// The unpacked directory of the cached package `name` (whatever version is cached).
pub fn package_dir(cache: &Cache, arch: DebArch, name: &str) -> Result<PathBuf> {
    let dir = cache.root().join("pkgs").join(arch.debian());
    let prefix = format!("{name}_");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(Error::io(&dir))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect();
    found.sort();
    found.pop().ok_or_else(|| Error::Package {
        package: format!("{name}:{}", arch.debian()),
        reason: "not in the cache; run `cargo xtask images`".into(),
    })
}

fn package_file(cache: &Cache, arch: DebArch, name: &str, rel: &str) -> Result<PathBuf> {
    let p = package_dir(cache, arch, name)?.join(rel);
    if p.exists() {
        Ok(p)
    } else {
        Err(Error::Package {
            package: name.into(),
            reason: format!("{rel} is missing from the unpacked package"),
        })
    }
}

/// Follows `path` inside the unpacked package at `base`: symlinks with absolute targets
/// (Debian's /lib64/ld-linux-x86-64.so.2) point into the package, never at the host.
fn resolve_in_package(base: &Path, path: &Path) -> Option<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..8 {
        let meta = std::fs::symlink_metadata(&p).ok()?;
        if !meta.file_type().is_symlink() {
            return meta.is_file().then_some(p);
        }
        let target = std::fs::read_link(&p).ok()?;
        p = if target.is_absolute() {
            base.join(target.strip_prefix("/").ok()?)
        } else {
            p.parent()?.join(target)
        };
    }
    None
}

/// Every (package dir, library dir) of the cached packages where shared objects live.
fn library_dirs(cache: &Cache, arch: DebArch) -> Result<Vec<(PathBuf, PathBuf)>> {
    let pkgs = cache.root().join("pkgs").join(arch.debian());
    let mut dirs = Vec::new();
    for e in std::fs::read_dir(&pkgs)
        .map_err(Error::io(&pkgs))?
        .flatten()
    {
        let base = e.path();
        for sub in ["lib", "lib64", "usr/lib"] {
            let d = base.join(sub);
            if d.is_dir() {
                dirs.push((base.clone(), d.clone()));
                for t in std::fs::read_dir(&d).map_err(Error::io(&d))?.flatten() {
                    if t.path().is_dir() {
                        dirs.push((base.clone(), t.path()));
                    }
                }
            }
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// The program interpreter (PT_INTERP, with the file that provides it) and every shared
/// library (DT_NEEDED, transitively) of the ELF `program`, found in `dirs`. A library that
/// cannot be found is an error naming it: a guest loader that cannot start proves nothing.
#[allow(clippy::type_complexity)]
pub fn shared_library_closure(
    program: &[u8],
    dirs: &[(PathBuf, PathBuf)],
) -> Result<(Option<(String, PathBuf)>, BTreeMap<String, PathBuf>)> {
    let bad = |reason: String| Error::Package {
        package: "kexec-tools".into(),
        reason,
    };
    let deps = crate::shared_libs::elf_deps(program)
        .map_err(|e| bad(format!("cannot read its ELF headers: {e}")))?
        .ok_or_else(|| bad("sbin/kexec is not an ELF file".into()))?;
    let find = |name: &str| -> Result<PathBuf> {
        dirs.iter()
            .find_map(|(base, d)| resolve_in_package(base, &d.join(name)))
            .ok_or_else(|| Error::Package {
                package: "kexec-tools".into(),
                reason: format!("shared library {name} not found in the cached packages"),
            })
    };
    let interp = match deps.interpreter.as_deref() {
        Some(path) => {
            let name = Path::new(path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Some((path.to_string(), find(&name)?))
        }
        None => None,
    };
    let mut libs = BTreeMap::new();
    let mut todo = deps.needed;
    let mut seen = BTreeSet::new();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let file = find(&name)?;
        let bytes = read(&file)?;
        if let Ok(Some(lib)) = crate::shared_libs::elf_deps(&bytes) {
            todo.extend(lib.needed);
        }
        libs.insert(name, file);
    }
    if let Some((_, file)) = &interp {
        // The interpreter is placed at its own path; no need for a second copy in /lib.
        libs.retain(|_, f| f != file);
    }
    Ok((interp, libs))
}
