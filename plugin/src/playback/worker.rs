//! The speech thread: loads the session's voice, synthesises the phrase queue one phrase at a
//! time and streams each phrase, resampled to the host's rate, into the current activation's
//! rings. Started and stopped by [`super::service::SpeechService`]; the audio thread never waits
//! for it.

use super::bank::{self, BankFeeder};
use super::clip_render::{ClipError, hand_over, render_clip};
use super::fault_injection;
use super::resample::StreamResampler;
use super::service::{Command, PhraseLog, ServiceStatus, State, VoiceInfo};
use super::start_gate::StartGate;
use super::stream::{Control, Edge, PhraseId, Request, WorkerSide};
use super::timing_log::TimingLog;
use super::voice_set::{self, VoiceSet};
use super::voicing::{Voicing, configured};
use crate::state::SharedSession;
use crate::tts::engine::{Engine, Metrics};
use crate::tts::phrase_cache::PhraseCache;
use crate::tts::resources::{NotFound, Resources};
use crate::tts::timings::written_words;
use crate::tts::voice::Voice;
use crate::tts::voice::config::VoiceError;
use crate::tts::voice::runtime::release_freed_memory;
use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the speech thread looks for requests from the audio thread when idle. Requests
/// travel through a wait-free ring the audio thread cannot wake anyone with, so the thread
/// polls; 2 ms is far below what anyone hears and costs nothing measurable.
const POLL: Duration = Duration::from_millis(2);

/// A phrase waiting to be synthesised.
pub(super) struct Phrase {
    id: PhraseId,
    /// `None`: the session's text as it is when the phrase starts.
    text: Option<String>,
    /// `None`: the instance's voice and delivery.
    voicing: Option<Box<Voicing>>,
}

/// The speech thread's state.
pub(super) struct Worker {
    pub(super) status: Arc<ServiceStatus>,
    pub(super) stop: Arc<AtomicBool>,
    pub(super) control: Arc<Control>,
    /// The text, dictionary, voice and delivery, shared with the editor and the host's state.
    pub(super) session: Arc<SharedSession>,
    /// Counters every engine this worker builds adds to.
    pub(super) metrics: Arc<Metrics>,
    /// Rendered phrases.
    pub(super) cache: Arc<Mutex<PhraseCache>>,
    /// Phrase texts by id.
    pub(super) log: Arc<PhraseLog>,
    /// Why phrases could not be spoken, by id.
    pub(super) failures: Arc<PhraseLog>,
    /// The loaded voice and its engine.
    pub(super) engine: Option<Engine>,
    /// The voice last asked for (loaded or failed; `Some(None)`: the bundled default).
    pub(super) loaded: Option<Option<PathBuf>>,
    /// The current activation's rings.
    pub(super) stream: Option<WorkerSide>,
    /// The current activation's phrase bank.
    pub(super) bank: Option<BankFeeder>,
    /// Voice rate → host rate, rebuilt when either changes (a new voice, a new activation).
    pub(super) resampler: Option<StreamResampler>,
    /// Phrases asked for and not yet started, oldest first.
    pub(super) queue: VecDeque<Phrase>,
    /// Where voices and the runtime are (`None`: look where the plugin is installed).
    pub(super) resources: Option<Resources>,
    /// The decoding speed measured on the last phrase (synthesis seconds per audio second),
    /// for the next phrase's start-up buffer.
    pub(super) decode_rtf: Option<f64>,
    /// Whether work since the thread was last idle freed memory the allocator may keep.
    pub(super) untrimmed: bool,
    /// Word timings of the phrases spoken live.
    pub(super) timings: Arc<TimingLog>,
    /// The other voices phrases asked for (voice aliases).
    pub(super) voices: VoiceSet<LoadError>,
    /// Voices to load when idle, so a phrase asking for one does not wait for it.
    pub(super) preload: Vec<PathBuf>,
}

