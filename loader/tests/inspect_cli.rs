//! The `warmboot inspect` command as users run it: exit status, output and one-line errors.

use std::path::Path;
use std::process::{Command, Output};

fn warmboot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warmboot"))
        // No test may reach the kernel of the machine it runs on.
        .env("WARMBOOT_NO_REAL_SYSCALLS", "1")
        .args(args)
        .output()
        .expect("run warmboot")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a failed run: status 1 and exactly one stderr line naming `file` and `reason`.
fn assert_clean_failure(o: &Output, file: &Path, reason: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line expected: {err:?}");
    assert!(err.starts_with("warmboot: "), "{err}");
    assert!(
        err.contains(&file.display().to_string()),
        "names the file: {err}"
    );
    assert!(err.contains(reason), "says {reason:?}: {err}");
    assert!(o.stdout.is_empty(), "no partial report on failure");
}

fn write(dir: &Path, name: &str, data: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(warmboot(&[]).status.code(), Some(2));
    assert_eq!(warmboot(&["inspect"]).status.code(), Some(2));
    assert_eq!(
        warmboot(&["inspect", "--bogus", "x"]).status.code(),
        Some(2)
    );
    assert_eq!(warmboot(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn bad_files_give_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("vmlinuz-missing");
    assert_clean_failure(
        &warmboot(&["inspect", missing.to_str().unwrap()]),
        &missing,
        "No such file",
    );
    assert_clean_failure(
        &warmboot(&["inspect", dir.path().to_str().unwrap()]),
        dir.path(),
        "is a directory",
    );
    let empty = write(dir.path(), "empty", b"");
    assert_clean_failure(
        &warmboot(&["inspect", empty.to_str().unwrap()]),
        &empty,
        "empty",
    );
    let png = write(dir.path(), "logo.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
    assert_clean_failure(
        &warmboot(&["inspect", png.to_str().unwrap()]),
        &png,
        "not a kernel image",
    );
    let cpio = write(
        dir.path(),
        "initrd.img",
        b"07070100000000000000000000000000",
    );
    assert_clean_failure(
        &warmboot(&["inspect", cpio.to_str().unwrap()]),
        &cpio,
        "cpio",
    );
    let mut zimage = vec![0u8; 0x40];
    zimage[0x24..0x28].copy_from_slice(&0x016f_2818u32.to_le_bytes());
    let zimage = write(dir.path(), "zImage", &zimage);
    assert_clean_failure(
        &warmboot(&["inspect", zimage.to_str().unwrap()]),
        &zimage,
        "unsupported architecture: 32-bit ARM zImage",
    );
    // A riscv64 Image header without the mandatory image_size.
    let mut riscv = vec![0u8; 0x40];
    riscv[0x38..0x3c].copy_from_slice(b"RSC\x05");
    let riscv = write(dir.path(), "Image-riscv", &riscv);
    assert_clean_failure(
        &warmboot(&["inspect", riscv.to_str().unwrap()]),
        &riscv,
        "invalid riscv64 Image image_size: is 0",
    );
}

use warmboot::compression::Compression;
use warmboot::image::pe::{MACHINE_ARM64, MACHINE_X86_64};
use warmboot::synth::arm64::{gzip, zboot, zboot_raw, Arm64Builder};
use warmboot::synth::elf::{ElfBuilder, SegmentSpec};
use warmboot::synth::initrd::{early_plus_gzip, newc};
use warmboot::synth::riscv64::Riscv64Builder;
use warmboot::synth::uki::UkiBuilder;
use warmboot::synth::x86::BzImageBuilder;

/// One synthetic image of every supported format, by name.
fn samples() -> Vec<(&'static str, Vec<u8>)> {
    let arm64 = Arm64Builder::default().build();
    let bz = BzImageBuilder::new().efi_stub(true).signed(true).build();
    let mut uki_x86 = UkiBuilder::new(MACHINE_X86_64, bz.clone());
    uki_x86.osrel = Some("ID=debian\nVERSION_ID=12\nPRETTY_NAME=\"Debian GNU/Linux 12\"\n".into());
    uki_x86.cmdline = Some("root=/dev/vda1 ro quiet\n".into());
    uki_x86.uname = Some("6.1.0-synth".into());
    uki_x86.initrd = Some(newc(&[("init", b"#!/bin/sh\n")]));
    let mut uki_arm64 = UkiBuilder::new(MACHINE_ARM64, arm64.clone());
    uki_arm64.cmdline = Some("console=ttyAMA0".into());
    uki_arm64.dtbs = vec![vec![0xd0, 0x0d, 0xfe, 0xed, 0, 0, 0, 8]];
    vec![
        ("bzImage-xz", BzImageBuilder::new().build()),
        ("bzImage-gzip-efi-signed", bz),
        (
            "vmlinux-x86_64",
            ElfBuilder::x86_64()
                .segments(vec![SegmentSpec::load(
                    0x1000000,
                    0xffffffff81000000,
                    0x400,
                    0x2000,
                    5,
                )])
                .entry(0x1000000)
                .build(),
        ),
        ("vmlinux-aarch64", ElfBuilder::aarch64().build()),
        ("Image", arm64.clone()),
        ("Image.gz", gzip(&arm64)),
        (
            "zboot-gzip",
            zboot(&arm64, Compression::Gzip, "gzip", 0, false),
        ),
        (
            "zboot-zstd",
            zboot(&arm64, Compression::Zstd, "zstd22", 0, true),
        ),
        ("uki-x86_64", uki_x86.build()),
        ("uki-arm64", uki_arm64.build()),
        ("Image-riscv64", Riscv64Builder::default().build()),
    ]
}

#[test]
fn inspect_every_synthetic_format_as_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    for (name, data) in samples() {
        let path = write(dir.path(), name, &data);
        let out = warmboot(&["inspect", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        let text = String::from_utf8(out.stdout)
            .unwrap()
            .replace(&dir.path().display().to_string(), "$DIR");
        insta::assert_snapshot!(format!("inspect-{name}"), text);

        let out = warmboot(&["inspect", "--json", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        // Text and JSON carry the same facts.
        assert_eq!(v["file_size"].as_u64(), Some(data.len() as u64), "{name}");
        assert!(text.contains(v["arch"].as_str().unwrap()), "{name}");
        assert!(v["image"]["format"].is_string(), "{name}");
        if name == "bzImage-gzip-efi-signed" || name == "uki-arm64" {
            let mut v = v;
            v["file"] = serde_json::Value::String("$DIR".into());
            insta::assert_json_snapshot!(format!("inspect-json-{name}"), v);
        }
    }
}

#[test]
fn every_truncation_of_every_synthetic_format_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    for (name, data) in samples() {
        // Through the CLI at a few cuts (process start-up is the cost), and in-process at
        // every cut: a clean error or a smaller valid image, never a panic.
        for cut in [0, 1, 0x3f, 0x200, data.len() / 2, data.len() - 1] {
            let path = write(dir.path(), name, &data[..cut]);
            let out = warmboot(&["inspect", path.to_str().unwrap()]);
            match out.status.code() {
                // A raw arm64 Image without an EFI stub records no length of its own
                // (image_size includes the BSS), so a cut past its 64-byte header cannot
                // be told from a shorter kernel. Every other format records its extent.
                Some(0) => assert!(
                    name == "Image" && cut >= 0x40,
                    "{name} cut at {cut} accepted"
                ),
                Some(1) => assert_clean_failure(&out, &path, ""),
                other => panic!("{name} cut at {cut}: exit {other:?}: {}", stderr(&out)),
            }
        }
        for cut in 0..data.len() {
            let _ = warmboot::image::KernelImage::parse(&data[..cut]);
        }
    }
}

#[test]
fn specific_bad_inputs_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "bzImage-2.11",
            BzImageBuilder::new().protocol(0x020b).build(),
            "boot protocol 2.11 is too old",
        ),
        (
            "vmlinux-riscv",
            ElfBuilder::x86_64().machine(243).build(),
            "unsupported architecture",
        ),
        (
            "zboot-lzo",
            zboot_raw(&[0x89, b'L', b'Z', b'O', 0, 0, 0, 0], 8, "lzo", false),
            "lzo",
        ),
        (
            "gzip-text",
            gzip(b"just some text, not a kernel"),
            "not an arm64 Image",
        ),
    ];
    for (name, data, reason) in cases {
        let path = write(dir.path(), name, &data);
        assert_clean_failure(
            &warmboot(&["inspect", path.to_str().unwrap()]),
            &path,
            reason,
        );
    }
}

#[test]
fn inspect_describes_the_initrd_too() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = write(dir.path(), "Image", &Arm64Builder::default().build());
    let initrd = write(
        dir.path(),
        "initrd.img",
        &early_plus_gzip(
            &[("kernel/x86/microcode/GenuineIntel.bin", b"uc")],
            &[("init", b"x")],
        ),
    );
    let out = warmboot(&[
        "inspect",
        kernel.to_str().unwrap(),
        "--initrd",
        initrd.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("cpio + gzip"), "{text}");
    let empty = write(dir.path(), "empty-initrd", b"");
    let out = warmboot(&[
        "inspect",
        kernel.to_str().unwrap(),
        "--initrd",
        empty.to_str().unwrap(),
    ]);
    assert_clean_failure(&out, &empty, "empty");
}
