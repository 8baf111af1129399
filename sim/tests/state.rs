//! What the simulated kernel holds after loads, failed loads, unloads and exec.

use std::io::Write;
use warmboot::arch::Arch;
use warmboot::host::Lockdown;
use warmboot::kexec::{FileLoad, Kexec};
use warmboot::memmap::{MemoryMap, Mode};
use warmboot::plan::{Plan, Segment};
use warmboot::Error;
use warmboot_sim::{Sim, Source};

const IOMEM: &str = "00100000-3fffffff : System RAM\n  20000000-2fffffff : Crash kernel\n";

fn sim() -> Sim {
    Sim::new(Arch::X86_64, MemoryMap::parse(IOMEM, Vec::new()).unwrap())
}

fn plan(mode: Mode, base: u64, byte: u8) -> Plan {
    Plan {
        arch: Arch::X86_64,
        mode,
        entry: base,
        segments: vec![Segment {
            what: "kernel".to_string(),
            buf: vec![byte; 0x1800],
            mem: base,
            memsz: 0x3000,
        }],
        cmdline: String::new(),
        notes: Vec::new(),
    }
}

#[test]
fn crash_images_land_in_memory_at_once_with_zero_fill() {
    let mut s = sim();
    s.kexec_load(&plan(Mode::Panic, 0x20002000, 0x5a)).unwrap();
    assert_eq!(s.read(0x20002000, 2), vec![0x5a, 0x5a]);
    assert_eq!(s.read(0x200037ff, 2), vec![0x5a, 0]);
    assert_eq!(s.read(0x20003800, 0x1800), vec![0; 0x1800]);
    assert!(s.status().unwrap().crash_loaded);
}

#[test]
fn normal_images_are_staged_until_exec() {
    let mut s = sim();
    s.kexec_load(&plan(Mode::Normal, 0x1000000, 0x77)).unwrap();
    assert_eq!(s.read(0x1000000, 1), vec![0]);
    let img = s.image(Mode::Normal).unwrap();
    assert_eq!(img.read_staged(0x10017ff, 2), vec![0x77, 0]);
    assert!(matches!(&img.source, Source::Classic { segments } if segments[0].bufsz == 0x1800));
    s.exec().unwrap();
    assert_eq!(s.executed(), Some(0x1000000));
    assert_eq!(s.read(0x10017ff, 2), vec![0x77, 0]);
    assert!(!s.status().unwrap().loaded);
}

#[test]
fn exec_without_an_image_is_einval() {
    let e = sim().exec().unwrap_err().to_string();
    assert_eq!(
        e,
        "reboot(LINUX_REBOOT_CMD_KEXEC) failed: EINVAL (no kernel is loaded)"
    );
}

#[test]
fn a_failed_normal_load_keeps_the_previous_image() {
    let mut s = sim();
    s.kexec_load(&plan(Mode::Normal, 0x1000000, 1)).unwrap();
    let mut bad = plan(Mode::Normal, 0x2000000, 2);
    bad.segments[0].mem = 0x2000800;
    assert!(s.kexec_load(&bad).is_err());
    assert_eq!(s.image(Mode::Normal).unwrap().entry, Some(0x1000000));
}

#[test]
fn a_failed_crash_load_frees_the_old_crash_image_first() {
    // kernel/kexec.c do_kexec_load: the old crash image is freed before the new one is
    // validated, so a failed crash load leaves no crash kernel at all.
    let mut s = sim();
    s.kexec_load(&plan(Mode::Panic, 0x20002000, 1)).unwrap();
    let bad = plan(Mode::Panic, 0x1000000, 2);
    assert!(s.kexec_load(&bad).is_err());
    assert!(s.image(Mode::Panic).is_none());
    assert!(!s.status().unwrap().crash_loaded);
}

#[test]
fn seventeen_segments_are_refused_before_the_crash_image_is_freed() {
    let mut s = sim();
    s.kexec_load(&plan(Mode::Panic, 0x20002000, 1)).unwrap();
    let mut bad = plan(Mode::Panic, 0x20100000, 2);
    bad.segments = (0..17)
        .map(|i| Segment {
            what: "x".to_string(),
            buf: Vec::new(),
            mem: 0x20100000 + i * 0x1000,
            memsz: 0x1000,
        })
        .collect();
    assert!(s.kexec_load(&bad).is_err());
    assert!(s.image(Mode::Panic).is_some());
}

