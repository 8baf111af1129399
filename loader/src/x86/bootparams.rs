//! The zero page (`struct boot_params`, 4096 bytes) warmboot hands an x86_64 kernel.
//!
//! Layout: arch/x86/include/uapi/asm/bootparam.h, Documentation/arch/x86/zero-page.rst;
//! rules: Documentation/arch/x86/boot.rst ("The Linux/x86 Boot Protocol", "64-bit Boot
//! Protocol"); kexec-facts §4. Pure: the kernel's setup header and the planned addresses
//! in, 4096 bytes out; [`parse_zero_page`] reads one back so plans can be verified.

use crate::error::{Error, Result};
use crate::fields;
use crate::image::bzimage::{loadflags, xlf};
use crate::x86::e820::{decode_entries, encode_entries, type_name, E820Entry, E820_ENTRY_SIZE};
use crate::x86::efi::{EfiInfo, ACPI_RSDP_OFFSET, EFI_INFO_OFFSET, EFI_INFO_SIZE};
use std::fmt::Write as _;

/// Size of the zero page.
pub const ZERO_PAGE_SIZE: usize = 4096;
/// Where the setup header starts (same offset in the bzImage file and the zero page).
pub const SETUP_HEADER_OFFSET: u64 = 0x1f1;
/// The header may run at most up to edd_mbr_sig_buffer (0x290); past it lie other fields.
pub const SETUP_HEADER_LIMIT: u64 = 0x290;
/// The header must reach at least past cmdline_size (0x238..0x23c) for warmboot's checks.
pub const SETUP_HEADER_MIN_END: u64 = 0x23c;
/// The 64-bit entry needs boot protocol 2.12 (xloadflags, ext_* fields).
pub const MIN_PROTOCOL: u16 = 0x020c;
/// E820_MAX_ENTRIES_ZEROPAGE: the zero page's e820_table holds 128 entries.
pub const E820_MAX_ENTRIES_ZEROPAGE: usize = 128;
/// type_of_loader: 0xD is the boot loader ID of kexec (Documentation/arch/x86/boot.rst
/// "type_of_loader"); the kernel's own kexec_file loader writes 0xD0 too.
pub const LOADER_TYPE_KEXEC: u8 = 0xd0;

/// Zero page offsets (zero-page.rst, bootparam.h).
pub mod off {
    pub const ACPI_RSDP_ADDR: u64 = 0x070;
    pub const EXT_RAMDISK_IMAGE: u64 = 0x0c0;
    pub const EXT_RAMDISK_SIZE: u64 = 0x0c4;
    pub const EXT_CMD_LINE_PTR: u64 = 0x0c8;
    pub const EFI_INFO: u64 = 0x1c0;
    pub const E820_ENTRIES: u64 = 0x1e8;
    pub const SENTINEL: u64 = 0x1ef;
    pub const SETUP_SECTS: u64 = 0x1f1;
    pub const BOOT_FLAG: u64 = 0x1fe;
    pub const HEADER: u64 = 0x202;
    pub const VERSION: u64 = 0x206;
    pub const TYPE_OF_LOADER: u64 = 0x210;
    pub const LOADFLAGS: u64 = 0x211;
    pub const RAMDISK_IMAGE: u64 = 0x218;
    pub const RAMDISK_SIZE: u64 = 0x21c;
    pub const HEAP_END_PTR: u64 = 0x224;
    pub const EXT_LOADER_VER: u64 = 0x226;
    pub const EXT_LOADER_TYPE: u64 = 0x227;
    pub const CMD_LINE_PTR: u64 = 0x228;
    pub const INITRD_ADDR_MAX: u64 = 0x22c;
    pub const KERNEL_ALIGNMENT: u64 = 0x230;
    pub const XLOADFLAGS: u64 = 0x236;
    pub const CMDLINE_SIZE: u64 = 0x238;
    pub const SETUP_DATA: u64 = 0x250;
    pub const PREF_ADDRESS: u64 = 0x258;
    pub const INIT_SIZE: u64 = 0x260;
    pub const E820_TABLE: u64 = 0x2d0;
}

const HDRS: u32 = 0x5372_6448;

/// What goes into a zero page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZeroPageInput {
    /// The bzImage's setup header: file bytes 0x1f1 .. `0x202 + byte[0x201]`.
    pub setup_header: Vec<u8>,
    /// Physical address of the NUL-terminated command line.
    pub cmdline_addr: u64,
    /// Length of the command line in bytes, without its terminating NUL.
    pub cmdline_len: u64,
    /// Physical address and size of the initrd.
    pub initrd: Option<(u64, u64)>,
    /// At most 128 entries; put the rest in a SETUP_E820_EXT node (see [`split_e820`]).
    pub e820: Vec<E820Entry>,
    /// The ACPI RSDP, as the running kernel has it (its acpi_rsdp_addr or EFI systab ACPI20).
    pub acpi_rsdp: Option<u64>,
    /// EFI hand-over (see [`crate::x86::efi`]).
    pub efi: Option<EfiInfo>,
    /// Physical address of the first setup_data node; 0 = none.
    pub setup_data: u64,
}

