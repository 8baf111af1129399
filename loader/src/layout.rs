//! What the planner places: a kernel as blobs with placement constraints.
//!
//! A [`KernelLayout`] is the planner's view of a kernel image, independent of its file
//! format: the bytes to load, how much memory they need, and where they may go. The same
//! [`Blob`] type carries the initrd and, later, the arch-specific parts (x86 boot_params,
//! arm64 DTB, entry trampolines), so the planner already fits both architectures.

use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::image::arm64::Arm64Kernel;
use crate::image::bzimage::BzImage;
use crate::image::riscv64::Riscv64Kernel;
use crate::image::KernelImage;
use crate::memmap::{align_up, PAGE_SIZE};
use serde::Serialize;

const MIB: u64 = 1 << 20;

/// Where a blob may be placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Placement {
    /// Alignment of the destination (a power of two; raised to the page size).
    pub align: u64,
    /// Lowest allowed destination.
    pub min: u64,
    /// Highest allowed end (exclusive): the blob must fit below it.
    pub max: u64,
    /// Prefer the highest hole (like kexec-tools' and kexec_file's top-down search).
    pub top_down: bool,
    /// arm64: the blob must lie above the kernel and inside the 32 GiB window that starts
    /// at the kernel's 1 GiB-aligned base (Documentation/arch/arm64/booting.rst, initrd).
    pub near_kernel: bool,
}

impl Placement {
    /// Anywhere, page-aligned, lowest first.
    pub fn anywhere() -> Placement {
        Placement {
            align: PAGE_SIZE,
            min: 0,
            max: u64::MAX,
            top_down: false,
            near_kernel: false,
        }
    }
}

/// Bytes to load with the memory they need and where they may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// What it is ("kernel", "initrd", "dtb", ...); shown in plans.
    pub what: String,
    pub data: Vec<u8>,
    /// Memory needed at the destination (>= data length; rounded up to pages when planned).
    pub memsz: u64,
    pub placement: Placement,
}

impl Blob {
    /// A blob needing exactly its own size.
    pub fn new(what: impl Into<String>, data: Vec<u8>, placement: Placement) -> Blob {
        let memsz = data.len() as u64;
        Blob {
            what: what.into(),
            data,
            memsz,
            placement,
        }
    }
}

/// A kernel, ready for planning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelLayout {
    pub arch: Arch,
    /// The kernel's pieces: one for a bzImage or arm64 Image, one per PT_LOAD for an ELF.
    pub pieces: Vec<Blob>,
    /// Which piece the entry point lies in, and its offset from that piece's destination.
    pub entry_piece: usize,
    pub entry_offset: u64,
    /// Where this kernel wants its initrd.
    pub initrd: Placement,
}

impl KernelLayout {
    /// Converts a parsed image into a layout: the one place that knows how each format's
    /// kernel is placed. `file` is the whole kernel file (bzImage and ELF pieces are file
    /// ranges of it; an arm64 Image comes decompressed from the parser).
    pub fn from_image(image: &KernelImage, file: &[u8]) -> Result<KernelLayout> {
        match image {
            KernelImage::BzImage(b) => KernelLayout::from_bzimage(b, file, true),
            KernelImage::Elf(e) => {
                let mut pieces = Vec::new();
                let mut entry = None;
                for (i, s) in e.segments.iter().enumerate() {
                    let data = crate::fields::slice(file, s.offset, s.filesz, "ELF PT_LOAD data")?;
                    // Page-align the destination: prepend the bytes between the page start
                    // and paddr as zeros.
                    let lead = s.paddr % PAGE_SIZE;
                    let start = s.paddr - lead;
                    let mut buf = vec![0u8; lead as usize];
                    buf.extend_from_slice(data);
                    let memsz = crate::fields::add(lead, s.memsz.max(s.filesz), "ELF PT_LOAD size")?;
                    let end = crate::fields::add(start, memsz, "ELF PT_LOAD end")?;
                    if e.entry >= s.paddr && e.entry < end {
                        entry = Some((i, e.entry - start));
                    }
                    pieces.push(Blob {
                        what: format!("kernel PT_LOAD {i}"),
                        data: buf,
                        memsz,
                        placement: Placement {
                            align: PAGE_SIZE,
                            min: start,
                            max: align_up(end, PAGE_SIZE).ok_or(Error::Overflow { what: "ELF PT_LOAD end" })?,
                            top_down: false,
                            near_kernel: false,
                        },
                    });
                }
                let (entry_piece, entry_offset) = entry.ok_or_else(|| {
                    Error::invalid("ELF entry", format!("{:#x} is not inside any PT_LOAD", e.entry))
                })?;
                Ok(KernelLayout {
                    arch: e.arch,
                    pieces,
                    entry_piece,
                    entry_offset,
                    initrd: match e.arch {
                        Arch::X86_64 => x86_initrd_placement(u32::MAX, true),
                        Arch::Arm64 => arm64_initrd_placement(),
                        Arch::Riscv64 => riscv64_initrd_placement(),
                    },
                })
            }
            KernelImage::Arm64(a) => KernelLayout::from_arm64(a),
            KernelImage::Riscv64(r) => Ok(riscv64_layout(r.image.clone(), riscv64_memsz(r)?)),
            KernelImage::Uki(_) => Err(Error::Unsupported(
                "warmboot does not load unified kernel images yet; load its .linux section (and .initrd, .cmdline) instead".to_string(),
            )),
        }
    }

