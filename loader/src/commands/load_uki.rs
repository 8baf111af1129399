//! A unified kernel image (UKI) taken apart for `warmboot load`, and the kernel bytes that
//! kexec_file_load gets when they are not the file itself (a UKI's `.linux`, an arm64
//! Image.gz or zboot decompressed).
//!
//! The kernel's kexec_file loaders take one kernel format each: x86's bzImage64
//! (arch/x86/kernel/kexec-bzimage64.c, probe: the "HdrS" setup header) and arm64's plain
//! Image (arch/arm64/kernel/kexec_image.c, probe: the `ARM\x64` magic; no Image.gz, no
//! zboot). A UKI is neither: like kexec-tools 2.0.31 (kexec/kexec-uki.c) warmboot hands
//! over its `.linux` section — the kernel as signed, so a Secure Boot kernel still passes
//! the kernel's signature check — and its `.initrd`, as sealed memfds of the bytes it read
//! and parsed. kexec_load plans the `.linux` kernel as it plans a plain file.
//!
//! The choices, after systemd-stub (systemd's src/boot/stub.c, "initrd" and "command line"
//! handling; UAPI UKI specification):
//! - command line: `.cmdline` (for a crash kernel made into a capture kernel's) unless
//!   `--append`, `--command-line` or `--reuse-cmdline`
//!   gives one, which replaces it (as kexec-tools' `--append` is the whole command line
//!   of a bzImage, and as systemd-stub takes the loader's options instead of `.cmdline`
//!   when Secure Boot is off); nothing is appended to `.cmdline`.
//! - initrd: `.initrd`, then the `--initrd` file after it, concatenated — systemd-stub
//!   passes its embedded initrd and the boot loader's together, and the kernel unpacks
//!   concatenated cpio archives in order (init/initramfs.c `unpack_to_rootfs`, zero
//!   padding between them skipped), so the given file's entries win. Each part is padded
//!   to 4 bytes, as the stub pads them.
//! - `.osrel` and `.uname` name the version in the dry run; the default profile (@0) of a
//!   multi-profile UKI is used ([`crate::image::uki`]).

use crate::commands::load_options::CmdlineSource;
use crate::error::{Error, Result};
use crate::image::uki::Uki;
use crate::image::KernelImage;
use crate::memmap::Mode;
use serde::Serialize;

/// One section of the UKI that the load used, for the dry run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsedSection {
    pub name: String,
    /// File offset and size of the section's content in the UKI.
    pub offset: u64,
    pub size: u64,
    /// What the load did with it, e.g. "the kernel, handed to kexec_file_load".
    #[serde(rename = "use")]
    pub usage: String,
}

/// A UKI's parts as the load uses them.
#[derive(Debug, Clone)]
pub struct UkiParts {
    /// The `.linux` section's bytes (the kernel file as signed).
    pub linux: Vec<u8>,
    /// The `.initrd` section's bytes, if it has one.
    pub initrd: Option<Vec<u8>>,
    /// The `.cmdline` section's text.
    pub cmdline: Option<String>,
    /// The sections used, in file order; [`UkiParts::finish`] fills in how.
    pub sections: Vec<UsedSection>,
}

/// The sections a load can use, in the order the dry run lists them.
const USED: [&str; 5] = [".linux", ".initrd", ".cmdline", ".osrel", ".uname"];

/// Takes `uki` (parsed from `data`) apart: the kernel in `.linux` (parsed) and the parts,
/// the kernel and initrd bytes, the command line, and the sections with their offsets and
/// sizes. Pure.
pub fn take_apart(data: &[u8], uki: Uki<KernelImage>) -> Result<(KernelImage, UkiParts)> {
    let linux = uki
        .section_bytes(data, ".linux")?
        .ok_or_else(|| Error::invalid("unified kernel image", "no .linux section"))?
        .to_vec();
    let initrd = uki
        .section_bytes(data, ".initrd")?
        .filter(|b| !b.is_empty())
        .map(<[u8]>::to_vec);
    let mut sections = Vec::new();
    for name in USED {
        if let Some((offset, size)) = uki.section_range(name) {
            let usage = match name {
                ".osrel" => format!(
                    "os-release: {}",
                    uki.osrel
                        .as_ref()
                        .map_or("unnamed".to_string(), |o| o.display())
                ),
                ".uname" => format!("release {}", uki.uname.as_deref().unwrap_or("?")),
                _ => String::new(),
            };
            sections.push(UsedSection {
                name: name.to_string(),
                offset,
                size,
                usage,
            });
        }
    }
    sections.sort_by_key(|s| s.offset);
    let parts = UkiParts {
        linux,
        initrd,
        cmdline: uki.cmdline.filter(|c| !c.is_empty()),
        sections,
    };
    Ok((*uki.linux, parts))
}

