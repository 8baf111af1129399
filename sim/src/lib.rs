//! `warmboot-sim`: a backend of warmboot's [`Kexec`] trait that never touches the kernel.
//!
//! It holds a simulated physical memory for a machine described by a [`MemoryMap`] and
//! accepts or refuses loads the way the kernel does. The acceptance rules are the
//! simulator's own, written from the kernel's source in [`kernel_rules`] over the kernel
//! state of [`kernel_state`]; they share no code with warmboot's `plan_check`, so the
//! simulator is an independent second opinion on it (tests/differential.rs). warmboot
//! runs `plan_check` itself before it calls any backend, so its stricter rules of its own
//! still apply to loads through the simulator. A refusal comes back as the real syscall's
//! would, `Error::Syscall` with the kernel's errno; [`Sim::last_refusal`] keeps the rule
//! ([`refusal::Refusal`], the sim's error enum) for tests. Around the rules the simulator
//! models:
//!
//! - the order of checks: lockdown (EPERM), the segment count and the arch field (EINVAL)
//!   come first; then, for a crash load, **the old crash image is freed before the new one
//!   is validated**, so a failed crash load leaves no crash image (kernel/kexec.c
//!   do_kexec_load). A failed normal load leaves the previous normal image as it was;
//!   `kexec_load` with no segments unloads, as the kernel's does;
//! - copying: a normal image is staged (the kernel copies it into fresh pages and moves them
//!   into place only at reboot), and appears in [`Sim::memory`] on [`Kexec::exec`]; a crash
//!   image is written straight into the reservation at load time. Bytes bufsz..memsz are
//!   zero in both cases;
//! - kexec_file_load: the kernel parses the image itself, which the simulator does not;
//!   it checks what it can (CONFIG_KEXEC_FILE, empty files, the crash reservation) and
//!   records the load;
//! - injected faults ([`faults`]): any call, or the Nth step, fails with a chosen errno, with
//!   the kernel's semantics for where that errno arises (a crash load that fails after the
//!   kernel freed the old crash image leaves none).

pub mod faults;
pub mod kernel_rules;
pub mod kernel_state;
pub mod memory;
pub mod refusal;

use faults::{load_fails_before_any_change, Call, Faults};
use kernel_state::KernelState;
use memory::PhysMemory;
use nix::errno::Errno;
use refusal::Refusal;
use std::cell::RefCell;
use warmboot::arch::Arch;
use warmboot::host::Lockdown;
use warmboot::kexec::{kexec_load_flags, FileLoad, Kexec, Status, KEXEC_FILE_DEBUG};
use warmboot::memmap::{MemoryMap, Mode};
use warmboot::plan::Plan;
use warmboot::{Error, Result};

/// One segment of a loaded image, as the kernel holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedSegment {
    pub what: String,
    pub mem: u64,
    pub memsz: u64,
    pub bufsz: u64,
}

/// How an image was loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// kexec_load with these segments.
    Classic { segments: Vec<LoadedSegment> },
    /// kexec_file_load with these inputs (the kernel placed them; the simulator does not).
    File {
        kernel_len: u64,
        initrd_len: Option<u64>,
        cmdline: String,
        /// The call's flags (KEXEC_FILE_ON_CRASH, KEXEC_FILE_NO_INITRAMFS,
        /// KEXEC_FILE_DEBUG).
        flags: u64,
        /// The kernel and initrd as the kernel read them (from offset 0).
        kernel: Vec<u8>,
        initrd: Option<Vec<u8>>,
    },
}

/// An image the simulated kernel holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedImage {
    pub entry: Option<u64>,
    pub source: Source,
    /// A normal image's contents, as they will be in memory after exec.
    staged: PhysMemory,
}

impl LoadedImage {
    /// Reads what this image will place at `addr` (normal images; crash images are
    /// already in [`Sim::memory`]).
    pub fn read_staged(&self, addr: u64, len: usize) -> Vec<u8> {
        self.staged.read(addr, len)
    }
}

/// The simulated kernel.
#[derive(Debug, Clone)]
pub struct Sim {
    kernel: KernelState,
    map: MemoryMap,
    memory: PhysMemory,
    normal: Option<LoadedImage>,
    crash: Option<LoadedImage>,
    executed: Option<u64>,
    /// The rule behind the last refused call, for tests.
    last_refusal: Option<Refusal>,
    faults: Faults,
    /// Every call seen since the faults were last set, in order (status reads included).
    steps: RefCell<Vec<String>>,
    /// What the kernel logged: with KEXEC_FILE_DEBUG, kexec_file_load's account of a load.
    kernel_log: Vec<String>,
}

