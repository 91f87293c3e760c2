//! The realtime link between the speech thread and `process()`.
//!
//! Speech is a queue of *phrases*, each with an id ([`PhraseId`], increasing, never 0). The
//! speech thread synthesises them in order into one stream of mono samples at the host's rate;
//! the audio thread plays that stream. Per activation, three wait-free SPSC rings (`rtrb`):
//!
//! - requests, audio thread → speech thread: "speak the session's text as phrase N" when the
//!   Speak trigger rises;
//! - voice, speech thread → audio thread: the samples, plus a small ring of [`Mark`]s saying at
//!   which sample of the stream each phrase starts and ends;
//! - events, audio thread → main thread: [`PhraseEvent`]s (started, finished, cancelled) as the
//!   listener hears them, for the editor and the loopback API.
//!
//! Control shared by everyone lives in [`Control`] (atomics only, so any thread, the audio
//! thread included, can stop, skip, clear or pause without waiting). Cancelling a phrase never
//! needs the speech thread's help: the audio thread fades the phrase out over
//! [`STOP_FADE_MS`] and then discards its samples up to its end mark, so Stop and Skip take
//! effect within the block they arrive in, whatever the speech thread is doing.
//!
//! # Realtime safety
//! [`AudioSide`] allocates only in [`channel`]; every method it has is wait-free except
//! [`AudioSide::read_voice`] after [`AudioSide::set_waiting`], which renders alone (announced
//! by the host or detected) turn on.

pub use super::control::{CANCELLED_ONE_BY_ONE, Control, PhraseId};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// What the audio thread can ask of the speech thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Speak the session's text (as it is when the phrase starts) as phrase `id`.
    SpeakSession {
        /// The phrase's id, taken from [`Control::new_id`].
        id: PhraseId,
    },
    /// Speak the session's `line`-th phrase (1-based, as [`super::bank::phrase_lines`] counts
    /// them) as phrase `id`: a timeline trigger whose phrase is not rendered ahead yet.
    SpeakLine {
        /// The phrase's id.
        id: PhraseId,
        /// The phrase line.
        line: u16,
    },
}

/// Where a phrase starts or ends in the voice stream (speech thread → audio thread).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    /// The phrase.
    pub id: PhraseId,
    /// Start or end.
    pub edge: Edge,
    /// Position in the voice stream (samples pushed since the rings were made).
    pub at: u64,
}

/// Which end of a phrase a [`Mark`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// Its first sample follows.
    Start,
    /// Its last sample came before.
    End,
}

/// What happened to a phrase, as heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhraseEventKind {
    /// Its first sample was played.
    Started,
    /// It played to the end.
    Finished,
    /// It was stopped, skipped or cleared (possibly before a sample of it was heard).
    Cancelled,
}

/// A phrase event (audio thread → main thread).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhraseEvent {
    /// The phrase.
    pub id: PhraseId,
    /// What happened.
    pub kind: PhraseEventKind,
    /// When: the output sample (counted from activation) at which it happened.
    pub at: u64,
}

/// Length of the fade-out when speech is stopped or skipped, and of the fades around a pause:
/// short enough to feel instant, long enough not to click.
pub const STOP_FADE_MS: f32 = 5.0;

/// The longest an offline render waits for speech in one block. Synthesis runs at a tenth of
/// real time, so this only ends a wait when the speech thread is stuck.
pub const OFFLINE_WAIT_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Seconds of voice the ring holds: enough that the speech thread can run a sentence ahead.
pub const VOICE_RING_SECONDS: f32 = 4.0;

/// Requests the audio thread can have outstanding; more in one go are dropped and counted.
const REQUEST_CAPACITY: usize = 64;

/// Phrase marks in flight: two per phrase.
const MARK_CAPACITY: usize = 256;

/// Events waiting for a reader; the oldest are kept, later ones dropped and counted.
const EVENT_CAPACITY: usize = 1024;

/// Where the audio thread is within the phrase it plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between phrases.
    Idle,
    /// Playing phrase samples.
    Playing,
    /// Cancelled while heard: this many fade samples remain.
    FadingOut(usize),
    /// Cancelled: samples are thrown away up to the phrase's end mark.
    Discarding,
}

