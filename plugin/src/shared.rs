//! What a plugin instance shares with its editor: parameters, meters, the speech service and
//! the editor's repaint flag. Everything here is reached from the main thread, the editor's
//! thread or (for the atomics only) the audio thread.

use crate::meters::Meters;
use crate::params::OratorParams;
use crate::playback::service::SpeechService;
use nice_plug_egui::{EguiEditorState, RepaintNotifier};
use std::sync::{Arc, OnceLock};

/// Shared by the plugin instance and its editor.
pub struct Shared {
    /// Parameters and the saved session.
    pub params: Arc<OratorParams>,
    /// Levels and counters from the audio thread.
    pub meters: Arc<Meters>,
    /// Wakes the editor (a relaxed atomic store: the audio thread may call it).
    pub repaint: RepaintNotifier,
    /// The editor's size and whether it is open.
    pub editor_state: Arc<EguiEditorState>,
    /// Started by the first activation or the first editor that needs it, whichever comes
    /// first, so a host that only scans the plugin starts nothing. `None` inside: the thread
    /// could not be started (logged).
    speech: OnceLock<Option<SpeechService>>,
}

impl Shared {
    /// Nothing is started or loaded here: hosts create instances just to scan them.
    pub fn new(params: Arc<OratorParams>) -> Self {
        let (width, height) = params.session.read(|session| session.editor_size);
        Self {
            params,
            meters: Arc::default(),
            repaint: RepaintNotifier::new(),
            editor_state: EguiEditorState::from_size(
                nice_plug::editor::dpi::LogicalSize::new(width as f32, height as f32),
                1.0,
            ),
            speech: OnceLock::new(),
        }
    }

    /// The speech service, started (and its voice load begun) on first use. Main or editor
    /// thread only: starting spawns a thread.
    pub fn speech(&self) -> Option<&SpeechService> {
        self.speech
            .get_or_init(|| {
                match SpeechService::start_with(
                    self.params.session.clone(),
                    self.params.placements.clone(),
                    None,
                ) {
                    Ok(service) => {
                        service.reload_voice();
                        Some(service)
                    }
                    Err(err) => {
                        nice_plug::nice_error!("Orator could not start its speech thread: {err}");
                        None
                    }
                }
            })
            .as_ref()
    }

    /// The speech service if something already started it.
    pub fn speech_if_started(&self) -> Option<&SpeechService> {
        self.speech.get().and_then(Option::as_ref)
    }
}

impl crate::api::Target for Shared {
    fn session(&self) -> &Arc<crate::state::SharedSession> {
        &self.params.session
    }

    fn speech(&self) -> Option<&SpeechService> {
        self.speech_if_started()
    }

    fn underruns(&self) -> u64 {
        self.meters
            .underruns
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}