#[test]
fn lockdown_refuses_kexec_load_with_eperm() {
    let mut s = sim().with_lockdown(Lockdown::Integrity);
    let e = s
        .kexec_load(&plan(Mode::Normal, 0x1000000, 1))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "kexec_load(entry=0x1000000, segments=1, flags=0x3e0000) failed: EPERM (not permitted: \
         it needs root (CAP_SYS_BOOT in the initial user namespace), and is refused under \
         lockdown or kernel.kexec_load_disabled=1)"
    );
}

#[test]
fn a_foreign_arch_field_is_einval() {
    let mut p = plan(Mode::Normal, 0x1000000, 1);
    p.arch = Arch::Arm64;
    let e = sim().kexec_load(&p).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Syscall {
                errno: nix::errno::Errno::EINVAL,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn unload_frees_only_the_chosen_image() {
    let mut s = sim();
    s.kexec_load(&plan(Mode::Normal, 0x1000000, 1)).unwrap();
    s.kexec_load(&plan(Mode::Panic, 0x20002000, 1)).unwrap();
    s.unload(Mode::Normal).unwrap();
    let st = s.status().unwrap();
    assert!(!st.loaded && st.crash_loaded);
    assert_eq!(st.crash_size, 0x10000000);
}

#[test]
fn kexec_file_load_rules() {
    let mut kernel = tempfile::NamedTempFile::new().unwrap();
    let bz = warmboot::synth::x86::BzImageBuilder::new().build();
    kernel.write_all(&bz).unwrap();
    let mut not_bz = tempfile::NamedTempFile::new().unwrap();
    not_bz.write_all(b"MZ not a bzImage").unwrap();
    let empty = tempfile::NamedTempFile::new().unwrap();
    let req = |f| FileLoad {
        kernel: f,
        initrd: None,
        cmdline: "console=ttyS0",
        mode: Mode::Normal,
        debug: false,
    };
    let mut s = sim();
    s.kexec_file_load(&req(kernel.as_file())).unwrap();
    assert!(matches!(
        &s.image(Mode::Normal).unwrap().source,
        Source::File { kernel_len, initrd_len: None, cmdline, kernel, initrd: None, flags: 0x4 }
            if cmdline == "console=ttyS0" && *kernel_len == bz.len() as u64 && *kernel == bz
    ));
    // kexec-bzimage64.c bzImage64_probe: a file that is no bzImage is ENOEXEC.
    let e = s.kexec_file_load(&req(not_bz.as_file())).unwrap_err();
    assert!(e.to_string().contains("failed: ENOEXEC"), "{e}");
    assert_eq!(
        s.last_refusal().map(|r| r.to_string()),
        Some("the kernel's x86_64 kexec_file loader does not take this file: not a bzImage (no HdrS setup header)".to_string())
    );
    // fs/kernel_read_file.c: an empty file is EINVAL, for the kernel and the initrd.
    let e = s.kexec_file_load(&req(empty.as_file())).unwrap_err();
    assert!(e.to_string().ends_with("failed: EINVAL"), "{e}");
    let mut empty_initrd = req(kernel.as_file());
    empty_initrd.initrd = Some(empty.as_file());
    let e = s.kexec_file_load(&empty_initrd).unwrap_err();
    assert!(e.to_string().ends_with("failed: EINVAL"), "{e}");
    assert_eq!(
        s.last_refusal().map(|r| r.to_string()),
        Some("the initrd file is empty".to_string())
    );
    let e = sim()
        .without_kexec_file()
        .kexec_file_load(&req(kernel.as_file()))
        .unwrap_err();
    assert!(e.to_string().contains("failed: ENOSYS"), "{e}");
    // A NUL inside the command line cannot pass through the C string the syscall takes:
    // refused before the syscall, as the real backend does.
    let mut nul = req(kernel.as_file());
    nul.cmdline = "a\0b";
    let e = sim().kexec_file_load(&nul).unwrap_err();
    assert_eq!(e.to_string(), "invalid command line: contains a NUL byte");
}

/// Under lockdown kexec_load is refused even to unload (EPERM), and kexec_file_load with
/// KEXEC_FILE_UNLOAD is not: the unload `warmboot unload` and `kexec -s -u` use there.
#[test]
fn under_lockdown_only_the_file_unload_frees_the_image() {
    let mut s = sim();
    s.kexec_load(&plan(Mode::Normal, 0x1000_0000, 1)).unwrap();
    let mut s = s.with_lockdown(Lockdown::Integrity);
    let e = s.unload(Mode::Normal).unwrap_err();
    assert!(
        matches!(&e, Error::Syscall { errno, .. } if *errno == nix::errno::Errno::EPERM),
        "{e}"
    );
    assert!(s.image(Mode::Normal).is_some());
    s.unload_file(Mode::Normal).unwrap();
    assert!(s.image(Mode::Normal).is_none());
}
