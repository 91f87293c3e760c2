//! Loudness of finished renders: integrated loudness and true peak after ITU-R BS.1770-4, and
//! normalising a render to a target under a true-peak ceiling.
//!
//! - [`meter`]: K-weighting, gated 400 ms blocks, integrated loudness in LUFS.
//! - [`true_peak`]: oversampled peaks between samples.
//! - [`normalize`]: the gain to a target, with a look-ahead true-peak limiter where needed;
//! - [`live`]: short-term loudness and true peak as the voice plays, for the editor.
//!
//! Thread model: [`live`] runs on the audio thread on fixed state; the rest is offline work on
//! whole buffers (the CLI's `say`, the API's whole responses), never on the audio thread.

pub mod live;
pub mod meter;
pub mod normalize;
pub mod true_peak;

pub use normalize::{LoudnessError, Outcome, Target, normalize};
