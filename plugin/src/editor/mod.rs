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

pub mod board;
pub mod browser;
mod meters;

use crate::params::OratorParams;
use crate::shared::Shared;
use crate::state::MAX_TEXT_BYTES;
use crate::tts::resources::Resources;
use crate::tts::service::{Delivery, SpeechService, State};
use board::{Board, Stage};
use browser::{Browser, Outcome, Purpose};
use nice_plug::context::gui::GuiContext;
use nice_plug::prelude::{BoolParam, Param, ParamSetter};
use nice_plug_egui::widgets::ParamSlider;
use nice_plug_egui::{EguiNiceSettings, Frame, KeyCapture, NiceEguiApp};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The smallest window the layout still fits in, logical pixels.
pub const MIN_SIZE: (f32, f32) = (720.0, 480.0);

/// Right-hand panel's tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tab {
    Queue,
    Voice,
    Mix,
    Tone,
}

/// The editor's state, kept while the plugin lives (the window may open and close many times).
pub struct App {
    shared: Arc<Shared>,
    gui: Option<GuiContext>,
    /// The text box's contents; the session is updated on every edit.
    text: String,
    /// The session generation `text` was last synced with.
    seen: u64,
    tab: Tab,
    board: Board,
    browser: Option<Browser>,
    /// The last thing that went wrong (or right) with a user action, shown above the text.
    notice: Option<String>,
    /// The text before the last "Load .txt…", for its Undo.
    replaced: Option<String>,
    /// The folder the last text file came from.
    text_dir: Option<PathBuf>,
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
        tab: Tab::Queue,
        board: Board::default(),
        browser: None,
        notice: None,
        replaced: None,
        text_dir: None,
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
            let board = &mut self.board;
            speech.drain_events(&mut |event| {
                board.apply(event, &|id| speech.phrase_text(id));
                changed = true;
            });
            let control = speech.control();
            board.sweep(&|id| control.is_cancelled(id));
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
                let id = speech.speak(text);
                self.board.queued(id, Arc::from(text));
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

    fn set_text(&mut self, text: String) {
        self.text = text;
        let session = &self.shared.params.session;
        session.set_text(self.text.clone());
        self.seen = session.generation();
    }

