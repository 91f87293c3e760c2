//! The speech thread's half of the phrase bank: keeps every slot's key in line with the
//! session, hands out the phrases to render, most wanted first, and delivers the clips within
//! [`BANK_BYTES`].
//!
//! Thread model: owned by the speech thread. It talks to the audio thread only through the
//! activation's rings and its [`SlotTable`] of atomics; the editor's view is behind a mutex
//! the audio thread never takes.

use super::{
    BankShared, Clip, ClipWords, Job, MAX_PHRASES, SETTLE, SLOTS, SlotState, SlotTable, SlotView,
    Update, WHOLE_TEXT, phrase_lines, preview,
};
use crate::state::SharedSession;
use crate::tts::timings::WordTiming;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The speech thread's half.
pub struct BankFeeder {
    pub(super) shared: Arc<BankShared>,
    pub(super) table: Arc<SlotTable>,
    pub(super) updates: rtrb::Producer<Update>,
    pub(super) retired: rtrb::Consumer<Arc<Clip>>,
    pub(super) urgent: rtrb::Consumer<u16>,
    /// The host's rate.
    pub sample_rate: f32,
    /// Per slot, the text and key it was synced to.
    pub(super) slots: Vec<Option<(String, u64)>>,
    /// Per slot, the bytes of the clip the audio thread holds for it (0: none). A clip shared
    /// by several slots counts in each, so the bound errs on the safe side.
    pub(super) held: Vec<usize>,
    /// Per slot, the samples last delivered for it, so a slot with the same content takes
    /// them instead of rendering them again (weak: what the audio thread dropped is gone).
    pub(super) delivered: Vec<(u64, std::sync::Weak<[f32]>)>,
    /// Slots to render, most wanted first.
    pub(super) todo: VecDeque<usize>,
    /// When the slots last changed; renders ahead start [`SETTLE`] after it.
    pub(super) changed_at: Option<Instant>,
    /// Triggers in renders that found nothing rendering their phrase, as last logged.
    pub(super) unrendered_logged: u64,
}

impl BankFeeder {
    /// Takes back the clips the audio thread let go of (they are freed here).
    fn collect(&mut self) {
        while self.retired.pop().is_ok() {}
    }

    /// Brings the slots in line with the session. A slot's key covers its text and everything
    /// else that changes its audio (voice, dictionary, delivery, host rate). Changed slots are
    /// queued nearest the first change first, the whole text last. Cheap when nothing changed.
    pub fn sync(&mut self, session: &SharedSession) {
        self.collect();
        // The audio thread cannot log: what it counted is told here.
        let unrendered = self.shared.unrendered();
        if unrendered != self.unrendered_logged {
            tracing::warn!(
                "Orator: a render reached {} timeline phrase(s) that nothing was rendering; \
                 they were streamed instead of waited for",
                unrendered.saturating_sub(self.unrendered_logged)
            );
            self.unrendered_logged = unrendered;
        }
        let generation = session.generation();
        if self.table.synced.load(Ordering::Acquire) == generation {
            return;
        }
        let (text, content) = session.read(|s| {
            let rest =
                serde_json::to_vec(&(&s.voice, &s.dictionary, &s.delivery)).unwrap_or_default();
            (s.text.clone(), crate::tts::hash::fnv1a(rest))
        });
        let mut wanted: Vec<Option<String>> = vec![None; SLOTS];
        if !text.trim().is_empty() {
            wanted[WHOLE_TEXT] = Some(text.clone());
        }
        for (i, line) in phrase_lines(&text).take(MAX_PHRASES).enumerate() {
            wanted[i + 1] = Some(line.to_owned());
        }
        let rate = self.sample_rate.to_bits();
        let mut changed = Vec::new();
        for (slot, text) in wanted.into_iter().enumerate() {
            let next = text.map(|text| {
                let key = crate::tts::hash::fnv1a(
                    text.bytes()
                        .chain(content.to_le_bytes())
                        .chain(rate.to_le_bytes()),
                ) | 1;
                (text, key)
            });
            let same = match (&self.slots[slot], &next) {
                (Some((_, a)), Some((_, b))) => a == b,
                (None, None) => true,
                _ => false,
            };
            let key = next.as_ref().map_or(0, |n| n.1);
            self.table.keys[slot].store(key, Ordering::Release);
            if !same {
                // Queued from here on (a slot that is gone has nothing pending).
                self.table.pending[slot].store(key, Ordering::Release);
                if next.is_none() && self.held[slot] > 0 {
                    self.send(Update::Remove(slot));
                    self.held[slot] = 0;
                }
                if next.is_some() {
                    changed.push(slot);
                }
            }
            self.slots[slot] = next;
        }
        // Phrases nearest the first edit first; the whole text (slot 0) after them.
        if let Some(&first) = changed.iter().find(|&&s| s != WHOLE_TEXT) {
            changed.sort_by_key(|&s| {
                if s == WHOLE_TEXT {
                    usize::MAX
                } else {
                    s.abs_diff(first)
                }
            });
        }
        self.todo
            .retain(|s| self.slots[*s].is_some() && !changed.contains(s));
        if !changed.is_empty() {
            self.changed_at = Some(Instant::now());
        }
        self.todo.extend(changed);
        self.table.synced.store(generation, Ordering::Release);
        self.publish_views(None);
    }

