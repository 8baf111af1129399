//! The kernel proper inside an x86_64 bzImage: its payload decompressed, the vmlinux ELF
//! laid out as the boot decompressor lays it out, and the relocation table that follows it.
//!
//! arch/x86/boot/compressed/Makefile builds the payload as `vmlinux.bin` (`objcopy -R
//! .comment -S vmlinux`: a stripped ELF) followed by `vmlinux.relocs`, compressed.
//! extract_kernel (arch/x86/boot/compressed/misc.c) decompresses it, `parse_elf` copies
//! each PT_LOAD's p_filesz bytes to `output + (p_paddr - LOAD_PHYSICAL_ADDR)`, and
//! `handle_relocations` moves the fields by the virtual KASLR delta
//! ([`crate::x86::relocs`]); the kernel proper is then entered at `output + (e_entry -
//! LOAD_PHYSICAL_ADDR)` (startup_64 in arch/x86/kernel/head_64.S) with the 64-bit boot
//! protocol (Documentation/arch/x86/boot.rst). warmboot does the same at load time so
//! the next kernel skips its own decompression.
//!
//! Bytes between PT_LOADs, and past p_filesz, are zero here; in the decompressor's
//! buffer they hold leftovers of the ELF file. No section lives there, and the kernel
//! clears its .bss itself (clear_bss in arch/x86/kernel/head64.c).

use crate::compression::{self, Compression};
use crate::error::{Error, Result};
use crate::image::bzimage::BzImage;
use crate::image::elf::ElfKernel;
use crate::x86::relocs::{RelocTable, TableFormat, START_KERNEL_MAP};
use crate::Arch;

/// The decompressed kernel proper, laid out but not yet relocated.
#[derive(Clone)]
pub struct KernelProper {
    /// The bytes from `_text` to the end of the last PT_LOAD's file bytes, as parse_elf
    /// leaves them; the memory after it up to [`KernelProper::mem_len`] is zero-filled by
    /// kexec (and .bss cleared again by the kernel).
    pub image: Vec<u8>,
    /// `_end - _text`: the end of the last PT_LOAD's memory.
    pub mem_len: u64,
    /// e_entry - LOAD_PHYSICAL_ADDR: startup_64's offset in `image`.
    pub entry_offset: u64,
    pub relocs: RelocTable,
    /// Length of the decompressed payload (vmlinux.bin + relocs), the decompressor's
    /// `output_len`.
    pub decompressed_len: u64,
    /// LOAD_PHYSICAL_ADDR (pref_address).
    pub load_physical_addr: u64,
    /// CONFIG_PHYSICAL_ALIGN (kernel_alignment).
    pub align: u64,
    pub compression: Compression,
}

/// Sizes only: the image is tens of megabytes.
impl std::fmt::Debug for KernelProper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelProper")
            .field("image_len", &self.image.len())
            .field("mem_len", &self.mem_len)
            .field("entry_offset", &self.entry_offset)
            .field("relocations", &self.relocs.len())
            .field("decompressed_len", &self.decompressed_len)
            .finish_non_exhaustive()
    }
}

impl KernelProper {
    /// Decompresses and lays out the kernel proper of `bz` (whose file is `file`).
    /// Every reason this cannot be done safely is an error, so callers fall back to the
    /// bzImage's own decompressor.
    pub fn from_bzimage(bz: &BzImage, file: &[u8]) -> Result<KernelProper> {
        let format = table_format(bz.version.as_deref())?;
        if !bz.relocatable {
            return Err(Error::Unsupported(
                "the bzImage is not relocatable".to_string(),
            ));
        }
        let start = crate::fields::add(
            bz.kernel_offset,
            u64::from(bz.payload_offset),
            "bzImage payload offset",
        )?;
        let payload = crate::fields::slice(
            file,
            start,
            u64::from(bz.payload_length),
            "bzImage compressed payload",
        )?;
        // Sparse: the zero pages of the payload (.bss stored in the file, .init.scratch,
        // padding) are never written, so they cost no memory here nor after the layout.
        let data = compression::decompress_sparse(
            bz.payload_compression,
            payload,
            bz.uncompressed_size.map_or(0, u64::from),
            compression::MAX_DECOMPRESSED,
            "bzImage payload",
        )?;
        let mut k = from_payload_owned(data, format, bz.pref_address)?;
        k.align = u64::from(bz.kernel_alignment);
        k.compression = bz.payload_compression;
        Ok(k)
    }

