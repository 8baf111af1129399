//! x86_64's [`ArchPlanner`]: a bzImage planned by [`crate::x86::kexec_plan::plan_x86`],
//! with the machine facts it reads first (firmware e820, the running zero page, EFI and
//! early-setup facts) and the two KASLR random numbers.

use crate::arch_planning::{ArchPlan, ArchPlanner, PlanInput};
use crate::error::{Error, Result};
use crate::image::KernelImage;
use crate::x86::kexec_plan::{machine_facts, plan_x86, EntryRequest};

/// Plans x86 bzImages (Documentation/arch/x86/boot.rst).
pub struct BzImagePlanner;

impl ArchPlanner for BzImagePlanner {
    fn name(&self) -> &'static str {
        "x86_64 bzImage"
    }

    fn takes(&self, image: &KernelImage) -> bool {
        matches!(image, KernelImage::BzImage(_))
    }

    fn plan(&self, image: &mut KernelImage, input: PlanInput<'_>) -> Result<ArchPlan> {
        let KernelImage::BzImage(bz) = image else {
            return Err(Error::Unsupported(format!(
                "the x86_64 planner plans bzImages, not {}",
                image.format_name()
            )));
        };
        let facts = machine_facts(input.host)?;
        let random = match input.x86.kaslr_random {
            Some(r) => r,
            None => [input.randomness.u64()?, input.randomness.u64()?],
        };
        let plan = plan_x86(
            bz,
            input.data,
            input.initrd,
            input.cmdline,
            input.mode,
            input.map,
            &facts,
            input.verify,
            EntryRequest {
                requested: input.x86.requested,
                proper: input.x86.proper,
                kexec_load: input.x86.kexec_load,
                random,
            },
        )?;
        Ok(ArchPlan {
            plan,
            bootable: true,
        })
    }
}
