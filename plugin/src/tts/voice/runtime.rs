//! ONNX Runtime: one environment per process (ONNX Runtime allows no more), and one session per
//! voice file shared by every plugin instance in the process.
//!
//! Session options, chosen by measurement (docs/design/streaming.md):
//! - intra-op threads: one fewer than the machine's cores, 1 to 4. The host's audio thread must
//!   keep a core to itself; on a 2-core machine that means one thread (16 words: 0.94 s with
//!   one, 0.52 s with two when nothing else runs).
//! - graph optimisation disabled: session creation 183 ms instead of 499 ms, synthesis time the
//!   same (measured through onnxruntime 1.32 with this voice).
//! - memory pattern off: shapes vary per sentence; with it on, peak memory grows.
//!
//! A streaming voice's two sessions are built, from the second load on, on its split model saved
//! in ONNX Runtime's format and used in place ([`super::disk_cache`]).

use crate::tts::model::external;
use crate::tts::model::wire::GraphError;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The process's ONNX Runtime environment, created on first use from the library file.
static ENVIRONMENT: OnceLock<ort::environment::Environment> = OnceLock::new();
/// Serialises environment creation (a failed attempt may be retried with another library).
static ENVIRONMENT_INIT: Mutex<()> = Mutex::new(());

/// Why ONNX Runtime could not start.
#[derive(Debug, thiserror::Error)]
#[error(
    "ONNX Runtime could not be loaded from {path}: {message}. Check that the file exists and is \
     ONNX Runtime 1.32 for this platform (set ORATOR_RESOURCES to Orator's resources folder if \
     it moved)"
)]
pub struct RuntimeError {
    /// The library tried.
    pub path: PathBuf,
    /// What failed.
    pub message: String,
}

/// Loads ONNX Runtime from `library` (an absolute path: relative names would resolve against
/// the host's executable) unless it is already loaded.
pub fn runtime(library: &Path) -> Result<&'static ort::environment::Environment, RuntimeError> {
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env);
    }
    let _guard = ENVIRONMENT_INIT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env);
    }
    let error = |message: String| RuntimeError {
        path: library.to_path_buf(),
        message,
    };
    if !library.is_file() {
        return Err(error("no such file".into()));
    }
    crate::platform::preload_runtime(library).map_err(|e| error(e.to_string()))?;
    let env = ort::init_from(library)
        .map_err(|e| error(e.to_string()))?
        .with_name("orator")
        .build()
        .map_err(|e| error(e.to_string()))?;
    Ok(ENVIRONMENT.get_or_init(|| env))
}

/// ONNX Runtime threads for synthesis: all cores but one for the host, at least 1, at most 4
/// (more gives little on Piper-sized models).
pub fn intra_op_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.saturating_sub(1).clamp(1, 4)
}

/// Why a session could not be built, or a model not written for one.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// ONNX Runtime refused the model or an option.
    #[error(
        "ONNX Runtime could not use the model ({0}); check that the voice file is a complete \
         Piper .onnx model"
    )]
    Onnx(String),
    /// A file for the session could not be written.
    #[error(
        "could not write {}: {source}; check that the voice cache folder is writable (or set \
         ORATOR_VOICE_CACHE to another folder, or to nothing to turn the cache off)",
        path.display()
    )]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The model's bytes could not be rewritten for external weights.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// The scratch file's name cannot be written into the model.
    #[error("the scratch file's name {0:?} is not text")]
    ScratchName(PathBuf),
}

/// Creates a session with the options the module docs explain.
pub fn build_session(
    env: &ort::environment::Environment,
    model: &[u8],
) -> Result<Session, SessionError> {
    session_with(env, Source::Bytes(model), Build::Plain, Arena::Off)
}

/// Whether a session's CPU memory comes from ONNX Runtime's arena, which keeps what its
/// largest run needed for the life of the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Arena {
    /// Kept: for runs of a bounded size (the decoder's windows), where the arena saves
    /// allocations and holds little.
    On,
    /// Not kept: for runs whose memory follows the text (a whole sentence through the model,
    /// or the front half of a split one). Their memory goes back to the allocator after each
    /// run, and the speech thread hands it to the system when it goes idle
    /// ([`release_freed_memory`]), so one long clause does not leave the process tens of MB
    /// larger for good.
    Off,
}

