//! The editor: type or paste text and speak it, follow the queue and replay the history, pick
//! and shape the voice, mix it, and see what the speech engine is doing.
//!
//! It runs on the host's GUI thread (egui through nice-plug-egui) and reaches the rest of the
//! plugin only through [`Shared`]: parameters (set through the host, so automation records
//! them), the session (text, voice and delivery, saved with the project), the speech service's
//! commands and status, and the audio thread's meters and phrase events. The audio thread
//! wakes it with a relaxed atomic store, at most 30 times a second, while the window is open.
//!
//! Hosts that steal the keyboard (REAPER, Ableton Live) are covered three ways: keys reach the
//! host whenever the text box is not being typed in (so the host's transport shortcuts keep
//! working), and everything can be done with the mouse alone: Paste, Load .txt…, and the
//! phrase list, where a click speaks a line.
//!
//! - this module: [`App`], the window (tabs, keyboard, the speech service's sync);
//! - [`text`]: the Text tab (toolbar, text box, phrase list) and loading `.txt` files;
//! - [`queue`]: the Queue tab and its model of the queue and history ([`queue::QueueView`]);
//! - `voice`: the Voice tab (voice, speaker, delivery); `mix`: the Mix and Tone tabs;
//!   `status`: the status line; `api`: the API tab, with `aliases`, its voice aliases;
//! - [`subtitles`]: "Export subtitles…", the project's SRT and WebVTT from the timeline's
//!   placements;
//! - [`browser`]: the file picker; `meters` and `widgets`: shared widgets.

mod aliases;
mod api;
pub mod browser;
mod meters;
mod mix;
mod presets;
pub mod queue;
mod status;
pub mod subtitles;
pub mod text;
mod voice;
mod widgets;

use crate::playback::service::{SpeechService, State};
use crate::shared::Shared;
use browser::{Browser, Outcome, Purpose};
use mix::{mix_tab, tone_tab};
use nice_plug::context::gui::GuiContext;
use nice_plug_egui::{EguiNiceSettings, Frame, KeyCapture, NiceEguiApp};
use presets::PresetsView;
use queue::QueueView;
use std::path::PathBuf;
use std::sync::Arc;
use voice::find_voices;

/// The smallest window the layout still fits in, logical pixels.
pub const MIN_SIZE: (f32, f32) = (720.0, 480.0);

/// Right-hand panel's tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tab {
    Queue,
    Voice,
    Mix,
    Tone,
    Presets,
    Api,
}

/// The editor's state, kept while the plugin lives (the window may open and close many times).
pub struct App {
    shared: Arc<Shared>,
    gui: Option<GuiContext>,
    /// The text box's contents; the session is updated on every edit.
    text: String,
    /// The session generation `text` was last synced with.
    seen: u64,
    /// Where this editor is in the speech service's phrase events.
    event_cursor: u64,
    tab: Tab,
    queue: QueueView,
    /// The API tab's fields.
    api: api::ApiView,
    /// The Presets tab's state.
    presets: PresetsView,
    browser: Option<Browser>,
    /// The last thing that went wrong (or right) with a user action, shown above the text.
    notice: Option<String>,
    /// What the last "Load .txt…" replaced, for its Undo.
    replaced: Option<text::LoadUndo>,
    /// The folder the last text file came from.
    text_dir: Option<PathBuf>,
    /// The folder subtitles were last exported to.
    subtitles_dir: Option<PathBuf>,
    /// Voice models found in the voices folders.
    voices: Vec<PathBuf>,
    /// Whether the text box should take the keyboard focus on the next frame.
    focus_text: bool,
    /// The session's editor size still has to be applied to the window.
    apply_size: bool,
}

/// Creates the editor for an instance.
pub fn create(shared: Arc<Shared>) -> Option<nice_plug_egui::EguiEditor<App>> {
    let settings = EguiNiceSettings::new()
        .with_tile("Orator")
        .with_resize_hint(nice_plug::editor::ResizeHint {
            can_resize: true,
            can_resize_horizontally: true,
            can_resize_vertically: true,
            size_constraints: nice_plug::editor::SizeConstraints::Logical {
                min_size: Some(nice_plug::editor::dpi::LogicalSize::new(
                    MIN_SIZE.0, MIN_SIZE.1,
                )),
                max_size: None,
            },
            ..nice_plug::editor::ResizeHint::NON_RESIZABLE
        });
    let app = App {
        shared: shared.clone(),
        gui: None,
        text: String::new(),
        seen: u64::MAX,
        event_cursor: 0,
        tab: Tab::Queue,
        queue: QueueView::default(),
        presets: PresetsView::default(),
        api: api::ApiView::default(),
        browser: None,
        notice: None,
        replaced: None,
        text_dir: None,
        subtitles_dir: None,
        voices: Vec::new(),
        focus_text: true,
        apply_size: true,
    };
    nice_plug_egui::create_egui_editor(
        shared.editor_state.clone(),
        shared.repaint.clone(),
        settings,
        app,
    )
}

impl NiceEguiApp for App {
    fn build(
        &mut self,
        egui_ctx: egui::Context,
        gui: GuiContext,
        _frame: &mut Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        egui_ctx.set_visuals(egui::Visuals::dark());
        self.gui = Some(gui);
        self.focus_text = true;
        self.apply_size = true;
        self.voices = find_voices();
        // Opening the editor is the user's intent to speak: start the service if the host has
        // not activated the plugin yet.
        let _ = self.shared.speech();
        Ok(())
    }

    fn resized(&mut self, size: nice_plug_egui::baseview::WindowSize) {
        let (width, height) = (size.logical.width, size.logical.height);
        if width >= 1.0 && height >= 1.0 {
            self.shared.params.session.update(|session| {
                session.editor_size = (width.round() as u32, height.round() as u32);
            });
        }
    }

