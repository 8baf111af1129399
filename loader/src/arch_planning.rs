//! The "plan" stage's one seam per architecture: [`ArchPlanner`], implemented once for each
//! kind of kernel warmboot builds a bootable `kexec_load` plan for (x86_64 bzImage, arm64
//! Image) and once for the generic review-only plan of everything else. The load pipeline
//! ([`crate::commands::load`]) asks [`crate::arch_planners::planner_for`] and knows no
//! architecture's details; adding one is a new module implementing this trait plus its
//! line in [`crate::arch_planners`] (ARCHITECTURE.md, "Adding an architecture").

use crate::error::Result;
use crate::host::HostRoot;
use crate::image::KernelImage;
use crate::memmap::{MemoryMap, Mode};
use crate::plan::Plan;
use crate::randomness::Randomness;
use crate::x86::kexec_plan::X86Entry;
use crate::x86::vmlinux_payload::KernelProper;
use std::path::Path;

/// Everything a planner gets: the load's inputs, the machine, and the decisions made
/// before planning.
pub struct PlanInput<'a> {
    /// The machine's root, for the facts only this architecture reads (x86 firmware
    /// tables and the running zero page, the arm64 device tree).
    pub host: &'a HostRoot,
    /// The kernel file's bytes (empty for an arm64 Image, whose bytes the parser keeps).
    pub data: &'a [u8],
    /// The kernel file's path, named by errors about its contents.
    pub kernel_path: &'a Path,
    pub initrd: Option<Vec<u8>>,
    pub cmdline: &'a str,
    pub mode: Mode,
    pub map: &'a MemoryMap,
    /// `--verify`: the plan enters through warmboot's purgatory.
    pub verify: bool,
    /// arm64 `--dtb`: the device tree to start from instead of /sys/firmware/fdt.
    pub dtb: Option<&'a Path>,
    /// x86_64 only: how the kernel is to be entered and what the entry stage prepared.
    pub x86: X86EntryInput,
    /// The load's random numbers (KASLR slots, DTB seeds), seeded for tests.
    pub randomness: &'a mut Randomness,
}

/// What the x86_64 planner needs about the entry, decided before planning.
pub struct X86EntryInput {
    /// `--x86-entry`.
    pub requested: X86Entry,
    /// The kernel proper, decompressed at load where the entry may use it.
    pub proper: Option<Result<KernelProper>>,
    /// Whether the plan goes to kexec_load (the decompressed entry needs it).
    pub kexec_load: bool,
    /// Test hook: the two KASLR random numbers instead of drawing them.
    pub kaslr_random: Option<[u64; 2]>,
}

/// A plan, and whether it can boot through kexec_load (entry code and boot_params or DTB
/// included) or is for review only.
pub struct ArchPlan {
    pub plan: Plan,
    pub bootable: bool,
}

/// One architecture's (or image kind's) planning: reads the machine facts it needs, lays
/// the kernel out and plans its segments.
pub trait ArchPlanner: Sync {
    /// What this planner plans, e.g. "x86_64 bzImage", for tests and diagnostics.
    fn name(&self) -> &'static str;
    /// Whether this planner plans `image`; [`crate::arch_planners`] asks in order.
    fn takes(&self, image: &KernelImage) -> bool;
    /// Plans `image` (which [`ArchPlanner::takes`]) for `input`. May move the image's
    /// bytes into the plan.
    fn plan(&self, image: &mut KernelImage, input: PlanInput<'_>) -> Result<ArchPlan>;
}
