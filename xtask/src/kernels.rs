//! The kernel files a run boots: a pinned Debian kernel of a series (`<cache>/kernels.json`,
//! written by `cargo xtask images`) or any kernel file, with the release it will report.

use crate::cache::Cache;
use crate::error::{Error, Result};
use crate::qemu::GuestArch;
use std::path::{Path, PathBuf};

/// One kernel of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernel {
    pub path: PathBuf,
    /// Its release, what `uname -r` prints once it runs (kernels.json for a pinned kernel,
    /// else the `vmlinuz-<release>` file name or the image's own version string); `None`
    /// when none of them says.
    pub release: Option<String>,
}

impl Kernel {
    /// Any kernel file: its release from its name or its content.
    pub fn file(path: PathBuf) -> Kernel {
        let release = crate::index::release_of(&path).or_else(|| release_in_image(&path));
        Kernel { path, release }
    }

    /// How labels name it: the release, with the file name first when that is not the
    /// Debian `vmlinuz-<release>` (`Image.gz@6.1.0-56-arm64`).
    pub fn tag(&self) -> String {
        let file = self
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.path.display().to_string());
        match &self.release {
            Some(r) if file == format!("vmlinuz-{r}") => r.clone(),
            Some(r) => format!("{file}@{r}"),
            None => file,
        }
    }
}

/// The release in a kernel image's version string (`6.1.0-56-amd64 (debian-kernel@…) #1
/// SMP …` -> `6.1.0-56-amd64`), parsed by warmboot itself; `None` if the file cannot be
/// read or parsed or carries no version.
fn release_in_image(path: &Path) -> Option<String> {
    let data = std::fs::read(path).ok()?;
    let image = warmboot::image::KernelImage::parse(&data).ok()?;
    image
        .version()?
        .split_whitespace()
        .next()
        .map(str::to_string)
}

/// The kernel QEMU boots first and the one the guest loads next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernels {
    pub first: Kernel,
    pub next: Kernel,
}

/// The pinned kernel for `arch` and `series` ("6.1") from `<cache>/kernels.json`; `None`
/// takes the oldest series pinned for `arch`.
pub fn pinned_kernel(cache: &Cache, arch: GuestArch, series: Option<&str>) -> Result<PathBuf> {
    pinned(cache, arch, series).map(|k| k.path)
}

fn arch_key(arch: GuestArch) -> &'static str {
    match arch {
        GuestArch::X86_64 => "x86_64",
        GuestArch::Arm64 => "arm64",
    }
}

/// [`pinned_kernel`] with its release from kernels.json.
pub fn pinned(cache: &Cache, arch: GuestArch, series: Option<&str>) -> Result<Kernel> {
    let index_path = cache.root().join("kernels.json");
    let index = crate::index::KernelIndex::load_or_default(&index_path)?;
    let key = arch_key(arch);
    let pinned = index.series(key);
    let wanted = series.or(pinned.first().map(String::as_str));
    wanted
        .and_then(|s| index.get(key, s))
        .map(|e| Kernel {
            path: e.path.clone(),
            release: Some(e.release.clone()),
        })
        .ok_or_else(|| Error::Boot {
            reason: format!(
                "no {key} kernel{} in {} (pinned: {}) — run `cargo xtask images`",
                series
                    .map(|s| format!(" of series {s}"))
                    .unwrap_or_default(),
                index_path.display(),
                if pinned.is_empty() {
                    "none".to_owned()
                } else {
                    pinned.join(", ")
                }
            ),
        })
}