    /// The size choose_random_location must fit: max(output_len, _end - _text).
    pub fn virt_size(&self) -> u64 {
        self.decompressed_len.max(self.mem_len)
    }

    /// The image with its relocations applied for virtual delta `delta`.
    pub fn relocated(&self, delta: i64) -> Result<Vec<u8>> {
        let mut image = self.image.clone();
        self.relocs.apply(&mut image, delta)?;
        Ok(image)
    }

    /// [`KernelProper::relocated`] in place: the plan takes the buffer itself, so no
    /// second copy of the (tens of MiB) kernel proper is alive while planning.
    pub fn into_relocated(self, delta: i64) -> Result<Vec<u8>> {
        let mut image = self.image;
        self.relocs.apply(&mut image, delta)?;
        Ok(image)
    }
}

/// The relocation-table layout of the kernel named by the bzImage's kernel_version
/// ("6.1.0-56-amd64 (…) …"). A kernel that does not say its release cannot be relocated
/// safely.
pub fn table_format(version: Option<&str>) -> Result<TableFormat> {
    let unknown = || {
        Error::Unsupported(format!(
            "the bzImage's kernel_version {:?} does not name a release, so its relocation table layout is unknown",
            version.unwrap_or("")
        ))
    };
    let release = version.ok_or_else(unknown)?;
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(unknown)?;
    let minor = parts
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(unknown)?;
    Ok(TableFormat::for_release(major, minor))
}

/// Lays out the decompressed payload `data` (vmlinux ELF + relocs) as parse_elf does.
pub fn from_payload(data: &[u8], format: TableFormat, load: u64) -> Result<KernelProper> {
    let c = check_payload(data, format, load)?;
    let image = layout_copy(data, &c)?;
    Ok(c.into_proper(image, data.len() as u64, load))
}

/// [`from_payload`] for a payload the caller gives away: the PT_LOADs are moved inside
/// its own buffer (each moves down, as in a Debian kernel's payload), so the payload and
/// the image are not both alive at once; the same bytes as [`from_payload`] result.
pub fn from_payload_owned(
    mut data: Vec<u8>,
    format: TableFormat,
    load: u64,
) -> Result<KernelProper> {
    let c = check_payload(&data, format, load)?;
    let decompressed_len = data.len() as u64;
    let in_place = c.moves.iter().all(|m| {
        m.dst <= m.src
            && m.src
                .checked_add(m.len)
                .is_some_and(|end| end <= decompressed_len)
    });
    if !in_place {
        let image = layout_copy(&data, &c)?;
        return Ok(c.into_proper(image, decompressed_len, load));
    }
    // Moves sorted by destination, each one down: a move never overwrites the source of
    // a later one (that lies at or above its destination, which is above this one's
    // end), and the zeroed gap below a destination holds no source still to move. Page by
    // page, in ascending order (safe for a move down), writing only where the bytes
    // change, so that zero pages the sparse decompression left unwritten stay so.
    let mut end = 0usize;
    for m in &c.moves {
        // Both ranges lie inside data: src's by in_place, dst's as dst <= src.
        let (Some(dst), Some(src)) = (usize_range(m.dst, m.len), usize_range(m.src, m.len)) else {
            return Err(bad_payload("a PT_LOAD does not fit the image".to_string()));
        };
        if src.end > data.len() || dst.end > data.len() {
            return Err(bad_payload("a PT_LOAD does not fit the image".to_string()));
        }
        zero_sparse(
            data.get_mut(end..dst.start)
                .ok_or_else(|| bad_payload("PT_LOADs out of order".to_string()))?,
        );
        move_down_sparse(&mut data, src, dst.start);
        end = dst.end;
    }
    data.truncate(end);
    data.shrink_to_fit();
    if data.len() as u64 != c.image_len {
        return Err(bad_payload("a PT_LOAD does not fit the image".to_string()));
    }
    Ok(c.into_proper(data, decompressed_len, load))
}

