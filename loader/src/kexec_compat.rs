//! kexec-tools' command line on top of warmboot, for callers that run `kexec`: systemd,
//! distribution init scripts and kdump tools. Used when warmboot runs as `kexec` (a
//! symlink) or as `warmboot kexec …`.
//!
//! The parsing mirrors kexec-tools' `main()` in kexec/kexec.c (v2.0.x): `getopt_long` with
//! `KEXEC_OPT_STR "h?vdfixyluet:pscaS"` and the long options of `KEXEC_OPTIONS` plus the
//! x86/arm64 loaders' `--append`/`--command-line`/`--reuse-cmdline`/`--initrd`/`--ramdisk`/
//! `--dtb`: short options cluster (`-pu`), a required argument is attached or the next word
//! (`-t bzImage`, `--initrd=FILE`, `--initrd FILE`), long options may be abbreviated to a
//! unique prefix, options and the kernel file may come in any order (GNU permutation), `--`
//! ends the options. Each option updates the same state flags kexec-tools keeps (`do_load`,
//! `do_exec`, `do_shutdown`, `do_sync`, `do_unload`, `do_status`, the crash flag), so
//! option order means what it means there (`-p -u` unloads the crash kernel), and the
//! result is the same sequence of steps: status, unload, load, shutdown, sync, exec.
//!
//! Exit status, as kexec-tools returns it from main():
//! - 0 success (and `-h`, `-v`);
//! - 1 a usage error (`case '?': usage(); return 1`, options that need a load without one),
//!   and die(): "Nothing has been loaded!" before `-e`, no crash reservation for `-p`;
//! - 255 a failed load, unload or exec (`EFAILED`, i.e. -1, returned from main);
//! - `-S`: 1 when the image (crash by default, normal with `-l`) is loaded, 0 when not,
//!   255 when the state cannot be read (`k_status` returns `kexec_loaded()`).
//!
//! Callers checked: systemd-shutdown runs `KEXEC -e` (src/shutdown/shutdown.c, falling
//! back to reboot(RB_KEXEC) when the binary is missing since v246); `systemctl kexec`
//! without a loaded kernel runs `KEXEC --load KERNEL --append OPTIONS --initrd INITRD`
//! from the default boot loader entry (src/systemctl/systemctl-start-special.c);
//! Debian's /etc/init.d/kexec-load runs `kexec -l "$KERNEL_IMAGE" --initrd="$INITRD"
//! --append="$REAL_APPEND"` and /etc/init.d/kexec `kexec -e`; Debian kdump-tools runs
//! `kexec -p --command-line="$KDUMP_CMDLINE" --initrd=$INITRD $KERNEL` and `kexec -p -u`;
//! Fedora's kdumpctl `kexec -s -d -p --command-line=… --initrd=… KERNEL` and `kexec -p -u`.
//!
//! Accepted and ignored, because warmboot always does the safe thing: `-i/--no-checks`
//! (kexec-tools skips purgatory's SHA-256 check; warmboot's checks run before the load),
//! `-x/--no-ifdown` (warmboot never brings interfaces down; under systemd they are down
//! already), `-t/--type` (the format is read from the content), `--elf64-core-headers`
//! (the only kind warmboot makes), `--args-linux` (kdump-config adds it for ELF kernels;
//! warmboot always boots the Linux way). Options for features warmboot does not have
//! (`--mem-min`, `--load-preserve-context`, `--real-mode`, `--args-elf`, `--reset-vga`,
//! `--hotplug`, …) are refused by name, each with the reason.

use crate::commands::{exec, load, unload};
use crate::error::Error;
use crate::host::HostRoot;
use crate::kexec::linux::LinuxKexec;
use crate::kexec::Kexec as _;
use crate::memmap::Mode;
use crate::plan::SyscallChoice;
use crate::security_state::SecurityState;
use std::path::PathBuf;

/// What kexec-tools' options mean once parsed; one per option, in the order given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opt {
    Help,
    Version,
    Debug,
    Force,
    NoIfdown,
    NoSync,
    Load,
    Unload,
    Exec,
    Type,
    Panic,
    FileSyscall,
    ClassicSyscall,
    AutoSyscall,
    NoChecks,
    Status,
    PrintCkrSize,
    Append,
    ReuseCmdline,
    Initrd,
    Dtb,
    Elf64CoreHeaders,
    /// Accepted: warmboot always boots a kernel the Linux way, which `--args-linux` asks.
    ArgsLinux,
    /// A kexec-tools option warmboot does not implement, and why.
    Unsupported(&'static str),
}

