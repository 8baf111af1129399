//! `cargo xtask e2e`: the administrator's workflow on a real systemd machine (issue 8).
//!
//! A Debian bookworm tree made by debootstrap (minbase + systemd + the distribution kernel),
//! cached under `<cache>/e2e/bookworm`, gets the static warmboot, its units (installed by
//! `warmboot install-units --enable --kexec-symlink`, so /usr/sbin/kexec is warmboot) and
//! the step script of `images/e2e/`; it becomes an ext4 image booted as an x86_64 guest
//! under TCG with the tree's own kernel and initrd (Debian's initrd has virtio_blk). The
//! guest walks through its steps, one per boot, printing `@@E2E` lines; [`judge`] decides
//! each of the seven scenarios from the serial log alone (issue 8's five, and issue 17's
//! kernel upgrade and lock). A step of `cargo xtask ci`.

use crate::cache::Cache;
use crate::cmd::Cmd;
use crate::error::{Error, Result};
use crate::guest::{Ending, Flow, Guest};
use crate::qemu::{Accel, Firmware, GuestArch, GuestConfig};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the kernel command line of the guest says (crashkernel= for the capture kernel).
pub const APPEND: &str = "root=/dev/vda rw console=ttyS0 crashkernel=256M";
/// The guest's RAM, and the crash reservation APPEND asks for, in MiB.
const MEMORY_MIB: u32 = 1024;
const CRASH_MIB: u64 = 256;
/// Five boots of 1-2 minutes each under TCG, with room to spare.
const TIMEOUT: Duration = Duration::from_secs(25 * 60);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Use this debootstrap tree instead of the cached one (it is modified in place).
    #[arg(long, value_name = "DIR")]
    pub tree: Option<PathBuf>,
}

