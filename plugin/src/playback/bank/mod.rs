//! The phrase bank: the session's phrases rendered ahead at the host's rate, so the timeline (a
//! MIDI note, the Trigger or Speak parameter) plays one from memory at the exact sample it asks
//! for.
//!
//! Slot 0 holds the whole text (what Speak speaks); slot `n` (1..=[`MAX_PHRASES`]) holds the
//! text's `n`-th non-empty line. The speech thread ([`BankFeeder`]) renders every slot whose
//! content changed (text, voice, dictionary, delivery or host rate) and hands each finished
//! [`Clip`] to the audio thread ([`BankPlayer`]) through a wait-free ring; the audio thread hands
//! every clip it lets go of back through a second ring, so memory is never freed in
//! `process()`.
//!
//! # Memory bound
//! At most [`BANK_BYTES`] of clips per activation (about 11 minutes of audio at 48 kHz). Past
//! it, the feeder drops the largest clips held (they show as "not held" and render again when
//! asked for); a single phrase longer than the bound is never held (its render stops as soon as
//! it passes the bound) and is streamed instead.
//!
//! # Activations and renders
//! Each activation ([`channel`]) has its own rings and [`SlotTable`]: the speech thread may
//! still hold the previous activation's feeder for a moment, and nothing that feeder does can
//! make the new activation's player believe its phrases are on their way. In a render, a
//! trigger waits only while its own feeder has not caught up with the session, or has the
//! phrase queued or rendering; a phrase nothing will deliver is streamed at once and counted
//! ([`BankShared::unrendered`]).
//!
//! # Placements
//! While the host's transport plays, the player records where each phrase starts (and ends)
//! in project time ([`placements`]), for the project's subtitles.
//!
//! # Threads
//! [`BankPlayer`]: the audio thread, wait-free except [`BankPlayer::trigger`] in a render.
//! [`BankFeeder`]: the speech thread. [`BankShared`]: the editor reads it from any thread.

mod feeder;
pub mod placements;
mod player;
#[cfg(test)]
mod tests;

pub use feeder::BankFeeder;
pub use placements::{PlacedPhrase, Sheet};
pub use player::BankPlayer;

use crate::state::SharedSession;
use crate::tts::timings::WordTiming;
use player::Sounding;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Phrase lines the timeline can address (MIDI notes base..base+127, the Phrase parameter).
pub const MAX_PHRASES: usize = 128;

/// Slots: the whole text and every phrase line.
pub const SLOTS: usize = MAX_PHRASES + 1;

/// The slot of the whole text.
pub const WHOLE_TEXT: usize = 0;

/// Phrases that can sound at once (different notes overlap; the same phrase again restarts).
pub const VOICES: usize = 8;

/// The most clip audio one activation holds, in bytes.
pub const BANK_BYTES: usize = 128 << 20;

/// The environment variable that sets the bank's bound in MiB (1 to 4096), for hosts that
/// run many instances or projects that want more of their reading held.
pub const MEMORY_VAR: &str = "ORATOR_TIMELINE_MEMORY_MB";

/// What is wrong with a [`MEMORY_VAR`] value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "{MEMORY_VAR}={value:?} is not a whole number of MiB from 1 to 4096; {default} MiB is used"
)]
pub struct MemoryVarError {
    value: String,
    default: usize,
}

/// The bound [`MEMORY_VAR`]'s value asks for, in bytes: [`BANK_BYTES`] when unset.
pub fn bound_from(value: Option<&str>) -> Result<usize, MemoryVarError> {
    let Some(value) = value else {
        return Ok(BANK_BYTES);
    };
    match value.trim().parse::<usize>() {
        Ok(mib @ 1..=4096) => Ok(mib << 20),
        _ => Err(MemoryVarError {
            value: value.to_owned(),
            default: BANK_BYTES >> 20,
        }),
    }
}

/// The longest a render waits for one due phrase. Rendering runs at about a tenth of real
/// time, so this only ends a wait when the speech thread is stuck.
pub const RENDER_WAIT_LIMIT: Duration = Duration::from_secs(30);

