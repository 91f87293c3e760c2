//! `cargo xtask build-windows`: the Windows bundles, cross-built from Linux with MinGW-w64.
//!
//! ```text
//! target/bundled-windows/
//!   Orator.clap                     the plugin library (a DLL) as a CLAP plugin
//!   Orator-resources/               voices, espeak-ng data, onnxruntime.dll
//!   Orator.vst3/Contents/x86_64-win/Orator.vst3   the same DLL in the VST3 bundle layout
//!   Orator.vst3/Contents/Resources/ the resources again, inside the bundle
//!   orator.exe, orator-standalone.exe   the CLI and the standalone app (find Orator-resources)
//!   obs-plugins/orator/bin/64bit/orator.dll   the OBS filter module (imports obs.dll by name)
//!   obs-plugins/orator/data/        its resources
//! target/orator-windows-x86_64.zip   all of the above
//! ```
//!
//! What differs from the Linux build, and why:
//! - espeak-ng's CMake build wants a sonic library and would fetch one from the network; sonic's
//!   source comes pinned from Debian's archive instead and is compiled here with MinGW, then
//!   named to CMake (`CMAKE_LIBRARY_PATH`/`CMAKE_INCLUDE_PATH`) and to `plugin/build.rs`
//!   (`SONIC_LIB_DIR`).
//! - The C++ runtime and winpthreads are linked statically (their static archives are put
//!   first on the library path), so the binaries import only Windows' own DLLs: a host loads a
//!   plugin's dependencies from the host's folder and `PATH`, never the plugin's.
//! - ONNX Runtime comes from the same PyPI release as Linux's, in its `win_amd64` wheel.
//! - espeak-ng's compiled data and the voices are the Linux build's: they are data, the same on
//!   every platform.

use super::assets::{self, Download, Wheel};
use super::{apt_install, cargo, run, target_dir};
use anyhow::{Context, Result, ensure};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Rust target the Windows build is for.
pub const TRIPLE: &str = "x86_64-pc-windows-gnu";

/// The MinGW-w64 toolchain (its POSIX thread model, which Rust's std and espeak-ng's C++ need)
/// and curl for the sonic source.
const BUILD_DEBIAN_PACKAGES: &[&str] = &[
    "gcc-mingw-w64-x86-64-posix",
    "g++-mingw-w64-x86-64-posix",
    "curl",
];

/// The MinGW programs the build uses.
const GCC: &str = "x86_64-w64-mingw32-gcc-posix";
const GXX: &str = "x86_64-w64-mingw32-g++-posix";
const AR: &str = "x86_64-w64-mingw32-ar";

/// Sonic 0.2.0, the release Debian packages as `libsonic-dev` (Apache-2.0).
const SONIC: Download = Download {
    url: "http://deb.debian.org/debian/pool/main/s/sonic/sonic_0.2.0.orig.tar.gz",
    file_name: "sonic_0.2.0.orig.tar.gz",
    sha256: "c7827ce576838467590ffa1f935fbe1049e896dfed6c515cf569ad3779c24085",
};
const SONIC_FOLDER: &str = "sonic-release-0.2.0";

/// ONNX Runtime for Windows: the same release as the Linux build's.
const WHEELS: &[Wheel] = &[Wheel {
    requirement: "onnxruntime==1.32.0",
    pip_flags: &[
        "--only-binary=:all:",
        "--python-version=3.11",
        "--implementation=cp",
        "--abi=cp311",
        "--platform=win_amd64",
    ],
    file_name: "onnxruntime-1.32.0-cp311-cp311-win_amd64.whl",
    sha256: "d7e0c45cc5f456ad7805e6dd256a7662736cda9c2fd17becae194eb3c2f6df72",
    extract: &[(
        "onnxruntime/capi/onnxruntime.dll",
        "onnxruntime/onnxruntime.dll",
    )],
}];

/// Static archives that must be found before MinGW's import libraries of the same name.
const STATIC_RUNTIME: &[(&str, &str)] = &[
    (
        "/usr/lib/gcc/x86_64-w64-mingw32/12-posix/libstdc++.a",
        "libstdc++.a",
    ),
    (
        "/usr/x86_64-w64-mingw32/lib/libwinpthread.a",
        "libwinpthread.a",
    ),
    (
        "/usr/x86_64-w64-mingw32/lib/libwinpthread.a",
        "libpthread.a",
    ),
];

/// The cross build's own folder under `target/` (cargo's, for this triple).
pub fn target() -> PathBuf {
    target_dir().join(TRIPLE)
}

/// The resources a Windows binary in a development build finds (`target/<triple>/assets`).
pub fn assets_dir() -> PathBuf {
    target().join("assets")
}

/// Where the finished Windows bundles go.
pub fn bundled() -> PathBuf {
    target_dir().join("bundled-windows")
}

/// Installs the cross toolchain: MinGW-w64 from Debian, Rust's standard library for the target.
pub fn toolchain() -> Result<()> {
    apt_install(BUILD_DEBIAN_PACKAGES)?;
    run("rustup", &["target", "add", TRIPLE], &[])
        .context("rustup could not add the Windows target")
}

