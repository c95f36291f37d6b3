//! Link options of the release binary.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    if linux_gnu && std::env::var("PROFILE").as_deref() == Ok("release") {
        // Relative relocations packed (DT_RELR, glibc 2.36, binutils 2.38): a position-
        // independent binary's table of pointers to fix at load shrinks from about 2.8 MB
        // to a few KB (P7).
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
