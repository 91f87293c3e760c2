//! The speech engine: text in, audio out, one sentence at a time as each is ready.
//!
//! [`Engine::speak`] hands a phrase's audio to a callback window by window as the decoder
//! produces it ([`Chunk`]), so a caller can start playing the first window of the first
//! sentence while the rest is computed.

use crate::tts::phrase_cache::{PhraseCache, PhraseKey, Rendered};
use crate::tts::text::lexicon::Lexicon;
use crate::tts::text::phonemize::{Espeak, PhonemizeError, phonemize_clauses};
use crate::tts::text::phrasing::{PhraseOpeners, group_clauses, word_cut};
use crate::tts::timings::SentenceTimings;
use crate::tts::voice::Voice;
use crate::tts::voice::config::{SynthesisSettings, VoiceError};
use crate::tts::voice::schedule::{SAMPLES_PER_FRAME, resume_window};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// Why speaking failed.
#[derive(Debug, thiserror::Error)]
pub enum SpeakError {
    /// Phonemisation failed.
    #[error(transparent)]
    Phonemize(#[from] PhonemizeError),
    /// The voice failed.
    #[error(transparent)]
    Voice(#[from] VoiceError),
}

/// One piece of speech: a window of a sentence's (or a long sentence's clause group's) audio
/// as the decoder produces it, or a whole sentence from the cache or from a voice that does
/// not stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// Mono samples at [`Chunk::sample_rate`].
    pub samples: Vec<f32>,
    /// The voice's sample rate.
    pub sample_rate: u32,
    /// The sentence (or clause group) this chunk belongs to, counted from 0 in the text; a
    /// sentence's windows share it.
    pub sentence: usize,
    /// The window's place in the phrase's window schedule ([`crate::tts::voice::schedule::window_frames`]),
    /// counted from 0 across the sentences of one `speak` call; 0 for a sentence replayed
    /// from the cache.
    pub window: usize,
    /// Seconds it took to decode per second of audio decoded (context included); `None` for
    /// audio that was not synthesised now (a cache replay).
    pub real_time_factor: Option<f64>,
    /// The group's phoneme and word timings, on its first chunk, when the voice gives them
    /// ([`crate::tts::timings`]); `None` on its other chunks and for a voice without them.
    pub timings: Option<Arc<SentenceTimings>>,
    /// Whether this is its group's first chunk.
    pub first_of_group: bool,
}

/// Counters the editor and benches read. Written by whichever thread synthesises (relaxed
/// atomics: each value is independent, readers only display them).
#[derive(Debug, Default)]
pub struct Metrics {
    /// Sentences synthesised.
    pub sentences: AtomicU64,
    /// Nanoseconds spent phonemising.
    pub phonemize_ns: AtomicU64,
    /// Nanoseconds spent in the voice model.
    pub infer_ns: AtomicU64,
    /// Samples of audio produced (at the voice's rate).
    pub samples: AtomicU64,
    /// Phonemes the voice did not know (skipped).
    pub unknown_phonemes: AtomicU64,
    /// Failed speak calls.
    pub errors: AtomicU64,
}

impl Metrics {
    /// Real-time factor so far: synthesis time over audio time (below 1 is faster than real
    /// time).
    pub fn real_time_factor(&self, sample_rate: u32) -> Option<f64> {
        let samples = self.samples.load(Ordering::Relaxed);
        let busy =
            self.phonemize_ns.load(Ordering::Relaxed) + self.infer_ns.load(Ordering::Relaxed);
        (samples > 0).then(|| busy as f64 * 1e-9 / (samples as f64 / f64::from(sample_rate)))
    }
}

/// Sentences longer than this many phonemes (about 25 words) are synthesised clause group by
/// clause group, so their first audio comes sooner; shorter ones are spoken whole, as Piper does.
pub const LONG_SENTENCE_PHONEMES: usize = 160;

/// A phrase's first sentence is cut at clause ends from this length on (about 17 words), not
/// from [`LONG_SENTENCE_PHONEMES`]: its first group's front decides when the phrase starts, at
/// about 0.65 ms per phoneme id (two ids per phoneme) on the reference machine, so a 90-phoneme
/// group starts within 150 ms there (docs/design/streaming.md). A later sentence gets the same limit
/// while little of the phrase comes before it ([`group_budget`]).
///
/// If a first group is still longer (no clause end soon enough: chat lines often have no
/// punctuation at all), it is cut at a word boundary within this length, before a word a
/// phrase often starts with when there is one ([`word_cut`]). The first part then ends as an
/// utterance does, with a short pause (160–290 ms of quiet measured on three lines, against
/// about 370 ms at a comma).
pub const FIRST_SENTENCE_PHONEMES: usize = 90;

/// Phonemes a group may have per second of the phrase's audio before it. A group's front runs
/// after the audio before it has been decoded, and should finish before that audio has played:
/// it costs about 1.3 ms per phoneme on the reference machine, so 385 per second keeps a 2× margin
/// there (a machine 2× slower is just on time). Without it, "Hi." before an 89-word line with no
/// punctuation left a 247 ms gap after "Hi." there (docs/design/streaming.md).
pub const PHONEMES_PER_SECOND_AHEAD: f64 = 385.0;

/// The most phonemes a group may have when `seconds` of its phrase's audio come before it:
/// [`FIRST_SENTENCE_PHONEMES`] for the first, more as the phrase grows
/// ([`PHONEMES_PER_SECOND_AHEAD`]). It depends on the text alone (the audio's length does), so
/// a phrase is cut the same way every time.
pub fn group_budget(seconds: f64) -> usize {
    let ahead = (seconds.max(0.0) * PHONEMES_PER_SECOND_AHEAD) as usize;
    FIRST_SENTENCE_PHONEMES.max(ahead)
}

/// The most phonemes one model run takes at the voice's normal pace. The voice's memory
/// follows its largest run (the latent frames of the whole run are held at once), so every
/// run is cut to this, whatever the text or `--whole-sentences` say; with it no input takes
/// the process past 250 MiB, and the front half of the model, which has no arena, gives the
/// run's memory back afterwards (`tests/memory_bounds.rs`, figures in docs/PERFORMANCE.md).
/// Slower speech has more frames per phoneme, so the ceiling shrinks with the length scale
/// ([`run_ceiling`]).
pub const MAX_RUN_PHONEMES: usize = 300;

/// The most phonemes one model run takes at `length_scale` (above 1: slower speech, more
/// frames per phoneme): [`MAX_RUN_PHONEMES`] scaled down, never below
/// [`MIN_CLAUSE_GROUP_PHONEMES`].
pub fn run_ceiling(length_scale: f32) -> usize {
    let scale = if length_scale.is_finite() {
        length_scale.max(1.0)
    } else {
        1.0
    };
    ((MAX_RUN_PHONEMES as f32 / scale) as usize).max(MIN_CLAUSE_GROUP_PHONEMES)
}

/// Where a group is cut: it ends at `end`, the rest starts at `rest_from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cut {
    end: usize,
    rest_from: usize,
}