/// Zeroes `b`, leaving the units that are zero already unwritten.
fn zero_sparse(b: &mut [u8]) {
    for u in b.chunks_mut(compression::SPARSE_UNIT) {
        if !compression::is_zero(u) {
            u.fill(0);
        }
    }
}

/// `data.copy_within(src, dst)` for `dst <= src.start`, unit by unit in ascending order
/// (each unit's source is read before a later unit's destination can reach it), leaving
/// unwritten every destination unit whose bytes would not change from zero.
fn move_down_sparse(data: &mut [u8], src: std::ops::Range<usize>, dst: usize) {
    let unit = compression::SPARSE_UNIT;
    for s in src.clone().step_by(unit) {
        let n = unit.min(src.end.saturating_sub(s));
        // In bounds by the caller's checks; the checked sums cannot fail.
        let (Some(s_end), Some(d)) = (s.checked_add(n), s.checked_sub(src.start)) else {
            return;
        };
        let Some(d) = d.checked_add(dst) else { return };
        let Some(d_end) = d.checked_add(n) else {
            return;
        };
        let zero_src = data.get(s..s_end).is_some_and(compression::is_zero);
        match data.get_mut(d..d_end) {
            Some(t) if zero_src => zero_sparse(t),
            Some(_) => data.copy_within(s..s_end, d),
            None => {}
        }
    }
}

fn bad_payload(detail: String) -> Error {
    Error::invalid("decompressed x86 kernel", detail)
}

/// `start..start + len` as buffer indices, or None when it does not fit a usize.
fn usize_range(start: u64, len: u64) -> Option<std::ops::Range<usize>> {
    let start = usize::try_from(start).ok()?;
    Some(start..start.checked_add(usize::try_from(len).ok()?)?)
}

/// One PT_LOAD's file bytes: `len` bytes from payload offset `src` to image offset `dst`.
struct Move {
    dst: u64,
    src: u64,
    len: u64,
}

/// A payload checked: where its PT_LOADs go (sorted by destination) and what the
/// kernel proper needs besides its image.
struct CheckedPayload {
    moves: Vec<Move>,
    image_len: u64,
    mem_len: u64,
    entry_offset: u64,
    relocs: RelocTable,
}

impl CheckedPayload {
    fn into_proper(self, image: Vec<u8>, decompressed_len: u64, load: u64) -> KernelProper {
        KernelProper {
            image,
            mem_len: self.mem_len,
            entry_offset: self.entry_offset,
            relocs: self.relocs,
            decompressed_len,
            load_physical_addr: load,
            align: 0x20_0000,
            compression: Compression::None,
        }
    }
}

/// The image as a new zeroed buffer with each PT_LOAD's file bytes copied in.
fn layout_copy(data: &[u8], c: &CheckedPayload) -> Result<Vec<u8>> {
    let image_len = usize::try_from(c.image_len).map_err(|_| Error::Overflow {
        what: "x86 kernel image length",
    })?;
    let mut image = vec![0u8; image_len];
    for m in &c.moves {
        let src = crate::fields::slice(data, m.src, m.len, "ELF PT_LOAD segment")?;
        // In bounds: dst + len <= image_len by its definition.
        let dst = usize_range(m.dst, m.len)
            .and_then(|r| image.get_mut(r))
            .ok_or_else(|| bad_payload("a PT_LOAD does not fit the image".to_string()))?;
        dst.copy_from_slice(src);
    }
    Ok(image)
}