    fn editor_closed(&mut self) {
        self.gui = None;
        self.browser = None;
    }

    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut Frame) {
        let Some(gui) = self.gui.clone() else { return };
        let setter = gui.param_setter();
        let shared = self.shared.clone();
        let speech = shared.speech_if_started();
        self.sync(speech, ui.ctx());
        let ctx = ui.ctx().clone();

        egui::Panel::bottom("orator-status").show(ui, |ui| {
            self.status_line(ui, speech);
        });
        egui::Panel::bottom("orator-meters").show(ui, |ui| {
            meters::show(ui, &shared.meters);
        });
        egui::Panel::right("orator-side")
            .resizable(true)
            .default_size(360.0)
            .min_size(300.0)
            .show(ui, |ui| {
                ui.horizontal(|ui| {
                    for (tab, name) in [
                        (Tab::Queue, "Queue"),
                        (Tab::Voice, "Voice"),
                        (Tab::Mix, "Mix"),
                        (Tab::Tone, "Tone"),
                        (Tab::Presets, "Presets"),
                        (Tab::Api, "API"),
                    ] {
                        ui.selectable_value(&mut self.tab, tab, name);
                    }
                });
                ui.separator();
                egui::ScrollArea::vertical()
                    .id_salt("orator-side-scroll")
                    .show(ui, |ui| match self.tab {
                        Tab::Queue => self.queue_tab(ui, speech),
                        Tab::Voice => self.voice_tab(ui, speech, &setter),
                        Tab::Mix => mix_tab(ui, &shared.params, &setter),
                        Tab::Tone => tone_tab(ui, &shared.params, &setter),
                        Tab::Presets => self.presets.show(ui, &shared.params, &setter),
                        Tab::Api => self.api.show(ui, &shared.params.session),
                    });
            });
        let typing = egui::CentralPanel::default()
            .show(ui, |ui| self.text_area(ui, speech))
            .inner;
        // Keys reach the host unless the user is typing here, so its shortcuts keep working.
        frame.set_key_capture(if typing {
            KeyCapture::CaptureAll
        } else {
            KeyCapture::IgnoreAll
        });

        if let Some(browser) = &mut self.browser {
            match browser.show(&ctx) {
                Outcome::Open => {}
                Outcome::Cancelled => self.browser = None,
                Outcome::Picked(path) => {
                    let purpose = browser.purpose;
                    self.browser = None;
                    match purpose {
                        Purpose::Text => self.load_text(&path),
                        Purpose::Voice => self.load_voice(speech, Some(path)),
                        Purpose::Subtitles => self.export_subtitles(speech, &path),
                    }
                }
            }
        }
        if self.apply_size {
            self.apply_size = false;
            let (w, h) = self.shared.params.session.read(|s| s.editor_size);
            let current = ctx.content_rect().size();
            let wanted = egui::vec2(
                w.max(MIN_SIZE.0 as u32) as f32,
                h.max(MIN_SIZE.1 as u32) as f32,
            );
            if (current - wanted).length() > 1.0 {
                ctx.send_viewport_cmd(egui::ViewportCommand::InnerSize(wanted));
            }
        }
        // Speech on its way: keep the queue and status moving even with the audio stopped.
        if speech.is_some_and(|s| s.control().pending())
            || speech.is_some_and(|s| s.status.state() == State::Loading)
        {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
    }
}

impl App {
    /// Takes in what changed elsewhere: a state load (text), phrase events, cancellations.
    fn sync(&mut self, speech: Option<&SpeechService>, ctx: &egui::Context) {
        let session = &self.shared.params.session;
        let generation = session.generation();
        if generation != self.seen {
            let text = session.read(|s| s.text.clone());
            if text != self.text {
                self.text = text;
            }
            self.seen = generation;
        }
        if let Some(speech) = speech {
            let mut changed = false;
            let queue = &mut self.queue;
            speech.events_since(&mut self.event_cursor, &mut |event| {
                queue.apply(event, &|id| speech.phrase_text(id));
                changed = true;
            });
            let control = speech.control();
            queue.sweep(&|id| control.is_cancelled(id));
            if changed {
                ctx.request_repaint();
            }
        }
    }

    fn speak(&mut self, speech: Option<&SpeechService>, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            self.notice = Some("Nothing to speak: type or paste some text first.".into());
            return;
        }
        match speech {
            Some(speech) => {
                let api = self.shared.params.session.read(|s| s.api.clone());
                let text = if api.filter_editor {
                    let espeak = speech.status.voice().map(|v| v.espeak_voice);
                    let (mut settings, _) = api.filter_settings(espeak.as_deref());
                    settings.max_chars = crate::state::MAX_TEXT_BYTES;
                    // The editor's own text is trusted: its phoneme spans are honoured.
                    settings.phonemes = true;
                    match crate::api::filter::filter(text, &settings) {
                        crate::api::filter::Filtered::Speak(text) => text,
                        crate::api::filter::Filtered::Cut { text, cut } => {
                            self.notice = Some(format!(
                                "The chat filter's text was cut: {cut} characters are not spoken."
                            ));
                            text
                        }
                        _ => {
                            self.notice =
                                Some("The chat filter left nothing of this text to speak.".into());
                            return;
                        }
                    }
                } else {
                    text.to_owned()
                };
                let id = speech.speak(text.as_str());
                self.queue.queued(id, Arc::from(text.as_str()));
                self.notice = None;
            }
            None => {
                self.notice = Some(
                    "The speech thread could not be started; see the host's log. Audio still \
                     passes through."
                        .into(),
                )
            }
        }
    }
}
