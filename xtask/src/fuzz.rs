//! `cargo xtask fuzz`: runs the cargo-fuzz targets of `fuzz/` (one per parser entry point)
//! for a bounded time each, after writing their seed corpora.
//!
//! Seeds are generated, not committed: the loader's synthetic image builders (`synth`
//! feature), the fixture machines' `/proc/iomem`, firmware memmaps, device trees and
//! command lines, a few kexec-tools argument lists, and every kept crash reproducer of
//! `loader/tests/fixtures/fuzz-regressions/<target>/`. They go to
//! `target/fuzz-corpus/<target>/`, which libFuzzer also grows with what it finds.
//!
//! Only stable Rust is needed: `cargo fuzz` with `-s none` (no sanitizer, which would need
//! nightly's `-Zsanitizer`) instruments with `-Cpasses=sancov-module`, which stable rustc
//! accepts. Panics (including the overflow checks and debug assertions the fuzz profile
//! turns on) abort, and libFuzzer saves the input as a crash file.

use crate::cmd::Cmd;
use crate::error::{Error, Result};
use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;
use warmboot::image::pe::{MACHINE_ARM64, MACHINE_X86_64};
use warmboot::synth::arm64::{gzip, zboot, Arm64Builder};
use warmboot::synth::elf::ElfBuilder;
use warmboot::synth::initrd::{early_plus_gzip, newc, newc_gzip};
use warmboot::synth::riscv64::Riscv64Builder;
use warmboot::synth::uki::UkiBuilder;
use warmboot::synth::x86::BzImageBuilder;

/// The version `.ci/run` installs (`cargo install --locked cargo-fuzz --version ...`).
pub const CARGO_FUZZ_VERSION: &str = "0.13.1";

/// Every target of fuzz/Cargo.toml, in the order they run.
pub const TARGETS: &[&str] = &[
    "kernel_image",
    "bzimage",
    "elf",
    "arm64_image",
    "riscv64_image",
    "uki",
    "initrd",
    "iomem",
    "firmware_memmap",
    "dtb_read",
    "dtb_patch",
    "cmdline",
    "kexec_args",
    "kernel_data",
    "plan",
];

/// Extra time a target's process gets beyond `-max_total_time` (libFuzzer checks the limit
/// between inputs, and loads the corpus first) before it is killed.
const GRACE: Duration = Duration::from_secs(120);

/// Longest one input may run before libFuzzer reports it as a hang (a timeout crash).
const INPUT_TIMEOUT_SECS: u64 = 30;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seconds each target runs.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Run only this target (repeatable); default: all of them.
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
}

/// Every target for `seconds` each (what CI runs).
pub fn fuzz_args(seconds: u64) -> Args {
    Args {
        seconds,
        targets: Vec::new(),
    }
}

/// What one target's run found.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    target: String,
    runs: Option<u64>,
    corpus: usize,
    /// Crash, timeout, leak or out-of-memory reproducers libFuzzer wrote.
    crashes: Vec<PathBuf>,
    /// Why the process failed (exit status, killed at the time limit), if it did.
    failure: Option<String>,
    log: PathBuf,
}

