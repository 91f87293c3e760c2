//! Queue control shared by every thread: phrase ids, and stop, skip, clear, cancel and pause
//! as atomics, so any thread (the audio thread included) acts at once without waiting for the
//! speech thread.
//!
//! Thread model: lives as long as the speech service; every method is wait-free.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// Identifies one phrase. Ids increase in the order phrases are asked for; 0 means none.
pub type PhraseId = u32;

/// Phrases cancelled one by one ([`Control::cancel`]) that are remembered at once; the
/// oldest is forgotten when a newer one needs its place.
pub const CANCELLED_ONE_BY_ONE: usize = 16;

/// Queue control shared by the main thread, the audio thread and the speech thread. Every
/// method is wait-free. Lives as long as the speech service (across activations).
#[derive(Debug)]
pub struct Control {
    /// The next id to hand out.
    pub(super) next_id: AtomicU32,
    /// Every phrase with an id up to this one is cancelled (Stop, Skip).
    pub(super) cancelled_through: AtomicU32,
    /// Phrases with ids in `(low, high]` are cancelled (Clear), packed `low << 32 | high`.
    pub(super) cleared: AtomicU64,
    /// Phrases cancelled one by one (timeline speech the transport left behind), written
    /// round-robin.
    pub(super) cancelled: [AtomicU32; CANCELLED_ONE_BY_ONE],
    /// Where the next one-by-one cancel is written.
    pub(super) cancel_next: AtomicU32,
    /// Pause: the audio thread holds the stream where it is (after a short fade).
    pub(super) paused: AtomicBool,
    /// The phrase the listener hears now (audio thread writes; 0 between phrases).
    pub(super) playing: AtomicU32,
    /// The phrase the speech thread is synthesising (speech thread writes; 0 when idle).
    pub(super) producing: AtomicU32,
    /// Where the listener is in the phrase being heard: its id in the high 32 bits, its samples
    /// played so far in the low 32 (audio thread writes; 0 between phrases).
    pub(super) heard: AtomicU64,
    /// Phrases asked for (incremented before a request is sent).
    pub(super) requested: AtomicU64,
    /// Phrases the speech thread is done with: synthesised, cancelled, failed or dropped.
    pub(super) done: AtomicU64,
}

impl Default for Control {
    fn default() -> Self {
        Self {
            next_id: AtomicU32::new(1),
            cancelled_through: AtomicU32::new(0),
            cleared: AtomicU64::new(0),
            cancelled: std::array::from_fn(|_| AtomicU32::new(0)),
            cancel_next: AtomicU32::new(0),
            paused: AtomicBool::new(false),
            playing: AtomicU32::new(0),
            producing: AtomicU32::new(0),
            heard: AtomicU64::new(0),
            requested: AtomicU64::new(0),
            done: AtomicU64::new(0),
        }
    }
}

impl Control {
    /// A fresh phrase id.
    pub fn new_id(&self) -> PhraseId {
        self.next_id.fetch_add(1, Ordering::AcqRel)
    }

    /// The newest id handed out so far (0 if none).
    fn newest(&self) -> PhraseId {
        self.next_id.load(Ordering::Acquire).wrapping_sub(1)
    }

    /// Whether `id` was stopped, skipped or cleared.
    pub fn is_cancelled(&self, id: PhraseId) -> bool {
        let cleared = self.cleared.load(Ordering::Acquire);
        let (low, high) = ((cleared >> 32) as u32, cleared as u32);
        id <= self.cancelled_through.load(Ordering::Acquire)
            || (low < id && id <= high)
            || self
                .cancelled
                .iter()
                .any(|c| c.load(Ordering::Acquire) == id)
    }

    /// Cancels phrase `id` alone, wherever it is (queued, synthesising or heard, which fades
    /// out); every other phrase goes on.
    pub fn cancel(&self, id: PhraseId) {
        let slot = self.cancel_next.fetch_add(1, Ordering::AcqRel) as usize % CANCELLED_ONE_BY_ONE;
        self.cancelled[slot].store(id, Ordering::Release);
    }

    /// Stops the phrase being heard and drops every phrase asked for so far.
    pub fn stop(&self) {
        self.cancelled_through
            .fetch_max(self.newest(), Ordering::AcqRel);
    }

    /// Skips the current phrase (the one heard, or else the one being synthesised); the
    /// next starts at once.
    pub fn skip(&self) {
        let current = self.current();
        if current != 0 {
            self.cancelled_through.fetch_max(current, Ordering::AcqRel);
        }
    }

    /// Drops every phrase waiting behind the current one; the current one plays on.
    pub fn clear(&self) {
        let current = self.current();
        let newest = self.newest();
        if newest > current {
            self.cleared.store(
                u64::from(current) << 32 | u64::from(newest),
                Ordering::Release,
            );
        }
    }

    /// Pauses or resumes. Paused speech holds its place; synthesis continues ahead.
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Release);
    }

    /// Whether speech is paused.
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Acquire)
    }

    /// The phrase being heard (0: none).
    pub fn playing(&self) -> PhraseId {
        self.playing.load(Ordering::Acquire)
    }

    /// The phrase being heard and how many of its samples (at the host's rate, from its first)
    /// have been played so far: the listener's place in the phrase's word timings
    /// ([`super::timing_log`]). Held still while paused. `None` between phrases.
    pub fn heard(&self) -> Option<(PhraseId, u64)> {
        match self.heard.load(Ordering::Acquire) {
            0 => None,
            packed => Some(((packed >> 32) as PhraseId, packed & u64::from(u32::MAX))),
        }
    }

    /// The phrase being heard, or if none, the one being synthesised (0: neither).
    fn current(&self) -> PhraseId {
        match self.playing() {
            0 => self.producing.load(Ordering::Acquire),
            id => id,
        }
    }

    /// Whether phrases were asked for that the speech thread has not finished with.
    pub fn pending(&self) -> bool {
        self.requested.load(Ordering::Acquire) != self.done.load(Ordering::Acquire)
    }

    /// Counts a phrase about to be requested. Call before sending it.
    pub fn count_request(&self) {
        self.requested.fetch_add(1, Ordering::AcqRel);
    }

    /// Takes back a count whose request could not be sent.
    pub fn uncount_request(&self) {
        self.done.fetch_add(1, Ordering::AcqRel);
    }

    /// Speech thread: it is working on `id` (0: idle).
    pub fn set_producing(&self, id: PhraseId) {
        self.producing.store(id, Ordering::Release);
    }

    /// Speech thread: it is done with one phrase.
    pub fn count_done(&self) {
        self.done.fetch_add(1, Ordering::AcqRel);
    }
}