/// The audio thread's half. `Send`, not `Sync`: owned by the plugin, used in `process()`.
pub struct AudioSide {
    voice: rtrb::Consumer<f32>,
    marks: rtrb::Consumer<Mark>,
    requests: rtrb::Producer<Request>,
    events: rtrb::Producer<PhraseEvent>,
    control: Arc<Control>,
    /// The current block's voice; sized in [`channel`] for the host's largest block.
    block: Vec<f32>,
    /// Samples taken from the voice ring so far (the stream position of its head).
    read: u64,
    /// Output samples so far (event times).
    played: u64,
    /// The phrase at the head of the stream.
    phrase: PhraseId,
    phase: Phase,
    /// Whether any sample of the current phrase has been played (a cancel then fades).
    heard: bool,
    /// The stream position of the current phrase's first sample.
    phrase_from: u64,
    /// Fade length in samples at this sample rate.
    fade_len: usize,
    /// Where the pause fade is, in samples: `fade_len` playing, 0 held.
    pause_pos: usize,
    /// Samples missing because the speech thread was late (underruns), for the meters.
    underruns: u64,
    /// Requests and events that did not fit their rings.
    dropped: u64,
    /// Offline: wait for speech still coming rather than play silence.
    waiting: bool,
    /// An offline wait ran out and nothing has arrived since: do not wait again until it does.
    stalled: bool,
    /// A phrase a trigger asked for inside this block, and the block sample its first sample
    /// may not come before (cleared after the block).
    not_before: Option<(PhraseId, usize)>,
    /// Time spent waiting for speech so far (the render detector leaves it out).
    waited: std::time::Duration,
}

/// The speech thread's half.
pub struct WorkerSide {
    /// Voice samples to the audio thread.
    pub voice: rtrb::Producer<f32>,
    /// Phrase marks to the audio thread.
    pub marks: rtrb::Producer<Mark>,
    /// Requests from the audio thread.
    pub requests: rtrb::Consumer<Request>,
    /// The host's sample rate.
    pub sample_rate: f32,
    /// Samples pushed so far (the stream position of the tail).
    pub written: u64,
    /// The phrase whose start mark is in and whose end mark is not yet.
    open: Option<PhraseId>,
}

/// The main thread's half: phrase events as they are heard.
pub type EventReader = rtrb::Consumer<PhraseEvent>;

/// Creates the rings for a host running at `sample_rate` with blocks of up to `max_block`.
/// Allocates: call from `activate`.
pub fn channel(
    control: Arc<Control>,
    sample_rate: f32,
    max_block: usize,
) -> (AudioSide, WorkerSide, EventReader) {
    let sample_rate = if sample_rate.is_finite() {
        sample_rate.max(1.0)
    } else {
        48_000.0
    };
    let max_block = max_block.max(1);
    let capacity = ((sample_rate * VOICE_RING_SECONDS) as usize).max(max_block * 2);
    let (voice_producer, voice) = rtrb::RingBuffer::new(capacity);
    let (mark_producer, marks) = rtrb::RingBuffer::new(MARK_CAPACITY);
    let (requests, request_consumer) = rtrb::RingBuffer::new(REQUEST_CAPACITY);
    let (events, event_reader) = rtrb::RingBuffer::new(EVENT_CAPACITY);
    control.playing.store(0, Ordering::Release);
    let fade_len = ((sample_rate * STOP_FADE_MS / 1000.0) as usize).max(1);
    (
        AudioSide {
            voice,
            marks,
            requests,
            events,
            control,
            block: vec![0.0; max_block],
            read: 0,
            played: 0,
            phrase: 0,
            phase: Phase::Idle,
            heard: false,
            phrase_from: 0,
            fade_len,
            pause_pos: fade_len,
            underruns: 0,
            dropped: 0,
            waiting: false,
            not_before: None,
            stalled: false,
            waited: std::time::Duration::ZERO,
        },
        WorkerSide {
            voice: voice_producer,
            marks: mark_producer,
            requests: request_consumer,
            sample_rate,
            written: 0,
            open: None,
        },
        event_reader,
    )
}