impl UkiParts {
    /// The command line for `source`: `.cmdline` when none was given (`Empty`; for a
    /// crash kernel made into a capture kernel's, [`crate::capture::capture_cmdline`]),
    /// else the given one, which replaces it.
    pub fn cmdline_source(&self, source: &CmdlineSource, mode: Mode) -> CmdlineSource {
        match (source, &self.cmdline) {
            (CmdlineSource::Empty, Some(c)) => match mode {
                Mode::Normal => CmdlineSource::Given(c.clone()),
                Mode::Panic => CmdlineSource::Given(crate::capture::capture_cmdline(c)),
            },
            (s, _) => s.clone(),
        }
    }

    /// Says in each used section's line what the load did with it: `given_initrd` is the
    /// `--initrd` file, `cmdline_given` whether a command line option replaced `.cmdline`,
    /// `syscall_file` whether the kernel goes to kexec_file_load, `format` the name of the
    /// kernel's format.
    pub fn finish(
        &mut self,
        given_initrd: Option<&std::path::Path>,
        cmdline_given: bool,
        syscall_file: bool,
        format: &str,
    ) {
        let how = if syscall_file {
            "handed to kexec_file_load in a sealed memfd"
        } else {
            "planned for kexec_load"
        };
        for s in &mut self.sections {
            s.usage = match s.name.as_str() {
                ".linux" => format!("the kernel ({format}), {how}"),
                ".initrd" => match given_initrd {
                    Some(p) => format!("the initrd, first; {} after it, {how}", p.display()),
                    None => format!("the initrd, {how}"),
                },
                ".cmdline" if cmdline_given => {
                    "not used: the given command line replaces it".to_string()
                }
                ".cmdline" => "the command line".to_string(),
                _ => std::mem::take(&mut s.usage),
            };
        }
    }
}

/// The initrd of a UKI load: `.initrd` then the given file, each padded to 4 bytes
/// (module doc); either alone as it is.
pub fn combine_initrds(embedded: Option<&[u8]>, given: Option<Vec<u8>>) -> Option<Vec<u8>> {
    match (embedded, given) {
        (None, given) => given,
        (Some(e), None) => Some(e.to_vec()),
        (Some(e), Some(g)) => {
            let mut out = e.to_vec();
            out.resize(out.len().next_multiple_of(4), 0);
            out.extend_from_slice(&g);
            Some(out)
        }
    }
}

/// The kernel bytes kexec_file_load gets instead of the file, where the file is not what
/// the kernel's loader takes: a UKI's `.linux` (`uki_linux`), and an arm64 Image.gz or
/// zboot (also inside a UKI) decompressed — the bytes the parser decompressed from what
/// was read (and checked with `--sha256`). None: the file itself.
pub fn handed_kernel(image: &KernelImage, uki_linux: Option<&[u8]>) -> Option<Vec<u8>> {
    match image {
        KernelImage::Arm64(a)
            if uki_linux.is_some()
                || !matches!(a.container, crate::image::arm64::Container::Raw) =>
        {
            Some(a.image.clone())
        }
        _ => uki_linux.map(<[u8]>::to_vec),
    }
}

