//! KASLR choices for an x86_64 kernel that warmboot decompresses itself, by the rules of
//! the kernel's own boot decompressor (arch/x86/boot/compressed/kaslr.c,
//! `choose_random_location`, `find_random_phys_addr`, `find_random_virt_addr`):
//!
//! - `nokaslr` on the command line: no randomisation; the kernel runs at its link-time
//!   virtual address and wherever it was loaded physically.
//! - otherwise a physical address: a random CONFIG_PHYSICAL_ALIGN (kernel_alignment)
//!   slot in usable RAM at or above LOAD_PHYSICAL_ADDR, below MAXMEM, where the whole
//!   image fits; and a virtual address: `LOAD_PHYSICAL_ADDR + random slot * align` with
//!   the image inside KERNEL_IMAGE_SIZE (1 GiB with CONFIG_RANDOMIZE_BASE,
//!   arch/x86/include/asm/page_64_types.h). The decompressor then sets KASLR_FLAG in
//!   boot_params.hdr.loadflags so the kernel proper randomises its memory regions too.
//!
//! The decompressor avoids the initrd, command line, boot_params and setup_data when it
//! picks the physical slot; here the planner does that, because the kernel is placed
//! first and every other segment goes around it. Pure: ranges and random numbers in,
//! choice out.

use crate::error::{Error, Result};
use crate::memmap::{align_up, Range};

/// KERNEL_IMAGE_SIZE with CONFIG_RANDOMIZE_BASE (arch/x86/include/asm/page_64_types.h).
pub const KERNEL_IMAGE_SIZE: u64 = 1 << 30;
/// MAXMEM with 4-level paging (64 TiB, arch/x86/include/asm/pgtable_64_types.h): the
/// decompressor's upper limit for the physical address. warmboot uses it for 5-level
/// kernels too, which only narrows the choice.
pub const MAXMEM: u64 = 1 << 46;

/// Command-line words that change what the decompressor would choose (memory limits and
/// regions it must avoid, arch/x86/boot/compressed/kaslr.c `handle_mem_options`) and that
/// warmboot does not model: with any of them the bzImage's own decompressor must choose.
pub const UNMODELLED_OPTIONS: &[&str] = &["mem", "memmap", "hugepages", "efi_fake_mem"];

/// What is being placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KaslrInput {
    /// Bytes the kernel needs at its physical address.
    pub phys_size: u64,
    /// The size the virtual slot must hold: max(decompressed length, _end - _text), as
    /// extract_kernel passes to choose_random_location.
    pub virt_size: u64,
    /// LOAD_PHYSICAL_ADDR (the setup header's pref_address).
    pub load_physical_addr: u64,
    /// CONFIG_PHYSICAL_ALIGN (the setup header's kernel_alignment).
    pub align: u64,
}

/// The decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kaslr {
    /// `nokaslr`: link-time virtual address, physical address left to the planner.
    Off,
    /// Randomised: the physical load address and the decompressor's `virt_addr` (the
    /// physical-style virtual offset: `_text` runs at `__START_KERNEL_map + virt_addr`).
    Random { phys: u64, virt_addr: u64 },
}

impl Kaslr {
    /// The virtual delta the relocations apply: `virt_addr - LOAD_PHYSICAL_ADDR`.
    pub fn virt_delta(&self, load_physical_addr: u64) -> u64 {
        match self {
            Kaslr::Off => 0,
            Kaslr::Random { virt_addr, .. } => virt_addr.saturating_sub(load_physical_addr),
        }
    }
}

/// True when the command line holds the word `nokaslr` (cmdline_find_option_bool: a whole
/// word, no value).
pub fn nokaslr(cmdline: &str) -> bool {
    cmdline.split_whitespace().any(|w| w == "nokaslr")
}

/// The first command-line option from [`UNMODELLED_OPTIONS`], if any.
pub fn unmodelled_option(cmdline: &str) -> Option<&'static str> {
    cmdline.split_whitespace().find_map(|w| {
        let key = w.split('=').next().unwrap_or(w);
        UNMODELLED_OPTIONS.iter().copied().find(|o| *o == key)
    })
}

