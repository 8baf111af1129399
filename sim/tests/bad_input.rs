//! The bad-input matrix of `warmboot` (issue 9): the whole command line, run in-process
//! against the simulator on copies of the fixture machines, with bad files, bad machines
//! and injected kernel errors. Every case asserts the exit status, that stderr is exactly
//! one line starting `warmboot: ` naming the file (where there is one) and the reason, and
//! that the simulated kernel holds what it held before (or, for a crash load that failed
//! after the kernel freed the old crash image, no crash image; kernel/kexec.c).

mod common;

use common::cli::{assert_one_line_failure, images, run, Machine};
use nix::errno::Errno;
use std::path::{Path, PathBuf};
use warmboot::arch::Arch;
use warmboot::host::Lockdown;
use warmboot::synth::arm64::{gzip, Arm64Builder};
use warmboot::synth::elf::ElfBuilder;
use warmboot::synth::x86::BzImageBuilder;
use warmboot_sim::faults::{Call, Faults};
use warmboot_sim::Sim;

/// What is loaded before the failing command.
#[derive(Debug, Clone, Copy)]
enum Preload {
    Nothing,
    Normal,
    NormalAndCrash,
}

/// What the failing command may do to the crash image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Crash {
    Unchanged,
    /// A crash load that got past the kernel's early checks: the old crash image is gone.
    Freed,
}

struct Case {
    name: &'static str,
    arch: Arch,
    preload: Preload,
    /// Edits the machine copy, writes the inputs; returns the arguments and the file the
    /// error must name.
    make: fn(&Machine) -> (Vec<String>, Option<PathBuf>),
    /// How the simulated kernel differs (no kexec_file, lockdown).
    sim: fn(Sim) -> Sim,
    /// Injected after the preload.
    faults: fn() -> Faults,
    /// Substrings of the error line.
    reason: &'static [&'static str],
    crash: Crash,
    /// Calls the simulated kernel must not have seen (e.g. no reboot when nothing is loaded).
    never: &'static [&'static str],
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// `load KERNEL` for machine `m` with `extra` arguments.
fn load(m: &Machine, kernel: &Path, extra: &[&str]) -> Vec<String> {
    let mut a = m.load_args(kernel);
    if extra.contains(&"--command-line") {
        // Replaces the machine's console=.
        a.truncate(a.len() - 2);
    }
    a.extend(extra.iter().map(|x| x.to_string()));
    a
}

/// `load` of a good kernel with `extra`, naming that kernel.
fn load_good(m: &Machine, extra: &[&str]) -> (Vec<String>, Option<PathBuf>) {
    let k = m.kernel("new");
    (load(m, &k, extra), Some(k))
}

/// `load` of a kernel made of `data` with `extra`, naming it.
fn load_bytes(m: &Machine, data: &[u8], extra: &[&str]) -> (Vec<String>, Option<PathBuf>) {
    let k = m.file("vmlinuz-bad", data);
    (load(m, &k, extra), Some(k))
}

/// `load` of a good kernel with `--initrd PATH`, naming the initrd.
fn load_initrd(m: &Machine, initrd: PathBuf) -> (Vec<String>, Option<PathBuf>) {
    let k = m.kernel("new");
    (load(m, &k, &["--initrd", &s(&initrd)]), Some(initrd))
}

fn same(s: Sim) -> Sim {
    s
}

fn none() -> Faults {
    Faults::none()
}

const NONE: &[&str] = &[];