/// Checks the payload as parse_elf relies on and says where each PT_LOAD goes.
fn check_payload(data: &[u8], format: TableFormat, load: u64) -> Result<CheckedPayload> {
    let bad = bad_payload;
    let elf = ElfKernel::parse(data)?;
    if elf.arch != Arch::X86_64 {
        return Err(bad(format!("the payload is an ELF for {}", elf.arch)));
    }
    let text = elf
        .segments
        .first()
        .ok_or_else(|| bad("no PT_LOAD".to_string()))?;
    if text.paddr != load {
        return Err(bad(format!(
            "the first PT_LOAD is at physical {:#x}, not LOAD_PHYSICAL_ADDR {load:#x}",
            text.paddr
        )));
    }
    if text.vaddr.wrapping_sub(text.paddr) != START_KERNEL_MAP {
        return Err(bad(format!(
            "the first PT_LOAD maps virtual {:#x} to physical {:#x}, not at __START_KERNEL_map {START_KERNEL_MAP:#x}",
            text.vaddr, text.paddr
        )));
    }
    // The image spans the PT_LOADs; they must not overlap (parse_elf's memmoves would
    // then depend on their order).
    let mut spans = Vec::with_capacity(elf.segments.len());
    for s in &elf.segments {
        let off = s.paddr.checked_sub(load).ok_or_else(|| {
            bad(format!(
                "a PT_LOAD is at physical {:#x}, below LOAD_PHYSICAL_ADDR {load:#x}",
                s.paddr
            ))
        })?;
        spans.push((off, crate::fields::add(off, s.memsz, "PT_LOAD end")?, s));
    }
    spans.sort_by_key(|s| s.0);
    for w in spans.windows(2) {
        if let [a, b] = w {
            if a.1 > b.0 {
                return Err(bad(format!(
                    "PT_LOADs at physical {:#x} and {:#x} overlap",
                    a.2.paddr, b.2.paddr
                )));
            }
        }
    }
    let mem_len = spans.iter().map(|s| s.1).max().unwrap_or(0);
    if mem_len > crate::x86::kaslr::KERNEL_IMAGE_SIZE {
        return Err(bad(format!(
            "the image is {mem_len:#x} bytes, larger than the kernel mapping"
        )));
    }
    // The buffer holds the file-backed part, within the limit any decompressed kernel
    // has ([`compression::MAX_DECOMPRESSED`]).
    let mut image_len = 0u64;
    for s in &spans {
        image_len = image_len.max(crate::fields::add(s.0, s.2.filesz, "PT_LOAD file end")?);
    }
    if image_len > compression::MAX_DECOMPRESSED {
        return Err(bad(format!(
            "its PT_LOADs' file bytes span {image_len:#x} bytes, more than the {:#x}-byte limit",
            compression::MAX_DECOMPRESSED
        )));
    }
    // The decompressor enters at `output + (e_entry - LOAD_PHYSICAL_ADDR)` wherever that
    // lies (extract_kernel's return value, since "x86/boot: Robustify calling
    // startup_{32,64}() from the decompressor code", 7734a0f31e99, Linux 6.3 and 6.1.81;
    // before it the decompressor jumped to `output` itself, and startup_64 was always
    // first in .head.text, so e_entry was _text and both rules agree). 6.12 puts
    // startup_64 after other .head.text code; 6.15 and later put it in .init.text, in
    // the last PT_LOAD. warmboot only insists that the entry holds file bytes: an entry
    // in .bss or between PT_LOADs would jump into zeros.
    let entry_offset = elf
        .entry
        .checked_sub(load)
        .filter(|&o| {
            spans
                .iter()
                .any(|s| o.checked_sub(s.0).is_some_and(|d| d < s.2.filesz))
        })
        .ok_or_else(|| {
            bad(format!(
                "e_entry {:#x} is not in any PT_LOAD's file bytes",
                elf.entry
            ))
        })?;
    let relocs = relocation_table(data, format, image_len, load, elf.file_end)?;
    if relocs.is_empty() {
        return Err(bad("the relocation table is empty".to_string()));
    }
    let mut moves = Vec::with_capacity(spans.len());
    for (off, _, s) in &spans {
        let file_end = crate::fields::add(s.offset, s.filesz, "PT_LOAD file end")?;
        if file_end > relocs.table_start {
            return Err(bad(format!(
                "a PT_LOAD's file bytes end at {file_end:#x}, inside the relocation table at {:#x}",
                relocs.table_start
            )));
        }
        crate::fields::slice(data, s.offset, s.filesz, "ELF PT_LOAD segment")?;
        moves.push(Move {
            dst: *off,
            src: s.offset,
            len: s.filesz,
        });
    }
    Ok(CheckedPayload {
        moves,
        image_len,
        mem_len,
        entry_offset,
        relocs,
    })
}

