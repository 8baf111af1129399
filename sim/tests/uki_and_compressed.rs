//! Unified kernel images and compressed arm64 kernels loaded through the whole command
//! line against the simulator, whose kexec_file_load probes the kernel file as the
//! kernel's own loaders do (x86 bzImage64_probe, arm64 image_probe) and keeps the bytes it
//! was handed: a UKI's `.linux` and `.initrd` and an Image.gz or zboot decompressed must
//! arrive, `.cmdline` must be the command line unless one is given, and kexec_load must
//! plan the kernel inside.

mod common;

use common::cli::{assert_one_line_failure, kernel_bytes, run, Machine};
use std::path::PathBuf;
use warmboot::arch::Arch;
use warmboot::compression::Compression;
use warmboot::image::pe::{MACHINE_ARM64, MACHINE_RISCV64, MACHINE_X86_64};
use warmboot::memmap::Mode;
use warmboot::synth::arm64::{gzip, zboot};
use warmboot::synth::initrd::newc;
use warmboot::synth::uki::UkiBuilder;
use warmboot_sim::{Sim, Source};

const UKI_CMDLINE: &str = "console=ttyS0 root=/dev/vda1 from-the-uki";

/// A UKI for `m`'s architecture around `linux`, with a command line, os-release, uname
/// and (if `initrd`) an initrd.
fn uki(m: &Machine, linux: Vec<u8>, initrd: Option<Vec<u8>>) -> Vec<u8> {
    let machine = match m.arch {
        Arch::X86_64 => MACHINE_X86_64,
        Arch::Arm64 => MACHINE_ARM64,
        Arch::Riscv64 => MACHINE_RISCV64,
    };
    let mut b = UkiBuilder::new(machine, linux);
    b.cmdline = Some(format!("{UKI_CMDLINE}\n\0"));
    b.osrel = Some("PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nID=debian\n".to_string());
    b.uname = Some("6.12.0-uki\n".to_string());
    b.initrd = initrd;
    b.build()
}

fn embedded_initrd() -> Vec<u8> {
    newc(&[("init", b"#!/bin/sh\necho from the uki\n")])
}

/// `load FILE --arch A --root R` plus `extra` (no command line of its own).
fn load_args(m: &Machine, file: &std::path::Path, extra: &[&str]) -> Vec<String> {
    let mut a = m.load_args(file);
    a.truncate(a.len() - 2);
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

/// What the simulated kernel holds from a kexec_file_load: (kernel, initrd, cmdline).
fn file_load(sim: &Sim) -> (Vec<u8>, Option<Vec<u8>>, String) {
    match &sim.image(Mode::Normal).expect("a kernel is loaded").source {
        Source::File {
            kernel,
            initrd,
            cmdline,
            ..
        } => (kernel.clone(), initrd.clone(), cmdline.clone()),
        other => panic!("loaded with kexec_load: {other:?}"),
    }
}

#[test]
fn a_uki_loads_through_kexec_file_load_as_its_linux_initrd_and_cmdline_sections() {
    let m = Machine::x86();
    let linux = kernel_bytes(Arch::X86_64, "uki");
    let file = m.file(
        "linux.efi",
        &uki(&m, linux.clone(), Some(embedded_initrd())),
    );
    let mut sim = m.sim();
    let r = run(&mut sim, &load_args(&m, &file, &["--syscall", "file"]));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out.contains("with kexec_file_load (requested with --syscall file; the kernel is the unified kernel image's .linux section)"),
        "{r:?}"
    );
    let (kernel, initrd, cmdline) = file_load(&sim);
    assert_eq!(
        kernel, linux,
        "the kernel's loader gets .linux, not the UKI"
    );
    assert_eq!(initrd, Some(embedded_initrd()));
    assert_eq!(cmdline, UKI_CMDLINE);

    // --append replaces .cmdline; --initrd goes after .initrd (padded to 4 bytes).
    let extra = newc(&[("etc/extra", b"given\n")]);
    let given = m.file("extra.img", &extra);
    let mut sim = m.sim();
    let args = load_args(
        &m,
        &file,
        &[
            "--syscall",
            "file",
            "--append",
            "console=ttyS0 given",
            "--initrd",
            given.to_str().unwrap(),
        ],
    );
    let r = run(&mut sim, &args);
    assert_eq!(r.code, 0, "{r:?}");
    let (_, initrd, cmdline) = file_load(&sim);
    assert_eq!(cmdline, "console=ttyS0 given");
    let mut both = embedded_initrd();
    both.resize(both.len().next_multiple_of(4), 0);
    both.extend_from_slice(&extra);
    assert_eq!(initrd, Some(both));
}

