//! Links libsonic statically: the espeak-ng built by `espeak-rs-sys` calls it (speed changes)
//! but does not link it, and a plugin must not depend on a shared library the user's machine
//! may lack. Debian: `apt-get install libsonic-dev` (`cargo xtask setup` does it). For Windows
//! `cargo xtask build-windows` builds a MinGW `libsonic.a` and names its folder in
//! `SONIC_LIB_DIR`; there GNU ld resolves archives in command-line order, so the archive goes
//! on the link line as a file, after espeak-ng's archives that call it.
//!
//! Marks the plugin library resident (`-z nodelete`): a host's `dlclose` leaves it mapped, and
//! loading it again reuses it. The library holds process-wide state that cannot be torn down
//! while the process runs (ONNX Runtime's environment and thread pools, espeak-ng's globals,
//! the windowing stack's threads and thread-local destructors): unloaded for real, every load
//! leaked several MiB and a late thread could keep it mapped or run in unmapped code. See
//! `docs/design/unloading.md`.

use std::path::PathBuf;

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    }
    println!("cargo:rerun-if-env-changed=SONIC_LIB_DIR");
    let target = std::env::var("TARGET").unwrap_or_default();
    // x86_64-unknown-linux-gnu → x86_64-linux-gnu (Debian's multiarch folder).
    let multiarch = target.replacen("-unknown", "", 1);
    // The system's folders hold Linux archives: a cross build takes SONIC_LIB_DIR only.
    let system: &[String] = if target.contains("linux") {
        &[
            format!("/usr/lib/{multiarch}"),
            "/usr/lib".into(),
            "/usr/local/lib".into(),
        ]
    } else {
        &[]
    };
    let candidates: Vec<PathBuf> = std::env::var_os("SONIC_LIB_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain(system.iter().map(PathBuf::from))
        .collect();
    match candidates
        .iter()
        .find(|dir| dir.join("libsonic.a").is_file())
    {
        Some(dir) if target.contains("windows") => {
            println!("cargo:rustc-link-arg={}", dir.join("libsonic.a").display());
        }
        Some(dir) => {
            println!("cargo:rustc-link-search=native={}", dir.display());
            println!("cargo:rustc-link-lib=static=sonic");
        }
        None => {
            println!(
                "cargo:warning=libsonic.a not found in {candidates:?}: install libsonic-dev \
                 (or set SONIC_LIB_DIR); linking will fail with undefined sonic* symbols"
            );
        }
    }
}
