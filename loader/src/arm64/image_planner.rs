//! arm64's [`ArchPlanner`]: an Image (raw, gzip or EFI zboot) planned by
//! [`crate::arm64::kexec_plan::plan_image`], with the device tree read first and the DTB's
//! KASLR and RNG seeds drawn (Documentation/arch/arm64/booting.rst; `kaslr-seed` is left 0
//! when the command line says `nokaslr`).

use crate::arch_planning::{ArchPlan, ArchPlanner, PlanInput};
use crate::arm64::kexec_plan::{machine_facts, plan_image};
use crate::dtb::{kaslr_disabled, RNG_SEED_SIZE};
use crate::error::{Error, Result};
use crate::image::KernelImage;

/// Plans arm64 Images.
pub struct Arm64ImagePlanner;

impl ArchPlanner for Arm64ImagePlanner {
    fn name(&self) -> &'static str {
        "arm64 Image"
    }

    fn takes(&self, image: &KernelImage) -> bool {
        matches!(image, KernelImage::Arm64(_))
    }

    fn plan(&self, image: &mut KernelImage, input: PlanInput<'_>) -> Result<ArchPlan> {
        let KernelImage::Arm64(a) = image else {
            return Err(Error::Unsupported(format!(
                "the arm64 planner plans Images, not {}",
                image.format_name()
            )));
        };
        let facts = machine_facts(input.host, input.dtb)?;
        let kaslr = if kaslr_disabled(input.cmdline) {
            0
        } else {
            input.randomness.u64()?
        };
        let mut rng_seed = vec![0u8; RNG_SEED_SIZE];
        input.randomness.fill(&mut rng_seed)?;
        let plan = plan_image(
            a,
            input.initrd,
            input.cmdline,
            input.mode,
            input.map,
            &facts,
            (Some(kaslr), rng_seed),
            input.verify,
        )?;
        Ok(ArchPlan {
            plan,
            bootable: true,
        })
    }
}