#[test]
fn a_uki_without_an_initrd_hands_over_only_the_given_one() {
    let m = Machine::x86();
    let linux = kernel_bytes(Arch::X86_64, "uki");
    let file = m.file("linux.efi", &uki(&m, linux.clone(), None));
    let extra = newc(&[("init", b"given")]);
    let given = m.file("initrd.img", &extra);
    let mut sim = m.sim();
    let args = load_args(
        &m,
        &file,
        &["--syscall", "file", "--initrd", given.to_str().unwrap()],
    );
    let r = run(&mut sim, &args);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        file_load(&sim),
        (linux, Some(extra), UKI_CMDLINE.to_string())
    );
}

#[test]
fn a_uki_loads_through_kexec_load_with_the_kernel_inside_planned() {
    let m = Machine::x86();
    let file = x86_uki_file(&m);
    let mut sim = m.sim();
    let r = run(&mut sim, &load_args(&m, &file, &["--syscall", "classic"]));
    assert_eq!(r.code, 0, "{r:?}");
    let img = sim.image(Mode::Normal).unwrap();
    let Source::Classic { segments } = &img.source else {
        panic!("{:?}", img.source)
    };
    let initrd = segments
        .iter()
        .find(|s| s.what == "initrd")
        .expect("an initrd segment");
    assert_eq!(initrd.bufsz, embedded_initrd().len() as u64);
    assert_eq!(
        img.read_staged(initrd.mem, embedded_initrd().len()),
        embedded_initrd()
    );
    // The command line (in the boot_params segment) is .cmdline.
    let params = segments
        .iter()
        .find(|s| s.what == "boot_params")
        .expect("a boot_params segment");
    let bytes = img.read_staged(params.mem, params.bufsz as usize);
    assert!(
        bytes
            .windows(UKI_CMDLINE.len() + 1)
            .any(|w| w == format!("{UKI_CMDLINE}\0").as_bytes()),
        "boot_params carries .cmdline"
    );
}

/// The dry run names the sections used, with offsets and sizes, in text and JSON.
#[test]
fn a_uki_dry_run_shows_the_sections_it_used() {
    let m = Machine::x86();
    let file = x86_uki_file(&m);
    let mut sim = m.sim();
    let text = run(
        &mut sim,
        &load_args(&m, &file, &["--syscall", "file", "--dry-run"]),
    );
    assert_eq!(text.code, 0, "{text:?}");
    let sections: String = text
        .out
        .lines()
        .skip_while(|l| !l.starts_with("unified kernel image"))
        .map(|l| format!("{l}\n"))
        .collect();
    insta::assert_snapshot!("uki_dry_run_sections", sections);
    let json = run(
        &mut sim,
        &load_args(
            &m,
            &file,
            &[
                "--syscall",
                "classic",
                "--dry-run",
                "--json",
                "--append",
                "quiet",
            ],
        ),
    );
    assert_eq!(json.code, 0, "{json:?}");
    let v: serde_json::Value = serde_json::from_str(&json.out).unwrap();
    insta::assert_json_snapshot!("uki_dry_run_sections_json", v["uki_sections"]);
    assert!(sim.image(Mode::Normal).is_none(), "a dry run loads nothing");
}

