//! The plugin's speech service: a thread of its own (not nice-plug's shared background
//! executor, which one long task would block for every instance) that loads the voice and
//! synthesises the phrase queue, one phrase at a time, into the activation's rings
//! ([`super::stream`]). The audio thread never waits for it.
//!
//! Channels:
//! - commands, main thread → service, through `std::sync::mpsc` (the main thread may block
//!   briefly; the audio thread never sends here, it has its own request ring);
//! - stop, skip, clear and pause, from any thread, through the atomics of [`Control`];
//! - status, service → everyone, through [`ServiceStatus`] (an atomic state plus a message
//!   under a mutex that only the editor and logging read);
//! - phrase events, audio thread → main thread, drained with [`SpeechService::drain_events`].

use super::bank::placements::Placements;
use super::bank::{self, BankFeeder, BankPlayer, BankShared};
use super::stream::{self, AudioSide, Control, EventReader, PhraseEvent, PhraseId, WorkerSide};
use super::timing_log::{PhraseWords, TimingLog};
use super::voicing::Voicing;
use super::worker::Worker;
use crate::state::SharedSession;
use crate::tts::engine::Metrics;
use crate::tts::phrase_cache::PhraseCache;
use crate::tts::resources::Resources;
use crate::tts::timings::WordTiming;
use crate::tts::voice::config::Delivery;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Where the service is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum State {
    /// Nothing requested yet.
    Idle = 0,
    /// Loading a voice.
    Loading = 1,
    /// A voice is ready.
    Ready = 2,
    /// The last load failed; the message says why and what to do.
    Failed = 3,
}

/// How much rendered speech the process keeps for instant replays (history clicks, repeated
/// phrases), shared by every instance: 64 MiB holds about 12 minutes of a 22.05 kHz voice.
pub const CACHE_BYTES: usize = 64 << 20;

/// The process's phrase cache. One for every instance, like the voices: its keys name the
/// voice files, settings and text, so instances never hear each other's phrases wrongly, a
/// line another instance already spoke replays at once, and sixteen instances hold at most
/// [`CACHE_BYTES`] between them, not sixteen times that.
fn phrase_cache() -> Arc<Mutex<PhraseCache>> {
    static CACHE: std::sync::OnceLock<Arc<Mutex<PhraseCache>>> = std::sync::OnceLock::new();
    CACHE
        .get_or_init(|| Arc::new(Mutex::new(PhraseCache::new(CACHE_BYTES))))
        .clone()
}

/// How many phrase texts the service remembers for the editor's queue and history.
const LOG_LEN: usize = 512;

/// How many bytes of phrase text the log keeps at most, besides the newest phrase (which is
/// always kept, whatever its size: it may be playing). Older texts go first.
const LOG_BYTES: usize = 4 << 20;

/// What the editor shows about the loaded voice.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VoiceInfo {
    /// The model file.
    pub path: PathBuf,
    /// The model's name (its file stem).
    pub name: String,
    /// Speakers by name → id (empty for single-speaker voices).
    pub speakers: Vec<(String, i64)>,
    /// Number of speakers (1 for single-speaker voices).
    pub num_speakers: u32,
    /// The espeak-ng voice its phonemes come from (its language).
    pub espeak_voice: String,
}

/// Status shared with the editor. Written by the service thread only.
#[derive(Debug)]
pub struct ServiceStatus {
    /// A [`State`] as u8 (atomic so the editor can poll it every frame for free).
    pub(super) state: AtomicU8,
    /// What the editor shows next to the state: the voice's name, or the error and the fix.
    pub(super) message: Mutex<String>,
    /// The loaded voice's sample rate, Hz (0: none loaded).
    pub(super) voice_rate: AtomicU32,
    /// The loaded voice (`None`: none loaded).
    pub(super) voice: Mutex<Option<VoiceInfo>>,
}

impl ServiceStatus {
    fn new() -> Self {
        Self {
            state: AtomicU8::new(State::Idle as u8),
            message: Mutex::new(String::new()),
            voice_rate: AtomicU32::new(0),
            voice: Mutex::new(None),
        }
    }