/// The relocation table after the ELF, read in the layout that makes it start exactly
/// where the ELF ends (`elf_end`), `hint` (from the kernel release) first.
///
/// The layout is the kernel's own choice (arch/x86/tools/relocs.c and misc.c's
/// handle_relocations change together: three sets up to 6.14, two from 6.15), so the
/// data decides, not the version string: a distribution kernel that backports the change
/// still boots. Read in the wrong layout a table either ends inside the real one or runs
/// into the ELF's section headers, so at most one layout fits; none fitting is an error.
fn relocation_table(
    data: &[u8],
    hint: TableFormat,
    image_len: u64,
    load: u64,
    elf_end: u64,
) -> Result<RelocTable> {
    let mut tried = Vec::new();
    for format in [hint, hint.other()] {
        match RelocTable::parse(data, format, image_len, load) {
            Ok(t) if t.table_start == elf_end => return Ok(t),
            Ok(t) => tried.push(format!(
                "{} it would start at {:#x}",
                format.describe(),
                t.table_start
            )),
            Err(e) => tried.push(format!("{}: {e}", format.describe())),
        }
    }
    Err(bad_payload(format!(
        "no relocation-table layout starts where the ELF ends ({elf_end:#x}): {}",
        tried.join("; ")
    )))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::synth::elf::{ElfBuilder, SegmentSpec, PF_R, PF_W, PF_X};

    const LOAD: u64 = 0x100_0000;
    const VIRT: u64 = START_KERNEL_MAP;

    /// A small vmlinux.bin.all: the x86_64 synth ELF with one field of each kind in its
    /// text, and the relocation table (with the inverse set) after it. Returns the data and
    /// the image offsets of the 32-bit, inverse and 64-bit fields.
    pub(crate) fn synth_payload() -> (Vec<u8>, [u64; 3]) {
        let mut b = ElfBuilder::x86_64();
        let text = &mut b.segments[0].data;
        text[0x10..0x14].copy_from_slice(&0x8100_0100u32.to_le_bytes());
        text[0x20..0x24].copy_from_slice(&0x10i32.to_le_bytes());
        text[0x30..0x38].copy_from_slice(&(VIRT + LOAD + 0x180).to_le_bytes());
        let mut data = b.vmlinux_bin();
        // Read backwards: 32-bit set, 0, inverse set, 0, 64-bit set, 0.
        for w in [0u32, 0x8100_0030, 0, 0x8100_0020, 0, 0x8100_0010] {
            data.extend_from_slice(&w.to_le_bytes());
        }
        (data, [0x10, 0x20, 0x30])
    }

    /// A payload given away is laid out in its own buffer with the bytes of the copying
    /// layout, gaps between PT_LOADs zeroed: PT_LOADs that move down in the buffer (as a
    /// real vmlinux's do: its file offsets lie above paddr - LOAD_PHYSICAL_ADDR), and the
    /// preset's, which move up and are copied.
    #[test]
    fn owned_payload_lays_out_the_same_bytes_as_a_copy() {
        let (up, _) = synth_payload();
        let mut b = ElfBuilder::x86_64();
        // File offsets 0x200, 0x400, 0x600 (512-byte steps); images offsets 0, 0x200 and
        // 0x500, leaving a gap at 0x400..0x500 that holds rodata's old bytes until zeroed.
        for (seg, paddr) in b
            .segments
            .iter_mut()
            .zip([LOAD, LOAD + 0x200, LOAD + 0x500])
        {
            seg.paddr = paddr;
            seg.vaddr = VIRT + paddr;
        }
        b.segments[1].data.fill(0xaa);
        b.segments[2].data.fill(0xbb);
        assert_eq!(b.layout()[..3], [0x200, 0x400, 0x600]);
        let mut down = b.vmlinux_bin();
        for w in [0u32, 0, 0, 0x8100_0010] {
            down.extend_from_slice(&w.to_le_bytes());
        }
        let k = from_payload_owned(down.clone(), TableFormat::WithInverse, LOAD).unwrap();
        assert_eq!(k.image.len(), 0x600);
        assert!(k.image[0x200..0x240].iter().all(|&b| b == 0xaa));
        assert!(k.image[0x400..0x500].iter().all(|&b| b == 0), "gap zeroed");
        assert!(k.image[0x500..].iter().all(|&b| b == 0xbb));
        for data in [down, up] {
            let copied = from_payload(&data, TableFormat::WithInverse, LOAD).unwrap();
            let owned = from_payload_owned(data.clone(), TableFormat::WithInverse, LOAD).unwrap();
            assert_eq!(owned.image, copied.image);
            assert_eq!(
                (owned.mem_len, owned.entry_offset, owned.decompressed_len),
                (copied.mem_len, copied.entry_offset, copied.decompressed_len)
            );
            assert_eq!(owned.relocs.r32, copied.relocs.r32);
        }
    }

    /// The page-by-page move down gives copy_within's bytes for overlapping ranges,
    /// with zero and non-zero pages on both sides and a partial last page.
    #[test]
    fn sparse_move_down_equals_copy_within() {
        let unit = compression::SPARSE_UNIT;
        let mut data = vec![0u8; 12 * unit + 100];
        for (i, b) in data.iter_mut().enumerate() {
            let page = i / unit;
            if page % 3 != 1 {
                *b = (i % 251) as u8 | 1;
            }
        }
        for (src, dst) in [
            (3 * unit..10 * unit + 100, unit),
            (unit + 7..12 * unit + 100, 0),
            (0..5 * unit, 0),
        ] {
            let mut want = data.clone();
            want.copy_within(src.clone(), dst);
            let mut got = data.clone();
            move_down_sparse(&mut got, src.clone(), dst);
            assert!(got == want, "{src:?} -> {dst}");
        }
        let mut z = data.clone();
        zero_sparse(&mut z[unit / 2..5 * unit]);
        assert!(z[unit / 2..5 * unit].iter().all(|&b| b == 0));
        assert_eq!(z[..unit / 2], data[..unit / 2]);
    }

    #[test]
    fn lays_out_the_pt_loads_at_paddr_minus_load_physical_addr() {
        let (data, [r32, inv, r64]) = synth_payload();
        let k = from_payload(&data, TableFormat::WithInverse, LOAD).unwrap();
        // text 0x100_0000 (0x200), rodata 0x120_0000 (0x200), data 0x140_0000 (memsz 0x1_0000).
        assert_eq!(
            k.image.len(),
            0x40_0100,
            "up to the data segment's file bytes"
        );
        assert_eq!(k.mem_len, 0x41_0000);
        assert_eq!(k.entry_offset, 0);
        assert_eq!(k.decompressed_len, data.len() as u64);
        assert_eq!(k.virt_size(), 0x41_0000);
        assert_eq!(
            (
                k.relocs.r32.clone(),
                k.relocs.inv32.clone(),
                k.relocs.r64.clone()
            ),
            (vec![r32], vec![inv], vec![r64])
        );
        let b = ElfBuilder::x86_64();
        let offsets = b.layout();
        assert_eq!(
            &k.image[0x20_0000..0x20_0010],
            &data[offsets[1]..offsets[1] + 0x10]
        );
        assert_eq!(
            &k.image[0x40_0000..0x40_0100],
            &data[offsets[2]..offsets[2] + 0x100]
        );
        let moved = k.relocated(0x20_0000).unwrap();
        assert_eq!(moved[0x10..0x14], 0x8120_0100u32.to_le_bytes());
        assert_eq!(moved[0x20..0x24], (0x10i32 - 0x20_0000).to_le_bytes());
        assert_eq!(moved[0x30..0x38], (VIRT + LOAD + 0x20_0180).to_le_bytes());
    }

    #[test]
    fn refuses_payloads_it_cannot_lay_out() {
        let (data, _) = synth_payload();
        // (Never print a KernelProper: its image is megabytes.)
        let err = |d: &[u8], load: u64| match from_payload(d, TableFormat::WithInverse, load) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.to_string(),
        };
        assert_eq!(
            err(&data, 0x200_0000),
            "invalid decompressed x86 kernel: the first PT_LOAD is at physical 0x1000000, not LOAD_PHYSICAL_ADDR 0x2000000"
        );
        // A relocation outside the image.
        let mut d = ElfBuilder::x86_64().vmlinux_bin();
        for w in [0u32, 0, 0, 0x9000_0000] {
            d.extend_from_slice(&w.to_le_bytes());
        }
        assert!(
            err(&d, LOAD)
                .contains("32-bit relocation 0xffffffff90000000 is outside the kernel image"),
            "{}",
            err(&d, LOAD)
        );
        // Not an ELF at all.
        assert!(err(&[0u8; 64], LOAD).contains("ELF"));
        // arm64 ELF.
        let arm = ElfBuilder::aarch64().build();
        assert_eq!(
            err(&arm, LOAD),
            "invalid decompressed x86 kernel: the payload is an ELF for arm64"
        );
        // Text not linked at __START_KERNEL_map.
        let mut b = ElfBuilder::x86_64();
        b.segments[0].vaddr = LOAD;
        let mut d = b.vmlinux_bin();
        d.extend_from_slice(&[0; 12]);
        assert!(
            err(&d, LOAD).contains("__START_KERNEL_map"),
            "{}",
            err(&d, LOAD)
        );
        // Overlapping PT_LOADs.
        let b = ElfBuilder::x86_64().segments(vec![
            SegmentSpec::load(LOAD, VIRT + LOAD, 0x200, 0x2000, PF_R | PF_X),
            SegmentSpec::load(
                LOAD + 0x1000,
                VIRT + LOAD + 0x1000,
                0x200,
                0x200,
                PF_R | PF_W,
            ),
        ]);
        let mut d = b.vmlinux_bin();
        d.extend_from_slice(&[0; 12]);
        assert!(err(&d, LOAD).contains("overlap"), "{}", err(&d, LOAD));
        // File bytes spread over more than any decompressed kernel may have.
        let b = ElfBuilder::x86_64().segments(vec![
            SegmentSpec::load(LOAD, VIRT + LOAD, 0x200, 0x200, PF_R | PF_X),
            SegmentSpec::load(
                LOAD + 0x2100_0000,
                VIRT + LOAD + 0x2100_0000,
                0x100,
                0x100,
                PF_R | PF_W,
            ),
        ]);
        let mut d = b.vmlinux_bin();
        d.extend_from_slice(&[0; 12]);
        assert!(
            err(&d, LOAD).contains("more than the 0x20000000-byte limit"),
            "{}",
            err(&d, LOAD)
        );
        // Entry outside the text.
        let mut d = ElfBuilder::x86_64().entry(LOAD + 0x10_0000).vmlinux_bin();
        d.extend_from_slice(&[0; 12]);
        assert!(err(&d, LOAD).contains("e_entry"), "{}", err(&d, LOAD));
        // An empty table (three terminators only) proves nothing: refused.
        let mut d = ElfBuilder::x86_64().vmlinux_bin();
        d.extend_from_slice(&[0; 12]);
        assert_eq!(
            err(&d, LOAD),
            "invalid decompressed x86 kernel: the relocation table is empty"
        );
    }

    /// 6.12 enters after other .head.text code, 6.15 and later in .init.text in the last
    /// PT_LOAD: any entry inside a PT_LOAD's file bytes is taken, as extract_kernel
    /// returns `output + (e_entry - LOAD_PHYSICAL_ADDR)`; an entry in .bss is not.
    #[test]
    fn enters_at_e_entry_in_any_pt_load() {
        let table = |mut d: Vec<u8>| {
            for w in [0u32, 0, 0, 0x8100_0010] {
                d.extend_from_slice(&w.to_le_bytes());
            }
            d
        };
        // The synth data segment: physical 0x140_0000, 0x100 file bytes, memsz 0x1_0000.
        for (entry, offset) in [(LOAD + 0x43, 0x43), (LOAD + 0x40_0080, 0x40_0080)] {
            let d = table(ElfBuilder::x86_64().entry(entry).vmlinux_bin());
            let k = from_payload(&d, TableFormat::WithInverse, LOAD).unwrap();
            assert_eq!(k.entry_offset, offset);
        }
        let d = table(ElfBuilder::x86_64().entry(LOAD + 0x40_0200).vmlinux_bin());
        let err = from_payload(&d, TableFormat::WithInverse, LOAD)
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "invalid decompressed x86 kernel: e_entry 0x1400200 is not in any PT_LOAD's file bytes"
        );
    }

    /// The table's layout comes from the data: the one that starts where the ELF ends,
    /// whatever the release says; a table that fits neither is refused.
    #[test]
    fn detects_the_relocation_table_layout_from_the_data() {
        let elf = ElfBuilder::x86_64().vmlinux_bin();
        // Without the inverse set (6.15 on): 64-bit set, 0, 32-bit set, 0.
        let mut two = elf.clone();
        for w in [0u32, 0x8100_0030, 0, 0x8100_0010] {
            two.extend_from_slice(&w.to_le_bytes());
        }
        // With it: 64-bit, 0, inverse, 0, 32-bit, 0.
        let mut three = elf.clone();
        for w in [0u32, 0x8100_0030, 0, 0x8100_0020, 0, 0x8100_0010] {
            three.extend_from_slice(&w.to_le_bytes());
        }
        for hint in [TableFormat::WithInverse, TableFormat::WithoutInverse] {
            let k = from_payload(&two, hint, LOAD).unwrap();
            assert_eq!(
                (
                    k.relocs.r32.clone(),
                    k.relocs.inv32.len(),
                    k.relocs.r64.clone()
                ),
                (vec![0x10], 0, vec![0x30])
            );
            let k = from_payload(&three, hint, LOAD).unwrap();
            assert_eq!(
                (
                    k.relocs.r32.clone(),
                    k.relocs.inv32.clone(),
                    k.relocs.r64.clone()
                ),
                (vec![0x10], vec![0x20], vec![0x30])
            );
        }
        // Four stray bytes between the ELF and the table: neither layout starts at the
        // ELF's end.
        let mut gap = elf.clone();
        gap.extend_from_slice(&[0xaa; 4]);
        gap.extend_from_slice(&three[elf.len()..]);
        let err = from_payload(&gap, TableFormat::WithInverse, LOAD)
            .err()
            .unwrap();
        assert!(
            err.to_string()
                .contains("no relocation-table layout starts where the ELF ends"),
            "{err}"
        );
    }

    #[test]
    fn reads_the_table_format_from_the_release() {
        assert_eq!(
            table_format(Some("6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1")).unwrap(),
            TableFormat::WithInverse
        );
        assert_eq!(
            table_format(Some("6.15.2 #1")).unwrap(),
            TableFormat::WithoutInverse
        );
        for v in [None, Some(""), Some("six"), Some("6")] {
            let err = table_format(v).unwrap_err().to_string();
            assert!(err.contains("does not name a release"), "{err}");
        }
    }
}