pub fn run(root: &Path, args: &Args) -> Result<()> {
    if !crate::host::is_root()? {
        return Err(Error::Boot {
            reason: "e2e: debootstrap and the image need root".to_string(),
        });
    }
    crate::host::ensure_packages(&["debootstrap", "e2fsprogs", "qemu-system-x86"])?;
    // The pinned kernel packages: the guest upgrades to the 6.1 one.
    crate::images::prepare(root)?;
    let tree = match &args.tree {
        Some(t) => t.clone(),
        None => cached_tree(&Cache::from_env()?)?,
    };
    let warmboot = crate::initramfs::build_guest_warmboot(root, GuestArch::X86_64)?;
    prepare_tree(root, &tree, &warmboot)?;
    let run_dir = root.join("target/xtask/runs").join(format!(
        "{}-e2e",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&run_dir).map_err(Error::io(&run_dir))?;
    let disk = run_dir.join("disk.img");
    Cmd::new("mkfs.ext4")
        .args(["-q", "-F", "-L", "root", "-d"])
        .arg(&tree)
        .arg(&disk)
        .arg("3G")
        .run()?;
    let (kernel, initrd) = boot_files(&tree)?;
    let config = GuestConfig {
        arch: GuestArch::X86_64,
        firmware: Firmware::Bios,
        accel: Accel::Tcg,
        memory_mib: MEMORY_MIB,
        kernel,
        initrd,
        append: APPEND.to_string(),
        // The cold reboot must go through the firmware and boot -kernel again.
        no_reboot: false,
        drive: Some(disk),
        seed: None,
        secure_boot: None,
    };
    let mut guest = Guest::start(&config, &run_dir).map_err(Error::io(&run_dir))?;
    let ending = guest.run(TIMEOUT, |l, _| {
        if l.line.contains("@@E2E vmcore") || l.line.contains("@@E2E done") {
            Flow::Stop
        } else {
            Flow::Continue
        }
    });
    let lines: Vec<&str> = guest.log().iter().map(|s| s.line.as_str()).collect();
    let verdicts = judge(&lines);
    println!("e2e ({ending:?}), serial log in {}", run_dir.display());
    for (name, v) in &verdicts {
        match v {
            Ok(()) => println!("  PASS  {name}"),
            Err(why) => println!("  FAIL  {name}: {why}"),
        }
    }
    if ending == Ending::TimedOut || verdicts.iter().any(|(_, v)| v.is_err()) {
        return Err(Error::Boot {
            reason: format!("e2e failed; see {}", run_dir.display()),
        });
    }
    Ok(())
}

/// The debootstrap tree in the cache, made once (as `<dir>.tmp`, renamed when complete).
fn cached_tree(cache: &Cache) -> Result<PathBuf> {
    let dir = cache.root().join("e2e/bookworm");
    if dir.join("usr/sbin/init").exists() {
        return Ok(dir);
    }
    let tmp = cache.root().join("e2e/bookworm.tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(Error::io(&tmp))?;
    }
    Cmd::new("debootstrap")
        .args([
            "--variant=minbase",
            "--include=systemd,systemd-sysv,linux-image-amd64,udev,kmod,e2fsprogs",
            "bookworm",
        ])
        .arg(&tmp)
        .arg("http://deb.debian.org/debian")
        .run()?;
    std::fs::rename(&tmp, &dir).map_err(Error::io(&dir))?;
    Ok(dir)
}

/// Puts warmboot, its units, the step script and the guest's fstab into `tree`.
fn prepare_tree(root: &Path, tree: &Path, warmboot: &Path) -> Result<()> {
    let copy = |from: &Path, to: &Path| -> Result<()> {
        if let Some(p) = to.parent() {
            std::fs::create_dir_all(p).map_err(Error::io(p))?;
        }
        std::fs::copy(from, to).map(drop).map_err(Error::io(to))
    };
    copy(warmboot, &tree.join("usr/sbin/warmboot"))?;
    // The kernel the guest upgrades to, the Debian way (dpkg -i): the pinned 6.1 package,
    // newer than the tree's own kernel.
    let upgrade = tree.join("root/upgrade");
    if upgrade.exists() {
        std::fs::remove_dir_all(&upgrade).map_err(Error::io(&upgrade))?;
    }
    let deb = upgrade_deb()?;
    copy(&deb, &upgrade.join(deb.file_name().unwrap_or_default()))?;
    Cmd::new(warmboot)
        .args(["install-units", "--root"])
        .arg(tree)
        .args([
            "--binary",
            "/usr/sbin/warmboot",
            "--enable",
            "--kexec-symlink",
        ])
        .run()?;
    let e2e = root.join("images/e2e");
    copy(&e2e.join("e2e-step"), &tree.join("usr/local/sbin/e2e-step"))?;
    copy(
        &e2e.join("e2e.service"),
        &tree.join("etc/systemd/system/e2e.service"),
    )?;
    let wants = tree.join("etc/systemd/system/multi-user.target.wants/e2e.service");
    let _ = std::fs::remove_file(&wants);
    std::os::unix::fs::symlink("/etc/systemd/system/e2e.service", &wants)
        .map_err(Error::io(&wants))?;
    let write = |rel: &str, text: &str| {
        let p = tree.join(rel);
        std::fs::write(&p, text).map_err(Error::io(&p))
    };
    write("etc/fstab", "/dev/vda / ext4 defaults 0 1\n")?;
    write("etc/hostname", "e2e\n")?;
    let journal = tree.join("var/log/journal");
    std::fs::create_dir_all(&journal).map_err(Error::io(&journal))?;
    let step = tree.join("var/lib/e2e/step");
    match std::fs::remove_file(&step) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(&step)(e)),
    }
}

/// The pinned x86_64 6.1 kernel's .deb (fetched by `cargo xtask images`).
fn upgrade_deb() -> Result<PathBuf> {
    let cache = Cache::from_env()?;
    let index_path = cache.root().join("kernels.json");
    let index = crate::index::KernelIndex::load_or_default(&index_path)?;
    let entry = index.get("x86_64", "6.1").ok_or_else(|| Error::Boot {
        reason: format!(
            "e2e: no pinned x86_64 6.1 kernel in {} — run `cargo xtask images`",
            index_path.display()
        ),
    })?;
    let deb = cache.debs().join(crate::cache::deb_file_name(
        &entry.package,
        &entry.version,
        crate::manifest::DebArch::Amd64,
    ));
    if deb.is_file() {
        Ok(deb)
    } else {
        Err(Error::Boot {
            reason: format!(
                "e2e: {} is missing — run `cargo xtask images`",
                deb.display()
            ),
        })
    }
}