    /// The toolbar, the text box and the phrase list. Returns whether the text box has the
    /// keyboard focus.
    fn text_area(&mut self, ui: &mut egui::Ui, speech: Option<&SpeechService>) -> bool {
        let paused = speech.is_some_and(|s| s.control().is_paused());
        ui.horizontal_wrapped(|ui| {
            if ui
                .button("Speak")
                .on_hover_text("Speak the whole text (Ctrl+Enter)")
                .clicked()
            {
                let text = self.text.clone();
                self.speak(speech, &text);
            }
            if ui
                .button("Stop")
                .on_hover_text("Stop and empty the queue")
                .clicked()
                && let Some(s) = speech
            {
                s.control().stop();
            }
            let pause_label = if paused { "Resume" } else { "Pause" };
            if ui.button(pause_label).clicked()
                && let Some(s) = speech
            {
                s.control().set_paused(!paused);
            }
            if ui
                .button("Skip")
                .on_hover_text("Go to the next phrase")
                .clicked()
                && let Some(s) = speech
            {
                s.control().skip();
            }
            ui.separator();
            if ui
                .button("Paste")
                .on_hover_text("Append the clipboard's text (for hosts that take the keyboard)")
                .clicked()
            {
                self.paste();
            }
            if ui.button("Load .txt…").clicked() {
                self.browser = Some(Browser::new(Purpose::Text, self.text_dir.clone()));
            }
        });
        if let Some(notice) = self.notice.clone() {
            ui.horizontal(|ui| {
                ui.colored_label(ui.visuals().warn_fg_color, notice);
                if self.replaced.is_some() && ui.small_button("Undo").clicked() {
                    if let Some(old) = self.replaced.take() {
                        self.set_text(old);
                    }
                    self.notice = None;
                }
                if ui.small_button("Dismiss").clicked() {
                    self.notice = None;
                    self.replaced = None;
                }
            });
        }
        // Ctrl+Enter speaks; taken before the text box would turn it into a new line.
        if ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::Enter)) {
            let text = self.text.clone();
            self.speak(speech, &text);
        }
        let height = (ui.available_height() * 0.55).max(120.0);
        let mut edited = false;
        let output = egui::ScrollArea::vertical()
            .id_salt("orator-text-scroll")
            .max_height(height)
            .show(ui, |ui| {
                let edit = egui::TextEdit::multiline(&mut self.text)
                    .id(egui::Id::unique("orator-text"))
                    .hint_text("Type or paste what Orator should say. One line is one phrase.")
                    .desired_width(f32::INFINITY)
                    .desired_rows(10)
                    .show(ui);
                edited = edit.response.changed();
                edit.response
            })
            .inner;
        if self.focus_text {
            output.request_focus();
            self.focus_text = false;
        }
        if edited {
            if self.text.len() > MAX_TEXT_BYTES {
                let mut end = MAX_TEXT_BYTES;
                while !self.text.is_char_boundary(end) {
                    end -= 1;
                }
                self.text.truncate(end);
                self.notice = Some("The text is limited to 8 MiB; the rest was cut.".into());
            }
            let text = self.text.clone();
            self.set_text(text);
        }
        ui.separator();
        ui.label("Phrases — click one to speak it");
        let mut chosen = None;
        // Only the visible rows are laid out, so a script of thousands of lines stays smooth.
        let rows = board::phrase_lines(&self.text).count();
        let row_height =
            ui.text_style_height(&egui::TextStyle::Button) + ui.spacing().item_spacing.y;
        egui::ScrollArea::vertical()
            .id_salt("orator-phrases")
            .auto_shrink([false, false])
            .show_rows(ui, row_height, rows, |ui, visible| {
                let lines = board::phrase_lines(&self.text).skip(visible.start);
                for (index, line) in lines.take(visible.len()) {
                    if ui
                        .selectable_label(false, format!("{index:>3}  {line}"))
                        .clicked()
                    {
                        chosen = Some(line.to_string());
                    }
                }
            });
        if let Some(line) = chosen {
            self.speak(speech, &line);
        }
        output.has_focus()
    }

    fn paste(&mut self) {
        use copypasta::ClipboardProvider;
        let contents = copypasta::ClipboardContext::new().and_then(|mut c| c.get_contents());
        match contents {
            Ok(pasted) if !pasted.is_empty() => {
                let mut text = self.text.clone();
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str(&pasted);
                if text.len() > MAX_TEXT_BYTES {
                    self.notice = Some("The clipboard's text does not fit in 8 MiB.".into());
                    return;
                }
                self.set_text(text);
                self.notice = None;
            }
            Ok(_) => self.notice = Some("The clipboard holds no text.".into()),
            Err(err) => self.notice = Some(format!("Could not read the clipboard: {err}")),
        }
    }

    fn load_text(&mut self, path: &std::path::Path) {
        match read_text(path) {
            Ok(text) => {
                self.text_dir = path.parent().map(PathBuf::from);
                let old = std::mem::take(&mut self.text);
                self.set_text(text);
                self.notice = Some(format!("Loaded {}", path.display()));
                self.replaced = (!old.is_empty()).then_some(old);
            }
            Err(err) => self.notice = Some(err),
        }
    }

    fn load_voice(&mut self, speech: Option<&SpeechService>, model: Option<PathBuf>) {
        match speech {
            Some(speech) => speech.load_voice(model),
            None => {
                self.shared.params.session.update(|s| s.voice = model);
            }
        }
    }

    fn status_line(&self, ui: &mut egui::Ui, speech: Option<&SpeechService>) {
        ui.horizontal(|ui| {
            let (color, text) = match speech.map(|s| (s.status.state(), s.status.message())) {
                None => (
                    ui.visuals().error_fg_color,
                    "Speech unavailable: the speech thread could not start (see the log)".into(),
                ),
                Some((State::Idle, _)) => (ui.visuals().weak_text_color(), "Starting…".into()),
                Some((State::Loading, _)) => {
                    (ui.visuals().warn_fg_color, "Loading the voice…".into())
                }
                Some((State::Ready, name)) => (
                    egui::Color32::from_rgb(90, 200, 110),
                    format!("Ready: {name}"),
                ),
                Some((State::Failed, why)) => (
                    ui.visuals().error_fg_color,
                    format!(
                        "Voice failed: {why}. Pick another voice in the Voice tab; audio still \
                         passes through."
                    ),
                ),
            };
            // A painted dot: the default fonts have no symbol glyphs.
            let (dot, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
            ui.painter().circle_filled(dot.center(), 5.0, color);
            ui.label(egui::RichText::new(text).strong());
        });
        if let Some(speech) = speech {
            let m = &speech.metrics;
            let busy_ns =
                m.phonemize_ns.load(Ordering::Relaxed) + m.infer_ns.load(Ordering::Relaxed);
            let rtf = speech
                .status
                .voice_rate()
                .and_then(|rate| m.real_time_factor(rate))
                .map_or("–".into(), |r| format!("{r:.2}"));
            let cache = speech
                .cache_hit_rate()
                .map_or("–".into(), |r| format!("{:.0} %", r * 100.0));
            let meters = &self.shared.meters;
            let faults =
                m.errors.load(Ordering::Relaxed) + meters.replaced_inputs.load(Ordering::Relaxed);
            let rate = meters.sample_rate.load(Ordering::Relaxed);
            let late = meters.underruns.load(Ordering::Relaxed);
            let late = if rate > 0.0 {
                format!("{:.0} ms", late as f64 * 1000.0 / f64::from(rate))
            } else {
                format!("{late} samples")
            };
            ui.weak(format!(
                "synthesis {:.2} s · RTF {rtf} · cache {cache} · underruns {late} · faults {faults}",
                busy_ns as f64 * 1e-9,
            ));
        }
    }

    fn queue_tab(&mut self, ui: &mut egui::Ui, speech: Option<&SpeechService>) {
        ui.horizontal(|ui| {
            ui.heading("Queue");
            if ui
                .small_button("Clear")
                .on_hover_text("Drop the waiting phrases; the one heard now goes on")
                .clicked()
                && let Some(s) = speech
            {
                s.control().clear();
            }
        });
        if self.board.live().is_empty() {
            ui.weak("Nothing queued.");
        }
        for entry in self.board.live() {
            let text = egui::RichText::new(one_line(&entry.text));
            if entry.stage == Stage::Playing {
                ui.label(text.strong()).on_hover_text("Speaking now");
            } else {
                ui.label(text.weak()).on_hover_text("Waiting");
            }
        }
        ui.separator();
        ui.heading("History");
        ui.weak("Click to speak again (repeats come from the cache at once).");
        let mut replay = None;
        for entry in self.board.history() {
            let mut text = egui::RichText::new(one_line(&entry.text));
            let hover = if entry.stage == Stage::Cancelled {
                text = text.strikethrough();
                "Stopped or skipped; click to speak it again"
            } else {
                "Click to speak it again"
            };
            if ui
                .selectable_label(false, text)
                .on_hover_text(hover)
                .clicked()
            {
                replay = Some(entry.text.to_string());
            }
        }
        if let Some(text) = replay {
            self.speak(speech, &text);
        }
    }

    fn voice_tab(
        &mut self,
        ui: &mut egui::Ui,
        speech: Option<&SpeechService>,
        setter: &ParamSetter,
    ) {
        let session = self.shared.params.session.clone();
        let (chosen, mut delivery) = session.read(|s| (s.voice.clone(), s.delivery));
        ui.heading("Voice");
        let current = chosen
            .as_ref()
            .and_then(|p| p.file_stem())
            .map_or("Default (joe, US English)".to_string(), |s| {
                s.to_string_lossy().into_owned()
            });
        let mut pick = None;
        egui::ComboBox::from_id_salt("orator-voice")
            .selected_text(current)
            .width(ui.available_width() - 10.0)
            .show_ui(ui, |ui| {
                if ui
                    .selectable_label(chosen.is_none(), "Default (joe, US English)")
                    .clicked()
                {
                    pick = Some(None);
                }
                for voice in &self.voices {
                    let name = voice
                        .file_stem()
                        .map_or(String::new(), |s| s.to_string_lossy().into_owned());
                    if ui
                        .selectable_label(chosen.as_ref() == Some(voice), name)
                        .on_hover_text(voice.display().to_string())
                        .clicked()
                    {
                        pick = Some(Some(voice.clone()));
                    }
                }
            });
        ui.horizontal(|ui| {
            if ui.button("Load voice…").clicked() {
                let start = chosen.as_ref().and_then(|p| p.parent().map(PathBuf::from));
                self.browser = Some(Browser::new(Purpose::Voice, start));
            }
            if ui
                .button("Rescan")
                .on_hover_text(format!("Looks in: {}", voice_dirs_text()))
                .clicked()
            {
                self.voices = find_voices();
            }
            if speech.is_some_and(|s| s.status.state() == State::Failed)
                && ui.button("Retry").clicked()
                && let Some(s) = speech
            {
                s.reload_voice();
            }
        });
        if let Some(model) = pick {
            self.load_voice(speech, model);
        }
        let info = speech.and_then(|s| s.status.voice());
        let mut changed = false;
        if let Some(info) = info.filter(|i| !i.speakers.is_empty()) {
            let selected = delivery
                .speaker
                .and_then(|id| info.speakers.iter().find(|(_, s)| *s == id))
                .map_or("Default".to_string(), |(name, _)| name.clone());
            egui::ComboBox::from_label("Speaker")
                .selected_text(selected)
                .show_ui(ui, |ui| {
                    for (name, id) in &info.speakers {
                        changed |= ui
                            .selectable_value(&mut delivery.speaker, Some(*id), name)
                            .changed();
                    }
                });
        }
        ui.separator();
        ui.heading("Delivery");
        egui::Grid::new("orator-delivery")
            .num_columns(2)
            .show(ui, |ui| {
                ui.label("Rate");
                changed |= ui
                    .add(
                        egui::Slider::new(&mut delivery.rate, 0.25..=4.0)
                            .logarithmic(true)
                            .suffix("×"),
                    )
                    .on_hover_text("1 is the voice's own pace")
                    .changed();
                ui.end_row();
                ui.label("Variation");
                changed |= ui
                    .add(egui::Slider::new(&mut delivery.variation, 0.0..=2.0))
                    .on_hover_text("Timbre and timing variation: 1 is the voice's own, 0 none")
                    .changed();
                ui.end_row();
                ui.label("Volume");
                ui.add(ParamSlider::for_param(
                    &self.shared.params.voice_gain_db,
                    setter,
                ));
                ui.end_row();
            });
        changed |= ui
            .checkbox(
                &mut delivery.whole_sentences,
                "Speak long sentences whole (as Piper)",
            )
            .on_hover_text(
                "Off: a sentence over about 25 words is cut at commas (a text's first sentence, \
                 or one after a short sentence, from about 17), and between words if it has \
                 none, so speech starts sooner and never waits for a long line. Each cut adds \
                 a short pause.",
            )
            .changed();
        if changed {
            match speech {
                Some(s) => s.set_delivery(delivery),
                None => session.update(|s| s.delivery = Delivery { ..delivery }),
            }
        }
        ui.weak("Rate, variation and speaker apply from the next phrase.");
    }
}

