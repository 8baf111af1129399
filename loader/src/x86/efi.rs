//! What a normal kexec hands the next kernel on an EFI-booted x86_64 machine so it keeps
//! EFI runtime services (kexec-facts §3, §4).
//!
//! EFI runtime regions stay mapped at the virtual addresses the first kernel chose with
//! SetVirtualAddressMap, which firmware allows only once. So the next kernel must not call
//! it again: it needs (1) `efi_info` in the zero page (0x1c0, `struct efi_info`,
//! arch/x86/include/uapi/asm/bootparam.h) with the system table and a memory map of just
//! the runtime regions and their virtual addresses (`/sys/firmware/efi/runtime-map`,
//! Documentation/ABI/testing/sysfs-firmware-efi-runtime-map), and (2) a SETUP_EFI
//! setup_data node (`struct efi_setup_data`, arch/x86/include/asm/setup_data.h) with the
//! physical fw_vendor, config table and SMBIOS addresses, which it cannot read from the
//! already-virtualized system table. The kernel's own kexec_file loader
//! (arch/x86/kernel/kexec-bzimage64.c setup_efi_state) and kexec-tools
//! (kexec/arch/i386/x86-linux-setup.c setup_efi_info) do the same.
//!
//! The system table address, descriptor size and version exist only in the running
//! kernel's own zero page, `/sys/kernel/boot_params/data` (arch/x86/kernel/ksysfs.c).
//! Without it, [`EfiFirmware::from_host`] returns None: the next kernel then boots
//! without EFI runtime services (it still finds ACPI through acpi_rsdp_addr), which is
//! what kexec-tools does when it cannot read the running zero page.

use crate::error::{Error, Result};
use crate::fields;
use crate::host::{EfiRuntimeEntry, HostRoot};

/// Offset of `efi_info` in the zero page.
pub const EFI_INFO_OFFSET: u64 = 0x1c0;
/// Size of `struct efi_info`.
pub const EFI_INFO_SIZE: usize = 32;
/// Offset of `acpi_rsdp_addr` (u64) in the zero page.
pub const ACPI_RSDP_OFFSET: u64 = 0x70;
/// `efi_loader_signature` of a 64-bit EFI boot (arch/x86/include/asm/efi.h EFI64_LOADER_SIGNATURE).
pub const EFI64_LOADER_SIGNATURE: [u8; 4] = *b"EL64";
/// sizeof(efi_memory_desc_t): u32 type, u32 pad, u64 phys_addr, u64 virt_addr,
/// u64 num_pages, u64 attribute (include/linux/efi.h). Firmware may use larger descriptors.
pub const EFI_MEMORY_DESC_MIN: u32 = 40;
/// `sizeof(struct efi_setup_data)`: fw_vendor, __unused, tables, smbios, `reserved[8]`.
pub const EFI_SETUP_DATA_SIZE: usize = 96;

/// `struct efi_info` (zero page 0x1c0), with the split 64-bit addresses joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EfiInfo {
    pub loader_signature: [u8; 4],
    /// efi_systab | efi_systab_hi << 32: physical address of the EFI system table.
    pub systab: u64,
    pub memdesc_size: u32,
    pub memdesc_version: u32,
    /// efi_memmap | efi_memmap_hi << 32: physical address of the memory map.
    pub memmap: u64,
    pub memmap_size: u32,
}

impl EfiInfo {
    /// The 32 bytes at zero page 0x1c0: signature, systab, memdesc_size, memdesc_version,
    /// memmap, memmap_size, systab_hi, memmap_hi.
    pub fn to_bytes(&self) -> [u8; EFI_INFO_SIZE] {
        let (systab_lo, systab_hi) = fields::split_u64(self.systab);
        let (memmap_lo, memmap_hi) = fields::split_u64(self.memmap);
        let words: [u32; 8] = [
            u32::from_le_bytes(self.loader_signature),
            systab_lo,
            self.memdesc_size,
            self.memdesc_version,
            memmap_lo,
            self.memmap_size,
            systab_hi,
            memmap_hi,
        ];
        let mut out = [0u8; EFI_INFO_SIZE];
        for (chunk, w) in out.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// Parses the 32 bytes of `struct efi_info` at the start of `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<EfiInfo> {
        // The u32 at byte offset `off`.
        let w = |off: u64| fields::le_u32(bytes, off, "efi_info");
        Ok(EfiInfo {
            loader_signature: fields::array(bytes, 0, "efi_info")?,
            systab: u64::from(w(4)?) | u64::from(w(24)?) << 32,
            memdesc_size: w(8)?,
            memdesc_version: w(12)?,
            memmap: u64::from(w(16)?) | u64::from(w(28)?) << 32,
            memmap_size: w(20)?,
        })
    }

