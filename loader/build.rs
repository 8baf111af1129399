//! Builds warmboot's purgatory (`load --verify`, see src/purgatory.rs) for both
//! architectures and embeds it: the `warmboot-purgatory` binary is compiled with a nested
//! cargo for x86_64-unknown-none and aarch64-unknown-none-softfloat (rustup targets; .ci/run
//! installs them), then its loaded bytes are cut out of the ELF into one flat image from
//! address 0. Nothing binary is committed.
//!
//! The image must run wherever the plan puts it: it is built position-independent, and the
//! only relocations allowed are R_*_RELATIVE ones (GOT slots), which the loader applies
//! for the placed address; anything else (a symbol relocation, an interpreter, a
//! non-contiguous layout) fails this build.

use goblin::elf::{program_header::PT_LOAD, Elf};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

/// (rustup target, name in the generated code, R_*_RELATIVE type)
const TARGETS: &[(&str, &str, u32)] = &[
    ("x86_64-unknown-none", "X86_64", 8),
    ("aarch64-unknown-none-softfloat", "ARM64", 1027),
];

fn main() {
    if let Err(e) = run() {
        eprintln!("error: building the purgatory for `warmboot load --verify`: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let manifest = PathBuf::from(env("CARGO_MANIFEST_DIR")?);
    let workspace = manifest
        .parent()
        .ok_or("no workspace directory")?
        .to_owned();
    let out = PathBuf::from(env("OUT_DIR")?);
    for f in ["src", "link.ld", "Cargo.toml", "build.rs"] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join("purgatory").join(f).display()
        );
    }
    let cargo = env("CARGO")?;
    let target_dir = out.join("purgatory-target");
    let mut code = String::new();
    println!("cargo:rerun-if-env-changed={REQUIRE}");
    let missing = missing_targets()?;
    if !missing.is_empty() {
        let install = format!("rustup target add {}", missing.join(" "));
        if std::env::var(REQUIRE).is_ok_and(|v| v == "1") {
            return Err(format!(
                "the purgatory's targets are not installed ({REQUIRE}=1): {install}"
            ));
        }
        // A warmboot without `load --verify`, which then says how to get it. Installing
        // the targets reruns this script (rerun-if-changed on their directories).
        println!(
            "cargo:warning=building warmboot WITHOUT `load --verify`: its purgatory needs the bare-metal targets ({install})"
        );
        code.push_str("/// Built without the purgatory's targets.\npub const MISSING_TARGETS: Option<&str> = Some(");
        let _ = writeln!(code, "{install:?});");
        for (_, name, _) in TARGETS {
            let _ = writeln!(
                code,
                "pub const {name}: Image = Image {{ bytes: &[], entry: 0, params: 0, relative: &[] }};"
            );
        }
        let generated = out.join("purgatory_images.rs");
        return std::fs::write(&generated, code)
            .map_err(|e| format!("{}: {e}", generated.display()));
    }
    code.push_str(
        "/// Built with both targets.\npub const MISSING_TARGETS: Option<&str> = None;\n",
    );
    for (target, name, relative) in TARGETS {
        let mut cmd = Command::new(&cargo);
        cmd.current_dir(&workspace)
            .args(["build", "--locked", "--release", "-p", "warmboot-purgatory"])
            .args(["--bin", "purgatory", "--target", target, "--target-dir"])
            .arg(&target_dir);
        // The outer build's settings (host flags, clippy, another target) are not ours.
        for var in [
            "RUSTFLAGS",
            "CARGO_ENCODED_RUSTFLAGS",
            "CARGO_BUILD_RUSTFLAGS",
            "CARGO_BUILD_TARGET",
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_TARGET_DIR",
            "RUSTC_WRAPPER",
            "RUSTC_WORKSPACE_WRAPPER",
            "CARGO_PRIMARY_PACKAGE",
        ] {
            cmd.env_remove(var);
        }
        // pie: every address is PC-relative or a RELATIVE relocation the loader applies.
        // sha2_backend="soft": sha2's portable code, no SHA-NI/NEON detection on bare
        // metal (purgatory/Cargo.toml). The flags are separated by 0x1f.
        cmd.env(
            "CARGO_ENCODED_RUSTFLAGS",
            "-Crelocation-model=pie\x1f--cfg\x1fsha2_backend=\"soft\"",
        );
        let status = cmd
            .status()
            .map_err(|e| format!("cannot run {cargo}: {e}"))?;
        if !status.success() {
            return Err(format!(
                "cargo build of the purgatory for {target} failed ({status}); is the target installed? (rustup target add {target})"
            ));
        }
        let elf_path = target_dir.join(target).join("release").join("purgatory");
        let data = std::fs::read(&elf_path).map_err(|e| format!("{}: {e}", elf_path.display()))?;
        let flat = flatten(&data, *relative).map_err(|e| format!("{}: {e}", elf_path.display()))?;
        let bin = out.join(format!("purgatory-{target}.bin"));
        std::fs::write(&bin, &flat.bytes).map_err(|e| format!("{}: {e}", bin.display()))?;
        let _ = writeln!(
            code,
            "/// The purgatory built for {target}.\npub const {name}: Image = Image {{ bytes: include_bytes!({:?}), entry: {:#x}, params: {:#x}, relative: &{:#x?} }};",
            bin.display().to_string(),
            flat.entry,
            flat.params,
            flat.relative
        );
    }
    let generated = out.join("purgatory_images.rs");
    std::fs::write(&generated, code).map_err(|e| format!("{}: {e}", generated.display()))
}

