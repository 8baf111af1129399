//! `cargo xtask e2e`: the administrator's workflow on a real systemd machine (issue 8).
//!
//! A Debian bookworm tree made by debootstrap (minbase + systemd + the distribution kernel),
//! cached under `<cache>/e2e/bookworm`, gets the static warmboot, its units (installed by
//! `warmboot install-units --enable --kexec-symlink`, so /usr/sbin/kexec is warmboot) and
//! the step script of `images/e2e/`; it becomes two ext4 images booted as two x86_64
//! guests side by side under TCG with the tree's own kernel and initrd (Debian's initrd
//! has virtio_blk). Each guest walks through its share of the steps, one per boot,
//! printing `@@E2E` lines; [`judge`] decides each scenario from the two serial logs alone
//! (issue 8's five, issue 17's kernel upgrade, lock, boots without systemd and
//! kdump-tools). A step of `cargo xtask ci`.

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
pub const MEMORY_MIB: u32 = 1024;
const CRASH_MIB: u64 = 256;
/// Per guest. The longer walk is the Secure Boot guest's: two OVMF boots with SMM, a
/// kexec_file_load handoff that is slow under TCG, a kernel package installed, and two
/// capture kernels. It took about 10 minutes in an idle fresh-clone CI run here and 33
/// with the host's load at 8 (other guests and builds beside it): five times the first.
const TIMEOUT: Duration = Duration::from_secs(50 * 60);

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
    let (kernel, initrd, _) = tree_kernel(&tree)?;
    // Two guests walk the steps side by side (images/e2e/README.md), each on its own disk
    // made from the tree: the first from step 0 (BIOS), the second from
    // FIRST_STEP_OF_SECOND under Secure Boot (OVMF enforcing it, Debian's signed shim,
    // GRUB and the tree's signed kernel from an ESP: the kernel is locked down, and
    // kdump-tools adds -s).
    let mut chains = Vec::new();
    for (name, first_step, stop, firmware) in [
        ("a", None, "@@E2E done", Firmware::Bios),
        (
            "b",
            Some(FIRST_STEP_OF_SECOND),
            "@@E2E vmcore",
            Firmware::Secureboot,
        ),
    ] {
        let dir = run_dir.join(name);
        std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
        let disk = dir.join("disk.img");
        set_first_step(&tree, first_step)?;
        Cmd::new("mkfs.ext4")
            .args(["-q", "-F", "-L", "root", "-d"])
            .arg(&tree)
            .arg(&disk)
            .arg("3G")
            .run()?;
        let secure_boot = if firmware == Firmware::Secureboot {
            let vars = dir.join("OVMF_VARS.fd");
            std::fs::copy(crate::qemu::SECURE_BOOT_VARS, &vars)
                .map_err(Error::io(crate::qemu::SECURE_BOOT_VARS))?;
            Some(crate::qemu::SecureBootDisks {
                vars,
                esp: crate::esp::build(root, &kernel, &initrd, APPEND)?,
            })
        } else {
            None
        };
        let config = GuestConfig {
            arch: GuestArch::X86_64,
            firmware,
            accel: Accel::Tcg,
            memory_mib: MEMORY_MIB,
            kernel: kernel.clone(),
            initrd: initrd.clone(),
            append: APPEND.to_string(),
            // The cold reboot must go through the firmware and boot -kernel again.
            no_reboot: false,
            drive: Some(disk),
            seed: None,
            secure_boot,
            ssh_port: None,
        };
        chains.push((dir, config, stop));
    }
    set_first_step(&tree, None)?;
    let runs: Vec<std::io::Result<(Ending, Vec<String>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chains
            .iter()
            .map(|(dir, config, stop)| {
                scope.spawn(move || {
                    let mut guest = Guest::start(config, dir)?;
                    let ending = guest.run(TIMEOUT, |l, _| {
                        // The second guest's end: its capture kernel checked the dump and
                        // powers off; either guest may also say it is done.
                        if l.line.contains(stop) || l.line.contains("@@E2E done") {
                            Flow::Stop
                        } else {
                            Flow::Continue
                        }
                    });
                    let lines = guest.log().iter().map(|s| s.line.clone()).collect();
                    Ok((ending, lines))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("e2e guest thread panicked")))
            })
            .collect()
    });
    let mut logs = Vec::new();
    let mut timed_out = false;
    for ((dir, _, _), run) in chains.iter().zip(runs) {
        let (ending, lines) = run.map_err(Error::io(dir))?;
        println!(
            "e2e guest {} ({ending:?}), serial log in {}",
            dir.display(),
            dir.join(crate::guest::SERIAL_LOG).display()
        );
        timed_out |= ending == Ending::TimedOut;
        logs.push(lines);
    }
    let chains: Vec<Vec<&str>> = logs
        .iter()
        .map(|l| l.iter().map(String::as_str).collect())
        .collect();
    let chains: Vec<&[&str]> = chains.iter().map(Vec::as_slice).collect();
    let verdicts = judge(&chains);
    for (name, v) in &verdicts {
        match v {
            Ok(()) => println!("  PASS  {name}"),
            Err(why) => println!("  FAIL  {name}: {why}"),
        }
    }
    if timed_out || verdicts.iter().any(|(_, v)| v.is_err()) {
        return Err(Error::Boot {
            reason: format!("e2e failed; see {}", run_dir.display()),
        });
    }
    Ok(())
}

/// The step the second guest starts at: Debian's kdump-tools (images/e2e/e2e-step).
const FIRST_STEP_OF_SECOND: u32 = 6;

/// Writes the step the guest booting a disk made from `tree` starts at (none: step 0).
fn set_first_step(tree: &Path, step: Option<u32>) -> Result<()> {
    let file = tree.join("var/lib/e2e/step");
    match step {
        Some(n) => {
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
            }
            std::fs::write(&file, format!("{n}\n")).map_err(Error::io(&file))
        }
        None => match std::fs::remove_file(&file) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&file)(e)),
        },
    }
}

/// The Debian release of the tree.
const SUITE: &str = "bookworm";
/// What debootstrap installs (minbase plus these and their dependencies): systemd and the
/// distribution's kernel; and a real service with its client's needs, for the service
/// bench and the fleet (bench/service, fleet.rs), which boot the same tree so that CI
/// builds one: sshd (what they probe and what Ansible drives) and python3 (Ansible's
/// modules run in it).
const DEBOOTSTRAP_INCLUDE: &[&str] = &[
    "systemd",
    "systemd-sysv",
    "linux-image-amd64",
    "udev",
    "kmod",
    "e2fsprogs",
    "openssh-server",
    "python3",
];
/// Installed with apt-get in the tree once debootstrap is done: Debian's kdump tools, for
/// the scenario where they drive warmboot's kexec (kexec-tools' /sbin/kexec is then
/// diverted to warmboot by `install-units --kexec-symlink`). Not through debootstrap:
/// there the kernel's postinst would run kdump-tools' kernel hook, whose `MODULES=dep`
/// initrd cannot find the guest's disk from a chroot.
const KDUMP_PACKAGES: &[&str] = &["kdump-tools", "kexec-tools", "makedumpfile"];
/// Changed by hand when the way the tree is made changes beyond the package lists.
const TREE_RECIPE: u32 = 3;