/// How [`session_with`] builds a session besides the common options.
#[derive(Debug, Clone, Copy)]
pub(super) enum Build<'a> {
    /// From ONNX bytes, weights copied.
    Plain,
    /// From ONNX bytes, weights copied, and the model saved in ONNX Runtime's format to this
    /// path ([`super::disk_cache`]).
    Save(&'a Path),
    /// From `.ort` bytes used in place: the session reads its weights from `model` for as long
    /// as it lives, so the caller keeps the bytes alive longer than the session.
    InPlace,
}

/// Hands memory the allocator keeps after large frees back to the system. Saving a voice frees
/// well over 100 MB in blocks that glibc keeps in its heap, where they would stay resident for
/// the rest of the process (192 MB after a first load instead of 106 MB, docs/design/streaming.md).
/// Called off the audio thread: once per voice saved, and by a speech thread that has finished
/// its work (a sentence's temporaries, tens to hundreds of kB each, otherwise stay resident in
/// that thread's heap, one heap per speaking instance). Takes well under 2 ms.
pub(crate) fn release_freed_memory() {
    crate::platform::release_freed_memory();
}

/// Writes `model` to `path` with its large weights in the file `weights` beside it
/// ([`external::with_external_weights`]). ONNX Runtime, reading the model from `path`, then takes
/// the weights from that file instead of also holding them in its parsed copy of the model: a
/// voice's first load peaked at 252–273 MB with them inline, 167 MB this way
/// (docs/design/streaming.md).
pub(super) fn write_with_external_weights(
    model: &[u8],
    path: &Path,
    weights: &Path,
) -> Result<(), SessionError> {
    use std::io::{Read, Write};
    let io = |path: &Path, source: std::io::Error| SessionError::Io {
        path: path.to_path_buf(),
        source,
    };
    let location = weights
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| SessionError::ScratchName(weights.to_path_buf()))?;
    let external = external::with_external_weights(model, location)?;
    let file = std::fs::File::create(weights).map_err(|e| io(weights, e))?;
    let mut out = std::io::BufWriter::new(file);
    let mut end = 0u64;
    for (offset, bytes) in &external.data {
        std::io::copy(&mut std::io::repeat(0).take(offset - end), &mut out)
            .map_err(|e| io(weights, e))?;
        out.write_all(bytes).map_err(|e| io(weights, e))?;
        end = offset + bytes.len() as u64;
    }
    out.flush().map_err(|e| io(weights, e))?;
    std::fs::write(path, &external.model).map_err(|e| io(path, e))
}

/// Where [`session_with`] reads the model from.
#[derive(Debug, Clone, Copy)]
pub(super) enum Source<'a> {
    Bytes(&'a [u8]),
    /// A file: ONNX Runtime reads it itself, so the caller need not hold the bytes meanwhile.
    File(&'a Path),
}

pub(super) fn session_with(
    env: &ort::environment::Environment,
    model: Source<'_>,
    how: Build<'_>,
    arena: Arena,
) -> Result<Session, SessionError> {
    let text = |e: &dyn std::fmt::Display| SessionError::Onnx(e.to_string());
    let builder = Session::builder(env).map_err(|e| text(&e))?;
    let builder = builder
        .with_intra_threads(intra_op_threads())
        .map_err(|e| text(&e))?;
    let builder = builder
        .with_optimization_level(GraphOptimizationLevel::Disable)
        .map_err(|e| text(&e))?;
    let builder = builder.with_memory_pattern(false).map_err(|e| text(&e))?;
    let builder = builder
        .with_execution_providers([ort::ep::CPU::default()
            .with_arena_allocator(arena == Arena::On)
            .build()])
        .map_err(|e| text(&e))?;
    let mut builder = match how {
        Build::Plain => builder,
        // This session only saves: packing its weights for speed would be one more copy.
        Build::Save(path) => builder
            .with_config_entry("session.save_model_format", "ORT")
            .map_err(|e| text(&e))?
            .with_config_entry("session.disable_prepacking", "1")
            .map_err(|e| text(&e))?
            .with_optimized_model_path(path)
            .map_err(|e| text(&e))?,
        Build::InPlace => builder
            .with_config_entry("session.use_ort_model_bytes_directly", "1")
            .map_err(|e| text(&e))?
            .with_config_entry("session.use_ort_model_bytes_for_initializers", "1")
            .map_err(|e| text(&e))?,
    };
    match model {
        Source::Bytes(bytes) => builder.commit_from_memory(bytes),
        Source::File(path) => builder.commit_from_file(path),
    }
    .map_err(|e| text(&e))
}
