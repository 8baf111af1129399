//! What a boot run is asked to do: the scenario, who loads the next kernel and how, and
//! the accelerator. Plain values shared by the runner (boot.rs), the judge (verdict.rs,
//! x86_entry.rs) and the accelerator probe (accel.rs), so none of them imports another.

/// Which reboot to prove.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    Warm,
    Panic,
    Cold,
    /// Secure Boot guests: what lockdown must refuse (the kernel with its signature
    /// stripped, as a normal and a panic load, and kexec_load), each leaving nothing
    /// loaded; `warmboot unload` of a loaded kernel of each kind; then `warmboot reboot
    /// --cold` through the firmware back into the first kernel (secure_boot.rs judges it).
    Lockdown,
}

/// Who loads the next kernel inside the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Loader {
    Warmboot,
    #[value(name = "kexec-tools")]
    KexecTools,
}

/// Which kexec syscall the loader is told to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Syscall {
    Auto,
    File,
    Classic,
}

/// How warmboot enters a new x86 kernel (`warmboot load --x86-entry`): `decompressed`
/// loads the kernel proper, decompressed and relocated to a fresh KASLR offset at load
/// time; `bzimage` loads the bzImage so its own decompressor runs after the reboot;
/// `auto` lets the loader choose (decompressed for kexec_load when it can).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum X86Entry {
    Auto,
    Decompressed,
    Bzimage,
}

impl X86Entry {
    /// The value as the loader's option and the guest's `wb.x86entry=` write it.
    pub fn name(self) -> &'static str {
        match self {
            X86Entry::Auto => "auto",
            X86Entry::Decompressed => "decompressed",
            X86Entry::Bzimage => "bzimage",
        }
    }
}

/// Which accelerator QEMU runs on: probe KVM and fall back to TCG (auto), or force one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AccelChoice {
    Auto,
    Tcg,
    Kvm,
}
