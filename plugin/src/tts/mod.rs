//! Speech: text in, audio out. Text becomes phonemes (espeak-ng), phonemes become audio (a Piper
//! voice through ONNX Runtime), sentence by sentence and window by window.
//!
//! - [`text`]: the front end: phonemes exactly as Piper's phonemizer gives them, the user's
//!   dictionary, and where sentences are cut for synthesis;
//! - [`voice`]: a loaded voice (config, ONNX Runtime sessions, the window schedule, inference,
//!   the on-disk voice cache);
//! - [`model`]: load-time surgery on the model's bytes (rewrite, split, crops, external
//!   weights); bytes in, bytes out, no ONNX Runtime;
//! - [`engine`]: a phrase's text to its audio, handed on as each window is decoded;
//! - [`phrase_cache`]: rendered phrases kept for instant, identical replays;
//! - [`resources`]: where ONNX Runtime, espeak-ng's data and the voices are installed;
//! - [`hash`]: stable hashing for seeds and names.
//!
//! # Thread model
//! Nothing here runs on the audio thread, and nothing here knows about the plugin: this module
//! imports nothing from outside `tts` (`plugin/tests/layout.rs` checks it). Its callers are the
//! speech thread ([`crate::playback`]), the command-line tool, tests and benches. Voices and
//! espeak-ng are process-wide and locked; an [`engine::Engine`] belongs to one thread.

pub mod engine;
pub mod hash;
pub mod model;
pub mod phrase_cache;
pub mod resources;
pub mod text;
pub mod timings;
pub mod voice;
