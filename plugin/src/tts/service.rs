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

use super::cache::PhraseCache;
use super::engine::{Engine, Metrics};
use super::gate::StartGate;
use super::lexicon::Lexicon;
use super::onnx::Voice;
use super::resample::StreamResampler;
use super::resources::Resources;
use super::stream::{
    self, AudioSide, Control, Edge, EventReader, PhraseEvent, PhraseId, Request, WorkerSide,
};
use super::voice::SynthesisSettings;
use crate::state::SharedSession;
use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the speech thread looks for requests from the audio thread when idle. Requests
/// travel through a wait-free ring the audio thread cannot wake anyone with, so the thread
/// polls; 2 ms is far below what anyone hears and costs nothing measurable.
const POLL: Duration = Duration::from_millis(2);

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

/// How much rendered speech the service keeps for instant replays (history clicks, repeated
/// phrases): 64 MiB holds about 12 minutes of a 22.05 kHz voice.
pub const CACHE_BYTES: usize = 64 << 20;

/// How many phrase texts the service remembers for the editor's queue and history.
const LOG_LEN: usize = 512;

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
}

/// Status shared with the editor. Written by the service thread only.
#[derive(Debug)]
pub struct ServiceStatus {
    /// A [`State`] as u8 (atomic so the editor can poll it every frame for free).
    state: AtomicU8,
    /// What the editor shows next to the state: the voice's name, or the error and the fix.
    message: Mutex<String>,
    /// The loaded voice's sample rate, Hz (0: none loaded).
    voice_rate: AtomicU32,
    /// The loaded voice (`None`: none loaded).
    voice: Mutex<Option<VoiceInfo>>,
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

    fn set(&self, state: State, message: String) {
        *self.message.lock().unwrap_or_else(|e| e.into_inner()) = message;
        self.state.store(state as u8, Ordering::Release);
    }
}

enum Command {
    /// Load the session's voice.
    LoadVoice,
    /// The plugin was (re)activated: stream speech through these rings from now on.
    Attach(WorkerSide),
    /// Speak this text as phrase `id` (from the main thread; the audio thread asks through
    /// its ring).
    Speak {
        id: PhraseId,
        text: String,
    },
    Shutdown,
}

/// How the voice delivers the text: pace, variation, phrasing and speaker. Saved in the
/// session; read by the speech thread when each phrase starts.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Delivery {
    /// Speaking rate: 1 is the voice's own pace, 2 twice as fast (0.25 to 4).
    pub rate: f32,
    /// Variation of timbre and timing: 1 is the voice's own, 0 none (up to 2).
    pub variation: f32,
    /// Speak every sentence in one piece, exactly as Piper does, instead of cutting long ones
    /// at clause ends (and at word boundaries where a sentence with none would keep the listener
    /// waiting) so speech starts sooner.
    pub whole_sentences: bool,
    /// Speaker id of a multi-speaker voice (`None`: the voice's default; ignored by
    /// single-speaker voices and out-of-range ids).
    pub speaker: Option<i64>,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            rate: 1.0,
            variation: 1.0,
            whole_sentences: false,
            speaker: None,
        }
    }
}

impl Delivery {
    /// The voice's default settings adjusted by this delivery (out-of-range values clamped)
    /// for a voice with `num_speakers` speakers.
    pub fn apply(&self, defaults: SynthesisSettings, num_speakers: u32) -> SynthesisSettings {
        let rate = if self.rate.is_finite() {
            self.rate.clamp(0.25, 4.0)
        } else {
            1.0
        };
        let variation = if self.variation.is_finite() {
            self.variation.clamp(0.0, 2.0)
        } else {
            1.0
        };
        // A single-speaker voice has no speaker input: its default stays `None`.
        let speaker = match (defaults.speaker, self.speaker) {
            (Some(_), Some(id)) if id >= 0 && id < i64::from(num_speakers) => Some(id),
            (default, _) => default,
        };
        SynthesisSettings {
            length_scale: defaults.length_scale / rate,
            noise_scale: defaults.noise_scale * variation,
            noise_w: defaults.noise_w * variation,
            speaker,
            ..defaults
        }
    }
}

/// Texts of recent phrases by id, for the editor's queue and history (phrases the Speak
/// parameter starts are only known to the speech thread).
#[derive(Debug, Default)]
struct PhraseLog(Mutex<VecDeque<(PhraseId, Arc<str>)>>);

impl PhraseLog {
    fn record(&self, id: PhraseId, text: Arc<str>) {
        let mut log = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if log.iter().any(|(known, _)| *known == id) {
            return;
        }
        if log.len() == LOG_LEN {
            log.pop_front();
        }
        log.push_back((id, text));
    }