impl Sim {
    /// A machine of `arch` with memory `map`, kexec_file available, no lockdown.
    pub fn new(arch: Arch, map: MemoryMap) -> Sim {
        Sim {
            kernel: KernelState::from_map(arch, &map),
            map,
            memory: PhysMemory::new(),
            normal: None,
            crash: None,
            executed: None,
            last_refusal: None,
            faults: Faults::none(),
            steps: RefCell::new(Vec::new()),
            kernel_log: Vec::new(),
        }
    }

    /// Injects `faults` ([`faults`]), replacing earlier ones, and counts steps from 1 again.
    pub fn with_faults(mut self, faults: Faults) -> Sim {
        self.set_faults(faults);
        self
    }

    /// Like [`Sim::with_faults`], on a simulator already in use (an image already loaded).
    pub fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
        self.steps.borrow_mut().clear();
    }

    /// The calls seen since the faults were last set, in order: `status`, `kexec_load`,
    /// `kexec_file_load`, `unload`, `exec`, or `step: <what>` for warmboot's own steps.
    pub fn steps(&self) -> Vec<String> {
        self.steps.borrow().clone()
    }

    /// Records a call and returns the errno it is to fail with, if any.
    fn enter(&self, call: Call, what: &str) -> Option<Errno> {
        let mut steps = self.steps.borrow_mut();
        steps.push(match call {
            Call::Step => format!("step: {what}"),
            c => c.name().to_string(),
        });
        self.faults.errno_for(steps.len(), call)
    }

    /// A load of `mode` failing with `e`: a crash load that got past the early checks has
    /// already lost the previous crash image (kernel/kexec.c, kernel/kexec_file.c).
    fn fail_load(&mut self, which: Call, mode: Mode, call: String, e: Errno) -> Error {
        if mode == Mode::Panic && !load_fails_before_any_change(which, e) {
            self.crash = None;
        }
        errno(call, e)
    }

    /// Refuses a call the way the real syscall fails: `call` failed with the rule's errno.
    /// The rule is kept for [`Sim::last_refusal`].
    fn refuse(&mut self, call: String, r: Refusal) -> Error {
        let e = r.errno();
        self.last_refusal = Some(r);
        errno(call, e)
    }

    /// A kernel built without CONFIG_KEXEC_FILE (Debian's arm64 6.1): kexec_file_load is ENOSYS.
    pub fn without_kexec_file(mut self) -> Sim {
        self.kernel.kexec_file = false;
        self
    }

    /// A kernel older than 6.8, whose kexec_file_load refuses KEXEC_FILE_DEBUG (EINVAL).
    pub fn without_kexec_file_debug(mut self) -> Sim {
        self.kernel.kexec_file_debug = false;
        self
    }

    /// What the simulated kernel logged (its dmesg): with KEXEC_FILE_DEBUG, one line per
    /// kexec_file_load as the kernel's `kexec_dprintk` lines would give it.
    pub fn kernel_log(&self) -> &[String] {
        &self.kernel_log
    }

    /// A kernel at lockdown level `level`.
    pub fn with_lockdown(mut self, level: Lockdown) -> Sim {
        self.kernel.lockdown = level;
        self
    }

    /// A kernel whose totalram_pages() is `pages` (MemTotal in /proc/meminfo over 4 KiB),
    /// instead of the estimate from the memory map ([`kernel_state::totalram_pages_estimate`]).
    pub fn with_totalram_pages(mut self, pages: u64) -> Sim {
        self.kernel.totalram_pages = pages;
        self
    }

    /// The kernel state the rules read.
    pub fn kernel(&self) -> &KernelState {
        &self.kernel
    }

    /// The rule behind the most recent refusal of a kexec_load or kexec_file_load (not
    /// injected faults), if any.
    pub fn last_refusal(&self) -> Option<&Refusal> {
        self.last_refusal.as_ref()
    }

    pub fn map(&self) -> &MemoryMap {
        &self.map
    }

    /// Physical memory as it is now (crash images at once, normal images after exec).
    pub fn memory(&self) -> &PhysMemory {
        &self.memory
    }

    /// Reads `len` bytes of physical memory at `addr`.
    pub fn read(&self, addr: u64, len: usize) -> Vec<u8> {
        self.memory.read(addr, len)
    }

    /// The loaded normal (Mode::Normal) or crash (Mode::Panic) image.
    pub fn image(&self, mode: Mode) -> Option<&LoadedImage> {
        match mode {
            Mode::Normal => self.normal.as_ref(),
            Mode::Panic => self.crash.as_ref(),
        }
    }

    /// The entry the simulated machine jumped to, once [`Kexec::exec`] succeeded.
    pub fn executed(&self) -> Option<u64> {
        self.executed
    }

    fn slot(&mut self, mode: Mode) -> &mut Option<LoadedImage> {
        match mode {
            Mode::Normal => &mut self.normal,
            Mode::Panic => &mut self.crash,
        }
    }
}

