//! The real kexec syscalls. The only `unsafe` code in warmboot lives here.
//!
//! nix has no kexec_load/kexec_file_load wrapper, so they go through `libc::syscall`, checked
//! with `nix::errno::Errno::result`. Syscall numbers are defined here because the libc crate
//! lacks some (musl aarch64): arch/x86/entry/syscalls/syscall_64.tbl and
//! include/uapi/asm-generic/unistd.h. Errors name the call, its arguments and the errno:
//! `kexec_load(entry=0x1000000, segments=4, flags=0x3e0000) failed: EBUSY`.
//!
//! Every plan goes through [`check_plan`] right before the syscall, so a plan the kernel
//! would refuse (or that would overwrite memory warmboot did not mean to) never reaches it.

// The syscall module: kexec_load/kexec_file_load/reboot through libc::syscall.
#![allow(unsafe_code)]

use super::{kexec_load_flags, FileLoad, Kexec, Status};
use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::host::HostRoot;
use crate::memmap::{MemoryMap, Mode};
use crate::plan::Plan;
use crate::plan_check::check_plan;
use nix::errno::Errno;
use std::ffi::CString;
use std::os::fd::AsRawFd;

/// Environment variable that disables the real backend (see [`LinuxKexec::new`]).
pub const NO_REAL_SYSCALLS: &str = "WARMBOOT_NO_REAL_SYSCALLS";

/// (kexec_load, kexec_file_load) syscall numbers of the build target.
#[cfg(target_arch = "x86_64")]
const SYSCALLS: Option<(libc::c_long, libc::c_long)> = Some((246, 320));
#[cfg(target_arch = "aarch64")]
const SYSCALLS: Option<(libc::c_long, libc::c_long)> = Some((104, 294));
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const SYSCALLS: Option<(libc::c_long, libc::c_long)> = None;

/// `struct kexec_segment` (include/uapi/linux/kexec.h): `mem` holds a physical address.
#[repr(C)]
struct KexecSegment {
    buf: *const libc::c_void,
    bufsz: libc::size_t,
    mem: libc::size_t,
    memsz: libc::size_t,
}

/// The real backend. Holds the memory map it checks plans against and the root it reads
/// status from.
#[derive(Debug, Clone)]
pub struct LinuxKexec {
    map: MemoryMap,
    host: HostRoot,
}

impl LinuxKexec {
    /// Reads the memory map of the machine at `host` (normally `/`).
    ///
    /// Refuses when the environment variable [`NO_REAL_SYSCALLS`] is set: the test suites
    /// set it for every `warmboot` they start, so no test can reach the kernel of the
    /// machine it runs on, whatever its arguments.
    pub fn new(host: HostRoot) -> Result<LinuxKexec> {
        if std::env::var_os(NO_REAL_SYSCALLS).is_some() {
            return Err(Error::Unsupported(format!(
                "real kexec syscalls are disabled here ({NO_REAL_SYSCALLS} is set)"
            )));
        }
        Ok(LinuxKexec {
            map: host.memory_map()?,
            host,
        })
    }

    fn numbers(&self) -> Result<(libc::c_long, libc::c_long)> {
        SYSCALLS.ok_or_else(|| {
            Error::Unsupported("kexec syscalls are only known for x86_64 and aarch64".to_string())
        })
    }
}

fn usize_of(v: u64, what: &'static str) -> Result<usize> {
    usize::try_from(v).map_err(|_| Error::Overflow { what })
}

