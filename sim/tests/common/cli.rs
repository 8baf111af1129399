//! The whole `warmboot` command line run in-process against the simulator
//! ([`warmboot::cli::run_args`] with [`Backend::Given`]), on writable copies of the fixture
//! machine trees, with synthetic kernels.

use std::path::{Path, PathBuf};
use warmboot::arch::Arch;
use warmboot::cli::{run_args, Backend};
use warmboot::host::HostRoot;
use warmboot::memmap::Mode;
use warmboot::synth::arm64::Arm64Builder;
use warmboot::synth::riscv64::Riscv64Builder;
use warmboot::synth::x86::BzImageBuilder;
use warmboot_sim::{LoadedImage, Sim};

/// A machine: a writable copy of a fixture tree (`root/`) and a place for input files
/// (`files/`), both in one temporary directory.
pub struct Machine {
    pub dir: tempfile::TempDir,
    pub arch: Arch,
    /// The fixture it is a copy of.
    pub fixture: &'static str,
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

impl Machine {
    /// A copy of fixture machine `name` (loader/tests/fixtures/machines).
    pub fn fixture(name: &'static str, arch: Arch) -> Machine {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&super::machine_root(name), &dir.path().join("root"));
        std::fs::create_dir_all(dir.path().join("files")).unwrap();
        Machine {
            dir,
            arch,
            fixture: name,
        }
    }

    /// The x86_64 BIOS machine with 1 GiB and crashkernel=256M.
    pub fn x86() -> Machine {
        Machine::fixture("x86_64-bios-m1024", Arch::X86_64)
    }

    /// The arm64 machine with 1 GiB, a DTB and crashkernel=96M.
    pub fn arm64() -> Machine {
        Machine::fixture("arm64-direct-m1024-crashkernel", Arch::Arm64)
    }