impl AudioSide {
    /// The control shared with the speech thread and the main thread.
    pub fn control(&self) -> &Control {
        &self.control
    }

    /// Asks the speech thread to speak the session's text. Returns the phrase's id, or `None`
    /// if the request ring is full (the request is then counted as dropped).
    pub fn request_speech(&mut self) -> Option<PhraseId> {
        self.request(|id| Request::SpeakSession { id })
    }

    /// Asks the speech thread to stream phrase line `line` (1-based). As
    /// [`AudioSide::request_speech`].
    pub fn request_line(&mut self, line: usize) -> Option<PhraseId> {
        let line = u16::try_from(line).unwrap_or(u16::MAX);
        self.request(|id| Request::SpeakLine { id, line })
    }

    /// Phrase `id`, asked for by a trigger at sample `at` of this block, starts no earlier
    /// than that sample if it starts in this block (a render waiting for it, or a phrase
    /// already in the ring): a note-on inside a block streams from its own sample. Holds for
    /// the next [`AudioSide::read_voice`] only, and for the first phrase so asked for.
    pub fn start_not_before(&mut self, id: PhraseId, at: usize) {
        if self.not_before.is_none() {
            self.not_before = Some((id, at));
        }
    }

    fn request(&mut self, make: impl FnOnce(PhraseId) -> Request) -> Option<PhraseId> {
        let id = self.control.new_id();
        self.control.count_request();
        if self.requests.push(make(id)).is_ok() {
            Some(id)
        } else {
            self.control.uncount_request();
            self.dropped += 1;
            None
        }
    }

    /// Time [`AudioSide::read_voice`] has spent waiting for speech so far.
    pub fn waited(&self) -> std::time::Duration {
        self.waited
    }

    /// Offline rendering: from now on [`AudioSide::read_voice`] waits (sleeping, at most
    /// [`OFFLINE_WAIT_LIMIT`] per block) for speech that is still coming instead of playing
    /// silence, so a bounce has every phrase, every skip and every join exactly where a
    /// real-time pass with a fast enough machine would, and two bounces are identical.
    ///
    /// # Realtime safety
    /// Waiting sleeps: turn it on only when the host renders offline.
    pub fn set_waiting(&mut self, waiting: bool) {
        self.waiting = waiting;
    }

    /// Whether to wait for more of the stream (see [`AudioSide::set_waiting`]); sleeps a
    /// little first if so.
    ///
    /// One deadline per stall, not per block: once a wait has run out, the stream does not
    /// wait again until something new arrives, so a speech thread that is stuck costs a render
    /// one [`OFFLINE_WAIT_LIMIT`], not one per block.
    fn wait_for_more(&mut self, since: &mut Option<std::time::Instant>) -> bool {
        if !self.waiting || !self.control.pending() || self.control.is_paused() || self.stalled {
            return false;
        }
        let started = *since.get_or_insert_with(std::time::Instant::now);
        if started.elapsed() >= OFFLINE_WAIT_LIMIT {
            self.stalled = true;
            return false;
        }
        std::thread::sleep(std::time::Duration::from_micros(500));
        true
    }