    /// The loaded voice, if any.
    pub fn voice(&self) -> Option<VoiceInfo> {
        self.voice.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The loaded voice's sample rate, if a voice is loaded.
    pub fn voice_rate(&self) -> Option<u32> {
        match self.voice_rate.load(Ordering::Acquire) {
            0 => None,
            rate => Some(rate),
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        match self.state.load(Ordering::Acquire) {
            1 => State::Loading,
            2 => State::Ready,
            3 => State::Failed,
            _ => State::Idle,
        }
    }

    /// The message for the current state.
    pub fn message(&self) -> String {
        self.message
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(super) fn set(&self, state: State, message: String) {
        *self.message.lock().unwrap_or_else(|e| e.into_inner()) = message;
        self.state.store(state as u8, Ordering::Release);
    }
}

pub(super) enum Command {
    /// Load the session's voice.
    LoadVoice,
    /// The plugin was (re)activated: stream speech through these rings and render the phrase
    /// bank for this one from now on.
    Attach(Box<(WorkerSide, BankFeeder)>),
    /// Speak this text as phrase `id` (from the main thread; the audio thread asks through
    /// its ring).
    Speak {
        id: PhraseId,
        text: String,
        voicing: Option<Box<Voicing>>,
    },
    /// Voices to load ahead, when idle.
    Preload(Vec<PathBuf>),
    Shutdown,
}

/// Texts of recent phrases by id, for the editor's queue and history (phrases the Speak
/// parameter starts are only known to the speech thread).
#[derive(Debug, Default)]
pub(super) struct PhraseLog(Mutex<LogEntries>);

/// The log's texts, oldest first, and their total size in bytes.
#[derive(Debug, Default)]
pub(super) struct LogEntries {
    texts: VecDeque<(PhraseId, Arc<str>)>,
    bytes: usize,
}

impl PhraseLog {
    pub(super) fn record(&self, id: PhraseId, text: Arc<str>) {
        let mut log = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if log.texts.iter().any(|(known, _)| *known == id) {
            return;
        }
        while !log.texts.is_empty()
            && (log.texts.len() >= LOG_LEN || log.bytes + text.len() > LOG_BYTES)
        {
            if let Some((_, old)) = log.texts.pop_front() {
                log.bytes -= old.len();
            }
        }
        log.bytes += text.len();
        log.texts.push_back((id, text));
    }

    fn text(&self, id: PhraseId) -> Option<Arc<str>> {
        let log = self.0.lock().unwrap_or_else(|e| e.into_inner());
        log.texts
            .iter()
            .rev()
            .find(|(known, _)| *known == id)
            .map(|(_, text)| text.clone())
    }
}

/// How many phrase events the service keeps for readers that look less often.
const EVENT_LOG_LEN: usize = 1024;

/// Phrase events fanned out to several readers (the editor, the API server), each with its
/// own cursor.
#[derive(Default)]
struct EventHub {
    reader: Option<EventReader>,
    log: VecDeque<(u64, PhraseEvent)>,
    next: u64,
}

impl EventHub {
    fn pump(&mut self) {
        if let Some(reader) = self.reader.as_mut() {
            while let Ok(event) = reader.pop() {
                if self.log.len() == EVENT_LOG_LEN {
                    self.log.pop_front();
                }
                self.log.push_back((self.next, event));
                self.next += 1;
            }
        }
    }
}

/// The service. Owned by the plugin instance (main thread) and shared with its editor;
/// dropping the last owner stops the thread.
pub struct SpeechService {
    /// Status for the editor and tests.
    pub status: Arc<ServiceStatus>,
    /// Synthesis counters of every voice this service loaded.
    pub metrics: Arc<Metrics>,
    /// Rendered phrases, so repeats (history replays) start at once.
    cache: Arc<Mutex<PhraseCache>>,
    /// The text, dictionary, voice and delivery; shared with the editor and the host's state.
    session: Arc<SharedSession>,
    /// Phrase texts by id.
    log: Arc<PhraseLog>,
    /// Stop, skip, clear and pause, from any thread.
    control: Arc<Control>,
    /// The phrase bank's state (the editor shows it).
    bank: Arc<BankShared>,
    /// Phrase events from the current activation's audio thread, kept for every reader.
    events: Mutex<EventHub>,
    /// Why phrases could not be spoken, by id.
    failures: Arc<PhraseLog>,
    /// Word timings of the last phrases spoken, by id.
    timings: Arc<TimingLog>,
    /// The current activation's sample rate (f32 bits; 0: none yet).
    output_rate: AtomicU32,
    commands: Sender<Command>,
    /// Tells a thread busy speaking to stop at once (on shutdown).
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SpeechService {
    /// Starts the service thread, which speaks `session`'s text when asked. Loads nothing
    /// until asked. Resources come from `resources`, or are looked for where the plugin is
    /// installed.
    pub fn start(
        session: Arc<SharedSession>,
        resources: Option<Resources>,
    ) -> std::io::Result<Self> {
        Self::start_with(session, Arc::default(), resources)
    }

    /// [`Self::start`], recording the timeline's placements into `placements` (the plugin's,
    /// saved with the project).
    pub fn start_with(
        session: Arc<SharedSession>,
        placements: Arc<Placements>,
        resources: Option<Resources>,
    ) -> std::io::Result<Self> {
        let status = Arc::new(ServiceStatus::new());
        let stop = Arc::new(AtomicBool::new(false));
        let control = Arc::new(Control::default());
        let metrics = Arc::new(Metrics::default());
        let cache = phrase_cache();
        let log = Arc::new(PhraseLog::default());
        let timings = Arc::new(TimingLog::default());
        let bank = Arc::new(BankShared::new(placements));
        let memory = std::env::var(bank::MEMORY_VAR).ok();
        match bank::bound_from(memory.as_deref()) {
            Ok(bytes) => bank.set_bound(bytes),
            Err(err) => tracing::warn!("Orator: {err}"),
        }
        let failures = Arc::new(PhraseLog::default());
        let (commands, inbox) = channel();
        let worker = Worker {
            status: status.clone(),
            stop: stop.clone(),
            control: control.clone(),
            session: session.clone(),
            metrics: metrics.clone(),
            cache: cache.clone(),
            log: log.clone(),
            failures: failures.clone(),
            engine: None,
            loaded: None,
            stream: None,
            bank: None,
            resampler: None,
            queue: VecDeque::new(),
            resources,
            decode_rtf: None,
            untrimmed: false,
            timings: timings.clone(),
            voices: Default::default(),
            preload: Vec::new(),
        };
        let thread = std::thread::Builder::new()
            .name("orator-speech".into())
            .spawn(move || worker.run(&inbox))?;
        Ok(Self {
            status,
            metrics,
            cache,
            session,
            log,
            control,
            bank,
            events: Mutex::new(EventHub::default()),
            failures,
            timings,
            output_rate: AtomicU32::new(0),
            commands,
            stop,
            thread: Some(thread),
        })
    }

    /// Stop, skip, clear and pause (wait-free, from any thread).
    pub fn control(&self) -> &Arc<Control> {
        &self.control
    }

    /// Makes the rings of a new activation (the speech stream and the phrase bank), hands the
    /// speech thread its halves and returns the audio thread's. Allocates: call from
    /// `activate`.
    pub fn attach(&self, sample_rate: f32, max_block: usize) -> (AudioSide, BankPlayer) {
        let (audio, worker, events) = stream::channel(self.control.clone(), sample_rate, max_block);
        let (player, feeder) = bank::channel(
            self.bank.clone(),
            self.session.clone(),
            sample_rate,
            max_block,
        );
        {
            let mut hub = self.events.lock().unwrap_or_else(|e| e.into_inner());
            hub.pump();
            hub.reader = Some(events);
        }
        self.output_rate
            .store(sample_rate.to_bits(), Ordering::Release);
        let _ = self
            .commands
            .send(Command::Attach(Box::new((worker, feeder))));
        (audio, player)
    }

    /// The phrase bank: each phrase's state, and notes that found no phrase.
    pub fn bank(&self) -> &BankShared {
        &self.bank
    }

    /// Makes `model` the session's voice (`None`: the bundled default) and loads it. Returns
    /// at once; [`Self::status`] follows the load.
    pub fn load_voice(&self, model: Option<PathBuf>) {
        self.session.update(|session| session.voice = model);
        self.reload_voice();
    }

    /// Loads the session's voice again (after a state load, or to retry a failed load).
    pub fn reload_voice(&self) {
        // A send only fails if the thread has ended, which `Drop` alone causes.
        let _ = self.commands.send(Command::LoadVoice);
    }

    /// Queues `text` to be spoken after whatever is queued already. Returns its phrase id.
    pub fn speak(&self, text: impl Into<String>) -> PhraseId {
        self.speak_as(text, None)
    }

    /// Queues `text` like [`Self::speak`], voiced by `voicing` (`None`: the instance's voice and
    /// delivery).
    pub fn speak_as(&self, text: impl Into<String>, voicing: Option<Voicing>) -> PhraseId {
        let id = self.control.new_id();
        self.control.count_request();
        let text: String = text.into();
        self.log.record(id, Arc::from(text.as_str()));
        let voicing = voicing.map(Box::new);
        if self
            .commands
            .send(Command::Speak { id, text, voicing })
            .is_err()
        {
            self.control.uncount_request();
        }
        id
    }

    /// Has the speech thread load `models` when it is idle (replacing the last list), so the
    /// first phrase voiced by one does not wait for its load.
    pub fn preload_voices(&self, models: Vec<PathBuf>) {
        let _ = self.commands.send(Command::Preload(models));
    }

    /// Sets how phrases starting from now are delivered (saved in the session).
    pub fn set_delivery(&self, delivery: Delivery) {
        self.session.update(|session| session.delivery = delivery);
    }

    /// The text of a recent phrase, whoever asked for it.
    pub fn phrase_text(&self, id: PhraseId) -> Option<Arc<str>> {
        self.log.text(id)
    }

    /// Share of lookups the process's phrase cache answered, if there were any.
    pub fn cache_hit_rate(&self) -> Option<f64> {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .hit_rate()
    }

    /// A cursor for [`Self::events_since`]: events from now on.
    pub fn event_cursor(&self) -> u64 {
        let mut hub = self.events.lock().unwrap_or_else(|e| e.into_inner());
        hub.pump();
        hub.next
    }

    /// Hands every phrase event heard since `cursor` to `each`, oldest first, and moves the
    /// cursor past them. A reader that falls more than [`EVENT_LOG_LEN`] events behind misses
    /// the oldest.
    pub fn events_since(&self, cursor: &mut u64, each: &mut dyn FnMut(PhraseEvent)) {
        let mut hub = self.events.lock().unwrap_or_else(|e| e.into_inner());
        hub.pump();
        for (seq, event) in &hub.log {
            if *seq >= *cursor {
                each(*event);
            }
        }
        *cursor = hub.next;
    }

    /// Why phrase `id` could not be spoken, if it could not.
    pub fn failure(&self, id: PhraseId) -> Option<Arc<str>> {
        self.failures.text(id)
    }

    /// Phrase `id`'s word timings so far (spans from its first sample at the host's rate),
    /// if it is among the last phrases spoken live.
    pub fn word_timings(&self, id: PhraseId) -> Option<PhraseWords> {
        self.timings.words(id)
    }

    /// The word of phrase `id` the listener hears now (the last one that has started, so a
    /// word stays lit through the pause after it), in step with the audio thread's output and
    /// held while paused. `None` unless `id` is being heard and its voice gives timings.
    pub fn heard_word(&self, id: PhraseId) -> Option<WordTiming> {
        let (playing, position) = self.control.heard()?;
        if playing != id {
            return None;
        }
        let words = self.timings.words(id)?;
        words
            .words
            .into_iter()
            .rev()
            .find(|w| w.span.start <= position)
    }

    /// The current activation's sample rate, Hz (`None` before the first).
    pub fn output_rate(&self) -> Option<f32> {
        match self.output_rate.load(Ordering::Acquire) {
            0 => None,
            bits => Some(f32::from_bits(bits)),
        }
    }
}

impl Drop for SpeechService {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.commands.send(Command::Shutdown);
        if let Some(thread) = self.thread.take() {
            // Joined, not detached: the thread runs code from this library, which the host may
            // unload right after destroying the instance.
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_and_the_thread_stops_on_drop() {
        let service = SpeechService::start(Arc::default(), None).unwrap();
        assert_eq!(service.status.state(), State::Idle);
        service.status.set(State::Failed, "why".into());
        assert_eq!(
            (service.status.state(), service.status.message()),
            (State::Failed, "why".into())
        );
        drop(service); // joins; a hang here fails the test by timeout
    }

    #[test]
    fn the_phrase_log_is_bounded_in_bytes_and_keeps_the_newest() {
        let log = PhraseLog::default();
        let big: Arc<str> = Arc::from("x".repeat(1 << 20).as_str());
        for id in 1..=100 {
            log.record(id, big.clone());
        }
        let entries = log.0.lock().unwrap();
        assert!(entries.bytes <= LOG_BYTES, "{} bytes kept", entries.bytes);
        assert_eq!(
            entries.bytes,
            entries.texts.iter().map(|(_, t)| t.len()).sum::<usize>()
        );
        drop(entries);
        assert!(log.text(100).is_some() && log.text(1).is_none());
        // A text larger than the whole budget is still kept while it is the newest.
        let huge: Arc<str> = Arc::from("y".repeat(LOG_BYTES * 2).as_str());
        log.record(101, huge);
        assert!(log.text(101).is_some() && log.text(100).is_none());
        log.record(102, Arc::from("short"));
        assert!(log.text(101).is_none() && log.text(102).is_some());
    }
}
