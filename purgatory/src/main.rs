//! The purgatory binary (`warmboot load --verify`): entered instead of warmboot's trampoline,
//! it sets up a stack inside its own segment, checks the SHA-256 of the loaded segments
//! ([`warmboot_purgatory::check_block`]) and then jumps to the trampoline; on a mismatch
//! it prints one line saying which segment and both digests on the console the loader
//! named in the parameter block ([`warmboot_purgatory::console`]; nothing without one) and
//! halts for ever instead of booting corrupted memory (kexec-tools purgatory/purgatory.c).
//! The success path prints nothing: it is on every `--verify` reboot's downtime.
//!
//! Built by loader/build.rs for x86_64-unknown-none and aarch64-unknown-none-softfloat
//! (+strict-align), linked by link.ld into one image from address 0 with the entry first;
//! it uses only PC-relative addressing, so it runs wherever the plan places it. On the
//! host this file is an empty program so that workspace builds and clippy pass.

#![cfg_attr(target_os = "none", no_std, no_main)]
// Bare metal: the entry is assembly, `purgatory_verify` is #[no_mangle] and calls the
// library's unsafe check on the block the entry code passes.
#![allow(unsafe_code)]

// sha2 picks its backend by cfg: on bare metal it must be the portable one (no SHA-NI or
// NEON, see Cargo.toml), which loader/build.rs selects.
#[cfg(all(target_os = "none", not(sha2_backend = "soft")))]
compile_error!(
    "build the bare-metal purgatory with `--cfg sha2_backend=\"soft\"` (loader/build.rs does)"
);

#[cfg(target_os = "none")]
mod bare {
    use warmboot_purgatory::{block_console, check_block, console, line};

    /// Called by the entry code with the parameter block; 1 = every digest matches, 0 =
    /// refused (the reason printed on the block's console, if it names one).
    #[no_mangle]
    extern "C" fn purgatory_verify(block: *const u8) -> u64 {
        // SAFETY: the entry code passes the block the loader placed right after this
        // image (8-byte aligned by link.ld), and the loader listed only loaded segments.
        match unsafe { check_block(block) } {
            Ok(()) => 1,
            Err(refusal) => {
                let text = line::refusal(&refusal);
                // SAFETY: the block is readable (above); its console is the UART the loader
                // found for the new kernel, reachable from here (console.rs).
                unsafe { console::write(block_console(block), text.as_bytes()) };
                0
            }
        }
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
