//! Synthetic riscv64 Images: the header of arch/riscv/include/asm/image.h (version 0.2,
//! text_offset 0x200000 as a non-relocatable rv64 kernel's head.S writes it), optionally
//! the EFI stub's PE header (machine riscv64) and a (fake) Authenticode signature. The
//! "code" is filler bytes: nothing runs it.

use crate::image::pe::MACHINE_RISCV64;
use crate::synth::pe::{append_signature, write_headers, SectionSpec};

/// Where the EFI stub's PE header goes, as in the real kernel (res3 = 0x40).
const PE_OFFSET: u32 = 0x40;
/// Where the synthetic "text" starts in the file (after the PE headers).
const TEXT_START: usize = 0x1000;

/// What a riscv64 Image built by [`Riscv64Builder::build`] looks like.
#[derive(Debug, Clone)]
pub struct Riscv64Builder {
    pub text_offset: u64,
    /// image_size header field; None computes the file size rounded up to 64 KiB plus
    /// 64 KiB of "BSS".
    pub image_size: Option<u64>,
    /// Kernel release in the banner; None writes no banner.
    pub version: Option<String>,
    /// Write an EFI stub PE header (machine riscv64) at 0x40, as Debian's kernel has.
    pub efi_stub: bool,
    /// Append a (fake) Authenticode signature; needs `efi_stub`.
    pub signed: bool,
    /// Bytes of filler "code" after the header.
    pub code_len: usize,
}

impl Default for Riscv64Builder {
    /// Like Debian 13's kernel: EFI stub, unsigned, text_offset 0x200000, flags 0,
    /// version 0.2, banner "Linux version 6.12.0-synth-riscv64".
    fn default() -> Self {
        Riscv64Builder {
            text_offset: 0x20_0000,
            image_size: None,
            version: Some("6.12.0-synth-riscv64".to_string()),
            efi_stub: true,
            signed: false,
            code_len: 0x2000,
        }
    }
}

impl Riscv64Builder {
    /// Builds the Image bytes.
    pub fn build(&self) -> Vec<u8> {
        let mut buf = vec![0u8; TEXT_START];
        buf.extend((0..self.code_len).map(|i| (i % 251) as u8 | 1));
        if let Some(v) = &self.version {
            buf.extend_from_slice(
                format!("Linux version {v} (synth@warmboot) (gcc) #1 SMP\n\0").as_bytes(),
            );
        }
        buf.resize(buf.len().next_multiple_of(0x200), 0);
        let image_size = self
            .image_size
            .unwrap_or((buf.len() as u64).next_multiple_of(0x1_0000) + 0x1_0000);
        if self.efi_stub {
            // "MZ" + c.li s4,-13 as head.S writes it, then "j _start_kernel".
            buf[0..4].copy_from_slice(&0x106f_5a4du32.to_le_bytes());
        } else {
            buf[0..4].copy_from_slice(&0x0000_0297u32.to_le_bytes()); // auipc t0, 0
        }
        buf[4..8].copy_from_slice(&0x0001_0d60u32.to_le_bytes());
        buf[8..16].copy_from_slice(&self.text_offset.to_le_bytes());
        buf[16..24].copy_from_slice(&image_size.to_le_bytes());
        buf[0x20..0x24].copy_from_slice(&2u32.to_le_bytes()); // version 0.2
        buf[0x30..0x38].copy_from_slice(b"RISCV\0\0\0");
        buf[0x38..0x3c].copy_from_slice(b"RSC\x05");
        if self.efi_stub {
            let sections = [SectionSpec {
                name: ".text".to_string(),
                file_offset: TEXT_START as u32,
                file_size: (buf.len() - TEXT_START) as u32,
                virtual_address: TEXT_START as u32,
                virtual_size: (buf.len() - TEXT_START) as u32,
            }];
            write_headers(
                &mut buf,
                PE_OFFSET,
                MACHINE_RISCV64,
                0x1000,
                &sections,
                None,
            );
            if self.signed {
                let table = append_signature(&mut buf, b"synthetic PKCS#7 signed data");
                write_headers(
                    &mut buf,
                    PE_OFFSET,
                    MACHINE_RISCV64,
                    0x1000,
                    &sections,
                    Some(table),
                );
            }
        }
        buf
    }
}
