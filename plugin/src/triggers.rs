//! The transport-style switches (Speak, Stop, Skip, Pause, Trigger) as the audio thread reads
//! them: a switch acts when it changes, not for as long as it is on, so a host that leaves
//! Speak on does not speak the text again every block. With sample-accurate automation the
//! host splits its block where a switch changes, so each acts at the sample the host put it.
//!
//! [`Timeline`] plays a trigger from the phrase bank, or streams it when its clip is not ready.
//! [`PendingTriggers`] carries phrase triggers from a host's buttons and hotkeys (an OBS
//! filter's) to the audio thread.
//!
//! Audio thread only (plain fields, no allocation), except [`PendingTriggers::trigger`] and
//! [`PendingTriggers::end_bank_phrases`], which any thread calls (atomics, wait-free).

use crate::params::OratorParams;
use crate::playback::bank::{BankPlayer, MAX_PHRASES, Triggered, WHOLE_TEXT};
use crate::playback::stream::{AudioSide, CANCELLED_ONE_BY_ONE, Control, PhraseId};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A switch's value in the previous block.
#[derive(Debug, Default, Clone, Copy)]
pub struct Edge {
    was_on: bool,
}

impl Edge {
    /// Whether the switch turned on since the previous block.
    pub fn rose(&mut self, on: bool) -> bool {
        self.changed(on) == Some(true)
    }

    /// The switch's new value if it changed since the previous block.
    pub fn changed(&mut self, on: bool) -> Option<bool> {
        let changed = (on != self.was_on).then_some(on);
        self.was_on = on;
        changed
    }
}

/// What the switches ask for in one block.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Actions {
    /// Speak the session's text (Speak turned on).
    pub speak: bool,
    /// Stop the phrase playing and clear the queue (Stop turned on).
    pub stop: bool,
    /// Skip to the next queued phrase (Skip turned on).
    pub skip: bool,
    /// Pause or resume (Pause changed; acted on only when it changes, so the editor's own
    /// pause is not overridden every block).
    pub pause: Option<bool>,
    /// Speak this phrase line (Trigger turned on; the Phrase parameter's value).
    pub trigger: Option<usize>,
}

/// The four switches' edges.
#[derive(Debug, Default, Clone, Copy)]
pub struct Triggers {
    speak: Edge,
    stop: Edge,
    skip: Edge,
    pause: Edge,
    trigger: Edge,
}

impl Triggers {
    /// Reads the switches for this block and returns what changed.
    ///
    /// # Realtime safety
    /// Six relaxed parameter loads; no allocation.
    pub fn read(&mut self, params: &OratorParams) -> Actions {
        Actions {
            speak: self.speak.rose(params.speak.value()),
            stop: self.stop.rose(params.stop.value()),
            skip: self.skip.rose(params.skip.value()),
            pause: self.pause.changed(params.pause.value()),
            trigger: self
                .trigger
                .rose(params.trigger.value())
                .then(|| params.phrase.value().max(1) as usize),
        }
    }
}

/// How far (samples) a host's reported position may stray from the expected one and still
/// count as continuous: CLAP reports time in fixed-point seconds, so the position read back in
/// samples can be a sample off.
const POSITION_SLACK: i64 = 2;

/// Watches the host's transport for what ends timeline-triggered speech: a stop, a loop or a
/// jump. Hosts that split a block (sample-accurate automation) may report the block's start
/// position for each piece, or the piece's own; both count as continuous.
#[derive(Debug, Default, Clone, Copy)]
pub struct TransportWatch {
    /// Whether the transport was playing.
    playing: bool,
    /// The last position the host reported that differed from the one before, samples.
    anchor: Option<i64>,
    /// Samples processed since `anchor` was reported.
    since_anchor: i64,
    /// The project sample of the current block's first sample, while playing.
    here: Option<i64>,
}

