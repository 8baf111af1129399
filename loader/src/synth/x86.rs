//! Small, valid x86 bzImages for tests and fuzz seeds.
//!
//! The layout follows a real bzImage (Documentation/arch/x86/boot.rst, arch/x86/boot/header.S)
//! scaled down to a few KiB: a boot sector and `setup_sects` sectors of real-mode setup
//! with the setup header at 0x1f1, the kernel_version string inside the setup code, then
//! the protected-mode code: filler up to startup_64 at +0x200, the compressed payload at
//! `payload_offset` ending in the LE32 decompressed size, and (protocol 2.15) a
//! `kernel_info` block ("LToP"). With an EFI stub, a PE header sits at 0x40 as in the real
//! kernel, with .setup and .text sections; a signature is appended as an Authenticode
//! certificate table, the way sbsign does it.

use crate::compression::Compression;
use crate::image::bzimage::{loadflags, xlf};
use crate::image::pe::MACHINE_X86_64;
use crate::synth::pe::{append_signature, write_headers, SectionSpec};
use std::io::Write;

/// Where the kernel_version string goes, relative to 0x200 (i.e. file offset 0x280).
const VERSION_PTR: u16 = 0x80;
/// Offset of the payload in the protected-mode code (past the startup_64 stub).
const PAYLOAD_OFFSET: u32 = 0x240;
/// Where the PE header of an EFI-stub kernel starts (arch/x86/boot/header.S: pe_header).
const PE_OFFSET: u32 = 0x40;

/// Builder for a synthetic bzImage. Every knob defaults to what a Debian 6.1 kernel has,
/// except the sizes, which are small.
#[derive(Debug, Clone)]
pub struct BzImageBuilder {
    protocol: u16,
    setup_sects: u8,
    compression: Compression,
    uncompressed_size: u32,
    pref_address: u64,
    init_size: u32,
    kernel_alignment: u32,
    loadflags: u8,
    xloadflags: u16,
    cmdline_size: u32,
    version: Option<String>,
    efi_stub: bool,
    signed: bool,
    plain: Option<Vec<u8>>,
}

impl Default for BzImageBuilder {
    fn default() -> Self {
        BzImageBuilder::new()
    }
}

impl BzImageBuilder {
    pub fn new() -> BzImageBuilder {
        BzImageBuilder {
            protocol: 0x020f,
            setup_sects: 1,
            compression: Compression::Xz,
            uncompressed_size: 0x10000,
            pref_address: 0x100_0000,
            init_size: 0x3f9_8000,
            kernel_alignment: 0x20_0000,
            loadflags: loadflags::LOADED_HIGH,
            xloadflags: xlf::KERNEL_64
                | xlf::CAN_BE_LOADED_ABOVE_4G
                | xlf::EFI_HANDOVER_32
                | xlf::EFI_HANDOVER_64
                | xlf::EFI_KEXEC
                | xlf::FIVE_LEVEL
                | xlf::FIVE_LEVEL_ENABLED,
            cmdline_size: 0x7ff,
            version: Some("6.1.0-synth (warmboot@example.org) #1 SMP PREEMPT_DYNAMIC".into()),
            efi_stub: false,
            signed: false,
            plain: None,
        }
    }

