//! Secure Boot, lockdown, LoadPin and IMA through the whole command line against the
//! simulator (issue 18 item 3, issue 17 item 6): each refusal the kernel can give (the sim
//! injects its errno) is one line naming the file and saying what to do; auto falls back
//! to kexec_file_load when kexec_load is refused; `--kernel-debug` sets KEXEC_FILE_DEBUG
//! and loads again without it on a kernel that refuses the flag. Nothing is half-loaded:
//! every failure leaves the images the kernel's rules say.

mod common;

use common::cli::{assert_one_line_failure, images, run, Machine};
use nix::errno::Errno;
use warmboot::host::Lockdown;
use warmboot::kexec::{KEXEC_FILE_DEBUG, KEXEC_FILE_NO_INITRAMFS, KEXEC_FILE_ON_CRASH};
use warmboot::memmap::Mode;
use warmboot_sim::faults::{Call, Faults};
use warmboot_sim::refusal::Refusal;
use warmboot_sim::{Sim, Source};

const SECURE_BOOT: &str =
    "sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c";

/// The x86 machine with a normal and a crash kernel loaded.
fn loaded() -> (Machine, Sim) {
    let m = Machine::x86();
    let mut sim = m.sim();
    m.preload(&mut sim, "prev", false);
    m.preload(&mut sim, "prev-crash", true);
    (m, sim)
}

/// `load` arguments for a new kernel `tag` (an arbitrary bzImage) plus `extra`.
fn load_args(m: &Machine, tag: &str, extra: &[&str]) -> Vec<String> {
    let mut a = m.load_args(&m.kernel(tag));
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn file_flags(sim: &Sim, mode: Mode) -> u64 {
    match &sim.image(mode).unwrap().source {
        Source::File { flags, .. } => *flags,
        other => panic!("not a kexec_file_load image: {other:?}"),
    }
}

#[test]
fn kernel_debug_sets_kexec_file_debug_and_the_kernel_logs_the_load() {
    let (m, mut sim) = loaded();
    let r = run(&mut sim, &load_args(&m, "next", &["--kernel-debug"]));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out.contains("with kexec_file_load (auto: ")
            && r.out.contains(
                "; with KEXEC_FILE_DEBUG: the kernel's account of the load is in its log, dmesg)"
            ),
        "{r:?}"
    );
    assert_eq!(
        file_flags(&sim, Mode::Normal),
        KEXEC_FILE_NO_INITRAMFS | KEXEC_FILE_DEBUG
    );
    assert_eq!(sim.kernel_log().len(), 1, "{:?}", sim.kernel_log());
    assert!(sim.kernel_log()[0].starts_with("kexec_file: kernel: 0x"));
    // Without the option: no flag, nothing logged.
    let r = run(&mut sim, &load_args(&m, "again", &[]));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.out.contains("KEXEC_FILE_DEBUG"), "{r:?}");
    assert_eq!(file_flags(&sim, Mode::Normal), KEXEC_FILE_NO_INITRAMFS);
    assert_eq!(sim.kernel_log().len(), 1);
    // The dry run shows the flag and what it does.
    let r = run(
        &mut sim,
        &load_args(&m, "dry", &["--kernel-debug", "--dry-run"]),
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out.contains("syscall: kexec_file_load (flags 0xc): "),
        "{}",
        r.out
    );
    assert!(
        r.out
            .contains("note: --kernel-debug: kexec_file_load with KEXEC_FILE_DEBUG (0x8)"),
        "{}",
        r.out
    );
    let r = run(
        &mut sim,
        &load_args(
            &m,
            "dry",
            &["--kernel-debug", "--dry-run", "--syscall", "classic"],
        ),
    );
    assert!(
        r.out.contains("--kernel-debug: no effect on kexec_load"),
        "{}",
        r.out
    );
}

#[test]
fn a_kernel_older_than_6_8_refuses_the_debug_flag_and_warmboot_loads_without_it() {
    let (m, sim) = loaded();
    let mut sim = sim.without_kexec_file_debug();
    sim.set_faults(Faults::none());
    let args = load_args(&m, "next", &["--panic", "--kernel-debug"]);
    let r = run(&mut sim, &args);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out.contains("; without KEXEC_FILE_DEBUG: the running kernel refused it (EINVAL; the flag is new in Linux 6.8), so it logged nothing more)"),
        "{r:?}"
    );
    assert_eq!(
        sim.steps().join(", "),
        "status, step: open the kernel and initrd, kexec_file_load, step: kexec_file_load again without KEXEC_FILE_DEBUG, kexec_file_load"
    );
    assert!(matches!(
        sim.last_refusal(),
        Some(Refusal::UnknownFileFlags {
            flags: 0xe,
            known: 0x7
        })
    ));
    assert_eq!(
        file_flags(&sim, Mode::Panic),
        KEXEC_FILE_ON_CRASH | KEXEC_FILE_NO_INITRAMFS
    );
    assert!(sim.kernel_log().is_empty());
    // The refused flag is checked before the kernel frees the old crash image: a failure
    // of the second try's step leaves the previous crash kernel loaded.
    let (m, base) = loaded();
    let mut sim = base.without_kexec_file_debug();
    sim.set_faults(Faults::none().at(4, Errno::EIO));
    let before = images(&sim);
    let r = run(
        &mut sim,
        &load_args(&m, "next", &["--panic", "--kernel-debug"]),
    );
    assert_one_line_failure(&r, "the second try's step fails");
    assert!(
        r.err
            .contains("the previously loaded crash kernel is still loaded"),
        "{r:?}"
    );
    assert!(images(&sim) == before, "{r:?}");
}

