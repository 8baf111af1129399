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
    /// The bzImage's setup header: file bytes 0x1f1 .. 0x202 + byte[0x201].
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

/// Splits an e820 table into the zero page's 128 entries and the rest, which belongs in a
/// SETUP_E820_EXT node ([`e820_ext_node`]); the kernel appends those to the table
/// (arch/x86/kernel/e820.c e820__memory_setup_extended).
pub fn split_e820(entries: &[E820Entry]) -> (Vec<E820Entry>, Vec<E820Entry>) {
    let n = entries.len().min(E820_MAX_ENTRIES_ZEROPAGE);
    (entries[..n].to_vec(), entries[n..].to_vec())
}

/// The (type, data) of a SETUP_E820_EXT node for [`crate::x86::setup_data::SetupDataChain`].
pub fn e820_ext_node(rest: &[E820Entry]) -> (u32, Vec<u8>) {
    (crate::x86::setup_data::SETUP_E820_EXT, encode_entries(rest))
}

fn put(page: &mut [u8], off: u64, bytes: &[u8]) {
    // Offsets are this module's constants, all inside the 4096-byte page.
    let o = off as usize;
    page[o..o + bytes.len()].copy_from_slice(bytes);
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
    let hdr_end = SETUP_HEADER_OFFSET + hdr.len() as u64;
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
    put(&mut page, SETUP_HEADER_OFFSET, hdr);
    if fields::le_u32(&page, off::HEADER, "setup header magic")? != HDRS {
        return Err(Error::invalid(
            "x86 setup header",
            "no \"HdrS\" magic at 0x202",
        ));
    }
    let version = fields::le_u16(&page, off::VERSION, "boot protocol version")?;
    if version < MIN_PROTOCOL {
        return Err(Error::OldBootProtocol {
            major: (version >> 8) as u8,
            minor: version as u8,
        });
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
        let limit = u64::from(initrd_addr_max) + 1;
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

    page[off::TYPE_OF_LOADER as usize] = LOADER_TYPE_KEXEC;
    page[off::LOADFLAGS as usize] &= loadflags::LOADED_HIGH;
    put(&mut page, off::HEAP_END_PTR, &[0, 0]);
    page[off::EXT_LOADER_VER as usize] = 0;
    page[off::EXT_LOADER_TYPE as usize] = 0;
    put(
        &mut page,
        off::CMD_LINE_PTR,
        &(input.cmdline_addr as u32).to_le_bytes(),
    );
    put(
        &mut page,
        off::EXT_CMD_LINE_PTR,
        &((input.cmdline_addr >> 32) as u32).to_le_bytes(),
    );
    put(
        &mut page,
        off::RAMDISK_IMAGE,
        &(rd_addr as u32).to_le_bytes(),
    );
    put(
        &mut page,
        off::EXT_RAMDISK_IMAGE,
        &((rd_addr >> 32) as u32).to_le_bytes(),
    );
    put(
        &mut page,
        off::RAMDISK_SIZE,
        &(rd_size as u32).to_le_bytes(),
    );
    put(
        &mut page,
        off::EXT_RAMDISK_SIZE,
        &((rd_size >> 32) as u32).to_le_bytes(),
    );
    page[off::E820_ENTRIES as usize] = input.e820.len() as u8;
    put(&mut page, off::E820_TABLE, &encode_entries(&input.e820));
    put(
        &mut page,
        ACPI_RSDP_OFFSET,
        &input.acpi_rsdp.unwrap_or(0).to_le_bytes(),
    );
    if let Some(efi) = &input.efi {
        put(&mut page, EFI_INFO_OFFSET, &efi.to_bytes());
    }
    put(&mut page, off::SETUP_DATA, &input.setup_data.to_le_bytes());
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
