//! The signal path's settings (a preset's voice chain, mix and ducking) as atomics: written
//! whole by OBS's UI thread when the filter's preset changes, read by the audio thread when
//! they have changed, with a sequence number so that it never mixes two presets' values.
//!
//! Thread model: one writer at a time ([`PathKnobs::store`], under the filter's settings lock
//! on the UI thread); the reader ([`PathKnobs::load_if_changed`]) is the audio thread, which
//! never waits: a read that meets a write in progress keeps the settings it had, and tries
//! again on the next tick.

use orator::dsp::path::{DuckKey, PathSettings};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};

/// One field of [`PathSettings`], to read or set.
enum Field<'a> {
    Number(&'a mut f32),
    Switch(&'a mut bool),
    Key(&'a mut DuckKey),
}

/// Every field of `settings`, in a fixed order (the one list both directions use).
fn each_field(settings: &mut PathSettings, mut visit: impl FnMut(Field<'_>)) {
    for strip in &mut settings.strips {
        visit(Field::Number(&mut strip.gain));
        visit(Field::Number(&mut strip.pan));
        visit(Field::Switch(&mut strip.mute));
        visit(Field::Switch(&mut strip.solo));
    }
    visit(Field::Number(&mut settings.output));
    let duck = &mut settings.duck;
    visit(Field::Number(&mut duck.depth_db));
    visit(Field::Number(&mut duck.attack_ms));
    visit(Field::Number(&mut duck.release_ms));
    visit(Field::Key(&mut duck.key));
    let chain = &mut settings.voice_chain;
    for number in [
        &mut chain.eq.low_hz,
        &mut chain.eq.low_db,
        &mut chain.eq.mid_hz,
        &mut chain.eq.mid_db,
        &mut chain.eq.mid_q,
        &mut chain.eq.high_hz,
        &mut chain.eq.high_db,
        &mut chain.deess_db,
        &mut chain.compressor.threshold_db,
        &mut chain.compressor.ratio,
        &mut chain.compressor.attack_ms,
        &mut chain.compressor.release_ms,
        &mut chain.compressor.makeup_db,
        &mut chain.ceiling_db,
    ] {
        visit(Field::Number(number));
    }
}

/// How many words [`each_field`] visits.
const WORDS: usize = orator::dsp::path::strip::COUNT * 4 + 1 + 4 + 14;

const KEYS: [DuckKey; 3] = [DuckKey::Voice, DuckKey::Sidechain, DuckKey::Either];

/// The settings as words.
fn encode(settings: &PathSettings) -> [u32; WORDS] {
    let mut copy = *settings;
    let mut words = [0; WORDS];
    let mut at = 0;
    each_field(&mut copy, |field| {
        if let Some(word) = words.get_mut(at) {
            *word = match field {
                Field::Number(n) => n.to_bits(),
                Field::Switch(b) => u32::from(*b),
                Field::Key(k) => KEYS.iter().position(|key| key == k).unwrap_or(0) as u32,
            };
        }
        at += 1;
    });
    words
}

/// The settings from words.
fn decode(words: &[u32; WORDS]) -> PathSettings {
    let mut settings = PathSettings::default();
    let mut at = 0;
    each_field(&mut settings, |field| {
        let word = words.get(at).copied().unwrap_or(0);
        match field {
            Field::Number(n) => *n = f32::from_bits(word),
            Field::Switch(b) => *b = word != 0,
            Field::Key(k) => *k = KEYS.get(word as usize).copied().unwrap_or_default(),
        }
        at += 1;
    });
    settings
}

/// The path's settings, shared between the UI thread and the audio thread.
#[derive(Debug)]
pub struct PathKnobs {
    /// Even when the words are whole; odd while they are being written.
    sequence: AtomicU64,
    words: [AtomicU32; WORDS],
}

impl Default for PathKnobs {
    fn default() -> Self {
        Self {
            sequence: AtomicU64::new(0),
            words: encode(&PathSettings::default()).map(AtomicU32::new),
        }
    }
}

impl PathKnobs {
    /// Replaces the settings (one writer at a time).
    pub fn store(&self, settings: &PathSettings) {
        let start = self.sequence.load(Ordering::Relaxed);
        self.sequence
            .store(start.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        for (word, value) in self.words.iter().zip(encode(settings)) {
            word.store(value, Ordering::Relaxed);
        }
        self.sequence
            .store(start.wrapping_add(2), Ordering::Release);
    }

    /// Audio thread: the settings, if they changed since `seen` (updated) and are not being
    /// written now. Wait-free.
    pub fn load_if_changed(&self, seen: &mut u64) -> Option<PathSettings> {
        let before = self.sequence.load(Ordering::Acquire);
        if before == *seen || before % 2 == 1 {
            return None;
        }
        let words: [u32; WORDS] = std::array::from_fn(|i| self.words[i].load(Ordering::Relaxed));
        fence(Ordering::Acquire);
        if self.sequence.load(Ordering::Relaxed) != before {
            return None;
        }
        *seen = before;
        Some(decode(&words))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_go_through_whole_and_only_when_changed() {
        let knobs = PathKnobs::default();
        let mut seen = 0;
        assert_eq!(knobs.load_if_changed(&mut seen), None, "nothing new");
        let mut settings = PathSettings::default();
        settings.strips[1].gain = 0.5;
        settings.strips[2].solo = true;
        settings.output = 0.25;
        settings.duck.key = DuckKey::Either;
        settings.voice_chain.eq.mid_q = 2.5;
        settings.voice_chain.ceiling_db = -3.0;
        knobs.store(&settings);
        assert_eq!(knobs.load_if_changed(&mut seen), Some(settings));
        assert_eq!(knobs.load_if_changed(&mut seen), None, "read once");
        let mut count = 0;
        each_field(&mut settings, |_| count += 1);
        assert_eq!(count, WORDS, "every field has its word");
    }
}
