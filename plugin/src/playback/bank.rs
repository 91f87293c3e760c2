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
//! asked for); a single phrase longer than the bound is never held and is streamed instead.
//!
//! # Realtime safety
//! Every [`BankPlayer`] method is wait-free except [`BankPlayer::trigger`] with `rendering`
//! set, which offline renders alone use: it sleeps until the phrase is ready or its deadline
//! passes.

use crate::state::SharedSession;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// What the audio thread, the speech thread and the editor share about the bank. Lives as long
/// as the speech service.
#[derive(Debug)]
pub struct BankShared {
    /// Per slot, the content key wanted now (0: the slot is empty).
    keys: [AtomicU64; SLOTS],
    /// Per slot, the key that last failed to render (a render does not wait for it).
    failed: [AtomicU64; SLOTS],
    /// Per slot, the key whose clip is longer than [`BANK_BYTES`] (streamed, never held).
    too_long: [AtomicU64; SLOTS],
    /// The session generation the keys reflect.
    synced: AtomicU64,
    /// Whether a render is stopped in [`BankPlayer::trigger`], waiting for a phrase: the
    /// audio thread reads no stream meanwhile, so the speech thread must not wait for room in
    /// the voice ring before it renders that phrase.
    render_waits: AtomicBool,
    /// Notes for phrases that do not exist, and timeline triggers lost for want of a voice.
    missing: AtomicU64,
    /// The editor's view; written by the speech thread.
    views: Mutex<Vec<SlotView>>,
}

impl Default for BankShared {
    fn default() -> Self {
        Self {
            keys: std::array::from_fn(|_| AtomicU64::new(0)),
            failed: std::array::from_fn(|_| AtomicU64::new(0)),
            too_long: std::array::from_fn(|_| AtomicU64::new(0)),
            synced: AtomicU64::new(u64::MAX),
            render_waits: AtomicBool::new(false),
            missing: AtomicU64::new(0),
            views: Mutex::new(Vec::new()),
        }
    }
}

impl BankShared {
    /// The content key wanted for `slot` now (0: empty).
    pub fn key(&self, slot: usize) -> u64 {
        self.keys
            .get(slot)
            .map_or(0, |key| key.load(Ordering::Acquire))
    }