/// Chooses as choose_random_location does. `free` is the RAM the kernel may occupy
/// (sorted, non-overlapping); `random` are two random numbers (physical, virtual).
pub fn choose(
    input: &KaslrInput,
    free: &[Range],
    nokaslr: bool,
    random: [u64; 2],
) -> Result<Kaslr> {
    if nokaslr {
        return Ok(Kaslr::Off);
    }
    let align = input.align;
    if !align.is_power_of_two() {
        return Err(Error::invalid(
            "x86 kernel_alignment",
            format!("{align:#x} is not a power of two"),
        ));
    }
    let phys = random_phys(input, free, random[0])?;
    let virt_addr = random_virt(input, random[1])?;
    Ok(Kaslr::Random { phys, virt_addr })
}

/// A random aligned slot in `free` between LOAD_PHYSICAL_ADDR and MAXMEM.
fn random_phys(input: &KaslrInput, free: &[Range], random: u64) -> Result<u64> {
    let align = input.align;
    let size = input.phys_size;
    // Each usable range as (first slot, number of slots).
    let areas: Vec<(u64, u64)> = free
        .iter()
        .filter_map(|r| {
            let lo = align_up(r.start.max(input.load_physical_addr), align)?;
            let hi = r.end.min(MAXMEM);
            let last = hi.checked_sub(size)?;
            // align is a power of two (checked by the caller), so never 0.
            let slots = last.checked_sub(lo)?.checked_div(align)?.checked_add(1)?;
            Some((lo, slots))
        })
        .collect();
    let total: u64 = areas.iter().map(|a| a.1).sum();
    // checked_rem is None exactly when total is 0: no slot anywhere.
    let Some(mut pick) = random.checked_rem(total) else {
        return Err(Error::NoRoom {
            what: "randomised kernel".to_string(),
            detail: format!(
                "no {align:#x}-aligned range of {size:#x} bytes of usable RAM above {:#x}",
                input.load_physical_addr
            ),
        });
    };
    for (start, slots) in areas {
        // checked_sub is None exactly when pick < slots: the slot is in this area.
        match pick.checked_sub(slots) {
            Some(rest) => pick = rest,
            None => return slot(start, pick, align),
        }
    }
    Err(Error::invalid(
        "KASLR slot",
        "the random slot is past the last one",
    ))
}

/// find_random_virt_addr: `1 + (KERNEL_IMAGE_SIZE - minimum - image_size) / align` slots.
fn random_virt(input: &KaslrInput, random: u64) -> Result<u64> {
    let room = KERNEL_IMAGE_SIZE
        .checked_sub(input.load_physical_addr)
        .and_then(|r| r.checked_sub(input.virt_size))
        .ok_or_else(|| Error::NoRoom {
            what: "randomised kernel".to_string(),
            detail: format!(
                "{:#x} bytes from {:#x} do not fit the {KERNEL_IMAGE_SIZE:#x}-byte kernel mapping",
                input.virt_size, input.load_physical_addr
            ),
        })?;
    let slots = room
        .checked_div(input.align)
        .and_then(|n| n.checked_add(1))
        .ok_or(Error::Overflow {
            what: "KASLR virtual slot",
        })?;
    // slots >= 1, so checked_rem is always Some.
    let pick = random.checked_rem(slots).ok_or(Error::Overflow {
        what: "KASLR virtual slot",
    })?;
    slot(input.load_physical_addr, pick, input.align)
}

