//! A loaded Piper voice, shared by every plugin instance in the process.
//!
//! - [`config`]: the `.onnx.json` (sample rate, espeak voice, phoneme ids) and the settings a
//!   phrase is synthesised with;
//! - [`runtime`]: the process's one ONNX Runtime environment and the session options;
//! - this module: [`Voice`] and its loading (rewrite, split, the voice cache), and the registry
//!   that gives every instance the same voice;
//! - [`infer`]: running the model on a sentence, window by window;
//! - [`schedule`]: the window sizes a phrase is decoded in;
//! - [`disk_cache`]: the voice's split model kept on disk in ONNX Runtime's format.
//!
//! Everything here runs on the speech thread (or a tool's thread), never on the audio thread or
//! the host's main thread: loading takes a fraction of a second, a sentence tens of milliseconds.

pub mod config;
pub mod disk_cache;
pub mod infer;
pub mod runtime;
pub mod schedule;
mod sessions;

use crate::tts::model::noise::{self, NoiseInput};
use crate::tts::model::split;
use crate::tts::model::wire::GraphError;
use config::{VoiceConfig, VoiceError};
use disk_cache::DiskCacheError;
use runtime::{
    Arena, Build, SessionError, Source, build_session, release_freed_memory, runtime, session_with,
    write_with_external_weights,
};
use schedule::WINDOW_CONTEXT_FRAMES;
use sessions::{Model, Sessions};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

/// A loaded Piper voice: its config and its ONNX Runtime session.
#[derive(Debug)]
pub struct Voice {
    /// The model file, canonical.
    pub path: PathBuf,
    /// The config file, canonical.
    pub config_path: PathBuf,
    /// The parsed `.onnx.json`.
    pub config: VoiceConfig,
    /// The model's sessions, with the mapped files they may read from. ONNX Runtime runs need
    /// `&mut Session`: one synthesis at a time per voice.
    model: Sessions,
    /// Whether the model takes a speaker id.
    has_sid: bool,
    /// Noise inputs that replaced the model's random nodes (empty if the rewrite did not apply;
    /// the voice then works but does not repeat exactly).
    noise: Vec<NoiseInput>,
}

/// Why one run failed: possibly because the noise inputs were too short for the sentence
/// (retried with more), or for any other reason.
pub(super) enum RunError {
    NoiseTooShort(VoiceError),
    Other(VoiceError),
}

impl From<VoiceError> for RunError {
    fn from(e: VoiceError) -> Self {
        Self::Other(e)
    }
}