    /// The memory the kernel's pieces need in all (what [`KernelLayout::from_image`]'s
    /// pieces' memsz add up to, with the same checks), without copying the kernel.
    pub fn kernel_memsz(image: &KernelImage, file: &[u8]) -> Result<u64> {
        let layout = match image {
            KernelImage::BzImage(b) => KernelLayout::from_bzimage(b, file, false)?,
            KernelImage::Arm64(a) => return arm64_memsz(a),
            KernelImage::Riscv64(r) => return riscv64_memsz(r),
            _ => KernelLayout::from_image(image, file)?,
        };
        Ok(layout
            .pieces
            .iter()
            .fold(0u64, |a, p| a.saturating_add(p.memsz)))
    }

    /// A bzImage's layout; without `with_bytes` the kernel piece has the same checks,
    /// size and placement but no bytes, for a caller that loads other bytes there (the
    /// decompressed kernel proper) and need not copy the protected-mode code first.
    pub fn from_bzimage(b: &BzImage, file: &[u8], with_bytes: bool) -> Result<KernelLayout> {
        // Documentation/arch/x86/boot.rst: the protected-mode kernel starts at
        // (setup_sects+1)*512 and needs init_size bytes from a kernel_alignment-
        // aligned address; the 64-bit entry is at +0x200.
        if !b.relocatable {
            return Err(Error::Unsupported(
                "this bzImage is not relocatable; warmboot loads relocatable kernels only"
                    .to_string(),
            ));
        }
        let data = crate::fields::slice(
            file,
            b.kernel_offset,
            b.kernel_size,
            "bzImage protected-mode kernel",
        )?;
        let align = u64::from(b.kernel_alignment).max(PAGE_SIZE);
        let above_4g = b.xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G != 0;
        Ok(KernelLayout {
            arch: Arch::X86_64,
            pieces: vec![Blob {
                what: "kernel".to_string(),
                data: if with_bytes {
                    data.to_vec()
                } else {
                    Vec::new()
                },
                memsz: u64::from(b.init_size).max(b.kernel_size),
                placement: Placement {
                    align,
                    min: b.pref_address.max(MIB),
                    max: if above_4g { u64::MAX } else { 1 << 32 },
                    top_down: true,
                    near_kernel: false,
                },
            }],
            entry_piece: 0,
            entry_offset: 0x200,
            initrd: x86_initrd_placement(b.initrd_addr_max, above_4g),
        })
    }

    /// The layout of a parsed arm64 Image, built from a borrow: callers holding an
    /// [`Arm64Kernel`] need not clone the (tens of MiB) Image into a [`KernelImage`] first.
    pub fn from_arm64(a: &Arm64Kernel) -> Result<KernelLayout> {
        // One copy of the Image (the clone), then the same construction as take_arm64.
        KernelLayout::take_arm64(&mut a.clone())
    }