    /// Whether the fields are all zero (a BIOS boot).
    pub fn is_empty(&self) -> bool {
        *self == EfiInfo::default()
    }
}

/// What this module needs from the running kernel's zero page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunningBootParams {
    pub efi_info: EfiInfo,
    /// acpi_rsdp_addr (0 when the boot loader did not set it).
    pub acpi_rsdp_addr: u64,
}

/// Parses `/sys/kernel/boot_params/data` (4096 bytes; shorter data is a truncation error).
pub fn parse_running_boot_params(data: &[u8]) -> Result<RunningBootParams> {
    Ok(RunningBootParams {
        efi_info: EfiInfo::parse(fields::slice(
            data,
            EFI_INFO_OFFSET,
            EFI_INFO_SIZE as u64,
            "boot_params efi_info",
        )?)?,
        acpi_rsdp_addr: fields::le_u64(data, ACPI_RSDP_OFFSET, "boot_params acpi_rsdp_addr")?,
    })
}

/// Encodes the runtime map as `efi_memory_desc_t` records of `desc_size` bytes each (the
/// running kernel's descriptor size; the tail of each record past the 40 defined bytes is
/// zero). The next kernel walks the map in steps of efi_memdesc_size.
pub fn runtime_memmap(entries: &[EfiRuntimeEntry], desc_size: u32) -> Result<Vec<u8>> {
    if desc_size < EFI_MEMORY_DESC_MIN || !desc_size.is_multiple_of(8) || desc_size > 4096 {
        return Err(Error::invalid(
            "EFI memory descriptor size",
            format!(
                "{desc_size} bytes (must be a multiple of 8 between {EFI_MEMORY_DESC_MIN} and 4096)"
            ),
        ));
    }
    let desc_len = desc_size as usize;
    let mut out =
        Vec::with_capacity(entries.len().checked_mul(desc_len).ok_or(Error::Overflow {
            what: "EFI runtime memory map",
        })?);
    for e in entries {
        let start = out.len();
        out.extend_from_slice(&e.kind.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&e.phys_addr.to_le_bytes());
        out.extend_from_slice(&e.virt_addr.to_le_bytes());
        out.extend_from_slice(&e.num_pages.to_le_bytes());
        out.extend_from_slice(&e.attribute.to_le_bytes());
        out.resize(
            start.checked_add(desc_len).ok_or(Error::Overflow {
                what: "EFI runtime memory map",
            })?,
            0,
        );
    }
    Ok(out)
}

/// `struct efi_setup_data`, the data of the SETUP_EFI node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EfiSetupData {
    /// Physical address of the firmware vendor string (`/sys/firmware/efi/fw_vendor`).
    pub fw_vendor: u64,
    /// The runtime services table (`/sys/firmware/efi/runtime`). Current kernels call this
    /// field `__unused`; kexec-tools writes the runtime address there for older kernels,
    /// and warmboot does too (it is ignored otherwise).
    pub runtime: u64,
    /// Physical address of the configuration table (`/sys/firmware/efi/config_table`).
    pub tables: u64,
    /// The SMBIOS entry point (systab `SMBIOS=`, else `SMBIOS3=`).
    pub smbios: u64,
}

impl EfiSetupData {
    /// The 96 bytes of `struct efi_setup_data` (`reserved[8]` zero).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(EFI_SETUP_DATA_SIZE);
        for v in [self.fw_vendor, self.runtime, self.tables, self.smbios] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.resize(EFI_SETUP_DATA_SIZE, 0);
        out
    }
}