/// The dry run's lines for the sections used.
pub fn render(sections: &[UsedSection]) -> String {
    let mut out = String::from("unified kernel image, sections used:\n");
    for s in sections {
        out.push_str(&format!(
            "  {:<9} offset {:#010x} size {:<28} {}\n",
            s.name,
            s.offset,
            crate::human_size::human_size(s.size),
            s.usage
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::pe::MACHINE_X86_64;
    use crate::synth::uki::UkiBuilder;
    use crate::synth::x86::BzImageBuilder;

    fn parts(cmdline: Option<&str>, initrd: Option<&[u8]>) -> (Vec<u8>, KernelImage, UkiParts) {
        let linux = BzImageBuilder::new().build();
        let mut b = UkiBuilder::new(MACHINE_X86_64, linux.clone());
        b.cmdline = cmdline.map(str::to_string);
        b.initrd = initrd.map(<[u8]>::to_vec);
        let data = b.build();
        let KernelImage::Uki(u) = KernelImage::parse(&data).unwrap() else {
            panic!("not a UKI")
        };
        let (image, parts) = take_apart(&data, u).unwrap();
        (linux, image, parts)
    }

    #[test]
    fn take_apart_gives_the_linux_bytes_and_the_kernel_inside() {
        let (linux, image, p) = parts(Some("quiet\n"), Some(b"0707"));
        assert_eq!(p.linux, linux);
        assert!(matches!(image, KernelImage::BzImage(_)));
        assert_eq!(p.initrd.as_deref(), Some(&b"0707"[..]));
        assert_eq!(p.cmdline.as_deref(), Some("quiet"));
        let names: Vec<&str> = p.sections.iter().map(|s| s.name.as_str()).collect();
        assert!(
            names.contains(&".linux") && names.contains(&".initrd"),
            "{names:?}"
        );
        assert!(p.sections.windows(2).all(|w| w[0].offset < w[1].offset));
    }

    #[test]
    fn the_uki_cmdline_is_used_only_when_none_is_given() {
        let (_, _, p) = parts(Some("root=/dev/vda1 crashkernel=256M"), None);
        let n = Mode::Normal;
        assert_eq!(
            p.cmdline_source(&CmdlineSource::Empty, n),
            CmdlineSource::Given("root=/dev/vda1 crashkernel=256M".into())
        );
        // A crash kernel gets a capture kernel's command line made from it.
        let CmdlineSource::Given(capture) = p.cmdline_source(&CmdlineSource::Empty, Mode::Panic)
        else {
            panic!("not given")
        };
        assert!(capture.starts_with("root=/dev/vda1 "), "{capture}");
        assert!(
            !capture.contains("crashkernel=") && capture.contains("reset_devices"),
            "{capture}"
        );
        let given = CmdlineSource::Given("quiet".into());
        assert_eq!(p.cmdline_source(&given, n), given);
        assert_eq!(
            p.cmdline_source(&CmdlineSource::Reuse, n),
            CmdlineSource::Reuse
        );
        let (_, _, none) = parts(None, None);
        assert_eq!(
            none.cmdline_source(&CmdlineSource::Empty, n),
            CmdlineSource::Empty
        );
    }

    #[test]
    fn initrds_concatenate_embedded_first_padded_to_four_bytes() {
        assert_eq!(
            combine_initrds(Some(b"abcde"), Some(b"XY".to_vec())),
            Some(b"abcde\0\0\0XY".to_vec())
        );
        assert_eq!(
            combine_initrds(Some(b"abcd"), Some(b"XY".to_vec())),
            Some(b"abcdXY".to_vec())
        );
        assert_eq!(combine_initrds(Some(b"abc"), None), Some(b"abc".to_vec()));
        assert_eq!(
            combine_initrds(None, Some(b"XY".to_vec())),
            Some(b"XY".to_vec())
        );
        assert_eq!(combine_initrds(None, None), None);
    }

    #[test]
    fn handed_kernel_is_the_linux_section_or_the_decompressed_image() {
        let (linux, image, _) = parts(None, None);
        assert_eq!(handed_kernel(&image, Some(&linux)), Some(linux.clone()));
        assert_eq!(
            handed_kernel(&image, None),
            None,
            "a plain bzImage: the file"
        );
        let raw = crate::synth::arm64::Arm64Builder::default().build();
        let plain = KernelImage::parse(&raw).unwrap();
        assert_eq!(handed_kernel(&plain, None), None, "a raw Image: the file");
        let gz = KernelImage::parse(&crate::synth::arm64::gzip(&raw)).unwrap();
        assert_eq!(handed_kernel(&gz, None), Some(raw));
    }
}