    /// Sends an update, waiting while the ring is full (the audio thread drains it every
    /// block; a host that stopped calling it leaves the update for later).
    /// Returns whether the update went out (after a second of a full ring it is dropped).
    fn send(&mut self, mut update: Update) -> bool {
        for _ in 0..500 {
            match self.updates.push(update) {
                Ok(()) => return true,
                Err(rtrb::PushError::Full(back)) => update = back,
            }
            self.collect();
            std::thread::sleep(Duration::from_millis(2));
        }
        false
    }

    /// The next phrase to render: an urgent one the audio thread asked for, else the next
    /// queued one. `None` when every slot is done.
    pub fn next_job(&mut self) -> Option<Job> {
        let mut urgent = Vec::new();
        while let Ok(slot) = self.urgent.pop() {
            let slot = usize::from(slot);
            // A phrase whose render failed is not tried again until it changes.
            let failed = self
                .slots
                .get(slot)
                .and_then(Option::as_ref)
                .is_some_and(|(_, key)| self.table.failed[slot].load(Ordering::Acquire) == *key);
            if slot < SLOTS && self.slots[slot].is_some() && self.held[slot] == 0 && !failed {
                self.todo.retain(|&s| s != slot);
                self.todo.push_front(slot);
                urgent.push(slot);
            }
        }
        // A render stopped for a phrase takes whatever is first (an urgent phrase whose render
        // live speech interrupted went back to the front).
        let render_waits = self.render_waits();
        if urgent.is_empty()
            && !render_waits
            && self.changed_at.is_some_and(|at| at.elapsed() < SETTLE)
        {
            return None;
        }
        while let Some(slot) = self.todo.pop_front() {
            if let Some((text, key)) = &self.slots[slot] {
                let job = Job {
                    slot,
                    text: text.clone(),
                    key: *key,
                    urgent: render_waits || urgent.contains(&slot),
                };
                if let Some(samples) = self.rendered(job.key) {
                    self.install(&job, samples);
                    continue;
                }
                self.publish_views(Some(slot));
                return Some(job);
            }
        }
        None
    }

    /// Samples another slot holds for the same content, if the audio thread still has them.
    fn rendered(&self, key: u64) -> Option<Arc<[f32]>> {
        self.delivered
            .iter()
            .enumerate()
            .filter(|&(slot, (k, _))| *k == key && self.held[slot] > 0)
            .find_map(|(_, (_, samples))| samples.upgrade())
    }

    /// Lets renders ahead start now rather than [`SETTLE`] after the last change (for tests
    /// and benchmarks that edit and render at once).
    pub fn settle_now(&mut self) {
        self.changed_at = None;
    }

    /// Whether `job` is still wanted (the session may have changed while it rendered).
    pub fn still_wanted(&self, job: &Job) -> bool {
        self.table.key(job.slot) == job.key
    }

    /// Whether the audio thread asked for a phrase urgently (a render waits for it).
    pub fn has_urgent(&self) -> bool {
        !self.urgent.is_empty()
    }

    /// Whether a render is stopped right now, waiting for a phrase of the bank (see
    /// [`BankPlayer::trigger`]).
    pub fn render_waits(&self) -> bool {
        self.table.render_waits.load(Ordering::Acquire)
    }

    /// Puts a job back at the front (its render was interrupted by live speech).
    pub fn defer(&mut self, job: &Job) {
        if self.still_wanted(job) {
            self.todo.push_front(job.slot);
        }
        self.publish_views(None);
    }