    /// The next `frames` voice samples: the stream's phrases as they arrive, faded out when
    /// cancelled and held while paused, then silence. Blocks longer than the activated maximum
    /// get at most that many voice samples.
    pub fn read_voice(&mut self, frames: usize) -> &mut [f32] {
        let len = frames.min(self.block.len());
        let paused = self.control.is_paused();
        let mut filled = 0;
        let mut waiting_since = None;
        while filled < len {
            // Samples first, then marks: every sample counted here was pushed after the marks
            // before it, so those marks are visible too.
            let available = self.voice.slots();
            if available > 0 || !self.marks.is_empty() {
                self.stalled = false;
            }
            if let Some((id, at)) = self.not_before
                && filled < at.min(len)
                && self
                    .marks
                    .peek()
                    .is_ok_and(|m| m.id == id && m.edge == Edge::Start && m.at == self.read)
            {
                // The asked-for phrase is next: silence up to its trigger's sample.
                let at = at.min(len);
                self.block[filled..at].fill(0.0);
                filled = at;
                continue;
            }
            self.take_marks(Edge::Start, filled);
            if self.phrase != 0
                && matches!(self.phase, Phase::Playing)
                && self.control.is_cancelled(self.phrase)
            {
                self.phase = if self.heard {
                    Phase::FadingOut(self.fade_len)
                } else {
                    Phase::Discarding
                };
            }
            // This phrase's samples end at the next mark.
            let limit = match self.marks.peek() {
                Ok(mark) => mark.at.saturating_sub(self.read) as usize,
                Err(_) => usize::MAX,
            };
            let in_phrase = available.min(limit);
            if self.phase == Phase::Discarding {
                if in_phrase == 0 {
                    if self.wait_for_more(&mut waiting_since) {
                        continue;
                    }
                    break;
                }
                self.skip_voice(in_phrase);
                continue;
            }
            // Held by a pause once faded out.
            let pause_room = if paused { self.pause_pos } else { usize::MAX };
            let mut n = in_phrase.min(len - filled).min(pause_room);
            if let Phase::FadingOut(left) = self.phase {
                n = n.min(left);
            }
            if n == 0 {
                if pause_room > 0 && self.wait_for_more(&mut waiting_since) {
                    continue;
                }
                break;
            }
            let out = &mut self.block[filled..filled + n];
            if let Ok(chunk) = self.voice.read_chunk(n) {
                let (a, b) = chunk.as_slices();
                out[..a.len()].copy_from_slice(a);
                out[a.len()..].copy_from_slice(b);
                chunk.commit_all();
            }
            self.read += n as u64;
            if self.phrase != 0 {
                let position = (self.read - self.phrase_from).min(u64::from(u32::MAX));
                self.control
                    .heard
                    .store(u64::from(self.phrase) << 32 | position, Ordering::Release);
            }
            if let Phase::FadingOut(left) = self.phase {
                let step = 1.0 / self.fade_len as f32;
                for (i, x) in out.iter_mut().enumerate() {
                    *x *= (left - i - 1) as f32 * step;
                }
                self.phase = if left == n {
                    Phase::Discarding
                } else {
                    Phase::FadingOut(left - n)
                };
            }
            if paused || self.pause_pos < self.fade_len {
                let step = 1.0 / self.fade_len as f32;
                for x in out.iter_mut() {
                    if paused {
                        self.pause_pos -= 1;
                    } else {
                        self.pause_pos = (self.pause_pos + 1).min(self.fade_len);
                    }
                    *x *= self.pause_pos as f32 * step;
                }
            }
            self.heard |= self.phrase != 0;
            filled += n;
        }
        if let Some(since) = waiting_since {
            self.waited += since.elapsed();
        }
        self.not_before = None;
        self.block[filled..len].fill(0.0);
        self.take_marks(Edge::End, filled);
        if filled < len && !paused && self.phase == Phase::Playing {
            self.underruns += (len - filled) as u64;
        }
        if paused && filled == 0 {
            // Nothing to fade: hold at once.
            self.pause_pos = 0;
        }
        self.played += len as u64;
        &mut self.block[..len]
    }

    /// Acts on the marks at the head of the stream: all of them, or with `Edge::End` only the
    /// ends (after a block, so a phrase played to its last sample is over, but the next one
    /// starts only when its first sample is played).
    fn take_marks(&mut self, upto: Edge, filled: usize) {
        while let Ok(&mark) = self.marks.peek() {
            if mark.at != self.read || (upto == Edge::End && mark.edge == Edge::Start) {
                break;
            }
            let _ = self.marks.pop();
            match mark.edge {
                Edge::Start => {
                    self.phrase = mark.id;
                    self.heard = false;
                    self.phrase_from = self.read;
                    if self.control.is_cancelled(mark.id) {
                        self.phase = Phase::Discarding;
                    } else {
                        self.phase = Phase::Playing;
                        self.control.playing.store(mark.id, Ordering::Release);
                        self.emit(mark.id, PhraseEventKind::Started, filled);
                    }
                }
                Edge::End => {
                    let kind = if self.phase == Phase::Playing {
                        PhraseEventKind::Finished
                    } else {
                        PhraseEventKind::Cancelled
                    };
                    self.emit(mark.id, kind, filled);
                    self.phrase = 0;
                    self.phase = Phase::Idle;
                    self.control.playing.store(0, Ordering::Release);
                    self.control.heard.store(0, Ordering::Release);
                }
            }
        }
    }

