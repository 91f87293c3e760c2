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
use super::onnx::Voice;
use super::resources::Resources;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
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
    Shutdown,
}

/// The service. Owned by the plugin instance (main thread); dropping it stops the thread.
pub struct SpeechService {
    /// Status for the editor and tests.
    pub status: Arc<ServiceStatus>,
    commands: Sender<Command>,
    thread: Option<JoinHandle<()>>,
}

impl SpeechService {
    /// Starts the service thread. Loads nothing until asked.
    pub fn start() -> std::io::Result<Self> {
        let status = Arc::new(ServiceStatus::new());
        let (commands, inbox) = channel();
        let thread_status = status.clone();
        let thread = std::thread::Builder::new()
            .name("orator-speech".into())
            .spawn(move || run(&inbox, &thread_status))?;
        Ok(Self {
            status,
            commands,
            thread: Some(thread),
        })
    }

    /// Asks for a voice to be loaded (`None`: the bundled default). Returns at once.
    pub fn load_voice(&self, model: Option<PathBuf>) {
        // A send only fails if the thread has ended, which `Drop` alone causes.
        let _ = self.commands.send(Command::LoadVoice(model));
    }
}

impl Drop for SpeechService {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Shutdown);
        if let Some(thread) = self.thread.take() {
            // Joined, not detached: the thread runs code from this library, which the host may
            // unload right after destroying the instance.
            let _ = thread.join();
        }
    }
}

/// The service thread's loop.
fn run(inbox: &Receiver<Command>, status: &ServiceStatus) {
    // The loaded engine. Held so the voice stays loaded (the voice registry keeps only weak
    // references); the realtime path's speak commands will use it.
    let mut _loaded: Option<Engine> = None;
    while let Ok(command) = inbox.recv() {
        match command {
            Command::Shutdown => break,
            Command::LoadVoice(model) => {
                status.set(State::Loading, "Loading the voice…".into());
                match load(model) {
                    Ok(engine) => {
                        let name = engine
                            .voice
                            .path
                            .file_stem()
                            .map(|s| s.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        tracing::info!("Orator voice ready: {}", engine.voice.path.display());
                        status.set(State::Ready, name);
                        _loaded = Some(engine);
                    }
                    Err(message) => {
                        tracing::error!("Orator cannot speak: {message}");
                        status.set(State::Failed, message);
                        _loaded = None;
                    }
                }
            }
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
        let service = SpeechService::start().unwrap();
        assert_eq!(service.status.state(), State::Idle);
        service.status.set(State::Failed, "why".into());
        assert_eq!(
            (service.status.state(), service.status.message()),
            (State::Failed, "why".into())
        );
        drop(service); // joins; a hang here fails the test by timeout
    }
}