/// Where to cut `group` when it is longer than `budget`: at a word boundary ([`word_cut`],
/// the space dropped), or, when no boundary fits and the group passes the hard `ceiling`,
/// right at the ceiling (one endless word: a run of digits or letters). `None`: spoken whole.
fn run_cut(group: &[char], budget: usize, ceiling: usize, openers: &PhraseOpeners) -> Option<Cut> {
    if group.len() <= budget {
        return None;
    }
    if let Some(at) = word_cut(group, budget, MIN_CLAUSE_GROUP_PHONEMES, openers) {
        return Some(Cut {
            end: at,
            rest_from: at + 1,
        });
    }
    (group.len() > ceiling).then_some(Cut {
        end: ceiling,
        rest_from: ceiling,
    })
}

/// The smallest clause group a long sentence is cut into (about 8 words): shorter pieces lose
/// prosody without bringing the first audio much sooner.
pub const MIN_CLAUSE_GROUP_PHONEMES: usize = 48;

/// The longest piece of text handed to espeak-ng at once. espeak-ng is shared by the whole
/// process; bounded pieces keep one huge paste from holding it for seconds.
const MAX_PIECE_CHARS: usize = 2000;

/// The most digits handed to espeak-ng in one piece. espeak-ng reads a clause of a few
/// hundred words at most and silently drops the rest, and digits expand to many words
/// ("999,999,299" is fourteen): of fifty nine-digit groups in one clause, only about the first
/// fifteen were spoken. A longer run is cut at a space, or inside a number that has none, and
/// the pieces are read one after another.
const MAX_PIECE_DIGITS: usize = 60;

