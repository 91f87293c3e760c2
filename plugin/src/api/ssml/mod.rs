//! SSML, a documented subset, for the OpenAI speech endpoint (`"ssml": true`, or input that
//! starts with `<speak`).
//!
//! - [`parse`]: the document (XML, no DTD) into [`Ssml`]: segments of speech, each with its
//!   own pace, level and voice, and the exact pauses between them; the text the document
//!   shows (for word timings and captions);
//! - [`say_as`]: how `<say-as>` content is read (characters, cardinal, ordinal, date,
//!   telephone);
//! - [`join`]: the segments' renders joined into one output with each pause exact to the
//!   sample, and their word timings moved and mapped onto the shown text;
//! - [`speak`]: renders a document segment by segment through the render path.
//!
//! Elements: `speak`, `p`, `s`, `break` (`time` up to [`MAX_BREAK_MS`], or `strength`),
//! `prosody` (`rate`, `volume`; `pitch` is accepted and not applied: the voices have no pitch
//! control), `say-as`, `sub alias`, `phoneme alphabet="ipa" ph`, `voice name` (a voice alias or
//! an installed voice), `emphasis` (the voices have no stress control: it slows and raises the
//! words, see [`Style::emphasised`]), `mark` (accepted, no effect). Anything else is refused
//! with its line and column. Bounds: [`MAX_DEPTH`] nested elements, [`MAX_ELEMENTS`] elements.
//!
//! Thread model: pure functions, except [`speak`], which runs on the HTTP render thread.

pub mod join;
pub mod parse;
pub mod say_as;
pub mod speak;

use crate::playback::voicing::Voicing;
use std::ops::Range;

/// The deepest nesting of elements accepted.
pub const MAX_DEPTH: usize = 16;
/// The most elements one document may hold.
pub const MAX_ELEMENTS: usize = 512;
/// The longest pause one `<break>` may ask for, milliseconds.
pub const MAX_BREAK_MS: u32 = 10_000;
/// The longest `ph` of a `<phoneme>`, characters.
pub const MAX_PHONEMES: usize = 200;

/// Why a document was refused. Positions are 1-based line and column (characters).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SsmlError {
    /// Not well-formed XML.
    #[error("the SSML is not well-formed: {0}")]
    Xml(String),
    /// The root is not `<speak>`.
    #[error("the SSML's root element must be <speak>, not <{0}>")]
    Root(String),
    /// An element outside the subset.
    #[error("line {line}, column {column}: <{name}> is not supported (see the API's SSML subset)")]
    Element {
        /// Its name.
        name: String,
        /// Where it starts.
        line: u32,
        /// Where it starts.
        column: u32,
    },
    /// A value Orator cannot use.
    #[error("line {line}, column {column}: {what}")]
    Value {
        /// What is wrong.
        what: String,
        /// Where the element starts.
        line: u32,
        /// Where the element starts.
        column: u32,
    },
    /// Nested too deep.
    #[error("line {line}, column {column}: elements nested more than {MAX_DEPTH} deep")]
    Depth {
        /// Where the element starts.
        line: u32,
        /// Where the element starts.
        column: u32,
    },
    /// Too many elements.
    #[error("the SSML has more than {MAX_ELEMENTS} elements")]
    Elements,
    /// Nothing to speak.
    #[error("the SSML has no text to speak")]
    Empty,
}

/// How a stretch of speech is voiced, relative to the request.
#[derive(Debug, Clone, PartialEq)]
pub struct Style {
    /// Pace, times the request's `speed`.
    pub rate: f32,
    /// Level, dB, added to the voice's.
    pub level_db: f32,
    /// The voice (`None`: the request's).
    pub voice: Option<Voicing>,
}

impl Default for Style {
    fn default() -> Self {
        Self {
            rate: 1.0,
            level_db: 0.0,
            voice: None,
        }
    }
}

impl Style {
    /// `<emphasis level>`: `strong` 0.85 × pace and +3 dB, `moderate` (the default) 0.92 × and
    /// +1.5 dB, `reduced` 1.1 × and −3 dB, `none` unchanged. `None` for an unknown level.
    pub fn emphasised(&self, level: &str) -> Option<Self> {
        let (rate, db) = match level {
            "strong" => (0.85, 3.0),
            "moderate" => (0.92, 1.5),
            "reduced" => (1.1, -3.0),
            "none" => (1.0, 0.0),
            _ => return None,
        };
        Some(Self {
            rate: self.rate * rate,
            level_db: self.level_db + db,
            voice: self.voice.clone(),
        })
    }
}

/// Where a stretch of a segment's spoken text comes from in the shown text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// Its bytes in the segment's spoken text.
    pub spoken: Range<usize>,
    /// Its bytes in [`Ssml::shown`].
    pub shown: Range<usize>,
    /// Whether the two are the same characters (plain text); otherwise the spoken words
    /// (a `<sub>` alias, a `<say-as>` reading, phonemes) all stand for the whole shown range.
    pub same: bool,
}

/// One stretch of speech spoken as one phrase.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// What is said.
    pub text: String,
    /// Where its text comes from.
    pub pieces: Vec<Piece>,
    /// How it is voiced.
    pub style: Style,
    /// The pause between the previous segment's last word and this one's first, milliseconds
    /// (for the first segment: from the start of the output). `None`: no `<break>` between
    /// them; a pause of [`join::natural_pause_ms`] then.
    pub pause_before_ms: Option<u32>,
}

/// A parsed document.
#[derive(Debug, Clone, PartialEq)]
pub struct Ssml {
    /// The segments, in order.
    pub segments: Vec<Segment>,
    /// A `<break>` after the last words: the pause from them to the end of the output.
    pub pause_after_ms: Option<u32>,
    /// The text the document shows (its text content, whitespace collapsed; a `<sub>` shows
    /// what it replaces): word timings and captions refer to it.
    pub shown: String,
}

impl Ssml {
    /// Every pause asked for, milliseconds.
    pub fn pauses_ms(&self) -> u64 {
        self.segments
            .iter()
            .filter_map(|s| s.pause_before_ms)
            .chain(self.pause_after_ms)
            .map(u64::from)
            .sum()
    }

    /// Every segment's spoken text, for estimates of the render's length.
    pub fn spoken(&self) -> String {
        let texts: Vec<&str> = self.segments.iter().map(|s| s.text.as_str()).collect();
        texts.join(" ")
    }

    /// The slowest pace any segment asks for (times the request's speed).
    pub fn slowest_rate(&self) -> f32 {
        self.segments
            .iter()
            .map(|s| s.style.rate)
            .fold(1.0f32, f32::min)
    }
}

/// Whether `input` is SSML by its look: it starts (after whitespace and an XML declaration)
/// with `<speak`.
pub fn looks_like_ssml(input: &str) -> bool {
    let mut rest = input.trim_start();
    if rest.starts_with("<?xml") {
        rest = rest
            .find("?>")
            .map_or("", |end| rest[end + 2..].trim_start());
    }
    rest.starts_with("<speak")
}
