//! `warmboot load --current`: the running kernel found in each distribution's boot layout,
//! on root trees built at test time (the x86_64 QEMU fixture machine plus synthetic kernels
//! under real file names), planned with `--dry-run --root`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use warmboot::synth::{uki::UkiBuilder, x86::BzImageBuilder};

/// The fixture machine's release (its proc/sys/kernel/osrelease).
const R: &str = "6.1.0-56-amd64";

fn machine() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/machines/x86_64-bios-m1024")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// A root tree: the fixture machine plus `files` (path under the root, content).
fn tree(files: &[(&str, Vec<u8>)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&machine(), dir.path());
    for (rel, data) in files {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
    dir
}

fn kernel(version: &str) -> Vec<u8> {
    BzImageBuilder::new()
        .version(Some(&format!(
            "{version} (debian-kernel@lists.debian.org) #1 SMP"
        )))
        .build()
}

fn initrd() -> Vec<u8> {
    warmboot::synth::initrd::newc(&[("init", b"#!/bin/sh\n".as_slice())])
}

fn warmboot(root: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "load",
        "--current",
        "--dry-run",
        "--json",
        "--arch",
        "x86_64",
        "--root",
        root.to_str().unwrap(),
    ];
    args.extend(extra);
    Command::new(env!("CARGO_BIN_EXE_warmboot"))
        .env("WARMBOOT_NO_REAL_SYSCALLS", "1")
        .args(&args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `load --current` on `root` and returns (the "found by" line, the plan's JSON).
fn found(root: &Path, extra: &[&str]) -> (String, serde_json::Value) {
    let out = warmboot(root, extra);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    let plan = serde_json::from_slice(&out.stdout).unwrap();
    // Paths relative to the root, so the assertions read like the machine's own.
    (err.replace(root.to_str().unwrap(), ""), plan)
}

fn segments(plan: &serde_json::Value) -> Vec<String> {
    plan["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["what"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn debian_names() {
    let root = tree(&[
        (&format!("boot/vmlinuz-{R}"), kernel(R)),
        (&format!("boot/initrd.img-{R}"), initrd()),
        // An older kernel beside it is not the running one.
        ("boot/vmlinuz-6.1.0-55-amd64", kernel("6.1.0-55-amd64")),
        ("boot/initrd.img-6.1.0-55-amd64", initrd()),
    ]);
    let (line, plan) = found(root.path(), &[]);
    assert_eq!(
        line,
        format!("warmboot: running kernel found by Debian/Ubuntu naming (/boot/vmlinuz-R, /boot/initrd.img-R): /boot/vmlinuz-{R} with initrd /boot/initrd.img-{R}\n")
    );
    assert!(segments(&plan).contains(&"initrd".to_string()), "{plan}");
    // The fixture's command line, loader words dropped, crashkernel= kept for a normal
    // reboot.
    assert_eq!(
        plan["cmdline"],
        "console=ttyS0 quiet panic=1 labmode=fixtures crashkernel=256M"
    );
}

#[test]
fn fedora_names() {
    let root = tree(&[
        (&format!("boot/vmlinuz-{R}"), kernel(R)),
        (&format!("boot/initramfs-{R}.img"), initrd()),
    ]);
    let (line, _) = found(root.path(), &[]);
    assert!(
        line.contains(&format!(
            "Fedora/RHEL naming (/boot/vmlinuz-R, /boot/initramfs-R.img): /boot/vmlinuz-{R} with initrd /boot/initramfs-{R}.img"
        )),
        "{line}"
    );
}

#[test]
fn boot_loader_spec_entry_in_the_esp() {
    let entry = format!(
        "title Debian GNU/Linux 12\nversion {R}\nmachine-id 0123456789abcdef\nlinux /0123456789abcdef/{R}/linux\ninitrd /0123456789abcdef/{R}/initrd\noptions root=/dev/vda1 ro\n"
    );
    let other = "title Old\nversion 6.1.0-55-amd64\nlinux /0123456789abcdef/6.1.0-55-amd64/linux\n";
    let root = tree(&[
        (
            "efi/loader/entries/0123456789abcdef-6.1.0-55-amd64.conf",
            other.as_bytes().to_vec(),
        ),
        (
            &format!("efi/loader/entries/0123456789abcdef-{R}.conf"),
            entry.into_bytes(),
        ),
        (&format!("efi/0123456789abcdef/{R}/linux"), kernel(R)),
        (&format!("efi/0123456789abcdef/{R}/initrd"), initrd()),
        (
            "efi/0123456789abcdef/6.1.0-55-amd64/linux",
            kernel("6.1.0-55-amd64"),
        ),
    ]);
    let (line, _) = found(root.path(), &[]);
    assert!(
        line.contains(&format!(
            "Boot Loader Spec entry /efi/loader/entries/0123456789abcdef-{R}.conf: /efi/0123456789abcdef/{R}/linux with initrd /efi/0123456789abcdef/{R}/initrd"
        )),
        "{line}"
    );
}

#[test]
fn boot_loader_spec_entry_on_the_root_file_system() {
    // Fedora with /boot on the root file system: GRUB's entries name /boot/... paths.
    let entry = format!(
        "title Fedora Linux\nversion {R}\nlinux /boot/vmlinuz-{R}\ninitrd /boot/initramfs-{R}.img\noptions root=/dev/vda2 ro\n"
    );
    let root = tree(&[
        (
            &format!("boot/loader/entries/abc-{R}.conf"),
            entry.into_bytes(),
        ),
        (&format!("boot/vmlinuz-{R}"), kernel(R)),
        (&format!("boot/initramfs-{R}.img"), initrd()),
    ]);
    let (line, _) = found(root.path(), &[]);
    assert!(
        line.contains(&format!(
            "Boot Loader Spec entry /boot/loader/entries/abc-{R}.conf: /boot/vmlinuz-{R} with initrd /boot/initramfs-{R}.img"
        )),
        "{line}"
    );
}

#[test]
fn arch_names_checked_by_the_image_version() {
    let root = tree(&[
        // linux-lts is another release; only the image's version tells.
        ("boot/vmlinuz-linux", kernel("6.6.1-arch1-1")),
        ("boot/initramfs-linux.img", initrd()),
        ("boot/vmlinuz-linux-lts", kernel(R)),
        ("boot/initramfs-linux-lts.img", initrd()),
    ]);
    let (line, _) = found(root.path(), &[]);
    assert!(
        line.contains(
            "Arch naming (/boot/vmlinuz-linux, version checked in the image): /boot/vmlinuz-linux-lts with initrd /boot/initramfs-linux-lts.img"
        ),
        "{line}"
    );
}

#[test]
fn uki_in_the_esp_matched_by_uname() {
    let uki = |uname: &str| {
        let mut b = UkiBuilder::new(0x8664, kernel(uname));
        b.uname = Some(format!("{uname}\n"));
        b.initrd = Some(initrd());
        b.build()
    };
    let root = tree(&[
        (
            "boot/efi/EFI/Linux/debian-6.1.0-55-amd64.efi",
            uki("6.1.0-55-amd64"),
        ),
        (&format!("boot/efi/EFI/Linux/debian-{R}.efi"), uki(R)),
    ]);
    // Found, and loaded as its .linux and .initrd sections.
    let (line, plan) = found(root.path(), &[]);
    assert_eq!(
        line.trim_end(),
        format!("warmboot: running kernel found by unified kernel image in the ESP (.uname matches): /boot/efi/EFI/Linux/debian-{R}.efi")
    );
    let used: Vec<&str> = plan["uki_sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(used, [".uname", ".initrd", ".linux"], "{plan:#}");
    assert!(segments(&plan).contains(&"initrd".to_string()), "{plan:#}");
}

#[test]
fn boot_image_wins_over_names() {
    let root = tree(&[
        (&format!("boot/vmlinuz-{R}"), kernel(R)),
        (&format!("opt/k/vmlinuz-{R}"), kernel(R)),
        (&format!("opt/k/initrd.img-{R}"), initrd()),
    ]);
    std::fs::write(
        root.path().join("proc/cmdline"),
        format!("BOOT_IMAGE=/opt/k/vmlinuz-{R} root=/dev/vda1 ro\n"),
    )
    .unwrap();
    let (line, plan) = found(root.path(), &[]);
    assert!(
        line.contains(&format!(
            "BOOT_IMAGE= of the running command line: /opt/k/vmlinuz-{R} with initrd /opt/k/initrd.img-{R}"
        )),
        "{line}"
    );
    assert_eq!(plan["cmdline"], "root=/dev/vda1 ro");
}

#[test]
fn panic_gets_a_capture_command_line() {
    let root = tree(&[
        (&format!("boot/vmlinuz-{R}"), kernel(R)),
        (&format!("boot/initrd.img-{R}"), initrd()),
    ]);
    let (_, plan) = found(root.path(), &["--panic"]);
    assert_eq!(plan["mode"], "panic");
    // crashkernel= and panic=1 dropped, kdump's arguments added; the x86 plan then adds
    // the elfcorehdr= of its ELF core header.
    let cmdline = plan["cmdline"].as_str().unwrap();
    assert!(
        cmdline.starts_with(
            "console=ttyS0 quiet labmode=fixtures reset_devices nr_cpus=1 irqpoll cgroup_disable=memory udev.children-max=2 panic=10 elfcorehdr=0x"
        ),
        "{cmdline}"
    );
    // An explicit --append wins.
    let (_, plan) = found(root.path(), &["--panic", "--append", "console=ttyS0 x"]);
    assert!(
        plan["cmdline"]
            .as_str()
            .unwrap()
            .starts_with("console=ttyS0 x elfcorehdr=0x"),
        "{plan}"
    );
}

#[test]
fn panic_load_that_cannot_fit_says_how_much_it_needs() {
    // A kernel asking for 300 MiB (init_size) cannot fit the fixture's crashkernel=256M.
    let big = BzImageBuilder::new()
        .version(Some(&format!("{R} (x) #1")))
        .init_size(300 << 20)
        .build();
    let root = tree(&[(&format!("boot/vmlinuz-{R}"), big)]);
    let out = warmboot(root.path(), &["--panic"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let last = err.lines().last().unwrap();
    // The error names the kernel it is about.
    let kernel = root.path().join(format!("boot/vmlinuz-{R}"));
    assert!(
        last.starts_with(&format!(
            "warmboot: {}: the capture kernel needs 301 MiB but crashkernel= reserved 256 MiB",
            kernel.display()
        )),
        "{err}"
    );
}

#[test]
fn nothing_found_is_one_clear_line() {
    let root = tree(&[("boot/vmlinuz-6.1.0-55-amd64", kernel("6.1.0-55-amd64"))]);
    let out = warmboot(root.path(), &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("cannot find the running kernel {R} under")),
        "{err}"
    );
    // --current and a kernel file exclude each other (usage error).
    let out = Command::new(env!("CARGO_BIN_EXE_warmboot"))
        .env("WARMBOOT_NO_REAL_SYSCALLS", "1")
        .args(["load", "--current", "/boot/vmlinuz"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// `load --default`: after an upgrade GRUB's default entry is the new kernel, and its
/// command line comes with it.
#[test]
fn default_is_grubs_entry_after_an_upgrade() {
    let new = "6.12.57+deb13-amd64";
    let grub_cfg = format!(
        "set default=\"0\"\n\
         menuentry 'Debian GNU/Linux' $menuentry_id_option 'gnulinux-simple-1' {{\n\
         \tlinux\t/boot/vmlinuz-{new} root=UUID=1 ro quiet\n\
         \tinitrd\t/boot/initrd.img-{new}\n}}\n"
    );
    let root = tree(&[
        (&format!("boot/vmlinuz-{R}"), kernel(R)),
        (&format!("boot/initrd.img-{R}"), initrd()),
        (&format!("boot/vmlinuz-{new}"), kernel(new)),
        (&format!("boot/initrd.img-{new}"), initrd()),
        ("boot/grub/grub.cfg", grub_cfg.into_bytes()),
    ]);
    let out = Command::new(env!("CARGO_BIN_EXE_warmboot"))
        .env("WARMBOOT_NO_REAL_SYSCALLS", "1")
        .args([
            "load",
            "--default",
            "--dry-run",
            "--json",
            "--arch",
            "x86_64",
            "--root",
        ])
        .arg(root.path())
        .output()
        .unwrap();
    let err = text(&out.stderr).replace(root.path().to_str().unwrap(), "");
    assert!(out.status.success(), "{err}");
    assert!(
        err.starts_with(&format!(
            "warmboot: default kernel: GRUB's default entry 'Debian GNU/Linux' (/boot/grub/grub.cfg): /boot/vmlinuz-{new} with initrd /boot/initrd.img-{new}"
        )),
        "{err}"
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["cmdline"], "root=UUID=1 ro quiet", "{plan}");
    // --default and a kernel file do not go together.
    let out = Command::new(env!("CARGO_BIN_EXE_warmboot"))
        .env("WARMBOOT_NO_REAL_SYSCALLS", "1")
        .args(["load", "--default", "/boot/vmlinuz", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

/// `load --default` where systemd-boot's default is a UKI in the ESP
/// (LoaderEntryDefault): the UKI is loaded as its sections, with its .cmdline.
#[test]
fn load_default_takes_systemd_boots_uki_default_with_its_cmdline() {
    let guid = "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f";
    let efivar = |text: &str| {
        let mut v = 6u32.to_le_bytes().to_vec();
        for u in text.encode_utf16().chain([0]) {
            v.extend_from_slice(&u.to_le_bytes());
        }
        v
    };
    let uki = |release: &str| {
        let mut b = UkiBuilder::new(0x8664, kernel(release));
        b.uname = Some(release.to_string());
        b.osrel = Some("ID=debian\nVERSION_ID=13\n".to_string());
        b.cmdline = Some(format!("console=ttyS0 root=/dev/vda1 uki={release}"));
        b.initrd = Some(initrd());
        b.build()
    };
    let root = tree(&[
        (
            &format!("sys/firmware/efi/efivars/LoaderInfo-{guid}"),
            efivar("systemd-boot 257"),
        ),
        (
            &format!("sys/firmware/efi/efivars/LoaderEntryDefault-{guid}"),
            efivar("debian-6.1.0-55-amd64.efi"),
        ),
        (
            "efi/EFI/Linux/debian-6.1.0-55-amd64.efi",
            uki("6.1.0-55-amd64"),
        ),
        (&format!("efi/EFI/Linux/debian-{R}.efi"), uki(R)),
    ]);
    let out = Command::new(env!("CARGO_BIN_EXE_warmboot"))
        .env("WARMBOOT_NO_REAL_SYSCALLS", "1")
        .args([
            "load",
            "--default",
            "--dry-run",
            "--json",
            "--arch",
            "x86_64",
        ])
        .args(["--syscall", "file", "--root", root.path().to_str().unwrap()])
        .output()
        .unwrap();
    let err = text(&out.stderr).replace(root.path().to_str().unwrap(), "");
    assert!(out.status.success(), "{err}");
    assert_eq!(
        err.trim_end(),
        "warmboot: default kernel: systemd-boot's LoaderEntryDefault EFI variable (set by bootctl set-default): debian-6.1.0-55-amd64.efi (a unified kernel image, 6.1.0-55-amd64): /efi/EFI/Linux/debian-6.1.0-55-amd64.efi"
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        plan["cmdline"],
        "console=ttyS0 root=/dev/vda1 uki=6.1.0-55-amd64"
    );
    let linux = plan["uki_sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == ".linux")
        .cloned()
        .unwrap();
    assert_eq!(
        linux["use"],
        "the kernel (x86 bzImage), handed to kexec_file_load in a sealed memfd"
    );
}