#[test]
fn every_signature_refusal_names_the_kernel_and_what_the_kernel_accepts() {
    for errno in [
        Errno::EKEYREJECTED,
        Errno::ENOKEY,
        Errno::EBADMSG,
        Errno::ENODATA,
        Errno::EKEYREVOKED,
        Errno::ENOPKG,
        // Under lockdown, a signature that did not verify without enforcement.
        Errno::EPERM,
    ] {
        let (m, _) = loaded();
        m.lockdown("integrity");
        let mut sim = m.sim();
        m.preload(&mut sim, "prev", false);
        sim.set_faults(Faults::none().on(Call::KexecFileLoad, errno));
        let before = images(&sim);
        let args = load_args(&m, "unsigned", &[]);
        let r = run(&mut sim, &args);
        let what = format!("{errno:?}");
        assert_one_line_failure(&r, &what);
        let kernel = &args[1];
        assert!(
            r.err.starts_with(&format!(
                "warmboot: {kernel}: the running kernel rejected its signature (kexec_file_load failed: {errno:?}: "
            )),
            "{what}: {}",
            r.err
        );
        assert!(
            r.err.contains("builtin or secondary trusted keyrings or in its platform keyring (the UEFI db, or shim's MOK list); sign an unsigned or self-built kernel with sbsign and enroll the certificate with mokutil --import"),
            "{}",
            r.err
        );
        assert!(
            r.err
                .ends_with("; the previously loaded kernel is still loaded\n"),
            "{}",
            r.err
        );
        assert!(images(&sim) == before, "{what}");
    }
}

#[test]
fn kexec_load_under_lockdown_says_lockdown_and_what_works() {
    // Lockdown readable: refused before the kernel is asked.
    let (m, _) = loaded();
    m.lockdown("integrity");
    let mut sim = m.sim();
    let r = run(&mut sim, &load_args(&m, "next", &["--syscall", "classic"]));
    assert_one_line_failure(&r, "classic under lockdown");
    assert!(
        r.err
            .contains("kexec_load is refused under lockdown (integrity); use --syscall file"),
        "{}",
        r.err
    );
    assert!(
        sim.steps().iter().all(|s| s != "kexec_load"),
        "{:?}",
        sim.steps()
    );
    // Lockdown not readable, Secure Boot on: the kernel refuses (EPERM), and the line
    // says lockdown is the likely reason.
    let m = Machine::fixture("x86_64-ovmf-m1024", warmboot::arch::Arch::X86_64);
    std::fs::remove_file(m.root().join("sys/kernel/security/lockdown")).unwrap();
    m.set(SECURE_BOOT, "");
    std::fs::write(m.root().join(SECURE_BOOT), [6, 0, 0, 0, 1]).unwrap();
    let mut sim = m.sim().with_lockdown(Lockdown::Integrity);
    let args = load_args(&m, "next", &["--syscall", "classic"]);
    let r = run(&mut sim, &args);
    assert_one_line_failure(&r, "classic, Secure Boot");
    assert!(
        r.err.starts_with(&format!(
            "warmboot: {}: kexec_load was refused, most likely by lockdown: Secure Boot is on",
            args[1]
        )) && r.err.contains("use --syscall file"),
        "{}",
        r.err
    );
    assert_eq!(sim.last_refusal(), Some(&Refusal::LockedDown));
    // And auto picks kexec_file_load there, saying why, even for a kernel it would
    // otherwise load with kexec_load.
    let k = m.decompressible_kernel("sb");
    let mut a = m.load_args(&k);
    let r = run(&mut sim, &a);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out
            .contains("with kexec_file_load (auto: Secure Boot is on and lockdown cannot be read"),
        "{}",
        r.out
    );
    a.push("--dry-run".into());
    let r = run(&mut sim, &a);
    assert!(r.out.contains("syscall: kexec_file_load"), "{}", r.out);
}

