//! The x86_64 kernel's KASLR relocation table and how the boot decompressor applies it.
//!
//! arch/x86/tools/relocs.c writes the table (`vmlinux.relocs`) and
//! arch/x86/boot/compressed/Makefile appends it to the stripped vmlinux before compressing
//! (`vmlinux.bin.all = vmlinux.bin + vmlinux.relocs`). It is read backwards from the end of
//! the decompressed data as 32-bit words, each a link-time kernel virtual address
//! sign-extended to 64 bits (arch/x86/boot/compressed/misc.c, `handle_relocations`):
//!
//! ```text
//! ... vmlinux ... | 64-bit relocs | 0 | inverse 32-bit relocs | 0 | 32-bit relocs | 0 |  (end)
//! ```
//!
//! Read from the end: 32-bit relocations until a 0, then (kernels before 6.15) inverse
//! 32-bit relocations until a 0, then 64-bit relocations until a 0. Linux 6.15 removed the
//! inverse set ("x86/boot/64: Remove inverse relocations"), so the layout depends on the
//! kernel version ([`TableFormat`]).
//!
//! On x86_64 the fields move by the *virtual* delta `virt_addr - LOAD_PHYSICAL_ADDR`:
//! 32-bit fields `+=`, inverse 32-bit fields `-=`, 64-bit fields `+=`. A field's place is
//! `reloc - __START_KERNEL_map - LOAD_PHYSICAL_ADDR` bytes from the image start (`_text`).
//! Pure code: bytes in, table out; applying works on the image buffer.

use crate::error::{Error, Result};

/// `__START_KERNEL_map` (arch/x86/include/asm/page_64_types.h): where the kernel's virtual
/// mapping of physical 0 starts.
pub const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;

/// Which sets the table holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TableFormat {
    /// 32-bit, inverse 32-bit, 64-bit (x86_64 kernels up to 6.14).
    #[default]
    WithInverse,
    /// 32-bit, 64-bit (6.15 and later).
    WithoutInverse,
}

impl TableFormat {
    /// The format of a kernel with release `major.minor`.
    pub fn for_release(major: u32, minor: u32) -> TableFormat {
        if (major, minor) >= (6, 15) {
            TableFormat::WithoutInverse
        } else {
            TableFormat::WithInverse
        }
    }

    /// The other layout.
    pub fn other(self) -> TableFormat {
        match self {
            TableFormat::WithInverse => TableFormat::WithoutInverse,
            TableFormat::WithoutInverse => TableFormat::WithInverse,
        }
    }

    /// How messages name the layout.
    pub fn describe(self) -> &'static str {
        match self {
            TableFormat::WithInverse => "with an inverse 32-bit set (up to 6.14)",
            TableFormat::WithoutInverse => "without an inverse set (6.15 on)",
        }
    }
}

/// The relocation table as field offsets from the image start, in the order the kernel
/// applies them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RelocTable {
    /// 32-bit fields that get `+= delta`.
    pub r32: Vec<u64>,
    /// 32-bit fields that get `-= delta` (RIP-relative references to per-CPU data).
    pub inv32: Vec<u64>,
    /// 64-bit fields that get `+= delta`.
    pub r64: Vec<u64>,
    /// Offset in the decompressed data where the table starts (its first word, which is
    /// the 64-bit set's terminator): everything before it is the ELF vmlinux.
    pub table_start: u64,
    /// The layout it was read in.
    pub format: TableFormat,
}

