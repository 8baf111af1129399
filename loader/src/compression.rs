//! Compression formats found in kernel images, detected by magic, and bounded decompression.
//!
//! The magics are the ones the x86 boot protocol lists for the bzImage payload
//! (Documentation/arch/x86/boot.rst, "payload_offset") and that the kernel's
//! scripts/Makefile.lib produces; arm64 Image.gz and EFI zboot payloads use the same
//! compressors. Decompression is needed only where warmboot itself must see the kernel
//! (arm64 Image.gz and zboot, and the x86 bzImage payload decompressed at load time,
//! [`crate::x86::vmlinux_payload`]), and is done with pure-Rust crates so the static guest
//! binaries need no C cross toolchain: flate2 (miniz_oxide) for gzip, ruzstd for zstd,
//! lzma-rust2 for xz and lzma. The kernel builds xz payloads with the x86 BCJ filter
//! (scripts/xz_wrap.sh: `xz --check=crc32 --x86 --lzma2=,dict=32MiB`); lzma-rust2's
//! XzReader applies the filter chain the stream's block headers name, BCJ included.

use crate::error::{Error, Result};
use serde::Serialize;
use std::fmt;
use std::io::Read;

/// The largest decompressed kernel warmboot accepts. The biggest distribution arm64 Image
/// is ~60 MiB; anything past this is a corrupt or hostile stream, not a kernel.
pub const MAX_DECOMPRESSED: u64 = 512 << 20;

/// The most memory an lzma stream's dictionary may claim (256 MiB; the kernel's are 64 MiB
/// at most), in KiB as lzma-rust2 takes it.
const LZMA_MEM_LIMIT_KIB: u32 = 256 * 1024;

/// A compression method, as identified by the magic bytes at the start of the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
    Lzma,
    Xz,
    Lzo,
    Lz4,
    Zstd,
}

impl Compression {
    /// Identifies the compression of `data` by its magic. Unknown data is `None`.
    pub fn detect(data: &[u8]) -> Compression {
        const MAGICS: &[(&[u8], Compression)] = &[
            (&[0x1f, 0x8b], Compression::Gzip),
            (&[0x1f, 0x9e], Compression::Gzip), // old gzip magic, still accepted by the kernel
            (b"BZh", Compression::Bzip2),
            (&[0x5d, 0x00, 0x00], Compression::Lzma),
            (&[0xfd, b'7', b'z', b'X', b'Z', 0x00], Compression::Xz),
            (&[0x89, b'L', b'Z', b'O'], Compression::Lzo),
            (&[0x02, 0x21, 0x4c, 0x18], Compression::Lz4), // legacy LZ4 frame (lz4 -l)
            (&[0x04, 0x22, 0x4d, 0x18], Compression::Lz4), // modern LZ4 frame
            (&[0x28, 0xb5, 0x2f, 0xfd], Compression::Zstd),
        ];
        MAGICS
            .iter()
            .find(|(magic, _)| data.starts_with(magic))
            .map(|&(_, c)| c)
            .unwrap_or(Compression::None)
    }