    fn text(&self, id: PhraseId) -> Option<Arc<str>> {
        let log = self.0.lock().unwrap_or_else(|e| e.into_inner());
        log.iter()
            .rev()
            .find(|(known, _)| *known == id)
            .map(|(_, text)| text.clone())
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
    /// Phrase events from the current activation's audio thread.
    events: Mutex<Option<EventReader>>,
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
        let status = Arc::new(ServiceStatus::new());
        let stop = Arc::new(AtomicBool::new(false));
        let control = Arc::new(Control::default());
        let metrics = Arc::new(Metrics::default());
        let cache = Arc::new(Mutex::new(PhraseCache::new(CACHE_BYTES)));
        let log = Arc::new(PhraseLog::default());
        let (commands, inbox) = channel();
        let worker = Worker {
            status: status.clone(),
            stop: stop.clone(),
            control: control.clone(),
            session: session.clone(),
            metrics: metrics.clone(),
            cache: cache.clone(),
            log: log.clone(),
            engine: None,
            loaded: None,
            stream: None,
            resampler: None,
            queue: VecDeque::new(),
            resources,
            decode_rtf: None,
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
            events: Mutex::new(None),
            commands,
            stop,
            thread: Some(thread),
        })
    }

    /// Stop, skip, clear and pause (wait-free, from any thread).
    pub fn control(&self) -> &Arc<Control> {
        &self.control
    }

    /// Makes the rings of a new activation, hands the speech thread its half and returns the
    /// audio thread's. Allocates: call from `activate`.
    pub fn attach(&self, sample_rate: f32, max_block: usize) -> AudioSide {
        let (audio, worker, events) = stream::channel(self.control.clone(), sample_rate, max_block);
        *self.events.lock().unwrap_or_else(|e| e.into_inner()) = Some(events);
        let _ = self.commands.send(Command::Attach(worker));
        audio
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
        let id = self.control.new_id();
        self.control.count_request();
        let text: String = text.into();
        self.log.record(id, Arc::from(text.as_str()));
        if self.commands.send(Command::Speak { id, text }).is_err() {
            self.control.uncount_request();
        }
        id
    }

    /// Sets how phrases starting from now are delivered (saved in the session).
    pub fn set_delivery(&self, delivery: Delivery) {
        self.session.update(|session| session.delivery = delivery);
    }

    /// The text of a recent phrase, whoever asked for it.
    pub fn phrase_text(&self, id: PhraseId) -> Option<Arc<str>> {
        self.log.text(id)
    }

    /// Share of lookups the phrase cache answered, if there were any.
    pub fn cache_hit_rate(&self) -> Option<f64> {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .hit_rate()
    }

    /// Hands every phrase event heard since the last call to `each`, oldest first.
    pub fn drain_events(&self, each: &mut dyn FnMut(PhraseEvent)) {
        let mut reader = self.events.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(reader) = reader.as_mut() {
            while let Ok(event) = reader.pop() {
                each(event);
            }
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

/// A phrase waiting to be synthesised.
struct Phrase {
    id: PhraseId,
    /// `None`: the session's text as it is when the phrase starts.
    text: Option<String>,
}

/// The speech thread's state.
struct Worker {
    status: Arc<ServiceStatus>,
    stop: Arc<AtomicBool>,
    control: Arc<Control>,
    /// The text, dictionary, voice and delivery, shared with the editor and the host's state.
    session: Arc<SharedSession>,
    /// Counters every engine this worker builds adds to.
    metrics: Arc<Metrics>,
    /// Rendered phrases.
    cache: Arc<Mutex<PhraseCache>>,
    /// Phrase texts by id.
    log: Arc<PhraseLog>,
    /// The loaded voice and its engine.
    engine: Option<Engine>,
    /// The voice last asked for (loaded or failed; `Some(None)`: the bundled default).
    loaded: Option<Option<PathBuf>>,
    /// The current activation's rings.
    stream: Option<WorkerSide>,
    /// Voice rate → host rate, rebuilt when either changes (a new voice, a new activation).
    resampler: Option<StreamResampler>,
    /// Phrases asked for and not yet started, oldest first.
    queue: VecDeque<Phrase>,
    /// Where voices and the runtime are (`None`: look where the plugin is installed).
    resources: Option<Resources>,
    /// The decoding speed measured on the last phrase (synthesis seconds per audio second),
    /// for the next phrase's start-up buffer.
    decode_rtf: Option<f64>,
}

impl Worker {
    fn run(mut self, inbox: &Receiver<Command>) {
        loop {
            // Idle: sleep until a command or the next look at the request ring. Busy: only
            // take what is there.
            let command = if self.queue.is_empty() {
                match inbox.recv_timeout(POLL) {
                    Ok(command) => Some(command),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match inbox.try_recv() {
                    Ok(command) => Some(command),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => break,
                }
            };
            match command {
                Some(Command::Shutdown) => break,
                Some(Command::LoadVoice) => {
                    let model = self.session.read(|session| session.voice.clone());
                    self.load_voice(model);
                }
                Some(Command::Attach(stream)) => {
                    // Requests the previous activation sent and nobody took are still wanted.
                    self.take_requests();
                    self.stream = Some(stream);
                    self.resampler = None;
                }
                Some(Command::Speak { id, text }) => self.queue.push_back(Phrase {
                    id,
                    text: Some(text),
                }),
                None => {}
            }
            self.take_requests();
            // Cancelled before they started: done with them.
            let control = &self.control;
            self.queue.retain(|phrase| {
                let keep = !control.is_cancelled(phrase.id);
                if !keep {
                    control.count_done();
                }
                keep
            });
            if let Some(phrase) = self.queue.pop_front() {
                // A state load may have changed the voice since it was loaded.
                let wanted = self.session.read(|session| session.voice.clone());
                if self.loaded.as_ref() != Some(&wanted) {
                    self.load_voice(wanted);
                }
                self.speak(&phrase);
                self.control.set_producing(0);
                self.control.count_done();
            }
        }
    }

    /// Moves the audio thread's requests into the queue.
    fn take_requests(&mut self) {
        if let Some(stream) = &mut self.stream {
            while let Ok(Request::SpeakSession { id }) = stream.requests.pop() {
                self.queue.push_back(Phrase { id, text: None });
            }
        }
    }

    fn load_voice(&mut self, model: Option<PathBuf>) {
        self.status.set(State::Loading, "Loading the voice…".into());
        self.loaded = Some(model.clone());
        match load(model, self.resources.as_ref()) {
            Ok(engine) => {
                let engine = engine
                    .with_metrics(self.metrics.clone())
                    .with_cache(self.cache.clone());
                let voice = &engine.voice;
                let name = voice
                    .path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                tracing::info!("Orator voice ready: {}", voice.path.display());
                let mut speakers: Vec<(String, i64)> = voice
                    .config
                    .speakers
                    .iter()
                    .map(|(name, &id)| (name.clone(), id))
                    .collect();
                speakers.sort_by_key(|&(_, id)| id);
                *self.status.voice.lock().unwrap_or_else(|e| e.into_inner()) = Some(VoiceInfo {
                    path: voice.path.clone(),
                    name: name.clone(),
                    speakers,
                    num_speakers: voice.config.num_speakers,
                });
                self.status
                    .voice_rate
                    .store(voice.config.sample_rate, Ordering::Release);
                self.status.set(State::Ready, name);
                self.engine = Some(engine);
                self.decode_rtf = None;
            }
            Err(message) => {
                tracing::error!("Orator cannot speak: {message}");
                self.status.voice_rate.store(0, Ordering::Release);
                *self.status.voice.lock().unwrap_or_else(|e| e.into_inner()) = None;
                self.status.set(State::Failed, message);
                self.engine = None;
            }
        }
        self.resampler = None;
    }

    /// Speaks one phrase into the voice ring, resampled to the host's rate, between its start
    /// and end marks.
    fn speak(&mut self, phrase: &Phrase) {
        let Self {
            engine,
            stream,
            resampler,
            control,
            stop,
            session,
            status,
            log,
            decode_rtf,
            ..
        } = self;
        let (Some(engine), Some(stream)) = (engine.as_ref(), stream.as_mut()) else {
            tracing::warn!(
                "Orator was asked to speak but has no voice: {}",
                status.message()
            );
            return;
        };
        let id = phrase.id;
        control.set_producing(id);
        let host_rate = stream.sample_rate.round().max(1.0) as u32;
        let voice_rate = engine.voice.config.sample_rate;
        if resampler
            .as_ref()
            .is_none_or(|r| r.input_rate() != voice_rate || r.output_rate() != host_rate)
        {
            match StreamResampler::new(voice_rate, host_rate) {
                Ok(r) => *resampler = Some(r),
                Err(err) => {
                    tracing::error!("Orator: {err}");
                    return;
                }
            }
        }
        let Some(resampler) = resampler.as_mut() else {
            return;
        };
        let snapshot = session.snapshot();
        let text = phrase.text.as_deref().unwrap_or(&snapshot.text);
        if phrase.text.is_none() {
            log.record(id, Arc::from(text));
        }
        let delivery = snapshot.delivery;
        let mut engine = match Lexicon::new(&snapshot.dictionary) {
            Ok(lexicon) => engine.clone().with_lexicon(Arc::new(lexicon)),
            Err(_) => engine.clone(),
        };
        if delivery.whole_sentences {
            engine = engine.whole_sentences();
        }
        let shutdown = || stop.load(Ordering::Acquire);
        let give_up = || shutdown() || control.is_cancelled(id);
        let mut outlet = Outlet {
            stream,
            id,
            held: Vec::new(),
            started: false,
        };
        let mut gate = StartGate::new(voice_rate, engine.voice.window_context_cost(), *decode_rtf);
        let settings = delivery.apply(
            engine.voice.config.defaults,
            engine.voice.config.num_speakers,
        );
        let mut failed = None;
        let result = engine.speak(text, &settings, &mut |chunk| {
            if give_up() {
                return ControlFlow::Break(());
            }
            let seconds = chunk.samples.len() as f64 / f64::from(chunk.sample_rate.max(1));
            let open = gate.window(seconds, chunk.window, chunk.real_time_factor);
            resampler
                .push(&chunk.samples, &mut |out| outlet.emit(out, open, &give_up))
                .unwrap_or_else(|err| {
                    failed = Some(err);
                    ControlFlow::Break(())
                })
        });
        if !give_up()
            && failed.is_none()
            && let Err(err) = resampler.finish(&mut |out| outlet.emit(out, true, &give_up))
        {
            failed = Some(err);
        }
        if gate.held() > 0.0 && !gate.is_open() {
            tracing::debug!(
                "Orator: phrase {id} held whole ({:.2} s) before playing",
                gate.held()
            );
        }
        // Whatever is still held (a phrase shorter than the start-up buffer) goes now; a
        // phrase with nothing said (or cancelled first) still starts and ends, so its events
        // arrive.
        let _ = outlet.release(&give_up);
        // Replays from the phrase cache arrive at once and say nothing about decoding speed.
        if let Some(rtf) = gate.measured_rtf().filter(|&r| r > 0.01) {
            *decode_rtf = Some(rtf);
        }
        let Outlet {
            stream, started, ..
        } = outlet;
        if !started {
            stream.mark(id, Edge::Start, &shutdown);
        }
        resampler.restart();
        // The end mark goes in even for a cancelled phrase: the audio thread discards up to it.
        stream.mark(id, Edge::End, &shutdown);
        if let Some(err) = failed {
            tracing::error!("Orator: {err}");
        }
        if let Err(err) = result {
            tracing::error!("Orator could not speak: {err}");
        }
    }
}

/// Where a phrase's resampled audio goes: held back until its [`StartGate`] opens, then into
/// the voice ring behind the phrase's start mark. The start mark goes in with the first
/// samples, so the audio thread does not count the wait for them as an underrun.
struct Outlet<'a> {
    stream: &'a mut WorkerSide,
    id: PhraseId,
    held: Vec<f32>,
    started: bool,
}

impl Outlet<'_> {
    /// Takes `out`: into the ring if `open`, else held back.
    fn emit(&mut self, out: &[f32], open: bool, give_up: &dyn Fn() -> bool) -> ControlFlow<()> {
        if !open {
            self.held.extend_from_slice(out);
            return ControlFlow::Continue(());
        }
        if out.is_empty() {
            return ControlFlow::Continue(());
        }
        if self.release(give_up).is_break() || !self.start(give_up) {
            return ControlFlow::Break(());
        }
        if self.stream.push(out, give_up) {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    }

    /// Sends what was held back (starting the phrase first).
    fn release(&mut self, give_up: &dyn Fn() -> bool) -> ControlFlow<()> {
        if self.held.is_empty() {
            return ControlFlow::Continue(());
        }
        let sent = self.start(give_up) && self.stream.push(&self.held, give_up);
        self.held.clear();
        if sent {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    }

    /// Puts the start mark in, once. False when the phrase was given up.
    fn start(&mut self, give_up: &dyn Fn() -> bool) -> bool {
        if !self.started {
            if !self.stream.mark(self.id, Edge::Start, give_up) {
                return false;
            }
            self.started = true;
        }
        true
    }
}

fn load(model: Option<PathBuf>, resources: Option<&Resources>) -> Result<Engine, String> {
    let resources = match resources {
        Some(resources) => resources.clone(),
        None => Resources::locate().map_err(|e| e.to_string())?,
    };
    let model = model.unwrap_or_else(|| resources.default_voice());
    let voice = Voice::load(&model, &resources.onnxruntime()).map_err(|e| e.to_string())?;
    Ok(Engine::new(voice, resources.espeak_data()))
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
}