fn mix_tab(ui: &mut egui::Ui, params: &OratorParams, setter: &ParamSetter) {
    ui.heading("Strips");
    egui::Grid::new("orator-strips")
        .num_columns(5)
        .show(ui, |ui| {
            ui.label("");
            ui.label("Gain");
            ui.label("Pan");
            ui.label("");
            ui.label("");
            ui.end_row();
            for (name, gain, pan, mute, solo) in [
                (
                    "Track",
                    &params.dry_gain_db,
                    &params.dry_pan,
                    &params.dry_mute,
                    &params.dry_solo,
                ),
                (
                    "Voice",
                    &params.voice_gain_db,
                    &params.voice_pan,
                    &params.voice_mute,
                    &params.voice_solo,
                ),
                (
                    "Sidechain",
                    &params.sidechain_gain_db,
                    &params.sidechain_pan,
                    &params.sidechain_mute,
                    &params.sidechain_solo,
                ),
            ] {
                ui.label(name);
                ui.add(ParamSlider::for_param(gain, setter).with_width(90.0));
                ui.add(ParamSlider::for_param(pan, setter).with_width(70.0));
                toggle(ui, setter, mute, "M");
                toggle(ui, setter, solo, "S");
                ui.end_row();
            }
        });
    ui.separator();
    ui.heading("Ducking");
    egui::Grid::new("orator-duck")
        .num_columns(2)
        .show(ui, |ui| {
            slider_row(ui, setter, "Depth", &params.duck_depth_db);
            slider_row(ui, setter, "Attack", &params.duck_attack_ms);
            slider_row(ui, setter, "Release", &params.duck_release_ms);
            ui.label("Key");
            ui.add(ParamSlider::for_param(&params.duck_key, setter));
            ui.end_row();
        });
    ui.separator();
    egui::Grid::new("orator-out").num_columns(2).show(ui, |ui| {
        slider_row(ui, setter, "Output", &params.output_gain_db);
    });
}

