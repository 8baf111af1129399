//! The purgatory's parameter block and its check, shared by the bare-metal `purgatory`
//! binary (which runs [`check_block`] on the exec path) and by the loader (which fills
//! the block at plan time and tests the check on the host).
//!
//! Like kexec-tools' purgatory (purgatory/purgatory.c `verify_sha256_digest`): SHA-256
//! over every listed segment's bytes `[mem, mem + bufsz)`, compared with the digest
//! computed when the plan was made. Unlike it, each segment has its own digest, so that a
//! refusal can say which segment is corrupted ([`Refusal::Mismatch`]); the bytes hashed
//! are the same and the success path costs the same. Plain integer code only (sha2's
//! portable implementation on bare metal): SSE is off on the x86_64 kexec path and the MMU
//! (hence unaligned access) is off on arm64.
//!
//! Parameter block (little-endian u64 fields, 8-byte aligned), placed right after the
//! purgatory image in its segment:
//!
//! | offset | what |
//! |---|---|
//! | 0x00 | [`MAGIC`] |
//! | 0x08 | where to continue after a good check (warmboot's trampoline entry) |
//! | 0x10 | top of the purgatory's stack (16-byte aligned) |
//! | 0x18 | number of segments (1 to [`MAX_SEGMENTS`]) |
//! | 0x20 | console kind: 0 none, 1 8250 UART on I/O ports, 2 PL011 (see [`console`]) |
//! | 0x28 | console base: the I/O port or the physical MMIO address |
//! | 0x30 | segments, [`SEGMENT_SIZE`] bytes each: address u64, length u64, SHA-256 (32 bytes) |

#![no_std]
// Bare metal: the check reads the physical memory the parameter block names and the
// console drives a UART; every unsafe block still carries a `// SAFETY:` comment.
#![allow(unsafe_code)]

pub mod block;
pub mod console;
pub mod line;

pub use block::*;
pub use console::Console;