/// How long the session must stay unchanged before phrases are rendered ahead: typing changes
/// the text at every key, and a render begun for a half-typed line would hold up a Speak
/// pressed right after (live speech waits for the window in progress). Phrases a render asks
/// for do not wait.
pub const SETTLE: Duration = Duration::from_millis(500);

/// Updates in flight from the speech thread to the audio thread.
const UPDATE_CAPACITY: usize = SLOTS * 2;

/// Clips in flight back to the speech thread: every clip the audio thread can hold (table and
/// voices) plus every update in flight, so the ring has room for all of them at once.
const RETIRE_CAPACITY: usize = SLOTS + VOICES + UPDATE_CAPACITY;

/// One rendered phrase at the host's rate.
#[derive(Debug)]
pub struct Clip {
    /// Its slot.
    pub slot: usize,
    /// The content it was rendered from ([`BankShared::key`]).
    pub key: u64,
    /// Mono samples at the host's rate, shared by every slot with the same content (a
    /// one-line text is both the whole text and its first phrase).
    pub samples: Arc<[f32]>,
}

/// Speech thread → audio thread.
#[derive(Debug)]
enum Update {
    /// This clip is the slot's from now on.
    Install(Arc<Clip>),
    /// The slot holds nothing (its phrase is gone, or it was dropped for memory).
    Remove(usize),
}

/// Where a slot is, as the editor shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum SlotState {
    /// Waiting for its turn.
    Queued,
    /// Being rendered.
    Rendering,
    /// In memory: plays at once.
    Ready {
        /// Length in seconds.
        seconds: f32,
    },
    /// Could not be rendered: why.
    Failed(String),
    /// Dropped to stay within [`BANK_BYTES`] (or longer than it); streamed when triggered.
    NotHeld,
}

/// One slot for the editor.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotView {
    /// The slot (0: the whole text).
    pub slot: usize,
    /// The phrase's text (first characters).
    pub text: String,
    /// Where it is.
    pub state: SlotState,
}

/// What the speech thread and the editor share about the bank across activations. Lives as
/// long as the speech service.
#[derive(Debug)]
pub struct BankShared {
    /// The bound on the clips held, bytes ([`BANK_BYTES`] unless a test or probe lowers it).
    bound: AtomicUsize,
    /// Notes for phrases that do not exist, and timeline triggers lost for want of a voice.
    missing: AtomicU64,
    /// Triggers in a render that found their phrase neither ready nor being rendered, and
    /// streamed it instead of waiting for nothing.
    unrendered: AtomicU64,
    /// The editor's view; written by the speech thread.
    views: Mutex<Vec<SlotView>>,
    /// Per slot, the word timings of the clip delivered last (by its key).
    words: Mutex<Vec<Option<ClipWords>>>,
    /// The clip heard now (the latest started that still sounds): its key (0: none).
    heard_key: AtomicU64,
    /// How many of that clip's samples have been played.
    heard_at: AtomicU64,
    /// Where the timeline placed its phrases in the project (the plugin's, saved with the
    /// project).
    placements: Arc<placements::Placements>,
}

/// A clip's words, spans in samples at the host's rate from the clip's first sample.
#[derive(Debug, Clone)]
pub struct ClipWords {
    /// The clip's key.
    pub key: u64,
    /// Its slot.
    pub slot: usize,
    /// The phrase's text (the spans' `range`s index it).
    pub text: Arc<str>,
    /// Its words, in order.
    pub words: Arc<[WordTiming]>,
}

impl Default for BankShared {
    fn default() -> Self {
        Self::new(Arc::default())
    }
}

impl BankShared {
    /// A bank recording the timeline's placements into `placements`.
    pub fn new(placements: Arc<placements::Placements>) -> Self {
        Self {
            bound: AtomicUsize::new(BANK_BYTES),
            missing: AtomicU64::new(0),
            unrendered: AtomicU64::new(0),
            views: Mutex::new(Vec::new()),
            words: Mutex::new(vec![None; SLOTS]),
            heard_key: AtomicU64::new(0),
            heard_at: AtomicU64::new(0),
            placements,
        }
    }

    /// The bound on the clips one activation holds, bytes (one clip included).
    pub fn bound(&self) -> usize {
        self.bound.load(Ordering::Relaxed)
    }

