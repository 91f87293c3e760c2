//! Finding Orator's runtime resources (ONNX Runtime, espeak-ng data, voices) relative to the
//! plugin's own binary, never the host's working directory or paths from where it was built.
//!
//! Looked for, in order (the first folder holding `espeak-ng-data/phontab` wins):
//! 1. `$ORATOR_RESOURCES`;
//! 2. `<binary dir>/../Resources`: inside a VST3 bundle (`Orator.vst3/Contents/x86_64-linux/`,
//!    `Orator.vst3/Contents/x86_64-win/`);
//! 3. `<binary dir>/Orator-resources`: beside a `.clap` file or the standalone app;
//! 4. `target/assets` (`target/<triple>/assets` for a cross build) for a development build in
//!    `target/<profile>/` (programs) or `target/<profile>/deps/` (tests and benches), looked
//!    at only when the binary does sit in a cargo `target` folder, so an installed plugin never
//!    picks up an `assets` folder that happens to lie two levels above it.

use std::path::{Path, PathBuf};

pub use crate::platform::ONNXRUNTIME_LIBRARY;
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
        if let Some(dir) = crate::platform::own_binary()
            .as_deref()
            .and_then(Path::parent)
        {
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

/// The user's own voices folder, `voices` in the user's data folder
/// ([`crate::platform::user_data_dir`]). Voices dropped there are offered beside the bundled ones.
pub fn user_voices_dir() -> Option<PathBuf> {
    crate::platform::user_data_dir().map(|data| data.join("voices"))
}

/// The `assets` folder of a development build, for a binary in `dir`: `target/assets` when
/// `dir` is `target/<profile>` or `target/<profile>/deps`, `target/<triple>/assets` when it is
/// `target/<triple>/<profile>` or below (a cross build, whose assets differ), nothing anywhere
/// else.
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
    let above = profile.parent()?;
    if named(Some(above), "target") {
        return Some(above.join("assets"));
    }
    named(above.parent(), "target").then(|| above.join("assets"))
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
        assert_eq!(
            found("/src/orator/target/x86_64-pc-windows-gnu/debug/deps"),
            Some(PathBuf::from(
                "/src/orator/target/x86_64-pc-windows-gnu/assets"
            ))
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
}
