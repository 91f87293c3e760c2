//! An LRU cache of rendered phrases, bounded in bytes, so a phrase spoken again (a history
//! replay, a repeated chat command, a MIDI-triggered line) plays instantly and identically.
//!
//! Used by the synthesis worker and the editor thread, never the audio thread; a plain mutex
//! around it is fine.

use crate::tts::voice::config::SynthesisSettings;
use lru::LruCache;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Default size bound: 64 MiB of audio is about 12 minutes of 22.05 kHz speech.
pub const DEFAULT_MAX_BYTES: usize = 64 << 20;

/// One phrase may take at most this fraction of the cache ([`PhraseCache::max_phrase_bytes`]).
const PHRASE_SHARE: usize = 8;

/// What makes two renderings the same: the voice files, the settings and the text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhraseKey {
    /// Canonical model path.
    pub model: PathBuf,
    /// Canonical config path.
    pub config: PathBuf,
    /// Speaker id (multi-speaker voices).
    pub speaker: Option<i64>,
    /// Length, noise, noise-w scales and volume, as bits (exact float identity).
    pub settings: [u32; 4],
    /// Whether long sentences were cut at clause ends (it changes the audio).
    pub split_long_sentences: bool,
    /// The text as given.
    pub text: String,
}

impl PhraseKey {
    /// The key for speaking `text` with these files and settings.
    pub fn new(
        model: PathBuf,
        config: PathBuf,
        settings: &SynthesisSettings,
        split_long_sentences: bool,
        text: &str,
    ) -> Self {
        let s = settings.sanitized();
        Self {
            model,
            config,
            speaker: s.speaker,
            settings: [
                s.length_scale.to_bits(),
                s.noise_scale.to_bits(),
                s.noise_w.to_bits(),
                s.volume.to_bits(),
            ],
            split_long_sentences,
            text: text.to_owned(),
        }
    }

    fn bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.text.len()
            + self.model.as_os_str().len()
            + self.config.as_os_str().len()
    }
}

/// A rendered phrase: each sentence's audio, in order, at the voice's sample rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Sample rate of every sentence.
    pub sample_rate: u32,
    /// Audio per sentence.
    pub sentences: Vec<Arc<[f32]>>,
    /// Timings per sentence, where the voice gave them.
    pub timings: Vec<Option<Arc<crate::tts::timings::SentenceTimings>>>,
}

impl Rendered {
    fn bytes(&self) -> usize {
        self.sentences
            .iter()
            .map(|s| s.len() * std::mem::size_of::<f32>() + std::mem::size_of::<Arc<[f32]>>())
            .sum()
    }
}

/// The cache.
#[derive(Debug)]
pub struct PhraseCache {
    /// Entries, most recently used first. Unbounded in count; bounded by `max_bytes` below.
    entries: LruCache<PhraseKey, Arc<Rendered>>,
    /// Bytes held (audio plus keys).
    bytes: usize,
    /// The bound.
    max_bytes: usize,
    /// Lookups that found a phrase.
    hits: AtomicU64,
    /// Lookups that did not.
    misses: AtomicU64,
}

impl PhraseCache {
    /// An empty cache holding at most `max_bytes`.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            entries: LruCache::unbounded(),
            bytes: 0,
            max_bytes,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The most audio one phrase may have to be stored, in bytes: a phrase that grows past it
    /// is not kept while it is synthesised. An eighth of the cache (8 MiB, about 95 s of a
    /// 22.05 kHz voice, in the default): a phrase that long is rarely spoken twice, and keeping
    /// it would hold its memory after a one-off render and push out many short ones.
    pub fn max_phrase_bytes(&self) -> usize {
        self.max_bytes / PHRASE_SHARE
    }

    /// The phrase, if cached (and marks it most recently used).
    pub fn get(&mut self, key: &PhraseKey) -> Option<Arc<Rendered>> {
        let found = self.entries.get(key).cloned();
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Stores a phrase, evicting the least recently used ones to stay within the bound. A
    /// phrase larger than the whole bound is not stored.
    pub fn insert(&mut self, key: PhraseKey, rendered: Arc<Rendered>) {
        let size = key.bytes() + rendered.bytes();
        if size > self.max_bytes {
            return;
        }
        if let Some(old) = self.entries.pop(&key) {
            self.bytes -= key.bytes() + old.bytes();
        }
        while self.bytes + size > self.max_bytes {
            match self.entries.pop_lru() {
                Some((k, v)) => self.bytes -= k.bytes() + v.bytes(),
                None => break,
            }
        }
        self.bytes += size;
        self.entries.put(key, rendered);
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Phrases held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// (hits, misses) so far.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// Hits over lookups, if there were any.
    pub fn hit_rate(&self) -> Option<f64> {
        let (hits, misses) = self.counts();
        (hits + misses > 0).then(|| hits as f64 / (hits + misses) as f64)
    }
}

impl Default for PhraseCache {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> PhraseKey {
        let settings = SynthesisSettings {
            length_scale: 1.0,
            noise_scale: 0.667,
            noise_w: 0.8,
            volume: 1.0,
            speaker: None,
        };
        PhraseKey::new(
            "/v.onnx".into(),
            "/v.onnx.json".into(),
            &settings,
            true,
            text,
        )
    }

    fn audio(samples: usize) -> Arc<Rendered> {
        Arc::new(Rendered {
            sample_rate: 22050,
            sentences: vec![vec![0.25f32; samples].into()],
            timings: Vec::new(),
        })
    }

    #[test]
    fn hits_misses_and_byte_bound_with_lru_eviction() {
        let one = key("one").bytes() + audio(1000).bytes();
        let mut cache = PhraseCache::new(2 * one + one / 2);
        assert!(cache.get(&key("one")).is_none());
        cache.insert(key("one"), audio(1000));
        cache.insert(key("two"), audio(1000));
        assert!(cache.get(&key("one")).is_some()); // "one" is now most recent
        cache.insert(key("six"), audio(1000)); // evicts "two"
        assert!(cache.get(&key("two")).is_none());
        assert!(cache.get(&key("one")).is_some() && cache.get(&key("six")).is_some());
        assert!(cache.bytes() <= 2 * one + one / 2);
        assert_eq!(cache.counts(), (3, 2));
        assert_eq!(cache.hit_rate(), Some(0.6));
    }

    #[test]
    fn settings_and_speaker_are_part_of_the_key_and_oversized_phrases_are_skipped() {
        let mut a = key("x");
        let mut b = key("x");
        assert_eq!(a, b);
        b.settings[0] = 2.0f32.to_bits();
        assert_ne!(a, b);
        a.speaker = Some(3);
        assert_ne!(a, key("x"));
        let mut cache = PhraseCache::new(100);
        cache.insert(key("huge"), audio(10_000));
        assert!(cache.is_empty() && cache.bytes() == 0);
    }

    #[test]
    fn replacing_a_phrase_does_not_leak_bytes() {
        let mut cache = PhraseCache::new(1 << 20);
        cache.insert(key("a"), audio(100));
        let once = cache.bytes();
        cache.insert(key("a"), audio(100));
        assert_eq!(cache.bytes(), once);
        assert_eq!(cache.len(), 1);
    }
}