    /// Boot protocol version, e.g. 0x020f. Below 2.15 no kernel_info is written and the
    /// header ends at 0x268.
    pub fn protocol(mut self, v: u16) -> Self {
        self.protocol = v;
        self
    }
    /// setup_sects as stored (0 means 4). At least 1 unless 0.
    pub fn setup_sects(mut self, n: u8) -> Self {
        self.setup_sects = n;
        self
    }
    /// Payload compression. Gzip payloads are real gzip streams of `uncompressed_size`
    /// bytes; the others are the method's magic followed by filler (parsers detect
    /// the method by magic only).
    pub fn compression(mut self, c: Compression) -> Self {
        self.compression = c;
        self
    }
    /// The decompressed size appended to the payload (the gzip stream's own ISIZE for gzip).
    pub fn uncompressed_size(mut self, n: u32) -> Self {
        self.uncompressed_size = n;
        self
    }
    pub fn pref_address(mut self, a: u64) -> Self {
        self.pref_address = a;
        self
    }
    pub fn init_size(mut self, n: u32) -> Self {
        self.init_size = n;
        self
    }
    pub fn kernel_alignment(mut self, n: u32) -> Self {
        self.kernel_alignment = n;
        self
    }
    pub fn loadflags(mut self, f: u8) -> Self {
        self.loadflags = f;
        self
    }
    /// xloadflags (default 0x7f, as Debian's 6.1 kernel: KERNEL_64 … 5LEVEL_ENABLED).
    pub fn xloadflags(mut self, f: u16) -> Self {
        self.xloadflags = f;
        self
    }
    pub fn cmdline_size(mut self, n: u32) -> Self {
        self.cmdline_size = n;
        self
    }
    /// The kernel_version string; `None` writes a zero pointer. At most 383 bytes.
    pub fn version(mut self, v: Option<&str>) -> Self {
        self.version = v.map(str::to_string);
        self
    }
    /// Overlay a PE header at 0x40 (machine x86_64, sections .setup and .text).
    pub fn efi_stub(mut self, on: bool) -> Self {
        self.efi_stub = on;
        self
    }
    /// Append an Authenticode certificate table (implies `efi_stub`).
    pub fn signed(mut self, on: bool) -> Self {
        self.signed = on;
        if on {
            self.efi_stub = true;
        }
        self
    }

    /// A gzip payload of exactly these bytes (a vmlinux ELF followed by its relocation
    /// table, as arch/x86/boot/compressed/Makefile builds vmlinux.bin.all); sets the
    /// compression to gzip.
    pub fn payload_plain(mut self, plain: Vec<u8>) -> Self {
        self.compression = Compression::Gzip;
        self.plain = Some(plain);
        self
    }

