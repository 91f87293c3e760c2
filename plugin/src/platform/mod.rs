//! The operating system's side of Orator, behind one small seam: where the running binary
//! lives, where the user's files go, how the ONNX Runtime library is named and loaded, keeping
//! the plugin library resident, and giving freed memory back (and, in Orator's own executables, how
//! the allocator maps large blocks). Everything else in the crate is
//! the same code on every platform; a function here that has nothing to do on one platform is
//! a documented no-op there, never a missing feature.
//!
//! Thread model: none of these run on the audio thread. They are called while a plugin
//! instance is created, by the speech thread before it loads a voice, and by editors and
//! servers looking for the user's folders.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as os;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as os;

use std::path::{Path, PathBuf};

/// Why the ONNX Runtime library could not be loaded by [`preload_runtime`].
#[derive(Debug, thiserror::Error)]
pub enum PreloadError {
    /// The operating system refused the library (the message says what to install when a
    /// library it imports is missing).
    #[error(
        "Windows could not load it ({0}); if it names a missing MSVCP140 or VCRUNTIME140 \
         library, install the Microsoft Visual C++ 2015-2022 redistributable"
    )]
    Refused(std::io::Error),
}

/// The ONNX Runtime library inside the resources folder, as the wheel it comes from names it.
pub const ONNXRUNTIME_LIBRARY: &str = os::ONNXRUNTIME_LIBRARY;

/// The file of the binary (plugin library or executable) this crate was linked into.
pub fn own_binary() -> Option<PathBuf> {
    os::own_binary()
}

/// Keeps the plugin library mapped until the process ends, whatever the host unloads (see
/// `docs/design/unloading.md`): on Linux the link flag `-z nodelete` does it, on Windows the
/// module is pinned the first time this runs.
pub fn keep_resident() {
    os::keep_resident();
}

/// Loads ONNX Runtime's library from `library` so that the libraries it depends on are found in
/// its own folder (Windows looks beside the host's executable otherwise), before ONNX Runtime's
/// bindings open it by the same path.
pub fn preload_runtime(library: &Path) -> Result<(), PreloadError> {
    os::preload_runtime(library)
}

/// Hands memory the allocator keeps after large frees back to the system (glibc keeps it in its
/// heaps; the other allocators Orator meets return it themselves, so this is a no-op there).
pub fn release_freed_memory() {
    os::release_freed_memory();
}

/// Sets the allocator up for a process that is Orator's own (the CLI, the server, the
/// standalone app), never a host's: called first thing in `main`. With glibc, blocks of 1 MiB
/// and more are mapped on their own and unmapped when freed, whatever was freed before;
/// glibc's default raises that size to the largest block freed so far (up to 32 MiB), after
/// which the tensors of long runs are carved from the heap, and the heap stays fragmented at its
/// largest. Measured in `docs/design/streaming.md`. A no-op with other allocators.
pub fn tune_own_process_allocator() {
    os::tune_own_process_allocator();
}

/// The user's data folder for Orator's files (`voices`, `presets`): `$XDG_DATA_HOME/orator`
/// (`~/.local/share/orator`) on Linux, `%APPDATA%\orator` on Windows.
pub fn user_data_dir() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("orator"))
}

/// The folder caches go in: `$XDG_CACHE_HOME` (`~/.cache`) on Linux, `%LOCALAPPDATA%` on
/// Windows.
pub fn cache_dir() -> Option<PathBuf> {
    dirs::cache_dir()
}

/// The user's home folder, where file pickers open when no better folder is known.
pub fn home_dir() -> Option<PathBuf> {
    dirs::home_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_binary_can_name_itself() {
        let me = own_binary().expect("the platform names the test binary");
        assert!(me.is_file(), "{}", me.display());
        let name = me.file_name().map(|n| n.to_string_lossy().into_owned());
        assert!(
            name.is_some_and(|n| n.starts_with("orator")),
            "{}",
            me.display()
        );
    }

    #[test]
    fn a_runtime_that_is_not_there_is_an_error_not_a_crash() {
        let err = preload_runtime(Path::new("/nonexistent/onnxruntime-library"));
        // Linux loads ONNX Runtime through `ort` alone, so there is nothing to preload.
        if cfg!(windows) {
            assert!(err.is_err());
        } else {
            assert!(err.is_ok());
        }
    }
}
