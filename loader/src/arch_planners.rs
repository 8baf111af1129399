//! The one place architectures are registered: the [`ArchPlanner`] of every kind of kernel
//! warmboot plans, in the order they are asked.

use crate::arch_planning::ArchPlanner;
use crate::image::KernelImage;

/// Every planner; the first that takes an image plans it. The generic planner takes
/// anything, so it comes last.
pub const PLANNERS: &[&dyn ArchPlanner] = &[
    &crate::x86::bzimage_planner::BzImagePlanner,
    &crate::arm64::image_planner::Arm64ImagePlanner,
    &crate::riscv64::image_planner::Riscv64ImagePlanner,
    &crate::generic_planner::GenericPlanner,
];

/// The planner for `image`.
pub fn planner_for(image: &KernelImage) -> &'static dyn ArchPlanner {
    PLANNERS
        .iter()
        .copied()
        .find(|p| p.takes(image))
        .unwrap_or(&crate::generic_planner::GenericPlanner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{
        arm64::gzip, arm64::Arm64Builder, elf::ElfBuilder, riscv64::Riscv64Builder,
        x86::BzImageBuilder,
    };

    fn name(data: Vec<u8>) -> &'static str {
        planner_for(&KernelImage::parse(&data).unwrap()).name()
    }

    #[test]
    fn each_image_kind_has_its_planner() {
        assert_eq!(name(BzImageBuilder::new().build()), "x86_64 bzImage");
        assert_eq!(name(Arm64Builder::default().build()), "arm64 Image");
        assert_eq!(name(gzip(&Arm64Builder::default().build())), "arm64 Image");
        assert_eq!(name(Riscv64Builder::default().build()), "riscv64 Image");
        assert_eq!(name(ElfBuilder::x86_64().build()), "generic (review only)");
    }
}
