//! One QEMU guest process: started in its own process group, its serial console read line
//! by line and stamped with host monotonic time, and killed on every exit path (drop,
//! timeout, Ctrl-C).

use crate::qemu::GuestConfig;
use crate::serial::{clean_line, render_line, Stamped};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// File names of a run directory's serial log and QEMU stderr.
pub const SERIAL_LOG: &str = "serial.log";
pub const STDERR_LOG: &str = "qemu-stderr.log";

/// Process groups of the guests alive right now, killed by the Ctrl-C handler.
static LIVE_GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// Makes SIGINT and SIGTERM kill every live guest before exiting, so Ctrl-C never leaves
/// a QEMU behind. Call once at start-up.
pub fn install_interrupt_handler() {
    if let Err(e) = interrupt::install(|signal| {
        kill_all_guests();
        eprintln!("\nxtask: interrupted; every QEMU guest was killed");
        // The shell's convention: 128 + the signal's number (130 for Ctrl-C).
        std::process::exit(128 + signal);
    }) {
        eprintln!("xtask: cannot handle SIGINT/SIGTERM ({e}); Ctrl-C may leave QEMU running");
    }
}

/// The self-pipe: the signal handler only writes the signal's number to a pipe (write(2)
/// is async-signal-safe), and a thread reading the pipe runs the reaction as ordinary code.
/// Signals are not blocked, so the children xtask starts inherit the default mask.
mod interrupt {
    // The only unsafe code in xtask: installing a handler (sigaction) and its write(2).
    #![allow(unsafe_code)]

    use nix::libc;
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    use std::io::Read;
    use std::os::fd::IntoRawFd;
    use std::sync::atomic::{AtomicI32, Ordering};

    /// The pipe's write end, for the handler; -1 until installed.
    static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

    extern "C" fn on_signal(signal: libc::c_int) {
        let fd = WAKE_FD.load(Ordering::Relaxed);
        // Every Linux signal number fits a byte.
        let byte = signal as u8;
        // SAFETY: write(2) is async-signal-safe; `fd` is the pipe's write end, kept open
        // for the life of the process, and the buffer is one byte on this stack.
        let _ = unsafe { libc::write(fd, std::ptr::addr_of!(byte).cast(), 1) };
    }