impl Kexec for LinuxKexec {
    fn kexec_load(&mut self, plan: &Plan) -> Result<()> {
        let (nr, _) = self.numbers()?;
        if Arch::host() != Some(plan.arch) {
            return Err(Error::Unsupported(format!(
                "a plan for {} cannot be loaded on this machine",
                plan.arch
            )));
        }
        check_plan(plan, &self.map)?;
        let segments = plan
            .segments
            .iter()
            .map(|s| {
                Ok(KexecSegment {
                    buf: s.buf.as_ptr().cast(),
                    bufsz: s.buf.len(),
                    mem: usize_of(s.mem, "segment address")?,
                    memsz: usize_of(s.memsz, "segment size")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let flags = kexec_load_flags(plan.arch, plan.mode);
        let entry = usize_of(plan.entry, "entry")?;
        // SAFETY: kexec_load only reads `segments.len()` kexec_segment structs from the
        // array, and `bufsz` bytes from each `buf`; both point into `segments` and
        // `plan.segments[i].buf`, which stay borrowed and alive for the whole call. `mem`
        // and `memsz` are physical addresses the kernel validates; they are not
        // dereferenced in this process.
        let ret = unsafe {
            libc::syscall(
                nr,
                entry as libc::c_ulong,
                segments.len() as libc::c_ulong,
                segments.as_ptr(),
                flags as libc::c_ulong,
            )
        };
        Errno::result(ret)
            .map(drop)
            .map_err(|errno| Error::Syscall {
                call: format!(
                    "kexec_load(entry={:#x}, segments={}, flags={flags:#x})",
                    plan.entry,
                    segments.len()
                ),
                errno,
            })
    }

    fn kexec_file_load(&mut self, req: &FileLoad<'_>) -> Result<()> {
        let (_, nr) = self.numbers()?;
        let cmdline = CString::new(req.cmdline)
            .map_err(|_| Error::invalid("command line", "contains a NUL byte"))?;
        let cmdline_len = cmdline.as_bytes_with_nul().len();
        let flags = req.flags();
        let kernel_fd = req.kernel.as_raw_fd();
        let initrd_fd = req.initrd.map(|f| f.as_raw_fd()).unwrap_or(-1);
        // SAFETY: the kernel reads the two descriptors (owned by `req`, open for the call)
        // and `cmdline_len` bytes from `cmdline`, a live NUL-terminated CString whose
        // length including the NUL is exactly `cmdline_len`.
        let ret = unsafe {
            libc::syscall(
                nr,
                kernel_fd as libc::c_long,
                initrd_fd as libc::c_long,
                cmdline_len as libc::c_ulong,
                cmdline.as_ptr(),
                flags as libc::c_ulong,
            )
        };
        Errno::result(ret).map(drop).map_err(|errno| Error::Syscall {
            call: format!(
                "kexec_file_load(kernel_fd={kernel_fd}, initrd_fd={initrd_fd}, cmdline_len={cmdline_len}, flags={flags:#x})"
            ),
            errno,
        })
    }

    fn unload_file(&mut self, mode: Mode) -> Result<()> {
        let (_, nr) = self.numbers()?;
        let mut flags = crate::kexec::KEXEC_FILE_UNLOAD;
        if mode == Mode::Panic {
            flags |= crate::kexec::KEXEC_FILE_ON_CRASH;
        }
        // SAFETY: with KEXEC_FILE_UNLOAD the kernel reads neither descriptor nor the
        // command line (kernel/kexec_file.c jumps straight to freeing the image); the
        // pointer is null and the length 0.
        let ret = unsafe {
            libc::syscall(
                nr,
                -1 as libc::c_long,
                -1 as libc::c_long,
                0 as libc::c_ulong,
                std::ptr::null::<libc::c_char>(),
                flags as libc::c_ulong,
            )
        };
        Errno::result(ret)
            .map(drop)
            .map_err(|errno| Error::Syscall {
                call: format!("kexec_file_load(-1, -1, 0, NULL, flags={flags:#x})"),
                errno,
            })
    }

    fn unload(&mut self, mode: Mode) -> Result<()> {
        let (nr, _) = self.numbers()?;
        let arch = Arch::host()
            .ok_or_else(|| Error::Unsupported("unknown host architecture".to_string()))?;
        let flags = kexec_load_flags(arch, mode);
        // SAFETY: with nr_segments 0 the kernel reads no segment array (the pointer is
        // null) and only frees the image selected by `flags` (kernel/kexec.c).
        let ret = unsafe {
            libc::syscall(
                nr,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                std::ptr::null::<KexecSegment>(),
                flags as libc::c_ulong,
            )
        };
        Errno::result(ret)
            .map(drop)
            .map_err(|errno| Error::Syscall {
                call: format!("kexec_load(entry=0x0, segments=0, flags={flags:#x})"),
                errno,
            })?;
        Ok(())
    }

    fn exec(&mut self) -> Result<()> {
        match nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_KEXEC) {
            Ok(never) => match never {},
            Err(errno) => Err(Error::Syscall {
                call: "reboot(LINUX_REBOOT_CMD_KEXEC)".to_string(),
                errno,
            }),
        }
    }

    fn status(&self) -> Result<Status> {
        read_status(&self.host)
    }
}

/// reboot(LINUX_REBOOT_CMD_RESTART): a cold reboot through the firmware, for
/// `warmboot reboot` without systemd. Refuses when [`NO_REAL_SYSCALLS`] is set. Does not
/// return on success.
pub fn reboot_restart() -> Result<()> {
    if std::env::var_os(NO_REAL_SYSCALLS).is_some() {
        return Err(Error::Unsupported(format!(
            "real reboots are disabled here ({NO_REAL_SYSCALLS} is set)"
        )));
    }
    match nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_AUTOBOOT) {
        Ok(never) => match never {},
        Err(errno) => Err(Error::Syscall {
            call: "reboot(LINUX_REBOOT_CMD_RESTART)".to_string(),
            errno,
        }),
    }
}

/// Reads what is loaded from `/sys/kernel` under `host`.
pub fn read_status(host: &HostRoot) -> Result<Status> {
    Ok(Status {
        loaded: host.kexec_loaded()?,
        crash_loaded: host.kexec_crash_loaded()?,
        crash_size: host.kexec_crash_size()?,
    })
}
