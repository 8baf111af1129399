//! riscv64's [`ArchPlanner`]: an Image planned by
//! [`crate::riscv64::kexec_plan::plan_image`], with the device tree read first and the
//! DTB's seeds drawn (`rng-seed` for drivers/of/fdt.c; `kaslr-seed` for a kernel built with
//! CONFIG_RANDOMIZE_BASE, arch/riscv/kernel/pi/fdt_early.c, left 0 under `nokaslr`).

use crate::arch::Arch;
use crate::arch_planning::{ArchPlan, ArchPlanner, PlanInput};
use crate::dtb::{kaslr_disabled, RNG_SEED_SIZE};
use crate::error::{Error, Result};
use crate::image::KernelImage;
use crate::riscv64::kexec_plan::plan_image;

/// Plans riscv64 Images.
pub struct Riscv64ImagePlanner;

impl ArchPlanner for Riscv64ImagePlanner {
    fn name(&self) -> &'static str {
        "riscv64 Image"
    }

    fn takes(&self, image: &KernelImage) -> bool {
        matches!(image, KernelImage::Riscv64(_))
    }

    fn plan(&self, image: &mut KernelImage, input: PlanInput<'_>) -> Result<ArchPlan> {
        let KernelImage::Riscv64(r) = image else {
            return Err(Error::Unsupported(format!(
                "the riscv64 planner plans Images, not {}",
                image.format_name()
            )));
        };
        if input.verify {
            // Refused before reading anything: there is no riscv64 purgatory.
            crate::purgatory::image(Arch::Riscv64)?;
        }
        let facts = crate::dt_facts::read(input.host, input.dtb, Arch::Riscv64)?;
        let kaslr = if kaslr_disabled(input.cmdline) {
            0
        } else {
            input.randomness.u64()?
        };
        let mut rng_seed = vec![0u8; RNG_SEED_SIZE];
        input.randomness.fill(&mut rng_seed)?;
        let plan = plan_image(
            r,
            input.initrd,
            input.cmdline,
            input.mode,
            input.map,
            &facts,
            (Some(kaslr), rng_seed),
        )?;
        Ok(ArchPlan {
            plan,
            bootable: true,
        })
    }
}