/// The setup header of a bzImage file: bytes 0x1f1 .. `header_end` (0x202 + byte 0x201,
/// [`crate::image::bzimage::BzImage::header_end`]), the part a loader copies into the zero page.
pub fn setup_header(file: &[u8], header_end: u64) -> Result<Vec<u8>> {
    let len = header_end.checked_sub(SETUP_HEADER_OFFSET).ok_or_else(|| {
        Error::invalid(
            "x86 setup header",
            format!("it ends at {header_end:#x}, before 0x1f1"),
        )
    })?;
    Ok(fields::slice(file, SETUP_HEADER_OFFSET, len, "bzImage setup header")?.to_vec())
}

/// Splits an e820 table into the zero page's 128 entries and the rest, which belongs in a
/// SETUP_E820_EXT node ([`e820_ext_node`]); the kernel appends those to the table
/// (arch/x86/kernel/e820.c e820__memory_setup_extended).
pub fn split_e820(entries: &[E820Entry]) -> (Vec<E820Entry>, Vec<E820Entry>) {
    // n <= entries.len(), so split_at cannot panic.
    let n = entries.len().min(E820_MAX_ENTRIES_ZEROPAGE);
    let (head, rest) = entries.split_at(n);
    (head.to_vec(), rest.to_vec())
}

/// The (type, data) of a SETUP_E820_EXT node for [`crate::x86::setup_data::SetupDataChain`].
pub fn e820_ext_node(rest: &[E820Entry]) -> (u32, Vec<u8>) {
    (crate::x86::setup_data::SETUP_E820_EXT, encode_entries(rest))
}

/// Writes `bytes` at `off` of the zero page. Offsets are this module's constants, all
/// inside the 4096-byte page, so the error is for a bug here, never for the input.
fn put(page: &mut [u8], off: u64, bytes: &[u8]) -> Result<()> {
    let (len, page_len) = (bytes.len() as u64, page.len() as u64);
    usize::try_from(off)
        .ok()
        .and_then(|o| page.get_mut(o..o.checked_add(bytes.len())?))
        .ok_or(Error::Truncated {
            what: "zero page field",
            start: off,
            end: off.saturating_add(len),
            len: page_len,
        })?
        .copy_from_slice(bytes);
    Ok(())
}

