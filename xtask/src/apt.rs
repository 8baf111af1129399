//! apt with a private state directory, so xtask can fetch packages of any architecture
//! and of every Debian release the manifest names, without `dpkg --add-architecture` and
//! without touching the host's package lists or sources.
//!
//! Every call passes `-o Dir::State::Lists=<state>/lists -o Dir::Cache=<state>/cache`, its
//! own sources list `<state>/sources.list` (written by [`Apt::ensure_updated`], see
//! [`sources_list`]) with an empty parts directory, and every architecture of
//! [`DebArch::ALL`] (bookworm has no riscv64: apt notes that and skips its lists). A fresh Debian
//! 12 host lists only bookworm; Debian 13's kernels need trixie, and the archive keyring of
//! Debian 12 (debian-archive-keyring 2023.3+deb12u1 and later) already holds trixie's keys.
//! Only the host's dpkg status and keyrings are read.

use crate::cmd::Cmd;
use crate::error::{Error, Result};
use crate::manifest::{DebArch, SUITES};
use std::path::{Path, PathBuf};

/// Where the Debian archive and its security archive are (as in a default Debian install).
const MIRROR: &str = "http://deb.debian.org/debian";
const SECURITY_MIRROR: &str = "http://deb.debian.org/debian-security";
/// The keyring of Debian's archive signing keys, from the package debian-archive-keyring.
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// Debian unstable, where the newest kernel series lives. Only `cargo xtask validate
/// --package` lists it ([`Apt::with_unstable`]); `cargo xtask images` never does, and it
/// has no `-updates` or `-security` suite.
pub const UNSTABLE: &str = "sid";

/// The private sources list: for every release of [`SUITES`], the release, its
/// `-updates` and its `-security` suite, component main, every architecture; with
/// `unstable`, [`UNSTABLE`] as well.
pub fn sources_list(unstable: bool) -> String {
    let archs: Vec<&str> = DebArch::ALL.iter().map(|a| a.debian()).collect();
    let options = format!("[arch={} signed-by={KEYRING}]", archs.join(","));
    let mut text = String::from(
        "# Written by `cargo xtask images` or `validate --package` (xtask/src/apt.rs) for\n\
         # the private apt state; the host's sources are not read. Rewritten before every\n\
         # `apt-get update`.\n",
    );
    for suite in SUITES {
        for (mirror, suite) in [
            (MIRROR, suite.to_owned()),
            (MIRROR, format!("{suite}-updates")),
            (SECURITY_MIRROR, format!("{suite}-security")),
        ] {
            text += &format!("deb {options} {mirror} {suite} main\n");
        }
    }
    if unstable {
        text += &format!("deb {options} {MIRROR} {UNSTABLE} main\n");
    }
    text
}

pub struct Apt {
    state: PathBuf,
    updated: bool,
    unstable: bool,
}

impl Apt {
    pub fn new(state: PathBuf) -> Apt {
        Apt {
            state,
            updated: false,
            unstable: false,
        }
    }

    /// The same private state with [`UNSTABLE`] in its sources too. Its lists share the
    /// state's lists directory, so the next `apt-get update` of an [`Apt::new`] drops sid's
    /// lists again (and this one fetches them anew): `cargo xtask images` never sees sid.
    pub fn with_unstable(state: PathBuf) -> Apt {
        Apt {
            unstable: true,
            ..Apt::new(state)
        }
    }

    /// The suites this state's sources name, e.g. for an error message.
    pub fn suites(&self) -> String {
        let mut s = SUITES.join(", ");
        if self.unstable {
            s = format!("{s}, {UNSTABLE}");
        }
        format!("{s} (and their -updates, -security)")
    }

    fn options(&self) -> Vec<String> {
        let mut opts = vec![
            format!("Dir::State::Lists={}/lists", self.state.display()),
            format!("Dir::Cache={}/cache", self.state.display()),
            format!("Dir::Etc::SourceList={}", self.sources().display()),
            format!("Dir::Etc::SourceParts={}", self.source_parts().display()),
        ];
        opts.extend(
            DebArch::ALL
                .iter()
                .map(|a| format!("APT::Architectures::={}", a.debian())),
        );
        opts.into_iter()
            .flat_map(|o| ["-o".to_string(), o])
            .collect()
    }

    fn sources(&self) -> PathBuf {
        self.state.join("sources.list")
    }

    /// Kept empty, so that no other sources file is read.
    fn source_parts(&self) -> PathBuf {
        self.state.join("sources.list.d")
    }

