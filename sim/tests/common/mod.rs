//! Shared test inputs: the fixture machines and synthetic kernels resembling Debian's 6.1.
#![allow(dead_code)]

pub mod cli;
/// The pinned Debian kernels of every series, as loader/tests/real_kernels.rs finds them.
#[path = "../../../loader/tests/support/pinned.rs"]
pub mod pinned;

use std::path::PathBuf;
use warmboot::arch::Arch;
use warmboot::host::HostRoot;
use warmboot::layout::{arm64_layout, riscv64_layout, x86_layout, KernelLayout};
use warmboot::memmap::MemoryMap;

/// Every fixture machine (root trees under loader/tests/fixtures/machines) and its arch.
pub const MACHINES: &[(&str, Arch)] = &[
    ("x86_64-bios-m1024", Arch::X86_64),
    ("x86_64-bios-m4096", Arch::X86_64),
    ("x86_64-ovmf-m1024", Arch::X86_64),
    ("x86_64-ovmf-m4096", Arch::X86_64),
    ("arm64-direct-m1024", Arch::Arm64),
    ("arm64-direct-m4096", Arch::Arm64),
    ("arm64-uefi-m1024", Arch::Arm64),
    ("arm64-uefi-m4096", Arch::Arm64),
    ("arm64-direct-m1024-crashkernel", Arch::Arm64),
    ("arm64-direct-m1024-crashkernel-capture", Arch::Arm64),
    ("riscv64-direct-m1024", Arch::Riscv64),
    ("riscv64-direct-m1024-crashkernel", Arch::Riscv64),
];

pub fn machine_root(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../loader/tests/fixtures/machines")
        .join(name)
}

pub fn machine_map(name: &str) -> MemoryMap {
    HostRoot::new(machine_root(name)).memory_map().unwrap()
}

pub const HEAD: &[u8; 8] = b"WBHEAD00";
pub const TAIL: &[u8; 8] = b"WBTAIL00";

/// `len` zero bytes with a marker at each end, so read-back can find the edges.
pub fn marked(len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    v[..8].copy_from_slice(HEAD);
    v[len - 8..].copy_from_slice(TAIL);
    v
}

/// Like Debian's linux-image-6.1.0-56-amd64: 0x7d87c0 bytes of protected-mode kernel,
/// init_size 0x3f98000, kernel_alignment 0x200000, pref_address 0x1000000.
pub fn debian_x86() -> KernelLayout {
    x86_layout(marked(0x7d87c0), 0x3f98000, 0x200000, 0x1000000)
}

/// Like Debian's linux-image-6.1.0-56-arm64: a 0x1f6dfc0-byte Image, image_size 0x2010000,
/// text_offset 0.
pub fn debian_arm64() -> KernelLayout {
    arm64_layout(marked(0x1f6dfc0), 0x2010000, 0)
}

/// Like Debian's linux-image-6.12.118+deb13-riscv64: a 0x1db9600-byte Image, image_size
/// 0x1e6c000.
pub fn debian_riscv64() -> KernelLayout {
    riscv64_layout(marked(0x1db9600), 0x1e6c000)
}

pub fn layout_for(arch: Arch) -> KernelLayout {
    match arch {
        Arch::X86_64 => debian_x86(),
        Arch::Arm64 => debian_arm64(),
        Arch::Riscv64 => debian_riscv64(),
    }
}

/// Initrd sizes seen in the reference kexec-tools runs (x86 0x1822ff0, arm64 0x813c00).
pub fn initrd_for(arch: Arch) -> Vec<u8> {
    match arch {
        Arch::X86_64 => marked(0x1822ff0),
        Arch::Arm64 | Arch::Riscv64 => marked(0x813c00),
    }
}