/// Builds the zero page: all zero (so the sentinel at 0x1ef stays 0 and the kernel's
/// sanitize_boot_params keeps acpi_rsdp_addr and the ext_* fields,
/// arch/x86/include/asm/bootparam_utils.h), then the kernel's setup header at 0x1f1, then
/// the loader's fields:
/// - type_of_loader 0xD0 (kexec, as kexec_file and kexec-tools write; warmboot has no boot
///   loader ID of its own and loads exactly like them);
/// - loadflags: CAN_USE_HEAP, QUIET, KEEP_SEGMENTS and KASLR_FLAG cleared (only the
///   kernel's LOADED_HIGH stays); heap_end_ptr and ext_loader_* zero;
/// - cmd_line_ptr / ramdisk_image / ramdisk_size low 32 bits in the header, high 32 bits
///   in ext_cmd_line_ptr / ext_ramdisk_image / ext_ramdisk_size;
/// - e820_entries and the table at 0x2d0, acpi_rsdp_addr, efi_info, hdr.setup_data.
///
/// Refuses: a header that is not a 2.12+ "HdrS" header or does not fit, a command line
/// longer than cmdline_size (boot.rst: the maximum without the NUL), an initrd or command
/// line above initrd_addr_max / 4 GiB when xloadflags lacks XLF_CAN_BE_LOADED_ABOVE_4G,
/// more than 128 e820 entries.
pub fn build_zero_page(input: &ZeroPageInput) -> Result<Vec<u8>> {
    let hdr = &input.setup_header;
    let hdr_end = fields::add(SETUP_HEADER_OFFSET, hdr.len() as u64, "x86 setup header")?;
    if hdr_end < SETUP_HEADER_MIN_END {
        return Err(Error::Truncated {
            what: "x86 setup header",
            start: SETUP_HEADER_OFFSET,
            end: SETUP_HEADER_MIN_END,
            len: hdr_end,
        });
    }
    if hdr_end > SETUP_HEADER_LIMIT {
        return Err(Error::invalid(
            "x86 setup header",
            format!(
                "it ends at {hdr_end:#x}, past the end of struct setup_header's room ({SETUP_HEADER_LIMIT:#x})"
            ),
        ));
    }
    let mut page = vec![0u8; ZERO_PAGE_SIZE];
    put(&mut page, SETUP_HEADER_OFFSET, hdr)?;
    if fields::le_u32(&page, off::HEADER, "setup header magic")? != HDRS {
        return Err(Error::invalid(
            "x86 setup header",
            "no \"HdrS\" magic at 0x202",
        ));
    }
    let version = fields::le_u16(&page, off::VERSION, "boot protocol version")?;
    if version < MIN_PROTOCOL {
        let [minor, major] = version.to_le_bytes();
        return Err(Error::OldBootProtocol { major, minor });
    }
    let xloadflags = fields::le_u16(&page, off::XLOADFLAGS, "xloadflags")?;
    let above_4g = xloadflags & xlf::CAN_BE_LOADED_ABOVE_4G != 0;
    let cmdline_size = fields::le_u32(&page, off::CMDLINE_SIZE, "cmdline_size")?;
    let initrd_addr_max = fields::le_u32(&page, off::INITRD_ADDR_MAX, "initrd_addr_max")?;

    // Command line.
    if input.cmdline_len > u64::from(cmdline_size) {
        return Err(Error::invalid(
            "command line",
            format!(
                "command line is {} bytes but this kernel accepts at most {cmdline_size}",
                input.cmdline_len
            ),
        ));
    }
    let cmdline_end = fields::add(
        fields::add(input.cmdline_addr, input.cmdline_len, "command line end")?,
        1,
        "command line end",
    )?;
    if !above_4g && cmdline_end > 1 << 32 {
        return Err(Error::invalid(
            "command line address",
            format!(
                "the command line ends at {cmdline_end:#x}, above 4 GiB, but this kernel lacks XLF_CAN_BE_LOADED_ABOVE_4G"
            ),
        ));
    }

    // Initrd.
    let (rd_addr, rd_size) = input.initrd.unwrap_or((0, 0));
    if input.initrd.is_some() {
        let end = fields::add(rd_addr, rd_size, "initrd end")?;
        let limit = fields::add(u64::from(initrd_addr_max), 1, "initrd_addr_max")?;
        if !above_4g && end > limit {
            return Err(Error::invalid(
                "initrd address",
                format!(
                    "the initrd ends at {end:#x} but this kernel accepts initrds only below {limit:#x} (initrd_addr_max) and lacks XLF_CAN_BE_LOADED_ABOVE_4G"
                ),
            ));
        }
    }

    // e820.
    if input.e820.len() > E820_MAX_ENTRIES_ZEROPAGE {
        return Err(Error::invalid(
            "e820 table",
            format!(
                "{} entries do not fit the zero page's {E820_MAX_ENTRIES_ZEROPAGE}; pass the rest in a SETUP_E820_EXT node",
                input.e820.len()
            ),
        ));
    }

    let e820_entries = u8::try_from(input.e820.len()).map_err(|_| {
        Error::invalid(
            "e820 table",
            format!("{} entries do not fit e820_entries", input.e820.len()),
        )
    })?;
    let (cmdline_lo, cmdline_hi) = fields::split_u64(input.cmdline_addr);
    let (rd_addr_lo, rd_addr_hi) = fields::split_u64(rd_addr);
    let (rd_size_lo, rd_size_hi) = fields::split_u64(rd_size);
    let flags = fields::u8_at(&page, off::LOADFLAGS, "loadflags")?;
    put(&mut page, off::TYPE_OF_LOADER, &[LOADER_TYPE_KEXEC])?;
    put(&mut page, off::LOADFLAGS, &[flags & loadflags::LOADED_HIGH])?;
    put(&mut page, off::HEAP_END_PTR, &[0, 0])?;
    put(&mut page, off::EXT_LOADER_VER, &[0])?;
    put(&mut page, off::EXT_LOADER_TYPE, &[0])?;
    put(&mut page, off::CMD_LINE_PTR, &cmdline_lo.to_le_bytes())?;
    put(&mut page, off::EXT_CMD_LINE_PTR, &cmdline_hi.to_le_bytes())?;
    put(&mut page, off::RAMDISK_IMAGE, &rd_addr_lo.to_le_bytes())?;
    put(&mut page, off::EXT_RAMDISK_IMAGE, &rd_addr_hi.to_le_bytes())?;
    put(&mut page, off::RAMDISK_SIZE, &rd_size_lo.to_le_bytes())?;
    put(&mut page, off::EXT_RAMDISK_SIZE, &rd_size_hi.to_le_bytes())?;
    put(&mut page, off::E820_ENTRIES, &[e820_entries])?;
    put(&mut page, off::E820_TABLE, &encode_entries(&input.e820))?;
    put(
        &mut page,
        ACPI_RSDP_OFFSET,
        &input.acpi_rsdp.unwrap_or(0).to_le_bytes(),
    )?;
    if let Some(efi) = &input.efi {
        put(&mut page, EFI_INFO_OFFSET, &efi.to_bytes())?;
    }
    put(&mut page, off::SETUP_DATA, &input.setup_data.to_le_bytes())?;
    Ok(page)
}