/// arm64's kexec_file loader takes only an uncompressed Image: Image.gz and zboot (also
/// inside a UKI) arrive decompressed; with --sha256 the checked file is what is
/// decompressed.
#[test]
fn arm64_compressed_kernels_reach_kexec_file_load_decompressed() {
    let m = Machine::arm64();
    let image = kernel_bytes(Arch::Arm64, "gz");
    let gz = gzip(&image);
    let zb = zboot(&image, Compression::Gzip, "gzip", 0, false);
    let digest = warmboot::file_trust::Sha256Digest::of(&gz).to_string();
    for (name, bytes, extra) in [
        ("Image.gz", gz.clone(), vec![]),
        ("Image.gz", gz.clone(), vec!["--sha256", digest.as_str()]),
        ("vmlinuz.efi", zb.clone(), vec![]),
        ("uki.efi", uki(&m, zb.clone(), None), vec![]),
    ] {
        let file = m.file(name, &bytes);
        let mut sim = m.sim();
        let mut args = load_args(&m, &file, &["--syscall", "file"]);
        args.extend(extra.iter().map(|s| s.to_string()));
        let r = run(&mut sim, &args);
        assert_eq!(r.code, 0, "{name} {extra:?}: {r:?}");
        assert_eq!(file_load(&sim).0, image, "{name} {extra:?}");
    }
    // The dry run says so.
    let f = m.file("Image.gz", &gz);
    let mut sim = m.sim();
    let dry = run(
        &mut sim,
        &load_args(&m, &f, &["--syscall", "file", "--dry-run"]),
    );
    assert!(
        dry.out
            .contains("kexec_file_load gets the Image decompressed from the arm64 Image.gz"),
        "{dry:?}"
    );
    // The simulated kernel refuses the compressed file itself, as arm64's image_probe does.
    use warmboot::kexec::{FileLoad, Kexec as _};
    let file = std::fs::File::open(&f).unwrap();
    let e = sim
        .kexec_file_load(&FileLoad {
            kernel: &file,
            initrd: None,
            cmdline: "",
            mode: Mode::Normal,
            debug: false,
        })
        .unwrap_err();
    assert!(e.to_string().contains("failed: EINVAL"), "{e}");
}

/// A kernel without CONFIG_KEXEC_FILE (Debian's arm64) under lockdown can kexec nothing:
/// the one error line says so and why.
#[test]
fn no_kexec_file_under_lockdown_says_no_kexec_is_possible() {
    let m = Machine::arm64();
    m.lockdown("integrity");
    let file = m.file("Image.gz", &gzip(&kernel_bytes(Arch::Arm64, "gz")));
    for syscall in ["auto", "file"] {
        let mut sim = m.sim().without_kexec_file();
        let r = run(&mut sim, &load_args(&m, &file, &["--syscall", syscall]));
        assert_one_line_failure(&r, syscall);
        assert!(
            r.err.contains("no kexec is possible on this kernel: it was built without CONFIG_KEXEC_FILE (kexec_file_load: ENOSYS), and lockdown (integrity) refuses kexec_load"),
            "{syscall}: {r:?}"
        );
        assert!(sim.image(Mode::Normal).is_none());
    }
}

/// Without CONFIG_KEXEC_FILE and without lockdown, auto hands the decompressed Image to
/// kexec_file_load, gets ENOSYS and loads warmboot's own plan with kexec_load.
#[test]
fn auto_falls_back_to_kexec_load_for_an_image_gz_where_there_is_no_kexec_file_load() {
    let m = Machine::arm64();
    let file = m.file("Image.gz", &gzip(&kernel_bytes(Arch::Arm64, "gz")));
    let mut sim = m.sim().without_kexec_file();
    let r = run(&mut sim, &load_args(&m, &file, &[]));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.out.contains("with kexec_load (kexec_file_load("), "{r:?}");
    assert!(r.out.contains("fell back to kexec_load"), "{r:?}");
    assert!(matches!(
        sim.image(Mode::Normal).unwrap().source,
        Source::Classic { .. }
    ));
}

/// `linux.efi` on `m`: a UKI of a synthetic x86 kernel with the embedded initrd.
fn x86_uki_file(m: &Machine) -> PathBuf {
    m.file(
        "linux.efi",
        &uki(
            m,
            kernel_bytes(Arch::X86_64, "uki"),
            Some(embedded_initrd()),
        ),
    )
}