fn tone_tab(ui: &mut egui::Ui, params: &OratorParams, setter: &ParamSetter) {
    ui.heading("EQ");
    egui::Grid::new("orator-eq").num_columns(2).show(ui, |ui| {
        slider_row(ui, setter, "Low", &params.eq_low_db);
        slider_row(ui, setter, "Low freq", &params.eq_low_hz);
        slider_row(ui, setter, "Mid", &params.eq_mid_db);
        slider_row(ui, setter, "Mid freq", &params.eq_mid_hz);
        slider_row(ui, setter, "Mid Q", &params.eq_mid_q);
        slider_row(ui, setter, "High", &params.eq_high_db);
        slider_row(ui, setter, "High freq", &params.eq_high_hz);
    });
    ui.separator();
    ui.heading("De-esser");
    egui::Grid::new("orator-deess")
        .num_columns(2)
        .show(ui, |ui| {
            slider_row(ui, setter, "Reduction", &params.deess_db);
        });
    ui.separator();
    ui.heading("Compressor");
    egui::Grid::new("orator-comp")
        .num_columns(2)
        .show(ui, |ui| {
            slider_row(ui, setter, "Threshold", &params.comp_threshold_db);
            slider_row(ui, setter, "Ratio", &params.comp_ratio);
            slider_row(ui, setter, "Attack", &params.comp_attack_ms);
            slider_row(ui, setter, "Release", &params.comp_release_ms);
            slider_row(ui, setter, "Makeup", &params.comp_makeup_db);
        });
    ui.separator();
    ui.heading("Limiter");
    egui::Grid::new("orator-limit")
        .num_columns(2)
        .show(ui, |ui| {
            slider_row(ui, setter, "Ceiling", &params.limit_db);
        });
}