    /// Runs `react` (on its own thread) with the number of the first SIGINT or SIGTERM.
    pub fn install(react: fn(i32)) -> std::io::Result<()> {
        let (read, write) = nix::unistd::pipe()?;
        WAKE_FD.store(write.into_raw_fd(), Ordering::Relaxed);
        let mut read = std::fs::File::from(read);
        std::thread::Builder::new()
            .name("xtask-signals".into())
            .spawn(move || {
                let mut byte = [0u8; 1];
                if read.read_exact(&mut byte).is_ok() {
                    react(i32::from(byte[0]));
                }
            })?;
        let action = SigAction::new(
            SigHandler::Handler(on_signal),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        for signal in [Signal::SIGINT, Signal::SIGTERM] {
            // SAFETY: `on_signal` only loads an atomic and calls write(2), both
            // async-signal-safe; no other code in xtask installs handlers for these.
            unsafe { sigaction(signal, &action) }?;
        }
        Ok(())
    }
}

fn kill_all_guests() {
    let groups = LIVE_GROUPS.lock().map(|g| g.clone()).unwrap_or_default();
    for pgid in groups {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pgid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// How a guest run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// QEMU exited by itself (poweroff, or a panic with -no-reboot) with this status.
    Exited(Option<i32>),
    /// The caller decided it had seen enough.
    Stopped,
    /// The hard timeout passed; QEMU was killed.
    TimedOut,
}

/// What the line callback wants next.
pub enum Flow {
    Continue,
    Stop,
}

/// A running guest.
pub struct Guest {
    child: Child,
    pgid: i32,
    stdin: Option<ChildStdin>,
    lines: Receiver<Stamped>,
    log: Vec<Stamped>,
    log_file: File,
    /// Time zero of the serial stamps.
    start: Instant,
}

impl Guest {
    /// Starts QEMU for `config`, saving the serial log and QEMU's stderr in `run_dir`.
    pub fn start(config: &GuestConfig, run_dir: &Path) -> std::io::Result<Guest> {
        std::fs::create_dir_all(run_dir)?;
        let serial_log = run_dir.join(SERIAL_LOG);
        let stderr_log = run_dir.join(STDERR_LOG);
        std::fs::write(run_dir.join("command.txt"), config.display() + "\n")?;
        let mut child = Command::new(config.arch.qemu_binary())
            .args(config.args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(File::create(&stderr_log)?)
            .process_group(0)
            .spawn()?;
        let pgid = child.id() as i32;
        if let Ok(mut g) = LIVE_GROUPS.lock() {
            g.push(pgid);
        }
        let start = Instant::now();
        let stdout = child.stdout.take().ok_or(std::io::ErrorKind::BrokenPipe)?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut raw = Vec::new();
            loop {
                raw.clear();
                match reader.read_until(b'\n', &mut raw) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = clean_line(String::from_utf8_lossy(&raw).trim_end_matches('\n'));
                        let stamped = Stamped {
                            t: start.elapsed(),
                            line,
                        };
                        if tx.send(stamped).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Ok(Guest {
            stdin: child.stdin.take(),
            child,
            pgid,
            lines,
            log: Vec::new(),
            log_file: File::create(&serial_log)?,
            start,
        })
    }

    /// Feeds each serial line to `on_line` until it says stop, QEMU exits, or `timeout`
    /// passes (then QEMU is killed).
    pub fn run(
        &mut self,
        timeout: Duration,
        mut on_line: impl FnMut(&Stamped, &mut dyn Write) -> Flow,
    ) -> Ending {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.kill();
                return Ending::TimedOut;
            }
            match self
                .lines
                .recv_timeout(left.min(Duration::from_millis(500)))
            {
                Ok(line) => {
                    let _ = writeln!(self.log_file, "{}", render_line(&line));
                    let mut sink = std::io::sink();
                    let stdin: &mut dyn Write = match self.stdin.as_mut() {
                        Some(s) => s,
                        None => &mut sink,
                    };
                    let flow = on_line(&line, stdin);
                    self.log.push(line);
                    if let Flow::Stop = flow {
                        self.kill();
                        return Ending::Stopped;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let Ok(Some(_)) = self.child.try_wait() {
                        // Exited; drain what is still buffered before reporting.
                        continue;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok().and_then(|s| s.code());
                    return Ending::Exited(status);
                }
            }
        }
    }

    /// Now, on the clock of the serial stamps (what a host-side probe stamps its
    /// attempts with, so they compare with the console's lines).
    pub fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// Reads the serial lines that arrive within `wait` into the log, without a callback
    /// and without killing the guest: for callers that do other work (a network probe)
    /// between reads. `Some` when QEMU has exited.
    pub fn pump(&mut self, wait: Duration) -> Option<Ending> {
        let until = Instant::now() + wait;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let _ = writeln!(self.log_file, "{}", render_line(&line));
                    self.log.push(line);
                }
                Err(RecvTimeoutError::Timeout) => return None,
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok().and_then(|s| s.code());
                    return Some(Ending::Exited(status));
                }
            }
        }
    }

    /// Every serial line read so far.
    pub fn log(&self) -> &[Stamped] {
        &self.log
    }

    /// Kills the whole process group: TERM, a short grace period, then KILL.
    fn kill(&mut self) {
        use nix::sys::signal::{killpg, Signal};
        let pid = nix::unistd::Pid::from_raw(self.pgid);
        if let Ok(None) = self.child.try_wait() {
            let _ = killpg(pid, Signal::SIGTERM);
            let until = Instant::now() + Duration::from_secs(2);
            while Instant::now() < until {
                if let Ok(Some(_)) = self.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = killpg(pid, Signal::SIGKILL);
        let _ = self.child.wait();
        if let Ok(mut g) = LIVE_GROUPS.lock() {
            g.retain(|&p| p != self.pgid);
        }
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        self.kill();
    }
}
