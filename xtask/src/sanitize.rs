//! Concurrency checks that need the nightly toolchain (`rustup toolchain install nightly
//! --component miri rust-src`), so they are commands of their own rather than part of `test`:
//!
//! - `miri`: the lock-free and pure-logic modules' unit tests under Miri (undefined behaviour,
//!   data races, weak-memory effects), the cross-thread ring test under 16 schedules.
//! - `tsan`: the plugin and the CLAP harness built with ThreadSanitizer, running
//!   `tests/threads.rs` (the host's main, editor and audio threads at once, speech running).

use super::{root, run, target_dir};
use anyhow::Result;
use std::ffi::OsStr;

const TRIPLE: &str = "x86_64-unknown-linux-gnu";

pub fn miri() -> Result<()> {
    run(
        "cargo",
        &[
            "+nightly",
            "miri",
            "test",
            "-p",
            "orator",
            "--lib",
            "--",
            "playback::",
            "triggers::",
            "meters::",
            "--skip",
            "resample",
        ],
        &[],
    )?;
    run(
        "cargo",
        &[
            "+nightly",
            "miri",
            "test",
            "-p",
            "orator",
            "--lib",
            "playback::stream::tests::speech_audio_and_main_threads_share_the_rings",
        ],
        &[("MIRIFLAGS", OsStr::new("-Zmiri-many-seeds=0..16"))],
    )
}

pub fn tsan() -> Result<()> {
    let dir = target_dir().join("tsan");
    let dir_str = dir.to_string_lossy().into_owned();
    let plugin_flags = OsStr::new("-Zsanitizer=thread");
    run(
        "cargo",
        &[
            "+nightly",
            "build",
            "-Zbuild-std",
            "--target",
            TRIPLE,
            "-p",
            "orator",
            "--target-dir",
            &dir_str,
        ],
        &[("RUSTFLAGS", plugin_flags)],
    )?;
    let plugin = dir.join(TRIPLE).join("debug").join("liborator.so");
    let suppressions = root().join("xtask/tsan/suppressions.txt");
    // The test binary exports the sanitizer's runtime, which the plugin library calls into.
    let harness_flags = OsStr::new("-Zsanitizer=thread -Clink-arg=-rdynamic");
    let options = format!("halt_on_error=1 suppressions={}", suppressions.display());
    run(
        "cargo",
        &[
            "+nightly",
            "test",
            "-Zbuild-std",
            "--target",
            TRIPLE,
            "-p",
            "orator-tests",
            "--test",
            "threads",
            "--target-dir",
            &dir_str,
        ],
        &[
            ("RUSTFLAGS", harness_flags),
            ("ORATOR_CLAP", plugin.as_os_str()),
            (
                "ORATOR_RESOURCES",
                target_dir().join("bundled/Orator-resources").as_os_str(),
            ),
            ("TSAN_OPTIONS", OsStr::new(&options)),
        ],
    )
}
