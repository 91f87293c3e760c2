//! The Presets tab: the factory presets and the user's own, loaded with a click and saved from
//! the current sound. A preset sets host parameters only (through the host, so its undo sees
//! it); it never touches the text or the phrase list. Runs on the GUI thread.

use crate::params::OratorParams;
use crate::presets::{self, Knob, Preset, Resolved, UserPresets};
use nice_plug::prelude::{Param, ParamSetter};

/// What the tab keeps between frames.
#[derive(Default)]
pub(super) struct PresetsView {
    /// The name typed for the next save.
    name: String,
    /// The user presets and the files that could not be read, as last listed.
    user: Option<UserPresets>,
    /// What the last load or save did.
    notice: Option<String>,
}

/// Sets one parameter as a gesture (the host records one undo step per parameter).
fn set<P: Param>(setter: &ParamSetter, param: &P, normalized: f32) {
    setter.begin_set_parameter(param);
    setter.set_parameter_normalized(param, normalized);
    setter.end_set_parameter(param);
}

/// Applies a checked preset.
fn apply(setter: &ParamSetter, resolved: &Resolved) {
    for setting in &resolved.settings {
        match setting.knob {
            Knob::Float(p) => set(setter, p, setting.normalized),
            Knob::Bool(p) => set(setter, p, setting.normalized),
            Knob::DuckKey(p) => set(setter, p, setting.normalized),
        }
    }
}

impl PresetsView {
    fn refresh(&mut self) {
        self.user = Some(
            presets::user_dir()
                .map(|dir| presets::user_presets(&dir))
                .unwrap_or_default(),
        );
    }

    fn load(&mut self, preset: &Preset, params: &OratorParams, setter: &ParamSetter) {
        self.notice = Some(match preset.resolve(params) {
            Ok(resolved) => {
                apply(setter, &resolved);
                if resolved.skipped.is_empty() {
                    format!("Loaded “{}”.", preset.name)
                } else {
                    format!(
                        "Loaded “{}”; skipped settings this Orator does not know: {}.",
                        preset.name,
                        resolved.skipped.join(", ")
                    )
                }
            }
            Err(err) => format!("“{}” was not loaded: {err}", preset.name),
        });
    }

    pub(super) fn show(&mut self, ui: &mut egui::Ui, params: &OratorParams, setter: &ParamSetter) {
        if self.user.is_none() {
            self.refresh();
        }
        ui.label("A preset sets the mix, ducking and voice chain; the text stays as it is.");
        ui.heading("Factory");
        for preset in presets::factory() {
            if ui
                .button(&preset.name)
                .on_hover_text(&preset.description)
                .clicked()
            {
                self.load(&preset, params, setter);
            }
        }
        ui.heading("Yours");
        let mut chosen = None;
        if let Some(user) = &self.user {
            if user.presets.is_empty() && user.unreadable.is_empty() {
                ui.weak("None saved yet.");
            }
            for (path, preset) in &user.presets {
                if ui
                    .button(&preset.name)
                    .on_hover_text(path.display().to_string())
                    .clicked()
                {
                    chosen = Some(preset.clone());
                }
            }
            for (path, why) in &user.unreadable {
                ui.colored_label(
                    egui::Color32::from_rgb(220, 120, 60),
                    format!("{}: {why}", path.display()),
                );
            }
        }
        if let Some(preset) = chosen {
            self.load(&preset, params, setter);
        }
        ui.separator();
        ui.horizontal(|ui| {
            ui.label("Save the current sound as");
            ui.text_edit_singleline(&mut self.name);
            if ui.button("Save").clicked() {
                let preset = Preset::capture(params, &self.name, "");
                let saved = match presets::user_dir() {
                    Some(dir) => presets::save(&dir, &preset).map_err(|e| e.to_string()),
                    None => Err("no home folder to save presets in".into()),
                };
                self.notice = Some(match saved {
                    Ok(path) => format!("Saved “{}” to {}.", preset.name, path.display()),
                    Err(err) => format!("Not saved: {err}"),
                });
                self.refresh();
            }
        });
        if let Some(notice) = &self.notice {
            ui.label(notice);
        }
    }
}