/// (long name, short letter, takes an argument, meaning). kexec/kexec.h KEXEC_OPTIONS,
/// kexec/arch/{i386,arm64}/include/arch/options.h.
const OPTIONS: &[(&str, Option<char>, bool, Opt)] = &[
    ("help", Some('h'), false, Opt::Help),
    ("version", Some('v'), false, Opt::Version),
    ("debug", Some('d'), false, Opt::Debug),
    ("force", Some('f'), false, Opt::Force),
    ("no-checks", Some('i'), false, Opt::NoChecks),
    ("no-ifdown", Some('x'), false, Opt::NoIfdown),
    ("no-sync", Some('y'), false, Opt::NoSync),
    ("load", Some('l'), false, Opt::Load),
    ("unload", Some('u'), false, Opt::Unload),
    ("exec", Some('e'), false, Opt::Exec),
    ("type", Some('t'), true, Opt::Type),
    ("load-panic", Some('p'), false, Opt::Panic),
    ("kexec-file-syscall", Some('s'), false, Opt::FileSyscall),
    ("kexec-syscall", Some('c'), false, Opt::ClassicSyscall),
    ("kexec-syscall-auto", Some('a'), false, Opt::AutoSyscall),
    ("status", Some('S'), false, Opt::Status),
    ("print-ckr-size", None, false, Opt::PrintCkrSize),
    ("append", None, true, Opt::Append),
    ("command-line", None, true, Opt::Append),
    ("reuse-cmdline", None, false, Opt::ReuseCmdline),
    ("initrd", None, true, Opt::Initrd),
    ("ramdisk", None, true, Opt::Initrd),
    ("dtb", None, true, Opt::Dtb),
    ("elf64-core-headers", None, false, Opt::Elf64CoreHeaders),
    // Known to kexec-tools, not to warmboot: refused by name.
    ("mem-min", None, true, Opt::Unsupported("warmboot places every segment itself, checked against the memory map")),
    ("mem-max", None, true, Opt::Unsupported("warmboot places every segment itself, checked against the memory map")),
    ("reuseinitrd", None, false, Opt::Unsupported("warmboot loads the initrd file it is given")),
    ("load-preserve-context", None, false, Opt::Unsupported("kexec jump (preserve context) is not implemented")),
    ("load-jump-back-helper", None, false, Opt::Unsupported("kexec jump (preserve context) is not implemented")),
    ("load-live-update", None, false, Opt::Unsupported("live update (KHO) is not implemented")),
    ("exec-live-update", None, false, Opt::Unsupported("live update (KHO) is not implemented")),
    ("entry", None, true, Opt::Unsupported("warmboot enters the kernel where its boot protocol says")),
    ("real-mode", None, false, Opt::Unsupported("warmboot enters x86 kernels in 64-bit mode only")),
    ("console-vga", None, false, Opt::Unsupported("the purgatory's console is the serial console warmboot finds itself")),
    ("console-serial", None, false, Opt::Unsupported("the purgatory's console is the serial console warmboot finds itself")),
    ("elf32-core-headers", None, false, Opt::Unsupported("warmboot writes ELF64 crash headers only")),
    ("serial", None, true, Opt::Unsupported("the purgatory's console is the serial console warmboot finds itself")),
    ("serial-baud", None, true, Opt::Unsupported("the purgatory's console is the serial console warmboot finds itself")),
    ("pass-memmap-cmdline", None, false, Opt::Unsupported("warmboot hands the memory map over in boot_params, not on the command line")),
    ("noefi", None, false, Opt::Unsupported("warmboot always passes the EFI state the running kernel has")),
    ("reuse-video-type", None, false, Opt::Unsupported("warmboot passes the running kernel's screen_info as it is")),
    ("entry-32bit", None, false, Opt::Unsupported("warmboot enters x86 kernels in 64-bit mode only")),
    ("args-elf", None, false, Opt::Unsupported("warmboot boots an ELF kernel the Linux way only (--args-linux)")),
    ("args-none", None, false, Opt::Unsupported("warmboot boots an ELF kernel the Linux way only (--args-linux)")),
    ("reset-vga", None, false, Opt::Unsupported("warmboot does not reset the VGA card before the new kernel")),
    ("hotplug", None, false, Opt::Unsupported("warmboot's kexec_load crash headers have no room for the kernel's hotplug updates; reload the capture kernel after a CPU or memory hotplug")),
    ("no-cma", None, false, Opt::Unsupported("warmboot never asks kexec_file_load to place segments in CMA, so there is nothing to turn off")),
    ("force-dtb", None, false, Opt::Unsupported("warmboot passes a DTB to x86 kernels only when the running one has one")),
    ("args-linux", None, false, Opt::ArgsLinux),
    ("module", None, true, Opt::Unsupported("multiboot modules are not implemented (warmboot boots Linux)")),
];

/// The command line of the kernel to load, as the x86/arm64 loaders build it:
/// `concat_cmdline(reuse ? get_command_line() : NULL, append)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CmdlineSpec {
    pub reuse: bool,
    pub append: Option<String>,
}

/// One load, as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadStep {
    pub kernel: Option<PathBuf>,
    pub initrd: Option<PathBuf>,
    pub cmdline: CmdlineSpec,
    pub dtb: Option<PathBuf>,
    pub panic: bool,
    pub syscall: SyscallChoice,
}

