//! ONNX Runtime: one environment per process (ONNX Runtime allows no more), and one session per
//! voice file shared by every plugin instance in the process.
//!
//! Session options, chosen by measurement (docs/PERFORMANCE.md):
//! - intra-op threads: one fewer than the machine's cores, 1 to 4. The host's audio thread must
//!   keep a core to itself; on the 2-core build machine that means one thread (16 words: 0.94 s
//!   with one, 0.52 s with two when nothing else runs).
//! - graph optimisation disabled: session creation 183 ms instead of 499 ms, synthesis time the
//!   same (measured through onnxruntime 1.32 with this voice).
//! - memory pattern off: shapes vary per sentence; with it on, peak memory grows.
//!
//! A streaming voice's two sessions are built, from the second load on, on its split model saved
//! in ONNX Runtime's format and used in place ([`compiled`]).

use super::compiled;
use super::crop::{self, Cropping};
use super::graph::{self, GraphError, NoiseInput};
use super::split;
use super::voice::{SynthesisSettings, VoiceConfig, VoiceError};
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::Tensor;
use rand::SeedableRng;
use rand_distr::Distribution;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

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

/// Creates a session with the options the module docs explain.
pub fn build_session(env: &ort::environment::Environment, model: &[u8]) -> Result<Session, String> {
    session_with(env, Source::Bytes(model), Build::Plain)
}

/// How [`session_with`] builds a session besides the common options.
#[derive(Debug, Clone, Copy)]
enum Build<'a> {
    /// From ONNX bytes, weights copied.
    Plain,
    /// From ONNX bytes, weights copied, and the model saved in ONNX Runtime's format to this
    /// path ([`compiled`]).
    Save(&'a Path),
    /// From `.ort` bytes used in place: the session reads its weights from `model` for as long
    /// as it lives, so the caller keeps the bytes alive longer than the session.
    InPlace,
}