/// The cached tree's directory name: the suite and a digest of everything that makes the
/// tree, so that a change to the package lists or the recipe builds a new tree instead of
/// using a stale one.
fn tree_name() -> String {
    tree_name_of(SUITE, DEBOOTSTRAP_INCLUDE, KDUMP_PACKAGES, TREE_RECIPE)
}

fn tree_name_of(suite: &str, include: &[&str], apt: &[&str], recipe: u32) -> String {
    use sha2::{Digest, Sha256};
    let recipe = format!("{suite} {include:?} {apt:?} {recipe}");
    let digest = Sha256::digest(recipe.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{suite}-{hex}")
}

/// The debootstrap tree in the cache, made once (as `<dir>.tmp`, renamed when complete).
pub fn cached_tree(cache: &Cache) -> Result<PathBuf> {
    let dir = cache.root().join("e2e").join(tree_name());
    if dir.join("usr/sbin/init").exists() {
        return Ok(dir);
    }
    let tmp = dir.with_extension("tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(Error::io(&tmp))?;
    }
    Cmd::new("debootstrap")
        .arg("--variant=minbase")
        .arg(format!("--include={}", DEBOOTSTRAP_INCLUDE.join(",")))
        .arg(SUITE)
        .arg(&tmp)
        .arg("http://deb.debian.org/debian")
        .run()?;
    install_kdump_tools(&tmp)?;
    std::fs::rename(&tmp, &dir).map_err(Error::io(&dir))?;
    Ok(dir)
}

/// Installs [`KDUMP_PACKAGES`] into the tree with its own apt, starting no service (a
/// policy-rc.d that refuses; deb-systemd-invoke starts nothing without a running systemd),
/// then makes kdump-tools' initrd for each kernel of the tree as its kernel hook
/// (`/etc/kernel/postinst.d/kdump-tools`) would: a copy of the tree's initramfs-tools
/// configuration marked `KDUMP=y`, built with mkinitramfs into
/// `/var/lib/kdump/initrd.img-VERSION`. The hook's one difference, `MODULES=dep`, needs the
/// guest's own disk and so cannot run here; the initrd keeps the tree's `MODULES=most`.
/// With it goes `latest_sysctls-VERSION`, the copy of /etc/kdump/sysctl.conf that
/// `kdump-config load` compares (check_sysctl_change) and, when it is missing or differs,
/// deletes the initrd and runs the hook again (a `MODULES=dep` mkinitramfs, minutes under
/// TCG).
fn install_kdump_tools(tree: &Path) -> Result<()> {
    let write = |rel: &str, text: &str| {
        let p = tree.join(rel);
        std::fs::write(&p, text).map_err(Error::io(&p))
    };
    use std::os::unix::fs::PermissionsExt as _;
    let policy = tree.join("usr/sbin/policy-rc.d");
    write("usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n")?;
    std::fs::set_permissions(&policy, std::fs::Permissions::from_mode(0o755))
        .map_err(Error::io(&policy))?;
    let resolv = tree.join("etc/resolv.conf");
    std::fs::copy("/etc/resolv.conf", &resolv).map_err(Error::io(&resolv))?;
    let apt = |args: &[&str]| {
        Cmd::new("chroot")
            .arg(tree)
            .arg("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .run()
    };
    apt(&["-q", "update"])?;
    let mut install = vec!["-q", "-y", "install", "--no-install-recommends"];
    install.extend_from_slice(KDUMP_PACKAGES);
    apt(&install)?;
    apt(&["clean"])?;
    std::fs::remove_file(&policy).map_err(Error::io(&policy))?;
    let (_, _, release) = tree_kernel(tree)?;
    Cmd::new("chroot")
        .arg(tree)
        .args([
            "sh",
            "-ec",
            "mkdir -p /var/lib/kdump; rm -rf /var/lib/kdump/initramfs-tools; \
             cp -pr /etc/initramfs-tools /var/lib/kdump/; \
             echo KDUMP=y >> /var/lib/kdump/initramfs-tools/initramfs.conf; \
             mkinitramfs -d /var/lib/kdump/initramfs-tools -o /var/lib/kdump/initrd.img-\"$1\" \"$1\"; \
             cp /etc/kdump/sysctl.conf /var/lib/kdump/latest_sysctls-\"$1\"",
            "kdump-initrd",
        ])
        .arg(&release)
        .run()
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(p) = to.parent() {
        std::fs::create_dir_all(p).map_err(Error::io(p))?;
    }
    std::fs::copy(from, to).map(drop).map_err(Error::io(to))
}

/// Puts warmboot, its units, the step script and the guest's fstab into `tree`.
fn prepare_tree(root: &Path, tree: &Path, warmboot: &Path) -> Result<()> {
    prepare_admin_tree(tree, warmboot)?;
    // The kernel the guest upgrades to, the Debian way (dpkg -i): the pinned 6.1 package,
    // newer than the tree's own kernel.
    let upgrade = tree.join("root/upgrade");
    if upgrade.exists() {
        std::fs::remove_dir_all(&upgrade).map_err(Error::io(&upgrade))?;
    }
    let deb = upgrade_deb()?;
    copy(&deb, &upgrade.join(deb.file_name().unwrap_or_default()))?;
    let e2e = root.join("images/e2e");
    copy(&e2e.join("e2e-step"), &tree.join("usr/local/sbin/e2e-step"))?;
    copy(&e2e.join("e2e-init"), &tree.join("usr/local/sbin/e2e-init"))?;
    copy(
        &e2e.join("e2e.service"),
        &tree.join("etc/systemd/system/e2e.service"),
    )?;
    let wants = tree.join("etc/systemd/system/multi-user.target.wants/e2e.service");
    let _ = std::fs::remove_file(&wants);
    std::os::unix::fs::symlink("/etc/systemd/system/e2e.service", &wants)
        .map_err(Error::io(&wants))?;
    set_first_step(tree, None)
}

/// What every guest of the tree has, as an administrator who uses warmboot sets a machine
/// up: the static warmboot, its units installed and enabled with `install-units --enable
/// --kexec-symlink` (so the running kernel is loaded at boot and /usr/sbin/kexec is
/// warmboot), kexec-tools and kdump-tools configured as [`configure_kdump_tools`] says,
/// the fstab, a hostname and a persistent journal. The e2e adds its steps; the service
/// bench and the fleet their SSH key.
pub fn prepare_admin_tree(tree: &Path, warmboot: &Path) -> Result<()> {
    copy(warmboot, &tree.join("usr/sbin/warmboot"))?;
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
    let write = |rel: &str, text: &str| {
        let p = tree.join(rel);
        std::fs::write(&p, text).map_err(Error::io(&p))
    };
    write("etc/fstab", "/dev/vda / ext4 defaults 0 1\n")?;
    configure_kdump_tools(tree)?;
    write("etc/hostname", "e2e\n")?;
    let journal = tree.join("var/log/journal");
    std::fs::create_dir_all(&journal).map_err(Error::io(&journal))
}

/// Debian's kexec tools as an administrator who uses warmboot sets them up:
/// - kexec-tools' own reboot handling off (`LOAD_KEXEC=false` in /etc/default/kexec; its
///   debconf default is true, and then its init scripts load a kernel and run `kexec -e`
///   on every `systemctl reboot`, so that no reboot would go through the firmware);
/// - kdump-tools configured (`USE_KDUMP=1`) but its service not enabled: warmboot's panic
///   unit loads the capture kernel at boot, and the e2e's kdump step hands crash dumps to
///   kdump-tools for one panic (`systemctl start kdump-tools.service`; the units'
///   `Conflicts=` never let both own the crash reservation).
fn configure_kdump_tools(tree: &Path) -> Result<()> {
    let set = |rel: &str, key: &str, value: &str| -> Result<()> {
        let p = tree.join(rel);
        let text = std::fs::read_to_string(&p).map_err(Error::io(&p))?;
        let line = format!("{key}={value}");
        let mut found = false;
        let mut out: Vec<String> = text
            .lines()
            .map(|l| {
                if l.trim_start().starts_with(&format!("{key}=")) {
                    found = true;
                    line.clone()
                } else {
                    l.to_string()
                }
            })
            .collect();
        if !found {
            out.push(line);
        }
        std::fs::write(&p, out.join("\n") + "\n").map_err(Error::io(&p))
    };
    set("etc/default/kexec", "LOAD_KEXEC", "false")?;
    set("etc/default/kdump-tools", "USE_KDUMP", "1")?;
    let wants = tree.join("etc/systemd/system/basic.target.wants/kdump-tools.service");
    match std::fs::remove_file(&wants) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(&wants)(e)),
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

/// The tree's newest kernel, its initrd and its release.
pub fn tree_kernel(tree: &Path) -> Result<(PathBuf, PathBuf, String)> {
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
    let initrd = boot.join(format!("initrd.img-{release}"));
    Ok((kernel, initrd, release))
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
    /// Which guest's log it is from (`judge`'s chains).
    guest: usize,
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

/// The eleven scenarios (issue 8's five; the kernel upgrade, the lock and the capture
/// kernel of the upgraded kernel; issue 17's reboots without systemd and kdump-tools),
/// each passed or failed with the reason, from the serial logs alone.
///
/// `chains` are the serial logs of the guests that walked the steps (images/e2e/e2e-step),
/// each split into its boots on its own: a step's next boot is the next one of the same
/// guest.
pub fn judge(chains: &[&[&str]]) -> Vec<(&'static str, std::result::Result<(), String>)> {
    let boots: Vec<Boot> = chains
        .iter()
        .enumerate()
        .flat_map(|(guest, c)| boots(c).into_iter().map(move |b| Boot { guest, ..b }))
        .collect();
    let step = |n: &str| boots.iter().find(|b| b.step == Some(n));
    let fresh = |a: &Boot, b: &Boot| match (a.id, b.id) {
        _ if a.guest != b.guest => Err(format!(
            "steps {:?} and {:?} ran in different guests",
            a.step, b.step
        )),
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
    // The boot after step 2's (step 3 since the boots without systemd came in).
    let after = |n: &str| {
        boots
            .iter()
            .position(|b| b.step == Some(n))
            .and_then(|i| boots.get(i + 1).filter(|b| b.guest == boots[i].guest))
            .ok_or_else(|| format!("no boot followed step {n}"))
    };
    let systemctl_kexec = need("2").and_then(|b2| {
        fresh(b2, after("2")?)?;
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
    let upgraded = need("7").and_then(|b3| {
        let b4 = need("8")?;
        fresh(b3, b4)?;
        let package = b3
            .marker("upgrade package=")
            .ok_or("step 7 installed no kernel package")?
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
    let lock = need("8").and_then(|b4| {
        let dir = b4.marker("lock-dir ").unwrap_or_default().trim();
        if dir != "700 root" {
            return Err(format!("/run/warmboot is {dir:?}, not \"700 root\""));
        }
        match b4.marker("lock-as-user ").map(str::trim) {
            Some("refused") => Ok(()),
            other => Err(format!("a user creating the lock file: {other:?}")),
        }
    });
    let capture = need("8").and_then(|b3| {
        let b4 = need("9")?;
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
    // Without systemd: warmboot's own shutdown (step 3) and kexec-tools' bare form (step
    // 4), each judged by the next boot: the file written just before is there, the root
    // filesystem was left clean (remounted read-only: no journal to replay), and the
    // reboot was a kexec.
    let clean_reboot = |from: &Boot, to: &Boot, how: &str| -> std::result::Result<(), String> {
        fresh(from, to)?;
        if !from.saw("kexec_core: Starting new kernel") || from.saw(RESTART) {
            return Err(format!("{how} was not a warm reboot"));
        }
        let (written, read) = (from.marker("nosd-write "), to.marker("nosd-read "));
        if written.is_none() || written != read {
            return Err(format!(
                "the file written before {how} held {written:?}, after it {read:?}"
            ));
        }
        // The kernel replays an ext4 journal left by an unclean shutdown when it mounts the
        // filesystem and says "recovery complete" (fs/ext4/super.c); an fsck in the initrd
        // (where there is one) says "recovering journal" instead.
        let fsck = to.marker("fsck ").unwrap_or_default();
        let ext4 = to.marker("ext4 ").unwrap_or_default();
        if !ext4.contains("EXT4-fs (vda): mounted filesystem") {
            return Err(format!(
                "no mount of the root filesystem after {how}: {ext4:?}"
            ));
        }
        if fsck.contains("recovering journal") || ext4.contains("recovery") {
            return Err(format!(
                "the root filesystem needed a journal replay after {how}: {fsck} {ext4}"
            ));
        }
        Ok(())
    };
    let no_systemd = need("3").and_then(|b3| {
        let b4 = need("4")?;
        for b in [b3, b4] {
            if b.marker("init ").map(str::trim) != Some("e2e-init") {
                return Err(format!(
                    "step {:?} ran under init {:?}, not e2e-init",
                    b.step,
                    b.marker("init ")
                ));
            }
        }
        if !b3.saw("no systemd: stop every process, remount read-only, sync") {
            return Err("`warmboot reboot` did not take its own clean shutdown".to_string());
        }
        clean_reboot(b3, b4, "`warmboot reboot`")
    });
    let bare_kexec = need("4").and_then(|b4| {
        let b5 = need("5")?;
        // kexec-tools' bare form boots the kernel and command line it was given, not the
        // default one warmboot reboot would refresh to (which still had init=).
        if b5.marker("cmdline ").unwrap_or_default().contains("init=") {
            return Err("`kexec KERNEL --append=...` booted another command line".to_string());
        }
        if b5.marker("init ").map(str::trim) != Some("systemd") {
            return Err(format!(
                "step 5 ran under {:?}, not systemd",
                b5.marker("init ")
            ));
        }
        if !b4.saw("no systemd: stop every process, remount read-only, sync") {
            return Err("`kexec KERNEL` did not shut down cleanly".to_string());
        }
        clean_reboot(b4, b5, "`kexec KERNEL`")
    });
    // Debian's kdump-tools, unchanged, with /sbin/kexec diverted to warmboot.
    let kdump_load = need("6").and_then(|b5| {
        let m = |k: &str| b5.marker(k).unwrap_or_default().trim().to_string();
        if m("kdump-before ") != "0" {
            return Err(format!(
                "the capture kernel was still loaded after warmboot-panic stopped: {}",
                m("kdump-before ")
            ));
        }
        if !m("kdump-load ").contains("loaded kdump kernel") || m("kdump-after-load ") != "1" {
            return Err(format!(
                "kdump-config load: {:?}, kexec_crash_loaded {}",
                m("kdump-load "),
                m("kdump-after-load ")
            ));
        }
        let record = m("kdump-record ");
        if !(record.contains("\"kernel\":\"/var/lib/kdump/vmlinuz\"")
            && record.contains("systemd.unit=kdump-tools-dump.service"))
        {
            return Err(format!(
                "warmboot has no record of kdump-tools' load: {record}"
            ));
        }
        if !m("kdump-status ").contains("current state   : ready to kdump") {
            return Err(format!("kdump-config status: {:?}", m("kdump-status ")));
        }
        if !m("kdump-unload ").contains("unloaded kdump kernel") || m("kdump-after-unload ") != "0"
        {
            return Err(format!(
                "kdump-config unload: {:?}, kexec_crash_loaded {}",
                m("kdump-unload "),
                m("kdump-after-unload ")
            ));
        }
        let service = m("kdump-service ");
        if service != "active warmboot-panic=inactive loaded=1" {
            return Err(format!("after starting kdump-tools.service: {service}"));
        }
        Ok(())
    });
    let kdump_capture = need("6").and_then(|b5| {
        let b6 = need("7")?;
        fresh(b5, b6)?;
        if !b5.saw("Kernel panic") {
            return Err("no panic after kdump-tools loaded".to_string());
        }
        if !b5.lines.iter().any(|l| {
            l.contains("Command line:") && l.contains("systemd.unit=kdump-tools-dump.service")
        }) {
            return Err("kdump-tools' capture kernel did not boot".to_string());
        }
        if !b5.saw("saved vmcore in /var/crash/") {
            return Err("kdump-tools did not say it saved the vmcore".to_string());
        }
        let dump = b6
            .marker("kdump-dump ")
            .ok_or("the first kernel found no /var/crash/*/dump.*")?;
        let size = dump
            .split_whitespace()
            .find_map(|w| w.strip_prefix("size="))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        // makedumpfile -F writes its flattened format, which starts with its name.
        if size == 0 || !dump.contains("head=makedumpfile") {
            return Err(format!("the dump is empty or not makedumpfile's: {dump}"));
        }
        match b6.marker("kdump-dmesg ").map(str::trim) {
            Some(n) if n.parse::<u32>().is_ok_and(|n| n > 0) => Ok(()),
            other => Err(format!(
                "the saved dmesg does not show the sysrq panic: {other:?}"
            )),
        }
    });
    // The second guest boots Debian's signed chain with Secure Boot enforced (issue 18):
    // warmboot reads Secure Boot from the EFI variables systemd mounted (efivarfs), the
    // kernel is locked down, and kdump-config (check_secure_boot: SecureBoot=1,
    // SetupMode=0) adds -s to its load and unload, which warmboot's kexec takes as
    // kexec_file_load of the signed kernel. Scenarios 10, 11, 5 and 7 ran there too.
    let secure_kdump = need("6").and_then(|b| {
        let status = b.marker("status ").unwrap_or_default();
        if !status.contains("\"secure_boot\":\"on\"") {
            return Err(format!(
                "warmboot status did not find Secure Boot on in the EFI variables: {status}"
            ));
        }
        if !["integrity", "confidentiality"]
            .iter()
            .any(|l| status.contains(&format!("\"lockdown\":\"{l}\"")))
        {
            return Err(format!("the kernel is not locked down: {status}"));
        }
        let argv = b.marker("kdump-argv ").unwrap_or_default();
        if !argv.starts_with("-p|-s|") {
            return Err(format!("kdump-config did not load with -s: {argv}"));
        }
        let record = b.marker("kdump-record ").unwrap_or_default();
        let crash_syscall = serde_json::from_str::<serde_json::Value>(record)
            .ok()
            .and_then(|v| v["crash_kernel"]["syscall"].as_str().map(str::to_string));
        if crash_syscall.as_deref() != Some("kexec_file_load") {
            return Err(format!(
                "the capture kernel was not loaded with kexec_file_load: {record}"
            ));
        }
        let lock = b.marker("kdump-unload-lock ").unwrap_or_default();
        if !lock.contains("kexec -s -p -u") {
            return Err(format!("kdump-config did not unload with -s: {lock}"));
        }
        Ok(())
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
        (
            "8 a reboot without systemd keeps a file written just before it",
            no_systemd,
        ),
        (
            "9 a bare `kexec KERNEL` loads it and reboots cleanly",
            bare_kexec,
        ),
        (
            "10 kdump-tools loads, shows and unloads through warmboot's kexec",
            kdump_load,
        ),
        (
            "11 kdump-tools' capture kernel saves a dump the first kernel finds",
            kdump_capture,
        ),
        (
            "12 under Secure Boot kdump-tools loads with -s (kexec_file_load)",
            secure_kdump,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines that matter of a real run (`cargo xtask e2e`, 2026-12-07, bookworm,
    /// 6.1.0-50-amd64 upgraded to 6.1.0-56-amd64 by dpkg -i, TCG): its markers and the
    /// kernel lines the verdict looks for. It ran before the boots without systemd and
    /// kdump-tools' were added: its steps 3, 4 and 5 are today's 6, 7 and 8
    /// ([`renumbered`]), and it is the evidence for scenarios 1 to 7.
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

    /// The lines that matter of a real run of steps 3 to 6 (2026-12-07, TCG, the tree of
    /// [`tree_name`] but for kdump-tools' `latest_sysctls`, so that `kdump-config load`
    /// made its initrd in the guest), the evidence for scenarios 8 to 11. It was started
    /// by hand from the e2e's QEMU command line at step 3 with `init=` appended and
    /// `-smp 2` (the host was loaded), and stopped during step 6's kernel upgrade; its
    /// firmware reboot after kdump-tools' capture kernel came back through `init=` too,
    /// which step 6's checks do not mind.
    const RUN_NO_SYSTEMD_KDUMP: &str = r##"@@E2E boot step=3 id=3b3fd031-a04b-45b7-9c4f-17e0b2e32cbd kernel=6.1.0-50-amd64
@@E2E cmdline root=/dev/vda rw console=ttyS0 crashkernel=256M init=/usr/local/sbin/e2e-init
@@E2E init e2e-init
@@E2E status {"crash_kernel":null,"crash_loaded":false,"crash_size":268435456,"crash_supported":true,"kexec_load_blocked_by_lockdown":null,"kexec_supported":true,"loaded":false,"loaded_kernel":null,"lockdown":null}
@@E2E nosd-read cat: /root/nosd: No such file or directory
@@E2E nosd-write b314f2229fd1d148f1f64a05ac217fe56e81173a73da445f84644be037648c2b
@@E2E nosd-load warmboot: default kernel: the /vmlinuz link (linux-base points it at the newest kernel): /vmlinuz with initrd /initrd.img
warm reboot into the loaded kernel (no systemd: stop every process, remount read-only, sync, then reboot(LINUX_REBOOT_CMD_KEXEC))
[   47.654527] kexec_core: Starting new kernel
[    0.000000] Command line: root=/dev/vda rw console=ttyS0 crashkernel=256M init=/usr/local/sbin/e2e-init
@@E2E boot step=4 id=f9764c96-c92c-415e-bd93-d982b2461255 kernel=6.1.0-50-amd64
@@E2E cmdline root=/dev/vda rw console=ttyS0 crashkernel=256M init=/usr/local/sbin/e2e-init
@@E2E init e2e-init
@@E2E status {"crash_kernel":null,"crash_loaded":false,"crash_size":268435456,"crash_supported":true,"kexec_load_blocked_by_lockdown":null,"kexec_supported":true,"loaded":false,"loaded_kernel":null,"lockdown":null}
@@E2E fsck 
@@E2E ext4 [   36.873105] EXT4-fs (vda): mounted filesystem with ordered data mode. Quota mode: none.|
@@E2E nosd-read b314f2229fd1d148f1f64a05ac217fe56e81173a73da445f84644be037648c2b
@@E2E nosd-write cb06d44553120d844d785bae5b4b564b16d07b09e3fc977967f6423275b1d483
warm reboot into the loaded kernel (no systemd: stop every process, remount read-only, sync, then reboot(LINUX_REBOOT_CMD_KEXEC))
[   61.206771] kexec_core: Starting new kernel
[    0.000000] Command line: root=/dev/vda rw console=ttyS0 crashkernel=256M
@@E2E boot step=5 id=a6f46168-a884-44f8-adaf-05c36d0dbf2c kernel=6.1.0-50-amd64
@@E2E cmdline root=/dev/vda rw console=ttyS0 crashkernel=256M
@@E2E init systemd
@@E2E status {"crash_kernel":{"chosen_by":"runningkernelfoundbyDebian/Ubuntunaming(/boot/vmlinuz-R,/boot/initrd.img-R)","cmdline":"root=/dev/vdarwconsole=ttyS0reset_devicesnr_cpus=1irqpollcgroup_disable=memoryudev.children-max=2panic=10","initrd":"/boot/initrd.img-6.1.0-50-amd64","initrd_sha256":"359304835372e1cf7ee4f7f8409274533ce4b22ac650505362ba1c60c3f72f2d","kernel":"/boot/vmlinuz-6.1.0-50-amd64","kernel_sha256":"d8808aa4ca188560da1e6d749dcb930c87a5fd8b11ebff1f3fa6d728af35203d","loaded_at":1796687429,"release":"6.1.0-50-amd64","syscall":"kexec_file_load"},"crash_loaded":true,"crash_size":268435456,"crash_supported":true,"kexec_load_blocked_by_lockdown":false,"kexec_supported":true,"loaded":true,"loaded_kernel":{"chosen_by":"defaultkernel:the/vmlinuzlink(linux-basepointsitatthenewestkernel)","cmdline":"root=/dev/vdarwconsole=ttyS0crashkernel=256M","initrd":"/initrd.img","initrd_sha256":"359304835372e1cf7ee4f7f8409274533ce4b22ac650505362ba1c60c3f72f2d","kernel":"/vmlinuz","kernel_sha256":"d8808aa4ca188560da1e6d749dcb930c87a5fd8b11ebff1f3fa6d728af35203d","loaded_at":1796687415,"release":"6.1.0-50-amd64","syscall":"kexec_load"},"lockdown":"none"}
@@E2E fsck 
@@E2E ext4 [   51.342400] EXT4-fs (vda): mounted filesystem with ordered data mode. Quota mode: none.|[   64.787558] EXT4-fs (vda): re-mounted. Quota mode: none.|
@@E2E nosd-read cb06d44553120d844d785bae5b4b564b16d07b09e3fc977967f6423275b1d483
@@E2E kdump-before 0
@@E2E kdump-load Creating symlink /var/lib/kdump/vmlinuz.|kdump-tools: Generating /var/lib/kdump/initrd.img-6.1.0-50-amd64|W: No zstd in /usr/bin:/sbin:/bin, using gzip|Creating symlink /var/lib/kdump/initrd.img.|loaded kdump kernel.|kdump-config couldn't set panic trigger (sysctl binary not available) ... (warning).|
@@E2E kdump-after-load 1
@@E2E kdump-record {"crash_kernel":{"chosen_by":null,"cmdline":"root=/dev/vdarwconsole=ttyS0reset_devicessystemd.unit=kdump-tools-dump.servicenr_cpus=1irqpollusbcore.nousb","initrd":"/var/lib/kdump/initrd.img","initrd_sha256":"71dae42e7761f50f1596ded02d4fb4021c77d8cb5f4ae7b80f1f2ec39840bbb8","kernel":"/var/lib/kdump/vmlinuz","kernel_sha256":"d8808aa4ca188560da1e6d749dcb930c87a5fd8b11ebff1f3fa6d728af35203d","loaded_at":1796687670,"release":"6.1.0-50-amd64","syscall":"kexec_file_load"},"crash_loaded":true,"crash_size":268435456,"crash_supported":true,"kexec_load_blocked_by_lockdown":false,"kexec_supported":true,"loaded":true,"loaded_kernel":{"chosen_by":"defaultkernel:the/vmlinuzlink(linux-basepointsitatthenewestkernel)","cmdline":"root=/dev/vdarwconsole=ttyS0crashkernel=256M","initrd":"/initrd.img","initrd_sha256":"359304835372e1cf7ee4f7f8409274533ce4b22ac650505362ba1c60c3f72f2d","kernel":"/vmlinuz","kernel_sha256":"d8808aa4ca188560da1e6d749dcb930c87a5fd8b11ebff1f3fa6d728af35203d","loaded_at":1796687415,"release":"6.1.0-50-amd64","syscall":"kexec_load"},"lockdown":"none"}
@@E2E kdump-cmd /sbin/kexec -p --command-line="root=/dev/vda rw console=ttyS0 reset_devices systemd.unit=kdump-tools-dump.service nr_cpus=1 irqpoll usbcore.nousb" --initrd=/var/lib/kdump/initrd.img /var/lib/kdump/vmlinuz
@@E2E kdump-argv -p|--command-line=root=/dev/vda rw console=ttyS0 reset_devices systemd.unit=kdump-tools-dump.service nr_cpus=1 irqpoll usbcore.nousb|--initrd=/var/lib/kdump/initrd.img|/var/lib/kdump/vmlinuz|
@@E2E kdump-status current state   : ready to kdump|
@@E2E kdump-unload unloaded kdump kernel.|
@@E2E kdump-after-unload 0
@@E2E kdump-unload-lock 2313 kexec -p -u 
@@E2E kdump-service active warmboot-panic=inactive loaded=1
@@E2E kdump-panic
[  404.091717] Kernel panic - not syncing: sysrq triggered crash
[    0.000000] Command line: elfcorehdr=0x2d000000 root=/dev/vda rw console=ttyS0 reset_devices systemd.unit=kdump-tools-dump.service nr_cpus=1 irqpoll usbcore.nousb
[  156.055748] kdump-tools[218]: kdump-tools: saved vmcore in /var/crash/202612072356.
[  157.349485] reboot: Restarting system
[    0.000000] Command line: root=/dev/vda rw console=ttyS0 crashkernel=256M init=/usr/local/sbin/e2e-init
@@E2E boot step=6 id=edf02c41-ff98-4f05-9610-015fab604fba kernel=6.1.0-50-amd64
@@E2E cmdline root=/dev/vda rw console=ttyS0 crashkernel=256M init=/usr/local/sbin/e2e-init
@@E2E init e2e-init
@@E2E status {"crash_kernel":null,"crash_loaded":false,"crash_size":268435456,"crash_supported":true,"kexec_load_blocked_by_lockdown":null,"kexec_supported":true,"loaded":false,"loaded_kernel":null,"lockdown":null}
@@E2E kdump-dump /var/crash/202612072356/dump.202612072356 size=77502668 head=makedumpfile
@@E2E kdump-dmesg 1
@@E2E upgrade package=linux-image-6.1.0-56-amd64"##;

    fn verdicts_of(logs: &[&str]) -> Vec<(&'static str, std::result::Result<(), String>)> {
        let lines: Vec<Vec<&str>> = logs.iter().map(|l| l.lines().collect()).collect();
        let chains: Vec<&[&str]> = lines.iter().map(Vec::as_slice).collect();
        judge(&chains)
    }

    fn verdicts(log: &str) -> Vec<(&'static str, std::result::Result<(), String>)> {
        verdicts_of(&[log])
    }

    /// [`RUN`] (one guest, from before issue 17's steps) with today's step numbers.
    fn renumbered(log: &str) -> String {
        log.replace("@@E2E boot step=5", "@@E2E boot step=9")
            .replace("@@E2E boot step=4", "@@E2E boot step=8")
            .replace("@@E2E boot step=3", "@@E2E boot step=7")
    }

    /// [`RUN_NO_SYSTEMD_KDUMP`] (one guest walked steps 3 to 6) as today's two guests
    /// print it: the first ends at step 5 (its marks), the second starts at step 6 (then
    /// kdump-tools' part, which the old step 5 held too) and goes on to step 7.
    fn two_guests(log: &str) -> Vec<(&'static str, std::result::Result<(), String>)> {
        let five = log.find("@@E2E boot step=5").expect("step 5");
        let six = log.find("@@E2E boot step=6").expect("step 6");
        let first = &log[..six];
        let second = log[five..]
            .replace("@@E2E boot step=6", "@@E2E boot step=7")
            .replacen("@@E2E boot step=5", "@@E2E boot step=6", 1);
        verdicts_of(&[first, &second])
    }

    #[test]
    fn the_cached_tree_is_named_after_what_makes_it() {
        // The tree CI builds today (its directory under ~/.cache/warmboot/e2e).
        assert_eq!(tree_name(), "bookworm-b93a5b98daa6");
        let name =
            |include: &[&str], apt: &[&str], recipe| tree_name_of("bookworm", include, apt, recipe);
        let base = name(&["systemd"], &["kdump-tools"], 1);
        assert_ne!(base, name(&["systemd", "kmod"], &["kdump-tools"], 1));
        assert_ne!(base, name(&["systemd"], &["kdump-tools", "crash"], 1));
        assert_ne!(base, name(&["systemd"], &["kdump-tools"], 2));
        assert_eq!(base, name(&["systemd"], &["kdump-tools"], 1));
    }

    /// The second guest's step 6 under Secure Boot, as `cargo xtask e2e` printed it on
    /// 2026-12-08 (OVMF enforcing Secure Boot, shim → GRUB → 6.1.0-50-amd64, TCG): its
    /// markers only (scenario 12 reads nothing else).
    const RUN_SECURE_KDUMP: &str = r##"@@E2E boot step=6 id=76e5f994-813f-4eb0-b03e-4528cc08dac5 kernel=6.1.0-50-amd64
@@E2E cmdline BOOT_IMAGE=/vmlinuz root=/dev/vda rw console=ttyS0 crashkernel=256M
@@E2E init systemd
@@E2E status {"crash_kernel":{"chosen_by":"runningkernelfoundbyDebian/Ubuntunaming(/boot/vmlinuz-R,/boot/initrd.img-R)","cmdline":"root=/dev/vdarwconsole=ttyS0reset_devicesnr_cpus=1irqpollcgroup_disable=memoryudev.children-max=2panic=10","initrd":"/boot/initrd.img-6.1.0-50-amd64","initrd_sha256":"d0f9b5be3682deb96ac6d5b7b75384637c9aa02ea42ef04919f9003008181226","kernel":"/boot/vmlinuz-6.1.0-50-amd64","kernel_sha256":"d8808aa4ca188560da1e6d749dcb930c87a5fd8b11ebff1f3fa6d728af35203d","loaded_at":1796701756,"release":"6.1.0-50-amd64","syscall":"kexec_file_load"},"crash_loaded":true,"crash_size":268435456,"crash_supported":true,"ima":{"appraises_initrd":null,"appraises_kernel":null},"kexec_load_blocked_by_lockdown":true,"kexec_load_disabled":false,"kexec_supported":true,"loaded":true,"loaded_kernel":{"chosen_by":"defaultkernel:the/vmlinuzlink(linux-basepointsitatthenewestkernel)","cmdline":"root=/dev/vdarwconsole=ttyS0crashkernel=256M","initrd":"/initrd.img","initrd_sha256":"d0f9b5be3682deb96ac6d5b7b75384637c9aa02ea42ef04919f9003008181226","kernel":"/vmlinuz","kernel_sha256":"d8808aa4ca188560da1e6d749dcb930c87a5fd8b11ebff1f3fa6d728af35203d","loaded_at":1796701721,"release":"6.1.0-50-amd64","syscall":"kexec_file_load"},"loadpin":null,"lockdown":"integrity","lockdown_expected":true,"secure_boot":"on"}
@@E2E kdump-before 0
@@E2E kdump-load Creating symlink /var/lib/kdump/vmlinuz.|Creating symlink /var/lib/kdump/initrd.img.|loaded kdump kernel.|kdump-config couldn't set panic trigger (sysctl binary not available) ... (warning).|
@@E2E kdump-after-load 1
@@E2E kdump-record {"crash_kernel":{"chosen_by":null,"cmdline":"BOOT_IMAGE=/vmlinuzroot=/dev/vdarwconsole=ttyS0reset_devicessystemd.unit=kdump-tools-dump.servicenr_cpus=1irqpollusbcore.nousb","initrd":"/var/lib/kdump/initrd.img","initrd_sha256":"745da70b791263b9a5771fb6bb5a72358346a67003546023269d9f4c491895ca","kernel":"/var/lib/kdump/vmlinuz","kernel_sha256":"d8808aa4ca188560da1e6d749dcb930c87a5fd8b11ebff1f3fa6d728af35203d","loaded_at":1796701796,"release":"6.1.0-50-amd64","syscall":"kexec_file_load"},"crash_loaded":true,"crash_size":268435456,"crash_supported":true,"ima":{"appraises_initrd":null,"appraises_kernel":null},"kexec_load_blocked_by_lockdown":true,"kexec_load_disabled":false,"kexec_supported":true,"loaded":true,"loaded_kernel":{"chosen_by":"defaultkernel:the/vmlinuzlink(linux-basepointsitatthenewestkernel)","cmdline":"root=/dev/vdarwconsole=ttyS0crashkernel=256M","initrd":"/initrd.img","initrd_sha256":"d0f9b5be3682deb96ac6d5b7b75384637c9aa02ea42ef04919f9003008181226","kernel":"/vmlinuz","kernel_sha256":"d8808aa4ca188560da1e6d749dcb930c87a5fd8b11ebff1f3fa6d728af35203d","loaded_at":1796701721,"release":"6.1.0-50-amd64","syscall":"kexec_file_load"},"loadpin":null,"lockdown":"integrity","lockdown_expected":true,"secure_boot":"on"}
@@E2E kdump-cmd /sbin/kexec -p -s --command-line="BOOT_IMAGE=/vmlinuz root=/dev/vda rw console=ttyS0 reset_devices systemd.unit=kdump-tools-dump.service nr_cpus=1 irqpoll usbcore.nousb" --initrd=/var/lib/kdump/initrd.img /var/lib/kdump/vmlinuz
@@E2E kdump-argv -p|-s|--command-line=BOOT_IMAGE=/vmlinuz root=/dev/vda rw console=ttyS0 reset_devices systemd.unit=kdump-tools-dump.service nr_cpus=1 irqpoll usbcore.nousb|--initrd=/var/lib/kdump/initrd.img|/var/lib/kdump/vmlinuz|
@@E2E kdump-status current state   : ready to kdump|
@@E2E kdump-unload unloaded kdump kernel.|
@@E2E kdump-after-unload 0
@@E2E kdump-unload-lock 447 kexec -s -p -u 
@@E2E kdump-service active warmboot-panic=inactive loaded=1
@@E2E kdump-panic"##;

    #[test]
    fn the_real_secure_boot_run_passes_scenario_12_and_fails_on_its_own_evidence() {
        let v = |log: &str| verdicts(log)[11].1.clone();
        assert_eq!(v(RUN_SECURE_KDUMP), Ok(()));
        let broken = |from: &str, to: &str, why: &str| {
            assert!(RUN_SECURE_KDUMP.contains(from), "{from}");
            let e = v(&RUN_SECURE_KDUMP.replace(from, to))
                .expect_err(&format!("{from} -> {to} still passes"));
            assert!(e.contains(why), "{e}");
        };
        broken(
            "\"secure_boot\":\"on\"",
            "\"secure_boot\":\"off\"",
            "did not find Secure Boot on",
        );
        broken(
            "\"lockdown\":\"integrity\"",
            "\"lockdown\":\"none\"",
            "not locked down",
        );
        broken(
            "kdump-argv -p|-s|",
            "kdump-argv -p|",
            "did not load with -s",
        );
        broken("kexec -s -p -u", "kexec -p -u", "did not unload with -s");
        broken(
            "\"syscall\":\"kexec_file_load\"},\"crash_loaded\"",
            "\"syscall\":\"kexec_load\"},\"crash_loaded\"",
            "not loaded with kexec_file_load",
        );
    }

    #[test]
    fn kdump_tools_without_secure_boot_is_not_the_secure_boot_scenario() {
        // RUN_NO_SYSTEMD_KDUMP's guest booted without Secure Boot: kdump-config loaded
        // without -s, and warmboot found no lockdown.
        let v = two_guests(RUN_NO_SYSTEMD_KDUMP);
        let e = v[11].1.clone().unwrap_err();
        assert!(e.contains("did not find Secure Boot on"), "{e}");
    }

    #[test]
    fn a_step_is_followed_only_by_a_boot_of_the_same_guest() {
        // The first guest stopped after step 2: the second guest's first boot is not the
        // boot after it.
        let first = RUN.split("@@E2E boot step=3").next().unwrap_or_default();
        let v = two_guests_after(first, RUN_NO_SYSTEMD_KDUMP);
        assert_eq!(v[3].1, Err("no boot followed step 2".to_string()));
        // And two steps from different guests are not one reboot.
        let second = RUN_NO_SYSTEMD_KDUMP.replace("@@E2E boot step=4", "@@E2E boot step=40");
        let a = RUN_NO_SYSTEMD_KDUMP
            .split("@@E2E boot step=4")
            .next()
            .unwrap_or_default();
        let b = second
            .split("@@E2E boot step=40")
            .nth(1)
            .map(|r| format!("@@E2E boot step=4{r}"));
        let v = verdicts_of(&[a, &b.unwrap_or_default()]);
        let e = v[7].1.clone().unwrap_err();
        assert!(e.contains("ran in different guests"), "{e}");
    }

    /// `first`, then `second` as the other guest's log.
    fn two_guests_after<'a>(
        first: &'a str,
        second: &'a str,
    ) -> Vec<(&'static str, std::result::Result<(), String>)> {
        verdicts_of(&[first, second])
    }

    #[test]
    fn the_real_runs_pass_every_scenario() {
        for (name, v) in verdicts(&renumbered(RUN)).into_iter().take(7) {
            assert_eq!(v, Ok(()), "{name}");
        }
        for (name, v) in two_guests(RUN_NO_SYSTEMD_KDUMP).into_iter().skip(7).take(4) {
            assert_eq!(v, Ok(()), "{name}");
        }
    }

    #[test]
    fn the_scenarios_without_systemd_and_of_kdump_tools_fail_on_their_own_evidence() {
        let broken = |from: &str, to: &str, scenario: usize, why: &str| {
            assert!(RUN_NO_SYSTEMD_KDUMP.contains(from), "{from}");
            let log = RUN_NO_SYSTEMD_KDUMP.replacen(from, to, 1);
            let v = two_guests(&log);
            let e = v[scenario].1.clone().unwrap_err();
            assert!(e.contains(why), "{}: {e}", v[scenario].0);
        };
        // 8: `warmboot reboot` without systemd.
        broken(
            "@@E2E init e2e-init",
            "@@E2E init systemd",
            7,
            "not e2e-init",
        );
        broken(
            "nosd-read b314f2",
            "nosd-read 0314f2",
            7,
            "the file written before",
        );
        broken(
            "warm reboot into the loaded kernel (no systemd: stop every process, remount read-only, sync,",
            "warm reboot into the loaded kernel at once (--force: sync,",
            7,
            "did not take its own clean shutdown",
        );
        broken(
            "[   36.873105] EXT4-fs (vda): mounted",
            "[   36.873105] EXT4-fs (vda): recovery complete|EXT4-fs (vda): mounted",
            7,
            "needed a journal replay",
        );
        broken(
            "[   36.873105] EXT4-fs (vda): mounted",
            "[   36.873105] EXT4-fs (vda): mount failed",
            7,
            "no mount of the root filesystem",
        );
        broken(
            "[   47.654527] kexec_core: Starting new kernel",
            "[   47.654527] reboot: Restarting system",
            7,
            "was not a warm reboot",
        );
        // 9: the bare `kexec KERNEL`.
        broken(
            "@@E2E cmdline root=/dev/vda rw console=ttyS0 crashkernel=256M\n",
            "@@E2E cmdline root=/dev/vda rw console=ttyS0 crashkernel=256M init=/usr/local/sbin/e2e-init\n",
            8,
            "booted another command line",
        );
        broken(
            "nosd-read cb06d4",
            "nosd-read 0b06d4",
            8,
            "the file written before",
        );
        broken(
            "[   51.342400] EXT4-fs (vda): mounted",
            "[   51.342400] EXT4-fs (vda): recovery complete|EXT4-fs (vda): mounted",
            8,
            "needed a journal replay",
        );
        // 10: kdump-tools loading, showing and unloading through warmboot.
        broken("kdump-before 0", "kdump-before 1", 9, "still loaded");
        broken(
            "kdump-after-load 1",
            "kdump-after-load 0",
            9,
            "kdump-config load",
        );
        broken(
            "\"kernel\":\"/var/lib/kdump/vmlinuz\"",
            "\"kernel\":\"/boot/vmlinuz\"",
            9,
            "no record of kdump-tools' load",
        );
        broken(
            "ready to kdump",
            "Not ready to kdump",
            9,
            "kdump-config status",
        );
        broken(
            "kdump-after-unload 0",
            "kdump-after-unload 1",
            9,
            "kdump-config unload",
        );
        broken(
            "warmboot-panic=inactive",
            "warmboot-panic=active",
            9,
            "after starting kdump-tools.service",
        );
        // 11: kdump-tools' capture kernel and the dump it saved.
        broken(
            "saved vmcore in /var/crash/",
            "failed to save vmcore in /var/crash/",
            10,
            "did not say it saved",
        );
        broken("head=makedumpfile", "head=", 10, "not makedumpfile's");
        broken(" size=", " size=0 was=", 10, "empty");
        broken(
            "kdump-dmesg 1",
            "kdump-dmesg 0",
            10,
            "does not show the sysrq panic",
        );
        broken("kdump-dump ", "kdump-nodump ", 10, "found no /var/crash");
    }

    #[test]
    fn each_scenario_fails_on_its_own_evidence() {
        let broken = |from: &str, to: &str, scenario: usize, why: &str| {
            assert!(RUN.contains(from), "{from}");
            let log = renumbered(&RUN.replacen(from, to, 1));
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
        let v = verdicts(&renumbered(
            RUN.split("@@E2E boot step=5").next().unwrap_or_default(),
        ));
        assert_eq!(v[6].1, Err("no boot reached step 9".to_string()));
    }
}