impl Worker {
    pub(super) fn run(mut self, inbox: &Receiver<Command>) {
        loop {
            // Idle: sleep until a command or the next look at the request ring. Busy: only
            // take what is there.
            let command = if self.queue.is_empty() {
                match inbox.recv_timeout(POLL) {
                    Ok(command) => Some(command),
                    Err(RecvTimeoutError::Timeout) => {
                        // Idle for a poll: what the last phrases freed goes back to the
                        // system, so each speaking instance does not keep its peak.
                        if std::mem::take(&mut self.untrimmed) {
                            release_freed_memory();
                        }
                        None
                    }
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
                    self.guarded(None, |worker| worker.load_voice(model));
                }
                Some(Command::Attach(halves)) => {
                    let (stream, bank) = *halves;
                    // Requests the previous activation sent and nobody took are still wanted.
                    self.take_requests();
                    self.stream = Some(stream);
                    self.bank = Some(bank);
                    self.resampler = None;
                }
                Some(Command::Speak { id, text, voicing }) => self.queue.push_back(Phrase {
                    id,
                    text: Some(text),
                    voicing,
                }),
                Some(Command::Preload(models)) => self.preload = models,
                None => {}
            }
            self.take_requests();
            self.drop_cancelled();
            if let Some(bank) = &self.bank {
                // The timeline's placements, taken in before the ring can fill.
                bank.drain_placements();
            }
            if let Some(phrase) = self.queue.pop_front() {
                // A state load may have changed the voice since it was loaded.
                let wanted = self.session.read(|session| session.voice.clone());
                if self.loaded.as_ref() != Some(&wanted) {
                    self.guarded(None, |worker| worker.load_voice(wanted));
                }
                self.guarded(Some(phrase.id), |worker| worker.speak(&phrase));
                self.untrimmed = true;
                self.control.set_producing(0);
                self.control.count_done();
            } else {
                // Nothing to say live: render the next phrase of the bank ahead, then load a
                // voice phrases may ask for.
                self.feed_bank();
                self.preload_voice();
            }
        }
    }