    /// The riscv64 `virt` machine with 1 GiB, a DTB and crashkernel=96M.
    pub fn riscv64() -> Machine {
        Machine::fixture("riscv64-direct-m1024-crashkernel", Arch::Riscv64)
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn root_str(&self) -> String {
        self.root().to_str().unwrap().to_string()
    }

    /// Replaces a file of the machine's tree (`rel` without the leading slash).
    pub fn set(&self, rel: &str, text: &str) {
        let p = self.root().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// Writes /proc/iomem.
    pub fn iomem(&self, text: &str) {
        self.set("proc/iomem", text);
    }

    /// Drops the "Crash kernel" reservation from /proc/iomem and /sys/kernel.
    pub fn without_crashkernel(&self) {
        let p = self.root().join("proc/iomem");
        let text = std::fs::read_to_string(&p).unwrap();
        let kept: String = text
            .lines()
            .filter(|l| !l.contains("Crash kernel"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_ne!(kept, text, "the fixture had a crash reservation");
        std::fs::write(p, kept).unwrap();
        self.set("sys/kernel/kexec_crash_size", "0\n");
    }

    /// Sets the lockdown level in securityfs.
    pub fn lockdown(&self, level: &str) {
        let text = ["none", "integrity", "confidentiality"]
            .iter()
            .map(|l| {
                if *l == level {
                    format!("[{l}]")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        self.set("sys/kernel/security/lockdown", &format!("{text}\n"));
    }

    /// Writes an input file (kernel, initrd, DTB) and returns its path.
    pub fn file(&self, name: &str, data: &[u8]) -> PathBuf {
        let p = self.dir.path().join("files").join(name);
        std::fs::write(&p, data).unwrap();
        p
    }

    /// A path under files/ that does not exist.
    pub fn missing(&self, name: &str) -> PathBuf {
        self.dir.path().join("files").join(name)
    }

    /// The simulated kernel of this machine: its memory map and lockdown level.
    pub fn sim(&self) -> Sim {
        let host = HostRoot::new(self.root());
        let sim = Sim::new(self.arch, host.memory_map().unwrap());
        match host.lockdown().unwrap() {
            Some(l) => sim.with_lockdown(l),
            None => sim,
        }
    }

    /// A small valid kernel of this machine's architecture, told apart by `tag`.
    pub fn kernel(&self, tag: &str) -> PathBuf {
        self.file(&format!("vmlinuz-{tag}"), &kernel_bytes(self.arch, tag))
    }

    /// `load` arguments for this machine: `--arch`, `--root` and a console.
    pub fn load_args(&self, kernel: &Path) -> Vec<String> {
        let console = match self.arch {
            Arch::X86_64 => "console=ttyS0",
            Arch::Arm64 => "console=ttyAMA0",
            Arch::Riscv64 => "console=ttyS0",
        };
        vec![
            "load".into(),
            kernel.to_str().unwrap().into(),
            "--arch".into(),
            self.arch.to_string(),
            "--root".into(),
            self.root_str(),
            "--command-line".into(),
            console.into(),
        ]
    }
}

impl Machine {
    /// Loads kernel `tag` through the CLI (auto syscall; also `--panic` with `crash`),
    /// planned on the untouched fixture, so edits of this copy cannot stop it.
    pub fn preload(&self, sim: &mut Sim, tag: &str, crash: bool) {
        let k = self.kernel(tag);
        let mut args = self.load_args(&k);
        assert_eq!(args[4], "--root");
        args[5] = super::machine_root(self.fixture)
            .to_str()
            .unwrap()
            .to_string();
        if crash {
            args.push("--panic".into());
        }
        let r = run(sim, &args);
        assert_eq!(r.code, 0, "preload {tag}: {r:?}");
    }
}

impl Machine {
    /// An x86 bzImage whose kernel proper warmboot can decompress (a small vmlinux ELF and
    /// an empty relocation table in a gzip payload), so that auto loads it with kexec_load
    /// and the decompressed entry.
    pub fn decompressible_kernel(&self, tag: &str) -> PathBuf {
        assert_eq!(self.arch, Arch::X86_64);
        let mut elf = warmboot::synth::elf::ElfBuilder::x86_64();
        // One 32-bit relocation, of the field at text + 0x10 (linked at 0xffffffff81000000).
        elf.segments[0].data[0x10..0x14].copy_from_slice(&0x8100_0100u32.to_le_bytes());
        let mut plain = elf.vmlinux_bin();
        // The relocation table, read backwards: the 32-bit set (one entry), the inverse
        // set and the 64-bit set, each ended by a zero word.
        for w in [0u32, 0, 0, 0x8100_0010] {
            plain.extend_from_slice(&w.to_le_bytes());
        }
        let bytes = BzImageBuilder::new()
            .version(Some(&format!("6.1.0-{tag} (sim@test) #1 SMP")))
            .payload_plain(plain)
            .build();
        self.file(&format!("vmlinuz-{tag}"), &bytes)
    }
}

/// Synthetic kernel bytes for `arch` whose version names `tag`.
pub fn kernel_bytes(arch: Arch, tag: &str) -> Vec<u8> {
    match arch {
        Arch::X86_64 => BzImageBuilder::new()
            .version(Some(&format!("6.1.0-{tag} (sim@test) #1 SMP")))
            .build(),
        Arch::Arm64 => Arm64Builder {
            version: Some(format!("6.1.0-{tag}")),
            ..Arm64Builder::default()
        }
        .build(),
        Arch::Riscv64 => Riscv64Builder {
            version: Some(format!("6.12.0-{tag}")),
            ..Riscv64Builder::default()
        }
        .build(),
    }
}

/// What one run of the command line did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub out: String,
    pub err: String,
}

/// Runs `warmboot ARGS` in-process against `sim`.
pub fn run<S: AsRef<str>>(sim: &mut Sim, args: &[S]) -> Run {
    let mut argv = vec!["warmboot".to_string()];
    argv.extend(args.iter().map(|a| a.as_ref().to_string()));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_args(argv, Backend::Given(sim), &mut out, &mut err);
    Run {
        code,
        out: String::from_utf8_lossy(&out).into_owned(),
        err: String::from_utf8_lossy(&err).into_owned(),
    }
}

/// The images the simulated kernel holds: (normal, crash).
pub fn images(sim: &Sim) -> (Option<LoadedImage>, Option<LoadedImage>) {
    (
        sim.image(Mode::Normal).cloned(),
        sim.image(Mode::Panic).cloned(),
    )
}

/// Asserts the shape of a failure: exit status 1, exactly one line on stderr starting
/// `warmboot: `, nothing on stdout.
pub fn assert_one_line_failure(r: &Run, what: &str) {
    assert_eq!(r.code, 1, "{what}: {r:?}");
    assert!(r.err.starts_with("warmboot: "), "{what}: {r:?}");
    assert!(r.err.ends_with('\n'), "{what}: {r:?}");
    assert_eq!(r.err.lines().count(), 1, "{what}: {r:?}");
    assert_eq!(r.out, "", "{what}: {r:?}");
}