impl TransportWatch {
    /// Counts a block of `frames` with the host's `playing` flag and position; true when the
    /// transport started, stopped or jumped at this block's start (timeline speech started
    /// while it stood still belongs to no place on the timeline: a start ends it too).
    pub fn moved(&mut self, playing: bool, position: Option<i64>, frames: usize) -> bool {
        let frames = frames as i64;
        let was_playing = std::mem::replace(&mut self.playing, playing);
        let stopped = was_playing && !playing;
        let started = !was_playing && playing;
        let mut jumped = false;
        self.here = None;
        match (position, self.anchor) {
            (Some(p), Some(anchor)) if p == anchor => {
                self.here = playing.then_some(anchor + self.since_anchor);
                self.since_anchor += frames;
            }
            (Some(p), anchor) => {
                self.here = playing.then_some(p);
                let expected = anchor.map(|a| a + self.since_anchor);
                jumped = was_playing
                    && playing
                    && expected.is_some_and(|e| (p - e).abs() > POSITION_SLACK);
                self.anchor = Some(p);
                self.since_anchor = frames;
            }
            (None, _) => self.anchor = None,
        }
        started || stopped || jumped
    }

    /// The project sample of the block last counted's first sample, while the transport
    /// plays and the host reports positions (a split block's piece: where the piece starts).
    pub fn position(&self) -> Option<i64> {
        self.here
    }
}

/// The phrases timeline triggers had to stream (their clip was not ready yet). They are
/// timeline speech: when the transport starts, stops or jumps, or Stop is pressed, they end
/// with the bank's phrases, and the API's and the editor's phrases go on. Fixed size; past it
/// the oldest is let go.
#[derive(Debug, Default, Clone, Copy)]
pub struct TimelineStreams {
    ids: [PhraseId; CANCELLED_ONE_BY_ONE],
    len: usize,
}

impl TimelineStreams {
    /// Remembers a phrase a timeline trigger streamed.
    pub fn push(&mut self, id: PhraseId) {
        if self.len == self.ids.len() {
            self.ids.copy_within(1.., 0);
            self.len -= 1;
        }
        self.ids[self.len] = id;
        self.len += 1;
    }

    /// Cancels every phrase remembered and forgets them.
    pub fn cancel_all(&mut self, control: &Control) {
        for &id in &self.ids[..self.len] {
            control.cancel(id);
        }
        self.len = 0;
    }
}

/// Plays timeline triggers: from the phrase bank at their sample, or, live, when the phrase is
/// not rendered ahead yet, streamed as soon as it can be.
pub struct Timeline<'a> {
    pub stream: &'a mut AudioSide,
    pub bank: &'a mut BankPlayer,
    /// Whether the host renders offline (said or detected): then a trigger waits for its
    /// phrase.
    pub rendering: bool,
    /// Where the phrases streamed in the bank's place are remembered.
    pub streamed: &'a mut TimelineStreams,
}

impl Timeline<'_> {
    /// Speaks slot `slot` (0: the whole text; n: phrase line n) from sample `at` of the block.
    pub fn play(&mut self, slot: usize, at: usize, gain: f32, note: Option<u8>) {
        let slot = if slot > MAX_PHRASES { usize::MAX } else { slot };
        if self.bank.trigger(slot, at, gain, note, self.rendering) == Triggered::NotReady {
            let id = if slot == WHOLE_TEXT {
                self.stream.request_speech()
            } else {
                self.stream.request_line(slot)
            };
            if let Some(id) = id {
                self.stream.start_not_before(id, at);
                self.streamed.push(id);
            }
        }
    }
}

/// Words of [`PendingTriggers`]' bit set: a bit for each slot, 0 (the whole text) to
/// [`MAX_PHRASES`].
const SLOT_WORDS: usize = (MAX_PHRASES + 1).div_ceil(64);

/// Phrase triggers and "end the bank's phrases" asked for on another thread (a button, a
/// hotkey), for the audio thread to act on at the start of its next block: a bit per slot, set
/// with `fetch_or` and taken with `swap`. Wait-free on both sides; a slot asked for twice
/// before the audio thread looks plays once.
#[derive(Debug, Default)]
pub struct PendingTriggers {
    slots: [AtomicU64; SLOT_WORDS],
    end: AtomicBool,
}

impl PendingTriggers {
    /// Asks for slot `slot` (0: the whole text; n: phrase line n). False if there is no such
    /// slot.
    pub fn trigger(&self, slot: usize) -> bool {
        if slot > MAX_PHRASES {
            return false;
        }
        self.slots[slot / 64].fetch_or(1 << (slot % 64), Ordering::Release);
        true
    }

    /// Asks for the bank's phrases to end (Stop, Skip), with the triggers not yet played.
    pub fn end_bank_phrases(&self) {
        for word in &self.slots {
            word.store(0, Ordering::Release);
        }
        self.end.store(true, Ordering::Release);
    }

