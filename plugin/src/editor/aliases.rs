//! The API tab's voice aliases: a table of named voices (voice file, speaker, rate, variation,
//! level), the per-chatter rule and the chatters given an alias, edited as a draft and saved
//! in the session's API settings on Apply. Runs on the GUI thread.

use crate::api::aliases::{VoiceAlias, VoiceAliases};
use crate::state::SharedSession;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What the section keeps between frames.
#[derive(Default)]
pub(super) struct AliasesView {
    /// The aliases being edited (`None`: not touched since the session's were read).
    draft: Option<VoiceAliases>,
    /// The chatter table as typed, one `name = alias` a line.
    chatters: String,
    /// The voice files offered (scanned once, and on Rescan).
    voices: Option<Vec<PathBuf>>,
    notice: Option<String>,
}

impl AliasesView {
    /// Shows the section; applies the draft to `session` on Apply.
    pub(super) fn show(&mut self, ui: &mut egui::Ui, session: &SharedSession) {
        let saved = session.read(|s| s.api.voices.clone());
        if self.draft.is_none() {
            self.chatters = chatters_text(&saved.chatters);
        }
        let voices = self.voices.get_or_insert_with(super::voice::find_voices);
        let draft = self.draft.get_or_insert_with(|| saved.clone());
        ui.label(
            "Bots ask for an alias by name (Speak's `voice`, OpenAI's `voice`); a chatter can \
             have one of their own.",
        );
        let mut remove = None;
        egui::Grid::new("api-aliases")
            .num_columns(7)
            .striped(true)
            .show(ui, |ui| {
                for title in [
                    "Name",
                    "Voice",
                    "Speaker",
                    "Rate",
                    "Variation",
                    "Level dB",
                    "",
                ] {
                    ui.strong(title);
                }
                ui.end_row();
                for (i, alias) in draft.aliases.iter_mut().enumerate() {
                    ui.add(egui::TextEdit::singleline(&mut alias.name).desired_width(100.0));
                    voice_picker(ui, i, alias, voices);
                    let mut speaker = alias.voicing.speaker.clone().unwrap_or_default();
                    if ui
                        .add(egui::TextEdit::singleline(&mut speaker).desired_width(70.0))
                        .on_hover_text("A multi-speaker voice's speaker: its name or number")
                        .changed()
                    {
                        alias.voicing.speaker =
                            Some(speaker.trim().to_owned()).filter(|s| !s.is_empty());
                    }
                    ui.add(
                        egui::DragValue::new(&mut alias.voicing.rate)
                            .range(0.25..=4.0)
                            .speed(0.01),
                    );
                    ui.add(
                        egui::DragValue::new(&mut alias.voicing.variation)
                            .range(0.0..=2.0)
                            .speed(0.01),
                    );
                    ui.add(
                        egui::DragValue::new(&mut alias.voicing.level_db)
                            .range(crate::playback::voicing::LEVEL_DB)
                            .speed(0.1),
                    );
                    if ui.small_button("Remove").clicked() {
                        remove = Some(i);
                    }
                    ui.end_row();
                }
            });
        if let Some(i) = remove {
            draft.aliases.remove(i);
        }
        ui.horizontal(|ui| {
            if ui.button("Add alias").clicked() {
                let name = format!("Voice {}", draft.aliases.len() + 1);
                draft.aliases.push(VoiceAlias {
                    name,
                    ..VoiceAlias::default()
                });
            }
            if ui.button("Rescan voices").clicked() {
                self.voices = None;
            }
        });
        ui.checkbox(
            &mut draft.per_chatter,
            "Give every chatter not listed below an alias of their own (picked by their name)",
        );
        ui.label("Chatters' aliases, one `name = alias` a line:");
        ui.add(
            egui::TextEdit::multiline(&mut self.chatters)
                .desired_rows(3)
                .desired_width(f32::INFINITY),
        );
        let (apply, revert) = ui
            .horizontal(|ui| {
                (
                    ui.button("Apply aliases").clicked(),
                    ui.button("Revert").clicked(),
                )
            })
            .inner;
        if apply {
            let next = parse_chatters(&self.chatters)
                .map_err(|why| why.to_string())
                .and_then(|chatters| {
                    let next = VoiceAliases {
                        chatters,
                        ..draft.clone()
                    };
                    next.validate().map_err(|why| why.to_string())?;
                    Ok(next)
                });
            match next {
                Ok(next) => {
                    session.update(|s| s.api.voices = next);
                    crate::api::refresh();
                    self.draft = None;
                    self.notice = None;
                }
                Err(why) => self.notice = Some(why),
            }
        }
        if revert {
            self.draft = None;
            self.notice = None;
        }
        if let Some(notice) = &self.notice {
            ui.colored_label(egui::Color32::from_rgb(220, 120, 60), notice);
        }
    }
}

/// The voice column: the instance's voice or an installed one.
fn voice_picker(ui: &mut egui::Ui, row: usize, alias: &mut VoiceAlias, voices: &[PathBuf]) {
    let stem = |p: &PathBuf| {
        p.file_stem()
            .map_or(String::new(), |s| s.to_string_lossy().into_owned())
    };
    let shown = alias
        .voicing
        .model
        .as_ref()
        .map_or_else(|| "the instance's".to_owned(), stem);
    egui::ComboBox::from_id_salt(("alias-voice", row))
        .selected_text(shown)
        .width(150.0)
        .show_ui(ui, |ui| {
            ui.selectable_value(&mut alias.voicing.model, None, "the instance's");
            for voice in voices {
                ui.selectable_value(&mut alias.voicing.model, Some(voice.clone()), stem(voice))
                    .on_hover_text(voice.display().to_string());
            }
        });
}

/// The chatter table as the text box shows it.
fn chatters_text(chatters: &BTreeMap<String, String>) -> String {
    chatters
        .iter()
        .map(|(name, alias)| format!("{name} = {alias}\n"))
        .collect()
}

/// A chatter line without its `=`.
#[derive(Debug, thiserror::Error)]
#[error("chatters, line {0}: write `name = alias`")]
struct ChatterLine(usize);

/// Reads `name = alias` lines (blank lines and `#` comments skipped).
fn parse_chatters(text: &str) -> Result<BTreeMap<String, String>, ChatterLine> {
    let mut chatters = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, alias)) = line.split_once('=') else {
            return Err(ChatterLine(n + 1));
        };
        chatters.insert(name.trim().to_owned(), alias.trim().to_owned());
    }
    Ok(chatters)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chatter_table_reads_back_what_it_shows() {
        let table = parse_chatters("# mods\nanna = Deep\n\n  bob=Robot  \n").unwrap();
        assert_eq!(table.len(), 2);
        assert_eq!(table["bob"], "Robot");
        assert_eq!(parse_chatters(&chatters_text(&table)).unwrap(), table);
        let err = parse_chatters("anna Deep").unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
    }
}
