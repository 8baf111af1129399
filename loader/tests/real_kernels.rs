//! `warmboot inspect`, planning and the x86 kernel proper on the pinned Debian kernels
//! (images/manifest.toml), every pinned series of each architecture (Debian 12's 6.1,
//! Debian 13's 6.12). Snapshot names end in the series.
//!
//! The kernels are fetched by `cargo xtask images` into a cache outside git and listed in
//! `<cache>/kernels.json` (see support/pinned.rs). `cargo xtask ci` always fetches first and
//! sets WARMBOOT_REQUIRE_REAL_KERNELS=1, so there a missing kernel fails the test; a plain
//! `cargo test` without the cache prints a notice and checks nothing else.

#[path = "support/pinned.rs"]
mod pinned;

use pinned::real_kernels;
use std::path::PathBuf;
use warmboot::image::KernelImage;
use warmboot::inspect::Report;
use warmboot::Arch;

fn report_text(path: &std::path::Path, data: &[u8]) -> String {
    let name = path.file_name().unwrap().to_string_lossy();
    Report::new(&name, data, None).unwrap().to_text()
}

#[test]
fn debian_amd64_kernels() {
    for (series, path, data) in real_kernels("x86_64") {
        let image = KernelImage::parse(&data).unwrap();
        assert_eq!(image.arch(), Arch::X86_64);
        let KernelImage::BzImage(bz) = &image else {
            panic!("{series}: expected a bzImage, got {}", image.format_name());
        };
        // The kernel_version string starts with the release, "6.12.118+deb13-amd64 (…".
        let version = bz.version.as_deref().unwrap_or("");
        assert!(
            version.starts_with(&format!("{series}.")),
            "{series}: {version}"
        );
        insta::assert_snapshot!(
            format!("inspect_debian_amd64_{series}"),
            report_text(&path, &data)
        );
    }
}

#[test]
fn debian_arm64_kernels() {
    for (series, path, data) in real_kernels("arm64") {
        let image = KernelImage::parse(&data).unwrap();
        assert_eq!(image.arch(), Arch::Arm64);
        // Debian ships arm64 kernels as a plain Image with an EFI stub (signed), in 6.1 and
        // 6.12 alike: neither Image.gz nor EFI zboot.
        let KernelImage::Arm64(k) = &image else {
            panic!(
                "{series}: expected an arm64 Image, got {}",
                image.format_name()
            );
        };
        assert_eq!(
            k.container,
            warmboot::image::arm64::Container::Raw,
            "{series}"
        );
        assert!(k.pe.is_some(), "{series}: no EFI stub");
        let version = image.version().unwrap_or("");
        assert!(
            version.starts_with(&format!("{series}.")),
            "{series}: {version}"
        );
        insta::assert_snapshot!(
            format!("inspect_debian_arm64_{series}"),
            report_text(&path, &data)
        );
    }
}

#[test]
fn debian_riscv64_kernels() {
    for (series, path, data) in real_kernels("riscv64") {
        let image = KernelImage::parse(&data).unwrap();
        assert_eq!(image.arch(), Arch::Riscv64);
        // Debian 13 ships riscv64 as an uncompressed Image with an (unsigned) EFI stub,
        // installed as vmlinux-<release>.
        let KernelImage::Riscv64(k) = &image else {
            panic!(
                "{series}: expected a riscv64 Image, got {}",
                image.format_name()
            );
        };
        assert!(k.pe.is_some(), "{series}: no EFI stub");
        assert_eq!(k.header.version_string(), "0.2", "{series}");
        let version = image.version().unwrap_or("");
        assert!(
            version.starts_with(&format!("{series}.")),
            "{series}: {version}"
        );
        insta::assert_snapshot!(
            format!("inspect_debian_riscv64_{series}"),
            report_text(&path, &data)
        );
    }
}

#[test]
fn every_truncation_of_the_real_kernels_is_a_clean_error() {
    for arch in ["x86_64", "arm64", "riscv64"] {
        for (series, _, data) in real_kernels(arch) {
            // Header region byte by byte, then the rest at a stride: each cut must fail
            // cleanly (or, past the headers, still parse), never panic.
            let cuts = (0..4096.min(data.len())).chain((4096..data.len()).step_by(65_521));
            for cut in cuts {
                let _ = KernelImage::parse(&data[..cut]);
            }
            if arch == "x86_64" {
                // Half a bzImage has its payload cut: that must be refused, not half-parsed.
                assert!(
                    KernelImage::parse(&data[..data.len() / 2]).is_err(),
                    "{series}"
                );
            }
        }
    }
}

/// `warmboot load --dry-run` of a pinned kernel on every fixture machine of its
/// architecture, normal and panic, with a fixed 4 MiB initrd: the plan the sim accepted,
/// or the one-line reason it could not be made (a machine without a crash reservation).
fn dry_run_plans(arch: &str, machines: &[&str]) {
    for (series, kernel, _) in real_kernels(arch) {
        dry_run_plans_of(arch, &series, &kernel, machines);
    }
}