    fn apt_get(&self) -> Cmd {
        Cmd::new("apt-get").arg("-q").args(self.options())
    }

    fn apt_cache(&self) -> Cmd {
        Cmd::new("apt-cache").args(self.options())
    }

    /// Refreshes the private package lists once per run, and only when something must be
    /// downloaded (a run with everything cached needs no network).
    pub fn ensure_updated(&mut self) -> Result<()> {
        if self.updated {
            return Ok(());
        }
        for dir in ["lists/partial", "cache/archives/partial", "sources.list.d"] {
            let d = self.state.join(dir);
            std::fs::create_dir_all(&d).map_err(Error::io(&d))?;
        }
        let sources = self.sources();
        std::fs::write(&sources, sources_list(self.unstable)).map_err(Error::io(&sources))?;
        self.apt_get().arg("update").run()?;
        self.updated = true;
        Ok(())
    }

    /// Whether the archive still has exactly this version in one of `suites`. (`apt-cache
    /// show pkg=version` cannot tell: it exits 0 with no output for a missing version.)
    pub fn has_version(
        &mut self,
        name: &str,
        arch: DebArch,
        version: &str,
        suites: &[String],
    ) -> Result<bool> {
        Ok(self
            .madison(name, arch)?
            .iter()
            .any(|(v, suite)| v == version && suites.contains(suite)))
    }

    /// The newest version of the package in `suites`, if the archive has it there at all.
    /// (apt's own candidate would be the newest of every suite in the sources: a trixie
    /// libc6 for a bookworm pin.)
    pub fn newest_in(
        &mut self,
        name: &str,
        arch: DebArch,
        suites: &[String],
    ) -> Result<Option<String>> {
        Ok(self
            .madison(name, arch)?
            .into_iter()
            .find(|(_, suite)| suites.contains(suite))
            .map(|(v, _)| v))
    }

    /// `(version, suite)` of every binary package of `arch` in the lists, newest first.
    pub fn madison(&mut self, name: &str, arch: DebArch) -> Result<Vec<(String, String)>> {
        self.ensure_updated()?;
        let out = self
            .apt_cache()
            .arg("madison")
            .arg(format!("{name}:{arch}"))
            .read()?;
        Ok(parse_madison(&out, arch))
    }

    /// The packages one version of a metapackage depends on (e.g. bookworm's
    /// `linux-image-amd64` -> the current `linux-image-6.1.0-NN-amd64`), in apt's order.
    pub fn depends(&mut self, meta: &str, arch: DebArch, version: &str) -> Result<Vec<String>> {
        self.ensure_updated()?;
        let out = self
            .apt_cache()
            .arg("depends")
            .arg(format!("{meta}:{arch}={version}"))
            .read()?;
        Ok(parse_depends(&out))
    }

    /// `apt-cache show name:arch=version`: the package's index stanza(s).
    pub fn show(&mut self, name: &str, arch: DebArch, version: &str) -> Result<String> {
        self.ensure_updated()?;
        self.apt_cache()
            .arg("show")
            .arg(format!("{name}:{arch}={version}"))
            .read()
    }

    /// Downloads `spec` (`name:arch=version` or `name:arch`) into `dir`.
    pub fn download(&mut self, spec: &str, dir: &Path) -> Result<()> {
        self.ensure_updated()?;
        // As root apt warns that the download runs unsandboxed; harmless, and the
        // working directory is where the file lands.
        self.apt_get().arg("download").arg(spec).cwd(dir).run()
    }
}

/// `(version, suite)` of each line of `apt-cache madison` output (`name | version |
/// mirror suite/component arch Packages`) that is a binary-package index of `arch`, in
/// madison's order. That order is newest first: apt keeps each package's versions sorted,
/// highest first (apt-pkg/pkgcachegen.cc, NewVersion's insertion by CmpVersion), and madison
/// walks them in that order (cmdline/apt-cache.cc's Madison). A version in two suites is
/// listed once per suite.
pub fn parse_madison(madison: &str, arch: DebArch) -> Vec<(String, String)> {
    let index = format!("{} Packages", arch.debian());
    madison
        .lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('|').map(str::trim).collect();
            let [_, version, source] = cols.as_slice() else {
                return None;
            };
            let source = source.strip_suffix(&index)?;
            // "http://deb.debian.org/debian bookworm/main " -> "bookworm"
            let suite = source.split_whitespace().nth(1)?.split('/').next()?;
            Some((version.to_string(), suite.to_owned()))
        })
        .collect()
}

