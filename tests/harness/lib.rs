//! The test harness: the built Orator bundles driven as hosts drive them, and what the tests
//! share besides.
//!
//! - [`clap`]: a small in-process CLAP host built on `clack-host` (load the `.clap`, read its
//!   descriptor, ports and parameters, save and load state, activate at any sample rate and
//!   process blocks of any size with parameter, note and transport events); [`vst3`]: the same
//!   for the VST3 bundle.
//! - [`state_blob`]: nice-plug's saved state, read and edited.
//! - [`phrases`]: a phrase rendered through the CLAP bundle live or as a bounce, and the two
//!   compared.
//! - [`display`], [`http`], [`speakerbot`], [`signal`], `synthetic_voice`: a virtual display,
//!   HTTP and WebSocket clients of the API, signal checks, a voice made for tests.
//!
//! Thread model: everything runs on the calling thread. That is legal for a host (CLAP only
//! requires that audio-thread calls are not concurrent), and it keeps tests deterministic.

pub mod clap;
pub mod display;
pub mod http;
pub mod phrases;
pub mod signal;
pub mod speakerbot;
pub mod state_blob;
#[path = "../../plugin/tests/support/synthetic_voice.rs"]
pub mod synthetic_voice;
pub mod vst3;

pub use clap::*;
pub use phrases::*;
pub use state_blob::*;

use anyhow::{Context, Result, ensure};
use std::path::{Path, PathBuf};

/// The standalone app's arguments for nice-plug's dummy audio backend: `process()` called at
/// real-time pace (48 kHz, 512-frame periods) with no sound card.
pub const DUMMY_BACKEND: [&str; 6] = [
    "--backend",
    "dummy",
    "--sample-rate",
    "48000",
    "--period-size",
    "512",
];

/// Where the release bundle is, unless `ORATOR_CLAP` names another file.
pub fn bundle_path() -> PathBuf {
    path_from_env("ORATOR_CLAP", "target/bundled/Orator.clap")
}

/// Where the release CLI is, unless `ORATOR_CLI` names another file.
pub fn cli_path() -> PathBuf {
    path_from_env("ORATOR_CLI", "target/bundled/orator")
}

/// Where the debug build with `assert_process_allocs` is, unless `ORATOR_CLAP_ALLOC_CHECK` names
/// another file.
pub fn alloc_check_bundle_path() -> PathBuf {
    path_from_env("ORATOR_CLAP_ALLOC_CHECK", "target/alloc-check/Orator.clap")
}

fn path_from_env(var: &str, default_in_workspace: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(default_in_workspace),
    }
}

/// Runs the ignored test `test` of this test binary in a child process with `envs` set, and
/// checks that it succeeded and printed `done`. A crash at exit (a destructor or a thread left
/// behind) then fails the calling test instead of killing the test runner.
pub fn run_in_child(test: &str, envs: &[(&str, &std::ffi::OsStr)], done: &str) -> Result<()> {
    let output = std::process::Command::new(std::env::current_exe()?)
        .args(["--exact", test, "--include-ignored", "--nocapture"])
        .envs(envs.iter().copied())
        .output()
        .context("could not start the child process")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(
        output.status.success(),
        "the child process failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    ensure!(
        stdout.contains(done),
        "the child did not print {done:?}:\n{stdout}\n{stderr}"
    );
    Ok(())
}