    /// Maps the compression names used in EFI zboot headers
    /// (drivers/firmware/efi/libstub/Makefile.zboot: "gzip", "lz4", "lzma", "lzo",
    /// "xzkern", "zstd22") to a method.
    pub fn from_zboot_name(name: &str) -> Option<Compression> {
        Some(match name {
            "gzip" => Compression::Gzip,
            "lz4" => Compression::Lz4,
            "lzma" => Compression::Lzma,
            "lzo" => Compression::Lzo,
            "xzkern" | "xz" => Compression::Xz,
            "zstd22" | "zstd" => Compression::Zstd,
            "bzip2" => Compression::Bzip2,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Bzip2 => "bzip2",
            Compression::Lzma => "lzma",
            Compression::Xz => "xz",
            Compression::Lzo => "lzo",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Decompresses `data` with `method`, producing at most `limit` bytes.
///
/// `what` names the data in errors ("arm64 Image.gz", "zboot payload"). Trailing bytes
/// after the compressed stream (such as the 4-byte size the kernel build appends) are
/// ignored, as the kernel's own decompressors ignore them.
pub fn decompress(
    method: Compression,
    data: &[u8],
    limit: u64,
    what: &'static str,
) -> Result<Vec<u8>> {
    if method == Compression::None {
        return Ok(data.to_vec());
    }
    let fail = failure(method, what);
    let mut out = Vec::new();
    reader(method, data, what)?
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| fail(e.to_string()))?;
    finish(out, method, limit, what)
}

/// The unit [`decompress_sparse`] skips when all zero: a page.
pub const SPARSE_UNIT: usize = 4096;

/// [`decompress`] for a large output with long runs of zeros (a kernel payload: .bss
/// stored in the file, .init.scratch, alignment padding, about a third of Debian's
/// kernels), same bytes, less memory: the output buffer is allocated zeroed (fresh
/// anonymous pages, not resident until written) at `size_hint` bytes (the size the
/// kernel build appends; a longer stream grows it), and a page of output that is all zero
/// is not written, so it never becomes resident. The decompressor's own window is not
/// affected.
pub fn decompress_sparse(
    method: Compression,
    data: &[u8],
    size_hint: u64,
    limit: u64,
    what: &'static str,
) -> Result<Vec<u8>> {
    if method == Compression::None {
        return Ok(data.to_vec());
    }
    let fail = failure(method, what);
    let mut r = reader(method, data, what)?.take(limit + 1);
    let hint = usize::try_from(size_hint.min(limit)).unwrap_or(0);
    let mut out = vec![0u8; hint];
    let mut chunk = vec![0u8; 64 * SPARSE_UNIT];
    let mut len = 0usize;
    loop {
        let n = fill(&mut r, &mut chunk).map_err(|e| fail(e.to_string()))?;
        if n == 0 {
            break;
        }
        let end = len + n;
        if end > out.len() {
            out.resize(end, 0);
        }
        let dst = out
            .get_mut(len..end)
            .ok_or_else(|| fail("output overflow".into()))?;
        write_sparse(dst, chunk.get(..n).unwrap_or_default());
        len = end;
    }
    out.truncate(len);
    finish(out, method, limit, what)
}

/// Copies `src` into `dst` (same length, `dst` zero) unit by unit, leaving the all-zero
/// units of `src` unwritten.
fn write_sparse(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.chunks_mut(SPARSE_UNIT).zip(src.chunks(SPARSE_UNIT)) {
        if !is_zero(s) {
            d.copy_from_slice(s);
        }
    }
}

/// Whether every byte of `b` is zero.
pub fn is_zero(b: &[u8]) -> bool {
    b.iter().all(|&x| x == 0)
}

/// Reads until `buf` is full or the stream ends; the number of bytes read.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(buf.get_mut(n..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn failure(method: Compression, what: &'static str) -> impl Fn(String) -> Error {
    move |detail: String| Error::Decompress {
        what,
        method: method.name().to_string(),
        detail,
    }
}

/// The decompressing reader of `data` for `method` (not `None`).
fn reader<'a>(
    method: Compression,
    data: &'a [u8],
    what: &'static str,
) -> Result<Box<dyn Read + 'a>> {
    let fail = failure(method, what);
    Ok(match method {
        Compression::Gzip => Box::new(flate2::read::GzDecoder::new(data)),
        Compression::Zstd => Box::new(
            ruzstd::decoding::StreamingDecoder::new(data).map_err(|e| fail(e.to_string()))?,
        ),
        // One stream only: the kernel build appends the 4-byte size after it.
        Compression::Xz => Box::new(lzma_rust2::XzReader::new(data, false)),
        // The .lzma ("lzma_alone") format `lzma -9` writes: header, then the stream.
        Compression::Lzma => Box::new(
            lzma_rust2::LzmaReader::new_mem_limit(data, LZMA_MEM_LIMIT_KIB, None)
                .map_err(|e| fail(e.to_string()))?,
        ),
        other => {
            return Err(Error::UnsupportedCompression {
                what,
                method: other.name().to_string(),
            })
        }
    })
}

