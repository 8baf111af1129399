//! `load --sha256` closes the window between checking and loading: kexec_file_load gets the
//! bytes warmboot read and hashed (a sealed memfd), not whatever the path holds by then.
//! Driven through the library's `prepare` and `load_with` with a backend that records what
//! the kernel would have read.

use std::io::{Read as _, Seek as _};
use std::path::PathBuf;
use warmboot::commands::load::{load_with, prepare, CmdlineSource, LoadOptions};
use warmboot::file_trust::Sha256Digest;
use warmboot::kexec::{FileLoad, Kexec, Status};
use warmboot::memmap::Mode;
use warmboot::plan::{Plan, SyscallChoice};
use warmboot::synth::x86::BzImageBuilder;
use warmboot::Arch;

/// Records the kernel file kexec_file_load was given: its bytes and what /proc says it is.
#[derive(Default)]
struct Recorder {
    kernel: Option<(Vec<u8>, String)>,
}

impl Kexec for Recorder {
    fn kexec_load(&mut self, _plan: &Plan) -> warmboot::Result<()> {
        panic!("this test loads with kexec_file_load")
    }
    fn kexec_file_load(&mut self, req: &FileLoad<'_>) -> warmboot::Result<()> {
        use std::os::fd::AsRawFd as _;
        let mut f = req.kernel.try_clone().unwrap();
        f.rewind().unwrap();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        let what = std::fs::read_link(format!("/proc/self/fd/{}", req.kernel.as_raw_fd()))
            .unwrap()
            .display()
            .to_string();
        self.kernel = Some((bytes, what));
        Ok(())
    }
    fn unload(&mut self, _mode: Mode) -> warmboot::Result<()> {
        Ok(())
    }
    fn exec(&mut self) -> warmboot::Result<()> {
        Ok(())
    }
    fn status(&self) -> warmboot::Result<Status> {
        Ok(Status::default())
    }
}

fn options(kernel: PathBuf, sha256: Option<Sha256Digest>) -> LoadOptions {
    LoadOptions {
        cmdline: CmdlineSource::Given("console=ttyS0".into()),
        syscall: SyscallChoice::File,
        root: PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/machines/x86_64-bios-m1024"),
        arch: Some(Arch::X86_64),
        sha256,
        ..LoadOptions::new(kernel, None)
    }
}

#[test]
fn a_pinned_kernel_replaced_after_the_check_is_not_what_gets_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vmlinuz");
    let checked = BzImageBuilder::new().build();
    std::fs::write(&path, &checked).unwrap();
    let opts = options(path.clone(), Some(Sha256Digest::of(&checked)));
    let prepared = prepare(&opts).unwrap();
    // Someone replaces the file between warmboot's check and its syscall.
    let swapped = BzImageBuilder::new()
        .version(Some("6.6.6-evil (mallory@example) #1"))
        .build();
    assert_ne!(swapped, checked);
    std::fs::write(&path, &swapped).unwrap();
    let mut rec = Recorder::default();
    let said = load_with(&prepared, &opts, &mut rec).unwrap();
    assert!(said.contains("with kexec_file_load"), "{said}");
    let (bytes, what) = rec.kernel.unwrap();
    assert!(
        bytes == checked,
        "the kernel got other bytes than were checked"
    );
    assert!(what.starts_with("/memfd:warmboot-kernel"), "{what}");
}

#[test]
fn without_a_pin_the_path_is_opened_again_as_kexec_tools_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vmlinuz");
    std::fs::write(&path, BzImageBuilder::new().build()).unwrap();
    let opts = options(path.clone(), None);
    let prepared = prepare(&opts).unwrap();
    assert!(prepared.pinned_kernel.is_none());
    let later = BzImageBuilder::new()
        .version(Some("6.6.7 (builder@example) #2"))
        .build();
    std::fs::write(&path, &later).unwrap();
    let mut rec = Recorder::default();
    load_with(&prepared, &opts, &mut rec).unwrap();
    let (bytes, what) = rec.kernel.unwrap();
    assert!(bytes == later);
    assert_eq!(what, path.display().to_string());
}