fn cases() -> Vec<Case> {
    use Arch::{Arm64, X86_64};
    use Crash::{Freed, Unchanged};
    use Preload::{Normal, NormalAndCrash, Nothing};
    let case = |name, arch, preload, make, reason| Case {
        name,
        arch,
        preload,
        make,
        sim: same,
        faults: none,
        reason,
        crash: Unchanged,
        never: NONE,
    };
    vec![
        // --- the kernel file ---
        case("a text file is not a kernel", X86_64, NormalAndCrash,
            |m| load_bytes(m, b"#!/bin/sh\necho hello\n", &[]),
            &["not a kernel image warmboot understands"]),
        case("an empty kernel file", X86_64, Nothing,
            |m| load_bytes(m, b"", &[]),
            &["file is empty"]),
        case("a missing kernel file", X86_64, Normal,
            |m| { let k = m.missing("vmlinuz-gone"); (load(m, &k, &[]), Some(k)) },
            &["cannot read", "No such file or directory"]),
        case("a directory as kernel", X86_64, Normal,
            |m| { let k = m.dir.path().join("files"); (load(m, &k, &[]), Some(k)) },
            &["is a directory, not a file"]),
        case("a gzip initramfs given as the kernel", X86_64, Normal,
            |m| load_bytes(m, &warmboot::synth::initrd::newc_gzip(&[("init", b"#!/bin/sh\n")]), &[]),
            &["not a kernel image warmboot understands"]),
        case("wrong architecture: an arm64 Image on x86_64", X86_64, NormalAndCrash,
            |m| load_bytes(m, &Arm64Builder::default().build(), &[]),
            &["the kernel is built for arm64, but the target architecture is x86_64"]),
        case("wrong architecture: an x86 bzImage on arm64", Arm64, NormalAndCrash,
            |m| load_bytes(m, &BzImageBuilder::new().build(), &[]),
            &["the kernel is built for x86_64, but the target architecture is arm64"]),
        case("wrong architecture: a 32-bit ARM ELF", X86_64, Normal,
            |m| load_bytes(m, &ElfBuilder::x86_64().machine(40).build(), &[]),
            &["unsupported architecture", "32-bit ARM"]),
        case("an x86 boot protocol too old for a 64-bit entry", X86_64, Normal,
            |m| load_bytes(m, &BzImageBuilder::new().protocol(0x0209).build(), &[]),
            &["x86 boot protocol 2.09 is too old"]),
        case("a bzImage cut inside its setup header", X86_64, NormalAndCrash,
            |m| load_bytes(m, &BzImageBuilder::new().build()[..0x238], &[]),
            &["truncated: bzImage setup header"]),
        case("a bzImage cut one byte short", X86_64, NormalAndCrash,
            |m| { let d = BzImageBuilder::new().build(); load_bytes(m, &d[..d.len() - 1], &["--panic"]) },
            &["truncated: bzImage protected-mode kernel"]),
        case("an EFI-stub arm64 Image cut after its 64-byte header", Arm64, NormalAndCrash,
            |m| load_bytes(m, &Arm64Builder { efi_stub: true, ..Arm64Builder::default() }.build()[..0x40], &[]),
            &["invalid arm64 Image EFI stub: bad PE header"]),
        case("an arm64 Image.gz whose gzip stream is corrupt", Arm64, Normal,
            |m| {
                let mut gz = gzip(&Arm64Builder::default().build());
                let mid = gz.len() / 2;
                gz[mid..mid + 16].fill(0xff);
                load_bytes(m, &gz, &[])
            },
            &["cannot decompress"]),
        // --- the initrd ---
        case("a missing initrd", X86_64, Normal,
            |m| load_initrd(m, m.missing("initrd.img")),
            &["cannot read", "No such file or directory"]),
        case("a directory as initrd", X86_64, NormalAndCrash,
            |m| load_initrd(m, m.dir.path().join("files")),
            &["is a directory, not a file"]),
        case("an unreadable initrd (a symlink loop)", X86_64, Normal,
            |m| {
                let p = m.dir.path().join("files/initrd.loop");
                std::os::unix::fs::symlink(&p, &p).unwrap();
                load_initrd(m, p)
            },
            &["cannot read", "Too many levels of symbolic links"]),
        // --- the command line and options ---
        case("a command line longer than the kernel's cmdline_size", X86_64, Normal,
            |m| { let long = "x".repeat(3000); load_good(m, &["--command-line", &long]) },
            &["command line is 3000 bytes but this kernel accepts at most 2047"]),
        case("a command line longer than a small cmdline_size, with --syscall file", X86_64, Normal,
            |m| {
                let long = "y".repeat(256);
                load_bytes(m, &BzImageBuilder::new().cmdline_size(255).build(), &["--syscall", "file", "--command-line", &long])
            },
            &["command line is 256 bytes but this kernel accepts at most 255"]),
        case("a command line longer than an arm64 kernel's COMMAND_LINE_SIZE", Arm64, Normal,
            |m| { let long = "z".repeat(2048); load_good(m, &["--command-line", &long]) },
            &["command line is 2048 bytes but an arm64 kernel accepts at most 2047"]),
        case("--verify with --syscall file", X86_64, Normal,
            |m| load_good(m, &["--verify", "--syscall", "file"]),
            &["--verify checks warmboot's own kexec_load plan", "--syscall classic"]),
        case("--current where the running kernel cannot be found", X86_64, Normal,
            |m| (vec!["load".into(), "--current".into(), "--arch".into(), "x86_64".into(), "--root".into(), m.root_str()], None),
            &["cannot find the running kernel 6.1.0-56-amd64", "give the kernel file instead of --current"]),
        // --- the machine ---
        case("--panic without a crash reservation", X86_64, Normal,
            |m| { m.without_crashkernel(); load_good(m, &["--panic"]) },
            &["no crash kernel reservation", "crashkernel=SIZE"]),
        case("--panic without a crash reservation on arm64", Arm64, Normal,
            |m| { m.without_crashkernel(); load_good(m, &["--panic", "--syscall", "classic"]) },
            &["no crash kernel reservation"]),
        case("a capture kernel too big for the reservation", X86_64, NormalAndCrash,
            |m| load_bytes(m, &BzImageBuilder::new().init_size(300 << 20).build(), &["--panic"]),
            &["the capture kernel needs 301 MiB but crashkernel= reserved 256 MiB"]),
        case("no free hole in a fragmented memory map", X86_64, NormalAndCrash,
            |m| {
                let mut iomem = String::new();
                for i in 0..64u64 {
                    let s = 0x10_0000 + i * 0x20_0000;
                    iomem += &format!("{:08x}-{:08x} : System RAM\n{:08x}-{:08x} : Reserved\n", s, s + 0xf_ffff, s + 0x10_0000, s + 0x1f_ffff);
                }
                m.iomem(&iomem);
                load_good(m, &[])
            },
            &["no room for kernel", "free: [0x100000-0x200000) (0x100000 bytes)", "and 60 more, none larger"]),
        case("an image larger than RAM", X86_64, Normal,
            |m| {
                m.iomem("00001000-0009fbff : System RAM\n00100000-01ffffff : System RAM\n");
                load_bytes(m, &BzImageBuilder::new().init_size(64 << 20).build(), &["--syscall", "classic"])
            },
            &["no room for kernel: 0x4000000 bytes"]),
        case("a machine root without /proc/iomem", X86_64, Normal,
            |m| {
                let iomem = m.root().join("proc/iomem");
                std::fs::remove_file(&iomem).unwrap();
                let (args, _) = load_good(m, &[]);
                (args, Some(iomem))
            },
            &["cannot read", "No such file or directory"]),
        case("a --dtb that is no device tree", Arm64, NormalAndCrash,
            |m| {
                let dtb = m.file("bad.dtb", b"not a dtb");
                let (args, _) = load_good(m, &["--syscall", "classic", "--dtb", &s(&dtb)]);
                (args, Some(dtb))
            },
            &["truncated: device tree header"]),
        case("a --dtb with a corrupt structure block", Arm64, Normal,
            |m| {
                let mut fdt = std::fs::read(m.root().join("sys/firmware/fdt")).unwrap();
                let off = u32::from_be_bytes(fdt[8..12].try_into().unwrap()) as usize;
                fdt[off..off + 8].fill(0xee);
                let dtb = m.file("corrupt.dtb", &fdt);
                let (args, _) = load_good(m, &["--dtb", &s(&dtb)]);
                (args, Some(dtb))
            },
            &["invalid device tree"]),
        case("a missing --dtb", Arm64, Normal,
            |m| {
                let dtb = m.missing("gone.dtb");
                let (args, _) = load_good(m, &["--dtb", &s(&dtb)]);
                (args, Some(dtb))
            },
            &["cannot read", "No such file or directory"]),
        case("no /sys/firmware/fdt and no --dtb", Arm64, Normal,
            |m| {
                let fdt = m.root().join("sys/firmware/fdt");
                std::fs::remove_file(&fdt).unwrap();
                (load_good(m, &[]).0, Some(fdt))
            },
            &["the file is missing (not a device-tree machine?)", "give --dtb FILE"]),
        // --- what the kernel says ---
        Case {
            faults: || Faults::none().on(Call::KexecFileLoad, Errno::EPERM),
            ..case("not root: kexec_file_load is EPERM", X86_64, Normal,
                |m| load_good(m, &[]),
                &["kexec_file_load(", "EPERM", "needs root (CAP_SYS_BOOT", "the previously loaded kernel is still loaded"])
        },
        Case {
            faults: || Faults::none().on(Call::KexecLoad, Errno::EPERM),
            ..case("not root: kexec_load is EPERM", X86_64, Nothing,
                |m| load_good(m, &["--syscall", "classic"]),
                &["kexec_load(", "needs root (CAP_SYS_BOOT", "nothing was loaded before and nothing is now"])
        },
        Case {
            faults: || Faults::none().on(Call::KexecFileLoad, Errno::EPERM),
            ..case("not root: a crash load keeps the crash kernel (EPERM comes first)", X86_64, NormalAndCrash,
                |m| load_good(m, &["--panic"]),
                &["needs root (CAP_SYS_BOOT", "the previously loaded crash kernel is still loaded"])
        },
        Case {
            faults: || Faults::none().on(Call::KexecLoad, Errno::ENOSYS),
            ..case("kexec unsupported: kexec_load is ENOSYS", X86_64, Normal,
                |m| load_good(m, &["--syscall", "classic"]),
                &["ENOSYS (this kernel was built without CONFIG_KEXEC)", "the previously loaded kernel is still loaded"])
        },
        Case {
            sim: Sim::without_kexec_file,
            ..case("kexec unsupported: no kexec_file_load with --syscall file", X86_64, NormalAndCrash,
                |m| load_good(m, &["--syscall", "file"]),
                &["ENOSYS (this kernel was built without CONFIG_KEXEC_FILE)"])
        },
        Case {
            sim: Sim::without_kexec_file,
            faults: || Faults::none().on(Call::KexecLoad, Errno::ENOSYS),
            ..case("kexec unsupported: auto falls back and kexec_load is ENOSYS too", X86_64, Normal,
                |m| load_good(m, &[]),
                &["ENOSYS (this kernel was built without CONFIG_KEXEC)", "the previously loaded kernel is still loaded"])
        },
        Case {
            sim: |s| s.with_lockdown(Lockdown::Integrity),
            ..case("lockdown with --syscall classic names --syscall file", X86_64, NormalAndCrash,
                |m| { m.lockdown("integrity"); load_good(m, &["--syscall", "classic"]) },
                &["kexec_load is refused under lockdown (integrity)", "use --syscall file", "the previously loaded kernel is still loaded"])
        },
        Case {
            sim: |s| s.with_lockdown(Lockdown::Confidentiality),
            never: &["kexec_load"],
            ..case("lockdown with --verify (warmboot's own plan) names --syscall file", Arm64, Normal,
                |m| { m.lockdown("confidentiality"); load_good(m, &["--verify"]) },
                &["kexec_load is refused under lockdown (confidentiality)", "use --syscall file"])
        },
        Case {
            faults: || Faults::none().on(Call::KexecFileLoad, Errno::EBUSY),
            ..case("kernel busy: EBUSY", X86_64, Normal,
                |m| load_good(m, &[]),
                &["the kernel is busy with another kexec load or reboot; try again", "the previously loaded kernel is still loaded"])
        },
        Case {
            faults: || Faults::none().on(Call::KexecLoad, Errno::EBUSY),
            ..case("kernel busy on a crash load: the crash kernel stays", X86_64, NormalAndCrash,
                |m| load_good(m, &["--panic", "--syscall", "classic"]),
                &["try again", "the previously loaded crash kernel is still loaded"])
        },
        Case {
            faults: || Faults::none().on(Call::KexecLoad, Errno::ENOMEM),
            crash: Freed,
            ..case("a crash load failing with ENOMEM frees the previous crash kernel", X86_64, NormalAndCrash,
                |m| load_good(m, &["--panic", "--syscall", "classic"]),
                &["ENOMEM (the kernel could not find memory", "the kernel unloaded the previous crash kernel when the load began; no crash kernel is loaded now"])
        },
        Case {
            faults: || Faults::none().on(Call::KexecLoad, Errno::EADDRNOTAVAIL),
            crash: Freed,
            ..case("an arm64 crash load failing with EADDRNOTAVAIL frees the previous crash kernel", Arm64, NormalAndCrash,
                |m| load_good(m, &["--panic", "--syscall", "classic"]),
                &["EADDRNOTAVAIL", "no crash kernel is loaded now"])
        },
        Case {
            faults: || Faults::none().on(Call::KexecFileLoad, Errno::EKEYREJECTED),
            ..case("signature enforcement rejects the kernel", X86_64, Normal,
                |m| load_good(m, &["--syscall", "file"]),
                &["the running kernel rejected its signature (kexec_file_load failed: EKEYREJECTED: ", "the previously loaded kernel is still loaded"])
        },
        Case {
            faults: || Faults::none().on(Call::KexecFileLoad, Errno::ENOEXEC),
            ..case("the kernel's kexec_file loader refuses the format", Arm64, Nothing,
                |m| load_good(m, &["--syscall", "file"]),
                &["ENOEXEC (the running kernel's kexec_file loader does not accept this image format)", "nothing was loaded before and nothing is now"])
        },
        Case {
            faults: || Faults::none().at(1, Errno::EIO).on(Call::KexecFileLoad, Errno::EBUSY),
            ..case("a failed load when what was loaded before could not be read", X86_64, Normal,
                |m| load_good(m, &[]),
                &["try again", "; a kernel is still loaded"])
        },
        // --- exec, unload, status ---
        Case {
            never: &["exec"],
            ..case("exec with nothing loaded", X86_64, Nothing,
                |_| (vec!["exec".into()], None),
                &["nothing to exec: no kernel is loaded", "run `warmboot load` first"])
        },
        Case {
            faults: || Faults::none().on(Call::Exec, Errno::EPERM),
            ..case("exec as non-root", X86_64, NormalAndCrash,
                |_| (vec!["exec".into(), "--no-sync".into()], None),
                &["reboot(LINUX_REBOOT_CMD_KEXEC) failed: EPERM", "needs root (CAP_SYS_BOOT", "; the loaded kernel is still loaded"])
        },
        Case {
            faults: || Faults::none().on(Call::Exec, Errno::EBUSY),
            ..case("exec while the kernel is busy", Arm64, Normal,
                |_| (vec!["exec".into(), "--no-sync".into()], None),
                &["EBUSY", "try again", "; the loaded kernel is still loaded"])
        },
        Case {
            faults: || Faults::none().on(Call::Unload, Errno::EPERM),
            ..case("unload as non-root", X86_64, NormalAndCrash,
                |_| (vec!["unload".into(), "--panic".into()], None),
                &["kexec_load(entry=0x0, segments=0, flags=0x3e0001) failed: EPERM", "needs root", "; the crash kernel is still loaded"])
        },
        Case {
            faults: || Faults::none().on(Call::Status, Errno::EACCES),
            ..case("status cannot be read", X86_64, Normal,
                |m| (vec!["status".into(), "--root".into(), m.root_str()], Some(PathBuf::from("/sys/kernel/kexec_loaded"))),
                &["cannot read", "Permission denied"])
        },
    ]
}