/// The SMBIOS address from `/sys/firmware/efi/systab` pairs: the 32-bit "SMBIOS" entry
/// point first (what the kernel records as efi.smbios and hands on in kexec_file), else
/// "SMBIOS3"; 0 when neither is listed.
pub fn smbios_from_systab(systab: &[(String, u64)]) -> u64 {
    let find = |k: &str| systab.iter().find(|(key, _)| key == k).map(|(_, v)| *v);
    find("SMBIOS").or_else(|| find("SMBIOS3")).unwrap_or(0)
}

/// The ACPI RSDP from systab pairs: "ACPI20" first, then "ACPI" (kexec-tools' order).
pub fn acpi_rsdp_from_systab(systab: &[(String, u64)]) -> Option<u64> {
    let find = |k: &str| systab.iter().find(|(key, _)| key == k).map(|(_, v)| *v);
    find("ACPI20").or_else(|| find("ACPI")).filter(|&a| a != 0)
}

/// The acpi_rsdp_addr for the next kernel: the running kernel's own value when set, else
/// the EFI systab's ACPI20/ACPI entry (what kexec-tools falls back to), else None (a BIOS
/// kernel finds the RSDP by scanning the EBDA and BIOS area itself). Passing it matters
/// when the next kernel gets no efi_info (see [`EfiFirmware::from_host`]).
pub fn acpi_rsdp(running: Option<&RunningBootParams>, systab: &[(String, u64)]) -> Option<u64> {
    running
        .map(|r| r.acpi_rsdp_addr)
        .filter(|&a| a != 0)
        .or_else(|| acpi_rsdp_from_systab(systab))
}

/// Everything about the running EFI firmware the next kernel needs, gathered from sysfs.
///
/// Always hand over both parts together: efi_info (with [`EfiFirmware::efi_info`] and the
/// loaded [`EfiFirmware::memmap_bytes`]) *and* the SETUP_EFI node
/// ([`EfiFirmware::setup_node`]). The SETUP_EFI node is how the next kernel knows it was
/// kexec'd (arch/x86/platform/efi/quirks.c efi_setup); with efi_info alone it would call
/// SetVirtualAddressMap a second time, which firmware refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EfiFirmware {
    /// Physical address of the EFI system table (running efi_info).
    pub systab: u64,
    /// Descriptor size and version the running kernel got from the firmware (efi_info).
    pub memdesc_size: u32,
    pub memdesc_version: u32,
    pub setup: EfiSetupData,
    /// The runtime regions, in runtime-map order.
    pub runtime_map: Vec<EfiRuntimeEntry>,
}

