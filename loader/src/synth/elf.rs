//! Small ELF64 vmlinux images (placeholder; filled in below).
