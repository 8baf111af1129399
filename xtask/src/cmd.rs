//! The one way xtask runs a child process.
//!
//! Every command is echoed before it runs (so a CI log can be replayed by hand), its
//! arguments are passed one by one (never through `sh -c`), stdin is closed (CI has none),
//! and a non-zero exit becomes an error naming the command.

use crate::error::{Error, Result};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// A command line to run, built argument by argument.
#[derive(Debug, Clone)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    cwd: Option<PathBuf>,
    envs: Vec<(OsString, OsString)>,
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        Cmd {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            cwd: None,
            envs: Vec::new(),
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Cmd {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Cmd {
        self.envs
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// The command as a shell would need it typed, for echoing and error messages.
    pub fn display(&self) -> String {
        let mut parts: Vec<String> = self
            .envs
            .iter()
            .map(|(k, v)| format!("{}={}", k.to_string_lossy(), quote(v)))
            .collect();
        parts.push(quote(&self.program));
        parts.extend(self.args.iter().map(|a| quote(a)));
        parts.join(" ")
    }

    fn echo(&self) {
        match &self.cwd {
            Some(dir) => eprintln!("$ (cd {} && {})", quote(dir.as_os_str()), self.display()),
            None => eprintln!("$ {}", self.display()),
        }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args).stdin(Stdio::null());
        if let Some(dir) = &self.cwd {
            c.current_dir(dir);
        }
        for (k, v) in &self.envs {
            c.env(k, v);
        }
        c
    }

    fn spawn_error(&self) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Spawn {
            cmd: self.display(),
            source,
        }
    }

    /// Runs with stdout and stderr passed through; fails on a non-zero exit.
    pub fn run(&self) -> Result<()> {
        self.echo();
        let status = self.command().status().map_err(self.spawn_error())?;
        if status.success() {
            Ok(())
        } else {
            Err(Error::CommandFailed {
                cmd: self.display(),
                status,
            })
        }
    }

    /// Runs with stdout and stderr written to `log` (a chatty tool whose output the caller
    /// summarises, e.g. libFuzzer), killing it after `limit`. Returns the exit status, or
    /// `None` when it was killed; a non-zero exit is the caller's to judge.
    pub fn run_logged(&self, log: &Path, limit: Duration) -> Result<Option<ExitStatus>> {
        self.echo();
        let out = std::fs::File::create(log).map_err(Error::io(log))?;
        let err = out.try_clone().map_err(Error::io(log))?;
        let mut child = self
            .command()
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(self.spawn_error())?;
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().map_err(self.spawn_error())? {
                return Ok(Some(status));
            }
            if start.elapsed() > limit {
                // Our own child, by its id.
                let _ = child.kill();
                let _ = child.wait();
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Runs, captures stdout as text (stderr passes through); fails on a non-zero exit.
    pub fn read(&self) -> Result<String> {
        self.echo();
        let out = self
            .command()
            .stderr(Stdio::inherit())
            .output()
            .map_err(self.spawn_error())?;
        if !out.status.success() {
            return Err(Error::CommandFailed {
                cmd: self.display(),
                status: out.status,
            });
        }
        String::from_utf8(out.stdout).map_err(|_| Error::NotUtf8 {
            cmd: self.display(),
        })
    }

    /// Runs a probe whose exit status is part of the answer (e.g. "is this version in the
    /// archive?"): stdout if it succeeded, `None` if it exited non-zero. Output is captured,
    /// not shown; only a failure to start the program is an error.
    pub fn try_read(&self) -> Result<Option<String>> {
        self.echo();
        let out: Output = self.command().output().map_err(self.spawn_error())?;
        if !out.status.success() {
            return Ok(None);
        }
        String::from_utf8(out.stdout)
            .map(Some)
            .map_err(|_| Error::NotUtf8 {
                cmd: self.display(),
            })
    }

    /// [`Cmd::try_read`] when only the exit status matters.
    pub fn succeeds(&self) -> Result<bool> {
        Ok(self.try_read()?.is_some())
    }
}

/// Quotes one word the way a POSIX shell would need it, only when it has to.
fn quote(word: &OsStr) -> String {
    let s = word.to_string_lossy();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=+,@%".contains(c));
    if plain {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_only_what_needs_it() {
        let c = Cmd::new("apt-get")
            .env("CI", "true")
            .args(["-o", "Dir::Cache=/a b/c", "download", "pkg:arm64=1:2.0-3"])
            .arg("it's");
        assert_eq!(
            c.display(),
            r"CI=true apt-get -o 'Dir::Cache=/a b/c' download pkg:arm64=1:2.0-3 'it'\''s'"
        );
    }

    #[test]
    fn non_zero_exit_names_the_command() {
        let err = Cmd::new("false").arg("x").run().unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("`false x` failed"), "{msg}");
    }

    #[test]
    fn missing_program_names_the_command() {
        let err = Cmd::new("/nonexistent/warmboot-no-such-program")
            .run()
            .unwrap_err();
        assert!(matches!(err, Error::Spawn { .. }), "{err}");
        assert!(err
            .to_string()
            .contains("/nonexistent/warmboot-no-such-program"));
    }

    #[test]
    fn run_logged_writes_the_log_and_kills_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("out.log");
        let status = Cmd::new("sh")
            .args(["-c", "echo out; echo err >&2; exit 3"])
            .run_logged(&log, Duration::from_secs(30))
            .unwrap();
        assert_eq!(status.and_then(|s| s.code()), Some(3));
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "out\nerr\n");
        let start = Instant::now();
        let killed = Cmd::new("sleep")
            .arg("30")
            .run_logged(&log, Duration::from_millis(300))
            .unwrap();
        assert_eq!(killed, None);
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn read_captures_stdout_and_probe_reports_status() {
        let out = Cmd::new("printf")
            .args(["%s-%s", "a b", "c"])
            .read()
            .unwrap();
        assert_eq!(out, "a b-c");
        assert!(Cmd::new("true").succeeds().unwrap());
        assert_eq!(
            Cmd::new("sh")
                .args(["-c", "echo no; exit 3"])
                .try_read()
                .unwrap(),
            None
        );
        assert!(!Cmd::new("false").succeeds().unwrap());
    }
}