fn errno(call: String, errno: Errno) -> Error {
    Error::Syscall { call, errno }
}

impl Kexec for Sim {
    fn kexec_load(&mut self, plan: &Plan) -> Result<()> {
        let flags = kexec_load_flags(plan.arch, plan.mode);
        let call = format!(
            "kexec_load(entry={:#x}, segments={}, flags={flags:#x})",
            plan.entry,
            plan.segments.len()
        );
        if let Some(e) = self.enter(Call::KexecLoad, "") {
            return Err(self.fail_load(Call::KexecLoad, plan.mode, call, e));
        }
        // SYSCALL kexec_load: kexec_load_check (lockdown, segment count), the arch field.
        let k = &self.kernel;
        let early = kernel_rules::kexec_load_check(k, plan.segments.len())
            .and_then(|()| kernel_rules::arch_field(k, plan.arch));
        if let Err(r) = early {
            return Err(self.refuse(call, r));
        }
        // do_kexec_load: no segments is an unload.
        if plan.segments.is_empty() {
            *self.slot(plan.mode) = None;
            return Ok(());
        }
        // Crash loads free the old crash image before validating the new one.
        if plan.mode == Mode::Panic {
            self.crash = None;
        }
        if let Err(r) = kernel_rules::kimage_checks(&self.kernel, plan) {
            return Err(self.refuse(call, r));
        }
        let mut staged = PhysMemory::new();
        let target = match plan.mode {
            Mode::Normal => &mut staged,
            Mode::Panic => &mut self.memory,
        };
        for s in &plan.segments {
            target.zero(s.mem, s.memsz);
            target.write(s.mem, &s.buf);
        }
        let image = LoadedImage {
            entry: Some(plan.entry),
            source: Source::Classic {
                segments: plan
                    .segments
                    .iter()
                    .map(|s| LoadedSegment {
                        what: s.what.clone(),
                        mem: s.mem,
                        memsz: s.memsz,
                        bufsz: s.bufsz(),
                    })
                    .collect(),
            },
            staged,
        };
        *self.slot(plan.mode) = Some(image);
        Ok(())
    }

    fn kexec_file_load(&mut self, req: &FileLoad<'_>) -> Result<()> {
        let flags = req.flags();
        let cmdline_len = req.cmdline.len() + 1;
        let call = format!("kexec_file_load(cmdline_len={cmdline_len}, flags={flags:#x})");
        if let Some(e) = self.enter(Call::KexecFileLoad, "") {
            return Err(self.fail_load(Call::KexecFileLoad, req.mode, call, e));
        }
        if let Err(r) = kernel_rules::kexec_file_available(&self.kernel)
            .and_then(|()| kernel_rules::file_flags(&self.kernel, flags))
        {
            return Err(self.refuse(call, r));
        }
        // As the real backend: the command line goes to the kernel as a C string, so one
        // with a NUL inside cannot be passed and is refused before the syscall. (The kernel
        // itself only checks that the last of cmdline_len bytes is NUL,
        // kernel/kexec_file.c kimage_file_prepare_segments, which the C string's is.)
        if req.cmdline.as_bytes().contains(&0) {
            return Err(Error::Invalid {
                what: "command line",
                detail: "contains a NUL byte".to_string(),
            });
        }
        // kexec_file_load frees the old crash image before it reads the files.
        if req.mode == Mode::Panic {
            self.crash = None;
        }
        // The kernel reads the whole file from offset 0 whatever the descriptor's position.
        let kernel_len = req.kernel.metadata().map_err(Error::Io)?.len();
        let initrd_len = match req.initrd {
            Some(f) => Some(f.metadata().map_err(Error::Io)?.len()),
            None => None,
        };
        let kernel_bytes = read_all(req.kernel)?;
        let initrd_bytes = match req.initrd {
            Some(f) => Some(read_all(f)?),
            None => None,
        };
        let mut checks = kernel_rules::read_file(kernel_len, "kernel")
            .and_then(|()| kernel_rules::file_image_probe(self.kernel.arch, &kernel_bytes));
        if let Some(len) = initrd_len {
            checks = checks.and_then(|()| kernel_rules::read_file(len, "initrd"));
        }
        if req.mode == Mode::Panic {
            checks = checks.and_then(|()| kernel_rules::file_crash_reservation(&self.kernel));
        }
        if let Err(r) = checks {
            return Err(self.refuse(call, r));
        }
        if flags & KEXEC_FILE_DEBUG != 0 {
            // kernel/kexec_file.c and the arch loaders print these at KERN_INFO then.
            self.kernel_log.push(format!(
                "kexec_file: kernel: {kernel_len:#x} bytes, initrd: {:#x} bytes, cmdline: {cmdline_len} bytes, {}",
                initrd_len.unwrap_or(0),
                match req.mode {
                    Mode::Normal => "normal image",
                    Mode::Panic => "crash image",
                }
            ));
        }
        let image = LoadedImage {
            entry: None,
            source: Source::File {
                kernel_len,
                initrd_len,
                cmdline: req.cmdline.to_string(),
                flags,
                kernel: kernel_bytes,
                initrd: initrd_bytes,
            },
            staged: PhysMemory::new(),
        };
        *self.slot(req.mode) = Some(image);
        Ok(())
    }

