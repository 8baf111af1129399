//! Links the bare-metal `purgatory` binary with link.ld (one image from address 0, entry
//! first); host builds of the crate (tests, clippy) need nothing.

fn main() {
    println!("cargo:rerun-if-changed=link.ld");
    // Set by loader/build.rs for the bare-metal build (sha2's portable backend).
    println!("cargo::rustc-check-cfg=cfg(sha2_backend, values(\"soft\"))");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
        println!("cargo:rustc-link-arg-bins=-T{dir}/link.ld");
    }
}