    /// [`KernelLayout::from_arm64`] that moves the Image's bytes into the layout instead of
    /// copying them (with text_offset 0, as in current kernels), leaving `a.image` empty:
    /// for a caller that needs only the header, container and version afterwards.
    pub fn take_arm64(a: &mut Arm64Kernel) -> Result<KernelLayout> {
        let memsz = arm64_memsz(a)?;
        let text_offset = a.header.text_offset;
        let image = std::mem::take(&mut a.image);
        let data = if text_offset == 0 {
            image
        } else {
            let mut data = Vec::with_capacity(text_offset as usize + image.len());
            data.resize(text_offset as usize, 0);
            data.extend_from_slice(&image);
            data
        };
        Ok(arm64_layout(data, memsz, text_offset))
    }
}

/// Checks an arm64 Image's header for placement and returns the memory it needs
/// (text_offset + image_size).
fn arm64_memsz(a: &Arm64Kernel) -> Result<u64> {
    let h = &a.header;
    if h.big_endian {
        return Err(Error::Unsupported(
            "big-endian arm64 kernels are not supported".to_string(),
        ));
    }
    // Documentation/arch/arm64/booting.rst: image_size 0 means a pre-3.17
    // kernel with text_offset 0x80000 and unknown size.
    if h.image_size == 0 {
        return Err(Error::Unsupported(
            "arm64 Image with image_size 0 (pre-3.17 kernel) cannot be placed safely".to_string(),
        ));
    }
    // text_offset is an offset from a 2 MiB-aligned base, so it is below 2 MiB;
    // checking it also bounds the zero prefix the layout allocates.
    if h.text_offset >= 2 * MIB {
        return Err(Error::invalid(
            "arm64 text_offset",
            format!("{:#x} is not below 2 MiB", h.text_offset),
        ));
    }
    if a.image.len() as u64 > h.image_size {
        return Err(Error::invalid(
            "arm64 image_size",
            format!(
                "{:#x} is smaller than the Image itself ({:#x} bytes)",
                h.image_size,
                a.image.len()
            ),
        ));
    }
    crate::fields::add(
        h.text_offset,
        h.image_size,
        "arm64 text_offset + image_size",
    )
}

/// The memory a riscv64 Image needs from its 2 MiB-aligned address: image_size (the
/// parser refused 0), which covers the file.
fn riscv64_memsz(r: &Riscv64Kernel) -> Result<u64> {
    let h = &r.header;
    if r.image.len() as u64 > h.image_size {
        return Err(Error::invalid(
            "riscv64 image_size",
            format!(
                "{:#x} is smaller than the Image itself ({:#x} bytes)",
                h.image_size,
                r.image.len()
            ),
        ));
    }
    Ok(h.image_size)
}

/// `XLF_CAN_BE_LOADED_ABOVE_4G` (arch/x86/include/uapi/asm/bootparam.h).
pub const XLF_CAN_BE_LOADED_ABOVE_4G: u16 = 1 << 1;

/// x86 initrd: page-aligned, at or above 16 MiB (as kexec_file does, away from low
/// memory), below initrd_addr_max unless the kernel takes an initrd above 4 GiB; top-down.
pub fn x86_initrd_placement(initrd_addr_max: u32, above_4g: bool) -> Placement {
    Placement {
        align: PAGE_SIZE,
        min: 16 * MIB,
        max: if above_4g {
            u64::MAX
        } else {
            u64::from(initrd_addr_max) + 1
        },
        top_down: true,
        near_kernel: false,
    }
}

/// arm64 initrd: above the kernel, inside its 32 GiB window (booting.rst).
pub fn arm64_initrd_placement() -> Placement {
    Placement {
        align: PAGE_SIZE,
        min: 0,
        max: u64::MAX,
        top_down: false,
        near_kernel: true,
    }
}

/// An arm64 Image layout: 2 MiB-aligned base, as low as possible
/// (booting.rst; kexec-tools and kexec_file both place it at the lowest fitting base).
/// `data` already includes the `text_offset` leading bytes.
pub fn arm64_layout(data: Vec<u8>, memsz: u64, text_offset: u64) -> KernelLayout {
    KernelLayout {
        arch: Arch::Arm64,
        pieces: vec![Blob {
            what: "kernel".to_string(),
            data,
            memsz,
            placement: Placement {
                align: 2 * MIB,
                min: 0,
                max: u64::MAX,
                top_down: false,
                near_kernel: false,
            },
        }],
        entry_piece: 0,
        entry_offset: text_offset,
        initrd: arm64_initrd_placement(),
    }
}

