//! A signed PE kernel with its Authenticode signature removed, for the Secure Boot guest's
//! proof that lockdown refuses an unsigned kernel (`--scenario lockdown`).
//!
//! What `sbattach --remove` does: the certificate table entry (data directory 4 of the
//! optional header, PE/COFF spec "Optional Header Data Directories") is zeroed and the
//! table, which signing tools append at the end of the file, is cut off. The kernel's
//! kexec_file_load then finds no signature (crypto/asymmetric_keys/verify_pefile.c
//! `pefile_parse_binary`: "Unsigned PE binary", -ENODATA), which lockdown turns into a
//! refusal (kernel/kexec_file.c `kimage_validate_signature`). Pure: bytes in, bytes out.

use warmboot::image::pe::PeInfo;

/// Offset of the data directories in the optional header: PE32+ (magic 0x20b) and PE32.
const DIRECTORIES_PE32_PLUS: usize = 112;
const DIRECTORIES_PE32: usize = 96;
/// The certificate table is data directory 4; each entry is 8 bytes (RVA/offset, size).
const CERTIFICATE_ENTRY: usize = 4 * 8;

/// `pe` without its signature; an error when it has none or the table is not at its end.
pub fn strip_signature(pe: &[u8]) -> Result<Vec<u8>, String> {
    let info = PeInfo::parse(pe).map_err(|e| format!("not a PE image: {e}"))?;
    if !info.is_signed() {
        return Err("it carries no Authenticode signature".into());
    }
    let (offset, size) = info
        .certificate_table
        .ok_or("it has no certificate table")?;
    let (offset, size) = (offset as usize, size as usize);
    if offset.checked_add(size).map(|end| end.next_multiple_of(8)) < Some(pe.len()) {
        return Err(format!(
            "its certificate table ({size} bytes at {offset:#x}) is not at the end of the file"
        ));
    }
    // "PE\0\0", then the 20-byte COFF header, then the optional header with its magic.
    let optional = (info.header_offset as usize)
        .checked_add(4 + 20)
        .ok_or("bad PE header offset")?;
    let magic = pe
        .get(optional..optional + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .ok_or("truncated optional header")?;
    let directories = match magic {
        0x20b => DIRECTORIES_PE32_PLUS,
        0x10b => DIRECTORIES_PE32,
        m => return Err(format!("unknown optional header magic {m:#x}")),
    };
    let entry = optional + directories + CERTIFICATE_ENTRY;
    let mut out = pe.get(..offset).ok_or("truncated file")?.to_vec();
    out.get_mut(entry..entry + 8)
        .ok_or("truncated data directories")?
        .fill(0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pinned Debian x86_64 kernels, when `cargo xtask images` has fetched them.
    fn pinned_kernels() -> Vec<std::path::PathBuf> {
        let Ok(cache) = crate::cache::Cache::from_env() else {
            return Vec::new();
        };
        ["6.1", "6.12"]
            .iter()
            .filter_map(|s| {
                crate::kernels::pinned_kernel(&cache, crate::qemu::GuestArch::X86_64, Some(s)).ok()
            })
            .collect()
    }

    #[test]
    fn a_signed_debian_kernel_loses_its_signature_and_nothing_else() {
        let kernels = pinned_kernels();
        if kernels.is_empty() {
            assert!(
                std::env::var_os("WARMBOOT_REQUIRE_REAL_KERNELS").is_none(),
                "no pinned x86_64 kernel in the cache (run `cargo xtask images`)"
            );
            eprintln!("skipped: no pinned x86_64 kernel in the cache");
            return;
        }
        for k in kernels {
            let signed = std::fs::read(&k).unwrap();
            let before = PeInfo::parse(&signed).unwrap();
            assert!(before.is_signed(), "{} is not signed", k.display());
            let (offset, _) = before.certificate_table.unwrap();
            let stripped = strip_signature(&signed).unwrap();
            assert_eq!(stripped.len(), offset as usize);
            let after = PeInfo::parse(&stripped).unwrap();
            assert!(!after.is_signed());
            assert_eq!(after.certificate_table, None);
            assert_eq!(after.sections, before.sections);
            // Only the 8 bytes of the certificate entry changed.
            let changed = signed.iter().zip(&stripped).filter(|(a, b)| a != b).count();
            assert!((1..=8).contains(&changed), "{changed} bytes changed");
            // Stripping twice is an error: nothing is left to strip.
            let e = strip_signature(&stripped).unwrap_err();
            assert!(e.contains("no Authenticode signature"), "{e}");
        }
    }

    #[test]
    fn a_file_that_is_not_pe_is_refused() {
        let e = strip_signature(b"MZ not really").unwrap_err();
        assert!(e.starts_with("not a PE image"), "{e}");
    }
}
