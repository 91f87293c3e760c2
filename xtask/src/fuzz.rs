//! The fuzz targets in `fuzz/` (cargo-fuzz, libFuzzer): installs a pinned cargo-fuzz, builds
//! the targets with coverage instrumentation on the stable toolchain (no sanitizer: Orator's
//! parsers are safe Rust, so a bug shows as a panic, which libFuzzer reports as a crash) and
//! runs each for a bounded time from its committed seed corpus.

use super::{cargo, root, run, target_dir};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;

/// cargo-fuzz, pinned so a run today builds the targets as a run next month does.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Every target in `fuzz/fuzz_targets/`.
pub const TARGETS: &[&str] = &[
    "model",
    "voice_config",
    "session",
    "text",
    "api_messages",
    "http_head",
];

/// Seconds each target runs in `cargo xtask test` (`ORATOR_FUZZ_SECONDS` overrides).
const TEST_SECONDS: u64 = 30;

fn cargo_fuzz() -> Result<PathBuf> {
    let tools = target_dir().join("tools");
    let binary = tools.join("bin").join("cargo-fuzz");
    let installed = std::process::Command::new(&binary)
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(CARGO_FUZZ_VERSION));
    if !installed {
        run(
            &cargo(),
            &[
                "install",
                "cargo-fuzz",
                "--locked",
                "--version",
                &format!("={CARGO_FUZZ_VERSION}"),
                "--root",
                &tools.to_string_lossy(),
            ],
            &[],
        )?;
    }
    Ok(binary)
}

/// Arguments every cargo-fuzz call shares: the fuzz project, no sanitizer (stable Rust), and
/// the workspace's one target directory.
fn common_args() -> Vec<String> {
    vec![
        "--fuzz-dir".into(),
        root().join("fuzz").to_string_lossy().into_owned(),
        "--sanitizer".into(),
        "none".into(),
        "--target-dir".into(),
        target_dir().join("fuzz").to_string_lossy().into_owned(),
    ]
}

/// Builds every target, then runs each for `seconds` (all of them, or only `only`). New inputs
/// go to `target/fuzz-corpus/<target>`, crashes to `target/fuzz-artifacts/<target>/`; the first
/// crash fails the run.
pub fn fuzz(only: Option<&str>, seconds: u64, espeak_data: &std::path::Path) -> Result<()> {
    if let Some(name) = only
        && !TARGETS.contains(&name)
    {
        bail!(
            "no fuzz target `{name}`; the targets are {}",
            TARGETS.join(", ")
        );
    }
    run(
        &cargo(),
        &[
            "fmt",
            "--manifest-path",
            &root().join("fuzz/Cargo.toml").to_string_lossy(),
            "--check",
        ],
        &[],
    )?;
    let cargo_fuzz = cargo_fuzz()?;
    let cargo_fuzz = cargo_fuzz.to_string_lossy();
    let mut build = vec!["fuzz".to_owned(), "build".to_owned()];
    build.extend(common_args());
    run(&cargo_fuzz, &as_strs(&build), &[])?;
    for target in TARGETS.iter().filter(|t| only.is_none_or(|o| o == **t)) {
        let corpus = target_dir().join("fuzz-corpus").join(target);
        let artifacts = target_dir().join("fuzz-artifacts").join(target);
        std::fs::create_dir_all(&corpus).context("could not create the fuzz corpus folder")?;
        std::fs::create_dir_all(&artifacts)
            .context("could not create the fuzz artifacts folder")?;
        let mut args = vec!["fuzz".to_owned(), "run".to_owned()];
        args.extend(common_args());
        args.extend([
            (*target).to_owned(),
            corpus.to_string_lossy().into_owned(),
            root()
                .join("fuzz/corpus")
                .join(target)
                .to_string_lossy()
                .into_owned(),
            "--".into(),
            format!("-max_total_time={seconds}"),
            "-timeout=10".into(),
            "-rss_limit_mb=4096".into(),
            "-print_final_stats=1".into(),
            format!("-artifact_prefix={}/", artifacts.to_string_lossy()),
        ]);
        run(
            &cargo_fuzz,
            &as_strs(&args),
            &[("ORATOR_ESPEAK_DATA", espeak_data.as_os_str())],
        )?;
    }
    Ok(())
}

/// Seconds per target for the test command.
pub fn test_seconds() -> u64 {
    std::env::var("ORATOR_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(TEST_SECONDS)
}

fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}