impl EfiFirmware {
    /// A stable text view for review and snapshots: the addresses, then one line per
    /// runtime region (type, physical and virtual address, pages, attribute).
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut o = String::new();
        let _ = writeln!(o, "systab:          {:#x}", self.systab);
        let _ = writeln!(
            o,
            "memdesc:         size {} version {}",
            self.memdesc_size, self.memdesc_version
        );
        let _ = writeln!(o, "fw_vendor:       {:#x}", self.setup.fw_vendor);
        let _ = writeln!(o, "runtime:         {:#x}", self.setup.runtime);
        let _ = writeln!(o, "config_table:    {:#x}", self.setup.tables);
        let _ = writeln!(o, "smbios:          {:#x}", self.setup.smbios);
        let _ = writeln!(o, "runtime regions: {}", self.runtime_map.len());
        for e in &self.runtime_map {
            let _ = writeln!(
                o,
                "  type {:>2} phys {:#014x} virt {:#018x} pages {:#8x} attr {:#018x}",
                e.kind, e.phys_addr, e.virt_addr, e.num_pages, e.attribute
            );
        }
        o
    }

    /// The (type, data) of the SETUP_EFI node for [`crate::x86::setup_data::SetupDataChain`].
    pub fn setup_node(&self) -> (u32, Vec<u8>) {
        (crate::x86::setup_data::SETUP_EFI, self.setup.to_bytes())
    }

    /// The runtime memory map for the next kernel (see [`runtime_memmap`]).
    pub fn memmap_bytes(&self) -> Result<Vec<u8>> {
        runtime_memmap(&self.runtime_map, self.memdesc_size)
    }

    /// The zero page's efi_info, once the memory map's load address is known.
    pub fn efi_info(&self, memmap_addr: u64) -> Result<EfiInfo> {
        let size = (self.runtime_map.len() as u64)
            .checked_mul(u64::from(self.memdesc_size))
            .and_then(|s| u32::try_from(s).ok())
            .ok_or(Error::Overflow {
                what: "EFI memory map size",
            })?;
        Ok(EfiInfo {
            loader_signature: EFI64_LOADER_SIGNATURE,
            systab: self.systab,
            memdesc_size: self.memdesc_size,
            memdesc_version: self.memdesc_version,
            memmap: memmap_addr,
            memmap_size: size,
        })
    }

    /// Combines the running kernel's efi_info with the sysfs values. None when the running
    /// kernel was not booted through 64-bit EFI ("EL64"), has no runtime services
    /// (efi_memmap_size 0, e.g. `efi=noruntime`) or exports no runtime map.
    pub fn from_parts(
        running: &EfiInfo,
        fw_vendor: u64,
        runtime: u64,
        config_table: u64,
        systab: &[(String, u64)],
        runtime_map: Vec<EfiRuntimeEntry>,
    ) -> Result<Option<EfiFirmware>> {
        if running.loader_signature != EFI64_LOADER_SIGNATURE
            || running.memmap_size == 0
            || runtime_map.is_empty()
        {
            return Ok(None);
        }
        if running.memdesc_size < EFI_MEMORY_DESC_MIN {
            return Err(Error::invalid(
                "running kernel's efi_info",
                format!(
                    "efi_memdesc_size {} is below sizeof(efi_memory_desc_t) = {EFI_MEMORY_DESC_MIN}",
                    running.memdesc_size
                ),
            ));
        }
        Ok(Some(EfiFirmware {
            systab: running.systab,
            memdesc_size: running.memdesc_size,
            memdesc_version: running.memdesc_version,
            setup: EfiSetupData {
                fw_vendor,
                runtime,
                tables: config_table,
                smbios: smbios_from_systab(systab),
            },
            runtime_map,
        }))
    }

    /// Reads the running machine (I/O through [`HostRoot`]). None when the machine did not
    /// boot through EFI, or when `/sys/kernel/boot_params/data` or one of
    /// `/sys/firmware/efi/{fw_vendor,runtime,config_table,systab}` is missing: without the
    /// system table address the next kernel cannot keep EFI runtime services, so it is
    /// booted as on a BIOS machine (ACPI still reaches it through acpi_rsdp_addr).
    pub fn from_host(host: &HostRoot) -> Result<Option<EfiFirmware>> {
        if !host.efi_booted() {
            return Ok(None);
        }
        let Some(data) = host.x86_boot_params()? else {
            return Ok(None);
        };
        let running = parse_running_boot_params(&data)
            .map_err(|e| e.in_file(host.path("/sys/kernel/boot_params/data")))?;
        let (Some(fw_vendor), Some(runtime), Some(config_table), Some(systab)) = (
            host.efi_fw_vendor()?,
            host.efi_runtime()?,
            host.efi_config_table()?,
            host.efi_systab()?,
        ) else {
            return Ok(None);
        };
        EfiFirmware::from_parts(
            &running.efi_info,
            fw_vendor,
            runtime,
            config_table,
            &systab,
            host.efi_runtime_map()?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn ovmf() -> HostRoot {
        HostRoot::new(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/machines/x86_64-ovmf-m4096"),
        )
    }

    fn running() -> EfiInfo {
        EfiInfo {
            loader_signature: EFI64_LOADER_SIGNATURE,
            systab: 0xbfbee018,
            memdesc_size: 48,
            memdesc_version: 1,
            memmap: 0xbe2f2018,
            memmap_size: 0x1b90,
        }
    }

    #[test]
    fn efi_info_layout_splits_high_halves() {
        let e = EfiInfo {
            loader_signature: *b"EL64",
            systab: 0x1_2345_6789,
            memdesc_size: 48,
            memdesc_version: 1,
            memmap: 0xab_cdef_0123,
            memmap_size: 0x150,
        };
        let b = e.to_bytes();
        let w = |i: usize| u32::from_le_bytes(b[i * 4..i * 4 + 4].try_into().unwrap());
        assert_eq!(&b[0..4], b"EL64");
        assert_eq!(
            [w(1), w(2), w(3), w(4), w(5), w(6), w(7)],
            [0x2345_6789, 48, 1, 0xcdef_0123, 0x150, 1, 0xab]
        );
        assert_eq!(EfiInfo::parse(&b).unwrap(), e);
        assert!(EfiInfo::parse(&b[..31]).is_err());
        assert!(EfiInfo::default().is_empty() && !e.is_empty());
    }

    #[test]
    fn running_boot_params_give_efi_info_and_rsdp() {
        let mut page = vec![0u8; 4096];
        page[0x1c0..0x1e0].copy_from_slice(&running().to_bytes());
        page[0x70..0x78].copy_from_slice(&0xbfb7e014u64.to_le_bytes());
        let r = parse_running_boot_params(&page).unwrap();
        assert_eq!(r.efi_info, running());
        assert_eq!(r.acpi_rsdp_addr, 0xbfb7e014);
        assert!(parse_running_boot_params(&page[..0x1d0]).is_err());
    }

    #[test]
    fn runtime_map_becomes_padded_descriptors() {
        let map = ovmf().efi_runtime_map().unwrap();
        assert_eq!(map.len(), 7);
        let bytes = runtime_memmap(&map, 48).unwrap();
        assert_eq!(bytes.len(), 7 * 48);
        for (d, e) in bytes.chunks_exact(48).zip(&map) {
            let u64_at = |o: usize| u64::from_le_bytes(d[o..o + 8].try_into().unwrap());
            assert_eq!(u32::from_le_bytes(d[0..4].try_into().unwrap()), e.kind);
            assert_eq!(&d[4..8], &[0; 4]);
            assert_eq!(
                [u64_at(8), u64_at(16), u64_at(24), u64_at(32)],
                [e.phys_addr, e.virt_addr, e.num_pages, e.attribute]
            );
            assert_eq!(&d[40..48], &[0; 8]);
        }
        assert_eq!(runtime_memmap(&map, 40).unwrap().len(), 7 * 40);
        for bad in [0, 32, 44, 8192] {
            let e = runtime_memmap(&map, bad).unwrap_err();
            assert!(e.to_string().contains("descriptor size"), "{e}");
        }
    }

    #[test]
    fn setup_data_fields_in_order() {
        let s = EfiSetupData {
            fw_vendor: 1,
            runtime: 2,
            tables: 3,
            smbios: 4,
        };
        let b = s.to_bytes();
        assert_eq!(b.len(), 96);
        for (i, v) in [1u64, 2, 3, 4].into_iter().enumerate() {
            assert_eq!(&b[i * 8..i * 8 + 8], &v.to_le_bytes());
        }
        assert!(b[32..].iter().all(|&x| x == 0));
    }

    #[test]
    fn systab_lookups_prefer_smbios_and_acpi20() {
        let systab = ovmf().efi_systab().unwrap().unwrap();
        assert_eq!(smbios_from_systab(&systab), 0xbf918000);
        assert_eq!(acpi_rsdp_from_systab(&systab), Some(0xbfb7e014));
        let only3 = vec![("SMBIOS3".to_string(), 0x5000)];
        assert_eq!(smbios_from_systab(&only3), 0x5000);
        assert_eq!(smbios_from_systab(&[]), 0);
        assert_eq!(
            acpi_rsdp_from_systab(&[("ACPI".into(), 0x9000)]),
            Some(0x9000)
        );
        assert_eq!(acpi_rsdp_from_systab(&[]), None);
        let r = RunningBootParams {
            efi_info: running(),
            acpi_rsdp_addr: 0xf5a10,
        };
        assert_eq!(acpi_rsdp(Some(&r), &systab), Some(0xf5a10));
        let zero = RunningBootParams {
            acpi_rsdp_addr: 0,
            ..r
        };
        assert_eq!(acpi_rsdp(Some(&zero), &systab), Some(0xbfb7e014));
        assert_eq!(acpi_rsdp(None, &systab), Some(0xbfb7e014));
        assert_eq!(acpi_rsdp(None, &[]), None);
    }

    #[test]
    fn from_parts_hands_over_only_real_64_bit_runtime_services() {
        let map = ovmf().efi_runtime_map().unwrap();
        let systab = ovmf().efi_systab().unwrap().unwrap();
        let f = EfiFirmware::from_parts(&running(), 0xa, 0xb, 0xc, &systab, map.clone())
            .unwrap()
            .unwrap();
        let info = f.efi_info(0x1_0000_2000).unwrap();
        assert_eq!(info.loader_signature, *b"EL64");
        assert_eq!(info.systab, 0xbfbee018);
        assert_eq!(info.memmap, 0x1_0000_2000);
        assert_eq!(info.memmap_size as usize, f.memmap_bytes().unwrap().len());
        assert_eq!(
            f.setup,
            EfiSetupData {
                fw_vendor: 0xa,
                runtime: 0xb,
                tables: 0xc,
                smbios: 0xbf918000
            }
        );
        insta::assert_snapshot!("efi_x86_64-ovmf-m4096", f.render());
        let (kind, data) = f.setup_node();
        assert_eq!(kind, 4);
        assert_eq!(data, f.setup.to_bytes());

        let mut el32 = running();
        el32.loader_signature = *b"EL32";
        let mut noruntime = running();
        noruntime.memmap_size = 0;
        for r in [el32, noruntime, EfiInfo::default()] {
            assert_eq!(
                EfiFirmware::from_parts(&r, 1, 2, 3, &systab, map.clone()).unwrap(),
                None
            );
        }
        assert_eq!(
            EfiFirmware::from_parts(&running(), 1, 2, 3, &systab, Vec::new()).unwrap(),
            None
        );
        let mut tiny = running();
        tiny.memdesc_size = 24;
        assert!(EfiFirmware::from_parts(&tiny, 1, 2, 3, &systab, map).is_err());
    }

    fn write(root: &Path, rel: &str, data: &[u8]) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }

    #[test]
    fn from_host_needs_the_running_zero_page() {
        // The fixture tree has no /sys/kernel/boot_params/data: no EFI hand-over.
        assert_eq!(EfiFirmware::from_host(&ovmf()).unwrap(), None);
        // A BIOS machine has no /sys/firmware/efi.
        let bios = HostRoot::new(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/machines/x86_64-bios-m1024"),
        );
        assert_eq!(EfiFirmware::from_host(&bios).unwrap(), None);

        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut page = vec![0u8; 4096];
        page[0x1c0..0x1e0].copy_from_slice(&running().to_bytes());
        write(root, "sys/kernel/boot_params/data", &page);
        write(root, "sys/firmware/efi/fw_vendor", b"0xbfbee000\n");
        write(root, "sys/firmware/efi/runtime", b"0xbfbeb000\n");
        write(root, "sys/firmware/efi/config_table", b"0xbfbe9000\n");
        write(
            root,
            "sys/firmware/efi/systab",
            b"ACPI20=0xbfb7e014\nSMBIOS=0xbf918000\n",
        );
        for (name, v) in [
            ("type", "0x5"),
            ("phys_addr", "0xbf8ed000"),
            ("virt_addr", "0xfffffffeffbff000"),
            ("num_pages", "0x10"),
            ("attribute", "0x800000000000000f"),
        ] {
            write(
                root,
                &format!("sys/firmware/efi/runtime-map/0/{name}"),
                v.as_bytes(),
            );
        }
        let host = HostRoot::new(root);
        let f = EfiFirmware::from_host(&host).unwrap().unwrap();
        assert_eq!(f.systab, 0xbfbee018);
        assert_eq!(f.setup.fw_vendor, 0xbfbee000);
        assert_eq!(f.setup.runtime, 0xbfbeb000);
        assert_eq!(f.setup.tables, 0xbfbe9000);
        assert_eq!(f.runtime_map.len(), 1);
        assert_eq!(f.runtime_map[0].virt_addr, 0xfffffffeffbff000);

        // A truncated boot_params file is an error naming it, not a silent BIOS boot.
        write(root, "sys/kernel/boot_params/data", &page[..0x100]);
        let e = EfiFirmware::from_host(&host).unwrap_err();
        assert!(e.to_string().contains("boot_params/data"), "{e}");
        write(root, "sys/kernel/boot_params/data", &page);
        write(root, "sys/firmware/efi/runtime", b"nonsense\n");
        let e = EfiFirmware::from_host(&host).unwrap_err();
        assert!(e.to_string().contains("efi/runtime"), "{e}");
    }
}
