//! The fallback [`ArchPlanner`]: any other kernel (ELF vmlinux, UKI) laid out from its
//! headers ([`crate::layout::KernelLayout`]) and planned for review only, without entry
//! code, boot_params or DTB; `--verify` is refused, since it needs that entry code.

use crate::arch_planning::{ArchPlan, ArchPlanner, PlanInput};
use crate::error::{Error, Result};
use crate::image::KernelImage;
use crate::layout::KernelLayout;
use crate::planner::{plan, PlanRequest};

/// Plans any kernel image, for review only.
pub struct GenericPlanner;

impl ArchPlanner for GenericPlanner {
    fn name(&self) -> &'static str {
        "generic (review only)"
    }

    fn takes(&self, _image: &KernelImage) -> bool {
        true
    }

    fn plan(&self, image: &mut KernelImage, input: PlanInput<'_>) -> Result<ArchPlan> {
        if input.verify {
            return Err(Error::Unsupported(format!(
                "--verify needs warmboot's own entry code, which it builds for x86 bzImages and arm64 Images, not for {}",
                image.format_name()
            )));
        }
        let layout = KernelLayout::from_image(image, input.data)
            .map_err(|e| e.in_file(input.kernel_path))?;
        let mut p = plan(
            PlanRequest {
                layout,
                initrd: input.initrd,
                cmdline: input.cmdline.to_string(),
                extra: Vec::new(),
                mode: input.mode,
            },
            input.map,
        )?;
        p.notes.push(format!(
            "a generic plan for review: warmboot builds boot_params/DTB and entry code for x86 bzImages and arm64 Images, not for {}",
            image.format_name()
        ));
        Ok(ArchPlan {
            plan: p,
            bootable: false,
        })
    }
}
