//! Fault and error injection for the simulator: make a call fail with a chosen errno, every
//! time or at the Nth step, to prove what a failure at any point leaves loaded.
//!
//! A *step* is any call the simulator sees, in order: each [`Kexec`](warmboot::kexec::Kexec)
//! method (status reads included) and each of warmboot's own steps announced through
//! `Kexec::step` (opening the files, the auto fallback). [`Sim::steps`](crate::Sim::steps)
//! lists them, so a test can run a command once, count its steps, and then fail each in turn.
//!
//! Where an injected errno fails a load decides what the kernel has already done
//! ([`Errno`] classes in [`fails_before_any_change`]): kexec-facts §1/§2 and kernel/kexec.c,
//! kernel/kexec_file.c give the order permission/lockdown (EPERM) → flags → `kexec_trylock`
//! (EBUSY) → free the old crash image (crash loads only) → allocate and check the new image
//! (EINVAL, ENOMEM, EADDRNOTAVAIL, ENOEXEC, EKEYREJECTED…). A missing syscall is ENOSYS
//! before all of it.

use nix::errno::Errno;

/// The kinds of call a fault can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// kexec_load(2) with segments.
    KexecLoad,
    /// kexec_file_load(2).
    KexecFileLoad,
    /// kexec_load with no segments (unload).
    Unload,
    /// reboot(LINUX_REBOOT_CMD_KEXEC).
    Exec,
    /// Reading /sys/kernel/kexec_loaded and friends.
    Status,
    /// One of warmboot's own steps (`Kexec::step`).
    Step,
}

impl Call {
    pub fn name(self) -> &'static str {
        match self {
            Call::KexecLoad => "kexec_load",
            Call::KexecFileLoad => "kexec_file_load",
            Call::Unload => "unload",
            Call::Exec => "exec",
            Call::Status => "status",
            Call::Step => "step",
        }
    }
}

/// Which calls fail, and how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Every call of this kind fails with this errno.
    pub per_call: Vec<(Call, Errno)>,
    /// The Nth step (1-based, counted over all calls) fails with this errno.
    pub at_step: Option<(usize, Errno)>,
}

impl Faults {
    /// No faults.
    pub fn none() -> Faults {
        Faults::default()
    }

    /// Every call of kind `call` fails with `errno`.
    pub fn on(mut self, call: Call, errno: Errno) -> Faults {
        self.per_call.push((call, errno));
        self
    }

    /// Step number `n` (1-based) fails with `errno`, whatever it is.
    pub fn at(mut self, n: usize, errno: Errno) -> Faults {
        self.at_step = Some((n, errno));
        self
    }

    /// The errno the `n`th step, of kind `call`, fails with, if any.
    pub fn errno_for(&self, n: usize, call: Call) -> Option<Errno> {
        match self.at_step {
            Some((k, e)) if k == n => Some(e),
            _ => self
                .per_call
                .iter()
                .find(|(c, _)| *c == call)
                .map(|(_, e)| *e),
        }
    }
}

/// Whether a load failing with `errno` fails before the kernel changed anything (the
/// syscall is missing, permission, lockdown, the kexec lock, the arch/flags checks), as
/// opposed to while allocating or checking the new image, after a crash load has already
/// freed the previous crash image.
pub fn fails_before_any_change(errno: Errno) -> bool {
    matches!(
        errno,
        Errno::ENOSYS | Errno::EPERM | Errno::EBUSY | Errno::EFAULT
    )
}

/// [`fails_before_any_change`] for a load through `call`: a kexec_load refused by a
/// security module (EACCES from IMA's `ima_load_data`, the kernel_load_data hook in
/// kernel/kexec.c `kexec_load_check`) is refused before any change too, whereas
/// kexec_file_load's EACCES comes from reading the files (IMA appraisal in
/// `kernel_read_file`), after a crash load freed the old crash image.
pub fn load_fails_before_any_change(call: Call, errno: Errno) -> bool {
    fails_before_any_change(errno) || (call == Call::KexecLoad && errno == Errno::EACCES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_step_fault_wins_over_the_per_call_one() {
        let f = Faults::none()
            .on(Call::KexecLoad, Errno::EBUSY)
            .at(3, Errno::ENOMEM);
        assert_eq!(f.errno_for(1, Call::Status), None);
        assert_eq!(f.errno_for(2, Call::KexecLoad), Some(Errno::EBUSY));
        assert_eq!(f.errno_for(3, Call::KexecLoad), Some(Errno::ENOMEM));
        assert_eq!(f.errno_for(3, Call::Status), Some(Errno::ENOMEM));
    }

    #[test]
    fn only_early_errnos_leave_a_crash_image() {
        assert!(fails_before_any_change(Errno::EPERM));
        assert!(fails_before_any_change(Errno::EBUSY));
        assert!(!fails_before_any_change(Errno::EINVAL));
        assert!(!fails_before_any_change(Errno::ENOMEM));
        assert!(load_fails_before_any_change(Call::KexecLoad, Errno::EACCES));
        assert!(!load_fails_before_any_change(
            Call::KexecFileLoad,
            Errno::EACCES
        ));
        assert!(load_fails_before_any_change(
            Call::KexecFileLoad,
            Errno::EPERM
        ));
    }
}