/// The tree's one kernel and its initrd.
fn boot_files(tree: &Path) -> Result<(PathBuf, PathBuf)> {
    let boot = tree.join("boot");
    let mut kernels: Vec<PathBuf> = std::fs::read_dir(&boot)
        .map_err(Error::io(&boot))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vmlinuz-"))
        })
        .collect();
    kernels.sort();
    let kernel = kernels.pop().ok_or_else(|| Error::Boot {
        reason: format!("e2e: no vmlinuz-* in {}", boot.display()),
    })?;
    let release = kernel
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("vmlinuz-"))
        .unwrap_or_default()
        .to_string();
    Ok((kernel, boot.join(format!("initrd.img-{release}"))))
}

/// What the kernel prints when it resets the machine (kernel/reboot.c
/// kernel_restart(): `pr_emerg("Restarting system\n")` with the "reboot: " prefix); the
/// firmware itself prints nothing on the serial port under `-nodefaults`.
const RESTART: &str = "reboot: Restarting system";

/// The `@@E2E` payload of a serial line (markers may follow other text on the line).
fn marker(line: &str) -> Option<&str> {
    line.find("@@E2E ").map(|i| &line[i + "@@E2E ".len()..])
}

/// One boot of the guest as its markers and the kernel lines before the next one tell it.
#[derive(Debug, Default)]
struct Boot<'a> {
    step: Option<&'a str>,
    id: Option<&'a str>,
    /// `uname -r`.
    kernel: Option<&'a str>,
    markers: Vec<&'a str>,
    /// Serial lines after this boot's markers began, up to the next boot.
    lines: Vec<&'a str>,
}

impl Boot<'_> {
    fn marker(&self, key: &str) -> Option<&str> {
        self.markers.iter().find_map(|m| m.strip_prefix(key))
    }
    fn saw(&self, text: &str) -> bool {
        self.lines.iter().any(|l| l.contains(text))
    }
}

/// Splits the serial log into boots at each `@@E2E boot` line.
fn boots<'a>(lines: &[&'a str]) -> Vec<Boot<'a>> {
    let mut out: Vec<Boot<'a>> = Vec::new();
    for &l in lines {
        match marker(l) {
            Some(m) if m.starts_with("boot ") => {
                let field = |k: &str| m.split_whitespace().find_map(|w| w.strip_prefix(k));
                out.push(Boot {
                    step: field("step="),
                    id: field("id="),
                    kernel: field("kernel="),
                    ..Boot::default()
                });
            }
            Some(m) => {
                if let Some(b) = out.last_mut() {
                    b.markers.push(m);
                }
            }
            None => {
                if let Some(b) = out.last_mut() {
                    b.lines.push(l);
                }
            }
        }
    }
    out
}

