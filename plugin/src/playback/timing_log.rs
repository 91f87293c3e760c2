//! Word timings of the phrases a speech service spoke lately, by phrase: filled by the speech
//! thread as each group of a phrase is synthesised, read by the editor, the servers and
//! `orator say` (never by the audio thread). Positions are samples at the host's rate from the
//! phrase's first sample; the phrase's `Started` event ([`super::stream::PhraseEvent`]) says
//! where that sample is in the output.

use super::stream::PhraseId;
use crate::tts::timings::{PhraseTimings, SentenceTimings, WordTiming, WrittenWord};
use std::collections::VecDeque;
use std::sync::Mutex;

/// Phrases whose timings are kept.
const KEPT: usize = 64;

/// A phrase's words as heard.
#[derive(Debug, Clone, PartialEq)]
pub struct PhraseWords {
    /// The words, spans in samples at `sample_rate` from the phrase's first sample.
    pub words: Vec<WordTiming>,
    /// The rate of the spans (the host's).
    pub sample_rate: u32,
    /// Whether every part of the phrase synthesised so far had timings (false: the voice
    /// gives none, and `words` lacks those parts).
    pub complete: bool,
    /// Whether the phrase has been synthesised to its end.
    pub finished: bool,
}

#[derive(Debug)]
struct Record {
    id: PhraseId,
    voice_rate: u32,
    host_rate: u32,
    timings: PhraseTimings,
    written: Option<(Vec<WrittenWord>, Vec<Vec<char>>)>,
    finished: bool,
}

/// See the module's documentation.
#[derive(Debug, Default)]
pub struct TimingLog(Mutex<VecDeque<Record>>);

impl TimingLog {
    fn with<R>(&self, id: PhraseId, f: impl FnOnce(&mut Record) -> R) -> Option<R> {
        let mut log = self.0.lock().unwrap_or_else(|e| e.into_inner());
        log.iter_mut().rev().find(|r| r.id == id).map(f)
    }

    /// Starts phrase `id`, synthesised at `voice_rate` and heard at `host_rate`.
    pub(super) fn begin(&self, id: PhraseId, voice_rate: u32, host_rate: u32) {
        let mut log = self.0.lock().unwrap_or_else(|e| e.into_inner());
        log.retain(|r| r.id != id);
        if log.len() >= KEPT {
            log.pop_front();
        }
        log.push_back(Record {
            id,
            voice_rate,
            host_rate,
            timings: PhraseTimings::new(),
            written: None,
            finished: false,
        });
    }

    /// Adds a group of phrase `id` that starts `offset` samples (voice rate) into it.
    pub(super) fn add_group(&self, id: PhraseId, offset: u64, timings: Option<&SentenceTimings>) {
        self.with(id, |r| r.timings.push(offset, timings));
    }

    /// The phrase's written words and each one's phonemes said on its own.
    pub(super) fn set_written(
        &self,
        id: PhraseId,
        words: Vec<WrittenWord>,
        phonemes: Vec<Vec<char>>,
    ) {
        self.with(id, |r| r.written = Some((words, phonemes)));
    }

    /// Marks phrase `id` synthesised to its end.
    pub(super) fn finish(&self, id: PhraseId) {
        self.with(id, |r| r.finished = true);
    }

    /// Phrase `id`'s words so far, if it is among the last phrases spoken.
    pub fn words(&self, id: PhraseId) -> Option<PhraseWords> {
        self.with(id, |r| PhraseWords {
            words: r.timings.words(
                r.voice_rate,
                r.host_rate,
                r.written.as_ref().map(|(w, c)| (&w[..], &c[..])),
            ),
            sample_rate: r.host_rate,
            complete: r.timings.is_complete(),
            finished: r.finished,
        })
    }
}
