//! arm64 pieces of warmboot's own kexec_load plans: the device tree handed to the next
//! kernel, the entry trampoline (x0 = DTB), and the plan that puts them together
//! (Documentation/arch/arm64/booting.rst).

pub mod dtb;
pub mod image_planner;
pub mod kexec_plan;
pub mod trampoline;