    /// Drops `n` samples from the head of the voice ring (O(1): one index update).
    fn skip_voice(&mut self, n: usize) {
        if let Ok(chunk) = self.voice.read_chunk(n) {
            chunk.commit_all();
            self.read += n as u64;
        }
    }

    /// Sends an event that happened at sample `offset` of the current block.
    fn emit(&mut self, id: PhraseId, kind: PhraseEventKind, offset: usize) {
        let event = PhraseEvent {
            id,
            kind,
            at: self.played + offset as u64,
        };
        if self.events.push(event).is_err() {
            self.dropped += 1;
        }
    }

    /// Whether speech is queued, being synthesised or waiting in the ring, and not paused (the
    /// host must keep calling `process`).
    pub fn is_active(&self) -> bool {
        !self.control.is_paused() && (!self.voice.is_empty() || self.control.pending())
    }

    /// Voice samples that were due while a phrase was playing but had not arrived.
    pub fn underruns(&self) -> u64 {
        self.underruns
    }

    /// Requests and events lost because their rings were full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

impl WorkerSide {
    /// Marks the start or end of a phrase at the current stream position. Waits while the
    /// mark ring is full, unless `give_up` says to stop; returns false then.
    pub fn mark(&mut self, id: PhraseId, edge: Edge, give_up: &dyn Fn() -> bool) -> bool {
        let mark = Mark {
            id,
            edge,
            at: self.written,
        };
        while self.marks.push(mark).is_err() {
            if give_up() || self.marks.is_abandoned() {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        self.open = match edge {
            Edge::Start => Some(id),
            Edge::End => None,
        };
        true
    }

    /// Ends phrase `id` wherever its synthesis stopped: its end mark, after a start mark if it
    /// has none yet, so the audio thread finishes it and its listeners hear of it. For a
    /// phrase whose synthesis broke off (the speech thread caught a panic).
    pub fn close(&mut self, id: PhraseId, give_up: &dyn Fn() -> bool) {
        if let Some(other) = self.open.filter(|&open| open != id) {
            self.mark(other, Edge::End, give_up);
        }
        if self.open != Some(id) {
            self.mark(id, Edge::Start, give_up);
        }
        self.mark(id, Edge::End, give_up);
    }

    /// Puts phrase `id` in as an empty phrase (its start and end marks at the same sample),
    /// without waiting: false, and nothing pushed, when the mark ring has no room for both.
    pub fn try_mark_empty(&mut self, id: PhraseId) -> bool {
        if self.marks.slots() < 2 {
            return false;
        }
        let at = self.written;
        self.marks
            .push(Mark {
                id,
                edge: Edge::Start,
                at,
            })
            .is_ok()
            && self
                .marks
                .push(Mark {
                    id,
                    edge: Edge::End,
                    at,
                })
                .is_ok()
    }

    /// Pushes samples, waiting while the ring is full (the audio thread plays it down in real
    /// time), unless `give_up` says to stop; returns false then.
    pub fn push(&mut self, samples: &[f32], give_up: &dyn Fn() -> bool) -> bool {
        self.push_or(samples, give_up, &mut || {})
    }

    /// [`WorkerSide::push`], calling `while_full` each time it finds the ring full, before it
    /// sleeps: other work the audio thread may be waiting for gets done meanwhile.
    pub fn push_or(
        &mut self,
        mut samples: &[f32],
        give_up: &dyn Fn() -> bool,
        while_full: &mut dyn FnMut(),
    ) -> bool {
        loop {
            let before = samples.len();
            samples = self.voice.push_partial_slice(samples).1;
            self.written += (before - samples.len()) as u64;
            if samples.is_empty() {
                return true;
            }
            if give_up() || self.voice.is_abandoned() {
                return false;
            }
            while_full();
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