/// The `Depends:` targets of `apt-cache depends` output, without `:arch` suffixes or
/// virtual packages (`<name>`).
pub fn parse_depends(depends: &str) -> Vec<String> {
    depends
        .lines()
        .filter_map(|l| l.trim().trim_start_matches('|').strip_prefix("Depends:"))
        .map(str::trim)
        .filter(|d| !d.starts_with('<'))
        .map(|d| d.split(':').next().unwrap_or(d).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn madison_lists_binary_versions_with_their_suite() {
        let out = "busybox-static | 1:1.35.0-4+deb12u1+b1 | http://deb.debian.org/debian bookworm/main arm64 Packages\n\
                   busybox | 1:1.35.0-4 | http://deb.debian.org/debian bookworm/main Sources\n";
        assert_eq!(
            parse_madison(out, DebArch::Arm64),
            [("1:1.35.0-4+deb12u1+b1".to_owned(), "bookworm".to_owned())]
        );
        assert!(parse_madison(out, DebArch::Amd64).is_empty());
        assert!(parse_madison("", DebArch::Arm64).is_empty());
        // As apt-cache printed it (with sid added to the sources), newest first.
        let out = "linux-image-amd64 |   7.2.13-1 | http://deb.debian.org/debian sid/main amd64 Packages\n\
                   linux-image-amd64 | 6.12.118-1 | http://deb.debian.org/debian-security trixie-security/main amd64 Packages\n\
                   linux-image-amd64 | 6.12.117-1 | http://deb.debian.org/debian trixie/main amd64 Packages\n\
                   linux-image-amd64 |  6.1.192-2 | http://deb.debian.org/debian bookworm/main amd64 Packages\n";
        let all = parse_madison(out, DebArch::Amd64);
        let suites: Vec<&str> = all.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(suites, ["sid", "trixie-security", "trixie", "bookworm"]);
        assert_eq!(all[1].0, "6.12.118-1");
        assert_eq!(all[3].0, "6.1.192-2");
    }

    #[test]
    fn sources_list_names_both_releases_and_their_updates() {
        let text = sources_list(false);
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        let opts =
            "[arch=amd64,arm64,riscv64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]";
        let debian = "http://deb.debian.org/debian";
        let security = "http://deb.debian.org/debian-security";
        assert_eq!(
            lines,
            [
                format!("deb {opts} {debian} bookworm main"),
                format!("deb {opts} {debian} bookworm-updates main"),
                format!("deb {opts} {security} bookworm-security main"),
                format!("deb {opts} {debian} trixie main"),
                format!("deb {opts} {debian} trixie-updates main"),
                format!("deb {opts} {security} trixie-security main"),
            ]
        );
        // sid only for `validate --package`, after the releases, without -updates or
        // -security (which unstable does not have).
        let with_sid = sources_list(true);
        let extra: Vec<&str> = with_sid
            .lines()
            .filter(|l| !l.starts_with('#') && !lines.contains(l))
            .collect();
        assert_eq!(extra, [format!("deb {opts} {debian} sid main")]);
        assert!(with_sid.starts_with(&text));
        assert!(!text.contains("sid"));
        assert!(Apt::with_unstable(PathBuf::from("/c"))
            .suites()
            .contains("sid"));
        assert!(!Apt::new(PathBuf::from("/c")).suites().contains("sid"));
    }

    #[test]
    fn depends_of_a_kernel_metapackage() {
        let out = "linux-image-arm64:arm64\n  Depends: linux-image-6.1.0-56-arm64:arm64\n |Depends: <virtual-thing>\n  Recommends: apparmor\n";
        assert_eq!(parse_depends(out), vec!["linux-image-6.1.0-56-arm64"]);
        let out = "linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n";
        assert_eq!(parse_depends(out), vec!["linux-image-6.1.0-56-amd64"]);
    }

    #[test]
    fn options_keep_apt_state_private() {
        let apt = Apt::new(PathBuf::from("/c/apt"));
        assert_eq!(
            apt.apt_get().arg("update").display(),
            "apt-get -q -o Dir::State::Lists=/c/apt/lists -o Dir::Cache=/c/apt/cache \
             -o Dir::Etc::SourceList=/c/apt/sources.list \
             -o Dir::Etc::SourceParts=/c/apt/sources.list.d \
             -o APT::Architectures::=amd64 -o APT::Architectures::=arm64 \
             -o APT::Architectures::=riscv64 update"
        );
    }
}
