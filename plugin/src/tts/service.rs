//! The plugin's speech service: a thread of its own (not nice-plug's shared background
//! executor, which one long task would block for every instance) that loads the voice and, in
//! the realtime-path work, synthesises. The audio thread never waits for it; the editor reads
//! its status through atomics and a short-lived lock.
//!
//! Channels: commands main thread → service through `std::sync::mpsc` (the main thread may
//! block briefly, the audio thread never sends); status service → everyone through
//! [`ServiceStatus`] (an atomic state plus a message under a mutex that only the editor and
//! logging read).

use super::engine::Engine;
use super::lexicon::Lexicon;
use super::onnx::Voice;
use super::resample::resample_mono;
use super::resources::Resources;
use super::stream::{Request, WorkerSide};
use crate::state::SharedSession;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
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

/// Status shared with the editor. Written by the service thread only.
#[derive(Debug)]
pub struct ServiceStatus {
    /// A [`State`] as u8 (atomic so the editor can poll it every frame for free).
    state: AtomicU8,
    /// What the editor shows next to the state: the voice's name, or the error and the fix.
    message: Mutex<String>,
}

impl ServiceStatus {
    fn new() -> Self {
        Self {
            state: AtomicU8::new(State::Idle as u8),
            message: Mutex::new(String::new()),
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
    /// Load a voice (`None`: the bundled default).
    LoadVoice(Option<PathBuf>),
    /// The plugin was (re)activated: stream speech through these rings from now on.
    Attach(WorkerSide),
    Shutdown,
}

/// The service. Owned by the plugin instance (main thread); dropping it stops the thread.
pub struct SpeechService {
    /// Status for the editor and tests.
    pub status: Arc<ServiceStatus>,
    commands: Sender<Command>,
    /// Tells a thread busy speaking to stop at once (on shutdown).
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SpeechService {
    /// Starts the service thread, which speaks `session`'s text when asked. Loads nothing
    /// until asked.
    pub fn start(session: Arc<SharedSession>) -> std::io::Result<Self> {
        let status = Arc::new(ServiceStatus::new());
        let stop = Arc::new(AtomicBool::new(false));
        let (commands, inbox) = channel();
        let worker = Worker {
            status: status.clone(),
            stop: stop.clone(),
            session,
            engine: None,
            stream: None,
        };
        let thread = std::thread::Builder::new()
            .name("orator-speech".into())
            .spawn(move || worker.run(&inbox))?;
        Ok(Self {
            status,
            commands,
            stop,
            thread: Some(thread),
        })
    }

    /// Hands the speech thread the rings of a new activation.
    pub fn attach(&self, stream: WorkerSide) {
        let _ = self.commands.send(Command::Attach(stream));
    }

    /// Asks for a voice to be loaded (`None`: the bundled default). Returns at once.
    pub fn load_voice(&self, model: Option<PathBuf>) {
        // A send only fails if the thread has ended, which `Drop` alone causes.
        let _ = self.commands.send(Command::LoadVoice(model));
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

/// The speech thread's state.
struct Worker {
    status: Arc<ServiceStatus>,
    stop: Arc<AtomicBool>,
    /// The text (and dictionary) to speak, shared with the editor and the host's state.
    session: Arc<SharedSession>,
    /// The loaded voice and its engine.
    engine: Option<Engine>,
    /// The current activation's rings.
    stream: Option<WorkerSide>,
}

impl Worker {
    fn run(mut self, inbox: &Receiver<Command>) {
        loop {
            match inbox.recv_timeout(POLL) {
                Ok(Command::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(Command::LoadVoice(model)) => self.load_voice(model),
                Ok(Command::Attach(stream)) => self.stream = Some(stream),
                Err(RecvTimeoutError::Timeout) => {}
            }
            let speak = self
                .stream
                .as_mut()
                .is_some_and(|s| s.requests.pop() == Ok(Request::Speak));
            if speak {
                self.speak();
                if let Some(stream) = &self.stream {
                    // After `speak` lowered `speaking`: an offline render waits on either.
                    stream.generations.taken.fetch_add(1, Ordering::AcqRel);
                }
            }
        }
    }

    fn load_voice(&mut self, model: Option<PathBuf>) {
        self.status.set(State::Loading, "Loading the voice…".into());
        match load(model) {
            Ok(engine) => {
                let name = engine
                    .voice
                    .path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                tracing::info!("Orator voice ready: {}", engine.voice.path.display());
                self.status.set(State::Ready, name);
                self.engine = Some(engine);
            }
            Err(message) => {
                tracing::error!("Orator cannot speak: {message}");
                self.status.set(State::Failed, message);
                self.engine = None;
            }
        }
    }

    /// Speaks the session's text into the voice ring, resampled to the host's rate.
    fn speak(&mut self) {
        let (Some(engine), Some(stream)) = (&self.engine, &mut self.stream) else {
            tracing::warn!(
                "Orator was asked to speak but has no voice: {}",
                self.status.message()
            );
            return;
        };
        let session = self.session.snapshot();
        let engine = match Lexicon::new(&session.dictionary) {
            Ok(lexicon) => engine.clone().with_lexicon(Arc::new(lexicon)),
            Err(_) => engine.clone(),
        };
        stream.speaking.store(true, Ordering::Release);
        // This phrase belongs to the current stop generation. If a Stop came since the last
        // phrase, let the audio thread discard what is left of the old one before claiming the
        // ring (it drains a stale ring every block, so this takes one block at most).
        let generation = stream.generations.stop.load(Ordering::Acquire);
        if stream.generations.producing.load(Ordering::Acquire) != generation {
            while stream.voice.slots() < stream.voice.buffer().capacity()
                && !self.stop.load(Ordering::Acquire)
                && !stream.voice.is_abandoned()
            {
                std::thread::sleep(POLL);
            }
            stream
                .generations
                .producing
                .store(generation, Ordering::Release);
        }
        let generations = stream.generations.clone();
        let stopped = move || generations.stop.load(Ordering::Acquire) != generation;
        let host_rate = stream.sample_rate.round().max(1.0) as u32;
        let stop = &self.stop;
        let settings = engine.voice.config.defaults;
        let result = engine.speak(&session.text, &settings, &mut |chunk| {
            if stopped() {
                return ControlFlow::Break(());
            }
            let samples = match resample_mono(&chunk.samples, chunk.sample_rate, host_rate) {
                Ok(samples) => samples,
                Err(err) => {
                    tracing::error!("Orator: {err}");
                    return ControlFlow::Break(());
                }
            };
            let mut rest: &[f32] = &samples;
            while !rest.is_empty() {
                rest = stream.voice.push_partial_slice(rest).1;
                if rest.is_empty() {
                    break;
                }
                // The ring is full: the audio thread plays it down in real time.
                if stop.load(Ordering::Acquire) || stream.voice.is_abandoned() || stopped() {
                    return ControlFlow::Break(());
                }
                std::thread::sleep(POLL);
            }
            ControlFlow::Continue(())
        });
        stream.speaking.store(false, Ordering::Release);
        if let Err(err) = result {
            tracing::error!("Orator could not speak: {err}");
        }
    }
}

fn load(model: Option<PathBuf>) -> Result<Engine, String> {
    let resources = Resources::locate().map_err(|e| e.to_string())?;
    let model = model.unwrap_or_else(|| resources.default_voice());
    let voice = Voice::load(&model, &resources.onnxruntime()).map_err(|e| e.to_string())?;
    Ok(Engine::new(voice, resources.espeak_data()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_and_the_thread_stops_on_drop() {
        let service = SpeechService::start(Arc::default()).unwrap();
        assert_eq!(service.status.state(), State::Idle);
        service.status.set(State::Failed, "why".into());
        assert_eq!(
            (service.status.state(), service.status.message()),
            (State::Failed, "why".into())
        );
        drop(service); // joins; a hang here fails the test by timeout
    }
}