/// Why a voice's first load could not save its split model to the voice cache (the voice then
/// runs on sessions built from its model).
#[derive(Debug, thiserror::Error)]
enum SaveError {
    /// ONNX Runtime could not build or save a part.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The cache entry could not be written.
    #[error(transparent)]
    Cache(#[from] DiskCacheError),
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
        let cache = disk_cache::default_dir();
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
    /// streams, keeping its split model in `cache` (see [`disk_cache`]; `None`: built from the
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
            .and_then(|dir| disk_cache::Entry::new(dir, path, runtime_library));
        if let Some(model) = entry
            .as_ref()
            .and_then(|e| Self::mapped_model(env, e, path))
        {
            let noise = model
                .mapped()
                .map(|m| m.meta.noise.clone())
                .unwrap_or_default();
            return Self::finish(path, config_path, config, model, noise);
        }
        // Repeatability: replace the random nodes (see [`noise`]); a model that does not fit still
        // loads, it just does not repeat exactly. Each step drops the bytes before it, so only
        // one or two copies of the weights are in memory at a time.
        let read = || -> Result<(Vec<u8>, Vec<NoiseInput>), VoiceError> {
            let original = std::fs::read(path).map_err(|source| VoiceError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            Ok(match noise::make_repeatable(&original) {
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
                    Ok(writing) => Some((entry, writing)),
                    Err(e) => {
                        tracing::warn!("{e}");
                        None
                    }
                });
                match saving {
                    // A voice's first load saves its parts, then runs on the saved files like
                    // every later load. Saving while keeping the sessions would hold both
                    // sessions' copies of the weights and ONNX Runtime's serialised copy at once.
                    Some((entry, writing)) => {
                        match Self::save_parts(env, entry, &writing, parts, &noise) {
                            Ok(()) => {
                                if let Some(model) = Self::mapped_model(env, entry, path) {
                                    return Self::finish(path, config_path, config, model, noise);
                                }
                            }
                            Err(e) => tracing::warn!(
                                "{}: the split model was not saved ({e})",
                                path.display()
                            ),
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
                Model::Whole(Mutex::new(build_session(env, &bytes).map_err(
                    |e| match e {
                        SessionError::Onnx(message) => {
                            onnx(format!("not a usable voice model ({message})"))
                        }
                        other => onnx(other.to_string()),
                    },
                )?))
            }
        };
        Self::finish(path, config_path, config, Sessions::owned(model), noise)
    }

    /// The voice's split model from the cache `entry`, its sessions built on the mapped files.
    /// `None` if the entry is missing, stale or unusable (the caller builds it from the model).
    fn mapped_model(
        env: &ort::environment::Environment,
        entry: &disk_cache::Entry,
        path: &Path,
    ) -> Option<Sessions> {
        let mapped = match entry.open() {
            Ok(mapped) => mapped,
            Err(e) => {
                tracing::debug!("{}: no cached split model ({e})", path.display());
                return None;
            }
        };
        let sessions = session_with(
            env,
            Source::Bytes(&mapped.front),
            Build::InPlace,
            Arena::Off,
        )
        .and_then(|front| {
            session_with(
                env,
                Source::Bytes(&mapped.decoder),
                Build::InPlace,
                Arena::On,
            )
            .map(|decoder| (front, decoder))
        });
        match sessions {
            Ok((front, decoder)) => {
                let model = Model::Streaming {
                    front: Mutex::new(front),
                    decoder: Mutex::new(decoder),
                    latent: mapped.meta.latent.clone(),
                    durations: mapped.meta.durations.clone(),
                    cropping: mapped.meta.cropping.clone(),
                };
                // SAFETY: both sessions were built in place on `mapped`'s two files
                // (`Build::InPlace`), and `Sessions` keeps them mapped until the sessions are
                // gone.
                Some(unsafe { Sessions::in_place(model, mapped) })
            }
            Err(e) => {
                tracing::warn!(
                    "{}: the cached split model is unusable ({e}); building it again",
                    path.display()
                );
                None
            }
        }
    }

    /// Has ONNX Runtime save the split model's parts into `writing` (from
    /// [`disk_cache::Entry::prepare`]) and commits them to the cache `entry`, one part at a
    /// time: each part's session is dropped as soon as it is saved, and its bytes with it.
    fn save_parts(
        env: &ort::environment::Environment,
        entry: &disk_cache::Entry,
        writing: &disk_cache::Writing,
        parts: split::Split,
        noise: &[NoiseInput],
    ) -> Result<(), SaveError> {
        let split::Split {
            front,
            decoder,
            latent,
            durations,
            cropping,
        } = parts;
        // ONNX Runtime reads each part from a file, so this copy of its bytes is gone while ONNX
        // Runtime holds its own, the session's and the serialised one.
        let save = |bytes: Vec<u8>, to: &Path| -> Result<(), SessionError> {
            let input = writing.scratch("part.onnx");
            let weights = writing.scratch("part.data");
            let written = write_with_external_weights(&bytes, &input, &weights);
            drop(bytes);
            let saved = written.and_then(|()| {
                session_with(env, Source::File(&input), Build::Save(to), Arena::Off)
            });
            let _ = std::fs::remove_file(&input);
            let _ = std::fs::remove_file(&weights);
            saved.map(drop)
        };
        let saved = save(front, &writing.front)
            .and_then(|()| save(decoder, &writing.decoder))
            .map_err(SaveError::from)
            .and_then(|()| {
                entry
                    .commit(writing, &latent, durations.as_deref(), &cropping, noise)
                    .map_err(SaveError::from)
            });
        if saved.is_err() {
            entry.discard(writing);
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
            durations,
            cropping,
        } = parts;
        let sessions = session_with(env, Source::Bytes(&front), Build::Plain, Arena::Off).and_then(
            |front_session| {
                drop(front);
                session_with(env, Source::Bytes(&decoder), Build::Plain, Arena::On)
                    .map(|decoder| (front_session, decoder))
            },
        );
        match sessions {
            Ok((front, decoder)) => Some(Model::Streaming {
                front: Mutex::new(front),
                decoder: Mutex::new(decoder),
                latent,
                durations,
                cropping,
            }),
            Err(e) => {
                tracing::warn!("{}: split model rejected ({e}); whole", path.display());
                None
            }
        }
    }

    /// Makes the voice and checks the model's inputs against its config.
    fn finish(
        path: &Path,
        config_path: &Path,
        config: VoiceConfig,
        model: Sessions,
        noise: Vec<NoiseInput>,
    ) -> Result<Voice, VoiceError> {
        let mut voice = Voice {
            path: path.to_path_buf(),
            config_path: config_path.to_path_buf(),
            config,
            model,
            has_sid: false,
            noise,
        };
        let onnx = |message: String| VoiceError::Onnx {
            path: path.to_path_buf(),
            message,
        };
        let names: Vec<String> = {
            let session = match &*voice.model {
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
        if !voice.gives_timings() {
            tracing::info!(
                "{}: the model gives no phoneme durations; speech has no word timings",
                path.display()
            );
        }
        Ok(voice)
    }

    /// Whether the sessions read their weights in place from the voice cache ([`disk_cache`]).
    pub fn is_mapped(&self) -> bool {
        self.model.mapped().is_some()
    }

    /// Whether the same phrase renders identically every time (the random nodes were replaced).
    pub fn is_repeatable(&self) -> bool {
        !self.noise.is_empty()
    }

    /// Whether the voice gives each phoneme's duration, so speech comes with word timings
    /// ([`crate::tts::timings`]): a streaming voice whose front has them.
    pub fn gives_timings(&self) -> bool {
        matches!(
            &*self.model,
            Model::Streaming {
                durations: Some(_),
                ..
            }
        )
    }

    /// Whether sentences stream window by window (the model split at its decoder).
    pub fn is_streaming(&self) -> bool {
        matches!(*self.model, Model::Streaming { .. })
    }

    /// What decoding a window's context (both sides) costs, in latent frames of the window's
    /// own: about 3.9 for the default voice, whose decoder crops the context as it goes
    /// ([`crop`](crate::tts::model::crop)); twice [`WINDOW_CONTEXT_FRAMES`] for a decoder that does not; 0 for a voice
    /// that does not stream.
    pub fn window_context_cost(&self) -> f64 {
        match &*self.model {
            Model::Streaming { cropping, .. } if !cropping.is_empty() => 2.0 * cropping.side_cost,
            Model::Streaming { .. } => 2.0 * WINDOW_CONTEXT_FRAMES as f64,
            Model::Whole(_) => 0.0,
        }
    }
}