impl RelocTable {
    /// Number of relocations in all sets.
    pub fn len(&self) -> usize {
        // A Vec<u64> holds at most isize::MAX / 8 elements, so three lengths never reach
        // usize::MAX: saturating never saturates.
        self.r32
            .len()
            .saturating_add(self.inv32.len())
            .saturating_add(self.r64.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Parses the table at the end of `data` (the whole decompressed payload).
    ///
    /// `image_len` is the length of the image the fields live in (`_end - _text` as laid
    /// out from the PT_LOADs); every field must lie entirely inside it (the kernel
    /// checks only the start against `__bss_start`, warmboot checks the whole field).
    /// `load_physical_addr` is LOAD_PHYSICAL_ADDR (the setup header's pref_address).
    pub fn parse(
        data: &[u8],
        format: TableFormat,
        image_len: u64,
        load_physical_addr: u64,
    ) -> Result<RelocTable> {
        if !data.len().is_multiple_of(4) {
            return Err(Error::invalid(
                "x86 relocation table",
                format!(
                    "the decompressed kernel is {} bytes, not a whole number of 32-bit words",
                    data.len()
                ),
            ));
        }
        let base = START_KERNEL_MAP
            .checked_add(load_physical_addr)
            .ok_or(Error::Overflow {
                what: "kernel virtual base",
            })?;
        // data.len() is a multiple of 4 (checked above): no remainder is left out.
        let (chunks, _) = data.as_chunks::<4>();
        let mut words = chunks.iter().rev().map(|w| i32::from_le_bytes(*w));
        let mut consumed = 0u64;
        let mut read_set = |name: &'static str, size: u64| -> Result<Vec<u64>> {
            let mut set = Vec::new();
            loop {
                let word = words.next().ok_or_else(|| {
                    Error::invalid(
                        "x86 relocation table",
                        format!("the {name} relocations have no 0 terminator before the start of the data"),
                    )
                })?;
                consumed = consumed.checked_add(4).ok_or(Error::Overflow {
                    what: "x86 relocation table",
                })?;
                if word == 0 {
                    return Ok(set);
                }
                // Sign-extend, as the kernel's `long extended = *reloc`.
                let addr = i64::from(word) as u64;
                let off = addr
                    .checked_sub(base)
                    .filter(|off| off.checked_add(size).is_some_and(|end| end <= image_len))
                    .ok_or_else(|| {
                        Error::invalid(
                            "x86 relocation table",
                            format!("{name} relocation {addr:#018x} is outside the kernel image ({base:#x}..{:#x})", base.saturating_add(image_len)),
                        )
                    })?;
                set.push(off);
            }
        };
        let r32 = read_set("32-bit", 4)?;
        let inv32 = match format {
            TableFormat::WithInverse => read_set("inverse 32-bit", 4)?,
            TableFormat::WithoutInverse => Vec::new(),
        };
        let r64 = read_set("64-bit", 8)?;
        // consumed counts words read from data, so it is at most data.len().
        let table_start = (data.len() as u64)
            .checked_sub(consumed)
            .ok_or(Error::Overflow {
                what: "x86 relocation table",
            })?;
        Ok(RelocTable {
            r32,
            inv32,
            r64,
            table_start,
            format,
        })
    }

    /// Moves every field of `image` by the virtual `delta` as handle_relocations does.
    /// A field whose new value does not fit its width is an error (the kernel would
    /// silently wrap and boot a broken kernel); `image` may then be partly relocated.
    pub fn apply(&self, image: &mut [u8], delta: i64) -> Result<()> {
        if delta == 0 {
            return Ok(());
        }
        let overflow = |kind: &str, off: u64| {
            Error::invalid(
                "x86 relocation",
                format!(
                    "the {kind} field at image offset {off:#x} overflows when moved by {delta:#x}"
                ),
            )
        };
        for &off in &self.r32 {
            let field = field_mut::<4>(image, off)?;
            let new = i64::from(u32::from_le_bytes(*field))
                .checked_add(delta)
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| overflow("32-bit", off))?;
            *field = new.to_le_bytes();
        }
        for &off in &self.inv32 {
            let field = field_mut::<4>(image, off)?;
            let new = i64::from(i32::from_le_bytes(*field))
                .checked_sub(delta)
                .and_then(|v| i32::try_from(v).ok())
                .ok_or_else(|| overflow("inverse 32-bit", off))?;
            *field = new.to_le_bytes();
        }
        for &off in &self.r64 {
            let field = field_mut::<8>(image, off)?;
            let new = u64::from_le_bytes(*field)
                .checked_add_signed(delta)
                .ok_or_else(|| overflow("64-bit", off))?;
            *field = new.to_le_bytes();
        }
        Ok(())
    }
}