    /// Sets the bound ([`MEMORY_VAR`] at start; tests lower it to reach it with short texts).
    pub fn set_bound(&self, bytes: usize) {
        self.bound.store(bytes.max(1), Ordering::Relaxed);
    }

    /// Every slot that has a phrase, for the editor.
    pub fn views(&self) -> Vec<SlotView> {
        self.views.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Notes and triggers that found no phrase to play.
    pub fn missing(&self) -> u64 {
        self.missing.load(Ordering::Relaxed)
    }

    /// Triggers in a render whose phrase nothing was rendering (streamed instead).
    pub fn unrendered(&self) -> u64 {
        self.unrendered.load(Ordering::Relaxed)
    }

    /// The bank phrase heard now, with its words, and how many of its samples have been
    /// played. `None` when no bank phrase sounds (or its voice gives no timings).
    pub fn heard(&self) -> Option<(ClipWords, u64)> {
        let key = self.heard_key.load(Ordering::Acquire);
        if key == 0 {
            return None;
        }
        let at = self.heard_at.load(Ordering::Acquire);
        // The clip may have changed between the two loads: then this read is dropped.
        if self.heard_key.load(Ordering::Acquire) != key {
            return None;
        }
        let words = self.words.lock().unwrap_or_else(|e| e.into_inner());
        let clip = words.iter().flatten().find(|w| w.key == key)?.clone();
        Some((clip, at))
    }

    /// The word of the bank phrase heard now (the last that has started), with the phrase.
    pub fn heard_word(&self) -> Option<(ClipWords, WordTiming)> {
        let (clip, at) = self.heard()?;
        let word = clip
            .words
            .iter()
            .rev()
            .find(|w| w.span.start <= at)?
            .clone();
        Some((clip, word))
    }

    /// The words of the clip with content `key` (any slot holding it), else those of the
    /// clip delivered last for `slot` (its line changed since it was placed, or its key was
    /// not known then).
    fn clip_words(&self, slot: usize, key: u64) -> Option<ClipWords> {
        let words = self.words.lock().unwrap_or_else(|e| e.into_inner());
        let by_key = (key != 0)
            .then(|| words.iter().flatten().find(|w| w.key == key))
            .flatten();
        by_key
            .or_else(|| words.get(slot).and_then(Option::as_ref))
            .cloned()
    }

    /// Takes in the placements the audio thread recorded (speech thread, between phrases).
    pub fn drain_placements(&self) {
        self.placements.drain();
    }

    /// The phrases the timeline placed in the project, in project order, with their words
    /// (for the project's subtitles).
    pub fn placements(&self) -> Sheet {
        self.placements
            .sheet(&|slot, key| self.clip_words(slot, key))
    }

    /// How many phrases the timeline has placed.
    pub fn placed(&self) -> usize {
        self.placements.len()
    }

    /// Forgets the placements (the next playback or export records afresh).
    pub fn clear_placements(&self) {
        self.placements.clear();
    }

    /// Records the words of the clip delivered for `slot` (speech thread).
    fn set_words(&self, words: ClipWords) {
        let mut all = self.words.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = all.get_mut(words.slot) {
            *entry = Some(words);
        }
    }

    /// Publishes the clip heard now (audio thread; wait-free).
    fn publish_heard(&self, key: u64, at: u64) {
        self.heard_at.store(at, Ordering::Release);
        self.heard_key.store(key, Ordering::Release);
    }
}

/// What one activation's two halves share: which phrase each slot wants, where its render
/// stands, and whether a render waits. Every [`channel`] makes a new table, so a feeder of an
/// earlier activation (the speech thread keeps it until it takes the new one) can never mark
/// the new activation's keys as synced: each activation's player trusts only its own feeder.
#[derive(Debug)]
struct SlotTable {
    /// Per slot, the content key wanted now (0: the slot is empty).
    keys: [AtomicU64; SLOTS],
    /// Per slot, the key the feeder has queued or is rendering (0: none). A render waits only
    /// for a phrase some thread will deliver.
    pending: [AtomicU64; SLOTS],
    /// Per slot, the key that last failed to render (a render does not wait for it).
    failed: [AtomicU64; SLOTS],
    /// Per slot, the key whose clip is longer than [`BANK_BYTES`] (streamed, never held).
    too_long: [AtomicU64; SLOTS],
    /// The session generation the keys reflect (`u64::MAX`: not synced yet).
    synced: AtomicU64,
    /// Whether a render is stopped in [`BankPlayer::trigger`], waiting for a phrase: the
    /// audio thread reads no stream meanwhile, so the speech thread must not wait for room in
    /// the voice ring before it renders that phrase.
    render_waits: AtomicBool,
}

impl Default for SlotTable {
    fn default() -> Self {
        Self {
            keys: std::array::from_fn(|_| AtomicU64::new(0)),
            pending: std::array::from_fn(|_| AtomicU64::new(0)),
            failed: std::array::from_fn(|_| AtomicU64::new(0)),
            too_long: std::array::from_fn(|_| AtomicU64::new(0)),
            synced: AtomicU64::new(u64::MAX),
            render_waits: AtomicBool::new(false),
        }
    }
}

impl SlotTable {
    /// The content key wanted for `slot` now (0: empty).
    fn key(&self, slot: usize) -> u64 {
        self.keys
            .get(slot)
            .map_or(0, |key| key.load(Ordering::Acquire))
    }

