//! The text front end: what the voice is asked to say.
//!
//! - [`phonemize`]: text to phonemes with espeak-ng, exactly as piper-tts phonemizes (one
//!   process-wide espeak-ng behind a mutex);
//! - [`lexicon`]: the user's dictionary (words spoken as other words or as phonemes);
//! - [`phrasing`]: where a sentence's phonemes are cut for synthesis (clause ends, and one word
//!   boundary where a long first group would keep the listener waiting).
//!
//! Runs on the speech thread and in tools; never on the audio thread.

pub mod lexicon;
pub mod phonemize;
pub mod phrasing;
