//! `warmboot-sim`: a backend of warmboot's `Kexec` trait that never touches the kernel.
//!
//! It holds a simulated physical memory built from a machine's memory map and applies the
//! acceptance rules the kernel applies in `kexec_load` and `kexec_file_load`
//! (kernel/kexec.c, kernel/kexec_core.c: segment count, page alignment, overlap, bufsz <=
//! memsz, destinations inside usable RAM or the crash reservation, entry inside a loaded
//! segment). Accepted segments are copied into the simulated memory so tests can read back
//! exactly what a real load would have placed where.
//!
//! Filled in by the planner/sim issue; this crate exists now so the workspace has its final
//! shape.
