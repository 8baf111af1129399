//! apt with a private state directory, so xtask can fetch packages of any architecture
//! without `dpkg --add-architecture` or touching the host's package lists.
//!
//! Every call passes `-o Dir::State::Lists=<state>/lists -o Dir::Cache=<state>/cache` and
//! both architectures; the host's sources.list and dpkg status are only read.

use crate::cmd::Cmd;
use crate::error::{Error, Result};
use crate::manifest::DebArch;
use std::path::{Path, PathBuf};

pub struct Apt {
    state: PathBuf,
    updated: bool,
}

impl Apt {
    pub fn new(state: PathBuf) -> Apt {
        Apt {
            state,
            updated: false,
        }
    }

    fn options(&self) -> Vec<String> {
        let mut opts = vec![
            format!("Dir::State::Lists={}/lists", self.state.display()),
            format!("Dir::Cache={}/cache", self.state.display()),
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
        for dir in ["lists/partial", "cache/archives/partial"] {
            let d = self.state.join(dir);
            std::fs::create_dir_all(&d).map_err(Error::io(&d))?;
        }
        self.apt_get().arg("update").run()?;
        self.updated = true;
        Ok(())
    }

    /// Whether the archive still has exactly this version. (`apt-cache show pkg=version`
    /// cannot tell: it exits 0 with no output for a missing version.)
    pub fn has_version(&mut self, name: &str, arch: DebArch, version: &str) -> Result<bool> {
        self.ensure_updated()?;
        let out = self
            .apt_cache()
            .arg("madison")
            .arg(format!("{name}:{arch}"))
            .read()?;
        Ok(madison_has(&out, arch, version))
    }

    /// The version apt would download now, if the archive has the package at all.
    pub fn candidate(&mut self, name: &str, arch: DebArch) -> Result<Option<String>> {
        self.ensure_updated()?;
        let out = self
            .apt_cache()
            .arg("policy")
            .arg(format!("{name}:{arch}"))
            .read()?;
        Ok(parse_candidate(&out))
    }

    /// The packages a metapackage depends on (e.g. `linux-image-amd64` -> the current
    /// `linux-image-6.1.0-NN-amd64`), in apt's order.
    pub fn depends(&mut self, meta: &str, arch: DebArch) -> Result<Vec<String>> {
        self.ensure_updated()?;
        let out = self
            .apt_cache()
            .arg("depends")
            .arg(format!("{meta}:{arch}"))
            .read()?;
        Ok(parse_depends(&out))
    }

    /// Downloads `spec` (`name:arch=version` or `name:arch`) into `dir`.
    pub fn download(&mut self, spec: &str, dir: &Path) -> Result<()> {
        self.ensure_updated()?;
        // As root apt warns that the download runs unsandboxed; harmless, and the
        // working directory is where the file lands.
        self.apt_get().arg("download").arg(spec).cwd(dir).run()
    }
}

/// Whether `apt-cache madison` output (`name | version | source`) lists `version` in a
/// binary-package index of `arch`.
pub fn madison_has(madison: &str, arch: DebArch, version: &str) -> bool {
    let index = format!("{} Packages", arch.debian());
    madison.lines().any(|l| {
        let cols: Vec<&str> = l.split('|').map(str::trim).collect();
        matches!(cols.as_slice(), [_, v, source] if *v == version && source.ends_with(&index))
    })
}

/// The `Candidate:` line of `apt-cache policy` output; `(none)` means not installable.
pub fn parse_candidate(policy: &str) -> Option<String> {
    policy
        .lines()
        .find_map(|l| l.trim().strip_prefix("Candidate:"))
        .map(str::trim)
        .filter(|v| !v.is_empty() && *v != "(none)")
        .map(str::to_owned)
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
    fn madison_lists_only_present_binary_versions() {
        let out = "busybox-static | 1:1.35.0-4+deb12u1+b1 | http://deb.debian.org/debian bookworm/main arm64 Packages\n\
                   busybox | 1:1.35.0-4 | http://deb.debian.org/debian bookworm/main Sources\n";
        assert!(madison_has(out, DebArch::Arm64, "1:1.35.0-4+deb12u1+b1"));
        assert!(!madison_has(out, DebArch::Amd64, "1:1.35.0-4+deb12u1+b1"));
        assert!(!madison_has(out, DebArch::Arm64, "1:1.35.0-4"));
        assert!(!madison_has(out, DebArch::Arm64, "1:1.35.0-4+deb12u1"));
        assert!(!madison_has("", DebArch::Arm64, "1"));
    }

    #[test]
    fn candidate_from_policy() {
        let out = "linux-image-amd64:\n  Installed: (none)\n  Candidate: 6.1.192-2\n  Version table:\n     6.1.192-2 500\n";
        assert_eq!(parse_candidate(out).as_deref(), Some("6.1.192-2"));
        assert_eq!(
            parse_candidate("x:\n  Installed: (none)\n  Candidate: (none)\n"),
            None
        );
        assert_eq!(parse_candidate(""), None);
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
             -o APT::Architectures::=amd64 -o APT::Architectures::=arm64 update"
        );
    }
}