/// The `N` bytes at `off` of `image`, bounds-checked.
fn field_mut<const N: usize>(image: &mut [u8], off: u64) -> Result<&mut [u8; N]> {
    let len = image.len() as u64;
    usize::try_from(off)
        .ok()
        .and_then(|start| image.get_mut(start..start.checked_add(N)?))
        .and_then(|s| <&mut [u8; N]>::try_from(s).ok())
        .ok_or(Error::Truncated {
            what: "x86 relocation field",
            start: off,
            end: off.saturating_add(N as u64),
            len,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOAD: u64 = 0x100_0000;
    const BASE: u64 = START_KERNEL_MAP + LOAD; // 0xffffffff81000000

    /// The low 32 bits of a kernel virtual address, as relocs.c writes it.
    fn word(virt: u64) -> [u8; 4] {
        (virt as u32).to_le_bytes()
    }

    /// Builds `data` = prefix + table, with the sets given in reading order (the kernel
    /// reads backwards, so they are written reversed).
    fn table(prefix: &[u8], sets: &[&[u64]]) -> Vec<u8> {
        let mut words: Vec<[u8; 4]> = Vec::new();
        for set in sets {
            for &v in *set {
                words.push(word(v));
            }
            words.push([0; 4]);
        }
        let mut data = prefix.to_vec();
        for w in words.iter().rev() {
            data.extend_from_slice(w);
        }
        data
    }

    #[test]
    fn parses_the_three_sets_backwards() {
        let data = table(
            &[0xaa; 16],
            &[&[BASE + 4, BASE + 8], &[BASE + 0x10], &[BASE + 0x20, BASE]],
        );
        let t = RelocTable::parse(&data, TableFormat::WithInverse, 0x100, LOAD).unwrap();
        assert_eq!(t.r32, vec![4, 8]);
        assert_eq!(t.inv32, vec![0x10]);
        assert_eq!(t.r64, vec![0x20, 0]);
        assert_eq!(t.table_start, 16);
        assert_eq!(t.len(), 5);
    }

    #[test]
    fn without_inverse_the_second_set_is_64_bit() {
        let data = table(&[], &[&[BASE + 4], &[BASE + 8]]);
        let t = RelocTable::parse(&data, TableFormat::WithoutInverse, 0x100, LOAD).unwrap();
        assert_eq!((t.r32, t.inv32, t.r64), (vec![4], vec![], vec![8]));
        assert_eq!(t.table_start, 0);
        assert_eq!(TableFormat::for_release(6, 1), TableFormat::WithInverse);
        assert_eq!(TableFormat::for_release(6, 14), TableFormat::WithInverse);
        assert_eq!(TableFormat::for_release(6, 15), TableFormat::WithoutInverse);
        assert_eq!(TableFormat::for_release(7, 0), TableFormat::WithoutInverse);
    }

    #[test]
    fn refuses_relocations_outside_the_image() {
        for (sets, msg) in [
            (
                [&[BASE - 4][..], &[], &[]],
                "32-bit relocation 0xffffffff80fffffc is outside",
            ),
            (
                [&[], &[BASE + 0x100][..], &[]],
                "inverse 32-bit relocation 0xffffffff81000100 is outside",
            ),
            // A 32-bit field must fit whole: 0xfd..0x101 crosses the end.
            ([&[BASE + 0xfd][..], &[], &[]], "32-bit relocation"),
            // A 64-bit field at 0xfc would end at 0x104.
            ([&[], &[], &[BASE + 0xfc][..]], "64-bit relocation"),
        ] {
            let data = table(&[], &sets);
            let err = RelocTable::parse(&data, TableFormat::WithInverse, 0x100, LOAD)
                .unwrap_err()
                .to_string();
            assert!(err.contains(msg), "{err}");
            assert!(err.contains("outside the kernel image"), "{err}");
        }
        // The last whole 32-bit and 64-bit fields are inside.
        let data = table(&[], &[&[BASE + 0xfc], &[], &[BASE + 0xf8]]);
        assert!(RelocTable::parse(&data, TableFormat::WithInverse, 0x100, LOAD).is_ok());
    }

    #[test]
    fn refuses_missing_terminators_and_ragged_data() {
        // Only two terminators: the 64-bit set runs off the start of the data.
        let data = table(&[], &[&[BASE], &[]]);
        let err = RelocTable::parse(&data, TableFormat::WithInverse, 0x100, LOAD).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid x86 relocation table: the 64-bit relocations have no 0 terminator before the start of the data"
        );
        let err = RelocTable::parse(&[], TableFormat::WithInverse, 0x100, LOAD).unwrap_err();
        assert!(err
            .to_string()
            .contains("the 32-bit relocations have no 0 terminator"));
        let err = RelocTable::parse(&[0; 7], TableFormat::WithInverse, 0x100, LOAD).unwrap_err();
        assert!(
            err.to_string()
                .contains("not a whole number of 32-bit words"),
            "{err}"
        );
        // Reading stops at the third terminator: the ELF bytes before it are not read.
        let data = table(&[1, 0, 0, 0], &[&[], &[], &[]]);
        let t = RelocTable::parse(&data, TableFormat::WithInverse, 0x100, LOAD).unwrap();
        assert_eq!((t.table_start, t.len()), (4, 0));
    }

    #[test]
    fn refuses_a_base_that_overflows() {
        let data = table(&[], &[&[], &[], &[]]);
        let err = RelocTable::parse(&data, TableFormat::WithInverse, 0x100, 1 << 63).unwrap_err();
        assert_eq!(
            err.to_string(),
            "corrupt header: kernel virtual base overflows"
        );
    }

    fn image_with_fields() -> (Vec<u8>, RelocTable) {
        let mut image = vec![0u8; 0x40];
        image[0..4].copy_from_slice(&0x8100_1000u32.to_le_bytes()); // 32-bit, sign-extended
        image[8..12].copy_from_slice(&0x0000_2000i32.to_le_bytes()); // inverse (rip-relative)
        image[16..24].copy_from_slice(&0xffff_ffff_8100_3000u64.to_le_bytes());
        let t = RelocTable {
            r32: vec![0],
            inv32: vec![8],
            r64: vec![16],
            table_start: 0,
            format: TableFormat::WithInverse,
        };
        (image, t)
    }

    #[test]
    fn applies_the_delta_like_handle_relocations() {
        let (mut image, t) = image_with_fields();
        let original = image.clone();
        let delta = 0x1e0_0000i64;
        t.apply(&mut image, delta).unwrap();
        assert_eq!(image[0..4], 0x82e0_1000u32.to_le_bytes());
        assert_eq!(image[8..12], (0x2000i32 - 0x1e0_0000).to_le_bytes());
        assert_eq!(image[16..24], 0xffff_ffff_82e0_3000u64.to_le_bytes());
        assert_eq!(image[24..], original[24..]);
        t.apply(&mut image, -delta).unwrap();
        assert_eq!(image, original);
        // Zero delta changes nothing, even with bad offsets.
        let bad = RelocTable {
            r32: vec![0x1000],
            ..RelocTable::default()
        };
        bad.apply(&mut image, 0).unwrap();
        assert_eq!(image, original);
    }

    #[test]
    fn refuses_fields_that_overflow_or_lie_outside() {
        let (mut image, t) = image_with_fields();
        // 0x81001000 + 0x7f000000 > u32::MAX.
        let err = t.apply(&mut image, 0x7f00_0000).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid x86 relocation: the 32-bit field at image offset 0x0 overflows when moved by 0x7f000000"
        );
        let inv = RelocTable {
            inv32: vec![8],
            ..RelocTable::default()
        };
        let (mut image, _) = image_with_fields();
        image[8..12].copy_from_slice(&i32::MIN.to_le_bytes());
        let err = inv.apply(&mut image, 1).unwrap_err();
        assert!(
            err.to_string()
                .contains("inverse 32-bit field at image offset 0x8"),
            "{err}"
        );
        let r64 = RelocTable {
            r64: vec![16],
            ..RelocTable::default()
        };
        let (mut image, _) = image_with_fields();
        image[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        let err = r64.apply(&mut image, 1).unwrap_err();
        assert!(
            err.to_string()
                .contains("64-bit field at image offset 0x10"),
            "{err}"
        );
        let outside = RelocTable {
            r64: vec![0x3c],
            ..RelocTable::default()
        };
        let err = outside.apply(&mut image, 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "truncated: x86 relocation field needs bytes 0x3c..0x44 but the data is only 0x40 bytes long"
        );
    }

    proptest::proptest! {
        #[test]
        fn relocating_by_d_then_minus_d_restores_the_image(
            fields in proptest::collection::vec((0u64..0x3f0, 0u8..3), 0..20),
            slot in 0i64..500,
            seed in proptest::prelude::any::<u64>(),
        ) {
            // Non-overlapping fields (8-byte slots), with kernel-like values.
            let mut image = vec![0u8; 0x2000];
            let mut t = RelocTable::default();
            let mut used = std::collections::BTreeSet::new();
            for (i, (slot_no, kind)) in fields.into_iter().enumerate() {
                if !used.insert(slot_no) {
                    continue;
                }
                let off = slot_no * 8;
                let v = seed.wrapping_mul(i as u64 + 1) & 0xfff_ffff;
                let at = off as usize;
                match kind {
                    0 => { image[at..at + 4].copy_from_slice(&(0x8100_0000u32 + v as u32).to_le_bytes()); t.r32.push(off) }
                    1 => { image[at..at + 4].copy_from_slice(&(v as i32).to_le_bytes()); t.inv32.push(off) }
                    _ => { image[at..at + 8].copy_from_slice(&(BASE + v).to_le_bytes()); t.r64.push(off) }
                }
            }
            let original = image.clone();
            let delta = slot * 0x20_0000;
            t.apply(&mut image, delta).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            t.apply(&mut image, -delta).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            proptest::prop_assert_eq!(image, original);
        }
    }
}
