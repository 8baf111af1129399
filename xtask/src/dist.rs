//! `cargo xtask dist`: what a distribution package ships besides the binary, generated
//! from warmboot's own clap definitions so it never drifts from the code: man pages
//! (clap_mangen: `warmboot.1` and one page per subcommand) and shell completions
//! (clap_complete: bash, zsh, fish), plus the systemd units of `dist/systemd/`.

use crate::error::{Error, Result};
use clap::CommandFactory;
use clap_complete::Shell;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output directory (default: target/dist).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn run(root: &Path, args: &Args) -> Result<()> {
    let out = args.out.clone().unwrap_or_else(|| root.join("target/dist"));
    for p in generate(root, &out)? {
        println!("{}", p.display());
    }
    Ok(())
}

/// Writes the man pages to `out/man/man1`, completions to `out/completions` and the
/// systemd units to `out/systemd`; returns every file written, sorted.
pub fn generate(root: &Path, out: &Path) -> Result<Vec<PathBuf>> {
    let man = out.join("man/man1");
    let completions = out.join("completions");
    let units = out.join("systemd");
    for d in [&man, &completions, &units] {
        std::fs::create_dir_all(d).map_err(Error::io(d))?;
    }
    let cmd = warmboot::cli::Cli::command();
    clap_mangen::generate_to(cmd.clone(), &man).map_err(Error::io(&man))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut cmd = cmd.clone();
        clap_complete::generate_to(shell, &mut cmd, "warmboot", &completions)
            .map_err(Error::io(&completions))?;
    }
    let src = root.join("dist/systemd");
    for e in std::fs::read_dir(&src).map_err(Error::io(&src))? {
        let e = e.map_err(Error::io(&src))?;
        let to = units.join(e.file_name());
        std::fs::copy(e.path(), &to).map_err(Error::io(&to))?;
    }
    let mut files = Vec::new();
    for d in [&man, &completions, &units] {
        for e in std::fs::read_dir(d).map_err(Error::io(d))? {
            files.push(e.map_err(Error::io(d))?.path());
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn man_pages_completions_and_units_cover_every_command() {
        let dir = tempfile::tempdir().unwrap();
        let files = generate(&crate::project_root(), dir.path()).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
            .collect();
        for want in [
            "man/man1/warmboot.1",
            "man/man1/warmboot-load.1",
            "man/man1/warmboot-reboot.1",
            "man/man1/warmboot-install-units.1",
            "man/man1/warmboot-kexec.1",
            "completions/warmboot.bash",
            "completions/_warmboot",
            "completions/warmboot.fish",
            "systemd/warmboot-load.service",
            "systemd/warmboot-panic.service",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
        }
        let read = |rel: &str| std::fs::read_to_string(dir.path().join(rel)).unwrap();
        let man = read("man/man1/warmboot.1");
        assert!(man.contains(".TH warmboot 1"), "{man}");
        // roff escapes '-' as '\-'.
        for cmd in [
            "load",
            "reboot",
            "install\\-units",
            "kexec",
            "status",
            "unload",
            "exec",
        ] {
            assert!(man.contains(cmd), "{cmd} missing from warmboot.1");
        }
        assert!(read("man/man1/warmboot-load.1").contains("\\-\\-current"));
        let bash = read("completions/warmboot.bash");
        assert!(
            bash.contains("install-units") && bash.contains("--current"),
            "{bash}"
        );
        assert!(read("completions/warmboot.fish").contains("reboot"));
    }
}
