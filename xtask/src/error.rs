//! xtask's one error type.
//!
//! Every message names the command, file or package it concerns, on one line, so that a CI
//! log shows at once what to fix.

use std::path::PathBuf;
use std::process::ExitStatus;

/// Everything that can go wrong in an xtask job.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("could not start `{cmd}`: {source}")]
    Spawn {
        cmd: String,
        #[source]
        source: std::io::Error,
    },

    #[error("`{cmd}` failed ({status})")]
    CommandFailed { cmd: String, status: ExitStatus },

    #[error("`{cmd}` printed output that is not UTF-8")]
    NotUtf8 { cmd: String },

    /// The manifest is malformed or inconsistent.
    #[error("{}: {reason}", path.display())]
    Manifest { path: PathBuf, reason: String },

    #[error("{}: invalid JSON: {source}", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    /// `<cache>/kernels.json` parses but is inconsistent.
    #[error("{}: {reason}", path.display())]
    Index { path: PathBuf, reason: String },

    #[error("{}: sha256 is {actual} but the manifest pins {expected}", path.display())]
    Sha256Mismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },

    /// Something about one Debian package (download, resolution, unpacking) went wrong.
    #[error("package {package}: {reason}")]
    Package { package: String, reason: String },

    /// A QEMU boot scenario could not run or did not pass.
    #[error("boot {reason}")]
    Boot { reason: String },

    /// The downtime benchmark was asked for something it cannot do, or its output is wrong.
    #[error("bench: {reason}")]
    Bench { reason: String },

    /// A kept ELF file needs a library or interpreter no package of the manifest keeps.
    #[error("{arch}: shared libraries missing from images/manifest.toml: {problems}")]
    MissingLibraries {
        arch: &'static str,
        problems: String,
    },

    #[error("no cache directory: set WARMBOOT_CACHE or HOME")]
    NoCacheDir,

    #[error("host packages missing: {missing} (run as root, or: apt-get install {missing})")]
    HostPackagesMissing { missing: String },

    /// A tool CI needs could not be installed ([`crate::setup`]).
    #[error("cannot set up this machine for CI: {what} failed: {reason}")]
    Setup { what: String, reason: String },

    /// `cargo xtask fuzz` could not run, or a target crashed (the details are printed).
    #[error("fuzz: {reason}")]
    Fuzz { reason: String },

    #[error("CI failed at step `{step}`")]
    CiStepFailed { step: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Attaches the path to an I/O error, since `std::io::Error` never says which file.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}