    /// kexec_file_load with KEXEC_FILE_UNLOAD (kernel/kexec_file.c): frees the image of
    /// `mode`; lockdown does not refuse it (there is no image to verify). Faults as an
    /// unload.
    fn unload_file(&mut self, mode: Mode) -> Result<()> {
        let flags = match mode {
            Mode::Normal => 0x1,
            Mode::Panic => 0x3,
        };
        let call = format!("kexec_file_load(-1, -1, 0, NULL, flags={flags:#x})");
        if let Some(e) = self.enter(Call::Unload, "") {
            return Err(errno(call, e));
        }
        *self.slot(mode) = None;
        Ok(())
    }

    fn unload(&mut self, mode: Mode) -> Result<()> {
        let flags = kexec_load_flags(self.kernel.arch, mode);
        let call = format!("kexec_load(entry=0x0, segments=0, flags={flags:#x})");
        if let Some(e) = self.enter(Call::Unload, "") {
            return Err(errno(call, e));
        }
        if let Err(r) = kernel_rules::kexec_load_check(&self.kernel, 0) {
            return Err(self.refuse(call, r));
        }
        *self.slot(mode) = None;
        Ok(())
    }

    fn exec(&mut self) -> Result<()> {
        // kernel_kexec fails before touching the image (EBUSY, EINVAL), as does reboot(2)'s
        // permission check (EPERM).
        if let Some(e) = self.enter(Call::Exec, "") {
            return Err(errno("reboot(LINUX_REBOOT_CMD_KEXEC)".to_string(), e));
        }
        let Some(image) = self.normal.take() else {
            return Err(errno(
                "reboot(LINUX_REBOOT_CMD_KEXEC)".to_string(),
                Errno::EINVAL,
            ));
        };
        if let Source::Classic { segments } = &image.source {
            for s in segments {
                self.memory.zero(s.mem, s.memsz);
            }
        }
        self.memory.overlay(&image.staged);
        self.executed = Some(image.entry.unwrap_or(0));
        Ok(())
    }

    fn status(&self) -> Result<Status> {
        if let Some(e) = self.enter(Call::Status, "") {
            return Err(Error::Io(std::io::Error::from_raw_os_error(e as i32))
                .in_file("/sys/kernel/kexec_loaded"));
        }
        Ok(Status {
            loaded: self.normal.is_some(),
            crash_loaded: self.crash.is_some(),
            crash_size: self.map.crash.map(|r| r.len()).unwrap_or(0),
        })
    }

    fn step(&mut self, what: &str) -> Result<()> {
        match self.enter(Call::Step, what) {
            None => Ok(()),
            Some(e) => Err(Error::Io(std::io::Error::new(
                std::io::Error::from_raw_os_error(e as i32).kind(),
                format!("{what}: {}", std::io::Error::from_raw_os_error(e as i32)),
            ))),
        }
    }
}

/// A file's whole content from offset 0, as the kernel reads a kexec_file_load descriptor
/// whatever its position (fs/kernel_read_file.c).
fn read_all(f: &std::fs::File) -> Result<Vec<u8>> {
    use std::os::unix::fs::FileExt as _;
    let len = f.metadata().map_err(Error::Io)?.len();
    let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
    f.read_exact_at(&mut buf, 0).map_err(Error::Io)?;
    Ok(buf)
}
