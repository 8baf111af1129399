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
                // The error names the kernel; its path is the cache's, so not snapshotted.
                let err = err.replacen(&format!("{}: ", kernel.display()), "<kernel>: ", 1);
                assert!(err.starts_with("warmboot: <kernel>: "), "{machine}: {err}");
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
    assert!(len > 32 << 20 && len <= k.mem_len, "{len:#x}");
    assert!(k.mem_len.is_multiple_of(0x1000), "{:#x}", k.mem_len);
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
    // from_bzimage lays the PT_LOADs out inside the decompressed buffer itself; the
    // copying layout of the same payload gives the same image.
    let start = bz.kernel_offset + u64::from(bz.payload_offset);
    let payload = &data[start as usize..][..bz.payload_length as usize];
    let decompressed = warmboot::compression::decompress(
        bz.payload_compression,
        payload,
        warmboot::compression::MAX_DECOMPRESSED,
        "bzImage payload",
    )
    .unwrap();
    let format = warmboot::x86::vmlinux_payload::table_format(bz.version.as_deref()).unwrap();
    let copied =
        warmboot::x86::vmlinux_payload::from_payload(&decompressed, format, bz.pref_address)
            .unwrap();
    assert!(
        copied.image == k.image,
        "in-place and copied layouts differ"
    );
    assert_eq!(copied.relocs.r64, k.relocs.r64);
}

/// `--x86-entry` on the amd64 kernel, one fixture machine: nokaslr keeps the link
/// address, `bzimage` keeps today's plan, a panic load says it uses the bzImage path
/// even when `decompressed` is asked for, and an unmodelled option makes `decompressed`
/// fail in one line.
#[test]
fn dry_run_x86_entries_of_the_amd64_kernel() {
    let Some((kernel, _)) = real_kernel("x86_64") else {
        return;
    };
    let root =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/machines/x86_64-ovmf-m1024");
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_warmboot"))
            .env("WARMBOOT_NO_REAL_SYSCALLS", "1")
            .arg("load")
            .arg(&kernel)
            .args(["--dry-run", "--arch", "x86_64", "--root"])
            .arg(&root)
            .args(["--x-kaslr-random", "1234567", "89"])
            .args(extra)
            .output()
            .unwrap();
        let text = if out.status.success() {
            out.stdout
        } else {
            out.stderr
        };
        (
            out.status.success(),
            String::from_utf8_lossy(&text).into_owned(),
        )
    };
    let (ok, nokaslr) = run(&[
        "--command-line",
        "console=ttyS0 nokaslr",
        "--x86-entry",
        "decompressed",
    ]);
    assert!(ok, "{nokaslr}");
    insta::assert_snapshot!("plan-x86_64-ovmf-m1024-nokaslr", nokaslr);
    let (ok, bzimage) = run(&["--command-line", "console=ttyS0", "--x86-entry", "bzimage"]);
    assert!(ok, "{bzimage}");
    insta::assert_snapshot!("plan-x86_64-ovmf-m1024-bzimage", bzimage);
    let (ok, panic) = run(&[
        "--command-line",
        "console=ttyS0",
        "--x86-entry",
        "decompressed",
        "--panic",
    ]);
    assert!(ok, "{panic}");
    assert!(
        panic.contains("\nnote: x86 entry: bzImage decompressor (panic loads always use it)\n"),
        "{panic}"
    );
    let (ok, err) = run(&[
        "--command-line",
        "console=ttyS0 memmap=64M$1G",
        "--x86-entry",
        "decompressed",
    ]);
    assert!(!ok);
    // One line, naming the kernel file, then the reason.
    assert!(
        err.starts_with("warmboot: ")
            && err.lines().count() == 1
            && err.ends_with(": --x86-entry decompressed cannot be honoured: the command line has memmap=, which changes where the kernel's own decompressor places the kernel\n")
            && err.contains("vmlinuz-6.1.0-56-amd64:"),
        "{err}"
    );
}

