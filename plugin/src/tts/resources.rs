//! Finding Orator's runtime resources (ONNX Runtime, espeak-ng data, voices) relative to the
//! plugin's own binary, never the host's working directory or paths from where it was built.
//!
//! Looked for, in order (the first folder holding `espeak-ng-data/phontab` wins):
//! 1. `$ORATOR_RESOURCES`;
//! 2. `<binary dir>/../Resources`: inside a VST3 bundle (`Orator.vst3/Contents/x86_64-linux/`);
//! 3. `<binary dir>/Orator-resources`: beside a `.clap` file or the standalone app;
//! 4. `<binary dir>/../assets`, `<binary dir>/../../assets`: a development build in
//!    `target/<profile>/` (programs) or `target/<profile>/deps/` (tests and benches), looked
//!    at only when the binary does sit in a cargo `target` folder, so an installed plugin never
//!    picks up an `assets` folder that happens to lie two levels above it.

use std::path::{Path, PathBuf};

/// The ONNX Runtime library inside the resources folder.
pub const ONNXRUNTIME_LIBRARY: &str = "onnxruntime/libonnxruntime.so.1.32.0";
/// The default voice's model inside the resources folder.
pub const DEFAULT_VOICE: &str = "voices/en_US-joe-medium.onnx";

/// A resources folder that was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    /// The folder.
    pub root: PathBuf,
}

/// Why no resources folder was found.
#[derive(Debug, thiserror::Error)]
#[error(
    "Orator's resources (voices, espeak-ng data, ONNX Runtime) were not found; looked in: \
     {tried}. Reinstall the plugin with its resources folder, or set ORATOR_RESOURCES"
)]
pub struct NotFound {
    /// The folders tried, for the message.
    pub tried: String,
}

impl Resources {
    /// Finds the resources folder for the binary this code runs in.
    pub fn locate() -> Result<Self, NotFound> {
        let mut candidates = Vec::new();
        if let Some(dir) = std::env::var_os("ORATOR_RESOURCES") {
            candidates.push(PathBuf::from(dir));
        }
        if let Some(dir) = own_binary().as_deref().and_then(Path::parent) {
            candidates.push(dir.join("..").join("Resources"));
            candidates.push(dir.join("Orator-resources"));
            candidates.extend(development_assets(dir));
        }
        Self::first_valid(&candidates)
    }

    /// The first of `candidates` that holds espeak-ng data.
    pub fn first_valid(candidates: &[PathBuf]) -> Result<Self, NotFound> {
        candidates
            .iter()
            .find(|dir| dir.join("espeak-ng-data").join("phontab").is_file())
            .map(|dir| Resources {
                root: dir.canonicalize().unwrap_or_else(|_| dir.clone()),
            })
            .ok_or_else(|| NotFound {
                tried: candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// espeak-ng's data folder.
    pub fn espeak_data(&self) -> PathBuf {
        self.root.join("espeak-ng-data")
    }

    /// The ONNX Runtime shared library.
    pub fn onnxruntime(&self) -> PathBuf {
        self.root.join(ONNXRUNTIME_LIBRARY)
    }

    /// The default voice's model.
    pub fn default_voice(&self) -> PathBuf {
        self.root.join(DEFAULT_VOICE)
    }

    /// The bundled voices' folder.
    pub fn voices_dir(&self) -> PathBuf {
        self.root.join("voices")
    }
}

/// The user's own voices folder: `$XDG_DATA_HOME/orator/voices` (`~/.local/share/orator/voices`
/// when it is not set). Voices dropped there are offered beside the bundled ones.
pub fn user_voices_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .map(|data| data.join("orator").join("voices"))
}

/// The `assets` folder of a development build, for a binary in `dir`: `target/assets` when
/// `dir` is `target/<profile>` or `target/<profile>/deps`, nothing anywhere else.
fn development_assets(dir: &Path) -> Option<PathBuf> {
    let named = |path: Option<&Path>, name: &str| {
        path.and_then(Path::file_name)
            .is_some_and(|n| n == std::ffi::OsStr::new(name))
    };
    let profile = if named(Some(dir), "deps") {
        dir.parent()?
    } else {
        dir
    };
    let target = profile.parent()?;
    named(Some(target), "target").then(|| target.join("assets"))
}

/// The file of the binary (plugin library or executable) this function was linked into.
fn own_binary() -> Option<PathBuf> {
    let mut info = libc::Dl_info {
        dli_fname: std::ptr::null(),
        dli_fbase: std::ptr::null_mut(),
        dli_sname: std::ptr::null(),
        dli_saddr: std::ptr::null_mut(),
    };
    let address = own_binary as *const libc::c_void;
    // SAFETY: dladdr only reads the loader's tables; `info` is a valid out-pointer, and the
    // returned name points into loader-owned memory that stays valid while the library is
    // loaded (we copy it at once).
    let found = unsafe { libc::dladdr(address, &mut info) } != 0;
    if !found || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname is a NUL-terminated string owned by the loader (checked non-null).
    let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    let path = PathBuf::from(
        <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(name.to_bytes()),
    );
    path.canonicalize().ok().or(Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_resources_list_every_folder_tried() {
        let err = Resources::first_valid(&[PathBuf::from("/nonexistent/a"), PathBuf::from("/b")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/nonexistent/a, /b") && err.contains("ORATOR_RESOURCES"),
            "{err}"
        );
    }

    #[test]
    fn development_assets_are_looked_for_only_inside_a_cargo_target_folder() {
        let found = |dir: &str| development_assets(Path::new(dir));
        assert_eq!(
            found("/src/orator/target/release"),
            Some(PathBuf::from("/src/orator/target/assets"))
        );
        assert_eq!(
            found("/src/orator/target/debug/deps"),
            Some(PathBuf::from("/src/orator/target/assets"))
        );
        // Installed plugins: never a folder above them.
        for installed in [
            "/home/me/.clap",
            "/usr/lib/vst3/Orator.vst3/Contents/x86_64-linux",
            "/opt/deps",
            "/",
        ] {
            assert_eq!(found(installed), None, "{installed}");
        }
    }

    #[test]
    fn the_test_binary_can_name_itself() {
        let me = own_binary().expect("dladdr names the test binary");
        assert!(me.is_file(), "{}", me.display());
    }
}