/// What a kexec command line does, in kexec-tools' order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Print the usage; exit 0.
    Help,
    /// Print the version; exit 0.
    Version,
    /// Print the crash reservation's size in bytes; exit 0.
    PrintCkrSize,
    /// Exit 1 when the crash (or with `-l`, the normal) image is loaded, else 0.
    Status {
        panic: bool,
    },
    /// `syscall`: `-s` unloads with kexec_file_load (KEXEC_FILE_UNLOAD), `-c` with
    /// kexec_load, auto by the lockdown state.
    Unload {
        panic: bool,
        syscall: SyscallChoice,
    },
    Load(LoadStep),
    /// `kexec KERNEL` without -l/-e/-f: load, then a clean reboot into it (kexec-tools
    /// runs `shutdown -r now`; warmboot runs its own `reboot`: `systemctl kexec` under
    /// systemd, else its own clean shutdown), never replaced by the default kernel first.
    Shutdown,
    /// Reboot into the loaded kernel now (`-e`, `-f`), syncing first unless told not to.
    Exec {
        sync: bool,
    },
}

/// A usage error (exit status 1), one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

/// Parses kexec-tools' arguments (without argv\[0\]) into the steps to run, and whether
/// `-d` asked for details.
pub fn parse(args: &[String]) -> Result<(Vec<Step>, bool), UsageError> {
    // kexec-tools' initial state (kexec/kexec.c main()).
    let mut has_opt_load = false;
    let mut do_load = true;
    let mut do_exec = false;
    let mut do_shutdown = true;
    let mut do_sync = true;
    let mut skip_sync = false;
    let mut do_unload = false;
    let mut do_status = false;
    let mut panic = false;
    let mut debug = false;
    let mut syscall = SyscallChoice::Auto;
    let mut cmdline = CmdlineSpec::default();
    let mut initrd = None;
    let mut dtb = None;
    let mut load_only_opt: Option<String> = None;
    let mut files: Vec<String> = Vec::new();

    let mut parsed: Vec<(Opt, String, Option<String>)> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            files.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let &(full, _, takes_arg, opt) = find_long(name)?;
            let value = match (takes_arg, inline) {
                (true, Some(v)) => Some(v),
                (true, None) => {
                    let v = args.get(i).cloned().ok_or_else(|| {
                        UsageError(format!("option '--{full}' requires an argument"))
                    })?;
                    i += 1;
                    Some(v)
                }
                (false, Some(_)) => {
                    return Err(UsageError(format!(
                        "option '--{full}' doesn't allow an argument"
                    )))
                }
                (false, None) => None,
            };
            parsed.push((opt, format!("--{full}"), value));
        } else if a.len() > 1 && a.starts_with('-') {
            let letters: Vec<char> = a[1..].chars().collect();
            let mut j = 0;
            while j < letters.len() {
                let c = letters[j];
                j += 1;
                let &(_, _, takes_arg, opt) =
                    OPTIONS.iter().find(|o| o.1 == Some(c)).ok_or_else(|| {
                        UsageError(format!("invalid option -- '{}'", printable(&c.to_string())))
                    })?;
                let value = if takes_arg {
                    let rest: String = letters[j..].iter().collect();
                    j = letters.len();
                    if rest.is_empty() {
                        let v = args.get(i).cloned().ok_or_else(|| {
                            UsageError(format!("option requires an argument -- '{c}'"))
                        })?;
                        i += 1;
                        Some(v)
                    } else {
                        Some(rest)
                    }
                } else {
                    None
                };
                parsed.push((opt, format!("-{c}"), value));
            }
        } else {
            files.push(a.clone());
        }
    }

    for (opt, name, value) in parsed {
        match opt {
            // getopt hands these to main() in order; main() returns at once.
            Opt::Help => return Ok((vec![Step::Help], debug)),
            Opt::Version => return Ok((vec![Step::Version], debug)),
            Opt::PrintCkrSize => return Ok((vec![Step::PrintCkrSize], debug)),
            Opt::Debug => debug = true,
            Opt::NoIfdown | Opt::NoChecks | Opt::Type | Opt::Elf64CoreHeaders => {}
            Opt::NoSync => skip_sync = true,
            Opt::Force => {
                do_load = true;
                do_shutdown = false;
                do_sync = true;
                do_exec = true;
            }
            Opt::Load => {
                has_opt_load = true;
                do_load = true;
                do_exec = false;
                do_shutdown = false;
            }
            Opt::Unload => {
                do_load = false;
                do_shutdown = false;
                do_sync = false;
                do_unload = true;
            }
            Opt::Exec => {
                do_load = false;
                do_shutdown = false;
                do_sync = true;
                do_exec = true;
            }
            Opt::Panic => {
                do_load = true;
                do_exec = false;
                do_shutdown = false;
                do_sync = false;
                panic = true;
            }
            Opt::FileSyscall => syscall = SyscallChoice::File,
            Opt::ClassicSyscall => syscall = SyscallChoice::Classic,
            Opt::AutoSyscall => syscall = SyscallChoice::Auto,
            Opt::Status => do_status = true,
            Opt::Append => {
                cmdline.append = value;
                load_only_opt = Some(name);
            }
            Opt::ReuseCmdline => {
                cmdline.reuse = true;
                load_only_opt = Some(name);
            }
            Opt::Initrd => {
                initrd = value.map(PathBuf::from);
                load_only_opt = Some(name);
            }
            Opt::Dtb => {
                dtb = value.map(PathBuf::from);
                load_only_opt = Some(name);
            }
            Opt::ArgsLinux => {}
            Opt::Unsupported(why) => {
                return Err(UsageError(format!(
                    "option '{name}' of kexec-tools is not supported by warmboot: {why}"
                )))
            }
        }
    }

    if skip_sync {
        do_sync = false;
    }
    if do_status {
        // -S alone asks about the crash kernel; with -l about the normal one.
        let crash = panic || !has_opt_load;
        return Ok((vec![Step::Status { panic: crash }], debug));
    }
    // kexec-tools' second pass: loader options without a load are bogus.
    if !do_load {
        if let Some(name) = load_only_opt {
            return Err(UsageError(format!(
                "option '{name}' only goes with a load (-l, -p or a kernel file)"
            )));
        }
    }
    if files.len() > 1 {
        return Err(UsageError(format!(
            "one kernel file expected, got {}: {}",
            files.len(),
            printable(&files.join(" "))
        )));
    }
    let mut steps = Vec::new();
    if do_unload {
        steps.push(Step::Unload { panic, syscall });
    }
    if do_load {
        steps.push(Step::Load(LoadStep {
            kernel: files.pop().map(PathBuf::from),
            initrd,
            cmdline,
            dtb,
            panic,
            syscall,
        }));
    }
    if do_shutdown {
        steps.push(Step::Shutdown);
    }
    if do_exec {
        steps.push(Step::Exec { sync: do_sync });
    }
    Ok((steps, debug))
}

