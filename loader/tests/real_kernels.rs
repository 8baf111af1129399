//! `warmboot inspect` on the pinned Debian kernels (images/manifest.toml).
//!
//! The kernels are fetched by `cargo xtask images` into a cache outside git and listed in
//! `<cache>/kernels.json`. `cargo xtask ci` always fetches first and sets
//! WARMBOOT_REQUIRE_REAL_KERNELS=1, so there a missing kernel fails the test; a plain
//! `cargo test` without the cache prints a notice and checks nothing else.

use std::path::PathBuf;
use warmboot::image::KernelImage;
use warmboot::inspect::Report;
use warmboot::Arch;

fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("WARMBOOT_CACHE") {
        return Some(PathBuf::from(dir));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/warmboot"))
}

/// The extracted kernel for `arch`, or None (after a notice) when the cache is absent.
fn real_kernel(arch: &str) -> Option<(PathBuf, Vec<u8>)> {
    let required = std::env::var("WARMBOOT_REQUIRE_REAL_KERNELS").is_ok_and(|v| v == "1");
    let index = cache_dir().map(|d| d.join("kernels.json"));
    let entry = index
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|v| v.get(arch)?.get("path")?.as_str().map(PathBuf::from));
    match entry.and_then(|p| std::fs::read(&p).ok().map(|d| (p, d))) {
        Some(found) => Some(found),
        None if required => panic!(
            "the real {arch} kernel is missing from {:?} (run `cargo xtask images`)",
            index
        ),
        None => {
            eprintln!(
                "NOTICE: real {arch} kernel not fetched ({:?} missing); skipping its checks. \
                 `cargo xtask images` fetches it; `cargo xtask ci` always does.",
                index
            );
            None
        }
    }
}

fn report_text(path: &std::path::Path, data: &[u8]) -> String {
    let name = path.file_name().unwrap().to_string_lossy();
    Report::new(&name, data, None).unwrap().to_text()
}

#[test]
fn debian_amd64_kernel() {
    let Some((path, data)) = real_kernel("x86_64") else {
        return;
    };
    let image = KernelImage::parse(&data).unwrap();
    assert_eq!(image.arch(), Arch::X86_64);
    let KernelImage::BzImage(bz) = &image else {
        panic!("expected a bzImage, got {}", image.format_name());
    };
    assert!(bz.version.as_deref().unwrap_or("").starts_with("6.1.0-"));
    insta::assert_snapshot!("inspect_debian_amd64", report_text(&path, &data));
}

#[test]
fn debian_arm64_kernel() {
    let Some((path, data)) = real_kernel("arm64") else {
        return;
    };
    let image = KernelImage::parse(&data).unwrap();
    assert_eq!(image.arch(), Arch::Arm64);
    assert!(image.version().unwrap_or("").starts_with("6.1.0-"));
    insta::assert_snapshot!("inspect_debian_arm64", report_text(&path, &data));
}

#[test]
fn every_truncation_of_the_real_kernels_is_a_clean_error() {
    for arch in ["x86_64", "arm64"] {
        let Some((_, data)) = real_kernel(arch) else {
            continue;
        };
        // Header region byte by byte, then the rest at a stride: each cut must fail
        // cleanly (or, past the headers, still parse), never panic.
        let cuts = (0..4096.min(data.len())).chain((4096..data.len()).step_by(65_521));
        for cut in cuts {
            let _ = KernelImage::parse(&data[..cut]);
        }
        if arch == "x86_64" {
            // Half a bzImage has its payload cut: that must be refused, not half-parsed.
            assert!(KernelImage::parse(&data[..data.len() / 2]).is_err());
        }
    }
}