/// The fields of a zero page a plan checker or a reviewer looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZeroPageView {
    pub protocol_version: u16,
    pub type_of_loader: u8,
    pub loadflags: u8,
    pub xloadflags: u16,
    pub sentinel: u8,
    pub cmdline_size: u32,
    pub initrd_addr_max: u32,
    pub kernel_alignment: u32,
    pub pref_address: u64,
    pub init_size: u32,
    /// cmd_line_ptr | ext_cmd_line_ptr << 32.
    pub cmd_line_ptr: u64,
    /// (ramdisk_image | ext << 32, ramdisk_size | ext << 32); None when both are 0.
    pub ramdisk: Option<(u64, u64)>,
    pub acpi_rsdp_addr: u64,
    /// None when efi_info is all zero.
    pub efi: Option<EfiInfo>,
    pub e820: Vec<E820Entry>,
    pub setup_data: u64,
}

/// Reads a zero page back. Errors when it is shorter than 4096 bytes or claims more than
/// 128 e820 entries.
pub fn parse_zero_page(bytes: &[u8]) -> Result<ZeroPageView> {
    if bytes.len() < ZERO_PAGE_SIZE {
        return Err(Error::Truncated {
            what: "zero page",
            start: 0,
            end: ZERO_PAGE_SIZE as u64,
            len: bytes.len() as u64,
        });
    }
    let u32_at = |o: u64, what: &'static str| fields::le_u32(bytes, o, what).map(u64::from);
    let join = |lo: u64, hi: u64, what: &'static str| -> Result<u64> {
        Ok(u32_at(lo, what)? | u32_at(hi, what)? << 32)
    };
    let rd = (
        join(off::RAMDISK_IMAGE, off::EXT_RAMDISK_IMAGE, "ramdisk_image")?,
        join(off::RAMDISK_SIZE, off::EXT_RAMDISK_SIZE, "ramdisk_size")?,
    );
    let n = usize::from(fields::u8_at(bytes, off::E820_ENTRIES, "e820_entries")?);
    if n > E820_MAX_ENTRIES_ZEROPAGE {
        return Err(Error::invalid(
            "zero page",
            format!(
                "e820_entries is {n}, more than the {E820_MAX_ENTRIES_ZEROPAGE} the table holds"
            ),
        ));
    }
    let table = fields::slice(
        bytes,
        off::E820_TABLE,
        (n * E820_ENTRY_SIZE) as u64,
        "e820_table",
    )?;
    let efi = EfiInfo::parse(fields::slice(
        bytes,
        EFI_INFO_OFFSET,
        EFI_INFO_SIZE as u64,
        "efi_info",
    )?)?;
    Ok(ZeroPageView {
        protocol_version: fields::le_u16(bytes, off::VERSION, "version")?,
        type_of_loader: fields::u8_at(bytes, off::TYPE_OF_LOADER, "type_of_loader")?,
        loadflags: fields::u8_at(bytes, off::LOADFLAGS, "loadflags")?,
        xloadflags: fields::le_u16(bytes, off::XLOADFLAGS, "xloadflags")?,
        sentinel: fields::u8_at(bytes, off::SENTINEL, "sentinel")?,
        cmdline_size: fields::le_u32(bytes, off::CMDLINE_SIZE, "cmdline_size")?,
        initrd_addr_max: fields::le_u32(bytes, off::INITRD_ADDR_MAX, "initrd_addr_max")?,
        kernel_alignment: fields::le_u32(bytes, off::KERNEL_ALIGNMENT, "kernel_alignment")?,
        pref_address: fields::le_u64(bytes, off::PREF_ADDRESS, "pref_address")?,
        init_size: fields::le_u32(bytes, off::INIT_SIZE, "init_size")?,
        cmd_line_ptr: join(off::CMD_LINE_PTR, off::EXT_CMD_LINE_PTR, "cmd_line_ptr")?,
        ramdisk: (rd != (0, 0)).then_some(rd),
        acpi_rsdp_addr: fields::le_u64(bytes, off::ACPI_RSDP_ADDR, "acpi_rsdp_addr")?,
        efi: (!efi.is_empty()).then_some(efi),
        e820: decode_entries(table)?,
        setup_data: fields::le_u64(bytes, off::SETUP_DATA, "setup_data")?,
    })
}