/// Runs one case; returns its error line (temporary paths as `<tmp>`) or what went wrong.
fn check(c: &Case) -> Result<String, String> {
    let result = std::panic::catch_unwind(|| check_case(c));
    result.map_err(|e| {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("{}: {msg}", c.name)
    })
}

fn check_case(c: &Case) -> String {
    let m = match c.arch {
        Arch::X86_64 => Machine::x86(),
        Arch::Arm64 => Machine::arm64(),
        Arch::Riscv64 => Machine::riscv64(),
    };
    // The simulated kernel is the untouched fixture's (the case edits only what warmboot
    // reads), with what the case changes in the kernel itself.
    let mut sim = (c.sim)(m.sim());
    match c.preload {
        Preload::Nothing => {}
        Preload::Normal => m.preload(&mut sim, "prev", false),
        Preload::NormalAndCrash => {
            m.preload(&mut sim, "prev", false);
            m.preload(&mut sim, "prev-crash", true);
        }
    }
    let (args, named) = (c.make)(&m);
    sim.set_faults((c.faults)());
    let before = images(&sim);
    let r = run(&mut sim, &args);
    let after = images(&sim);
    let ctx = format!("{}\n  args {args:?}\n  {r:?}", c.name);
    assert_one_line_failure(&r, &ctx);
    if let Some(f) = &named {
        assert!(
            r.err.contains(&format!("{}: ", f.display())),
            "does not name {}: {ctx}",
            f.display()
        );
    }
    for want in c.reason {
        assert!(r.err.contains(want), "no {want:?}: {ctx}");
    }
    // (== rather than assert_eq: a failure would print whole simulated memories)
    assert!(after.0 == before.0, "the normal image changed: {ctx}");
    match c.crash {
        Crash::Unchanged => assert!(after.1 == before.1, "the crash image changed: {ctx}"),
        Crash::Freed => {
            assert!(
                before.1.is_some(),
                "the case needs a crash image first: {ctx}"
            );
            assert!(after.1.is_none(), "the crash image survived: {ctx}");
        }
    }
    assert_eq!(sim.executed(), None, "the machine rebooted: {ctx}");
    let steps = sim.steps();
    for call in c.never {
        assert!(
            !steps.iter().any(|s| s == call),
            "{call} was called ({steps:?}): {ctx}"
        );
    }
    let tmp = m.dir.path().to_str().unwrap();
    format!("{}\n  {}", c.name, r.err.trim_end().replace(tmp, "<tmp>"))
}