/// An exact long option, or the one option `name` is a prefix of (getopt_long's
/// abbreviations).
fn find_long(name: &str) -> Result<&'static (&'static str, Option<char>, bool, Opt), UsageError> {
    if let Some(o) = OPTIONS.iter().find(|o| o.0 == name) {
        return Ok(o);
    }
    let candidates: Vec<_> = OPTIONS.iter().filter(|o| o.0.starts_with(name)).collect();
    match candidates.as_slice() {
        [one] if !name.is_empty() => Ok(one),
        [] | [_] => Err(UsageError(format!(
            "unrecognized option '--{}'",
            printable(name)
        ))),
        many => Err(UsageError(format!(
            "option '--{}' is ambiguous; possibilities: {}",
            printable(name),
            many.iter()
                .map(|o| format!("'--{}'", o.0))
                .collect::<Vec<_>>()
                .join(" ")
        ))),
    }
}

/// The options as `-h` and the kexec(8) page (`cargo xtask dist`) describe them: (the
/// option as written, what it does). One table, so the two never disagree.
pub const HELP_OPTIONS: &[(&str, &str)] = &[
    ("-h, --help", "Print this help."),
    ("-v, --version", "Print the version."),
    (
        "-f, --force",
        "Load (if a kernel is given) and reboot into it now, without shutdown.",
    ),
    (
        "-i, --no-checks",
        "Accepted; warmboot's checks always run (they are cheap).",
    ),
    (
        "-x, --no-ifdown",
        "Accepted; warmboot never brings interfaces down.",
    ),
    ("-y, --no-sync", "Don't sync filesystems before kexec."),
    ("-l, --load", "Load the new kernel into the current kernel."),
    ("-p, --load-panic", "Load the new kernel for use on panic."),
    (
        "-u, --unload",
        "Unload the current kexec target kernel (with -p the capture kernel).",
    ),
    ("-e, --exec", "Execute a currently loaded kernel."),
    (
        "-t, --type=TYPE",
        "Accepted; warmboot reads the format from the file.",
    ),
    ("-s, --kexec-file-syscall", "Use kexec_file_load."),
    (
        "-c, --kexec-syscall",
        "Use kexec_load (warmboot's own checked plan).",
    ),
    (
        "-a, --kexec-syscall-auto",
        "kexec_file_load, falling back to kexec_load (default).",
    ),
    (
        "-d, --debug",
        "Say what was loaded and how; kexec_file_load logs its own details in dmesg (KEXEC_FILE_DEBUG, Linux 6.8+).",
    ),
    (
        "-S, --status",
        "Exit 1 if the image (crash by default, normal with -l) is loaded, 0 if not.",
    ),
    (
        "    --print-ckr-size",
        "Print the crash kernel region size.",
    ),
    (
        "    --command-line=S, --append=S",
        "The new kernel's command line.",
    ),
    (
        "    --reuse-cmdline",
        "Use the running kernel's command line (plus --append).",
    ),
    ("    --initrd=FILE, --ramdisk=FILE", "The initrd to load."),
    ("    --dtb=FILE", "arm64: the device tree to start from."),
    (
        "    --args-linux",
        "Accepted; warmboot always boots a kernel the Linux way.",
    ),
];