/// The address of slot `index` of `align` bytes from `start`.
fn slot(start: u64, index: u64, align: u64) -> Result<u64> {
    index
        .checked_mul(align)
        .and_then(|off| start.checked_add(off))
        .ok_or(Error::Overflow { what: "KASLR slot" })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    const ALIGN: u64 = 2 * MIB;

    fn input(size: u64) -> KaslrInput {
        KaslrInput {
            phys_size: size,
            virt_size: size,
            load_physical_addr: 16 * MIB,
            align: ALIGN,
        }
    }

    #[test]
    fn nokaslr_is_a_whole_word() {
        assert!(nokaslr("console=ttyS0 nokaslr quiet"));
        assert!(nokaslr("nokaslr"));
        assert!(!nokaslr("console=ttyS0 nokaslr=1 kaslr"));
        assert!(!nokaslr("xnokaslr"));
        let k = choose(&input(60 * MIB), &[Range::new(0, 1 << 32)], true, [1, 2]).unwrap();
        assert_eq!(k, Kaslr::Off);
        assert_eq!(k.virt_delta(16 * MIB), 0);
    }

    #[test]
    fn finds_options_it_does_not_model() {
        assert_eq!(unmodelled_option("quiet mem=4G"), Some("mem"));
        assert_eq!(unmodelled_option("memmap=1G$4G"), Some("memmap"));
        assert_eq!(unmodelled_option("hugepages=4 x"), Some("hugepages"));
        assert_eq!(
            unmodelled_option("console=ttyS0 memory_corruption_check=0 nokaslr"),
            None
        );
    }

    #[test]
    fn physical_slots_are_aligned_inside_ram_and_above_load_physical_addr() {
        // Two ranges: 1 MiB..40 MiB (slots 16, 18, 20 for a 20 MiB image) and
        // 101 MiB..125 MiB (first aligned slot 102, last 104).
        let free = [Range::new(MIB, 40 * MIB), Range::new(101 * MIB, 125 * MIB)];
        let size = 20 * MIB;
        let mut seen = std::collections::BTreeSet::new();
        for r in 0..20u64 {
            let Kaslr::Random { phys, .. } = choose(&input(size), &free, false, [r, 0]).unwrap()
            else {
                panic!("not randomised");
            };
            assert_eq!(phys % ALIGN, 0);
            assert!(phys >= 16 * MIB);
            assert!(
                free.iter()
                    .any(|f| f.contains(&Range::new(phys, phys + size))),
                "{phys:#x}"
            );
            seen.insert(phys / MIB);
        }
        assert_eq!(
            seen.into_iter().collect::<Vec<_>>(),
            vec![16, 18, 20, 102, 104]
        );
    }

    #[test]
    fn avoids_what_is_not_free_and_says_when_nothing_fits() {
        // The planner's free list already lacks the reserved ranges: a range too small
        // for the image is never chosen.
        let free = [
            Range::new(16 * MIB, 30 * MIB),
            Range::new(64 * MIB, 96 * MIB),
        ];
        for r in 0..50 {
            let Kaslr::Random { phys, .. } =
                choose(&input(20 * MIB), &free, false, [r, r]).unwrap()
            else {
                panic!();
            };
            assert!((64 * MIB..=76 * MIB).contains(&phys), "{phys:#x}");
        }
        let err = choose(&input(40 * MIB), &free, false, [0, 0]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no room for randomised kernel: no 0x200000-aligned range of 0x2800000 bytes of usable RAM above 0x1000000"
        );
        // Above MAXMEM nothing counts.
        let high = [Range::new(MAXMEM - 4 * MIB, MAXMEM + (1 << 30))];
        assert!(choose(&input(8 * MIB), &high, false, [0, 0]).is_err());
    }

    #[test]
    fn virtual_slots_keep_the_image_inside_kernel_image_size() {
        let size = 60 * MIB;
        let free = [Range::new(0, 1 << 32)];
        // slots = 1 + (1024 - 16 - 60) MiB / 2 MiB = 475.
        let mut max = 0;
        for r in [0u64, 1, 474, 475, 476, u64::MAX] {
            let Kaslr::Random { virt_addr, .. } =
                choose(&input(size), &free, false, [0, r]).unwrap()
            else {
                panic!();
            };
            assert_eq!(virt_addr % ALIGN, 0);
            assert!(virt_addr >= 16 * MIB);
            assert!(virt_addr + size <= KERNEL_IMAGE_SIZE, "{virt_addr:#x}");
            max = max.max(virt_addr);
        }
        assert_eq!(max, 16 * MIB + 474 * ALIGN);
        let Kaslr::Random { virt_addr, .. } = choose(&input(size), &free, false, [0, 475]).unwrap()
        else {
            panic!();
        };
        assert_eq!(virt_addr, 16 * MIB, "475 wraps to slot 0");
        let k = Kaslr::Random {
            phys: 0,
            virt_addr: 20 * MIB,
        };
        assert_eq!(k.virt_delta(16 * MIB), 4 * MIB);
        // An image larger than the mapping cannot be randomised.
        assert!(choose(&input(1 << 30), &free, false, [0, 0]).is_err());
        // kernel_alignment must be a power of two.
        let odd = KaslrInput {
            align: 3 * MIB,
            ..input(size)
        };
        assert!(choose(&odd, &free, false, [0, 0]).is_err());
    }
}
