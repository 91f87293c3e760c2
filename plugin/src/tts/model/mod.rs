//! Load-time surgery on a Piper model's ONNX bytes: bytes in, bytes out. Nothing here touches
//! ONNX Runtime (`plugin/tests/layout.rs` checks it), so every step is a pure function that
//! unit tests can run on toy graphs.
//!
//! - [`wire`]: the protobuf codec, with onnx.proto's field numbers named;
//! - [`noise`]: the random nodes replaced by seeded noise inputs, so a phrase renders the same
//!   every time;
//! - [`split`]: the model cut at the decoder's input into a front and a decoder, so a sentence
//!   can be decoded window by window;
//! - [`crop`]: where the decoder drops each window's context once no later layer reads it;
//! - [`external`]: large weights moved to a data file beside the model.
//!
//! Runs once per voice load, on the speech thread.

pub mod crop;
pub mod external;
pub mod noise;
pub mod split;
pub mod wire;