/// The relocated amd64 kernel proper equals what the kernel's own decompressor makes for
/// the same virtual offset: an oracle written literally after arch/x86/boot/compressed/
/// misc.c (6.1) — parse_elf memmoves each PT_LOAD inside the decompressed buffer, then
/// handle_relocations walks the table backwards from the end of that same buffer — and
/// compared over every PT_LOAD's file bytes (the rest of warmboot's image is zero; the
/// decompressor's holds leftovers there, and .bss is cleared by the kernel itself).
#[test]
fn amd64_kernel_proper_equals_the_decompressors_output() {
    use warmboot::compression::{decompress, MAX_DECOMPRESSED};
    use warmboot::x86::vmlinux_payload::KernelProper;
    let Some((_, data)) = real_kernel("x86_64") else {
        return;
    };
    let KernelImage::BzImage(bz) = KernelImage::parse(&data).unwrap() else {
        panic!("not a bzImage");
    };
    let start = (bz.kernel_offset + u64::from(bz.payload_offset)) as usize;
    let payload = &data[start..start + bz.payload_length as usize];
    let plain = decompress(bz.payload_compression, payload, MAX_DECOMPRESSED, "t").unwrap();
    let k = KernelProper::from_bzimage(&bz, &data).unwrap();
    let virt_addr: u64 = 0x1000000 + 211 * 0x200000; // a slot find_random_virt_addr may pick
    let delta = virt_addr - 0x1000000;

    // --- the oracle ---
    const LOAD_PHYSICAL_ADDR: u64 = 0x1000000;
    const START_KERNEL_MAP: u64 = 0xffffffff80000000;
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes(b[o..o + 2].try_into().unwrap());
    let u32_at = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let output_len = plain.len();
    let mut output = plain.clone();
    output.resize(output_len.max(k.mem_len as usize), 0);
    // parse_elf: the program headers are copied out first, then each PT_LOAD memmoved.
    let (phoff, phnum) = (u64_at(&output, 32) as usize, u16_at(&output, 56) as usize);
    let phdrs = output[phoff..phoff + phnum * 56].to_vec();
    let mut loads = Vec::new();
    for ph in phdrs.chunks(56) {
        if u32_at(ph, 0) == 1 {
            let (offset, paddr, filesz) = (
                u64_at(ph, 8) as usize,
                u64_at(ph, 24),
                u64_at(ph, 32) as usize,
            );
            let dest = (paddr - LOAD_PHYSICAL_ADDR) as usize;
            output.copy_within(offset..offset + filesz, dest); // memmove
            loads.push((dest, filesz));
        }
    }
    // handle_relocations, with `output` at address 0: map = (0 - LOAD_PHYSICAL_ADDR) -
    // __START_KERNEL_map; on x86_64 the fields move by delta = virt_addr - LOAD_PHYSICAL_ADDR.
    let map = 0u64
        .wrapping_sub(LOAD_PHYSICAL_ADDR)
        .wrapping_sub(START_KERNEL_MAP);
    let word = |o: &[u8], i: usize| i32::from_le_bytes(o[i * 4..i * 4 + 4].try_into().unwrap());
    let ptr_of = |r: i32| (r as i64 as u64).wrapping_add(map) as usize;
    let mut reloc = output_len / 4 - 1;
    while word(&output, reloc) != 0 {
        let ptr = ptr_of(word(&output, reloc));
        let v = u32_at(&output, ptr).wrapping_add(delta as u32);
        output[ptr..ptr + 4].copy_from_slice(&v.to_le_bytes());
        reloc -= 1;
    }
    reloc -= 1;
    while word(&output, reloc) != 0 {
        let ptr = ptr_of(word(&output, reloc));
        let v = (u32_at(&output, ptr) as i32).wrapping_sub(delta as i32);
        output[ptr..ptr + 4].copy_from_slice(&v.to_le_bytes());
        reloc -= 1;
    }
    reloc -= 1;
    while word(&output, reloc) != 0 {
        let ptr = ptr_of(word(&output, reloc));
        let v = u64_at(&output, ptr).wrapping_add(delta);
        output[ptr..ptr + 8].copy_from_slice(&v.to_le_bytes());
        reloc -= 1;
    }
    // --- compare ---
    let ours = k.relocated(delta as i64).unwrap();
    assert_eq!(loads.len(), 4, "Debian 6.1 amd64 has four PT_LOADs");
    let mut covered = vec![false; ours.len()];
    for (dest, filesz) in loads {
        assert!(
            ours[dest..dest + filesz] == output[dest..dest + filesz],
            "PT_LOAD at image offset {dest:#x} differs from the decompressor's"
        );
        covered[dest..dest + filesz]
            .iter_mut()
            .for_each(|c| *c = true);
    }
    assert!(ours.iter().zip(&covered).all(|(&b, &c)| c || b == 0));
}