/// A voice plus the phonemizer data it needs.
#[derive(Debug, Clone)]
pub struct Engine {
    /// The voice (shared with every other engine using the same model file).
    pub voice: Arc<Voice>,
    /// espeak-ng's data folder.
    espeak_data: PathBuf,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Rendered phrases, shared with whoever else the caller gives it to.
    cache: Option<Arc<Mutex<PhraseCache>>>,
    /// Whether long sentences are cut at clause ends (see [`LONG_SENTENCE_PHONEMES`]).
    split_long_sentences: bool,
    /// The user's pronunciations, applied before anything else.
    lexicon: Arc<Lexicon>,
    /// The words a phrase often starts with in the voice's language, found on the first
    /// word cut ([`FIRST_SENTENCE_PHONEMES`]).
    openers: Arc<OnceLock<PhraseOpeners>>,
}

impl Engine {
    /// An engine speaking with `voice`, phonemising with the espeak-ng data in `espeak_data`.
    pub fn new(voice: Arc<Voice>, espeak_data: PathBuf) -> Self {
        Self {
            voice,
            espeak_data,
            metrics: Arc::default(),
            cache: None,
            split_long_sentences: true,
            lexicon: Arc::default(),
            openers: Arc::default(),
        }
    }

    /// Checks that espeak-ng can read this voice's language (its voice and dictionary load),
    /// so a voice that could never speak fails when it loads, with the reason, instead of on
    /// every phrase.
    pub fn check_phonemizer(&self) -> Result<(), PhonemizeError> {
        let mut espeak = Espeak::lock(&self.espeak_data)?;
        espeak.set_voice(&self.voice.config.espeak_voice)
    }

    /// Applies the user's pronunciation dictionary to everything spoken.
    pub fn with_lexicon(mut self, lexicon: Arc<Lexicon>) -> Self {
        self.lexicon = lexicon;
        self
    }

    /// Speaks every sentence whole, exactly as Piper does, up to the run ceiling
    /// ([`MAX_RUN_PHONEMES`]: a longer sentence is cut at a word boundary); first audio of a
    /// long sentence then waits for all of it.
    pub fn whole_sentences(mut self) -> Self {
        self.split_long_sentences = false;
        self
    }

    /// Counts into `metrics` (shared with whoever else holds it) instead of the engine's own.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Speaks without the phrase cache (for speech no listener hears, such as a measurement).
    pub fn without_cache(mut self) -> Self {
        self.cache = None;
        self
    }