    /// The compressed payload, ending in the LE32 decompressed size.
    fn payload(&self) -> Vec<u8> {
        if let Some(plain) = &self.plain {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(plain).expect("writing to a Vec cannot fail");
            return enc.finish().expect("writing to a Vec cannot fail");
        }
        if self.compression == Compression::Gzip {
            let plain: Vec<u8> = (0..self.uncompressed_size)
                .map(|i| (i % 251) as u8)
                .collect();
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&plain).expect("writing to a Vec cannot fail");
            return enc.finish().expect("writing to a Vec cannot fail");
        }
        let magic: &[u8] = match self.compression {
            Compression::None => b"\x7fELF\x02\x01\x01",
            Compression::Gzip => unreachable!("handled above"),
            Compression::Bzip2 => b"BZh91AY&SY",
            Compression::Lzma => &[0x5d, 0, 0, 0x80, 0],
            Compression::Xz => &[0xfd, b'7', b'z', b'X', b'Z', 0, 0, 4],
            Compression::Lzo => &[0x89, b'L', b'Z', b'O', 0, 0x0d, 0x0a, 0x1a, 0x0a],
            Compression::Lz4 => &[0x02, 0x21, 0x4c, 0x18],
            Compression::Zstd => &[0x28, 0xb5, 0x2f, 0xfd, 0x24],
        };
        let mut p = magic.to_vec();
        // Filler that looks like compressed data: no long runs, no zero bytes.
        let mut x = 0x2545_f491u32;
        while p.len() < 0x1fc {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            p.push((x as u8) | 1);
        }
        if self.compression != Compression::None {
            p.extend_from_slice(&self.uncompressed_size.to_le_bytes());
        }
        p
    }

    /// Builds the image.
    pub fn build(&self) -> Vec<u8> {
        let sects = if self.setup_sects == 0 {
            4
        } else {
            self.setup_sects
        };
        let setup_size = (usize::from(sects) + 1) * 512;
        let header_end: usize = if self.protocol >= 0x020f {
            0x26c
        } else {
            0x268
        };

        // Protected-mode code: startup_32 filler, startup_64 at 0x200, payload, kernel_info.
        let mut pm = vec![0x90u8; 0x200];
        pm.extend_from_slice(&[0xf4; 0x40]); // startup_64: hlt
        assert_eq!(pm.len(), PAYLOAD_OFFSET as usize);
        let payload = self.payload();
        pm.extend_from_slice(&payload);
        pm.resize(pm.len().next_multiple_of(16), 0);
        let kernel_info_offset = pm.len() as u32;
        if self.protocol >= 0x020f {
            pm.extend_from_slice(b"LToP");
            pm.extend_from_slice(&16u32.to_le_bytes()); // size
            pm.extend_from_slice(&16u32.to_le_bytes()); // size_total
            pm.extend_from_slice(&0x8000_0009u32.to_le_bytes()); // setup_type_max
        }
        let handover_offset: u32 = if self.efi_stub { 0x190 } else { 0 };
        pm.resize(pm.len().next_multiple_of(512), 0);

        let mut buf = vec![0u8; setup_size];
        let mut put = |off: usize, bytes: &[u8]| buf[off..off + bytes.len()].copy_from_slice(bytes);
        put(0x1f1, &[self.setup_sects]);
        put(0x1f2, &1u16.to_le_bytes()); // root_flags
        put(0x1f4, &((pm.len() as u32).div_ceil(16)).to_le_bytes()); // syssize
        put(0x1fe, &0xaa55u16.to_le_bytes());
        put(0x200, &[0xeb, (header_end - 0x202) as u8]); // jmp start_of_setup
        put(0x202, b"HdrS");
        put(0x206, &self.protocol.to_le_bytes());
        if let Some(v) = &self.version {
            let at = 0x200 + usize::from(VERSION_PTR);
            assert!(at + v.len() < setup_size, "version string too long");
            put(0x20e, &VERSION_PTR.to_le_bytes());
            put(at, v.as_bytes());
        }
        put(0x211, &[self.loadflags]);
        put(0x214, &0x10_0000u32.to_le_bytes()); // code32_start
        put(0x22c, &0x7fff_ffffu32.to_le_bytes()); // initrd_addr_max
        put(0x230, &self.kernel_alignment.to_le_bytes());
        put(0x234, &[1, 21]); // relocatable_kernel, min_alignment (PMD_SHIFT)
        put(0x236, &self.xloadflags.to_le_bytes());
        put(0x238, &self.cmdline_size.to_le_bytes());
        put(0x248, &PAYLOAD_OFFSET.to_le_bytes());
        put(0x24c, &(payload.len() as u32).to_le_bytes());
        put(0x258, &self.pref_address.to_le_bytes());
        put(0x260, &self.init_size.to_le_bytes());
        put(0x264, &handover_offset.to_le_bytes());
        if self.protocol >= 0x020f {
            put(0x268, &kernel_info_offset.to_le_bytes());
        }
        buf.extend_from_slice(&pm);

        if self.efi_stub {
            let sections = [
                SectionSpec {
                    name: ".setup".into(),
                    file_offset: 0x200,
                    file_size: (setup_size - 0x200) as u32,
                    virtual_address: 0x200,
                    virtual_size: (setup_size - 0x200) as u32,
                },
                SectionSpec {
                    name: ".text".into(),
                    file_offset: setup_size as u32,
                    file_size: pm.len() as u32,
                    virtual_address: setup_size as u32,
                    virtual_size: pm.len() as u32,
                },
            ];
            let entry = setup_size as u32 + 0x190;
            write_headers(&mut buf, PE_OFFSET, MACHINE_X86_64, entry, &sections, None);
            if self.signed {
                let table = append_signature(&mut buf, b"synthetic PKCS#7 SignedData");
                write_headers(
                    &mut buf,
                    PE_OFFSET,
                    MACHINE_X86_64,
                    entry,
                    &sections,
                    Some(table),
                );
            }
        }
        buf
    }
}