/// The seven scenarios (issue 8's five; issue 17's kernel upgrade, lock and the capture
/// kernel of the upgraded kernel), each passed or failed with the reason, from the serial
/// log alone.
pub fn judge(lines: &[&str]) -> Vec<(&'static str, std::result::Result<(), String>)> {
    let boots = boots(lines);
    let step = |n: &str| boots.iter().find(|b| b.step == Some(n));
    let fresh = |a: &Boot, b: &Boot| match (a.id, b.id) {
        (Some(x), Some(y)) if x != y => Ok(()),
        _ => Err(format!(
            "boot ids {:?} and {:?} are not two boots",
            a.id, b.id
        )),
    };
    let need = |n: &str| step(n).ok_or_else(|| format!("no boot reached step {n}"));

    let loaded_at_boot = need("0").and_then(|b| {
        let s = b.marker("status ").unwrap_or_default();
        if s.contains("\"loaded\":true") && s.contains("\"crash_loaded\":true") {
            Ok(())
        } else {
            Err(format!("status after boot: {s:?}"))
        }
    });
    let warm = need("0").and_then(|b0| {
        let b1 = need("1")?;
        fresh(b0, b1)?;
        if !b0.saw("Rebooting with kexec") || !b0.saw("kexec_core: Starting new kernel") {
            return Err("no kexec after `warmboot reboot`".to_string());
        }
        if b0.saw(RESTART) {
            return Err("the warm reboot went through the firmware".to_string());
        }
        let (before, after) = (b0.marker("marker-before "), b1.marker("marker-after "));
        if before.is_none() || before != after {
            return Err(format!("marker {before:?} became {after:?}"));
        }
        let journal = b1.marker("journal ").unwrap_or_default();
        if !(journal.contains("systemd-kexec.service") && journal.contains("Journal stopped")) {
            return Err(format!("no clean shutdown in the journal: {journal:?}"));
        }
        if b0.marker("cmdline ") != b1.marker("cmdline ") {
            return Err("the new kernel's command line differs from the loaded one".to_string());
        }
        Ok(())
    });
    let cold = need("1").and_then(|b1| {
        fresh(b1, need("2")?)?;
        if b1.saw("Starting new kernel") || !b1.saw(RESTART) {
            return Err("the cold reboot did not go through the firmware".to_string());
        }
        Ok(())
    });
    let systemctl_kexec = need("2").and_then(|b2| {
        fresh(b2, need("3")?)?;
        if !b2.saw("warmboot: kexec -e: rebooting into the loaded kernel") {
            return Err("systemd-shutdown did not run warmboot as kexec -e".to_string());
        }
        if b2.saw(RESTART) {
            return Err("systemctl kexec went through the firmware".to_string());
        }
        Ok(())
    });
    // The upgrade: the package's postinst ran warmboot's kernel hook, which loaded the new
    // default kernel; `warmboot reboot` went warm into it.
    let upgraded = need("3").and_then(|b3| {
        let b4 = need("4")?;
        fresh(b3, b4)?;
        let package = b3
            .marker("upgrade package=")
            .ok_or("step 3 installed no kernel package")?
            .trim();
        if let Some(f) = b3.marker("upgrade-failed ") {
            return Err(format!("dpkg -i {package} failed: {f}"));
        }
        let release = package.strip_prefix("linux-image-").unwrap_or(package);
        let status = b3.marker("upgrade-status ").unwrap_or_default();
        if !status.contains(&format!("\"release\":\"{release}\"")) {
            return Err(format!(
                "after dpkg -i the loaded kernel is not {release} (the kernel hook did not load it): {status}"
            ));
        }
        if !b3.saw("kexec_core: Starting new kernel") || b3.saw(RESTART) {
            return Err("the reboot after the upgrade was not warm".to_string());
        }
        match b4.kernel {
            Some(k) if k == release => Ok(()),
            k => Err(format!("the warm reboot after the upgrade booted {k:?}, not {release}")),
        }
    });
    let lock = need("4").and_then(|b4| {
        let dir = b4.marker("lock-dir ").unwrap_or_default().trim();
        if dir != "700 root" {
            return Err(format!("/run/warmboot is {dir:?}, not \"700 root\""));
        }
        match b4.marker("lock-as-user ").map(str::trim) {
            Some("refused") => Ok(()),
            other => Err(format!("a user creating the lock file: {other:?}")),
        }
    });
    let capture = need("4").and_then(|b3| {
        let b4 = need("5")?;
        fresh(b3, b4)?;
        if !b3.saw("Kernel panic") {
            return Err("no panic before the capture boot".to_string());
        }
        // The capture kernel follows the upgrade: the running kernel's, loaded at boot.
        if b4.kernel != b3.kernel {
            return Err(format!(
                "the capture kernel is {:?}, the crashed one {:?}",
                b4.kernel, b3.kernel
            ));
        }
        if !b4
            .marker("cmdline ")
            .unwrap_or_default()
            .contains("elfcorehdr=")
        {
            return Err("the capture kernel has no elfcorehdr=".to_string());
        }
        let report = b4
            .marker("vmcore ")
            .ok_or("the capture kernel printed no vmcore line")?;
        crate::vmcore_report::check(
            &crate::vmcore_report::fields(report),
            MEMORY_MIB.into(),
            CRASH_MIB,
        )
        .map(drop)
        .map_err(|why| format!("{why}: {}", report.trim()))
    });
    vec![
        ("1 the next kernel is loaded after boot", loaded_at_boot),
        ("2 warm reboot keeps a file and shuts down cleanly", warm),
        ("3 reboot --cold goes through the firmware", cold),
        ("4 systemctl kexec runs warmboot as kexec", systemctl_kexec),
        (
            "5 after a kernel upgrade the warm reboot boots the new kernel",
            upgraded,
        ),
        ("6 no user can create the lock file", lock),
        (
            "7 the capture kernel of the new kernel catches a panic",
            capture,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines that matter of a real run (`cargo xtask e2e`, 2026-12-07, bookworm,
    /// 6.1.0-50-amd64 upgraded to 6.1.0-56-amd64 by dpkg -i, TCG): its markers and the
    /// kernel lines the verdict looks for.
    const RUN: &str = r##"@@E2E boot step=0 id=1198ed53-f73b-4958-9cc1-3757ba8383b8 kernel=6.1.0-50-amd64
@@E2E cmdline root=/dev/vda rw console=ttyS0 crashkernel=256M
@@E2E status {"crash_kernel":{"chosen_by":"runningkernelfoundbyDebian/Ubuntunaming(/boot/vmlinuz-R,/boot/initrd.img-R)","cmdline":"root=/dev/vdarwconsole=ttyS0reset_devicesnr_cpus=1irqpollcgroup_disable=memoryudev.children-max=2panic=10","initrd":"/boot/initrd.img-6.1.0-50-amd64","initrd_sha256":"9ab929fc948d078f494872bff64c772efe80aafd5704b6d81cda1c3df0c277e2","kernel":"/boot/vmlinuz-6.1.0-50-amd64","kernel_sha256":"d8808aa4ca188560da1e6d749dcb930c87a5fd8b11ebff1f3fa6d728af35203d","loaded_at":1796676729,"release":"6.1.0-50-amd64","syscall":"kexec_file_load"},"crash_loaded":true,"crash_size":268435456,"crash_supported":true,"kexec_load_blocked_by_lockdown":false,"kexec_supported":true,"loaded":true,"loaded_kernel":{"chosen_by":"defaultkernel:the/vmlinuzlink(linux-basepointsitatthenewestkernel)","cmdline":"root=/dev/vdarwconsole=ttyS0crashkernel=256M","initrd":"/initrd.img","initrd_sha256":"9ab929fc948d078f494872bff64c772efe80aafd5704b6d81cda1c3df0c277e2","kernel":"/vmlinuz","kernel_sha256":"d8808aa4ca188560da1e6d749dcb930c87a5fd8b11ebff1f3fa6d728af35203d","loaded_at":1796676723,"release":"6.1.0-50-amd64","syscall":"kexec_load"},"lockdown":"none"}
@@E2E marker-before 84ea8e56a9650c7e9b250ccc713878802e3881185b3d9e493e33d1209f074001
@@E2E reboot warm reboot into the loaded kernel through systemd (systemctl kexec)|Failed to connect to bus: No such file or directory|
[   34.853297] systemd-shutdown[1]: Rebooting with kexec.
[   34.889330] warmboot: kexec -e: rebooting into the loaded kernel
[   34.893395] kexec_core: Starting new kernel
@@E2E boot step=1 id=98a8b530-c319-4abe-a10e-0d02ab23989b kernel=6.1.0-50-amd64
@@E2E cmdline root=/dev/vda rw console=ttyS0 crashkernel=256M
@@E2E status {"crash_kernel":{"chosen_by":"runningkernelfoundbyDebian/Ubuntunaming(/boot/vmlinuz-R,/boot/initrd.img-R)","cmdline":"root=/dev/vdarwconsole=ttyS0reset_devicesnr_cpus=1irqpollcgroup_disable=memoryudev.children-max=2panic=10","initrd":"/boot/initrd.img-6.1.0-50-amd64","initrd_sha256":"9ab929fc948d078f494872bff64c772efe80aafd5704b6d81cda1c3df0c277e2","kernel":"/boot/vmlinuz-6.1.0-50-amd64","kernel_sha256":"d8808aa4ca188560da1e6d749dcb930c87a5fd8b11ebff1f3fa6d728af35203d","loaded_at":1796676779,"release":"6.1.0-50-amd64","syscall":"kexec_file_load"},"crash_loaded":true,"crash_size":268435456,"crash_supported":true,"kexec_load_blocked_by_lockdown":false,"kexec_supported":true,"loaded":true,"loaded_kernel":{"chosen_by":"defaultkernel:the/vmlinuzlink(linux-basepointsitatthenewestkernel)","cmdline":"root=/dev/vdarwconsole=ttyS0crashkernel=256M","initrd":"/initrd.img","initrd_sha256":"9ab929fc948d078f494872bff64c772efe80aafd5704b6d81cda1c3df0c277e2","kernel":"/vmlinuz","kernel_sha256":"d8808aa4ca188560da1e6d749dcb930c87a5fd8b11ebff1f3fa6d728af35203d","loaded_at":1796676773,"release":"6.1.0-50-amd64","syscall":"kexec_load"},"lockdown":"none"}
@@E2E marker-after 84ea8e56a9650c7e9b250ccc713878802e3881185b3d9e493e33d1209f074001
@@E2E journal [   34.334703] e2e systemd[1]: Starting systemd-kexec.service - Reboot via kexec...|[   34.440765] e2e systemd[1]: Shutting down.|[   34.682296] e2e systemd-journald[178]: Journal stopped|
@@E2E reboot unloaded the loaded kernel (--cold)|cold reboot through systemd and the firmware (systemctl reboot)|Failed to connect to bus: No such file or directory|
[   48.910163] reboot: Restarting system
@@E2E boot step=2 id=57e1cc6e-d7b8-4a67-89de-443d6478fb16 kernel=6.1.0-50-amd64
@@E2E cmdline root=/dev/vda rw console=ttyS0 crashkernel=256M
@@E2E status {"crash_kernel":{"chosen_by":"runningkernelfoundbyDebian/Ubuntunaming(/boot/vmlinuz-R,/boot/initrd.img-R)","cmdline":"root=/dev/vdarwconsole=ttyS0reset_devicesnr_cpus=1irqpollcgroup_disable=memoryudev.children-max=2panic=10","initrd":"/boot/initrd.img-6.1.0-50-amd64","initrd_sha256":"9ab929fc948d078f494872bff64c772efe80aafd5704b6d81cda1c3df0c277e2","kernel":"/boot/vmlinuz-6.1.0-50-amd64","kernel_sha256":"d8808aa4ca188560da1e6d749dcb930c87a5fd8b11ebff1f3fa6d728af35203d","loaded_at":1796676828,"release":"6.1.0-50-amd64","syscall":"kexec_file_load"},"crash_loaded":true,"crash_size":268435456,"crash_supported":true,"kexec_load_blocked_by_lockdown":false,"kexec_supported":true,"loaded":true,"loaded_kernel":{"chosen_by":"defaultkernel:the/vmlinuzlink(linux-basepointsitatthenewestkernel)","cmdline":"root=/dev/vdarwconsole=ttyS0crashkernel=256M","initrd":"/initrd.img","initrd_sha256":"9ab929fc948d078f494872bff64c772efe80aafd5704b6d81cda1c3df0c277e2","kernel":"/vmlinuz","kernel_sha256":"d8808aa4ca188560da1e6d749dcb930c87a5fd8b11ebff1f3fa6d728af35203d","loaded_at":1796676823,"release":"6.1.0-50-amd64","syscall":"kexec_load"},"lockdown":"none"}
@@E2E systemctl-kexec
[   46.473908] systemd-shutdown[1]: Rebooting with kexec.
[   46.521103] warmboot: kexec -e: rebooting into the loaded kernel
[   46.528752] kexec_core: Starting new kernel
@@E2E boot step=3 id=28fa05e6-1b3d-4f60-8cc5-e5d12eb0a195 kernel=6.1.0-50-amd64
@@E2E cmdline root=/dev/vda rw console=ttyS0 crashkernel=256M
@@E2E status {"crash_kernel":{"chosen_by":"runningkernelfoundbyDebian/Ubuntunaming(/boot/vmlinuz-R,/boot/initrd.img-R)","cmdline":"root=/dev/vdarwconsole=ttyS0reset_devicesnr_cpus=1irqpollcgroup_disable=memoryudev.children-max=2panic=10","initrd":"/boot/initrd.img-6.1.0-50-amd64","initrd_sha256":"9ab929fc948d078f494872bff64c772efe80aafd5704b6d81cda1c3df0c277e2","kernel":"/boot/vmlinuz-6.1.0-50-amd64","kernel_sha256":"d8808aa4ca188560da1e6d749dcb930c87a5fd8b11ebff1f3fa6d728af35203d","loaded_at":1796676868,"release":"6.1.0-50-amd64","syscall":"kexec_file_load"},"crash_loaded":true,"crash_size":268435456,"crash_supported":true,"kexec_load_blocked_by_lockdown":false,"kexec_supported":true,"loaded":true,"loaded_kernel":{"chosen_by":"defaultkernel:the/vmlinuzlink(linux-basepointsitatthenewestkernel)","cmdline":"root=/dev/vdarwconsole=ttyS0crashkernel=256M","initrd":"/initrd.img","initrd_sha256":"9ab929fc948d078f494872bff64c772efe80aafd5704b6d81cda1c3df0c277e2","kernel":"/vmlinuz","kernel_sha256":"d8808aa4ca188560da1e6d749dcb930c87a5fd8b11ebff1f3fa6d728af35203d","loaded_at":1796676863,"release":"6.1.0-50-amd64","syscall":"kexec_load"},"lockdown":"none"}
@@E2E upgrade package=linux-image-6.1.0-56-amd64
@@E2E upgrade-status {"crash_kernel":{"chosen_by":"runningkernelfoundbyDebian/Ubuntunaming(/boot/vmlinuz-R,/boot/initrd.img-R)","cmdline":"root=/dev/vdarwconsole=ttyS0reset_devicesnr_cpus=1irqpollcgroup_disable=memoryudev.children-max=2panic=10","initrd":"/boot/initrd.img-6.1.0-50-amd64","initrd_sha256":"9ab929fc948d078f494872bff64c772efe80aafd5704b6d81cda1c3df0c277e2","kernel":"/boot/vmlinuz-6.1.0-50-amd64","kernel_sha256":"d8808aa4ca188560da1e6d749dcb930c87a5fd8b11ebff1f3fa6d728af35203d","loaded_at":1796676868,"release":"6.1.0-50-amd64","syscall":"kexec_file_load"},"crash_loaded":true,"crash_size":268435456,"crash_supported":true,"kexec_load_blocked_by_lockdown":false,"kexec_supported":true,"loaded":true,"loaded_kernel":{"chosen_by":"defaultkernel:the/vmlinuzlink(linux-basepointsitatthenewestkernel)","cmdline":"root=/dev/vdarwconsole=ttyS0crashkernel=256M","initrd":"/initrd.img","initrd_sha256":"e085d070751829485d4d3df13ae7617005034d0d688a86f121d7348e7830351e","kernel":"/vmlinuz","kernel_sha256":"26f2e57c99338feaf71c46fa4babdc7e1a6c115943002d109fdb746667104f5f","loaded_at":1796677495,"release":"6.1.0-56-amd64","syscall":"kexec_load"},"lockdown":"none"}
@@E2E reboot warm reboot into the loaded kernel through systemd (systemctl kexec)|Failed to connect to bus: No such file or directory|
[  666.601102] systemd-shutdown[1]: Rebooting with kexec.
[  666.629809] warmboot: kexec -e: rebooting into the loaded kernel
[  666.636359] kexec_core: Starting new kernel
@@E2E boot step=4 id=da753408-284b-450d-a5af-7224a772ae00 kernel=6.1.0-56-amd64
@@E2E cmdline root=/dev/vda rw console=ttyS0 crashkernel=256M
@@E2E status {"crash_kernel":{"chosen_by":"runningkernelfoundbyDebian/Ubuntunaming(/boot/vmlinuz-R,/boot/initrd.img-R)","cmdline":"root=/dev/vdarwconsole=ttyS0reset_devicesnr_cpus=1irqpollcgroup_disable=memoryudev.children-max=2panic=10","initrd":"/boot/initrd.img-6.1.0-56-amd64","initrd_sha256":"e085d070751829485d4d3df13ae7617005034d0d688a86f121d7348e7830351e","kernel":"/boot/vmlinuz-6.1.0-56-amd64","kernel_sha256":"26f2e57c99338feaf71c46fa4babdc7e1a6c115943002d109fdb746667104f5f","loaded_at":1796677551,"release":"6.1.0-56-amd64","syscall":"kexec_file_load"},"crash_loaded":true,"crash_size":268435456,"crash_supported":true,"kexec_load_blocked_by_lockdown":false,"kexec_supported":true,"loaded":true,"loaded_kernel":{"chosen_by":"defaultkernel:the/vmlinuzlink(linux-basepointsitatthenewestkernel)","cmdline":"root=/dev/vdarwconsole=ttyS0crashkernel=256M","initrd":"/initrd.img","initrd_sha256":"e085d070751829485d4d3df13ae7617005034d0d688a86f121d7348e7830351e","kernel":"/vmlinuz","kernel_sha256":"26f2e57c99338feaf71c46fa4babdc7e1a6c115943002d109fdb746667104f5f","loaded_at":1796677544,"release":"6.1.0-56-amd64","syscall":"kexec_load"},"lockdown":"none"}
@@E2E lock-dir 700 root
@@E2E lock-as-user refused
@@E2E panic
[   52.350275] Kernel panic - not syncing: sysrq triggered crash
@@E2E boot step=5 id=3fd4ef58-f2bb-425b-8181-9181eb223bcd kernel=6.1.0-56-amd64
@@E2E cmdline elfcorehdr=0x2d000000 root=/dev/vda rw console=ttyS0 reset_devices nr_cpus=1 irqpoll cgroup_disable=memory udev.children-max=2 panic=10
@@E2E vmcore ok=1 loads=3 expected_kib=785903 covered_kib=785268 missing_kib=0 excused_kib=635 outside_kib=0 tolerance_kib=64 pages_read=6 loads_read=3 "##;

    fn verdicts(log: &str) -> Vec<(&'static str, std::result::Result<(), String>)> {
        judge(&log.lines().collect::<Vec<_>>())
    }

    #[test]
    fn the_real_run_passes_every_scenario() {
        for (name, v) in verdicts(RUN) {
            assert_eq!(v, Ok(()), "{name}");
        }
    }

    #[test]
    fn each_scenario_fails_on_its_own_evidence() {
        let broken = |from: &str, to: &str, scenario: usize, why: &str| {
            assert!(RUN.contains(from), "{from}");
            let log = RUN.replacen(from, to, 1);
            let v = verdicts(&log);
            let e = v[scenario].1.clone().unwrap_err();
            assert!(e.contains(why), "{}: {e}", v[scenario].0);
        };
        broken(
            "\"loaded\":true",
            "\"loaded\":false",
            0,
            "status after boot",
        );
        broken("marker-after 84", "marker-after 94", 1, "became");
        broken("Journal stopped", "Journal running", 1, "no clean shutdown");
        broken(
            "id=98a8b530-c319-4abe-a10e-0d02ab23989b",
            "id=1198ed53-f73b-4958-9cc1-3757ba8383b8",
            1,
            "are not two boots",
        );
        broken(
            "reboot: Restarting system",
            "kexec_core: Starting new kernel",
            2,
            "did not go through the firmware",
        );
        broken(
            // Step 2's (warmboot reboot in step 0 goes through kexec -e too).
            "[   46.521103] warmboot: kexec -e:",
            "[   46.521103] something else:",
            3,
            "did not run warmboot",
        );
        // The upgrade: the hook's load, the warm reboot, the kernel that booted.
        broken(
            "\"release\":\"6.1.0-56-amd64\"",
            "\"release\":\"6.1.0-50-amd64\"",
            4,
            "the kernel hook did not load it",
        );
        broken(
            "[  666.636359] kexec_core: Starting new kernel",
            "[  666.636359] reboot: Restarting system",
            4,
            "was not warm",
        );
        broken(
            "step=4 id=da753408-284b-450d-a5af-7224a772ae00 kernel=6.1.0-56-amd64",
            "step=4 id=da753408-284b-450d-a5af-7224a772ae00 kernel=6.1.0-50-amd64",
            4,
            "booted Some(\"6.1.0-50-amd64\"), not 6.1.0-56-amd64",
        );
        broken(
            "upgrade package=",
            "upgrade-failed dpkg: error|",
            4,
            "installed no kernel",
        );
        broken(
            "lock-as-user refused",
            "lock-as-user created",
            5,
            "a user creating",
        );
        broken(
            "lock-dir 700 root",
            "lock-dir 1777 root",
            5,
            "not \"700 root\"",
        );
        broken(
            "step=5 id=3fd4ef58-f2bb-425b-8181-9181eb223bcd kernel=6.1.0-56-amd64",
            "step=5 id=3fd4ef58-f2bb-425b-8181-9181eb223bcd kernel=6.1.0-50-amd64",
            6,
            "the capture kernel is",
        );
        broken(
            "loads_read=3",
            "loads_read=2",
            6,
            "only 2 of the dump's 3 PT_LOADs could be read",
        );
        broken("missing_kib=0", "missing_kib=900", 6, "misses 900 KiB");
        // The guest's check failed: its error is the line, and it is quoted.
        broken(
            "vmcore ok=1 loads=3",
            "vmcore warmboot: /proc/vmcore: invalid dump: PT_LOADs cover",
            6,
            "could not check /proc/vmcore: warmboot: /proc/vmcore: invalid dump",
        );
        let v = verdicts(RUN.split("@@E2E boot step=5").next().unwrap_or_default());
        assert_eq!(v[6].1, Err("no boot reached step 5".to_string()));
    }
}