    /// Hands a rendered phrase to the audio thread, dropping the largest other clips if it
    /// would not fit in [`BANK_BYTES`].
    pub fn deliver(&mut self, job: &Job, samples: Vec<f32>) {
        self.collect();
        if !self.still_wanted(job) {
            return;
        }
        let bytes = samples.len() * std::mem::size_of::<f32>();
        let bound = self.shared.bound();
        if bytes > bound {
            self.too_long(job);
            return;
        }
        while self.held.iter().sum::<usize>() - self.held[job.slot] + bytes > bound {
            let Some((largest, _)) = self
                .held
                .iter()
                .enumerate()
                .filter(|&(s, &b)| s != job.slot && b > 0)
                .max_by_key(|&(_, &b)| b)
            else {
                break;
            };
            self.send(Update::Remove(largest));
            self.held[largest] = 0;
        }
        self.install(job, samples.into());
    }

    /// Records that `job`'s phrase is longer than [`BANK_BYTES`]: never held, its triggers
    /// stream it. Its render stops as soon as it passes the bound.
    pub fn too_long(&mut self, job: &Job) {
        if !self.still_wanted(job) {
            return;
        }
        self.held[job.slot] = 0;
        self.table.too_long[job.slot].store(job.key, Ordering::Release);
        self.table.settle(job.slot, job.key);
        self.publish_views(None);
    }

    /// The most samples one clip may have.
    pub fn max_clip_samples(&self) -> usize {
        self.shared.bound() / std::mem::size_of::<f32>()
    }

    /// Makes `samples` the slot's clip (bookkeeping for the bound and for sharing).
    fn install(&mut self, job: &Job, samples: Arc<[f32]>) {
        let bytes = (samples.len() * std::mem::size_of::<f32>()).max(1);
        self.delivered[job.slot] = (job.key, Arc::downgrade(&samples));
        self.table.failed[job.slot].store(0, Ordering::Release);
        let sent = self.send(Update::Install(Arc::new(Clip {
            slot: job.slot,
            key: job.key,
            samples,
        })));
        // The pending mark goes only after the clip is in the ring, so a render that sees it
        // gone finds the clip there.
        self.held[job.slot] = if sent { bytes } else { 0 };
        self.table.settle(job.slot, job.key);
        self.publish_views(None);
    }

    /// Takes in the placements the audio thread recorded.
    pub fn drain_placements(&self) {
        self.shared.drain_placements();
    }

    /// Keeps the word timings of `job`'s clip (spans at the host's rate from its first
    /// sample), for the word lit while it is heard.
    pub fn set_words(&mut self, job: &Job, words: Vec<WordTiming>) {
        self.shared.set_words(ClipWords {
            key: job.key,
            slot: job.slot,
            text: Arc::from(job.text.as_str()),
            words: words.into(),
        });
    }

    /// Records that `job` could not be rendered, and why.
    pub fn fail(&mut self, job: &Job, why: &str) {
        self.table.failed[job.slot].store(job.key, Ordering::Release);
        self.table.settle(job.slot, job.key);
        self.held[job.slot] = 0;
        let mut views = self.shared.views.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(view) = views.iter_mut().find(|v| v.slot == job.slot) {
            view.state = SlotState::Failed(why.to_owned());
        }
    }

    /// Rewrites the editor's view; `rendering` is the slot being rendered now.
    fn publish_views(&self, rendering: Option<usize>) {
        let mut views = self.shared.views.lock().unwrap_or_else(|e| e.into_inner());
        let old = std::mem::take(&mut *views);
        for (slot, entry) in self.slots.iter().enumerate() {
            let Some((text, key)) = entry else {
                continue;
            };
            let state = if rendering == Some(slot) {
                SlotState::Rendering
            } else if self.todo.contains(&slot) {
                // Changed: the clip held (if any) is the old text's.
                SlotState::Queued
            } else if self.held[slot] > 0 {
                SlotState::Ready {
                    seconds: self.held[slot] as f32
                        / std::mem::size_of::<f32>() as f32
                        / self.sample_rate.max(1.0),
                }
            } else if self.table.failed[slot].load(Ordering::Acquire) == *key {
                old.iter()
                    .find(|v| v.slot == slot)
                    .map(|v| v.state.clone())
                    .filter(|s| matches!(s, SlotState::Failed(_)))
                    .unwrap_or_else(|| SlotState::Failed("could not be rendered".into()))
            } else {
                SlotState::NotHeld
            };
            views.push(SlotView {
                slot,
                text: preview(text),
                state,
            });
        }
    }
}