    /// Clears `slot`'s pending mark if it is still `key`'s (a newer key stays pending).
    fn settle(&self, slot: usize, key: u64) {
        let _ = self.pending[slot].compare_exchange(key, 0, Ordering::AcqRel, Ordering::Acquire);
    }
}

/// What a trigger did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Triggered {
    /// The phrase plays from memory, starting at the asked-for sample.
    Playing,
    /// The slot holds no phrase (or its render failed): nothing plays.
    Missing,
    /// The phrase is not in memory yet (live playback never waits): stream it instead.
    NotReady,
}

/// A phrase for the feeder to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The slot.
    pub slot: usize,
    /// Its text.
    pub text: String,
    /// Its content key.
    pub key: u64,
    /// Whether a render waits for it (live speech does not interrupt it then).
    pub urgent: bool,
}

/// The phrases of a text: its non-empty lines, trimmed (the first [`MAX_PHRASES`] are the
/// bank's).
pub fn phrase_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|line| !line.is_empty())
}

/// The first characters of a phrase, for the editor.
fn preview(text: &str) -> String {
    const CHARS: usize = 60;
    let mut out: String = text.chars().take(CHARS).collect();
    if text.chars().nth(CHARS).is_some() {
        out.push('…');
    }
    out
}

/// Makes the bank's rings for a host at `sample_rate` with blocks of up to `max_block`.
/// Allocates: call from `activate`.
pub fn channel(
    shared: Arc<BankShared>,
    session: Arc<SharedSession>,
    sample_rate: f32,
    max_block: usize,
) -> (BankPlayer, BankFeeder) {
    let (update_producer, updates) = rtrb::RingBuffer::new(UPDATE_CAPACITY);
    let (retired, retired_consumer) = rtrb::RingBuffer::new(RETIRE_CAPACITY);
    let (urgent, urgent_consumer) = rtrb::RingBuffer::new(SLOTS);
    let fade_len = ((sample_rate * super::stream::STOP_FADE_MS / 1000.0) as usize).max(1);
    let table = Arc::new(SlotTable::default());
    let shared_unrendered = shared.unrendered();
    let placements = shared.placements.recorder(sample_rate);
    (
        BankPlayer {
            placements,
            shared: shared.clone(),
            table: table.clone(),
            session,
            updates,
            retired,
            urgent,
            clips: (0..SLOTS).map(|_| None).collect(),
            voices: (0..VOICES).map(|_| Sounding::default()).collect(),
            block: vec![0.0; max_block.max(1)],
            fade_len,
            pause_pos: fade_len,
            waited: Duration::ZERO,
            started: 0,
        },
        BankFeeder {
            shared,
            table,
            updates: update_producer,
            retired: retired_consumer,
            urgent: urgent_consumer,
            sample_rate,
            slots: vec![None; SLOTS],
            held: vec![0; SLOTS],
            delivered: vec![(0, std::sync::Weak::<[f32; 0]>::new()); SLOTS],
            todo: VecDeque::new(),
            changed_at: None,
            unrendered_logged: shared_unrendered,
        },
    )
}