/// The exit statuses, as `-h` and kexec(8) state them.
pub const EXIT_STATUS: &str =
    "0 success, 1 usage error or nothing loaded, 255 a failed load, unload or exec.";

/// The usage text (`-h`).
pub fn usage() -> String {
    let mut s = format!(
        "warmboot {} — kexec-tools compatible command line\n\
Usage: kexec [OPTION]... [kernel]\n\
Directly reboot into a new kernel\n\n",
        env!("CARGO_PKG_VERSION")
    );
    for (opt, help) in HELP_OPTIONS {
        let opt = format!(" {opt}");
        if opt.len() < 26 {
            s += &format!("{opt:<26}{help}\n");
        } else {
            s += &format!("{opt}   {help}\n");
        }
    }
    s += &format!("\nExit status: {EXIT_STATUS}\n");
    s
}

/// The exit status of `-S`: 1 loaded, 0 not, 255 unreadable.
pub fn status_exit(host: &HostRoot, panic: bool) -> (i32, Option<String>) {
    let r = if panic {
        host.kexec_crash_loaded()
    } else {
        host.kexec_loaded()
    };
    match r {
        Ok(true) => (1, None),
        Ok(false) => (0, None),
        Err(e) => (255, Some(e.to_string())),
    }
}

/// The exit status kexec-tools gives a failure of warmboot's: die() (1) for what it
/// checks before any syscall, EFAILED (255) for the rest.
pub fn failure_exit(e: &Error) -> i32 {
    match e {
        Error::NoCrashKernel => 1,
        Error::Unsupported(m) if m.starts_with("nothing to exec") => 1,
        _ => 255,
    }
}

/// `text` from the command line as a usage error shows it: control characters (a newline
/// in a file name) escaped, so the message stays one line.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Runs kexec-tools' command line `args` (without argv\[0\]) and returns the exit status.
pub fn main(args: &[String]) -> i32 {
    let (steps, debug) = match parse(args) {
        Ok(s) => s,
        Err(UsageError(m)) => {
            eprintln!("kexec: {m}");
            eprintln!("Try 'kexec --help' for the options warmboot understands.");
            return 1;
        }
    };
    // One warmboot at a time changes the loaded kernel (crate::lock); held until the end.
    let changes = |s: &Step| {
        matches!(
            s,
            Step::Unload { .. } | Step::Load(_) | Step::Shutdown | Step::Exec { .. }
        )
    };
    let _lock = if steps.iter().any(changes) {
        let mut cmd = vec!["kexec".to_string()];
        cmd.extend_from_slice(args);
        match crate::lock::take(&cmd) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("kexec: {e}");
                return failure_exit(&e);
            }
        }
    } else {
        None
    };
    for step in steps {
        let r = match step {
            Step::Help => {
                print!("{}", usage());
                return 0;
            }
            Step::Version => {
                println!(
                    "warmboot {} (kexec-tools compatible)",
                    env!("CARGO_PKG_VERSION")
                );
                return 0;
            }
            Step::PrintCkrSize => HostRoot::new("/")
                .kexec_crash_size()
                .map(|n| println!("{n}")),
            Step::Status { panic } => {
                let (code, err) = status_exit(&HostRoot::new("/"), panic);
                if let Some(e) = err {
                    eprintln!("kexec: {e}");
                }
                return code;
            }
            Step::Unload { panic, syscall } => {
                SecurityState::read(&HostRoot::new("/")).and_then(|security| {
                    let mut b = LinuxKexec::new(HostRoot::new("/"))?;
                    let mode = if panic { Mode::Panic } else { Mode::Normal };
                    let via = unload::choose(syscall, &security);
                    unload::run_via(&mut b, mode, via).map(|out| {
                        crate::load_record::forget(mode);
                        if debug {
                            eprint!("{out}");
                        }
                    })
                })
            }
            Step::Load(l) => run_load(l, debug),
            Step::Shutdown => crate::commands::reboot::run_real(
                false,
                false,
                crate::commands::reboot::Refresh::KeepLoaded,
            ),
            Step::Exec { sync } => LinuxKexec::new(HostRoot::new("/")).and_then(|mut b| {
                // One line in the kernel log (and so on the console), so a shutdown log
                // shows warmboot did the jump: systemd-shutdown runs `kexec -e` with its
                // output on /dev/null, and would fall back to reboot(RB_KEXEC) silently.
                if b.status()?.loaded {
                    let line = "warmboot: kexec -e: rebooting into the loaded kernel";
                    eprintln!("kexec: {line}");
                    if let Ok(mut kmsg) = std::fs::OpenOptions::new().write(true).open("/dev/kmsg")
                    {
                        let _ =
                            std::io::Write::write_all(&mut kmsg, format!("{line}\n").as_bytes());
                    }
                }
                exec::run(&mut b, !sync)
            }),
        };
        if let Err(e) = r {
            eprintln!("kexec: {e}");
            return failure_exit(&e);
        }
    }
    0
}

