//! Speech: text → phonemes (espeak-ng) → audio (a Piper voice through ONNX Runtime).
//!
//! Everything here runs off the audio thread.

pub mod phonemize;
