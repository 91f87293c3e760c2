//! Chat read as a person reads it aloud: the chat lexicon (shorthand, abbreviations,
//! emoticons, kaomoji; data the user can extend) and the rules that are code (stretched
//! words, decorated names, mentions, ratings, long numbers, inline phoneme spans). The chat
//! filter ([`super::filter`]) applies both, after the user's word list.
//!
//! Thread model: pure functions and read-only shared data, used by any thread that filters.

pub mod lexicon;
pub mod rules;
