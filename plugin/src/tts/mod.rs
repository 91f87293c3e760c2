//! Speech: text → phonemes (espeak-ng) → audio (a Piper voice through ONNX Runtime).
//!
//! Everything here runs off the audio thread.

pub mod cache;
pub mod compiled;
pub mod crop;
pub mod engine;
pub mod gate;
pub mod graph;
pub mod lexicon;
pub mod onnx;
pub mod phonemize;
pub mod resample;
pub mod resources;
pub mod service;
pub mod split;
pub mod stream;
pub mod voice;