    /// Every slot that has a phrase, for the editor.
    pub fn views(&self) -> Vec<SlotView> {
        self.views.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Notes and triggers that found no phrase to play.
    pub fn missing(&self) -> u64 {
        self.missing.load(Ordering::Relaxed)
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

/// A phrase sounding from the bank.
#[derive(Debug, Default)]
struct Sounding {
    /// The clip (`None`: the voice is free).
    clip: Option<Arc<Clip>>,
    /// Next sample of the clip.
    pos: usize,
    /// Where in the current block it starts (0 once running).
    begin: usize,
    /// Amplitude (velocity).
    gain: f32,
    /// The note that started it, if a note did.
    note: Option<u8>,
    /// A fade-out: the block offset it starts at and the fade samples left then.
    fade: Option<(usize, usize)>,
    /// Played out or faded; its clip goes back as soon as the ring has room.
    done: bool,
}

/// The audio thread's half. Made in [`channel`]; owned by the plugin, used in `process()`.
pub struct BankPlayer {
    shared: Arc<BankShared>,
    session: Arc<SharedSession>,
    updates: rtrb::Consumer<Update>,
    retired: rtrb::Producer<Arc<Clip>>,
    urgent: rtrb::Producer<u16>,
    /// Per slot, the clip installed (possibly stale: compare its key with the wanted one).
    table: Vec<Option<Arc<Clip>>>,
    voices: Vec<Sounding>,
    /// The current block's bank audio; sized for the host's largest block.
    block: Vec<f32>,
    fade_len: usize,
    /// Where the pause fade is, in samples: `fade_len` playing, 0 held.
    pause_pos: usize,
    /// Time spent waiting for phrases in renders (so the render detector can leave it out).
    waited: Duration,
}

/// The speech thread's half.
pub struct BankFeeder {
    shared: Arc<BankShared>,
    updates: rtrb::Producer<Update>,
    retired: rtrb::Consumer<Arc<Clip>>,
    urgent: rtrb::Consumer<u16>,
    /// The host's rate.
    pub sample_rate: f32,
    /// Per slot, the text and key it was synced to.
    slots: Vec<Option<(String, u64)>>,
    /// Per slot, the bytes of the clip the audio thread holds for it (0: none). A clip shared
    /// by several slots counts in each, so the bound errs on the safe side.
    held: Vec<usize>,
    /// Per slot, the samples last delivered for it, so a slot with the same content takes
    /// them instead of rendering them again (weak: what the audio thread dropped is gone).
    delivered: Vec<(u64, std::sync::Weak<[f32]>)>,
    /// Slots to render, most wanted first.
    todo: VecDeque<usize>,
    /// When the slots last changed; renders ahead start [`SETTLE`] after it.
    changed_at: Option<Instant>,
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
    // A new activation renders at its own rate: nothing is synced yet.
    shared.synced.store(u64::MAX, Ordering::Release);
    (
        BankPlayer {
            shared: shared.clone(),
            session,
            updates,
            retired,
            urgent,
            table: (0..SLOTS).map(|_| None).collect(),
            voices: (0..VOICES).map(|_| Sounding::default()).collect(),
            block: vec![0.0; max_block.max(1)],
            fade_len,
            pause_pos: fade_len,
            waited: Duration::ZERO,
        },
        BankFeeder {
            shared,
            updates: update_producer,
            retired: retired_consumer,
            urgent: urgent_consumer,
            sample_rate,
            slots: vec![None; SLOTS],
            held: vec![0; SLOTS],
            delivered: vec![(0, std::sync::Weak::<[f32; 0]>::new()); SLOTS],
            todo: VecDeque::new(),
            changed_at: None,
        },
    )
}

impl BankPlayer {
    /// Takes the speech thread's updates, handing replaced clips back. Wait-free.
    fn take_updates(&mut self) {
        // Each update can hand one clip back: take one only when there is room for it.
        while self.retired.slots() > 0 {
            let Ok(update) = self.updates.pop() else {
                break;
            };
            let (slot, clip) = match update {
                Update::Install(clip) => (clip.slot, Some(clip)),
                Update::Remove(slot) => (slot, None),
            };
            if let Some(entry) = self.table.get_mut(slot)
                && let Some(old) = std::mem::replace(entry, clip)
            {
                let _ = self.retired.push(old);
            }
        }
    }

    /// The slot's clip if it is current. While the bank is behind the session (the text just
    /// changed and the speech thread has not synced yet) no clip is: the keys are the old
    /// text's, so a clip matching them would play words that are gone.
    fn current(&self, slot: usize) -> Option<&Arc<Clip>> {
        if self.shared.synced.load(Ordering::Acquire) != self.session.generation() {
            return None;
        }
        let key = self.shared.key(slot);
        self.table
            .get(slot)
            .and_then(Option::as_ref)
            .filter(|clip| key != 0 && clip.key == key)
    }

    /// Whether a render should wait for `slot`: the bank is behind the session, or the slot
    /// has a phrase that is neither ready nor failed.
    fn worth_waiting(&self, slot: usize) -> bool {
        let synced = self.shared.synced.load(Ordering::Acquire);
        if synced != self.session.generation() {
            return true;
        }
        let key = self.shared.key(slot);
        key != 0
            && self.shared.failed[slot].load(Ordering::Acquire) != key
            && self.shared.too_long[slot].load(Ordering::Acquire) != key
    }

    /// Starts `slot`'s phrase at sample `at` of this block with amplitude `gain`.
    ///
    /// Live (`rendering` false) this never waits: a phrase not in memory yet returns
    /// [`Triggered::NotReady`]. In a render it waits (at most [`RENDER_WAIT_LIMIT`], once for
    /// this trigger) for the speech thread to render it, asking for it first.
    pub fn trigger(
        &mut self,
        slot: usize,
        at: usize,
        gain: f32,
        note: Option<u8>,
        rendering: bool,
    ) -> Triggered {
        if slot >= SLOTS {
            self.shared.missing.fetch_add(1, Ordering::Relaxed);
            return Triggered::Missing;
        }
        self.take_updates();
        if self.current(slot).is_none() {
            let _ = self.urgent.push(slot as u16);
            if rendering {
                let started = Instant::now();
                self.shared.render_waits.store(true, Ordering::Release);
                while self.current(slot).is_none()
                    && self.worth_waiting(slot)
                    && started.elapsed() < RENDER_WAIT_LIMIT
                {
                    std::thread::sleep(Duration::from_micros(500));
                    self.take_updates();
                }
                self.shared.render_waits.store(false, Ordering::Release);
                self.waited += started.elapsed();
            }
        }
        let Some(clip) = self.current(slot).cloned() else {
            // Behind the session (just activated, or the text just changed), the slot's key is
            // not known yet: stream the phrase rather than call it missing.
            let behind = self.shared.synced.load(Ordering::Acquire) != self.session.generation();
            let key = self.shared.key(slot);
            if !behind && (key == 0 || self.shared.failed[slot].load(Ordering::Acquire) == key) {
                self.shared.missing.fetch_add(1, Ordering::Relaxed);
                return Triggered::Missing;
            }
            return Triggered::NotReady;
        };
        let at = at.min(self.block.len());
        // The same phrase again restarts it: the old one fades out where the new one starts.
        for voice in &mut self.voices {
            if !voice.done
                && voice.fade.is_none()
                && voice.clip.as_ref().is_some_and(|c| c.slot == slot)
            {
                voice.fade = Some((at, self.fade_len));
            }
        }
        let free = match self.voices.iter().position(|v| v.clip.is_none()) {
            Some(free) => free,
            None => {
                self.shared.missing.fetch_add(1, Ordering::Relaxed);
                return Triggered::Missing;
            }
        };
        self.voices[free] = Sounding {
            clip: Some(clip),
            pos: 0,
            begin: at,
            gain,
            note,
            fade: None,
            done: false,
        };
        Triggered::Playing
    }

    /// Fades out (from sample `at` of this block) every phrase `note` started (`None`: every
    /// phrase any note started).
    pub fn release(&mut self, note: Option<u8>, at: usize) {
        let at = at.min(self.block.len());
        for voice in &mut self.voices {
            let matches = match note {
                Some(note) => voice.note == Some(note),
                None => voice.note.is_some(),
            };
            if !voice.done && voice.fade.is_none() && matches {
                voice.fade = Some((at, self.fade_len));
            }
        }
    }

    /// Fades out every phrase sounding, from sample `at` of this block.
    pub fn stop_all(&mut self, at: usize) {
        let at = at.min(self.block.len());
        for voice in &mut self.voices {
            if !voice.done && voice.clip.is_some() && voice.fade.is_none() {
                voice.fade = Some((at, self.fade_len));
            }
        }
    }

    /// Whether any phrase is sounding.
    pub fn is_active(&self) -> bool {
        self.voices.iter().any(|v| v.clip.is_some() && !v.done)
    }

    /// Time spent waiting in renders so far.
    pub fn waited(&self) -> Duration {
        self.waited
    }

    /// Mixes this block of every sounding phrase into `out`. While `paused`, the phrases fade
    /// out over the short fade and hold where they are; after it they fade back in and carry
    /// on from there (as the stream does).
    pub fn mix_into(&mut self, out: &mut [f32], paused: bool) {
        self.take_updates();
        let len = out.len();
        let fade_len = self.fade_len;
        let step = 1.0 / fade_len as f32;
        if paused && !self.is_active() {
            // Nothing to fade: hold at once.
            self.pause_pos = 0;
        }
        let held_from = self.pause_pos;
        // Samples that play in this block: all of them, or while paused, what is left of the
        // fade-out.
        let run = if paused { held_from.min(len) } else { len };
        let pause_gain = |i: usize| -> f32 {
            if paused {
                (held_from - i - 1) as f32 * step
            } else {
                (held_from + i + 1).min(fade_len) as f32 * step
            }
        };
        for voice in &mut self.voices {
            if voice.done {
                continue;
            }
            let Some(clip) = &voice.clip else {
                continue;
            };
            let samples = &clip.samples;
            for (i, x) in out.iter_mut().enumerate().take(run).skip(voice.begin) {
                let Some(&s) = samples.get(voice.pos) else {
                    voice.done = true;
                    break;
                };
                let mut g = voice.gain;
                if let Some((from, left)) = voice.fade
                    && i >= from
                {
                    let remaining = left.saturating_sub(i - from);
                    if remaining == 0 {
                        voice.done = true;
                        break;
                    }
                    g *= (remaining - 1) as f32 * step;
                }
                if held_from < fade_len || paused {
                    g *= pause_gain(i);
                }
                *x += s * g;
                voice.pos += 1;
            }
            if voice.pos >= samples.len() {
                voice.done = true;
            }
            // A fade carries on in the next block from where this one left it.
            if let Some((from, left)) = voice.fade {
                let used = run.saturating_sub(from.max(voice.begin));
                voice.fade = Some((0, left.saturating_sub(used)));
                if used > 0 && left <= used {
                    voice.done = true;
                }
            }
            // A phrase that was to start after the pause took hold starts when it ends.
            voice.begin = 0;
        }
        self.pause_pos = if paused {
            held_from - run
        } else {
            (held_from + len).min(fade_len)
        };
        // Finished voices give their clips back (retried next block if the ring is full).
        for voice in &mut self.voices {
            if voice.done && voice.clip.is_some() && self.retired.slots() > 0 {
                if let Some(clip) = voice.clip.take() {
                    let _ = self.retired.push(clip);
                }
                voice.done = false;
            }
        }
    }

    /// The bank's audio for the next `frames` samples alone (tests and probes).
    pub fn render(&mut self, frames: usize) -> &[f32] {
        let len = frames.min(self.block.len());
        let mut block = std::mem::take(&mut self.block);
        block[..len].fill(0.0);
        self.mix_into(&mut block[..len], false);
        self.block = block;
        &self.block[..len]
    }
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
        let generation = session.generation();
        if self.shared.synced.load(Ordering::Acquire) == generation {
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
            self.shared.keys[slot].store(next.as_ref().map_or(0, |n| n.1), Ordering::Release);
            if !same {
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
        self.shared.synced.store(generation, Ordering::Release);
        self.publish_views(None);
    }

    /// Sends an update, waiting while the ring is full (the audio thread drains it every
    /// block; a host that stopped calling it leaves the update for later).
    fn send(&mut self, mut update: Update) {
        for _ in 0..500 {
            match self.updates.push(update) {
                Ok(()) => return,
                Err(rtrb::PushError::Full(back)) => update = back,
            }
            self.collect();
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The next phrase to render: an urgent one the audio thread asked for, else the next
    /// queued one. `None` when every slot is done.
    pub fn next_job(&mut self) -> Option<Job> {
        let mut urgent = Vec::new();
        while let Ok(slot) = self.urgent.pop() {
            let slot = usize::from(slot);
            if slot < SLOTS && self.slots[slot].is_some() && self.held[slot] == 0 {
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
        self.shared.key(job.slot) == job.key
    }

    /// Whether the audio thread asked for a phrase urgently (a render waits for it).
    pub fn has_urgent(&self) -> bool {
        !self.urgent.is_empty()
    }

    /// Whether a render is stopped right now, waiting for a phrase of the bank (see
    /// [`BankPlayer::trigger`]).
    pub fn render_waits(&self) -> bool {
        self.shared.render_waits.load(Ordering::Acquire)
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
        if bytes > BANK_BYTES {
            self.held[job.slot] = 0;
            self.shared.too_long[job.slot].store(job.key, Ordering::Release);
            self.publish_views(None);
            return;
        }
        while self.held.iter().sum::<usize>() - self.held[job.slot] + bytes > BANK_BYTES {
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

    /// Makes `samples` the slot's clip (bookkeeping for the bound and for sharing).
    fn install(&mut self, job: &Job, samples: Arc<[f32]>) {
        self.held[job.slot] = (samples.len() * std::mem::size_of::<f32>()).max(1);
        self.delivered[job.slot] = (job.key, Arc::downgrade(&samples));
        self.shared.failed[job.slot].store(0, Ordering::Release);
        self.send(Update::Install(Arc::new(Clip {
            slot: job.slot,
            key: job.key,
            samples,
        })));
        self.publish_views(None);
    }

    /// Records that `job` could not be rendered, and why.
    pub fn fail(&mut self, job: &Job, why: &str) {
        self.shared.failed[job.slot].store(job.key, Ordering::Release);
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
            } else if self.shared.failed[slot].load(Ordering::Acquire) == *key {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn bank(text: &str) -> (BankPlayer, BankFeeder, Arc<SharedSession>) {
        let session = Arc::new(SharedSession::default());
        session.set_text(text.into());
        let (player, mut feeder) = channel(Arc::default(), session.clone(), 1000.0, 16);
        feeder.sync(&session);
        feeder.settle_now();
        (player, feeder, session)
    }

    /// Renders every queued job as `len` samples of its slot number.
    fn render_all(feeder: &mut BankFeeder, len: usize) {
        feeder.settle_now();
        while let Some(job) = feeder.next_job() {
            feeder.deliver(&job, vec![job.slot as f32; len]);
        }
    }

    #[test]
    fn lines_are_numbered_phrases_and_the_whole_text_is_slot_0() {
        let (_, mut feeder, _) = bank("  first  \n\n second\nthird");
        let jobs: Vec<(usize, String)> = std::iter::from_fn(|| feeder.next_job())
            .map(|j| (j.slot, j.text))
            .collect();
        assert_eq!(
            jobs,
            vec![
                (1, "first".into()),
                (2, "second".into()),
                (3, "third".into()),
                (0, "  first  \n\n second\nthird".into()),
            ],
            "phrases first, the whole text last"
        );
    }

    #[test]
    fn a_one_line_text_is_rendered_once_for_both_its_slots() {
        let (mut player, mut feeder, _) = bank("the only line");
        let mut rendered = Vec::new();
        while let Some(job) = feeder.next_job() {
            rendered.push(job.slot);
            feeder.deliver(&job, vec![0.5; 10]);
        }
        assert_eq!(
            rendered,
            vec![1],
            "the whole text is its one phrase: one render"
        );
        for slot in [0, 1] {
            assert_eq!(
                player.trigger(slot, 0, 1.0, None, false),
                Triggered::Playing
            );
            assert_eq!(player.render(16)[..10], [0.5; 10], "slot {slot}");
            player.stop_all(0);
            player.render(16);
        }
        assert!(matches!(
            feeder.shared.views()[0].state,
            SlotState::Ready { .. }
        ));
    }

    #[test]
    fn a_trigger_plays_at_its_sample_and_a_missing_phrase_counts() {
        let (mut player, mut feeder, _) = bank("a\nb");
        render_all(&mut feeder, 10);
        assert_eq!(player.trigger(2, 5, 0.5, None, false), Triggered::Playing);
        let out = player.render(16).to_vec();
        assert_eq!(out[..5], [0.0; 5]);
        assert_eq!(out[5..15], [1.0; 10], "phrase 2 at half gain from sample 5");
        assert_eq!(out[15], 0.0);
        assert_eq!(player.trigger(3, 0, 1.0, None, false), Triggered::Missing);
        assert_eq!(feeder.shared.missing(), 1);
        assert!(!player.is_active());
    }

    #[test]
    fn a_trigger_before_the_bank_caught_up_streams_instead() {
        let session = Arc::new(SharedSession::default());
        session.set_text("a\nb".into());
        let (mut player, _feeder) = channel(Arc::default(), session, 1000.0, 16);
        assert_eq!(
            player.trigger(1, 0, 1.0, None, false),
            Triggered::NotReady,
            "not synced yet: not missing"
        );
    }

    #[test]
    fn an_edit_re_renders_only_the_changed_line_nearest_first() {
        let (mut player, mut feeder, session) = bank("a\nb\nc\nd");
        render_all(&mut feeder, 4);
        session.set_text("a\nb\nC\nD".into());
        assert_eq!(
            player.trigger(1, 0, 1.0, None, false),
            Triggered::NotReady,
            "behind the session no clip is current, not even an unchanged one"
        );
        feeder.sync(&session);
        assert!(
            feeder.next_job().is_none(),
            "nothing renders ahead until the text settles"
        );
        assert!(
            feeder
                .shared
                .views()
                .iter()
                .any(|v| v.slot == 3 && v.state == SlotState::Queued),
            "a changed phrase shows as queued, not as its old clip's ready"
        );
        feeder.settle_now();
        let slots: Vec<usize> = std::iter::from_fn(|| feeder.next_job())
            .map(|j| j.slot)
            .collect();
        assert_eq!(slots, vec![3, 4, 0]);
        assert_eq!(player.trigger(1, 0, 1.0, None, false), Triggered::Playing);
        assert_eq!(
            player.trigger(3, 0, 1.0, None, false),
            Triggered::NotReady,
            "a changed line is not played stale"
        );
    }

    #[test]
    fn release_and_stop_fade_from_their_sample_and_a_retrigger_restarts() {
        let (mut player, mut feeder, _) = bank("a\nb");
        render_all(&mut feeder, 100);
        player.trigger(1, 0, 1.0, Some(60), false);
        player.release(Some(60), 4);
        let out = player.render(16).to_vec();
        assert_eq!(out[..4], [1.0; 4]);
        assert_eq!(out[4..9], [0.8, 0.6, 0.4, 0.2, 0.0]);
        assert_eq!(out[9..], [0.0; 7]);
        assert!(!player.is_active());
        player.trigger(2, 0, 1.0, None, false);
        player.render(10);
        player.trigger(2, 3, 1.0, None, false);
        let out = player.render(8).to_vec();
        assert_eq!(out[..3], [2.0; 3]);
        assert!((out[3] - (2.0 * 0.8 + 2.0)).abs() < 1e-6, "{out:?}");
        player.stop_all(0);
        let out = player.render(16).to_vec();
        assert!(out[5..].iter().all(|&x| x == 0.0), "{out:?}");
    }

    #[test]
    fn pause_fades_out_holds_and_resumes_where_it_was() {
        let (mut player, mut feeder, _) = bank("a");
        while let Some(job) = feeder.next_job() {
            feeder.deliver(&job, (0..100).map(|i| i as f32).collect());
        }
        player.trigger(1, 0, 1.0, None, false);
        let mut out = [0.0f32; 10];
        player.mix_into(&mut out, false);
        assert_eq!(out[9], 9.0);
        let mut out = [0.0f32; 10];
        player.mix_into(&mut out, true);
        let faded: Vec<f32> = (0..5)
            .map(|i| (10 + i) as f32 * ((4 - i) as f32 * (1.0 / 5.0)))
            .collect();
        assert_eq!(out[..5], faded[..], "5-sample fade");
        assert_eq!(out[5..], [0.0; 5], "held");
        let mut out = [0.0f32; 10];
        player.mix_into(&mut out, true);
        assert_eq!(out, [0.0; 10]);
        let mut out = [0.0f32; 10];
        player.mix_into(&mut out, false);
        let resumed: Vec<f32> = (0..5)
            .map(|i| (15 + i) as f32 * ((i + 1) as f32 * (1.0 / 5.0)))
            .collect();
        assert_eq!(out[..5], resumed[..], "fades in from where it held");
        assert_eq!(out[5..], [20.0, 21.0, 22.0, 23.0, 24.0]);
    }

    #[test]
    fn a_render_waits_for_a_phrase_being_rendered() {
        let (mut player, mut feeder, _) = bank("slow");
        let worker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            render_all(&mut feeder, 3);
            feeder
        });
        assert_eq!(player.trigger(1, 2, 1.0, None, true), Triggered::Playing);
        assert_eq!(player.render(8)[..5], [0.0, 0.0, 1.0, 1.0, 1.0]);
        assert!(player.waited() >= Duration::from_millis(40));
        let _ = worker.join();
    }

    #[test]
    fn a_phrase_a_render_asks_for_does_not_wait_for_the_text_to_settle() {
        let session = Arc::new(SharedSession::default());
        session.set_text("a\nb".into());
        let (mut player, mut feeder) = channel(Arc::default(), session.clone(), 1000.0, 16);
        feeder.sync(&session);
        assert!(feeder.next_job().is_none());
        assert_eq!(player.trigger(2, 0, 1.0, None, false), Triggered::NotReady);
        assert_eq!(feeder.next_job().map(|j| j.slot), Some(2));
    }

    #[test]
    fn the_memory_bound_drops_the_largest_clip() {
        let (_, mut feeder, _) = bank("a\nb");
        let big = BANK_BYTES / 4 / 2 + 1;
        let jobs: Vec<Job> = std::iter::from_fn(|| feeder.next_job()).collect();
        feeder.deliver(&jobs[0], vec![0.0; big]);
        feeder.deliver(&jobs[1], vec![0.0; big]);
        assert_eq!(feeder.held[1], 0, "phrase 1 dropped to make room");
        assert!(feeder.held[2] > 0);
        feeder.deliver(&jobs[2], vec![0.0; BANK_BYTES / 4 + 1]);
        assert_eq!(feeder.held[0], 0, "longer than the bound: never held");
        let views = feeder.shared.views();
        assert_eq!(views[0].state, SlotState::NotHeld);
        assert_eq!(views[1].state, SlotState::NotHeld);
        assert!(matches!(views[2].state, SlotState::Ready { .. }));
    }
}