    /// Serves repeated phrases from `cache` (and fills it).
    pub fn with_cache(mut self, cache: Arc<Mutex<PhraseCache>>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Speaks `text`, calling `on_chunk` with each sentence's audio as soon as it is ready.
    /// Returning `ControlFlow::Break` from the callback stops early (Stop/Skip). Empty or
    /// whitespace-only text produces no audio and no error.
    pub fn speak(
        &self,
        text: &str,
        settings: &SynthesisSettings,
        on_chunk: &mut dyn FnMut(Chunk) -> ControlFlow<()>,
    ) -> Result<(), SpeakError> {
        let result = self.speak_inner(text, settings, on_chunk);
        if result.is_err() {
            self.metrics.errors.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    fn speak_inner(
        &self,
        text: &str,
        settings: &SynthesisSettings,
        on_chunk: &mut dyn FnMut(Chunk) -> ControlFlow<()>,
    ) -> Result<(), SpeakError> {
        // The dictionary is applied first, so the cache key holds what is actually said.
        let text = &*self.lexicon.apply(text);
        let Some(cache) = &self.cache else {
            return self.synthesize(text, settings, on_chunk);
        };
        let key = PhraseKey::new(
            self.voice.path.clone(),
            self.voice.config_path.clone(),
            settings,
            self.split_long_sentences,
            text,
        );
        let (cached, room) = {
            let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
            (cache.get(&key), cache.max_phrase_bytes())
        };
        if let Some(rendered) = cached {
            for (sentence, samples) in rendered.sentences.iter().enumerate() {
                let chunk = Chunk {
                    samples: samples.to_vec(),
                    sample_rate: rendered.sample_rate,
                    sentence,
                    window: 0,
                    real_time_factor: None,
                    timings: rendered.timings.get(sentence).cloned().flatten(),
                    first_of_group: true,
                };
                if on_chunk(chunk).is_break() {
                    break;
                }
            }
            return Ok(());
        }
        // The cache keeps whole sentences: windows are joined back up.
        // A phrase that grows past what the cache may hold is not copied any further.
        let mut sentences: Vec<Vec<f32>> = Vec::new();
        let mut timings: Vec<Option<Arc<SentenceTimings>>> = Vec::new();
        let mut complete = true;
        let mut kept = 0usize;
        self.synthesize(text, settings, &mut |chunk| {
            kept += chunk.samples.len() * std::mem::size_of::<f32>();
            if kept > room {
                if complete {
                    sentences = Vec::new();
                    timings = Vec::new();
                }
                complete = false;
                return on_chunk(chunk);
            }
            if sentences.len() <= chunk.sentence {
                sentences.resize_with(chunk.sentence + 1, Vec::new);
                timings.resize(chunk.sentence + 1, None);
            }
            if chunk.timings.is_some() {
                timings[chunk.sentence].clone_from(&chunk.timings);
            }
            sentences[chunk.sentence].extend_from_slice(&chunk.samples);
            let flow = on_chunk(chunk);
            complete &= flow.is_continue();
            flow
        })?;
        if complete {
            let rendered = Rendered {
                sample_rate: self.voice.config.sample_rate,
                sentences: sentences.into_iter().map(Arc::from).collect(),
                timings,
            };
            cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, Arc::new(rendered));
        }
        Ok(())
    }

    /// Phonemises and synthesises, sentence by sentence.
    fn synthesize(
        &self,
        text: &str,
        settings: &SynthesisSettings,
        on_chunk: &mut dyn FnMut(Chunk) -> ControlFlow<()>,
    ) -> Result<(), SpeakError> {
        let clean = clean_text(text);
        let mut phrase = PhraseSoFar::default();
        let all = pieces(&clean, MAX_PIECE_CHARS)
            .into_iter()
            .flat_map(|piece| digit_pieces(piece, MAX_PIECE_DIGITS));
        for piece in all {
            let started = Instant::now();
            let sentences = {
                let _span = tracing::debug_span!("phonemize", chars = piece.len()).entered();
                let mut espeak = Espeak::lock(&self.espeak_data)?;
                phonemize_clauses(&mut espeak, &self.voice.config.espeak_voice, piece)?
            };
            self.metrics
                .phonemize_ns
                .fetch_add(elapsed_ns(started), Ordering::Relaxed);
            let ceiling = run_ceiling(settings.length_scale);
            for sentence in &sentences {
                // Each group's length is decided when its turn comes, from the audio before it.
                let groups = if self.split_long_sentences {
                    let long =
                        LONG_SENTENCE_PHONEMES.min(phrase.budget(self.voice.config.sample_rate));
                    group_clauses(sentence, long, MIN_CLAUSE_GROUP_PHONEMES)
                } else {
                    vec![sentence.concat()]
                };
                for mut group in groups {
                    loop {
                        let budget = if self.split_long_sentences {
                            phrase.budget(self.voice.config.sample_rate).min(ceiling)
                        } else {
                            ceiling
                        };
                        let Some(cut) = run_cut(&group, budget, ceiling, self.openers()) else {
                            break;
                        };
                        let rest = group.split_off(cut.rest_from);
                        group.truncate(cut.end);
                        if self.speak_group(&group, settings, &mut phrase, on_chunk)? {
                            return Ok(());
                        }
                        group = rest;
                    }
                    if self.speak_group(&group, settings, &mut phrase, on_chunk)? {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    /// Synthesises one group (a sentence, a clause group or part of one), handing on its
    /// windows as the decoder produces them. Returns whether the caller asked to stop.
    fn speak_group(
        &self,
        phonemes: &[char],
        settings: &SynthesisSettings,
        phrase: &mut PhraseSoFar,
        on_chunk: &mut dyn FnMut(Chunk) -> ControlFlow<()>,
    ) -> Result<bool, SpeakError> {
        let mut unknown = 0;
        let (ids, owners) = self.voice.config.phoneme_ids_owned(phonemes, &mut unknown);
        self.metrics
            .unknown_phonemes
            .fetch_add(unknown as u64, Ordering::Relaxed);
        if ids.len() <= 3 {
            return Ok(false); // nothing speakable (only start/end symbols)
        }
        let _span = tracing::debug_span!("infer", ids = ids.len()).entered();
        let index = phrase.groups;
        let mut stopped = false;
        let mut produced = 0u64;
        let rate = self.voice.config.sample_rate;
        let frames_so_far = phrase.samples / SAMPLES_PER_FRAME as u64;
        let first_window = resume_window(
            phrase.next_window,
            usize::try_from(frames_so_far).unwrap_or(usize::MAX),
        );
        let mut first = true;
        let busy = self
            .voice
            .infer_streaming(&ids, settings, first_window, &mut |window| {
                produced += window.audio.len() as u64;
                phrase.next_window = window.index + 1;
                let timings = window
                    .durations
                    .filter(|_| first)
                    .and_then(|d| {
                        SentenceTimings::new(phonemes, &owners, d, window.samples_per_frame)
                    })
                    .map(Arc::new);
                let chunk = Chunk {
                    samples: window.audio.to_vec(),
                    sample_rate: rate,
                    sentence: index,
                    window: window.index,
                    real_time_factor: window.real_time_factor(rate),
                    timings,
                    first_of_group: std::mem::take(&mut first),
                };
                let flow = on_chunk(chunk);
                stopped |= flow.is_break();
                flow
            })?;
        self.metrics.infer_ns.fetch_add(
            u64::try_from(busy.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.metrics.sentences.fetch_add(1, Ordering::Relaxed);
        self.metrics.samples.fetch_add(produced, Ordering::Relaxed);
        phrase.samples += produced;
        phrase.groups += 1;
        Ok(stopped)
    }

    /// Each of `words`' phonemes (the text's words as written,
    /// [`crate::tts::timings::written_words`]) said on its own: through the dictionary, as
    /// espeak-ng spells it (a number is several words), a `[[ ]]` block as written. With
    /// these, [`crate::tts::timings::align`] tells which written word each spoken phoneme is.
    pub fn written_phonemes(
        &self,
        words: &[crate::tts::timings::WrittenWord],
    ) -> Result<Vec<Vec<char>>, SpeakError> {
        let mut espeak = Espeak::lock(&self.espeak_data)?;
        let mut all = Vec::with_capacity(words.len());
        for word in words {
            let said = self.lexicon.apply(&word.text);
            let mut phonemes = Vec::new();
            for sentence in phonemize_clauses(&mut espeak, &self.voice.config.espeak_voice, &said)?
            {
                for clause in sentence {
                    phonemes.extend(clause);
                }
            }
            all.push(phonemes);
        }
        Ok(all)
    }

    /// The words a phrase often starts with in the voice's language, spelled on first use.
    fn openers(&self) -> &PhraseOpeners {
        self.openers.get_or_init(|| {
            // Without them a cut still falls on a word boundary, ranked by stress alone.
            Espeak::lock(&self.espeak_data)
                .and_then(|mut espeak| {
                    PhraseOpeners::for_voice(&mut espeak, &self.voice.config.espeak_voice)
                })
                .unwrap_or_else(|err| {
                    tracing::warn!("Orator: no phrase openers for the voice's language: {err}");
                    PhraseOpeners::default()
                })
        })
    }
}

/// What a phrase has produced so far, which shapes what comes next.
#[derive(Debug, Default)]
struct PhraseSoFar {
    /// Groups synthesised (the next one's [`Chunk::sentence`]).
    groups: usize,
    /// Where the next group starts in the window schedule: after the first, groups decode in
    /// larger windows, since the audio before them is already out (`resume_window`).
    next_window: usize,
    /// Samples produced, at the voice's rate.
    samples: u64,
}

impl PhraseSoFar {
    /// The most phonemes the next group may have at a voice rate of `rate` Hz.
    fn budget(&self, rate: u32) -> usize {
        group_budget(self.samples as f64 / f64::from(rate.max(1)))
    }
}

fn elapsed_ns(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Replaces control characters (other than line breaks and tabs) with spaces: they carry no
/// speech and some make espeak-ng misread the text around them.
fn clean_text(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && !matches!(c, '\n' | '\t') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// Splits text into pieces of at most about `max_chars` characters, preferring paragraph
/// breaks, then sentence ends, then spaces, so espeak-ng still sees whole sentences.
fn pieces(text: &str, max_chars: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        // Only the next piece's characters are looked at, so a long text is cut in time linear
        // in its length (counting the rest each time made 8 MiB take minutes).
        let Some((limit, _)) = rest.char_indices().nth(max_chars) else {
            out.push(rest);
            break;
        };
        let window = &rest[..limit];
        let cut = window
            .rfind("\n\n")
            .or_else(|| window.rfind(['.', '!', '?', '\n']).map(|i| i + 1))
            .or_else(|| window.rfind(' '))
            .filter(|&i| i > 0)
            .unwrap_or(limit);
        out.push(rest[..cut].trim());
        rest = rest[cut..].trim_start();
    }
    out.retain(|p| !p.is_empty());
    out
}

/// Splits `piece` so that no part holds more than `max_digits` ASCII digits: at the last space
/// before the digit that would pass the limit, or at that digit when the run has no space.
fn digit_pieces(piece: &str, max_digits: usize) -> Vec<&str> {
    let max_digits = max_digits.max(1);
    let mut out = Vec::new();
    let mut start = 0;
    let mut digits = 0;
    let mut last_space = None;
    for (i, c) in piece.char_indices() {
        if c.is_whitespace() {
            last_space = Some(i);
        } else if c.is_ascii_digit() {
            digits += 1;
            if digits > max_digits {
                // ASCII digits are one byte: `i + 1` is the next character's start.
                let digits_from =
                    |at: usize| piece[at..i + 1].bytes().filter(u8::is_ascii_digit).count();
                let cut = last_space
                    .filter(|&s| s > start && digits_from(s) <= max_digits)
                    .unwrap_or(i);
                out.push(piece[start..cut].trim());
                start = cut;
                last_space = None;
                digits = digits_from(start);
            }
        }
    }
    out.push(piece[start..].trim());
    out.retain(|p| !p.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_run_passes_the_ceiling_whatever_the_group() {
        let openers = PhraseOpeners::default();
        for text in [
            "wʌn twɛnti ".repeat(200),
            "x".repeat(5000),
            format!("{} {}", "y".repeat(1000), "z".repeat(30)),
        ] {
            for scale in [0.5, 1.0, 4.0, f32::NAN] {
                let ceiling = run_ceiling(scale);
                let mut group: Vec<char> = text.chars().collect();
                let total = group.len();
                let mut kept = 0;
                while let Some(cut) = run_cut(&group, ceiling, ceiling, &openers) {
                    assert!(cut.end <= ceiling && cut.end > 0, "cut at {}", cut.end);
                    let rest = group.split_off(cut.rest_from);
                    kept += cut.rest_from;
                    group = rest;
                }
                assert!(group.len() <= ceiling, "a run of {} phonemes", group.len());
                assert_eq!(kept + group.len(), total, "phonemes lost");
            }
        }
        assert_eq!(run_ceiling(1.0), MAX_RUN_PHONEMES);
        assert_eq!(run_ceiling(4.0), MAX_RUN_PHONEMES / 4);
        assert_eq!(run_ceiling(100.0), MIN_CLAUSE_GROUP_PHONEMES);
    }

    proptest::proptest! {
        /// Cutting digit runs keeps every character, in order, and no part passes the limit.
        #[test]
        fn digit_pieces_never_lose_or_reorder_anything(
            text in "[0-9, a-z]{0,300}",
            max in 1usize..40,
        ) {
            let parts = digit_pieces(&text, max);
            let squeeze = |s: &str| s.split_whitespace().collect::<String>();
            proptest::prop_assert_eq!(squeeze(&text), squeeze(&parts.join(" ")));
            for part in &parts {
                proptest::prop_assert!(part.bytes().filter(u8::is_ascii_digit).count() <= max);
            }
        }
    }

    #[test]
    fn long_digit_runs_are_cut_at_spaces_or_inside_a_spaceless_number() {
        let groups = "999,999,299 999,999,298 999,999,297";
        assert_eq!(
            digit_pieces(groups, 20),
            ["999,999,299 999,999,298", "999,999,297"]
        );
        assert_eq!(digit_pieces("1234567890", 4), ["1234", "5678", "90"]);
        assert_eq!(digit_pieces("no digits at all", 1), ["no digits at all"]);
    }

    #[test]
    fn control_characters_become_spaces_but_line_breaks_stay() {
        assert_eq!(clean_text("a\u{0}b\u{7}c\nd\te"), "a b c\nd\te");
    }

    #[test]
    fn cutting_the_largest_text_into_pieces_takes_linear_time() {
        // 8 MiB, the editor's limit: cut in well under a second when linear; counting the rest
        // of the text for every piece took minutes. The limit below only catches that.
        let text = "Word after word, and then a sentence ends. ".repeat(8 << 20 >> 6 << 1);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(pieces(&text, MAX_PIECE_CHARS).len());
        });
        let count = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("cutting 8 MiB into pieces took over 30 s");
        assert!(count > 4000, "{count} pieces");
    }

    proptest::proptest! {
        /// Cutting any text into pieces keeps every word, in order, and respects the limit.
        #[test]
        fn pieces_never_lose_or_reorder_words(text in "\\PC{0,400}", max in 1usize..60) {
            let parts = pieces(&text, max);
            let rejoined = parts.join(" ");
            let words_before: Vec<&str> = text.split_whitespace().collect();
            // A cut inside a long word splits it in two; compare the characters instead.
            let chars_before: String = words_before.concat();
            let chars_after: String = rejoined.split_whitespace().collect::<Vec<_>>().concat();
            proptest::prop_assert_eq!(chars_before, chars_after);
            for part in &parts {
                proptest::prop_assert!(part.chars().count() <= max);
            }
        }
    }

    #[test]
    fn long_text_is_cut_at_sentence_ends_within_the_limit() {
        let text = "One two. Three four. Five six seven.";
        let parts = pieces(text, 12);
        assert_eq!(parts, ["One two.", "Three four.", "Five six", "seven."]);
        assert!(pieces("   ", 10).is_empty());
        let huge = "word ".repeat(10_000);
        let parts = pieces(&huge, MAX_PIECE_CHARS);
        assert!(parts.iter().all(|p| p.chars().count() <= MAX_PIECE_CHARS));
        assert_eq!(parts.join(" ").split_whitespace().count(), 10_000);
    }
}