#[test]
fn bad_input_matrix() {
    let cases = cases();
    assert!(cases.len() >= 30, "only {} cases", cases.len());
    let results: Vec<Result<String, String>> = cases.iter().map(check).collect();
    let failures: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Every message, for review as a whole.
    let lines: Vec<&str> = results.iter().filter_map(|r| r.as_deref().ok()).collect();
    insta::assert_snapshot!("bad_input_matrix", lines.join("\n"));
}

/// Cut points of a real kernel spread over its headers, setup/PE headers, and the start,
/// middle and end of its payload.
fn cuts(arch: Arch, data: &[u8]) -> Vec<usize> {
    let n = data.len();
    let mut v = match arch {
        Arch::X86_64 => {
            // Documentation/arch/x86/boot.rst: setup_sects at 0x1f1; payload_offset and
            // payload_length at 0x248/0x24c, relative to the protected-mode code.
            let setup_end = (usize::from(data[0x1f1]) + 1) * 512;
            let le = |o: usize| u32::from_le_bytes(data[o..o + 4].try_into().unwrap()) as usize;
            let payload = setup_end + le(0x248);
            let payload_len = le(0x24c);
            vec![
                1,
                0x3f,
                0x1f1,
                0x240,
                0x26b,
                setup_end / 2,
                setup_end,
                payload,
                payload + payload_len / 2,
                payload + payload_len - 1,
                n - 1,
            ]
        }
        // arch/arm64/include/asm/image.h: a 64-byte header, then the EFI stub's PE headers
        // and the sections from 64 KiB; arch/riscv/include/asm/image.h: the same shape, the
        // sections from 4 KiB.
        Arch::Arm64 | Arch::Riscv64 => vec![
            1,
            0x20,
            0x3f,
            0x40,
            0x100,
            0x1000,
            0x10000,
            n / 4,
            n / 2,
            3 * n / 4,
            n - 0x1000,
            n - 1,
        ],
    };
    v.insert(0, 0);
    v
}

