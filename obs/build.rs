//! On Windows, puts MinGW's `libsonic.a` (from `SONIC_LIB_DIR`, which `cargo xtask
//! build-windows` sets) at the end of the module's link line, as `plugin/build.rs` does for the
//! plugin: espeak-ng's archives call sonic, GNU ld resolves archives in command-line order, and
//! a link argument of the plugin crate's build script reaches only its own binaries. On Linux
//! the plugin crate's `rustc-link-lib` reaches the module too.

fn main() {
    println!("cargo:rerun-if-env-changed=SONIC_LIB_DIR");
    let windows = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "windows");
    if let (true, Some(dir)) = (windows, std::env::var_os("SONIC_LIB_DIR")) {
        let archive = std::path::Path::new(&dir).join("libsonic.a");
        println!("cargo:rustc-link-arg={}", archive.display());
    }
}
