//! The audio thread's half of the phrase bank: installs the clips the speech thread hands
//! over, starts and fades the voices that play them, mixes them into the block.
//!
//! Thread model: owned by the plugin and used on the audio thread only. Every method is
//! wait-free except [`BankPlayer::trigger`] with `rendering` set (offline renders alone), which
//! sleeps while this activation's feeder has the phrase queued or rendering.

use super::placements::{Cut, PlacementRecorder};
use super::{BankShared, Clip, RENDER_WAIT_LIMIT, SLOTS, SlotTable, Triggered, Update};
use crate::state::SharedSession;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// A phrase sounding from the bank.
#[derive(Debug, Default)]
pub(super) struct Sounding {
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
    /// When it started, in triggers counted by the player (the latest is the one heard).
    order: u64,
}

/// The audio thread's half. Made in [`channel`]; owned by the plugin, used in `process()`.
pub struct BankPlayer {
    pub(super) shared: Arc<BankShared>,
    pub(super) table: Arc<SlotTable>,
    pub(super) session: Arc<SharedSession>,
    pub(super) updates: rtrb::Consumer<Update>,
    pub(super) retired: rtrb::Producer<Arc<Clip>>,
    pub(super) urgent: rtrb::Producer<u16>,
    /// Per slot, the clip installed (possibly stale: compare its key with the wanted one).
    pub(super) clips: Vec<Option<Arc<Clip>>>,
    pub(super) voices: Vec<Sounding>,
    /// The current block's bank audio; sized for the host's largest block.
    pub(super) block: Vec<f32>,
    pub(super) fade_len: usize,
    /// Where the pause fade is, in samples: `fade_len` playing, 0 held.
    pub(super) pause_pos: usize,
    /// Time spent waiting for phrases in renders (so the render detector can leave it out).
    pub(super) waited: Duration,
    /// Voices started so far (orders them).
    pub(super) started: u64,
    /// Where phrases start and end in project time, for the project's subtitles.
    pub(super) placements: PlacementRecorder,
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
            if let Some(entry) = self.clips.get_mut(slot)
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
        if self.table.synced.load(Ordering::Acquire) != self.session.generation() {
            return None;
        }
        let key = self.table.key(slot);
        self.clips
            .get(slot)
            .and_then(Option::as_ref)
            .filter(|clip| key != 0 && clip.key == key)
    }

    /// Whether a render should wait for `slot`: this activation's feeder has not caught up
    /// with the session yet, or it has the slot's phrase queued or rendering. A phrase nobody
    /// will deliver (empty, failed, too long to hold, or not pending) is not waited for.
    fn worth_waiting(&self, slot: usize) -> bool {
        let synced = self.table.synced.load(Ordering::Acquire);
        if synced != self.session.generation() {
            return true;
        }
        let key = self.table.key(slot);
        key != 0
            && self.table.pending[slot].load(Ordering::Acquire) == key
            && self.table.failed[slot].load(Ordering::Acquire) != key
            && self.table.too_long[slot].load(Ordering::Acquire) != key
    }

    /// Whether `slot` has a phrase that is neither held, failed, too long to hold, nor queued
    /// or rendering: nothing will deliver it, so a render streams it rather than wait.
    fn nobody_renders(&self, slot: usize) -> bool {
        let key = self.table.key(slot);
        self.table.synced.load(Ordering::Acquire) == self.session.generation()
            && key != 0
            && self.table.pending[slot].load(Ordering::Acquire) != key
            && self.table.failed[slot].load(Ordering::Acquire) != key
            && self.table.too_long[slot].load(Ordering::Acquire) != key
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
                self.table.render_waits.store(true, Ordering::Release);
                while self.current(slot).is_none()
                    && self.worth_waiting(slot)
                    && started.elapsed() < RENDER_WAIT_LIMIT
                {
                    std::thread::sleep(Duration::from_micros(500));
                    self.take_updates();
                }
                self.table.render_waits.store(false, Ordering::Release);
                self.waited += started.elapsed();
                // A clip delivered just before its pending mark was cleared is in the ring.
                self.take_updates();
                if self.current(slot).is_none() && self.nobody_renders(slot) {
                    self.shared.unrendered.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let at = at.min(self.block.len());
        let Some(clip) = self.current(slot).cloned() else {
            // Behind the session (just activated, or the text just changed), the slot's key is
            // not known yet: stream the phrase rather than call it missing.
            let behind = self.table.synced.load(Ordering::Acquire) != self.session.generation();
            let key = self.table.key(slot);
            if !behind && (key == 0 || self.table.failed[slot].load(Ordering::Acquire) == key) {
                self.shared.missing.fetch_add(1, Ordering::Relaxed);
                return Triggered::Missing;
            }
            // Streamed in the bank's place: placed at its trigger all the same (where a
            // render puts it), its words those of the slot's clip once rendered.
            self.placements
                .placed(slot, if behind { 0 } else { key }, at, note);
            return Triggered::NotReady;
        };
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
        self.started += 1;
        self.placements.placed(slot, clip.key, at, note);
        self.voices[free] = Sounding {
            clip: Some(clip),
            pos: 0,
            begin: at,
            gain,
            note,
            fade: None,
            done: false,
            order: self.started,
        };
        Triggered::Playing
    }

    /// Fades out (from sample `at` of this block) every phrase `note` started (`None`: every
    /// phrase any note started).
    pub fn release(&mut self, note: Option<u8>, at: usize) {
        let at = at.min(self.block.len());
        self.placements
            .cut(note.map_or(Cut::AnyNote, Cut::Note), at);
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
        self.placements.cut(Cut::All, at);
        for voice in &mut self.voices {
            if !voice.done && voice.clip.is_some() && voice.fade.is_none() {
                voice.fade = Some((at, self.fade_len));
            }
        }
    }

    /// Where this block is in the project, for the phrases' placements: `position` is the
    /// project sample of its first sample while the transport plays (`None` otherwise),
    /// `moved` whether it started, stopped or jumped here. Call before the block's triggers.
    pub fn locate(&mut self, position: Option<i64>, moved: bool, frames: usize) {
        self.placements.locate(position, moved, frames);
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
        // The phrase heard now, for the word lit in the editor and the API's Word events.
        let heard = self
            .voices
            .iter()
            .filter(|v| !v.done && v.fade.is_none())
            .filter_map(|v| v.clip.as_ref().map(|c| (v.order, c.key, v.pos)))
            .max_by_key(|&(order, _, _)| order);
        match heard {
            Some((_, key, pos)) => self.shared.publish_heard(key, pos as u64),
            None => self.shared.publish_heard(0, 0),
        }
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