/// riscv64 initrd: page-aligned, above the kernel (the kernel finds it through the DTB's
/// /chosen linux,initrd-start/end, drivers/of/fdt.c, and maps all of RAM).
pub fn riscv64_initrd_placement() -> Placement {
    Placement {
        align: PAGE_SIZE,
        min: 0,
        max: u64::MAX,
        top_down: false,
        near_kernel: true,
    }
}

/// A riscv64 Image layout: at a 2 MiB-aligned address (Documentation/arch/riscv/boot.rst,
/// "Kernel location"; setup_vm() in arch/riscv/mm/init.c stops on anything else), as low
/// as possible, entered at its first byte. The header's text_offset is where boot loaders
/// put it above the start of RAM; the kernel itself does not need it.
pub fn riscv64_layout(data: Vec<u8>, memsz: u64) -> KernelLayout {
    KernelLayout {
        arch: Arch::Riscv64,
        pieces: vec![Blob {
            what: "kernel".to_string(),
            data,
            memsz,
            placement: Placement {
                align: crate::image::riscv64::KERNEL_ALIGN,
                min: 0,
                max: u64::MAX,
                top_down: false,
                near_kernel: false,
            },
        }],
        entry_piece: 0,
        entry_offset: 0,
        initrd: riscv64_initrd_placement(),
    }
}

