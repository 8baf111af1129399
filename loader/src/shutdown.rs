//! A clean shutdown where no init system does it for warmboot (`warmboot reboot` without
//! systemd): what sysvinit's `sendsigs` and `umountroot` scripts and busybox's `reboot`
//! do, in that order, before reboot(2).
//!
//! 1. SIGTERM to every process (kill(-1): all but init and warmboot itself), then up to
//!    [`TERM_GRACE`] for them to exit; SIGKILL to what is left.
//! 2. sync, then every real filesystem remounted read-only, innermost first, then sync
//!    again: nothing written before the reboot is lost, and no filesystem needs a
//!    journal replay or fsck afterwards.
//!
//! warmboot blocks SIGHUP, SIGTERM and SIGPIPE for itself first: its terminal and parent
//! shell go away in step 1. Failures to remount (a process the kernel keeps in D state
//! holding a file open for writing) are reported, not fatal: the filesystems were synced.
//! The pure parts (which processes are left, which mounts to remount) are separate from
//! the actions so they are tested on real /proc text.

use crate::error::{Error, Result};
use std::time::{Duration, Instant};

/// How long processes get to exit after SIGTERM (sysvinit's sendsigs waits up to 10 s).
pub const TERM_GRACE: Duration = Duration::from_secs(10);
/// How long SIGKILLed processes get to disappear.
const KILL_GRACE: Duration = Duration::from_secs(3);

/// `PF_KTHREAD` in the flags field of /proc/PID/stat (include/linux/sched.h): kernel
/// threads, which signals do not stop and which need not stop.
const PF_KTHREAD: u64 = 0x0020_0000;

/// Filesystem types with nothing to write back: never remounted.
const VIRTUAL_FS: &[&str] = &[
    "autofs",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "debugfs",
    "devpts",
    "devtmpfs",
    "efivarfs",
    "fusectl",
    "hugetlbfs",
    "mqueue",
    "nsfs",
    "proc",
    "pstore",
    "ramfs",
    "rootfs",
    "rpc_pipefs",
    "securityfs",
    "sysfs",
    "tmpfs",
    "tracefs",
];

/// Whether a /proc/PID/stat line is a user process that still has to exit: not a kernel
/// thread and not a zombie (already dead, waiting to be reaped). `None` if unparsable.
pub fn is_live_user_process(stat: &str) -> Option<bool> {
    // "PID (COMM) STATE PPID PGRP SESSION TTY TPGID FLAGS ..."; COMM may hold spaces and
    // parentheses, so fields are counted after the last ')'.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    let flags: u64 = fields.nth(5)?.parse().ok()?;
    Some(flags & PF_KTHREAD == 0 && state != "Z" && state != "X")
}

/// The mount points to remount read-only, innermost first, from /proc/self/mounts text
/// (`SOURCE TARGET TYPE OPTIONS 0 0`, octal escapes such as `\040` for a space).
pub fn mounts_to_remount(mounts: &str) -> Vec<String> {
    let mut out: Vec<String> = mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_source, target, fstype, options) = (f.next()?, f.next()?, f.next()?, f.next()?);
            let read_only = options.split(',').any(|o| o == "ro");
            (!VIRTUAL_FS.contains(&fstype) && !read_only).then(|| unescape(target))
        })
        .collect();
    out.reverse();
    out
}

/// Decodes the kernel's `\ooo` escapes in a /proc/mounts field (fs/proc_namespace.c
/// `mangle`: space, tab, newline and backslash).
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push(
                    d.iter()
                        .fold(0u8, |v, c| v.wrapping_mul(8).wrapping_add(c - b'0')),
                );
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Pids of user processes other than init and this one, from /proc.
fn live_user_processes() -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != 1 && pid != me)
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| is_live_user_process(&s))
                .unwrap_or(false)
        })
        .collect()
}

