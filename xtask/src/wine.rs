//! The Wine prefix the Windows build is tested in (`target/wine-prefix`), made once per target
//! folder: Debian's Wine 8.0, a fresh 64-bit prefix, and one stand-in DLL.
//!
//! Rust's standard library imports `ProcessPrng` from `bcryptprimitives.dll`, which Windows 10
//! and later have and Wine 8.0 does not; `tests/wine/bcryptprimitives.c` is compiled with
//! MinGW into the prefix's `system32` so test programs start. It is a test fixture only: the
//! shipped bundles never contain it.
//!
//! Windows always has a window station, and nice-plug's Windows event loop makes a hidden
//! window when a plugin instance is created (it panics when that fails), so the host tests run
//! with a virtual X display, as Wine on a desktop would.

use super::{apt_install, run, target_dir};
use anyhow::{Context, Result};
use std::path::PathBuf;

/// Wine, and the virtual display Windows windows open on.
const DEBIAN_PACKAGES: &[&str] = &["wine", "wine64", "xvfb"];

/// Wine's 64-bit loader (Debian puts it outside `PATH`).
pub const LOADER: &str = "/usr/lib/wine/wine64";

/// The environment Wine runs with: the test prefix, no debug channels, no prompts to install
/// Mono or Gecko.
pub fn env(prefix: &std::path::Path) -> Vec<(&'static str, std::ffi::OsString)> {
    vec![
        ("WINEPREFIX", prefix.into()),
        ("WINEARCH", "win64".into()),
        ("WINEDEBUG", "-all".into()),
        ("WINEDLLOVERRIDES", "mscoree,mshtml=".into()),
    ]
}

/// Returns the prepared prefix, making it first if needed.
pub fn prefix() -> Result<PathBuf> {
    apt_install(DEBIAN_PACKAGES)?;
    let prefix = target_dir().join("wine-prefix");
    let system32 = prefix.join("drive_c").join("windows").join("system32");
    let shim = system32.join("bcryptprimitives.dll");
    if shim.is_file() {
        return Ok(prefix);
    }
    let envs = env(&prefix);
    let envs: Vec<(&str, &std::ffi::OsStr)> =
        envs.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    run(LOADER, &["wineboot", "--init"], &envs).context("Wine could not make its prefix")?;
    // wineboot returns before the prefix is written out; the server's exit marks the end.
    run("wineserver", &["--wait"], &envs)?;
    let source = super::root()
        .join("tests")
        .join("wine")
        .join("bcryptprimitives.c");
    run(
        "x86_64-w64-mingw32-gcc-posix",
        &[
            "-shared",
            "-O2",
            "-o",
            &shim.to_string_lossy(),
            &source.to_string_lossy(),
            "-lbcrypt",
        ],
        &[],
    )
    .context("could not build the ProcessPrng stand-in for Wine")?;
    Ok(prefix)
}

/// An Xvfb server on a free display number, stopped when dropped.
struct VirtualDisplay {
    server: std::process::Child,
    name: String,
}

impl VirtualDisplay {
    fn start() -> Result<Self> {
        for number in 230..280 {
            let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
            if socket.exists() || PathBuf::from(format!("/tmp/.X{number}-lock")).exists() {
                continue;
            }
            let name = format!(":{number}");
            let server = std::process::Command::new("Xvfb")
                .args([&name, "-screen", "0", "1280x900x24", "-nolisten", "tcp"])
                .args(["-noreset"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .context("could not start Xvfb")?;
            let display = Self { server, name };
            let started = std::time::Instant::now();
            while started.elapsed() < std::time::Duration::from_secs(10) {
                if socket.exists() {
                    return Ok(display);
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            anyhow::bail!("Xvfb {} did not start within 10 s", display.name);
        }
        anyhow::bail!("no free X display number in 230..280")
    }
}

impl Drop for VirtualDisplay {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// A Linux path as a Windows program under Wine names it (drive `Z:` is `/`).
pub fn windows_path(path: &std::path::Path) -> std::ffi::OsString {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    format!("Z:{}", absolute.display().to_string().replace('/', "\\")).into()
}

/// The Windows tests (README command 2 runs them after the Linux ones): the Windows bundles
/// built, the CLAP host tests built for Windows and run under Wine against them (the
/// allocation check included, on a debug build of its own), the standalone app on a virtual
/// display, then the comparisons with the Linux build from the Linux side (`tests/wine/`).
pub fn test(python: &std::path::Path) -> Result<()> {
    use super::windows;
    windows::build()?;
    // Code under `cfg(windows)` is linted where it is built.
    windows::cross_cargo(
        &[
            "clippy",
            "-p",
            "orator",
            "-p",
            "orator-tests",
            "-p",
            "orator-obs",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    let prefix = prefix()?;
    let alloc_check = super::alloc_check_build(&windows::target(), "orator.dll", |args| {
        windows::cross_cargo(args, &[])
    })?;

    let wine_env = env(&prefix);
    let clap = windows_path(&windows::bundled().join("Orator.clap"));
    let vst3 = windows_path(&windows::bundled().join("Orator.vst3"));
    let alloc_check = windows_path(&alloc_check);
    let runner = format!(
        "CARGO_TARGET_{}_RUNNER",
        windows::TRIPLE.to_uppercase().replace('-', "_")
    );
    let mut envs: Vec<(&str, &std::ffi::OsStr)> =
        wine_env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    envs.extend([
        (runner.as_str(), std::ffi::OsStr::new(LOADER)),
        ("ORATOR_CLAP", clap.as_os_str()),
        ("ORATOR_CLAP_ALLOC_CHECK", alloc_check.as_os_str()),
        ("ORATOR_VST3", vst3.as_os_str()),
    ]);
    let display = VirtualDisplay::start()?;
    envs.push(("DISPLAY", std::ffi::OsStr::new(&display.name)));
    let mut args = vec!["test", "-p", "orator-tests"];
    for test in WINE_HOST_TESTS {
        args.extend(["--test", test]);
    }
    let tested = windows::cross_cargo(&args, &envs);
    // Wine's desktop process belongs to this display: end it with the display.
    let _ = std::process::Command::new("wineserver")
        .arg("--kill")
        .env("WINEPREFIX", &prefix)
        .status();
    drop(display);
    tested?;

    let prefix_os = prefix.as_os_str();
    let bundled = windows::bundled();
    run(
        &super::cargo(),
        &[
            "test",
            "-p",
            "orator-tests",
            "--test",
            "wine_standalone",
            "--",
            "--ignored",
        ],
        &[
            ("ORATOR_WINEPREFIX", prefix_os),
            ("ORATOR_WINDOWS", bundled.as_os_str()),
        ],
    )?;
    let linux_cli = target_dir().join("bundled").join("orator");
    run(
        &python.to_string_lossy(),
        &["-m", "pytest", "-q", "tests/wine"],
        &[
            ("ORATOR_WINEPREFIX", prefix_os),
            ("ORATOR_WINDOWS", bundled.as_os_str()),
            ("ORATOR_CLI", linux_cli.as_os_str()),
        ],
    )
}

/// The host tests that run under Wine against the Windows bundles: for CLAP loading, ports and
/// parameters, every rate and block size, state, speech, notes and the timeline, and the
/// allocation check; for VST3 our own small host. The rest start Linux programs (JACK, X11
/// editors, readelf) or measure this process's Linux memory.
const WINE_HOST_TESTS: &[&str] = &[
    "clap_host",
    "offline",
    "realtime",
    "timeline",
    "process_allocs",
    "vst3_host",
];