    /// Runs `work`, and if it panics, keeps the thread alive and the plugin honest: the
    /// voice is dropped (the next phrase loads it again), the status says what happened, and
    /// `phrase`, if it was being spoken, fails with that reason and is ended in the stream so
    /// the host stops being kept awake for it and an offline render stops waiting.
    fn guarded(&mut self, phrase: Option<PhraseId>, work: impl FnOnce(&mut Self)) {
        let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(self)))
        else {
            return;
        };
        let why = self.recover(panic.as_ref());
        if let Some(id) = phrase {
            self.failures.record(id, Arc::from(why.as_str()));
            let stop = &self.stop;
            if let Some(stream) = self.stream.as_mut() {
                stream.close(id, &|| stop.load(Ordering::Acquire));
            }
        }
    }

    /// After a panic: drops the voice (the next phrase loads it again) and says so in the
    /// status; returns the reason.
    fn recover(&mut self, panic: &(dyn std::any::Any + Send)) -> String {
        let why = format!(
            "the speech thread failed ({}); the voice loads again with the next phrase",
            panic_message(panic)
        );
        tracing::error!("Orator: {why}");
        self.engine = None;
        self.loaded = None;
        self.resampler = None;
        self.voices.clear();
        *self.status.voice.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.status.voice_rate.store(0, Ordering::Release);
        self.status.set(State::Failed, why.clone());
        why
    }

    /// Drops the queued phrases that were stopped or cleared before they started. Each still
    /// goes through the stream as an empty phrase, so the audio thread reports it cancelled in
    /// order with the rest, and its listeners (the editor's queue, an API client waiting for
    /// it) learn that it is gone.
    fn drop_cancelled(&mut self) {
        if !self.queue.iter().any(|p| self.control.is_cancelled(p.id)) {
            return;
        }
        let control = &self.control;
        let (cancelled, kept): (VecDeque<Phrase>, VecDeque<Phrase>) = self
            .queue
            .drain(..)
            .partition(|phrase| control.is_cancelled(phrase.id));
        self.queue = kept;
        for phrase in cancelled {
            // Never waits: with the mark ring full (an instance the host no longer calls), the
            // phrase is dropped without its event.
            if let Some(stream) = self.stream.as_mut() {
                stream.try_mark_empty(phrase.id);
            }
            self.control.count_done();
        }
    }

    /// Brings the phrase bank in line with the session and renders its next phrase, if any.
    fn feed_bank(&mut self) {
        let Some(bank) = self.bank.as_mut() else {
            return;
        };
        bank.sync(&self.session);
        let Some(job) = bank.next_job() else {
            return;
        };
        let wanted = self.session.read(|session| session.voice.clone());
        if self.loaded.as_ref() != Some(&wanted) {
            self.guarded(None, |worker| worker.load_voice(wanted));
        }
        // A panic fails this phrase of the bank (it is not tried again until it changes).
        let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let (Some(engine), Some(bank)) = (self.engine.as_ref(), self.bank.as_ref()) else {
                return Err(ClipError::NoVoice(self.status.message()));
            };
            let stream = self.stream.as_ref();
            // Live speech goes first, unless a render is waiting for this phrase.
            let live_asks = || stream.is_some_and(|s| !s.requests.is_empty());
            render_clip(engine, bank, &self.session, &self.stop, &live_asks, &job)
        }))
        .unwrap_or_else(|panic| Err(ClipError::Panicked(self.recover(panic.as_ref()))));
        if let Some(bank) = self.bank.as_mut() {
            self.untrimmed |= hand_over(bank, &job, rendered);
        }
    }

    /// Loads the next voice of [`Self::preload`] not tried yet, if any (one per call, so
    /// requests are looked at between loads).
    fn preload_voice(&mut self) {
        let main = self.engine.as_ref().map(|e| e.voice.path.clone());
        let Some(model) = self
            .preload
            .iter()
            .take(voice_set::MAX_VOICES)
            .find(|m| Some(*m) != main.as_ref() && !self.voices.has(m))
            .cloned()
        else {
            return;
        };
        let (resources, metrics, cache) = (&self.resources, &self.metrics, &self.cache);
        let mut load_it = |m: &Path| {
            load(Some(m.to_path_buf()), resources.as_ref())
                .map(|e| voice_set::wired(e, metrics, cache))
        };
        let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.voices.get(&model, &mut load_it).map(|_| ())
        }));
        match loaded {
            Ok(Ok(())) => tracing::info!("Orator alias voice ready: {}", model.display()),
            Ok(Err(why)) => tracing::warn!("Orator: an alias's voice cannot load: {why}"),
            Err(panic) => {
                // Not tried again until the voices wanted change.
                self.preload.clear();
                self.recover(panic.as_ref());
            }
        }
        self.untrimmed = true;
    }

    /// Moves the audio thread's requests into the queue.
    fn take_requests(&mut self) {
        if let Some(stream) = &mut self.stream {
            while let Ok(request) = stream.requests.pop() {
                let phrase = match request {
                    Request::SpeakSession { id } => Phrase {
                        id,
                        text: None,
                        voicing: None,
                    },
                    Request::SpeakLine { id, line } => {
                        // Only the timeline asks for a line, when its phrase was not in the
                        // bank at its trigger (said, so an export's log shows which).
                        tracing::info!("Orator: timeline phrase {line} streamed (not in the bank)");
                        let text = self.session.read(|session| {
                            bank::phrase_lines(&session.text)
                                .nth(usize::from(line).saturating_sub(1))
                                .unwrap_or_default()
                                .to_owned()
                        });
                        Phrase {
                            id,
                            text: Some(text),
                            voicing: None,
                        }
                    }
                };
                self.queue.push_back(phrase);
            }
        }
    }

    fn load_voice(&mut self, model: Option<PathBuf>) {
        self.status.set(State::Loading, "Loading the voice…".into());
        self.loaded = Some(model.clone());
        match load(model, self.resources.as_ref()) {
            Ok(engine) => {
                let engine = voice_set::wired(engine, &self.metrics, &self.cache);
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
                    espeak_voice: voice.config.espeak_voice.clone(),
                });
                self.status
                    .voice_rate
                    .store(voice.config.sample_rate, Ordering::Release);
                self.status.set(State::Ready, name);
                self.engine = Some(engine);
                self.decode_rtf = None;
            }
            Err(error) => {
                let message = error.to_string();
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
            failures,
            decode_rtf,
            timings,
            bank,
            loaded,
            voices,
            resources,
            metrics,
            cache,
            ..
        } = self;
        let main = engine.as_ref();
        // A phrase voiced by an alias speaks with the alias's voice; one that cannot load
        // speaks with the instance's voice, and the log says why.
        let other = phrase
            .voicing
            .as_ref()
            .and_then(|v| v.model.as_deref())
            .filter(|model| main.is_none_or(|m| m.voice.path != *model));
        let other = other.and_then(|model| {
            let mut load_it = |m: &Path| {
                load(Some(m.to_path_buf()), resources.as_ref())
                    .map(|e| voice_set::wired(e, metrics, cache))
            };
            voices
                .get(model, &mut load_it)
                .inspect_err(|why| {
                    tracing::warn!(
                        "Orator: an alias's voice cannot speak, the instance's does: {why}"
                    );
                })
                .ok()
        });
        let (Some(engine), Some(stream)) = (other.or(main), stream.as_mut()) else {
            let why = if engine.is_none() {
                format!("no voice: {}", status.message())
            } else {
                "the plugin is not active".to_owned()
            };
            tracing::warn!("Orator was asked to speak but cannot: {why}");
            failures.record(phrase.id, Arc::from(why.as_str()));
            // An empty phrase, so its events (and its failure) reach the listeners.
            if let Some(stream) = stream.as_mut() {
                let shutdown = || stop.load(Ordering::Acquire);
                stream.mark(phrase.id, Edge::Start, &shutdown);
                stream.mark(phrase.id, Edge::End, &shutdown);
            }
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
                    failures.record(id, Arc::from(err.to_string().as_str()));
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
        fault_injection::panic_if_marked(text);
        let (engine, settings) = configured(engine, &snapshot, phrase.voicing.as_deref());
        let shutdown = || stop.load(Ordering::Acquire);
        let give_up = || shutdown() || control.is_cancelled(id);
        // A render stopped at a phrase of the bank reads nothing from the voice ring until it
        // has that phrase: while the ring is full, render it here, or both threads wait.
        let session: &SharedSession = session;
        let mut serve_bank = || {
            let (Some(bank), Some(voice)) =
                (bank.as_mut().filter(|bank| bank.render_waits()), main)
            else {
                return;
            };
            if loaded.as_ref() != Some(&session.read(|s| s.voice.clone())) {
                return; // the voice changed: the bank waits for it to load after this phrase
            }
            bank.sync(session);
            let Some(job) = bank.next_job() else {
                return;
            };
            let never = || false;
            let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                render_clip(voice, bank, session, stop, &never, &job)
            }))
            .unwrap_or_else(|panic| {
                Err(ClipError::Panicked(format!(
                    "the speech thread failed ({})",
                    panic_message(panic.as_ref())
                )))
            });
            hand_over(bank, &job, rendered);
        };
        let mut outlet = Outlet {
            stream,
            id,
            held: Vec::new(),
            started: false,
            while_full: &mut serve_bank,
        };
        let mut gate = StartGate::new(voice_rate, engine.voice.window_context_cost(), *decode_rtf);
        let mut failed = None;
        timings.begin(id, voice_rate, host_rate);
        let mut voice_samples = 0u64;
        let mut words_known = false;
        let result = engine.speak(text, &settings, &mut |chunk| {
            if give_up() {
                return ControlFlow::Break(());
            }
            if chunk.first_of_group {
                timings.add_group(id, voice_samples, chunk.timings.as_deref());
            }
            voice_samples += chunk.samples.len() as u64;
            let seconds = chunk.samples.len() as f64 / f64::from(chunk.sample_rate.max(1));
            let open = gate.window(seconds, chunk.window, chunk.real_time_factor);
            let flow = resampler
                .push(&chunk.samples, &mut |out| outlet.emit(out, open, &give_up))
                .unwrap_or_else(|err| {
                    failed = Some(err);
                    ControlFlow::Break(())
                });
            // The written words are looked up once the first audio is on its way.
            if chunk.timings.is_some() && !std::mem::replace(&mut words_known, true) {
                let words = written_words(text);
                match engine.written_phonemes(&words) {
                    Ok(phonemes) => timings.set_written(id, words, phonemes),
                    Err(err) => tracing::debug!("Orator: no written words for timings: {err}"),
                }
            }
            flow
        });
        timings.finish(id);
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
            failures.record(id, Arc::from(err.to_string().as_str()));
        }
        if let Err(err) = result {
            tracing::error!("Orator could not speak: {err}");
            failures.record(id, Arc::from(err.to_string().as_str()));
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
    /// Work done while the ring is full.
    while_full: &'a mut dyn FnMut(),
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
        if self.stream.push_or(out, give_up, self.while_full) {
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
        let sent = self.start(give_up) && self.stream.push_or(&self.held, give_up, self.while_full);
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

/// What a panic said.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned())
}

/// Why the speech thread has no voice. The message is what the editor shows.
#[derive(Debug, thiserror::Error)]
pub(super) enum LoadError {
    /// Orator's resources (ONNX Runtime, espeak-ng data, the default voice) are not installed
    /// where it looks.
    #[error(transparent)]
    Resources(#[from] NotFound),
    /// The voice did not load.
    #[error(transparent)]
    Voice(#[from] VoiceError),
    /// espeak-ng cannot read the voice's language.
    #[error(transparent)]
    Phonemizer(#[from] crate::tts::text::phonemize::PhonemizeError),
}

fn load(model: Option<PathBuf>, resources: Option<&Resources>) -> Result<Engine, LoadError> {
    let resources = match resources {
        Some(resources) => resources.clone(),
        None => Resources::locate()?,
    };
    let default = resources.default_voice();
    let model = model.unwrap_or_else(|| default.clone());
    let voice = Voice::load(&model, &resources.onnxruntime())?;
    let engine = Engine::new(voice, resources.espeak_data());
    engine.check_phonemizer()?;
    // The default voice is the loudness every other voice is brought to.
    if default.canonicalize().is_ok_and(|d| d == engine.voice.path) {
        super::calibration::is_reference(&engine);
    }
    Ok(engine)
}
