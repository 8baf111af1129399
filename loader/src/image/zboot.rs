//! EFI zboot header. PLACEHOLDER — being written.

pub fn looks_like(data: &[u8]) -> bool {
    data.starts_with(b"MZ") && data.get(4..8) == Some(&b"zimg"[..])
}