impl ZeroPageView {
    /// A stable text view: one `name: value` line per field, hex addresses, then the e820
    /// table in kexec-tools' notation (inclusive ends).
    pub fn render(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "protocol:         {}.{:02}",
            self.protocol_version >> 8,
            self.protocol_version & 0xff
        );
        let _ = writeln!(o, "type_of_loader:   {:#04x}", self.type_of_loader);
        let _ = writeln!(o, "loadflags:        {:#04x}", self.loadflags);
        let _ = writeln!(o, "xloadflags:       {:#06x}", self.xloadflags);
        let _ = writeln!(o, "sentinel:         {:#04x}", self.sentinel);
        let _ = writeln!(o, "cmdline_size:     {:#x}", self.cmdline_size);
        let _ = writeln!(o, "initrd_addr_max:  {:#x}", self.initrd_addr_max);
        let _ = writeln!(o, "kernel_alignment: {:#x}", self.kernel_alignment);
        let _ = writeln!(o, "pref_address:     {:#x}", self.pref_address);
        let _ = writeln!(o, "init_size:        {:#x}", self.init_size);
        let _ = writeln!(o, "cmd_line_ptr:     {:#x}", self.cmd_line_ptr);
        match self.ramdisk {
            Some((a, s)) => {
                let _ = writeln!(o, "ramdisk:          {a:#x} size {s:#x}");
            }
            None => {
                let _ = writeln!(o, "ramdisk:          none");
            }
        }
        let _ = writeln!(o, "acpi_rsdp_addr:   {:#x}", self.acpi_rsdp_addr);
        match &self.efi {
            Some(e) => {
                let _ = writeln!(
                    o,
                    "efi_info:         {} systab {:#x} memmap {:#x} size {:#x} desc_size {} desc_version {}",
                    String::from_utf8_lossy(&e.loader_signature).escape_default(),
                    e.systab,
                    e.memmap,
                    e.memmap_size,
                    e.memdesc_size,
                    e.memdesc_version
                );
            }
            None => {
                let _ = writeln!(o, "efi_info:         none");
            }
        }
        let _ = writeln!(o, "setup_data:       {:#x}", self.setup_data);
        let _ = writeln!(o, "e820_entries:     {}", self.e820.len());
        for e in &self.e820 {
            let _ = writeln!(
                o,
                "  {:016x}-{:016x} ({}) {}",
                e.addr,
                e.end().saturating_sub(1),
                e.kind,
                type_name(e.kind)
            );
        }
        o
    }
}

