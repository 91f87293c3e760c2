//! The Voice tab: pick a voice (bundled, the user's folder, or any file), its speaker, and how
//! it delivers the text (rate, variation, whole sentences). Runs on the GUI thread.

use super::App;
use super::browser::{Browser, Purpose};
use crate::playback::service::{SpeechService, State};
use crate::tts::resources::Resources;
use crate::tts::voice::config::Delivery;
use nice_plug::prelude::ParamSetter;
use nice_plug_egui::widgets::ParamSlider;
use std::path::PathBuf;

impl App {
    pub(super) fn load_voice(&mut self, speech: Option<&SpeechService>, model: Option<PathBuf>) {
        match speech {
            Some(speech) => speech.load_voice(model),
            None => {
                self.shared.params.session.update(|s| s.voice = model);
            }
        }
    }

    pub(super) fn voice_tab(
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

/// Folders searched for voices: the bundled resources' `voices` and the user's own.
fn voice_dirs() -> Vec<PathBuf> {
    Resources::locate()
        .ok()
        .map(|r| r.voices_dir())
        .into_iter()
        .chain(crate::tts::resources::user_voices_dir())
        .collect()
}

fn voice_dirs_text() -> String {
    voice_dirs()
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Piper voices (`.onnx` with a `.onnx.json` beside) in the voices folders, by name.
pub(super) fn find_voices() -> Vec<PathBuf> {
    let mut voices: Vec<PathBuf> = voice_dirs()
        .iter()
        .filter_map(|dir| super::browser::list(dir, "onnx").ok())
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