fn run_load(l: LoadStep, debug: bool) -> Result<(), Error> {
    let opts = load_options(l, debug, &HostRoot::new("/"))?;
    let out = load::run(&opts)?;
    if debug {
        eprint!("{out}");
    }
    Ok(())
}

/// What `warmboot load` is asked for by one kexec-tools load on the machine at `host`
/// (its command line is read for `--reuse-cmdline`). kexec-tools' purgatory always checks
/// its SHA-256 (unless -i); warmboot's exec path stays unhashed, as with `warmboot load`
/// without --verify.
fn load_options(l: LoadStep, debug: bool, host: &HostRoot) -> Result<load::LoadOptions, Error> {
    let kernel = l.kernel.ok_or_else(|| {
        Error::Unsupported("No kernel specified (give the kernel file)".to_string())
    })?;
    let mode = if l.panic { Mode::Panic } else { Mode::Normal };
    let cmdline = match (l.cmdline.reuse, l.cmdline.append) {
        (false, None) => load::CmdlineSource::Empty,
        (false, Some(s)) => load::CmdlineSource::Given(s),
        (true, append) => {
            let mut s = load::reuse_cmdline(&host.cmdline()?, mode);
            if let Some(a) = append {
                s = if s.is_empty() { a } else { format!("{s} {a}") };
            }
            load::CmdlineSource::Given(s)
        }
    };
    let mut opts = load::LoadOptions::new(kernel, l.initrd);
    opts.cmdline = cmdline;
    opts.mode = mode;
    opts.syscall = l.syscall;
    opts.dtb = l.dtb;
    // kexec-tools' -d sets KEXEC_FILE_DEBUG (kexec/kexec.c, OPT_DEBUG).
    opts.kernel_debug = debug;
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(cmd: &str) -> Result<Vec<Step>, UsageError> {
        let args: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
        parse(&args).map(|(s, _)| s)
    }

    fn load(kernel: &str) -> LoadStep {
        LoadStep {
            kernel: Some(PathBuf::from(kernel)),
            initrd: None,
            cmdline: CmdlineSpec::default(),
            dtb: None,
            panic: false,
            syscall: SyscallChoice::Auto,
        }
    }

    /// The kexec command lines Debian bookworm's kdump-tools ran through warmboot as
    /// /sbin/kexec in `cargo xtask e2e` (the fixture says how each was recorded), and what
    /// kdump-config makes of them under Secure Boot (`-s` right after `-p`): each must mean
    /// what kexec-tools makes of it.
    #[test]
    fn debian_kdump_tools_vectors_from_the_e2e() {
        let fixture = include_str!("../tests/fixtures/kdump-tools/bookworm.txt");
        let argv = |name: &str| -> Vec<String> {
            let line = fixture
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                .unwrap_or_else(|| panic!("no {name}: line in the fixture"));
            let fields = line.strip_suffix('|').expect("each argument ends with |");
            fields.split('|').map(str::to_string).collect()
        };
        let secure = |mut v: Vec<String>| {
            let p = v.iter().position(|a| a == "-p").expect("-p");
            v.insert(p + 1, "-s".to_string());
            v
        };
        let load = argv("load");
        let cmdline = load
            .iter()
            .find_map(|a| a.strip_prefix("--command-line="))
            .expect("--command-line=");
        assert!(
            cmdline.contains("systemd.unit=kdump-tools-dump.service") && !cmdline.contains('"'),
            "{cmdline}"
        );
        let expected = |syscall| {
            vec![Step::Load(LoadStep {
                kernel: Some(PathBuf::from("/var/lib/kdump/vmlinuz")),
                initrd: Some(PathBuf::from("/var/lib/kdump/initrd.img")),
                cmdline: CmdlineSpec {
                    reuse: false,
                    append: Some(cmdline.to_string()),
                },
                dtb: None,
                panic: true,
                syscall,
            })]
        };
        assert_eq!(parse(&load), Ok((expected(SyscallChoice::Auto), false)));
        assert_eq!(
            parse(&secure(load.clone())),
            Ok((expected(SyscallChoice::File), false))
        );
        let unload = |syscall| {
            vec![Step::Unload {
                panic: true,
                syscall,
            }]
        };
        assert_eq!(argv("unload"), ["-p", "-u"]);
        assert_eq!(
            parse(&argv("unload")),
            Ok((unload(SyscallChoice::Auto), false))
        );
        assert_eq!(
            parse(&secure(argv("unload"))),
            Ok((unload(SyscallChoice::File), false))
        );
    }

    #[test]
    fn real_callers() {
        let k = "/boot/vmlinuz-6.1.0-56-amd64";
        let i = "/boot/initrd.img-6.1.0-56-amd64";
        let with = |f: &dyn Fn(&mut LoadStep)| {
            let mut l = load(k);
            l.initrd = Some(PathBuf::from(i));
            f(&mut l);
            vec![Step::Load(l)]
        };
        let table: Vec<(String, Vec<Step>)> = vec![
            // systemd-shutdown (src/shutdown/shutdown.c) and Debian's /etc/init.d/kexec.
            ("-e".into(), vec![Step::Exec { sync: true }]),
            // systemctl kexec without a loaded kernel (systemctl-start-special.c).
            (
                format!("--load {k} --append root=/dev/vda1 --initrd {i}"),
                with(&|l| l.cmdline.append = Some("root=/dev/vda1".into())),
            ),
            // Debian /etc/init.d/kexec-load.
            (
                format!("-l {k} --initrd={i} --append=root=/dev/vda1"),
                with(&|l| l.cmdline.append = Some("root=/dev/vda1".into())),
            ),
            // Debian kdump-tools.
            (
                format!("-p --command-line=reset_devices --initrd={i} {k}"),
                with(&|l| {
                    l.panic = true;
                    l.cmdline.append = Some("reset_devices".into());
                }),
            ),
            // Fedora kdumpctl (KEXEC_ARGS="-s", standard args "-d -p").
            (
                format!("-s -d -p --command-line=nr_cpus=1 --initrd={i} {k}"),
                with(&|l| {
                    l.panic = true;
                    l.syscall = SyscallChoice::File;
                    l.cmdline.append = Some("nr_cpus=1".into());
                }),
            ),
            // Arch wiki's kexec-load@.service.
            (
                format!("-l {k} --initrd={i} --reuse-cmdline"),
                with(&|l| l.cmdline.reuse = true),
            ),
            // Unloads: kdump-tools and kdumpctl use -p -u.
            (
                "-u".into(),
                vec![Step::Unload {
                    panic: false,
                    syscall: SyscallChoice::Auto,
                }],
            ),
            (
                "-p -u".into(),
                vec![Step::Unload {
                    panic: true,
                    syscall: SyscallChoice::Auto,
                }],
            ),
            (
                "-pu".into(),
                vec![Step::Unload {
                    panic: true,
                    syscall: SyscallChoice::Auto,
                }],
            ),
            // Fedora's kdumpctl and kdump-config under Secure Boot: -s honoured for unload.
            (
                "-s -p -u".into(),
                vec![Step::Unload {
                    panic: true,
                    syscall: SyscallChoice::File,
                }],
            ),
            (
                "-s -u".into(),
                vec![Step::Unload {
                    panic: false,
                    syscall: SyscallChoice::File,
                }],
            ),
            (
                "-c -u".into(),
                vec![Step::Unload {
                    panic: false,
                    syscall: SyscallChoice::Classic,
                }],
            ),
            // Status: crash by default, normal with -l.
            ("-S".into(), vec![Step::Status { panic: true }]),
            ("-l -S".into(), vec![Step::Status { panic: false }]),
            ("-p -S".into(), vec![Step::Status { panic: true }]),
            // Options after the kernel, clustered, abbreviated; -t's argument attached.
            (format!("{k} -lx -tbzImage --init={i}"), with(&|_| {})),
            // No action: load, then a clean reboot (kexec-tools runs shutdown -r now).
            (k.to_string(), vec![Step::Load(load(k)), Step::Shutdown]),
            // -f: load and exec at once; -y: without sync.
            (
                format!("-f -y {k}"),
                vec![Step::Load(load(k)), Step::Exec { sync: false }],
            ),
            ("-e --no-sync".into(), vec![Step::Exec { sync: false }]),
            ("-h -e".into(), vec![Step::Help]),
            ("--version".into(), vec![Step::Version]),
            ("--print-ckr-size".into(), vec![Step::PrintCkrSize]),
            // -- ends the options.
            (format!("-l -- {k}"), vec![Step::Load(load(k))]),
        ];
        for (cmd, want) in table {
            assert_eq!(steps(&cmd), Ok(want), "{cmd}");
        }
    }

    #[test]
    fn debug_asks_kexec_file_load_for_the_kernels_debug_messages() {
        let args = |cmd: &str| {
            cmd.split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        let host = HostRoot::new("/nonexistent");
        // Fedora's kdumpctl: -s -d -p.
        let (steps, debug) = parse(&args("-s -d -p --command-line=x /boot/vmlinuz")).unwrap();
        let Some(Step::Load(l)) = steps.into_iter().next() else {
            panic!("no load")
        };
        let opts = load_options(l, debug, &host).unwrap();
        assert!(opts.kernel_debug);
        assert_eq!(
            (opts.syscall, opts.mode, opts.cmdline),
            (
                SyscallChoice::File,
                Mode::Panic,
                load::CmdlineSource::Given("x".into())
            )
        );
        let (steps, debug) = parse(&args("-l /boot/vmlinuz")).unwrap();
        let Some(Step::Load(l)) = steps.into_iter().next() else {
            panic!("no load")
        };
        assert!(!load_options(l, debug, &host).unwrap().kernel_debug);
    }

    #[test]
    fn bad_invocations_are_usage_errors_naming_the_option() {
        for (cmd, msg) in [
            ("--bogus", "unrecognized option '--bogus'"),
            ("-Z", "invalid option -- 'Z'"),
            ("-l --initrd", "option '--initrd' requires an argument"),
            ("-t", "option requires an argument -- 't'"),
            ("--load=x", "option '--load' doesn't allow an argument"),
            ("--re k", "option '--re' is ambiguous"),
            (
                "-l --mem-min=0x1000 k",
                "option '--mem-min' of kexec-tools is not supported by warmboot",
            ),
            ("-e --append=x", "option '--append' only goes with a load"),
            ("-u --initrd=x", "option '--initrd' only goes with a load"),
            ("-l a b", "one kernel file expected, got 2: a b"),
        ] {
            let e = steps(cmd).unwrap_err().0;
            assert!(e.starts_with(msg), "{cmd}: {e}");
        }
    }

    #[test]
    fn kexec_tools_options_warmboot_lacks_are_refused_by_name_with_the_reason() {
        for (opt, why) in [
            ("--args-elf", "the Linux way only"),
            ("--args-none", "the Linux way only"),
            ("--reset-vga", "does not reset the VGA card"),
            ("--entry-32bit", "64-bit mode only"),
            (
                "--hotplug",
                "reload the capture kernel after a CPU or memory hotplug",
            ),
            (
                "--no-cma",
                "never asks kexec_file_load to place segments in CMA",
            ),
            ("--force-dtb", "DTB"),
        ] {
            let e = steps(&format!("-l {opt} /boot/vmlinuz")).unwrap_err().0;
            assert!(
                e.starts_with(&format!(
                    "option '{opt}' of kexec-tools is not supported by warmboot: "
                )) && e.contains(why),
                "{opt}: {e}"
            );
        }
        // kdump-config adds --args-linux for ELF kernels: what warmboot does anyway.
        assert_eq!(
            steps("-p --args-linux /boot/vmlinux"),
            steps("-p /boot/vmlinux")
        );
    }

    /// Fuzz regression (target kexec_args): file names and option names are echoed in usage
    /// errors; a newline in them made the one-line message span lines.
    #[test]
    fn usage_errors_escape_control_characters() {
        let args = |list: &[&str]| list.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        for (list, msg) in [
            // The crashing input: "\n\x01\0", NUL-separated arguments.
            (
                &["\n\u{1}", ""][..],
                "one kernel file expected, got 2: \\n\\u{1} ",
            ),
            (&["--bo\ngus"][..], "unrecognized option '--bo\\ngus'"),
            (&["-\r"][..], "invalid option -- '\\r'"),
        ] {
            let e = parse(&args(list)).unwrap_err().0;
            assert_eq!(e, msg);
            assert!(!e.chars().any(char::is_control), "{e:?}");
        }
    }

    proptest::proptest! {
        /// Any argument list parses to steps or a usage error, never a panic.
        #[test]
        fn parse_never_panics(args in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::string::string_regex("-[a-zA-Z?éé]{0,4}").unwrap(),
                proptest::string::string_regex("--[a-z-]{0,12}(=[a-z/]{0,6})?").unwrap(),
                proptest::string::string_regex("[a-z/é]{0,8}").unwrap(),
                proptest::strategy::Just("--".to_string()),
            ],
            0..8,
        )) {
            if let Ok((steps, _)) = parse(&args) {
                // kexec-tools' flags always leave something to do (-u, -e, -l, -p each
                // set one), in its order: unload, load, shutdown, exec.
                proptest::prop_assert!(!steps.is_empty());
                let rank = |s: &Step| match s {
                    Step::Unload { .. } => 1,
                    Step::Load(_) => 2,
                    Step::Shutdown => 3,
                    Step::Exec { .. } => 4,
                    _ => 0,
                };
                let ranks: Vec<u8> = steps.iter().map(rank).collect();
                proptest::prop_assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{:?}", steps);
            }
        }
    }

    #[test]
    fn exit_codes_follow_kexec_tools() {
        assert_eq!(failure_exit(&Error::NoCrashKernel), 1);
        assert_eq!(
            failure_exit(&Error::Unsupported("nothing to exec: no kernel".into())),
            1
        );
        assert_eq!(
            failure_exit(&Error::Syscall {
                call: "kexec_load()".into(),
                errno: nix::errno::Errno::EBUSY
            }),
            255
        );
        let dir = tempfile::tempdir().unwrap();
        let host = HostRoot::new(dir.path());
        assert_eq!(status_exit(&host, true).0, 255);
        std::fs::create_dir_all(dir.path().join("sys/kernel")).unwrap();
        std::fs::write(dir.path().join("sys/kernel/kexec_crash_loaded"), "1\n").unwrap();
        std::fs::write(dir.path().join("sys/kernel/kexec_loaded"), "0\n").unwrap();
        assert_eq!(status_exit(&host, true), (1, None));
        assert_eq!(status_exit(&host, false), (0, None));
    }
}