fn dry_run_plans_of(arch: &str, series: &str, kernel: &std::path::Path, machines: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let initrd = dir.path().join("initrd.img");
    std::fs::write(&initrd, vec![0x5a; 4 << 20]).unwrap();
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/machines");
    let console = if arch == "arm64" { "ttyAMA0" } else { "ttyS0" };
    for machine in machines {
        for panic in [false, true] {
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_warmboot"));
            cmd.env("WARMBOOT_NO_REAL_SYSCALLS", "1");
            cmd.arg("load")
                .arg(kernel)
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
                assert!(panic, "{series} {machine}: normal plan failed: {err}");
                assert_eq!(err.lines().count(), 1, "{err}");
                assert!(err.contains("crash"), "{machine}: {err}");
                // The error names the kernel; its path is the cache's, so not snapshotted.
                let err = err.replacen(&format!("{}: ", kernel.display()), "<kernel>: ", 1);
                assert!(err.starts_with("warmboot: <kernel>: "), "{machine}: {err}");
                format!("exit {:?}\n{err}", out.status.code())
            };
            let mode = if panic { "panic" } else { "normal" };
            insta::assert_snapshot!(format!("plan-{arch}-{machine}-{mode}-{series}"), text);
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

#[test]
fn dry_run_plans_of_the_riscv64_kernel() {
    dry_run_plans(
        "riscv64",
        &["riscv64-direct-m1024", "riscv64-direct-m1024-crashkernel"],
    );
}

/// The amd64 kernel proper as warmboot decompresses it at load time: the payload (xz with
/// the x86 BCJ filter in 6.1, zstd in 6.12) decompresses, the ELF lays out from _text to
/// _end, every relocation lies inside it, and relocating by d then by -d gives back the
/// original bytes.
#[test]
fn amd64_kernels_proper_decompress_and_relocate() {
    for (series, _, data) in real_kernels("x86_64") {
        kernel_proper_decompresses_and_relocates(&series, &data);
    }
}

/// `e_entry` of the ELF vmlinux at the start of a decompressed x86 payload.
fn elf_entry(vmlinux: &[u8]) -> u64 {
    u64::from_le_bytes(vmlinux[24..32].try_into().unwrap())
}

fn kernel_proper_decompresses_and_relocates(series: &str, data: &[u8]) {
    use warmboot::compression::Compression;
    use warmboot::x86::relocs::START_KERNEL_MAP;
    use warmboot::x86::vmlinux_payload::KernelProper;
    let KernelImage::BzImage(bz) = KernelImage::parse(data).unwrap() else {
        panic!("{series}: not a bzImage");
    };
    let expected_compression = match series {
        "6.1" => Compression::Xz,
        _ => Compression::Zstd,
    };
    assert_eq!(bz.payload_compression, expected_compression, "{series}");
    let k = KernelProper::from_bzimage(&bz, data).unwrap();
    // The decompressed length is the one the build appended to the payload.
    assert_eq!(Some(k.decompressed_len as u32), bz.uncompressed_size);
    assert_eq!(k.load_physical_addr, 0x100_0000);
    assert_eq!(k.align, 0x20_0000);
    // All three sets, each non-empty, in 6.1 and 6.12.
    assert!(
        !k.relocs.r32.is_empty() && !k.relocs.inv32.is_empty() && !k.relocs.r64.is_empty(),
        "{series}"
    );
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
    // startup_64 is where the ELF says: at _text in 6.1, 0xc43 bytes in in Debian's 6.12.
    assert_eq!(
        k.entry_offset,
        elf_entry(&decompressed) - k.load_physical_addr,
        "{series}"
    );
    assert!(k.entry_offset < len, "{series}");
    if series == "6.1" {
        assert_eq!(k.entry_offset, 0, "startup_64 is _text");
    }
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
/// Every pinned x86 series takes the decompressed entry when nothing asks otherwise:
/// `load` (auto) on every x86 fixture machine plans it and says so on the `syscall:` and
/// `x86 entry:` lines, and `inspect` says it is possible. A kernel series that silently
/// falls back to the bzImage decompressor fails here, naming the series and the reason.
#[test]
fn pinned_amd64_kernels_take_the_decompressed_entry_unasked() {
    for (series, kernel, data) in real_kernels("x86_64") {
        let report = warmboot::inspect::Report::new("k", &data, None).unwrap();
        let entry = report.x86_entry.as_ref().unwrap();
        assert!(
            entry.decompressed_entry_possible,
            "{series}: inspect says the decompressed entry is not possible: {:?}",
            entry.reason
        );
        for machine in [
            "x86_64-bios-m1024",
            "x86_64-ovmf-m1024",
            "x86_64-bios-m4096",
            "x86_64-ovmf-m4096",
        ] {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/machines")
                .join(machine);
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_warmboot"))
                .env("WARMBOOT_NO_REAL_SYSCALLS", "1")
                .arg("load")
                .arg(&kernel)
                .args([
                    "--dry-run",
                    "--arch",
                    "x86_64",
                    "--command-line",
                    "console=ttyS0 quiet",
                    "--root",
                ])
                .arg(&root)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{series} on {machine}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let entry = text
                .lines()
                .find(|l| l.starts_with("note: x86 entry: "))
                .unwrap_or_default();
            assert!(
                entry.starts_with("note: x86 entry: kernel proper decompressed at load"),
                "{series} on {machine} fell back without being asked: {entry}"
            );
            assert!(
                text.lines().any(|l| l.starts_with("syscall: kexec_load")
                    && l.contains("with the kernel decompressed at load time")),
                "{series} on {machine}: {text}"
            );
        }
    }
}

#[test]
fn dry_run_x86_entries_of_the_amd64_kernels() {
    for (series, kernel, _) in real_kernels("x86_64") {
        dry_run_x86_entries(&series, &kernel);
    }
}

fn dry_run_x86_entries(series: &str, kernel: &std::path::Path) {
    let root =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/machines/x86_64-ovmf-m1024");
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_warmboot"))
            .env("WARMBOOT_NO_REAL_SYSCALLS", "1")
            .arg("load")
            .arg(kernel)
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
    assert!(ok, "{series}: {nokaslr}");
    insta::assert_snapshot!(format!("plan-x86_64-ovmf-m1024-nokaslr-{series}"), nokaslr);
    let (ok, bzimage) = run(&["--command-line", "console=ttyS0", "--x86-entry", "bzimage"]);
    assert!(ok, "{series}: {bzimage}");
    insta::assert_snapshot!(format!("plan-x86_64-ovmf-m1024-bzimage-{series}"), bzimage);
    let (ok, panic) = run(&[
        "--command-line",
        "console=ttyS0",
        "--x86-entry",
        "decompressed",
        "--panic",
    ]);
    assert!(ok, "{series}: {panic}");
    assert!(
        panic.contains("\nnote: x86 entry: bzImage decompressor (panic loads always use it)\n"),
        "{series}: {panic}"
    );
    let (ok, err) = run(&[
        "--command-line",
        "console=ttyS0 memmap=64M$1G",
        "--x86-entry",
        "decompressed",
    ]);
    assert!(!ok, "{series}");
    // One line, naming the kernel file, then the reason.
    let name = kernel.file_name().unwrap().to_string_lossy();
    assert!(
        err.starts_with("warmboot: ")
            && err.lines().count() == 1
            && err.ends_with(": --x86-entry decompressed cannot be honoured: the command line has memmap=, which changes where the kernel's own decompressor places the kernel\n")
            && err.contains(&format!("{name}:")),
        "{series}: {err}"
    );
}

/// The relocated amd64 kernel proper equals what the kernel's own decompressor makes for
/// the same virtual offset: an oracle written literally after arch/x86/boot/compressed/
/// misc.c (6.1; parse_elf and handle_relocations are the same in 6.12) — parse_elf
/// memmoves each PT_LOAD inside the decompressed buffer, then handle_relocations walks the
/// table backwards from the end of that same buffer — and compared over every PT_LOAD's
/// file bytes (the rest of warmboot's image is zero; the decompressor's holds leftovers
/// there, and .bss is cleared by the kernel itself).
#[test]
fn amd64_kernels_proper_equal_the_decompressors_output() {
    for (series, _, data) in real_kernels("x86_64") {
        kernel_proper_equals_the_decompressors_output(&series, &data);
    }
}

fn kernel_proper_equals_the_decompressors_output(series: &str, data: &[u8]) {
    use warmboot::compression::{decompress, MAX_DECOMPRESSED};
    use warmboot::x86::vmlinux_payload::KernelProper;
    let KernelImage::BzImage(bz) = KernelImage::parse(data).unwrap() else {
        panic!("{series}: not a bzImage");
    };
    let start = (bz.kernel_offset + u64::from(bz.payload_offset)) as usize;
    let payload = &data[start..start + bz.payload_length as usize];
    let plain = decompress(bz.payload_compression, payload, MAX_DECOMPRESSED, "t").unwrap();
    let k = KernelProper::from_bzimage(&bz, data).unwrap();
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
    assert_eq!(
        loads.len(),
        4,
        "{series}: Debian's amd64 kernels have four PT_LOADs"
    );
    let mut covered = vec![false; ours.len()];
    for (dest, filesz) in loads {
        assert!(
            ours[dest..dest + filesz] == output[dest..dest + filesz],
            "{series}: PT_LOAD at image offset {dest:#x} differs from the decompressor's"
        );
        covered[dest..dest + filesz]
            .iter_mut()
            .for_each(|c| *c = true);
    }
    assert!(
        ours.iter().zip(&covered).all(|(&b, &c)| c || b == 0),
        "{series}"
    );
}