/// Each real kernel (every pinned series) cut at ≥10 places: every load fails with one
/// line naming the file, and the kernel and crash kernel loaded before are still there,
/// unchanged.
#[test]
fn truncated_real_kernels_are_refused_and_change_nothing() {
    let kernels = [(Arch::X86_64, "x86_64"), (Arch::Arm64, "arm64")]
        .into_iter()
        .flat_map(|(arch, name)| {
            common::pinned::real_kernels(name)
                .into_iter()
                .map(move |(series, _, data)| (arch, format!("{name} {series}"), data))
        });
    for (arch, name, data) in kernels {
        let m = match arch {
            Arch::X86_64 => Machine::x86(),
            Arch::Arm64 => Machine::arm64(),
            Arch::Riscv64 => Machine::riscv64(),
        };
        let mut sim = m.sim();
        // The whole kernel loads (so the cuts are what fails).
        let full = m.file("vmlinuz-full", &data);
        let r = run(&mut sim.clone(), &load(&m, &full, &[]));
        assert_eq!(r.code, 0, "{name}: {r:?}");
        m.preload(&mut sim, "prev", false);
        m.preload(&mut sim, "prev-crash", true);
        let before = images(&sim);
        let cuts = cuts(arch, &data);
        assert!(cuts.len() >= 10, "{name}");
        for (i, cut) in cuts.into_iter().enumerate() {
            let k = m.file("vmlinuz-cut", &data[..cut]);
            let extra: &[&str] = if i % 2 == 0 { &[] } else { &["--panic"] };
            let r = run(&mut sim, &load(&m, &k, extra));
            let ctx = format!("{name} cut at {cut:#x}: {r:?}");
            assert_one_line_failure(&r, &ctx);
            assert!(r.err.contains(&format!("{}: ", k.display())), "{ctx}");
            assert!(
                [
                    "truncated",
                    "not a kernel image",
                    "file is empty",
                    "bad PE header"
                ]
                .iter()
                .any(|w| r.err.contains(w)),
                "{ctx}"
            );
            assert!(images(&sim) == before, "an image changed: {ctx}");
        }
    }
}
