//! The purgatory binary (`warmboot load --verify`): entered instead of warmboot's trampoline,
//! it sets up a stack inside its own segment, checks the SHA-256 of the loaded segments
//! ([`warmboot_purgatory::verify_block`]) and then jumps to the trampoline; on a mismatch
//! it halts for ever instead of booting corrupted memory (kexec-tools purgatory/purgatory.c).
//!
//! Built by loader/build.rs for x86_64-unknown-none and aarch64-unknown-none-softfloat
//! (+strict-align), linked by link.ld into one image from address 0 with the entry first;
//! it uses only PC-relative addressing, so it runs wherever the plan places it. On the
//! host this file is an empty program so that workspace builds and clippy pass.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod bare {
    /// Called by the entry code with the parameter block; 1 = the digest matches.
    #[no_mangle]
    extern "C" fn purgatory_verify(block: *const u8) -> u64 {
        // SAFETY: the entry code passes the block the loader placed right after this
        // image (8-byte aligned by link.ld), and the loader listed only loaded segments.
        u64::from(unsafe { warmboot_purgatory::verify_block(block) })
    }

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo) -> ! {
        loop {
            core::hint::spin_loop();
        }
    }

    // x86_64: paging on with an identity map, interrupts off, no stack of ours (see
    // loader/src/x86/trampoline.rs). 8(params) = next entry, 16(params) = stack top.
    #[cfg(target_arch = "x86_64")]
    core::arch::global_asm!(
        ".section .text.entry,\"ax\"",
        ".global purgatory_entry",
        "purgatory_entry:",
        "lea __params(%rip), %rbx",
        "mov 16(%rbx), %rsp",
        "and $-16, %rsp",
        "mov %rbx, %rdi",
        "call purgatory_verify",
        "test %rax, %rax",
        "jz 2f",
        "mov 8(%rbx), %rax",
        "jmp *%rax",
        "2:",
        "cli",
        "hlt",
        "jmp 2b",
        options(att_syntax)
    );

    // arm64: MMU and caches off, DAIF masked (see loader/src/arm64/trampoline.rs).
    #[cfg(target_arch = "aarch64")]
    core::arch::global_asm!(
        ".section .text.entry,\"ax\"",
        ".global purgatory_entry",
        "purgatory_entry:",
        "adr x19, __params",
        "ldr x9, [x19, #16]",
        "mov sp, x9",
        "mov x0, x19",
        "bl purgatory_verify",
        "cbz x0, 2f",
        "ldr x9, [x19, #8]",
        "br x9",
        "2:",
        "wfe",
        "b 2b",
    );
}

#[cfg(not(target_os = "none"))]
fn main() {}