/// With this set to 1 (as `cargo xtask ci` does) missing targets fail the build instead
/// of building without `--verify`.
const REQUIRE: &str = "WARMBOOT_REQUIRE_PURGATORY";

/// The purgatory's rustup targets whose standard library is not installed.
fn missing_targets() -> Result<Vec<&'static str>, String> {
    let rustc = env("RUSTC")?;
    let mut missing = Vec::new();
    for (target, _, _) in TARGETS {
        let out = Command::new(&rustc)
            .args(["--print", "target-libdir", "--target", target])
            .output()
            .map_err(|e| format!("cannot run {rustc}: {e}"))?;
        let libdir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        // The target's directory (rustlib/<target>) changes when rustup adds it.
        if let Some(dir) = libdir.parent() {
            println!("cargo:rerun-if-changed={}", dir.display());
        }
        let has_core = std::fs::read_dir(&libdir).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("libcore-"))
        });
        if !out.status.success() || !has_core {
            missing.push(*target);
        }
    }
    Ok(missing)
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

struct Flat {
    bytes: Vec<u8>,
    entry: u64,
    params: u64,
    /// (offset, addend) of each u64 slot to set to load address + addend.
    relative: Vec<(u64, u64)>,
}

/// The memory image from address 0 to `__params` (PT_LOAD bytes, zero-filled gaps and bss).
fn flatten(data: &[u8], relative_type: u32) -> Result<Flat, String> {
    let elf = Elf::parse(data).map_err(|e| format!("not an ELF file: {e}"))?;
    if elf.interpreter.is_some() {
        return Err("has an interpreter".to_string());
    }
    let sym = |name: &str| {
        elf.syms
            .iter()
            .find(|s| elf.strtab.get_at(s.st_name) == Some(name))
            .map(|s| s.st_value)
            .ok_or(format!("no symbol {name}"))
    };
    let entry = sym("purgatory_entry")?;
    let params = sym("__params")?;
    if params % 16 != 0 || entry >= params || params > 1 << 20 {
        return Err(format!(
            "bad layout: entry {entry:#x}, __params {params:#x}"
        ));
    }
    let mut bytes = vec![0u8; params as usize];
    for ph in elf.program_headers.iter().filter(|p| p.p_type == PT_LOAD) {
        let end = ph
            .p_vaddr
            .checked_add(ph.p_memsz)
            .ok_or("PT_LOAD overflows")?;
        if end > params || ph.p_filesz > ph.p_memsz {
            return Err(format!(
                "PT_LOAD at {:#x}..{end:#x} is not inside 0..__params ({params:#x})",
                ph.p_vaddr
            ));
        }
        let file = data
            .get(ph.p_offset as usize..(ph.p_offset + ph.p_filesz) as usize)
            .ok_or("PT_LOAD outside the file")?;
        bytes[ph.p_vaddr as usize..(ph.p_vaddr + ph.p_filesz) as usize].copy_from_slice(file);
    }
    if !elf.dynrels.is_empty() || !elf.pltrelocs.is_empty() {
        return Err("has REL or PLT relocations".to_string());
    }
    let mut relative = Vec::new();
    for r in elf.dynrelas.iter() {
        let addend = r.r_addend.ok_or("relocation without addend")?;
        if r.r_type != relative_type
            || r.r_sym != 0
            || addend < 0
            || r.r_offset % 8 != 0
            || r.r_offset + 8 > params
        {
            return Err(format!(
                "relocation type {} at {:#x} is not a RELATIVE one the loader can apply",
                r.r_type, r.r_offset
            ));
        }
        relative.push((r.r_offset, addend as u64));
    }
    Ok(Flat {
        bytes,
        entry,
        params,
        relative,
    })
}