/// An x86 bzImage layout from its setup header values (used by tests and by
/// [`KernelLayout::from_image`]'s bzImage branch).
pub fn x86_layout(
    kernel: Vec<u8>,
    init_size: u64,
    kernel_alignment: u64,
    pref_address: u64,
) -> KernelLayout {
    let memsz = init_size.max(kernel.len() as u64);
    KernelLayout {
        arch: Arch::X86_64,
        pieces: vec![Blob {
            what: "kernel".to_string(),
            data: kernel,
            memsz,
            placement: Placement {
                align: kernel_alignment.max(PAGE_SIZE),
                min: pref_address.max(MIB),
                max: u64::MAX,
                top_down: true,
                near_kernel: false,
            },
        }],
        entry_piece: 0,
        entry_offset: 0x200,
        initrd: x86_initrd_placement(u32::MAX, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::arm64::Arm64Builder;
    use crate::synth::elf::{ElfBuilder, SegmentSpec};
    use crate::synth::x86::BzImageBuilder;

    #[test]
    fn bzimage_layout_takes_the_protected_mode_part() {
        let file = BzImageBuilder::new().build();
        let KernelImage::BzImage(b) = KernelImage::parse(&file).unwrap() else {
            panic!("not a bzImage");
        };
        let image = KernelImage::BzImage(b.clone());
        let l = KernelLayout::from_image(&image, &file).unwrap();
        let k = &l.pieces[0];
        assert_eq!(k.data.as_slice(), &file[b.kernel_offset as usize..]);
        assert_eq!(k.memsz, 0x3f98000);
        assert_eq!(
            (k.placement.align, k.placement.min, k.placement.max),
            (0x200000, 0x1000000, u64::MAX)
        );
        assert_eq!(l.entry_offset, 0x200);
        // Without bytes: the same layout, an empty kernel piece, the same checks.
        let mut bare = KernelLayout::from_bzimage(&b, &file, false).unwrap();
        assert!(bare.pieces[0].data.is_empty());
        bare.pieces[0].data = k.data.clone();
        assert_eq!(bare, l);
        assert!(KernelLayout::from_bzimage(&b, &file[..file.len() - 1], false).is_err());
        // Truncated file: the protected-mode part runs past the end.
        assert!(KernelLayout::from_image(&image, &file[..file.len() - 1]).is_err());
        let mut fixed = b;
        fixed.relocatable = false;
        assert!(KernelLayout::from_image(&KernelImage::BzImage(fixed), &file).is_err());
    }

    /// kernel_memsz adds up from_image's pieces for each format, and refuses what
    /// from_image refuses.
    #[test]
    fn kernel_memsz_is_the_layouts_total() {
        let files = [
            BzImageBuilder::new().build(),
            Arm64Builder {
                image_size: Some(0x2010000),
                ..Arm64Builder::default()
            }
            .build(),
            ElfBuilder::x86_64().entry(0x1000000).build(),
        ];
        for file in &files {
            let image = KernelImage::parse(file).unwrap();
            let total: u64 = KernelLayout::from_image(&image, file)
                .unwrap()
                .pieces
                .iter()
                .map(|p| p.memsz)
                .sum();
            assert_eq!(KernelLayout::kernel_memsz(&image, file).unwrap(), total);
        }
        let KernelImage::Arm64(mut a) = KernelImage::parse(&files[1]).unwrap() else {
            panic!("not an arm64 Image");
        };
        a.header.image_size = 0;
        assert!(KernelLayout::kernel_memsz(&KernelImage::Arm64(a), &files[1]).is_err());
    }

    #[test]
    fn elf_layout_has_one_fixed_piece_per_pt_load() {
        let file = ElfBuilder::x86_64()
            .entry(0x1000000)
            .segments(vec![
                SegmentSpec::load(0x1000000, 0xffffffff81000000, 0x100, 0x3000, 5),
                SegmentSpec::load(0x2000800, 0xffffffff82000800, 0x100, 0x3000, 6),
            ])
            .build();
        let KernelImage::Elf(e) = KernelImage::parse(&file).unwrap() else {
            panic!("not an ELF");
        };
        let l = KernelLayout::from_image(&KernelImage::Elf(e.clone()), &file).unwrap();
        assert_eq!(l.pieces.len(), 2);
        assert_eq!((l.entry_piece, l.entry_offset), (0, 0));
        let p = &l.pieces[1];
        assert_eq!(
            (p.placement.min, p.placement.max, p.memsz),
            (0x2000000, 0x2004000, 0x3800)
        );
        assert_eq!(&p.data[..0x800], &[0u8; 0x800][..]);
        let second = &e.segments[1];
        assert_eq!(
            &p.data[0x800..],
            &file[second.offset as usize..(second.offset + second.filesz) as usize]
        );
        let mut bad = e;
        bad.entry = 0x5000000;
        assert!(KernelLayout::from_image(&KernelImage::Elf(bad), &file).is_err());
    }

    #[test]
    fn arm64_layout_from_the_header() {
        let file = Arm64Builder {
            image_size: Some(0x2010000),
            ..Arm64Builder::default()
        }
        .build();
        let KernelImage::Arm64(a) = KernelImage::parse(&file).unwrap() else {
            panic!("not an arm64 Image");
        };
        let l = KernelLayout::from_image(&KernelImage::Arm64(a.clone()), &file).unwrap();
        assert_eq!(
            (l.pieces[0].memsz, l.pieces[0].placement.align),
            (0x2010000, 0x200000)
        );
        assert_eq!(l.pieces[0].data, a.image);
        assert!(l.initrd.near_kernel);
        let with = |f: &dyn Fn(&mut crate::image::arm64::Arm64Kernel)| {
            let mut k = a.clone();
            f(&mut k);
            KernelLayout::from_image(&KernelImage::Arm64(k), &file)
        };
        assert!(with(&|k| k.header.image_size = 0).is_err());
        assert!(with(&|k| k.header.big_endian = true).is_err());
        assert!(with(&|k| k.header.image_size = 0x800).is_err());
        assert!(with(&|k| k.header.text_offset = u64::MAX).is_err());
    }

    /// take_arm64 gives from_arm64's layout, moving the Image out (with a zero prefix
    /// when text_offset is not 0), and takes nothing when the header is refused.
    #[test]
    fn take_arm64_moves_the_image_into_the_same_layout() {
        let file = Arm64Builder {
            image_size: Some(0x2010000),
            ..Arm64Builder::default()
        }
        .build();
        let KernelImage::Arm64(a) = KernelImage::parse(&file).unwrap() else {
            panic!("not an arm64 Image");
        };
        for text_offset in [0, 0x80000] {
            let mut k = a.clone();
            k.header.text_offset = text_offset;
            let copied = KernelLayout::from_arm64(&k).unwrap();
            let moved = KernelLayout::take_arm64(&mut k).unwrap();
            assert_eq!(moved, copied);
            assert_eq!(
                moved.pieces[0].data.len(),
                text_offset as usize + a.image.len()
            );
            assert!(k.image.is_empty());
        }
        let mut k = a.clone();
        k.header.image_size = 0;
        assert!(KernelLayout::take_arm64(&mut k).is_err());
        assert_eq!(k.image, a.image);
    }
}