/// The limit and emptiness checks every decompression ends with.
fn finish(out: Vec<u8>, method: Compression, limit: u64, what: &'static str) -> Result<Vec<u8>> {
    let fail = failure(method, what);
    if out.len() as u64 > limit {
        return Err(fail(format!("output exceeds the {limit}-byte limit")));
    }
    if out.is_empty() {
        return Err(fail("the stream is empty".to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn detects_every_kernel_compression_magic() {
        let cases: &[(&[u8], Compression)] = &[
            (&[0x1f, 0x8b, 8, 0], Compression::Gzip),
            (b"BZh91AY", Compression::Bzip2),
            (&[0x5d, 0, 0, 0x80], Compression::Lzma),
            (&[0xfd, b'7', b'z', b'X', b'Z', 0, 0], Compression::Xz),
            (&[0x89, b'L', b'Z', b'O', 0], Compression::Lzo),
            (&[0x02, 0x21, 0x4c, 0x18], Compression::Lz4),
            (&[0x28, 0xb5, 0x2f, 0xfd, 0], Compression::Zstd),
            (b"MZ\0\0", Compression::None),
            (b"", Compression::None),
        ];
        for (data, want) in cases {
            assert_eq!(Compression::detect(data), *want, "{data:02x?}");
        }
    }

    #[test]
    fn gzip_round_trip_and_limit() {
        let plain = vec![7u8; 10_000];
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&plain).unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(
            decompress(Compression::Gzip, &gz, 1 << 20, "t").unwrap(),
            plain
        );
        let err = decompress(Compression::Gzip, &gz, 100, "t").unwrap_err();
        assert!(err.to_string().contains("limit"), "{err}");
        assert!(decompress(Compression::Gzip, &gz[..20], 1 << 20, "t").is_err());
    }

    #[test]
    fn zstd_round_trip() {
        let plain: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let z = ruzstd::encoding::compress_to_vec(
            &plain[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        assert_eq!(
            decompress(Compression::Zstd, &z, 1 << 20, "t").unwrap(),
            plain
        );
    }

    /// An xz stream as the kernel build writes it: x86 BCJ filter, then LZMA2, CRC32,
    /// followed by the 4-byte size scripts/Makefile.lib appends.
    fn xz_x86(plain: &[u8]) -> Vec<u8> {
        use lzma_rust2::{CheckType, FilterType, XzOptions, XzWriter};
        let mut options = XzOptions::with_preset(6);
        options.set_check_sum_type(CheckType::Crc32);
        options.prepend_pre_filter(FilterType::BcjX86, 0);
        let mut w = XzWriter::new(Vec::new(), options).unwrap();
        w.write_all(plain).unwrap();
        let mut xz = w.finish().unwrap();
        xz.extend_from_slice(&(plain.len() as u32).to_le_bytes());
        xz
    }

    #[test]
    fn xz_with_the_x86_bcj_filter_round_trip_and_limit() {
        // Call instructions (E8 rel32) are what BCJ rewrites; a wrong filter garbles them.
        let plain: Vec<u8> = (0..20_000u32)
            .flat_map(|i| [0xe8, i as u8, (i >> 8) as u8, 0, 0, 0x90])
            .collect();
        let xz = xz_x86(&plain);
        assert_eq!(Compression::detect(&xz), Compression::Xz);
        assert_eq!(
            decompress(Compression::Xz, &xz, 1 << 20, "t").unwrap(),
            plain
        );
        let err = decompress(Compression::Xz, &xz, 1000, "t").unwrap_err();
        assert!(err.to_string().contains("limit"), "{err}");
        let err = decompress(Compression::Xz, &xz[..xz.len() / 2], 1 << 20, "t").unwrap_err();
        assert!(
            err.to_string().starts_with("cannot decompress t (xz): "),
            "{err}"
        );
    }

    /// The sparse decompression gives the bytes of the plain one, whatever the size hint
    /// (exact, short: the buffer grows; long: cut to the stream), zero pages included,
    /// and keeps its limit.
    #[test]
    fn sparse_decompression_gives_the_same_bytes_for_any_size_hint() {
        let mut plain: Vec<u8> = (0..20_000u32)
            .flat_map(|i| [0xe8, i as u8, (i >> 8) as u8, 0, 0, 0x90])
            .collect();
        // Zero pages, a zero run not on a unit boundary, and a non-zero tail.
        plain.extend(std::iter::repeat_n(0, 5 * SPARSE_UNIT + 123));
        plain.extend_from_slice(b"tail");
        plain.extend(std::iter::repeat_n(0, 3 * SPARSE_UNIT));
        let xz = xz_x86(&plain);
        let len = plain.len() as u64;
        for hint in [len, 0, len / 3, len + 10_000] {
            let out = decompress_sparse(Compression::Xz, &xz, hint, 1 << 24, "t").unwrap();
            assert!(out == plain, "hint {hint}: {} bytes", out.len());
        }
        let err = decompress_sparse(Compression::Xz, &xz, len, 1000, "t").unwrap_err();
        assert!(err.to_string().contains("limit"), "{err}");
        let err =
            decompress_sparse(Compression::Xz, &xz[..xz.len() / 2], len, 1 << 24, "t").unwrap_err();
        assert!(
            err.to_string().starts_with("cannot decompress t (xz): "),
            "{err}"
        );
        let err =
            decompress_sparse(Compression::Lzo, b"\x89LZO\0", 0, 1 << 20, "payload").unwrap_err();
        assert!(err.to_string().contains("cannot decompress"), "{err}");
    }

    #[test]
    fn lzma_round_trip() {
        use lzma_rust2::{LzmaOptions, LzmaWriter};
        let plain: Vec<u8> = (0..30_000u32).map(|i| (i % 97) as u8).collect();
        let mut w =
            LzmaWriter::new_use_header(Vec::new(), &LzmaOptions::with_preset(6), None).unwrap();
        w.write_all(&plain).unwrap();
        let mut lzma = w.finish().unwrap();
        lzma.extend_from_slice(&(plain.len() as u32).to_le_bytes());
        assert_eq!(Compression::detect(&lzma), Compression::Lzma);
        assert_eq!(
            decompress(Compression::Lzma, &lzma, 1 << 20, "t").unwrap(),
            plain
        );
        assert!(decompress(Compression::Lzma, &lzma[..40], 1 << 20, "t").is_err());
        let err = decompress(Compression::Lzma, &lzma[..5], 1 << 20, "t").unwrap_err();
        assert!(
            err.to_string().starts_with("cannot decompress t (lzma): "),
            "{err}"
        );
    }

    #[test]
    fn refuses_methods_it_cannot_decompress() {
        let err = decompress(Compression::Lzo, b"\x89LZO\0", 1 << 20, "payload").unwrap_err();
        assert_eq!(
            err.to_string(),
            "payload is compressed with lzo, which warmboot cannot decompress"
        );
    }
}