/// Builds `libsonic.a` for Windows (once) and sets out the static runtime archives; returns
/// the folder holding `lib/`, `include/` and `static/`.
fn native_deps() -> Result<PathBuf> {
    let deps = target().join("native-deps");
    let lib = deps.join("lib").join("libsonic.a");
    let (include, statics) = (deps.join("include"), deps.join("static"));
    if !lib.is_file() {
        let tarball = assets::download(&SONIC)?;
        let scratch = deps.join("src");
        if scratch.exists() {
            fs::remove_dir_all(&scratch)?;
        }
        fs::create_dir_all(&scratch)?;
        let members = [
            format!("{SONIC_FOLDER}/sonic.c"),
            format!("{SONIC_FOLDER}/sonic.h"),
        ];
        let (tar_file, dir) = (tarball.to_string_lossy(), scratch.to_string_lossy());
        run(
            "tar",
            &[
                "-xzf",
                &tar_file,
                "-C",
                &dir,
                members[0].as_str(),
                members[1].as_str(),
            ],
            &[],
        )?;
        let source = scratch.join(SONIC_FOLDER);
        let object = scratch.join("sonic.o");
        run(
            GCC,
            &[
                "-O2",
                "-c",
                &source.join("sonic.c").to_string_lossy(),
                "-o",
                &object.to_string_lossy(),
            ],
            &[],
        )?;
        fs::create_dir_all(&include)?;
        fs::copy(source.join("sonic.h"), include.join("sonic.h"))?;
        fs::create_dir_all(lib.parent().context("no parent")?)?;
        let partial = lib.with_extension("partial");
        fs::remove_file(&partial).ok();
        run(
            AR,
            &["rcs", &partial.to_string_lossy(), &object.to_string_lossy()],
            &[],
        )?;
        fs::rename(&partial, &lib)?;
    }
    fs::create_dir_all(&statics)?;
    for (from, name) in STATIC_RUNTIME {
        fs::copy(from, statics.join(name))
            .with_context(|| format!("{from} is missing: is MinGW-w64 (posix) installed?"))?;
    }
    Ok(deps)
}

/// The environment every cargo command for the Windows target runs with.
pub fn cross_env() -> Result<Vec<(String, OsString)>> {
    toolchain()?;
    let deps = native_deps()?;
    let upper = TRIPLE.to_uppercase().replace('-', "_");
    let lower = TRIPLE.replace('-', "_");
    let statics = format!("-L native={}", deps.join("static").display());
    Ok(vec![
        (format!("CARGO_TARGET_{upper}_LINKER"), GCC.into()),
        (format!("CARGO_TARGET_{upper}_RUSTFLAGS"), statics.into()),
        (format!("CC_{lower}"), GCC.into()),
        (format!("CXX_{lower}"), GXX.into()),
        (format!("AR_{lower}"), AR.into()),
        ("CMAKE_LIBRARY_PATH".into(), deps.join("lib").into()),
        ("CMAKE_INCLUDE_PATH".into(), deps.join("include").into()),
        ("SONIC_LIB_DIR".into(), deps.join("lib").into()),
        // LAME's own configure script, told the MinGW toolchain's name for Windows.
        (
            "MP3LAME_SYS_OVERRIDE_HOST".into(),
            "x86_64-w64-mingw32".into(),
        ),
    ])
}

/// Runs cargo with `args` for the Windows target, in the cross environment.
pub fn cross_cargo(args: &[&str], extra: &[(&str, &std::ffi::OsStr)]) -> Result<()> {
    let env = cross_env()?;
    let mut all: Vec<(&str, &std::ffi::OsStr)> = env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_os_str()))
        .collect();
    all.extend(extra.iter().copied());
    // Cargo's own options go before a `--` that starts the tool's (clippy's, a test's).
    let mut full = args.to_vec();
    let at = full.iter().position(|&a| a == "--").unwrap_or(full.len());
    full.splice(at..at, ["--target", TRIPLE]);
    run(&cargo(), &full, &all)
}

/// Builds the Windows resources: ONNX Runtime's DLL, and the Linux build's espeak-ng data and
/// voices (call after [`super::build`]'s assets exist).
fn windows_assets() -> Result<PathBuf> {
    let dir = assets_dir();
    assets::extract_missing(WHEELS, &dir)?;
    let linux = target_dir().join("assets");
    for part in ["espeak-ng-data", "voices"] {
        let dest = dir.join(part);
        if dest.exists() {
            fs::remove_dir_all(&dest)?;
        }
        assets::copy_tree(&linux.join(part), &dest)?;
    }
    Ok(dir)
}