fn slider_row<P: Param>(ui: &mut egui::Ui, setter: &ParamSetter, label: &str, param: &P) {
    ui.label(label);
    ui.add(ParamSlider::for_param(param, setter));
    ui.end_row();
}

/// A button that flips a switch parameter through the host (so automation records it).
fn toggle(ui: &mut egui::Ui, setter: &ParamSetter, param: &BoolParam, label: &str) {
    let on = param.value();
    if ui
        .selectable_label(on, label)
        .on_hover_text(param.name())
        .clicked()
    {
        setter.begin_set_parameter(param);
        setter.set_parameter(param, !on);
        setter.end_set_parameter(param);
    }
}

/// The first line of `text`, shortened for a list row.
fn one_line(text: &str) -> String {
    const MAX: usize = 60;
    let line = text.lines().next().unwrap_or("").trim();
    let more = text.trim().lines().nth(1).is_some();
    match line.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None if more => format!("{line} …"),
        None => line.to_string(),
    }
}

/// Reads a text file for the editor, refusing what would lose or garble text.
pub fn read_text(path: &std::path::Path) -> Result<String, String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("Could not read {}: {e}", path.display()))?;
    if bytes.len() > MAX_TEXT_BYTES {
        return Err(format!(
            "{} is {} bytes; the editor holds at most 8 MiB",
            path.display(),
            bytes.len()
        ));
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        format!(
            "{} is not UTF-8 text; save it as UTF-8 and load it again",
            path.display()
        )
    })?;
    // A byte-order mark is not text.
    Ok(text.strip_prefix('\u{feff}').unwrap_or(&text).to_string())
}

/// Folders searched for voices: the bundled resources' `voices` and the user's own.
fn voice_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Ok(resources) = Resources::locate() {
        dirs.push(resources.root.join("voices"));
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")));
    if let Some(data) = data {
        dirs.push(data.join("orator").join("voices"));
    }
    dirs
}

fn voice_dirs_text() -> String {
    voice_dirs()
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Piper voices (`.onnx` with a `.onnx.json` beside) in the voices folders, by name.
fn find_voices() -> Vec<PathBuf> {
    let mut voices: Vec<PathBuf> = voice_dirs()
        .iter()
        .filter_map(|dir| browser::list(dir, "onnx").ok())
        .flatten()
        .filter(|item| !item.is_dir)
        .map(|item| item.path)
        .filter(|path| {
            let mut config = path.clone().into_os_string();
            config.push(".json");
            PathBuf::from(config).is_file()
        })
        .collect();
    voices.sort_by_key(|p| p.file_stem().map(|s| s.to_os_string()));
    voices.dedup();
    voices
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_shortens_long_and_multi_line_text() {
        assert_eq!(one_line("Hello."), "Hello.");
        assert_eq!(one_line("First\nsecond"), "First …");
        let long = "é".repeat(80);
        assert_eq!(one_line(&long), format!("{}…", "é".repeat(60)));
    }

    #[test]
    fn text_files_must_be_utf8_and_lose_their_byte_order_mark() {
        let dir = std::env::temp_dir().join(format!("orator-text-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.txt");
        std::fs::write(&good, "\u{feff}Line one\nLíne two\n").unwrap();
        assert_eq!(read_text(&good).unwrap(), "Line one\nLíne two\n");
        let latin1 = dir.join("latin1.txt");
        std::fs::write(&latin1, b"caf\xe9").unwrap();
        let err = read_text(&latin1).unwrap_err();
        assert!(err.contains("not UTF-8"), "{err}");
        let err = read_text(&dir.join("missing.txt")).unwrap_err();
        assert!(err.contains("Could not read"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