/// Sends `signal` to every process but init and this one, then waits up to `grace` for
/// them to be gone; returns how many are left.
fn signal_all(signal: nix::sys::signal::Signal, grace: Duration) -> Result<usize> {
    use nix::sys::signal::kill;
    use nix::unistd::Pid;
    match kill(Pid::from_raw(-1), signal) {
        // ESRCH: there was nobody to signal.
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(errno) => {
            return Err(Error::Syscall {
                call: format!("kill(-1, {signal})"),
                errno,
            })
        }
    }
    let start = Instant::now();
    loop {
        let left = live_user_processes().len();
        if left == 0 || start.elapsed() >= grace {
            return Ok(left);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Step 1: stops every other process; says what it did through `say`.
pub fn stop_processes(say: &mut dyn FnMut(&str)) -> Result<()> {
    use nix::sys::signal::{SigSet, Signal};
    let mut own = SigSet::empty();
    for s in [Signal::SIGHUP, Signal::SIGTERM, Signal::SIGPIPE] {
        own.add(s);
    }
    own.thread_block().map_err(|errno| Error::Syscall {
        call: "sigprocmask(SIG_BLOCK, SIGHUP|SIGTERM|SIGPIPE)".to_string(),
        errno,
    })?;
    let left = signal_all(Signal::SIGTERM, TERM_GRACE)?;
    if left > 0 {
        say(&format!(
            "{left} process(es) still running {}s after SIGTERM: sending SIGKILL",
            TERM_GRACE.as_secs()
        ));
        let left = signal_all(Signal::SIGKILL, KILL_GRACE)?;
        if left > 0 {
            say(&format!(
                "{left} process(es) did not die of SIGKILL (stuck in the kernel); going on"
            ));
        }
    }
    Ok(())
}

/// Step 2: sync, remount read-only, sync. Returns one line per mount that could not be
/// remounted.
pub fn remount_read_only() -> Vec<String> {
    use nix::mount::{mount, MsFlags};
    nix::unistd::sync();
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mut failed = Vec::new();
    for target in mounts_to_remount(&mounts) {
        let flags = MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
        if let Err(e) = mount(
            None::<&str>,
            target.as_str(),
            None::<&str>,
            flags,
            None::<&str>,
        ) {
            failed.push(format!("{target}: cannot remount read-only: {}", e.desc()));
        }
    }
    nix::unistd::sync();
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_threads_and_zombies_need_not_exit() {
        // Real lines: kthreadd (flags with PF_KTHREAD), a shell, a zombie, and a command
        // name with spaces and parentheses.
        let kthread = "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 4 0 0";
        let shell = "731 (bash) S 1 731 731 34816 740 4194560 1035 3702 0 0 1 0 5 2 20 0 1 0";
        let zombie = "812 (sleep) Z 731 812 731 34816 740 4227084 80 0 0 0 0 0 0 0 20 0 1 0";
        let odd = "900 (a (b) c) R 1 900 900 0 -1 4194304 1 0 0 0 0 0 0 0 20 0 1 0";
        assert_eq!(is_live_user_process(kthread), Some(false));
        assert_eq!(is_live_user_process(shell), Some(true));
        assert_eq!(is_live_user_process(zombie), Some(false));
        assert_eq!(is_live_user_process(odd), Some(true));
        assert_eq!(is_live_user_process("12 (x"), None);
        assert_eq!(is_live_user_process(""), None);
    }

    #[test]
    fn real_filesystems_are_remounted_innermost_first() {
        let mounts = "\
sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
/dev/vda1 / ext4 rw,relatime 0 0
tmpfs /run tmpfs rw,nosuid,nodev,size=401200k,mode=755 0 0
/dev/vda2 /boot ext4 rw,relatime 0 0
/dev/vda3 /srv/my\\040data xfs rw,relatime 0 0
/dev/sr0 /media/cdrom iso9660 ro,relatime 0 0
/dev/vda2 /boot/efi vfat rw,relatime,fmask=0077 0 0
";
        assert_eq!(
            mounts_to_remount(mounts),
            vec!["/boot/efi", "/srv/my data", "/boot", "/"]
        );
        assert!(mounts_to_remount("").is_empty());
        assert!(mounts_to_remount("garbage\n").is_empty());
    }
}