pub fn run(root: &Path, args: &Args) -> Result<()> {
    let targets = select(&args.targets)?;
    if !Cmd::new("cargo").args(["fuzz", "--version"]).succeeds()? {
        return Err(Error::Fuzz {
            reason: format!(
                "cargo-fuzz is not installed (cargo install --locked cargo-fuzz --version {CARGO_FUZZ_VERSION})"
            ),
        });
    }
    let corpus_root = root.join("target/fuzz-corpus");
    let artifacts_root = root.join("target/fuzz-artifacts");
    let logs = root.join("target/fuzz-logs");
    let seeds = seeds(root)?;
    for t in &targets {
        let dir = corpus_root.join(t);
        fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
        for (name, bytes) in seeds
            .iter()
            .filter(|s| s.target == *t)
            .map(|s| (&s.name, &s.bytes))
        {
            let path = dir.join(format!("seed-{name}"));
            fs::write(&path, bytes).map_err(Error::io(&path))?;
        }
    }
    fs::create_dir_all(&logs).map_err(Error::io(&logs))?;

    // One build (of every target, unless only one is chosen: `cargo fuzz build` takes at
    // most one); the runs below find it up to date.
    let mut build = cargo_fuzz_command(root, "build");
    if let [only] = targets.as_slice() {
        build = build.arg(only);
    }
    build.run()?;

    let mut outcomes = Vec::new();
    for t in &targets {
        let artifacts = artifacts_root.join(t);
        // Reproducers of earlier runs are not this run's findings.
        if artifacts.exists() {
            fs::remove_dir_all(&artifacts).map_err(Error::io(&artifacts))?;
        }
        fs::create_dir_all(&artifacts).map_err(Error::io(&artifacts))?;
        let corpus = corpus_root.join(t);
        let log = logs.join(format!("{t}.log"));
        let cmd = cargo_fuzz_command(root, "run")
            .arg(t)
            .arg(&corpus)
            .arg("--")
            .args([
                format!("-max_total_time={}", args.seconds),
                format!("-timeout={INPUT_TIMEOUT_SECS}"),
                "-print_final_stats=1".to_string(),
            ])
            .arg(format!("-artifact_prefix={}/", artifacts.display()));
        let bound = Duration::from_secs(args.seconds) + GRACE;
        // libFuzzer is verbose: its output goes to the log, the summary names the log.
        let failure = match cmd.run_logged(&log, bound)? {
            None => Some(format!("still running after {}s, killed", bound.as_secs())),
            Some(status) if !status.success() => Some(format!("exited with {status}")),
            Some(_) => None,
        };
        let text = read_lossy(&log)?;
        let outcome = Outcome {
            target: t.clone(),
            runs: executed_units(&text),
            corpus: count_files(&corpus)?,
            crashes: list_files(&artifacts)?,
            failure,
            log,
        };
        eprintln!("{}", outcome_line(&outcome));
        outcomes.push(outcome);
    }
    eprintln!("\n{}", summary(&outcomes));
    let bad: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| !o.crashes.is_empty() || o.failure.is_some())
        .collect();
    if bad.is_empty() {
        return Ok(());
    }
    for o in &bad {
        for c in &o.crashes {
            eprintln!(
                "xtask fuzz: {} crashed on {}; reproduce with: (cd {} && cargo fuzz run -s none {} {})",
                o.target,
                c.display(),
                root.display(),
                o.target,
                c.display()
            );
        }
        // A crash also makes libFuzzer exit non-zero; only say so when nothing explains it.
        if let (true, Some(f)) = (o.crashes.is_empty(), &o.failure) {
            eprintln!("xtask fuzz: {}: {f}; log: {}", o.target, o.log.display());
        }
    }
    Err(Error::Fuzz {
        reason: format!(
            "{} target(s) failed: {}",
            bad.len(),
            bad.iter()
                .map(|o| o.target.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

/// The chosen targets, checked against [`TARGETS`]; all of them when none is named.
fn select(names: &[String]) -> Result<Vec<String>> {
    if names.is_empty() {
        return Ok(TARGETS.iter().map(|t| t.to_string()).collect());
    }
    for n in names {
        if !TARGETS.contains(&n.as_str()) {
            return Err(Error::Fuzz {
                reason: format!("no fuzz target {n:?} (targets: {})", TARGETS.join(", ")),
            });
        }
    }
    Ok(names.to_vec())
}

/// `cargo fuzz <sub> -s none` for fuzz/, built with the fuzz crate's release profile
/// (optimised, with overflow checks and debug assertions).
fn cargo_fuzz_command(root: &Path, sub: &str) -> Cmd {
    Cmd::new("cargo")
        .cwd(root)
        .args(["fuzz", sub, "--fuzz-dir", "fuzz", "-s", "none"])
}

fn read_lossy(path: &Path) -> Result<String> {
    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(Error::io(path))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// libFuzzer's `stat::number_of_executed_units` (printed with `-print_final_stats=1`).
fn executed_units(log: &str) -> Option<u64> {
    log.lines()
        .rev()
        .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
        .and_then(|n| n.trim().parse().ok())
}

fn list_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for e in fs::read_dir(dir).map_err(Error::io(dir))? {
        let e = e.map_err(Error::io(dir))?;
        if e.file_type().map_err(Error::io(e.path()))?.is_file() {
            files.push(e.path());
        }
    }
    files.sort();
    Ok(files)
}

fn count_files(dir: &Path) -> Result<usize> {
    Ok(list_files(dir)?.len())
}

fn outcome_line(o: &Outcome) -> String {
    let runs = o.runs.map_or_else(|| "?".to_string(), |r| r.to_string());
    let verdict = if !o.crashes.is_empty() {
        "CRASH"
    } else if o.failure.is_some() {
        "FAIL"
    } else {
        "ok"
    };
    format!(
        "  {verdict:<5}  {:<16} {runs:>12} runs  {:>6} corpus  {} crashes",
        o.target,
        o.corpus,
        o.crashes.len()
    )
}

fn summary(outcomes: &[Outcome]) -> String {
    let mut s = String::from("==> fuzz summary\n");
    for o in outcomes {
        s.push_str(&outcome_line(o));
        s.push('\n');
    }
    s
}

/// One seed file of one target.
#[derive(Debug, Clone)]
struct Seed {
    target: &'static str,
    name: String,
    bytes: Vec<u8>,
}

/// Every target's seeds: synthetic images, fixture files, and the kept crash reproducers.
fn seeds(root: &Path) -> Result<Vec<Seed>> {
    let mut out = Vec::new();
    let mut add = |target: &'static str, name: &str, bytes: Vec<u8>| {
        out.push(Seed {
            target,
            name: name.to_string(),
            bytes,
        })
    };

    let kernels = synthetic_kernels();
    for (name, bytes, target) in &kernels {
        add(target, name, bytes.clone());
        add("kernel_image", name, bytes.clone());
        add("plan", name, bytes.clone());
    }
    let bz = BzImageBuilder::new().build();
    let image = Arm64Builder::default().build();
    let cmdline = "console=ttyS0 quiet".to_string();
    let initrd = newc_gzip(&[("init", b"#!/bin/sh\n")]);
    let mut x86_uki = UkiBuilder::new(MACHINE_X86_64, bz);
    x86_uki.cmdline = Some(cmdline.clone());
    x86_uki.osrel = Some("ID=debian\nVERSION_ID=12\nPRETTY_NAME=\"Debian 12\"\n".into());
    x86_uki.uname = Some("6.1.0-synth".into());
    x86_uki.initrd = Some(initrd.clone());
    x86_uki.signed = true;
    let mut arm_uki = UkiBuilder::new(MACHINE_ARM64, image);
    arm_uki.cmdline = Some(cmdline);
    arm_uki.dtbs = fixture_files(root, "sys/firmware/fdt")?
        .into_iter()
        .take(1)
        .map(|(_, b)| b)
        .collect();
    arm_uki.profiles = vec![(".profile".into(), b"ID=default\nTITLE=Default\n".to_vec())];
    for (name, uki) in [("x86_64", x86_uki), ("arm64", arm_uki)] {
        add("uki", name, uki.build());
        add("kernel_image", &format!("uki-{name}"), uki.build());
    }

    add("initrd", "newc", newc(&[("init", b"#!/bin/sh\n")]));
    add("initrd", "newc-gzip", initrd);
    add(
        "initrd",
        "early-plus-gzip",
        early_plus_gzip(
            &[("kernel/x86/microcode/GenuineIntel.bin", b"ucode")],
            &[("init", b"#!/bin/sh\n")],
        ),
    );

    for (machine, bytes) in fixture_files(root, "proc/iomem")? {
        add("iomem", &machine, bytes);
    }
    for (machine, bytes) in fixture_files(root, "sys/firmware/fdt")? {
        add("dtb_read", &machine, bytes.clone());
        add("dtb_patch", &machine, bytes);
    }
    for (machine, bytes) in fixture_files(root, "proc/cmdline")? {
        add("cmdline", &machine, bytes);
    }
    add(
        "cmdline",
        "loader-words",
        b"BOOT_IMAGE=/vmlinuz root=/dev/vda ro initrd=\\initrd.img crashkernel=256M nokaslr -- init-arg".to_vec(),
    );
    for (machine, bytes) in firmware_memmaps(root)? {
        add("firmware_memmap", &machine, bytes);
    }
    for (name, bytes) in kernel_data(root)? {
        add("kernel_data", &name, bytes);
    }
    for (i, args) in KEXEC_ARGS.iter().enumerate() {
        add("kexec_args", &i.to_string(), args.join("\0").into_bytes());
    }

    // Every kept reproducer keeps being fuzzed (and is a regression test of the loader).
    let kept = root.join("loader/tests/fixtures/fuzz-regressions");
    if kept.is_dir() {
        for t in TARGETS {
            let dir = kept.join(t);
            if dir.is_dir() {
                for f in list_files(&dir)? {
                    let bytes = fs::read(&f).map_err(Error::io(&f))?;
                    let name = f.file_name().map_or_else(String::new, |n| {
                        format!("regression-{}", n.to_string_lossy())
                    });
                    add(t, &name, bytes);
                }
            }
        }
    }
    Ok(out)
}

/// Seeds of the `kernel_data` target: a zero page built for the synthetic bzImage with a
/// fixture's e820 table, that table packed, a setup_data chain at 0x1000, the arm64
/// vmcoreinfo note of the fixture vmcore header, the captured /proc/vmcore headers of
/// loader/tests/fixtures/vmcore, and the fixtures' small sysfs files.
fn kernel_data(root: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    use warmboot::x86::{bootparams, e820, setup_data::SetupDataChain};
    let bad = |what: &str, e: warmboot::Error| Error::Fuzz {
        reason: format!("building the {what} seed: {e}"),
    };
    let mut out = Vec::new();
    let firmware: Vec<_> = firmware_memmaps(root)?
        .into_iter()
        .take(1)
        .flat_map(|(_, bytes)| {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let fields: Vec<String> = text.split('\0').map(str::to_owned).collect();
            fields
                .chunks_exact(3)
                .filter_map(|c| warmboot::memmap::parse_firmware_entry(&c[0], &c[1], &c[2]).ok())
                .collect::<Vec<_>>()
        })
        .collect();
    let table = e820::normal_e820(&firmware).map_err(|e| bad("e820", e))?;
    out.push(("e820".to_string(), e820::encode_entries(&table)));
    let bz = BzImageBuilder::new().build();
    let header = warmboot::image::bzimage::BzImage::parse(&bz).map_err(|e| bad("bzImage", e))?;
    let input = bootparams::ZeroPageInput {
        setup_header: bootparams::setup_header(&bz, header.header_end)
            .map_err(|e| bad("setup header", e))?,
        cmdline_addr: 0x2_0000,
        cmdline_len: 19,
        initrd: Some((0x3a7d_d000, 0x18_2000)),
        e820: table,
        acpi_rsdp: Some(0xf_5a40),
        efi: None,
        setup_data: 0,
    };
    out.push((
        "zero-page".to_string(),
        bootparams::build_zero_page(&input).map_err(|e| bad("zero page", e))?,
    ));
    let (chain, _) = SetupDataChain::build(0x1000, vec![(1, vec![0xaa; 40]), (4, vec![1, 2, 3])])
        .map_err(|e| bad("setup_data", e))?;
    out.push(("setup-data".to_string(), chain));
    let vmcore = root.join(
        "loader/tests/fixtures/machines/reference/arm64-direct-m1024-crashkernel/vmcore-head.bin",
    );
    if vmcore.is_file() {
        out.push((
            "vmcore-head".to_string(),
            fs::read(&vmcore).map_err(Error::io(&vmcore))?,
        ));
    }
    // Capture kernels' /proc/vmcore headers of every loader (crash/vmcore_check.rs).
    let dumps = root.join("loader/tests/fixtures/vmcore");
    if dumps.is_dir() {
        let mut dirs: Vec<PathBuf> = fs::read_dir(&dumps)
            .map_err(Error::io(&dumps))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        dirs.sort();
        for dir in dirs {
            let head = dir.join("vmcore-head.bin");
            if head.is_file() {
                let name = dir
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                out.push((
                    format!("vmcore-head-{name}"),
                    fs::read(&head).map_err(Error::io(&head))?,
                ));
            }
        }
    }
    for rel in [
        "sys/kernel/vmcoreinfo",
        "sys/kernel/kexec_crash_size",
        "sys/kernel/kexec_loaded",
        "sys/kernel/security/lockdown",
        "sys/firmware/efi/systab",
    ] {
        for (machine, bytes) in fixture_files(root, rel)?.into_iter().take(1) {
            out.push((format!("{machine}-{}", rel.replace('/', "-")), bytes));
        }
    }
    Ok(out)
}

/// kexec-tools command lines (argv without argv\[0\]), one seed each.
const KEXEC_ARGS: &[&[&str]] = &[
    &[
        "-l",
        "/boot/vmlinuz",
        "--initrd=/boot/initrd.img",
        "--reuse-cmdline",
    ],
    &[
        "-p",
        "/boot/vmlinuz",
        "--initrd",
        "/boot/initrd.img",
        "--append=console=ttyS0 irqpoll",
        "-s",
    ],
    &[
        "-l",
        "/boot/Image",
        "--dtb=/boot/board.dtb",
        "--command-line=root=/dev/vda",
    ],
    &["-e"],
    &["-f", "-x"],
    &["-u", "-p"],
    &["-S", "-l"],
    &["--print-ckr-size"],
    &["-d", "/boot/vmlinuz", "--append", "quiet"],
    &["-h"],
];

/// (name, bytes, target) of every synthetic kernel: bzImage, ELF, arm64 and riscv64
/// variants.
fn synthetic_kernels() -> Vec<(String, Vec<u8>, &'static str)> {
    use warmboot::compression::Compression;
    let mut out = Vec::new();
    let bz = [
        ("default", BzImageBuilder::new()),
        ("efi-signed", BzImageBuilder::new().signed(true)),
        ("gzip", BzImageBuilder::new().compression(Compression::Gzip)),
        (
            "elf-payload",
            BzImageBuilder::new().compression(Compression::None),
        ),
        ("protocol-2.12", BzImageBuilder::new().protocol(0x020c)),
        ("setup-sects-0", BzImageBuilder::new().setup_sects(0)),
    ];
    for (name, b) in bz {
        out.push((format!("bzimage-{name}"), b.build(), "bzimage"));
    }
    out.push(("elf-x86_64".into(), ElfBuilder::x86_64().build(), "elf"));
    out.push(("elf-aarch64".into(), ElfBuilder::aarch64().build(), "elf"));
    let plain = Arm64Builder::default().build();
    let stub = Arm64Builder {
        efi_stub: true,
        signed: true,
        ..Arm64Builder::default()
    }
    .build();
    out.push(("arm64-image".into(), plain.clone(), "arm64_image"));
    out.push(("arm64-efi-stub".into(), stub.clone(), "arm64_image"));
    out.push(("arm64-image-gz".into(), gzip(&plain), "arm64_image"));
    out.push((
        "arm64-zboot-gzip".into(),
        zboot(&stub, Compression::Gzip, "gzip", 0, false),
        "arm64_image",
    ));
    out.push((
        "arm64-zboot-zstd".into(),
        zboot(&stub, Compression::Zstd, "zstd22", 0x8000, true),
        "arm64_image",
    ));
    let riscv = Riscv64Builder::default();
    out.push(("riscv64-efi-stub".into(), riscv.build(), "riscv64_image"));
    out.push((
        "riscv64-image".into(),
        Riscv64Builder {
            efi_stub: false,
            ..riscv
        }
        .build(),
        "riscv64_image",
    ));
    out
}

/// `(machine name, bytes)` of `loader/tests/fixtures/machines/*/<rel>`, by machine name.
fn fixture_files(root: &Path, rel: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    for (machine, dir) in fixture_machines(root)? {
        let path = dir.join(rel);
        if path.is_file() {
            out.push((machine, fs::read(&path).map_err(Error::io(&path))?));
        }
    }
    Ok(out)
}

/// Each fixture machine's `/sys/firmware/memmap` in the `firmware_memmap` target's input
/// format: the `start`, `end` and `type` files' contents of every entry, NUL-separated.
fn firmware_memmaps(root: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    for (machine, dir) in fixture_machines(root)? {
        let memmap = dir.join("sys/firmware/memmap");
        if !memmap.is_dir() {
            continue;
        }
        let mut entries: Vec<(u32, PathBuf)> = Vec::new();
        for e in fs::read_dir(&memmap).map_err(Error::io(&memmap))? {
            let e = e.map_err(Error::io(&memmap))?;
            if let Some(n) = e.file_name().to_str().and_then(|n| n.parse().ok()) {
                entries.push((n, e.path()));
            }
        }
        entries.sort();
        let mut fields = Vec::new();
        for (_, entry) in entries {
            for f in ["start", "end", "type"] {
                let p = entry.join(f);
                fields.push(fs::read(&p).map_err(Error::io(&p))?);
            }
        }
        out.push((machine, fields.join(&0u8)));
    }
    Ok(out)
}

/// `(name, directory)` of every fixture machine, sorted.
fn fixture_machines(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    let dir = root.join("loader/tests/fixtures/machines");
    let mut out = Vec::new();
    for e in fs::read_dir(&dir).map_err(Error::io(&dir))? {
        let e = e.map_err(Error::io(&dir))?;
        if e.file_type().map_err(Error::io(e.path()))?.is_dir() {
            out.push((e.file_name().to_string_lossy().into_owned(), e.path()));
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        crate::project_root()
    }

    #[test]
    fn every_target_has_seeds_its_parser_accepts() {
        let seeds = seeds(&root()).unwrap();
        for t in TARGETS {
            let mine: Vec<&Seed> = seeds.iter().filter(|s| s.target == *t).collect();
            assert!(!mine.is_empty(), "{t} has no seeds");
        }
        // The seeds are valid inputs of their parsers, so fuzzing starts past the checks.
        for s in &seeds {
            if s.name.starts_with("regression-") {
                continue;
            }
            let ok = match s.target {
                "kernel_image" | "bzimage" | "elf" | "arm64_image" | "riscv64_image" | "uki"
                | "plan" => warmboot::image::KernelImage::parse(&s.bytes).is_ok(),
                "initrd" => warmboot::initrd::InitrdInfo::from_bytes(&s.bytes).is_ok(),
                "iomem" => warmboot::memmap::MemoryMap::parse(
                    &String::from_utf8_lossy(&s.bytes),
                    Vec::new(),
                )
                .is_ok(),
                "dtb_read" | "dtb_patch" => warmboot::dtb::render(&s.bytes).is_ok(),
                "firmware_memmap" => {
                    let text = String::from_utf8_lossy(&s.bytes).into_owned();
                    let fields: Vec<&str> = text.split('\0').collect();
                    fields.len().is_multiple_of(3)
                        && fields.chunks_exact(3).all(|c| {
                            warmboot::memmap::parse_firmware_entry(c[0], c[1], c[2]).is_ok()
                        })
                }
                "kexec_args" => {
                    let text = String::from_utf8_lossy(&s.bytes).into_owned();
                    let args: Vec<String> = text.split('\0').map(str::to_owned).collect();
                    warmboot::kexec_compat::parse(&args).is_ok()
                }
                "cmdline" => !s.bytes.is_empty(),
                // Many small parsers, each seed meant for one of them.
                "kernel_data" => match s.name.as_str() {
                    "e820" => warmboot::x86::e820::decode_entries(&s.bytes).is_ok(),
                    "zero-page" => warmboot::x86::bootparams::parse_zero_page(&s.bytes).is_ok(),
                    "setup-data" => {
                        warmboot::x86::setup_data::parse_chain(&s.bytes, 0x1000, 0x1000)
                            .is_ok_and(|nodes| nodes.len() == 2)
                    }
                    n if n.starts_with("vmcore-head") => {
                        warmboot::crash::vmcore_check::header_len(&s.bytes).is_ok()
                    }
                    _ => !s.bytes.is_empty(),
                },
                other => panic!("seed for unknown target {other}"),
            };
            assert!(
                ok,
                "seed {} of {} is not accepted by its parser",
                s.name, s.target
            );
        }
    }

    #[test]
    fn targets_match_the_fuzz_crate() {
        let manifest = fs::read_to_string(root().join("fuzz/Cargo.toml")).unwrap();
        let mut declared: Vec<&str> = manifest
            .lines()
            .filter_map(|l| l.strip_prefix("name = \""))
            .filter_map(|l| l.strip_suffix('"'))
            .filter(|n| *n != "warmboot-fuzz")
            .collect();
        declared.sort_unstable();
        let mut ours = TARGETS.to_vec();
        ours.sort_unstable();
        assert_eq!(declared, ours);
    }

    #[test]
    fn unknown_target_is_refused_with_the_list() {
        let err = select(&["nope".to_string()]).unwrap_err().to_string();
        assert!(err.contains("\"nope\"") && err.contains("bzimage"), "{err}");
        assert_eq!(select(&[]).unwrap().len(), TARGETS.len());
    }

    #[test]
    fn reads_libfuzzer_final_stats() {
        let log = "#2 INITED cov: 10\nDone 1234 runs in 3 second(s)\nstat::number_of_executed_units: 1234\nstat::average_exec_per_sec:     411\n";
        assert_eq!(executed_units(log), Some(1234));
        assert_eq!(
            executed_units("==123== ERROR: libFuzzer: deadly signal\n"),
            None
        );
    }

    #[test]
    fn outcome_line_names_crashes() {
        let o = Outcome {
            target: "bzimage".into(),
            runs: Some(42),
            corpus: 7,
            crashes: vec![PathBuf::from("crash-1")],
            failure: Some("exited with exit status: 77".into()),
            log: PathBuf::from("bzimage.log"),
        };
        assert_eq!(
            outcome_line(&o),
            "  CRASH  bzimage                    42 runs       7 corpus  1 crashes"
        );
    }
}