/// Renders a zero page's bytes ([`parse_zero_page`] then [`ZeroPageView::render`]).
pub fn render_zero_page(bytes: &[u8]) -> Result<String> {
    Ok(parse_zero_page(bytes)?.render())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::HostRoot;
    use crate::image::bzimage::BzImage;
    use crate::synth::x86::BzImageBuilder;
    use crate::x86::e820::{normal_e820, E820_RAM};
    use crate::x86::efi::EfiFirmware;
    use crate::x86::setup_data::{parse_chain, SetupDataChain, SETUP_E820_EXT};
    use proptest::prelude::*;
    use std::path::PathBuf;

    /// The setup header bytes 0x1f1..header_end of a synthetic bzImage.
    fn header_of(b: BzImageBuilder) -> Vec<u8> {
        let file = b.build();
        let parsed = BzImage::parse(&file).unwrap();
        setup_header(&file, parsed.header_end).unwrap()
    }

    #[test]
    fn setup_header_is_0x1f1_to_header_end() {
        let file = BzImageBuilder::new().build();
        let h = setup_header(&file, 0x26c).unwrap();
        assert_eq!(h.len(), 0x26c - 0x1f1);
        assert_eq!(&h[0x202 - 0x1f1..0x206 - 0x1f1], b"HdrS");
        assert!(setup_header(&file, 0x100).is_err());
        assert!(setup_header(&file[..0x200], 0x26c).is_err());
    }

    fn debian_header() -> Vec<u8> {
        header_of(BzImageBuilder::new())
    }

    fn input(header: Vec<u8>) -> ZeroPageInput {
        ZeroPageInput {
            setup_header: header,
            cmdline_addr: 0x13fff2000,
            cmdline_len: 30,
            initrd: Some((0x13a7dd000, 0x1822ff0)),
            e820: vec![E820Entry::new(0x400, 0x9fc00, E820_RAM)],
            acpi_rsdp: None,
            efi: None,
            setup_data: 0,
        }
    }

    fn u32_at(p: &[u8], o: u64) -> u32 {
        u32::from_le_bytes(p[o as usize..o as usize + 4].try_into().unwrap())
    }

    fn machine(name: &str) -> HostRoot {
        HostRoot::new(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/machines")
                .join(name),
        )
    }

    #[test]
    fn header_is_copied_and_loader_fields_are_set() {
        let mut hdr =
            header_of(BzImageBuilder::new().loadflags(
                loadflags::LOADED_HIGH | loadflags::CAN_USE_HEAP | loadflags::QUIET_FLAG,
            ));
        // A boot loader's leftovers in the file's header: heap_end_ptr, ext_loader_*.
        let h = (off::HEAP_END_PTR - SETUP_HEADER_OFFSET) as usize;
        hdr[h..h + 4].copy_from_slice(&[0x00, 0xfe, 0x12, 0x34]);
        let page = build_zero_page(&input(hdr.clone())).unwrap();
        assert_eq!(page.len(), 4096);
        assert!(page[..SETUP_HEADER_OFFSET as usize]
            .iter()
            .enumerate()
            .all(|(i, &b)| b == 0 || (0x70..0xcc).contains(&i) || i == off::E820_ENTRIES as usize));
        assert_eq!(page[off::SENTINEL as usize], 0);
        assert_eq!(page[off::TYPE_OF_LOADER as usize], 0xd0);
        assert_eq!(page[off::LOADFLAGS as usize], loadflags::LOADED_HIGH);
        assert_eq!(&page[0x224..0x228], &[0, 0, 0, 0]);
        // The rest of the header is the kernel's own.
        assert_eq!(&page[0x1f1..0x210], &hdr[..0x210 - 0x1f1]);
        assert_eq!(&page[0x22c..0x250], &hdr[0x22c - 0x1f1..0x250 - 0x1f1]);
        assert_eq!(&page[0x258..0x1f1 + hdr.len()], &hdr[0x258 - 0x1f1..]);
        let v = parse_zero_page(&page).unwrap();
        assert_eq!(v.protocol_version, 0x020f);
        assert_eq!(v.cmd_line_ptr, 0x13fff2000);
        assert_eq!(v.ramdisk, Some((0x13a7dd000, 0x1822ff0)));
        assert_eq!(v.cmdline_size, 0x7ff);
        assert_eq!(v.setup_data, 0);
        assert_eq!(v.efi, None);
    }

    #[test]
    fn command_line_limit_is_cmdline_size() {
        let mut i = input(debian_header());
        i.cmdline_len = 2047;
        assert!(build_zero_page(&i).is_ok());
        i.cmdline_len = 2048;
        assert!(build_zero_page(&i).is_err());
        i.cmdline_len = 3000;
        let e = build_zero_page(&i).unwrap_err();
        assert!(
            e.to_string()
                .contains("command line is 3000 bytes but this kernel accepts at most 2047"),
            "{e}"
        );
        let mut i = input(header_of(BzImageBuilder::new().cmdline_size(255)));
        i.cmdline_len = 256;
        assert!(build_zero_page(&i)
            .unwrap_err()
            .to_string()
            .contains("at most 255"));
    }

    #[test]
    fn addresses_above_4g_use_the_ext_fields() {
        let mut i = input(debian_header());
        i.cmdline_addr = 0x1_2345_6000;
        i.initrd = Some((0x2_0000_1000, 0x1_0000_0002));
        let p = build_zero_page(&i).unwrap();
        assert_eq!(u32_at(&p, off::CMD_LINE_PTR), 0x2345_6000);
        assert_eq!(u32_at(&p, off::EXT_CMD_LINE_PTR), 1);
        assert_eq!(u32_at(&p, off::RAMDISK_IMAGE), 0x1000);
        assert_eq!(u32_at(&p, off::EXT_RAMDISK_IMAGE), 2);
        assert_eq!(u32_at(&p, off::RAMDISK_SIZE), 2);
        assert_eq!(u32_at(&p, off::EXT_RAMDISK_SIZE), 1);
        let v = parse_zero_page(&p).unwrap();
        assert_eq!(v.cmd_line_ptr, 0x1_2345_6000);
        assert_eq!(v.ramdisk, Some((0x2_0000_1000, 0x1_0000_0002)));
        // Below 4 GiB the high halves are zero.
        let mut i = input(debian_header());
        i.cmdline_addr = 0x3ffd2000;
        i.initrd = Some((0x3e7b4000, 0x1822ff0));
        let p = build_zero_page(&i).unwrap();
        assert_eq!(&p[0xc0..0xcc], &[0; 12]);
    }

    #[test]
    fn without_above_4g_the_initrd_stays_below_initrd_addr_max() {
        let hdr = header_of(BzImageBuilder::new().xloadflags(xlf::KERNEL_64));
        let mut i = input(hdr);
        i.cmdline_addr = 0x10_0000;
        i.initrd = Some((0x7f00_0000, 0x100_0000)); // ends exactly at 0x80000000
        assert!(build_zero_page(&i).is_ok());
        i.initrd = Some((0x7f00_0000, 0x100_0001));
        let e = build_zero_page(&i).unwrap_err();
        assert!(e.to_string().contains("below 0x80000000"), "{e}");
        i.initrd = Some((0x7f00_0000, 0x10));
        i.cmdline_addr = 0x1_0000_0000;
        let e = build_zero_page(&i).unwrap_err();
        assert!(e.to_string().contains("XLF_CAN_BE_LOADED_ABOVE_4G"), "{e}");
        i.cmdline_addr = u64::MAX - 4;
        assert!(matches!(build_zero_page(&i), Err(Error::Overflow { .. })));
    }

    #[test]
    fn bad_headers_are_refused() {
        let good = debian_header();
        let e = build_zero_page(&input(good[..0x30].to_vec())).unwrap_err();
        assert!(matches!(e, Error::Truncated { .. }), "{e}");
        let mut long = good.clone();
        long.resize(0x290 - 0x1f1 + 1, 0);
        assert!(build_zero_page(&input(long))
            .unwrap_err()
            .to_string()
            .contains("0x290"));
        let mut no_magic = good.clone();
        no_magic[0x202 - 0x1f1] = b'X';
        assert!(build_zero_page(&input(no_magic))
            .unwrap_err()
            .to_string()
            .contains("HdrS"));
        let mut old = good.clone();
        old[0x206 - 0x1f1] = 0x0b;
        assert!(matches!(
            build_zero_page(&input(old)),
            Err(Error::OldBootProtocol {
                major: 2,
                minor: 11
            })
        ));
    }

    #[test]
    fn more_than_128_e820_entries_go_to_setup_e820_ext() {
        let all: Vec<E820Entry> = (0..200u64)
            .map(|n| E820Entry::new(n << 21, 1 << 20, if n % 2 == 0 { 1 } else { 2 }))
            .collect();
        let mut i = input(debian_header());
        i.e820 = all.clone();
        let e = build_zero_page(&i).unwrap_err();
        assert!(e.to_string().contains("200 entries"), "{e}");

        let (first, rest) = split_e820(&all);
        assert_eq!((first.len(), rest.len()), (128, 72));
        let base = 0x1_0000_1000;
        let (chain, head) = SetupDataChain::build(base, vec![e820_ext_node(&rest)]).unwrap();
        i.e820 = first.clone();
        i.setup_data = head;
        let page = build_zero_page(&i).unwrap();
        let v = parse_zero_page(&page).unwrap();
        assert_eq!(page[off::E820_ENTRIES as usize], 128);
        assert_eq!(v.e820, first);
        assert_eq!(v.setup_data, base);
        let nodes = parse_chain(&chain, base, v.setup_data).unwrap();
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].kind, SETUP_E820_EXT);
        assert_eq!(nodes[0].data.len(), 72 * 20);
        let mut back = v.e820.clone();
        back.extend(decode_entries(&nodes[0].data).unwrap());
        assert_eq!(back, all);
        assert_eq!(split_e820(&all[..5]), (all[..5].to_vec(), Vec::new()));
    }

    #[test]
    fn acpi_rsdp_and_efi_info_land_at_their_offsets() {
        let mut i = input(debian_header());
        i.acpi_rsdp = Some(0xbfb7e014);
        i.efi = Some(EfiInfo {
            loader_signature: *b"EL64",
            systab: 0x1_bfbe_e018,
            memdesc_size: 48,
            memdesc_version: 1,
            memmap: 0x2_1000_0000,
            memmap_size: 7 * 48,
        });
        i.setup_data = 0x13fff3000;
        let p = build_zero_page(&i).unwrap();
        assert_eq!(&p[0x70..0x78], &0xbfb7e014u64.to_le_bytes());
        assert_eq!(&p[0x1c0..0x1c4], b"EL64");
        assert_eq!(u32_at(&p, 0x1c4), 0xbfbe_e018);
        assert_eq!(u32_at(&p, 0x1c8), 48);
        assert_eq!(u32_at(&p, 0x1cc), 1);
        assert_eq!(u32_at(&p, 0x1d0), 0x1000_0000);
        assert_eq!(u32_at(&p, 0x1d4), 7 * 48);
        assert_eq!(u32_at(&p, 0x1d8), 1);
        assert_eq!(u32_at(&p, 0x1dc), 2);
        assert_eq!(&p[0x250..0x258], &0x13fff3000u64.to_le_bytes());
        let v = parse_zero_page(&p).unwrap();
        assert_eq!(v.efi, i.efi);
        assert_eq!(v.acpi_rsdp_addr, 0xbfb7e014);
    }

    #[test]
    fn parse_refuses_short_pages_and_impossible_counts() {
        assert!(matches!(
            parse_zero_page(&[0u8; 4095]),
            Err(Error::Truncated { .. })
        ));
        let mut p = vec![0u8; 4096];
        p[off::E820_ENTRIES as usize] = 129;
        let e = parse_zero_page(&p).unwrap_err();
        assert!(e.to_string().contains("129"), "{e}");
        let v = parse_zero_page(&[0u8; 4096]).unwrap();
        assert_eq!((v.ramdisk, v.efi, v.e820.len()), (None, None, 0));
    }

    /// The zero page warmboot would build for the BIOS fixture machine, with kexec-tools'
    /// addresses near its reference plan (reference/x86_64-bios-m1024/kexec-d-load-c.txt:
    /// real_mode_data at 0x3ffd1000, initrd at 0x3a7dd000; the command line one page above
    /// the zero page) and the real Debian 6.1 header values
    /// (bzimage-header-6.1.txt, which BzImageBuilder's defaults follow).
    #[test]
    fn zero_page_snapshot_bios() {
        let fw = machine("x86_64-bios-m1024").firmware_memmap().unwrap();
        let i = ZeroPageInput {
            setup_header: debian_header(),
            cmdline_addr: 0x3ffd2000,
            cmdline_len: "console=ttyS0 labhop=1".len() as u64,
            initrd: Some((0x3a7dd000, 0x1822ff0)),
            e820: normal_e820(&fw).unwrap(),
            acpi_rsdp: None,
            efi: None,
            setup_data: 0,
        };
        let page = build_zero_page(&i).unwrap();
        insta::assert_snapshot!(
            "zero_page_x86_64-bios-m1024",
            render_zero_page(&page).unwrap()
        );
    }

    /// The OVMF machine: the fixture tree has the runtime map and systab but no
    /// /sys/kernel/boot_params/data, so the running efi_info (system table address,
    /// descriptor size and version) and fw_vendor/runtime/config_table are explicit
    /// test values here.
    #[test]
    fn zero_page_snapshot_ovmf() {
        let host = machine("x86_64-ovmf-m4096");
        let fw = host.firmware_memmap().unwrap();
        let systab = host.efi_systab().unwrap().unwrap();
        let running = EfiInfo {
            loader_signature: *b"EL64",
            systab: 0xbfbee018,
            memdesc_size: 48,
            memdesc_version: 1,
            memmap: 0xbe2f2018,
            memmap_size: 0x1b90,
        };
        let efi = EfiFirmware::from_parts(
            &running,
            0xbfbee000,
            0xbfbeb000,
            0xbfbe9000,
            &systab,
            host.efi_runtime_map().unwrap(),
        )
        .unwrap()
        .unwrap();
        let memmap_addr = 0x13fff4000;
        let i = ZeroPageInput {
            setup_header: debian_header(),
            cmdline_addr: 0x13fff2000,
            cmdline_len: "console=ttyS0 labhop=1".len() as u64,
            initrd: Some((0x13a7dd000, 0x1822ff0)),
            e820: normal_e820(&fw).unwrap(),
            acpi_rsdp: crate::x86::efi::acpi_rsdp_from_systab(&systab),
            efi: Some(efi.efi_info(memmap_addr).unwrap()),
            setup_data: 0x13fff3000,
        };
        let page = build_zero_page(&i).unwrap();
        let v = parse_zero_page(&page).unwrap();
        assert_eq!(v.efi.unwrap().memmap_size, 7 * 48);
        assert_eq!(v.acpi_rsdp_addr, 0xbfb7e014);
        insta::assert_snapshot!("zero_page_x86_64-ovmf-m4096", v.render());
    }

    proptest! {
        #[test]
        fn e820_round_trips_through_the_zero_page(
            entries in proptest::collection::vec((any::<u64>(), any::<u64>(), any::<u32>()), 0..=128),
            cmdline_addr in 0u64..(1 << 40),
            initrd in proptest::option::of((0u64..(1 << 40), 0u64..(1 << 36))),
        ) {
            let e820: Vec<E820Entry> = entries.iter().map(|&(a, s, k)| E820Entry::new(a, s, k)).collect();
            let i = ZeroPageInput {
                setup_header: debian_header(),
                cmdline_addr,
                cmdline_len: 100,
                initrd,
                e820: e820.clone(),
                acpi_rsdp: None,
                efi: None,
                setup_data: 0,
            };
            let page = build_zero_page(&i).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(page.len(), 4096);
            let v = parse_zero_page(&page).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(v.e820, e820);
            prop_assert_eq!(v.cmd_line_ptr, cmdline_addr);
            prop_assert_eq!(v.ramdisk, initrd.filter(|&r| r != (0, 0)));
        }

        #[test]
        fn arbitrary_headers_and_pages_never_panic(
            header in proptest::collection::vec(any::<u8>(), 0..200),
            page in proptest::collection::vec(any::<u8>(), 4090..4100),
            cmdline_addr in any::<u64>(),
            cmdline_len in any::<u64>(),
            initrd in proptest::option::of((any::<u64>(), any::<u64>())),
        ) {
            let mut i = input(header);
            i.cmdline_addr = cmdline_addr;
            i.cmdline_len = cmdline_len;
            i.initrd = initrd;
            let _ = build_zero_page(&i);
            let _ = parse_zero_page(&page).map(|v| v.render());
        }
    }
}