/// Hands memory the allocator keeps after large frees back to the system. Saving a voice frees
/// well over 100 MB in blocks that glibc keeps in its heap, where they would stay resident for
/// the rest of the process (192 MB after a first load instead of 106 MB, docs/PERFORMANCE.md).
/// Called off the audio thread, once per voice saved.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the system; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Writes `model` to `path` with its large weights in the file `weights` beside it
/// ([`graph::with_external_weights`]). ONNX Runtime, reading the model from `path`, then takes
/// the weights from that file instead of also holding them in its parsed copy of the model: a
/// voice's first load peaked at 252–273 MB with them inline, 167 MB this way
/// (docs/PERFORMANCE.md).
fn write_with_external_weights(model: &[u8], path: &Path, weights: &Path) -> Result<(), String> {
    use std::io::{Read, Write};
    let io = |path: &Path, e: std::io::Error| format!("{}: {e}", path.display());
    let location = weights
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("the scratch file's name is not text")?;
    let external = graph::with_external_weights(model, location).map_err(|e| e.to_string())?;
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
enum Source<'a> {
    Bytes(&'a [u8]),
    /// A file: ONNX Runtime reads it itself, so the caller need not hold the bytes meanwhile.
    File(&'a Path),
}

fn session_with(
    env: &ort::environment::Environment,
    model: Source<'_>,
    how: Build<'_>,
) -> Result<Session, String> {
    let text = |e: &dyn std::fmt::Display| e.to_string();
    let builder = Session::builder(env).map_err(|e| text(&e))?;
    let builder = builder
        .with_intra_threads(intra_op_threads())
        .map_err(|e| text(&e))?;
    let builder = builder
        .with_optimization_level(GraphOptimizationLevel::Disable)
        .map_err(|e| text(&e))?;
    let builder = builder.with_memory_pattern(false).map_err(|e| text(&e))?;
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

/// A loaded Piper voice: its config and its ONNX Runtime session.
#[derive(Debug)]
pub struct Voice {
    /// The model file, canonical.
    pub path: PathBuf,
    /// The config file, canonical.
    pub config_path: PathBuf,
    /// The parsed `.onnx.json`.
    pub config: VoiceConfig,
    /// The model's sessions. ONNX Runtime runs need `&mut Session`: one synthesis at a time
    /// per voice.
    model: Model,
    /// Whether the model takes a speaker id.
    has_sid: bool,
    /// Noise inputs that replaced the model's random nodes (empty if the rewrite did not apply;
    /// the voice then works but does not repeat exactly).
    noise: Vec<NoiseInput>,
    /// The cached parts the sessions read their weights from ([`compiled`]), if they were built
    /// on them. Declared after `model`: fields drop in order, the sessions first.
    mapped: Option<compiled::Mapped>,
}

/// Why one run failed: possibly because the noise inputs were too short for the sentence
/// (retried with more), or for any other reason.
enum RunError {
    NoiseTooShort(VoiceError),
    Other(VoiceError),
}

impl From<VoiceError> for RunError {
    fn from(e: VoiceError) -> Self {
        Self::Other(e)
    }
}

/// How a voice's model runs.
#[derive(Debug)]
enum Model {
    /// Split at the decoder's input ([`split`]): the front gives the latent, the decoder turns
    /// it into audio window by window, so a sentence's first audio comes after its first
    /// window instead of after the whole sentence.
    Streaming {
        front: Mutex<Session>,
        decoder: Mutex<Session>,
        /// The latent's name (front output, decoder input).
        latent: String,
        /// How the decoder crops each window's context ([`crop`]).
        cropping: Cropping,
    },
    /// The whole model in one run (a voice that does not split).
    Whole(Mutex<Session>),
}

/// Latent frames kept from each decoder window of a phrase, in order; the last size then
/// repeats. The schedule runs across the phrase's sentences (and a long sentence's clause
/// groups): a later sentence goes on where the one before it ended instead of starting small
/// again, since the audio before it is already out (see [`Voice::infer_streaming`]). The first
/// is small, so speech starts soon. Every later window has to decode, with its
/// context, while the audio already out plays: window k is on time while the decoding
/// real-time factor r ≤ Σ_{j<k} w_j / Σ_{2≤j≤k} (w_j + c), c being what a window's context
/// costs in frames. With the context decoded whole (c = 20) this schedule keeps that bound at
/// 0.286 or more for every k; the default voice's decoder crops its context (c = 3.9,
/// [`crop`]), which raises it to 0.35. Growing ×4 (16, 64, 256) allowed only 0.19 with c = 20,
/// and this 2-core machine decodes at about 0.13, so a busy moment made it underrun
/// (docs/PERFORMANCE.md).
/// The schedule is fixed, never adapted to the machine: window edges change the audio at float
/// noise, and a phrase has to render identically every time (it depends on the text alone).
///
/// The largest window is 128 frames, not 256: ONNX Runtime's arena grows to the largest window's
/// activations and keeps them, so this takes 30 MB off a speaking voice's memory, for 6 % more
/// decoding on long sentences (docs/PERFORMANCE.md).
pub const WINDOW_FRAMES: [usize; 4] = [16, 32, 96, 128];
/// Latent frames decoded in the first window of a sentence.
pub const FIRST_WINDOW_FRAMES: usize = WINDOW_FRAMES[0];
/// The largest window. Each window also decodes its context on each side, which costs
/// 2 × 10 / 128 = 16 % more decoding at this size when decoded whole, and 3 % when the decoder
/// crops it ([`crop`]).
pub const MAX_WINDOW_FRAMES: usize = WINDOW_FRAMES[WINDOW_FRAMES.len() - 1];

/// Latent frames kept from window `index` (from 0) of a phrase's schedule, before a tail joins
/// it (see [`window_end`]).
pub fn window_frames(index: usize) -> usize {
    WINDOW_FRAMES[index.min(WINDOW_FRAMES.len() - 1)]
}

/// Most frames a sentence's last window takes along beyond its size: a short tail joins the
/// window before it rather than costing a window (and its context) of its own. Half the
/// window's size, and never more than the context a window of its own would decode, so no
/// window is much larger than [`MAX_WINDOW_FRAMES`] (the arena's size follows the largest).
pub fn tail_frames(index: usize) -> usize {
    (window_frames(index) / 2).min(2 * WINDOW_CONTEXT_FRAMES)
}

/// Latent frames to samples in every Piper voice (the decoder's hop).
pub const SAMPLES_PER_FRAME: usize = 256;

/// Where in the schedule a phrase's next sentence (or clause group) starts, when the phrase's
/// windows so far reached `next` and produced `produced_frames` latent frames: where the last
/// sentence left off, but never on a window more than twice as long as the audio before it.
/// That is the proportion the schedule keeps from the start (32 after 16, 96 after 48), so a
/// short sentence before a long one does not leave the long one's first window to decode in
/// the time of a short one's audio. Depends on the text alone, like the schedule.
pub fn resume_window(next: usize, produced_frames: usize) -> usize {
    (0..=next)
        .rev()
        .find(|&index| window_frames(index) <= produced_frames.saturating_mul(2))
        .unwrap_or(0)
}

/// Where window `index`, starting at latent frame `start`, ends in a sentence of `frames`.
pub fn window_end(start: usize, index: usize, frames: usize) -> usize {
    let size = window_frames(index);
    if frames.saturating_sub(start) <= size + tail_frames(index) {
        frames
    } else {
        start + size
    }
}

/// One window of a sentence's audio, as [`Voice::infer_streaming`] hands it on.
#[derive(Debug, Clone, Copy)]
pub struct Decoded<'a> {
    /// The window's audio (mono, at the voice's rate).
    pub audio: &'a [f32],
    /// The window's place in its phrase's schedule, from 0 (see [`window_frames`]).
    pub index: usize,
    /// Time spent decoding it (the whole model's run, for a voice that does not stream).
    pub took: std::time::Duration,
    /// Samples' worth of decoding done for it: its own, and its context's cost in samples
    /// ([`Voice::window_context_cost`]; all the context's samples when the decoder does not
    /// crop it). `took` over these (at the voice's rate) is the decoding real-time factor.
    pub decoded_samples: usize,
}

impl Decoded<'_> {
    /// Seconds spent per second of audio decoded, if measurable.
    pub fn real_time_factor(&self, sample_rate: u32) -> Option<f64> {
        (self.decoded_samples > 0 && sample_rate > 0).then(|| {
            self.took.as_secs_f64() / (self.decoded_samples as f64 / f64::from(sample_rate))
        })
    }
}

/// Context decoded on each side of a window and dropped, for a decoder whose reach the crop
/// planner cannot follow ([`crop`]); one it can follow gets the context its structure needs
/// ([`Cropping::context`]: 11 frames for the default voice). The default voice's receptive field
/// measured ±10.07 frames (shared/DECISIONS.md): 10 frames gave 125.7 dB SNR against the whole
/// decode (`plugin/tests/split.rs`). It also bounds how long a sentence's last window's tail
/// may be ([`tail_frames`]), so the schedule stays the same for every voice.
pub const WINDOW_CONTEXT_FRAMES: usize = 10;

/// Channels of the noise fed to the rewritten graph: enough for Piper's latent (192 channels in
/// every published voice) and its duration noise (2).
const NOISE_CHANNELS: usize = 192;

/// Latent frames allowed per phoneme id at length scale 1 (measured 2.2 on the default voice,
/// so 4× headroom); scaled by the length scale. A sentence that still needs more is retried
/// once with 4× the length.
const NOISE_FRAMES_PER_ID: f32 = 8.0;

/// A stable 64-bit seed for one inference: FNV-1a over the phoneme ids and the settings' bits,
/// so the same phrase with the same settings draws the same noise in every process.
pub fn phrase_seed(ids: &[i64], settings: &SynthesisSettings) -> u64 {
    let s = settings.sanitized();
    let words = ids.iter().map(|&id| id as u64).chain([
        u64::from(s.length_scale.to_bits()),
        u64::from(s.noise_scale.to_bits()),
        u64::from(s.noise_w.to_bits()),
        s.speaker.map_or(u64::MAX, |v| v as u64),
    ]);
    fnv1a(words.flat_map(u64::to_le_bytes))
}

/// 64-bit FNV-1a over `bytes`: stable across processes and platforms (for seeds and names, not
/// for security).
pub(super) fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes
        .into_iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

/// Voices loaded in this process, by canonical (model, config) paths. Weak, so a voice no
/// instance uses is freed.
static VOICES: Mutex<Option<HashMap<VoiceKey, Weak<Voice>>>> = Mutex::new(None);

/// A voice's identity: its canonical model and config paths.
type VoiceKey = (PathBuf, PathBuf);

/// A Piper voice's config file: the model's name plus `.json`.
pub fn config_path(model: &Path) -> PathBuf {
    let mut path = model.as_os_str().to_owned();
    path.push(".json");
    PathBuf::from(path)
}

impl Voice {
    /// The voice whose model is `model` (its config is `model` + `.json`, see
    /// [`config_path`]), loading it unless another instance in this process already has. Slow (half a second): never call it on
    /// the audio thread or the main thread.
    pub fn load(model: &Path, runtime_library: &Path) -> Result<Arc<Voice>, VoiceError> {
        let canonical = |path: &Path| {
            path.canonicalize().map_err(|source| VoiceError::Io {
                path: path.to_path_buf(),
                source,
            })
        };
        // The config is the one beside the name the user chose (which may be a link to a model
        // elsewhere), so both files are part of the voice's identity.
        let config_path = config_path(model);
        let key = (canonical(model)?, canonical(&config_path)?);
        let mut voices = VOICES.lock().unwrap_or_else(|e| e.into_inner());
        let voices = voices.get_or_insert_with(HashMap::new);
        voices.retain(|_, voice| voice.strong_count() > 0);
        if let Some(voice) = voices.get(&key).and_then(Weak::upgrade) {
            return Ok(voice);
        }
        let cache = compiled::default_dir();
        let voice = Arc::new(Self::load_uncached(
            &key.0,
            &key.1,
            runtime_library,
            true,
            cache.as_deref(),
        )?);
        voices.insert(key, Arc::downgrade(&voice));
        Ok(voice)
    }

    /// A private instance of the voice that runs the whole model per sentence, as Piper does:
    /// no within-sentence streaming. For measurements against the streaming path.
    pub fn load_whole(model: &Path, runtime_library: &Path) -> Result<Arc<Voice>, VoiceError> {
        Self::load_apart(model, runtime_library, false, None)
    }

    /// A private instance of the voice (not shared with other callers of [`Voice::load`]) that
    /// streams, keeping its split model in `cache` (see [`compiled`]; `None`: built from the
    /// model every time). For tests and measurements of the cache.
    pub fn load_private(
        model: &Path,
        runtime_library: &Path,
        cache: Option<&Path>,
    ) -> Result<Arc<Voice>, VoiceError> {
        Self::load_apart(model, runtime_library, true, cache)
    }

    fn load_apart(
        model: &Path,
        runtime_library: &Path,
        streaming: bool,
        cache: Option<&Path>,
    ) -> Result<Arc<Voice>, VoiceError> {
        let config = config_path(model);
        let voice = Self::load_uncached(model, &config, runtime_library, streaming, cache)?;
        Ok(Arc::new(voice))
    }

    fn load_uncached(
        path: &Path,
        config_path: &Path,
        runtime_library: &Path,
        streaming: bool,
        cache: Option<&Path>,
    ) -> Result<Voice, VoiceError> {
        let config = VoiceConfig::load(config_path)?;
        let onnx = |message: String| VoiceError::Onnx {
            path: path.to_path_buf(),
            message,
        };
        let env = runtime(runtime_library).map_err(|e| onnx(e.to_string()))?;
        // The split model saved by an earlier load, used in place: no rewrite, no copies.
        let entry = cache
            .filter(|_| streaming)
            .and_then(|dir| compiled::Entry::new(dir, path, runtime_library));
        if let Some((model, mapped)) = entry
            .as_ref()
            .and_then(|e| Self::mapped_model(env, e, path))
        {
            let noise = mapped.meta.noise.clone();
            return Self::finish(path, config_path, config, model, noise, Some(mapped));
        }
        // Repeatability: replace the random nodes (see `graph`); a model that does not fit still
        // loads, it just does not repeat exactly. Each step drops the bytes before it, so only
        // one or two copies of the weights are in memory at a time.
        let read = || -> Result<(Vec<u8>, Vec<NoiseInput>), VoiceError> {
            let original = std::fs::read(path).map_err(|source| VoiceError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            Ok(match graph::make_repeatable(&original) {
                Ok(rewritten) => (rewritten.model, rewritten.noise),
                Err(err) => {
                    tracing::warn!("{}: output will not repeat exactly: {err}", path.display());
                    (original, Vec::new())
                }
            })
        };
        let (bytes, noise) = read()?;
        // Streaming: the model split at the decoder's input. A voice that does not split runs
        // whole, as Piper does.
        let mut bytes = Some(bytes);
        let split = if streaming {
            split::split_decoder(bytes.as_deref().unwrap_or_default())
        } else {
            Err(GraphError::Unsupported("streaming turned off".into()))
        };
        let streaming = match split {
            Ok(parts) => {
                bytes = None;
                let saving = entry.as_ref().and_then(|entry| match entry.prepare() {
                    Ok(paths) => Some((entry, paths)),
                    Err(e) => {
                        tracing::warn!("voice cache: {e}");
                        None
                    }
                });
                match saving {
                    // A voice's first load saves its parts, then runs on the saved files like
                    // every later load. Saving while keeping the sessions would hold both
                    // sessions' copies of the weights and ONNX Runtime's serialised copy at once.
                    Some((entry, paths)) => {
                        match Self::save_parts(env, entry, &paths, parts, &noise) {
                            Ok(()) => {
                                if let Some((model, mapped)) = Self::mapped_model(env, entry, path)
                                {
                                    let mapped = Some(mapped);
                                    return Self::finish(
                                        path,
                                        config_path,
                                        config,
                                        model,
                                        noise,
                                        mapped,
                                    );
                                }
                            }
                            Err(e) => tracing::warn!("voice cache: {}: {e}", path.display()),
                        }
                        // Nothing usable was saved: built from the model as without a cache.
                        Self::split_model(env, path, &read()?.0)
                    }
                    None => Self::plain_parts(env, path, parts),
                }
            }
            Err(err) => {
                tracing::warn!(
                    "{}: speech starts after each whole sentence (no decoder split: {err})",
                    path.display()
                );
                None
            }
        };
        let model = match streaming {
            Some(model) => model,
            None => {
                let bytes = match bytes {
                    Some(bytes) => bytes,
                    None => read()?.0,
                };
                Model::Whole(Mutex::new(
                    build_session(env, &bytes)
                        .map_err(|e| onnx(format!("not a usable voice model ({e})")))?,
                ))
            }
        };
        Self::finish(path, config_path, config, model, noise, None)
    }

    /// The voice's split model from the cache `entry`, its sessions built on the mapped files.
    /// `None` if the entry is missing, stale or unusable (the caller builds it from the model).
    fn mapped_model(
        env: &ort::environment::Environment,
        entry: &compiled::Entry,
        path: &Path,
    ) -> Option<(Model, compiled::Mapped)> {
        let mapped = match entry.open() {
            Ok(mapped) => mapped,
            Err(e) => {
                tracing::debug!("{}: no cached split model ({e})", path.display());
                return None;
            }
        };
        let sessions =
            session_with(env, Source::Bytes(&mapped.front), Build::InPlace).and_then(|front| {
                session_with(env, Source::Bytes(&mapped.decoder), Build::InPlace)
                    .map(|decoder| (front, decoder))
            });
        match sessions {
            Ok((front, decoder)) => Some((
                Model::Streaming {
                    front: Mutex::new(front),
                    decoder: Mutex::new(decoder),
                    latent: mapped.meta.latent.clone(),
                    cropping: mapped.meta.cropping.clone(),
                },
                mapped,
            )),
            Err(e) => {
                tracing::warn!(
                    "{}: the cached split model is unusable ({e}); building it again",
                    path.display()
                );
                None
            }
        }
    }

    /// Has ONNX Runtime save the split model's parts to `paths` (from [`compiled::Entry::prepare`])
    /// and commits them to the cache `entry`, one part at a time: each part's session is dropped
    /// as soon as it is saved, and its bytes with it.
    fn save_parts(
        env: &ort::environment::Environment,
        entry: &compiled::Entry,
        paths: &(PathBuf, PathBuf),
        parts: split::Split,
        noise: &[NoiseInput],
    ) -> Result<(), String> {
        let split::Split {
            front,
            decoder,
            latent,
            cropping,
        } = parts;
        let (front_tmp, decoder_tmp) = paths;
        // ONNX Runtime reads each part from a file, so this copy of its bytes is gone while ONNX
        // Runtime holds its own, the session's and the serialised one.
        let save = |bytes: Vec<u8>, to: &Path| -> Result<(), String> {
            let input = entry.scratch("part.onnx");
            let weights = entry.scratch("part.data");
            let written = write_with_external_weights(&bytes, &input, &weights);
            drop(bytes);
            let saved =
                written.and_then(|()| session_with(env, Source::File(&input), Build::Save(to)));
            let _ = std::fs::remove_file(&input);
            let _ = std::fs::remove_file(&weights);
            saved.map(drop)
        };
        let saved = save(front, front_tmp)
            .and_then(|()| save(decoder, decoder_tmp))
            .and_then(|()| entry.commit(front_tmp, decoder_tmp, &latent, &cropping, noise));
        if saved.is_err() {
            entry.discard(&[front_tmp, decoder_tmp]);
        }
        release_freed_memory();
        saved
    }

    /// The split model of the (rewritten) model `bytes`, not cached; `None` if it does not split.
    fn split_model(
        env: &ort::environment::Environment,
        path: &Path,
        bytes: &[u8],
    ) -> Option<Model> {
        match split::split_decoder(bytes) {
            Ok(parts) => Self::plain_parts(env, path, parts),
            Err(e) => {
                tracing::warn!("{}: no decoder split ({e}); whole", path.display());
                None
            }
        }
    }

    /// Sessions that copy the split model's parts, each part's bytes dropped as soon as its
    /// session holds the weights. `None` (after a warning) if ONNX Runtime rejects a part.
    fn plain_parts(
        env: &ort::environment::Environment,
        path: &Path,
        parts: split::Split,
    ) -> Option<Model> {
        let split::Split {
            front,
            decoder,
            latent,
            cropping,
        } = parts;
        let sessions =
            session_with(env, Source::Bytes(&front), Build::Plain).and_then(|front_session| {
                drop(front);
                session_with(env, Source::Bytes(&decoder), Build::Plain)
                    .map(|decoder| (front_session, decoder))
            });
        match sessions {
            Ok((front, decoder)) => Some(Model::Streaming {
                front: Mutex::new(front),
                decoder: Mutex::new(decoder),
                latent,
                cropping,
            }),
            Err(e) => {
                tracing::warn!("{}: split model rejected ({e}); whole", path.display());
                None
            }
        }
    }

    /// Makes the voice and checks the model's inputs against its config. The voice is made
    /// first so that, on an error too, its sessions drop before the bytes they may read from.
    fn finish(
        path: &Path,
        config_path: &Path,
        config: VoiceConfig,
        model: Model,
        noise: Vec<NoiseInput>,
        mapped: Option<compiled::Mapped>,
    ) -> Result<Voice, VoiceError> {
        let mut voice = Voice {
            path: path.to_path_buf(),
            config_path: config_path.to_path_buf(),
            config,
            model,
            has_sid: false,
            noise,
            mapped,
        };
        let onnx = |message: String| VoiceError::Onnx {
            path: path.to_path_buf(),
            message,
        };
        let names: Vec<String> = {
            let session = match &voice.model {
                Model::Streaming { front, .. } => front,
                Model::Whole(session) => session,
            };
            let session = session.lock().unwrap_or_else(|e| e.into_inner());
            session
                .inputs()
                .iter()
                .map(|i| i.name().to_owned())
                .collect()
        };
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        for needed in ["input", "input_lengths", "scales"] {
            if !names.contains(&needed) {
                return Err(onnx(format!(
                    "the model has no {needed:?} input (inputs: {names:?}); is it a Piper voice?"
                )));
            }
        }
        voice.has_sid = names.contains(&"sid");
        if voice.config.num_speakers > 1 && !voice.has_sid {
            return Err(onnx(format!(
                "the config says {} speakers but the model takes no speaker id; the .onnx and \
                 .onnx.json do not belong together",
                voice.config.num_speakers
            )));
        }
        Ok(voice)
    }

    /// Whether the sessions read their weights in place from the voice cache ([`compiled`]).
    pub fn is_mapped(&self) -> bool {
        self.mapped.is_some()
    }

    /// Whether the same phrase renders identically every time (the random nodes were replaced).
    pub fn is_repeatable(&self) -> bool {
        !self.noise.is_empty()
    }

    /// Whether sentences stream window by window (the model split at its decoder).
    pub fn is_streaming(&self) -> bool {
        matches!(self.model, Model::Streaming { .. })
    }

    /// What decoding a window's context (both sides) costs, in latent frames of the window's
    /// own: about 3.9 for the default voice, whose decoder crops the context as it goes
    /// ([`crop`]); twice [`WINDOW_CONTEXT_FRAMES`] for a decoder that does not; 0 for a voice
    /// that does not stream.
    pub fn window_context_cost(&self) -> f64 {
        match &self.model {
            Model::Streaming { cropping, .. } if !cropping.is_empty() => 2.0 * cropping.side_cost,
            Model::Streaming { .. } => 2.0 * WINDOW_CONTEXT_FRAMES as f64,
            Model::Whole(_) => 0.0,
        }
    }

    /// Runs the model on one sentence's phoneme ids and returns its audio (mono, at
    /// `config.sample_rate`, model level: roughly within ±1). The noise the model draws comes
    /// from [`phrase_seed`], so the same ids and settings give the same audio.
    pub fn infer(&self, ids: &[i64], settings: &SynthesisSettings) -> Result<Vec<f32>, VoiceError> {
        let mut audio = Vec::new();
        self.infer_streaming(ids, settings, 0, &mut |window| {
            audio.extend_from_slice(window.audio);
            ControlFlow::Continue(())
        })?;
        Ok(audio)
    }

    /// Like [`Voice::infer`], handing the audio to `on_audio` as it is decoded, in windows of
    /// [`WINDOW_FRAMES`] latent frames from `first_window` on in the schedule (the whole
    /// sentence at once for a voice that does not stream). A phrase's first sentence starts at
    /// 0; each later one at the window after the last one before it, so it decodes in large
    /// windows from the start, with less context decoded twice. Stops early when `on_audio`
    /// breaks. Returns the time spent in ONNX Runtime (not in `on_audio`).
    pub fn infer_streaming(
        &self,
        ids: &[i64],
        settings: &SynthesisSettings,
        first_window: usize,
        on_audio: &mut dyn FnMut(Decoded<'_>) -> ControlFlow<()>,
    ) -> Result<std::time::Duration, VoiceError> {
        let settings = settings.sanitized();
        let frames = (ids.len() as f32 * NOISE_FRAMES_PER_ID * settings.length_scale.max(1.0))
            .ceil() as usize;
        match self.run(ids, &settings, frames.max(64), first_window, on_audio) {
            Err(RunError::NoiseTooShort(_)) if self.is_repeatable() => {
                match self.run(ids, &settings, frames.max(64) * 4, first_window, on_audio) {
                    Err(RunError::NoiseTooShort(e) | RunError::Other(e)) => Err(e),
                    Ok(busy) => Ok(busy),
                }
            }
            Err(RunError::NoiseTooShort(e) | RunError::Other(e)) => Err(e),
            Ok(busy) => Ok(busy),
        }
    }

    fn run(
        &self,
        ids: &[i64],
        settings: &SynthesisSettings,
        noise_frames: usize,
        first_window: usize,
        on_audio: &mut dyn FnMut(Decoded<'_>) -> ControlFlow<()>,
    ) -> Result<std::time::Duration, RunError> {
        let onnx = |e: ort::Error| VoiceError::Onnx {
            path: self.path.clone(),
            message: e.to_string(),
        };
        let mut inputs: Vec<(
            std::borrow::Cow<'_, str>,
            ort::session::SessionInputValue<'_>,
        )> = vec![
            (
                "input".into(),
                Tensor::from_array(([1usize, ids.len()], ids.to_vec()))
                    .map_err(onnx)?
                    .into(),
            ),
            (
                "input_lengths".into(),
                Tensor::from_array(([1usize], vec![ids.len() as i64]))
                    .map_err(onnx)?
                    .into(),
            ),
            (
                "scales".into(),
                Tensor::from_array((
                    [3usize],
                    vec![
                        settings.noise_scale,
                        settings.length_scale,
                        settings.noise_w,
                    ],
                ))
                .map_err(onnx)?
                .into(),
            ),
        ];
        if self.has_sid {
            let speaker = settings
                .speaker
                .unwrap_or(0)
                .clamp(0, i64::from(self.config.num_speakers) - 1);
            inputs.push((
                "sid".into(),
                Tensor::from_array(([1usize], vec![speaker]))
                    .map_err(onnx)?
                    .into(),
            ));
        }
        let seed = phrase_seed(ids, settings);
        for (k, noise) in self.noise.iter().enumerate() {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
                seed ^ (k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            );
            let normal = rand_distr::StandardNormal;
            let values: Vec<f32> = (0..NOISE_CHANNELS * noise_frames)
                .map(|_| {
                    let z: f32 = normal.sample(&mut rng);
                    noise.mean + noise.scale * z
                })
                .collect();
            let tensor = Tensor::from_array(([1usize, NOISE_CHANNELS, noise_frames], values))
                .map_err(onnx)?;
            inputs.push((noise.name.clone().into(), tensor.into()));
        }
        let started = std::time::Instant::now();
        let volume =
            |audio: &[f32]| -> Vec<f32> { audio.iter().map(|x| x * settings.volume).collect() };
        match &self.model {
            Model::Whole(session) => {
                let mut session = session.lock().unwrap_or_else(|e| e.into_inner());
                // Until the first successful run, an error may be noise that was too short.
                let outputs = session
                    .run(inputs)
                    .map_err(|e| RunError::NoiseTooShort(onnx(e)))?;
                let (_, audio) = outputs[0]
                    .try_extract_tensor::<f32>()
                    .map_err(|e| RunError::Other(onnx(e)))?;
                let audio = volume(audio);
                let busy = started.elapsed();
                let _ = on_audio(Decoded {
                    audio: &audio,
                    index: first_window,
                    took: busy,
                    decoded_samples: audio.len(),
                });
                Ok(busy)
            }
            Model::Streaming {
                front,
                decoder,
                latent: latent_name,
                cropping,
            } => {
                let (shape, latent) = {
                    let mut front = front.lock().unwrap_or_else(|e| e.into_inner());
                    let outputs = front
                        .run(inputs)
                        .map_err(|e| RunError::NoiseTooShort(onnx(e)))?;
                    let (shape, latent) = outputs[0]
                        .try_extract_tensor::<f32>()
                        .map_err(|e| RunError::Other(onnx(e)))?;
                    (shape.to_vec(), latent.to_vec())
                };
                let (channels, frames) = match shape.as_slice() {
                    &[1, c, f] if c > 0 && f >= 0 => (c as usize, f as usize),
                    other => {
                        return Err(RunError::Other(VoiceError::Onnx {
                            path: self.path.clone(),
                            message: format!("unexpected latent shape {other:?}"),
                        }));
                    }
                };
                let mut busy = started.elapsed();
                let mut decoder = decoder.lock().unwrap_or_else(|e| e.into_inner());
                let mut start = 0;
                let mut index = first_window;
                let mut window = Vec::new();
                let context = if cropping.is_empty() {
                    WINDOW_CONTEXT_FRAMES
                } else {
                    cropping.context
                };
                while start < frames {
                    let started = std::time::Instant::now();
                    let end = window_end(start, index, frames);
                    let from = start.saturating_sub(context);
                    let to = (end + context).min(frames);
                    window.clear();
                    for c in 0..channels {
                        window.extend_from_slice(&latent[c * frames + from..c * frames + to]);
                    }
                    let tensor =
                        Tensor::from_array(([1usize, channels, to - from], window.clone()))
                            .map_err(|e| RunError::Other(onnx(e)))?;
                    let mut inputs: Vec<(
                        std::borrow::Cow<'_, str>,
                        ort::session::SessionInputValue<'_>,
                    )> = vec![(
                        std::borrow::Cow::Borrowed(latent_name.as_str()),
                        ort::session::SessionInputValue::from(tensor),
                    )];
                    let crops = (!cropping.is_empty())
                        .then(|| cropping.window(to - from, start - from, to - end));
                    for (k, &(first, last)) in
                        crops.iter().flat_map(|c| c.bounds.iter()).enumerate()
                    {
                        for (name, bound) in
                            [(crop::start_input(k), first), (crop::end_input(k), last)]
                        {
                            let tensor = Tensor::from_array(([1usize], vec![bound]))
                                .map_err(|e| RunError::Other(onnx(e)))?;
                            inputs.push((name.into(), tensor.into()));
                        }
                    }
                    let outputs = decoder.run(inputs).map_err(|e| RunError::Other(onnx(e)))?;
                    let (_, audio) = outputs[0]
                        .try_extract_tensor::<f32>()
                        .map_err(|e| RunError::Other(onnx(e)))?;
                    // Where the window's own frames are in what the decoder gave.
                    let (offset, per_frame, decoded_samples) = match &crops {
                        Some(crops) if audio.len() != crops.len => {
                            return Err(RunError::Other(VoiceError::Onnx {
                                path: self.path.clone(),
                                message: format!(
                                    "the decoder gave {} samples for a window cropped to {}",
                                    audio.len(),
                                    crops.len
                                ),
                            }));
                        }
                        Some(crops) => {
                            let sides = usize::from(start > from) + usize::from(to > end);
                            let context = sides as f64 * cropping.side_cost * cropping.hop as f64;
                            let own = (end - start) * cropping.hop;
                            (crops.offset, cropping.hop, own + context.round() as usize)
                        }
                        None => (0, audio.len() / (to - from).max(1), audio.len()),
                    };
                    let keep = audio
                        .get(
                            ((start - from) * per_frame).saturating_sub(offset)
                                ..((end - from) * per_frame).saturating_sub(offset),
                        )
                        .unwrap_or_default();
                    let keep = volume(keep);
                    let took = started.elapsed();
                    busy += took;
                    let decoded = Decoded {
                        audio: &keep,
                        index,
                        took,
                        decoded_samples,
                    };
                    if on_audio(decoded).is_break() {
                        break;
                    }
                    start = end;
                    index += 1;
                }
                Ok(busy)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The windows a sentence of `frames` latent frames is decoded in, as (start, end).
    fn windows(frames: usize) -> Vec<(usize, usize)> {
        let (mut start, mut index, mut out) = (0, 0, Vec::new());
        while start < frames {
            let end = window_end(start, index, frames);
            out.push((start, end));
            start = end;
            index += 1;
        }
        out
    }

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        assert_eq!(fnv1a(*b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(*b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(*b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn windows_follow_the_schedule_and_a_short_tail_joins_the_last() {
        // 16 + 8 fits the first window; one frame more needs a second.
        assert_eq!(windows(24), [(0, 24)]);
        assert_eq!(windows(25), [(0, 16), (16, 25)]);
        // 4 words of the default voice: 87 frames.
        assert_eq!(windows(87), [(0, 16), (16, 48), (48, 87)]);
        // Past the schedule, windows are 128 frames and a tail of up to 20 joins the last.
        assert_eq!(windows(144 + 128 + 20).last(), Some(&(144, 292)));
        assert_eq!(
            windows(144 + 128 + 21)[3..],
            [(144, 272), (272, 293)],
            "a longer tail is a window of its own"
        );
    }

    #[test]
    fn a_later_sentence_resumes_the_schedule_within_twice_the_audio_before_it() {
        // The phrase's first sentence starts at the start.
        assert_eq!(resume_window(0, 0), 0);
        // After "Hi." (2 windows, 30 frames): 96 would be more than twice 30, 32 is not.
        assert_eq!(resume_window(2, 30), 1);
        assert_eq!(resume_window(2, 15), 0);
        // After a clause group of 201 frames in 4 windows: the largest window at once.
        assert_eq!(resume_window(4, 201), 4);
        assert_eq!(window_frames(resume_window(4, 201)), MAX_WINDOW_FRAMES);
        // Never further than where the last sentence left off.
        assert_eq!(resume_window(1, 10_000), 1);
        for next in 0..8 {
            for produced in 0..400 {
                let index = resume_window(next, produced);
                assert!(index <= next);
                assert!(index == 0 || window_frames(index) <= 2 * produced);
            }
        }
    }

    #[test]
    fn windows_cover_every_frame_once_and_none_is_much_larger_than_the_largest() {
        for frames in 1..2000 {
            let windows = windows(frames);
            assert_eq!(windows.first().map(|w| w.0), Some(0));
            assert_eq!(windows.last().map(|w| w.1), Some(frames));
            for pair in windows.windows(2) {
                assert_eq!(pair[0].1, pair[1].0, "{frames} frames: {windows:?}");
            }
            for (index, &(start, end)) in windows.iter().enumerate() {
                assert!(end > start);
                assert!(end - start <= window_frames(index) + tail_frames(index));
                assert!(end - start <= MAX_WINDOW_FRAMES + 2 * WINDOW_CONTEXT_FRAMES);
            }
        }
    }
}
