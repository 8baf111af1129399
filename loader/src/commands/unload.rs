//! `warmboot unload [--panic] [--syscall auto|file|classic]`: forget the loaded kernel (or
//! the crash kernel).
//!
//! kexec_load with no segments unloads, but lockdown refuses kexec_load altogether, so
//! under Secure Boot that unload fails with EPERM; kexec_file_load with KEXEC_FILE_UNLOAD
//! (kernel/kexec_file.c) is allowed. `auto` takes the file call exactly where lockdown
//! blocks kexec_load or, unreadable, is expected under Secure Boot
//! ([`SecurityState::expects_lockdown`]), as a load's auto does; kexec-tools' `-s -u` asks
//! for it by name.

use crate::error::Result;
use crate::kexec::Kexec;
use crate::memmap::Mode;
use crate::plan::SyscallChoice;
use crate::security_state::SecurityState;

/// The call that unloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnloadVia {
    /// kexec_load with no segments.
    Classic,
    /// kexec_file_load with KEXEC_FILE_UNLOAD.
    File,
}

impl UnloadVia {
    /// Unloads the image of `mode` through this call.
    pub fn unload(self, backend: &mut dyn Kexec, mode: Mode) -> Result<()> {
        match self {
            UnloadVia::Classic => backend.unload(mode),
            UnloadVia::File => backend.unload_file(mode),
        }
    }
}

/// The call for `requested` on a machine in `security` state.
pub fn choose(requested: SyscallChoice, security: &SecurityState) -> UnloadVia {
    match requested {
        SyscallChoice::File => UnloadVia::File,
        SyscallChoice::Classic => UnloadVia::Classic,
        SyscallChoice::Auto if security.expects_lockdown() => UnloadVia::File,
        SyscallChoice::Auto => UnloadVia::Classic,
    }
}

/// Unloads the image of `mode` with kexec_load and says what changed.
pub fn run(backend: &mut dyn Kexec, mode: Mode) -> Result<String> {
    run_via(backend, mode, UnloadVia::Classic)
}

/// Unloads the image of `mode` through `via` and says what changed.
pub fn run_via(backend: &mut dyn Kexec, mode: Mode, via: UnloadVia) -> Result<String> {
    let before = backend.status()?;
    via.unload(backend, mode)?;
    let (what, was) = match mode {
        Mode::Normal => ("kernel", before.loaded),
        Mode::Panic => ("crash kernel", before.crash_loaded),
    };
    let how = match via {
        UnloadVia::Classic => "",
        UnloadVia::File => " (with kexec_file_load)",
    };
    Ok(if was {
        format!("unloaded the {what}{how}\n")
    } else {
        format!("no {what} was loaded; nothing changed{how}\n")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kexec::{FileLoad, Status};
    use crate::plan::Plan;

    /// Records which call unloaded.
    #[derive(Default)]
    struct Calls(Vec<&'static str>);

    impl Kexec for Calls {
        fn kexec_load(&mut self, _p: &Plan) -> Result<()> {
            unreachable!("unload loads nothing")
        }
        fn kexec_file_load(&mut self, _r: &FileLoad<'_>) -> Result<()> {
            unreachable!("unload loads nothing")
        }
        fn unload(&mut self, _m: Mode) -> Result<()> {
            self.0.push("kexec_load");
            Ok(())
        }
        fn unload_file(&mut self, _m: Mode) -> Result<()> {
            self.0.push("kexec_file_load");
            Ok(())
        }
        fn exec(&mut self) -> Result<()> {
            unreachable!("unload reboots nothing")
        }
        fn status(&self) -> Result<Status> {
            Ok(Status {
                loaded: true,
                ..Status::default()
            })
        }
    }

    #[test]
    fn auto_unloads_with_kexec_file_load_exactly_where_lockdown_blocks_kexec_load() {
        use crate::host::Lockdown;
        use crate::security_state::SecureBoot;
        use SyscallChoice::{Auto, Classic, File};
        let at = |lockdown, secure_boot| SecurityState {
            lockdown,
            secure_boot,
            ..SecurityState::default()
        };
        let unknown = SecureBoot::default();
        assert_eq!(choose(Auto, &at(None, unknown)), UnloadVia::Classic);
        assert_eq!(
            choose(Auto, &at(Some(Lockdown::None), unknown)),
            UnloadVia::Classic
        );
        assert_eq!(
            choose(Auto, &at(Some(Lockdown::Integrity), unknown)),
            UnloadVia::File
        );
        assert_eq!(
            choose(Auto, &at(Some(Lockdown::Confidentiality), unknown)),
            UnloadVia::File
        );
        // Lockdown unreadable (securityfs not mounted) under Secure Boot: expected.
        assert_eq!(choose(Auto, &at(None, SecureBoot::On)), UnloadVia::File);
        // Readable and off wins over Secure Boot.
        assert_eq!(
            choose(Auto, &at(Some(Lockdown::None), SecureBoot::On)),
            UnloadVia::Classic
        );
        assert_eq!(choose(File, &at(None, unknown)), UnloadVia::File);
        assert_eq!(
            choose(Classic, &at(Some(Lockdown::Integrity), unknown)),
            UnloadVia::Classic
        );
        let mut b = Calls::default();
        assert_eq!(
            run_via(&mut b, Mode::Normal, UnloadVia::File).unwrap(),
            "unloaded the kernel (with kexec_file_load)\n"
        );
        assert_eq!(run(&mut b, Mode::Normal).unwrap(), "unloaded the kernel\n");
        assert_eq!(b.0, vec!["kexec_file_load", "kexec_load"]);
    }
}