#[test]
fn loadpin_refusals_are_explained_and_auto_falls_back_to_kexec_file_load() {
    let (m, sim) = loaded();
    m.set("proc/sys/kernel/loadpin/enforce", "1\n");
    // kexec_file_load of a file outside the pinned filesystem.
    let mut s = sim.clone();
    s.set_faults(Faults::none().on(Call::KexecFileLoad, Errno::EPERM));
    let before = images(&s);
    let args = load_args(&m, "next", &[]);
    let r = run(&mut s, &args);
    assert_one_line_failure(&r, "LoadPin");
    assert!(
        r.err.starts_with(&format!(
            "warmboot: {}: LoadPin refused to let the kernel read it (kexec_file_load failed: EPERM): it reads kexec images only from the filesystem it pinned",
            args[1]
        )) && r.err.contains("loadpin.exclude=kexec-image,kexec-initramfs"),
        "{}",
        r.err
    );
    assert!(images(&s) == before);
    // With --sha256 the kernel goes over in a memfd, which LoadPin always refuses.
    let digest = warmboot::file_trust::Sha256Digest::of(&std::fs::read(&args[1]).unwrap());
    let mut a = args.clone();
    a.extend(["--sha256".to_string(), digest.to_string()]);
    let r = run(&mut s, &a);
    assert!(r.err.contains("load without --sha256"), "{}", r.err);
    // auto with kexec_load first: LoadPin refuses it, kexec_file_load loads.
    let mut s = sim.clone();
    s.set_faults(Faults::none().on(Call::KexecLoad, Errno::EPERM));
    let k = m.decompressible_kernel("pinned");
    let r = run(&mut s, &m.load_args(&k));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out
            .contains("failed: EPERM, refused by LoadPin; fell back to kexec_file_load)"),
        "{}",
        r.out
    );
    assert!(
        r.out.contains("x86 entry: bzImage decompressor (kexec_load was refused; kexec_file_load loads the bzImage)"),
        "{}",
        r.out
    );
    assert_eq!(
        s.steps().join(", "),
        "status, kexec_load, step: fall back to kexec_file_load, step: open the kernel and initrd, kexec_file_load"
    );
    assert!(matches!(
        s.image(Mode::Normal).unwrap().source,
        Source::File { .. }
    ));
    // --verify needs warmboot's own plan (the purgatory checks it): no fallback either.
    let mut s = sim.clone();
    s.set_faults(Faults::none().on(Call::KexecLoad, Errno::EPERM));
    let mut a = m.load_args(&k);
    a.push("--verify".into());
    let r = run(&mut s, &a);
    assert_one_line_failure(&r, "--verify, LoadPin");
    assert!(r.err.contains("LoadPin refuses kexec_load"), "{}", r.err);
    assert!(
        !s.steps().iter().any(|c| c == "kexec_file_load"),
        "{:?}",
        s.steps()
    );
    // --syscall classic asked for kexec_load: no fallback.
    let mut s = sim.clone();
    s.set_faults(Faults::none().on(Call::KexecLoad, Errno::EPERM));
    let before = images(&s);
    let r = run(&mut s, &load_args(&m, "next", &["--syscall", "classic"]));
    assert_one_line_failure(&r, "classic, LoadPin");
    assert!(r.err.contains("LoadPin refuses kexec_load"), "{}", r.err);
    assert!(images(&s) == before);
}

#[test]
fn ima_refusals_are_explained_and_auto_falls_back_to_kexec_file_load() {
    let (m, sim) = loaded();
    m.set(
        "sys/kernel/security/integrity/ima/policy",
        "appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig\n",
    );
    let initrd = m.file("initrd.img", b"an initrd");
    let mut args = load_args(&m, "next", &["--panic"]);
    args.extend(["--initrd".to_string(), initrd.to_str().unwrap().to_string()]);
    let mut s = sim.clone();
    s.set_faults(Faults::none().on(Call::KexecFileLoad, Errno::EACCES));
    let r = run(&mut s, &args);
    assert_one_line_failure(&r, "IMA");
    // Only the kernel is appraised by this policy: only it is named.
    assert!(
        r.err.starts_with(&format!(
            "warmboot: {}: IMA refused it (kexec_file_load failed: EACCES): its policy's func=KEXEC_KERNEL_CHECK appraise rule requires a valid IMA signature",
            args[1]
        )) && r.err.contains("evmctl ima_sign"),
        "{}",
        r.err
    );
    // IMA refuses while reading the files, after the kernel freed the old crash image.
    assert!(
        r.err.ends_with("the kernel unloaded the previous crash kernel when the load began; no crash kernel is loaded now\n"),
        "{}",
        r.err
    );
    assert!(s.image(Mode::Panic).is_none());
    // auto with kexec_load first: IMA's EACCES (it cannot appraise memory) falls back.
    let mut s = sim.clone();
    s.set_faults(Faults::none().on(Call::KexecLoad, Errno::EACCES));
    let k = m.decompressible_kernel("ima");
    let r = run(&mut s, &m.load_args(&k));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out.contains("failed: EACCES, refused by IMA, which cannot appraise a kernel handed over in memory; fell back to kexec_file_load)"),
        "{}",
        r.out
    );
    // The crash kernel loaded before is untouched by the refused kexec_load.
    assert!(s.image(Mode::Panic).is_some());
}
