//! Signal processing units. Plain structs with no framework types: each one is prepared with
//! `prepare` (which may allocate), cleared with `reset`, and run with `process*` on preallocated
//! memory only, so the audio thread can call everything but `prepare`.

pub mod biquad;
pub mod compressor;
pub mod deesser;
pub mod duck;
pub mod eq;
pub mod gain;
pub mod limiter;
pub mod mix;
pub mod path;
pub mod sanitize;
pub mod voice_chain;