/// `cargo xtask build-windows`: see the module's map.
pub fn build() -> Result<()> {
    let linux_assets = target_dir().join("assets");
    ensure!(
        linux_assets
            .join("espeak-ng-data")
            .join("phontab")
            .is_file(),
        "build the Linux bundles first (`cargo xtask build`): the Windows build reuses their \
         espeak-ng data and voices"
    );
    // One invocation, one feature set: the OBS module links the library built for the plugin.
    cross_cargo(
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
    )?;
    let resources = windows_assets()?;
    let out = bundled();
    if out.exists() {
        fs::remove_dir_all(&out)?;
    }
    let release = target().join("release");
    let library = release.join("orator.dll");
    let vst3_binary = out.join("Orator.vst3").join("Contents").join("x86_64-win");
    fs::create_dir_all(&vst3_binary)?;
    fs::copy(&library, out.join("Orator.clap"))
        .with_context(|| format!("could not copy {}", library.display()))?;
    fs::copy(&library, vst3_binary.join("Orator.vst3"))?;
    let obs_module = out.join("obs-plugins").join("orator");
    let obs_binary = obs_module.join("bin").join("64bit");
    fs::create_dir_all(&obs_binary)?;
    fs::copy(
        release.join("orator_obs.dll"),
        obs_binary.join("orator.dll"),
    )
    .context("could not copy the OBS module")?;
    for dest in [
        out.join("Orator-resources"),
        out.join("Orator.vst3").join("Contents").join("Resources"),
        obs_module.join("data"),
    ] {
        for part in ["onnxruntime", "espeak-ng-data", "voices"] {
            assets::copy_tree(&resources.join(part), &dest.join(part))?;
        }
    }
    for program in ["orator.exe", "orator-standalone.exe"] {
        fs::copy(release.join(program), out.join(program))
            .with_context(|| format!("could not copy {program}"))?;
    }
    check_imports(&out)?;
    let zip = target_dir().join("orator-windows-x86_64.zip");
    zip_folder(&out, &zip)?;
    eprintln!(
        "\nWindows bundles ready in {} (and {})",
        out.display(),
        zip.display()
    );
    Ok(())
}

/// DLLs a Windows binary may import: Windows' own (and the C runtime every Windows has).
fn is_system_dll(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("api-ms-win-")
        || [
            "kernel32.dll",
            "user32.dll",
            "gdi32.dll",
            "advapi32.dll",
            "shell32.dll",
            "ole32.dll",
            "oleaut32.dll",
            "ws2_32.dll",
            "ntdll.dll",
            "msvcrt.dll",
            "bcrypt.dll",
            "bcryptprimitives.dll",
            "userenv.dll",
            "opengl32.dll",
            "comdlg32.dll",
            "dwmapi.dll",
            "uxtheme.dll",
            "imm32.dll",
            "winmm.dll",
            "comctl32.dll",
            "shlwapi.dll",
            "propsys.dll",
            "avrt.dll",
            "ksuser.dll",
            "secur32.dll",
            "iphlpapi.dll",
            "dbghelp.dll",
            "synchronization.dll",
            "combase.dll",
            "rpcrt4.dll",
            "crypt32.dll",
            "mmdevapi.dll",
            "version.dll",
        ]
        .contains(&name.as_str())
}

/// Fails if a built binary imports a DLL that is not part of Windows (a MinGW runtime DLL the
/// static link missed would make the plugin fail to load on a user's machine).
fn check_imports(out: &Path) -> Result<()> {
    let obs_module = Path::new("obs-plugins/orator/bin/64bit/orator.dll");
    for binary in [
        Path::new("Orator.clap"),
        Path::new("orator.exe"),
        Path::new("orator-standalone.exe"),
        obs_module,
    ] {
        let path = out.join(binary);
        let dump = Command::new("x86_64-w64-mingw32-objdump")
            .arg("-p")
            .arg(&path)
            .output()
            .context("could not run x86_64-w64-mingw32-objdump")?;
        let text = String::from_utf8_lossy(&dump.stdout);
        let foreign: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("DLL Name: "))
            // The OBS module's one outside import is OBS's own library, which loads it.
            .filter(|name| !(is_system_dll(name) || binary == obs_module && *name == "obs.dll"))
            .collect();
        ensure!(
            foreign.is_empty(),
            "{} imports {foreign:?}, which Windows does not have",
            path.display()
        );
    }
    Ok(())
}

/// Zips `folder` (its name as the top folder) into `zip`, with the `zip` crate.
fn zip_folder(folder: &Path, zip: &Path) -> Result<()> {
    let file = fs::File::create(zip).with_context(|| format!("create {}", zip.display()))?;
    let mut writer = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let base = folder.parent().unwrap_or(Path::new("."));
    let mut pending = vec![folder.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let mut entries: Vec<_> = fs::read_dir(&dir)?.filter_map(|e| e.ok()).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let name = path
                .strip_prefix(base)?
                .to_string_lossy()
                .replace('\\', "/");
            if entry.file_type()?.is_dir() {
                writer.add_directory(name, options)?;
                pending.push(path);
            } else {
                writer.start_file(name, options)?;
                std::io::copy(&mut fs::File::open(&path)?, &mut writer)?;
            }
        }
    }
    writer.finish()?;
    Ok(())
}
