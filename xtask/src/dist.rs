//! `cargo xtask dist`: what a distribution package ships besides the binary, generated
//! from warmboot's own clap definitions so it never drifts from the code: man pages in
//! section 8, system administration, since every command that changes the loaded kernel
//! needs root (clap_mangen: `warmboot.8` and one page per subcommand; `kexec.8` for the
//! kexec-tools compatible mode, from the table its `-h` prints) and shell completions
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

/// The man section of every page: system administration commands.
const SECTION: &str = "8";

/// Writes the man pages to `out/man/man8`, completions to `out/completions` and the
/// systemd units to `out/systemd`; returns every file written, sorted.
pub fn generate(root: &Path, out: &Path) -> Result<Vec<PathBuf>> {
    let man = out.join("man/man8");
    let completions = out.join("completions");
    let units = out.join("systemd");
    for d in [&man, &completions, &units] {
        std::fs::create_dir_all(d).map_err(Error::io(d))?;
    }
    let cmd = warmboot::cli::Cli::command();
    man_pages(cmd.clone(), &man).map_err(Error::io(&man))?;
    let kexec = man.join("kexec.8");
    std::fs::write(&kexec, kexec_page()).map_err(Error::io(&kexec))?;
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

/// clap_mangen's `generate_to` (a page per visible subcommand, `warmboot-load.8`), in
/// section 8.
fn man_pages(cmd: clap::Command, dir: &Path) -> std::io::Result<()> {
    fn each(cmd: clap::Command, dir: &Path) -> std::io::Result<()> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned() {
            each(sub, dir)?;
        }
        clap_mangen::Man::new(cmd)
            .section(SECTION)
            .generate_to(dir)
            .map(drop)
    }
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    each(cmd, dir)
}

/// kexec(8) for warmboot's kexec-tools compatible mode (installed as `/usr/sbin/kexec` by
/// `install-units --kexec-symlink`), from the option table `kexec -h` prints.
fn kexec_page() -> String {
    use roff::{bold, italic, roman, Roff};
    let version = env!("CARGO_PKG_VERSION");
    let mut r = Roff::new();
    r.control("TH", ["kexec", SECTION, "", &format!("warmboot {version}")]);
    r.control("SH", ["NAME"]);
    r.text([roman(
        "kexec - directly reboot into a new kernel (warmboot's kexec-tools compatible mode)",
    )]);
    r.control("SH", ["SYNOPSIS"]);
    r.text([
        bold("kexec"),
        roman(" ["),
        italic("OPTION"),
        roman("]... ["),
        italic("kernel"),
        roman("]"),
    ]);
    r.control("SH", ["DESCRIPTION"]);
    r.text([roman(
        "warmboot answers kexec-tools' command line when it runs as kexec (a symlink made by \
         warmboot install-units --kexec-symlink, which diverts kexec-tools' binary on dpkg \
         systems) or as warmboot kexec, so that systemd, init scripts and kdump tools drive \
         it unchanged. Every load is planned and checked as warmboot load does before \
         anything reaches the kernel.",
    )]);
    r.control("SH", ["OPTIONS"]);
    for (opt, help) in warmboot::kexec_compat::HELP_OPTIONS {
        r.control("TP", []);
        r.text([bold(opt.trim())]);
        r.text([roman(*help)]);
    }
    r.control("SH", ["EXIT STATUS"]);
    r.text([roman(warmboot::kexec_compat::EXIT_STATUS)]);
    r.control("SH", ["SEE ALSO"]);
    r.text([
        bold("warmboot"),
        roman("(8), "),
        bold("warmboot-load"),
        roman("(8), "),
        bold("systemctl"),
        roman("(1)"),
    ]);
    r.render()
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
            "man/man8/warmboot.8",
            "man/man8/warmboot-load.8",
            "man/man8/warmboot-reboot.8",
            "man/man8/warmboot-install-units.8",
            "man/man8/warmboot-kexec.8",
            "man/man8/kexec.8",
            "completions/warmboot.bash",
            "completions/_warmboot",
            "completions/warmboot.fish",
            "systemd/warmboot-load.service",
            "systemd/warmboot-panic.service",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
        }
        let read = |rel: &str| std::fs::read_to_string(dir.path().join(rel)).unwrap();
        assert!(
            !names.iter().any(|n| n.starts_with("man/man1")),
            "a root-only tool's pages are in section 8: {names:?}"
        );
        let man = read("man/man8/warmboot.8");
        assert!(man.contains(".TH warmboot 8"), "{man}");
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
        assert!(read("man/man8/warmboot-load.8").contains("\\-\\-current"));
        let kexec = read("man/man8/kexec.8");
        assert!(kexec.contains(".TH kexec 8"), "{kexec}");
        // Every option `kexec -h` lists is on the page.
        for (opt, _) in warmboot::kexec_compat::HELP_OPTIONS {
            let first = opt.trim().split(',').next().unwrap().replace('-', "\\-");
            assert!(kexec.contains(&first), "{first} missing from kexec.8");
        }
        assert!(kexec.contains("255 a failed load"), "{kexec}");
        let bash = read("completions/warmboot.bash");
        assert!(
            bash.contains("install-units") && bash.contains("--current"),
            "{bash}"
        );
        assert!(read("completions/warmboot.fish").contains("reboot"));
    }
}