/// `warmboot load --dry-run` of a pinned kernel on every fixture machine of its
/// architecture, normal and panic, with a fixed 4 MiB initrd: the plan the sim accepted,
/// or the one-line reason it could not be made (a machine without a crash reservation).
fn dry_run_plans(arch: &str, machines: &[&str]) {
    let Some((kernel, _)) = real_kernel(arch) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let initrd = dir.path().join("initrd.img");
    std::fs::write(&initrd, vec![0x5a; 4 << 20]).unwrap();
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/machines");
    let console = if arch == "x86_64" { "ttyS0" } else { "ttyAMA0" };
    for machine in machines {
        for panic in [false, true] {
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_warmboot"));
            cmd.env("WARMBOOT_NO_REAL_SYSCALLS", "1");
            cmd.arg("load")
                .arg(&kernel)
                .args(["--dry-run", "--arch", arch, "--root"])
                .arg(fixtures.join(machine))
                .arg("--initrd")
                .arg(&initrd)
                .args(["--command-line", &format!("console={console} quiet")]);
            if panic {
                cmd.arg("--panic");
            }
            if arch == "x86_64" {
                // Fixed KASLR slots, so the plan is reproducible.
                cmd.args(["--x-kaslr-random", "1234567", "89"]);
            }
            let out = cmd.output().unwrap();
            let text = if out.status.success() {
                String::from_utf8_lossy(&out.stdout).into_owned()
            } else {
                // Only a missing crash reservation may stop a plan on these machines.
                let err = String::from_utf8_lossy(&out.stderr).into_owned();
                assert!(panic, "{machine}: normal plan failed: {err}");
                assert_eq!(err.lines().count(), 1, "{err}");
                assert!(err.contains("crash"), "{machine}: {err}");
                format!("exit {:?}\n{err}", out.status.code())
            };
            let mode = if panic { "panic" } else { "normal" };
            insta::assert_snapshot!(format!("plan-{arch}-{machine}-{mode}"), text);
        }
    }
}

#[test]
fn dry_run_plans_of_the_amd64_kernel() {
    dry_run_plans(
        "x86_64",
        &[
            "x86_64-bios-m1024",
            "x86_64-bios-m4096",
            "x86_64-ovmf-m1024",
            "x86_64-ovmf-m4096",
        ],
    );
}

#[test]
fn dry_run_plans_of_the_arm64_kernel() {
    dry_run_plans(
        "arm64",
        &[
            "arm64-direct-m1024",
            "arm64-direct-m4096",
            "arm64-uefi-m1024",
            "arm64-uefi-m4096",
            "arm64-direct-m1024-crashkernel",
        ],
    );
}

/// The amd64 kernel proper as warmboot decompresses it at load time: the xz (BCJ x86)
/// payload decompresses, the ELF lays out from _text to _end, every relocation lies
/// inside it, and relocating by d then by -d gives back the original bytes.
#[test]
fn amd64_kernel_proper_decompresses_and_relocates() {
    use warmboot::x86::relocs::START_KERNEL_MAP;
    use warmboot::x86::vmlinux_payload::KernelProper;
    let Some((_, data)) = real_kernel("x86_64") else {
        return;
    };
    let KernelImage::BzImage(bz) = KernelImage::parse(&data).unwrap() else {
        panic!("not a bzImage");
    };
    let k = KernelProper::from_bzimage(&bz, &data).unwrap();
    // The decompressed length is the one the build appended to the payload.
    assert_eq!(Some(k.decompressed_len as u32), bz.uncompressed_size);
    assert_eq!(k.entry_offset, 0, "startup_64 is _text");
    assert_eq!(k.load_physical_addr, 0x100_0000);
    assert_eq!(k.align, 0x20_0000);
    // 6.1 has all three sets, each non-empty.
    assert!(!k.relocs.r32.is_empty() && !k.relocs.inv32.is_empty() && !k.relocs.r64.is_empty());
    let len = k.image.len() as u64;
    assert!(len > 32 << 20 && len.is_multiple_of(0x1000), "{len:#x}");
    for &off in k.relocs.r32.iter().chain(&k.relocs.inv32) {
        assert!(off + 4 <= len);
    }
    for &off in &k.relocs.r64 {
        assert!(off + 8 <= len);
    }
    // The first 64-bit field in .text (a sign-extended 32-bit link address would be
    // 0xffffffff8…): relocations name link-time kernel virtual addresses.
    let off = k.relocs.r64[0] as usize;
    let v = u64::from_le_bytes(k.image[off..off + 8].try_into().unwrap());
    assert!(
        v >= START_KERNEL_MAP,
        "64-bit field at {off:#x} holds {v:#x}"
    );
    let delta = 0x1e40_0000i64;
    let moved = k.relocated(delta).unwrap();
    assert_ne!(moved, k.image);
    let off = k.relocs.r64[0] as usize;
    let before = u64::from_le_bytes(k.image[off..off + 8].try_into().unwrap());
    let after = u64::from_le_bytes(moved[off..off + 8].try_into().unwrap());
    assert_eq!(after, before + delta as u64);
    let mut back = moved;
    k.relocs.apply(&mut back, -delta).unwrap();
    assert!(back == k.image, "relocating by d then -d changed the image");
}