    /// Audio thread: whether the bank's phrases are to end (call before [`Self::take_slots`]).
    pub fn take_end(&self) -> bool {
        self.end.swap(false, Ordering::Acquire)
    }

    /// Audio thread: each slot asked for, in order, to `play`.
    pub fn take_slots(&self, mut play: impl FnMut(usize)) {
        for (w, word) in self.slots.iter().enumerate() {
            let mut bits = word.swap(0, Ordering::Acquire);
            while bits != 0 {
                play(w * 64 + bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transport_moved_on_a_stop_or_a_jump_but_not_on_split_blocks() {
        let mut watch = TransportWatch::default();
        assert!(watch.moved(true, Some(0), 512), "starting to play");
        assert!(!watch.moved(true, Some(512), 100), "next block");
        assert!(
            !watch.moved(true, Some(612), 412),
            "a split block, its own position"
        );
        assert!(!watch.moved(true, Some(1024), 200));
        assert!(
            !watch.moved(true, Some(1024), 312),
            "a split block, the block's position"
        );
        assert_eq!(watch.position(), Some(1024 + 200), "the piece's own place");
        assert!(!watch.moved(true, Some(1537), 512), "a sample of rounding");
        assert_eq!(watch.position(), Some(1537));
        assert!(watch.moved(true, Some(0), 512), "a loop back");
        assert!(watch.moved(false, Some(512), 512), "a stop");
        assert!(
            !watch.moved(false, Some(90_000), 512),
            "moving while stopped"
        );
        assert_eq!(watch.position(), None, "stopped: no place on the timeline");
        assert!(watch.moved(true, Some(90_000), 512), "starting again");
        assert!(!watch.moved(true, None, 512), "a host without positions");
        assert_eq!(watch.position(), None);
        assert!(!watch.moved(true, None, 512));
    }

    #[test]
    fn timeline_streams_cancel_only_their_own_phrases() {
        let control = Control::default();
        let api = control.new_id();
        let mut streams = TimelineStreams::default();
        let ids: Vec<PhraseId> = (0..CANCELLED_ONE_BY_ONE + 2)
            .map(|_| control.new_id())
            .collect();
        for &id in &ids {
            streams.push(id);
        }
        streams.cancel_all(&control);
        assert!(!control.is_cancelled(api), "the API's phrase goes on");
        assert!(
            !control.is_cancelled(ids[0]) && !control.is_cancelled(ids[1]),
            "the oldest were let go"
        );
        assert!(ids[2..].iter().all(|&id| control.is_cancelled(id)));
        streams.cancel_all(&control);
        assert!(!control.is_cancelled(api));
    }

    #[test]
    fn pending_triggers_play_each_slot_asked_once_after_an_end() {
        let pending = PendingTriggers::default();
        let taken = |pending: &PendingTriggers| {
            let ended = pending.take_end();
            let mut played = Vec::new();
            pending.take_slots(|slot| played.push(slot));
            (ended, played)
        };
        assert_eq!(taken(&pending), (false, vec![]));
        assert!(pending.trigger(3) && pending.trigger(0) && pending.trigger(3));
        assert!(pending.trigger(MAX_PHRASES) && pending.trigger(64));
        assert!(!pending.trigger(MAX_PHRASES + 1), "no such phrase");
        assert_eq!(taken(&pending), (false, vec![0, 3, 64, MAX_PHRASES]));
        assert_eq!(taken(&pending), (false, vec![]), "each once");
        assert!(pending.trigger(5));
        pending.end_bank_phrases();
        assert!(pending.trigger(7));
        assert_eq!(
            taken(&pending),
            (true, vec![7]),
            "an end drops what was asked before it, not after"
        );
    }

    #[test]
    fn an_edge_rises_once_per_press_and_reports_each_change() {
        let mut edge = Edge::default();
        assert!(!edge.rose(false));
        assert!(edge.rose(true));
        assert!(!edge.rose(true), "held on: no second press");
        assert!(!edge.rose(false));
        assert!(edge.rose(true));
        let mut pause = Edge::default();
        assert_eq!(pause.changed(false), None);
        assert_eq!(pause.changed(true), Some(true));
        assert_eq!(pause.changed(true), None);
        assert_eq!(pause.changed(false), Some(false));
    }
}
